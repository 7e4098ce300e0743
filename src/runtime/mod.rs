//! Stage 5, run: drives the plan against a [`Lab`] with a `Clock`, closes the loop with the
//! optimizer, and journals everything; the bundle is written from the journal.
//!
//! One loop ([`run`], [`resume`]) drives either lab: [`Lab::simulated`] (the default; virtual
//! clock) or [`Lab::hardware`] (the instruments of a validated lab binding on the real clock,
//! each pump and heater behind its safety envelope and every device behind a watchdog, see
//! [`hardware`]). [`run_simulated`] and [`run_hardware`] build the lab and a runtime for the
//! command line.
//!
//! Invariants: every command is journaled (and the journal synced) before it is sent, except
//! the safe state's, which are sent first so that stopping the lab never waits on the disk;
//! every setting sent was planned (and so checked against limits and the safety envelope), and
//! on hardware is checked against the envelope again just before it is written; every fault
//! goes through the campaign's policies and is journaled with what was done; no wait is longer
//! than [`MAX_WAIT_S`]; the lab is brought to its safe state (pumps stopped, heaters to their
//! safe setpoints) however a run ends: finished, stopped by a fault policy or by repeated
//! identical failures, interrupted by a signal, failed, or panicked. A run that stops early
//! (pause, abort, a signal) is not marked finished, so it can be resumed. A resumed run replays
//! the journal's completed experiments against the simulated lab, or on hardware rebuilds its
//! state from the journal and tells the optimizer, never sending an old command to a real
//! device again; it continues where the run stopped: no experiment is repeated or lost.

mod drive;
pub use progress::Progress;
pub mod hardware;
pub mod lab;
pub mod measure;
mod progress;

#[cfg(test)]
mod tests;

pub use drive::{
    Instruments, RunEnd, Signal, current_thread, finalise, paused_time, replay_decisions, resume,
    resume_hardware, resume_simulated, run, run_hardware, run_simulated, run_simulated_with,
    run_with,
};

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use qdx_lab::{Clock, DeviceError, DeviceErrorKind, Illumination, PumpDirection};
use qdx_optimize as opt;
use qdx_spectra::Spectrum;

pub use lab::{Lab, LabKind};

use crate::journal::{Command, Event, Journal};
use crate::plan::{ExperimentPlan, LabState, Operation};
use crate::record::{InEffect, Outcome, Status};
use crate::validate::campaign::*;
use measure::Calibration;

/// Why a run could not start or go on. The exit code of each variant is decided with the
/// others in [`crate::cli::ErrorKind`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The optimizer could not be built ([`optimizer`]). To be replaced by a variant that says
    /// what happened (its site is being reworked); nothing else may use it.
    #[error("{0}")]
    Setup(String),
    /// The planner refused the campaign (a budget, a limit at a design point).
    #[error("the plan is refused: {}", .0.iter().map(|d| d.message.as_str()).collect::<Vec<_>>().join("; "))]
    Plan(crate::diagnostic::Diagnostics),
    /// The campaign cannot run on the simulated lab (its reactor, its script model).
    #[error("{0}")]
    SimulatedLab(String),
    /// The bundle folder exists: a run never overwrites one.
    #[error("{} already exists; a run never overwrites a bundle", .dir.display())]
    BundleExists { dir: PathBuf },
    /// The journal has no `started` record: the run was cut short before it began (a bundle
    /// of an earlier qdx; a bundle appears only once its `started` record is stored).
    #[error(
        "the journal of {} has no `started` record: the run was cut short before it began, \
         and its seed is unknown\n  nothing was sent to the lab: remove the folder and start \
         the run again with `qdx run`",
        .dir.display()
    )]
    NotStarted { dir: PathBuf },
    /// A finished run cannot be resumed (its bundle can be completed: [`finalise`]).
    #[error(
        "the run in {} is already finished; `qdx resume` completes its bundle if it was cut \
         short, `qdx verify` checks it",
        .dir.display()
    )]
    AlreadyFinished { dir: PathBuf },
    /// Only a finished run's bundle is completed ([`finalise`]); an unfinished one is resumed.
    #[error("the run in {} is not finished; `qdx resume` goes on with it", .dir.display())]
    NotFinished { dir: PathBuf },
    /// The tokio runtime the run is driven on did not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// A signal handler could not be installed: the run could not stop safely on it.
    #[error("cannot listen for {}: {source}", .signal.name())]
    Signals {
        signal: Signal,
        source: std::io::Error,
    },
    /// An instrument of the lab binding could not be opened.
    #[error("cannot connect the lab `{lab}`: {source}")]
    Connect {
        lab: String,
        source: qdx_lab::registry::RegistryError,
    },
    /// The optimizer refused what it was told of the prior data (and, for a resumed hardware
    /// run, of the journal's experiments).
    #[error("prior data: {0}")]
    PriorRefused(opt::OptimizeError),
    /// The optimizer failed to suggest or to learn from a measurement.
    #[error("the optimizer failed: {0}")]
    Optimizer(opt::OptimizeError),
    /// A transient ramp's readings could not be stored as an array (readings on different
    /// wavelength grids).
    #[error("cannot store the ramp's spectra in {file}: {why}")]
    Stack { file: String, why: String },
    /// A calibration spectrum the bundle holds does not read.
    #[error("cannot read the calibration {file}: {why}")]
    Calibration { file: String, why: String },
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    #[error(transparent)]
    Bundle(#[from] crate::bundle::BundleError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the replay diverged from the journal at experiment {experiment}: {what}")]
    Diverged { experiment: u64, what: String },
    #[error(
        "refusing to wait {} for {what}: a single wait is limited to {} (is a unit wrong?)",
        wait_text(*seconds),
        wait_text(MAX_WAIT_S)
    )]
    Wait { what: String, seconds: f64 },
    /// A bug in qdx stopped the run; the lab was brought to its safe state first.
    #[error("qdx stopped on an internal error (the lab was brought to its safe state): {0}")]
    Panicked(String),
}

/// The longest single wait a run accepts, s (30 days). Anything longer is a unit slip, and a
/// run must never hold an instrument at a setting on one; it is also where
/// `Duration::from_secs_f64` would otherwise panic.
pub const MAX_WAIT_S: f64 = 30.0 * 24.0 * 3600.0;

/// A wait for messages, to four significant digits in a fitting unit (`125.4 days`).
fn wait_text(seconds: f64) -> String {
    crate::validate::durations::human(seconds)
}

/// A wait of `seconds` as a [`Duration`], checked: NaN, infinities and waits beyond
/// [`MAX_WAIT_S`] are refused; a negative wait is no wait.
pub fn wait_time(seconds: f64, what: &str) -> Result<Duration, RunError> {
    checked_wait(seconds).ok_or_else(|| RunError::Wait {
        what: what.to_owned(),
        seconds,
    })
}

fn checked_wait(seconds: f64) -> Option<Duration> {
    if seconds.is_nan() || seconds > MAX_WAIT_S {
        return None;
    }
    Duration::try_from_secs_f64(seconds.max(0.0)).ok()
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// What the run shows while it runs ([`Progress`]).
    pub progress: Progress,
    /// Sync the journal on every record (hardware) rather than before each actuation step.
    pub sync_each: bool,
    /// For crash tests: after writing this journal record, stop and wait to be killed.
    pub halt_after: Option<u64>,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub bundle: PathBuf,
    pub experiments: u64,
    pub failed: u64,
    pub stop_reason: String,
    /// Lab time the run took (virtual for the simulated lab), s.
    pub lab_time: f64,
    /// False when the run halted early (a fault policy, an interruption): `qdx resume` goes on.
    pub finished: bool,
    /// How it ended (the exit code of `qdx run`).
    pub end: RunEnd,
}

/// After this many experiments in a row fail the same way, the run stops (safely, resumable):
/// a systematic failure (a proxy that cannot be computed on this setup, a lab problem) would
/// otherwise spend the whole budget on nothing. "The same way" is the same status and reason
/// with its numbers left out (`signal-to-noise ratio 3.2` and `3.4` are one cause). An
/// `infeasible` experiment measured fine, and a failed synthesis a table records is a result:
/// neither counts. The default of `budget { repeated_failures N }`.
pub const REPEATED_FAILURES: usize = Budget::DEFAULT_REPEATED_FAILURES as usize;

/// A finished experiment, as the loop remembers it (the record itself is the journal's).
#[derive(Debug, Clone, PartialEq)]
struct Done {
    experiment: u64,
    point: Vec<f64>,
    outcome: Outcome,
}

impl Done {
    fn observation(&self, c: &Campaign) -> opt::Observation {
        self.outcome.observation(c, &self.point)
    }

    /// What the optimizer is told of it: one observation, or one per reading of a ramp.
    fn observations(&self, c: &Campaign) -> Vec<opt::Observation> {
        self.outcome.observations(c, &self.point)
    }
}

/// A journaled experiment a resumed run replays.
#[derive(Debug, Clone)]
struct Replayed {
    experiment: u64,
    values: Vec<f64>,
    /// What the journal's `measured` record holds.
    measured: Option<Outcome>,
}

