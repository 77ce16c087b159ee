//! A list: Redis' quicklist, a deque of packed nodes.
//!
//! The elements live in nodes of a [`VecDeque`]; each node is one byte
//! buffer of packed entries, the way a Redis quicklist node holds a
//! listpack. A node holds entries up to `list-max-listpack-size`: a
//! negative value caps its bytes (-1 to -5: 4, 8, 16, 32, 64 KiB, as Redis'
//! `optimization_level`), a positive one its entries (with Redis' 8 KiB
//! safety limit on bytes); a node always accepts its first entry, so an
//! element bigger than the limit gets a node of its own.
//!
//! # Entry format
//!
//! An entry is a body followed by its backward length, as in Redis'
//! listpack (`listpack.md` in the Redis repository), so a node can be read
//! from either end:
//!
//! | first byte    | body                                               |
//! |---------------|----------------------------------------------------|
//! | `0x00..=0x7f` | the integer 0 to 127, nothing more                 |
//! | `0x80..=0xbf` | a string of `b & 0x3f` (0 to 63) bytes follows     |
//! | `0xc0..=0xc7` | an integer in `(b & 7) + 1` little-endian bytes, sign-extended |
//! | `0xd0`        | a string, its length in 2 bytes LE, then its bytes |
//! | `0xd1`        | a string, its length in 4 bytes LE, then its bytes |
//! | `0xd2`        | a string, its length in 8 bytes LE, then its bytes |
//!
//! The backward length is the body's length in 7-bit groups, the lowest
//! group in the last byte; a set high bit means another group precedes.
//! Only strings that are the canonical decimal form of an `i64` (Redis'
//! `string2ll`) are stored as integers, so an element reads back as the
//! exact bytes pushed and two elements are equal exactly when their
//! [`Item`]s are.
//!
//! A 12-byte string thus takes 14 bytes and a small integer 2, as in a
//! listpack. Pushes and pops at either end are O(1) amortized: a node keeps
//! a gap before its first entry for pops and pushes at the front. Access by
//! index walks the node counts from the nearer end, then one node.

use std::collections::VecDeque;
use std::ops::Range;

/// Byte limits of a node for `list-max-listpack-size` -1 to -5 (Redis'
/// `optimization_level`); values below -5 use the last.
const SIZE_LIMITS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// Byte limit of a node when `list-max-listpack-size` counts entries
/// (Redis' `SIZE_SAFETY_LIMIT`).
const SAFETY_LIMIT: usize = 8192;

/// `list-max-listpack-size` by default: 8 KiB nodes.
pub const DEFAULT_FILL: i64 = -2;

/// Tag of a 2-byte string length.
const STR16: u8 = 0xd0;
/// Tag of a 4-byte string length.
const STR32: u8 = 0xd1;
/// Tag of an 8-byte string length.
const STR64: u8 = 0xd2;

/// One element, borrowed from a list (or from a client's argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A string that is the canonical decimal form of this integer.
    Int(i64),
    /// Any other string.
    Bytes(&'a [u8]),
}

