//! [`RkyvCodec`]: rkyv 0.8 archives, validated zero-copy access, owned
//! decoding; and the pieces the other rkyv-based types share.
//!
//! The archive format is rkyv's, with the workspace's pinned format features:
//! little-endian, aligned, 32-bit relative pointers. The root object sits at
//! the end of the archive; rkyv pads inside the archive so that each value
//! is aligned relative to the archive's start. Reading therefore needs the
//! archive to start at a 16-byte-aligned address; misaligned input is copied
//! into an aligned buffer first, and counted.

use std::fmt;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::ops::Deref;

use bytes::BytesMut;
use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::ser::{Positional, Writer};
use rkyv::util::AlignedVec;
use rkyv::validation::{archive::ArchiveValidator, shared::SharedValidator, Validator};
use rkyv::Archive;

use crate::{Codec, CodecKind, Error, Metrics, MetricsConfig, Result};

/// The alignment archives are read at, in bytes.
pub const ALIGN: usize = 16;

/// The default limit on the nesting of out-of-line values (strings, vectors,
/// boxes) that validation follows, in levels; it bounds the stack that
/// validating and decoding a recursive type like
/// [`JsonValue`](crate::JsonValue) uses. serde_json's default recursion
/// limit is 128 too.
pub const DEFAULT_MAX_DEPTH: usize = 128;

mod sealed {
    pub trait Sealed {}
    impl Sealed for Vec<u8> {}
    impl Sealed for bytes::BytesMut {}
}

/// A growable byte buffer rkyv can append an archive to: `Vec<u8>` and
/// [`BytesMut`].
pub trait Sink: sealed::Sealed {
    /// Returns the length in bytes.
    fn len(&self) -> usize;
    /// Returns true when the buffer is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends `bytes`.
    fn extend(&mut self, bytes: &[u8]);
    /// Shortens the buffer to `len` bytes.
    fn truncate(&mut self, len: usize);
}

impl Sink for Vec<u8> {
    #[inline]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    #[inline]
    fn extend(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}

impl Sink for BytesMut {
    #[inline]
    fn len(&self) -> usize {
        BytesMut::len(self)
    }
    #[inline]
    fn extend(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        BytesMut::truncate(self, len);
    }
}

/// An rkyv writer that appends to a [`Sink`] and reports positions relative
/// to where the archive starts, so that an archive appended after other
/// bytes is laid out exactly as if it stood alone.
pub struct Appender<'b, B: Sink> {
    buf: &'b mut B,
    base: usize,
}

impl<'b, B: Sink> Appender<'b, B> {
    /// Starts an archive at the current end of `buf`.
    pub fn new(buf: &'b mut B) -> Self {
        let base = buf.len();
        Appender { buf, base }
    }
}

impl<B: Sink> fmt::Debug for Appender<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Appender")
            .field("base", &self.base)
            .field("pos", &self.pos())
            .finish()
    }
}

impl<B: Sink> Positional for Appender<'_, B> {
    #[inline]
    fn pos(&self) -> usize {
        self.buf.len() - self.base
    }
}

impl<B: Sink, E> Writer<E> for Appender<'_, B> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> std::result::Result<(), E> {
        self.buf.extend(bytes);
        Ok(())
    }
}

/// The serializer rkyv uses to append to a `Vec<u8>`.
pub type VecSerializer<'a, 'b> =
    HighSerializer<Appender<'b, Vec<u8>>, ArenaHandle<'a>, rancor::Error>;
/// The serializer rkyv uses to append to a `BytesMut`.
pub type BytesSerializer<'a, 'b> =
    HighSerializer<Appender<'b, BytesMut>, ArenaHandle<'a>, rancor::Error>;

/// A type this crate can archive with rkyv, validate, and decode: anything
/// that derives rkyv's `Archive`, `Serialize` and `Deserialize` (with the
/// default `bytecheck` support of the workspace's rkyv).
///
/// Implemented for every such type; not meant to be implemented by hand.
pub trait Archivable:
    Archive<
        Archived: for<'a> rkyv::bytecheck::CheckBytes<HighValidator<'a, rancor::Error>>
                      + rkyv::Deserialize<Self, HighDeserializer<rancor::Error>>,
    > + for<'a, 'b> rkyv::Serialize<VecSerializer<'a, 'b>>
    + for<'a, 'b> rkyv::Serialize<BytesSerializer<'a, 'b>>
    + Sized
{
}

