//! `cargo xtask bench resp-server`: our server against a real Redis on the
//! same machine, in the same run, so the result is a ratio.
//!
//! Throughput and latency come from `redis-benchmark --csv` (one client
//! thread, 50 connections, random keys in a 1M key space); every workload
//! runs against both servers in each run, the order flipping between runs
//! (ours first, then Redis first) so that drift (thermal, other load on the
//! machine) hits both alike; the median of the runs is reported.
//!
//! Memory per key: a fresh server per case, `VmRSS` before and after loading
//! N distinct keys with a pipelined raw-TCP loader, DBSIZE to confirm the
//! count. A fresh process (rather than FLUSHALL on a used one) keeps the
//! allocator's retained pages from an earlier load out of the "before".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::proc::{self, ServerProcess};
use crate::resp::{self, Conn, Reply};

/// Options of `cargo xtask bench resp-server`.
#[derive(Debug, Clone)]
pub struct Options {
    /// A tenth of the default request counts and memory keys.
    pub quick: bool,
    /// Runs per workload; the median is reported.
    pub runs: usize,
    /// Requests per unpipelined workload (pipelined ones send 5x).
    pub requests: Option<u64>,
    /// Run `cargo build --release -p resp-server` first (not with `--no-build`).
    pub build: bool,
    /// Also write the Markdown report here.
    pub out: Option<PathBuf>,
    /// Extra arguments for our server (`--server-args "--threads 1"`).
    pub server_args: Vec<String>,
    /// The command line, echoed in the report.
    pub command_line: String,
}

/// redis-benchmark connections (`-c`).
const CLIENTS: u32 = 50;
/// redis-benchmark key space (`-r`).
const KEYSPACE: u64 = 1_000_000;
/// Commands per pipeline in the memory loader.
const LOAD_BATCH: u64 = 1000;
/// TTL of the keys in the TTL memory cases, seconds.
const TTL_SECS: &str = "100000";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ours,
    Redis,
}

impl Kind {
    const BOTH: [Kind; 2] = [Kind::Ours, Kind::Redis];

    fn name(self) -> &'static str {
        match self {
            Kind::Ours => "ours",
            Kind::Redis => "redis",
        }
    }

    fn idx(self) -> usize {
        self as usize
    }
}

/// The programs the benchmark runs.
#[derive(Debug)]
struct Tools {
    ours: PathBuf,
    redis_server: PathBuf,
    redis_benchmark: PathBuf,
    log_dir: PathBuf,
    /// Extra flags for our server.
    server_args: Vec<String>,
}

impl Tools {
    /// Starts a server of `kind` on a free loopback port and waits for PONG.
    fn start(&self, kind: Kind) -> Result<ServerProcess> {
        let port = proc::free_port()?;
        let p = port.to_string();
        let (program, args): (&Path, Vec<String>) = match kind {
            Kind::Ours => (
                &self.ours,
                [
                    "--port".to_string(),
                    p,
                    "--loglevel".into(),
                    "warning".into(),
                ]
                .into_iter()
                .chain(self.server_args.iter().cloned())
                .collect(),
            ),
            Kind::Redis => (
                &self.redis_server,
                ["--port", &p, "--save", "", "--appendonly", "no"]
                    .map(String::from)
                    .to_vec(),
            ),
        };
        let log = self.log_dir.join(format!("{}-{port}.log", kind.name()));
        ServerProcess::start(kind.name(), program, &args, port, log)
    }
}

/// One redis-benchmark workload.
#[derive(Debug)]
struct Workload {
    /// Table label.
    label: &'static str,
    /// `-t` test name.
    test: &'static str,
    /// `-P`.
    pipeline: u32,
    /// `-n`.
    requests: u64,
    /// A command that must not fail for the workload to make sense; an
    /// error reply marks the workload unsupported on that server.
    probe: &'static [&'static [u8]],
}

/// Sizes of the run.
#[derive(Debug)]
struct Plan {
    runs: usize,
    workloads: Vec<Workload>,
    /// Keys per memory case.
    keys: u64,
}

