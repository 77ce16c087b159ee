//! Shared harness of the end-to-end tests.
//!
//! - [`TestServer`]: our server in-process on `127.0.0.1:0` with a
//!   [`ManualClock`], stopped on [`TestServer::stop`] or drop.
//! - [`RawConn`]: raw RESP bytes over TCP, with a small RESP2/RESP3 reply
//!   decoder ([`Frame`], [`decode`]); every read is bounded by a timeout so
//!   a broken server fails the test instead of hanging it.
//! - [`ok`], [`int`], [`err`], [`bulk`], [`nil`], [`arr`]: short names for
//!   expected RESP2 replies.
//! - [`redis_conn`]: a `redis` crate multiplexed connection.
//! - [`RedisProcess`]: a real `redis-server` on a free port, for
//!   differential tests; skipped with a notice when it is not installed,
//!   unless `REQUIRE_REDIS=1` (as CI sets).
//! - [`SplitMix64`]: a seeded PRNG whose sequence never changes, so a seed
//!   printed by a failing test reproduces it.
#![allow(dead_code)] // each test file uses its own subset of the harness

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use resp_server::clock::{Clock, ManualClock};
use resp_server::config::ConfigStore;
use resp_server::server::Server;
use resp_server::shared::Shared;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// How long any single read of a reply may take before the test fails.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Start time of every [`TestServer`]'s manual clock (Unix ms, Nov 2023).
pub const CLOCK_START_MS: u64 = 1_700_000_000_000;

/// Our server, running in-process on an ephemeral loopback port.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its shared state (keyspace, config, clients...).
    pub shared: Arc<Shared>,
    /// The clock it reads; move it instead of sleeping.
    pub clock: Arc<ManualClock>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with the default configuration.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts a server after `configure` adjusted its configuration (port
    /// is forced to 0 afterwards).
    pub async fn start_with(configure: impl FnOnce(&ConfigStore)) -> TestServer {
        let cfg = ConfigStore::default();
        configure(&cfg);
        cfg.set_startup("port", "0").expect("port 0 is valid");
        cfg.set_startup("bind", "127.0.0.1").expect("bind is valid");
        let clock = Arc::new(ManualClock::new(CLOCK_START_MS));
        let server = Server::bind_with_clock(cfg, clock.clone())
            .await
            .expect("bind 127.0.0.1:0");
        let addr = server.local_addr();
        let shared = server.shared();
        let task = tokio::spawn(server.run());
        TestServer {
            addr,
            shared,
            clock,
            task: Some(task),
        }
    }

    /// A raw RESP connection to this server.
    pub async fn raw(&self) -> RawConn {
        RawConn::connect(self.addr).await
    }

    /// A `redis` crate connection to this server.
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis_conn(self.addr).await
    }

    /// Absolute expiry (Unix ms) of `key` in database 0, read from the
    /// keyspace: `Some(None)` for a key without TTL, `None` for no live key.
    pub fn expiry(&self, key: &str) -> Option<Option<u64>> {
        let ks = &self.shared.keyspace;
        let hash = ks.hash(key.as_bytes());
        let mut shard = ks.lock(ks.shard_of(hash));
        let now = self.clock.now_ms();
        shard
            .db(0)
            .peek(key.as_bytes(), hash)
            .filter(|e| e.expire_at().is_none_or(|at| at > now))
            .map(|e| e.expire_at())
    }

    /// Keyspace hits and misses so far (all shards): `(hits, misses)`.
    pub fn hits_misses(&self) -> (u64, u64) {
        let t = self.shared.keyspace.totals();
        (t.hits, t.misses)
    }

    /// Shuts the server down and waits until its task ended.
    pub async fn stop(mut self) {
        self.shared.shutdown();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(REPLY_TIMEOUT, task)
                .await
                .expect("server did not stop within the timeout")
                .expect("server task panicked");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.shutdown();
    }
}

