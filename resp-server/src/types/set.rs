//! A set of byte strings, with Redis 7.0's two encodings.
//!
//! - `intset` (Redis' `intset.c`): while every member is the canonical
//!   decimal form of an `i64` and there are at most `set-max-intset-entries`
//!   of them, the members live in one sorted array of the narrowest width
//!   that fits all of them (`i16`, `i32` or `i64`), found by binary search.
//!   A wider member widens the whole array, as `intsetUpgradeAndAdd` does.
//! - `hashtable`: past either condition the set converts, once and for
//!   good, to a [`Dense`] table: the members in one vector, indexed by a
//!   `hashbrown::HashTable` of 4-byte positions.
//!
//! A member is reported as a [`Member`]: an integer of an intset is
//! formatted only when written out.
//!
//! [`Dense`] is also the general form of [`crate::types::Hash`]; its scan
//! order (positions from the last down to the first, removal by
//! swap-remove) is what makes the `SSCAN`/`HSCAN` cursor stable: see
//! [`Dense::scan`].

use std::sync::OnceLock;

use hashbrown::HashTable;

use crate::small::SmallBytes;

/// Hashes member and field bytes with a seed drawn once per process (so
/// clients cannot precompute colliding members).
#[inline]
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    let seed = *SEED.get_or_init(|| fastrand::u64(..));
    xxhash_rust::xxh3::xxh3_64_with_seed(bytes, seed)
}

/// Reserves room for `extra` more items in `v`, keeping small containers
/// at their exact size as Redis does (it reallocates listpacks and intsets
/// to the byte on every insert): exact growth below 4 KiB, then a sixteenth
/// of slack, so a run of inserts into a large container still costs
/// amortized O(1) copies per item (and large reallocations are `mremap`s).
#[inline]
pub(crate) fn reserve_compact<T>(v: &mut Vec<T>, extra: usize) {
    if v.capacity() - v.len() < extra {
        let slack = if v.len() * std::mem::size_of::<T>() < 4096 {
            0
        } else {
            v.len() / 16
        };
        v.reserve_exact(extra + slack);
    }
}

/// An element of a [`Dense`] table: something with key bytes.
pub trait Keyed {
    /// The bytes the element is found by.
    fn key(&self) -> &[u8];
    /// Heap bytes the element owns beyond its own size.
    fn heap(&self) -> usize;
}

impl Keyed for SmallBytes {
    #[inline]
    fn key(&self) -> &[u8] {
        self
    }

    #[inline]
    fn heap(&self) -> usize {
        self.heap_size()
    }
}

impl Keyed for (SmallBytes, SmallBytes) {
    #[inline]
    fn key(&self) -> &[u8] {
        &self.0
    }

    #[inline]
    fn heap(&self) -> usize {
        self.0.heap_size() + self.1.heap_size()
    }
}

/// A hash table keeping its elements densely in one vector, indexed by a
/// table of `u32` positions (the layout of `indexmap`): uniform random
/// picks are one index, and removal is a swap-remove.
#[derive(Clone, Debug, Default)]
pub struct Dense<E> {
    items: Vec<E>,
    index: HashTable<u32>,
    /// Sum of the elements' [`Keyed::heap`].
    heap: usize,
}

impl<E: Keyed> Dense<E> {
    /// An empty table with room for `n` elements.
    pub fn with_capacity(n: usize) -> Dense<E> {
        Dense {
            items: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            heap: 0,
        }
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is no element.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Position of the element with key `key`.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let items = &self.items;
        self.index
            .find(hash_bytes(key), |&p| items[p as usize].key() == key)
            .map(|&p| p as usize)
    }

    /// The element at position `i` (below [`Dense::len`]).
    #[inline]
    pub fn at(&self, i: usize) -> &E {
        &self.items[i]
    }

    /// Changes the element at position `i` through `f`, which must keep its
    /// key.
    #[inline]
    pub fn update(&mut self, i: usize, f: impl FnOnce(&mut E)) {
        let e = &mut self.items[i];
        self.heap -= e.heap();
        f(e);
        self.heap += e.heap();
    }

    /// Adds `e`, whose key must be absent.
    pub fn push(&mut self, e: E) {
        let pos = self.items.len() as u32;
        let hash = hash_bytes(e.key());
        self.heap += e.heap();
        reserve_compact(&mut self.items, 1);
        self.items.push(e);
        let items = &self.items;
        self.index
            .insert_unique(hash, pos, |&p| hash_bytes(items[p as usize].key()));
    }

