//! The closed loop: ask → plan → run → measure → tell, until a budget, a stop condition or a
//! fault ends it; and resuming a run from its journal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::FutureExt as _;
use qdx_lab::{Clock, RealClock, VirtualClock};
use qdx_optimize as opt;

use super::lab::LabKind;
use super::{Done, Lab, Replayed, Run, RunError, RunOptions, RunSummary, io_error};
use crate::bind::{LabBinding, LabFile};
use crate::journal::{Command, Event, Journal, Record};
use crate::plan::LabState;
use crate::plan::experiment::plan_experiment_with;
use crate::record::{Outcome, Status};
use crate::validate::campaign::*;

/// The campaign's plan: computed once per run, before anything touches the disk, and the
/// one the run follows and the bundle stores (`plan.json`).
fn plan_of(c: &Campaign) -> Result<crate::plan::Plan, RunError> {
    crate::plan::plan(c).map_err(RunError::Plan)
}

/// A bundle being created: a hidden folder beside the bundle's path that receives the
/// journal (with its `started` record) and the run's inputs, then is renamed to the bundle's
/// path in one step. A kill, a full disk or an early signal in this startup window leaves no
/// bundle, so `qdx run` can start again with the same `--out`; a bundle that exists always
/// has its seed and inputs, so `qdx resume` can go on with it. A folder a kill leaves is named
/// `.<name>.qdx-start-<pid>`; a failure removes it.
///
/// Two runs racing for the same path: the first rename wins, the other finds the bundle there
/// ([`RunError::BundleExists`]), as a run started later would.
#[derive(Debug)]
struct Staging {
    path: PathBuf,
    dir: PathBuf,
    committed: bool,
}

impl Staging {
    fn create(dir: &Path) -> Result<Staging, RunError> {
        // A run never overwrites a bundle, nor anything else at its path (a symbolic link too).
        if dir.symlink_metadata().is_ok() {
            return Err(RunError::BundleExists {
                dir: dir.to_path_buf(),
            });
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        let name = dir
            .file_name()
            .map_or_else(|| "bundle".into(), |n| n.to_string_lossy().into_owned());
        let path = parent.join(format!(".{name}.qdx-start-{}", std::process::id()));
        if let Err(e) = std::fs::create_dir(&path) {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(io_error(&path)(e));
            }
            // Left by a killed process that had this process id: no live process uses it.
            std::fs::remove_dir_all(&path).map_err(io_error(&path))?;
            std::fs::create_dir(&path).map_err(io_error(&path))?;
        }
        Ok(Staging {
            path,
            dir: dir.to_path_buf(),
            committed: false,
        })
    }

