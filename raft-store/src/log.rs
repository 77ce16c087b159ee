//! The log store: segment files of framed rkyv entries, an in-memory index,
//! the hash chain and the metadata file (see [`crate::format`] for bytes).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use rkyv::util::AlignedVec;

use crate::error::{io_err, Error, Result};
use crate::format::{
    chain_hash, decode_entry, parse_frame, push_frame, segment_header, BodyEncoder, Frame, Hash,
    LogIdRec, Meta, VoteRec, FORMAT_VERSION, GENESIS, META_LEN, SEG_HEADER, SEG_MAGIC,
};
use crate::fs::{Fs, FsFile, StdFs};
use crate::StoreConfig;

/// Name of the metadata file.
pub(crate) const META_FILE: &str = "meta";
const META_TMP: &str = "meta.tmp";

/// Tuning of a [`LogStore`].
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// A new segment file is started by the first append after the current
    /// one reached this many bytes (default 64 MiB).
    pub segment_bytes: u64,
    /// Threads used by [`LogStore::verify`] (default: available cores).
    pub verify_threads: usize,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_bytes: 64 << 20,
            verify_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }
}

/// Bytes of log read and checked as one unit of verification work
/// (512 KiB: it stays in a core's cache between the read and the hashing).
const VERIFY_SPAN: u64 = 512 << 10;

/// A chain break found by the verifier (becomes [`Error::ChainBroken`]).
#[derive(Debug, Clone)]
struct Broken {
    index: u64,
    path: PathBuf,
    offset: u64,
    what: String,
}

/// One unit of verification: entries `first..=last` of segment `seg`,
/// `span` bytes at offset `off`, and the stored hash before `first`.
#[derive(Debug)]
struct VerifyItem {
    first: u64,
    last: u64,
    seg: u64,
    off: u64,
    span: usize,
    prev: std::result::Result<Hash, Broken>,
}

/// Where an entry's frame lives.
#[derive(Debug, Clone, Copy)]
struct Loc {
    seg: u64,
    off: u64,
    /// Frame bytes including the 8-byte prefix.
    len: u32,
}

struct Segment {
    path: PathBuf,
    file: Box<dyn FsFile>,
    /// Bytes written and synced (the next frame goes here).
    len: u64,
    /// Last log index in the segment (including purged ones), if any.
    last: Option<u64>,
}

/// A chain anchor handed from the state machine to the log: the chain hash
/// at a snapshot's last log id, used when the log is purged past its end.
pub(crate) type Anchor = Arc<Mutex<Option<(LogIdRec, Hash)>>>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct LogCore {
    dir: PathBuf,
    fs: Arc<dyn Fs>,
    opts: LogOptions,
    meta: Meta,
    segments: BTreeMap<u64, Segment>,
    /// Locations of entries `first..=last`.
    index: VecDeque<Loc>,
    /// Log index of `index[0]` (meaningful when `index` is not empty).
    first: u64,
    /// The last entry in the log (`None` when no entry is kept).
    last: Option<LogIdRec>,
    /// Chain hash of `last`, or the base hash when the log is empty.
    tip: Hash,
    encoder: BodyEncoder,
    batch: Vec<u8>,
    /// Entries of the batch being appended: (id, hash, offset in batch, frame bytes).
    added: Vec<(LogIdRec, Hash, u64, u32)>,
    anchor: Anchor,
}

/// The openraft log storage: append-only segment files of rkyv entries with
/// a blake3 hash chain.
///
/// Clones share one log (openraft's log reader is a clone). Methods do
/// their (blocking) file I/O on the calling thread.
///
/// # Examples
/// ```
/// use raft_store::{kv::KvConfig, LogStore};
/// let dir = tempfile::tempdir().unwrap();
/// let log = LogStore::<KvConfig>::open(dir.path()).unwrap();
/// assert_eq!(log.last_log_id(), None);
/// assert_eq!(log.verify(..).unwrap(), 0);
/// ```
pub struct LogStore<C> {
    core: Arc<Mutex<LogCore>>,
    _c: PhantomData<fn() -> C>,
}

impl<C> Clone for LogStore<C> {
    fn clone(&self) -> Self {
        LogStore {
            core: self.core.clone(),
            _c: PhantomData,
        }
    }
}

impl<C> fmt::Debug for LogStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = lock(&self.core);
        f.debug_struct("LogStore")
            .field("dir", &c.dir)
            .field("first", &c.first)
            .field("last", &c.last)
            .field("segments", &c.segments.len())
            .finish()
    }
}

fn seg_name(seq: u64) -> String {
    format!("seg-{seq:016x}.log")
}

fn parse_seg_name(name: &str) -> Option<u64> {
    let hex = name.strip_prefix("seg-")?.strip_suffix(".log")?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

fn corrupt(path: &Path, offset: u64, what: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        offset,
        what: what.into(),
    }
}

