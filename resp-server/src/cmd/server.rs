//! Server commands (<https://redis.io/docs/latest/commands/?group=server>):
//! whole-keyspace operations (`DBSIZE`, `FLUSHDB`, `FLUSHALL`, `SWAPDB`),
//! introspection (`INFO`, `COMMAND`, `CONFIG`, `TIME`, `LASTSAVE`) and
//! `SHUTDOWN`.
//!
//! Replies and error texts are Redis 7.0's. None of these is on a hot path,
//! so they format freely; `INFO` reads `/proc` (memory, CPU) only for the
//! sections asked for.

use std::borrow::Cow;
use std::fmt::{Display, Write as _};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use super::flags::*;
use super::{command, err, Args, Command, Ctx};
use crate::config::ConfigStore;
use crate::reply::Reply;

/// The server commands.
pub(crate) const COMMANDS: &[Command] = &[
    command(
        "dbsize",
        1,
        READONLY | FAST,
        (0, 0, 0),
        "server",
        "1.0.0",
        "Return the number of keys in the selected database",
        dbsize,
    ),
    command(
        "flushdb",
        -1,
        WRITE,
        (0, 0, 0),
        "server",
        "1.0.0",
        "Remove all keys from the current database",
        flushdb,
    ),
    command(
        "flushall",
        -1,
        WRITE,
        (0, 0, 0),
        "server",
        "1.0.0",
        "Remove all keys from all databases",
        flushall,
    ),
    command(
        "swapdb",
        3,
        WRITE | FAST,
        (0, 0, 0),
        "server",
        "4.0.0",
        "Swaps two Redis databases",
        swapdb,
    ),
    command(
        "time",
        1,
        LOADING | STALE | FAST | RANDOM,
        (0, 0, 0),
        "server",
        "2.6.0",
        "Return the current server time",
        time,
    ),
    command(
        "lastsave",
        1,
        LOADING | STALE | FAST | RANDOM,
        (0, 0, 0),
        "server",
        "1.0.0",
        "Get the UNIX time stamp of the last successful save to disk",
        lastsave,
    ),
    command(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        (0, 0, 0),
        "server",
        "1.0.0",
        "Synchronously save the dataset to disk and then shut down the server",
        shutdown,
    ),
    command(
        "info",
        -1,
        LOADING | STALE | RANDOM,
        (0, 0, 0),
        "server",
        "1.0.0",
        "Get information and statistics about the server",
        info,
    ),
    command(
        "config",
        -2,
        0,
        (0, 0, 0),
        "server",
        "2.0.0",
        "A container for server configuration commands",
        config,
    ),
    command(
        "command",
        -1,
        LOADING | STALE,
        (0, 0, 0),
        "server",
        "2.8.13",
        "Get array of Redis command details",
        command_cmd,
    ),
];

/// The Redis version this server answers as (`INFO`, `HELLO`).
pub const REDIS_VERSION: &str = "7.0.15";

// ---------------------------------------------------------------------------
// Keyspace-wide commands

/// `DBSIZE`
pub fn dbsize(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    let n = ctx.shared.keyspace.dbsize(ctx.client.db);
    ctx.out.int(n as i64);
}

/// Checks the optional `ASYNC | SYNC` argument of `FLUSHDB`/`FLUSHALL`
/// (both flush at once here); writes the syntax error if it is anything else.
fn flush_mode_ok(ctx: &mut Ctx<'_>, args: Args<'_>) -> bool {
    let ok = match args.len() {
        1 => true,
        2 => {
            let a = args.get(1);
            a.eq_ignore_ascii_case(b"sync") || a.eq_ignore_ascii_case(b"async")
        }
        _ => false,
    };
    if !ok {
        ctx.out.error(err::SYNTAX);
    }
    ok
}

/// `FLUSHDB [ASYNC | SYNC]`
pub fn flushdb(ctx: &mut Ctx<'_>, args: Args<'_>) {
    if !flush_mode_ok(ctx, args) {
        return;
    }
    let db = ctx.client.db;
    let mut locked = ctx.shared.keyspace.lock_all();
    for shard in locked.iter_mut() {
        shard.db(db).clear();
    }
    ctx.out.ok();
}