impl<'a> Item<'a> {
    /// The element for the string `bytes`: [`Item::Int`] when `bytes` is a
    /// canonical integer, else [`Item::Bytes`]. Compare elements through
    /// this form.
    #[inline]
    pub fn from_bytes(bytes: &'a [u8]) -> Item<'a> {
        if bytes.len() <= 20 {
            if let Some(n) = crate::num::parse_i64_canonical(bytes) {
                return Item::Int(n);
            }
        }
        Item::Bytes(bytes)
    }

    /// An owned copy.
    pub fn to_owned(self) -> OwnedItem {
        match self {
            Item::Int(n) => OwnedItem::Int(n),
            Item::Bytes(b) => OwnedItem::Bytes(b.to_vec()),
        }
    }

    /// The element's bytes, appended to `out`.
    pub fn write_to(self, out: &mut Vec<u8>) {
        match self {
            Item::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Item::Bytes(b) => out.extend_from_slice(b),
        }
    }

    /// Bytes of the body (everything but the backward length).
    #[inline]
    fn body_len(self) -> usize {
        match self {
            Item::Int(0..=127) => 1,
            Item::Int(n) => 1 + int_width(n),
            Item::Bytes(b) if b.len() <= 63 => 1 + b.len(),
            Item::Bytes(b) if b.len() <= 0xffff => 3 + b.len(),
            Item::Bytes(b) if b.len() as u64 <= u32::MAX as u64 => 5 + b.len(),
            Item::Bytes(b) => 9 + b.len(),
        }
    }

    /// Bytes of the whole entry.
    #[inline]
    fn entry_len(self) -> usize {
        let body = self.body_len();
        body + backlen_size(body)
    }

    /// Encodes the entry into `out`, which is exactly [`Item::entry_len`]
    /// bytes long.
    fn encode(self, out: &mut [u8]) {
        let body = self.body_len();
        match self {
            Item::Int(n @ 0..=127) => out[0] = n as u8,
            Item::Int(n) => {
                let w = int_width(n);
                out[0] = 0xc0 | (w as u8 - 1);
                out[1..1 + w].copy_from_slice(&n.to_le_bytes()[..w]);
            }
            Item::Bytes(b) => {
                let at = if b.len() <= 63 {
                    out[0] = 0x80 | b.len() as u8;
                    1
                } else if b.len() <= 0xffff {
                    out[0] = STR16;
                    out[1..3].copy_from_slice(&(b.len() as u16).to_le_bytes());
                    3
                } else if b.len() as u64 <= u32::MAX as u64 {
                    out[0] = STR32;
                    out[1..5].copy_from_slice(&(b.len() as u32).to_le_bytes());
                    5
                } else {
                    out[0] = STR64;
                    out[1..9].copy_from_slice(&(b.len() as u64).to_le_bytes());
                    9
                };
                out[at..at + b.len()].copy_from_slice(b);
            }
        }
        write_backlen(body, &mut out[body..]);
    }
}

/// An element owned outside any list (moved between lists by `LMOVE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedItem {
    /// See [`Item::Int`].
    Int(i64),
    /// See [`Item::Bytes`].
    Bytes(Vec<u8>),
}

impl OwnedItem {
    /// The borrowed form.
    pub fn as_item(&self) -> Item<'_> {
        match self {
            OwnedItem::Int(n) => Item::Int(*n),
            OwnedItem::Bytes(b) => Item::Bytes(b),
        }
    }
}

/// Bytes an integer outside 0..=127 takes: the fewest whose sign extension
/// gives it back.
#[inline]
fn int_width(n: i64) -> usize {
    let bits = if n < 0 {
        64 - n.leading_ones()
    } else {
        64 - n.leading_zeros()
    } + 1;
    (bits as usize).div_ceil(8).clamp(1, 8)
}

/// Bytes the backward length of a body of `body` bytes takes.
#[inline]
fn backlen_size(body: usize) -> usize {
    let bits = (usize::BITS - body.leading_zeros()).max(1) as usize;
    bits.div_ceil(7)
}

/// Writes the backward length of `body` into `out` (exactly
/// [`backlen_size`] bytes): the lowest 7 bits last.
#[inline]
fn write_backlen(body: usize, out: &mut [u8]) {
    let k = out.len();
    let mut v = body;
    for i in 0..k {
        let more = if i + 1 < k { 0x80 } else { 0 };
        out[k - 1 - i] = (v & 0x7f) as u8 | more;
        v >>= 7;
    }
}

/// Decodes the entry starting at `off` of `buf`: the element and the
/// entry's length.
#[inline]
fn decode(buf: &[u8], off: usize) -> (Item<'_>, usize) {
    let tag = buf[off];
    let (item, body) = match tag {
        0x00..=0x7f => (Item::Int(tag as i64), 1),
        0x80..=0xbf => {
            let n = (tag & 0x3f) as usize;
            (Item::Bytes(&buf[off + 1..off + 1 + n]), 1 + n)
        }
        0xc0..=0xc7 => {
            let w = (tag & 7) as usize + 1;
            let mut le = [0u8; 8];
            le[..w].copy_from_slice(&buf[off + 1..off + 1 + w]);
            let shift = 64 - 8 * w as u32;
            let n = ((u64::from_le_bytes(le) << shift) as i64) >> shift;
            (Item::Int(n), 1 + w)
        }
        _ => {
            let w = match tag {
                STR16 => 2,
                STR32 => 4,
                _ => 8,
            };
            let mut le = [0u8; 8];
            le[..w].copy_from_slice(&buf[off + 1..off + 1 + w]);
            let n = u64::from_le_bytes(le) as usize;
            let at = off + 1 + w;
            (Item::Bytes(&buf[at..at + n]), 1 + w + n)
        }
    };
    (item, body + backlen_size(body))
}

