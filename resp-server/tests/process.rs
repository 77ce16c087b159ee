//! The `resp-server` binary as a user runs it: flags, a config file, and a
//! clean stop on SIGTERM, SIGINT and `SHUTDOWN`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running binary, killed on drop if a test failed half-way.
struct Proc {
    child: Child,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on an ephemeral port and waits (bounded) for its
/// "Ready to accept connections" log line, which names the address.
fn start(extra: &[&str]) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_resp-server"))
        .args(["--port", "0", "--loglevel", "notice"])
        .args(extra)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn resp-server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("addr=").nth(1) {
                let addr = addr.split_whitespace().next().unwrap_or("").to_string();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("server printed its address");
    let port = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .expect("port in the ready line");
    Proc { child, port }
}

/// Sends `request` and reads until `expected` bytes arrived (or EOF, or a
/// 5 s timeout); returns what was read, for comparison with `expected`.
fn roundtrip(port: u16, request: &[u8], expected: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    while got.len() < expected.len() {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

fn assert_replies(port: u16, request: &[u8], expected: &[u8]) {
    let got = roundtrip(port, request, expected);
    assert_eq!(
        got.escape_ascii().to_string(),
        expected.escape_ascii().to_string()
    );
}

/// Waits, bounded, for the process to exit.
fn wait_exit(p: &mut Proc) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = p.child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(p: &Proc, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &p.child.id().to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{name}");
}

#[test]
#[cfg(unix)]
fn sigterm_stops_cleanly() {
    let mut p = start(&[]);
    assert_replies(p.port, b"PING\r\n", b"+PONG\r\n");
    signal(&p, "TERM");
    assert!(wait_exit(&mut p).success());
}

#[test]
#[cfg(unix)]
fn sigint_stops_cleanly_with_clients_connected() {
    let mut p = start(&[]);
    let idle = TcpStream::connect(("127.0.0.1", p.port)).expect("connect");
    assert_replies(p.port, b"SET k v\r\n", b"+OK\r\n");
    signal(&p, "INT");
    assert!(wait_exit(&mut p).success());
    drop(idle);
}

#[test]
fn shutdown_command_stops_the_process() {
    let mut p = start(&[]);
    // No reply on success: the connection just closes.
    assert_replies(p.port, b"SHUTDOWN NOSAVE\r\n", b"");
    assert!(wait_exit(&mut p).success());
}

#[test]
fn flags_and_config_file_apply() {
    let dir = std::env::temp_dir().join(format!("resp-server-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        "# a comment\nmaxclients 7\nrequirepass \"from file\"\ndatabases 4\n",
    )
    .unwrap();
    // The flag overrides the file's password.
    let p = start(&["--config", conf.to_str().unwrap(), "--requirepass", "flag"]);
    assert_replies(p.port, b"PING\r\n", b"-NOAUTH Authentication required.\r\n");
    assert_replies(
        p.port,
        b"AUTH flag\r\nCONFIG GET maxclients\r\nSELECT 4\r\nSELECT 3\r\n",
        b"+OK\r\n*2\r\n$10\r\nmaxclients\r\n$1\r\n7\r\n-ERR DB index is out of range\r\n+OK\r\n",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_config_file_is_refused_with_its_line() {
    let dir = std::env::temp_dir().join(format!("resp-server-badconf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("redis.conf");
    std::fs::write(&conf, "port 0\nno-such-parameter 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_resp-server"))
        .args(["--config", conf.to_str().unwrap()])
        .output()
        .expect("run resp-server");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("redis.conf:2"), "{err}");
    assert!(err.contains("no-such-parameter"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
