//! codec (in progress)
