//! Data blocks: prefix-compressed entries with restart points, the block
//! format of LevelDB (`doc/table_format.md`, `table/block_builder.cc`).
//!
//! ```text
//! entry:    [shared: varint][unshared: varint][value len: varint][key delta][value]
//! block:    [entry]* [restart offset: u32 LE]* [restart count: u32 LE]
//! on disk:  [block, maybe lz4-compressed][compression: u8][crc32c of both: u32 LE]
//! ```
//!
//! Every `RESTART_INTERVAL`-th entry stores its whole key (`shared == 0`);
//! a seek binary-searches the restart points, then scans forward.

use std::cmp::Ordering;
use std::ops::Range;

use bytes::Bytes;

use crate::format::{cmp_internal, get_varint, put_varint};

/// Entries between restart points.
pub const RESTART_INTERVAL: usize = 16;
/// Bytes after a block on disk: compression type and CRC-32C.
pub const BLOCK_TRAILER_LEN: usize = 5;
/// Largest decoded block accepted, in bytes (a block holds at least one
/// entry, and a value may be up to 64 MiB).
pub const MAX_BLOCK_LEN: usize = 80 << 20;

/// Compression of a block on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Stored as is.
    #[default]
    None,
    /// LZ4 block format (lz4_flex), uncompressed size prepended as u32 LE;
    /// used only for blocks it shrinks by at least 1/8.
    Lz4,
}

impl Compression {
    /// The type byte.
    pub fn to_u8(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Lz4 => 1,
        }
    }
}

/// Why a block did not decode: an offset inside the decoded block and a
/// reason. The table layer turns it into [`crate::Error::Corruption`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockError {
    /// Offset in the decoded block, in bytes.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

type BResult<T> = std::result::Result<T, BlockError>;

fn berr<T>(offset: usize, reason: &'static str) -> BResult<T> {
    Err(BlockError { offset, reason })
}

/// Builds one block.
#[derive(Debug, Default)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    last_key: Vec<u8>,
    count: usize,
}

impl BlockBuilder {
    /// Appends an entry; keys must come in increasing internal-key order.
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.count.is_multiple_of(RESTART_INTERVAL) {
            self.restarts.push(self.buf.len() as u32);
            0
        } else {
            self.last_key
                .iter()
                .zip(key)
                .take_while(|(a, b)| a == b)
                .count()
        };
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, (key.len() - shared) as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.count += 1;
    }

    /// Estimated size of the finished block, in bytes.
    pub fn size_estimate(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The last key added.
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// Finishes the block into `out` (uncompressed, no trailer) and resets
    /// the builder.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.buf);
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.buf.clear();
        self.restarts.clear();
        self.count = 0;
    }
}

/// Appends the on-disk form of `raw` (compressed if asked and worth it,
/// then the trailer) to `out`; returns the length before the trailer.
pub fn encode_block(raw: &[u8], compression: Compression, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let mut kind = Compression::None;
    if compression == Compression::Lz4 {
        let c = lz4_flex::compress_prepend_size(raw);
        if c.len() < raw.len() - raw.len() / 8 {
            out.extend_from_slice(&c);
            kind = Compression::Lz4;
        }
    }
    if kind == Compression::None {
        out.extend_from_slice(raw);
    }
    let len = out.len() - start;
    out.push(kind.to_u8());
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    len
}

/// Verifies the trailer of an on-disk block (`len` content bytes plus the
/// trailer) and returns the decoded block bytes.
///
/// # Errors
/// A [`BlockError`] with an offset relative to the on-disk block start.
pub fn decode_block(on_disk: Bytes) -> BResult<Bytes> {
    if on_disk.len() < BLOCK_TRAILER_LEN {
        return berr(0, "block shorter than its trailer");
    }
    let n = on_disk.len() - BLOCK_TRAILER_LEN;
    let want = u32::from_le_bytes(on_disk[n + 1..].try_into().expect("4"));
    if crc32c::crc32c(&on_disk[..=n]) != want {
        return berr(0, "block checksum mismatch");
    }
    match on_disk[n] {
        0 => Ok(on_disk.slice(..n)),
        1 => {
            let c = &on_disk[..n];
            if c.len() < 4 {
                return berr(0, "lz4 block without size");
            }
            let size = u32::from_le_bytes(c[..4].try_into().expect("4")) as usize;
            // lz4 expands at most ~255x; never allocate more than that.
            if size > MAX_BLOCK_LEN || size > c.len().saturating_mul(255) + 16 {
                return berr(0, "lz4 block size out of range");
            }
            match lz4_flex::decompress_size_prepended(c) {
                Ok(v) => Ok(Bytes::from(v)),
                Err(_) => berr(0, "lz4 block does not decompress"),
            }
        }
        _ => berr(n, "unknown block compression"),
    }
}

