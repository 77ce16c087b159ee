//! Generic key commands (<https://redis.io/docs/latest/commands/?group=generic>):
//! `DEL`, `UNLINK`, `EXISTS`, `TOUCH`, `TYPE`, `RENAME`, `RENAMENX`, the
//! `EXPIRE` family, `TTL` and friends, `PERSIST`, `KEYS`, `SCAN`,
//! `RANDOMKEY` and `OBJECT`.
//!
//! Replies, error texts and `keyspace_hits`/`keyspace_misses` accounting
//! follow Redis 7.0 (`src/db.c`, `src/expire.c`, `src/object.c`). Commands
//! on several keys lock each shard they touch once ([`super::route`] and
//! [`crate::keyspace::Keyspace::lock_shards`]). Commands that walk the whole
//! keyspace (`KEYS`, `SCAN`, `RANDOMKEY`) lock one shard at a time, so they
//! never stall every other client at once.
//!
//! `SCAN` cursors encode a shard and an arena slot of that shard:
//! `cursor = slot * shard_count + shard` (see [`ScanCursor`]). Entries never
//! move in their arena while they live, so a key present for the whole
//! iteration is returned exactly once, whatever else changes meanwhile.

use bytes::BytesMut;
use smallvec::SmallVec;

use super::flags::*;
use super::{command, err, int_arg, route, wrong_arity, Args, Command, Ctx};
use crate::keyspace::{Entry, Keyspace, Ttl};
use crate::reply::Reply;

/// The generic key commands.
pub(crate) const COMMANDS: &[Command] = &[
    command("del", -2, WRITE, (1, -1, 1), "generic", "1.0.0", "Deletes one or more keys.", del),
    command("unlink", -2, WRITE | FAST, (1, -1, 1), "generic", "4.0.0", "Asynchronously deletes one or more keys.", unlink),
    command("exists", -2, READONLY | FAST, (1, -1, 1), "generic", "1.0.0", "Determines whether one or more keys exist.", exists),
    command("touch", -2, READONLY | FAST, (1, -1, 1), "generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", touch),
    command("type", 2, READONLY | FAST, (1, 1, 1), "generic", "1.0.0", "Determines the type of value stored at a key.", type_),
    command("rename", 3, WRITE, (1, 2, 1), "generic", "1.0.0", "Renames a key and overwrites the destination.", rename),
    command("copy", -3, WRITE | DENYOOM, (1, 2, 1), "generic", "6.2.0", "Copies the value of a key to a new key.", copy),
    command("dump", 2, READONLY, (1, 1, 1), "generic", "2.6.0", "Returns a serialized representation of the value stored at a key.", dump),
    command("restore", -4, WRITE | DENYOOM, (1, 1, 1), "generic", "2.6.0", "Creates a key from the serialized representation of a value.", restore),
    command("move", 3, WRITE | FAST, (1, 1, 1), "generic", "1.0.0", "Moves a key to another database.", move_),
    command("renamenx", 3, WRITE | FAST, (1, 2, 1), "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", renamenx),
    command("expire", -3, WRITE | FAST, (1, 1, 1), "generic", "1.0.0", "Sets the expiration time of a key in seconds.", expire),
    command("pexpire", -3, WRITE | FAST, (1, 1, 1), "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", pexpire),
    command("expireat", -3, WRITE | FAST, (1, 1, 1), "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", expireat),
    command("pexpireat", -3, WRITE | FAST, (1, 1, 1), "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", pexpireat),
    command("ttl", 2, READONLY | FAST | RANDOM, (1, 1, 1), "generic", "1.0.0", "Returns the expiration time in seconds of a key.", ttl),
    command("pttl", 2, READONLY | FAST | RANDOM, (1, 1, 1), "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", pttl),
    command("expiretime", 2, READONLY | FAST, (1, 1, 1), "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", expiretime),
    command("pexpiretime", 2, READONLY | FAST, (1, 1, 1), "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", pexpiretime),
    command("persist", 2, WRITE | FAST, (1, 1, 1), "generic", "2.2.0", "Removes the expiration time of a key.", persist),
    command("keys", 2, READONLY, (0, 0, 0), "generic", "1.0.0", "Returns all key names that match a pattern.", keys),
    command("scan", -2, READONLY | RANDOM, (0, 0, 0), "generic", "2.8.0", "Iterates over the key names in the database.", scan),
    command("randomkey", 1, READONLY | RANDOM, (0, 0, 0), "generic", "1.0.0", "Returns a random key name from the database.", randomkey),
    // A container in Redis 7: the table has no subcommands, so OBJECT keeps
    // the container's COMMAND INFO (no flags, no keys) and checks each
    // subcommand's arity itself.
    command("object", -2, 0, (0, 0, 0), "generic", "1.0.0", "A container for object introspection commands.", object),
];

