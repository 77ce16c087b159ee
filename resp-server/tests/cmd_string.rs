//! The string commands over real TCP, in raw RESP2: `SET` and its options,
//! `SETNX`, `SETEX`, `PSETEX`, `GETSET`, `GETDEL`, `GETEX`, `MGET`, `MSET`,
//! `MSETNX`, `APPEND`, `STRLEN`, the `INCR` family, `INCRBYFLOAT`,
//! `GETRANGE`/`SUBSTR` and `SETRANGE`.
//!
//! Expected replies and error texts were taken from Redis 7.0.15 running the
//! same commands. TTLs are read from the keyspace itself, and time moves only
//! through the server's `ManualClock`.

mod common;

use common::{arr, bulk, err, int, nil, ok, script, Frame, TestServer, CLOCK_START_MS as T0};

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const OVERFLOW: &str = "ERR increment or decrement would overflow";
const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_option_grammar_matches_redis() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("SET k v", ok()),
            ("SET k v EX 10 EX 20", ok()),
            ("SET k v ex 10 px 20", err(SYNTAX)),
            ("SET k v PX 20 EX 10", err(SYNTAX)),
            ("SET k v EXAT 100 PXAT 5", err(SYNTAX)),
            // The whole option list is checked before the number is parsed.
            ("SET k v EX abc NX foo", err(SYNTAX)),
            ("SET k v EX abc", err(NOT_INT)),
            ("SET k v EX", err(SYNTAX)),
            ("SET k v KEEPTTL EX 10", err(SYNTAX)),
            ("SET k v EX 10 KEEPTTL", err(SYNTAX)),
            ("SET k v PERSIST", err(SYNTAX)),
            ("SET k v NX XX", err(SYNTAX)),
            ("SET k v xx nx", err(SYNTAX)),
            ("SET k v foo", err(SYNTAX)),
            ("SET k v nx NX", nil()),
            ("SET k v KeepTTL keepttl", ok()),
            // GET with NX is allowed since Redis 7.0.
            ("SET k v1 NX GET", bulk("v")),
            ("GET k", bulk("v")),
            ("SET k v2 GET GET XX", bulk("v")),
            ("GET k", bulk("v2")),
            ("SET missing v XX GET", nil()),
            ("GET missing", nil()),
            ("SET missing v XX", nil()),
            ("SET fresh v NX GET", nil()),
            ("GET fresh", bulk("v")),
            ("SET n 123", ok()),
            ("SET n x GET", bulk("123")),
        ],
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_expiry_options_and_invalid_times() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let invalid = || err("ERR invalid expire time in 'set' command");
    script(
        &mut c,
        &[
            ("SET k v EX 0", invalid()),
            ("SET k v EX -1", invalid()),
            ("SET k v PX 0", invalid()),
            ("SET k v EXAT 0", invalid()),
            ("SET k v PXAT -5", invalid()),
            ("SET k v EX 1.5", err(NOT_INT)),
            // Seconds that overflow once in ms, or once the time is added.
            ("SET k v EX 9223372036854775807", invalid()),
            ("SET k v EX 9223372036854775", invalid()),
            ("SET k v PX 9223372036854775807", invalid()),
            ("SET k v EXAT 9223372036854776", invalid()),
            ("SET k v EXAT 9223372036854775", ok()),
            ("SET k v PXAT 9223372036854775807", ok()),
        ],
    )
    .await;
    assert_eq!(s.expiry("k"), Some(Some(i64::MAX as u64)));

    assert_eq!(c.cmd(&["SET", "k", "v", "EX", "10"]).await, ok());
    assert_eq!(s.expiry("k"), Some(Some(T0 + 10_000)));
    assert_eq!(c.cmd(&["SET", "k", "v", "px", "1500"]).await, ok());
    assert_eq!(s.expiry("k"), Some(Some(T0 + 1500)));
    assert_eq!(c.cmd(&["SET", "k", "v", "EXAT", "1700000100"]).await, ok());
    assert_eq!(s.expiry("k"), Some(Some(1_700_000_100_000)));
    assert_eq!(
        c.cmd(&["SET", "k", "v", "PXAT", "1700000000500"]).await,
        ok()
    );
    assert_eq!(s.expiry("k"), Some(Some(T0 + 500)));
    // KEEPTTL keeps it, with or without GET; a plain SET drops it.
    assert_eq!(c.cmd(&["SET", "k", "w", "KEEPTTL"]).await, ok());
    assert_eq!(s.expiry("k"), Some(Some(T0 + 500)));
    assert_eq!(c.cmd(&["SET", "k", "x", "KEEPTTL", "GET"]).await, bulk("w"));
    assert_eq!(s.expiry("k"), Some(Some(T0 + 500)));
    s.clock.advance(499);
    assert_eq!(c.cmd(&["GET", "k"]).await, bulk("x"));
    s.clock.advance(1);
    assert_eq!(c.cmd(&["GET", "k"]).await, nil());
    // An expired key counts as absent for NX and XX.
    assert_eq!(c.cmd(&["SET", "k", "v", "PX", "10"]).await, ok());
    s.clock.advance(10);
    assert_eq!(c.cmd(&["SET", "k", "v", "XX"]).await, nil());
    assert_eq!(c.cmd(&["SET", "k", "v1", "NX", "GET"]).await, nil());
    assert_eq!(s.expiry("k"), Some(None));
    assert_eq!(c.cmd(&["SET", "k", "v2", "EX", "5"]).await, ok());
    assert_eq!(c.cmd(&["SET", "k", "v3"]).await, ok());
    assert_eq!(s.expiry("k"), Some(None));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setnx_setex_psetex() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("SETNX k v", int(1)),
            ("SETNX k w", int(0)),
            ("GET k", bulk("v")),
            (
                "SETEX k 0 x",
                err("ERR invalid expire time in 'setex' command"),
            ),
            (
                "SETEX k -1 x",
                err("ERR invalid expire time in 'setex' command"),
            ),
            ("SETEX k abc x", err(NOT_INT)),
            (
                "SETEX k 9223372036854775 x",
                err("ERR invalid expire time in 'setex' command"),
            ),
            (
                "PSETEX k 0 x",
                err("ERR invalid expire time in 'psetex' command"),
            ),
            (
                "PSETEX k 9223372036854775807 x",
                err("ERR invalid expire time in 'psetex' command"),
            ),
            ("GET k", bulk("v")),
            ("SETEX k 10 x", ok()),
        ],
    )
    .await;
    assert_eq!(s.expiry("k"), Some(Some(T0 + 10_000)));
    assert_eq!(c.cmd(&["PSETEX", "p", "250", "y"]).await, ok());
    assert_eq!(s.expiry("p"), Some(Some(T0 + 250)));
    s.clock.advance(250);
    assert_eq!(c.cmd(&["GET", "p"]).await, nil());
    // SETNX on an expired key sets it.
    assert_eq!(c.cmd(&["SETNX", "p", "z"]).await, int(1));
    assert_eq!(s.expiry("p"), Some(None));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getset_getdel() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    assert_eq!(c.cmd(&["GETSET", "k", "a"]).await, nil());
    assert_eq!(c.cmd(&["SETEX", "k", "100", "b"]).await, ok());
    assert_eq!(c.cmd(&["GETSET", "k", "12"]).await, bulk("b"));
    assert_eq!(s.expiry("k"), Some(None), "GETSET drops the TTL");
    assert_eq!(c.cmd(&["GETSET", "k", "c"]).await, bulk("12"));
    assert_eq!(c.cmd(&["GETDEL", "k"]).await, bulk("c"));
    assert_eq!(s.expiry("k"), None);
    assert_eq!(c.cmd(&["GETDEL", "k"]).await, nil());
    assert_eq!(c.cmd(&["PSETEX", "k", "5", "d"]).await, ok());
    s.clock.advance(5);
    assert_eq!(c.cmd(&["GETDEL", "k"]).await, nil());
    assert_eq!(c.cmd(&["GETSET", "k", "e"]).await, nil());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getex_options_and_ttls() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let invalid = || err("ERR invalid expire time in 'getex' command");
    script(
        &mut c,
        &[
            // A missing key wins over a bad expiry, not over bad syntax.
            ("GETEX nokey EX abc", nil()),
            ("GETEX nokey EX -1", nil()),
            ("GETEX nokey foo", err(SYNTAX)),
            ("SET k hello", ok()),
            ("GETEX k", bulk("hello")),
            ("GETEX k PERSIST EX 10", err(SYNTAX)),
            ("GETEX k EX 10 PERSIST", err(SYNTAX)),
            ("GETEX k EX 10 PX 10", err(SYNTAX)),
            ("GETEX k NX", err(SYNTAX)),
            ("GETEX k GET", err(SYNTAX)),
            ("GETEX k KEEPTTL", err(SYNTAX)),
            ("GETEX k EX", err(SYNTAX)),
            ("GETEX k EX abc", err(NOT_INT)),
            ("GETEX k EX 0", invalid()),
            ("GETEX k PX 9223372036854775807", invalid()),
            ("GETEX k PERSIST PERSIST", bulk("hello")),
        ],
    )
    .await;
    assert_eq!(s.expiry("k"), Some(None));
    assert_eq!(
        c.cmd(&["GETEX", "k", "EX", "10", "ex", "20"]).await,
        bulk("hello")
    );
    assert_eq!(s.expiry("k"), Some(Some(T0 + 20_000)));
    assert_eq!(c.cmd(&["GETEX", "k"]).await, bulk("hello"));
    assert_eq!(
        s.expiry("k"),
        Some(Some(T0 + 20_000)),
        "no option: TTL kept"
    );
    assert_eq!(c.cmd(&["GETEX", "k", "PX", "1500"]).await, bulk("hello"));
    assert_eq!(s.expiry("k"), Some(Some(T0 + 1500)));
    assert_eq!(
        c.cmd(&["GETEX", "k", "EXAT", "1700000100"]).await,
        bulk("hello")
    );
    assert_eq!(s.expiry("k"), Some(Some(1_700_000_100_000)));
    assert_eq!(
        c.cmd(&["GETEX", "k", "PXAT", "1700000000700"]).await,
        bulk("hello")
    );
    assert_eq!(s.expiry("k"), Some(Some(T0 + 700)));
    assert_eq!(c.cmd(&["GETEX", "k", "PERSIST"]).await, bulk("hello"));
    assert_eq!(s.expiry("k"), Some(None));
    // A time already past deletes the key, after replying its value.
    assert_eq!(c.cmd(&["GETEX", "k", "EXAT", "1"]).await, bulk("hello"));
    assert_eq!(s.expiry("k"), None);
    assert_eq!(c.cmd(&["SET", "k", "v"]).await, ok());
    assert_eq!(
        c.cmd(&["GETEX", "k", "PXAT", &T0.to_string()]).await,
        bulk("v")
    );
    assert_eq!(s.expiry("k"), None);
    // Relative times count from the server's clock.
    assert_eq!(c.cmd(&["SET", "k", "v"]).await, ok());
    s.clock.advance(1000);
    assert_eq!(c.cmd(&["GETEX", "k", "EX", "1"]).await, bulk("v"));
    s.clock.advance(999);
    assert_eq!(c.cmd(&["GETEX", "k"]).await, bulk("v"));
    s.clock.advance(1);
    assert_eq!(c.cmd(&["GETEX", "k", "PERSIST"]).await, nil());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mget_mset_msetnx() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    // Enough keys to span many of the 64 shards.
    let keys: Vec<String> = (0..40).map(|i| format!("key:{i}")).collect();
    let mut mset = vec!["MSET".to_string()];
    for (i, k) in keys.iter().enumerate() {
        mset.push(k.clone());
        mset.push(format!("v{i}"));
    }
    assert_eq!(c.cmd(&mset).await, ok());
    let mut mget = vec!["MGET".to_string()];
    mget.extend(keys.iter().cloned());
    mget.push("nokey".into());
    let mut want: Vec<Frame> = (0..40).map(|i| bulk(format!("v{i}"))).collect();
    want.push(nil());
    assert_eq!(c.cmd(&mget).await, arr(want));

    script(
        &mut c,
        &[
            (
                "MSET a",
                err("ERR wrong number of arguments for 'mset' command"),
            ),
            (
                "MSET a 1 b",
                err("ERR wrong number of arguments for 'mset' command"),
            ),
            (
                "msetnx a 1 b",
                err("ERR wrong number of arguments for 'msetnx' command"),
            ),
            (
                "MGET",
                err("ERR wrong number of arguments for 'mget' command"),
            ),
            ("MSET a 1 a 2", ok()),
            ("GET a", bulk("2")),
            ("MSETNX x1 1 x2 2", int(1)),
            ("MSETNX x3 3 x1 1", int(0)),
            ("MGET x1 x2 x3", arr(vec![bulk("1"), bulk("2"), nil()])),
            ("MSETNX dup 1 dup 2", int(1)),
            ("GET dup", bulk("2")),
        ],
    )
    .await;
    // MSET drops TTLs; MSETNX treats expired keys as absent.
    assert_eq!(c.cmd(&["SETEX", "t", "1", "old"]).await, ok());
    assert_eq!(c.cmd(&["MSET", "t", "new", "u", "1"]).await, ok());
    assert_eq!(s.expiry("t"), Some(None));
    assert_eq!(c.cmd(&["PSETEX", "t", "10", "old"]).await, ok());
    s.clock.advance(10);
    assert_eq!(c.cmd(&["MSETNX", "t", "a", "w", "b"]).await, int(1));
    assert_eq!(
        c.cmd(&["MGET", "t", "w"]).await,
        arr(vec![bulk("a"), bulk("b")])
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mset_is_atomic_across_shards() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let keys: Vec<String> = (0..16).map(|i| format!("atomic:{i}")).collect();
    let writer_keys = keys.clone();
    let mut writer = s.raw().await;
    let write = tokio::spawn(async move {
        for round in 0..300 {
            let mut cmd = vec!["MSET".to_string()];
            for k in &writer_keys {
                cmd.push(k.clone());
                cmd.push(round.to_string());
            }
            assert_eq!(writer.cmd(&cmd).await, ok());
        }
    });
    let mut mget = vec!["MGET".to_string()];
    mget.extend(keys.iter().cloned());
    for _ in 0..300 {
        let Frame::Array(values) = c.cmd(&mget).await else {
            panic!("MGET replies an array");
        };
        assert!(
            values.windows(2).all(|w| w[0] == w[1]),
            "MGET saw a partial MSET: {values:?}"
        );
    }
    write.await.unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_and_strlen() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("STRLEN ap", int(0)),
            ("APPEND ap hello", int(5)),
            ("APPEND ap _world", int(11)),
            ("GET ap", bulk("hello_world")),
            ("STRLEN ap", int(11)),
            ("SET n 12", ok()),
            ("APPEND n 3", int(3)),
            ("GET n", bulk("123")),
            ("INCR n", int(124)),
            ("SET n -12", ok()),
            ("STRLEN n", int(3)),
        ],
    )
    .await;
    assert_eq!(c.cmd(&["SET", "e", ""]).await, ok());
    assert_eq!(c.cmd(&["STRLEN", "e"]).await, int(0));
    // Crossing the inline limit and growing a heap string.
    let long = "x".repeat(30);
    assert_eq!(c.cmd(&["APPEND", "e", &long]).await, int(30));
    assert_eq!(c.cmd(&["APPEND", "e", &long]).await, int(60));
    assert_eq!(c.cmd(&["GET", "e"]).await, bulk("x".repeat(60)));
    // APPEND keeps the TTL; an expired key starts over.
    assert_eq!(c.cmd(&["SET", "t", "v", "PX", "100"]).await, ok());
    assert_eq!(c.cmd(&["APPEND", "t", "w"]).await, int(2));
    assert_eq!(s.expiry("t"), Some(Some(T0 + 100)));
    s.clock.advance(100);
    assert_eq!(c.cmd(&["APPEND", "t", "z"]).await, int(1));
    assert_eq!(s.expiry("t"), Some(None));
    // proto-max-bulk-len bounds the result.
    s.shared
        .config
        .set_runtime("proto-max-bulk-len", "1mb")
        .unwrap();
    let chunk = vec![b'a'; 1024 * 1024 - 1];
    assert_eq!(c.cmd(&[&b"SET"[..], b"big", &chunk]).await, ok());
    assert_eq!(c.cmd(&["APPEND", "big", "b"]).await, int(1024 * 1024));
    assert_eq!(c.cmd(&["APPEND", "big", "c"]).await, err(TOO_BIG));
    assert_eq!(c.cmd(&["STRLEN", "big"]).await, int(1024 * 1024));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incr_family() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("INCR a", int(1)),
            ("INCR a", int(2)),
            ("DECR b", int(-1)),
            ("INCRBY c -7", int(-7)),
            ("DECRBY d -7", int(7)),
            ("GET d", bulk("7")),
            ("INCRBY d 1.5", err(NOT_INT)),
            ("INCRBY d 00", err(NOT_INT)),
            ("INCRBY d 99999999999999999999", err(NOT_INT)),
            ("DECRBY d abc", err(NOT_INT)),
            ("SET i 9223372036854775807", ok()),
            ("INCR i", err(OVERFLOW)),
            ("INCRBY i 0", int(i64::MAX)),
            (
                "DECRBY i -9223372036854775808",
                err("ERR decrement would overflow"),
            ),
            (
                "DECRBY nokey -9223372036854775808",
                err("ERR decrement would overflow"),
            ),
            ("GET nokey", nil()),
            ("SET i -9223372036854775808", ok()),
            ("DECR i", err(OVERFLOW)),
            ("INCRBY i -1", err(OVERFLOW)),
            ("INCRBY i 9223372036854775807", int(-1)),
            ("SET s abc", ok()),
            ("INCR s", err(NOT_INT)),
            ("SET s +1", ok()),
            ("INCR s", err(NOT_INT)),
            ("SET s 01", ok()),
            ("INCR s", err(NOT_INT)),
            ("SET s -0", ok()),
            ("INCR s", err(NOT_INT)),
            ("SET s 1.0", ok()),
            ("INCR s", err(NOT_INT)),
            ("GET s", bulk("1.0")),
        ],
    )
    .await;
    assert_eq!(c.cmd(&["SET", "s", " 1"]).await, ok());
    assert_eq!(c.cmd(&["INCR", "s"]).await, err(NOT_INT));
    // A string that was never int-encoded still counts (APPEND makes one).
    assert_eq!(c.cmd(&["SET", "s", "1"]).await, ok());
    assert_eq!(c.cmd(&["APPEND", "s", "9"]).await, int(2));
    assert_eq!(c.cmd(&["INCR", "s"]).await, int(20));
    // The TTL stays; an expired counter restarts from 0.
    assert_eq!(c.cmd(&["SET", "t", "10", "EX", "100"]).await, ok());
    assert_eq!(c.cmd(&["INCRBY", "t", "5"]).await, int(15));
    assert_eq!(c.cmd(&["DECR", "t"]).await, int(14));
    assert_eq!(s.expiry("t"), Some(Some(T0 + 100_000)));
    s.clock.advance(100_000);
    assert_eq!(c.cmd(&["INCR", "t"]).await, int(1));
    assert_eq!(s.expiry("t"), Some(None));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incrbyfloat() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let nan_inf = || err("ERR increment would produce NaN or Infinity");
    script(
        &mut c,
        &[
            ("SET f 10.50", ok()),
            ("INCRBYFLOAT f 0.1", bulk("10.6")),
            ("INCRBYFLOAT f -5", bulk("5.6")),
            ("SET f 5.0e3", ok()),
            ("INCRBYFLOAT f 2.0e2", bulk("5200")),
            ("INCRBYFLOAT new 1", bulk("1")),
            ("INCRBYFLOAT new2 -0.0", bulk("0")),
            ("INCRBYFLOAT new3 1.5", bulk("1.5")),
            ("INCRBYFLOAT new3 1.5", bulk("3")),
            // The result is a string, still usable by INCR when integral.
            ("INCR new3", int(4)),
            ("SET big 17179869184", ok()),
            ("INCRBYFLOAT big 1.5", bulk("17179869185.5")),
            ("INCRBYFLOAT big 17179869184", bulk("34359738369.5")),
            ("INCRBYFLOAT big .5", bulk("34359738370")),
            ("INCRBYFLOAT big +1", bulk("34359738371")),
            ("SET x 1", ok()),
            ("INCRBYFLOAT x 1E-2", bulk("1.01")),
            ("INCRBYFLOAT big abc", err(NOT_FLOAT)),
            ("INCRBYFLOAT big nan", err(NOT_FLOAT)),
            ("INCRBYFLOAT big inf", nan_inf()),
            ("INCRBYFLOAT big -infinity", nan_inf()),
            ("SET s abc", ok()),
            ("INCRBYFLOAT s 1", err(NOT_FLOAT)),
        ],
    )
    .await;
    for bad in [" 1", "1 ", ""] {
        assert_eq!(
            c.cmd(&["INCRBYFLOAT", "f", bad]).await,
            err(NOT_FLOAT),
            "{bad:?}"
        );
        assert_eq!(c.cmd(&["SET", "g", bad]).await, ok());
        assert_eq!(
            c.cmd(&["INCRBYFLOAT", "g", "1"]).await,
            err(NOT_FLOAT),
            "{bad:?}"
        );
    }
    // The TTL stays.
    assert_eq!(c.cmd(&["SET", "t", "3", "PX", "500"]).await, ok());
    assert_eq!(c.cmd(&["INCRBYFLOAT", "t", "1.25"]).await, bulk("4.25"));
    assert_eq!(s.expiry("t"), Some(Some(T0 + 500)));
    s.clock.advance(500);
    assert_eq!(c.cmd(&["INCRBYFLOAT", "t", "1.25"]).await, bulk("1.25"));
    assert_eq!(s.expiry("t"), Some(None));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getrange_and_substr() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("GETRANGE nokey 0 -1", bulk("")),
            ("GETRANGE nokey a 1", err(NOT_INT)),
            ("SET s hello", ok()),
            ("GETRANGE s 0 -1", bulk("hello")),
            ("GETRANGE s 0 0", bulk("h")),
            ("GETRANGE s -3 -1", bulk("llo")),
            ("GETRANGE s -1 -5", bulk("")),
            ("GETRANGE s 0 -100", bulk("h")),
            ("GETRANGE s -100 -200", bulk("")),
            ("GETRANGE s -100 2", bulk("hel")),
            ("GETRANGE s 5 10", bulk("")),
            ("GETRANGE s 4 10", bulk("o")),
            ("GETRANGE s 3 1", bulk("")),
            (
                "GETRANGE s -9223372036854775808 9223372036854775807",
                bulk("hello"),
            ),
            ("GETRANGE s 1 b", err(NOT_INT)),
            ("SUBSTR s 1 3", bulk("ell")),
            ("SET n 12345", ok()),
            ("GETRANGE n 1 2", bulk("23")),
            (
                "GETRANGE s",
                err("ERR wrong number of arguments for 'getrange' command"),
            ),
        ],
    )
    .await;
    assert_eq!(c.cmd(&["SET", "e", ""]).await, ok());
    assert_eq!(c.cmd(&["GETRANGE", "e", "0", "-1"]).await, bulk(""));
    assert_eq!(c.cmd(&["GETRANGE", "e", "0", "0"]).await, bulk(""));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setrange() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    script(
        &mut c,
        &[
            ("SETRANGE k -1 x", err("ERR offset is out of range")),
            ("SETRANGE k abc x", err(NOT_INT)),
            ("SETRANGE k 536870912 x", err(TOO_BIG)),
            ("SETRANGE k 3 abc", int(6)),
            ("SET s hello", ok()),
            ("SETRANGE s 100000000000 x", err(TOO_BIG)),
            ("SETRANGE s 7 x", int(8)),
            ("SETRANGE s 1 EL", int(8)),
            ("SET n 12345", ok()),
            ("SETRANGE n 1 ab", int(5)),
            ("GET n", bulk("1ab45")),
            ("SET m 12", ok()),
            ("SETRANGE m 2 3", int(3)),
            ("INCR m", int(124)),
        ],
    )
    .await;
    assert_eq!(c.cmd(&["GET", "k"]).await, bulk(b"\0\0\0abc"));
    assert_eq!(c.cmd(&["GET", "s"]).await, bulk(b"hELlo\0\0x"));
    // An empty value changes nothing: no key is created, no size check.
    assert_eq!(c.cmd(&["SETRANGE", "none", "0", ""]).await, int(0));
    assert_eq!(c.cmd(&["SETRANGE", "none", "536870912", ""]).await, int(0));
    assert_eq!(s.expiry("none"), None);
    assert_eq!(c.cmd(&["SETRANGE", "s", "100000000000", ""]).await, int(8));
    // In place on a long string, growing it, and keeping the TTL.
    let long = "y".repeat(40);
    assert_eq!(c.cmd(&["SET", "l", &long, "EX", "5"]).await, ok());
    assert_eq!(c.cmd(&["SETRANGE", "l", "38", "zzz"]).await, int(41));
    let mut want = "y".repeat(38);
    want.push_str("zzz");
    assert_eq!(c.cmd(&["GET", "l"]).await, bulk(&want));
    assert_eq!(c.cmd(&["SETRANGE", "l", "0", "Y"]).await, int(41));
    assert_eq!(s.expiry("l"), Some(Some(T0 + 5000)));
    s.clock.advance(5000);
    assert_eq!(c.cmd(&["SETRANGE", "l", "1", "a"]).await, int(2));
    assert_eq!(c.cmd(&["GET", "l"]).await, bulk(b"\0a"));
    assert_eq!(s.expiry("l"), Some(None));
    // The limit counts offset plus value length.
    s.shared
        .config
        .set_runtime("proto-max-bulk-len", "1mb")
        .unwrap();
    assert_eq!(
        c.cmd(&["SETRANGE", "b", "1048575", "xy"]).await,
        err(TOO_BIG)
    );
    assert_eq!(
        c.cmd(&["SETRANGE", "b", "1048575", "x"]).await,
        int(1_048_576)
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_commands_count_hits_and_misses_like_redis() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let base = s.shared.keyspace.totals();
    let steps: &[&[&str]] = &[
        &["SET", "h", "1"],
        &["GET", "h"],                    // hit
        &["GET", "nokey"],                // miss
        &["MGET", "h", "nokey", "h"],     // 2 hits, 1 miss
        &["STRLEN", "h"],                 // hit
        &["STRLEN", "nokey"],             // miss
        &["GETRANGE", "h", "0", "1"],     // hit
        &["GETRANGE", "nokey", "0", "1"], // miss
        &["SET", "h", "2", "GET"],        // hit
        &["SET", "nokey9", "2", "GET"],   // miss
        &["SET", "h", "3", "NX"],         // write lookup: none
        &["GETSET", "h", "4"],            // hit
        &["GETSET", "nokey10", "1"],      // miss
        &["GETEX", "h"],                  // hit
        &["GETEX", "nokey"],              // miss
        &["GETDEL", "nokey"],             // miss
        &["INCR", "h"],                   // none
        &["APPEND", "h", "1"],            // none
        &["SETRANGE", "h", "0", "1"],     // none
        &["INCRBYFLOAT", "h", "1"],       // none
        &["SETNX", "h", "1"],             // none
        &["MSETNX", "h", "1"],            // none
    ];
    for args in steps {
        c.cmd(args).await;
    }
    let t = s.shared.keyspace.totals();
    assert_eq!((t.hits - base.hits, t.misses - base.misses), (8, 8));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_encoding_raw_after_append_and_setrange() {
    // Sequences and encodings as Redis 7.0.15 reports them.
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let enc = |e: &str| bulk(e);
    let a44 = "a".repeat(44);
    let a45 = "a".repeat(45);
    script(
        &mut c,
        &[
            // APPEND to an existing key: raw, even to an int, even empty.
            ("SET k 123", ok()),
            ("APPEND k x", int(4)),
            ("OBJECT ENCODING k", enc("raw")),
            ("SET k 123", ok()),
            ("APPEND k 4", int(4)),
            ("OBJECT ENCODING k", enc("raw")),
            ("GET k", bulk("1234")),
            // INCR of a raw integer stores an int again.
            ("INCR k", int(1235)),
            ("OBJECT ENCODING k", enc("int")),
            ("SET k abc", ok()),
            ("APPEND k ", int(3)),
            ("OBJECT ENCODING k", enc("raw")),
            // APPEND creating the key encodes like SET.
            ("DEL k", int(1)),
            ("APPEND k 123", int(3)),
            ("OBJECT ENCODING k", enc("int")),
            ("DEL k", int(1)),
            ("APPEND k abc", int(3)),
            ("OBJECT ENCODING k", enc("embstr")),
            // SETRANGE: raw when it writes, unchanged when the value is empty.
            ("SET k abc", ok()),
            ("SETRANGE k 0 ", int(3)),
            ("OBJECT ENCODING k", enc("embstr")),
            ("SETRANGE k 10 ", int(3)),
            ("OBJECT ENCODING k", enc("embstr")),
            ("SETRANGE k 1 Z", int(3)),
            ("OBJECT ENCODING k", enc("raw")),
            ("GET k", bulk("aZc")),
            ("SETRANGE k 1 Y", int(3)),
            ("GET k", bulk("aYc")),
            ("SET k 12", ok()),
            ("SETRANGE k 0 3", int(2)),
            ("OBJECT ENCODING k", enc("raw")),
            ("DEL k", int(1)),
            ("SETRANGE k 2 1", int(3)),
            ("OBJECT ENCODING k", enc("raw")),
            ("GET k", bulk(b"\0\x001")),
            // Writing the whole value again re-encodes it.
            ("APPEND k x", int(4)),
            ("SET k abc", ok()),
            ("OBJECT ENCODING k", enc("embstr")),
            ("APPEND k d", int(4)),
            ("GETSET k 77", bulk("abcd")),
            ("OBJECT ENCODING k", enc("int")),
            ("APPEND k d", int(3)),
            ("SET k x1 GET", bulk("77d")),
            ("OBJECT ENCODING k", enc("embstr")),
            ("APPEND k d", int(3)),
            ("SETEX k 100 abc", ok()),
            ("OBJECT ENCODING k", enc("embstr")),
            ("APPEND k d", int(4)),
            ("MSET k 5", ok()),
            ("OBJECT ENCODING k", enc("int")),
            ("APPEND k 1", int(2)),
            ("INCRBYFLOAT k 1", bulk("52")),
            ("OBJECT ENCODING k", enc("embstr")),
            // Reads leave a raw string raw; GETDEL then APPEND starts over.
            ("APPEND k x", int(3)),
            ("GETRANGE k 0 0", bulk("5")),
            ("STRLEN k", int(3)),
            ("GETEX k PERSIST", bulk("52x")),
            ("OBJECT ENCODING k", enc("raw")),
            ("GETDEL k", bulk("52x")),
            ("APPEND k 10", int(2)),
            ("OBJECT ENCODING k", enc("int")),
            // Length limits of SET's embstr.
            (&format!("SET k {a44}"), ok()),
            ("OBJECT ENCODING k", enc("embstr")),
            (&format!("SET k {a45}"), ok()),
            ("OBJECT ENCODING k", enc("raw")),
            ("SET k 12345678901234567890", ok()),
            ("OBJECT ENCODING k", enc("embstr")),
        ],
    )
    .await;
    // RENAME keeps the encoding.
    assert_eq!(c.cmd(&["SET", "r", "abcd"]).await, ok());
    assert_eq!(c.cmd(&["APPEND", "r", "e"]).await, int(5));
    assert_eq!(c.cmd(&["RENAME", "r", "r2"]).await, ok());
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "r2"]).await, bulk("raw"));
    assert_eq!(c.cmd(&["GET", "r2"]).await, bulk("abcde"));
    s.stop().await;
}