/// Reads `len` bytes at `off` into a 16-byte-aligned buffer.
fn read_aligned(file: &dyn FsFile, path: &Path, off: u64, len: usize) -> Result<AlignedVec> {
    let mut buf = AlignedVec::<16>::with_capacity(len);
    buf.resize(len, 0);
    file.read_at(off, &mut buf).map_err(io_err(path, "read"))?;
    Ok(buf)
}

impl LogCore {
    fn open(dir: &Path, fs: Arc<dyn Fs>, opts: LogOptions, anchor: Anchor) -> Result<Self> {
        fs.create_dir_all(dir)
            .map_err(io_err(dir, "create directory"))?;
        let names = fs.list(dir).map_err(io_err(dir, "list"))?;
        let meta_path = dir.join(META_FILE);
        let meta = if names.iter().any(|n| n == META_FILE) {
            let f = fs
                .open(&meta_path, false)
                .map_err(io_err(&meta_path, "open"))?;
            let len = f.len().map_err(io_err(&meta_path, "stat"))?;
            if len != META_LEN as u64 {
                return Err(corrupt(
                    &meta_path,
                    0,
                    format!("length {len}, expected {META_LEN}"),
                ));
            }
            let mut b = [0u8; META_LEN];
            f.read_at(0, &mut b).map_err(io_err(&meta_path, "read"))?;
            Meta::decode(&b).map_err(|(off, what)| corrupt(&meta_path, off, what))?
        } else {
            Meta::default()
        };
        if names.iter().any(|n| n == META_TMP) {
            let p = dir.join(META_TMP);
            fs.remove(&p).map_err(io_err(&p, "remove"))?;
        }
        let mut seqs: Vec<u64> = names.iter().filter_map(|n| parse_seg_name(n)).collect();
        seqs.sort_unstable();

        let mut core = LogCore {
            dir: dir.to_path_buf(),
            fs,
            opts,
            meta,
            segments: BTreeMap::new(),
            index: VecDeque::new(),
            first: 0,
            last: None,
            tip: meta.base_hash,
            encoder: BodyEncoder::default(),
            batch: Vec::new(),
            added: Vec::new(),
            anchor,
        };
        let purged = meta.purged.map(|p| p.index);
        let trunc = meta.pending_truncate;
        let n = seqs.len();
        for (i, &seq) in seqs.iter().enumerate() {
            let is_last = i + 1 == n;
            let path = dir.join(seg_name(seq));
            let file = core.fs.open(&path, false).map_err(io_err(&path, "open"))?;
            let flen = file.len().map_err(io_err(&path, "stat"))?;
            if flen < SEG_HEADER {
                if !is_last {
                    return Err(corrupt(
                        &path,
                        0,
                        format!("segment of {flen} bytes has no header"),
                    ));
                }
                // A segment whose creation was cut short: start it again.
                file.set_len(0).map_err(io_err(&path, "truncate"))?;
                file.write_at(0, &segment_header())
                    .map_err(io_err(&path, "write"))?;
                file.sync().map_err(io_err(&path, "fsync"))?;
                core.segments.insert(
                    seq,
                    Segment {
                        path,
                        file,
                        len: SEG_HEADER,
                        last: None,
                    },
                );
                continue;
            }
            let flen_usize =
                usize::try_from(flen).map_err(|_| corrupt(&path, 0, "segment too large"))?;
            let buf = read_aligned(&*file, &path, 0, flen_usize)?;
            if &buf[..8] != SEG_MAGIC {
                return Err(corrupt(&path, 0, "bad segment magic"));
            }
            let ver = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
            if ver != FORMAT_VERSION {
                return Err(corrupt(
                    &path,
                    8,
                    format!("unknown segment format version {ver}"),
                ));
            }
            let mut off = SEG_HEADER as usize;
            let mut seg_last = None;
            let mut cut_at = None;
            loop {
                if off == buf.len() {
                    break;
                }
                match parse_frame(&buf, off) {
                    Frame::Ok { header, next, .. } => {
                        let id = LogIdRec {
                            term: header.term.to_native(),
                            node: header.node.to_native(),
                            index: header.index.to_native(),
                        };
                        if trunc.is_some_and(|t| id.index >= t) {
                            cut_at.get_or_insert(off);
                            off = next;
                            continue;
                        }
                        seg_last = Some(id.index);
                        if purged.is_some_and(|p| id.index <= p) {
                            off = next;
                            continue;
                        }
                        match (core.last, purged) {
                            (Some(l), _) if id.index != l.index + 1 => {
                                return Err(corrupt(
                                    &path,
                                    off as u64,
                                    format!("log index {} follows {}", id.index, l.index),
                                ))
                            }
                            (None, Some(p)) if id.index != p + 1 => {
                                return Err(corrupt(
                                    &path,
                                    off as u64,
                                    format!(
                                        "first kept log index {} does not follow purged {p}",
                                        id.index
                                    ),
                                ))
                            }
                            _ => {}
                        }
                        if core.last.is_none() {
                            core.first = id.index;
                        }
                        core.index.push_back(Loc {
                            seg: seq,
                            off: off as u64,
                            len: (next - off) as u32,
                        });
                        core.last = Some(id);
                        core.tip = header.hash;
                        off = next;
                    }
                    // A torn tail of an append that was never acknowledged.
                    Frame::Incomplete(_) if is_last => {
                        cut_at.get_or_insert(off);
                        break;
                    }
                    // Past a pending truncation: those bytes are going away.
                    Frame::Bad(_) if is_last && cut_at.is_some() => break,
                    Frame::Incomplete(what) | Frame::Bad(what) => {
                        return Err(corrupt(&path, off as u64, what));
                    }
                }
            }
            let mut len = flen;
            if let Some(c) = cut_at {
                file.set_len(c as u64).map_err(io_err(&path, "truncate"))?;
                file.sync().map_err(io_err(&path, "fsync"))?;
                len = c as u64;
            }
            core.segments.insert(
                seq,
                Segment {
                    path,
                    file,
                    len,
                    last: seg_last,
                },
            );
        }
        if core.last.is_none() {
            core.first = purged.map_or(0, |p| p + 1);
        }
        // Finish a truncation that the metadata recorded (the cut itself
        // happened above): clear the record.
        if trunc.is_some() {
            core.meta.pending_truncate = None;
            core.write_meta()?;
        }
        // Segments left empty (by a truncation) other than the last one.
        let max = core.segments.keys().next_back().copied();
        let empty: Vec<u64> = core
            .segments
            .iter()
            .filter(|(&s, g)| g.last.is_none() && Some(s) != max)
            .map(|(&s, _)| s)
            .collect();
        for seq in &empty {
            if let Some(s) = core.segments.remove(seq) {
                drop(s.file);
                core.fs.remove(&s.path).map_err(io_err(&s.path, "remove"))?;
            }
        }
        if !empty.is_empty() {
            core.fs
                .sync_dir(&core.dir)
                .map_err(io_err(&core.dir, "fsync directory"))?;
        }
        core.remove_purged_segments()?;
        Ok(core)
    }

