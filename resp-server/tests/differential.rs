//! Differential test against a real Redis: the same seeded random command
//! stream goes to `redis-server` and to our server, and every reply must be
//! the same frame (RESP2), then the final keyspaces must be equal.
//!
//! The stream covers the string and generic key commands over 20 keys
//! (some binary) in databases 0 and 1, so commands collide, with invalid
//! arguments, wrong arity and syntax errors mixed in. Nothing in it depends
//! on timing: TTLs are long (1000 s and more) or already past for commands
//! that delete at once, and TTL-like replies are compared only by class
//! (-2, -1, positive). `INFO`, `CLIENT`, `RANDOMKEY`, `SCAN` are left out.
//!
//! After a mismatch both servers are reset to Redis' keyspace (see
//! [`resync`]) so that one bug does not cascade into every later reply.
//!
//! Reproduce one seed with `DIFF_SEEDS=7 DIFF_COMMANDS=5000 cargo test -p
//! resp-server --test differential`; `DIFF_EXTRA=1` adds the commands of
//! [`EXTRA_COMMANDS`]. Skipped (with a notice) without `redis-server`,
//! unless `REQUIRE_REDIS=1`.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{encode, Escaped, Frame, RawConn, RedisProcess, SplitMix64};
use resp_server::config::ConfigStore;
use resp_server::server::Server;
use resp_server::shared::Shared;

/// Seeds run when `DIFF_SEEDS` is not set.
const DEFAULT_SEEDS: &[u64] = &[1, 2, 3, 4, 5, 6];

/// Commands per seed when `DIFF_COMMANDS` is not set.
const DEFAULT_COMMANDS: usize = 2000;

/// Timeout of each reply (a hang still fails the test).
const SLOW_REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Mismatches printed in full per seed (all are counted).
const PRINTED_PER_SEED: usize = 10;

/// The key space: small, so commands collide; some keys binary.
const KEYS: &[&[u8]] = &[
    b"k0",
    b"k1",
    b"k2",
    b"k3",
    b"k4",
    b"k5",
    b"k6",
    b"k7",
    b"k8",
    b"k9",
    b"k10",
    b"k11",
    b"",
    b"with space",
    b"\x00\xff\r\n",
    "ünï".as_bytes(),
    b"{t}a",
    b"{t}b",
    b"0",
    b"-1",
];

/// Strings that probe number parsing and the encodings' edges.
const EDGE_VALUES: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775806",
    "-9223372036854775807",
    "9223372036854775808",
    "12345678901234567890",
    "0",
    "-0",
    "+1",
    "01",
    "00",
    " 1",
    "1 ",
    "0x10",
    "1e3",
    "3.0",
    "1.5",
    "-1.5",
    "inf",
    "-inf",
    "nan",
    "abc",
    "",
    "-",
    "10000",
    "9999",
];

/// Float arguments for INCRBYFLOAT, valid and not.
const FLOATS: &[&str] = &[
    "0.1", "1.5", "-2.25", "3e2", "1e-5", "10", "-10", "abc", "inf", "-inf", "nan", "1e308",
    "5.0e3", " 1", "1 ", "0x10", "1.", "-.5", "+3", "1e400", "0", "-0", "", "1e-400",
];

/// Integer arguments beyond the usual small range.
const EDGE_INTS: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "abc",
    "1.5",
    "",
    " 1",
    "+1",
    "01",
    "-0",
];

/// KEYS patterns.
const PATTERNS: &[&str] = &[
    "*", "k*", "k?", "k[0-5]", "*a*", "{t}*", "[^k]*", "k[", "\\{*", "*\\", "ü*", "?",
];

/// Redis 7 string and generic commands our server does not claim yet; sent
/// only with `DIFF_EXTRA=1`.
const EXTRA_COMMANDS: &[&str] = &["LCS"];

/// Random commands over [`KEYS`] in databases 0 and 1.
struct Gen {
    rng: SplitMix64,
    now_s: i64,
    /// Whether to send [`EXTRA_COMMANDS`] too.
    extra: bool,
}

impl Gen {
    fn new(seed: u64, extra: bool) -> Gen {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Gen {
            rng: SplitMix64::new(seed),
            now_s: now_ms / 1000,
            extra,
        }
    }

