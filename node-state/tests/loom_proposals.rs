//! Loom model of the proposal table's bound: permits are taken with a CAS
//! loop before insertion and given back after removal, so the table never
//! holds more than its capacity, every proposal is answered exactly once,
//! and every permit comes back.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p node-state --release --test
//! loom_proposals`; without `--cfg loom` this file is empty.
#![cfg(loom)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use loom::thread;
use node_state::{Error, ProposalTable};

#[test]
fn racing_registrations_respect_capacity() {
    loom::model(|| {
        let table: Arc<ProposalTable<u64, u64>> = Arc::new(ProposalTable::new(1));
        let deadline = Instant::now() + Duration::from_secs(60);
        let others: Vec<_> = (1..=2u64)
            .map(|id| {
                let table = Arc::clone(&table);
                thread::spawn(move || match table.register(id, deadline) {
                    Ok(mut rx) => {
                        assert!(table.len() <= 1);
                        assert!(table.complete(&id, id));
                        assert_eq!(rx.try_recv().unwrap(), Ok(id));
                        true
                    }
                    Err(e) => {
                        assert_eq!(e, Error::Backpressure { capacity: 1 });
                        false
                    }
                })
            })
            .collect();
        let ok: Vec<bool> = others.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(ok.iter().any(|&b| b), "the first registration always fits");
        assert!(table.is_empty(), "every permit came back");
        // And the slot is usable again.
        assert!(table.register(9, deadline).is_ok());
    });
}

#[test]
fn complete_racing_expire_answers_once() {
    loom::model(|| {
        let table: Arc<ProposalTable<u64, u64>> = Arc::new(ProposalTable::new(2));
        let t0 = Instant::now();
        let mut rx = table.register(1, t0).unwrap();
        let sweeper = {
            let table = Arc::clone(&table);
            thread::spawn(move || table.expire(t0).timed_out)
        };
        let completed = table.complete(&1, 5);
        let timed_out = sweeper.join().unwrap();
        assert_eq!(usize::from(completed) + timed_out, 1, "exactly one answer");
        let answer = rx.try_recv().unwrap();
        if completed {
            assert_eq!(answer, Ok(5));
        } else {
            assert_eq!(answer, Err(Error::Timeout));
        }
        assert!(table.is_empty());
    });
}
