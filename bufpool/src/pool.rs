//! A bounded, lock-free pool of [`BytesMut`] buffers in size classes.
//!
//! [`BufferPool::get`] hands out a [`PooledBuf`]: a buffer taken from the
//! smallest size class that fits the request, or freshly allocated when that
//! class is empty. Dropping the `PooledBuf` gives the buffer back, cleared, to
//! its class. Each class is a fixed-size [`ArrayQueue`], so the memory a pool
//! keeps is bounded by `capacity_bytes * max_buffers` summed over its classes
//! (at most twice that, since a returned buffer may have grown up to twice
//! its class capacity).
//!
//! # Ownership
//!
//! A buffer lives either in exactly one queue or in exactly one `PooledBuf`:
//! popping moves it out of the queue and pushing moves it in. Two live
//! `PooledBuf`s therefore never share an allocation, and nothing a user
//! writes is visible to, or overwritten by, another user.

use std::fmt;
use std::mem;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use bytes::BytesMut;
use crossbeam_queue::ArrayQueue;

/// The configuration of one size class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassConfig {
    /// The capacity of the buffers this class hands out, in bytes.
    pub capacity_bytes: usize,
    /// The most buffers this class keeps for reuse, in buffers.
    pub max_buffers: usize,
}

/// The configuration of a [`BufferPool`]: its size classes.
///
/// The default has four classes, each keeping up to 4 MiB:
///
/// | `capacity_bytes` | `max_buffers` |
/// |---|---|
/// | 4 KiB | 1024 |
/// | 16 KiB | 256 |
/// | 64 KiB | 64 |
/// | 256 KiB | 16 |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The size classes, in any order; [`BufferPool::new`] sorts them by
    /// capacity. An empty list makes every request unpooled.
    pub classes: Vec<ClassConfig>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        const KIB: usize = 1024;
        let class = |capacity_bytes, max_buffers| ClassConfig {
            capacity_bytes,
            max_buffers,
        };
        PoolConfig {
            classes: vec![
                class(4 * KIB, 1024),
                class(16 * KIB, 256),
                class(64 * KIB, 64),
                class(256 * KIB, 16),
            ],
        }
    }
}

/// A snapshot of a pool's counters.
///
/// The counters are read one by one without a common lock, so a snapshot
/// taken while other threads use the pool may be slightly inconsistent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Requests served by a buffer taken from a class, in requests.
    pub hits: u64,
    /// Requests served by a fresh allocation, in requests, including the
    /// `unpooled` ones.
    pub misses: u64,
    /// Requests larger than the largest class, in requests. Their buffers
    /// are allocated with exactly the requested capacity and freed on drop.
    pub unpooled: u64,
    /// Buffers given back and kept by their class, in buffers.
    pub returns: u64,
    /// Buffers given back but freed because their class was full, in buffers.
    pub dropped_full: u64,
    /// Buffers given back but freed because they had grown past twice their
    /// class capacity, in buffers.
    pub dropped_oversize: u64,
    /// Buffers given back but freed because their capacity had shrunk below
    /// their class capacity (for example after `split_to` while the split
    /// part was still alive), in buffers.
    pub dropped_undersize: u64,
    /// The capacity of all buffers currently kept in the classes, in bytes.
    pub bytes_held: u64,
}

impl PoolStats {
    /// All buffers given back but freed instead of kept, in buffers.
    pub fn dropped(&self) -> u64 {
        self.dropped_full + self.dropped_oversize + self.dropped_undersize
    }
}

/// A bounded, lock-free pool of [`BytesMut`] buffers in size classes.
///
/// Cloning is cheap (an `Arc` increment); clones share the same classes and
/// counters. See the [module docs](self) for how buffers move.
///
/// # Examples
///
/// ```
/// use bufpool::BufferPool;
///
/// let pool = BufferPool::default();
///
/// let mut buf = pool.get(1000); // served by the 4 KiB class
/// assert!(buf.capacity() >= 4096);
/// buf.extend_from_slice(b"+OK\r\n");
/// assert_eq!(&buf[..], b"+OK\r\n");
/// drop(buf); // cleared and kept by the 4 KiB class
///
/// let buf = pool.get(4096); // the same buffer again, empty
/// assert!(buf.is_empty());
///
/// let stats = pool.stats();
/// assert_eq!((stats.misses, stats.hits, stats.returns), (1, 1, 1));
/// ```
#[derive(Clone)]
pub struct BufferPool {
    inner: Arc<Inner>,
}