/// Decodes the entry that ends at `end` (exclusive) of `buf`: the element
/// and the entry's length.
#[inline]
fn decode_back(buf: &[u8], end: usize) -> (Item<'_>, usize) {
    let mut body = 0usize;
    let mut i = 0;
    loop {
        let b = buf[end - 1 - i];
        body |= ((b & 0x7f) as usize) << (7 * i);
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
    }
    let start = end - i - body;
    let (item, len) = decode(buf, start);
    debug_assert_eq!(len, end - start);
    (item, len)
}

/// Node limits of a `list-max-listpack-size` value: (bytes, entries).
#[inline]
fn limits(fill: i64) -> (usize, usize) {
    if fill < 0 {
        let level = (fill.unsigned_abs() - 1).min(SIZE_LIMITS.len() as u64 - 1);
        (SIZE_LIMITS[level as usize], usize::MAX)
    } else {
        (SAFETY_LIMIT, usize::try_from(fill).unwrap_or(usize::MAX))
    }
}

/// One node: packed entries in `buf[head..]`.
#[derive(Clone, Debug, Default)]
struct Node {
    /// A gap of `head` bytes (room for pushes at the front, or left by pops
    /// there), then the entries.
    buf: Vec<u8>,
    /// Where the first entry starts.
    head: usize,
    /// Number of entries.
    count: usize,
}

impl Node {
    /// Bytes of the entries.
    #[inline]
    fn size(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Whether one more entry of `add` bytes fits the limits.
    #[inline]
    fn allows(&self, add: usize, (max_bytes, max_count): (usize, usize)) -> bool {
        self.count < max_count && self.size() + add <= max_bytes
    }

    /// Whether the node is past its limits (and could be split).
    #[inline]
    fn over(&self, (max_bytes, max_count): (usize, usize)) -> bool {
        self.count > 1 && (self.count > max_count || self.size() > max_bytes)
    }

    /// Moves the entries to the start of the buffer.
    fn compact(&mut self) {
        if self.head > 0 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }

    /// Gives back spare capacity once the node is full (a new node is
    /// started next to it).
    fn seal(&mut self) {
        if self.buf.capacity() - self.size() > self.size() / 8 {
            self.compact();
            self.buf.shrink_to_fit();
        }
    }

    fn push_back(&mut self, item: Item<'_>, max_bytes: usize) {
        let n = item.entry_len();
        let need = self.buf.len() + n;
        if need > self.buf.capacity() {
            // Reuse the gap left by pops when it is at least half the
            // entries (each byte moved is paid by a byte popped), else grow.
            if self.head > 0 && self.head >= self.size() / 2 {
                self.compact();
            }
            let need = self.buf.len() + n;
            if need > self.buf.capacity() {
                let mut target = need.max(self.buf.capacity() * 2).max(32);
                if need <= max_bytes {
                    target = target.min(max_bytes);
                }
                self.buf.reserve_exact(target - self.buf.len());
            }
        }
        let at = self.buf.len();
        self.buf.resize(at + n, 0);
        item.encode(&mut self.buf[at..]);
        self.count += 1;
    }

    fn push_front(&mut self, item: Item<'_>, max_bytes: usize) {
        let n = item.entry_len();
        if self.head < n {
            // A new buffer with a gap in front: about as much again as the
            // entries (so pushes at the front are amortized O(1)), within
            // the node's byte limit when the entry fits it.
            let size = self.size();
            let mut target = (size + n).max(size * 2).max(32);
            if size + n <= max_bytes {
                target = target.min(max_bytes);
            }
            let mut buf = Vec::with_capacity(target);
            buf.resize(target - size, 0);
            buf.extend_from_slice(&self.buf[self.head..]);
            self.head = target - size;
            self.buf = buf;
        }
        self.head -= n;
        let at = self.head;
        item.encode(&mut self.buf[at..at + n]);
        self.count += 1;
    }

    /// The first entry and its length.
    #[inline]
    fn front(&self) -> Option<(Item<'_>, usize)> {
        (self.count > 0).then(|| decode(&self.buf, self.head))
    }

    /// The last entry and its length.
    #[inline]
    fn back(&self) -> Option<(Item<'_>, usize)> {
        (self.count > 0).then(|| decode_back(&self.buf, self.buf.len()))
    }

    /// Drops the first `k` entries, `bytes` long together.
    fn drop_front(&mut self, k: usize, bytes: usize) {
        self.head += bytes;
        self.count -= k;
        if self.count == 0 {
            self.buf.clear();
            self.head = 0;
        }
    }

    /// Drops the last `k` entries, `bytes` long together.
    fn drop_back(&mut self, k: usize, bytes: usize) {
        self.buf.truncate(self.buf.len() - bytes);
        self.count -= k;
        if self.count == 0 {
            self.buf.clear();
            self.head = 0;
        }
    }

    /// Offset in `buf` of entry `i` (`i <= count`; `count` gives the end),
    /// walking from the nearer end.
    fn offset_of(&self, i: usize) -> usize {
        if i <= self.count / 2 {
            let mut off = self.head;
            for _ in 0..i {
                off += decode(&self.buf, off).1;
            }
            off
        } else {
            let mut end = self.buf.len();
            for _ in i..self.count {
                end -= decode_back(&self.buf, end).1;
            }
            end
        }
    }

    /// Replaces the bytes `range` of `buf` with `with` (whole entries),
    /// changing the count by `added - removed`.
    fn splice(&mut self, range: Range<usize>, with: &[u8], removed: usize, added: usize) {
        self.buf.splice(range, with.iter().copied());
        self.count = self.count + added - removed;
    }

    /// Splits off the entries from byte offset `at` (an entry boundary,
    /// the `k`-th entry) into a new node.
    fn split_off(&mut self, at: usize, k: usize) -> Node {
        let tail = Node {
            buf: self.buf[at..].to_vec(),
            head: 0,
            count: self.count - k,
        };
        self.buf.truncate(at);
        self.count = k;
        self.seal();
        tail
    }

    /// The entries, first to last, with their offsets in `buf`.
    fn entries(&self) -> impl Iterator<Item = (usize, Item<'_>, usize)> + '_ {
        let mut off = self.head;
        std::iter::from_fn(move || {
            (off < self.buf.len()).then(|| {
                let (item, len) = decode(&self.buf, off);
                let at = off;
                off += len;
                (at, item, len)
            })
        })
    }
}

/// A list of byte strings: a deque of packed nodes (see the module docs).
#[derive(Clone, Debug)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    /// `list-max-listpack-size` when the list was created (as Redis, a
    /// change applies to new lists).
    fill: i64,
}

impl Default for List {
    fn default() -> List {
        List::new(DEFAULT_FILL)
    }
}

impl PartialEq for List {
    /// Same elements in the same order, whatever the nodes.
    fn eq(&self, other: &List) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (`LEFT`, index 0).
    Front,
    /// The tail (`RIGHT`, index -1).
    Back,
}

impl List {
    /// An empty list whose nodes follow `list-max-listpack-size` `fill`.
    pub fn new(fill: i64) -> List {
        List {
            nodes: VecDeque::new(),
            len: 0,
            fill,
        }
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no element.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The encoding `OBJECT ENCODING` reports: `quicklist`, as Redis 7.0
    /// for every list.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned (for memory stats): the node table and the node
    /// buffers, spare capacity included.
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.nodes.iter().map(|n| n.buf.capacity()).sum::<usize>()
    }