/// A `redis` crate multiplexed connection to `addr`.
pub async fn redis_conn(addr: SocketAddr) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{addr}/")).expect("valid redis URL");
    tokio::time::timeout(REPLY_TIMEOUT, client.get_multiplexed_async_connection())
        .await
        .expect("redis connection timed out")
        .expect("redis connection failed")
}

/// One RESP2 or RESP3 reply, as the server put it on the wire.
///
/// The three nulls stay distinct so tests can tell `$-1` from `*-1` from
/// `_`; doubles keep their text so comparisons are exact.
#[derive(Clone, PartialEq, Eq)]
pub enum Frame {
    /// `+text`
    Simple(String),
    /// `-text` (code included: `ERR ...`, `WRONGTYPE ...`)
    Error(String),
    /// `:n`
    Int(i64),
    /// `$n` payload
    Bulk(Vec<u8>),
    /// `$-1` (RESP2 nil bulk)
    NullBulk,
    /// `*-1` (RESP2 nil array)
    NullArray,
    /// `_` (RESP3 null)
    Null,
    /// `*n` elements
    Array(Vec<Frame>),
    /// `%n` pairs (RESP3)
    Map(Vec<(Frame, Frame)>),
    /// `~n` elements (RESP3)
    Set(Vec<Frame>),
    /// `,text` (RESP3), the text as sent
    Double(String),
    /// `#t` / `#f` (RESP3)
    Bool(bool),
    /// `=n fmt:text` (RESP3): format and text
    Verbatim(String, Vec<u8>),
    /// `(digits` (RESP3)
    BigNumber(String),
    /// `>n` elements (RESP3 push)
    Push(Vec<Frame>),
}

impl Frame {
    /// `+OK`
    pub fn ok() -> Frame {
        Frame::Simple("OK".into())
    }

    /// A simple string.
    pub fn simple(s: &str) -> Frame {
        Frame::Simple(s.into())
    }

    /// An error reply with the full text (`"ERR ..."`).
    pub fn err(s: &str) -> Frame {
        Frame::Error(s.into())
    }

    /// A bulk string.
    pub fn bulk(b: impl AsRef<[u8]>) -> Frame {
        Frame::Bulk(b.as_ref().to_vec())
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// The value of a map entry whose key is the bulk or simple string `key`.
    pub fn map_get(&self, key: &str) -> Option<&Frame> {
        let Frame::Map(pairs) = self else { return None };
        pairs.iter().find_map(|(k, v)| match k {
            Frame::Bulk(b) if b == key.as_bytes() => Some(v),
            Frame::Simple(s) if s == key => Some(v),
            _ => None,
        })
    }
}

/// `+OK`
pub fn ok() -> Frame {
    Frame::ok()
}

/// `:n`
pub fn int(n: i64) -> Frame {
    Frame::Int(n)
}

/// An error reply with the full text (`"ERR ..."`).
pub fn err(text: &str) -> Frame {
    Frame::err(text)
}

/// A bulk string.
pub fn bulk(b: impl AsRef<[u8]>) -> Frame {
    Frame::bulk(b)
}

/// `$-1`, the RESP2 nil bulk.
pub fn nil() -> Frame {
    Frame::NullBulk
}

/// An array of `items`.
pub fn arr(items: Vec<Frame>) -> Frame {
    Frame::Array(items)
}

/// Writes bytes readably: printable ASCII as is, the rest as `\xNN`.
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 200;
        for &b in self.0.iter().take(SHOWN) {
            match b {
                b'\\' => f.write_str("\\\\")?,
                b'"' => f.write_str("\\\"")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                b'\r' => f.write_str("\\r")?,
                b'\n' => f.write_str("\\n")?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        if self.0.len() > SHOWN {
            write!(f, "...({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::Simple(s) => write!(f, "+{s}"),
            Frame::Error(s) => write!(f, "-{s}"),
            Frame::Int(n) => write!(f, ":{n}"),
            Frame::Bulk(b) => write!(f, "\"{}\"", Escaped(b)),
            Frame::NullBulk => f.write_str("$-1"),
            Frame::NullArray => f.write_str("*-1"),
            Frame::Null => f.write_str("_"),
            Frame::Array(v) => f.debug_list().entries(v).finish(),
            Frame::Map(v) => f
                .debug_map()
                .entries(v.iter().map(|(k, v)| (k, v)))
                .finish(),
            Frame::Set(v) => write!(f, "~{v:?}"),
            Frame::Double(s) => write!(f, ",{s}"),
            Frame::Bool(b) => write!(f, "#{}", if *b { 't' } else { 'f' }),
            Frame::Verbatim(fmt, t) => write!(f, "={fmt}:\"{}\"", Escaped(t)),
            Frame::BigNumber(s) => write!(f, "({s}"),
            Frame::Push(v) => write!(f, ">{v:?}"),
        }
    }
}

/// Decodes one reply at the start of `buf`: `Ok(None)` while incomplete,
/// else the frame and the number of bytes it took.
///
/// # Errors
/// Bytes that are not RESP, described.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, String> {
    decode_at(buf, 0)
}

/// The line starting at `pos` (without its `\r\n`) and the position after it.
fn line_at(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(pos..)?;
    let i = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..i], pos + i + 2))
}

