//! The sharded keyspace: 16 (configurable) databases, split into shards by a
//! hash of the key, each shard behind its own lock (striped locks).
//!
//! A command on one key hashes it once ([`Keyspace::hash`]), locks the owning
//! shard ([`Keyspace::lock`]) and works on that shard's [`Db`]. A command on
//! several keys locks every shard it touches once, in ascending shard order
//! (so two such commands can never deadlock), runs against all of them
//! atomically, and unlocks ([`Keyspace::lock_shards`]): one lock acquisition
//! per shard per command, never one per key. `SWAPDB` and `FLUSHALL` lock
//! every shard.
//!
//! `MULTI`/`EXEC` runs its queued commands inside [`Keyspace::exclusive`]:
//! every shard locked once, in order, by the calling thread, which then runs
//! the commands; their own `lock*` calls on that thread borrow the held
//! shards instead of locking again ([`ShardGuard::Held`]). So a transaction
//! is atomic across shards without any command knowing it runs in one.
//!
//! Why striped locks rather than shard-per-thread: see
//! `docs/design/concurrency.md`.

pub mod db;
pub mod value;

use std::cell::Cell;
use std::ops::{Deref, DerefMut};

use crossbeam_utils::CachePadded;
use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;

pub use db::{Db, Entry, Ttl};
pub use value::Value;

/// Per-shard counters, updated under the shard's lock.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShardStats {
    /// Successful lookups of a key by a read command (`keyspace_hits`).
    pub hits: u64,
    /// Failed lookups (`keyspace_misses`).
    pub misses: u64,
}

/// One shard: its slice of every database.
#[derive(Debug)]
pub struct Shard {
    dbs: Box<[Db]>,
    /// Counters of this shard.
    pub stats: ShardStats,
}

impl Shard {
    /// The shard's part of database `index`.
    ///
    /// # Panics
    /// If `index` is not below the configured number of databases (callers
    /// check `SELECT` arguments first).
    #[inline]
    pub fn db(&mut self, index: usize) -> &mut Db {
        &mut self.dbs[index]
    }

    /// Read-only view of database `index`. Panics like [`Shard::db`].
    #[inline]
    pub fn db_ref(&self, index: usize) -> &Db {
        &self.dbs[index]
    }

    /// Swaps databases `a` and `b` of this shard ([`Db::swap_contents`]).
    pub fn swap_dbs(&mut self, a: usize, b: usize, now_ms: u64) {
        if a == b {
            return;
        }
        let (lo, hi) = (a.min(b), a.max(b));
        let (left, right) = self.dbs.split_at_mut(hi);
        Db::swap_contents(&mut left[lo], &mut right[0], now_ms);
    }

    /// Runs active expiry on every database of the shard, removing at most
    /// `budget` keys per database; returns the number removed.
    pub fn active_expire(&mut self, now_ms: u64, budget: usize) -> usize {
        self.dbs
            .iter_mut()
            .map(|db| db.active_expire(now_ms, budget))
            .sum()
    }

    /// Earliest pending expiry over all databases (Unix ms).
    pub fn next_expiry(&self) -> Option<u64> {
        self.dbs.iter().filter_map(Db::next_expiry).min()
    }

    /// Number of databases.
    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }
}

/// Striped-lock keyspace shared by all connections.
#[derive(Debug)]
pub struct Keyspace {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    shard_bits: u32,
    seed: u64,
    databases: usize,
}

thread_local! {
    /// Address of the keyspace whose every shard this thread holds (inside
    /// [`Keyspace::exclusive`]), or 0.
    static HELD: Cell<usize> = const { Cell::new(0) };
}

/// Access to one locked shard: a guard of its own, or a borrow of a shard
/// this thread already holds through [`Keyspace::exclusive`].
#[derive(Debug)]
pub enum ShardGuard<'a> {
    /// The shard's mutex, locked by this guard.
    Locked(MutexGuard<'a, Shard>),
    /// A shard held by an enclosing [`Keyspace::exclusive`] on this thread.
    Held(&'a mut Shard),
}

impl Deref for ShardGuard<'_> {
    type Target = Shard;

    #[inline]
    fn deref(&self) -> &Shard {
        match self {
            ShardGuard::Locked(g) => g,
            ShardGuard::Held(s) => s,
        }
    }
}

impl DerefMut for ShardGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Shard {
        match self {
            ShardGuard::Locked(g) => g,
            ShardGuard::Held(s) => s,
        }
    }
}

/// Guards of several shards locked together, in ascending shard order.
#[derive(Debug)]
pub struct Locked<'a> {
    guards: SmallVec<[(usize, ShardGuard<'a>); 4]>,
}

impl<'a> Locked<'a> {
    /// The locked shard `index`.
    ///
    /// # Panics
    /// If `index` was not among the shards locked.
    #[inline]
    pub fn shard(&mut self, index: usize) -> &mut Shard {
        let pos = self
            .guards
            .binary_search_by_key(&index, |(i, _)| *i)
            .expect("shard was locked");
        &mut self.guards[pos].1
    }

    /// All locked shards, in ascending order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Shard> + use<'_, 'a> {
        self.guards.iter_mut().map(|(_, g)| &mut **g)
    }
}

