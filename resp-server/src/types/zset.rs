//! A sorted set: members ordered by `(score, member bytes)`, as Redis'
//! `t_zset.c` orders them.
//!
//! Two encodings, as Redis 7.0 (`OBJECT ENCODING` names):
//!
//! - `listpack`: one contiguous buffer of `(score, member)` entries kept in
//!   order ([`Listpack`]), while the set has at most
//!   `zset-max-listpack-entries` members of at most `zset-max-listpack-value`
//!   bytes each. Every operation scans it (at most 128 entries by default),
//!   as Redis' `zzl*` functions do.
//! - `skiplist`: past a threshold the set converts once, for good, to an
//!   order-statistic tree ([`Tree`]): a treap (Seidel and Aragon, "Randomized
//!   search trees", 1996) whose nodes count their subtree, so rank, select
//!   and range bounds take O(log n) expected time, plus a hash index from
//!   member to node for `ZSCORE` in O(1). Redis uses a skip list with spans
//!   for the same job; the name reported stays `skiplist`.
//!
//! Scores are never NaN (commands refuse NaN before they get here), so the
//! order is total; `-0` and `0` compare equal, as in C.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::small::SmallBytes;

/// Thresholds of the compact encoding (Redis' `zset-max-listpack-entries`
/// and `zset-max-listpack-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most members of a listpack set.
    pub max_entries: usize,
    /// Longest member of a listpack set, in bytes.
    pub max_value: usize,
}

impl Default for Limits {
    /// Redis' defaults: 128 entries of at most 64 bytes.
    fn default() -> Limits {
        Limits {
            max_entries: 128,
            max_value: 64,
        }
    }
}

impl From<crate::config::Encodings> for Limits {
    fn from(e: crate::config::Encodings) -> Limits {
        Limits {
            max_entries: e.zset_max_listpack_entries,
            max_value: e.zset_max_listpack_value,
        }
    }
}

/// Compares `(score, member)` keys: by score, then by member bytes.
#[inline]
pub fn cmp_key(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    match a_score.partial_cmp(&b_score) {
        Some(Ordering::Equal) | None => a_member.cmp(b_member),
        Some(o) => o,
    }
}

/// A sorted set: members ordered by score, then by member bytes.
#[derive(Clone, Debug)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    Listpack(Listpack),
    Tree(Tree),
}

impl Default for ZSet {
    fn default() -> ZSet {
        ZSet::new()
    }
}

impl PartialEq for ZSet {
    /// Equal when they hold the same members with the same scores,
    /// whatever their encodings.
    fn eq(&self, other: &ZSet) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let mut a = Vec::with_capacity(self.len());
        self.for_range(0, self.len(), false, |m, s| a.push((m.to_vec(), s)));
        let mut i = 0;
        let mut same = true;
        other.for_range(0, other.len(), false, |m, s| {
            same &= a.get(i).is_some_and(|(am, asc)| am == m && *asc == s);
            i += 1;
        });
        same
    }
}

impl ZSet {
    /// An empty set in the compact (`listpack`) encoding.
    pub fn new() -> ZSet {
        ZSet {
            repr: Repr::Listpack(Listpack::default()),
        }
    }

