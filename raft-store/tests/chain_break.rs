//! A flipped byte anywhere in a segment is found by the verifier at the
//! index of the entry it damaged, and reading or reopening never serves it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use raft_store::fs::StdFs;
use raft_store::kv::KvConfig;
use raft_store::{Error, LogOptions, LogStore};

mod common;
use common::{kv_entry, summary};
use openraft::CommittedLeaderId;

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("seg-"))
        .collect();
    v.sort();
    v
}

/// For each byte of a segment file, the log index it belongs to (the file
/// header belongs to the segment's first entry).
fn owners(bytes: &[u8], first_index: u64) -> (Vec<u64>, u64) {
    let mut own = vec![first_index; 16];
    let mut off = 16;
    let mut idx = first_index;
    while off < bytes.len() {
        let len = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
        own.extend(std::iter::repeat_n(idx, 8 + len));
        off += 8 + len;
        idx += 1;
    }
    (own, idx)
}

#[test]
fn flipped_byte_anywhere_is_found_at_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let opts = LogOptions {
        segment_bytes: 512,
        verify_threads: 2,
    };
    let log = LogStore::<KvConfig>::open_with(dir.path(), Arc::new(StdFs), opts).unwrap();
    // Entries to damage (multiple of 6); RAFT_STORE_FLIP_ENTRIES for a bigger sweep.
    let n: u64 = std::env::var("RAFT_STORE_FLIP_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    for start in (1..=n).step_by(6) {
        log.append_entries((start..start + 6).map(|i| kv_entry(1, i)))
            .unwrap();
    }
    assert_eq!(log.verify(..).unwrap(), n);
    let segs = segments(dir.path());
    assert!(
        segs.len() >= 3,
        "test wants several segments, got {}",
        segs.len()
    );

    let mut first = 1;
    let mut flips = 0;
    for seg in &segs {
        let clean = std::fs::read(seg).unwrap();
        let (own, next) = owners(&clean, first);
        assert_eq!(own.len(), clean.len());
        for (off, &want) in own.iter().enumerate() {
            let mut bad = clean.clone();
            bad[off] ^= 0x01 << (off % 8);
            std::fs::write(seg, &bad).unwrap();
            match log.verify(..) {
                Err(Error::ChainBroken { index, path, .. }) => {
                    assert_eq!(index, want, "flip at {} offset {off}", seg.display());
                    assert_eq!(&path, seg);
                }
                other => panic!(
                    "flip at {} offset {off} not found: {other:?}",
                    seg.display()
                ),
            }
            // Verifying from the entry after the damaged one succeeds when
            // the damage is confined to that entry's frame (and not the
            // segment header, which every walk of the segment checks).
            if off >= 16 && want < n {
                // The damaged frame holds the predecessor's hash for want+1:
                // a walk starting there must still report `want`.
                match log.verify(want + 1..) {
                    Err(Error::ChainBroken { index, .. }) => assert_eq!(index, want),
                    other => panic!("walk from {} after flip at {off}: {other:?}", want + 1),
                }
            }
            // Reading the damaged entry is an error, never a damaged entry.
            if off >= 16 {
                match log.read(want..=want) {
                    Err(Error::Corrupt { path, .. }) => assert_eq!(&path, seg),
                    other => panic!(
                        "read of damaged entry {want}: {:?}",
                        other.map(|e| summary(&e))
                    ),
                }
            }
            flips += 1;
        }
        std::fs::write(seg, &clean).unwrap();
        first = next;
    }
    assert_eq!(first, n + 1);
    assert!(flips > 1000);
    assert_eq!(log.verify(..).unwrap(), n);
}

#[test]
fn reopen_with_damaged_middle_frame_names_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = LogStore::<KvConfig>::open(dir.path()).unwrap();
        log.append_entries((1..=10).map(|i| kv_entry(1, i)))
            .unwrap();
    }
    let seg = segments(dir.path()).remove(0);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[200] ^= 0xff;
    std::fs::write(&seg, &bytes).unwrap();
    match LogStore::<KvConfig>::open(dir.path()) {
        Err(Error::Corrupt { path, offset, .. }) => {
            assert_eq!(path, seg);
            assert!(offset <= 200);
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

#[test]
fn damaged_metadata_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = LogStore::<KvConfig>::open(dir.path()).unwrap();
        log.save_vote_sync(&openraft::Vote::new(3, 1)).unwrap();
    }
    let meta = dir.path().join("meta");
    let mut bytes = std::fs::read(&meta).unwrap();
    for i in 0..bytes.len() {
        bytes[i] ^= 0x04;
        std::fs::write(&meta, &bytes).unwrap();
        match LogStore::<KvConfig>::open(dir.path()) {
            Err(Error::Corrupt { path, .. }) => assert_eq!(path, meta),
            other => panic!("flip at {i}: {other:?}"),
        }
        bytes[i] ^= 0x04;
    }
    std::fs::write(&meta, &bytes).unwrap();
    let log = LogStore::<KvConfig>::open(dir.path()).unwrap();
    assert_eq!(log.vote(), Some(openraft::Vote::new(3, 1)));
}

