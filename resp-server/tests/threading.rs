//! The two concurrency models (`threading striped` and `shard-per-thread`,
//! `docs/design/concurrency.md`) pass the same functional checks: pipelines
//! mixing keys of every shard, `MGET`/`MSET` across shards, `SELECT` and
//! `HELLO` between keyed commands, 20 concurrent clients, and the
//! connection lifecycle (`maxclients`, `CLIENT KILL`, shutdown).
//!
//! Shard-per-thread runs 3 worker threads, so most pipelines send commands
//! to two other threads and the replies must be stitched back in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use resp_server::clock::ManualClock;
use resp_server::config::ConfigStore;
use resp_server::server::Server;
use resp_server::shared::Shared;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Longest any step may take before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(20);

struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

async fn start(mode: &str, configure: impl FnOnce(&ConfigStore)) -> TestServer {
    let cfg = ConfigStore::default();
    cfg.set_startup("port", "0").unwrap();
    cfg.set_startup("threading", mode).unwrap();
    cfg.set_startup("threads", "3").unwrap();
    configure(&cfg);
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let server = Server::bind_with_clock(cfg, clock).await.unwrap();
    let addr = server.local_addr();
    let shared = server.shared();
    let task = tokio::spawn(server.run());
    TestServer { addr, shared, task }
}

impl TestServer {
    async fn redis(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(format!("redis://{}", self.addr)).unwrap();
        tokio::time::timeout(STEP, client.get_multiplexed_async_connection())
            .await
            .expect("connect in time")
            .unwrap()
    }

    async fn stop(self) {
        self.shared.shutdown();
        tokio::time::timeout(STEP, self.task)
            .await
            .expect("server stops in time")
            .unwrap();
    }
}