    /// Removes and returns the element at position `i`; the last element
    /// takes its place.
    pub fn swap_remove(&mut self, i: usize) -> E {
        let last = self.items.len() - 1;
        let hash = hash_bytes(self.items[i].key());
        if let Ok(found) = self.index.find_entry(hash, |&p| p as usize == i) {
            found.remove();
        }
        if i != last {
            let moved = hash_bytes(self.items[last].key());
            if let Some(p) = self.index.find_mut(moved, |&p| p as usize == last) {
                *p = i as u32;
            }
        }
        let e = self.items.swap_remove(i);
        self.heap -= e.heap();
        let n = self.items.len();
        if self.items.capacity() > 64 && n < self.items.capacity() / 4 {
            self.items.shrink_to(n + n / 8);
            let items = &self.items;
            self.index
                .shrink_to(n, |&p| hash_bytes(items[p as usize].key()));
        }
        e
    }

    /// Removes the element with key `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<E> {
        let i = self.find(key)?;
        Some(self.swap_remove(i))
    }

    /// The elements, in position order.
    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, E> {
        self.items.iter()
    }

    /// Visits the next `count` positions of a scan and returns the cursor
    /// to continue from (0 once every position was visited).
    ///
    /// A cursor counts the positions still to visit, taken from the end
    /// down (`0` starts with all of them). Inserts append beyond those
    /// positions, and a removal only moves the last element down to the
    /// freed position, so an element present for the whole scan is never
    /// skipped: an unvisited element that moves stays unvisited and below
    /// the cursor; a visited one may be visited again, as Redis allows.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&E)) -> u64 {
        let len = self.items.len();
        let mut left = if cursor == 0 {
            len
        } else {
            usize::try_from(cursor).map_or(len, |c| c.min(len))
        };
        let mut budget = count.max(1);
        while left > 0 && budget > 0 {
            left -= 1;
            budget -= 1;
            f(&self.items[left]);
        }
        left as u64
    }

    /// Heap bytes owned: the vector, the index and the elements' own.
    pub fn heap_size(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<E>() + self.index.allocation_size() + self.heap
    }
}

/// The sorted integer array of an intset, at its narrowest width.
#[derive(Clone, Debug)]
enum IntSet {
    /// Every member fits an `i16`.
    I16(Vec<i16>),
    /// Every member fits an `i32`, one does not fit an `i16`.
    I32(Vec<i32>),
    /// Some member needs an `i64`.
    I64(Vec<i64>),
}

/// Applies `$body` to the vector of whatever width, bound as `$v`.
macro_rules! each_width {
    ($set:expr, $v:ident => $body:expr) => {
        match $set {
            IntSet::I16($v) => $body,
            IntSet::I32($v) => $body,
            IntSet::I64($v) => $body,
        }
    };
}

impl IntSet {
    fn len(&self) -> usize {
        each_width!(self, v => v.len())
    }

    #[allow(clippy::useless_conversion)] // the i64 arm of each_width!
    fn get(&self, i: usize) -> i64 {
        each_width!(self, v => i64::from(v[i]))
    }

    /// Position of `n`, or where it would go.
    fn search(&self, n: i64) -> Result<usize, usize> {
        match self {
            IntSet::I16(v) => match i16::try_from(n) {
                Ok(n) => v.binary_search(&n),
                Err(_) => Err(if n < 0 { 0 } else { v.len() }),
            },
            IntSet::I32(v) => match i32::try_from(n) {
                Ok(n) => v.binary_search(&n),
                Err(_) => Err(if n < 0 { 0 } else { v.len() }),
            },
            IntSet::I64(v) => v.binary_search(&n),
        }
    }

    fn contains(&self, n: i64) -> bool {
        self.search(n).is_ok()
    }

    /// Widens the array so that `n` fits.
    #[allow(clippy::useless_conversion)] // the i64 arm of each_width!
    fn widen_for(&mut self, n: i64) {
        let need = if i16::try_from(n).is_ok() {
            0
        } else if i32::try_from(n).is_ok() {
            1
        } else {
            2
        };
        let have = match self {
            IntSet::I16(_) => 0,
            IntSet::I32(_) => 1,
            IntSet::I64(_) => 2,
        };
        if need <= have {
            return;
        }
        let mut all: Vec<i64> = Vec::with_capacity(self.len() + 1);
        each_width!(&*self, v => all.extend(v.iter().map(|&x| i64::from(x))));
        *self = if need == 1 {
            IntSet::I32(all.into_iter().map(|x| x as i32).collect())
        } else {
            IntSet::I64(all)
        };
    }

