//! End-to-end protocol behaviour over real TCP: pipelining, requests split
//! at arbitrary byte boundaries, inline commands, RESP2 and RESP3 replies,
//! big and binary values, many concurrent clients.
//!
//! Expected replies are Redis 7's (checked against `redis-server` 7.0).
//! These tests use only `PING`, `GET`, `SET` (and `HELLO`/`CONFIG` where a
//! RESP3 map is the point), so they test the protocol, not the commands.

mod common;

use common::{encode, encode_into, Frame, SplitMix64, TestServer};
use redis::AsyncCommands;

/// 1000 commands in one write come back as 1000 replies, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_of_1000_commands_in_one_write() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1000 {
        match i % 4 {
            0 => {
                encode_into(&mut batch, &["SET", &format!("key:{i}"), &format!("v{i}")]);
                expected.push(Frame::ok());
            }
            1 => {
                encode_into(&mut batch, &["GET", &format!("key:{}", i - 1)]);
                expected.push(Frame::bulk(format!("v{}", i - 1)));
            }
            2 => {
                encode_into(&mut batch, &["PING", &format!("m{i}")]);
                expected.push(Frame::bulk(format!("m{i}")));
            }
            _ => {
                encode_into(&mut batch, &["GET", &format!("missing:{i}")]);
                expected.push(Frame::NullBulk);
            }
        }
    }
    c.send(&batch).await;
    for (i, want) in expected.into_iter().enumerate() {
        assert_eq!(c.read_reply().await, want, "reply {i}");
    }
    server.stop().await;
}

/// A few commands and their replies against an empty keyspace.
fn small_pipeline() -> (Vec<u8>, Vec<Frame>) {
    let mut bytes = Vec::new();
    encode_into(&mut bytes, &[&b"SET"[..], b"bin\r\nkey", b"\x00\r\n$3\r\n"]);
    encode_into(&mut bytes, &["GET", "bin\r\nkey"]);
    bytes.extend_from_slice(b"PING\r\n");
    bytes.extend_from_slice(b"SET inl \"a b\"\r\n");
    encode_into(&mut bytes, &["GET", "inl"]);
    bytes.extend_from_slice(b"*0\r\n");
    encode_into(&mut bytes, &["PING", ""]);
    let replies = vec![
        Frame::ok(),
        Frame::bulk(b"\x00\r\n$3\r\n"),
        Frame::simple("PONG"),
        Frame::ok(),
        Frame::bulk("a b"),
        Frame::bulk(""),
    ];
    (bytes, replies)
}

/// Sent one byte per write, and split in two at every position, a pipeline
/// gives the same replies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_split_at_every_byte_boundary() {
    let server = TestServer::start().await;
    let (bytes, replies) = small_pipeline();

    let mut c = server.raw().await;
    for b in &bytes {
        c.send(std::slice::from_ref(b)).await;
        tokio::task::yield_now().await;
    }
    for want in &replies {
        c.expect(want.clone()).await;
    }

    for cut in 0..=bytes.len() {
        let mut c = server.raw().await;
        c.send(&bytes[..cut]).await;
        tokio::task::yield_now().await;
        c.send(&bytes[cut..]).await;
        for (i, want) in replies.iter().enumerate() {
            assert_eq!(&c.read_reply().await, want, "cut at {cut}, reply {i}");
        }
    }
    server.stop().await;
}

/// Random commands over random binary keys, sent in random chunks (seeded),
/// checked against a model of the keyspace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_in_random_chunks() {
    let server = TestServer::start().await;
    for seed in 1..=8u64 {
        let mut rng = SplitMix64::new(seed);
        let mut model = std::collections::HashMap::<Vec<u8>, Vec<u8>>::new();
        let mut bytes = Vec::new();
        let mut replies = Vec::new();
        let keys: Vec<Vec<u8>> = (0..8)
            .map(|i| {
                let mut k = format!("s{seed}:").into_bytes();
                k.extend(rng.bytes(i % 4));
                k
            })
            .collect();
        for _ in 0..300 {
            let key = rng.pick(&keys).clone();
            match rng.below(4) {
                0 => {
                    let max = if rng.chance(5) { 70_000 } else { 40 };
                    let value = rng.bytes_below(max);
                    encode_into(&mut bytes, &[&b"SET"[..], &key, &value]);
                    model.insert(key, value);
                    replies.push(Frame::ok());
                }
                1 | 2 => {
                    encode_into(&mut bytes, &[&b"GET"[..], &key]);
                    replies.push(model.get(&key).map_or(Frame::NullBulk, Frame::bulk));
                }
                _ => {
                    bytes.extend_from_slice(b"PING\r\n");
                    replies.push(Frame::simple("PONG"));
                }
            }
        }
        let mut c = server.raw().await;
        let mut at = 0;
        while at < bytes.len() {
            let max = if rng.chance(10) { 20_000 } else { 64 };
            let n = (1 + rng.below(max) as usize).min(bytes.len() - at);
            c.send(&bytes[at..at + n]).await;
            at += n;
        }
        for (i, want) in replies.iter().enumerate() {
            assert_eq!(&c.read_reply().await, want, "seed {seed}, reply {i}");
        }
    }
    server.stop().await;
}