impl Keyspace {
    /// A keyspace of `shards` shards (rounded up to a power of two, at least
    /// 1) and `databases` databases (at least 1), hashing keys with `seed`.
    pub fn new(shards: usize, databases: usize, seed: u64) -> Keyspace {
        let shards = shards.clamp(1, 1 << 16).next_power_of_two();
        let databases = databases.max(1);
        let make = || Shard {
            dbs: (0..databases).map(|_| Db::new(seed)).collect(),
            stats: ShardStats::default(),
        };
        Keyspace {
            shards: (0..shards)
                .map(|_| CachePadded::new(Mutex::new(make())))
                .collect(),
            shard_bits: shards.trailing_zeros(),
            seed,
            databases,
        }
    }

    /// Number of shards.
    #[inline]
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Number of databases (`SELECT` accepts 0 to this minus 1).
    #[inline]
    pub fn databases(&self) -> usize {
        self.databases
    }

    /// The 64-bit hash of `key` (xxh3 with this keyspace's seed).
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        db::hash_key(self.seed, key)
    }

    /// The shard owning a key of hash `hash`.
    ///
    /// The shard is taken from a remix of the hash, so the bits the shard's
    /// hash index uses for its buckets stay uniform within each shard.
    #[inline]
    pub fn shard_of(&self, hash: u64) -> usize {
        if self.shard_bits == 0 {
            return 0;
        }
        let mixed = (hash ^ (hash >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> (64 - self.shard_bits)) as usize
    }

    /// Locks shard `index` (or borrows it, inside [`Keyspace::exclusive`]).
    ///
    /// A caller holds at most one guard per shard at a time (two would
    /// deadlock outside `exclusive`), which is what makes the borrow sound.
    #[inline]
    #[allow(unsafe_code)]
    pub fn lock(&self, index: usize) -> ShardGuard<'_> {
        let shard = &self.shards[index];
        if HELD.with(Cell::get) == self as *const Keyspace as usize {
            // SAFETY: HELD names this keyspace only while this thread runs
            // the closure of `exclusive`, holding every shard's mutex; the
            // contract of `exclusive` keeps guards made here from outliving
            // the closure, and callers never hold two guards of one shard
            // at once (see above), so this `&mut` is the only live
            // reference to the shard.
            ShardGuard::Held(unsafe { &mut *shard.data_ptr() })
        } else {
            ShardGuard::Locked(shard.lock())
        }
    }

    /// Hashes `key` and locks its shard: the start of every single-key
    /// command. Returns the hash for the shard's [`Db`] calls.
    #[inline]
    pub fn lock_key(&self, key: &[u8]) -> (u64, ShardGuard<'_>) {
        let hash = self.hash(key);
        (hash, self.lock(self.shard_of(hash)))
    }

    /// Locks the shards in `indices` (sorted ascending, without duplicates),
    /// in that order.
    pub fn lock_shards(&self, indices: &[usize]) -> Locked<'_> {
        debug_assert!(indices.windows(2).all(|w| w[0] < w[1]));
        Locked {
            guards: indices.iter().map(|&i| (i, self.lock(i))).collect(),
        }
    }

    /// Locks every shard, in order.
    pub fn lock_all(&self) -> Locked<'_> {
        Locked {
            guards: (0..self.shards.len()).map(|i| (i, self.lock(i))).collect(),
        }
    }

    /// Runs `f` with every shard locked by this thread: the `lock*` calls
    /// `f` makes borrow the held shards, so all of `f` is atomic with
    /// respect to every other command (`EXEC`). Nested calls run `f` inside
    /// the outer one.
    ///
    /// `f` must not hand work to other threads that lock shards of this
    /// keyspace (they would wait for `f`).
    ///
    /// # Safety
    /// No [`ShardGuard`] or [`Locked`] obtained inside `f` may outlive `f`
    /// (a guard stored outside would keep a shard borrowed after its lock
    /// is released). Command handlers satisfy this: their guards are locals.
    #[allow(unsafe_code)]
    pub unsafe fn exclusive<R>(&self, f: impl FnOnce() -> R) -> R {
        let me = self as *const Keyspace as usize;
        if HELD.with(Cell::get) == me {
            return f();
        }
        let guards: Vec<MutexGuard<'_, Shard>> = self.shards.iter().map(|s| s.lock()).collect();
        /// Clears the thread's mark even if `f` panics.
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                HELD.with(|h| h.set(0));
            }
        }
        HELD.with(|h| h.set(me));
        let reset = Reset;
        let r = f();
        drop(reset);
        drop(guards);
        r
    }

    /// Number of keys in database `db` (expired keys not yet removed included,
    /// as Redis' `DBSIZE`).
    pub fn dbsize(&self, db: usize) -> usize {
        (0..self.shards.len())
            .map(|i| self.lock(i).db_ref(db).len())
            .sum()
    }

    /// Sums of counters over all shards: (stats, keys per db, volatile keys
    /// per db, expired keys total).
    pub fn totals(&self) -> KeyspaceTotals {
        let mut t = KeyspaceTotals {
            keys: vec![0; self.databases],
            volatile: vec![0; self.databases],
            ..KeyspaceTotals::default()
        };
        for i in 0..self.shards.len() {
            let s = self.lock(i);
            t.hits += s.stats.hits;
            t.misses += s.stats.misses;
            for (i, db) in s.dbs.iter().enumerate() {
                t.keys[i] += db.len();
                t.volatile[i] += db.volatile_len();
                t.expired += db.expired_total();
            }
        }
        t
    }
}

