//! Set commands (Redis' `set` group).

use super::Command;

/// The commands of this group.
pub const COMMANDS: &[Command] = &[];