/// An operation a fault policy may try again.
#[derive(Debug, Clone)]
enum RetryOp {
    /// Send a command again.
    Send(DeviceId, Command),
    HeaterStatus(DeviceId),
    Nothing,
}

/// What a device fault leads to.
#[derive(Debug, Clone, PartialEq)]
enum FaultOutcome {
    /// The operation eventually succeeded.
    Recovered,
    /// Skip the experiment; the run goes on.
    Skip(String),
    /// Stop the run (after the safe state); resumable.
    Stop(String),
}

/// The state of a run in progress.
pub struct Run<'c> {
    c: &'c Campaign,
    /// The campaign's plan, computed once when the run starts.
    plan: crate::plan::Plan,
    lab: Lab,
    journal: Journal,
    dir: PathBuf,
    state: LabState,
    calibration: Calibration,
    wall: crate::files::wall::WallLog,
    progress: progress::Shown,
    /// Clock time when this process started, relative to the journal's time line.
    offset: f64,
    /// Experiments to replay before going live (resume).
    replay: Vec<Replayed>,
    replaying: bool,
    outcomes: Vec<Done>,
    /// The settings in effect when the current experiment's measurement began.
    measured_settings: Option<BTreeMap<DerivedId, f64>>,
    /// What each device was last told (every command sent, journaled or replayed).
    in_effect: InEffect,
    reagent_used: f64,
    stock_used: BTreeMap<String, f64>,
    next_experiment: u64,
    batch: u64,
    /// For a resumed run: the journal records made void by the interruption, to note once
    /// the replay ends.
    resume_marker: Option<(u64, u64)>,
    halt_after: Option<u64>,
    /// The dark and reference spectra are in `calibration` (taken, or read back on resume).
    calibrated: bool,
    /// Calibrations taken so far in this bundle (the next one's round number).
    calibrations: u64,
    /// Run time of the calibration in effect, s (`blank { every … }` counts from it).
    calibrated_at: f64,
    /// The run stopped early and stays resumable.
    halted: bool,
    /// The run stopped on [`REPEATED_FAILURES`] identical failures.
    repeated_failure: bool,
    sync_each: bool,
    /// What each syringe really holds (m³), from the commands sent and the clock: the planner
    /// starts every experiment from this, not from its own estimates.
    syringes: BTreeMap<DeviceId, f64>,
    /// Each pump's current rate and since when (clock seconds).
    flows: BTreeMap<DeviceId, (f64, f64)>,
    /// An optimizer given by the caller instead of the campaign's (`run_with`).
    strategy: Option<Box<dyn opt::Strategy>>,
    /// Problems a keep-alive poll heard during a wait (an alarm is answered once, so it is
    /// kept here), handled with the fault policy at the next pump check.
    heard: BTreeMap<DeviceId, DeviceError>,
    /// With a transient measurement: the current experiment's rate commands and acquisitions
    /// as journaled, with their times (rebuilt the same way when a resumed run replays), from
    /// which `crate::transient::map` derives each spectrum's conditions.
    ramp_events: Vec<(f64, Event)>,
    /// The reactor's parallel lines (`lines a, b`), by index: `None` for the line whose lab
    /// and state are in the fields above (`line`), the others parked. One entry without lines.
    rigs: Vec<Option<Rig>>,
    /// The line the fields above belong to.
    line: usize,
}

/// One parallel line's lab and what the run knows of it, parked while another line runs
/// ([`Run::switch_to`]). Each line has its own clock: a batch's experiments start together
/// (`Run::align_lines`), so a line's experiment runs in the same lab time as the others'.
struct Rig {
    lab: Lab,
    state: LabState,
    in_effect: InEffect,
    syringes: BTreeMap<DeviceId, f64>,
    flows: BTreeMap<DeviceId, (f64, f64)>,
    heard: BTreeMap<DeviceId, DeviceError>,
    calibration: Calibration,
    calibrated: bool,
    calibrated_at: f64,
}

impl Rig {
    fn new(c: &Campaign, lab: Lab) -> Rig {
        let state = LabState::initial(c);
        Rig {
            lab,
            syringes: state.syringe_left.clone(),
            state,
            in_effect: InEffect::default(),
            flows: BTreeMap::new(),
            heard: BTreeMap::new(),
            calibration: Calibration::default(),
            calibrated: false,
            calibrated_at: 0.0,
        }
    }
}

impl Run<'_> {
    /// Gives each parallel line after the first its own simulated lab, on a clock of its own.
    /// A campaign without lines, or a lab that is not simulated, keeps its one lab.
    fn add_lines(&mut self) -> Result<(), RunError> {
        let c = self.c;
        if c.topology.lines.len() < 2 || self.lab.kind != LabKind::Simulated {
            return Ok(());
        }
        for k in 1..c.topology.lines.len() {
            let clock: std::sync::Arc<dyn Clock> =
                std::sync::Arc::new(qdx_lab::VirtualClock::new());
            let lab = Lab::simulated_line(c, clock, k).map_err(RunError::SimulatedLab)?;
            self.rigs.push(Some(Rig::new(c, lab)));
        }
        Ok(())
    }

    /// The name of the line the run's fields belong to, with parallel lines.
    fn line_name(&self) -> Option<String> {
        (self.rigs.len() > 1)
            .then(|| self.c.topology.lines.get(self.line).map(|l| l.name.clone()))
            .flatten()
    }

    /// Makes line `k` the one the run's fields (lab, state, calibration) belong to.
    fn switch_to(&mut self, k: usize) {
        if k == self.line {
            return;
        }
        let Some(mut rig) = self.rigs.get_mut(k).and_then(Option::take) else {
            return;
        };
        std::mem::swap(&mut self.lab, &mut rig.lab);
        std::mem::swap(&mut self.state, &mut rig.state);
        std::mem::swap(&mut self.in_effect, &mut rig.in_effect);
        std::mem::swap(&mut self.syringes, &mut rig.syringes);
        std::mem::swap(&mut self.flows, &mut rig.flows);
        std::mem::swap(&mut self.heard, &mut rig.heard);
        std::mem::swap(&mut self.calibration, &mut rig.calibration);
        std::mem::swap(&mut self.calibrated, &mut rig.calibrated);
        std::mem::swap(&mut self.calibrated_at, &mut rig.calibrated_at);
        if let Some(slot) = self.rigs.get_mut(self.line) {
            *slot = Some(rig);
        }
        self.line = k;
    }

    /// Brings every line's clock to the latest of them: the optimizer hears a batch when its
    /// last experiment ends, so the next batch starts on every line at that time.
    async fn align_lines(&mut self) {
        if self.rigs.len() < 2 {
            return;
        }
        let parked = || self.rigs.iter().flatten().map(|r| r.lab.clock.now());
        let latest = parked()
            .chain([self.lab.clock.now()])
            .max()
            .unwrap_or_default();
        for clock in self
            .rigs
            .iter()
            .flatten()
            .map(|r| r.lab.clock.clone())
            .chain([self.lab.clock.clone()])
        {
            let behind = latest.saturating_sub(clock.now());
            if !behind.is_zero() {
                clock.sleep(behind).await;
            }
        }
    }
}

impl std::fmt::Debug for Run<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("dir", &self.dir)
            .field("experiments", &self.outcomes.len())
            .finish_non_exhaustive()
    }
}

/// The fault kind a policy names, for a device error on a device of a role. Every error
/// kind is matched, so a new one needs a decision here; what no fault kind describes is
/// [`Fault::Any`].
pub fn fault_kind(role: Role, e: &DeviceErrorKind) -> Fault {
    match e {
        DeviceErrorKind::Alarm(_) => match role {
            Role::Pump => Fault::PumpStall,
            Role::Heater => Fault::HeaterAlarm,
            _ => Fault::Any,
        },
        DeviceErrorKind::Empty(_) => match role {
            Role::Pump => Fault::PumpEmpty,
            _ => Fault::Any,
        },
        DeviceErrorKind::Timeout(_) => match role {
            Role::Pump => Fault::PumpTimeout,
            Role::Heater => Fault::HeaterTimeout,
            Role::Spectrometer => Fault::SpectrometerTimeout,
            _ => Fault::Any,
        },
        DeviceErrorKind::Disconnected(_) => Fault::DeviceDisconnected,
        DeviceErrorKind::Garbage(_) => Fault::GarbageReply,
        DeviceErrorKind::Refused(_)
        | DeviceErrorKind::OutOfEnvelope(_)
        | DeviceErrorKind::Io(_) => Fault::Any,
    }
}

impl<'c> Run<'c> {
    fn now(&self) -> f64 {
        self.offset + self.lab.clock.now().as_secs_f64()
    }

    fn log(&mut self, event: Event) -> Result<(), RunError> {
        if self.replaying {
            return Ok(());
        }
        let t = self.now();
        let record = self.journal.append(t, event)?;
        self.halt_point(record.seq)?;
        Ok(())
    }

