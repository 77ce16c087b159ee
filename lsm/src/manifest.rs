//! The manifest: the set of live tables, the oldest WAL still needed and
//! the counters, rewritten whole on every change and replaced atomically
//! (write `MANIFEST.tmp`, fsync, rename over `MANIFEST`, fsync the
//! directory), as LevelDB's `CURRENT` file is.
//!
//! ```text
//! [file header: 16 bytes][len: u32 LE][crc32c: u32 LE][reserved: 8 bytes][rkyv ManifestData]
//! ```
//!
//! The manifest is small and read once per open, so it is validated with
//! bytecheck and deserialized.

use std::path::Path;

use rkyv::{Archive, Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::{FileHeader, FileKind, HEADER_LEN};
use crate::fs::FileSystem;

/// File name of the manifest.
pub const MANIFEST: &str = "MANIFEST";
/// File name of a manifest being written.
pub const MANIFEST_TMP: &str = "MANIFEST.tmp";
/// Largest manifest accepted, in bytes.
const MAX_MANIFEST_LEN: u64 = 256 << 20;

/// A live table as the manifest records it.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TableMeta {
    /// File number (`{number:06}.sst`).
    pub number: u64,
    /// File size, in bytes.
    pub size: u64,
    /// Smallest internal key.
    pub smallest: Vec<u8>,
    /// Largest internal key.
    pub largest: Vec<u8>,
    /// Smallest sequence number.
    pub min_seq: u64,
    /// Largest sequence number.
    pub max_seq: u64,
    /// Entries.
    pub num_entries: u64,
}

/// The manifest's contents.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct ManifestData {
    /// Next file number to hand out.
    pub next_file: u64,
    /// WAL files numbered below this are fully flushed into tables.
    pub log_number: u64,
    /// Largest sequence number in the tables.
    pub last_seq: u64,
    /// Tables per level; level 0 newest first (overlapping), deeper levels
    /// (written by compaction, issue 6) sorted by key and disjoint.
    pub levels: Vec<Vec<TableMeta>>,
}

/// Writes `data` as the new manifest of `dir`, atomically.
///
/// # Errors
/// [`Error::Io`].
pub fn write(fs: &dyn FileSystem, dir: &Path, data: &ManifestData) -> Result<()> {
    let archive = rkyv::to_bytes::<rkyv::rancor::Error>(data).expect("in-memory");
    let mut out = Vec::with_capacity(archive.len() + 32);
    out.extend_from_slice(&FileHeader::encode(FileKind::Manifest));
    out.extend_from_slice(&(archive.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&archive).to_le_bytes());
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&archive);
    let tmp = dir.join(MANIFEST_TMP);
    let mut f = fs.create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.append(&out).map_err(|e| Error::io(&tmp, e))?;
    f.sync().map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    let dst = dir.join(MANIFEST);
    fs.rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))
}

/// Reads the manifest of `dir`; `Ok(None)` if there is none.
///
/// # Errors
/// [`Error::BadMagic`], [`Error::UnsupportedVersion`],
/// [`Error::Corruption`] naming the file and offset, [`Error::Io`].
pub fn read(fs: &dyn FileSystem, dir: &Path) -> Result<Option<ManifestData>> {
    let path = dir.join(MANIFEST);
    if !fs.exists(&path) {
        return Ok(None);
    }
    let f = fs.open(&path).map_err(|e| Error::io(&path, e))?;
    if f.len() > MAX_MANIFEST_LEN {
        return Err(Error::corruption(
            &path,
            0,
            "manifest larger than the maximum",
        ));
    }
    let buf = fs
        .read_all_aligned(&path)
        .map_err(|e| Error::io(&path, e))?;
    decode(&buf, &path).map(Some)
}

/// Decodes manifest file bytes (16-byte aligned).
///
/// # Errors
/// As [`read`].
pub fn decode(buf: &[u8], path: &Path) -> Result<ManifestData> {
    FileHeader::check(buf, FileKind::Manifest, path)?;
    if buf.len() < HEADER_LEN + 16 {
        return Err(Error::corruption(
            path,
            HEADER_LEN as u64,
            "manifest truncated",
        ));
    }
    let len = u32::from_le_bytes(buf[16..20].try_into().expect("4")) as usize;
    let want = u32::from_le_bytes(buf[20..24].try_into().expect("4"));
    let body = &buf[32..];
    if body.len() != len {
        return Err(Error::corruption(path, 16, "manifest length mismatch"));
    }
    if crc32c::crc32c(body) != want {
        return Err(Error::corruption(path, 32, "manifest checksum mismatch"));
    }
    let a = rkyv::access::<ArchivedManifestData, rkyv::rancor::Error>(body)
        .map_err(|e| Error::corruption(path, 32, format!("invalid manifest archive: {e}")))?;
    rkyv::deserialize::<ManifestData, rkyv::rancor::Error>(a)
        .map_err(|e| Error::corruption(path, 32, format!("invalid manifest archive: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::StdFs;

    fn sample() -> ManifestData {
        ManifestData {
            next_file: 9,
            log_number: 5,
            last_seq: 1234,
            levels: vec![vec![TableMeta {
                number: 4,
                size: 100,
                smallest: b"a\0\0\0\0\0\0\0\0".to_vec(),
                largest: b"z\0\0\0\0\0\0\0\0".to_vec(),
                min_seq: 1,
                max_seq: 1234,
                num_entries: 10,
            }]],
        }
    }

    #[test]
    fn round_trip_and_replace() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(&StdFs, dir.path()).unwrap(), None);
        write(&StdFs, dir.path(), &sample()).unwrap();
        assert_eq!(read(&StdFs, dir.path()).unwrap(), Some(sample()));
        let mut s2 = sample();
        s2.levels[0].clear();
        write(&StdFs, dir.path(), &s2).unwrap();
        assert_eq!(read(&StdFs, dir.path()).unwrap(), Some(s2));
        assert!(!dir.path().join(MANIFEST_TMP).exists());
    }

    #[test]
    fn every_flip_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        write(&StdFs, dir.path(), &sample()).unwrap();
        let p = dir.path().join(MANIFEST);
        let good = std::fs::read(&p).unwrap();
        for i in 0..good.len() {
            if (12..16).contains(&i) || (24..32).contains(&i) {
                continue; // reserved bytes
            }
            let mut b = good.clone();
            b[i] ^= 0x01;
            std::fs::write(&p, &b).unwrap();
            let e = read(&StdFs, dir.path()).unwrap_err();
            assert!(e.to_string().contains("MANIFEST"), "{e}");
        }
    }
}
