//! ZeroCopyBuffer::append_archive on any bytes, then reading every message.
#![no_main]
use codec::{RpcRequest, ZeroCopyBuffer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = ZeroCopyBuffer::<RpcRequest>::new();
    // Split the input in up to 4 archives at the positions the first bytes name.
    let mut rest = data;
    for _ in 0..4 {
        let Some((&n, tail)) = rest.split_first() else {
            break;
        };
        let take = (usize::from(n) * 4).min(tail.len());
        let _ = buf.append_archive(&tail[..take]);
        rest = &tail[take..];
    }
    for m in buf.iter() {
        let _ = serde_json::Value::from(&m.params);
        let _ = m.id.as_str().len();
    }
});