    /// Crash tests stop here after a given record and wait for SIGKILL.
    fn halt_point(&mut self, seq: u64) -> Result<(), RunError> {
        if self.halt_after == Some(seq) {
            self.journal.sync()?;
            let _ = writeln!(
                std::io::stderr(),
                "qdx: halted after journal record {seq}, waiting to be killed"
            );
            loop {
                std::thread::park();
            }
        }
        Ok(())
    }

    /// Journals commands and makes them durable before they are sent (a replay sends them
    /// again without journaling them); what each device is told is in effect from here.
    fn log_commands(
        &mut self,
        experiment: Option<u64>,
        commands: Vec<(DeviceId, Command)>,
    ) -> Result<(), RunError> {
        for (device, command) in &commands {
            self.in_effect.apply(*device, command);
        }
        if self.sweeps() && experiment.is_some() {
            let t = self.now();
            for (device, command) in &commands {
                if matches!(
                    command,
                    Command::SetRate { .. } | Command::Stop | Command::Refill { .. }
                ) {
                    let device = self.device_name(*device);
                    self.ramp_events.push((
                        t,
                        Event::Command {
                            experiment,
                            device,
                            command: command.clone(),
                        },
                    ));
                }
            }
        }
        if self.replaying {
            return Ok(());
        }
        let mut written = Vec::new();
        for (device, command) in commands {
            let t = self.now();
            let record = self.journal.append(
                t,
                Event::Command {
                    experiment,
                    device: self.device_name(device),
                    command,
                },
            )?;
            written.push(record.seq);
        }
        // On hardware every record is already synced (`sync_each`). A simulated lab's
        // commands act on nothing physical: they are written to the OS (which keeps them
        // through a killed process) and synced with each finished experiment.
        if self.sync_each {
            self.journal.sync()?;
        }
        // A step's commands are journaled together; a crash test stops after the whole step.
        if let Some(seq) = self.halt_after.filter(|h| written.contains(h)) {
            self.halt_point(seq)?;
        }
        Ok(())
    }

    /// Whether the campaign's experiments read the cell as a sweep (a transient ramp, a
    /// droplet train), whose readings are mapped to conditions from the journaled flows.
    fn sweeps(&self) -> bool {
        self.c
            .measurement
            .as_ref()
            .is_some_and(|m| m.transient.is_some() || m.droplets.is_some())
    }

    /// The campaign's droplets measurement, if it has one.
    fn droplets(&self) -> Option<&Droplets> {
        self.c
            .measurement
            .as_ref()
            .and_then(|m| m.droplets.as_ref())
    }

    /// The campaign's transient measurement, if it has one.
    fn transient(&self) -> Option<&Transient> {
        self.c
            .measurement
            .as_ref()
            .and_then(|m| m.transient.as_ref())
    }

    fn device_name(&self, id: DeviceId) -> String {
        self.c
            .devices
            .get(id)
            .map_or_else(|| format!("#{id}"), |d| d.name.clone())
    }

    fn policy(&self, fault: Fault) -> Vec<FaultAction> {
        let policies = &self.c.safety.policies;
        policies
            .iter()
            .find(|p| p.fault == fault)
            .or_else(|| policies.iter().find(|p| p.fault == Fault::Any))
            .map(|p| p.actions.clone())
            // Without a policy, a fault stops everything safely and ends the run (resumable).
            .unwrap_or_else(|| vec![FaultAction::StopAll, FaultAction::Abort])
    }

    /// Brings the lab to its safe state, best effort: every device is tried.
    ///
    /// The one place where commands are sent before they are journaled: stopping the lab must
    /// not depend on the disk (a full disk, a failed journal write). The commands and the
    /// outcome are journaled right after; a journal error is returned then, with every device
    /// already stopped.
    pub async fn safe_state(&mut self, reason: &str) -> Result<(), RunError> {
        let mut failures = Vec::new();
        let pumps: Vec<DeviceId> = self.lab.pumps.keys().copied().collect();
        let heaters: Vec<(DeviceId, f64)> = self
            .lab
            .heaters
            .keys()
            .map(|h| (*h, self.c.safety.safe_setpoint(*h)))
            .collect();
        for p in &pumps {
            if let Some(pump) = self.lab.pumps.get_mut(p)
                && let Err(e) = pump.stop().await
            {
                failures.push(e.to_string());
            }
        }
        for (h, k) in &heaters {
            if let Some(heater) = self.lab.heaters.get_mut(h)
                && let Err(e) = heater.set_setpoint(*k).await
            {
                failures.push(e.to_string());
            }
        }
        // Lights off too (a laser or a UV lamp left on is a hazard of its own).
        let lights: Vec<DeviceId> = self.lab.lights.keys().copied().collect();
        for l in &lights {
            if let Some(light) = self.lab.lights.get_mut(l)
                && let Err(e) = light.set(false).await
            {
                failures.push(e.to_string());
            }
        }
        for p in &pumps {
            self.state.rates.insert(*p, 0.0);
            self.track_flow(*p, Some(0.0));
        }
        for (h, k) in &heaters {
            self.state.setpoints.insert(*h, *k);
        }
        let mut commands: Vec<(DeviceId, Command)> =
            pumps.iter().map(|p| (*p, Command::Stop)).collect();
        for (h, k) in &heaters {
            commands.push((*h, Command::SetSetpoint { kelvin: *k }));
        }
        commands.extend(lights.iter().map(|l| (*l, Command::SetLight { on: false })));
        self.log_commands(None, commands)?;
        self.log(Event::SafeState {
            reason: reason.to_owned(),
            failures,
        })
    }

    /// Applies the fault policy to a failed device call; `attempt` retries the call.
    async fn on_fault(
        &mut self,
        experiment: Option<u64>,
        device: DeviceId,
        error: &DeviceError,
        attempt: &RetryOp,
    ) -> Result<FaultOutcome, RunError> {
        let role = self.c.devices.get(device).map_or(Role::Pump, |d| d.role);
        let fault = fault_kind(role, &error.kind);
        let actions = self.policy(fault);
        let mut last = error.clone();
        for action in actions {
            match action {
                FaultAction::Retry { times, backoff } => {
                    for k in 0..times {
                        self.log(Event::Fault {
                            experiment,
                            device: self.device_name(device),
                            fault: fault.name().to_owned(),
                            message: last.to_string(),
                            action: format!("retry {} of {times}", k + 1),
                        })?;
                        self.idle(backoff * f64::from(1_u32 << k.min(10))).await?;
                        match self.retry_op(attempt).await {
                            Ok(()) => return Ok(FaultOutcome::Recovered),
                            Err(e) => last = e,
                        }
                    }
                }
                FaultAction::Continue => {
                    self.log(Event::Fault {
                        experiment,
                        device: self.device_name(device),
                        fault: fault.name().to_owned(),
                        message: last.to_string(),
                        action: "continue".into(),
                    })?;
                    return Ok(FaultOutcome::Recovered);
                }
                FaultAction::StopAll => {
                    self.log(Event::Fault {
                        experiment,
                        device: self.device_name(device),
                        fault: fault.name().to_owned(),
                        message: last.to_string(),
                        action: "stop_all".into(),
                    })?;
                    self.safe_state(&format!("{fault} on {}", self.device_name(device)))
                        .await?;
                }
                FaultAction::SkipExperiment => {
                    self.log(Event::Fault {
                        experiment,
                        device: self.device_name(device),
                        fault: fault.name().to_owned(),
                        message: last.to_string(),
                        action: "skip_experiment".into(),
                    })?;
                    return Ok(FaultOutcome::Skip(format!("{fault}: {last}")));
                }
                FaultAction::Pause | FaultAction::Abort => {
                    let what = if action == FaultAction::Pause {
                        "pause"
                    } else {
                        "abort"
                    };
                    self.log(Event::Fault {
                        experiment,
                        device: self.device_name(device),
                        fault: fault.name().to_owned(),
                        message: last.to_string(),
                        action: what.into(),
                    })?;
                    self.safe_state(&format!("{fault} on {}", self.device_name(device)))
                        .await?;
                    return Ok(FaultOutcome::Stop(format!(
                        "{what} after {fault} on {}: {last}",
                        self.device_name(device)
                    )));
                }
            }
        }
        // Retries exhausted without a following action: stop safely.
        self.safe_state(&format!("{fault} on {}", self.device_name(device)))
            .await?;
        Ok(FaultOutcome::Stop(format!(
            "{fault} on {}: {last}",
            self.device_name(device)
        )))
    }

    /// Accounts a pump's flow up to now, then records its new rate (`None`: refilled full).
    fn track_flow(&mut self, device: DeviceId, rate: Option<f64>) {
        let now = self.now();
        let (old, since) = self.flows.get(&device).copied().unwrap_or((0.0, now));
        if let Some(left) = self.syringes.get_mut(&device) {
            *left = (*left - old * (now - since)).max(0.0);
        }
        match rate {
            Some(r) => {
                self.flows.insert(device, (r, now));
            }
            None => {
                if let Some(cap) = self.c.devices.get(device).and_then(Device::syringe) {
                    self.syringes.insert(device, cap);
                }
                self.flows.insert(device, (0.0, now));
            }
        }
    }

