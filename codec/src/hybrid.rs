//! [`HybridCodec`]: rkyv inside a small tagged envelope, JSON for everything
//! untagged.
//!
//! # Envelope format (version 1)
//!
//! | bytes | field |
//! |---|---|
//! | 0..2 | magic `FF 6B` (`0xFF`, `'k'`) |
//! | 2 | format version, 1 |
//! | 3 | payload codec id: 1 rkyv, 2 JSON |
//! | 4..8 | payload length in bytes, u32 little-endian |
//! | 8..16 | xxh3-64 of the payload, u64 little-endian |
//! | 16.. | payload |
//!
//! The header is 16 bytes, so a payload keeps the envelope's 16-byte
//! alignment. Detection reads only the first byte: `0xFF` never starts a
//! JSON text (it is not valid UTF-8 anywhere), so input starting with it is
//! an envelope and anything else is untagged JSON from an older peer. The
//! payload's content is never inspected to guess its format.

use std::num::NonZeroUsize;

use serde::{de::DeserializeOwned, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::archive::{self, Archivable, View};
use crate::json::{decode_json, encode_json};
use crate::{Codec, CodecKind, Error, Metrics, MetricsConfig, Result};

/// The envelope's magic number.
pub const MAGIC: [u8; 2] = [0xFF, b'k'];
/// The envelope format version this build writes and reads.
pub const VERSION: u8 = 1;
/// The envelope header's length in bytes.
pub const HEADER_LEN: usize = 16;

/// What an envelope's payload is encoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PayloadCodec {
    /// An rkyv archive.
    Rkyv = 1,
    /// JSON (serde_json): a value that could not be archived.
    Json = 2,
}

/// A parsed envelope header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The payload's codec.
    pub codec: PayloadCodec,
    /// The payload's length in bytes.
    pub payload_len: u32,
    /// The xxh3-64 of the payload.
    pub checksum: u64,
}

impl Header {
    /// Encodes the header.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..2].copy_from_slice(&MAGIC);
        h[2] = VERSION;
        h[3] = self.codec as u8;
        h[4..8].copy_from_slice(&self.payload_len.to_le_bytes());
        h[8..16].copy_from_slice(&self.checksum.to_le_bytes());
        h
    }

    /// Parses the header at the start of `bytes` and checks that exactly
    /// `payload_len` bytes follow it (at most `max_payload_len`).
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`], [`Error::BadMagic`],
    /// [`Error::UnsupportedVersion`], [`Error::UnknownCodecId`],
    /// [`Error::TooLarge`], [`Error::TrailingBytes`].
    pub fn parse(bytes: &[u8], max_payload_len: u32) -> Result<Header> {
        const C: CodecKind = CodecKind::Hybrid;
        let Some(h) = bytes.first_chunk::<HEADER_LEN>() else {
            return Err(Error::Truncated {
                codec: C,
                offset: bytes.len(),
                needed: HEADER_LEN,
                available: bytes.len(),
            });
        };
        if h[0..2] != MAGIC {
            return Err(Error::BadMagic {
                codec: C,
                offset: 0,
            });
        }
        if h[2] != VERSION {
            return Err(Error::UnsupportedVersion {
                codec: C,
                offset: 2,
                version: h[2],
            });
        }
        let codec = match h[3] {
            1 => PayloadCodec::Rkyv,
            2 => PayloadCodec::Json,
            id => {
                return Err(Error::UnknownCodecId {
                    codec: C,
                    offset: 3,
                    id,
                })
            }
        };
        let payload_len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        if payload_len > max_payload_len {
            return Err(Error::TooLarge {
                codec: C,
                offset: 4,
                length: payload_len.into(),
                limit: max_payload_len.into(),
            });
        }
        let end = HEADER_LEN + payload_len as usize;
        if bytes.len() < end {
            return Err(Error::Truncated {
                codec: C,
                offset: bytes.len(),
                needed: end,
                available: bytes.len(),
            });
        }
        if bytes.len() > end {
            return Err(Error::TrailingBytes {
                codec: C,
                offset: end,
                count: bytes.len() - end,
            });
        }
        let checksum = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
        Ok(Header {
            codec,
            payload_len,
            checksum,
        })
    }
}

/// Returns true when `bytes` is tagged (starts with the envelope's first
/// magic byte) rather than untagged JSON.
#[inline]
pub fn is_enveloped(bytes: &[u8]) -> bool {
    bytes.first() == Some(&MAGIC[0])
}

/// The configuration of a [`HybridCodec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HybridConfig {
    /// Metrics settings.
    pub metrics: MetricsConfig,
    /// The largest payload accepted when decoding or produced when encoding,
    /// in bytes (default 64 MiB).
    pub max_payload_len: u32,
    /// Whether validated decodes and accesses also verify the checksum
    /// (default `false`: validation alone keeps reads memory-safe; the
    /// checksum is what makes the trusted path safe to take).
    pub verify_checksum: bool,
    /// Nesting limit for rkyv validation, in levels (see
    /// [`DEFAULT_MAX_DEPTH`](crate::DEFAULT_MAX_DEPTH)).
    pub max_depth: usize,
}

