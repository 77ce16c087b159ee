//! The hash commands end to end: raw RESP2/RESP3 and the `redis` crate,
//! encodings and their conversions, `HSCAN` under churn, `HRANDFIELD`
//! shapes, and a differential run against a real Redis.
//!
//! Expected replies and error texts were taken from Redis 7.0 running the
//! same commands.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{
    arr, assert_no_mismatches, bulk, bulks, err, exchange, int, nil, ok, script, Escaped, Frame,
    RawConn, RedisProcess, SplitMix64, TestServer,
};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";

/// The bulk strings of an array reply.
fn bulk_items(f: &Frame) -> Vec<Vec<u8>> {
    match f {
        Frame::Array(v) | Frame::Set(v) => v
            .iter()
            .map(|x| match x {
                Frame::Bulk(b) => b.clone(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_commands_and_errors() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("HSET h a 1 b 2", int(2)),
            ("HSET h a 10 c 3", int(1)),
            (
                "HSET h a 1 b",
                err("ERR wrong number of arguments for 'hset' command"),
            ),
            (
                "HMSET h a 1 b",
                err("ERR wrong number of arguments for 'hmset' command"),
            ),
            ("HMSET h d 4", ok()),
            // Listpack order is insertion order, as in Redis.
            (
                "HGETALL h",
                bulks(&["a", "10", "b", "2", "c", "3", "d", "4"]),
            ),
            ("HKEYS h", bulks(&["a", "b", "c", "d"])),
            ("HVALS h", bulks(&["10", "2", "3", "4"])),
            ("HGET h a", bulk("10")),
            ("HGET h zz", nil()),
            ("HGET nope a", nil()),
            ("HMGET h a zz b", arr(vec![bulk("10"), nil(), bulk("2")])),
            ("HMGET nope a b", arr(vec![nil(), nil()])),
            ("HLEN h", int(4)),
            ("HLEN nope", int(0)),
            ("HEXISTS h a", int(1)),
            ("HEXISTS h zz", int(0)),
            ("HSTRLEN h a", int(2)),
            ("HSTRLEN h zz", int(0)),
            ("HSTRLEN nope a", int(0)),
            ("HSETNX h a 5", int(0)),
            ("HSETNX h e 5", int(1)),
            ("HDEL h a zz e", int(2)),
            ("HDEL h b c d", int(3)),
            ("EXISTS h", int(0)),
            ("HDEL h a", int(0)),
            ("HGETALL nope", arr(vec![])),
            ("SET str v", ok()),
            ("HSET str a 1", err(WRONGTYPE)),
            ("HGET str a", err(WRONGTYPE)),
            ("HDEL str a", err(WRONGTYPE)),
            ("HGETALL str", err(WRONGTYPE)),
            ("HINCRBY str a 1", err(WRONGTYPE)),
            ("HINCRBY str a x", err(NOT_INT)),
            ("HINCRBYFLOAT str a x", err(NOT_FLOAT)),
            ("HRANDFIELD str", err(WRONGTYPE)),
            ("HSCAN str 0", err(WRONGTYPE)),
            ("HSCAN str x", err("ERR invalid cursor")),
            ("HSCAN nope 0 foo", arr(vec![bulk("0"), arr(vec![])])),
        ],
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incr_commands() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("HINCRBY h n 5", int(5)),
            ("HINCRBY h n -7", int(-2)),
            ("HINCRBY h n x", err(NOT_INT)),
            ("HINCRBY h n 9223372036854775807", int(9223372036854775805)),
            (
                "HINCRBY h n 3",
                err("ERR increment or decrement would overflow"),
            ),
            ("HINCRBY h n -9223372036854775807", int(-2)),
            ("HSET h s abc z 010 f 1.5", int(3)),
            ("HINCRBY h s 1", err("ERR hash value is not an integer")),
            ("HINCRBY h z 1", err("ERR hash value is not an integer")),
            ("HINCRBY h f 1", err("ERR hash value is not an integer")),
            ("HINCRBYFLOAT h s 1", err("ERR hash value is not a float")),
            ("HINCRBYFLOAT h z 1", bulk("11")),
            ("HINCRBYFLOAT h f 1", bulk("2.5")),
            ("HINCRBYFLOAT h n inf", err("ERR value is NaN or Infinity")),
            ("HINCRBYFLOAT h n nan", err(NOT_FLOAT)),
            ("HINCRBYFLOAT h n abc", err(NOT_FLOAT)),
            ("HINCRBYFLOAT h new 3.0", bulk("3")),
            ("HINCRBYFLOAT h n2 1e20", bulk("100000000000000000000")),
            ("HINCRBYFLOAT nh2 f abc", err(NOT_FLOAT)),
            ("EXISTS nh2", int(0)),
            ("HINCRBY nh3 f abc", err(NOT_INT)),
            ("EXISTS nh3", int(0)),
            ("HINCRBY fresh f 1", int(1)),
            ("HGET fresh f", bulk("1")),
        ],
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encodings_follow_redis_thresholds() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("HSET h a 1", int(1)),
            ("OBJECT ENCODING h", bulk("listpack")),
            ("CONFIG SET hash-max-listpack-value 3", ok()),
            ("HINCRBYFLOAT h a 0.12345", bulk("1.12345")),
            ("OBJECT ENCODING h", bulk("hashtable")),
            ("HSET h2 a 1", int(1)),
            // HSETNX of an existing field changes nothing, even the encoding.
            ("HSETNX h2 a 12345", int(0)),
            ("OBJECT ENCODING h2", bulk("listpack")),
            ("HSETNX h2 b 12345", int(1)),
            ("OBJECT ENCODING h2", bulk("hashtable")),
            ("HSET h3 a 1", int(1)),
            ("HINCRBY h3 a 100000", int(100001)),
            ("OBJECT ENCODING h3", bulk("hashtable")),
            ("HSET h4 abcd 1", int(1)),
            ("OBJECT ENCODING h4", bulk("hashtable")),
            ("HDEL h4 abcd", int(1)),
            ("EXISTS h4", int(0)),
            ("CONFIG SET hash-max-listpack-value 64", ok()),
            ("CONFIG SET hash-max-listpack-entries 2", ok()),
            ("HSET h5 a 1 b 2", int(2)),
            ("OBJECT ENCODING h5", bulk("listpack")),
            ("HSET h5 c 3", int(1)),
            ("OBJECT ENCODING h5", bulk("hashtable")),
            // Never back, even when small again.
            ("HDEL h5 a b", int(2)),
            ("OBJECT ENCODING h5", bulk("hashtable")),
            ("CONFIG SET hash-max-listpack-entries 0", ok()),
            ("HSET h6 a 1", int(1)),
            ("OBJECT ENCODING h6", bulk("hashtable")),
            ("CONFIG SET hash-max-listpack-entries 128", ok()),
        ],
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_redis_crate() {
    use redis::AsyncCommands;
    let s = TestServer::start().await;
    let mut r = s.redis().await;
    let pairs: Vec<(String, i64)> = (0..300).map(|i| (format!("f{i}"), i)).collect();
    let _: () = r.hset_multiple("big", &pairs).await.unwrap();
    let all: BTreeMap<String, i64> = r.hgetall("big").await.unwrap();
    assert_eq!(all.len(), 300);
    assert_eq!(all["f299"], 299);
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("big")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(enc, "hashtable");
    for _ in 0..10 {
        let _: i64 = r.hincr("big", "f1", 2).await.unwrap();
    }
    let v: i64 = r.hget("big", "f1").await.unwrap();
    assert_eq!(v, 21);
    let f: f64 = r.hincr("big", "fl", 1.5).await.unwrap();
    assert_eq!(f, 1.5);
    let n: i64 = r.hdel("big", &["f0", "f1", "nope"]).await.unwrap();
    assert_eq!(n, 2);
    let len: i64 = r.hlen("big").await.unwrap();
    assert_eq!(len, 299);
    let vals: Vec<Option<String>> = redis::cmd("HMGET")
        .arg("big")
        .arg("f2")
        .arg("f0")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(vals, vec![Some("2".to_string()), None]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hrandfield_counts_and_resp3_shapes() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let mut hset: Vec<String> = vec!["HSET".into(), "h".into()];
    for i in 0..20 {
        hset.push(format!("f{i}"));
        hset.push(format!("v{i}"));
    }
    c.cmd(&hset).await;
    let fields: BTreeSet<Vec<u8>> = (0..20).map(|i| format!("f{i}").into_bytes()).collect();
    for count in [1usize, 5, 19, 20, 50] {
        let got = bulk_items(&c.cmd(&["HRANDFIELD", "h", &count.to_string()]).await);
        let distinct: BTreeSet<Vec<u8>> = got.iter().cloned().collect();
        assert_eq!(got.len(), count.min(20));
        assert_eq!(distinct.len(), got.len());
        assert!(distinct.is_subset(&fields));
    }
    let got = bulk_items(&c.cmd(&["HRANDFIELD", "h", "-30", "WITHVALUES"]).await);
    assert_eq!(got.len(), 60);
    for pair in got.chunks(2) {
        assert_eq!(pair[0][1..], pair[1][1..], "value belongs to its field");
    }
    let one = c.cmd(&["HRANDFIELD", "h"]).await;
    assert!(matches!(&one, Frame::Bulk(f) if fields.contains(f)));
    script(
        &mut c,
        &[
            ("HRANDFIELD nope", nil()),
            ("HRANDFIELD nope 5", arr(vec![])),
            ("HRANDFIELD h 0", arr(vec![])),
            ("HRANDFIELD h 1 foo", err(SYNTAX)),
            ("HRANDFIELD nope 1 foo", err(SYNTAX)),
            ("HRANDFIELD h 1 WITHVALUES foo", err(SYNTAX)),
            ("HRANDFIELD h 1.5", err(NOT_INT)),
            ("HRANDFIELD h 4611686018427387904 WITHVALUES", err("ERR value is out of range")),
            ("HRANDFIELD h -4611686018427387904 WITHVALUES", err("ERR value is out of range")),
            (
                "HRANDFIELD h -9223372036854775808",
                err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
            ),
        ],
    )
    .await;
    // RESP3: pairs are arrays of two, HGETALL a map.
    c.cmd(&["HELLO", "3"]).await;
    let Frame::Array(pairs) = c.cmd(&["HRANDFIELD", "h", "3", "WITHVALUES"]).await else {
        panic!("array");
    };
    assert_eq!(pairs.len(), 3);
    assert!(pairs
        .iter()
        .all(|p| matches!(p, Frame::Array(v) if v.len() == 2)));
    assert!(matches!(c.cmd(&["HGETALL", "h"]).await, Frame::Map(m) if m.len() == 20));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hscan_returns_every_stable_field_under_churn() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("HSET small b 2 a 1 ab 3", int(3)),
            (
                "HSCAN small 0 COUNT 1",
                arr(vec![bulk("0"), bulks(&["b", "2", "a", "1", "ab", "3"])]),
            ),
            (
                "HSCAN small 0 MATCH a*",
                arr(vec![bulk("0"), bulks(&["a", "1", "ab", "3"])]),
            ),
            (
                "HSCAN small -1",
                arr(vec![bulk("0"), bulks(&["b", "2", "a", "1", "ab", "3"])]),
            ),
            ("HSCAN small 0 COUNT 0", err(SYNTAX)),
            ("HSCAN small 0 COUNT x", err(NOT_INT)),
            ("HSCAN small 0 TYPE string", err(SYNTAX)),
            ("HSCAN small 0 NOVALUES", err(SYNTAX)),
            (
                "HSCAN small 18446744073709551616",
                err("ERR invalid cursor"),
            ),
        ],
    )
    .await;
    let mut hset: Vec<String> = vec!["HSET".into(), "h".into()];
    for i in 0..1000 {
        hset.push(format!("f{i}"));
        hset.push(format!("v{i}"));
    }
    c.cmd(&hset).await;
    let mut seen = BTreeMap::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let reply = c.cmd(&["HSCAN", "h", &cursor, "COUNT", "9"]).await;
        let Frame::Array(parts) = reply else {
            panic!("{reply:?}")
        };
        let Frame::Bulk(next) = &parts[0] else {
            panic!("cursor")
        };
        for pair in bulk_items(&parts[1]).chunks(2) {
            seen.insert(pair[0].clone(), pair[1].clone());
        }
        // Churn: delete fields ending in 3 (not stable), add new ones.
        c.cmd(&["HDEL", "h", &format!("f{}3", rounds % 100)]).await;
        c.cmd(&["HSET", "h", &format!("new{rounds}"), "x"]).await;
        cursor = String::from_utf8(next.clone()).unwrap();
        rounds += 1;
        assert!(rounds < 10_000, "scan does not end");
        if cursor == "0" {
            break;
        }
    }
    for i in (0..1000).filter(|i| i % 10 != 3) {
        assert_eq!(
            seen.get(format!("f{i}").as_bytes()),
            Some(&format!("v{i}").into_bytes()),
            "f{i}"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_count_keyspace_hits_and_writes_do_not() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.cmd(&["HSET", "h", "a", "1"]).await;
    c.cmd(&["HINCRBY", "h", "a", "1"]).await;
    c.cmd(&["HDEL", "nope", "a"]).await;
    assert_eq!(s.hits_misses(), (0, 0));
    c.cmd(&["HGET", "h", "a"]).await;
    c.cmd(&["HGETALL", "nope"]).await;
    c.cmd(&["HSCAN", "h", "0"]).await;
    assert_eq!(s.hits_misses(), (2, 1));
    s.stop().await;
}

// ---------------------------------------------------------------------
// Differential test against a real Redis.

/// Keys of the differential stream (`str` holds a string).
const DKEYS: &[&str] = &["h0", "h1", "h2", "{x}h", "str"];

/// Values probing number parsing, float formatting and the encodings.
const EDGE_VALUES: &[&str] = &[
    "-0",
    "01",
    "+1",
    " 1",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "70000",
    "-70000",
    "2147483648",
    "",
    "1.5",
    "1e3",
    "inf",
    "abc",
    "0x10",
    "3.0",
];

struct Gen {
    rng: SplitMix64,
}

impl Gen {
    fn key(&mut self) -> Vec<u8> {
        self.rng.pick(DKEYS).as_bytes().to_vec()
    }

    fn field(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=5 => format!("f{}", self.rng.below(12)).into_bytes(),
            6..=7 => self.rng.range(-3, 12).to_string().into_bytes(),
            8 => self.rng.pick(EDGE_VALUES).as_bytes().to_vec(),
            _ => {
                let n = self.rng.below(5) as usize;
                self.rng.bytes(n)
            }
        }
    }

    fn value(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=3 => self.rng.range(-100, 1000).to_string().into_bytes(),
            4 => self.rng.pick(EDGE_VALUES).as_bytes().to_vec(),
            5 => vec![b'x'; 60 + self.rng.below(10) as usize],
            6 => format!("{}.{}", self.rng.range(-9, 9), self.rng.below(100)).into_bytes(),
            _ => format!("v{}", self.rng.below(50)).into_bytes(),
        }
    }

    fn command(&mut self) -> Vec<Vec<u8>> {
        let mut rest: Vec<Vec<u8>> = Vec::new();
        let name = match self.rng.below(100) {
            0..=19 => {
                rest.push(self.key());
                for _ in 0..1 + self.rng.below(4) {
                    rest.extend([self.field(), self.value()]);
                }
                *self.rng.pick(&["HSET", "HSET", "HMSET"])
            }
            20..=23 => {
                rest.extend([self.key(), self.field(), self.value()]);
                "HSETNX"
            }
            24..=31 => {
                rest.extend([self.key(), self.field()]);
                *self.rng.pick(&["HGET", "HEXISTS", "HSTRLEN"])
            }
            32..=35 => {
                rest.push(self.key());
                for _ in 0..1 + self.rng.below(3) {
                    rest.push(self.field());
                }
                "HMGET"
            }
            36..=43 => {
                rest.push(self.key());
                for _ in 0..1 + self.rng.below(3) {
                    rest.push(self.field());
                }
                "HDEL"
            }
            44..=49 => {
                rest.push(self.key());
                *self.rng.pick(&["HLEN", "HKEYS", "HVALS", "HGETALL"])
            }
            50..=59 => {
                let by = if self.rng.chance(15) {
                    self.rng.pick(EDGE_VALUES).as_bytes().to_vec()
                } else {
                    self.rng.range(-50, 50).to_string().into_bytes()
                };
                rest.extend([self.key(), self.field(), by]);
                "HINCRBY"
            }
            60..=67 => {
                let by = if self.rng.chance(20) {
                    self.rng.pick(EDGE_VALUES).as_bytes().to_vec()
                } else {
                    format!("{}.{}", self.rng.range(-20, 20), self.rng.below(1000)).into_bytes()
                };
                rest.extend([self.key(), self.field(), by]);
                "HINCRBYFLOAT"
            }
            68..=73 => {
                rest.push(self.key());
                if self.rng.chance(80) {
                    let n = *self.rng.pick(&["0", "1", "3", "100", "-1", "-5", "x"]);
                    rest.push(n.as_bytes().to_vec());
                    if self.rng.chance(40) {
                        rest.push(
                            self.rng
                                .pick(&["WITHVALUES", "withvalues", "foo"])
                                .as_bytes()
                                .to_vec(),
                        );
                    }
                }
                "HRANDFIELD"
            }
            74..=78 => {
                rest.extend([self.key(), b"0".to_vec()]);
                match self.rng.below(4) {
                    0 => rest.extend([b"MATCH".to_vec(), b"f1*".to_vec()]),
                    1 => rest.extend([b"COUNT".to_vec(), b"1000".to_vec()]),
                    2 => rest.extend([b"COUNT".to_vec(), b"0".to_vec()]),
                    _ => {}
                }
                "HSCAN"
            }
            79..=86 => {
                rest.extend([b"ENCODING".to_vec(), self.key()]);
                "OBJECT"
            }
            87..=89 => {
                rest.push(b"SET".to_vec());
                if self.rng.chance(50) {
                    let v = *self.rng.pick(&["0", "1", "4", "8", "128"]);
                    rest.extend([b"hash-max-listpack-entries".to_vec(), v.as_bytes().to_vec()]);
                } else {
                    let v = *self.rng.pick(&["0", "2", "5", "64"]);
                    rest.extend([b"hash-max-listpack-value".to_vec(), v.as_bytes().to_vec()]);
                }
                "CONFIG"
            }
            90..=92 => {
                rest.extend([b"str".to_vec(), self.value()]);
                "SET"
            }
            93..=95 => {
                rest.push(self.key());
                "DEL"
            }
            _ => {
                rest.push(self.key());
                "TYPE"
            }
        };
        let mut cmd = vec![name.as_bytes().to_vec()];
        cmd.extend(rest);
        if self.rng.chance(2) {
            cmd.pop();
        }
        cmd
    }
}