    /// The syringe levels as they are now, for the planner.
    pub(crate) fn settle_flows(&mut self) {
        let devices: Vec<(DeviceId, f64)> = self.flows.iter().map(|(d, (r, _))| (*d, *r)).collect();
        for (d, r) in devices {
            self.track_flow(d, Some(r));
        }
        for (d, left) in &self.syringes {
            self.state.syringe_left.insert(*d, *left);
        }
    }

    /// Tries an operation again (for retry policies).
    async fn retry_op(&mut self, op: &RetryOp) -> Result<(), DeviceError> {
        let clock = self.lab.clock.clone();
        let keepalive = self.lab.keepalive;
        match op {
            RetryOp::Send(device, command) => match command {
                Command::SetRate { .. } | Command::Stop | Command::Refill { .. } => {
                    let name = self.c.devices.get(*device).map_or("", |d| d.name.as_str());
                    match self.lab.pumps.get_mut(device) {
                        Some(p) => {
                            pump_command(p.as_mut(), name, clock.as_ref(), keepalive, command).await
                        }
                        None => Ok(()),
                    }
                }
                Command::SetSetpoint { kelvin } => match self.lab.heaters.get_mut(device) {
                    Some(h) => h.set_setpoint(*kelvin).await,
                    None => Ok(()),
                },
                Command::SetPosition { position, .. } => match self.lab.valves.get_mut(device) {
                    Some(v) => v.set_position(*position).await,
                    None => Ok(()),
                },
                Command::Acquire { .. } | Command::Discard { .. } => {
                    match (self.lab.spectrometers.get_mut(device), command.request()) {
                        (Some(s), Some(request)) => s.discard(&request).await,
                        _ => Ok(()),
                    }
                }
                Command::SetLight { on } => match self.lab.lights.get_mut(device) {
                    Some(l) => l.set(*on).await,
                    None => Ok(()),
                },
                Command::MoveProbe { coil, volume, .. } => {
                    match self.lab.spectrometers.get_mut(device) {
                        Some(s) => s.move_probe(coil, *volume).await,
                        None => Ok(()),
                    }
                }
            },
            RetryOp::HeaterStatus(device) => match self.lab.heaters.get_mut(device) {
                Some(h) => h.status().await.map(|_| ()),
                None => Ok(()),
            },
            RetryOp::Nothing => Ok(()),
        }
    }

    /// The calibration ([`crate::plan::experiment::calibration`]): the blank through the cell
    /// (or the solvent the cell holds when the run starts, without a `blank` line), dark and
    /// reference spectra, and the reference dye measured against them. A device fault follows
    /// the fault policies (a retry takes the spectrum again); returns why the run stops when a
    /// policy stops it (skipping is stopping: nothing can be measured without a calibration).
    /// Taken again every `blank { every … }`: `round` numbers the calibrations of a run from 0.
    async fn calibrate(&mut self) -> Result<Option<String>, RunError> {
        use crate::plan::experiment::Kept;
        let Some(m) = self.c.measurement.clone() else {
            return Ok(None);
        };
        let Some(spec) = m.spectrometer else {
            return Ok(None);
        };
        let round = self.calibrations;
        let failed = |why: String| Ok(Some(format!("calibration failed: {why}")));
        // Between experiments the last experiment's pumps still run: the lines run alone.
        let running: Vec<(DeviceId, Command)> = self
            .state
            .rates
            .iter()
            .filter(|(_, r)| **r > 0.0)
            .map(|(p, _)| (*p, Command::Stop))
            .collect();
        if m.blank.is_some() && !running.is_empty() {
            match self.settings(None, &running).await? {
                None | Some(FaultOutcome::Recovered) => {}
                Some(FaultOutcome::Skip(why) | FaultOutcome::Stop(why)) => return failed(why),
            }
        }
        let mut files = Vec::new();
        let mut dye: BTreeMap<ChannelKind, Spectrum> = BTreeMap::new();
        for (kept, channel, op) in crate::plan::experiment::calibration(self.c) {
            let (device, command) = match op {
                Operation::Send { device, command } => (device, command),
                Operation::WaitLight { device, seconds } => {
                    self.idle(seconds).await?;
                    let why = format!("{} settles after switching", self.device_name(device));
                    self.log(Event::Waited {
                        experiment: None,
                        why,
                        seconds,
                    })?;
                    continue;
                }
                Operation::WaitSteadyState {
                    volumes,
                    residence,
                    extra,
                    ..
                } => {
                    let seconds = volumes * residence + extra;
                    self.idle(seconds).await?;
                    let what = match kept {
                        Kept::Blank => "the blank",
                        Kept::Dye => "the reference dye",
                    };
                    self.log(Event::Waited {
                        experiment: None,
                        why: format!(
                            "{what} through the cell: {} reactor volumes",
                            qdx_units::format_number(volumes)
                        ),
                        seconds,
                    })?;
                    continue;
                }
                _ => continue,
            };
            let illumination = match &command {
                Command::Acquire { illumination, .. } => *illumination,
                Command::SetRate { .. } | Command::Stop => {
                    match self.settings(None, &[(device, command)]).await? {
                        None | Some(FaultOutcome::Recovered) => continue,
                        Some(FaultOutcome::Skip(why) | FaultOutcome::Stop(why)) => {
                            return failed(why);
                        }
                    }
                }
                _ => match self.sequenced(None, device, command).await? {
                    None | Some(FaultOutcome::Recovered) => continue,
                    Some(FaultOutcome::Skip(why) | FaultOutcome::Stop(why)) => {
                        return failed(why);
                    }
                },
            };
            let s = match self.acquire(None, spec, command).await? {
                Ok(s) => s,
                Err(FaultOutcome::Skip(why) | FaultOutcome::Stop(why)) => return failed(why),
                Err(FaultOutcome::Recovered) => continue,
            };
            let what = match (kept, illumination) {
                (Kept::Dye, _) => "dye",
                (Kept::Blank, Illumination::Dark) => "dark",
                (Kept::Blank, _) => "reference",
            };
            let file = crate::files::spectrum::calibration_file(round, channel, what);
            self.write_spectrum(&file, &s)?;
            files.push(file);
            match (kept, illumination) {
                (Kept::Dye, _) => {
                    let processed = measure::process(channel, &s, &self.calibration)
                        .map_err(|why| format!("the reference dye's {}: {why}", channel.name()));
                    match processed {
                        Ok(p) => {
                            dye.insert(channel, p);
                        }
                        Err(why) => return failed(why),
                    }
                }
                (Kept::Blank, Illumination::Dark) => {
                    self.calibration.dark.insert(channel, s);
                }
                (Kept::Blank, _) => self.calibration.reference = Some(s),
            }
        }
        let mut dyes = BTreeMap::new();
        for p in &self.c.proxies {
            let ProxyDefinition::Builtin {
                function:
                    SpectralFunction::RelativePlqy {
                        reference: d,
                        excitation,
                        sample_index,
                        ..
                    },
            } = &p.definition
            else {
                continue;
            };
            if dyes.contains_key(&d.name) {
                continue;
            }
            if m.reference_dye.is_some() {
                // Measured in this instrument, against this blank.
                let (Some(pl), Some(abs)) = (
                    dye.get(&ChannelKind::Photoluminescence),
                    dye.get(&ChannelKind::Absorbance),
                ) else {
                    return failed(format!(
                        "{} needs the reference dye read in both channels",
                        p.name
                    ));
                };
                match qdx_spectra::DyeCalibration::measure(pl, abs, excitation * 1e9) {
                    Ok(cal) => {
                        dyes.insert(d.name.clone(), cal);
                    }
                    Err(e) => return failed(format!("the reference dye {}: {e}", d.name)),
                }
            } else if let Some(sim) = &self.lab.sim {
                // No dye line: the simulated lab computes what the dye would give.
                let pl = m
                    .channels
                    .iter()
                    .find(|c| c.kind == ChannelKind::Photoluminescence)
                    .map_or(0.1, |c| c.integration);
                let reference = qdx_spectra::ReferenceDye::new(
                    d.name.clone(),
                    d.quantum_yield,
                    d.refractive_index,
                );
                if let Ok(cal) = sim.reference_calibration(
                    &self.device_name(spec),
                    &reference,
                    0.05,
                    *sample_index,
                    pl,
                ) {
                    dyes.insert(d.name.clone(), cal);
                }
            }
        }
        self.calibration.dyes.clone_from(&dyes);
        self.calibrated = true;
        self.calibrations += 1;
        self.calibrated_at = self.now();
        self.log(Event::Calibrated {
            line: self.line_name(),
            files,
            dyes,
        })?;
        Ok(None)
    }

