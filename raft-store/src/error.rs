//! The crate's error type.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// An I/O operation on `path` failed.
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// What was being done (`"write"`, `"fsync"`, ...).
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// Bytes on disk are damaged or not in this crate's format.
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset in the file where the damage was found.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// The hash chain does not hold at log index `index`.
    ChainBroken {
        /// The first log index whose stored hash, checksum or header is wrong.
        index: u64,
        /// The segment file holding that entry.
        path: PathBuf,
        /// Byte offset of the entry's frame in that file.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// A request that the log cannot satisfy (an index out of order, a read
    /// of a purged entry, ...).
    InvalidRequest(String),
    /// An application payload (command, node, snapshot data) failed to decode.
    Decode(String),
    /// A snapshot failed validation.
    Snapshot(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, op, source } => {
                write!(f, "{op} {}: {source}", path.display())
            }
            Error::Corrupt { path, offset, what } => {
                write!(
                    f,
                    "corrupt file {} at offset {offset}: {what}",
                    path.display()
                )
            }
            Error::ChainBroken {
                index,
                path,
                offset,
                what,
            } => write!(
                f,
                "hash chain broken at log index {index} ({} offset {offset}): {what}",
                path.display()
            ),
            Error::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            Error::Decode(m) => write!(f, "decode: {m}"),
            Error::Snapshot(m) => write!(f, "invalid snapshot: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an `io::Error` with the path and operation.
pub(crate) fn io_err<'a>(
    path: &'a std::path::Path,
    op: &'static str,
) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}
