//! Storage for [openraft] 0.9 (`storage-v2`): an append-only segmented log
//! of rkyv-archived entries chained by blake3 hashes, vote and committed log
//! id in an atomically replaced metadata file, a state-machine adapter over
//! an application trait, and LZ4-chunked snapshots with an rkyv header.
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
    SNAPSHOT_CHUNK,
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

/// Entry points for the fuzz targets in `raft-store/fuzz`: the crate's
/// decoders of outside bytes, without the files around them. With
/// `fix_crc` the checksums in the input are rewritten to match first, so a
/// fuzzer reaches the decoders behind them. Not a stable API.
#[doc(hidden)]
pub mod fuzz_api {
    use crate::format::{decode_entry, parse_frame, Frame, Meta, META_LEN};
    use crate::kv::{KvConfig, KvStateMachine};
    use crate::StateMachineApp;

    /// Walks `input` as frames from offset 0 (copied to an aligned buffer)
    /// and decodes each whole one as a key-value entry; returns the frames
    /// accepted.
    pub fn frames(input: &[u8], fix_crc: bool) -> usize {
        let mut buf = rkyv::util::AlignedVec::<16>::with_capacity(input.len());
        buf.extend_from_slice(input);
        let (mut off, mut n) = (0usize, 0);
        loop {
            if fix_crc && buf.len() - off >= 8 {
                let len = u32::from_le_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]])
                    as usize;
                if len <= buf.len() - off - 8 {
                    let crc = crc32c::crc32c(&buf[off + 8..off + 8 + len]);
                    buf[off + 4..off + 8].copy_from_slice(&crc.to_le_bytes());
                }
            }
            let Frame::Ok { header, body, next } = parse_frame(&buf, off) else {
                return n;
            };
            let (index, term) = (header.index.to_native(), header.term.to_native());
            let _ = decode_entry::<KvConfig>(index, term, body);
            n += 1;
            off = next;
        }
    }

    /// Decodes `input` as the metadata file; a decoded one must encode to
    /// bytes that decode to the same metadata. Returns whether it decoded.
    ///
    /// # Panics
    /// If that round trip fails (a fuzz finding).
    pub fn meta(input: &[u8], fix_crc: bool) -> bool {
        let mut b = input.to_vec();
        if fix_crc && b.len() == META_LEN {
            let crc = crc32c::crc32c(&b[..152]);
            b[152..156].copy_from_slice(&crc.to_le_bytes());
        }
        match Meta::decode(&b) {
            Ok(m) => {
                assert_eq!(Meta::decode(&m.encode()).ok(), Some(m));
                true
            }
            Err(_) => false,
        }
    }

    /// Decodes `input` as a snapshot and installs a valid one into a
    /// key-value state machine; returns whether it was accepted.
    pub fn snapshot(input: &[u8], fix_crc: bool) -> bool {
        let mut b = input.to_vec();
        if fix_crc && b.len() >= 24 {
            let hlen = u32::from_le_bytes([b[12], b[13], b[14], b[15]]) as usize;
            if hlen <= b.len() - 24 {
                let crc = crc32c::crc32c(&b[24..24 + hlen]);
                b[16..20].copy_from_slice(&crc.to_le_bytes());
            }
        }
        match crate::decode_snapshot::<KvConfig>(&b) {
            Ok(info) => {
                let mut kv = KvStateMachine::default();
                let _ = StateMachineApp::<KvConfig>::install_snapshot(&mut kv, &info.data);
                true
            }
            Err(_) => false,
        }
    }

    /// Scans and decompresses `input` as a run of snapshot chunks (the part
    /// after the header); returns the bytes decompressed if every chunk was
    /// valid (the hash check fails then, which is not the point here).
    pub fn snapshot_chunks(input: &[u8]) -> Option<usize> {
        let (total, _) = crate::sm::scan_chunks(input, 0).ok()?;
        match crate::sm::decompress_chunks(input, 0, total as usize, &[0; 32]) {
            Ok(d) => Some(d.len()),
            Err((_, what)) if what.contains("blake3") => Some(total as usize),
            Err(_) => None,
        }
    }

    /// Installs `input` as key-value snapshot data (no checksum in front).
    pub fn kv_data(input: &[u8]) -> bool {
        let mut kv = KvStateMachine::default();
        StateMachineApp::<KvConfig>::install_snapshot(&mut kv, input).is_ok()
    }
}
