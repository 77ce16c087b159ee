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
    assert!(st.flushes > 0, "{st:?}");
    let before = dump(&db).unwrap();
    assert_eq!(before.len(), writers * per + 2 * writers);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(dump(&db).unwrap(), before);
}
