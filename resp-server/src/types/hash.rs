//! A hash (field-value pairs), with Redis 7.0's two encodings.
//!
//! - `listpack`: while the hash has at most `hash-max-listpack-entries`
//!   fields and no field or value longer than `hash-max-listpack-value`
//!   bytes, its pairs live in one byte buffer, field then value, in
//!   insertion order (what `HGETALL` returns, as in Redis), found by a
//!   linear scan. Each entry is one header byte and the bytes, or a
//!   canonical integer in 1, 2, 4 or 8 bytes after its tag, like Redis'
//!   listpack entries without their back-length byte (so never larger):
//!
//!   | header            | entry                                  |
//!   |-------------------|----------------------------------------|
//!   | `0x00..=0x7f`     | string of that many bytes (< 128)      |
//!   | `0x80..=0xbf` + 1 | string of < 16384 bytes (14-bit length)|
//!   | `0xf1`..`0xf4`    | integer as i8, i16, i32, i64 (LE)      |
//!   | `0xf5` + 4        | string with a 32-bit length (LE)       |
//!
//!   Strings that are canonical integers (`string2ll`) are always stored as
//!   integers, so two entries are equal exactly when their encodings are.
//! - `hashtable`: past either limit the hash converts, once and for good,
//!   to a [`Dense`] table of `(field, value)` pairs of [`SmallBytes`].
//!
//! `HINCRBY` on a listpack finds the value already parsed and rewrites it in
//! place; on a table it parses and formats on the stack: no allocation when
//! the field exists.

use crate::config::Encodings;
use crate::small::SmallBytes;
use crate::types::set::{reserve_compact, Dense};

/// A field or value as stored: an integer or bytes (see [`crate::types::set::Member`]).
pub use crate::types::set::Member as Item;

/// Largest integer entry: tag and 8 bytes.
const INT_MAX_ENTRY: usize = 9;

/// Tags of integer and long string entries.
const TAG_I8: u8 = 0xf1;
const TAG_I16: u8 = 0xf2;
const TAG_I32: u8 = 0xf3;
const TAG_I64: u8 = 0xf4;
const TAG_STR32: u8 = 0xf5;

/// An encoded entry header (or a whole integer entry), on the stack.
struct Header {
    buf: [u8; INT_MAX_ENTRY],
    len: usize,
}

impl Header {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The whole entry of integer `n`.
    fn int(n: i64) -> Header {
        let mut buf = [0; INT_MAX_ENTRY];
        let len = if let Ok(v) = i8::try_from(n) {
            buf[0] = TAG_I8;
            buf[1] = v as u8;
            2
        } else if let Ok(v) = i16::try_from(n) {
            buf[0] = TAG_I16;
            buf[1..3].copy_from_slice(&v.to_le_bytes());
            3
        } else if let Ok(v) = i32::try_from(n) {
            buf[0] = TAG_I32;
            buf[1..5].copy_from_slice(&v.to_le_bytes());
            5
        } else {
            buf[0] = TAG_I64;
            buf[1..9].copy_from_slice(&n.to_le_bytes());
            9
        };
        Header { buf, len }
    }

    /// The header of a string entry of `len` bytes (at most `u32::MAX`).
    fn string(len: usize) -> Header {
        let mut buf = [0; INT_MAX_ENTRY];
        let n = if len < 0x80 {
            buf[0] = len as u8;
            1
        } else if len < 0x4000 {
            buf[0] = 0x80 | (len >> 8) as u8;
            buf[1] = len as u8;
            2
        } else {
            buf[0] = TAG_STR32;
            buf[1..5].copy_from_slice(&(len as u32).to_le_bytes());
            5
        };
        Header { buf, len: n }
    }
}

/// How `bytes` is stored: as an integer when canonical, else as a string.
#[inline]
fn as_item(bytes: &[u8]) -> Item<'_> {
    if bytes.len() <= 20 {
        if let Some(n) = crate::num::parse_i64_canonical(bytes) {
            return Item::Int(n);
        }
    }
    Item::Bytes(bytes)
}

