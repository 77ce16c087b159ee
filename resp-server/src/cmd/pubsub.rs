//! Pub/sub commands (<https://redis.io/docs/latest/develop/interact/pubsub/>):
//! `SUBSCRIBE`, `UNSUBSCRIBE`, `PSUBSCRIBE`, `PUNSUBSCRIBE`, `PUBLISH` and
//! the `PUBSUB` container (Redis' `pubsub` group), with Redis 7.0's replies.
//!
//! Confirmations of (un)subscribing are arrays in RESP2 and push frames in
//! RESP3, one per channel. In RESP2 a subscribed client may only run the
//! commands flagged [`PUBSUB_OK`] (plus `PING`, `QUIT`, `RESET`): the
//! connection's dispatch checks it ([`context_error`]). The registry and
//! delivery are in [`crate::pubsub`].

use super::flags::*;
use super::{command, Args, Command, Ctx};
use crate::pubsub::Kind;

/// The commands of this group.
pub const COMMANDS: &[Command] = &[
    command(
        "subscribe",
        -2,
        NOSCRIPT | LOADING | STALE | PUBSUB_OK,
        (0, 0, 0),
        "pubsub",
        "2.0.0",
        "Listens for messages published to channels.",
        subscribe,
    ),
    command(
        "unsubscribe",
        -1,
        NOSCRIPT | LOADING | STALE | PUBSUB_OK,
        (0, 0, 0),
        "pubsub",
        "2.0.0",
        "Stops listening to messages posted to channels.",
        unsubscribe,
    ),
    command(
        "psubscribe",
        -2,
        NOSCRIPT | LOADING | STALE | PUBSUB_OK,
        (0, 0, 0),
        "pubsub",
        "2.0.0",
        "Listens for messages published to channels that match one or more patterns.",
        psubscribe,
    ),
    command(
        "punsubscribe",
        -1,
        NOSCRIPT | LOADING | STALE | PUBSUB_OK,
        (0, 0, 0),
        "pubsub",
        "2.0.0",
        "Stops listening to messages published to channels that match one or more patterns.",
        punsubscribe,
    ),
    command(
        "publish",
        3,
        LOADING | STALE | FAST,
        (0, 0, 0),
        "pubsub",
        "2.0.0",
        "Posts a message to a channel.",
        publish,
    ),
    command(
        "pubsub",
        -2,
        0,
        (0, 0, 0),
        "pubsub",
        "2.8.0",
        "A container for Pub/Sub commands.",
        pubsub,
    ),
];

/// `PUBSUB HELP`, in Redis 7.0's words.
const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

/// Commands that take a subcommand: the pub/sub context error names them
/// `name|sub`, as Redis' `fullname`.
const CONTAINERS: &[&str] = &[
    "client", "config", "object", "command", "pubsub", "memory", "slowlog", "latency", "acl",
    "module", "script", "function", "xinfo", "cluster",
];

/// Whether a RESP2 client with subscriptions may run `command` (Redis:
/// `(P|S)SUBSCRIBE`, `(P|S)UNSUBSCRIBE`, `PING`, `QUIT`, `RESET`).
#[inline]
pub fn allowed_in_context(command: &Command) -> bool {
    command.has(PUBSUB_OK) || matches!(command.name, "ping" | "quit" | "reset")
}

/// Writes Redis' error for a command a subscribed RESP2 client may not run.
pub fn context_error(ctx: &mut Ctx<'_>, command: &Command, args: Args<'_>) {
    let sub;
    let name: &[u8] = if args.len() >= 2 && CONTAINERS.contains(&command.name) {
        sub = [
            command.name.as_bytes(),
            b"|",
            &args.get(1).to_ascii_lowercase(),
        ]
        .concat();
        &sub
    } else {
        command.name.as_bytes()
    };
    ctx.out.error_parts(&[
        b"ERR Can't execute '",
        super::shown(name),
        b"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
    ]);
}

/// `PING [message]` of a subscribed RESP2 client: `["pong", message]`
/// (message empty by default), as Redis replies in that context. The
/// caller checks the arity (at most one argument).
pub fn ping_subscribed(ctx: &mut Ctx<'_>, args: Args<'_>) {
    ctx.out.array(2);
    ctx.out.bulk(b"pong");
    ctx.out
        .bulk(if args.len() == 2 { args.get(1) } else { b"" });
}

