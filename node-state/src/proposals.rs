//! Pending proposals: a bounded table of responders waiting for Raft to
//! commit (or reject) what a client proposed.
//!
//! Each proposal has an id (a `u64` sequence number from
//! [`ProposalTable::register_next`], or any cheap-to-clone key such as
//! `Arc<[u8]>`), a oneshot responder and a deadline. The table answers every
//! proposal exactly once:
//!
//! - [`complete`](ProposalTable::complete) / [`fail`](ProposalTable::fail)
//!   when Raft has decided;
//! - [`Error::Timeout`] from [`expire`](ProposalTable::expire) once the
//!   deadline has passed (time is passed in, so tests need no sleeps; the
//!   optional [`run_expiry`](ProposalTable::run_expiry) drives it from a
//!   tokio interval);
//! - [`Error::Cancelled`] from [`cancel`](ProposalTable::cancel) /
//!   [`cancel_all`](ProposalTable::cancel_all) (e.g. on losing leadership),
//!   or when the table is dropped.
//!
//! A full table answers [`Error::Backpressure`] at once instead of queueing.
//! A proposal whose caller stopped waiting (dropped the receiver) is removed
//! by the next sweep, so nothing leaks.
//!
//! The bound is a counter of permits taken with a compare-and-swap loop
//! before the entry is inserted and given back after it is removed, so
//! `entries <= permits <= capacity` holds at every instant (checked under
//! loom in `tests/loom_proposals.rs`).

use std::hash::Hash;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::metrics::ProposalMetrics;
use crate::sync::{AtomicUsize, Ordering};

/// What the proposer awaits: exactly one answer, `Ok` with the applied
/// result or an [`Error`].
pub type ProposalReceiver<T> = oneshot::Receiver<Result<T>>;

struct Pending<T> {
    tx: oneshot::Sender<Result<T>>,
    deadline: Instant,
}

/// What one [`ProposalTable::expire`] sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Proposals past their deadline, answered with [`Error::Timeout`].
    pub timed_out: usize,
    /// Proposals whose receiver was dropped (nobody to answer).
    pub abandoned: usize,
}

/// A bounded table of pending proposals keyed by `K`, answered with `T`.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use node_state::{Error, ProposalTable};
///
/// let table: ProposalTable<u64, &str> = ProposalTable::new(1);
/// let now = Instant::now();
/// let (id, mut rx) = table.register_next(now + Duration::from_secs(1)).unwrap();
///
/// // Full: back-pressure at once.
/// assert_eq!(
///     table.register_next(now).unwrap_err(),
///     Error::Backpressure { capacity: 1 }
/// );
///
/// assert!(table.complete(&id, "applied"));
/// assert_eq!(rx.try_recv().unwrap(), Ok("applied"));
///
/// // Deadlines are checked against the `now` you pass in.
/// let (_, mut rx) = table.register_next(now + Duration::from_secs(1)).unwrap();
/// assert_eq!(table.expire(now).timed_out, 0);
/// assert_eq!(table.expire(now + Duration::from_secs(2)).timed_out, 1);
/// assert_eq!(rx.try_recv().unwrap(), Err(Error::Timeout));
/// assert!(table.is_empty());
/// ```
pub struct ProposalTable<K: Eq + Hash, T> {
    map: DashMap<K, Pending<T>>,
    /// Permits taken: entries inserted or about to be, never above `capacity`.
    permits: AtomicUsize,
    capacity: usize,
    next_seq: AtomicU64,
    metrics: ProposalMetrics,
}

