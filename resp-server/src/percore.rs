//! Shard-per-thread concurrency (`threading shard-per-thread`), after
//! Dragonfly's shared-nothing design: the other option of
//! `docs/design/concurrency.md`, next to the default striped locks.
//!
//! `N` worker threads (`threads`, default one per core) each run their own
//! current-thread tokio runtime. Thread `t` owns the shards `s` with
//! `s % N == t` ([`owner`]) and drives their active expiry. The listener
//! hands accepted connections to the threads round-robin; a connection then
//! lives on its thread. For every command of a batch (everything one read
//! brought), the connection decides where it runs:
//!
//! - every key on a shard of its own thread: inline, at once;
//! - every key on the shards of one other thread: copied into that
//!   thread's message for this batch — one message per target thread per
//!   batch, never one per key — which carries the arguments in one owned
//!   buffer (bytes and offsets), the client's database and protocol, and the
//!   batch's `now`. The owner runs them in order through the same
//!   [`execute`] and sends back one buffer of encoded replies (with the end
//!   of each reply) over a oneshot; the connection splices the replies into
//!   its write buffer at their places;
//! - anything else — no key (`PING`, `SELECT`, `HELLO`, `AUTH`, `CLIENT`,
//!   `QUIT`, `FLUSHALL`, `DBSIZE`, `KEYS`, `EXEC` ...), keys on several
//!   threads (`MGET`/`MSET` over many shards), commands not flagged `write`
//!   or `readonly` (they may change the client: `WATCH`), blocking commands
//!   and commands with movable keys, and every command of a client that is
//!   not authenticated, has `CLIENT REPLY OFF/SKIP`, is inside `MULTI` or
//!   is subscribed: inline,
//!   after the messages already built for this batch were sent and answered
//!   (a barrier), so it sees every earlier command of the client and none of
//!   the later ones.
//!
//! Replies therefore come in the client's order, and one client's commands
//! on one shard run in its order: inline commands run in order, a message
//! runs in order, and a barrier waits for all messages before it. The
//! executor does not know any of this: shards keep their mutexes (only their
//! owner locks them, except for the barrier commands above, which lock as
//! in striped mode), so correctness never depends on the routing.
//!
//! Routing trusts the command table's key positions (`first_key`,
//! `last_key`, `step`). A command whose keys are not all at those positions
//! (Redis' "movablekeys": `ZUNIONSTORE`, `SORT ... STORE`, `LMPOP` ...) must
//! carry the `MOVABLE_KEYS` flag (it then runs inline, after a barrier), or
//! it could run on the wrong thread and overtake a command of the same
//! client.
//!
//! [`execute`]: crate::connection::execute

use std::sync::Arc;

use bytes::BytesMut;
use tokio::sync::{mpsc, oneshot};

use crate::client::{Client, ClientHandle, ReplyMode};
use crate::cmd::{self, flags, Args};
use crate::connection::{self, protocol_error, Batches, Connection};
use crate::parse::ArgSource;
use crate::shared::Shared;

/// Capacity (bytes) above which a message's buffers are dropped after use
/// rather than kept for the next batch, so one big batch does not pin memory
/// for the life of the connection.
const KEEP_MAX: usize = 1 << 20;

/// Jobs a worker takes from its queue per wake-up, at most, before it lets
/// its connections run.
const JOBS_PER_WAKE: usize = 64;

/// The thread owning shard `shard` when `threads` threads serve.
#[inline]
pub fn owner(shard: usize, threads: usize) -> usize {
    shard % threads.max(1)
}

/// What a worker thread receives.
enum Job {
    /// A connection the listener accepted, already registered.
    Conn(std::net::TcpStream, Arc<ClientHandle>),
    /// Commands of a connection of another thread on this thread's shards;
    /// the message goes back, replies filled in, through the sender.
    Exec(Box<Message>, oneshot::Sender<Box<Message>>),
}

/// One message: the commands of one batch of one connection for one thread,
/// and then their replies. A connection keeps one per target thread and
/// reuses it (the owner sends it back), so its buffers are allocated once.
#[derive(Debug)]
struct Message {
    /// Runs the commands: the sender's handle, database and protocol.
    client: Client,
    /// The batch's time (Unix ms).
    now_ms: u64,
    /// Every argument of every command, one after the other.
    args: Vec<u8>,
    /// `(start, end)` of each argument in `args`.
    ranges: Vec<(u32, u32)>,
    /// Number of arguments of each command, in order.
    argc: Vec<u32>,
    /// Encoded replies, one after the other.
    out: BytesMut,
    /// End offset of each command's reply in `out`.
    ends: Vec<usize>,
}

impl Message {
    fn new(handle: Arc<ClientHandle>) -> Message {
        Message {
            client: Client::new(handle, true),
            now_ms: 0,
            args: Vec::new(),
            ranges: Vec::new(),
            argc: Vec::new(),
            out: BytesMut::new(),
            ends: Vec::new(),
        }
    }

