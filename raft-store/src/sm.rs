//! The state machine adapter: openraft's `RaftStateMachine` over an
//! application's [`StateMachineApp`], with snapshots on disk.
//!
//! # Snapshot file (format version 2)
//! ```text
//! magic "RKVRSNAP" | version u32 = 2 | header_len u32 | header crc32c u32 | reserved u32
//! header: rkyv SnapshotHeader (last log id, membership, id, chain hash,
//!         blake3 of the uncompressed data, uncompressed data length,
//!         chunk count), zero pad to 8
//! chunks: raw_len u32 | lz4_len u32 | lz4 block (lz4_flex block format)
//! ```
//! The application's snapshot bytes are cut into chunks of at most
//! [`SNAPSHOT_CHUNK`] bytes, each compressed as one LZ4 block (the block
//! format of <https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md>).
//! The blake3 hash covers the uncompressed data, so it names the state, not
//! its encoding. The same bytes are what a leader streams to a follower;
//! they are validated (magic, version, header checksum and validated
//! access, every chunk's bounds, the total length and the blake3 of the
//! decompressed data) before anything is installed. Version 1 files (one
//! uncompressed data block) are rejected with an error naming the version.

use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::RaftStateMachine;
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use rkyv::rancor;
use rkyv::util::AlignedVec;

use crate::error::{io_err, Error, Result};
use crate::format::{
    chain_hash, membership_from_archived, pad8, BodyEncoder, Hash, LogIdRec, MembershipRec, GENESIS,
};
use crate::fs::{Fs, StdFs};
use crate::log::{lock, Anchor};
use crate::StoreConfig;

/// An application state machine driven by committed log entries.
///
/// Only committed entries reach [`StateMachineApp::apply`]: openraft calls
/// the adapter's `apply` after commit, never at append time.
pub trait StateMachineApp<C: StoreConfig>: Send + Sync + 'static {
    /// Applies committed command `cmd` at log index `index`; returns the
    /// response for the client.
    fn apply(&mut self, index: u64, cmd: &C::D) -> C::R;
    /// The response for an entry without a command (blank, membership).
    fn empty_response(&self) -> C::R;
    /// Appends the whole state, encoded, to `out` (snapshot data).
    ///
    /// # Errors
    /// Whatever encoding fails with.
    fn write_snapshot(&self, out: &mut Vec<u8>) -> Result<()>;
    /// Replaces the state with snapshot data written by
    /// [`StateMachineApp::write_snapshot`]. Called only after the data's
    /// blake3 hash was verified.
    ///
    /// # Errors
    /// [`Error::Decode`] if the data is not a valid state; the state must be
    /// unchanged then.
    fn install_snapshot(&mut self, data: &[u8]) -> Result<()>;
}

const SNAP_MAGIC: &[u8; 8] = b"RKVRSNAP";
const SNAP_VERSION: u32 = 2;
const SNAP_PREFIX: usize = 24;
/// Uncompressed bytes per snapshot chunk written (256 KiB).
pub const SNAPSHOT_CHUNK: usize = 256 << 10;
/// Largest uncompressed chunk accepted from outside bytes (1 MiB).
const MAX_CHUNK_RAW: usize = 1 << 20;
/// An LZ4 block expands at most about 255 times (a match length grows by
/// 255 per extra byte): a chunk claiming more is damage, and the total an
/// input may claim is bounded by 256 times its size before anything is
/// allocated.
const LZ4_MAX_RATIO: u64 = 256;
/// Bytes of a chunk's `raw_len | lz4_len` prefix.
const CHUNK_PREFIX: usize = 8;
/// Largest snapshot header accepted (1 MiB): a larger length is damage.
const MAX_SNAP_HEADER: usize = 1 << 20;
const SNAP_FILE: &str = "snapshot";
const SNAP_TMP: &str = "snapshot.tmp";

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug)]
struct SnapshotHeader {
    last: Option<LogIdRec>,
    membership_log_id: Option<LogIdRec>,
    membership: MembershipRec,
    snapshot_id: String,
    chain_hash: Hash,
    data_hash: Hash,
    data_len: u64,
    chunks: u64,
}

