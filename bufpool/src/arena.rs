//! An arena of objects addressed by small integer handles, backed by
//! [`slab::Slab`].
//!
//! An [`Arena`] stores values in a vector of slots. Inserting returns a
//! [`Handle`], the index of the slot, as a `u32` (half the size of a pointer
//! or `usize` on 64-bit targets). A value never moves to another slot while
//! it lives, so a handle stays valid until its value is removed, and a
//! cursor (a slot index) walked with [`Arena::next_occupied`] visits every
//! value that lives for the whole walk, however the arena changes meanwhile.
//!
//! Slots freed by [`Arena::remove`] are reused by later inserts, most
//! recently freed first (this is `slab`'s behaviour). A handle kept after its
//! value was removed may therefore name a newer value: callers that need to
//! tell the two apart must store a generation next to the value.

use std::fmt;
use std::iter::FusedIterator;

use slab::Slab;

/// The index of a slot in an [`Arena`], as a `u32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Handle(u32);

impl Handle {
    /// Returns the slot index.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Returns the handle of slot `index`, or `None` if `index` is greater
    /// than `u32::MAX`.
    pub fn from_index(index: usize) -> Option<Handle> {
        u32::try_from(index).ok().map(Handle)
    }

    /// The handle of a slab key, which `Arena` keeps within `u32`.
    fn from_key(key: usize) -> Handle {
        debug_assert!(key <= u32::MAX as usize, "arena key {key} past u32::MAX");
        Handle(key as u32)
    }
}

/// An arena of values addressed by [`Handle`]s; see the [module docs](self).
///
/// Holds at most 2<sup>32</sup> values, one per `u32` handle.
///
/// # Examples
///
/// ```
/// use bufpool::Arena;
///
/// let mut arena = Arena::new();
/// let a = arena.insert("a");
/// let b = arena.insert("b");
/// assert_eq!(arena.get(a), Some(&"a"));
///
/// assert_eq!(arena.remove(a), Some("a"));
/// assert_eq!(arena.remove(a), None);
/// assert_eq!(arena.get(b), Some(&"b")); // `b` did not move
///
/// let c = arena.insert("c");
/// assert_eq!(c, a); // the freed slot is reused
///
/// // A SCAN-style walk, one value per step.
/// let mut cursor = 0;
/// let mut seen = Vec::new();
/// while let Some((handle, value)) = arena.next_occupied(cursor) {
///     seen.push(*value);
///     cursor = handle.index() + 1;
/// }
/// assert_eq!(seen, ["c", "b"]);
/// ```
#[derive(Clone)]
pub struct Arena<T> {
    slab: Slab<T>,
    /// One past the highest slot index that may be occupied, in slots.
    slots: usize,
}

impl<T> Arena<T> {
    /// Creates an empty arena without allocating.
    pub fn new() -> Arena<T> {
        Arena::with_capacity(0)
    }

    /// Creates an empty arena with room for `capacity` values (in entries)
    /// before it reallocates.
    pub fn with_capacity(capacity: usize) -> Arena<T> {
        Arena {
            slab: Slab::with_capacity(capacity),
            slots: 0,
        }
    }

    /// Inserts `value` and returns its handle, reusing a freed slot if there
    /// is one.
    ///
    /// # Panics
    ///
    /// Panics if the arena already holds 2<sup>32</sup> values (every handle
    /// is in use). [`Arena::try_insert`] returns the value instead.
    pub fn insert(&mut self, value: T) -> Handle {
        match self.try_insert(value) {
            Ok(handle) => handle,
            Err(_) => panic!("arena full: every u32 handle is in use"),
        }
    }

    /// Inserts `value` and returns its handle, or gives `value` back if the
    /// arena already holds 2<sup>32</sup> values.
    ///
    /// # Errors
    ///
    /// Returns `Err(value)` if every handle is in use.
    pub fn try_insert(&mut self, value: T) -> Result<Handle, T> {
        let Some(handle) = Handle::from_index(self.slab.vacant_key()) else {
            return Err(value);
        };
        let key = self.slab.insert(value);
        debug_assert_eq!(key, handle.index());
        self.slots = self.slots.max(key + 1);
        Ok(handle)
    }

