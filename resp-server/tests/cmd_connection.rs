//! Connection commands over real TCP: `PING`, `ECHO`, `SELECT`, `QUIT`,
//! `RESET`, `AUTH`, `HELLO` and `CLIENT`, checked byte for byte against the
//! replies of Redis 7.0 (raw RESP) and through the `redis` crate.

mod common;

use common::{Frame, RawConn, TestServer};

/// `CLIENT ID` of this connection.
async fn client_id(c: &mut RawConn) -> u64 {
    match c.cmd(&["CLIENT", "ID"]).await {
        Frame::Int(id) => id as u64,
        other => panic!("CLIENT ID replied {other:?}"),
    }
}

/// The payload of a bulk reply, or of a verbatim one with its format
/// (`txt:...`), as text.
fn bulk_text(reply: Frame) -> String {
    match reply {
        Frame::Bulk(b) => String::from_utf8(b).unwrap(),
        Frame::Verbatim(fmt, b) => format!("{fmt}:{}", String::from_utf8(b).unwrap()),
        other => panic!("not a bulk string: {other:?}"),
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
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.cmd_exact(&["PING"], "+PONG\r\n").await;
    c.cmd_exact(&["ping", "hi"], "$2\r\nhi\r\n").await;
    c.cmd_exact(
        &["PING", "a", "b"],
        "-ERR wrong number of arguments for 'ping' command\r\n",
    )
    .await;
    c.cmd_exact(&["ECHO", "hello"], "$5\r\nhello\r\n").await;
    c.cmd_exact(
        &["ECHO"],
        "-ERR wrong number of arguments for 'echo' command\r\n",
    )
    .await;

    c.cmd_exact(&["SELECT", "16"], "-ERR DB index is out of range\r\n")
        .await;
    c.cmd_exact(&["SELECT", "-1"], "-ERR DB index is out of range\r\n")
        .await;
    c.cmd_exact(
        &["SELECT", "01"],
        "-ERR value is not an integer or out of range\r\n",
    )
    .await;
    c.cmd_exact(
        &["SELECT", "99999999999"],
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
    )
    .await;
    c.cmd_exact(&["SET", "k", "db0"], "+OK\r\n").await;
    c.cmd_exact(&["SELECT", "15"], "+OK\r\n").await;
    c.cmd_exact(&["GET", "k"], "$-1\r\n").await;
    c.send_cmd(&["CLIENT", "INFO"]).await;
    assert!(bulk_text(c.read_reply().await).contains(" db=15 "));
    c.cmd_exact(&["SELECT", "0"], "+OK\r\n").await;
    c.cmd_exact(&["GET", "k"], "$3\r\ndb0\r\n").await;

    // QUIT replies, then closes: a command pipelined after it never runs.
    c.send(b"*1\r\n$4\r\nQUIT\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nlater\r\n")
        .await;
    c.expect_exact("+OK\r\n").await;
    c.expect_eof().await;
    let mut d = s.raw().await;
    d.cmd_exact(&["GET", "k"], "$3\r\ndb0\r\n").await;
    d.cmd_exact(&["QUIT", "ignored"], "+OK\r\n").await;
    d.expect_eof().await;
    s.stop().await;
}

#[tokio::test]
async fn hello_switches_protocol_for_its_own_reply() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let id = client_id(&mut c).await;
    c.cmd_exact(&["HELLO"], &hello_reply(2, id)).await;
    c.cmd_exact(&["HELLO", "3"], &hello_reply(3, id)).await;
    c.cmd_exact(&["CLIENT", "GETNAME"], "_\r\n").await;
    c.cmd_exact(&["HELLO"], &hello_reply(3, id)).await;
    c.send_cmd(&["CLIENT", "INFO"]).await;
    let info = bulk_text(c.read_reply().await);
    assert!(info.starts_with("txt:id="), "{info}");
    assert!(info.ends_with(" resp=3 lib-name= lib-ver=\n"), "{info}");
    c.cmd_exact(&["HELLO", "2", "SETNAME", "conn1"], &hello_reply(2, id))
        .await;
    c.cmd_exact(&["CLIENT", "GETNAME"], "$5\r\nconn1\r\n").await;
    c.cmd_exact(
        &["CLIENT", "GETNAME", "x"],
        "-ERR wrong number of arguments for 'client|getname' command\r\n",
    )
    .await;

    c.cmd_exact(&["HELLO", "4"], "-NOPROTO unsupported protocol version\r\n")
        .await;
    c.cmd_exact(&["HELLO", "1"], "-NOPROTO unsupported protocol version\r\n")
        .await;
    c.cmd_exact(
        &["HELLO", "x"],
        "-ERR Protocol version is not an integer or out of range\r\n",
    )
    .await;
    c.cmd_exact(
        &["HELLO", "3", "AUTH", "default"],
        "-ERR Syntax error in HELLO option 'AUTH'\r\n",
    )
    .await;
    c.cmd_exact(
        &["HELLO", "3", "SETNAME", "a", "b"],
        "-ERR Syntax error in HELLO option 'b'\r\n",
    )
    .await;
    c.cmd_exact(
        &["HELLO", "3", "SETNAME", "a b"],
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    )
    .await;
    // Failed HELLOs change nothing.
    c.cmd_exact(&["CLIENT", "GETNAME"], "$5\r\nconn1\r\n").await;
    // No password set: the default user takes any password, others none.
    c.cmd_exact(
        &["HELLO", "3", "AUTH", "default", "any"],
        &hello_reply(3, id),
    )
    .await;
    c.cmd_exact(&["HELLO", "2", "AUTH", "bob", "any"], WRONGPASS)
        .await;
    c.cmd_exact(&["PING", "still3"], "$6\r\nstill3\r\n").await;
    c.cmd_exact(
        &["CLIENT", "GETNAME", "x"],
        "-ERR wrong number of arguments for 'client|getname' command\r\n",
    )
    .await;
    c.cmd_exact(&["CLIENT", "GETNAME"], "$5\r\nconn1\r\n").await;

    // RESET: RESP2, no name, database 0.
    c.cmd_exact(&["SELECT", "3"], "+OK\r\n").await;
    c.cmd_exact(&["RESET"], "+RESET\r\n").await;
    c.cmd_exact(&["CLIENT", "GETNAME"], "$-1\r\n").await;
    c.send_cmd(&["CLIENT", "INFO"]).await;
    let info = bulk_text(c.read_reply().await);
    assert!(info.contains(" name= "), "{info}");
    assert!(info.contains(" db=0 "), "{info}");
    assert!(info.contains(" resp=2 "), "{info}");
    c.cmd_exact(
        &["RESET", "x"],
        "-ERR wrong number of arguments for 'reset' command\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test]
async fn auth_with_requirepass() {
    let s = TestServer::start_with(|cfg| cfg.set_startup("requirepass", "pw").unwrap()).await;
    let mut c = s.raw().await;
    c.cmd_exact(&["PING"], NOAUTH).await;
    c.cmd_exact(&["CLIENT", "ID"], NOAUTH).await;
    c.cmd_exact(
        &["HELLO", "3"],
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the \
         HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
         the RESP protocol version at the same time\r\n",
    )
    .await;
    c.cmd_exact(&["HELLO", "4"], "-NOPROTO unsupported protocol version\r\n")
        .await;
    c.cmd_exact(&["AUTH", "wrong"], WRONGPASS).await;
    c.cmd_exact(&["AUTH", "default", "wrong"], WRONGPASS).await;
    c.cmd_exact(&["AUTH", "Default", "pw"], WRONGPASS).await;
    c.cmd_exact(&["AUTH", "a", "b", "c"], "-ERR syntax error\r\n")
        .await;
    c.cmd_exact(&["PING"], NOAUTH).await;
    c.cmd_exact(&["AUTH", "pw"], "+OK\r\n").await;
    c.cmd_exact(&["PING"], "+PONG\r\n").await;
    let id = client_id(&mut c).await;

    // RESET drops the authentication when a password is set.
    c.cmd_exact(&["RESET"], "+RESET\r\n").await;
    c.cmd_exact(&["PING"], NOAUTH).await;
    c.cmd_exact(&["HELLO", "3", "AUTH", "default", "wrong"], WRONGPASS)
        .await;
    c.cmd_exact(&["PING"], NOAUTH).await;
    c.cmd_exact(
        &["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "n"],
        &hello_reply(3, id),
    )
    .await;
    c.cmd_exact(&["CLIENT", "GETNAME"], "$1\r\nn\r\n").await;
    c.cmd_exact(&["RESET"], "+RESET\r\n").await;
    c.cmd_exact(&["AUTH", "default", "pw"], "+OK\r\n").await;
    c.cmd_exact(&["QUIT"], "+OK\r\n").await;
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
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.cmd_exact(
        &["AUTH", "pw"],
        "-ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?\r\n",
    )
    .await;
    c.cmd_exact(&["AUTH", "default", "anything"], "+OK\r\n")
        .await;
    c.cmd_exact(&["AUTH", "bob", "anything"], WRONGPASS).await;
    c.cmd_exact(
        &["AUTH"],
        "-ERR wrong number of arguments for 'auth' command\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test]
async fn client_names_info_and_list() {
    let s = TestServer::start().await;
    let mut a = s.raw().await;
    let mut b = s.raw().await;
    let (ida, idb) = (client_id(&mut a).await, client_id(&mut b).await);
    assert!(idb > ida);

    a.cmd_exact(&["CLIENT", "GETNAME"], "$-1\r\n").await;
    for bad in ["a b", "a\nb", "caf\u{e9}"] {
        a.cmd_exact(
            &["CLIENT", "SETNAME", bad],
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
        )
        .await;
    }
    a.cmd_exact(&["CLIENT", "SETNAME", "alpha"], "+OK\r\n")
        .await;
    a.cmd_exact(&["CLIENT", "GETNAME"], "$5\r\nalpha\r\n").await;
    a.cmd_exact(
        &["client", "SETNAME"],
        "-ERR wrong number of arguments for 'client|setname' command\r\n",
    )
    .await;
    a.cmd_exact(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"], "+OK\r\n")
        .await;
    a.cmd_exact(&["CLIENT", "SETINFO", "lib-ver", "1.2"], "+OK\r\n")
        .await;
    a.cmd_exact(
        &["CLIENT", "SETINFO", "LIB-VER", "1 2"],
        "-ERR LIB-VER cannot contain spaces, newlines or special characters.\r\n",
    )
    .await;
    a.cmd_exact(
        &["CLIENT", "SETINFO", "foo", "x"],
        "-ERR Unrecognized option 'foo'\r\n",
    )
    .await;
    a.cmd_exact(&["CLIENT", "NO-EVICT", "on"], "+OK\r\n").await;
    a.cmd_exact(&["CLIENT", "NO-EVICT", "maybe"], "-ERR syntax error\r\n")
        .await;
    b.cmd_exact(&["SELECT", "2"], "+OK\r\n").await;

    // Five seconds later, b asks: a has been idle for five seconds.
    s.clock.advance(5_000);
    let line =
        |id: u64, c: &RawConn, name: &str, idle: u64, flags: &str, db: u8, cmd: &str, lib: &str| {
            let local = c.local_addr();
            let peer = c.peer_addr();
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
    b.send_cmd(&["CLIENT", "LIST"]).await;
    assert_eq!(bulk_text(b.read_reply().await), format!("{la}{lb}"));
    b.send_cmd(&["CLIENT", "LIST", "TYPE", "normal"]).await;
    assert_eq!(bulk_text(b.read_reply().await), format!("{la}{lb}"));
    b.cmd_exact(&["CLIENT", "LIST", "TYPE", "pubsub"], "$0\r\n\r\n")
        .await;
    let (sa, sb, sx) = (ida.to_string(), idb.to_string(), "999999".to_string());
    b.send_cmd(&["CLIENT", "LIST", "ID", &sb, &sx, &sa, &sa])
        .await;
    assert_eq!(bulk_text(b.read_reply().await), format!("{lb}{la}{la}"));
    b.cmd_exact(
        &["CLIENT", "LIST", "ID", "1", "x"],
        "-ERR Invalid client ID\r\n",
    )
    .await;
    b.cmd_exact(
        &["CLIENT", "LIST", "TYPE", "foo"],
        "-ERR Unknown client type 'foo'\r\n",
    )
    .await;
    b.cmd_exact(&["CLIENT", "LIST", "ID"], "-ERR syntax error\r\n")
        .await;
    b.send_cmd(&["CLIENT", "INFO"]).await;
    let info = bulk_text(b.read_reply().await);
    assert_eq!(info, lb.replace("cmd=client|list", "cmd=client|info"));

    // RESET keeps the library name, drops the name and the flags.
    a.cmd_exact(&["RESET"], "+RESET\r\n").await;
    a.send_cmd(&["CLIENT", "INFO"]).await;
    let info = bulk_text(a.read_reply().await);
    assert!(info.contains(" name= age=5 idle=0 flags=N db=0 "), "{info}");
    assert!(info.ends_with(" lib-name=mylib lib-ver=1.2\n"), "{info}");

    b.cmd_exact(
        &["CLIENT", "foo"],
        "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n",
    )
    .await;
    b.cmd_exact(
        &["CLIENT"],
        "-ERR wrong number of arguments for 'client' command\r\n",
    )
    .await;
    let Frame::Array(lines) = b.cmd(&["CLIENT", "HELP"]).await else {
        panic!("CLIENT HELP replies an array");
    };
    let n = lines.len();
    assert_eq!(
        lines[0],
        Frame::simple("CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    );
    assert_eq!(lines[n - 1], Frame::simple("    Prints this help."));
    assert!(lines.contains(&Frame::simple("REPLY (ON|OFF|SKIP)")));

    // The redis crate names itself on connect.
    let mut con = s.redis().await;
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
    let s = TestServer::start().await;
    let mut killer = s.raw().await;
    let mut victim = s.raw().await;
    let vid = client_id(&mut victim).await;

    killer
        .cmd_exact(
            &["CLIENT", "KILL", "ID", "0"],
            "-ERR client-id should be greater than 0\r\n",
        )
        .await;
    killer
        .cmd_exact(
            &["CLIENT", "KILL", "ID", "x"],
            "-ERR client-id should be greater than 0\r\n",
        )
        .await;
    killer
        .cmd_exact(
            &["CLIENT", "KILL", "TYPE", "foo"],
            "-ERR Unknown client type 'foo'\r\n",
        )
        .await;
    killer
        .cmd_exact(
            &["CLIENT", "KILL", "USER", "nobody"],
            "-ERR No such user 'nobody'\r\n",
        )
        .await;
    killer
        .cmd_exact(
            &["CLIENT", "KILL", "SKIPME", "maybe"],
            "-ERR syntax error\r\n",
        )
        .await;
    killer
        .cmd_exact(
            &["CLIENT", "KILL", "ID", "1", "foo"],
            "-ERR syntax error\r\n",
        )
        .await;
    killer
        .cmd_exact(&["CLIENT", "KILL", "1.2.3.4:5"], "-ERR No such client\r\n")
        .await;
    killer
        .cmd_exact(&["CLIENT", "KILL", "ID", "999999"], ":0\r\n")
        .await;
    killer
        .cmd_exact(
            &["CLIENT", "KILL", "TYPE", "pubsub", "ID", &vid.to_string()],
            ":0\r\n",
        )
        .await;
    killer
        .cmd_exact(&["CLIENT", "KILL", "TYPE", "normal"], ":1\r\n")
        .await;
    victim.expect_eof().await;
    // A killed client is gone from CLIENT LIST at once.
    killer.send_cmd(&["CLIENT", "LIST"]).await;
    assert_eq!(bulk_text(killer.read_reply().await).lines().count(), 1);

    // Old form: by peer address; nothing left to kill the second time.
    let mut victim = s.raw().await;
    let addr = victim.local_addr().to_string();
    killer
        .cmd_exact(&["CLIENT", "KILL", &addr], "+OK\r\n")
        .await;
    victim.expect_eof().await;
    killer
        .cmd_exact(&["CLIENT", "KILL", &addr], "-ERR No such client\r\n")
        .await;

    // New form by ADDR and LADDR.
    let mut victim = s.raw().await;
    let addr = victim.local_addr().to_string();
    let laddr = victim.peer_addr().to_string();
    killer
        .cmd_exact(
            &["CLIENT", "KILL", "ADDR", &addr, "LADDR", "1.2.3.4:5"],
            ":0\r\n",
        )
        .await;
    killer
        .cmd_exact(
            &[
                "CLIENT", "KILL", "ADDR", &addr, "LADDR", &laddr, "USER", "default",
            ],
            ":1\r\n",
        )
        .await;
    victim.expect_eof().await;

    // Killing oneself: the reply is written, then the connection closes.
    let kid = client_id(&mut killer).await.to_string();
    killer
        .cmd_exact(&["CLIENT", "KILL", "ID", &kid], ":0\r\n")
        .await;
    killer
        .cmd_exact(&["CLIENT", "KILL", "ID", &kid, "SKIPME", "no"], ":1\r\n")
        .await;
    killer.expect_eof().await;
    let mut last = s.raw().await;
    let addr = last.local_addr().to_string();
    last.cmd_exact(&["CLIENT", "KILL", &addr], "+OK\r\n").await;
    last.expect_eof().await;
    s.stop().await;
}

#[tokio::test]
async fn client_reply_off_skip_on() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    // OFF and SKIP write nothing; ON answers +OK.
    c.send_cmd(&["CLIENT", "REPLY", "OFF"]).await;
    c.send_cmd(&["PING", "dropped"]).await;
    c.send_cmd(&["CLIENT", "REPLY", "SKIP"]).await;
    c.send_cmd(&["PING", "dropped"]).await;
    c.cmd_exact(&["CLIENT", "REPLY", "ON"], "+OK\r\n").await;
    c.cmd_exact(&["PING", "a"], "$1\r\na\r\n").await;

    // SKIP drops exactly the next reply.
    c.send_cmd(&["CLIENT", "REPLY", "SKIP"]).await;
    c.send_cmd(&["PING", "dropped"]).await;
    c.cmd_exact(&["PING", "b"], "$1\r\nb\r\n").await;

    // RESET turns replies back on, and answers.
    c.send_cmd(&["CLIENT", "REPLY", "OFF"]).await;
    c.send_cmd(&["PING", "dropped"]).await;
    c.cmd_exact(&["RESET"], "+RESET\r\n").await;
    c.cmd_exact(&["PING", "c"], "$1\r\nc\r\n").await;

    c.cmd_exact(&["CLIENT", "REPLY", "maybe"], "-ERR syntax error\r\n")
        .await;
    c.cmd_exact(
        &["CLIENT", "REPLY"],
        "-ERR wrong number of arguments for 'client|reply' command\r\n",
    )
    .await;

    // Errors are dropped too, and pipelined batches behave the same.
    c.send(
        b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n*1\r\n$4\r\nECHO\r\n\
          *3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$2\r\nON\r\n*1\r\n$4\r\nPING\r\n",
    )
    .await;
    c.expect_exact("+OK\r\n+PONG\r\n").await;
    s.stop().await;
}