impl Plan {
    fn new(opts: &Options) -> Plan {
        let div = if opts.quick { 10 } else { 1 };
        let p1 = opts.requests.unwrap_or(200_000 / div);
        let p16 = opts.requests.map_or(1_000_000 / div, |n| n * 5);
        let w = |label, test, pipeline, requests, probe| Workload {
            label,
            test,
            pipeline,
            requests,
            probe,
        };
        Plan {
            runs: opts.runs,
            workloads: vec![
                w("SET", "set", 1, p1, &[b"SET", b"xtask:probe", b"v"]),
                w("GET", "get", 1, p1, &[b"GET", b"xtask:probe"]),
                w("SET -P 16", "set", 16, p16, &[b"SET", b"xtask:probe", b"v"]),
                w("GET -P 16", "get", 16, p16, &[b"GET", b"xtask:probe"]),
                w(
                    "MSET (10 keys)",
                    "mset",
                    1,
                    p1,
                    &[b"MSET", b"xtask:a", b"1", b"xtask:b", b"2"],
                ),
                w("INCR", "incr", 1, p1, &[b"INCR", b"xtask:n"]),
                // The data types, pipelined: the server's own cost shows.
                // LPOP, SPOP and ZPOPMIN pop what the pushes before added.
                w(
                    "LPUSH -P 16",
                    "lpush",
                    16,
                    p16,
                    &[b"LPUSH", b"xtask:l", b"v"],
                ),
                w("LPOP -P 16", "lpop", 16, p16, &[b"LPOP", b"xtask:l"]),
                w(
                    "LRANGE 100 -P 16",
                    "lrange_100",
                    16,
                    p1,
                    &[b"LRANGE", b"xtask:l", b"0", b"9"],
                ),
                w("SADD -P 16", "sadd", 16, p16, &[b"SADD", b"xtask:s", b"m"]),
                w("SPOP -P 16", "spop", 16, p16, &[b"SPOP", b"xtask:s"]),
                w(
                    "HSET -P 16",
                    "hset",
                    16,
                    p16,
                    &[b"HSET", b"xtask:h", b"f", b"v"],
                ),
                w(
                    "ZADD -P 16",
                    "zadd",
                    16,
                    p16,
                    &[b"ZADD", b"xtask:z", b"1", b"m"],
                ),
                w(
                    "ZPOPMIN -P 16",
                    "zpopmin",
                    16,
                    p16,
                    &[b"ZPOPMIN", b"xtask:z"],
                ),
            ],
            keys: 1_000_000 / div,
        }
    }
}

/// Throughput and latency of one redis-benchmark run.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Server CPU time (user + system) per request, microseconds: steadier
    /// than ops/s on a shared machine, since it does not count waiting.
    cpu_us: f64,
}

/// The runs of one workload against one server.
#[derive(Debug, Default)]
struct Cell {
    /// Set when the probe command failed: the workload is not run.
    unsupported: Option<String>,
    samples: Vec<Sample>,
    errors: Vec<String>,
}

impl Cell {
    /// Median of each metric over the successful runs.
    fn median(&self) -> Option<Sample> {
        if self.samples.is_empty() {
            return None;
        }
        let m = |f: fn(&Sample) -> f64| median(self.samples.iter().map(f).collect());
        Some(Sample {
            rps: m(|s| s.rps),
            p50_ms: m(|s| s.p50_ms),
            p99_ms: m(|s| s.p99_ms),
            cpu_us: m(|s| s.cpu_us),
        })
    }
}

/// One memory measurement.
#[derive(Debug, Clone, Copy)]
struct Memory {
    /// RSS growth per key, bytes.
    rss_per_key: f64,
    /// `INFO memory` `used_memory` growth per key, bytes, if reported.
    used_per_key: Option<f64>,
    /// Whether DBSIZE confirmed the key count (false: it is unsupported).
    dbsize_checked: bool,
}

/// A memory case.
#[derive(Debug)]
struct MemCase {
    label: &'static str,
    value_len: usize,
    ttl: bool,
}

const MEM_CASES: [MemCase; 4] = [
    MemCase {
        label: "16 B values",
        value_len: 16,
        ttl: false,
    },
    MemCase {
        label: "100 B values",
        value_len: 100,
        ttl: false,
    },
    MemCase {
        label: "16 B values + TTL",
        value_len: 16,
        ttl: true,
    },
    MemCase {
        label: "100 B values + TTL",
        value_len: 100,
        ttl: true,
    },
];

