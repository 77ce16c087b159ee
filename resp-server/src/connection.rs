//! One client connection: read, parse every whole command in the buffer,
//! execute, write all replies with one syscall.
//!
//! The read buffer and the write buffer come from the server's
//! [`bufpool::BufferPool`] and go back to it when the connection closes.
//! Arguments are slices of the read buffer ([`crate::parse`]); replies are
//! encoded straight into the write buffer ([`crate::reply`]).
//!
//! The loop ([`serve_with`]) is shared by both concurrency models of
//! `docs/design/concurrency.md`; what differs is how a batch of commands is
//! run ([`Batches`]): with striped locks every command runs here, at once
//! ([`serve`]); shard-per-thread sends the commands of other threads' shards
//! away ([`crate::percore`]). Both end in [`execute`].

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::{Client, ClientHandle, ReplyMode};
use crate::cmd::{self, Args, Ctx};
use crate::parse::{ArgSource, Limits, Parser};
use crate::reply::{Protocol, Reply};
use crate::shared::Shared;

/// Initial size of a connection's read and write buffers, bytes.
const BUF_SIZE: usize = 16 * 1024;

/// Serves one client until it disconnects, is killed, or the server stops;
/// every command runs on the calling task (striped locks).
pub async fn serve(shared: Arc<Shared>, stream: TcpStream, handle: Arc<ClientHandle>) {
    serve_with(shared, stream, handle, Striped).await;
}

/// How a connection runs one batch: every whole command in its read buffer.
pub(crate) trait Batches {
    /// Runs the commands buffered in `conn.rbuf`, leaving their replies in
    /// `conn.wbuf` in order; resolves to whether the connection must close
    /// once the replies are written.
    fn run(&mut self, conn: &mut Connection) -> impl Future<Output = bool> + Send;
}

/// Striped locks: every command of the batch runs here, now.
struct Striped;

impl Batches for Striped {
    #[inline]
    fn run(&mut self, conn: &mut Connection) -> impl Future<Output = bool> + Send {
        std::future::ready(conn.process())
    }
}

/// The connection loop: read, run the batch, write its replies at once.
pub(crate) async fn serve_with<B: Batches>(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    handle: Arc<ClientHandle>,
    mut batches: B,
) {
    let _ = stream.set_nodelay(true);
    let mut conn = Connection {
        client: Client::new(handle.clone(), shared.config.requirepass().is_none()),
        parser: Parser::new(),
        rbuf: shared.buffers.get(BUF_SIZE),
        wbuf: shared.buffers.get(BUF_SIZE),
        shared: shared.clone(),
        recorded_cmd: None,
    };
    let mut shutdown = shared.shutdown_signal();
    let stopped = shutdown.changed();
    // Wake-ups (kill, pushes, a key this client waits on becoming ready,
    // CLIENT UNBLOCK) share one Notify, armed once and re-armed only after
    // it fires: no registration per read.
    let wake = handle.wake.notified();
    tokio::pin!(stopped, wake);
    loop {
        if handle.killed.load(Ordering::Relaxed) || shared.is_shutting_down() {
            break;
        }
        conn.reserve_read();
        let blocked = conn.client.blocked.is_some();
        // A blocked client's commands wait in the read buffer; reading on
        // notices a disconnect. The tick bounds how late a timeout is seen
        // (Redis checks them ten times a second too).
        let tick = std::time::Duration::from_millis(100);
        let woken = handle.has_push.load(Ordering::Acquire)
            || (blocked
                && (handle.block_ready.load(Ordering::Acquire)
                    || handle.unblock.load(Ordering::Acquire) != 0));
        let event = if woken {
            // Woken while the last replies were written (the write took the
            // wake-up): act on it now.
            None
        } else {
            tokio::select! {
            biased;
            _ = &mut stopped => break,
            _ = &mut wake => {
                wake.set(handle.wake.notified());
                None
            }
            r = stream.read_buf(&mut *conn.rbuf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => Some(n),
            },
            _ = async { tokio::time::sleep(tick).await }, if blocked => None,
            }
        };
        if handle.killed.load(Ordering::Relaxed) {
            break;
        }
        let mut close = false;
        if let Some(n) = event {
            shared.stats.net_input_bytes.add(n as u64);
            if conn.rbuf.len() > shared.config.query_buffer_limit() {
                // As Redis: checked on what is buffered, before running
                // anything; the client is closed without a reply.
                tracing::warn!(
                    id = handle.id,
                    "closing client that reached max query buffer length"
                );
                break;
            }
        }
        if blocked {
            conn.step_blocked();
        }
        if conn.client.blocked.is_none() && (event.is_some() || blocked) {
            close = batches.run(&mut conn).await;
        }
        handle.take_pushes(&mut conn.wbuf);
        if !conn.wbuf.is_empty() {
            shared.stats.net_output_bytes.add(conn.wbuf.len() as u64);
            // Written in steps that a kill can interrupt: a killed slow
            // subscriber whose peer stopped reading closes at once.
            let mut out: &[u8] = &conn.wbuf;
            let mut dead = false;
            while !out.is_empty() && !dead {
                tokio::select! {
                    biased;
                    r = stream.write(out) => match r {
                        Ok(0) | Err(_) => dead = true,
                        Ok(n) => out = &out[n..],
                    },
                    _ = &mut wake => {
                        wake.set(handle.wake.notified());
                        dead = handle.killed.load(Ordering::Relaxed);
                    }
                }
            }
            if dead {
                break;
            }
            conn.wbuf.clear();
        }
        if close {
            break;
        }
    }
    if let Some(b) = conn.client.blocked.take() {
        handle.block_gen.store(0, Ordering::Release);
        crate::blocking::release(
            &shared,
            &handle,
            b.db,
            &b.keys,
            b.gen,
            shared.clock.now_ms(),
        );
    }
    conn.client.tx.reset(&shared);
    let _ = stream.shutdown().await;
    shared.clients.unregister(handle.id);
}

