//! `qdx run`, `qdx resume`, `qdx verify`, `qdx replay`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::exit;
use crate::diagnostic::{Style, render_all};
use crate::journal::Event;
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
    t.push_str("  observations.csv   one row per experiment (pandas: pd.read_csv(\"…/observations.csv\"))\n");
    t.push_str("  report.html        plots of the campaign\n");
    t.push_str("  journal.jsonl      every event, in order\n");
    t.push_str("  spectra/           raw spectra, CSV with a wavelength column\n");
    t.push_str("  optimizer/         every suggestion with the model's explanation\n");
    t.push_str("  manifest.json      SHA-256 of every file (check with `qdx verify`)\n");
    t
}

/// The exit code of a run that went to its end (see [`exit::of_run`]), saying why on stderr
/// when no experiment succeeded: a script or CI must not take it for success.
fn run_exit(s: &RunSummary) -> u8 {
    let code = exit::of_run(s);
    if code == exit::NO_SUCCESS {
        let why = if s.end == crate::runtime::RunEnd::Aborted {
            "the run stopped on repeated identical failures"
        } else {
            "no experiment succeeded"
        };
        let _ = writeln!(std::io::stderr().lock(), "error: {why}");
    }
    code
}

pub fn run(
    file: &Path,
    out: Option<PathBuf>,
    seed: Option<u64>,
    lab: Option<PathBuf>,
    quiet: bool,
    halt_after: Option<u64>,
    style: Style,
) -> u8 {
    let checked = super::check::check_file(file);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "{}",
        render_all(&checked.diagnostics, &checked.sources, style)
    );
    let Some(mut campaign) = checked.campaign.clone() else {
        return exit::INPUT;
    };
    if let Some(s) = seed {
        campaign.seed = s;
    }
    let binding = match lab {
        Some(lab) => {
            let l = super::check::check_lab_file(&lab, &checked);
            let _ = write!(err, "{}", render_all(&l.diagnostics, &l.sources, style));
            match l.binding {
                Some(b) => Some(b),
                None => return 1,
            }
        }
        None => None,
    };
    let dir = out.unwrap_or_else(|| default_out(&campaign.name));
    if dir.exists() {
        let _ = writeln!(
            err,
            "error: {} already exists; a run never overwrites a bundle (name another --out, \
             or `qdx resume {}` to go on with that run)",
            dir.display(),
            dir.display()
        );
        return exit::INPUT;
    }
    use std::io::IsTerminal;
    let options = RunOptions {
        progress: !quiet && std::io::stderr().is_terminal(),
        // On hardware every record is made durable at once: a crash must not lose a command.
        sync_each: binding.is_some(),
        halt_after,
    };
    drop(err);
    let result = match &binding {
        Some(b) => crate::runtime::run_hardware(&campaign, b, &dir, &options),
        None => crate::runtime::run_simulated(&campaign, &dir, &options),
    };
    match result {
        Ok(s) => {
            let _ = write!(std::io::stdout().lock(), "{}", summary(&s));
            run_exit(&s)
        }
        // The planner refused it (on hardware, with the limits the binding adds): nothing was
        // written.
        Err(RunError::Plan(diags)) => {
            let _ = write!(
                std::io::stderr().lock(),
                "{}",
                render_all(&diags, &checked.sources, style)
            );
            exit::INPUT
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            exit::FAILED
        }
    }
}

/// Validates the campaign stored in a bundle.
fn bundle_campaign(dir: &Path, style: Style) -> Result<crate::validate::Campaign, u8> {
    bundle_checked(dir, style)?.campaign.ok_or(1)
}

/// Validates the campaign stored in a bundle, keeping its sources (for a lab file's
/// diagnostics).
fn bundle_checked(dir: &Path, style: Style) -> Result<crate::validate::Checked, u8> {
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
        let _ = writeln!(
            std::io::stderr().lock(),
            "error: {} holds no campaign (is it a qdx bundle?)",
            dir.display()
        );
        return Err(1);
    };
    let checked = super::check::check_file(&dir.join(entry));
    let _ = write!(
        std::io::stderr().lock(),
        "{}",
        render_all(&checked.diagnostics, &checked.sources, style)
    );
    if checked.campaign.is_none() {
        return Err(1);
    }
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
}