    /// Forgets the commands and replies, keeping reasonable buffers.
    fn clear(&mut self) {
        self.argc.clear();
        self.ends.clear();
        if self.args.capacity() > KEEP_MAX {
            self.args = Vec::new();
            self.ranges = Vec::new();
        } else {
            self.args.clear();
            self.ranges.clear();
        }
        if self.out.capacity() > KEEP_MAX {
            self.out = BytesMut::new();
        } else {
            self.out.clear();
        }
    }

    /// Runs the commands in order (on the owner thread).
    fn run(&mut self, shared: &Shared) {
        self.out.clear();
        self.ends.clear();
        let mut at = 0usize;
        for &argc in &self.argc {
            let end = at + argc as usize;
            let Some(ranges) = self.ranges.get(at..end) else {
                break;
            };
            at = end;
            let args = Args::new(&self.args, ranges);
            connection::execute(shared, &mut self.client, self.now_ms, args, &mut self.out);
            self.ends.push(self.out.len());
        }
    }
}

/// The worker threads, as the listener sees them.
#[derive(Debug)]
pub(crate) struct Workers {
    senders: Arc<[mpsc::UnboundedSender<Job>]>,
    threads: Vec<std::thread::JoinHandle<()>>,
    next: usize,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Conn(_, h) => write!(f, "Conn({})", h.id),
            Job::Exec(m, _) => write!(f, "Exec({} commands)", m.argc.len()),
        }
    }
}

