//! [`Db`]: the engine. Writes go through a commit queue (a leader writes
//! the WAL records of a whole group, fsyncs once, applies them to the
//! memtable and publishes their sequence numbers); reads take a lock-free
//! snapshot of the memtables and tables ([`SuperVersion`], RocksDB's name).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtOrd};
use std::sync::Arc;
use std::thread::JoinHandle;

use arc_swap::ArcSwap;
use bytes::Bytes;
use parking_lot::{Condvar, Mutex};

use crate::batch::WriteBatch;
use crate::cache::BlockCache;
use crate::error::{Error, Result};
use crate::format::{Kind, MAX_SEQ};
use crate::fs::{FileSystem, StdFs};
use crate::iter::{prefix_successor, Iter};
use crate::manifest::{self, ManifestData, TableMeta, MANIFEST, MANIFEST_TMP};
use crate::memtable::{Lookup, Memtable};
use crate::sstable::block::Compression;
use crate::sstable::{Table, TableBuilder};
use crate::table_cache::{TableCache, TableHandle};
use crate::wal::{encode_record, RecordReader, WalWriter};

mod compaction;

/// When a write is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The WAL record is fsynced before the write returns, in a group of
    /// its own (one fsync per write).
    Sync,
    /// The WAL record is fsynced before the write returns; concurrent
    /// writers are committed as a group that shares one write and one
    /// fsync.
    GroupCommit,
    /// The WAL record is handed to the OS (it survives a crash of the
    /// process, not of the machine) and fsynced later: by a later synced
    /// write, when the WAL rotates, or at close.
    #[default]
    Buffered,
}

/// What to do with a damaged WAL record that is not a torn tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalRecovery {
    /// Fail to open with [`Error::Corruption`] naming the file and offset.
    #[default]
    Strict,
    /// Keep every record before the damaged one, drop it and everything
    /// after it (in that file and later WAL files), and flush what was
    /// kept so the loss is final.
    SalvagePrefix,
}

/// Settings of a [`Db`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Memtable size that triggers a freeze and background flush, in
    /// bytes (default 64 MiB).
    pub memtable_bytes: usize,
    /// Frozen memtables waiting for flush before writers stall (default 4).
    pub max_frozen_memtables: usize,
    /// Target data block size, in bytes (default 4096).
    pub block_size: usize,
    /// Data block compression (default none).
    pub compression: Compression,
    /// Durability of `put`, `delete` and `write` (default
    /// [`Durability::Buffered`], as RocksDB's `sync = false`).
    pub durability: Durability,
    /// Handling of a damaged WAL record at open (default strict).
    pub wal_recovery: WalRecovery,
    /// Validate WAL batch archives with bytecheck during replay instead of
    /// trusting them once their checksum matched (default false).
    pub verify_wal_archives: bool,
    /// The file layer (default [`StdFs`]).
    pub fs: Arc<dyn FileSystem>,
    /// Capacity of the block cache, in bytes (default 64 MiB; 0 disables
    /// it).
    pub block_cache_bytes: usize,
    /// Run leveled compaction in a background thread (default true).
    pub auto_compaction: bool,
    /// Number of levels, L0 included (default 7, at least 2).
    pub num_levels: usize,
    /// L0 file count that triggers a compaction into L1 (default 4).
    pub l0_compaction_trigger: usize,
    /// L0 file count from which every commit group is delayed by 1 ms
    /// (default 20; counted in [`Stats::write_slowdowns`]).
    pub l0_slowdown_trigger: usize,
    /// L0 file count at which writes wait for compaction (default 36;
    /// counted in [`Stats::write_stalls`]).
    pub l0_stop_trigger: usize,
    /// Target size of L1, in bytes (default 256 MiB); level `n` targets
    /// `level1_bytes * level_size_ratio^(n-1)`.
    pub level1_bytes: u64,
    /// Size ratio between adjacent levels (default 10).
    pub level_size_ratio: u64,
    /// Target size of a table written by compaction, in bytes (default
    /// 32 MiB; a table is cut only between user keys).
    pub target_table_bytes: u64,
    /// Tables kept open (file, index, properties, bloom filter in memory)
    /// in an LRU; others are opened on demand (default 1000, at least 1).
    pub max_open_tables: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memtable_bytes: 64 << 20,
            max_frozen_memtables: 4,
            block_size: 4096,
            compression: Compression::None,
            durability: Durability::Buffered,
            wal_recovery: WalRecovery::Strict,
            verify_wal_archives: false,
            fs: Arc::new(StdFs),
            block_cache_bytes: 64 << 20,
            auto_compaction: true,
            num_levels: 7,
            l0_compaction_trigger: 4,
            l0_slowdown_trigger: 20,
            l0_stop_trigger: 36,
            level1_bytes: 256 << 20,
            level_size_ratio: 10,
            target_table_bytes: 32 << 20,
            max_open_tables: 1000,
        }
    }
}

