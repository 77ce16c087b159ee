//! Memory reuse for the server: pooled I/O buffers and an arena of entries.
//!
//! - [`pool`]: [`BufferPool`], a bounded, lock-free pool of
//!   [`BytesMut`](bytes::BytesMut) buffers in size classes. The RESP server
//!   takes each connection's read and write buffers from it, so that
//!   accepting a connection or growing a buffer for a large reply does not
//!   hit the allocator once the pool is warm. A buffer is owned by exactly
//!   one [`PooledBuf`] at a time and goes back to its class when dropped.
//! - [`arena`]: [`Arena`], a [`slab`]-backed arena of values addressed by
//!   `u32` [`Handle`]s. The keyspace stores its entries in an `Arena` and
//!   indexes them by handle; since entries never move while they live, a
//!   SCAN cursor is a slot index that stays valid while the keyspace changes
//!   ([`Arena::next_occupied`]).
//!
//! Neither part uses `unsafe` or takes a lock.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod arena;
pub mod pool;

pub use arena::{Arena, Handle};
pub use pool::{BufferPool, ClassConfig, PoolConfig, PoolStats, PooledBuf};
