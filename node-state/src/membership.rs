//! Cluster membership published as immutable, versioned snapshots.
//!
//! The Blixard note's "before" returned a clone of a
//! `RwLock<HashMap<u64, PeerInfo>>` on every read. Here readers never copy
//! the map and never take a lock: [`SharedMembership`] publishes each
//! version as an `Arc<Membership>` through an atomic pointer swap
//! (arc-swap; the read-copy-update pattern). Writers are serialized by a
//! mutex, copy the current map into a [`MembershipBuilder`], change it, and
//! publish the result with the next version number. A reader therefore sees
//! either the whole old version or the whole new one, and the version it
//! sees never goes down.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::sync::{Mutex, Published, PublishedCache};

/// The id of a node in the cluster (Raft's node id).
pub type NodeId = u64;

/// The members of one version, by id.
pub type MemberMap = HashMap<NodeId, Member, BuildIdHasher>;

/// Builds [`IdHasher`]s for [`MemberMap`].
pub type BuildIdHasher = BuildHasherDefault<IdHasher>;

/// A fast hasher for node ids: FxHash (rustc's `FxHasher`, from Firefox),
/// one rotate, xor and multiply per word.
///
/// Not resistant to hash flooding; node ids come from the cluster's
/// configuration, not from clients.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdHasher(u64);

impl IdHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The role of a member in the Raft group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The current leader: a voter that accepts writes. At most one per
    /// membership version.
    Leader,
    /// A voting member that is not the leader.
    Voter,
    /// A non-voting member that receives the log (catching up, or a read
    /// replica).
    Learner,
}

impl Role {
    /// Every role, in the order of [`Role::index`].
    pub const ALL: [Role; 3] = [Role::Leader, Role::Voter, Role::Learner];

    /// The role's name as used in metric labels: `leader`, `voter`, `learner`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Voter => "voter",
            Role::Learner => "learner",
        }
    }

    /// A dense index in `0..3`, for arrays of per-role handles.
    pub const fn index(self) -> usize {
        match self {
            Role::Leader => 0,
            Role::Voter => 1,
            Role::Learner => 2,
        }
    }

    /// Whether the member votes (leader or voter).
    pub const fn is_voter(self) -> bool {
        matches!(self, Role::Leader | Role::Voter)
    }
}

/// One member of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its role in this version.
    pub role: Role,
    /// Its address (`host:port`), shared between versions without copying.
    pub addr: Arc<str>,
}

/// One immutable version of the membership.
///
/// Invariant: at most one member is [`Role::Leader`], and
/// [`leader`](Membership::leader) names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    version: u64,
    leader: Option<NodeId>,
    members: MemberMap,
}

impl Membership {
    /// The version number: 0 for the empty initial membership, then one more
    /// for every published update.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The id of the leader, if there is one.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The leader's address, if there is a leader.
    pub fn leader_addr(&self) -> Option<&Arc<str>> {
        self.leader
            .and_then(|id| self.members.get(&id))
            .map(|m| &m.addr)
    }

    /// The member with id `id`.
    pub fn get(&self, id: NodeId) -> Option<&Member> {
        self.members.get(&id)
    }

    /// The role of member `id`.
    pub fn role_of(&self, id: NodeId) -> Option<Role> {
        self.members.get(&id).map(|m| m.role)
    }

    /// Number of members (entries).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members as a map from id (borrowed, not copied).
    pub fn members(&self) -> &MemberMap {
        &self.members
    }

    /// The members, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, &Member)> + '_ {
        self.members.iter().map(|(id, m)| (*id, m))
    }

    /// The ids of the voting members (leader and voters).
    pub fn voters(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.iter()
            .filter(|(_, m)| m.role.is_voter())
            .map(|(id, _)| id)
    }

    /// The ids of the learners.
    pub fn learners(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.iter()
            .filter(|(_, m)| m.role == Role::Learner)
            .map(|(id, _)| id)
    }
}