    /// Moves the complete startup state to the bundle's path.
    fn commit(mut self) -> Result<(), RunError> {
        if let Err(e) = std::fs::rename(&self.path, &self.dir) {
            return Err(if self.dir.symlink_metadata().is_ok() {
                RunError::BundleExists {
                    dir: self.dir.clone(),
                }
            } else {
                io_error(&self.dir)(e)
            });
        }
        self.committed = true;
        if let Some(parent) = self.dir.parent()
            && let Ok(folder) = std::fs::File::open(if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            })
        {
            // Not every platform can sync a folder; the rename is made durable where it can.
            let _ = folder.sync_all();
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Stores the run's inputs in its bundle: the campaign's files, the lab file and the plan,
/// each written whole. Called once the journal's `started` record (with the seed and these
/// files' hashes) is on disk, in the bundle's [`Staging`] folder.
fn prepare(
    c: &Campaign,
    lab_file: Option<&LabFile>,
    dir: &Path,
    plan_json: &str,
) -> Result<(), RunError> {
    let write = |path: &Path, text: &str| {
        crate::files::write_atomic(path, text.as_bytes()).map_err(io_error(path))
    };
    for f in &c.files {
        write(&dir.join("campaign").join(&f.name), &f.text)?;
    }
    if let Some(lab) = lab_file {
        write(&dir.join("lab").join(&lab.name), &lab.text)?;
    }
    write(&dir.join("plan.json"), plan_json)
}

impl<'c> Run<'c> {
    pub(super) fn new(
        c: &'c Campaign,
        lab: Lab,
        journal: Journal,
        dir: PathBuf,
        options: &RunOptions,
        plan: crate::plan::Plan,
    ) -> Run<'c> {
        let total = plan.experiments;
        Run {
            c,
            plan,
            lab,
            journal,
            wall: crate::files::wall::WallLog::open(&dir),
            dir,
            state: LabState::initial(c),
            calibration: super::measure::Calibration::default(),
            progress: super::progress::Shown::new(c, total, options.progress),
            offset: 0.0,
            replay: Vec::new(),
            replaying: false,
            outcomes: Vec::new(),
            measured_settings: None,
            in_effect: crate::record::InEffect::default(),
            reagent_used: 0.0,
            stock_used: BTreeMap::new(),
            next_experiment: 0,
            batch: 0,
            resume_marker: None,
            halt_after: options.halt_after,
            calibrated: false,
            calibrations: 0,
            calibrated_at: 0.0,
            halted: false,
            repeated_failure: false,
            sync_each: options.sync_each,
            syringes: LabState::initial(c).syringe_left,
            flows: BTreeMap::new(),
            strategy: None,
            heard: BTreeMap::new(),
            ramp_events: Vec::new(),
            rigs: vec![None],
            line: 0,
        }
    }

    /// The best combined score so far, for the progress bar.
    fn best(&self) -> Option<f64> {
        let obs: Vec<opt::Observation> = self
            .outcomes
            .iter()
            .map(|o| o.observation(self.c))
            .collect();
        self.c
            .search
            .objectives
            .score(&obs)
            .iter()
            .filter_map(|s| s.combined)
            .reduce(f64::max)
    }

    fn tick(&self, estimate_left: f64) {
        self.progress
            .tick(self.outcomes.len() as u64, self.best(), estimate_left);
    }

    /// The loop. Returns why it stopped.
    async fn drive(&mut self) -> Result<String, RunError> {
        let c = self.c;
        let design: Option<Vec<Vec<f64>>> = self.plan.design.as_ref().map(|d| d.points.clone());
        let (planned_experiments, per_experiment) =
            (self.plan.experiments, self.plan.duration.median.max(1.0));
        let mut strategy = match design {
            Some(_) => None,
            None => Some(match self.strategy.take() {
                Some(s) => s,
                None => super::optimizer(c)?,
            }),
        };
        if let Some(s) = strategy.as_mut() {
            // The prior data first; a hardware run resumed from its journal then starts with
            // its completed experiments.
            let mut prior = c.search.prior.clone();
            prior.extend(self.outcomes.iter().flat_map(|o| o.observations(c)));
            if !prior.is_empty() {
                s.tell(&prior).map_err(RunError::PriorRefused)?;
            }
        }
        // Each parallel line's cell is calibrated with its own spectrometer.
        for k in 0..self.rigs.len() {
            self.switch_to(k);
            if !self.calibrated
                && let Some(stop) = self.calibrate().await?
            {
                self.halted = true;
                return Ok(stop);
            }
        }
        self.switch_to(0);
        self.align_lines().await;
        // A hardware run resumed after its last experiment met the stop condition has reached
        // its end (a replayed run meets it again in the loop).
        if let Some(stop) = self.stop_condition_met() {
            return Ok(stop);
        }
        let budget = c.budget.experiments.unwrap_or(u64::MAX);
        loop {
            let done = self.outcomes.len() as u64;
            // A mapping campaign: the map of everything measured so far, judged before the
            // budget (a map that reaches its level with the last experiment says so) and
            // recorded in the next suggestions' explanations.
            let map = if c.objectives.map.is_some() {
                let observations: Vec<opt::Observation> = c
                    .search
                    .prior
                    .iter()
                    .cloned()
                    .chain(self.outcomes.iter().flat_map(|o| o.observations(c)))
                    .collect();
                let fitted = crate::files::map::fit(c, &observations);
                if let Some(why) = fitted
                    .as_ref()
                    .and_then(|f| crate::files::map::level_reached(c, &observations, f))
                {
                    return Ok(why);
                }
                fitted.and_then(|f| crate::files::map::explain(c, &f))
            } else {
                None
            };
            if done >= budget {
                return Ok(format!("the experiment budget ({budget}) is spent"));
            }
            // Lamps drift: the blank repeats on its interval, between experiments (on each
            // parallel line's cell).
            for k in 0..self.rigs.len() {
                self.switch_to(k);
                if let Some(every) = c
                    .measurement
                    .as_ref()
                    .and_then(|m| m.blank.as_ref())
                    .and_then(|b| b.every)
                    && self.now() - self.calibrated_at >= every
                    && let Some(stop) = self.calibrate().await?
                {
                    self.halted = true;
                    return Ok(stop);
                }
            }
            self.switch_to(0);
            let left = budget
                .saturating_sub(done)
                .min(planned_experiments.saturating_sub(done).max(1));
            let batch_size = (c.optimizer.batch.max(1)).min(left.max(1)) as usize;
            let points: Vec<(Vec<f64>, serde_json::Value)> = match (&design, strategy.as_mut()) {
                (Some(points), _) => {
                    let start = self.next_experiment as usize;
                    if start >= points.len() {
                        return Ok("the design is complete".into());
                    }
                    points
                        .iter()
                        .skip(start)
                        .take(batch_size)
                        .map(|p| (p.clone(), serde_json::json!({ "strategy": c.optimizer.strategy.name(), "phase": "planned design" })))
                        .collect()
                }
                (None, Some(s)) => {
                    let suggestions = s.ask(batch_size, &[]).map_err(RunError::Optimizer)?;
                    if suggestions.is_empty() {
                        return Ok("the optimizer has nothing left to suggest".into());
                    }
                    suggestions
                        .into_iter()
                        .map(|s| {
                            let mut explain =
                                serde_json::to_value(&s.explain).unwrap_or(serde_json::Value::Null);
                            if let (Some(m), Some(o)) = (&map, explain.as_object_mut()) {
                                o.insert("map".into(), m.clone());
                            }
                            (crate::validate::strategy::values(&s.point), explain)
                        })
                        .collect()
                }
                (None, None) => return Ok("no strategy".into()),
            };
            let batch = self.batch;
            self.batch += 1;
            let mut told = Vec::new();
            for (slot, (values, explain)) in points.into_iter().enumerate() {
                // With parallel lines, the batch's experiments run one per line, in order.
                self.switch_to(slot % self.rigs.len());
                let id = self.next_experiment;
                self.next_experiment += 1;
                // A resumed run first replays what the journal says happened.
                let replayed = if self.replay.first().is_some_and(|r| r.experiment == id) {
                    Some(self.replay.remove(0))
                } else {
                    None
                };
                if let Some(r) = &replayed {
                    if r.values != values {
                        return Err(RunError::Diverged {
                            experiment: id,
                            what: "the optimizer suggested different values".into(),
                        });
                    }
                    self.replaying = true;
                } else {
                    self.go_live()?;
                }
                let wall_start = crate::files::wall::now_utc();
                // Plan from the syringes as they really are, on a copy of the lab state: a
                // budget may end the campaign before it runs.
                self.settle_flows();
                let mut trial = self.state.clone();
                // `span chosen`: the ramp the optimizer chose, as its journaled explanation
                // records it (a resumed hardware run plans from the same record).
                let planned =
                    match plan_experiment_with(c, &mut trial, id, &values, chosen_ramp(&explain)) {
                        Ok(p) => p,
                        Err(e) => {
                            self.log(Event::Suggested {
                                experiment: id,
                                batch,
                                line: self.line_name(),
                                values: values.clone(),
                                explain,
                            })?;
                            // Validation proved the limits; this only happens on numeric edge cases.
                            // Nothing was sent for it: it has no settings.
                            let done = Done {
                                experiment: id,
                                point: values.clone(),
                                outcome: Outcome::failure(
                                    c,
                                    Status::Refused,
                                    e.to_string(),
                                    BTreeMap::new(),
                                ),
                            };
                            self.record(&done)?;
                            told.extend(done.observations(c));
                            self.outcomes.push(done);
                            continue;
                        }
                    };
                // Budgets are checked before the experiment starts.
                let needed: f64 = planned.reagent.values().sum();
                if let Some(limit) = c.budget.reagent_total
                    && self.reagent_used + needed > limit
                {
                    return Ok(format!(
                        "the reagent budget ({}) would be exceeded",
                        crate::plan::ml(limit)
                    ));
                }
                for s in &c.stocks {
                    if let Some(limit) = c.budget.reagent_per_stock.get(&s.name) {
                        let used = self.stock_used.get(&s.name).copied().unwrap_or(0.0)
                            + planned.reagent.get(&s.pump).copied().unwrap_or(0.0);
                        if used > *limit {
                            return Ok(format!(
                                "the `{}` budget ({}) would be exceeded",
                                s.name,
                                crate::plan::ml(*limit)
                            ));
                        }
                    }
                }
                if let Some(limit) = c.budget.time
                    && self.now() + planned.estimated_duration > limit
                {
                    return Ok(format!(
                        "the time budget ({}) would be exceeded",
                        crate::plan::hours(limit)
                    ));
                }
                self.state = trial;
                self.log(Event::Suggested {
                    experiment: id,
                    batch,
                    line: self.line_name(),
                    values: values.clone(),
                    explain,
                })?;
                self.log(Event::Planned {
                    experiment: id,
                    estimated_duration: planned.estimated_duration,
                    notes: planned.notes.clone(),
                })?;
                let outcome = match self.experiment(&planned).await? {
                    Ok(o) => o,
                    Err(stop) => {
                        // A fault policy stopped the run early: it can be resumed.
                        self.halted = true;
                        return Ok(stop);
                    }
                };
                self.reagent_used += needed;
                for s in &c.stocks {
                    *self.stock_used.entry(s.name.clone()).or_insert(0.0) +=
                        planned.reagent.get(&s.pump).copied().unwrap_or(0.0);
                }
                if let Some(r) = replayed {
                    if !r.measured.as_ref().is_some_and(|m| m.replays_as(&outcome)) {
                        return Err(RunError::Diverged {
                            experiment: id,
                            what: format!(
                                "the replayed measurement differs from the journal ({:?} now, {:?} then)",
                                outcome.proxies,
                                r.measured.map(|j| j.proxies)
                            ),
                        });
                    }
                } else {
                    self.wall.record("experiment", Some(id), &wall_start);
                }
                let done = Done {
                    experiment: id,
                    point: values.clone(),
                    outcome,
                };
                self.record(&done)?;
                told.extend(done.observations(c));
                self.outcomes.push(done);
                if !self.replaying
                    && let Some(why) = self.repeated_failure()
                {
                    if let Some(s) = strategy.as_mut() {
                        s.tell(&told).map_err(RunError::Optimizer)?;
                    }
                    self.halted = true;
                    self.repeated_failure = true;
                    return Ok(why);
                }
                let remaining = budget
                    .min(planned_experiments)
                    .saturating_sub(self.outcomes.len() as u64);
                self.tick(remaining as f64 * per_experiment);
                if let Some(stop) = self.stop_condition_met() {
                    if let Some(s) = strategy.as_mut() {
                        s.tell(&told).map_err(RunError::Optimizer)?;
                    }
                    return Ok(stop);
                }
            }
            // The batch ends when its last line's experiment does.
            self.switch_to(0);
            self.align_lines().await;
            if let Some(s) = strategy.as_mut() {
                s.tell(&told).map_err(RunError::Optimizer)?;
            }
        }
    }

    /// Why the run stops when its last experiment met the campaign's stop condition.
    fn stop_condition_met(&self) -> Option<String> {
        let stop = self.c.objectives.stop.as_ref()?;
        let last = self.outcomes.last()?;
        (last.outcome.status.is_ok()
            && stop.holds(&|p| last.outcome.proxies.get(p).copied().flatten()))
        .then(|| {
            format!(
                "the stop condition was met by experiment {}",
                last.experiment
            )
        })
    }

    /// Why the run should stop when the last [`super::REPEATED_FAILURES`] experiments failed
    /// for the same reason. Counted over replayed experiments too, but only a live failure
    /// stops a run: a resumed run gets one more try after the cause was fixed.
    fn repeated_failure(&self) -> Option<String> {
        let last = &self.outcomes.last()?.outcome;
        let cause = failure_cause(last)?;
        let same = self
            .outcomes
            .iter()
            .rev()
            .take_while(|o| failure_cause(&o.outcome).as_ref() == Some(&cause))
            .count();
        (same as u64 >= self.c.budget.stop_after_failures()).then(|| {
            format!(
                "the last {same} experiments failed the same way ({}): fix the cause, then `qdx resume` goes on",
                last.reason.as_deref().unwrap_or(last.status.name())
            )
        })
    }

    fn record(&mut self, done: &Done) -> Result<(), RunError> {
        self.log(done.outcome.event(self.c, done.experiment))?;
        self.journal_sync()?;
        if !self.replaying && self.progress.shows_experiments() {
            // The best over the experiments before this one and this one.
            let mut scored: Vec<opt::Observation> = self
                .outcomes
                .iter()
                .map(|o| o.observation(self.c))
                .collect();
            scored.push(done.observation(self.c));
            let best = self
                .c
                .search
                .objectives
                .score(&scored)
                .iter()
                .filter_map(|s| s.combined)
                .reduce(f64::max);
            self.progress.experiment(
                self.c,
                (done.experiment, &done.point),
                &done.outcome,
                best,
                (scored.len() as u64, self.plan.experiments),
            );
        }
        Ok(())
    }

    fn journal_sync(&mut self) -> Result<(), RunError> {
        if !self.replaying {
            self.journal.sync()?;
        }
        Ok(())
    }

    /// The bundle's folder was renamed (from its [`Staging`] folder): the run goes on there.
    fn moved_to(&mut self, dir: &Path) {
        self.journal.moved_to(&dir.join("journal.jsonl"));
        self.wall = crate::files::wall::WallLog::open(dir);
        self.dir = dir.to_path_buf();
    }

    /// Ends the replay of a resumed run: the journal's records after the last completed
    /// experiment are void, and everything from here is new.
    fn go_live(&mut self) -> Result<(), RunError> {
        self.replaying = false;
        if let Some((void_from, void_to)) = self.resume_marker.take() {
            self.log(Event::Resumed { void_from, void_to })?;
        }
        Ok(())
    }
}

/// The single-threaded tokio runtime a run (or a probe of the lab) is driven on.
pub fn current_thread() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .enable_io()
        .build()
        .map_err(RunError::Runtime)
}

