//! Retry with exponential backoff, timed by the run's [`Clock`].
//!
//! Invariants: the operation runs at most `policy.attempts` times (at least once); between
//! attempts the helper sleeps `initial_backoff × multiplier^(n-1)`, capped at `max_backoff`,
//! on the given clock (so a virtual clock makes retries instant and deterministic); an error
//! the `retryable` predicate rejects ends the loop at once; every failed attempt is recorded
//! in the returned [`RetryReport`] for the journal.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{DeviceError, DeviceErrorKind};

/// How often and how patiently to retry (from the campaign: `retry 3, then ...`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub multiplier: f64,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// `attempts` tries, 1 s backoff doubling up to 30 s.
    pub fn new(attempts: u32) -> Self {
        Self {
            attempts,
            initial_backoff: Duration::from_secs(1),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(30),
        }
    }

    /// The wait after failed attempt `n` (1-based).
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
                .powi(i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX))
        } else {
            1.0
        };
        let seconds = self.initial_backoff.as_secs_f64() * factor;
        if !seconds.is_finite() || seconds >= self.max_backoff.as_secs_f64() {
            self.max_backoff
        } else {
            Duration::from_secs_f64(seconds.max(0.0))
        }
    }
}

/// One failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedAttempt {
    /// 1-based.
    pub attempt: u32,
    /// Clock time when it failed.
    pub at: Duration,
    pub error: DeviceError,
}

/// What happened over all attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryReport<T> {
    /// The last attempt's outcome.
    pub result: Result<T, DeviceError>,
    pub failures: Vec<FailedAttempt>,
}

/// The default retryable faults: those a second try may cure.
pub fn is_transient(kind: &DeviceErrorKind) -> bool {
    matches!(
        kind,
        DeviceErrorKind::Timeout(_) | DeviceErrorKind::Garbage(_) | DeviceErrorKind::Io(_)
    )
}

/// Runs `operation` under `policy`.
pub async fn retry<T, F, Fut>(
    clock: &dyn Clock,
    policy: &RetryPolicy,
    retryable: impl Fn(&DeviceErrorKind) -> bool,
    mut operation: F,
) -> RetryReport<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DeviceError>>,
{
    let attempts = policy.attempts.max(1);
    let mut failures = Vec::new();
    let mut attempt = 1;
    loop {
        match operation().await {
            Ok(value) => {
                return RetryReport {
                    result: Ok(value),
                    failures,
                };
            }
            Err(error) => {
                failures.push(FailedAttempt {
                    attempt,
                    at: clock.now(),
                    error: error.clone(),
                });
                if attempt >= attempts || !retryable(&error.kind) {
                    return RetryReport {
                        result: Err(error),
                        failures,
                    };
                }
                clock.sleep(policy.backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// A boxed device-call future borrowing the device, as `async_trait` methods return them.
pub type CallFuture<'a, T> =
    std::pin::Pin<Box<dyn Future<Output = Result<T, DeviceError>> + Send + 'a>>;

/// Like [`retry`], for an operation that borrows a device mutably on each attempt:
/// `retry_on(clock, &policy, is_transient, &mut pump, |p| p.status())`.
pub async fn retry_on<D: ?Sized, T>(
    clock: &dyn Clock,
    policy: &RetryPolicy,
    retryable: impl Fn(&DeviceErrorKind) -> bool,
    device: &mut D,
    mut operation: impl for<'a> FnMut(&'a mut D) -> CallFuture<'a, T>,
) -> RetryReport<T> {
    let attempts = policy.attempts.max(1);
    let mut failures = Vec::new();
    let mut attempt = 1;
    loop {
        match operation(device).await {
            Ok(value) => {
                return RetryReport {
                    result: Ok(value),
                    failures,
                };
            }
            Err(error) => {
                failures.push(FailedAttempt {
                    attempt,
                    at: clock.now(),
                    error: error.clone(),
                });
                if attempt >= attempts || !retryable(&error.kind) {
                    return RetryReport {
                        result: Err(error),
                        failures,
                    };
                }
                clock.sleep(policy.backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::VirtualClock;

    fn timeout() -> DeviceError {
        DeviceError::new("spec1", DeviceErrorKind::Timeout(Duration::from_secs(1)))
    }

    #[tokio::test]
    async fn retries_with_backoff_then_succeeds() {
        let clock = VirtualClock::new();
        let mut calls = 0;
        let report = retry(&clock, &RetryPolicy::new(3), is_transient, || {
            calls += 1;
            let outcome = if calls < 3 { Err(timeout()) } else { Ok(calls) };
            async move { outcome }
        })
        .await;
        assert_eq!(report.result, Ok(3));
        assert_eq!(report.failures.len(), 2);
        // 1 s after the first failure, 2 s after the second.
        assert_eq!(report.failures[1].at, Duration::from_secs(1));
        assert_eq!(clock.now(), Duration::from_secs(3));
    }

    #[tokio::test]
    async fn gives_up_after_the_attempts_and_on_permanent_faults() {
        let clock = VirtualClock::new();
        let report: RetryReport<()> = retry(&clock, &RetryPolicy::new(3), is_transient, || async {
            Err(timeout())
        })
        .await;
        assert_eq!(report.failures.len(), 3);
        assert_eq!(report.result, Err(timeout()));
        let refused = DeviceError::new("p", DeviceErrorKind::OutOfEnvelope("no".into()));
        let report: RetryReport<()> = retry(&clock, &RetryPolicy::new(5), is_transient, || {
            let e = refused.clone();
            async move { Err(e) }
        })
        .await;
        assert_eq!(report.failures.len(), 1);
    }

    #[test]
    fn backoff_is_capped() {
        let policy = RetryPolicy::new(10);
        assert_eq!(policy.backoff(1), Duration::from_secs(1));
        assert_eq!(policy.backoff(3), Duration::from_secs(4));
        assert_eq!(policy.backoff(10), Duration::from_secs(30));
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(30));
    }
}
