//! The `codec` crate against serde_json, postcard, bincode 2.0.1 and bare
//! rkyv, in one run (`cargo xtask bench codec`, i.e. `cargo bench -p
//! benches --bench codec`).
//!
//! Datasets: one `ChatMessage`, one `RpcRequest` (dynamic params), and
//! 10,000 HTTP log records generated from a seeded PRNG (the "log" dataset
//! of rust_serialization_benchmark: IPv4 address, identity, user id, date,
//! request line, status code, size).
//!
//! Operations: encode into a new buffer, encode into a reused buffer, owned
//! decode, validated zero-copy access, trusted access (checksum verified,
//! validation skipped), read-all (access or decode, then touch every field),
//! and encoded size; plus allocations and bytes allocated per call (a
//! counting global allocator), and `ZeroCopyBuffer::get`.
//!
//! postcard and bincode cannot decode `serde_json::Value`-like data (they
//! have no `deserialize_any`), so they get `RpcRequest`'s data in a
//! serde-derived mirror type (`PeerRequest`) with an externally tagged
//! value enum. Their read-all on the log dataset decodes into borrowed
//! records (`&str` fields into the input): their fastest path.
//!
//! After criterion's own output, the run prints Markdown tables built from
//! criterion's estimates (target/criterion/*/new/estimates.json) with the
//! ratios the codec's goals are stated in.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use codec::{
    ArchivedChatMessage, ArchivedJsonValue, ArchivedRpcRequest, ChatMessage, Codec, HybridCodec,
    JsonValue, MetricsConfig, RkyvCodec, RpcMethodType, RpcRequest, ZeroCopyBuffer,
};
use criterion::Criterion;
use rkyv::rancor;
use rkyv::util::AlignedVec;

// ---------------------------------------------------------------------------
// Counting allocator

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(new_size as u64, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and bytes allocated per call of `f`, after one warm-up call.
fn allocs_per_call(mut f: impl FnMut()) -> (f64, f64) {
    f();
    const N: u64 = 64;
    let (a0, b0) = (ALLOCS.load(Relaxed), ALLOC_BYTES.load(Relaxed));
    for _ in 0..N {
        f();
    }
    let (a1, b1) = (ALLOCS.load(Relaxed), ALLOC_BYTES.load(Relaxed));
    ((a1 - a0) as f64 / N as f64, (b1 - b0) as f64 / N as f64)
}

// ---------------------------------------------------------------------------
// Data

/// splitmix64: a small seeded PRNG, so the dataset is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn word(&mut self, min: u64, max: u64) -> String {
        let len = min + self.below(max - min + 1);
        (0..len)
            .map(|_| (b'a' + self.below(26) as u8) as char)
            .collect()
    }
}

#[derive(
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    serde::Serialize,
    serde::Deserialize,
    Debug,
    Clone,
    PartialEq,
)]
struct Address {
    x0: u8,
    x1: u8,
    x2: u8,
    x3: u8,
}

#[derive(
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    serde::Serialize,
    serde::Deserialize,
    Debug,
    Clone,
    PartialEq,
)]
struct Log {
    address: Address,
    identity: String,
    userid: String,
    date: String,
    request: String,
    code: u16,
    size: u64,
}

#[derive(
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    serde::Serialize,
    serde::Deserialize,
    Debug,
    Clone,
    PartialEq,
)]
struct Logs {
    logs: Vec<Log>,
}

/// A log record borrowing its strings from the input (postcard, bincode).
#[derive(serde::Deserialize)]
struct LogRef<'a> {
    address: Address,
    identity: &'a str,
    userid: &'a str,
    date: &'a str,
    request: &'a str,
    code: u16,
    size: u64,
}

#[derive(serde::Deserialize)]
struct LogsRef<'a> {
    #[serde(borrow)]
    logs: Vec<LogRef<'a>>,
}

