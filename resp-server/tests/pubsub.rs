//! Pub/sub over real TCP: `SUBSCRIBE`, `PSUBSCRIBE`, their `UN` forms,
//! `PUBLISH` and `PUBSUB`, in RESP2 (arrays) and RESP3 (push frames).
//!
//! Replies and error texts are Redis 7.0.15's. The last test replays
//! seeded random single-client streams against a real `redis-server` and
//! compares the replies (skipped with a notice without one, unless
//! `REQUIRE_REDIS=1`); replies whose order Redis leaves to its hash tables
//! (`UNSUBSCRIBE` with no argument, `PUBSUB CHANNELS`, messages of several
//! matching patterns) are compared in a canonical order.

mod common;

use std::time::Duration;

use common::{arr, bulk, err, int, ok, Frame, RawConn, RedisProcess, SplitMix64, TestServer};

fn b(s: &str) -> Frame {
    bulk(s)
}

/// A (un)subscribe confirmation or message in RESP2 (`push` false) or
/// RESP3 (`push` true).
fn frame(push: bool, items: Vec<Frame>) -> Frame {
    if push {
        Frame::Push(items)
    } else {
        Frame::Array(items)
    }
}

fn confirm(push: bool, kind: &str, name: &str, count: i64) -> Frame {
    frame(push, vec![b(kind), b(name), int(count)])
}

fn message(push: bool, channel: &str, msg: &str) -> Frame {
    frame(push, vec![b("message"), b(channel), b(msg)])
}

fn pmessage(push: bool, pattern: &str, channel: &str, msg: &str) -> Frame {
    frame(push, vec![b("pmessage"), b(pattern), b(channel), b(msg)])
}

/// Waits (bounded) until `f` holds; the server handles a disconnect on
/// its own task, a little after the client closed.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 5 s: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_and_pattern_overlap_in_both_protocols() {
    for mode in ["striped", "shard-per-thread"] {
        let s = TestServer::start_with(|cfg| {
            cfg.set_startup("threading", mode).expect("threading mode");
            cfg.set_startup("threads", "3").expect("threads");
        })
        .await;
        overlap(&s).await;
        s.stop().await;
    }
}