/// A connection's state between batches: its client, parser and buffers.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) shared: Arc<Shared>,
    pub(crate) client: Client,
    pub(crate) parser: Parser,
    pub(crate) rbuf: bufpool::PooledBuf,
    pub(crate) wbuf: bufpool::PooledBuf,
    /// The command name last written to `client.handle.last_cmd`.
    pub(crate) recorded_cmd: Option<&'static str>,
}

impl Connection {
    /// Makes room for the next read: at least 4 KiB free, or what the parser
    /// knows the current command needs (one reservation for a big bulk).
    fn reserve_read(&mut self) {
        // Growth per read is capped (at most the bytes already buffered, or
        // 1 MiB): a client declaring a 512 MiB bulk gets memory as its bytes
        // arrive, not on its word.
        let len = self.rbuf.len();
        let want = self
            .parser
            .needed()
            .map_or(0, |n| n.saturating_sub(len).min(len.max(1 << 20)));
        let free = self.rbuf.capacity() - self.rbuf.len();
        if free < 4096 || free < want {
            self.rbuf.reserve(want.max(BUF_SIZE));
        }
    }

    /// Runs every whole command in the read buffer; returns whether the
    /// connection must close once the replies are written.
    fn process(&mut self) -> bool {
        let shared = &*self.shared;
        let limits = self.limits();
        let now_ms = shared.clock.now_ms();
        let mut consumed = 0;
        let mut commands = 0u64;
        let mut last_cmd = None;
        while !self.client.close_after_reply && self.client.blocked.is_none() {
            let buf = &self.rbuf[consumed..];
            match self.parser.parse(buf, &limits, self.client.authenticated) {
                Ok(Some(n)) => {
                    if !self.parser.ranges().is_empty() {
                        let src = match self.parser.source() {
                            ArgSource::Buffer => buf,
                            ArgSource::Scratch => self.parser.scratch(),
                        };
                        let args = Args::new(src, self.parser.ranges());
                        last_cmd = execute(shared, &mut self.client, now_ms, args, &mut self.wbuf);
                        commands += 1;
                    }
                    consumed += n;
                }
                Ok(None) => break,
                Err(e) => protocol_error(shared, &mut self.client, &mut self.wbuf, e),
            }
        }
        self.end_batch(consumed, commands, last_cmd, now_ms)
    }

