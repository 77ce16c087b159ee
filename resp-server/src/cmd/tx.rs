//! Transactions (<https://redis.io/docs/latest/develop/interact/transactions/>):
//! `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH` (Redis' `transactions`
//! group), with Redis 7.0's replies and error texts.
//!
//! Queueing happens in the connection's dispatch (every command but
//! `EXEC`, `DISCARD`, `MULTI`, `WATCH`, `QUIT` and `RESET` is queued inside
//! `MULTI`, see [`crate::connection::execute`]); the client's state is
//! [`crate::tx::TxState`]. `EXEC` runs the queue with every shard locked
//! by this thread ([`crate::keyspace::Keyspace::exclusive`]), so no other
//! client sees part of a transaction, even one over many shards.

use super::flags::*;
use super::{command, Args, Command, Ctx};
use crate::client::ReplyMode;

/// The commands of this group.
pub const COMMANDS: &[Command] = &[
    command(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_QUEUED,
        (0, 0, 0),
        "transactions",
        "1.2.0",
        "Starts a transaction.",
        multi,
    ),
    command(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | NOT_QUEUED,
        (0, 0, 0),
        "transactions",
        "1.2.0",
        "Executes all commands in a transaction.",
        exec,
    ),
    command(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_QUEUED,
        (0, 0, 0),
        "transactions",
        "2.0.0",
        "Discards a transaction.",
        discard,
    ),
    command(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_QUEUED,
        (1, -1, 1),
        "transactions",
        "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.",
        watch,
    ),
    command(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (0, 0, 0),
        "transactions",
        "2.2.0",
        "Forgets about watched keys of a transaction.",
        unwatch,
    ),
];

/// `EXEC` after a command was rejected while queueing.
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// `MULTI`: starts queueing commands.
pub fn multi(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    if ctx.client.tx.in_multi() {
        return ctx.out.error("ERR MULTI calls can not be nested");
    }
    ctx.client.tx.begin();
    ctx.client.tx.show(&ctx.client.handle);
    ctx.out.ok();
}

/// `DISCARD`: drops the queue and unwatches every key.
pub fn discard(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    if !ctx.client.tx.in_multi() {
        return ctx.out.error("ERR DISCARD without MULTI");
    }
    ctx.client.tx.reset(ctx.shared);
    ctx.client.tx.show(&ctx.client.handle);
    ctx.out.ok();
}

/// `WATCH key [key ...]`: `EXEC` will fail if any of the keys is written
/// (or expires) before it.
pub fn watch(ctx: &mut Ctx<'_>, args: Args<'_>) {
    if ctx.client.tx.in_multi() {
        return ctx.out.error("ERR WATCH inside MULTI is not allowed");
    }
    let (db, now) = (ctx.client.db, ctx.now_ms);
    ctx.client.tx.watch(ctx.shared, db, args, now);
    ctx.out.ok();
}

/// `UNWATCH`: forgets every watched key.
pub fn unwatch(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    ctx.client.tx.unwatch_all(ctx.shared);
    ctx.out.ok();
}

/// `EXEC`: runs the queued commands atomically and replies an array of
/// their replies; a null array when a watched key changed (nothing runs);
/// `EXECABORT` when a command was rejected while queueing.
///
/// Blocking commands in the queue reply as if timed out, at once.
#[allow(unsafe_code)]
pub fn exec(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    if !ctx.client.tx.in_multi() {
        return ctx.out.error("ERR EXEC without MULTI");
    }
    let shared = ctx.shared;
    if ctx.client.tx.aborted() {
        ctx.client.tx.reset(shared);
        ctx.client.tx.show(&ctx.client.handle);
        return ctx.out.error(EXECABORT);
    }
    let queue = ctx.client.tx.take_queue();
    let now = ctx.now_ms;
    let run = || {
        if ctx.client.tx.watch_failed(shared, now) {
            ctx.out.null_array();
        } else {
            ctx.out.array(queue.len());
            // Replies of the queue are never dropped one by one: `CLIENT
            // REPLY` applies to `EXEC`'s whole reply (a queued `CLIENT
            // REPLY OFF` takes effect after it).
            let mode = std::mem::replace(&mut ctx.client.reply_mode, ReplyMode::On);
            ctx.client.in_exec = true;
            for args in queue.iter() {
                crate::connection::execute(shared, ctx.client, now, args, ctx.out.buffer());
            }
            ctx.client.in_exec = false;
            if ctx.client.reply_mode == ReplyMode::On {
                ctx.client.reply_mode = mode;
            }
        }
        // Under the same locks: no write can slip in before the watches go.
        ctx.client.tx.unwatch_all(shared);
    };
    // SAFETY: `exclusive` requires that no shard guard taken inside the
    // closure outlives it. The closure only runs command handlers through
    // `execute` and the watch check, whose guards are locals of those
    // functions, dropped before they return; nothing the closure returns or
    // stores holds a guard.
    unsafe { shared.keyspace.exclusive(run) };
    ctx.client.tx.recycle(queue);
    ctx.client.tx.show(&ctx.client.handle);
}
