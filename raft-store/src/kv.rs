//! A key-value state machine and a matching openraft type config, for tests,
//! examples and benchmarks.

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
        if let Ok(b) = rkyv::to_bytes::<rancor::Error>(self) {
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
        let b = rkyv::to_bytes::<rancor::Error>(&self.map)
            .map_err(|e| Error::Decode(format!("archive map: {e}")))?;
        out.extend_from_slice(&b);
        Ok(())
    }

    fn install_snapshot(&mut self, data: &[u8]) -> Result<()> {
        let map = rkyv::from_bytes::<BTreeMap<String, String>, rancor::Error>(&aligned(data))
            .map_err(|e| Error::Decode(format!("snapshot map: {e}")))?;
        self.map = map;
        Ok(())
    }
}
