//! A three-node openraft cluster in one process over an in-memory network:
//! elects a leader, replicates writes, survives a leader change, installs a
//! snapshot on a lagging node, and ends with identical state everywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use raft_store::kv::{KvCommand, KvConfig, KvResponse, KvStateMachine};
use raft_store::{LogStore, StateMachineApp};

type Node = Raft<KvConfig>;

/// The key-value app behind a shared handle, so the test can read it while
/// openraft owns the state machine.
#[derive(Clone, Default)]
struct SharedKv(Arc<Mutex<KvStateMachine>>);

impl SharedKv {
    fn map(&self) -> BTreeMap<String, String> {
        self.0.lock().unwrap().map().clone()
    }
}

impl StateMachineApp<KvConfig> for SharedKv {
    fn apply(&mut self, index: u64, cmd: &KvCommand) -> KvResponse {
        StateMachineApp::<KvConfig>::apply(&mut *self.0.lock().unwrap(), index, cmd)
    }
    fn empty_response(&self) -> KvResponse {
        KvResponse::default()
    }
    fn write_snapshot(&self, out: &mut Vec<u8>) -> raft_store::Result<()> {
        StateMachineApp::<KvConfig>::write_snapshot(&*self.0.lock().unwrap(), out)
    }
    fn install_snapshot(&mut self, data: &[u8]) -> raft_store::Result<()> {
        StateMachineApp::<KvConfig>::install_snapshot(&mut *self.0.lock().unwrap(), data)
    }
}

#[derive(Clone, Default)]
struct Router {
    nodes: Arc<Mutex<BTreeMap<u64, Node>>>,
    isolated: Arc<Mutex<BTreeSet<u64>>>,
}

impl Router {
    fn target(&self, from: u64, to: u64) -> Result<Node, NetworkError> {
        let iso = self.isolated.lock().unwrap();
        if iso.contains(&from) || iso.contains(&to) {
            return Err(NetworkError::new(&std::io::Error::other(format!(
                "{from} -> {to} cut"
            ))));
        }
        self.nodes
            .lock()
            .unwrap()
            .get(&to)
            .cloned()
            .ok_or_else(|| NetworkError::new(&std::io::Error::other(format!("no node {to}"))))
    }
}

struct NodeNet {
    router: Router,
    me: u64,
}

struct Conn {
    router: Router,
    me: u64,
    to: u64,
}

impl RaftNetworkFactory<KvConfig> for NodeNet {
    type Network = Conn;
    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> Conn {
        Conn {
            router: self.router.clone(),
            me: self.me,
            to: target,
        }
    }
}

impl RaftNetwork<KvConfig> for Conn {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<KvConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let n = self
            .router
            .target(self.me, self.to)
            .map_err(RPCError::Network)?;
        n.append_entries(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.to, e)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<KvConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        let n = self
            .router
            .target(self.me, self.to)
            .map_err(RPCError::Network)?;
        n.install_snapshot(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.to, e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let n = self
            .router
            .target(self.me, self.to)
            .map_err(RPCError::Network)?;
        n.vote(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.to, e)))
    }
}

const WAIT: Option<Duration> = Some(Duration::from_secs(60));

async fn leader_among(nodes: &BTreeMap<u64, Node>, ids: &[u64]) -> u64 {
    let want: BTreeSet<u64> = ids.iter().copied().collect();
    let m = nodes[&ids[0]]
        .wait(WAIT)
        .metrics(
            |m| m.current_leader.is_some_and(|l| want.contains(&l)),
            "a leader among the nodes",
        )
        .await
        .unwrap();
    let leader = m.current_leader.unwrap();
    nodes[&leader]
        .wait(WAIT)
        .metrics(|m| m.state.is_leader(), "leader knows it leads")
        .await
        .unwrap();
    leader
}