// ---------------------------------------------------------------------------
// DEL, UNLINK, EXISTS, TOUCH

/// `DEL key [key ...]`
pub fn del(ctx: &mut Ctx<'_>, args: Args<'_>) {
    delete_keys(ctx, args);
}

/// `UNLINK key [key ...]`
///
/// Like `DEL`; values are freed after the shard locks are released, which is
/// what "asynchronously" buys in Redis.
pub fn unlink(ctx: &mut Ctx<'_>, args: Args<'_>) {
    delete_keys(ctx, args);
}

/// Deletes the keys from argument 1 on and replies with how many existed.
/// Removed entries are dropped once every shard lock is released.
fn delete_keys(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let shared = ctx.shared;
    let (routes, shards) = route(shared, args.iter_from(1));
    let dbi = ctx.client.db;
    let mut removed: SmallVec<[Entry; 4]> = SmallVec::new();
    {
        let mut locked = shared.keyspace.lock_shards(&shards);
        for (key, r) in args.iter_from(1).zip(&routes) {
            let db = locked.shard(r.shard).db(dbi);
            // `remove` does not look at the TTL: expire first, as Redis'
            // `expireIfNeeded`, so an expired key is not counted.
            if db.contains(key, r.hash, ctx.now_ms) {
                removed.extend(db.remove(key, r.hash));
            }
        }
    }
    ctx.out.int(removed.len() as i64);
}

/// `EXISTS key [key ...]`: a key named twice counts twice.
pub fn exists(ctx: &mut Ctx<'_>, args: Args<'_>) {
    count_existing(ctx, args);
}

/// `TOUCH key [key ...]`
///
/// Counts existing keys as `EXISTS` does; access times are not tracked (see
/// `OBJECT IDLETIME`), so there is nothing else to update.
pub fn touch(ctx: &mut Ctx<'_>, args: Args<'_>) {
    count_existing(ctx, args);
}

/// Counts the live keys among arguments 1.., duplicates included, with one
/// hit or miss per key (Redis' `lookupKeyRead`).
fn count_existing(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let shared = ctx.shared;
    let (routes, shards) = route(shared, args.iter_from(1));
    let dbi = ctx.client.db;
    let mut found = 0i64;
    let mut locked = shared.keyspace.lock_shards(&shards);
    for (key, r) in args.iter_from(1).zip(&routes) {
        let shard = locked.shard(r.shard);
        if shard.db(dbi).contains(key, r.hash, ctx.now_ms) {
            shard.stats.hits += 1;
            found += 1;
        } else {
            shard.stats.misses += 1;
        }
    }
    drop(locked);
    ctx.out.int(found);
}

// ---------------------------------------------------------------------------
// TYPE

/// `TYPE key`: the type name as a simple string, `none` when missing.
pub fn type_(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let name = match shard.db(ctx.client.db).get(key, hash, ctx.now_ms) {
        Some(e) => e.value.type_name(),
        None => "none",
    };
    if name == "none" {
        shard.stats.misses += 1;
    } else {
        shard.stats.hits += 1;
    }
    drop(shard);
    ctx.out.simple(name);
}

// ---------------------------------------------------------------------------
// RENAME, RENAMENX

/// `RENAME key newkey`
pub fn rename(ctx: &mut Ctx<'_>, args: Args<'_>) {
    rename_key(ctx, args, false);
}

/// `RENAMENX key newkey`
pub fn renamenx(ctx: &mut Ctx<'_>, args: Args<'_>) {
    rename_key(ctx, args, true);
}

