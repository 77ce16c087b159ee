//! Sorted-set commands (Redis' `sorted-set` group), blocking ones included
//! (<https://redis.io/docs/latest/commands/?group=sorted-set>).
//!
//! Replies, option grammar, error texts and their order follow Redis 7.0's
//! `t_zset.c`, with one deliberate difference: scores print with the
//! shortest digits that read back to the same double (Redis 7.2+: `0.1`,
//! not 7.0's `0.10000000000000001`), see [`zset::format_score`]. RESP3
//! replies scores as doubles (`,` frames, same digits). Commands that look keys up the way Redis'
//! `lookupKeyRead` does (`ZSCORE`, `ZRANGE`, `ZUNION`, ...) count keyspace
//! hits and misses; the writing ones do not.
//!
//! Not yet: Redis also accepts plain sets as sources of `ZUNION`, `ZINTER`,
//! `ZDIFF`, `ZINTERCARD` and the `STORE` forms (every member scored 1);
//! here a set source is refused with WRONGTYPE until `types::Set` offers
//! an iterator and a membership test to read it with.

use super::flags::*;
use super::{command, err, int_arg, route, timeout_arg, Args, Command, Ctx};
use crate::blocking::{BlockKind, TimeoutReply};
use crate::keyspace::{Db, Ttl, Value};
use crate::reply::Reply;
use crate::types::zset::{self, Limits, ZSet};

