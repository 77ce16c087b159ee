//! Table writer, reader and cursor.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

use super::block::{
    decode_block, encode_block, Block, BlockBuilder, BlockError, Compression, Ent,
    BLOCK_TRAILER_LEN, MAX_BLOCK_LEN,
};
use super::filter::{may_contain, FilterBuilder};
use crate::cache::BlockCache;
use crate::error::{Error, Result};
use crate::format::{
    cmp_internal, push_internal_key, split_internal_key, user_key, FileHeader, FileKind, Kind,
    FORMAT_VERSION, HEADER_LEN, KIND_SEEK,
};
use crate::fs::{RandomAccessFile, WritableFile};
use crate::memtable::Lookup;

/// Length of the footer, in bytes.
pub const FOOTER_LEN: usize = 64;
/// Largest index or properties archive accepted, in bytes.
const MAX_META_LEN: u64 = 1 << 30;

/// One index entry: the last internal key of a data block and where the
/// block is.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Last internal key of the block.
    pub last_key: Vec<u8>,
    /// Offset of the block in the file, in bytes.
    pub offset: u64,
    /// Length of the block on disk without its 5-byte trailer, in bytes.
    pub len: u32,
}

/// The index: one entry per data block, in key order.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexBlock {
    /// The entries.
    pub entries: Vec<IndexEntry>,
}

/// What a table holds, written at its end and kept in the manifest.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct TableProperties {
    /// Entries (versions), deletions included.
    pub num_entries: u64,
    /// Deletion markers.
    pub num_deletions: u64,
    /// Data blocks.
    pub num_data_blocks: u64,
    /// Sum of internal key lengths, in bytes.
    pub raw_key_bytes: u64,
    /// Sum of value lengths, in bytes.
    pub raw_value_bytes: u64,
    /// Bytes of data blocks on disk (trailers included).
    pub data_bytes: u64,
    /// Smallest internal key.
    pub smallest: Vec<u8>,
    /// Largest internal key.
    pub largest: Vec<u8>,
    /// Smallest sequence number.
    pub min_seq: u64,
    /// Largest sequence number.
    pub max_seq: u64,
    /// Compression type byte of the data blocks (0 none, 1 lz4, may vary
    /// per block: blocks that do not shrink are stored plain).
    pub compression: u8,
}

/// Writes a table from entries in internal-key order.
///
/// # Examples
/// ```
/// use lsm::fs::{FileSystem, StdFs};
/// use lsm::sstable::{Table, TableBuilder};
/// use lsm::sstable::block::Compression;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("000001.sst");
/// let file = StdFs.create(&path).unwrap();
/// let mut b = TableBuilder::new(file, path.clone(), 4096, Compression::None).unwrap();
/// b.add(b"apple", 1, lsm::Kind::Put, b"red").unwrap();
/// b.finish().unwrap();
/// let t = Table::open(StdFs.open(&path).unwrap(), path, 1).unwrap();
/// assert_eq!(t.get(b"apple", 9).unwrap(), Some(lsm::Lookup::Value("red".into())));
/// ```
#[derive(Debug)]
pub struct TableBuilder {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    out: Vec<u8>,
    offset: u64,
    block: BlockBuilder,
    raw: Vec<u8>,
    block_size: usize,
    compression: Compression,
    index: IndexBlock,
    props: TableProperties,
    ikey: Vec<u8>,
    filter: FilterBuilder,
}

impl TableBuilder {
    /// Starts a table in `file` (freshly created, empty), with data
    /// blocks of about `block_size` bytes.
    ///
    /// # Errors
    /// [`Error::Io`] from writing the header.
    pub fn new(
        file: Box<dyn WritableFile>,
        path: PathBuf,
        block_size: usize,
        compression: Compression,
    ) -> Result<Self> {
        let mut b = TableBuilder {
            file,
            path,
            out: Vec::with_capacity(256 << 10),
            offset: 0,
            block: BlockBuilder::default(),
            raw: Vec::new(),
            block_size: block_size.clamp(256, 1 << 20),
            compression,
            index: IndexBlock::default(),
            props: TableProperties {
                min_seq: u64::MAX,
                compression: compression.to_u8(),
                ..Default::default()
            },
            ikey: Vec::new(),
            filter: FilterBuilder::default(),
        };
        b.out
            .extend_from_slice(&FileHeader::encode(FileKind::Table));
        Ok(b)
    }

