//! Request parsing: finds the arguments of one client command at the start of
//! a connection's read buffer.
//!
//! A client sends either RESP multibulk (`*<n>\r\n` then n times
//! `$<len>\r\n<bytes>\r\n`) or an inline command (a line of space separated
//! words, as telnet sends). The first byte decides: `*` is multibulk, anything
//! else is inline. Both follow Redis 7 (`processMultibulkBuffer`,
//! `processInlineBuffer` in `src/networking.c`, `sdssplitargs` in
//! `src/sds.c`, `string2ll` in `src/util.c`), including its limits and its
//! error texts.
//!
//! [`Parser`] never copies a bulk payload: it records each argument as a byte
//! range into the caller's buffer. It is resumable: when a command is
//! incomplete it keeps its position, so a big multibulk arriving in many
//! reads is scanned once, not once per read.
//!
//! Deliberate differences from Redis, all about inputs Redis treats
//! inconsistently:
//! - NUL bytes are ordinary bytes. Redis scans with `strchr` and splits
//!   inline lines as C strings, so a NUL stalls or truncates a request.
//! - The "too big ... string/request" errors depend only on the first
//!   64 KiB (or [`Limits::max_inline_len`]) bytes of the line, never on how
//!   the bytes were split into reads; Redis looks at whatever is buffered.

use std::fmt;

/// Longest count line (`*<n>` or `$<len>`) searched for its `\r`, in bytes
/// from the `*` or `$`; Redis' `PROTO_INLINE_MAX_SIZE`.
const COUNT_LINE_MAX: usize = 64 * 1024;

/// Most argument ranges reserved up front for a multibulk, whatever count it
/// declares; more are pushed as elements arrive (Redis reserves the same).
const RANGES_RESERVE_MAX: usize = 1024;

/// Capacity (in ranges) above which the ranges vector is shrunk back to
/// [`RANGES_RESERVE_MAX`] before the next command, so one huge command does
/// not pin memory for the life of the connection.
const RANGES_KEEP_MAX: usize = 8 * 1024;

/// Capacity (in bytes) above which the inline scratch buffer is shrunk
/// before the next command.
const SCRATCH_KEEP_MAX: usize = 64 * 1024;

/// Size limits applied while parsing, as Redis' configuration sets them.
///
/// Lengths are in bytes, counts in elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk payload accepted, in bytes (`proto-max-bulk-len`,
    /// default 512 MiB).
    pub max_bulk_len: usize,
    /// Largest multibulk element count accepted (default `i32::MAX`, Redis'
    /// `INT_MAX`).
    pub max_multibulk_len: usize,
    /// Longest inline line accepted, in bytes, not counting its `\n`
    /// (default 64 KiB, Redis' `PROTO_INLINE_MAX_SIZE`).
    pub max_inline_len: usize,
    /// Largest multibulk element count accepted before the client has
    /// authenticated (default 10).
    pub unauthenticated_max_multibulk_len: usize,
    /// Largest bulk payload accepted before the client has authenticated, in
    /// bytes (default 16384).
    pub unauthenticated_max_bulk_len: usize,
}

impl Default for Limits {
    /// Redis 7's defaults.
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            max_inline_len: 64 * 1024,
            unauthenticated_max_multibulk_len: 10,
            unauthenticated_max_bulk_len: 16384,
        }
    }
}

/// A malformed request; the connection replies `-ERR <error>` and closes.
///
/// `Display` gives Redis 7's exact text, without the `-ERR ` prefix and
/// without the trailing `\r\n`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// The multibulk count is not a number or exceeds
    /// [`Limits::max_multibulk_len`].
    InvalidMultibulkLength,
    /// The multibulk count exceeds [`Limits::unauthenticated_max_multibulk_len`]
    /// and the client has not authenticated.
    UnauthenticatedMultibulkLength,
    /// A bulk length is not a number, is negative, exceeds
    /// [`Limits::max_bulk_len`], or would put the payload's end past 4 GiB
    /// into the buffer.
    InvalidBulkLength,
    /// A bulk length exceeds [`Limits::unauthenticated_max_bulk_len`] and
    /// the client has not authenticated.
    UnauthenticatedBulkLength,
    /// A multibulk element does not start with `$`.
    ExpectedDollar {
        /// The byte found instead.
        got: u8,
    },
    /// No `\r` within 64 KiB after the `*` of a multibulk count.
    TooBigMbulkCountString,
    /// No `\r` within 64 KiB after the `$` of a bulk length.
    TooBigBulkCountString,
    /// An inline line is longer than [`Limits::max_inline_len`] (or than
    /// 4 GiB).
    TooBigInlineRequest,
    /// An inline line has an unterminated quote, or a closing quote followed
    /// by something other than whitespace.
    UnbalancedQuotes,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ProtocolError::InvalidMultibulkLength => "Protocol error: invalid multibulk length",
            ProtocolError::UnauthenticatedMultibulkLength => {
                "Protocol error: unauthenticated multibulk length"
            }
            ProtocolError::InvalidBulkLength => "Protocol error: invalid bulk length",
            ProtocolError::UnauthenticatedBulkLength => {
                "Protocol error: unauthenticated bulk length"
            }
            ProtocolError::ExpectedDollar { got } => {
                // Redis formats the byte with %c, then replaces CR and LF by
                // spaces so the error stays on one line. A byte above 0x7f is
                // shown as the Latin-1 character, since a str cannot hold it.
                let got = match *got {
                    b'\r' | b'\n' => ' ',
                    b => char::from(b),
                };
                return write!(f, "Protocol error: expected '$', got '{got}'");
            }
            ProtocolError::TooBigMbulkCountString => "Protocol error: too big mbulk count string",
            ProtocolError::TooBigBulkCountString => "Protocol error: too big bulk count string",
            ProtocolError::TooBigInlineRequest => "Protocol error: too big inline request",
            ProtocolError::UnbalancedQuotes => "Protocol error: unbalanced quotes in request",
        };
        f.write_str(text)
    }
}

