//! One logical database of one shard: an index over an arena of entries,
//! plus the shard's own active-expiry index.
//!
//! Layout (the "indices instead of pointers" item of the server design note):
//! entries live in a [`bufpool::Arena`] and never move while they live; the
//! hash index is a `hashbrown::HashTable<Handle>` of 4-byte handles. A
//! 56-byte [`Entry`] plus about 10 bytes of index per key, with keys and
//! values up to 22 bytes stored inline, is what keeps memory per key below
//! Redis' (dictEntry + key sds + robj + value).
//!
//! Expiry follows Redis: lazily on access (an expired key is removed when it
//! is looked up and never returned), plus [`Db::active_expire`], which pops
//! due keys from a min-heap of `(expire_at_ms, handle)`. Heap items go stale
//! when a key's TTL changes or the key goes; a stale item is recognised by
//! comparing its time with the entry's, and the heap is compacted once stale
//! items outnumber live ones.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bufpool::{Arena, Handle};
use hashbrown::{HashMap, HashTable};
use smallvec::SmallVec;

use super::value::Value;
use crate::blocking::Waiter;
use crate::small::SmallBytes;

/// A key, its value and its expiry.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The key.
    pub key: SmallBytes,
    /// The value.
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means no expiry.
    expire_at: u64,
}

impl Entry {
    /// Absolute expiry in Unix milliseconds, if the key has a TTL.
    #[inline]
    pub fn expire_at(&self) -> Option<u64> {
        (self.expire_at != 0).then_some(self.expire_at)
    }

    #[inline]
    fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }
}

/// What a write does to the key's TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// Keep the existing TTL, if any (`SET ... KEEPTTL`, `SETRANGE`, `INCR`).
    Keep,
    /// Remove any TTL (plain `SET`).
    Persist,
    /// Expire at this absolute Unix time in milliseconds (must be > 0).
    At(u64),
}

/// One logical database (`SELECT n`) of one shard.
#[derive(Debug, Default)]
pub struct Db {
    /// Seed of [`hash_key`], shared by all databases of a keyspace.
    seed: u64,
    index: HashTable<Handle>,
    entries: Arena<Entry>,
    expires: BinaryHeap<Reverse<(u64, Handle)>>,
    /// Keys with a TTL.
    volatile: usize,
    /// Keys removed because they expired (lazily or actively), ever.
    expired_total: u64,
    /// `WATCH` and blocking-command tables; None until a client uses them.
    hooks: Option<Box<Hooks>>,
}

/// Side tables of one database: the clients `WATCH`ing each key and the
/// clients waiting on each key in a blocking command.
///
/// Writes go through [`Db`]'s methods, which mark watchers dirty
/// ([`Db::touch`]) and wake waiters by themselves; a command that changes a
/// value in place through [`Db::get`] calls [`Db::touch`] itself, as Redis'
/// commands call `signalModifiedKey`.
#[derive(Debug, Default)]
struct Hooks {
    /// Per key, the dirty flags of the transactions watching it.
    watched: HashMap<Box<[u8]>, SmallVec<[Arc<AtomicBool>; 2]>>,
    /// Per key, the clients blocked on it, in the order they blocked.
    waiters: HashMap<Box<[u8]>, VecDeque<Waiter>>,
}

impl Hooks {
    #[inline]
    fn touch(&mut self, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(flags) = self.watched.remove(key) {
            for f in flags {
                f.store(true, Ordering::Release);
            }
        }
    }

    /// Wakes the first live waiter on `key` that `value` serves; drops the
    /// stale waiters met on the way.
    fn wake(&mut self, key: &[u8], value: &Value) {
        let Some(queue) = self.waiters.get_mut(key) else {
            return;
        };
        let mut i = 0;
        while i < queue.len() {
            let w = &queue[i];
            if !w.is_live() {
                queue.remove(i);
                continue;
            }
            if w.kind.served_by(value) {
                let w = queue.remove(i).expect("index checked");
                if w.client.wake_blocked(w.gen) {
                    break;
                }
                continue;
            }
            i += 1;
        }
        if queue.is_empty() {
            self.waiters.remove(key);
        }
    }

