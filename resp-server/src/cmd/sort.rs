//! `SORT` and `SORT_RO` (Redis' `generic` group): sort a list, set or
//! sorted set, numerically or by bytes, by its elements or by external keys
//! (`BY weight_*`, `BY obj_*->field`), fetch other keys per element (`GET`),
//! page (`LIMIT`), and store the result as a list (`STORE`).
//!
//! Follows Redis 7.0's `sortCommandGeneric`: `BY` a pattern without `*`
//! means "don't sort" (lists and sorted sets keep their order, a set is
//! sorted by bytes when stored); numeric ties are broken by comparing the
//! elements' bytes; a missing `BY` key sorts as 0 (numeric) or first
//! (`ALPHA`); `GET #` is the element itself, a missing `GET` key is nil
//! (an empty string when stored). Bytes compare as C's `strcoll` in the C
//! locale does (Redis' default).
//!
//! Patterns reach arbitrary keys, so a `SORT` with `BY` or `GET` patterns
//! locks every shard (atomic like any command); without them it locks the
//! shards of the key and the `STORE` destination only. Both commands have
//! movable keys.

use std::cmp::Ordering;

use super::flags::*;
use super::{command, err, route, Args, Command, Ctx};
use crate::keyspace::{Locked, Ttl, Value};
use crate::types::list::{End, List};

