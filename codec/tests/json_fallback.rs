//! HybridCodec writes JSON inside the envelope when rkyv cannot archive a
//! value, and counts it.

use codec::{Codec, HybridCodec, PayloadCodec};
use rkyv::rancor::{Fallible, Source};
use rkyv::with::{ArchiveWith, DeserializeWith, SerializeWith};
use rkyv::{Archive, Archived, Place};

/// Archives a `u32`, but refuses odd values: a stand-in for values rkyv
/// cannot archive (e.g. beyond its 32-bit relative pointers).
struct EvenOnly;

#[derive(Debug)]
struct Odd;

impl std::fmt::Display for Odd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("odd values cannot be archived")
    }
}

impl std::error::Error for Odd {}

impl ArchiveWith<u32> for EvenOnly {
    type Archived = Archived<u32>;
    type Resolver = ();

    fn resolve_with(field: &u32, resolver: (), out: Place<Self::Archived>) {
        field.resolve(resolver, out);
    }
}

impl<S: Fallible + ?Sized> SerializeWith<u32, S> for EvenOnly
where
    S::Error: Source,
{
    fn serialize_with(field: &u32, _: &mut S) -> Result<(), S::Error> {
        if field % 2 == 1 {
            Err(S::Error::new(Odd))
        } else {
            Ok(())
        }
    }
}

impl<D: Fallible + ?Sized> DeserializeWith<Archived<u32>, u32, D> for EvenOnly {
    fn deserialize_with(field: &Archived<u32>, _: &mut D) -> Result<u32, D::Error> {
        Ok(field.to_native())
    }
}

#[derive(
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    serde::Serialize,
    serde::Deserialize,
    Debug,
    PartialEq,
)]
struct Picky {
    name: String,
    #[rkyv(with = EvenOnly)]
    n: u32,
}

#[test]
fn unarchivable_values_fall_back_to_json_in_the_envelope() {
    let hybrid = HybridCodec::new();
    let even = Picky {
        name: "a".into(),
        n: 2,
    };
    let odd = Picky {
        name: "b".into(),
        n: 3,
    };

    let bytes = hybrid.encode(&even).unwrap();
    assert_eq!(
        codec::Header::parse(&bytes, u32::MAX).unwrap().codec,
        PayloadCodec::Rkyv
    );

    let mut out = b"keep".to_vec();
    hybrid.encode_into(&odd, &mut out).unwrap();
    assert_eq!(&out[..4], b"keep");
    let bytes = &out[4..];
    let header = codec::Header::parse(bytes, u32::MAX).unwrap();
    assert_eq!(header.codec, PayloadCodec::Json);
    assert_eq!(&bytes[codec::HEADER_LEN..], br#"{"name":"b","n":3}"#);
    assert_eq!(Codec::<Picky>::decode(&hybrid, bytes).unwrap(), odd);
    assert!(matches!(
        hybrid.access::<Picky>(bytes),
        Err(codec::Error::NotArchived { .. })
    ));
    assert_eq!(
        // SAFETY: written by this codec just above; the JSON payload is
        // decoded (with the checksum verified), not accessed unchecked.
        unsafe { hybrid.decode_trusted::<Picky>(bytes) }.unwrap(),
        odd
    );

    let m = Codec::<Picky>::metrics(&hybrid).snapshot();
    assert_eq!(m.json_fallbacks, 1);
    assert_eq!(m.encodes, 2);
    assert_eq!(m.decodes, 3);
    assert_eq!(m.encode_failures, 0);
}

#[test]
fn rkyv_codec_reports_the_failure_and_leaves_the_buffer() {
    let rkyv = codec::RkyvCodec::new();
    let mut out = b"keep".to_vec();
    let e = rkyv
        .encode_into(
            &Picky {
                name: "b".into(),
                n: 3,
            },
            &mut out,
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            codec::Error::Encode {
                codec: codec::CodecKind::Rkyv,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(out, b"keep");
    assert_eq!(Codec::<Picky>::metrics(&rkyv).snapshot().encode_failures, 1);
}