impl<T> Archivable for T where
    T: Archive<
            Archived: for<'a> rkyv::bytecheck::CheckBytes<HighValidator<'a, rancor::Error>>
                          + rkyv::Deserialize<T, HighDeserializer<rancor::Error>>,
        > + for<'a, 'b> rkyv::Serialize<VecSerializer<'a, 'b>>
        + for<'a, 'b> rkyv::Serialize<BytesSerializer<'a, 'b>>
{
}

/// Appends the archive of `value` to `out`; on error `out` keeps its length.
pub(crate) fn archive_into<T, B: Sink>(
    value: &T,
    out: &mut B,
) -> std::result::Result<(), rancor::Error>
where
    T: for<'a, 'b> rkyv::Serialize<HighSerializer<Appender<'b, B>, ArenaHandle<'a>, rancor::Error>>,
{
    let start = out.len();
    let result =
        rkyv::api::high::to_bytes_in::<_, rancor::Error>(value, Appender::new(out)).map(|_| ());
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// The capacity a codec's [`Codec::encode`] reserves for a new buffer: the
/// size of a recent encoding, so that encoding a message like the last one
/// allocates once instead of growing the buffer five times.
#[derive(Debug)]
pub(crate) struct SizeHint(std::sync::atomic::AtomicUsize);

impl Default for SizeHint {
    fn default() -> Self {
        SizeHint(std::sync::atomic::AtomicUsize::new(256))
    }
}

impl SizeHint {
    /// Bytes to reserve.
    #[inline]
    pub(crate) fn get(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notes an encoding of `n` bytes. The shared line is written only when
    /// the hint is too small or more than 4x too big (at most 1 MiB is
    /// reserved up front).
    #[inline]
    pub(crate) fn observe(&self, n: usize) {
        let hint = self.get();
        if n > hint || n.saturating_mul(4) < hint {
            self.0.store(
                n.next_power_of_two().min(1 << 20),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
    }
}

/// Returns true when `bytes` starts at an address archives can be read at.
#[inline]
pub(crate) fn is_aligned(bytes: &[u8]) -> bool {
    (bytes.as_ptr() as usize).is_multiple_of(ALIGN)
}

/// Validates `bytes` as an archive of `A` (which must start aligned), with
/// out-of-line nesting limited to `max_depth` levels.
#[inline]
pub(crate) fn validate<'a, A>(
    bytes: &'a [u8],
    max_depth: Option<NonZeroUsize>,
) -> std::result::Result<&'a A, rancor::Error>
where
    A: rkyv::Portable + for<'x> rkyv::bytecheck::CheckBytes<HighValidator<'x, rancor::Error>>,
{
    let mut validator = Validator::new(
        ArchiveValidator::with_max_depth(bytes, max_depth),
        SharedValidator::new(),
    );
    rkyv::api::access_with_context::<A, _, rancor::Error>(bytes, &mut validator)
}

/// Deserializes an archived value into an owned one.
#[inline]
pub(crate) fn deserialize<T: Archivable>(
    archived: &T::Archived,
) -> std::result::Result<T, rancor::Error> {
    rkyv::deserialize::<T, rancor::Error>(archived)
}

pub(crate) fn invalid(codec: CodecKind, offset: usize, e: rancor::Error) -> Error {
    Error::Invalid {
        codec,
        offset,
        source: Box::new(e),
    }
}

/// Copies `bytes` into a new 16-byte-aligned buffer.
pub(crate) fn aligned_copy(bytes: &[u8]) -> AlignedVec<ALIGN> {
    let mut copy = AlignedVec::<ALIGN>::with_capacity(bytes.len());
    copy.extend_from_slice(bytes);
    copy
}

/// A validated archived value: borrowed from the caller's input when it was
/// aligned, or owned in an aligned copy when it was not.
///
/// Dereferences to the archived type (`ArchivedChatMessage` for
/// `ChatMessage`, ...), whose fields read straight from the bytes.
///
/// # Examples
///
/// ```
/// use codec::{ChatMessage, Codec, RkyvCodec};
///
/// let rkyv = RkyvCodec::new();
/// let msg = ChatMessage::new("m1", "hello", 42, "ann", "lobby");
/// let bytes = rkyv.encode(&msg).unwrap();
/// let view = rkyv.access::<ChatMessage>(&bytes).unwrap();
/// assert_eq!(view.content, "hello");
/// assert_eq!(view.timestamp, 42);
/// ```
pub struct View<'a, A> {
    repr: Repr<'a, A>,
}

enum Repr<'a, A> {
    Borrowed(&'a A),
    /// Bytes validated as an `A` at construction; never mutated after.
    Copied(AlignedVec<ALIGN>, PhantomData<A>),
}

impl<'a, A> View<'a, A> {
    /// Wraps a reference into the caller's input.
    pub(crate) fn borrowed(archived: &'a A) -> View<'a, A> {
        View {
            repr: Repr::Borrowed(archived),
        }
    }

    /// Returns true when the input was misaligned and the view reads from a
    /// copy.
    pub fn is_copied(&self) -> bool {
        matches!(self.repr, Repr::Copied(..))
    }

    /// Returns the borrowed reference, or `None` for a copied view.
    pub fn as_borrowed(&self) -> Option<&'a A> {
        match self.repr {
            Repr::Borrowed(a) => Some(a),
            Repr::Copied(..) => None,
        }
    }
}

impl<A> View<'_, A>
where
    A: rkyv::Portable + for<'x> rkyv::bytecheck::CheckBytes<HighValidator<'x, rancor::Error>>,
{
    /// Validates `copy` as an `A` and keeps it.
    pub(crate) fn copied(
        copy: AlignedVec<ALIGN>,
        max_depth: Option<NonZeroUsize>,
    ) -> std::result::Result<Self, rancor::Error> {
        validate::<A>(&copy, max_depth)?;
        Ok(View {
            repr: Repr::Copied(copy, PhantomData),
        })
    }
}

impl<A: rkyv::Portable> Deref for View<'_, A> {
    type Target = A;

    #[inline]
    fn deref(&self) -> &A {
        match &self.repr {
            Repr::Borrowed(a) => a,
            // SAFETY: `View::copied` is the only constructor of `Copied`; it
            // validated exactly these bytes as an `A` (bytecheck: bounds,
            // alignment, UTF-8, enum tags, nested pointers) before storing
            // them, and the buffer is a private field never mutated
            // afterwards. Its heap storage does not move when the `View`
            // moves, and it is 16-byte aligned (`AlignedVec<16>`).
            Repr::Copied(bytes, _) => unsafe { rkyv::access_unchecked::<A>(bytes) },
        }
    }
}

impl<A: rkyv::Portable + fmt::Debug> fmt::Debug for View<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("View")
            .field("copied", &self.is_copied())
            .field("archived", &**self)
            .finish()
    }
}

