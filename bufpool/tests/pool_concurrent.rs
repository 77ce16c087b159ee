//! A buffer is never handed to two users at once, across threads.

use std::collections::HashSet;
use std::sync::{Barrier, Mutex};
use std::thread;

use bufpool::{BufferPool, ClassConfig, PoolConfig, PooledBuf};

const THREADS: usize = 4;
const CLASS: usize = 64;

/// A pool with one small class, kept small so that buffers are reused often
/// and the class also fills up.
fn pool() -> BufferPool {
    BufferPool::new(PoolConfig {
        classes: vec![ClassConfig {
            capacity_bytes: CLASS,
            max_buffers: 8,
        }],
    })
}

/// Fills `buf` to its class capacity with a pattern unique to `tag`.
fn write_pattern(buf: &mut PooledBuf, tag: u64) {
    assert!(buf.is_empty(), "a taken buffer must be empty");
    for _ in 0..CLASS / 8 {
        buf.extend_from_slice(&tag.to_le_bytes());
    }
}

fn check_pattern(buf: &PooledBuf, tag: u64) {
    assert_eq!(buf.len(), CLASS);
    for chunk in buf.chunks(8) {
        assert_eq!(chunk, tag.to_le_bytes(), "pattern {tag:#x} overwritten");
    }
}

#[test]
fn live_buffers_never_share_an_allocation() {
    let pool = pool();
    let bufs: Vec<_> = (0..32).map(|_| pool.get(CLASS)).collect();
    let mut ranges: Vec<_> = bufs
        .iter()
        .map(|b| (b.as_ptr() as usize, b.as_ptr() as usize + b.capacity()))
        .collect();
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlapping buffers: {pair:?}");
    }
}

#[test]
fn buffers_held_at_once_by_four_threads_keep_their_patterns() {
    const ROUNDS: usize = 200;
    const PER_THREAD: usize = 4;
    let pool = pool();
    let barrier = Barrier::new(THREADS);
    let live = Mutex::new(HashSet::new());

    thread::scope(|s| {
        for t in 0..THREADS {
            let (pool, barrier, live) = (pool.clone(), &barrier, &live);
            s.spawn(move || {
                for round in 0..ROUNDS {
                    let mut held = Vec::new();
                    for i in 0..PER_THREAD {
                        let tag = ((t * ROUNDS + round) * PER_THREAD + i) as u64;
                        let mut buf = pool.get(CLASS);
                        let fresh = live.lock().unwrap().insert(buf.as_ptr() as usize);
                        assert!(fresh, "one allocation handed to two users");
                        write_pattern(&mut buf, tag);
                        held.push((buf, tag));
                    }
                    // Every thread holds its buffers at this point.
                    barrier.wait();
                    for (buf, tag) in held {
                        check_pattern(&buf, tag);
                        // Unregister before giving back: once dropped, the
                        // buffer may be taken (and registered) by another thread.
                        live.lock().unwrap().remove(&(buf.as_ptr() as usize));
                        drop(buf);
                    }
                    barrier.wait();
                }
            });
        }
    });

    let gets = (THREADS * ROUNDS * PER_THREAD) as u64;
    let stats = pool.stats();
    assert_eq!(stats.hits + stats.misses, gets);
    assert_eq!(stats.returns + stats.dropped(), gets);
    assert_eq!(stats.dropped_full, stats.dropped());
    assert!(stats.hits > 0 && stats.dropped_full > 0, "{stats:?}");
    // What stays in the class: every buffer kept, minus every one taken.
    assert_eq!(
        stats.bytes_held,
        (stats.returns - stats.hits) * CLASS as u64
    );
    assert!(stats.bytes_held <= 8 * CLASS as u64);
}
