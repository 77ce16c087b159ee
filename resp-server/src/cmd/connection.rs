//! Connection commands (<https://redis.io/docs/latest/commands/?group=connection>):
//! `PING`, `ECHO`, `QUIT`, `RESET`, `SELECT`, `AUTH`, `HELLO` and the
//! `CLIENT` container.
//!
//! Replies and error texts are Redis 7.0's; `CLIENT SETINFO`, `CLIENT
//! NO-TOUCH` and the `lib-name`/`lib-ver` fields of `CLIENT LIST` are Redis
//! 7.2's (client libraries send `SETINFO` on connect). The only user is
//! Redis' `default` user: it needs the `requirepass` password when one is
//! set, and accepts any password otherwise (`nopass`).

use std::sync::atomic::Ordering;

use super::flags::*;
use super::{command, err, Args, Command, Ctx, Handler};
use crate::client::ReplyMode;
use crate::reply::Protocol;

/// The Redis version this server reports (`HELLO`).
pub const REDIS_VERSION: &str = "7.0.15";

/// The connection commands.
pub(crate) const COMMANDS: &[Command] = &[
    command(
        "ping",
        -1,
        FAST,
        (0, 0, 0),
        "connection",
        "1.0.0",
        "Returns the server's liveliness response.",
        ping,
    ),
    command(
        "echo",
        2,
        LOADING | STALE | FAST,
        (0, 0, 0),
        "connection",
        "1.0.0",
        "Returns the given string.",
        echo,
    ),
    command(
        "quit",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        (0, 0, 0),
        "connection",
        "1.0.0",
        "Closes the connection.",
        quit,
    ),
    command(
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        (0, 0, 0),
        "connection",
        "6.2.0",
        "Resets the connection.",
        reset,
    ),
    command(
        "select",
        2,
        LOADING | STALE | FAST,
        (0, 0, 0),
        "connection",
        "1.0.0",
        "Changes the selected database.",
        select,
    ),
    command(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        (0, 0, 0),
        "connection",
        "1.0.0",
        "Authenticates the connection.",
        auth,
    ),
    command(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        (0, 0, 0),
        "connection",
        "6.0.0",
        "Handshakes with the Redis server.",
        hello,
    ),
    command(
        "client",
        -2,
        0,
        (0, 0, 0),
        "connection",
        "2.4.0",
        "A container for client connection commands.",
        client,
    ),
];

/// `AUTH` / `HELLO AUTH` with a wrong password or an unknown user.
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// `CLIENT SETNAME` / `HELLO SETNAME` with a forbidden byte.
const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

/// `PING [message]`
pub fn ping(ctx: &mut Ctx<'_>, args: Args<'_>) {
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args.get(1)),
        _ => super::wrong_arity(&mut ctx.out, args.get(0)),
    }
}

/// `ECHO message`
pub fn echo(ctx: &mut Ctx<'_>, args: Args<'_>) {
    ctx.out.bulk(args.get(1));
}

/// `QUIT`: replies `+OK`, then the connection closes once the replies are
/// written (arguments are ignored, as Redis does).
pub fn quit(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
}

/// `RESET`: back to a fresh connection's state: database 0, RESP2, no name,
/// replies on, no `NO-EVICT`/`NO-TOUCH`, and unauthenticated when a password
/// is set. The library name and version stay, as in Redis.
pub fn reset(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    let client = &mut *ctx.client;
    client.db = 0;
    client.proto = Protocol::Resp2;
    // Redis clears `OFF` and a pending `SKIP`, not the skipping of this
    // very command's reply.
    if client.reply_mode != ReplyMode::SkipThis {
        client.reply_mode = ReplyMode::On;
    }
    client.authenticated = ctx.shared.config.requirepass().is_none();
    let handle = &client.handle;
    handle.db.store(0, Ordering::Relaxed);
    handle.resp.store(2, Ordering::Relaxed);
    handle.no_evict.store(false, Ordering::Relaxed);
    handle.no_touch.store(false, Ordering::Relaxed);
    handle.names.lock().name.clear();
    ctx.out.set_protocol(Protocol::Resp2);
    ctx.out.simple("RESET");
}

