//! The memtable: a skiplist (Pugh, "Skip Lists: A Probabilistic
//! Alternative to Balanced Trees", 1990; LevelDB's `db/skiplist.h`) whose
//! nodes live in arrays and whose entries live in one byte arena.
//!
//! Each entry is stored contiguously as `[user key][trailer u64][value]`,
//! so the internal key of an entry is one slice of the arena: iteration and
//! flush hand out key slices without rebuilding keys (the layout the
//! SurrealKV review recommends). Links are `u32` node indices, not
//! pointers, so the structure is safe Rust: writers take a write lock for
//! one insert, readers a read lock for one lookup or step. Nodes are never
//! removed, so an iterator's node index stays valid between steps.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtOrd};

use bytes::Bytes;
use parking_lot::RwLock;

use crate::format::{cmp_internal, push_internal_key, Kind, KIND_SEEK};

/// Tallest tower, in levels (enough for 4^12 = 16 M entries at p = 1/4).
const MAX_HEIGHT: usize = 12;
/// "No node": index 0 is the head, never a successor.
const NIL: u32 = 0;

#[derive(Debug, Clone, Copy)]
struct Node {
    /// Offset of the entry in the arena.
    off: usize,
    /// Length of the internal key (user key + 8).
    klen: u32,
    /// Length of the value.
    vlen: u32,
    /// Index of this node's first link in `links`.
    tower: u32,
}

#[derive(Debug)]
struct Inner {
    arena: Vec<u8>,
    nodes: Vec<Node>,
    links: Vec<u32>,
    height: usize,
    rng: u64,
}

impl Inner {
    #[inline]
    fn key(&self, n: u32) -> &[u8] {
        let node = &self.nodes[n as usize];
        &self.arena[node.off..node.off + node.klen as usize]
    }
    #[inline]
    fn value(&self, n: u32) -> &[u8] {
        let node = &self.nodes[n as usize];
        let start = node.off + node.klen as usize;
        &self.arena[start..start + node.vlen as usize]
    }
    #[inline]
    fn next(&self, n: u32, level: usize) -> u32 {
        self.links[self.nodes[n as usize].tower as usize + level]
    }
    fn random_height(&mut self) -> usize {
        let mut h = 1;
        while h < MAX_HEIGHT {
            // xorshift64
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            if self.rng & 3 != 0 {
                break;
            }
            h += 1;
        }
        h
    }
    /// First node with key >= target (NIL if none); fills `prev` with the
    /// last node before it on every level.
    fn find_ge(&self, target: &[u8], mut prev: Option<&mut [u32; MAX_HEIGHT]>) -> u32 {
        let mut x = 0u32;
        let mut level = self.height - 1;
        loop {
            let n = self.next(x, level);
            if n != NIL && cmp_internal(self.key(n), target) == Ordering::Less {
                x = n;
                continue;
            }
            if let Some(p) = prev.as_deref_mut() {
                p[level] = x;
            }
            if level == 0 {
                return n;
            }
            level -= 1;
        }
    }
    /// Last node with key < target (0, the head, if none).
    fn find_lt(&self, target: &[u8]) -> u32 {
        let mut x = 0u32;
        let mut level = self.height - 1;
        loop {
            let n = self.next(x, level);
            if n != NIL && cmp_internal(self.key(n), target) == Ordering::Less {
                x = n;
                continue;
            }
            if level == 0 {
                return x;
            }
            level -= 1;
        }
    }
    /// Last node with key <= target (0 if none).
    fn find_le(&self, target: &[u8]) -> u32 {
        let mut x = 0u32;
        let mut level = self.height - 1;
        loop {
            let n = self.next(x, level);
            if n != NIL && cmp_internal(self.key(n), target) != Ordering::Greater {
                x = n;
                continue;
            }
            if level == 0 {
                return x;
            }
            level -= 1;
        }
    }
    fn last(&self) -> u32 {
        let mut x = 0u32;
        let mut level = self.height - 1;
        loop {
            let n = self.next(x, level);
            if n != NIL {
                x = n;
                continue;
            }
            if level == 0 {
                return x;
            }
            level -= 1;
        }
    }
}

/// The result of a point lookup in one memtable or table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The newest visible version is this value.
    Value(Bytes),
    /// The newest visible version is a deletion.
    Deleted,
}

/// A skiplist memtable bounded in bytes by its owner (see
/// [`Memtable::approximate_bytes`]).
#[derive(Debug)]
pub struct Memtable {
    inner: RwLock<Inner>,
    bytes: AtomicUsize,
    max_seq: AtomicU64,
    entries: AtomicUsize,
    /// Number of the oldest WAL file holding this memtable's entries.
    pub(crate) first_wal: u64,
}

