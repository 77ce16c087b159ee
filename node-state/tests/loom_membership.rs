//! Loom model of membership publication: serialized writers, whole
//! snapshots, growing versions, under every interleaving loom explores.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p node-state --release --test
//! loom_membership`; without `--cfg loom` this file is empty.
#![cfg(loom)]

use std::sync::Arc;

use loom::thread;
use node_state::{Membership, Role, SharedMembership};

/// Update rule shared by all writers: add member `n + 1` as the leader.
fn grow(shared: &SharedMembership) -> u64 {
    shared
        .update(|b| {
            let next = b.len() as u64 + 1;
            b.insert(next, Role::Leader, Arc::from("h:1"));
            Ok(())
        })
        .unwrap()
}

/// Version `v` has members `1..=v`, member `v` the leader, the others voters.
fn check_whole(m: &Membership) {
    let v = m.version();
    assert_eq!(m.len() as u64, v);
    assert_eq!(m.leader(), (v > 0).then_some(v));
    for id in 1..=v {
        let want = if id == v { Role::Leader } else { Role::Voter };
        assert_eq!(m.role_of(id), Some(want));
    }
}

#[test]
fn two_writers_and_a_reader() {
    loom::model(|| {
        let shared = Arc::new(SharedMembership::new());
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let shared = Arc::clone(&shared);
                thread::spawn(move || grow(&shared))
            })
            .collect();

        let mut last = 0;
        for _ in 0..2 {
            let v = shared.with_cluster_members(|m| {
                check_whole(m);
                m.version()
            });
            assert!(v >= last);
            last = v;
        }

        let mut versions: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        versions.sort_unstable();
        assert_eq!(versions, [1, 2], "each update gets its own version");
        let fin = shared.snapshot();
        check_whole(&fin);
        assert_eq!(fin.version(), 2);
    });
}

#[test]
fn snapshot_held_across_an_update_is_unchanged() {
    loom::model(|| {
        let shared = Arc::new(SharedMembership::new());
        grow(&shared);
        let writer = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || grow(&shared))
        };
        let snap = shared.snapshot();
        let v = snap.version();
        check_whole(&snap);
        let later = shared.snapshot();
        assert!(later.version() >= v);
        check_whole(&later);
        writer.join().unwrap();
        assert_eq!(snap.version(), v, "an old snapshot never changes");
        check_whole(&snap);
    });
}