/// Drops every subscription of the client without replying (`RESET`).
pub fn reset(ctx: &mut Ctx<'_>) {
    let handle = ctx.client.handle.clone();
    ctx.client.subs.clear(&handle);
}

fn subscribe_kind(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) {
    let handle = ctx.client.handle.clone();
    ctx.client.subs.subscribe(
        &ctx.shared.pubsub,
        &handle,
        kind,
        args.iter_from(1),
        &mut ctx.out,
    );
}

fn unsubscribe_kind(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) {
    let handle = ctx.client.handle.clone();
    ctx.client
        .subs
        .unsubscribe(&handle, kind, args.iter_from(1), Some(&mut ctx.out));
}

/// `SUBSCRIBE channel [channel ...]`
pub fn subscribe(ctx: &mut Ctx<'_>, args: Args<'_>) {
    subscribe_kind(ctx, args, Kind::Channel);
}

/// `UNSUBSCRIBE [channel [channel ...]]` (none: every channel)
pub fn unsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) {
    unsubscribe_kind(ctx, args, Kind::Channel);
}

/// `PSUBSCRIBE pattern [pattern ...]`
pub fn psubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) {
    subscribe_kind(ctx, args, Kind::Pattern);
}

/// `PUNSUBSCRIBE [pattern [pattern ...]]` (none: every pattern)
pub fn punsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) {
    unsubscribe_kind(ctx, args, Kind::Pattern);
}

/// `PUBLISH channel message`: replies the number of deliveries.
pub fn publish(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let limit = ctx.shared.config.pubsub_output_limit();
    let n = ctx.shared.pubsub.publish(args.get(1), args.get(2), limit);
    ctx.out.int(n as i64);
}

/// `PUBSUB <CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | HELP>`
pub fn pubsub(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let sub = args.get(1);
    let n = args.len();
    let registry = &ctx.shared.pubsub;
    let is = |name: &[u8]| sub.eq_ignore_ascii_case(name);
    if is(b"help") {
        if n != 2 {
            return super::wrong_arity(&mut ctx.out, b"pubsub|help");
        }
        ctx.out.array(PUBSUB_HELP.len());
        for line in PUBSUB_HELP {
            ctx.out.simple(line);
        }
    } else if is(b"channels") && n <= 3 {
        let channels = registry.channels((n == 3).then(|| args.get(2)));
        ctx.out.array(channels.len());
        for c in &channels {
            ctx.out.bulk(c);
        }
    } else if is(b"numsub") {
        ctx.out.array(2 * (n - 2));
        for c in args.iter_from(2) {
            ctx.out.bulk(c);
            ctx.out.int(registry.numsub(c) as i64);
        }
    } else if is(b"numpat") {
        if n != 2 {
            return super::wrong_arity(&mut ctx.out, b"pubsub|numpat");
        }
        ctx.out.int(registry.numpat() as i64);
    } else if is(b"shardchannels") && n <= 3 {
        // Shard channels (`SSUBSCRIBE`) are not implemented: none active.
        ctx.out.array(0);
    } else if is(b"shardnumsub") {
        ctx.out.array(2 * (n - 2));
        for c in args.iter_from(2) {
            ctx.out.bulk(c);
            ctx.out.int(0);
        }
    } else if is(b"channels") || is(b"shardchannels") {
        ctx.out.error_parts(&[
            b"ERR unknown subcommand or wrong number of arguments for '",
            super::shown_max(sub, super::SHOWN_MAX),
            b"'. Try PUBSUB HELP.",
        ]);
    } else {
        ctx.out.error_parts(&[
            b"ERR unknown subcommand '",
            super::shown_max(sub, super::SHOWN_MAX),
            b"'. Try PUBSUB HELP.",
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_commands() {
        for name in [
            "subscribe",
            "unsubscribe",
            "psubscribe",
            "punsubscribe",
            "ping",
            "quit",
            "reset",
        ] {
            let c = super::super::lookup(name.as_bytes()).unwrap();
            assert!(allowed_in_context(c), "{name}");
        }
        for name in ["get", "publish", "pubsub", "multi", "client"] {
            let c = super::super::lookup(name.as_bytes()).unwrap();
            assert!(!allowed_in_context(c), "{name}");
        }
    }
}
