//! The list commands over real TCP: the non-blocking ones in raw RESP2 and
//! RESP3 and through the `redis` crate, the blocking ones (`BLPOP`,
//! `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`) with several clients, and
//! `CLIENT UNBLOCK`; then a differential run against a real Redis.
//!
//! Expected replies and error texts were taken from Redis 7.0.15 running
//! the same commands. Time moves only through the server's `ManualClock`;
//! the tests wait for a client to be blocked by polling the server's
//! client table in a bounded loop, never by sleeping a guessed time.
//! `BLPOP` inside `MULTI` is left for when `MULTI` exists.

mod common;

use std::time::Duration;

use common::{
    arr, bulk, bulks, err, exchange, int, nil, ok, script, Escaped, Frame, RawConn, RedisProcess,
    SplitMix64, TestServer,
};
use resp_server::config::ConfigStore;
use resp_server::server::Server;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Waits until exactly `n` clients of `s` are blocked (bounded: fails
/// after 5 s).
/// `INFO clients` must then report them as `blocked_clients`.
async fn wait_blocked(s: &TestServer, n: usize) {
    for _ in 0..2500 {
        if s.shared.clients.blocked() == n {
            let mut c = s.raw().await;
            let Frame::Bulk(info) = c.cmd(&["INFO", "clients"]).await else {
                panic!("INFO clients");
            };
            let want = format!("blocked_clients:{n}\r\n");
            assert!(
                info.windows(want.len()).any(|w| w == want.as_bytes()),
                "{}",
                String::from_utf8_lossy(&info)
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("expected {n} blocked clients");
}

/// Two keys that live in different shards of `s`.
fn keys_in_two_shards(s: &TestServer) -> (String, String) {
    let ks = &s.shared.keyspace;
    let shard = |k: &str| ks.shard_of(ks.hash(k.as_bytes()));
    let a = "src".to_string();
    let b = (0..1000)
        .map(|i| format!("dst{i}"))
        .find(|k| shard(k) != shard(&a))
        .expect("a key in another shard");
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pop_range_and_index() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("RPUSH l a b c", int(3)),
            ("LPUSH l z 1 -300", int(6)),
            ("LRANGE l 0 -1", bulks(&["-300", "1", "z", "a", "b", "c"])),
            ("LRANGE l -2 100", bulks(&["b", "c"])),
            ("LRANGE l 4 2", arr(vec![])),
            ("LRANGE l x 2", err(NOT_INT)),
            ("LRANGE nx x 2", err(NOT_INT)),
            ("LRANGE nx 0 -1", arr(vec![])),
            ("LLEN l", int(6)),
            ("LLEN nx", int(0)),
            ("LINDEX l 0", bulk("-300")),
            ("LINDEX l -1", bulk("c")),
            ("LINDEX l 6", nil()),
            ("LINDEX l x", err(NOT_INT)),
            // The key is looked up first: a missing key is nil whatever the index.
            ("LINDEX nx x", nil()),
            ("LPUSHX nx a", int(0)),
            ("RPUSHX l d", int(7)),
            ("LPOP l", bulk("-300")),
            ("RPOP l", bulk("d")),
            ("LPOP l 0", arr(vec![])),
            ("LPOP l 2", bulks(&["1", "z"])),
            ("RPOP l 10", bulks(&["c", "b", "a"])),
            ("EXISTS l", int(0)),
            ("LPOP nx", nil()),
            ("LPOP nx 0", Frame::NullArray),
            ("LPOP nx 2", Frame::NullArray),
            (
                "LPOP l -1",
                err("ERR value is out of range, must be positive"),
            ),
            (
                "LPOP l x",
                err("ERR value is out of range, must be positive"),
            ),
            (
                "LPOP l 1 2",
                err("ERR wrong number of arguments for 'lpop' command"),
            ),
            ("SET s v", ok()),
            ("LPUSH s a", err(WRONGTYPE)),
            ("LPUSHX s a", err(WRONGTYPE)),
            ("LPOP s", err(WRONGTYPE)),
            ("LLEN s", err(WRONGTYPE)),
            ("LRANGE s 0 1", err(WRONGTYPE)),
            (
                "RPUSH n 01 -0 +1 9223372036854775807 -9223372036854775808",
                int(5),
            ),
            (
                "LRANGE n 0 -1",
                bulks(&[
                    "01",
                    "-0",
                    "+1",
                    "9223372036854775807",
                    "-9223372036854775808",
                ]),
            ),
            ("OBJECT ENCODING n", bulk("quicklist")),
            ("TYPE n", Frame::simple("list")),
        ],
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_insert_remove_trim_and_pos() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("LSET nx 0 v", err("ERR no such key")),
            ("LSET nx x v", err("ERR no such key")),
            ("RPUSH l a b c a b a", int(6)),
            ("LSET l x v", err(NOT_INT)),
            ("LSET l 6 v", err("ERR index out of range")),
            ("LSET l -7 v", err("ERR index out of range")),
            ("LSET l -1 z", ok()),
            ("LINSERT l middle a x", err(SYNTAX)),
            ("LINSERT nx before a x", int(0)),
            ("LINSERT l before nope x", int(-1)),
            ("LINSERT l AFTER b B", int(7)),
            ("LINSERT l before a A", int(8)),
            ("LRANGE l 0 -1", bulks(&["A", "a", "b", "B", "c", "a", "b", "z"])),
            ("LREM l x a", err(NOT_INT)),
            ("LREM nx 0 a", int(0)),
            ("LREM l -1 b", int(1)),
            ("LREM l 0 a", int(2)),
            ("LRANGE l 0 -1", bulks(&["A", "b", "B", "c", "z"])),
            ("LTRIM l x 1", err(NOT_INT)),
            ("LTRIM nx 0 1", ok()),
            ("LTRIM l 1 -2", ok()),
            ("LRANGE l 0 -1", bulks(&["b", "B", "c"])),
            ("LTRIM l 5 10", ok()),
            ("EXISTS l", int(0)),
            ("RPUSH p a b c 1 2 3 c 2 1", int(9)),
            ("LPOS p c", int(2)),
            ("LPOS p c RANK 2", int(6)),
            ("LPOS p c RANK -1", int(6)),
            ("LPOS p 1 COUNT 0", arr(vec![int(3), int(8)])),
            ("LPOS p 2 RANK -1 COUNT 2", arr(vec![int(7), int(4)])),
            ("LPOS p 3 MAXLEN 3", Frame::NullBulk),
            ("LPOS p 3 MAXLEN 3 COUNT 1", arr(vec![])),
            ("LPOS p 1 RANK -9223372036854775808 COUNT 1", arr(vec![int(8), int(3)])),
            ("LPOS nx a", nil()),
            ("LPOS nx a COUNT 0", arr(vec![])),
            ("LPOS p a RANK 0", err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")),
            ("LPOS p a COUNT -1", err("ERR COUNT can't be negative")),
            ("LPOS p a COUNT x", err("ERR COUNT can't be negative")),
            ("LPOS p a MAXLEN -1", err("ERR MAXLEN can't be negative")),
            ("LPOS p a RANK x", err(NOT_INT)),
            ("LPOS p a RANK", err(SYNTAX)),
            ("LPOS p a foo 1", err(SYNTAX)),
        ],
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lmove_rpoplpush_and_lmpop() {
    let s = TestServer::start().await;
    let (src, dst) = keys_in_two_shards(&s);
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("RPUSH r a b c", int(3)),
            ("LMOVE r r LEFT RIGHT", bulk("a")),
            ("LRANGE r 0 -1", bulks(&["b", "c", "a"])),
            ("RPOPLPUSH r r", bulk("a")),
            ("LRANGE r 0 -1", bulks(&["a", "b", "c"])),
            ("LMOVE r x UP LEFT", err(SYNTAX)),
            ("LMOVE nx r LEFT LEFT", nil()),
            ("SET s v", ok()),
            ("LMOVE s r LEFT LEFT", err(WRONGTYPE)),
            ("LMOVE r s LEFT LEFT", err(WRONGTYPE)),
            // A missing source is nil before the destination's type is seen.
            ("LMOVE nx s LEFT LEFT", nil()),
            ("RPUSH one x", int(1)),
            ("LMOVE one one RIGHT LEFT", bulk("x")),
            ("LRANGE one 0 -1", bulks(&["x"])),
            (
                "LMPOP 0 r LEFT",
                err("ERR numkeys should be greater than 0"),
            ),
            (
                "LMPOP x r LEFT",
                err("ERR numkeys should be greater than 0"),
            ),
            ("LMPOP 9223372036854775807 r LEFT", err(SYNTAX)),
            ("LMPOP 3 r LEFT", err(SYNTAX)),
            ("LMPOP 1 r MIDDLE", err(SYNTAX)),
            (
                "LMPOP 1 r LEFT COUNT 0",
                err("ERR count should be greater than 0"),
            ),
            ("LMPOP 1 r LEFT COUNT 1 COUNT 1", err(SYNTAX)),
            ("LMPOP 2 nx s LEFT", err(WRONGTYPE)),
            ("LMPOP 1 nx LEFT", Frame::NullArray),
            (
                "LMPOP 2 nx r RIGHT COUNT 2",
                arr(vec![bulk("r"), bulks(&["c", "b"])]),
            ),
            (
                "LMPOP 1 r LEFT COUNT 9223372036854775807",
                arr(vec![bulk("r"), bulks(&["a"])]),
            ),
            ("EXISTS r", int(0)),
        ],
    )
    .await;
    // Across shards: both are locked at once and the source emptied away.
    assert_eq!(c.cmd(&["RPUSH", &src, "1", "2"]).await, int(2));
    assert_eq!(
        c.cmd(&["LMOVE", &src, &dst, "RIGHT", "LEFT"]).await,
        bulk("2")
    );
    assert_eq!(c.cmd(&["RPOPLPUSH", &src, &dst]).await, bulk("1"));
    assert_eq!(c.cmd(&["EXISTS", &src]).await, int(0));
    assert_eq!(
        c.cmd(&["LRANGE", &dst, "0", "-1"]).await,
        bulks(&["1", "2"])
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_nulls_and_the_redis_crate() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let Frame::Map(_) = c.cmd(&["HELLO", "3"]).await else {
        panic!("HELLO 3 replies a map");
    };
    for cmd in [
        &["LPOP", "nx"][..],
        &["LPOP", "nx", "2"],
        &["RPOPLPUSH", "nx", "d"],
        &["LINDEX", "nx", "0"],
        &["LPOS", "nx", "a"],
        &["LMPOP", "1", "nx", "LEFT"],
        &["BLPOP", "nx", "0.01"],
    ] {
        if cmd[0] == "BLPOP" {
            c.send_cmd(cmd).await;
            wait_blocked(&s, 1).await;
            s.clock.advance(10);
            assert_eq!(c.read_reply().await, Frame::Null, "{cmd:?}");
        } else {
            assert_eq!(c.cmd(cmd).await, Frame::Null, "{cmd:?}");
        }
    }

    let mut con = s.redis().await;
    let n: i64 = redis::cmd("RPUSH")
        .arg("k")
        .arg(&["a", "b", "c", "42"])
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(n, 4);
    let all: Vec<String> = redis::cmd("LRANGE")
        .arg("k")
        .arg(0)
        .arg(-1)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(all, ["a", "b", "c", "42"]);
    let popped: Option<(String, String)> = redis::cmd("BRPOP")
        .arg("nx")
        .arg("k")
        .arg(0)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(popped, Some(("k".into(), "42".into())));
    let pos: Option<i64> = redis::cmd("LPOS")
        .arg("k")
        .arg("c")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(pos, Some(2));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_commands_count_hits_and_misses() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.cmd(&["RPUSH", "l", "a"]).await;
    c.cmd(&["LPOP", "nx"]).await; // a write lookup: not counted
    let before = s.hits_misses();
    for cmd in [
        &["LLEN", "l"][..],
        &["LRANGE", "l", "0", "-1"],
        &["LINDEX", "l", "0"],
        &["LPOS", "l", "a"],
        &["LLEN", "nx"],
        &["LINDEX", "nx", "0"],
    ] {
        c.cmd(cmd).await;
    }
    let after = s.hits_misses();
    assert_eq!((after.0 - before.0, after.1 - before.1), (4, 2));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blpop_on_two_keys_is_woken_by_a_push_to_either() {
    let s = TestServer::start().await;
    let mut waiter = s.raw().await;
    let mut pusher = s.raw().await;
    waiter.send_cmd(&["BLPOP", "a", "b", "0"]).await;
    wait_blocked(&s, 1).await;
    assert_eq!(pusher.cmd(&["RPUSH", "b", "x", "y"]).await, int(2));
    waiter.expect(bulks(&["b", "x"])).await;
    assert_eq!(pusher.cmd(&["LRANGE", "b", "0", "-1"]).await, bulks(&["y"]));
    // Data present: served at once, from the first key that has some.
    pusher.cmd(&["RPUSH", "a", "1"]).await;
    assert_eq!(
        waiter.cmd(&["BRPOP", "nx", "b", "a", "0"]).await,
        bulks(&["b", "y"])
    );
    // A key of another type is an error, not a wait.
    pusher.cmd(&["SET", "s", "v"]).await;
    assert_eq!(waiter.cmd(&["BLPOP", "nx", "s", "0"]).await, err(WRONGTYPE));
    assert_eq!(
        waiter.cmd(&["BLPOP", "nx", "-1"]).await,
        err("ERR timeout is negative")
    );
    assert_eq!(
        waiter.cmd(&["BLPOP", "nx", "x"]).await,
        err("ERR timeout is not a float or out of range")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_are_served_in_the_order_they_blocked() {
    let s = TestServer::start().await;
    let mut waiters = Vec::new();
    for i in 0..3 {
        let mut w = s.raw().await;
        w.send_cmd(&["BLPOP", "q", "0"]).await;
        wait_blocked(&s, i + 1).await;
        waiters.push(w);
    }
    let mut pusher = s.raw().await;
    assert_eq!(pusher.cmd(&["RPUSH", "q", "e1", "e2", "e3"]).await, int(3));
    for (w, e) in waiters.iter_mut().zip(["e1", "e2", "e3"]) {
        w.expect(bulks(&["q", e])).await;
    }
    assert_eq!(pusher.cmd(&["EXISTS", "q"]).await, int(0));
    // One element for two waiters: the first gets it, the second waits on.
    let mut w1 = s.raw().await;
    let mut w2 = s.raw().await;
    w1.send_cmd(&["BRPOP", "q", "0"]).await;
    wait_blocked(&s, 1).await;
    w2.send_cmd(&["BLMPOP", "0", "1", "q", "LEFT", "COUNT", "5"])
        .await;
    wait_blocked(&s, 2).await;
    pusher.cmd(&["LPUSH", "q", "only"]).await;
    w1.expect(bulks(&["q", "only"])).await;
    wait_blocked(&s, 1).await;
    pusher.cmd(&["RPUSH", "q", "m1", "m2"]).await;
    w2.expect(arr(vec![bulk("q"), bulks(&["m1", "m2"])])).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blmove_across_shards_and_brpoplpush() {
    let s = TestServer::start().await;
    let (src, dst) = keys_in_two_shards(&s);
    let mut waiter = s.raw().await;
    let mut pusher = s.raw().await;
    waiter
        .send_cmd(&["BLMOVE", &src, &dst, "LEFT", "RIGHT", "0"])
        .await;
    wait_blocked(&s, 1).await;
    pusher.cmd(&["RPUSH", &dst, "old"]).await;
    pusher.cmd(&["RPUSH", &src, "v"]).await;
    waiter.expect(bulk("v")).await;
    assert_eq!(
        pusher.cmd(&["LRANGE", &dst, "0", "-1"]).await,
        bulks(&["old", "v"])
    );
    assert_eq!(pusher.cmd(&["EXISTS", &src]).await, int(0));

    waiter.send_cmd(&["BRPOPLPUSH", &src, &dst, "0"]).await;
    wait_blocked(&s, 1).await;
    pusher.cmd(&["LPUSH", &src, "w"]).await;
    waiter.expect(bulk("w")).await;
    assert_eq!(pusher.cmd(&["LINDEX", &dst, "0"]).await, bulk("w"));
    assert_eq!(
        waiter.cmd(&["BLMOVE", "a", "b", "LEFT", "UP", "0"]).await,
        err(SYNTAX)
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_replies_nil_once_the_clock_passes_the_deadline() {
    let s = TestServer::start().await;
    let mut w = s.raw().await;
    w.set_timeout(Duration::from_secs(2));
    w.send_cmd(&["BLPOP", "q", "1.5"]).await;
    wait_blocked(&s, 1).await;
    s.clock.advance(1_499);
    let mut p = s.raw().await;
    w.send_cmd(&["PING"]).await; // waits behind the blocked command
    s.clock.advance(1);
    w.expect(Frame::NullArray).await;
    w.expect(Frame::simple("PONG")).await;
    wait_blocked(&s, 0).await;

    // As Redis 7.0: a nil array, though BLMOVE serves a bulk string.
    w.send_cmd(&["BLMOVE", "q", "d", "LEFT", "LEFT", "0.2"])
        .await;
    wait_blocked(&s, 1).await;
    s.clock.advance(200);
    w.expect(Frame::NullArray).await;
    // Nothing left registered: a later push stays in the list.
    assert_eq!(p.cmd(&["RPUSH", "q", "x"]).await, int(1));
    assert_eq!(p.cmd(&["LLEN", "q"]).await, int(1));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_unblock_with_timeout_or_error() {
    let s = TestServer::start().await;
    let mut w = s.raw().await;
    let mut admin = s.raw().await;
    let Frame::Int(id) = w.cmd(&["CLIENT", "ID"]).await else {
        panic!("CLIENT ID replies an integer");
    };
    let id = id.to_string();
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]).await, int(0));
    w.send_cmd(&["BLPOP", "q", "0"]).await;
    wait_blocked(&s, 1).await;
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]).await, int(1));
    w.expect(Frame::NullArray).await;
    w.send_cmd(&["BRPOPLPUSH", "q", "d", "0"]).await;
    wait_blocked(&s, 1).await;
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]).await,
        int(1)
    );
    w.expect(Frame::NullArray).await;
    w.send_cmd(&["BLMPOP", "0", "1", "q", "LEFT"]).await;
    wait_blocked(&s, 1).await;
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &id, "error"]).await,
        int(1)
    );
    w.expect(err("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
        .await;
    wait_blocked(&s, 0).await;
    script(
        &mut admin,
        &[
            (
                "CLIENT UNBLOCK 1 foo",
                err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
            ),
            ("CLIENT UNBLOCK x", err(NOT_INT)),
            ("CLIENT UNBLOCK -1", int(0)),
            (
                "CLIENT UNBLOCK 1 timeout x",
                err("ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP."),
            ),
            (
                "CLIENT unblock",
                err("ERR wrong number of arguments for 'client|unblock' command"),
            ),
        ],
    )
    .await;
    // Not blocked any more: the element stays in the list.
    assert_eq!(admin.cmd(&["RPUSH", "q", "x"]).await, int(1));
    assert_eq!(admin.cmd(&["LLEN", "q"]).await, int(1));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_that_disconnects_loses_nothing() {
    let s = TestServer::start().await;
    let mut gone = s.raw().await;
    let mut stays = s.raw().await;
    gone.send_cmd(&["BLPOP", "q", "0"]).await;
    wait_blocked(&s, 1).await;
    stays.send_cmd(&["BLPOP", "q", "0"]).await;
    wait_blocked(&s, 2).await;
    drop(gone);
    wait_blocked(&s, 1).await;
    let mut p = s.raw().await;
    p.cmd(&["RPUSH", "q", "x", "y"]).await;
    stays.expect(bulks(&["q", "x"])).await;
    assert_eq!(p.cmd(&["LRANGE", "q", "0", "-1"]).await, bulks(&["y"]));

    // The last waiter leaves: a push stays in the list.
    stays.send_cmd(&["BLPOP", "r", "0"]).await;
    wait_blocked(&s, 1).await;
    drop(stays);
    wait_blocked(&s, 0).await;
    assert_eq!(p.cmd(&["RPUSH", "r", "z"]).await, int(1));
    assert_eq!(p.cmd(&["LLEN", "r"]).await, int(1));

    // Many waiters, half of them gone before the push: every element ends
    // up with a live waiter or in the list.
    let mut live = Vec::new();
    for i in 0..6 {
        let mut w = s.raw().await;
        w.send_cmd(&["BLPOP", "m", "0"]).await;
        wait_blocked(&s, i + 1).await;
        live.push(w);
    }
    let mut kept = Vec::new();
    for (i, w) in live.into_iter().enumerate() {
        if i % 2 == 0 {
            kept.push(w);
        }
    }
    wait_blocked(&s, 3).await;
    p.cmd(&["RPUSH", "m", "1", "2", "3", "4"]).await;
    for (w, e) in kept.iter_mut().zip(["1", "2", "3"]) {
        w.expect(bulks(&["m", e])).await;
    }
    assert_eq!(p.cmd(&["LRANGE", "m", "0", "-1"]).await, bulks(&["4"]));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_nodes_keep_order_through_middle_edits() {
    let s = TestServer::start_with(|cfg| {
        cfg.set_startup("list-max-listpack-size", "2")
            .expect("list-max-listpack-size is settable");
    })
    .await;
    let mut c = s.raw().await;
    let mut model: Vec<String> = Vec::new();
    let mut rng = SplitMix64::new(11);
    for i in 0..400 {
        let v = format!("v{}", rng.below(20));
        match rng.below(5) {
            0 => {
                c.cmd(&["RPUSH", "l", &v]).await;
                model.push(v);
            }
            1 => {
                c.cmd(&["LPUSH", "l", &v]).await;
                model.insert(0, v);
            }
            2 if !model.is_empty() => {
                let pivot = model[rng.below(model.len() as u64) as usize].clone();
                let at = model.iter().position(|m| *m == pivot).unwrap_or(0);
                c.cmd(&["LINSERT", "l", "AFTER", &pivot, &v]).await;
                model.insert(at + 1, v);
            }
            3 if !model.is_empty() => {
                let i = rng.below(model.len() as u64) as usize;
                c.cmd(&["LSET", "l", &i.to_string(), &format!("s{i}")])
                    .await;
                model[i] = format!("s{i}");
            }
            _ => {
                let n = c.cmd(&["LREM", "l", "1", &v]).await;
                if let Some(at) = model.iter().position(|m| *m == v) {
                    model.remove(at);
                    assert_eq!(n, int(1));
                }
            }
        }
        if i % 50 == 0 {
            let want = arr(model.iter().map(bulk).collect());
            assert_eq!(c.cmd(&["LRANGE", "l", "0", "-1"]).await, want);
        }
    }
    s.stop().await;
}

// ---------------------------------------------------------------------
// Differential test against a real Redis.
// ---------------------------------------------------------------------

/// Keys of the differential stream: a few, so commands collide; two share a
/// hash tag, and `str` is given a string value now and then.
const DIFF_KEYS: &[&str] = &["l0", "l1", "l2", "{t}a", "{t}b", "str", "nx"];

/// Random list commands, valid and not.
struct ListGen {
    rng: SplitMix64,
}

impl ListGen {
    fn key(&mut self) -> String {
        self.rng.pick(DIFF_KEYS).to_string()
    }

    fn value(&mut self) -> String {
        match self.rng.below(100) {
            0..=39 => self.rng.pick(&["a", "b", "c", "1", "2", "-1"]).to_string(),
            40..=54 => self.rng.range(-200, 200).to_string(),
            55..=64 => self
                .rng
                .pick(&[
                    "01",
                    "-0",
                    "+1",
                    "",
                    "9223372036854775807",
                    "-9223372036854775808",
                    "9223372036854775808",
                    "1.5",
                ])
                .to_string(),
            65..=94 => {
                let n = self.rng.range(1, 70) as usize;
                (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect()
            }
            _ => "x".repeat(self.rng.range(500, 5000) as usize),
        }
    }

    fn index(&mut self) -> String {
        if self.rng.chance(5) {
            self.rng
                .pick(&[
                    "x",
                    "1.5",
                    "9223372036854775807",
                    "-9223372036854775808",
                    "+1",
                ])
                .to_string()
        } else {
            self.rng.range(-12, 12).to_string()
        }
    }

    fn end(&mut self) -> String {
        self.rng
            .pick(&["LEFT", "RIGHT", "left", "Right", "UP"])
            .to_string()
    }

    fn timeout(&mut self) -> String {
        self.rng
            .pick(&["0.01", "0.01", "0.01", "-1", "x", "0.001"])
            .to_string()
    }

    fn command(&mut self) -> Vec<String> {
        let mut c: Vec<String> = Vec::new();
        let pick = self.rng.below(100);
        let name = match pick {
            0..=11 => "RPUSH",
            12..=21 => "LPUSH",
            22..=24 => "LPUSHX",
            25..=27 => "RPUSHX",
            28..=33 => "LPOP",
            34..=39 => "RPOP",
            40..=42 => "LLEN",
            43..=50 => "LRANGE",
            51..=54 => "LINDEX",
            55..=58 => "LSET",
            59..=63 => "LINSERT",
            64..=68 => "LREM",
            69..=71 => "LTRIM",
            72..=78 => "LPOS",
            79..=82 => "LMOVE",
            83..=84 => "RPOPLPUSH",
            85..=88 => "LMPOP",
            89 => "SET",
            90 => "DEL",
            91 => "BLPOP",
            92 => "BRPOP",
            93 => "BLMOVE",
            94 => "BRPOPLPUSH",
            95 => "BLMPOP",
            _ => "TYPE",
        };
        c.push(name.to_string());
        match name {
            "RPUSH" | "LPUSH" | "LPUSHX" | "RPUSHX" => {
                c.push(self.key());
                for _ in 0..self.rng.range(1, 6) {
                    c.push(self.value());
                }
            }
            "LPOP" | "RPOP" => {
                c.push(self.key());
                if self.rng.chance(50) {
                    c.push(
                        self.rng
                            .pick(&["0", "1", "2", "5", "-1", "x", "100"])
                            .to_string(),
                    );
                }
            }
            "LLEN" | "TYPE" | "DEL" => c.push(self.key()),
            "LRANGE" | "LTRIM" => {
                c.push(self.key());
                c.push(self.index());
                c.push(self.index());
            }
            "LINDEX" => {
                c.push(self.key());
                c.push(self.index());
            }
            "LSET" => {
                c.push(self.key());
                c.push(self.index());
                c.push(self.value());
            }
            "LINSERT" => {
                c.push(self.key());
                c.push(self.rng.pick(&["BEFORE", "after", "middle"]).to_string());
                c.push(self.value());
                c.push(self.value());
            }
            "LREM" => {
                c.push(self.key());
                c.push(self.index());
                c.push(self.value());
            }
            "LPOS" => {
                c.push(self.key());
                c.push(self.value());
                for _ in 0..self.rng.below(4) {
                    let opt = self.rng.pick(&["RANK", "COUNT", "MAXLEN", "rank", "FOO"]);
                    c.push(opt.to_string());
                    if self.rng.chance(95) {
                        c.push(
                            self.rng
                                .pick(&[
                                    "0",
                                    "1",
                                    "2",
                                    "-1",
                                    "-2",
                                    "3",
                                    "x",
                                    "-9223372036854775808",
                                ])
                                .to_string(),
                        );
                    }
                }
            }
            "LMOVE" => {
                c.push(self.key());
                c.push(self.key());
                c.push(self.end());
                c.push(self.end());
            }
            "RPOPLPUSH" => {
                c.push(self.key());
                c.push(self.key());
            }
            "BLPOP" | "BRPOP" => {
                for _ in 0..self.rng.range(1, 3) {
                    c.push(self.key());
                }
                c.push(self.timeout());
            }
            "BLMOVE" => {
                c.push(self.key());
                c.push(self.key());
                c.push(self.end());
                c.push(self.end());
                c.push(self.timeout());
            }
            "BRPOPLPUSH" => {
                c.push(self.key());
                c.push(self.key());
                c.push(self.timeout());
            }
            "LMPOP" | "BLMPOP" => {
                if name == "BLMPOP" {
                    c.push(self.timeout());
                }
                let n = self.rng.range(1, 3);
                let shown = if self.rng.chance(10) {
                    self.rng.pick(&["0", "x", "5", "-1"]).to_string()
                } else {
                    n.to_string()
                };
                c.push(shown);
                for _ in 0..n {
                    c.push(self.key());
                }
                c.push(self.end());
                if self.rng.chance(40) {
                    c.push("COUNT".into());
                    c.push(self.rng.pick(&["1", "2", "10", "0", "x"]).to_string());
                }
            }
            "SET" => {
                c.push("str".into());
                c.push(self.value());
            }
            _ => unreachable!("{name}"),
        }
        c
    }
}

/// Runs `commands` random commands of `seed` on both servers, with
/// `list-max-listpack-size` `fill`; returns the differences.
async fn diff_seed(redis: &RedisProcess, seed: u64, fill: &str, commands: usize) -> Vec<String> {
    let cfg = ConfigStore::default();
    cfg.set_startup("port", "0").expect("port 0");
    cfg.set_startup("bind", "127.0.0.1").expect("bind");
    let server = Server::bind(cfg).await.expect("bind our server");
    let (shared, addr) = (server.shared(), server.local_addr());
    let task = tokio::spawn(server.run());
    let mut ours = RawConn::connect(addr).await;
    let mut theirs = RawConn::connect(redis.addr()).await;
    let mut found = Vec::new();
    for c in [&mut ours, &mut theirs] {
        assert_eq!(c.cmd(&["FLUSHALL"]).await, ok());
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "list-max-listpack-size", fill])
                .await,
            ok()
        );
    }
    let mut gen = ListGen {
        rng: SplitMix64::new(seed),
    };
    for i in 0..commands {
        let cmd = gen.command();
        if let Err((a, b)) = exchange(&mut ours, &mut theirs, &cmd, |_, f| f).await {
            found.push(format!(
                "seed {seed} fill {fill} #{i}: {}\n    ours:  {a:?}\n    redis: {b:?}",
                Escaped(cmd.join(" ").as_bytes())
            ));
            // Start again from empty keyspaces: one bug, one report.
            for c in [&mut ours, &mut theirs] {
                c.cmd(&["FLUSHALL"]).await;
            }
        }
    }
    for key in DIFF_KEYS {
        for cmd in [&["TYPE", key][..], &["LRANGE", key, "0", "-1"]] {
            let (a, b) = (ours.cmd(cmd).await, theirs.cmd(cmd).await);
            if a != b {
                found.push(format!(
                    "seed {seed} final {cmd:?}:\n    ours:  {a:?}\n    redis: {b:?}"
                ));
            }
        }
    }
    shared.shutdown();
    let _ = tokio::time::timeout(common::REPLY_TIMEOUT, task).await;
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_replies_as_real_redis() {
    let Some(redis) = RedisProcess::start().await else {
        return;
    };
    let commands = std::env::var("DIFF_COMMANDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let mut all = Vec::new();
    for (seed, fill) in [(1, "-2"), (2, "3"), (3, "1"), (4, "-1")] {
        all.extend(diff_seed(&redis, seed, fill, commands).await);
    }
    for m in all.iter().take(20) {
        eprintln!("MISMATCH {m}");
    }
    assert!(
        all.is_empty(),
        "{} replies differ from real Redis",
        all.len()
    );
}
