//! Leveled compaction: picking after LevelDB (`db/version_set.cc`: an L0
//! file-count score, a bytes-over-target score for deeper levels, one
//! input table per level round-robin), merging after LevelDB's
//! `DoCompactionWork`, and version dropping after RocksDB's snapshot
//! stripes (`CompactionIterator`): of the versions of a key that the same
//! snapshots can see, only the newest is kept; a tombstone goes only when
//! every snapshot sees it and no deeper level can hold an older version.

use std::collections::HashSet;

use super::*;
use crate::format::{cmp_internal, split_internal_key};
use crate::sstable::{TableCursor, TableProperties};
use crate::table_cache::TableHandle;

/// One compaction: tables of `level` and the overlapping tables of
/// `level + 1`, merged into new tables of `level + 1`.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) level: usize,
    pub(super) inputs: Vec<Arc<TableHandle>>,
    pub(super) overlaps: Vec<Arc<TableHandle>>,
}

/// Smallest and largest user keys over `ts` (non-empty).
fn user_range(ts: &[Arc<TableHandle>]) -> (Vec<u8>, Vec<u8>) {
    let lo = ts
        .iter()
        .map(|t| t.smallest_user_key())
        .min()
        .unwrap_or_default();
    let hi = ts
        .iter()
        .map(|t| t.largest_user_key())
        .max()
        .unwrap_or_default();
    (lo.to_vec(), hi.to_vec())
}

fn overlapping(level: &[Arc<TableHandle>], lo: &[u8], hi: &[u8]) -> Vec<Arc<TableHandle>> {
    level
        .iter()
        .filter(|t| t.largest_user_key() >= lo && t.smallest_user_key() <= hi)
        .cloned()
        .collect()
}

fn table_meta(number: u64, size: u64, p: TableProperties) -> TableMeta {
    TableMeta {
        number,
        size,
        smallest: p.smallest,
        largest: p.largest,
        min_seq: p.min_seq,
        max_seq: p.max_seq,
        num_entries: p.num_entries,
    }
}

/// Sorts a level deeper than L0 by smallest key.
fn sort_level(level: &mut [Arc<TableHandle>]) {
    level.sort_by(|a, b| cmp_internal(a.smallest(), b.smallest()));
}

impl Inner {
    /// Target size of `level` (>= 1), in bytes.
    pub(super) fn level_target(&self, level: usize) -> u64 {
        let mut t = self.opts.level1_bytes;
        for _ in 1..level {
            t = t.saturating_mul(self.opts.level_size_ratio);
        }
        t
    }

    /// The level most in need of compaction (score >= 1), if any.
    pub(super) fn pick_level(&self, sv: &SuperVersion) -> Option<usize> {
        let mut best: Option<(f64, usize)> = None;
        let l0 = sv.levels[0].len() as f64 / self.opts.l0_compaction_trigger as f64;
        if l0 >= 1.0 {
            best = Some((l0, 0));
        }
        for level in 1..sv.levels.len() - 1 {
            let bytes: u64 = sv.levels[level].iter().map(|t| t.size()).sum();
            let score = bytes as f64 / self.level_target(level) as f64;
            if score >= 1.0 && best.is_none_or(|(b, _)| score > b) {
                best = Some((score, level));
            }
        }
        best.map(|b| b.1)
    }

    /// The compaction of `level`: all of L0, or the first table of a
    /// deeper level after `cursor` (the last key compacted there).
    fn plan(sv: &SuperVersion, level: usize, cursor: &[u8]) -> Plan {
        let inputs = if level == 0 {
            sv.levels[0].clone()
        } else {
            let files = &sv.levels[level];
            let i = files.partition_point(|t| t.largest_user_key() <= cursor);
            vec![files.get(i).unwrap_or(&files[0]).clone()]
        };
        let (lo, hi) = user_range(&inputs);
        let overlaps = overlapping(&sv.levels[level + 1], &lo, &hi);
        Plan {
            level,
            inputs,
            overlaps,
        }
    }

    /// The background compaction thread.
    pub(super) fn compaction_loop(self: Arc<Self>) {
        let mut cursors = vec![Vec::new(); self.opts.num_levels];
        loop {
            let plan = {
                let mut core = self.core.lock();
                loop {
                    if core.bg_error.is_some() || core.closing {
                        return;
                    }
                    let sv = self.sv.load();
                    // `compacting` may also be held by `compact_all`.
                    if !core.compacting {
                        if let Some(level) = self.pick_level(&sv) {
                            core.compacting = true;
                            break Self::plan(&sv, level, &cursors[level]);
                        }
                    }
                    self.core_cv.wait(&mut core);
                }
            };
            if plan.level > 0 {
                cursors[plan.level] = plan.inputs[0].largest_user_key().to_vec();
            }
            let r = self.compact(&plan);
            let mut core = self.core.lock();
            core.compacting = false;
            match r {
                Ok(()) | Err(Error::Closed) => {}
                Err(e) => core.bg_error = Some(e),
            }
            self.core_cv.notify_all();
        }
    }

