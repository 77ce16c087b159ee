//! The generic key commands over real TCP: `DEL`, `UNLINK`, `EXISTS`,
//! `TOUCH`, `TYPE`, `RENAME(NX)`, the `EXPIRE` family, `TTL` and friends,
//! `PERSIST`, `KEYS`, `SCAN`, `RANDOMKEY`, `OBJECT`.
//!
//! Expected replies and error texts were taken from Redis 7.0.15 running the
//! same commands. Time moves only through the server's `ManualClock`.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use common::{bulk, err, int, nil, ok, Frame, RawConn, TestServer, CLOCK_START_MS as T0};

/// A server with `shards` keyspace shards.
async fn start(shards: &str) -> TestServer {
    TestServer::start_with(|cfg| cfg.set_startup("shards", shards).unwrap()).await
}

/// Sends `SET key value`.
async fn set(c: &mut RawConn, key: &str, value: &str) {
    assert_eq!(c.cmd(&["SET", key, value]).await, ok());
}

/// Runs a command that replies with an array of bulk strings; returns them
/// sorted.
async fn sorted(c: &mut RawConn, args: &[&str]) -> Vec<String> {
    let mut v = strings(c.cmd(args).await);
    v.sort();
    v
}

/// One `SCAN` call: (next cursor, keys).
async fn scan(c: &mut RawConn, args: &[&str]) -> (String, Vec<String>) {
    match c.cmd(args).await {
        Frame::Array(mut v) if v.len() == 2 => {
            let keys = strings(v.pop().unwrap());
            let Frame::Bulk(cursor) = v.pop().unwrap() else {
                panic!("cursor is not a bulk string");
            };
            (String::from_utf8(cursor).unwrap(), keys)
        }
        other => panic!("bad SCAN reply {other:?}"),
    }
}

/// A whole `SCAN` iteration with extra options; every key it returned, with
/// how many times.
async fn scan_all(c: &mut RawConn, opts: &[&str]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    let mut cursor = "0".to_string();
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(opts);
        let (next, keys) = scan(c, &args).await;
        for k in keys {
            *seen.entry(k).or_insert(0) += 1;
        }
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
}

