//! Limits and malformed input, end to end: protocol errors reply
//! `-ERR Protocol error: ...` and close the connection (as Redis 7 does),
//! huge declared sizes allocate nothing, unauthenticated clients get tighter
//! limits, `maxclients` and `client-query-buffer-limit` hold, and one bad
//! connection never disturbs another.
//!
//! Error texts were checked against `redis-server` 7.0.

mod common;

use common::{encode, encode_into, Frame, RawConn, TestServer};

/// Sends `input` on a fresh connection and asserts Redis' reaction: the
/// replies in `before` (from commands ahead of the bad one), then
/// `-ERR <error>`, then the server closes the connection.
async fn assert_protocol_error(server: &TestServer, input: &[u8], before: &[Frame], error: &str) {
    let mut c = server.raw().await;
    // The server may close before reading everything: a failed write is fine.
    let _ = c.try_send(input).await;
    let shown = common::Escaped(&input[..input.len().min(40)]).to_string();
    for want in before {
        assert_eq!(&c.read_reply().await, want, "input {shown}");
    }
    assert_eq!(
        c.next_reply().await,
        Some(Frame::Error(format!("ERR {error}"))),
        "input {shown}"
    );
    let rest = c.read_to_eof().await;
    assert!(
        rest.is_empty(),
        "input {shown}: bytes after the error: {}",
        common::Escaped(&rest)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_reply_protocol_error_and_close() {
    let server = TestServer::start().await;
    let long_digits = |head: &[u8]| {
        let mut v = head.to_vec();
        v.extend(std::iter::repeat_n(b'1', 70_000));
        v
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"*abc\r\n".to_vec(),
            "Protocol error: invalid multibulk length",
        ),
        (
            b"*3000000000\r\n".to_vec(),
            "Protocol error: invalid multibulk length",
        ),
        (
            b"*1\r\n$-5\r\n".to_vec(),
            "Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$abc\r\n".to_vec(),
            "Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\nx\r\n".to_vec(),
            "Protocol error: expected '$', got 'x'",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n:1\r\n".to_vec(),
            "Protocol error: expected '$', got ':'",
        ),
        (
            long_digits(b"*"),
            "Protocol error: too big mbulk count string",
        ),
        (
            long_digits(b"*1\r\n$"),
            "Protocol error: too big bulk count string",
        ),
        (vec![b'A'; 70_000], "Protocol error: too big inline request"),
        (
            b"SET k \"abc\r\n".to_vec(),
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"SET k 'abc\r\n".to_vec(),
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"SET k \"a\"b\r\n".to_vec(),
            "Protocol error: unbalanced quotes in request",
        ),
    ];
    for (input, error) in &cases {
        assert_protocol_error(&server, input, &[], error).await;
    }
    // Commands ahead of the bad frame run; nothing after it does.
    assert_protocol_error(
        &server,
        b"SET a 1\r\nPING\r\n*abc\r\nSET a 2\r\n",
        &[Frame::ok(), Frame::simple("PONG")],
        "Protocol error: invalid multibulk length",
    )
    .await;
    let mut c = server.raw().await;
    assert_eq!(c.cmd(&["GET", "a"]).await, Frame::bulk("1"));
    server.stop().await;
}

/// A bulk longer than `proto-max-bulk-len` (set at start-up) is a protocol
/// error; one of exactly that length is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_above_proto_max_bulk_len_at_startup() {
    let server = TestServer::start_with(|cfg| {
        cfg.set_startup("proto-max-bulk-len", "1024").unwrap();
    })
    .await;
    let mut c = server.raw().await;
    let ok = vec![b'v'; 1024];
    assert_eq!(c.cmd(&[&b"SET"[..], b"k", &ok]).await, Frame::ok());
    assert_eq!(c.cmd(&["GET", "k"]).await, Frame::bulk(&ok));
    assert_protocol_error(
        &server,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1025\r\n",
        &[],
        "Protocol error: invalid bulk length",
    )
    .await;
    server.stop().await;
}

/// `CONFIG SET proto-max-bulk-len` applies to the next request (Redis'
/// smallest allowed value is 1mb).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_above_proto_max_bulk_len_via_config_set() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1048576"])
            .await,
        Frame::ok()
    );
    assert_protocol_error(
        &server,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n",
        &[],
        "Protocol error: invalid bulk length",
    )
    .await;
    let exact = vec![b'x'; 1 << 20];
    assert_eq!(c.cmd(&[&b"SET"[..], b"k", &exact]).await, Frame::ok());
    server.stop().await;
}

/// Declaring 2^31-1 arguments or a 512 MiB bulk, and sending nothing more,
/// makes the server allocate nothing big: resident memory stays flat and
/// other clients are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_declared_lengths_allocate_nothing() {
    let server = TestServer::start().await;
    let mut other = server.raw().await;
    assert_eq!(other.inline("PING").await, Frame::simple("PONG"));
    let rss_before = common::rss_bytes();
    let vm_before = common::vm_size_bytes();

    let mut hogs = Vec::new();
    for i in 0..8 {
        let mut c = server.raw().await;
        let input: &[u8] = match i % 4 {
            0 => b"*2147483647\r\n",
            1 => b"*1\r\n$536870912\r\n",
            2 => b"*2147483647\r\n$536870912\r\nabc",
            _ => b"*2\r\n$3\r\nGET\r\n$536870912\r\nabcdef",
        };
        c.send(input).await;
        hogs.push(c);
    }
    // Each waits for the rest of its request; the server answers others.
    for i in 0..20 {
        assert_eq!(
            other.cmd(&["SET", &format!("k{i}"), "v"]).await,
            Frame::ok()
        );
    }
    assert_eq!(other.inline("PING").await, Frame::simple("PONG"));

    if let (Some(before), Some(after)) = (rss_before, common::rss_bytes()) {
        let grew = after.saturating_sub(before);
        if let (Some(vb), Some(va)) = (vm_before, common::vm_size_bytes()) {
            eprintln!(
                "huge declarations: RSS grew {} KiB, virtual size grew {} KiB",
                grew / 1024,
                va.saturating_sub(vb) / 1024
            );
        }
        assert!(
            grew < 64 << 20,
            "resident memory grew by {} MiB after huge declared lengths",
            grew >> 20
        );
    }
    drop(hogs);
    assert_eq!(other.inline("PING").await, Frame::simple("PONG"));
    server.stop().await;
}