    /// Adds a version; calls must come in internal-key order.
    ///
    /// # Errors
    /// [`Error::Io`] when a full block is written out.
    pub fn add(&mut self, user_key: &[u8], seq: u64, kind: Kind, value: &[u8]) -> Result<()> {
        let mut k = std::mem::take(&mut self.ikey);
        k.clear();
        push_internal_key(&mut k, user_key, seq, kind as u8);
        let r = self.add_internal(&k, value);
        self.ikey = k;
        r
    }

    /// Adds an entry by internal key (as the memtable hands them out);
    /// calls must come in internal-key order.
    ///
    /// # Errors
    /// [`Error::Io`] when a full block is written out.
    pub fn add_internal(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        debug_assert!(
            self.props.largest.is_empty() || cmp_internal(&self.props.largest, ikey).is_lt()
        );
        let (_, seq, kind) = split_internal_key(ikey)
            .ok_or_else(|| Error::InvalidArgument("internal key shorter than 8 bytes".into()))?;
        let p = &mut self.props;
        if p.num_entries == 0 {
            p.smallest = ikey.to_vec();
        }
        if p.num_entries == 0 || user_key(&p.largest) != user_key(ikey) {
            self.filter.add(user_key(ikey));
        }
        p.num_entries += 1;
        p.num_deletions += u64::from(kind == Kind::Delete as u8);
        p.raw_key_bytes += ikey.len() as u64;
        p.raw_value_bytes += value.len() as u64;
        p.min_seq = p.min_seq.min(seq);
        p.max_seq = p.max_seq.max(seq);
        self.block.add(ikey, value);
        if self.block.size_estimate() >= self.block_size {
            self.finish_block()?;
        }
        p_largest(&mut self.props, ikey);
        Ok(())
    }

    fn finish_block(&mut self) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let last_key = self.block.last_key().to_vec();
        self.raw.clear();
        self.block.finish_into(&mut self.raw);
        let start = self.out.len();
        let offset = self.offset + start as u64;
        let len = encode_block(&self.raw, self.compression, &mut self.out);
        self.props.data_bytes += (self.out.len() - start) as u64;
        self.props.num_data_blocks += 1;
        self.index.entries.push(IndexEntry {
            last_key,
            offset,
            len: len as u32,
        });
        if self.out.len() >= 128 << 10 {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        self.file
            .append(&self.out)
            .map_err(|e| Error::io(&self.path, e))?;
        self.offset += self.out.len() as u64;
        self.out.clear();
        Ok(())
    }

    /// Bytes of the table written or buffered so far (data blocks only;
    /// the open block is not counted).
    pub fn estimated_size(&self) -> u64 {
        self.offset + self.out.len() as u64
    }

    /// Number of entries added.
    pub fn num_entries(&self) -> u64 {
        self.props.num_entries
    }

    /// Writes the last block, the index, the properties and the footer,
    /// and fsyncs the file. Returns the properties and the file size.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn finish(mut self) -> Result<(TableProperties, u64)> {
        self.finish_block()?;
        if self.props.num_entries == 0 {
            self.props.min_seq = 0;
        }
        let filter_off = self.offset + self.out.len() as u64;
        let start = self.out.len();
        self.filter.finish_into(&mut self.out);
        let filter_len = (self.out.len() - start) as u64;
        let c = crc32c::crc32c(&self.out[start..]);
        self.out.extend_from_slice(&c.to_le_bytes());
        let index = rkyv::to_bytes::<rkyv::rancor::Error>(&self.index).expect("in-memory");
        let props = rkyv::to_bytes::<rkyv::rancor::Error>(&self.props).expect("in-memory");
        let index_off = self.offset + self.out.len() as u64;
        self.out.extend_from_slice(&index);
        self.out
            .extend_from_slice(&crc32c::crc32c(&index).to_le_bytes());
        let props_off = self.offset + self.out.len() as u64;
        self.out.extend_from_slice(&props);
        self.out
            .extend_from_slice(&crc32c::crc32c(&props).to_le_bytes());
        let mut footer = Vec::with_capacity(FOOTER_LEN);
        for v in [
            index_off,
            index.len() as u64,
            props_off,
            props.len() as u64,
            filter_off,
            filter_len,
        ] {
            footer.extend_from_slice(&v.to_le_bytes());
        }
        footer.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let c = crc32c::crc32c(&footer);
        footer.extend_from_slice(&c.to_le_bytes());
        footer.extend_from_slice(&FileKind::Table.magic());
        self.out.extend_from_slice(&footer);
        self.spill()?;
        self.file.sync().map_err(|e| Error::io(&self.path, e))?;
        Ok((self.props, self.offset))
    }
}

