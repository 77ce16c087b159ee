//! A Redis-compatible key-value server.
//!
//! Clients speak RESP2 or RESP3 (or inline commands) over TCP; `redis-cli`,
//! `redis-benchmark` and client libraries use it as they use Redis. Data
//! flows as `ARCHITECTURE.md` draws it:
//!
//! ```text
//! socket -> pooled read buffer -> parse (args are slices of the buffer)
//!        -> command table -> lock the key's shard -> execute(now)
//!        -> encode reply into the connection's write buffer -> one write
//! ```
//!
//! Modules, in that order: [`connection`] (the per-client loop), [`parse`]
//! (RESP request parsing), [`cmd`] (the command table, one module per
//! command group), [`keyspace`] (sharded databases, expiry), [`reply`]
//! (RESP2/RESP3 encoding), [`server`] (listener, maxclients, expiry drivers),
//! [`config`] (flags, config files, `CONFIG GET/SET`).
//!
//! # Examples
//! Run a server in-process on an ephemeral port:
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use resp_server::{config::ConfigStore, server::Server};
//! let config = ConfigStore::default();
//! config.set_startup("port", "0").unwrap();
//! let server = Server::bind(config).await?;
//! println!("listening on {}", server.local_addr());
//! server.run().await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
// One exception, in `keyspace`: shards held by `Keyspace::exclusive` (EXEC)
// are lent to the commands it runs.
#![deny(unsafe_code)]

pub mod blocking;
pub mod client;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod dump;
pub mod glob;
pub mod keyspace;
pub mod longdouble;
pub mod num;
pub mod parse;
pub mod percore;
pub mod pubsub;
pub mod reply;
pub mod server;
pub mod shared;
pub mod small;
pub mod tx;
pub mod types;