    /// An empty set in the encoding Redis would pick for `len` members of
    /// at most `max_member_len` bytes (`zsetTypeCreate`).
    pub fn for_size(len: usize, max_member_len: usize, limits: Limits) -> ZSet {
        if len <= limits.max_entries && max_member_len <= limits.max_value && limits.max_entries > 0
        {
            ZSet::new()
        } else {
            ZSet {
                repr: Repr::Tree(Tree::default()),
            }
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(l) => l.len,
            Repr::Tree(t) => t.len(),
        }
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoding `OBJECT ENCODING` reports: `listpack` or `skiplist`.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Tree(_) => "skiplist",
        }
    }

    /// Heap bytes owned (for memory stats).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Listpack(l) => l.buf.capacity(),
            Repr::Tree(t) => t.heap_size(),
        }
    }

    /// The score of `member`, if present.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Listpack(l) => l.find(member).map(|(_, s, _)| s),
            Repr::Tree(t) => t.find(member).map(|n| t.nodes[n as usize].score),
        }
    }

    /// Sets the score of `member`, adding it if absent; returns its previous
    /// score. Converts to the tree encoding first when adding a new member
    /// would pass `limits` (Redis' `zsetAdd`). `score` must not be NaN.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: Limits) -> Option<f64> {
        debug_assert!(!score.is_nan());
        if let Repr::Listpack(l) = &mut self.repr {
            if let Some((off, old, end)) = l.find(member) {
                if old != score || old.is_sign_negative() != score.is_sign_negative() {
                    l.remove_at(off, end);
                    l.insert(member, score);
                }
                return Some(old);
            }
            if l.len < limits.max_entries && member.len() <= limits.max_value {
                l.insert(member, score);
                return None;
            }
            self.convert();
        }
        match &mut self.repr {
            Repr::Tree(t) => t.insert(member, score),
            Repr::Listpack(_) => None,
        }
    }

    /// Removes `member`; returns its score if it was present.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Listpack(l) => {
                let (off, score, end) = l.find(member)?;
                l.remove_at(off, end);
                Some(score)
            }
            Repr::Tree(t) => t.remove(member),
        }
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Listpack(l) => {
                let mut rank = 0;
                let mut found = None;
                l.for_each(|m, _| {
                    if found.is_none() {
                        if m == member {
                            found = Some(rank);
                        }
                        rank += 1;
                    }
                });
                found
            }
            Repr::Tree(t) => t.rank_of(t.find(member)?),
        }
    }

    /// The member of rank `rank` (ascending) and its score.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Listpack(l) => {
                let mut off = 0;
                for _ in 0..rank.min(l.len) {
                    off = l.entry(off).2;
                }
                (rank < l.len).then(|| {
                    let (score, m, _) = l.entry(off);
                    (&l.buf[m.0..m.1], score)
                })
            }
            Repr::Tree(t) => {
                let n = t.select(rank)?;
                let node = &t.nodes[n as usize];
                Some((node.member.as_bytes(), node.score))
            }
        }
    }

    /// How many members, from the lowest, satisfy `pred`, which must hold
    /// for a prefix of the order and not after it (a lower bound).
    pub fn count_while(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Listpack(l) => {
                let mut n = 0;
                let mut done = false;
                l.for_each(|m, s| {
                    if !done && pred(s, m) {
                        n += 1;
                    } else {
                        done = true;
                    }
                });
                n
            }
            Repr::Tree(t) => t.count_while(pred),
        }
    }

    /// Calls `f(member, score)` for ranks `start..end` (clamped to the
    /// length), ascending, or descending from `end - 1` when `rev`.
    pub fn for_range(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match &self.repr {
            Repr::Listpack(l) => {
                if rev {
                    // No back links: collect the range's offsets first.
                    let mut offs = smallvec::SmallVec::<[(u32, u32, f64); 32]>::new();
                    let mut i = 0;
                    l.for_each_at(|off, end_m, s| {
                        if (start..end).contains(&i) {
                            offs.push((off as u32, end_m as u32, s));
                        }
                        i += 1;
                    });
                    for &(a, b, s) in offs.iter().rev() {
                        f(&l.buf[a as usize..b as usize], s);
                    }
                } else {
                    let mut i = 0;
                    l.for_each(|m, s| {
                        if (start..end).contains(&i) {
                            f(m, s);
                        }
                        i += 1;
                    });
                }
            }
            Repr::Tree(t) => t.visit(t.root, 0, start, end, rev, &mut f),
        }
    }

    /// Removes ranks `start..end` (clamped); returns how many were removed.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match &mut self.repr {
            Repr::Listpack(l) => {
                let mut off = 0;
                for _ in 0..start {
                    off = l.entry(off).2;
                }
                let mut stop = off;
                for _ in start..end {
                    stop = l.entry(stop).2;
                }
                l.buf.drain(off..stop);
                l.len -= end - start;
                end - start
            }
            Repr::Tree(t) => t.remove_range(start, end),
        }
    }

    /// Visits members for `ZSCAN` from `cursor`, about `count` of them;
    /// returns the next cursor (0 when done). A compact set is visited whole
    /// in one call, as Redis does.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8], f64)) -> u64 {
        match &self.repr {
            Repr::Listpack(l) => {
                l.for_each(&mut f);
                0
            }
            Repr::Tree(t) => {
                let mut pos = usize::try_from(cursor).unwrap_or(usize::MAX);
                let mut seen = 0;
                let mut steps = 0;
                while pos < t.nodes.len() && seen < count && steps < count.saturating_mul(10) {
                    let n = &t.nodes[pos];
                    if n.size != 0 {
                        f(n.member.as_bytes(), n.score);
                        seen += 1;
                    }
                    pos += 1;
                    steps += 1;
                }
                if pos >= t.nodes.len() {
                    0
                } else {
                    pos as u64
                }
            }
        }
    }

    /// Converts a compact set to the tree encoding (no-op if it is one).
    fn convert(&mut self) {
        if let Repr::Listpack(l) = &self.repr {
            let mut t = Tree::with_capacity(l.len);
            l.for_each(|m, s| {
                t.insert(m, s);
            });
            self.repr = Repr::Tree(t);
        }
    }
}

