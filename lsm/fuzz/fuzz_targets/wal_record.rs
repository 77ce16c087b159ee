//! WAL decoding of arbitrary bytes: framing, checksums, torn-tail rules
//! and validated (bytecheck) access to the batch archive. Must never
//! panic. (The trusted, unvalidated path is only for files the engine
//! wrote itself and is not reachable from here.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    // Prefix a valid header half of the time so the fuzzer reaches records.
    let mut buf = rkyv::util::AlignedVec::<16>::new();
    if data.first().is_some_and(|b| b & 1 == 1) {
        buf.extend_from_slice(&lsm::format::FileHeader::encode(lsm::format::FileKind::Wal));
        buf.extend_from_slice(&data[1..]);
    } else {
        buf.extend_from_slice(data);
    }
    let path = Path::new("fuzz.wal");
    let Ok(mut r) = lsm::wal::RecordReader::new(&buf, path) else {
        return;
    };
    while let Ok(Some(rec)) = r.next_record() {
        if let Ok(batch) = rec.batch_checked(path) {
            for e in batch.entries.iter() {
                let _ = (e.kind, e.key.len(), e.value.len());
            }
        }
    }
});
