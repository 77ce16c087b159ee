//! Hash commands (Redis' `hash` group,
//! <https://redis.io/docs/latest/commands/?group=hash>).
//!
//! Replies, error texts and the order of checks follow Redis 7.0's
//! `t_hash.c`; the value type is [`crate::types::Hash`]. Read commands
//! count keyspace hits and misses as `lookupKeyRead` does; writes do not.
//! A hash emptied by `HDEL` is deleted.
//!
//! Helpers shared with the set commands ([`super::set`]) live here too:
//! typed lookups, `*SCAN` option parsing, random sampling.

use bytes::BytesMut;

use super::flags::*;
use super::{command, err, int_arg, reply_scan, scan_opts, wrong_arity, Args, Command, Ctx};
use crate::keyspace::{Db, Ttl, Value};
use crate::longdouble::LongDouble;
use crate::reply::Reply;
use crate::shared::Shared;
use crate::types::hash::{IncrError, Item};
use crate::types::Hash;

/// The hash commands, with arity, flags and key positions as Redis 7.0's
/// `COMMAND INFO` reports them.
#[rustfmt::skip]
pub const COMMANDS: &[Command] = &[
    command("hset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), "hash", "2.0.0", "Creates or modifies the value of a field in a hash.", hset),
    command("hsetnx", 4, WRITE | DENYOOM | FAST, (1, 1, 1), "hash", "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", hsetnx),
    command("hget", 3, READONLY | FAST, (1, 1, 1), "hash", "2.0.0", "Returns the value of a field in a hash.", hget),
    command("hmget", -3, READONLY | FAST, (1, 1, 1), "hash", "2.0.0", "Returns the values of all fields in a hash.", hmget),
    command("hmset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), "hash", "2.0.0", "Sets the values of multiple fields.", hmset),
    command("hdel", -3, WRITE | FAST, (1, 1, 1), "hash", "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", hdel),
    command("hexists", 3, READONLY | FAST, (1, 1, 1), "hash", "2.0.0", "Determines whether a field exists in a hash.", hexists),
    command("hlen", 2, READONLY | FAST, (1, 1, 1), "hash", "2.0.0", "Returns the number of fields in a hash.", hlen),
    command("hkeys", 2, READONLY, (1, 1, 1), "hash", "2.0.0", "Returns all fields in a hash.", hkeys),
    command("hvals", 2, READONLY, (1, 1, 1), "hash", "2.0.0", "Returns all values in a hash.", hvals),
    command("hgetall", 2, READONLY, (1, 1, 1), "hash", "2.0.0", "Returns all fields and values in a hash.", hgetall),
    command("hincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), "hash", "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", hincrby),
    command("hincrbyfloat", 4, WRITE | DENYOOM | FAST, (1, 1, 1), "hash", "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", hincrbyfloat),
    command("hstrlen", 3, READONLY | FAST, (1, 1, 1), "hash", "3.2.0", "Returns the length of the value of a field.", hstrlen),
    command("hrandfield", -2, READONLY | RANDOM, (1, 1, 1), "hash", "6.2.0", "Returns one or more random fields from a hash.", hrandfield),
    command("hscan", -3, READONLY | RANDOM, (1, 1, 1), "hash", "2.8.0", "Iterates over fields and values of a hash.", hscan),
];

/// `HINCRBY` on a value that is not an integer.
const HASH_NOT_INT: &str = "ERR hash value is not an integer";
/// `HINCRBYFLOAT` on a value that is not a float.
const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
/// `HINCRBYFLOAT` with an infinite increment.
const NAN_INCR: &str = "ERR value is NaN or Infinity";
/// `HINCRBYFLOAT` whose result is not finite.
const NAN_RESULT: &str = "ERR increment would produce NaN or Infinity";
/// A count of `i64::MIN` (`getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`).
const COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// Writes a stored field, value or member as a bulk string.
#[inline]
pub(crate) fn reply_item(out: &mut Reply<'_>, item: Item<'_>) {
    match item {
        Item::Int(n) => out.bulk_int(n),
        Item::Bytes(b) => out.bulk(b),
    }
}

/// Looks `key` up for a read command: counts a keyspace hit or miss,
/// writes `WRONGTYPE` when `pick` does not accept the value, else calls `f`
/// with the value (None when the key is missing).
pub(crate) fn read_typed<T>(
    shared: &Shared,
    dbi: usize,
    now_ms: u64,
    out: &mut Reply<'_>,
    key: &[u8],
    pick: fn(&Value) -> Option<&T>,
    f: impl FnOnce(&mut Reply<'_>, Option<&T>),
) {
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let found = match shard.db(dbi).get(key, hash, now_ms) {
        None => {
            f(out, None);
            false
        }
        Some(e) => {
            match pick(&e.value) {
                Some(v) => f(out, Some(v)),
                None => out.error(err::WRONGTYPE),
            }
            true
        }
    };
    if found {
        shard.stats.hits += 1;
    } else {
        shard.stats.misses += 1;
    }
}

/// The hash in `v`, if it is one.
fn as_hash(v: &Value) -> Option<&Hash> {
    match v {
        Value::Hash(h) => Some(h),
        _ => None,
    }
}

/// [`read_typed`] for a hash.
fn read_hash(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&mut Reply<'_>, Option<&Hash>)) {
    read_typed(
        ctx.shared,
        ctx.client.db,
        ctx.now_ms,
        &mut ctx.out,
        key,
        as_hash,
        f,
    );
}

/// What a write command finds at its key.
pub(crate) enum Found<'d, T> {
    /// No live key.
    Missing,
    /// A value of another type.
    WrongType,
    /// The value.
    Yes(&'d mut T),
}

/// Looks the hash at `key` up for writing (no hit/miss counted).
fn hash_mut<'d>(db: &'d mut Db, key: &[u8], hash: u64, now_ms: u64) -> Found<'d, Hash> {
    match db.get(key, hash, now_ms) {
        None => Found::Missing,
        Some(e) => match &mut e.value {
            Value::Hash(h) => Found::Yes(h),
            _ => Found::WrongType,
        },
    }
}

/// Parses a `*RANDMEMBER`/`HRANDFIELD`/`SRANDMEMBER` count: an integer in
/// `-i64::MAX..=i64::MAX`, or writes Redis' error.
pub(crate) fn count_arg(out: &mut Reply<'_>, arg: &[u8]) -> Option<i64> {
    let n = int_arg(out, arg)?;
    if n == i64::MIN {
        out.error(COUNT_RANGE);
        return None;
    }
    Some(n)
}

/// `count` distinct positions below `len` (`count < len`), in random
/// order: a partial Fisher-Yates shuffle, sized by `len` (the container's
/// size, never by the client's count alone).
pub(crate) fn sample_distinct(rng: &mut fastrand::Rng, len: usize, count: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..len).collect();
    let count = count.min(len);
    for i in 0..count {
        let j = rng.usize(i..len);
        idx.swap(i, j);
    }
    idx.truncate(count);
    idx
}

/// `HSET key field value [field value ...]`: replies the number of fields
/// added.
pub fn hset(ctx: &mut Ctx<'_>, args: Args<'_>) {
    set_pairs(ctx, args, false);
}

/// `HMSET key field value [field value ...]`: as `HSET`, replies `OK`.
pub fn hmset(ctx: &mut Ctx<'_>, args: Args<'_>) {
    set_pairs(ctx, args, true);
}

/// `HSET` and `HMSET`.
fn set_pairs(ctx: &mut Ctx<'_>, args: Args<'_>, ok_reply: bool) {
    if !args.len().is_multiple_of(2) {
        return wrong_arity(&mut ctx.out, args.get(0));
    }
    let key = args.get(1);
    let limits = ctx.shared.config.encodings();
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let set_all = |h: &mut Hash| {
        (2..args.len())
            .step_by(2)
            .filter(|&i| h.set(args.get(i), args.get(i + 1), &limits))
            .count()
    };
    let added = match hash_mut(db, key, hash, ctx.now_ms) {
        Found::WrongType => return ctx.out.error(err::WRONGTYPE),
        Found::Yes(h) => {
            let n = set_all(h);
            db.touch(key);
            n
        }
        Found::Missing => {
            let mut h = Hash::new();
            let n = set_all(&mut h);
            db.insert_new(key, hash, Value::Hash(Box::new(h)), Ttl::Persist);
            n
        }
    };
    if ok_reply {
        ctx.out.ok();
    } else {
        ctx.out.int(added as i64);
    }
}

/// `HSETNX key field value`: sets the field only if it is absent; replies
/// 1 if it did, else 0.
pub fn hsetnx(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (key, field, value) = (args.get(1), args.get(2), args.get(3));
    let limits = ctx.shared.config.encodings();
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    match hash_mut(db, key, hash, ctx.now_ms) {
        Found::WrongType => return ctx.out.error(err::WRONGTYPE),
        Found::Yes(h) => {
            if h.contains(field) {
                return ctx.out.int(0);
            }
            h.set(field, value, &limits);
            db.touch(key);
        }
        Found::Missing => {
            let mut h = Hash::new();
            h.set(field, value, &limits);
            db.insert_new(key, hash, Value::Hash(Box::new(h)), Ttl::Persist);
        }
    }
    ctx.out.int(1);
}

/// `HGET key field`: the value, or nil.
pub fn hget(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let field = args.get(2);
    read_hash(ctx, args.get(1), |out, h| {
        match h.and_then(|h| h.get(field)) {
            Some(v) => reply_item(out, v),
            None => out.null(),
        }
    });
}

/// `HMGET key field [field ...]`: an array of values, nil for a missing
/// field.
pub fn hmget(ctx: &mut Ctx<'_>, args: Args<'_>) {
    read_hash(ctx, args.get(1), |out, h| {
        out.array(args.len() - 2);
        for f in args.iter_from(2) {
            match h.and_then(|h| h.get(f)) {
                Some(v) => reply_item(out, v),
                None => out.null(),
            }
        }
    });
}

/// `HDEL key field [field ...]`: replies the number of fields removed;
/// deletes the key when the hash is left empty.
pub fn hdel(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let (removed, empty) = match hash_mut(db, key, hash, ctx.now_ms) {
        Found::WrongType => return ctx.out.error(err::WRONGTYPE),
        Found::Missing => (0, false),
        Found::Yes(h) => {
            let mut n = 0;
            for f in args.iter_from(2) {
                if h.remove(f) {
                    n += 1;
                    if h.is_empty() {
                        break;
                    }
                }
            }
            (n, h.is_empty())
        }
    };
    if empty {
        db.remove(key, hash);
    } else if removed > 0 {
        db.touch(key);
    }
    ctx.out.int(removed);
}

/// `HEXISTS key field`: 1 if the field exists, else 0.
pub fn hexists(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let field = args.get(2);
    read_hash(ctx, args.get(1), |out, h| {
        out.int(h.is_some_and(|h| h.contains(field)) as i64)
    });
}

/// `HLEN key`: the number of fields (0 for a missing key).
pub fn hlen(ctx: &mut Ctx<'_>, args: Args<'_>) {
    read_hash(ctx, args.get(1), |out, h| {
        out.int(h.map_or(0, Hash::len) as i64)
    });
}

/// `HSTRLEN key field`: the length of the field's value (0 if missing).
pub fn hstrlen(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let field = args.get(2);
    read_hash(ctx, args.get(1), |out, h| {
        let len = h
            .and_then(|h| h.get(field))
            .map_or(0, |v| v.with_bytes(<[u8]>::len));
        out.int(len as i64)
    });
}

/// Which parts of the pairs `HKEYS`, `HVALS` and `HGETALL` reply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parts {
    Fields,
    Values,
    Both,
}

