//! The validated campaign: the typed IR the planner consumes.
//!
//! Invariants (what validation guarantees, so later stages never re-check):
//! - every name is resolved to an index into the vectors below;
//! - every physical value is in SI units, with the unit the user wrote kept for printing;
//! - the reactor is a connected acyclic graph in which every pump reaches the measuring cell and
//!   every path ends in an outlet; volumes are known from the mixing point to the cell;
//! - every device setting derived from the variables stays within the device's limits and the
//!   safety envelope over the whole feasible variable box (proved, not sampled);
//! - objectives name declared proxies; the optimizer handles the variable kinds.

use std::collections::BTreeMap;

use qdx_units::{Dimension, Interpretation, Unit};

use super::expr::TExpr;
use crate::source::Span;

/// Room temperature, K: where a heater starts, and its safe setpoint unless the campaign
/// declares one.
pub const AMBIENT_K: f64 = 298.15;

pub use super::ids::{DerivedId, DeviceId, ProxyId, StockId, VarId};

/// A unit as the user wrote it, for printing values back.
#[derive(Debug, Clone, PartialEq)]
pub struct DisplayUnit {
    pub unit: Unit,
    pub interpretation: Interpretation,
}

impl DisplayUnit {
    pub fn new(unit: Unit, interpretation: Interpretation) -> Self {
        Self {
            unit,
            interpretation,
        }
    }

    pub fn plain() -> Self {
        Self::new(Unit::dimensionless(), Interpretation::Difference)
    }

    pub fn symbol(&self) -> &str {
        self.unit.symbol()
    }

    /// `250 uL`, `25 degC`, `0.5`.
    pub fn format(&self, si: f64) -> String {
        qdx_units::format_quantity(si, &self.unit, self.interpretation)
    }

    /// The number alone, in this unit (for CSV cells).
    pub fn number(&self, si: f64) -> String {
        qdx_units::format_in_unit(si, &self.unit, self.interpretation)
    }

    pub fn from_si(&self, si: f64) -> f64 {
        self.unit.from_si(si, self.interpretation)
    }

    pub fn to_si(&self, x: f64) -> f64 {
        self.unit.to_si(x, self.interpretation)
    }

    /// A unit qdx prints in of its own accord (`mL`, `uL/min`), as a difference; a plain
    /// number if the symbol is not a unit.
    pub fn of(symbol: &str) -> Self {
        Unit::parse(symbol).map_or_else(
            |_| Self::plain(),
            |unit| Self::new(unit, Interpretation::Difference),
        )
    }

    /// [`Self::approx`] without the unit's symbol, for table cells whose header names it.
    pub fn approx_number(&self, si: f64) -> String {
        let x = self.from_si(si);
        let rounded = if x == 0.0 || !x.is_finite() {
            x
        } else {
            let digits = 4 - 1 - x.abs().log10().floor() as i32;
            let scale = 10_f64.powi(digits.clamp(-300, 300));
            (x * scale).round() / scale
        };
        qdx_units::format_number(rounded)
    }

    /// A computed value to four significant digits, in the unit, for messages and plans:
    /// `1.667 mL/min` (tables print every digit, [`Self::number`]).
    pub fn approx(&self, si: f64) -> String {
        let text = self.approx_number(si);
        if self.symbol().is_empty() {
            text
        } else {
            format!("{text} {}", self.symbol())
        }
    }
}

#[derive(Debug, Clone)]
pub struct Campaign {
    pub name: String,
    pub description: Option<String>,
    pub seed: u64,
    pub language_version: u32,
    pub budget: Budget,
    pub stocks: Vec<Stock>,
    pub devices: Vec<Device>,
    pub topology: Topology,
    pub variables: Vec<Variable>,
    pub compositions: Vec<Composition>,
    /// Named intermediates and device settings, in evaluation order (dependencies first).
    pub derived: Vec<Derived>,
    pub constraints: Vec<Constraint>,
    pub measurement: Option<Measurement>,
    pub proxies: Vec<Proxy>,
    pub objectives: Objectives,
    pub optimizer: OptimizerConfig,
    pub priors: Vec<PriorSource>,
    pub safety: Safety,
    pub simulation: Option<Simulation>,
    /// The declared data files (`data { target "data/target.csv" }`), read and parsed by
    /// validation; scripts read them by name (`data("target")`), nothing reads the files again.
    pub data: std::sync::Arc<qdx_script::DataFiles>,
    /// Every file the campaign is made of, as read (for the bundle).
    pub files: Vec<CampaignFile>,
    /// The `fit` blocks: kinetic models fitted to the observations when the bundle is written.
    pub fits: Vec<Fit>,
    /// What the optimizer works with, built from the sections above.
    pub search: Search,
}

