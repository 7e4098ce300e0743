//! `qdx run`, `qdx resume`, `qdx verify`, `qdx replay`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{CliError, Outcome};
use crate::bundle::InputProblem;
use crate::diagnostic::Style;
use crate::journal::{Event, JournalError};
use crate::runtime::{RunEnd, RunError, RunOptions, RunSummary};

/// `runs/<campaign>-<n>` with the first unused `n`.
pub fn default_out(name: &str) -> PathBuf {
    let mut n = 1;
    loop {
        let p = Path::new("runs").join(format!("{name}-{n}"));
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}

/// What `run` and `resume` show: `--quiet`, `--format`.
#[derive(Debug, Clone, Copy)]
pub struct Show {
    pub quiet: bool,
    pub format: super::TextOrJson,
}

impl Show {
    /// A bar on a terminal, a line per experiment elsewhere, JSON lines for `--format json`.
    fn progress(self) -> crate::runtime::Progress {
        use crate::runtime::Progress;
        use std::io::IsTerminal;
        match self.format {
            super::TextOrJson::Json => Progress::Json,
            _ if self.quiet => Progress::Off,
            _ if std::io::stderr().is_terminal() => Progress::Bar,
            _ => Progress::Lines,
        }
    }

    /// The run's summary on stdout: text, or the last JSON line
    /// `{"event": "finished", bundle, experiments, failed, stop_reason, lab_time_s, finished,
    /// end}`.
    fn summary(self, s: &RunSummary, before: &str) {
        let text = match self.format {
            super::TextOrJson::Json => {
                let end = match s.end {
                    RunEnd::Completed => "completed".to_owned(),
                    RunEnd::Halted => "halted".to_owned(),
                    RunEnd::Aborted => "aborted".to_owned(),
                    RunEnd::Interrupted(signal) => format!("interrupted by {}", signal.name()),
                };
                let mut line = serde_json::json!({
                    "event": "finished",
                    "bundle": s.bundle.display().to_string(),
                    "experiments": s.experiments,
                    "failed": s.failed,
                    "stop_reason": s.stop_reason,
                    "lab_time_s": s.lab_time,
                    "finished": s.finished,
                    "end": end,
                })
                .to_string();
                line.push('\n');
                line
            }
            super::TextOrJson::Text => format!("{before}{}", summary(s)),
        };
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
}

fn summary(s: &RunSummary) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "{} experiments ({} failed or skipped) in {} of lab time; stopped: {}\n",
        s.experiments,
        s.failed,
        crate::plan::hours(s.lab_time),
        s.stop_reason
    ));
    if s.failed >= s.experiments {
        t.push_str("no experiment succeeded\n");
    }
    t.push_str(&format!("bundle: {}\n", s.bundle.display()));
    if let RunEnd::Interrupted(signal) = s.end {
        t.push_str(&format!(
            "{} stopped the run; the lab was brought to its safe state first\n",
            signal.name()
        ));
    }
    if !s.finished {
        t.push_str(&format!(
            "the campaign is not finished: `qdx resume {}` goes on from here\n",
            s.bundle.display()
        ));
    }
    t.push_str(&listing(&s.bundle));
    t
}

