//! Time as the runtime and the devices see it.
//!
//! Nothing in qdx reads the wall clock for scheduling: it asks a [`Clock`]. Hardware runs use a
//! real clock; the simulated lab uses a virtual one, so a ten-hour campaign runs in a second.

use std::time::Duration;

/// A monotonic clock that starts at zero when a run starts.
#[async_trait::async_trait]
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Time elapsed since the start of the run.
    fn now(&self) -> Duration;

    /// Waits until `duration` has passed on this clock.
    async fn sleep(&self, duration: Duration);
}
