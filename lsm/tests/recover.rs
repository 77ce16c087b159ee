//! Opening: torn WAL tails are cut, unreferenced files are removed, and
//! WAL files are deleted once their memtable is in a table.

mod common;

use common::dump;
use lsm::{Db, Options};

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn torn_wal_tail_is_cut_at_the_last_whole_record() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for i in 0..10u32 {
            db.put(format!("k{i}"), format!("v{i}")).unwrap();
        }
        db.close().unwrap();
    }
    let wal = names(dir.path())
        .into_iter()
        .find(|n| n.ends_with(".wal"))
        .unwrap();
    let p = dir.path().join(wal);
    let len = std::fs::metadata(&p).unwrap().len();
    // Cut the last record in half.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len - 20)
        .unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let got = dump(&db).unwrap();
    assert_eq!(got.len(), 9);
    assert!(!got.contains_key(&b"k9"[..]));
    assert_eq!(db.stats().recovered_records, 9);
}

#[test]
fn unreferenced_files_are_removed_and_flushed_wals_deleted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        db.put(b"a", b"1").unwrap();
        db.flush().unwrap();
        db.put(b"b", b"2").unwrap();
        let st = db.stats();
        assert_eq!(st.tables_per_level[0], 1);
        assert_eq!(st.flushes, 1);
        db.close().unwrap();
    }
    let before = names(dir.path());
    assert_eq!(before.iter().filter(|n| n.ends_with(".sst")).count(), 1);
    // Only the WAL written after the flush is left.
    assert_eq!(
        before.iter().filter(|n| n.ends_with(".wal")).count(),
        1,
        "{before:?}"
    );
    std::fs::write(dir.path().join("000999.sst"), b"stray").unwrap();
    std::fs::write(dir.path().join("MANIFEST.tmp"), b"half").unwrap();
    std::fs::write(dir.path().join("000000.wal"), b"old").unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let after = names(dir.path());
    assert!(!after.contains(&"000999.sst".to_string()), "{after:?}");
    assert!(!after.contains(&"MANIFEST.tmp".to_string()));
    assert!(!after.contains(&"000000.wal".to_string()));
    assert_eq!(db.get(b"a").unwrap().unwrap(), "1");
    assert_eq!(db.get(b"b").unwrap().unwrap(), "2");
}

#[test]
fn a_directory_is_opened_by_one_db_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = lsm::Db::open(dir.path(), lsm::Options::default()).unwrap();
    db.put(b"k", b"v").unwrap();
    let second = lsm::Db::open(dir.path(), lsm::Options::default());
    match second {
        Err(lsm::Error::Io { .. }) => {}
        other => panic!("a second open must fail while the first is open: {other:?}"),
    }
    db.close().unwrap();
    let db = lsm::Db::open(dir.path(), lsm::Options::default()).unwrap();
    assert_eq!(db.get(b"k").unwrap().unwrap(), "v");
    assert!(dir.path().join("LOCK").exists());
}