/// The commands of this module.
#[rustfmt::skip]
pub const COMMANDS: &[Command] = &[
    command("sort", -2, WRITE | DENYOOM | MOVABLE_KEYS, (1, 1, 1), "generic", "1.0.0", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.", sort),
    command("sort_ro", -2, READONLY | MOVABLE_KEYS, (1, 1, 1), "generic", "7.0.0", "Returns the sorted elements of a list, a set, or a sorted set.", sort_ro),
];

/// `SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern
/// ...]] [ASC | DESC] [ALPHA] [STORE destination]`
pub fn sort(ctx: &mut Ctx<'_>, args: Args<'_>) {
    sort_generic(ctx, args, false);
}

/// `SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern
/// ...]] [ASC | DESC] [ALPHA]`
pub fn sort_ro(ctx: &mut Ctx<'_>, args: Args<'_>) {
    sort_generic(ctx, args, true);
}

/// Parsed options.
#[derive(Default)]
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    by: Option<&'a [u8]>,
    dont_sort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

fn parse<'a>(ctx: &mut Ctx<'_>, args: Args<'a>, readonly: bool) -> Option<Options<'a>> {
    let mut o = Options::default();
    let mut j = 2;
    while j < args.len() {
        let a = args.get(j);
        let left = args.len() - j - 1;
        if a.eq_ignore_ascii_case(b"asc") {
            o.desc = false;
        } else if a.eq_ignore_ascii_case(b"desc") {
            o.desc = true;
        } else if a.eq_ignore_ascii_case(b"alpha") {
            o.alpha = true;
        } else if a.eq_ignore_ascii_case(b"limit") && left >= 2 {
            let start = super::int_arg(&mut ctx.out, args.get(j + 1))?;
            let count = super::int_arg(&mut ctx.out, args.get(j + 2))?;
            o.limit = Some((start, count));
            j += 2;
        } else if !readonly && a.eq_ignore_ascii_case(b"store") && left >= 1 {
            o.store = Some(args.get(j + 1));
            j += 1;
        } else if a.eq_ignore_ascii_case(b"by") && left >= 1 {
            let p = args.get(j + 1);
            o.dont_sort = !p.contains(&b'*');
            o.by = Some(p);
            j += 1;
        } else if a.eq_ignore_ascii_case(b"get") && left >= 1 {
            o.gets.push(args.get(j + 1));
            j += 1;
        } else {
            ctx.out.error(err::SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(o)
}

/// One element to sort, with what it sorts by.
struct Item {
    elem: Vec<u8>,
    score: f64,
    /// `ALPHA` with `BY`: the `BY` key's value (None: missing).
    cmp: Option<Vec<u8>>,
}

/// Whether a pattern looks other keys up (`GET #` does not).
fn is_lookup(pattern: &[u8]) -> bool {
    pattern != b"#" && pattern.contains(&b'*')
}

fn sort_generic(ctx: &mut Ctx<'_>, args: Args<'_>, readonly: bool) {
    let Some(mut o) = parse(ctx, args, readonly) else {
        return;
    };
    let key = args.get(1);
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let shared = ctx.shared;
    let ks = &shared.keyspace;
    let patterns = o.by.is_some_and(|p| p.contains(&b'*')) || o.gets.iter().any(|g| is_lookup(g));
    let keys = std::iter::once(key).chain(o.store);
    let (routes, shards) = route(shared, keys);
    let mut locked = if patterns {
        ks.lock_all()
    } else {
        ks.lock_shards(&shards)
    };
    let src = routes[0];

    // The elements, in the source's own order.
    let mut items: Vec<Item> = Vec::new();
    let kind = {
        let shard = locked.shard(src.shard);
        let found = shard.db(dbi).contains(key, src.hash, now);
        if found {
            shard.stats.hits += 1;
        } else {
            shard.stats.misses += 1;
        }
        match shard.db(dbi).get(key, src.hash, now).map(|e| &e.value) {
            None => Kind::List,
            Some(Value::List(l)) => {
                items.extend(l.iter().map(|it| {
                    let mut b = Vec::new();
                    it.write_to(&mut b);
                    item(b)
                }));
                Kind::List
            }
            Some(Value::ZSet(z)) => {
                z.for_range(0, z.len(), false, |m, _| items.push(item(m.to_vec())));
                Kind::ZSet
            }
            Some(Value::Set(s)) => {
                items.extend(s.iter().map(|m| item(m.with_bytes(<[u8]>::to_vec))));
                Kind::Set
            }
            Some(_) => {
                drop(locked);
                return ctx.out.error(err::WRONGTYPE);
            }
        }
    };
    if o.dont_sort && kind == Kind::Set && o.store.is_some() {
        // A set has no order of its own: stored results are sorted by bytes
        // so they are the same everywhere (Redis does this for replication).
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }

    // LIMIT, clamped as Redis clamps it.
    let len = items.len() as i64;
    let (mut start, mut end) = match o.limit {
        Some((s, c)) => {
            let s = s.max(0);
            let e = if c < 0 {
                len - 1
            } else {
                s.saturating_add(c - 1)
            };
            (s, e)
        }
        None => (0, len - 1),
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);

    if o.dont_sort {
        // Native order (lists, sorted sets; sets in their iteration order),
        // reversed by DESC.
        if o.desc && kind != Kind::Set {
            items.reverse();
        }
    } else {
        let mut conversion_error = false;
        for it in &mut items {
            let by_value = match o.by {
                Some(p) => lookup(&mut locked, ctx, p, &it.elem, dbi, now),
                None => Some(it.elem.clone()),
            };
            let Some(v) = by_value else {
                continue;
            };
            if o.alpha {
                if o.by.is_some() {
                    it.cmp = Some(v);
                }
            } else {
                match parse_strtod(&v) {
                    Some(x) => it.score = x,
                    None => conversion_error = true,
                }
            }
        }
        if conversion_error {
            drop(locked);
            return ctx
                .out
                .error("ERR One or more scores can't be converted into double");
        }
        let (desc, alpha, by) = (o.desc, o.alpha, o.by.is_some());
        items.sort_by(|a, b| {
            let c = compare(a, b, alpha, by);
            if desc {
                c.reverse()
            } else {
                c
            }
        });
    }

    let range: &[Item] = if end >= start && start >= 0 {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    let per = o.gets.len().max(1);
    let outputlen = range.len() * per;

    match o.store {
        None => {
            ctx.out.array(outputlen);
            for it in range {
                if o.gets.is_empty() {
                    ctx.out.bulk(&it.elem);
                }
                for g in &o.gets {
                    match lookup(&mut locked, ctx, g, &it.elem, dbi, now) {
                        Some(v) => ctx.out.bulk(&v),
                        None => ctx.out.null(),
                    }
                }
            }
        }
        Some(dst) => {
            let fill = shared.config.encodings().list_max_listpack_size;
            let mut list = List::new(fill);
            for it in range {
                if o.gets.is_empty() {
                    list.push(End::Back, &it.elem);
                }
                for g in &o.gets {
                    let v = lookup(&mut locked, ctx, g, &it.elem, dbi, now).unwrap_or_default();
                    list.push(End::Back, &v);
                }
            }
            let d = routes[1];
            let db = locked.shard(d.shard).db(dbi);
            if outputlen > 0 {
                db.set(dst, d.hash, Value::List(Box::new(list)), Ttl::Persist, now);
            } else if db.contains(dst, d.hash, now) {
                db.remove(dst, d.hash);
            }
            drop(locked);
            ctx.out.int(outputlen as i64);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Set,
    ZSet,
}

fn item(elem: Vec<u8>) -> Item {
    Item {
        elem,
        score: 0.0,
        cmp: None,
    }
}

/// Redis' `sortCompare` (ascending).
fn compare(a: &Item, b: &Item, alpha: bool, by: bool) -> Ordering {
    if !alpha {
        match a.score.partial_cmp(&b.score) {
            Some(Ordering::Equal) | None => a.elem.cmp(&b.elem),
            Some(o) => o,
        }
    } else if by {
        match (&a.cmp, &b.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => c_str(x).cmp(c_str(y)),
        }
    } else {
        c_str(&a.elem).cmp(c_str(&b.elem))
    }
}

/// The bytes C's string functions see: up to the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

/// C's `strtod` on a whole string, as Redis' SORT uses it: leading spaces
/// allowed, the whole rest must parse, no NaN, no overflow.
fn parse_strtod(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.is_empty() {
        // strtod on "" consumes nothing: eptr points at the NUL, score 0.
        return if s.is_empty() { Some(0.0) } else { None };
    }
    let v: f64 = t.parse().ok()?;
    if v.is_nan() || (v.is_infinite() && !t.to_ascii_lowercase().contains("inf")) {
        return None;
    }
    Some(v)
}

/// The value of `field` in a hash.
fn hash_field(h: &crate::types::Hash, field: &[u8]) -> Option<Vec<u8>> {
    h.get(field).map(|v| v.with_bytes(<[u8]>::to_vec))
}

/// Redis' `lookupKeyByPattern`: `#` is the element; otherwise the first
/// `*` is replaced by the element, and `->field` after it reads a hash
/// field. A pattern without `*`, a missing key, or a key of another type
/// gives None.
fn lookup(
    locked: &mut Locked<'_>,
    ctx: &Ctx<'_>,
    pattern: &[u8],
    elem: &[u8],
    dbi: usize,
    now: u64,
) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    let (post, field) = match after.windows(2).position(|w| w == b"->") {
        Some(i) if i + 2 < after.len() => (&after[..i], Some(&after[i + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(star + elem.len() + post.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(post);
    let ks = &ctx.shared.keyspace;
    let hash = ks.hash(&key);
    let shard = locked.shard(ks.shard_of(hash));
    let (found, exists) = {
        let value = shard.db(dbi).get(&key, hash, now).map(|e| &e.value);
        let found = match (value, field) {
            (None, _) => None,
            (Some(Value::Hash(h)), Some(f)) => hash_field(h, f),
            (Some(v), None) if v.is_string() => {
                let mut out = Vec::new();
                crate::cmd::string::value_bytes(v, &mut out);
                Some(out)
            }
            _ => None,
        };
        (found, value.is_some())
    };
    if exists {
        shard.stats.hits += 1;
    } else {
        shard.stats.misses += 1;
    }
    found
}