/// What the bundle at `dir` holds, one line per file or folder that is there: a run on a
/// virtual lab has no spectra, a transient run stores its ramps as `.npy` stacks, and only
/// a mapping campaign writes `map.csv`, so the listing is read from the folder, not assumed.
fn listing(dir: &Path) -> String {
    let spectra = std::fs::read_dir(dir.join("spectra"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let csv = spectra.iter().any(|n| n.ends_with(".csv"));
    let npy = spectra.iter().any(|n| n.ends_with(".npy"));
    let spectra_line = match (csv, npy) {
        (true, true) => Some(
            "raw spectra, CSV: the axis (wavelength or q), then the values; ramps and trains as .npy",
        ),
        (true, false) => Some("raw spectra, CSV: the axis (wavelength or q), then the values"),
        (false, true) => Some("raw spectra: ramps and droplet trains as .npy stacks (numpy.load)"),
        (false, false) => None,
    };
    let entries: [(&str, Option<&str>); 12] = [
        (
            "observations.csv",
            Some("one row per experiment (pandas: pd.read_csv(\"…/observations.csv\"))"),
        ),
        (
            "datapackage.json",
            Some("every table's columns, types and units (Python: qdx.load(\"…\"))"),
        ),
        ("spectra.csv", Some("the spectrum files of each experiment")),
        ("transient.csv", Some("one row per reading of each ramp")),
        ("droplets.csv", Some("one row per droplet of each train")),
        ("map.csv", Some("the map's mean and sd over a grid")),
        ("report.html", Some("plots of the campaign")),
        ("journal.jsonl", Some("every event, in order")),
        ("spectra/", spectra_line),
        ("fit/", Some("each fitted model's estimates and residuals")),
        (
            "optimizer/",
            Some("every suggestion with the model's explanation"),
        ),
        (
            "manifest.json",
            Some("SHA-256 of every file (check with `qdx verify`)"),
        ),
    ];
    let mut t = String::new();
    for (name, what) in entries {
        let Some(what) = what else { continue };
        if dir.join(name.trim_end_matches('/')).exists() {
            t.push_str(&format!("  {name:<18} {what}\n"));
        }
    }
    t
}

/// The lab a run uses instead of the simulated one: a binding file, its instruments real or
/// emulated.
#[derive(Debug, Clone)]
pub struct LabChoice {
    pub lab: PathBuf,
    pub emulate: bool,
}

/// Said before the summary of a run on emulated instruments, so it is not taken for data.
const DRY_RUN: &str =
    "dry run: the lab's instruments were emulators in the campaign's simulated twin\n";

pub fn run(
    file: &Path,
    out: Option<PathBuf>,
    seed: Option<u64>,
    lab: Option<LabChoice>,
    show: Show,
    halt_after: Option<u64>,
    style: Style,
) -> Result<Outcome, CliError> {
    let checked = super::check::check_file(file);
    let mut campaign = super::usable(
        checked.campaign.clone(),
        &checked.diagnostics,
        &checked.sources,
        style,
    )?;
    if let Some(s) = seed {
        campaign.seed = s;
    }
    let emulate = lab.as_ref().is_some_and(|l| l.emulate);
    let binding = match lab {
        Some(lab) => {
            let l = super::check::check_lab_file(&lab.lab, &checked);
            Some(super::usable(l.binding, &l.diagnostics, &l.sources, style)?)
        }
        None => None,
    };
    let dir = out.unwrap_or_else(|| default_out(&campaign.name));
    if dir.exists() {
        return Err(CliError::OutExists {
            bundle: dir.join("journal.jsonl").is_file(),
            dir,
        });
    }
    let options = RunOptions {
        progress: show.progress(),
        // On hardware every record is made durable at once: a crash must not lose a command.
        sync_each: binding.is_some(),
        halt_after,
    };
    let result = match &binding {
        Some(b) => crate::runtime::run_hardware(&campaign, b, instruments(emulate), &dir, &options),
        None => crate::runtime::run_simulated(&campaign, &dir, &options),
    };
    // A refused plan (on hardware, with the limits the binding adds) wrote nothing.
    let s = result.map_err(|e| CliError::of_run(e, &checked.sources))?;
    show.summary(&s, if emulate { DRY_RUN } else { "" });
    Ok(Outcome::Ran(s))
}

/// Validates the campaign stored in a bundle, keeping its sources (for a lab file's
/// diagnostics).
fn bundle_checked(dir: &Path, style: Style) -> Result<crate::validate::Checked, CliError> {
    let manifest_text = std::fs::read_to_string(dir.join("manifest.json")).ok();
    let entry = manifest_text
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("entry").and_then(|e| e.as_str()).map(str::to_owned))
        .or_else(|| {
            std::fs::read_dir(dir.join("campaign"))
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "qdx"))
                .map(|p| {
                    format!(
                        "campaign/{}",
                        p.file_name().unwrap_or_default().to_string_lossy()
                    )
                })
        });
    let Some(entry) = entry else {
        return Err(CliError::NoCampaign {
            dir: dir.to_path_buf(),
        });
    };
    let checked = super::check::check_file(&dir.join(entry));
    super::usable(
        checked.campaign.as_ref(),
        &checked.diagnostics,
        &checked.sources,
        style,
    )?;
    Ok(checked)
}

