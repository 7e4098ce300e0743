//! `qdx run`, `qdx resume`, `qdx verify`, `qdx replay`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Style, render_all};
use crate::runtime::{RunOptions, RunSummary};

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
    t.push_str(&format!("bundle: {}\n", s.bundle.display()));
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

/// The exit code of a run that went to its end: 4 when no experiment succeeded or the run
/// stopped on repeated identical failures (a script or CI must not take it for success).
fn outcome_code(s: &RunSummary) -> u8 {
    if s.failing {
        let _ = writeln!(
            std::io::stderr().lock(),
            "error: {}",
            if s.experiments > 0 && s.failed == s.experiments {
                "no experiment succeeded"
            } else {
                "the run stopped on repeated identical failures"
            }
        );
        4
    } else {
        0
    }
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
        return 1;
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
    // On hardware the planner works with the limits the binding adds (`LabBinding::apply`).
    let planned = binding
        .as_ref()
        .map_or_else(|| campaign.clone(), |b| b.apply(&campaign));
    if let Err(diags) = crate::plan::plan(&planned) {
        let _ = write!(err, "{}", render_all(&diags, &checked.sources, style));
        return 1;
    }
    let dir = out.unwrap_or_else(|| default_out(&campaign.name));
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
            outcome_code(&s)
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            2
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

pub fn resume(
    dir: &Path,
    lab: Option<PathBuf>,
    quiet: bool,
    halt_after: Option<u64>,
    style: Style,
) -> u8 {
    let checked = match bundle_checked(dir, style) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(mut campaign) = checked.campaign.clone() else {
        return 1;
    };
    let mut run_lab = "simulated".to_owned();
    if let Ok(records) = crate::journal::read(&dir.join("journal.jsonl"))
        && let Some(crate::journal::Event::Started { seed, lab, .. }) =
            records.first().map(|r| &r.event)
    {
        campaign.seed = *seed;
        run_lab.clone_from(lab);
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
            return 1;
        }
        None
    } else {
        let Some(lab_path) = lab.or_else(|| bundle_lab_file(dir)) else {
            let _ = writeln!(
                err,
                "error: the run in {} was on the lab `{run_lab}`; name its binding with --lab",
                dir.display()
            );
            return 1;
        };
        let l = super::check::check_lab_file(&lab_path, &checked);
        let _ = write!(err, "{}", render_all(&l.diagnostics, &l.sources, style));
        let Some(b) = l.binding else {
            return 1;
        };
        if b.name != run_lab {
            let _ = writeln!(
                err,
                "error: the run was on the lab `{run_lab}`, but {} binds `{}`",
                lab_path.display(),
                b.name
            );
            return 1;
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
            outcome_code(&s)
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            2
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
            0
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
            1
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            1
        }
    }
}

/// Re-runs the bundle's campaign with its recorded seed on the simulated lab, in a temporary
/// folder, and compares every reproducible file.
pub fn replay(dir: &Path, style: Style) -> u8 {
    let mut campaign = match bundle_campaign(dir, style) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let records = match crate::journal::read(&dir.join("journal.jsonl")) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            return 1;
        }
    };
    let mut simulated = true;
    if let Some(crate::journal::Event::Started { seed, lab, .. }) =
        records.first().map(|r| &r.event)
    {
        campaign.seed = *seed;
        simulated = lab == "simulated";
    }
    // First every decision, from the journaled measurements alone.
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
            return 1;
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            return 2;
        }
    }
    if !simulated {
        let _ = writeln!(
            stdout,
            "the run was on real instruments: its measurements cannot be repeated here"
        );
        return 0;
    }
    drop(stdout);
    let scratch = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: no temporary folder: {e}");
            return 2;
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
        return 2;
    }
    let differences = crate::bundle::compare(dir, &out);
    let mut stdout = std::io::stdout().lock();
    if differences.is_empty() {
        let _ = writeln!(
            stdout,
            "ok: the replay reproduces every decision and measurement of {}",
            dir.display()
        );
        0
    } else {
        for d in &differences {
            let _ = writeln!(stdout, "differs: {d}");
        }
        1
    }
}