async fn overlap(s: &TestServer) {
    for resp3 in [false, true] {
        let mut sub = s.raw().await;
        let mut publ = s.raw().await;
        if resp3 {
            sub.cmd(&["HELLO", "3"]).await;
        }
        sub.send_cmd(&["SUBSCRIBE", "news", "sport", "news"]).await;
        sub.expect(confirm(resp3, "subscribe", "news", 1)).await;
        sub.expect(confirm(resp3, "subscribe", "sport", 2)).await;
        sub.expect(confirm(resp3, "subscribe", "news", 2)).await;
        sub.send_cmd(&["PSUBSCRIBE", "n*", "x?z"]).await;
        sub.expect(confirm(resp3, "psubscribe", "n*", 3)).await;
        sub.expect(confirm(resp3, "psubscribe", "x?z", 4)).await;

        // Channel and matching pattern: two deliveries, channel first.
        assert_eq!(publ.cmd(&["PUBLISH", "news", "hi"]).await, int(2));
        sub.expect(message(resp3, "news", "hi")).await;
        sub.expect(pmessage(resp3, "n*", "news", "hi")).await;
        assert_eq!(publ.cmd(&["PUBLISH", "nope", "p"]).await, int(1));
        sub.expect(pmessage(resp3, "n*", "nope", "p")).await;
        assert_eq!(publ.cmd(&["PUBLISH", "sport", "s"]).await, int(1));
        sub.expect(message(resp3, "sport", "s")).await;
        assert_eq!(publ.cmd(&["PUBLISH", "other", "o"]).await, int(0));
        // Binary-safe channel and message.
        sub.send_cmd(&["SUBSCRIBE", "bin\r\n\0"]).await;
        sub.expect(confirm(resp3, "subscribe", "bin\r\n\0", 5))
            .await;
        assert_eq!(publ.cmd(&["PUBLISH", "bin\r\n\0", "\0\r\n"]).await, int(1));
        sub.expect(message(resp3, "bin\r\n\0", "\0\r\n")).await;

        // Unsubscribe from one, then from all: counts go down one by one.
        sub.send_cmd(&["UNSUBSCRIBE", "sport", "never"]).await;
        sub.expect(confirm(resp3, "unsubscribe", "sport", 4)).await;
        sub.expect(confirm(resp3, "unsubscribe", "never", 4)).await;
        sub.send_cmd(&["UNSUBSCRIBE"]).await;
        let mut names = Vec::new();
        for count in [3, 2] {
            let f = sub.read_reply().await;
            let (Frame::Array(v) | Frame::Push(v)) = f else {
                panic!("{f:?}")
            };
            assert_eq!(v[0], b("unsubscribe"));
            assert_eq!(v[2], int(count));
            names.push(v[1].clone());
        }
        names.sort_by_key(|f| format!("{f:?}"));
        assert_eq!(names, vec![b("bin\r\n\0"), b("news")]);
        assert_eq!(publ.cmd(&["PUBLISH", "news", "late"]).await, int(1));
        sub.expect(pmessage(resp3, "n*", "news", "late")).await;
        sub.send_cmd(&["PUNSUBSCRIBE", "x?z"]).await;
        sub.expect(confirm(resp3, "punsubscribe", "x?z", 1)).await;
        sub.send_cmd(&["PUNSUBSCRIBE"]).await;
        sub.expect(confirm(resp3, "punsubscribe", "n*", 0)).await;
        // Nothing left: one confirmation with a nil name.
        sub.send_cmd(&["UNSUBSCRIBE"]).await;
        let nil = if resp3 { Frame::Null } else { Frame::NullBulk };
        sub.expect(frame(resp3, vec![b("unsubscribe"), nil, int(0)]))
            .await;
        // Out of the pub/sub context, any command runs again.
        assert_eq!(sub.cmd(&["SET", "k", "v"]).await, ok());
        assert_eq!(publ.cmd(&["PUBLISH", "news", "gone"]).await, int(0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp2_context_allows_only_pubsub_commands() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.send_cmd(&["SUBSCRIBE", "c"]).await;
    c.expect(confirm(false, "subscribe", "c", 1)).await;
    let ctx_err = |name: &str| {
        err(&format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        ))
    };
    assert_eq!(c.cmd(&["GET", "x"]).await, ctx_err("get"));
    assert_eq!(c.cmd(&["set", "x", "1"]).await, ctx_err("set"));
    assert_eq!(c.cmd(&["MULTI"]).await, ctx_err("multi"));
    assert_eq!(c.cmd(&["CLIENT", "LIST"]).await, ctx_err("client|list"));
    assert_eq!(c.cmd(&["PUBLISH", "c", "m"]).await, ctx_err("publish"));
    // Unknown commands and wrong arity are reported first.
    assert_eq!(
        c.cmd(&["FOO"]).await,
        err("ERR unknown command 'FOO', with args beginning with: ")
    );
    assert_eq!(
        c.cmd(&["GET"]).await,
        err("ERR wrong number of arguments for 'get' command")
    );
    // PING replies a pub/sub style array.
    assert_eq!(c.cmd(&["PING"]).await, arr(vec![b("pong"), b("")]));
    assert_eq!(c.cmd(&["PING", "m"]).await, arr(vec![b("pong"), b("m")]));
    assert_eq!(
        c.cmd(&["PING", "a", "b"]).await,
        err("ERR wrong number of arguments for 'ping' command")
    );
    // CLIENT LIST (from another client) shows the subscription.
    let mut o = s.raw().await;
    let Frame::Bulk(list) = o.cmd(&["CLIENT", "LIST"]).await else {
        panic!("CLIENT LIST")
    };
    let list = String::from_utf8(list).unwrap();
    let line = list
        .lines()
        .find(|l| l.contains("cmd=subscribe") || l.contains("sub=1"))
        .unwrap();
    assert!(
        line.contains(" flags=P ") && line.contains(" sub=1 psub=0 "),
        "{line}"
    );
    // RESET leaves the context, silently unsubscribing.
    assert_eq!(c.cmd(&["RESET"]).await, Frame::simple("RESET"));
    assert_eq!(c.cmd(&["GET", "x"]).await, Frame::NullBulk);
    assert_eq!(o.cmd(&["PUBLISH", "c", "m"]).await, int(0));
    // RESP3 clients may run anything while subscribed.
    c.cmd(&["HELLO", "3"]).await;
    c.send_cmd(&["SUBSCRIBE", "c"]).await;
    c.expect(confirm(true, "subscribe", "c", 1)).await;
    assert_eq!(c.cmd(&["SET", "x", "1"]).await, ok());
    assert_eq!(c.cmd(&["PING"]).await, Frame::simple("PONG"));
    // QUIT is allowed and closes.
    let mut q = s.raw().await;
    q.send_cmd(&["SUBSCRIBE", "c"]).await;
    q.expect(confirm(false, "subscribe", "c", 1)).await;
    assert_eq!(q.cmd(&["QUIT"]).await, ok());
    q.expect_eof().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_introspection_and_cleanup_on_disconnect() {
    let s = TestServer::start().await;
    let mut o = s.raw().await;
    assert_eq!(o.cmd(&["PUBSUB", "CHANNELS"]).await, arr(vec![]));
    assert_eq!(o.cmd(&["PUBSUB", "NUMPAT"]).await, int(0));
    assert_eq!(o.cmd(&["PUBSUB", "NUMSUB"]).await, arr(vec![]));
    let mut a = s.raw().await;
    let mut c = s.raw().await;
    a.send_cmd(&["SUBSCRIBE", "ch1", "ch2"]).await;
    a.read_reply().await;
    a.read_reply().await;
    a.send_cmd(&["PSUBSCRIBE", "ch*", "z*"]).await;
    a.read_reply().await;
    a.read_reply().await;
    c.send_cmd(&["SUBSCRIBE", "ch1", "other"]).await;
    c.read_reply().await;
    c.read_reply().await;
    c.send_cmd(&["PSUBSCRIBE", "ch*"]).await;
    c.read_reply().await;

    let sorted = |f: Frame| match f {
        Frame::Array(mut v) => {
            v.sort_by_key(|x| format!("{x:?}"));
            Frame::Array(v)
        }
        f => f,
    };
    assert_eq!(
        sorted(o.cmd(&["PUBSUB", "CHANNELS"]).await),
        arr(vec![b("ch1"), b("ch2"), b("other")])
    );
    assert_eq!(
        sorted(o.cmd(&["pubsub", "channels", "ch?"]).await),
        arr(vec![b("ch1"), b("ch2")])
    );
    assert_eq!(
        o.cmd(&["PUBSUB", "NUMSUB", "ch1", "ch2", "nope"]).await,
        arr(vec![b("ch1"), int(2), b("ch2"), int(1), b("nope"), int(0)])
    );
    // Distinct patterns.
    assert_eq!(o.cmd(&["PUBSUB", "NUMPAT"]).await, int(2));
    // ch1: 2 channel subscribers + 2 clients on `ch*`.
    assert_eq!(o.cmd(&["PUBLISH", "ch1", "m"]).await, int(4));
    let Frame::Bulk(info) = o.cmd(&["INFO", "stats"]).await else {
        panic!("INFO")
    };
    let info = String::from_utf8(info).unwrap();
    assert!(info.contains("pubsub_channels:3\r\n"), "{info}");
    assert!(info.contains("pubsub_patterns:2\r\n"), "{info}");

    // Errors, as Redis 7.0 words them.
    for (cmd, want) in [
        (
            &["PUBSUB", "FOO"][..],
            "ERR unknown subcommand 'FOO'. Try PUBSUB HELP.",
        ),
        (
            &["PUBSUB", "NUMPAT", "x"],
            "ERR wrong number of arguments for 'pubsub|numpat' command",
        ),
        (
            &["PUBSUB", "CHANNELS", "a", "b"],
            "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.",
        ),
        (
            &["PUBSUB"],
            "ERR wrong number of arguments for 'pubsub' command",
        ),
        (
            &["PUBSUB", "HELP", "x"],
            "ERR wrong number of arguments for 'pubsub|help' command",
        ),
        (
            &["SUBSCRIBE"],
            "ERR wrong number of arguments for 'subscribe' command",
        ),
        (
            &["PUBLISH", "a"],
            "ERR wrong number of arguments for 'publish' command",
        ),
    ] {
        assert_eq!(o.cmd(cmd).await, err(want), "{cmd:?}");
    }
    let Frame::Array(help) = o.cmd(&["PUBSUB", "HELP"]).await else {
        panic!("HELP")
    };
    assert_eq!(help.len(), 14);

    // A disconnected subscriber leaves nothing behind.
    drop(a);
    let registry = s.shared.pubsub.clone();
    eventually("a's subscriptions removed", || registry.counts() == (2, 1)).await;
    assert_eq!(
        o.cmd(&["PUBSUB", "NUMSUB", "ch1", "ch2"]).await,
        arr(vec![b("ch1"), int(1), b("ch2"), int(0)])
    );
    assert_eq!(o.cmd(&["PUBLISH", "ch1", "m"]).await, int(2));
    drop(c);
    eventually("all subscriptions removed", || registry.counts() == (0, 0)).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_to_self_pushes_before_the_reply() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.cmd(&["HELLO", "3"]).await;
    c.send_cmd(&["SUBSCRIBE", "me"]).await;
    c.expect(confirm(true, "subscribe", "me", 1)).await;
    c.cmd_exact(
        &["PUBLISH", "me", "hi"],
        ">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$2\r\nhi\r\n:1\r\n",
    )
    .await;
    // Inside EXEC the push comes before the whole EXEC reply.
    c.cmd(&["MULTI"]).await;
    c.cmd(&["PUBLISH", "me", "tx"]).await;
    c.cmd_exact(
        &["EXEC"],
        ">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$2\r\ntx\r\n*1\r\n:1\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscriber_is_disconnected_at_the_limit() {
    const LIMIT: usize = 256 * 1024;
    let s = TestServer::start().await;
    let mut o = s.raw().await;
    assert_eq!(
        o.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            &format!("pubsub {LIMIT} 0 0")
        ])
        .await,
        ok()
    );
    // A subscriber with a small receive buffer that stops reading.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut sub = socket.connect(s.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    sub.write_all(&common::encode(&["SUBSCRIBE", "firehose"]))
        .await
        .unwrap();
    let mut first = [0u8; 64];
    let n = sub.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"*3\r\n$9\r\nsubscribe"));
    let handle = s
        .shared
        .clients
        .snapshot()
        .into_iter()
        .find(|h| h.shown.sub.load(std::sync::atomic::Ordering::Relaxed) == 1)
        .expect("subscriber registered");

    let payload = "x".repeat(64 * 1024);
    let mut delivered = 0;
    let mut published = 0usize;
    for _ in 0..2000 {
        let r = o.cmd(&["PUBLISH", "firehose", &payload]).await;
        published += payload.len();
        // Memory stays bounded: the inbox never holds more than the limit.
        assert!(handle.inbox.lock().len() <= LIMIT);
        match r {
            Frame::Int(1) => delivered += 1,
            Frame::Int(0) => break,
            other => panic!("PUBLISH: {other:?}"),
        }
    }
    assert!(
        handle.is_killed(),
        "subscriber not disconnected after {delivered} messages"
    );
    assert!(handle.inbox.lock().capacity() <= LIMIT);
    // The subscriber is no longer listed; its socket reaches EOF once what
    // was already on its way has been read.
    let Frame::Bulk(list) = o.cmd(&["CLIENT", "LIST"]).await else {
        panic!("CLIENT LIST")
    };
    assert_eq!(String::from_utf8(list).unwrap().lines().count(), 1);
    let mut received = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), sub.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received += n,
            Err(_) => panic!("subscriber socket not closed"),
        }
    }
    assert!(received < published, "received {received} of {published}");
    let registry = s.shared.pubsub.clone();
    eventually("killed subscriber unregistered", || {
        registry.counts() == (0, 0)
    })
    .await;
    s.stop().await;
}