/// `HKEYS`, `HVALS`, `HGETALL`: an array (a map for both parts), in the
/// hash's order.
fn get_all(ctx: &mut Ctx<'_>, args: Args<'_>, parts: Parts) {
    read_hash(ctx, args.get(1), |out, h| {
        let n = h.map_or(0, Hash::len);
        if parts == Parts::Both {
            out.map(n);
        } else {
            out.array(n);
        }
        for (f, v) in h.into_iter().flat_map(Hash::iter) {
            if parts != Parts::Values {
                reply_item(out, f);
            }
            if parts != Parts::Fields {
                reply_item(out, v);
            }
        }
    });
}

/// `HKEYS key`: every field.
pub fn hkeys(ctx: &mut Ctx<'_>, args: Args<'_>) {
    get_all(ctx, args, Parts::Fields);
}

/// `HVALS key`: every value.
pub fn hvals(ctx: &mut Ctx<'_>, args: Args<'_>) {
    get_all(ctx, args, Parts::Values);
}

/// `HGETALL key`: every field and value (a map in RESP3).
pub fn hgetall(ctx: &mut Ctx<'_>, args: Args<'_>) {
    get_all(ctx, args, Parts::Both);
}

/// `HINCRBY key field increment`: adds to the field's integer value (0 if
/// absent) and replies the result.
pub fn hincrby(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(delta) = int_arg(&mut ctx.out, args.get(3)) else {
        return;
    };
    let (key, field) = (args.get(1), args.get(2));
    let limits = ctx.shared.config.encodings();
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let result = match hash_mut(db, key, hash, ctx.now_ms) {
        Found::WrongType => return ctx.out.error(err::WRONGTYPE),
        Found::Yes(h) => {
            let r = h.incr_by(field, delta, &limits);
            if r.is_ok() {
                db.touch(key);
            }
            r
        }
        Found::Missing => {
            let mut h = Hash::new();
            let r = h.incr_by(field, delta, &limits);
            db.insert_new(key, hash, Value::Hash(Box::new(h)), Ttl::Persist);
            r
        }
    };
    match result {
        Ok(n) => ctx.out.int(n),
        Err(IncrError::NotInteger) => ctx.out.error(HASH_NOT_INT),
        Err(IncrError::Overflow) => ctx.out.error(err::OVERFLOW),
    }
}

