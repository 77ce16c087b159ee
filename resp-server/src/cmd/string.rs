//! String commands: `GET`, `SET` and family
//! (<https://redis.io/docs/latest/commands/?group=string>).
//!
//! Replies, option grammar and error texts follow Redis 7.0's `t_string.c`.
//! Commands that read a key the way Redis' `lookupKeyRead` does (`GET`,
//! `MGET`, `STRLEN`, `GETRANGE`, `GETDEL`, `GETEX`, `GETSET`, `SET ... GET`)
//! count keyspace hits and misses; the read-modify-write commands (`INCR`,
//! `APPEND`, `SETRANGE`, ...) do not, as in Redis.

use super::flags::*;
use super::{command, err, int_arg, route, wrong_arity, Args, Command, Ctx};
use crate::keyspace::{Ttl, Value};
use crate::num;
use crate::small::SmallBytes;

/// The string commands, with arity, flags and key positions as Redis 7.0's
/// `COMMAND INFO` reports them (summaries from the current command docs).
#[rustfmt::skip]
pub(crate) const COMMANDS: &[Command] = &[
    command("get", 2, READONLY | FAST, (1, 1, 1), "string", "1.0.0", "Returns the string value of a key.", get),
    command("set", -3, WRITE | DENYOOM, (1, 1, 1), "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", set),
    command("setnx", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", setnx),
    command("setex", 4, WRITE | DENYOOM, (1, 1, 1), "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", setex),
    command("psetex", 4, WRITE | DENYOOM, (1, 1, 1), "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", psetex),
    command("getset", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", getset),
    command("getdel", 2, WRITE | FAST, (1, 1, 1), "string", "6.2.0", "Returns the string value of a key after deleting the key.", getdel),
    command("getex", -2, WRITE | FAST, (1, 1, 1), "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", getex),
    command("mget", -2, READONLY | FAST, (1, -1, 1), "string", "1.0.0", "Atomically returns the string values of one or more keys.", mget),
    command("mset", -3, WRITE | DENYOOM, (1, -1, 2), "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", mset),
    command("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", msetnx),
    command("append", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", append),
    command("strlen", 2, READONLY | FAST, (1, 1, 1), "string", "2.2.0", "Returns the length of a string value.", strlen),
    command("incr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", incr),
    command("decr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", decr),
    command("incrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", incrby),
    command("decrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", decrby),
    command("incrbyfloat", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", incrbyfloat),
    command("getrange", 4, READONLY, (1, 1, 1), "string", "2.4.0", "Returns a substring of the string stored at a key.", getrange),
    command("substr", 4, READONLY, (1, 1, 1), "string", "1.0.0", "Returns a substring from a string value.", getrange),
    command("setrange", 4, WRITE | DENYOOM, (1, 1, 1), "string", "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", setrange),
];

/// `SETRANGE` with a negative offset.
const OFFSET_RANGE: &str = "ERR offset is out of range";
/// `DECRBY key -9223372036854775808`.
const DECR_OVERFLOW: &str = "ERR decrement would overflow";
/// `INCRBYFLOAT` whose result is not finite.
const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";

/// Writes a string value as a bulk reply.
#[inline]
pub(crate) fn reply_value(ctx: &mut Ctx<'_>, v: &Value) {
    match v {
        Value::Str(s) => ctx.out.bulk(s),
        Value::Int(n) => ctx.out.bulk_int(*n),
        Value::Raw(s) => ctx.out.bulk(s),
        _ => ctx.out.error(err::WRONGTYPE),
    }
}

/// Calls `f` with the bytes of a string value; an `int`-encoded value is
/// formatted on the stack.
#[inline]
fn with_bytes<R>(v: &Value, f: impl FnOnce(&[u8]) -> R) -> R {
    match v {
        Value::Str(s) => f(s),
        Value::Int(n) => f(itoa::Buffer::new().format(*n).as_bytes()),
        Value::Raw(s) => f(s),
        // Callers check the type first.
        _ => f(b""),
    }
}

/// Appends the bytes of a string value to `out` (nothing for other types).
pub(crate) fn value_bytes(v: &Value, out: &mut Vec<u8>) {
    with_bytes(v, |b| out.extend_from_slice(b));
}

/// Length in bytes of a string value (`STRLEN`).
#[inline]
fn string_len(v: &Value) -> usize {
    with_bytes(v, <[u8]>::len)
}

/// Whether a string of `len` bytes grown by `add` bytes would pass
/// `proto-max-bulk-len` (Redis' `checkStringLength`).
#[inline]
fn too_big(ctx: &Ctx<'_>, len: u64, add: usize) -> bool {
    len as u128 + add as u128 > ctx.shared.config.max_bulk_len() as u128
}

/// `GET key`
pub fn get(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let db = ctx.client.db;
    match shard.db(db).get(key, hash, ctx.now_ms) {
        Some(e) => {
            if e.value.is_string() {
                reply_value(ctx, &e.value);
            } else {
                ctx.out.error(err::WRONGTYPE);
            }
            shard.stats.hits += 1;
        }
        None => {
            shard.stats.misses += 1;
            ctx.out.null();
        }
    }
}

/// An expiry option of `SET` and `GETEX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpireOpt {
    /// `EX seconds`.
    Ex,
    /// `PX milliseconds`.
    Px,
    /// `EXAT unix-seconds`.
    ExAt,
    /// `PXAT unix-milliseconds`.
    PxAt,
}

impl ExpireOpt {
    fn parse(a: &[u8]) -> Option<ExpireOpt> {
        if a.eq_ignore_ascii_case(b"ex") {
            Some(ExpireOpt::Ex)
        } else if a.eq_ignore_ascii_case(b"px") {
            Some(ExpireOpt::Px)
        } else if a.eq_ignore_ascii_case(b"exat") {
            Some(ExpireOpt::ExAt)
        } else if a.eq_ignore_ascii_case(b"pxat") {
            Some(ExpireOpt::PxAt)
        } else {
            None
        }
    }

    /// The `unit` argument of [`expire_at`].
    fn unit(self) -> i64 {
        match self {
            ExpireOpt::Ex => 1000,
            ExpireOpt::Px => 1,
            ExpireOpt::ExAt => -1000,
            ExpireOpt::PxAt => -1,
        }
    }
}

/// Options of `SET` and `GETEX`; the expiry argument stays unparsed until the
/// whole option list is known to be valid, as in Redis.
#[derive(Debug, Default)]
struct StrOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<(ExpireOpt, &'a [u8])>,
}

/// Parses the options of `SET` (`for_set`, from argument 3) or `GETEX` (from
/// argument 2) with the grammar of Redis' `parseExtendedStringArgumentsOrReply`:
/// `NX`, `XX`, `GET`, `KEEPTTL` for `SET` only, `PERSIST` for `GETEX` only,
/// repeating an option is allowed, mixing exclusive ones is not. Writes
/// `ERR syntax error` and returns None when they are invalid. Never allocates.
fn parse_options<'a>(
    ctx: &mut Ctx<'_>,
    args: Args<'a>,
    from: usize,
    for_set: bool,
) -> Option<StrOptions<'a>> {
    let mut o = StrOptions::default();
    let mut i = from;
    while i < args.len() {
        let a = args.get(i);
        let has_next = i + 1 < args.len();
        let expire = o.expire.map(|(kind, _)| kind);
        let valid = if for_set && a.eq_ignore_ascii_case(b"nx") {
            o.nx = true;
            !o.xx
        } else if for_set && a.eq_ignore_ascii_case(b"xx") {
            o.xx = true;
            !o.nx
        } else if for_set && a.eq_ignore_ascii_case(b"get") {
            o.get = true;
            true
        } else if for_set && a.eq_ignore_ascii_case(b"keepttl") {
            o.keep_ttl = true;
            expire.is_none()
        } else if !for_set && a.eq_ignore_ascii_case(b"persist") {
            o.persist = true;
            expire.is_none()
        } else if let Some(kind) = ExpireOpt::parse(a) {
            let ok = has_next && !o.keep_ttl && !o.persist && expire.is_none_or(|e| e == kind);
            if ok {
                o.expire = Some((kind, args.get(i + 1)));
                i += 1;
            }
            ok
        } else {
            false
        };
        if !valid {
            ctx.out.error(err::SYNTAX);
            return None;
        }
        i += 1;
    }
    Some(o)
}

/// Parses an expiry option's argument into an absolute Unix time in ms, or
/// writes the error (`cmd` names the command in it).
fn resolve_expire(ctx: &mut Ctx<'_>, (kind, arg): (ExpireOpt, &[u8]), cmd: &str) -> Option<u64> {
    let n = int_arg(&mut ctx.out, arg)?;
    expire_at(ctx, n, kind.unit(), cmd)
}

/// Converts a relative (`unit` > 0: ms per unit) or absolute (`unit` < 0)
/// expiry argument into Unix ms, with Redis' checks and error text
/// (`getExpireMillisecondsOrReply`): `n` must be positive, and neither the
/// conversion to ms nor adding the current time may overflow an `i64`.
pub(crate) fn expire_at(ctx: &mut Ctx<'_>, n: i64, unit: i64, cmd: &str) -> Option<u64> {
    let invalid = |ctx: &mut Ctx<'_>| {
        ctx.out
            .error(&format!("ERR invalid expire time in '{cmd}' command"));
        None
    };
    if n <= 0 {
        return invalid(ctx);
    }
    let ms = n.checked_mul(unit.abs());
    let at = match ms {
        Some(ms) if unit > 0 => ms.checked_add(ctx.now_ms as i64),
        other => other,
    };
    match at {
        Some(at) if at > 0 => Some(at as u64),
        _ => invalid(ctx),
    }
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]`
///
/// Replies `OK`, or nil when `NX`/`XX` prevent the write; with `GET`, the old
/// value (nil if none) whether or not the write happens.
pub fn set(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let mut opts = StrOptions::default();
    let mut ttl = Ttl::Persist;
    if args.len() > 3 {
        opts = match parse_options(ctx, args, 3, true) {
            Some(o) => o,
            None => return,
        };
        if opts.keep_ttl {
            ttl = Ttl::Keep;
        }
        if let Some(e) = opts.expire {
            match resolve_expire(ctx, e, "set") {
                Some(at) => ttl = Ttl::At(at),
                None => return,
            }
        }
    }
    let (key, value) = (args.get(1), args.get(2));
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    if !opts.nx && !opts.xx && !opts.get {
        shard
            .db(ctx.client.db)
            .set(key, hash, Value::string(value), ttl, ctx.now_ms);
        ctx.out.ok();
        return;
    }
    let db = shard.db(ctx.client.db);
    let exists = match db.get(key, hash, ctx.now_ms) {
        Some(e) if opts.get && !e.value.is_string() => {
            shard.stats.hits += 1;
            return ctx.out.error(err::WRONGTYPE);
        }
        Some(e) => {
            if opts.get {
                reply_value(ctx, &e.value);
            }
            true
        }
        None => {
            if opts.get {
                ctx.out.null();
            }
            false
        }
    };
    if opts.get {
        if exists {
            shard.stats.hits += 1;
        } else {
            shard.stats.misses += 1;
        }
    }
    if (opts.nx && exists) || (opts.xx && !exists) {
        if !opts.get {
            ctx.out.null();
        }
        return;
    }
    let db = shard.db(ctx.client.db);
    if exists {
        db.set(key, hash, Value::string(value), ttl, ctx.now_ms);
    } else {
        db.insert_new(key, hash, Value::string(value), ttl);
    }
    if !opts.get {
        ctx.out.ok();
    }
}

/// `SETNX key value`: replies 1 if the key was set, 0 if it existed.
pub fn setnx(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (key, value) = (args.get(1), args.get(2));
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    if db.contains(key, hash, ctx.now_ms) {
        ctx.out.int(0);
    } else {
        db.insert_new(key, hash, Value::string(value), Ttl::Persist);
        ctx.out.int(1);
    }
}

/// `SETEX key seconds value`
pub fn setex(ctx: &mut Ctx<'_>, args: Args<'_>) {
    set_with_expiry(ctx, args, 1000, "setex");
}

/// `PSETEX key milliseconds value`
pub fn psetex(ctx: &mut Ctx<'_>, args: Args<'_>) {
    set_with_expiry(ctx, args, 1, "psetex");
}

/// `SETEX` and `PSETEX`, with `unit` milliseconds per unit of the TTL.
fn set_with_expiry(ctx: &mut Ctx<'_>, args: Args<'_>, unit: i64, cmd: &str) {
    let Some(n) = int_arg(&mut ctx.out, args.get(2)) else {
        return;
    };
    let Some(at) = expire_at(ctx, n, unit, cmd) else {
        return;
    };
    let (key, value) = (args.get(1), args.get(3));
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    shard
        .db(ctx.client.db)
        .set(key, hash, Value::string(value), Ttl::At(at), ctx.now_ms);
    ctx.out.ok();
}

/// `GETSET key value`: sets the value (removing any TTL) and replies the old
/// one, or nil.
pub fn getset(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (key, value) = (args.get(1), args.get(2));
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    match db.get(key, hash, ctx.now_ms) {
        Some(e) if !e.value.is_string() => {
            shard.stats.hits += 1;
            return ctx.out.error(err::WRONGTYPE);
        }
        Some(e) => {
            reply_value(ctx, &e.value);
            shard.stats.hits += 1;
        }
        None => {
            ctx.out.null();
            shard.stats.misses += 1;
        }
    }
    shard
        .db(ctx.client.db)
        .set(key, hash, Value::string(value), Ttl::Persist, ctx.now_ms);
}

/// `GETDEL key`: replies the value, or nil, and deletes the key.
pub fn getdel(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    match db.get(key, hash, ctx.now_ms) {
        Some(e) if !e.value.is_string() => {
            shard.stats.hits += 1;
            ctx.out.error(err::WRONGTYPE);
        }
        Some(e) => {
            reply_value(ctx, &e.value);
            db.remove(key, hash);
            shard.stats.hits += 1;
        }
        None => {
            ctx.out.null();
            shard.stats.misses += 1;
        }
    }
}

/// `GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]`
///
/// Replies the value, or nil (a missing key wins over an invalid expiry
/// time, as in Redis), and changes the TTL; a past `EXAT`/`PXAT` deletes the
/// key.
pub fn getex(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(opts) = parse_options(ctx, args, 2, false) else {
        return;
    };
    let key = args.get(1);
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let Some(e) = db.get(key, hash, ctx.now_ms) else {
        shard.stats.misses += 1;
        return ctx.out.null();
    };
    if !e.value.is_string() {
        shard.stats.hits += 1;
        return ctx.out.error(err::WRONGTYPE);
    }
    let at = match opts.expire {
        Some(exp) => match resolve_expire(ctx, exp, "getex") {
            Some(at) => Some(at),
            None => {
                shard.stats.hits += 1;
                return;
            }
        },
        None => None,
    };
    reply_value(ctx, &e.value);
    let had_ttl = e.expire_at().is_some();
    let now = ctx.now_ms;
    match (opts.expire, at) {
        (Some((ExpireOpt::ExAt | ExpireOpt::PxAt, _)), Some(at)) if at <= now => {
            db.remove(key, hash);
        }
        (_, Some(at)) => {
            db.set_expire(key, hash, at, now);
        }
        // As Redis, only a TTL actually removed counts as a change (WATCH).
        _ if opts.persist && had_ttl => {
            db.set_expire(key, hash, 0, now);
        }
        _ => {}
    }
    shard.stats.hits += 1;
}

/// `MGET key [key ...]`: an array with each key's value, nil for a missing
/// key or a value that is not a string. Atomic across shards.
pub fn mget(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let shared = ctx.shared;
    let (routes, shards) = route(shared, args.iter_from(1));
    let mut locked = shared.keyspace.lock_shards(&shards);
    let dbi = ctx.client.db;
    ctx.out.array(args.len() - 1);
    for (key, r) in args.iter_from(1).zip(&routes) {
        let shard = locked.shard(r.shard);
        let found = match shard.db(dbi).get(key, r.hash, ctx.now_ms) {
            Some(e) => {
                if e.value.is_string() {
                    reply_value(ctx, &e.value);
                } else {
                    ctx.out.null();
                }
                true
            }
            None => {
                ctx.out.null();
                false
            }
        };
        if found {
            shard.stats.hits += 1;
        } else {
            shard.stats.misses += 1;
        }
    }
}

/// `MSET key value [key value ...]`: replies `OK`. Atomic across shards.
pub fn mset(ctx: &mut Ctx<'_>, args: Args<'_>) {
    mset_generic(ctx, args, false);
}

/// `MSETNX key value [key value ...]`: sets every pair and replies 1 if no
/// key exists, else sets nothing and replies 0. Atomic across shards.
pub fn msetnx(ctx: &mut Ctx<'_>, args: Args<'_>) {
    mset_generic(ctx, args, true);
}

/// `MSET` and (with `nx`) `MSETNX`.
fn mset_generic(ctx: &mut Ctx<'_>, args: Args<'_>, nx: bool) {
    if args.len().is_multiple_of(2) {
        return wrong_arity(&mut ctx.out, args.get(0));
    }
    let shared = ctx.shared;
    let keys = || args.iter_from(1).step_by(2);
    let (routes, shards) = route(shared, keys());
    let mut locked = shared.keyspace.lock_shards(&shards);
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    if nx {
        for (key, r) in keys().zip(&routes) {
            if locked.shard(r.shard).db(dbi).contains(key, r.hash, now) {
                return ctx.out.int(0);
            }
        }
    }
    for (i, r) in routes.iter().enumerate() {
        // The argument count is odd, so every key has its value.
        let (key, value) = (args.get(1 + 2 * i), args.get(2 + 2 * i));
        locked
            .shard(r.shard)
            .db(dbi)
            .set(key, r.hash, Value::string(value), Ttl::Persist, now);
    }
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
}

/// `APPEND key value`: replies the new length. Keeps the TTL.
///
/// Appending to an existing key leaves a `raw` string (even an empty
/// append, even to an `int`), as Redis' `dbUnshareStringValue` does; a new
/// key is encoded like a `SET` value.
pub fn append(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (key, tail) = (args.get(1), args.get(2));
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let Some(e) = db.get(key, hash, ctx.now_ms) else {
        db.insert_new(key, hash, Value::string(tail), Ttl::Persist);
        return ctx.out.int(tail.len() as i64);
    };
    if !e.value.is_string() {
        return ctx.out.error(err::WRONGTYPE);
    }
    let len = string_len(&e.value);
    if too_big(ctx, len as u64, tail.len()) {
        return ctx.out.error(err::TOO_BIG);
    }
    let old = std::mem::replace(&mut e.value, Value::Int(0));
    e.value = Value::Raw(concat(old, tail));
    db.touch(key);
    ctx.out.int((len + tail.len()) as i64);
}

/// `old` followed by `tail`, reusing `old`'s heap buffer when it has one.
fn concat(old: Value, tail: &[u8]) -> Box<[u8]> {
    let mut v = match old {
        Value::Raw(s) => s.into_vec(),
        Value::Str(s) if !s.is_inline() => s.into_vec(),
        other => {
            return with_bytes(&other, |head| {
                let mut v = Vec::with_capacity(head.len() + tail.len());
                v.extend_from_slice(head);
                v.extend_from_slice(tail);
                v.into_boxed_slice()
            })
        }
    };
    v.reserve_exact(tail.len());
    v.extend_from_slice(tail);
    v.into_boxed_slice()
}

/// `STRLEN key`: replies the length of the value, 0 for a missing key.
pub fn strlen(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    match shard.db(ctx.client.db).get(key, hash, ctx.now_ms) {
        Some(e) => {
            if e.value.is_string() {
                ctx.out.int(string_len(&e.value) as i64);
            } else {
                ctx.out.error(err::WRONGTYPE);
            }
            shard.stats.hits += 1;
        }
        None => {
            ctx.out.int(0);
            shard.stats.misses += 1;
        }
    }
}

/// `INCR key`
pub fn incr(ctx: &mut Ctx<'_>, args: Args<'_>) {
    incr_by(ctx, args.get(1), 1);
}

/// `DECR key`
pub fn decr(ctx: &mut Ctx<'_>, args: Args<'_>) {
    incr_by(ctx, args.get(1), -1);
}

/// `INCRBY key increment`
pub fn incrby(ctx: &mut Ctx<'_>, args: Args<'_>) {
    if let Some(n) = int_arg(&mut ctx.out, args.get(2)) {
        incr_by(ctx, args.get(1), n);
    }
}

/// `DECRBY key decrement`
pub fn decrby(ctx: &mut Ctx<'_>, args: Args<'_>) {
    match int_arg(&mut ctx.out, args.get(2)) {
        Some(i64::MIN) => ctx.out.error(DECR_OVERFLOW),
        Some(n) => incr_by(ctx, args.get(1), -n),
        None => {}
    }
}

/// Adds `delta` to the integer at `key` (0 if missing), keeping its TTL, and
/// replies the result. An `int`-encoded value needs no parsing.
fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) {
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let Some(e) = db.get(key, hash, ctx.now_ms) else {
        db.insert_new(key, hash, Value::Int(delta), Ttl::Persist);
        return ctx.out.int(delta);
    };
    if !e.value.is_string() {
        return ctx.out.error(err::WRONGTYPE);
    }
    let current = match &e.value {
        Value::Int(n) => Some(*n),
        Value::Str(s) => num::parse_i64_canonical(s),
        Value::Raw(s) => num::parse_i64_canonical(s),
        _ => None,
    };
    let Some(current) = current else {
        return ctx.out.error(err::NOT_INT);
    };
    let Some(sum) = current.checked_add(delta) else {
        return ctx.out.error(err::OVERFLOW);
    };
    e.value = Value::Int(sum);
    db.touch(key);
    ctx.out.int(sum);
}

/// `INCRBYFLOAT key increment`: replies the new value as a bulk string and
/// stores it as a string (never `int`-encoded, as in Redis), keeping the TTL.
///
/// Like Redis on x86-64, parses, adds and formats in 80-bit `long double`
/// ([`LongDouble`](crate::longdouble::LongDouble): `string2ld`, `+`,
/// `ld2string(.., LD_STR_HUMAN)`), so results match Redis bit for bit.
pub fn incrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) {
    use crate::longdouble::LongDouble;
    let key = args.get(1);
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let mut entry = db.get(key, hash, ctx.now_ms);
    let current = match entry.as_deref() {
        None => Some(LongDouble::ZERO),
        Some(e) if !e.value.is_string() => return ctx.out.error(err::WRONGTYPE),
        Some(e) => match &e.value {
            Value::Int(n) => Some(LongDouble::from_i64(*n)),
            Value::Str(s) => LongDouble::parse(s),
            Value::Raw(s) => LongDouble::parse(s),
            _ => None,
        },
    };
    let (Some(current), Some(incr)) = (current, LongDouble::parse(args.get(2))) else {
        return ctx.out.error(err::NOT_FLOAT);
    };
    let sum = current + incr;
    if !sum.is_finite() {
        return ctx.out.error(NAN_OR_INF);
    }
    let mut text = Vec::with_capacity(32);
    sum.format_human(&mut text);
    let value = Value::Str(SmallBytes::new(&text));
    match entry.take() {
        Some(e) => {
            e.value = value;
            db.touch(key);
        }
        None => db.insert_new(key, hash, value, Ttl::Persist),
    }
    ctx.out.bulk(&text);
}

/// The byte range `start..end` that `GETRANGE` returns for a string of
/// `len` bytes, with Redis' handling of negative and out-of-range indexes
/// (`getrangeCommand`), or None for the empty string.
fn substr_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len_i = len as i64;
    let fix = |i: i64| if i < 0 { (len_i + i).max(0) } else { i };
    let (start, end) = (fix(start), fix(end).min(len_i - 1));
    if len == 0 || start > end {
        return None;
    }
    Some((start as usize, end as usize + 1))
}

/// `GETRANGE key start end` (also `SUBSTR`): the substring between two
/// inclusive offsets, negative offsets counting from the end; the empty
/// string for a missing key.
pub fn getrange(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(start) = int_arg(&mut ctx.out, args.get(2)) else {
        return;
    };
    let Some(end) = int_arg(&mut ctx.out, args.get(3)) else {
        return;
    };
    let key = args.get(1);
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    match shard.db(ctx.client.db).get(key, hash, ctx.now_ms) {
        Some(e) => {
            if e.value.is_string() {
                with_bytes(&e.value, |s| match substr_range(s.len(), start, end) {
                    Some((from, to)) => ctx.out.bulk(&s[from..to]),
                    None => ctx.out.bulk(b""),
                });
            } else {
                ctx.out.error(err::WRONGTYPE);
            }
            shard.stats.hits += 1;
        }
        None => {
            ctx.out.bulk(b"");
            shard.stats.misses += 1;
        }
    }
}

/// `SETRANGE key offset value`: overwrites from `offset` on, zero-padding
/// as needed, and replies the new length. Keeps the TTL. An empty value
/// changes nothing (and creates no key); any other leaves a `raw` string,
/// as in Redis.
pub fn setrange(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (key, patch) = (args.get(1), args.get(3));
    let Some(offset) = int_arg(&mut ctx.out, args.get(2)) else {
        return;
    };
    let Ok(offset) = u64::try_from(offset) else {
        return ctx.out.error(OFFSET_RANGE);
    };
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let entry = db.get(key, hash, ctx.now_ms);
    if entry.as_ref().is_some_and(|e| !e.value.is_string()) {
        return ctx.out.error(err::WRONGTYPE);
    }
    let len = entry.as_ref().map_or(0, |e| string_len(&e.value));
    if patch.is_empty() {
        return ctx.out.int(len as i64);
    }
    if too_big(ctx, offset, patch.len()) {
        return ctx.out.error(err::TOO_BIG);
    }
    // Below proto-max-bulk-len, so the sizes fit a usize.
    let offset = offset as usize;
    let end = offset + patch.len();
    let new_len = len.max(end);
    match entry {
        Some(e) => {
            match &mut e.value {
                Value::Raw(s) if end <= len => s[offset..end].copy_from_slice(patch),
                value => {
                    let old = std::mem::replace(value, Value::Int(0));
                    *value = Value::Raw(overwrite(&old, new_len, offset, patch));
                }
            }
            db.touch(key);
        }
        None => {
            let value = Value::Raw(overwrite(
                &Value::Str(SmallBytes::EMPTY),
                new_len,
                offset,
                patch,
            ));
            db.insert_new(key, hash, value, Ttl::Persist);
        }
    }
    ctx.out.int(new_len as i64);
}

/// A string of `len` bytes: `old`, zero-padded, with `patch` at `offset`.
fn overwrite(old: &Value, len: usize, offset: usize, patch: &[u8]) -> Box<[u8]> {
    with_bytes(old, |head| {
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(head);
        v.resize(len, 0);
        v[offset..offset + patch.len()].copy_from_slice(patch);
        v.into_boxed_slice()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_indexes_follow_redis() {
        // "hello": GETRANGE with the outcomes Redis 7.0 gives.
        let cases = [
            ((0, -1), Some((0, 5))),
            ((0, 0), Some((0, 1))),
            ((-3, -1), Some((2, 5))),
            ((0, -100), Some((0, 1))),
            ((-100, 2), Some((0, 3))),
            ((-1, -5), None),
            ((-100, -200), None),
            ((5, 10), None),
            ((3, 1), None),
            ((2, 1000), Some((2, 5))),
            ((i64::MIN, i64::MAX), Some((0, 5))),
        ];
        for ((s, e), want) in cases {
            assert_eq!(substr_range(5, s, e), want, "{s} {e}");
        }
        assert_eq!(substr_range(0, 0, -1), None);
    }

    #[test]
    fn concat_appends_to_every_encoding() {
        assert_eq!(&*concat(Value::Int(12), b"3"), b"123");
        let long = concat(Value::Str(SmallBytes::new(&[b'a'; 30])), b"bc");
        assert_eq!(long.len(), 32);
        assert_eq!(&long[30..], b"bc");
        let grown = concat(Value::Str(SmallBytes::new(b"abc")), &[b'x'; 30]);
        assert_eq!(grown.len(), 33);
        let raw = concat(Value::Raw(b"ab".to_vec().into_boxed_slice()), b"");
        assert_eq!(&*raw, b"ab");
    }

    #[test]
    fn overwrite_pads_with_zeros() {
        let s = overwrite(&Value::Str(SmallBytes::new(b"hello")), 8, 7, b"x");
        assert_eq!(&*s, b"hello\0\0x");
        let s = overwrite(&Value::Int(12345), 5, 1, b"ab");
        assert_eq!(&*s, b"1ab45");
    }
}
