//! Deadlines for device calls: a hung device cannot hang the run.
//!
//! Invariant: [`with_deadline`] returns within `deadline` of being polled (tokio's timer),
//! with [`DeviceErrorKind::Timeout`] if the call had not finished; the call's future is then
//! dropped, which cancels it at its next await point.
//!
//! The deadline uses tokio's timer, not the run's [`crate::Clock`]: it guards against real
//! hangs, and on a virtual clock every sleep ends at once, which would fire it immediately.
//! Simulated devices report their faults directly instead of hanging.

use std::future::Future;
use std::time::Duration;

use crate::error::{DeviceError, DeviceErrorKind, DeviceResult};

/// Runs `call` with a deadline; `device` names the device in the timeout error.
pub async fn with_deadline<T>(
    device: &str,
    deadline: Duration,
    call: impl Future<Output = DeviceResult<T>>,
) -> DeviceResult<T> {
    match tokio::time::timeout(deadline, call).await {
        Ok(result) => result,
        Err(_elapsed) => Err(DeviceError::new(device, DeviceErrorKind::Timeout(deadline))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_hung_call_times_out_and_a_quick_one_passes() {
        let hung = std::future::pending::<DeviceResult<()>>();
        let error = with_deadline("p1", Duration::from_secs(5), hung)
            .await
            .expect_err("hung");
        assert_eq!(
            error,
            DeviceError::new("p1", DeviceErrorKind::Timeout(Duration::from_secs(5)))
        );
        let quick = async { Ok(7) };
        assert_eq!(
            with_deadline("p1", Duration::from_secs(5), quick).await,
            Ok(7)
        );
    }
}
