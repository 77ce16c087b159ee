//! Project automation, run as `cargo xtask <command>` (matklad's "cargo
//! xtask" pattern: a plain binary in the workspace, aliased in
//! `.cargo/config.toml`, with few dependencies).
//!
//! Commands:
//! - `bench [TARGET...] [OPTIONS]`: run benchmarks and print Markdown tables
//!   (see [`USAGE`]). Two targets have a harness of their own:
//!   `resp-server` compares our server with a real Redis using
//!   `redis-benchmark` and a raw-TCP loader; `lsm` runs the `lsm_bench`
//!   binary of the `benches` crate (our engine vs fjall and redb).

mod bench_lsm;
mod bench_server;
mod proc;
mod resp;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

/// The help text, printed by `cargo xtask help` and on usage errors.
const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  bench [TARGET...] [OPTIONS]   run benchmarks, print Markdown tables
  help                          print this text

bench targets:
  resp-server   our server vs Redis 7 (redis-benchmark throughput/latency,
                memory per key); the default when no target is given
  lsm           our lsm engine vs fjall 3.1 and redb 4.5 on issue 6's
                workloads in one run (the lsm_bench binary of benches,
                built in release). The engine's criterion micro benches
                (WAL decode, reopen, put/get/scan) stay separate:
                cargo bench -p benches --bench lsm
  codec, node-state, raft-store
                criterion benchmarks (cargo bench -p benches --bench NAME),
                once written

bench options (resp-server):
  --quick         a tenth of the default request counts and memory keys
  --runs N        runs per workload, the median is reported (default 3)
  --requests N    requests per unpipelined workload (default 200000);
                  the -P 16 workloads send 5*N
  --out FILE      also write the Markdown report to FILE
  --server-args S extra flags for our server, e.g. \"--threads 1\"
  --no-build      use target/release/resp-server as it is (default: build
                  it first with cargo build --release -p resp-server)

bench options (lsm):
  --quick         every workload at 5% of the issue's sizes (--scale 0.05)
  --scale F       every workload's size times F (default 1.0: 2M pairs,
                  1M reads, 200k scans, ...; minutes per engine)
  --out FILE      also write the Markdown report to FILE
  --no-build      use target/release/lsm_bench as it is (default: build it
                  first with cargo build --release -p benches --bin lsm_bench)
  The engines' files go to fresh directories under $TMPDIR (default /tmp).
  With --out, name one target per command.
";

/// Benchmark targets with a harness of their own.
const TARGETS: &[&str] = &["resp-server", "lsm"];

/// The targets run when none is named.
const DEFAULT_TARGETS: &[&str] = &["resp-server"];

/// Benchmark targets measured by criterion: `cargo bench -p benches --bench
/// <name with _>`, once `benches/benches/<name with _>.rs` exists. (The
/// criterion benches of `lsm` are run directly: the `lsm` target is the
/// harness.)
const CRITERION: &[&str] = &["codec", "node-state", "raft-store"];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain, without anyhow's backtrace (RUST_BACKTRACE is often
            // set for the tests, and the backtrace of a usage error is noise).
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Dispatches on the first argument.
fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => bench(&args[1..], &args),
        Some("help" | "-h" | "--help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// `cargo xtask bench [TARGET...] [OPTIONS]`; `all_args` is the whole
/// command line after `xtask`, echoed in the report.
fn bench(args: &[String], all_args: &[String]) -> Result<()> {
    let mut targets = Vec::new();
    let mut opts = bench_server::Options {
        quick: false,
        runs: 3,
        requests: None,
        build: true,
        out: None,
        server_args: Vec::new(),
        command_line: format!("cargo xtask {}", all_args.join(" ")),
    };
    let mut scale = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match inline.clone().or_else(|| it.next().cloned()) {
                Some(v) => Ok(v),
                None => bail!("{name} needs a value\n\n{USAGE}"),
            }
        };
        match flag {
            "--quick" => opts.quick = true,
            "--no-build" => opts.build = false,
            "--runs" => opts.runs = positive(&value("--runs")?, "--runs")?,
            "--requests" => {
                opts.requests = Some(positive(&value("--requests")?, "--requests")? as u64)
            }
            "--out" => opts.out = Some(PathBuf::from(value("--out")?)),
            "--scale" => {
                let v = value("--scale")?;
                match v.parse::<f64>() {
                    Ok(f) if f > 0.0 && f.is_finite() => scale = Some(v),
                    _ => bail!("--scale takes a positive number, got `{v}`"),
                }
            }
            "--server-args" => {
                opts.server_args = value("--server-args")?
                    .split_whitespace()
                    .map(String::from)
                    .collect()
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            f if f.starts_with('-') => bail!("unknown option `{f}`\n\n{USAGE}"),
            name => targets.push(name.to_string()),
        }
    }
    if targets.is_empty() {
        targets.extend(DEFAULT_TARGETS.iter().map(|t| t.to_string()));
    }
    if opts.out.is_some() && targets.len() > 1 {
        bail!("--out takes one target (each target writes its own report)\n\n{USAGE}");
    }
    let runs_lsm = targets.iter().any(|t| t == "lsm");
    if scale.is_some() && !runs_lsm {
        bail!("--scale applies to the lsm target only\n\n{USAGE}");
    }
    if scale.is_some() && opts.quick {
        bail!("--quick and --scale exclude each other (--quick is --scale 0.05)");
    }
    // Check every name before running anything: a typo should not cost a
    // ten-minute run first.
    for t in &targets {
        if CRITERION.contains(&t.as_str()) {
            if !criterion_file(t).is_file() {
                bail!("no benchmark for {t} yet");
            }
        } else if !TARGETS.contains(&t.as_str()) {
            bail!(
                "unknown benchmark target `{t}` (known: {}, {})",
                TARGETS.join(", "),
                CRITERION.join(", ")
            );
        }
    }
    for t in &targets {
        match t.as_str() {
            "resp-server" => bench_server::run(&opts).context("benchmark resp-server")?,
            "lsm" => {
                let lsm_opts = bench_lsm::Options {
                    quick: opts.quick,
                    scale: scale.clone(),
                    build: opts.build,
                    out: opts.out.clone(),
                };
                bench_lsm::run(&workspace_root(), &lsm_opts).context("benchmark lsm")?
            }
            name => criterion_bench(name)?,
        }
    }
    Ok(())
}

/// The criterion benchmark file of target `name`.
fn criterion_file(name: &str) -> PathBuf {
    workspace_root()
        .join("benches")
        .join("benches")
        .join(format!("{}.rs", name.replace('-', "_")))
}

/// The workspace root (the parent of this crate's folder).
fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// Runs `cargo bench -p benches --bench <name>`; criterion prints its own
/// tables (and keeps its reports in target/criterion).
fn criterion_bench(name: &str) -> Result<()> {
    let bench = name.replace('-', "_");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args(["bench", "-p", "benches", "--bench", &bench])
        .status()
        .with_context(|| format!("running cargo bench for {name}"))?;
    if !status.success() {
        bail!("cargo bench -p benches --bench {bench} failed ({status})");
    }
    Ok(())
}

/// Parses a positive integer option value.
fn positive(v: &str, name: &str) -> Result<usize> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{name} takes a positive integer, got `{v}`"),
    }
}
