//! State shared by every connection of one server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;
use std::time::Instant;

use bufpool::BufferPool;
use tokio::sync::watch;

use crate::client::Clients;
use crate::clock::Clock;
use crate::config::ConfigStore;
use crate::keyspace::Keyspace;
use crate::pubsub::Registry;

/// Server-wide counters reported by `INFO stats`.
#[derive(Debug, Default)]
pub struct Stats {
    /// `total_connections_received`.
    pub connections_received: AtomicU64,
    /// `rejected_connections` (over `maxclients`).
    pub rejected_connections: AtomicU64,
    /// `total_commands_processed`.
    pub commands_processed: Counter,
    /// `total_net_input_bytes`.
    pub net_input_bytes: Counter,
    /// `total_net_output_bytes`.
    pub net_output_bytes: Counter,
    /// `total_error_replies`: protocol and command errors.
    pub error_replies: Counter,
    /// Expired keys counted before the last `CONFIG RESETSTAT` (`expired_keys`
    /// reports the databases' running total minus this).
    pub expired_keys_base: AtomicU64,
    /// Highest memory use `INFO memory` has seen (`used_memory_peak`), bytes.
    pub peak_memory: AtomicU64,
}

impl Stats {
    /// Adds `n` to a counter (relaxed: these are statistics).
    #[inline]
    pub fn add(counter: &AtomicU64, n: u64) {
        if n != 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Zeroes the counters kept here (`CONFIG RESETSTAT`; see
    /// [`Shared::reset_stats`] for the keyspace's).
    pub fn reset(&self) {
        for c in [&self.connections_received, &self.rejected_connections] {
            c.store(0, Ordering::Relaxed);
        }
        for c in [
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.error_replies,
        ] {
            c.reset();
        }
    }
}

/// Cells of a [`Counter`]; threads pick one by a per-thread index.
const COUNTER_CELLS: usize = 8;

/// A statistics counter added to on every batch by every worker: striped
/// over cache-padded cells so that two cores counting never fight over one
/// cache line; reading sums the cells.
#[derive(Debug, Default)]
pub struct Counter {
    cells: [CachePadded<AtomicU64>; COUNTER_CELLS],
}

thread_local! {
    /// This thread's cell of every [`Counter`].
    static CELL: usize = {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) as usize % COUNTER_CELLS
    };
}

impl Counter {
    /// Adds `n` (relaxed: a statistic).
    #[inline]
    pub fn add(&self, n: u64) {
        if n != 0 {
            let i = CELL.with(|c| *c);
            self.cells[i].fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The total.
    pub fn get(&self) -> u64 {
        self.cells.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Sets the total to zero.
    pub fn reset(&self) {
        for c in &self.cells {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Everything connections share: keyspace, configuration, clients, pub/sub
/// subscriptions, counters, the clock, buffers and the shutdown signal.
#[derive(Debug)]
pub struct Shared {
    /// The data.
    pub keyspace: Keyspace,
    /// Live parameters.
    pub config: ConfigStore,
    /// Connected clients.
    pub clients: Clients,
    /// Pub/sub channels and patterns with their subscribers.
    pub pubsub: Arc<Registry>,
    /// Counters.
    pub stats: Stats,
    /// Time source (injected in tests).
    pub clock: Arc<dyn Clock>,
    /// Read and write buffers of connections.
    pub buffers: BufferPool,
    /// When the server started.
    pub started: Instant,
    /// When the server started, Unix ms by [`Shared::clock`] (`LASTSAVE`,
    /// `uptime_in_seconds`).
    pub started_ms: u64,
    /// 40 hex characters identifying this run (`INFO server` `run_id`).
    pub run_id: String,
    /// TCP port actually bound.
    pub port: u16,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    /// Shared state for a server of the given configuration.
    pub fn new(config: ConfigStore, clock: Arc<dyn Clock>, port: u16) -> Shared {
        let shards = config.get_u64("shards").max(1) as usize;
        let databases = config.get_u64("databases").max(1) as usize;
        let mut rng = fastrand::Rng::new();
        let run_id = (0..40)
            .map(|_| char::from_digit(rng.u32(..16), 16).unwrap_or('0'))
            .collect();
        let started_ms = clock.now_ms();
        Shared {
            keyspace: Keyspace::new(shards, databases, rng.u64(..)),
            config,
            clients: Clients::default(),
            pubsub: Arc::default(),
            stats: Stats::default(),
            clock,
            buffers: BufferPool::default(),
            started: Instant::now(),
            started_ms,
            run_id,
            port,
            shutdown: watch::channel(false).0,
        }
    }

    /// Zeroes every statistic `CONFIG RESETSTAT` resets: the counters of
    /// [`Stats`], each shard's hits and misses, and `expired_keys`.
    pub fn reset_stats(&self) {
        self.stats.reset();
        let mut expired = 0;
        let mut locked = self.keyspace.lock_all();
        for shard in locked.iter_mut() {
            shard.stats = crate::keyspace::ShardStats::default();
            expired += (0..shard.db_count())
                .map(|i| shard.db_ref(i).expired_total())
                .sum::<u64>();
        }
        self.stats
            .expired_keys_base
            .store(expired, Ordering::Relaxed);
    }

    /// Asks the server to stop: the listener closes and every connection ends.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
        self.clients.kill_all();
    }

    /// Whether shutdown was asked for.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// A receiver that changes when shutdown is asked for.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}