/// The sorted-set commands, with arity, flags and key positions as Redis
/// 7.0's `COMMAND INFO` reports them.
#[rustfmt::skip]
pub const COMMANDS: &[Command] = &[
    command("zadd", -4, WRITE | DENYOOM | FAST, (1, 1, 1), "sorted-set", "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zadd),
    command("zincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), "sorted-set", "1.2.0", "Increments the score of a member in a sorted set.", zincrby),
    command("zrem", -3, WRITE | FAST, (1, 1, 1), "sorted-set", "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zrem),
    command("zscore", 3, READONLY | FAST, (1, 1, 1), "sorted-set", "1.2.0", "Returns the score of a member in a sorted set.", zscore),
    command("zmscore", -3, READONLY | FAST, (1, 1, 1), "sorted-set", "6.2.0", "Returns the score of one or more members in a sorted set.", zmscore),
    command("zcard", 2, READONLY | FAST, (1, 1, 1), "sorted-set", "1.2.0", "Returns the number of members in a sorted set.", zcard),
    command("zcount", 4, READONLY | FAST, (1, 1, 1), "sorted-set", "2.0.0", "Returns the count of members in a sorted set that have scores within a range.", zcount),
    command("zlexcount", 4, READONLY | FAST, (1, 1, 1), "sorted-set", "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.", zlexcount),
    command("zrank", 3, READONLY | FAST, (1, 1, 1), "sorted-set", "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.", zrank),
    command("zrevrank", 3, READONLY | FAST, (1, 1, 1), "sorted-set", "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.", zrevrank),
    command("zrange", -4, READONLY, (1, 1, 1), "sorted-set", "1.2.0", "Returns members in a sorted set within a range of indexes.", zrange),
    command("zrangebyscore", -4, READONLY, (1, 1, 1), "sorted-set", "1.0.5", "Returns members in a sorted set within a range of scores.", zrangebyscore),
    command("zrevrangebyscore", -4, READONLY, (1, 1, 1), "sorted-set", "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.", zrevrangebyscore),
    command("zrangebylex", -4, READONLY, (1, 1, 1), "sorted-set", "2.8.9", "Returns members in a sorted set within a lexicographical range.", zrangebylex),
    command("zrevrangebylex", -4, READONLY, (1, 1, 1), "sorted-set", "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.", zrevrangebylex),
    command("zrevrange", -4, READONLY, (1, 1, 1), "sorted-set", "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.", zrevrange),
    command("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), "sorted-set", "6.2.0", "Stores a range of members from sorted set in a key.", zrangestore),
    command("zpopmin", -2, WRITE | FAST, (1, 1, 1), "sorted-set", "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zpopmin),
    command("zpopmax", -2, WRITE | FAST, (1, 1, 1), "sorted-set", "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zpopmax),
    command("bzpopmin", -3, WRITE | NOSCRIPT | BLOCKING | FAST, (1, -2, 1), "sorted-set", "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", bzpopmin),
    command("bzpopmax", -3, WRITE | NOSCRIPT | BLOCKING | FAST, (1, -2, 1), "sorted-set", "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", bzpopmax),
    command("zmpop", -4, WRITE | MOVABLE_KEYS, (0, 0, 0), "sorted-set", "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", zmpop),
    command("bzmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, (0, 0, 0), "sorted-set", "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", bzmpop),
    command("zunionstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, (1, 1, 1), "sorted-set", "2.0.0", "Stores the union of multiple sorted sets in a key.", zunionstore),
    command("zinterstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, (1, 1, 1), "sorted-set", "2.0.0", "Stores the intersect of multiple sorted sets in a key.", zinterstore),
    command("zdiffstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, (1, 1, 1), "sorted-set", "6.2.0", "Stores the difference of multiple sorted sets in a key.", zdiffstore),
    command("zunion", -3, READONLY | MOVABLE_KEYS, (0, 0, 0), "sorted-set", "6.2.0", "Returns the union of multiple sorted sets.", zunion),
    command("zinter", -3, READONLY | MOVABLE_KEYS, (0, 0, 0), "sorted-set", "6.2.0", "Returns the intersect of multiple sorted sets.", zinter),
    command("zdiff", -3, READONLY | MOVABLE_KEYS, (0, 0, 0), "sorted-set", "6.2.0", "Returns the difference between multiple sorted sets.", zdiff),
    command("zintercard", -3, READONLY | MOVABLE_KEYS, (0, 0, 0), "sorted-set", "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.", zintercard),
    command("zrandmember", -2, READONLY, (1, 1, 1), "sorted-set", "6.2.0", "Returns one or more random members from a sorted set.", zrandmember),
    command("zremrangebyscore", 4, WRITE, (1, 1, 1), "sorted-set", "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", zremrangebyscore),
    command("zremrangebyrank", 4, WRITE, (1, 1, 1), "sorted-set", "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", zremrangebyrank),
    command("zremrangebylex", 4, WRITE, (1, 1, 1), "sorted-set", "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", zremrangebylex),
    command("zscan", -3, READONLY, (1, 1, 1), "sorted-set", "2.8.0", "Iterates over members and scores of a sorted set.", zscan),
];

/// `ZADD ... INCR` or `ZINCRBY` whose result is NaN.
const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
/// A score range bound that is not a float.
const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
/// A lex range bound that does not start with `[`, `(`, `-` or `+`.
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
/// `COUNT` of `ZPOPMIN`/`ZPOPMAX` that is negative or not an integer.
const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
/// Most elements `ZRANDMEMBER` with a negative count replies (Redis has
/// no bound and would write until memory runs out).
const RANDMEMBER_MAX: u64 = 1 << 22;

/// The encoding thresholds now.
#[inline]
fn limits(ctx: &Ctx<'_>) -> Limits {
    ctx.shared.config.encodings().into()
}

/// Writes a score: a double in RESP3, a bulk string in RESP2.
#[inline]
fn reply_score(out: &mut Reply<'_>, v: f64) {
    out.double(v);
}

/// Writes a score as a bulk string in any protocol (`ZSCAN`).
#[inline]
fn bulk_score(out: &mut Reply<'_>, v: f64) {
    let mut buf = [0u8; 40];
    let n = zset::format_score(v, &mut buf);
    out.bulk(&buf[..n]);
}

/// Writes `n` (member, score) pairs as Redis' range replies do: a flat
/// array in RESP2, an array of pairs in RESP3; members only without scores.
struct Emit {
    withscores: bool,
}

impl Emit {
    fn header(&self, out: &mut Reply<'_>, n: usize) {
        if self.withscores && !out.is_resp3() {
            out.array(2 * n);
        } else {
            out.array(n);
        }
    }

    fn item(&self, out: &mut Reply<'_>, member: &[u8], score: f64) {
        if self.withscores {
            if out.is_resp3() {
                out.array(2);
            }
            out.bulk(member);
            reply_score(out, score);
        } else {
            out.bulk(member);
        }
    }
}

/// Runs `f` on the sorted set at `key` as a read command: counts a keyspace
/// hit or miss, writes WRONGTYPE for another type, passes None when absent.
fn read(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&mut Ctx<'_>, Option<&ZSet>)) {
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let hit = match shard.db(dbi).get(key, hash, now) {
        None => {
            f(ctx, None);
            false
        }
        Some(e) => {
            match &e.value {
                Value::ZSet(z) => f(ctx, Some(z)),
                _ => ctx.out.error(err::WRONGTYPE),
            }
            true
        }
    };
    if hit {
        shard.stats.hits += 1;
    } else {
        shard.stats.misses += 1;
    }
}

/// What a write did to the set at its key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Nothing changed.
    None,
    /// Changed in place.
    Changed,
}

/// Runs `f` on the sorted set at `key` as a write command (no keyspace
/// stats): WRONGTYPE for another type, `missing` when absent. When `f`
/// reports a change, watchers are signalled, and an emptied set is deleted.
fn write(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    missing: impl FnOnce(&mut Ctx<'_>),
    f: impl FnOnce(&mut Ctx<'_>, &mut ZSet) -> Change,
) {
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let db = shard.db(dbi);
    write_in(ctx, db, key, hash, now, missing, f);
}

/// [`write`] on an already locked database.
fn write_in(
    ctx: &mut Ctx<'_>,
    db: &mut Db,
    key: &[u8],
    hash: u64,
    now: u64,
    missing: impl FnOnce(&mut Ctx<'_>),
    f: impl FnOnce(&mut Ctx<'_>, &mut ZSet) -> Change,
) {
    let (change, empty) = match db.get(key, hash, now) {
        None => return missing(ctx),
        Some(e) => match &mut e.value {
            Value::ZSet(z) => {
                let c = f(ctx, z);
                (c, z.is_empty())
            }
            _ => return ctx.out.error(err::WRONGTYPE),
        },
    };
    if change == Change::Changed {
        if empty {
            db.remove(key, hash);
        } else {
            db.touch(key);
        }
    }
}

// ---------------------------------------------------------------------------
// Ranges

/// A score range (`zrangespec`): `(` makes a bound exclusive.
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

/// One bound of a score range, as Redis' `zslParseRange`: C `strtod` of the
/// argument (after a `(`), up to the end or a NUL byte; NaN refused.
fn score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (ex, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let (v, used, _) = zset::strtod(text);
    let rest_ok = used == text.len() || text[used] == 0;
    (rest_ok && !v.is_nan()).then_some((v, ex))
}

fn score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let (min, minex) = score_bound(min)?;
    let (max, maxex) = score_bound(max)?;
    Some(ScoreRange {
        min,
        minex,
        max,
        maxex,
    })
}

impl ScoreRange {
    /// Ascending ranks `lo..hi` of the members in range.
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let lo = z.count_while(|s, _| {
            if self.minex {
                s <= self.min
            } else {
                s < self.min
            }
        });
        let hi = z.count_while(|s, _| {
            if self.maxex {
                s < self.max
            } else {
                s <= self.max
            }
        });
        (lo, hi.max(lo))
    }
}

/// One bound of a lex range (`zslParseLexRangeItem`).
#[derive(Clone, Copy, Debug)]
enum Lex<'a> {
    /// `-`
    Min,
    /// `+`
    Max,
    /// `[member`
    Incl(&'a [u8]),
    /// `(member`
    Excl(&'a [u8]),
}

fn lex_bound(arg: &[u8]) -> Option<Lex<'_>> {
    match arg {
        [b'+'] => Some(Lex::Max),
        [b'-'] => Some(Lex::Min),
        [b'[', rest @ ..] => Some(Lex::Incl(rest)),
        [b'(', rest @ ..] => Some(Lex::Excl(rest)),
        _ => None,
    }
}

/// A lex range.
#[derive(Clone, Copy, Debug)]
struct LexRange<'a> {
    min: Lex<'a>,
    max: Lex<'a>,
}

fn lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Option<LexRange<'a>> {
    Some(LexRange {
        min: lex_bound(min)?,
        max: lex_bound(max)?,
    })
}

impl LexRange<'_> {
    /// Ascending ranks `lo..hi` of the members in range (members of equal
    /// scores, as Redis assumes for lex ranges).
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let lo = match self.min {
            Lex::Min => 0,
            Lex::Max => z.len(),
            Lex::Incl(x) => z.count_while(|_, m| m < x),
            Lex::Excl(x) => z.count_while(|_, m| m <= x),
        };
        let hi = match self.max {
            Lex::Min => 0,
            Lex::Max => z.len(),
            Lex::Incl(x) => z.count_while(|_, m| m <= x),
            Lex::Excl(x) => z.count_while(|_, m| m < x),
        };
        (lo, hi.max(lo))
    }
}

/// Redis' clamping of a rank range `start..=end` (negative from the end)
/// over `len` members: ranks `a..b` in the requested direction, or None
/// when empty.
fn rank_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize + 1))
}

/// Applies `LIMIT offset count` to ascending ranks `lo..hi` walked in
/// direction `rev`: the ascending ranks to emit. A negative offset selects
/// nothing and a negative count everything, as Redis' loops do.
fn limit_ranks(lo: usize, hi: usize, rev: bool, offset: i64, limit: i64) -> (usize, usize) {
    if offset < 0 {
        return (lo, lo);
    }
    let avail = hi - lo;
    let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(avail);
    let n = if limit < 0 {
        avail - offset
    } else {
        usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .min(avail - offset)
    };
    if rev {
        (hi - offset - n, hi - offset)
    } else {
        (lo + offset, lo + offset + n)
    }
}

/// How a `ZRANGE` family command selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// A parsed range selection, ready to resolve against a set.
enum Selection<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange<'a>),
}

impl Selection<'_> {
    /// The ascending ranks to emit and the direction.
    fn resolve(&self, z: &ZSet, rev: bool, offset: i64, limit: i64) -> (usize, usize) {
        let len = z.len();
        match self {
            Selection::Rank(s, e) => match rank_range(*s, *e, len) {
                None => (0, 0),
                Some((a, b)) if rev => (len - b, len - a),
                Some(r) => r,
            },
            Selection::Score(r) => {
                let (lo, hi) = r.ranks(z);
                limit_ranks(lo, hi, rev, offset, limit)
            }
            Selection::Lex(r) => {
                let (lo, hi) = r.ranks(z);
                limit_ranks(lo, hi, rev, offset, limit)
            }
        }
    }
}

/// `zrangeGenericCommand`: `ZRANGE`, `ZRANGESTORE` and the older forms.
/// `src` is the position of the source key; `store` whether the result is
/// stored at argument 1; `fixed` the type and direction of the older forms.
fn zrange_generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    src: usize,
    store: bool,
    mut rangetype: RangeType,
    fixed_rev: Option<bool>,
) {
    let mut withscores = false;
    let mut rev = fixed_rev.unwrap_or(false);
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = src + 3;
    while j < args.len() {
        let a = args.get(j);
        let left = args.len() - j - 1;
        if !store && a.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
        } else if a.eq_ignore_ascii_case(b"limit") && left >= 2 {
            let Some(o) = int_arg(&mut ctx.out, args.get(j + 1)) else {
                return;
            };
            let Some(l) = int_arg(&mut ctx.out, args.get(j + 2)) else {
                return;
            };
            (offset, limit) = (o, l);
            j += 2;
        } else if fixed_rev.is_none() && a.eq_ignore_ascii_case(b"rev") {
            rev = true;
        } else if rangetype == RangeType::Auto && a.eq_ignore_ascii_case(b"bylex") {
            rangetype = RangeType::Lex;
        } else if rangetype == RangeType::Auto && a.eq_ignore_ascii_case(b"byscore") {
            rangetype = RangeType::Score;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        j += 1;
    }
    if rangetype == RangeType::Auto {
        rangetype = RangeType::Rank;
    }
    if limit != -1 && rangetype == RangeType::Rank {
        return ctx.out.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && rangetype == RangeType::Lex {
        return ctx
            .out
            .error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (mut minidx, mut maxidx) = (src + 1, src + 2);
    if rev && rangetype != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let (min, max) = (args.get(minidx), args.get(maxidx));
    let sel = match rangetype {
        RangeType::Score => match score_range(min, max) {
            Some(r) => Selection::Score(r),
            None => return ctx.out.error(NOT_FLOAT_RANGE),
        },
        RangeType::Lex => match lex_range(min, max) {
            Some(r) => Selection::Lex(r),
            None => return ctx.out.error(NOT_LEX_RANGE),
        },
        _ => {
            let Some(s) = int_arg(&mut ctx.out, min) else {
                return;
            };
            let Some(e) = int_arg(&mut ctx.out, max) else {
                return;
            };
            Selection::Rank(s, e)
        }
    };
    let key = args.get(src);
    if store {
        return range_store(ctx, args.get(1), key, &sel, rev, offset, limit);
    }
    let emit = Emit { withscores };
    read(ctx, key, |ctx, z| {
        let Some(z) = z else {
            return ctx.out.array(0);
        };
        let (a, b) = sel.resolve(z, rev, offset, limit);
        emit.header(&mut ctx.out, b - a);
        z.for_range(a, b, rev, |m, s| emit.item(&mut ctx.out, m, s));
    });
}

/// The `ZRANGESTORE` half of [`zrange_generic`]: both keys locked at once.
fn range_store(
    ctx: &mut Ctx<'_>,
    dst: &[u8],
    src: &[u8],
    sel: &Selection<'_>,
    rev: bool,
    offset: i64,
    limit: i64,
) {
    let shared = ctx.shared;
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let (routes, shards) = route(shared, [dst, src].into_iter());
    let mut locked = shared.keyspace.lock_shards(&shards);
    let mut items: Vec<(Box<[u8]>, f64)> = Vec::new();
    {
        let shard = locked.shard(routes[1].shard);
        let found = shard.db(dbi).contains(src, routes[1].hash, now);
        if found {
            shard.stats.hits += 1;
        } else {
            shard.stats.misses += 1;
        }
        match shard.db(dbi).get(src, routes[1].hash, now) {
            None => {}
            Some(e) => match &e.value {
                Value::ZSet(z) => {
                    let (a, b) = sel.resolve(z, rev, offset, limit);
                    items.reserve(b - a);
                    z.for_range(a, b, rev, |m, s| items.push((m.into(), s)));
                }
                _ => return ctx.out.error(err::WRONGTYPE),
            },
        }
    }
    let lim = limits(ctx);
    let db = locked.shard(routes[0].shard).db(dbi);
    store_result(ctx, db, dst, routes[0].hash, now, items, lim);
}

/// Stores `items` (distinct members) as a sorted set at `key`, replacing
/// any value and TTL, or deletes `key` when there are none; replies the
/// count. The encoding is the one Redis picks for the result's size.
fn store_result(
    ctx: &mut Ctx<'_>,
    db: &mut Db,
    key: &[u8],
    hash: u64,
    now: u64,
    items: Vec<(Box<[u8]>, f64)>,
    lim: Limits,
) {
    if items.is_empty() {
        if db.contains(key, hash, now) {
            db.remove(key, hash);
        }
        return ctx.out.int(0);
    }
    let longest = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = ZSet::for_size(items.len(), longest, lim);
    for (m, s) in &items {
        z.insert(m, *s, lim);
    }
    let n = z.len();
    db.set(key, hash, Value::ZSet(Box::new(z)), Ttl::Persist, now);
    ctx.out.int(n as i64);
}

/// `ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
pub fn zrange(ctx: &mut Ctx<'_>, args: Args<'_>) {
    zrange_generic(ctx, args, 1, false, RangeType::Auto, None);
}

/// `ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]`
pub fn zrangestore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    zrange_generic(ctx, args, 2, true, RangeType::Auto, None);
}

/// `ZREVRANGE key start stop [WITHSCORES]`
pub fn zrevrange(ctx: &mut Ctx<'_>, args: Args<'_>) {
    zrange_generic(ctx, args, 1, false, RangeType::Rank, Some(true));
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
pub fn zrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    zrange_generic(ctx, args, 1, false, RangeType::Score, Some(false));
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    zrange_generic(ctx, args, 1, false, RangeType::Score, Some(true));
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`
pub fn zrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) {
    zrange_generic(ctx, args, 1, false, RangeType::Lex, Some(false));
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`
pub fn zrevrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) {
    zrange_generic(ctx, args, 1, false, RangeType::Lex, Some(true));
}

// ---------------------------------------------------------------------------
// ZADD and friends

/// Options of `ZADD`.
#[derive(Clone, Copy, Debug, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What `zsetAdd` did with one element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AddOutcome {
    Added,
    Updated,
    /// Processed, score unchanged.
    Same,
    /// Not processed (NX on an existing member, XX on a new one, GT/LT).
    Nop,
    /// The increment made the score NaN.
    Nan,
}

/// Redis' `zsetAdd`: applies one `score member` pair under `f`; returns
/// what happened and the member's score after it.
fn zset_add(
    z: &mut ZSet,
    member: &[u8],
    score: f64,
    f: AddFlags,
    lim: Limits,
) -> (AddOutcome, f64) {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return (AddOutcome::Nop, cur);
            }
            let mut score = score;
            if f.incr {
                score += cur;
                if score.is_nan() {
                    return (AddOutcome::Nan, cur);
                }
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return (AddOutcome::Nop, cur);
            }
            if score != cur {
                z.insert(member, score, lim);
                (AddOutcome::Updated, score)
            } else {
                (AddOutcome::Same, score)
            }
        }
        None if f.xx => (AddOutcome::Nop, score),
        None => {
            z.insert(member, score, lim);
            (AddOutcome::Added, score)
        }
    }
}