/// With `requirepass`, a client that has not authenticated may declare at
/// most 10 arguments and 16 KiB bulks; after AUTH the usual limits apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_limits() {
    let server = TestServer::start_with(|cfg| {
        cfg.set_startup("requirepass", "secret").unwrap();
    })
    .await;
    assert_protocol_error(
        &server,
        b"*11\r\n",
        &[],
        "Protocol error: unauthenticated multibulk length",
    )
    .await;
    assert_protocol_error(
        &server,
        b"*2\r\n$4\r\nAUTH\r\n$16385\r\n",
        &[],
        "Protocol error: unauthenticated bulk length",
    )
    .await;

    let mut c = server.raw().await;
    assert_eq!(
        c.cmd(&["GET", "k"]).await,
        Frame::err("NOAUTH Authentication required.")
    );
    // Ten arguments are still allowed (the command itself is refused).
    let ten: Vec<&str> = std::iter::once("GET").chain(["a"; 9]).collect();
    assert_eq!(
        c.cmd(&ten).await,
        Frame::err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.cmd(&["AUTH", "wrong"]).await,
        Frame::err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(c.cmd(&["AUTH", "secret"]).await, Frame::ok());

    let eleven: Vec<&str> = std::iter::once("PING").chain(["a"; 10]).collect();
    assert_eq!(
        c.cmd(&eleven).await,
        Frame::err("ERR wrong number of arguments for 'ping' command")
    );
    let big = vec![b'b'; 20_000];
    assert_eq!(c.cmd(&[&b"SET"[..], b"k", &big]).await, Frame::ok());
    assert_eq!(c.cmd(&["GET", "k"]).await, Frame::bulk(&big));
    server.stop().await;
}

/// Waits (bounded) until the server counts at most `n` clients.
async fn wait_for_clients(server: &TestServer, n: usize) {
    for _ in 0..500 {
        if server.shared.clients.len() <= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "server still counts {} clients, expected at most {n}",
        server.shared.clients.len()
    );
}

/// Over `maxclients`, a new connection gets the error and is closed; once
/// a client leaves, a new one is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxclients_rejects_the_extra_connection() {
    let server = TestServer::start_with(|cfg| {
        cfg.set_startup("maxclients", "2").unwrap();
    })
    .await;
    let mut a = server.raw().await;
    let mut b = server.raw().await;
    assert_eq!(a.inline("PING").await, Frame::simple("PONG"));
    assert_eq!(b.inline("PING").await, Frame::simple("PONG"));

    let mut third = server.raw().await;
    assert_eq!(
        third.next_reply().await,
        Some(Frame::err("ERR max number of clients reached"))
    );
    assert!(third.read_to_eof().await.is_empty());

    assert_eq!(a.inline("PING").await, Frame::simple("PONG"));
    drop(b);
    wait_for_clients(&server, 1).await;
    let mut fourth = server.raw().await;
    assert_eq!(fourth.inline("PING").await, Frame::simple("PONG"));
    server.stop().await;
}

/// A request that outgrows `client-query-buffer-limit` closes its
/// connection without running it; within the limit it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_query_buffer_limit_closes_the_connection() {
    let server = TestServer::start_with(|cfg| {
        cfg.set_startup("client-query-buffer-limit", "1mb").unwrap();
    })
    .await;
    let mut c = server.raw().await;
    let fits = vec![b'f'; 900_000];
    assert_eq!(c.cmd(&[&b"SET"[..], b"fits", &fits]).await, Frame::ok());

    let mut bad = server.raw().await;
    let too_big = encode(&[&b"SET"[..], b"k", &vec![b'x'; 2 << 20]]);
    let _ = bad.try_send(&too_big).await;
    let rest = bad.read_to_eof().await;
    assert!(
        !rest.starts_with(b"+OK"),
        "the oversized SET ran: {}",
        common::Escaped(&rest)
    );

    assert_eq!(c.cmd(&["GET", "k"]).await, Frame::NullBulk);
    assert_eq!(c.cmd(&["GET", "fits"]).await, Frame::bulk(&fits));
    server.stop().await;
}

/// A connection sending garbage in the middle of another's pipeline does
/// not disturb it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_connection_does_not_affect_another() {
    let server = TestServer::start().await;
    let mut good = server.raw().await;
    let mut batch = Vec::new();
    for i in 0..200 {
        encode_into(&mut batch, &["SET", &format!("g{i}"), &i.to_string()]);
    }
    let (first, second) = batch.split_at(batch.len() / 2 + 3);
    good.send(first).await;

    let mut bad = RawConn::connect(server.addr).await;
    let _ = bad.try_send(b"*1\r\n$-5\r\n").await;
    assert_eq!(
        bad.next_reply().await,
        Some(Frame::err("ERR Protocol error: invalid bulk length"))
    );
    assert!(bad.read_to_eof().await.is_empty());

    good.send(second).await;
    for _ in 0..200 {
        good.expect(Frame::ok()).await;
    }
    for i in 0..200 {
        assert_eq!(
            good.cmd(&["GET", &format!("g{i}")]).await,
            Frame::bulk(i.to_string())
        );
    }
    server.stop().await;
}
