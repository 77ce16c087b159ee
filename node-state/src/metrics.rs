//! The node's metrics: registered once with their labels, recorded through
//! pre-bound handles, exported in the Prometheus text format.
//!
//! Built on `prometheus-client` (the Prometheus project's Rust client). A
//! labelled metric lives in a `Family`, a map from label set to metric; the
//! Blixard note's "before" looked the metric up (and built its labels) on
//! every record. Here the label sets are built once, when a command or the
//! node is set up, and the handles (`Counter` and `DurationHistogram` are `Arc`s to
//! the family's own cells) are kept: recording is one atomic add (counter)
//! or two (histogram), with no hashing, no lookup, no lock and no
//! allocation.
//!
//! Command latencies use [`DurationHistogram`], a histogram of atomic
//! bucket counters with fixed bounds, instead of prometheus-client's
//! `Histogram` (which takes a write lock per observation).
//!
//! The node id is a constant label of the whole registry; `role` and
//! `command` are per-series labels. Since the role of the node changes
//! (elections), handles are bound for every [`Role`] up front and the
//! recorder picks one by index.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{
    EncodeLabelSet, EncodeMetric, LabelSetEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use crate::membership::{NodeId, Role};

/// Label set of the per-command series: `role`, `command`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandLabels {
    /// The node's role when the command ran.
    pub role: Role,
    /// The command name (shared, not copied per series).
    pub command: Arc<str>,
}

impl EncodeLabelSet for CommandLabels {
    fn encode(&self, mut encoder: LabelSetEncoder<'_>) -> fmt::Result {
        use prometheus_client::encoding::EncodeLabel;
        ("role", self.role.as_str()).encode(encoder.encode_label())?;
        ("command", &*self.command).encode(encoder.encode_label())
    }
}

/// Label set of the proposal outcome counter: `outcome`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct OutcomeLabels(&'static str);

impl EncodeLabelSet for OutcomeLabels {
    fn encode(&self, mut encoder: LabelSetEncoder<'_>) -> fmt::Result {
        use prometheus_client::encoding::EncodeLabel;
        ("outcome", self.0).encode(encoder.encode_label())
    }
}

/// Label set of the role gauge: `role`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RoleLabels(Role);

impl EncodeLabelSet for RoleLabels {
    fn encode(&self, mut encoder: LabelSetEncoder<'_>) -> fmt::Result {
        use prometheus_client::encoding::EncodeLabel;
        ("role", self.0.as_str()).encode(encoder.encode_label())
    }
}

type HistogramFamily = Family<CommandLabels, DurationHistogram>;

/// Upper bounds of [`DurationHistogram`]'s buckets (ns): 10 us times powers
/// of 4, up to about 2.6 s; a last bucket (`+Inf`) takes the rest.
const BOUNDS_NS: [u64; 10] = [
    10_000,
    40_000,
    160_000,
    640_000,
    2_560_000,
    10_240_000,
    40_960_000,
    163_840_000,
    655_360_000,
    2_621_440_000,
];

/// The same bounds in seconds, as exported in the `le` label.
const BOUNDS_SECS: [f64; 10] = [
    0.000_01, 0.000_04, 0.000_16, 0.000_64, 0.002_56, 0.010_24, 0.040_96, 0.163_84, 0.655_36,
    2.621_44,
];

/// A histogram of durations with fixed buckets (10 us times powers of 4, up
/// to about 2.6 s, then `+Inf`), made of
/// atomic counters: an observation is two relaxed atomic adds, no lock.
///
/// Exported as a Prometheus histogram in seconds. The count is the sum of
/// the buckets; the sum is kept in whole nanoseconds. An export racing with
/// observations may see a bucket incremented before the sum (each value is
/// exact, the pair is not a snapshot), as with other lock-free clients.
/// Cloning shares the same cells.
#[derive(Debug, Clone, Default)]
pub struct DurationHistogram {
    cells: Arc<HistogramCells>,
}

#[derive(Debug, Default)]
struct HistogramCells {
    buckets: [AtomicU64; BOUNDS_NS.len() + 1],
    sum_ns: AtomicU64,
}

impl DurationHistogram {
    /// Records one duration.
    #[inline]
    pub fn observe(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let i = BOUNDS_NS
            .iter()
            .position(|&b| ns <= b)
            .unwrap_or(BOUNDS_NS.len());
        self.cells.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.cells.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.cells
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .sum()
    }

    /// Sum of the observed durations (wraps after 584 years in total).
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.cells.sum_ns.load(Ordering::Relaxed))
    }
}

