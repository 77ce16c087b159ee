//! Set commands (Redis' `set` group,
//! <https://redis.io/docs/latest/commands/?group=set>).
//!
//! Replies, error texts and the order of checks follow Redis 7.0's
//! `t_set.c`; the value type is [`crate::types::Set`]. Read commands
//! (`SINTER`, `SUNION`, `SDIFF` and their `STORE` forms included, which
//! read their sources with `lookupKeyRead`) count keyspace hits and misses;
//! `SPOP` and `SMOVE` do not. An emptied set is deleted.
//!
//! The multi-key commands lock every shard of their keys at once
//! ([`super::route`], [`crate::keyspace::Keyspace::lock_shards`]): sources
//! are first looked up mutably (expiring what is due, checking types), then
//! borrowed together read-only to compute the result, then the destination
//! is written. A `STORE` with an empty result deletes the destination, as
//! Redis does; otherwise the destination is overwritten whatever its type,
//! without TTL.

use smallvec::SmallVec;

use super::flags::*;
use super::hash::{count_arg, read_typed, reply_item, sample_distinct, Found};
use super::{command, err, reply_scan, route, scan_opts, Args, Command, Ctx};
use crate::keyspace::{Db, Shard, Ttl, Value};
use crate::reply::Reply;
use crate::types::set::Member;
use crate::types::Set;

/// The set commands, with arity, flags and key positions as Redis 7.0's
/// `COMMAND INFO` reports them.
#[rustfmt::skip]
pub const COMMANDS: &[Command] = &[
    command("sadd", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "set", "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.", sadd),
    command("srem", -3, WRITE | FAST, (1, 1, 1), "set", "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.", srem),
    command("smembers", 2, READONLY, (1, 1, 1), "set", "1.0.0", "Returns all members of a set.", smembers),
    command("sismember", 3, READONLY | FAST, (1, 1, 1), "set", "1.0.0", "Determines whether a member belongs to a set.", sismember),
    command("smismember", -3, READONLY | FAST, (1, 1, 1), "set", "6.2.0", "Determines whether multiple members belong to a set.", smismember),
    command("scard", 2, READONLY | FAST, (1, 1, 1), "set", "1.0.0", "Returns the number of members in a set.", scard),
    command("spop", -2, WRITE | FAST | RANDOM, (1, 1, 1), "set", "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", spop),
    command("srandmember", -2, READONLY | RANDOM, (1, 1, 1), "set", "1.0.0", "Get one or multiple random members from a set", srandmember),
    command("smove", 4, WRITE | FAST, (1, 2, 1), "set", "1.0.0", "Moves a member from one set to another.", smove),
    command("sinter", -2, READONLY, (1, -1, 1), "set", "1.0.0", "Returns the intersect of multiple sets.", sinter),
    command("sunion", -2, READONLY, (1, -1, 1), "set", "1.0.0", "Returns the union of multiple sets.", sunion),
    command("sdiff", -2, READONLY, (1, -1, 1), "set", "1.0.0", "Returns the difference of multiple sets.", sdiff),
    command("sinterstore", -3, WRITE | DENYOOM, (1, -1, 1), "set", "1.0.0", "Stores the intersect of multiple sets in a key.", sinterstore),
    command("sunionstore", -3, WRITE | DENYOOM, (1, -1, 1), "set", "1.0.0", "Stores the union of multiple sets in a key.", sunionstore),
    command("sdiffstore", -3, WRITE | DENYOOM, (1, -1, 1), "set", "1.0.0", "Stores the difference of multiple sets in a key.", sdiffstore),
    command("sintercard", -3, READONLY | MOVABLE_KEYS, (0, 0, 0), "set", "7.0.0", "Returns the number of members of the intersect of multiple sets.", sintercard),
    command("sscan", -3, READONLY | RANDOM, (1, 1, 1), "set", "2.8.0", "Iterates over members of a set.", sscan),
];

/// A negative `SPOP` count.
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

/// The set in `v`, if it is one.
fn as_set(v: &Value) -> Option<&Set> {
    match v {
        Value::Set(s) => Some(s),
        _ => None,
    }
}

/// [`read_typed`] for a set.
fn read_set(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&mut Reply<'_>, Option<&Set>)) {
    read_typed(
        ctx.shared,
        ctx.client.db,
        ctx.now_ms,
        &mut ctx.out,
        key,
        as_set,
        f,
    );
}

