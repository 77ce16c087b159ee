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

#[derive(Debug)]
enum Src {
    Mem(MemCursor),
    Table(TableCursor),
}

impl Src {
    fn valid(&self) -> bool {
        match self {
            Src::Mem(c) => c.valid(),
            Src::Table(c) => c.valid(),
        }
    }
    fn key(&self) -> &[u8] {
        match self {
            Src::Mem(c) => c.key(),
            Src::Table(c) => c.key(),
        }
    }
    fn value(&self) -> Bytes {
        match self {
            Src::Mem(c) => c.value().clone(),
            Src::Table(c) => c.value(),
        }
    }
    fn seek(&mut self, t: &[u8]) -> Result<()> {
        match self {
            Src::Mem(c) => {
                c.seek(t);
                Ok(())
            }
            Src::Table(c) => c.seek(t),
        }
    }
    fn seek_for_prev(&mut self, t: &[u8]) -> Result<()> {
        match self {
            Src::Mem(c) => {
                c.seek_for_prev(t);
                Ok(())
            }
            Src::Table(c) => c.seek_for_prev(t),
        }
    }
    fn seek_first(&mut self) -> Result<()> {
        match self {
            Src::Mem(c) => {
                c.seek_first();
                Ok(())
            }
            Src::Table(c) => c.seek_first(),
        }
    }
    fn seek_last(&mut self) -> Result<()> {
        match self {
            Src::Mem(c) => {
                c.seek_last();
                Ok(())
            }
            Src::Table(c) => c.seek_last(),
        }
    }
    fn next(&mut self) -> Result<()> {
        match self {
            Src::Mem(c) => {
                c.next();
                Ok(())
            }
            Src::Table(c) => c.next(),
        }
    }
    fn prev(&mut self) -> Result<()> {
        match self {
            Src::Mem(c) => {
                c.prev();
                Ok(())
            }
            Src::Table(c) => c.prev(),
        }
    }
}

fn sources(sv: &SuperVersion) -> Vec<Src> {
    let mut v = Vec::new();
    v.push(Src::Mem(MemCursor::new(sv.mem.clone())));
    for m in &sv.imms {
        v.push(Src::Mem(MemCursor::new(m.clone())));
    }
    for level in &sv.levels {
        for t in level {
            v.push(Src::Table(TableCursor::new(t.clone())));
        }
    }
    v
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
            let mut srcs = sources(&self.sv);
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
            let mut srcs = sources(&self.sv);
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