    fn meta_path(&self) -> PathBuf {
        self.dir.join(META_FILE)
    }

    /// Writes the metadata atomically: temp file, fsync, rename, fsync dir.
    fn write_meta(&mut self) -> Result<()> {
        let tmp = self.dir.join(META_TMP);
        let bytes = self.meta.encode();
        let f = self.fs.open(&tmp, true).map_err(io_err(&tmp, "create"))?;
        f.set_len(META_LEN as u64)
            .map_err(io_err(&tmp, "truncate"))?;
        f.write_at(0, &bytes).map_err(io_err(&tmp, "write"))?;
        f.sync().map_err(io_err(&tmp, "fsync"))?;
        drop(f);
        let path = self.meta_path();
        self.fs
            .rename(&tmp, &path)
            .map_err(io_err(&path, "rename"))?;
        self.fs
            .sync_dir(&self.dir)
            .map_err(io_err(&self.dir, "fsync directory"))
    }

    /// Removes segments whose entries are all purged (the metadata already
    /// says so: this only frees space).
    fn remove_purged_segments(&mut self) -> Result<()> {
        let Some(p) = self.meta.purged.map(|p| p.index) else {
            return Ok(());
        };
        let doomed: Vec<u64> = self
            .segments
            .iter()
            .filter(|(_, s)| s.last.is_some_and(|l| l <= p))
            .map(|(&seq, _)| seq)
            .collect();
        if doomed.is_empty() {
            return Ok(());
        }
        for seq in doomed {
            if let Some(s) = self.segments.remove(&seq) {
                drop(s.file);
                self.fs.remove(&s.path).map_err(io_err(&s.path, "remove"))?;
            }
        }
        self.fs
            .sync_dir(&self.dir)
            .map_err(io_err(&self.dir, "fsync directory"))
    }

    fn loc(&self, index: u64) -> Option<Loc> {
        let last = self.last?;
        if index < self.first || index > last.index {
            return None;
        }
        self.index.get((index - self.first) as usize).copied()
    }

    /// Reads and checks the header of the frame at `index`: (id, hash).
    fn read_header(&self, index: u64) -> Result<(LogIdRec, Hash)> {
        let loc = self
            .loc(index)
            .ok_or_else(|| Error::InvalidRequest(format!("log index {index} not in log")))?;
        let seg = self.segment(loc.seg)?;
        let buf = read_aligned(&*seg.file, &seg.path, loc.off, loc.len as usize)?;
        match parse_frame(&buf, 0) {
            Frame::Ok { header, .. } if header.index.to_native() == index => Ok((
                LogIdRec {
                    term: header.term.to_native(),
                    node: header.node.to_native(),
                    index,
                },
                header.hash,
            )),
            Frame::Ok { header, .. } => Err(corrupt(
                &seg.path,
                loc.off,
                format!(
                    "entry {index}: frame holds index {}",
                    header.index.to_native()
                ),
            )),
            Frame::Incomplete(w) | Frame::Bad(w) => {
                Err(corrupt(&seg.path, loc.off, format!("entry {index}: {w}")))
            }
        }
    }

