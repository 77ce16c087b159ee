//! Pub/sub: channels, patterns and their subscribers (Redis 7.0's
//! `pubsub.c`).
//!
//! The server-wide [`Registry`] (in [`crate::shared::Shared`]) maps each
//! channel and each pattern to its subscribers, behind one `RwLock`:
//! `PUBLISH` takes it for reading, (un)subscribing for writing. Each
//! client's [`Subscriptions`] mirror its own channels and patterns, so that
//! `UNSUBSCRIBE` without arguments, `RESET` and a disconnect (its `Drop`)
//! remove exactly that client's entries.
//!
//! Delivery: [`Registry::publish`] encodes the message into each
//! subscriber's inbox in that subscriber's protocol (an array in RESP2, a
//! push frame in RESP3) with [`ClientHandle::push`], which wakes the
//! subscriber's task. A subscriber whose inbox passes the `pubsub` hard
//! limit of `client-output-buffer-limit` is disconnected and its inbox
//! freed, so a subscriber that never reads costs bounded memory.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use hashbrown::{HashMap, HashSet};
use parking_lot::RwLock;

use crate::client::ClientHandle;
use crate::reply::Reply;

/// Subscribers of one channel or pattern, by client id.
type Subscribers = HashMap<u64, Arc<ClientHandle>>;

/// Whether a subscription is to a channel or to a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `SUBSCRIBE channel`.
    Channel,
    /// `PSUBSCRIBE pattern` (glob-style, as `KEYS`).
    Pattern,
}

impl Kind {
    /// The confirmation names of `(un)subscribe` for this kind.
    fn names(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Kind::Channel => (b"subscribe", b"unsubscribe"),
            Kind::Pattern => (b"psubscribe", b"punsubscribe"),
        }
    }
}

/// Every channel and pattern with at least one subscriber.
#[derive(Debug, Default)]
pub struct Registry {
    tables: RwLock<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    channels: HashMap<Box<[u8]>, Subscribers>,
    patterns: HashMap<Box<[u8]>, Subscribers>,
}

impl Tables {
    fn of(&mut self, kind: Kind) -> &mut HashMap<Box<[u8]>, Subscribers> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
        }
    }

    /// Removes `id` from `name`'s subscribers, dropping an emptied entry.
    fn remove(&mut self, kind: Kind, name: &[u8], id: u64) {
        let table = self.of(kind);
        if let Some(subs) = table.get_mut(name) {
            subs.remove(&id);
            if subs.is_empty() {
                table.remove(name);
            }
        }
    }
}

impl Registry {
    /// Sends `message` on `channel` to the subscribers of the channel, then
    /// to those of every matching pattern (`message` and `pmessage`
    /// frames); returns how many deliveries were made (a client subscribed
    /// to the channel and to a matching pattern counts twice), as `PUBLISH`
    /// replies. `limit` is the per-subscriber inbox limit in bytes (0:
    /// none).
    pub fn publish(&self, channel: &[u8], message: &[u8], limit: usize) -> usize {
        let tables = self.tables.read();
        let mut receivers = 0;
        if let Some(subs) = tables.channels.get(channel) {
            for h in subs.values() {
                if !h.is_killed() {
                    receivers += 1;
                    h.push(limit, |out| {
                        out.push(3);
                        out.bulk(b"message");
                        out.bulk(channel);
                        out.bulk(message);
                    });
                }
            }
        }
        for (pattern, subs) in &tables.patterns {
            if !crate::glob::matches(pattern, channel, false) {
                continue;
            }
            for h in subs.values() {
                if !h.is_killed() {
                    receivers += 1;
                    h.push(limit, |out| {
                        out.push(4);
                        out.bulk(b"pmessage");
                        out.bulk(pattern);
                        out.bulk(channel);
                        out.bulk(message);
                    });
                }
            }
        }
        receivers
    }

    /// Active channels (with at least one subscriber) matching the glob
    /// `pattern` (all when None), in no particular order (`PUBSUB
    /// CHANNELS`).
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        let tables = self.tables.read();
        tables
            .channels
            .keys()
            .filter(|c| pattern.is_none_or(|p| crate::glob::matches(p, c, false)))
            .cloned()
            .collect()
    }

    /// Number of subscribers of `channel`, pattern subscriptions excluded
    /// (`PUBSUB NUMSUB`).
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.tables
            .read()
            .channels
            .get(channel)
            .map_or(0, |s| s.len())
    }

    /// Number of distinct patterns subscribed to (`PUBSUB NUMPAT`).
    pub fn numpat(&self) -> usize {
        self.tables.read().patterns.len()
    }

    /// Numbers of active channels and patterns (`INFO stats`).
    pub fn counts(&self) -> (usize, usize) {
        let t = self.tables.read();
        (t.channels.len(), t.patterns.len())
    }
}