    /// Number of nodes (for tests and `DEBUG`-style introspection).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    #[inline]
    fn limits(&self) -> (usize, usize) {
        limits(self.fill)
    }

    /// Adds the string `value` at `end`.
    pub fn push(&mut self, end: End, value: &[u8]) {
        self.push_item(end, Item::from_bytes(value));
    }

    /// Adds an element at `end`.
    pub fn push_item(&mut self, end: End, item: Item<'_>) {
        let lim = self.limits();
        let n = item.entry_len();
        let node = match end {
            End::Front => self.nodes.front_mut(),
            End::Back => self.nodes.back_mut(),
        };
        let node = match node {
            Some(node) if node.allows(n, lim) => node,
            full => {
                if let Some(full) = full {
                    full.seal();
                }
                match end {
                    End::Front => {
                        self.nodes.push_front(Node::default());
                        &mut self.nodes[0]
                    }
                    End::Back => {
                        self.nodes.push_back(Node::default());
                        let last = self.nodes.len() - 1;
                        &mut self.nodes[last]
                    }
                }
            }
        };
        match end {
            End::Front => node.push_front(item, lim.0),
            End::Back => node.push_back(item, lim.0),
        }
        self.len += 1;
    }

    /// The element at `end`.
    pub fn peek(&self, end: End) -> Option<Item<'_>> {
        match end {
            End::Front => self.nodes.front()?.front().map(|e| e.0),
            End::Back => self.nodes.back()?.back().map(|e| e.0),
        }
    }