    fn is_empty(&self) -> bool {
        self.watched.is_empty() && self.waiters.is_empty()
    }
}

/// Hashes a key with the keyspace's seed; the same hash picks the shard.
#[inline]
pub fn hash_key(seed: u64, key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(key, seed)
}

impl Db {
    /// An empty database whose keys hash with `seed` (see [`hash_key`]).
    pub fn new(seed: u64) -> Db {
        Db {
            seed,
            ..Db::default()
        }
    }

    /// Number of keys, counting expired keys not yet removed.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the database holds no key.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of keys with a TTL.
    #[inline]
    pub fn volatile_len(&self) -> usize {
        self.volatile
    }

    /// Keys removed because they expired, since start.
    pub fn expired_total(&self) -> u64 {
        self.expired_total
    }

    #[inline]
    fn find(&self, key: &[u8], hash: u64) -> Option<Handle> {
        let entries = &self.entries;
        self.index
            .find(hash, |&h| {
                entries.get(h).is_some_and(|e| e.key.as_bytes() == key)
            })
            .copied()
    }

    /// Looks `key` up; an expired key is removed and reported absent.
    #[inline]
    pub fn get(&mut self, key: &[u8], hash: u64, now_ms: u64) -> Option<&mut Entry> {
        let h = self.live(key, hash, now_ms)?;
        self.entries.get_mut(h)
    }

    /// Looks `key` up without expiring it (the entry may be past its TTL).
    pub fn peek(&self, key: &[u8], hash: u64) -> Option<&Entry> {
        self.find(key, hash).and_then(|h| self.entries.get(h))
    }

    /// Whether `key` exists and is not expired (expires it if due).
    #[inline]
    pub fn contains(&mut self, key: &[u8], hash: u64, now_ms: u64) -> bool {
        self.live(key, hash, now_ms).is_some()
    }

    /// Handle of the live entry for `key`, expiring it first if due.
    fn live(&mut self, key: &[u8], hash: u64, now_ms: u64) -> Option<Handle> {
        let h = self.find(key, hash)?;
        let expired = self.entries.get(h).is_some_and(|e| e.is_expired(now_ms));
        if expired {
            self.remove_handle(h, hash);
            self.expired_total += 1;
            return None;
        }
        Some(h)
    }

    /// Stores `value` under `key` with the given TTL behaviour; returns the
    /// previous value if there was a live one.
    pub fn set(
        &mut self,
        key: &[u8],
        hash: u64,
        value: Value,
        ttl: Ttl,
        now_ms: u64,
    ) -> Option<Value> {
        if let Some(h) = self.live(key, hash, now_ms) {
            let entry = self.entries.get_mut(h)?;
            let old = std::mem::replace(&mut entry.value, value);
            match ttl {
                Ttl::Keep => {}
                Ttl::Persist => self.set_expire_handle(h, 0),
                Ttl::At(at) => self.set_expire_handle(h, at),
            }
            if self.hooks.is_some() {
                self.written(key, h);
            }
            return Some(old);
        }
        self.insert_new(key, hash, value, ttl);
        None
    }

    /// Inserts a key known to be absent (after a failed lookup).
    pub fn insert_new(&mut self, key: &[u8], hash: u64, value: Value, ttl: Ttl) {
        let expire_at = match ttl {
            Ttl::At(at) => at,
            _ => 0,
        };
        let h = self.entries.insert(Entry {
            key: SmallBytes::new(key),
            value,
            expire_at: 0,
        });
        let (entries, seed) = (&self.entries, self.seed);
        let rehash = |h: &Handle| entries.get(*h).map_or(0, |e| hash_key(seed, &e.key));
        self.index.insert_unique(hash, h, rehash);
        if expire_at != 0 {
            self.set_expire_handle(h, expire_at);
        }
        if self.hooks.is_some() {
            self.written(key, h);
        }
    }

