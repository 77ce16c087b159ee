//! The block cache: decoded data blocks keyed by (table number, block
//! offset), bounded in bytes, as a sharded LRU (the structure of LevelDB's
//! `util/cache.cc`: a hash table plus a doubly linked recency list per
//! shard, each shard behind its own lock).
//!
//! Values are [`Block`]s over `Bytes`, so a hit hands out a reference-
//! counted view of the cached buffer: values returned by `get` stay valid
//! after the block is evicted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::sstable::block::Block;

/// Cache key: (table file number, block offset in bytes).
pub type BlockKey = (u64, u64);

const SHARDS: usize = 16;
const NIL: u32 = u32::MAX;
/// Bytes charged per entry on top of its block (key, links, map slot).
const ENTRY_OVERHEAD: usize = 64;

#[derive(Debug)]
struct Node {
    key: BlockKey,
    block: Option<Block>,
    charge: usize,
    prev: u32,
    next: u32,
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<BlockKey, u32>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Most recently used.
    head: u32,
    /// Least recently used.
    tail: u32,
    used: usize,
}

impl Shard {
    fn new() -> Self {
        Shard {
            head: NIL,
            tail: NIL,
            ..Default::default()
        }
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let n = &self.nodes[i as usize];
            (n.prev, n.next)
        };
        match prev {
            NIL => self.head = next,
            p => self.nodes[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.nodes[n as usize].prev = prev,
        }
    }

    fn push_front(&mut self, i: u32) {
        let head = self.head;
        {
            let n = &mut self.nodes[i as usize];
            n.prev = NIL;
            n.next = head;
        }
        if head != NIL {
            self.nodes[head as usize].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }

    fn get(&mut self, key: BlockKey) -> Option<Block> {
        let i = *self.map.get(&key)?;
        self.unlink(i);
        self.push_front(i);
        self.nodes[i as usize].block.clone()
    }

    fn remove_index(&mut self, i: u32) {
        self.unlink(i);
        let n = &mut self.nodes[i as usize];
        n.block = None;
        self.used -= n.charge;
        self.map.remove(&n.key);
        self.free.push(i);
    }

    fn insert(&mut self, key: BlockKey, block: Block, cap: usize) {
        let charge = block.data().len() + ENTRY_OVERHEAD;
        if charge > cap {
            return;
        }
        if let Some(&i) = self.map.get(&key) {
            self.remove_index(i);
        }
        while self.used + charge > cap && self.tail != NIL {
            self.remove_index(self.tail);
        }
        let node = Node {
            key,
            block: Some(block),
            charge,
            prev: NIL,
            next: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.map.insert(key, i);
        self.push_front(i);
        self.used += charge;
    }
}

/// A sharded LRU cache of decoded data blocks, bounded in bytes.
///
/// # Examples
/// ```
/// use lsm::cache::BlockCache;
/// let c = BlockCache::new(1 << 20);
/// assert!(c.get((1, 16)).is_none());
/// assert_eq!(c.hits(), 0);
/// assert_eq!(c.misses(), 1);
/// ```
#[derive(Debug)]
pub struct BlockCache {
    shards: Box<[Mutex<Shard>]>,
    shard_cap: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl BlockCache {
    /// A cache holding at most about `capacity` bytes of blocks (each
    /// block is charged its decoded length plus 64 bytes; the capacity is
    /// split evenly over 16 shards, and a block larger than a shard's
    /// share is not cached).
    pub fn new(capacity: usize) -> Self {
        BlockCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            shard_cap: capacity / SHARDS,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: BlockKey) -> &Mutex<Shard> {
        let h = xxhash_rust::xxh3::xxh3_64(&[key.0.to_le_bytes(), key.1.to_le_bytes()].concat());
        &self.shards[(h as usize) % SHARDS]
    }

    /// The cached block under `key`, marked most recently used.
    pub fn get(&self, key: BlockKey) -> Option<Block> {
        let r = self.shard(key).lock().get(key);
        let c = if r.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        c.fetch_add(1, Ordering::Relaxed);
        r
    }

    /// Caches `block` under `key`, evicting least recently used blocks of
    /// its shard to stay within the capacity.
    pub fn insert(&self, key: BlockKey, block: Block) {
        self.shard(key).lock().insert(key, block, self.shard_cap);
    }

    /// Bytes charged by the cached blocks.
    pub fn used_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().used).sum()
    }

    /// Lookups that found their block.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that did not.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// A block of `n + 8` bytes (contents not decoded here).
    fn block(n: usize, tag: u8) -> Block {
        let mut d = vec![tag; n.max(1)];
        d.extend_from_slice(&0u32.to_le_bytes()); // restart at 0
        d.extend_from_slice(&1u32.to_le_bytes()); // one restart
        Block::new(Bytes::from(d)).unwrap()
    }

    #[test]
    fn evicts_least_recently_used_within_capacity() {
        let mut s = Shard::new();
        let cap = 3 * (96 + 8 + ENTRY_OVERHEAD);
        for i in 0..3 {
            s.insert((1, i), block(96, i as u8), cap);
        }
        assert!(s.get((1, 0)).is_some()); // 0 is now most recent
        s.insert((1, 3), block(96, 3), cap);
        assert!(s.get((1, 1)).is_none(), "least recently used evicted");
        assert!(s.get((1, 0)).is_some());
        assert!(s.get((1, 2)).is_some());
        assert!(s.get((1, 3)).is_some());
        assert!(s.used <= cap);
        // Replacing a key keeps one entry.
        s.insert((1, 3), block(96, 9), cap);
        assert_eq!(s.map.len(), 3);
        // Too large for the shard: not cached.
        s.insert((2, 0), block(cap, 1), cap);
        assert!(s.get((2, 0)).is_none());
    }

    #[test]
    fn counts_hits_and_misses_and_stays_bounded() {
        let c = BlockCache::new(16 * 1024);
        for i in 0..1000u64 {
            c.insert((i % 7, i), block(200, 1));
            assert!(c.used_bytes() <= 16 * 1024);
        }
        assert!(c.get((999 % 7, 999)).is_some());
        assert!(c.get((0, 0)).is_none());
        assert_eq!((c.hits(), c.misses()), (1, 1));
    }
}
