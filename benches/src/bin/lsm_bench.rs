//! `lsm_bench`: the workloads of issue 6 on our `lsm` engine, fjall 3.1 and
//! redb 4.5 in one run, printed as a Markdown table (`cargo xtask bench
//! lsm`, or `cargo run --release -p benches --bin lsm_bench -- --help`).
//!
//! The workloads follow redb's published benchmark
//! (`crates/redb-bench/benches/lmdb_benchmark.rs` in the redb repository),
//! at the sizes of issue 6: random 24-byte keys and 150-byte values, a bulk
//! load in batches of 10,000 then one durable commit, individually fsynced
//! writes, fsynced batches of 1,000, random reads from 1 and 2 threads,
//! range scans of 10 keys, deletion of half the keys, on-disk size before
//! and after compaction and after close, and 8 concurrent writers that
//! each fsync single writes. Each engine gets a fresh temporary directory
//! (honoring `TMPDIR`) on the same disk. The disk's floor (a bare append
//! plus `fdatasync` per write, in a file next to the engine's) alternates
//! with the engine's individually fsynced writes, one each in turn, so
//! noise from other processes hits both alike.
//!
//! Keys and values are a pure function of an index (SplitMix64), so every
//! engine sees the same keys in the same order without the harness holding
//! them in memory; random reads draw indexes from a seeded PRNG.
//! Generating a write batch's pairs is not timed; generating a read's key
//! is (a few nanoseconds against microseconds per read).

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use redb::ReadableDatabase as _;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(
    name = "lsm_bench",
    about = "Issue 6 workloads on lsm, fjall and redb in one run; prints a Markdown table"
)]
struct Args {
    /// Multiplies every workload's size (1.0 = the issue's sizes: 2M pairs,
    /// 1M reads, ...).
    #[arg(long, default_value_t = 1.0, conflicts_with = "quick")]
    scale: f64,
    /// Same as `--scale 0.05`, to check the harness end to end.
    #[arg(long)]
    quick: bool,
    /// Also write the Markdown report to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Engines to run, in this order.
    #[arg(long, value_delimiter = ',', default_value = "ours,fjall,redb")]
    engines: Vec<EngineKind>,
    /// Seed of the key order and of the random reads.
    #[arg(long, default_value_t = 0x6c73_6d62)]
    seed: u64,
}

/// The engines compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum EngineKind {
    /// Our `lsm` crate with `Options::default()`.
    Ours,
    /// fjall 3.1 with a 1 GiB cache.
    Fjall,
    /// redb 4.5 with its default cache.
    Redb,
}

impl EngineKind {
    const ALL: [EngineKind; 3] = [EngineKind::Ours, EngineKind::Fjall, EngineKind::Redb];

    fn name(self) -> &'static str {
        match self {
            EngineKind::Ours => "ours",
            EngineKind::Fjall => "fjall",
            EngineKind::Redb => "redb",
        }
    }

    fn idx(self) -> usize {
        self as usize
    }

    fn open(self, dir: &Path) -> Result<Box<dyn Engine>> {
        Ok(match self {
            EngineKind::Ours => Box::new(Ours::open(dir)?),
            EngineKind::Fjall => Box::new(Fjall::open(dir)?),
            EngineKind::Redb => Box::new(Redb::open(dir)?),
        })
    }
}

/// Key length, bytes.
const KEY_LEN: usize = 24;
/// Value length, bytes.
const VALUE_LEN: usize = 150;
/// Pairs per bulk-load and deletion batch.
const BULK_BATCH: usize = 10_000;
/// Pairs per fsynced batch.
const SYNC_BATCH: usize = 1_000;
/// Keys per range scan.
const SCAN_LEN: usize = 10;
/// Concurrent writers of the group-commit workload.
const WRITERS: usize = 8;

/// Workload sizes at a given scale.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// Pairs bulk-loaded (the issue: 2M).
    pairs: u64,
    /// Individually fsynced writes (1,000).
    single_writes: u64,
    /// Fsynced batches of [`SYNC_BATCH`] (100).
    sync_batches: u64,
    /// Random reads, in total over the threads (1M).
    reads: u64,
    /// Range scans of [`SCAN_LEN`] keys (200k).
    scans: u64,
    /// Fsynced single writes per concurrent writer (1,000; not in the
    /// issue, chosen so the serialized peers finish in seconds).
    writes_per_writer: u64,
}

