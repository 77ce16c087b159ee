//! [`CompressedCodec`]: any codec's output compressed with lz4 (lz4_flex
//! block format) or, with the `zstd` feature, zstd.
//!
//! # Frame format
//!
//! | bytes | field |
//! |---|---|
//! | 0 | method: 0 stored, 1 lz4 block, 2 zstd frame |
//! | 1..4 | reserved, zero |
//! | 4..8 | the inner codec's output length in bytes, u32 little-endian |
//! | 8..16 | reserved, zero |
//! | 16.. | the inner output, stored or compressed |
//!
//! The 16-byte header keeps a stored payload at the frame's 16-byte
//! alignment; compressed payloads are decompressed into an aligned buffer.
//! The declared length is checked against the configured maximum before
//! anything is allocated for it.

use std::cell::Cell;

use rkyv::util::AlignedVec;

use crate::archive::ALIGN;
use crate::{Codec, CodecKind, Error, Metrics, MetricsConfig, Result};

/// The frame header's length in bytes.
pub const FRAME_HEADER_LEN: usize = 16;

/// A compression algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// LZ4 block format (lz4_flex, pure Rust, safe decoder).
    Lz4,
    /// Zstandard at the given level (1..=22; the zstd C library).
    #[cfg(feature = "zstd")]
    Zstd {
        /// The compression level.
        level: i32,
    },
}

impl Algorithm {
    fn id(self) -> u8 {
        match self {
            Algorithm::Lz4 => 1,
            #[cfg(feature = "zstd")]
            Algorithm::Zstd { .. } => 2,
        }
    }

    fn kind(self) -> CodecKind {
        match self {
            Algorithm::Lz4 => CodecKind::Lz4,
            #[cfg(feature = "zstd")]
            Algorithm::Zstd { .. } => CodecKind::Zstd,
        }
    }
}

/// The configuration of a [`CompressedCodec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressedConfig {
    /// The algorithm used when encoding (decoding reads any known method).
    pub algorithm: Algorithm,
    /// Inner outputs shorter than this are stored uncompressed, in bytes
    /// (default 256).
    pub threshold: usize,
    /// The largest inner output accepted when decoding, in bytes (default
    /// 64 MiB): a frame declaring more is refused before decompressing.
    pub max_decompressed_len: u32,
    /// Metrics settings.
    pub metrics: MetricsConfig,
}

impl Default for CompressedConfig {
    fn default() -> Self {
        CompressedConfig {
            algorithm: Algorithm::Lz4,
            threshold: 256,
            max_decompressed_len: 64 << 20,
            metrics: MetricsConfig::default(),
        }
    }
}

/// Wraps codec `C`, compressing its output.
///
/// # Examples
///
/// ```
/// use codec::{ChatMessage, Codec, CompressedCodec, CompressedConfig, HybridCodec};
///
/// let codec = CompressedCodec::with_config(
///     HybridCodec::new(),
///     CompressedConfig { threshold: 64, ..Default::default() },
/// );
/// let msg = ChatMessage::new("m1", &"la ".repeat(200), 42, "ann", "lobby");
/// let bytes = codec.encode(&msg).unwrap();
/// assert!(bytes.len() < 300);
/// let back: ChatMessage = codec.decode(&bytes).unwrap();
/// assert_eq!(back, msg);
/// ```
#[derive(Debug)]
pub struct CompressedCodec<C> {
    inner: C,
    config: CompressedConfig,
    metrics: Metrics,
}

/// The largest scratch buffer a thread keeps between calls, in bytes.
const MAX_KEPT_SCRATCH: usize = 1 << 20;