    /// Moves a blocked client on after a wake-up, a tick or a read: runs
    /// the blocked command again if a key became ready, or ends the wait
    /// with its timeout reply (deadline passed, `CLIENT UNBLOCK ... TIMEOUT`)
    /// or `-UNBLOCKED` (`CLIENT UNBLOCK ... ERROR`). See [`crate::blocking`].
    fn step_blocked(&mut self) {
        let shared = &*self.shared;
        let handle = self.client.handle.clone();
        let Some(b) = self.client.blocked.as_ref() else {
            return;
        };
        let now_ms = shared.clock.now_ms();
        let unblock = handle.unblock.swap(0, Ordering::AcqRel);
        let ready = handle.block_ready.swap(false, Ordering::AcqRel);
        let expired = b.deadline_ms.is_some_and(|d| now_ms >= d);
        if !(ready || unblock != 0 || expired) {
            return;
        }
        let Some(b) = self.client.blocked.take() else {
            return;
        };
        handle.block_gen.store(0, Ordering::Release);
        if ready && unblock == 0 {
            execute(shared, &mut self.client, now_ms, b.args(), &mut self.wbuf);
            if let Some(again) = self.client.blocked.as_mut() {
                // Still nothing to serve: wait on, until the first deadline.
                again.deadline_ms = b.deadline_ms;
            }
        } else {
            let mut out = Reply::new(&mut self.wbuf, self.client.proto);
            if unblock == crate::client::UNBLOCK_ERROR {
                out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
            } else {
                b.on_timeout.write(&mut out);
            }
        }
        crate::blocking::release(shared, &handle, b.db, &b.keys, b.gen, now_ms);
    }

    /// The parser limits of the current configuration.
    #[inline]
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_bulk_len: self.shared.config.max_bulk_len(),
            ..Limits::default()
        }
    }

    /// Ends a batch: drops the `consumed` bytes of the commands run, counts the `commands` and records the last
    /// command's name for `CLIENT LIST`. Returns whether the connection must
    /// close once the replies are written.
    pub(crate) fn end_batch(
        &mut self,
        consumed: usize,
        commands: u64,
        last_cmd: Option<&'static str>,
        now_ms: u64,
    ) -> bool {
        let shared = &*self.shared;
        bytes::Buf::advance(&mut *self.rbuf, consumed);
        shared.stats.commands_processed.add(commands);
        if commands > 0 {
            let h = &self.client.handle;
            h.last_interaction_ms.store(now_ms, Ordering::Relaxed);
            // The lock is taken only when the name changes (rarely, in a
            // stream of the same command).
            if let Some(name) = last_cmd {
                if !self.recorded_cmd.is_some_and(|r| std::ptr::eq(r, name)) {
                    *h.last_cmd.lock() = name;
                    self.recorded_cmd = Some(name);
                }
            }
        }
        self.client.close_after_reply
    }
}

/// Replies to a malformed request and marks the connection for closing.
pub(crate) fn protocol_error(
    shared: &Shared,
    client: &mut Client,
    wbuf: &mut bytes::BytesMut,
    e: crate::parse::ProtocolError,
) {
    let mut out = Reply::new(wbuf, client.proto);
    out.error(&format!("ERR {e}"));
    shared.stats.error_replies.add(1);
    client.close_after_reply = true;
}