fn logs(n: usize) -> Logs {
    let mut rng = Rng(0x5EED_C0DE);
    const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
    const CODES: [u16; 6] = [200, 201, 301, 404, 500, 503];
    let logs = (0..n)
        .map(|_| Log {
            address: Address {
                x0: rng.below(256) as u8,
                x1: rng.below(256) as u8,
                x2: rng.below(256) as u8,
                x3: rng.below(256) as u8,
            },
            identity: "-".into(),
            userid: rng.word(3, 12),
            date: format!(
                "{:02}/Oct/2024:{:02}:{:02}:{:02} +0000",
                1 + rng.below(28),
                rng.below(24),
                rng.below(60),
                rng.below(60)
            ),
            request: format!(
                "{} /{}/{}.html HTTP/1.1",
                METHODS[rng.below(4) as usize],
                rng.word(3, 10),
                rng.word(3, 12)
            ),
            code: CODES[rng.below(6) as usize],
            size: rng.below(100_000),
        })
        .collect();
    Logs { logs }
}

fn chat() -> ChatMessage {
    ChatMessage::new(
        "8c9f1a52-2b4e-4f43-9d0e-6a1f0c3b7e21",
        "Hello everyone, the deploy of build 4821 finished without errors.",
        1_717_171_717_171,
        "alice@example.com",
        "ops-announcements",
    )
}

fn rpc_params() -> serde_json::Value {
    serde_json::json!({
        "key": "session:7f3a9c", "value": "eyJ1c2VyIjo0Miwicm9sZSI6ImFkbWluIn0=",
        "ttl_ms": 3_600_000, "nx": true, "tags": ["web", "eu-west-1", null, 2.5, -7],
        "meta": {"client": "api-gw", "attempt": 1}
    })
}

fn rpc() -> RpcRequest {
    RpcRequest {
        id: "req-000042".into(),
        method: "kv.set".into(),
        params: JsonValue::from(rpc_params()),
        method_type: RpcMethodType::Command,
    }
}

/// `RpcRequest` for postcard and bincode: serde-derived, with an externally
/// tagged value enum those formats can decode.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
enum PeerValue {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    String(String),
    Array(Vec<PeerValue>),
    Object(Vec<(String, PeerValue)>),
}

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
struct PeerRequest {
    id: String,
    method: String,
    params: PeerValue,
    method_type: RpcMethodType,
}