/// Position of one decoded entry: key in a shared key buffer, value in the
/// block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ent {
    /// Key range in the key buffer.
    pub key: (u32, u32),
    /// Value range in the block.
    pub value: (u32, u32),
}

/// A decoded block, checked for shape on construction.
#[derive(Debug, Clone)]
pub struct Block {
    data: Bytes,
    restarts_off: usize,
    num_restarts: usize,
}

impl Block {
    /// Wraps decoded block bytes, checking the restart array.
    ///
    /// # Errors
    /// A [`BlockError`] if the restart array does not fit or points
    /// outside the entries.
    pub fn new(data: Bytes) -> BResult<Block> {
        if data.len() < 4 {
            return berr(0, "block shorter than its restart count");
        }
        let n = u32::from_le_bytes(data[data.len() - 4..].try_into().expect("4")) as usize;
        let Some(restarts_off) = n
            .checked_mul(4)
            .and_then(|b| (data.len() - 4).checked_sub(b))
        else {
            return berr(data.len() - 4, "restart count does not fit the block");
        };
        if n == 0 && restarts_off != 0 {
            return berr(data.len() - 4, "block with entries but no restart point");
        }
        let mut prev = 0usize;
        for i in 0..n {
            let at = restarts_off + 4 * i;
            let r = u32::from_le_bytes(data[at..at + 4].try_into().expect("4")) as usize;
            if r >= restarts_off || (i > 0 && r <= prev) || (i == 0 && r != 0) {
                return berr(at, "restart point out of order or range");
            }
            prev = r;
        }
        Ok(Block {
            data,
            restarts_off,
            num_restarts: n,
        })
    }