/// A validated snapshot: its metadata, chain hash and decompressed data.
#[derive(Debug, Clone)]
pub struct SnapshotInfo<C: StoreConfig> {
    /// openraft's metadata (last log id, membership, id).
    pub meta: SnapshotMeta<u64, C::Node>,
    /// The hash chain's value at the last log id.
    pub chain_hash: Hash,
    /// The application's snapshot data, decompressed, its blake3 verified.
    pub data: Vec<u8>,
}

/// Encodes a snapshot file from its parts: the header, then `data` in LZ4
/// chunks of [`SNAPSHOT_CHUNK`] bytes (see the module docs for the layout).
///
/// # Errors
/// [`Error::Decode`] if archiving the header or compressing fails.
///
/// # Examples
/// ```
/// use raft_store::{decode_snapshot, encode_snapshot, kv::KvConfig};
/// let meta = openraft::SnapshotMeta::default();
/// let bytes = encode_snapshot::<KvConfig>(&meta, [0; 32], &[7u8; 100_000]).unwrap();
/// assert!(bytes.len() < 1_000);
/// let info = decode_snapshot::<KvConfig>(&bytes).unwrap();
/// assert_eq!(info.data, vec![7u8; 100_000]);
/// ```
pub fn encode_snapshot<C: StoreConfig>(
    meta: &SnapshotMeta<u64, C::Node>,
    chain: Hash,
    data: &[u8],
) -> Result<Vec<u8>> {
    let header = SnapshotHeader {
        last: meta.last_log_id.as_ref().map(LogIdRec::from_log_id),
        membership_log_id: meta
            .last_membership
            .log_id()
            .as_ref()
            .map(LogIdRec::from_log_id),
        membership: MembershipRec::from_membership(meta.last_membership.membership()),
        snapshot_id: meta.snapshot_id.clone(),
        chain_hash: chain,
        data_hash: *blake3::hash(data).as_bytes(),
        data_len: data.len() as u64,
        chunks: data.len().div_ceil(SNAPSHOT_CHUNK) as u64,
    };
    let hb = rkyv::to_bytes::<rancor::Error>(&header)
        .map_err(|e| Error::Decode(format!("archive snapshot: {e}")))?;
    let mut out = Vec::with_capacity(SNAP_PREFIX + hb.len() + 8 + data.len() / 2);
    out.extend_from_slice(SNAP_MAGIC);
    out.extend_from_slice(&SNAP_VERSION.to_le_bytes());
    out.extend_from_slice(&(hb.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&hb).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&hb);
    out.extend_from_slice(&[0u8; 8][..pad8(hb.len())]);
    compress_chunks(data, &mut out)?;
    Ok(out)
}

