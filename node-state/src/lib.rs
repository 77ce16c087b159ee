//! node-state (in progress)