/// `SELECT index`
pub fn select(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(index) = super::int_arg(&mut ctx.out, args.get(1)) else {
        return;
    };
    // Redis parses a C `int` (`getIntFromObjectOrReply`).
    if i32::try_from(index).is_err() {
        ctx.out
            .error("ERR value is out of range, value must between -2147483648 and 2147483647");
        return;
    }
    match usize::try_from(index) {
        Ok(db) if db < ctx.shared.keyspace.databases() => {
            ctx.client.db = db;
            ctx.client.handle.db.store(db, Ordering::Relaxed);
            ctx.out.ok();
        }
        _ => ctx.out.error(err::DB_INDEX),
    }
}

/// Whether `username`/`password` are the `default` user's credentials: the
/// `requirepass` password when one is set, anything otherwise.
fn credentials_ok(ctx: &Ctx<'_>, username: &[u8], password: &[u8]) -> bool {
    if username != b"default" {
        return false;
    }
    match ctx.shared.config.requirepass() {
        Some(expected) => constant_time_eq(expected.as_bytes(), password),
        None => true,
    }
}

/// Compares two byte strings in time that depends only on their lengths,
/// so a wrong password's reply time says nothing of how much of it matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for (i, &x) in a.iter().enumerate() {
        let y = b.get(i).copied().unwrap_or(!x);
        diff |= u64::from(x ^ y);
    }
    diff == 0
}

/// `AUTH [username] password`
pub fn auth(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (username, password): (&[u8], &[u8]) = match args.len() {
        2 => {
            if ctx.shared.config.requirepass().is_none() {
                ctx.out.error(
                    "ERR AUTH <password> called without any password configured for the \
                     default user. Are you sure your configuration is correct?",
                );
                return;
            }
            (b"default", args.get(1))
        }
        3 => (args.get(1), args.get(2)),
        _ => {
            ctx.out.error(err::SYNTAX);
            return;
        }
    };
    if credentials_ok(ctx, username, password) {
        ctx.client.authenticated = true;
        ctx.out.ok();
    } else {
        ctx.out.error(WRONGPASS);
    }
}

/// Whether `name` may be a client name, library name or version: printable
/// ASCII without spaces (bytes `!` to `~`), as Redis checks.
fn valid_client_attr(name: &[u8]) -> bool {
    name.iter().all(|b| (b'!'..=b'~').contains(b))
}