/// A line as text. Redis echoes client bytes in some errors, so a line
/// need not be UTF-8: invalid bytes become `\xNN` (distinct inputs stay
/// distinct).
fn text(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        s.push_str(chunk.valid());
        for byte in chunk.invalid() {
            s.push_str(&format!("\\x{byte:02x}"));
        }
    }
    s
}

fn number(b: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad number {}", Escaped(b)))
}

fn decode_at(buf: &[u8], pos: usize) -> Result<Option<(Frame, usize)>, String> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((line, next)) = line_at(buf, pos + 1) else {
        return Ok(None);
    };
    let frame = match kind {
        b'+' => Frame::Simple(text(line)),
        b'-' => Frame::Error(text(line)),
        b':' => Frame::Int(number(line)?),
        b',' => Frame::Double(text(line)),
        b'(' => Frame::BigNumber(text(line)),
        b'_' if line.is_empty() => Frame::Null,
        b'#' => match line {
            b"t" => Frame::Bool(true),
            b"f" => Frame::Bool(false),
            _ => return Err(format!("bad boolean {}", Escaped(line))),
        },
        b'$' | b'=' | b'!' => {
            let n = number(line)?;
            if n == -1 && kind == b'$' {
                return Ok(Some((Frame::NullBulk, next)));
            }
            let n = usize::try_from(n).map_err(|_| format!("bad length {n}"))?;
            if buf.len() < next + n + 2 {
                return Ok(None);
            }
            if &buf[next + n..next + n + 2] != b"\r\n" {
                return Err("bulk payload not followed by CRLF".into());
            }
            let payload = buf[next..next + n].to_vec();
            let end = next + n + 2;
            let frame = match kind {
                b'$' => Frame::Bulk(payload),
                b'!' => Frame::Error(text(&payload)),
                _ => {
                    if payload.len() < 4 || payload[3] != b':' {
                        return Err("verbatim string without format".into());
                    }
                    Frame::Verbatim(text(&payload[..3]), payload[4..].to_vec())
                }
            };
            return Ok(Some((frame, end)));
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = number(line)?;
            if n == -1 && kind == b'*' {
                return Ok(Some((Frame::NullArray, next)));
            }
            let n = usize::try_from(n).map_err(|_| format!("bad count {n}"))?;
            let items = if matches!(kind, b'%' | b'|') {
                2 * n
            } else {
                n
            };
            let mut elems = Vec::with_capacity(items.min(1024));
            let mut at = next;
            for _ in 0..items {
                match decode_at(buf, at)? {
                    Some((f, end)) => {
                        elems.push(f);
                        at = end;
                    }
                    None => return Ok(None),
                }
            }
            let pairs = |elems: Vec<Frame>| {
                let mut it = elems.into_iter();
                let mut v = Vec::new();
                while let (Some(k), Some(val)) = (it.next(), it.next()) {
                    v.push((k, val));
                }
                v
            };
            let frame = match kind {
                b'*' => Frame::Array(elems),
                b'~' => Frame::Set(elems),
                b'>' => Frame::Push(elems),
                b'%' => Frame::Map(pairs(elems)),
                // An attribute annotates the reply that follows: skip it.
                _ => return decode_at(buf, at),
            };
            return Ok(Some((frame, at)));
        }
        _ => return Err(format!("unknown reply type byte {:?}", kind as char)),
    };
    Ok(Some((frame, next)))
}

