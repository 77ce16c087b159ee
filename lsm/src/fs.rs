//! The file layer: every byte the engine reads or writes goes through
//! [`FileSystem`], so tests can swap in a fault-injecting implementation
//! (the idea of RocksDB's `FaultInjectionTestFS` and SurrealKV's `ProbeFs`).
//!
//! [`StdFs`] is the real implementation over `std::fs`.

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

/// A file opened for appending.
pub trait WritableFile: Send + Debug {
    /// Appends `data` at the end of the file (it may sit in the OS cache
    /// until [`WritableFile::sync`]).
    ///
    /// # Errors
    /// The OS error.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (fsync / fdatasync).
    ///
    /// # Errors
    /// The OS error.
    fn sync(&mut self) -> io::Result<()>;
}

/// A file opened for positional reads.
pub trait RandomAccessFile: Send + Sync + Debug {
    /// Fills `buf` from byte `offset`.
    ///
    /// # Errors
    /// The OS error, or `UnexpectedEof` if the file is shorter.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// The file's length in bytes.
    fn len(&self) -> u64;
    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The directory operations the engine needs.
///
/// Durability contract (POSIX): appended data is durable after
/// [`WritableFile::sync`]; a created, renamed or removed name is durable
/// after [`FileSystem::sync_dir`] of its directory.
pub trait FileSystem: Send + Sync + Debug + 'static {
    /// Creates (or truncates) `path` for appending.
    ///
    /// # Errors
    /// The OS error.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Opens `path` for positional reads.
    ///
    /// # Errors
    /// The OS error (`NotFound` if it does not exist).
    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>>;
    /// Renames `from` to `to`, replacing `to` atomically.
    ///
    /// # Errors
    /// The OS error.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file `path`.
    ///
    /// # Errors
    /// The OS error.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// The names (not paths) of the entries of `dir`.
    ///
    /// # Errors
    /// The OS error.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Takes an exclusive lock on the file `path` (created if missing) for
    /// as long as the returned guard lives, so that one database directory
    /// is opened by one `Db` at a time (LevelDB's and RocksDB's `LOCK`
    /// file). The default takes none (in-memory file systems).
    ///
    /// # Errors
    /// The OS error; [`io::ErrorKind::WouldBlock`] when another holder has
    /// the lock.
    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn std::any::Any + Send + Sync>>> {
        let _ = path;
        Ok(None)
    }
    /// Creates `dir` and its parents if missing.
    ///
    /// # Errors
    /// The OS error.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Makes the names in `dir` durable (fsync of the directory).
    ///
    /// # Errors
    /// The OS error.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> bool;
    /// Reads the whole file into a buffer aligned to 16 bytes (rkyv
    /// archives are read from such buffers).
    ///
    /// # Errors
    /// The OS error.
    fn read_all_aligned(&self, path: &Path) -> io::Result<rkyv::util::AlignedVec<16>> {
        let f = self.open(path)?;
        let len = usize::try_from(f.len()).map_err(|_| io::Error::other("file too large"))?;
        let mut buf = rkyv::util::AlignedVec::<16>::with_capacity(len);
        buf.resize(len, 0);
        f.read_exact_at(0, &mut buf)?;
        Ok(buf)
    }
}

/// The real file system (`std::fs`).
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFs;

#[derive(Debug)]
struct StdWritable {
    file: File,
}

impl WritableFile for StdWritable {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[derive(Debug)]
struct StdRandom {
    file: File,
    len: u64,
}

impl RandomAccessFile for StdRandom {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
        }
        #[cfg(windows)]
        {
            let mut done = 0;
            while done < buf.len() {
                let n = std::os::windows::fs::FileExt::seek_read(
                    &self.file,
                    &mut buf[done..],
                    offset + done as u64,
                )?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                done += n;
            }
            Ok(())
        }
    }
    fn len(&self) -> u64 {
        self.len
    }
}

impl FileSystem for StdFs {
    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn std::any::Any + Send + Sync>>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Box::new(file))),
            Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the database is open in another process or another Db",
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Box::new(StdWritable { file }))
    }
    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Arc::new(StdRandom { file, len }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir)? {
            if let Some(name) = e?.file_name().to_str() {
                out.push(name.to_owned());
            }
        }
        Ok(out)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        #[cfg(unix)]
        {
            File::open(dir)?.sync_all()
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
            Ok(())
        }
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_fs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        let fs = StdFs;
        let mut w = fs.create(&p).unwrap();
        w.append(b"hello ").unwrap();
        w.append(b"world").unwrap();
        w.sync().unwrap();
        let r = fs.open(&p).unwrap();
        assert_eq!(r.len(), 11);
        let mut buf = [0u8; 5];
        r.read_exact_at(6, &mut buf).unwrap();
        assert_eq!(&buf, b"world");
        assert!(r.read_exact_at(8, &mut buf).is_err());
        let all = fs.read_all_aligned(&p).unwrap();
        assert_eq!(&all[..], b"hello world");
        fs.rename(&p, &dir.path().join("b")).unwrap();
        assert_eq!(fs.list(dir.path()).unwrap(), vec!["b".to_string()]);
        fs.sync_dir(dir.path()).unwrap();
        fs.remove(&dir.path().join("b")).unwrap();
        assert!(!fs.exists(&dir.path().join("b")));
    }
}