/// A `fit` block, validated (`validate::fit`): its equations balance and every state is
/// observed. Expressions read the states and parameters as [`TExpr::Local`], states first.
#[derive(Debug, Clone)]
pub struct Fit {
    pub name: String,
    pub states: Vec<FitState>,
    pub parameters: Vec<FitParameter>,
    /// How long each experiment's equations run, over the campaign's values (SI seconds).
    pub time: TExpr,
    pub observations: Vec<FitObservation>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct FitState {
    pub name: String,
    pub dimension: Dimension,
    pub unit: DisplayUnit,
    /// The value at time zero (reads parameters and campaign values), SI.
    pub initial: TExpr,
    /// `d(state)/dt`, SI.
    pub rate: TExpr,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct FitParameter {
    pub name: String,
    /// Bounds, SI; `lo < hi`, both positive when `log`.
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub dimension: Dimension,
    /// The unit its bounds were written in, for the bundle.
    pub unit: DisplayUnit,
    pub span: Span,
}

/// `observe <proxy> = <expression>`: the model's value of a proxy at the end time.
#[derive(Debug, Clone)]
pub struct FitObservation {
    pub proxy: ProxyId,
    pub expr: TExpr,
    pub span: Span,
}

/// What the optimizer works with, built once by validation from the campaign's sections
/// (`strategy::search`); later stages read it and never build it again.
#[derive(Debug, Clone)]
pub struct Search {
    /// The variables as the optimizer sees them, with the compositions, the linear and
    /// non-linear constraints and, when the campaign simulates a table in pool mode, the
    /// table's rows as the only candidates.
    pub domain: std::sync::Arc<qdx_optimize::Domain>,
    /// The objectives as `qdx-optimize` scores them (proxy values in SI); a design without
    /// objectives gets a stand-in ([`super::strategy::NO_OBJECTIVE`]).
    pub objectives: qdx_optimize::Objectives,
    /// The strategy and its options (a grid's points are [`Search::grid`]).
    pub strategy: qdx_optimize::StrategySpec,
    /// How many experiments a Sobol or Latin-hypercube design runs.
    pub design_size: usize,
    /// Earlier results the optimizer starts from (`prior` sources), rows inside the ranges.
    pub prior: Vec<qdx_optimize::Observation>,
    /// The grid's points, for a grid strategy ([`super::strategy::grid`]).
    pub grid: Option<Grid>,
}

/// A grid design, decided once: validation counts its points against the budget and the
/// planner runs them.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// The points that satisfy the constraints (SI values of the variables, choices as level
    /// indices), in the grid's order.
    pub points: Vec<Vec<f64>>,
    /// Every point of the grid, those that break a constraint included.
    pub total: u64,
}

/// One file of the campaign as run.
#[derive(Debug, Clone)]
pub struct CampaignFile {
    /// Path relative to the campaign's folder (`campaign.qdx`, `proxies/score.rhai`).
    pub name: String,
    pub role: FileRole,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    Campaign,
    Import,
    Script,
    Table,
    Prior,
    Data,
}

impl FileRole {
    pub fn name(self) -> &'static str {
        match self {
            FileRole::Campaign => "campaign",
            FileRole::Import => "import",
            FileRole::Script => "script",
            FileRole::Table => "table",
            FileRole::Prior => "prior data",
            FileRole::Data => "data",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Budget {
    pub experiments: Option<u64>,
    /// Total reagent volume over all stocks, m³.
    pub reagent_total: Option<f64>,
    /// Per-stock reagent volume, m³.
    pub reagent_per_stock: BTreeMap<String, f64>,
    /// Wall time (lab time), s.
    pub time: Option<f64>,
    /// `repeated_failures N` as written; [`Budget::stop_after_failures`] is what a run uses.
    pub repeated_failures: Option<u64>,
    pub spans: BudgetSpans,
}

impl Budget {
    /// After this many experiments in a row fail the same way when the campaign does not say.
    pub const DEFAULT_REPEATED_FAILURES: u64 = 5;

    /// Stop after this many experiments in a row fail the same way (`repeated_failures`).
    pub fn stop_after_failures(&self) -> u64 {
        self.repeated_failures
            .unwrap_or(Self::DEFAULT_REPEATED_FAILURES)
    }
}

#[derive(Debug, Clone, Default)]
pub struct BudgetSpans {
    pub experiments: Option<Span>,
    pub per_stock: BTreeMap<String, Span>,
    pub reagent_total: Option<Span>,
    pub time: Option<Span>,
}

#[derive(Debug, Clone)]
pub struct Stock {
    pub name: String,
    pub description: Option<String>,
    pub pump: DeviceId,
    /// mol/m³ (SI), if given.
    pub concentration: Option<f64>,
    /// Other properties as written (`halide "I"`): name → text.
    pub properties: BTreeMap<String, PropertyValue>,
    pub span: Span,
}

/// The role a device plays in the reactor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Pump,
    Mixer,
    Coil,
    Tube,
    Heater,
    Cell,
    Spectrometer,
    Valve,
    Sensor,
    Regulator,
    Outlet,
    Light,
}

impl Role {
    pub const ALL: [Role; 12] = [
        Role::Pump,
        Role::Mixer,
        Role::Coil,
        Role::Tube,
        Role::Heater,
        Role::Cell,
        Role::Spectrometer,
        Role::Valve,
        Role::Sensor,
        Role::Regulator,
        Role::Outlet,
        Role::Light,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Pump => "pump",
            Role::Mixer => "mixer",
            Role::Coil => "coil",
            Role::Tube => "tube",
            Role::Heater => "heater",
            Role::Cell => "cell",
            Role::Spectrometer => "spectrometer",
            Role::Valve => "valve",
            Role::Sensor => "sensor",
            Role::Regulator => "regulator",
            Role::Outlet => "outlet",
            Role::Light => "light",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Devices that liquid flows through (and so must be connected).
    pub fn in_flow_path(self) -> bool {
        !matches!(self, Role::Heater | Role::Spectrometer | Role::Light)
    }
}

/// A property value, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    /// A physical quantity in SI, with the unit to print it in.
    Quantity {
        si: f64,
        unit: DisplayUnit,
    },
    /// A range of quantities in SI.
    Range {
        lo: f64,
        hi: f64,
        unit: DisplayUnit,
    },
    Integer(i64),
    Text(String),
    Device(DeviceId),
    Names(Vec<String>),
    Bool(bool),
}

impl PropertyValue {
    pub fn si(&self) -> Option<f64> {
        match self {
            PropertyValue::Quantity { si, .. } => Some(*si),
            PropertyValue::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn describe(&self, devices: &[Device]) -> String {
        match self {
            PropertyValue::Quantity { si, unit } => unit.format(*si),
            PropertyValue::Range { lo, hi, unit } => {
                format!("{} .. {}", unit.format(*lo), unit.format(*hi))
            }
            PropertyValue::Integer(i) => i.to_string(),
            PropertyValue::Text(t) => format!("{t:?}"),
            PropertyValue::Device(d) => devices
                .get(*d)
                .map_or_else(|| "?".to_owned(), |d| d.name.clone()),
            PropertyValue::Names(n) => format!("[{}]", n.join(", ")),
            PropertyValue::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Device {
    pub name: String,
    pub role: Role,
    /// The kind's name (`syringe_pump`).
    pub kind: String,
    pub properties: BTreeMap<String, PropertyValue>,
    /// Settings the runtime drives, with their limits (SI).
    pub settings: Vec<SettingSpec>,
    pub span: Span,
}

impl Device {
    pub fn property(&self, name: &str) -> Option<&PropertyValue> {
        self.properties.get(name)
    }

    pub fn quantity(&self, name: &str) -> Option<f64> {
        match self.properties.get(name)? {
            PropertyValue::Quantity { si, .. } => Some(*si),
            _ => None,
        }
    }

    pub fn device_ref(&self, name: &str) -> Option<DeviceId> {
        match self.properties.get(name)? {
            PropertyValue::Device(d) => Some(*d),
            _ => None,
        }
    }

    pub fn setting(&self, name: &str) -> Option<&SettingSpec> {
        self.settings.iter().find(|s| s.name == name)
    }

    /// The setting the runtime drives this way, if the device has it.
    pub fn driven(&self, drive: Drive) -> Option<&SettingSpec> {
        self.settings.iter().find(|s| s.drive == Some(drive))
    }

    // What the planner, the binding and the simulated lab read of a device, decided here
    // once from the properties its kind declares in `std.devices`.

    /// The syringe of a syringe pump, m³ (`None`: a pump fed from a reservoir, never refilled).
    pub fn syringe(&self) -> Option<f64> {
        self.quantity("syringe")
    }

    /// The rate a pump refills its syringe at, m³/s: its `refill_rate`, or a whole syringe a
    /// minute, never faster than the pump's maximum rate (withdrawing is limited like
    /// infusing). `None` for a pump without a syringe.
    pub fn refill_rate(&self) -> Option<f64> {
        let capacity = self.syringe()?;
        let max = self.driven(Drive::PumpRate).map_or(f64::INFINITY, |s| s.hi);
        Some(
            self.quantity("refill_rate")
                .unwrap_or(capacity / 60.0)
                .min(max),
        )
    }

    /// A heater's first-order time constant, s (60 s for a kind that declares none).
    pub fn time_constant(&self) -> f64 {
        self.quantity("time_constant").unwrap_or(60.0)
    }

    /// How long a light takes to settle after it is switched on, s (0 for a kind that
    /// declares none).
    pub fn settle(&self) -> f64 {
        self.quantity("settle").unwrap_or(0.0)
    }

    /// A narrow-band light's wavelength (an LED, a laser), m.
    pub fn light_wavelength(&self) -> Option<f64> {
        self.quantity("wavelength")
    }

    /// A broadband light's band (a lamp), m.
    pub fn light_band(&self) -> Option<(f64, f64)> {
        match self.properties.get("range")? {
            PropertyValue::Range { lo, hi, .. } if self.role == Role::Light => Some((*lo, *hi)),
            _ => None,
        }
    }

    /// The liquid a segment holds, m³ (a device without a declared volume holds none).
    pub fn volume(&self) -> f64 {
        self.quantity("volume").unwrap_or(0.0)
    }
}

/// What the runtime drives on a device: the settings a plan can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Drive {
    /// A pump's `rate` (m³/s).
    PumpRate,
    /// A heater's `setpoint` (K).
    HeaterSetpoint,
    /// A valve's `position` (set by the measurement's `route`).
    ValvePosition,
}

impl Drive {
    /// What a setting named `setting` of a device of `role` drives, if the runtime drives it.
    pub fn of(role: Role, setting: &str) -> Option<Drive> {
        match (role, setting) {
            (Role::Pump, "rate") => Some(Drive::PumpRate),
            (Role::Heater, "setpoint") => Some(Drive::HeaterSetpoint),
            (Role::Valve, "position") => Some(Drive::ValvePosition),
            _ => None,
        }
    }
}

/// A setting of a device (`rate`, `setpoint`, `position`) and its allowed range.
#[derive(Debug, Clone)]
pub struct SettingSpec {
    pub name: String,
    /// What the runtime drives with it (`None`: a setting of a kind the runtime cannot send).
    pub drive: Option<Drive>,
    pub dimension: Dimension,
    pub lo: f64,
    pub hi: f64,
    pub unit: DisplayUnit,
}

#[derive(Debug, Clone, Default)]
pub struct Topology {
    /// Flow edges `from → to` between devices.
    pub edges: Vec<(DeviceId, DeviceId)>,
    /// For each pump, the ordered devices from the pump to its outlet.
    pub paths: Vec<FlowPath>,
    /// The volume from the point where all streams have joined to the measuring cell, m³
    /// (the reactor volume a `qdx plan` step names).
    pub reactor_volume: Option<f64>,
    /// Each pump's way to the measuring cell: what one "reactor volume" of steady-state wait
    /// takes ([`Topology::residence_time`]). Empty without a measuring cell.
    pub ways: Vec<Way>,
    /// Parallel lines (`lines a, b`): copies of the line above, each running one experiment of
    /// a batch. Empty, or two or more distinct names (`validate::lines`).
    pub lines: Vec<Line>,
}

/// One of the reactor's parallel lines: a whole copy of the declared line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    pub span: Span,
}

/// A pump's way to the measuring cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Way {
    pub pump: DeviceId,
    /// The devices after the pump up to the cell (inclusive) that hold liquid, in flow order.
    pub segments: Vec<Segment>,
}

/// A device on a way, with what flows through it.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub device: DeviceId,
    /// What it holds, m³ (above zero).
    pub volume: f64,
    /// Every pump whose way passes through it: the flow through it is the sum of their rates.
    pub pumps: Vec<DeviceId>,
}

impl Topology {
    /// The time one "reactor volume" takes at these pump rates (m³/s), s: how long the slowest
    /// running stream needs from its pump to the measuring cell (inclusive). The planner waits
    /// it and validation proves it bounded over the variable box (`durations`), both from
    /// [`Topology::ways`].
    ///
    /// Every device on a way carries the sum of the rates of the running pumps whose ways pass
    /// through it, so each segment has its own residence time; a stream's time is the sum over
    /// its way. For streams that all join before the first device with a volume this is
    /// `reactor_volume / total_flow`; a long coil before a later merge point counts at its own
    /// (lower) flow.
    pub fn residence_time(&self, rates: &BTreeMap<DeviceId, f64>) -> f64 {
        let rate = |p: DeviceId| rates.get(&p).copied().filter(|r| *r > 0.0);
        if self.ways.is_empty() {
            let total: f64 = rates.keys().filter_map(|p| rate(*p)).sum();
            let v = self.reactor_volume.unwrap_or(0.0);
            return if total > 0.0 { v / total } else { 0.0 };
        }
        self.ways
            .iter()
            .filter(|w| rate(w.pump).is_some())
            .map(|w| {
                w.segments
                    .iter()
                    .map(|s| {
                        let q: f64 = s.pumps.iter().filter_map(|p| rate(*p)).sum();
                        s.volume / q
                    })
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
    }
}

#[derive(Debug, Clone)]
pub struct FlowPath {
    pub pump: DeviceId,
    pub devices: Vec<DeviceId>,
}

#[derive(Debug, Clone)]
pub enum Domain {
    Continuous {
        lo: f64,
        hi: f64,
        log: bool,
    },
    Integer {
        lo: i64,
        hi: i64,
    },
    Choice {
        levels: Vec<String>,
    },
    /// A component of a composition (its fraction, within `lo ..= hi`).
    Component {
        composition: usize,
        lo: f64,
        hi: f64,
    },
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub dimension: Dimension,
    pub unit: DisplayUnit,
    pub domain: Domain,
    pub span: Span,
}

impl Variable {
    /// Bounds in SI for continuous, integer and component variables.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        match &self.domain {
            Domain::Continuous { lo, hi, .. } | Domain::Component { lo, hi, .. } => {
                Some((*lo, *hi))
            }
            Domain::Integer { lo, hi } => Some((*lo as f64, *hi as f64)),
            Domain::Choice { .. } => None,
        }
    }