    /// After `key` (at `h`) was stored: marks its watchers dirty and wakes
    /// a waiter its new value serves.
    #[cold]
    fn written(&mut self, key: &[u8], h: Handle) {
        let Some(hooks) = self.hooks.as_deref_mut() else {
            return;
        };
        hooks.touch(key);
        if !hooks.waiters.is_empty() {
            if let Some(e) = self.entries.get(h) {
                hooks.wake(key, &e.value);
            }
        }
    }

    /// Marks the transactions watching `key` dirty (their `EXEC` will fail):
    /// what a command that changed the value of `key` in place through
    /// [`Db::get`] calls, as Redis' `signalModifiedKey`. The other writing
    /// methods of `Db` do it themselves. O(1); nearly free when nobody
    /// watches.
    #[inline]
    pub fn touch(&mut self, key: &[u8]) {
        if let Some(h) = self.hooks.as_deref_mut() {
            h.touch(key);
        }
    }

    /// Registers `flag` as watching `key` (`WATCH`); [`Db::touch`] and
    /// every write of the key set it.
    pub fn watch(&mut self, key: &[u8], flag: &Arc<AtomicBool>) {
        let hooks = self.hooks.get_or_insert_with(Default::default);
        let flags = hooks.watched.entry(key.into()).or_default();
        if !flags.iter().any(|f| Arc::ptr_eq(f, flag)) {
            flags.push(flag.clone());
        }
    }

    /// Removes the registration of `flag` on `key` (`UNWATCH`, `EXEC`).
    pub fn unwatch(&mut self, key: &[u8], flag: &Arc<AtomicBool>) {
        let Some(hooks) = self.hooks.as_deref_mut() else {
            return;
        };
        if let Some(flags) = hooks.watched.get_mut(key) {
            flags.retain(|f| !Arc::ptr_eq(f, flag));
            if flags.is_empty() {
                hooks.watched.remove(key);
            }
        }
        if hooks.is_empty() {
            self.hooks = None;
        }
    }

    /// Appends a waiter to `key`'s queue (a blocking command found nothing
    /// to serve). See [`crate::blocking`].
    pub fn add_waiter(&mut self, key: &[u8], waiter: Waiter) {
        let hooks = self.hooks.get_or_insert_with(Default::default);
        hooks
            .waiters
            .entry(key.into())
            .or_default()
            .push_back(waiter);
    }

    /// Removes the waiters of client `client_id`'s wait `gen` (and stale
    /// ones) from `key`'s queue.
    pub fn remove_waiter(&mut self, key: &[u8], client_id: u64, gen: u64) {
        let Some(hooks) = self.hooks.as_deref_mut() else {
            return;
        };
        if let Some(queue) = hooks.waiters.get_mut(key) {
            queue.retain(|w| !(w.client.id == client_id && w.gen == gen) && w.is_live());
            if queue.is_empty() {
                hooks.waiters.remove(key);
            }
        }
        if hooks.is_empty() {
            self.hooks = None;
        }
    }

    /// Wakes the first waiter on `key` that its current value serves, if
    /// any (a served waiter passing readiness on, see [`crate::blocking`]).
    pub fn wake_if_ready(&mut self, key: &[u8], hash: u64, now_ms: u64) {
        if self.hooks.as_ref().is_none_or(|h| h.waiters.is_empty()) {
            return;
        }
        if let Some(h) = self.live(key, hash, now_ms) {
            if let (Some(hooks), Some(e)) = (self.hooks.as_deref_mut(), self.entries.get(h)) {
                hooks.wake(key, &e.value);
            }
        }
    }

    /// Number of keys with blocked clients (for `INFO`).
    pub fn blocking_keys(&self) -> usize {
        self.hooks.as_ref().map_or(0, |h| h.waiters.len())
    }

