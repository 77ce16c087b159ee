//! `cargo xtask bench node-state`: the node's shared state against the
//! Blixard note's "before", in the same run.
//!
//! - Membership reads per second, 1 and 2 reader threads, 5 and 100 members,
//!   while a writer thread updates the membership 100 times a second.
//!   Baseline: `std::sync::RwLock<HashMap<u64, PeerInfo>>` (addresses as
//!   `String`) cloned on every read, as the note's `cluster_members()` did.
//!   Ours: `SharedMembership::with_cluster_members` (arc-swap guard),
//!   `MembershipReader::load` (a per-thread cached reader) and
//!   `SharedMembership::snapshot` (owned `Arc`). A read looks up one member
//!   (the id rotates) and returns its address length.
//! - Recording a labelled metric: a pre-bound `CommandMetrics` handle against
//!   looking the series up by labels each time (borrowed label set, and a
//!   label set built per call as `Vec<(String, String)>`, the note's
//!   "before").
//! - Proposal register-and-complete (`ProposalTable<u64, u64>`).
//! - Bytes and allocations per operation, from a counting global allocator,
//!   printed as a table before criterion runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use node_state::metrics::CommandLabels;
use node_state::{NodeMetrics, ProposalTable, Role, SharedMembership};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

// ---------------------------------------------------------------------------
// Counting allocator: forwards to System, counts only while COUNTING is set
// (so the counters' cache line is not written during timed runs).

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

struct CountingAlloc;

impl CountingAlloc {
    #[inline]
    fn count(size: usize) {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(size as u64, Ordering::Relaxed);
        }
    }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; counting touches only atomics and never
// allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::count(layout.size());
        // SAFETY: the caller's contract for `alloc` is passed through as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::count(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::count(new_size);
        // SAFETY: `ptr` and `layout` come from this allocator, i.e. from System.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` and `layout` come from this allocator, i.e. from System.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Allocations and bytes per call of `f`, over `n` calls on this thread
/// (nothing else runs meanwhile).
fn allocs_per_op(n: u64, mut f: impl FnMut(u64)) -> (f64, f64) {
    f(0); // warm up (lazy growth, first-use allocations)
    ALLOCS.store(0, Ordering::SeqCst);
    BYTES.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    for i in 0..n {
        f(i);
    }
    COUNTING.store(false, Ordering::SeqCst);
    let a = ALLOCS.load(Ordering::SeqCst) as f64 / n as f64;
    let b = BYTES.load(Ordering::SeqCst) as f64 / n as f64;
    (a, b)
}

// ---------------------------------------------------------------------------
// Membership: baseline and ours.

const SIZES: [u64; 2] = [5, 100];
const READERS: [usize; 2] = [1, 2];
const WRITES_PER_SEC: u64 = 100;

/// The note's `PeerInfo`: owned strings, cloned with the map.
#[derive(Clone, Debug)]
#[allow(dead_code)] // `role` is carried (and cloned) like the real thing
struct PeerInfo {
    addr: String,
    role: Role,
}

fn addr(id: u64, gen: u64) -> String {
    format!("10.0.{}.{}:7000", gen % 250, id % 250)
}

fn role(id: u64) -> Role {
    if id == 1 {
        Role::Leader
    } else if id.is_multiple_of(4) {
        Role::Learner
    } else {
        Role::Voter
    }
}

/// The "before": `cluster_members()` returns a clone of the map.
struct Baseline {
    members: RwLock<HashMap<u64, PeerInfo>>,
}

impl Baseline {
    fn new(n: u64) -> Self {
        let members = (1..=n)
            .map(|id| {
                let info = PeerInfo {
                    addr: addr(id, 0),
                    role: role(id),
                };
                (id, info)
            })
            .collect();
        Self {
            members: RwLock::new(members),
        }
    }

    fn cluster_members(&self) -> HashMap<u64, PeerInfo> {
        self.members.read().unwrap().clone()
    }

    fn read(&self, id: u64) -> usize {
        self.cluster_members().get(&id).map_or(0, |p| p.addr.len())
    }

    fn write(&self, gen: u64, n: u64) {
        let id = gen % n + 1;
        let new = addr(id, gen);
        self.members.write().unwrap().get_mut(&id).unwrap().addr = new;
    }
}

fn ours(n: u64) -> SharedMembership {
    let shared = SharedMembership::new();
    shared
        .update(|b| {
            for id in 1..=n {
                b.insert(id, role(id), Arc::from(addr(id, 0)));
            }
            Ok(())
        })
        .unwrap();
    shared
}

