//! The few synchronization primitives whose interleavings matter, in one
//! place so that `--cfg loom` builds can swap them for loom's models.
//!
//! - [`Published`]: a value published by atomic pointer swap. Normally an
//!   [`arc_swap::ArcSwap`]: a reader loads the current `Arc` without a lock
//!   and without touching a shared reference count. Under loom it is modeled
//!   as a `loom::sync::RwLock<Arc<T>>`, which has the same linearizable
//!   load/store semantics, so that the model checks our publication protocol
//!   (serialized writers, growing versions, whole snapshots), not arc-swap's
//!   internals (arc-swap has its own tests).
//! - [`Mutex`]: `parking_lot::Mutex`, or loom's mutex.
//! - [`AtomicUsize`]: std's, or loom's.
//!
//! Under loom, `dashmap` is not modeled: each of its operations runs without
//! a loom yield point inside, so the model treats it as linearizable.

use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};

/// A value readers load without locking and writers replace whole.
pub(crate) struct Published<T> {
    #[cfg(not(loom))]
    inner: arc_swap::ArcSwap<T>,
    #[cfg(loom)]
    inner: loom::sync::RwLock<Arc<T>>,
}

impl<T> Published<T> {
    /// Publishes `value` as the first version.
    pub(crate) fn new(value: Arc<T>) -> Self {
        Self {
            #[cfg(not(loom))]
            inner: arc_swap::ArcSwap::new(value),
            #[cfg(loom)]
            inner: loom::sync::RwLock::new(value),
        }
    }

    /// Calls `f` on the current value. arc-swap's guard borrows the value
    /// through its debt list, so no reference count is written.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Arc<T>) -> R) -> R {
        #[cfg(not(loom))]
        {
            let guard = self.inner.load();
            f(&guard)
        }
        #[cfg(loom)]
        {
            let value = Arc::clone(&self.inner.read().unwrap());
            f(&value)
        }
    }

    /// Returns an owned handle on the current value (one reference count
    /// increment).
    #[inline]
    pub(crate) fn load_full(&self) -> Arc<T> {
        #[cfg(not(loom))]
        {
            self.inner.load_full()
        }
        #[cfg(loom)]
        {
            Arc::clone(&self.inner.read().unwrap())
        }
    }

    /// Replaces the current value; readers that loaded the old one keep it.
    pub(crate) fn store(&self, value: Arc<T>) {
        #[cfg(not(loom))]
        {
            self.inner.store(value);
        }
        #[cfg(loom)]
        {
            *self.inner.write().unwrap() = value;
        }
    }
}

/// A reader's private cache of a [`Published`] value: checking that the
/// value is still current costs one atomic load (arc-swap's `Cache`); a new
/// version costs one reference-count increment, once.
pub(crate) struct PublishedCache<'a, T> {
    #[cfg(not(loom))]
    inner: arc_swap::Cache<&'a arc_swap::ArcSwap<T>, Arc<T>>,
    #[cfg(loom)]
    source: &'a Published<T>,
    #[cfg(loom)]
    cached: Arc<T>,
}

impl<'a, T> PublishedCache<'a, T> {
    /// A cache of `source`, holding its current value.
    pub(crate) fn new(source: &'a Published<T>) -> Self {
        #[cfg(not(loom))]
        {
            Self {
                inner: arc_swap::Cache::new(&source.inner),
            }
        }
        #[cfg(loom)]
        {
            Self {
                source,
                cached: source.load_full(),
            }
        }
    }

    /// The current value (refreshing the cache if a newer one was stored).
    #[inline]
    pub(crate) fn load(&mut self) -> &Arc<T> {
        #[cfg(not(loom))]
        {
            self.inner.load()
        }
        #[cfg(loom)]
        {
            self.cached = self.source.load_full();
            &self.cached
        }
    }
}

/// A mutual-exclusion lock (parking_lot's, or loom's model of one).
pub(crate) struct Mutex<T> {
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex around `value`.
    pub(crate) fn new(value: T) -> Self {
        Self {
            #[cfg(not(loom))]
            inner: parking_lot::Mutex::new(value),
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
        }
    }

    /// Runs `f` with the lock held.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(not(loom))]
        {
            f(&mut self.inner.lock())
        }
        #[cfg(loom)]
        {
            f(&mut self.inner.lock().unwrap())
        }
    }
}