/// `FLUSHALL [ASYNC | SYNC]`
pub fn flushall(ctx: &mut Ctx<'_>, args: Args<'_>) {
    if !flush_mode_ok(ctx, args) {
        return;
    }
    let mut locked = ctx.shared.keyspace.lock_all();
    for shard in locked.iter_mut() {
        for db in 0..shard.db_count() {
            shard.db(db).clear();
        }
    }
    ctx.out.ok();
}

/// `SWAPDB index1 index2`
///
/// Every shard swaps the two databases under one lock of all shards, so no
/// client ever sees half a swap. Clients keep their selected index and so
/// see the other data afterwards, as in Redis.
pub fn swapdb(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let index =
        |arg: &[u8]| crate::num::parse_i64_canonical(arg).filter(|n| i32::try_from(*n).is_ok());
    let Some(a) = index(args.get(1)) else {
        return ctx.out.error("ERR invalid first DB index");
    };
    let Some(b) = index(args.get(2)) else {
        return ctx.out.error("ERR invalid second DB index");
    };
    let ks = &ctx.shared.keyspace;
    let (Ok(a), Ok(b)) = (usize::try_from(a), usize::try_from(b)) else {
        return ctx.out.error(err::DB_INDEX);
    };
    if a >= ks.databases() || b >= ks.databases() {
        return ctx.out.error(err::DB_INDEX);
    }
    let mut locked = ks.lock_all();
    for shard in locked.iter_mut() {
        shard.swap_dbs(a, b, ctx.now_ms);
    }
    ctx.out.ok();
}

// ---------------------------------------------------------------------------
// Time, shutdown

/// `TIME`: seconds and microseconds, from the batch's clock reading.
pub fn time(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    ctx.out.array(2);
    ctx.out.bulk_int((ctx.now_ms / 1000) as i64);
    ctx.out.bulk_int((ctx.now_ms % 1000 * 1000) as i64);
}

/// `LASTSAVE`: nothing is ever saved, so the start time (as Redis reports
/// before its first save).
pub fn lastsave(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    ctx.out.int((ctx.shared.started_ms / 1000) as i64);
}

/// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`
///
/// There is nothing to save, so every valid form but `ABORT` stops the
/// server at once: no reply, the connection closes.
pub fn shutdown(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (mut nosave, mut save, mut other, mut abort) = (false, false, false, false);
    for a in args.iter_from(1) {
        if a.eq_ignore_ascii_case(b"nosave") {
            nosave = true;
        } else if a.eq_ignore_ascii_case(b"save") {
            save = true;
        } else if a.eq_ignore_ascii_case(b"now") || a.eq_ignore_ascii_case(b"force") {
            other = true;
        } else if a.eq_ignore_ascii_case(b"abort") {
            abort = true;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
    }
    if (abort && (nosave || save || other)) || (nosave && save) {
        return ctx.out.error(err::SYNTAX);
    }
    if abort {
        return ctx.out.error("ERR No shutdown in progress.");
    }
    tracing::info!(id = ctx.client.id(), "SHUTDOWN asked by a client");
    ctx.shared.shutdown();
    ctx.client.close_after_reply = true;
}

// ---------------------------------------------------------------------------
// Subcommands of container commands (CONFIG, COMMAND)

/// Subcommands of a container: (name, arity counting the container's name).
type Subcommands = &'static [(&'static str, i32)];

/// Finds the subcommand `args.get(1)` of `container` and checks its arity;
/// writes Redis' error and returns None when either fails.
fn subcommand(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    container: &str,
    subs: Subcommands,
) -> Option<&'static str> {
    let given = args.get(1);
    let Some(&(name, arity)) = subs
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(given))
    else {
        ctx.out.error_parts(&[
            b"ERR unknown subcommand '",
            super::shown_max(given, super::SHOWN_MAX),
            b"'. Try ",
            &args.get(0).to_ascii_uppercase(),
            b" HELP.",
        ]);
        return None;
    };
    let argc = args.len() as i64;
    let arity = i64::from(arity);
    if (arity >= 0 && argc != arity) || (arity < 0 && argc < -arity) {
        super::wrong_arity(&mut ctx.out, format!("{container}|{name}").as_bytes());
        return None;
    }
    Some(name)
}