    /// Returns the value at `handle`, or `None` if its slot is vacant.
    pub fn get(&self, handle: Handle) -> Option<&T> {
        self.slab.get(handle.index())
    }

    /// Returns the value at `handle` mutably, or `None` if its slot is vacant.
    pub fn get_mut(&mut self, handle: Handle) -> Option<&mut T> {
        self.slab.get_mut(handle.index())
    }

    /// Removes and returns the value at `handle`, or returns `None` if its
    /// slot is vacant. The slot is reused by a later insert.
    pub fn remove(&mut self, handle: Handle) -> Option<T> {
        self.slab.try_remove(handle.index())
    }

    /// Returns whether the slot of `handle` holds a value.
    pub fn contains(&self, handle: Handle) -> bool {
        self.slab.contains(handle.index())
    }

    /// Returns the number of values, in entries.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Returns whether the arena holds no value.
    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// Returns the number of slots allocated, in entries.
    pub fn capacity(&self) -> usize {
        self.slab.capacity()
    }

    /// Removes every value, keeping the allocated capacity.
    pub fn clear(&mut self) {
        self.slab.clear();
        self.slots = 0;
    }

    /// Frees the vacant slots after the last value and as much unused
    /// capacity as possible. Values keep their handles.
    pub fn shrink_to_fit(&mut self) {
        self.slab.shrink_to_fit();
        self.slots = self.slab.iter().next_back().map_or(0, |(key, _)| key + 1);
    }

    /// Returns the first value whose slot index is at least `from_index`,
    /// with its handle, or `None` if there is none.
    ///
    /// Walking with `from_index = handle.index() + 1` visits the values in
    /// slot order and, since values never move, reports every value that
    /// lives for the whole walk exactly once, even when values are inserted
    /// or removed between steps. Values inserted during the walk may or may
    /// not be reported. Takes time linear in the number of slots skipped.
    pub fn next_occupied(&self, from_index: usize) -> Option<(Handle, &T)> {
        (from_index..self.slots).find_map(|key| {
            self.slab
                .get(key)
                .map(|value| (Handle::from_key(key), value))
        })
    }

    /// Returns an iterator over the values and their handles, in slot order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            inner: self.slab.iter(),
        }
    }

    /// Returns an iterator over the values, mutably, and their handles, in
    /// slot order.
    pub fn iter_mut(&mut self) -> IterMut<'_, T> {
        IterMut {
            inner: self.slab.iter_mut(),
        }
    }
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for Arena<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a, T> IntoIterator for &'a Arena<T> {
    type Item = (Handle, &'a T);
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut Arena<T> {
    type Item = (Handle, &'a mut T);
    type IntoIter = IterMut<'a, T>;

    fn into_iter(self) -> IterMut<'a, T> {
        self.iter_mut()
    }
}

/// An iterator over the values of an [`Arena`] and their handles, in slot
/// order; see [`Arena::iter`].
#[derive(Debug, Clone)]
pub struct Iter<'a, T> {
    inner: slab::Iter<'a, T>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = (Handle, &'a T);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(key, v)| (Handle::from_key(key), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner
            .next_back()
            .map(|(key, v)| (Handle::from_key(key), v))
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

impl<T> FusedIterator for Iter<'_, T> {}

/// An iterator over the values of an [`Arena`], mutably, and their handles,
/// in slot order; see [`Arena::iter_mut`].
#[derive(Debug)]
pub struct IterMut<'a, T> {
    inner: slab::IterMut<'a, T>,
}

impl<'a, T> Iterator for IterMut<'a, T> {
    type Item = (Handle, &'a mut T);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(key, v)| (Handle::from_key(key), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<T> DoubleEndedIterator for IterMut<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner
            .next_back()
            .map(|(key, v)| (Handle::from_key(key), v))
    }
}

impl<T> ExactSizeIterator for IterMut<'_, T> {}

