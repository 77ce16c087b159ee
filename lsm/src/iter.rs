//! Range iteration: a merge of memtable and table cursors, forwards and
//! backwards, resolving versions at a snapshot sequence number.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use crate::db::SuperVersion;
use crate::error::Result;
use crate::format::{cmp_internal, internal_key, split_internal_key, Kind, KIND_SEEK, MAX_SEQ};
use crate::memtable::MemCursor;
use crate::sstable::TableCursor;
use crate::table_cache::{TableCache, TableHandle};

#[derive(Debug)]
enum Src {
    Mem(MemCursor),
    Table(TableCursor),
    Level(LevelCursor),
}

impl Src {
    fn valid(&self) -> bool {
        match self {
            Src::Mem(c) => c.valid(),
            Src::Table(c) => c.valid(),
            Src::Level(c) => c.valid(),
        }
    }
    fn key(&self) -> &[u8] {
        match self {
            Src::Mem(c) => c.key(),
            Src::Table(c) => c.key(),
            Src::Level(c) => c.key(),
        }
    }
    fn value(&self) -> Bytes {
        match self {
            Src::Mem(c) => c.value().clone(),
            Src::Table(c) => c.value(),
            Src::Level(c) => c.value(),
        }
    }
    fn seek(&mut self, t: &[u8]) -> Result<()> {
        match self {
            Src::Mem(c) => {
                c.seek(t);
                Ok(())
            }
            Src::Table(c) => c.seek(t),
            Src::Level(c) => c.seek(t),
        }
    }
    fn seek_for_prev(&mut self, t: &[u8]) -> Result<()> {
        match self {
            Src::Mem(c) => {
                c.seek_for_prev(t);
                Ok(())
            }
            Src::Table(c) => c.seek_for_prev(t),
            Src::Level(c) => c.seek_for_prev(t),
        }
    }
    fn seek_first(&mut self) -> Result<()> {
        match self {
            Src::Mem(c) => {
                c.seek_first();
                Ok(())
            }
            Src::Table(c) => c.seek_first(),
            Src::Level(c) => c.seek_first(),
        }
    }
    fn seek_last(&mut self) -> Result<()> {
        match self {
            Src::Mem(c) => {
                c.seek_last();
                Ok(())
            }
            Src::Table(c) => c.seek_last(),
            Src::Level(c) => c.seek_last(),
        }
    }
    fn next(&mut self) -> Result<()> {
        match self {
            Src::Mem(c) => {
                c.next();
                Ok(())
            }
            Src::Table(c) => c.next(),
            Src::Level(c) => c.next(),
        }
    }
    fn prev(&mut self) -> Result<()> {
        match self {
            Src::Mem(c) => {
                c.prev();
                Ok(())
            }
            Src::Table(c) => c.prev(),
            Src::Level(c) => c.prev(),
        }
    }
}

/// One cursor per memtable and per L0 table, one per deeper level.
fn sources(sv: &SuperVersion) -> Result<Vec<Src>> {
    let mut v = Vec::new();
    v.push(Src::Mem(MemCursor::new(sv.mem.clone())));
    for m in &sv.imms {
        v.push(Src::Mem(MemCursor::new(m.clone())));
    }
    for h in &sv.levels[0] {
        v.push(Src::Table(TableCursor::new(sv.tables.get(h)?)));
    }
    for level in &sv.levels[1..] {
        if !level.is_empty() {
            v.push(Src::Level(LevelCursor {
                handles: level.clone(),
                tables: sv.tables.clone(),
                idx: 0,
                cur: None,
            }));
        }
    }
    Ok(v)
}

/// A cursor over a level of sorted, disjoint tables (LevelDB's
/// concatenating iterator): opens one table at a time.
#[derive(Debug)]
struct LevelCursor {
    handles: Vec<Arc<TableHandle>>,
    tables: Arc<TableCache>,
    idx: usize,
    cur: Option<TableCursor>,
}