    pub fn is_numeric(&self) -> bool {
        !matches!(self.domain, Domain::Choice { .. })
    }

    /// The level a value of a choice variable stands for: points hold a choice as its level's
    /// index, a number like every other value (`None` for other variables, or an index that
    /// is no level).
    pub fn level(&self, x: f64) -> Option<&str> {
        match &self.domain {
            Domain::Choice { levels } if x.is_finite() && x >= -0.5 => {
                levels.get(x.round() as usize).map(String::as_str)
            }
            _ => None,
        }
    }

    /// A value of the variable as a table cell: a choice by its level's name, a number in the
    /// variable's unit.
    pub fn cell(&self, x: f64) -> String {
        if self.is_numeric() {
            self.unit.number(x)
        } else {
            self.level(x).unwrap_or_default().to_owned()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Composition {
    pub name: String,
    pub components: Vec<VarId>,
    pub total: f64,
}

/// What a derived value sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DerivedTarget {
    /// A named intermediate (`total_flow`).
    Named(String),
    /// A device setting (`p_seed.rate`, `h1.setpoint`) the runtime drives.
    Setting {
        device: DeviceId,
        setting: String,
        drive: Drive,
    },
}

#[derive(Debug, Clone)]
pub struct Derived {
    pub target: DerivedTarget,
    /// Display name: `total_flow` or `p_seed.rate`.
    pub name: String,
    pub expr: TExpr,
    pub dimension: Dimension,
    pub unit: DisplayUnit,
    /// Proven enclosure of the value over the feasible variable box (SI).
    pub range: (f64, f64),
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Le,
    Lt,
    Ge,
    Gt,
    Eq,
}

impl Comparison {
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Le => "<=",
            Comparison::Lt => "<",
            Comparison::Ge => ">=",
            Comparison::Gt => ">",
            Comparison::Eq => "==",
        }
    }

    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        match self {
            Comparison::Le => lhs <= rhs,
            Comparison::Lt => lhs < rhs,
            Comparison::Ge => lhs >= rhs,
            Comparison::Gt => lhs > rhs,
            Comparison::Eq => (lhs - rhs).abs() <= 1e-9 * lhs.abs().max(rhs.abs()).max(1e-300),
        }
    }
}

/// `lhs op rhs` over variables, both sides in SI.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub lhs: TExpr,
    pub op: Comparison,
    pub rhs: TExpr,
    /// As written, for messages.
    pub text: String,
    /// `Some(coefficients, constant)` when `lhs - rhs` is linear in the variables:
    /// `Σ cᵢ·xᵢ + constant op 0`.
    pub linear: Option<(Vec<f64>, f64)>,
    pub span: Span,
}

/// A channel of the measurement: a 1-D signal over a declared axis, read by one instrument.
///
/// Invariant: each kind has one axis and one signal unit ([`ChannelKind::axis`],
/// [`ChannelKind::signal`]); the bundle's files, the report and the proxies read them from
/// here and never from the data. The optical kinds (absorbance, photoluminescence) are
/// corrected with a dark spectrum (and absorbance with a reference); SAXS and CD frames are
/// used as the instrument gives them ([`ChannelKind::needs_dark`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Absorbance,
    Photoluminescence,
    /// Small-angle X-ray scattering: intensity over the scattering vector q.
    Saxs,
    /// Circular dichroism: ellipticity over wavelength.
    CircularDichroism,
}

impl ChannelKind {
    /// Every kind, in the order the language lists them.
    pub const ALL: [ChannelKind; 4] = [
        ChannelKind::Absorbance,
        ChannelKind::Photoluminescence,
        ChannelKind::Saxs,
        ChannelKind::CircularDichroism,
    ];

    /// The name a campaign writes (`measure` entries, an instrument's `channels`, proxies).
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Absorbance => "absorbance",
            ChannelKind::Photoluminescence => "photoluminescence",
            ChannelKind::Saxs => "saxs",
            ChannelKind::CircularDichroism => "circular_dichroism",
        }
    }

    /// The kind a campaign names, if it is one.
    pub fn from_name(name: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The axis the signal is recorded over: its column name in the bundle's files, and its
    /// label for plots.
    pub fn axis(self) -> Axis {
        match self {
            ChannelKind::Absorbance
            | ChannelKind::Photoluminescence
            | ChannelKind::CircularDichroism => Axis::Wavelength,
            ChannelKind::Saxs => Axis::ScatteringVector,
        }
    }

    /// The signal's name and unit, for plots and the files' value column.
    pub fn signal(self) -> (&'static str, &'static str) {
        match self {
            ChannelKind::Absorbance => ("absorbance", ""),
            ChannelKind::Photoluminescence => ("photoluminescence", "counts"),
            ChannelKind::Saxs => ("intensity", "counts/s"),
            ChannelKind::CircularDichroism => ("ellipticity", "mdeg"),
        }
    }

    /// Whether the raw frames are corrected with a dark spectrum taken before the first
    /// experiment (an optical spectrometer's CCD). A SAXS camera counts photons and a CD
    /// spectrometer reports the ellipticity itself: their frames are used as acquired.
    pub fn needs_dark(self) -> bool {
        match self {
            ChannelKind::Absorbance | ChannelKind::Photoluminescence => true,
            ChannelKind::Saxs | ChannelKind::CircularDichroism => false,
        }
    }

    /// Whether the channel is measured under a light the campaign may declare (a lamp for
    /// absorbance, an excitation source for PL). A SAXS camera has its X-ray beam and a CD
    /// spectrometer its own modulated source: no campaign light serves them.
    pub fn takes_light(self) -> bool {
        match self {
            ChannelKind::Absorbance | ChannelKind::Photoluminescence => true,
            ChannelKind::Saxs | ChannelKind::CircularDichroism => false,
        }
    }
}

/// The axis of a channel's signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Wavelength, nm.
    Wavelength,
    /// Scattering vector q = 4π sin θ / λ, 1/nm.
    ScatteringVector,
}

impl Axis {
    /// The column name in the bundle's CSV and .npy files (`wavelength_nm`, `q_per_nm`).
    pub fn column(self) -> &'static str {
        match self {
            Axis::Wavelength => "wavelength_nm",
            Axis::ScatteringVector => "q_per_nm",
        }
    }

    /// The field a proxy script reads the grid from: `pl.wavelength`, `saxs.q`.
    pub fn script_field(self) -> &'static str {
        match self {
            Axis::Wavelength => "wavelength",
            Axis::ScatteringVector => "q",
        }
    }

    /// The axis label for plots.
    pub fn label(self) -> &'static str {
        match self {
            Axis::Wavelength => "wavelength [nm]",
            Axis::ScatteringVector => "q [1/nm]",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub kind: ChannelKind,
    /// Integration time of one scan, s.
    pub integration: f64,
    pub averages: u32,
    /// The light it is measured under, switched by the plan (the cell's `absorbance` /
    /// `photoluminescence` property); `None`: the spectrometer's own source for the channel.
    pub light: Option<DeviceId>,
}

#[derive(Debug, Clone)]
pub struct Measurement {
    pub cell: DeviceId,
    pub spectrometer: Option<DeviceId>,
    /// Wait this many reactor volumes through the cell after a change…
    pub steady_state_volumes: f64,
    /// …plus this long, s.
    pub steady_state_extra: f64,
    /// Thermal settling: within this many kelvin of the setpoint…
    pub settle_within: Option<f64>,
    /// …a band the campaign wrote in this unit (`1 degC`, `0.5 K`)…
    pub settle_unit: DisplayUnit,
    /// …for this long, s.
    pub settle_hold: f64,
    pub replicates: u32,
    pub channels: Vec<Channel>,
    /// Rinse after each measurement: one pump alone at a rate for some reactor volumes.
    pub flush: Option<Flush>,
    /// Solvent through the cell before the dark and reference spectra are taken (and again
    /// every `every`, for lamp drift). Without it the run assumes the cell holds clean
    /// solvent when it starts.
    pub blank: Option<Flush>,
    /// The reference dye's solution through the cell, measured after the blank (both
    /// channels) for relative PLQY: the dye is the one the campaign's proxies name.
    pub reference_dye: Option<Flush>,
    /// Send product to a collector while it is measured, to waste otherwise.
    pub route: Option<Route>,
    /// Read the coil at several points along it (multi-point detection): every channel at
    /// every point, in order. `None`: one reading, in the cell.
    pub probe: Option<Probe>,
    /// A transient (ramped) flow experiment: the flows sweep while spectra are taken all the
    /// time. `None`: one steady-state reading per experiment.
    pub transient: Option<Transient>,
    /// Segmented (droplet) flow: a train of droplets in a carrier, a spectrum per droplet.
    /// `None`: the stream is continuous.
    pub droplets: Option<Droplets>,
    pub span: Span,
}

/// Seconds of overhead per device command and per acquisition (serial round trips): the
/// planner's estimate, which validation also counts when it checks that a transient reading
/// fits in its interval.
pub const COMMAND_OVERHEAD_S: f64 = 0.05;