    fn segment(&self, seq: u64) -> Result<&Segment> {
        self.segments
            .get(&seq)
            .ok_or_else(|| Error::InvalidRequest(format!("segment {seq} missing")))
    }

    /// Appends `entries` (which must continue the log) with one fsync.
    fn append<C: StoreConfig>(
        &mut self,
        entries: impl IntoIterator<Item = Entry<C>>,
    ) -> Result<usize> {
        self.adopt_anchor()?;
        // One reused buffer for the whole batch (it keeps its capacity
        // between calls), then one write and one fsync.
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        let mut added = std::mem::take(&mut self.added);
        added.clear();
        let mut prev_id = self.last;
        let mut prev_hash = self.tip;
        let mut encoder = std::mem::take(&mut self.encoder);
        let res = (|| -> Result<()> {
            for e in entries {
                let id = LogIdRec::from_log_id(&e.log_id);
                if prev_id.is_none() && self.meta.purged.is_some_and(|p| id.index <= p.index) {
                    // Already purged (covered by a snapshot): nothing to keep.
                    continue;
                }
                let expected = match (prev_id, self.meta.purged) {
                    (Some(l), _) => Some(l.index + 1),
                    (None, Some(p)) => Some(p.index + 1),
                    (None, None) => None,
                };
                if expected.is_some_and(|x| x != id.index) {
                    return Err(Error::InvalidRequest(format!(
                        "append of log index {} where {} is expected",
                        id.index,
                        expected.unwrap_or_default()
                    )));
                }
                let body = encoder.encode(&e)?;
                let hash = chain_hash(&prev_hash, id.index, id.term, body);
                let rel = batch.len() as u64;
                push_frame(&mut batch, id, hash, body)?;
                added.push((id, hash, rel, (batch.len() as u64 - rel) as u32));
                prev_id = Some(id);
                prev_hash = hash;
            }
            Ok(())
        })();
        self.encoder = encoder;
        if let Err(e) = res {
            self.batch = batch;
            self.added = added;
            return Err(e);
        }
        if added.is_empty() {
            self.batch = batch;
            self.added = added;
            return Ok(0);
        }
        let seq = self.active_segment()?;
        let new_file = self.segments[&seq].len == SEG_HEADER && self.segments[&seq].last.is_none();
        let seg = self
            .segments
            .get_mut(&seq)
            .ok_or_else(|| Error::InvalidRequest("no segment".into()))?;
        let base = seg.len;
        if let Err(e) = seg.file.write_at(base, &batch) {
            let _ = seg.file.set_len(base);
            self.batch = batch;
            self.added = added;
            return Err(io_err(&seg.path, "write")(e));
        }
        if let Err(e) = seg.file.sync() {
            let _ = seg.file.set_len(base);
            self.batch = batch;
            self.added = added;
            return Err(io_err(&seg.path, "fsync")(e));
        }
        if new_file {
            self.fs
                .sync_dir(&self.dir)
                .map_err(io_err(&self.dir, "fsync directory"))?;
        }
        let seg = self
            .segments
            .get_mut(&seq)
            .ok_or_else(|| Error::InvalidRequest("no segment".into()))?;
        seg.len = base + batch.len() as u64;
        let n = added.len();
        for &(id, hash, rel, len) in &added {
            if self.last.is_none() {
                self.first = id.index;
            }
            self.index.push_back(Loc {
                seg: seq,
                off: base + rel,
                len,
            });
            self.last = Some(id);
            self.tip = hash;
            seg.last = Some(id.index);
        }
        self.batch = batch;
        self.added = added;
        Ok(n)
    }

    /// When the log is empty after a purge past its end (a snapshot was
    /// installed), the next entry chains from the snapshot's chain hash.
    /// openraft may purge before the state machine has handed that hash
    /// over, so it is taken here, before the first append.
    fn adopt_anchor(&mut self) -> Result<()> {
        let (None, Some(p)) = (self.last, self.meta.purged) else {
            return Ok(());
        };
        let anchor = *lock(&self.anchor);
        if let Some((a, h)) = anchor {
            if a == p && h != self.meta.base_hash {
                let old = self.meta;
                self.meta.base_hash = h;
                if let Err(e) = self.write_meta() {
                    self.meta = old;
                    return Err(e);
                }
                self.tip = h;
            }
        }
        Ok(())
    }

    /// The segment appends go to, created (with its header written, not yet
    /// synced) when there is none or the current one is full.
    fn active_segment(&mut self) -> Result<u64> {
        if let Some((&seq, s)) = self.segments.iter().next_back() {
            if s.len < self.opts.segment_bytes {
                return Ok(seq);
            }
        }
        let seq = self.segments.keys().next_back().map_or(1, |s| s + 1);
        let path = self.dir.join(seg_name(seq));
        let file = self.fs.open(&path, true).map_err(io_err(&path, "create"))?;
        file.set_len(0).map_err(io_err(&path, "truncate"))?;
        file.write_at(0, &segment_header())
            .map_err(io_err(&path, "write"))?;
        self.segments.insert(
            seq,
            Segment {
                path,
                file,
                len: SEG_HEADER,
                last: None,
            },
        );
        Ok(seq)
    }

