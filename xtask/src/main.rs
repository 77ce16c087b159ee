//! Project automation, run as `cargo xtask <command>` (matklad's "cargo
//! xtask" pattern: a plain binary in the workspace, aliased in
//! `.cargo/config.toml`, with few dependencies).
//!
//! Commands:
//! - `bench [TARGET...] [OPTIONS]`: run benchmarks and print Markdown tables
//!   (see [`USAGE`]). Today only `resp-server` has one: it compares our
//!   server with a real Redis using `redis-benchmark` and a raw-TCP loader.

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
  lsm, codec, node-state, raft-store
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
";

/// Benchmark targets with a harness of their own (run by default).
const TARGETS: &[&str] = &["resp-server"];

/// Benchmark targets measured by criterion: `cargo bench -p benches --bench
/// <name with _>`, once `benches/benches/<name with _>.rs` exists.
const CRITERION: &[&str] = &["lsm", "codec", "node-state", "raft-store"];

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
        targets.extend(TARGETS.iter().map(|t| t.to_string()));
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