/// The compact encoding: entries `(score, member)` in order, one after the
/// other in one buffer.
///
/// Entry layout: a header byte `len << 2 | kind` (`len` the member length
/// when below 63, else 63 followed by the length as a LEB128 varint), the
/// score (`kind` 0: `i8`, 1: `i16`, 2: `i32`, all little-endian integers;
/// 3: `f64` bits), then the member bytes. An integral score takes 1 to 4
/// bytes, as Redis' listpack stores integral scores as integers, so a
/// member of `m` bytes with a small integer score costs `m + 2` bytes
/// (Redis: about `m + 4`, with its back-length bytes). Like Redis 7.0's
/// listpack, a `-0` score is stored as the integer 0.
#[derive(Clone, Debug, Default)]
pub struct Listpack {
    buf: Vec<u8>,
    len: usize,
}

impl Listpack {
    /// Decodes the entry at `off`: score, member byte range, next offset.
    #[inline]
    fn entry(&self, off: usize) -> (f64, (usize, usize), usize) {
        let b = &self.buf;
        let h = b[off];
        let mut p = off + 1;
        let mut mlen = (h >> 2) as usize;
        if mlen == 63 {
            let mut shift = 0;
            mlen = 0;
            loop {
                let byte = b[p];
                p += 1;
                mlen |= ((byte & 0x7f) as usize) << shift;
                shift += 7;
                if byte & 0x80 == 0 {
                    break;
                }
            }
        }
        let score = match h & 3 {
            0 => {
                p += 1;
                b[p - 1] as i8 as f64
            }
            1 => {
                p += 2;
                i16::from_le_bytes([b[p - 2], b[p - 1]]) as f64
            }
            2 => {
                p += 4;
                i32::from_le_bytes([b[p - 4], b[p - 3], b[p - 2], b[p - 1]]) as f64
            }
            _ => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&b[p..p + 8]);
                p += 8;
                f64::from_le_bytes(bytes)
            }
        };
        (score, (p, p + mlen), p + mlen)
    }

    /// Calls `f(member, score)` for every entry, in order.
    #[inline]
    fn for_each<'a>(&'a self, mut f: impl FnMut(&'a [u8], f64)) {
        let mut off = 0;
        while off < self.buf.len() {
            let (score, (a, b), next) = self.entry(off);
            f(&self.buf[a..b], score);
            off = next;
        }
    }

    /// Calls `f(member_start, member_end, score)` for every entry.
    fn for_each_at(&self, mut f: impl FnMut(usize, usize, f64)) {
        let mut off = 0;
        while off < self.buf.len() {
            let (score, (a, b), next) = self.entry(off);
            f(a, b, score);
            off = next;
        }
    }

    /// Finds `member`: its entry's offset, score and end offset.
    fn find(&self, member: &[u8]) -> Option<(usize, f64, usize)> {
        let mut off = 0;
        while off < self.buf.len() {
            let (score, (a, b), next) = self.entry(off);
            if &self.buf[a..b] == member {
                return Some((off, score, next));
            }
            off = next;
        }
        None
    }

    fn remove_at(&mut self, off: usize, end: usize) {
        self.buf.drain(off..end);
        self.len -= 1;
    }

    /// Inserts an entry for a member known to be absent, in order.
    fn insert(&mut self, member: &[u8], score: f64) {
        let mut off = 0;
        while off < self.buf.len() {
            let (s, (a, b), next) = self.entry(off);
            if cmp_key(s, &self.buf[a..b], score, member) == Ordering::Greater {
                break;
            }
            off = next;
        }
        let mut enc = smallvec::SmallVec::<[u8; 24]>::new();
        let (kind, sbytes): (u8, smallvec::SmallVec<[u8; 8]>) = encode_score(score);
        let short = member.len().min(63) as u8;
        enc.push(short << 2 | kind);
        if member.len() >= 63 {
            let mut v = member.len();
            loop {
                let byte = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    enc.push(byte);
                    break;
                }
                enc.push(byte | 0x80);
            }
        }
        enc.extend_from_slice(&sbytes);
        self.buf
            .splice(off..off, enc.iter().copied().chain(member.iter().copied()));
        self.len += 1;
    }
}

/// The smallest encoding of a score: its kind and bytes.
fn encode_score(score: f64) -> (u8, smallvec::SmallVec<[u8; 8]>) {
    if score.fract() == 0.0 && score.abs() <= i32::MAX as f64 {
        let v = score as i32;
        if let Ok(v) = i8::try_from(v) {
            return (0, smallvec::SmallVec::from_slice(&v.to_le_bytes()));
        }
        if let Ok(v) = i16::try_from(v) {
            return (1, smallvec::SmallVec::from_slice(&v.to_le_bytes()));
        }
        return (2, smallvec::SmallVec::from_slice(&v.to_le_bytes()));
    }
    (3, smallvec::SmallVec::from_slice(&score.to_le_bytes()))
}