    /// Removes entries at and after `index` (openraft's `truncate`).
    fn truncate(&mut self, index: u64) -> Result<()> {
        let Some(last) = self.last else { return Ok(()) };
        if index > last.index {
            return Ok(());
        }
        let index = index.max(self.first);
        let cut = self
            .loc(index)
            .ok_or_else(|| Error::InvalidRequest(format!("truncate at {index}")))?;
        let (new_last, new_tip) = if index > self.first {
            let (id, h) = self.read_header(index - 1)?;
            (Some(id), h)
        } else {
            (None, self.meta.base_hash)
        };
        // Commit point: once the metadata says so, the entries are gone
        // (reopening finishes the job).
        self.meta.pending_truncate = Some(index);
        self.write_meta()?;
        let later: Vec<u64> = self
            .segments
            .range(cut.seg + 1..)
            .map(|(&s, _)| s)
            .rev()
            .collect();
        for seq in later {
            if let Some(s) = self.segments.remove(&seq) {
                drop(s.file);
                self.fs.remove(&s.path).map_err(io_err(&s.path, "remove"))?;
            }
        }
        let seg = self
            .segments
            .get_mut(&cut.seg)
            .ok_or_else(|| Error::InvalidRequest("no segment".into()))?;
        seg.file
            .set_len(cut.off)
            .map_err(io_err(&seg.path, "truncate"))?;
        seg.file.sync().map_err(io_err(&seg.path, "fsync"))?;
        seg.len = cut.off;
        seg.last = index.checked_sub(1).filter(|_| cut.off > SEG_HEADER);
        self.fs
            .sync_dir(&self.dir)
            .map_err(io_err(&self.dir, "fsync directory"))?;
        self.index.truncate((index - self.first) as usize);
        self.last = new_last;
        self.tip = new_tip;
        self.meta.pending_truncate = None;
        self.write_meta()
    }

    /// Removes entries up to and including `id.index` (openraft's `purge`).
    fn purge(&mut self, id: LogIdRec) -> Result<()> {
        if self.meta.purged.is_some_and(|p| p.index >= id.index) {
            return Ok(());
        }
        let base = match self.last {
            Some(l) if id.index >= self.first && id.index <= l.index => {
                self.read_header(id.index)?.1
            }
            Some(_) if id.index < self.first => self.meta.base_hash,
            _ => {
                // Past the end of the log: a snapshot was installed; its
                // chain hash continues the chain.
                match *lock(&self.anchor) {
                    Some((a, h)) if a.index == id.index => h,
                    _ if self.last.is_none()
                        && self.meta.purged.is_none()
                        && id.index < self.first =>
                    {
                        self.meta.base_hash
                    }
                    _ => GENESIS,
                }
            }
        };
        let mut meta = self.meta;
        meta.purged = Some(id);
        meta.base_hash = base;
        let old = std::mem::replace(&mut self.meta, meta);
        if let Err(e) = self.write_meta() {
            self.meta = old;
            return Err(e);
        }
        match self.last {
            Some(l) if id.index >= l.index => {
                self.index.clear();
                self.last = None;
                self.first = id.index + 1;
                self.tip = base;
            }
            Some(_) if id.index >= self.first => {
                let n = (id.index + 1 - self.first) as usize;
                self.index.drain(..n);
                self.first = id.index + 1;
            }
            Some(_) => {}
            None => {
                self.first = id.index + 1;
                self.tip = base;
            }
        }
        self.remove_purged_segments()
    }

    fn log_range(&self, range: (Bound<u64>, Bound<u64>)) -> Option<(u64, u64)> {
        let last = self.last?;
        let start = match range.0 {
            Bound::Included(s) => s,
            Bound::Excluded(s) => s.checked_add(1)?,
            Bound::Unbounded => 0,
        }
        .max(self.first);
        let end = match range.1 {
            Bound::Included(e) => e,
            Bound::Excluded(e) => e.checked_sub(1)?,
            Bound::Unbounded => u64::MAX,
        }
        .min(last.index);
        (start <= end).then_some((start, end))
    }

