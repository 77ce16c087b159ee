//! A key-value state machine and a matching openraft type config, for tests,
//! examples and benchmarks.
//!
//! # Snapshot data (version 2)
//! A flat run of sorted, length-prefixed records (the snapshot container
//! compresses it and checks its blake3, see [`crate::encode_snapshot`]):
//!
//! ```text
//! magic "RKVKVMAP" | version u32 = 2 | reserved u32 | count u64
//! count x (key_len u32 | value_len u32 | key bytes | value bytes), keys strictly ascending
//! ```
//! Installing checks every length against the bytes left, UTF-8 and key
//! order, and builds the map from a vector of exactly `count` pairs
//! (`BTreeMap`'s bulk build from sorted input). Version 1 (an rkyv archive
//! of the map) is rejected with an error naming the version.

use std::collections::BTreeMap;

use rkyv::rancor;
use rkyv::util::AlignedVec;

use crate::error::{Error, Result};
use crate::format::PayloadCodec;
use crate::sm::StateMachineApp;

pub use cmd::KvCommand;

/// The command type in a private module: rkyv's generated archived type has
/// no docs of its own.
mod cmd {
    #![allow(missing_docs)]
    /// A write command of the key-value state machine.
    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone, PartialEq, Eq)]
    pub enum KvCommand {
        /// Sets `key` to `value`.
        Set {
            /// The key.
            key: String,
            /// The new value.
            value: String,
        },
        /// Removes `key`.
        Delete {
            /// The key.
            key: String,
        },
    }
}

/// The response to a [`KvCommand`]: the value the key had before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvResponse {
    /// The previous value, if the key existed.
    pub previous: Option<String>,
}

/// Copies `bytes` into an aligned buffer (rkyv needs aligned archives).
fn aligned(bytes: &[u8]) -> AlignedVec {
    let mut v = AlignedVec::<16>::with_capacity(bytes.len());
    v.extend_from_slice(bytes);
    v
}

impl PayloadCodec for KvCommand {
    fn encode(&self, out: &mut Vec<u8>) {
        // Archiving a String-only enum cannot fail (no shared pointers).
        if out.is_empty() {
            // Straight into `out` (keeps its capacity; same bytes as a
            // standalone archive since it starts at position 0).
            let buf = std::mem::take(out);
            if let Ok(b) = rkyv::api::high::to_bytes_in::<_, rancor::Error>(self, buf) {
                *out = b;
            }
        } else if let Ok(b) = rkyv::to_bytes::<rancor::Error>(self) {
            out.extend_from_slice(&b);
        }
    }
    fn decode(bytes: &[u8]) -> Result<Self> {
        rkyv::from_bytes::<KvCommand, rancor::Error>(&aligned(bytes))
            .map_err(|e| Error::Decode(format!("command: {e}")))
    }
}

