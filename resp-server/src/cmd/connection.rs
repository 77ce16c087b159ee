//! Connection commands (<https://redis.io/docs/latest/commands/?group=connection>).

use super::flags::*;
use super::{command, Args, Command, Ctx};

/// The connection commands.
pub(crate) const COMMANDS: &[Command] = &[command(
    "ping",
    -1,
    FAST | STALE | LOADING,
    (0, 0, 0),
    "connection",
    "1.0.0",
    "Returns the server's liveliness response.",
    ping,
)];

/// `PING [message]`
pub fn ping(ctx: &mut Ctx<'_>, args: Args<'_>) {
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args.get(1)),
        _ => super::wrong_arity(&mut ctx.out, args.get(0)),
    }
}