/// Runs a campaign on a lab, writing the bundle to `dir`. The lab is brought to its safe state
/// however the run ends: finished, stopped by a fault policy, interrupted, or failed.
///
/// A hardware lab runs the campaign as its binding applies it (`LabBinding::apply`).
pub async fn run(
    c: &Campaign,
    lab: Lab,
    dir: &Path,
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    run_with(c, lab, dir, options, None).await
}

/// [`run`], with the optimizer given rather than built from the campaign's `optimizer` block
/// (benchmarks drive the simulated lab with other optimizers through it). The strategy must
/// work on the campaign's domain ([`crate::validate::strategy::domain`]).
pub async fn run_with(
    c: &Campaign,
    lab: Lab,
    dir: &Path,
    options: &RunOptions,
    strategy: Option<Box<dyn opt::Strategy>>,
) -> Result<RunSummary, RunError> {
    start(c, plan_of(c)?, lab, dir, options, strategy).await
}

/// Starts a planned run: the bundle, its `started` record and inputs (put in place together,
/// see [`Staging`]), the loop, the bundle's files.
async fn start(
    c: &Campaign,
    plan: crate::plan::Plan,
    lab: Lab,
    dir: &Path,
    options: &RunOptions,
    strategy: Option<Box<dyn opt::Strategy>>,
) -> Result<RunSummary, RunError> {
    let plan_json = crate::files::plan::write(c, &plan);
    let staging = Staging::create(dir)?;
    // The run's journal, whose lock the run holds from here (through the rename).
    let journal = Journal::create(&staging.path.join("journal.jsonl"), options.sync_each)?;
    let lab_file = lab.lab_file.clone();
    let mut run = Run::new(c, lab, journal, staging.path.clone(), options, plan);
    run.add_lines()?;
    run.strategy = strategy;
    let started = crate::files::wall::now_utc();
    // The first record, before anything else of the bundle: the seed (`--seed` may differ from
    // the campaign's) and what the stored inputs must hash to.
    run.log(Event::Started {
        qdx_version: env!("CARGO_PKG_VERSION").into(),
        language_version: c.language_version,
        campaign: c.name.clone(),
        seed: c.seed,
        lab: run.lab.name.clone(),
        strategy: c.optimizer.strategy.name().into(),
        inputs: crate::files::input_hashes(
            c,
            lab_file.iter().map(|l| (l.name.as_str(), l.text.as_str())),
        ),
        emulated: run.lab.emulated,
    })?;
    run.journal.sync()?;
    prepare(c, lab_file.as_ref(), &staging.path, &plan_json)?;
    staging.commit()?;
    run.moved_to(dir);
    let (reason, end) = run.drive_safely().await?;
    finish(run, &reason, end, &started)
}