/// Reads what a bundle's journal says of how its run began, or says why it cannot.
fn started(dir: &Path) -> Result<Started, u8> {
    let mut err = std::io::stderr().lock();
    let records = match crate::journal::read(&dir.join("journal.jsonl")) {
        Ok(r) => r,
        Err(crate::journal::JournalError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            let _ = writeln!(
                err,
                "error: {} holds no journal.jsonl (is it a qdx bundle?)",
                dir.display()
            );
            return Err(exit::INPUT);
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Err(exit::FAILED);
        }
    };
    let finished = records
        .iter()
        .any(|r| matches!(r.event, Event::Finished { .. }));
    match records.into_iter().next().map(|r| r.event) {
        Some(Event::Started {
            seed, lab, inputs, ..
        }) => Ok(Started {
            seed,
            lab,
            inputs,
            finished,
        }),
        _ => {
            let _ = writeln!(
                err,
                "error: the journal of {} has no `started` record: the run was cut short before \
                 it began, and its seed is unknown\n  nothing was sent to the lab; start it \
                 again with `qdx run`",
                dir.display()
            );
            Err(exit::FAILED)
        }
    }
}

/// Refuses a bundle whose stored inputs are not those its run started with: a resumed run
/// must go on with the campaign (budget, stop condition, …) it began with.
fn check_inputs(dir: &Path, started: &Started, under: &[&str]) -> Result<(), u8> {
    let problems = crate::bundle::check_inputs(dir, &started.inputs, under);
    if problems.is_empty() {
        return Ok(());
    }
    let mut err = std::io::stderr().lock();
    let missing: Vec<&str> = problems
        .iter()
        .filter_map(|p| match p {
            crate::bundle::InputProblem::Missing(name) => Some(name.as_str()),
            crate::bundle::InputProblem::Edited(_) => None,
        })
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            err,
            "error: the run in {} was cut short as it started, before any experiment: {} {} \
             never stored\n  start it again with `qdx run`",
            dir.display(),
            missing.join(", "),
            if missing.len() == 1 { "was" } else { "were" }
        );
    }
    for p in &problems {
        if let crate::bundle::InputProblem::Edited(name) = p {
            let _ = writeln!(
                err,
                "error: {name} in {} is not the file the run started with (its SHA-256 \
                 differs from the journal's `started` record)\n  a resumed run goes on with \
                 the campaign it began with: undo the edit, or start a new run with the edited \
                 campaign",
                dir.display()
            );
        }
    }
    Err(exit::FAILED)
}

pub fn resume(
    dir: &Path,
    lab: Option<PathBuf>,
    quiet: bool,
    halt_after: Option<u64>,
    style: Style,
) -> u8 {
    let started = match started(dir) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // The lab file stored in the bundle is checked only when it is the one used.
    let under: &[&str] = if lab.is_none() {
        &["campaign/", "lab/"]
    } else {
        &["campaign/"]
    };
    if let Err(code) = check_inputs(dir, &started, under) {
        return code;
    }
    let checked = match bundle_checked(dir, style) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(mut campaign) = checked.campaign.clone() else {
        return exit::INPUT;
    };
    campaign.seed = started.seed;
    let run_lab = started.lab.clone();
    if started.finished {
        // A finished run: only its bundle may be left to write (a kill or a full disk cut
        // the writing short). No lab is needed for that: what a binding applies (pump rate
        // floors) is nothing the derived files show.
        return match crate::runtime::finalise(&campaign, dir) {
            Ok(None) => {
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "the run in {} is finished and its bundle complete: nothing to resume \
                     (`qdx verify` checks it)",
                    dir.display()
                );
                exit::SUCCESS
            }
            Ok(Some(s)) => {
                let _ = write!(
                    std::io::stdout().lock(),
                    "completed the bundle of the finished run (its writing was cut short).\n{}",
                    summary(&s)
                );
                run_exit(&s)
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr().lock(), "error: {e}");
                exit::FAILED
            }
        };
    }
    let mut err = std::io::stderr().lock();
    let binding = if run_lab == "simulated" {
        if let Some(lab) = &lab {
            let _ = writeln!(
                err,
                "error: the run in {} was on the simulated lab; resume it without --lab {}",
                dir.display(),
                lab.display()
            );
            return exit::INPUT;
        }
        None
    } else {
        let Some(lab_path) = lab.or_else(|| bundle_lab_file(dir)) else {
            let _ = writeln!(
                err,
                "error: the run in {} was on the lab `{run_lab}`; name its binding with --lab",
                dir.display()
            );
            return exit::INPUT;
        };
        let l = super::check::check_lab_file(&lab_path, &checked);
        let _ = write!(err, "{}", render_all(&l.diagnostics, &l.sources, style));
        let Some(b) = l.binding else {
            return exit::INPUT;
        };
        if b.name != run_lab {
            let _ = writeln!(
                err,
                "error: the run was on the lab `{run_lab}`, but {} binds `{}`",
                lab_path.display(),
                b.name
            );
            return exit::INPUT;
        }
        Some(b)
    };
    drop(err);
    use std::io::IsTerminal;
    let options = RunOptions {
        progress: !quiet && std::io::stderr().is_terminal(),
        sync_each: binding.is_some(),
        halt_after,
    };
    let result = match &binding {
        Some(b) => crate::runtime::resume_hardware(&campaign, b, dir, &options),
        None => crate::runtime::resume_simulated(&campaign, dir, &options),
    };
    match result {
        Ok(s) => {
            let _ = write!(std::io::stdout().lock(), "resumed.\n{}", summary(&s));
            run_exit(&s)
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            exit::FAILED
        }
    }
}

