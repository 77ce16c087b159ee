//! Connection commands over real TCP: `PING`, `ECHO`, `SELECT`, `QUIT`,
//! `RESET`, `AUTH`, `HELLO` and `CLIENT`, checked byte for byte against the
//! replies of Redis 7.0 (raw RESP) and through the `redis` crate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use resp_server::clock::ManualClock;
use resp_server::config::ConfigStore;
use resp_server::server::Server;
use resp_server::shared::Shared;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

const T0: u64 = 1_700_000_000_000;

/// A server running in-process on an ephemeral port.
struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    clock: Arc<ManualClock>,
    task: JoinHandle<()>,
}

impl TestServer {
    async fn start(settings: &[(&str, &str)]) -> TestServer {
        let cfg = ConfigStore::default();
        cfg.set_startup("port", "0").unwrap();
        for (name, value) in settings {
            cfg.set_startup(name, value).unwrap();
        }
        let clock = Arc::new(ManualClock::new(T0));
        let server = Server::bind_with_clock(cfg, clock.clone()).await.unwrap();
        let addr = server.local_addr();
        let shared = server.shared();
        let task = tokio::spawn(server.run());
        TestServer {
            addr,
            shared,
            clock,
            task,
        }
    }

    async fn connect(&self) -> Raw {
        Raw(TcpStream::connect(self.addr).await.unwrap())
    }

    async fn stop(self) {
        self.shared.shutdown();
        self.task.await.unwrap();
    }
}

/// A client speaking raw RESP.
struct Raw(TcpStream);

impl Raw {
    /// Sends one command as a RESP array of bulk strings.
    async fn send(&mut self, args: &[&str]) {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            buf.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.0.write_all(&buf).await.unwrap();
    }

    /// Reads exactly `expected.len()` bytes and compares them.
    async fn expect(&mut self, expected: &str) {
        let mut got = vec![0; expected.len()];
        tokio::time::timeout(Duration::from_secs(10), self.0.read_exact(&mut got))
            .await
            .expect("reply timed out")
            .expect("connection closed");
        assert_eq!(String::from_utf8_lossy(&got), expected);
    }

    /// Sends a command and checks its whole reply.
    async fn call(&mut self, args: &[&str], expected: &str) {
        self.send(args).await;
        self.expect(expected).await;
    }

    /// Reads one line (through CRLF).
    async fn line(&mut self) -> String {
        let mut line = Vec::new();
        while !line.ends_with(b"\r\n") {
            let b = tokio::time::timeout(Duration::from_secs(10), self.0.read_u8())
                .await
                .expect("reply timed out")
                .expect("connection closed");
            line.push(b);
        }
        String::from_utf8(line).unwrap()
    }

    /// Reads a bulk or verbatim string reply's payload.
    async fn bulk(&mut self) -> String {
        let header = self.line().await;
        let len: usize = header[1..header.len() - 2].parse().unwrap();
        let mut body = vec![0; len + 2];
        self.0.read_exact(&mut body).await.unwrap();
        body.truncate(len);
        String::from_utf8(body).unwrap()
    }

    /// `CLIENT ID` of this connection.
    async fn id(&mut self) -> u64 {
        self.send(&["CLIENT", "ID"]).await;
        let line = self.line().await;
        line[1..line.len() - 2].parse().unwrap()
    }

    /// Waits for the server to close the connection.
    async fn expect_eof(&mut self) {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), self.0.read_to_end(&mut rest))
            .await
            .expect("connection not closed")
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&rest), "");
    }
}

/// `HELLO`'s reply, RESP2 or RESP3 framing.
fn hello_reply(proto: u8, id: u64) -> String {
    let header = if proto == 3 { "%7" } else { "*14" };
    format!(
        "{header}\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n\
         $5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
         $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    )
}

const NOAUTH: &str = "-NOAUTH Authentication required.\r\n";
const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