    /// Journals and sends a light switch or a discarded scan (in order with the
    /// acquisitions). A fault follows the policies, as for any command.
    async fn sequenced(
        &mut self,
        experiment: Option<u64>,
        device: DeviceId,
        command: Command,
    ) -> Result<Option<FaultOutcome>, RunError> {
        self.log_commands(experiment, vec![(device, command.clone())])?;
        let name = self.device_name(device);
        let sent = match &command {
            Command::SetLight { on } => match self.lab.lights.get_mut(&device) {
                Some(l) => l.set(*on).await,
                None => {
                    return Ok(Some(FaultOutcome::Skip(format!(
                        "the lab has no light `{name}`"
                    ))));
                }
            },
            Command::Discard { .. } => {
                match (self.lab.spectrometers.get_mut(&device), command.request()) {
                    (Some(s), Some(request)) => s.discard(&request).await,
                    _ => {
                        return Ok(Some(FaultOutcome::Skip(format!(
                            "the lab has no spectrometer `{name}`"
                        ))));
                    }
                }
            }
            Command::MoveProbe { coil, volume, .. } => {
                match self.lab.spectrometers.get_mut(&device) {
                    Some(s) => s.move_probe(coil, *volume).await,
                    None => {
                        return Ok(Some(FaultOutcome::Skip(format!(
                            "the lab has no spectrometer `{name}`"
                        ))));
                    }
                }
            }
            other => {
                return Ok(Some(FaultOutcome::Skip(format!(
                    "{other:?} is not sent in sequence"
                ))));
            }
        };
        match sent {
            Ok(()) => Ok(None),
            Err(e) => Ok(Some(
                self.on_fault(experiment, device, &e, &RetryOp::Send(device, command))
                    .await?,
            )),
        }
    }

    /// Journals and sends an acquisition. A fault follows the policies: after a retry that
    /// worked, a fresh spectrum is taken (the retry's is not kept); otherwise the error says
    /// why the experiment (or the run) cannot go on, with the policy's verdict.
    async fn acquire(
        &mut self,
        experiment: Option<u64>,
        device: DeviceId,
        command: Command,
    ) -> Result<Result<Spectrum, FaultOutcome>, RunError> {
        let Some(request) = command.request() else {
            return Ok(Err(FaultOutcome::Skip(format!(
                "{command:?} is not an acquisition"
            ))));
        };
        self.log_commands(experiment, vec![(device, command.clone())])?;
        let name = self.device_name(device);
        let Some(spectrometer) = self.lab.spectrometers.get_mut(&device) else {
            return Ok(Err(FaultOutcome::Skip(format!(
                "the lab has no spectrometer `{name}`"
            ))));
        };
        let e = match spectrometer.acquire(&request).await {
            Ok(s) => return Ok(Ok(s)),
            Err(e) => e,
        };
        match self
            .on_fault(experiment, device, &e, &RetryOp::Send(device, command))
            .await?
        {
            FaultOutcome::Recovered => match self.lab.spectrometers.get_mut(&device) {
                Some(s) => Ok(s
                    .acquire(&request)
                    .await
                    .map_err(|e| FaultOutcome::Skip(e.to_string()))),
                None => Ok(Err(FaultOutcome::Skip(format!(
                    "the lab has no spectrometer `{name}`"
                )))),
            },
            other => Ok(Err(other)),
        }
    }

    /// Writes a transient ramp's readings of `channel` so far as `file` (and its axis), whole
    /// and atomically: see [`crate::files::stack`].
    fn write_stack(
        &self,
        file: &str,
        channel: ChannelKind,
        readings: &BTreeMap<u32, Spectrum>,
    ) -> Result<(), RunError> {
        if self.replaying {
            return Ok(());
        }
        let path = self.dir.join(file);
        let (stack, axis) =
            crate::files::stack::encode(readings).map_err(|why| RunError::Stack {
                file: file.to_owned(),
                why,
            })?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        crate::files::write_atomic(&path, &stack).map_err(io_error(&path))?;
        let axis_path = self.dir.join(crate::files::stack::axis_file(file, channel));
        crate::files::write_atomic(&axis_path, &axis).map_err(io_error(&axis_path))
    }

    fn write_spectrum(&self, file: &str, s: &Spectrum) -> Result<(), RunError> {
        if self.replaying {
            return Ok(());
        }
        let path = self.dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        std::fs::write(&path, crate::files::spectrum::write(s)).map_err(io_error(&path))
    }

    /// Runs one planned step's settings: commands to independent devices in parallel.
    async fn run_settings(
        &mut self,
        experiment: Option<u64>,
        commands: &[(DeviceId, Command)],
    ) -> Result<Option<FaultOutcome>, RunError> {
        self.log_commands(experiment, commands.to_vec())?;
        let by_device: BTreeMap<DeviceId, &Command> =
            commands.iter().map(|(d, c)| (*d, c)).collect();
        // Each device gets its own future; they run concurrently.
        let mut results: Vec<(DeviceId, Result<(), DeviceError>)> = Vec::new();
        {
            let clock = self.lab.clock.clone();
            let mut futures: Vec<
                futures::future::BoxFuture<'_, (DeviceId, Result<(), DeviceError>)>,
            > = Vec::new();
            // A refill takes minutes; the pumps it leaves idle are kept talking to meanwhile.
            let refill_time = commands
                .iter()
                .filter_map(|(_, c)| match c {
                    Command::Refill { volume, rate } => Some(volume / rate.max(f64::MIN_POSITIVE)),
                    _ => None,
                })
                .fold(0.0, f64::max);
            let keepalive = self.lab.keepalive;
            for (id, pump) in self.lab.pumps.iter_mut() {
                let id = *id;
                let clock = clock.clone();
                let name = self
                    .c
                    .devices
                    .get(id)
                    .map_or_else(String::new, |d| d.name.clone());
                let Some(command) = by_device.get(&id).copied().cloned() else {
                    if let Some(every) = keepalive.filter(|_| refill_time > 0.0) {
                        // An absurd refill is refused by the refill itself; nothing to hold.
                        if let Some(time) = checked_wait(refill_time) {
                            futures.push(Box::pin(async move {
                                let r =
                                    hold(pump.as_mut(), &name, clock.as_ref(), Some(every), time);
                                (id, r.await)
                            }));
                        }
                    }
                    continue;
                };
                futures.push(Box::pin(async move {
                    let r = pump_command(pump.as_mut(), &name, clock.as_ref(), keepalive, &command)
                        .await;
                    (id, r)
                }));
            }
            for (id, heater) in self.lab.heaters.iter_mut() {
                let Some(Command::SetSetpoint { kelvin }) = by_device.get(id).copied().cloned()
                else {
                    continue;
                };
                let id = *id;
                futures.push(Box::pin(
                    async move { (id, heater.set_setpoint(kelvin).await) },
                ));
            }
            for (id, valve) in self.lab.valves.iter_mut() {
                let Some(Command::SetPosition { position, .. }) =
                    by_device.get(id).copied().cloned()
                else {
                    continue;
                };
                let id = *id;
                futures.push(Box::pin(
                    async move { (id, valve.set_position(position).await) },
                ));
            }
            for r in futures::future::join_all(futures).await {
                results.push(r);
            }
        }
        for (device, result) in results {
            if let Err(e) = result {
                let retry = match by_device.get(&device) {
                    Some(command) => RetryOp::Send(device, (*command).clone()),
                    None => RetryOp::Nothing,
                };
                match self.on_fault(experiment, device, &e, &retry).await? {
                    FaultOutcome::Recovered => {}
                    other => return Ok(Some(other)),
                }
            }
        }
        Ok(None)
    }

    /// Sends settings ([`Run::run_settings`]) and, unless a policy skips or stops, records
    /// them as the lab's state: rates, setpoints, positions and the flows the syringes drain by.
    async fn settings(
        &mut self,
        experiment: Option<u64>,
        commands: &[(DeviceId, Command)],
    ) -> Result<Option<FaultOutcome>, RunError> {
        let outcome = self.run_settings(experiment, commands).await?;
        if let Some(FaultOutcome::Skip(_) | FaultOutcome::Stop(_)) = outcome {
            return Ok(outcome);
        }
        for (device, command) in commands {
            self.state.apply(*device, command);
            match command {
                Command::SetRate { rate } => self.track_flow(*device, Some(*rate)),
                Command::Stop => self.track_flow(*device, Some(0.0)),
                Command::Refill { .. } => self.track_flow(*device, None),
                _ => {}
            }
        }
        Ok(outcome)
    }