fn peer_value(v: &serde_json::Value) -> PeerValue {
    match v {
        serde_json::Value::Null => PeerValue::Null,
        serde_json::Value::Bool(b) => PeerValue::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => PeerValue::U64(u),
            (_, Some(i)) => PeerValue::I64(i),
            _ => PeerValue::F64(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => PeerValue::String(s.clone()),
        serde_json::Value::Array(a) => PeerValue::Array(a.iter().map(peer_value).collect()),
        serde_json::Value::Object(o) => {
            PeerValue::Object(o.iter().map(|(k, v)| (k.clone(), peer_value(v))).collect())
        }
    }
}

fn peer_rpc() -> PeerRequest {
    let r = rpc();
    PeerRequest {
        id: r.id,
        method: r.method,
        params: peer_value(&rpc_params()),
        method_type: r.method_type,
    }
}

// ---------------------------------------------------------------------------
// Touching every field

trait Touch {
    fn touch(&self) -> u64;
}

impl Touch for ChatMessage {
    fn touch(&self) -> u64 {
        (self.id.len() + self.content.len() + self.sender.len() + self.room_id.len()) as u64
            + self.timestamp
    }
}

impl Touch for ArchivedChatMessage {
    fn touch(&self) -> u64 {
        (self.id.len() + self.content.len() + self.sender.len() + self.room_id.len()) as u64
            + self.timestamp.to_native()
    }
}

fn touch_json(v: &JsonValue) -> u64 {
    match v {
        JsonValue::Null => 1,
        JsonValue::Bool(b) => u64::from(*b),
        JsonValue::Number(n) => match n {
            codec::JsonNumber::PosInt(u) => *u,
            codec::JsonNumber::NegInt(i) => *i as u64,
            codec::JsonNumber::Float(f) => f.to_bits(),
        },
        JsonValue::String(s) => s.len() as u64,
        JsonValue::Array(a) => a.iter().map(touch_json).sum(),
        JsonValue::Object(o) => o.iter().map(|(k, v)| k.len() as u64 + touch_json(v)).sum(),
    }
}

fn touch_archived_json(v: &ArchivedJsonValue) -> u64 {
    match v {
        ArchivedJsonValue::Null => 1,
        ArchivedJsonValue::Bool(b) => u64::from(*b),
        ArchivedJsonValue::Number(n) => match n {
            codec::ArchivedJsonNumber::PosInt(u) => u.to_native(),
            codec::ArchivedJsonNumber::NegInt(i) => i.to_native() as u64,
            codec::ArchivedJsonNumber::Float(f) => f.to_native().to_bits(),
        },
        ArchivedJsonValue::String(s) => s.len() as u64,
        ArchivedJsonValue::Array(a) => a.iter().map(touch_archived_json).sum(),
        ArchivedJsonValue::Object(o) => o
            .iter()
            .map(|e| e.0.len() as u64 + touch_archived_json(&e.1))
            .sum(),
    }
}

fn touch_peer(v: &PeerValue) -> u64 {
    match v {
        PeerValue::Null => 1,
        PeerValue::Bool(b) => u64::from(*b),
        PeerValue::U64(u) => *u,
        PeerValue::I64(i) => *i as u64,
        PeerValue::F64(f) => f.to_bits(),
        PeerValue::String(s) => s.len() as u64,
        PeerValue::Array(a) => a.iter().map(touch_peer).sum(),
        PeerValue::Object(o) => o.iter().map(|(k, v)| k.len() as u64 + touch_peer(v)).sum(),
    }
}

impl Touch for RpcRequest {
    fn touch(&self) -> u64 {
        (self.id.len() + self.method.len()) as u64
            + touch_json(&self.params)
            + self.method_type as u64
    }
}

impl Touch for ArchivedRpcRequest {
    fn touch(&self) -> u64 {
        let mt = match self.method_type {
            codec::ArchivedRpcMethodType::Query => 0,
            codec::ArchivedRpcMethodType::Command => 1,
            codec::ArchivedRpcMethodType::Notification => 2,
        };
        (self.id.len() + self.method.len()) as u64 + touch_archived_json(&self.params) + mt
    }
}

impl Touch for PeerRequest {
    fn touch(&self) -> u64 {
        (self.id.len() + self.method.len()) as u64
            + touch_peer(&self.params)
            + self.method_type as u64
    }
}

macro_rules! touch_log {
    ($l:expr, $native:ident) => {{
        let l = $l;
        u64::from(l.address.x0 ^ l.address.x1 ^ l.address.x2 ^ l.address.x3)
            + (l.identity.len() + l.userid.len() + l.date.len() + l.request.len()) as u64
            + u64::from(touch_log!(@n l.code, $native))
            + touch_log!(@n l.size, $native)
    }};
    (@n $e:expr, native) => { $e.to_native() };
    (@n $e:expr, plain) => { $e };
}

impl Touch for Logs {
    fn touch(&self) -> u64 {
        self.logs.iter().map(|l| touch_log!(l, plain)).sum()
    }
}

impl Touch for ArchivedLogs {
    fn touch(&self) -> u64 {
        self.logs.iter().map(|l| touch_log!(l, native)).sum()
    }
}

impl Touch for LogsRef<'_> {
    fn touch(&self) -> u64 {
        self.logs.iter().map(|l| touch_log!(l, plain)).sum()
    }
}

// ---------------------------------------------------------------------------
// Benchmarks

fn bincode_cfg() -> bincode::config::Configuration {
    bincode::config::standard()
}

fn aligned(bytes: &[u8]) -> AlignedVec<16> {
    let mut v = AlignedVec::<16>::with_capacity(bytes.len());
    v.extend_from_slice(bytes);
    v
}

/// Everything a dataset needs: the value for our codecs and rkyv, and the
/// value peers encode (the same type except for `RpcRequest`).
struct Dataset<T, P> {
    name: &'static str,
    value: T,
    peer: P,
}

/// Encoded sizes, printed at the end.
type SizeRow = (&'static str, Vec<(&'static str, usize)>);