impl Memtable {
    /// An empty memtable whose entries are logged from WAL `first_wal` on.
    pub fn new(first_wal: u64) -> Self {
        let head = Node {
            off: 0,
            klen: 0,
            vlen: 0,
            tower: 0,
        };
        Memtable {
            inner: RwLock::new(Inner {
                arena: Vec::new(),
                nodes: vec![head],
                links: vec![NIL; MAX_HEIGHT],
                height: 1,
                rng: 0x9E37_79B9_7F4A_7C15 ^ first_wal,
            }),
            bytes: AtomicUsize::new(0),
            max_seq: AtomicU64::new(0),
            entries: AtomicUsize::new(0),
            first_wal,
        }
    }

    /// Inserts one version. `(user_key, seq)` must be unique.
    pub fn insert(&self, user_key: &[u8], seq: u64, kind: Kind, value: &[u8]) {
        let mut g = self.inner.write();
        let inner = &mut *g;
        let off = inner.arena.len();
        push_internal_key(&mut inner.arena, user_key, seq, kind as u8);
        inner.arena.extend_from_slice(value);
        let klen = (user_key.len() + 8) as u32;
        let mut prev = [0u32; MAX_HEIGHT];
        let height = inner.random_height();
        {
            let inner: &Inner = inner;
            let target = &inner.arena[off..off + klen as usize];
            inner.find_ge(target, Some(&mut prev));
        }
        if height > inner.height {
            // The new levels start at the head (prev is already 0 there).
            inner.height = height;
        }
        let idx = inner.nodes.len() as u32;
        let tower = inner.links.len() as u32;
        for (level, &p) in prev.iter().enumerate().take(height) {
            let succ = inner.next(p, level);
            inner.links.push(succ);
            let pt = inner.nodes[p as usize].tower as usize;
            inner.links[pt + level] = idx;
        }
        inner.nodes.push(Node {
            off,
            klen,
            vlen: value.len() as u32,
            tower,
        });
        drop(g);
        self.bytes.fetch_add(
            klen as usize + value.len() + std::mem::size_of::<Node>() + 4 * height,
            AtOrd::Relaxed,
        );
        self.entries.fetch_add(1, AtOrd::Relaxed);
        self.max_seq.fetch_max(seq, AtOrd::Relaxed);
    }

    /// The newest version of `user_key` with sequence <= `seq`, if any.
    pub fn get(&self, user_key: &[u8], seq: u64) -> Option<Lookup> {
        let mut target = Vec::with_capacity(user_key.len() + 8);
        push_internal_key(&mut target, user_key, seq, KIND_SEEK);
        let g = self.inner.read();
        let n = g.find_ge(&target, None);
        if n == NIL {
            return None;
        }
        let k = g.key(n);
        if crate::format::user_key(k) != user_key {
            return None;
        }
        if k[k.len() - 8] == Kind::Delete as u8 {
            Some(Lookup::Deleted)
        } else {
            Some(Lookup::Value(Bytes::copy_from_slice(g.value(n))))
        }
    }

    /// Approximate memory used by entries and links, in bytes.
    pub fn approximate_bytes(&self) -> usize {
        self.bytes.load(AtOrd::Relaxed)
    }

    /// Number of entries (versions).
    pub fn len(&self) -> usize {
        self.entries.load(AtOrd::Relaxed)
    }

    /// Whether the memtable holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Largest sequence number inserted (0 if empty).
    pub fn max_seq(&self) -> u64 {
        self.max_seq.load(AtOrd::Relaxed)
    }

    /// Calls `f(internal key, value)` for every entry in order, with slices
    /// of the arena (no copies). Holds the read lock throughout: meant for
    /// frozen memtables (flush).
    pub fn for_each<E>(&self, mut f: impl FnMut(&[u8], &[u8]) -> Result<(), E>) -> Result<(), E> {
        let g = self.inner.read();
        let mut n = g.next(0, 0);
        while n != NIL {
            f(g.key(n), g.value(n))?;
            n = g.next(n, 0);
        }
        Ok(())
    }
}

/// A cursor over one memtable, valid across inserts (it keeps a node index
/// and copies the current entry out).
#[derive(Debug)]
pub(crate) struct MemCursor {
    mem: std::sync::Arc<Memtable>,
    node: u32,
    key: Vec<u8>,
    value: Bytes,
}