/// Appends `data` to `out` as LZ4 chunks of [`SNAPSHOT_CHUNK`] bytes, each
/// `raw_len u32 | lz4_len u32 | block`. Chunks are compressed on up to two
/// threads (they are independent).
fn compress_chunks(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    fn one(chunk: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let at = out.len();
        let max = lz4_flex::block::get_maximum_output_size(chunk.len());
        out.resize(at + CHUNK_PREFIX + max, 0);
        let n = lz4_flex::block::compress_into(chunk, &mut out[at + CHUNK_PREFIX..])
            .map_err(|e| Error::Decode(format!("compress snapshot chunk: {e}")))?;
        out.truncate(at + CHUNK_PREFIX + n);
        out[at..at + 4].copy_from_slice(&(chunk.len() as u32).to_le_bytes());
        out[at + 4..at + 8].copy_from_slice(&(n as u32).to_le_bytes());
        Ok(())
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunks = data.len().div_ceil(SNAPSHOT_CHUNK);
    if threads < 2 || chunks < 4 {
        for c in data.chunks(SNAPSHOT_CHUNK) {
            one(c, out)?;
        }
        return Ok(());
    }
    // The second half goes to a helper thread, the first half straight
    // into `out`; the two are joined in order.
    let split = chunks / 2 * SNAPSHOT_CHUNK;
    let (head, tail) = data.split_at(split);
    std::thread::scope(|s| {
        let helper = s.spawn(|| -> Result<Vec<u8>> {
            let mut v = Vec::with_capacity(tail.len() / 2);
            for c in tail.chunks(SNAPSHOT_CHUNK) {
                one(c, &mut v)?;
            }
            Ok(v)
        });
        for c in head.chunks(SNAPSHOT_CHUNK) {
            one(c, out)?;
        }
        let v = helper
            .join()
            .map_err(|_| Error::Decode("snapshot compression thread panicked".into()))??;
        out.extend_from_slice(&v);
        Ok(())
    })
}

/// Validates snapshot bytes and decompresses their data: magic, version,
/// header checksum and layout, every chunk's bounds, the total length and
/// the blake3 of the decompressed data. Never panics on any input, and
/// allocates at most 256 times the input's size.
///
/// # Errors
/// [`Error::Snapshot`] saying what is wrong and at which offset.
pub fn decode_snapshot<C: StoreConfig>(bytes: &[u8]) -> Result<SnapshotInfo<C>> {
    let bad = |off: usize, what: String| Error::Snapshot(format!("offset {off}: {what}"));
    if bytes.len() < SNAP_PREFIX {
        return Err(bad(
            0,
            format!("{} bytes, shorter than the header", bytes.len()),
        ));
    }
    if &bytes[..8] != SNAP_MAGIC {
        return Err(bad(0, "bad magic".into()));
    }
    let u32_at =
        |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    if u32_at(8) != SNAP_VERSION {
        return Err(bad(
            8,
            format!(
                "snapshot format version {} is not supported (this build reads version {SNAP_VERSION})",
                u32_at(8)
            ),
        ));
    }
    if u32_at(20) != 0 {
        return Err(bad(20, "reserved bytes not zero".into()));
    }
    let hlen = u32_at(12) as usize;
    if hlen > MAX_SNAP_HEADER || hlen > bytes.len() - SNAP_PREFIX {
        return Err(bad(12, format!("header length {hlen} out of range")));
    }
    let hbytes = &bytes[SNAP_PREFIX..SNAP_PREFIX + hlen];
    if crc32c::crc32c(hbytes) != u32_at(16) {
        return Err(bad(SNAP_PREFIX, "header checksum mismatch".into()));
    }
    // The bytes may come from the network, unaligned: copy the (small)
    // header into an aligned buffer for validated access.
    let mut aligned = AlignedVec::<16>::with_capacity(hlen);
    aligned.extend_from_slice(hbytes);
    let h = rkyv::access::<ArchivedSnapshotHeader, rancor::Error>(&aligned)
        .map_err(|e| bad(SNAP_PREFIX, format!("header: {e}")))?;
    let data_start = SNAP_PREFIX + hlen + pad8(hlen);
    if data_start > bytes.len() {
        return Err(bad(
            data_start,
            "snapshot ends inside the header pad".into(),
        ));
    }
    if bytes[SNAP_PREFIX + hlen..data_start]
        .iter()
        .any(|&b| b != 0)
    {
        return Err(bad(SNAP_PREFIX + hlen, "header pad not zero".into()));
    }
    // Bounds of every chunk first, so the output is allocated once, from a
    // total that the input's size bounds.
    let data_len = h.data_len.to_native();
    let (total, chunks) = scan_chunks(bytes, data_start).map_err(|(off, what)| bad(off, what))?;
    if total != data_len || chunks != h.chunks.to_native() {
        return Err(bad(
            data_start,
            format!(
                "{chunks} chunks of {total} bytes, the header says {} chunks of {data_len} bytes",
                h.chunks.to_native()
            ),
        ));
    }
    let data = decompress_chunks(bytes, data_start, total as usize, &h.data_hash)
        .map_err(|(off, what)| bad(off, what))?;
    let rec = |r: &rkyv::option::ArchivedOption<crate::format::ArchivedLogIdRec>| {
        r.as_ref().map(|x| {
            LogIdRec {
                term: x.term.to_native(),
                node: x.node.to_native(),
                index: x.index.to_native(),
            }
            .to_log_id()
        })
    };
    let membership = membership_from_archived::<C::Node>(&h.membership)?;
    let meta = SnapshotMeta {
        last_log_id: rec(&h.last),
        last_membership: StoredMembership::new(rec(&h.membership_log_id), membership),
        snapshot_id: h.snapshot_id.as_str().to_string(),
    };
    Ok(SnapshotInfo {
        meta,
        chain_hash: h.chain_hash,
        data,
    })
}

/// Checks the bounds of every chunk from `bytes[start..]`; returns the
/// total uncompressed bytes (at most 256 times the input's size) and the
/// number of chunks. `Err` is (offset, what).
pub(crate) fn scan_chunks(
    bytes: &[u8],
    start: usize,
) -> std::result::Result<(u64, u64), (usize, String)> {
    let u32_at =
        |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    let mut pos = start;
    let mut total = 0u64;
    let mut chunks = 0u64;
    while pos < bytes.len() {
        if bytes.len() - pos < CHUNK_PREFIX {
            return Err((pos, "snapshot ends inside a chunk header".into()));
        }
        let (raw, lz) = (u32_at(pos) as usize, u32_at(pos + 4) as usize);
        if raw == 0 || raw > MAX_CHUNK_RAW {
            return Err((pos, format!("chunk length {raw} out of range")));
        }
        if lz == 0 || lz > bytes.len() - pos - CHUNK_PREFIX {
            return Err((
                pos + 4,
                format!("compressed chunk length {lz} out of range"),
            ));
        }
        if raw as u64 > lz as u64 * LZ4_MAX_RATIO {
            return Err((
                pos,
                format!("chunk of {raw} bytes cannot come from {lz} compressed bytes"),
            ));
        }
        total += raw as u64;
        chunks += 1;
        pos += CHUNK_PREFIX + lz;
    }
    Ok((total, chunks))
}

/// Decompresses the chunks from `bytes[start..]` (bounds already checked,
/// `total` bytes in all) and checks their blake3 against `want`. With two or
/// more cores a helper thread decompresses the second half of the chunks
/// while this one decompresses and hashes the first (each chunk hashed while
/// still in cache); the second half is hashed after the join. `Err` is
/// (offset, what).
pub(crate) fn decompress_chunks(
    bytes: &[u8],
    start: usize,
    total: usize,
    want: &Hash,
) -> std::result::Result<Vec<u8>, (usize, String)> {
    // (file offset, lz4 bytes, output offset, raw bytes) of every chunk.
    let mut chunks = Vec::new();
    let (mut pos, mut w) = (start, 0usize);
    while pos < bytes.len() {
        let u32_at =
            |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let (raw, lz) = (u32_at(pos) as usize, u32_at(pos + 4) as usize);
        chunks.push((pos, lz, w, raw));
        w += raw;
        pos += CHUNK_PREFIX + lz;
    }
    let one = |(pos, lz, _, raw): (usize, usize, usize, usize), dst: &mut [u8]| {
        let src = &bytes[pos + CHUNK_PREFIX..pos + CHUNK_PREFIX + lz];
        match lz4_flex::block::decompress_into(src, dst) {
            Ok(n) if n == raw => Ok(()),
            Ok(n) => Err((
                pos,
                format!("chunk decompresses to {n} bytes, its header says {raw}"),
            )),
            Err(e) => Err((pos, format!("chunk: {e}"))),
        }
    };
    let mut data = vec![0u8; total];
    let mut hasher = blake3::Hasher::new();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let split = if threads >= 2 && chunks.len() >= 4 {
        chunks.len() / 2
    } else {
        chunks.len()
    };
    let split_at = chunks.get(split).map_or(total, |c| c.2);
    let (head, tail) = data.split_at_mut(split_at);
    std::thread::scope(|s| {
        let helper = (split < chunks.len()).then(|| {
            let (one, chunks) = (&one, &chunks);
            s.spawn(move || {
                for &c in &chunks[split..] {
                    let at = c.2 - split_at;
                    one(c, &mut tail[at..at + c.3])?;
                }
                Ok::<_, (usize, String)>(tail)
            })
        });
        for &c in &chunks[..split] {
            let dst = &mut head[c.2..c.2 + c.3];
            one(c, dst)?;
            hasher.update(dst);
        }
        if let Some(h) = helper {
            let tail = h
                .join()
                .map_err(|_| (start, "decompression thread panicked".to_string()))??;
            hasher.update(tail);
        }
        Ok::<_, (usize, String)>(())
    })?;
    if hasher.finalize().as_bytes() != want {
        return Err((start, "data blake3 mismatch".into()));
    }
    Ok(data)
}

/// A snapshot's metadata and its file bytes.
type Stored<C> = (
    SnapshotMeta<u64, <C as openraft::RaftTypeConfig>::Node>,
    Arc<Vec<u8>>,
);
/// A built snapshot's metadata and bytes.
type Built<C> = (
    SnapshotMeta<u64, <C as openraft::RaftTypeConfig>::Node>,
    Vec<u8>,
);

/// State shared by the adapter and its snapshot builders.
struct Shared<C: StoreConfig> {
    dir: PathBuf,
    fs: Arc<dyn Fs>,
    /// The current snapshot: metadata and file bytes.
    current: Mutex<Option<Stored<C>>>,
    anchor: Anchor,
}

impl<C: StoreConfig> Shared<C> {
    /// Writes `bytes` as the current snapshot: temp file, fsync, rename,
    /// fsync directory.
    fn persist(&self, bytes: &[u8]) -> Result<()> {
        let tmp = self.dir.join(SNAP_TMP);
        let path = self.dir.join(SNAP_FILE);
        let f = self.fs.open(&tmp, true).map_err(io_err(&tmp, "create"))?;
        f.set_len(0).map_err(io_err(&tmp, "truncate"))?;
        f.write_at(0, bytes).map_err(io_err(&tmp, "write"))?;
        f.sync().map_err(io_err(&tmp, "fsync"))?;
        drop(f);
        self.fs
            .rename(&tmp, &path)
            .map_err(io_err(&path, "rename"))?;
        self.fs
            .sync_dir(&self.dir)
            .map_err(io_err(&self.dir, "fsync directory"))
    }
}

/// openraft's state machine over application `A`, with rkyv snapshots kept
/// in a directory.
///
/// The adapter also extends the hash chain over every applied entry, so a
/// snapshot carries the chain hash at its last log id and a follower that
/// installs it continues the same chain.
///
/// # Examples
/// ```
/// use raft_store::{kv::{KvConfig, KvStateMachine}, StateMachine};
/// let dir = tempfile::tempdir().unwrap();
/// let sm = StateMachine::<KvConfig, _>::open(dir.path(), KvStateMachine::default()).unwrap();
/// assert_eq!(sm.last_applied(), None);
/// ```
pub struct StateMachine<C: StoreConfig, A> {
    app: A,
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, C::Node>,
    chain: Hash,
    encoder: BodyEncoder,
    shared: Arc<Shared<C>>,
    snapshot_seq: u64,
}

impl<C: StoreConfig, A> fmt::Debug for StateMachine<C, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateMachine")
            .field("dir", &self.shared.dir)
            .field("last_applied", &self.last_applied)
            .finish()
    }
}

