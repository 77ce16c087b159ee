//! List commands (Redis' `list` group), blocking ones included
//! (<https://redis.io/docs/latest/commands/?group=list>).
//!
//! Replies, argument order and error texts follow Redis 7.0's `t_list.c`:
//! arguments are checked in the order Redis checks them (so a bad index of
//! `LINDEX` on a missing key is a nil, not an error), a missing key is an
//! empty list, and a list emptied by a command is deleted. The read
//! commands `LLEN`, `LRANGE`, `LINDEX` and `LPOS` count keyspace hits and
//! misses (Redis' `lookupKeyRead`); the others do not.
//!
//! The blocking commands (`BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`,
//! `BLMPOP`) serve at once when a key holds a list; otherwise they register
//! the client on every key, under the same shard locks as the check, and
//! block (see [`crate::blocking`]): the command runs again when a key
//! becomes ready. Commands with several keys lock all their shards at once
//! ([`super::route`]), so `LMOVE` across shards is atomic.

use super::flags::*;
use super::{command, err, int_arg, route, timeout_arg, wrong_arity, Args, Command, Ctx};
use crate::blocking::{BlockKind, TimeoutReply};
use crate::keyspace::{Db, Ttl, Value};
use crate::reply::Reply;
use crate::types::list::{End, Item, List};

