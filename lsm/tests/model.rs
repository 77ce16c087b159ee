//! Model test: random puts, deletes, batches, snapshots, iterations,
//! flushes and reopens, checked against a `BTreeMap`, with background
//! compaction active (small memtables, tables and levels).
//!
//! `LSM_MODEL_SEEDS` (default 6) seeds of `LSM_MODEL_STEPS` (default 1500)
//! steps each; CI runs the defaults, a long sweep sets larger values.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use common::{dump, env_usize};
use lsm::{Db, Durability, Options, WriteBatch};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn key(rng: &mut fastrand::Rng) -> Vec<u8> {
    // Few distinct keys so versions pile up; shared prefixes.
    format!("k{:03}", rng.u32(0..300)).into_bytes()
}

fn value(rng: &mut fastrand::Rng) -> Vec<u8> {
    let n = rng.usize(0..60);
    (0..n).map(|_| rng.alphanumeric() as u8).collect()
}

fn bound(rng: &mut fastrand::Rng) -> Bound<Vec<u8>> {
    match rng.u8(0..3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(key(rng)),
        _ => Bound::Excluded(key(rng)),
    }
}

fn model_range(m: &Model, lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let ok_lo = |k: &Vec<u8>| match lo {
        Bound::Included(l) => k >= l,
        Bound::Excluded(l) => k > l,
        Bound::Unbounded => true,
    };
    let ok_hi = |k: &Vec<u8>| match hi {
        Bound::Included(h) => k <= h,
        Bound::Excluded(h) => k < h,
        Bound::Unbounded => true,
    };
    m.iter()
        .filter(|(k, _)| ok_lo(k) && ok_hi(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Reads `it` alternating randomly between the two ends.
fn drain_mixed(mut it: lsm::Iter, rng: &mut fastrand::Rng) -> (Pairs, Pairs) {
    let (mut front, mut back) = (Vec::new(), Vec::new());
    loop {
        let from_front = rng.bool();
        let item = if from_front {
            it.next()
        } else {
            it.next_back()
        };
        match item {
            None => break,
            Some(Ok((k, v))) => {
                let kv = (k.to_vec(), v.to_vec());
                if from_front {
                    front.push(kv);
                } else {
                    back.push(kv);
                }
            }
            Some(Err(e)) => panic!("iteration failed: {e}"),
        }
    }
    back.reverse();
    (front, back)
}

fn open(dir: &std::path::Path, rng: &mut fastrand::Rng) -> Db {
    let opts = Options {
        memtable_bytes: 4096 * rng.usize(1..4),
        block_size: 256 * rng.usize(1..5),
        compression: if rng.bool() {
            lsm::sstable::block::Compression::Lz4
        } else {
            lsm::sstable::block::Compression::None
        },
        // Small levels and tables so compactions run during the test.
        l0_compaction_trigger: rng.usize(1..4),
        l0_slowdown_trigger: 6,
        l0_stop_trigger: 12,
        level1_bytes: 4096 * rng.u64(2..8),
        level_size_ratio: rng.u64(2..5),
        target_table_bytes: 1024 * rng.u64(1..8),
        num_levels: rng.usize(3..7),
        block_cache_bytes: [0, 16 << 10, 1 << 20][rng.usize(0..3)],
        max_open_tables: rng.usize(1..10),
        ..Options::default()
    };
    Db::open(dir, opts).unwrap()
}

fn run(seed: u64, steps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut db = open(dir.path(), &mut rng);
    let mut model = Model::new();
    let mut snaps: Vec<(lsm::Snapshot, Arc<Model>)> = Vec::new();
    for step in 0..steps {
        let ctx = format!("seed {seed} step {step}");
        match rng.u32(0..100) {
            0..=34 => {
                let (k, v) = (key(&mut rng), value(&mut rng));
                db.put(&k, &v).unwrap();
                model.insert(k, v);
            }
            35..=49 => {
                let k = key(&mut rng);
                db.delete(&k).unwrap();
                model.remove(&k);
            }
            50..=59 => {
                let mut b = WriteBatch::new();
                for _ in 0..rng.usize(1..8) {
                    let k = key(&mut rng);
                    if rng.u8(0..3) == 0 {
                        b.delete(&k);
                        model.remove(&k);
                    } else {
                        let v = value(&mut rng);
                        b.put(&k, &v);
                        model.insert(k, v);
                    }
                }
                let d = [
                    Durability::Sync,
                    Durability::GroupCommit,
                    Durability::Buffered,
                ][rng.usize(0..3)];
                db.write_with(b, d).unwrap();
            }
            60..=74 => {
                let k = key(&mut rng);
                assert_eq!(
                    db.get(&k).unwrap().map(|b| b.to_vec()),
                    model.get(&k).cloned(),
                    "{ctx}: get"
                );
            }
            75..=79 => {
                snaps.push((db.snapshot(), Arc::new(model.clone())));
                if snaps.len() > 4 {
                    snaps.remove(rng.usize(0..snaps.len()));
                }
            }
            80..=84 => {
                if let Some((s, m)) = snaps.get(rng.usize(0..snaps.len().max(1))) {
                    let k = key(&mut rng);
                    assert_eq!(
                        s.get(&k).unwrap().map(|b| b.to_vec()),
                        m.get(&k).cloned(),
                        "{ctx}: snapshot get"
                    );
                    let (lo, hi) = (bound(&mut rng), bound(&mut rng));
                    let got: Vec<_> = s
                        .range((lo.clone(), hi.clone()))
                        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                        .collect();
                    assert_eq!(got, model_range(m, &lo, &hi), "{ctx}: snapshot range");
                }
            }
            85..=93 => {
                let (lo, hi) = (bound(&mut rng), bound(&mut rng));
                let want = model_range(&model, &lo, &hi);
                match rng.u8(0..3) {
                    0 => {
                        let got: Vec<_> = db
                            .range((lo.clone(), hi.clone()))
                            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                            .collect();
                        assert_eq!(got, want, "{ctx}: forward {lo:?}..{hi:?}");
                    }
                    1 => {
                        let mut got: Vec<_> = db
                            .range((lo.clone(), hi.clone()))
                            .rev()
                            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                            .collect();
                        got.reverse();
                        assert_eq!(got, want, "{ctx}: backward {lo:?}..{hi:?}");
                    }
                    _ => {
                        let (front, back) =
                            drain_mixed(db.range((lo.clone(), hi.clone())), &mut rng);
                        let mut all = front;
                        all.extend(back);
                        assert_eq!(all, want, "{ctx}: mixed ends {lo:?}..{hi:?}");
                    }
                }
            }
            94..=95 => {
                let p = format!("k{}", rng.u32(0..3)).into_bytes();
                let got: Vec<_> = db
                    .prefix(&p)
                    .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                    .collect();
                let want: Vec<_> = model
                    .iter()
                    .filter(|(k, _)| k.starts_with(&p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, want, "{ctx}: prefix");
            }
            96..=97 => db.flush().unwrap(),
            _ => {
                snaps.clear();
                if rng.bool() {
                    db.close().unwrap();
                } else {
                    drop(db);
                }
                db = open(dir.path(), &mut rng);
                assert_eq!(dump(&db).unwrap(), model, "{ctx}: after reopen");
            }
        }
    }
    snaps.clear();
    assert_eq!(dump(&db).unwrap(), model, "seed {seed}: final");
    db.wait_for_compactions().unwrap();
    assert_eq!(dump(&db).unwrap(), model, "seed {seed}: compacted");
    db.close().unwrap();
    let db = open(dir.path(), &mut rng);
    assert_eq!(dump(&db).unwrap(), model, "seed {seed}: final reopen");
}

#[test]
fn model_matches_btreemap() {
    let seeds = env_usize("LSM_MODEL_SEEDS", 6);
    let steps = env_usize("LSM_MODEL_STEPS", 1500);
    for seed in 0..seeds as u64 {
        run(seed, steps);
    }
}