/// Encodes with rkyv 0.8: the archive alone, no envelope.
///
/// [`RkyvCodec::access`] validates the bytes and returns a zero-copy view
/// borrowed from them; [`Codec::decode`] builds an owned value. Input at
/// any alignment is accepted: misaligned input is copied into an aligned
/// buffer (counted in [`MetricsSnapshot::misaligned_copies`]).
///
/// A bare archive has no framing: rkyv finds the root at the end of the
/// input, so a truncated or extended archive is read with its root
/// elsewhere. Validation rejects almost all such inputs, but a prefix can
/// happen to be a valid archive of a different value. Where truncation must
/// be detected (the network, files), use [`HybridCodec`](crate::HybridCodec),
/// whose envelope carries the length and a checksum.
///
/// [`MetricsSnapshot::misaligned_copies`]: crate::MetricsSnapshot::misaligned_copies
///
/// # Examples
///
/// ```
/// use codec::{ChatMessage, Codec, RkyvCodec};
///
/// let rkyv = RkyvCodec::new();
/// let msg = ChatMessage::new("m1", "hello", 1_700_000_000, "ann", "lobby");
/// let mut buf = Vec::new();
/// rkyv.encode_into(&msg, &mut buf).unwrap();
/// let back: ChatMessage = rkyv.decode(&buf).unwrap();
/// assert_eq!(back, msg);
/// ```
#[derive(Debug)]
pub struct RkyvCodec {
    metrics: Metrics,
    max_depth: Option<NonZeroUsize>,
    size_hint: SizeHint,
}

impl Default for RkyvCodec {
    fn default() -> Self {
        RkyvCodec::new()
    }
}

impl RkyvCodec {
    /// Creates a codec with default metrics and nesting limit
    /// ([`DEFAULT_MAX_DEPTH`]).
    pub fn new() -> RkyvCodec {
        RkyvCodec::with_config(MetricsConfig::default(), DEFAULT_MAX_DEPTH)
    }

