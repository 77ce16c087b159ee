//! Every codec round-trips every message type; encode_into appends.
mod common;

use codec::{
    ChatMessage, Codec, CodecKind, CompressedCodec, CompressedConfig, HybridCodec, JsonCodec,
    JsonValue, PayloadCodec, RkyvCodec, RpcRequest, RpcResponse,
};
use common::{aligned, at_offset, chat, request, response};
use proptest::prelude::*;

fn round_trip<T, C>(codec: &C, value: &T)
where
    T: PartialEq + std::fmt::Debug,
    C: Codec<T>,
{
    let bytes = codec.encode(value).unwrap();
    // Decode from an aligned copy (a Vec's alignment is the allocator's).
    assert_eq!(
        &codec.decode(&aligned(&bytes)).unwrap(),
        value,
        "{}",
        codec.kind()
    );
    // encode_into appends after existing bytes and reports the length.
    let mut out = b"prefix".to_vec();
    let n = codec.encode_into(value, &mut out).unwrap();
    assert_eq!(n, out.len() - 6);
    assert_eq!(&out[..6], b"prefix");
    assert_eq!(
        &out[6..],
        &bytes[..],
        "appending must not change the encoding"
    );
}

fn all_codecs<T>(value: &T)
where
    T: PartialEq + std::fmt::Debug,
    JsonCodec: Codec<T>,
    RkyvCodec: Codec<T>,
    HybridCodec: Codec<T>,
{
    round_trip(&JsonCodec::new(), value);
    round_trip(&RkyvCodec::new(), value);
    round_trip(&HybridCodec::new(), value);
    let small = CompressedConfig {
        threshold: 16,
        ..Default::default()
    };
    round_trip(
        &CompressedCodec::with_config(JsonCodec::new(), small),
        value,
    );
    round_trip(
        &CompressedCodec::with_config(RkyvCodec::new(), small),
        value,
    );
    round_trip(
        &CompressedCodec::with_config(HybridCodec::new(), small),
        value,
    );
    round_trip(&CompressedCodec::new(HybridCodec::new()), value);
}

#[test]
fn chat_messages_round_trip() {
    all_codecs(&chat(1));
    all_codecs(&ChatMessage::new("", "", 0, "", ""));
}

#[test]
fn rpc_requests_and_responses_round_trip() {
    all_codecs(&request(7));
    all_codecs(&response(7));
    all_codecs(&RpcResponse {
        id: "x".into(),
        result: None,
        error: Some(codec::RpcError {
            code: -32601,
            message: "method not found".into(),
        }),
    });
}

#[test]
fn content_types_and_kinds() {
    assert_eq!(
        Codec::<ChatMessage>::content_type(&JsonCodec::new()),
        "application/json"
    );
    assert_eq!(
        Codec::<ChatMessage>::content_type(&RkyvCodec::new()),
        "application/x-rkyv"
    );
    assert_eq!(
        Codec::<ChatMessage>::content_type(&HybridCodec::new()),
        "application/x-rkyv-hybrid"
    );
    let c = CompressedCodec::new(JsonCodec::new());
    assert_eq!(Codec::<ChatMessage>::content_type(&c), "application/x-lz4");
    assert_eq!(Codec::<ChatMessage>::kind(&c), CodecKind::Lz4);
}

#[test]
fn rkyv_access_reads_fields_in_place_at_every_alignment() {
    let rkyv = RkyvCodec::new();
    let msg = chat(3);
    let bytes = rkyv.encode(&msg).unwrap();
    for offset in 0..16 {
        let (store, range) = at_offset(&bytes, offset);
        let view = rkyv.access::<ChatMessage>(&store[range.clone()]).unwrap();
        assert_eq!(view.content, msg.content.as_str());
        assert_eq!(view.timestamp, msg.timestamp);
        assert_eq!(view.is_copied(), offset != 0, "offset {offset}");
        assert_eq!(
            Codec::<ChatMessage>::decode(&rkyv, &store[range]).unwrap(),
            msg
        );
    }
    // 15 misaligned accesses + 15 misaligned decodes.
    assert_eq!(
        Codec::<ChatMessage>::metrics(&rkyv)
            .snapshot()
            .misaligned_copies,
        30
    );
}

#[test]
fn hybrid_reads_untagged_json_from_older_peers() {
    let hybrid = HybridCodec::new();
    let req = request(9);
    let json = JsonCodec::new().encode(&req).unwrap();
    assert_eq!(Codec::<RpcRequest>::decode(&hybrid, &json).unwrap(), req);
    // Leading whitespace is still JSON.
    let mut spaced = b"  \n".to_vec();
    spaced.extend_from_slice(&json);
    assert_eq!(Codec::<RpcRequest>::decode(&hybrid, &spaced).unwrap(), req);
    // JSON has no zero-copy view.
    assert!(matches!(
        hybrid.access::<RpcRequest>(&json),
        Err(codec::Error::NotArchived { .. })
    ));
}