/// Decodes the entry at `pos` of `buf`: the item and the position after it.
#[inline]
fn decode(buf: &[u8], pos: usize) -> (Item<'_>, usize) {
    let tag = buf[pos];
    let (start, len) = match tag {
        0x00..=0x7f => (pos + 1, tag as usize),
        0x80..=0xbf => (
            pos + 2,
            (((tag & 0x3f) as usize) << 8) | buf[pos + 1] as usize,
        ),
        TAG_I8 => return (Item::Int(i64::from(buf[pos + 1] as i8)), pos + 2),
        TAG_I16 => {
            let v = i16::from_le_bytes([buf[pos + 1], buf[pos + 2]]);
            return (Item::Int(i64::from(v)), pos + 3);
        }
        TAG_I32 => {
            let mut b = [0; 4];
            b.copy_from_slice(&buf[pos + 1..pos + 5]);
            return (Item::Int(i64::from(i32::from_le_bytes(b))), pos + 5);
        }
        TAG_I64 => {
            let mut b = [0; 8];
            b.copy_from_slice(&buf[pos + 1..pos + 9]);
            return (Item::Int(i64::from_le_bytes(b)), pos + 9);
        }
        _ => {
            let mut b = [0; 4];
            b.copy_from_slice(&buf[pos + 1..pos + 5]);
            (pos + 5, u32::from_le_bytes(b) as usize)
        }
    };
    (Item::Bytes(&buf[start..start + len]), start + len)
}

/// Length in bytes of an item's decimal or byte form.
#[inline]
fn item_len(item: Item<'_>) -> usize {
    match item {
        Item::Int(n) => itoa::Buffer::new().format(n).len(),
        Item::Bytes(b) => b.len(),
    }
}

/// The listpack form: pairs of entries in one buffer.
#[derive(Clone, Debug, Default)]
struct Listpack {
    buf: Vec<u8>,
    /// Number of pairs.
    pairs: u32,
}

/// Where a pair sits in a [`Listpack`]: field start, value start, end.
#[derive(Clone, Copy, Debug)]
struct Span {
    value: usize,
    end: usize,
}

impl Listpack {
    /// Finds `field` (as [`as_item`] classified it).
    #[inline]
    fn find(&self, field: Item<'_>) -> Option<Span> {
        let mut pos = 0;
        while pos < self.buf.len() {
            let (f, value) = decode(&self.buf, pos);
            let (_, end) = decode(&self.buf, value);
            if f == field {
                return Some(Span { value, end });
            }
            pos = end;
        }
        None
    }

    /// Replaces bytes `range` by `parts` concatenated.
    fn splice(&mut self, range: std::ops::Range<usize>, parts: &[&[u8]]) {
        let new: usize = parts.iter().map(|p| p.len()).sum();
        if new == range.len() {
            let mut at = range.start;
            for p in parts {
                self.buf[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
            return;
        }
        if new > range.len() {
            reserve_compact(&mut self.buf, new - range.len());
        }
        self.buf
            .splice(range, parts.iter().flat_map(|p| p.iter().copied()));
    }

    /// Appends or overwrites an entry at `range` with `item`.
    fn put(&mut self, range: std::ops::Range<usize>, item: Item<'_>) {
        match item {
            Item::Int(n) => self.splice(range, &[Header::int(n).bytes()]),
            Item::Bytes(b) => self.splice(range, &[Header::string(b.len()).bytes(), b]),
        }
    }

    fn iter(&self) -> ListpackIter<'_> {
        ListpackIter {
            buf: &self.buf,
            pos: 0,
        }
    }
}

/// The pairs of a listpack, in order.
struct ListpackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for ListpackIter<'a> {
    type Item = (Item<'a>, Item<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (f, at) = decode(self.buf, self.pos);
        let (v, end) = decode(self.buf, at);
        self.pos = end;
        Some((f, v))
    }
}

#[derive(Clone, Debug)]
enum Repr {
    Pack(Listpack),
    Table(Box<Dense<(SmallBytes, SmallBytes)>>),
}

/// A hash: field-value pairs, `listpack` or `hashtable` encoded as Redis
/// 7.0 does; see the module docs.
#[derive(Clone, Debug)]
pub struct Hash {
    repr: Repr,
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl PartialEq for Hash {
    fn eq(&self, other: &Hash) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(f, v)| f.with_bytes(|f| other.get(f)).is_some_and(|o| same(o, v)))
    }
}

/// Whether two items stand for the same bytes.
fn same(a: Item<'_>, b: Item<'_>) -> bool {
    a.with_bytes(|a| b.with_bytes(|b| a == b))
}

/// Why `HINCRBY` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncrError {
    /// The current value is not an integer (`ERR hash value is not an integer`).
    NotInteger,
    /// The result overflows an `i64`.
    Overflow,
}

