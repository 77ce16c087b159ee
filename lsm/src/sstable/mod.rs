//! Sorted string tables.
//!
//! ```text
//! [file header: 16 bytes]
//! [data block + trailer]*            see `block`
//! [bloom filter][crc32c u32]         see `filter`
//! [index: rkyv IndexBlock][crc32c u32]
//! [properties: rkyv TableProperties][crc32c u32]
//! [footer: 64 bytes]
//! ```
//!
//! Footer: `index offset, index len, properties offset, properties len,
//! filter offset, filter len` (u64 LE each; the filter's length excludes
//! its CRC-32C; `0, 0` means no filter), the format version (u32 LE),
//! CRC-32C of the preceding 52 bytes (u32 LE), then the 8-byte table
//! magic. The index and the properties are rkyv archives: checksum and
//! bytecheck validation once at open, then binary search on the archived
//! index in place.

pub mod block;
pub mod filter;
mod table;

pub(crate) use table::TableCursor;
pub use table::{
    ArchivedIndexBlock, ArchivedIndexEntry, ArchivedTableProperties, IndexBlock, IndexEntry, Table,
    TableBuilder, TableProperties, FOOTER_LEN,
};
