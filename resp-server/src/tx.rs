//! `MULTI`/`EXEC`/`WATCH` state of a client (Redis 7.0's `multi.c`).
//!
//! - Inside `MULTI` the connection queues commands ([`TxState::queue`]) as
//!   owned copies of their arguments, in one buffer; a command rejected
//!   while queueing (unknown, wrong arity, ...) marks the transaction
//!   ([`TxState::flag_error`]) and `EXEC` then fails with `EXECABORT`.
//! - `WATCH` registers the client's dirty flag (one `Arc<AtomicBool>` per
//!   client) on each key of its database ([`crate::keyspace::Db::watch`]);
//!   every write of the key sets it. `EXEC` checks the flag, and whether a
//!   watched key that was live at `WATCH` time has logically expired since
//!   (Redis 7.0's `isWatchedKeyExpired`), under the same lock of every shard
//!   that runs the queue ([`crate::cmd::tx`]).
//!
//! Expired keys and `WATCH`: Redis remembers, per watched key, whether it
//! was already expired at `WATCH` time, so that its later deletion by
//! expiry does not count as a change. Here `WATCH` deletes a key that is
//! already expired (as any lookup does), before registering: the key is
//! then absent, which is what Redis' flag stands for, and any later write
//! or expiry of it is a real change. Every entry still present at `EXEC`
//! was live at `WATCH` time (or written since, which set the flag), so an
//! entry past its expiry then means "expired since `WATCH`".

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hashbrown::HashSet;

use crate::client::ClientHandle;
use crate::cmd::Args;
use crate::shared::Shared;

/// Capacity (bytes) above which an emptied queue's buffers are freed
/// rather than kept for the next `MULTI`.
const KEEP_MAX: usize = 64 * 1024;

/// Commands queued by `MULTI`: their arguments, one after the other, in
/// one buffer.
#[derive(Debug, Default)]
pub struct Queue {
    bytes: Vec<u8>,
    /// `(start, end)` of each argument in `bytes`.
    ranges: Vec<(u32, u32)>,
    /// Number of arguments of each command.
    argc: Vec<u32>,
}

impl Queue {
    /// Number of queued commands.
    #[inline]
    pub fn len(&self) -> usize {
        self.argc.len()
    }

    /// Whether no command is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.argc.is_empty()
    }

    /// Bytes held by the queue (`multi-mem` of `CLIENT LIST`).
    pub fn memory(&self) -> usize {
        self.bytes.capacity()
            + self.ranges.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.argc.capacity() * std::mem::size_of::<u32>()
    }

    /// Appends a copy of `args`, unless the queue would then hold more than
    /// `limit` bytes of arguments (or more than `u32` offsets can address):
    /// returns false then, queueing nothing.
    pub fn push(&mut self, args: Args<'_>, limit: usize) -> bool {
        let size: usize = args.iter_from(0).map(<[u8]>::len).sum();
        let total = self.bytes.len().saturating_add(size);
        if total > limit.min(u32::MAX as usize) {
            return false;
        }
        self.bytes.reserve(size);
        for a in args.iter_from(0) {
            let start = self.bytes.len() as u32;
            self.bytes.extend_from_slice(a);
            self.ranges.push((start, self.bytes.len() as u32));
        }
        self.argc.push(args.len() as u32);
        true
    }

    /// The queued commands, in order.
    pub fn iter(&self) -> impl Iterator<Item = Args<'_>> + '_ {
        let mut at = 0usize;
        self.argc.iter().map(move |&n| {
            let end = at + n as usize;
            let args = Args::new(&self.bytes, &self.ranges[at..end]);
            at = end;
            args
        })
    }

    /// Empties the queue, keeping small buffers for reuse.
    pub fn clear(&mut self) {
        if self.memory() > KEEP_MAX {
            *self = Queue::default();
        } else {
            self.bytes.clear();
            self.ranges.clear();
            self.argc.clear();
        }
    }
}

