//! Any byte string gives an error, never a panic: truncation, misalignment,
//! bit flips, absurd lengths, unknown versions, trailing bytes, noise.
mod common;

use codec::{
    ChatMessage, Codec, CodecKind, CompressedCodec, CompressedConfig, Error, HybridCodec,
    HybridConfig, JsonCodec, JsonValue, RkyvCodec, RpcRequest, ZeroCopyBuffer, HEADER_LEN,
};
use common::{aligned, at_offset, chat, request};
use proptest::prelude::*;

/// Runs every decode path over `bytes`; they may succeed or fail, but must
/// not panic. Returns how many succeeded.
fn decode_everywhere(bytes: &[u8]) -> usize {
    let mut ok = 0;
    ok += usize::from(Codec::<ChatMessage>::decode(&JsonCodec::new(), bytes).is_ok());
    ok += usize::from(Codec::<RpcRequest>::decode(&RkyvCodec::new(), bytes).is_ok());
    ok += usize::from(RkyvCodec::new().access::<RpcRequest>(bytes).is_ok());
    ok += usize::from(Codec::<ChatMessage>::decode(&HybridCodec::new(), bytes).is_ok());
    ok += usize::from(HybridCodec::new().access::<RpcRequest>(bytes).is_ok());
    ok += usize::from(
        Codec::<RpcRequest>::decode(&CompressedCodec::new(HybridCodec::new()), bytes).is_ok(),
    );
    ok += usize::from(
        ZeroCopyBuffer::<RpcRequest>::new()
            .append_archive(bytes)
            .is_ok(),
    );
    ok
}

fn encodings() -> Vec<(&'static str, Vec<u8>)> {
    let small = CompressedConfig {
        threshold: 16,
        ..Default::default()
    };
    vec![
        ("rkyv", RkyvCodec::new().encode(&request(1)).unwrap()),
        ("hybrid", HybridCodec::new().encode(&request(1)).unwrap()),
        ("json", JsonCodec::new().encode(&request(1)).unwrap()),
        (
            "lz4",
            CompressedCodec::with_config(HybridCodec::new(), small)
                .encode(&request(1))
                .unwrap(),
        ),
    ]
}

#[test]
fn every_truncation_is_an_error() {
    let rkyv = RkyvCodec::new();
    let hybrid = HybridCodec::new();
    let lz4 = CompressedCodec::with_config(
        HybridCodec::new(),
        CompressedConfig {
            threshold: 16,
            ..Default::default()
        },
    );
    let r = aligned(&rkyv.encode(&request(1)).unwrap());
    let h = aligned(&hybrid.encode(&request(1)).unwrap());
    let c = aligned(&lz4.encode(&request(1)).unwrap());
    let j = JsonCodec::new().encode(&request(1)).unwrap();
    for len in 0..h.len() {
        let e = Codec::<RpcRequest>::decode(&hybrid, &h[..len]).unwrap_err();
        if len > 0 {
            assert!(
                matches!(
                    e,
                    Error::Truncated {
                        codec: CodecKind::Hybrid,
                        ..
                    }
                ),
                "len {len}: {e}"
            );
        }
    }
    // A bare archive has no length field: its root sits at the end, so a
    // prefix is read with its root elsewhere. Most prefixes fail
    // validation; a few are valid archives of some other request (that is
    // what the envelope's length field is for). Never a panic, never the
    // original value.
    let mut rkyv_errors = 0;
    for len in 0..r.len() {
        match Codec::<RpcRequest>::decode(&rkyv, &r[..len]) {
            Ok(other) => assert_ne!(other, request(1), "rkyv len {len}"),
            Err(_) => rkyv_errors += 1,
        }
        let _ = rkyv.access::<RpcRequest>(&r[..len]);
    }
    assert!(
        rkyv_errors > r.len() * 9 / 10,
        "{rkyv_errors} of {}",
        r.len()
    );
    for len in 0..c.len() {
        assert!(
            Codec::<RpcRequest>::decode(&lz4, &c[..len]).is_err(),
            "lz4 len {len}"
        );
    }
    for len in 0..j.len() {
        assert!(
            Codec::<RpcRequest>::decode(&JsonCodec::new(), &j[..len]).is_err(),
            "json len {len}"
        );
    }
}

