//! Transactions: `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH` (Redis' `transactions` group).

use super::Command;

/// The commands of this group.
pub const COMMANDS: &[Command] = &[];