    /// Asks every pump that should be running whether it is, without an alarm; a fault
    /// follows the policies (a retry sets the rate and starts the pump again).
    async fn check_pumps(&mut self, experiment: u64) -> Result<Option<FaultOutcome>, RunError> {
        let running: Vec<(DeviceId, f64)> = self
            .state
            .rates
            .iter()
            .filter(|(_, r)| **r > 0.0)
            .map(|(d, r)| (*d, *r))
            .collect();
        // What the keep-alive polls heard during the waits comes first.
        for (device, e) in std::mem::take(&mut self.heard) {
            let again = match running.iter().find(|(d, _)| *d == device) {
                Some(&(device, rate)) => RetryOp::Send(device, Command::SetRate { rate }),
                None => RetryOp::Nothing,
            };
            match self.on_fault(Some(experiment), device, &e, &again).await? {
                FaultOutcome::Recovered => {}
                other => return Ok(Some(other)),
            }
        }
        for (device, rate) in running {
            let Some(pump) = self.lab.pumps.get_mut(&device) else {
                continue;
            };
            let problem = match pump.status().await {
                Ok(s) => match s.alarm {
                    Some(alarm) => Some(DeviceErrorKind::Alarm(alarm)),
                    None if !s.running => Some(DeviceErrorKind::Alarm(
                        "the pump stopped while it should run".into(),
                    )),
                    None => None,
                },
                Err(e) => Some(e.kind),
            };
            if let Some(kind) = problem {
                let e = DeviceError::new(self.device_name(device), kind);
                let again = RetryOp::Send(device, Command::SetRate { rate });
                match self.on_fault(Some(experiment), device, &e, &again).await? {
                    FaultOutcome::Recovered => {}
                    other => return Ok(Some(other)),
                }
            }
        }
        Ok(None)
    }

    /// Lets `seconds` of lab time pass. Pumps in safe mode stop themselves when they hear
    /// nothing for their timeout, so with [`Lab::keepalive`] set the wait is cut into slices
    /// no longer than it and every pump is polled after each slice.
    async fn idle(&mut self, seconds: f64) -> Result<(), RunError> {
        let time = wait_time(seconds, "a wait")?;
        let Some(every) = self.lab.keepalive else {
            self.lab.clock.sleep(time).await;
            return Ok(());
        };
        let mut left = time;
        while !left.is_zero() {
            let slice = left.min(every);
            self.lab.clock.sleep(slice).await;
            left -= slice;
            self.progress.waiting(left.as_secs_f64());
            for (id, pump) in self.lab.pumps.iter_mut() {
                if self.heard.contains_key(id) {
                    continue; // already in trouble: do not wait on it again
                }
                let name = self.c.devices.get(*id).map_or("", |d| d.name.as_str());
                if let Err(e) = keep_alive(pump.as_mut(), name).await {
                    self.heard.entry(*id).or_insert(e);
                }
            }
        }
        Ok(())
    }

    /// Waits until a heater is within the band of its setpoint for the hold time.
    async fn wait_thermal(
        &mut self,
        experiment: u64,
        heater: DeviceId,
        within: f64,
        hold: f64,
    ) -> Result<Option<FaultOutcome>, RunError> {
        let setpoint = self.state.setpoints.get(&heater).copied();
        let tau = self
            .c
            .devices
            .get(heater)
            .map_or(60.0, Device::time_constant);
        let poll = (tau / 20.0).clamp(1.0, 10.0);
        // Give up after the settling a first-order system needs from the far end of its range.
        let patience = wait_time(
            tau * 12.0 + hold + 60.0,
            &format!("{} to settle", self.device_name(heater)),
        )?;
        let deadline = self.lab.clock.now().saturating_add(patience);
        let started = self.now();
        let mut within_since: Option<Duration> = None;
        loop {
            let status = match self.lab.heaters.get_mut(&heater) {
                Some(h) => h.status().await,
                None => return Ok(None),
            };
            let status = match status {
                Ok(s) => s,
                Err(e) => {
                    match self
                        .on_fault(Some(experiment), heater, &e, &RetryOp::HeaterStatus(heater))
                        .await?
                    {
                        FaultOutcome::Recovered => continue,
                        other => return Ok(Some(other)),
                    }
                }
            };
            let target = setpoint.unwrap_or(status.setpoint);
            let now = self.lab.clock.now();
            if (status.temperature - target).abs() <= within {
                let since = *within_since.get_or_insert(now);
                if (now - since).as_secs_f64() >= hold {
                    break;
                }
            } else {
                within_since = None;
            }
            if now > deadline {
                let e = DeviceError::new(
                    self.device_name(heater),
                    DeviceErrorKind::Alarm("the temperature did not settle".into()),
                );
                return match self
                    .on_fault(Some(experiment), heater, &e, &RetryOp::Nothing)
                    .await?
                {
                    FaultOutcome::Recovered => Ok(None),
                    other => Ok(Some(other)),
                };
            }
            self.idle(poll).await?;
        }
        let waited = self.now() - started;
        self.log(Event::Waited {
            experiment: Some(experiment),
            why: format!(
                "{} settled within {} for {} s",
                self.device_name(heater),
                self.c
                    .measurement
                    .as_ref()
                    .map_or_else(|| DisplayUnit::of("K"), |m| m.settle_unit.clone())
                    .format(within),
                qdx_units::format_number(hold)
            ),
            seconds: waited,
        })?;
        self.state.temperatures.insert(
            heater,
            setpoint.unwrap_or(crate::validate::campaign::AMBIENT_K),
        );
        Ok(None)
    }