impl Hash {
    /// An empty hash (`listpack` encoded).
    pub fn new() -> Hash {
        Hash {
            repr: Repr::Pack(Listpack::default()),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.pairs as usize,
            Repr::Table(t) => t.len(),
        }
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoding `OBJECT ENCODING` reports: `listpack` or `hashtable`.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned (for memory stats).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.buf.capacity(),
            Repr::Table(t) => {
                std::mem::size_of::<Dense<(SmallBytes, SmallBytes)>>() + t.heap_size()
            }
        }
    }

    /// The value of `field`.
    #[inline]
    pub fn get(&self, field: &[u8]) -> Option<Item<'_>> {
        match &self.repr {
            Repr::Pack(p) => {
                let span = p.find(as_item(field))?;
                Some(decode(&p.buf, span.value).0)
            }
            Repr::Table(t) => t.find(field).map(|i| Item::Bytes(&t.at(i).1)),
        }
    }

    /// Whether `field` exists.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts a listpack to a table.
    fn convert_to_table(&mut self) {
        if let Repr::Pack(p) = &self.repr {
            let mut t = Dense::with_capacity(p.pairs as usize + 1);
            for (f, v) in p.iter() {
                let own = |i: Item<'_>| i.with_bytes(SmallBytes::new);
                t.push((own(f), own(v)));
            }
            self.repr = Repr::Table(Box::new(t));
        }
    }

    /// Sets `field` to `value`; returns whether the field is new. A
    /// listpack converts when the field or the value is longer than
    /// `hash-max-listpack-value`, or when it would hold more than
    /// `hash-max-listpack-entries` fields (Redis' `hashTypeSet`).
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &Encodings) -> bool {
        if let Repr::Pack(p) = &mut self.repr {
            let max = limits.hash_max_listpack_value.min(u32::MAX as usize);
            if field.len() > max || value.len() > max {
                self.convert_to_table();
            } else {
                match p.find(as_item(field)) {
                    Some(span) => {
                        p.put(span.value..span.end, as_item(value));
                        return false;
                    }
                    None => {
                        let end = p.buf.len();
                        p.put(end..end, as_item(field));
                        let end = p.buf.len();
                        p.put(end..end, as_item(value));
                        p.pairs += 1;
                        if p.pairs as usize > limits.hash_max_listpack_entries {
                            self.convert_to_table();
                        }
                        return true;
                    }
                }
            }
        }
        match &mut self.repr {
            Repr::Table(t) => match t.find(field) {
                Some(i) => {
                    t.update(i, |e| e.1 = SmallBytes::new(value));
                    false
                }
                None => {
                    t.push((SmallBytes::new(field), SmallBytes::new(value)));
                    true
                }
            },
            Repr::Pack(_) => false,
        }
    }

    /// Removes `field`; returns whether it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pack(p) => {
                let item = as_item(field);
                let mut pos = 0;
                while pos < p.buf.len() {
                    let (f, value) = decode(&p.buf, pos);
                    let (_, end) = decode(&p.buf, value);
                    if f == item {
                        p.buf.drain(pos..end);
                        p.pairs -= 1;
                        if p.buf.capacity() - p.buf.len() > 64 {
                            p.buf.shrink_to(p.buf.len() + p.buf.len() / 16);
                        }
                        return true;
                    }
                    pos = end;
                }
                false
            }
            Repr::Table(t) => t.remove(field).is_some(),
        }
    }

    /// Adds `delta` to the integer value of `field` (0 when absent) and
    /// returns the result (`HINCRBY`). Allocates nothing when the field
    /// exists, except when the hash converts because the new value is
    /// longer than `hash-max-listpack-value`.
    ///
    /// # Errors
    /// [`IncrError`] when the value is not a canonical integer or the sum
    /// overflows; the hash is then unchanged.
    pub fn incr_by(
        &mut self,
        field: &[u8],
        delta: i64,
        limits: &Encodings,
    ) -> Result<i64, IncrError> {
        let current = |item: Option<Item<'_>>| match item {
            None => Ok(0),
            Some(Item::Int(n)) => Ok(n),
            Some(Item::Bytes(b)) => crate::num::parse_i64_canonical(b).ok_or(IncrError::NotInteger),
        };
        match &mut self.repr {
            Repr::Pack(p) => {
                let span = p.find(as_item(field));
                let old = current(span.map(|s| decode(&p.buf, s.value).0))?;
                let new = old.checked_add(delta).ok_or(IncrError::Overflow)?;
                let fits = item_len(Item::Int(new)) <= limits.hash_max_listpack_value;
                match span {
                    Some(s) if fits => p.put(s.value..s.end, Item::Int(new)),
                    _ => {
                        let mut text = itoa::Buffer::new();
                        self.set(field, text.format(new).as_bytes(), limits);
                    }
                }
                Ok(new)
            }
            Repr::Table(t) => {
                let i = t.find(field);
                let old = current(i.map(|i| Item::Bytes(&t.at(i).1)))?;
                let new = old.checked_add(delta).ok_or(IncrError::Overflow)?;
                let mut text = itoa::Buffer::new();
                let text = SmallBytes::new(text.format(new).as_bytes());
                match i {
                    Some(i) => t.update(i, |e| e.1 = text),
                    None => t.push((SmallBytes::new(field), text)),
                }
                Ok(new)
            }
        }
    }

    /// The pairs: insertion order for a listpack, table order for a table.
    pub fn iter(&self) -> impl Iterator<Item = (Item<'_>, Item<'_>)> + '_ {
        let (pack, table) = match &self.repr {
            Repr::Pack(p) => (Some(p.iter()), None),
            Repr::Table(t) => (None, Some(t.iter())),
        };
        pack.into_iter().flatten().chain(
            table
                .into_iter()
                .flatten()
                .map(|(f, v)| (Item::Bytes(f), Item::Bytes(v))),
        )
    }

    /// Start offsets of every pair of a listpack (None for a table), for
    /// random access by position ([`Hash::pair_at`]).
    pub fn positions(&self) -> Option<Vec<u32>> {
        match &self.repr {
            Repr::Pack(p) => {
                let mut v = Vec::with_capacity(p.pairs as usize);
                let mut it = p.iter();
                while it.pos < p.buf.len() {
                    v.push(it.pos as u32);
                    it.next();
                }
                Some(v)
            }
            Repr::Table(_) => None,
        }
    }

    /// The pair at position `i` (below [`Hash::len`]): for a listpack, `i`
    /// indexes `positions` (from [`Hash::positions`]); for a table, its
    /// elements.
    pub fn pair_at(&self, positions: Option<&[u32]>, i: usize) -> (Item<'_>, Item<'_>) {
        match (&self.repr, positions) {
            (Repr::Pack(p), Some(pos)) => {
                let (f, at) = decode(&p.buf, pos[i] as usize);
                (f, decode(&p.buf, at).0)
            }
            (Repr::Pack(p), None) => p.iter().nth(i).unwrap_or((Item::Int(0), Item::Int(0))),
            (Repr::Table(t), _) => {
                let (f, v) = t.at(i);
                (Item::Bytes(f), Item::Bytes(v))
            }
        }
    }

    /// One step of `HSCAN` from `cursor`, visiting about `count` pairs;
    /// returns the next cursor. A listpack is visited whole (cursor 0), as
    /// Redis does; a table follows [`Dense::scan`].
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Item<'_>, Item<'_>)) -> u64 {
        match &self.repr {
            Repr::Pack(p) => {
                for (k, v) in p.iter() {
                    f(k, v);
                }
                0
            }
            Repr::Table(t) => t.scan(cursor, count, |(k, v)| f(Item::Bytes(k), Item::Bytes(v))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn limits(entries: usize, value: usize) -> Encodings {
        Encodings {
            hash_max_listpack_entries: entries,
            hash_max_listpack_value: value,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
        }
    }

    fn bytes(i: Item<'_>) -> Vec<u8> {
        i.with_bytes(<[u8]>::to_vec)
    }

    #[derive(Clone, Debug)]
    enum Op {
        Set(Vec<u8>, Vec<u8>),
        Del(Vec<u8>),
        Incr(Vec<u8>, i64),
    }

    fn text() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-200i64..200).prop_map(|n| n.to_string().into_bytes()),
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            prop::sample::select(vec!["a", "b", "-0", "01", "", "x y"])
                .prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..200),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (text(), text()).prop_map(|(f, v)| Op::Set(f, v)),
            2 => text().prop_map(Op::Del),
            2 => (text(), prop_oneof![-5i64..5, any::<i64>()]).prop_map(|(f, d)| Op::Incr(f, d)),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_btreemap(ops in prop::collection::vec(op(), 0..200), entries in 0usize..30, value in 0usize..150) {
            let lim = limits(entries, value);
            let mut h = Hash::new();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            let mut order: Vec<Vec<u8>> = Vec::new();
            let mut must_table = false;
            for op in ops {
                match op {
                    Op::Set(f, v) => {
                        must_table |= f.len() > value || v.len() > value;
                        let new = !model.contains_key(&f);
                        prop_assert_eq!(h.set(&f, &v, &lim), new);
                        if new { order.push(f.clone()); }
                        model.insert(f, v);
                    }
                    Op::Del(f) => {
                        prop_assert_eq!(h.remove(&f), model.remove(&f).is_some());
                        order.retain(|x| x != &f);
                    }
                    Op::Incr(f, d) => {
                        let want = match model.get(&f) {
                            None => Ok(d),
                            Some(v) => crate::num::parse_i64_canonical(v)
                                .ok_or(IncrError::NotInteger)
                                .and_then(|n| n.checked_add(d).ok_or(IncrError::Overflow)),
                        };
                        let before = h.clone();
                        let got = h.incr_by(&f, d, &lim);
                        prop_assert_eq!(got, want);
                        match got {
                            Ok(n) => {
                                let s = n.to_string().into_bytes();
                                must_table |= s.len() > value;
                                if !model.contains_key(&f) { order.push(f.clone()); }
                                model.insert(f, s);
                            }
                            Err(_) => prop_assert!(h == before),
                        }
                    }
                }
                must_table |= model.len() > entries;
                prop_assert_eq!(h.len(), model.len());
                if must_table {
                    prop_assert_eq!(h.encoding(), "hashtable");
                }
            }
            let got: BTreeMap<Vec<u8>, Vec<u8>> = h.iter().map(|(f, v)| (bytes(f), bytes(v))).collect();
            prop_assert_eq!(&got, &model);
            for (f, v) in &model {
                prop_assert_eq!(h.get(f).map(bytes), Some(v.clone()));
            }
            if h.encoding() == "listpack" {
                // Insertion order, as Redis' listpack.
                let fields: Vec<Vec<u8>> = h.iter().map(|(f, _)| bytes(f)).collect();
                prop_assert_eq!(&fields, &order);
                let pos = h.positions();
                for (i, want) in order.iter().enumerate() {
                    let (f, _) = h.pair_at(pos.as_deref(), i);
                    prop_assert_eq!(&bytes(f), want);
                }
            }
        }
    }

    #[test]
    fn hash_is_small() {
        assert!(std::mem::size_of::<Hash>() <= 32);
    }

    #[test]
    fn entries_round_trip_at_every_width() {
        let lim = limits(1000, 100_000);
        let mut h = Hash::new();
        let values: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"-128".to_vec(),
            b"127".to_vec(),
            b"-32769".to_vec(),
            b"2147483648".to_vec(),
            i64::MIN.to_string().into_bytes(),
            vec![b'x'; 127],
            vec![b'y'; 128],
            vec![b'z'; 16383],
            vec![b'w'; 16384],
            b"-0".to_vec(),
        ];
        for (i, v) in values.iter().enumerate() {
            h.set(i.to_string().as_bytes(), v, &lim);
        }
        assert_eq!(h.encoding(), "listpack");
        for (i, v) in values.iter().enumerate() {
            assert_eq!(h.get(i.to_string().as_bytes()).map(bytes), Some(v.clone()));
        }
    }

    #[test]
    fn incr_rewrites_in_place_and_converts_past_the_value_limit() {
        let lim = limits(128, 3);
        let mut h = Hash::new();
        assert_eq!(h.incr_by(b"n", 5, &lim), Ok(5));
        assert_eq!(h.incr_by(b"n", 994, &lim), Ok(999));
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.incr_by(b"n", 1, &lim), Ok(1000));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.incr_by(b"n", i64::MAX, &lim), Err(IncrError::Overflow));
        assert_eq!(h.get(b"n"), Some(Item::Bytes(b"1000")));
    }

    #[test]
    fn memory_per_pair_is_at_most_redis() {
        // Redis 7.0, 100 pairs `field:N` / `value:N` (9 + 9 bytes with
        // headers and back-lengths each): a listpack of about 1.9 KB.
        let lim = limits(128, 64);
        let mut h = Hash::new();
        for i in 0..100 {
            h.set(
                format!("field:{i}").as_bytes(),
                format!("value:{i}").as_bytes(),
                &lim,
            );
        }
        let redis = 6 + 100 * (2 * (2 + "field:10".len()));
        assert!(h.heap_size() <= redis, "{} > {redis}", h.heap_size());
        // Integer values: Redis stores 1000 as a 13-bit int (2 bytes + 1).
        let mut c = Hash::new();
        for i in 0..100 {
            c.set(format!("f{i}").as_bytes(), b"1000", &lim);
        }
        let redis = 6 + 100 * ((2 + 3) + 3);
        assert!(c.heap_size() <= redis, "{} > {redis}", c.heap_size());
    }
}