impl Workers {
    /// Starts `n` (at least 1) worker threads, each driving the active
    /// expiry of its shards.
    ///
    /// # Errors
    /// If a thread cannot be spawned (the ones already started stop when the
    /// server shuts down).
    pub(crate) fn start(shared: &Arc<Shared>, n: usize) -> std::io::Result<Workers> {
        let n = n.max(1);
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..n).map(|_| mpsc::unbounded_channel()).unzip();
        let senders: Arc<[mpsc::UnboundedSender<Job>]> = senders.into();
        let mut threads = Vec::with_capacity(n);
        for (me, rx) in receivers.into_iter().enumerate() {
            let shared = shared.clone();
            let peers = senders.clone();
            let thread = std::thread::Builder::new()
                .name(format!("shard-worker-{me}"))
                .spawn(move || worker(shared, me, peers, rx))?;
            threads.push(thread);
        }
        Ok(Workers {
            senders,
            threads,
            next: 0,
        })
    }

    /// Hands a registered connection to the next thread, round-robin.
    pub(crate) fn assign(
        &mut self,
        shared: &Shared,
        stream: tokio::net::TcpStream,
        handle: Arc<ClientHandle>,
    ) {
        let id = handle.id;
        let to = self.next;
        self.next = (self.next + 1) % self.senders.len();
        let sent = match stream.into_std() {
            Ok(stream) => self.senders[to].send(Job::Conn(stream, handle)).is_ok(),
            Err(e) => {
                tracing::warn!("cannot hand a connection to a worker: {e}");
                false
            }
        };
        if !sent {
            shared.clients.unregister(id);
        }
    }

    /// Waits until every worker thread stopped (after shutdown).
    pub(crate) async fn join(self) {
        let threads = self.threads;
        drop(self.senders);
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

/// Body of worker thread `me`: serves its connections and the messages of
/// the other threads' connections until shutdown, then until its last
/// connection closed.
fn worker(
    shared: Arc<Shared>,
    me: usize,
    peers: Arc<[mpsc::UnboundedSender<Job>]>,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("worker {me}: cannot start its runtime: {e}");
            return;
        }
    };
    let n = peers.len();
    runtime.block_on(async move {
        for shard in (0..shared.keyspace.shard_count()).filter(|&s| owner(s, n) == me) {
            crate::server::spawn_expiry_driver(&shared, shard);
        }
        let mut shutdown = shared.shutdown_signal();
        let mut stopping = shared.is_shutting_down();
        let mut conns = tokio::task::JoinSet::new();
        let mut jobs = Vec::with_capacity(JOBS_PER_WAKE);
        loop {
            if stopping && conns.is_empty() {
                break;
            }
            tokio::select! {
                got = rx.recv_many(&mut jobs, JOBS_PER_WAKE) => {
                    if got == 0 {
                        break;
                    }
                    for job in jobs.drain(..) {
                        match job {
                            Job::Exec(mut msg, reply) => {
                                msg.run(&shared);
                                let _ = reply.send(msg);
                            }
                            Job::Conn(stream, handle) => {
                                let stream = if stopping {
                                    None
                                } else {
                                    tokio::net::TcpStream::from_std(stream).ok()
                                };
                                match stream {
                                    Some(stream) => {
                                        let router = Router::new(me, peers.clone());
                                        conns.spawn(connection::serve_with(
                                            shared.clone(),
                                            stream,
                                            handle,
                                            router,
                                        ));
                                    }
                                    None => shared.clients.unregister(handle.id),
                                }
                            }
                        }
                    }
                }
                _ = shutdown.changed(), if !stopping => stopping = true,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    });
    // Dropping the runtime cancels the expiry drivers; dropping `rx` fails
    // the messages still queued, so their connections close.
}

/// Where a command runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// On this thread, now.
    Here,
    /// In the message to this thread; the command's name.
    There(usize, &'static str),
    /// On this thread, once the messages built so far are answered.
    Alone,
}

/// The shard-per-thread way of running a batch: one per connection.
#[derive(Debug)]
pub(crate) struct Router {
    /// This connection's thread.
    me: usize,
    /// Queues of every thread, in thread order.
    peers: Arc<[mpsc::UnboundedSender<Job>]>,
    /// The message being built for each thread (None while away, or before
    /// the first use).
    messages: Vec<Option<Box<Message>>>,
    /// Whether any message holds a command.
    pending: bool,
    /// Remote commands of the batch in order: (offset in the write buffer
    /// where the reply goes, target thread).
    slots: Vec<(usize, usize)>,
    /// Messages away, waiting for their replies.
    away: Vec<(usize, oneshot::Receiver<Box<Message>>)>,
    /// Per thread: replies spliced so far and end of the last one.
    cursor: Vec<(usize, usize)>,
    /// Local replies written after the first remote one, while splicing.
    tail: BytesMut,
}

impl Router {
    fn new(me: usize, peers: Arc<[mpsc::UnboundedSender<Job>]>) -> Router {
        let n = peers.len();
        Router {
            me,
            peers,
            messages: (0..n).map(|_| None).collect(),
            pending: false,
            slots: Vec::new(),
            away: Vec::with_capacity(n),
            cursor: vec![(0, 0); n],
            tail: BytesMut::new(),
        }
    }

    /// The thread owning `key`.
    #[inline]
    fn thread_of(&self, shared: &Shared, key: &[u8]) -> usize {
        let ks = &shared.keyspace;
        owner(ks.shard_of(ks.hash(key)), self.peers.len())
    }

    /// Decides where a command runs (see the module documentation).
    fn route(&self, shared: &Shared, client: &Client, args: Args<'_>) -> Route {
        if !client.authenticated
            || client.reply_mode != ReplyMode::On
            || client.tx.in_multi()
            || client.subs.count() > 0
        {
            // Queued by MULTI, or restricted by the pub/sub context: the
            // client's own state decides, here.
            return Route::Alone;
        }
        let name = args.get(0);
        let fast = if args.len() == 2 && name.eq_ignore_ascii_case(b"get") {
            Some("get")
        } else if args.len() == 3 && name.eq_ignore_ascii_case(b"set") {
            Some("set")
        } else {
            None
        };
        if let Some(name) = fast {
            return self.route_to(self.thread_of(shared, args.get(1)), name);
        }
        let Some(command) = cmd::lookup(name) else {
            return Route::Here; // an error reply, touching nothing
        };
        if !command.arity_ok(args.len()) {
            return Route::Here;
        }
        if !command.has(flags::WRITE | flags::READONLY)
            || command.has(flags::BLOCKING | flags::MOVABLE_KEYS)
        {
            return Route::Alone;
        }
        let mut thread = None;
        for i in command.key_positions(args.len()) {
            let t = self.thread_of(shared, args.get(i));
            match thread {
                None => thread = Some(t),
                Some(x) if x == t => {}
                Some(_) => return Route::Alone,
            }
        }
        match thread {
            Some(t) => self.route_to(t, command.name),
            None => Route::Alone,
        }
    }

    #[inline]
    fn route_to(&self, thread: usize, name: &'static str) -> Route {
        if thread == self.me {
            Route::Here
        } else {
            Route::There(thread, name)
        }
    }

    /// Copies a command into the message for `thread`; its reply goes at
    /// offset `at` of the write buffer. Returns false (copying nothing) when
    /// the message cannot take it: it was built for another database or
    /// protocol, or would outgrow its 4 GiB of offsets.
    fn enqueue(
        &mut self,
        thread: usize,
        client: &Client,
        now_ms: u64,
        args: Args<'_>,
        at: usize,
    ) -> bool {
        let msg = self.messages[thread]
            .get_or_insert_with(|| Box::new(Message::new(client.handle.clone())));
        if msg.argc.is_empty() {
            msg.client.db = client.db;
            msg.client.proto = client.proto;
            msg.now_ms = now_ms;
        } else if msg.client.db != client.db
            || msg.client.proto != client.proto
            || msg.now_ms != now_ms
        {
            return false;
        }
        let bytes: usize = args.iter_from(0).map(<[u8]>::len).sum();
        if msg.args.len().saturating_add(bytes) > u32::MAX as usize {
            return false;
        }
        msg.args.reserve(bytes);
        for a in args.iter_from(0) {
            let start = msg.args.len() as u32;
            msg.args.extend_from_slice(a);
            msg.ranges.push((start, msg.args.len() as u32));
        }
        msg.argc.push(args.len() as u32);
        self.slots.push((at, thread));
        self.pending = true;
        true
    }

    /// Sends the messages built so far, waits for their replies and splices
    /// them into `wbuf` at their places. Returns false if a thread is gone
    /// (the server is stopping): the connection must close.
    async fn settle(&mut self, wbuf: &mut BytesMut) -> bool {
        if !self.pending {
            return true;
        }
        self.pending = false;
        for (thread, slot) in self.messages.iter_mut().enumerate() {
            let Some(msg) = slot.take_if(|m| !m.argc.is_empty()) else {
                continue;
            };
            let (tx, rx) = oneshot::channel();
            if self.peers[thread].send(Job::Exec(msg, tx)).is_err() {
                return false;
            }
            self.away.push((thread, rx));
        }
        for (thread, rx) in self.away.drain(..) {
            match rx.await {
                Ok(msg) => self.messages[thread] = Some(msg),
                Err(_) => return false,
            }
        }
        // Splice: local replies after the first remote one move aside, then
        // come back between the remote replies.
        let first = self.slots.first().map_or(wbuf.len(), |s| s.0);
        self.tail.clear();
        self.tail.extend_from_slice(&wbuf[first..]);
        wbuf.truncate(first);
        for c in &mut self.cursor {
            *c = (0, 0);
        }
        let mut prev = first;
        for &(at, thread) in &self.slots {
            wbuf.extend_from_slice(&self.tail[prev - first..at - first]);
            prev = at;
            let (i, start) = self.cursor[thread];
            let Some(msg) = self.messages[thread].as_deref() else {
                return false;
            };
            let Some(&end) = msg.ends.get(i) else {
                return false; // cannot happen: one reply per command
            };
            wbuf.extend_from_slice(&msg.out[start..end]);
            self.cursor[thread] = (i + 1, end);
        }
        wbuf.extend_from_slice(&self.tail[prev - first..]);
        self.slots.clear();
        if self.tail.capacity() > KEEP_MAX {
            self.tail = BytesMut::new();
        }
        for msg in self.messages.iter_mut().flatten() {
            msg.clear();
        }
        true
    }

    /// Runs every whole command in the read buffer (see the module
    /// documentation); returns whether the connection must close.
    async fn process(&mut self, conn: &mut Connection) -> bool {
        let limits = conn.limits();
        let shared = &*conn.shared;
        let now_ms = shared.clock.now_ms();
        let mut consumed = 0;
        let mut commands = 0u64;
        let mut last_cmd = None;
        while !conn.client.close_after_reply && conn.client.blocked.is_none() {
            let buf = &conn.rbuf[consumed..];
            match conn.parser.parse(buf, &limits, conn.client.authenticated) {
                Ok(Some(n)) => {
                    if !conn.parser.ranges().is_empty() {
                        let src = match conn.parser.source() {
                            ArgSource::Buffer => buf,
                            ArgSource::Scratch => conn.parser.scratch(),
                        };
                        let args = Args::new(src, conn.parser.ranges());
                        // Some(route): runs here, now or after a barrier.
                        let here = match self.route(shared, &conn.client, args) {
                            Route::There(thread, name) => {
                                let at = conn.wbuf.len();
                                if self.enqueue(thread, &conn.client, now_ms, args, at) {
                                    last_cmd = Some(name);
                                    None
                                } else {
                                    Some(Route::Alone)
                                }
                            }
                            route => Some(route),
                        };
                        if let Some(route) = here {
                            if route == Route::Alone && !self.settle(&mut conn.wbuf).await {
                                conn.wbuf.clear();
                                return true;
                            }
                            last_cmd = connection::execute(
                                shared,
                                &mut conn.client,
                                now_ms,
                                args,
                                &mut conn.wbuf,
                            );
                        }
                        commands += 1;
                    }
                    consumed += n;
                }
                Ok(None) => break,
                Err(e) => protocol_error(shared, &mut conn.client, &mut conn.wbuf, e),
            }
        }
        if !self.settle(&mut conn.wbuf).await {
            conn.wbuf.clear();
            return true;
        }
        conn.end_batch(consumed, commands, last_cmd, now_ms)
    }
}

impl Batches for Router {
    fn run(&mut self, conn: &mut Connection) -> impl std::future::Future<Output = bool> + Send {
        self.process(conn)
    }
}
