//! [`JsonCodec`]: serde_json, the compatible baseline.

use serde::{de::DeserializeOwned, Serialize};

use crate::{Codec, CodecKind, Error, Metrics, MetricsConfig, Result};

/// Encodes with serde_json; the format every peer reads.
///
/// # Examples
///
/// ```
/// use codec::{ChatMessage, Codec, JsonCodec};
///
/// let json = JsonCodec::new();
/// let msg = ChatMessage::new("m1", "hello", 1_700_000_000, "ann", "lobby");
/// let bytes = json.encode(&msg).unwrap();
/// assert!(bytes.starts_with(b"{\"id\":\"m1\""));
/// let back: ChatMessage = json.decode(&bytes).unwrap();
/// assert_eq!(back, msg);
/// ```
#[derive(Debug, Default)]
pub struct JsonCodec {
    metrics: Metrics,
}

impl JsonCodec {
    /// Creates a codec with default metrics.
    pub fn new() -> JsonCodec {
        JsonCodec::default()
    }

    /// Creates a codec whose metrics count as `config` says.
    pub fn with_metrics(config: MetricsConfig) -> JsonCodec {
        JsonCodec {
            metrics: Metrics::new(config),
        }
    }
}

/// Decodes `bytes` as JSON; errors carry the byte offset serde_json
/// reports (converted from its line and column).
pub(crate) fn decode_json<T: DeserializeOwned>(bytes: &[u8], codec: CodecKind) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| json_error(e, bytes, codec))
}

/// Appends `value` as JSON to `out`; on error `out` keeps its length.
pub(crate) fn encode_json<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    codec: CodecKind,
) -> Result<()> {
    let start = out.len();
    serde_json::to_writer(&mut *out, value).map_err(|e| {
        out.truncate(start);
        Error::Encode {
            codec,
            source: Box::new(e),
        }
    })
}

/// Turns a serde_json error into ours, with the byte offset of its line and
/// column (both 1-based; column counts bytes).
fn json_error(e: serde_json::Error, bytes: &[u8], codec: CodecKind) -> Error {
    let offset = byte_offset(bytes, e.line(), e.column());
    if e.is_eof() {
        Error::Truncated {
            codec,
            offset,
            needed: bytes.len() + 1,
            available: bytes.len(),
        }
    } else {
        Error::Invalid {
            codec,
            offset,
            source: Box::new(e),
        }
    }
}

fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(bytes.len(), |(i, _)| i + 1)
    };
    (line_start + column.saturating_sub(1)).min(bytes.len())
}

impl<T: Serialize + DeserializeOwned> Codec<T> for JsonCodec {
    fn kind(&self) -> CodecKind {
        CodecKind::Json
    }

    fn content_type(&self) -> &'static str {
        "application/json"
    }

    fn encode_into(&self, value: &T, out: &mut Vec<u8>) -> Result<usize> {
        let op = self.metrics.start_encode();
        let start = out.len();
        let result = encode_json(value, out, CodecKind::Json).map(|()| out.len() - start);
        self.metrics.finish_encode(op, &result, out.len() - start);
        result
    }

    fn decode(&self, bytes: &[u8]) -> Result<T> {
        let op = self.metrics.start_decode(bytes.len());
        let result = decode_json(bytes, CodecKind::Json);
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
    fn offsets_follow_lines_and_columns() {
        assert_eq!(byte_offset(b"abc", 1, 2), 1);
        assert_eq!(byte_offset(b"a\nbc\nd", 3, 1), 5);
        assert_eq!(byte_offset(b"a", 9, 9), 1);
    }

    #[test]
    fn syntax_error_names_the_byte() {
        let err = Codec::<Vec<u32>>::decode(&JsonCodec::new(), b"[1,\n2,x]").unwrap_err();
        assert_eq!(err.codec(), Some(CodecKind::Json));
        assert_eq!(err.offset(), Some(6));
    }

    #[test]
    fn eof_is_truncated() {
        let err = Codec::<Vec<u32>>::decode(&JsonCodec::new(), b"[1,2").unwrap_err();
        assert!(matches!(err, Error::Truncated { .. }), "{err}");
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        assert!(Codec::<u32>::decode(&JsonCodec::new(), b"1 x").is_err());
    }
}
