//! Segment frames (prefix, rkyv header, entry body) on any bytes; the first
//! byte says whether checksums are fixed up first (to reach the decoders
//! behind them).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let _ = raft_store::fuzz_api::frames(rest, mode & 1 == 1);
});
