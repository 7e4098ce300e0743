//! Errors that devices raise, whatever implements them.

/// Result alias for every device operation.
pub type DeviceResult<T> = Result<T, DeviceError>;

/// A device fault: which device, and what kind of fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{device}: {kind}")]
pub struct DeviceError {
    /// The device's name in the campaign (e.g. `p_seed`), or its port when unbound.
    pub device: String,
    pub kind: DeviceErrorKind,
}

impl DeviceError {
    pub fn new(device: impl Into<String>, kind: DeviceErrorKind) -> Self {
        Self {
            device: device.into(),
            kind,
        }
    }
}

/// The kinds of device fault that fault policies (`on pump_stall : ...`) distinguish.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceErrorKind {
    /// No complete reply within the allowed time.
    #[error("no reply within {0:?}")]
    Timeout(std::time::Duration),
    /// The device reports a stall or an alarm (pump stalled, over-temperature, ...).
    #[error("alarm: {0}")]
    Alarm(String),
    /// The port or connection went away.
    #[error("disconnected: {0}")]
    Disconnected(String),
    /// A reply that does not parse under the device's protocol.
    #[error("unexpected reply {0:?}")]
    Garbage(String),
    /// The device understood the frame but refused the command.
    #[error("command refused: {0}")]
    Refused(String),
    /// A command was refused before it was written, because it leaves the safety envelope.
    #[error("refused before sending: {0}")]
    OutOfEnvelope(String),
    /// A pump's syringe is empty or a reservoir is exhausted.
    #[error("empty: {0}")]
    Empty(String),
    /// Any other I/O error.
    #[error("i/o error: {0}")]
    Io(String),
}