#[test]
fn chain_tip_follows_truncate_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let opts = LogOptions {
        segment_bytes: 1024,
        verify_threads: 1,
    };
    let log = LogStore::<KvConfig>::open_with(dir.path(), Arc::new(StdFs), opts.clone()).unwrap();
    log.append_entries((1..=40).map(|i| kv_entry(1, i)))
        .unwrap();
    let h20 = log.hash_at(20).unwrap().unwrap();
    log.truncate_from(21).unwrap();
    assert_eq!(log.chain_tip(), h20);
    log.append_entries((21..=30).map(|i| kv_entry(2, i)))
        .unwrap();
    let h25 = log.hash_at(25).unwrap().unwrap();
    log.purge_upto(&openraft::LogId::new(CommittedLeaderId::new(2, 1), 25))
        .unwrap();
    assert_eq!(log.verify(..).unwrap(), 5);
    let tip = log.chain_tip();
    drop(log);
    let log = LogStore::<KvConfig>::open_with(dir.path(), Arc::new(StdFs), opts).unwrap();
    assert_eq!(log.chain_tip(), tip);
    assert_eq!(log.verify(..).unwrap(), 5);
    // The first kept entry chains from the purged entry's hash.
    let e26 = log.read(26..=26).unwrap();
    assert_eq!(summary(&e26), summary(&[kv_entry(2, 26)]));
    let _ = h25;
    // A fresh store with the same entries has the same hashes.
    let dir2 = tempfile::tempdir().unwrap();
    let log2 = LogStore::<KvConfig>::open(dir2.path()).unwrap();
    log2.append_entries(
        (1..=20)
            .map(|i| kv_entry(1, i))
            .chain((21..=30).map(|i| kv_entry(2, i))),
    )
    .unwrap();
    assert_eq!(log2.chain_tip(), tip);
    assert_eq!(log2.hash_at(25).unwrap().unwrap(), h25);
}

/// A segment large enough to be verified as several parallel work items
/// (each about 512 KiB): a flip anywhere is still reported at the lowest
/// damaged index, from whichever thread finds it.
#[test]
fn parallel_verify_reports_the_first_break() {
    let dir = tempfile::tempdir().unwrap();
    let opts = LogOptions {
        segment_bytes: 64 << 20,
        verify_threads: 3,
    };
    let log = LogStore::<KvConfig>::open_with(dir.path(), Arc::new(StdFs), opts).unwrap();
    let big = |i: u64| {
        let mut e = kv_entry(1, i);
        if let openraft::EntryPayload::Normal(raft_store::kv::KvCommand::Set { value, .. }) =
            &mut e.payload
        {
            value.push_str(&"y".repeat(1000));
        }
        e
    };
    let n = 2000u64;
    for start in (1..=n).step_by(500) {
        log.append_entries((start..start + 500).map(big)).unwrap();
    }
    assert_eq!(log.verify(..).unwrap(), n);
    let seg = segments(dir.path()).remove(0);
    let clean = std::fs::read(&seg).unwrap();
    assert!(clean.len() > 3 * (512 << 10), "want several work items");
    let (own, _) = owners(&clean, 1);
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..60 {
        let off = rng.usize(16..clean.len());
        let mut bad = clean.clone();
        bad[off] ^= 0x20;
        // A second flip later in the file must not hide the first.
        let later = rng.usize(off..clean.len());
        bad[later] ^= 0x02;
        std::fs::write(&seg, &bad).unwrap();
        match log.verify(..) {
            Err(Error::ChainBroken { index, .. }) => assert_eq!(index, own[off], "flip at {off}"),
            other => panic!("flip at {off}: {other:?}"),
        }
        let from = own[off].saturating_sub(700).max(1);
        match log.verify(from..) {
            Err(Error::ChainBroken { index, .. }) => assert_eq!(index, own[off], "from {from}"),
            other => panic!("flip at {off}, walk from {from}: {other:?}"),
        }
    }
    std::fs::write(&seg, &clean).unwrap();
    assert_eq!(log.verify(..).unwrap(), n);
}
