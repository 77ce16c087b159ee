//! The metadata file decoder on any bytes (first byte: fix the checksum
//! first); a decoded file must round-trip.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let _ = raft_store::fuzz_api::meta(rest, mode & 1 == 1);
});
