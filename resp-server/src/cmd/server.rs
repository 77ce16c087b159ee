//! Server commands (<https://redis.io/docs/latest/commands/?group=server>).

use super::Command;

/// The server commands.
pub(crate) const COMMANDS: &[Command] = &[];