/// The lab file a hardware run copied into its bundle.
fn bundle_lab_file(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join("lab"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "qdx"))
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The journal's `started` record: the seed, the lab and the stored inputs' hashes.
struct Started {
    seed: u64,
    lab: String,
    inputs: std::collections::BTreeMap<String, String>,
    finished: bool,
    /// The run was on emulated instruments.
    emulated: bool,
}

/// Reads what a bundle's journal says of how its run began, or says why it cannot.
fn started(dir: &Path) -> Result<Started, CliError> {
    let records = match crate::journal::read(&dir.join("journal.jsonl")) {
        Ok(r) => r,
        // A folder without a journal, or a file (the campaign given instead of its bundle).
        Err(JournalError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound || !dir.is_dir() =>
        {
            return Err(CliError::NoJournal {
                dir: dir.to_path_buf(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let finished = records
        .iter()
        .any(|r| matches!(r.event, Event::Finished { .. }));
    match records.into_iter().next().map(|r| r.event) {
        Some(Event::Started {
            seed,
            lab,
            inputs,
            emulated,
            ..
        }) => Ok(Started {
            seed,
            lab,
            inputs,
            finished,
            emulated,
        }),
        _ => Err(RunError::NotStarted {
            dir: dir.to_path_buf(),
        }
        .into()),
    }
}

/// Refuses a bundle whose stored inputs are not those its run started with: a resumed run
/// must go on with the campaign (budget, stop condition, …) it began with.
fn check_inputs(dir: &Path, started: &Started, under: &[&str]) -> Result<(), CliError> {
    let problems = crate::bundle::check_inputs(dir, &started.inputs, under);
    let missing: Vec<String> = problems
        .iter()
        .filter_map(|p| match p {
            InputProblem::Missing(name) => Some(name.clone()),
            InputProblem::Edited(_) => None,
        })
        .collect();
    let mut errors = Vec::new();
    if !missing.is_empty() {
        errors.push(CliError::InputsMissing {
            dir: dir.to_path_buf(),
            names: missing,
            seed: started.seed,
        });
    }
    for p in problems {
        if let InputProblem::Edited(name) = p {
            errors.push(CliError::InputEdited {
                dir: dir.to_path_buf(),
                name,
            });
        }
    }
    CliError::all(errors).map_or(Ok(()), Err)
}

pub fn resume(
    dir: &Path,
    lab: Option<PathBuf>,
    emulate: bool,
    show: Show,
    halt_after: Option<u64>,
    style: Style,
) -> Result<Outcome, CliError> {
    let started = started(dir)?;
    // The lab file stored in the bundle is checked only when it is the one used.
    let under: &[&str] = if lab.is_none() {
        &["campaign/", "lab/"]
    } else {
        &["campaign/"]
    };
    check_inputs(dir, &started, under)?;
    let checked = bundle_checked(dir, style)?;
    let Some(mut campaign) = checked.campaign.clone() else {
        return Err(CliError::NoCampaign {
            dir: dir.to_path_buf(),
        });
    };
    campaign.seed = started.seed;
    let run_lab = started.lab.clone();
    if started.finished {
        // A finished run: only its bundle may be left to write (a kill or a full disk cut
        // the writing short). No lab is needed for that: what a binding applies (pump rate
        // floors) is nothing the derived files show.
        return match crate::runtime::finalise(&campaign, dir)? {
            None => {
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "the run in {} is finished and its bundle complete: nothing to resume \
                     (`qdx verify` checks it)",
                    dir.display()
                );
                Ok(Outcome::Success)
            }
            Some(s) => {
                let _ = write!(
                    std::io::stdout().lock(),
                    "completed the bundle of the finished run (its writing was cut short).\n{}",
                    summary(&s)
                );
                Ok(Outcome::Ran(s))
            }
        };
    }
    // A dry run on emulators is never continued on the instruments, nor a real run on
    // emulators: the journal would mix two labs.
    if emulate != started.emulated {
        return Err(CliError::EmulationMismatch {
            dir: dir.to_path_buf(),
            emulated: started.emulated,
        });
    }
    let binding = if run_lab == "simulated" {
        if let Some(lab) = lab {
            return Err(CliError::SimulatedRun {
                dir: dir.to_path_buf(),
                lab,
            });
        }
        None
    } else {
        let Some(lab_path) = lab.or_else(|| bundle_lab_file(dir)) else {
            return Err(CliError::LabNeeded {
                dir: dir.to_path_buf(),
                lab: run_lab,
            });
        };
        let l = super::check::check_lab_file(&lab_path, &checked);
        let b = super::usable(l.binding, &l.diagnostics, &l.sources, style)?;
        if b.name != run_lab {
            return Err(CliError::LabMismatch {
                ran_on: run_lab,
                file: lab_path,
                binds: b.name,
            });
        }
        Some(b)
    };
    let options = RunOptions {
        progress: show.progress(),
        sync_each: binding.is_some(),
        halt_after,
    };
    let result = match &binding {
        Some(b) => {
            crate::runtime::resume_hardware(&campaign, b, instruments(emulate), dir, &options)
        }
        None => crate::runtime::resume_simulated(&campaign, dir, &options),
    };
    let s = result.map_err(|e| CliError::of_run(e, &checked.sources))?;
    let before = if emulate {
        format!("resumed.\n{DRY_RUN}")
    } else {
        "resumed.\n".to_owned()
    };
    show.summary(&s, &before);
    Ok(Outcome::Ran(s))
}

pub fn verify(dir: &Path, format: super::TextOrJson) -> Result<Outcome, CliError> {
    let (manifest, problems) = crate::bundle::verify(dir)?;
    if format == super::TextOrJson::Json {
        let report = serde_json::json!({
            "ok": problems.is_empty(),
            "bundle": dir.display().to_string(),
            "bundle_id": manifest.bundle_id,
            "files": manifest.files.len() + manifest.wall_clock.files.len(),
            "problems": problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        let _ = writeln!(std::io::stdout().lock(), "{report}");
        return Ok(if problems.is_empty() {
            Outcome::Success
        } else {
            Outcome::Found
        });
    }
    if problems.is_empty() {
        let _ = writeln!(
            std::io::stdout().lock(),
            "ok: {} files match the manifest of {} (bundle {})",
            manifest.files.len() + manifest.wall_clock.files.len(),
            dir.display(),
            manifest.bundle_id
        );
        return Ok(Outcome::Success);
    }
    let mut err = std::io::stderr().lock();
    for p in &problems {
        let _ = writeln!(err, "error: {p}");
    }
    let _ = writeln!(
        err,
        "{} problem{} in {}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        dir.display()
    );
    Ok(Outcome::Found)
}

/// Re-runs the bundle's campaign with its recorded seed on the simulated lab, in a temporary
/// folder, and compares every reproducible file.
pub fn replay(dir: &Path, format: super::TextOrJson, style: Style) -> Result<Outcome, CliError> {
    let json = format == super::TextOrJson::Json;
    // In JSON, one object at the end: what differs in the decisions, then in the files.
    let done = |decisions: &[String], files: Option<&[String]>| {
        let ok = decisions.is_empty() && files.is_none_or(<[String]>::is_empty);
        let report = serde_json::json!({
            "ok": ok,
            "decisions": decisions,
            "files": files.unwrap_or_default(),
            "measurements_repeated": files.is_some(),
        });
        let _ = writeln!(std::io::stdout().lock(), "{report}");
        if ok { Outcome::Success } else { Outcome::Found }
    };
    let started = started(dir)?;
    let checked = bundle_checked(dir, style)?;
    let Some(mut campaign) = checked.campaign else {
        return Err(CliError::NoCampaign {
            dir: dir.to_path_buf(),
        });
    };
    let records = crate::journal::read(&dir.join("journal.jsonl"))?;
    campaign.seed = started.seed;
    let simulated = started.lab == "simulated";
    // First every decision, from the journaled measurements alone (the live ones: a resumed
    // run's void records were never measured).
    let records = crate::journal::live(&records);
    let decisions = crate::runtime::replay_decisions(&campaign, &records)
        .map_err(|e| CliError::of_run(e, &checked.sources))?;
    let decisions: Vec<String> = decisions.iter().map(ToString::to_string).collect();
    if json {
        if !decisions.is_empty() || !simulated {
            return Ok(done(&decisions, None));
        }
    } else {
        let mut stdout = std::io::stdout().lock();
        if decisions.is_empty() {
            let _ = writeln!(
                stdout,
                "ok: every optimizer decision follows from the journaled measurements"
            );
        } else {
            for x in &decisions {
                let _ = writeln!(stdout, "differs: {x}");
            }
            return Ok(Outcome::Found);
        }
        if !simulated {
            let _ = writeln!(
                stdout,
                "the run was on real instruments: its measurements cannot be repeated here"
            );
            return Ok(Outcome::Success);
        }
    }
    let scratch = tempfile::tempdir().map_err(CliError::TempDir)?;
    let out = scratch.path().join("replay");
    let options = RunOptions {
        progress: crate::runtime::Progress::Off,
        sync_each: false,
        halt_after: None,
    };
    crate::runtime::run_simulated(&campaign, &out, &options).map_err(CliError::Replay)?;
    let differences = crate::bundle::compare(dir, &out)?;
    if json {
        let files: Vec<String> = differences.iter().map(ToString::to_string).collect();
        return Ok(done(&decisions, Some(&files)));
    }
    let mut stdout = std::io::stdout().lock();
    if differences.is_empty() {
        let _ = writeln!(
            stdout,
            "ok: the replay reproduces every decision and measurement of {}",
            dir.display()
        );
        Ok(Outcome::Success)
    } else {
        for d in &differences {
            let _ = writeln!(stdout, "differs: {d}");
        }
        Ok(Outcome::Found)
    }
}

/// `qdx report`: the bundle's report rendered again from its stored campaign and journal.
pub fn report(
    dir: &Path,
    format: super::ReportFormat,
    out: Option<&Path>,
    style: Style,
) -> Result<Outcome, CliError> {
    started(dir)?;
    let checked = bundle_checked(dir, style)?;
    let Some(campaign) = checked.campaign else {
        return Err(CliError::NoCampaign {
            dir: dir.to_path_buf(),
        });
    };
    let format = match format {
        super::ReportFormat::Html => crate::report::Format::Html,
        super::ReportFormat::Json => crate::report::Format::Json,
        super::ReportFormat::Md => crate::report::Format::Markdown,
    };
    let text = crate::bundle::report(dir, &campaign, format)?;
    match out {
        Some(path) => crate::files::write_atomic(path, text.as_bytes()).map_err(|source| {
            CliError::WriteFile {
                path: path.to_path_buf(),
                source,
            }
        })?,
        None => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    Ok(Outcome::Success)
}

/// The instruments `--emulate` asks for.
fn instruments(emulate: bool) -> crate::runtime::Instruments {
    if emulate {
        crate::runtime::Instruments::Emulated
    } else {
        crate::runtime::Instruments::Real
    }
}
