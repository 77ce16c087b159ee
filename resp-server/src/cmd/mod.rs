//! The command table and dispatch.
//!
//! Every command is a [`Command`]: Redis' name, arity, flags and key
//! positions (as `COMMAND INFO` reports them) and a handler. Handlers live in
//! one module per group, named after Redis' command groups: [`string`],
//! [`keys`] (Redis' "generic"), [`server`], [`connection`]. A handler gets the
//! execution context ([`Ctx`]: shared state, this client, the current time,
//! the reply writer) and the arguments ([`Args`]), and writes its reply.
//!
//! Executing a command is a function of (keyspace, client, arguments, `now`):
//! the clock is read once per batch by the connection and passed in.

pub mod connection;
pub mod hash;
pub mod keys;
pub mod list;
pub mod pubsub;
pub mod server;
pub mod set;
pub mod sort;
pub mod string;
pub mod tx;
pub mod zset;

use std::sync::OnceLock;

use hashbrown::HashMap;
use smallvec::SmallVec;

use crate::client::Client;
use crate::reply::Reply;
use crate::shared::Shared;

/// Command flags, as `COMMAND INFO` names them.
pub mod flags {
    /// May modify the keyspace (`write`).
    pub const WRITE: u32 = 1 << 0;
    /// Never modifies the keyspace (`readonly`).
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory (`denyoom`).
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative (`admin`).
    pub const ADMIN: u32 = 1 << 3;
    /// Runs in O(1) or O(log n) (`fast`).
    pub const FAST: u32 = 1 << 4;
    /// Allowed before authentication (`no_auth`).
    pub const NO_AUTH: u32 = 1 << 5;
    /// Allowed while loading (`loading`).
    pub const LOADING: u32 = 1 << 6;
    /// Allowed on a stale replica (`stale`).
    pub const STALE: u32 = 1 << 7;
    /// Not allowed in scripts (`noscript`).
    pub const NOSCRIPT: u32 = 1 << 8;
    /// Output is not deterministic (`random` in older Redis).
    pub const RANDOM: u32 = 1 << 9;
    /// Allowed in a `MULTI` context only by name (`allow_busy`).
    pub const ALLOW_BUSY: u32 = 1 << 10;
    /// May block the client (`blocking`): never sent to another thread.
    pub const BLOCKING: u32 = 1 << 11;
    /// Keys are not all at the table's positions (`movablekeys`): the
    /// handler finds them; never sent to another thread.
    pub const MOVABLE_KEYS: u32 = 1 << 12;
    /// Allowed while subscribed in RESP2 (`SUBSCRIBE`, `PING`, `QUIT`, ...).
    pub const PUBSUB_OK: u32 = 1 << 13;
    /// Runs at once even inside `MULTI` (`EXEC`, `DISCARD`, `MULTI`,
    /// `WATCH`, `QUIT`, `RESET`): Redis' `no-multi`-exempt commands.
    pub const NOT_QUEUED: u32 = 1 << 14;

    /// Names in `COMMAND INFO` order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (NO_AUTH, "no_auth"),
        (FAST, "fast"),
        (ALLOW_BUSY, "allow_busy"),
        (BLOCKING, "blocking"),
        (MOVABLE_KEYS, "movablekeys"),
    ];
}

/// A handler: runs the command and writes its reply.
pub type Handler = fn(&mut Ctx<'_>, Args<'_>);

/// One entry of the command table.
#[derive(Debug)]
pub struct Command {
    /// Lowercase name, as Redis spells it.
    pub name: &'static str,
    /// Redis arity: `n` means exactly `n` arguments (name included), `-n` at
    /// least `n`.
    pub arity: i32,
    /// Bits of [`flags`].
    pub flags: u32,
    /// Position of the first key (0 if none).
    pub first_key: i32,
    /// Position of the last key (-1: the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// Redis' command group (`string`, `generic`, `server`, `connection`).
    pub group: &'static str,
    /// One-line summary, as `COMMAND DOCS` gives it.
    pub summary: &'static str,
    /// Redis version that introduced the command.
    pub since: &'static str,
    /// Handler.
    pub run: Handler,
}