/// Counters and sizes, a snapshot taken by [`Db::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Last published sequence number.
    pub last_seq: u64,
    /// Bytes in the active memtable.
    pub memtable_bytes: u64,
    /// Frozen memtables waiting for flush.
    pub frozen_memtables: u64,
    /// Tables per level.
    pub tables_per_level: Vec<u64>,
    /// Bytes of tables per level.
    pub bytes_per_level: Vec<u64>,
    /// Bytes of all live tables.
    pub table_bytes: u64,
    /// Batches committed.
    pub batches: u64,
    /// Commit groups (one WAL write each).
    pub commit_groups: u64,
    /// WAL fsyncs.
    pub wal_syncs: u64,
    /// Bytes appended to WAL files.
    pub wal_bytes: u64,
    /// Memtables flushed to tables.
    pub flushes: u64,
    /// WAL records replayed at open.
    pub recovered_records: u64,
    /// Bytes of tables written by flushes.
    pub flush_bytes: u64,
    /// Compactions finished.
    pub compactions: u64,
    /// Bytes of tables read by compactions.
    pub compaction_bytes_read: u64,
    /// Bytes of tables written by compactions.
    pub compaction_bytes_written: u64,
    /// Commit groups delayed because L0 reached the slowdown trigger.
    pub write_slowdowns: u64,
    /// Commit groups that waited because L0 reached the stop trigger.
    pub write_stalls: u64,
    /// Block cache lookups that hit.
    pub block_cache_hits: u64,
    /// Block cache lookups that missed.
    pub block_cache_misses: u64,
    /// Tables open in the table cache.
    pub open_tables: u64,
    /// Table opens (at start-up, after writing one, on table cache misses).
    pub table_opens: u64,
    /// Point lookups that consulted a table's bloom filter.
    pub bloom_checked: u64,
    /// Of those, lookups the filter answered "absent" (no block read).
    pub bloom_useful: u64,
}

impl Stats {
    /// Write amplification of the tables, RocksDB's definition: bytes
    /// written by flushes and compactions over bytes written by flushes
    /// (1.0 before any flush).
    pub fn write_amplification(&self) -> f64 {
        if self.flush_bytes == 0 {
            return 1.0;
        }
        (self.flush_bytes + self.compaction_bytes_written) as f64 / self.flush_bytes as f64
    }

    /// Block cache hits over lookups (0.0 before any lookup).
    pub fn block_cache_hit_rate(&self) -> f64 {
        let n = self.block_cache_hits + self.block_cache_misses;
        if n == 0 {
            0.0
        } else {
            self.block_cache_hits as f64 / n as f64
        }
    }

    /// Bloom filter answers of "absent" over filter checks (0.0 before
    /// any check).
    pub fn bloom_useful_rate(&self) -> f64 {
        if self.bloom_checked == 0 {
            0.0
        } else {
            self.bloom_useful as f64 / self.bloom_checked as f64
        }
    }
}

/// An immutable view of the memtables and tables, swapped atomically.
#[derive(Debug)]
pub(crate) struct SuperVersion {
    pub(crate) mem: Arc<Memtable>,
    /// Frozen memtables, newest first.
    pub(crate) imms: Vec<Arc<Memtable>>,
    /// Tables per level; level 0 newest first, deeper levels sorted by
    /// key and disjoint.
    pub(crate) levels: Vec<Vec<Arc<TableHandle>>>,
    /// Where the tables are opened.
    pub(crate) tables: Arc<TableCache>,
}

struct Pending {
    id: u64,
    batch: WriteBatch,
    payload: rkyv::util::AlignedVec<16>,
    durability: Durability,
}

#[derive(Default)]
struct CommitQueue {
    pending: VecDeque<Pending>,
    leader: bool,
    next_id: u64,
    done: HashMap<u64, Result<u64>>,
}

struct WalState {
    writer: WalWriter,
    last_seq: u64,
    buf: Vec<u8>,
}

struct Core {
    manifest: ManifestData,
    bg_error: Option<Error>,
    closing: bool,
    /// A compaction is running.
    compacting: bool,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    groups: AtomicU64,
    syncs: AtomicU64,
    wal_bytes: AtomicU64,
    flushes: AtomicU64,
    recovered: AtomicU64,
    flush_bytes: AtomicU64,
    compactions: AtomicU64,
    compaction_read: AtomicU64,
    compaction_written: AtomicU64,
    slowdowns: AtomicU64,
    stalls: AtomicU64,
    bloom_checked: AtomicU64,
    bloom_useful: AtomicU64,
}

