//! The generic key commands over real TCP: `DEL`, `UNLINK`, `EXISTS`,
//! `TOUCH`, `TYPE`, `RENAME(NX)`, the `EXPIRE` family, `TTL` and friends,
//! `PERSIST`, `KEYS`, `SCAN`, `RANDOMKEY`, `OBJECT`.
//!
//! Expected replies and error texts were taken from Redis 7.0.15 running the
//! same commands. Time moves only through the server's `ManualClock`.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use resp_server::clock::ManualClock;
use resp_server::config::ConfigStore;
use resp_server::server::Server;
use resp_server::shared::Shared;

const T0: u64 = 1_700_000_000_000;

/// A RESP2 reply.
#[derive(Clone, Debug, PartialEq)]
enum R {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Arr(Option<Vec<R>>),
}

fn ok() -> R {
    R::Simple("OK".into())
}
fn int(n: i64) -> R {
    R::Int(n)
}
fn err(text: &str) -> R {
    R::Err(text.into())
}
fn bulk(s: &str) -> R {
    R::Bulk(Some(s.as_bytes().to_vec()))
}
fn nil() -> R {
    R::Bulk(None)
}

/// A blocking client speaking raw RESP (the server runs on other threads).
struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Conn {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    fn cmd(&mut self, args: &[&str]) -> R {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a.as_bytes());
            buf.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&buf).unwrap();
        self.read()
    }

    fn read(&mut self) -> R {
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        let line = line.trim_end_matches("\r\n");
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => R::Simple(rest.into()),
            "-" => R::Err(rest.into()),
            ":" => R::Int(rest.parse().unwrap()),
            "$" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return R::Bulk(None);
                }
                let mut b = vec![0; n as usize + 2];
                self.r.read_exact(&mut b).unwrap();
                b.truncate(n as usize);
                R::Bulk(Some(b))
            }
            "*" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return R::Arr(None);
                }
                R::Arr(Some((0..n).map(|_| self.read()).collect()))
            }
            other => panic!("unexpected reply type {other:?} in {line:?}"),
        }
    }

    /// Sends `SET key value`.
    fn set(&mut self, key: &str, value: &str) {
        assert_eq!(self.cmd(&["SET", key, value]), ok());
    }

    /// Runs a command that replies with an array of bulk strings; returns
    /// them sorted.
    fn sorted(&mut self, args: &[&str]) -> Vec<String> {
        let mut v = strings(self.cmd(args));
        v.sort();
        v
    }

    /// One `SCAN` call: (next cursor, keys).
    fn scan(&mut self, args: &[&str]) -> (String, Vec<String>) {
        match self.cmd(args) {
            R::Arr(Some(mut v)) if v.len() == 2 => {
                let keys = strings(v.pop().unwrap());
                let R::Bulk(Some(c)) = v.pop().unwrap() else {
                    panic!("cursor is not a bulk string");
                };
                (String::from_utf8(c).unwrap(), keys)
            }
            other => panic!("bad SCAN reply {other:?}"),
        }
    }

    /// A whole `SCAN` iteration with extra options; every key it returned,
    /// with how many times.
    fn scan_all(&mut self, opts: &[&str]) -> HashMap<String, usize> {
        let mut seen = HashMap::new();
        let mut cursor = "0".to_string();
        loop {
            let mut args = vec!["SCAN", cursor.as_str()];
            args.extend_from_slice(opts);
            let (next, keys) = self.scan(&args);
            for k in keys {
                *seen.entry(k).or_insert(0) += 1;
            }
            if next == "0" {
                return seen;
            }
            cursor = next;
        }
    }
}