#[tokio::test]
async fn ping_echo_select_and_quit() {
    let s = TestServer::start(&[]).await;
    let mut c = s.connect().await;
    c.call(&["PING"], "+PONG\r\n").await;
    c.call(&["ping", "hi"], "$2\r\nhi\r\n").await;
    c.call(
        &["PING", "a", "b"],
        "-ERR wrong number of arguments for 'ping' command\r\n",
    )
    .await;
    c.call(&["ECHO", "hello"], "$5\r\nhello\r\n").await;
    c.call(
        &["ECHO"],
        "-ERR wrong number of arguments for 'echo' command\r\n",
    )
    .await;

    c.call(&["SELECT", "16"], "-ERR DB index is out of range\r\n")
        .await;
    c.call(&["SELECT", "-1"], "-ERR DB index is out of range\r\n")
        .await;
    c.call(
        &["SELECT", "01"],
        "-ERR value is not an integer or out of range\r\n",
    )
    .await;
    c.call(
        &["SELECT", "99999999999"],
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
    )
    .await;
    c.call(&["SET", "k", "db0"], "+OK\r\n").await;
    c.call(&["SELECT", "15"], "+OK\r\n").await;
    c.call(&["GET", "k"], "$-1\r\n").await;
    c.send(&["CLIENT", "INFO"]).await;
    assert!(c.bulk().await.contains(" db=15 "));
    c.call(&["SELECT", "0"], "+OK\r\n").await;
    c.call(&["GET", "k"], "$3\r\ndb0\r\n").await;

    // QUIT replies, then closes: a command pipelined after it never runs.
    c.0.write_all(b"*1\r\n$4\r\nQUIT\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nlater\r\n")
        .await
        .unwrap();
    c.expect("+OK\r\n").await;
    c.expect_eof().await;
    let mut d = s.connect().await;
    d.call(&["GET", "k"], "$3\r\ndb0\r\n").await;
    d.call(&["QUIT", "ignored"], "+OK\r\n").await;
    d.expect_eof().await;
    s.stop().await;
}