    /// Runs one experiment: its steps, then the measurement and the proxies.
    async fn experiment(
        &mut self,
        plan: &ExperimentPlan,
    ) -> Result<Result<Outcome, String>, RunError> {
        let id = plan.id;
        // By probe point (`None` without a probe), then channel.
        let mut spectra: BTreeMap<Option<u32>, BTreeMap<ChannelKind, Vec<Spectrum>>> =
            BTreeMap::new();
        // The residence time at each probe point when the probe moved there.
        let mut residence: BTreeMap<u32, f64> = BTreeMap::new();
        let mut readings = BTreeMap::new();
        self.measured_settings = None;
        self.ramp_events.clear();
        // With a transient measurement, by reading of the ramp, then channel.
        let mut ramp_spectra: BTreeMap<u32, BTreeMap<ChannelKind, Vec<Spectrum>>> = BTreeMap::new();
        // …and as acquired (raw counts), by channel then reading, for the bundle's arrays.
        let mut ramp_raw: BTreeMap<ChannelKind, BTreeMap<u32, Spectrum>> = BTreeMap::new();
        // On hardware the pumps are asked, once per experiment before its spectra, whether
        // they still run: a stall during the steady-state wait would spoil the measurement.
        let mut pumps_checked = false;
        for step in &plan.steps {
            if !self.replaying {
                let wait = step.ops.iter().find_map(|op| match op {
                    Operation::WaitSteadyState {
                        volumes,
                        residence,
                        extra,
                        ..
                    } => Some(volumes * residence + extra),
                    _ => None,
                });
                self.progress.step(id, &step.why, wait);
            }
            let settings: Vec<(DeviceId, Command)> = step
                .ops
                .iter()
                .filter_map(Operation::setting)
                .map(|(d, c)| (d, c.clone()))
                .collect();
            if !settings.is_empty() {
                match self.settings(Some(id), &settings).await? {
                    None | Some(FaultOutcome::Recovered) => {}
                    Some(FaultOutcome::Skip(why)) => {
                        return Ok(Ok(self.failed(Status::Skipped, why)));
                    }
                    Some(FaultOutcome::Stop(why)) => return Ok(Err(why)),
                }
            }
            // A droplet's settings are those it was made with (the reagents running, the
            // carrier stopped), not the carrier's when the cell reads it.
            if let Some(d) = self.droplets()
                && settings
                    .iter()
                    .any(|(p, c)| *p == d.carrier && matches!(c, Command::Stop))
                && settings
                    .iter()
                    .any(|(_, c)| matches!(c, Command::SetRate { rate } if *rate > 0.0))
            {
                self.measuring();
            }
            for op in &step.ops {
                match op {
                    Operation::WaitThermal {
                        device,
                        within,
                        hold,
                    } => match self.wait_thermal(id, *device, *within, *hold).await? {
                        None | Some(FaultOutcome::Recovered) => {}
                        Some(FaultOutcome::Skip(why)) => {
                            return Ok(Ok(self.failed(Status::Skipped, why)));
                        }
                        Some(FaultOutcome::Stop(why)) => return Ok(Err(why)),
                    },
                    Operation::WaitSteadyState {
                        volumes,
                        residence,
                        extra,
                        ..
                    } => {
                        let seconds = volumes * residence + extra;
                        self.idle(seconds).await?;
                        self.log(Event::Waited {
                            experiment: Some(id),
                            why: step.why.clone(),
                            seconds,
                        })?;
                    }
                    Operation::Send {
                        device,
                        command:
                            command @ Command::Acquire {
                                illumination,
                                replicate,
                                point,
                                tick,
                                ..
                            },
                    } => {
                        let Some(channel) = crate::plan::command::channel(*illumination) else {
                            continue;
                        };
                        self.measuring();
                        if (!pumps_checked || !self.heard.is_empty())
                            && self.lab.kind == LabKind::Hardware
                        {
                            pumps_checked = true;
                            match self.check_pumps(id).await? {
                                None | Some(FaultOutcome::Recovered) => {}
                                Some(FaultOutcome::Skip(why)) => {
                                    return Ok(Ok(self.failed(Status::Skipped, why)));
                                }
                                Some(FaultOutcome::Stop(why)) => return Ok(Err(why)),
                            }
                        }
                        let raw = match self.acquire(Some(id), *device, command.clone()).await? {
                            Ok(s) => s,
                            Err(FaultOutcome::Stop(why)) => return Ok(Err(why)),
                            Err(FaultOutcome::Skip(why)) => {
                                return Ok(Ok(self.failed(Status::Skipped, why)));
                            }
                            Err(FaultOutcome::Recovered) => continue,
                        };
                        let file = match (point, tick) {
                            (Some(p), _) => {
                                crate::files::spectrum::point_file(id, *p, channel, *replicate)
                            }
                            (None, Some(_)) => crate::files::stack::stack_file(id, channel),
                            (None, None) => {
                                crate::files::spectrum::experiment_file(id, channel, *replicate)
                            }
                        };
                        match tick {
                            // A ramp's readings go into one array per channel.
                            Some(k) => {
                                let readings = ramp_raw.entry(channel).or_default();
                                readings.insert(*k, raw.clone());
                                self.write_stack(&file, channel, readings)?;
                            }
                            None => self.write_spectrum(&file, &raw)?,
                        }
                        let acquired = Event::Acquired {
                            experiment: id,
                            channel,
                            replicate: *replicate,
                            file,
                            point: *point,
                            tick: *tick,
                        };
                        if tick.is_some() {
                            self.ramp_events.push((self.now(), acquired.clone()));
                        }
                        self.log(acquired)?;
                        match measure::process(channel, &raw, &self.calibration) {
                            Ok(s) => match tick {
                                Some(k) => ramp_spectra
                                    .entry(*k)
                                    .or_default()
                                    .entry(channel)
                                    .or_default()
                                    .push(s),
                                None => spectra
                                    .entry(*point)
                                    .or_default()
                                    .entry(channel)
                                    .or_default()
                                    .push(s),
                            },
                            Err(why) => {
                                return Ok(Ok(self.failed(
                                    Status::Failed,
                                    format!("{}: {why}", channel.name()),
                                )));
                            }
                        }
                    }
                    Operation::Send {
                        device,
                        command: command @ Command::MoveProbe { point, .. },
                    } => {
                        if let Some(p) = self.c.measurement.as_ref().and_then(|m| m.probe.as_ref())
                            && let Some(t) = p
                                .residence_times(&self.c.topology, &self.state.rates)
                                .get(*point as usize)
                        {
                            residence.insert(*point, *t);
                        }
                        match self.sequenced(Some(id), *device, command.clone()).await? {
                            None | Some(FaultOutcome::Recovered) => {}
                            Some(FaultOutcome::Skip(why)) => {
                                return Ok(Ok(self.failed(Status::Skipped, why)));
                            }
                            Some(FaultOutcome::Stop(why)) => return Ok(Err(why)),
                        }
                    }
                    Operation::Send {
                        device,
                        command: command @ (Command::SetLight { .. } | Command::Discard { .. }),
                    } => match self.sequenced(Some(id), *device, command.clone()).await? {
                        None | Some(FaultOutcome::Recovered) => {}
                        Some(FaultOutcome::Skip(why)) => {
                            return Ok(Ok(self.failed(Status::Skipped, why)));
                        }
                        Some(FaultOutcome::Stop(why)) => return Ok(Err(why)),
                    },
                    Operation::WaitLight { device, seconds } => {
                        self.idle(*seconds).await?;
                        self.log(Event::Waited {
                            experiment: Some(id),
                            why: format!("{} settles after switching", self.device_name(*device)),
                            seconds: *seconds,
                        })?;
                    }
                    Operation::Hold { seconds } => {
                        self.idle(*seconds).await?;
                        self.log(Event::Waited {
                            experiment: Some(id),
                            why: step.why.clone(),
                            seconds: *seconds,
                        })?;
                    }
                    Operation::Read => {
                        self.measuring();
                        let inputs = self.lab.virtual_inputs(self.c, &plan.variables);
                        let result = match &self.lab.virtual_lab {
                            Some(lab::VirtualLab::Table { model, .. }) => model.evaluate(&inputs),
                            Some(lab::VirtualLab::Script(model)) => model.evaluate(&inputs),
                            None => Ok(BTreeMap::new()),
                        };
                        interrupted_script().await;
                        match result {
                            Ok(r) => readings = r,
                            Err(e @ qdx_sim::SimError::RecordedFailure(_)) => {
                                let mut outcome = self.failed(Status::Failed, e.to_string());
                                outcome.recorded = true;
                                return Ok(Ok(outcome));
                            }
                            Err(e) => return Ok(Ok(self.failed(Status::Failed, e.to_string()))),
                        }
                    }
                    _ => {}
                }
            }
        }
        let probe = self.c.measurement.as_ref().and_then(|m| m.probe.as_ref());
        let mut points = Vec::new();
        let mut point_failures: Vec<String> = Vec::new();
        let mut measured = (Vec::new(), Vec::new());
        // Without a probe the one reading; with one every point in order, the last read
        // for the objectives.
        let keys: Vec<Option<u32>> = match probe {
            Some(p) => (0..p.points.len())
                .map(|k| Some(u32::try_from(k).unwrap_or(u32::MAX)))
                .collect(),
            None => vec![None],
        };
        for (n, key) in keys.iter().enumerate() {
            let (proxies, failures) = self.reading_proxies(plan, spectra.get(key), &readings);
            interrupted_script().await;
            if let Some(k) = key {
                points.push(crate::record::PointOutcome {
                    residence: residence.get(k).copied().unwrap_or(f64::NAN),
                    proxies: proxies.clone(),
                });
                if n + 1 < keys.len() {
                    point_failures.extend(
                        failures
                            .iter()
                            .map(|(name, why)| format!("point {}: {name}: {why}", k + 1)),
                    );
                }
            }
            measured = (proxies, failures);
        }
        // A transient ramp: every reading's proxies at the conditions the journaled flows
        // map it to; the last reading's are the experiment's (like a probe's last point).
        let mut ticks = Vec::new();
        // The ramp this experiment ran: the plan's (a `span chosen` ramp starts at the value
        // the optimizer chose, which the mapping's equivalent values are scaled from).
        if let Some(t) = plan.transient.as_ref().or(self.transient()) {
            let mapped = crate::transient::map(
                self.c,
                t,
                id,
                self.ramp_events.iter().map(|(at, e)| (*at, e)),
            );
            for m in mapped {
                let (proxies, failures) =
                    self.reading_proxies(plan, ramp_spectra.get(&m.tick), &readings);
                interrupted_script().await;
                ticks.push(crate::record::TickOutcome {
                    tick: m.tick,
                    acquired: m.acquired,
                    entry: m.entry,
                    residence: m.residence,
                    spread: m.spread,
                    value: m.value,
                    proxies: proxies.clone(),
                });
                measured = (proxies, failures);
            }
        }
        // A droplet train: each droplet the journal says was made, the reading that saw it and
        // its proxies; the experiment's proxies are their mean over the detected droplets.
        let mut droplets = Vec::new();
        if let Some(d) = self.droplets() {
            let detected: BTreeMap<u32, f64> = ramp_spectra
                .iter()
                .filter_map(|(k, channels)| {
                    let s = measure::average(channels.get(&d.detect.channel)?)?;
                    let nm = d.detect.wavelength * 1e9;
                    Some((
                        *k,
                        qdx_spectra::process::interpolate(s.wavelength_nm(), s.values(), nm)?,
                    ))
                })
                .collect();
            let mapped = crate::droplet::map(
                self.c,
                d,
                id,
                self.ramp_events.iter().map(|(at, e)| (*at, e)),
                &detected,
            );
            let mut sums: Vec<(f64, u32)> = vec![(0.0, 0); self.c.proxies.len()];
            let mut failures = Vec::new();
            for droplet in mapped {
                let proxies = match droplet.tick {
                    Some(k) => {
                        let (proxies, why) =
                            self.reading_proxies(plan, ramp_spectra.get(&k), &readings);
                        interrupted_script().await;
                        failures.extend(why);
                        proxies
                    }
                    None => vec![None; self.c.proxies.len()],
                };
                for (sum, v) in sums.iter_mut().zip(&proxies) {
                    if let Some(v) = v {
                        sum.0 += v;
                        sum.1 += 1;
                    }
                }
                droplets.push(crate::record::DropletOutcome { droplet, proxies });
            }
            let detected = droplets.iter().filter(|x| x.droplet.tick.is_some()).count();
            let mean: Vec<Option<f64>> = sums
                .iter()
                .map(|(sum, n)| (*n > 0).then(|| sum / f64::from(*n)))
                .collect();
            let mut missing: Vec<(String, String)> = Vec::new();
            for (p, v) in self.c.proxies.iter().zip(&mean) {
                if v.is_none() {
                    let why = failures
                        .iter()
                        .find(|(name, _)| *name == p.name)
                        .map_or_else(
                            || {
                                format!(
                                    "no droplet detected ({} made; no reading of {} at {} above {})",
                                    droplets.len(),
                                    d.detect.channel.name(),
                                    DisplayUnit::of("nm").approx(d.detect.wavelength),
                                    qdx_units::format_number(d.detect.above)
                                )
                            },
                            |(_, why)| why.clone(),
                        );
                    missing.push((p.name.clone(), why));
                }
            }
            if detected < droplets.len() && detected > 0 {
                point_failures.push(format!(
                    "{} of {} droplets not detected",
                    droplets.len() - detected,
                    droplets.len()
                ));
            }
            measured = (mean, missing);
        }
        let (proxies, failures) = measured;
        // An experiment fails when a proxy an objective needs could not be computed.
        let needed: Vec<ProxyId> = self.c.objectives.list.iter().map(|o| o.proxy).collect();
        let missing: Vec<String> = failures
            .iter()
            .filter(|(name, _)| {
                self.c
                    .proxy_id(name)
                    .is_some_and(|p| needed.contains(&p) || needed.is_empty())
            })
            .map(|(n, why)| format!("{n}: {why}"))
            .collect();
        // `require`: an experiment that misses a requirement is infeasible. It counts as a
        // failure (the optimizer learns to avoid the region, the stop condition cannot fire on
        // it), and its proxies are kept for the record.
        let unmet: Vec<String> = self
            .c
            .objectives
            .requirements
            .iter()
            .filter(|r| !r.holds(&|p| proxies.get(p).copied().flatten()))
            .map(|r| unmet_requirement(self.c, r, &proxies))
            .collect();
        let (status, reason) = if !missing.is_empty() {
            (Status::Failed, Some(missing.join("; ")))
        } else if !unmet.is_empty() {
            (Status::Infeasible, Some(unmet.join("; ")))
        } else {
            let all: Vec<String> = point_failures
                .into_iter()
                .chain(failures.iter().map(|(n, w)| format!("{n}: {w}")))
                .collect();
            (
                Status::Ok,
                if all.is_empty() {
                    None
                } else {
                    Some(all.join("; "))
                },
            )
        };
        Ok(Ok(Outcome {
            status,
            reason,
            proxies,
            readings,
            settings: self
                .measured_settings
                .take()
                .unwrap_or_else(|| self.in_effect.settings(self.c)),
            recorded: false,
            points,
            ticks,
            droplets,
        }))
    }