impl Sizes {
    fn at(scale: f64) -> Sizes {
        let n = |full: f64, min: u64| ((full * scale).round() as u64).max(min);
        Sizes {
            pairs: n(2_000_000.0, 2 * BULK_BATCH as u64),
            single_writes: n(1_000.0, 20),
            sync_batches: n(100.0, 2),
            reads: n(1_000_000.0, 1_000),
            scans: n(200_000.0, 1_000),
            writes_per_writer: n(1_000.0, 20),
        }
    }
}

// ---------------------------------------------------------------------------
// Keys and values.

/// SplitMix64's output function (Steele, Lea, Flood, "Fast splittable
/// pseudorandom number generators", 2014).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The keys and values of one run: pair `i` is a pure function of `(seed,
/// i)`, so the key order is random but the same for every engine.
#[derive(Debug, Clone, Copy)]
struct Keys {
    seed: u64,
}

impl Keys {
    fn key(&self, i: u64) -> [u8; KEY_LEN] {
        let mut k = [0u8; KEY_LEN];
        let base = mix(self.seed ^ i.wrapping_mul(0x2545_f491_4f6c_dd1d));
        for (j, chunk) in k.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&mix(base.wrapping_add(j as u64)).to_be_bytes());
        }
        k
    }

    fn value(&self, i: u64) -> [u8; VALUE_LEN] {
        let mut v = [0u8; VALUE_LEN];
        let base = mix(!self.seed ^ i);
        for (j, chunk) in v.chunks_mut(8).enumerate() {
            let w = mix(base.wrapping_add(j as u64)).to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        v
    }
}

/// Pairs of one write batch, generated before the timer starts.
#[derive(Default)]
struct BatchBuf {
    keys: Vec<[u8; KEY_LEN]>,
    values: Vec<[u8; VALUE_LEN]>,
}

impl BatchBuf {
    fn fill(&mut self, keys: &Keys, ids: std::ops::Range<u64>, with_values: bool) {
        self.keys.clear();
        self.values.clear();
        for i in ids {
            self.keys.push(keys.key(i));
            if with_values {
                self.values.push(keys.value(i));
            }
        }
    }

    fn puts(&self) -> Vec<Op<'_>> {
        self.keys
            .iter()
            .zip(&self.values)
            .map(|(k, v)| Op::Put(k, v))
            .collect()
    }

    fn deletes(&self) -> Vec<Op<'_>> {
        self.keys.iter().map(|k| Op::Delete(k)).collect()
    }
}

// ---------------------------------------------------------------------------
// Engines.

/// One write of a batch.
#[derive(Debug, Clone, Copy)]
enum Op<'a> {
    Put(&'a [u8], &'a [u8]),
    Delete(&'a [u8]),
}

/// When a write returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fsync {
    /// Buffered: made durable by a later durable write.
    No,
    /// Fsynced before the write returns.
    Yes,
    /// Fsynced before the write returns, possibly in a group with
    /// concurrent writers (ours: `Durability::GroupCommit`; the peers have
    /// no such mode and fsync per write).
    Group,
}

/// What every engine offers the workloads.
trait Engine: Sync {
    /// Applies `ops` atomically.
    fn write(&self, ops: &[Op<'_>], sync: Fsync) -> Result<()>;
    /// A reader for one thread (redb: one read transaction).
    fn reader(&self) -> Result<Box<dyn Reader + '_>>;
    /// The engine's own major compaction; `Ok(false)` if it has none.
    fn compact(&mut self) -> Result<bool>;
    /// Engine counters worth a note, if any.
    fn note(&self) -> Option<String> {
        None
    }
    /// Closes the engine, releasing its files.
    fn close(self: Box<Self>) -> Result<()>;
}

/// Reads of one thread.
trait Reader {
    /// The length of `key`'s value, if present.
    fn get(&mut self, key: &[u8]) -> Result<Option<usize>>;
    /// Reads up to `n` pairs from `start` on; returns (pairs, bytes).
    fn scan(&mut self, start: &[u8], n: usize) -> Result<(usize, usize)>;
}

/// Our engine with `Options::default()`.
struct Ours {
    db: lsm::Db,
}

impl Ours {
    fn open(dir: &Path) -> Result<Ours> {
        Ok(Ours {
            db: lsm::Db::open(dir, lsm::Options::default())?,
        })
    }
}

impl Engine for Ours {
    fn write(&self, ops: &[Op<'_>], sync: Fsync) -> Result<()> {
        let mut b = lsm::WriteBatch::new();
        for op in ops {
            match *op {
                Op::Put(k, v) => b.put(k, v),
                Op::Delete(k) => b.delete(k),
            };
        }
        let d = match sync {
            Fsync::No => lsm::Durability::Buffered,
            Fsync::Yes => lsm::Durability::Sync,
            Fsync::Group => lsm::Durability::GroupCommit,
        };
        Ok(self.db.write_with(b, d)?)
    }

    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        Ok(Box::new(OursReader(&self.db)))
    }

    fn compact(&mut self) -> Result<bool> {
        // Flush the memtable, then compact every table into the bottommost
        // level (as fjall's major compaction and redb's compact do).
        self.db.compact_all()?;
        Ok(true)
    }

    fn note(&self) -> Option<String> {
        let s = self.db.stats();
        Some(format!(
            "{} batches in {} commit groups, {} WAL fsyncs, {} flushes, {} compactions, \
             write amplification {:.1}, tables per level {:?}, block cache hit rate {:.2}, \
             bloom useful rate {:.2}",
            s.batches,
            s.commit_groups,
            s.wal_syncs,
            s.flushes,
            s.compactions,
            s.write_amplification(),
            s.tables_per_level,
            s.block_cache_hit_rate(),
            s.bloom_useful_rate()
        ))
    }

    fn close(self: Box<Self>) -> Result<()> {
        Ok(self.db.close()?)
    }
}

struct OursReader<'a>(&'a lsm::Db);

impl Reader for OursReader<'_> {
    fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.0.get(key)?.map(|v| v.len()))
    }

    fn scan(&mut self, start: &[u8], n: usize) -> Result<(usize, usize)> {
        let (mut count, mut bytes) = (0, 0);
        for r in self.0.range(start..).take(n) {
            let (k, v) = r?;
            count += 1;
            bytes += k.len() + v.len();
        }
        Ok((count, bytes))
    }
}

