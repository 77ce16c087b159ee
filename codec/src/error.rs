//! The crate's error type: which codec failed, what was wrong, at which byte.

use std::error::Error as StdError;
use std::fmt;

use crate::CodecKind;

/// A boxed error from a library this crate wraps (serde_json, rkyv,
/// lz4_flex, zstd).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// An error from encoding, decoding or accessing a message.
///
/// Every variant names the codec that detected the problem (`codec`), and
/// every decoding variant names the byte offset in the caller's input where
/// the problem lies (`offset`, bytes from the start of the slice passed to
/// `decode` or `access`). [`Error::codec`] and [`Error::offset`] read them
/// without a match.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// Serializing a value failed (for rkyv: the value cannot be archived,
    /// e.g. it exceeds the 32-bit relative pointers; for JSON: a map with
    /// non-string keys, a failing `Serialize` impl).
    Encode {
        /// The codec that failed.
        codec: CodecKind,
        /// The serializer's error.
        source: BoxError,
    },
    /// The input ends before the message does.
    Truncated {
        /// The codec that read the input.
        codec: CodecKind,
        /// The offset at which more bytes were expected.
        offset: usize,
        /// The number of bytes the message needs from the start of the input.
        needed: usize,
        /// The number of bytes present.
        available: usize,
    },
    /// Bytes follow the end of a complete message.
    TrailingBytes {
        /// The codec that read the input.
        codec: CodecKind,
        /// The offset of the first byte after the message.
        offset: usize,
        /// The number of extra bytes.
        count: usize,
    },
    /// The input starts like an envelope (first byte 0xFF) but the rest of
    /// the magic number is wrong.
    BadMagic {
        /// The codec that read the input.
        codec: CodecKind,
        /// The offset of the magic number.
        offset: usize,
    },
    /// The envelope's format version is not one this build reads.
    UnsupportedVersion {
        /// The codec that read the input.
        codec: CodecKind,
        /// The offset of the version byte.
        offset: usize,
        /// The version found.
        version: u8,
    },
    /// A header names a payload codec or compression method this build does
    /// not know (or has not been compiled with, like zstd without the
    /// `zstd` feature).
    UnknownCodecId {
        /// The codec that read the input.
        codec: CodecKind,
        /// The offset of the id byte.
        offset: usize,
        /// The id found.
        id: u8,
    },
    /// A reserved header field that must be zero is not.
    ReservedNotZero {
        /// The codec that read the input.
        codec: CodecKind,
        /// The offset of the reserved field.
        offset: usize,
    },
    /// A length field exceeds the configured limit; nothing was allocated
    /// for it.
    TooLarge {
        /// The codec that read the input.
        codec: CodecKind,
        /// The offset of the length field (0 when encoding).
        offset: usize,
        /// The length found, in bytes.
        length: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The checksum stored in the envelope does not match the payload.
    ChecksumMismatch {
        /// The codec that read the input.
        codec: CodecKind,
        /// The offset of the payload the checksum covers.
        offset: usize,
        /// The checksum stored in the envelope (xxh3-64).
        expected: u64,
        /// The checksum computed over the payload (xxh3-64).
        actual: u64,
    },
    /// The bytes are not a valid message of the expected type: JSON syntax
    /// or shape errors, rkyv validation failures, corrupt compressed data.
    Invalid {
        /// The codec that rejected the bytes.
        codec: CodecKind,
        /// The offset of the error for JSON and lz4; the start of the archive
        /// or compressed block for rkyv and zstd, which do not report one.
        offset: usize,
        /// The underlying library's error.
        source: BoxError,
    },
    /// The message is valid but not an rkyv archive (a JSON message read by
    /// [`HybridCodec`](crate::HybridCodec)), so it has no zero-copy view;
    /// decode it instead.
    NotArchived {
        /// The codec that read the input.
        codec: CodecKind,
        /// The offset of the payload.
        offset: usize,
    },
    /// A [`ZeroCopyPool`](crate::ZeroCopyPool) configured to fail when empty
    /// has every buffer handed out.
    PoolExhausted {
        /// The number of buffers the pool hands out at most.
        capacity: usize,
    },
}

impl Error {
    /// Returns the codec that detected the error (`None` for
    /// [`Error::PoolExhausted`]).
    pub fn codec(&self) -> Option<CodecKind> {
        match self {
            Error::Encode { codec, .. }
            | Error::Truncated { codec, .. }
            | Error::TrailingBytes { codec, .. }
            | Error::BadMagic { codec, .. }
            | Error::UnsupportedVersion { codec, .. }
            | Error::UnknownCodecId { codec, .. }
            | Error::ReservedNotZero { codec, .. }
            | Error::TooLarge { codec, .. }
            | Error::ChecksumMismatch { codec, .. }
            | Error::Invalid { codec, .. }
            | Error::NotArchived { codec, .. } => Some(*codec),
            Error::PoolExhausted { .. } => None,
        }
    }