    /// Removes the element at `end`, calling `f` with it first (so it can
    /// be written out without a copy); returns what `f` returned.
    pub fn pop_with<R>(&mut self, end: End, f: impl FnOnce(Item<'_>) -> R) -> Option<R> {
        let (r, empty) = match end {
            End::Front => {
                let node = self.nodes.front_mut()?;
                let (item, len) = node.front()?;
                let r = f(item);
                node.drop_front(1, len);
                (r, node.count == 0)
            }
            End::Back => {
                let node = self.nodes.back_mut()?;
                let (item, len) = node.back()?;
                let r = f(item);
                node.drop_back(1, len);
                (r, node.count == 0)
            }
        };
        if empty {
            match end {
                End::Front => self.nodes.pop_front(),
                End::Back => self.nodes.pop_back(),
            };
        }
        self.len -= 1;
        Some(r)
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<OwnedItem> {
        self.pop_with(end, |item| item.to_owned())
    }

    /// The node holding element `index` (`< len`) and the element's
    /// position in it, walking node counts from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        if index < self.len / 2 {
            let mut i = index;
            for (n, node) in self.nodes.iter().enumerate() {
                if i < node.count {
                    return (n, i);
                }
                i -= node.count;
            }
        } else {
            let mut from_end = self.len - index;
            for (n, node) in self.nodes.iter().enumerate().rev() {
                if from_end <= node.count {
                    return (n, node.count - from_end);
                }
                from_end -= node.count;
            }
        }
        (self.nodes.len(), 0)
    }