impl<C: StoreConfig, A: StateMachineApp<C>> StateMachine<C, A> {
    /// Opens the state machine in `dir` on real files, starting from the
    /// snapshot stored there (validated) or from `app` as given.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::Snapshot`] if the stored snapshot is damaged.
    pub fn open(dir: impl AsRef<Path>, app: A) -> Result<Self> {
        Self::open_with(dir.as_ref(), Arc::new(StdFs), app, Arc::default())
    }

    pub(crate) fn open_with(
        dir: &Path,
        fs: Arc<dyn Fs>,
        mut app: A,
        anchor: Anchor,
    ) -> Result<Self> {
        fs.create_dir_all(dir)
            .map_err(io_err(dir, "create directory"))?;
        let path = dir.join(SNAP_FILE);
        let mut current = None;
        let mut last_applied = None;
        let mut membership = StoredMembership::default();
        let mut chain = GENESIS;
        if fs
            .list(dir)
            .map_err(io_err(dir, "list"))?
            .iter()
            .any(|n| n == SNAP_FILE)
        {
            let f = fs.open(&path, false).map_err(io_err(&path, "open"))?;
            let len = f.len().map_err(io_err(&path, "stat"))?;
            let len =
                usize::try_from(len).map_err(|_| Error::Snapshot("snapshot too large".into()))?;
            let mut bytes = vec![0u8; len];
            f.read_at(0, &mut bytes).map_err(io_err(&path, "read"))?;
            let info = decode_snapshot::<C>(&bytes).map_err(|e| Error::Corrupt {
                path: path.clone(),
                offset: 0,
                what: e.to_string(),
            })?;
            app.install_snapshot(&info.data)?;
            last_applied = info.meta.last_log_id;
            membership = info.meta.last_membership.clone();
            chain = info.chain_hash;
            if let Some(l) = &last_applied {
                *lock(&anchor) = Some((LogIdRec::from_log_id(l), chain));
            }
            current = Some((info.meta, Arc::new(bytes)));
        }
        Ok(StateMachine {
            app,
            last_applied,
            membership,
            chain,
            encoder: BodyEncoder::default(),
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                fs,
                current: Mutex::new(current),
                anchor,
            }),
            snapshot_seq: 0,
        })
    }

    /// The last applied log id.
    pub fn last_applied(&self) -> Option<LogId<u64>> {
        self.last_applied
    }

    /// The hash chain's value at the last applied entry.
    pub fn chain_hash(&self) -> Hash {
        self.chain
    }

    /// The application state.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// Applies committed entries in order; one response per entry.
    ///
    /// # Errors
    /// [`Error::Decode`] if an entry cannot be encoded for the chain.
    pub fn apply_entries(
        &mut self,
        entries: impl IntoIterator<Item = Entry<C>>,
    ) -> Result<Vec<C::R>> {
        let mut out = Vec::new();
        for e in entries {
            let body = self.encoder.encode(&e)?;
            self.chain = chain_hash(&self.chain, e.log_id.index, e.log_id.leader_id.term, body);
            self.last_applied = Some(e.log_id);
            match &e.payload {
                EntryPayload::Blank => out.push(self.app.empty_response()),
                EntryPayload::Normal(d) => out.push(self.app.apply(e.log_id.index, d)),
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(e.log_id), m.clone());
                    out.push(self.app.empty_response());
                }
            }
        }
        Ok(out)
    }

    /// Validates snapshot `bytes` and installs it: the application state,
    /// last applied id, membership and chain hash are replaced, and the
    /// bytes become the current snapshot on disk.
    ///
    /// # Errors
    /// [`Error::Snapshot`] if the bytes fail validation (nothing changes);
    /// [`Error::Decode`] from the application; [`Error::Io`].
    pub fn install_snapshot_bytes(&mut self, bytes: Vec<u8>) -> Result<()> {
        let info = decode_snapshot::<C>(&bytes)?;
        self.install_decoded(info, bytes)
    }

    /// Installs snapshot `bytes` already validated into `info`.
    fn install_decoded(&mut self, info: SnapshotInfo<C>, bytes: Vec<u8>) -> Result<()> {
        self.app.install_snapshot(&info.data)?;
        self.last_applied = info.meta.last_log_id;
        self.membership = info.meta.last_membership.clone();
        self.chain = info.chain_hash;
        if let Some(l) = &self.last_applied {
            *lock(&self.shared.anchor) = Some((LogIdRec::from_log_id(l), self.chain));
        }
        let mut cur = lock(&self.shared.current);
        self.shared.persist(&bytes)?;
        *cur = Some((info.meta, Arc::new(bytes)));
        Ok(())
    }

    /// A builder holding a copy of the current state.
    ///
    /// # Errors
    /// Whatever [`StateMachineApp::write_snapshot`] fails with.
    pub fn snapshot_builder(&mut self) -> Result<SnapshotBuilder<C>> {
        let mut data = Vec::new();
        self.app.write_snapshot(&mut data)?;
        self.snapshot_seq += 1;
        let id = match &self.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, self.snapshot_seq),
            None => format!("none-{}", self.snapshot_seq),
        };
        Ok(SnapshotBuilder {
            meta: SnapshotMeta {
                last_log_id: self.last_applied,
                last_membership: self.membership.clone(),
                snapshot_id: id,
            },
            chain: self.chain,
            data,
            failed: None,
            shared: self.shared.clone(),
        })
    }
}