/// Runs a campaign on the simulated lab, writing the bundle to `dir`.
pub fn run_simulated(
    c: &Campaign,
    dir: &Path,
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new());
    let lab = Lab::simulated(c, clock).map_err(RunError::SimulatedLab)?;
    current_thread()?.block_on(run(c, lab, dir, options))
}

/// [`run_simulated`] with a given optimizer (see [`run_with`]); the campaign's design, if it
/// has one, still takes precedence.
pub fn run_simulated_with(
    c: &Campaign,
    dir: &Path,
    options: &RunOptions,
    strategy: Box<dyn opt::Strategy>,
) -> Result<RunSummary, RunError> {
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new());
    let lab = Lab::simulated(c, clock).map_err(RunError::SimulatedLab)?;
    current_thread()?.block_on(run_with(c, lab, dir, options, Some(strategy)))
}

/// Whose instruments a lab binding opens: the lab's own, or emulators of them (`--emulate`).
/// Everything else of a run on a binding is the same code either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instruments {
    /// The bound serial ports and USB devices, on the real clock.
    Real,
    /// Emulators of the bound devices in the campaign's simulated twin ([`Lab::emulated`]),
    /// on tokio's paused clock ([`paused_time`]).
    Emulated,
}

impl Instruments {
    fn runtime(self) -> Result<tokio::runtime::Runtime, RunError> {
        match self {
            Instruments::Real => current_thread(),
            Instruments::Emulated => paused_time(),
        }
    }

    /// Opens the binding's devices. Both read [`RealClock`], which is tokio's: paused under
    /// [`paused_time`], the wall clock otherwise.
    async fn connect(self, c: &Campaign, binding: &LabBinding) -> Result<Lab, RunError> {
        let clock: Arc<dyn Clock> = Arc::new(RealClock::new());
        match self {
            Instruments::Real => Lab::hardware(c, binding, clock).await,
            Instruments::Emulated => Lab::emulated(c, binding, clock).await,
        }
        .map_err(|source| RunError::Connect {
            lab: binding.name.clone(),
            source,
        })
    }
}

/// Runs a campaign on the instruments of a lab binding: the real ones, or (`qdx run --lab …
/// --emulate`) every real driver, guard and the safe state against emulators of the bound
/// devices in the campaign's simulated twin.
pub fn run_hardware(
    c: &Campaign,
    binding: &LabBinding,
    instruments: Instruments,
    dir: &Path,
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    let applied = binding.apply(c);
    // Planned before any instrument is opened: a refused plan touches nothing.
    let plan = plan_of(&applied)?;
    instruments.runtime()?.block_on(async {
        let lab = instruments.connect(&applied, binding).await?;
        start(&applied, plan, lab, dir, options, None).await
    })
}

