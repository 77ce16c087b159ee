//! The `resp-server` binary: a Redis-compatible server on 127.0.0.1:6379 by
//! default, in memory.

use anyhow::Context;
use clap::Parser;
use resp_server::config::{ConfigStore, Options};
use resp_server::server::{worker_threads, Server, Threading};

fn main() -> anyhow::Result<()> {
    let opts = Options::parse();
    let config = ConfigStore::from_options(&opts)?;
    init_logging(&config.get("loglevel").unwrap_or_default());
    let threads = worker_threads(&config);
    let threading = Threading::of(&config);
    let threading_name = config.get("threading").unwrap_or_default();
    // Striped locks serve connections on this runtime's workers;
    // shard-per-thread starts its own worker threads (see `Server::run`), and
    // this runtime only accepts.
    let runtime = match threading {
        Threading::Striped => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(threads);
            b
        }
        Threading::ShardPerThread => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build()
    .context("starting the runtime")?;
    runtime.block_on(async move {
        let server = Server::bind(config).await.context("binding the listener")?;
        let shared = server.shared();
        // Handlers are installed before the server says it is ready, so a
        // signal sent right after that line stops it cleanly instead of
        // killing it with the default action.
        let stop = stop_signal().context("installing signal handlers")?;
        tracing::info!(
            addr = %server.local_addr(),
            threads,
            threading = %threading_name,
            shards = shared.keyspace.shard_count(),
            "Ready to accept connections"
        );
        tokio::spawn(async move {
            stop.await;
            tracing::info!("signal received, shutting down");
            shared.shutdown();
        });
        server.run().await;
        tracing::info!("bye");
        Ok(())
    })
}

/// Installs the SIGTERM and SIGINT handlers now; the returned future
/// resolves when either signal arrives.
#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Ctrl-C where there are no Unix signals.
#[cfg(not(unix))]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Maps Redis' log levels onto tracing's; anything else is a tracing filter.
fn init_logging(level: &str) {
    let filter = match level {
        "debug" => "debug",
        "verbose" => "info",
        "notice" => "info",
        "warning" => "warn",
        "nothing" => "off",
        other => other,
    };
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| filter.to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .init();
}