impl<K: Eq + Hash, T> std::fmt::Debug for ProposalTable<K, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProposalTable")
            .field("pending", &self.permits.load(Ordering::Relaxed))
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone, T> ProposalTable<K, T> {
    /// An empty table that holds at most `capacity` pending proposals, with
    /// detached (unexported) outcome counters.
    pub fn new(capacity: usize) -> Self {
        Self::with_metrics(capacity, ProposalMetrics::default())
    }

    /// Like [`new`](Self::new), counting outcomes in `metrics` (from
    /// [`NodeMetrics::proposals`](crate::NodeMetrics::proposals)).
    pub fn with_metrics(capacity: usize, metrics: ProposalMetrics) -> Self {
        Self {
            map: DashMap::new(),
            permits: AtomicUsize::new(0),
            capacity,
            next_seq: AtomicU64::new(1),
            metrics,
        }
    }

    /// Registers proposal `id`, to be answered by `deadline` at the latest.
    ///
    /// # Errors
    /// [`Error::Backpressure`] if `capacity` proposals are pending (nothing
    /// is registered; retry later); [`Error::DuplicateProposal`] if `id` is
    /// already pending.
    pub fn register(&self, id: K, deadline: Instant) -> Result<ProposalReceiver<T>> {
        if !self.try_acquire() {
            self.metrics.backpressure.inc();
            return Err(Error::Backpressure {
                capacity: self.capacity,
            });
        }
        match self.map.entry(id) {
            Entry::Occupied(_) => {
                self.release();
                Err(Error::DuplicateProposal)
            }
            Entry::Vacant(v) => {
                let (tx, rx) = oneshot::channel();
                v.insert(Pending { tx, deadline });
                self.metrics.registered.inc();
                Ok(rx)
            }
        }
    }

    /// Answers proposal `id` with `value`. Returns whether it was pending
    /// (false if it was already answered, expired or cancelled). The answer
    /// is dropped if the proposer stopped waiting.
    pub fn complete(&self, id: &K, value: T) -> bool {
        self.answer(id, Ok(value))
    }

    /// Answers proposal `id` with `err` (e.g. rejected by the state
    /// machine). Returns whether it was pending.
    pub fn fail(&self, id: &K, err: Error) -> bool {
        self.answer(id, Err(err))
    }

    /// Answers proposal `id` with [`Error::Cancelled`]. Returns whether it
    /// was pending.
    pub fn cancel(&self, id: &K) -> bool {
        self.answer(id, Err(Error::Cancelled))
    }

    /// Answers every pending proposal with [`Error::Cancelled`] (on losing
    /// leadership, or at shutdown). Returns how many there were.
    pub fn cancel_all(&self) -> usize {
        let keys = self.collect_keys(|_| true);
        keys.iter().filter(|k| self.cancel(k)).count()
    }

    /// Removes every proposal whose deadline is at or before `now`
    /// (answering [`Error::Timeout`]) or whose receiver was dropped.
    ///
    /// O(pending) per call; call it every few milliseconds, or let
    /// [`run_expiry`](Self::run_expiry) do it.
    pub fn expire(&self, now: Instant) -> Sweep {
        let due = |p: &Pending<T>| p.deadline <= now || p.tx.is_closed();
        let keys = self.collect_keys(due);
        let mut sweep = Sweep::default();
        for k in &keys {
            if let Some((_, p)) = self.map.remove_if(k, |_, p| due(p)) {
                self.release();
                if p.tx.is_closed() {
                    sweep.abandoned += 1;
                    self.metrics.abandoned.inc();
                } else {
                    // The receiver may go away between the check and the send;
                    // then nobody is waiting and the answer is simply dropped.
                    let _ = p.tx.send(Err(Error::Timeout));
                    sweep.timed_out += 1;
                    self.metrics.timed_out.inc();
                }
            }
        }
        sweep
    }

    /// The earliest deadline of the pending proposals (O(pending)).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.map.iter().map(|e| e.value().deadline).min()
    }

    /// Number of pending proposals (including registrations in progress).
    pub fn len(&self) -> usize {
        self.permits.load(Ordering::Acquire)
    }

    /// Whether no proposal is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound on pending proposals.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Sweeps expired proposals every `period` with a tokio interval, using
    /// the real clock; never returns (abort the task to stop it). Needs a
    /// tokio runtime with the time driver enabled.
    ///
    /// # Panics
    /// If `period` is zero (tokio's `interval` panics).
    pub async fn run_expiry(&self, period: Duration) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.expire(Instant::now());
        }
    }

    fn answer(&self, id: &K, answer: Result<T>) -> bool {
        let Some((_, p)) = self.map.remove(id) else {
            return false;
        };
        self.release();
        let counter = match &answer {
            Ok(_) => &self.metrics.ok,
            Err(Error::Cancelled) => &self.metrics.cancelled,
            Err(_) => &self.metrics.failed,
        };
        counter.inc();
        let _ = p.tx.send(answer);
        true
    }

    fn collect_keys(&self, pred: impl Fn(&Pending<T>) -> bool) -> Vec<K> {
        self.map
            .iter()
            .filter(|e| pred(e.value()))
            .map(|e| e.key().clone())
            .collect()
    }

    /// Takes a permit unless `capacity` are taken.
    fn try_acquire(&self) -> bool {
        let mut cur = self.permits.load(Ordering::Relaxed);
        loop {
            if cur >= self.capacity {
                return false;
            }
            match self.permits.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    fn release(&self) {
        self.permits.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<T> ProposalTable<u64, T> {
    /// Registers a proposal under the next id of the table's sequence
    /// (1, 2, ...) and returns the id with the receiver.
    ///
    /// # Errors
    /// As [`register`](Self::register); the sequence never repeats, so never
    /// [`Error::DuplicateProposal`] unless ids were also registered by hand.
    pub fn register_next(&self, deadline: Instant) -> Result<(u64, ProposalReceiver<T>)> {
        let id = self
            .next_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.register(id, deadline).map(|rx| (id, rx))
    }
}

impl<K: Eq + Hash, T> Drop for ProposalTable<K, T> {
    fn drop(&mut self) {
        // Answer everyone still waiting rather than dropping their senders.
        for (_, p) in std::mem::take(&mut self.map) {
            let _ = p.tx.send(Err(Error::Cancelled));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn duplicate_id_is_rejected_and_frees_its_permit() {
        let t: ProposalTable<Arc<[u8]>, u32> = ProposalTable::new(2);
        let now = Instant::now();
        let id: Arc<[u8]> = Arc::from(&b"req-1"[..]);
        let mut rx = t.register(Arc::clone(&id), now + secs(1)).unwrap();
        assert_eq!(
            t.register(Arc::clone(&id), now + secs(1)).unwrap_err(),
            Error::DuplicateProposal
        );
        assert_eq!(t.len(), 1);
        assert!(t.complete(&id, 7));
        assert!(!t.complete(&id, 8), "answered once only");
        assert_eq!(rx.try_recv().unwrap(), Ok(7));
        assert!(t.is_empty());
    }

    #[test]
    fn fail_answers_with_the_given_error() {
        let t: ProposalTable<u64, ()> = ProposalTable::new(4);
        let (id, mut rx) = t.register_next(Instant::now()).unwrap();
        assert!(t.fail(&id, Error::UnknownMember(3)));
        assert_eq!(rx.try_recv().unwrap(), Err(Error::UnknownMember(3)));
    }

    #[test]
    fn next_deadline_is_the_earliest() {
        let t: ProposalTable<u64, ()> = ProposalTable::new(4);
        let now = Instant::now();
        assert_eq!(t.next_deadline(), None);
        let _a = t.register_next(now + secs(5)).unwrap();
        let _b = t.register_next(now + secs(2)).unwrap();
        assert_eq!(t.next_deadline(), Some(now + secs(2)));
    }

    #[test]
    fn drop_cancels_pending() {
        let t: ProposalTable<u64, ()> = ProposalTable::new(4);
        let (_, mut rx) = t.register_next(Instant::now()).unwrap();
        drop(t);
        assert_eq!(rx.try_recv().unwrap(), Err(Error::Cancelled));
    }
}