pub(crate) struct Inner {
    dir: PathBuf,
    opts: Options,
    sv: ArcSwap<SuperVersion>,
    visible_seq: AtomicU64,
    queue: Mutex<CommitQueue>,
    queue_cv: Condvar,
    wal: Mutex<WalState>,
    core: Mutex<Core>,
    core_cv: Condvar,
    snapshots: Mutex<BTreeMap<u64, usize>>,
    counters: Counters,
    cache: Option<Arc<BlockCache>>,
    tables: Arc<TableCache>,
    /// Mirrors `Core::closing` for cheap checks inside a compaction.
    closing: AtomicBool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// An embedded LSM-tree key-value store.
///
/// Thread-safe: share it (`Arc<Db>` or `&Db` across scoped threads) and
/// call any method from any thread.
///
/// # Examples
/// ```
/// use lsm::{Db, Options, WriteBatch};
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// db.put(b"user:1", b"ada").unwrap();
/// let mut b = WriteBatch::new();
/// b.put(b"user:2", b"grace").delete(b"user:1");
/// db.write(b).unwrap();
/// assert_eq!(db.get(b"user:1").unwrap(), None);
/// let keys: Vec<_> = db.prefix(b"user:").map(|r| r.unwrap().0).collect();
/// assert_eq!(keys, vec![bytes::Bytes::from("user:2")]);
/// db.close().unwrap();
/// ```
#[derive(Debug)]
pub struct Db {
    inner: Arc<Inner>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    compactor: Mutex<Option<JoinHandle<()>>>,
    /// The `LOCK` file's lock, released when the `Db` is dropped.
    _lock: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// A consistent read view: reads see exactly the writes published before
/// it was taken.
#[derive(Debug)]
pub struct Snapshot {
    inner: Arc<Inner>,
    seq: u64,
}

fn file_name(number: u64, ext: &str) -> String {
    format!("{number:06}.{ext}")
}

fn parse_name(name: &str) -> Option<(u64, &str)> {
    let (n, ext) = name.split_once('.')?;
    if n.len() < 6 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((n.parse().ok()?, ext))
}

impl Db {
    /// Opens (creating if needed) the database in `dir`: reads the
    /// manifest, opens the live tables, replays the WAL files and removes
    /// files no version references.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::Corruption`] naming file and offset for a
    /// damaged manifest, table or WAL record (see [`WalRecovery`]);
    /// [`Error::BadMagic`] / [`Error::UnsupportedVersion`] for files of
    /// another engine or version; [`Error::InvalidArgument`] for bad
    /// options.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        let dir = dir.as_ref().to_path_buf();
        if opts.memtable_bytes < 4096 || opts.max_frozen_memtables == 0 {
            return Err(Error::InvalidArgument(
                "memtable_bytes must be >= 4096 and max_frozen_memtables >= 1".into(),
            ));
        }
        if !(2..=64).contains(&opts.num_levels)
            || opts.l0_compaction_trigger == 0
            || opts.l0_slowdown_trigger < opts.l0_compaction_trigger
            || opts.l0_stop_trigger <= opts.l0_slowdown_trigger
            || opts.level_size_ratio < 2
            || opts.level1_bytes == 0
            || opts.target_table_bytes == 0
        {
            return Err(Error::InvalidArgument(
                "need 2..=64 levels, 0 < l0 compaction trigger <= slowdown trigger < stop trigger, \
                 level size ratio >= 2, nonzero level and table sizes"
                    .into(),
            ));
        }
        let cache =
            (opts.block_cache_bytes > 0).then(|| Arc::new(BlockCache::new(opts.block_cache_bytes)));
        let tables = Arc::new(TableCache::new(
            opts.fs.clone(),
            cache.clone(),
            opts.max_open_tables,
        ));
        let fs = opts.fs.clone();
        fs.create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock = fs.lock(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        let names = fs.list(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut md = match manifest::read(&*fs, &dir)? {
            Some(m) => m,
            None => {
                if names.iter().any(|n| parse_name(n).is_some()) {
                    return Err(Error::corruption(
                        dir.join(MANIFEST),
                        0,
                        "manifest missing but data files present",
                    ));
                }
                let m = ManifestData {
                    next_file: 1,
                    log_number: 0,
                    last_seq: 0,
                    levels: vec![Vec::new()],
                };
                manifest::write(&*fs, &dir, &m)?;
                m
            }
        };
        if md.levels.len() > opts.num_levels {
            if md.levels[opts.num_levels..].iter().any(|l| !l.is_empty()) {
                return Err(Error::InvalidArgument(format!(
                    "the database has tables in level {} or deeper; open it with num_levels >= {}",
                    opts.num_levels,
                    md.levels.len()
                )));
            }
            md.levels.truncate(opts.num_levels);
        }
        while md.levels.len() < opts.num_levels {
            md.levels.push(Vec::new());
        }
        let mut wals = Vec::new();
        for n in &names {
            if let Some((num, ext)) = parse_name(n) {
                md.next_file = md.next_file.max(num + 1);
                if ext == "wal" && num >= md.log_number {
                    wals.push(num);
                }
            }
        }
        wals.sort_unstable();
        let mut levels = Vec::new();
        for level in &md.levels {
            let mut ts = Vec::new();
            for t in level {
                // Opened once to verify it; kept open up to the bound.
                let p = dir.join(file_name(t.number, "sst"));
                let table = tables.open_uncached(&p, t.number)?;
                ts.push(Arc::new(TableHandle::of(&table, tables.fs())));
                tables.insert(table);
            }
            levels.push(ts);
        }
        let first_wal = wals.first().copied().unwrap_or(md.next_file);
        let sv = SuperVersion {
            mem: Arc::new(Memtable::new(first_wal)),
            imms: Vec::new(),
            levels,
            tables: tables.clone(),
        };
        let inner = Arc::new(Inner {
            wal: Mutex::new(WalState {
                // Placeholder replaced below, once replay is done.
                writer: WalWriter::new(Box::new(NullFile), PathBuf::new(), 0)?,
                last_seq: md.last_seq,
                buf: Vec::new(),
            }),
            dir: dir.clone(),
            sv: ArcSwap::from_pointee(sv),
            visible_seq: AtomicU64::new(md.last_seq),
            queue: Mutex::new(CommitQueue::default()),
            queue_cv: Condvar::new(),
            core: Mutex::new(Core {
                manifest: md,
                bg_error: None,
                closing: false,
                compacting: false,
            }),
            core_cv: Condvar::new(),
            snapshots: Mutex::new(BTreeMap::new()),
            counters: Counters::default(),
            cache,
            tables,
            closing: AtomicBool::new(false),
            opts,
        });
        inner.recover(&wals)?;
        inner.remove_obsolete_files()?;
        let flusher = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("lsm-flush".into())
                .spawn(move || inner.flush_loop())
                .map_err(|e| Error::io(&dir, e))?
        };
        let compactor = if inner.opts.auto_compaction {
            let inner = inner.clone();
            Some(
                std::thread::Builder::new()
                    .name("lsm-compact".into())
                    .spawn(move || inner.compaction_loop())
                    .map_err(|e| Error::io(&dir, e))?,
            )
        } else {
            None
        };
        Ok(Db {
            inner,
            flusher: Mutex::new(Some(flusher)),
            compactor: Mutex::new(compactor),
            _lock: lock,
        })
    }