impl MemCursor {
    pub(crate) fn new(mem: std::sync::Arc<Memtable>) -> Self {
        MemCursor {
            mem,
            node: NIL,
            key: Vec::new(),
            value: Bytes::new(),
        }
    }
    fn load(&mut self, g: &Inner, n: u32) {
        self.node = n;
        if n != NIL {
            self.key.clear();
            self.key.extend_from_slice(g.key(n));
            self.value = Bytes::copy_from_slice(g.value(n));
        }
    }
    pub(crate) fn valid(&self) -> bool {
        self.node != NIL
    }
    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }
    pub(crate) fn value(&self) -> &Bytes {
        &self.value
    }
    pub(crate) fn seek(&mut self, target: &[u8]) {
        let mem = self.mem.clone();
        let g = mem.inner.read();
        let n = g.find_ge(target, None);
        self.load(&g, n);
    }
    pub(crate) fn seek_for_prev(&mut self, target: &[u8]) {
        let mem = self.mem.clone();
        let g = mem.inner.read();
        let n = g.find_le(target);
        self.load(&g, n);
    }
    pub(crate) fn seek_first(&mut self) {
        let mem = self.mem.clone();
        let g = mem.inner.read();
        let n = g.next(0, 0);
        self.load(&g, n);
    }
    pub(crate) fn seek_last(&mut self) {
        let mem = self.mem.clone();
        let g = mem.inner.read();
        let n = g.last();
        self.load(&g, n);
    }
    pub(crate) fn next(&mut self) {
        let mem = self.mem.clone();
        let g = mem.inner.read();
        let n = g.next(self.node, 0);
        self.load(&g, n);
    }
    pub(crate) fn prev(&mut self) {
        let mem = self.mem.clone();
        let g = mem.inner.read();
        let n = g.find_lt(&self.key);
        self.load(&g, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::user_key;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    #[test]
    fn get_sees_newest_visible_version() {
        let m = Memtable::new(1);
        m.insert(b"k", 1, Kind::Put, b"v1");
        m.insert(b"k", 3, Kind::Put, b"v3");
        m.insert(b"k", 5, Kind::Delete, b"");
        m.insert(b"j", 2, Kind::Put, b"j");
        assert_eq!(m.get(b"k", 0), None);
        assert_eq!(
            m.get(b"k", 2),
            Some(Lookup::Value(Bytes::from_static(b"v1")))
        );
        assert_eq!(
            m.get(b"k", 4),
            Some(Lookup::Value(Bytes::from_static(b"v3")))
        );
        assert_eq!(m.get(b"k", 9), Some(Lookup::Deleted));
        assert_eq!(m.get(b"l", 9), None);
        assert_eq!(m.len(), 4);
        assert_eq!(m.max_seq(), 5);
    }

    #[test]
    fn iteration_matches_sorted_model_both_ways() {
        let m = Arc::new(Memtable::new(1));
        let mut model = BTreeMap::new();
        let mut rng = fastrand::Rng::with_seed(7);
        for seq in 1..2000u64 {
            let k = format!("{:04}", rng.u32(0..500));
            m.insert(k.as_bytes(), seq, Kind::Put, k.as_bytes());
            model.insert(crate::format::internal_key(k.as_bytes(), seq, 1), ());
        }
        let mut got = Vec::new();
        m.for_each::<()>(|k, v| {
            assert_eq!(user_key(k), v);
            got.push(k.to_vec());
            Ok(())
        })
        .unwrap();
        let mut want: Vec<_> = model.keys().cloned().collect();
        want.sort_by(|a, b| cmp_internal(a, b));
        assert_eq!(got, want);
        let mut c = MemCursor::new(m.clone());
        c.seek_last();
        let mut back = Vec::new();
        while c.valid() {
            back.push(c.key().to_vec());
            c.prev();
        }
        back.reverse();
        assert_eq!(back, want);
        // seek_for_prev lands on the last key <= target.
        let t = crate::format::internal_key(b"0250", 0, 0);
        c.seek_for_prev(&t);
        assert!(c.valid());
        assert!(cmp_internal(c.key(), &t) != Ordering::Greater);
        c.next();
        assert!(!c.valid() || cmp_internal(c.key(), &t) == Ordering::Greater);
    }

    #[test]
    fn concurrent_readers_and_a_writer() {
        let m = Arc::new(Memtable::new(1));
        std::thread::scope(|s| {
            let w = m.clone();
            s.spawn(move || {
                for i in 0..5000u64 {
                    w.insert(&i.to_be_bytes(), i + 1, Kind::Put, b"x");
                }
            });
            for _ in 0..2 {
                let r = m.clone();
                s.spawn(move || {
                    for i in 0..5000u64 {
                        if let Some(l) = r.get(&i.to_be_bytes(), u64::MAX >> 8) {
                            assert_eq!(l, Lookup::Value(Bytes::from_static(b"x")));
                        }
                    }
                });
            }
        });
        assert_eq!(m.len(), 5000);
    }
}
