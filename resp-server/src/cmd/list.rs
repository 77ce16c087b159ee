//! List commands (Redis' `list` group), blocking ones included.

use super::Command;

/// The commands of this group.
pub const COMMANDS: &[Command] = &[];