#[tokio::test]
async fn hello_switches_protocol_for_its_own_reply() {
    let s = TestServer::start(&[]).await;
    let mut c = s.connect().await;
    let id = c.id().await;
    c.call(&["HELLO"], &hello_reply(2, id)).await;
    c.call(&["HELLO", "3"], &hello_reply(3, id)).await;
    c.call(&["CLIENT", "GETNAME"], "_\r\n").await;
    c.call(&["HELLO"], &hello_reply(3, id)).await;
    c.send(&["CLIENT", "INFO"]).await;
    let info = c.bulk().await;
    assert!(info.starts_with("txt:id="), "{info}");
    assert!(info.ends_with(" resp=3 lib-name= lib-ver=\n"), "{info}");
    c.call(&["HELLO", "2", "SETNAME", "conn1"], &hello_reply(2, id))
        .await;
    c.call(&["CLIENT", "GETNAME"], "$5\r\nconn1\r\n").await;
    c.call(
        &["CLIENT", "GETNAME", "x"],
        "-ERR wrong number of arguments for 'client|getname' command\r\n",
    )
    .await;

    c.call(&["HELLO", "4"], "-NOPROTO unsupported protocol version\r\n")
        .await;
    c.call(&["HELLO", "1"], "-NOPROTO unsupported protocol version\r\n")
        .await;
    c.call(
        &["HELLO", "x"],
        "-ERR Protocol version is not an integer or out of range\r\n",
    )
    .await;
    c.call(
        &["HELLO", "3", "AUTH", "default"],
        "-ERR Syntax error in HELLO option 'AUTH'\r\n",
    )
    .await;
    c.call(
        &["HELLO", "3", "SETNAME", "a", "b"],
        "-ERR Syntax error in HELLO option 'b'\r\n",
    )
    .await;
    c.call(
        &["HELLO", "3", "SETNAME", "a b"],
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    )
    .await;
    // Failed HELLOs change nothing.
    c.call(&["CLIENT", "GETNAME"], "$5\r\nconn1\r\n").await;
    // No password set: the default user takes any password, others none.
    c.call(
        &["HELLO", "3", "AUTH", "default", "any"],
        &hello_reply(3, id),
    )
    .await;
    c.call(&["HELLO", "2", "AUTH", "bob", "any"], WRONGPASS)
        .await;
    c.call(&["PING", "still3"], "$6\r\nstill3\r\n").await;
    c.call(
        &["CLIENT", "GETNAME", "x"],
        "-ERR wrong number of arguments for 'client|getname' command\r\n",
    )
    .await;
    c.call(&["CLIENT", "GETNAME"], "$5\r\nconn1\r\n").await;

    // RESET: RESP2, no name, database 0.
    c.call(&["SELECT", "3"], "+OK\r\n").await;
    c.call(&["RESET"], "+RESET\r\n").await;
    c.call(&["CLIENT", "GETNAME"], "$-1\r\n").await;
    c.send(&["CLIENT", "INFO"]).await;
    let info = c.bulk().await;
    assert!(info.contains(" name= "), "{info}");
    assert!(info.contains(" db=0 "), "{info}");
    assert!(info.contains(" resp=2 "), "{info}");
    c.call(
        &["RESET", "x"],
        "-ERR wrong number of arguments for 'reset' command\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test]
async fn auth_with_requirepass() {
    let s = TestServer::start(&[("requirepass", "pw")]).await;
    let mut c = s.connect().await;
    c.call(&["PING"], NOAUTH).await;
    c.call(&["CLIENT", "ID"], NOAUTH).await;
    c.call(
        &["HELLO", "3"],
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the \
         HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
         the RESP protocol version at the same time\r\n",
    )
    .await;
    c.call(&["HELLO", "4"], "-NOPROTO unsupported protocol version\r\n")
        .await;
    c.call(&["AUTH", "wrong"], WRONGPASS).await;
    c.call(&["AUTH", "default", "wrong"], WRONGPASS).await;
    c.call(&["AUTH", "Default", "pw"], WRONGPASS).await;
    c.call(&["AUTH", "a", "b", "c"], "-ERR syntax error\r\n")
        .await;
    c.call(&["PING"], NOAUTH).await;
    c.call(&["AUTH", "pw"], "+OK\r\n").await;
    c.call(&["PING"], "+PONG\r\n").await;
    let id = c.id().await;

    // RESET drops the authentication when a password is set.
    c.call(&["RESET"], "+RESET\r\n").await;
    c.call(&["PING"], NOAUTH).await;
    c.call(&["HELLO", "3", "AUTH", "default", "wrong"], WRONGPASS)
        .await;
    c.call(&["PING"], NOAUTH).await;
    c.call(
        &["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "n"],
        &hello_reply(3, id),
    )
    .await;
    c.call(&["CLIENT", "GETNAME"], "$1\r\nn\r\n").await;
    c.call(&["RESET"], "+RESET\r\n").await;
    c.call(&["AUTH", "default", "pw"], "+OK\r\n").await;
    c.call(&["QUIT"], "+OK\r\n").await;
    c.expect_eof().await;

    // The redis crate authenticates with HELLO 3 AUTH.
    let url = format!("redis://default:pw@{}/?protocol=resp3", s.addr);
    let client = redis::Client::open(url).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
    let bad = redis::Client::open(format!("redis://default:nope@{}", s.addr)).unwrap();
    assert!(bad.get_multiplexed_async_connection().await.is_err());
    drop(con);
    s.stop().await;
}

#[tokio::test]
async fn auth_without_password() {
    let s = TestServer::start(&[]).await;
    let mut c = s.connect().await;
    c.call(
        &["AUTH", "pw"],
        "-ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?\r\n",
    )
    .await;
    c.call(&["AUTH", "default", "anything"], "+OK\r\n").await;
    c.call(&["AUTH", "bob", "anything"], WRONGPASS).await;
    c.call(
        &["AUTH"],
        "-ERR wrong number of arguments for 'auth' command\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test]
async fn client_names_info_and_list() {
    let s = TestServer::start(&[]).await;
    let mut a = s.connect().await;
    let mut b = s.connect().await;
    let (ida, idb) = (a.id().await, b.id().await);
    assert!(idb > ida);

    a.call(&["CLIENT", "GETNAME"], "$-1\r\n").await;
    for bad in ["a b", "a\nb", "caf\u{e9}"] {
        a.call(
            &["CLIENT", "SETNAME", bad],
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
        )
        .await;
    }
    a.call(&["CLIENT", "SETNAME", "alpha"], "+OK\r\n").await;
    a.call(&["CLIENT", "GETNAME"], "$5\r\nalpha\r\n").await;
    a.call(
        &["client", "SETNAME"],
        "-ERR wrong number of arguments for 'client|setname' command\r\n",
    )
    .await;
    a.call(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"], "+OK\r\n")
        .await;
    a.call(&["CLIENT", "SETINFO", "lib-ver", "1.2"], "+OK\r\n")
        .await;
    a.call(
        &["CLIENT", "SETINFO", "LIB-VER", "1 2"],
        "-ERR LIB-VER cannot contain spaces, newlines or special characters.\r\n",
    )
    .await;
    a.call(
        &["CLIENT", "SETINFO", "foo", "x"],
        "-ERR Unrecognized option 'foo'\r\n",
    )
    .await;
    a.call(&["CLIENT", "NO-EVICT", "on"], "+OK\r\n").await;
    a.call(&["CLIENT", "NO-EVICT", "maybe"], "-ERR syntax error\r\n")
        .await;
    b.call(&["SELECT", "2"], "+OK\r\n").await;

    // Five seconds later, b asks: a has been idle for five seconds.
    s.clock.advance(5_000);
    let line =
        |id: u64, c: &Raw, name: &str, idle: u64, flags: &str, db: u8, cmd: &str, lib: &str| {
            let local = c.0.local_addr().unwrap();
            let peer = c.0.peer_addr().unwrap();
            format!(
            "id={id} addr={local} laddr={peer} fd=0 name={name} age=5 idle={idle} flags={flags} \
             db={db} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 \
             rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={cmd} user=default \
             redir=-1 resp=2 {lib}\n"
        )
        };
    let la = line(
        ida,
        &a,
        "alpha",
        5,
        "e",
        0,
        "client",
        "lib-name=mylib lib-ver=1.2",
    );
    let lb = line(idb, &b, "", 0, "N", 2, "client|list", "lib-name= lib-ver=");
    b.send(&["CLIENT", "LIST"]).await;
    assert_eq!(b.bulk().await, format!("{la}{lb}"));
    b.send(&["CLIENT", "LIST", "TYPE", "normal"]).await;
    assert_eq!(b.bulk().await, format!("{la}{lb}"));
    b.call(&["CLIENT", "LIST", "TYPE", "pubsub"], "$0\r\n\r\n")
        .await;
    let (sa, sb, sx) = (ida.to_string(), idb.to_string(), "999999".to_string());
    b.send(&["CLIENT", "LIST", "ID", &sb, &sx, &sa, &sa]).await;
    assert_eq!(b.bulk().await, format!("{lb}{la}{la}"));
    b.call(
        &["CLIENT", "LIST", "ID", "1", "x"],
        "-ERR Invalid client ID\r\n",
    )
    .await;
    b.call(
        &["CLIENT", "LIST", "TYPE", "foo"],
        "-ERR Unknown client type 'foo'\r\n",
    )
    .await;
    b.call(&["CLIENT", "LIST", "ID"], "-ERR syntax error\r\n")
        .await;
    b.send(&["CLIENT", "INFO"]).await;
    let info = b.bulk().await;
    assert_eq!(info, lb.replace("cmd=client|list", "cmd=client|info"));

    // RESET keeps the library name, drops the name and the flags.
    a.call(&["RESET"], "+RESET\r\n").await;
    a.send(&["CLIENT", "INFO"]).await;
    let info = a.bulk().await;
    assert!(info.contains(" name= age=5 idle=0 flags=N db=0 "), "{info}");
    assert!(info.ends_with(" lib-name=mylib lib-ver=1.2\n"), "{info}");

    b.call(
        &["CLIENT", "foo"],
        "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n",
    )
    .await;
    b.call(
        &["CLIENT"],
        "-ERR wrong number of arguments for 'client' command\r\n",
    )
    .await;
    b.send(&["CLIENT", "HELP"]).await;
    let header = b.line().await;
    let n: usize = header[1..header.len() - 2].parse().unwrap();
    let mut lines = Vec::new();
    for _ in 0..n {
        lines.push(b.line().await);
    }
    assert_eq!(
        lines[0],
        "+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
    );
    assert_eq!(lines[n - 1], "+    Prints this help.\r\n");
    assert!(lines.contains(&"+REPLY (ON|OFF|SKIP)\r\n".to_string()));

    // The redis crate names itself on connect.
    let client = redis::Client::open(format!("redis://{}", s.addr)).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("CLIENT")
        .arg("INFO")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(info.contains(" lib-name=redis-rs lib-ver="), "{info}");
    drop(con);
    s.stop().await;
}

#[tokio::test]
async fn client_kill() {
    let s = TestServer::start(&[]).await;
    let mut killer = s.connect().await;
    let mut victim = s.connect().await;
    let vid = victim.id().await;

    killer
        .call(
            &["CLIENT", "KILL", "ID", "0"],
            "-ERR client-id should be greater than 0\r\n",
        )
        .await;
    killer
        .call(
            &["CLIENT", "KILL", "ID", "x"],
            "-ERR client-id should be greater than 0\r\n",
        )
        .await;
    killer
        .call(
            &["CLIENT", "KILL", "TYPE", "foo"],
            "-ERR Unknown client type 'foo'\r\n",
        )
        .await;
    killer
        .call(
            &["CLIENT", "KILL", "USER", "nobody"],
            "-ERR No such user 'nobody'\r\n",
        )
        .await;
    killer
        .call(
            &["CLIENT", "KILL", "SKIPME", "maybe"],
            "-ERR syntax error\r\n",
        )
        .await;
    killer
        .call(
            &["CLIENT", "KILL", "ID", "1", "foo"],
            "-ERR syntax error\r\n",
        )
        .await;
    killer
        .call(&["CLIENT", "KILL", "1.2.3.4:5"], "-ERR No such client\r\n")
        .await;
    killer
        .call(&["CLIENT", "KILL", "ID", "999999"], ":0\r\n")
        .await;
    killer
        .call(
            &["CLIENT", "KILL", "TYPE", "pubsub", "ID", &vid.to_string()],
            ":0\r\n",
        )
        .await;
    killer
        .call(&["CLIENT", "KILL", "TYPE", "normal"], ":1\r\n")
        .await;
    victim.expect_eof().await;
    // A killed client is gone from CLIENT LIST at once.
    killer.send(&["CLIENT", "LIST"]).await;
    assert_eq!(killer.bulk().await.lines().count(), 1);

    // Old form: by peer address; nothing left to kill the second time.
    let mut victim = s.connect().await;
    let addr = victim.0.local_addr().unwrap().to_string();
    killer.call(&["CLIENT", "KILL", &addr], "+OK\r\n").await;
    victim.expect_eof().await;
    killer
        .call(&["CLIENT", "KILL", &addr], "-ERR No such client\r\n")
        .await;

    // New form by ADDR and LADDR.
    let mut victim = s.connect().await;
    let addr = victim.0.local_addr().unwrap().to_string();
    let laddr = victim.0.peer_addr().unwrap().to_string();
    killer
        .call(
            &["CLIENT", "KILL", "ADDR", &addr, "LADDR", "1.2.3.4:5"],
            ":0\r\n",
        )
        .await;
    killer
        .call(
            &[
                "CLIENT", "KILL", "ADDR", &addr, "LADDR", &laddr, "USER", "default",
            ],
            ":1\r\n",
        )
        .await;
    victim.expect_eof().await;

    // Killing oneself: the reply is written, then the connection closes.
    let kid = killer.id().await.to_string();
    killer.call(&["CLIENT", "KILL", "ID", &kid], ":0\r\n").await;
    killer
        .call(&["CLIENT", "KILL", "ID", &kid, "SKIPME", "no"], ":1\r\n")
        .await;
    killer.expect_eof().await;
    let mut last = s.connect().await;
    let addr = last.0.local_addr().unwrap().to_string();
    last.call(&["CLIENT", "KILL", &addr], "+OK\r\n").await;
    last.expect_eof().await;
    s.stop().await;
}

#[tokio::test]
async fn client_reply_off_skip_on() {
    let s = TestServer::start(&[]).await;
    let mut c = s.connect().await;
    // OFF and SKIP write nothing; ON answers +OK.
    c.send(&["CLIENT", "REPLY", "OFF"]).await;
    c.send(&["PING", "dropped"]).await;
    c.send(&["CLIENT", "REPLY", "SKIP"]).await;
    c.send(&["PING", "dropped"]).await;
    c.call(&["CLIENT", "REPLY", "ON"], "+OK\r\n").await;
    c.call(&["PING", "a"], "$1\r\na\r\n").await;

    // SKIP drops exactly the next reply.
    c.send(&["CLIENT", "REPLY", "SKIP"]).await;
    c.send(&["PING", "dropped"]).await;
    c.call(&["PING", "b"], "$1\r\nb\r\n").await;

    // RESET turns replies back on, and answers.
    c.send(&["CLIENT", "REPLY", "OFF"]).await;
    c.send(&["PING", "dropped"]).await;
    c.call(&["RESET"], "+RESET\r\n").await;
    c.call(&["PING", "c"], "$1\r\nc\r\n").await;

    c.call(&["CLIENT", "REPLY", "maybe"], "-ERR syntax error\r\n")
        .await;
    c.call(
        &["CLIENT", "REPLY"],
        "-ERR wrong number of arguments for 'client|reply' command\r\n",
    )
    .await;

    // Errors are dropped too, and pipelined batches behave the same.
    c.0.write_all(
        b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n*1\r\n$4\r\nECHO\r\n\
          *3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$2\r\nON\r\n*1\r\n$4\r\nPING\r\n",
    )
    .await
    .unwrap();
    c.expect("+OK\r\n+PONG\r\n").await;
    s.stop().await;
}