    /// Waits until no compaction runs and none is needed.
    pub(super) fn wait_compactions_settled(&self) -> Result<()> {
        let mut core = self.core.lock();
        loop {
            if let Some(e) = &core.bg_error {
                return Err(e.clone());
            }
            if !core.compacting && self.pick_level(&self.sv.load()).is_none() {
                return Ok(());
            }
            if core.closing {
                return Err(Error::Closed);
            }
            self.core_cv.wait(&mut core);
        }
    }

    /// Compacts every table down into the deepest level that holds data
    /// (at least L1), level by level, with the background compaction held
    /// off: afterwards no overwritten version and no tombstone that no open
    /// snapshot needs is left (RocksDB's `CompactRange` over the whole key
    /// space, bottommost level included).
    pub(super) fn compact_all(&self) -> Result<()> {
        {
            let mut core = self.core.lock();
            loop {
                if let Some(e) = &core.bg_error {
                    return Err(e.clone());
                }
                if core.closing {
                    return Err(Error::Closed);
                }
                if !core.compacting {
                    core.compacting = true;
                    break;
                }
                self.core_cv.wait(&mut core);
            }
        }
        let r = (|| {
            let sv = self.sv.load_full();
            let last = (1..sv.levels.len())
                .rev()
                .find(|&l| !sv.levels[l].is_empty())
                .unwrap_or(1);
            drop(sv);
            // Whether the last step rewrote every table of `last`.
            let mut rewrote_last = false;
            for level in 0..last {
                let sv = self.sv.load_full();
                let inputs = sv.levels[level].clone();
                if inputs.is_empty() {
                    continue;
                }
                let (lo, hi) = user_range(&inputs);
                let overlaps = overlapping(&sv.levels[level + 1], &lo, &hi);
                rewrote_last = level + 1 == last && overlaps.len() == sv.levels[last].len();
                drop(sv);
                self.compact(&Plan {
                    level,
                    inputs,
                    overlaps,
                })?;
            }
            if !rewrote_last {
                // The bottommost level onto itself: drops the tombstones and
                // shadowed versions it holds.
                let tables = self.sv.load().levels[last].clone();
                if !tables.is_empty() {
                    self.compact(&Plan {
                        level: last - 1,
                        inputs: Vec::new(),
                        overlaps: tables,
                    })?;
                }
            }
            Ok(())
        })();
        let mut core = self.core.lock();
        core.compacting = false;
        self.core_cv.notify_all();
        r
    }

    fn new_table(&self) -> Result<(u64, PathBuf, TableBuilder)> {
        let number = {
            let mut core = self.core.lock();
            core.manifest.next_file += 1;
            core.manifest.next_file - 1
        };
        let path = self.dir.join(file_name(number, "sst"));
        let file = self.fs().create(&path).map_err(|e| Error::io(&path, e))?;
        let b = TableBuilder::new(
            file,
            path.clone(),
            self.opts.block_size,
            self.opts.compression,
        )?;
        Ok((number, path, b))
    }

    /// Runs `plan`: merges, writes the new tables, records the change in
    /// one manifest write, then deletes the inputs. On error (or
    /// [`Error::Closed`] when the database closes mid-way) the new files
    /// are removed and nothing changes.
    pub(super) fn compact(&self, plan: &Plan) -> Result<()> {
        let out_level = plan.level + 1;
        // Snapshot stripes: a version is seen by the snapshots from the
        // first one at or after its sequence number; `u64::MAX` stands for
        // the reads that take no snapshot.
        let snaps: Vec<u64> = {
            let s = self.snapshots.lock();
            s.keys().copied().chain([u64::MAX]).collect()
        };
        let all: Vec<Arc<TableHandle>> =
            plan.inputs.iter().chain(&plan.overlaps).cloned().collect();
        let (lo, hi) = user_range(&all);
        let sv = self.sv.load_full();
        let bottommost = sv.levels[out_level + 1..]
            .iter()
            .all(|l| overlapping(l, &lo, &hi).is_empty());
        drop(sv);
        let mut outputs: Vec<(u64, PathBuf, TableProperties, u64)> = Vec::new();
        let mut created: Vec<PathBuf> = Vec::new();
        let r = self.merge(&all, &snaps, bottommost, &mut outputs, &mut created);
        let r = r.and_then(|()| {
            self.fs()
                .sync_dir(&self.dir)
                .map_err(|e| Error::io(&self.dir, e))?;
            let mut tables = Vec::new();
            for (number, path, _, _) in &outputs {
                tables.push(self.tables.open_uncached(path, *number)?);
            }
            self.install(plan, outputs, tables)
        });
        if r.is_err() {
            for p in &created {
                let _ = self.fs().remove(p);
            }
        }
        r
    }

