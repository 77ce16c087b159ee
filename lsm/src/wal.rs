//! The write-ahead log: one record per committed batch group member.
//!
//! File layout: the 16-byte [`FileHeader`](crate::format::FileHeader) of
//! kind WAL, then records, each 16-byte aligned:
//!
//! ```text
//! [len: u32 LE][crc: u32 LE][first seq: u64 LE][payload: len bytes][zero pad to 16]
//! ```
//!
//! `crc` is CRC-32C over `len`, `first seq` and the payload, and the pad
//! bytes must be zero, so a record is accepted only if all of it is what
//! was written. The payload is the rkyv
//! archive of a [`BatchRecord`](crate::batch::BatchRecord); since the file
//! is read into a 16-byte aligned buffer and every payload starts at a
//! multiple of 16, the archive is accessed in place (zero copy).
//!
//! Recovery rules (RocksDB's `kTolerateCorruptedTailRecords`, made
//! explicit):
//! - fewer than 16 bytes left, a record whose length runs past the end of
//!   the file, a bad record that ends exactly at the end of the file, or a
//!   bad record followed only by zero bytes: a *torn tail* (crash
//!   mid-write); recovery keeps what precedes it.
//! - any other bad record: *corruption*, an error naming the file and the
//!   record's offset.
//!
//! A length field damaged so that it points past the end of the file is
//! indistinguishable from a torn write and is treated as one.

use std::path::{Path, PathBuf};

use crate::batch::ArchivedBatchRecord;
use crate::error::{Error, Result};
use crate::format::{crc, FileHeader, FileKind, HEADER_LEN};
use crate::fs::WritableFile;

/// Length of a record header, in bytes.
pub const RECORD_HEADER_LEN: usize = 16;
/// Largest payload of one record, in bytes (1 GiB).
pub const MAX_RECORD_LEN: usize = 1 << 30;

/// Rounds `n` up to a multiple of 16.
#[inline]
fn pad16(n: usize) -> usize {
    (n + 15) & !15
}

/// Appends one framed record to `out` (whose length must be a multiple of
/// 16 relative to the file start).
pub fn encode_record(out: &mut Vec<u8>, first_seq: u64, payload: &[u8]) {
    debug_assert!(payload.len() <= MAX_RECORD_LEN);
    let len = payload.len() as u32;
    let mut h = crc32c::crc32c(&len.to_le_bytes());
    h = crc32c::crc32c_append(h, &first_seq.to_le_bytes());
    h = crc32c::crc32c_append(h, payload);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&first_seq.to_le_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + pad16(payload.len()) - payload.len(), 0);
}

/// One verified record.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Offset of the record header in the file, in bytes.
    pub offset: u64,
    /// Sequence number of the batch's first entry.
    pub first_seq: u64,
    /// The payload (rkyv archive of the batch), its checksum verified.
    pub payload: &'a [u8],
}

impl<'a> Record<'a> {
    /// The archived batch, validated by rkyv's bytecheck (for bytes not
    /// known to come from this engine).
    ///
    /// # Errors
    /// [`Error::Corruption`] naming `file` and the record's offset.
    pub fn batch_checked(&self, file: &Path) -> Result<&'a ArchivedBatchRecord> {
        rkyv::access::<ArchivedBatchRecord, rkyv::rancor::Error>(self.payload).map_err(|e| {
            Error::corruption(file, self.offset, format!("invalid batch archive: {e}"))
        })
    }

    /// The archived batch without structural validation: the trusted path
    /// of ARCHITECTURE.md (the WAL is written by this engine only, and the
    /// CRC-32C over exactly these bytes verified when the record was read).
    pub fn batch_trusted(&self) -> &'a ArchivedBatchRecord {
        // SAFETY: `payload` comes from `RecordReader`, which returns a
        // record only after the CRC-32C over its length, sequence and
        // exactly these payload bytes matched, and WAL files are written
        // only by `encode_record` with a payload from `WriteBatch::encode`
        // (a valid `BatchRecord` archive). The payload starts at a 16-byte
        // aligned offset of a 16-byte aligned buffer (see module docs and
        // `RecordReader::new`). Tested by `wal::tests::trusted_access_reads_batches`
        // and the model/crash tests.
        unsafe { rkyv::access_unchecked::<ArchivedBatchRecord>(self.payload) }
    }
}

/// How a WAL file's scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every byte belonged to a whole record.
    Clean,
    /// A torn tail starting at this offset was ignored.
    TornTail(u64),
}

/// Reads the records of one WAL file held in memory.
#[derive(Debug)]
pub struct RecordReader<'a> {
    buf: &'a [u8],
    pos: usize,
    file: PathBuf,
    end: Option<End>,
}

