//! Pub/sub commands (Redis' `pubsub` group).

use super::Command;

/// The commands of this group.
pub const COMMANDS: &[Command] = &[];