    fn key(&mut self) -> Vec<u8> {
        self.rng.pick(KEYS).to_vec()
    }

    fn alnum(&mut self, len: usize) -> Vec<u8> {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789";
        (0..len).map(|_| *self.rng.pick(CHARS)).collect()
    }

    fn value(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=19 => self.rng.range(-5, 120).to_string().into_bytes(),
            20..=26 => self.rng.pick(EDGE_VALUES).as_bytes().to_vec(),
            27..=59 => {
                let n = self.rng.range(1, 20) as usize;
                self.alnum(n)
            }
            60..=69 => {
                let n = self.rng.range(40, 50) as usize;
                self.alnum(n)
            }
            70..=74 => {
                let n = self.rng.range(100, 300) as usize;
                self.alnum(n)
            }
            75..=79 => {
                let n = self.rng.below(17) as usize;
                self.rng.bytes(n)
            }
            80..=89 => {
                format!("{}.{}", self.rng.range(-100, 100), self.rng.below(1000)).into_bytes()
            }
            _ => self
                .rng
                .pick(&["a", "b", "xyz", "1", "-1"])
                .as_bytes()
                .to_vec(),
        }
    }

    /// A small integer, sometimes an edge case or not an integer at all.
    fn int(&mut self, lo: i64, hi: i64) -> Vec<u8> {
        if self.rng.chance(10) {
            self.rng.pick(EDGE_INTS).as_bytes().to_vec()
        } else {
            self.rng.range(lo, hi).to_string().into_bytes()
        }
    }

    fn float(&mut self) -> Vec<u8> {
        if self.rng.chance(40) {
            self.rng.pick(FLOATS).as_bytes().to_vec()
        } else {
            let whole = self.rng.range(-50, 50);
            format!("{whole}.{:03}", self.rng.below(1000)).into_bytes()
        }
    }

    /// Seconds for a relative TTL: long, so nothing expires mid-test;
    /// sometimes zero, negative or invalid.
    fn secs(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=84 => self.rng.range(1000, 100_000).to_string().into_bytes(),
            85..=89 => self.rng.pick(&["0", "-5"]).as_bytes().to_vec(),
            _ => self.rng.pick(EDGE_INTS).as_bytes().to_vec(),
        }
    }

    fn millis(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=84 => self
                .rng
                .range(1_000_000, 100_000_000)
                .to_string()
                .into_bytes(),
            85..=89 => self.rng.pick(&["0", "-5"]).as_bytes().to_vec(),
            _ => self.rng.pick(EDGE_INTS).as_bytes().to_vec(),
        }
    }

    /// A Unix time in seconds: mostly far ahead, sometimes long past.
    fn unix_secs(&mut self, past: bool) -> Vec<u8> {
        if past && self.rng.chance(15) {
            return self.rng.range(1, 1_000_000).to_string().into_bytes();
        }
        if self.rng.chance(5) {
            return self.rng.pick(EDGE_INTS).as_bytes().to_vec();
        }
        (self.now_s + self.rng.range(1000, 100_000))
            .to_string()
            .into_bytes()
    }

    fn unix_millis(&mut self, past: bool) -> Vec<u8> {
        if past && self.rng.chance(15) {
            return self.rng.range(1, 1_000_000_000).to_string().into_bytes();
        }
        if self.rng.chance(5) {
            return self.rng.pick(EDGE_INTS).as_bytes().to_vec();
        }
        (self.now_s * 1000 + self.rng.range(1_000_000, 100_000_000))
            .to_string()
            .into_bytes()
    }

    /// `word` in random letter case.
    fn case(&mut self, word: &str) -> Vec<u8> {
        match self.rng.below(4) {
            0 => word.to_ascii_lowercase().into_bytes(),
            1 => word
                .bytes()
                .map(|b| {
                    if self.rng.chance(50) {
                        b.to_ascii_lowercase()
                    } else {
                        b
                    }
                })
                .collect(),
            _ => word.as_bytes().to_vec(),
        }
    }

    /// `SET`'s options: valid combinations, shuffled, sometimes invalid.
    fn set_options(&mut self) -> Vec<Vec<u8>> {
        let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
        if self.rng.chance(30) {
            let w = *self.rng.pick(&["NX", "XX"]);
            groups.push(vec![self.case(w)]);
        }
        if self.rng.chance(25) {
            groups.push(vec![self.case("GET")]);
        }
        match self.rng.below(8) {
            0 => groups.push(vec![self.case("EX"), self.secs()]),
            1 => groups.push(vec![self.case("PX"), self.millis()]),
            2 => groups.push(vec![self.case("EXAT"), self.unix_secs(false)]),
            3 => groups.push(vec![self.case("PXAT"), self.unix_millis(false)]),
            4 => groups.push(vec![self.case("KEEPTTL")]),
            _ => {}
        }
        if self.rng.chance(8) {
            const BAD: &[&[&str]] = &[
                &["NX", "XX"],
                &["EX"],
                &["EX", "0"],
                &["PX", "-1"],
                &["FOO"],
                &["EX", "9223372036854775807"],
                &["PX", "9223372036854775807"],
                &["KEEPTTL", "EX", "1000"],
                &["EX", "1000", "PX", "1000000"],
                &["GET", "GET"],
                &["NX", "NX"],
                &["EXAT", "0"],
            ];
            let bad = *self.rng.pick(BAD);
            groups.push(bad.iter().map(|w| w.as_bytes().to_vec()).collect());
        }
        // Fisher-Yates.
        for i in (1..groups.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            groups.swap(i, j);
        }
        groups.into_iter().flatten().collect()
    }

    /// `GETEX`'s options.
    fn getex_options(&mut self) -> Vec<Vec<u8>> {
        match self.rng.below(10) {
            0 => vec![self.case("EX"), self.secs()],
            1 => vec![self.case("PX"), self.millis()],
            2 => vec![self.case("EXAT"), self.unix_secs(true)],
            3 => vec![self.case("PXAT"), self.unix_millis(true)],
            4 | 5 => vec![self.case("PERSIST")],
            6 => {
                const BAD: &[&[&str]] =
                    &[&["EX"], &["FOO"], &["PERSIST", "EX", "1000"], &["EX", "0"]];
                let bad = *self.rng.pick(BAD);
                bad.iter().map(|w| w.as_bytes().to_vec()).collect()
            }
            _ => vec![],
        }
    }

    /// Optional `NX`/`XX` (never GT/LT: with relative times computed at
    /// different instants on the two servers they are timing-dependent).
    fn expire_option(&mut self) -> Vec<Vec<u8>> {
        match self.rng.below(20) {
            0..=1 => vec![self.case("NX")],
            2..=3 => vec![self.case("XX")],
            4 => vec![b"NX".to_vec(), b"XX".to_vec()],
            5 => vec![b"FOO".to_vec()],
            _ => vec![],
        }
    }

    fn db(&mut self) -> Vec<u8> {
        match self.rng.below(20) {
            0 => self.rng.pick(&["16", "-1", "abc"]).as_bytes().to_vec(),
            n => (n % 2).to_string().into_bytes(),
        }
    }

    fn keys(&mut self, max: u64) -> Vec<Vec<u8>> {
        let n = 1 + self.rng.below(max);
        (0..n).map(|_| self.key()).collect()
    }

    /// One command, name first.
    fn command(&mut self) -> Vec<Vec<u8>> {
        loop {
            let cmd = self.any_command();
            let name = cmd[0].to_ascii_uppercase();
            if self.extra || !EXTRA_COMMANDS.iter().any(|e| e.as_bytes() == name) {
                return cmd;
            }
        }
    }

    /// One command of the whole repertoire, extras included.
    fn any_command(&mut self) -> Vec<Vec<u8>> {
        let mut rest: Vec<Vec<u8>> = Vec::new();
        let name = match self.rng.below(1000) {
            0..=119 => {
                rest.extend([self.key(), self.value()]);
                if self.rng.chance(50) {
                    rest.extend(self.set_options());
                }
                "SET"
            }
            120..=199 => {
                rest.push(self.key());
                "GET"
            }
            200..=229 => {
                rest.extend(self.keys(5));
                "MGET"
            }
            230..=279 => {
                let pairs = 1 + self.rng.below(4);
                for _ in 0..pairs {
                    rest.extend([self.key(), self.value()]);
                }
                if self.rng.chance(50) {
                    "MSET"
                } else {
                    "MSETNX"
                }
            }
            280..=309 => {
                rest.push(self.key());
                *self.rng.pick(&["INCR", "DECR"])
            }
            310..=349 => {
                rest.extend([self.key(), self.int(-1000, 1000)]);
                *self.rng.pick(&["INCRBY", "DECRBY"])
            }
            350..=379 => {
                rest.extend([self.key(), self.float()]);
                "INCRBYFLOAT"
            }
            380..=419 => {
                rest.extend([self.key(), self.value()]);
                "APPEND"
            }
            420..=439 => {
                rest.push(self.key());
                "STRLEN"
            }
            440..=479 => {
                rest.extend([self.key(), self.int(-30, 30), self.int(-30, 30)]);
                if self.rng.chance(20) {
                    "SUBSTR"
                } else {
                    "GETRANGE"
                }
            }
            480..=509 => {
                let offset = if self.rng.chance(8) {
                    self.rng
                        .pick(&["-1", "536870912", "abc", "536870911"])
                        .as_bytes()
                        .to_vec()
                } else {
                    self.rng.range(0, 60).to_string().into_bytes()
                };
                let value = if self.rng.chance(10) {
                    Vec::new()
                } else {
                    self.value()
                };
                rest.extend([self.key(), offset, value]);
                "SETRANGE"
            }
            510..=529 => {
                rest.extend([self.key(), self.value()]);
                "GETSET"
            }
            530..=549 => {
                rest.push(self.key());
                "GETDEL"
            }
            550..=569 => {
                rest.extend([self.key(), self.value()]);
                "SETNX"
            }
            570..=589 => {
                if self.rng.chance(70) {
                    rest.extend([self.key(), self.secs(), self.value()]);
                    "SETEX"
                } else {
                    rest.extend([self.key(), self.millis(), self.value()]);
                    "PSETEX"
                }
            }
            590..=609 => {
                rest.push(self.key());
                rest.extend(self.getex_options());
                "GETEX"
            }
            610..=619 => {
                rest.extend([self.key(), self.key()]);
                if self.rng.chance(30) {
                    rest.push(self.case("LEN"));
                }
                "LCS"
            }
            620..=659 => {
                rest.extend(self.keys(4));
                *self.rng.pick(&["DEL", "DEL", "UNLINK"])
            }
            660..=689 => {
                rest.extend(self.keys(4));
                *self.rng.pick(&["EXISTS", "EXISTS", "TOUCH"])
            }
            690..=709 => {
                rest.push(self.key());
                "TYPE"
            }
            710..=749 => {
                rest.extend([self.key(), self.key()]);
                *self.rng.pick(&["RENAME", "RENAMENX"])
            }
            750..=769 => {
                rest.push(self.key());
                "PERSIST"
            }
            770..=809 => {
                rest.push(self.key());
                let name = match self.rng.below(6) {
                    0..=2 => {
                        rest.push(self.secs());
                        "EXPIRE"
                    }
                    3 => {
                        rest.push(self.millis());
                        "PEXPIRE"
                    }
                    4 => {
                        rest.push(self.unix_secs(true));
                        "EXPIREAT"
                    }
                    _ => {
                        rest.push(self.unix_millis(true));
                        "PEXPIREAT"
                    }
                };
                rest.extend(self.expire_option());
                name
            }
            810..=849 => {
                rest.push(self.key());
                *self
                    .rng
                    .pick(&["TTL", "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"])
            }
            850..=879 => {
                rest.extend([self.case("ENCODING"), self.key()]);
                "OBJECT"
            }
            880..=894 => "DBSIZE",
            895..=919 => {
                rest.push(self.db());
                "SELECT"
            }
            920..=929 => {
                let (a, b) = match self.rng.below(10) {
                    0 => (b"0".to_vec(), b"0".to_vec()),
                    1 => (self.db(), self.db()),
                    2 => (b"a".to_vec(), b"1".to_vec()),
                    3 => (b"1".to_vec(), b"b".to_vec()),
                    n => (
                        (n % 2).to_string().into_bytes(),
                        (1 - n % 2).to_string().into_bytes(),
                    ),
                };
                rest.extend([a, b]);
                "SWAPDB"
            }
            930..=949 => {
                rest.extend([self.key(), self.key()]);
                if self.rng.chance(40) {
                    rest.extend([self.case("DB"), self.db()]);
                }
                if self.rng.chance(40) {
                    rest.push(self.case("REPLACE"));
                }
                "COPY"
            }
            950..=964 => {
                rest.extend([self.key(), self.db()]);
                "MOVE"
            }
            965..=979 => {
                rest.push(self.rng.pick(PATTERNS).as_bytes().to_vec());
                "KEYS"
            }
            980..=989 => {
                if self.rng.chance(50) {
                    rest.push(self.value());
                }
                *self.rng.pick(&["PING", "ECHO"])
            }
            990..=996 => {
                rest.push(self.value());
                "ECHO"
            }
            _ => {
                if self.rng.chance(30) {
                    rest.push(self.case("SYNC"));
                }
                "FLUSHDB"
            }
        };
        let mut cmd = vec![self.case(name)];
        cmd.extend(rest);
        // Wrong arity now and then: drop the last argument or add one.
        match self.rng.below(100) {
            0..=2 if cmd.len() > 1 => {
                cmd.pop();
            }
            3..=4 => cmd.push(self.value()),
            _ => {}
        }
        cmd
    }
}