impl std::error::Error for ProtocolError {}

/// Where the argument ranges of the last complete command point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgSource {
    /// Into the buffer given to [`Parser::parse`] (multibulk, and inline
    /// lines without quotes).
    Buffer,
    /// Into [`Parser::scratch`] (inline lines with quotes, unescaped).
    Scratch,
}

/// What the parser expects next in the current command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nothing of the command is parsed yet.
    Start,
    /// Searching the `\n` ending an inline line.
    Inline,
    /// Searching the `\r` ending the `*<n>` line at offset 0.
    Count,
    /// Searching the `\r` ending a `$<len>` line at `pos`.
    BulkLen,
    /// Waiting for a payload starting at `pos` and ending (CRLF included)
    /// at `need`.
    Payload,
}

/// Resumable parser of client commands; one per connection.
///
/// # Examples
///
/// ```
/// use resp_server::parse::{Limits, Parser};
///
/// let limits = Limits::default();
/// let mut parser = Parser::new();
/// let mut buf = b"*2\r\n$4\r\nECHO\r\n$2".to_vec();
/// assert_eq!(parser.parse(&buf, &limits, true), Ok(None));
/// buf.extend_from_slice(b"\r\nhi\r\nPING\r\n");
/// assert_eq!(parser.parse(&buf, &limits, true), Ok(Some(22)));
/// assert_eq!(parser.argc(), 2);
/// assert_eq!(parser.arg(&buf, 1), b"hi");
/// buf.drain(..22);
/// assert_eq!(parser.parse(&buf, &limits, true), Ok(Some(6)));
/// assert_eq!(parser.arg(&buf, 0), b"PING");
/// ```
#[derive(Clone, Debug)]
pub struct Parser {
    phase: Phase,
    /// Start of the current line (`BulkLen`) or payload (`Payload`).
    pos: usize,
    /// Next offset to search for the current line's terminator.
    scan: usize,
    /// Multibulk elements not yet complete.
    remaining: usize,
    /// `Payload`: offset just past the payload's trailing CRLF.
    need: usize,
    /// Whether `ranges` holds a complete command.
    done: bool,
    ranges: Vec<(u32, u32)>,
    scratch: Vec<u8>,
    source: ArgSource,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new()
    }
}

impl Parser {
    /// Creates a parser expecting the start of a command; allocates nothing.
    pub fn new() -> Self {
        Parser {
            phase: Phase::Start,
            pos: 0,
            scan: 0,
            remaining: 0,
            need: 0,
            done: false,
            ranges: Vec::new(),
            scratch: Vec::new(),
            source: ArgSource::Buffer,
        }
    }

