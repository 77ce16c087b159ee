//! ZeroCopyBuffer and ZeroCopyPool.
mod common;

use std::thread;

use codec::{
    ChatMessage, Codec, Error, OnExhausted, RkyvCodec, RpcRequest, ZeroCopyBuffer, ZeroCopyPool,
    ZeroCopyPoolConfig,
};
use common::{chat, request};

#[test]
fn append_get_iterate_clear_reuse() {
    let mut buf = ZeroCopyBuffer::<ChatMessage>::with_capacity(64);
    for i in 0..100 {
        assert_eq!(buf.append(&chat(i)).unwrap(), i as usize);
    }
    assert_eq!(buf.len(), 100);
    for i in 0..100u64 {
        let m = buf.get(i as usize).unwrap();
        assert_eq!(m.timestamp, chat(i).timestamp);
        assert_eq!(m.id, chat(i).id.as_str());
        assert_eq!((m as *const _ as usize) % 8, 0);
    }
    assert!(buf.get(100).is_none());
    assert_eq!(buf.iter().count(), 100);
    assert!(buf
        .iter()
        .zip(0..)
        .all(|(m, i)| m.content == chat(i).content.as_str()));
    buf.clear();
    assert!(buf.is_empty() && buf.get(0).is_none());
    buf.append(&chat(7)).unwrap();
    assert_eq!(buf.get(0).unwrap().sender, "alice");
}

#[test]
fn received_archives_are_validated_once_on_append() {
    let rkyv = RkyvCodec::new();
    let mut buf = ZeroCopyBuffer::<RpcRequest>::new();
    for i in 0..20 {
        let bytes = rkyv.encode(&request(i)).unwrap();
        buf.append_archive(&bytes).unwrap();
    }
    let mut bad = rkyv.encode(&request(99)).unwrap();
    let n = bad.len();
    let root = n - std::mem::size_of::<codec::ArchivedRpcRequest>();
    // An enum tag no variant has (eight 0xFF bytes would be a valid empty
    // inline string: 0xFF is rkyv's inline padding).
    bad[root + std::mem::offset_of!(codec::ArchivedRpcRequest, method_type)] = 0xFF;
    let before = buf.byte_len();
    let r = buf.append_archive(&bad);
    assert!(
        matches!(r, Err(Error::Invalid { .. })),
        "{r:?} {:?}",
        &bad[root..]
    );
    assert!(buf.append_archive(&[]).is_err());
    assert_eq!(buf.len(), 20);
    assert_eq!(buf.byte_len(), before, "a rejected archive leaves no bytes");
    assert_eq!(buf.get(19).unwrap().id, "req-19");
}

#[test]
fn messages_stay_readable_across_growth() {
    // Start tiny so that appends reallocate many times.
    let mut buf = ZeroCopyBuffer::<RpcRequest>::with_capacity(0);
    for i in 0..300 {
        buf.append(&request(i)).unwrap();
    }
    for i in 0..300u64 {
        let r = buf.get(i as usize).unwrap();
        assert_eq!(r.id, format!("req-{i}").as_str());
        assert_eq!(
            serde_json::Value::from(&r.params),
            serde_json::Value::from(request(i).params)
        );
    }
}

#[test]
fn pool_never_hands_a_buffer_to_two_users() {
    let pool = ZeroCopyPool::<ChatMessage>::new(ZeroCopyPoolConfig {
        max_buffers: 4,
        buffer_capacity: 1024,
        ..Default::default()
    });
    let mut bufs: Vec<_> = (0..4).map(|_| pool.get().unwrap()).collect();
    assert!(matches!(
        pool.get(),
        Err(Error::PoolExhausted { capacity: 4 })
    ));
    for (i, b) in bufs.iter_mut().enumerate() {
        assert!(b.is_pooled());
        for j in 0..10 {
            b.append(&chat(i as u64 * 100 + j)).unwrap();
        }
    }
    // Nobody else's writes show up in any buffer.
    for (i, b) in bufs.iter().enumerate() {
        assert_eq!(b.len(), 10);
        assert!(b
            .iter()
            .zip(0..)
            .all(|(m, j)| m.timestamp == chat(i as u64 * 100 + j).timestamp));
    }
    assert_eq!(pool.in_use(), 4);
    drop(bufs.pop());
    assert_eq!(pool.in_use(), 3);
    let reused = pool.get().unwrap();
    assert!(reused.is_empty(), "a returned buffer comes back empty");
    assert_eq!(pool.stats().hits, 1);
}

#[test]
fn waiting_pool_blocks_until_a_buffer_returns() {
    let pool = ZeroCopyPool::<ChatMessage>::new(ZeroCopyPoolConfig {
        max_buffers: 1,
        on_exhausted: OnExhausted::Wait,
        ..Default::default()
    });
    let mut held = pool.get().unwrap();
    held.append(&chat(1)).unwrap();
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || {
            let mut b = pool.get().unwrap();
            b.append(&chat(2)).unwrap();
            b.get(0).unwrap().timestamp.to_native()
        })
    };
    drop(held);
    assert_eq!(waiter.join().unwrap(), chat(2).timestamp);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn decode_from_a_buffer_matches_the_codec() {
    let rkyv = RkyvCodec::new();
    let mut buf = ZeroCopyBuffer::<ChatMessage>::new();
    buf.append(&chat(3)).unwrap();
    let via_codec = rkyv.encode(&chat(3)).unwrap();
    // Same layout as a standalone archive.
    let back: ChatMessage = Codec::<ChatMessage>::decode(&rkyv, &via_codec).unwrap();
    assert_eq!(buf.get(0).unwrap().id, back.id.as_str());
}