/// A client's transaction state.
#[derive(Debug, Default)]
pub struct TxState {
    /// Inside `MULTI`.
    multi: bool,
    /// A command was rejected while queueing: `EXEC` replies `EXECABORT`.
    aborted: bool,
    /// The queued commands.
    queue: Queue,
    /// `(database, key)` of every watched key.
    watched: HashSet<(usize, Box<[u8]>)>,
    /// Set by any write of a watched key; created at the first `WATCH`.
    dirty: Option<Arc<AtomicBool>>,
}

impl TxState {
    /// Whether the client is inside `MULTI` (commands are queued).
    #[inline]
    pub fn in_multi(&self) -> bool {
        self.multi
    }

    /// Enters `MULTI`.
    pub fn begin(&mut self) {
        self.multi = true;
        self.aborted = false;
    }

    /// Whether a command was rejected since `MULTI` (`EXEC` must abort).
    pub fn aborted(&self) -> bool {
        self.aborted
    }

    /// Marks the transaction as failed, if the client is inside `MULTI`
    /// (Redis' `flagTransaction`: a command was rejected while queueing).
    #[inline]
    pub fn flag_error(&mut self) {
        if self.multi {
            self.aborted = true;
        }
    }

    /// Queues a command (see [`Queue::push`]); false when the queue would
    /// pass `limit` bytes.
    pub fn queue(&mut self, args: Args<'_>, limit: usize) -> bool {
        self.queue.push(args, limit)
    }

    /// Number of queued commands.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Leaves `MULTI` and hands out the queue (to run it); give it back
    /// with [`TxState::recycle`] to keep its buffers.
    pub fn take_queue(&mut self) -> Queue {
        self.multi = false;
        self.aborted = false;
        std::mem::take(&mut self.queue)
    }

    /// Takes back a queue handed out by [`TxState::take_queue`], emptied.
    pub fn recycle(&mut self, mut queue: Queue) {
        if self.queue.is_empty() {
            queue.clear();
            self.queue = queue;
        }
    }

    /// Leaves `MULTI`, dropping the queue (`DISCARD`, `EXECABORT`).
    pub fn discard(&mut self) {
        self.multi = false;
        self.aborted = false;
        self.queue.clear();
    }

    /// Number of watched keys.
    pub fn watched(&self) -> usize {
        self.watched.len()
    }

    /// Watches the keys `args.iter_from(1)` of database `db` (`WATCH key
    /// ...`). A key already past its expiry is deleted first (see the
    /// module documentation). The shards of the keys are locked once each,
    /// together.
    pub fn watch(&mut self, shared: &Shared, db: usize, args: Args<'_>, now_ms: u64) {
        let flag = self
            .dirty
            .get_or_insert_with(|| Arc::new(AtomicBool::new(false)))
            .clone();
        let (routes, shards) = crate::cmd::route(shared, args.iter_from(1));
        let mut locked = shared.keyspace.lock_shards(&shards);
        for (key, r) in args.iter_from(1).zip(&routes) {
            let d = locked.shard(r.shard).db(db);
            d.contains(key, r.hash, now_ms);
            d.watch(key, &flag);
            if !self.watched.contains(&Borrowed(db, key)) {
                self.watched.insert((db, key.into()));
            }
        }
    }

