//! [`ZeroCopyBuffer`]: many archived messages in one aligned buffer, and
//! [`ZeroCopyPool`], a bounded pool of them on top of [`bufpool`].

use std::fmt;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::ops::{Deref, DerefMut, Range};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use bufpool::{BufferPool, ClassConfig, PoolConfig, PooledBuf};
use bytes::BytesMut;

use crate::archive::{self, Archivable, ALIGN, DEFAULT_MAX_DEPTH};
use crate::{CodecKind, Error, Result};

/// The bytes behind a buffer: owned, or leased from a [`ZeroCopyPool`].
enum Storage {
    Owned(BytesMut),
    /// Field order matters: the buffer goes back to bufpool before the
    /// lease wakes a waiter.
    Pooled {
        buf: PooledBuf,
        _lease: Lease,
    },
}

impl Deref for Storage {
    type Target = BytesMut;
    fn deref(&self) -> &BytesMut {
        match self {
            Storage::Owned(b) => b,
            Storage::Pooled { buf, .. } => buf,
        }
    }
}

impl DerefMut for Storage {
    fn deref_mut(&mut self) -> &mut BytesMut {
        match self {
            Storage::Owned(b) => b,
            Storage::Pooled { buf, .. } => buf,
        }
    }
}

/// Many rkyv archives of `T`, each starting 16-byte aligned in one buffer.
///
/// A message is checked once, when it enters: [`ZeroCopyBuffer::append`]
/// serializes it in place (the serializer's own output needs no check), and
/// [`ZeroCopyBuffer::append_archive`] copies received bytes in and validates
/// them. After that, [`ZeroCopyBuffer::get`] returns `&T::Archived` without
/// copying, allocating or validating again. [`ZeroCopyBuffer::clear`] empties
/// it and keeps the memory.
///
/// Layout: the first `base` bytes (0 to 15) are filler so that byte `base`
/// sits at a 16-byte-aligned address; messages follow, each padded to a
/// multiple of 16 bytes. When the buffer grows and the allocator hands back
/// memory of a different alignment, the contents are moved back into
/// alignment.
///
/// # Examples
///
/// ```
/// use codec::{ChatMessage, ZeroCopyBuffer};
///
/// let mut buf = ZeroCopyBuffer::<ChatMessage>::new();
/// for i in 0..3u64 {
///     buf.append(&ChatMessage::new(&i.to_string(), "hi", i, "ann", "lobby")).unwrap();
/// }
/// assert_eq!(buf.get(2).unwrap().timestamp, 2);
/// assert_eq!(buf.iter().map(|m| m.timestamp.to_native()).sum::<u64>(), 3);
/// buf.clear();
/// assert!(buf.is_empty());
/// ```
pub struct ZeroCopyBuffer<T> {
    data: Storage,
    /// Offset of the first aligned byte in `data`.
    base: usize,
    /// Each message's byte range, relative to `base`.
    entries: Vec<Range<usize>>,
    max_depth: Option<NonZeroUsize>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Archivable> Default for ZeroCopyBuffer<T> {
    fn default() -> Self {
        ZeroCopyBuffer::new()
    }
}

impl<T> fmt::Debug for ZeroCopyBuffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZeroCopyBuffer")
            .field("messages", &self.entries.len())
            .field("bytes", &(self.data.len() - self.base))
            .field("pooled", &matches!(self.data, Storage::Pooled { .. }))
            .finish()
    }
}

/// Bytes to add to `ptr` to reach a 16-byte boundary.
fn pad_for(ptr: *const u8) -> usize {
    (ALIGN - (ptr as usize) % ALIGN) % ALIGN
}

impl<T: Archivable> ZeroCopyBuffer<T> {
    /// Creates an empty buffer (allocates on the first append).
    pub fn new() -> Self {
        ZeroCopyBuffer::with_capacity(0)
    }

    /// Creates an empty buffer with room for `bytes` bytes of messages.
    pub fn with_capacity(bytes: usize) -> Self {
        Self::from_storage(
            Storage::Owned(BytesMut::with_capacity(bytes + ALIGN)),
            DEFAULT_MAX_DEPTH,
        )
    }

    fn from_storage(data: Storage, max_depth: usize) -> Self {
        let mut buf = ZeroCopyBuffer {
            data,
            base: 0,
            entries: Vec::new(),
            max_depth: NonZeroUsize::new(max_depth),
            _t: PhantomData,
        };
        buf.clear();
        buf
    }

    /// Returns the number of messages.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns true when the buffer holds no message.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns the bytes the messages take, padding included.
    pub fn byte_len(&self) -> usize {
        self.data.len() - self.base
    }

