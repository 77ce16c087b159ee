//! Leveled compaction: newest versions survive many overwrites and
//! deletions across levels, snapshots keep the versions they see,
//! tombstones go at the last level, and the stats add up.

mod common;

use std::collections::BTreeMap;

use common::dump;
use lsm::{Db, Options};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn small() -> Options {
    Options {
        memtable_bytes: 4096,
        block_size: 512,
        l0_compaction_trigger: 2,
        l0_slowdown_trigger: 6,
        l0_stop_trigger: 10,
        level1_bytes: 16 << 10,
        level_size_ratio: 4,
        target_table_bytes: 4 << 10,
        num_levels: 5,
        block_cache_bytes: 64 << 10,
        ..Options::default()
    }
}

fn check(db: &Db, model: &Model, ctx: &str) {
    for k in 0..60u32 {
        let key = format!("key{k:03}").into_bytes();
        assert_eq!(
            db.get(&key).unwrap().map(|v| v.to_vec()),
            model.get(&key).cloned(),
            "{ctx}: get {k}"
        );
    }
    assert_eq!(&dump(db).unwrap(), model, "{ctx}: scan");
}

#[test]
fn overwritten_and_deleted_keys_read_newest_across_levels() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let mut model = Model::new();
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..40u32 {
        for i in 0..200u32 {
            let key = format!("key{:03}", rng.u32(0..60)).into_bytes();
            if rng.u8(0..4) == 0 {
                db.delete(&key).unwrap();
                model.remove(&key);
            } else {
                let v = format!("r{round}-i{i}-{}", "v".repeat(rng.usize(0..40))).into_bytes();
                db.put(&key, &v).unwrap();
                model.insert(key, v);
            }
        }
        if round % 10 == 9 {
            check(&db, &model, &format!("round {round}"));
        }
    }
    db.wait_for_compactions().unwrap();
    let st = db.stats();
    assert!(st.compactions > 0, "{st:?}");
    let deep = st.tables_per_level[1..].iter().filter(|&&n| n > 0).count();
    assert!(deep >= 1, "{st:?}");
    assert!(st.write_amplification() > 1.0, "{st:?}");
    assert_eq!(
        st.bytes_per_level.iter().sum::<u64>(),
        st.table_bytes,
        "{st:?}"
    );
    check(&db, &model, "settled");
    db.close().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    check(&db, &model, "reopened");
}

#[test]
fn snapshots_keep_their_versions_through_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let mut model = Model::new();
    for k in 0..60u32 {
        let key = format!("key{k:03}").into_bytes();
        let v = format!("first-{k}").into_bytes();
        db.put(&key, &v).unwrap();
        model.insert(key, v);
    }
    let snap = db.snapshot();
    let old = model.clone();
    for round in 0..60u32 {
        for k in 0..60u32 {
            let key = format!("key{k:03}").into_bytes();
            if (k + round) % 5 == 0 {
                db.delete(&key).unwrap();
                model.remove(&key);
            } else {
                let v = format!("r{round}-{k}-{}", "x".repeat(30)).into_bytes();
                db.put(&key, &v).unwrap();
                model.insert(key, v);
            }
        }
    }
    db.wait_for_compactions().unwrap();
    assert!(db.stats().compactions > 0);
    let got: Model = snap
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    assert_eq!(got, old, "snapshot scan");
    for (k, v) in &old {
        assert_eq!(snap.get(k).unwrap().unwrap(), &v[..]);
    }
    check(&db, &model, "current");
}

