//! The file-system layer the store writes through: [`StdFs`] for real
//! files, [`FaultFs`] to inject crashes in tests.
//!
//! The fault layer follows the idea of SurrealKV's `ProbeFs` and RocksDB's
//! fault-injection file system: count every mutating operation, fail the
//! N-th one (a write may be left half done) and every one after it, then let
//! the test reopen the directory as a fresh process would.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// An open file: positional reads and writes, fsync, resize.
#[allow(clippy::len_without_is_empty)]
pub trait FsFile: Send + Sync + fmt::Debug {
    /// Reads exactly `buf.len()` bytes at byte offset `off`.
    ///
    /// # Errors
    /// I/O errors, and `UnexpectedEof` if the file is shorter.
    fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `buf` at byte offset `off`.
    ///
    /// # Errors
    /// I/O errors.
    fn write_at(&self, off: u64, buf: &[u8]) -> io::Result<()>;
    /// Makes the file's data durable (`fdatasync`).
    ///
    /// # Errors
    /// I/O errors.
    fn sync(&self) -> io::Result<()>;
    /// Sets the file's length in bytes (cuts or zero-extends).
    ///
    /// # Errors
    /// I/O errors.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// The file's length in bytes.
    ///
    /// # Errors
    /// I/O errors.
    fn len(&self) -> io::Result<u64>;
}

/// The directory operations the store needs.
pub trait Fs: Send + Sync + fmt::Debug + 'static {
    /// Opens `path` for reading and writing, creating it (empty) if `create`.
    ///
    /// # Errors
    /// I/O errors; `NotFound` if it does not exist and `create` is false.
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn FsFile>>;
    /// Names of the entries of directory `dir`.
    ///
    /// # Errors
    /// I/O errors.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Atomically renames `from` to `to`, replacing `to`.
    ///
    /// # Errors
    /// I/O errors.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes file `path`.
    ///
    /// # Errors
    /// I/O errors.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    ///
    /// # Errors
    /// I/O errors.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Creates `dir` and its parents.
    ///
    /// # Errors
    /// I/O errors.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
}

/// Real files through `std::fs` (Unix).
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFs;

#[derive(Debug)]
struct StdFile(File);

impl FsFile for StdFile {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        self.0.read_exact_at(buf, off)
    }
    fn write_at(&self, off: u64, buf: &[u8]) -> io::Result<()> {
        self.0.write_all_at(buf, off)
    }
    fn sync(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

impl Fs for StdFs {
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn FsFile>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(Box::new(StdFile(f)))
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir)? {
            if let Some(n) = e?.file_name().to_str() {
                out.push(n.to_string());
            }
        }
        Ok(out)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }
}

#[derive(Debug)]
struct FaultState {
    ops: AtomicU64,
    crash_at: AtomicU64,
    crashed: AtomicBool,
    /// Per file: the length that the last `sync` made durable.
    synced: Mutex<HashMap<PathBuf, u64>>,
}

/// A fault-injecting [`Fs`] over real files: the `crash_at`-th mutating
/// operation (0-based: write, sync, set_len, rename, remove, sync_dir, create)
/// fails, a write there is left torn (its first half written), and every
/// later operation fails too, as if the process had died.
///
/// After the crash, [`FaultFs::lose_unsynced`] cuts each file back to the
/// length its last fsync made durable, modelling a power loss for appended
/// data. Renames and removals are treated as durable when they return (the
/// store syncs the directory after each anyway).
///
/// # Examples
/// ```
/// use raft_store::fs::FaultFs;
/// let fs = FaultFs::new(u64::MAX); // never crashes; counts operations
/// assert_eq!(fs.ops(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct FaultFs {
    state: Arc<FaultState>,
}