    /// Calls `f(index, segment, frame offset, frame bytes)` for each entry
    /// of `start..=end`, reading each segment's part with one read.
    fn for_each_frame(
        &self,
        start: u64,
        end: u64,
        mut f: impl FnMut(u64, &Segment, u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut i = start;
        while i <= end {
            let loc = self
                .loc(i)
                .ok_or_else(|| Error::InvalidRequest(format!("log index {i} not in log")))?;
            // The run of entries of this segment.
            let mut j = i;
            while j < end && self.loc(j + 1).is_some_and(|l| l.seg == loc.seg) {
                j += 1;
            }
            let lastloc = self
                .loc(j)
                .ok_or_else(|| Error::InvalidRequest(format!("log index {j} not in log")))?;
            let seg = self.segment(loc.seg)?;
            let span = (lastloc.off + lastloc.len as u64 - loc.off) as usize;
            let buf = read_aligned(&*seg.file, &seg.path, loc.off, span)?;
            for k in i..=j {
                let l = self
                    .loc(k)
                    .ok_or_else(|| Error::InvalidRequest(format!("log index {k} not in log")))?;
                let rel = (l.off - loc.off) as usize;
                f(k, seg, l.off, &buf[rel..rel + l.len as usize])?;
            }
            i = j + 1;
        }
        Ok(())
    }

    fn read_entries<C: StoreConfig>(
        &self,
        range: (Bound<u64>, Bound<u64>),
        max: usize,
    ) -> Result<Vec<Entry<C>>> {
        let Some((start, end)) = self.log_range(range) else {
            return Ok(Vec::new());
        };
        let end = end.min(start.saturating_add(max as u64).saturating_sub(1));
        let mut out = Vec::with_capacity((end - start + 1) as usize);
        self.for_each_frame(start, end, |idx, seg, off, frame| {
            // Frames start 8-aligned in the (16-aligned) read buffer.
            match parse_frame(frame, 0) {
                Frame::Ok { header, body, .. } if header.index.to_native() == idx => {
                    let e = decode_entry::<C>(idx, header.term.to_native(), body)
                        .map_err(|e| corrupt(&seg.path, off, format!("entry {idx}: {e}")))?;
                    out.push(e);
                    Ok(())
                }
                Frame::Ok { header, .. } => Err(corrupt(
                    &seg.path,
                    off,
                    format!(
                        "entry {idx}: frame holds index {}",
                        header.index.to_native()
                    ),
                )),
                Frame::Incomplete(w) | Frame::Bad(w) => {
                    Err(corrupt(&seg.path, off, format!("entry {idx}: {w}")))
                }
            }
        })?;
        Ok(out)
    }

    fn verify(&self, range: (Bound<u64>, Bound<u64>)) -> Result<u64> {
        let Some((start, end)) = self.log_range(range) else {
            return Ok(0);
        };
        // Work items: runs of entries of one segment, about VERIFY_SPAN
        // bytes each. Each entry's check needs only its predecessor's stored
        // hash, so every item can be checked on its own once the stored hash
        // before it is known.
        let mut items: Vec<VerifyItem> = Vec::new();
        // The segment whose file header was checked last, and whether it held.
        let mut checked: Option<(u64, bool)> = None;
        let mut i = start;
        while i <= end {
            let loc = self
                .loc(i)
                .ok_or_else(|| Error::InvalidRequest(format!("log index {i} not in log")))?;
            if checked.is_none_or(|(s, _)| s != loc.seg) {
                let seg = self.segment(loc.seg)?;
                let mut h = [0u8; SEG_HEADER as usize];
                seg.file
                    .read_at(0, &mut h)
                    .map_err(io_err(&seg.path, "read"))?;
                checked = Some((loc.seg, h == segment_header()));
            }
            let header_ok = checked.is_some_and(|(_, ok)| ok);
            let mut j = i;
            let mut span = loc.len as u64;
            while j < end {
                match self.loc(j + 1) {
                    Some(l) if l.seg == loc.seg && span + l.len as u64 <= VERIFY_SPAN => {
                        span += l.len as u64;
                        j += 1;
                    }
                    _ => break,
                }
            }
            let prev = if !header_ok {
                Err(Broken {
                    index: i,
                    path: self.segment(loc.seg)?.path.clone(),
                    offset: 0,
                    what: "segment file header damaged".into(),
                })
            } else if i == self.first {
                Ok(self.meta.base_hash)
            } else {
                self.read_header(i - 1).map(|(_, h)| h).map_err(|e| {
                    let (path, offset) = match &e {
                        Error::Corrupt { path, offset, .. } => (path.clone(), *offset),
                        _ => (PathBuf::new(), 0),
                    };
                    Broken {
                        index: i - 1,
                        path,
                        offset,
                        what: e.to_string(),
                    }
                })
            };
            items.push(VerifyItem {
                first: i,
                last: j,
                seg: loc.seg,
                off: loc.off,
                span: span as usize,
                prev,
            });
            i = j + 1;
        }
        let threads = self.opts.verify_threads.max(1).min(items.len());
        // The lowest item index found broken so far: later items are skipped.
        let stop = AtomicUsize::new(usize::MAX);
        let next = AtomicUsize::new(0);
        let worker = || -> Result<Option<Broken>> {
            let mut buf = AlignedVec::<16>::new();
            let mut found: Option<Broken> = None;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= items.len() || n > stop.load(Ordering::Relaxed) {
                    return Ok(found);
                }
                if let Some(b) = self.verify_item(&items[n], &mut buf)? {
                    stop.fetch_min(n, Ordering::Relaxed);
                    if found.as_ref().is_none_or(|f| b.index < f.index) {
                        found = Some(b);
                    }
                }
            }
        };
        let bad = if threads <= 1 {
            worker()?
        } else {
            let results: Vec<Result<Option<Broken>>> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
                hs.into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(Error::InvalidRequest("verify thread panicked".into()))
                        })
                    })
                    .collect()
            });
            let mut bad: Option<Broken> = None;
            for r in results {
                if let Some(b) = r? {
                    if bad.as_ref().is_none_or(|x| b.index < x.index) {
                        bad = Some(b);
                    }
                }
            }
            bad
        };
        match bad {
            Some(b) => Err(Error::ChainBroken {
                index: b.index,
                path: b.path,
                offset: b.offset,
                what: b.what,
            }),
            None => Ok(end - start + 1),
        }
    }

    /// Checks one run of entries: frame checksum, index, and the chain hash
    /// from the stored hash before it. Reads the run into `buf` (reused,
    /// grown only when a run is longer than any before). Returns the first
    /// broken entry.
    fn verify_item(&self, item: &VerifyItem, buf: &mut AlignedVec) -> Result<Option<Broken>> {
        let mut prev = match &item.prev {
            Ok(h) => *h,
            Err(b) => return Ok(Some(b.clone())),
        };
        let seg = self.segment(item.seg)?;
        if buf.len() < item.span {
            buf.resize(item.span, 0);
        }
        let buf = &mut buf[..item.span];
        seg.file
            .read_at(item.off, buf)
            .map_err(io_err(&seg.path, "read"))?;
        let broken = |index: u64, offset: u64, what: String| {
            Some(Broken {
                index,
                path: seg.path.clone(),
                offset,
                what,
            })
        };
        for k in item.first..=item.last {
            let Some(l) = self.loc(k) else {
                return Err(Error::InvalidRequest(format!("log index {k} not in log")));
            };
            let rel = (l.off - item.off) as usize;
            match parse_frame(buf, rel) {
                Frame::Ok { header, body, .. } => {
                    if header.index.to_native() != k {
                        return Ok(broken(
                            k,
                            l.off,
                            format!("frame holds index {}", header.index.to_native()),
                        ));
                    }
                    if chain_hash(&prev, k, header.term.to_native(), body) != header.hash {
                        return Ok(broken(
                            k,
                            l.off,
                            "stored hash does not match the chain".into(),
                        ));
                    }
                    prev = header.hash;
                }
                Frame::Incomplete(w) | Frame::Bad(w) => return Ok(broken(k, l.off, w)),
            }
        }
        Ok(None)
    }

    fn log_state(&self) -> (Option<LogIdRec>, Option<LogIdRec>) {
        (self.meta.purged, self.last.or(self.meta.purged))
    }
}