/// The first index in `0..n` for which `before` is false (`before` must
/// be true on a prefix).
fn lower_bound(n: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

fn p_largest(p: &mut TableProperties, ikey: &[u8]) {
    p.largest.clear();
    p.largest.extend_from_slice(ikey);
}

/// An rkyv archive validated once (checksum and bytecheck), then read in
/// place without further validation.
struct Validated<A> {
    bytes: AlignedVec<16>,
    _a: std::marker::PhantomData<fn() -> A>,
}

impl<A> std::fmt::Debug for Validated<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Validated({} bytes)", self.bytes.len())
    }
}

impl<A> Validated<A>
where
    A: rkyv::Portable
        + for<'x> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'x, rkyv::rancor::Error>>,
{
    fn new(bytes: AlignedVec<16>) -> std::result::Result<Self, String> {
        rkyv::access::<A, rkyv::rancor::Error>(&bytes).map_err(|e| e.to_string())?;
        Ok(Validated {
            bytes,
            _a: std::marker::PhantomData,
        })
    }
    fn get(&self) -> &A {
        // SAFETY: `new` validated exactly these bytes as an `A` with
        // bytecheck, and `bytes` is immutable and owned by `self` (16-byte
        // aligned). Exercised by every table test (`sstable::table::tests`).
        unsafe { rkyv::access_unchecked::<A>(&self.bytes) }
    }
}

/// An open table: the index and properties in memory (as validated rkyv
/// archives), data blocks read on demand.
#[derive(Debug)]
pub struct Table {
    file: Arc<dyn RandomAccessFile>,
    path: PathBuf,
    number: u64,
    size: u64,
    data_end: u64,
    index: Validated<ArchivedIndexBlock>,
    props: Validated<ArchivedTableProperties>,
    filter: Option<Box<[u8]>>,
    cache: Option<Arc<BlockCache>>,
}

impl Table {
    /// Opens a table: checks the header, footer, index and properties.
    ///
    /// # Errors
    /// [`Error::BadMagic`], [`Error::UnsupportedVersion`],
    /// [`Error::Corruption`] naming the file and offset, [`Error::Io`].
    pub fn open(file: Arc<dyn RandomAccessFile>, path: PathBuf, number: u64) -> Result<Table> {
        let size = file.len();
        let io = |e| Error::io(&path, e);
        let mut header = [0u8; HEADER_LEN];
        if size < (HEADER_LEN + FOOTER_LEN) as u64 {
            let n = (size as usize).min(HEADER_LEN);
            file.read_exact_at(0, &mut header[..n]).map_err(io)?;
            FileHeader::check(&header[..n], FileKind::Table, &path)?;
            return Err(Error::corruption(
                &path,
                0,
                "table shorter than header and footer",
            ));
        }
        file.read_exact_at(0, &mut header).map_err(io)?;
        FileHeader::check(&header, FileKind::Table, &path)?;
        let foot_at = size - FOOTER_LEN as u64;
        let mut f = [0u8; FOOTER_LEN];
        file.read_exact_at(foot_at, &mut f).map_err(io)?;
        if f[56..] != FileKind::Table.magic() {
            return Err(Error::corruption(&path, foot_at + 56, "bad footer magic"));
        }
        let c = u32::from_le_bytes(f[52..56].try_into().expect("4"));
        if crc32c::crc32c(&f[..52]) != c {
            return Err(Error::corruption(
                &path,
                foot_at,
                "footer checksum mismatch",
            ));
        }
        let version = u32::from_le_bytes(f[48..52].try_into().expect("4"));
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                file: path,
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let u = |i: usize| u64::from_le_bytes(f[i * 8..i * 8 + 8].try_into().expect("8"));
        let (index_off, index_len, props_off, props_len) = (u(0), u(1), u(2), u(3));
        let (filter_off, filter_len) = (u(4), u(5));
        let meta = |off: u64, len: u64, what: &str| -> Result<AlignedVec<16>> {
            let end = off.checked_add(len).and_then(|e| e.checked_add(4));
            if len > MAX_META_LEN || off < HEADER_LEN as u64 || end.is_none_or(|e| e > foot_at) {
                return Err(Error::corruption(
                    &path,
                    foot_at,
                    format!("{what} handle out of range"),
                ));
            }
            let mut buf = AlignedVec::<16>::with_capacity(len as usize + 4);
            buf.resize(len as usize + 4, 0);
            file.read_exact_at(off, &mut buf)
                .map_err(|e| Error::io(&path, e))?;
            let want = u32::from_le_bytes(buf[len as usize..].try_into().expect("4"));
            buf.resize(len as usize, 0);
            if crc32c::crc32c(&buf) != want {
                return Err(Error::corruption(
                    &path,
                    off,
                    format!("{what} checksum mismatch"),
                ));
            }
            Ok(buf)
        };
        let index = Validated::new(meta(index_off, index_len, "index")?).map_err(|e| {
            Error::corruption(&path, index_off, format!("invalid index archive: {e}"))
        })?;
        let props = Validated::new(meta(props_off, props_len, "properties")?).map_err(|e| {
            Error::corruption(&path, props_off, format!("invalid properties archive: {e}"))
        })?;
        let filter = if filter_len == 0 {
            None
        } else {
            Some(
                meta(filter_off, filter_len, "filter")?
                    .to_vec()
                    .into_boxed_slice(),
            )
        };
        let data_end = if filter.is_some() {
            filter_off.min(index_off)
        } else {
            index_off
        };
        Ok(Table {
            file,
            path,
            number,
            size,
            data_end,
            index,
            props,
            filter,
            cache: None,
        })
    }

