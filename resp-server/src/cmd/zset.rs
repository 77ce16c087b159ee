//! Sorted-set commands (Redis' `sorted-set` group), blocking ones included.

use super::Command;

/// The commands of this group.
pub const COMMANDS: &[Command] = &[];
