//! Encoding replies straight into the connection's write buffer.
//!
//! Commands never build a reply tree: they call these methods, which append
//! RESP bytes to the one write buffer of the connection, so a pipeline of
//! commands costs one buffer and one `write` (server design note, 1.2).
//! The same calls produce RESP2 or RESP3 (`HELLO 3`) framing; see
//! <https://github.com/redis/redis-specification/blob/master/protocol/RESP3.md>.

use bytes::{BufMut, BytesMut};

/// Protocol version a client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// Appends replies in a client's protocol to a write buffer.
#[derive(Debug)]
pub struct Reply<'a> {
    buf: &'a mut BytesMut,
    proto: Protocol,
}

impl<'a> Reply<'a> {
    /// A writer appending to `buf` in protocol `proto`.
    #[inline]
    pub fn new(buf: &'a mut BytesMut, proto: Protocol) -> Reply<'a> {
        Reply { buf, proto }
    }

    /// The protocol replies are written in.
    #[inline]
    pub fn protocol(&self) -> Protocol {
        self.proto
    }

    /// Switches the protocol for the following replies (`HELLO`).
    pub fn set_protocol(&mut self, proto: Protocol) {
        self.proto = proto;
    }

    /// Whether replies use RESP3 framing.
    #[inline]
    pub fn is_resp3(&self) -> bool {
        self.proto == Protocol::Resp3
    }

    /// Bytes written to the buffer so far (a mark for [`Reply::truncate`]).
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the buffer is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The buffer written to (to move encoded bytes around in it).
    pub fn buffer(&mut self) -> &mut BytesMut {
        self.buf
    }

    /// Drops everything written after `mark` (for `CLIENT REPLY OFF/SKIP`).
    #[inline]
    pub fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }

    /// Appends raw, already-encoded RESP bytes.
    #[inline]
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    #[inline]
    fn line(&mut self, prefix: u8, n: i64) {
        let mut b = itoa::Buffer::new();
        let s = b.format(n).as_bytes();
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(prefix);
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`.
    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string (`+text`); `text` must not contain CR or LF.
    #[inline]
    pub fn simple(&mut self, text: &str) {
        self.buf.reserve(text.len() + 3);
        self.buf.put_u8(b'+');
        self.buf.extend_from_slice(text.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error (`-ERR text`): `text` is Redis' full error text including its
    /// code, e.g. `"ERR syntax error"` or `"WRONGTYPE Operation ..."`.
    /// CR and LF are handled as [`Reply::error_parts`] does.
    #[inline]
    pub fn error(&mut self, text: &str) {
        self.error_parts(&[text.as_bytes()]);
    }

    /// An error whose text is `parts` concatenated, byte for byte: the first
    /// part starts with the error code (`b"ERR unknown command '"`), later
    /// ones may be client bytes (see [`crate::cmd::shown`]).
    ///
    /// As Redis' `addReplyErrorFormat` does (`networking.c`), CR and LF are
    /// first trimmed from both ends of the text, then every other CR or LF
    /// becomes a space, so the reply stays one protocol line.
    pub fn error_parts(&mut self, parts: &[&[u8]]) {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        self.buf.reserve(total + 3);
        self.buf.put_u8(b'-');
        let start = self.buf.len();
        for part in parts {
            self.buf.extend_from_slice(part);
        }
        let is_eol = |b: &u8| *b == b'\r' || *b == b'\n';
        let text = &self.buf[start..];
        let lead = text.iter().take_while(|b| is_eol(b)).count();
        let keep = text[lead..]
            .iter()
            .rposition(|b| !is_eol(b))
            .map_or(0, |i| i + 1);
        if lead > 0 {
            self.buf
                .copy_within(start + lead..start + lead + keep, start);
        }
        self.buf.truncate(start + keep);
        for b in &mut self.buf[start..] {
            if is_eol(b) {
                *b = b' ';
            }
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer (`:n`).
    #[inline]
    pub fn int(&mut self, n: i64) {
        self.line(b':', n);
    }

    /// A bulk string (`$len` then bytes).
    #[inline]
    pub fn bulk(&mut self, bytes: &[u8]) {
        let mut b = itoa::Buffer::new();
        let len = b.format(bytes.len()).as_bytes();
        self.buf.reserve(bytes.len() + len.len() + 5);
        self.buf.put_u8(b'$');
        self.buf.extend_from_slice(len);
        self.buf.extend_from_slice(b"\r\n");
        self.buf.extend_from_slice(bytes);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer sent as a bulk string (`GET` of an `int`-encoded value).
    #[inline]
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null bulk string: `$-1` in RESP2, `_` in RESP3.
    #[inline]
    pub fn null(&mut self) {
        self.buf.extend_from_slice(match self.proto {
            Protocol::Resp2 => b"$-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        });
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.buf.extend_from_slice(match self.proto {
            Protocol::Resp2 => b"*-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        });
    }

    /// The header of an array of `n` elements.
    #[inline]
    pub fn array(&mut self, n: usize) {
        self.line(b'*', n as i64);
    }

    /// The header of a map of `n` key-value pairs (`%n` in RESP3; an array of
    /// `2n` elements in RESP2).
    pub fn map(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.line(b'*', 2 * n as i64),
            Protocol::Resp3 => self.line(b'%', n as i64),
        }
    }

    /// The header of a set of `n` elements (`~n` in RESP3, an array in RESP2).
    pub fn set(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.line(b'*', n as i64),
            Protocol::Resp3 => self.line(b'~', n as i64),
        }
    }

    /// The header of a push message of `n` elements (`>n` in RESP3, an array
    /// in RESP2).
    pub fn push(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.line(b'*', n as i64),
            Protocol::Resp3 => self.line(b'>', n as i64),
        }
    }

    /// A double: `,v` in RESP3, a bulk string in RESP2, formatted as Redis
    /// does (shortest round-trip digits, `inf`/`-inf`).
    pub fn double(&mut self, v: f64) {
        let mut buf = [0u8; 40];
        let n = crate::num::format_double(v, &mut buf);
        let tmp = &buf[..n];
        match self.proto {
            Protocol::Resp2 => self.bulk(tmp),
            Protocol::Resp3 => {
                self.buf.put_u8(b',');
                self.buf.extend_from_slice(tmp);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, v: bool) {
        match self.proto {
            Protocol::Resp2 => self.int(v as i64),
            Protocol::Resp3 => self
                .buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" }),
        }
    }

    /// A verbatim string of format `txt` (`=` in RESP3, a bulk string in
    /// RESP2), as `INFO` and `CLIENT LIST` reply.
    pub fn verbatim(&mut self, text: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.line(b'=', text.len() as i64 + 4);
                self.buf.extend_from_slice(b"txt:");
                self.buf.extend_from_slice(text);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(proto: Protocol, f: impl FnOnce(&mut Reply<'_>)) -> Vec<u8> {
        let mut buf = BytesMut::new();
        f(&mut Reply::new(&mut buf, proto));
        buf.to_vec()
    }

    #[test]
    fn resp2_and_resp3_framing() {
        use Protocol::*;
        assert_eq!(enc(Resp2, |r| r.null()), b"$-1\r\n");
        assert_eq!(enc(Resp3, |r| r.null()), b"_\r\n");
        assert_eq!(enc(Resp2, |r| r.map(2)), b"*4\r\n");
        assert_eq!(enc(Resp3, |r| r.map(2)), b"%2\r\n");
        assert_eq!(enc(Resp2, |r| r.double(1.5)), b"$3\r\n1.5\r\n");
        assert_eq!(enc(Resp3, |r| r.double(1.5)), b",1.5\r\n");
        assert_eq!(enc(Resp3, |r| r.verbatim(b"ab")), b"=6\r\ntxt:ab\r\n");
        assert_eq!(enc(Resp2, |r| r.bulk(b"")), b"$0\r\n\r\n");
        assert_eq!(enc(Resp2, |r| r.int(-3)), b":-3\r\n");
        assert_eq!(enc(Resp2, |r| r.error("ERR a\r\nb")), b"-ERR a  b\r\n");
    }

    #[test]
    fn error_parts_are_byte_exact_on_one_line() {
        use Protocol::*;
        let err = |parts: &[&[u8]]| enc(Resp2, |r| r.error_parts(parts));
        // Client bytes pass through unchanged, invalid UTF-8 included.
        assert_eq!(
            err(&[b"ERR unknown command '", b"\xff\xfe", b"'"]),
            b"-ERR unknown command '\xff\xfe'\r\n"
        );
        // Trailing CR/LF are trimmed (even across parts), inner ones become spaces.
        assert_eq!(
            err(&[b"ERR Unsupported option ", b"a\r\n"]),
            b"-ERR Unsupported option a\r\n"
        );
        assert_eq!(err(&[b"ERR x ", b"a\r", b"\n"]), b"-ERR x a\r\n");
        assert_eq!(err(&[b"ERR '", b"a\r\nb", b"'"]), b"-ERR 'a  b'\r\n");
        // Leading ones too, as Redis' sdstrim does.
        assert_eq!(err(&[b"\r\n", b"ERR \n"]), b"-ERR \r\n");
        assert_eq!(err(&[b"\r\n"]), b"-\r\n");
        assert_eq!(err(&[]), b"-\r\n");
        assert_eq!(enc(Resp3, |r| r.error("ERR a\n")), b"-ERR a\r\n");
        // Appending after earlier replies keeps them intact.
        let mut buf = BytesMut::new();
        let mut r = Reply::new(&mut buf, Resp2);
        r.int(1);
        r.error_parts(&[b"\nERR b"]);
        assert_eq!(&buf[..], b":1\r\n-ERR b\r\n");
    }
}