    /// Opens a table whose data blocks go through `cache`.
    ///
    /// # Errors
    /// As [`Table::open`].
    pub fn open_cached(
        file: Arc<dyn RandomAccessFile>,
        path: PathBuf,
        number: u64,
        cache: Option<Arc<BlockCache>>,
    ) -> Result<Table> {
        let mut t = Table::open(file, path, number)?;
        t.cache = cache;
        Ok(t)
    }

    /// Whether the table may hold a version of `user_key`: `false` when
    /// its bloom filter rules the key out (no block is read). Tables
    /// without a filter answer `true`.
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.filter
            .as_deref()
            .is_none_or(|f| may_contain(f, user_key))
    }

    /// Whether `user_key` lies between the table's smallest and largest
    /// user keys.
    pub fn key_in_range(&self, user_key_: &[u8]) -> bool {
        let p = self.properties();
        user_key(p.smallest.as_slice()) <= user_key_ && user_key_ <= user_key(p.largest.as_slice())
    }

    /// Smallest user key.
    pub fn smallest_user_key(&self) -> &[u8] {
        user_key(self.properties().smallest.as_slice())
    }

    /// Largest user key.
    pub fn largest_user_key(&self) -> &[u8] {
        user_key(self.properties().largest.as_slice())
    }

    /// The table's file number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The table's file size, in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The table's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The archived properties, read in place.
    pub fn properties(&self) -> &ArchivedTableProperties {
        self.props.get()
    }

    /// The archived index, read in place.
    pub fn index(&self) -> &ArchivedIndexBlock {
        self.index.get()
    }

    fn corrupt(&self, offset: u64, e: BlockError) -> Error {
        Error::corruption(&self.path, offset + e.offset as u64, e.reason)
    }

    /// Data block `i`, from the block cache or read, verified, decoded
    /// (and cached).
    fn read_block(&self, i: usize) -> Result<Block> {
        let Some(cache) = &self.cache else {
            return self.read_block_uncached(i);
        };
        let key = (self.number, self.index().entries[i].offset.to_native());
        if let Some(b) = cache.get(key) {
            return Ok(b);
        }
        let b = self.read_block_uncached(i)?;
        cache.insert(key, b.clone());
        Ok(b)
    }

    /// Reads, verifies and decodes data block `i`.
    fn read_block_uncached(&self, i: usize) -> Result<Block> {
        let e = &self.index().entries[i];
        let off = e.offset.to_native();
        let len = e.len.to_native() as u64;
        let end = off
            .checked_add(len + BLOCK_TRAILER_LEN as u64)
            .filter(|&end| off >= HEADER_LEN as u64 && end <= self.data_end);
        if end.is_none() || len > MAX_BLOCK_LEN as u64 {
            return Err(Error::corruption(
                &self.path,
                off,
                "block handle out of range",
            ));
        }
        let mut buf = vec![0u8; len as usize + BLOCK_TRAILER_LEN];
        self.file
            .read_exact_at(off, &mut buf)
            .map_err(|e| Error::io(&self.path, e))?;
        let data = decode_block(Bytes::from(buf)).map_err(|e| self.corrupt(off, e))?;
        Block::new(data).map_err(|e| self.corrupt(off, e))
    }

    /// First index entry whose last key is >= `target`.
    fn find_block(&self, target: &[u8]) -> usize {
        self.index()
            .entries
            .as_slice()
            .partition_point(|e| cmp_internal(e.last_key.as_slice(), target) == Ordering::Less)
    }

    /// Number of data blocks.
    pub fn num_blocks(&self) -> usize {
        self.index().entries.len()
    }

    /// The newest version of `user_key` with sequence <= `seq`. A value is
    /// a slice of the block buffer (no copy).
    ///
    /// # Errors
    /// [`Error::Corruption`] naming the file and offset, [`Error::Io`].
    pub fn get(&self, user_key_: &[u8], seq: u64) -> Result<Option<Lookup>> {
        if !self.may_contain(user_key_) {
            return Ok(None);
        }
        self.get_unfiltered(user_key_, seq)
    }

    /// [`Table::get`] without consulting the bloom filter (the caller did).
    pub(crate) fn get_unfiltered(&self, user_key_: &[u8], seq: u64) -> Result<Option<Lookup>> {
        let mut target = Vec::with_capacity(user_key_.len() + 8);
        push_internal_key(&mut target, user_key_, seq, KIND_SEEK);
        let i = self.find_block(&target);
        if i >= self.num_blocks() {
            return Ok(None);
        }
        let block = self.read_block(i)?;
        let mut key = Vec::new();
        let off = self.index().entries[i].offset.to_native();
        let Some(v) = block
            .seek(&target, &mut key)
            .map_err(|e| self.corrupt(off, e))?
        else {
            return Ok(None);
        };
        if user_key(&key) != user_key_ {
            return Ok(None);
        }
        Ok(Some(if key[key.len() - 8] == Kind::Delete as u8 {
            Lookup::Deleted
        } else {
            Lookup::Value(v)
        }))
    }
}

