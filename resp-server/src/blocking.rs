//! Blocking commands (`BLPOP`, `BLMOVE`, `BZPOPMIN`, ...): how a client waits
//! for keys and is woken in the order clients blocked.
//!
//! A blocking handler that finds nothing to serve registers the client as a
//! [`Waiter`] on each of its keys (in each key's [`Db`], under the shard
//! locks it already holds, so no write can slip between its check and its
//! registration) with [`Ctx::block_key`], then calls [`Ctx::block`] and
//! writes no reply. The connection saves the command ([`Blocked`]) and runs
//! nothing else for this client until one of these happens:
//!
//! - a write stores a list (or sorted set) at one of the keys: the [`Db`]
//!   wakes the *first* live waiter of that kind on the key
//!   ([`ClientHandle::wake_blocked`]). The woken client runs its saved
//!   command again; then ([`release`]) it leaves every queue it was in and,
//!   if a key still holds data, wakes the next waiter: one pushed element
//!   wakes one client, clients are served in the order they blocked, and a
//!   push of three elements serves the first three waiters one after the
//!   other, as Redis' `handleClientsBlockedOnKeys`. If the data was gone by
//!   then, the command blocks again (keeping its deadline).
//! - the deadline passes: the reply is [`TimeoutReply`] (nil).
//! - `CLIENT UNBLOCK`, `CLIENT KILL`, a disconnect or shutdown.
//!
//! Inside `EXEC` nothing blocks: [`Ctx::block`] writes the timeout reply at
//! once, as Redis does.
//!
//! [`Db`]: crate::keyspace::Db
//! [`Ctx::block_key`]: crate::cmd::Ctx::block_key
//! [`Ctx::block`]: crate::cmd::Ctx::block
//! [`ClientHandle::wake_blocked`]: crate::client::ClientHandle::wake_blocked

use std::sync::Arc;

use crate::client::ClientHandle;
use crate::keyspace::Value;
use crate::reply::Reply;
use crate::shared::Shared;

/// What a waiter waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// A list (`BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`).
    List,
    /// A sorted set (`BZPOPMIN`, `BZPOPMAX`, `BZMPOP`).
    ZSet,
}

impl BlockKind {
    /// Whether `value` can serve a waiter of this kind.
    #[inline]
    pub fn served_by(self, value: &Value) -> bool {
        match self {
            BlockKind::List => matches!(value, Value::List(_)),
            BlockKind::ZSet => matches!(value, Value::ZSet(_)),
        }
    }
}

/// The reply of a blocking command that timed out.
///
/// Redis 7.0 answers every timed-out list or sorted-set wait with a null
/// array, `BLMOVE` and `BRPOPLPUSH` included (inside `EXEC`, where they do
/// not block, those two reply a null bulk like `LMOVE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutReply {
    /// Null array (`*-1` in RESP2, `_` in RESP3).
    NullArray,
    /// Null bulk (`$-1` in RESP2, `_` in RESP3).
    NullBulk,
}

impl TimeoutReply {
    /// Writes the reply.
    pub fn write(self, out: &mut Reply<'_>) {
        match self {
            TimeoutReply::NullArray => out.null_array(),
            TimeoutReply::NullBulk => out.null(),
        }
    }
}

/// A client registered on a key, in the key's queue of waiters.
#[derive(Debug, Clone)]
pub struct Waiter {
    /// The waiting client.
    pub client: Arc<ClientHandle>,
    /// Which wait of the client ([`Blocked::gen`]); a waiter whose client no
    /// longer waits in `gen` is stale and skipped.
    pub gen: u64,
    /// What it waits for.
    pub kind: BlockKind,
}

impl Waiter {
    /// Whether the client still waits in this wait.
    #[inline]
    pub fn is_live(&self) -> bool {
        self.client
            .block_gen
            .load(std::sync::atomic::Ordering::Acquire)
            == self.gen
            && !self.client.is_killed()
    }
}

/// What a handler that blocks leaves for its connection (see
/// [`crate::cmd::Ctx::block_key`]).
#[derive(Debug, Default)]
pub struct BlockRequest {
    /// The wait's id.
    pub gen: u64,
    /// Keys registered on, in order.
    pub keys: Vec<Box<[u8]>>,
    /// Absolute deadline (Unix ms); None waits forever.
    pub deadline_ms: Option<u64>,
    /// Reply on timeout.
    pub on_timeout: Option<TimeoutReply>,
}

/// A command waiting for its keys: the request and an owned copy of the
/// command, run again when a key becomes ready.
#[derive(Debug)]
pub struct Blocked {
    /// The wait's id (unique per client, never 0).
    pub gen: u64,
    /// Database of the keys.
    pub db: usize,
    /// Keys the client waits on.
    pub keys: Vec<Box<[u8]>>,
    /// Absolute deadline (Unix ms); None waits forever.
    pub deadline_ms: Option<u64>,
    /// Reply on timeout.
    pub on_timeout: TimeoutReply,
    /// The command's arguments, one after the other.
    pub args: Vec<u8>,
    /// `(start, end)` of each argument in `args`.
    pub ranges: Vec<(u32, u32)>,
}

impl Blocked {
    /// Saves a command that blocked with `req`.
    pub fn new(req: BlockRequest, db: usize, args: crate::cmd::Args<'_>) -> Blocked {
        let mut bytes = Vec::new();
        let mut ranges = Vec::with_capacity(args.len());
        for a in args.iter_from(0) {
            let start = bytes.len() as u32;
            bytes.extend_from_slice(a);
            ranges.push((start, bytes.len() as u32));
        }
        Blocked {
            gen: req.gen,
            db,
            keys: req.keys,
            deadline_ms: req.deadline_ms,
            on_timeout: req.on_timeout.unwrap_or(TimeoutReply::NullArray),
            args: bytes,
            ranges,
        }
    }

    /// The saved command.
    pub fn args(&self) -> crate::cmd::Args<'_> {
        crate::cmd::Args::new(&self.args, &self.ranges)
    }
}

/// Ends the wait `gen` of `client` on `keys` of database `db`: removes its
/// waiters from every queue, and for each key that holds data for the next
/// waiter, wakes that waiter (passing on a wake-up this client used or
/// can no longer use). Locks the keys' shards once each.
pub fn release(
    shared: &Shared,
    client: &ClientHandle,
    db: usize,
    keys: &[Box<[u8]>],
    gen: u64,
    now_ms: u64,
) {
    let ks = &shared.keyspace;
    let (routes, shards) = crate::cmd::route(shared, keys.iter().map(|k| &k[..]));
    let mut locked = ks.lock_shards(&shards);
    for (key, r) in keys.iter().zip(&routes) {
        let d = locked.shard(r.shard).db(db);
        d.remove_waiter(key, client.id, gen);
        d.wake_if_ready(key, r.hash, now_ms);
    }
}