/// Builds a snapshot from a copy of the state taken when it was created.
pub struct SnapshotBuilder<C: StoreConfig> {
    meta: SnapshotMeta<u64, C::Node>,
    chain: Hash,
    data: Vec<u8>,
    /// Why the state could not be copied, if it could not.
    failed: Option<String>,
    shared: Arc<Shared<C>>,
}

impl<C: StoreConfig> fmt::Debug for SnapshotBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotBuilder")
            .field("meta", &self.meta)
            .field("data_len", &self.data.len())
            .finish()
    }
}

impl<C: StoreConfig> SnapshotBuilder<C> {
    /// Encodes the snapshot, writes it atomically to disk as the current
    /// one, and returns its metadata and bytes.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Decode`].
    pub fn build(&mut self) -> Result<Built<C>> {
        if let Some(f) = &self.failed {
            return Err(Error::Snapshot(format!("state could not be encoded: {f}")));
        }
        let bytes = encode_snapshot::<C>(&self.meta, self.chain, &self.data)?;
        let mut cur = lock(&self.shared.current);
        self.shared.persist(&bytes)?;
        *cur = Some((self.meta.clone(), Arc::new(bytes.clone())));
        Ok((self.meta.clone(), bytes))
    }
}

fn sm_err(e: Error, write: bool) -> StorageError<u64> {
    let io = if write {
        StorageIOError::write_state_machine(&e)
    } else {
        StorageIOError::read_state_machine(&e)
    };
    StorageError::IO { source: io }
}

