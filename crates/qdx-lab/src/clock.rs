//! Time as the runtime and the devices see it.
//!
//! Nothing in qdx reads the wall clock for scheduling: it asks a [`Clock`]. Hardware runs use a
//! real clock; the simulated lab uses a virtual one, so a ten-hour campaign runs in a second.

use std::time::Duration;

/// A future returned by [`Clock::sleep`].
pub type Sleep<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// A monotonic clock that starts at zero when a run starts.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Time elapsed since the start of the run.
    fn now(&self) -> Duration;

    /// Waits until `duration` has passed on this clock. The wait starts when `sleep` is
    /// called, not when the future is first polled, so sleeps created together for parallel
    /// operations end together.
    fn sleep(&self, duration: Duration) -> Sleep<'_>;
}

/// The real monotonic clock, for runs on hardware.
#[derive(Debug, Clone)]
pub struct RealClock {
    start: tokio::time::Instant,
}

impl RealClock {
    pub fn new() -> Self {
        Self {
            start: tokio::time::Instant::now(),
        }
    }
}

impl Default for RealClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for RealClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A virtual clock for the simulated lab: sleeping advances time at once.
///
/// Concurrent sleeps that start together end together at the longest of them: each sleep
/// computes its wake-up time from `now` when it starts and moves `now` to the latest wake-up
/// time seen, so two parallel waits of 5 s and 10 s cost 10 s, not 15 s. Time never goes back.
#[derive(Debug, Default)]
pub struct VirtualClock {
    nanos: std::sync::atomic::AtomicU64,
}

impl VirtualClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward to `at` (no effect if it is already later).
    pub fn advance_to(&self, at: Duration) {
        let target = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
        self.nanos
            .fetch_max(target, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(std::sync::atomic::Ordering::SeqCst))
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        let wake = self.now().saturating_add(duration);
        Box::pin(async move {
            self.advance_to(wake);
            // Let other tasks of the same step run before this one goes on.
            tokio::task::yield_now().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parallel_virtual_sleeps_cost_the_longest() {
        let clock = VirtualClock::new();
        let (a, b) = (
            clock.sleep(Duration::from_secs(5)),
            clock.sleep(Duration::from_secs(10)),
        );
        tokio::join!(a, b);
        assert_eq!(clock.now(), Duration::from_secs(10));
        clock.sleep(Duration::from_secs(1)).await;
        assert_eq!(clock.now(), Duration::from_secs(11));
    }
}