/// `HINCRBYFLOAT key field increment`: adds to the field's value as a
/// long double (as Redis on x86-64) and replies the result as stored.
pub fn hincrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(incr) = LongDouble::parse(args.get(3)) else {
        return ctx.out.error(err::NOT_FLOAT);
    };
    if !incr.is_finite() {
        return ctx.out.error(NAN_INCR);
    }
    let (key, field) = (args.get(1), args.get(2));
    let limits = ctx.shared.config.encodings();
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let mut created = None;
    let h = match hash_mut(db, key, hash, ctx.now_ms) {
        Found::WrongType => return ctx.out.error(err::WRONGTYPE),
        Found::Yes(h) => h,
        Found::Missing => created.insert(Hash::new()),
    };
    let current = match h.get(field) {
        None => LongDouble::ZERO,
        Some(Item::Int(n)) => LongDouble::from_i64(n),
        Some(Item::Bytes(b)) => match LongDouble::parse(b) {
            Some(v) => v,
            None => return ctx.out.error(HASH_NOT_FLOAT),
        },
    };
    let sum = current + incr;
    if !sum.is_finite() {
        return ctx.out.error(NAN_RESULT);
    }
    let mut text = Vec::with_capacity(32);
    sum.format_human(&mut text);
    h.set(field, &text, &limits);
    match created {
        Some(h) => db.insert_new(key, hash, Value::Hash(Box::new(h)), Ttl::Persist),
        None => db.touch(key),
    }
    ctx.out.bulk(&text);
}