    /// Wakes a waiter on every key that serves one (after `SWAPDB` brought
    /// other values under the waited keys).
    pub fn wake_all_ready(&mut self, now_ms: u64) {
        let keys: Vec<Box<[u8]>> = match &self.hooks {
            Some(h) if !h.waiters.is_empty() => h.waiters.keys().cloned().collect(),
            _ => return,
        };
        for key in keys {
            let hash = hash_key(self.seed, &key);
            self.wake_if_ready(&key, hash, now_ms);
        }
    }

    /// Marks dirty the watchers of every key that exists here or in
    /// `other` (Redis' `touchAllWatchedKeysInDb`: `FLUSHDB` with `other`
    /// this database, `SWAPDB` with the database swapped in).
    fn touch_existing(&mut self, other: Option<&Db>) {
        let Some(hooks) = self.hooks.as_deref_mut() else {
            return;
        };
        let (entries, index, seed) = (&self.entries, &self.index, self.seed);
        let exists = |db_entries: &Arena<Entry>, db_index: &HashTable<Handle>, key: &[u8]| {
            db_index
                .find(hash_key(seed, key), |&h| {
                    db_entries.get(h).is_some_and(|e| e.key.as_bytes() == key)
                })
                .is_some()
        };
        hooks.watched.retain(|key, flags| {
            let hit = exists(entries, index, key)
                || other.is_some_and(|o| exists(&o.entries, &o.index, key));
            if hit {
                for f in flags.iter() {
                    f.store(true, Ordering::Release);
                }
            }
            !hit
        });
    }

    /// Removes `key` (live or expired); returns its entry.
    pub fn remove(&mut self, key: &[u8], hash: u64) -> Option<Entry> {
        let h = self.find(key, hash)?;
        self.remove_handle(h, hash)
    }

    fn remove_handle(&mut self, h: Handle, hash: u64) -> Option<Entry> {
        if let Ok(found) = self.index.find_entry(hash, |&x| x == h) {
            found.remove();
        }
        let entry = self.entries.remove(h)?;
        if entry.expire_at != 0 {
            self.volatile -= 1;
        }
        if let Some(hooks) = self.hooks.as_deref_mut() {
            hooks.touch(&entry.key);
        }
        Some(entry)
    }

    /// Sets the absolute expiry (Unix ms) of a live key; `0` removes it.
    /// Returns false if the key is absent.
    pub fn set_expire(&mut self, key: &[u8], hash: u64, expire_at: u64, now_ms: u64) -> bool {
        match self.live(key, hash, now_ms) {
            Some(h) => {
                self.set_expire_handle(h, expire_at);
                self.touch(key);
                true
            }
            None => false,
        }
    }

    fn set_expire_handle(&mut self, h: Handle, expire_at: u64) {
        let Some(entry) = self.entries.get_mut(h) else {
            return;
        };
        match (entry.expire_at != 0, expire_at != 0) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        entry.expire_at = expire_at;
        if expire_at != 0 {
            self.expires.push(Reverse((expire_at, h)));
            if self.expires.len() > 64 && self.expires.len() > 2 * self.volatile {
                self.compact_expires();
            }
        }
    }

    /// Drops heap items whose entry's expiry no longer matches.
    fn compact_expires(&mut self) {
        let entries = &self.entries;
        self.expires
            .retain(|Reverse((at, h))| entries.get(*h).is_some_and(|e| e.expire_at == *at));
    }

    /// Removes up to `budget` keys whose expiry is at or before `now_ms`, in
    /// expiry order; returns how many were removed. Work is O(budget log n).
    pub fn active_expire(&mut self, now_ms: u64, budget: usize) -> usize {
        let mut removed = 0;
        let mut steps = 0;
        while let Some(&Reverse((at, h))) = self.expires.peek() {
            if at > now_ms || steps >= budget * 4 || removed >= budget {
                break;
            }
            steps += 1;
            self.expires.pop();
            let due = self.entries.get(h).is_some_and(|e| e.expire_at == at);
            if due {
                let hash = self
                    .entries
                    .get(h)
                    .map_or(0, |e| hash_key(self.seed, &e.key));
                self.remove_handle(h, hash);
                self.expired_total += 1;
                removed += 1;
            }
        }
        removed
    }