/// fjall with a 1 GiB cache (as issue 6 measured it) and one keyspace.
struct Fjall {
    db: fjall::Database,
    ks: fjall::Keyspace,
}

impl Fjall {
    fn open(dir: &Path) -> Result<Fjall> {
        let db = fjall::Database::builder(dir).cache_size(1 << 30).open()?;
        let ks = db.keyspace("bench", fjall::KeyspaceCreateOptions::default)?;
        Ok(Fjall { db, ks })
    }
}

impl Engine for Fjall {
    fn write(&self, ops: &[Op<'_>], sync: Fsync) -> Result<()> {
        let mode = match sync {
            Fsync::No => None,
            Fsync::Yes | Fsync::Group => Some(fjall::PersistMode::SyncAll),
        };
        let mut b = self.db.batch().durability(mode);
        for op in ops {
            match *op {
                Op::Put(k, v) => b.insert(&self.ks, k, v),
                Op::Delete(k) => b.remove(&self.ks, k),
            }
        }
        Ok(b.commit()?)
    }

    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        Ok(Box::new(FjallReader(&self.ks)))
    }

    fn compact(&mut self) -> Result<bool> {
        // Major compaction only merges tables: flush the memtable first,
        // as ours does.
        self.ks.rotate_memtable_and_wait()?;
        self.ks.major_compact()?;
        Ok(true)
    }

    fn note(&self) -> Option<String> {
        Some(format!(
            "{} tables, {} compactions completed",
            self.ks.table_count(),
            self.db.compactions_completed()
        ))
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.persist(fjall::PersistMode::SyncAll)?;
        drop(self);
        Ok(())
    }
}

struct FjallReader<'a>(&'a fjall::Keyspace);

impl Reader for FjallReader<'_> {
    fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.0.get(key)?.map(|v| v.len()))
    }

    fn scan(&mut self, start: &[u8], n: usize) -> Result<(usize, usize)> {
        let (mut count, mut bytes) = (0, 0);
        for g in self.0.range(start..).take(n) {
            let (k, v) = g.into_inner()?;
            count += 1;
            bytes += k.len() + v.len();
        }
        Ok((count, bytes))
    }
}

/// The table of the redb database.
const REDB_TABLE: redb::TableDefinition<'static, &'static [u8], &'static [u8]> =
    redb::TableDefinition::new("bench");

/// redb with its default cache.
struct Redb {
    db: redb::Database,
}

impl Redb {
    fn open(dir: &Path) -> Result<Redb> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let db = redb::Database::create(dir.join("bench.redb"))?;
        Ok(Redb { db })
    }
}