/// The runtime of a run on emulated instruments: tokio's clock paused, so it moves only when
/// every task waits, straight to the next deadline. The drivers' reply deadlines, the
/// emulators' work times and the run's waits all read that one clock ([`RealClock`] reads
/// tokio's), so an hour of steady-state waiting takes no wall time, and what the run does
/// does not depend on how busy the machine is.
pub fn paused_time() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .enable_io()
        .start_paused(true)
        .build()
        .map_err(RunError::Runtime)
}

/// Continues a run on the instruments of a lab binding ([`run_hardware`]).
pub fn resume_hardware(
    c: &Campaign,
    binding: &LabBinding,
    instruments: Instruments,
    dir: &Path,
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    let applied = binding.apply(c);
    instruments.runtime()?.block_on(async {
        // Take the bundle (its lock) and refuse a finished or foreign one before touching any
        // instrument.
        let (journal, records) = reopen(dir, options)?;
        let lab = instruments.connect(&applied, binding).await?;
        resume_from(&applied, lab, dir, options, journal, records).await
    })
}

/// A signal that ends a run (after the safe state) rather than the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (`kill`, a service manager stopping qdx).
    Terminate,
    /// SIGHUP (the terminal closed).
    Hangup,
}

impl Signal {
    /// The POSIX signal number (the process exits with 128 plus it).
    pub fn number(self) -> u8 {
        match self {
            Signal::Hangup => 1,
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Hangup => "SIGHUP",
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The signals a run listens for: each of SIGINT, SIGTERM and SIGHUP unless it was
    /// ignored when qdx started. A process started with a signal ignored was asked not to be
    /// ended by it (`nohup` ignores SIGHUP; a shell ignores SIGINT in a background job), and
    /// listening would replace that: so an ignored signal stays ignored.
    pub(crate) fn listened() -> Vec<Signal> {
        [Signal::Interrupt, Signal::Terminate, Signal::Hangup]
            .into_iter()
            .filter(|s| !s.ignored())
            .collect()
    }

    /// Whether this signal's disposition is "ignore". Asked before a run installs its
    /// handlers, this is how qdx was started: once listened for, a signal is not ignored.
    #[cfg(unix)]
    #[allow(
        unsafe_code,
        reason = "sigaction(2) with no new action only reads the disposition; std and tokio \
                  have no way to ask for it"
    )]
    fn ignored(self) -> bool {
        let number = libc::c_int::from(self.number());
        let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
        // SAFETY: a null new action makes sigaction only write the current one into `old`,
        // which is valid to read zeroed (plain data) and written whole on success.
        let read = unsafe { libc::sigaction(number, std::ptr::null(), old.as_mut_ptr()) };
        read == 0 && {
            // SAFETY: zeroed or written by sigaction: initialised either way.
            let old = unsafe { old.assume_init() };
            old.sa_sigaction == libc::SIG_IGN
        }
    }

    #[cfg(not(unix))]
    fn ignored(self) -> bool {
        false
    }

    #[cfg(unix)]
    pub(crate) fn kind(self) -> tokio::signal::unix::SignalKind {
        use tokio::signal::unix::SignalKind;
        match self {
            Signal::Hangup => SignalKind::hangup(),
            Signal::Interrupt => SignalKind::interrupt(),
            Signal::Terminate => SignalKind::terminate(),
        }
    }
}

/// How a run ended, which decides the exit code of `qdx run`/`qdx resume` (see [`crate::cli`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// A budget, a stop condition or the end of the design ended it.
    Completed,
    /// A fault policy stopped it early; `qdx resume` goes on.
    Halted,
    /// It gave up: [`super::REPEATED_FAILURES`] experiments in a row failed the same way. Not
    /// marked finished: once the cause is fixed (a clogged line, a lamp), `qdx resume` goes on.
    Aborted,
    /// A signal stopped it, after the safe state; `qdx resume` goes on.
    Interrupted(Signal),
}

/// The signals a run turns into an orderly stop, listened for from the moment they are
/// created (a signal that comes before that ends the process: nothing has been sent yet), but
/// none that was ignored when qdx started ([`Signal::listened`]).
struct Signals {
    #[cfg(unix)]
    unix: Vec<(Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn listen() -> Result<Signals, RunError> {
        #[cfg(unix)]
        {
            let mut unix = Vec::new();
            for s in Signal::listened() {
                let stream = tokio::signal::unix::signal(s.kind())
                    .map_err(|source| RunError::Signals { signal: s, source })?;
                unix.push((s, stream));
            }
            Ok(Signals { unix })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The first signal to arrive.
    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            if self.unix.is_empty() {
                // Every signal was ignored at start: none ends the run.
                return std::future::pending().await;
            }
            let waits = self.unix.iter_mut().map(|(s, stream)| {
                let s = *s;
                Box::pin(async move {
                    if stream.recv().await.is_none() {
                        // The listener is gone: this signal can no longer arrive.
                        std::future::pending::<()>().await;
                    }
                    s
                })
            });
            futures::future::select_all(waits).await.0
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            Signal::Interrupt
        }
    }
}

impl Run<'_> {
    /// Drives the run to its end and brings the lab to its safe state, whatever happened:
    /// finished, stopped by a fault policy, aborted, failed, panicked, or interrupted by
    /// SIGINT, SIGTERM or SIGHUP (the safe state is reached before the process exits with
    /// 128 + signal).
    async fn drive_safely(&mut self) -> Result<(String, RunEnd), RunError> {
        let mut signals = Signals::listen()?;
        // A script blocks this thread while it runs: a signal must reach it directly.
        let _scripts = super::measure::interrupt_scripts_on_signals();
        // A panic inside the loop (a bug) is caught here so the lab still reaches its safe
        // state: the run, not the process, owns the devices until they are safe.
        let result = tokio::select! {
            r = std::panic::AssertUnwindSafe(self.drive()).catch_unwind() => match r {
                Ok(Ok(reason)) if self.repeated_failure => Ok((reason, RunEnd::Aborted)),
                Ok(Ok(reason)) if self.halted => Ok((reason, RunEnd::Halted)),
                Ok(Ok(reason)) => Ok((reason, RunEnd::Completed)),
                Ok(Err(e)) => Err(e),
                Err(payload) => Err(RunError::Panicked(panic_message(payload.as_ref()))),
            },
            s = signals.next() => {
                self.halted = true;
                let reason = match s {
                    Signal::Interrupt => "interrupted (SIGINT, Ctrl-C)".to_owned(),
                    other => format!("interrupted ({})", other.name()),
                };
                Ok((reason, RunEnd::Interrupted(s)))
            }
        };
        let why = match &result {
            Ok((reason, RunEnd::Interrupted(_))) => reason.clone(),
            Ok(_) => "end of run".to_owned(),
            Err(e) => format!("the run failed: {e}"),
        };
        // A resumed run whose replay reached the run's end (the interrupted run was cut short
        // after its last experiment: in its end-of-run safe state, or before `finished`) goes
        // live here: the interrupted run's records after its last experiment are void, so the
        // run ends once, as it would have uninterrupted. Only a simulated lab can still be
        // replaying (a hardware run goes live before it drives), so this write delays no
        // instrument's safe state.
        let live = self.go_live();
        // Every parallel line to its safe state, the first line last (the run's clock after).
        self.align_lines().await;
        let mut safe = Ok(());
        for k in (0..self.rigs.len()).rev() {
            self.switch_to(k);
            let done = self.safe_state(&why).await;
            if safe.is_ok() {
                safe = done;
            }
        }
        self.align_lines().await;
        let ended = result?;
        live?;
        safe?;
        Ok(ended)
    }
}