fn to_storage(e: Error, write: bool) -> StorageError<u64> {
    let io = if write {
        StorageIOError::write_logs(&e)
    } else {
        StorageIOError::read_logs(&e)
    };
    StorageError::IO { source: io }
}

impl<C: StoreConfig> LogStore<C> {
    /// Opens (or creates) the log in directory `dir` on real files.
    ///
    /// Recovery: a torn frame at the end of the last segment (an append that
    /// was never acknowledged) is cut off; a truncation recorded in the
    /// metadata is finished; fully purged segments are removed.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::Corrupt`] naming file and offset when a
    /// segment or the metadata file is damaged (never a panic).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(dir, Arc::new(StdFs), LogOptions::default())
    }

    /// [`LogStore::open`] through file-system layer `fs` with `opts`.
    ///
    /// # Errors
    /// As [`LogStore::open`].
    pub fn open_with(dir: impl AsRef<Path>, fs: Arc<dyn Fs>, opts: LogOptions) -> Result<Self> {
        Self::open_anchored(dir.as_ref(), fs, opts, Arc::default())
    }

    pub(crate) fn open_anchored(
        dir: &Path,
        fs: Arc<dyn Fs>,
        opts: LogOptions,
        anchor: Anchor,
    ) -> Result<Self> {
        let core = LogCore::open(dir, fs, opts, anchor)?;
        Ok(LogStore {
            core: Arc::new(Mutex::new(core)),
            _c: PhantomData,
        })
    }

    /// Appends entries (which must continue the log: index = last + 1) with
    /// one write and one fsync for the whole batch; they are durable when
    /// this returns. Returns the number of entries appended. Entries at or
    /// below the last purged index are skipped (a snapshot covers them).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an index that does not continue the
    /// log; [`Error::Io`] (the log in memory is unchanged then).
    pub fn append_entries(&self, entries: impl IntoIterator<Item = Entry<C>>) -> Result<usize> {
        lock(&self.core).append::<C>(entries)
    }

    /// Removes entries at and after `index`, durably and atomically.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn truncate_from(&self, index: u64) -> Result<()> {
        lock(&self.core).truncate(index)
    }

    /// Removes entries up to and including `id`, durably and atomically.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn purge_upto(&self, id: &LogId<u64>) -> Result<()> {
        lock(&self.core).purge(LogIdRec::from_log_id(id))
    }

    /// Saves the vote atomically in the metadata file.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn save_vote_sync(&self, vote: &Vote<u64>) -> Result<()> {
        let mut c = lock(&self.core);
        let old = c.meta;
        c.meta.vote = Some(VoteRec {
            term: vote.leader_id.term,
            node: vote.leader_id.node_id,
            committed: vote.committed,
        });
        c.write_meta().inspect_err(|_| c.meta = old)
    }

    /// The saved vote.
    pub fn vote(&self) -> Option<Vote<u64>> {
        lock(&self.core).meta.vote.map(|v| {
            if v.committed {
                Vote::new_committed(v.term, v.node)
            } else {
                Vote::new(v.term, v.node)
            }
        })
    }

    /// Reads the entries of `range` that are in the log (checksums checked).
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming file, offset and log index of a damaged
    /// entry; [`Error::Io`].
    pub fn read(&self, range: impl RangeBounds<u64>) -> Result<Vec<Entry<C>>> {
        let r = (range.start_bound().cloned(), range.end_bound().cloned());
        lock(&self.core).read_entries::<C>(r, usize::MAX)
    }

    /// Checks the hash chain over the entries of `range` that are in the log
    /// (frame checksum, index and `blake3(prev || index || term || body)` of
    /// each). Returns the entries checked.
    ///
    /// The range is cut into runs of about 512 KiB of one segment; an
    /// entry's check needs only its own stored hash and its predecessor's,
    /// so [`LogOptions::verify_threads`] threads take runs from a shared
    /// counter and each reads, checksums and hashes its run (headers read
    /// through validated zero-copy access, no allocation per entry). The
    /// break reported is the lowest index found broken over all runs.
    ///
    /// # Errors
    /// [`Error::ChainBroken`] with the first log index where the chain does
    /// not hold; [`Error::Io`].
    pub fn verify(&self, range: impl RangeBounds<u64>) -> Result<u64> {
        let r = (range.start_bound().cloned(), range.end_bound().cloned());
        lock(&self.core).verify(r)
    }

    /// The last log id in the log (or the last purged one when the log is
    /// empty).
    pub fn last_log_id(&self) -> Option<LogId<u64>> {
        lock(&self.core).log_state().1.map(LogIdRec::to_log_id)
    }

    /// The last purged log id.
    pub fn last_purged_log_id(&self) -> Option<LogId<u64>> {
        lock(&self.core).meta.purged.map(LogIdRec::to_log_id)
    }

    /// The chain hash of the last entry (the chain tip).
    pub fn chain_tip(&self) -> Hash {
        lock(&self.core).tip
    }

    /// The chain hash stored with entry `index`, if it is in the log.
    ///
    /// # Errors
    /// [`Error::Corrupt`], [`Error::Io`].
    pub fn hash_at(&self, index: u64) -> Result<Option<Hash>> {
        let c = lock(&self.core);
        if c.loc(index).is_none() {
            return Ok(None);
        }
        c.read_header(index).map(|(_, h)| Some(h))
    }
}