/// `zaddGenericCommand`, options from argument 2 (`ZADD`) with `base`
/// flags (`INCR` for `ZINCRBY`).
fn zadd_generic(ctx: &mut Ctx<'_>, args: Args<'_>, base: AddFlags) {
    let mut f = base;
    let mut idx = 2;
    while idx < args.len() {
        let o = args.get(idx);
        let set = if o.eq_ignore_ascii_case(b"nx") {
            &mut f.nx
        } else if o.eq_ignore_ascii_case(b"xx") {
            &mut f.xx
        } else if o.eq_ignore_ascii_case(b"ch") {
            &mut f.ch
        } else if o.eq_ignore_ascii_case(b"incr") {
            &mut f.incr
        } else if o.eq_ignore_ascii_case(b"gt") {
            &mut f.gt
        } else if o.eq_ignore_ascii_case(b"lt") {
            &mut f.lt
        } else {
            break;
        };
        *set = true;
        idx += 1;
    }
    let rest = args.len() - idx;
    if !rest.is_multiple_of(2) || rest == 0 {
        return ctx.out.error(err::SYNTAX);
    }
    let pairs = rest / 2;
    if f.nx && f.xx {
        return ctx
            .out
            .error("ERR XX and NX options at the same time are not compatible");
    }
    if ((f.gt || f.lt) && f.nx) || (f.gt && f.lt) {
        return ctx
            .out
            .error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && pairs > 1 {
        return ctx
            .out
            .error("ERR INCR option supports a single increment-element pair");
    }
    // Every score is checked before anything changes.
    for p in 0..pairs {
        if zset::parse_score(args.get(idx + 2 * p)).is_none() {
            return ctx.out.error(err::NOT_FLOAT);
        }
    }
    let lim = limits(ctx);
    let key = args.get(1);
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let db = shard.db(dbi);
    let mut fresh = None;
    let z: &mut ZSet = match db.get(key, hash, now) {
        Some(e) => match &mut e.value {
            Value::ZSet(z) => z,
            _ => return ctx.out.error(err::WRONGTYPE),
        },
        None => {
            if f.xx {
                return if f.incr {
                    ctx.out.null()
                } else {
                    ctx.out.int(0)
                };
            }
            fresh.insert(ZSet::new())
        }
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    let mut nan = false;
    for p in 0..pairs {
        let score = zset::parse_score(args.get(idx + 2 * p)).unwrap_or(0.0);
        let member = args.get(idx + 2 * p + 1);
        let (out, s) = zset_add(z, member, score, f, lim);
        match out {
            AddOutcome::Added => added += 1,
            AddOutcome::Updated => updated += 1,
            AddOutcome::Nan => {
                nan = true;
                break;
            }
            _ => {}
        }
        if out != AddOutcome::Nop {
            processed += 1;
        }
        last = s;
    }
    match fresh {
        Some(z) if !z.is_empty() => {
            db.insert_new(key, hash, Value::ZSet(Box::new(z)), Ttl::Persist)
        }
        Some(_) => {}
        None if added + updated > 0 => db.touch(key),
        None => {}
    }
    drop(shard);
    if nan {
        ctx.out.error(NAN_SCORE);
    } else if f.incr {
        if processed > 0 {
            reply_score(&mut ctx.out, last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if f.ch { added + updated } else { added });
    }
}

/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`
pub fn zadd(ctx: &mut Ctx<'_>, args: Args<'_>) {
    zadd_generic(ctx, args, AddFlags::default());
}

/// `ZINCRBY key increment member`
pub fn zincrby(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let f = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    zadd_generic(ctx, args, f);
}

/// `ZREM key member [member ...]`
pub fn zrem(ctx: &mut Ctx<'_>, args: Args<'_>) {
    write(
        ctx,
        args.get(1),
        |ctx| ctx.out.int(0),
        |ctx, z| {
            let mut n = 0;
            for m in args.iter_from(2) {
                if z.remove(m).is_some() {
                    n += 1;
                    if z.is_empty() {
                        break;
                    }
                }
            }
            ctx.out.int(n);
            if n > 0 {
                Change::Changed
            } else {
                Change::None
            }
        },
    );
}

/// `ZSCORE key member`
pub fn zscore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    read(ctx, args.get(1), |ctx, z| {
        match z.and_then(|z| z.score(args.get(2))) {
            Some(s) => reply_score(&mut ctx.out, s),
            None => ctx.out.null(),
        }
    });
}

/// `ZMSCORE key member [member ...]`
pub fn zmscore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    read(ctx, args.get(1), |ctx, z| {
        ctx.out.array(args.len() - 2);
        for m in args.iter_from(2) {
            match z.and_then(|z| z.score(m)) {
                Some(s) => reply_score(&mut ctx.out, s),
                None => ctx.out.null(),
            }
        }
    });
}

/// `ZCARD key`
pub fn zcard(ctx: &mut Ctx<'_>, args: Args<'_>) {
    read(ctx, args.get(1), |ctx, z| {
        ctx.out.int(z.map_or(0, ZSet::len) as i64)
    });
}

/// `ZCOUNT key min max`
pub fn zcount(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(r) = score_range(args.get(2), args.get(3)) else {
        return ctx.out.error(NOT_FLOAT_RANGE);
    };
    read(ctx, args.get(1), |ctx, z| {
        let (lo, hi) = z.map_or((0, 0), |z| r.ranks(z));
        ctx.out.int((hi - lo) as i64)
    });
}

/// `ZLEXCOUNT key min max`
pub fn zlexcount(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(r) = lex_range(args.get(2), args.get(3)) else {
        return ctx.out.error(NOT_LEX_RANGE);
    };
    read(ctx, args.get(1), |ctx, z| {
        let (lo, hi) = z.map_or((0, 0), |z| r.ranks(z));
        ctx.out.int((hi - lo) as i64)
    });
}

fn rank_generic(ctx: &mut Ctx<'_>, args: Args<'_>, rev: bool) {
    read(ctx, args.get(1), |ctx, z| {
        let rank = z.and_then(|z| {
            z.rank(args.get(2))
                .map(|r| if rev { z.len() - 1 - r } else { r })
        });
        match rank {
            Some(r) => ctx.out.int(r as i64),
            None => ctx.out.null(),
        }
    });
}

/// `ZRANK key member`
pub fn zrank(ctx: &mut Ctx<'_>, args: Args<'_>) {
    rank_generic(ctx, args, false);
}

/// `ZREVRANK key member`
pub fn zrevrank(ctx: &mut Ctx<'_>, args: Args<'_>) {
    rank_generic(ctx, args, true);
}

/// Removes ascending ranks `lo..hi`; replies the count.
fn remove_ranks(ctx: &mut Ctx<'_>, z: &mut ZSet, lo: usize, hi: usize) -> Change {
    let n = z.remove_range(lo, hi);
    ctx.out.int(n as i64);
    if n > 0 {
        Change::Changed
    } else {
        Change::None
    }
}

/// `ZREMRANGEBYSCORE key min max`
pub fn zremrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(r) = score_range(args.get(2), args.get(3)) else {
        return ctx.out.error(NOT_FLOAT_RANGE);
    };
    write(
        ctx,
        args.get(1),
        |ctx| ctx.out.int(0),
        |ctx, z| {
            let (lo, hi) = r.ranks(z);
            remove_ranks(ctx, z, lo, hi)
        },
    );
}

/// `ZREMRANGEBYLEX key min max`
pub fn zremrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(r) = lex_range(args.get(2), args.get(3)) else {
        return ctx.out.error(NOT_LEX_RANGE);
    };
    write(
        ctx,
        args.get(1),
        |ctx| ctx.out.int(0),
        |ctx, z| {
            let (lo, hi) = r.ranks(z);
            remove_ranks(ctx, z, lo, hi)
        },
    );
}

/// `ZREMRANGEBYRANK key start stop`
pub fn zremrangebyrank(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(start) = int_arg(&mut ctx.out, args.get(2)) else {
        return;
    };
    let Some(end) = int_arg(&mut ctx.out, args.get(3)) else {
        return;
    };
    write(
        ctx,
        args.get(1),
        |ctx| ctx.out.int(0),
        |ctx, z| {
            let (lo, hi) = rank_range(start, end, z.len()).unwrap_or((0, 0));
            remove_ranks(ctx, z, lo, hi)
        },
    );
}

// ---------------------------------------------------------------------------
// Pops

/// The shape of a pop reply (`genericZpopCommand`'s `emitkey` and
/// `use_nested_array`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PopShape {
    /// `ZPOPMIN`: flat `[m, s, ...]`; nested pairs in RESP3 with a count.
    Plain { nested: bool },
    /// `BZPOPMIN`: flat `[key, m, s]`.
    Keyed,
    /// `ZMPOP`/`BZMPOP`: `[key, [[m, s], ...]]`.
    Multi,
}

/// Pops up to `count` members from the low (or high, `max`) end of `z`
/// and writes the reply in `shape`.
fn pop_into(
    out: &mut Reply<'_>,
    key: &[u8],
    z: &mut ZSet,
    max: bool,
    count: usize,
    shape: PopShape,
) {
    let n = count.min(z.len());
    match shape {
        PopShape::Plain { nested: false } => out.array(2 * n),
        PopShape::Plain { nested: true } => out.array(n),
        PopShape::Keyed => {
            out.array(2 * n + 1);
            out.bulk(key);
        }
        PopShape::Multi => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
    let nested = matches!(shape, PopShape::Plain { nested: true } | PopShape::Multi);
    let (lo, hi) = if max { (z.len() - n, z.len()) } else { (0, n) };
    z.for_range(lo, hi, max, |m, s| {
        if nested {
            out.array(2);
        }
        out.bulk(m);
        reply_score(out, s);
    });
    z.remove_range(lo, hi);
}

fn zpop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool) {
    if args.len() > 3 {
        return ctx.out.error(err::SYNTAX);
    }
    let count = if args.len() == 3 {
        match crate::num::parse_i64_canonical(args.get(2)) {
            Some(c) if c >= 0 => Some(c as u64),
            _ => return ctx.out.error(NOT_POSITIVE),
        }
    } else {
        None
    };
    let nested = ctx.out.is_resp3() && count.is_some();
    let key = args.get(1);
    write(
        ctx,
        key,
        |ctx| ctx.out.array(0),
        |ctx, z| {
            let count = count.unwrap_or(1);
            if count == 0 {
                ctx.out.array(0);
                return Change::None;
            }
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            pop_into(&mut ctx.out, key, z, max, count, PopShape::Plain { nested });
            Change::Changed
        },
    );
}

/// `ZPOPMIN key [count]`
pub fn zpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) {
    zpop_generic(ctx, args, false);
}

/// `ZPOPMAX key [count]`
pub fn zpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) {
    zpop_generic(ctx, args, true);
}

/// Pops from the first non-empty sorted set of `keys` (all shards locked
/// at once): Redis' `genericZpopCommand` over several keys. Returns false
/// when none holds members (nothing written), after WRONGTYPE as true.
fn pop_first(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    keys: std::ops::Range<usize>,
    max: bool,
    count: usize,
    shape: PopShape,
    block: Option<Option<u64>>,
) {
    let shared = ctx.shared;
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let key_args = || args.iter_from(keys.start).take(keys.len());
    let (routes, shards) = route(shared, key_args());
    let mut locked = shared.keyspace.lock_shards(&shards);
    for (i, key) in key_args().enumerate() {
        let r = routes[i];
        let db = locked.shard(r.shard).db(dbi);
        let empty = match db.get(key, r.hash, now) {
            None => continue,
            Some(e) => match &mut e.value {
                Value::ZSet(z) => {
                    pop_into(&mut ctx.out, key, z, max, count, shape);
                    z.is_empty()
                }
                _ => return ctx.out.error(err::WRONGTYPE),
            },
        };
        if empty {
            db.remove(key, r.hash);
        } else {
            db.touch(key);
        }
        return;
    }
    match block {
        None => ctx.out.null_array(),
        Some(deadline) => {
            for (i, key) in key_args().enumerate() {
                let db = locked.shard(routes[i].shard).db(dbi);
                ctx.block_key(db, key, BlockKind::ZSet);
            }
            ctx.block(deadline, TimeoutReply::NullArray);
        }
    }
}

fn bzpop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool) {
    let last = args.len() - 1;
    let Some(deadline) = timeout_arg(&mut ctx.out, args.get(last), ctx.now_ms) else {
        return;
    };
    pop_first(ctx, args, 1..last, max, 1, PopShape::Keyed, Some(deadline));
}

/// `BZPOPMIN key [key ...] timeout`
pub fn bzpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) {
    bzpop_generic(ctx, args, false);
}

/// `BZPOPMAX key [key ...] timeout`
pub fn bzpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) {
    bzpop_generic(ctx, args, true);
}

/// `zmpopGenericCommand`: numkeys at `numkeys_idx`, then keys, `MIN|MAX`,
/// `[COUNT count]`; blocking with the timeout at 1 when `blocking`.
fn zmpop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, numkeys_idx: usize, blocking: bool) {
    let numkeys = match crate::num::parse_i64_canonical(args.get(numkeys_idx)) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.out.error("ERR numkeys should be greater than 0"),
    };
    let where_idx = (numkeys_idx as u64)
        .saturating_add(numkeys)
        .saturating_add(1);
    if where_idx >= args.len() as u64 {
        return ctx.out.error(err::SYNTAX);
    }
    let where_idx = where_idx as usize;
    let w = args.get(where_idx);
    let max = if w.eq_ignore_ascii_case(b"min") {
        false
    } else if w.eq_ignore_ascii_case(b"max") {
        true
    } else {
        return ctx.out.error(err::SYNTAX);
    };
    let mut count: Option<u64> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count.is_none() && args.get(j).eq_ignore_ascii_case(b"count") && more > 0 {
            j += 1;
            match crate::num::parse_i64_canonical(args.get(j)) {
                Some(c) if c >= 1 => count = Some(c as u64),
                _ => return ctx.out.error("ERR count should be greater than 0"),
            }
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        j += 1;
    }
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    let block = if blocking {
        match timeout_arg(&mut ctx.out, args.get(1), ctx.now_ms) {
            Some(d) => Some(d),
            None => return,
        }
    } else {
        None
    };
    pop_first(
        ctx,
        args,
        numkeys_idx + 1..where_idx,
        max,
        count,
        PopShape::Multi,
        block,
    );
}

/// `ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]`
pub fn zmpop(ctx: &mut Ctx<'_>, args: Args<'_>) {
    zmpop_generic(ctx, args, 1, false);
}

/// `BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]`
pub fn bzmpop(ctx: &mut Ctx<'_>, args: Args<'_>) {
    zmpop_generic(ctx, args, 2, true);
}

// ---------------------------------------------------------------------------
// Set operations

/// Which set operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

/// How scores of a member found in several sources combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis' `zunionInterAggregate`.
#[inline]
fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// `zunionInterDiffGenericCommand`: `dst` the destination's position for
/// the `STORE` forms, `numkeys_idx` the position of numkeys; `card` for
/// `ZINTERCARD`.
fn setop_generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    dst: Option<usize>,
    numkeys_idx: usize,
    op: SetOp,
    card: bool,
) {
    let Some(setnum) = int_arg(&mut ctx.out, args.get(numkeys_idx)) else {
        return;
    };
    if setnum < 1 {
        let name = args.get(0).to_ascii_lowercase();
        return ctx.out.error_parts(&[
            b"ERR at least 1 input key is needed for '",
            &name,
            b"' command",
        ]);
    }
    if setnum as u64 > (args.len() - numkeys_idx - 1) as u64 {
        return ctx.out.error(err::SYNTAX);
    }
    let setnum = setnum as usize;
    let first = numkeys_idx + 1;
    let key_args = || args.iter_from(first).take(setnum);

    // Type checks come before the options, as in Redis.
    let shared = ctx.shared;
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let dst_key = dst.map(|i| args.get(i));
    let (routes, shards) = route(shared, key_args().chain(dst_key));
    let mut locked = shared.keyspace.lock_shards(&shards);
    let mut cards: Vec<usize> = Vec::with_capacity(setnum);
    for (i, key) in key_args().enumerate() {
        let r = routes[i];
        let shard = locked.shard(r.shard);
        let found = match shard.db(dbi).get(key, r.hash, now) {
            None => None,
            Some(e) => match &e.value {
                Value::ZSet(z) => Some(z.len()),
                // Plain sets are sources whose members all score 1.
                Value::Set(s) => Some(s.len()),
                _ => return ctx.out.error(err::WRONGTYPE),
            },
        };
        // Sources are read lookups even for the STORE forms, as in Redis.
        if found.is_some() {
            shard.stats.hits += 1;
        } else {
            shard.stats.misses += 1;
        }
        cards.push(found.unwrap_or(0));
    }

    let mut weights: Vec<f64> = vec![1.0; setnum];
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: usize = 0;
    let mut j = first + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args.get(j);
        if op != SetOp::Diff && !card && remaining > setnum && a.eq_ignore_ascii_case(b"weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                match zset::parse_score(args.get(j + 1 + i)) {
                    Some(v) => *w = v,
                    None => return ctx.out.error("ERR weight value is not a float"),
                }
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff
            && !card
            && remaining >= 2
            && a.eq_ignore_ascii_case(b"aggregate")
        {
            let v = args.get(j + 1);
            how = if v.eq_ignore_ascii_case(b"sum") {
                Aggregate::Sum
            } else if v.eq_ignore_ascii_case(b"min") {
                Aggregate::Min
            } else if v.eq_ignore_ascii_case(b"max") {
                Aggregate::Max
            } else {
                return ctx.out.error(err::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card && a.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && a.eq_ignore_ascii_case(b"limit") {
            match crate::num::parse_i64_canonical(args.get(j + 1)) {
                Some(l) if l >= 0 => limit = usize::try_from(l).unwrap_or(usize::MAX),
                // getPositiveLongFromObjectOrReply gives its message for both.
                _ => return ctx.out.error("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
    }

    // Runs `f` on source `i` (nothing when absent).
    let mut with_src = |i: usize, f: &mut dyn FnMut(Source<'_>)| {
        let r = routes[i];
        if let Some(e) = locked
            .shard(r.shard)
            .db(dbi)
            .get(args.get(first + i), r.hash, now)
        {
            match &e.value {
                Value::ZSet(z) => f(Source::ZSet(z)),
                Value::Set(s) => f(Source::Set(s)),
                _ => {}
            }
        }
    };

    let mut acc: hashbrown::HashMap<Box<[u8]>, f64> = hashbrown::HashMap::new();
    match op {
        SetOp::Union => {
            for (i, &w) in weights.iter().enumerate() {
                with_src(i, &mut |z| {
                    acc.reserve(z.len());
                    z.for_each(|m, s| {
                        let mut v = w * s;
                        if v.is_nan() {
                            v = 0.0;
                        }
                        match acc.get_mut(m) {
                            Some(t) => aggregate(t, v, how),
                            None => {
                                acc.insert(m.into(), v);
                            }
                        }
                    });
                });
            }
        }
        SetOp::Inter => {
            let mut order: Vec<usize> = (0..setnum).collect();
            order.sort_by_key(|&i| cards[i]);
            if cards[order[0]] > 0 {
                let w0 = weights[order[0]];
                with_src(order[0], &mut |z| {
                    acc.reserve(z.len());
                    z.for_each(|m, s| {
                        let mut v = w0 * s;
                        if v.is_nan() {
                            v = 0.0;
                        }
                        acc.insert(m.into(), v);
                    });
                });
                for &i in &order[1..] {
                    let w = weights[i];
                    with_src(i, &mut |z| {
                        acc.retain(|m, t| match z.score(m) {
                            Some(s) => {
                                aggregate(t, w * s, how);
                                true
                            }
                            None => false,
                        });
                    });
                    if cards[i] == 0 {
                        acc.clear();
                    }
                }
            }
        }
        SetOp::Diff => {
            with_src(0, &mut |z| {
                acc.reserve(z.len());
                z.for_each(|m, s| {
                    acc.insert(m.into(), s);
                });
            });
            for i in 1..setnum {
                if acc.is_empty() {
                    break;
                }
                with_src(i, &mut |z| acc.retain(|m, _| z.score(m).is_none()));
            }
        }
    }

    if card {
        let n = if limit == 0 {
            acc.len()
        } else {
            acc.len().min(limit)
        };
        return ctx.out.int(n as i64);
    }
    let mut items: Vec<(Box<[u8]>, f64)> = acc.into_iter().collect();
    items.sort_unstable_by(|a, b| zset::cmp_key(a.1, &a.0, b.1, &b.0));
    match dst {
        Some(_) => {
            let lim = limits(ctx);
            let r = routes[setnum];
            let key = dst_key.unwrap_or_default();
            let db = locked.shard(r.shard).db(dbi);
            store_result(ctx, db, key, r.hash, now, items, lim);
        }
        None => {
            let emit = Emit { withscores };
            emit.header(&mut ctx.out, items.len());
            for (m, s) in &items {
                emit.item(&mut ctx.out, m, *s);
            }
        }
    }
}

/// A source of `ZUNION`/`ZINTER`/`ZDIFF`: a sorted set, or a set whose
/// members all score 1 (as Redis' `zuiInitIterator` reads sets).
#[derive(Clone, Copy)]
enum Source<'a> {
    ZSet(&'a ZSet),
    Set(&'a crate::types::Set),
}

impl Source<'_> {
    fn len(self) -> usize {
        match self {
            Source::ZSet(z) => z.len(),
            Source::Set(s) => s.len(),
        }
    }

    /// Calls `f` with every member and its score.
    fn for_each(self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Source::ZSet(z) => z.for_range(0, z.len(), false, f),
            Source::Set(s) => {
                for m in s.iter() {
                    m.with_bytes(|b| f(b, 1.0));
                }
            }
        }
    }

    fn score(self, member: &[u8]) -> Option<f64> {
        match self {
            Source::ZSet(z) => z.score(member),
            Source::Set(s) => s.contains(member).then_some(1.0),
        }
    }
}

/// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]`
pub fn zunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    setop_generic(ctx, args, Some(1), 2, SetOp::Union, false);
}

/// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]`
pub fn zinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    setop_generic(ctx, args, Some(1), 2, SetOp::Inter, false);
}

/// `ZDIFFSTORE destination numkeys key [key ...]`
pub fn zdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) {
    setop_generic(ctx, args, Some(1), 2, SetOp::Diff, false);
}

/// `ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]`
pub fn zunion(ctx: &mut Ctx<'_>, args: Args<'_>) {
    setop_generic(ctx, args, None, 1, SetOp::Union, false);
}

/// `ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]`
pub fn zinter(ctx: &mut Ctx<'_>, args: Args<'_>) {
    setop_generic(ctx, args, None, 1, SetOp::Inter, false);
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`
pub fn zdiff(ctx: &mut Ctx<'_>, args: Args<'_>) {
    setop_generic(ctx, args, None, 1, SetOp::Diff, false);
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`
pub fn zintercard(ctx: &mut Ctx<'_>, args: Args<'_>) {
    setop_generic(ctx, args, None, 1, SetOp::Inter, true);
}

// ---------------------------------------------------------------------------
// Random members and scanning

/// `ZRANDMEMBER key [count [WITHSCORES]]`
///
/// A negative count may repeat members; its magnitude is capped at
/// 4194304 ("ERR value is out of range" past it), where Redis would
/// write without bound.
pub fn zrandmember(ctx: &mut Ctx<'_>, args: Args<'_>) {
    if args.len() == 2 {
        return read(ctx, args.get(1), |ctx, z| match z {
            Some(z) if !z.is_empty() => match z.get(fastrand::usize(..z.len())) {
                Some((m, _)) => ctx.out.bulk(m),
                None => ctx.out.null(),
            },
            _ => ctx.out.null(),
        });
    }
    let Some(l) = int_arg(&mut ctx.out, args.get(2)) else {
        return;
    };
    if l == i64::MIN {
        return ctx.out.error(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        );
    }
    let withscores = if args.len() > 4 {
        return ctx.out.error(err::SYNTAX);
    } else if args.len() == 4 {
        if !args.get(3).eq_ignore_ascii_case(b"withscores") {
            return ctx.out.error(err::SYNTAX);
        }
        if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return ctx.out.error("ERR value is out of range");
        }
        true
    } else {
        false
    };
    if l < 0 && l.unsigned_abs() > RANDMEMBER_MAX {
        return ctx.out.error("ERR value is out of range");
    }
    let emit = Emit { withscores };
    read(ctx, args.get(1), |ctx, z| {
        let Some(z) = z.filter(|_| l != 0) else {
            return ctx.out.array(0);
        };
        let len = z.len();
        let item = |out: &mut Reply<'_>, r: usize| {
            if let Some((m, s)) = z.get(r) {
                emit.item(out, m, s);
            }
        };
        if l < 0 || l == 1 {
            let n = l.unsigned_abs() as usize;
            emit.header(&mut ctx.out, n);
            for _ in 0..n {
                item(&mut ctx.out, fastrand::usize(..len));
            }
            return;
        }
        let n = l as u64;
        if n >= len as u64 {
            emit.header(&mut ctx.out, len);
            z.for_range(0, len, false, |m, s| emit.item(&mut ctx.out, m, s));
            return;
        }
        // Distinct ranks: a partial Fisher-Yates shuffle.
        let n = n as usize;
        let mut ranks: Vec<usize> = (0..len).collect();
        emit.header(&mut ctx.out, n);
        for i in 0..n {
            let j = fastrand::usize(i..len);
            ranks.swap(i, j);
            item(&mut ctx.out, ranks[i]);
        }
    });
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`
///
/// A compact set comes whole in one reply with cursor 0, as in Redis; a
/// large one is walked by node slot (see [`ZSet::scan`]). Scores are bulk
/// strings in both protocols, as Redis sends them.
pub fn zscan(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(cursor) = crate::num::parse_cursor(args.get(2)) else {
        return ctx.out.error("ERR invalid cursor");
    };
    read(ctx, args.get(1), |ctx, z| {
        let Some(z) = z else {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            return ctx.out.array(0);
        };
        // Options are read only once the key is found, as in Redis.
        let Some(opts) = super::scan_opts(&mut ctx.out, args, 3) else {
            return;
        };
        let mut found: Vec<(&[u8], f64)> = Vec::new();
        let next = z.scan(cursor, opts.count, |m, s| {
            if opts
                .pattern
                .is_none_or(|p| crate::glob::matches(p, m, false))
            {
                found.push((m, s));
            }
        });
        ctx.out.array(2);
        ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
        ctx.out.array(2 * found.len());
        for (m, s) in found {
            ctx.out.bulk(m);
            bulk_score(&mut ctx.out, s);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_ranges_clamp_as_redis() {
        assert_eq!(rank_range(0, -1, 3), Some((0, 3)));
        assert_eq!(rank_range(-100, 100, 3), Some((0, 3)));
        assert_eq!(rank_range(2, 1, 3), None);
        assert_eq!(rank_range(3, 5, 3), None);
        assert_eq!(rank_range(i64::MIN, i64::MAX, 3), Some((0, 3)));
        assert_eq!(rank_range(0, -1, 0), None);
    }

    #[test]
    fn limits_follow_redis_loops() {
        assert_eq!(limit_ranks(2, 8, false, 1, 2), (3, 5));
        assert_eq!(limit_ranks(2, 8, true, 1, 2), (5, 7));
        assert_eq!(limit_ranks(2, 8, false, 0, -1), (2, 8));
        assert_eq!(limit_ranks(2, 8, false, -1, 5), (2, 2));
        assert_eq!(limit_ranks(2, 8, false, 100, 5), (8, 8));
        assert_eq!(limit_ranks(2, 8, true, 4, 100), (2, 4));
    }

    #[test]
    fn score_bounds_are_strtod() {
        assert_eq!(score_bound(b"(1.5").map(|b| b.0), Some(1.5));
        assert_eq!(score_bound(b"").map(|b| b.0), Some(0.0));
        assert_eq!(score_bound(b"( 1").map(|b| b.0), Some(1.0));
        assert_eq!(score_bound(b"1\0junk").map(|b| b.0), Some(1.0));
        assert!(score_bound(b"nan").is_none());
        assert!(score_bound(b"1x").is_none());
        assert_eq!(score_bound(b"1e400").map(|b| b.0), Some(f64::INFINITY));
    }
}