/// Looks the set at `key` up for writing (no hit/miss counted).
fn set_mut<'d>(db: &'d mut Db, key: &[u8], hash: u64, now_ms: u64) -> Found<'d, Set> {
    match db.get(key, hash, now_ms) {
        None => Found::Missing,
        Some(e) => match &mut e.value {
            Value::Set(s) => Found::Yes(s),
            _ => Found::WrongType,
        },
    }
}

/// Writes a member as a bulk string.
#[inline]
fn reply_member(out: &mut Reply<'_>, m: Member<'_>) {
    reply_item(out, m);
}

/// `SADD key member [member ...]`: replies the number of members added.
pub fn sadd(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let max = ctx.shared.config.encodings().set_max_intset_entries;
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let add_all = |s: &mut Set| args.iter_from(2).filter(|m| s.insert(m, max)).count();
    let added = match set_mut(db, key, hash, ctx.now_ms) {
        Found::WrongType => return ctx.out.error(err::WRONGTYPE),
        Found::Yes(s) => {
            let n = add_all(s);
            if n > 0 {
                db.touch(key);
            }
            n
        }
        Found::Missing => {
            let mut s = Set::new();
            let n = add_all(&mut s);
            db.insert_new(key, hash, Value::Set(Box::new(s)), Ttl::Persist);
            n
        }
    };
    ctx.out.int(added as i64);
}

/// `SREM key member [member ...]`: replies the number of members removed;
/// deletes the key when the set is left empty.
pub fn srem(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let (removed, empty) = match set_mut(db, key, hash, ctx.now_ms) {
        Found::WrongType => return ctx.out.error(err::WRONGTYPE),
        Found::Missing => (0, false),
        Found::Yes(s) => {
            let mut n = 0;
            for m in args.iter_from(2) {
                if s.remove(m) {
                    n += 1;
                    if s.is_empty() {
                        break;
                    }
                }
            }
            (n, s.is_empty())
        }
    };
    if empty {
        db.remove(key, hash);
    } else if removed > 0 {
        db.touch(key);
    }
    ctx.out.int(removed);
}

/// `SMEMBERS key`: every member (a set in RESP3; ascending for an intset).
pub fn smembers(ctx: &mut Ctx<'_>, args: Args<'_>) {
    read_set(ctx, args.get(1), |out, s| {
        out.set(s.map_or(0, Set::len));
        for m in s.into_iter().flat_map(Set::iter) {
            reply_member(out, m);
        }
    });
}

/// `SISMEMBER key member`: 1 if `member` is in the set, else 0.
pub fn sismember(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let member = args.get(2);
    read_set(ctx, args.get(1), |out, s| {
        out.int(s.is_some_and(|s| s.contains(member)) as i64)
    });
}

/// `SMISMEMBER key member [member ...]`: an array of 1 and 0, one per
/// member.
pub fn smismember(ctx: &mut Ctx<'_>, args: Args<'_>) {
    read_set(ctx, args.get(1), |out, s| {
        out.array(args.len() - 2);
        for m in args.iter_from(2) {
            out.int(s.is_some_and(|s| s.contains(m)) as i64);
        }
    });
}

/// `SCARD key`: the number of members (0 for a missing key).
pub fn scard(ctx: &mut Ctx<'_>, args: Args<'_>) {
    read_set(ctx, args.get(1), |out, s| {
        out.int(s.map_or(0, Set::len) as i64)
    });
}

/// `SPOP key [count]`: removes and replies a random member (nil for a
/// missing key), or with a count up to that many distinct members (a set
/// in RESP3). The key is deleted when emptied.
pub fn spop(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let count = match args.len() {
        2 => None,
        3 => match crate::num::parse_i64_canonical(args.get(2)) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return ctx.out.error(MUST_BE_POSITIVE),
        },
        _ => return ctx.out.error(err::SYNTAX),
    };
    let key = args.get(1);
    let max = ctx.shared.config.encodings().set_max_intset_entries;
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let rng = &mut ctx.client.rng;
    let out = &mut ctx.out;
    let s = match set_mut(db, key, hash, ctx.now_ms) {
        Found::WrongType => return out.error(err::WRONGTYPE),
        Found::Missing if count.is_none() => return out.null(),
        Found::Missing => return out.set(0),
        Found::Yes(s) => s,
    };
    let Some(count) = count else {
        match s.pop_random(rng) {
            Some(m) => reply_member(out, m.as_member()),
            None => out.null(),
        }
        return finish_pop(db, key, hash);
    };
    if count == 0 {
        return out.set(0);
    }
    let len = s.len() as u64;
    if count >= len {
        out.set(s.len());
        for m in s.iter() {
            reply_member(out, m);
        }
        db.remove(key, hash);
        return;
    }
    out.set(count as usize);
    for _ in 0..count {
        if let Some(m) = s.pop_random(rng) {
            reply_member(out, m.as_member());
        }
    }
    // Redis 7.0 pops most of a large set by building a new set of the few
    // remaining members (`spopWithCountCommand`, case 3): that set is
    // encoded afresh, so a table of integers may become an intset again.
    if (len - count) * 5 <= count && s.encoding() == "hashtable" {
        *s = Set::from_members(s.iter(), max);
    }
    finish_pop(db, key, hash);
}