impl LevelCursor {
    fn open(&mut self, idx: usize) -> Result<&mut TableCursor> {
        self.idx = idx;
        let t = self.tables.get(&self.handles[idx])?;
        Ok(self.cur.insert(TableCursor::new(t)))
    }
    fn valid(&self) -> bool {
        self.cur.as_ref().is_some_and(|c| c.valid())
    }
    fn key(&self) -> &[u8] {
        self.cur.as_ref().expect("valid").key()
    }
    fn value(&self) -> Bytes {
        self.cur.as_ref().expect("valid").value()
    }
    /// From table `idx` on, the first entry (skipping empty tables).
    fn first_from(&mut self, mut idx: usize) -> Result<()> {
        while idx < self.handles.len() {
            self.open(idx)?.seek_first()?;
            if self.valid() {
                return Ok(());
            }
            idx += 1;
        }
        self.cur = None;
        Ok(())
    }
    /// From table `idx` down, the last entry (skipping empty tables).
    fn last_from(&mut self, idx: Option<usize>) -> Result<()> {
        let mut idx = idx;
        while let Some(i) = idx {
            self.open(i)?.seek_last()?;
            if self.valid() {
                return Ok(());
            }
            idx = i.checked_sub(1);
        }
        self.cur = None;
        Ok(())
    }
    fn seek_first(&mut self) -> Result<()> {
        self.first_from(0)
    }
    fn seek_last(&mut self) -> Result<()> {
        self.last_from(self.handles.len().checked_sub(1))
    }
    fn seek(&mut self, t: &[u8]) -> Result<()> {
        let i = self
            .handles
            .partition_point(|h| cmp_internal(h.largest(), t) == Ordering::Less);
        if i >= self.handles.len() {
            self.cur = None;
            return Ok(());
        }
        self.open(i)?.seek(t)?;
        if !self.valid() {
            self.first_from(i + 1)?;
        }
        Ok(())
    }
    fn seek_for_prev(&mut self, t: &[u8]) -> Result<()> {
        let i = self
            .handles
            .partition_point(|h| cmp_internal(h.smallest(), t) != Ordering::Greater);
        let Some(i) = i.checked_sub(1) else {
            self.cur = None;
            return Ok(());
        };
        self.open(i)?.seek_for_prev(t)?;
        if !self.valid() {
            self.last_from(i.checked_sub(1))?;
        }
        Ok(())
    }
    fn next(&mut self) -> Result<()> {
        if let Some(c) = &mut self.cur {
            c.next()?;
            if !c.valid() {
                self.first_from(self.idx + 1)?;
            }
        }
        Ok(())
    }
    fn prev(&mut self) -> Result<()> {
        if let Some(c) = &mut self.cur {
            c.prev()?;
            if !c.valid() {
                self.last_from(self.idx.checked_sub(1))?;
            }
        }
        Ok(())
    }
}

fn ukey(k: &[u8]) -> &[u8] {
    crate::format::user_key(k)
}

/// An iterator over a key range at a snapshot, from both ends.
///
/// Yields `(key, value)` pairs in key order (`next`) or reverse key order
/// (`next_back`); the two ends never cross. Values read from tables are
/// slices of the block buffers. After an error the iterator is finished.
#[derive(Debug)]
pub struct Iter {
    sv: Arc<SuperVersion>,
    seq: u64,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    fwd: Option<Vec<Src>>,
    bwd: Option<Vec<Src>>,
    front_last: Option<Bytes>,
    back_last: Option<Bytes>,
    done: bool,
}

impl Iter {
    pub(crate) fn new(
        sv: Arc<SuperVersion>,
        seq: u64,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
    ) -> Iter {
        Iter {
            sv,
            seq,
            lo,
            hi,
            fwd: None,
            bwd: None,
            front_last: None,
            back_last: None,
            done: false,
        }
    }

    fn above_hi(&self, k: &[u8]) -> bool {
        match &self.hi {
            Bound::Included(h) => k > h.as_slice(),
            Bound::Excluded(h) => k >= h.as_slice(),
            Bound::Unbounded => false,
        }
    }

    fn below_lo(&self, k: &[u8]) -> bool {
        match &self.lo {
            Bound::Included(l) => k < l.as_slice(),
            Bound::Excluded(l) => k <= l.as_slice(),
            Bound::Unbounded => false,
        }
    }