/// Runs the whole benchmark and prints (and optionally writes) the report.
pub fn run(opts: &Options) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has no parent directory")?
        .to_path_buf();
    let (redis_server, redis_benchmark) = find_redis()?;
    build_release(&root)?;
    let target = target_dir(&root);
    let ours = target.join("release").join("resp-server");
    ensure!(
        ours.is_file(),
        "{} is missing after the build",
        ours.display()
    );
    let log_dir = target.join("xtask-bench");
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let tools = Tools {
        ours,
        redis_server,
        redis_benchmark,
        log_dir,
        server_args: opts.server_args.clone(),
    };
    let plan = Plan::new(opts);

    let header = header(&tools, &plan, opts);
    let started = Instant::now();
    let cells = throughput(&tools, &plan)?;
    let memory = memory(&tools, &plan)?;
    eprintln!("done in {:.0?}", started.elapsed());

    let report = render(&header, &plan, &cells, &memory);
    print!("{report}");
    if let Some(out) = &opts.out {
        std::fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

/// Finds redis-server and redis-benchmark on PATH.
fn find_redis() -> Result<(PathBuf, PathBuf)> {
    match (proc::which("redis-server"), proc::which("redis-benchmark")) {
        (Some(s), Some(b)) => Ok((s, b)),
        (s, b) => {
            let missing: Vec<&str> = [
                ("redis-server", s.is_none()),
                ("redis-benchmark", b.is_none()),
            ]
            .iter()
            .filter(|(_, m)| *m)
            .map(|(n, _)| *n)
            .collect();
            bail!(
                "{} not found on PATH (the benchmark compares against a real Redis); \
                 install them with `sudo apt-get install -y redis-server redis-tools`",
                missing.join(" and ")
            )
        }
    }
}

/// `cargo build --release -p resp-server`, output shown as it goes.
fn build_release(root: &Path) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building: cargo build --release -p resp-server");
    let status = Command::new(&cargo)
        .current_dir(root)
        .args(["build", "--release", "-p", "resp-server"])
        .status()
        .with_context(|| format!("running {cargo:?}"))?;
    ensure!(
        status.success(),
        "cargo build --release -p resp-server failed ({status})"
    );
    Ok(())
}

/// The workspace's target directory (`CARGO_TARGET_DIR` or `<root>/target`).
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Runs every workload against both servers, alternating which goes first.
fn throughput(tools: &Tools, plan: &Plan) -> Result<Vec<[Cell; 2]>> {
    let mut servers = [tools.start(Kind::Ours)?, tools.start(Kind::Redis)?];
    let mut cells: Vec<[Cell; 2]> = plan.workloads.iter().map(|_| Default::default()).collect();
    for (w, cell) in plan.workloads.iter().zip(&mut cells) {
        for kind in Kind::BOTH {
            if let Err(e) = probe(servers[kind.idx()].port, w.probe) {
                eprintln!("{}: {} unsupported: {e}", w.label, kind.name());
                cell[kind.idx()].unsupported = Some(e);
            }
        }
    }
    for run in 0..plan.runs {
        let order = if run % 2 == 0 {
            Kind::BOTH
        } else {
            [Kind::Redis, Kind::Ours]
        };
        for (w, cell) in plan.workloads.iter().zip(&mut cells) {
            for kind in order {
                let cell = &mut cell[kind.idx()];
                if cell.unsupported.is_some() {
                    continue;
                }
                let server = &mut servers[kind.idx()];
                let result = server.check_alive().and_then(|()| {
                    let cpu0 = server.cpu_us()?;
                    let mut s = redis_benchmark(tools, server.port, w)?;
                    let cpu1 = server.cpu_us()?;
                    s.cpu_us = cpu1.saturating_sub(cpu0) as f64 / w.requests.max(1) as f64;
                    Ok(s)
                });
                match result {
                    Ok(s) => {
                        eprintln!(
                            "run {}/{} {:<15} {:<5} {:>10} ops/s  p50 {:.3} ms  p99 {:.3} ms  cpu {:.2} us/req",
                            run + 1,
                            plan.runs,
                            w.label,
                            kind.name(),
                            thousands(s.rps),
                            s.p50_ms,
                            s.p99_ms,
                            s.cpu_us
                        );
                        cell.samples.push(s);
                    }
                    Err(e) => {
                        eprintln!(
                            "run {}/{} {} {}: {e:#}",
                            run + 1,
                            plan.runs,
                            w.label,
                            kind.name()
                        );
                        cell.errors.push(format!("{e:#}"));
                    }
                }
            }
        }
    }
    Ok(cells)
}