/// Moves the value and TTL of `args[1]` to `args[2]`, as Redis'
/// `renameGenericCommand`: `ERR no such key` when the source is missing
/// (even when both names are equal); renaming a key to itself changes
/// nothing (`OK`, or 0 for `RENAMENX`); `RENAMENX` leaves an existing
/// target alone and replies 0. Both shards are locked together.
fn rename_key(ctx: &mut Ctx<'_>, args: Args<'_>, nx: bool) {
    let (src, dst) = (args.get(1), args.get(2));
    let shared = ctx.shared;
    let (routes, shards) = route(shared, [src, dst].into_iter());
    let (rs, rd) = (routes[0], routes[1]);
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let mut locked = shared.keyspace.lock_shards(&shards);

    if !locked.shard(rs.shard).db(dbi).contains(src, rs.hash, now) {
        drop(locked);
        return ctx.out.error(err::NO_SUCH_KEY);
    }
    let done = |ctx: &mut Ctx<'_>, moved: bool| {
        if nx {
            ctx.out.int(moved as i64);
        } else {
            ctx.out.ok();
        }
    };
    if src == dst {
        drop(locked);
        return done(ctx, false);
    }
    if nx && locked.shard(rd.shard).db(dbi).contains(dst, rd.hash, now) {
        drop(locked);
        return done(ctx, false);
    }
    let Some(entry) = locked.shard(rs.shard).db(dbi).remove(src, rs.hash) else {
        drop(locked);
        return ctx.out.error(err::NO_SUCH_KEY);
    };
    let ttl = entry.expire_at().map_or(Ttl::Persist, Ttl::At);
    let old = locked
        .shard(rd.shard)
        .db(dbi)
        .set(dst, rd.hash, entry.value, ttl, now);
    drop(locked);
    drop(old);
    done(ctx, true);
}

// ---------------------------------------------------------------------------
// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST

/// `EXPIRE key seconds [NX | XX | GT | LT]`
pub fn expire(ctx: &mut Ctx<'_>, args: Args<'_>) {
    expire_generic(ctx, args, true, true, "expire");
}

/// `PEXPIRE key milliseconds [NX | XX | GT | LT]`
pub fn pexpire(ctx: &mut Ctx<'_>, args: Args<'_>) {
    expire_generic(ctx, args, true, false, "pexpire");
}

/// `EXPIREAT key unix-time-seconds [NX | XX | GT | LT]`
pub fn expireat(ctx: &mut Ctx<'_>, args: Args<'_>) {
    expire_generic(ctx, args, false, true, "expireat");
}

/// `PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]`
pub fn pexpireat(ctx: &mut Ctx<'_>, args: Args<'_>) {
    expire_generic(ctx, args, false, false, "pexpireat");
}

