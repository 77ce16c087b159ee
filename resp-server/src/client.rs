//! Per-connection state, and the registry of connected clients behind
//! `CLIENT LIST`, `CLIENT KILL`, `INFO clients` and `maxclients`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use hashbrown::HashMap;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::blocking::{BlockRequest, Blocked};
use crate::reply::{Protocol, Reply};

/// `CLIENT REPLY` mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplyMode {
    /// Replies are sent (default).
    #[default]
    On,
    /// No replies until `CLIENT REPLY ON`.
    Off,
    /// The next command's reply is dropped.
    Skip,
    /// The current command's reply is dropped, then back to `On`.
    SkipThis,
}

/// State of one connection, owned by its task.
#[derive(Debug)]
pub struct Client {
    /// Selected database.
    pub db: usize,
    /// Protocol of replies.
    pub proto: Protocol,
    /// Whether the client passed `AUTH` (or no password is set).
    pub authenticated: bool,
    /// `CLIENT REPLY` mode.
    pub reply_mode: ReplyMode,
    /// Close the connection once the current replies are written (`QUIT`,
    /// protocol errors, `CLIENT KILL` of oneself).
    pub close_after_reply: bool,
    /// The part of this client others can see.
    pub handle: Arc<ClientHandle>,
    /// Random source for `RANDOMKEY` and friends.
    pub rng: fastrand::Rng,
    /// The blocking command this client waits in, if any: the connection
    /// runs nothing else until it is served, times out or is unblocked.
    pub blocked: Option<Box<Blocked>>,
    /// Set by a handler that found nothing to serve and registered as a
    /// waiter ([`crate::cmd::Ctx::block_key`]); the connection turns it into
    /// [`Client::blocked`] once the handler returns.
    pub block_request: Option<BlockRequest>,
    /// Whether the commands now running are an `EXEC`'s queue (blocking
    /// commands then reply as if timed out, as in Redis).
    pub in_exec: bool,
    /// `MULTI` state: the queued commands, `WATCH`ed keys.
    pub tx: crate::tx::TxState,
    /// Pub/sub subscriptions.
    pub subs: crate::pubsub::Subscriptions,
    /// Source of [`Blocked::gen`] values (unique per client).
    block_seq: u64,
}