/// An experiment's failure with the numbers of its reason left out (`None`: not a failure, or
/// an `infeasible` one, which is data).
fn failure_cause(o: &Outcome) -> Option<String> {
    // A failed synthesis the lab recorded is a result, like an infeasible one.
    if matches!(o.status, Status::Ok | Status::Infeasible) || o.recorded {
        return None;
    }
    let mut cause = format!("{}: ", o.status);
    let mut in_number = false;
    for ch in o.reason.as_deref().unwrap_or_default().chars() {
        let numeric = ch.is_ascii_digit() || (in_number && ch == '.');
        if numeric && !in_number {
            cause.push('#');
        } else if !numeric {
            cause.push(ch);
        }
        in_number = numeric;
    }
    Some(cause)
}

/// What a panic said, for the error and the journal.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Closes the journal and writes the bundle. A run halted early (a fault policy that stops,
/// an interruption) is not marked finished, so `qdx resume` can take it further; its bundle
/// is written all the same and verifies.
fn finish(
    mut run: Run<'_>,
    reason: &str,
    end: RunEnd,
    started: &str,
) -> Result<RunSummary, RunError> {
    run.replaying = false;
    run.log(Event::Stopped {
        reason: reason.to_owned(),
    })?;
    let experiments = run.outcomes.len() as u64;
    if !run.halted {
        run.log(Event::Finished { experiments })?;
    }
    run.journal.sync()?;
    run.progress.finish();
    let lab_time = run.now();
    let failed = run
        .outcomes
        .iter()
        .filter(|o| !o.outcome.status.is_ok())
        .count() as u64;
    // The journal's lock is held until `run` is dropped, after the manifest is written.
    crate::bundle::write(&run.dir, run.c, started)?;
    Ok(RunSummary {
        bundle: run.dir.clone(),
        experiments,
        failed,
        stop_reason: reason.to_owned(),
        lab_time,
        finished: !run.halted,
        end,
    })
}

fn already_finished(records: &[Record]) -> bool {
    records
        .iter()
        .any(|r| matches!(r.event, Event::Finished { .. }))
}

/// Takes a bundle to resume: its journal's lock, and its records, which must begin with the
/// run's `started` record and not end the run.
fn reopen(dir: &Path, options: &RunOptions) -> Result<(Journal, Vec<Record>), RunError> {
    let (journal, records) = Journal::reopen(&dir.join("journal.jsonl"), options.sync_each)?;
    if !matches!(
        records.first().map(|r| &r.event),
        Some(Event::Started { .. })
    ) {
        return Err(RunError::NotStarted {
            dir: dir.to_path_buf(),
        });
    }
    if already_finished(&records) {
        return Err(RunError::AlreadyFinished {
            dir: dir.to_path_buf(),
        });
    }
    Ok((journal, records))
}

/// Completes the bundle of a finished run whose finalisation was cut short (a kill, a full
/// disk): the derived files and the manifest are written again from the journal. Idempotent:
/// `None` when the bundle is already complete. Touches no lab.
pub fn finalise(c: &Campaign, dir: &Path) -> Result<Option<RunSummary>, RunError> {
    let (_lock, records) = Journal::reopen(&dir.join("journal.jsonl"), false)?;
    if !already_finished(&records) {
        return Err(RunError::NotFinished {
            dir: dir.to_path_buf(),
        });
    }
    if crate::bundle::is_complete(dir) {
        return Ok(None);
    }
    let started = crate::bundle::wall_started(dir).unwrap_or_else(crate::files::wall::now_utc);
    let manifest = crate::bundle::write(dir, c, &started)?;
    let live = crate::journal::live(&records);
    let failed = live
        .iter()
        .filter(|r| matches!(&r.event, Event::Measured { status, .. } if !status.is_ok()))
        .count() as u64;
    Ok(Some(RunSummary {
        bundle: dir.to_path_buf(),
        experiments: manifest.experiments,
        failed,
        stop_reason: manifest.stop_reason,
        lab_time: records.last().map_or(0.0, |r| r.t),
        finished: true,
        end: RunEnd::Completed,
    }))
}