/// Condition flags of the `EXPIRE` family.
#[derive(Clone, Copy, Debug, Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// Parses `NX | XX | GT | LT` from argument 3 on, as Redis'
/// `parseExtendedExpireArgumentsOrReply`; writes the error and returns None
/// when they are invalid.
fn parse_expire_flags(ctx: &mut Ctx<'_>, args: Args<'_>) -> Option<ExpireFlags> {
    let mut f = ExpireFlags::default();
    for opt in args.iter_from(3) {
        if opt.eq_ignore_ascii_case(b"nx") {
            f.nx = true;
        } else if opt.eq_ignore_ascii_case(b"xx") {
            f.xx = true;
        } else if opt.eq_ignore_ascii_case(b"gt") {
            f.gt = true;
        } else if opt.eq_ignore_ascii_case(b"lt") {
            f.lt = true;
        } else {
            ctx.out
                .error_parts(&[b"ERR Unsupported option ", super::shown(opt)]);
            return None;
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        ctx.out
            .error("ERR NX and XX, GT or LT options at the same time are not compatible");
        return None;
    }
    if f.gt && f.lt {
        ctx.out
            .error("ERR GT and LT options at the same time are not compatible");
        return None;
    }
    Some(f)
}

/// The absolute expiry (Unix ms, possibly in the past or negative) that an
/// `EXPIRE`-family argument `n` asks for, or None when the arithmetic
/// overflows (Redis: "invalid expire time"). `base_ms` is now for relative
/// commands and 0 for the `...AT` ones.
fn expire_when(n: i64, seconds: bool, base_ms: i64) -> Option<i64> {
    let ms = if seconds { n.checked_mul(1000)? } else { n };
    // Redis only guards against overflow upwards here: a very negative time
    // is simply in the past.
    if ms > i64::MAX - base_ms {
        return None;
    }
    Some(ms + base_ms)
}

/// The `EXPIRE` family, as Redis 7.0's `expireGenericCommand`: options are
/// checked first, then the number; a missing key replies 0; NX/XX/GT/LT
/// compare with the current expiry, a key without one counting as infinite
/// (GT never passes, LT always does); an expiry at or before now deletes the
/// key. Replies 1 when the expiry was set or the key deleted.
fn expire_generic(ctx: &mut Ctx<'_>, args: Args<'_>, relative: bool, seconds: bool, name: &str) {
    let Some(flags) = parse_expire_flags(ctx, args) else {
        return;
    };
    let Some(n) = int_arg(&mut ctx.out, args.get(2)) else {
        return;
    };
    let now = ctx.now_ms;
    let base = if relative { now as i64 } else { 0 };
    let Some(when) = expire_when(n, seconds, base) else {
        return ctx
            .out
            .error(&format!("ERR invalid expire time in '{name}' command"));
    };

    let key = args.get(1);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let current = match db.get(key, hash, now) {
        Some(e) => e.expire_at(),
        None => {
            drop(shard);
            return ctx.out.int(0);
        }
    };
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.is_none_or(|at| when <= at as i64))
        || (flags.lt && current.is_some_and(|at| when >= at as i64));
    if refused {
        drop(shard);
        return ctx.out.int(0);
    }
    let mut removed = None;
    if when <= now as i64 {
        removed = db.remove(key, hash);
    } else {
        db.set_expire(key, hash, when as u64, now);
    }
    drop(shard);
    drop(removed);
    ctx.out.int(1);
}

/// `PERSIST key`: 1 if a TTL was removed, 0 if the key is missing or has
/// none.
pub fn persist(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let had_ttl = db
        .get(key, hash, ctx.now_ms)
        .is_some_and(|e| e.expire_at().is_some());
    if had_ttl {
        db.set_expire(key, hash, 0, ctx.now_ms);
    }
    drop(shard);
    ctx.out.int(had_ttl as i64);
}

// ---------------------------------------------------------------------------
// TTL, PTTL, EXPIRETIME, PEXPIRETIME

/// `TTL key`: seconds left (rounded), -1 without TTL, -2 when missing.
pub fn ttl(ctx: &mut Ctx<'_>, args: Args<'_>) {
    ttl_generic(ctx, args, false, false);
}

/// `PTTL key`: milliseconds left, -1 without TTL, -2 when missing.
pub fn pttl(ctx: &mut Ctx<'_>, args: Args<'_>) {
    ttl_generic(ctx, args, true, false);
}

/// `EXPIRETIME key`: the expiry as Unix seconds, -1 without TTL, -2 when
/// missing.
pub fn expiretime(ctx: &mut Ctx<'_>, args: Args<'_>) {
    ttl_generic(ctx, args, false, true);
}

/// `PEXPIRETIME key`: the expiry as Unix milliseconds, -1 without TTL, -2
/// when missing.
pub fn pexpiretime(ctx: &mut Ctx<'_>, args: Args<'_>) {
    ttl_generic(ctx, args, true, true);
}

/// Redis' `ttlGenericCommand`: seconds are rounded to the nearest
/// (`(ms + 500) / 1000`), for the absolute forms too.
fn ttl_generic(ctx: &mut Ctx<'_>, args: Args<'_>, ms: bool, absolute: bool) {
    let key = args.get(1);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let now = ctx.now_ms;
    let found = shard
        .db(ctx.client.db)
        .get(key, hash, now)
        .map(|e| e.expire_at());
    if found.is_some() {
        shard.stats.hits += 1;
    } else {
        shard.stats.misses += 1;
    }
    drop(shard);
    let reply = match found {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let v = if absolute { at } else { at.saturating_sub(now) };
            let v = if ms { v } else { v.saturating_add(500) / 1000 };
            i64::try_from(v).unwrap_or(i64::MAX)
        }
    };
    ctx.out.int(reply);
}