struct Inner {
    /// Sorted by ascending capacity, capacities distinct.
    classes: Box<[Class]>,
    counters: Counters,
}

struct Class {
    capacity: usize,
    queue: ArrayQueue<BytesMut>,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    unpooled: AtomicU64,
    returns: AtomicU64,
    dropped_full: AtomicU64,
    dropped_oversize: AtomicU64,
    dropped_undersize: AtomicU64,
    bytes_held: AtomicU64,
}

impl BufferPool {
    /// Creates an empty pool with the given size classes.
    ///
    /// No buffer is allocated up front: classes fill as buffers are given
    /// back.
    ///
    /// # Panics
    ///
    /// Panics if a class has `capacity_bytes == 0` or `max_buffers == 0`, or
    /// if two classes have the same `capacity_bytes`.
    pub fn new(config: PoolConfig) -> BufferPool {
        let mut classes = config.classes;
        classes.sort_by_key(|c| c.capacity_bytes);
        for (i, c) in classes.iter().enumerate() {
            assert!(c.capacity_bytes > 0, "size class with capacity_bytes 0");
            assert!(
                c.max_buffers > 0,
                "size class {} with max_buffers 0",
                c.capacity_bytes
            );
            assert!(
                i == 0 || classes[i - 1].capacity_bytes != c.capacity_bytes,
                "two size classes with capacity_bytes {}",
                c.capacity_bytes
            );
        }
        let classes = classes
            .into_iter()
            .map(|c| Class {
                capacity: c.capacity_bytes,
                queue: ArrayQueue::new(c.max_buffers),
            })
            .collect();
        BufferPool {
            inner: Arc::new(Inner {
                classes,
                counters: Counters::default(),
            }),
        }
    }

    /// Takes an empty buffer with a capacity of at least `min_capacity_bytes`.
    ///
    /// The buffer comes from the smallest class whose capacity is at least
    /// `min_capacity_bytes`: a kept buffer if there is one (a hit), else a
    /// fresh one with the class capacity (a miss). A request larger than the
    /// largest class allocates a buffer of exactly `min_capacity_bytes`,
    /// counted as a miss and as unpooled, and freed rather than kept on drop.
    pub fn get(&self, min_capacity_bytes: usize) -> PooledBuf {
        let inner = &self.inner;
        let counters = &inner.counters;
        let Some(class) = inner
            .classes
            .iter()
            .position(|c| c.capacity >= min_capacity_bytes)
        else {
            counters.misses.fetch_add(1, Relaxed);
            counters.unpooled.fetch_add(1, Relaxed);
            return PooledBuf {
                buf: BytesMut::with_capacity(min_capacity_bytes),
                home: None,
            };
        };
        let buf = match inner.classes[class].queue.pop() {
            Some(buf) => {
                counters.hits.fetch_add(1, Relaxed);
                counters
                    .bytes_held
                    .fetch_sub(buf.capacity() as u64, Relaxed);
                buf
            }
            None => {
                counters.misses.fetch_add(1, Relaxed);
                BytesMut::with_capacity(inner.classes[class].capacity)
            }
        };
        PooledBuf {
            buf,
            home: Some((Arc::clone(inner), class)),
        }
    }

    /// Returns a snapshot of the pool's counters.
    pub fn stats(&self) -> PoolStats {
        let c = &self.inner.counters;
        PoolStats {
            hits: c.hits.load(Relaxed),
            misses: c.misses.load(Relaxed),
            unpooled: c.unpooled.load(Relaxed),
            returns: c.returns.load(Relaxed),
            dropped_full: c.dropped_full.load(Relaxed),
            dropped_oversize: c.dropped_oversize.load(Relaxed),
            dropped_undersize: c.dropped_undersize.load(Relaxed),
            bytes_held: c.bytes_held.load(Relaxed),
        }
    }
}