/// A writer's working copy of the membership, turned into the next version
/// by [`SharedMembership::update`].
///
/// Keeps the single-leader invariant itself: making a member leader demotes
/// the previous leader to [`Role::Voter`].
#[derive(Debug)]
pub struct MembershipBuilder {
    leader: Option<NodeId>,
    members: MemberMap,
}

impl MembershipBuilder {
    /// Adds member `id` or replaces it. If `role` is [`Role::Leader`], the
    /// previous leader (if another member) becomes a voter.
    pub fn insert(&mut self, id: NodeId, role: Role, addr: Arc<str>) -> &mut Self {
        if role == Role::Leader {
            self.demote_leader(id);
            self.leader = Some(id);
        } else if self.leader == Some(id) {
            self.leader = None;
        }
        self.members.insert(id, Member { role, addr });
        self
    }

    /// Removes member `id`; returns it if it was there.
    pub fn remove(&mut self, id: NodeId) -> Option<Member> {
        if self.leader == Some(id) {
            self.leader = None;
        }
        self.members.remove(&id)
    }

    /// Changes the role of member `id` (see [`insert`](Self::insert) for a
    /// new leader).
    ///
    /// # Errors
    /// [`Error::UnknownMember`] if there is no member `id`.
    pub fn set_role(&mut self, id: NodeId, role: Role) -> Result<&mut Self> {
        let addr = match self.members.get(&id) {
            Some(m) => Arc::clone(&m.addr),
            None => return Err(Error::UnknownMember(id)),
        };
        Ok(self.insert(id, role, addr))
    }

    /// Changes the address of member `id`.
    ///
    /// # Errors
    /// [`Error::UnknownMember`] if there is no member `id`.
    pub fn set_addr(&mut self, id: NodeId, addr: Arc<str>) -> Result<&mut Self> {
        match self.members.get_mut(&id) {
            Some(m) => {
                m.addr = addr;
                Ok(self)
            }
            None => Err(Error::UnknownMember(id)),
        }
    }

    /// Removes every member.
    pub fn clear(&mut self) -> &mut Self {
        self.members.clear();
        self.leader = None;
        self
    }

    /// The member with id `id` in the working copy.
    pub fn get(&self, id: NodeId) -> Option<&Member> {
        self.members.get(&id)
    }

    /// Number of members in the working copy.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the working copy has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn demote_leader(&mut self, new_leader: NodeId) {
        if let Some(old) = self.leader.take() {
            if old != new_leader {
                if let Some(m) = self.members.get_mut(&old) {
                    m.role = Role::Voter;
                }
            }
        }
    }
}

/// The membership of the cluster as seen by this node, shared by all its
/// threads.
///
/// Reads take no lock and copy nothing; writes are serialized and publish a
/// whole new version.
///
/// # Examples
///
/// ```
/// use node_state::{Role, SharedMembership};
///
/// let shared = SharedMembership::new();
/// let version = shared
///     .update(|m| {
///         m.insert(1, Role::Leader, "10.0.0.1:7000".into());
///         m.insert(2, Role::Voter, "10.0.0.2:7000".into());
///         Ok(())
///     })
///     .unwrap();
/// assert_eq!(version, 1);
///
/// // Closure access: no lock, no copy of the map.
/// let leader = shared.with_cluster_members(|m| m.leader_addr().cloned());
/// assert_eq!(leader.as_deref(), Some("10.0.0.1:7000"));
///
/// // An owned snapshot stays valid (and unchanged) after later updates.
/// let before = shared.snapshot();
/// shared.update(|m| m.set_role(2, Role::Leader).map(|_| ())).unwrap();
/// assert_eq!(before.leader(), Some(1));
/// assert_eq!(shared.snapshot().leader(), Some(2));
/// assert_eq!(shared.snapshot().role_of(1), Some(Role::Voter));
/// ```
pub struct SharedMembership {
    current: Published<Membership>,
    /// Serializes writers; readers never touch it.
    writer: Mutex<()>,
}

