//! Snapshot decoders on any bytes; the first byte picks the layer: the
//! whole file (checksum as is, or fixed up), the LZ4 chunk run alone, or
//! the key-value data alone.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let _ = raft_store::fuzz_api::snapshot(rest, false);
        }
        1 => {
            let _ = raft_store::fuzz_api::snapshot(rest, true);
        }
        2 => {
            let _ = raft_store::fuzz_api::snapshot_chunks(rest);
        }
        _ => {
            let _ = raft_store::fuzz_api::kv_data(rest);
        }
    }
});