/// After members were popped from the set at `key`: deletes it if empty,
/// else signals the change.
fn finish_pop(db: &mut Db, key: &[u8], hash: u64) {
    let empty = db.peek(key, hash).is_some_and(|e| match &e.value {
        Value::Set(s) => s.is_empty(),
        _ => false,
    });
    if empty {
        db.remove(key, hash);
    } else {
        db.touch(key);
    }
}

/// `SRANDMEMBER key [count]`: a random member (nil for a missing key); with
/// a count, that many distinct members (all when the count is at least
/// the size), or with a negative count that many members drawn
/// independently. Always an array.
///
/// A huge negative count streams that many replies, as Redis does; no
/// memory is reserved by the count.
pub fn srandmember(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let count = match args.len() {
        2 => None,
        3 => match count_arg(&mut ctx.out, args.get(2)) {
            None => return,
            some => some,
        },
        _ => return ctx.out.error(err::SYNTAX),
    };
    let (shared, dbi, now) = (ctx.shared, ctx.client.db, ctx.now_ms);
    let rng = &mut ctx.client.rng;
    read_typed(
        shared,
        dbi,
        now,
        &mut ctx.out,
        args.get(1),
        as_set,
        |out, s| {
            let Some(count) = count else {
                return match s.and_then(|s| s.random(rng)) {
                    Some(m) => reply_member(out, m),
                    None => out.null(),
                };
            };
            let Some(s) = s.filter(|_| count != 0) else {
                return out.array(0);
            };
            if count < 0 {
                let n = count.unsigned_abs();
                out.array(usize::try_from(n).unwrap_or(usize::MAX));
                for _ in 0..n {
                    if let Some(m) = s.random(rng) {
                        reply_member(out, m);
                    }
                }
            } else if count as u64 >= s.len() as u64 {
                out.array(s.len());
                for m in s.iter() {
                    reply_member(out, m);
                }
            } else {
                let picked = sample_distinct(rng, s.len(), count as usize);
                out.array(picked.len());
                for i in picked {
                    reply_member(out, s.at(i));
                }
            }
        },
    );
}

/// `SMOVE source destination member`: moves `member` between sets;
/// replies 1 if it was moved (or, with `source` = `destination`, is
/// there), else 0.
pub fn smove(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (src, dst, member) = (args.get(1), args.get(2), args.get(3));
    let max = ctx.shared.config.encodings().set_max_intset_entries;
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let (routes, shards) = route(ctx.shared, [src, dst].into_iter());
    let mut locked = ctx.shared.keyspace.lock_shards(&shards);
    let kind = |shard: &mut Shard, key: &[u8], hash: u64| match shard.db(dbi).get(key, hash, now) {
        None => Kind::Missing,
        Some(e) if matches!(e.value, Value::Set(_)) => Kind::Set,
        Some(_) => Kind::Wrong,
    };
    let src_kind = kind(locked.shard(routes[0].shard), src, routes[0].hash);
    let dst_kind = kind(locked.shard(routes[1].shard), dst, routes[1].hash);
    if src_kind == Kind::Missing {
        return ctx.out.int(0);
    }
    if src_kind == Kind::Wrong || dst_kind == Kind::Wrong {
        return ctx.out.error(err::WRONGTYPE);
    }
    let db = locked.shard(routes[0].shard).db(dbi);
    let Found::Yes(s) = set_mut(db, src, routes[0].hash, now) else {
        return ctx.out.int(0);
    };
    if src == dst {
        return ctx.out.int(s.contains(member) as i64);
    }
    if !s.remove(member) {
        return ctx.out.int(0);
    }
    if s.is_empty() {
        db.remove(src, routes[0].hash);
    } else {
        db.touch(src);
    }
    let db = locked.shard(routes[1].shard).db(dbi);
    match set_mut(db, dst, routes[1].hash, now) {
        Found::Yes(d) => {
            if d.insert(member, max) {
                db.touch(dst);
            }
        }
        _ => {
            let mut d = Set::new();
            d.insert(member, max);
            db.insert_new(dst, routes[1].hash, Value::Set(Box::new(d)), Ttl::Persist);
        }
    }
    ctx.out.int(1);
}