impl Engine for Redb {
    fn write(&self, ops: &[Op<'_>], sync: Fsync) -> Result<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(match sync {
            Fsync::No => redb::Durability::None,
            Fsync::Yes | Fsync::Group => redb::Durability::Immediate,
        })?;
        {
            let mut t = tx.open_table(REDB_TABLE)?;
            for op in ops {
                match *op {
                    Op::Put(k, v) => {
                        t.insert(k, v)?;
                    }
                    Op::Delete(k) => {
                        t.remove(k)?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(REDB_TABLE)?;
        Ok(Box::new(RedbReader { _tx: tx, table }))
    }

    fn compact(&mut self) -> Result<bool> {
        self.db.compact()?;
        Ok(true)
    }

    fn close(self: Box<Self>) -> Result<()> {
        drop(self);
        Ok(())
    }
}

struct RedbReader {
    _tx: redb::ReadTransaction,
    table: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl Reader for RedbReader {
    fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.table.get(key)?.map(|v| v.value().len()))
    }

    fn scan(&mut self, start: &[u8], n: usize) -> Result<(usize, usize)> {
        let (mut count, mut bytes) = (0, 0);
        for r in self.table.range(start..)?.take(n) {
            let (k, v) = r?;
            count += 1;
            bytes += k.value().len() + v.value().len();
        }
        Ok((count, bytes))
    }
}

// ---------------------------------------------------------------------------
// Results.

/// The rows of the table, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    BulkLoad,
    Floor,
    SingleWrite,
    SingleOverFloor,
    SyncBatches,
    Reads1,
    Reads2,
    Scans,
    Delete,
    SizeBefore,
    CompactTime,
    SizeAfter,
    SizeClosed,
    Concurrent,
    Reopen,
}

impl Row {
    const ALL: [Row; 15] = [
        Row::BulkLoad,
        Row::Floor,
        Row::SingleWrite,
        Row::SingleOverFloor,
        Row::SyncBatches,
        Row::Reads1,
        Row::Reads2,
        Row::Scans,
        Row::Delete,
        Row::SizeBefore,
        Row::CompactTime,
        Row::SizeAfter,
        Row::SizeClosed,
        Row::Concurrent,
        Row::Reopen,
    ];

    /// Label (with the workload's size), unit, and whether higher is better.
    fn describe(self, s: &Sizes) -> (String, &'static str, bool) {
        match self {
            Row::BulkLoad => (
                format!(
                    "bulk load, {} pairs in random order, batches of {}, one durable commit",
                    thousands(s.pairs as f64),
                    thousands(BULK_BATCH as f64)
                ),
                "pairs/s",
                true,
            ),
            Row::Floor => (
                "disk floor: append 174 B + fdatasync, alternating with the writes below".into(),
                "µs/write",
                false,
            ),
            Row::SingleWrite => (
                format!(
                    "{} individually fsynced writes",
                    thousands(s.single_writes as f64)
                ),
                "µs/write",
                false,
            ),
            Row::SingleOverFloor => ("fsynced write ÷ disk floor".into(), "x", false),
            Row::SyncBatches => (
                format!(
                    "{} fsynced batches of {}",
                    thousands(s.sync_batches as f64),
                    thousands(SYNC_BATCH as f64)
                ),
                "ms",
                false,
            ),
            Row::Reads1 => (
                format!("{} random reads, 1 thread", thousands(s.reads as f64)),
                "reads/s",
                true,
            ),
            Row::Reads2 => (
                format!("{} random reads, 2 threads", thousands(s.reads as f64)),
                "reads/s",
                true,
            ),
            Row::Scans => (
                format!(
                    "{} range scans of {} keys",
                    thousands(s.scans as f64),
                    SCAN_LEN
                ),
                "ms",
                false,
            ),
            Row::Delete => (
                format!(
                    "delete half the keys ({}), batches of {}, one durable commit",
                    thousands((s.pairs / 2) as f64),
                    thousands(BULK_BATCH as f64)
                ),
                "ms",
                false,
            ),
            Row::SizeBefore => ("on-disk size before compaction".into(), "MB", false),
            Row::CompactTime => ("compaction".into(), "ms", false),
            Row::SizeAfter => ("on-disk size after compaction".into(), "MB", false),
            Row::SizeClosed => (
                "on-disk size after compaction and close".into(),
                "MB",
                false,
            ),
            Row::Concurrent => (
                format!(
                    "{WRITERS} writers × {} fsynced single writes (group commit)",
                    thousands(s.writes_per_writer as f64)
                ),
                "writes/s",
                true,
            ),
            Row::Reopen => (
                format!(
                    "reopen after {} pairs written in batches of {} and closed (issue 5: \
                     WAL/journal replay), until the first read",
                    thousands(s.pairs as f64),
                    thousands(BULK_BATCH as f64)
                ),
                "ms",
                false,
            ),
        }
    }