// ---------------------------------------------------------------------------
// KEYS, SCAN, RANDOMKEY

/// `KEYS pattern`
///
/// Walks the shards one at a time, so the reply is not a snapshot of one
/// instant (neither is Redis' once keys expire meanwhile). Expired keys are
/// never listed.
pub fn keys(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let pattern = args.get(1);
    let all = pattern == b"*";
    let ks = &ctx.shared.keyspace;
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let mut buf = BytesMut::new();
    let mut body = Reply::new(&mut buf, ctx.out.protocol());
    let mut n = 0usize;
    for i in 0..ks.shard_count() {
        let shard = ks.lock(i);
        shard.db_ref(dbi).for_each(now, |e| {
            if all || crate::glob::matches(pattern, &e.key, false) {
                body.bulk(&e.key);
                n += 1;
            }
        });
    }
    ctx.out.array(n);
    ctx.out.raw(&buf);
}

/// A `SCAN` cursor: an arena slot of one shard.
///
/// Encoded as `slot * shard_count + shard`, so cursor 0 is shard 0 slot 0,
/// the start (and, returned, the end) of an iteration. Every `u64` decodes
/// to some position, as every cursor is accepted by Redis; a made-up cursor
/// just resumes somewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanCursor {
    /// Shard index, below the keyspace's shard count.
    pub shard: usize,
    /// Arena slot within the shard's database where the walk resumes.
    pub slot: u64,
}

impl ScanCursor {
    /// Decodes `cursor` for a keyspace of `shards` shards (at least 1).
    pub fn decode(cursor: u64, shards: usize) -> ScanCursor {
        let n = shards.max(1) as u64;
        ScanCursor {
            shard: (cursor % n) as usize,
            slot: cursor / n,
        }
    }

