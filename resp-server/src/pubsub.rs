//! Pub/sub: channels, patterns and their subscribers (placeholder: being
//! built).

/// A client's subscriptions.
#[derive(Debug, Default)]
pub struct Subscriptions {}

impl Subscriptions {
    /// Number of channels and patterns subscribed to.
    #[inline]
    pub fn count(&self) -> usize {
        0
    }
}