/// The fewest spectra a transient experiment may take: fewer do not resolve a ramp.
pub const MIN_TRANSIENT_SPECTRA: u64 = 10;
/// The most spectra a transient experiment may take (the plan holds one step per spectrum).
pub const MAX_TRANSIENT_SPECTRA: u64 = 10_000;

/// `transient { ramp total_flow, from 600 uL/min, to 100 uL/min, over 20 min, every 10 s }`:
/// after the steady state at `from`, the ramped variable moves to `to` over `over` seconds and
/// the spectrometer reads every `every` seconds; each spectrum is mapped back to the conditions
/// of the fluid element it saw, from the journaled flows (see `crate::transient`).
///
/// Invariants (validation): the variable is continuous and `from`/`to` lie inside its bounds
/// and differ; every pump rate the campaign derives is proportional to it at fixed other
/// variables, so a ramp changes the total flow and never the composition (the residence time
/// alone tells an element's conditions, and the equivalent steady-state value of the variable
/// is its time average over the element's transit); no constraint reads it; the ramp takes
/// between [`MIN_TRANSIENT_SPECTRA`] and [`MAX_TRANSIENT_SPECTRA`] spectra and one reading of
/// every channel fits in `every`.
#[derive(Debug, Clone)]
pub struct Transient {
    pub variable: VarId,
    /// Start and end of the ramp, SI.
    pub from: f64,
    pub to: f64,
    /// Duration of the ramp, s.
    pub over: f64,
    /// How long the end value is held after the ramp while readings go on, s (0: none). Why:
    /// the fluid in the cell when a ramp ends entered the mixer one reactor volume earlier, at
    /// a higher flow; held long enough (a residence time at the end's flow), the readings
    /// reach the end's conditions.
    pub hold: f64,
    pub shape: RampShape,
    /// Interval between readings, s; the pumps are given a new rate at each reading.
    pub every: f64,
    pub residence: ResidenceModel,
    /// Whether each experiment runs the declared ramp or a part of it the optimizer chooses.
    pub choice: RampSpan,
    pub span: Span,
}

/// `span full` (the default) or `span chosen` in a `transient` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RampSpan {
    /// Every experiment runs the declared ramp, `from` to `to`.
    Full,
    /// The optimizer chooses each experiment's start and end inside `from` .. `to` (in its
    /// direction, at the declared rate: the same shape over the same stretch takes the same
    /// time); validation proved the strategy is `bayesian`, which chooses them
    /// (`qdx_optimize::ramp`). Design points run the declared ramp.
    Chosen,
}

/// The most droplets one experiment may generate.
pub const MAX_DROPLETS: u32 = 1000;

/// `droplets { carrier p_oil, volume 2 uL, spacing 4 uL, count 8, every 1 s, detect {
/// channel absorbance, at 450 nm, above 0.05 } }`: segmented flow. After the reactor is
/// filled with carrier, the experiment's reagent pumps and the carrier pump take turns at the
/// experiment's total flow, so `count` droplets of `volume` leave the mixer separated by
/// `spacing` of carrier; the train moves on under carrier (stopping `hold` seconds with the
/// whole train in the reactor: stop-and-go), the spectrometer reads the cell every `every`
/// seconds while it passes, each reading is told droplet or carrier by the threshold, and each
/// droplet's spectrum is mapped to the droplet the journal says it is (see `crate::droplet`).
///
/// Invariants (validation): `carrier` is a pump nothing derives, on the way to the cell, whose
/// limits hold the experiment's total flow over the variable box; volume, spacing and every
/// are above zero, `1 ..= MAX_DROPLETS` droplets, one reading of every channel fits in `every`
/// and a droplet stays in the cell for at least two readings at the highest total flow; the
/// detection channel is measured and its wavelength inside the spectrometer's range; with a
/// hold, the whole train fits in the reactor before the cell.
#[derive(Debug, Clone)]
pub struct Droplets {
    pub carrier: DeviceId,
    /// Each droplet's volume, m³.
    pub volume: f64,
    /// Carrier between two droplets, m³.
    pub spacing: f64,
    pub count: u32,
    /// Interval between readings while the train passes the cell, s.
    pub every: f64,
    /// Stop-and-go: how long the flow stops once the train is in the reactor, s (0: none).
    pub hold: f64,
    pub detect: Detection,
    pub span: Span,
}

/// How a reading is told droplet or carrier: the channel's processed value at a wavelength
/// above a threshold (absorbance in AU, photoluminescence in counts over dark).
#[derive(Debug, Clone)]
pub struct Detection {
    pub channel: ChannelKind,
    /// m.
    pub wavelength: f64,
    pub above: f64,
    /// Where the wavelength is written.
    pub at: Span,
}

impl Droplets {
    /// The train's length, m³: every droplet and the carrier between them.
    pub fn train(&self) -> f64 {
        f64::from(self.count) * self.volume + f64::from(self.count.saturating_sub(1)) * self.spacing
    }
}

/// How a ramp moves between its ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RampShape {
    Linear,
    /// Geometric: equal ratios in equal times (both ends above zero).
    Exponential,
}

/// How a spectrum is mapped to the fluid element it saw.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidenceModel {
    /// Every element moves with the mean flow: the element at the cell at time `t` entered
    /// the mixer when the volume pumped since equals the volume from the mixer to the cell.
    PlugFlow,
    /// The axial-dispersion model of a tube (Levenspiel, *Chemical Reaction Engineering*,
    /// ch. 13): the fluid in the cell is a spread of elements around the plug-flow one (see
    /// `crate::transient`).
    AxialDispersion(Dispersion),
}

/// How fast the axial spread grows, as the campaign declared it. Invariant (validation): every
/// number is finite and above zero.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dispersion {
    /// `dispersion 20 mm^2/s, diameter 0.5 mm`: a dispersion coefficient D, m²/s, the same at
    /// every flow, in a tube of this inner diameter, m.
    Coefficient { coefficient: f64, diameter: f64 },
    /// `diffusivity 1e-9 m^2/s, diameter 0.5 mm`: Taylor–Aris dispersion of laminar flow in a
    /// tube (Taylor 1953, Aris 1956): `D = Dm + u²d²/(192 Dm)` at each instant's mean velocity
    /// `u`, from the molecular diffusivity `Dm`, m²/s, and the inner diameter `d`, m.
    TaylorAris { diffusivity: f64, diameter: f64 },
    /// `peclet 40`: the vessel's Péclet (Bodenstein) number `uL/D`, the same at every flow
    /// (the dispersion number `D/uL` is its inverse); needs no geometry.
    Peclet(f64),
}

impl Dispersion {
    /// The variance, m⁶, that the position (as a volume along the path) of an element gains
    /// while `q` m³/s flows for `dt` seconds through `volume` m³: `2 A² D dt`, with
    /// `A = π d²/4`; for a Péclet number, `2 V (q dt) / Pe` (D = uL/Pe).
    pub fn variance_gain(&self, q: f64, dt: f64, volume: f64) -> f64 {
        let area = |d: f64| std::f64::consts::PI * d * d / 4.0;
        match *self {
            Dispersion::Coefficient {
                coefficient,
                diameter,
            } => 2.0 * area(diameter).powi(2) * coefficient * dt,
            Dispersion::TaylorAris {
                diffusivity,
                diameter,
            } => {
                let a = area(diameter);
                let u = q / a;
                let d = diffusivity + u * u * diameter * diameter / (192.0 * diffusivity);
                2.0 * a * a * d * dt
            }
            Dispersion::Peclet(pe) => 2.0 * volume * q * dt / pe,
        }
    }

    /// The variance, m⁶, an element gains over its transit of `volume` at a steady flow `q`.
    pub fn variance_gain_over_transit(&self, q: f64, volume: f64) -> f64 {
        self.variance_gain(q, volume / q, volume)
    }

    /// The dispersion number `D/uL` at a steady flow `q` through `volume`: half the variance
    /// of the residence-time distribution over the squared mean residence time.
    pub fn number(&self, q: f64, volume: f64) -> f64 {
        if !(q > 0.0 && volume > 0.0) {
            return f64::NAN;
        }
        self.variance_gain(q, volume / q, volume) / (2.0 * volume * volume)
    }
}

impl Transient {
    /// How many spectra the ramp takes: one at its start, then one every `every` up to the end
    /// of its hold.
    pub fn spectra(&self) -> u64 {
        let n = ((self.over + self.hold) / self.every * (1.0 + 1e-12)).floor();
        if n.is_finite() && n >= 0.0 {
            (n as u64).saturating_add(1)
        } else {
            0
        }
    }

    /// The ramped variable's value `t` seconds into the ramp (clamped to its ends).
    pub fn value_at(&self, t: f64) -> f64 {
        let s = if self.over > 0.0 {
            (t / self.over).clamp(0.0, 1.0)
        } else {
            1.0
        };
        match self.shape {
            RampShape::Linear => self.from + (self.to - self.from) * s,
            RampShape::Exponential => self.from * (self.to / self.from).powf(s),
        }
    }