/// Replaces what legitimately differs between the two servers: positive
/// TTL-like values become one class, `KEYS` replies are sorted.
fn normalize(cmd: &[Vec<u8>], reply: Frame) -> Frame {
    let name = cmd[0].to_ascii_uppercase();
    match (name.as_slice(), reply) {
        (b"TTL" | b"PTTL" | b"EXPIRETIME" | b"PEXPIRETIME", Frame::Int(n)) if n >= 0 => {
            Frame::Simple("<positive>".into())
        }
        (b"KEYS", Frame::Array(mut keys)) => {
            keys.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            Frame::Array(keys)
        }
        (_, reply) => reply,
    }
}

/// A command as text, for reports.
fn show(cmd: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for (i, a) in cmd.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "\"{}\"", Escaped(a));
    }
    s
}

/// One reply that differs.
#[derive(Debug)]
struct Mismatch {
    seed: u64,
    /// Position in the stream, or `None` for the final keyspace check.
    index: Option<usize>,
    command: String,
    /// Upper-case command name, for the summary.
    name: String,
    ours: String,
    redis: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self
            .index
            .map_or_else(|| "final check".to_string(), |i| format!("command #{i}"));
        write!(
            f,
            "seed {} {at}: {}\n    ours:  {}\n    redis: {}",
            self.seed, self.command, self.ours, self.redis
        )
    }
}