impl Client {
    /// A new client for a registered handle.
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Client {
        Client {
            db: 0,
            proto: Protocol::Resp2,
            authenticated,
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            rng: fastrand::Rng::with_seed(handle.id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            handle,
            blocked: None,
            block_request: None,
            in_exec: false,
            tx: Default::default(),
            subs: Default::default(),
            block_seq: 0,
        }
    }

    /// A new, non-zero id for a wait of this client in a blocking command.
    pub fn next_block_gen(&mut self) -> u64 {
        self.block_seq += 1;
        self.block_seq
    }

    /// Unique id (`CLIENT ID`).
    pub fn id(&self) -> u64 {
        self.handle.id
    }
}

/// What other connections may read or change of a client.
#[derive(Debug)]
pub struct ClientHandle {
    /// Unique id, never reused.
    pub id: u64,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub laddr: SocketAddr,
    /// When the connection was accepted (Unix ms).
    pub created_ms: u64,
    /// Last time a command arrived (Unix ms).
    pub last_interaction_ms: AtomicU64,
    /// Selected database, mirrored for `CLIENT LIST`.
    pub db: AtomicUsize,
    /// RESP version, mirrored for `CLIENT LIST`.
    pub resp: AtomicUsize,
    /// Name of the last command run, mirrored for `CLIENT LIST`.
    pub last_cmd: Mutex<&'static str>,
    /// Texts set by `CLIENT SETNAME` / `SETINFO`.
    pub names: Mutex<ClientNames>,
    /// `CLIENT NO-EVICT ON` (flag `e` in `CLIENT LIST`).
    pub no_evict: AtomicBool,
    /// `CLIENT NO-TOUCH ON` (flag `T` in `CLIENT LIST`).
    pub no_touch: AtomicBool,
    /// Set when the client must disconnect (`CLIENT KILL`, shutdown).
    pub killed: AtomicBool,
    /// Wakes the connection's task: to close (`killed`), for a push
    /// ([`ClientHandle::push`]), a key it waits on becoming ready
    /// ([`ClientHandle::wake_blocked`]) or `CLIENT UNBLOCK`.
    pub wake: Notify,
    /// Non-zero while the client waits in a blocking command: the
    /// [`Blocked::gen`] of that wait.
    pub block_gen: AtomicU64,
    /// Set when a key the client waits on became ready: the connection runs
    /// the blocked command again.
    pub block_ready: AtomicBool,
    /// `CLIENT UNBLOCK` request: 0 none, [`UNBLOCK_TIMEOUT`] or
    /// [`UNBLOCK_ERROR`].
    pub unblock: AtomicU8,
    /// Encoded pushes (pub/sub messages) not yet written to the socket.
    pub inbox: Mutex<BytesMut>,
    /// Whether `inbox` may hold bytes (checked without the lock).
    pub has_push: AtomicBool,
    /// Transaction and subscription counts, for `CLIENT LIST`.
    pub shown: Shown,
}

/// What `CLIENT LIST` shows of a client's transaction and subscriptions,
/// mirrored by its connection ([`crate::tx::TxState::show`],
/// [`crate::pubsub::Subscriptions`]).
#[derive(Debug)]
pub struct Shown {
    /// Channels subscribed to (`sub=`).
    pub sub: AtomicUsize,
    /// Patterns subscribed to (`psub=`).
    pub psub: AtomicUsize,
    /// Commands queued by `MULTI`, or -1 outside `MULTI` (`multi=`).
    pub multi: AtomicI64,
    /// Bytes held by the `MULTI` queue (`multi-mem=`).
    pub multi_mem: AtomicUsize,
}

impl Default for Shown {
    fn default() -> Shown {
        Shown {
            sub: AtomicUsize::new(0),
            psub: AtomicUsize::new(0),
            multi: AtomicI64::new(-1),
            multi_mem: AtomicUsize::new(0),
        }
    }
}

/// [`ClientHandle::unblock`]: reply as if the wait timed out.
pub const UNBLOCK_TIMEOUT: u8 = 1;
/// [`ClientHandle::unblock`]: reply with Redis' `-UNBLOCKED` error.
pub const UNBLOCK_ERROR: u8 = 2;

/// Names a client gave itself.
#[derive(Debug, Default, Clone)]
pub struct ClientNames {
    /// `CLIENT SETNAME`.
    pub name: String,
    /// `CLIENT SETINFO LIB-NAME`.
    pub lib_name: String,
    /// `CLIENT SETINFO LIB-VER`.
    pub lib_ver: String,
}

impl ClientHandle {
    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Wakes the client if it still waits in the wait `gen` (a key it is
    /// registered on became ready). Returns whether it did: false means the
    /// waiter was stale and the next one should be woken instead.
    pub fn wake_blocked(&self, gen: u64) -> bool {
        if gen == 0 || self.block_gen.load(Ordering::Acquire) != gen {
            return false;
        }
        self.block_ready.store(true, Ordering::Release);
        self.wake.notify_one();
        true
    }

    /// Appends a push (a pub/sub message) encoded by `f` in the client's
    /// protocol to its inbox and wakes its task.
    ///
    /// If the inbox then holds more than `limit` bytes (0: unlimited), the
    /// client is killed instead and the inbox emptied, as Redis'
    /// `client-output-buffer-limit` hard limit closes a slow subscriber:
    /// memory stays bounded by `limit` per client. Returns false then (or if
    /// the client is already closing).
    pub fn push(&self, limit: usize, f: impl FnOnce(&mut Reply<'_>)) -> bool {
        if self.is_killed() {
            return false;
        }
        let proto = if self.resp.load(Ordering::Relaxed) == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        let mut inbox = self.inbox.lock();
        f(&mut Reply::new(&mut inbox, proto));
        if limit != 0 && inbox.len() > limit {
            *inbox = BytesMut::new();
            drop(inbox);
            tracing::warn!(
                id = self.id,
                "closing client that reached its output buffer limit (pubsub)"
            );
            self.kill();
            return false;
        }
        drop(inbox);
        self.has_push.store(true, Ordering::Release);
        self.wake.notify_one();
        true
    }

    /// Moves the pushes waiting in the inbox to the end of `out`.
    pub fn take_pushes(&self, out: &mut BytesMut) {
        if !self.has_push.swap(false, Ordering::AcqRel) {
            return;
        }
        let mut inbox = self.inbox.lock();
        out.extend_from_slice(&inbox);
        inbox.clear();
        if inbox.capacity() > 1 << 20 {
            *inbox = BytesMut::new();
        }
    }

    /// Whether the client was asked to close (it may still be registered
    /// until its task ends; `CLIENT LIST` and `CLIENT KILL` skip it, as
    /// Redis frees a killed client at once).
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Appends this client's line of `CLIENT LIST` / `CLIENT INFO` to `out`,
    /// without the trailing newline, in Redis 7.2's field order.
    ///
    /// `now_ms` is the current Unix time in milliseconds (`age` and `idle`
    /// are whole seconds). `running` is the full name of the command being
    /// executed (`client|list`) when the line describes the calling client:
    /// it is then reported as `cmd` and `idle` is 0, as Redis updates both
    /// before running a command. Fields this server does not track (buffer
    /// and memory sizes, `fd`) are 0.
    pub fn write_info(&self, out: &mut String, now_ms: u64, running: Option<&str>) {
        use std::fmt::Write;
        let last_cmd = *self.last_cmd.lock();
        let (cmd, idle_since) = match running {
            Some(cmd) => (cmd, now_ms),
            None => (last_cmd, self.last_interaction_ms.load(Ordering::Relaxed)),
        };
        let age = now_ms.saturating_sub(self.created_ms) / 1000;
        let idle = now_ms.saturating_sub(idle_since) / 1000;
        let shown = &self.shown;
        let (sub, psub) = (
            shown.sub.load(Ordering::Relaxed),
            shown.psub.load(Ordering::Relaxed),
        );
        let multi = shown.multi.load(Ordering::Relaxed);
        let mut flags = String::new();
        if sub + psub > 0 {
            flags.push('P');
        }
        if multi >= 0 {
            flags.push('x');
        }
        if self.no_evict.load(Ordering::Relaxed) {
            flags.push('e');
        }
        if self.no_touch.load(Ordering::Relaxed) {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let names = self.names.lock();
        let _ = write!(
            out,
            "id={} addr={} laddr={} fd=0 name={} age={age} idle={idle} flags={flags} \
             db={} sub={sub} psub={psub} ssub=0 multi={multi} qbuf=0 qbuf-free=0 argv-mem=0 \
             multi-mem={} \
             rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={cmd} user=default \
             redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            names.name,
            self.db.load(Ordering::Relaxed),
            shown.multi_mem.load(Ordering::Relaxed),
            self.resp.load(Ordering::Relaxed),
            names.lib_name,
            names.lib_ver,
        );
    }
}

/// All connected clients.
#[derive(Debug, Default)]
pub struct Clients {
    next_id: AtomicU64,
    map: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    count: AtomicUsize,
}

impl Clients {
    /// Registers a connection unless `maxclients` are already connected.
    pub fn register(
        &self,
        addr: SocketAddr,
        laddr: SocketAddr,
        now_ms: u64,
        maxclients: usize,
    ) -> Option<Arc<ClientHandle>> {
        if self.count.fetch_add(1, Ordering::SeqCst) >= maxclients {
            self.count.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            created_ms: now_ms,
            last_interaction_ms: AtomicU64::new(now_ms),
            db: AtomicUsize::new(0),
            resp: AtomicUsize::new(2),
            last_cmd: Mutex::new("NULL"),
            names: Mutex::new(ClientNames::default()),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            wake: Notify::new(),
            block_gen: AtomicU64::new(0),
            block_ready: AtomicBool::new(false),
            unblock: AtomicU8::new(0),
            inbox: Mutex::new(BytesMut::new()),
            has_push: AtomicBool::new(false),
            shown: Shown::default(),
        });
        self.map.lock().insert(id, handle.clone());
        Some(handle)
    }

    /// Removes a closed connection.
    pub fn unregister(&self, id: u64) {
        if self.map.lock().remove(&id).is_some() {
            self.count.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The client with id `id`, if connected.
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.map.lock().get(&id).cloned()
    }

    /// Handles of all clients, ordered by id.
    pub fn snapshot(&self) -> Vec<Arc<ClientHandle>> {
        let mut v: Vec<_> = self.map.lock().values().cloned().collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// Number of clients waiting in a blocking command (`blocked_clients`).
    pub fn blocked(&self) -> usize {
        self.map
            .lock()
            .values()
            .filter(|c| c.block_gen.load(Ordering::Relaxed) != 0 && !c.is_killed())
            .count()
    }

    /// Asks every client to close (shutdown).
    pub fn kill_all(&self) {
        for c in self.map.lock().values() {
            c.kill();
        }
    }
}
