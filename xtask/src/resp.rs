//! A minimal blocking RESP2 client over raw TCP: enough to PING, probe
//! commands, read INFO and DBSIZE, and load keys with deep pipelines.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// Largest bulk string or array we accept from a server (INFO is a few KB).
const MAX_LEN: usize = 64 << 20;

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+text`
    Simple(String),
    /// `-ERR text`
    Error(String),
    /// `:n`
    Int(i64),
    /// `$n` then n bytes; `None` for `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*n` then n replies; `None` for `*-1`.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// True for the simple string `text`.
    pub fn is_simple(&self, text: &str) -> bool {
        matches!(self, Reply::Simple(s) if s == text)
    }
}

/// Appends `args` to `buf` as a RESP array of bulk strings.
pub fn encode(buf: &mut Vec<u8>, args: &[&[u8]]) {
    buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// A connection to a server on 127.0.0.1.
#[derive(Debug)]
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Connects to 127.0.0.1:`port` (1 s connect timeout, 60 s read timeout).
    pub fn connect(port: u16) -> Result<Self> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, stream),
            writer,
        })
    }

    /// Sends one command and reads its reply.
    pub fn command(&mut self, args: &[&[u8]]) -> Result<Reply> {
        let mut buf = Vec::new();
        encode(&mut buf, args);
        self.send(&buf)?;
        self.read_reply()
    }

    /// Writes already encoded commands.
    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer
            .write_all(bytes)
            .context("writing to the server")
    }

    /// Reads one reply.
    ///
    /// # Errors
    /// On I/O errors, a closed connection, or bytes that are not RESP2.
    pub fn read_reply(&mut self) -> Result<Reply> {
        let line = self.read_line()?;
        let (kind, rest) = line.split_at(1);
        Ok(match kind {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(parse_int(rest)?),
            "$" => match length(rest)? {
                None => Reply::Bulk(None),
                Some(n) => {
                    let mut data = vec![0; n + 2];
                    std::io::Read::read_exact(&mut self.reader, &mut data)
                        .context("reading a bulk string")?;
                    data.truncate(n);
                    Reply::Bulk(Some(data))
                }
            },
            "*" => match length(rest)? {
                None => Reply::Array(None),
                Some(n) => {
                    let mut items = Vec::with_capacity(n.min(1024));
                    for _ in 0..n {
                        items.push(self.read_reply()?);
                    }
                    Reply::Array(Some(items))
                }
            },
            _ => bail!("unexpected reply line `{line}` (not RESP2)"),
        })
    }

    /// Reads a line without its CRLF.
    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .context("reading a reply")?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        if !line.ends_with("\r\n") || line.len() < 3 {
            bail!("malformed reply line {line:?}");
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }
}

fn parse_int(s: &str) -> Result<i64> {
    s.parse()
        .with_context(|| format!("bad integer `{s}` in reply"))
}

/// A bulk or array length: `None` for -1.
fn length(s: &str) -> Result<Option<usize>> {
    match parse_int(s)? {
        -1 => Ok(None),
        n if n >= 0 && (n as usize) <= MAX_LEN => Ok(Some(n as usize)),
        n => bail!("bad length {n} in reply"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands() {
        let mut buf = Vec::new();
        encode(&mut buf, &[b"SET", b"k", b""]);
        assert_eq!(buf, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }

    #[test]
    fn reads_replies() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"+OK\r\n-ERR no\r\n:-5\r\n$3\r\na\r\n\r\n$-1\r\n*2\r\n:1\r\n*-1\r\n")
                .unwrap();
        });
        let mut c = Conn::connect(port).unwrap();
        assert!(c.read_reply().unwrap().is_simple("OK"));
        assert_eq!(c.read_reply().unwrap(), Reply::Error("ERR no".into()));
        assert_eq!(c.read_reply().unwrap(), Reply::Int(-5));
        assert_eq!(
            c.read_reply().unwrap(),
            Reply::Bulk(Some(b"a\r\n".to_vec()))
        );
        assert_eq!(c.read_reply().unwrap(), Reply::Bulk(None));
        assert_eq!(
            c.read_reply().unwrap(),
            Reply::Array(Some(vec![Reply::Int(1), Reply::Array(None)]))
        );
        server.join().unwrap();
        assert!(c.read_reply().is_err());
    }
}