impl<C: StoreConfig> RaftSnapshotBuilder<C> for SnapshotBuilder<C> {
    async fn build_snapshot(&mut self) -> std::result::Result<Snapshot<C>, StorageError<u64>> {
        let (meta, bytes) = self.build().map_err(|e| StorageError::IO {
            source: StorageIOError::write_snapshot(Some(self.meta.signature()), &e),
        })?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl<C: StoreConfig, A: StateMachineApp<C>> RaftStateMachine<C> for StateMachine<C, A> {
    type SnapshotBuilder = SnapshotBuilder<C>;

    async fn applied_state(
        &mut self,
    ) -> std::result::Result<(Option<LogId<u64>>, StoredMembership<u64, C::Node>), StorageError<u64>>
    {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> std::result::Result<Vec<C::R>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<C>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        self.apply_entries(entries).map_err(|e| sm_err(e, true))
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        match self.snapshot_builder() {
            Ok(b) => b,
            // The application could not encode its state: the builder
            // reports that instead of building a snapshot.
            Err(e) => SnapshotBuilder {
                meta: SnapshotMeta::default(),
                chain: self.chain,
                data: Vec::new(),
                failed: Some(e.to_string()),
                shared: self.shared.clone(),
            },
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> std::result::Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, C::Node>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> std::result::Result<(), StorageError<u64>> {
        let bytes = snapshot.into_inner();
        let sig = Some(meta.signature());
        let info = decode_snapshot::<C>(&bytes).map_err(|e| StorageError::IO {
            source: StorageIOError::read_snapshot(sig.clone(), &e),
        })?;
        if info.meta.last_log_id != meta.last_log_id {
            let e = Error::Snapshot(format!(
                "snapshot bytes are for {:?}, metadata says {:?}",
                info.meta.last_log_id, meta.last_log_id
            ));
            return Err(StorageError::IO {
                source: StorageIOError::read_snapshot(sig, &e),
            });
        }
        // Validated once, above: install without decoding again.
        self.install_decoded(info, bytes)
            .map_err(|e| StorageError::IO {
                source: StorageIOError::write_snapshot(sig, &e),
            })
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> std::result::Result<Option<Snapshot<C>>, StorageError<u64>> {
        let cur = lock(&self.shared.current);
        Ok(cur.as_ref().map(|(meta, bytes)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(bytes.as_ref().clone())),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::KvConfig;

    fn meta() -> SnapshotMeta<u64, openraft::BasicNode> {
        SnapshotMeta {
            last_log_id: Some(
                LogIdRec {
                    term: 2,
                    node: 1,
                    index: 40,
                }
                .to_log_id(),
            ),
            last_membership: StoredMembership::default(),
            snapshot_id: "t".into(),
        }
    }

    /// Data of `n` bytes: compressible runs with some noise.
    fn data(n: usize) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(7);
        (0..n)
            .map(|i| if i % 7 == 0 { rng.u8(..) } else { b'a' })
            .collect()
    }

    #[test]
    fn roundtrip_across_chunk_boundaries() {
        for n in [
            0,
            1,
            SNAPSHOT_CHUNK - 1,
            SNAPSHOT_CHUNK,
            4 * SNAPSHOT_CHUNK + 3,
        ] {
            let d = data(n);
            let bytes = encode_snapshot::<KvConfig>(&meta(), [3; 32], &d).unwrap();
            let info = decode_snapshot::<KvConfig>(&bytes).unwrap();
            assert_eq!(info.data, d, "{n} bytes");
            assert_eq!(info.chain_hash, [3; 32]);
            assert_eq!(info.meta.last_log_id, meta().last_log_id);
        }
    }

    /// Every flipped byte is rejected or (LZ4 streams are not canonical: a
    /// match may point at another copy of the same bytes) decodes to the
    /// very same data; every cut is rejected; never a panic.
    #[test]
    fn damage_anywhere_is_rejected() {
        let d = data(3000);
        let bytes = encode_snapshot::<KvConfig>(&meta(), [3; 32], &d).unwrap();
        let hlen = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        let data_start = SNAP_PREFIX + hlen + pad8(hlen);
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x04;
            match decode_snapshot::<KvConfig>(&b) {
                Err(_) => {}
                Ok(info) => {
                    assert!(i >= data_start + CHUNK_PREFIX, "flip at {i} accepted");
                    assert_eq!(info.data, d, "flip at {i} served damaged data");
                }
            }
        }
        for cut in 0..bytes.len() {
            assert!(
                decode_snapshot::<KvConfig>(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn version_1_is_rejected_by_name() {
        let mut bytes = encode_snapshot::<KvConfig>(&meta(), [3; 32], b"x").unwrap();
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        let err = decode_snapshot::<KvConfig>(&bytes).unwrap_err().to_string();
        assert!(err.contains("version 1 is not supported"), "{err}");
    }

    /// A chunk that claims more than LZ4 can expand to is refused before
    /// anything is allocated for it.
    #[test]
    fn impossible_chunk_length_is_refused() {
        let mut bytes = encode_snapshot::<KvConfig>(&meta(), [3; 32], &data(100)).unwrap();
        let hlen = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        let c = SNAP_PREFIX + hlen + pad8(hlen);
        bytes[c..c + 4].copy_from_slice(&(MAX_CHUNK_RAW as u32).to_le_bytes());
        let err = decode_snapshot::<KvConfig>(&bytes).unwrap_err().to_string();
        assert!(err.contains("cannot come from"), "{err}");
    }
}