impl Command {
    /// Whether `argc` arguments (name included) satisfy the arity.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = self.arity as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Whether the command has flag `f`.
    #[inline]
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// Positions of the keys in a call with `argc` arguments, from the
    /// table's (first, last, step) triple.
    pub fn key_positions(&self, argc: usize) -> impl Iterator<Item = usize> {
        let (first, step) = (self.first_key.max(0) as usize, self.step.max(1) as usize);
        let last = if self.last_key < 0 {
            (argc as i64 + self.last_key as i64).max(0) as usize
        } else {
            self.last_key as usize
        };
        let end = if first == 0 { 0 } else { (last + 1).min(argc) };
        (first..end.max(first)).step_by(step)
    }
}

/// Builds a [`Command`]; used by the tables of the group modules.
#[allow(clippy::too_many_arguments)]
pub(crate) const fn command(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    run: Handler,
) -> Command {
    Command {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        group,
        summary,
        since,
        run,
    }
}

/// The arguments of one command, name included (`args.get(0)`), as slices of
/// the connection's read buffer.
#[derive(Clone, Copy, Debug)]
pub struct Args<'a> {
    src: &'a [u8],
    ranges: &'a [(u32, u32)],
}

impl<'a> Args<'a> {
    /// Arguments given as `(start, end)` byte ranges of `src`.
    pub fn new(src: &'a [u8], ranges: &'a [(u32, u32)]) -> Args<'a> {
        Args { src, ranges }
    }

    /// Number of arguments, the command name included.
    #[inline]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there is no argument at all.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Argument `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`; the arity check runs before any handler, so a
    /// handler indexes within its arity and loops within `len()`.
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (s, e) = self.ranges[i];
        &self.src[s as usize..e as usize]
    }

    /// Arguments from position `from` on.
    pub fn iter_from(&self, from: usize) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let src = self.src;
        self.ranges[from.min(self.ranges.len())..]
            .iter()
            .map(move |&(s, e)| &src[s as usize..e as usize])
    }

    /// The arguments after `from`, as a new `Args` (the name slot becomes
    /// the argument at `from`).
    pub fn shift(&self, from: usize) -> Args<'a> {
        Args {
            src: self.src,
            ranges: &self.ranges[from.min(self.ranges.len())..],
        }
    }
}

/// What a handler runs with.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// State shared by every connection.
    pub shared: &'a Shared,
    /// The calling client's connection state.
    pub client: &'a mut Client,
    /// Current Unix time in milliseconds, read once per batch of commands.
    pub now_ms: u64,
    /// Where the reply goes.
    pub out: Reply<'a>,
}

impl Ctx<'_> {
    /// Registers this client as waiting on `key` of `db` (the calling
    /// client's selected database, under the shard lock the handler holds)
    /// for a value of `kind`: the first step of blocking, see
    /// [`crate::blocking`]. Call it for every key of the command, then
    /// [`Ctx::block`]. Does nothing inside `EXEC`.
    pub fn block_key(
        &mut self,
        db: &mut crate::keyspace::Db,
        key: &[u8],
        kind: crate::blocking::BlockKind,
    ) {
        if self.client.in_exec {
            return;
        }
        let req = match &mut self.client.block_request {
            Some(req) => req,
            None => {
                let gen = self.client.next_block_gen();
                self.client
                    .handle
                    .block_gen
                    .store(gen, std::sync::atomic::Ordering::Release);
                self.client
                    .block_request
                    .insert(crate::blocking::BlockRequest {
                        gen,
                        ..Default::default()
                    })
            }
        };
        db.add_waiter(
            key,
            crate::blocking::Waiter {
                client: self.client.handle.clone(),
                gen: req.gen,
                kind,
            },
        );
        req.keys.push(key.into());
    }

    /// Blocks the client until `deadline_ms` (absolute Unix ms; None:
    /// forever) after [`Ctx::block_key`] registered it on its keys: the
    /// handler writes no reply; the command runs again when a key is ready,
    /// or `on_timeout` is the reply. Inside `EXEC` (nothing blocks there)
    /// writes `on_timeout` at once.
    pub fn block(&mut self, deadline_ms: Option<u64>, on_timeout: crate::blocking::TimeoutReply) {
        match &mut self.client.block_request {
            Some(req) if !self.client.in_exec => {
                req.deadline_ms = deadline_ms;
                req.on_timeout = Some(on_timeout);
            }
            _ => on_timeout.write(&mut self.out),
        }
    }
}