/// Sends the probe command; `Err` holds the error reply or failure.
fn probe(port: u16, args: &[&[u8]]) -> Result<(), String> {
    match Conn::connect(port).and_then(|mut c| c.command(args)) {
        Ok(Reply::Error(e)) => Err(e),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// One `redis-benchmark --csv` run; parses rps, p50 and p99.
fn redis_benchmark(tools: &Tools, port: u16, w: &Workload) -> Result<Sample> {
    let mut cmd = Command::new(&tools.redis_benchmark);
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-c", &CLIENTS.to_string(), "-n", &w.requests.to_string()])
        .args(["-r", &KEYSPACE.to_string(), "-t", w.test])
        .args(["-P", &w.pipeline.to_string(), "--csv"]);
    // Generous: the slowest plausible rate is a few thousand requests/s.
    let limit = Duration::from_secs(120 + w.requests / 2000);
    let out = proc::run_with_timeout(&mut cmd, limit)?;
    if !out.status.success() {
        let why = out
            .stderr
            .lines()
            .find(|l| !l.starts_with("WARNING"))
            .unwrap_or("no message");
        bail!(
            "redis-benchmark failed ({}): {}",
            out.status,
            shorten(why, 160)
        );
    }
    parse_csv(&out.stdout)
        .with_context(|| format!("parsing redis-benchmark output {:?}", out.stdout))
}

/// Parses redis-benchmark 7 `--csv` output: a header row naming the columns
/// ("test","rps",...,"p50_latency_ms",...,"p99_latency_ms",...) then one
/// row per test; reads the first test row.
fn parse_csv(text: &str) -> Result<Sample> {
    let mut rows = text
        .lines()
        .map(|l| {
            l.split(',')
                .map(|f| f.trim().trim_matches('"'))
                .collect::<Vec<_>>()
        })
        .filter(|r| r.len() > 1);
    let header = rows.next().context("no CSV header")?;
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .with_context(|| format!("no `{name}` column"))
    };
    let (rps, p50, p99) = (col("rps")?, col("p50_latency_ms")?, col("p99_latency_ms")?);
    let row = rows.next().context("no result row")?;
    let num = |i: usize| -> Result<f64> {
        let field = row.get(i).context("short row")?;
        field
            .parse()
            .with_context(|| format!("bad number `{field}`"))
    };
    Ok(Sample {
        rps: num(rps)?,
        p50_ms: num(p50)?,
        p99_ms: num(p99)?,
        cpu_us: 0.0,
    })
}

/// Every memory case against both servers; cells hold the error message on
/// failure.
fn memory(tools: &Tools, plan: &Plan) -> Result<Vec<[Result<Memory, String>; 2]>> {
    let mut rows = Vec::new();
    for case in &MEM_CASES {
        let mut row = [Err(String::new()), Err(String::new())];
        for kind in Kind::BOTH {
            let server = tools.start(kind)?;
            let result = measure_memory(&server, case, plan.keys).map_err(|e| format!("{e:#}"));
            match &result {
                Ok(m) => eprintln!(
                    "memory {:<19} {:<5} {:>7.1} B/key (RSS){}",
                    case.label,
                    kind.name(),
                    m.rss_per_key,
                    m.used_per_key
                        .map(|u| format!(", {u:.1} B/key (used_memory)"))
                        .unwrap_or_default()
                ),
                Err(e) => eprintln!("memory {} {}: {e}", case.label, kind.name()),
            }
            row[kind.idx()] = result;
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Loads `keys` keys into a fresh server and measures its growth.
fn measure_memory(server: &ServerProcess, case: &MemCase, keys: u64) -> Result<Memory> {
    let mut conn = Conn::connect(server.port)?;
    let used_before = used_memory(&mut conn);
    let rss_before = server.rss_bytes()?;
    load(&mut conn, keys, case.value_len, case.ttl)?;
    let dbsize_checked = match conn.command(&[b"DBSIZE"])? {
        Reply::Int(n) => {
            ensure!(
                n as u64 == keys,
                "DBSIZE is {n} after loading {keys} distinct keys"
            );
            true
        }
        Reply::Error(_) => false,
        other => bail!("DBSIZE answered {other:?}"),
    };
    let rss_after = server.rss_bytes()?;
    let used_after = used_memory(&mut conn);
    let per_key = |before: u64, after: u64| (after as f64 - before as f64) / keys as f64;
    Ok(Memory {
        rss_per_key: per_key(rss_before, rss_after),
        used_per_key: used_before.zip(used_after).map(|(b, a)| per_key(b, a)),
        dbsize_checked,
    })
}

/// `used_memory` from `INFO memory`, if the server reports it.
fn used_memory(conn: &mut Conn) -> Option<u64> {
    match conn.command(&[b"INFO", b"memory"]).ok()? {
        Reply::Bulk(Some(text)) => String::from_utf8_lossy(&text)
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok()),
        _ => None,
    }
}

/// Sends `SET key:%010d <value> [EX ttl]` for 0..keys in pipelines of
/// [`LOAD_BATCH`], checking every reply is +OK.
fn load(conn: &mut Conn, keys: u64, value_len: usize, ttl: bool) -> Result<()> {
    let mut buf = Vec::with_capacity(LOAD_BATCH as usize * (value_len + 64));
    let mut start = 0;
    while start < keys {
        let end = (start + LOAD_BATCH).min(keys);
        buf.clear();
        for i in start..end {
            let key = format!("key:{i:010}");
            let value = value(i, value_len);
            if ttl {
                resp::encode(
                    &mut buf,
                    &[b"SET", key.as_bytes(), &value, b"EX", TTL_SECS.as_bytes()],
                );
            } else {
                resp::encode(&mut buf, &[b"SET", key.as_bytes(), &value]);
            }
        }
        conn.send(&buf)?;
        for i in start..end {
            match conn.read_reply()? {
                Reply::Simple(s) if s == "OK" => {}
                Reply::Error(e) => bail!("SET key:{i:010} failed: {e}"),
                other => bail!("SET key:{i:010} answered {other:?}"),
            }
        }
        start = end;
    }
    Ok(())
}

/// A `len`-byte value unique to key `i`, not integer-like (so neither
/// server stores it as an integer): `v0000000042xxxx...`.
fn value(i: u64, len: usize) -> Vec<u8> {
    let mut v = format!("v{i:010}").into_bytes();
    v.resize(len, b'x');
    v
}

/// Context lines of the report.
#[derive(Debug)]
struct Header {
    lines: Vec<(&'static str, String)>,
}

fn header(tools: &Tools, plan: &Plan, opts: &Options) -> Header {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let nproc = capture("nproc", &[]);
    let p1 = plan.workloads[0].requests;
    let p16 = plan.workloads[2].requests;
    Header {
        lines: vec![
            ("Date", capture("date", &["-u"])),
            ("Machine", format!("{}, {cpu}, nproc {nproc}", capture("uname", &["-srm"]))),
            ("Redis", capture(&tools.redis_server.to_string_lossy(), &["--version"])),
            ("Command", format!("`{}`", opts.command_line)),
            (
                "Setup",
                format!(
                    "redis-benchmark -c {CLIENTS} -r {KEYSPACE} --csv, one client thread sharing the \
                     {nproc} cores with the servers; -n {p1} unpipelined, -n {p16} with -P 16. \
                     Ours: `--loglevel warning{}`; Redis: \
                     `--save '' --appendonly no`. Median of {} run(s), order ours/Redis flipped \
                     every run.",
                    if opts.server_args.is_empty() {
                        ", default worker threads (one per core)".to_string()
                    } else {
                        format!(" {}", opts.server_args.join(" "))
                    },
                    plan.runs
                ),
            ),
        ],
    }
}

/// A command's trimmed stdout, or a note saying why there is none.
fn capture(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => format!("unknown (`{program}` exited {})", o.status),
        Err(e) => format!("unknown (`{program}`: {e})"),
    }
}

/// The Markdown report.
fn render(
    header: &Header,
    plan: &Plan,
    cells: &[[Cell; 2]],
    memory: &[[Result<Memory, String>; 2]],
) -> String {
    let mut md = String::new();
    let mut notes = Vec::new();
    md.push_str("## resp-server vs Redis\n\n");
    for (k, v) in &header.lines {
        let _ = writeln!(md, "- {k}: {v}");
    }

    md.push_str("\n### Throughput and latency\n\n");
    md.push_str(
        "ratio = ours / Redis ops/s (above 1: ours is faster). CPU = server CPU time \
         (user + system, from /proc) per request, µs; its ratio is Redis / ours \
         (above 1: ours does the same work with less CPU).\n\n",
    );
    md.push_str(
        "| workload | ours ops/s | Redis ops/s | ratio | ours p50/p99 ms | Redis p50/p99 ms \
         | ours / Redis CPU µs/req | CPU ratio |\n",
    );
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (w, cell) in plan.workloads.iter().zip(cells) {
        let [ours, redis] = [&cell[0], &cell[1]].map(|c| c.median());
        let ops = |c: &Cell, m: Option<Sample>| match (m, &c.unsupported) {
            (_, Some(_)) => "✗ unsupported".to_string(),
            (None, None) => "✗ failed".to_string(),
            (Some(s), None) => thousands(s.rps),
        };
        let lat = |m: Option<Sample>| match m {
            Some(s) => format!("{:.3} / {:.3}", s.p50_ms, s.p99_ms),
            None => "–".to_string(),
        };
        let ratio = match (ours, redis) {
            (Some(o), Some(r)) if r.rps > 0.0 => format!("{:.2}", o.rps / r.rps),
            _ => "–".to_string(),
        };
        let (cpu, cpu_ratio) = match (ours, redis) {
            (Some(o), Some(r)) if o.cpu_us > 0.0 => (
                format!("{:.2} / {:.2}", o.cpu_us, r.cpu_us),
                format!("{:.2}", r.cpu_us / o.cpu_us),
            ),
            _ => ("–".to_string(), "–".to_string()),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {ratio} | {} | {} | {cpu} | {cpu_ratio} |",
            w.label,
            ops(&cell[0], ours),
            ops(&cell[1], redis),
            lat(ours),
            lat(redis)
        );
        for kind in Kind::BOTH {
            let c = &cell[kind.idx()];
            if let Some(e) = &c.unsupported {
                notes.push(format!(
                    "{} on {}: unsupported: {}",
                    w.label,
                    kind.name(),
                    shorten(e, 160)
                ));
            }
            if let Some(e) = c.errors.first() {
                notes.push(format!(
                    "{} on {}: {} of {} run(s) failed: {}",
                    w.label,
                    kind.name(),
                    c.errors.len(),
                    plan.runs,
                    shorten(e, 200)
                ));
            }
        }
    }

    if plan.runs > 1 {
        md.push_str("\nops/s of each run, ours / Redis:\n\n| workload |");
        for r in 1..=plan.runs {
            let _ = write!(md, " run {r} |");
        }
        md.push_str("\n|---|");
        md.push_str(&"---:|".repeat(plan.runs));
        md.push('\n');
        for (w, cell) in plan.workloads.iter().zip(cells) {
            let _ = write!(md, "| {} |", w.label);
            for r in 0..plan.runs {
                let [o, x] = [&cell[0], &cell[1]].map(|c| {
                    c.samples
                        .get(r)
                        .map_or("–".to_string(), |s| thousands(s.rps))
                });
                let _ = write!(md, " {o} / {x} |");
            }
            md.push('\n');
        }
    }

    let _ = write!(
        md,
        "\n### Memory per key\n\n{} keys `key:%010d` per case (14 B keys), one fresh server per \
         server and case; B/key = (VmRSS after − VmRSS before) / keys; TTL cases use \
         `SET k v EX {TTL_SECS}`. ratio = ours / Redis (below 1: ours is smaller). Redis' \
         `INFO memory` used_memory growth is given for reference.\n\n",
        thousands(plan.keys as f64)
    );
    md.push_str("| case | ours B/key | Redis B/key | ratio | Redis used_memory B/key |\n");
    md.push_str("|---|---:|---:|---:|---:|\n");
    for (case, row) in MEM_CASES.iter().zip(memory) {
        let mut cell = |kind: Kind| match &row[kind.idx()] {
            Ok(m) => {
                if !m.dbsize_checked {
                    notes.push(format!(
                        "{} on {}: DBSIZE unsupported, the key count is not confirmed",
                        case.label,
                        kind.name()
                    ));
                }
                format!("{:.1}", m.rss_per_key)
            }
            Err(e) => {
                notes.push(format!(
                    "{} on {}: {}",
                    case.label,
                    kind.name(),
                    shorten(e, 200)
                ));
                "✗ failed".to_string()
            }
        };
        let (ours, redis) = (cell(Kind::Ours), cell(Kind::Redis));
        let ratio = match (&row[0], &row[1]) {
            (Ok(o), Ok(r)) if r.rss_per_key > 0.0 => {
                format!("{:.2}", o.rss_per_key / r.rss_per_key)
            }
            _ => "–".to_string(),
        };
        let used = match &row[1] {
            Ok(Memory {
                used_per_key: Some(u),
                ..
            }) => format!("{u:.1}"),
            _ => "–".to_string(),
        };
        let _ = writeln!(
            md,
            "| {} | {ours} | {redis} | {ratio} | {used} |",
            case.label
        );
    }

    if !notes.is_empty() {
        md.push_str("\nNotes:\n\n");
        for n in notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    md
}

/// Median of a non-empty list (mean of the middle two for even lengths).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `1234567.8` → `"1,234,568"`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// At most `max` characters of `s`, with an ellipsis when cut.
fn shorten(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redis_benchmark_csv() {
        let text = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\
                    \"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
                    \"MSET (10 keys)\",\"56657.23\",\"0.736\",\"0.144\",\"0.623\",\"1.439\",\"2.631\",\"3.631\"\n";
        let s = parse_csv(text).unwrap();
        assert_eq!((s.rps, s.p50_ms, s.p99_ms), (56657.23, 0.623, 2.631));
        assert!(parse_csv("\"test\",\"rps\"\n").is_err());
    }

    #[test]
    fn medians_and_formats() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(thousands(1_234_567.6), "1,234,568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(value(42, 16), b"v0000000042xxxxx");
        assert_eq!(shorten("abcdef", 3), "abc…");
    }

    #[test]
    fn renders_error_markers() {
        let opts = Options {
            quick: true,
            runs: 2,
            requests: None,
            build: false,
            out: None,
            server_args: Vec::new(),
            command_line: "cargo xtask bench".into(),
        };
        let plan = Plan::new(&opts);
        let sample = Sample {
            rps: 1000.0,
            p50_ms: 0.5,
            p99_ms: 1.0,
            cpu_us: 2.0,
        };
        let cells: Vec<[Cell; 2]> = plan
            .workloads
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let ours = match i {
                    4 => Cell {
                        unsupported: Some("ERR unknown command 'MSET'".into()),
                        ..Cell::default()
                    },
                    5 => Cell {
                        errors: vec!["boom".into(); 2],
                        ..Cell::default()
                    },
                    _ => Cell {
                        samples: vec![sample; 2],
                        ..Cell::default()
                    },
                };
                [
                    ours,
                    Cell {
                        samples: vec![sample; 2],
                        ..Cell::default()
                    },
                ]
            })
            .collect();
        let ok = Memory {
            rss_per_key: 50.0,
            used_per_key: Some(48.0),
            dbsize_checked: true,
        };
        let memory: Vec<_> = MEM_CASES
            .iter()
            .map(|_| [Err("SET failed".into()), Ok(ok)])
            .collect();
        let header = Header {
            lines: vec![("Date", "today".into())],
        };
        let md = render(&header, &plan, &cells, &memory);
        assert!(
            md.contains("| SET | 1,000 | 1,000 | 1.00 | 0.500 / 1.000 | 0.500 / 1.000 |"),
            "{md}"
        );
        assert!(
            md.contains("| MSET (10 keys) | ✗ unsupported | 1,000 | – | – |"),
            "{md}"
        );
        assert!(md.contains("| INCR | ✗ failed | 1,000 | – |"), "{md}");
        assert!(
            md.contains("INCR on ours: 2 of 2 run(s) failed: boom"),
            "{md}"
        );
        assert!(
            md.contains("| 16 B values | ✗ failed | 50.0 | – | 48.0 |"),
            "{md}"
        );
        assert!(
            md.contains("| SET | 1,000 / 1,000 | 1,000 / 1,000 |"),
            "{md}"
        );
    }
}