impl<T> FusedIterator for IterMut<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_is_u32_sized_and_bounded() {
        assert_eq!(std::mem::size_of::<Handle>(), 4);
        let max = Handle::from_index(u32::MAX as usize).unwrap();
        assert_eq!(max.index(), u32::MAX as usize);
        assert_eq!(Handle::from_index(u32::MAX as usize + 1), None);
        assert_eq!(Handle::from_index(usize::MAX), None);
        assert!(Handle::from_index(1) < Handle::from_index(2));
    }

    #[test]
    fn remove_vacant_returns_none() {
        let mut arena = Arena::new();
        let far = Handle::from_index(1000).unwrap();
        assert_eq!(arena.remove(far), None);
        let h = arena.insert(1);
        assert_eq!(arena.remove(h), Some(1));
        assert_eq!(arena.remove(h), None);
        assert!(!arena.contains(h));
        assert!(arena.is_empty());
    }

    #[test]
    fn freed_slots_are_reused() {
        let mut arena = Arena::new();
        let handles: Vec<_> = (0..4).map(|i| arena.insert(i)).collect();
        arena.remove(handles[1]);
        arena.remove(handles[2]);
        assert_eq!(arena.insert(10), handles[2]);
        assert_eq!(arena.insert(11), handles[1]);
        assert_eq!(arena.insert(12).index(), 4);
    }

    #[test]
    fn entries_do_not_move() {
        let mut arena = Arena::new();
        let handles: Vec<_> = (0..100).map(|i| arena.insert(i)).collect();
        for h in handles.iter().step_by(2) {
            arena.remove(*h);
        }
        arena.shrink_to_fit();
        for h in handles.iter().skip(1).step_by(2) {
            assert_eq!(arena.get(*h), Some(&(h.index() as i32)));
        }
    }

    #[test]
    fn next_occupied_walks_and_survives_changes() {
        let mut arena = Arena::new();
        let handles: Vec<_> = (0..10).map(|i| arena.insert(i)).collect();
        assert_eq!(arena.next_occupied(0), Some((handles[0], &0)));
        assert_eq!(arena.next_occupied(10), None);
        assert_eq!(arena.next_occupied(usize::MAX), None);

        // Walk while replacing every value seen: the new values reuse slots
        // behind the cursor, and every original value is seen exactly once.
        let (mut cursor, mut seen) = (0, Vec::new());
        while let Some((h, &v)) = arena.next_occupied(cursor) {
            seen.push(v);
            cursor = h.index() + 1;
            arena.remove(h);
            assert_eq!(arena.insert(v + 100), h);
        }
        assert_eq!(seen, (0..10).collect::<Vec<_>>());

        // Removing values ahead of the cursor only skips those.
        let (mut cursor, mut seen) = (0, Vec::new());
        while let Some((h, &v)) = arena.next_occupied(cursor) {
            seen.push(v);
            cursor = h.index() + 1;
            arena.remove(Handle::from_index(cursor + 1).unwrap());
        }
        assert_eq!(seen, [100, 101, 104, 105, 108, 109]);
    }

    #[test]
    fn clear_and_shrink_reset_the_walk() {
        let mut arena = Arena::with_capacity(8);
        assert!(arena.capacity() >= 8);
        let a = arena.insert('a');
        let b = arena.insert('b');
        arena.remove(b);
        arena.shrink_to_fit();
        assert_eq!(arena.next_occupied(1), None);
        assert_eq!(arena.insert('c'), b);
        arena.clear();
        assert!(arena.is_empty());
        assert_eq!(arena.next_occupied(0), None);
        assert_eq!(arena.insert('d'), a);
    }

    #[test]
    fn iterators_yield_handles_in_slot_order() {
        let mut arena = Arena::new();
        for c in ['a', 'b', 'c'] {
            arena.insert(c);
        }
        arena.remove(Handle::from_index(1).unwrap());
        for (_, v) in &mut arena {
            *v = v.to_ascii_uppercase();
        }
        let all: Vec<_> = arena.iter().map(|(h, v)| (h.index(), *v)).collect();
        assert_eq!(all, [(0, 'A'), (2, 'C')]);
        assert_eq!(arena.iter().len(), 2);
        assert_eq!(arena.iter().next_back().map(|(_, v)| *v), Some('C'));
        assert_eq!(format!("{arena:?}"), "{Handle(0): 'A', Handle(2): 'C'}");
    }
}