    /// Ratios between engines make no sense for this row.
    fn no_ratio(self) -> bool {
        matches!(self, Row::Floor | Row::SingleOverFloor | Row::CompactTime)
    }
}

/// Measured values: `cells[row][engine]`.
struct Results {
    cells: Vec<[Option<f64>; 3]>,
    notes: Vec<String>,
}

impl Results {
    fn set(&mut self, row: Row, engine: EngineKind, v: f64) {
        let r = Row::ALL.iter().position(|x| *x == row).expect("row listed");
        self.cells[r][engine.idx()] = Some(v);
    }
}

/// `1234567.8` as `1,234,568`.
fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v);
    let (sign, digits) = s.strip_prefix('-').map_or(("", &s[..]), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// A value in its unit's usual precision.
fn fmt_value(unit: &str, v: f64) -> String {
    match unit {
        "pairs/s" | "reads/s" | "writes/s" => thousands(v),
        "ms" if v >= 100.0 => thousands(v),
        "x" => format!("{v:.2}"),
        _ if v >= 1000.0 => thousands(v),
        _ => format!("{v:.1}"),
    }
}

// ---------------------------------------------------------------------------
// Workloads.

/// Disk space of the files under `dir`, in bytes: (allocated blocks as
/// `du` counts them, file lengths). They differ for sparse files: fjall
/// sets each journal file's length to 64 MiB before writing it.
fn dir_size(dir: &Path) -> Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    let (mut allocated, mut len) = (0, 0);
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            let (a, l) = dir_size(&entry.path())?;
            allocated += a;
            len += l;
        } else {
            allocated += meta.blocks() * 512;
            len += meta.len();
        }
    }
    Ok((allocated, len))
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// The disk's floor: a file in `dir` that takes appends of one pair's
/// size, each followed by `fdatasync`.
struct Floor {
    path: PathBuf,
    file: std::fs::File,
}

impl Floor {
    fn create(dir: &Path) -> Result<Floor> {
        let path = dir.join("floor.bin");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(Floor { path, file })
    }

    /// One append plus `fdatasync`; the time it took.
    fn write(&mut self) -> Result<Duration> {
        let record = [0x5au8; KEY_LEN + VALUE_LEN];
        let t = Instant::now();
        self.file.write_all(&record)?;
        self.file.sync_data()?;
        Ok(t.elapsed())
    }

    fn remove(self) -> Result<()> {
        drop(self.file);
        Ok(std::fs::remove_file(&self.path)?)
    }
}

/// Writes ids `range` in batches of `batch` pairs (all buffered but the
/// last, which is durable); returns the time spent in the engine.
fn load(
    e: &dyn Engine,
    keys: &Keys,
    range: std::ops::Range<u64>,
    batch: u64,
    delete: bool,
) -> Result<Duration> {
    let mut buf = BatchBuf::default();
    let mut spent = Duration::ZERO;
    let mut at = range.start;
    while at < range.end {
        let end = (at + batch).min(range.end);
        buf.fill(keys, at..end, !delete);
        let ops = if delete { buf.deletes() } else { buf.puts() };
        let sync = if end == range.end {
            Fsync::Yes
        } else {
            Fsync::No
        };
        let t = Instant::now();
        e.write(&ops, sync)?;
        spent += t.elapsed();
        at = end;
    }
    Ok(spent)
}

/// `total` random reads of ids below `n` spread over `threads` threads;
/// reads per second.
fn random_reads(
    e: &dyn Engine,
    keys: &Keys,
    seed: u64,
    n: u64,
    total: u64,
    threads: u64,
) -> Result<f64> {
    let barrier = Barrier::new(threads as usize);
    let per = total / threads;
    let start = std::sync::OnceLock::new();
    let found = std::thread::scope(|s| -> Result<u64> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                let start = &start;
                s.spawn(move || -> Result<u64> {
                    let mut r = e.reader()?;
                    let mut rng = fastrand::Rng::with_seed(seed ^ (t + 1));
                    barrier.wait();
                    start.get_or_init(Instant::now);
                    let mut found = 0;
                    for _ in 0..per {
                        let k = keys.key(rng.u64(..n));
                        if r.get(&k)? == Some(VALUE_LEN) {
                            found += 1;
                        }
                    }
                    Ok(found)
                })
            })
            .collect();
        let mut found = 0;
        for h in handles {
            found += h.join().expect("reader thread panicked")?;
        }
        Ok(found)
    })?;
    let secs = start
        .get()
        .map_or(0.0, |s: &Instant| s.elapsed().as_secs_f64());
    if found != per * threads {
        bail!("random reads found {found} of {} keys", per * threads);
    }
    Ok((per * threads) as f64 / secs)
}