    /// Element `index` (0-based from the head), if `index < len`.
    pub fn get(&self, index: usize) -> Option<Item<'_>> {
        if index >= self.len {
            return None;
        }
        let (n, i) = self.locate(index);
        let node = &self.nodes[n];
        Some(decode(&node.buf, node.offset_of(i)).0)
    }

    /// Replaces element `index` with the string `value`; false (and no
    /// change) if `index >= len`.
    pub fn set(&mut self, index: usize, value: &[u8]) -> bool {
        if index >= self.len {
            return false;
        }
        let item = Item::from_bytes(value);
        let (n, i) = self.locate(index);
        let node = &mut self.nodes[n];
        let off = node.offset_of(i);
        let old = decode(&node.buf, off).1;
        let mut enc = vec![0u8; item.entry_len()];
        item.encode(&mut enc);
        node.splice(off..off + old, &enc, 1, 1);
        self.fix(n);
        true
    }

    /// Inserts the string `value` before element `index` (`index == len`
    /// appends).
    pub fn insert(&mut self, index: usize, value: &[u8]) {
        let item = Item::from_bytes(value);
        if index == 0 {
            return self.push_item(End::Front, item);
        }
        if index >= self.len {
            return self.push_item(End::Back, item);
        }
        let (n, i) = self.locate(index);
        let lim = self.limits();
        let size = item.entry_len();
        // At a node boundary, a neighbour with room takes it as a push.
        if i == 0 && n > 0 && self.nodes[n - 1].allows(size, lim) {
            self.nodes[n - 1].push_back(item, lim.0);
        } else {
            let node = &mut self.nodes[n];
            let off = node.offset_of(i);
            let mut enc = vec![0u8; size];
            item.encode(&mut enc);
            node.splice(off..off, &enc, 0, 1);
            self.fix(n);
        }
        self.len += 1;
    }

    /// Splits node `n` while it is past the limits (after an element in
    /// the middle changed), then merges the pieces at both ends with their
    /// neighbours when the two fit in one node.
    fn fix(&mut self, n: usize) {
        let lim = self.limits();
        let (first, mut last, mut i) = (n, n, n);
        while i <= last {
            if !self.nodes[i].over(lim) {
                i += 1;
                continue;
            }
            // Split where about half the bytes are before (within the
            // entry limit), keeping at least one entry on each side.
            let node = &mut self.nodes[i];
            let half = node.size() / 2;
            let (mut at, mut k) = (node.head, 0);
            for (off, _, len) in node.entries() {
                if k > 0 && (off - node.head >= half || k >= lim.1) {
                    break;
                }
                at = off + len;
                k += 1;
            }
            if k == node.count {
                k = node.count - 1;
                at = node.offset_of(k);
            }
            let tail = node.split_off(at, k);
            self.nodes.insert(i + 1, tail);
            last += 1;
        }
        if last + 1 < self.nodes.len() && self.mergeable(last) {
            self.merge(last);
        }
        if first > 0 && self.mergeable(first - 1) {
            self.merge(first - 1);
        }
    }

    /// Whether nodes `n` and `n + 1` fit in one.
    fn mergeable(&self, n: usize) -> bool {
        let (max_bytes, max_count) = self.limits();
        let (a, b) = (&self.nodes[n], &self.nodes[n + 1]);
        a.count + b.count <= max_count && a.size() + b.size() <= max_bytes
    }

    /// Appends node `n + 1` to node `n`.
    fn merge(&mut self, n: usize) {
        let Some(b) = self.nodes.remove(n + 1) else {
            return;
        };
        let a = &mut self.nodes[n];
        a.buf.extend_from_slice(&b.buf[b.head..]);
        a.count += b.count;
    }

    /// Removes up to `count` elements equal to `value` (0: all), from the
    /// head, or from the tail with `from` [`End::Back`] (`LREM`); returns
    /// how many.
    pub fn remove_matching(&mut self, value: &[u8], count: usize, from: End) -> usize {
        let target = Item::from_bytes(value);
        let mut left = if count == 0 { usize::MAX } else { count };
        let mut removed = 0;
        let mut hits: Vec<(usize, usize)> = Vec::new();
        let mut touched: Vec<usize> = Vec::new();
        let nodes = self.nodes.len();
        for step in 0..nodes {
            if left == 0 {
                break;
            }
            let n = match from {
                End::Front => step,
                End::Back => nodes - 1 - step,
            };
            let node = &self.nodes[n];
            hits.clear();
            match from {
                End::Front => {
                    for (off, item, len) in node.entries() {
                        if hits.len() == left {
                            break;
                        }
                        if item == target {
                            hits.push((off, len));
                        }
                    }
                }
                End::Back => {
                    let mut end = node.buf.len();
                    while end > node.head && hits.len() < left {
                        let (item, len) = decode_back(&node.buf, end);
                        end -= len;
                        if item == target {
                            hits.push((end, len));
                        }
                    }
                    hits.reverse();
                }
            }
            if hits.is_empty() {
                continue;
            }
            let node = &mut self.nodes[n];
            let mut buf = Vec::with_capacity(node.size());
            let mut at = node.head;
            for &(off, len) in &hits {
                buf.extend_from_slice(&node.buf[at..off]);
                at = off + len;
            }
            buf.extend_from_slice(&node.buf[at..]);
            node.buf = buf;
            node.head = 0;
            node.count -= hits.len();
            left -= hits.len();
            removed += hits.len();
            touched.push(n);
        }
        self.len -= removed;
        // Drop emptied nodes (from the highest index, so the others keep
        // theirs), then merge around the changed ones.
        touched.sort_unstable();
        for &n in touched.iter().rev() {
            if self.nodes[n].count == 0 {
                self.nodes.remove(n);
            }
        }
        let mut n = 0;
        while n + 1 < self.nodes.len() {
            // One pass over the boundaries: cheap next to the scan above.
            if self.mergeable(n) {
                self.merge(n);
            } else {
                n += 1;
            }
        }
        removed
    }

    /// Removes the first `k` elements at `end` (all if `k >= len`).
    pub fn drop_n(&mut self, end: End, k: usize) {
        let mut k = k.min(self.len);
        self.len -= k;
        while k > 0 {
            let node = match end {
                End::Front => self.nodes.front_mut(),
                End::Back => self.nodes.back_mut(),
            };
            let Some(node) = node else { break };
            if node.count <= k {
                k -= node.count;
                match end {
                    End::Front => self.nodes.pop_front(),
                    End::Back => self.nodes.pop_back(),
                };
                continue;
            }
            match end {
                End::Front => {
                    let bytes = node.offset_of(k) - node.head;
                    node.drop_front(k, bytes);
                }
                End::Back => {
                    let bytes = node.buf.len() - node.offset_of(node.count - k);
                    node.drop_back(k, bytes);
                }
            }
            k = 0;
        }
    }

    /// The elements from the head.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The elements from `index` to the tail.
    pub fn iter_from(&self, index: usize) -> Iter<'_> {
        if index >= self.len {
            return Iter {
                list: self,
                node: self.nodes.len(),
                off: 0,
                left: 0,
            };
        }
        let (n, i) = self.locate(index);
        Iter {
            list: self,
            node: n,
            off: self.nodes[n].offset_of(i),
            left: self.len - index,
        }
    }

    /// The elements from `index` back to the head (`index < len`, else
    /// nothing).
    pub fn iter_rev_from(&self, index: usize) -> IterRev<'_> {
        if index >= self.len {
            return IterRev {
                list: self,
                node: 0,
                end: 0,
                left: 0,
            };
        }
        let (n, i) = self.locate(index);
        let node = &self.nodes[n];
        let off = node.offset_of(i);
        IterRev {
            list: self,
            node: n,
            end: off + decode(&node.buf, off).1,
            left: index + 1,
        }
    }

    /// Checks the structure's invariants (tests).
    #[cfg(test)]
    fn check(&self) {
        let lim = self.limits();
        let mut total = 0;
        for node in &self.nodes {
            assert!(node.count > 0, "empty node");
            assert_eq!(node.entries().count(), node.count);
            assert!(
                node.count == 1 || (node.count <= lim.1 && node.size() <= lim.0),
                "node over limits: {} entries, {} bytes, limits {lim:?}",
                node.count,
                node.size()
            );
            total += node.count;
        }
        assert_eq!(total, self.len);
    }
}