/// Benchmarks one dataset; `read_peer` decodes and touches with the fastest
/// path each peer has (borrowed where possible).
#[allow(clippy::too_many_arguments)]
fn bench_dataset<T, P>(
    c: &mut Criterion,
    d: &Dataset<T, P>,
    read_postcard: fn(&[u8]) -> u64,
    read_bincode: fn(&[u8]) -> u64,
    sizes: &mut Vec<SizeRow>,
    allocs: &mut Vec<(String, f64, f64)>,
) where
    T: codec::Archivable
        + Touch
        + serde::Serialize
        + serde::de::DeserializeOwned
        + PartialEq
        + std::fmt::Debug,
    T: for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            AlignedVec,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rancor::Error,
        >,
    >,
    for<'a, 'b> T: rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            &'b mut AlignedVec,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rancor::Error,
        >,
    >,
    T::Archived: Touch,
    P: serde::Serialize + serde::de::DeserializeOwned + Touch,
{
    let name = d.name;
    let rkyv_codec = RkyvCodec::new();
    let hybrid = HybridCodec::new();
    let rkyv_quiet = RkyvCodec::with_config(MetricsConfig::disabled(), codec::DEFAULT_MAX_DEPTH);
    let v = &d.value;
    let p = &d.peer;

    let json_bytes = serde_json::to_vec(v).unwrap();
    let postcard_bytes = postcard::to_allocvec(p).unwrap();
    let bincode_bytes = bincode::serde::encode_to_vec(p, bincode_cfg()).unwrap();
    let rkyv_bytes = rkyv::to_bytes::<rancor::Error>(v).unwrap();
    let codec_bytes = aligned(&rkyv_codec.encode(v).unwrap());
    let hybrid_bytes = aligned(&hybrid.encode(v).unwrap());
    assert_eq!(&codec_bytes[..], &rkyv_bytes[..]);
    assert_eq!(&Codec::<T>::decode(&hybrid, &hybrid_bytes).unwrap(), v);
    sizes.push((
        name,
        vec![
            ("serde_json", json_bytes.len()),
            ("postcard", postcard_bytes.len()),
            ("bincode", bincode_bytes.len()),
            ("rkyv", rkyv_bytes.len()),
            ("rkyv_codec", codec_bytes.len()),
            ("hybrid_codec", hybrid_bytes.len()),
        ],
    ));

    // encode into a new buffer
    let mut g = c.benchmark_group(format!("{name}_encode_new"));
    g.bench_function("serde_json", |b| {
        b.iter(|| serde_json::to_vec(black_box(v)).unwrap())
    });
    g.bench_function("postcard", |b| {
        b.iter(|| postcard::to_allocvec(black_box(p)).unwrap())
    });
    g.bench_function("bincode", |b| {
        b.iter(|| bincode::serde::encode_to_vec(black_box(p), bincode_cfg()).unwrap())
    });
    g.bench_function("rkyv", |b| {
        b.iter(|| rkyv::to_bytes::<rancor::Error>(black_box(v)).unwrap())
    });
    g.bench_function("rkyv_codec", |b| {
        b.iter(|| rkyv_codec.encode(black_box(v)).unwrap())
    });
    g.bench_function("hybrid_codec", |b| {
        b.iter(|| hybrid.encode(black_box(v)).unwrap())
    });
    g.finish();

    // encode into a reused buffer
    let cap = json_bytes.len().max(hybrid_bytes.len()) * 2;
    let mut vec_buf: Vec<u8> = Vec::with_capacity(cap);
    let mut slice_buf = vec![0u8; cap];
    let mut aligned_buf = AlignedVec::<16>::with_capacity(cap);
    let mut g = c.benchmark_group(format!("{name}_encode_reuse"));
    g.bench_function("serde_json", |b| {
        b.iter(|| {
            vec_buf.clear();
            serde_json::to_writer(&mut vec_buf, black_box(v)).unwrap();
        })
    });
    g.bench_function("postcard", |b| {
        b.iter(|| {
            postcard::to_slice(black_box(p), &mut slice_buf)
                .unwrap()
                .len()
        })
    });
    g.bench_function("bincode", |b| {
        b.iter(|| {
            bincode::serde::encode_into_slice(black_box(p), &mut slice_buf, bincode_cfg()).unwrap()
        })
    });
    g.bench_function("rkyv", |b| {
        b.iter(|| {
            aligned_buf.clear();
            rkyv::api::high::to_bytes_in::<_, rancor::Error>(black_box(v), &mut aligned_buf)
                .unwrap();
        })
    });
    g.bench_function("rkyv_codec", |b| {
        b.iter(|| {
            vec_buf.clear();
            rkyv_codec.encode_into(black_box(v), &mut vec_buf).unwrap()
        })
    });
    g.bench_function("hybrid_codec", |b| {
        b.iter(|| {
            vec_buf.clear();
            hybrid.encode_into(black_box(v), &mut vec_buf).unwrap()
        })
    });
    g.finish();

    // owned decode
    let mut g = c.benchmark_group(format!("{name}_decode"));
    g.bench_function("serde_json", |b| {
        b.iter(|| serde_json::from_slice::<T>(black_box(&json_bytes)).unwrap())
    });
    g.bench_function("postcard", |b| {
        b.iter(|| postcard::from_bytes::<P>(black_box(&postcard_bytes)).unwrap())
    });
    g.bench_function("bincode", |b| {
        b.iter(|| {
            bincode::serde::decode_from_slice::<P, _>(black_box(&bincode_bytes), bincode_cfg())
                .unwrap()
        })
    });
    g.bench_function("rkyv", |b| {
        b.iter(|| rkyv::from_bytes::<T, rancor::Error>(black_box(&rkyv_bytes)).unwrap())
    });
    g.bench_function("rkyv_codec", |b| {
        b.iter(|| Codec::<T>::decode(&rkyv_codec, black_box(&codec_bytes)).unwrap())
    });
    g.bench_function("hybrid_codec", |b| {
        b.iter(|| Codec::<T>::decode(&hybrid, black_box(&hybrid_bytes)).unwrap())
    });
    g.finish();

    // validated zero-copy access
    let mut g = c.benchmark_group(format!("{name}_access"));
    g.bench_function("rkyv", |b| {
        b.iter(|| {
            rkyv::access::<T::Archived, rancor::Error>(black_box(&rkyv_bytes)).unwrap() as *const _
        })
    });
    g.bench_function("rkyv_codec", |b| {
        b.iter(|| {
            rkyv_codec
                .access::<T>(black_box(&codec_bytes))
                .unwrap()
                .as_borrowed()
                .unwrap() as *const _
        })
    });
    g.bench_function("hybrid_codec", |b| {
        b.iter(|| {
            hybrid
                .access::<T>(black_box(&hybrid_bytes))
                .unwrap()
                .as_borrowed()
                .unwrap() as *const _
        })
    });
    g.bench_function("rkyv_codec_no_metrics", |b| {
        b.iter(|| {
            rkyv_quiet
                .access::<T>(black_box(&codec_bytes))
                .unwrap()
                .as_borrowed()
                .unwrap() as *const _
        })
    });
    g.finish();

    // trusted access: checksum verified, no validation
    let mut g = c.benchmark_group(format!("{name}_trusted"));
    g.bench_function("rkyv_unchecked", |b| {
        // SAFETY: these bytes were just produced by rkyv from a `T`.
        b.iter(
            || unsafe { rkyv::access_unchecked::<T::Archived>(black_box(&rkyv_bytes)) } as *const _,
        )
    });
    g.bench_function("hybrid_codec", |b| {
        b.iter(|| {
            // SAFETY: these bytes were just produced by this codec from a `T`.
            let view = unsafe { hybrid.access_trusted::<T>(black_box(&hybrid_bytes)) }.unwrap();
            view.as_borrowed().unwrap() as *const _
        })
    });
    g.bench_function("hybrid_codec_read_all", |b| {
        b.iter(|| {
            // SAFETY: as above.
            let view = unsafe { hybrid.access_trusted::<T>(black_box(&hybrid_bytes)) }.unwrap();
            view.touch()
        })
    });
    g.finish();

    // read-all: access (or decode), then touch every field
    let mut g = c.benchmark_group(format!("{name}_read_all"));
    g.bench_function("serde_json", |b| {
        b.iter(|| {
            serde_json::from_slice::<T>(black_box(&json_bytes))
                .unwrap()
                .touch()
        })
    });
    g.bench_function("postcard", |b| {
        b.iter(|| read_postcard(black_box(&postcard_bytes)))
    });
    g.bench_function("bincode", |b| {
        b.iter(|| read_bincode(black_box(&bincode_bytes)))
    });
    g.bench_function("rkyv", |b| {
        b.iter(|| {
            rkyv::access::<T::Archived, rancor::Error>(black_box(&rkyv_bytes))
                .unwrap()
                .touch()
        })
    });
    g.bench_function("rkyv_codec", |b| {
        b.iter(|| {
            rkyv_codec
                .access::<T>(black_box(&codec_bytes))
                .unwrap()
                .touch()
        })
    });
    g.bench_function("hybrid_codec", |b| {
        b.iter(|| {
            hybrid
                .access::<T>(black_box(&hybrid_bytes))
                .unwrap()
                .touch()
        })
    });
    g.finish();

    // allocations per call
    let mut row = |op: &str, f: &mut dyn FnMut()| {
        let (a, b) = allocs_per_call(f);
        allocs.push((format!("{name} {op}"), a, b));
    };
    row("serde_json encode_new", &mut || {
        drop(black_box(serde_json::to_vec(v).unwrap()))
    });
    row("rkyv encode_new", &mut || {
        drop(black_box(rkyv::to_bytes::<rancor::Error>(v).unwrap()))
    });
    row("rkyv_codec encode_new", &mut || {
        drop(black_box(rkyv_codec.encode(v).unwrap()))
    });
    row("hybrid_codec encode_new", &mut || {
        drop(black_box(hybrid.encode(v).unwrap()))
    });
    row("serde_json encode_reuse", &mut || {
        vec_buf.clear();
        serde_json::to_writer(&mut vec_buf, v).unwrap();
    });
    row("rkyv encode_reuse", &mut || {
        aligned_buf.clear();
        rkyv::api::high::to_bytes_in::<_, rancor::Error>(v, &mut aligned_buf).unwrap();
    });
    row("rkyv_codec encode_reuse", &mut || {
        vec_buf.clear();
        rkyv_codec.encode_into(v, &mut vec_buf).unwrap();
    });
    row("hybrid_codec encode_reuse", &mut || {
        vec_buf.clear();
        hybrid.encode_into(v, &mut vec_buf).unwrap();
    });
    row("serde_json decode", &mut || {
        drop(black_box(serde_json::from_slice::<T>(&json_bytes).unwrap()))
    });
    row("postcard decode", &mut || {
        drop(black_box(
            postcard::from_bytes::<P>(&postcard_bytes).unwrap(),
        ))
    });
    row("bincode decode", &mut || {
        drop(black_box(
            bincode::serde::decode_from_slice::<P, _>(&bincode_bytes, bincode_cfg()).unwrap(),
        ))
    });
    row("rkyv_codec decode", &mut || {
        drop(black_box(
            Codec::<T>::decode(&rkyv_codec, &codec_bytes).unwrap(),
        ))
    });
    row("hybrid_codec decode", &mut || {
        drop(black_box(
            Codec::<T>::decode(&hybrid, &hybrid_bytes).unwrap(),
        ))
    });
    row("rkyv access", &mut || {
        black_box(rkyv::access::<T::Archived, rancor::Error>(&rkyv_bytes).unwrap());
    });
    row("rkyv_codec access", &mut || {
        black_box(rkyv_codec.access::<T>(&codec_bytes).unwrap().touch());
    });
    row("hybrid_codec access", &mut || {
        black_box(hybrid.access::<T>(&hybrid_bytes).unwrap().touch());
    });
    row("hybrid_codec trusted", &mut || {
        // SAFETY: these bytes were produced by this codec from a `T`.
        black_box(
            unsafe { hybrid.access_trusted::<T>(&hybrid_bytes) }
                .unwrap()
                .touch(),
        );
    });
}