/// Encodes a command as a RESP multibulk.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, args);
    out
}

/// Appends a command as a RESP multibulk to `out`.
pub fn encode_into<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// One step of a differential test: sends `cmd` to `ours` and `redis`,
/// reads both replies and passes each through `normalize` (which maps what
/// may differ, such as random or unordered replies, to a comparable form).
/// `Ok(redis_reply)` when they agree, `Err((ours, redis))` when not.
///
/// # Panics
/// As [`RawConn::read_reply`].
pub async fn exchange<A: AsRef<[u8]>>(
    ours: &mut RawConn,
    redis: &mut RawConn,
    cmd: &[A],
    normalize: impl Fn(&[A], Frame) -> Frame,
) -> Result<Frame, (Frame, Frame)> {
    let bytes = encode(cmd);
    ours.send(&bytes).await;
    redis.send(&bytes).await;
    let a = normalize(cmd, ours.read_reply().await);
    let b = normalize(cmd, redis.read_reply().await);
    if a == b {
        Ok(b)
    } else {
        Err((a, b))
    }
}

/// Fails with the first `shown` mismatches of a differential test, if any.
///
/// # Panics
/// When `mismatches` is not empty.
pub fn assert_no_mismatches(mismatches: &[String], shown: usize) {
    assert!(
        mismatches.is_empty(),
        "{} replies differ from real Redis:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(shown)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A client speaking raw RESP over TCP.
#[derive(Debug)]
pub struct RawConn {
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
}

impl RawConn {
    /// Connects to `addr` (TCP_NODELAY, so each `send` is its own segment).
    pub async fn connect(addr: SocketAddr) -> RawConn {
        let stream = tokio::time::timeout(REPLY_TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect failed");
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        RawConn {
            stream,
            buf: BytesMut::with_capacity(16 * 1024),
            timeout: REPLY_TIMEOUT,
        }
    }

    /// This end's address (what the server reports as the client's `addr`).
    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("local address")
    }

    /// The server's end (what it reports as the client's `laddr`).
    pub fn peer_addr(&self) -> SocketAddr {
        self.stream.peer_addr().expect("peer address")
    }

    /// Changes the per-read timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Writes `bytes` and flushes.
    ///
    /// # Panics
    /// If the write fails (use [`RawConn::try_send`] when the server may
    /// have closed the connection).
    pub async fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes).await.expect("write to server failed");
    }

    /// Writes `bytes` and flushes, reporting failure.
    pub async fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        tokio::time::timeout(self.timeout, async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        })
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
    }

    /// Sends one command as a multibulk.
    pub async fn send_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send(&encode(args)).await;
    }

    /// Sends one command and reads its reply.
    pub async fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Frame {
        self.send_cmd(args).await;
        self.read_reply().await
    }

    /// Sends an inline command line (`\r\n` appended) and reads its reply.
    pub async fn inline(&mut self, line: &str) -> Frame {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.read_reply().await
    }

    /// Reads more bytes; `Ok(false)` at EOF (a reset counts as EOF).
    async fn fill(&mut self) -> Result<bool, String> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(64 * 1024);
        }
        match tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => Err(format!(
                "no reply within {:?} (buffered: {})",
                self.timeout,
                Escaped(&self.buf)
            )),
            Ok(Ok(0)) => Ok(false),
            Ok(Ok(_)) => Ok(true),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(false),
            Ok(Err(e)) => Err(format!("read failed: {e}")),
        }
    }

    /// Buffers the next whole reply without consuming it: the frame and
    /// how many bytes it takes; `None` if the server closed the connection
    /// first.
    ///
    /// # Panics
    /// On timeout, on bytes that are not RESP, or on EOF within a reply.
    async fn buffer_reply(&mut self) -> Option<(Frame, usize)> {
        loop {
            match decode(&self.buf) {
                Ok(Some(decoded)) => return Some(decoded),
                Ok(None) => {}
                Err(e) => panic!("undecodable reply: {e}: {}", Escaped(&self.buf)),
            }
            match self.fill().await {
                Ok(true) => {}
                Ok(false) if self.buf.is_empty() => return None,
                Ok(false) => panic!("connection closed within a reply: {}", Escaped(&self.buf)),
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Reads the next reply; `None` if the server closed the connection
    /// first.
    ///
    /// # Panics
    /// On timeout, on bytes that are not RESP, or on EOF within a reply.
    pub async fn next_reply(&mut self) -> Option<Frame> {
        let (frame, n) = self.buffer_reply().await?;
        self.buf.advance(n);
        Some(frame)
    }

    /// Reads the next reply and returns its bytes as they came on the wire
    /// (for replies that quote client bytes, or whose framing matters).
    ///
    /// # Panics
    /// On timeout, EOF, or bytes that are not RESP.
    pub async fn read_reply_bytes(&mut self) -> Vec<u8> {
        let (_, n) = self
            .buffer_reply()
            .await
            .expect("connection closed while a reply was expected");
        self.buf.split_to(n).to_vec()
    }

    /// Reads the next reply.
    ///
    /// # Panics
    /// On timeout, EOF, or bytes that are not RESP.
    pub async fn read_reply(&mut self) -> Frame {
        self.next_reply()
            .await
            .expect("connection closed while a reply was expected")
    }

    /// Reads until the server closes the connection; returns the bytes that
    /// arrived (buffered ones included).
    ///
    /// # Panics
    /// If the connection is still open after the timeout.
    pub async fn read_to_eof(&mut self) -> Vec<u8> {
        loop {
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => return self.buf.split().to_vec(),
                Err(e) => panic!("expected the server to close the connection: {e}"),
            }
        }
    }

    /// Asserts that the server closes the connection without sending
    /// anything more.
    pub async fn expect_eof(&mut self) {
        let rest = self.read_to_eof().await;
        assert_eq!(rest.escape_ascii().to_string(), "", "bytes before EOF");
    }

    /// Asserts that the next reply is `expected`.
    pub async fn expect(&mut self, expected: Frame) {
        let got = self.read_reply().await;
        assert_eq!(got, expected);
    }

    /// Asserts that the next bytes on the wire are exactly `expected` (one
    /// reply or several), byte for byte.
    ///
    /// # Panics
    /// If they differ, or on timeout or EOF before `expected.len()` bytes.
    pub async fn expect_exact(&mut self, expected: impl AsRef<[u8]>) {
        let expected = expected.as_ref();
        while self.buf.len() < expected.len() {
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => panic!(
                    "connection closed after {} of {} expected bytes: {}",
                    self.buf.len(),
                    expected.len(),
                    Escaped(&self.buf)
                ),
                Err(e) => panic!("{e}"),
            }
        }
        let got = self.buf.split_to(expected.len());
        assert_eq!(
            got.escape_ascii().to_string(),
            expected.escape_ascii().to_string()
        );
    }

    /// Sends one command and asserts that its reply is exactly `expected`
    /// on the wire.
    pub async fn cmd_exact<A: AsRef<[u8]>>(&mut self, args: &[A], expected: impl AsRef<[u8]>) {
        self.send_cmd(args).await;
        self.expect_exact(expected).await;
    }
}

