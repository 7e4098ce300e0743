//! Errors raised while building or querying the simulated lab.

/// Result alias for the simulator.
pub type SimResult<T> = Result<T, SimError>;

/// What can go wrong when the lead builds a [`crate::SimLab`] or asks it for something.
/// Device faults during a run are `qdx_lab::DeviceError`s instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("no simulated {kind} named {name:?}")]
    UnknownDevice { kind: &'static str, name: String },
    #[error("two devices or path segments are named {0:?}")]
    DuplicateName(String),
    #[error("invalid simulator configuration: {0}")]
    InvalidConfig(String),
    #[error("stock {0:?} is used by the chemistry model but no pump feeds it")]
    UnknownStock(String),
    #[error("model {model} has no parameter {name:?} (known: {known})")]
    UnknownParameter {
        model: &'static str,
        name: String,
        known: String,
    },
    #[error("parameter {name} = {value} {unit} of model {model} is outside {min} ..= {max}")]
    ParameterOutOfRange {
        model: &'static str,
        name: String,
        value: f64,
        unit: &'static str,
        min: f64,
        max: f64,
    },
    #[error("table model: {0}")]
    Table(String),
    /// The table records this experiment as a failed synthesis (an empty output cell): a
    /// result, not a fault of the virtual lab.
    #[error("table model: {0}")]
    RecordedFailure(String),
    #[error("the point {0} is not a row of the table (pool mode only offers the file's rows)")]
    NotInPool(String),
    #[error("script model: {0}")]
    Script(String),
    #[error("input {0:?} is missing")]
    MissingInput(String),
    #[error("this chemistry model yields {yields}, not {asked}")]
    WrongYield {
        yields: &'static str,
        asked: &'static str,
    },
    #[error("device error: {0}")]
    Device(#[from] qdx_lab::DeviceError),
}