/// Inline commands: CRLF or bare LF, quoting and escapes as `sdssplitargs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_commands() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    assert_eq!(c.inline("PING").await, Frame::simple("PONG"));
    assert_eq!(c.inline("SET k \"a b\"").await, Frame::ok());
    assert_eq!(c.inline("GET k").await, Frame::bulk("a b"));
    assert_eq!(c.inline("SET k2 'x y'").await, Frame::ok());
    assert_eq!(c.inline("GET k2").await, Frame::bulk("x y"));
    assert_eq!(c.inline(r#"SET k3 "\x41\n\"q\"""#).await, Frame::ok());
    assert_eq!(c.inline("GET k3").await, Frame::bulk("A\n\"q\""));
    assert_eq!(c.inline("  ping   hello  ").await, Frame::bulk("hello"));

    // Telnet style: bare \n; blank lines are ignored.
    c.send(b"PING\n\r\n\nSET t v\nGET t\n").await;
    c.expect(Frame::simple("PONG")).await;
    c.expect(Frame::ok()).await;
    c.expect(Frame::bulk("v")).await;
    server.stop().await;
}

/// After `HELLO 3` replies are RESP3: nil is `_`, HELLO and CONFIG GET
/// answer maps; `HELLO 2` goes back to `$-1` and flat arrays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_after_hello_3() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    let hello = c.cmd(&["HELLO", "3"]).await;
    assert!(matches!(hello, Frame::Map(_)), "HELLO 3 gave {hello:?}");
    assert_eq!(hello.map_get("proto"), Some(&Frame::Int(3)));
    assert_eq!(hello.map_get("server"), Some(&Frame::bulk("redis")));
    assert!(hello.map_get("version").is_some(), "{hello:?}");

    assert_eq!(c.cmd(&["GET", "nokey"]).await, Frame::Null);
    assert_eq!(c.cmd(&["SET", "k", "v"]).await, Frame::ok());
    assert_eq!(c.cmd(&["GET", "k"]).await, Frame::bulk("v"));
    assert_eq!(c.cmd(&["SET", "k", "w", "NX"]).await, Frame::Null);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxclients"]).await,
        Frame::Map(vec![(Frame::bulk("maxclients"), Frame::bulk("10000"))])
    );

    let hello = c.cmd(&["HELLO", "2"]).await;
    let Frame::Array(items) = &hello else {
        panic!("HELLO 2 gave {hello:?}")
    };
    assert_eq!(items.len(), 14);
    assert_eq!(items[4..6], [Frame::bulk("proto"), Frame::Int(2)]);
    assert_eq!(c.cmd(&["GET", "nokey"]).await, Frame::NullBulk);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxclients"]).await,
        Frame::Array(vec![Frame::bulk("maxclients"), Frame::bulk("10000")])
    );
    server.stop().await;
}

/// RESP2 nil bulk is exactly `$-1\r\n`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp2_null_is_dollar_minus_one() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    let mut batch = encode(&["GET", "nokey"]);
    encode_into(&mut batch, &["SET", "k", "v", "XX"]);
    batch.extend_from_slice(b"PING\r\n");
    c.send(&batch).await;
    // The decoder keeps `$-1`, `*-1` and `_` apart.
    c.expect(Frame::NullBulk).await;
    c.expect(Frame::NullBulk).await;
    c.expect(Frame::simple("PONG")).await;
    server.stop().await;
}

/// Unknown commands and wrong arity give Redis' texts, and the connection
/// stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_command_and_wrong_arity_texts() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    assert_eq!(
        c.inline("FOO a b").await,
        Frame::err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")
    );
    assert_eq!(
        c.cmd(&["foo"]).await,
        Frame::err("ERR unknown command 'foo', with args beginning with: ")
    );
    assert_eq!(
        c.inline("GeT").await,
        Frame::err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.cmd(&["SET", "k"]).await,
        Frame::err("ERR wrong number of arguments for 'set' command")
    );
    assert_eq!(
        c.cmd(&["GET", "a", "b"]).await,
        Frame::err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.cmd(&["SET", "k", "v", "EX"]).await,
        Frame::err("ERR syntax error")
    );
    assert_eq!(c.inline("PING").await, Frame::simple("PONG"));
    server.stop().await;
}

