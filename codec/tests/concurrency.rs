//! Codecs and metrics shared between threads.
mod common;

use std::sync::Arc;
use std::thread;

use codec::{ChatMessage, Codec, CompressedCodec, HybridCodec, JsonCodec, RkyvCodec, RpcRequest};
use common::{aligned, chat, request};

const THREADS: u64 = 4;
const PER_THREAD: u64 = 200;

fn hammer<C: Codec<RpcRequest> + Codec<ChatMessage> + 'static>(codec: C) {
    let codec = Arc::new(codec);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let codec = Arc::clone(&codec);
            thread::spawn(move || {
                let mut buf = Vec::new();
                for i in 0..PER_THREAD {
                    let n = t * 1000 + i;
                    buf.clear();
                    codec.encode_into(&request(n), &mut buf).unwrap();
                    let back: RpcRequest = codec.decode(&aligned(&buf)).unwrap();
                    assert_eq!(back, request(n));
                    let bytes = Codec::<ChatMessage>::encode(&*codec, &chat(n)).unwrap();
                    assert_eq!(
                        Codec::<ChatMessage>::decode(&*codec, &aligned(&bytes)).unwrap(),
                        chat(n)
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let m = Codec::<RpcRequest>::metrics(&*codec).snapshot();
    assert_eq!(m.encodes, THREADS * PER_THREAD * 2);
    assert_eq!(m.decodes, THREADS * PER_THREAD * 2);
    assert_eq!(m.encode_failures + m.decode_failures, 0);
    assert!(m.bytes_out > 0 && m.bytes_in == m.bytes_out, "{m:?}");
}

#[test]
fn json_codec_under_concurrent_use() {
    hammer(JsonCodec::new());
}

#[test]
fn rkyv_codec_under_concurrent_use() {
    hammer(RkyvCodec::new());
}

#[test]
fn hybrid_codec_under_concurrent_use() {
    hammer(HybridCodec::new());
}

#[test]
fn compressed_codec_under_concurrent_use() {
    hammer(CompressedCodec::new(HybridCodec::new()));
}

#[test]
fn concurrent_zero_copy_access_of_one_buffer() {
    let rkyv = Arc::new(RkyvCodec::new());
    let bytes = Arc::new(aligned(&rkyv.encode(&chat(5)).unwrap()));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (rkyv, bytes) = (Arc::clone(&rkyv), Arc::clone(&bytes));
            thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    assert_eq!(
                        rkyv.access::<ChatMessage>(&bytes).unwrap().timestamp,
                        chat(5).timestamp
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        Codec::<ChatMessage>::metrics(&*rkyv).snapshot().decodes,
        THREADS * PER_THREAD
    );
}