impl TypedMetric for DurationHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for DurationHistogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> fmt::Result {
        let mut buckets = [(f64::MAX, 0u64); BOUNDS_NS.len() + 1];
        let mut count = 0;
        for (i, cell) in self.cells.buckets.iter().enumerate() {
            let n = cell.load(Ordering::Relaxed);
            count += n;
            // The last bucket keeps f64::MAX, which the encoder writes as +Inf.
            buckets[i] = (BOUNDS_SECS.get(i).copied().unwrap_or(f64::MAX), n);
        }
        let sum = self.sum().as_secs_f64();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// Pre-bound handles of one command, for every role.
///
/// Cloning shares the same series.
#[derive(Debug, Clone)]
pub struct CommandMetrics {
    calls: [Counter; 3],
    seconds: [DurationHistogram; 3],
}

impl CommandMetrics {
    /// Counts one call of the command while the node has `role`.
    #[inline]
    pub fn inc(&self, role: Role) {
        self.calls[role.index()].inc();
    }

    /// Counts one call and records how long it took.
    #[inline]
    pub fn record(&self, role: Role, elapsed: Duration) {
        let i = role.index();
        self.calls[i].inc();
        self.seconds[i].observe(elapsed);
    }

    /// Records how long one call took without counting it.
    #[inline]
    pub fn observe(&self, role: Role, elapsed: Duration) {
        self.seconds[role.index()].observe(elapsed);
    }

    /// The latency histogram of calls while the node had `role`.
    pub fn durations(&self, role: Role) -> &DurationHistogram {
        &self.seconds[role.index()]
    }

    /// Calls counted while the node had `role`.
    pub fn calls(&self, role: Role) -> u64 {
        self.calls[role.index()].get()
    }
}

/// Pre-bound outcome counters of a [`ProposalTable`](crate::ProposalTable).
///
/// The default value is detached: it counts, but belongs to no registry.
#[derive(Debug, Clone, Default)]
pub struct ProposalMetrics {
    pub(crate) registered: Counter,
    pub(crate) ok: Counter,
    pub(crate) failed: Counter,
    pub(crate) timed_out: Counter,
    pub(crate) cancelled: Counter,
    pub(crate) abandoned: Counter,
    pub(crate) backpressure: Counter,
}

impl ProposalMetrics {
    /// Proposals accepted into the table.
    pub fn registered(&self) -> u64 {
        self.registered.get()
    }

    /// Proposals refused because the table was full.
    pub fn backpressure(&self) -> u64 {
        self.backpressure.get()
    }

    /// Proposals answered with [`Error::Timeout`](crate::Error::Timeout).
    pub fn timed_out(&self) -> u64 {
        self.timed_out.get()
    }
}

/// Gauges the owner sets before an export (see
/// [`NodeState::encode_metrics`](crate::NodeState::encode_metrics)).
#[derive(Debug, Clone, Default)]
pub struct NodeGauges {
    /// Membership version (number).
    pub membership_version: Gauge,
    /// Members in the current membership (entries).
    pub members: Gauge,
    /// Peers with live data (entries).
    pub peers: Gauge,
    /// Pending proposals (entries).
    pub pending_proposals: Gauge,
    role: [Gauge; 3],
}

impl NodeGauges {
    /// Sets the role gauge: 1 for `role`, 0 for the others (all 0 for `None`).
    pub fn set_role(&self, role: Option<Role>) {
        for r in Role::ALL {
            self.role[r.index()].set(i64::from(Some(r) == role));
        }
    }
}

/// The metrics registry of one node and its pre-bound handles.
///
/// Metric names (prefix `node_`; counters get `_total` in the export):
///
/// | name | type | labels |
/// |---|---|---|
/// | `node_commands_total` | counter | `role`, `command` |
/// | `node_command_duration_seconds` | histogram | `role`, `command` |
/// | `node_proposals_total` | counter | `outcome` (`registered`, `ok`, `failed`, `timeout`, `cancelled`, `abandoned`, `backpressure`) |
/// | `node_role` | gauge (0/1) | `role` |
/// | `node_membership_version`, `node_members`, `node_peers`, `node_pending_proposals` | gauge | |
///
/// Every series also carries the constant label `node_id`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use node_state::{NodeMetrics, Role};
///
/// let metrics = NodeMetrics::new(7);
/// let get = metrics.command("get"); // bind once, at start-up
/// get.record(Role::Leader, Duration::from_micros(120)); // hot path: no lookup, no allocation
///
/// let mut text = String::new();
/// metrics.encode(&mut text).unwrap();
/// assert!(text.contains(r#"node_commands_total{node_id="7",role="leader",command="get"} 1"#));
/// ```
pub struct NodeMetrics {
    registry: Registry,
    node_id: NodeId,
    commands: Family<CommandLabels, Counter>,
    command_seconds: HistogramFamily,
    proposals: ProposalMetrics,
    gauges: NodeGauges,
}

impl fmt::Debug for NodeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeMetrics")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl NodeMetrics {
    /// Registers every metric of node `node_id` (allocates; call once).
    pub fn new(node_id: NodeId) -> Self {
        let mut registry = Registry::with_prefix_and_labels(
            "node",
            std::iter::once(("node_id".into(), node_id.to_string().into())),
        );
        let commands = Family::<CommandLabels, Counter>::default();
        registry.register(
            "commands",
            "Commands executed, by role of the node and command",
            commands.clone(),
        );
        let command_seconds = HistogramFamily::default();
        registry.register(
            "command_duration_seconds",
            "Command execution time in seconds, by role of the node and command",
            command_seconds.clone(),
        );

        let outcomes = Family::<OutcomeLabels, Counter>::default();
        registry.register("proposals", "Raft proposals by outcome", outcomes.clone());
        let bind = |name: &'static str| outcomes.get_or_create(&OutcomeLabels(name)).clone();
        let proposals = ProposalMetrics {
            registered: bind("registered"),
            ok: bind("ok"),
            failed: bind("failed"),
            timed_out: bind("timeout"),
            cancelled: bind("cancelled"),
            abandoned: bind("abandoned"),
            backpressure: bind("backpressure"),
        };

        let roles = Family::<RoleLabels, Gauge>::default();
        registry.register("role", "1 for the current role of the node", roles.clone());
        let gauges = NodeGauges {
            role: Role::ALL.map(|r| roles.get_or_create(&RoleLabels(r)).clone()),
            ..NodeGauges::default()
        };
        registry.register(
            "membership_version",
            "Version of the published membership",
            gauges.membership_version.clone(),
        );
        registry.register("members", "Members of the cluster", gauges.members.clone());
        registry.register("peers", "Peers with live data", gauges.peers.clone());
        registry.register(
            "pending_proposals",
            "Proposals waiting for an answer",
            gauges.pending_proposals.clone(),
        );

        Self {
            registry,
            node_id,
            commands,
            command_seconds,
            proposals,
            gauges,
        }
    }

