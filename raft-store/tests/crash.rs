//! Crash tests through the fault-injecting file layer: a crash at every
//! write and fsync of append, truncate, purge and vote leaves a store that
//! reopens, with every acknowledged (flushed) entry present, truncate and
//! purge either done or not done, and an intact hash chain.

use std::sync::Arc;

use openraft::{CommittedLeaderId, LogId, Vote};
use raft_store::fs::{FaultFs, Fs, StdFs};
use raft_store::kv::KvConfig;
use raft_store::{LogOptions, LogStore};

mod common;
use common::{kv_entry, summary};

/// The acknowledged state of the log.
#[derive(Debug, Clone, PartialEq)]
struct Model {
    entries: Vec<(u64, u64, String)>,
    purged: Option<u64>,
    vote: Option<Vote<u64>>,
}

#[derive(Debug, Clone)]
enum Op {
    Append(u64, std::ops::RangeInclusive<u64>),
    Truncate(u64),
    Purge(u64),
    Vote(Vote<u64>),
}

fn workload() -> Vec<Op> {
    use Op::*;
    vec![
        Vote(openraft::Vote::new(1, 1)),
        Append(1, 1..=5),
        Append(1, 6..=10),
        Append(1, 11..=20),
        Truncate(15),
        Append(2, 15..=18),
        Append(2, 19..=30),
        Purge(10),
        Vote(openraft::Vote::new_committed(2, 2)),
        Append(2, 31..=40),
        Purge(33),
        Truncate(38),
        Append(3, 38..=45),
        Purge(45),
        Append(3, 46..=47),
    ]
}

fn apply(model: &mut Model, op: &Op) {
    match op {
        Op::Append(term, r) => model.entries.extend(summary(
            &r.clone().map(|i| kv_entry(*term, i)).collect::<Vec<_>>(),
        )),
        Op::Truncate(i) => model.entries.retain(|e| e.0 < *i),
        Op::Purge(i) => {
            model.entries.retain(|e| e.0 > *i);
            model.purged = Some(*i);
        }
        Op::Vote(v) => model.vote = Some(*v),
    }
}

fn term_of(model: &Model, index: u64) -> u64 {
    // Terms in the workload: the last append covering the index wins.
    let mut t = 1;
    let mut m = Model {
        entries: vec![],
        purged: None,
        vote: None,
    };
    for op in workload() {
        if let Op::Append(term, r) = &op {
            if r.contains(&index) {
                t = *term;
            }
        }
        apply(&mut m, &op);
    }
    let _ = model;
    t
}

fn run(log: &LogStore<KvConfig>, op: &Op, model: &Model) -> raft_store::Result<()> {
    match op {
        Op::Append(term, r) => log
            .append_entries(r.clone().map(|i| kv_entry(*term, i)))
            .map(|_| ()),
        Op::Truncate(i) => log.truncate_from(*i),
        Op::Purge(i) => log.purge_upto(&LogId::new(
            CommittedLeaderId::new(term_of(model, *i), 1),
            *i,
        )),
        Op::Vote(v) => log.save_vote_sync(v),
    }
}

fn opts() -> LogOptions {
    LogOptions {
        segment_bytes: 1024,
        verify_threads: 1,
    }
}

/// Runs the workload through `fs` until an operation fails; returns the
/// model before the failed operation and the failed operation.
fn run_until_crash(dir: &std::path::Path, fs: Arc<dyn Fs>) -> (Model, Option<Op>) {
    let mut model = Model {
        entries: vec![],
        purged: None,
        vote: None,
    };
    let log = match LogStore::<KvConfig>::open_with(dir, fs, opts()) {
        Ok(l) => l,
        Err(_) => return (model, None),
    };
    for op in workload() {
        if run(&log, &op, &model).is_err() {
            return (model, Some(op));
        }
        apply(&mut model, &op);
    }
    (model, None)
}

fn check(dir: &std::path::Path, before: &Model, failed: &Option<Op>, case: &str) {
    let log = LogStore::<KvConfig>::open_with(dir, Arc::new(StdFs), opts())
        .unwrap_or_else(|e| panic!("{case}: reopen failed: {e}"));
    let got = Model {
        entries: summary(&log.read(..).unwrap_or_else(|e| panic!("{case}: read: {e}"))),
        purged: log.last_purged_log_id().map(|l| l.index),
        vote: log.vote(),
    };
    let mut after = before.clone();
    if let Some(op) = failed {
        apply(&mut after, op);
    }
    let ok = match failed {
        // An unacknowledged append may have left any prefix of its batch.
        Some(Op::Append(..)) => {
            got.purged == before.purged
                && got.vote == before.vote
                && got.entries.len() >= before.entries.len()
                && got.entries[..before.entries.len()] == before.entries[..]
                && after.entries.starts_with(&got.entries)
        }
        _ => got == *before || got == after,
    };
    assert!(
        ok,
        "{case}: failed op {failed:?}\n got   {got:?}\n before {before:?}\n after  {after:?}"
    );
    let n = log
        .verify(..)
        .unwrap_or_else(|e| panic!("{case}: chain: {e}"));
    assert_eq!(n as usize, got.entries.len(), "{case}");
    // The store is usable: the next entry continues the log and the chain.
    let next = log.last_log_id().map_or(1, |l| l.index + 1);
    log.append_entries([kv_entry(9, next)])
        .unwrap_or_else(|e| panic!("{case}: append after reopen: {e}"));
    assert_eq!(
        log.verify(..).unwrap() as usize,
        got.entries.len() + 1,
        "{case}"
    );
}

#[test]
fn crash_at_every_write_and_fsync() {
    // Count the mutating operations of a clean run.
    let clean = tempfile::tempdir().unwrap();
    let counter = FaultFs::new(u64::MAX);
    let (model, failed) = run_until_crash(clean.path(), Arc::new(counter.clone()));
    assert!(failed.is_none());
    assert_eq!(model.entries.len(), 2);
    let total = counter.ops();
    assert!(total > 60, "only {total} operations");
    eprintln!("crash points: {total}");
    // Each crash point once, alternating process crash and power loss;
    // RAFT_STORE_CRASH_FULL=1 runs both at every point.
    let full = std::env::var("RAFT_STORE_CRASH_FULL").is_ok_and(|v| v == "1");
    for k in 0..total {
        let modes: &[bool] = if full {
            &[false, true]
        } else if k % 2 == 0 {
            &[false]
        } else {
            &[true]
        };
        for &power_loss in modes {
            let dir = tempfile::tempdir().unwrap();
            let fs = FaultFs::new(k);
            let (before, failed) = run_until_crash(dir.path(), Arc::new(fs.clone()));
            assert!(fs.crashed(), "operation {k} was not reached");
            if power_loss {
                fs.lose_unsynced().unwrap();
            }
            check(
                dir.path(),
                &before,
                &failed,
                &format!("crash at op {k} (power loss: {power_loss})"),
            );
        }
    }
}
