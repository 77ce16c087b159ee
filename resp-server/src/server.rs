//! The listener: accepts connections, enforces `maxclients`, drives each
//! shard's active expiry, and stops on shutdown.
//!
//! Where accepted connections run depends on `threading`
//! ([`Threading`], `docs/design/concurrency.md`): with striped locks each
//! is a task of the runtime [`Server::run`] runs on (multi-threaded in the
//! binary); shard-per-thread starts its own worker threads
//! ([`crate::percore`]) and hands each connection to one of them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::clock::{Clock, SystemClock};
use crate::config::ConfigStore;
use crate::connection;
use crate::percore::Workers;
use crate::shared::{Shared, Stats};

/// Keys each shard expires per database per active-expiry tick, at most.
const EXPIRE_BUDGET: usize = 200;

/// The concurrency model (`threading` parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Threading {
    /// `striped` (default): any worker of a multi-threaded runtime runs any
    /// connection; each command locks the shards of its keys.
    #[default]
    Striped,
    /// `shard-per-thread`: each worker thread owns some shards and runs its
    /// own connections; commands on other threads' shards are sent there
    /// ([`crate::percore`]).
    ShardPerThread,
}

impl Threading {
    /// The model `config` asks for.
    pub fn of(config: &ConfigStore) -> Threading {
        match config.get("threading").as_deref() {
            Some("shard-per-thread") => Threading::ShardPerThread,
            _ => Threading::Striped,
        }
    }
}

/// Threads serving connections: the `threads` parameter, or one per core
/// when it is 0.
pub fn worker_threads(config: &ConfigStore) -> usize {
    match config.get_u64("threads") as usize {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    }
}

/// A bound server, ready to run.
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    listener: TcpListener,
}

impl Server {
    /// Binds to the configured `bind` address and `port` with the system clock.
    ///
    /// # Errors
    /// If the address cannot be bound.
    pub async fn bind(config: ConfigStore) -> std::io::Result<Server> {
        Server::bind_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Binds with an injected clock (tests use [`crate::clock::ManualClock`]).
    ///
    /// # Errors
    /// If the address cannot be bound.
    pub async fn bind_with_clock(
        config: ConfigStore,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<Server> {
        let host = config.get("bind").unwrap_or_else(|| "127.0.0.1".into());
        let host = host
            .split_whitespace()
            .next()
            .unwrap_or("127.0.0.1")
            .to_string();
        let port = config.get_u64("port") as u16;
        let listener = TcpListener::bind((host.as_str(), port)).await?;
        let port = listener.local_addr()?.port();
        Ok(Server {
            shared: Arc::new(Shared::new(config, clock, port)),
            listener,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], self.shared.port)))
    }

    /// The shared state (for tests and embedding).
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Serves until shutdown is asked for (`SHUTDOWN`, or
    /// [`Shared::shutdown`]), then waits for connections to close.
    ///
    /// With `threading striped`, connections are tasks of the calling
    /// runtime; with `shard-per-thread`, of the worker threads this starts
    /// (`threads` of them), which it stops before returning.
    pub async fn run(self) {
        let Server { shared, listener } = self;
        let mut workers = match Threading::of(&shared.config) {
            Threading::Striped => None,
            Threading::ShardPerThread => {
                match Workers::start(&shared, worker_threads(&shared.config)) {
                    Ok(w) => Some(w),
                    Err(e) => {
                        tracing::error!("cannot start the worker threads: {e}");
                        shared.shutdown();
                        return;
                    }
                }
            }
        };
        let expiry = match workers {
            None => (0..shared.keyspace.shard_count())
                .map(|shard| spawn_expiry_driver(&shared, shard))
                .collect(),
            Some(_) => Vec::new(), // each worker drives its own shards
        };
        let mut shutdown = shared.shutdown_signal();
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            if shared.is_shutting_down() {
                break;
            }
            let accepted = tokio::select! {
                r = listener.accept() => r,
                _ = shutdown.changed() => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            };
            let (mut stream, addr) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            Stats::add(&shared.stats.connections_received, 1);
            let laddr = stream.local_addr().unwrap_or(addr);
            let now = shared.clock.now_ms();
            match shared
                .clients
                .register(addr, laddr, now, shared.config.maxclients())
            {
                Some(handle) => match &mut workers {
                    None => {
                        tasks.spawn(connection::serve(shared.clone(), stream, handle));
                    }
                    Some(workers) => workers.assign(&shared, stream, handle),
                },
                None => {
                    Stats::add(&shared.stats.rejected_connections, 1);
                    tasks.spawn(async move {
                        let _ = stream
                            .write_all(b"-ERR max number of clients reached\r\n")
                            .await;
                        let _ = stream.shutdown().await;
                    });
                }
            }
        }
        drop(listener);
        shared.clients.kill_all();
        while tasks.join_next().await.is_some() {}
        if let Some(workers) = workers {
            workers.join().await;
        }
        for task in expiry {
            task.abort();
        }
    }
}

/// Drives the active expiry of shard `shard` on the current runtime: the
/// shard expires its own due keys (no global sweeper); one that ran out of
/// budget is driven again at once.
pub(crate) fn spawn_expiry_driver(
    shared: &Arc<Shared>,
    shard: usize,
) -> tokio::task::JoinHandle<()> {
    let shared = shared.clone();
    tokio::spawn(async move {
        let hz = shared.config.get_u64("hz").clamp(1, 500);
        let period = Duration::from_millis(1000 / hz);
        loop {
            let now = shared.clock.now_ms();
            let removed = shared
                .keyspace
                .lock(shard)
                .active_expire(now, EXPIRE_BUDGET);
            if removed < EXPIRE_BUDGET {
                tokio::time::sleep(period).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
    })
}