    /// The value of `key`, if present. A value read from a table is a slice
    /// of the block buffer.
    ///
    /// # Errors
    /// [`Error::Corruption`] or [`Error::Io`] from reading a table.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        // The super version first, then the sequence number: a compaction
        // publishes its tables only after reading the sequence number its
        // version dropping is based on, so this read sees them whole.
        let sv = self.inner.sv.load_full();
        let seq = self.inner.visible_seq.load(AtOrd::Acquire);
        self.inner.get_in(&sv, key.as_ref(), seq)
    }

    /// Sets `key` to `value` with [`Options::durability`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a key over 64 KiB or a value over
    /// 64 MiB; [`Error::Io`]; [`Error::Closed`] after a background error.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put(key, value);
        self.write(b)
    }

    /// Deletes `key` with [`Options::durability`].
    ///
    /// # Errors
    /// As [`Db::put`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete(key);
        self.write(b)
    }

    /// Applies `batch` atomically with [`Options::durability`].
    ///
    /// # Errors
    /// As [`Db::put`].
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.write_with(batch, self.inner.opts.durability)
    }

    /// Applies `batch` atomically with the given durability.
    ///
    /// # Errors
    /// As [`Db::put`].
    pub fn write_with(&self, batch: WriteBatch, durability: Durability) -> Result<()> {
        self.inner.commit(batch, durability).map(|_| ())
    }

    /// A consistent read view at the current sequence number.
    pub fn snapshot(&self) -> Snapshot {
        // Read the sequence number under the lock a compaction takes to
        // list the snapshots, so none is missed.
        let mut snaps = self.inner.snapshots.lock();
        let seq = self.inner.visible_seq.load(AtOrd::Acquire);
        *snaps.entry(seq).or_insert(0) += 1;
        drop(snaps);
        Snapshot {
            inner: self.inner.clone(),
            seq,
        }
    }

    /// All keys in order (or reverse order with `.rev()`).
    pub fn iter(&self) -> Iter {
        self.range::<&[u8], _>(..)
    }

    /// The keys in `range`, forwards and backwards.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        let sv = self.inner.sv.load_full();
        let seq = self.inner.visible_seq.load(AtOrd::Acquire);
        Iter::new(
            sv,
            seq,
            own_bound(range.start_bound()),
            own_bound(range.end_bound()),
        )
    }

    /// The keys starting with `prefix`, forwards and backwards.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        let sv = self.inner.sv.load_full();
        let seq = self.inner.visible_seq.load(AtOrd::Acquire);
        prefix_iter(sv, seq, prefix.as_ref())
    }

    /// Flushes the memtable, then compacts every table into the deepest
    /// level that holds data (at least L1), so that overwritten versions
    /// and tombstones no open snapshot needs take no more space (RocksDB's
    /// `CompactRange` over all keys). Blocks until done; the background
    /// compaction waits meanwhile. Reads and writes go on.
    ///
    /// # Errors
    /// I/O errors, a background error, or [`Error::Closed`].
    pub fn compact_all(&self) -> Result<()> {
        self.flush()?;
        self.inner.compact_all()
    }

    /// Freezes the memtable and waits until every frozen memtable is in a
    /// table (after which the WAL files they needed are deleted).
    ///
    /// # Errors
    /// The background flush's error.
    pub fn flush(&self) -> Result<()> {
        {
            let mut wal = self.inner.wal.lock();
            if !self.inner.sv.load().mem.is_empty() {
                self.inner.freeze(&mut wal)?;
            }
        }
        let mut core = self.inner.core.lock();
        loop {
            if let Some(e) = &core.bg_error {
                return Err(e.clone());
            }
            if self.inner.sv.load().imms.is_empty() {
                return Ok(());
            }
            self.inner.core_cv.wait(&mut core);
        }
    }

    /// Flushes the memtables, then waits until the background compaction
    /// has nothing left to do (returns at once without auto compaction).
    ///
    /// # Errors
    /// A background error; [`Error::Closed`] if the database closes.
    pub fn wait_for_compactions(&self) -> Result<()> {
        self.flush()?;
        if !self.inner.opts.auto_compaction {
            return Ok(());
        }
        self.inner.wait_compactions_settled()
    }

    /// Counters and sizes.
    pub fn stats(&self) -> Stats {
        let sv = self.inner.sv.load();
        let c = &self.inner.counters;
        Stats {
            last_seq: self.inner.visible_seq.load(AtOrd::Acquire),
            memtable_bytes: sv.mem.approximate_bytes() as u64,
            frozen_memtables: sv.imms.len() as u64,
            tables_per_level: sv.levels.iter().map(|l| l.len() as u64).collect(),
            bytes_per_level: sv
                .levels
                .iter()
                .map(|l| l.iter().map(|t| t.size()).sum())
                .collect(),
            table_bytes: sv.levels.iter().flatten().map(|t| t.size()).sum(),
            batches: c.batches.load(AtOrd::Relaxed),
            commit_groups: c.groups.load(AtOrd::Relaxed),
            wal_syncs: c.syncs.load(AtOrd::Relaxed),
            wal_bytes: c.wal_bytes.load(AtOrd::Relaxed),
            flushes: c.flushes.load(AtOrd::Relaxed),
            recovered_records: c.recovered.load(AtOrd::Relaxed),
            flush_bytes: c.flush_bytes.load(AtOrd::Relaxed),
            compactions: c.compactions.load(AtOrd::Relaxed),
            compaction_bytes_read: c.compaction_read.load(AtOrd::Relaxed),
            compaction_bytes_written: c.compaction_written.load(AtOrd::Relaxed),
            write_slowdowns: c.slowdowns.load(AtOrd::Relaxed),
            write_stalls: c.stalls.load(AtOrd::Relaxed),
            block_cache_hits: self.inner.cache.as_ref().map_or(0, |c| c.hits()),
            block_cache_misses: self.inner.cache.as_ref().map_or(0, |c| c.misses()),
            open_tables: self.inner.tables.len() as u64,
            table_opens: self.inner.tables.opens(),
            bloom_checked: c.bloom_checked.load(AtOrd::Relaxed),
            bloom_useful: c.bloom_useful.load(AtOrd::Relaxed),
        }
    }

    /// Stops the background thread after it flushed the frozen memtables,
    /// and fsyncs the WAL. Dropping a `Db` does the same, ignoring errors.
    ///
    /// # Errors
    /// A background error or the final fsync's error.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<()> {
        {
            let mut core = self.inner.core.lock();
            core.closing = true;
            self.inner.closing.store(true, AtOrd::Release);
            self.inner.core_cv.notify_all();
        }
        if let Some(h) = self.flusher.lock().take() {
            let _ = h.join();
        }
        if let Some(h) = self.compactor.lock().take() {
            let _ = h.join();
        }
        let r = self.inner.wal.lock().writer.sync();
        if let Some(e) = self.inner.core.lock().bg_error.clone() {
            return Err(e);
        }
        r
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl Snapshot {
    /// The sequence number this view reads at.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The value of `key` in this view.
    ///
    /// # Errors
    /// As [`Db::get`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.inner.get_at(key.as_ref(), self.seq)
    }

    /// All keys of this view.
    pub fn iter(&self) -> Iter {
        self.range::<&[u8], _>(..)
    }

    /// The keys of this view in `range`.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        self.inner.range_at(self.seq, &range)
    }

    /// The keys of this view starting with `prefix`.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        self.inner.prefix_at(self.seq, prefix.as_ref())
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let mut s = self.inner.snapshots.lock();
        if let Some(c) = s.get_mut(&self.seq) {
            *c -= 1;
            if *c == 0 {
                s.remove(&self.seq);
            }
        }
    }
}

