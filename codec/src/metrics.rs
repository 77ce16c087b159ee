//! Per-codec counters: operations, time, bytes, JSON fallbacks, failures.
//!
//! Each counter is a relaxed [`AtomicU64`]: an encode or decode costs two
//! uncontended atomic additions (the operation count, the byte count) and,
//! one time in [`MetricsConfig::time_every`], two reads of the monotonic
//! clock. Timing every operation would cost more than a small rkyv access
//! itself (a clock read is about 20 ns), hence the sampling: the mean time
//! of an operation is `encode_ns / encodes_timed`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// How a codec's [`Metrics`] count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Whether to count at all; `false` makes every update a no-op.
    pub enabled: bool,
    /// Time one operation in this many (rounded up to a power of two; 1
    /// times every operation, 0 times none).
    pub time_every: u64,
}

impl Default for MetricsConfig {
    /// Counting on, one operation in 64 timed.
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            time_every: 64,
        }
    }
}

impl MetricsConfig {
    /// Counting off: for the hottest paths, where even two atomic additions
    /// show.
    pub fn disabled() -> MetricsConfig {
        MetricsConfig {
            enabled: false,
            time_every: 0,
        }
    }
}

/// Live counters of one codec; shared between threads, read with
/// [`Metrics::snapshot`].
///
/// # Examples
///
/// ```
/// use codec::{ChatMessage, Codec, JsonCodec};
///
/// let json = JsonCodec::new();
/// let msg = ChatMessage::new("1", "hi", 7, "ann", "lobby");
/// let bytes = json.encode(&msg).unwrap();
/// let _ = Codec::<ChatMessage>::decode(&json, &bytes).unwrap();
/// let m = Codec::<ChatMessage>::metrics(&json).snapshot();
/// assert_eq!((m.encodes, m.decodes), (1, 1));
/// assert_eq!(m.bytes_out, bytes.len() as u64);
/// assert_eq!(m.bytes_in, bytes.len() as u64);
/// ```
#[derive(Debug)]
pub struct Metrics {
    enabled: bool,
    /// `time_every - 1` (a power of two minus one); `None` times nothing.
    time_mask: Option<u64>,
    encodes: AtomicU64,
    encode_failures: AtomicU64,
    encodes_timed: AtomicU64,
    encode_ns: AtomicU64,
    decodes: AtomicU64,
    decode_failures: AtomicU64,
    decodes_timed: AtomicU64,
    decode_ns: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    json_fallbacks: AtomicU64,
    misaligned_copies: AtomicU64,
}

/// A point-in-time copy of a codec's [`Metrics`].
///
/// Counters are read one by one, so under concurrent use a snapshot may mix
/// values from slightly different moments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Encode calls, successful or not.
    pub encodes: u64,
    /// Encode calls that returned an error.
    pub encode_failures: u64,
    /// Encode calls that were timed.
    pub encodes_timed: u64,
    /// Nanoseconds spent in the timed encode calls.
    pub encode_ns: u64,
    /// Decode and access calls, successful or not.
    pub decodes: u64,
    /// Decode and access calls that returned an error.
    pub decode_failures: u64,
    /// Decode and access calls that were timed.
    pub decodes_timed: u64,
    /// Nanoseconds spent in the timed decode and access calls.
    pub decode_ns: u64,
    /// Bytes given to decode and access calls.
    pub bytes_in: u64,
    /// Bytes produced by successful encode calls.
    pub bytes_out: u64,
    /// Encodes that fell back to JSON because the value could not be
    /// archived ([`HybridCodec`](crate::HybridCodec) only).
    pub json_fallbacks: u64,
    /// Decodes and accesses whose input was not 16-byte aligned and was
    /// copied into an aligned buffer first.
    pub misaligned_copies: u64,
}

impl MetricsSnapshot {
    /// Mean nanoseconds per timed encode, or `None` before the first.
    pub fn mean_encode_ns(&self) -> Option<u64> {
        self.encode_ns.checked_div(self.encodes_timed)
    }

    /// Mean nanoseconds per timed decode, or `None` before the first.
    pub fn mean_decode_ns(&self) -> Option<u64> {
        self.decode_ns.checked_div(self.decodes_timed)
    }
}

/// A started operation: whether and since when it is timed.
#[derive(Debug)]
pub(crate) struct Op(Option<Instant>);

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(MetricsConfig::default())
    }
}

impl Metrics {
    /// Creates zeroed counters counting as `config` says.
    pub fn new(config: MetricsConfig) -> Metrics {
        let time_mask = match config.time_every {
            0 => None,
            n => Some(n.next_power_of_two() - 1),
        };
        Metrics {
            enabled: config.enabled,
            time_mask,
            encodes: AtomicU64::new(0),
            encode_failures: AtomicU64::new(0),
            encodes_timed: AtomicU64::new(0),
            encode_ns: AtomicU64::new(0),
            decodes: AtomicU64::new(0),
            decode_failures: AtomicU64::new(0),
            decodes_timed: AtomicU64::new(0),
            decode_ns: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            json_fallbacks: AtomicU64::new(0),
            misaligned_copies: AtomicU64::new(0),
        }
    }

