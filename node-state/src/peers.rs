//! Live per-peer data (heartbeats, replication lag, round-trip time) in a
//! sharded concurrent map.
//!
//! Each update locks only the shard that holds that peer (dashmap), so
//! heartbeats from different peers do not contend on a global lock, and
//! readers iterate in place without copying the map.

use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::membership::{Membership, NodeId};

/// What this node knows about one peer right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// When the last heartbeat (or append response) arrived, by the clock
    /// passed to [`Peers::heartbeat`].
    pub last_heartbeat: Option<Instant>,
    /// How far the peer's log is behind the leader's (entries).
    pub replication_lag: u64,
    /// The last measured round-trip time.
    pub rtt: Option<Duration>,
}

impl PeerStats {
    /// Whether no heartbeat arrived within `timeout` before `now` (a peer
    /// never heard from is stale).
    pub fn is_stale(&self, now: Instant, timeout: Duration) -> bool {
        match self.last_heartbeat {
            Some(t) => now.saturating_duration_since(t) > timeout,
            None => true,
        }
    }
}

/// Live data of every peer, updated concurrently without a global lock.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use node_state::Peers;
///
/// let peers = Peers::new();
/// let now = Instant::now();
/// peers.heartbeat(2, now, Some(Duration::from_micros(300)));
/// peers.set_replication_lag(2, 17);
/// assert_eq!(peers.get(2).unwrap().replication_lag, 17);
///
/// let mut worst_lag = 0;
/// peers.for_each(|_id, stats| worst_lag = worst_lag.max(stats.replication_lag));
/// assert_eq!(worst_lag, 17);
/// ```
#[derive(Debug, Default)]
pub struct Peers {
    map: DashMap<NodeId, PeerStats>,
}

impl Peers {
    /// No peers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a heartbeat from `id` received at `now`, with the measured
    /// round-trip time if there is one. Adds the peer if it is new.
    pub fn heartbeat(&self, id: NodeId, now: Instant, rtt: Option<Duration>) {
        let mut e = self.map.entry(id).or_default();
        e.last_heartbeat = Some(now);
        if rtt.is_some() {
            e.rtt = rtt;
        }
    }

    /// Sets how far `id` lags behind (entries). Adds the peer if it is new.
    pub fn set_replication_lag(&self, id: NodeId, lag: u64) {
        self.map.entry(id).or_default().replication_lag = lag;
    }

    /// A copy of what is known about `id` (a small `Copy` struct).
    pub fn get(&self, id: NodeId) -> Option<PeerStats> {
        self.map.get(&id).map(|e| *e)
    }

    /// Forgets `id`; returns its last data.
    pub fn remove(&self, id: NodeId) -> Option<PeerStats> {
        self.map.remove(&id).map(|(_, s)| s)
    }

    /// Forgets every peer that is not a member of `membership`, and `me`
    /// (this node is not its own peer).
    pub fn retain_members(&self, membership: &Membership, me: NodeId) {
        self.map
            .retain(|id, _| *id != me && membership.get(*id).is_some());
    }

    /// Calls `f` on every peer, in place: no copy of the map. Each shard is
    /// read-locked while it is visited, so `f` must not update [`Peers`].
    pub fn for_each(&self, mut f: impl FnMut(NodeId, &PeerStats)) {
        for e in self.map.iter() {
            f(*e.key(), e.value());
        }
    }

    /// Number of peers whose last heartbeat is older than `timeout` at `now`.
    pub fn count_stale(&self, now: Instant, timeout: Duration) -> usize {
        let mut n = 0;
        self.for_each(|_, s| n += usize::from(s.is_stale(now, timeout)));
        n
    }

    /// Number of peers known.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no peer is known.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Role, SharedMembership};

    #[test]
    fn heartbeat_keeps_the_last_rtt_when_none_is_given() {
        let p = Peers::new();
        let t0 = Instant::now();
        p.heartbeat(1, t0, Some(Duration::from_millis(2)));
        let t1 = t0 + Duration::from_secs(1);
        p.heartbeat(1, t1, None);
        let s = p.get(1).unwrap();
        assert_eq!(s.last_heartbeat, Some(t1));
        assert_eq!(s.rtt, Some(Duration::from_millis(2)));
    }

    #[test]
    fn staleness_uses_the_injected_clock() {
        let p = Peers::new();
        let t0 = Instant::now();
        p.heartbeat(1, t0, None);
        p.set_replication_lag(2, 5); // never heard from: stale
        let timeout = Duration::from_millis(500);
        assert_eq!(p.count_stale(t0 + Duration::from_millis(100), timeout), 1);
        assert_eq!(p.count_stale(t0 + Duration::from_secs(1), timeout), 2);
    }

    #[test]
    fn retain_members_drops_departed_peers_and_self() {
        let m = SharedMembership::new();
        m.update(|b| {
            b.insert(1, Role::Leader, "a:1".into());
            b.insert(2, Role::Voter, "a:2".into());
            Ok(())
        })
        .unwrap();
        let p = Peers::new();
        for id in [1, 2, 3] {
            p.set_replication_lag(id, id);
        }
        p.retain_members(&m.snapshot(), 1);
        assert_eq!(p.len(), 1);
        assert!(p.get(2).is_some());
        assert_eq!(p.remove(2).map(|s| s.replication_lag), Some(2));
        assert!(p.is_empty());
    }
}