    fn merge(
        &self,
        all: &[Arc<TableHandle>],
        snaps: &[u64],
        bottommost: bool,
        outputs: &mut Vec<(u64, PathBuf, TableProperties, u64)>,
        created: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let mut cursors = Vec::with_capacity(all.len());
        for h in all {
            cursors.push(TableCursor::new(self.tables.get(h)?));
        }
        for c in &mut cursors {
            c.seek_first()?;
        }
        let target = self.opts.target_table_bytes;
        let mut builder: Option<(u64, PathBuf, TableBuilder)> = None;
        let mut last_uk: Option<Vec<u8>> = None;
        let mut last_stripe = 0usize;
        let mut n = 0u64;
        loop {
            let mut best: Option<usize> = None;
            for (i, c) in cursors.iter().enumerate() {
                if c.valid() && best.is_none_or(|b| cmp_internal(c.key(), cursors[b].key()).is_lt())
                {
                    best = Some(i);
                }
            }
            let Some(i) = best else { break };
            n += 1;
            if n.is_multiple_of(1024) && self.closing.load(AtOrd::Acquire) {
                return Err(Error::Closed);
            }
            let c = &cursors[i];
            let key = c.key();
            let Some((uk, seq, kind)) = split_internal_key(key) else {
                return Err(Error::corruption(
                    all[i].path(),
                    0,
                    "internal key shorter than 8 bytes",
                ));
            };
            let new_key = last_uk.as_deref() != Some(uk);
            let stripe = snaps.partition_point(|&s| s < seq);
            let drop = if !new_key && stripe == last_stripe {
                // A newer version is visible to every snapshot that sees
                // this one.
                true
            } else {
                kind == Kind::Delete as u8 && bottommost && stripe == 0
            };
            last_stripe = stripe;
            if new_key {
                // Cut tables only between user keys, so that deeper levels
                // hold each user key in one table.
                if builder
                    .as_ref()
                    .is_some_and(|b| b.2.estimated_size() >= target)
                {
                    let (number, path, b) = builder.take().expect("checked");
                    let (props, size) = b.finish()?;
                    outputs.push((number, path, props, size));
                }
                last_uk = Some(uk.to_vec());
            }
            if !drop {
                if builder.is_none() {
                    let b = self.new_table()?;
                    created.push(b.1.clone());
                    builder = Some(b);
                }
                let b = &mut builder.as_mut().expect("set above").2;
                b.add_internal(key, &c.value())?;
            }
            cursors[i].next()?;
        }
        if let Some((number, path, b)) = builder {
            let (props, size) = b.finish()?;
            outputs.push((number, path, props, size));
        }
        Ok(())
    }

    fn install(
        &self,
        plan: &Plan,
        outputs: Vec<(u64, PathBuf, TableProperties, u64)>,
        tables: Vec<Arc<Table>>,
    ) -> Result<()> {
        let out_level = plan.level + 1;
        let gone: HashSet<u64> = plan
            .inputs
            .iter()
            .chain(&plan.overlaps)
            .map(|t| t.number())
            .collect();
        let read: u64 = plan
            .inputs
            .iter()
            .chain(&plan.overlaps)
            .map(|t| t.size())
            .sum();
        let written: u64 = outputs.iter().map(|o| o.3).sum();
        let mut core = self.core.lock();
        let mut md = core.manifest.clone();
        md.levels[plan.level].retain(|t| !gone.contains(&t.number));
        md.levels[out_level].retain(|t| !gone.contains(&t.number));
        for (number, _, props, size) in outputs {
            md.levels[out_level].push(table_meta(number, size, props));
        }
        md.levels[out_level].sort_by(|a, b| cmp_internal(&a.smallest, &b.smallest));
        manifest::write(self.fs(), &self.dir, &md)?;
        core.manifest = md;
        let cur = self.sv.load_full();
        let mut levels = cur.levels.clone();
        levels[plan.level].retain(|t| !gone.contains(&t.number()));
        levels[out_level].retain(|t| !gone.contains(&t.number()));
        for t in tables {
            levels[out_level].push(Arc::new(TableHandle::of(&t, self.opts.fs.clone())));
            self.tables.insert(t);
        }
        sort_level(&mut levels[out_level]);
        self.sv.store(Arc::new(SuperVersion {
            mem: cur.mem.clone(),
            imms: cur.imms.clone(),
            levels,
            tables: cur.tables.clone(),
        }));
        drop(core);
        let c = &self.counters;
        c.compactions.fetch_add(1, AtOrd::Relaxed);
        c.compaction_read.fetch_add(read, AtOrd::Relaxed);
        c.compaction_written.fetch_add(written, AtOrd::Relaxed);
        for t in plan.inputs.iter().chain(&plan.overlaps) {
            // Deleted when readers of older super versions are done.
            self.tables.evict(t.number());
            t.mark_obsolete();
        }
        Ok(())
    }
}