impl std::fmt::Debug for SharedMembership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.with_cluster_members(|m| {
            f.debug_struct("SharedMembership")
                .field("current", m)
                .finish()
        })
    }
}

impl Default for SharedMembership {
    fn default() -> Self {
        Self::new()
    }
}

impl SharedMembership {
    /// An empty membership at version 0.
    pub fn new() -> Self {
        Self {
            current: Published::new(Arc::new(Membership::default())),
            writer: Mutex::new(()),
        }
    }

    /// Calls `f` on the current version, without a lock, a copy of the map,
    /// or a write to a shared reference count. Keep `f` short: the version
    /// it sees stays alive until `f` returns.
    #[inline]
    pub fn with_cluster_members<R>(&self, f: impl FnOnce(&Membership) -> R) -> R {
        self.current.with(|m| f(m))
    }

    /// The current version as an owned `Arc` (one atomic increment, no copy
    /// of the map); it stays unchanged while newer versions are published.
    #[inline]
    pub fn snapshot(&self) -> Arc<Membership> {
        self.current.load_full()
    }

    /// A reader for one thread or task that reads very often: it caches the
    /// current version, so that a read that finds no newer version costs one
    /// atomic load (and still no lock and no copy). It keeps the version it
    /// last saw alive until its next read.
    pub fn reader(&self) -> MembershipReader<'_> {
        MembershipReader {
            cache: PublishedCache::new(&self.current),
        }
    }

    /// The current version number.
    #[inline]
    pub fn version(&self) -> u64 {
        self.current.with(|m| m.version)
    }

    /// Builds and publishes the next version: `f` edits a copy of the
    /// current members; if it returns `Ok`, the copy is published with the
    /// version number one higher, else nothing changes. Writers run one at a
    /// time; readers are never blocked. Returns the new version number.
    ///
    /// Copies the map once per update (O(members)): updates are rare
    /// (membership changes, elections), reads are not.
    ///
    /// # Errors
    /// Whatever `f` returns, e.g. [`Error::UnknownMember`] from
    /// [`MembershipBuilder::set_role`].
    pub fn update(&self, f: impl FnOnce(&mut MembershipBuilder) -> Result<()>) -> Result<u64> {
        self.writer.with(|_| {
            let current = self.current.load_full();
            let mut builder = MembershipBuilder {
                leader: current.leader,
                members: current.members.clone(),
            };
            f(&mut builder)?;
            let version = current.version + 1;
            self.current.store(Arc::new(Membership {
                version,
                leader: builder.leader,
                members: builder.members,
            }));
            Ok(version)
        })
    }
}

/// A per-thread cached view of a [`SharedMembership`] (see
/// [`SharedMembership::reader`]).
///
/// # Examples
///
/// ```
/// use node_state::{Role, SharedMembership};
///
/// let shared = SharedMembership::new();
/// let mut reader = shared.reader();
/// assert_eq!(reader.load().version(), 0);
/// shared
///     .update(|m| {
///         m.insert(1, Role::Leader, "a:1".into());
///         Ok(())
///     })
///     .unwrap();
/// assert_eq!(reader.load().leader(), Some(1)); // sees the new version
/// ```
pub struct MembershipReader<'a> {
    cache: PublishedCache<'a, Membership>,
}

impl std::fmt::Debug for MembershipReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MembershipReader").finish_non_exhaustive()
    }
}