    /// The node id of the constant `node_id` label.
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// Creates (or finds) the series of command `name` for every role and
    /// returns the handles to keep. Allocates; call once per command at
    /// start-up, not per call.
    pub fn command(&self, name: &str) -> CommandMetrics {
        let command: Arc<str> = Arc::from(name);
        let labels = |role| CommandLabels {
            role,
            command: Arc::clone(&command),
        };
        CommandMetrics {
            calls: Role::ALL.map(|r| self.commands.get_or_create(&labels(r)).clone()),
            seconds: Role::ALL.map(|r| self.command_seconds.get_or_create(&labels(r)).clone()),
        }
    }

    /// The command counter family, for lookups by label set (the slow path
    /// that [`command`](Self::command) avoids; kept for tools and baselines).
    pub fn command_family(&self) -> &Family<CommandLabels, Counter> {
        &self.commands
    }

    /// The proposal outcome counters, to pass to
    /// [`ProposalTable::with_metrics`](crate::ProposalTable::with_metrics).
    pub fn proposals(&self) -> &ProposalMetrics {
        &self.proposals
    }

    /// The gauges the owner sets.
    pub fn gauges(&self) -> &NodeGauges {
        &self.gauges
    }

    /// Appends the Prometheus text exposition of every metric to `out`
    /// (OpenMetrics text format, ending in `# EOF`).
    ///
    /// # Errors
    /// Only if writing to `out` fails (never for a `String`).
    pub fn encode(&self, out: &mut impl fmt::Write) -> fmt::Result {
        prometheus_client::encoding::text::encode(out, &self.registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_handles_share_series_with_the_family() {
        let m = NodeMetrics::new(1);
        let a = m.command("set");
        let b = m.command("set");
        a.inc(Role::Voter);
        b.record(Role::Voter, Duration::from_millis(500));
        assert_eq!(a.calls(Role::Voter), 2);
        assert_eq!(a.durations(Role::Voter).count(), 1);
        assert_eq!(a.calls(Role::Leader), 0);
        let labels = CommandLabels {
            role: Role::Voter,
            command: "set".into(),
        };
        assert_eq!(m.command_family().get_or_create(&labels).get(), 2);
    }

    #[test]
    fn duration_histogram_buckets_bounds_inclusively() {
        let h = DurationHistogram::default();
        h.observe(Duration::from_micros(10)); // bucket 0 (le 10 us)
        h.observe(Duration::from_nanos(10_001)); // bucket 1
        h.observe(Duration::from_secs(3)); // +Inf
        h.observe(Duration::MAX); // +Inf, saturated
        let counts: Vec<u64> = h
            .cells
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        assert_eq!(counts, [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(h.count(), 4);
        for (ns, secs) in BOUNDS_NS.iter().zip(BOUNDS_SECS) {
            assert!((*ns as f64 / 1e9 - secs).abs() < 1e-15);
        }
    }

    #[test]
    fn role_gauge_is_one_hot() {
        let m = NodeMetrics::new(1);
        m.gauges().set_role(Some(Role::Learner));
        let g: Vec<i64> = m.gauges.role.iter().map(|g| g.get()).collect();
        assert_eq!(g, [0, 0, 1]);
        m.gauges().set_role(None);
        assert!(m.gauges.role.iter().all(|g| g.get() == 0));
    }
}