/// Sets the client's name (empty: removes it), or writes Redis' error.
fn set_name(ctx: &mut Ctx<'_>, name: &[u8]) -> bool {
    if !valid_client_attr(name) {
        ctx.out.error(BAD_NAME);
        return false;
    }
    let mut names = ctx.client.handle.names.lock();
    names.name.clear();
    // Only printable ASCII passed the check.
    names
        .name
        .push_str(std::str::from_utf8(name).unwrap_or_default());
    true
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
///
/// Switches the protocol (the reply itself is in the new one), authenticates
/// and names the client, then describes the server as a map.
pub fn hello(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let mut proto = None;
    if args.len() >= 2 {
        match crate::num::parse_i64_canonical(args.get(1)) {
            None => {
                ctx.out
                    .error("ERR Protocol version is not an integer or out of range");
                return;
            }
            Some(2) => proto = Some(Protocol::Resp2),
            Some(3) => proto = Some(Protocol::Resp3),
            Some(_) => {
                ctx.out.error("NOPROTO unsupported protocol version");
                return;
            }
        }
    }
    let mut credentials = None;
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let opt = args.get(i);
        let more = args.len() - 1 - i;
        if opt.eq_ignore_ascii_case(b"auth") && more >= 2 {
            credentials = Some((args.get(i + 1), args.get(i + 2)));
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"setname") && more >= 1 {
            name = Some(args.get(i + 1));
            i += 2;
        } else {
            ctx.out.error_parts(&[
                b"ERR Syntax error in HELLO option '",
                super::shown(opt),
                b"'",
            ]);
            return;
        }
    }
    if let Some((username, password)) = credentials {
        if !credentials_ok(ctx, username, password) {
            ctx.out.error(WRONGPASS);
            return;
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        ctx.out.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time",
        );
        return;
    }
    if let Some(name) = name {
        if !set_name(ctx, name) {
            return;
        }
    }
    if let Some(proto) = proto {
        ctx.client.proto = proto;
        ctx.out.set_protocol(proto);
        let resp = if proto == Protocol::Resp3 { 3 } else { 2 };
        ctx.client.handle.resp.store(resp, Ordering::Relaxed);
    }
    let out = &mut ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if out.is_resp3() { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.id() as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
}

/// A subcommand of `CLIENT`: its handler gets the whole command
/// (`args.get(1)` is the subcommand's name).
#[derive(Debug)]
pub(crate) struct Subcommand {
    /// Lowercase name.
    pub name: &'static str,
    /// Redis' full name, `client|<name>`, used in errors and `CLIENT LIST`.
    pub full_name: &'static str,
    /// Redis arity, counting `CLIENT` and the subcommand.
    pub arity: i32,
    /// Handler.
    pub run: Handler,
}

const fn sub(name: &'static str, full_name: &'static str, arity: i32, run: Handler) -> Subcommand {
    Subcommand {
        name,
        full_name,
        arity,
        run,
    }
}

/// The `CLIENT` subcommands this server implements.
pub(crate) const CLIENT_SUBCOMMANDS: &[Subcommand] = &[
    sub("id", "client|id", 2, client_id),
    sub("getname", "client|getname", 2, client_getname),
    sub("setname", "client|setname", 3, client_setname),
    sub("setinfo", "client|setinfo", 4, client_setinfo),
    sub("info", "client|info", 2, client_info),
    sub("list", "client|list", -2, client_list),
    sub("kill", "client|kill", -3, client_kill),
    sub("reply", "client|reply", 3, client_reply),
    sub("no-evict", "client|no-evict", 3, client_no_evict),
    sub("no-touch", "client|no-touch", 3, client_no_touch),
    sub("unblock", "client|unblock", -3, client_unblock),
    sub("help", "client|help", 2, client_help),
];

/// `CLIENT HELP`, in Redis' words, for the subcommands above.
const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Prints this help.",
];

/// Finds a `CLIENT` subcommand by name, case-insensitively.
fn lookup_subcommand(name: &[u8]) -> Option<&'static Subcommand> {
    CLIENT_SUBCOMMANDS
        .iter()
        .find(|s| name.eq_ignore_ascii_case(s.name.as_bytes()))
}

/// `CLIENT subcommand [arg ...]`: dispatches on the subcommand, checking its
/// arity as Redis does.
pub fn client(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let name = args.get(1);
    let Some(sub) = lookup_subcommand(name) else {
        ctx.out.error_parts(&[
            b"ERR unknown subcommand '",
            super::shown_max(name, super::SHOWN_MAX),
            b"'. Try CLIENT HELP.",
        ]);
        return;
    };
    let argc = args.len() as i64;
    let arity = i64::from(sub.arity);
    let arity_ok = if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    };
    if !arity_ok {
        ctx.out.error(&format!(
            "ERR wrong number of arguments for '{}' command",
            sub.full_name
        ));
        return;
    }
    (sub.run)(ctx, args);
}

/// `CLIENT ID`
pub fn client_id(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    ctx.out.int(ctx.client.id() as i64);
}

/// `CLIENT GETNAME`: the name, or nil when none is set.
pub fn client_getname(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    let names = ctx.client.handle.names.lock();
    if names.name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(names.name.as_bytes());
    }
}

/// `CLIENT SETNAME connection-name` (empty: removes the name)
pub fn client_setname(ctx: &mut Ctx<'_>, args: Args<'_>) {
    if set_name(ctx, args.get(2)) {
        ctx.out.ok();
    }
}

