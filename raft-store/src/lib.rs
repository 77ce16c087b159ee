//! Storage for [openraft] 0.9 (`storage-v2`): an append-only segmented log
//! of rkyv-archived entries chained by blake3 hashes, vote and committed log
//! id in an atomically replaced metadata file, a state-machine adapter over
//! an application trait, and rkyv snapshots.
//!
//! The design follows the Aspen note (design note 000): Aspen keeps its log
//! in redb with bincode and its snapshots as JSON; here entries are framed
//! rkyv archives in our own files (see [`format`]), read through validated
//! zero-copy access.
//!
//! - [`LogStore`]: `RaftLogStorage` + `RaftLogReader`. One write and one
//!   fsync per appended batch; openraft's flushed callback fires after it.
//!   Truncate and purge are atomic through the metadata file.
//! - [`StateMachine`]: `RaftStateMachine` over a [`StateMachineApp`];
//!   entries are applied only when openraft applies them (after commit).
//! - [`kv`]: a key-value application and its openraft type config.
//! - [`fs`]: the file layer, with a fault-injecting one for crash tests.
//!
//! # Examples
//! ```
//! use raft_store::kv::{KvConfig, KvStateMachine};
//! let dir = tempfile::tempdir().unwrap();
//! let (log, sm) = raft_store::open::<KvConfig, _>(dir.path(), KvStateMachine::default()).unwrap();
//! assert_eq!(log.last_log_id(), None);
//! assert_eq!(sm.last_applied(), None);
//! ```
#![deny(missing_docs)]

pub mod error;
pub mod format;
pub mod fs;
pub mod kv;
mod log;
mod sm;

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

pub use error::{Error, Result};
pub use format::{chain_hash, Hash, PayloadCodec, GENESIS};
pub use log::{LogOptions, LogStore};
pub use sm::{
    decode_snapshot, encode_snapshot, SnapshotBuilder, SnapshotInfo, StateMachine, StateMachineApp,
};

/// The openraft type configurations this store works with: `u64` node ids,
/// openraft's `Entry`, `Cursor<Vec<u8>>` snapshot data, and commands and
/// node descriptions with a [`PayloadCodec`].
pub trait StoreConfig:
    openraft::RaftTypeConfig<
    NodeId = u64,
    Entry = openraft::Entry<Self>,
    D: PayloadCodec,
    Node: PayloadCodec,
    SnapshotData = Cursor<Vec<u8>>,
>
{
}

impl<T> StoreConfig for T where
    T: openraft::RaftTypeConfig<
        NodeId = u64,
        Entry = openraft::Entry<T>,
        D: PayloadCodec,
        Node: PayloadCodec,
        SnapshotData = Cursor<Vec<u8>>,
    >
{
}

/// Opens a node's storage in `dir`: the log in `dir/log`, the state machine
/// (started from the snapshot in `dir/sm`, if any) over `app`. The two share
/// the chain anchor a snapshot install hands to the log.
///
/// # Errors
/// As [`LogStore::open`] and [`StateMachine::open`].
pub fn open<C: StoreConfig, A: StateMachineApp<C>>(
    dir: impl AsRef<Path>,
    app: A,
) -> Result<(LogStore<C>, StateMachine<C, A>)> {
    open_with(dir, Arc::new(fs::StdFs), LogOptions::default(), app)
}

/// [`open`] through file layer `fs` with log options `opts`.
///
/// # Errors
/// As [`open`].
pub fn open_with<C: StoreConfig, A: StateMachineApp<C>>(
    dir: impl AsRef<Path>,
    fs: Arc<dyn fs::Fs>,
    opts: LogOptions,
    app: A,
) -> Result<(LogStore<C>, StateMachine<C, A>)> {
    let dir = dir.as_ref();
    let anchor = Arc::default();
    let sm = StateMachine::open_with(&dir.join("sm"), fs.clone(), app, Arc::clone(&anchor))?;
    let log = LogStore::open_anchored(&dir.join("log"), fs, opts, anchor)?;
    Ok((log, sm))
}