    /// The part of this ramp from `start` towards `end` at the same rate and shape (hold,
    /// interval and mapping kept), lasting a whole number of intervals so that its last
    /// reading is taken at its end: the end moves to the nearest such value (an interval's
    /// change at most). `None` unless both lie inside the declared ends, in its direction, and
    /// the part takes at least [`MIN_TRANSIENT_SPECTRA`] readings. A part's own part at its
    /// ends is itself.
    pub fn part(&self, start: f64, end: f64) -> Option<Transient> {
        let (lo, hi) = (self.from.min(self.to), self.from.max(self.to));
        let tol = 1e-9 * lo.abs().max(hi.abs());
        let inside = |v: f64| v.is_finite() && v >= lo - tol && v <= hi + tol;
        let forward = (end - start) * (self.to - self.from) > 0.0;
        if !(inside(start) && inside(end) && forward && self.over > 0.0 && self.every > 0.0) {
            return None;
        }
        let (start, end) = (start.clamp(lo, hi), end.clamp(lo, hi));
        // The share of the declared ramp's stretch, and so of its duration.
        let share = match self.shape {
            RampShape::Linear => (end - start) / (self.to - self.from),
            RampShape::Exponential => (end / start).ln() / (self.to / self.from).ln(),
        };
        let intervals = (share * self.over / self.every).round();
        if intervals.is_nan() || intervals < (MIN_TRANSIENT_SPECTRA - 1) as f64 {
            return None;
        }
        let over = intervals * self.every;
        let s = over / self.over;
        let end = match self.shape {
            RampShape::Linear => start + (self.to - self.from) * s,
            RampShape::Exponential => start * (self.to / self.from).powf(s),
        };
        inside(end).then(|| Transient {
            from: start,
            to: end.clamp(lo, hi),
            over,
            ..self.clone()
        })
    }

    /// The shortest part of the ramp an experiment may run: [`MIN_TRANSIENT_SPECTRA`] readings
    /// over the ramp itself (a hold does not resolve it), s.
    pub fn min_duration(&self) -> f64 {
        (MIN_TRANSIENT_SPECTRA - 1) as f64 * self.every
    }

    /// The smallest distance between a chosen start and end: the change over
    /// [`Transient::min_duration`] at the declared rate, from the start that changes it least
    /// (a linear ramp's rate is the same everywhere; an exponential one's smallest step is at
    /// its smaller end).
    pub fn min_span(&self) -> f64 {
        let s = (self.min_duration() / self.over).min(1.0);
        match self.shape {
            RampShape::Linear => (self.to - self.from).abs() * s,
            RampShape::Exponential => {
                let small = self.from.abs().min(self.to.abs());
                small * (((self.to / self.from).ln().abs() * s).exp() - 1.0)
            }
        }
    }

    /// The time of each reading from the start of the ramp, s, and the variable's value then.
    pub fn ticks(&self) -> Vec<(f64, f64)> {
        (0..self.spectra())
            .map(|k| {
                let t = (k as f64 * self.every).min(self.over + self.hold);
                (t, self.value_at(t))
            })
            .collect()
    }
}

/// `probe { along r1, at [25 uL, 50 uL, 100 uL] }`: the cell's probe moves along a coil and
/// reads it at each point after the steady state, so one experiment gives a growth curve.
/// Invariant: the coil lies on the way to the cell; the points are inside it, increasing.
#[derive(Debug, Clone)]
pub struct Probe {
    pub coil: DeviceId,
    pub points: Vec<ProbePoint>,
    pub span: Span,
}

/// One place a probe reads.
#[derive(Debug, Clone)]
pub struct ProbePoint {
    /// Volume of the coil from its inlet to the point, m³.
    pub volume: f64,
    /// The unit the campaign wrote it in.
    pub unit: DisplayUnit,
    /// The residence time at the point over the whole variable box, s, as proven by the
    /// interval prover (a sound enclosure; `None` when it could not be established).
    pub residence: Option<(f64, f64)>,
    pub span: Span,
}

impl ProbePoint {
    /// The point as the campaign wrote it (`25 uL`).
    pub fn label(&self) -> String {
        self.unit.format(self.volume)
    }
}

impl Probe {
    /// The flow through the coil at these pump rates, m³/s: the rates of every pump whose way
    /// passes through it.
    pub fn flow(&self, topology: &Topology, rates: &BTreeMap<DeviceId, f64>) -> f64 {
        topology
            .ways
            .iter()
            .flat_map(|w| w.segments.iter())
            .find(|s| s.device == self.coil)
            .map_or_else(
                || rates.values().filter(|r| **r > 0.0).sum(),
                |s| {
                    s.pumps
                        .iter()
                        .filter_map(|p| rates.get(p))
                        .filter(|r| **r > 0.0)
                        .sum()
                },
            )
    }

    /// The residence time at each point at these pump rates, s (infinite with no flow).
    pub fn residence_times(
        &self,
        topology: &Topology,
        rates: &BTreeMap<DeviceId, f64>,
    ) -> Vec<f64> {
        let q = self.flow(topology, rates);
        self.points
            .iter()
            .map(|p| if q > 0.0 { p.volume / q } else { f64::INFINITY })
            .collect()
    }
}

/// One pump alone through the reactor and the cell: `flush { pump p_wash, rate 500 uL/min,
/// volumes 2 }`, and likewise `blank { … }` (which may add `every 2 h`) and `reference_dye { … }`.
#[derive(Debug, Clone)]
pub struct Flush {
    pub pump: DeviceId,
    /// m³/s
    pub rate: f64,
    /// Reactor volumes to flush.
    pub volumes: f64,
    /// Repeat interval, s (`blank` only): the whole calibration is taken again once this much
    /// lab time has passed since the last, before the next experiment.
    pub every: Option<f64>,
    pub span: Span,
}

impl Measurement {
    /// The lines that run one pump alone, with the word that declares each.
    pub fn pumped_lines(&self) -> impl Iterator<Item = (&'static str, &Flush)> {
        [
            ("flush", self.flush.as_ref()),
            ("blank", self.blank.as_ref()),
            ("reference_dye", self.reference_dye.as_ref()),
        ]
        .into_iter()
        .filter_map(|(what, f)| Some((what, f?)))
    }
}

/// `route { valve v1, collect 2, waste 1 }`
#[derive(Debug, Clone)]
pub struct Route {
    pub valve: DeviceId,
    pub collect: u16,
    pub waste: u16,
    /// The names a lab binding gives the valve's positions (`names { sample 2, waste 1 }`);
    /// empty until a binding is applied (`bind::LabBinding::apply`), and on the simulated lab.
    pub names: BTreeMap<u16, String>,
    pub span: Span,
}

impl Route {
    /// The lab's name for `position`, if it names it.
    pub fn name(&self, position: u16) -> Option<String> {
        self.names.get(&position).cloned()
    }
}

/// A value computed from each measurement.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub name: String,
    pub definition: ProxyDefinition,
    pub dimension: Dimension,
    pub unit: DisplayUnit,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ProxyDefinition {
    /// A spectral function of `std.spectra`, with its arguments.
    Builtin { function: SpectralFunction },
    /// A reading of a virtual lab (a table column, a script model's output).
    Reading { name: String },
    /// An arithmetic expression over earlier proxies and the variables.
    Formula { expr: TExpr },
    /// A sandboxed rhai script.
    Script {
        /// The file name, or `None` when inline.
        file: Option<String>,
        source: String,
        /// Where the script text starts in its file (for error positions).
        origin: Span,
    },
}

/// A spectral function of `std.spectra` that qdx computes, with its arguments: the channels
/// it reads (as the call passes them, so a call may name the wrong kind of spectrum for the
/// runtime to refuse) and its other arguments in SI (wavelengths in metres). Validation
/// resolves a call to one of these, so the runtime matches on the function and never looks
/// an argument up by name; a function declared without an implementation here is refused by
/// `qdx check`.
#[derive(Debug, Clone, PartialEq)]
pub enum SpectralFunction {
    /// `peak_wavelength(spectrum)`
    PeakWavelength { spectrum: ChannelKind },
    /// `fwhm(spectrum)`
    Fwhm { spectrum: ChannelKind },
    /// `peak_intensity(spectrum)`
    PeakIntensity { spectrum: ChannelKind },
    /// `integrated_area(spectrum, from, to)`, the bounds in m.
    IntegratedArea {
        spectrum: ChannelKind,
        from: f64,
        to: f64,
    },
    /// `absorbance_at(spectrum, wavelength)`, the wavelength in m.
    AbsorbanceAt {
        spectrum: ChannelKind,
        wavelength: f64,
    },
    /// `first_excitonic_peak(spectrum)`
    FirstExcitonicPeak { spectrum: ChannelKind },
    /// `guinier_radius(pattern)`: the radius of gyration of a SAXS pattern, m.
    GuinierRadius { pattern: ChannelKind },
    /// `sphere_radius(pattern)`: the radius of the homogeneous sphere of that `Rg`, m.
    SphereRadius { pattern: ChannelKind },
    /// `cd_extremum(spectrum)`: the wavelength of the strongest CD band, m.
    CdExtremum { spectrum: ChannelKind },
    /// `anisotropy(cd, absorbance, at)`: the dissymmetry factor g at `at` (m).
    Anisotropy {
        cd: ChannelKind,
        absorbance: ChannelKind,
        at: f64,
    },
    /// `relative_plqy(emission, absorbance, excitation, reference, sample_index)`, the
    /// excitation in m; `sample_index` is the refractive index of the sample's solvent
    /// (1.0 ..= 3.0, checked).
    RelativePlqy {
        emission: ChannelKind,
        absorbance: ChannelKind,
        excitation: f64,
        reference: ReferenceDye,
        sample_index: f64,
    },
}