    /// Returns the byte offset in the input where the problem lies, for
    /// decoding errors.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Error::Truncated { offset, .. }
            | Error::TrailingBytes { offset, .. }
            | Error::BadMagic { offset, .. }
            | Error::UnsupportedVersion { offset, .. }
            | Error::UnknownCodecId { offset, .. }
            | Error::ReservedNotZero { offset, .. }
            | Error::TooLarge { offset, .. }
            | Error::ChecksumMismatch { offset, .. }
            | Error::Invalid { offset, .. }
            | Error::NotArchived { offset, .. } => Some(*offset),
            Error::Encode { .. } | Error::PoolExhausted { .. } => None,
        }
    }

    /// Shifts the offset by `by` bytes: used when a codec decodes a payload
    /// that sits inside a larger input (an envelope, a compressed frame).
    pub(crate) fn shifted(mut self, by: usize) -> Error {
        match &mut self {
            Error::Truncated {
                offset,
                needed,
                available,
                ..
            } => {
                *offset += by;
                *needed += by;
                *available += by;
            }
            Error::TrailingBytes { offset, .. }
            | Error::BadMagic { offset, .. }
            | Error::UnsupportedVersion { offset, .. }
            | Error::UnknownCodecId { offset, .. }
            | Error::ReservedNotZero { offset, .. }
            | Error::TooLarge { offset, .. }
            | Error::ChecksumMismatch { offset, .. }
            | Error::Invalid { offset, .. }
            | Error::NotArchived { offset, .. } => *offset += by,
            Error::Encode { .. } | Error::PoolExhausted { .. } => {}
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Encode { codec, source } => write!(f, "{codec}: cannot encode value: {source}"),
            Error::Truncated {
                codec,
                offset,
                needed,
                available,
            } => write!(
                f,
                "{codec}: input truncated at byte {offset}: message needs {needed} bytes, {available} present"
            ),
            Error::TrailingBytes {
                codec,
                offset,
                count,
            } => write!(f, "{codec}: {count} trailing bytes after the message at byte {offset}"),
            Error::BadMagic { codec, offset } => write!(f, "{codec}: bad magic number at byte {offset}"),
            Error::UnsupportedVersion {
                codec,
                offset,
                version,
            } => write!(f, "{codec}: unsupported format version {version} at byte {offset}"),
            Error::UnknownCodecId { codec, offset, id } => {
                write!(f, "{codec}: unknown codec or method id {id} at byte {offset}")
            }
            Error::ReservedNotZero { codec, offset } => {
                write!(f, "{codec}: reserved header field at byte {offset} is not zero")
            }
            Error::TooLarge {
                codec,
                offset,
                length,
                limit,
            } => write!(
                f,
                "{codec}: length {length} at byte {offset} exceeds the limit of {limit} bytes"
            ),
            Error::ChecksumMismatch {
                codec,
                offset,
                expected,
                actual,
            } => write!(
                f,
                "{codec}: checksum mismatch over the payload at byte {offset}: stored {expected:#018x}, computed {actual:#018x}"
            ),
            Error::Invalid {
                codec,
                offset,
                source,
            } => write!(f, "{codec}: invalid message at byte {offset}: {source}"),
            Error::NotArchived { codec, offset } => write!(
                f,
                "{codec}: the payload at byte {offset} is not an rkyv archive and has no zero-copy view"
            ),
            Error::PoolExhausted { capacity } => {
                write!(f, "zero-copy buffer pool exhausted: all {capacity} buffers are in use")
            }
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Encode { source, .. } | Error::Invalid { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_lowercase_and_names_codec_and_offset() {
        let e = Error::Truncated {
            codec: CodecKind::Hybrid,
            offset: 3,
            needed: 16,
            available: 3,
        };
        let s = e.to_string();
        assert!(s.starts_with("hybrid:"), "{s}");
        assert!(s.contains("byte 3"), "{s}");
        assert_eq!(e.codec(), Some(CodecKind::Hybrid));
        assert_eq!(e.offset(), Some(3));
        assert_eq!(e.shifted(16).offset(), Some(19));
    }

    #[test]
    fn source_is_the_wrapped_error() {
        let inner = serde_json::from_slice::<u32>(b"x").unwrap_err();
        let e = Error::Invalid {
            codec: CodecKind::Json,
            offset: 0,
            source: Box::new(inner),
        };
        assert!(e.source().is_some());
        assert!(Error::PoolExhausted { capacity: 1 }.source().is_none());
    }
}