// ---------------------------------------------------------------------------
// Differential test against a real Redis.

const CHANNELS: &[&str] = &["c1", "c2", "news.a", "news.b", "x"];
const PATTERNS: &[&str] = &["c*", "news.*", "?", "[cx]*", "nomatch"];

fn random_command(rng: &mut SplitMix64) -> Vec<String> {
    let names = |rng: &mut SplitMix64, from: &[&str], min: i64| {
        (0..rng.range(min, 3))
            .map(|_| rng.pick(from).to_string())
            .collect::<Vec<_>>()
    };
    let s = |x: &str| x.to_string();
    let mut cmd = match rng.below(16) {
        0..=2 => vec![s("SUBSCRIBE")],
        3..=4 => vec![s("PSUBSCRIBE")],
        5..=6 => vec![s("UNSUBSCRIBE")],
        7 => vec![s("PUNSUBSCRIBE")],
        8..=9 => vec![s("PUBLISH"), rng.pick(CHANNELS).to_string(), s("msg")],
        10 => vec![s("PUBSUB"), s("NUMSUB")],
        11 => vec![s("PUBSUB"), s("NUMPAT")],
        12 => vec![s("PUBSUB"), s("CHANNELS")],
        13 => vec![s("PING")],
        14 => vec![s("GET"), s("k")],
        _ => vec![s("ECHO"), s("e")],
    };
    match cmd[0].as_str() {
        "SUBSCRIBE" => cmd.extend(names(rng, CHANNELS, 0)),
        "UNSUBSCRIBE" => cmd.extend(names(rng, CHANNELS, 0)),
        "PSUBSCRIBE" => cmd.extend(names(rng, PATTERNS, 0)),
        "PUNSUBSCRIBE" => cmd.extend(names(rng, PATTERNS, 0)),
        "PUBSUB" if cmd[1] == "NUMSUB" => cmd.extend(names(rng, CHANNELS, 0)),
        "PUBSUB" if cmd[1] == "CHANNELS" && rng.chance(50) => {
            cmd.push(rng.pick(PATTERNS).to_string())
        }
        _ => {}
    }
    cmd
}

