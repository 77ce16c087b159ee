//! String commands: `GET`, `SET` and family
//! (<https://redis.io/docs/latest/commands/?group=string>).

use super::flags::*;
use super::{command, err, Args, Command, Ctx};
use crate::keyspace::{Ttl, Value};

/// The string commands.
pub(crate) const COMMANDS: &[Command] = &[
    command("get", 2, READONLY | FAST, (1, 1, 1), "string", "1.0.0", "Returns the string value of a key.", get),
    command("set", -3, WRITE | DENYOOM, (1, 1, 1), "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", set),
];

/// Writes a string value as a bulk reply.
#[inline]
pub(crate) fn reply_value(ctx: &mut Ctx<'_>, v: &Value) {
    match v {
        Value::Str(s) => ctx.out.bulk(s),
        Value::Int(n) => ctx.out.bulk_int(*n),
    }
}

/// `GET key`
pub fn get(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let key = args.get(1);
    let ks = &ctx.shared.keyspace;
    let hash = ks.hash(key);
    let mut shard = ks.lock(ks.shard_of(hash));
    let db = ctx.client.db;
    match shard.db(db).get(key, hash, ctx.now_ms) {
        Some(e) if e.value.is_string() => {
            match &e.value {
                Value::Str(s) => ctx.out.bulk(s),
                Value::Int(n) => ctx.out.bulk_int(*n),
            }
            shard.stats.hits += 1;
        }
        Some(_) => ctx.out.error(err::WRONGTYPE),
        None => {
            shard.stats.misses += 1;
            ctx.out.null();
        }
    }
}

/// Options of `SET`.
#[derive(Debug, Default)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    ttl: Option<Ttl>,
    keep_ttl: bool,
}

/// Parses `SET`'s options (from argument 3 on); writes the error and returns
/// None when they are invalid.
fn parse_set_options(ctx: &mut Ctx<'_>, args: Args<'_>) -> Option<SetOptions> {
    let mut o = SetOptions::default();
    let mut i = 3;
    while i < args.len() {
        let a = args.get(i);
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        let unit = if a.eq_ignore_ascii_case(b"nx") && !o.xx {
            o.nx = true;
            None
        } else if a.eq_ignore_ascii_case(b"xx") && !o.nx {
            o.xx = true;
            None
        } else if a.eq_ignore_ascii_case(b"get") {
            o.get = true;
            None
        } else if a.eq_ignore_ascii_case(b"keepttl") && o.ttl.is_none() {
            o.keep_ttl = true;
            None
        } else if !o.keep_ttl && o.ttl.is_none() && next.is_some() {
            match a.to_ascii_lowercase().as_slice() {
                b"ex" => Some(1000),
                b"px" => Some(1),
                b"exat" => Some(-1000),
                b"pxat" => Some(-1),
                _ => {
                    ctx.out.error(err::SYNTAX);
                    return None;
                }
            }
        } else {
            ctx.out.error(err::SYNTAX);
            return None;
        };
        if let (Some(unit), Some(n)) = (unit, next) {
            let n = super::int_arg(&mut ctx.out, n)?;
            o.ttl = Some(Ttl::At(expire_at(ctx, n, unit, "set")?));
            i += 1;
        }
        i += 1;
    }
    Some(o)
}

/// Converts a relative (`unit` > 0: ms per unit) or absolute (`unit` < 0)
/// expiry argument into Unix ms, with Redis' checks and error text.
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
pub fn set(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let opts = if args.len() > 3 {
        match parse_set_options(ctx, args) {
            Some(o) => o,
            None => return,
        }
    } else {
        SetOptions::default()
    };
    let (key, value) = (args.get(1), args.get(2));
    let ks = &ctx.shared.keyspace;
    let hash = ks.hash(key);
    let mut shard = ks.lock(ks.shard_of(hash));
    let db = shard.db(ctx.client.db);
    let ttl = match (opts.keep_ttl, opts.ttl) {
        (true, _) => Ttl::Keep,
        (false, Some(t)) => t,
        (false, None) => Ttl::Persist,
    };
    if !opts.nx && !opts.xx && !opts.get {
        db.set(key, hash, Value::string(value), ttl, ctx.now_ms);
        ctx.out.ok();
        return;
    }
    let old = db.get(key, hash, ctx.now_ms);
    if opts.get {
        match old.as_ref().map(|e| &e.value) {
            Some(v) if !v.is_string() => return ctx.out.error(err::WRONGTYPE),
            Some(Value::Str(s)) => ctx.out.bulk(s),
            Some(Value::Int(n)) => ctx.out.bulk_int(*n),
            None => ctx.out.null(),
        }
    }
    let exists = old.is_some();
    if (opts.nx && exists) || (opts.xx && !exists) {
        if !opts.get {
            ctx.out.null();
        }
        return;
    }
    db.set(key, hash, Value::string(value), ttl, ctx.now_ms);
    if !opts.get {
        ctx.out.ok();
    }
}