async fn query(con: &mut redis::aio::MultiplexedConnection, pipe: &redis::Pipeline) -> Vec<Value> {
    tokio::time::timeout(STEP, pipe.query_async(con))
        .await
        .expect("replies in time")
        .unwrap()
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn ok() -> Value {
    Value::Okay
}

/// One RESP multibulk command.
fn resp(out: &mut Vec<u8>, args: &[&str]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
}

fn resp_bulk(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(format!("${}\r\n{s}\r\n", s.len()).as_bytes());
}

/// Sends `request` in one write and reads until the reply ends with `tail`;
/// returns everything read.
async fn exchange(stream: &mut TcpStream, request: &[u8], tail: &[u8]) -> Vec<u8> {
    exchange_until(stream, request, |got| got.ends_with(tail)).await
}

/// Sends `request` in one write and reads until `done` says the reply is
/// whole; returns everything read.
async fn exchange_until(
    stream: &mut TcpStream,
    request: &[u8],
    done: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
    stream.write_all(request).await.unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !done(&got) {
        let n = tokio::time::timeout(STEP, stream.read(&mut buf))
            .await
            .expect("reply in time")
            .unwrap();
        assert!(n > 0, "connection closed after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Reads until the peer closes; fails if it does not in time.
async fn expect_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 256];
    loop {
        let n = tokio::time::timeout(STEP, stream.read(&mut buf))
            .await
            .expect("closed in time");
        match n {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

macro_rules! in_both_modes {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn striped() {
                super::$check("striped").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn shard_per_thread() {
                super::$check("shard-per-thread").await;
            }
        }
    )*};
}

in_both_modes!(
    pipeline_mixing_all_shards,
    one_big_batch_keeps_order,
    mget_mset_across_shards,
    select_and_hello_between_keyed_commands,
    twenty_concurrent_clients,
    maxclients_kill_and_shutdown,
);

async fn pipeline_mixing_all_shards(mode: &str) {
    let server = start(mode, |_| {}).await;
    let mut con = server.redis().await;
    let n = 500;
    let mut pipe = redis::pipe();
    let mut want = Vec::new();
    for i in 0..n {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i);
        want.push(ok());
        if i % 50 == 0 {
            pipe.cmd("PING");
            want.push(Value::SimpleString("PONG".into()));
        }
    }
    for i in 0..n {
        pipe.cmd("GET").arg(format!("key:{i}"));
        want.push(bulk(&i.to_string()));
        pipe.cmd("INCR").arg(format!("key:{i}"));
        want.push(Value::Int(i + 1));
        pipe.cmd("ECHO").arg(i);
        want.push(bulk(&i.to_string()));
        if i % 3 == 0 {
            pipe.cmd("DEL").arg(format!("key:{i}"));
            want.push(Value::Int(1));
            pipe.cmd("GET").arg(format!("key:{i}"));
            want.push(Value::Nil);
        }
    }
    assert_eq!(query(&mut con, &pipe).await, want);
    let left = (0..n).filter(|i| i % 3 != 0).count();
    assert_eq!(server.shared.keyspace.dbsize(0), left);
    server.stop().await;
}

async fn one_big_batch_keeps_order(mode: &str) {
    let server = start(mode, |_| {}).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut req, mut want) = (Vec::new(), Vec::new());
    for i in 0..3000 {
        let (k, next) = (format!("r:{i}"), format!("r:{}", i + 1));
        resp(&mut req, &["SET", &k, &format!("v{i}")]);
        want.extend_from_slice(b"+OK\r\n");
        resp(&mut req, &["GET", &k]);
        resp_bulk(&mut want, &format!("v{i}"));
        resp(&mut req, &["GET", &next]);
        want.extend_from_slice(b"$-1\r\n");
        resp(&mut req, &["APPEND", &k, "+"]);
        want.extend_from_slice(format!(":{}\r\n", format!("v{i}").len() + 1).as_bytes());
    }
    resp(&mut req, &["PING", "end"]);
    resp_bulk(&mut want, "end");
    let got = exchange(&mut stream, &req, b"$3\r\nend\r\n").await;
    assert!(got == want, "replies differ from the expected sequence");
    server.stop().await;
}

async fn mget_mset_across_shards(mode: &str) {
    let server = start(mode, |_| {}).await;
    let mut con = server.redis().await;
    let keys: Vec<String> = (0..64).map(|i| format!("m:{i}")).collect();
    let mut pipe = redis::pipe();
    let mut mset = redis::cmd("MSET");
    for k in &keys {
        mset.arg(k).arg(format!("val-{k}"));
    }
    pipe.add_command(mset);
    let mut mget = redis::cmd("MGET");
    for k in &keys {
        mget.arg(k).arg(format!("missing-{k}"));
    }
    pipe.add_command(mget);
    pipe.cmd("SET").arg("x").arg(1);
    pipe.cmd("MGET").arg("x").arg("y");
    pipe.cmd("SET").arg("y").arg(2);
    pipe.cmd("MGET").arg("x").arg("y");
    pipe.cmd("INCR").arg("x");
    pipe.cmd("DEL").arg("x").arg("y").arg("m:0");
    pipe.cmd("MGET").arg("x").arg("y").arg("m:0").arg("m:1");
    pipe.cmd("EXISTS").arg(&keys[..]);
    let got = query(&mut con, &pipe).await;
    let mut values = Vec::new();
    for k in &keys {
        values.push(bulk(&format!("val-{k}")));
        values.push(Value::Nil);
    }
    let want = vec![
        ok(),
        Value::Array(values),
        ok(),
        Value::Array(vec![bulk("1"), Value::Nil]),
        ok(),
        Value::Array(vec![bulk("1"), bulk("2")]),
        Value::Int(2),
        Value::Int(3),
        Value::Array(vec![Value::Nil, Value::Nil, Value::Nil, bulk("val-m:1")]),
        Value::Int(63),
    ];
    assert_eq!(got, want);
    server.stop().await;
}

async fn select_and_hello_between_keyed_commands(mode: &str) {
    let server = start(mode, |_| {}).await;
    let mut con = server.redis().await;
    let mut pipe = redis::pipe();
    let mut want = Vec::new();
    for i in 0..100 {
        pipe.cmd("SET").arg(format!("k{i}")).arg("db0");
        want.push(ok());
    }
    pipe.cmd("SELECT").arg(1);
    want.push(ok());
    for i in 0..100 {
        pipe.cmd("GET").arg(format!("k{i}"));
        want.push(Value::Nil);
        pipe.cmd("SET").arg(format!("k{i}")).arg("db1");
        want.push(ok());
    }
    pipe.cmd("SELECT").arg(0);
    want.push(ok());
    for i in 0..100 {
        pipe.cmd("GET").arg(format!("k{i}"));
        want.push(bulk("db0"));
    }
    pipe.cmd("SELECT").arg(1);
    want.push(ok());
    pipe.cmd("GET").arg("k7");
    want.push(bulk("db1"));
    pipe.cmd("KEYS").arg("k9*");
    assert_eq!(
        query(&mut con, &pipe).await.split_last().unwrap().1,
        &want[..]
    );
    assert_eq!(server.shared.keyspace.dbsize(1), 100);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("k9*")
        .query_async(&mut con)
        .await
        .unwrap();
    let mut keys = keys;
    keys.sort();
    let mut expected: Vec<String> = std::iter::once("k9".to_string())
        .chain((90..100).map(|i| format!("k{i}")))
        .collect();
    expected.sort();
    assert_eq!(keys, expected);

    // RESP3 replies from other threads: HELLO 3 in the middle of a batch.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut req = Vec::new();
    for i in 0..50 {
        resp(&mut req, &["GET", &format!("k{i}")]);
    }
    resp(&mut req, &["HELLO", "3"]);
    for i in 0..50 {
        resp(&mut req, &["GET", &format!("nosuch{i}")]);
    }
    resp(&mut req, &["PING"]);
    let mut tail = b"_\r\n".repeat(50);
    tail.extend_from_slice(b"+PONG\r\n");
    let got = exchange(&mut stream, &req, &tail).await;
    let head = b"$3\r\ndb0\r\n".repeat(50);
    assert!(got.starts_with(&head), "RESP2 replies before HELLO 3");
    assert_eq!(got[head.len()], b'%', "HELLO 3 replies with a map");
    server.stop().await;
}

async fn twenty_concurrent_clients(mode: &str) {
    let server = start(mode, |_| {}).await;
    let rounds = 50;
    let mut clients = Vec::new();
    for id in 0..20 {
        let mut con = server.redis().await;
        clients.push(tokio::spawn(async move {
            for r in 0..rounds {
                let mut pipe = redis::pipe();
                let own = format!("c{id}:{r}");
                pipe.cmd("INCR").arg(format!("counter:{}", r % 7));
                pipe.cmd("SET").arg(&own).arg(r);
                pipe.cmd("GET").arg(&own);
                pipe.cmd("MGET").arg(&own).arg(format!("c{id}:{}", r + 1));
                pipe.cmd("INCRBY").arg(&own).arg(id);
                let got = query(&mut con, &pipe).await;
                assert_eq!(got.len(), 5);
                assert!(matches!(got[0], Value::Int(n) if n >= 1));
                assert_eq!(got[1], ok());
                assert_eq!(got[2], bulk(&r.to_string()));
                assert_eq!(got[3], Value::Array(vec![bulk(&r.to_string()), Value::Nil]));
                assert_eq!(got[4], Value::Int(r + id));
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    let mut con = server.redis().await;
    let mut mget = redis::cmd("MGET");
    for i in 0..7 {
        mget.arg(format!("counter:{i}"));
    }
    let counters: Vec<i64> = mget.query_async(&mut con).await.unwrap();
    assert_eq!(counters.iter().sum::<i64>(), 20 * rounds);
    assert_eq!(server.shared.keyspace.dbsize(0), 7 + 20 * rounds as usize);
    server.stop().await;
}

async fn maxclients_kill_and_shutdown(mode: &str) {
    let server = start(mode, |c| c.set_startup("maxclients", "3").unwrap()).await;
    let mut conns = Vec::new();
    for i in 0..3 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let mut req = Vec::new();
        resp(&mut req, &["SET", &format!("live{i}"), "1"]);
        resp(&mut req, &["CLIENT", "ID"]);
        let got = exchange_until(&mut s, &req, |g| {
            g.windows(2).filter(|w| w == b"\r\n").count() == 2
        })
        .await;
        let id: u64 = std::str::from_utf8(&got[6..got.len() - 2])
            .unwrap()
            .parse()
            .unwrap();
        conns.push((s, id));
    }
    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(STEP, extra.read_to_end(&mut buf))
        .await
        .expect("rejected in time")
        .unwrap();
    assert_eq!(buf, b"-ERR max number of clients reached\r\n");

    // CLIENT KILL ID from another connection closes the victim.
    let (mut victim, victim_id) = conns.remove(0);
    let (killer, _) = &mut conns[0];
    let mut req = Vec::new();
    resp(&mut req, &["CLIENT", "KILL", "ID", &victim_id.to_string()]);
    assert_eq!(exchange(killer, &req, b"\r\n").await, b":1\r\n");
    expect_closed(&mut victim).await;

    // A killed client frees its slot.
    let mut again = None;
    for _ in 0..200 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let mut req = Vec::new();
        resp(&mut req, &["GET", "live1"]);
        s.write_all(&req).await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(STEP, s.read(&mut buf))
            .await
            .expect("reply in time")
            .unwrap();
        if &buf[..n] == b"$1\r\n1\r\n" {
            again = Some(s);
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(again.is_some(), "the killed client's slot was never freed");

    // Shutdown closes every connection, and `run` returns.
    let TestServer { shared, task, .. } = server;
    shared.shutdown();
    for (s, _) in &mut conns {
        expect_closed(s).await;
    }
    expect_closed(again.as_mut().unwrap()).await;
    tokio::time::timeout(STEP, task)
        .await
        .expect("server stops in time")
        .unwrap();
}
