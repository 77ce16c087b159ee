//! Server commands over real TCP: `DBSIZE`, `FLUSHDB`, `FLUSHALL`,
//! `SWAPDB`, `TIME`, `LASTSAVE`, `INFO`, `CONFIG`, `COMMAND` and `SHUTDOWN`,
//! through raw RESP and the `redis` crate; replies that do not depend on the
//! process are compared with a real Redis 7.0 when one is installed.

mod common;

use std::collections::HashMap;

use common::{bulks, Frame, RawConn, RedisProcess, TestServer, CLOCK_START_MS};

fn bulk(s: &str) -> Frame {
    Frame::bulk(s)
}

fn int(n: i64) -> Frame {
    Frame::Int(n)
}

/// The text of an `INFO` reply (a bulk in RESP2, a verbatim in RESP3).
fn info_text(f: Frame) -> String {
    match f {
        Frame::Bulk(b) => String::from_utf8(b).expect("INFO is UTF-8"),
        Frame::Verbatim(fmt, b) => {
            assert_eq!(fmt, "txt");
            String::from_utf8(b).expect("INFO is UTF-8")
        }
        other => panic!("INFO replied {other:?}"),
    }
}

/// `name:value` lines of an `INFO` text.
fn info_fields(text: &str) -> HashMap<String, String> {
    text.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Sends a command and asserts it replied `+OK`.
async fn expect_ok(c: &mut RawConn, args: &[&str]) {
    assert_eq!(c.cmd(args).await, Frame::ok(), "{args:?}");
}

async fn info(c: &mut RawConn, sections: &[&str]) -> String {
    let mut args = vec!["INFO"];
    args.extend_from_slice(sections);
    info_text(c.cmd(&args).await)
}

#[tokio::test]
async fn dbsize_flushdb_and_flushall() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    for k in ["a", "b", "c"] {
        expect_ok(&mut c, &["SET", k, "1"]).await;
    }
    expect_ok(&mut c, &["SELECT", "1"]).await;
    expect_ok(&mut c, &["SET", "x", "1"]).await;
    assert_eq!(c.cmd(&["DBSIZE"]).await, int(1));
    expect_ok(&mut c, &["SELECT", "0"]).await;
    assert_eq!(c.cmd(&["DBSIZE"]).await, int(3));
    assert_eq!(
        c.cmd(&["DBSIZE", "x"]).await,
        Frame::err("ERR wrong number of arguments for 'dbsize' command")
    );

    // FLUSHDB empties the selected database only.
    for bad in [&["FLUSHDB", "x"][..], &["FLUSHDB", "ASYNC", "SYNC"][..]] {
        assert_eq!(c.cmd(bad).await, Frame::err("ERR syntax error"));
    }
    assert_eq!(c.cmd(&["FLUSHDB", "async"]).await, Frame::ok());
    assert_eq!(c.cmd(&["DBSIZE"]).await, int(0));
    assert_eq!(c.cmd(&["GET", "a"]).await, Frame::NullBulk);
    expect_ok(&mut c, &["SELECT", "1"]).await;
    assert_eq!(c.cmd(&["DBSIZE"]).await, int(1));

    // FLUSHALL empties every database.
    expect_ok(&mut c, &["SELECT", "0"]).await;
    expect_ok(&mut c, &["SET", "a", "1"]).await;
    assert_eq!(
        c.cmd(&["FLUSHALL", "SYNC", "ASYNC"]).await,
        Frame::err("ERR syntax error")
    );
    assert_eq!(c.cmd(&["FLUSHALL", "SYNC"]).await, Frame::ok());
    assert_eq!(c.cmd(&["DBSIZE"]).await, int(0));
    expect_ok(&mut c, &["SELECT", "1"]).await;
    assert_eq!(c.cmd(&["DBSIZE"]).await, int(0));
    assert_eq!(c.cmd(&["FLUSHALL"]).await, Frame::ok());
    server.stop().await;
}