/// What a key holds, for the multi-key commands' type checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Missing,
    Set,
    Wrong,
}

/// The set operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// What to do with the result of an operation.
#[derive(Clone, Copy, Debug)]
enum Output<'a> {
    /// Reply the members (a set in RESP3).
    Reply,
    /// Store it at this key; reply its size.
    Store(&'a [u8]),
    /// Reply the size of the intersection, counting at most `limit`
    /// members (0: no limit).
    Card(usize),
}

/// The result of an operation over borrowed sources: the members of an
/// intersection in the smallest source's order, or a new set.
enum Outcome<'s> {
    Members(Vec<Member<'s>>),
    Built(Set),
    Count(usize),
}

/// `SINTER`, `SUNION`, `SDIFF` and their `STORE` forms, `SINTERCARD`: the
/// operation `op` over the sets at `sources`.
fn set_op<'k>(
    ctx: &mut Ctx<'_>,
    sources: impl Iterator<Item = &'k [u8]>,
    op: Op,
    output: Output<'k>,
) {
    let max = ctx.shared.config.encodings().set_max_intset_entries;
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let dst = match output {
        Output::Store(dst) => Some(dst),
        _ => None,
    };
    let keys: SmallVec<[&[u8]; 8]> = dst.into_iter().chain(sources).collect();
    let first = dst.is_some() as usize;
    let (routes, shards) = route(ctx.shared, keys.iter().copied());
    let mut locked = ctx.shared.keyspace.lock_shards(&shards);

    // Look every source up as Redis' lookupKeyRead does (expiring it if
    // due, counting a hit or miss), stopping at the first wrong type.
    let mut any_missing = false;
    for (i, key) in keys.iter().enumerate().skip(first) {
        let shard = locked.shard(routes[i].shard);
        let kind = match shard.db(dbi).get(key, routes[i].hash, now) {
            None => Kind::Missing,
            Some(e) if matches!(e.value, Value::Set(_)) => Kind::Set,
            Some(_) => Kind::Wrong,
        };
        if kind == Kind::Missing {
            shard.stats.misses += 1;
            any_missing = true;
        } else {
            shard.stats.hits += 1;
        }
        if kind == Kind::Wrong {
            return ctx.out.error(err::WRONGTYPE);
        }
    }

    let result = {
        // Every source borrowed at once, read-only (expired keys are gone).
        let views: SmallVec<[&Shard; 8]> = locked.iter_mut().map(|s| &*s).collect();
        let sets: SmallVec<[Option<&Set>; 8]> = (first..keys.len())
            .map(|i| {
                let pos = shards.binary_search(&routes[i].shard).ok()?;
                let entry = views.get(pos)?.db_ref(dbi).peek(keys[i], routes[i].hash)?;
                as_set(&entry.value)
            })
            .collect();
        match op {
            Op::Inter if any_missing => Outcome::Count(0),
            Op::Inter => {
                let mut present: SmallVec<[&Set; 8]> = sets.iter().flatten().copied().collect();
                present.sort_by_key(|s| s.len());
                let (smallest, rest) = present
                    .split_first()
                    .map_or((None, &[][..]), |(s, r)| (Some(*s), r));
                let members = smallest
                    .into_iter()
                    .flat_map(Set::iter)
                    .filter(|m| rest.iter().all(|o| o.contains_member(*m)));
                match output {
                    Output::Card(limit) => {
                        let limit = if limit == 0 { usize::MAX } else { limit };
                        Outcome::Count(members.take(limit).count())
                    }
                    Output::Store(_) => Outcome::Built(Set::from_members(members, max)),
                    Output::Reply => Outcome::Members(members.collect()),
                }
            }
            Op::Union => Outcome::Built(Set::from_members(
                sets.iter().flatten().flat_map(|s| s.iter()),
                max,
            )),
            Op::Diff => match sets.split_first() {
                Some((Some(head), rest)) => Outcome::Built(Set::from_members(
                    head.iter()
                        .filter(|m| !rest.iter().flatten().any(|o| o.contains_member(*m))),
                    max,
                )),
                _ => Outcome::Count(0),
            },
        }
    };

    let out = &mut ctx.out;
    match (output, result) {
        (Output::Card(_), Outcome::Count(n)) => out.int(n as i64),
        (Output::Card(_), _) => out.int(0),
        (Output::Reply, Outcome::Members(ms)) => {
            out.set(ms.len());
            for m in ms {
                reply_member(out, m);
            }
        }
        (Output::Reply, Outcome::Built(s)) => {
            out.set(s.len());
            for m in s.iter() {
                reply_member(out, m);
            }
        }
        (Output::Reply, Outcome::Count(_)) => out.set(0),
        (Output::Store(dst), result) => {
            let set = match result {
                Outcome::Built(s) => s,
                Outcome::Members(ms) => Set::from_members(ms, max),
                Outcome::Count(_) => Set::new(),
            };
            let db = locked.shard(routes[0].shard).db(dbi);
            let hash = routes[0].hash;
            let n = set.len();
            if n == 0 {
                if db.contains(dst, hash, now) {
                    db.remove(dst, hash);
                }
            } else {
                db.set(dst, hash, Value::Set(Box::new(set)), Ttl::Persist, now);
            }
            out.int(n as i64);
        }
    }
}