#[test]
fn tombstones_are_dropped_at_the_last_level_only_when_no_snapshot_needs_them() {
    let opts = || Options {
        l0_compaction_trigger: 1,
        l0_slowdown_trigger: 8,
        l0_stop_trigger: 16,
        ..small()
    };
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    for k in 0..100u32 {
        db.put(format!("key{k:03}"), "value").unwrap();
    }
    db.wait_for_compactions().unwrap();
    assert!(db.stats().table_bytes > 0);
    let snap = db.snapshot();
    for k in 0..100u32 {
        db.delete(format!("key{k:03}")).unwrap();
    }
    db.wait_for_compactions().unwrap();
    // The snapshot sees the values: they and the tombstones stay.
    assert!(db.stats().table_bytes > 0);
    assert_eq!(snap.iter().count(), 100);
    drop(snap);
    // A later compaction over the whole key range, with no snapshot
    // open, drops both.
    let mut b = lsm::WriteBatch::new();
    b.delete("key000").delete("key099");
    db.write(b).unwrap();
    db.wait_for_compactions().unwrap();
    let st = db.stats();
    assert_eq!(st.table_bytes, 0, "{st:?}");
    assert_eq!(db.iter().count(), 0);
}

#[test]
fn bloom_filters_and_block_cache_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            auto_compaction: false,
            ..small()
        },
    )
    .unwrap();
    for k in 0..500u32 {
        db.put(format!("key{k:04}"), "v").unwrap();
    }
    db.flush().unwrap();
    for k in 0..500u32 {
        assert!(db.get(format!("key{k:04}")).unwrap().is_some());
        assert!(db.get(format!("key{k:04}x")).unwrap().is_none());
    }
    let st = db.stats();
    assert!(st.bloom_useful > 400, "{st:?}");
    assert!(st.bloom_useful_rate() > 0.0 && st.bloom_useful_rate() < 1.0);
    assert!(st.block_cache_hits > 0, "{st:?}");
    assert!(st.block_cache_hit_rate() > 0.5, "{st:?}");
}

#[test]
fn bad_level_options_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for o in [
        Options {
            num_levels: 1,
            ..small()
        },
        Options {
            l0_stop_trigger: 2,
            ..small()
        },
        Options {
            level_size_ratio: 1,
            ..small()
        },
    ] {
        assert!(matches!(
            Db::open(dir.path(), o),
            Err(lsm::Error::InvalidArgument(_))
        ));
    }
}

#[test]
fn compact_all_leaves_one_level_without_garbage_and_keeps_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let mut model = Model::new();
    // Every key written five times, then half of them deleted.
    for round in 0..5u32 {
        for k in 0..400u32 {
            let key = format!("key{k:03}").into_bytes();
            let value = format!("v{round}-{k}-{}", "x".repeat(40)).into_bytes();
            db.put(&key, &value).unwrap();
            model.insert(key, value);
        }
    }
    let snap = db.snapshot();
    let before_delete = model.clone();
    for k in (0..400u32).step_by(2) {
        let key = format!("key{k:03}").into_bytes();
        db.delete(&key).unwrap();
        model.remove(&key);
    }
    db.wait_for_compactions().unwrap();
    let bytes_before: u64 = db.stats().bytes_per_level.iter().sum();

    db.compact_all().unwrap();
    let st = db.stats();
    let non_empty = st.tables_per_level.iter().filter(|&&n| n > 0).count();
    assert_eq!(non_empty, 1, "one level holds everything: {st:?}");
    assert_eq!(st.tables_per_level[0], 0, "{st:?}");
    // The snapshot still needs the deleted keys' last versions.
    assert_eq!(&dump_snapshot(&snap), &before_delete);
    assert_eq!(&dump(&db).unwrap(), &model);
    drop(snap);

    // Without the snapshot, the tombstones and the versions only it saw
    // go: less than half the bytes remain.
    db.compact_all().unwrap();
    let bytes_after: u64 = db.stats().bytes_per_level.iter().sum();
    assert!(
        bytes_after * 2 < bytes_before,
        "{bytes_after} bytes after, {bytes_before} before"
    );
    assert_eq!(&dump(&db).unwrap(), &model);
    db.close().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    assert_eq!(&dump(&db).unwrap(), &model);
}

fn dump_snapshot(s: &lsm::Snapshot) -> Model {
    s.iter()
        .map(|r| {
            let (k, v) = r.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect()
}