    /// Tries to parse one command at the start of `buf`.
    ///
    /// Returns `Ok(Some(consumed))` for a whole command: its first
    /// `consumed` bytes of `buf` belong to it, and its arguments are
    /// available through [`argc`](Self::argc), [`arg`](Self::arg) and
    /// [`ranges`](Self::ranges) until the next call. The caller then drops
    /// those bytes, so the next command starts at offset 0 of the next call's
    /// buffer. A command may have 0 arguments (an empty inline line, `*0`,
    /// `*-1`); Redis ignores those, and so should the caller.
    ///
    /// Returns `Ok(None)` when the command is incomplete. Call again once
    /// more bytes arrived, with a buffer holding the same bytes followed by
    /// the new ones (it may have moved: state is kept as offsets). The parser
    /// continues where it stopped. [`needed`](Self::needed) may tell how many
    /// bytes it waits for.
    ///
    /// `buf` must be shorter than 4 GiB: argument ranges are `u32` offsets.
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`] when the request is malformed or exceeds
    /// `limits` (the `unauthenticated_*` limits apply too when
    /// `authenticated` is false). The parser is then reset; the caller
    /// replies `-ERR <error>` and closes the connection.
    pub fn parse(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        authenticated: bool,
    ) -> Result<Option<usize>, ProtocolError> {
        if self.phase == Phase::Start {
            self.reset_args();
        }
        let result = self.step(buf, limits, authenticated);
        match result {
            Ok(Some(_)) => {
                self.phase = Phase::Start;
                self.done = true;
            }
            Ok(None) => {}
            Err(_) => {
                self.phase = Phase::Start;
                self.reset_args();
            }
        }
        result
    }

    /// Number of arguments of the last complete command; 0 while a command
    /// is incomplete.
    pub fn argc(&self) -> usize {
        self.ranges().len()
    }

    /// Argument `i` of the last complete command.
    ///
    /// `buf` must be the buffer given to the [`parse`](Self::parse) call that
    /// returned `Ok(Some(_))`; the argument is a slice of it or of the
    /// parser's scratch buffer, as [`source`](Self::source) says.
    ///
    /// # Panics
    ///
    /// If `i >= argc()`, or if `buf` is shorter than that command.
    pub fn arg<'a>(&'a self, buf: &'a [u8], i: usize) -> &'a [u8] {
        let (start, end) = self.ranges()[i];
        let (start, end) = (start as usize, end as usize);
        match self.source {
            ArgSource::Buffer => &buf[start..end],
            ArgSource::Scratch => &self.scratch[start..end],
        }
    }

    /// Argument ranges of the last complete command, in order: `(start,
    /// end)` byte offsets, end exclusive, into the source given by
    /// [`source`](Self::source). Empty while a command is incomplete.
    pub fn ranges(&self) -> &[(u32, u32)] {
        if self.done {
            &self.ranges
        } else {
            &[]
        }
    }

    /// Where [`ranges`](Self::ranges) point.
    pub fn source(&self) -> ArgSource {
        self.source
    }

    /// Unescaped arguments of the last inline command with quotes, one after
    /// the other; [`ranges`](Self::ranges) delimit them when
    /// [`source`](Self::source) is [`ArgSource::Scratch`].
    pub fn scratch(&self) -> &[u8] {
        &self.scratch
    }

    /// While a command is incomplete, the buffer length in bytes the parser
    /// needs before it can make progress, when it knows it: while waiting
    /// for a bulk payload, the offset of the payload's end plus 2 (its
    /// CRLF). The connection can reserve its read buffer to that size once.
    ///
    /// `None` when unknown (waiting for a line end) or when no command is
    /// pending.
    pub fn needed(&self) -> Option<usize> {
        match self.phase {
            Phase::Payload => Some(self.need),
            _ => None,
        }
    }

    /// Clears the arguments of the previous command before a new one.
    fn reset_args(&mut self) {
        self.done = false;
        self.source = ArgSource::Buffer;
        self.ranges.clear();
        if self.ranges.capacity() > RANGES_KEEP_MAX {
            self.ranges.shrink_to(RANGES_RESERVE_MAX);
        }
        self.scratch.clear();
        if self.scratch.capacity() > SCRATCH_KEEP_MAX {
            self.scratch.shrink_to(SCRATCH_KEEP_MAX);
        }
    }

    /// Advances through `buf` as far as it goes; see [`Parser::parse`].
    fn step(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        authenticated: bool,
    ) -> Result<Option<usize>, ProtocolError> {
        loop {
            match self.phase {
                Phase::Start => match buf.first() {
                    None => return Ok(None),
                    Some(b'*') => {
                        self.phase = Phase::Count;
                        self.scan = 1;
                    }
                    Some(_) => {
                        self.phase = Phase::Inline;
                        self.scan = 0;
                    }
                },
                Phase::Inline => return self.inline(buf, limits),
                Phase::Count => {
                    let Some(cr) = self.find_cr(buf, 0, ProtocolError::TooBigMbulkCountString)?
                    else {
                        return Ok(None);
                    };
                    let next = cr + 2;
                    let count = match buf.get(1..cr).and_then(string2ll) {
                        None => return Err(ProtocolError::InvalidMultibulkLength),
                        Some(n) if n <= 0 => return Ok(Some(next)),
                        Some(n) => n.unsigned_abs(),
                    };
                    if count > to_u64(limits.max_multibulk_len) {
                        return Err(ProtocolError::InvalidMultibulkLength);
                    }
                    if !authenticated && count > to_u64(limits.unauthenticated_max_multibulk_len) {
                        return Err(ProtocolError::UnauthenticatedMultibulkLength);
                    }
                    // count <= max_multibulk_len, a usize.
                    self.remaining = usize::try_from(count)
                        .map_err(|_| ProtocolError::InvalidMultibulkLength)?;
                    self.ranges.reserve(self.remaining.min(RANGES_RESERVE_MAX));
                    self.pos = next;
                    self.scan = next;
                    self.phase = Phase::BulkLen;
                }
                Phase::BulkLen => {
                    let Some(cr) =
                        self.find_cr(buf, self.pos, ProtocolError::TooBigBulkCountString)?
                    else {
                        return Ok(None);
                    };
                    // pos <= scan <= cr < buf.len() when buf only grew; `get`
                    // keeps a misbehaving caller from causing a panic.
                    match buf.get(self.pos) {
                        Some(b'$') => {}
                        Some(&got) => return Err(ProtocolError::ExpectedDollar { got }),
                        None => return Ok(None),
                    }
                    let len = match buf.get(self.pos + 1..cr).and_then(string2ll) {
                        Some(n) if n >= 0 => n.unsigned_abs(),
                        _ => return Err(ProtocolError::InvalidBulkLength),
                    };
                    if len > to_u64(limits.max_bulk_len) {
                        return Err(ProtocolError::InvalidBulkLength);
                    }
                    if !authenticated && len > to_u64(limits.unauthenticated_max_bulk_len) {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    let start = cr + 2;
                    // The payload's end and CRLF must stay within u32 offsets.
                    let need = usize::try_from(len)
                        .ok()
                        .and_then(|len| start.checked_add(len)?.checked_add(2))
                        .filter(|&need| u32::try_from(need).is_ok())
                        .ok_or(ProtocolError::InvalidBulkLength)?;
                    self.pos = start;
                    self.need = need;
                    self.phase = Phase::Payload;
                }
                Phase::Payload => {
                    if buf.len() < self.need {
                        return Ok(None);
                    }
                    // Both fit: need fits in u32 (checked in BulkLen).
                    let start = self.pos as u32;
                    let end = (self.need - 2) as u32;
                    self.ranges.push((start, end));
                    // Like Redis, the 2 bytes after the payload are skipped
                    // unchecked.
                    self.remaining -= 1;
                    if self.remaining == 0 {
                        return Ok(Some(self.need));
                    }
                    self.pos = self.need;
                    self.scan = self.need;
                    self.phase = Phase::BulkLen;
                }
            }
        }
    }

    /// Finds the `\r` ending the count line starting at `line_start`,
    /// resuming the search at `self.scan`.
    ///
    /// Returns `Ok(Some(offset of '\r'))` once the byte after it is
    /// buffered too (Redis does not check that it is `\n`), `Ok(None)` if
    /// more bytes are needed, and `Err(too_big)` when the first
    /// [`COUNT_LINE_MAX`] + 1 bytes of the line hold no `\r`.
    fn find_cr(
        &mut self,
        buf: &[u8],
        line_start: usize,
        too_big: ProtocolError,
    ) -> Result<Option<usize>, ProtocolError> {
        let limit = line_start.saturating_add(COUNT_LINE_MAX + 1);
        let end = buf.len().min(limit);
        if let Some(window) = buf.get(self.scan..end) {
            if let Some(i) = window.iter().position(|&b| b == b'\r') {
                let cr = self.scan + i;
                self.scan = cr;
                return Ok((cr + 1 < buf.len()).then_some(cr));
            }
            self.scan = end;
        }
        if buf.len() >= limit {
            return Err(too_big);
        }
        Ok(None)
    }

    /// Parses an inline command: a line ending in `\n` (an `\r` before it is
    /// stripped), split as Redis' `sdssplitargs` does.
    fn inline(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<usize>, ProtocolError> {
        let limit = limits.max_inline_len.saturating_add(1);
        let end = buf.len().min(limit);
        let newline = buf.get(self.scan..end).and_then(|window| {
            let found = window.iter().position(|&b| b == b'\n');
            if found.is_none() {
                self.scan = end;
            }
            found.map(|i| self.scan + i)
        });
        let Some(newline) = newline else {
            if buf.len() >= limit {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            return Ok(None);
        };
        let line_end = match newline.checked_sub(1) {
            Some(before) if buf[before] == b'\r' => before,
            _ => newline,
        };
        let line = &buf[..line_end];
        if u32::try_from(line.len()).is_err() {
            return Err(ProtocolError::TooBigInlineRequest);
        }
        if line.iter().any(|&b| b == b'"' || b == b'\'') {
            self.source = ArgSource::Scratch;
            self.split_quoted(line)?;
        } else {
            self.source = ArgSource::Buffer;
            self.split_plain(line);
        }
        Ok(Some(newline + 1))
    }

    /// Splits a line without quotes into ranges of `line` (which starts at
    /// offset 0 of the buffer). `line.len()` fits in u32.
    fn split_plain(&mut self, line: &[u8]) {
        let mut i = 0;
        loop {
            while i < line.len() && is_space(line[i]) {
                i += 1;
            }
            if i == line.len() {
                return;
            }
            let start = i;
            while i < line.len() && !ends_token(line[i]) {
                i += 1;
            }
            self.ranges.push((start as u32, i as u32));
        }
    }

    /// Splits a line with quotes into unescaped arguments in `scratch`,
    /// following `sdssplitargs`: outside quotes a token ends at space, tab,
    /// CR or LF; `"..."` knows the escapes `\n \r \t \b \a \xHH` and `\`
    /// before any other byte stands for that byte; `'...'` knows only `\'`.
    /// A quote may open in the middle of a token, and a closing quote must be
    /// followed by whitespace or the end of the line. `line.len()` fits in
    /// u32, and `scratch` grows by at most that much.
    fn split_quoted(&mut self, line: &[u8]) -> Result<(), ProtocolError> {
        let at = |i: usize| line.get(i).copied();
        // A closing quote at `i` must be followed by whitespace or nothing.
        let closes = |i: usize| at(i + 1).is_none_or(is_space);
        let mut i = 0;
        loop {
            while at(i).is_some_and(is_space) {
                i += 1;
            }
            if i >= line.len() {
                return Ok(());
            }
            let start = self.scratch.len() as u32;
            let mut in_double = false;
            let mut in_single = false;
            loop {
                let Some(c) = at(i) else {
                    if in_double || in_single {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    break;
                };
                if in_double {
                    let hex = (c == b'\\' && at(i + 1) == Some(b'x'))
                        .then(|| Some(hex_value(at(i + 2)?)? * 16 + hex_value(at(i + 3)?)?))
                        .flatten();
                    if let Some(byte) = hex {
                        self.scratch.push(byte);
                        i += 4;
                    } else if c == b'\\' && i + 1 < line.len() {
                        self.scratch.push(match line[i + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        i += 2;
                    } else if c == b'"' {
                        if !closes(i) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        i += 1;
                        break;
                    } else {
                        self.scratch.push(c);
                        i += 1;
                    }
                } else if in_single {
                    if c == b'\\' && at(i + 1) == Some(b'\'') {
                        self.scratch.push(b'\'');
                        i += 2;
                    } else if c == b'\'' {
                        if !closes(i) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        i += 1;
                        break;
                    } else {
                        self.scratch.push(c);
                        i += 1;
                    }
                } else {
                    i += 1;
                    match c {
                        c if ends_token(c) => break,
                        b'"' => in_double = true,
                        b'\'' => in_single = true,
                        c => self.scratch.push(c),
                    }
                }
            }
            self.ranges.push((start, self.scratch.len() as u32));
        }
    }
}

/// C's `isspace` in the "C" locale: space, `\t`, `\n`, `\v`, `\f`, `\r`.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Whether `b` ends an unquoted inline token (`sdssplitargs` stops at these
/// only, not at `\v` or `\f`).
fn ends_token(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// The value of an ASCII hex digit.
fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Widens a usize limit for comparison with a parsed u64.
fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Parses a decimal i64 as Redis' `string2ll` does: an optional `-`, then
/// `0` alone or digits not starting with `0`; no `+`, no spaces, at most 20
/// bytes. `-0` is rejected.
fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut value = u64::from(first - b'0');
    for &d in rest {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outcome of feeding a whole input: the commands parsed, then how it
    /// ended.
    #[derive(Debug, PartialEq, Eq)]
    enum End {
        Incomplete,
        Error(ProtocolError),
    }

    type Commands = Vec<Vec<Vec<u8>>>;

    /// Tiny deterministic PRNG (xorshift64*), so tests need only std.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn args_of(parser: &Parser, buf: &[u8]) -> Vec<Vec<u8>> {
        (0..parser.argc())
            .map(|i| parser.arg(buf, i).to_vec())
            .collect()
    }

    /// Feeds `input` in chunks ending at `cuts` (increasing offsets), the way
    /// a connection does: parse after each read, drop consumed bytes.
    fn feed(input: &[u8], cuts: &[usize], limits: &Limits, auth: bool) -> (Commands, End) {
        let mut parser = Parser::new();
        let mut commands = Vec::new();
        let mut start = 0;
        let ends = cuts.iter().copied().chain(std::iter::once(input.len()));
        for avail in ends {
            loop {
                let buf = &input[start..avail];
                match parser.parse(buf, limits, auth) {
                    Ok(Some(n)) => {
                        assert!(n > 0 && n <= buf.len());
                        commands.push(args_of(&parser, buf));
                        start += n;
                    }
                    Ok(None) => {
                        assert_eq!(parser.argc(), 0);
                        if let Some(need) = parser.needed() {
                            assert!(need > buf.len());
                        }
                        break;
                    }
                    Err(e) => return (commands, End::Error(e)),
                }
            }
        }
        (commands, End::Incomplete)
    }

    fn whole(input: &[u8]) -> (Commands, End) {
        feed(input, &[], &Limits::default(), true)
    }

    fn byte_by_byte(input: &[u8]) -> (Commands, End) {
        let cuts: Vec<usize> = (0..input.len()).collect();
        feed(input, &cuts, &Limits::default(), true)
    }

    fn cmd(args: &[&[u8]]) -> Vec<Vec<u8>> {
        args.iter().map(|a| a.to_vec()).collect()
    }

    fn multibulk(args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn error_of(input: &[u8], limits: &Limits, auth: bool) -> String {
        match feed(input, &[], limits, auth).1 {
            End::Error(e) => e.to_string(),
            End::Incomplete => panic!("no error for {input:?}"),
        }
    }

    #[test]
    fn error_texts_match_redis() {
        let d = Limits::default();
        let cases: &[(&[u8], bool, &str)] = &[
            (b"*x\r\n", true, "Protocol error: invalid multibulk length"),
            (
                b"*2147483648\r\n",
                true,
                "Protocol error: invalid multibulk length",
            ),
            (
                b"*11\r\n",
                false,
                "Protocol error: unauthenticated multibulk length",
            ),
            (
                b"*1\r\n$-1\r\n",
                true,
                "Protocol error: invalid bulk length",
            ),
            (
                b"*1\r\n$536870913\r\n",
                true,
                "Protocol error: invalid bulk length",
            ),
            (
                b"*1\r\n$16385\r\n",
                false,
                "Protocol error: unauthenticated bulk length",
            ),
            (
                b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
                true,
                "Protocol error: expected '$', got 'f'",
            ),
            (b"*1\r\n\r\n", true, "Protocol error: expected '$', got ' '"),
            (
                b"get \"a\n",
                true,
                "Protocol error: unbalanced quotes in request",
            ),
        ];
        for &(input, auth, text) in cases {
            assert_eq!(error_of(input, &d, auth), text, "input {input:?}");
        }

        let mut long = vec![b'*'];
        long.resize(COUNT_LINE_MAX + 1, b'1');
        assert_eq!(
            error_of(&long, &d, true),
            "Protocol error: too big mbulk count string"
        );
        let mut long = b"*1\r\n$".to_vec();
        long.resize(4 + COUNT_LINE_MAX + 1, b'1');
        assert_eq!(
            error_of(&long, &d, true),
            "Protocol error: too big bulk count string"
        );
        let mut long = vec![b'a'; d.max_inline_len + 1];
        assert_eq!(
            error_of(&long, &d, true),
            "Protocol error: too big inline request"
        );
        // One byte less is still a possible line.
        long.pop();
        assert_eq!(whole(&long), (vec![], End::Incomplete));
        long.push(b'\n');
        assert_eq!(whole(&long).0[0][0].len(), d.max_inline_len);
    }

    #[test]
    fn limits_at_their_edge_are_accepted() {
        let d = Limits::default();
        assert_eq!(
            feed(b"*2147483647\r\n", &[], &d, true),
            (vec![], End::Incomplete)
        );
        assert_eq!(feed(b"*10\r\n", &[], &d, false), (vec![], End::Incomplete));
        assert_eq!(
            feed(b"*1\r\n$16384\r\n", &[], &d, false),
            (vec![], End::Incomplete)
        );
        assert_eq!(
            feed(b"*1\r\n$536870912\r\n", &[], &d, true),
            (vec![], End::Incomplete)
        );
        let mut small = d.clone();
        small.max_bulk_len = 3;
        small.max_multibulk_len = 2;
        let ok = feed(b"*2\r\n$3\r\nabc\r\n$0\r\n\r\n", &[], &small, true);
        assert_eq!(ok.0, vec![cmd(&[b"abc", b""])]);
        let err = feed(b"*2\r\n$4\r\nabcd\r\n", &[], &small, true);
        assert_eq!(err.1, End::Error(ProtocolError::InvalidBulkLength));
        let err = feed(b"*3\r\n", &[], &small, true);
        assert_eq!(err.1, End::Error(ProtocolError::InvalidMultibulkLength));
    }

    #[test]
    fn counts_parse_like_string2ll() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(string2ll(bad), None, "{bad:?}");
        }
        for bad in [
            &b"*01\r\n"[..],
            b"*-0\r\n",
            b"*+1\r\n",
            b"* 1\r\n",
            b"*\r\n",
        ] {
            assert_eq!(
                whole(bad).1,
                End::Error(ProtocolError::InvalidMultibulkLength)
            );
        }
        for bad in [
            &b"*1\r\n$01\r\n"[..],
            b"*1\r\n$-0\r\n",
            b"*1\r\n$\r\n",
            b"*1\r\n$1 \r\n",
        ] {
            assert_eq!(whole(bad).1, End::Error(ProtocolError::InvalidBulkLength));
        }
    }

    #[test]
    fn empty_commands_have_no_args() {
        let input = b"*0\r\n*-1\r\n*-10\r\n\r\n\n   \t \r\n*1\r\n$4\r\nPING\r\n";
        let expected = vec![
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            cmd(&[b"PING"]),
        ];
        assert_eq!(whole(input), (expected.clone(), End::Incomplete));
        assert_eq!(byte_by_byte(input), (expected, End::Incomplete));
    }

    #[test]
    fn multibulk_args_point_into_the_buffer() {
        let mut p = Parser::new();
        let buf = b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$4\r\na\r\nb\r\n";
        assert_eq!(p.parse(buf, &Limits::default(), true), Ok(Some(buf.len())));
        assert_eq!(p.source(), ArgSource::Buffer);
        assert_eq!(p.ranges(), &[(8, 11), (17, 17), (23, 27)]);
        assert_eq!(p.arg(buf, 2), b"a\r\nb");
    }

    #[test]
    fn trailing_crlf_is_skipped_unchecked() {
        // Redis skips the 2 bytes after a payload and after a count's '\r'.
        let input = b"*2\rX$1\r\nxAB$2\r\nyyCD";
        assert_eq!(whole(input), (vec![cmd(&[b"x", b"yy"])], End::Incomplete));
    }

    #[test]
    fn inline_splits_like_sdssplitargs() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"PING\r\n", &[b"PING"]),
            (b"PING\n", &[b"PING"]),
            (b"  set  a\tb \r\n", &[b"set", b"a", b"b"]),
            (b"a\rb\r\r\n", &[b"a", b"b"]),
            (b"a\x0bb \x0bc\n", &[b"a\x0bb", b"c"]),
            (
                b"set k \"a b\\n\\r\\t\\b\\a\\\\\\\"\\q\\x41\\x4g\"\n",
                &[b"set", b"k", b"a b\n\r\t\x08\x07\\\"qAx4g"],
            ),
            (
                b"echo 'it\\'s \"raw\" \\n'\n",
                &[b"echo", b"it's \"raw\" \\n"],
            ),
            (b"echo \"\" ''\n", &[b"echo", b"", b""]),
            (b"a\"b c\" e\n", &[b"ab c", b"e"]),
            (b"ab\"c\"\x0b'd'\n", &[b"abc", b"d"]),
            (b"x \"\\xff\\x00\"\n", &[b"x", b"\xff\x00"]),
        ];
        for &(input, args) in cases {
            let expected = vec![cmd(args)];
            assert_eq!(
                whole(input),
                (expected.clone(), End::Incomplete),
                "{input:?}"
            );
            assert_eq!(
                byte_by_byte(input),
                (expected, End::Incomplete),
                "{input:?}"
            );
        }
    }

    #[test]
    fn inline_quote_errors() {
        for bad in [
            &b"\"abc\n"[..],
            b"'abc\n",
            b"\"abc\"def\n",
            b"'abc'def\n",
            b"\"abc\\\"\n",
            b"\"ab\\\n",
            b"'it\\'\n",
            b"a\"b c\"d e\n",
        ] {
            assert_eq!(
                whole(bad).1,
                End::Error(ProtocolError::UnbalancedQuotes),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn plain_split_matches_quoted_split() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let alphabet = b" \t\r\x0b\x0cab\\x0";
        for _ in 0..2000 {
            let len = rng.below(24);
            let line: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let mut plain = Parser::new();
            plain.split_plain(&line);
            let mut quoted = Parser::new();
            quoted.split_quoted(&line).unwrap();
            let a: Vec<&[u8]> = plain
                .ranges
                .iter()
                .map(|&(s, e)| &line[s as usize..e as usize])
                .collect();
            let b: Vec<&[u8]> = quoted
                .ranges
                .iter()
                .map(|&(s, e)| &quoted.scratch[s as usize..e as usize])
                .collect();
            assert_eq!(a, b, "{line:?}");
        }
    }

    #[test]
    fn byte_at_a_time_equals_whole() {
        let inputs: Vec<Vec<u8>> = vec![
            multibulk(&[b"SET", b"", b"x"]),
            multibulk(&[b"SET", b"k", b"bin\r\nary\r\n\0\xff"]),
            multibulk(&[b""]),
            b"set \"k\\x41\\n\" 'v\\'w'  plain\r\n".to_vec(),
        ];
        for input in &inputs {
            let (cmds, end) = whole(input);
            assert_eq!(cmds.len(), 1);
            assert_eq!(end, End::Incomplete);
            assert_eq!(byte_by_byte(input), (cmds, end), "{input:?}");
        }
    }

    /// A pipeline mixing all shapes, with the args each command must give.
    fn pipeline() -> (Vec<u8>, Commands) {
        let mut input = Vec::new();
        let mut expected = Vec::new();
        let commands: [&[&[u8]]; 4] = [
            &[b"SET", b"key", b"va\r\nlue"],
            &[b"GET", b""],
            &[b"MSET", b"a", b"1", b"b", b"2"],
            &[b"\0\x01\x02"],
        ];
        for args in commands {
            input.extend_from_slice(&multibulk(args));
            expected.push(cmd(args));
        }
        input.extend_from_slice(b"ping \"a\\tb\"\r\n*0\r\n\r\nECHO x\n");
        expected.push(cmd(&[b"ping", b"a\tb"]));
        expected.push(vec![]);
        expected.push(vec![]);
        expected.push(cmd(&[b"ECHO", b"x"]));
        (input, expected)
    }

    #[test]
    fn pipeline_split_at_every_position() {
        let (input, expected) = pipeline();
        assert_eq!(whole(&input), (expected.clone(), End::Incomplete));
        for cut in 0..=input.len() {
            assert_eq!(
                feed(&input, &[cut], &Limits::default(), true).0,
                expected,
                "cut {cut}"
            );
        }
        assert_eq!(byte_by_byte(&input).0, expected);
    }

    #[test]
    fn random_splits_of_random_commands() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        for _ in 0..300 {
            let mut input = Vec::new();
            let mut expected = Vec::new();
            for _ in 0..1 + rng.below(6) {
                let argc = 1 + rng.below(5);
                let args: Vec<Vec<u8>> = (0..argc)
                    .map(|_| (0..rng.below(40)).map(|_| rng.next() as u8).collect())
                    .collect();
                let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                input.extend_from_slice(&multibulk(&refs));
                expected.push(args);
            }
            let mut cuts: Vec<usize> = (0..rng.below(8))
                .map(|_| rng.below(input.len() + 1))
                .collect();
            cuts.sort_unstable();
            assert_eq!(
                feed(&input, &cuts, &Limits::default(), true),
                (expected, End::Incomplete)
            );
        }
    }

    #[test]
    fn random_bytes_give_the_same_outcome_however_split() {
        let mut rng = XorShift(42);
        let alphabet = b"*$\r\n0123-x \"'\\";
        let small = Limits {
            max_inline_len: 16,
            ..Limits::default()
        };
        for _ in 0..3000 {
            let len = rng.below(40);
            let input: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let reference = feed(&input, &[], &small, true);
            let mut cuts: Vec<usize> = (0..rng.below(6)).map(|_| rng.below(len + 1)).collect();
            cuts.sort_unstable();
            assert_eq!(
                feed(&input, &cuts, &small, true),
                reference,
                "{input:?} {cuts:?}"
            );
        }
    }

    #[test]
    fn many_args_arriving_in_small_reads() {
        let args: Vec<Vec<u8>> = (0..5000).map(|i| format!("arg{i}").into_bytes()).collect();
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let input = multibulk(&refs);
        let cuts: Vec<usize> = (1..input.len()).step_by(7).collect();
        assert_eq!(
            feed(&input, &cuts, &Limits::default(), true),
            (vec![args], End::Incomplete)
        );
    }

    #[test]
    fn huge_declared_sizes_allocate_nothing_big() {
        let limits = Limits::default();
        let mut p = Parser::new();
        assert_eq!(p.parse(b"*2147483647\r\n", &limits, true), Ok(None));
        assert!(p.ranges.capacity() <= RANGES_RESERVE_MAX);
        assert_eq!(p.needed(), None);

        let mut p = Parser::new();
        let buf = b"*1\r\n$536870912\r\n";
        assert_eq!(p.parse(buf, &limits, true), Ok(None));
        assert!(p.ranges.capacity() <= RANGES_RESERVE_MAX);
        assert!(p.scratch.capacity() == 0);
        assert_eq!(p.needed(), Some(buf.len() + 536_870_912 + 2));
    }

    #[test]
    fn needed_tracks_the_payload_end() {
        let limits = Limits::default();
        let mut p = Parser::new();
        let buf = b"*2\r\n$3\r\nabc\r\n$5\r\nhel";
        assert_eq!(p.parse(buf, &limits, true), Ok(None));
        assert_eq!(p.needed(), Some(buf.len() + 2 + 2));
        let buf = b"*2\r\n$3\r\nabc\r\n$5\r\nhello\r\n";
        assert_eq!(p.parse(buf, &limits, true), Ok(Some(buf.len())));
        assert_eq!(p.needed(), None);
    }

    #[test]
    fn state_resets_after_error_and_command() {
        let limits = Limits::default();
        let mut p = Parser::new();
        assert!(p.parse(b"*1\r\n$x\r\n", &limits, true).is_err());
        assert_eq!(p.argc(), 0);
        assert_eq!(p.parse(b"PING\n", &limits, true), Ok(Some(5)));
        assert_eq!(p.argc(), 1);
        assert_eq!(p.parse(b"*1\r\n", &limits, true), Ok(None));
        assert_eq!(p.argc(), 0);
    }

    #[test]
    fn big_ranges_capacity_is_released() {
        let args: Vec<Vec<u8>> = (0..RANGES_KEEP_MAX + 1).map(|_| b"a".to_vec()).collect();
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let input = multibulk(&refs);
        let limits = Limits::default();
        let mut p = Parser::new();
        assert_eq!(p.parse(&input, &limits, true), Ok(Some(input.len())));
        assert_eq!(p.argc(), RANGES_KEEP_MAX + 1);
        assert_eq!(p.parse(b"PING\n", &limits, true), Ok(Some(5)));
        assert!(p.ranges.capacity() <= RANGES_KEEP_MAX);
    }

    #[test]
    fn offsets_past_u32_are_an_error() {
        let limits = Limits {
            max_bulk_len: usize::MAX,
            ..Limits::default()
        };
        let mut p = Parser::new();
        let buf = b"*1\r\n$4294967290\r\n";
        assert_eq!(
            p.parse(buf, &limits, true),
            Err(ProtocolError::InvalidBulkLength)
        );
    }
}