fn ours_write(shared: &SharedMembership, gen: u64, n: u64) {
    let id = gen % n + 1;
    let new: Arc<str> = Arc::from(addr(id, gen));
    shared.update(|b| b.set_addr(id, new).map(|_| ())).unwrap();
}

/// A thread that calls `write(gen)` `WRITES_PER_SEC` times a second until
/// dropped.
struct Writer {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<u64>>,
}

impl Writer {
    fn start(write: impl Fn(u64) + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = thread::spawn({
            let stop = Arc::clone(&stop);
            move || {
                let period = Duration::from_nanos(1_000_000_000 / WRITES_PER_SEC);
                let mut next = Instant::now();
                let mut gen = 0;
                while !stop.load(Ordering::Relaxed) {
                    gen += 1;
                    write(gen);
                    next += period;
                    if let Some(d) = next.checked_duration_since(Instant::now()) {
                        thread::sleep(d);
                    }
                }
                gen
            }
        });
        Self {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Runs `iters` reads on each of `threads` threads, started together; each
/// thread makes its own reader with `make`. Returns the wall time of the
/// slowest thread.
fn parallel_reads<M, F>(threads: usize, iters: u64, n: u64, make: M) -> Duration
where
    M: Fn() -> F + Sync,
    F: FnMut(u64) -> usize,
{
    let barrier = Barrier::new(threads);
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, make) = (&barrier, &make);
                s.spawn(move || {
                    let mut read = make();
                    barrier.wait();
                    let start = Instant::now();
                    let mut id = t as u64;
                    let mut sum = 0;
                    for _ in 0..iters {
                        id = if id >= n { 1 } else { id + 1 };
                        sum += read(black_box(id));
                    }
                    black_box(sum);
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap()
    })
}

fn bench_membership(c: &mut Criterion) {
    let mut g = c.benchmark_group("membership_read");
    for n in SIZES {
        {
            let base = Arc::new(Baseline::new(n));
            let _w = Writer::start({
                let base = Arc::clone(&base);
                move |gen| base.write(gen, n)
            });
            for t in READERS {
                g.throughput(Throughput::Elements(t as u64));
                let id = BenchmarkId::new(format!("rwlock_clone/{n}"), format!("{t}t"));
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| parallel_reads(t, iters, n, || |id| base.read(id)))
                });
            }
        }
        {
            let shared = Arc::new(ours(n));
            let _w = Writer::start({
                let shared = Arc::clone(&shared);
                move |gen| ours_write(&shared, gen, n)
            });
            let shared = &*shared;
            for t in READERS {
                g.throughput(Throughput::Elements(t as u64));
                let id = BenchmarkId::new(format!("arcswap_with/{n}"), format!("{t}t"));
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        parallel_reads(t, iters, n, || {
                            |id| {
                                shared
                                    .with_cluster_members(|m| m.get(id).map_or(0, |x| x.addr.len()))
                            }
                        })
                    })
                });
                let id = BenchmarkId::new(format!("arcswap_reader/{n}"), format!("{t}t"));
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        parallel_reads(t, iters, n, || {
                            let mut reader = shared.reader();
                            move |id| reader.load().get(id).map_or(0, |x| x.addr.len())
                        })
                    })
                });
                let id = BenchmarkId::new(format!("arcswap_snapshot/{n}"), format!("{t}t"));
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        parallel_reads(t, iters, n, || {
                            |id| shared.snapshot().get(id).map_or(0, |x| x.addr.len())
                        })
                    })
                });
            }
        }
    }
    g.finish();
}

// ---------------------------------------------------------------------------
// Metrics.

/// The "before": labels built per record, then looked up in the family.
fn naive_labels(node_id: &str, role: Role, command: &str) -> Vec<(String, String)> {
    vec![
        ("node_id".to_owned(), node_id.to_owned()),
        ("role".to_owned(), role.as_str().to_owned()),
        ("command".to_owned(), command.to_owned()),
    ]
}

