//! Serialization for what nodes exchange (RPC requests and responses, chat
//! messages, Raft messages) and for snapshot data: rkyv's speed where both
//! sides speak it, JSON's compatibility where one does not.
//!
//! - [`Codec`] — the one trait: encode into a new or a caller's buffer,
//!   decode to an owned value, content type, [`Metrics`].
//! - [`JsonCodec`] — serde_json.
//! - [`RkyvCodec`] — rkyv 0.8 archives; [`RkyvCodec::access`] validates and
//!   returns a zero-copy [`View`] of the archived type.
//! - [`HybridCodec`] — rkyv inside a 16-byte envelope (magic, version, codec
//!   id, length, xxh3 checksum); untagged input is read as JSON, so older
//!   peers keep working. A checksum-verified trusted path
//!   ([`HybridCodec::access_trusted`]) skips validation for bytes the system
//!   wrote itself.
//! - [`CompressedCodec`] — wraps any codec with lz4 (zstd behind the `zstd`
//!   feature), with a size threshold and a decompression limit.
//! - [`JsonValue`] — dynamic JSON (RPC params) rkyv can archive.
//! - [`ZeroCopyBuffer`] — many archived messages in one aligned buffer, each
//!   validated once and read afterwards without copying or allocating;
//!   [`ZeroCopyPool`]: a bounded pool of them on top of [`bufpool`].
//!
//! Every decoder accepts any byte string: bad input is an [`Error`] naming
//! the codec and the byte, never a panic. rkyv's format features are pinned
//! for the workspace (little-endian, aligned, 32-bit relative pointers,
//! bytecheck validation); archives are read at 16-byte alignment.
//!
//! # Examples
//!
//! ```
//! use codec::{ChatMessage, Codec, HybridCodec};
//!
//! let codec = HybridCodec::new();
//! let msg = ChatMessage::new("m1", "hello", 1_700_000_000_000, "ann", "lobby");
//! let mut buf = Vec::new();
//! codec.encode_into(&msg, &mut buf).unwrap();
//! let view = codec.access::<ChatMessage>(&buf).unwrap(); // zero-copy
//! assert_eq!(view.room_id, "lobby");
//! let owned: ChatMessage = codec.decode(&buf).unwrap();
//! assert_eq!(owned, msg);
//! ```

#![deny(missing_docs)]

mod archive;
mod buffer;
mod compressed;
mod error;
mod hybrid;
mod json;
mod messages;
mod metrics;
mod value;

use std::fmt;

pub use archive::{Appender, Archivable, RkyvCodec, Sink, View, ALIGN, DEFAULT_MAX_DEPTH};
pub use buffer::{OnExhausted, ZeroCopyBuffer, ZeroCopyPool, ZeroCopyPoolConfig};
pub use compressed::{Algorithm, CompressedCodec, CompressedConfig, FRAME_HEADER_LEN};
pub use error::{BoxError, Error, Result};
pub use hybrid::{
    is_enveloped, Header, HybridCodec, HybridConfig, PayloadCodec, HEADER_LEN, MAGIC, VERSION,
};
pub use json::JsonCodec;
pub use messages::{
    ArchivedChatMessage, ArchivedRpcError, ArchivedRpcMethodType, ArchivedRpcRequest,
    ArchivedRpcResponse, ChatMessage, RpcError, RpcMethodType, RpcRequest, RpcResponse,
};
pub use metrics::{Metrics, MetricsConfig, MetricsSnapshot};
pub use value::{ArchivedJsonNumber, ArchivedJsonValue, JsonNumber, JsonValue};

/// Which codec produced or rejected some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodecKind {
    /// [`JsonCodec`], or JSON read by [`HybridCodec`].
    Json,
    /// [`RkyvCodec`], or an archive read by [`HybridCodec`].
    Rkyv,
    /// [`HybridCodec`]'s envelope.
    Hybrid,
    /// [`CompressedCodec`] with lz4.
    Lz4,
    /// [`CompressedCodec`] with zstd.
    Zstd,
}

impl fmt::Display for CodecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodecKind::Json => "json",
            CodecKind::Rkyv => "rkyv",
            CodecKind::Hybrid => "hybrid",
            CodecKind::Lz4 => "lz4",
            CodecKind::Zstd => "zstd",
        })
    }
}

/// Encodes values of type `T` to bytes and decodes them back.
///
/// Implementations are `Send + Sync`: one codec serves every thread, and
/// its [`Metrics`] count for all of them.
pub trait Codec<T>: Send + Sync {
    /// Returns which codec this is.
    fn kind(&self) -> CodecKind;

    /// Returns the MIME type of the encoded bytes.
    fn content_type(&self) -> &'static str;

    /// Encodes `value` into a new buffer.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] when the value cannot be serialized;
    /// [`Error::TooLarge`] when it exceeds a codec's limit.
    fn encode(&self, value: &T) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encode_into(value, &mut out)?;
        Ok(out)
    }

    /// Appends the encoding of `value` to `out` and returns its length in
    /// bytes. Reusing `out` (cleared) across calls avoids allocating once it
    /// is large enough. On error `out` is left as it was.
    ///
    /// # Errors
    ///
    /// As [`Codec::encode`].
    fn encode_into(&self, value: &T, out: &mut Vec<u8>) -> Result<usize>;

    /// Decodes an owned value from exactly `bytes` (any alignment).
    ///
    /// # Errors
    ///
    /// Any decoding variant of [`Error`]; never panics on bad input.
    fn decode(&self, bytes: &[u8]) -> Result<T>;

    /// Returns the codec's live counters.
    fn metrics(&self) -> &Metrics;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn codecs_and_metrics_are_send_and_sync() {
        assert_send_sync::<JsonCodec>();
        assert_send_sync::<RkyvCodec>();
        assert_send_sync::<HybridCodec>();
        assert_send_sync::<CompressedCodec<HybridCodec>>();
        assert_send_sync::<Metrics>();
        assert_send_sync::<ZeroCopyPool<ChatMessage>>();
        assert_send_sync::<ZeroCopyBuffer<ChatMessage>>();
        assert_send_sync::<Error>();
    }
}
