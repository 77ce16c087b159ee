//! Corruption test: flip bytes in every file type (WAL, table, manifest)
//! of a real database directory. Opening and reading must either return
//! an error naming the damaged file (and, for corruption, an offset) or
//! return exactly the data written (a damaged last WAL record may be cut
//! as a torn tail, losing only that unsynced-looking batch); never panic,
//! never wrong data.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{dump, env_usize};
use lsm::{Db, Durability, Error, Options, WalRecovery, WriteBatch};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn opts() -> Options {
    Options {
        memtable_bytes: 4096,
        block_size: 512,
        // Tables written by compaction in deeper levels too.
        l0_compaction_trigger: 2,
        level1_bytes: 4 << 10,
        level_size_ratio: 2,
        target_table_bytes: 2 << 10,
        num_levels: 4,
        ..Options::default()
    }
}

/// Builds a database with tables and a live WAL; returns the states after
/// each batch.
fn build(dir: &Path) -> Vec<Model> {
    let db = Db::open(dir, opts()).unwrap();
    let mut model = Model::new();
    let mut states = vec![model.clone()];
    for i in 0..120u32 {
        let mut b = WriteBatch::new();
        for j in 0..3u32 {
            let k = format!("key{:03}", (i * 7 + j * 13) % 150).into_bytes();
            let v = format!("value-{i}-{j}").into_bytes();
            b.put(&k, &v);
            model.insert(k, v);
        }
        db.write_with(b, Durability::Buffered).unwrap();
        states.push(model.clone());
        if i == 60 {
            db.flush().unwrap();
        }
    }
    db.wait_for_compactions().unwrap();
    assert!(db.stats().compactions > 0, "the build must compact");
    db.close().unwrap();
    states
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn check(dir: &Path, damaged: &Path, states: &[Model], ctx: &str) {
    let names_file = |e: &Error| match e {
        Error::Corruption { file, .. } | Error::BadMagic { file, .. } => file == damaged,
        Error::UnsupportedVersion { file, .. } => file == damaged,
        _ => false,
    };
    let db = match Db::open(dir, opts()) {
        Ok(db) => db,
        Err(e) => {
            assert!(
                names_file(&e),
                "{ctx}: open error does not name the file: {e}"
            );
            return;
        }
    };
    match dump(&db) {
        Ok(got) => {
            let last = states.len() - 1;
            // Either everything, or everything but a torn last WAL batch.
            assert!(
                got == states[last] || got == states[last - 1],
                "{ctx}: wrong data after corruption"
            );
        }
        Err(e) => assert!(
            names_file(&e),
            "{ctx}: read error does not name the file: {e}"
        ),
    }
}

#[test]
fn flipped_bytes_in_every_file_type_are_detected() {
    let base = tempfile::tempdir().unwrap();
    let good = base.path().join("good");
    let states = build(&good);
    // Every file but the (empty) LOCK file, whose content means nothing.
    let mut files: Vec<PathBuf> = std::fs::read_dir(&good)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "LOCK"))
        .collect();
    files.sort();
    let kinds: Vec<String> = files
        .iter()
        .map(|p| {
            p.extension()
                .map_or("MANIFEST".into(), |e| e.to_string_lossy().into())
        })
        .collect();
    for k in ["wal", "sst", "MANIFEST"] {
        assert!(kinds.iter().any(|x| x == k), "no {k} file in {files:?}");
    }
    let flips = env_usize("LSM_CORRUPT_FLIPS", 60);
    let mut rng = fastrand::Rng::with_seed(5);
    let work = base.path().join("work");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let name = f.file_name().unwrap();
        // The header, the footer region, and random positions.
        let mut positions: Vec<usize> = (0..16.min(bytes.len())).collect();
        positions.extend(bytes.len().saturating_sub(70)..bytes.len());
        positions.extend((0..flips).map(|_| rng.usize(0..bytes.len())));
        for pos in positions {
            let _ = std::fs::remove_dir_all(&work);
            copy_dir(&good, &work);
            let mut b = bytes.clone();
            b[pos] ^= 1 << rng.u8(0..8);
            let damaged = work.join(name);
            std::fs::write(&damaged, &b).unwrap();
            check(&work, &damaged, &states, &format!("{name:?} byte {pos}"));
        }
    }
}

#[test]
fn mid_wal_corruption_names_file_and_offset_and_salvage_keeps_prefix() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("db");
    {
        let db = Db::open(&dir, Options::default()).unwrap();
        for i in 0..50u32 {
            db.put(format!("k{i:02}"), format!("v{i}")).unwrap();
        }
        db.close().unwrap();
    }
    let wal = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "wal") && std::fs::metadata(p).unwrap().len() > 100
        })
        .unwrap();
    let mut b = std::fs::read(&wal).unwrap();
    let at = b.len() / 2;
    b[at] ^= 0xff;
    std::fs::write(&wal, &b).unwrap();
    match Db::open(&dir, Options::default()) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!(file, wal);
            assert!(offset <= at as u64 && offset % 16 == 0, "offset {offset}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    let salvage = Options {
        wal_recovery: WalRecovery::SalvagePrefix,
        ..Options::default()
    };
    let db = Db::open(&dir, salvage).unwrap();
    let got = dump(&db).unwrap();
    assert!(!got.is_empty() && got.len() < 50);
    for (i, (k, v)) in got.iter().enumerate() {
        assert_eq!(k, format!("k{i:02}").as_bytes());
        assert_eq!(v, format!("v{i}").as_bytes());
    }
    db.put(b"new", b"x").unwrap();
    db.close().unwrap();
    // The salvage is final: a strict open now succeeds with the same data.
    let db = Db::open(&dir, Options::default()).unwrap();
    let mut again = dump(&db).unwrap();
    assert_eq!(again.remove(&b"new"[..]).unwrap(), b"x");
    assert_eq!(again, got);
}

#[test]
fn foreign_and_future_files_fail_clearly() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("db");
    Db::open(&dir, Options::default()).unwrap().close().unwrap();
    let m = dir.join("MANIFEST");
    let good = std::fs::read(&m).unwrap();
    let mut future = good.clone();
    future[8] = 9;
    std::fs::write(&m, &future).unwrap();
    let e = Db::open(&dir, Options::default()).unwrap_err();
    assert!(
        matches!(e, Error::UnsupportedVersion { found: 9, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("version 9"));
    std::fs::write(&m, b"SQLite format 3\0 and more bytes here").unwrap();
    let e = Db::open(&dir, Options::default()).unwrap_err();
    assert!(matches!(e, Error::BadMagic { .. }), "{e}");
}
