//! The shared state of one node of the cluster, read and written by all of
//! its threads without copies and without a global lock.
//!
//! From the Blixard performance note (`SharedNodeState`): its "before" kept
//! every part behind a `RwLock` and returned clones of whole maps, built
//! metric labels on every record, and cloned proposal ids. Here:
//!
//! - [`membership`]: [`SharedMembership`] publishes each version of the
//!   membership (members, roles, addresses) as an immutable, numbered
//!   snapshot behind an atomic pointer swap (arc-swap). Readers take no lock
//!   and copy nothing; writers are serialized and publish whole versions.
//! - [`peers`]: [`Peers`], live per-peer data (heartbeat, replication lag,
//!   round-trip time) in a sharded map (dashmap).
//! - [`proposals`]: [`ProposalTable`], pending Raft proposals with a oneshot
//!   responder, an injected-clock deadline and a bound (back-pressure).
//! - [`metrics`]: [`NodeMetrics`], prometheus-client metrics registered once
//!   with their labels; hot paths keep pre-bound handles
//!   ([`CommandMetrics`]).
//! - [`NodeState`] puts the four together for the server.
//!
//! Shared strings (addresses, command names) are `Arc<str>`.
//!
//! Under `--cfg loom` the publication and permit logic runs on loom's
//! models (see `tests/loom_*.rs`).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
pub mod membership;
pub mod metrics;
pub mod peers;
pub mod proposals;
mod sync;

use std::fmt;

pub use error::{Error, Result};
pub use membership::{
    Member, MemberMap, Membership, MembershipBuilder, MembershipReader, NodeId, Role,
    SharedMembership,
};
pub use metrics::{CommandMetrics, DurationHistogram, NodeMetrics, ProposalMetrics};
pub use peers::{PeerStats, Peers};
pub use proposals::{ProposalReceiver, ProposalTable, Sweep};

/// Settings of a [`NodeState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// This node's id.
    pub node_id: NodeId,
    /// Bound on pending proposals (entries); more are refused with
    /// [`Error::Backpressure`].
    pub max_pending_proposals: usize,
}

impl Config {
    /// Settings for node `node_id` with 4096 pending proposals at most.
    pub fn new(node_id: NodeId) -> Self {
        Self {
            node_id,
            max_pending_proposals: 4096,
        }
    }
}

/// Everything one node shares between its threads: membership, peers,
/// pending proposals (answered with `T`), metrics.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use node_state::{Config, NodeState, Role};
///
/// let node: NodeState<u64> = NodeState::new(Config::new(1));
/// node.membership()
///     .update(|m| {
///         m.insert(1, Role::Leader, "10.0.0.1:7000".into());
///         m.insert(2, Role::Voter, "10.0.0.2:7000".into());
///         Ok(())
///     })
///     .unwrap();
/// assert_eq!(node.role(), Some(Role::Leader));
///
/// let now = Instant::now();
/// node.peers().heartbeat(2, now, Some(Duration::from_micros(250)));
/// let (id, mut rx) = node.proposals().register_next(now + Duration::from_secs(1)).unwrap();
/// node.proposals().complete(&id, 42);
/// assert_eq!(rx.try_recv().unwrap(), Ok(42));
///
/// let mut text = String::new();
/// node.encode_metrics(&mut text).unwrap();
/// assert!(text.contains(r#"node_proposals_total{node_id="1",outcome="ok"} 1"#));
/// ```
pub struct NodeState<T> {
    node_id: NodeId,
    membership: SharedMembership,
    peers: Peers,
    proposals: ProposalTable<u64, T>,
    metrics: NodeMetrics,
}

impl<T> fmt::Debug for NodeState<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeState")
            .field("node_id", &self.node_id)
            .field("membership_version", &self.membership.version())
            .field("peers", &self.peers.len())
            .field("proposals", &self.proposals)
            .finish_non_exhaustive()
    }
}

impl<T> NodeState<T> {
    /// A node with no members, no peers, no proposals, and its metrics
    /// registered.
    pub fn new(config: Config) -> Self {
        let metrics = NodeMetrics::new(config.node_id);
        let proposals =
            ProposalTable::with_metrics(config.max_pending_proposals, metrics.proposals().clone());
        Self {
            node_id: config.node_id,
            membership: SharedMembership::new(),
            peers: Peers::new(),
            proposals,
            metrics,
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// This node's role in the current membership (`None` if not a member).
    pub fn role(&self) -> Option<Role> {
        self.membership
            .with_cluster_members(|m| m.role_of(self.node_id))
    }

    /// The membership.
    pub fn membership(&self) -> &SharedMembership {
        &self.membership
    }

    /// The peers' live data.
    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    /// The pending proposals, keyed by a `u64` sequence.
    pub fn proposals(&self) -> &ProposalTable<u64, T> {
        &self.proposals
    }

    /// The metrics and their handles.
    pub fn metrics(&self) -> &NodeMetrics {
        &self.metrics
    }

    /// Refreshes the gauges (role, membership version and size, peers,
    /// pending proposals) and appends the Prometheus text exposition of
    /// every metric to `out`.
    ///
    /// # Errors
    /// Only if writing to `out` fails (never for a `String`).
    pub fn encode_metrics(&self, out: &mut impl fmt::Write) -> fmt::Result {
        let g = self.metrics.gauges();
        self.membership.with_cluster_members(|m| {
            g.set_role(m.role_of(self.node_id));
            g.membership_version
                .set(i64::try_from(m.version()).unwrap_or(i64::MAX));
            g.members.set(saturating_i64(m.len()));
        });
        g.peers.set(saturating_i64(self.peers.len()));
        g.pending_proposals
            .set(saturating_i64(self.proposals.len()));
        self.metrics.encode(out)
    }
}

fn saturating_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