#[test]
fn misaligned_input_at_offsets_1_to_15_still_decodes() {
    for (name, bytes) in encodings() {
        for offset in 1..16 {
            let (store, range) = at_offset(&bytes, offset);
            let input = &store[range];
            let decoded: RpcRequest = match name {
                "rkyv" => RkyvCodec::new().decode(input).unwrap(),
                "hybrid" | "json" => HybridCodec::new().decode(input).unwrap(),
                _ => CompressedCodec::new(HybridCodec::new())
                    .decode(input)
                    .unwrap(),
            };
            assert_eq!(decoded, request(1), "{name} at offset {offset}");
        }
    }
}

#[test]
fn every_single_bit_flip_errors_or_decodes_without_panic() {
    for (name, bytes) in encodings() {
        let mut store = aligned(&bytes);
        for bit in 0..bytes.len() * 8 {
            store[bit / 8] ^= 1 << (bit % 8);
            decode_everywhere(&store);
            store[bit / 8] ^= 1 << (bit % 8);
        }
        assert_eq!(&store[..], &bytes[..], "{name}: restored");
    }
}

#[test]
fn bit_flips_never_pass_the_trusted_checksum() {
    let hybrid = HybridCodec::new();
    let bytes = hybrid.encode(&chat(1)).unwrap();
    let mut store = aligned(&bytes);
    for bit in 0..bytes.len() * 8 {
        store[bit / 8] ^= 1 << (bit % 8);
        // SAFETY: the envelope was written by this codec from a ChatMessage;
        // the flip models storage corruption, which the checksum must catch
        // before the unchecked access.
        let r = unsafe { hybrid.access_trusted::<ChatMessage>(&store) };
        assert!(r.is_err(), "bit {bit} passed");
        store[bit / 8] ^= 1 << (bit % 8);
    }
}

#[test]
fn verify_checksum_option_catches_payload_flips_on_the_validated_path() {
    let hybrid = HybridCodec::with_config(HybridConfig {
        verify_checksum: true,
        ..Default::default()
    });
    let mut bytes = aligned(&hybrid.encode(&chat(1)).unwrap());
    let last = bytes.len() - 30;
    bytes[last] ^= 0x01; // inside a string: still a valid archive
    let e = Codec::<ChatMessage>::decode(&hybrid, &bytes).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ChecksumMismatch {
                offset: HEADER_LEN,
                ..
            }
        ),
        "{e}"
    );
}

fn hybrid_bytes() -> Vec<u8> {
    aligned(&HybridCodec::new().encode(&chat(1)).unwrap()).to_vec()
}

#[test]
fn absurd_length_field_is_refused_before_allocating() {
    let mut bytes = hybrid_bytes();
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = Codec::<ChatMessage>::decode(&HybridCodec::new(), &aligned(&bytes)).unwrap_err();
    assert!(matches!(e, Error::TooLarge { offset: 4, .. }), "{e}");

    let lz4 = CompressedCodec::with_config(
        JsonCodec::new(),
        CompressedConfig {
            threshold: 0,
            ..Default::default()
        },
    );
    let mut frame = lz4.encode(&chat(1)).unwrap();
    frame[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = Codec::<ChatMessage>::decode(&lz4, &frame).unwrap_err();
    assert!(
        matches!(
            e,
            Error::TooLarge {
                codec: CodecKind::Lz4,
                offset: 4,
                ..
            }
        ),
        "{e}"
    );
    // A length below the limit that the data does not hold.
    frame[4..8].copy_from_slice(&1_000_000u32.to_le_bytes());
    assert!(Codec::<ChatMessage>::decode(&lz4, &frame).is_err());
}

#[test]
fn unknown_version_and_codec_id() {
    let mut bytes = hybrid_bytes();
    bytes[2] = 2;
    let e = Codec::<ChatMessage>::decode(&HybridCodec::new(), &aligned(&bytes)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::UnsupportedVersion {
                version: 2,
                offset: 2,
                ..
            }
        ),
        "{e}"
    );
    let mut bytes = hybrid_bytes();
    bytes[3] = 9;
    let e = Codec::<ChatMessage>::decode(&HybridCodec::new(), &aligned(&bytes)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::UnknownCodecId {
                id: 9,
                offset: 3,
                ..
            }
        ),
        "{e}"
    );
    let mut bytes = hybrid_bytes();
    bytes[1] = b'x';
    let e = Codec::<ChatMessage>::decode(&HybridCodec::new(), &aligned(&bytes)).unwrap_err();
    assert!(matches!(e, Error::BadMagic { .. }), "{e}");
    let mut frame = CompressedCodec::new(JsonCodec::new())
        .encode(&chat(1))
        .unwrap();
    frame[0] = 7;
    let e =
        Codec::<ChatMessage>::decode(&CompressedCodec::new(JsonCodec::new()), &frame).unwrap_err();
    assert!(matches!(e, Error::UnknownCodecId { id: 7, .. }), "{e}");
}

