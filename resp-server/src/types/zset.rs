//! A sorted set: members ordered by score. (placeholder: being built)

/// A sorted set: members ordered by score.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZSet {
    len: usize,
}

impl ZSet {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    /// Heap bytes owned (for memory stats).
    pub fn heap_size(&self) -> usize {
        0
    }
}
