//! Simulated quantum-dot flow reactor for qdx: devices, reactor dynamics, spectrometer noise and
//! chemistry models.
//!
//! Build a [`SimLab`] from a plain-data [`SimConfig`] and a `qdx_lab::Clock`, then take device
//! handles by name (`pump`, `heater`, `spectrometer`, `valve`, `pressure_sensor`): they
//! implement the `qdx_lab` traits and share one world. Spectral chemistry ([`chemistry`]) is
//! seen through the spectrometers; table and script models answer [`SimLab::read`] /
//! [`SimLab::measure_now`] with named readings.
//!
//! Determinism: all randomness comes from [`rng::stream`]`(seed, label)`, one named stream per
//! noise source; nothing reads the wall clock; maps that reach output are ordered.
//!
//! Modules: [`config`] (plain data), [`flow`] (flow history, residence-time distribution),
//! [`thermal`] (heater response), [`optics`] (absorbance and emission of populations),
//! [`detector`] (noise), [`scattering`] (SAXS of polydisperse spheres), [`dichroism`] (a
//! bisignate CD model), [`chemistry`] (models), [`table`], [`script`], [`reading`].

pub mod chemistry;
pub mod config;
pub mod detector;
mod devices;
pub mod dichroism;
pub mod error;
pub mod flow;
mod lab;
pub mod optics;
mod plant;
pub mod presets;
pub mod reading;
pub mod rng;
pub mod scattering;
pub mod script;
pub mod table;
pub mod thermal;
mod world;

pub use chemistry::{
    CdSeGrowth, CdSeRoles, ChemistryConfig, CsFaPbX3Synthesis, CsFaRoles, CsPbX3HalideExchange,
    CsPbX3Roles, Halide, HalideSource, ParamSpec, SPECTRAL_MODELS, params_schema,
};
pub use config::{
    DyeStock, HeaterConfig, LightConfig, LightKind, PathSegment, PressureSensorConfig, PumpConfig,
    SaxsConfig, SegmentKind, SimConfig, SpectrometerConfig, Stock, ValveConfig,
};
pub use devices::{
    MAX_AVERAGES, MAX_INTEGRATION_S, SimHeater, SimLight, SimPressureSensor, SimPump,
    SimSpectrometer, SimValve,
};
pub use error::{SimError, SimResult};
pub use lab::SimLab;
pub use reading::{InputValue, Inputs, MeasureRequest, MeasurementKind, Reading, Readings};
pub use script::{ScriptConfig, ScriptModel};
pub use table::{DELIMITERS, TableConfig, TableMode, TableModel, csv_header, detect_delimiter};