/// Keyspace-wide sums for `INFO`.
#[derive(Debug, Default, Clone)]
pub struct KeyspaceTotals {
    /// `keyspace_hits`.
    pub hits: u64,
    /// `keyspace_misses`.
    pub misses: u64,
    /// `expired_keys`.
    pub expired: u64,
    /// Keys per database.
    pub keys: Vec<usize>,
    /// Keys with a TTL per database.
    pub volatile: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_56_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 56);
    }

    #[test]
    fn exclusive_holds_every_shard_and_lends_them() {
        let ks = std::sync::Arc::new(Keyspace::new(8, 1, 7));
        let h = ks.hash(b"k");
        // SAFETY: no guard leaves the closure.
        #[allow(unsafe_code)]
        let n = unsafe {
            ks.exclusive(|| {
                // Locks taken inside borrow the held shards (no self-deadlock).
                let (_, mut a) = ks.lock_key(b"k");
                a.db(0).set(b"k", h, Value::Int(1), Ttl::Persist, 0);
                drop(a);
                let mut all = ks.lock_all();
                let n: usize = all.iter_mut().map(|s| s.db(0).len()).sum();
                // Another thread cannot lock any shard meanwhile.
                let other = ks.clone();
                let t = std::thread::spawn(move || other.shards[3].try_lock().is_none());
                assert!(t.join().unwrap());
                n
            })
        };
        assert_eq!(n, 1);
        assert!(ks.shards.iter().all(|s| s.try_lock().is_some()));
        assert_eq!(ks.dbsize(0), 1);
    }

    #[test]
    fn shards_spread_keys() {
        let ks = Keyspace::new(16, 16, 7);
        let mut counts = [0usize; 16];
        for i in 0..16_000 {
            counts[ks.shard_of(ks.hash(format!("key:{i}").as_bytes()))] += 1;
        }
        assert!(
            counts.iter().all(|&c| (700..1300).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn lazy_and_active_expiry() {
        let mut db = Db::new(1);
        let h = db::hash_key(1, b"k");
        db.set(b"k", h, Value::Int(1), Ttl::At(100), 0);
        assert!(db.get(b"k", h, 99).is_some());
        assert!(db.get(b"k", h, 100).is_none());
        assert_eq!(db.len(), 0);
        assert_eq!(db.expired_total(), 1);

        for i in 0..100u64 {
            let k = format!("k{i}");
            db.set(
                k.as_bytes(),
                db::hash_key(1, k.as_bytes()),
                Value::Int(0),
                Ttl::At(1000 + i),
                0,
            );
        }
        assert_eq!(db.volatile_len(), 100);
        assert_eq!(db.active_expire(1049, 1000), 50);
        assert_eq!(db.len(), 50);
        assert_eq!(db.volatile_len(), 50);
        assert_eq!(db.next_expiry(), Some(1050));
    }

    #[test]
    fn stale_heap_items_never_expire_a_live_key() {
        let mut db = Db::new(1);
        let h = db::hash_key(1, b"k");
        for i in 0..1000 {
            db.set(b"k", h, Value::Int(i), Ttl::At(10 + i as u64), 0);
        }
        assert!(
            db.expiry_index_len() < 200,
            "heap compacted: {}",
            db.expiry_index_len()
        );
        assert_eq!(db.active_expire(500, 10_000), 0);
        assert!(db.get(b"k", h, 500).is_some());
        db.set(b"k", h, Value::Int(0), Ttl::Persist, 0);
        assert_eq!(db.active_expire(u64::MAX - 1, 10_000), 0);
        assert_eq!(db.volatile_len(), 0);
        assert!(db.get(b"k", h, u64::MAX - 1).is_some());
    }

    #[test]
    fn scan_visits_every_stable_key_once() {
        let mut db = Db::new(3);
        for i in 0..1000 {
            let k = format!("{i}");
            db.set(
                k.as_bytes(),
                db::hash_key(3, k.as_bytes()),
                Value::Int(i),
                Ttl::Persist,
                0,
            );
        }
        let mut seen = std::collections::HashMap::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = db.scan(cursor, 10, 0, |e| {
                *seen.entry(e.key.clone()).or_insert(0) += 1
            });
            // Churn: delete and re-add other keys while scanning.
            let k = format!("tmp{round}");
            let hk = db::hash_key(3, k.as_bytes());
            db.set(k.as_bytes(), hk, Value::Int(0), Ttl::Persist, 0);
            if round % 2 == 0 {
                db.remove(k.as_bytes(), hk);
            }
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            assert_eq!(seen.get(format!("{i}").as_bytes()), Some(&1), "{i}");
        }
    }
}