/// Writes one pair of `HRANDFIELD`: the field, and with `values` the value
/// (the two in an array of their own in RESP3).
fn reply_pair(out: &mut Reply<'_>, (f, v): (Item<'_>, Item<'_>), values: bool) {
    if values && out.is_resp3() {
        out.array(2);
    }
    reply_item(out, f);
    if values {
        reply_item(out, v);
    }
}

/// The array header of `HRANDFIELD` for `n` pairs.
fn pairs_header(out: &mut Reply<'_>, n: u64, values: bool) {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if values && !out.is_resp3() {
        out.array(n.saturating_mul(2));
    } else {
        out.array(n);
    }
}

/// `HRANDFIELD key [count [WITHVALUES]]`: a random field (nil for a
/// missing key); with a count, that many distinct fields (all when the
/// count is at least the size), or with a negative count that many fields
/// drawn independently (repeats allowed).
///
/// A huge negative count streams that many replies, as Redis does; no
/// memory is reserved by the count.
pub fn hrandfield(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    if args.len() == 2 {
        let (shared, dbi, now) = (ctx.shared, ctx.client.db, ctx.now_ms);
        let rng = &mut ctx.client.rng;
        return read_typed(
            shared,
            dbi,
            now,
            &mut ctx.out,
            key,
            as_hash,
            |out, h| match h.filter(|h| !h.is_empty()) {
                Some(h) => {
                    let i = rng.usize(..h.len());
                    reply_item(out, h.pair_at(None, i).0)
                }
                None => out.null(),
            },
        );
    }
    let Some(count) = count_arg(&mut ctx.out, args.get(2)) else {
        return;
    };
    let values = match args.len() {
        3 => false,
        4 if args.get(3).eq_ignore_ascii_case(b"withvalues") => true,
        _ => return ctx.out.error(err::SYNTAX),
    };
    if values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return ctx.out.error("ERR value is out of range");
    }
    let (shared, dbi, now) = (ctx.shared, ctx.client.db, ctx.now_ms);
    let rng = &mut ctx.client.rng;
    read_typed(shared, dbi, now, &mut ctx.out, key, as_hash, |out, h| {
        let Some(h) = h.filter(|_| count != 0) else {
            return out.array(0);
        };
        let len = h.len();
        if count < 0 {
            let n = count.unsigned_abs();
            pairs_header(out, n, values);
            let pos = h.positions();
            for _ in 0..n {
                reply_pair(out, h.pair_at(pos.as_deref(), rng.usize(..len)), values);
            }
        } else if count as u64 >= len as u64 {
            pairs_header(out, len as u64, values);
            for pair in h.iter() {
                reply_pair(out, pair, values);
            }
        } else {
            let picked = sample_distinct(rng, len, count as usize);
            pairs_header(out, picked.len() as u64, values);
            let pos = h.positions();
            for i in picked {
                reply_pair(out, h.pair_at(pos.as_deref(), i), values);
            }
        }
    });
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`: `[next cursor,
/// [field, value, ...]]`. A listpack hash comes whole with cursor 0; a
/// table in steps of about `COUNT` fields (see
/// [`crate::types::set::Dense::scan`]). `MATCH` filters on the field.
pub fn hscan(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(cursor) = crate::num::parse_cursor(args.get(2)) else {
        return ctx.out.error("ERR invalid cursor");
    };
    read_hash(ctx, args.get(1), |out, h| {
        let Some(h) = h else {
            return reply_scan(out, 0, 0, b"");
        };
        let Some(opts) = scan_opts(out, args, 3) else {
            return;
        };
        let mut buf = BytesMut::new();
        let mut body = Reply::new(&mut buf, out.protocol());
        let mut n = 0;
        let next = h.scan(cursor, opts.count, |f, v| {
            if opts.keeps(f) {
                reply_item(&mut body, f);
                reply_item(&mut body, v);
                n += 2;
            }
        });
        reply_scan(out, next, n, &buf);
    });
}
