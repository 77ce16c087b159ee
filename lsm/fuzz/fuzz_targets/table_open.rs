//! Table opening from arbitrary bytes: header, footer, the filter, index
//! and properties handles and checksums, then a point lookup and a bloom
//! probe. Must never panic nor allocate from an unchecked length.
#![no_main]

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use lsm::fs::RandomAccessFile;
use lsm::sstable::{Table, FOOTER_LEN};

#[derive(Debug)]
struct Mem(Vec<u8>);

impl RandomAccessFile for Mem {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start.checked_add(buf.len()).ok_or(io::ErrorKind::UnexpectedEof)?;
        let src = self.0.get(start..end).ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

fuzz_target!(|data: &[u8]| {
    let mut v = data.to_vec();
    // Valid header and footer framing half of the time, so the handles
    // behind them are reached.
    if v.first().is_some_and(|b| b & 1 == 1) && v.len() >= 16 + FOOTER_LEN {
        v[..8].copy_from_slice(b"rkvLSMst");
        v[8..12].copy_from_slice(&1u32.to_le_bytes());
        let f = v.len() - FOOTER_LEN;
        v[f + 48..f + 52].copy_from_slice(&1u32.to_le_bytes());
        let c = crc32c::crc32c(&v[f..f + 52]);
        v[f + 52..f + 56].copy_from_slice(&c.to_le_bytes());
        v[f + 56..].copy_from_slice(b"rkvLSMst");
    }
    if let Ok(t) = Table::open(Arc::new(Mem(v)), PathBuf::from("fuzz.sst"), 1) {
        let _ = t.may_contain(b"key");
        let _ = t.get(b"key", 1 << 40);
    }
});
