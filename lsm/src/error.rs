//! The crate's error type.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong in the engine.
///
/// Errors are `Clone` (I/O errors are shared through an `Arc`) so that a
/// failure of the background flush can be handed to every later caller.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O call failed on `path`.
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// The underlying error.
        source: Arc<io::Error>,
    },
    /// A file's bytes are not what the engine wrote: a checksum, a length
    /// or a structure did not verify.
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset in the file where the damaged record or block starts.
        offset: u64,
        /// What did not verify.
        reason: String,
    },
    /// A file does not start with this engine's magic number for its kind:
    /// it belongs to another program or is not a file of that kind.
    BadMagic {
        /// The file.
        file: PathBuf,
        /// The kind of file expected (`"wal"`, `"sstable"`, `"manifest"`).
        kind: &'static str,
    },
    /// A file was written by a format version this build does not read.
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A caller passed an argument the engine cannot take (a key too long,
    /// an option out of range, ...).
    InvalidArgument(String),
    /// The database was closed, or a background error stopped it.
    Closed,
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error about `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// A corruption error at `offset` of `file`.
    pub(crate) fn corruption(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Error::Corruption {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "i/o error on {}: {source}", path.display()),
            Error::Corruption {
                file,
                offset,
                reason,
            } => write!(
                f,
                "corruption in {} at offset {offset}: {reason}",
                file.display()
            ),
            Error::BadMagic { file, kind } => {
                write!(f, "{} is not a {kind} file of this engine", file.display())
            }
            Error::UnsupportedVersion {
                file,
                found,
                supported,
            } => write!(
                f,
                "{} has format version {found}, this build reads version {supported}",
                file.display()
            ),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::Closed => f.write_str("database is closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_and_offset() {
        let e = Error::corruption("/d/000001.wal", 48, "checksum mismatch");
        assert_eq!(
            e.to_string(),
            "corruption in /d/000001.wal at offset 48: checksum mismatch"
        );
    }

    #[test]
    fn io_error_has_source() {
        let e = Error::io("/x", io::Error::other("boom"));
        assert!(std::error::Error::source(&e).is_some());
    }
}