impl SpectralFunction {
    /// The name `std.spectra` declares it by.
    pub fn name(&self) -> &'static str {
        match self {
            SpectralFunction::PeakWavelength { .. } => "peak_wavelength",
            SpectralFunction::Fwhm { .. } => "fwhm",
            SpectralFunction::PeakIntensity { .. } => "peak_intensity",
            SpectralFunction::IntegratedArea { .. } => "integrated_area",
            SpectralFunction::AbsorbanceAt { .. } => "absorbance_at",
            SpectralFunction::FirstExcitonicPeak { .. } => "first_excitonic_peak",
            SpectralFunction::RelativePlqy { .. } => "relative_plqy",
            SpectralFunction::GuinierRadius { .. } => "guinier_radius",
            SpectralFunction::SphereRadius { .. } => "sphere_radius",
            SpectralFunction::CdExtremum { .. } => "cd_extremum",
            SpectralFunction::Anisotropy { .. } => "anisotropy",
        }
    }

    /// The channels it reads, in the order of its parameters.
    pub fn channels(&self) -> Vec<ChannelKind> {
        match self {
            SpectralFunction::PeakWavelength { spectrum }
            | SpectralFunction::Fwhm { spectrum }
            | SpectralFunction::PeakIntensity { spectrum }
            | SpectralFunction::IntegratedArea { spectrum, .. }
            | SpectralFunction::AbsorbanceAt { spectrum, .. }
            | SpectralFunction::FirstExcitonicPeak { spectrum }
            | SpectralFunction::CdExtremum { spectrum } => vec![*spectrum],
            SpectralFunction::GuinierRadius { pattern }
            | SpectralFunction::SphereRadius { pattern } => vec![*pattern],
            SpectralFunction::Anisotropy { cd, absorbance, .. } => vec![*cd, *absorbance],
            SpectralFunction::RelativePlqy {
                emission,
                absorbance,
                ..
            } => vec![*emission, *absorbance],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceDye {
    pub name: String,
    pub quantum_yield: f64,
    pub refractive_index: f64,
    pub solvent: Option<String>,
    /// m (SI), if the reference declares it: a wavelength where the dye absorbs well (its
    /// absorption maximum in the standard library).
    pub excitation: Option<f64>,
    /// m (SI), the absorption maximum, if the reference declares it.
    pub absorption: Option<f64>,
    /// m (SI), the emission maximum, if the reference declares it.
    pub emission: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    Maximize,
    Minimize,
    Target { value: f64, tolerance: f64 },
    AtLeast { value: f64 },
    AtMost { value: f64 },
}

#[derive(Debug, Clone)]
pub struct Objective {
    pub proxy: ProxyId,
    pub name: String,
    pub goal: Goal,
    pub weight: f64,
    /// The desirability ramp `(low, high)` of a `maximize`/`minimize` goal, SI; `None` = the
    /// observed range.
    pub range: Option<(f64, f64)>,
    pub unit: DisplayUnit,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Combine {
    /// One objective: nothing to combine.
    Single,
    WeightedSum,
    Desirability,
    Pareto,
}

impl Combine {
    /// As the campaign writes it in `combine …` (`single` when there is one objective).
    pub fn name(&self) -> &'static str {
        match self {
            Combine::Single => "single",
            Combine::WeightedSum => "weighted_sum",
            Combine::Desirability => "desirability",
            Combine::Pareto => "pareto",
        }
    }
}

/// A condition over proxies (stop conditions and requirements).
#[derive(Debug, Clone)]
pub enum Condition {
    Compare {
        proxy: ProxyId,
        op: Comparison,
        value: f64,
    },
    /// `|proxy - target| <= tolerance`
    Within {
        proxy: ProxyId,
        target: f64,
        tolerance: f64,
    },
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    /// Whether the condition is met, in three-valued (Kleene) logic: `None` when the answer
    /// depends on a proxy that is missing (or not a number). `not` of unknown is unknown, `and`
    /// is false as soon as one side is false, `or` true as soon as one side is true; a missing
    /// value never makes a condition met, however it is negated.
    pub fn truth(&self, value: &dyn Fn(ProxyId) -> Option<f64>) -> Option<bool> {
        let known = |p: ProxyId| value(p).filter(|x| !x.is_nan());
        match self {
            Condition::Compare {
                proxy,
                op,
                value: v,
            } => known(*proxy).map(|x| op.holds(x, *v)),
            Condition::Within {
                proxy,
                target,
                tolerance,
            } => known(*proxy).map(|x| (x - target).abs() <= *tolerance),
            Condition::And(a, b) => match (a.truth(value), b.truth(value)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Condition::Or(a, b) => match (a.truth(value), b.truth(value)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Condition::Not(a) => a.truth(value).map(|t| !t),
        }
    }

    /// Whether the condition is certainly met with these proxy values (SI): an unknown answer
    /// ([`Condition::truth`]) is not met.
    pub fn holds(&self, value: &dyn Fn(ProxyId) -> Option<f64>) -> bool {
        self.truth(value) == Some(true)
    }
}

#[derive(Debug, Clone)]
pub struct Objectives {
    pub list: Vec<Objective>,
    /// `map peak until sd <= 2 nm`: the campaign maps a proxy instead of optimising (never
    /// together with `list`).
    pub map: Option<MapGoal>,
    pub combine: Combine,
    /// Reference point for the hypervolume (Pareto), per objective, SI.
    pub reference_point: Option<Vec<f64>>,
    pub requirements: Vec<Condition>,
    pub stop: Option<Condition>,
}

/// A mapping goal: model `proxy` over the variables' box until the largest predicted sd over
/// the reference set (see `qdx_optimize::MapModel`) is at most `level`.
#[derive(Debug, Clone, PartialEq)]
pub struct MapGoal {
    pub proxy: ProxyId,
    pub name: String,
    /// The stop level, SI, in the proxy's dimension (a difference); `None`: until the budget.
    pub level: Option<f64>,
    /// The proxy's display unit (map.csv, the report, the stop reason).
    pub unit: DisplayUnit,
    pub span: Span,
}

impl MapGoal {
    /// The sd's unit: the proxy's, as a difference (an sd of 2 K is 2 degC).
    pub fn sd_unit(unit: &DisplayUnit) -> DisplayUnit {
        DisplayUnit::new(unit.unit.clone(), Interpretation::Difference)
    }

    /// How many values the map needs before its uncertainty can stop a run: the initial design
    /// of a mapping optimizer, else the size Bayesian optimisation would give it. A GP of a
    /// handful of points can be confidently wrong (a long lengthscale fitted to two values), so
    /// the map is not judged before a space-filling design has covered the box.
    pub fn min_values(
        strategy: &qdx_optimize::StrategySpec,
        domain: &qdx_optimize::Domain,
    ) -> usize {
        match strategy {
            qdx_optimize::StrategySpec::Map(o) => o.initial,
            _ => qdx_optimize::BayesOptions::for_domain(domain).initial.n,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    Random,
    Grid,
    LatinHypercube,
    Sobol,
    Bayesian,
    NelderMead,
    Snobfit,
    Evolutionary,
}

impl Strategy {
    pub const ALL: [(&'static str, Strategy); 8] = [
        ("random", Strategy::Random),
        ("grid", Strategy::Grid),
        ("latin_hypercube", Strategy::LatinHypercube),
        ("sobol", Strategy::Sobol),
        ("bayesian", Strategy::Bayesian),
        ("nelder_mead", Strategy::NelderMead),
        ("snobfit", Strategy::Snobfit),
        ("evolutionary", Strategy::Evolutionary),
    ];

    pub fn name(&self) -> &'static str {
        Strategy::ALL
            .iter()
            .find(|(_, s)| s == self)
            .map_or("?", |(n, _)| n)
    }
}

#[derive(Debug, Clone)]
pub struct OptimizerConfig {
    pub strategy: Strategy,
    /// `initial sobol 10`
    pub initial: Option<(Strategy, u64)>,
    pub batch: u64,
    /// Grid levels per variable (SI values, or level indices for choices).
    pub levels: BTreeMap<VarId, Vec<f64>>,
    /// Grid levels per composition (its index in `Campaign::compositions`): `k` levels give
    /// every part the values total·j/(k − 1), j = 0 … k − 1, in the combinations that sum to
    /// the total (a simplex-lattice design); points outside a part's range are left out.
    pub composition_levels: BTreeMap<usize, u64>,
    /// Its options (`acquisition ucb`, `beta 2`, `surrogate gp { kernel matern52 }`), typed.
    pub options: OptimizerOptions,
    pub span: Span,
    /// qdx chose it: the campaign has no `optimizer` block ([`OptimizerConfig::default_for`]).
    pub chosen_by_qdx: bool,
}

/// The most experiments a design known in advance (a grid, Sobol or Latin hypercube points, an
/// initial design) may hold. The planner holds every point in memory and estimates each; a
/// flow lab runs tens to hundreds of experiments a day, so a larger design is a slip (a level
/// count too many), and refused with a located error rather than exhausting memory.
pub const MAX_DESIGN_POINTS: u64 = 100_000;

impl OptimizerConfig {
    /// The optimizer of a campaign without an `optimizer` block: Bayesian optimisation (every
    /// variable type, constraints and pools take it) after a Sobol design of max(5, 2·d)
    /// experiments for d variables, the initial size Ax uses, but at most half the experiment
    /// budget (and at least one), so the model has experiments left to choose. Without an
    /// objective there is nothing to optimise: a Sobol design over the budget screens the box.
    pub fn default_for(variables: usize, budget: Option<u64>, objectives: bool) -> OptimizerConfig {
        let wanted = (2 * variables as u64).max(5);
        let initial = budget.map_or(wanted, |b| wanted.min(b / 2).max(1));
        let (strategy, initial) = if objectives {
            (Strategy::Bayesian, Some((Strategy::Sobol, initial)))
        } else {
            (Strategy::Sobol, None)
        };
        OptimizerConfig {
            strategy,
            initial,
            batch: 1,
            levels: BTreeMap::new(),
            composition_levels: BTreeMap::new(),
            options: OptimizerOptions::default(),
            span: Span::synthetic(crate::source::Synthetic::Default),
            chosen_by_qdx: true,
        }
    }

    /// Points of the grid over `variables`: every option of a choice, the levels of the others
    /// (saturating: a product past `u64::MAX` stays there).
    pub fn grid_size(&self, variables: &[Variable], compositions: &[Composition]) -> u64 {
        let lattices = self
            .composition_levels
            .iter()
            .map(|(k, levels)| {
                let parts = compositions
                    .get(*k)
                    .map_or(1, |c| c.components.len() as u64);
                lattice_size(parts, levels.saturating_sub(1))
            })
            .fold(1_u64, u64::saturating_mul);
        variables
            .iter()
            .enumerate()
            .map(|(i, v)| match &v.domain {
                Domain::Choice { levels } => levels.len() as u64,
                // A composition's parts count once, as its lattice.
                Domain::Component { .. } => 1,
                _ => self.levels.get(&i).map_or(1, |l| l.len() as u64),
            })
            .fold(lattices, u64::saturating_mul)
    }
}

/// Points of a simplex lattice of `parts` parts in `steps` steps: the ways to write `steps` as
/// an ordered sum of `parts` counts, C(steps + parts − 1, parts − 1), saturating.
pub fn lattice_size(parts: u64, steps: u64) -> u64 {
    // C(n, r) by the multiplicative formula; each partial product is itself a binomial
    // coefficient, so the division is exact.
    let (n, r) = (
        steps.saturating_add(parts.saturating_sub(1)),
        parts.saturating_sub(1),
    );
    let r = r.min(n.saturating_sub(r));
    let mut c: u128 = 1;
    for i in 0..r {
        c = c * u128::from(n - i) / u128::from(i + 1);
        if c > u128::from(u64::MAX) {
            return u64::MAX;
        }
    }
    u64::try_from(c).unwrap_or(u64::MAX)
}

/// The optimizer block's options, typed by validation (each checked and read once; the
/// strategy specification reads these fields, never option text). An option the campaign
/// does not give is `None`: the strategy's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptimizerOptions {
    /// `acquisition` (bayesian).
    pub acquisition: Option<Acquisition>,
    /// `beta`, the exploration weight of the upper confidence bound (bayesian).
    pub beta: Option<f64>,
    /// `failures`: how failed experiments are modelled (bayesian).
    pub failures: Option<FailureModel>,
    /// `surrogate` (bayesian): `gp { kernel matern52 }`, `extra_trees` or `nn_ensemble`.
    pub surrogate: Option<SurrogateKind>,
    /// `model`: what the GP models, each measured value or the combined score (bayesian).
    pub model: Option<ModelKind>,
    /// `initial_step`, a fraction of each range (nelder_mead).
    pub initial_step: Option<f64>,
    /// `initial_radius`, a fraction of each range (snobfit).
    pub initial_radius: Option<f64>,
    /// `exploration`, a share of each batch (snobfit).
    pub exploration: Option<f64>,
    /// `population` (evolutionary).
    pub population: Option<u64>,
    /// `sigma`, a fraction of each range (evolutionary).
    pub sigma: Option<f64>,
    /// `points`: how many experiments a Sobol or Latin-hypercube design runs.
    pub points: Option<u64>,
    /// `prior_mean <fit>`: a fitted kinetic model is the prior mean of the composite model's
    /// GPs of the proxies it observes (bayesian).
    pub prior_mean: Option<PriorMeanOption>,
}

/// `prior_mean <fit>` as validated (`validate::objectives`, `prior_mean_check`): the fit
/// exists, observes a proxy an objective reads, and the optimizer is Bayesian optimisation
/// with the composite model, the failures' feasibility model and an expected improvement.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorMeanOption {
    /// The fit's name as written.
    pub name: String,
    /// The name's place in the file.
    pub span: Span,
    /// Its index in [`Campaign::fits`]: always `Some` in a validated campaign.
    pub fit: Option<usize>,
}

impl OptimizerOptions {
    /// The options as the campaign would write them (for `qdx check --summary`).
    pub fn written(&self) -> Vec<String> {
        let n = |x: f64| qdx_units::format_number(x);
        let mut out = Vec::new();
        if let Some(a) = self.acquisition {
            out.push(format!("acquisition {}", a.name()));
        }
        if let Some(b) = self.beta {
            out.push(format!("beta {}", n(b)));
        }
        if let Some(f) = self.failures {
            out.push(format!("failures {}", f.name()));
        }
        match self.surrogate {
            Some(SurrogateKind::Gp(k)) => {
                out.push(format!("surrogate gp {{ kernel {} }}", k.name()));
            }
            Some(other) => out.push(format!("surrogate {}", other.name())),
            None => {}
        }
        if let Some(m) = self.model {
            out.push(format!("model {}", m.name()));
        }
        for (name, value) in [
            ("initial_step", self.initial_step),
            ("initial_radius", self.initial_radius),
            ("exploration", self.exploration),
            ("sigma", self.sigma),
        ] {
            if let Some(x) = value {
                out.push(format!("{name} {}", n(x)));
            }
        }
        for (name, value) in [("population", self.population), ("points", self.points)] {
            if let Some(x) = value {
                out.push(format!("{name} {x}"));
            }
        }
        if let Some(p) = &self.prior_mean {
            out.push(format!("prior_mean {}", p.name));
        }
        out
    }
}

/// The acquisition function of Bayesian optimisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquisition {
    /// `log_expected_improvement` (`log_ei`).
    LogExpectedImprovement,
    /// `noisy_expected_improvement` (`noisy_ei`).
    NoisyExpectedImprovement,
    /// `upper_confidence_bound` (`ucb`), with `beta`.
    UpperConfidenceBound,
    /// `max_variance`: the point of largest predicted variance (mapping campaigns).
    MaxVariance,
    /// `integrated_variance`: the point that most reduces the variance over the box (mapping).
    IntegratedVariance,
}

impl Acquisition {
    /// Every acquisition by the names a campaign may write (the first is the canonical one).
    pub const NAMES: [(&'static str, Acquisition); 8] = [
        (
            "log_expected_improvement",
            Acquisition::LogExpectedImprovement,
        ),
        (
            "noisy_expected_improvement",
            Acquisition::NoisyExpectedImprovement,
        ),
        ("upper_confidence_bound", Acquisition::UpperConfidenceBound),
        ("log_ei", Acquisition::LogExpectedImprovement),
        ("noisy_ei", Acquisition::NoisyExpectedImprovement),
        ("ucb", Acquisition::UpperConfidenceBound),
        ("max_variance", Acquisition::MaxVariance),
        ("integrated_variance", Acquisition::IntegratedVariance),
    ];

    /// Whether it maps (reduces uncertainty) rather than optimises.
    pub fn maps(self) -> bool {
        matches!(
            self,
            Acquisition::MaxVariance | Acquisition::IntegratedVariance
        )
    }

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("?", |(n, _)| n)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| *a)
    }
}

/// How Bayesian optimisation models experiments that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureModel {
    /// `auto` (the default): one of the two below at each suggestion, chosen by the data.
    Auto,
    /// `feasibility_model`: a classifier of where experiments succeed.
    FeasibilityModel,
    /// `impute_worst`: a failure counts as the worst score seen.
    ImputeWorst,
}

impl FailureModel {
    pub const NAMES: [(&'static str, FailureModel); 3] = [
        ("auto", FailureModel::Auto),
        ("feasibility_model", FailureModel::FeasibilityModel),
        ("impute_worst", FailureModel::ImputeWorst),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }
}

/// What Bayesian optimisation models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// `composite`: one GP per proxy an objective reads, the score applied to their predictions
    /// (the same as `score` for a single maximised or minimised proxy and for Pareto fronts).
    Composite,
    /// `score`: one GP of the combined score (the default).
    Score,
}

impl ModelKind {
    pub const NAMES: [(&'static str, ModelKind); 2] = [
        ("composite", ModelKind::Composite),
        ("score", ModelKind::Score),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(n, _)| n)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
    }
}

/// The surrogate Bayesian optimisation fits (of the score, or of each proxy with
/// `model composite`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurrogateKind {
    /// `gp { kernel matern52 }` (or just `gp`): a Gaussian process (the default).
    Gp(Kernel),
    /// `extra_trees`: extremely randomised trees, uncertainty from the trees' spread.
    ExtraTrees,
    /// `nn_ensemble`: five small neural networks, uncertainty from their spread.
    NnEnsemble,
}