fn strings(r: R) -> Vec<String> {
    match r {
        R::Arr(Some(v)) => v
            .into_iter()
            .map(|x| match x {
                R::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

struct TestServer {
    addr: SocketAddr,
    clock: Arc<ManualClock>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    async fn start(shards: &str) -> TestServer {
        let cfg = ConfigStore::default();
        cfg.set_startup("port", "0").unwrap();
        cfg.set_startup("shards", shards).unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let server = Server::bind_with_clock(cfg, clock.clone()).await.unwrap();
        let addr = server.local_addr();
        let shared = server.shared();
        let task = tokio::spawn(server.run());
        TestServer {
            addr,
            clock,
            shared,
            task,
        }
    }

    fn conn(&self) -> Conn {
        Conn::open(self.addr)
    }

    fn hits_misses(&self) -> (u64, u64) {
        let t = self.shared.keyspace.totals();
        (t.hits, t.misses)
    }

    async fn stop(self) {
        self.shared.shutdown();
        self.task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn del_unlink_exists_touch_count_like_redis() {
    let s = TestServer::start("64").await;
    let mut c = s.conn();
    for i in 0..50 {
        c.set(&format!("k{i}"), "v");
    }
    let many: Vec<String> = (0..60).map(|i| format!("k{i}")).collect();
    let mut args: Vec<&str> = vec!["EXISTS"];
    args.extend(many.iter().map(String::as_str));
    assert_eq!(c.cmd(&args), int(50));
    args[0] = "TOUCH";
    assert_eq!(c.cmd(&args), int(50));

    // Duplicates count for EXISTS and TOUCH, not for DEL and UNLINK.
    assert_eq!(c.cmd(&["EXISTS", "k1", "k1", "nokey", "k1"]), int(3));
    assert_eq!(c.cmd(&["TOUCH", "k1", "k1", "nokey"]), int(2));
    assert_eq!(c.cmd(&["DEL", "k1", "k1", "k2", "nokey"]), int(2));
    assert_eq!(c.cmd(&["UNLINK", "k3", "k3", "k4"]), int(2));
    assert_eq!(c.cmd(&["EXISTS", "k1", "k2", "k3", "k4"]), int(0));

    args[0] = "DEL";
    assert_eq!(c.cmd(&args), int(46));
    assert_eq!(c.cmd(&["RANDOMKEY"]), nil());

    for name in ["DEL", "UNLINK", "EXISTS", "TOUCH"] {
        assert_eq!(
            c.cmd(&[name]),
            err(&format!(
                "ERR wrong number of arguments for '{}' command",
                name.to_lowercase()
            ))
        );
    }

    // EXISTS and TOUCH count a hit or a miss per key; DEL counts neither.
    c.set("h", "1");
    let before = s.hits_misses();
    assert_eq!(c.cmd(&["EXISTS", "h", "x", "h"]), int(2));
    assert_eq!(c.cmd(&["TOUCH", "h", "x"]), int(1));
    assert_eq!(c.cmd(&["DEL", "h", "x"]), int(1));
    let after = s.hits_misses();
    assert_eq!((after.0 - before.0, after.1 - before.1), (3, 2));
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_and_object() {
    let s = TestServer::start("64").await;
    let mut c = s.conn();
    c.set("i", "1");
    c.set("s", "hello");
    c.set("n", "123456");
    c.set("raw", &"x".repeat(45));
    assert_eq!(c.cmd(&["TYPE", "i"]), R::Simple("string".into()));
    assert_eq!(c.cmd(&["TYPE", "nokey"]), R::Simple("none".into()));

    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "i"]), bulk("int"));
    assert_eq!(c.cmd(&["object", "encoding", "s"]), bulk("embstr"));
    assert_eq!(c.cmd(&["OBJECT", "Encoding", "raw"]), bulk("raw"));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "nokey"]), nil());
    // Integers 0..10000 are shared objects in Redis: refcount INT_MAX.
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "i"]), int(2147483647));
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "n"]), int(1));
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "s"]), int(1));
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "nokey"]), nil());
    assert_eq!(c.cmd(&["OBJECT", "IDLETIME", "s"]), int(0));
    assert_eq!(c.cmd(&["OBJECT", "IDLETIME", "nokey"]), nil());
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "nokey"]), nil());
    let lfu_off = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "s"]), err(lfu_off));
    s.shared
        .config
        .set_runtime("maxmemory-policy", "allkeys-lfu")
        .unwrap();
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "s"]), int(0));
    let lfu_on = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    assert_eq!(c.cmd(&["OBJECT", "IDLETIME", "s"]), err(lfu_on));

    match c.cmd(&["OBJECT", "HELP"]) {
        R::Arr(Some(lines)) => {
            assert_eq!(lines.len(), 15);
            assert_eq!(
                lines[0],
                R::Simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into())
            );
            assert_eq!(lines[14], R::Simple("    Prints this help.".into()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.cmd(&["oBjEct", "FoO", "bar"]),
        err("ERR unknown subcommand 'FoO'. Try OBJECT HELP.")
    );
    let long = "y".repeat(200);
    assert_eq!(
        c.cmd(&["OBJECT", &long]),
        err(&format!(
            "ERR unknown subcommand '{}'. Try OBJECT HELP.",
            "y".repeat(128)
        ))
    );
    assert_eq!(
        c.cmd(&["OBJECT", "ENCODING"]),
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        c.cmd(&["OBJECT", "REFCOUNT", "a", "b"]),
        err("ERR wrong number of arguments for 'object|refcount' command")
    );
    assert_eq!(
        c.cmd(&["OBJECT", "HELP", "x"]),
        err("ERR wrong number of arguments for 'object|help' command")
    );
    assert_eq!(
        c.cmd(&["OBJECT"]),
        err("ERR wrong number of arguments for 'object' command")
    );

    // TYPE and OBJECT count hits and misses.
    let before = s.hits_misses();
    c.cmd(&["TYPE", "s"]);
    c.cmd(&["TYPE", "nokey"]);
    c.cmd(&["OBJECT", "ENCODING", "s"]);
    c.cmd(&["OBJECT", "ENCODING", "nokey"]);
    let after = s.hits_misses();
    assert_eq!((after.0 - before.0, after.1 - before.1), (2, 2));
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_moves_value_and_ttl() {
    let s = TestServer::start("64").await;
    let mut c = s.conn();
    assert_eq!(c.cmd(&["RENAME", "x", "y"]), err("ERR no such key"));
    assert_eq!(c.cmd(&["RENAME", "x", "x"]), err("ERR no such key"));
    assert_eq!(c.cmd(&["RENAMENX", "x", "x"]), err("ERR no such key"));

    c.set("a", "1");
    assert_eq!(c.cmd(&["RENAME", "a", "a"]), ok());
    assert_eq!(c.cmd(&["RENAMENX", "a", "a"]), int(0));
    assert_eq!(c.cmd(&["GET", "a"]), bulk("1"));

    // The TTL travels with the value, across shards or not.
    for i in 0..20 {
        let (src, dst) = (format!("src{i}"), format!("dst{i}"));
        c.set(&src, "v");
        assert_eq!(c.cmd(&["EXPIRE", &src, "100"]), int(1));
        assert_eq!(c.cmd(&["RENAME", &src, &dst]), ok());
        assert_eq!(c.cmd(&["EXISTS", &src]), int(0));
        assert_eq!(c.cmd(&["PTTL", &dst]), int(100_000));
        assert_eq!(c.cmd(&["GET", &dst]), bulk("v"));
    }
    // Overwriting a key with a TTL by one without leaves no TTL.
    c.set("plain", "p");
    assert_eq!(c.cmd(&["RENAME", "plain", "dst0"]), ok());
    assert_eq!(c.cmd(&["TTL", "dst0"]), int(-1));
    assert_eq!(c.cmd(&["GET", "dst0"]), bulk("p"));

    // RENAMENX leaves an existing target alone.
    c.set("b", "2");
    assert_eq!(c.cmd(&["RENAMENX", "a", "b"]), int(0));
    assert_eq!(c.cmd(&["GET", "a"]), bulk("1"));
    assert_eq!(c.cmd(&["GET", "b"]), bulk("2"));
    assert_eq!(c.cmd(&["RENAMENX", "a", "fresh"]), int(1));
    assert_eq!(c.cmd(&["GET", "fresh"]), bulk("1"));
    assert_eq!(c.cmd(&["EXISTS", "a"]), int(0));

    // An expired source is missing; an expired target is free.
    c.set("old", "o");
    c.cmd(&["PEXPIRE", "old", "10"]);
    c.cmd(&["PEXPIRE", "b", "10"]);
    s.clock.advance(10);
    assert_eq!(c.cmd(&["RENAME", "old", "z"]), err("ERR no such key"));
    assert_eq!(c.cmd(&["RENAMENX", "fresh", "b"]), int(1));
    assert_eq!(c.cmd(&["TTL", "b"]), int(-1));

    assert_eq!(
        c.cmd(&["RENAME", "b"]),
        err("ERR wrong number of arguments for 'rename' command")
    );
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_options_and_errors() {
    let s = TestServer::start("64").await;
    let mut c = s.conn();
    c.set("k", "v");
    let nx_err = "ERR NX and XX, GT or LT options at the same time are not compatible";
    let gtlt_err = "ERR GT and LT options at the same time are not compatible";
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "nx", "xx"]), err(nx_err));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "NX", "GT"]), err(nx_err));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "nx", "lt"]), err(nx_err));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "gt", "lt"]), err(gtlt_err));
    // Options are checked before the number.
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "abc", "foo"]),
        err("ERR Unsupported option foo")
    );
    let not_int = "ERR value is not an integer or out of range";
    for bad in ["abc", "1.5", "", "01", "+1"] {
        assert_eq!(c.cmd(&["EXPIRE", "k", bad]), err(not_int), "{bad:?}");
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
        assert_eq!(c.cmd(&[cmd, "k", n]), err(&want), "{cmd} {n}");
        assert_eq!(c.cmd(&[cmd, "nokey", n]), err(&want), "{cmd} {n}");
    }
    assert_eq!(c.cmd(&["TTL", "k"]), int(-1));
    assert_eq!(c.cmd(&["EXPIRE", "nokey", "100"]), int(0));
    assert_eq!(
        c.cmd(&["EXPIRE", "k"]),
        err("ERR wrong number of arguments for 'expire' command")
    );

    // No TTL counts as infinite: GT never passes, LT always does.
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "gt"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "xx"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "lt"]), int(1));
    assert_eq!(c.cmd(&["TTL", "k"]), int(100));
    assert_eq!(c.cmd(&["EXPIRE", "k", "50", "gt"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "gt"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "200", "GT"]), int(1));
    assert_eq!(c.cmd(&["TTL", "k"]), int(200));
    assert_eq!(c.cmd(&["EXPIRE", "k", "200", "lt"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "lt"]), int(1));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "nx"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "300", "xx"]), int(1));
    assert_eq!(c.cmd(&["EXPIRE", "k", "300", "NX", "nx"]), int(0));
    assert_eq!(c.cmd(&["TTL", "k"]), int(300));
    assert_eq!(c.cmd(&["PERSIST", "k"]), int(1));
    assert_eq!(c.cmd(&["PERSIST", "k"]), int(0));
    assert_eq!(c.cmd(&["PERSIST", "nokey"]), int(0));
    assert_eq!(c.cmd(&["TTL", "k"]), int(-1));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "xx"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "nx"]), int(1));

    // An expiry now or in the past deletes the key and replies 1; GT fails
    // before that for a key without a TTL.
    c.set("k", "v");
    assert_eq!(c.cmd(&["EXPIRE", "k", "-1", "gt"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "0"]), int(1));
    assert_eq!(c.cmd(&["EXISTS", "k"]), int(0));
    for args in [
        &["EXPIRE", "k", "-9223372036854775"][..],
        &["PEXPIRE", "k", "-9223372036854775808"],
        &["PEXPIRE", "k", "0"],
        &["EXPIREAT", "k", "1"],
        &["PEXPIREAT", "k", "0"],
        &["PEXPIREAT", "k", &T0.to_string()],
        &["EXPIRE", "k", "-1", "lt"],
    ] {
        c.set("k", "v");
        assert_eq!(c.cmd(args), int(1), "{args:?}");
        assert_eq!(c.cmd(&["EXISTS", "k"]), int(0), "{args:?}");
    }
    // One millisecond ahead is still alive.
    c.set("k", "v");
    assert_eq!(c.cmd(&["PEXPIREAT", "k", &(T0 + 1).to_string()]), int(1));
    assert_eq!(c.cmd(&["PTTL", "k"]), int(1));
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_family_and_lazy_expiry() {
    let s = TestServer::start("64").await;
    let mut c = s.conn();
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(c.cmd(&[cmd, "nokey"]), int(-2), "{cmd}");
    }
    c.set("k", "v");
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(c.cmd(&[cmd, "k"]), int(-1), "{cmd}");
    }
    assert_eq!(c.cmd(&["PEXPIRE", "k", "10400"]), int(1));
    assert_eq!(c.cmd(&["TTL", "k"]), int(10));
    assert_eq!(c.cmd(&["PTTL", "k"]), int(10_400));
    assert_eq!(c.cmd(&["PEXPIRETIME", "k"]), int((T0 + 10_400) as i64));
    assert_eq!(
        c.cmd(&["EXPIRETIME", "k"]),
        int(((T0 + 10_400) / 1000) as i64)
    );
    // Seconds round to the nearest, as Redis' (ms + 500) / 1000.
    s.clock.advance(900);
    assert_eq!(c.cmd(&["TTL", "k"]), int(10));
    assert_eq!(c.cmd(&["PTTL", "k"]), int(9_500));
    s.clock.advance(1);
    assert_eq!(c.cmd(&["TTL", "k"]), int(9));
    assert_eq!(c.cmd(&["PEXPIREAT", "k", "33177600000500"]), int(1));
    assert_eq!(c.cmd(&["EXPIRETIME", "k"]), int(33_177_600_001));
    assert_eq!(c.cmd(&["PEXPIREAT", "k", "33177600000499"]), int(1));
    assert_eq!(c.cmd(&["EXPIRETIME", "k"]), int(33_177_600_000));
    assert_eq!(c.cmd(&["PEXPIREAT", "k", "9223372036854775807"]), int(1));
    assert_eq!(c.cmd(&["PEXPIRETIME", "k"]), int(i64::MAX));
    assert_eq!(c.cmd(&["EXPIRETIME", "k"]), int(9_223_372_036_854_776));
    assert_eq!(c.cmd(&["EXPIREAT", "k", "9223372036854775"]), int(1));
    assert_eq!(c.cmd(&["EXPIRETIME", "k"]), int(9_223_372_036_854_775));

    // A key past its TTL is reported by nothing.
    c.set("gone", "v");
    c.set("stays", "v");
    assert_eq!(c.cmd(&["PEXPIRE", "gone", "5"]), int(1));
    assert_eq!(c.cmd(&["DEL", "k"]), int(1));
    s.clock.advance(5);
    assert_eq!(c.cmd(&["EXISTS", "gone"]), int(0));
    assert_eq!(c.cmd(&["TOUCH", "gone"]), int(0));
    assert_eq!(c.cmd(&["TYPE", "gone"]), R::Simple("none".into()));
    assert_eq!(c.cmd(&["TTL", "gone"]), int(-2));
    assert_eq!(c.cmd(&["PTTL", "gone"]), int(-2));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "gone"]), nil());
    assert_eq!(c.cmd(&["PERSIST", "gone"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "gone", "100"]), int(0));
    assert_eq!(c.cmd(&["DEL", "gone"]), int(0));

    // KEYS, SCAN and RANDOMKEY skip expired keys still in memory.
    c.set("gone2", "v");
    assert_eq!(c.cmd(&["PEXPIRE", "gone2", "5"]), int(1));
    s.clock.advance(5);
    assert_eq!(c.sorted(&["KEYS", "*"]), ["stays"]);
    assert_eq!(
        c.scan_all(&[]).into_keys().collect::<Vec<_>>(),
        ["stays".to_string()]
    );
    for _ in 0..20 {
        assert_eq!(c.cmd(&["RANDOMKEY"]), bulk("stays"));
    }

    // TTL counts a hit or a miss; EXPIRE and PERSIST count neither.
    let before = s.hits_misses();
    c.cmd(&["TTL", "stays"]);
    c.cmd(&["PTTL", "nokey"]);
    c.cmd(&["EXPIRETIME", "stays"]);
    c.cmd(&["EXPIRE", "stays", "100"]);
    c.cmd(&["PERSIST", "stays"]);
    let after = s.hits_misses();
    assert_eq!((after.0 - before.0, after.1 - before.1), (2, 1));
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_matches_glob_patterns() {
    let s = TestServer::start("64").await;
    let mut c = s.conn();
    assert_eq!(c.cmd(&["KEYS", "*"]), R::Arr(Some(vec![])));
    for k in ["a", "b", "abc", "hello", "hallo", "hxllo", "h*llo"] {
        c.set(k, "1");
    }
    assert_eq!(c.sorted(&["KEYS", "a*"]), ["a", "abc"]);
    assert_eq!(
        c.sorted(&["KEYS", "h?llo"]),
        ["h*llo", "hallo", "hello", "hxllo"]
    );
    assert_eq!(c.sorted(&["KEYS", "h[ae]llo"]), ["hallo", "hello"]);
    assert_eq!(c.sorted(&["KEYS", "h[^e]llo"]), ["h*llo", "hallo", "hxllo"]);
    assert_eq!(c.sorted(&["KEYS", "h\\*llo"]), ["h*llo"]);
    assert_eq!(c.sorted(&["KEYS", "nomatch*"]), Vec::<String>::new());
    assert_eq!(c.sorted(&["KEYS", "*"]).len(), 7);
    // Another database sees none of them.
    if c.cmd(&["SELECT", "1"]) == ok() {
        assert_eq!(c.cmd(&["KEYS", "*"]), R::Arr(Some(vec![])));
    }
    assert_eq!(
        c.cmd(&["KEYS"]),
        err("ERR wrong number of arguments for 'keys' command")
    );
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_options_and_errors() {
    for shards in ["1", "4", "64"] {
        let s = TestServer::start(shards).await;
        let mut c = s.conn();
        assert_eq!(c.scan(&["SCAN", "0"]), ("0".to_string(), vec![]));
        for i in 0..300 {
            c.set(&format!("key:{i}"), "1");
        }
        for count in ["1", "7", "10", "1000"] {
            let seen = c.scan_all(&["COUNT", count]);
            assert_eq!(seen.len(), 300, "shards {shards} count {count}");
            assert!(seen.values().all(|&n| n == 1), "duplicates");
        }
        // COUNT bounds the entries visited per call.
        let (cursor, keys) = c.scan(&["SCAN", "0", "COUNT", "5"]);
        assert_ne!(cursor, "0");
        assert!(keys.len() <= 5, "{keys:?}");
        // A large COUNT returns everything at once.
        let (cursor, keys) = c.scan(&["SCAN", "0", "COUNT", "9223372036854775807"]);
        assert_eq!((cursor.as_str(), keys.len()), ("0", 300));

        let m = c.scan_all(&["MATCH", "key:1?"]);
        assert_eq!(m.len(), 10);
        let m = c.scan_all(&["match", "key:2*", "count", "3", "type", "STRING"]);
        assert_eq!(m.len(), 111);
        assert!(c.scan_all(&["TYPE", "hash"]).is_empty());
        // The last TYPE wins, as in Redis.
        assert!(c.scan_all(&["TYPE", "string", "TYPE", "list"]).is_empty());

        // Cursors are parsed as Redis' strtoul.
        assert_eq!(c.scan(&["SCAN", "", "COUNT", "1000"]).1.len(), 300);
        assert_eq!(c.scan(&["SCAN", "+0", "COUNT", "1000"]).1.len(), 300);
        for bad in ["abc", " 0", "-", "0x1", "18446744073709551616"] {
            assert_eq!(c.cmd(&["SCAN", bad]), err("ERR invalid cursor"), "{bad:?}");
        }
        // Any number is a cursor: a made-up one must not fail.
        assert!(matches!(c.cmd(&["SCAN", "-1"]), R::Arr(Some(_))));
        assert!(matches!(c.cmd(&["SCAN", "123456789"]), R::Arr(Some(_))));

        assert_eq!(c.cmd(&["SCAN", "0", "COUNT", "0"]), err("ERR syntax error"));
        assert_eq!(
            c.cmd(&["SCAN", "0", "COUNT", "-1"]),
            err("ERR syntax error")
        );
        assert_eq!(
            c.cmd(&["SCAN", "0", "COUNT", "x"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(c.cmd(&["SCAN", "0", "MATCH"]), err("ERR syntax error"));
        assert_eq!(c.cmd(&["SCAN", "0", "foo", "bar"]), err("ERR syntax error"));
        assert_eq!(
            c.cmd(&["SCAN", "x", "COUNT", "0"]),
            err("ERR invalid cursor")
        );
        assert_eq!(
            c.cmd(&["SCAN"]),
            err("ERR wrong number of arguments for 'scan' command")
        );
        drop(c);
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_returns_stable_keys_despite_concurrent_churn() {
    let s = TestServer::start("8").await;
    let mut c = s.conn();
    let stable: HashSet<String> = (0..500).map(|i| format!("stable:{i}")).collect();
    for k in &stable {
        c.set(k, "1");
    }
    // Another client adds and removes keys concurrently, through the
    // `redis` crate.
    let client = redis::Client::open(format!("redis://{}", s.addr)).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
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
        let (next, keys) = c.scan(&["SCAN", &cursor, "COUNT", "3"]);
        seen.extend(keys);
        let k = format!("mine:{round}");
        c.set(&k, "x");
        if round % 2 == 0 {
            c.cmd(&["DEL", &k]);
        }
        if round >= 3 {
            c.cmd(&["DEL", &format!("mine:{}", round - 3)]);
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
    let s = TestServer::start("64").await;
    let mut c = s.conn();
    assert_eq!(c.cmd(&["RANDOMKEY"]), nil());
    assert_eq!(
        c.cmd(&["RANDOMKEY", "x"]),
        err("ERR wrong number of arguments for 'randomkey' command")
    );
    for k in ["a", "b", "c"] {
        c.set(k, "1");
    }
    let mut seen = HashSet::new();
    for _ in 0..300 {
        match c.cmd(&["RANDOMKEY"]) {
            R::Bulk(Some(k)) => {
                seen.insert(String::from_utf8(k).unwrap());
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    // Only expired keys left: nil.
    for k in ["a", "b", "c"] {
        c.cmd(&["PEXPIRE", k, "1"]);
    }
    s.clock.advance(1);
    assert_eq!(c.cmd(&["RANDOMKEY"]), nil());
    drop(c);
    s.stop().await;
}

/// Sends `args` as raw bytes and returns the reply's first line, CRLF
/// included (for error replies that quote binary arguments).
fn reply_line(c: &mut Conn, args: &[&[u8]]) -> Vec<u8> {
    let mut buf = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
    c.w.write_all(&buf).unwrap();
    let mut line = Vec::new();
    c.r.read_until(b'\n', &mut line).unwrap();
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_texts_quote_client_bytes_exactly() {
    // Every expected line is what Redis 7.0.15 sent for the same bytes: the
    // argument's raw bytes up to its first NUL, inner CR/LF as spaces,
    // trailing ones trimmed, 128-byte cuts where Redis uses `%.128s`.
    let s = TestServer::start("64").await;
    let mut c = s.conn();
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
        let got = reply_line(&mut c, args);
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
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        R::Arr(Some(vec![bulk("maxmemory"), bulk("0")]))
    );
    drop(c);
    s.stop().await;
}
