//! The value stored under a key.

use crate::small::SmallBytes;
use crate::types::{Hash, List, Set, ZSet};

/// Longest string Redis stores with the `embstr` encoding, in bytes (44).
pub const EMBSTR_MAX: usize = 44;

/// A value of the keyspace.
///
/// Strings keep Redis' observable encodings apart: a string that is the
/// canonical decimal form of an `i64` is kept as [`Value::Int`] (Redis' `int`
/// encoding: `INCR` needs no parsing and `OBJECT ENCODING` says `int`), a
/// string written whole (`SET`, `MSET`, ...) as [`Value::Str`], and a string
/// edited in place (`APPEND`, `SETRANGE`) as [`Value::Raw`], which Redis
/// reports as `raw` whatever its length or contents until it is written
/// whole again. The three behave the same everywhere else.
///
/// `Raw` holds a boxed slice rather than a [`SmallBytes`]: two variants of
/// 24 bytes could not share the enum's 24 bytes, and an edited string in
/// Redis is a heap `sds` too. Containers are boxed for the same reason.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string, as bytes (`embstr` up to 44 bytes, else `raw`).
    Str(SmallBytes),
    /// A string holding a canonical 64-bit integer (`int` encoding).
    Int(i64),
    /// A string changed by `APPEND` or `SETRANGE` (`raw` encoding).
    Raw(Box<[u8]>),
    /// A hash.
    Hash(Box<Hash>),
    /// A list.
    List(Box<List>),
    /// A set.
    Set(Box<Set>),
    /// A sorted set.
    ZSet(Box<ZSet>),
}

impl Value {
    /// Builds a string value from client bytes, choosing the `int` encoding
    /// when the bytes are a canonical integer, as Redis' `tryObjectEncoding`.
    #[inline]
    pub fn string(bytes: &[u8]) -> Value {
        if bytes.len() <= 20 {
            if let Some(n) = crate::num::parse_i64_canonical(bytes) {
                return Value::Int(n);
            }
        }
        Value::Str(SmallBytes::new(bytes))
    }

    /// The type name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) | Value::Int(_) | Value::Raw(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(s) if s.len() <= EMBSTR_MAX => "embstr",
            Value::Str(_) | Value::Raw(_) => "raw",
            Value::Hash(h) => h.encoding(),
            Value::List(l) => l.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// Whether this is a string (any encoding).
    #[inline]
    pub fn is_string(&self) -> bool {
        matches!(self, Value::Str(_) | Value::Int(_) | Value::Raw(_))
    }

    /// Heap bytes owned by the value beyond its own size (for memory stats).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::Raw(s) => s.len(),
            Value::Int(_) => 0,
            Value::Hash(h) => std::mem::size_of::<Hash>() + h.heap_size(),
            Value::List(l) => std::mem::size_of::<List>() + l.heap_size(),
            Value::Set(s) => std::mem::size_of::<Set>() + s.heap_size(),
            Value::ZSet(z) => std::mem::size_of::<ZSet>() + z.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }

    #[test]
    fn int_encoding_only_for_canonical_integers() {
        assert_eq!(Value::string(b"123"), Value::Int(123));
        assert_eq!(Value::string(b"-9223372036854775808"), Value::Int(i64::MIN));
        assert!(matches!(Value::string(b"0123"), Value::Str(_)));
        assert!(matches!(Value::string(b"+1"), Value::Str(_)));
        assert!(matches!(Value::string(b"-0"), Value::Str(_)));
        assert!(matches!(
            Value::string(b"9223372036854775808"),
            Value::Str(_)
        ));
        assert_eq!(Value::string(b"12").encoding(), "int");
        assert_eq!(Value::string(b"abc").encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 45]).encoding(), "raw");
    }

    #[test]
    fn raw_is_a_string_reported_raw_at_any_length() {
        let v = Value::Raw(b"12".to_vec().into_boxed_slice());
        assert_eq!(v.encoding(), "raw");
        assert_eq!(v.type_name(), "string");
        assert!(v.is_string());
    }
}