#[tokio::test]
async fn swapdb_is_seen_by_every_client() {
    let server = TestServer::start().await;
    let mut a = server.raw().await;
    let mut b = server.raw().await;
    expect_ok(&mut a, &["SET", "k", "in-db0"]).await;
    expect_ok(&mut b, &["SELECT", "5"]).await;
    for i in 0..50 {
        // Enough keys to land in many shards.
        expect_ok(&mut b, &["SET", &format!("key:{i}"), "in-db5"]).await;
    }

    assert_eq!(a.cmd(&["SWAPDB", "0", "5"]).await, Frame::ok());
    // Each client keeps its index and sees the other data now.
    assert_eq!(a.cmd(&["GET", "k"]).await, Frame::NullBulk);
    assert_eq!(a.cmd(&["DBSIZE"]).await, int(50));
    assert_eq!(a.cmd(&["GET", "key:7"]).await, bulk("in-db5"));
    assert_eq!(b.cmd(&["DBSIZE"]).await, int(1));
    assert_eq!(b.cmd(&["GET", "k"]).await, bulk("in-db0"));

    assert_eq!(a.cmd(&["SWAPDB", "5", "5"]).await, Frame::ok());
    assert_eq!(b.cmd(&["GET", "k"]).await, bulk("in-db0"));
    let errors: &[(&[&str], &str)] = &[
        (&["SWAPDB", "0", "a"], "ERR invalid second DB index"),
        (&["SWAPDB", "a", "0"], "ERR invalid first DB index"),
        (&["SWAPDB", "01", "0"], "ERR invalid first DB index"),
        (&["SWAPDB", "2147483648", "0"], "ERR invalid first DB index"),
        (&["SWAPDB", "0", "16"], "ERR DB index is out of range"),
        (&["SWAPDB", "-1", "0"], "ERR DB index is out of range"),
        (
            &["SWAPDB", "0"],
            "ERR wrong number of arguments for 'swapdb' command",
        ),
    ];
    for (args, err) in errors {
        assert_eq!(a.cmd(args).await, Frame::err(err), "{args:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn time_lastsave_and_uptime_follow_the_clock() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    let start_s = (CLOCK_START_MS / 1000).to_string();
    assert_eq!(c.cmd(&["TIME"]).await, bulks(&[&start_s, "0"]));
    server.clock.advance(2 * 86_400_000 + 1_234);
    assert_eq!(
        c.cmd(&["TIME"]).await,
        bulks(&[
            &(CLOCK_START_MS / 1000 + 2 * 86_400 + 1).to_string(),
            "234000"
        ])
    );
    // Nothing is ever saved: LASTSAVE is the start.
    assert_eq!(
        c.cmd(&["LASTSAVE"]).await,
        int((CLOCK_START_MS / 1000) as i64)
    );
    let fields = info_fields(&info(&mut c, &["server", "persistence"]).await);
    assert_eq!(fields["uptime_in_seconds"], (2 * 86_400 + 1).to_string());
    assert_eq!(fields["uptime_in_days"], "2");
    assert_eq!(fields["rdb_last_save_time"], start_s);
    assert_eq!(
        fields["server_time_usec"],
        ((CLOCK_START_MS + 2 * 86_400_000 + 1_234) * 1000).to_string()
    );
    server.stop().await;
}

#[tokio::test]
async fn info_sections_layout_and_counters() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;

    // The default sections, in Redis' order, each followed by a blank line
    // except the last.
    let text = info(&mut c, &[]).await;
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(
        headers,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Cluster",
            "# Keyspace"
        ]
    );
    assert!(text.ends_with("# Keyspace\r\n"), "{text:?}");
    assert!(text.contains("\r\n\r\n# Clients\r\n"));
    assert_eq!(
        info(&mut c, &["all"]).await.lines().count(),
        text.lines().count()
    );
    assert_eq!(info(&mut c, &["nosuch"]).await, "");
    assert_eq!(info(&mut c, &["modules"]).await, "# Modules\r\n");
    // Order is Redis', not the request's; repeats and unknowns are ignored.
    let two = info(&mut c, &["KEYSPACE", "cluster", "cluster", "x"]).await;
    assert_eq!(two, "# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n");

    let fields = info_fields(&text);
    for (name, value) in [
        ("redis_version", "7.0.15"),
        ("redis_mode", "standalone"),
        ("arch_bits", "64"),
        ("tcp_port", &server.addr.port().to_string()),
        ("run_id", &server.shared.run_id),
        ("hz", "10"),
        ("connected_clients", "1"),
        ("maxclients", "10000"),
        ("blocked_clients", "0"),
        ("maxmemory", "0"),
        ("mem_allocator", "libc"),
        ("loading", "0"),
        ("aof_enabled", "0"),
        ("role", "master"),
        ("connected_slaves", "0"),
        ("evicted_keys", "0"),
        ("process_id", &std::process::id().to_string()),
    ] {
        assert_eq!(fields.get(name).map(String::as_str), Some(value), "{name}");
    }
    for name in [
        "os",
        "used_memory",
        "used_memory_human",
        "used_memory_peak",
        "used_cpu_sys",
        "used_cpu_user",
        "total_net_input_bytes",
        "instantaneous_ops_per_sec",
    ] {
        assert!(fields.contains_key(name), "{name} missing");
    }
    if cfg!(target_os = "linux") {
        let used: u64 = fields["used_memory"].parse().unwrap();
        assert!(used > 0);
        assert!(fields["used_memory_peak"].parse::<u64>().unwrap() >= used);
    }

    // Keyspace lines for non-empty databases only; hits, misses, expiries.
    expect_ok(&mut c, &["SET", "a", "1"]).await;
    expect_ok(&mut c, &["SET", "b", "1", "PX", "100"]).await;
    expect_ok(&mut c, &["SELECT", "2"]).await;
    expect_ok(&mut c, &["SET", "c", "1"]).await;
    assert_eq!(c.cmd(&["GET", "c"]).await, bulk("1"));
    assert_eq!(c.cmd(&["GET", "nope"]).await, Frame::NullBulk);
    assert_eq!(
        info(&mut c, &["keyspace"]).await,
        "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\ndb2:keys=1,expires=0,avg_ttl=0\r\n"
    );
    server.clock.advance(200);
    expect_ok(&mut c, &["SELECT", "0"]).await;
    assert_eq!(c.cmd(&["GET", "b"]).await, Frame::NullBulk);
    let stats = info_fields(&info(&mut c, &["stats"]).await);
    assert_eq!(stats["keyspace_hits"], "1");
    assert_eq!(stats["keyspace_misses"], "2");
    assert_eq!(stats["expired_keys"], "1");
    assert_eq!(stats["total_connections_received"], "1");
    assert!(stats["total_commands_processed"].parse::<u64>().unwrap() >= 10);

    // RESP3: a verbatim string of format txt.
    assert!(!c.cmd(&["HELLO", "3"]).await.is_error());
    match c.cmd(&["INFO", "cluster"]).await {
        Frame::Verbatim(fmt, text) => {
            assert_eq!(fmt, "txt");
            assert_eq!(text, b"# Cluster\r\ncluster_enabled:0\r\n");
        }
        other => panic!("INFO in RESP3 replied {other:?}"),
    }

    // The redis crate parses it.
    let mut r = server.redis().await;
    let dict: redis::InfoDict = redis::cmd("INFO").query_async(&mut r).await.unwrap();
    assert_eq!(dict.get::<String>("role").as_deref(), Some("master"));
    assert_eq!(dict.get::<u64>("connected_clients"), Some(2));
    server.stop().await;
}