/// Sorts an array reply's elements (`pairs`: two by two).
fn sorted(f: Frame, pairs: bool) -> Frame {
    let Frame::Array(v) = f else { return f };
    let mut chunks: Vec<Vec<Frame>> = v
        .chunks(if pairs { 2 } else { 1 })
        .map(<[Frame]>::to_vec)
        .collect();
    chunks.sort_by_key(|c| format!("{c:?}"));
    Frame::Array(chunks.into_iter().flatten().collect())
}

/// What can be compared of a reply: random replies by shape, unordered
/// ones sorted (a hashtable's order differs from Redis').
fn normalize(cmd: &[Vec<u8>], reply: Frame) -> Frame {
    if reply.is_error() {
        return reply;
    }
    match cmd[0].as_slice() {
        b"HRANDFIELD" => match reply {
            Frame::Bulk(_) => Frame::Simple("<field>".into()),
            Frame::Array(v) => Frame::Simple(format!("<{} items>", v.len())),
            other => other,
        },
        b"HSCAN" => {
            let full = cmd.len() == 5 && cmd[3] == b"COUNT" && cmd[4] == b"1000";
            match reply {
                Frame::Array(mut parts) if full && parts.len() == 2 => {
                    let body = parts.pop().map(|b| sorted(b, true));
                    parts.extend(body);
                    Frame::Array(parts)
                }
                _ => Frame::Simple("<scan>".into()),
            }
        }
        b"HKEYS" | b"HVALS" => sorted(reply, false),
        b"HGETALL" => sorted(reply, true),
        _ => reply,
    }
}