impl Default for HybridConfig {
    fn default() -> Self {
        HybridConfig {
            metrics: MetricsConfig::default(),
            max_payload_len: 64 << 20,
            verify_checksum: false,
            max_depth: archive::DEFAULT_MAX_DEPTH,
        }
    }
}

/// Writes rkyv in an envelope; reads enveloped rkyv or JSON, and untagged
/// JSON from older peers.
///
/// Values that rkyv cannot archive (e.g. larger than its 32-bit relative
/// pointers reach) are written as JSON inside the envelope, counted in
/// [`MetricsSnapshot::json_fallbacks`](crate::MetricsSnapshot::json_fallbacks).
///
/// # Examples
///
/// ```
/// use codec::{ChatMessage, Codec, HybridCodec, JsonCodec};
///
/// let hybrid = HybridCodec::new();
/// let msg = ChatMessage::new("m1", "hello", 42, "ann", "lobby");
///
/// // New peers: rkyv in an envelope, readable zero-copy.
/// let bytes = hybrid.encode(&msg).unwrap();
/// assert_eq!(hybrid.access::<ChatMessage>(&bytes).unwrap().sender, "ann");
///
/// // Old peers: plain JSON still decodes.
/// let old = JsonCodec::new().encode(&msg).unwrap();
/// assert_eq!(Codec::<ChatMessage>::decode(&hybrid, &old).unwrap(), msg);
/// ```
#[derive(Debug)]
pub struct HybridCodec {
    metrics: Metrics,
    max_payload_len: u32,
    verify_checksum: bool,
    max_depth: Option<NonZeroUsize>,
    size_hint: archive::SizeHint,
}

impl Default for HybridCodec {
    fn default() -> Self {
        HybridCodec::new()
    }
}

impl HybridCodec {
    /// Creates a codec with the default configuration.
    pub fn new() -> HybridCodec {
        HybridCodec::with_config(HybridConfig::default())
    }

    /// Creates a codec with the given configuration.
    pub fn with_config(config: HybridConfig) -> HybridCodec {
        HybridCodec {
            metrics: Metrics::new(config.metrics),
            max_payload_len: config.max_payload_len,
            verify_checksum: config.verify_checksum,
            max_depth: NonZeroUsize::new(config.max_depth),
            size_hint: archive::SizeHint::default(),
        }
    }

