//! Shared test helpers: an in-memory, fault-injecting file system that can
//! take a crash image after every write and every sync (the idea of
//! SurrealKV's `ProbeFs` and RocksDB's `FaultInjectionTestFS`).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsm::fs::{FileSystem, RandomAccessFile, WritableFile};
use parking_lot::Mutex;

#[derive(Debug, Default)]
struct Node {
    data: Vec<u8>,
    synced: usize,
}

type NodeRef = Arc<Mutex<Node>>;

/// What survives a crash in an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Power loss: only synced data under names made durable by a
    /// directory sync.
    Power,
    /// Power loss mid-write: as `Power`, plus half of each file's unsynced
    /// tail.
    Torn,
    /// Process crash (kill -9): everything handed to the OS survives.
    Process,
}

/// A crash image: file contents, and what had been acknowledged when it
/// was taken.
#[derive(Debug, Clone)]
pub struct Image {
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    pub loss: Loss,
    /// Operations acknowledged as synced when the image was taken.
    pub acked_synced: usize,
    /// Operations acknowledged at all when the image was taken.
    pub acked: usize,
}

#[derive(Debug, Default)]
struct State {
    live: HashMap<PathBuf, NodeRef>,
    durable: HashMap<PathBuf, NodeRef>,
    capture: bool,
    images: Vec<Image>,
    acked_synced: usize,
    acked: usize,
    fail_writes: bool,
}

/// The fault-injecting file system.
#[derive(Debug, Clone, Default)]
pub struct FaultFs {
    st: Arc<Mutex<State>>,
}

impl FaultFs {
    pub fn new() -> Self {
        Self::default()
    }

    /// A file system holding `image`'s files, all durable.
    pub fn from_image(image: &Image) -> Self {
        let fs = Self::new();
        {
            let mut st = fs.st.lock();
            for (p, d) in &image.files {
                let n = Arc::new(Mutex::new(Node {
                    data: d.clone(),
                    synced: d.len(),
                }));
                st.live.insert(p.clone(), n.clone());
                st.durable.insert(p.clone(), n);
            }
        }
        fs
    }

    pub fn set_capture(&self, on: bool) {
        self.st.lock().capture = on;
    }

    pub fn set_acked(&self, acked: usize, acked_synced: usize) {
        let mut st = self.st.lock();
        st.acked = acked;
        st.acked_synced = acked_synced;
    }

    pub fn take_images(&self) -> Vec<Image> {
        std::mem::take(&mut self.st.lock().images)
    }

    /// Makes every later append and sync fail.
    pub fn fail_writes(&self, on: bool) {
        self.st.lock().fail_writes = on;
    }

    /// Current contents of every live file.
    pub fn files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        self.st
            .lock()
            .live
            .iter()
            .map(|(p, n)| (p.clone(), n.lock().data.clone()))
            .collect()
    }

    fn capture(st: &mut State) {
        if !st.capture {
            return;
        }
        for loss in [Loss::Power, Loss::Torn, Loss::Process] {
            let names = if loss == Loss::Process {
                &st.live
            } else {
                &st.durable
            };
            let files = names
                .iter()
                .map(|(p, n)| {
                    let n = n.lock();
                    let len = match loss {
                        Loss::Power => n.synced,
                        Loss::Torn => n.synced + (n.data.len() - n.synced) / 2,
                        Loss::Process => n.data.len(),
                    };
                    (p.clone(), n.data[..len].to_vec())
                })
                .collect();
            let img = Image {
                files,
                loss,
                acked_synced: st.acked_synced,
                acked: st.acked,
            };
            st.images.push(img);
        }
    }
}

#[derive(Debug)]
struct FaultWriter {
    fs: FaultFs,
    node: NodeRef,
}

impl WritableFile for FaultWriter {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let mut st = self.fs.st.lock();
        if st.fail_writes {
            return Err(io::Error::other("injected write failure"));
        }
        self.node.lock().data.extend_from_slice(data);
        FaultFs::capture(&mut st);
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        let mut st = self.fs.st.lock();
        if st.fail_writes {
            return Err(io::Error::other("injected sync failure"));
        }
        {
            let mut n = self.node.lock();
            n.synced = n.data.len();
        }
        FaultFs::capture(&mut st);
        Ok(())
    }
}

#[derive(Debug)]
struct FaultReader {
    node: NodeRef,
}

impl RandomAccessFile for FaultReader {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let n = self.node.lock();
        let start = offset as usize;
        let end = start
            .checked_add(buf.len())
            .filter(|&e| e <= n.data.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(&n.data[start..end]);
        Ok(())
    }
    fn len(&self) -> u64 {
        self.node.lock().data.len() as u64
    }
}

impl FileSystem for FaultFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let node = NodeRef::default();
        self.st.lock().live.insert(path.to_path_buf(), node.clone());
        Ok(Box::new(FaultWriter {
            fs: self.clone(),
            node,
        }))
    }
    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        let st = self.st.lock();
        let node = st
            .live
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        Ok(Arc::new(FaultReader { node }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.st.lock();
        let n = st
            .live
            .remove(from)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        st.live.insert(to.to_path_buf(), n);
        FaultFs::capture(&mut st);
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut st = self.st.lock();
        st.live
            .remove(path)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        Ok(())
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let st = self.st.lock();
        Ok(st
            .live
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        let mut st = self.st.lock();
        if st.fail_writes {
            return Err(io::Error::other("injected sync failure"));
        }
        st.durable = st.live.clone();
        FaultFs::capture(&mut st);
        Ok(())
    }
    fn exists(&self, path: &Path) -> bool {
        self.st.lock().live.contains_key(path)
    }
}

/// Reads the whole database into a map.
pub fn dump(db: &lsm::Db) -> lsm::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    db.iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect()
}

/// A number from the environment, or a default.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