    /// Returns true when the buffer came from a [`ZeroCopyPool`].
    pub fn is_pooled(&self) -> bool {
        matches!(self.data, Storage::Pooled { .. })
    }

    /// Removes every message; keeps the memory.
    pub fn clear(&mut self) {
        self.data.clear();
        self.entries.clear();
        self.base = 0;
        self.realign();
    }

    /// Moves the contents so that byte `base` is 16-byte aligned again,
    /// after a reallocation (or on an empty buffer) changed the address.
    fn realign(&mut self) {
        loop {
            let want = pad_for(self.data.as_ptr());
            if want == self.base && self.data.len() >= want {
                return;
            }
            if self.data.capacity() - self.data.len() < ALIGN {
                self.data.reserve(ALIGN);
                continue; // the address may have changed again
            }
            let used = self.data.len() - self.base;
            let len = self.data.len();
            if want > self.base {
                self.data.resize(len + (want - self.base), 0); // within capacity: no move
            }
            self.data.copy_within(self.base..self.base + used, want);
            self.data.truncate(want + used);
            self.base = want;
        }
    }

    /// Pads the end to a 16-byte boundary; returns the length before.
    fn pad_end(&mut self) -> usize {
        let before = self.data.len();
        let pad = (ALIGN - (before - self.base) % ALIGN) % ALIGN;
        self.data.resize(before + pad, 0);
        before
    }

    /// Serializes `value` at the end of the buffer; returns its index.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] when rkyv cannot archive the value (the buffer is
    /// left as it was).
    pub fn append(&mut self, value: &T) -> Result<usize> {
        let before = self.pad_end();
        let start = self.data.len() - self.base;
        if let Err(e) = archive::archive_into(value, &mut *self.data) {
            self.data.truncate(before);
            return Err(Error::Encode {
                codec: CodecKind::Rkyv,
                source: Box::new(e),
            });
        }
        self.realign();
        let end = self.data.len() - self.base;
        self.entries.push(start..end);
        Ok(self.entries.len() - 1)
    }

    /// Copies a received archive of `T` (e.g. [`RkyvCodec`] output or a
    /// [`HybridCodec`] payload) to the end of the buffer, validates it, and
    /// returns its index.
    ///
    /// [`RkyvCodec`]: crate::RkyvCodec
    /// [`HybridCodec`]: crate::HybridCodec
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when validation fails (the buffer is left as it
    /// was).
    pub fn append_archive(&mut self, bytes: &[u8]) -> Result<usize> {
        let before = self.pad_end();
        let start = self.data.len() - self.base;
        self.data.extend_from_slice(bytes);
        self.realign();
        let range = self.base + start..self.data.len();
        if let Err(e) = archive::validate::<T::Archived>(&self.data[range], self.max_depth) {
            self.data.truncate(before);
            return Err(archive::invalid(CodecKind::Rkyv, 0, e));
        }
        let end = self.data.len() - self.base;
        self.entries.push(start..end);
        Ok(self.entries.len() - 1)
    }

    /// Returns the archived message at `index`, or `None` past the end.
    /// Reads in place: no copy, no allocation, no validation.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&T::Archived> {
        let range = self.entries.get(index)?;
        Some(self.view(range))
    }

    #[inline]
    fn view(&self, range: &Range<usize>) -> &T::Archived {
        let bytes = &self.data[self.base + range.start..self.base + range.end];
        // SAFETY: `range` was pushed by `append`, whose bytes are rkyv's own
        // serializer output for a `T`, or by `append_archive`, which
        // validated exactly these bytes as a `T::Archived` before pushing.
        // Since then the bytes were only ever moved as a whole by `realign`,
        // which keeps them 16-byte aligned at `base` (rkyv laid them out
        // relative to that alignment), and `clear` drops every range with the
        // bytes. `&self` prevents mutation while the reference lives.
        unsafe { rkyv::access_unchecked::<T::Archived>(bytes) }
    }

    /// Iterates over the archived messages in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &T::Archived> + '_ {
        self.entries.iter().map(|r| self.view(r))
    }
}

/// What [`ZeroCopyPool::get`] does when every buffer is handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExhausted {
    /// Return [`Error::PoolExhausted`].
    Error,
    /// Block the calling thread until a buffer is given back.
    Wait,
}

/// The configuration of a [`ZeroCopyPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZeroCopyPoolConfig {
    /// The most buffers handed out at once (and kept for reuse).
    pub max_buffers: usize,
    /// The initial capacity of each buffer, in bytes.
    pub buffer_capacity: usize,
    /// What `get` does when every buffer is handed out.
    pub on_exhausted: OnExhausted,
    /// Nesting limit for validating appended archives, in levels.
    pub max_depth: usize,
}

