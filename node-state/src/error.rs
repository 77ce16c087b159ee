//! The crate's error type.

use std::fmt;

use crate::membership::NodeId;

/// What went wrong in a node-state operation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The proposal table already holds `capacity` pending proposals; the
    /// caller should back off and retry (back-pressure, answered at once).
    Backpressure {
        /// The table's bound (proposals).
        capacity: usize,
    },
    /// The proposal's deadline passed before it was answered.
    Timeout,
    /// The proposal was cancelled: explicitly, on a change of leader, or
    /// because the table was dropped.
    Cancelled,
    /// A proposal with the same id is already pending.
    DuplicateProposal,
    /// No member of the cluster has this id.
    UnknownMember(NodeId),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Backpressure { capacity } => {
                write!(f, "too many pending proposals (limit {capacity})")
            }
            Error::Timeout => f.write_str("proposal timed out"),
            Error::Cancelled => f.write_str("proposal cancelled"),
            Error::DuplicateProposal => f.write_str("a proposal with this id is already pending"),
            Error::UnknownMember(id) => write!(f, "no cluster member with id {id}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        None
    }
}

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