fn strings(r: Frame) -> Vec<String> {
    match r {
        Frame::Array(v) => v
            .into_iter()
            .map(|x| match x {
                Frame::Bulk(b) => String::from_utf8(b).unwrap(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn del_unlink_exists_touch_count_like_redis() {
    let s = start("64").await;
    let mut c = s.raw().await;
    for i in 0..50 {
        set(&mut c, &format!("k{i}"), "v").await;
    }
    let many: Vec<String> = (0..60).map(|i| format!("k{i}")).collect();
    let mut args: Vec<&str> = vec!["EXISTS"];
    args.extend(many.iter().map(String::as_str));
    assert_eq!(c.cmd(&args).await, int(50));
    args[0] = "TOUCH";
    assert_eq!(c.cmd(&args).await, int(50));

    // Duplicates count for EXISTS and TOUCH, not for DEL and UNLINK.
    assert_eq!(c.cmd(&["EXISTS", "k1", "k1", "nokey", "k1"]).await, int(3));
    assert_eq!(c.cmd(&["TOUCH", "k1", "k1", "nokey"]).await, int(2));
    assert_eq!(c.cmd(&["DEL", "k1", "k1", "k2", "nokey"]).await, int(2));
    assert_eq!(c.cmd(&["UNLINK", "k3", "k3", "k4"]).await, int(2));
    assert_eq!(c.cmd(&["EXISTS", "k1", "k2", "k3", "k4"]).await, int(0));

    args[0] = "DEL";
    assert_eq!(c.cmd(&args).await, int(46));
    assert_eq!(c.cmd(&["RANDOMKEY"]).await, nil());

    for name in ["DEL", "UNLINK", "EXISTS", "TOUCH"] {
        assert_eq!(
            c.cmd(&[name]).await,
            err(&format!(
                "ERR wrong number of arguments for '{}' command",
                name.to_lowercase()
            ))
        );
    }

    // EXISTS and TOUCH count a hit or a miss per key; DEL counts neither.
    set(&mut c, "h", "1").await;
    let before = s.hits_misses();
    assert_eq!(c.cmd(&["EXISTS", "h", "x", "h"]).await, int(2));
    assert_eq!(c.cmd(&["TOUCH", "h", "x"]).await, int(1));
    assert_eq!(c.cmd(&["DEL", "h", "x"]).await, int(1));
    let after = s.hits_misses();
    assert_eq!((after.0 - before.0, after.1 - before.1), (3, 2));
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_and_object() {
    let s = start("64").await;
    let mut c = s.raw().await;
    set(&mut c, "i", "1").await;
    set(&mut c, "s", "hello").await;
    set(&mut c, "n", "123456").await;
    set(&mut c, "raw", &"x".repeat(45)).await;
    assert_eq!(c.cmd(&["TYPE", "i"]).await, Frame::simple("string"));
    assert_eq!(c.cmd(&["TYPE", "nokey"]).await, Frame::simple("none"));

    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "i"]).await, bulk("int"));
    assert_eq!(c.cmd(&["object", "encoding", "s"]).await, bulk("embstr"));
    assert_eq!(c.cmd(&["OBJECT", "Encoding", "raw"]).await, bulk("raw"));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "nokey"]).await, nil());
    // Integers 0..10000 are shared objects in Redis: refcount INT_MAX.
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "i"]).await, int(2147483647));
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "n"]).await, int(1));
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "s"]).await, int(1));
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "nokey"]).await, nil());
    assert_eq!(c.cmd(&["OBJECT", "IDLETIME", "s"]).await, int(0));
    assert_eq!(c.cmd(&["OBJECT", "IDLETIME", "nokey"]).await, nil());
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "nokey"]).await, nil());
    let lfu_off = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "s"]).await, err(lfu_off));
    s.shared
        .config
        .set_runtime("maxmemory-policy", "allkeys-lfu")
        .unwrap();
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "s"]).await, int(0));
    let lfu_on = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    assert_eq!(c.cmd(&["OBJECT", "IDLETIME", "s"]).await, err(lfu_on));

    match c.cmd(&["OBJECT", "HELP"]).await {
        Frame::Array(lines) => {
            assert_eq!(lines.len(), 15);
            assert_eq!(
                lines[0],
                Frame::simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
            );
            assert_eq!(lines[14], Frame::simple("    Prints this help."));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.cmd(&["oBjEct", "FoO", "bar"]).await,
        err("ERR unknown subcommand 'FoO'. Try OBJECT HELP.")
    );
    let long = "y".repeat(200);
    assert_eq!(
        c.cmd(&["OBJECT", &long]).await,
        err(&format!(
            "ERR unknown subcommand '{}'. Try OBJECT HELP.",
            "y".repeat(128)
        ))
    );
    assert_eq!(
        c.cmd(&["OBJECT", "ENCODING"]).await,
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        c.cmd(&["OBJECT", "REFCOUNT", "a", "b"]).await,
        err("ERR wrong number of arguments for 'object|refcount' command")
    );
    assert_eq!(
        c.cmd(&["OBJECT", "HELP", "x"]).await,
        err("ERR wrong number of arguments for 'object|help' command")
    );
    assert_eq!(
        c.cmd(&["OBJECT"]).await,
        err("ERR wrong number of arguments for 'object' command")
    );

    // TYPE and OBJECT count hits and misses.
    let before = s.hits_misses();
    c.cmd(&["TYPE", "s"]).await;
    c.cmd(&["TYPE", "nokey"]).await;
    c.cmd(&["OBJECT", "ENCODING", "s"]).await;
    c.cmd(&["OBJECT", "ENCODING", "nokey"]).await;
    let after = s.hits_misses();
    assert_eq!((after.0 - before.0, after.1 - before.1), (2, 2));
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_moves_value_and_ttl() {
    let s = start("64").await;
    let mut c = s.raw().await;
    assert_eq!(c.cmd(&["RENAME", "x", "y"]).await, err("ERR no such key"));
    assert_eq!(c.cmd(&["RENAME", "x", "x"]).await, err("ERR no such key"));
    assert_eq!(c.cmd(&["RENAMENX", "x", "x"]).await, err("ERR no such key"));

    set(&mut c, "a", "1").await;
    assert_eq!(c.cmd(&["RENAME", "a", "a"]).await, ok());
    assert_eq!(c.cmd(&["RENAMENX", "a", "a"]).await, int(0));
    assert_eq!(c.cmd(&["GET", "a"]).await, bulk("1"));

    // The TTL travels with the value, across shards or not.
    for i in 0..20 {
        let (src, dst) = (format!("src{i}"), format!("dst{i}"));
        set(&mut c, &src, "v").await;
        assert_eq!(c.cmd(&["EXPIRE", &src, "100"]).await, int(1));
        assert_eq!(c.cmd(&["RENAME", &src, &dst]).await, ok());
        assert_eq!(c.cmd(&["EXISTS", &src]).await, int(0));
        assert_eq!(c.cmd(&["PTTL", &dst]).await, int(100_000));
        assert_eq!(c.cmd(&["GET", &dst]).await, bulk("v"));
    }
    // Overwriting a key with a TTL by one without leaves no TTL.
    set(&mut c, "plain", "p").await;
    assert_eq!(c.cmd(&["RENAME", "plain", "dst0"]).await, ok());
    assert_eq!(c.cmd(&["TTL", "dst0"]).await, int(-1));
    assert_eq!(c.cmd(&["GET", "dst0"]).await, bulk("p"));

    // RENAMENX leaves an existing target alone.
    set(&mut c, "b", "2").await;
    assert_eq!(c.cmd(&["RENAMENX", "a", "b"]).await, int(0));
    assert_eq!(c.cmd(&["GET", "a"]).await, bulk("1"));
    assert_eq!(c.cmd(&["GET", "b"]).await, bulk("2"));
    assert_eq!(c.cmd(&["RENAMENX", "a", "fresh"]).await, int(1));
    assert_eq!(c.cmd(&["GET", "fresh"]).await, bulk("1"));
    assert_eq!(c.cmd(&["EXISTS", "a"]).await, int(0));

    // An expired source is missing; an expired target is free.
    set(&mut c, "old", "o").await;
    c.cmd(&["PEXPIRE", "old", "10"]).await;
    c.cmd(&["PEXPIRE", "b", "10"]).await;
    s.clock.advance(10);
    assert_eq!(c.cmd(&["RENAME", "old", "z"]).await, err("ERR no such key"));
    assert_eq!(c.cmd(&["RENAMENX", "fresh", "b"]).await, int(1));
    assert_eq!(c.cmd(&["TTL", "b"]).await, int(-1));

    assert_eq!(
        c.cmd(&["RENAME", "b"]).await,
        err("ERR wrong number of arguments for 'rename' command")
    );
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_options_and_errors() {
    let s = start("64").await;
    let mut c = s.raw().await;
    set(&mut c, "k", "v").await;
    let nx_err = "ERR NX and XX, GT or LT options at the same time are not compatible";
    let gtlt_err = "ERR GT and LT options at the same time are not compatible";
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "100", "nx", "xx"]).await,
        err(nx_err)
    );
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "100", "NX", "GT"]).await,
        err(nx_err)
    );
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "100", "nx", "lt"]).await,
        err(nx_err)
    );
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "100", "gt", "lt"]).await,
        err(gtlt_err)
    );
    // Options are checked before the number.
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "abc", "foo"]).await,
        err("ERR Unsupported option foo")
    );
    let not_int = "ERR value is not an integer or out of range";
    for bad in ["abc", "1.5", "", "01", "+1"] {
        assert_eq!(c.cmd(&["EXPIRE", "k", bad]).await, err(not_int), "{bad:?}");
    }
    // Overflow, even for a missing key.
    for (cmd, n) in [
        ("expire", "9223372036854775807"),
        ("expire", "9223372036854775"),
        ("expire", "-9223372036854775808"),
        ("pexpire", "9223372036854775807"),
        ("pexpire", "9223372036854775000"),
        ("expireat", "9223372036854776"),
        ("expireat", "-9223372036854775808"),
    ] {
        let want = format!("ERR invalid expire time in '{cmd}' command");
        assert_eq!(c.cmd(&[cmd, "k", n]).await, err(&want), "{cmd} {n}");
        assert_eq!(c.cmd(&[cmd, "nokey", n]).await, err(&want), "{cmd} {n}");
    }
    assert_eq!(c.cmd(&["TTL", "k"]).await, int(-1));
    assert_eq!(c.cmd(&["EXPIRE", "nokey", "100"]).await, int(0));
    assert_eq!(
        c.cmd(&["EXPIRE", "k"]).await,
        err("ERR wrong number of arguments for 'expire' command")
    );

    // No TTL counts as infinite: GT never passes, LT always does.
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "gt"]).await, int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "xx"]).await, int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "lt"]).await, int(1));
    assert_eq!(c.cmd(&["TTL", "k"]).await, int(100));
    assert_eq!(c.cmd(&["EXPIRE", "k", "50", "gt"]).await, int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "gt"]).await, int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "200", "GT"]).await, int(1));
    assert_eq!(c.cmd(&["TTL", "k"]).await, int(200));
    assert_eq!(c.cmd(&["EXPIRE", "k", "200", "lt"]).await, int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "lt"]).await, int(1));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "nx"]).await, int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "300", "xx"]).await, int(1));
    assert_eq!(c.cmd(&["EXPIRE", "k", "300", "NX", "nx"]).await, int(0));
    assert_eq!(c.cmd(&["TTL", "k"]).await, int(300));
    assert_eq!(c.cmd(&["PERSIST", "k"]).await, int(1));
    assert_eq!(c.cmd(&["PERSIST", "k"]).await, int(0));
    assert_eq!(c.cmd(&["PERSIST", "nokey"]).await, int(0));
    assert_eq!(c.cmd(&["TTL", "k"]).await, int(-1));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "xx"]).await, int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "nx"]).await, int(1));

    // An expiry now or in the past deletes the key and replies 1; GT fails
    // before that for a key without a TTL.
    set(&mut c, "k", "v").await;
    assert_eq!(c.cmd(&["EXPIRE", "k", "-1", "gt"]).await, int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "0"]).await, int(1));
    assert_eq!(c.cmd(&["EXISTS", "k"]).await, int(0));
    for args in [
        &["EXPIRE", "k", "-9223372036854775"][..],
        &["PEXPIRE", "k", "-9223372036854775808"],
        &["PEXPIRE", "k", "0"],
        &["EXPIREAT", "k", "1"],
        &["PEXPIREAT", "k", "0"],
        &["PEXPIREAT", "k", &T0.to_string()],
        &["EXPIRE", "k", "-1", "lt"],
    ] {
        set(&mut c, "k", "v").await;
        assert_eq!(c.cmd(args).await, int(1), "{args:?}");
        assert_eq!(c.cmd(&["EXISTS", "k"]).await, int(0), "{args:?}");
    }
    // One millisecond ahead is still alive.
    set(&mut c, "k", "v").await;
    assert_eq!(
        c.cmd(&["PEXPIREAT", "k", &(T0 + 1).to_string()]).await,
        int(1)
    );
    assert_eq!(c.cmd(&["PTTL", "k"]).await, int(1));
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_family_and_lazy_expiry() {
    let s = start("64").await;
    let mut c = s.raw().await;
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(c.cmd(&[cmd, "nokey"]).await, int(-2), "{cmd}");
    }
    set(&mut c, "k", "v").await;
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(c.cmd(&[cmd, "k"]).await, int(-1), "{cmd}");
    }
    assert_eq!(c.cmd(&["PEXPIRE", "k", "10400"]).await, int(1));
    assert_eq!(c.cmd(&["TTL", "k"]).await, int(10));
    assert_eq!(c.cmd(&["PTTL", "k"]).await, int(10_400));
    assert_eq!(
        c.cmd(&["PEXPIRETIME", "k"]).await,
        int((T0 + 10_400) as i64)
    );
    assert_eq!(
        c.cmd(&["EXPIRETIME", "k"]).await,
        int(((T0 + 10_400) / 1000) as i64)
    );
    // Seconds round to the nearest, as Redis' (ms + 500) / 1000.
    s.clock.advance(900);
    assert_eq!(c.cmd(&["TTL", "k"]).await, int(10));
    assert_eq!(c.cmd(&["PTTL", "k"]).await, int(9_500));
    s.clock.advance(1);
    assert_eq!(c.cmd(&["TTL", "k"]).await, int(9));
    assert_eq!(c.cmd(&["PEXPIREAT", "k", "33177600000500"]).await, int(1));
    assert_eq!(c.cmd(&["EXPIRETIME", "k"]).await, int(33_177_600_001));
    assert_eq!(c.cmd(&["PEXPIREAT", "k", "33177600000499"]).await, int(1));
    assert_eq!(c.cmd(&["EXPIRETIME", "k"]).await, int(33_177_600_000));
    assert_eq!(
        c.cmd(&["PEXPIREAT", "k", "9223372036854775807"]).await,
        int(1)
    );
    assert_eq!(c.cmd(&["PEXPIRETIME", "k"]).await, int(i64::MAX));
    assert_eq!(
        c.cmd(&["EXPIRETIME", "k"]).await,
        int(9_223_372_036_854_776)
    );
    assert_eq!(c.cmd(&["EXPIREAT", "k", "9223372036854775"]).await, int(1));
    assert_eq!(
        c.cmd(&["EXPIRETIME", "k"]).await,
        int(9_223_372_036_854_775)
    );

    // A key past its TTL is reported by nothing.
    set(&mut c, "gone", "v").await;
    set(&mut c, "stays", "v").await;
    assert_eq!(c.cmd(&["PEXPIRE", "gone", "5"]).await, int(1));
    assert_eq!(c.cmd(&["DEL", "k"]).await, int(1));
    s.clock.advance(5);
    assert_eq!(c.cmd(&["EXISTS", "gone"]).await, int(0));
    assert_eq!(c.cmd(&["TOUCH", "gone"]).await, int(0));
    assert_eq!(c.cmd(&["TYPE", "gone"]).await, Frame::simple("none"));
    assert_eq!(c.cmd(&["TTL", "gone"]).await, int(-2));
    assert_eq!(c.cmd(&["PTTL", "gone"]).await, int(-2));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "gone"]).await, nil());
    assert_eq!(c.cmd(&["PERSIST", "gone"]).await, int(0));
    assert_eq!(c.cmd(&["EXPIRE", "gone", "100"]).await, int(0));
    assert_eq!(c.cmd(&["DEL", "gone"]).await, int(0));

    // KEYS, SCAN and RANDOMKEY skip expired keys still in memory.
    set(&mut c, "gone2", "v").await;
    assert_eq!(c.cmd(&["PEXPIRE", "gone2", "5"]).await, int(1));
    s.clock.advance(5);
    assert_eq!(sorted(&mut c, &["KEYS", "*"]).await, ["stays"]);
    assert_eq!(
        scan_all(&mut c, &[]).await.into_keys().collect::<Vec<_>>(),
        ["stays".to_string()]
    );
    for _ in 0..20 {
        assert_eq!(c.cmd(&["RANDOMKEY"]).await, bulk("stays"));
    }

    // TTL counts a hit or a miss; EXPIRE and PERSIST count neither.
    let before = s.hits_misses();
    c.cmd(&["TTL", "stays"]).await;
    c.cmd(&["PTTL", "nokey"]).await;
    c.cmd(&["EXPIRETIME", "stays"]).await;
    c.cmd(&["EXPIRE", "stays", "100"]).await;
    c.cmd(&["PERSIST", "stays"]).await;
    let after = s.hits_misses();
    assert_eq!((after.0 - before.0, after.1 - before.1), (2, 1));
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_matches_glob_patterns() {
    let s = start("64").await;
    let mut c = s.raw().await;
    assert_eq!(c.cmd(&["KEYS", "*"]).await, Frame::Array(vec![]));
    for k in ["a", "b", "abc", "hello", "hallo", "hxllo", "h*llo"] {
        set(&mut c, k, "1").await;
    }
    assert_eq!(sorted(&mut c, &["KEYS", "a*"]).await, ["a", "abc"]);
    assert_eq!(
        sorted(&mut c, &["KEYS", "h?llo"]).await,
        ["h*llo", "hallo", "hello", "hxllo"]
    );
    assert_eq!(
        sorted(&mut c, &["KEYS", "h[ae]llo"]).await,
        ["hallo", "hello"]
    );
    assert_eq!(
        sorted(&mut c, &["KEYS", "h[^e]llo"]).await,
        ["h*llo", "hallo", "hxllo"]
    );
    assert_eq!(sorted(&mut c, &["KEYS", "h\\*llo"]).await, ["h*llo"]);
    assert_eq!(
        sorted(&mut c, &["KEYS", "nomatch*"]).await,
        Vec::<String>::new()
    );
    assert_eq!(sorted(&mut c, &["KEYS", "*"]).await.len(), 7);
    // Another database sees none of them.
    if c.cmd(&["SELECT", "1"]).await == ok() {
        assert_eq!(c.cmd(&["KEYS", "*"]).await, Frame::Array(vec![]));
    }
    assert_eq!(
        c.cmd(&["KEYS"]).await,
        err("ERR wrong number of arguments for 'keys' command")
    );
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_options_and_errors() {
    for shards in ["1", "4", "64"] {
        let s = start(shards).await;
        let mut c = s.raw().await;
        assert_eq!(
            scan(&mut c, &["SCAN", "0"]).await,
            ("0".to_string(), vec![])
        );
        for i in 0..300 {
            set(&mut c, &format!("key:{i}"), "1").await;
        }
        for count in ["1", "7", "10", "1000"] {
            let seen = scan_all(&mut c, &["COUNT", count]).await;
            assert_eq!(seen.len(), 300, "shards {shards} count {count}");
            assert!(seen.values().all(|&n| n == 1), "duplicates");
        }
        // COUNT bounds the entries visited per call.
        let (cursor, keys) = scan(&mut c, &["SCAN", "0", "COUNT", "5"]).await;
        assert_ne!(cursor, "0");
        assert!(keys.len() <= 5, "{keys:?}");
        // A large COUNT returns everything at once.
        let (cursor, keys) = scan(&mut c, &["SCAN", "0", "COUNT", "9223372036854775807"]).await;
        assert_eq!((cursor.as_str(), keys.len()), ("0", 300));

        let m = scan_all(&mut c, &["MATCH", "key:1?"]).await;
        assert_eq!(m.len(), 10);
        let m = scan_all(&mut c, &["match", "key:2*", "count", "3", "type", "STRING"]).await;
        assert_eq!(m.len(), 111);
        assert!(scan_all(&mut c, &["TYPE", "hash"]).await.is_empty());
        // The last TYPE wins, as in Redis.
        assert!(scan_all(&mut c, &["TYPE", "string", "TYPE", "list"])
            .await
            .is_empty());

        // Cursors are parsed as Redis' strtoul.
        assert_eq!(
            scan(&mut c, &["SCAN", "", "COUNT", "1000"]).await.1.len(),
            300
        );
        assert_eq!(
            scan(&mut c, &["SCAN", "+0", "COUNT", "1000"]).await.1.len(),
            300
        );
        for bad in ["abc", " 0", "-", "0x1", "18446744073709551616"] {
            assert_eq!(
                c.cmd(&["SCAN", bad]).await,
                err("ERR invalid cursor"),
                "{bad:?}"
            );
        }
        // Any number is a cursor: a made-up one must not fail.
        assert!(matches!(c.cmd(&["SCAN", "-1"]).await, Frame::Array(_)));
        assert!(matches!(
            c.cmd(&["SCAN", "123456789"]).await,
            Frame::Array(_)
        ));

        assert_eq!(
            c.cmd(&["SCAN", "0", "COUNT", "0"]).await,
            err("ERR syntax error")
        );
        assert_eq!(
            c.cmd(&["SCAN", "0", "COUNT", "-1"]).await,
            err("ERR syntax error")
        );
        assert_eq!(
            c.cmd(&["SCAN", "0", "COUNT", "x"]).await,
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            c.cmd(&["SCAN", "0", "MATCH"]).await,
            err("ERR syntax error")
        );
        assert_eq!(
            c.cmd(&["SCAN", "0", "foo", "bar"]).await,
            err("ERR syntax error")
        );
        assert_eq!(
            c.cmd(&["SCAN", "x", "COUNT", "0"]).await,
            err("ERR invalid cursor")
        );
        assert_eq!(
            c.cmd(&["SCAN"]).await,
            err("ERR wrong number of arguments for 'scan' command")
        );
        drop(c);
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_returns_stable_keys_despite_concurrent_churn() {
    let s = start("8").await;
    let mut c = s.raw().await;
    let stable: HashSet<String> = (0..500).map(|i| format!("stable:{i}")).collect();
    for k in &stable {
        set(&mut c, k, "1").await;
    }
    // Another client adds and removes keys concurrently, through the
    // `redis` crate.
    let mut con = s.redis().await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _: () = redis::cmd("SET")
                    .arg(format!("churn:{i}"))
                    .arg(i)
                    .query_async(&mut con)
                    .await
                    .unwrap();
                if i >= 20 {
                    let _: i64 = redis::cmd("DEL")
                        .arg(format!("churn:{}", i - 20))
                        .query_async(&mut con)
                        .await
                        .unwrap();
                }
                i += 1;
            }
            i
        })
    };
    // Meanwhile this client deletes and re-creates keys between its own
    // SCAN calls, so freed arena slots get reused mid-iteration.
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        let (next, keys) = scan(&mut c, &["SCAN", &cursor, "COUNT", "3"]).await;
        seen.extend(keys);
        let k = format!("mine:{round}");
        set(&mut c, &k, "x").await;
        if round % 2 == 0 {
            c.cmd(&["DEL", &k]).await;
        }
        if round >= 3 {
            c.cmd(&["DEL", &format!("mine:{}", round - 3)]).await;
        }
        round += 1;
        if next == "0" {
            break;
        }
        cursor = next;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = churn.await.unwrap();
    let missing: Vec<_> = stable.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "missing {missing:?} ({writes} churn writes)"
    );
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomkey_picks_live_keys() {
    let s = start("64").await;
    let mut c = s.raw().await;
    assert_eq!(c.cmd(&["RANDOMKEY"]).await, nil());
    assert_eq!(
        c.cmd(&["RANDOMKEY", "x"]).await,
        err("ERR wrong number of arguments for 'randomkey' command")
    );
    for k in ["a", "b", "c"] {
        set(&mut c, k, "1").await;
    }
    let mut seen = HashSet::new();
    for _ in 0..300 {
        match c.cmd(&["RANDOMKEY"]).await {
            Frame::Bulk(k) => {
                seen.insert(String::from_utf8(k).unwrap());
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    // Only expired keys left: nil.
    for k in ["a", "b", "c"] {
        c.cmd(&["PEXPIRE", k, "1"]).await;
    }
    s.clock.advance(1);
    assert_eq!(c.cmd(&["RANDOMKEY"]).await, nil());
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_texts_quote_client_bytes_exactly() {
    // Every expected line is what Redis 7.0.15 sent for the same bytes: the
    // argument's raw bytes up to its first NUL, inner CR/LF as spaces,
    // trailing ones trimmed, 128-byte cuts where Redis uses `%.128s`.
    let s = start("64").await;
    let mut c = s.raw().await;
    let x200 = [b'x'; 200];
    let (x100, y100) = ([b'x'; 100], [b'y'; 100]);
    let cases: &[(&[&[u8]], Vec<u8>)] = &[
        (
            &[b"\xff\x00abc"],
            b"-ERR unknown command '\xff', with args beginning with: \r\n".to_vec(),
        ),
        (
            &[b"foo\xff", b"a\r\nb", b"\xfe\x00zz"],
            b"-ERR unknown command 'foo\xff', with args beginning with: 'a  b' '\xfe' \r\n"
                .to_vec(),
        ),
        (
            &[b"\r\nfoo\r\n", b"\x00"],
            b"-ERR unknown command '  foo  ', with args beginning with: '' \r\n".to_vec(),
        ),
        (
            &[b"foo", &x200, b"y"],
            [
                &b"-ERR unknown command 'foo', with args beginning with: '"[..],
                &[b'x'; 128],
                b"' \r\n",
            ]
            .concat(),
        ),
        (
            &[b"foo", &x100, &y100, b"z"],
            [
                &b"-ERR unknown command 'foo', with args beginning with: '"[..],
                &x100,
                b"' '",
                &[b'y'; 25],
                b"' \r\n",
            ]
            .concat(),
        ),
        (
            &[&x200],
            [
                &b"-ERR unknown command '"[..],
                &[b'x'; 128],
                b"', with args beginning with: \r\n",
            ]
            .concat(),
        ),
        (
            &[b"gEt"],
            b"-ERR wrong number of arguments for 'get' command\r\n".to_vec(),
        ),
        (
            &[b"object", b"\xffsub\x00x", b"k"],
            b"-ERR unknown subcommand '\xffsub'. Try OBJECT HELP.\r\n".to_vec(),
        ),
        (
            &[b"object", b"a\r\nb", b"k"],
            b"-ERR unknown subcommand 'a  b'. Try OBJECT HELP.\r\n".to_vec(),
        ),
        (
            &[b"expire", b"k", b"10", b"\xffopt\x00x"],
            b"-ERR Unsupported option \xffopt\r\n".to_vec(),
        ),
        (
            &[b"expire", b"k", b"10", b"a\r\n"],
            b"-ERR Unsupported option a\r\n".to_vec(),
        ),
        (
            &[b"ConFig", b"\xffsub\x00x"],
            b"-ERR unknown subcommand '\xffsub'. Try CONFIG HELP.\r\n".to_vec(),
        ),
        (
            &[b"config", b"set", b"\xffname\x00x", b"v"],
            b"-ERR Unknown option or number of arguments for CONFIG SET - '\xffname'\r\n".to_vec(),
        ),
        (
            &[b"config", b"set", b"maxmemory", b"1", b"a\r\nb", b"v"],
            b"-ERR Unknown option or number of arguments for CONFIG SET - 'a  b'\r\n".to_vec(),
        ),
        (
            &[b"client", b"\xffsub\x00x"],
            b"-ERR unknown subcommand '\xffsub'. Try CLIENT HELP.\r\n".to_vec(),
        ),
        (
            &[b"client", b"list", b"type", b"\xfft\x00y"],
            b"-ERR Unknown client type '\xfft'\r\n".to_vec(),
        ),
        (
            &[b"client", b"kill", b"user", b"\xffu\x00y"],
            b"-ERR No such user '\xffu'\r\n".to_vec(),
        ),
        (
            &[b"hello", b"3", b"\xffopt\x00x"],
            b"-ERR Syntax error in HELLO option '\xffopt'\r\n".to_vec(),
        ),
    ];
    for (args, want) in cases {
        c.send_cmd(args).await;
        let got = c.read_reply_bytes().await;
        assert_eq!(
            got.escape_ascii().to_string(),
            want.escape_ascii().to_string(),
            "{:?}",
            args.iter()
                .map(|a| a.escape_ascii().to_string())
                .collect::<Vec<_>>()
        );
    }
    // A rejected CONFIG SET changes nothing.
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]).await,
        Frame::Array(vec![bulk("maxmemory"), bulk("0")])
    );
    drop(c);
    s.stop().await;
}
