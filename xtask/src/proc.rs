//! Process helpers: finding tools on `PATH`, running a command with a time
//! limit, free ports, and server processes that are always killed.

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::resp::Conn;

/// Finds `name` in the directories of `PATH`, like `which`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A port on 127.0.0.1 that was free a moment ago: bind port 0, read the
/// port the kernel chose, close the listener. Another process could take
/// it before we use it; on a benchmark machine that is unlikely.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    /// How it exited.
    pub status: ExitStatus,
    /// Its standard output, lossily decoded.
    pub stdout: String,
    /// Its standard error, lossily decoded.
    pub stderr: String,
}

/// Runs `cmd` to completion with piped output, killing it after `limit`.
///
/// # Errors
/// When it cannot start, or runs longer than `limit` (it is then killed).
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    // Drain both pipes on threads so a chatty child never blocks on a full
    // pipe while we wait for it.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{:?} did not finish within {limit:?}; killed it",
                cmd.get_program()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// A server child process, killed (SIGKILL) and reaped when dropped, so
/// that no server outlives the benchmark, whether it ends well or not.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Name for messages ("ours", "redis").
    pub name: &'static str,
    /// The loopback port it listens on.
    pub port: u16,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `program args...` with stdout and stderr going to `log`, and
    /// waits until it answers PING on 127.0.0.1:`port`.
    ///
    /// # Errors
    /// When the program cannot start, exits, or does not answer PING within
    /// ten seconds; the message includes the end of its log.
    pub fn start(
        name: &'static str,
        program: &Path,
        args: &[String],
        port: u16,
        log: PathBuf,
    ) -> Result<Self> {
        let log_file =
            File::create(&log).with_context(|| format!("creating log file {}", log.display()))?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {} {}", program.display(), args.join(" ")))?;
        let mut server = ServerProcess {
            child,
            name,
            port,
            log,
        };
        server
            .wait_ready(Duration::from_secs(10))
            .with_context(|| format!("{name} server ({}) did not come up", program.display()))?;
        Ok(server)
    }

    /// The process id (the server itself: it is started without a shell).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls PING until the server answers `+PONG`, bounded by `limit`.
    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        let mut last_err = String::from("no attempt");
        while Instant::now() < deadline {
            self.check_alive()?;
            match Conn::connect(self.port).and_then(|mut c| c.command(&[b"PING"])) {
                Ok(reply) if reply.is_simple("PONG") => return Ok(()),
                Ok(reply) => last_err = format!("PING answered {reply:?}"),
                Err(e) => last_err = format!("{e:#}"),
            }
            thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "no PONG within {limit:?} (last: {last_err}){}",
            self.log_tail()
        )
    }

    /// Fails if the process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} server exited ({status}){}", self.name, self.log_tail());
        }
        Ok(())
    }

    /// CPU time the process used so far (user + system), in microseconds,
    /// from `/proc/PID/stat` (assumes the usual 100 clock ticks per second).
    ///
    /// # Errors
    /// Off Linux, or when the process is gone.
    pub fn cpu_us(&self) -> Result<u64> {
        let path = format!("/proc/{}/stat", self.pid());
        let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        // Fields after the command name, which is in parentheses and may
        // hold spaces: state is field 3, utime 14, stime 15.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .with_context(|| format!("no command field in {path}"))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| -> Result<u64> {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .with_context(|| format!("no field {} in {path}", i + 3))
        };
        Ok((tick(11)? + tick(12)?) * 10_000)
    }

    /// Resident set size in bytes, from `/proc/PID/status` (`VmRSS`).
    ///
    /// # Errors
    /// Off Linux, or when the process is gone.
    pub fn rss_bytes(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .with_context(|| format!("no VmRSS line in {path}"))?;
        // "VmRSS:\t   12345 kB"
        let kb: u64 = line
            .trim_start_matches("VmRSS:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("parsing `{line}` in {path}"))?;
        Ok(kb * 1024)
    }

    /// The last lines of the server's log, formatted to end an error message.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(10)..].join("\n  ");
        if tail.is_empty() {
            format!("; its log {} is empty", self.log.display())
        } else {
            format!("; end of its log {}:\n  {tail}", self.log.display())
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