/// A real `redis-server` child process on a free loopback port, killed on
/// drop.
#[derive(Debug)]
pub struct RedisProcess {
    child: Child,
    /// Its port.
    pub port: u16,
}

/// Where `redis-server` is: `$REDIS_SERVER`, `/usr/bin/redis-server`, or the
/// first one on `$PATH`.
fn redis_server_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("REDIS_SERVER") {
        return Some(PathBuf::from(p));
    }
    let usual = PathBuf::from("/usr/bin/redis-server");
    if usual.is_file() {
        return Some(usual);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Whether a real Redis is required (`REQUIRE_REDIS=1`), so that a missing
/// one fails the test instead of skipping it.
pub fn redis_required() -> bool {
    std::env::var("REQUIRE_REDIS").is_ok_and(|v| v == "1")
}

impl RedisProcess {
    /// Starts `redis-server --save '' --appendonly no --port P` and waits
    /// until it answers (and is the process started, not another server
    /// that took the port). `None` (after printing a notice) when Redis is
    /// not installed and `REQUIRE_REDIS=1` is not set.
    ///
    /// # Panics
    /// If Redis is installed but does not come up, or is missing while
    /// required.
    pub async fn start() -> Option<RedisProcess> {
        let Some(path) = redis_server_path() else {
            assert!(
                !redis_required(),
                "REQUIRE_REDIS=1 but redis-server is not installed"
            );
            eprintln!("NOTICE: redis-server not found; skipping the comparison with real Redis");
            return None;
        };
        // The port may be taken between probing and binding: try a few.
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(&path)
                .args(["--port", &port.to_string()])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--daemonize", "no", "--databases", "16"])
                .arg("--dir")
                .arg(std::env::temp_dir())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
            for _ in 0..100 {
                if child.try_wait().ok().flatten().is_some() {
                    break; // exited: probably the port was taken
                }
                if is_redis_of(port, child.id()).await {
                    return Some(RedisProcess { child, port });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("{} did not come up", path.display());
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

/// Whether the server on `port` is the Redis process `pid` (not another
/// one that took the port first): `INFO server` reports its `process_id`.
async fn is_redis_of(port: u16, pid: u32) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(b"INFO server\r\n").await.ok()?;
        let mut buf = Vec::new();
        loop {
            if let Ok(Some((frame, _))) = decode(&buf) {
                let Frame::Bulk(info) = frame else {
                    return Some(false);
                };
                let want = format!("process_id:{pid}\r\n");
                return Some(info.windows(want.len()).any(|w| w == want.as_bytes()));
            }
            if s.read_buf(&mut buf).await.ok()? == 0 {
                return None;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(1), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny PRNG whose output for a
/// seed never changes, unlike a library's.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A uniformly chosen element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Random bytes, of a random length below `max_len`.
    pub fn bytes_below(&mut self, max_len: u64) -> Vec<u8> {
        let len = self.below(max_len) as usize;
        self.bytes(len)
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// Resident set size of this process in bytes, from `/proc/self/status`
/// (`None` off Linux).
pub fn rss_bytes() -> Option<u64> {
    proc_status_kb("VmRSS:").map(|kb| kb * 1024)
}

/// Virtual size of this process in bytes (`VmSize`), `None` off Linux.
pub fn vm_size_bytes() -> Option<u64> {
    proc_status_kb("VmSize:").map(|kb| kb * 1024)
}

fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Runs `(command line, expected reply)` steps in order on `c`; a command
/// line is split on single spaces.
pub async fn script(c: &mut RawConn, steps: &[(&str, Frame)]) {
    for (line, want) in steps {
        let args: Vec<&str> = line.split(' ').collect();
        assert_eq!(&c.cmd(&args).await, want, "{line}");
    }
}

/// An array of bulk strings.
pub fn bulks(items: &[&str]) -> Frame {
    arr(items.iter().map(bulk).collect())
}
