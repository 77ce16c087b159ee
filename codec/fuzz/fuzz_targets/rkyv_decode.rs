//! RkyvCodec::decode and ::access on any bytes at any alignment (the first
//! byte picks the offset from a 16-byte boundary).
#![no_main]
use codec::{ChatMessage, Codec, JsonValue, RkyvCodec, RpcRequest};
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
    let rkyv = RkyvCodec::new();
    let _ = Codec::<RpcRequest>::decode(&rkyv, input);
    let _ = Codec::<ChatMessage>::decode(&rkyv, input);
    if let Ok(v) = rkyv.access::<JsonValue>(input) {
        let _ = serde_json::Value::from(&*v);
    }
    if let Ok(v) = rkyv.access::<RpcRequest>(input) {
        let _ = (v.id.len(), v.method.as_str().len());
    }
});
