//! `qdx check FILE…`

use std::io::Write as _;
use std::path::Path;

use super::{CliError, Format, Outcome};
use crate::bind::CheckedLab;
use crate::diagnostic::{Style, render_all, to_json};
use crate::validate::{self, summary::summary};
use crate::world::DiskWorld;

/// Checks one file; returns the checked campaign and its diagnostics.
pub fn check_file(path: &Path) -> validate::Checked {
    let display = path.to_string_lossy().replace('\\', "/");
    let loaded = crate::load::load(&DiskWorld, path, &display);
    validate::validate(&loaded, &DiskWorld)
}

/// What a file given to `qdx check` is, checked as such.
enum CheckedFile {
    Campaign(Box<validate::Checked>),
    /// A lab binding file (a `lab` block and no `campaign`), checked on its own: its block,
    /// driver kinds, settings and ports (`--lab` checks it against a campaign).
    Lab(Box<CheckedLab>),
}

fn check_any(path: &Path) -> CheckedFile {
    let display = path.to_string_lossy().replace('\\', "/");
    let loaded = crate::load::load(&DiskWorld, path, &display);
    if loaded.entry_ast().is_some_and(crate::bind::is_lab_file) {
        return CheckedFile::Lab(Box::new(crate::bind::check_lab(
            &DiskWorld,
            path,
            &display,
            crate::source::SourceMap::new(),
            None,
        )));
    }
    CheckedFile::Campaign(Box::new(validate::validate(&loaded, &DiskWorld)))
}

/// Checks a lab binding file against a checked campaign (or alone, when the campaign has
/// errors); its diagnostics may point into the campaign too.
pub fn check_lab_file(lab: &Path, campaign: &validate::Checked) -> CheckedLab {
    let display = lab.to_string_lossy().replace('\\', "/");
    crate::bind::check_lab(
        &DiskWorld,
        lab,
        &display,
        campaign.sources.clone(),
        campaign.campaign.as_ref(),
    )
}

pub fn run(
    files: &[std::path::PathBuf],
    format: Format,
    with_summary: bool,
    lab: Option<&Path>,
    style: Style,
) -> Result<Outcome, CliError> {
    let mut errors = 0;
    let mut warnings = 0;
    let mut json = Vec::new();
    // `--summary --format json`: each campaign's summary as its lines (the text form's).
    let mut summaries = Vec::new();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    for path in files {
        let checked = match check_any(path) {
            CheckedFile::Campaign(c) => *c,
            CheckedFile::Lab(l) => {
                errors += l.diagnostics.error_count();
                warnings += l.diagnostics.warning_count();
                match format {
                    Format::Human => {
                        let text = render_all(&l.diagnostics, &l.sources, style);
                        let _ = write!(stderr.lock(), "{text}");
                        if let Some(p) = &l.parsed {
                            let _ = writeln!(
                                stdout.lock(),
                                "ok: {} (lab {:?}; `--lab` checks it against a campaign)",
                                path.display(),
                                p.name
                            );
                        }
                    }
                    Format::Json => {
                        json.extend(l.diagnostics.iter().map(|d| to_json(d, &l.sources)));
                    }
                }
                continue;
            }
        };
        errors += checked.diagnostics.error_count();
        warnings += checked.diagnostics.warning_count();
        let lab_checked = lab.map(|l| (l, check_lab_file(l, &checked)));
        if let Some((_, l)) = &lab_checked {
            errors += l.diagnostics.error_count();
            warnings += l.diagnostics.warning_count();
        }
        match format {
            Format::Human => {
                let text = render_all(&checked.diagnostics, &checked.sources, style);
                let mut err = stderr.lock();
                let _ = write!(err, "{text}");
                if let Some(c) = &checked.campaign {
                    let mut out = stdout.lock();
                    let _ = writeln!(out, "ok: {} (campaign {:?})", path.display(), c.name);
                    if with_summary {
                        let _ = write!(out, "{}", summary(c));
                    }
                }
                if let Some((lab_path, l)) = &lab_checked {
                    let _ = write!(
                        stderr.lock(),
                        "{}",
                        render_all(&l.diagnostics, &l.sources, style)
                    );
                    if let Some(b) = &l.binding {
                        let _ = writeln!(
                            stdout.lock(),
                            "ok: {} (lab {:?}) binds every device of {}",
                            lab_path.display(),
                            b.name,
                            path.display()
                        );
                    }
                }
            }
            Format::Json => {
                for d in checked.diagnostics.iter() {
                    json.push(to_json(d, &checked.sources));
                }
                if with_summary && let Some(c) = &checked.campaign {
                    summaries.push(serde_json::json!({
                        "file": path.to_string_lossy().replace('\\', "/"),
                        "summary": summary(c).lines().collect::<Vec<_>>(),
                    }));
                }
                if let Some((_, l)) = &lab_checked {
                    for d in l.diagnostics.iter() {
                        json.push(to_json(d, &l.sources));
                    }
                }
            }
        }
    }
    match format {
        Format::Json => {
            let mut report = serde_json::json!({
                "files": files.iter().map(|f| f.to_string_lossy().replace('\\', "/")).collect::<Vec<_>>(),
                "errors": errors,
                "warnings": warnings,
                "diagnostics": json,
            });
            if with_summary && let Some(map) = report.as_object_mut() {
                map.insert("summaries".into(), serde_json::Value::Array(summaries));
            }
            let _ = writeln!(
                stdout.lock(),
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        }
        Format::Human => {
            if errors > 0 || warnings > 0 {
                let _ = writeln!(
                    stderr.lock(),
                    "{} error{}, {} warning{} in {} file{}",
                    errors,
                    if errors == 1 { "" } else { "s" },
                    warnings,
                    if warnings == 1 { "" } else { "s" },
                    files.len(),
                    if files.len() == 1 { "" } else { "s" }
                );
            }
        }
    }
    Ok(if errors > 0 {
        Outcome::Found
    } else {
        Outcome::Success
    })
}