    /// The proxies of one reading (a probe point, a ramp's reading, a droplet) from its
    /// processed spectra, each channel's acquisitions averaged.
    fn reading_proxies(
        &self,
        plan: &ExperimentPlan,
        spectra: Option<&BTreeMap<ChannelKind, Vec<Spectrum>>>,
        readings: &BTreeMap<String, f64>,
    ) -> (Vec<Option<f64>>, Vec<(String, String)>) {
        let channels: BTreeMap<ChannelKind, Spectrum> = spectra
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((*k, measure::average(v)?)))
            .collect();
        measure::proxies(
            self.c,
            &plan.variables,
            &plan.derived,
            &channels,
            readings,
            &self.calibration,
        )
    }

    /// The experiment's measurement begins: the settings in effect now are its settings.
    fn measuring(&mut self) {
        if self.measured_settings.is_none() {
            self.measured_settings = Some(self.in_effect.settings(self.c));
        }
    }

    /// An experiment that ends without a measurement, with the settings in effect when it
    /// was measured or, if it never was, when it ended.
    fn failed(&mut self, status: Status, reason: String) -> Outcome {
        let settings = self
            .measured_settings
            .take()
            .unwrap_or_else(|| self.in_effect.settings(self.c));
        Outcome::failure(self.c, status, reason, settings)
    }
}

/// A script stopped by Ctrl-C failed only because it was stopped: the experiment must not be
/// recorded (a resumed run does it again). Waits here for the run's own Ctrl-C branch, which
/// heard the same signal, to end the run.
async fn interrupted_script() {
    if qdx_script::Interrupt::process().is_interrupted() {
        std::future::pending::<()>().await;
    }
}

/// Why a requirement is not met: the condition and the values it saw.
fn unmet_requirement(c: &Campaign, r: &Condition, proxies: &[Option<f64>]) -> String {
    fn named(r: &Condition, out: &mut Vec<ProxyId>) {
        match r {
            Condition::Compare { proxy, .. } | Condition::Within { proxy, .. } => {
                if !out.contains(proxy) {
                    out.push(*proxy);
                }
            }
            Condition::And(a, b) | Condition::Or(a, b) => {
                named(a, out);
                named(b, out);
            }
            Condition::Not(a) => named(a, out),
        }
    }
    let mut ids = Vec::new();
    named(r, &mut ids);
    let seen: Vec<String> = ids
        .iter()
        .filter_map(|p| {
            let proxy = c.proxies.get(*p)?;
            Some(match proxies.get(*p).copied().flatten() {
                Some(v) => format!("{} = {}", proxy.name, proxy.unit.format(v)),
                None => format!("{} not measured", proxy.name),
            })
        })
        .collect();
    format!(
        "requirement `{}` not met ({})",
        crate::validate::summary::condition(c, r),
        seen.join(", ")
    )
}

/// Sends a setting to a pump: a rate starts it (a zero rate stops it), a refill withdraws and
/// stops.
async fn pump_command(
    pump: &mut dyn qdx_lab::Pump,
    name: &str,
    clock: &dyn Clock,
    keepalive: Option<Duration>,
    command: &Command,
) -> Result<(), DeviceError> {
    match command {
        Command::SetRate { rate } if *rate > 0.0 => {
            pump.set_rate(*rate).await?;
            pump.start().await
        }
        Command::SetRate { .. } | Command::Stop => pump.stop().await,
        Command::Refill { volume, rate } => {
            refill(pump, name, clock, keepalive, *volume, *rate).await
        }
        Command::SetSetpoint { .. }
        | Command::SetPosition { .. }
        | Command::Acquire { .. }
        | Command::SetLight { .. }
        | Command::Discard { .. }
        | Command::MoveProbe { .. } => Ok(()),
    }
}

/// Refills a syringe: withdraw `volume` at `rate`, then infuse again.
async fn refill(
    pump: &mut dyn qdx_lab::Pump,
    name: &str,
    clock: &dyn Clock,
    keepalive: Option<Duration>,
    volume: f64,
    rate: f64,
) -> Result<(), DeviceError> {
    // Checked before the pump moves: an impossible refill is refused, not started.
    let seconds = volume / rate.max(f64::MIN_POSITIVE);
    let Some(time) = checked_wait(seconds) else {
        return Err(DeviceError::new(
            name,
            DeviceErrorKind::Refused(format!(
                "a refill of {} would take {}",
                crate::plan::ml(volume),
                wait_text(seconds)
            )),
        ));
    };
    pump.stop().await?;
    pump.set_direction(PumpDirection::Withdraw).await?;
    pump.set_rate(rate).await?;
    pump.start().await?;
    hold(pump, name, clock, keepalive, time).await?;
    pump.stop().await?;
    pump.set_direction(PumpDirection::Infuse).await
}

/// Lets `time` pass for one pump; with `keepalive`, in slices no longer than it, polling the
/// pump after each.
async fn hold(
    pump: &mut dyn qdx_lab::Pump,
    name: &str,
    clock: &dyn Clock,
    keepalive: Option<Duration>,
    time: Duration,
) -> Result<(), DeviceError> {
    let Some(every) = keepalive else {
        clock.sleep(time).await;
        return Ok(());
    };
    let mut left = time;
    while !left.is_zero() {
        let slice = left.min(every);
        clock.sleep(slice).await;
        left -= slice;
        keep_alive(pump, name).await?;
    }
    Ok(())
}

/// One keep-alive poll: the pump hears from the run. An alarm in the answer is returned as
/// an error (a pump answers an alarm once, so it must not be dropped here).
async fn keep_alive(pump: &mut dyn qdx_lab::Pump, name: &str) -> Result<(), DeviceError> {
    qdx_lab::guard::status_without_alarm(pump, name)
        .await
        .map(|_| ())
}

/// The campaign's optimizer, from what validation built ([`Campaign::search`]), with the
/// fit its `prior_mean` names as the composite model's prior mean.
pub fn optimizer(c: &Campaign) -> Result<Box<dyn opt::Strategy>, RunError> {
    let prior_mean = c
        .optimizer
        .options
        .prior_mean
        .as_ref()
        .and_then(|p| p.fit)
        .and_then(|i| crate::files::fit::FitMean::new(c, i))
        .map(|m| std::sync::Arc::new(m) as std::sync::Arc<dyn opt::PriorMean>);
    let mut s = opt::build_with_prior_mean(
        &c.search.strategy,
        c.search.domain.clone(),
        c.search.objectives.clone(),
        crate::validate::strategy::optimizer_seed(c.seed),
        prior_mean,
    )
    .map_err(|e| RunError::Setup(e.to_string()))?;
    // `span chosen`: the strategy chooses each ramp (validation proved it is one that does).
    if let Some(ramp) = crate::transient::ramp_search(c) {
        s.choose_ramps(ramp);
    }
    Ok(s)
}
