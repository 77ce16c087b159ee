//! Feeds arbitrary bytes to `resp_server::parse::Parser`, whole and split in
//! two reads, and checks both give the same commands and the same ending.
//!
//! Input layout: byte 0 picks the split position, byte 1 the options (bit 0:
//! authenticated, bit 1: small limits so the size errors are reachable), the
//! rest is the client's byte stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use resp_server::parse::{ArgSource, Limits, Parser, ProtocolError};

/// How a run over the whole stream ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The stream stopped inside (or before) a command.
    Incomplete,
    /// The parser rejected the stream.
    Error(ProtocolError),
}

/// Parses `data` as a connection would, the bytes arriving in reads that end
/// at `cuts` and then at the end of `data`; returns the commands' arguments
/// and how it ended.
fn run(data: &[u8], cuts: &[usize], limits: &Limits, auth: bool) -> (Vec<Vec<Vec<u8>>>, End) {
    let mut parser = Parser::new();
    let mut commands = Vec::new();
    let mut start = 0;
    for avail in cuts.iter().copied().chain(std::iter::once(data.len())) {
        loop {
            let buf = &data[start..avail];
            match parser.parse(buf, limits, auth) {
                Ok(Some(consumed)) => {
                    assert!(consumed > 0 && consumed <= buf.len());
                    let ranges = parser.ranges();
                    assert_eq!(ranges.len(), parser.argc());
                    let source_len = match parser.source() {
                        ArgSource::Buffer => consumed,
                        ArgSource::Scratch => parser.scratch().len(),
                    };
                    for &(s, e) in ranges {
                        assert!(s <= e && e as usize <= source_len);
                    }
                    let args = (0..parser.argc())
                        .map(|i| parser.arg(buf, i).to_vec())
                        .collect();
                    commands.push(args);
                    start += consumed;
                }
                Ok(None) => {
                    assert_eq!(parser.argc(), 0);
                    if let Some(needed) = parser.needed() {
                        assert!(needed > buf.len());
                    }
                    break;
                }
                Err(e) => {
                    assert!(!e.to_string().contains(['\r', '\n']));
                    return (commands, End::Error(e));
                }
            }
        }
    }
    (commands, End::Incomplete)
}

fuzz_target!(|input: &[u8]| {
    let Some((&[split, options], data)) = input.split_first_chunk::<2>() else {
        return;
    };
    let auth = options & 1 != 0;
    let limits = if options & 2 != 0 {
        Limits {
            max_bulk_len: 64,
            max_multibulk_len: 16,
            max_inline_len: 32,
            unauthenticated_max_multibulk_len: 4,
            unauthenticated_max_bulk_len: 8,
        }
    } else {
        Limits::default()
    };
    let cut = usize::from(split) % (data.len() + 1);

    let whole = run(data, &[], &limits, auth);
    let split = run(data, &[cut], &limits, auth);
    assert_eq!(whole, split, "split at {cut}");
    if data.len() <= 64 {
        let bytewise: Vec<usize> = (0..data.len()).collect();
        assert_eq!(whole, run(data, &bytewise, &limits, auth), "byte by byte");
    }
});