fn bench_zero_copy_buffer(c: &mut Criterion, allocs: &mut Vec<(String, f64, f64)>) {
    let mut buf = ZeroCopyBuffer::<ChatMessage>::new();
    let rkyv = RkyvCodec::new();
    for i in 0..1000u64 {
        let mut m = chat();
        m.timestamp += i;
        if i % 2 == 0 {
            buf.append(&m).unwrap();
        } else {
            buf.append_archive(&rkyv.encode(&m).unwrap()).unwrap();
        }
    }
    let mut g = c.benchmark_group("zero_copy_buffer");
    let mut i = 0usize;
    g.bench_function("get", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            buf.get(black_box(i)).unwrap().timestamp.to_native()
        })
    });
    g.bench_function("get_read_all", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            buf.get(black_box(i)).unwrap().touch()
        })
    });
    g.bench_function("iter_1000_read_all", |b| {
        b.iter(|| buf.iter().map(|m| m.touch()).sum::<u64>())
    });
    g.finish();
    let (a, bytes) = allocs_per_call(|| {
        black_box(buf.get(black_box(7)).unwrap().touch());
    });
    allocs.push(("zero_copy_buffer get".into(), a, bytes));
}

// ---------------------------------------------------------------------------
// Summary from criterion's estimates

fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(home));
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(t).join("criterion"));
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .map(|t| t.join("criterion"))
}