fn bench_metrics(c: &mut Criterion) {
    let metrics = NodeMetrics::new(1);
    let get = metrics.command("get");
    let borrowed = CommandLabels {
        role: Role::Leader,
        command: Arc::from("get"),
    };
    let naive: Family<Vec<(String, String)>, Counter> = Family::default();
    let node_id = String::from("1");

    let mut g = c.benchmark_group("metric_record");
    g.throughput(Throughput::Elements(1));
    g.bench_function("prebound_counter", |b| {
        b.iter(|| get.inc(black_box(Role::Leader)))
    });
    g.bench_function("prebound_histogram", |b| {
        b.iter(|| {
            get.observe(
                black_box(Role::Leader),
                black_box(Duration::from_micros(150)),
            )
        })
    });
    g.bench_function("prebound_counter_and_histogram", |b| {
        b.iter(|| {
            get.record(
                black_box(Role::Leader),
                black_box(Duration::from_micros(150)),
            )
        })
    });
    g.bench_function("lookup_borrowed_labels", |b| {
        b.iter(|| {
            metrics
                .command_family()
                .get_or_create(black_box(&borrowed))
                .inc()
        })
    });
    g.bench_function("lookup_built_labels", |b| {
        b.iter(|| {
            let labels = naive_labels(&node_id, black_box(Role::Leader), "get");
            naive.get_or_create(&labels).inc()
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// Proposals.

fn bench_proposals(c: &mut Criterion) {
    let table: ProposalTable<u64, u64> = ProposalTable::new(4096);
    let deadline = Instant::now() + Duration::from_secs(3600);
    let mut g = c.benchmark_group("proposal");
    g.throughput(Throughput::Elements(1));
    g.bench_function("register_complete", |b| {
        b.iter(|| {
            let (id, mut rx) = table.register_next(deadline).unwrap();
            table.complete(&id, id);
            black_box(rx.try_recv().unwrap().unwrap())
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// Allocation table.

fn allocation_table() {
    const N: u64 = 10_000;
    let mut rows: Vec<(String, (f64, f64))> = Vec::new();
    for n in SIZES {
        let base = Baseline::new(n);
        rows.push((
            format!("membership read, rwlock_clone, {n} members"),
            allocs_per_op(N, |i| {
                black_box(base.read(i % n + 1));
            }),
        ));
        let shared = ours(n);
        rows.push((
            format!("membership read, arcswap_with, {n} members"),
            allocs_per_op(N, |i| {
                black_box(shared.with_cluster_members(|m| m.get(i % n + 1).map(|x| x.addr.len())));
            }),
        ));
        let mut reader = shared.reader();
        rows.push((
            format!("membership read, arcswap_reader, {n} members"),
            allocs_per_op(N, |i| {
                black_box(reader.load().get(i % n + 1).map(|x| x.addr.len()));
            }),
        ));
        rows.push((
            format!("membership read, arcswap_snapshot, {n} members"),
            allocs_per_op(N, |i| {
                black_box(shared.snapshot().get(i % n + 1).map(|x| x.addr.len()));
            }),
        ));
    }
    let metrics = NodeMetrics::new(1);
    let get = metrics.command("get");
    rows.push((
        "metric record, prebound counter".into(),
        allocs_per_op(N, |_| get.inc(Role::Leader)),
    ));
    rows.push((
        "metric record, prebound histogram".into(),
        allocs_per_op(N, |_| get.observe(Role::Leader, Duration::from_micros(150))),
    ));
    rows.push((
        "metric record, prebound counter + histogram".into(),
        allocs_per_op(N, |_| get.record(Role::Leader, Duration::from_micros(150))),
    ));
    let borrowed = CommandLabels {
        role: Role::Leader,
        command: Arc::from("get"),
    };
    rows.push((
        "metric record, lookup borrowed labels".into(),
        allocs_per_op(N, |_| {
            metrics.command_family().get_or_create(&borrowed).inc();
        }),
    ));
    let naive: Family<Vec<(String, String)>, Counter> = Family::default();
    rows.push((
        "metric record, lookup built labels".into(),
        allocs_per_op(N, |_| {
            naive
                .get_or_create(&naive_labels("1", Role::Leader, "get"))
                .inc();
        }),
    ));
    let table: ProposalTable<u64, u64> = ProposalTable::new(4096);
    let deadline = Instant::now() + Duration::from_secs(3600);
    rows.push((
        "proposal register + complete".into(),
        allocs_per_op(N, |_| {
            let (id, mut rx) = table.register_next(deadline).unwrap();
            table.complete(&id, id);
            black_box(rx.try_recv().unwrap().unwrap());
        }),
    ));

    println!("\n| operation | allocations/op | bytes/op |");
    println!("|---|---:|---:|");
    for (name, (a, b)) in rows {
        println!("| {name} | {a:.2} | {b:.1} |");
    }
    println!();
}

fn main() {
    allocation_table();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
        .without_plots()
        .configure_from_args();
    bench_membership(&mut c);
    bench_metrics(&mut c);
    bench_proposals(&mut c);
    c.final_summary();
}