#[test]
fn trailing_bytes_are_rejected_by_every_codec() {
    let mut bytes = hybrid_bytes();
    bytes.extend_from_slice(b"xx");
    let e = Codec::<ChatMessage>::decode(&HybridCodec::new(), &aligned(&bytes)).unwrap_err();
    assert!(matches!(e, Error::TrailingBytes { count: 2, .. }), "{e}");
    assert_eq!(e.offset(), Some(bytes.len() - 2));

    let mut json = JsonCodec::new().encode(&chat(1)).unwrap();
    json.extend_from_slice(b"xx");
    assert!(Codec::<ChatMessage>::decode(&JsonCodec::new(), &json).is_err());

    let mut frame = CompressedCodec::new(JsonCodec::new())
        .encode(&chat(1))
        .unwrap();
    frame.push(b' ');
    assert!(Codec::<ChatMessage>::decode(&CompressedCodec::new(JsonCodec::new()), &frame).is_err());

    // A bare rkyv archive has no length: its root sits at the end, so extra
    // bytes move the root and validation fails.
    let mut r = RkyvCodec::new().encode(&chat(1)).unwrap();
    r.extend_from_slice(&[0; 3]);
    assert!(Codec::<ChatMessage>::decode(&RkyvCodec::new(), &aligned(&r)).is_err());
}

#[test]
fn json_errors_inside_an_envelope_point_into_the_input() {
    let payload = b"{\"id\":1}";
    let mut bytes = codec::Header {
        codec: codec::PayloadCodec::Json,
        payload_len: payload.len() as u32,
        checksum: 0,
    }
    .to_bytes()
    .to_vec();
    bytes.extend_from_slice(payload);
    let e = Codec::<ChatMessage>::decode(&HybridCodec::new(), &bytes).unwrap_err();
    assert_eq!(e.codec(), Some(CodecKind::Json));
    assert!(e.offset().unwrap() >= HEADER_LEN, "{e}");
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    fn nested(depth: usize) -> JsonValue {
        let mut v = JsonValue::Null;
        for _ in 0..depth {
            v = JsonValue::Array(vec![v]);
        }
        v
    }
    let rkyv = RkyvCodec::new();
    let ok = aligned(&rkyv.encode(&nested(100)).unwrap());
    assert!(rkyv.access::<JsonValue>(&ok).is_ok());
    let deep = aligned(&rkyv.encode(&nested(300)).unwrap());
    assert!(matches!(
        rkyv.access::<JsonValue>(&deep),
        Err(Error::Invalid { .. })
    ));
    assert!(Codec::<JsonValue>::decode(&rkyv, &deep).is_err());
    // JSON stops at serde_json's recursion limit.
    let text = "[".repeat(10_000);
    assert!(Codec::<JsonValue>::decode(&JsonCodec::new(), text.as_bytes()).is_err());
}

#[test]
fn empty_input_is_an_error_everywhere() {
    assert_eq!(decode_everywhere(&[]), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_everywhere(&aligned(&bytes));
    }

    #[test]
    fn random_envelopes_never_panic(body in prop::collection::vec(any::<u8>(), 0..200), id in 0u8..4) {
        let mut bytes = codec::Header { codec: codec::PayloadCodec::Rkyv, payload_len: body.len() as u32, checksum: 0 }
            .to_bytes().to_vec();
        bytes[3] = id;
        bytes.extend_from_slice(&body);
        decode_everywhere(&aligned(&bytes));
    }

    #[test]
    fn random_splices_of_valid_archives_never_panic(pos in 0usize..400, junk in prop::collection::vec(any::<u8>(), 1..8)) {
        for (_, bytes) in encodings() {
            let mut b = bytes.clone();
            let p = pos % b.len();
            let end = (p + junk.len()).min(b.len());
            b[p..end].copy_from_slice(&junk[..end - p]);
            decode_everywhere(&aligned(&b));
        }
    }
}