/// Parses a blocking command's timeout, in seconds (a float, as Redis
/// 6+), into an absolute deadline: `Some(None)` waits forever (0),
/// `Some(Some(ms))` until Unix ms `ms`. Writes Redis' error and returns None
/// for a negative, non-numeric or out-of-range value.
pub fn timeout_arg(out: &mut Reply<'_>, arg: &[u8], now_ms: u64) -> Option<Option<u64>> {
    let secs = std::str::from_utf8(arg)
        .ok()
        .filter(|s| {
            !s.is_empty()
                && !s.starts_with(char::is_whitespace)
                && !s.ends_with(char::is_whitespace)
        })
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|v| !v.is_nan());
    let Some(secs) = secs else {
        out.error("ERR timeout is not a float or out of range");
        return None;
    };
    if secs < 0.0 {
        out.error("ERR timeout is negative");
        return None;
    }
    let ms = secs * 1000.0;
    if !ms.is_finite() || ms > (i64::MAX / 2) as f64 {
        out.error("ERR timeout is out of range");
        return None;
    }
    let ms = ms as u64;
    Some((ms > 0).then(|| now_ms.saturating_add(ms)))
}

/// Redis' error texts used by many commands.
pub mod err {
    /// Wrong type of value.
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    /// Generic syntax error.
    pub const SYNTAX: &str = "ERR syntax error";
    /// Argument is not a valid integer.
    pub const NOT_INT: &str = "ERR value is not an integer or out of range";
    /// Argument is not a valid float.
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    /// Key absent where required.
    pub const NO_SUCH_KEY: &str = "ERR no such key";
    /// Increment or decrement overflows i64.
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    /// `SELECT` out of range.
    pub const DB_INDEX: &str = "ERR DB index is out of range";
    /// Authentication required.
    pub const NOAUTH: &str = "NOAUTH Authentication required.";
    /// String grows past `proto-max-bulk-len`.
    pub const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
}

/// Longest part of a client argument Redis quotes in the errors that
/// format it with `%.128s` (unknown command and subcommand), in bytes.
pub const SHOWN_MAX: usize = 128;

/// A client argument as Redis' `%s` puts it into an error text: its raw
/// bytes up to the first NUL byte. Write it with [`Reply::error_parts`],
/// which also turns CR and LF into spaces.
#[inline]
pub fn shown(arg: &[u8]) -> &[u8] {
    arg.iter()
        .position(|&b| b == 0)
        .map_or(arg, |nul| &arg[..nul])
}

/// A client argument as Redis' `%.{max}s` shows it: [`shown`], cut to at
/// most `max` bytes (possibly inside a UTF-8 sequence, as Redis does).
#[inline]
pub fn shown_max(arg: &[u8], max: usize) -> &[u8] {
    let s = shown(arg);
    &s[..s.len().min(max)]
}

/// Writes Redis' wrong-arity error for the command (or `container|sub`)
/// `name`, in the table's lowercase spelling whatever the client sent.
pub fn wrong_arity(out: &mut Reply<'_>, name: &[u8]) {
    out.error_parts(&[
        b"ERR wrong number of arguments for '",
        &name.to_ascii_lowercase(),
        b"' command",
    ]);
}

/// Writes Redis' unknown-command error (`processCommand`): the name as
/// `%.128s`, then the arguments quoted one by one while the list is under
/// 128 bytes, each cut to what is left of those 128.
pub fn unknown_command(out: &mut Reply<'_>, args: Args<'_>) {
    let mut list = Vec::with_capacity(SHOWN_MAX + 8);
    for a in args.iter_from(1) {
        if list.len() >= SHOWN_MAX {
            break;
        }
        list.push(b'\'');
        list.extend_from_slice(shown_max(a, SHOWN_MAX - (list.len() - 1)));
        list.extend_from_slice(b"' ");
    }
    out.error_parts(&[
        b"ERR unknown command '",
        shown_max(args.get(0), SHOWN_MAX),
        b"', with args beginning with: ",
        &list,
    ]);
}

/// The whole command table.
pub fn table() -> &'static [&'static Command] {
    &index().0
}