    fn insert(&mut self, n: i64) -> bool {
        if self.contains(n) {
            return false;
        }
        self.widen_for(n);
        match self.search(n) {
            Ok(_) => false,
            Err(at) => {
                match self {
                    IntSet::I16(v) => {
                        reserve_compact(v, 1);
                        v.insert(at, n as i16)
                    }
                    IntSet::I32(v) => {
                        reserve_compact(v, 1);
                        v.insert(at, n as i32)
                    }
                    IntSet::I64(v) => {
                        reserve_compact(v, 1);
                        v.insert(at, n)
                    }
                }
                true
            }
        }
    }

    #[allow(clippy::useless_conversion)] // the i64 arm of each_width!
    fn remove_at(&mut self, i: usize) -> i64 {
        let n = each_width!(self, v => i64::from(v.remove(i)));
        each_width!(self, v => {
            if v.capacity() > 16 && v.len() < v.capacity() / 2 {
                v.shrink_to_fit();
            }
        });
        n
    }

    fn heap_size(&self) -> usize {
        match self {
            IntSet::I16(v) => v.capacity() * 2,
            IntSet::I32(v) => v.capacity() * 4,
            IntSet::I64(v) => v.capacity() * 8,
        }
    }
}

/// A member of a set as stored: an integer of an intset, or bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    /// A canonical integer (its decimal form is the member).
    Int(i64),
    /// The member's bytes.
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// Calls `f` with the member's bytes (an integer is formatted on the
    /// stack).
    #[inline]
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
            Member::Bytes(b) => f(b),
        }
    }

    /// An owned copy.
    pub fn to_owned(self) -> OwnedMember {
        match self {
            Member::Int(n) => OwnedMember::Int(n),
            Member::Bytes(b) => OwnedMember::Bytes(SmallBytes::new(b)),
        }
    }
}

/// A member taken out of a set (`SPOP`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedMember {
    /// A canonical integer.
    Int(i64),
    /// Bytes.
    Bytes(SmallBytes),
}

impl OwnedMember {
    /// Borrows it as a [`Member`].
    #[inline]
    pub fn as_member(&self) -> Member<'_> {
        match self {
            OwnedMember::Int(n) => Member::Int(*n),
            OwnedMember::Bytes(b) => Member::Bytes(b),
        }
    }
}

#[derive(Clone, Debug)]
enum Repr {
    Ints(IntSet),
    Table(Box<Dense<SmallBytes>>),
}

/// A set of byte strings (`SADD` and friends), `intset` or `hashtable`
/// encoded as Redis 7.0 does; see the module docs.
#[derive(Clone, Debug)]
pub struct Set {
    repr: Repr,
}

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Set) -> bool {
        self.len() == other.len() && self.iter().all(|m| m.with_bytes(|b| other.contains(b)))
    }
}

impl Set {
    /// An empty set, `intset` encoded until a member needs otherwise (as
    /// Redis' `createIntsetObject`; adding members one by one then gives
    /// the encoding Redis' `setTypeCreate` and `setTypeAdd` would).
    pub fn new() -> Set {
        Set {
            repr: Repr::Ints(IntSet::I16(Vec::new())),
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => s.len(),
            Repr::Table(t) => t.len(),
        }
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoding `OBJECT ENCODING` reports: `intset` or `hashtable`.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Ints(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned (for memory stats): the array or the table, and
    /// members longer than 22 bytes.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => s.heap_size(),
            Repr::Table(t) => std::mem::size_of::<Dense<SmallBytes>>() + t.heap_size(),
        }
    }