fn own_bound<K: AsRef<[u8]>>(b: Bound<&K>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn prefix_iter(sv: Arc<SuperVersion>, seq: u64, p: &[u8]) -> Iter {
    let hi = match prefix_successor(p) {
        Some(s) => Bound::Excluded(s),
        None => Bound::Unbounded,
    };
    Iter::new(sv, seq, Bound::Included(p.to_vec()), hi)
}

/// A file that discards everything (the WAL placeholder during open).
#[derive(Debug)]
struct NullFile;

impl crate::fs::WritableFile for NullFile {
    fn append(&mut self, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Inner {
    fn fs(&self) -> &dyn FileSystem {
        &*self.opts.fs
    }

    fn get_at(&self, key: &[u8], seq: u64) -> Result<Option<Bytes>> {
        let sv = self.sv.load_full();
        self.get_in(&sv, key, seq)
    }

    /// Checks a table's bloom filter, counting the answer.
    fn table_get(&self, t: &Table, key: &[u8], seq: u64) -> Result<Option<Lookup>> {
        let c = &self.counters;
        c.bloom_checked.fetch_add(1, AtOrd::Relaxed);
        if !t.may_contain(key) {
            c.bloom_useful.fetch_add(1, AtOrd::Relaxed);
            return Ok(None);
        }
        t.get_unfiltered(key, seq)
    }

    fn get_in(&self, sv: &SuperVersion, key: &[u8], seq: u64) -> Result<Option<Bytes>> {
        let found = |l: Lookup| match l {
            Lookup::Value(v) => Some(v),
            Lookup::Deleted => None,
        };
        if let Some(l) = sv.mem.get(key, seq) {
            return Ok(found(l));
        }
        for m in &sv.imms {
            if let Some(l) = m.get(key, seq) {
                return Ok(found(l));
            }
        }
        for h in &sv.levels[0] {
            if h.smallest_user_key() <= key && key <= h.largest_user_key() {
                if let Some(l) = self.table_get(&*sv.tables.get(h)?, key, seq)? {
                    return Ok(found(l));
                }
            }
        }
        // Deeper levels: sorted, disjoint tables; at most one can hold it.
        for level in &sv.levels[1..] {
            let i = level.partition_point(|h| h.largest_user_key() < key);
            if let Some(h) = level.get(i).filter(|h| h.smallest_user_key() <= key) {
                if let Some(l) = self.table_get(&*sv.tables.get(h)?, key, seq)? {
                    return Ok(found(l));
                }
            }
        }
        Ok(None)
    }

    fn range_at<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, seq: u64, r: &R) -> Iter {
        Iter::new(
            self.sv.load_full(),
            seq,
            own_bound(r.start_bound()),
            own_bound(r.end_bound()),
        )
    }

    fn prefix_at(&self, seq: u64, p: &[u8]) -> Iter {
        prefix_iter(self.sv.load_full(), seq, p)
    }

    /// The commit queue: the first writer to find no leader becomes the
    /// leader and commits a group from the front of the queue.
    fn commit(&self, batch: WriteBatch, durability: Durability) -> Result<u64> {
        if batch.is_empty() {
            return Ok(self.visible_seq.load(AtOrd::Acquire));
        }
        batch.validate()?;
        let payload = batch.encode();
        if payload.len() > crate::wal::MAX_RECORD_LEN {
            return Err(Error::InvalidArgument("batch larger than 1 GiB".into()));
        }
        let mut q = self.queue.lock();
        let id = q.next_id;
        q.next_id += 1;
        q.pending.push_back(Pending {
            id,
            batch,
            payload,
            durability,
        });
        loop {
            if let Some(r) = q.done.remove(&id) {
                return r;
            }
            if !q.leader {
                q.leader = true;
                let mut group = Vec::new();
                let mut bytes = 0usize;
                while let Some(front) = q.pending.front() {
                    let solo = front.durability == Durability::Sync;
                    if !group.is_empty() && (solo || bytes > 4 << 20) {
                        break;
                    }
                    bytes += front.payload.len();
                    group.push(q.pending.pop_front().expect("front exists"));
                    if solo {
                        break;
                    }
                }
                drop(q);
                let results = self.commit_group(&group);
                q = self.queue.lock();
                for (p, r) in group.iter().zip(results) {
                    q.done.insert(p.id, r);
                }
                q.leader = false;
                self.queue_cv.notify_all();
                continue;
            }
            self.queue_cv.wait(&mut q);
        }
    }

    fn commit_group(&self, group: &[Pending]) -> Vec<Result<u64>> {
        let mut wal = self.wal.lock();
        match self.commit_group_locked(&mut wal, group) {
            Ok(seqs) => seqs.into_iter().map(Ok).collect(),
            Err(e) => group.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn commit_group_locked(&self, wal: &mut WalState, group: &[Pending]) -> Result<Vec<u64>> {
        {
            let core = self.core.lock();
            if let Some(e) = &core.bg_error {
                return Err(e.clone());
            }
            if core.closing {
                return Err(Error::Closed);
            }
        }
        if self.sv.load().mem.approximate_bytes() >= self.opts.memtable_bytes {
            self.freeze(wal)?;
        }
        self.throttle()?;
        let mut buf = std::mem::take(&mut wal.buf);
        buf.clear();
        let mut seq = wal.last_seq;
        let mut firsts = Vec::with_capacity(group.len());
        for p in group {
            firsts.push(seq + 1);
            encode_record(&mut buf, seq + 1, &p.payload);
            seq += p.batch.len() as u64;
        }
        if seq > MAX_SEQ {
            return Err(Error::InvalidArgument("sequence numbers exhausted".into()));
        }
        let sync = group.iter().any(|p| p.durability != Durability::Buffered);
        let r = wal.writer.append(&buf).and_then(|()| {
            if sync {
                self.counters.syncs.fetch_add(1, AtOrd::Relaxed);
                wal.writer.sync()
            } else {
                Ok(())
            }
        });
        self.counters
            .wal_bytes
            .fetch_add(buf.len() as u64, AtOrd::Relaxed);
        wal.buf = buf;
        if let Err(e) = r {
            // The WAL's state is unknown: stop accepting writes.
            self.core.lock().bg_error = Some(e.clone());
            return Err(e);
        }
        let mem = self.sv.load().mem.clone();
        for (p, first) in group.iter().zip(&firsts) {
            for (i, e) in p.batch.rec.entries.iter().enumerate() {
                let kind = Kind::from_u8(e.kind).unwrap_or(Kind::Put);
                mem.insert(&e.key, first + i as u64, kind, &e.value);
            }
        }
        wal.last_seq = seq;
        self.visible_seq.store(seq, AtOrd::Release);
        self.counters
            .batches
            .fetch_add(group.len() as u64, AtOrd::Relaxed);
        self.counters.groups.fetch_add(1, AtOrd::Relaxed);
        Ok(firsts)
    }

    /// Slows writes while L0 holds many files and stops them while it
    /// holds too many (RocksDB's write stalls), so compaction keeps up.
    fn throttle(&self) -> Result<()> {
        if !self.opts.auto_compaction {
            return Ok(());
        }
        let l0 = || self.sv.load().levels[0].len();
        if l0() >= self.opts.l0_stop_trigger {
            self.counters.stalls.fetch_add(1, AtOrd::Relaxed);
            let mut core = self.core.lock();
            while l0() >= self.opts.l0_stop_trigger {
                if let Some(e) = &core.bg_error {
                    return Err(e.clone());
                }
                if core.closing {
                    return Err(Error::Closed);
                }
                self.core_cv.wait(&mut core);
            }
        } else if l0() >= self.opts.l0_slowdown_trigger {
            self.counters.slowdowns.fetch_add(1, AtOrd::Relaxed);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(())
    }

    /// Freezes the active memtable and switches to a new WAL file; stalls
    /// while too many frozen memtables wait for flush. Caller holds the
    /// WAL lock.
    fn freeze(&self, wal: &mut WalState) -> Result<()> {
        let mut core = self.core.lock();
        loop {
            if let Some(e) = &core.bg_error {
                return Err(e.clone());
            }
            if self.sv.load().imms.len() < self.opts.max_frozen_memtables || core.closing {
                break;
            }
            self.core_cv.wait(&mut core);
        }
        // Older WAL files must be durable before a newer one can be
        // (recovered contents stay a prefix of the history).
        wal.writer.sync()?;
        let number = core.manifest.next_file;
        core.manifest.next_file += 1;
        let path = self.dir.join(file_name(number, "wal"));
        let f = self.fs().create(&path).map_err(|e| Error::io(&path, e))?;
        let writer = WalWriter::new(f, path, number)?;
        self.fs()
            .sync_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?;
        wal.writer = writer;
        let cur = self.sv.load_full();
        let mut imms = Vec::with_capacity(cur.imms.len() + 1);
        imms.push(cur.mem.clone());
        imms.extend(cur.imms.iter().cloned());
        self.sv.store(Arc::new(SuperVersion {
            mem: Arc::new(Memtable::new(number)),
            imms,
            levels: cur.levels.clone(),
            tables: cur.tables.clone(),
        }));
        self.core_cv.notify_all();
        Ok(())
    }

    fn flush_loop(self: Arc<Self>) {
        loop {
            let imm = {
                let mut core = self.core.lock();
                loop {
                    if core.bg_error.is_some() {
                        return;
                    }
                    if let Some(m) = self.sv.load().imms.last() {
                        break m.clone();
                    }
                    if core.closing {
                        return;
                    }
                    self.core_cv.wait(&mut core);
                }
            };
            let r = self.flush_memtable(&imm, None);
            let mut core = self.core.lock();
            if let Err(e) = r {
                core.bg_error = Some(e);
            }
            self.core_cv.notify_all();
        }
    }

    /// Writes `mem` to a new table, then records it in the manifest.
    /// Without `recovery_log`, `mem` is the oldest frozen memtable and is
    /// removed from the super version; with it, `mem` is the active
    /// memtable during recovery and the manifest's log number becomes
    /// `recovery_log` (the caller replaces the memtable).
    fn flush_memtable(&self, mem: &Arc<Memtable>, recovery_log: Option<u64>) -> Result<()> {
        let frozen = recovery_log.is_none();
        let number = {
            let mut core = self.core.lock();
            core.manifest.next_file += 1;
            core.manifest.next_file - 1
        };
        let path = self.dir.join(file_name(number, "sst"));
        let file = self.fs().create(&path).map_err(|e| Error::io(&path, e))?;
        let mut b = TableBuilder::new(
            file,
            path.clone(),
            self.opts.block_size,
            self.opts.compression,
        )?;
        mem.for_each(|k, v| b.add_internal(k, v))?;
        let (props, size) = b.finish()?;
        self.fs()
            .sync_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?;
        let table = self.tables.open_uncached(&path, number)?;
        let handle = Arc::new(TableHandle::of(&table, self.opts.fs.clone()));
        self.tables.insert(table);
        self.counters.flush_bytes.fetch_add(size, AtOrd::Relaxed);
        let meta = TableMeta {
            number,
            size,
            smallest: props.smallest,
            largest: props.largest,
            min_seq: props.min_seq,
            max_seq: props.max_seq,
            num_entries: props.num_entries,
        };
        let mut core = self.core.lock();
        let cur = self.sv.load_full();
        let next_wal = if frozen {
            let n = cur.imms.len();
            debug_assert!(n > 0 && Arc::ptr_eq(&cur.imms[n - 1], mem));
            if n >= 2 {
                cur.imms[n - 2].first_wal
            } else {
                cur.mem.first_wal
            }
        } else {
            recovery_log.unwrap_or(0)
        };
        let mut md = core.manifest.clone();
        md.levels[0].insert(0, meta);
        md.log_number = md.log_number.max(next_wal);
        md.last_seq = md.last_seq.max(mem.max_seq());
        manifest::write(self.fs(), &self.dir, &md)?;
        let old_log = core.manifest.log_number;
        core.manifest = md;
        let mut levels = cur.levels.clone();
        levels[0].insert(0, handle);
        let imms = if frozen {
            cur.imms[..cur.imms.len() - 1].to_vec()
        } else {
            cur.imms.clone()
        };
        self.sv.store(Arc::new(SuperVersion {
            mem: cur.mem.clone(),
            imms,
            levels,
            tables: cur.tables.clone(),
        }));
        let new_log = core.manifest.log_number;
        drop(core);
        self.counters.flushes.fetch_add(1, AtOrd::Relaxed);
        for n in old_log..new_log {
            let p = self.dir.join(file_name(n, "wal"));
            if self.fs().exists(&p) {
                let _ = self.fs().remove(&p);
            }
        }
        Ok(())
    }

    /// Replays WAL files `wals` (ascending) into the memtable, then opens
    /// a new WAL file for writes.
    fn recover(&self, wals: &[u64]) -> Result<()> {
        let mut last_seq = self.core.lock().manifest.last_seq;
        let mut salvaged = false;
        for (i, &num) in wals.iter().enumerate() {
            let path = self.dir.join(file_name(num, "wal"));
            let buf = self
                .fs()
                .read_all_aligned(&path)
                .map_err(|e| Error::io(&path, e))?;
            let mem = self.sv.load().mem.clone();
            match self.replay_file(&buf, &path, &mem, &mut last_seq) {
                Ok(()) => {}
                Err(Error::Corruption { .. })
                    if self.opts.wal_recovery == WalRecovery::SalvagePrefix =>
                {
                    salvaged = true;
                    break;
                }
                Err(e) => return Err(e),
            }
            if mem.approximate_bytes() >= self.opts.memtable_bytes {
                if let Some(&next) = wals.get(i + 1) {
                    self.flush_memtable(&mem, Some(next))?;
                    self.replace_mem(next);
                }
            }
        }
        self.visible_seq.store(last_seq, AtOrd::Release);
        let mut wal = self.wal.lock();
        wal.last_seq = last_seq;
        let number = {
            let mut core = self.core.lock();
            core.manifest.next_file += 1;
            core.manifest.next_file - 1
        };
        if salvaged {
            // Make the loss final: what was kept goes to a table and the
            // log number moves past every replayed WAL file.
            let mem = self.sv.load().mem.clone();
            if mem.is_empty() {
                let mut core = self.core.lock();
                let mut md = core.manifest.clone();
                md.log_number = number;
                manifest::write(self.fs(), &self.dir, &md)?;
                core.manifest = md;
            } else {
                self.flush_memtable(&mem, Some(number))?;
            }
            self.replace_mem(number);
        }
        let path = self.dir.join(file_name(number, "wal"));
        let f = self.fs().create(&path).map_err(|e| Error::io(&path, e))?;
        wal.writer = WalWriter::new(f, path, number)?;
        self.fs()
            .sync_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?;
        if self.sv.load().mem.is_empty() {
            self.replace_mem(number);
        }
        Ok(())
    }

    fn replace_mem(&self, first_wal: u64) {
        let cur = self.sv.load_full();
        self.sv.store(Arc::new(SuperVersion {
            mem: Arc::new(Memtable::new(first_wal)),
            imms: cur.imms.clone(),
            levels: cur.levels.clone(),
            tables: cur.tables.clone(),
        }));
    }

    fn replay_file(
        &self,
        buf: &[u8],
        path: &Path,
        mem: &Memtable,
        last_seq: &mut u64,
    ) -> Result<()> {
        let mut r = RecordReader::new(buf, path)?;
        while let Some(rec) = r.next_record()? {
            let batch = if self.opts.verify_wal_archives {
                rec.batch_checked(path)?
            } else {
                rec.batch_trusted()
            };
            let n = batch.entries.len() as u64;
            let last = rec.first_seq.checked_add(n.saturating_sub(1));
            if last.is_none_or(|l| l > MAX_SEQ) {
                return Err(Error::corruption(path, rec.offset, "sequence out of range"));
            }
            for (i, e) in batch.entries.iter().enumerate() {
                let Some(kind) = Kind::from_u8(e.kind) else {
                    return Err(Error::corruption(path, rec.offset, "unknown entry kind"));
                };
                mem.insert(
                    e.key.as_slice(),
                    rec.first_seq + i as u64,
                    kind,
                    e.value.as_slice(),
                );
            }
            *last_seq = (*last_seq).max(rec.first_seq + n - 1);
            self.counters.recovered.fetch_add(1, AtOrd::Relaxed);
        }
        Ok(())
    }

    /// Removes tables the manifest does not list, WAL files older than the
    /// manifest's log number, and a leftover temporary manifest.
    fn remove_obsolete_files(&self) -> Result<()> {
        let current_wal = self.wal.lock().writer.number;
        let core = self.core.lock();
        let live: std::collections::HashSet<u64> = core
            .manifest
            .levels
            .iter()
            .flatten()
            .map(|t| t.number)
            .collect();
        let names = self
            .fs()
            .list(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?;
        for n in names {
            let obsolete = match parse_name(&n) {
                Some((num, "sst")) => !live.contains(&num),
                Some((num, "wal")) => num < core.manifest.log_number && num != current_wal,
                _ => n == MANIFEST_TMP,
            };
            if obsolete {
                let p = self.dir.join(&n);
                self.fs().remove(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
        Ok(())
    }
}
