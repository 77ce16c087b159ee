//! `MULTI`/`EXEC`/`WATCH` state of a client (placeholder: being built).

/// A client's transaction state.
#[derive(Debug, Default)]
pub struct TxState {}

impl TxState {
    /// Whether the client is inside `MULTI` (commands are queued).
    #[inline]
    pub fn in_multi(&self) -> bool {
        false
    }
}