async fn write_range(leader: &Node, range: std::ops::Range<u64>) {
    let keys: Vec<u64> = range.collect();
    for chunk in keys.chunks(200) {
        let mut set = tokio::task::JoinSet::new();
        for &k in chunk {
            let r = leader.clone();
            set.spawn(async move {
                r.client_write(KvCommand::Set {
                    key: format!("key{k:06}"),
                    value: format!("value-{k}"),
                })
                .await
            });
        }
        while let Some(res) = set.join_next().await {
            res.unwrap().unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_change_leader_and_install_snapshot() {
    // Writes in all (10,000, about 5 s in a debug build);
    // RAFT_STORE_CLUSTER_WRITES to change.
    let total: u64 = std::env::var("RAFT_STORE_CLUSTER_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let config = Arc::new(
        Config {
            heartbeat_interval: 100,
            election_timeout_min: 400,
            election_timeout_max: 800,
            snapshot_policy: SnapshotPolicy::Never,
            // Logs are purged by the test (trigger().purge_log), not right after
            // a snapshot.
            max_in_snapshot_log_to_keep: u64::MAX,
            purge_batch_size: 1,
            ..Default::default()
        }
        .validate()
        .unwrap(),
    );
    let router = Router::default();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = BTreeMap::new();
    let mut logs: BTreeMap<u64, LogStore<KvConfig>> = BTreeMap::new();
    let mut apps: BTreeMap<u64, SharedKv> = BTreeMap::new();
    for id in 1..=3u64 {
        let app = SharedKv::default();
        let (log, sm) =
            raft_store::open::<KvConfig, _>(dirs[id as usize - 1].path(), app.clone()).unwrap();
        logs.insert(id, log.clone());
        apps.insert(id, app);
        let raft = Raft::new(
            id,
            config.clone(),
            NodeNet {
                router: router.clone(),
                me: id,
            },
            log,
            sm,
        )
        .await
        .unwrap();
        nodes.insert(id, raft);
    }
    *router.nodes.lock().unwrap() = nodes.clone();
    let members: BTreeMap<u64, BasicNode> = (1..=3)
        .map(|i| {
            (
                i,
                BasicNode {
                    addr: format!("node{i}"),
                },
            )
        })
        .collect();
    nodes[&1].initialize(members).await.unwrap();

    // 1. A leader is elected; the first third of the writes.
    let l1 = leader_among(&nodes, &[1, 2, 3]).await;
    let third = total / 3;
    write_range(&nodes[&l1], 0..third).await;

    // 2. Leader change: cut the leader off; the other two elect a new one.
    router.isolated.lock().unwrap().insert(l1);
    let rest: Vec<u64> = (1..=3).filter(|&i| i != l1).collect();
    let l2 = leader_among(&nodes, &rest).await;
    assert_ne!(l1, l2);
    write_range(&nodes[&l2], third..2 * third).await;
    router.isolated.lock().unwrap().clear();

    // 3. A lagging follower: cut it off, write the rest, snapshot and purge
    // the leader's log, reconnect: it must install the snapshot.
    let lag = (1..=3).find(|&i| i != l2).unwrap();
    let last_before = nodes[&l2].metrics().borrow().last_log_index.unwrap();
    nodes[&lag]
        .wait(WAIT)
        .applied_index_at_least(Some(last_before), "catch up before lagging")
        .await
        .unwrap();
    router.isolated.lock().unwrap().insert(lag);
    write_range(&nodes[&l2], 2 * third..total).await;
    let last = nodes[&l2].metrics().borrow().last_log_index.unwrap();
    nodes[&l2].trigger().snapshot().await.unwrap();
    nodes[&l2]
        .wait(WAIT)
        .metrics(
            |m| m.snapshot.is_some_and(|s| s.index >= last),
            "leader snapshot",
        )
        .await
        .unwrap();
    // The snapshot carries the chain hash of its last entry.
    let snap = nodes[&l2]
        .get_snapshot()
        .await
        .unwrap()
        .expect("leader snapshot");
    let info = raft_store::decode_snapshot::<KvConfig>(snap.snapshot.get_ref()).unwrap();
    let snap_index = info.meta.last_log_id.unwrap().index;
    assert_eq!(
        Some(info.chain_hash),
        logs[&l2].hash_at(snap_index).unwrap(),
        "snapshot chain hash"
    );
    nodes[&l2].trigger().purge_log(last).await.unwrap();
    nodes[&l2]
        .wait(WAIT)
        .metrics(
            |m| m.purged.is_some_and(|p| p.index >= last),
            "leader purge",
        )
        .await
        .unwrap();
    router.isolated.lock().unwrap().clear();
    for id in 1..=3 {
        nodes[&id]
            .wait(WAIT)
            .applied_index_at_least(Some(last), "all applied")
            .await
            .unwrap();
    }
    let lag_metrics = nodes[&lag].metrics().borrow().clone();
    assert!(
        lag_metrics.snapshot.is_some_and(|s| s.index >= last_before),
        "lagging node installed no snapshot: {:?}",
        lag_metrics.snapshot
    );

    // 4. Identical state on all three; every log's chain holds and all end
    // at the same chain hash (the lagging node continued from the
    // snapshot's chain hash).
    let m1 = apps[&1].map();
    assert_eq!(m1.len() as u64, total);
    for id in 2..=3 {
        assert_eq!(apps[&id].map(), m1, "node {id} differs");
    }
    // One more write so every log holds an entry past the purge point.
    let leader = leader_among(&nodes, &[1, 2, 3]).await;
    nodes[&leader]
        .client_write(KvCommand::Delete {
            key: "key000000".into(),
        })
        .await
        .unwrap();
    let end = nodes[&leader].metrics().borrow().last_log_index.unwrap();
    for id in 1..=3 {
        nodes[&id]
            .wait(WAIT)
            .log_index_at_least(Some(end), "last write")
            .await
            .unwrap();
    }
    let tips: Vec<_> = (1..=3)
        .map(|id| logs[&id].hash_at(end).unwrap().expect("entry in log"))
        .collect();
    if !tips.iter().all(|t| *t == tips[0]) {
        for id in 1..=3 {
            let l = &logs[&id];
            eprintln!(
                "node {id} (lag {}): purged {:?} last {:?} hash at end {:?}",
                id == lag,
                l.last_purged_log_id(),
                l.last_log_id(),
                l.hash_at(end).unwrap().map(|h| h[0])
            );
        }
    }
    assert!(
        tips.iter().all(|t| *t == tips[0]),
        "chain hashes differ at {end}"
    );
    for id in 1..=3 {
        logs[&id].verify(..).unwrap();
    }
    for n in nodes.values() {
        n.shutdown().await.unwrap();
    }
}