/// The table, and its index by lowercase name.
type Index = (
    Vec<&'static Command>,
    HashMap<&'static [u8], &'static Command>,
);

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let all: Vec<&'static Command> = string::COMMANDS
            .iter()
            .chain(keys::COMMANDS)
            .chain(sort::COMMANDS)
            .chain(hash::COMMANDS)
            .chain(list::COMMANDS)
            .chain(set::COMMANDS)
            .chain(zset::COMMANDS)
            .chain(tx::COMMANDS)
            .chain(pubsub::COMMANDS)
            .chain(server::COMMANDS)
            .chain(connection::COMMANDS)
            .collect();
        let map = all.iter().map(|c| (c.name.as_bytes(), *c)).collect();
        (all, map)
    })
}

/// Finds a command by name, case-insensitively.
#[inline]
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return None;
    }
    let lower = &mut lower[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    index().1.get(&*lower).copied()
}

/// Where a key lives: its hash and its shard.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// Hash of the key.
    pub hash: u64,
    /// Owning shard.
    pub shard: usize,
}

/// Routes keys to shards: one [`Route`] per key, in order, and the sorted,
/// deduplicated shards to lock (one lock per shard per command).
pub fn route<'k>(
    shared: &Shared,
    keys: impl Iterator<Item = &'k [u8]>,
) -> (SmallVec<[Route; 8]>, SmallVec<[usize; 8]>) {
    let ks = &shared.keyspace;
    let routes: SmallVec<[Route; 8]> = keys
        .map(|k| {
            let hash = ks.hash(k);
            Route {
                hash,
                shard: ks.shard_of(hash),
            }
        })
        .collect();
    let mut shards: SmallVec<[usize; 8]> = routes.iter().map(|r| r.shard).collect();
    shards.sort_unstable();
    shards.dedup();
    (routes, shards)
}

/// Parses argument `arg` as a Redis integer, or writes the standard error.
pub fn int_arg(out: &mut Reply<'_>, arg: &[u8]) -> Option<i64> {
    let v = crate::num::parse_i64_canonical(arg);
    if v.is_none() {
        out.error(err::NOT_INT);
    }
    v
}

/// Options of `HSCAN`, `SSCAN` and `ZSCAN`.
pub(crate) struct ScanOpts<'a> {
    /// `MATCH` pattern (None for none or `*`).
    pub pattern: Option<&'a [u8]>,
    /// `COUNT`, at least 1 (default 10).
    pub count: usize,
}

impl ScanOpts<'_> {
    /// Whether `item` passes the `MATCH` filter.
    pub fn keeps(&self, item: crate::types::hash::Item<'_>) -> bool {
        self.pattern
            .is_none_or(|p| item.with_bytes(|b| crate::glob::matches(p, b, false)))
    }
}

/// Parses `[MATCH pattern] [COUNT count]` from argument `from` on, as
/// Redis' `scanGenericCommand` does for a key's scan (`TYPE` is refused),
/// or writes the error.
pub(crate) fn scan_opts<'a>(
    out: &mut Reply<'_>,
    args: Args<'a>,
    from: usize,
) -> Option<ScanOpts<'a>> {
    let mut opts = ScanOpts {
        pattern: None,
        count: 10,
    };
    let mut i = from;
    while i < args.len() {
        let (opt, has_value) = (args.get(i), i + 1 < args.len());
        if opt.eq_ignore_ascii_case(b"count") && has_value {
            let n = int_arg(out, args.get(i + 1))?;
            if n < 1 {
                out.error(err::SYNTAX);
                return None;
            }
            opts.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if opt.eq_ignore_ascii_case(b"match") && has_value {
            let p = args.get(i + 1);
            opts.pattern = (p != b"*").then_some(p);
        } else {
            out.error(err::SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(opts)
}

/// Writes a scan reply: `[cursor, body]`, `body` holding `n` elements.
pub(crate) fn reply_scan(out: &mut Reply<'_>, cursor: u64, n: usize, body: &[u8]) {
    out.array(2);
    out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    out.array(n);
    out.raw(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_arity_sane() {
        let mut seen = std::collections::HashSet::new();
        for c in table() {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert_eq!(c.name, c.name.to_lowercase());
            assert_ne!(c.arity, 0, "{}", c.name);
            assert!(lookup(c.name.to_uppercase().as_bytes()).is_some());
        }
    }
}
