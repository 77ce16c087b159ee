//! Data block decoding of arbitrary bytes: trailer (checksum, lz4 size
//! limits), restart array, entries, seek. Must never panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use lsm::sstable::block::{decode_block, Block};

fuzz_target!(|data: &[u8]| {
    let (mode, rest) = match data.split_first() {
        Some((m, r)) => (*m, r),
        None => return,
    };
    let raw = if mode & 1 == 1 {
        // Through the on-disk trailer: append a valid checksum half of the
        // time so decompression and the block body are reached.
        let mut v = rest.to_vec();
        if mode & 2 == 2 {
            v.push(mode >> 7);
            let c = crc32c_of(&v);
            v.extend_from_slice(&c.to_le_bytes());
        }
        match decode_block(Bytes::from(v)) {
            Ok(b) => b,
            Err(_) => return,
        }
    } else {
        Bytes::copy_from_slice(rest)
    };
    let Ok(block) = Block::new(raw) else { return };
    let (mut keys, mut ents) = (Vec::new(), Vec::new());
    let _ = block.decode_all(&mut keys, &mut ents);
    let mut key = Vec::new();
    let _ = block.seek(&[0x61, 0, 0, 0, 0, 0, 0, 0, 0], &mut key);
    let _ = block.seek(&[0xff; 12], &mut key);
});

fn crc32c_of(d: &[u8]) -> u32 {
    lsm::wal::checksum(d)
}