/// A bidirectional cursor over one table's entries.
#[derive(Debug)]
pub(crate) struct TableCursor {
    table: Arc<Table>,
    bi: usize,
    block: Bytes,
    keys: Vec<u8>,
    ents: Vec<Ent>,
    pos: usize,
    valid: bool,
}

impl TableCursor {
    pub(crate) fn new(table: Arc<Table>) -> Self {
        TableCursor {
            table,
            bi: 0,
            block: Bytes::new(),
            keys: Vec::new(),
            ents: Vec::new(),
            pos: 0,
            valid: false,
        }
    }

    fn load(&mut self, bi: usize) -> Result<()> {
        let block = self.table.read_block(bi)?;
        let off = self.table.index().entries[bi].offset.to_native();
        block
            .decode_all(&mut self.keys, &mut self.ents)
            .map_err(|e| self.table.corrupt(off, e))?;
        self.block = block.data().clone();
        self.bi = bi;
        Ok(())
    }

    fn ent_key(&self, i: usize) -> &[u8] {
        let e = self.ents[i];
        &self.keys[e.key.0 as usize..e.key.1 as usize]
    }

    pub(crate) fn valid(&self) -> bool {
        self.valid
    }
    pub(crate) fn key(&self) -> &[u8] {
        self.ent_key(self.pos)
    }
    pub(crate) fn value(&self) -> Bytes {
        let e = self.ents[self.pos];
        self.block.slice(e.value.0 as usize..e.value.1 as usize)
    }

    /// Moves to the first entry at or after block `bi`'s position `pos`.
    fn settle_forward(&mut self, mut bi: usize, mut pos: usize) -> Result<()> {
        loop {
            if pos < self.ents.len() {
                self.pos = pos;
                self.valid = true;
                return Ok(());
            }
            bi += 1;
            if bi >= self.table.num_blocks() {
                self.valid = false;
                return Ok(());
            }
            self.load(bi)?;
            pos = 0;
        }
    }

    /// Moves to the entry before position `pos` of the loaded block.
    fn settle_backward(&mut self, pos: usize) -> Result<()> {
        let mut pos = pos;
        loop {
            if pos > 0 {
                self.pos = pos - 1;
                self.valid = true;
                return Ok(());
            }
            if self.bi == 0 {
                self.valid = false;
                return Ok(());
            }
            self.load(self.bi - 1)?;
            pos = self.ents.len();
        }
    }