openraft::declare_raft_types!(
    /// openraft types of the key-value state machine: [`KvCommand`] in,
    /// [`KvResponse`] out, `u64` node ids, `BasicNode` addresses.
    pub KvConfig:
        D = KvCommand,
        R = KvResponse,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<KvConfig>,
        SnapshotData = std::io::Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A `BTreeMap<String, String>` state machine; snapshots are the rkyv
/// archive of the map.
///
/// # Examples
/// ```
/// use raft_store::kv::{KvCommand, KvConfig, KvStateMachine};
/// use raft_store::StateMachineApp;
/// let mut kv = KvStateMachine::default();
/// let cmd = KvCommand::Set { key: "a".into(), value: "1".into() };
/// StateMachineApp::<KvConfig>::apply(&mut kv, 1, &cmd);
/// assert_eq!(kv.get("a"), Some("1"));
/// ```
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KvStateMachine {
    map: BTreeMap<String, String>,
}

impl KvStateMachine {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// The whole map.
    pub fn map(&self) -> &BTreeMap<String, String> {
        &self.map
    }

    /// A state machine holding `map`.
    pub fn from_map(map: BTreeMap<String, String>) -> Self {
        KvStateMachine { map }
    }
}

impl StateMachineApp<KvConfig> for KvStateMachine {
    fn apply(&mut self, _index: u64, cmd: &KvCommand) -> KvResponse {
        let previous = match cmd {
            KvCommand::Set { key, value } => self.map.insert(key.clone(), value.clone()),
            KvCommand::Delete { key } => self.map.remove(key),
        };
        KvResponse { previous }
    }

    fn empty_response(&self) -> KvResponse {
        KvResponse::default()
    }

    fn write_snapshot(&self, out: &mut Vec<u8>) -> Result<()> {
        let body: usize = self
            .map
            .iter()
            .map(|(k, v)| KV_RECORD + k.len() + v.len())
            .sum();
        out.reserve(KV_HEADER + body);
        out.extend_from_slice(KV_MAGIC);
        out.extend_from_slice(&KV_VERSION.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(self.map.len() as u64).to_le_bytes());
        for (k, v) in &self.map {
            let too_long =
                || Error::Decode(format!("key or value of {} bytes", k.len().max(v.len())));
            let kl = u32::try_from(k.len()).map_err(|_| too_long())?;
            let vl = u32::try_from(v.len()).map_err(|_| too_long())?;
            out.extend_from_slice(&kl.to_le_bytes());
            out.extend_from_slice(&vl.to_le_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        Ok(())
    }

    fn install_snapshot(&mut self, data: &[u8]) -> Result<()> {
        self.map = decode_map(data)?;
        Ok(())
    }
}

const KV_MAGIC: &[u8; 8] = b"RKVKVMAP";
const KV_VERSION: u32 = 2;
/// Bytes of the snapshot data header.
const KV_HEADER: usize = 24;
/// Bytes of a record's two length fields.
const KV_RECORD: usize = 8;

/// Decodes [`KvStateMachine`] snapshot data (see the module docs). Never
/// panics; allocates only for records that are present in `data`.
fn decode_map(data: &[u8]) -> Result<BTreeMap<String, String>> {
    let bad = |off: usize, what: String| Error::Decode(format!("snapshot map at {off}: {what}"));
    if data.len() < KV_HEADER || &data[..8] != KV_MAGIC {
        return Err(bad(0, "not key-value snapshot data (bad magic)".into()));
    }
    let u32_at = |o: usize| u32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
    let version = u32_at(8);
    if version != KV_VERSION {
        return Err(bad(
            8,
            format!("key-value snapshot version {version} is not supported (this build reads {KV_VERSION})"),
        ));
    }
    let mut c = [0u8; 8];
    c.copy_from_slice(&data[16..24]);
    let count = u64::from_le_bytes(c);
    // Every record takes at least its two length fields.
    if count > ((data.len() - KV_HEADER) / KV_RECORD) as u64 {
        return Err(bad(16, format!("{count} records cannot fit")));
    }
    // Bounds of every record first (lengths only), noting where the second
    // half starts so two threads can build the strings.
    let count = count as usize;
    let half = count / 2;
    let mut pos = KV_HEADER;
    let mut mid = pos;
    for n in 0..count {
        if n == half {
            mid = pos;
        }
        if data.len() - pos < KV_RECORD {
            return Err(bad(pos, "data ends inside a record header".into()));
        }
        let (kl, vl) = (u32_at(pos) as usize, u32_at(pos + 4) as usize);
        let start = pos + KV_RECORD;
        if kl > data.len() - start || vl > data.len() - start - kl {
            return Err(bad(
                pos,
                format!("record of {kl}+{vl} bytes overruns the data"),
            ));
        }
        pos = start + kl + vl;
    }
    if pos != data.len() {
        return Err(bad(
            pos,
            format!("{} bytes after the last record", data.len() - pos),
        ));
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pairs = if threads >= 2 && count >= 1 << 14 {
        let (a, b) = std::thread::scope(|s| {
            let h = s.spawn(|| build_pairs(data, mid, count - half));
            let a = build_pairs(data, KV_HEADER, half);
            let b = h
                .join()
                .unwrap_or_else(|_| Err(bad(mid, "decode thread panicked".into())));
            (a, b)
        });
        let (mut a, b) = (a?, b?);
        // The two halves must join in order too.
        if let (Some(x), Some(y)) = (a.last(), b.first()) {
            if x.0 >= y.0 {
                return Err(bad(mid, "keys not strictly ascending".into()));
            }
        }
        a.reserve_exact(b.len());
        a.extend(b);
        a
    } else {
        build_pairs(data, KV_HEADER, count)?
    };
    // Sorted input: `from_iter` finds it sorted in one pass and bulk-builds.
    Ok(pairs.into_iter().collect())
}

/// Builds the `n` records from `pos` (bounds already checked) into pairs,
/// checking UTF-8 and strictly ascending keys.
fn build_pairs(data: &[u8], mut pos: usize, n: usize) -> Result<Vec<(String, String)>> {
    let bad = |off: usize, what: String| Error::Decode(format!("snapshot map at {off}: {what}"));
    let mut pairs = Vec::with_capacity(n);
    let mut prev: Option<&[u8]> = None;
    for _ in 0..n {
        let len = |o: usize| {
            u32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]) as usize
        };
        let (kl, vl) = (len(pos), len(pos + 4));
        let start = pos + KV_RECORD;
        let key = &data[start..start + kl];
        let value = &data[start + kl..start + kl + vl];
        if prev.is_some_and(|p| p >= key) {
            return Err(bad(pos, "keys not strictly ascending".into()));
        }
        prev = Some(key);
        let key = std::str::from_utf8(key).map_err(|e| bad(start, format!("key: {e}")))?;
        let value =
            std::str::from_utf8(value).map_err(|e| bad(start + kl, format!("value: {e}")))?;
        pairs.push((key.to_owned(), value.to_owned()));
        pos = start + kl + vl;
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> KvStateMachine {
        let mut map = BTreeMap::new();
        for i in 0..n {
            map.insert(
                format!("key{i:05}"),
                format!("välue-{}", "x".repeat(i % 13)),
            );
        }
        map.insert(String::new(), String::new());
        KvStateMachine::from_map(map)
    }

    fn write(kv: &KvStateMachine) -> Vec<u8> {
        let mut out = Vec::new();
        StateMachineApp::<KvConfig>::write_snapshot(kv, &mut out).unwrap();
        out
    }

    #[test]
    fn snapshot_data_roundtrip() {
        for n in [0, 1, 100] {
            let kv = sample(n);
            let data = write(&kv);
            let mut back = KvStateMachine::default();
            StateMachineApp::<KvConfig>::install_snapshot(&mut back, &data).unwrap();
            assert_eq!(back, kv);
        }
    }

    /// Damaged data (any flipped byte, any cut) is an error or a valid map,
    /// never a panic, and a failed install leaves the state unchanged.
    #[test]
    fn damaged_snapshot_data_never_panics() {
        let data = write(&sample(20));
        let before = sample(3);
        for i in 0..data.len() {
            for bit in [0x01u8, 0x80] {
                let mut d = data.clone();
                d[i] ^= bit;
                let mut kv = before.clone();
                if StateMachineApp::<KvConfig>::install_snapshot(&mut kv, &d).is_err() {
                    assert_eq!(kv, before);
                }
            }
        }
        for cut in 0..data.len() {
            let mut kv = before.clone();
            assert!(StateMachineApp::<KvConfig>::install_snapshot(&mut kv, &data[..cut]).is_err());
            assert_eq!(kv, before);
        }
    }

    #[test]
    fn unsorted_keys_and_old_version_are_rejected() {
        // Records: ("", "") then ("key00000", "välue-"). Give the second
        // record an empty key (its bytes become the value): a duplicate.
        let mut d = write(&sample(2));
        let r2 = KV_HEADER + KV_RECORD;
        let vl = 8 + "välue-".len() as u32;
        d[r2..r2 + 4].copy_from_slice(&0u32.to_le_bytes());
        d[r2 + 4..r2 + 8].copy_from_slice(&vl.to_le_bytes());
        let err = decode_map(&d).unwrap_err().to_string();
        assert!(err.contains("ascending"), "{err}");
        let mut old = write(&sample(2));
        old[8..12].copy_from_slice(&1u32.to_le_bytes());
        let err = decode_map(&old).unwrap_err().to_string();
        assert!(err.contains("version 1"), "{err}");
    }

    /// Snapshot data from `pairs` as given (sorted or not).
    fn raw(pairs: &[(String, String)]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(KV_MAGIC);
        out.extend_from_slice(&KV_VERSION.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(pairs.len() as u64).to_le_bytes());
        for (k, v) in pairs {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        out
    }

    /// Large maps are decoded by two threads (halves): order is checked
    /// within each half and across the join.
    #[test]
    fn two_thread_decode_checks_order_across_the_halves() {
        let n = 40_000usize;
        let mut pairs: Vec<(String, String)> = (0..n)
            .map(|i| (format!("k{i:06}"), format!("v{i}")))
            .collect();
        let map = decode_map(&raw(&pairs)).unwrap();
        assert_eq!(map.len(), n);
        assert_eq!(map.get("k039999").map(String::as_str), Some("v39999"));
        // The first key of the second half equal to the last of the first.
        pairs[n / 2].0 = pairs[n / 2 - 1].0.clone();
        let err = decode_map(&raw(&pairs)).unwrap_err().to_string();
        assert!(err.contains("ascending"), "{err}");
        // Bad UTF-8 deep in the second half.
        let mut pairs: Vec<(String, String)> = (0..n)
            .map(|i| (format!("k{i:06}"), format!("v{i}")))
            .collect();
        pairs[n - 3].1 = "\u{e9}".into();
        let mut d = raw(&pairs);
        let at = d.len() - 1 - 2 * (8 + 7 + 6);
        assert_eq!(d[at], 0xa9);
        d[at] = 0xff;
        let err = decode_map(&d).unwrap_err().to_string();
        assert!(err.contains("value"), "{err}");
    }
}