impl<'a> RecordReader<'a> {
    /// A reader over the whole file `buf` (which must be 16-byte aligned
    /// for [`Record::batch_trusted`]); checks the file header.
    ///
    /// A file shorter than a header whose bytes are a prefix of the header
    /// (a crash right after creating it) reads as empty.
    ///
    /// # Errors
    /// [`Error::BadMagic`] or [`Error::UnsupportedVersion`].
    pub fn new(buf: &'a [u8], file: &Path) -> Result<Self> {
        let file = file.to_path_buf();
        if buf.len() < HEADER_LEN {
            let h = FileHeader::encode(FileKind::Wal);
            if h.starts_with(buf) || buf.iter().all(|&b| b == 0) {
                return Ok(RecordReader {
                    buf,
                    pos: buf.len(),
                    file,
                    end: Some(End::TornTail(0)),
                });
            }
        }
        FileHeader::check(buf, FileKind::Wal, &file)?;
        Ok(RecordReader {
            buf,
            pos: HEADER_LEN,
            file,
            end: None,
        })
    }

    /// How the scan ended, once [`RecordReader::next_record`] returned
    /// `Ok(None)`.
    pub fn end(&self) -> Option<End> {
        self.end
    }

    /// Offset of the next unread byte.
    pub fn position(&self) -> u64 {
        self.pos as u64
    }

    fn rest_is_zero(&self, from: usize) -> bool {
        self.buf[from..].iter().all(|&b| b == 0)
    }

    fn torn(&mut self, at: usize) -> Result<Option<Record<'a>>> {
        self.end = Some(End::TornTail(at as u64));
        self.pos = self.buf.len();
        Ok(None)
    }

    /// The next verified record; `Ok(None)` at the end of the file or at a
    /// torn tail (see [`RecordReader::end`]).
    ///
    /// # Errors
    /// [`Error::Corruption`] naming the file and the record's offset for a
    /// bad record that is not a torn tail.
    pub fn next_record(&mut self) -> Result<Option<Record<'a>>> {
        if self.end.is_some() {
            return Ok(None);
        }
        let at = self.pos;
        let rest = self.buf.len() - at;
        if rest == 0 {
            self.end = Some(End::Clean);
            return Ok(None);
        }
        if rest < RECORD_HEADER_LEN {
            return self.torn(at);
        }
        let h = &self.buf[at..at + RECORD_HEADER_LEN];
        let len = u32::from_le_bytes(h[0..4].try_into().expect("4")) as usize;
        let want = u32::from_le_bytes(h[4..8].try_into().expect("4"));
        let first_seq = u64::from_le_bytes(h[8..16].try_into().expect("8"));
        let bad = |this: &mut Self, reason: &str| {
            if this.rest_is_zero(at) {
                this.torn(at)
            } else {
                Err(Error::corruption(&this.file, at as u64, reason))
            }
        };
        if len == 0 {
            return bad(self, "record of length zero");
        }
        if len > MAX_RECORD_LEN {
            return bad(self, "record length exceeds the maximum");
        }
        let total = RECORD_HEADER_LEN + pad16(len);
        if total > rest {
            // Runs past the end of the file: a write cut short.
            return self.torn(at);
        }
        let payload = &self.buf[at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + len];
        let mut got = crc32c::crc32c(&h[0..4]);
        got = crc32c::crc32c_append(got, &h[8..16]);
        got = crc32c::crc32c_append(got, payload);
        let pad_ok = self.buf[at + RECORD_HEADER_LEN + len..at + total]
            .iter()
            .all(|&b| b == 0);
        if got != want || !pad_ok {
            if total == rest {
                return self.torn(at);
            }
            return bad(self, "record checksum mismatch");
        }
        self.pos = at + total;
        Ok(Some(Record {
            offset: at as u64,
            first_seq,
            payload,
        }))
    }
}

/// Appends records to the current WAL file.
#[derive(Debug)]
pub(crate) struct WalWriter {
    file: Box<dyn WritableFile>,
    pub(crate) path: PathBuf,
    pub(crate) number: u64,
    pub(crate) len: u64,
}

impl WalWriter {
    /// Wraps a freshly created file and writes its header (not synced).
    pub(crate) fn new(mut file: Box<dyn WritableFile>, path: PathBuf, number: u64) -> Result<Self> {
        file.append(&FileHeader::encode(FileKind::Wal))
            .map_err(|e| Error::io(&path, e))?;
        Ok(WalWriter {
            file,
            path,
            number,
            len: HEADER_LEN as u64,
        })
    }

    /// Appends already framed records.
    pub(crate) fn append(&mut self, framed: &[u8]) -> Result<()> {
        self.file
            .append(framed)
            .map_err(|e| Error::io(&self.path, e))?;
        self.len += framed.len() as u64;
        Ok(())
    }