/// `SINTER key [key ...]`: the members in every set (empty if a key is
/// missing).
pub fn sinter(ctx: &mut Ctx<'_>, args: Args<'_>) {
    set_op(ctx, args.iter_from(1), Op::Inter, Output::Reply);
}

/// `SUNION key [key ...]`: the members in any set.
pub fn sunion(ctx: &mut Ctx<'_>, args: Args<'_>) {
    set_op(ctx, args.iter_from(1), Op::Union, Output::Reply);
}

/// `SDIFF key [key ...]`: the members of the first set in none of the
/// others.
pub fn sdiff(ctx: &mut Ctx<'_>, args: Args<'_>) {
    set_op(ctx, args.iter_from(1), Op::Diff, Output::Reply);
}

/// `SINTERSTORE destination key [key ...]`: stores the intersection;
/// replies its size.
pub fn sinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    set_op(
        ctx,
        args.iter_from(2),
        Op::Inter,
        Output::Store(args.get(1)),
    );
}

/// `SUNIONSTORE destination key [key ...]`: stores the union; replies its
/// size.
pub fn sunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    set_op(
        ctx,
        args.iter_from(2),
        Op::Union,
        Output::Store(args.get(1)),
    );
}

/// `SDIFFSTORE destination key [key ...]`: stores the difference; replies
/// its size.
pub fn sdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    set_op(ctx, args.iter_from(2), Op::Diff, Output::Store(args.get(1)));
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`: the size of the
/// intersection, counting at most `limit` members (0: all).
pub fn sintercard(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let numkeys = crate::num::parse_i64_canonical(args.get(1)).filter(|&n| n >= 1);
    let Some(numkeys) = numkeys else {
        return ctx.out.error("ERR numkeys should be greater than 0");
    };
    if numkeys as u64 > (args.len() - 2) as u64 {
        return ctx
            .out
            .error("ERR Number of keys can't be greater than number of args");
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if args.get(i).eq_ignore_ascii_case(b"limit") && i + 1 < args.len() {
            let n = crate::num::parse_i64_canonical(args.get(i + 1)).filter(|&n| n >= 0);
            let Some(n) = n else {
                return ctx.out.error("ERR LIMIT can't be negative");
            };
            limit = usize::try_from(n).unwrap_or(usize::MAX);
            i += 2;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
    }
    let sources = args.iter_from(2).take(numkeys);
    set_op(ctx, sources, Op::Inter, Output::Card(limit));
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`: `[next cursor,
/// [member, ...]]`. An intset comes whole with cursor 0; a table in steps
/// of about `COUNT` members (see [`crate::types::set::Dense::scan`]).
pub fn sscan(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(cursor) = crate::num::parse_cursor(args.get(2)) else {
        return ctx.out.error("ERR invalid cursor");
    };
    read_set(ctx, args.get(1), |out, s| {
        let Some(s) = s else {
            return reply_scan(out, 0, 0, b"");
        };
        let Some(opts) = scan_opts(out, args, 3) else {
            return;
        };
        let mut buf = bytes::BytesMut::new();
        let mut body = Reply::new(&mut buf, out.protocol());
        let mut n = 0;
        let next = s.scan(cursor, opts.count, |m| {
            if opts.keeps(m) {
                reply_member(&mut body, m);
                n += 1;
            }
        });
        reply_scan(out, next, n, &buf);
    });
}
