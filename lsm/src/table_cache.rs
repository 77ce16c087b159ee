//! The cache of open tables: the super version lists tables by
//! [`TableHandle`] (number, size, key range), and a bounded LRU of open
//! [`Table`]s (file, index, properties and bloom filter in memory) opens
//! them on demand, as RocksDB's `TableCache` does under `max_open_files`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::cache::BlockCache;
use crate::error::{Error, Result};
use crate::format::user_key;
use crate::fs::FileSystem;
use crate::sstable::Table;

/// A live table as the super version lists it, without opening it.
///
/// Once compaction marks it obsolete, its file is deleted when the last
/// super version (or iterator) holding the handle lets go, so a reader of
/// an older version can still open it (RocksDB deletes obsolete files
/// when the last version referencing them goes).
#[derive(Debug)]
pub(crate) struct TableHandle {
    number: u64,
    path: PathBuf,
    size: u64,
    /// Smallest internal key.
    smallest: Vec<u8>,
    /// Largest internal key.
    largest: Vec<u8>,
    fs: Arc<dyn FileSystem>,
    obsolete: AtomicBool,
}

impl Drop for TableHandle {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            // Best effort: a file left behind is removed at the next open.
            let _ = self.fs.remove(&self.path);
        }
    }
}

impl TableHandle {
    /// The handle of an open table.
    pub(crate) fn of(t: &Table, fs: Arc<dyn FileSystem>) -> Self {
        let p = t.properties();
        TableHandle {
            number: t.number(),
            path: t.path().to_path_buf(),
            size: t.size(),
            smallest: p.smallest.as_slice().to_vec(),
            largest: p.largest.as_slice().to_vec(),
            fs,
            obsolete: AtomicBool::new(false),
        }
    }
    /// Deletes the file once the last holder of this handle drops it.
    pub(crate) fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }
    pub(crate) fn number(&self) -> u64 {
        self.number
    }
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
    pub(crate) fn size(&self) -> u64 {
        self.size
    }
    pub(crate) fn smallest(&self) -> &[u8] {
        &self.smallest
    }
    pub(crate) fn largest(&self) -> &[u8] {
        &self.largest
    }
    pub(crate) fn smallest_user_key(&self) -> &[u8] {
        user_key(&self.smallest)
    }
    pub(crate) fn largest_user_key(&self) -> &[u8] {
        user_key(&self.largest)
    }
}

#[derive(Debug, Default)]
struct Lru {
    map: HashMap<u64, (Arc<Table>, u64)>,
    /// Last-use tick -> table number.
    order: BTreeMap<u64, u64>,
    tick: u64,
}

/// A bounded LRU of open tables keyed by file number.
#[derive(Debug)]
pub(crate) struct TableCache {
    fs: Arc<dyn FileSystem>,
    blocks: Option<Arc<BlockCache>>,
    cap: usize,
    lru: Mutex<Lru>,
    opens: AtomicU64,
}

impl TableCache {
    /// At most `cap` (>= 1) tables stay open.
    pub(crate) fn new(
        fs: Arc<dyn FileSystem>,
        blocks: Option<Arc<BlockCache>>,
        cap: usize,
    ) -> Self {
        TableCache {
            fs,
            blocks,
            cap: cap.max(1),
            lru: Mutex::new(Lru::default()),
            opens: AtomicU64::new(0),
        }
    }

    /// Opens the table at `path` (not cached).
    pub(crate) fn open_uncached(&self, path: &Path, number: u64) -> Result<Arc<Table>> {
        let f = self.fs.open(path).map_err(|e| Error::io(path, e))?;
        self.opens.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(Table::open_cached(
            f,
            path.to_path_buf(),
            number,
            self.blocks.clone(),
        )?))
    }

    /// The open table of `h`, opening it (and closing the least recently
    /// used one beyond the bound) on a miss.
    ///
    /// # Errors
    /// As [`Table::open`].
    pub(crate) fn get(&self, h: &TableHandle) -> Result<Arc<Table>> {
        {
            let mut l = self.lru.lock();
            l.tick += 1;
            let tick = l.tick;
            if let Some((t, old)) = l.map.get_mut(&h.number) {
                let (t, old) = (t.clone(), std::mem::replace(old, tick));
                l.order.remove(&old);
                l.order.insert(tick, h.number);
                return Ok(t);
            }
        }
        let t = self.open_uncached(&h.path, h.number)?;
        self.insert(t.clone());
        Ok(t)
    }

    /// Adds an open table (a table just written).
    pub(crate) fn insert(&self, t: Arc<Table>) {
        let mut l = self.lru.lock();
        l.tick += 1;
        let tick = l.tick;
        let number = t.number();
        if let Some((_, old)) = l.map.insert(number, (t, tick)) {
            l.order.remove(&old);
        }
        l.order.insert(tick, number);
        while l.map.len() > self.cap {
            let Some((_, n)) = l.order.pop_first() else {
                break;
            };
            l.map.remove(&n);
        }
    }

    /// Drops the table `number` (its file is being deleted).
    pub(crate) fn evict(&self, number: u64) {
        let mut l = self.lru.lock();
        if let Some((_, tick)) = l.map.remove(&number) {
            l.order.remove(&tick);
        }
    }

    /// The file layer tables are opened through.
    pub(crate) fn fs(&self) -> Arc<dyn FileSystem> {
        self.fs.clone()
    }

    /// Tables open in the cache.
    pub(crate) fn len(&self) -> usize {
        self.lru.lock().map.len()
    }

    /// Table opens so far (misses and explicit opens).
    pub(crate) fn opens(&self) -> u64 {
        self.opens.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::StdFs;
    use crate::sstable::block::Compression;
    use crate::sstable::TableBuilder;

    #[test]
    fn keeps_at_most_cap_tables_open_and_reopens_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let mut handles = Vec::new();
        for n in 1..=5u64 {
            let path = dir.path().join(format!("{n:06}.sst"));
            let mut b = TableBuilder::new(
                StdFs.create(&path).unwrap(),
                path.clone(),
                4096,
                Compression::None,
            )
            .unwrap();
            b.add(format!("k{n}").as_bytes(), n, crate::Kind::Put, b"v")
                .unwrap();
            b.finish().unwrap();
            let t = Table::open(StdFs.open(&path).unwrap(), path, n).unwrap();
            handles.push(TableHandle::of(&t, Arc::new(StdFs)));
        }
        let c = TableCache::new(Arc::new(StdFs), None, 2);
        for h in &handles {
            let t = c.get(h).unwrap();
            assert_eq!(t.number(), h.number());
            assert!(c.len() <= 2);
        }
        assert_eq!(c.opens(), 5);
        c.get(&handles[4]).unwrap(); // most recent: a hit
        assert_eq!(c.opens(), 5);
        c.get(&handles[0]).unwrap(); // closed long ago: reopened
        assert_eq!(c.opens(), 6);
        c.evict(1);
        assert_eq!(c.len(), 1);
    }
}