    /// Makes everything appended durable.
    pub(crate) fn sync(&mut self) -> Result<()> {
        self.file.sync().map_err(|e| Error::io(&self.path, e))
    }
}

/// Checksum helper re-exported for the fuzz targets' corpus builders.
pub fn checksum(data: &[u8]) -> u32 {
    crc(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::WriteBatch;
    use rkyv::util::AlignedVec;

    fn file_with(batches: &[(u64, WriteBatch)]) -> AlignedVec<16> {
        let mut v = FileHeader::encode(FileKind::Wal).to_vec();
        for (seq, b) in batches {
            encode_record(&mut v, *seq, &b.encode());
        }
        let mut a = AlignedVec::<16>::new();
        a.extend_from_slice(&v);
        a
    }

    fn batch(k: &str) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(k, "value").delete("gone");
        b
    }

    fn read_all(buf: &[u8]) -> Result<(Vec<u64>, End)> {
        let mut r = RecordReader::new(buf, Path::new("000001.wal"))?;
        let mut seqs = Vec::new();
        while let Some(rec) = r.next_record()? {
            assert_eq!(rec.payload.as_ptr() as usize % 16, 0);
            seqs.push(rec.first_seq);
        }
        Ok((seqs, r.end().unwrap()))
    }

    #[test]
    fn trusted_access_reads_batches() {
        let f = file_with(&[(1, batch("a")), (3, batch("bb"))]);
        let mut r = RecordReader::new(&f, Path::new("w")).unwrap();
        let rec = r.next_record().unwrap().unwrap();
        let b = rec.batch_trusted();
        assert_eq!(b.entries[0].key.as_slice(), b"a");
        assert_eq!(b.entries[1].key.as_slice(), b"gone");
        let checked = rec.batch_checked(Path::new("w")).unwrap();
        assert_eq!(checked.entries.len(), 2);
        assert_eq!(r.next_record().unwrap().unwrap().first_seq, 3);
        assert!(r.next_record().unwrap().is_none());
        assert_eq!(r.end(), Some(End::Clean));
    }

    #[test]
    fn every_truncation_is_a_torn_tail_keeping_a_prefix() {
        let f = file_with(&[(1, batch("a")), (3, batch("b")), (5, batch("c"))]);
        let full = read_all(&f).unwrap().0;
        for cut in HEADER_LEN..f.len() {
            let mut a = AlignedVec::<16>::new();
            a.extend_from_slice(&f[..cut]);
            let (seqs, end) = read_all(&a).unwrap();
            assert_eq!(&seqs[..], &full[..seqs.len()], "cut {cut}");
            if seqs.len() < 3 && cut != f.len() {
                assert!(matches!(end, End::TornTail(_)) || end == End::Clean);
            }
        }
    }

    #[test]
    fn damaged_middle_record_is_corruption_with_offset() {
        let f = file_with(&[(1, batch("a")), (3, batch("b")), (5, batch("c"))]);
        let mut r = RecordReader::new(&f, Path::new("w")).unwrap();
        r.next_record().unwrap();
        let second = r.position() as usize;
        let mut g = AlignedVec::<16>::new();
        g.extend_from_slice(&f);
        g[second + RECORD_HEADER_LEN + 3] ^= 0x40;
        match read_all(&g) {
            Err(Error::Corruption { file, offset, .. }) => {
                assert_eq!(offset, second as u64);
                assert!(file.ends_with("000001.wal"));
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn damaged_last_record_is_a_torn_tail() {
        let f = file_with(&[(1, batch("a")), (3, batch("b"))]);
        let mut g = AlignedVec::<16>::new();
        g.extend_from_slice(&f);
        let n = g.len();
        g[n - 20] ^= 1;
        let (seqs, end) = read_all(&g).unwrap();
        assert_eq!(seqs, vec![1]);
        assert!(matches!(end, End::TornTail(_)));
    }

    #[test]
    fn zero_filled_tail_is_torn() {
        let f = file_with(&[(1, batch("a"))]);
        let mut g = AlignedVec::<16>::new();
        g.extend_from_slice(&f);
        g.extend_from_slice(&[0u8; 64]);
        let (seqs, end) = read_all(&g).unwrap();
        assert_eq!(seqs, vec![1]);
        assert_eq!(end, End::TornTail(f.len() as u64));
    }

    #[test]
    fn short_file_prefix_of_header_is_empty_but_garbage_is_bad_magic() {
        let h = FileHeader::encode(FileKind::Wal);
        assert!(read_all(&h[..7]).unwrap().0.is_empty());
        assert!(matches!(
            read_all(b"not a wal file at all"),
            Err(Error::BadMagic { .. })
        ));
    }
}