/// Reads the replies of one command up to the sentinel `PING <tag>` sent
/// after it (a bulk, or a `pong` array in the RESP2 pub/sub context).
async fn group(c: &mut RawConn, tag: &str) -> Vec<Frame> {
    let mut frames = Vec::new();
    loop {
        let f = c.read_reply().await;
        let done = f == b(tag) || f == arr(vec![b("pong"), b(tag)]);
        if done {
            return frames;
        }
        frames.push(f);
        assert!(frames.len() < 100, "no sentinel");
    }
}

/// Puts replies whose order Redis leaves to its hash tables in a canonical
/// order: frames of an unsubscribe-all or a PUBLISH sorted by their names
/// (keeping counts in sequence), PUBSUB CHANNELS elements sorted.
fn canonical(cmd: &[String], mut frames: Vec<Frame>) -> Vec<Frame> {
    let key = |f: &Frame| format!("{f:?}");
    let unsub_all = cmd.len() == 1 && cmd[0].ends_with("UNSUBSCRIBE");
    if unsub_all || cmd[0] == "PUBLISH" {
        let counts: Vec<Frame> = frames
            .iter()
            .filter_map(|f| match f {
                Frame::Array(v) | Frame::Push(v) if v.len() == 3 && unsub_all => Some(v[2].clone()),
                _ => None,
            })
            .collect();
        let mut without: Vec<Frame> = frames
            .into_iter()
            .map(|f| match f {
                Frame::Array(mut v) if unsub_all && v.len() == 3 => {
                    v.pop();
                    Frame::Array(v)
                }
                Frame::Push(mut v) if unsub_all && v.len() == 3 => {
                    v.pop();
                    Frame::Push(v)
                }
                f => f,
            })
            .collect();
        without.sort_by_key(key);
        without.extend(counts);
        frames = without;
    }
    if cmd[0] == "PUBSUB" && cmd[1] == "CHANNELS" {
        for f in &mut frames {
            if let Frame::Array(v) = f {
                v.sort_by_key(key);
            }
        }
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_pubsub_against_redis() {
    let Some(redis) = RedisProcess::start().await else {
        return;
    };
    let s = TestServer::start().await;
    for seed in 1..=8u64 {
        let resp = if seed % 2 == 0 { "3" } else { "2" };
        let mut theirs = RawConn::connect(redis.addr()).await;
        let mut ours = s.raw().await;
        for c in [&mut theirs, &mut ours] {
            c.cmd(&["HELLO", resp]).await;
        }
        let mut rng = SplitMix64::new(seed);
        for i in 0..400 {
            let cmd = random_command(&mut rng);
            let tag = format!("sentinel-{i}");
            let mut replies = Vec::new();
            for c in [&mut theirs, &mut ours] {
                let mut bytes = common::encode(&cmd);
                common::encode_into(&mut bytes, &["PING", &tag]);
                c.send(&bytes).await;
                replies.push(canonical(&cmd, group(c, &tag).await));
            }
            assert_eq!(
                replies[1], replies[0],
                "seed {seed} (RESP{resp}) command #{i}: {cmd:?}"
            );
        }
        // Unsubscribe now: a closing connection is cleaned up a little
        // later, and the next seed's PUBLISH counts must not see it.
        for c in [&mut theirs, &mut ours] {
            assert_eq!(c.cmd(&["RESET"]).await, Frame::simple("RESET"));
        }
    }
    s.stop().await;
}