/// `CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>` (Redis 7.2)
pub fn client_setinfo(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (attr, value) = (args.get(2), args.get(3));
    let lib_name = attr.eq_ignore_ascii_case(b"lib-name");
    if !lib_name && !attr.eq_ignore_ascii_case(b"lib-ver") {
        ctx.out
            .error_parts(&[b"ERR Unrecognized option '", super::shown(attr), b"'"]);
        return;
    }
    // The attribute matched an ASCII name, so it is valid UTF-8.
    let attr = std::str::from_utf8(attr).unwrap_or_default();
    let Some(value) = std::str::from_utf8(value)
        .ok()
        .filter(|v| valid_client_attr(v.as_bytes()))
    else {
        ctx.out.error(&format!(
            "ERR {attr} cannot contain spaces, newlines or special characters."
        ));
        return;
    };
    let mut names = ctx.client.handle.names.lock();
    let slot = if lib_name {
        &mut names.lib_name
    } else {
        &mut names.lib_ver
    };
    slot.clear();
    slot.push_str(value);
    drop(names);
    ctx.out.ok();
}

/// `CLIENT INFO`: the calling client's `CLIENT LIST` line.
pub fn client_info(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    let mut text = String::with_capacity(400);
    ctx.client
        .handle
        .write_info(&mut text, ctx.now_ms, Some("client|info"));
    text.push('\n');
    ctx.out.verbatim(text.as_bytes());
}

/// `CLIENT UNBLOCK client-id [TIMEOUT | ERROR]`: ends the wait of a
/// client blocked in a blocking command, with the command's timeout reply
/// (default) or the `-UNBLOCKED` error. Replies 1 if that client was
/// blocked, else 0. As Redis, the reason is checked before the id.
pub fn client_unblock(ctx: &mut Ctx<'_>, args: Args<'_>) {
    if args.len() > 4 {
        ctx.out.error_parts(&[
            b"ERR unknown subcommand or wrong number of arguments for '",
            super::shown_max(args.get(1), super::SHOWN_MAX),
            b"'. Try CLIENT HELP.",
        ]);
        return;
    }
    let reason = if args.len() == 4 {
        let r = args.get(3);
        if r.eq_ignore_ascii_case(b"timeout") {
            crate::client::UNBLOCK_TIMEOUT
        } else if r.eq_ignore_ascii_case(b"error") {
            crate::client::UNBLOCK_ERROR
        } else {
            ctx.out
                .error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    } else {
        crate::client::UNBLOCK_TIMEOUT
    };
    let Some(id) = super::int_arg(&mut ctx.out, args.get(2)) else {
        return;
    };
    let target = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.shared.clients.get(id))
        .filter(|h| h.block_gen.load(std::sync::atomic::Ordering::Acquire) != 0);
    match target {
        Some(h) => {
            h.unblock
                .store(reason, std::sync::atomic::Ordering::Release);
            h.wake.notify_one();
            ctx.out.int(1);
        }
        None => ctx.out.int(0),
    }
}

/// A `TYPE` argument of `CLIENT LIST` / `CLIENT KILL`: whether it names
/// normal clients (every client of this server is one), or Redis' error for
/// an unknown type (its bytes: it quotes the client's argument).
fn parse_client_type(name: &[u8]) -> Result<bool, Vec<u8>> {
    let lower = name.to_ascii_lowercase();
    match lower.as_slice() {
        b"normal" => Ok(true),
        b"slave" | b"replica" | b"pubsub" | b"master" => Ok(false),
        _ => Err([&b"ERR Unknown client type '"[..], super::shown(name), b"'"].concat()),
    }
}