    /// The block bytes.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    fn restart(&self, i: usize) -> usize {
        let at = self.restarts_off + 4 * i;
        u32::from_le_bytes(self.data[at..at + 4].try_into().expect("4")) as usize
    }

    /// Decodes the entry at `pos` given the previous key in `key`; leaves
    /// the entry's key in `key`; returns (value range, next position).
    fn decode_at(&self, pos: usize, key: &mut Vec<u8>) -> BResult<(Range<usize>, usize)> {
        let d = &self.data[..self.restarts_off];
        let mut p = pos;
        let (Some(shared), Some(unshared), Some(vlen)) = (
            get_varint(d, &mut p),
            get_varint(d, &mut p),
            get_varint(d, &mut p),
        ) else {
            return berr(pos, "truncated entry header");
        };
        let (shared, unshared, vlen) = (shared as usize, unshared as usize, vlen as usize);
        if shared > key.len() {
            return berr(pos, "shared prefix longer than previous key");
        }
        let Some(kend) = p.checked_add(unshared).filter(|&e| e <= d.len()) else {
            return berr(pos, "key runs past the entries");
        };
        let Some(vend) = kend.checked_add(vlen).filter(|&e| e <= d.len()) else {
            return berr(pos, "value runs past the entries");
        };
        key.truncate(shared);
        key.extend_from_slice(&d[p..kend]);
        if key.len() < 8 {
            return berr(pos, "key shorter than its trailer");
        }
        Ok((kend..vend, vend))
    }

    /// Finds the first entry with internal key >= `target`; leaves its key
    /// in `key` and returns its value (a slice of the block, no copy).
    ///
    /// # Errors
    /// A [`BlockError`] for a malformed entry.
    pub fn seek(&self, target: &[u8], key: &mut Vec<u8>) -> BResult<Option<Bytes>> {
        if self.num_restarts == 0 {
            return Ok(None);
        }
        // Last restart whose key < target.
        let (mut lo, mut hi) = (0usize, self.num_restarts);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            key.clear();
            let r = self.restart(mid);
            self.decode_at(r, key)?;
            if cmp_internal(key, target) == Ordering::Less {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let mut pos = self.restart(lo);
        key.clear();
        while pos < self.restarts_off {
            let (v, next) = self.decode_at(pos, key)?;
            if cmp_internal(key, target) != Ordering::Less {
                return Ok(Some(self.data.slice(v)));
            }
            pos = next;
        }
        Ok(None)
    }

    /// Decodes every entry: keys appended to `keys`, positions to `ents`
    /// (both cleared first).
    ///
    /// # Errors
    /// A [`BlockError`] for a malformed entry.
    pub fn decode_all(&self, keys: &mut Vec<u8>, ents: &mut Vec<Ent>) -> BResult<()> {
        keys.clear();
        ents.clear();
        let mut key = Vec::new();
        let mut pos = 0;
        while pos < self.restarts_off {
            let (v, next) = self.decode_at(pos, &mut key)?;
            let ks = keys.len();
            keys.extend_from_slice(&key);
            ents.push(Ent {
                key: (ks as u32, keys.len() as u32),
                value: (v.start as u32, v.end as u32),
            });
            pos = next;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::internal_key;

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    fn build(n: usize) -> (Pairs, Bytes) {
        let mut b = BlockBuilder::default();
        let mut all = Vec::new();
        for i in 0..n {
            let k = internal_key(format!("user{:05}", i * 2).as_bytes(), 7, 1);
            let v = format!("value-{i}").into_bytes();
            b.add(&k, &v);
            all.push((k, v));
        }
        let mut out = Vec::new();
        b.finish_into(&mut out);
        (all, Bytes::from(out))
    }

    #[test]
    fn prefix_compression_round_trips_and_shrinks() {
        let (all, raw) = build(100);
        let plain: usize = all.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(raw.len() < plain, "{} >= {plain}", raw.len());
        let b = Block::new(raw).unwrap();
        assert_eq!(b.num_restarts, 100usize.div_ceil(RESTART_INTERVAL));
        let (mut keys, mut ents) = (Vec::new(), Vec::new());
        b.decode_all(&mut keys, &mut ents).unwrap();
        assert_eq!(ents.len(), 100);
        for (e, (k, v)) in ents.iter().zip(&all) {
            assert_eq!(&keys[e.key.0 as usize..e.key.1 as usize], &k[..]);
            assert_eq!(&b.data()[e.value.0 as usize..e.value.1 as usize], &v[..]);
        }
    }

    #[test]
    fn seek_finds_first_key_at_or_after() {
        let (all, raw) = build(100);
        let b = Block::new(raw).unwrap();
        let mut key = Vec::new();
        for (i, (k, v)) in all.iter().enumerate() {
            assert_eq!(b.seek(k, &mut key).unwrap().unwrap(), &v[..]);
            assert_eq!(&key, k);
            // A user key between two stored ones lands on the next.
            let between = internal_key(format!("user{:05}", i * 2 + 1).as_bytes(), 9, 1);
            let got = b.seek(&between, &mut key).unwrap();
            if i + 1 < all.len() {
                assert_eq!(got.unwrap(), &all[i + 1].1[..]);
            } else {
                assert!(got.is_none());
            }
        }
    }

    #[test]
    fn value_is_a_slice_of_the_block() {
        let (all, raw) = build(3);
        let b = Block::new(raw.clone()).unwrap();
        let v = b.seek(&all[1].0, &mut Vec::new()).unwrap().unwrap();
        let base = raw.as_ptr() as usize;
        assert!((v.as_ptr() as usize) >= base && (v.as_ptr() as usize) < base + raw.len());
    }

    #[test]
    fn trailer_crc_and_lz4() {
        let (_, raw) = build(200);
        for c in [Compression::None, Compression::Lz4] {
            let mut out = Vec::new();
            encode_block(&raw, c, &mut out);
            let dec = decode_block(Bytes::from(out.clone())).unwrap();
            assert_eq!(dec, raw);
            if c == Compression::Lz4 {
                assert!(out.len() < raw.len());
            }
            for i in 0..out.len() {
                let mut bad = out.clone();
                bad[i] ^= 0x10;
                assert!(decode_block(Bytes::from(bad)).is_err(), "flip at {i}");
            }
        }
    }

    #[test]
    fn garbage_blocks_are_errors_not_panics() {
        let mut rng = fastrand::Rng::with_seed(1);
        let (_, raw) = build(40);
        for _ in 0..2000 {
            let mut b = raw.to_vec();
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..b.len());
                b[i] = rng.u8(..);
            }
            if let Ok(block) = Block::new(Bytes::from(b)) {
                let _ = block.decode_all(&mut Vec::new(), &mut Vec::new());
                let _ = block.seek(&internal_key(b"user00010", 1, 1), &mut Vec::new());
            }
        }
    }
}