/// Continues a run from its bundle on the simulated lab: replays the completed experiments
/// against a fresh simulated lab (so the lab is exactly where the run left it), then goes on.
pub fn resume_simulated(
    c: &Campaign,
    dir: &Path,
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new());
    let lab = Lab::simulated(c, clock).map_err(RunError::SimulatedLab)?;
    current_thread()?.block_on(resume(c, lab, dir, options))
}

/// Continues a run from its bundle: no completed experiment is repeated, none is lost.
///
/// On the simulated lab the completed experiments replay silently against the fresh lab. On
/// hardware nothing old is sent again: the journal's completed observations go to the
/// optimizer, the planner's view of the lab is rebuilt from the journal, and the run goes on
/// with the next experiment (the one the interruption cut short runs again).
pub async fn resume(
    c: &Campaign,
    lab: Lab,
    dir: &Path,
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    let (journal, records) = reopen(dir, options)?;
    resume_from(c, lab, dir, options, journal, records).await
}

/// [`resume`], with the bundle already taken ([`reopen`]).
async fn resume_from(
    c: &Campaign,
    lab: Lab,
    dir: &Path,
    options: &RunOptions,
    journal: Journal,
    records: Vec<Record>,
) -> Result<RunSummary, RunError> {
    // The bundle changes from here: a manifest from an earlier stop no longer describes it,
    // and a bundle without one is recognisably unfinished (`finalise`).
    crate::bundle::remove_manifest(dir)?;
    let plan = plan_of(c)?;
    // A run cut short while storing its inputs (after its `started` record) lacks the plan,
    // a function of the campaign.
    if !dir.join("plan.json").exists() {
        let path = dir.join("plan.json");
        crate::files::write_atomic(&path, crate::files::plan::write(c, &plan).as_bytes())
            .map_err(io_error(&path))?;
    }
    let mut replay = Vec::new();
    let mut last_complete = 0;
    for (k, r) in records.iter().enumerate() {
        match &r.event {
            Event::Suggested {
                experiment, values, ..
            } => {
                // A later suggestion for the same experiment (after an earlier resume) wins.
                replay.retain(|x: &Replayed| x.experiment != *experiment);
                replay.push(Replayed {
                    experiment: *experiment,
                    values: values.clone(),
                    measured: None,
                });
            }
            Event::Measured { experiment, .. } => {
                if let Some(x) = replay.iter_mut().find(|x| x.experiment == *experiment) {
                    x.measured = Outcome::of_event(c, &r.event);
                }
                last_complete = k;
            }
            Event::Calibrated { .. } if last_complete == 0 => last_complete = k,
            _ => {}
        }
    }
    let void_from = records
        .get(last_complete + 1)
        .map_or(journal.next_seq(), |r| r.seq);
    let void_to = journal.next_seq();
    // The last calibration before the void is the one in effect (`blank { every … }` takes
    // it again; one cut short is void).
    let calibrations: Vec<Calibrated> = records
        .iter()
        .take(last_complete + 1)
        .filter_map(|r| match &r.event {
            Event::Calibrated { files, dyes, .. } => Some(Calibrated {
                t: r.t,
                files: files.clone(),
                dyes: dyes.clone(),
            }),
            _ => None,
        })
        .collect();
    let rounds = calibrations.len() as u64;
    let calibrated = calibrations.into_iter().last();
    let hardware = lab.kind == LabKind::Hardware;
    let mut run = Run::new(c, lab, journal, dir.to_path_buf(), options, plan);
    run.add_lines()?;
    run.resume_marker = Some((void_from, void_to));
    if hardware {
        run.restore(&records, replay, calibrated.as_ref(), rounds)?;
        run.go_live()?;
    } else {
        replay.retain(|r| r.measured.is_some());
        run.replay = replay;
        if calibrated.is_some() {
            // Calibration and completed experiments replay silently against the fresh lab.
            run.replaying = true;
        } else {
            run.go_live()?;
        }
    }
    let started = crate::files::wall::now_utc();
    let (reason, end) = run.drive_safely().await?;
    finish(run, &reason, end, &started)
}