/// Prints the seed, index and command if the test panics while running it
/// (a timeout, an undecodable reply).
struct PanicContext(String);

impl Drop for PanicContext {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("panicked while running {}", self.0);
        }
    }
}

/// Our server with the system clock (Redis runs on the real clock too).
struct Ours {
    shared: Arc<Shared>,
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Ours {
    async fn start() -> Ours {
        let cfg = ConfigStore::default();
        cfg.set_startup("port", "0").expect("port 0");
        cfg.set_startup("bind", "127.0.0.1").expect("bind");
        let server = Server::bind(cfg).await.expect("bind our server");
        Ours {
            shared: server.shared(),
            addr: server.local_addr(),
            task: tokio::spawn(server.run()),
        }
    }

    async fn stop(self) {
        self.shared.shutdown();
        let _ = tokio::time::timeout(common::REPLY_TIMEOUT, self.task).await;
    }
}

/// The two connections under comparison.
struct Pair {
    ours: RawConn,
    redis: RawConn,
}

impl Pair {
    /// Sends `cmd` to both; the replies, or `None` where the connection
    /// closed.
    async fn run(&mut self, cmd: &[Vec<u8>]) -> (Option<Frame>, Option<Frame>) {
        let bytes = encode(cmd);
        let _ = self.ours.try_send(&bytes).await;
        self.redis.send(&bytes).await;
        let ours = self.ours.next_reply().await;
        let redis = self.redis.next_reply().await;
        (
            ours.map(|f| normalize(cmd, f)),
            redis.map(|f| normalize(cmd, f)),
        )
    }
}

fn text_of(reply: &Option<Frame>) -> String {
    reply
        .as_ref()
        .map_or_else(|| "<connection closed>".into(), |f| format!("{f:?}"))
}

/// Per command name: how many of Redis' replies were not errors, and were.
type Coverage = BTreeMap<String, (u64, u64)>;

/// Runs one seed; returns its mismatches and adds to `coverage`.
async fn run_seed(seed: u64, commands: usize, coverage: &mut Coverage) -> Vec<Mismatch> {
    let redis = RedisProcess::start()
        .await
        .expect("redis-server availability was checked");
    let ours = Ours::start().await;
    let mut pair = Pair {
        ours: RawConn::connect(ours.addr).await,
        redis: RawConn::connect(redis.addr()).await,
    };
    // Generous: a loaded CI machine must not fail the comparison.
    pair.ours.set_timeout(SLOW_REPLY_TIMEOUT);
    pair.redis.set_timeout(SLOW_REPLY_TIMEOUT);
    let extra = std::env::var("DIFF_EXTRA").is_ok_and(|v| v == "1");
    let mut gen = Gen::new(seed, extra);
    let mut found = Vec::new();
    let mut aborted = false;
    let mut db = b"0".to_vec();

    for index in 0..commands {
        let cmd = gen.command();
        let shown = show(&cmd);
        let _context = PanicContext(format!("seed {seed} command #{index}: {shown}"));
        let (a, b) = pair.run(&cmd).await;
        let name = String::from_utf8_lossy(&cmd[0]).to_ascii_uppercase();
        let counts = coverage.entry(name.clone()).or_default();
        if b.as_ref().is_some_and(Frame::is_error) {
            counts.1 += 1;
        } else {
            counts.0 += 1;
        }
        if cmd[0].eq_ignore_ascii_case(b"SELECT") && b == Some(Frame::ok()) {
            db = cmd[1].clone();
        }
        if a == b {
            continue;
        }
        found.push(Mismatch {
            seed,
            index: Some(index),
            name,
            command: shown,
            ours: text_of(&a),
            redis: text_of(&b),
        });
        if a.is_none() {
            aborted = true;
            break;
        }
        if let Err(e) = resync(&mut pair, &db).await {
            eprintln!(
                "seed {seed}: cannot resynchronise after command #{index}: {e}; \
                 rest of the seed skipped"
            );
            aborted = true;
            break;
        }
    }
    if !aborted {
        final_check(seed, &mut pair, &mut found).await;
    }
    ours.stop().await;
    drop(redis);
    found
}

/// After a mismatch, gives both servers Redis' keyspace again, so that
/// one bug does not cascade into every later reply: reads db 0 and 1 from
/// Redis (values and PEXPIRETIME), flushes both, writes the keys to both
/// with `SET ... PXAT` (same encodings on both sides), and selects `db`
/// again.
async fn resync(pair: &mut Pair, db: &[u8]) -> Result<(), String> {
    let mut dbs = Vec::new();
    for n in ["0", "1"] {
        pair.redis.cmd(&["SELECT", n]).await;
        let Frame::Array(keys) = pair.redis.cmd(&["KEYS", "*"]).await else {
            return Err("KEYS * on Redis failed".into());
        };
        let mut entries = Vec::new();
        for key in keys {
            let Frame::Bulk(key) = key else {
                return Err(format!("KEYS gave {key:?}"));
            };
            let value = pair.redis.cmd(&[&b"GET"[..], &key]).await;
            let at = pair.redis.cmd(&[&b"PEXPIRETIME"[..], &key]).await;
            match (value, at) {
                (Frame::Bulk(v), Frame::Int(t)) => entries.push((key, v, t)),
                other => return Err(format!("GET/PTTL on Redis gave {other:?}")),
            }
        }
        dbs.push((n, entries));
    }
    let ok = (Some(Frame::ok()), Some(Frame::ok()));
    let run_ok = |pair_reply: (Option<Frame>, Option<Frame>), what: String| {
        if pair_reply == ok {
            Ok(())
        } else {
            Err(format!(
                "{what}: ours {} / redis {}",
                text_of(&pair_reply.0),
                text_of(&pair_reply.1)
            ))
        }
    };
    run_ok(pair.run(&[b"FLUSHALL".to_vec()]).await, "FLUSHALL".into())?;
    for (n, entries) in dbs {
        let select = [b"SELECT".to_vec(), n.as_bytes().to_vec()];
        run_ok(pair.run(&select).await, format!("SELECT {n}"))?;
        for (key, value, at) in entries {
            let mut set = vec![b"SET".to_vec(), key, value];
            if at > 0 {
                set.extend([b"PXAT".to_vec(), at.to_string().into_bytes()]);
            }
            run_ok(pair.run(&set).await, show(&set))?;
        }
    }
    let select = [b"SELECT".to_vec(), db.to_vec()];
    run_ok(pair.run(&select).await, show(&select))
}

/// Compares both keyspaces: `KEYS *` of db 0 and 1, then each key's
/// value, type and TTL class.
async fn final_check(seed: u64, pair: &mut Pair, found: &mut Vec<Mismatch>) {
    let mut check = |cmd: Vec<Vec<u8>>, a: Option<Frame>, b: Option<Frame>| {
        if a != b {
            found.push(Mismatch {
                seed,
                index: None,
                name: String::from_utf8_lossy(&cmd[0]).to_ascii_uppercase(),
                command: show(&cmd),
                ours: text_of(&a),
                redis: text_of(&b),
            });
        }
    };
    for db in [b"0", b"1"] {
        let cmd = vec![b"SELECT".to_vec(), db.to_vec()];
        let (a, b) = pair.run(&cmd).await;
        check(cmd, a, b);
        let cmd = vec![b"KEYS".to_vec(), b"*".to_vec()];
        let (a, b) = pair.run(&cmd).await;
        let mut keys = BTreeMap::new();
        for reply in [&a, &b] {
            if let Some(Frame::Array(items)) = reply {
                for item in items {
                    if let Frame::Bulk(k) = item {
                        keys.insert(k.clone(), ());
                    }
                }
            }
        }
        check(cmd, a, b);
        for key in keys.into_keys() {
            for name in ["TYPE", "GET", "TTL"] {
                let cmd = vec![name.as_bytes().to_vec(), key.clone()];
                let (a, b) = pair.run(&cmd).await;
                check(cmd, a, b);
            }
        }
    }
}

fn env_list(name: &str) -> Option<Vec<u64>> {
    let v = std::env::var(name).ok()?;
    Some(
        v.split(',')
            .map(|s| s.trim().parse().expect("comma-separated numbers"))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_replies_as_real_redis() {
    // Checks availability once (and skips with a notice when absent).
    let Some(probe) = RedisProcess::start().await else {
        return;
    };
    drop(probe);
    let seeds = env_list("DIFF_SEEDS").unwrap_or_else(|| DEFAULT_SEEDS.to_vec());
    let commands = env_list("DIFF_COMMANDS").map_or(DEFAULT_COMMANDS, |v| v[0] as usize);

    let mut all = Vec::new();
    let mut coverage = Coverage::new();
    for seed in seeds {
        let found = run_seed(seed, commands, &mut coverage).await;
        for m in found.iter().take(PRINTED_PER_SEED) {
            eprintln!("MISMATCH {m}");
        }
        if found.len() > PRINTED_PER_SEED {
            eprintln!(
                "seed {seed}: {} more mismatches not shown",
                found.len() - PRINTED_PER_SEED
            );
        }
        eprintln!(
            "seed {seed}: {commands} commands, {} mismatches",
            found.len()
        );
        all.extend(found);
    }

    eprintln!("\ncommands sent (Redis replied: not an error / an error):");
    for (name, (fine, errors)) in &coverage {
        eprintln!("  {name}: {fine} / {errors}");
    }

    // Per command: how often, and up to 3 examples that differ in our reply.
    let mut by_name: BTreeMap<&str, (usize, Vec<&Mismatch>)> = BTreeMap::new();
    for m in &all {
        let (count, examples) = by_name.entry(&m.name).or_default();
        *count += 1;
        let kind = |m: &Mismatch| m.ours.chars().take(24).collect::<String>();
        if examples.len() < 3 && examples.iter().all(|e| kind(e) != kind(m)) {
            examples.push(m);
        }
    }
    if !by_name.is_empty() {
        eprintln!("\nmismatches by command:");
        for (name, (count, examples)) in &by_name {
            eprintln!("  {name}: {count}, for example:");
            for m in examples {
                eprintln!("    {}", m.to_string().replace('\n', "\n    "));
            }
        }
    }
    assert!(
        all.is_empty(),
        "{} replies differ from real Redis (see above)",
        all.len()
    );
}