impl SurrogateKind {
    /// The names a campaign writes, with what each is (for errors and completion).
    pub const NAMES: [(&'static str, &'static str); 3] = [
        ("gp", "a Gaussian process (Matérn-5/2), the default"),
        (
            "extra_trees",
            "extremely randomised trees, uncertainty from their spread",
        ),
        ("nn_ensemble", "an ensemble of five small neural networks"),
    ];

    pub fn name(self) -> &'static str {
        match self {
            SurrogateKind::Gp(_) => "gp",
            SurrogateKind::ExtraTrees => "extra_trees",
            SurrogateKind::NnEnsemble => "nn_ensemble",
        }
    }
}

/// The Gaussian-process kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Matérn-5/2 with one lengthscale per variable.
    Matern52,
}

impl Kernel {
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Matern52 => "matern52",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PriorSource {
    pub format: PriorFormat,
    /// Path relative to the campaign folder.
    pub path: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorFormat {
    Csv,
    Bundle,
}

impl PriorFormat {
    pub fn name(self) -> &'static str {
        match self {
            PriorFormat::Csv => "csv",
            PriorFormat::Bundle => "bundle",
        }
    }
}

/// What a fault policy does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    Retry { times: u32, backoff: f64 },
    SkipExperiment,
    Pause,
    Abort,
    StopAll,
    Continue,
}

