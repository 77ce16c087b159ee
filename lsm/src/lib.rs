//! An embedded LSM-tree key-value engine (O'Neil et al., "The
//! Log-Structured Merge-Tree", 1996; layout after LevelDB and RocksDB),
//! with the zero-copy choices of the SurrealKV review
//! (`shared/design-notes/002`):
//!
//! - **WAL** ([`wal`]): one record per batch, `[len][crc32c][seq]` then the
//!   rkyv archive of the batch, 16-byte aligned; recovery reads each batch
//!   in place once its checksum verified and inserts it into the memtable
//!   without building an owned batch. A torn tail is cut; a bad record
//!   before the tail is an error naming file and offset.
//! - **Memtable** ([`memtable`]): a skiplist in arrays whose entries are
//!   stored contiguously as `[user key][seq + kind][value]` in one arena.
//! - **SSTables** ([`sstable`]): ~4 KiB prefix-compressed data blocks with
//!   restart points every 16 keys, optional lz4, a CRC-32C per block; the
//!   index and the table properties are rkyv archives searched in place;
//!   `get` returns values as slices of the block buffer.
//! - **Manifest** ([`manifest`]): the live tables, replaced atomically.
//! - Every file starts with a magic number and a format version
//!   ([`format`]).
//!
//! Compaction, bloom filters, a block cache and a value log come next
//! (issue 6): the manifest already has levels and the table footer a
//! reserved filter handle.
//!
//! # Examples
//! ```
//! use lsm::{Db, Durability, Options};
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default()).unwrap();
//! db.put(b"a", b"1").unwrap();
//! let snap = db.snapshot();
//! db.put(b"a", b"2").unwrap();
//! assert_eq!(snap.get(b"a").unwrap().unwrap(), "1");
//! assert_eq!(db.get(b"a").unwrap().unwrap(), "2");
//! let mut batch = lsm::WriteBatch::new();
//! batch.put(b"b", b"3");
//! db.write_with(batch, Durability::Sync).unwrap();
//! let rev: Vec<_> = db.iter().rev().map(|r| r.unwrap().0).collect();
//! assert_eq!(rev, ["b", "a"]);
//! ```
#![deny(missing_docs)]

pub mod batch;
mod db;
pub mod error;
pub mod format;
pub mod fs;
mod iter;
pub mod manifest;
pub mod memtable;
pub mod sstable;
pub mod wal;

pub use batch::WriteBatch;
pub use db::{Db, Durability, Options, Snapshot, Stats, WalRecovery};
pub use error::{Error, Result};
pub use format::Kind;
pub use iter::Iter;
pub use memtable::Lookup;