/// Writes a `HELP` reply: one status line per element.
fn help(out: &mut Reply<'_>, lines: &[&str]) {
    out.array(lines.len());
    for l in lines {
        out.simple(l);
    }
}

// ---------------------------------------------------------------------------
// CONFIG

const CONFIG_SUBCOMMANDS: Subcommands = &[
    ("get", -3),
    ("set", -4),
    ("resetstat", 2),
    ("rewrite", 2),
    ("help", 2),
];

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

/// `CONFIG GET pattern [pattern ...] | SET name value [name value ...] |
/// RESETSTAT | REWRITE | HELP`
pub fn config(ctx: &mut Ctx<'_>, args: Args<'_>) {
    match subcommand(ctx, args, "config", CONFIG_SUBCOMMANDS) {
        Some("get") => config_get(ctx, args),
        Some("set") => config_set(ctx, args),
        Some("resetstat") => {
            ctx.shared.reset_stats();
            ctx.out.ok();
        }
        // The file a server was started with is not kept, so there is
        // nothing to rewrite.
        Some("rewrite") => ctx
            .out
            .error("ERR The server is running without a config file"),
        Some(_) => help(&mut ctx.out, CONFIG_HELP),
        None => {}
    }
}

/// `CONFIG GET pattern [pattern ...]`: a map of every parameter some pattern
/// matches, each once. A pattern without glob characters names a parameter
/// case-insensitively and is echoed as given, as Redis does.
fn config_get(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let config = &ctx.shared.config;
    let mut found: Vec<(Cow<'_, str>, &'static str, String)> = Vec::new();
    let seen = |found: &[(Cow<'_, str>, &'static str, String)], name: &str| {
        found.iter().any(|(_, n, _)| *n == name)
    };
    for pattern in args.iter_from(2) {
        if pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            for (name, value) in config.matching(pattern) {
                if !seen(&found, name) {
                    found.push((Cow::Borrowed(name), name, value));
                }
            }
        } else if let Some(name) = std::str::from_utf8(pattern)
            .ok()
            .and_then(ConfigStore::canonical_name)
        {
            if !seen(&found, name) {
                let value = config.get(name).unwrap_or_default();
                found.push((String::from_utf8_lossy(pattern), name, value));
            }
        }
    }
    ctx.out.map(found.len());
    for (shown, _, value) in &found {
        ctx.out.bulk(shown.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
}

/// `CONFIG SET name value [name value ...]`: all or nothing.
fn config_set(ctx: &mut Ctx<'_>, args: Args<'_>) {
    if !args.len().is_multiple_of(2) {
        return ctx.out.error(err::SYNTAX);
    }
    let texts: Vec<Cow<'_, str>> = args.iter_from(2).map(String::from_utf8_lossy).collect();
    let pairs: Vec<(&str, &str)> = texts
        .chunks_exact(2)
        .map(|p| (p[0].as_ref(), p[1].as_ref()))
        .collect();
    match ctx.shared.config.set_many(&pairs) {
        Ok(()) => ctx.out.ok(),
        Err(crate::config::SetError::Unknown(_)) => {
            // The first unknown name, as the client sent it (it may not be
            // UTF-8, so `texts` holds only a lossy copy of it).
            let name = args
                .iter_from(2)
                .step_by(2)
                .find(|n| std::str::from_utf8(n).map_or(true, |n| !ConfigStore::is_known(n)))
                .unwrap_or_default();
            ctx.out.error_parts(&[
                b"ERR Unknown option or number of arguments for CONFIG SET - '",
                super::shown(name),
                b"'",
            ]);
        }
        Err(e) => ctx.out.error(&format!("ERR {e}")),
    }
}

// ---------------------------------------------------------------------------
// COMMAND

const COMMAND_SUBCOMMANDS: Subcommands = &[
    ("count", 2),
    ("docs", -2),
    ("getkeys", -4),
    ("info", -2),
    ("list", -2),
    ("help", 2),
];

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

/// ACL categories, in the order Redis lists them.
const ACL_CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Bit of an ACL category in the masks below (its index in
/// [`ACL_CATEGORIES`]).
const fn cat(name: &str) -> u32 {
    let mut i = 0;
    while i < ACL_CATEGORIES.len() {
        if const_eq(ACL_CATEGORIES[i], name) {
            return 1 << i;
        }
        i += 1;
    }
    panic!("unknown ACL category")
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Categories Redis gives a command beyond what its flags and group imply.
const EXTRA_CATEGORIES: &[(&str, u32)] = &[
    ("dbsize", cat("keyspace")),
    ("flushdb", cat("keyspace") | cat("dangerous")),
    ("flushall", cat("keyspace") | cat("dangerous")),
    ("swapdb", cat("keyspace") | cat("dangerous")),
    ("lastsave", cat("admin") | cat("dangerous")),
    ("role", cat("admin") | cat("dangerous")),
    ("info", cat("dangerous")),
    ("keys", cat("dangerous")),
    (
        "sort",
        cat("set") | cat("sortedset") | cat("list") | cat("dangerous"),
    ),
    ("sort_ro", cat("set") | cat("sortedset") | cat("list")),
    ("restore", cat("dangerous")),
    ("migrate", cat("dangerous")),
    ("command", cat("connection")),
    ("blpop", cat("blocking")),
    ("brpop", cat("blocking")),
    ("brpoplpush", cat("blocking")),
    ("blmove", cat("blocking")),
    ("blmpop", cat("blocking")),
    ("bzpopmin", cat("blocking")),
    ("bzpopmax", cat("blocking")),
    ("bzmpop", cat("blocking")),
    ("xread", cat("blocking")),
    ("xreadgroup", cat("blocking")),
    ("wait", cat("blocking")),
];

/// ACL categories of `c` as a mask of [`ACL_CATEGORIES`] bits, derived as
/// Redis does: the group's data type, `@read`/`@write`/`@admin` (+
/// `@dangerous`) from the flags, `@fast` or else `@slow`, plus the explicit
/// extras of a few commands.
fn acl_mask(c: &Command) -> u32 {
    let group = match c.group {
        "generic" => cat("keyspace"),
        "string" => cat("string"),
        "list" => cat("list"),
        "set" => cat("set"),
        "sorted-set" | "sorted_set" | "sortedset" => cat("sortedset"),
        "hash" => cat("hash"),
        "bitmap" => cat("bitmap"),
        "hyperloglog" => cat("hyperloglog"),
        "geo" => cat("geo"),
        "stream" => cat("stream"),
        "pubsub" => cat("pubsub"),
        "connection" => cat("connection"),
        "transactions" => cat("transaction"),
        "scripting" => cat("scripting"),
        _ => 0,
    };
    let mut mask = group
        | EXTRA_CATEGORIES
            .iter()
            .find(|(n, _)| *n == c.name)
            .map_or(0, |e| e.1);
    if c.has(WRITE) {
        mask |= cat("write");
    }
    if c.has(READONLY) && mask & cat("scripting") == 0 {
        mask |= cat("read");
    }
    if c.has(ADMIN) {
        mask |= cat("admin") | cat("dangerous");
    }
    mask |= if c.has(FAST) {
        cat("fast")
    } else {
        cat("slow")
    };
    mask
}

/// Writes one `COMMAND INFO` entry, laid out as Redis 7.0 does: name,
/// arity, flags, first key, last key, step, ACL categories, tips, key specs
/// (none given) and subcommands (none).
fn write_command_info(out: &mut Reply<'_>, c: &Command) {
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.int(i64::from(c.arity));
    let flags = NAMES.iter().filter(|(f, _)| c.has(*f));
    out.set(flags.clone().count());
    for (_, name) in flags {
        out.simple(name);
    }
    out.int(i64::from(c.first_key));
    out.int(i64::from(c.last_key));
    out.int(i64::from(c.step));
    let mask = acl_mask(c);
    out.set(mask.count_ones() as usize);
    for (i, name) in ACL_CATEGORIES.iter().enumerate() {
        if mask & (1 << i) != 0 {
            let mut s = String::with_capacity(name.len() + 1);
            s.push('@');
            s.push_str(name);
            out.simple(&s);
        }
    }
    if c.has(RANDOM) {
        out.set(1);
        out.bulk(b"nondeterministic_output");
    } else {
        out.set(0);
    }
    out.set(0);
    out.set(0);
}

/// `COMMAND [COUNT | DOCS [name ...] | GETKEYS command [arg ...] |
/// INFO [name ...] | LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p] | HELP]`
pub fn command_cmd(ctx: &mut Ctx<'_>, args: Args<'_>) {
    if args.len() == 1 {
        return command_info(ctx, args);
    }
    match subcommand(ctx, args, "command", COMMAND_SUBCOMMANDS) {
        Some("count") => ctx.out.int(super::table().len() as i64),
        Some("docs") => command_docs(ctx, args),
        Some("getkeys") => command_getkeys(ctx, args),
        Some("info") => command_info(ctx, args),
        Some("list") => command_list(ctx, args),
        Some(_) => help(&mut ctx.out, COMMAND_HELP),
        None => {}
    }
}

/// `COMMAND` and `COMMAND INFO [name ...]`: every command without names, else
/// one entry per name (nil for an unknown one).
fn command_info(ctx: &mut Ctx<'_>, args: Args<'_>) {
    if args.len() <= 2 {
        let all = super::table();
        ctx.out.array(all.len());
        for c in all {
            write_command_info(&mut ctx.out, c);
        }
        return;
    }
    ctx.out.array(args.len() - 2);
    for name in args.iter_from(2) {
        match super::lookup(name) {
            Some(c) => write_command_info(&mut ctx.out, c),
            None => ctx.out.null(),
        }
    }
}

/// `COMMAND DOCS [name ...]`: a map of name to summary, since and group;
/// unknown names are left out.
fn command_docs(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let cmds: Vec<&Command> = if args.len() == 2 {
        super::table().to_vec()
    } else {
        args.iter_from(2).filter_map(super::lookup).collect()
    };
    ctx.out.map(cmds.len());
    for c in cmds {
        ctx.out.bulk(c.name.as_bytes());
        ctx.out.map(3);
        ctx.out.bulk(b"summary");
        ctx.out.bulk(c.summary.as_bytes());
        ctx.out.bulk(b"since");
        ctx.out.bulk(c.since.as_bytes());
        ctx.out.bulk(b"group");
        ctx.out.bulk(c.group.as_bytes());
    }
}

/// `COMMAND GETKEYS command [arg ...]`: the keys a call would touch, by the
/// table's key positions.
fn command_getkeys(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let call = args.shift(2);
    let Some(c) = super::lookup(call.get(0)) else {
        return ctx.out.error("ERR Invalid command specified");
    };
    if !c.arity_ok(call.len()) {
        return ctx
            .out
            .error("ERR Invalid number of arguments specified for command");
    }
    let n = c.key_positions(call.len()).count();
    if n == 0 {
        return ctx.out.error("ERR The command has no key arguments");
    }
    ctx.out.array(n);
    for i in c.key_positions(call.len()) {
        ctx.out.bulk(call.get(i));
    }
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`
fn command_list(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let all = super::table();
    let names: Vec<&str> = match args.len() {
        2 => all.iter().map(|c| c.name).collect(),
        5 if args.get(2).eq_ignore_ascii_case(b"filterby") => {
            let (by, value) = (args.get(3), args.get(4));
            if by.eq_ignore_ascii_case(b"module") {
                Vec::new()
            } else if by.eq_ignore_ascii_case(b"aclcat") {
                let bit = ACL_CATEGORIES
                    .iter()
                    .position(|c| c.as_bytes().eq_ignore_ascii_case(value))
                    .map_or(0, |i| 1u32 << i);
                all.iter()
                    .filter(|c| acl_mask(c) & bit != 0)
                    .map(|c| c.name)
                    .collect()
            } else if by.eq_ignore_ascii_case(b"pattern") {
                all.iter()
                    .filter(|c| crate::glob::matches(value, c.name.as_bytes(), true))
                    .map(|c| c.name)
                    .collect()
            } else {
                return ctx.out.error(err::SYNTAX);
            }
        }
        _ => return ctx.out.error(err::SYNTAX),
    };
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
}

// ---------------------------------------------------------------------------
// INFO

/// `INFO` sections in Redis' order. Redis' `commandstats`, `errorstats` and
/// `latencystats` are not kept here, so not reported.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "cluster",
    "keyspace",
];

/// Which sections an `INFO` call asks for, as a mask of [`SECTIONS`] bits.
fn info_sections(args: Args<'_>) -> u32 {
    let all = (1u32 << SECTIONS.len()) - 1;
    if args.len() == 1 {
        return all;
    }
    let mut mask = 0;
    for a in args.iter_from(1) {
        if ["all", "everything", "default"]
            .iter()
            .any(|w| w.as_bytes().eq_ignore_ascii_case(a))
        {
            mask = all;
        } else if let Some(i) = SECTIONS
            .iter()
            .position(|s| s.as_bytes().eq_ignore_ascii_case(a))
        {
            mask |= 1 << i;
        }
    }
    mask
}

/// Appends `name:value\r\n`.
fn field(out: &mut String, name: &str, value: impl Display) {
    let _ = write!(out, "{name}:{value}\r\n");
}

/// `INFO [section ...]`: `# Section` headers, `name:value` lines ending in
/// CRLF, a blank line between sections; unknown sections are ignored.
pub fn info(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let mask = info_sections(args);
    let shared = ctx.shared;
    let totals = (mask & (section_bit("stats") | section_bit("keyspace")) != 0)
        .then(|| shared.keyspace.totals());
    let mut out = String::with_capacity(2048);
    for (i, name) in SECTIONS.iter().enumerate() {
        if mask & (1 << i) == 0 {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match *name {
            "server" => info_server(ctx, &mut out),
            "clients" => {
                out.push_str("# Clients\r\n");
                field(&mut out, "connected_clients", shared.clients.len());
                field(&mut out, "cluster_connections", 0);
                field(&mut out, "maxclients", shared.config.maxclients());
                field(&mut out, "client_recent_max_input_buffer", 0);
                field(&mut out, "client_recent_max_output_buffer", 0);
                field(&mut out, "blocked_clients", shared.clients.blocked());
                field(&mut out, "tracking_clients", 0);
                field(&mut out, "clients_in_timeout_table", 0);
            }
            "memory" => info_memory(ctx, &mut out),
            "persistence" => info_persistence(ctx, &mut out),
            "stats" => info_stats(ctx, totals.as_ref(), &mut out),
            "replication" => {
                out.push_str("# Replication\r\n");
                field(&mut out, "role", "master");
                field(&mut out, "connected_slaves", 0);
                field(&mut out, "master_failover_state", "no-failover");
                field(&mut out, "master_replid", &shared.run_id);
                field(&mut out, "master_replid2", "0".repeat(40));
                field(&mut out, "master_repl_offset", 0);
                field(&mut out, "second_repl_offset", -1);
                field(&mut out, "repl_backlog_active", 0);
                field(&mut out, "repl_backlog_size", 1_048_576);
                field(&mut out, "repl_backlog_first_byte_offset", 0);
                field(&mut out, "repl_backlog_histlen", 0);
            }
            "cpu" => info_cpu(&mut out),
            "modules" => out.push_str("# Modules\r\n"),
            "cluster" => {
                out.push_str("# Cluster\r\n");
                field(&mut out, "cluster_enabled", 0);
            }
            _ => {
                out.push_str("# Keyspace\r\n");
                if let Some(t) = &totals {
                    for (db, (&keys, &expires)) in t.keys.iter().zip(&t.volatile).enumerate() {
                        if keys > 0 {
                            let _ =
                                write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
                        }
                    }
                }
            }
        }
    }
    ctx.out.verbatim(out.as_bytes());
}

fn section_bit(name: &str) -> u32 {
    SECTIONS
        .iter()
        .position(|s| *s == name)
        .map_or(0, |i| 1 << i)
}

fn info_server(ctx: &Ctx<'_>, out: &mut String) {
    let shared = ctx.shared;
    let uptime = ctx.now_ms.saturating_sub(shared.started_ms) / 1000;
    let hz = shared.config.get_u64("hz");
    out.push_str("# Server\r\n");
    field(out, "redis_version", REDIS_VERSION);
    field(out, "redis_git_sha1", "00000000");
    field(out, "redis_git_dirty", 0);
    field(out, "redis_mode", "standalone");
    field(out, "os", os_name());
    field(out, "arch_bits", usize::BITS);
    if cfg!(target_os = "linux") {
        field(out, "multiplexing_api", "epoll");
    }
    field(out, "process_id", std::process::id());
    field(out, "process_supervised", "no");
    field(out, "run_id", &shared.run_id);
    field(out, "tcp_port", shared.port);
    field(out, "server_time_usec", ctx.now_ms.saturating_mul(1000));
    field(out, "uptime_in_seconds", uptime);
    field(out, "uptime_in_days", uptime / 86_400);
    field(out, "hz", hz);
    field(out, "configured_hz", hz);
    let exe = std::env::current_exe().map(|p| p.display().to_string());
    let exe = exe.unwrap_or_default();
    // Linux marks a replaced binary so; Redis shows the path.
    field(out, "executable", exe.trim_end_matches(" (deleted)"));
    field(out, "config_file", "");
    field(out, "io_threads_active", 0);
}

/// `uname -srm` as Redis prints it: `Linux 6.1.0 x86_64`.
fn os_name() -> &'static str {
    static OS: OnceLock<String> = OnceLock::new();
    OS.get_or_init(|| {
        let os = std::env::consts::OS;
        let mut name: String = os[..1].to_uppercase() + &os[1..];
        if let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
            name.push(' ');
            name.push_str(release.trim());
        }
        name.push(' ');
        name.push_str(std::env::consts::ARCH);
        name
    })
}

/// Resident memory of this process in bytes (`/proc/self/statm`, pages of
/// 4096 bytes); 0 where there is no `/proc`.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages.saturating_mul(4096))
}

/// Redis' `bytesToHuman`: `512B`, `1.50K`, `2.00M`, ...
fn bytes_to_human(n: u64) -> String {
    const UNITS: &[&str] = &["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut scale = 1024f64;
    for unit in UNITS {
        if (n as f64) < scale * 1024.0 {
            return format!("{:.2}{unit}", n as f64 / scale);
        }
        scale *= 1024.0;
    }
    format!("{n}B")
}

fn info_memory(ctx: &Ctx<'_>, out: &mut String) {
    let shared = ctx.shared;
    let used = resident_bytes();
    let peak = shared
        .stats
        .peak_memory
        .fetch_max(used, Ordering::Relaxed)
        .max(used);
    let maxmemory = shared.config.get_u64("maxmemory");
    out.push_str("# Memory\r\n");
    field(out, "used_memory", used);
    field(out, "used_memory_human", bytes_to_human(used));
    field(out, "used_memory_rss", used);
    field(out, "used_memory_rss_human", bytes_to_human(used));
    field(out, "used_memory_peak", peak);
    field(out, "used_memory_peak_human", bytes_to_human(peak));
    field(out, "maxmemory", maxmemory);
    field(out, "maxmemory_human", bytes_to_human(maxmemory));
    field(
        out,
        "maxmemory_policy",
        shared.config.get("maxmemory-policy").unwrap_or_default(),
    );
    field(out, "mem_allocator", "libc");
    field(out, "lazyfree_pending_objects", 0);
}

fn info_persistence(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Persistence\r\n");
    field(out, "loading", 0);
    field(out, "async_loading", 0);
    field(out, "rdb_changes_since_last_save", 0);
    field(out, "rdb_bgsave_in_progress", 0);
    field(out, "rdb_last_save_time", ctx.shared.started_ms / 1000);
    field(out, "rdb_last_bgsave_status", "ok");
    field(out, "rdb_last_bgsave_time_sec", -1);
    field(out, "rdb_current_bgsave_time_sec", -1);
    field(out, "rdb_saves", 0);
    field(out, "aof_enabled", 0);
    field(out, "aof_rewrite_in_progress", 0);
    field(out, "aof_rewrite_scheduled", 0);
    field(out, "aof_last_rewrite_time_sec", -1);
    field(out, "aof_current_rewrite_time_sec", -1);
    field(out, "aof_last_bgrewrite_status", "ok");
    field(out, "aof_rewrites", 0);
    field(out, "aof_last_write_status", "ok");
}

fn info_stats(ctx: &Ctx<'_>, totals: Option<&crate::keyspace::KeyspaceTotals>, out: &mut String) {
    let s = &ctx.shared.stats;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let (hits, misses, expired) = totals.map_or((0, 0, 0), |t| (t.hits, t.misses, t.expired));
    out.push_str("# Stats\r\n");
    field(
        out,
        "total_connections_received",
        load(&s.connections_received),
    );
    field(out, "total_commands_processed", s.commands_processed.get());
    field(out, "instantaneous_ops_per_sec", 0);
    field(out, "total_net_input_bytes", s.net_input_bytes.get());
    field(out, "total_net_output_bytes", s.net_output_bytes.get());
    field(out, "rejected_connections", load(&s.rejected_connections));
    field(out, "sync_full", 0);
    field(out, "sync_partial_ok", 0);
    field(out, "sync_partial_err", 0);
    field(
        out,
        "expired_keys",
        expired.saturating_sub(load(&s.expired_keys_base)),
    );
    field(out, "evicted_keys", 0);
    field(out, "evicted_clients", 0);
    field(out, "keyspace_hits", hits);
    field(out, "keyspace_misses", misses);
    let (channels, patterns) = ctx.shared.pubsub.counts();
    field(out, "pubsub_channels", channels);
    field(out, "pubsub_patterns", patterns);
    field(out, "pubsubshard_channels", 0);
    field(out, "latest_fork_usec", 0);
    field(out, "total_forks", 0);
    field(out, "total_error_replies", s.error_replies.get());
}

/// CPU time of this process from `/proc/self/stat` (clock ticks of 1/100 s),
/// formatted as Redis does (`seconds.micros`); zeros where there is no
/// `/proc`.
fn info_cpu(out: &mut String) {
    let ticks: Vec<u64> = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            // Fields 14 to 17 of proc(5): utime, stime, cutime, cstime; the
            // text after ')' starts at field 3.
            rest.split_whitespace()
                .skip(11)
                .take(4)
                .map(|f| f.parse().ok())
                .collect::<Option<Vec<u64>>>()
        })
        .filter(|v| v.len() == 4)
        .unwrap_or_else(|| vec![0; 4]);
    let secs = |t: u64| format!("{}.{:06}", t / 100, t % 100 * 10_000);
    out.push_str("# CPU\r\n");
    field(out, "used_cpu_sys", secs(ticks[1]));
    field(out, "used_cpu_user", secs(ticks[0]));
    field(out, "used_cpu_sys_children", secs(ticks[3]));
    field(out, "used_cpu_user_children", secs(ticks[2]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_match_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(916_752), "895.27K");
        assert_eq!(bytes_to_human(12_210_176), "11.64M");
        assert_eq!(bytes_to_human(1 << 30), "1.00G");
    }

    #[test]
    fn acl_categories_follow_redis() {
        let names = |name: &str| {
            let c = super::super::lookup(name.as_bytes()).unwrap();
            let mask = acl_mask(c);
            ACL_CATEGORIES
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(names("get"), "read string fast");
        assert_eq!(names("set"), "write string slow");
        assert_eq!(names("dbsize"), "keyspace read fast");
        assert_eq!(names("flushdb"), "keyspace write slow dangerous");
        assert_eq!(names("swapdb"), "keyspace write fast dangerous");
        assert_eq!(names("shutdown"), "admin slow dangerous");
        assert_eq!(names("lastsave"), "admin fast dangerous");
        assert_eq!(names("info"), "slow dangerous");
        assert_eq!(names("command"), "slow connection");
        assert_eq!(names("ping"), "fast connection");
    }
}