/// `CLIENT LIST [TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]`
pub fn client_list(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (me, now_ms) = (ctx.client.id(), ctx.now_ms);
    let mut text = String::new();
    let line = |text: &mut String, h: &crate::client::ClientHandle| {
        let running = (h.id == me).then_some("client|list");
        h.write_info(text, now_ms, running);
        text.push('\n');
    };
    if args.len() == 4 && args.get(2).eq_ignore_ascii_case(b"type") {
        match parse_client_type(args.get(3)) {
            Ok(false) => {}
            Ok(true) => {
                for h in ctx.shared.clients.snapshot() {
                    if !h.is_killed() {
                        line(&mut text, &h);
                    }
                }
            }
            Err(e) => return ctx.out.error_parts(&[&e]),
        }
    } else if args.len() > 3 && args.get(2).eq_ignore_ascii_case(b"id") {
        let mut ids = Vec::with_capacity(args.len() - 3);
        for arg in args.iter_from(3) {
            match crate::num::parse_i64_canonical(arg) {
                Some(id) => ids.push(id),
                None => return ctx.out.error("ERR Invalid client ID"),
            }
        }
        for id in ids {
            let handle = u64::try_from(id)
                .ok()
                .and_then(|id| ctx.shared.clients.get(id));
            if let Some(h) = handle.filter(|h| !h.is_killed()) {
                line(&mut text, &h);
            }
        }
    } else if args.len() != 2 {
        return ctx.out.error(err::SYNTAX);
    } else {
        for h in ctx.shared.clients.snapshot() {
            if !h.is_killed() {
                line(&mut text, &h);
            }
        }
    }
    ctx.out.verbatim(text.as_bytes());
}

/// Which clients `CLIENT KILL` closes: every given filter must match.
#[derive(Debug, Default)]
struct KillFilter<'a> {
    addr: Option<&'a [u8]>,
    laddr: Option<&'a [u8]>,
    id: Option<u64>,
    /// `TYPE` given and naming a type no client of this server has.
    other_type: bool,
    skip_me: bool,
}

/// Parses `CLIENT KILL`'s filters (the new form, from argument 2 on), or
/// returns Redis' error text (bytes: it may quote the client's arguments).
fn parse_kill_filter<'a>(args: Args<'a>) -> Result<KillFilter<'a>, Vec<u8>> {
    let mut f = KillFilter {
        skip_me: true,
        ..KillFilter::default()
    };
    let mut i = 2;
    while i < args.len() {
        let opt = args.get(i).to_ascii_lowercase();
        if i + 1 >= args.len() {
            return Err(err::SYNTAX.into());
        }
        let value = args.get(i + 1);
        match opt.as_slice() {
            b"id" => {
                let id = crate::num::parse_i64_canonical(value).filter(|&id| id >= 1);
                match id {
                    Some(id) => f.id = Some(id as u64),
                    None => return Err("ERR client-id should be greater than 0".into()),
                }
            }
            b"type" => f.other_type = !parse_client_type(value)?,
            b"addr" => f.addr = Some(value),
            b"laddr" => f.laddr = Some(value),
            b"user" => {
                if value != b"default" {
                    return Err([&b"ERR No such user '"[..], super::shown(value), b"'"].concat());
                }
            }
            b"skipme" => {
                if value.eq_ignore_ascii_case(b"yes") {
                    f.skip_me = true;
                } else if value.eq_ignore_ascii_case(b"no") {
                    f.skip_me = false;
                } else {
                    return Err(err::SYNTAX.into());
                }
            }
            _ => return Err(err::SYNTAX.into()),
        }
        i += 2;
    }
    Ok(f)
}

/// `CLIENT KILL ip:port` (replies `+OK` or an error) or
/// `CLIENT KILL <ID id | TYPE type | USER name | ADDR ip:port | LADDR ip:port | SKIPME yes/no> ...`
/// (replies the number of clients killed).
///
/// Other clients are asked to close at once; the caller, when it matches,
/// closes after this reply is written.
pub fn client_kill(ctx: &mut Ctx<'_>, args: Args<'_>) {
    use std::fmt::Write;
    let old_form = args.len() == 3;
    let filter = if old_form {
        KillFilter {
            addr: Some(args.get(2)),
            ..KillFilter::default()
        }
    } else {
        match parse_kill_filter(args) {
            Ok(f) => f,
            Err(e) => return ctx.out.error_parts(&[&e]),
        }
    };
    let me = ctx.client.id();
    let mut killed = 0i64;
    let mut kill_me = false;
    let mut scratch = String::new();
    let mut addr_is = |addr: std::net::SocketAddr, want: Option<&[u8]>| {
        want.is_none_or(|want| {
            scratch.clear();
            let _ = write!(scratch, "{addr}");
            scratch.as_bytes() == want
        })
    };
    if !filter.other_type {
        for h in ctx.shared.clients.snapshot() {
            if h.is_killed()
                || filter.id.is_some_and(|id| id != h.id)
                || !addr_is(h.addr, filter.addr)
                || !addr_is(h.laddr, filter.laddr)
                || (filter.skip_me && h.id == me)
            {
                continue;
            }
            if h.id == me {
                kill_me = true;
            } else {
                h.kill();
            }
            killed += 1;
        }
    }
    if old_form {
        if killed == 0 {
            ctx.out.error("ERR No such client");
        } else {
            ctx.out.ok();
        }
    } else {
        ctx.out.int(killed);
    }
    if kill_me {
        ctx.client.close_after_reply = true;
    }
}