/// Makes both servers hold Redis' keys again after a mismatch.
async fn resync(ours: &mut RawConn, redis: &mut RawConn) {
    for key in DKEYS {
        let t = redis.cmd(&["TYPE", key]).await;
        let mut write: Vec<Vec<u8>> = Vec::new();
        if t == Frame::Simple("hash".into()) {
            write = vec![b"HSET".to_vec(), key.as_bytes().to_vec()];
            write.extend(bulk_items(&redis.cmd(&["HGETALL", key]).await));
        } else if t == Frame::Simple("string".into()) {
            let Frame::Bulk(v) = redis.cmd(&["GET", key]).await else {
                panic!("GET")
            };
            write = vec![b"SET".to_vec(), key.as_bytes().to_vec(), v];
        }
        for conn in [&mut *ours, &mut *redis] {
            conn.cmd(&["DEL", key]).await;
            if !write.is_empty() {
                assert!(!conn.cmd(&write).await.is_error());
            }
        }
    }
}

fn show(cmd: &[Vec<u8>]) -> String {
    cmd.iter()
        .map(|a| format!("\"{}\"", Escaped(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_replies_as_real_redis() {
    let Some(redis_proc) = RedisProcess::start().await else {
        return;
    };
    let s = TestServer::start().await;
    let mut ours = s.raw().await;
    let mut redis = RawConn::connect(redis_proc.addr()).await;
    let mut mismatches = Vec::new();
    // Per command: replies of Redis that were not errors.
    let mut served: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for seed in 1..=4u64 {
        let mut gen = Gen {
            rng: SplitMix64::new(seed),
        };
        for conn in [&mut ours, &mut redis] {
            conn.cmd(&["FLUSHALL"]).await;
            conn.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "128"])
                .await;
            conn.cmd(&["CONFIG", "SET", "hash-max-listpack-value", "64"])
                .await;
        }
        for i in 0..1500 {
            let cmd = gen.command();
            match exchange(&mut ours, &mut redis, &cmd, normalize).await {
                Ok(b) if !b.is_error() => *served.entry(cmd[0].clone()).or_default() += 1,
                Ok(_) => {}
                Err((a, b)) => {
                    mismatches.push(format!(
                        "seed {seed} #{i}: {}\n  ours:  {a:?}\n  redis: {b:?}",
                        show(&cmd)
                    ));
                    resync(&mut ours, &mut redis).await;
                }
            }
        }
    }
    s.stop().await;
    drop(redis_proc);
    for name in [
        "HSET",
        "HMSET",
        "HSETNX",
        "HGET",
        "HEXISTS",
        "HSTRLEN",
        "HMGET",
        "HDEL",
        "HLEN",
        "HKEYS",
        "HVALS",
        "HGETALL",
        "HINCRBY",
        "HINCRBYFLOAT",
        "HRANDFIELD",
        "HSCAN",
        "OBJECT",
    ] {
        let n = served.get(name.as_bytes()).copied().unwrap_or(0);
        assert!(n >= 10, "the stream exercised {name} only {n} times");
    }
    assert_no_mismatches(&mismatches, 15);
}