    /// Whether `EXEC` must fail because of `WATCH`: a watched key was
    /// written (the flag), or was live at `WATCH` time and is logically
    /// expired at `now_ms`. Call it with the shards locked (inside
    /// [`crate::keyspace::Keyspace::exclusive`]) so nothing changes between
    /// this check and the queue.
    pub fn watch_failed(&self, shared: &Shared, now_ms: u64) -> bool {
        if self
            .dirty
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Acquire))
        {
            return true;
        }
        self.watched.iter().any(|(db, key)| {
            let (hash, mut shard) = shared.keyspace.lock_key(key);
            shard
                .db(*db)
                .peek(key, hash)
                .and_then(|e| e.expire_at())
                .is_some_and(|at| at <= now_ms)
        })
    }

    /// Forgets every watched key (`UNWATCH`, `EXEC`, `DISCARD`, `RESET`,
    /// disconnect): unregisters the flag from each key's database, so the
    /// tables never keep a client that left, and clears it.
    pub fn unwatch_all(&mut self, shared: &Shared) {
        let Some(flag) = &self.dirty else {
            return;
        };
        if !self.watched.is_empty() {
            for (db, key) in self.watched.drain() {
                let (_, mut shard) = shared.keyspace.lock_key(&key);
                shard.db(db).unwatch(&key, flag);
            }
            if self.watched.capacity() > 64 {
                self.watched = HashSet::new();
            }
        }
        flag.store(false, Ordering::Release);
    }

    /// Back to no transaction and no watched key (`RESET`, disconnect).
    pub fn reset(&mut self, shared: &Shared) {
        self.discard();
        self.unwatch_all(shared);
    }

    /// Mirrors the queue's length and memory into `handle` for `CLIENT
    /// LIST` (`multi=`, `multi-mem=`, flag `x`).
    pub fn show(&self, handle: &ClientHandle) {
        let shown = &handle.shown;
        let (multi, mem) = if self.multi {
            (self.queue.len() as i64, self.queue.memory())
        } else {
            (-1, 0)
        };
        shown.multi.store(multi, Ordering::Relaxed);
        shown.multi_mem.store(mem, Ordering::Relaxed);
    }
}

/// A borrowed `(database, key)`, hashed as the owned tuple is, to search
/// the watched set without allocating a key.
#[derive(Hash)]
struct Borrowed<'a>(usize, &'a [u8]);

impl hashbrown::Equivalent<(usize, Box<[u8]>)> for Borrowed<'_> {
    fn equivalent(&self, key: &(usize, Box<[u8]>)) -> bool {
        self.0 == key.0 && self.1 == &*key.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A command's argument bytes and their ranges.
    type Owned = (Vec<u8>, Vec<(u32, u32)>);

    fn owned(cmds: &[Vec<Vec<u8>>]) -> Vec<Owned> {
        cmds.iter()
            .map(|c| {
                let mut bytes = Vec::new();
                let mut ranges = Vec::new();
                for a in c {
                    let s = bytes.len() as u32;
                    bytes.extend_from_slice(a);
                    ranges.push((s, bytes.len() as u32));
                }
                (bytes, ranges)
            })
            .collect()
    }

    proptest! {
        /// The queue gives back exactly the commands pushed, in order, and
        /// refuses (changing nothing) a command past its byte limit.
        #[test]
        fn queue_round_trips(
            cmds in prop::collection::vec(
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 1..5),
                0..20,
            ),
            limit in 0usize..400,
        ) {
            let mut q = Queue::default();
            let mut model: Vec<Vec<Vec<u8>>> = Vec::new();
            let mut used = 0;
            for (bytes, ranges) in owned(&cmds) {
                let args = Args::new(&bytes, &ranges);
                let size = bytes.len();
                let fits = used + size <= limit;
                prop_assert_eq!(q.push(args, limit), fits);
                if fits {
                    used += size;
                    model.push(args.iter_from(0).map(<[u8]>::to_vec).collect());
                }
            }
            prop_assert_eq!(q.len(), model.len());
            let got: Vec<Vec<Vec<u8>>> = q
                .iter()
                .map(|a| a.iter_from(0).map(<[u8]>::to_vec).collect())
                .collect();
            prop_assert_eq!(got, model);
            q.clear();
            prop_assert!(q.is_empty());
            prop_assert_eq!(q.iter().count(), 0);
        }
    }

    #[test]
    fn watched_set_finds_borrowed_keys() {
        let mut set: HashSet<(usize, Box<[u8]>)> = HashSet::new();
        set.insert((1, b"k".to_vec().into_boxed_slice()));
        assert!(set.contains(&Borrowed(1, b"k")));
        assert!(!set.contains(&Borrowed(0, b"k")));
        assert!(!set.contains(&Borrowed(1, b"j")));
    }

    #[test]
    fn flag_error_only_inside_multi() {
        let mut tx = TxState::default();
        tx.flag_error();
        assert!(!tx.aborted());
        tx.begin();
        tx.flag_error();
        assert!(tx.aborted());
        tx.discard();
        assert!(!tx.in_multi() && !tx.aborted());
    }
}