impl MembershipReader<'_> {
    /// The current version (refreshed if a newer one was published).
    #[inline]
    pub fn load(&mut self) -> &Arc<Membership> {
        self.cache.load()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(id: NodeId) -> Arc<str> {
        Arc::from(format!("10.0.0.{id}:7000"))
    }

    #[test]
    fn id_hasher_spreads_small_ids_and_hashes_bytes() {
        use std::hash::BuildHasher;
        let b = BuildIdHasher::default();
        let mut seen: Vec<u64> = (0..1000u64).map(|id| b.hash_one(id)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1000);
        // Top 7 bits (hashbrown's tag) vary too.
        let tags: std::collections::HashSet<u64> =
            (0..1000u64).map(|id| b.hash_one(id) >> 57).collect();
        assert!(tags.len() > 64, "{} distinct tags", tags.len());
        let mut h = IdHasher::default();
        h.write(b"0123456789");
        let mut g = IdHasher::default();
        g.write(b"0123456788");
        assert_ne!(h.finish(), g.finish());
    }

    #[test]
    fn reader_follows_new_versions() {
        let s = SharedMembership::new();
        let mut r = s.reader();
        assert_eq!(r.load().version(), 0);
        let held = Arc::clone(r.load());
        s.update(|b| {
            b.insert(1, Role::Voter, addr(1));
            Ok(())
        })
        .unwrap();
        assert_eq!(r.load().version(), 1);
        assert_eq!(r.load().len(), 1);
        assert_eq!(held.version(), 0);
    }

    #[test]
    fn new_leader_demotes_the_old_one() {
        let s = SharedMembership::new();
        s.update(|b| {
            b.insert(1, Role::Leader, addr(1));
            b.insert(2, Role::Voter, addr(2));
            b.insert(3, Role::Learner, addr(3));
            Ok(())
        })
        .unwrap();
        s.update(|b| b.set_role(3, Role::Leader).map(|_| ()))
            .unwrap();
        let m = s.snapshot();
        assert_eq!(m.version(), 2);
        assert_eq!(m.leader(), Some(3));
        assert_eq!(m.role_of(1), Some(Role::Voter));
        assert_eq!(m.iter().filter(|(_, m)| m.role == Role::Leader).count(), 1);
        let mut voters: Vec<_> = m.voters().collect();
        voters.sort_unstable();
        assert_eq!(voters, [1, 2, 3]);
    }

    #[test]
    fn removing_or_demoting_the_leader_clears_it() {
        let s = SharedMembership::new();
        s.update(|b| {
            b.insert(1, Role::Leader, addr(1));
            Ok(())
        })
        .unwrap();
        s.update(|b| b.set_role(1, Role::Voter).map(|_| ()))
            .unwrap();
        assert_eq!(s.snapshot().leader(), None);
        s.update(|b| b.set_role(1, Role::Leader).map(|_| ()))
            .unwrap();
        s.update(|b| {
            b.remove(1);
            Ok(())
        })
        .unwrap();
        let m = s.snapshot();
        assert_eq!((m.leader(), m.len(), m.version()), (None, 0, 4));
    }

    #[test]
    fn failed_update_publishes_nothing() {
        let s = SharedMembership::new();
        s.update(|b| {
            b.insert(1, Role::Voter, addr(1));
            Ok(())
        })
        .unwrap();
        let err = s
            .update(|b| {
                b.insert(2, Role::Voter, addr(2));
                b.set_role(9, Role::Leader).map(|_| ())
            })
            .unwrap_err();
        assert_eq!(err, Error::UnknownMember(9));
        assert_eq!(s.version(), 1);
        assert!(s.snapshot().get(2).is_none());
    }

    #[test]
    fn snapshot_shares_addresses_between_versions() {
        let s = SharedMembership::new();
        s.update(|b| {
            b.insert(1, Role::Voter, addr(1));
            Ok(())
        })
        .unwrap();
        let v1 = s.snapshot();
        s.update(|b| {
            b.insert(2, Role::Voter, addr(2));
            Ok(())
        })
        .unwrap();
        let v2 = s.snapshot();
        assert!(Arc::ptr_eq(
            &v1.get(1).unwrap().addr,
            &v2.get(1).unwrap().addr
        ));
        assert_eq!(v1.len(), 1);
        s.update(|b| b.set_addr(1, "h:1".into()).map(|_| ()))
            .unwrap();
        assert_eq!(&*s.snapshot().get(1).unwrap().addr, "h:1");
        assert_eq!(
            s.update(|b| b.set_addr(5, "h:5".into()).map(|_| ())),
            Err(Error::UnknownMember(5))
        );
    }
}