    pub(crate) fn seek(&mut self, target: &[u8]) -> Result<()> {
        let bi = self.table.find_block(target);
        if bi >= self.table.num_blocks() {
            self.valid = false;
            return Ok(());
        }
        self.load(bi)?;
        let pos = lower_bound(self.ents.len(), |i| {
            cmp_internal(self.ent_key(i), target) == Ordering::Less
        });
        self.settle_forward(bi, pos)
    }

    pub(crate) fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        let n = self.table.num_blocks();
        if n == 0 {
            self.valid = false;
            return Ok(());
        }
        let bi = self.table.find_block(target).min(n - 1);
        self.load(bi)?;
        let pos = lower_bound(self.ents.len(), |i| {
            cmp_internal(self.ent_key(i), target) != Ordering::Greater
        });
        self.settle_backward(pos)
    }

    pub(crate) fn seek_first(&mut self) -> Result<()> {
        if self.table.num_blocks() == 0 {
            self.valid = false;
            return Ok(());
        }
        self.load(0)?;
        self.settle_forward(0, 0)
    }

    pub(crate) fn seek_last(&mut self) -> Result<()> {
        let n = self.table.num_blocks();
        if n == 0 {
            self.valid = false;
            return Ok(());
        }
        self.load(n - 1)?;
        let len = self.ents.len();
        self.settle_backward(len)
    }

    pub(crate) fn next(&mut self) -> Result<()> {
        self.settle_forward(self.bi, self.pos + 1)
    }

    pub(crate) fn prev(&mut self) -> Result<()> {
        self.settle_backward(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::internal_key;
    use crate::fs::{FileSystem, StdFs};

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    fn build(dir: &Path, n: usize, c: Compression) -> (PathBuf, Pairs) {
        let path = dir.join("000007.sst");
        let mut b = TableBuilder::new(StdFs.create(&path).unwrap(), path.clone(), 4096, c).unwrap();
        let mut all = Vec::new();
        for i in 0..n {
            let k = format!("key{:06}", i);
            let v = format!("value-{i}-").repeat(5);
            let kind = if i % 7 == 3 { Kind::Delete } else { Kind::Put };
            let v = if kind == Kind::Delete {
                String::new()
            } else {
                v
            };
            b.add(k.as_bytes(), 100 + i as u64, kind, v.as_bytes())
                .unwrap();
            all.push((
                internal_key(k.as_bytes(), 100 + i as u64, kind as u8),
                v.into_bytes(),
            ));
        }
        let (props, size) = b.finish().unwrap();
        assert_eq!(props.num_entries, n as u64);
        assert_eq!(size, std::fs::metadata(&path).unwrap().len());
        (path, all)
    }

    #[test]
    fn get_and_properties() {
        for c in [Compression::None, Compression::Lz4] {
            let dir = tempfile::tempdir().unwrap();
            let (path, _) = build(dir.path(), 3000, c);
            let t = Table::open(StdFs.open(&path).unwrap(), path, 7).unwrap();
            assert!(t.num_blocks() > 10);
            let p = t.properties();
            assert_eq!(p.num_entries.to_native(), 3000);
            assert_eq!(p.min_seq.to_native(), 100);
            assert_eq!(p.max_seq.to_native(), 3099);
            for i in [0usize, 1, 3, 500, 2999] {
                let k = format!("key{:06}", i);
                let got = t.get(k.as_bytes(), u64::MAX >> 8).unwrap();
                if i % 7 == 3 {
                    assert_eq!(got, Some(Lookup::Deleted));
                } else {
                    let want = format!("value-{i}-").repeat(5);
                    assert_eq!(got, Some(Lookup::Value(want.into())));
                }
                // Not visible before its sequence number.
                assert_eq!(t.get(k.as_bytes(), 99 + i as u64).unwrap(), None);
            }
            assert_eq!(t.get(b"key", 1 << 40).unwrap(), None);
            assert_eq!(t.get(b"zzz", 1 << 40).unwrap(), None);
        }
    }

    #[test]
    fn bloom_filter_rules_out_most_absent_keys_and_no_present_one() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = build(dir.path(), 3000, Compression::None);
        let t = Table::open(StdFs.open(&path).unwrap(), path, 7).unwrap();
        for i in 0..3000 {
            assert!(t.may_contain(format!("key{:06}", i).as_bytes()));
        }
        let maybe = (0..3000)
            .filter(|i| t.may_contain(format!("nokey{:06}", i).as_bytes()))
            .count();
        assert!(maybe < 90, "{maybe} of 3000 absent keys pass the filter");
        // Ruled out by the filter: `get` answers without a block read.
        let absent = (0..3000)
            .map(|i| format!("key{:06}x", i))
            .find(|k| !t.may_contain(k.as_bytes()))
            .unwrap();
        assert_eq!(t.get(absent.as_bytes(), 1 << 40).unwrap(), None);
    }

    #[test]
    fn cached_table_reads_hit_the_block_cache() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = build(dir.path(), 1000, Compression::Lz4);
        let cache = Arc::new(BlockCache::new(1 << 20));
        let t =
            Table::open_cached(StdFs.open(&path).unwrap(), path, 7, Some(cache.clone())).unwrap();
        for _ in 0..2 {
            let got = t.get(b"key000501", 1 << 40).unwrap();
            let want = format!("value-{}-", 501).repeat(5);
            assert_eq!(got, Some(Lookup::Value(want.into())));
        }
        assert_eq!((cache.hits(), cache.misses()), (1, 1));
        assert!(cache.used_bytes() > 0);
    }

    #[test]
    fn cursor_walks_both_ways_and_seeks() {
        let dir = tempfile::tempdir().unwrap();
        let (path, all) = build(dir.path(), 1000, Compression::Lz4);
        let t = Arc::new(Table::open(StdFs.open(&path).unwrap(), path, 7).unwrap());
        let mut c = TableCursor::new(t.clone());
        c.seek_first().unwrap();
        let mut fwd = Vec::new();
        while c.valid() {
            fwd.push((c.key().to_vec(), c.value().to_vec()));
            c.next().unwrap();
        }
        assert_eq!(fwd, all);
        c.seek_last().unwrap();
        let mut back = Vec::new();
        while c.valid() {
            back.push((c.key().to_vec(), c.value().to_vec()));
            c.prev().unwrap();
        }
        back.reverse();
        assert_eq!(back, all);
        let t500 = internal_key(b"key000500", 1 << 50, KIND_SEEK);
        c.seek(&t500).unwrap();
        assert_eq!(c.key(), &all[500].0[..]);
        c.seek_for_prev(&t500).unwrap();
        assert_eq!(c.key(), &all[499].0[..]);
        c.seek_for_prev(&internal_key(b"a", 0, 0)).unwrap();
        assert!(!c.valid());
        c.seek(&internal_key(b"z", 0, 0)).unwrap();
        assert!(!c.valid());
    }

    #[test]
    fn every_flipped_byte_is_an_error_or_right_data() {
        let dir = tempfile::tempdir().unwrap();
        let (path, all) = build(dir.path(), 300, Compression::None);
        let good = std::fs::read(&path).unwrap();
        let bad_path = dir.path().join("000008.sst");
        let step = (good.len() / 400).max(1);
        for i in (0..good.len()).step_by(step) {
            let mut b = good.clone();
            b[i] ^= 0x5a;
            std::fs::write(&bad_path, &b).unwrap();
            let t = match Table::open(StdFs.open(&bad_path).unwrap(), bad_path.clone(), 8) {
                Ok(t) => Arc::new(t),
                Err(e) => {
                    assert!(e.to_string().contains("000008.sst"), "{e}");
                    continue;
                }
            };
            let mut c = TableCursor::new(t);
            let mut got = Vec::new();
            let r = (|| -> Result<()> {
                c.seek_first()?;
                while c.valid() {
                    got.push((c.key().to_vec(), c.value().to_vec()));
                    c.next()?;
                }
                Ok(())
            })();
            match r {
                Ok(()) => assert_eq!(got, all, "flip at {i} returned wrong data"),
                Err(Error::Corruption { file, .. }) => assert_eq!(file, bad_path),
                Err(e) => panic!("flip at {i}: unexpected {e}"),
            }
        }
    }

    #[test]
    fn foreign_file_is_bad_magic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.sst");
        std::fs::write(&p, vec![7u8; 200]).unwrap();
        let e = Table::open(StdFs.open(&p).unwrap(), p.clone(), 1).unwrap_err();
        assert!(matches!(e, Error::BadMagic { .. }), "{e}");
    }
}