impl Default for ZeroCopyPoolConfig {
    /// 64 buffers of 64 KiB, failing when exhausted.
    fn default() -> Self {
        ZeroCopyPoolConfig {
            max_buffers: 64,
            buffer_capacity: 64 << 10,
            on_exhausted: OnExhausted::Error,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

struct PoolShared {
    bufs: BufferPool,
    in_use: Mutex<usize>,
    freed: Condvar,
    config: ZeroCopyPoolConfig,
}

/// A handed-out buffer's claim on the pool; gives it back when dropped.
struct Lease(Arc<PoolShared>);

impl Drop for Lease {
    fn drop(&mut self) {
        let mut in_use = self.0.in_use.lock().unwrap_or_else(PoisonError::into_inner);
        *in_use -= 1;
        drop(in_use);
        self.0.freed.notify_one();
    }
}

/// A bounded pool of [`ZeroCopyBuffer`]s whose memory comes from a
/// [`bufpool::BufferPool`].
///
/// Each buffer handed out is owned by exactly one user until dropped: its
/// bytes are a [`PooledBuf`] that bufpool never shares, and at most
/// `max_buffers` are out at once. (The design note's pool handed "the
/// oldest buffer" to a second user when full; this one fails or waits.)
///
/// # Examples
///
/// ```
/// use codec::{ChatMessage, Error, ZeroCopyPool, ZeroCopyPoolConfig};
///
/// let pool = ZeroCopyPool::<ChatMessage>::new(ZeroCopyPoolConfig { max_buffers: 1, ..Default::default() });
/// let mut buf = pool.get().unwrap();
/// buf.append(&ChatMessage::new("1", "hi", 1, "ann", "lobby")).unwrap();
/// assert!(matches!(pool.get(), Err(Error::PoolExhausted { capacity: 1 })));
/// drop(buf);
/// assert!(pool.get().unwrap().is_empty());
/// ```
pub struct ZeroCopyPool<T> {
    shared: Arc<PoolShared>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for ZeroCopyPool<T> {
    fn clone(&self) -> Self {
        ZeroCopyPool {
            shared: Arc::clone(&self.shared),
            _t: PhantomData,
        }
    }
}

impl<T> fmt::Debug for ZeroCopyPool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZeroCopyPool")
            .field("config", &self.shared.config)
            .field("in_use", &self.in_use())
            .finish()
    }
}

impl<T> ZeroCopyPool<T> {
    /// Creates a pool; buffers are allocated on first use.
    pub fn new(config: ZeroCopyPoolConfig) -> Self {
        let bufs = BufferPool::new(PoolConfig {
            classes: vec![ClassConfig {
                capacity_bytes: config.buffer_capacity + ALIGN,
                max_buffers: config.max_buffers,
            }],
        });
        ZeroCopyPool {
            shared: Arc::new(PoolShared {
                bufs,
                in_use: Mutex::new(0),
                freed: Condvar::new(),
                config,
            }),
            _t: PhantomData,
        }
    }

    /// Returns the number of buffers handed out now.
    pub fn in_use(&self) -> usize {
        *self
            .shared
            .in_use
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns bufpool's counters (hits are reused buffers).
    pub fn stats(&self) -> bufpool::PoolStats {
        self.shared.bufs.stats()
    }
}

impl<T: Archivable> ZeroCopyPool<T> {
    /// Hands out an empty buffer.
    ///
    /// # Errors
    ///
    /// [`Error::PoolExhausted`] when `max_buffers` are out and the pool is
    /// configured with [`OnExhausted::Error`]; with [`OnExhausted::Wait`]
    /// it blocks until one comes back instead.
    pub fn get(&self) -> Result<ZeroCopyBuffer<T>> {
        let shared = &self.shared;
        let max = shared.config.max_buffers;
        let mut in_use = shared.in_use.lock().unwrap_or_else(PoisonError::into_inner);
        while *in_use >= max {
            match shared.config.on_exhausted {
                OnExhausted::Error => return Err(Error::PoolExhausted { capacity: max }),
                OnExhausted::Wait => {
                    in_use = shared
                        .freed
                        .wait(in_use)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
        *in_use += 1;
        drop(in_use);
        let lease = Lease(Arc::clone(shared));
        let buf = shared.bufs.get(shared.config.buffer_capacity + ALIGN);
        Ok(ZeroCopyBuffer::from_storage(
            Storage::Pooled { buf, _lease: lease },
            shared.config.max_depth,
        ))
    }
}