thread_local! {
    /// Scratch space for the inner codec's output, taken while in use so
    /// that a nested `CompressedCodec` gets its own.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

impl<C> CompressedCodec<C> {
    /// Wraps `inner` with lz4 and the default configuration.
    pub fn new(inner: C) -> CompressedCodec<C> {
        CompressedCodec::with_config(inner, CompressedConfig::default())
    }

    /// Wraps `inner` with the given configuration.
    pub fn with_config(inner: C, config: CompressedConfig) -> CompressedCodec<C> {
        CompressedCodec {
            inner,
            metrics: Metrics::new(config.metrics),
            config,
        }
    }

    /// Returns the wrapped codec.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    fn header(method: u8, len: u32) -> [u8; FRAME_HEADER_LEN] {
        let mut h = [0u8; FRAME_HEADER_LEN];
        h[0] = method;
        h[4..8].copy_from_slice(&len.to_le_bytes());
        h
    }

    /// Appends the frame for the inner output `raw` to `out`.
    fn frame(&self, raw: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let kind = self.config.algorithm.kind();
        let len = u32::try_from(raw.len()).map_err(|_| Error::TooLarge {
            codec: kind,
            offset: 0,
            length: raw.len() as u64,
            limit: u32::MAX.into(),
        })?;
        let start = out.len();
        if raw.len() >= self.config.threshold {
            out.extend_from_slice(&Self::header(self.config.algorithm.id(), len));
            let body = start + FRAME_HEADER_LEN;
            let written = match self.config.algorithm {
                Algorithm::Lz4 => {
                    out.resize(
                        body + lz4_flex::block::get_maximum_output_size(raw.len()),
                        0,
                    );
                    lz4_flex::block::compress_into(raw, &mut out[body..]).map_err(|e| {
                        Error::Encode {
                            codec: kind,
                            source: Box::new(e),
                        }
                    })
                }
                #[cfg(feature = "zstd")]
                Algorithm::Zstd { level } => {
                    out.resize(body + zstd::zstd_safe::compress_bound(raw.len()), 0);
                    zstd::bulk::compress_to_buffer(raw, &mut out[body..], level).map_err(|e| {
                        Error::Encode {
                            codec: kind,
                            source: Box::new(e),
                        }
                    })
                }
            };
            match written {
                Ok(n) if n < raw.len() => {
                    out.truncate(body + n);
                    return Ok(());
                }
                Ok(_) => out.truncate(start), // incompressible: store
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            }
        }
        out.extend_from_slice(&Self::header(0, len));
        out.extend_from_slice(raw);
        Ok(())
    }

    /// Checks the frame header and returns the method and inner length.
    fn parse(&self, bytes: &[u8]) -> Result<(u8, usize)> {
        let kind = self.config.algorithm.kind();
        let Some(h) = bytes.first_chunk::<FRAME_HEADER_LEN>() else {
            return Err(Error::Truncated {
                codec: kind,
                offset: bytes.len(),
                needed: FRAME_HEADER_LEN,
                available: bytes.len(),
            });
        };
        if h[1..4] != [0; 3] {
            return Err(Error::ReservedNotZero {
                codec: kind,
                offset: 1,
            });
        }
        if h[8..16] != [0; 8] {
            return Err(Error::ReservedNotZero {
                codec: kind,
                offset: 8,
            });
        }
        let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        if len > self.config.max_decompressed_len {
            return Err(Error::TooLarge {
                codec: kind,
                offset: 4,
                length: len.into(),
                limit: self.config.max_decompressed_len.into(),
            });
        }
        Ok((h[0], len as usize))
    }

    fn decode_inner<T>(&self, bytes: &[u8]) -> Result<T>
    where
        C: Codec<T>,
    {
        let (method, len) = self.parse(bytes)?;
        let body = &bytes[FRAME_HEADER_LEN..];
        let shift = |e: Error| e.shifted(FRAME_HEADER_LEN);
        if method == 0 {
            if body.len() != len {
                return Err(length_mismatch(CodecKind::Lz4, len, body.len()));
            }
            return self.inner.decode(body).map_err(shift);
        }
        let mut out = AlignedVec::<ALIGN>::new();
        match method {
            1 => {
                out.resize(len, 0);
                let n = lz4_flex::block::decompress_into(body, &mut out).map_err(|e| {
                    Error::Invalid {
                        codec: CodecKind::Lz4,
                        offset: FRAME_HEADER_LEN,
                        source: Box::new(e),
                    }
                })?;
                if n != len {
                    return Err(length_mismatch(CodecKind::Lz4, len, n));
                }
            }
            #[cfg(feature = "zstd")]
            2 => {
                out.resize(len, 0);
                let n = zstd::bulk::decompress_to_buffer(body, &mut out[..]).map_err(|e| {
                    Error::Invalid {
                        codec: CodecKind::Zstd,
                        offset: FRAME_HEADER_LEN,
                        source: Box::new(e),
                    }
                })?;
                if n != len {
                    return Err(length_mismatch(CodecKind::Zstd, len, n));
                }
            }
            id => {
                return Err(Error::UnknownCodecId {
                    codec: self.config.algorithm.kind(),
                    offset: 0,
                    id,
                })
            }
        }
        // Offsets inside decompressed data do not map to input bytes; report
        // the start of the compressed body.
        self.inner.decode(&out).map_err(|e| match e.offset() {
            Some(_) => relocate(e, FRAME_HEADER_LEN),
            None => e,
        })
    }
}

/// The inner output's length differs from the one the header declares.
fn length_mismatch(codec: CodecKind, declared: usize, actual: usize) -> Error {
    Error::Invalid {
        codec,
        offset: 4,
        source: format!("header declares {declared} bytes, payload holds {actual}").into(),
    }
}

/// Sets a decoding error's offset to `offset`.
fn relocate(e: Error, offset: usize) -> Error {
    let current = e.offset().unwrap_or(0);
    match e {
        Error::Truncated { codec, .. } | Error::TrailingBytes { codec, .. } => Error::Invalid {
            codec,
            offset,
            source: format!("inner codec: {e}").into(),
        },
        e if current <= offset => e.shifted(offset - current),
        e => Error::Invalid {
            codec: e.codec().unwrap_or(CodecKind::Lz4),
            offset,
            source: format!("inner codec: {e}").into(),
        },
    }
}

impl<T, C: Codec<T>> Codec<T> for CompressedCodec<C> {
    fn kind(&self) -> CodecKind {
        self.config.algorithm.kind()
    }

    fn content_type(&self) -> &'static str {
        match self.config.algorithm {
            Algorithm::Lz4 => "application/x-lz4",
            #[cfg(feature = "zstd")]
            Algorithm::Zstd { .. } => "application/zstd",
        }
    }

    fn encode_into(&self, value: &T, out: &mut Vec<u8>) -> Result<usize> {
        let op = self.metrics.start_encode();
        let start = out.len();
        let mut scratch = SCRATCH.take();
        scratch.clear();
        let result = self
            .inner
            .encode_into(value, &mut scratch)
            .and_then(|_| self.frame(&scratch, out))
            .map(|()| out.len() - start);
        if scratch.capacity() <= MAX_KEPT_SCRATCH {
            SCRATCH.set(scratch);
        }
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