pub fn verify(dir: &Path) -> u8 {
    match crate::bundle::verify(dir) {
        Ok((manifest, problems)) if problems.is_empty() => {
            let _ = writeln!(
                std::io::stdout().lock(),
                "ok: {} files match the manifest of {} (bundle {})",
                manifest.files.len() + manifest.wall_clock.files.len(),
                dir.display(),
                manifest.bundle_id
            );
            exit::SUCCESS
        }
        Ok((_, problems)) => {
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
            exit::INPUT
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            exit::INPUT
        }
    }
}

/// Re-runs the bundle's campaign with its recorded seed on the simulated lab, in a temporary
/// folder, and compares every reproducible file.
pub fn replay(dir: &Path, style: Style) -> u8 {
    let started = match started(dir) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut campaign = match bundle_campaign(dir, style) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let records = match crate::journal::read(&dir.join("journal.jsonl")) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            return exit::FAILED;
        }
    };
    campaign.seed = started.seed;
    let simulated = started.lab == "simulated";
    // First every decision, from the journaled measurements alone (the live ones: a resumed
    // run's void records were never measured).
    let records = crate::journal::live(&records);
    let mut stdout = std::io::stdout().lock();
    match crate::runtime::replay_decisions(&campaign, &records) {
        Ok(d) if d.is_empty() => {
            let _ = writeln!(
                stdout,
                "ok: every optimizer decision follows from the journaled measurements"
            );
        }
        Ok(d) => {
            for x in &d {
                let _ = writeln!(stdout, "differs: {x}");
            }
            return exit::INPUT;
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            return exit::FAILED;
        }
    }
    if !simulated {
        let _ = writeln!(
            stdout,
            "the run was on real instruments: its measurements cannot be repeated here"
        );
        return exit::SUCCESS;
    }
    drop(stdout);
    let scratch = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: no temporary folder: {e}");
            return exit::FAILED;
        }
    };
    let out = scratch.path().join("replay");
    let options = RunOptions {
        progress: false,
        sync_each: false,
        halt_after: None,
    };
    if let Err(e) = crate::runtime::run_simulated(&campaign, &out, &options) {
        let _ = writeln!(std::io::stderr().lock(), "error: the replay failed: {e}");
        return exit::FAILED;
    }
    let differences = match crate::bundle::compare(dir, &out) {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            return exit::FAILED;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if differences.is_empty() {
        let _ = writeln!(
            stdout,
            "ok: the replay reproduces every decision and measurement of {}",
            dir.display()
        );
        exit::SUCCESS
    } else {
        for d in &differences {
            let _ = writeln!(stdout, "differs: {d}");
        }
        exit::INPUT
    }
}
