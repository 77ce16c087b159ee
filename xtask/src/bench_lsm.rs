//! `cargo xtask bench lsm`: runs the `lsm_bench` harness of the `benches`
//! crate (benches/src/bin/lsm_bench.rs) in release: issue 6's workloads on
//! our engine, fjall and redb in one run, printed as a Markdown table. The
//! harness does the measuring and the report; this module only builds and
//! starts it with the options passed through.
//!
//! The criterion micro benchmarks of the engine stay separate:
//! `cargo bench -p benches --bench lsm`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context, Result};

/// Options of `cargo xtask bench lsm`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Workloads at 5% of the sizes (`--quick`).
    pub quick: bool,
    /// Multiplier of every workload's size (`--scale F`; 1.0 = the issue's).
    pub scale: Option<String>,
    /// Build the harness first (not with `--no-build`).
    pub build: bool,
    /// Also write the Markdown report here.
    pub out: Option<PathBuf>,
}

/// Builds (unless `--no-build`) and runs the harness; it prints the report
/// on stdout and writes `--out`.
///
/// # Errors
/// A failed build, a missing binary, or a harness that exits unsuccessfully.
pub fn run(root: &Path, opts: &Options) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    if opts.build {
        eprintln!("building: cargo build --release -p benches --bin lsm_bench");
        let status = Command::new(&cargo)
            .current_dir(root)
            .args(["build", "--release", "-p", "benches", "--bin", "lsm_bench"])
            .status()
            .with_context(|| format!("running {cargo:?}"))?;
        ensure!(
            status.success(),
            "cargo build --release -p benches --bin lsm_bench failed ({status})"
        );
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("release").join("lsm_bench");
    ensure!(
        bin.is_file(),
        "{} not found (build it with cargo build --release -p benches --bin lsm_bench)",
        bin.display()
    );
    // The caller's working directory, so that a relative --out lands
    // where the caller expects.
    let mut cmd = Command::new(&bin);
    if opts.quick {
        cmd.arg("--quick");
    }
    if let Some(s) = &opts.scale {
        cmd.args(["--scale", s]);
    }
    if let Some(out) = &opts.out {
        cmd.arg("--out").arg(out);
    }
    let status = cmd
        .status()
        .with_context(|| format!("running {}", bin.display()))?;
    ensure!(status.success(), "{} failed ({status})", bin.display());
    Ok(())
}
