//! Proposal timeout, back-pressure and cancellation, with an injected clock
//! (no sleeps), and the bound under concurrent registration.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use node_state::{Error, ProposalTable, Sweep};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn expired_proposals_answer_timeout_and_others_stay() {
    let t: ProposalTable<u64, &str> = ProposalTable::new(8);
    let t0 = Instant::now();
    let (a, mut rx_a) = t.register_next(t0 + ms(100)).unwrap();
    let (_b, mut rx_b) = t.register_next(t0 + ms(300)).unwrap();

    assert_eq!(t.expire(t0 + ms(99)), Sweep::default());
    let sweep = t.expire(t0 + ms(100)); // deadline is inclusive
    assert_eq!(
        sweep,
        Sweep {
            timed_out: 1,
            abandoned: 0
        }
    );
    assert_eq!(rx_a.try_recv().unwrap(), Err(Error::Timeout));
    assert!(rx_b.try_recv().is_err(), "b is still pending");
    assert_eq!(t.len(), 1);

    // Completing after the timeout is a no-op: answered exactly once.
    assert!(!t.complete(&a, "late"));
    assert_eq!(t.expire(t0 + ms(1000)).timed_out, 1);
    assert_eq!(rx_b.try_recv().unwrap(), Err(Error::Timeout));
    assert!(t.is_empty());
}

#[test]
fn full_table_answers_backpressure_at_once_and_recovers() {
    let t: ProposalTable<u64, u8> = ProposalTable::new(3);
    let deadline = Instant::now() + ms(50);
    let held: Vec<_> = (0..3).map(|_| t.register_next(deadline).unwrap()).collect();
    for _ in 0..5 {
        assert_eq!(
            t.register_next(deadline).unwrap_err(),
            Error::Backpressure { capacity: 3 }
        );
    }
    assert_eq!(t.len(), 3);
    assert!(t.complete(&held[1].0, 1));
    let (_, mut rx) = t.register_next(deadline).expect("a slot was freed");
    assert_eq!(t.len(), 3);
    assert!(t.cancel_all() == 3);
    assert_eq!(rx.try_recv().unwrap(), Err(Error::Cancelled));
    assert!(t.is_empty());
}

#[test]
fn cancel_answers_cancelled_once() {
    let t: ProposalTable<u64, ()> = ProposalTable::new(2);
    let (id, mut rx) = t.register_next(Instant::now() + ms(10)).unwrap();
    assert!(t.cancel(&id));
    assert!(!t.cancel(&id));
    assert!(!t.complete(&id, ()));
    assert_eq!(rx.try_recv().unwrap(), Err(Error::Cancelled));
    assert!(t.is_empty());
}

#[test]
fn proposer_that_gives_up_leaks_nothing() {
    let t: ProposalTable<u64, ()> = ProposalTable::new(2);
    let t0 = Instant::now();
    let (a, rx_a) = t.register_next(t0 + ms(1000)).unwrap();
    let (_b, rx_b) = t.register_next(t0 + ms(1000)).unwrap();
    drop(rx_a);
    drop(rx_b);
    // Completing an abandoned proposal still frees its slot.
    assert!(t.complete(&a, ()));
    // The other is swept before its deadline because nobody waits for it.
    assert_eq!(
        t.expire(t0),
        Sweep {
            timed_out: 0,
            abandoned: 1
        }
    );
    assert!(t.is_empty());
}

#[test]
fn concurrent_registrations_never_exceed_the_bound() {
    const CAP: usize = 16;
    const THREADS: usize = 4;
    const ROUNDS: usize = 2000;
    let t: Arc<ProposalTable<u64, usize>> = Arc::new(ProposalTable::new(CAP));
    let refused = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(3600);
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let t = Arc::clone(&t);
            let refused = Arc::clone(&refused);
            thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..ROUNDS {
                    match t.register_next(deadline) {
                        Ok(p) => mine.push(p),
                        Err(Error::Backpressure { capacity }) => {
                            assert_eq!(capacity, CAP);
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("unexpected {e}"),
                    }
                    assert!(t.len() <= CAP);
                    // Keep up to 6 pending, then answer the oldest.
                    if mine.len() > 6 || i % 3 == 0 {
                        if let Some((id, mut rx)) = (!mine.is_empty()).then(|| mine.remove(0)) {
                            assert!(t.complete(&id, i));
                            assert_eq!(rx.try_recv().unwrap(), Ok(i));
                        }
                    }
                }
                for (id, mut rx) in mine {
                    assert!(t.cancel(&id));
                    assert_eq!(rx.try_recv().unwrap(), Err(Error::Cancelled));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(t.is_empty());
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn run_expiry_answers_timeouts_from_a_tokio_interval() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let t: Arc<ProposalTable<u64, ()>> = Arc::new(ProposalTable::new(4));
        // Already due: the first sweep (the interval's first tick is
        // immediate) answers it; we wait for the answer, not for a time.
        let (_, rx) = t.register_next(Instant::now()).unwrap();
        let sweeper = tokio::spawn({
            let t = Arc::clone(&t);
            async move { t.run_expiry(ms(1)).await }
        });
        assert_eq!(rx.await.unwrap(), Err(Error::Timeout));
        sweeper.abort();
        assert!(t.is_empty());
    });
}
