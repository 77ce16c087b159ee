//! JsonCodec::decode on any bytes.
#![no_main]
use codec::{ChatMessage, Codec, JsonCodec, RpcRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let json = JsonCodec::new();
    let _ = Codec::<RpcRequest>::decode(&json, data);
    let _ = Codec::<ChatMessage>::decode(&json, data);
});
