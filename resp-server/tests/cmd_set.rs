//! The set commands end to end: raw RESP2/RESP3 and the `redis` crate,
//! encodings and their conversions, cross-shard `*STORE` and `SMOVE`,
//! `SSCAN` under churn, and a differential run against a real Redis.
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

/// Sorts the elements of an array reply.
fn sorted(f: Frame) -> Frame {
    match f {
        Frame::Array(mut v) | Frame::Set(mut v) => {
            v.sort_by_key(|x| format!("{x:?}"));
            Frame::Array(v)
        }
        other => other,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_commands_and_errors() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("SADD s 3 1 2 2", int(3)),
            ("SADD s 1", int(0)),
            ("SCARD s", int(3)),
            ("SMEMBERS s", bulks(&["1", "2", "3"])),
            ("SISMEMBER s 2", int(1)),
            ("SISMEMBER s 02", int(0)),
            ("SISMEMBER nos 2", int(0)),
            ("SMISMEMBER s 1 x 3", arr(vec![int(1), int(0), int(1)])),
            ("SMISMEMBER nos a b", arr(vec![int(0), int(0)])),
            ("SREM s 1 9", int(1)),
            ("SREM s 2 3", int(2)),
            ("EXISTS s", int(0)),
            ("SREM s 1", int(0)),
            ("SCARD nos", int(0)),
            ("SMEMBERS nos", arr(vec![])),
            ("SET str v", ok()),
            ("SADD str a", err(WRONGTYPE)),
            ("SREM str a", err(WRONGTYPE)),
            ("SCARD str", err(WRONGTYPE)),
            ("SISMEMBER str a", err(WRONGTYPE)),
            ("SPOP str", err(WRONGTYPE)),
            ("SPOP str 1", err(WRONGTYPE)),
            ("SPOP nos", nil()),
            ("SPOP nos 2", arr(vec![])),
            ("SPOP nos -1", err("ERR value is out of range, must be positive")),
            ("SPOP nos x", err("ERR value is out of range, must be positive")),
            ("SPOP nos 1 2", err(SYNTAX)),
            ("SRANDMEMBER nos", nil()),
            ("SRANDMEMBER nos 5", arr(vec![])),
            ("SRANDMEMBER nos -5", arr(vec![])),
            ("SRANDMEMBER nos 1 2", err(SYNTAX)),
            (
                "SRANDMEMBER nos -9223372036854775808",
                err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
            ),
            ("SINTERCARD 0 s", err("ERR numkeys should be greater than 0")),
            ("SINTERCARD x s", err("ERR numkeys should be greater than 0")),
            ("SINTERCARD 2 s", err("ERR Number of keys can't be greater than number of args")),
            ("SINTERCARD 1 s LIMIT", err(SYNTAX)),
            ("SINTERCARD 1 s LIMIT -1", err("ERR LIMIT can't be negative")),
            ("SINTERCARD 1 s LIMIT x", err("ERR LIMIT can't be negative")),
            ("SINTERCARD 1 s foo 1", err(SYNTAX)),
            ("SINTERCARD 1 str", err(WRONGTYPE)),
            ("SINTER nos str", err(WRONGTYPE)),
            ("SUNION nos str", err(WRONGTYPE)),
            ("SDIFF nos str", err(WRONGTYPE)),
            ("SSCAN s x", err("ERR invalid cursor")),
            ("SSCAN nos 0 foo", arr(vec![bulk("0"), arr(vec![])])),
            ("SSCAN str 0", err(WRONGTYPE)),
        ],
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn algebra_and_store_semantics() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("SADD a 1 2 3 4", int(4)),
            ("SADD b 3 4 5", int(3)),
            ("SADD c x 4", int(2)),
            ("SINTER a b", bulks(&["3", "4"])),
            ("SINTER a b c", bulks(&["4"])),
            ("SINTER a nos", arr(vec![])),
            ("SUNION a b", bulks(&["1", "2", "3", "4", "5"])),
            ("SDIFF a b", bulks(&["1", "2"])),
            ("SDIFF a nos", bulks(&["1", "2", "3", "4"])),
            ("SDIFF nos a", arr(vec![])),
            ("SINTERCARD 2 a b", int(2)),
            ("SINTERCARD 2 a b LIMIT 1", int(1)),
            ("SINTERCARD 2 a b LIMIT 0", int(2)),
            ("SINTERSTORE d a b", int(2)),
            ("OBJECT ENCODING d", bulk("intset")),
            ("SUNIONSTORE d a c", int(5)),
            ("OBJECT ENCODING d", bulk("hashtable")),
            ("SET str v", ok()),
            ("EXPIRE str 100", int(1)),
            // The destination is overwritten whatever its type, TTL gone.
            ("SDIFFSTORE str a b", int(2)),
            ("TYPE str", Frame::Simple("set".into())),
            ("TTL str", int(-1)),
            // An empty result deletes the destination.
            ("SINTERSTORE str a nos", int(0)),
            ("EXISTS str", int(0)),
            ("SET str v", ok()),
            ("SDIFFSTORE str a a", int(0)),
            ("EXISTS str", int(0)),
            // A source may be the destination.
            ("SUNIONSTORE a a b", int(5)),
            ("SCARD a", int(5)),
            ("SMOVE a b 1", int(1)),
            ("SMOVE a b 1", int(0)),
            ("SMOVE a a 2", int(1)),
            ("SMOVE a a 1", int(0)),
            ("SMOVE nos a 1", int(0)),
            ("SET str v", ok()),
            ("SMOVE str a 1", err(WRONGTYPE)),
            ("SMOVE a str 2", err(WRONGTYPE)),
            ("SMOVE nos str 2", int(0)),
            ("SADD one only", int(1)),
            ("SMOVE one fresh only", int(1)),
            ("EXISTS one", int(0)),
            ("SMEMBERS fresh", bulks(&["only"])),
            ("OBJECT ENCODING fresh", bulk("hashtable")),
        ],
    )
    .await;
    s.stop().await;
}

