//! Hash commands (Redis' `hash` group).

use super::Command;

/// The commands of this group.
pub const COMMANDS: &[Command] = &[];