/// No node.
const NIL: u32 = u32::MAX;

/// A node of the tree; `size == 0` marks a free slot.
#[derive(Clone, Debug)]
struct Node {
    member: SmallBytes,
    score: f64,
    left: u32,
    right: u32,
    /// Nodes in this subtree, this one included.
    size: u32,
    /// Heap priority: a parent's is at least its children's.
    prio: u32,
}

/// The general encoding: a treap of nodes in one arena, counted for rank,
/// and a hash index from member to node.
///
/// Nodes never move while they live (free slots are reused), so `ZSCAN`
/// walks the arena by slot and visits a member present for the whole walk
/// exactly once. A node is 48 bytes with members up to 22 bytes inline;
/// with the index's 4-byte slot and control byte, about 53 bytes per member
/// at full tables (Redis: a skip-list node, a `dictEntry`, and an `sds`).
#[derive(Clone, Debug)]
pub struct Tree {
    nodes: Vec<Node>,
    root: u32,
    /// Head of the free-slot list, linked through `left`.
    free: u32,
    index: HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl Default for Tree {
    fn default() -> Tree {
        Tree::with_capacity(0)
    }
}

impl Tree {
    fn with_capacity(n: usize) -> Tree {
        Tree {
            nodes: Vec::with_capacity(n),
            root: NIL,
            free: NIL,
            index: HashTable::with_capacity(n),
            hasher: Default::default(),
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.size(self.root)
    }

    fn heap_size(&self) -> usize {
        let members: usize = self
            .nodes
            .iter()
            .filter(|n| n.size != 0)
            .map(|n| n.member.heap_size())
            .sum();
        self.nodes.capacity() * std::mem::size_of::<Node>() + self.index.allocation_size() + members
    }

    #[inline]
    fn size(&self, n: u32) -> usize {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].size as usize
        }
    }

    #[inline]
    fn update(&mut self, n: u32) {
        let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
        self.nodes[n as usize].size = (1 + self.size(l) + self.size(r)) as u32;
    }

    /// Whether node `a` orders before node `b`.
    #[inline]
    fn less(&self, a: u32, b: u32) -> bool {
        let (x, y) = (&self.nodes[a as usize], &self.nodes[b as usize]);
        cmp_key(x.score, &x.member, y.score, &y.member) == Ordering::Less
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(member);
        let nodes = &self.nodes;
        self.index
            .find(hash, |&n| nodes[n as usize].member.as_bytes() == member)
            .copied()
    }

    fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        if let Some(n) = self.find(member) {
            let old = self.nodes[n as usize].score;
            if old != score || old.is_sign_negative() != score.is_sign_negative() {
                self.root = self.detach(self.root, n);
                let node = &mut self.nodes[n as usize];
                node.score = score;
                node.left = NIL;
                node.right = NIL;
                node.size = 1;
                self.root = self.attach(self.root, n);
            }
            return Some(old);
        }
        let node = Node {
            member: SmallBytes::new(member),
            score,
            left: NIL,
            right: NIL,
            size: 1,
            prio: fastrand::u32(..),
        };
        let n = if self.free != NIL {
            let n = self.free;
            self.free = self.nodes[n as usize].left;
            self.nodes[n as usize] = node;
            n
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        };
        let hash = self.hasher.hash_one(member);
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.index.insert_unique(hash, n, |&x| {
            hasher.hash_one(nodes[x as usize].member.as_bytes())
        });
        self.root = self.attach(self.root, n);
        None
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let n = self.find(member)?;
        self.root = self.detach(self.root, n);
        let score = self.nodes[n as usize].score;
        self.release(n);
        Some(score)
    }

    /// Drops node `n` (already out of the tree) from the index and frees it.
    fn release(&mut self, n: u32) {
        let hash = self
            .hasher
            .hash_one(self.nodes[n as usize].member.as_bytes());
        if let Ok(e) = self.index.find_entry(hash, |&x| x == n) {
            e.remove();
        }
        let node = &mut self.nodes[n as usize];
        node.member = SmallBytes::EMPTY;
        node.size = 0;
        node.right = NIL;
        node.left = self.free;
        self.free = n;
    }

    /// Inserts the lone node `n` into subtree `t`; returns the new root.
    fn attach(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return n;
        }
        if self.nodes[n as usize].prio > self.nodes[t as usize].prio {
            let (l, r) = self.split(t, n);
            let node = &mut self.nodes[n as usize];
            node.left = l;
            node.right = r;
            self.update(n);
            return n;
        }
        if self.less(n, t) {
            let c = self.attach(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = c;
        } else {
            let c = self.attach(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = c;
        }
        self.nodes[t as usize].size += 1;
        t
    }

    /// Splits subtree `t` into the nodes before node `n` and the rest.
    fn split(&mut self, t: u32, n: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.less(t, n) {
            let (l, r) = self.split(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = l;
            self.update(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = r;
            self.update(t);
            (l, t)
        }
    }

    /// Splits subtree `t` into its first `k` nodes and the rest.
    fn split_rank(&mut self, t: u32, k: usize) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let left = self.nodes[t as usize].left;
        let ls = self.size(left);
        if k <= ls {
            let (l, r) = self.split_rank(left, k);
            self.nodes[t as usize].left = r;
            self.update(t);
            (l, t)
        } else {
            let (l, r) = self.split_rank(self.nodes[t as usize].right, k - ls - 1);
            self.nodes[t as usize].right = l;
            self.update(t);
            (t, r)
        }
    }

    /// Joins subtrees `a` and `b`, every node of `a` before those of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let r = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = r;
            self.update(a);
            a
        } else {
            let l = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = l;
            self.update(b);
            b
        }
    }

    /// Takes node `n` out of subtree `t`; returns the new root.
    fn detach(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return NIL;
        }
        if t == n {
            let (l, r) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
            return self.merge(l, r);
        }
        if self.less(n, t) {
            let c = self.detach(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = c;
        } else {
            let c = self.detach(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = c;
        }
        self.nodes[t as usize].size -= 1;
        t
    }

    /// Rank of node `n` (present in the tree).
    fn rank_of(&self, n: u32) -> Option<usize> {
        let mut t = self.root;
        let mut rank = 0;
        while t != NIL {
            let node = &self.nodes[t as usize];
            if t == n {
                return Some(rank + self.size(node.left));
            }
            if self.less(n, t) {
                t = node.left;
            } else {
                rank += self.size(node.left) + 1;
                t = node.right;
            }
        }
        None
    }

    /// The node of rank `k`.
    fn select(&self, mut k: usize) -> Option<u32> {
        let mut t = self.root;
        while t != NIL {
            let node = &self.nodes[t as usize];
            let ls = self.size(node.left);
            match k.cmp(&ls) {
                Ordering::Less => t = node.left,
                Ordering::Equal => return Some(t),
                Ordering::Greater => {
                    k -= ls + 1;
                    t = node.right;
                }
            }
        }
        None
    }

    fn count_while(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        let mut t = self.root;
        let mut n = 0;
        while t != NIL {
            let node = &self.nodes[t as usize];
            if pred(node.score, &node.member) {
                n += self.size(node.left) + 1;
                t = node.right;
            } else {
                t = node.left;
            }
        }
        n
    }

    /// In-order visit of ranks `start..end` of subtree `t`, whose first
    /// node has rank `base`.
    fn visit(
        &self,
        t: u32,
        base: usize,
        start: usize,
        end: usize,
        rev: bool,
        f: &mut impl FnMut(&[u8], f64),
    ) {
        if t == NIL {
            return;
        }
        let node = &self.nodes[t as usize];
        let me = base + self.size(node.left);
        let go_left = start < me;
        let go_right = end > me + 1;
        let here = (start..end).contains(&me);
        if rev {
            if go_right {
                self.visit(node.right, me + 1, start, end, rev, f);
            }
            if here {
                f(&node.member, node.score);
            }
            if go_left {
                self.visit(node.left, base, start, end, rev, f);
            }
        } else {
            if go_left {
                self.visit(node.left, base, start, end, rev, f);
            }
            if here {
                f(&node.member, node.score);
            }
            if go_right {
                self.visit(node.right, me + 1, start, end, rev, f);
            }
        }
    }

    fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let (l, rest) = self.split_rank(self.root, start);
        let (mid, r) = self.split_rank(rest, end - start);
        let removed = self.size(mid);
        let mut stack = vec![mid];
        while let Some(n) = stack.pop() {
            if n == NIL {
                continue;
            }
            stack.push(self.nodes[n as usize].left);
            stack.push(self.nodes[n as usize].right);
            self.release(n);
        }
        self.root = self.merge(l, r);
        removed
    }

    /// Checks the tree's invariants (tests).
    #[cfg(test)]
    fn check(&self) {
        fn walk(t: &Tree, n: u32, out: &mut Vec<u32>) -> usize {
            if n == NIL {
                return 0;
            }
            let node = &t.nodes[n as usize];
            for c in [node.left, node.right] {
                if c != NIL {
                    assert!(t.nodes[c as usize].prio <= node.prio, "heap order");
                }
            }
            let l = walk(t, node.left, out);
            out.push(n);
            let r = walk(t, node.right, out);
            assert_eq!(node.size as usize, l + r + 1, "size");
            l + r + 1
        }
        let mut order = Vec::new();
        walk(self, self.root, &mut order);
        for w in order.windows(2) {
            assert!(self.less(w[0], w[1]), "order");
        }
        assert_eq!(self.index.len(), order.len(), "index");
        for &n in &order {
            assert_eq!(self.find(&self.nodes[n as usize].member), Some(n));
        }
    }
}