/// Mean time in ns of `group/function` from criterion's last run.
fn mean_ns(group: &str, function: &str) -> Option<f64> {
    let path = criterion_dir()?
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn fmt_ns(ns: Option<f64>) -> String {
    match ns {
        None => "-".into(),
        Some(ns) if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        Some(ns) if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        Some(ns) => format!("{ns:.1} ns"),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?)
}

fn summary(sizes: &[SizeRow], allocs: &[(String, f64, f64)]) {
    const OPS: [&str; 5] = ["encode_new", "encode_reuse", "decode", "access", "read_all"];
    const FORMATS: [&str; 6] = [
        "serde_json",
        "postcard",
        "bincode",
        "rkyv",
        "rkyv_codec",
        "hybrid_codec",
    ];
    println!("\n## codec: mean time per call (criterion)\n");
    for (dataset, _) in sizes {
        println!("### {dataset}\n");
        println!("| operation | {} |", FORMATS.join(" | "));
        println!("|---|{}|", "---:|".repeat(FORMATS.len()));
        for op in OPS {
            let group = format!("{dataset}_{op}");
            let cells: Vec<String> = FORMATS.iter().map(|f| fmt_ns(mean_ns(&group, f))).collect();
            println!("| {op} | {} |", cells.join(" | "));
        }
        let t = format!("{dataset}_trusted");
        println!(
            "| trusted access (rkyv: access_unchecked) | - | - | - | {} | - | {} |",
            fmt_ns(mean_ns(&t, "rkyv_unchecked")),
            fmt_ns(mean_ns(&t, "hybrid_codec"))
        );
        println!();
    }

    println!("### encoded size (bytes)\n");
    println!("| dataset | {} |", FORMATS.join(" | "));
    println!("|---|{}|", "---:|".repeat(FORMATS.len()));
    for (dataset, row) in sizes {
        let cells: Vec<String> = row.iter().map(|(_, n)| n.to_string()).collect();
        println!("| {dataset} | {} |", cells.join(" | "));
    }

    println!("\n### goals\n");
    println!("| goal | measured | reached |");
    println!("|---|---:|:---:|");
    let yes = |ok: bool| if ok { "yes" } else { "no" };
    for (dataset, _) in sizes {
        for op in OPS {
            let group = format!("{dataset}_{op}");
            let base = mean_ns(&group, "rkyv");
            for codec in ["rkyv_codec", "hybrid_codec"] {
                if let Some(r) = ratio(mean_ns(&group, codec), base) {
                    println!(
                        "| {dataset} {op}: {codec} within 10% of bare rkyv | {r:.2}x | {} |",
                        yes(r <= 1.10)
                    );
                }
            }
        }
        let t = format!("{dataset}_trusted");
        if let Some(r) = ratio(mean_ns(&t, "hybrid_codec"), mean_ns(&t, "rkyv_unchecked")) {
            println!(
                "| {dataset} trusted: hybrid_codec within 10% of bare access_unchecked | {r:.2}x | {} |",
                yes(r <= 1.10)
            );
        }
        if let Some(r) = ratio(
            mean_ns(&format!("{dataset}_decode"), "serde_json"),
            mean_ns(&t, "hybrid_codec_read_all"),
        ) {
            println!(
                "| {dataset} trusted read-all at least 40x faster than a serde_json decode | {r:.0}x | {} |",
                yes(r >= 40.0)
            );
        }
    }
    let peers = |group: &str| {
        let p = mean_ns(group, "postcard");
        let b = mean_ns(group, "bincode");
        match (p, b) {
            (Some(p), Some(b)) => Some(p.min(b)),
            _ => None,
        }
    };
    if let Some(r) = ratio(
        peers("logs_read_all"),
        mean_ns("logs_read_all", "rkyv_codec"),
    ) {
        println!(
            "| logs read-all: rkyv_codec at least 2x faster than the fastest peer | {r:.2}x | {} |",
            yes(r >= 2.0)
        );
    }
    if let Some(r) = ratio(
        peers("logs_read_all"),
        mean_ns("logs_read_all", "hybrid_codec"),
    ) {
        println!("| logs read-all: hybrid_codec at least 2x faster than the fastest peer | {r:.2}x | {} |", yes(r >= 2.0));
    }
    for codec in ["rkyv_codec", "hybrid_codec"] {
        if let Some(r) = ratio(peers("logs_decode"), mean_ns("logs_decode", codec)) {
            println!(
                "| logs owned decode: {codec} at least as fast as the fastest peer | {r:.2}x | {} |",
                yes(r >= 1.0)
            );
        }
    }
    if let Some(ns) = mean_ns("zero_copy_buffer", "get") {
        println!(
            "| ZeroCopyBuffer::get under 10 ns | {ns:.1} ns | {} |",
            yes(ns < 10.0)
        );
    }
    for (name, a, _) in allocs {
        if name.ends_with("codec encode_reuse")
            || name.contains("access")
            || name.contains("trusted")
            || name.contains("get")
        {
            println!(
                "| {name} allocates nothing | {a:.2} allocs/call | {} |",
                yes(*a == 0.0)
            );
        }
    }

    println!("\n### allocations per call (counting allocator)\n");
    println!("| operation | allocations | bytes |");
    println!("|---|---:|---:|");
    for (name, a, b) in allocs {
        println!("| {name} | {a:.2} | {b:.0} |");
    }
    println!();
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
        .configure_from_args();
    let mut sizes = Vec::new();
    let mut allocs = Vec::new();

    bench_dataset(
        &mut c,
        &Dataset {
            name: "chat",
            value: chat(),
            peer: chat(),
        },
        |b| postcard::from_bytes::<ChatMessage>(b).unwrap().touch(),
        |b| {
            bincode::serde::decode_from_slice::<ChatMessage, _>(b, bincode_cfg())
                .unwrap()
                .0
                .touch()
        },
        &mut sizes,
        &mut allocs,
    );
    bench_dataset(
        &mut c,
        &Dataset {
            name: "rpc",
            value: rpc(),
            peer: peer_rpc(),
        },
        |b| postcard::from_bytes::<PeerRequest>(b).unwrap().touch(),
        |b| {
            bincode::serde::decode_from_slice::<PeerRequest, _>(b, bincode_cfg())
                .unwrap()
                .0
                .touch()
        },
        &mut sizes,
        &mut allocs,
    );
    let logs = logs(10_000);
    bench_dataset(
        &mut c,
        &Dataset {
            name: "logs",
            value: logs.clone(),
            peer: logs,
        },
        |b| postcard::from_bytes::<LogsRef<'_>>(b).unwrap().touch(),
        |b| {
            bincode::serde::borrow_decode_from_slice::<LogsRef<'_>, _>(b, bincode_cfg())
                .unwrap()
                .0
                .touch()
        },
        &mut sizes,
        &mut allocs,
    );
    bench_zero_copy_buffer(&mut c, &mut allocs);
    c.final_summary();
    summary(&sizes, &allocs);
}