impl<C: StoreConfig> RaftLogReader<C> for LogStore<C> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + fmt::Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> std::result::Result<Vec<Entry<C>>, StorageError<u64>> {
        self.read(range).map_err(|e| to_storage(e, false))
    }
}

impl<C: StoreConfig> RaftLogStorage<C> for LogStore<C> {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> std::result::Result<LogState<C>, StorageError<u64>> {
        let (purged, last) = lock(&self.core).log_state();
        Ok(LogState {
            last_purged_log_id: purged.map(LogIdRec::to_log_id),
            last_log_id: last.map(LogIdRec::to_log_id),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> std::result::Result<(), StorageError<u64>> {
        self.save_vote_sync(vote).map_err(|e| StorageError::IO {
            source: StorageIOError::write_vote(&e),
        })
    }

    async fn read_vote(&mut self) -> std::result::Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.vote())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<u64>>,
    ) -> std::result::Result<(), StorageError<u64>> {
        let mut c = lock(&self.core);
        let old = c.meta;
        c.meta.committed = committed.as_ref().map(LogIdRec::from_log_id);
        c.write_meta()
            .inspect_err(|_| c.meta = old)
            .map_err(|e| to_storage(e, true))
    }

    async fn read_committed(
        &mut self,
    ) -> std::result::Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(lock(&self.core).meta.committed.map(LogIdRec::to_log_id))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<C>,
    ) -> std::result::Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<C>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        match self.append_entries(entries) {
            Ok(_) => {
                // Only now, after the fsync, is the batch flushed.
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(to_storage(e, true))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> std::result::Result<(), StorageError<u64>> {
        self.truncate_from(log_id.index)
            .map_err(|e| to_storage(e, true))
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> std::result::Result<(), StorageError<u64>> {
        self.purge_upto(&log_id).map_err(|e| to_storage(e, true))
    }
}