impl FaultAction {
    /// A policy's actions as the campaign writes them: `retry 2 backoff 60 s, then skip_experiment`.
    pub fn written(actions: &[FaultAction]) -> String {
        let mut out = String::new();
        for (k, a) in actions.iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
                if matches!(actions.get(k - 1), Some(FaultAction::Retry { .. })) {
                    out.push_str("then ");
                }
            }
            match a {
                FaultAction::Retry { times, backoff } => out.push_str(&format!(
                    "retry {times} backoff {} s",
                    qdx_units::format_number(*backoff)
                )),
                FaultAction::SkipExperiment => out.push_str("skip_experiment"),
                FaultAction::Pause => out.push_str("pause"),
                FaultAction::Abort => out.push_str("abort"),
                FaultAction::StopAll => out.push_str("stop_all"),
                FaultAction::Continue => out.push_str("continue"),
            }
        }
        out
    }
}

/// A kind of fault: what a policy names (`on pump_stall : stop_all, pause`), and what the
/// runtime classifies each device error as (`runtime::fault_kind`). The journal records it
/// by [`Fault::name`].
///
/// Four kinds are accepted in a policy but never raised by the runtime, so a policy for one
/// of them never applies (the fault falls to the `any` policy, or to the default stop):
/// [`Fault::TemperatureNotSettled`], [`Fault::SpectrometerSaturated`], [`Fault::NoSignal`] and
/// [`Fault::PressureHigh`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// A pump reports a stall or occlusion (an alarm), or has stopped while it should run.
    PumpStall,
    /// A syringe runs out. Only the simulated pump reports this; the hardware drivers report
    /// their alarms as a stall.
    PumpEmpty,
    /// A pump does not answer.
    PumpTimeout,
    /// A heater does not answer.
    HeaterTimeout,
    /// A heater reports an alarm; also what a temperature that does not settle in time is
    /// raised as.
    HeaterAlarm,
    /// The temperature does not settle in time. Never raised: the runtime raises a heater
    /// that does not settle as [`Fault::HeaterAlarm`].
    TemperatureNotSettled,
    /// The spectrometer does not answer.
    SpectrometerTimeout,
    /// A spectrum saturates the detector. Never raised: a saturated spectrum is no fault of
    /// the device but a proxy that cannot be computed (`runtime::measure`).
    SpectrometerSaturated,
    /// A spectrum has no usable signal. Never raised: a spectrum without a peak is a proxy
    /// that cannot be computed.
    NoSignal,
    /// A pressure reading exceeds its limit. Never raised: the runtime reads no pressure
    /// sensor.
    PressureHigh,
    /// A device's connection is lost.
    DeviceDisconnected,
    /// A device answers with bytes that make no sense.
    GarbageReply,
    /// In a policy, any fault without its own policy; raised for a device error no other
    /// kind describes (a refused command, an I/O error, a valve's timeout).
    Any,
}

impl Fault {
    /// Every kind, in the order `qdx check` lists them.
    pub const ALL: [Fault; 13] = [
        Fault::PumpStall,
        Fault::PumpEmpty,
        Fault::PumpTimeout,
        Fault::HeaterTimeout,
        Fault::HeaterAlarm,
        Fault::TemperatureNotSettled,
        Fault::SpectrometerTimeout,
        Fault::SpectrometerSaturated,
        Fault::NoSignal,
        Fault::PressureHigh,
        Fault::DeviceDisconnected,
        Fault::GarbageReply,
        Fault::Any,
    ];

    /// The name a policy and the journal use: `pump_stall`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::PumpStall => "pump_stall",
            Fault::PumpEmpty => "pump_empty",
            Fault::PumpTimeout => "pump_timeout",
            Fault::HeaterTimeout => "heater_timeout",
            Fault::HeaterAlarm => "heater_alarm",
            Fault::TemperatureNotSettled => "temperature_not_settled",
            Fault::SpectrometerTimeout => "spectrometer_timeout",
            Fault::SpectrometerSaturated => "spectrometer_saturated",
            Fault::NoSignal => "no_signal",
            Fault::PressureHigh => "pressure_high",
            Fault::DeviceDisconnected => "device_disconnected",
            Fault::GarbageReply => "garbage_reply",
            Fault::Any => "any",
        }
    }

    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone)]
pub struct FaultPolicy {
    pub fault: Fault,
    pub actions: Vec<FaultAction>,
    pub span: Span,
}

/// A limit of the safety envelope: `what op value`.
#[derive(Debug, Clone)]
pub struct Limit {
    pub subject: LimitSubject,
    pub op: Comparison,
    pub value: f64,
    pub unit: DisplayUnit,
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LimitSubject {
    /// Every heater setpoint.
    Temperature,
    /// The sum of all pump rates.
    TotalFlow,
    /// One derived value or device setting.
    Derived(DerivedId),
    /// One variable.
    Variable(VarId),
}

#[derive(Debug, Clone, Default)]
pub struct Safety {
    pub limits: Vec<Limit>,
    pub policies: Vec<FaultPolicy>,
    /// Heater → safe setpoint (K), as declared (`safe h1 = 60 degC`).
    pub safe_setpoints: BTreeMap<DeviceId, f64>,
}

impl Safety {
    /// Where a heater goes in the lab's safe state, K: its declared safe setpoint, or room
    /// temperature. The one place the default is decided.
    pub fn safe_setpoint(&self, heater: DeviceId) -> f64 {
        self.safe_setpoints
            .get(&heater)
            .copied()
            .unwrap_or(AMBIENT_K)
    }
}

#[derive(Debug, Clone)]
pub struct Simulation {
    pub model: SimulationModel,
    /// Parameters in SI, by name.
    pub parameters: BTreeMap<String, f64>,
    /// Role → stocks (for chemistry models): one stock, except `halide` (exchange) and `lead`
    /// (synthesis), which list every stock that declares a halide.
    pub roles: BTreeMap<String, Vec<StockId>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum SimulationModel {
    CsPbX3HalideExchange,
    CsFaPbX3Synthesis,
    CdSeGrowth,
    Table {
        path: String,
        /// The table, read once by validation (in pool mode, or as an emulator of the rows'
        /// neighbourhood).
        model: std::sync::Arc<qdx_sim::TableModel>,
        pool: bool,
        /// Variable → (column, unit the column is in).
        inputs: Vec<(VarId, String, DisplayUnit)>,
        outputs: Vec<Reading>,
    },
    Script {
        path: String,
        source: String,
        /// Variable → (the name the script reads it by, unit it reads it in).
        inputs: Vec<(VarId, String, DisplayUnit)>,
        outputs: Vec<Reading>,
    },
}

impl SimulationModel {
    /// What a virtual lab is given: variable → (its name in the lab, unit); `None` for a
    /// model of the reactor's chemistry.
    pub fn virtual_inputs(&self) -> Option<&[(VarId, String, DisplayUnit)]> {
        match self {
            SimulationModel::Table { inputs, .. } | SimulationModel::Script { inputs, .. } => {
                Some(inputs)
            }
            SimulationModel::CsPbX3HalideExchange
            | SimulationModel::CsFaPbX3Synthesis
            | SimulationModel::CdSeGrowth => None,
        }
    }

    /// What a virtual lab reports (empty for a model of the reactor's chemistry).
    pub fn readings(&self) -> &[Reading] {
        match self {
            SimulationModel::Table { outputs, .. } | SimulationModel::Script { outputs, .. } => {
                outputs
            }
            SimulationModel::CsPbX3HalideExchange
            | SimulationModel::CsFaPbX3Synthesis
            | SimulationModel::CdSeGrowth => &[],
        }
    }
}

/// A number a virtual lab reports (a table's output column, a script model's output), in the
/// unit the `simulate` block gives it (`units { peak nm }`; a plain number otherwise). The lab
/// and the journal hold it in that unit; a proxy that reads it holds it in SI.
#[derive(Debug, Clone)]
pub struct Reading {
    pub name: String,
    pub unit: DisplayUnit,
}

impl Campaign {
    pub fn device_id(&self, name: &str) -> Option<DeviceId> {
        self.devices.iter().position(|d| d.name == name)
    }

    pub fn variable_id(&self, name: &str) -> Option<VarId> {
        self.variables.iter().position(|v| v.name == name)
    }

    pub fn proxy_id(&self, name: &str) -> Option<ProxyId> {
        self.proxies.iter().position(|p| p.name == name)
    }

    pub fn pumps(&self) -> impl Iterator<Item = (DeviceId, &Device)> {
        self.devices
            .iter()
            .enumerate()
            .filter(|(_, d)| d.role == Role::Pump)
    }

    pub fn heaters(&self) -> impl Iterator<Item = (DeviceId, &Device)> {
        self.devices
            .iter()
            .enumerate()
            .filter(|(_, d)| d.role == Role::Heater)
    }

    /// The derived value that sets `device.setting`, if any.
    pub fn setting_source(&self, device: DeviceId, setting: &str) -> Option<DerivedId> {
        self.derived.iter().position(|d| {
            matches!(&d.target, DerivedTarget::Setting { device: dv, setting: s, .. } if *dv == device && s == setting)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Fault;

    /// A policy names a fault, and the journal records it, by the same name.
    #[test]
    fn a_fault_reads_as_its_name() {
        for f in Fault::ALL {
            assert_eq!(Fault::from_name(f.name()), Some(f));
            assert_eq!(f.to_string(), f.name());
        }
    }
}