    fn step_forward(&mut self) -> Result<Option<(Bytes, Bytes)>> {
        if self.fwd.is_none() {
            let mut srcs = sources(&self.sv)?;
            for s in &mut srcs {
                match &self.lo {
                    Bound::Included(k) | Bound::Excluded(k) => {
                        s.seek(&internal_key(k, MAX_SEQ, KIND_SEEK))?
                    }
                    Bound::Unbounded => s.seek_first()?,
                }
            }
            self.fwd = Some(srcs);
        }
        let mut srcs = self.fwd.take().expect("set above");
        let r = self.forward_inner(&mut srcs);
        self.fwd = Some(srcs);
        r
    }

    fn forward_inner(&self, srcs: &mut [Src]) -> Result<Option<(Bytes, Bytes)>> {
        loop {
            let mut best: Option<usize> = None;
            for (i, s) in srcs.iter().enumerate() {
                if s.valid()
                    && best.is_none_or(|b| cmp_internal(s.key(), srcs[b].key()) == Ordering::Less)
                {
                    best = Some(i);
                }
            }
            let Some(i) = best else { return Ok(None) };
            let Some((uk, seq, kind)) = split_internal_key(srcs[i].key()) else {
                srcs[i].next()?;
                continue;
            };
            if self.above_hi(uk) {
                return Ok(None);
            }
            if seq > self.seq {
                srcs[i].next()?;
                continue;
            }
            let uk = Bytes::copy_from_slice(uk);
            let value = srcs[i].value();
            for s in srcs.iter_mut() {
                while s.valid() && ukey(s.key()) == &uk[..] {
                    s.next()?;
                }
            }
            if kind == Kind::Delete as u8 || self.below_lo(&uk) {
                continue;
            }
            return Ok(Some((uk, value)));
        }
    }

    fn step_backward(&mut self) -> Result<Option<(Bytes, Bytes)>> {
        if self.bwd.is_none() {
            let mut srcs = sources(&self.sv)?;
            for s in &mut srcs {
                match &self.hi {
                    Bound::Included(k) | Bound::Excluded(k) => {
                        s.seek_for_prev(&internal_key(k, 0, 0))?
                    }
                    Bound::Unbounded => s.seek_last()?,
                }
            }
            self.bwd = Some(srcs);
        }
        let mut srcs = self.bwd.take().expect("set above");
        let r = self.backward_inner(&mut srcs);
        self.bwd = Some(srcs);
        r
    }

    fn backward_inner(&self, srcs: &mut [Src]) -> Result<Option<(Bytes, Bytes)>> {
        loop {
            let mut best: Option<usize> = None;
            for (i, s) in srcs.iter().enumerate() {
                if s.valid()
                    && best
                        .is_none_or(|b| cmp_internal(s.key(), srcs[b].key()) == Ordering::Greater)
                {
                    best = Some(i);
                }
            }
            let Some(i) = best else { return Ok(None) };
            let uk = Bytes::copy_from_slice(ukey(srcs[i].key()));
            if self.below_lo(&uk) {
                return Ok(None);
            }
            // The newest visible version of `uk` across all sources.
            let mut found: Option<(u64, u8, Bytes)> = None;
            for s in srcs.iter_mut() {
                while s.valid() && ukey(s.key()) == &uk[..] {
                    if let Some((_, seq, kind)) = split_internal_key(s.key()) {
                        if seq <= self.seq && found.as_ref().is_none_or(|f| f.0 < seq) {
                            found = Some((seq, kind, s.value()));
                        }
                    }
                    s.prev()?;
                }
            }
            if self.above_hi(&uk) {
                continue;
            }
            if let Some((_, kind, v)) = found {
                if kind != Kind::Delete as u8 {
                    return Ok(Some((uk, v)));
                }
            }
        }
    }
}

impl Iterator for Iter {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step_forward() {
            Ok(Some((k, v))) => {
                if self.back_last.as_ref().is_some_and(|b| k >= *b) {
                    self.done = true;
                    return None;
                }
                self.front_last = Some(k.clone());
                Some(Ok((k, v)))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step_backward() {
            Ok(Some((k, v))) => {
                if self.front_last.as_ref().is_some_and(|f| k <= *f) {
                    self.done = true;
                    return None;
                }
                self.back_last = Some(k.clone());
                Some(Ok((k, v)))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The smallest key greater than every key starting with `prefix`, if any.
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last != 0xff {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_cases() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }
}