impl FaultFs {
    /// A layer that fails the `crash_at`-th mutating operation (`u64::MAX`:
    /// never).
    pub fn new(crash_at: u64) -> Self {
        FaultFs {
            state: Arc::new(FaultState {
                ops: AtomicU64::new(0),
                crash_at: AtomicU64::new(crash_at),
                crashed: AtomicBool::new(false),
                synced: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Mutating operations attempted so far.
    pub fn ops(&self) -> u64 {
        self.state.ops.load(Ordering::SeqCst)
    }

    /// Whether the injected crash has happened.
    pub fn crashed(&self) -> bool {
        self.state.crashed.load(Ordering::SeqCst)
    }

    /// Cuts every file written through this layer back to its last synced
    /// length (a power loss after the crash).
    ///
    /// # Errors
    /// I/O errors of the real files.
    pub fn lose_unsynced(&self) -> io::Result<()> {
        let synced = self.state.synced.lock().unwrap_or_else(|e| e.into_inner());
        for (path, &len) in synced.iter() {
            if let Ok(f) = OpenOptions::new().write(true).open(path) {
                if f.metadata()?.len() > len {
                    f.set_len(len)?;
                }
            }
        }
        Ok(())
    }

    /// Counts one mutating operation; `Err` if this is the crash or after it.
    fn step(&self) -> io::Result<bool> {
        if self.crashed() {
            return Err(io::Error::other("injected crash: process is dead"));
        }
        let n = self.state.ops.fetch_add(1, Ordering::SeqCst);
        if n == self.state.crash_at.load(Ordering::SeqCst) {
            self.state.crashed.store(true, Ordering::SeqCst);
            return Ok(true);
        }
        Ok(false)
    }

    fn crash_err() -> io::Error {
        io::Error::other("injected crash")
    }

    fn set_synced(&self, path: &Path, len: u64) {
        let mut s = self.state.synced.lock().unwrap_or_else(|e| e.into_inner());
        s.insert(path.to_path_buf(), len);
    }
}

#[derive(Debug)]
struct FaultFile {
    fs: FaultFs,
    path: PathBuf,
    inner: Box<dyn FsFile>,
}

impl FsFile for FaultFile {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        if self.fs.crashed() {
            return Err(FaultFs::crash_err());
        }
        self.inner.read_at(off, buf)
    }
    fn write_at(&self, off: u64, buf: &[u8]) -> io::Result<()> {
        if self.fs.step()? {
            // Torn write: the first half reaches the file.
            self.inner.write_at(off, &buf[..buf.len() / 2])?;
            return Err(FaultFs::crash_err());
        }
        self.inner.write_at(off, buf)
    }
    fn sync(&self) -> io::Result<()> {
        if self.fs.step()? {
            return Err(FaultFs::crash_err());
        }
        self.inner.sync()?;
        self.fs.set_synced(&self.path, self.inner.len()?);
        Ok(())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        if self.fs.step()? {
            return Err(FaultFs::crash_err());
        }
        self.inner.set_len(len)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
}

impl Fs for FaultFs {
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn FsFile>> {
        let existed = path.exists();
        if create && !existed && self.step()? {
            return Err(FaultFs::crash_err());
        }
        if self.crashed() {
            return Err(FaultFs::crash_err());
        }
        let inner = StdFs.open(path, create)?;
        {
            let mut s = self.state.synced.lock().unwrap_or_else(|e| e.into_inner());
            let len = if existed { inner.len()? } else { 0 };
            s.entry(path.to_path_buf()).or_insert(len);
        }
        Ok(Box::new(FaultFile {
            fs: self.clone(),
            path: path.to_path_buf(),
            inner,
        }))
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        StdFs.list(dir)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        if self.step()? {
            return Err(FaultFs::crash_err());
        }
        std::fs::rename(from, to)?;
        let mut s = self.state.synced.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(len) = s.remove(from) {
            s.insert(to.to_path_buf(), len);
        }
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        if self.step()? {
            return Err(FaultFs::crash_err());
        }
        std::fs::remove_file(path)?;
        let mut s = self.state.synced.lock().unwrap_or_else(|e| e.into_inner());
        s.remove(path);
        Ok(())
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if self.step()? {
            return Err(FaultFs::crash_err());
        }
        StdFs.sync_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        StdFs.create_dir_all(dir)
    }
}
