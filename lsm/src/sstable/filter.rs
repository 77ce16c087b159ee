//! Bloom filters over user keys, one per table: LevelDB's
//! `util/bloom.cc` (Bloom, 1970; double hashing after Kirsch and
//! Mitzenmacher, "Less Hashing, Same Performance", 2006), with a 64-bit
//! xxh3 of the key split into the two 32-bit hashes.
//!
//! ```text
//! filter: [bit array: n bytes][probes k: u8]      (on disk: then crc32c u32 LE)
//! ```
//!
//! About 10 bits per key give a false-positive rate near 1 %.

/// Bits per key of the filters this crate writes.
pub const BITS_PER_KEY: usize = 10;
/// Largest number of probes accepted when reading a filter (more is
/// treated as "may contain", LevelDB's rule for unknown encodings).
const MAX_PROBES: u8 = 30;

#[inline]
fn hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// Builds a filter from the hashes of the distinct user keys of a table.
#[derive(Debug, Default)]
pub struct FilterBuilder {
    hashes: Vec<u64>,
}

impl FilterBuilder {
    /// Adds a user key (call once per distinct user key; repeats only cost
    /// space).
    pub fn add(&mut self, user_key: &[u8]) {
        self.hashes.push(hash(user_key));
    }

    /// Number of keys added.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether no key was added.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Appends the encoded filter (bit array and probe count, no checksum)
    /// to `out` and resets the builder.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        // k = bits_per_key * ln 2, clamped as LevelDB does.
        let k = ((BITS_PER_KEY as f64 * 0.69) as u8).clamp(1, MAX_PROBES);
        // At least 64 bits, so a small table does not get a useless filter.
        let bits = (self.hashes.len() * BITS_PER_KEY).max(64);
        let bytes = bits.div_ceil(8);
        let bits = bytes * 8;
        let start = out.len();
        out.resize(start + bytes, 0);
        let arr = &mut out[start..];
        for &h in &self.hashes {
            let (mut h1, h2) = (h as u32, (h >> 32) as u32 | 1);
            for _ in 0..k {
                let pos = h1 as usize % bits;
                arr[pos / 8] |= 1 << (pos % 8);
                h1 = h1.wrapping_add(h2);
            }
        }
        out.push(k);
        self.hashes.clear();
    }
}

/// Whether the encoded `filter` may contain `user_key`: `false` means the
/// key is certainly absent. A malformed filter answers `true`.
pub fn may_contain(filter: &[u8], user_key: &[u8]) -> bool {
    let Some((&k, arr)) = filter.split_last() else {
        return true;
    };
    if arr.is_empty() || k == 0 || k > MAX_PROBES {
        return true;
    }
    let bits = arr.len() * 8;
    let h = hash(user_key);
    let (mut h1, h2) = (h as u32, (h >> 32) as u32 | 1);
    for _ in 0..k {
        let pos = h1 as usize % bits;
        if arr[pos / 8] & (1 << (pos % 8)) == 0 {
            return false;
        }
        h1 = h1.wrapping_add(h2);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(keys: impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
        let mut b = FilterBuilder::default();
        for k in keys {
            b.add(&k);
        }
        let mut out = Vec::new();
        b.finish_into(&mut out);
        out
    }

    #[test]
    fn no_false_negatives_and_about_one_percent_false_positives() {
        for n in [1usize, 10, 1000, 20_000] {
            let f = build((0..n).map(|i| format!("key{i}").into_bytes()));
            for i in 0..n {
                assert!(
                    may_contain(&f, format!("key{i}").as_bytes()),
                    "n {n} key {i}"
                );
            }
            let fp = (0..10_000)
                .filter(|i| may_contain(&f, format!("other{i}").as_bytes()))
                .count();
            // 10 bits per key: ~0.8 % expected; small filters are larger.
            assert!(fp < 300, "n {n}: {fp} false positives in 10000");
        }
    }

    #[test]
    fn malformed_filters_answer_maybe() {
        assert!(may_contain(&[], b"a"));
        assert!(may_contain(&[0], b"a"));
        assert!(may_contain(&[0, 0, 0], b"a"));
        assert!(may_contain(&[0, 0, 200], b"a"));
        let empty = build(std::iter::empty());
        assert!(!may_contain(&empty, b"a"));
    }
}