/// `CLIENT REPLY <ON | OFF | SKIP>`: only `ON` replies (`+OK`).
pub fn client_reply(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let mode = args.get(2);
    if mode.eq_ignore_ascii_case(b"on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if mode.eq_ignore_ascii_case(b"off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if mode.eq_ignore_ascii_case(b"skip") {
        // SKIP while OFF changes nothing: OFF already drops every reply.
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::Skip;
        }
    } else {
        ctx.out.error(err::SYNTAX);
    }
}

/// Parses `ON`/`OFF` into `flag` and replies `+OK`, or a syntax error.
fn set_on_off(
    ctx: &mut Ctx<'_>,
    arg: &[u8],
    flag: fn(&crate::client::ClientHandle) -> &std::sync::atomic::AtomicBool,
) {
    let on = if arg.eq_ignore_ascii_case(b"on") {
        true
    } else if arg.eq_ignore_ascii_case(b"off") {
        false
    } else {
        return ctx.out.error(err::SYNTAX);
    };
    flag(&ctx.client.handle).store(on, Ordering::Relaxed);
    ctx.out.ok();
}

/// `CLIENT NO-EVICT <ON | OFF>`: recorded (flag `e`); this server never
/// evicts clients.
pub fn client_no_evict(ctx: &mut Ctx<'_>, args: Args<'_>) {
    set_on_off(ctx, args.get(2), |h| &h.no_evict);
}

/// `CLIENT NO-TOUCH <ON | OFF>` (Redis 7.2): recorded (flag `T`).
pub fn client_no_touch(ctx: &mut Ctx<'_>, args: Args<'_>) {
    set_on_off(ctx, args.get(2), |h| &h.no_touch);
}

/// `CLIENT HELP`
pub fn client_help(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    ctx.out.array(CLIENT_HELP.len());
    for line in CLIENT_HELP {
        ctx.out.simple(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_are_unique_and_named_consistently() {
        let mut seen = std::collections::HashSet::new();
        for s in CLIENT_SUBCOMMANDS {
            assert!(seen.insert(s.name), "duplicate {}", s.name);
            assert_eq!(s.full_name, format!("client|{}", s.name));
            assert!(s.arity.unsigned_abs() >= 2, "{}", s.name);
            assert!(lookup_subcommand(s.name.to_uppercase().as_bytes()).is_some());
            let listed = CLIENT_HELP
                .iter()
                .any(|l| l.to_lowercase().starts_with(s.name));
            assert!(listed, "{} missing from CLIENT HELP", s.name);
        }
    }

    #[test]
    fn client_attr_charset_is_printable_ascii_without_space() {
        assert!(valid_client_attr(b"redis-rs_1.2!~"));
        assert!(valid_client_attr(b""));
        for bad in [&b"a b"[..], b"a\nb", b"\x7f", b"caf\xc3\xa9", b"\t"] {
            assert!(!valid_client_attr(bad), "{bad:?}");
        }
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"pw", b"pw"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"pw", b"pW"));
        assert!(!constant_time_eq(b"pw", b"pw2"));
        assert!(!constant_time_eq(b"pw2", b"pw"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