/// Elements from one position to the tail ([`List::iter_from`]).
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    list: &'a List,
    node: usize,
    off: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Item<'a>;

    #[inline]
    fn next(&mut self) -> Option<Item<'a>> {
        if self.left == 0 {
            return None;
        }
        let mut node = self.list.nodes.get(self.node)?;
        if self.off >= node.buf.len() {
            self.node += 1;
            node = self.list.nodes.get(self.node)?;
            self.off = node.head;
        }
        let (item, len) = decode(&node.buf, self.off);
        self.off += len;
        self.left -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Elements from one position back to the head ([`List::iter_rev_from`]).
#[derive(Clone, Debug)]
pub struct IterRev<'a> {
    list: &'a List,
    node: usize,
    end: usize,
    left: usize,
}

impl<'a> Iterator for IterRev<'a> {
    type Item = Item<'a>;

    #[inline]
    fn next(&mut self) -> Option<Item<'a>> {
        if self.left == 0 {
            return None;
        }
        let mut node = self.list.nodes.get(self.node)?;
        if self.end <= node.head {
            self.node = self.node.checked_sub(1)?;
            node = self.list.nodes.get(self.node)?;
            self.end = node.buf.len();
        }
        let (item, len) = decode_back(&node.buf, self.end);
        self.end -= len;
        self.left -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for IterRev<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes_of(item: Item<'_>) -> Vec<u8> {
        let mut v = Vec::new();
        item.write_to(&mut v);
        v
    }

    fn contents(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(bytes_of).collect()
    }