#[tokio::test]
async fn config_get_set_and_resetstat() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    // What redis-benchmark asks at start.
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "save"]).await,
        bulks(&["save", ""])
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "appendonly"]).await,
        bulks(&["appendonly", "no"])
    );
    // Exact names echo as given; globs are case-insensitive; no repeats.
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "MAXCLIENTS", "maxclient?", "max*"])
            .await,
        bulks(&[
            "MAXCLIENTS",
            "10000",
            "maxmemory",
            "0",
            "maxmemory-policy",
            "noeviction"
        ])
    );
    assert_eq!(c.cmd(&["CONFIG", "GET", "nosuch"]).await, bulks(&[]));

    // Several at once, normalized as Redis shows them.
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "1mb",
            "maxmemory-policy",
            "ALLKEYS-LRU",
            "notify-keyspace-events",
            "KEA",
            "hz",
            "1000"
        ])
        .await,
        Frame::ok()
    );
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "GET",
            "maxmemory",
            "maxmemory-policy",
            "notify-keyspace-events",
            "hz"
        ])
        .await,
        bulks(&[
            "maxmemory",
            "1048576",
            "maxmemory-policy",
            "allkeys-lru",
            "notify-keyspace-events",
            "AKE",
            "hz",
            "500"
        ])
    );
    let errors: &[(&[&str], &str)] = &[
        (
            &["CONFIG", "SET", "maxclients", "1", "nosuch", "1"],
            "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'",
        ),
        (
            &["CONFIG", "SET", "daemonize", "yes", "nosuch", "1"],
            "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config",
        ),
        (
            &["CONFIG", "SET", "maxclients", "1", "MAXCLIENTS", "2"],
            "ERR CONFIG SET failed (possibly related to argument 'MAXCLIENTS') - duplicate parameter",
        ),
        (
            &["CONFIG", "SET", "hz", "20", "MAXCLIENTS", "abc"],
            "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer",
        ),
        (
            &["CONFIG", "SET", "appendonly", "maybe"],
            "ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'",
        ),
        (&["CONFIG", "SET", "hz", "5", "maxclients"], "ERR syntax error"),
        (
            &["CONFIG", "SET", "hz"],
            "ERR wrong number of arguments for 'config|set' command",
        ),
        (
            &["CONFIG", "GET"],
            "ERR wrong number of arguments for 'config|get' command",
        ),
        (
            &["CONFIG", "RESETSTAT", "x"],
            "ERR wrong number of arguments for 'config|resetstat' command",
        ),
        (
            &["CONFIG", "foo"],
            "ERR unknown subcommand 'foo'. Try CONFIG HELP.",
        ),
        (
            &["CONFIG", "REWRITE"],
            "ERR The server is running without a config file",
        ),
    ];
    for (args, err) in errors {
        assert_eq!(c.cmd(args).await, Frame::err(err), "{args:?}");
    }
    // The failed calls changed nothing.
    assert_eq!(c.cmd(&["CONFIG", "GET", "hz"]).await, bulks(&["hz", "500"]));
    assert_eq!(server.shared.config.maxclients(), 10000);
    match c.cmd(&["CONFIG", "HELP"]).await {
        Frame::Array(lines) => {
            assert_eq!(lines.len(), 11);
            assert!(lines.iter().all(|l| matches!(l, Frame::Simple(_))));
        }
        other => panic!("CONFIG HELP replied {other:?}"),
    }

    // Runtime values take effect: maxclients.
    expect_ok(&mut c, &["CONFIG", "SET", "maxclients", "1"]).await;
    let mut extra = server.raw().await;
    assert_eq!(
        extra.read_reply().await,
        Frame::err("ERR max number of clients reached")
    );
    expect_ok(&mut c, &["CONFIG", "SET", "maxclients", "10000"]).await;

    // RESETSTAT zeroes the counters, the keyspace's included.
    expect_ok(&mut c, &["SET", "k", "v", "PX", "10"]).await;
    assert_eq!(c.cmd(&["GET", "missing"]).await, Frame::NullBulk);
    server.clock.advance(20);
    assert_eq!(c.cmd(&["GET", "k"]).await, Frame::NullBulk);
    let before = info_fields(&info(&mut c, &["stats"]).await);
    assert_eq!(before["expired_keys"], "1");
    assert_eq!(before["keyspace_misses"], "2");
    assert_ne!(before["total_error_replies"], "0");
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]).await, Frame::ok());
    let after = info_fields(&info(&mut c, &["stats"]).await);
    for name in [
        "expired_keys",
        "keyspace_hits",
        "keyspace_misses",
        "total_error_replies",
        "rejected_connections",
        "total_connections_received",
    ] {
        assert_eq!(after[name], "0", "{name}");
    }

    // Through the redis crate: a map.
    let mut r = server.redis().await;
    let got: HashMap<String, String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("app*")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(got.get("appendonly").map(String::as_str), Some("no"));
    assert_eq!(got.get("appendfsync").map(String::as_str), Some("everysec"));
    server.stop().await;
}