    /// Parses the envelope and returns its header and payload.
    fn open<'a>(&self, bytes: &'a [u8], verify: bool) -> Result<(Header, &'a [u8])> {
        let header = Header::parse(bytes, self.max_payload_len)?;
        let payload = &bytes[HEADER_LEN..];
        if verify {
            let actual = xxh3_64(payload);
            if actual != header.checksum {
                return Err(Error::ChecksumMismatch {
                    codec: CodecKind::Hybrid,
                    offset: HEADER_LEN,
                    expected: header.checksum,
                    actual,
                });
            }
        }
        Ok((header, payload))
    }

    /// Validates an enveloped rkyv message and returns a zero-copy view of
    /// it, borrowed from `bytes` when the payload is 16-byte aligned.
    ///
    /// # Errors
    ///
    /// Envelope errors (see [`Header::parse`]), [`Error::NotArchived`] for a
    /// JSON payload or untagged JSON, [`Error::Invalid`] when validation
    /// fails, [`Error::ChecksumMismatch`] when configured to verify.
    #[inline]
    pub fn access<'a, T: Archivable>(&self, bytes: &'a [u8]) -> Result<View<'a, T::Archived>> {
        let op = self.metrics.start_decode(bytes.len());
        let result = self.access_inner::<T>(bytes);
        self.metrics.finish_decode(op, &result);
        result
    }

    fn access_inner<'a, T: Archivable>(&self, bytes: &'a [u8]) -> Result<View<'a, T::Archived>> {
        if !is_enveloped(bytes) {
            return Err(Error::NotArchived {
                codec: CodecKind::Hybrid,
                offset: 0,
            });
        }
        let (header, payload) = self.open(bytes, self.verify_checksum)?;
        match header.codec {
            PayloadCodec::Rkyv => archive::access_archive::<T>(
                payload,
                self.max_depth,
                &self.metrics,
                CodecKind::Rkyv,
            )
            .map_err(|e| e.shifted(HEADER_LEN)),
            PayloadCodec::Json => Err(Error::NotArchived {
                codec: CodecKind::Hybrid,
                offset: HEADER_LEN,
            }),
        }
    }

    /// The trusted path: verifies the envelope's checksum, then reads the
    /// archive without validating it.
    ///
    /// # Safety
    ///
    /// `bytes` must be an envelope this program wrote itself with
    /// [`HybridCodec`] from a `T` (its own files, authenticated cluster
    /// peers), never bytes from a client: the checksum detects corruption
    /// (torn writes, flipped bits), not malice, since anyone can compute
    /// xxh3 over a crafted payload.
    ///
    /// # Errors
    ///
    /// Envelope errors (see [`Header::parse`]),
    /// [`Error::ChecksumMismatch`], [`Error::NotArchived`] for a JSON
    /// payload.
    pub unsafe fn access_trusted<'a, T: Archivable>(
        &self,
        bytes: &'a [u8],
    ) -> Result<View<'a, T::Archived>> {
        let op = self.metrics.start_decode(bytes.len());
        // SAFETY: the caller upholds `access_trusted_inner`'s contract, which
        // is this function's.
        let result = unsafe { self.access_trusted_inner::<T>(bytes) };
        self.metrics.finish_decode(op, &result);
        result
    }

    /// # Safety
    ///
    /// As [`HybridCodec::access_trusted`].
    unsafe fn access_trusted_inner<'a, T: Archivable>(
        &self,
        bytes: &'a [u8],
    ) -> Result<View<'a, T::Archived>> {
        if !is_enveloped(bytes) {
            return Err(Error::NotArchived {
                codec: CodecKind::Hybrid,
                offset: 0,
            });
        }
        let (header, payload) = self.open(bytes, true)?;
        if header.codec != PayloadCodec::Rkyv {
            return Err(Error::NotArchived {
                codec: CodecKind::Hybrid,
                offset: HEADER_LEN,
            });
        }
        if !archive::is_aligned(payload) {
            // Rare: pay for validation on the copy rather than add a second
            // unsafe path.
            self.metrics.misaligned_copy();
            return View::copied(archive::aligned_copy(payload), self.max_depth)
                .map_err(|e| archive::invalid(CodecKind::Rkyv, HEADER_LEN, e));
        }
        // SAFETY: the xxh3 checksum over exactly these payload bytes
        // verified against the one stored in the envelope, the payload is
        // 16-byte aligned, and the caller guarantees (this function's
        // contract) that the envelope comes from a trusted source that wrote
        // it with `HybridCodec` from a `T`: our own files or authenticated
        // peers, never client bytes. So the bytes are the valid archive of a
        // `T` that was written.
        let archived = unsafe { rkyv::access_unchecked::<T::Archived>(payload) };
        Ok(View::borrowed(archived))
    }

    /// The trusted path for owned values: verifies the checksum, then
    /// deserializes without validating. JSON payloads decode as usual.
    ///
    /// # Safety
    ///
    /// As [`HybridCodec::access_trusted`].
    ///
    /// # Errors
    ///
    /// As [`HybridCodec::access_trusted`], plus JSON errors for JSON
    /// payloads.
    pub unsafe fn decode_trusted<T: Archivable + DeserializeOwned>(
        &self,
        bytes: &[u8],
    ) -> Result<T> {
        let op = self.metrics.start_decode(bytes.len());
        let result = if is_enveloped(bytes) {
            // SAFETY: the caller upholds `access_trusted`'s contract, which
            // is this function's.
            match unsafe { self.access_trusted_inner::<T>(bytes) } {
                Ok(view) => archive::deserialize::<T>(&view)
                    .map_err(|e| archive::invalid(CodecKind::Rkyv, HEADER_LEN, e)),
                // A JSON payload: decode it as usual.
                Err(Error::NotArchived { .. }) => {
                    decode_json(&bytes[HEADER_LEN..], CodecKind::Json)
                        .map_err(|e| e.shifted(HEADER_LEN))
                }
                Err(e) => Err(e),
            }
        } else {
            decode_json(bytes, CodecKind::Json)
        };
        self.metrics.finish_decode(op, &result);
        result
    }

    fn decode_inner<T: Archivable + DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        if !is_enveloped(bytes) {
            return decode_json(bytes, CodecKind::Json);
        }
        let (header, payload) = self.open(bytes, self.verify_checksum)?;
        match header.codec {
            PayloadCodec::Rkyv => archive::decode_archive::<T>(
                payload,
                self.max_depth,
                &self.metrics,
                CodecKind::Rkyv,
            ),
            PayloadCodec::Json => decode_json(payload, CodecKind::Json),
        }
        .map_err(|e| e.shifted(HEADER_LEN))
    }

    fn encode_inner<T: Archivable + Serialize>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<()> {
        out.extend_from_slice(&[0u8; HEADER_LEN]);
        let codec = match archive::archive_into(value, out) {
            Ok(()) => PayloadCodec::Rkyv,
            Err(_) => {
                self.metrics.json_fallback();
                encode_json(value, out, CodecKind::Hybrid)?;
                PayloadCodec::Json
            }
        };
        let payload = &out[start + HEADER_LEN..];
        let payload_len = match u32::try_from(payload.len()) {
            Ok(n) if n <= self.max_payload_len => n,
            _ => {
                let length = payload.len() as u64;
                return Err(Error::TooLarge {
                    codec: CodecKind::Hybrid,
                    offset: 0,
                    length,
                    limit: self.max_payload_len.into(),
                });
            }
        };
        let header = Header {
            codec,
            payload_len,
            checksum: xxh3_64(payload),
        };
        out[start..start + HEADER_LEN].copy_from_slice(&header.to_bytes());
        Ok(())
    }
}

impl<T: Archivable + Serialize + DeserializeOwned> Codec<T> for HybridCodec {
    fn kind(&self) -> CodecKind {
        CodecKind::Hybrid
    }

    fn content_type(&self) -> &'static str {
        "application/x-rkyv-hybrid"
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
        let result = self.encode_inner(value, out, start);
        if result.is_err() {
            out.truncate(start);
        }
        let result = result.map(|()| out.len() - start);
        self.metrics.finish_encode(op, &result, out.len() - start);
        result
    }

    fn decode(&self, bytes: &[u8]) -> Result<T> {
        let op = self.metrics.start_decode(bytes.len());
        let result = self.decode_inner(bytes);
        self.metrics.finish_decode(op, &result);
        result
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
