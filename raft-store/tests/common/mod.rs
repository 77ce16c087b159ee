//! Helpers shared by the integration tests.
#![allow(dead_code)]

use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
use raft_store::kv::{KvCommand, KvConfig};

/// A set command entry at `index` of `term` whose value depends on `index`.
pub fn kv_entry(term: u64, index: u64) -> Entry<KvConfig> {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
        payload: EntryPayload::Normal(KvCommand::Set {
            key: format!("k{index}"),
            value: format!("v{term}-{}", "x".repeat((index % 37) as usize)),
        }),
    }
}

/// (index, term, payload) of entries, for comparisons.
pub fn summary(entries: &[Entry<KvConfig>]) -> Vec<(u64, u64, String)> {
    entries
        .iter()
        .map(|e| {
            let p = match &e.payload {
                EntryPayload::Normal(KvCommand::Set { key, value }) => format!("{key}={value}"),
                other => format!("{other:?}"),
            };
            (e.log_id.index, e.log_id.leader_id.term, p)
        })
        .collect()
}