/// The list commands, with arity, flags and key positions as Redis 7.0's
/// `COMMAND INFO` reports them (summaries from the current command docs).
#[rustfmt::skip]
pub(crate) const COMMANDS: &[Command] = &[
    command("lpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "list", "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", lpush),
    command("rpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "list", "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.", rpush),
    command("lpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "list", "2.2.0", "Prepends one or more elements to a list only when the list exists.", lpushx),
    command("rpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "list", "2.2.0", "Appends an element to a list only when the list exists.", rpushx),
    command("lpop", -2, WRITE | FAST, (1, 1, 1), "list", "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", lpop),
    command("rpop", -2, WRITE | FAST, (1, 1, 1), "list", "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", rpop),
    command("llen", 2, READONLY | FAST, (1, 1, 1), "list", "1.0.0", "Returns the length of a list.", llen),
    command("lrange", 4, READONLY, (1, 1, 1), "list", "1.0.0", "Returns a range of elements from a list.", lrange),
    command("lindex", 3, READONLY, (1, 1, 1), "list", "1.0.0", "Returns an element from a list by its index.", lindex),
    command("lset", 4, WRITE | DENYOOM, (1, 1, 1), "list", "1.0.0", "Sets the value of an element in a list by its index.", lset),
    command("linsert", 5, WRITE | DENYOOM, (1, 1, 1), "list", "2.2.0", "Inserts an element before or after another element in a list.", linsert),
    command("lrem", 4, WRITE, (1, 1, 1), "list", "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.", lrem),
    command("ltrim", 4, WRITE, (1, 1, 1), "list", "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", ltrim),
    command("lpos", -3, READONLY, (1, 1, 1), "list", "6.0.6", "Returns the index of matching elements in a list.", lpos),
    command("lmove", 5, WRITE | DENYOOM, (1, 2, 1), "list", "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", lmove),
    command("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), "list", "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", rpoplpush),
    command("lmpop", -4, WRITE | MOVABLE_KEYS, (0, 0, 0), "list", "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", lmpop),
    command("blpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), "list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blpop),
    command("brpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), "list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", brpop),
    command("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, (1, 2, 1), "list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", blmove),
    command("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, (1, 2, 1), "list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", brpoplpush),
    command("blmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, (0, 0, 0), "list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blmpop),
];

/// `LPOP`/`RPOP` count that is negative or not an integer.
const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
/// `LSET` index past the ends.
const INDEX_RANGE: &str = "ERR index out of range";
/// `LPOS ... RANK 0`.
const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
/// `LMPOP`/`BLMPOP` numkeys below 1 or not an integer.
const NUMKEYS: &str = "ERR numkeys should be greater than 0";
/// `LMPOP`/`BLMPOP` `COUNT` below 1 or not an integer.
const COUNT_POSITIVE: &str = "ERR count should be greater than 0";

/// Writes one element as a bulk string.
#[inline]
fn reply_item(out: &mut Reply<'_>, item: Item<'_>) {
    match item {
        Item::Int(n) => out.bulk_int(n),
        Item::Bytes(b) => out.bulk(b),
    }
}

/// `LEFT` or `RIGHT`, case-insensitively.
fn parse_end(arg: &[u8]) -> Option<End> {
    if arg.eq_ignore_ascii_case(b"left") {
        Some(End::Front)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Some(End::Back)
    } else {
        None
    }
}

/// `list-max-listpack-size` for a list created now.
#[inline]
fn fill(ctx: &Ctx<'_>) -> i64 {
    ctx.shared.config.encodings().list_max_listpack_size
}

/// After elements were removed from the list at `key`: deletes the key if
/// the list is now empty, else marks it modified.
#[inline]
fn removed_from(db: &mut Db, key: &[u8], hash: u64, empty: bool) {
    if empty {
        db.remove(key, hash);
    } else {
        db.touch(key);
    }
}

/// `LPUSH key element [element ...]`
pub fn lpush(ctx: &mut Ctx<'_>, args: Args<'_>) {
    push(ctx, args, End::Front, false);
}

/// `RPUSH key element [element ...]`
pub fn rpush(ctx: &mut Ctx<'_>, args: Args<'_>) {
    push(ctx, args, End::Back, false);
}

/// `LPUSHX key element [element ...]`
pub fn lpushx(ctx: &mut Ctx<'_>, args: Args<'_>) {
    push(ctx, args, End::Front, true);
}

/// `RPUSHX key element [element ...]`
pub fn rpushx(ctx: &mut Ctx<'_>, args: Args<'_>) {
    push(ctx, args, End::Back, true);
}

/// The pushes: to an existing list, or (unless `only_existing`) to a new
/// one, stored once it holds the elements (which wakes a waiter).
fn push(ctx: &mut Ctx<'_>, args: Args<'_>, end: End, only_existing: bool) {
    let key = args.get(1);
    let fill = fill(ctx);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    match db.get(key, hash, ctx.now_ms) {
        Some(e) => {
            let Value::List(list) = &mut e.value else {
                return ctx.out.error(err::WRONGTYPE);
            };
            for v in args.iter_from(2) {
                list.push(end, v);
            }
            let len = list.len();
            db.touch(key);
            ctx.out.int(len as i64);
        }
        None if only_existing => ctx.out.int(0),
        None => {
            let mut list = List::new(fill);
            for v in args.iter_from(2) {
                list.push(end, v);
            }
            let len = list.len();
            db.insert_new(key, hash, Value::List(Box::new(list)), Ttl::Persist);
            ctx.out.int(len as i64);
        }
    }
}

/// `LPOP key [count]`
pub fn lpop(ctx: &mut Ctx<'_>, args: Args<'_>) {
    pop(ctx, args, End::Front);
}

/// `RPOP key [count]`
pub fn rpop(ctx: &mut Ctx<'_>, args: Args<'_>) {
    pop(ctx, args, End::Back);
}

/// `LPOP`/`RPOP`: one element as a bulk (nil for a missing key), or with
/// a count an array of up to `count` (a nil array for a missing key).
fn pop(ctx: &mut Ctx<'_>, args: Args<'_>, end: End) {
    if args.len() > 3 {
        return wrong_arity(&mut ctx.out, args.get(0));
    }
    let count = if args.len() == 3 {
        match crate::num::parse_i64_canonical(args.get(2)).filter(|&n| n >= 0) {
            Some(n) => Some(n as u64),
            None => return ctx.out.error(NOT_POSITIVE),
        }
    } else {
        None
    };
    let key = args.get(1);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let Some(e) = db.get(key, hash, ctx.now_ms) else {
        return match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        };
    };
    let Value::List(list) = &mut e.value else {
        return ctx.out.error(err::WRONGTYPE);
    };
    let out = &mut ctx.out;
    match count {
        None => {
            list.pop_with(end, |item| reply_item(out, item));
        }
        Some(0) => return out.array(0),
        Some(count) => {
            let n = (count as usize).min(list.len());
            out.array(n);
            for _ in 0..n {
                list.pop_with(end, |item| reply_item(out, item));
            }
        }
    }
    let empty = list.is_empty();
    removed_from(db, key, hash, empty);
}

/// Runs `f` on the list at `key` for a read command, counting a keyspace
/// hit or miss as Redis' `lookupKeyRead`: `missing` writes the reply for
/// no key, a value of another type is WRONGTYPE.
fn read_list(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    missing: impl FnOnce(&mut Reply<'_>),
    f: impl FnOnce(&mut Reply<'_>, &List),
) {
    let shared = ctx.shared;
    let (hash, mut shard) = shared.keyspace.lock_key(key);
    let hit = match shard.db(ctx.client.db).get(key, hash, ctx.now_ms) {
        None => {
            missing(&mut ctx.out);
            false
        }
        Some(e) => {
            match &e.value {
                Value::List(list) => f(&mut ctx.out, list),
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

/// `LLEN key`
pub fn llen(ctx: &mut Ctx<'_>, args: Args<'_>) {
    read_list(
        ctx,
        args.get(1),
        |out| out.int(0),
        |out, list| out.int(list.len() as i64),
    );
}

/// Redis' range of `start` to `end` (inclusive, negative from the tail)
/// in a list of `len`: (first index, number of elements), or None if empty.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    Some((start as usize, (end - start + 1) as usize))
}

/// `LRANGE key start stop`
pub fn lrange(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(start) = int_arg(&mut ctx.out, args.get(2)) else {
        return;
    };
    let Some(end) = int_arg(&mut ctx.out, args.get(3)) else {
        return;
    };
    let range = |out: &mut Reply<'_>, list: &List| match clamp_range(start, end, list.len()) {
        None => out.array(0),
        Some((first, n)) => {
            out.array(n);
            for item in list.iter_from(first).take(n) {
                reply_item(out, item);
            }
        }
    };
    read_list(ctx, args.get(1), |out| out.array(0), range);
}

/// An index argument counted from the tail when negative, as a position
/// in a list of `len`: None when it falls outside.
fn index_in(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        (len as i64).checked_add(index)?
    } else {
        index
    };
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// `LINDEX key index`
pub fn lindex(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let arg = args.get(2);
    let at = |out: &mut Reply<'_>, list: &List| {
        let Some(index) = int_arg(out, arg) else {
            return;
        };
        match index_in(index, list.len()).and_then(|i| list.get(i)) {
            Some(item) => reply_item(out, item),
            None => out.null(),
        }
    };
    read_list(ctx, args.get(1), |out| out.null(), at);
}

/// `LSET key index element`
pub fn lset(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let Some(e) = db.get(key, hash, ctx.now_ms) else {
        return ctx.out.error(err::NO_SUCH_KEY);
    };
    let Value::List(list) = &mut e.value else {
        return ctx.out.error(err::WRONGTYPE);
    };
    let Some(index) = int_arg(&mut ctx.out, args.get(2)) else {
        return;
    };
    match index_in(index, list.len()) {
        Some(i) => {
            list.set(i, args.get(3));
            db.touch(key);
            ctx.out.ok();
        }
        None => ctx.out.error(INDEX_RANGE),
    }
}

/// `LINSERT key <BEFORE | AFTER> pivot element`: the new length, 0 for a
/// missing key, -1 when the pivot is not found.
pub fn linsert(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let place = args.get(2);
    let after = if place.eq_ignore_ascii_case(b"after") {
        true
    } else if place.eq_ignore_ascii_case(b"before") {
        false
    } else {
        return ctx.out.error(err::SYNTAX);
    };
    let key = args.get(1);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let Some(e) = db.get(key, hash, ctx.now_ms) else {
        return ctx.out.int(0);
    };
    let Value::List(list) = &mut e.value else {
        return ctx.out.error(err::WRONGTYPE);
    };
    let pivot = Item::from_bytes(args.get(3));
    let Some(at) = list.iter().position(|item| item == pivot) else {
        return ctx.out.int(-1);
    };
    list.insert(at + usize::from(after), args.get(4));
    let len = list.len();
    db.touch(key);
    ctx.out.int(len as i64);
}

/// `LREM key count element`: removes up to `count` matches from the head
/// (from the tail when negative, all when 0); the number removed.
pub fn lrem(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(count) = int_arg(&mut ctx.out, args.get(2)) else {
        return;
    };
    let key = args.get(1);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let Some(e) = db.get(key, hash, ctx.now_ms) else {
        return ctx.out.int(0);
    };
    let Value::List(list) = &mut e.value else {
        return ctx.out.error(err::WRONGTYPE);
    };
    let from = if count < 0 { End::Back } else { End::Front };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = list.remove_matching(args.get(3), limit, from);
    let empty = list.is_empty();
    if removed > 0 {
        removed_from(db, key, hash, empty);
    }
    ctx.out.int(removed as i64);
}

/// `LTRIM key start stop`
pub fn ltrim(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(start) = int_arg(&mut ctx.out, args.get(2)) else {
        return;
    };
    let Some(end) = int_arg(&mut ctx.out, args.get(3)) else {
        return;
    };
    let key = args.get(1);
    let (hash, mut shard) = ctx.shared.keyspace.lock_key(key);
    let db = shard.db(ctx.client.db);
    let Some(e) = db.get(key, hash, ctx.now_ms) else {
        return ctx.out.ok();
    };
    let Value::List(list) = &mut e.value else {
        return ctx.out.error(err::WRONGTYPE);
    };
    let len = list.len();
    let (first, n) = clamp_range(start, end, len).unwrap_or((len, 0));
    list.drop_n(End::Front, first);
    list.drop_n(End::Back, len - first - n);
    // As Redis, the key counts as modified even when nothing was trimmed.
    let empty = list.is_empty();
    removed_from(db, key, hash, empty);
    ctx.out.ok();
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
pub fn lpos(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<i64>, 0i64);
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        let has_value = i + 1 < args.len();
        if opt.eq_ignore_ascii_case(b"rank") && has_value {
            let Some(r) = int_arg(&mut ctx.out, args.get(i + 1)) else {
                return;
            };
            if r == 0 {
                return ctx.out.error(RANK_ZERO);
            }
            rank = r;
        } else if opt.eq_ignore_ascii_case(b"count") && has_value {
            match crate::num::parse_i64_canonical(args.get(i + 1)).filter(|&n| n >= 0) {
                Some(n) => count = Some(n),
                None => return ctx.out.error("ERR COUNT can't be negative"),
            }
        } else if opt.eq_ignore_ascii_case(b"maxlen") && has_value {
            match crate::num::parse_i64_canonical(args.get(i + 1)).filter(|&n| n >= 0) {
                Some(n) => maxlen = n,
                None => return ctx.out.error("ERR MAXLEN can't be negative"),
            }
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        i += 2;
    }
    let missing = |out: &mut Reply<'_>| match count {
        Some(_) => out.array(0),
        None => out.null(),
    };
    let target = Item::from_bytes(args.get(2));
    read_list(ctx, args.get(1), missing, |out, list| {
        positions(out, list, target, rank, count, maxlen)
    });
}

/// `LPOS`'s search and reply, options parsed (`count` None: no `COUNT`).
fn positions(
    out: &mut Reply<'_>,
    list: &List,
    target: Item<'_>,
    rank: i64,
    count: Option<i64>,
    maxlen: i64,
) {
    // Redis negates the rank in C `long` arithmetic: RANK
    // -9223372036854775808 stays negative (every match qualifies, and with
    // COUNT the early stop never triggers); wrapping ops reproduce it.
    let from_tail = rank < 0;
    let rank = if from_tail { rank.wrapping_neg() } else { rank };
    let len = list.len();
    let mut forward;
    let mut backward;
    let items: &mut dyn Iterator<Item = Item<'_>> = if from_tail {
        backward = list.iter_rev_from(len.wrapping_sub(1));
        &mut backward
    } else {
        forward = list.iter();
        &mut forward
    };
    let mut found: Vec<i64> = Vec::new();
    let mut matches = 0i64;
    for (index, item) in items.enumerate() {
        if maxlen != 0 && index as i64 >= maxlen {
            break;
        }
        if item != target {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        let pos = if from_tail { len - index - 1 } else { index } as i64;
        found.push(pos);
        match count {
            None => break,
            Some(c) if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c => break,
            _ => {}
        }
    }
    match count {
        None => match found.first() {
            Some(&pos) => out.int(pos),
            None => out.null(),
        },
        Some(_) => {
            out.array(found.len());
            for pos in found {
                out.int(pos);
            }
        }
    }
}

/// `LMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT>`
pub fn lmove(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (Some(from), Some(to)) = (parse_end(args.get(3)), parse_end(args.get(4))) else {
        return ctx.out.error(err::SYNTAX);
    };
    move_element(ctx, args.get(1), args.get(2), from, to, None);
}

/// `RPOPLPUSH source destination`
pub fn rpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) {
    move_element(ctx, args.get(1), args.get(2), End::Back, End::Front, None);
}

/// `BLMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout`
pub fn blmove(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (Some(from), Some(to)) = (parse_end(args.get(3)), parse_end(args.get(4))) else {
        return ctx.out.error(err::SYNTAX);
    };
    let Some(deadline) = timeout_arg(&mut ctx.out, args.get(5), ctx.now_ms) else {
        return;
    };
    move_element(ctx, args.get(1), args.get(2), from, to, Some(deadline));
}

/// `BRPOPLPUSH source destination timeout`
pub fn brpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(deadline) = timeout_arg(&mut ctx.out, args.get(3), ctx.now_ms) else {
        return;
    };
    move_element(
        ctx,
        args.get(1),
        args.get(2),
        End::Back,
        End::Front,
        Some(deadline),
    );
}

/// Moves one element from `from` of `src` to `to` of `dst` and replies
/// with it, both keys' shards locked together. A missing source is a nil,
/// or with `block` (the deadline of a blocking command) a wait on it.
fn move_element(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    block: Option<Option<u64>>,
) {
    let shared = ctx.shared;
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let (routes, shards) = route(shared, [src, dst].into_iter());
    let (rs, rd) = (routes[0], routes[1]);
    let mut locked = shared.keyspace.lock_shards(&shards);

    let sdb = locked.shard(rs.shard).db(dbi);
    let Some(e) = sdb.get(src, rs.hash, now) else {
        match block {
            // Redis 7.0 answers a timed-out (or `CLIENT UNBLOCK`ed) `BLMOVE`
            // with a nil array, but a `BLMOVE` that cannot block (in
            // `EXEC`) with a nil bulk.
            Some(deadline) if !ctx.client.in_exec => {
                ctx.block_key(sdb, src, BlockKind::List);
                ctx.block(deadline, TimeoutReply::NullArray);
            }
            _ => ctx.out.null(),
        }
        return;
    };
    let Value::List(list) = &mut e.value else {
        return ctx.out.error(err::WRONGTYPE);
    };
    if src == dst {
        // A rotation (or a no-op for LEFT LEFT): the list never empties.
        if let Some(item) = list.pop(from) {
            list.push_item(to, item.as_item());
            reply_item(&mut ctx.out, item.as_item());
        }
        sdb.touch(src);
        return;
    }
    let ddb = locked.shard(rd.shard).db(dbi);
    if ddb
        .get(dst, rd.hash, now)
        .is_some_and(|d| !matches!(d.value, Value::List(_)))
    {
        return ctx.out.error(err::WRONGTYPE);
    }
    let sdb = locked.shard(rs.shard).db(dbi);
    let Some(Value::List(list)) = sdb.get(src, rs.hash, now).map(|e| &mut e.value) else {
        return ctx.out.null();
    };
    let Some(item) = list.pop(from) else {
        return ctx.out.null();
    };
    let empty = list.is_empty();
    removed_from(sdb, src, rs.hash, empty);
    let ddb = locked.shard(rd.shard).db(dbi);
    match ddb.get(dst, rd.hash, now).map(|e| &mut e.value) {
        Some(Value::List(list)) => {
            list.push_item(to, item.as_item());
            ddb.touch(dst);
        }
        _ => {
            let mut list = List::new(fill(ctx));
            list.push_item(to, item.as_item());
            ddb.insert_new(dst, rd.hash, Value::List(Box::new(list)), Ttl::Persist);
        }
    }
    reply_item(&mut ctx.out, item.as_item());
}

/// `BLPOP key [key ...] timeout`
pub fn blpop(ctx: &mut Ctx<'_>, args: Args<'_>) {
    blocking_pop(ctx, args, End::Front);
}

/// `BRPOP key [key ...] timeout`
pub fn brpop(ctx: &mut Ctx<'_>, args: Args<'_>) {
    blocking_pop(ctx, args, End::Back);
}

/// `BLPOP`/`BRPOP`: `[key, element]` from the first key holding a list,
/// else a wait on all of them.
fn blocking_pop(ctx: &mut Ctx<'_>, args: Args<'_>, end: End) {
    let last = args.len() - 1;
    let Some(deadline) = timeout_arg(&mut ctx.out, args.get(last), ctx.now_ms) else {
        return;
    };
    let keys = args.shift(1);
    pop_first(ctx, keys, last - 1, end, 1, Some(deadline), false);
}

/// `LMPOP numkeys key [key ...] <LEFT | RIGHT> [COUNT count]`
pub fn lmpop(ctx: &mut Ctx<'_>, args: Args<'_>) {
    mpop(ctx, args, 1, false);
}

/// `BLMPOP timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]`
pub fn blmpop(ctx: &mut Ctx<'_>, args: Args<'_>) {
    mpop(ctx, args, 2, true);
}

/// `LMPOP`/`BLMPOP` from the numkeys argument at `numkeys_at` on, in
/// Redis' order of checks: numkeys, direction, options, then the timeout.
fn mpop(ctx: &mut Ctx<'_>, args: Args<'_>, numkeys_at: usize, blocking: bool) {
    let numkeys = match crate::num::parse_i64_canonical(args.get(numkeys_at)) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.out.error(NUMKEYS),
    };
    let end_at = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(numkeys_at + 1))
        .filter(|&i| i < args.len());
    let Some(end_at) = end_at else {
        return ctx.out.error(err::SYNTAX);
    };
    let Some(end) = parse_end(args.get(end_at)) else {
        return ctx.out.error(err::SYNTAX);
    };
    let mut count = None;
    let mut i = end_at + 1;
    while i < args.len() {
        if count.is_none() && args.get(i).eq_ignore_ascii_case(b"count") && i + 1 < args.len() {
            match crate::num::parse_i64_canonical(args.get(i + 1)) {
                Some(n) if n >= 1 => count = Some(n as u64),
                _ => return ctx.out.error(COUNT_POSITIVE),
            }
            i += 2;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
    }
    let deadline = if blocking {
        match timeout_arg(&mut ctx.out, args.get(1), ctx.now_ms) {
            Some(d) => Some(d),
            None => return,
        }
    } else {
        None
    };
    let keys = args.shift(numkeys_at + 1);
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    pop_first(
        ctx,
        keys,
        end_at - numkeys_at - 1,
        end,
        count,
        deadline,
        true,
    );
}

/// Pops from the first of the keys `keys.get(0..n)` holding a list: one
/// element as `[key, element]`, or with `multi` up to `count` as `[key,
/// [element ...]]`. When none does: with `block` (a deadline) a wait on all
/// of them, else a nil array. A key of another type is WRONGTYPE.
fn pop_first(
    ctx: &mut Ctx<'_>,
    keys: Args<'_>,
    n: usize,
    end: End,
    count: usize,
    block: Option<Option<u64>>,
    multi: bool,
) {
    let shared = ctx.shared;
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let (routes, shards) = route(shared, keys.iter_from(0).take(n));
    let mut locked = shared.keyspace.lock_shards(&shards);
    for (i, r) in routes.iter().enumerate() {
        let key = keys.get(i);
        let db = locked.shard(r.shard).db(dbi);
        let Some(e) = db.get(key, r.hash, now) else {
            continue;
        };
        let Value::List(list) = &mut e.value else {
            return ctx.out.error(err::WRONGTYPE);
        };
        let out = &mut ctx.out;
        out.array(2);
        out.bulk(key);
        if multi {
            let n = count.min(list.len());
            out.array(n);
            for _ in 0..n {
                list.pop_with(end, |item| reply_item(out, item));
            }
        } else {
            list.pop_with(end, |item| reply_item(out, item));
        }
        let empty = list.is_empty();
        return removed_from(db, key, r.hash, empty);
    }
    match block {
        Some(deadline) => {
            for (i, r) in routes.iter().enumerate() {
                ctx.block_key(locked.shard(r.shard).db(dbi), keys.get(i), BlockKind::List);
            }
            ctx.block(deadline, TimeoutReply::NullArray);
        }
        None => ctx.out.null_array(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 5)));
        assert_eq!(clamp_range(-100, 100, 5), Some((0, 5)));
        assert_eq!(clamp_range(2, 1, 5), None);
        assert_eq!(clamp_range(5, 10, 5), None);
        assert_eq!(clamp_range(-2, -1, 5), Some((3, 2)));
        assert_eq!(clamp_range(0, -6, 5), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 3), Some((0, 3)));
        assert_eq!(clamp_range(0, 0, 0), None);
        assert_eq!(index_in(-1, 3), Some(2));
        assert_eq!(index_in(-4, 3), None);
        assert_eq!(index_in(3, 3), None);
        assert_eq!(index_in(i64::MIN, 3), None);
    }
}