pub use crate::num::format_double as format_score;

/// C's `strtod` on a prefix of `s` (glibc, "C" locale): leading white
/// space, a sign, then a decimal number with optional exponent, a hex
/// number (`0x1.8p3`), `inf`/`infinity` or `nan`. Returns the value and the
/// bytes consumed (0 when nothing converts, as `strtod` leaves `endptr` at
/// the start), and whether the result under- or overflowed (`ERANGE`).
pub fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"infinity") {
        return (sign(f64::INFINITY), i + 8, false);
    }
    if starts(b"inf") {
        return (sign(f64::INFINITY), i + 3, false);
    }
    if starts(b"nan") {
        let mut j = 3;
        if rest.get(3) == Some(&b'(') {
            let close = rest[4..]
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'));
            if let Some(p) = close {
                if rest[4 + p] == b')' {
                    j = 4 + p + 1;
                }
            }
        }
        return (f64::NAN, i + j, false);
    }
    if rest.len() >= 2
        && rest[0] == b'0'
        && (rest[1] | 0x20) == b'x'
        && rest.get(2).is_some_and(|c| {
            c.is_ascii_hexdigit() || (*c == b'.' && rest.get(3).is_some_and(u8::is_ascii_hexdigit))
        })
    {
        let (v, used, range) = hex_float(&rest[2..]);
        return (sign(v), i + 2 + used, range);
    }
    // Decimal.
    let mut j = 0;
    let mut mant_digits = 0;
    let mut nonzero = false;
    while j < rest.len() && rest[j].is_ascii_digit() {
        nonzero |= rest[j] != b'0';
        j += 1;
        mant_digits += 1;
    }
    if j < rest.len() && rest[j] == b'.' {
        let mut k = j + 1;
        while k < rest.len() && rest[k].is_ascii_digit() {
            nonzero |= rest[k] != b'0';
            k += 1;
            mant_digits += 1;
        }
        if mant_digits > 0 {
            j = k;
        }
    }
    if mant_digits == 0 {
        return (0.0, 0, false);
    }
    if j < rest.len() && (rest[j] | 0x20) == b'e' {
        let mut k = j + 1;
        if k < rest.len() && (rest[k] == b'+' || rest[k] == b'-') {
            k += 1;
        }
        let digits_at = k;
        while k < rest.len() && rest[k].is_ascii_digit() {
            k += 1;
        }
        if k > digits_at {
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).unwrap_or("0");
    // Rust rejects a bare trailing '.' after digits? It accepts "1." and ".5".
    let v: f64 = text.parse().unwrap_or(0.0);
    let range =
        v.is_infinite() || (v == 0.0 && nonzero) || (v != 0.0 && v.abs() < f64::MIN_POSITIVE);
    (sign(v), i + j, range)
}

/// Hex digits after `0x`: mantissa, optional point, optional `p` exponent.
fn hex_float(s: &[u8]) -> (f64, usize, bool) {
    let mut j = 0;
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut nonzero = false;
    let mut point = false;
    while j < s.len() {
        let c = s[j];
        if c == b'.' && !point {
            point = true;
            j += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else {
            break;
        };
        nonzero |= d != 0;
        if mant < (1 << 60) {
            mant = mant * 16 + d as u64;
            if point {
                exp -= 4;
            }
        } else if !point {
            exp += 4;
        }
        j += 1;
    }
    if j < s.len() && (s[j] | 0x20) == b'p' {
        let mut k = j + 1;
        let mut eneg = false;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            eneg = s[k] == b'-';
            k += 1;
        }
        let start = k;
        let mut e: i64 = 0;
        while k < s.len() && s[k].is_ascii_digit() {
            e = (e * 10 + (s[k] - b'0') as i64).min(100_000);
            k += 1;
        }
        if k > start {
            exp += if eneg { -e } else { e };
            j = k;
        }
    }
    let v = (mant as f64) * 2f64.powi(exp.clamp(-5000, 5000) as i32);
    let range = v.is_infinite() || (v == 0.0 && nonzero);
    (v, j, range)
}

