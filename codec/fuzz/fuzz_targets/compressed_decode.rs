//! CompressedCodec::decode (lz4 around the hybrid codec) on any bytes.
#![no_main]
use codec::{Codec, CompressedCodec, CompressedConfig, HybridCodec, RpcRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let codec = CompressedCodec::with_config(
        HybridCodec::new(),
        CompressedConfig {
            max_decompressed_len: 1 << 20,
            ..Default::default()
        },
    );
    let _ = Codec::<RpcRequest>::decode(&codec, data);
});