#[test]
fn hybrid_envelope_layout() {
    let bytes = HybridCodec::new().encode(&chat(1)).unwrap();
    let header = codec::Header::parse(&bytes, u32::MAX).unwrap();
    assert_eq!(&bytes[..2], &codec::MAGIC);
    assert_eq!(bytes[2], codec::VERSION);
    assert_eq!(header.codec, PayloadCodec::Rkyv);
    assert_eq!(header.payload_len as usize, bytes.len() - codec::HEADER_LEN);
    assert_eq!(header.checksum, xxhash_rust::xxh3::xxh3_64(&bytes[16..]));
    // The payload is the bare rkyv archive.
    assert_eq!(
        &bytes[16..],
        &RkyvCodec::new().encode(&chat(1)).unwrap()[..]
    );
}

#[test]
fn hybrid_trusted_path_matches_validated_path() {
    let hybrid = HybridCodec::new();
    let req = request(5);
    let bytes = aligned(&hybrid.encode(&req).unwrap());
    // SAFETY: these bytes were just written by this codec from an RpcRequest.
    let trusted = unsafe { hybrid.access_trusted::<RpcRequest>(&bytes) }.unwrap();
    let validated = hybrid.access::<RpcRequest>(&bytes).unwrap();
    assert!(!trusted.is_copied());
    assert_eq!(trusted.id, validated.id);
    assert_eq!(
        serde_json::Value::from(&trusted.params),
        serde_json::Value::from(req.params.clone())
    );
    // SAFETY: as above.
    let owned: RpcRequest = unsafe { hybrid.decode_trusted(&bytes) }.unwrap();
    assert_eq!(owned, req);
    // Misaligned input takes the validated copy.
    let (store, range) = at_offset(&bytes, 3);
    // SAFETY: as above.
    let copied = unsafe { hybrid.access_trusted::<RpcRequest>(&store[range]) }.unwrap();
    assert!(copied.is_copied());
    assert_eq!(copied.method, "kv.set");
}

#[test]
fn compression_below_threshold_is_stored_and_above_is_smaller() {
    let codec = CompressedCodec::with_config(
        JsonCodec::new(),
        CompressedConfig {
            threshold: 200,
            ..Default::default()
        },
    );
    let small = codec.encode(&chat(1)).unwrap();
    assert_eq!(small[0], 0, "stored");
    let big = ChatMessage::new("1", &"repetitive text ".repeat(100), 1, "a", "r");
    let bytes = codec.encode(&big).unwrap();
    assert_eq!(bytes[0], 1, "lz4");
    assert!(bytes.len() < 400, "{}", bytes.len());
    assert_eq!(Codec::<ChatMessage>::decode(&codec, &bytes).unwrap(), big);
}

#[cfg(feature = "zstd")]
#[test]
fn zstd_round_trips() {
    let codec = CompressedCodec::with_config(
        HybridCodec::new(),
        CompressedConfig {
            algorithm: codec::Algorithm::Zstd { level: 3 },
            threshold: 16,
            ..Default::default()
        },
    );
    let big = ChatMessage::new("1", &"zstd text ".repeat(100), 1, "a", "r");
    let bytes = codec.encode(&big).unwrap();
    assert_eq!(bytes[0], 2);
    assert_eq!(Codec::<ChatMessage>::decode(&codec, &bytes).unwrap(), big);
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn json_values_round_trip_through_every_codec(v in json_value()) {
        let dynamic = JsonValue::from(v.clone());
        prop_assert_eq!(serde_json::Value::from(dynamic.clone()), v.clone());
        for codec in [&RkyvCodec::new() as &dyn Codec<JsonValue>, &HybridCodec::new()] {
            let bytes = aligned(&codec.encode(&dynamic).unwrap());
            let back = codec.decode(&bytes).unwrap();
            prop_assert_eq!(serde_json::Value::from(back), v.clone());
        }
        // serde_json's own float parsing is not exact for every f64 (without
        // its `float_roundtrip` feature): compare with serde_json itself.
        let bytes = JsonCodec::new().encode(&dynamic).unwrap();
        let expected: serde_json::Value = serde_json::from_slice(&serde_json::to_vec(&v).unwrap()).unwrap();
        prop_assert_eq!(serde_json::Value::from(Codec::<JsonValue>::decode(&JsonCodec::new(), &bytes).unwrap()), expected);
        let bytes = aligned(&RkyvCodec::new().encode(&dynamic).unwrap());
        let view = RkyvCodec::new().access::<JsonValue>(&bytes).unwrap();
        prop_assert_eq!(serde_json::Value::from(&*view), v);
    }

    #[test]
    fn chat_messages_round_trip_with_any_text(id in ".*", content in ".*", ts in any::<u64>()) {
        let msg = ChatMessage { id, content, timestamp: ts, sender: "s".into(), room_id: "r".into() };
        let h = HybridCodec::new();
        prop_assert_eq!(Codec::<ChatMessage>::decode(&h, &aligned(&h.encode(&msg).unwrap())).unwrap(), msg);
    }
}
