//! `SmallBytes`: a byte string that keeps up to 22 bytes inline.
//!
//! Most Redis keys and many values are short (`key:000000123456`, counters,
//! flags). Storing them inline in the 24 bytes a boxed slice plus its tag
//! would take anyway saves one heap allocation (and its 16-byte malloc
//! overhead) per key. This is the small-string optimization of the server
//! design note (Abseil tip #13); unlike `compact_str` it is binary-safe, as
//! Redis strings are.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Bytes stored inline, without a heap allocation (22).
pub const INLINE_CAP: usize = 22;

/// A binary-safe byte string, 24 bytes in size: up to [`INLINE_CAP`] bytes
/// inline, longer strings in one exact-size heap allocation.
#[derive(Clone)]
pub enum SmallBytes {
    /// Short string kept in place.
    #[doc(hidden)]
    Inline {
        /// Length in bytes, at most `INLINE_CAP`.
        len: u8,
        /// Storage; bytes past `len` are zero.
        data: [u8; INLINE_CAP],
    },
    /// Longer string on the heap.
    #[doc(hidden)]
    Heap(Box<[u8]>),
}

impl SmallBytes {
    /// The empty string.
    pub const EMPTY: SmallBytes = SmallBytes::Inline {
        len: 0,
        data: [0; INLINE_CAP],
    };

    /// Copies `bytes`, inline when it fits.
    #[inline]
    pub fn new(bytes: &[u8]) -> SmallBytes {
        if bytes.len() <= INLINE_CAP {
            let mut data = [0; INLINE_CAP];
            data[..bytes.len()].copy_from_slice(bytes);
            SmallBytes::Inline {
                len: bytes.len() as u8,
                data,
            }
        } else {
            SmallBytes::Heap(bytes.into())
        }
    }

    /// Takes ownership of `vec`: inline when short, else its buffer shrunk to fit.
    pub fn from_vec(vec: Vec<u8>) -> SmallBytes {
        if vec.len() <= INLINE_CAP {
            SmallBytes::new(&vec)
        } else {
            SmallBytes::Heap(vec.into_boxed_slice())
        }
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, data } => &data[..*len as usize],
            SmallBytes::Heap(b) => b,
        }
    }

    /// Mutable access to the bytes (the length cannot change through it).
    #[inline]
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        match self {
            SmallBytes::Inline { len, data } => &mut data[..*len as usize],
            SmallBytes::Heap(b) => b,
        }
    }

    /// Whether the bytes live inline (no heap allocation).
    #[inline]
    pub fn is_inline(&self) -> bool {
        matches!(self, SmallBytes::Inline { .. })
    }

    /// Heap bytes owned beyond the 24 bytes of the value itself.
    pub fn heap_size(&self) -> usize {
        match self {
            SmallBytes::Inline { .. } => 0,
            SmallBytes::Heap(b) => b.len(),
        }
    }

    /// Converts into an owned vector (reuses the heap buffer when there is one).
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            SmallBytes::Inline { len, data } => data[..len as usize].to_vec(),
            SmallBytes::Heap(b) => b.into_vec(),
        }
    }
}

impl Default for SmallBytes {
    fn default() -> Self {
        SmallBytes::EMPTY
    }
}

impl Deref for SmallBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for SmallBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for SmallBytes {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SmallBytes {}

impl PartialOrd for SmallBytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallBytes {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for SmallBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(b: &[u8]) -> Self {
        SmallBytes::new(b)
    }
}

impl From<&str> for SmallBytes {
    fn from(s: &str) -> Self {
        SmallBytes::new(s.as_bytes())
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.as_bytes().escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_24_bytes() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        assert_eq!(std::mem::size_of::<Option<SmallBytes>>(), 24);
    }

    #[test]
    fn inline_up_to_cap_then_heap() {
        for n in 0..64 {
            let v: Vec<u8> = (0..n as u8).collect();
            let s = SmallBytes::new(&v);
            assert_eq!(s.as_bytes(), &v[..]);
            assert_eq!(s.is_inline(), n <= INLINE_CAP);
            assert_eq!(SmallBytes::from_vec(v.clone()), s);
            assert_eq!(s.clone().into_vec(), v);
        }
    }
}
