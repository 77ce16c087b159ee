//! The container types of the keyspace: hashes, lists, sets and sorted
//! sets, each with a compact encoding for small sizes (Redis' listpack and
//! intset) that converts to a general one past a size threshold
//! (`hash-max-listpack-entries` and friends, see [`crate::config`]).

pub mod hash;
pub mod list;
pub mod set;
pub mod zset;

pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use zset::ZSet;