/// Runs every workload on one engine in a fresh directory under `base`.
fn run_engine(
    kind: EngineKind,
    args: &Args,
    s: &Sizes,
    base: &Path,
    res: &mut Results,
) -> Result<()> {
    let keys = Keys { seed: args.seed };
    let tmp = tempfile::Builder::new()
        .prefix(&format!("lsm-bench-{}-", kind.name()))
        .tempdir_in(base)?;
    let dir = tmp.path().join("db");
    let mut e = kind.open(&dir)?;
    let log = |what: &str| eprintln!("[{}] {what}", kind.name());

    // Bulk load.
    log("bulk load");
    let t = load(&*e, &keys, 0..s.pairs, BULK_BATCH as u64, false)?;
    res.set(Row::BulkLoad, kind, s.pairs as f64 / t.as_secs_f64());
    let mut next = s.pairs;

    // Individually fsynced writes, each after one write of the disk's
    // floor, so that both see the same noise from other processes.
    log("fsynced writes");
    let mut floor = Floor::create(tmp.path())?;
    let (mut floor_time, mut engine_time) = (Duration::ZERO, Duration::ZERO);
    for i in next..next + s.single_writes {
        floor_time += floor.write()?;
        let (k, v) = (keys.key(i), keys.value(i));
        let t = Instant::now();
        e.write(&[Op::Put(&k, &v)], Fsync::Yes)?;
        engine_time += t.elapsed();
    }
    floor.remove()?;
    let floor = floor_time.as_secs_f64() * 1e6 / s.single_writes as f64;
    res.set(Row::Floor, kind, floor);
    let us = engine_time.as_secs_f64() * 1e6 / s.single_writes as f64;
    res.set(Row::SingleWrite, kind, us);
    res.set(Row::SingleOverFloor, kind, us / floor);
    next += s.single_writes;

    // Fsynced batches.
    log("fsynced batches");
    let mut buf = BatchBuf::default();
    let mut spent = Duration::ZERO;
    for _ in 0..s.sync_batches {
        buf.fill(&keys, next..next + SYNC_BATCH as u64, true);
        let ops = buf.puts();
        let t = Instant::now();
        e.write(&ops, Fsync::Yes)?;
        spent += t.elapsed();
        next += SYNC_BATCH as u64;
    }
    res.set(Row::SyncBatches, kind, spent.as_secs_f64() * 1e3);

    // Random reads of bulk-loaded keys.
    log("random reads");
    res.set(
        Row::Reads1,
        kind,
        random_reads(&*e, &keys, args.seed, s.pairs, s.reads, 1)?,
    );
    res.set(
        Row::Reads2,
        kind,
        random_reads(&*e, &keys, args.seed, s.pairs, s.reads, 2)?,
    );

    // Range scans.
    log("range scans");
    {
        let mut r = e.reader()?;
        let mut rng = fastrand::Rng::with_seed(args.seed ^ 0x5ca7);
        let (mut pairs, mut bytes) = (0usize, 0usize);
        let t = Instant::now();
        for _ in 0..s.scans {
            let (p, b) = r.scan(&keys.key(rng.u64(..s.pairs)), SCAN_LEN)?;
            pairs += p;
            bytes += b;
        }
        res.set(Row::Scans, kind, t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(bytes);
        // A scan stops early only near the end of the key space.
        if pairs < s.scans as usize * SCAN_LEN * 9 / 10 {
            bail!("range scans returned only {pairs} pairs");
        }
    }

    // Deletion of half the keys (a random half: the first ids).
    log("deletion");
    let t = load(&*e, &keys, 0..s.pairs / 2, BULK_BATCH as u64, true)?;
    res.set(Row::Delete, kind, t.as_secs_f64() * 1e3);
    if e.reader()?.get(&keys.key(0))?.is_some() {
        bail!("a deleted key is still readable");
    }

    // Sizes around compaction and close.
    log("compaction and close");
    let mut lengths = Vec::new();
    let mut size = |res: &mut Results, row: Row| -> Result<()> {
        let (allocated, len) = dir_size(&dir)?;
        res.set(row, kind, mb(allocated));
        lengths.push(format!("{:.1}", mb(len)));
        Ok(())
    };
    size(res, Row::SizeBefore)?;
    let t = Instant::now();
    let compacted = e.compact()?;
    let compact_ms = t.elapsed().as_secs_f64() * 1e3;
    size(res, Row::SizeAfter)?;
    if compacted {
        res.set(Row::CompactTime, kind, compact_ms);
    } else {
        res.notes.push(format!(
            "{}: no compaction API yet; the \"after compaction\" size is after a memtable flush \
             ({compact_ms:.0} ms)",
            kind.name()
        ));
    }
    if let Some(n) = e.note() {
        res.notes.push(format!(
            "{} after the single-writer workloads: {n}",
            kind.name()
        ));
    }
    e.close()?;
    size(res, Row::SizeClosed)?;
    res.notes.push(format!(
        "{}: file lengths before compaction / after / after close: {} MB",
        kind.name(),
        lengths.join(" / ")
    ));

    // Concurrent fsynced writers, on a fresh database.
    log("concurrent writers");
    let dir2 = tmp.path().join("db-concurrent");
    let e = kind.open(&dir2)?;
    let barrier = Barrier::new(WRITERS);
    let start = std::sync::OnceLock::new();
    std::thread::scope(|sc| -> Result<()> {
        let handles: Vec<_> = (0..WRITERS as u64)
            .map(|w| {
                let (e, barrier, start, keys) = (&*e, &barrier, &start, &keys);
                let base = (w + 1) << 40;
                sc.spawn(move || -> Result<()> {
                    barrier.wait();
                    start.get_or_init(Instant::now);
                    for i in base..base + s.writes_per_writer {
                        let (k, v) = (keys.key(i), keys.value(i));
                        e.write(&[Op::Put(&k, &v)], Fsync::Group)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().expect("writer thread panicked")?;
        }
        Ok(())
    })?;
    let secs = start
        .get()
        .map_or(0.0, |s: &Instant| s.elapsed().as_secs_f64());
    let total = WRITERS as u64 * s.writes_per_writer;
    res.set(Row::Concurrent, kind, total as f64 / secs);
    if let Some(n) = e.note() {
        res.notes
            .push(format!("{} after the concurrent writers: {n}", kind.name()));
    }
    e.close()?;

    // Reopen after writes that were not flushed into tables by the writer
    // (ours and fjall replay their WAL/journal; redb has nothing to replay).
    log("reopen");
    let dir3 = tmp.path().join("db-reopen");
    let e = kind.open(&dir3)?;
    load(&*e, &keys, 0..s.pairs, BULK_BATCH as u64, false)?;
    e.close()?;
    let t = Instant::now();
    let e = kind.open(&dir3)?;
    let found = e.reader()?.get(&keys.key(s.pairs - 1))?;
    res.set(Row::Reopen, kind, t.elapsed().as_secs_f64() * 1e3);
    if found.is_none() {
        bail!("the last key written before reopening is missing");
    }
    e.close()?;
    Ok(())
}

/// The 1-, 5- and 15-minute load averages, if the system reports them.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn render(
    args: &Args,
    scale: f64,
    s: &Sizes,
    base: &Path,
    res: &Results,
    header: &[(String, String)],
) -> String {
    let mut md = String::new();
    md.push_str("## lsm vs fjall vs redb (issue 6 workloads)\n\n");
    for (k, v) in header {
        let _ = writeln!(md, "- {k}: {v}");
    }
    let _ = writeln!(md, "- scale: {scale} (1.0 = the issue's sizes)");
    let _ = writeln!(md, "- temporary directories under: {}", base.display());
    let _ = writeln!(
        md,
        "- keys {KEY_LEN} B, values {VALUE_LEN} B, random (incompressible), same order for every \
         engine (seed {:#x})",
        args.seed
    );
    md.push_str(
        "\nOne run; figures on a shared machine are noisy (another busy process makes every \
         fsync far slower): compare engines within one run. Ratio = ours / peer in the row's \
         unit: above 1 is better for ours where higher is better (↑), below 1 where lower is \
         better (↓). On-disk sizes are allocated blocks (as `du` counts them), MB = 10^6 bytes; file lengths are in the notes.\n\n",
    );
    md.push_str("| workload | unit | ours | fjall | redb | ours/fjall | ours/redb |\n");
    md.push_str("|---|---|---:|---:|---:|---:|---:|\n");
    for (r, row) in Row::ALL.iter().enumerate() {
        let (label, unit, higher) = row.describe(s);
        let cell = |k: EngineKind| match res.cells[r][k.idx()] {
            Some(v) => fmt_value(unit, v),
            None if args.engines.contains(&k) => "–".to_string(),
            None => "not run".to_string(),
        };
        let ratio =
            |peer: EngineKind| match (row.no_ratio(), res.cells[r][0], res.cells[r][peer.idx()]) {
                (false, Some(o), Some(p)) if p > 0.0 => format!("{:.2}", o / p),
                _ => "–".to_string(),
            };
        let arrow = if higher { "↑" } else { "↓" };
        let _ = writeln!(
            md,
            "| {label} | {unit} {arrow} | {} | {} | {} | {} | {} |",
            cell(EngineKind::Ours),
            cell(EngineKind::Fjall),
            cell(EngineKind::Redb),
            ratio(EngineKind::Fjall),
            ratio(EngineKind::Redb),
        );
    }
    if !res.notes.is_empty() {
        md.push_str("\nNotes:\n\n");
        for n in &res.notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    md
}

fn main() -> Result<()> {
    let args = Args::parse();
    let scale = if args.quick { 0.05 } else { args.scale };
    if !(scale > 0.0 && scale.is_finite()) {
        bail!("--scale must be a positive number, got {scale}");
    }
    let s = Sizes::at(scale);
    let base = std::env::temp_dir();
    let started = Instant::now();
    let mut header = vec![
        (
            "command".to_string(),
            std::env::args().collect::<Vec<_>>().join(" "),
        ),
        (
            "engines".to_string(),
            "ours = lsm `Options::default()`; fjall 3.1 \
             (cache 1 GiB, lz4 default); redb 4.5 (default cache); exact versions in Cargo.lock"
                .to_string(),
        ),
        (
            "cores".to_string(),
            std::thread::available_parallelism().map_or("unknown".into(), |n| n.to_string()),
        ),
        ("load average at start".to_string(), loadavg()),
    ];
    let mut res = Results {
        cells: vec![[None; 3]; Row::ALL.len()],
        notes: Vec::new(),
    };
    for kind in EngineKind::ALL {
        if !args.engines.contains(&kind) {
            continue;
        }
        let t = Instant::now();
        if let Err(e) = run_engine(kind, &args, &s, &base, &mut res) {
            eprintln!("[{}] failed: {e:#}", kind.name());
            res.notes.push(format!("{} failed: {e:#}", kind.name()));
        }
        eprintln!("[{}] done in {:.1?}", kind.name(), t.elapsed());
    }
    header.push(("load average at end".to_string(), loadavg()));
    header.push((
        "wall time".to_string(),
        format!("{:.0?}", started.elapsed()),
    ));
    let md = render(&args, scale, &s, &base, &res, &header);
    print!("{md}");
    if let Some(out) = &args.out {
        std::fs::write(out, &md).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1234567.8), "1,234,568");
        assert_eq!(thousands(-1000.0), "-1,000");
    }

    #[test]
    fn sizes_at_scale_one_are_the_issues() {
        let s = Sizes::at(1.0);
        assert_eq!(
            (s.pairs, s.single_writes, s.sync_batches, s.reads, s.scans),
            (2_000_000, 1_000, 100, 1_000_000, 200_000)
        );
        let q = Sizes::at(0.05);
        assert_eq!((q.pairs, q.single_writes, q.sync_batches), (100_000, 50, 5));
    }

    #[test]
    fn keys_are_deterministic_and_distinct() {
        let keys = Keys { seed: 7 };
        assert_eq!(keys.key(3), Keys { seed: 7 }.key(3));
        assert_eq!(keys.value(3), Keys { seed: 7 }.value(3));
        assert_ne!(keys.key(3), Keys { seed: 8 }.key(3));
        let set: std::collections::HashSet<_> = (0..100_000).map(|i| keys.key(i)).collect();
        assert_eq!(set.len(), 100_000);
        // Random order: ids in sequence are not keys in sequence.
        let ascending = (0..1000u64)
            .filter(|&i| keys.key(i) < keys.key(i + 1))
            .count();
        assert!((300..700).contains(&ascending), "{ascending}");
    }

    /// Every engine fills every row (but ours' compaction time, until the
    /// engine has a compaction API) at the smallest sizes.
    #[test]
    fn every_engine_runs_every_workload() {
        let args = Args::parse_from(["lsm_bench"]);
        let s = Sizes::at(1e-9);
        let base = tempfile::tempdir().unwrap();
        let mut res = Results {
            cells: vec![[None; 3]; Row::ALL.len()],
            notes: Vec::new(),
        };
        for kind in EngineKind::ALL {
            run_engine(kind, &args, &s, base.path(), &mut res).unwrap();
        }
        for (r, row) in Row::ALL.iter().enumerate() {
            for kind in EngineKind::ALL {
                let skip = *row == Row::CompactTime && kind == EngineKind::Ours;
                assert!(
                    skip || res.cells[r][kind.idx()].is_some_and(|v| v > 0.0),
                    "{row:?} of {kind:?}"
                );
            }
        }
        let md = render(&args, 1e-9, &s, base.path(), &res, &[]);
        assert_eq!(md.matches("\n| ").count(), 1 + Row::ALL.len());
    }
}