impl Run<'_> {
    /// Rebuilds a hardware run's state from its journal, sending nothing to the lab.
    fn restore(
        &mut self,
        records: &[Record],
        suggested: Vec<Replayed>,
        calibration: Option<&Calibrated>,
        rounds: u64,
    ) -> Result<(), RunError> {
        let c = self.c;
        // Reagent used by the completed experiments, for the budgets: each planned again, in
        // the order the journal suggested them.
        let mut state = LabState::initial(c);
        for r in records {
            let Event::Suggested {
                experiment,
                values,
                explain,
                ..
            } = &r.event
            else {
                continue;
            };
            if let Ok(planned) =
                plan_experiment_with(c, &mut state, *experiment, values, chosen_ramp(explain))
                && suggested
                    .iter()
                    .any(|s| s.experiment == *experiment && s.measured.is_some())
            {
                let needed: f64 = planned.reagent.values().sum();
                self.reagent_used += needed;
                for s in &c.stocks {
                    *self.stock_used.entry(s.name.clone()).or_insert(0.0) +=
                        planned.reagent.get(&s.pump).copied().unwrap_or(0.0);
                }
            }
        }
        // What each syringe holds, from the commands the journal says were sent, as the live
        // run tracks it: flow at each rate since it was set, full after a refill. A command
        // journaled but not carried out counts as carried out: the syringe is then believed
        // emptier than it is, and the next refill comes early rather than late.
        let mut syringes = LabState::initial(c).syringe_left;
        let mut flows: BTreeMap<DeviceId, (f64, f64)> = BTreeMap::new();
        for r in records {
            let Event::Command {
                device, command, ..
            } = &r.event
            else {
                continue;
            };
            let Some(id) = c.device_id(device) else {
                continue;
            };
            // Every command the journal holds was sent, void ones too: the instruments heard
            // them all.
            self.in_effect.apply(id, command);
            drain(&mut syringes, &flows, id, r.t);
            match command {
                Command::SetRate { rate } => {
                    flows.insert(id, (*rate, r.t));
                }
                Command::Stop => {
                    flows.insert(id, (0.0, r.t));
                }
                Command::Refill { .. } => {
                    if let Some(cap) = c.devices.get(id).and_then(Device::syringe) {
                        syringes.insert(id, cap);
                    }
                    flows.insert(id, (0.0, r.t));
                }
                _ => {
                    flows.entry(id).and_modify(|f| f.1 = r.t);
                }
            }
        }
        let end = records.last().map_or(0.0, |r| r.t);
        for p in flows.keys() {
            drain(&mut syringes, &flows, *p, end);
        }
        // The interrupted run ended in the safe state: pumps stopped, heaters at their safe
        // setpoints.
        let mut state = LabState::initial(c);
        for rate in state.rates.values_mut() {
            *rate = 0.0;
        }
        for (h, sp) in state.setpoints.iter_mut() {
            *sp = c.safety.safe_setpoint(*h);
        }
        state.syringe_left.clone_from(&syringes);
        self.syringes = syringes;
        self.flows = BTreeMap::new();
        state.temperatures = state.setpoints.clone();
        self.state = state;
        for s in suggested {
            if let Some(outcome) = s.measured {
                self.outcomes.push(Done {
                    experiment: s.experiment,
                    point: s.values,
                    outcome,
                });
            }
        }
        self.next_experiment = self
            .outcomes
            .iter()
            .map(|o| o.experiment + 1)
            .max()
            .unwrap_or(0);
        self.batch = records
            .iter()
            .filter_map(|r| match &r.event {
                Event::Suggested { batch, .. } => Some(batch + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        // The run clock goes on from the journal's last record.
        self.offset = records.last().map_or(0.0, |r| r.t);
        if let Some(cal) = calibration {
            self.load_calibration(&cal.files, &cal.dyes)?;
            self.calibrated_at = cal.t;
        }
        // Spectra of a later calibration take the next round's names, never an earlier one's.
        self.calibrations = rounds.max(self.calibrations);
        Ok(())
    }

    /// Reads the calibration spectra a run saved, instead of taking them again: the cell no
    /// longer holds clean solvent.
    fn load_calibration(
        &mut self,
        files: &[String],
        dyes: &BTreeMap<String, qdx_spectra::DyeCalibration>,
    ) -> Result<(), RunError> {
        for file in files {
            let Some((_, channel, what)) = crate::files::spectrum::parse_calibration_file(file)
            else {
                continue;
            };
            let path = self.dir.join(file);
            let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
            let spectrum =
                crate::files::spectrum::read(&text).map_err(|why| RunError::Calibration {
                    file: file.clone(),
                    why,
                })?;
            match what {
                "dark" => {
                    self.calibration.dark.insert(channel, spectrum);
                }
                "reference" => self.calibration.reference = Some(spectrum),
                _ => {}
            }
        }
        // The dyes as the run measured (or the simulated lab computed) them: journaled, not
        // measured again from the files.
        self.calibration.dyes.clone_from(dyes);
        self.calibrated = true;
        Ok(())
    }
}

/// A calibration as the journal recorded it.
struct Calibrated {
    /// Run time it was recorded at, s.
    t: f64,
    files: Vec<String>,
    dyes: BTreeMap<String, qdx_spectra::DyeCalibration>,
}

/// Takes from a syringe what its pump moved since its last rate change, up to `t`.
fn drain(
    syringes: &mut BTreeMap<DeviceId, f64>,
    flows: &BTreeMap<DeviceId, (f64, f64)>,
    device: DeviceId,
    t: f64,
) {
    let (rate, since) = flows.get(&device).copied().unwrap_or((0.0, t));
    if let Some(left) = syringes.get_mut(&device) {
        *left = (*left - rate * (t - since).max(0.0)).max(0.0);
    }
}

/// Re-derives every optimizer decision of a journal from the journaled measurements alone
/// (nothing is measured again) and lists where a suggestion differs from what was run.
pub fn replay_decisions(c: &Campaign, records: &[Record]) -> Result<Vec<String>, RunError> {
    // Batches as journaled, each with its experiments in order.
    let experiments = crate::record::read(c, records);
    let mut batches: BTreeMap<u64, Vec<&crate::record::Experiment>> = BTreeMap::new();
    for e in &experiments {
        batches.entry(e.batch).or_default().push(e);
    }
    let mut differences = Vec::new();
    if let Some(design) = plan_of(c)?.design {
        for (k, e) in batches.values().flatten().enumerate() {
            if design.points.get(k) != Some(&e.point) {
                differences.push(format!(
                    "experiment {}: the design's point {k} is not what was run",
                    e.id
                ));
            }
        }
        return Ok(differences);
    }
    let mut strategy = super::optimizer(c)?;
    // As the run did: the prior data first.
    if !c.search.prior.is_empty() {
        strategy
            .tell(&c.search.prior)
            .map_err(RunError::PriorRefused)?;
    }
    for (batch, members) in &batches {
        let asked = strategy
            .ask(members.len(), &[])
            .map_err(RunError::Optimizer)?;
        for (e, s) in members.iter().zip(&asked) {
            let again = crate::validate::strategy::values(&s.point);
            if again != e.point {
                differences.push(format!(
                    "experiment {} (batch {batch}): the optimizer now suggests {again:?}, the journal ran {:?}",
                    e.id, e.point
                ));
            }
        }
        let told: Vec<opt::Observation> = members.iter().flat_map(|e| e.observations(c)).collect();
        if !told.is_empty() {
            strategy.tell(&told).map_err(RunError::Optimizer)?;
        }
    }
    Ok(differences)
}

/// The ramp a suggestion's explanation says the optimizer chose (`explain.ramp`, see
/// `qdx_optimize::ramp`): `(start, end)`, SI; `None` without one (the declared ramp runs).
pub(crate) fn chosen_ramp(explain: &serde_json::Value) -> Option<(f64, f64)> {
    let ramp: opt::RampChoice = serde_json::from_value(explain.get("ramp")?.clone()).ok()?;
    Some((ramp.from, ramp.to))
}
