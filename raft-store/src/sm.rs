//! The state machine adapter: openraft's `RaftStateMachine` over an
//! application's [`StateMachineApp`], with rkyv snapshots on disk.
//!
//! # Snapshot file
//! ```text
//! magic "RKVRSNAP" | version u32 | header_len u32 | header crc32c u32 | reserved u32
//! header: rkyv SnapshotHeader (last log id, membership, id, chain hash,
//!         blake3 of the data, data length), zero pad to 8
//! data:   the application's snapshot bytes
//! ```
//! The same bytes are what a leader streams to a follower; they are
//! validated (magic, version, header checksum and validated access, data
//! length and blake3) before anything is installed.

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
    chain_hash, encode_body, membership_from_archived, pad8, Hash, LogIdRec, MembershipRec, GENESIS,
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
const SNAP_VERSION: u32 = 1;
const SNAP_PREFIX: usize = 24;
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
}

/// A validated snapshot: its metadata, chain hash and where the data is.
#[derive(Debug, Clone)]
pub struct SnapshotInfo<C: StoreConfig> {
    /// openraft's metadata (last log id, membership, id).
    pub meta: SnapshotMeta<u64, C::Node>,
    /// The hash chain's value at the last log id.
    pub chain_hash: Hash,
    /// Byte range of the application data in the snapshot bytes.
    pub data: std::ops::Range<usize>,
}

/// Encodes a snapshot file from its parts.
///
/// # Errors
/// [`Error::Decode`] if archiving the header fails.
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
    };
    let hb = rkyv::to_bytes::<rancor::Error>(&header)
        .map_err(|e| Error::Decode(format!("archive snapshot: {e}")))?;
    let mut out = Vec::with_capacity(SNAP_PREFIX + hb.len() + 8 + data.len());
    out.extend_from_slice(SNAP_MAGIC);
    out.extend_from_slice(&SNAP_VERSION.to_le_bytes());
    out.extend_from_slice(&(hb.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&hb).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&hb);
    out.extend_from_slice(&[0u8; 8][..pad8(hb.len())]);
    out.extend_from_slice(data);
    Ok(out)
}

/// Validates snapshot bytes: magic, version, header checksum and layout,
/// data length and blake3. Never panics on any input.
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
        return Err(bad(8, format!("unknown version {}", u32_at(8))));
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
    let data_len = h.data_len.to_native();
    if data_start > bytes.len() || (bytes.len() - data_start) as u64 != data_len {
        return Err(bad(
            data_start,
            format!("data length {data_len} does not match the snapshot size"),
        ));
    }
    let data = &bytes[data_start..];
    if blake3::hash(data).as_bytes() != &h.data_hash {
        return Err(bad(data_start, "data blake3 mismatch".into()));
    }
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
        data: data_start..bytes.len(),
    })
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
    scratch: Option<AlignedVec>,
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
            app.install_snapshot(&bytes[info.data.clone()])?;
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
            scratch: Some(AlignedVec::new()),
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
        let mut scratch = self.scratch.take().unwrap_or_default();
        for e in entries {
            scratch = encode_body(&e, std::mem::take(&mut scratch))?;
            self.chain = chain_hash(
                &self.chain,
                e.log_id.index,
                e.log_id.leader_id.term,
                &scratch,
            );
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
        self.scratch = Some(scratch);
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
        self.app.install_snapshot(&bytes[info.data.clone()])?;
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
        self.install_snapshot_bytes(bytes)
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
