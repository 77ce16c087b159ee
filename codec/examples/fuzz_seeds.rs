//! Writes valid encodings as seed inputs for the fuzz targets:
//! `cargo run -p codec --example fuzz_seeds -- codec/fuzz/corpus`.

use std::path::PathBuf;

use codec::{
    ChatMessage, Codec, CompressedCodec, CompressedConfig, HybridCodec, JsonCodec, JsonValue,
    RkyvCodec, RpcMethodType, RpcRequest,
};

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    let req = RpcRequest {
        id: "r1".into(),
        method: "kv.set".into(),
        params: JsonValue::from(serde_json::json!({"k": [1, -2, 2.5, "s", null, true, {"x": {}}]})),
        method_type: RpcMethodType::Command,
    };
    let chat = ChatMessage::new("m1", "hello there", 7, "ann", "lobby");
    let small = CompressedConfig {
        threshold: 16,
        ..Default::default()
    };
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("json_decode", JsonCodec::new().encode(&req).unwrap()),
        ("json_decode", JsonCodec::new().encode(&chat).unwrap()),
        (
            "rkyv_decode",
            [&[0u8][..], &RkyvCodec::new().encode(&req).unwrap()].concat(),
        ),
        (
            "rkyv_decode",
            [&[0u8][..], &RkyvCodec::new().encode(&chat).unwrap()].concat(),
        ),
        (
            "hybrid_decode",
            [&[0u8][..], &HybridCodec::new().encode(&req).unwrap()].concat(),
        ),
        (
            "hybrid_decode",
            [&[0u8][..], &JsonCodec::new().encode(&req).unwrap()].concat(),
        ),
        (
            "compressed_decode",
            CompressedCodec::with_config(HybridCodec::new(), small)
                .encode(&req)
                .unwrap(),
        ),
        (
            "compressed_decode",
            CompressedCodec::new(HybridCodec::new())
                .encode(&req)
                .unwrap(),
        ),
        ("zero_copy_append", {
            let a = RkyvCodec::new().encode(&req).unwrap();
            [&[(a.len() / 4) as u8][..], &a].concat()
        }),
    ];
    for (i, (target, bytes)) in seeds.into_iter().enumerate() {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{i}")), bytes)?;
    }
    Ok(())
}
