//! [`WriteBatch`]: puts and deletes applied atomically, and its rkyv
//! archive, which is the payload of a WAL record.

use rkyv::{Archive, Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::{check_sizes, Kind};

/// One operation of a batch, as archived in the WAL.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry {
    /// [`Kind`] as a byte: 0 delete, 1 put.
    pub kind: u8,
    /// The user key.
    pub key: Vec<u8>,
    /// The value (empty for a delete).
    pub value: Vec<u8>,
}

/// The archived root of a WAL record's payload: the entries of one batch,
/// in order. The batch's first sequence number is in the record header.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchRecord {
    /// The operations; entry `i` gets sequence number `first_seq + i`.
    pub entries: Vec<BatchEntry>,
}

/// A group of puts and deletes that [`crate::Db::write`] applies
/// atomically: readers see all of it or none of it, and after a crash it
/// is recovered whole or not at all.
///
/// # Examples
/// ```
/// let mut b = lsm::WriteBatch::new();
/// b.put(b"k1", b"v1");
/// b.delete(b"k0");
/// assert_eq!(b.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub(crate) rec: BatchRecord,
    pub(crate) bytes: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put of `key` to `value`.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.push(Kind::Put, key.as_ref(), value.as_ref())
    }

    /// Adds a delete of `key`.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.push(Kind::Delete, key.as_ref(), &[])
    }

    fn push(&mut self, kind: Kind, key: &[u8], value: &[u8]) -> &mut Self {
        self.bytes += key.len() + value.len() + 16;
        self.rec.entries.push(BatchEntry {
            kind: kind as u8,
            key: key.to_vec(),
            value: value.to_vec(),
        });
        self
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.rec.entries.len()
    }

    /// Whether the batch has no operation.
    pub fn is_empty(&self) -> bool {
        self.rec.entries.is_empty()
    }

    /// Removes all operations.
    pub fn clear(&mut self) {
        self.rec.entries.clear();
        self.bytes = 0;
    }

    /// Approximate size of the keys and values, in bytes.
    pub fn approximate_bytes(&self) -> usize {
        self.bytes
    }

    /// Checks every key and value against the size limits.
    pub(crate) fn validate(&self) -> Result<()> {
        for e in &self.rec.entries {
            check_sizes(&e.key, &e.value)?;
        }
        if self.rec.entries.len() > u32::MAX as usize / 2 {
            return Err(Error::InvalidArgument("batch has too many entries".into()));
        }
        Ok(())
    }

    /// The rkyv archive of the batch (16-byte aligned), the WAL payload.
    pub(crate) fn encode(&self) -> rkyv::util::AlignedVec<16> {
        rkyv::to_bytes::<rkyv::rancor::Error>(&self.rec)
            .expect("serializing into a growable buffer cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_is_an_accessible_archive() {
        let mut b = WriteBatch::new();
        b.put(b"a", b"1").delete(b"b");
        let bytes = b.encode();
        let a = rkyv::access::<ArchivedBatchRecord, rkyv::rancor::Error>(&bytes).unwrap();
        assert_eq!(a.entries.len(), 2);
        assert_eq!(a.entries[0].key.as_slice(), b"a");
        assert_eq!(a.entries[1].kind, Kind::Delete as u8);
    }

    #[test]
    fn validate_rejects_huge_keys() {
        let mut b = WriteBatch::new();
        b.put(vec![0u8; crate::format::MAX_KEY_LEN + 1], b"");
        assert!(matches!(b.validate(), Err(Error::InvalidArgument(_))));
    }
}