    /// Creates a codec with the given metrics and nesting limit (in levels
    /// of out-of-line values; 0 means no limit, which lets a crafted
    /// recursive archive exhaust the stack: avoid it for outside bytes).
    pub fn with_config(metrics: MetricsConfig, max_depth: usize) -> RkyvCodec {
        RkyvCodec {
            metrics: Metrics::new(metrics),
            max_depth: NonZeroUsize::new(max_depth),
            size_hint: SizeHint::default(),
        }
    }

    /// Validates `bytes` as an archive of `T` and returns a view of it.
    ///
    /// Borrows from `bytes` when they start 16-byte aligned; otherwise
    /// copies them into an aligned buffer that the view owns.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when validation fails (offset 0: rkyv does not say
    /// where).
    #[inline]
    pub fn access<'a, T: Archivable>(&self, bytes: &'a [u8]) -> Result<View<'a, T::Archived>> {
        let op = self.metrics.start_decode(bytes.len());
        let result = access_archive::<T>(bytes, self.max_depth, &self.metrics, CodecKind::Rkyv);
        self.metrics.finish_decode(op, &result);
        result
    }
}

/// Validates an archive of `T` at any alignment.
#[inline]
pub(crate) fn access_archive<'a, T: Archivable>(
    bytes: &'a [u8],
    max_depth: Option<NonZeroUsize>,
    metrics: &Metrics,
    codec: CodecKind,
) -> Result<View<'a, T::Archived>> {
    if is_aligned(bytes) {
        validate::<T::Archived>(bytes, max_depth)
            .map(View::borrowed)
            .map_err(|e| invalid(codec, 0, e))
    } else {
        metrics.misaligned_copy();
        View::copied(aligned_copy(bytes), max_depth).map_err(|e| invalid(codec, 0, e))
    }
}

/// Validates and deserializes an archive of `T` at any alignment.
#[inline]
pub(crate) fn decode_archive<T: Archivable>(
    bytes: &[u8],
    max_depth: Option<NonZeroUsize>,
    metrics: &Metrics,
    codec: CodecKind,
) -> Result<T> {
    let decode = |aligned: &[u8]| {
        let archived = validate::<T::Archived>(aligned, max_depth)?;
        deserialize::<T>(archived)
    };
    let result = if is_aligned(bytes) {
        decode(bytes)
    } else {
        metrics.misaligned_copy();
        decode(&aligned_copy(bytes))
    };
    result.map_err(|e| invalid(codec, 0, e))
}

impl<T: Archivable> Codec<T> for RkyvCodec {
    fn kind(&self) -> CodecKind {
        CodecKind::Rkyv
    }

    fn content_type(&self) -> &'static str {
        "application/x-rkyv"
    }

    fn encode(&self, value: &T) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.size_hint.get());
        let n = self.encode_into(value, &mut out)?;
        self.size_hint.observe(n);
        Ok(out)
    }

    fn encode_into(&self, value: &T, out: &mut Vec<u8>) -> Result<usize> {
        let op = self.metrics.start_encode();
        let start = out.len();
        let result = archive_into(value, out)
            .map(|()| out.len() - start)
            .map_err(|e| Error::Encode {
                codec: CodecKind::Rkyv,
                source: Box::new(e),
            });
        self.metrics.finish_encode(op, &result, out.len() - start);
        result
    }

    fn decode(&self, bytes: &[u8]) -> Result<T> {
        let op = self.metrics.start_decode(bytes.len());
        let result = decode_archive::<T>(bytes, self.max_depth, &self.metrics, CodecKind::Rkyv);
        self.metrics.finish_decode(op, &result);
        result
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_hint_follows_recent_encodings_within_bounds() {
        let hint = SizeHint::default();
        hint.observe(1000);
        assert_eq!(hint.get(), 1024);
        hint.observe(600); // within 4x: the line is not written
        assert_eq!(hint.get(), 1024);
        hint.observe(100);
        assert_eq!(hint.get(), 128);
        hint.observe(usize::MAX / 2);
        assert_eq!(hint.get(), 1 << 20);
    }

    #[test]
    fn encode_reserves_the_last_size_up_front() {
        let codec = RkyvCodec::new();
        let msg = crate::ChatMessage::new("1", &"x".repeat(600), 7, "ann", "lobby");
        let first = Codec::encode(&codec, &msg).unwrap();
        let second = Codec::encode(&codec, &msg).unwrap();
        assert_eq!(first, second);
        // One allocation of the hinted size, not a doubling sequence.
        assert_eq!(second.capacity(), first.len().next_power_of_two());
    }
}
