//! Shared fixtures for the integration tests (included with `mod common`).
#![allow(dead_code)]

use codec::{ChatMessage, JsonValue, RpcMethodType, RpcRequest, RpcResponse};

pub fn chat(i: u64) -> ChatMessage {
    ChatMessage::new(
        &format!("msg-{i}"),
        &format!("hello number {i}, with some text"),
        1_700_000_000_000 + i,
        "alice",
        "room-42",
    )
}

pub fn request(i: u64) -> RpcRequest {
    RpcRequest {
        id: format!("req-{i}"),
        method: "kv.set".into(),
        params: JsonValue::from(serde_json::json!({
            "key": format!("user:{i}"), "value": "v", "ttl_ms": 60_000, "nx": false,
            "tags": ["a", "b", null, 1.5, -3], "nested": {"deep": {"x": i}}
        })),
        method_type: RpcMethodType::Command,
    }
}

pub fn response(i: u64) -> RpcResponse {
    RpcResponse {
        id: format!("req-{i}"),
        result: Some(JsonValue::from(serde_json::json!({"ok": true}))),
        error: None,
    }
}

/// A 16-byte-aligned copy of `bytes` placed at `offset` bytes past an
/// aligned address: returns the backing store and the range to slice.
pub fn at_offset(
    bytes: &[u8],
    offset: usize,
) -> (rkyv::util::AlignedVec<16>, std::ops::Range<usize>) {
    let mut v = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len() + offset);
    v.resize(offset, 0xAA);
    v.extend_from_slice(bytes);
    (v, offset..offset + bytes.len())
}

/// Aligned copy of `bytes`.
pub fn aligned(bytes: &[u8]) -> rkyv::util::AlignedVec<16> {
    at_offset(bytes, 0).0
}