/// Parses a score as Redis' `getDoubleFromObject`: the whole argument
/// must convert, no leading space, no NaN, no overflow or underflow to 0.
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg[0].is_ascii_whitespace() || arg[0] == 0x0b {
        return None;
    }
    let (v, used, range) = strtod(arg);
    if used != arg.len() || v.is_nan() || (range && (v.is_infinite() || v == 0.0)) {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Key of the model: ordered as the set orders members.
    #[derive(Clone, Debug, PartialEq)]
    struct K(f64, Vec<u8>);
    impl Eq for K {}
    impl PartialOrd for K {
        fn partial_cmp(&self, o: &K) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for K {
        fn cmp(&self, o: &K) -> Ordering {
            cmp_key(self.0, &self.1, o.0, &o.1)
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, i16),
        InsertFrac(u8, i32),
        Remove(u8),
        RemoveRange(u8, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), -300i16..300).prop_map(|(m, s)| Op::Insert(m, s)),
            1 => (any::<u8>(), any::<i32>()).prop_map(|(m, s)| Op::InsertFrac(m, s)),
            2 => any::<u8>().prop_map(Op::Remove),
            1 => (any::<u8>(), 0u8..8).prop_map(|(a, n)| Op::RemoveRange(a, n)),
        ]
    }

    fn member(m: u8) -> Vec<u8> {
        // Some long members (past the inline size and the 63-byte header).
        let rep = if m.is_multiple_of(17) {
            70
        } else {
            1 + (m % 5) as usize
        };
        std::iter::repeat_n(b'a' + m % 26, rep).chain([m]).collect()
    }

    fn check(z: &ZSet, model: &BTreeMap<Vec<u8>, f64>) {
        let mut sorted: Vec<K> = model.iter().map(|(m, s)| K(*s, m.clone())).collect();
        sorted.sort();
        assert_eq!(z.len(), sorted.len());
        let mut got = Vec::new();
        z.for_range(0, z.len(), false, |m, s| got.push(K(s, m.to_vec())));
        assert_eq!(got, sorted);
        let mut rev = Vec::new();
        z.for_range(0, z.len(), true, |m, s| rev.push(K(s, m.to_vec())));
        rev.reverse();
        assert_eq!(rev, sorted);
        for (i, k) in sorted.iter().enumerate() {
            assert_eq!(z.rank(&k.1), Some(i));
            assert_eq!(z.score(&k.1), Some(k.0));
            let (m, s) = z.get(i).expect("rank in range");
            assert_eq!((m, s), (&k.1[..], k.0));
        }
        // Score bounds and sub-ranges.
        for probe in [-301.0, -1.0, 0.0, 0.5, 7.0, 299.0] {
            let want = sorted.iter().filter(|k| k.0 < probe).count();
            assert_eq!(z.count_while(|s, _| s < probe), want);
        }
        if sorted.len() > 2 {
            let mut part = Vec::new();
            z.for_range(1, sorted.len() - 1, true, |m, s| {
                part.push(K(s, m.to_vec()))
            });
            part.reverse();
            assert_eq!(part, sorted[1..sorted.len() - 1]);
        }
        if let Repr::Tree(t) = &z.repr {
            t.check();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn matches_a_btreemap_model(ops in proptest::collection::vec(op(), 1..300), max in 0usize..40) {
            let limits = Limits { max_entries: max, max_value: 64 };
            let mut z = ZSet::for_size(0, 0, limits);
            let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            let mut converted = false;
            for op in ops {
                match op {
                    Op::Insert(m, s) => {
                        let (m, s) = (member(m), s as f64);
                        prop_assert_eq!(z.insert(&m, s, limits), model.insert(m, s));
                    }
                    Op::InsertFrac(m, s) => {
                        let (m, s) = (member(m), s as f64 / 7.0);
                        prop_assert_eq!(z.insert(&m, s, limits), model.insert(m, s));
                    }
                    Op::Remove(m) => {
                        let m = member(m);
                        prop_assert_eq!(z.remove(&m), model.remove(&m));
                    }
                    Op::RemoveRange(a, n) => {
                        let mut sorted: Vec<K> = model.iter().map(|(m, s)| K(*s, m.clone())).collect();
                        sorted.sort();
                        let start = (a as usize).min(sorted.len());
                        let end = (start + n as usize).min(sorted.len());
                        prop_assert_eq!(z.remove_range(start, end), end - start);
                        for k in &sorted[start..end] {
                            model.remove(&k.1);
                        }
                    }
                }
                // Conversion happens once, when passing the limits.
                if z.encoding() == "skiplist" {
                    converted = true;
                } else {
                    prop_assert!(!converted, "converted back");
                    prop_assert!(z.len() <= max);
                    prop_assert!(model.keys().all(|m| m.len() <= 64));
                }
            }
            check(&z, &model);
        }
    }

    #[test]
    fn converts_past_limits() {
        let limits = Limits {
            max_entries: 3,
            max_value: 5,
        };
        let mut z = ZSet::new();
        for (i, m) in ["a", "b", "c"].iter().enumerate() {
            z.insert(m.as_bytes(), i as f64, limits);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"a", 10.0, limits); // update: no conversion
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"d", 1.5, limits);
        assert_eq!(z.encoding(), "skiplist");
        let mut z = ZSet::new();
        z.insert(b"toolong", 1.0, limits);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.score(b"toolong"), Some(1.0));
    }

    #[test]
    fn listpack_drops_negative_zero_as_redis_7_0() {
        let mut z = ZSet::new();
        z.insert(b"a", -0.0, Limits::default());
        assert!(z
            .score(b"a")
            .is_some_and(|s| s == 0.0 && s.is_sign_positive()));
        let mut t = ZSet::for_size(1000, 0, Limits::default());
        t.insert(b"a", -0.0, Limits::default());
        assert!(t.score(b"a").is_some_and(f64::is_sign_negative));
    }

    #[test]
    fn scan_visits_each_member_once() {
        let limits = Limits {
            max_entries: 0,
            max_value: 0,
        };
        let mut z = ZSet::new();
        for i in 0..1000 {
            z.insert(format!("m{i}").as_bytes(), i as f64, limits);
        }
        for i in (0..1000).step_by(3) {
            z.remove(format!("m{i}").as_bytes());
        }
        let mut seen = std::collections::HashMap::new();
        let mut cursor = 0;
        loop {
            cursor = z.scan(cursor, 10, |m, _| *seen.entry(m.to_vec()).or_insert(0) += 1);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), z.len());
        assert!(seen.values().all(|&n| n == 1));
    }

    fn fmt(v: f64) -> String {
        let mut b = [0u8; 40];
        let n = format_score(v, &mut b);
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    #[test]
    fn scores_print_shortest_in_g17_layout() {
        for (v, s) in [
            (0.1, "0.1"),
            (3.0, "3"),
            (-3.0, "-3"),
            (1e300, "1e+300"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1.5e17, "1.5e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.25e-7, "1.25e-07"),
            (123.456, "123.456"),
            (1234567.5, "1234567.5"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (2.5, "2.5"),
            (100.0, "100"),
            (0.30000000000000004, "0.30000000000000004"),
        ] {
            assert_eq!(fmt(v), s, "{v:e}");
        }
    }

    proptest! {
        #[test]
        fn formatted_scores_round_trip(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            prop_assume!(!v.is_nan());
            let s = fmt(v);
            prop_assert_eq!(parse_score(s.as_bytes()).map(f64::to_bits), Some(v.to_bits()));
        }
    }

    #[test]
    fn strtod_as_glibc() {
        assert_eq!(strtod(b""), (0.0, 0, false));
        assert_eq!(strtod(b" 1.5x"), (1.5, 4, false));
        assert_eq!(strtod(b"(1").1, 0);
        assert_eq!(strtod(b"0x10"), (16.0, 4, false));
        assert_eq!(strtod(b"0x"), (0.0, 1, false));
        assert_eq!(strtod(b"1e"), (1.0, 1, false));
        assert_eq!(strtod(b"-inf"), (f64::NEG_INFINITY, 4, false));
        assert_eq!(strtod(b"Infinity").1, 8);
        assert!(strtod(b"1e400").2);
        assert!(strtod(b"1e-400").2);
        assert_eq!(strtod(b".5"), (0.5, 2, false));
        assert_eq!(strtod(b"5."), (5.0, 2, false));
        assert_eq!(strtod(b"."), (0.0, 0, false));
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"1e-310"), Some(1e-310));
    }

    #[test]
    fn small_sets_cost_less_than_redis_listpack() {
        // 128 members "element:NNN" with integer scores: Redis' listpack
        // takes 16 bytes per entry (member 1+11+1, score 2) plus 7.
        let mut z = ZSet::new();
        for i in 0..128 {
            z.insert(
                format!("element:{i:03}").as_bytes(),
                i as f64,
                Limits::default(),
            );
        }
        let Repr::Listpack(l) = &z.repr else {
            panic!("listpack expected")
        };
        assert!(l.buf.len() <= 128 * 14, "{}", l.buf.len());
    }
}