impl Default for BufferPool {
    /// Creates a pool with [`PoolConfig::default`].
    fn default() -> Self {
        BufferPool::new(PoolConfig::default())
    }
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let classes: Vec<_> = self.inner.classes.iter().map(|c| c.capacity).collect();
        f.debug_struct("BufferPool")
            .field("classes", &classes)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Inner {
    /// Keeps `buf` in class `class` if it fits there, else frees it.
    fn give_back(&self, class: usize, mut buf: BytesMut) {
        let counters = &self.counters;
        let capacity = self.classes[class].capacity;
        buf.clear();
        // Regain the space in front of the view (left by `advance` or
        // `split_to`) when no other handle shares the allocation; never
        // allocates. If it fails, the capacity check below decides.
        let _ = buf.try_reclaim(capacity);
        let held = buf.capacity();
        if held < capacity {
            counters.dropped_undersize.fetch_add(1, Relaxed);
            return;
        }
        if held > capacity.saturating_mul(2) {
            counters.dropped_oversize.fetch_add(1, Relaxed);
            return;
        }
        // Count before pushing, so that a pop on another thread can never
        // subtract before this adds (the queue orders push before pop).
        counters.bytes_held.fetch_add(held as u64, Relaxed);
        match self.classes[class].queue.push(buf) {
            Ok(()) => {
                counters.returns.fetch_add(1, Relaxed);
            }
            Err(_full) => {
                counters.bytes_held.fetch_sub(held as u64, Relaxed);
                counters.dropped_full.fetch_add(1, Relaxed);
            }
        }
    }
}

/// A buffer taken from a [`BufferPool`], given back when dropped.
///
/// Dereferences to [`BytesMut`], so it reads and grows like one; use
/// `&mut *buf` where an `impl BufMut` is expected. On drop the buffer is
/// cleared and kept by its class if its capacity lies within one to two
/// times the class capacity and the class has room; otherwise it is freed.
/// [`PooledBuf::into_inner`] keeps the buffer instead.
///
/// # Examples
///
/// ```
/// use bufpool::BufferPool;
/// use bytes::BufMut;
///
/// let pool = BufferPool::default();
/// let mut buf = pool.get(16);
/// (&mut *buf).put_slice(b"$3\r\nfoo\r\n");
/// assert_eq!(buf.as_ref(), b"$3\r\nfoo\r\n");
///
/// let frozen = buf.into_inner().freeze(); // detached: never given back
/// assert_eq!(frozen.len(), 9);
/// assert_eq!(pool.stats().returns, 0);
/// ```
pub struct PooledBuf {
    buf: BytesMut,
    /// The pool and class to give the buffer back to; `None` for unpooled
    /// and detached buffers.
    home: Option<(Arc<Inner>, usize)>,
}

impl PooledBuf {
    /// Detaches the buffer from its pool and returns it; it will not be
    /// given back.
    pub fn into_inner(mut self) -> BytesMut {
        self.home = None;
        mem::take(&mut self.buf)
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if let Some((inner, class)) = self.home.take() {
            inner.give_back(class, mem::take(&mut self.buf));
        }
    }
}

impl Deref for PooledBuf {
    type Target = BytesMut;

    fn deref(&self) -> &BytesMut {
        &self.buf
    }
}

impl DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl AsMut<[u8]> for PooledBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }
}

