//! Crash test: a workload runs on the fault-injecting file system, which
//! takes a crash image after every write and every sync (power loss,
//! power loss with torn unsynced tails, and process crash). Every image
//! must reopen, hold every write acknowledged as durable, and hold exactly
//! the state after some prefix of the acknowledged history (batches whole).
//!
//! `LSM_CRASH_OPS` (default 120) operations per seed, `LSM_CRASH_SEEDS`
//! (default 3) seeds.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::{dump, env_usize, FaultFs, Loss};
use lsm::{Db, Durability, Options, WriteBatch};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn opts(fs: &FaultFs) -> Options {
    Options {
        memtable_bytes: 4096,
        block_size: 512,
        fs: Arc::new(fs.clone()),
        // Compactions run (and are interrupted by crash images) too.
        l0_compaction_trigger: 2,
        l0_slowdown_trigger: 4,
        l0_stop_trigger: 8,
        level1_bytes: 8 << 10,
        level_size_ratio: 2,
        target_table_bytes: 2 << 10,
        num_levels: 4,
        max_open_tables: 3,
        ..Options::default()
    }
}

/// Runs one seed; returns the compactions it ran.
fn run(seed: u64, ops: usize) -> u64 {
    let mut compactions = 0;
    let mut rng = fastrand::Rng::with_seed(seed);
    let fs = FaultFs::new();
    let dir = Path::new("/db");
    let db = Db::open(dir, opts(&fs)).unwrap();
    fs.set_capture(true);
    let mut model = Model::new();
    let mut states = vec![model.clone()];
    let mut synced = 0;
    for i in 0..ops {
        let d = [
            Durability::Sync,
            Durability::GroupCommit,
            Durability::Buffered,
        ][rng.usize(0..3)];
        let mut b = WriteBatch::new();
        for _ in 0..rng.usize(1..4) {
            let k = format!("key{:02}", rng.u32(0..40)).into_bytes();
            if rng.u8(0..4) == 0 {
                b.delete(&k);
                model.remove(&k);
            } else {
                let v = format!("v{i}-{}", "x".repeat(rng.usize(0..80))).into_bytes();
                b.put(&k, &v);
                model.insert(k, v);
            }
        }
        db.write_with(b, d).unwrap();
        states.push(model.clone());
        if d != Durability::Buffered {
            synced = i + 1;
        }
        fs.set_acked(i + 1, synced);
        if rng.u8(0..30) == 0 {
            db.flush().unwrap();
        }
    }
    db.wait_for_compactions().unwrap();
    compactions += db.stats().compactions;
    db.close().unwrap();
    fs.set_acked(ops, ops);
    let images = fs.take_images();
    assert!(images.len() > ops, "{} images", images.len());
    let stride = env_usize("LSM_CRASH_STRIDE", 1).max(1);
    for (n, img) in images.iter().enumerate().step_by(stride) {
        let ctx = format!(
            "seed {seed} image {n} ({:?}, acked {}, synced {})",
            img.loss, img.acked, img.acked_synced
        );
        let fs2 = FaultFs::from_image(img);
        let db = Db::open(dir, opts(&fs2)).unwrap_or_else(|e| panic!("{ctx}: open: {e}"));
        let got = dump(&db).unwrap_or_else(|e| panic!("{ctx}: read: {e}"));
        let lower = if img.loss == Loss::Process {
            img.acked
        } else {
            img.acked_synced
        };
        let upper = (img.acked + 1).min(ops);
        let k = (lower..=upper).find(|&k| states[k] == got);
        assert!(
            k.is_some(),
            "{ctx}: contents are not the state after any prefix in {lower}..={upper}"
        );
        // The reopened database keeps working and survives another reopen.
        db.put(b"after", b"crash").unwrap();
        db.close().unwrap();
        let db = Db::open(dir, opts(&fs2)).unwrap();
        assert_eq!(db.get(b"after").unwrap().unwrap(), "crash", "{ctx}");
    }
    compactions
}

#[test]
fn every_crash_image_recovers_an_acknowledged_prefix() {
    let seeds = env_usize("LSM_CRASH_SEEDS", 3);
    let ops = env_usize("LSM_CRASH_OPS", 120);
    let mut compactions = 0;
    for seed in 0..seeds as u64 {
        compactions += run(seed, ops);
    }
    assert!(compactions > 0, "the workload must compact");
}

#[test]
fn failed_wal_write_is_reported_and_stops_writes() {
    let fs = FaultFs::new();
    let db = Db::open("/db", opts(&fs)).unwrap();
    db.put(b"a", b"1").unwrap();
    fs.fail_writes(true);
    assert!(matches!(db.put(b"b", b"2"), Err(lsm::Error::Io { .. })));
    fs.fail_writes(false);
    assert!(
        db.put(b"c", b"3").is_err(),
        "writes stop after a WAL failure"
    );
    assert_eq!(db.get(b"a").unwrap().unwrap(), "1");
    assert_eq!(db.get(b"b").unwrap(), None);
}