    /// Whether `member` is in the set.
    #[inline]
    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(s) => crate::num::parse_i64_canonical(member).is_some_and(|n| s.contains(n)),
            Repr::Table(t) => t.find(member).is_some(),
        }
    }

    /// Whether a member of another set is in this one (no formatting when
    /// both are integers).
    #[inline]
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (&self.repr, member) {
            (Repr::Ints(s), Member::Int(n)) => s.contains(n),
            _ => member.with_bytes(|b| self.contains(b)),
        }
    }

    /// Converts an intset to a table.
    fn convert_to_table(&mut self) {
        if let Repr::Ints(s) = &self.repr {
            let mut t = Dense::with_capacity(s.len() + 1);
            for i in 0..s.len() {
                t.push(SmallBytes::new(
                    itoa::Buffer::new().format(s.get(i)).as_bytes(),
                ));
            }
            self.repr = Repr::Table(Box::new(t));
        }
    }

    /// Adds `member`; returns whether it was new. An intset converts to a
    /// table when `member` is not a canonical integer or when it would hold
    /// more than `max_intset` members (`set-max-intset-entries`, capped at
    /// 2^30 as Redis does).
    pub fn insert(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let Repr::Ints(s) = &mut self.repr {
            match crate::num::parse_i64_canonical(member) {
                Some(n) => {
                    if !s.insert(n) {
                        return false;
                    }
                    if s.len() > max_intset.min(1 << 30) {
                        self.convert_to_table();
                    }
                    return true;
                }
                None => self.convert_to_table(),
            }
        }
        match &mut self.repr {
            Repr::Table(t) => {
                if t.find(member).is_some() {
                    return false;
                }
                t.push(SmallBytes::new(member));
                true
            }
            Repr::Ints(_) => false,
        }
    }

    /// Adds a member of another set (no parsing when it is an integer
    /// going into an intset).
    pub fn insert_member(&mut self, member: Member<'_>, max_intset: usize) -> bool {
        match (&mut self.repr, member) {
            (Repr::Ints(s), Member::Int(n)) => {
                if !s.insert(n) {
                    return false;
                }
                if s.len() > max_intset.min(1 << 30) {
                    self.convert_to_table();
                }
                true
            }
            _ => member.with_bytes(|b| self.insert(b, max_intset)),
        }
    }

    /// Removes `member`; returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(s) => match crate::num::parse_i64_canonical(member).map(|n| s.search(n)) {
                Some(Ok(i)) => {
                    s.remove_at(i);
                    true
                }
                _ => false,
            },
            Repr::Table(t) => t.remove(member).is_some(),
        }
    }

    /// The member at position `i` (below [`Set::len`]); positions are the
    /// sorted order of an intset, the table order of a table.
    #[inline]
    pub fn at(&self, i: usize) -> Member<'_> {
        match &self.repr {
            Repr::Ints(s) => Member::Int(s.get(i)),
            Repr::Table(t) => Member::Bytes(t.at(i)),
        }
    }

    /// Removes and returns the member at position `i`.
    pub fn remove_at(&mut self, i: usize) -> OwnedMember {
        match &mut self.repr {
            Repr::Ints(s) => OwnedMember::Int(s.remove_at(i)),
            Repr::Table(t) => OwnedMember::Bytes(t.swap_remove(i)),
        }
    }

    /// A member picked uniformly at random, or None when empty.
    pub fn random(&self, rng: &mut fastrand::Rng) -> Option<Member<'_>> {
        let n = self.len();
        (n > 0).then(|| self.at(rng.usize(..n)))
    }

    /// Removes a member picked uniformly at random.
    pub fn pop_random(&mut self, rng: &mut fastrand::Rng) -> Option<OwnedMember> {
        let n = self.len();
        (n > 0).then(|| self.remove_at(rng.usize(..n)))
    }

    /// The members: ascending for an intset, table order for a table.
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> + '_ {
        (0..self.len()).map(move |i| self.at(i))
    }

    /// One step of `SSCAN` from `cursor`, visiting about `count` members;
    /// returns the next cursor. An intset is visited whole (cursor 0), as
    /// Redis does for its compact encodings; a table follows
    /// [`Dense::scan`].
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Member<'_>)) -> u64 {
        match &self.repr {
            Repr::Ints(s) => {
                for i in 0..s.len() {
                    f(Member::Int(s.get(i)));
                }
                0
            }
            Repr::Table(t) => t.scan(cursor, count, |m| f(Member::Bytes(m))),
        }
    }

    /// A set of `members`, encoded as if they were added one by one.
    pub fn from_members<'a>(
        members: impl IntoIterator<Item = Member<'a>>,
        max_intset: usize,
    ) -> Set {
        let mut s = Set::new();
        for m in members {
            s.insert_member(m, max_intset);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn members(s: &Set) -> BTreeSet<Vec<u8>> {
        s.iter().map(|m| m.with_bytes(<[u8]>::to_vec)).collect()
    }

    #[derive(Clone, Debug)]
    enum Op {
        Add(Vec<u8>),
        Remove(Vec<u8>),
        Pop(u64),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-300i64..300).prop_map(|n| n.to_string().into_bytes()),
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            (-70_000i64..70_000).prop_map(|n| n.to_string().into_bytes()),
            prop::sample::select(vec!["-0", "01", "+1", "a", "", "9223372036854775808"])
                .prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..30),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => member().prop_map(Op::Add),
            2 => member().prop_map(Op::Remove),
            1 => any::<u64>().prop_map(Op::Pop),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_btreeset(ops in prop::collection::vec(op(), 0..300), max in 0usize..40) {
            let mut s = Set::new();
            let mut model = BTreeSet::new();
            let mut all_ints = true;
            let mut rng = fastrand::Rng::with_seed(7);
            for op in ops {
                match op {
                    Op::Add(m) => {
                        let is_int = crate::num::parse_i64_canonical(&m).is_some();
                        prop_assert_eq!(s.insert(&m, max), model.insert(m));
                        all_ints &= is_int;
                        if !all_ints || model.len() > max {
                            prop_assert_eq!(s.encoding(), "hashtable");
                        }
                    }
                    Op::Remove(m) => prop_assert_eq!(s.remove(&m), model.remove(&m)),
                    Op::Pop(seed) => {
                        rng.seed(seed);
                        match s.pop_random(&mut rng) {
                            Some(m) => prop_assert!(model.remove(&m.as_member().with_bytes(<[u8]>::to_vec))),
                            None => prop_assert!(model.is_empty()),
                        }
                    }
                }
                prop_assert_eq!(s.len(), model.len());
            }
            prop_assert_eq!(members(&s), model.clone());
            for m in &model {
                prop_assert!(s.contains(m));
            }
            if s.encoding() == "intset" {
                let v: Vec<i64> = s.iter().map(|m| match m { Member::Int(n) => n, Member::Bytes(_) => i64::MIN }).collect();
                prop_assert!(v.windows(2).all(|w| w[0] < w[1]), "sorted: {v:?}");
            }
            let rebuilt = Set::from_members(s.iter(), max);
            prop_assert!(rebuilt == s);
        }

        #[test]
        fn scan_returns_every_stable_member(n in 0usize..300, count in 1usize..20, churn in prop::collection::vec(any::<u16>(), 0..100)) {
            let mut s = Set::new();
            for i in 0..n {
                s.insert(format!("m{i}").as_bytes(), 0);
            }
            let stable: BTreeSet<Vec<u8>> = (0..n).filter(|i| i % 3 == 0).map(|i| format!("m{i}").into_bytes()).collect();
            let mut seen = BTreeSet::new();
            let mut cursor = 0;
            let mut churn = churn.into_iter();
            for _ in 0..10_000 {
                cursor = s.scan(cursor, count, |m| { seen.insert(m.with_bytes(<[u8]>::to_vec)); });
                if let Some(c) = churn.next() {
                    // Remove a member that is not stable, or add a new one.
                    let victim = format!("m{}", c as usize % n.max(1));
                    if c % 2 == 0 && !stable.contains(victim.as_bytes()) {
                        s.remove(victim.as_bytes());
                    } else {
                        s.insert(format!("new{c}").as_bytes(), 0);
                    }
                }
                if cursor == 0 {
                    break;
                }
            }
            prop_assert_eq!(cursor, 0);
            prop_assert!(stable.is_subset(&seen));
        }
    }

    #[test]
    fn set_is_small() {
        assert!(std::mem::size_of::<Set>() <= 32);
    }

    #[test]
    fn intset_widens_and_converts_at_the_threshold() {
        let mut s = Set::new();
        s.insert(b"1", 3);
        assert_eq!(s.heap_size(), 2);
        s.insert(b"70000", 3);
        s.insert(b"-9223372036854775808", 3);
        assert_eq!(s.encoding(), "intset");
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [Member::Int(i64::MIN), Member::Int(1), Member::Int(70000)]
        );
        s.insert(b"5", 3);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"5") && s.contains(b"-9223372036854775808"));
        let mut t = Set::new();
        t.insert(b"-0", 512);
        assert_eq!(t.encoding(), "hashtable");
        let mut u = Set::new();
        u.insert(b"1", 0);
        assert_eq!(u.encoding(), "hashtable");
    }

    #[test]
    fn memory_per_member_is_at_most_redis() {
        // Redis 7.0: an intset of 500 members below 2^15 is 16 + 2 * 500
        // bytes (MEMORY USAGE reports about 1 KiB plus the robj).
        let mut s = Set::new();
        for i in 0..500 {
            s.insert(i.to_string().as_bytes(), 512);
        }
        assert!(s.heap_size() <= 2 * 500 + 500 / 4, "{}", s.heap_size());
        // A hashtable set of short members: Redis spends a 24-byte
        // dictEntry (a 32-byte allocation), an sds of 16 bytes and an
        // 8-byte bucket pointer, 56 bytes per member at least.
        let mut t = Set::new();
        for i in 0..10_000 {
            t.insert(format!("member:{i}").as_bytes(), 512);
        }
        let per = t.heap_size() / 10_000;
        assert!(per <= 56, "{per} bytes per member");
    }
}