/// `*0` and `*-1` are skipped without a reply, as are blank inline lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_multibulk_is_ignored() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    c.send(b"*0\r\n*0\r\n*-1\r\n\r\n*1\r\n$4\r\nPING\r\n*0\r\nPING\r\n")
        .await;
    c.expect(Frame::simple("PONG")).await;
    c.expect(Frame::simple("PONG")).await;
    c.send(b"*0\r\n").await;
    assert_eq!(c.cmd(&["PING", "x"]).await, Frame::bulk("x"));
    server.stop().await;
}

/// A value of `len` bytes with a pattern that catches misplaced chunks.
fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// 1 MiB and 16 MiB values round-trip through SET and GET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_values_round_trip() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    for (key, len) in [("big1", 1 << 20), ("big16", 16 << 20)] {
        let value = patterned(len);
        assert_eq!(
            c.cmd(&[&b"SET"[..], key.as_bytes(), &value]).await,
            Frame::ok()
        );
        match c.cmd(&[&b"GET"[..], key.as_bytes()]).await {
            Frame::Bulk(got) => assert!(got == value, "{key}: value differs"),
            other => panic!("{key}: GET gave {other:?}"),
        }
    }
    // The 16 MiB value again, through the redis crate.
    let mut r = server.redis().await;
    let got: Vec<u8> = r.get("big16").await.expect("GET big16");
    assert!(got == patterned(16 << 20));
    server.stop().await;
}

/// Keys and values holding every byte value are stored and returned intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_safe_keys_and_values() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    let all: Vec<u8> = (0..=255u8).collect();
    let mut rev = all.clone();
    rev.reverse();
    assert_eq!(c.cmd(&[&b"SET"[..], &all, &rev]).await, Frame::ok());
    assert_eq!(c.cmd(&[&b"GET"[..], &all]).await, Frame::bulk(&rev));

    let mut batch = Vec::new();
    for b in 0..=255u8 {
        encode_into(&mut batch, &[&b"SET"[..], &[b], &[b, 0, b'\r', b'\n', b]]);
    }
    for b in 0..=255u8 {
        encode_into(&mut batch, &[&b"GET"[..], &[b]]);
    }
    c.send(&batch).await;
    for _ in 0..=255u8 {
        c.expect(Frame::ok()).await;
    }
    for b in 0..=255u8 {
        c.expect(Frame::bulk([b, 0, b'\r', b'\n', b])).await;
    }

    let mut r = server.redis().await;
    let got: Vec<u8> = r.get(&all[..]).await.expect("GET");
    assert_eq!(got, rev);
    server.stop().await;
}

/// 50 clients × 200 operations each, concurrently; every value is the
/// one its client wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_clients() {
    const CLIENTS: usize = 50;
    const OPS: usize = 200;
    let server = TestServer::start().await;
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..CLIENTS {
        let addr = server.addr;
        tasks.spawn(async move {
            let mut rng = SplitMix64::new(t as u64);
            if t % 2 == 0 {
                let mut r = common::redis_conn(addr).await;
                for i in 0..OPS {
                    let key = format!("c{t}:{}", i % 20);
                    let value = rng.bytes_below(100);
                    let () = r.set(&key, &value).await.expect("SET");
                    let got: Vec<u8> = r.get(&key).await.expect("GET");
                    assert_eq!(got, value, "client {t} op {i}");
                    let shared: Option<Vec<u8>> = r.get("shared").await.expect("GET shared");
                    assert!(shared.is_none_or(|v| v.starts_with(b"w")));
                    let () = r.set("shared", format!("w{t}")).await.expect("SET shared");
                }
            } else {
                let mut c = common::RawConn::connect(addr).await;
                for i in 0..OPS {
                    let key = format!("c{t}:{}", i % 20);
                    let value = rng.bytes_below(100);
                    let mut batch = Vec::new();
                    encode_into(&mut batch, &[&b"SET"[..], key.as_bytes(), &value]);
                    encode_into(&mut batch, &[&b"GET"[..], key.as_bytes()]);
                    c.send(&batch).await;
                    assert_eq!(c.read_reply().await, Frame::ok());
                    assert_eq!(
                        c.read_reply().await,
                        Frame::bulk(&value),
                        "client {t} op {i}"
                    );
                }
            }
            t
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("client task panicked");
    }
    // Last values, seen from a new connection: replay each client's stream.
    let mut c = server.raw().await;
    for t in 0..CLIENTS {
        let mut rng = SplitMix64::new(t as u64);
        let mut last = std::collections::HashMap::new();
        for i in 0..OPS {
            let value = rng.bytes_below(100);
            last.insert(format!("c{t}:{}", i % 20), value);
        }
        for (key, value) in last {
            assert_eq!(c.cmd(&["GET", &key]).await, Frame::bulk(&value), "{key}");
        }
    }
    server.stop().await;
}