/// Executes one command: fast paths for GET and SET, then the table. Returns
/// the command's name for `CLIENT LIST`.
#[inline]
pub fn execute(
    shared: &Shared,
    client: &mut Client,
    now_ms: u64,
    args: Args<'_>,
    wbuf: &mut bytes::BytesMut,
) -> Option<&'static str> {
    let mark = wbuf.len();
    // `CLIENT REPLY`: a reply is dropped when replies are off, or skipped for
    // this one command, unless the command itself changes the mode (`CLIENT
    // REPLY ON` gets its +OK out).
    let suppress = match client.reply_mode {
        ReplyMode::On => false,
        ReplyMode::Off => true,
        ReplyMode::Skip | ReplyMode::SkipThis => {
            client.reply_mode = ReplyMode::SkipThis;
            true
        }
    };
    let mode_before = client.reply_mode;
    let proto = client.proto;
    let name = args.get(0);
    let mut ctx = Ctx {
        shared,
        client,
        now_ms,
        out: Reply::new(wbuf, proto),
    };
    // The fast paths skip the checks of `dispatch`: only for a client with
    // nothing to check (authenticated, not queueing, not subscribed).
    let plain =
        ctx.client.authenticated && !ctx.client.tx.in_multi() && ctx.client.subs.count() == 0;
    let ran = if plain && args.len() == 2 && name.eq_ignore_ascii_case(b"get") {
        cmd::string::get(&mut ctx, args);
        Some("get")
    } else if plain && args.len() == 3 && name.eq_ignore_ascii_case(b"set") {
        cmd::string::set(&mut ctx, args);
        Some("set")
    } else {
        dispatch(&mut ctx, args)
    };
    if let Some(req) = ctx.client.block_request.take() {
        let db = ctx.client.db;
        if req.on_timeout.is_some() {
            // The handler registered as a waiter and wrote no reply.
            ctx.client.blocked = Some(Box::new(crate::blocking::Blocked::new(req, db, args)));
        } else {
            // Registered on some keys, then replied (an error on a later
            // key): undo the registrations.
            let handle = ctx.client.handle.clone();
            handle.block_gen.store(0, Ordering::Release);
            crate::blocking::release(shared, &handle, db, &req.keys, req.gen, now_ms);
        }
    }
    if !ctx.client.in_exec && ctx.client.handle.has_push.load(Ordering::Relaxed) {
        // Pushes this command caused for its own client (a PUBLISH to a
        // channel it subscribed to) go before its reply, as in Redis.
        // Inside EXEC they wait for the end of EXEC's array (then go
        // before it), so they never land between its elements.
        let buf = ctx.out.buffer();
        let reply = buf.split_off(mark);
        ctx.client.handle.take_pushes(buf);
        buf.unsplit(reply);
    }
    if suppress && ctx.client.reply_mode == mode_before {
        ctx.out.truncate(mark);
        if mode_before == ReplyMode::SkipThis {
            ctx.client.reply_mode = ReplyMode::On;
        }
    } else if wbuf.get(mark) == Some(&b'-') {
        shared.stats.error_replies.add(1);
    }
    ran
}

/// Looks the command up and checks it as Redis' `processCommand` does
/// (name, arity, authentication, the RESP2 pub/sub context), then queues
/// it (inside `MULTI`) or runs it. A command rejected inside `MULTI` makes
/// its `EXEC` fail.
fn dispatch(ctx: &mut Ctx<'_>, args: Args<'_>) -> Option<&'static str> {
    let Some(command) = cmd::lookup(args.get(0)) else {
        cmd::unknown_command(&mut ctx.out, args);
        ctx.client.tx.flag_error();
        return None;
    };
    let subscribed = ctx.client.subs.count() > 0 && ctx.client.proto == Protocol::Resp2;
    if !command.arity_ok(args.len()) {
        cmd::wrong_arity(&mut ctx.out, args.get(0));
        ctx.client.tx.flag_error();
    } else if !ctx.client.authenticated && !command.has(cmd::flags::NO_AUTH) {
        ctx.out.error(cmd::err::NOAUTH);
        ctx.client.tx.flag_error();
    } else if subscribed && !cmd::pubsub::allowed_in_context(command) {
        cmd::pubsub::context_error(ctx, command, args);
        ctx.client.tx.flag_error();
    } else if ctx.client.tx.in_multi()
        && !command.has(cmd::flags::NOT_QUEUED)
        && !matches!(command.name, "quit" | "reset")
    {
        if ctx
            .client
            .tx
            .queue(args, ctx.shared.config.query_buffer_limit())
        {
            ctx.client.tx.show(&ctx.client.handle);
            ctx.out.simple("QUEUED");
        } else {
            // As for a query buffer past the limit: closed without a reply.
            tracing::warn!(
                id = ctx.client.id(),
                "closing client whose MULTI queue reached max query buffer length"
            );
            ctx.client.close_after_reply = true;
        }
    } else if subscribed && command.name == "ping" && args.len() <= 2 {
        cmd::pubsub::ping_subscribed(ctx, args);
    } else {
        if command.name == "reset" {
            // RESET leaves MULTI, unwatches and unsubscribes (silently).
            ctx.client.tx.reset(ctx.shared);
            ctx.client.tx.show(&ctx.client.handle);
            cmd::pubsub::reset(ctx);
        }
        (command.run)(ctx, args);
    }
    Some(command.name)
}
