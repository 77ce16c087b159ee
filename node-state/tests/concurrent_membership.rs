//! Concurrent readers and writers of `SharedMembership` (std threads): a
//! reader never sees a half-updated membership, and the version it sees
//! never goes down.
//!
//! Every update by any writer moves the membership along one fixed cycle:
//! members `1..=n`, member `n` the leader, the rest voters, with
//! `n = (version - 1) % CYCLE + 1`. So the content of a version is a
//! function of its number, and a reader can check the whole snapshot.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use node_state::{Membership, Peers, Role, SharedMembership};

const CYCLE: u64 = 8;
const WRITERS: usize = 2;
const UPDATES_PER_WRITER: usize = 1500;
const READERS: usize = 3;

fn addr_of(id: u64) -> Arc<str> {
    Arc::from(format!("10.0.0.{id}:7000"))
}

fn step(shared: &SharedMembership) -> u64 {
    shared
        .update(|b| {
            let n = b.len() as u64;
            if n == CYCLE {
                b.clear();
                b.insert(1, Role::Leader, addr_of(1));
            } else {
                b.insert(n + 1, Role::Leader, addr_of(n + 1));
            }
            Ok(())
        })
        .unwrap()
}

fn check_whole(m: &Membership) {
    let v = m.version();
    if v == 0 {
        assert!(m.is_empty() && m.leader().is_none());
        return;
    }
    let n = (v - 1) % CYCLE + 1;
    assert_eq!(m.len() as u64, n, "version {v}: member count");
    assert_eq!(m.leader(), Some(n), "version {v}: leader");
    for id in 1..=n {
        let member = m
            .get(id)
            .unwrap_or_else(|| panic!("version {v}: member {id} missing"));
        let want = if id == n { Role::Leader } else { Role::Voter };
        assert_eq!(member.role, want, "version {v}: role of {id}");
        assert_eq!(member.addr, addr_of(id), "version {v}: address of {id}");
    }
}

#[test]
fn readers_see_whole_versions_that_only_grow() {
    let shared = Arc::new(SharedMembership::new());
    let done = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let shared = Arc::clone(&shared);
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut last = 0;
                let mut reads = 0u64;
                let mut reader = shared.reader();
                loop {
                    // Read `done` first: the reads after it see the final version.
                    let finished = done.load(Ordering::Acquire);
                    // Each reader uses one of the three read paths.
                    let v = match r % 3 {
                        0 => shared.with_cluster_members(|m| {
                            check_whole(m);
                            m.version()
                        }),
                        1 => {
                            let snap = shared.snapshot();
                            check_whole(&snap);
                            snap.version()
                        }
                        _ => {
                            let m = reader.load();
                            check_whole(m);
                            m.version()
                        }
                    };
                    assert!(v >= last, "version went down: {last} -> {v}");
                    last = v;
                    reads += 1;
                    if finished {
                        return (last, reads);
                    }
                }
            })
        })
        .collect();

    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let mut last = 0;
                for _ in 0..UPDATES_PER_WRITER {
                    let v = step(&shared);
                    assert!(v > last, "a writer's versions must grow");
                    last = v;
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);

    let total = (WRITERS * UPDATES_PER_WRITER) as u64;
    for r in readers {
        let (last, reads) = r.join().unwrap();
        assert_eq!(
            last, total,
            "a reader finishing after the writers sees the last version"
        );
        assert!(reads > 0);
    }
    assert_eq!(shared.version(), total);
    check_whole(&shared.snapshot());
}

#[test]
fn an_old_snapshot_is_unchanged_by_later_updates() {
    let shared = SharedMembership::new();
    step(&shared);
    step(&shared);
    let old = shared.snapshot();
    let copy = (*old).clone();
    for _ in 0..20 {
        step(&shared);
    }
    assert_eq!(*old, copy);
    check_whole(&old);
}

#[test]
fn concurrent_peer_updates_are_not_lost() {
    const THREADS: u64 = 4;
    const ROUNDS: u64 = 2000;
    let peers = Arc::new(Peers::new());
    let start = std::time::Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let peers = Arc::clone(&peers);
            thread::spawn(move || {
                // Each thread owns peers t, t + THREADS, ...; all share the map.
                for round in 1..=ROUNDS {
                    for k in 0..4 {
                        let id = t + k * THREADS;
                        peers.set_replication_lag(id, round);
                        peers.heartbeat(id, start, None);
                    }
                    let mut seen = 0;
                    peers.for_each(|_, s| seen += usize::from(s.last_heartbeat.is_some()));
                    assert!(seen <= (THREADS * 4) as usize);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(peers.len(), (THREADS * 4) as usize);
    peers.for_each(|id, s| assert_eq!(s.replication_lag, ROUNDS, "peer {id}"));
}
