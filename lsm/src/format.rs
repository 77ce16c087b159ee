//! Shared format pieces: the 16-byte file header, internal keys, varints
//! and checksums.
//!
//! Every file starts with a [`FileHeader`]: 8 bytes of magic naming the
//! engine and the file kind, a little-endian `u32` format version and 4
//! reserved zero bytes (16 bytes in all, so the records after it stay
//! 16-byte aligned).
//!
//! An *internal key* is `[user key][trailer: u64 LE]` with
//! `trailer = sequence << 8 | kind`, as in LevelDB (`db/dbformat.h`).
//! Internal keys sort by user key ascending, then by trailer descending
//! (newest version first).

use std::cmp::Ordering;
use std::path::Path;

use crate::error::{Error, Result};

/// Length of every file's header, in bytes.
pub const HEADER_LEN: usize = 16;
/// The on-disk format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// The largest sequence number (56 bits).
pub const MAX_SEQ: u64 = (1 << 56) - 1;
/// Longest user key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 64 * 1024;
/// Largest value accepted, in bytes.
pub const MAX_VALUE_LEN: usize = 64 * 1024 * 1024;

/// The kind of a file, each with its own magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Write-ahead log.
    Wal,
    /// Sorted string table.
    Table,
    /// The manifest (set of live tables).
    Manifest,
}

impl FileKind {
    /// The magic bytes of this kind.
    pub const fn magic(self) -> [u8; 8] {
        match self {
            FileKind::Wal => *b"rkvLSMwl",
            FileKind::Table => *b"rkvLSMst",
            FileKind::Manifest => *b"rkvLSMmf",
        }
    }
    /// A short name for error messages.
    pub const fn name(self) -> &'static str {
        match self {
            FileKind::Wal => "wal",
            FileKind::Table => "sstable",
            FileKind::Manifest => "manifest",
        }
    }
}

/// The 16-byte header every file starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader;

impl FileHeader {
    /// The header bytes of a file of `kind` at the current version.
    pub fn encode(kind: FileKind) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..8].copy_from_slice(&kind.magic());
        h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        h
    }

    /// Checks that `bytes` start with the header of `kind` at a version
    /// this build reads.
    ///
    /// # Errors
    /// [`Error::BadMagic`] if the magic differs or the file is shorter
    /// than a header; [`Error::UnsupportedVersion`] for another version.
    pub fn check(bytes: &[u8], kind: FileKind, file: &Path) -> Result<()> {
        if bytes.len() < HEADER_LEN || bytes[..8] != kind.magic() {
            return Err(Error::BadMagic {
                file: file.to_path_buf(),
                kind: kind.name(),
            });
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                file: file.to_path_buf(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        Ok(())
    }
}

/// Whether an entry is a value or a deletion marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A deletion marker (tombstone).
    Delete = 0,
    /// A value.
    Put = 1,
}

impl Kind {
    /// Decodes a kind byte.
    pub fn from_u8(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Delete),
            1 => Some(Kind::Put),
            _ => None,
        }
    }
}

/// The kind byte used in seek targets: sorts before every real kind of the
/// same sequence number.
pub const KIND_SEEK: u8 = 0xff;

/// Appends the internal key `(user_key, seq, kind)` to `out`.
pub fn push_internal_key(out: &mut Vec<u8>, user_key: &[u8], seq: u64, kind: u8) {
    out.extend_from_slice(user_key);
    out.extend_from_slice(&((seq << 8) | u64::from(kind)).to_le_bytes());
}

/// The internal key `(user_key, seq, kind)`.
pub fn internal_key(user_key: &[u8], seq: u64, kind: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(user_key.len() + 8);
    push_internal_key(&mut v, user_key, seq, kind);
    v
}

/// Splits an internal key into `(user key, sequence, kind byte)`; `None`
/// if it is shorter than its 8-byte trailer.
#[inline]
pub fn split_internal_key(ikey: &[u8]) -> Option<(&[u8], u64, u8)> {
    let n = ikey.len().checked_sub(8)?;
    let trailer = u64::from_le_bytes(ikey[n..].try_into().ok()?);
    Some((&ikey[..n], trailer >> 8, trailer as u8))
}

/// The user key of a well-formed internal key (the whole slice if short).
#[inline]
pub fn user_key(ikey: &[u8]) -> &[u8] {
    &ikey[..ikey.len().saturating_sub(8)]
}

/// Orders internal keys: user key ascending, then trailer descending.
/// Malformed (short) keys sort as if their trailer were zero.
#[inline]
pub fn cmp_internal(a: &[u8], b: &[u8]) -> Ordering {
    let (ua, ta) = trailer_split(a);
    let (ub, tb) = trailer_split(b);
    ua.cmp(ub).then(tb.cmp(&ta))
}

#[inline]
fn trailer_split(k: &[u8]) -> (&[u8], u64) {
    match k.len().checked_sub(8) {
        Some(n) => (
            &k[..n],
            u64::from_le_bytes(k[n..].try_into().expect("8 bytes")),
        ),
        None => (k, 0),
    }
}

/// CRC-32C (Castagnoli) of `data`, hardware-accelerated where available.
#[inline]
pub fn crc(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Appends `v` as a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a LEB128 varint of at most 10 bytes from `buf[*pos..]`, advancing
/// `pos`; `None` if truncated or overlong.
#[inline]
pub fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Validates a user key and value against the size limits.
pub(crate) fn check_sizes(key: &[u8], value: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidArgument(format!(
            "key of {} bytes exceeds {MAX_KEY_LEN}",
            key.len()
        )));
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::InvalidArgument(format!(
            "value of {} bytes exceeds {MAX_VALUE_LEN}",
            value.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_key_order_is_user_asc_seq_desc() {
        let a1 = internal_key(b"a", 1, 1);
        let a5 = internal_key(b"a", 5, 1);
        let b0 = internal_key(b"b", 0, 0);
        assert_eq!(cmp_internal(&a5, &a1), Ordering::Less);
        assert_eq!(cmp_internal(&a1, &b0), Ordering::Less);
        let seek = internal_key(b"a", 5, KIND_SEEK);
        assert_eq!(cmp_internal(&seek, &a5), Ordering::Less);
        assert_eq!(split_internal_key(&a5), Some((&b"a"[..], 5, 1)));
        assert_eq!(split_internal_key(b"short"), None);
    }

    #[test]
    fn varint_round_trip_and_rejects_garbage() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut p = 0;
            assert_eq!(get_varint(&b, &mut p), Some(v));
            assert_eq!(p, b.len());
        }
        let mut p = 0;
        assert_eq!(get_varint(&[0x80, 0x80], &mut p), None);
        let mut p = 0;
        assert_eq!(get_varint(&[0xff; 11], &mut p), None);
    }

    #[test]
    fn header_checks_magic_and_version() {
        let p = Path::new("f");
        let h = FileHeader::encode(FileKind::Wal);
        FileHeader::check(&h, FileKind::Wal, p).unwrap();
        assert!(matches!(
            FileHeader::check(&h, FileKind::Table, p),
            Err(Error::BadMagic { .. })
        ));
        let mut v2 = h;
        v2[8] = 2;
        assert!(matches!(
            FileHeader::check(&v2, FileKind::Wal, p),
            Err(Error::UnsupportedVersion { found: 2, .. })
        ));
        assert!(matches!(
            FileHeader::check(&h[..5], FileKind::Wal, p),
            Err(Error::BadMagic { .. })
        ));
    }
}