/// Keys of `n` distinct shards of `s`'s keyspace, named from `prefix`.
fn keys_on_distinct_shards(s: &TestServer, prefix: &str, n: usize) -> Vec<String> {
    let ks = &s.shared.keyspace;
    let mut seen = BTreeSet::new();
    let mut keys = Vec::new();
    for i in 0.. {
        let k = format!("{prefix}{i}");
        if seen.insert(ks.shard_of(ks.hash(k.as_bytes()))) {
            keys.push(k);
            if keys.len() == n {
                break;
            }
        }
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_shard_store_and_move() {
    use redis::AsyncCommands;
    let s = TestServer::start().await;
    assert!(s.shared.keyspace.shard_count() > 4);
    let k = keys_on_distinct_shards(&s, "cs:", 4);
    let (a, b, c, d) = (&k[0], &k[1], &k[2], &k[3]);
    let mut r = s.redis().await;
    let _: i64 = r.sadd(a, &[1, 2, 3, 4]).await.unwrap();
    let _: i64 = r.sadd(b, &[3, 4, 5]).await.unwrap();
    let _: i64 = r.sadd(c, &["4", "x"]).await.unwrap();
    let n: i64 = r.sinterstore(d, &[a, b]).await.unwrap();
    assert_eq!(n, 2);
    let got: BTreeSet<i64> = r.smembers(d).await.unwrap();
    assert_eq!(got, BTreeSet::from([3, 4]));
    let n: i64 = r.sunionstore(d, &[a, b, c]).await.unwrap();
    assert_eq!(n, 6);
    let n: i64 = r.sdiffstore(d, &[a, b, c]).await.unwrap();
    assert_eq!(n, 2);
    let got: BTreeSet<i64> = r.smembers(d).await.unwrap();
    assert_eq!(got, BTreeSet::from([1, 2]));
    // Empty result: destination deleted.
    let n: i64 = r.sinterstore(d, &[a, "cs:missing"]).await.unwrap();
    assert_eq!(n, 0);
    let exists: bool = r.exists(d).await.unwrap();
    assert!(!exists);
    // SMOVE across shards, emptying the source.
    let moved: bool = r.smove(c, d, "x").await.unwrap();
    assert!(moved);
    let moved: bool = r.smove(c, d, "4").await.unwrap();
    assert!(moved);
    let exists: bool = r.exists(c).await.unwrap();
    assert!(!exists, "emptied source deleted");
    let got: BTreeSet<String> = r.smembers(d).await.unwrap();
    assert_eq!(got, BTreeSet::from(["4".to_string(), "x".to_string()]));

    // Concurrent cross-shard moves never lose or duplicate a member.
    let _: i64 = r.sadd(a, (0..200).collect::<Vec<i64>>()).await.unwrap();
    let _: () = r.del(b).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let addr = s.addr;
        let (a, b) = (a.clone(), b.clone());
        tasks.push(tokio::spawn(async move {
            let mut r = common::redis_conn(addr).await;
            for i in 0..200i64 {
                let (from, to) = if (i + t) % 2 == 0 { (&a, &b) } else { (&b, &a) };
                let _: bool = r.smove(from, to, i).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let in_a: BTreeSet<i64> = r.smembers(a).await.unwrap();
    let in_b: BTreeSet<i64> = r.smembers(b).await.unwrap();
    assert!(in_a.is_disjoint(&in_b));
    assert_eq!(in_a.len() + in_b.len(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encodings_follow_redis_thresholds() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("SADD s 1 2 -9223372036854775808", int(3)),
            ("OBJECT ENCODING s", bulk("intset")),
            ("SADD s -0", int(1)),
            ("OBJECT ENCODING s", bulk("hashtable")),
            ("SREM s -0", int(1)),
            ("OBJECT ENCODING s", bulk("hashtable")),
            ("SADD t a", int(1)),
            ("SREM t a", int(1)),
            ("SADD t 1", int(1)),
            ("OBJECT ENCODING t", bulk("intset")),
            ("CONFIG SET set-max-intset-entries 2", ok()),
            ("SADD u 1 2", int(2)),
            ("OBJECT ENCODING u", bulk("intset")),
            ("SADD u 3", int(1)),
            ("OBJECT ENCODING u", bulk("hashtable")),
            // SPOP of most of a set rebuilds it, as Redis 7.0 does.
            ("SADD v 1 2 3 4 5 6", int(6)),
            ("OBJECT ENCODING v", bulk("hashtable")),
        ],
    )
    .await;
    let Frame::Array(popped) = c.cmd(&["SPOP", "v", "5"]).await else {
        panic!("SPOP with a count replies an array in RESP2");
    };
    assert_eq!(popped.len(), 5);
    script(
        &mut c,
        &[
            ("SCARD v", int(1)),
            ("OBJECT ENCODING v", bulk("intset")),
            ("CONFIG SET set-max-intset-entries 512", ok()),
        ],
    )
    .await;
    s.stop().await;
}

/// The bulk strings of an array or set reply.
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
async fn random_members_and_resp3_shapes() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let mut sadd: Vec<String> = vec!["SADD".into(), "s".into()];
    sadd.extend((0..50).map(|i| format!("m{i}")));
    assert_eq!(c.cmd(&sadd).await, int(50));
    let all: BTreeSet<Vec<u8>> = sadd[2..].iter().map(|m| m.as_bytes().to_vec()).collect();

    for count in [1, 10, 49, 50, 80] {
        let got = bulk_items(&c.cmd(&["SRANDMEMBER", "s", &count.to_string()]).await);
        let distinct: BTreeSet<Vec<u8>> = got.iter().cloned().collect();
        assert_eq!(got.len(), count.min(50));
        assert_eq!(distinct.len(), got.len(), "distinct members");
        assert!(distinct.is_subset(&all));
    }
    let got = bulk_items(&c.cmd(&["SRANDMEMBER", "s", "-200"]).await);
    assert_eq!(got.len(), 200);
    assert!(got.iter().all(|m| all.contains(m)));
    assert_eq!(c.cmd(&["SRANDMEMBER", "s", "0"]).await, arr(vec![]));

    // RESP3: SPOP with a count and SMEMBERS are sets, SRANDMEMBER arrays.
    assert!(!c.cmd(&["HELLO", "3"]).await.is_error());
    let popped = c.cmd(&["SPOP", "s", "20"]).await;
    assert!(
        matches!(&popped, Frame::Set(v) if v.len() == 20),
        "{popped:?}"
    );
    let popped: BTreeSet<Vec<u8>> = bulk_items(&popped).into_iter().collect();
    assert_eq!(popped.len(), 20);
    assert!(matches!(c.cmd(&["SMEMBERS", "s"]).await, Frame::Set(v) if v.len() == 30));
    assert!(matches!(c.cmd(&["SRANDMEMBER", "s", "3"]).await, Frame::Array(v) if v.len() == 3));
    assert_eq!(c.cmd(&["SPOP", "nos", "3"]).await, Frame::Set(vec![]));
    assert_eq!(c.cmd(&["SPOP", "nos"]).await, Frame::Null);
    let rest: BTreeSet<Vec<u8>> = bulk_items(&c.cmd(&["SPOP", "s", "1000"]).await)
        .into_iter()
        .collect();
    assert_eq!(rest.len(), 30);
    assert!(rest.is_disjoint(&popped));
    assert_eq!(c.cmd(&["EXISTS", "s"]).await, int(0));
    // A single pop of the last member deletes the key.
    c.cmd(&["SADD", "one", "x"]).await;
    assert_eq!(c.cmd(&["SPOP", "one"]).await, bulk("x"));
    assert_eq!(c.cmd(&["EXISTS", "one"]).await, int(0));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sscan_returns_every_stable_member_under_churn() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let mut sadd: Vec<String> = vec!["SADD".into(), "s".into()];
    sadd.extend((0..1000).map(|i| format!("m{i}")));
    c.cmd(&sadd).await;
    // Intset: one call, cursor 0, ascending.
    c.cmd(&["SADD", "ints", "3", "1", "2"]).await;
    assert_eq!(
        c.cmd(&["SSCAN", "ints", "0", "COUNT", "1"]).await,
        arr(vec![bulk("0"), bulks(&["1", "2", "3"])])
    );
    assert_eq!(
        c.cmd(&["SSCAN", "ints", "0", "MATCH", "2*"]).await,
        arr(vec![bulk("0"), bulks(&["2"])])
    );
    assert_eq!(
        c.cmd(&["SSCAN", "ints", "0", "COUNT", "0"]).await,
        err(SYNTAX)
    );
    assert_eq!(
        c.cmd(&["SSCAN", "ints", "0", "TYPE", "set"]).await,
        err(SYNTAX)
    );

    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let reply = c.cmd(&["SSCAN", "s", &cursor, "COUNT", "7"]).await;
        let Frame::Array(parts) = reply else {
            panic!("{reply:?}")
        };
        let Frame::Bulk(next) = &parts[0] else {
            panic!("cursor")
        };
        seen.extend(bulk_items(&parts[1]));
        // Churn: remove members ending in 1 or 2 (not stable), add new ones.
        c.cmd(&[
            "SREM",
            "s",
            &format!("m{}1", rounds % 100),
            &format!("m{}2", rounds % 100),
        ])
        .await;
        c.cmd(&["SADD", "s", &format!("new{rounds}")]).await;
        cursor = String::from_utf8(next.clone()).unwrap();
        rounds += 1;
        assert!(rounds < 10_000, "scan does not end");
        if cursor == "0" {
            break;
        }
    }
    for i in (0..1000).filter(|i| !matches!(i % 10, 1 | 2)) {
        assert!(seen.contains(format!("m{i}").as_bytes()), "m{i} missed");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_count_keyspace_hits_and_writes_do_not() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.cmd(&["SADD", "a", "1"]).await;
    c.cmd(&["SREM", "b", "1"]).await;
    c.cmd(&["SPOP", "b"]).await;
    assert_eq!(s.hits_misses(), (0, 0));
    c.cmd(&["SISMEMBER", "a", "1"]).await;
    c.cmd(&["SCARD", "nope"]).await;
    assert_eq!(s.hits_misses(), (1, 1));
    c.cmd(&["SINTER", "a", "nope"]).await;
    assert_eq!(s.hits_misses(), (2, 2));
    c.cmd(&["SUNIONSTORE", "d", "a", "nope"]).await;
    assert_eq!(s.hits_misses(), (3, 3));
    s.stop().await;
}

// ---------------------------------------------------------------------
// Differential test against a real Redis.

/// Keys of the differential stream (`str` holds a string).
const DKEYS: &[&str] = &["s0", "s1", "s2", "s3", "{x}a", "str"];

/// Members probing integer parsing and the encodings.
const EDGE_MEMBERS: &[&str] = &[
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
    "a",
    "b",
    "1.5",
];

struct Gen {
    rng: SplitMix64,
}

impl Gen {
    fn key(&mut self) -> Vec<u8> {
        self.rng.pick(DKEYS).as_bytes().to_vec()
    }

    fn member(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=4 => self.rng.range(-3, 25).to_string().into_bytes(),
            5 => self.rng.pick(EDGE_MEMBERS).as_bytes().to_vec(),
            6..=8 => format!("m{}", self.rng.below(20)).into_bytes(),
            _ => {
                let n = self.rng.below(6) as usize;
                self.rng.bytes(n)
            }
        }
    }

    fn members(&mut self, max: u64) -> Vec<Vec<u8>> {
        let n = 1 + self.rng.below(max);
        (0..n).map(|_| self.member()).collect()
    }

    fn command(&mut self) -> Vec<Vec<u8>> {
        let mut rest: Vec<Vec<u8>> = Vec::new();
        let name = match self.rng.below(100) {
            0..=24 => {
                rest.push(self.key());
                rest.extend(self.members(6));
                "SADD"
            }
            25..=32 => {
                rest.push(self.key());
                rest.extend(self.members(4));
                "SREM"
            }
            33..=36 => {
                rest.push(self.key());
                "SMEMBERS"
            }
            37..=40 => {
                rest.extend([self.key(), self.member()]);
                "SISMEMBER"
            }
            41..=43 => {
                rest.push(self.key());
                rest.extend(self.members(4));
                "SMISMEMBER"
            }
            44..=46 => {
                rest.push(self.key());
                "SCARD"
            }
            47..=50 => {
                rest.push(self.key());
                if self.rng.chance(70) {
                    let n = *self.rng.pick(&["0", "1", "3", "100", "-1", "x"]);
                    rest.push(n.as_bytes().to_vec());
                }
                "SPOP"
            }
            51..=54 => {
                rest.push(self.key());
                if self.rng.chance(80) {
                    let n = *self.rng.pick(&["0", "1", "3", "100", "-1", "-5", "x"]);
                    rest.push(n.as_bytes().to_vec());
                }
                "SRANDMEMBER"
            }
            55..=59 => {
                rest.extend([self.key(), self.key(), self.member()]);
                "SMOVE"
            }
            60..=74 => {
                let store = self.rng.chance(50);
                if store {
                    rest.push(self.key());
                }
                let n = 1 + self.rng.below(3);
                rest.extend((0..n).map(|_| self.key()));
                let op = *self.rng.pick(&["SINTER", "SUNION", "SDIFF"]);
                if store {
                    match op {
                        "SINTER" => "SINTERSTORE",
                        "SUNION" => "SUNIONSTORE",
                        _ => "SDIFFSTORE",
                    }
                } else {
                    op
                }
            }
            75..=78 => {
                let n = 1 + self.rng.below(3);
                let numkeys = if self.rng.chance(10) {
                    "0".to_string()
                } else {
                    n.to_string()
                };
                rest.push(numkeys.into_bytes());
                rest.extend((0..n).map(|_| self.key()));
                if self.rng.chance(40) {
                    let l = *self.rng.pick(&["0", "1", "2", "-1", "x"]);
                    rest.extend([b"LIMIT".to_vec(), l.as_bytes().to_vec()]);
                }
                "SINTERCARD"
            }
            79..=82 => {
                rest.extend([self.key(), b"0".to_vec()]);
                match self.rng.below(4) {
                    0 => rest.extend([b"MATCH".to_vec(), b"*1*".to_vec()]),
                    1 => rest.extend([b"COUNT".to_vec(), b"1000".to_vec()]),
                    2 => rest.extend([b"COUNT".to_vec(), b"0".to_vec()]),
                    _ => {}
                }
                "SSCAN"
            }
            83..=88 => {
                rest.extend([b"ENCODING".to_vec(), self.key()]);
                "OBJECT"
            }
            89..=90 => {
                let v = *self.rng.pick(&["0", "1", "3", "8", "512"]);
                rest.extend([b"set-max-intset-entries".to_vec(), v.as_bytes().to_vec()]);
                "CONFIG"
            }
            91..=93 => {
                rest.extend([b"str".to_vec(), self.member()]);
                "SET"
            }
            94..=96 => {
                rest.push(self.key());
                "DEL"
            }
            _ => {
                rest.push(self.key());
                "TYPE"
            }
        };
        let mut cmd = vec![name.as_bytes().to_vec()];
        if name == "CONFIG" {
            cmd.push(b"SET".to_vec());
        }
        cmd.extend(rest);
        if self.rng.chance(2) {
            cmd.pop();
        }
        cmd
    }
}

/// Whether `cmd` may leave the two servers with different sets (a pop of
/// random members).
fn random_write(cmd: &[Vec<u8>]) -> bool {
    cmd[0] == b"SPOP"
}

/// What can be compared of a reply: random replies by shape, unordered
/// ones sorted.
fn normalize(cmd: &[Vec<u8>], reply: Frame) -> Frame {
    if reply.is_error() {
        return reply;
    }
    match cmd[0].as_slice() {
        b"SPOP" | b"SRANDMEMBER" => match reply {
            Frame::Bulk(_) => Frame::Simple("<member>".into()),
            Frame::Array(v) => Frame::Simple(format!("<{} members>", v.len())),
            other => other,
        },
        b"SSCAN" => {
            // COUNT 1000 returns everything at once on both servers; other
            // calls return server-specific cursors and pages.
            let full = cmd.len() == 5 && cmd[3] == b"COUNT" && cmd[4] == b"1000";
            match reply {
                Frame::Array(parts) if full => {
                    Frame::Array(parts.into_iter().map(sorted).collect())
                }
                _ => Frame::Simple("<scan>".into()),
            }
        }
        b"SMEMBERS" | b"SINTER" | b"SUNION" | b"SDIFF" => sorted(reply),
        _ => reply,
    }
}

/// Makes both servers hold Redis' sets again (after a mismatch or a
/// random pop): reads every key from Redis, rewrites it on both.
async fn resync(ours: &mut RawConn, redis: &mut RawConn) {
    for key in DKEYS {
        let t = redis.cmd(&["TYPE", key]).await;
        let mut write: Vec<Vec<u8>> = Vec::new();
        if t == Frame::Simple("set".into()) {
            let members = bulk_items(&redis.cmd(&["SMEMBERS", key]).await);
            write.push(b"SADD".to_vec());
            write.push(key.as_bytes().to_vec());
            write.extend(members);
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
            conn.cmd(&["CONFIG", "SET", "set-max-intset-entries", "512"])
                .await;
        }
        for i in 0..1500 {
            let cmd = gen.command();
            let agreed = match exchange(&mut ours, &mut redis, &cmd, normalize).await {
                Ok(b) => {
                    if !b.is_error() {
                        *served.entry(cmd[0].clone()).or_default() += 1;
                    }
                    true
                }
                Err((a, b)) => {
                    mismatches.push(format!(
                        "seed {seed} #{i}: {}\n  ours:  {a:?}\n  redis: {b:?}",
                        show(&cmd)
                    ));
                    false
                }
            };
            if !agreed || random_write(&cmd) {
                resync(&mut ours, &mut redis).await;
            }
        }
    }
    s.stop().await;
    drop(redis_proc);
    for name in [
        "SADD",
        "SREM",
        "SMEMBERS",
        "SISMEMBER",
        "SMISMEMBER",
        "SCARD",
        "SPOP",
        "SRANDMEMBER",
        "SMOVE",
        "SINTER",
        "SUNION",
        "SDIFF",
        "SINTERSTORE",
        "SUNIONSTORE",
        "SDIFFSTORE",
        "SINTERCARD",
        "SSCAN",
        "OBJECT",
    ] {
        let n = served.get(name.as_bytes()).copied().unwrap_or(0);
        assert!(n >= 10, "the stream exercised {name} only {n} times");
    }
    assert_no_mismatches(&mismatches, 15);
}