/// A client's subscriptions, mirrored in the [`Registry`].
///
/// Dropping it (the connection ends) removes the client from the registry.
#[derive(Debug, Default)]
pub struct Subscriptions {
    channels: HashSet<Box<[u8]>>,
    patterns: HashSet<Box<[u8]>>,
    /// The registry and this client, known from the first subscription on.
    owner: Option<(Arc<Registry>, Arc<ClientHandle>)>,
}

impl Subscriptions {
    /// Number of channels and patterns subscribed to.
    #[inline]
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    fn set(&mut self, kind: Kind) -> &mut HashSet<Box<[u8]>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
        }
    }

    /// Subscribes to each of `names` and writes one confirmation per name
    /// (`subscribe`/`psubscribe`, the name, the running count), as
    /// `SUBSCRIBE` and `PSUBSCRIBE` reply. Takes the registry's lock once.
    pub fn subscribe<'a>(
        &mut self,
        registry: &Arc<Registry>,
        handle: &Arc<ClientHandle>,
        kind: Kind,
        names: impl Iterator<Item = &'a [u8]>,
        out: &mut Reply<'_>,
    ) {
        if self.owner.is_none() {
            self.owner = Some((registry.clone(), handle.clone()));
        }
        let mut tables = registry.tables.write();
        for name in names {
            if !self.set(kind).contains(name) {
                self.set(kind).insert(name.into());
                tables
                    .of(kind)
                    .entry(name.into())
                    .or_default()
                    .insert(handle.id, handle.clone());
            }
            out.push(3);
            out.bulk(kind.names().0);
            out.bulk(name);
            out.int(self.count() as i64);
        }
        drop(tables);
        self.show(handle);
    }

    /// Unsubscribes from each of `names`, or from every subscription of
    /// `kind` when `names` is empty, writing one confirmation per name
    /// (`unsubscribe`/`punsubscribe`, the name, the remaining count); with
    /// nothing to unsubscribe from, one confirmation with a nil name, as
    /// `UNSUBSCRIBE` and `PUNSUBSCRIBE` reply. With `out` None, writes
    /// nothing (`RESET`).
    pub fn unsubscribe<'a>(
        &mut self,
        handle: &ClientHandle,
        kind: Kind,
        names: impl ExactSizeIterator<Item = &'a [u8]>,
        mut out: Option<&mut Reply<'_>>,
    ) {
        let name = kind.names().1;
        let all: Vec<Box<[u8]>>;
        let mut confirm = |subs: &Subscriptions, channel: Option<&[u8]>| {
            if let Some(out) = out.as_deref_mut() {
                out.push(3);
                out.bulk(name);
                match channel {
                    Some(c) => out.bulk(c),
                    None => out.null(),
                }
                out.int(subs.count() as i64);
            }
        };
        let registry = self.owner.as_ref().map(|(r, _)| r.clone());
        let mut tables = registry.as_ref().map(|r| r.tables.write());
        if names.len() == 0 {
            all = self.set(kind).iter().cloned().collect();
            if all.is_empty() {
                confirm(self, None);
            }
            for n in &all {
                self.set(kind).remove(n);
                if let Some(t) = tables.as_deref_mut() {
                    t.remove(kind, n, handle.id);
                }
                confirm(self, Some(n));
            }
        } else {
            for n in names {
                if self.set(kind).remove(n) {
                    if let Some(t) = tables.as_deref_mut() {
                        t.remove(kind, n, handle.id);
                    }
                }
                confirm(self, Some(n));
            }
        }
        drop(tables);
        self.show(handle);
    }

    /// Drops every subscription without replying (`RESET`).
    pub fn clear(&mut self, handle: &ClientHandle) {
        self.unsubscribe(handle, Kind::Channel, std::iter::empty(), None);
        self.unsubscribe(handle, Kind::Pattern, std::iter::empty(), None);
    }

    /// Mirrors the counts into `handle` for `CLIENT LIST` (`sub=`,
    /// `psub=`, flag `P`).
    fn show(&self, handle: &ClientHandle) {
        let shown = &handle.shown;
        shown.sub.store(self.channels.len(), Ordering::Relaxed);
        shown.psub.store(self.patterns.len(), Ordering::Relaxed);
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        let Some((registry, handle)) = self.owner.take() else {
            return;
        };
        if self.count() == 0 {
            return;
        }
        let mut tables = registry.tables.write();
        for c in self.channels.drain() {
            tables.remove(Kind::Channel, &c, handle.id);
        }
        for p in self.patterns.drain() {
            tables.remove(Kind::Pattern, &p, handle.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn handle(clients: &crate::client::Clients) -> Arc<ClientHandle> {
        let addr = "127.0.0.1:1".parse().unwrap();
        clients.register(addr, addr, 0, 100).unwrap()
    }

    #[derive(Debug, Clone)]
    enum Op {
        Sub(usize, Kind, u8),
        Unsub(usize, Kind, Option<u8>),
        Drop(usize),
        Publish(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        let kind = prop_oneof![Just(Kind::Channel), Just(Kind::Pattern)];
        prop_oneof![
            (0..3usize, kind.clone(), 0..4u8).prop_map(|(c, k, n)| Op::Sub(c, k, n)),
            (0..3usize, kind, prop::option::of(0..4u8)).prop_map(|(c, k, n)| Op::Unsub(c, k, n)),
            (0..3usize).prop_map(Op::Drop),
            (0..4u8).prop_map(Op::Publish),
        ]
    }

    /// Channel `n` is `c<n>`; pattern `n` is `c<n>*` (so pattern n matches
    /// channel n).
    fn name(kind: Kind, n: u8) -> Vec<u8> {
        match kind {
            Kind::Channel => format!("c{n}").into_bytes(),
            Kind::Pattern => format!("c{n}*").into_bytes(),
        }
    }

    proptest! {
        /// Against a model of per-client sets: counts, PUBLISH receivers,
        /// NUMSUB/NUMPAT/CHANNELS, and cleanup on drop.
        #[test]
        fn registry_matches_model(ops in prop::collection::vec(op(), 0..60)) {
            let clients = crate::client::Clients::default();
            let registry = Arc::new(Registry::default());
            let handles: Vec<_> = (0..3).map(|_| handle(&clients)).collect();
            let mut subs: Vec<Subscriptions> = (0..3).map(|_| Subscriptions::default()).collect();
            let mut model: Vec<BTreeSet<(bool, u8)>> = vec![BTreeSet::new(); 3];
            let mut buf = BytesMut::new();
            for op in ops {
                let mut out = Reply::new(&mut buf, crate::reply::Protocol::Resp2);
                match op {
                    Op::Sub(c, k, n) => {
                        let nm = name(k, n);
                        subs[c].subscribe(&registry, &handles[c], k, std::iter::once(&nm[..]), &mut out);
                        model[c].insert((k == Kind::Pattern, n));
                    }
                    Op::Unsub(c, k, n) => {
                        let p = k == Kind::Pattern;
                        match n {
                            Some(n) => {
                                let nm = name(k, n);
                                subs[c].unsubscribe(&handles[c], k, std::iter::once(&nm[..]), Some(&mut out));
                                model[c].remove(&(p, n));
                            }
                            None => {
                                subs[c].unsubscribe(&handles[c], k, std::iter::empty(), Some(&mut out));
                                model[c].retain(|(q, _)| *q != p);
                            }
                        }
                    }
                    Op::Drop(c) => {
                        subs[c] = Subscriptions::default();
                        model[c].clear();
                    }
                    Op::Publish(n) => {
                        let ch = name(Kind::Channel, n);
                        let want: usize = model.iter().map(|m| {
                            m.iter().filter(|(_, x)| *x == n).count()
                        }).sum();
                        prop_assert_eq!(registry.publish(&ch, b"m", 0), want);
                    }
                }
                for c in 0..3 {
                    prop_assert_eq!(subs[c].count(), model[c].len());
                }
                let mut numsub = BTreeMap::new();
                let mut pats = BTreeSet::new();
                for m in &model {
                    for &(p, n) in m {
                        if p { pats.insert(n); } else { *numsub.entry(n).or_insert(0) += 1; }
                    }
                }
                for n in 0..4u8 {
                    prop_assert_eq!(registry.numsub(&name(Kind::Channel, n)), numsub.get(&n).copied().unwrap_or(0));
                }
                prop_assert_eq!(registry.numpat(), pats.len());
                let mut chans: Vec<_> = registry.channels(None).into_iter().map(|c| c.to_vec()).collect();
                chans.sort();
                let want: Vec<_> = numsub.keys().map(|&n| name(Kind::Channel, n)).collect();
                prop_assert_eq!(chans, want);
            }
            drop(subs);
            prop_assert_eq!(registry.counts(), (0, 0));
        }
    }

    #[test]
    fn slow_subscriber_is_killed_and_its_inbox_freed() {
        let clients = crate::client::Clients::default();
        let registry = Arc::new(Registry::default());
        let h = handle(&clients);
        let mut subs = Subscriptions::default();
        let mut buf = BytesMut::new();
        let mut out = Reply::new(&mut buf, crate::reply::Protocol::Resp2);
        subs.subscribe(
            &registry,
            &h,
            Kind::Channel,
            std::iter::once(&b"c"[..]),
            &mut out,
        );
        let msg = [b'x'; 100];
        let mut delivered = 0;
        for _ in 0..100 {
            delivered += registry.publish(b"c", &msg, 1000);
        }
        assert!(h.is_killed());
        assert!(h.inbox.lock().capacity() == 0);
        assert!(delivered < 100, "{delivered}");
    }
}
