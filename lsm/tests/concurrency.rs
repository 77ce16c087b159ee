//! Many writers and readers at once: group commit shares fsyncs, batches
//! stay atomic for readers, and everything acknowledged is there after
//! reopen.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::dump;
use lsm::{Db, Durability, Options, WriteBatch};

#[test]
fn concurrent_group_commit_writers_and_readers() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        memtable_bytes: 64 << 10,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let writers = 4;
    let per = 150;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for w in 0..writers {
            let db = &db;
            s.spawn(move || {
                for i in 0..per {
                    // Each batch writes the same counter under two keys.
                    let mut b = WriteBatch::new();
                    let v = format!("{w}-{i}");
                    b.put(format!("a{w}"), &v).put(format!("b{w}"), &v);
                    b.put(format!("w{w}-{i:04}"), "x");
                    db.write_with(b, Durability::GroupCommit).unwrap();
                }
            });
        }
        for _ in 0..2 {
            let (db, stop) = (&db, &stop);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let snap = db.snapshot();
                    for w in 0..writers {
                        let a = snap.get(format!("a{w}")).unwrap();
                        let b = snap.get(format!("b{w}")).unwrap();
                        assert_eq!(a, b, "a batch was seen half-applied");
                    }
                    let n = db.prefix("w").count();
                    assert!(n <= writers * per);
                }
            });
        }
        s.spawn(|| {
            // Stop the readers once the writers are done.
            while db.stats().batches < (writers * per) as u64 {
                std::thread::yield_now();
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    let st = db.stats();
    assert_eq!(st.batches, (writers * per) as u64);
    assert!(st.wal_syncs <= st.commit_groups);
    // The writes outgrew the memtable: at least one was frozen (its flush
    // may still be running in the background; `flush` waits for it).
    assert!(st.flushes + st.frozen_memtables as u64 > 0, "{st:?}");
    db.flush().unwrap();
    assert!(db.stats().flushes > 0);
    let before = dump(&db).unwrap();
    assert_eq!(before.len(), writers * per + 2 * writers);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(dump(&db).unwrap(), before);
}

/// Readers without snapshots race flushes and compactions: a counter a
/// writer only increases never reads smaller, and never vanishes.
#[test]
fn reads_never_go_back_in_time_while_compacting() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        memtable_bytes: 4096,
        block_size: 512,
        l0_compaction_trigger: 2,
        l0_slowdown_trigger: 6,
        l0_stop_trigger: 12,
        level1_bytes: 8 << 10,
        level_size_ratio: 2,
        target_table_bytes: 2 << 10,
        num_levels: 4,
        // Tables reopen on demand, racing compaction's deletions.
        max_open_tables: 2,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    let writers = 2u32;
    let per = 1500u32;
    let keys = 20u32;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for w in 0..writers {
            let db = &db;
            s.spawn(move || {
                for i in 1..=per {
                    db.put(format!("c{w}-{:02}", i % keys), format!("{i:06}"))
                        .unwrap();
                }
            });
        }
        for _ in 0..2 {
            let (db, stop) = (&db, &stop);
            s.spawn(move || {
                let mut last = vec![0u32; (writers * keys) as usize];
                while !stop.load(Ordering::Relaxed) {
                    for w in 0..writers {
                        for k in 0..keys {
                            let slot = &mut last[(w * keys + k) as usize];
                            let got = db.get(format!("c{w}-{k:02}")).unwrap();
                            let n = got
                                .map_or(0, |v| std::str::from_utf8(&v).unwrap().parse().unwrap());
                            assert!(n >= *slot, "c{w}-{k:02} went from {} to {n}", *slot);
                            *slot = n;
                        }
                    }
                }
            });
        }
        s.spawn(|| {
            while db.stats().batches < u64::from(writers * per) {
                std::thread::yield_now();
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    db.wait_for_compactions().unwrap();
    assert!(db.stats().compactions > 0);
    for w in 0..writers {
        for k in 0..keys {
            let want = (1..=per).filter(|i| i % keys == k).max().unwrap();
            let got = db.get(format!("c{w}-{k:02}")).unwrap().unwrap();
            assert_eq!(got, format!("{want:06}"));
        }
    }
}