    #[test]
    fn entries_round_trip_and_read_backwards() {
        let values: Vec<Vec<u8>> = [
            "0",
            "127",
            "128",
            "-1",
            "-128",
            "-129",
            "32767",
            "9223372036854775807",
            "-9223372036854775808",
            "01",
            "-0",
            "+1",
            "",
            "x",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([
            vec![b'a'; 63],
            vec![b'b'; 64],
            vec![7; 70_000],
            vec![0; 200],
        ])
        .collect();
        for v in &values {
            let item = Item::from_bytes(v);
            let mut buf = vec![0u8; item.entry_len()];
            item.encode(&mut buf);
            assert_eq!(decode(&buf, 0), (item, buf.len()));
            assert_eq!(decode_back(&buf, buf.len()), (item, buf.len()));
            assert_eq!(&bytes_of(item), v);
        }
        assert_eq!(Item::from_bytes(b"12345678901").entry_len(), 7);
        assert_eq!(Item::from_bytes(b"value:123456").entry_len(), 14);
        assert_eq!(Item::from_bytes(b"5").entry_len(), 2);
    }

    #[test]
    fn nodes_fill_to_the_byte_limit() {
        let mut l = List::new(-1);
        for i in 0..10_000 {
            l.push(End::Back, format!("element:{i:08}").as_bytes());
        }
        l.check();
        // 18-byte entries, 4 KiB nodes: 227 per node.
        assert_eq!(l.node_count(), 10_000usize.div_ceil(4096 / 18));
        let mut c = List::new(5);
        for i in 0..12 {
            c.push(End::Front, format!("{i}").as_bytes());
        }
        assert_eq!(c.node_count(), 3);
        let mut one = List::new(0);
        one.push(End::Back, b"a");
        one.push(End::Back, b"b");
        assert_eq!(one.node_count(), 2);
    }

    #[test]
    fn a_queue_in_one_node_stays_small() {
        let mut l = List::new(-2);
        for i in 0..100_000 {
            l.push(End::Back, format!("job:{i}").as_bytes());
            if i >= 10 {
                l.pop(End::Front);
            }
        }
        assert_eq!(l.len(), 10);
        assert!(l.heap_size() < 1024, "{}", l.heap_size());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(bool, Vec<u8>),
        Pop(bool),
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        Remove(Vec<u8>, usize, bool),
        Drop(bool, usize),
        Get(usize),
        IterFrom(usize),
        IterRevFrom(usize),
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-300i64..300).prop_map(|n| n.to_string().into_bytes()),
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            prop::sample::select(vec!["a", "b", "", "01", "-0"])
                .prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..80),
            (100usize..3000).prop_map(|n| vec![b'z'; n]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<bool>(), value()).prop_map(|(f, v)| Op::Push(f, v)),
            3 => any::<bool>().prop_map(Op::Pop),
            2 => (0usize..300, value()).prop_map(|(i, v)| Op::Set(i, v)),
            2 => (0usize..300, value()).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => (value(), 0usize..4, any::<bool>()).prop_map(|(v, c, t)| Op::Remove(v, c, t)),
            1 => (any::<bool>(), 0usize..20).prop_map(|(f, k)| Op::Drop(f, k)),
            1 => (0usize..300).prop_map(Op::Get),
            1 => (0usize..300).prop_map(Op::IterFrom),
            1 => (0usize..300).prop_map(Op::IterRevFrom),
        ]
    }

    fn end(front: bool) -> End {
        if front {
            End::Front
        } else {
            End::Back
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn behaves_like_a_vecdeque(
            fill in prop::sample::select(vec![-1i64, -2, -5, -9, 0, 1, 2, 3, 7, 128]),
            ops in prop::collection::vec(op(), 0..300),
        ) {
            let mut l = List::new(fill);
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(f, v) => {
                        l.push(end(f), &v);
                        if f { m.push_front(v) } else { m.push_back(v) }
                    }
                    Op::Pop(f) => {
                        let got = l.pop(end(f)).map(|o| bytes_of(o.as_item()));
                        let want = if f { m.pop_front() } else { m.pop_back() };
                        prop_assert_eq!(got, want);
                    }
                    Op::Set(i, v) => {
                        prop_assert_eq!(l.set(i, &v), i < m.len());
                        if i < m.len() { m[i] = v; }
                    }
                    Op::Insert(i, v) => {
                        let i = i.min(m.len());
                        l.insert(i, &v);
                        m.insert(i, v);
                    }
                    Op::Remove(v, count, tail) => {
                        let mut left = if count == 0 { usize::MAX } else { count };
                        let mut idx: Vec<usize> = Vec::new();
                        let positions: Vec<usize> = if tail {
                            (0..m.len()).rev().collect()
                        } else {
                            (0..m.len()).collect()
                        };
                        for p in positions {
                            if left > 0 && m[p] == v {
                                idx.push(p);
                                left -= 1;
                            }
                        }
                        idx.sort_unstable();
                        for &p in idx.iter().rev() {
                            m.remove(p);
                        }
                        prop_assert_eq!(l.remove_matching(&v, count, end(!tail)), idx.len());
                    }
                    Op::Drop(f, k) => {
                        l.drop_n(end(f), k);
                        for _ in 0..k {
                            if f { m.pop_front(); } else { m.pop_back(); }
                        }
                    }
                    Op::Get(i) => {
                        prop_assert_eq!(l.get(i).map(bytes_of), m.get(i).cloned());
                    }
                    Op::IterFrom(i) => {
                        let got: Vec<Vec<u8>> = l.iter_from(i).map(bytes_of).collect();
                        let want: Vec<Vec<u8>> = m.iter().skip(i).cloned().collect();
                        prop_assert_eq!(got, want);
                    }
                    Op::IterRevFrom(i) => {
                        let got: Vec<Vec<u8>> = l.iter_rev_from(i).map(bytes_of).collect();
                        let want: Vec<Vec<u8>> = if i < m.len() {
                            m.iter().take(i + 1).rev().cloned().collect()
                        } else {
                            Vec::new()
                        };
                        prop_assert_eq!(got, want);
                    }
                }
                l.check();
                prop_assert_eq!(l.len(), m.len());
                prop_assert_eq!(l.peek(End::Front).map(bytes_of), m.front().cloned());
                prop_assert_eq!(l.peek(End::Back).map(bytes_of), m.back().cloned());
            }
            prop_assert_eq!(contents(&l), m.iter().cloned().collect::<Vec<_>>());
            let clone = l.clone();
            prop_assert!(clone == l);
        }
    }
}
