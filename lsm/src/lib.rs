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
//! - **Bloom filters** ([`sstable::filter`]): one per table, ~10 bits per
//!   user key (LevelDB's double hashing over xxh3), checked before any
//!   block is read on a point lookup.
//! - **Block cache** ([`cache`]): a sharded LRU of decoded blocks keyed by
//!   (table, offset), bounded in bytes; cached values are still handed out
//!   as `Bytes` slices.
//! - **Manifest** ([`manifest`]): the live tables per level, replaced
//!   atomically (after every flush and every compaction).
//! - **Leveled compaction** (background thread): an L0 file-count
//!   trigger, size ratio 10 between levels, a target table size; versions
//!   hidden from every open snapshot are dropped, tombstones only where no
//!   deeper level can hold an older version; writes slow down, then stop,
//!   as L0 grows ([`Options`], [`Stats`]).
//! - Every file starts with a magic number and a format version
//!   ([`format`](mod@format)).
//!
//! A value log (key-value separation, issue 6) comes next.
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
pub mod cache;
mod db;
pub mod error;
pub mod format;
pub mod fs;
mod iter;
pub mod manifest;
pub mod memtable;
pub mod sstable;
mod table_cache;
pub mod wal;

pub use batch::WriteBatch;
pub use db::{Db, Durability, Options, Snapshot, Stats, WalRecovery};
pub use error::{Error, Result};
pub use format::Kind;
pub use iter::Iter;
pub use memtable::Lookup;
