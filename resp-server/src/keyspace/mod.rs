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
//! Why striped locks rather than shard-per-thread: see
//! `docs/design/concurrency.md`.

pub mod db;
pub mod value;

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

    /// Swaps databases `a` and `b` of this shard.
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
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

/// Guards of several shards locked together, in ascending shard order.
#[derive(Debug)]
pub struct Locked<'a> {
    guards: SmallVec<[(usize, MutexGuard<'a, Shard>); 4]>,
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

    /// Locks shard `index`.
    #[inline]
    pub fn lock(&self, index: usize) -> MutexGuard<'_, Shard> {
        self.shards[index].lock()
    }

    /// Hashes `key` and locks its shard: the start of every single-key
    /// command. Returns the hash for the shard's [`Db`] calls.
    #[inline]
    pub fn lock_key(&self, key: &[u8]) -> (u64, MutexGuard<'_, Shard>) {
        let hash = self.hash(key);
        (hash, self.lock(self.shard_of(hash)))
    }

    /// Locks the shards in `indices` (sorted ascending, without duplicates),
    /// in that order.
    pub fn lock_shards(&self, indices: &[usize]) -> Locked<'_> {
        debug_assert!(indices.windows(2).all(|w| w[0] < w[1]));
        Locked {
            guards: indices
                .iter()
                .map(|&i| (i, self.shards[i].lock()))
                .collect(),
        }
    }

    /// Locks every shard, in order.
    pub fn lock_all(&self) -> Locked<'_> {
        Locked {
            guards: self
                .shards
                .iter()
                .enumerate()
                .map(|(i, s)| (i, s.lock()))
                .collect(),
        }
    }

    /// Number of keys in database `db` (expired keys not yet removed included,
    /// as Redis' `DBSIZE`).
    pub fn dbsize(&self, db: usize) -> usize {
        self.shards.iter().map(|s| s.lock().db_ref(db).len()).sum()
    }

    /// Sums of counters over all shards: (stats, keys per db, volatile keys
    /// per db, expired keys total).
    pub fn totals(&self) -> KeyspaceTotals {
        let mut t = KeyspaceTotals {
            keys: vec![0; self.databases],
            volatile: vec![0; self.databases],
            ..KeyspaceTotals::default()
        };
        for s in self.shards.iter() {
            let s = s.lock();
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