    /// Encodes the position for a keyspace of `shards` shards; saturates at
    /// `u64::MAX` (slots are `u32`, shard counts at most 2^16, so it never
    /// does in practice).
    pub fn encode(self, shards: usize) -> u64 {
        let n = shards.max(1) as u64;
        self.slot
            .saturating_mul(n)
            .saturating_add(self.shard as u64)
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
///
/// Visits about `COUNT` (default 10) entries, moving on to the next shards
/// in the same call while the budget lasts, then replies
/// `[next-cursor, [keys...]]`; MATCH and TYPE filter what was visited, so a
/// call may return fewer keys, even none, before the cursor comes back to 0.
pub fn scan(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(cursor) = crate::num::parse_cursor(args.get(1)) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let (opt, has_value) = (args.get(i), i + 1 < args.len());
        if opt.eq_ignore_ascii_case(b"count") && has_value {
            let Some(n) = int_arg(&mut ctx.out, args.get(i + 1)) else {
                return;
            };
            if n < 1 {
                return ctx.out.error(err::SYNTAX);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if opt.eq_ignore_ascii_case(b"match") && has_value {
            let p = args.get(i + 1);
            pattern = (p != b"*").then_some(p);
        } else if opt.eq_ignore_ascii_case(b"type") && has_value {
            type_name = Some(args.get(i + 1));
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        i += 2;
    }

    let ks = &ctx.shared.keyspace;
    let shards = ks.shard_count();
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let mut pos = ScanCursor::decode(cursor, shards);
    let mut buf = BytesMut::new();
    let mut body = Reply::new(&mut buf, ctx.out.protocol());
    let mut n = 0usize;
    let mut budget = count;
    let next = loop {
        let mut visited = 0usize;
        let resume = {
            let shard = ks.lock(pos.shard);
            let start = usize::try_from(pos.slot).unwrap_or(usize::MAX);
            shard.db_ref(dbi).scan(start, budget, now, |e| {
                visited += 1;
                let keep = type_name
                    .is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()))
                    && pattern.is_none_or(|p| crate::glob::matches(p, &e.key, false));
                if keep {
                    body.bulk(&e.key);
                    n += 1;
                }
            })
        };
        if resume != 0 {
            pos.slot = resume as u64;
            break pos.encode(shards);
        }
        // This shard is done: go on with the next one while budget is left.
        pos = ScanCursor {
            shard: pos.shard + 1,
            slot: 0,
        };
        budget = budget.saturating_sub(visited);
        if pos.shard >= shards {
            break 0;
        }
        if budget == 0 {
            break pos.encode(shards);
        }
    };
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(n);
    ctx.out.raw(&buf);
}

/// `RANDOMKEY`: a random live key, or nil when the database is empty.
///
/// Picks a shard with probability proportional to its key count (read one
/// shard at a time), then a key within it; a shard found to hold only
/// expired keys is dropped from the draw.
pub fn randomkey(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    let ks: &Keyspace = &ctx.shared.keyspace;
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let mut weights: SmallVec<[usize; 64]> = (0..ks.shard_count())
        .map(|i| ks.lock(i).db_ref(dbi).len())
        .collect();
    loop {
        let total: usize = weights.iter().sum();
        if total == 0 {
            return ctx.out.null();
        }
        let mut pick = ctx.client.rng.usize(..total);
        let Some(i) = weights.iter().position(|&w| {
            if pick < w {
                true
            } else {
                pick -= w;
                false
            }
        }) else {
            return ctx.out.null();
        };
        let shard = ks.lock(i);
        match shard.db_ref(dbi).random(&mut ctx.client.rng, now) {
            Some(e) => return ctx.out.bulk(&e.key),
            None => weights[i] = 0,
        }
    }
}

// ---------------------------------------------------------------------------
// OBJECT

/// `OBJECT HELP` lines, as Redis 7.0 prints them.
const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// Redis shares the objects of the integers 0..10000 (`OBJ_SHARED_INTEGERS`)
/// and reports their refcount as `INT_MAX` (`OBJ_SHARED_REFCOUNT`).
const SHARED_INTEGERS: i64 = 10_000;

/// The subcommand of `OBJECT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ObjectSub {
    Encoding,
    Refcount,
    Idletime,
    Freq,
}

/// `OBJECT ENCODING | REFCOUNT | IDLETIME | FREQ key`, `OBJECT HELP`
///
/// Access times and frequencies are not tracked: `IDLETIME` replies 0 and
/// `FREQ` 0, each only under the `maxmemory-policy` that Redis allows it
/// with (else Redis' error).
pub fn object(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let sub = args.get(1);
    let (which, full_name) = if sub.eq_ignore_ascii_case(b"help") {
        if args.len() != 2 {
            return wrong_arity(&mut ctx.out, b"object|help");
        }
        ctx.out.array(OBJECT_HELP.len());
        for line in OBJECT_HELP {
            ctx.out.simple(line);
        }
        return;
    } else if sub.eq_ignore_ascii_case(b"encoding") {
        (ObjectSub::Encoding, "object|encoding")
    } else if sub.eq_ignore_ascii_case(b"refcount") {
        (ObjectSub::Refcount, "object|refcount")
    } else if sub.eq_ignore_ascii_case(b"idletime") {
        (ObjectSub::Idletime, "object|idletime")
    } else if sub.eq_ignore_ascii_case(b"freq") {
        (ObjectSub::Freq, "object|freq")
    } else {
        return ctx.out.error_parts(&[
            b"ERR unknown subcommand '",
            super::shown_max(sub, super::SHOWN_MAX),
            b"'. Try OBJECT HELP.",
        ]);
    };
    if args.len() != 3 {
        return wrong_arity(&mut ctx.out, full_name.as_bytes());
    }

    let key = args.get(2);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let found =
        shard
            .db(ctx.client.db)
            .get(key, hash, ctx.now_ms)
            .map(|e| match (which, &e.value) {
                (ObjectSub::Refcount, crate::keyspace::Value::Int(n))
                    if (0..SHARED_INTEGERS).contains(n) =>
                {
                    (i32::MAX as i64, "")
                }
                (ObjectSub::Refcount, _) => (1, ""),
                _ => (0, e.value.encoding()),
            });
    if found.is_some() {
        shard.stats.hits += 1;
    } else {
        shard.stats.misses += 1;
    }
    drop(shard);
    let Some((number, encoding)) = found else {
        return ctx.out.null();
    };
    match which {
        ObjectSub::Encoding => ctx.out.bulk(encoding.as_bytes()),
        ObjectSub::Refcount => ctx.out.int(number),
        ObjectSub::Idletime | ObjectSub::Freq => {
            let lfu = ctx
                .shared
                .config
                .get("maxmemory-policy")
                .is_some_and(|p| p.contains("lfu"));
            if which == ObjectSub::Idletime && lfu {
                ctx.out.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
            } else if which == ObjectSub::Freq && !lfu {
                ctx.out.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
            } else {
                ctx.out.int(0);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// COPY, MOVE

/// Redis' `sameobjecterr`.
const SAME_OBJECT: &str = "ERR source and destination objects are the same";

/// Parses a database index argument as Redis' `COPY`/`MOVE` do: not an
/// integer is `NOT_INT`, out of range `DB index is out of range`.
fn db_arg(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<usize> {
    let n = crate::cmd::int_arg(&mut ctx.out, arg)?;
    match usize::try_from(n) {
        Ok(i) if i < ctx.shared.keyspace.databases() && n <= i32::MAX as i64 => Some(i),
        _ => {
            ctx.out.error("ERR DB index is out of range");
            None
        }
    }
}

/// `COPY source destination [DB destination-db] [REPLACE]`: copies the value
/// and TTL; 1 if copied, 0 if the source is missing or the destination
/// exists (without `REPLACE`). Both shards are locked together.
pub fn copy(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (src, dst) = (args.get(1), args.get(2));
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        let a = args.get(i);
        if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if a.eq_ignore_ascii_case(b"db") && i + 1 < args.len() {
            let Some(d) = db_arg(ctx, args.get(i + 1)) else {
                return;
            };
            dst_db = d;
            i += 1;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        i += 1;
    }
    if src_db == dst_db && src == dst {
        return ctx.out.error(SAME_OBJECT);
    }
    let shared = ctx.shared;
    let now = ctx.now_ms;
    let (routes, shards) = route(shared, [src, dst].into_iter());
    let (rs, rd) = (routes[0], routes[1]);
    let mut locked = shared.keyspace.lock_shards(&shards);
    let source = {
        let shard = locked.shard(rs.shard);
        match shard.db(src_db).get(src, rs.hash, now) {
            Some(e) => {
                let copied = (e.value.clone(), e.expire_at());
                shard.stats.hits += 1;
                copied
            }
            None => {
                shard.stats.misses += 1;
                drop(locked);
                return ctx.out.int(0);
            }
        }
    };
    let target = locked.shard(rd.shard).db(dst_db);
    if target.contains(dst, rd.hash, now) {
        if !replace {
            drop(locked);
            return ctx.out.int(0);
        }
        target.remove(dst, rd.hash);
    }
    let (value, expire_at) = source;
    target.insert_new(dst, rd.hash, value, expire_at.map_or(Ttl::Persist, Ttl::At));
    drop(locked);
    ctx.out.int(1);
}

/// `MOVE key db`: moves the key (value and TTL) to database `db`; 1 if
/// moved, 0 if the key is missing or exists there already.
pub fn move_(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let Some(to) = db_arg(ctx, args.get(2)) else {
        return;
    };
    let from = ctx.client.db;
    if to == from {
        return ctx.out.error(SAME_OBJECT);
    }
    let now = ctx.now_ms;
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    if !shard.db(from).contains(key, hash, now) || shard.db(to).contains(key, hash, now) {
        drop(shard);
        return ctx.out.int(0);
    }
    let Some(entry) = shard.db(from).remove(key, hash) else {
        drop(shard);
        return ctx.out.int(0);
    };
    let ttl = entry.expire_at().map_or(Ttl::Persist, Ttl::At);
    shard.db(to).insert_new(key, hash, entry.value, ttl);
    drop(shard);
    ctx.out.int(1);
}

// ---------------------------------------------------------------------------
// DUMP, RESTORE

/// `DUMP key`: the value serialized in this server's format
/// ([`crate::dump`]), or nil when the key is missing.
pub fn dump(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let mut payload = Vec::new();
    let found = match shard.db(ctx.client.db).get(key, hash, ctx.now_ms) {
        Some(e) => {
            crate::dump::encode(&e.value, &mut payload);
            true
        }
        None => false,
    };
    if found {
        shard.stats.hits += 1;
    } else {
        shard.stats.misses += 1;
    }
    drop(shard);
    if found {
        ctx.out.bulk(&payload);
    } else {
        ctx.out.null();
    }
}

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency]`: creates `key` from a `DUMP` payload, with a TTL in
/// milliseconds (0: none; an absolute Unix time with `ABSTTL`). Checks in
/// Redis' order: options, `BUSYKEY` unless `REPLACE`, the TTL, the
/// payload's version and checksum, its body. `IDLETIME` and `FREQ` are
/// checked and ignored (no LRU/LFU clock is kept). A TTL already in the
/// past deletes the key (with `REPLACE`) and stores nothing.
pub fn restore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let (mut replace, mut absttl, mut idle, mut freq) = (false, false, false, false);
    let mut j = 4;
    while j < args.len() {
        let a = args.get(j);
        let more = j + 1 < args.len();
        if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if a.eq_ignore_ascii_case(b"absttl") {
            absttl = true;
        } else if a.eq_ignore_ascii_case(b"idletime") && more && !freq {
            let Some(n) = int_arg(&mut ctx.out, args.get(j + 1)) else {
                return;
            };
            if n < 0 {
                return ctx.out.error("ERR Invalid IDLETIME value, must be >= 0");
            }
            idle = true;
            j += 1;
        } else if a.eq_ignore_ascii_case(b"freq") && more && !idle {
            let Some(n) = int_arg(&mut ctx.out, args.get(j + 1)) else {
                return;
            };
            if !(0..=255).contains(&n) {
                return ctx
                    .out
                    .error("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            freq = true;
            j += 1;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        j += 1;
    }
    let now = ctx.now_ms;
    let dbi = ctx.client.db;
    let limits = ctx.shared.config.encodings();
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let db = shard.db(dbi);
    let exists = db.contains(key, hash, now);
    if exists && !replace {
        drop(shard);
        return ctx.out.error("BUSYKEY Target key name already exists.");
    }
    let Some(ttl) = crate::num::parse_i64_canonical(args.get(2)) else {
        drop(shard);
        return ctx.out.error(err::NOT_INT);
    };
    if ttl < 0 {
        drop(shard);
        return ctx.out.error("ERR Invalid TTL value, must be >= 0");
    }
    let value = match crate::dump::decode(args.get(3), &limits) {
        Ok(v) => v,
        Err(e) => {
            drop(shard);
            return ctx.out.error(e.message());
        }
    };
    if exists {
        db.remove(key, hash);
    }
    let ttl = ttl as u64;
    let at = if ttl != 0 && !absttl {
        ttl.saturating_add(now)
    } else {
        ttl
    };
    if at != 0 && at <= now {
        drop(shard);
        return ctx.out.ok();
    }
    let ttl = if at == 0 { Ttl::Persist } else { Ttl::At(at) };
    db.insert_new(key, hash, value, ttl);
    drop(shard);
    ctx.out.ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        for shards in [1usize, 2, 64, 1 << 16] {
            for (shard, slot) in [(0, 0), (shards - 1, 1), (shards / 2, u32::MAX as u64)] {
                let c = ScanCursor { shard, slot };
                assert_eq!(ScanCursor::decode(c.encode(shards), shards), c);
            }
            assert_eq!(
                ScanCursor::decode(0, shards),
                ScanCursor { shard: 0, slot: 0 }
            );
        }
    }

    #[test]
    fn expire_arithmetic_matches_redis() {
        let now = 1_700_000_000_000;
        assert_eq!(expire_when(10, true, now), Some(now + 10_000));
        assert_eq!(expire_when(-5, false, now), Some(now - 5));
        // EXPIRE k 9223372036854775: fits in ms, overflows once now is added.
        assert_eq!(expire_when(9_223_372_036_854_775, true, now), None);
        assert_eq!(
            expire_when(9_223_372_036_854_775, true, 0),
            Some(9_223_372_036_854_775_000)
        );
        assert_eq!(expire_when(9_223_372_036_854_776, true, 0), None);
        assert_eq!(expire_when(i64::MIN, true, 0), None);
        assert_eq!(expire_when(i64::MIN, false, now), Some(i64::MIN + now));
        assert_eq!(expire_when(i64::MAX, false, 0), Some(i64::MAX));
        assert_eq!(expire_when(i64::MAX, false, 1), None);
    }
}
