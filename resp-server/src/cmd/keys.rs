//! Generic key commands (<https://redis.io/docs/latest/commands/?group=generic>).

use super::Command;

/// The generic key commands.
pub(crate) const COMMANDS: &[Command] = &[];