    /// Returns a copy of every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            encodes: self.encodes.load(Relaxed),
            encode_failures: self.encode_failures.load(Relaxed),
            encodes_timed: self.encodes_timed.load(Relaxed),
            encode_ns: self.encode_ns.load(Relaxed),
            decodes: self.decodes.load(Relaxed),
            decode_failures: self.decode_failures.load(Relaxed),
            decodes_timed: self.decodes_timed.load(Relaxed),
            decode_ns: self.decode_ns.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            json_fallbacks: self.json_fallbacks.load(Relaxed),
            misaligned_copies: self.misaligned_copies.load(Relaxed),
        }
    }

    #[inline]
    fn start(&self, count: &AtomicU64) -> Op {
        if !self.enabled {
            return Op(None);
        }
        let n = count.fetch_add(1, Relaxed);
        match self.time_mask {
            Some(mask) if n & mask == 0 => Op(Some(Instant::now())),
            _ => Op(None),
        }
    }

    #[inline]
    fn finish(&self, op: Op, timed: &AtomicU64, ns: &AtomicU64) {
        if let Some(start) = op.0 {
            let elapsed = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            timed.fetch_add(1, Relaxed);
            ns.fetch_add(elapsed, Relaxed);
        }
    }

    /// Counts the start of an encode.
    #[inline]
    pub(crate) fn start_encode(&self) -> Op {
        self.start(&self.encodes)
    }

    /// Counts the end of an encode that wrote `bytes` bytes, or failed.
    #[inline]
    pub(crate) fn finish_encode<T>(&self, op: Op, result: &crate::Result<T>, bytes: usize) {
        if !self.enabled {
            return;
        }
        self.finish(op, &self.encodes_timed, &self.encode_ns);
        match result {
            Ok(_) => {
                self.bytes_out.fetch_add(bytes as u64, Relaxed);
            }
            Err(_) => {
                self.encode_failures.fetch_add(1, Relaxed);
            }
        }
    }

    /// Counts the start of a decode or access of `bytes` bytes.
    #[inline]
    pub(crate) fn start_decode(&self, bytes: usize) -> Op {
        if self.enabled {
            self.bytes_in.fetch_add(bytes as u64, Relaxed);
        }
        self.start(&self.decodes)
    }

    /// Counts the end of a decode or access.
    #[inline]
    pub(crate) fn finish_decode<T>(&self, op: Op, result: &crate::Result<T>) {
        if !self.enabled {
            return;
        }
        self.finish(op, &self.decodes_timed, &self.decode_ns);
        if result.is_err() {
            self.decode_failures.fetch_add(1, Relaxed);
        }
    }

    /// Counts an encode that fell back to JSON.
    pub(crate) fn json_fallback(&self) {
        if self.enabled {
            self.json_fallbacks.fetch_add(1, Relaxed);
        }
    }

    /// Counts a copy of misaligned input.
    pub(crate) fn misaligned_copy(&self) {
        if self.enabled {
            self.misaligned_copies.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_samples_one_in_n() {
        let m = Metrics::new(MetricsConfig {
            enabled: true,
            time_every: 4,
        });
        for _ in 0..8 {
            let op = m.start_encode();
            m.finish_encode(op, &Ok(()), 10);
        }
        let s = m.snapshot();
        assert_eq!(s.encodes, 8);
        assert_eq!(s.encodes_timed, 2);
        assert_eq!(s.bytes_out, 80);
    }

    #[test]
    fn time_every_one_times_all_and_zero_none() {
        for (every, timed) in [(1, 5), (0, 0)] {
            let m = Metrics::new(MetricsConfig {
                enabled: true,
                time_every: every,
            });
            for _ in 0..5 {
                let op = m.start_decode(3);
                m.finish_decode(op, &Ok(()));
            }
            assert_eq!(m.snapshot().decodes_timed, timed);
            assert_eq!(m.snapshot().bytes_in, 15);
        }
    }

    #[test]
    fn disabled_counts_nothing() {
        let m = Metrics::new(MetricsConfig::disabled());
        let op = m.start_encode();
        m.finish_encode::<()>(op, &Err(crate::Error::PoolExhausted { capacity: 1 }), 3);
        m.json_fallback();
        assert_eq!(m.snapshot(), MetricsSnapshot::default());
    }

    #[test]
    fn failures_are_counted() {
        let m = Metrics::default();
        let op = m.start_decode(1);
        m.finish_decode::<()>(op, &Err(crate::Error::PoolExhausted { capacity: 1 }));
        let s = m.snapshot();
        assert_eq!((s.decodes, s.decode_failures), (1, 1));
    }
}