impl fmt::Debug for PooledBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = self
            .home
            .as_ref()
            .map(|(inner, class)| inner.classes[*class].capacity);
        f.debug_struct("PooledBuf")
            .field("len", &self.buf.len())
            .field("capacity", &self.buf.capacity())
            .field("class_capacity", &class)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_pool(max_buffers: usize) -> BufferPool {
        BufferPool::new(PoolConfig {
            classes: vec![
                ClassConfig {
                    capacity_bytes: 1024,
                    max_buffers,
                },
                ClassConfig {
                    capacity_bytes: 64,
                    max_buffers,
                },
            ],
        })
    }

    #[test]
    fn is_send_sync_and_buf_is_send() {
        fn assert_send_sync<T: Send + Sync>() {}
        fn assert_send<T: Send>() {}
        assert_send_sync::<BufferPool>();
        assert_send::<PooledBuf>();
    }

    #[test]
    fn picks_smallest_class_that_fits() {
        let pool = small_pool(4);
        assert_eq!(pool.get(0).capacity(), 64);
        assert_eq!(pool.get(64).capacity(), 64);
        assert_eq!(pool.get(65).capacity(), 1024);
        assert_eq!(pool.get(1024).capacity(), 1024);
    }

    #[test]
    fn miss_then_return_then_hit() {
        let pool = small_pool(4);
        let mut buf = pool.get(10);
        buf.extend_from_slice(b"hello");
        let ptr = buf.as_ptr();
        assert_eq!(pool.stats().misses, 1);
        drop(buf);
        let stats = pool.stats();
        assert_eq!((stats.returns, stats.bytes_held), (1, 64));

        let buf = pool.get(10);
        assert!(buf.is_empty(), "a returned buffer comes back cleared");
        assert_eq!(buf.as_ptr(), ptr, "the same allocation is reused");
        let stats = pool.stats();
        assert_eq!((stats.hits, stats.misses, stats.bytes_held), (1, 1, 0));
    }

    #[test]
    fn full_class_drops() {
        let pool = small_pool(2);
        let bufs: Vec<_> = (0..3).map(|_| pool.get(1)).collect();
        drop(bufs);
        let stats = pool.stats();
        assert_eq!((stats.returns, stats.dropped_full), (2, 1));
        assert_eq!(stats.bytes_held, 128);
        assert_eq!(stats.dropped(), 1);
    }

    #[test]
    fn oversize_is_dropped_but_up_to_twice_is_kept() {
        let pool = small_pool(4);
        let mut buf = pool.get(64);
        buf.reserve(1000); // grows far past 2 x 64
        assert!(buf.capacity() > 128);
        drop(buf);
        let stats = pool.stats();
        assert_eq!((stats.returns, stats.dropped_oversize), (0, 1));
        assert_eq!(stats.bytes_held, 0);

        let pool = small_pool(4);
        let mut buf = pool.get(64);
        buf.extend_from_slice(&[7; 100]); // grows, but at most to 2 x 64
        let capacity = buf.capacity();
        assert!((64..=128).contains(&capacity), "{capacity}");
        drop(buf);
        assert_eq!(pool.stats().returns, 1);
        assert_eq!(pool.stats().bytes_held, capacity as u64);
    }

    #[test]
    fn split_buffer_is_dropped_while_shared_and_reclaimed_after() {
        let pool = small_pool(4);
        let mut buf = pool.get(64);
        buf.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        let frame = buf.split_to(4).freeze();
        drop(buf); // `frame` still shares the allocation
        assert_eq!(pool.stats().dropped_undersize, 1);
        assert_eq!(&frame[..], b"*1\r\n");

        let mut buf = pool.get(64);
        buf.extend_from_slice(b"+OK\r\n");
        drop(buf.split_to(5)); // the split part is gone: reclaimable
        drop(buf);
        let stats = pool.stats();
        assert_eq!((stats.returns, stats.bytes_held), (1, 64));
    }

    #[test]
    fn unpooled_request_is_exact_and_not_kept() {
        let pool = small_pool(4);
        let buf = pool.get(5000);
        assert_eq!(buf.capacity(), 5000);
        drop(buf);
        let stats = pool.stats();
        assert_eq!((stats.misses, stats.unpooled), (1, 1));
        assert_eq!(
            (stats.returns, stats.dropped(), stats.bytes_held),
            (0, 0, 0)
        );
    }

    #[test]
    fn into_inner_detaches() {
        let pool = small_pool(4);
        let mut buf = pool.get(1);
        buf.extend_from_slice(b"x");
        let inner = buf.into_inner();
        assert_eq!(&inner[..], b"x");
        drop(inner);
        assert_eq!(
            pool.stats(),
            PoolStats {
                misses: 1,
                ..PoolStats::default()
            }
        );
    }

    #[test]
    fn empty_config_makes_everything_unpooled() {
        let pool = BufferPool::new(PoolConfig { classes: vec![] });
        drop(pool.get(0));
        assert_eq!(pool.stats().unpooled, 1);
        assert_eq!(pool.stats().returns, 0);
    }

    #[test]
    #[should_panic(expected = "two size classes with capacity_bytes 64")]
    fn duplicate_classes_panic() {
        let class = ClassConfig {
            capacity_bytes: 64,
            max_buffers: 1,
        };
        BufferPool::new(PoolConfig {
            classes: vec![class, class],
        });
    }

    #[test]
    #[should_panic(expected = "max_buffers 0")]
    fn zero_max_buffers_panics() {
        BufferPool::new(PoolConfig {
            classes: vec![ClassConfig {
                capacity_bytes: 64,
                max_buffers: 0,
            }],
        });
    }

    #[test]
    fn debug_shows_shape_not_contents() {
        let pool = small_pool(1);
        let mut buf = pool.get(1);
        buf.extend_from_slice(b"secret");
        let shown = format!("{buf:?}");
        assert_eq!(
            shown,
            "PooledBuf { len: 6, capacity: 64, class_capacity: Some(64) }"
        );
        assert!(format!("{pool:?}").contains("classes: [64, 1024]"));
    }
}
