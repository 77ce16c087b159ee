//! HybridCodec::decode and ::access on any bytes (tagged or not), at any
//! alignment (the first byte picks the offset).
#![no_main]
use codec::{ChatMessage, Codec, HybridCodec, RpcRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&shift, rest)) = data.split_first() else {
        return;
    };
    let offset = usize::from(shift % 16);
    let mut store = rkyv::util::AlignedVec::<16>::with_capacity(rest.len() + offset);
    store.resize(offset, 0);
    store.extend_from_slice(rest);
    let input = &store[offset..];
    let hybrid = HybridCodec::new();
    let _ = Codec::<RpcRequest>::decode(&hybrid, input);
    let _ = Codec::<ChatMessage>::decode(&hybrid, input);
    if let Ok(v) = hybrid.access::<RpcRequest>(input) {
        let _ = serde_json::Value::from(&v.params);
    }
});