#[tokio::test]
async fn command_introspection() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    let Frame::Array(all) = c.cmd(&["COMMAND"]).await else {
        panic!("COMMAND is not an array")
    };
    let Frame::Int(count) = c.cmd(&["COMMAND", "COUNT"]).await else {
        panic!("COMMAND COUNT is not an integer")
    };
    assert_eq!(all.len() as i64, count);
    assert!(all
        .iter()
        .all(|e| matches!(e, Frame::Array(f) if f.len() == 10)));
    let Frame::Array(names) = c.cmd(&["COMMAND", "LIST"]).await else {
        panic!("COMMAND LIST is not an array")
    };
    assert_eq!(names.len() as i64, count);
    assert!(names.contains(&bulk("swapdb")));

    let simple = |items: &[&str]| Frame::Array(items.iter().map(|s| Frame::simple(s)).collect());
    let entry = |name: &str, arity, flags: &[&str], keys: [i64; 3], acl: &[&str]| {
        Frame::Array(vec![
            bulk(name),
            int(arity),
            simple(flags),
            int(keys[0]),
            int(keys[1]),
            int(keys[2]),
            simple(acl),
            Frame::Array(vec![]),
            Frame::Array(vec![]),
            Frame::Array(vec![]),
        ])
    };
    assert_eq!(
        c.cmd(&["COMMAND", "INFO", "GET", "nosuch", "dbsize"]).await,
        Frame::Array(vec![
            entry(
                "get",
                2,
                &["readonly", "fast"],
                [1, 1, 1],
                &["@read", "@string", "@fast"]
            ),
            Frame::NullBulk,
            entry(
                "dbsize",
                1,
                &["readonly", "fast"],
                [0, 0, 0],
                &["@keyspace", "@read", "@fast"]
            ),
        ])
    );
    assert_eq!(
        c.cmd(&["COMMAND", "DOCS", "dbsize", "nosuch"]).await,
        Frame::Array(vec![
            bulk("dbsize"),
            bulks(&[
                "summary",
                "Return the number of keys in the selected database",
                "since",
                "1.0.0",
                "group",
                "server"
            ]),
        ])
    );
    assert_eq!(c.cmd(&["COMMAND", "DOCS", "nosuch"]).await, bulks(&[]));

    assert_eq!(
        c.cmd(&["COMMAND", "GETKEYS", "set", "k", "v"]).await,
        bulks(&["k"])
    );
    assert_eq!(
        c.cmd(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"])
            .await,
        bulks(&["a", "b"])
    );
    let errors: &[(&[&str], &str)] = &[
        (
            &["COMMAND", "GETKEYS", "nosuch", "a"],
            "ERR Invalid command specified",
        ),
        (
            &["COMMAND", "GETKEYS", "get", "a", "b"],
            "ERR Invalid number of arguments specified for command",
        ),
        (
            &["COMMAND", "GETKEYS", "ping", "x"],
            "ERR The command has no key arguments",
        ),
        (
            &["COMMAND", "GETKEYS", "get"],
            "ERR wrong number of arguments for 'command|getkeys' command",
        ),
        (
            &["COMMAND", "COUNT", "x"],
            "ERR wrong number of arguments for 'command|count' command",
        ),
        (
            &["COMMAND", "foo"],
            "ERR unknown subcommand 'foo'. Try COMMAND HELP.",
        ),
        (&["COMMAND", "LIST", "FILTERBY"], "ERR syntax error"),
        (
            &["COMMAND", "LIST", "FILTERBY", "color", "red"],
            "ERR syntax error",
        ),
    ];
    for (args, err) in errors {
        assert_eq!(c.cmd(args).await, Frame::err(err), "{args:?}");
    }

    assert_eq!(
        c.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "DB*"])
            .await,
        bulks(&["dbsize"])
    );
    assert_eq!(
        c.cmd(&["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]).await,
        bulks(&[])
    );
    assert_eq!(
        c.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"])
            .await,
        bulks(&[])
    );
    let Frame::Array(dangerous) = c
        .cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "Dangerous"])
        .await
    else {
        panic!("not an array")
    };
    for name in ["flushall", "flushdb", "swapdb", "shutdown", "info"] {
        assert!(dangerous.contains(&bulk(name)), "{name}");
    }
    assert!(!dangerous.contains(&bulk("get")));
    let Frame::Array(help) = c.cmd(&["COMMAND", "HELP"]).await else {
        panic!("not an array")
    };
    assert_eq!(help.len(), 21);

    // RESP3 types: sets for flags and categories, a map for DOCS.
    assert!(!c.cmd(&["HELLO", "3"]).await.is_error());
    match c.cmd(&["COMMAND", "INFO", "time"]).await {
        Frame::Array(entries) => match &entries[..] {
            [Frame::Array(e)] => {
                assert_eq!(
                    e[2],
                    Frame::Set(vec![
                        Frame::simple("loading"),
                        Frame::simple("stale"),
                        Frame::simple("fast"),
                    ])
                );
                assert_eq!(e[6], Frame::Set(vec![Frame::simple("@fast")]));
                assert_eq!(e[7], Frame::Set(vec![bulk("nondeterministic_output")]));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    let docs = c.cmd(&["COMMAND", "DOCS", "time"]).await;
    let time = docs.map_get("time").expect("time documented");
    assert_eq!(time.map_get("since"), Some(&bulk("2.6.0")));
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_the_connection_and_stops_the_server() {
    let server = TestServer::start().await;
    let mut c = server.raw().await;
    let errors: &[(&[&str], &str)] = &[
        (&["SHUTDOWN", "foo"], "ERR syntax error"),
        (&["SHUTDOWN", "ABORT", "NOW"], "ERR syntax error"),
        (&["SHUTDOWN", "NOSAVE", "SAVE"], "ERR syntax error"),
        (&["SHUTDOWN", "ABORT"], "ERR No shutdown in progress."),
    ];
    for (args, err) in errors {
        assert_eq!(c.cmd(args).await, Frame::err(err), "{args:?}");
    }
    assert!(!server.shared.is_shutting_down());
    let mut other = server.raw().await;
    assert_eq!(other.cmd(&["PING"]).await, Frame::simple("PONG"));

    // Replies before SHUTDOWN in the same batch still arrive; SHUTDOWN
    // itself answers nothing.
    let mut batch = common::encode(&["PING"]);
    common::encode_into(&mut batch, &["SHUTDOWN", "NOSAVE", "NOW", "FORCE"]);
    c.send(&batch).await;
    assert_eq!(c.read_to_eof().await, b"+PONG\r\n");
    assert!(server.shared.is_shutting_down());
    assert_eq!(other.read_to_eof().await, b"");
    server.stop().await;
}

/// Commands whose replies do not depend on the process, run against our
/// server and a real Redis 7.0 from the same empty state.
const SAME_AS_REDIS: &[&[&str]] = &[
    &["SET", "a", "1"],
    &["SELECT", "3"],
    &["SET", "c", "1"],
    &["SELECT", "0"],
    &["DBSIZE"],
    &["INFO", "keyspace"],
    &["SWAPDB", "0", "3"],
    &["DBSIZE"],
    &["GET", "c"],
    &["INFO", "KEYSPACE", "nosuch"],
    &["SWAPDB", "0", "a"],
    &["SWAPDB", "a", "0"],
    &["SWAPDB", "0", "16"],
    &["SWAPDB", "-1", "0"],
    &["SWAPDB", "01", "0"],
    &["SWAPDB", "99999999999", "0"],
    &["FLUSHDB", "x"],
    &["FLUSHDB", "async"],
    &["DBSIZE"],
    &["FLUSHALL", "sync", "async"],
    &["FLUSHALL", "SYNC"],
    &["INFO", "keyspace"],
    &["INFO", "modules"],
    &["INFO", "nosuch"],
    &["TIME", "x"],
    &["LASTSAVE", "x"],
    &["SHUTDOWN", "foo"],
    &["SHUTDOWN", "ABORT"],
    &["SHUTDOWN", "abort", "abort"],
    &["SHUTDOWN", "ABORT", "NOW"],
    &["SHUTDOWN", "NOSAVE", "SAVE"],
    &["CONFIG"],
    &["CONFIG", "GET"],
    &["CONFIG", "foo"],
    &["CONFIG", "HELP"],
    &["CONFIG", "HELP", "x"],
    &["CONFIG", "GET", "nosuch", "other"],
    &["CONFIG", "GET", "save"],
    &["CONFIG", "GET", "appendonly"],
    &["CONFIG", "GET", "MAXCLIENTS", "maxclients"],
    &["CONFIG", "GET", "maxclient?"],
    &["CONFIG", "GET", "timeout"],
    &["CONFIG", "GET", "databases"],
    &["CONFIG", "SET", "maxclients", "100", "nosuch", "1"],
    &["CONFIG", "SET", "nosuch", "1", "daemonize", "yes"],
    &["CONFIG", "SET", "daemonize", "yes", "nosuch", "1"],
    &["CONFIG", "SET", "hz", "5", "maxclients"],
    &["CONFIG", "SET", "maxclients"],
    &["CONFIG", "SET", "maxclients", "abc"],
    &["CONFIG", "SET", "MAXCLIENTS", "abc"],
    &["CONFIG", "SET", "maxclients", "0"],
    &["CONFIG", "SET", "maxclients", "01"],
    &["CONFIG", "SET", "maxclients", "100", "maxclients", "200"],
    &["CONFIG", "SET", "appendonly", "maybe"],
    &["CONFIG", "SET", "appendfsync", "x"],
    &["CONFIG", "SET", "maxmemory-policy", "foo"],
    &["CONFIG", "SET", "maxmemory", "1x"],
    &["CONFIG", "SET", "maxmemory", "-1"],
    &["CONFIG", "SET", "maxmemory", "1.5mb"],
    &["CONFIG", "SET", "timeout", "-1"],
    &["CONFIG", "SET", "proto-max-bulk-len", "10"],
    &["CONFIG", "SET", "active-expire-effort", "11"],
    &["CONFIG", "SET", "slowlog-max-len", "-5"],
    &["CONFIG", "SET", "databases", "3"],
    &["CONFIG", "SET", "dir", "/"],
    &["CONFIG", "SET", "dbfilename", "x.rdb"],
    &["CONFIG", "SET", "logfile", "x"],
    &["CONFIG", "SET", "save", "1 2 3"],
    &["CONFIG", "SET", "save", " 100 20"],
    &["CONFIG", "SET", "notify-keyspace-events", "Zq"],
    &["CONFIG", "SET", "hz", "20", "maxclients", "-1"],
    &["CONFIG", "GET", "hz"],
    &["CONFIG", "SET", "hz", "1000", "maxmemory", "1K"],
    &["CONFIG", "GET", "hz"],
    &["CONFIG", "GET", "maxmemory"],
    &["CONFIG", "SET", "hz", "0"],
    &["CONFIG", "GET", "hz"],
    &["CONFIG", "SET", "hz", "10", "maxmemory", "0"],
    &["CONFIG", "SET", "notify-keyspace-events", "nmdtKEA"],
    &["CONFIG", "GET", "notify-keyspace-events"],
    &["CONFIG", "SET", "notify-keyspace-events", ""],
    &["CONFIG", "SET", "save", "3600 1 300 100"],
    &["CONFIG", "GET", "save"],
    &["CONFIG", "SET", "save", ""],
    &["CONFIG", "SET", "maxmemory-policy", "VOLATILE-TTL"],
    &["CONFIG", "GET", "maxmemory-policy"],
    &["CONFIG", "SET", "maxmemory-policy", "noeviction"],
    &["CONFIG", "REWRITE"],
    &["CONFIG", "RESETSTAT"],
    &["CONFIG", "RESETSTAT", "x"],
    &["COMMAND", "foo"],
    &["COMMAND", "HELP"],
    &["COMMAND", "COUNT", "x"],
    &["COMMAND", "GETKEYS"],
    &["COMMAND", "GETKEYS", "nosuch"],
    &["COMMAND", "GETKEYS", "nosuch", "a"],
    &["COMMAND", "GETKEYS", "get"],
    &["COMMAND", "GETKEYS", "get", "a", "b"],
    &["COMMAND", "GETKEYS", "ping", "x"],
    &["COMMAND", "GETKEYS", "GET", "k"],
    &["COMMAND", "GETKEYS", "set", "k", "v", "EX", "10"],
    &["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"],
    &["COMMAND", "GETKEYS", "config", "get", "x"],
    &["COMMAND", "INFO", "nosuch"],
    &["COMMAND", "DOCS", "nosuch"],
    &["COMMAND", "LIST", "FILTERBY", "PATTERN", "db*"],
    &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"],
    &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"],
    &["COMMAND", "LIST", "FILTERBY"],
    &["COMMAND", "LIST", "foo"],
    &["SWAPDB", "0", "0"],
];

#[tokio::test]
async fn replies_match_real_redis() {
    let Some(redis) = RedisProcess::start().await else {
        return;
    };
    let server = TestServer::start().await;
    let mut ours = server.raw().await;
    let mut theirs = RawConn::connect(redis.addr()).await;
    let mut mismatches = Vec::new();
    for args in SAME_AS_REDIS {
        let (a, b) = (ours.cmd(args).await, theirs.cmd(args).await);
        if a != b {
            mismatches.push(format!("{args:?}\n  ours:  {a:?}\n  redis: {b:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    server.stop().await;
}
