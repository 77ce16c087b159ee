//! openraft's own storage test suite against this store.

use openraft::testing::{StoreBuilder, Suite};
use openraft::{StorageError, StorageIOError};
use raft_store::kv::{KvConfig, KvStateMachine};
use raft_store::{LogStore, StateMachine};
use tempfile::TempDir;

struct Builder;

impl StoreBuilder<KvConfig, LogStore<KvConfig>, StateMachine<KvConfig, KvStateMachine>, TempDir>
    for Builder
{
    async fn build(
        &self,
    ) -> Result<
        (
            TempDir,
            LogStore<KvConfig>,
            StateMachine<KvConfig, KvStateMachine>,
        ),
        StorageError<u64>,
    > {
        let dir = tempfile::tempdir().map_err(|e| StorageError::IO {
            source: StorageIOError::write(&e),
        })?;
        let (log, sm) = raft_store::open(dir.path(), KvStateMachine::default()).map_err(|e| {
            StorageError::IO {
                source: StorageIOError::write(&e),
            }
        })?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_suite_test_all() {
    Suite::test_all(Builder).unwrap();
}