    /// Items in the expiry heap, stale ones included (for tests and stats).
    pub fn expiry_index_len(&self) -> usize {
        self.expires.len()
    }

    /// Time of the earliest pending expiry (Unix ms), possibly stale.
    pub fn next_expiry(&self) -> Option<u64> {
        self.expires.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes every key (`FLUSHDB`): the watchers of keys that existed
    /// are marked dirty; watchers and waiters stay registered.
    pub fn clear(&mut self) {
        self.touch_existing(None);
        *self = Db {
            expired_total: self.expired_total,
            hooks: self.hooks.take(),
            ..Db::new(self.seed)
        };
    }

    /// Exchanges the contents of two databases (`SWAPDB`), leaving each
    /// one's watchers and waiters with its index: watchers of keys present
    /// in either are marked dirty and waiters the new contents serve are
    /// woken, as Redis does.
    pub fn swap_contents(a: &mut Db, b: &mut Db, now_ms: u64) {
        a.touch_existing(Some(b));
        b.touch_existing(Some(a));
        std::mem::swap(a, b);
        std::mem::swap(&mut a.hooks, &mut b.hooks);
        a.wake_all_ready(now_ms);
        b.wake_all_ready(now_ms);
    }

    /// Visits live entries from arena slot `cursor` on, until `count` slots
    /// were looked at; returns the next cursor (0 when the walk is complete).
    ///
    /// Entries never move while they live, so a key present for the whole
    /// walk is visited exactly once, as `SCAN` guarantees.
    pub fn scan(
        &self,
        cursor: usize,
        count: usize,
        now_ms: u64,
        mut f: impl FnMut(&Entry),
    ) -> usize {
        let mut pos = cursor;
        for _ in 0..count.max(1) {
            match self.entries.next_occupied(pos) {
                Some((h, e)) => {
                    if !e.is_expired(now_ms) {
                        f(e);
                    }
                    pos = h.index() + 1;
                }
                None => return 0,
            }
        }
        if self.entries.next_occupied(pos).is_none() {
            0
        } else {
            pos
        }
    }

    /// Visits every live entry.
    pub fn for_each(&self, now_ms: u64, mut f: impl FnMut(&Entry)) {
        for (_, e) in self.entries.iter() {
            if !e.is_expired(now_ms) {
                f(e);
            }
        }
    }

    /// A live entry picked at random, or None when the database is empty.
    /// Expired entries met on the way are skipped (bounded tries).
    pub fn random(&self, rng: &mut fastrand::Rng, now_ms: u64) -> Option<&Entry> {
        if self.entries.is_empty() {
            return None;
        }
        let cap = self.entries.capacity().max(1);
        for _ in 0..16 {
            let start = rng.usize(..cap);
            let found = self
                .entries
                .next_occupied(start)
                .or_else(|| self.entries.next_occupied(0));
            if let Some((_, e)) = found {
                if !e.is_expired(now_ms) {
                    return Some(e);
                }
            }
        }
        self.entries
            .iter()
            .map(|(_, e)| e)
            .find(|e| !e.is_expired(now_ms))
    }

    /// Approximate bytes used by this database (entries, index, heap, values).
    pub fn memory_usage(&self) -> usize {
        let entries = self.entries.capacity() * std::mem::size_of::<Entry>();
        let index = self.index.allocation_size();
        let heap = self.expires.capacity() * std::mem::size_of::<Reverse<(u64, Handle)>>();
        let values: usize = self
            .entries
            .iter()
            .map(|(_, e)| e.key.heap_size() + e.value.heap_size())
            .sum();
        entries + index + heap + values
    }
}
