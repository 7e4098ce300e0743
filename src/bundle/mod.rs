//! Stage 5, bundle: the result folder a run leaves, written from its journal.
//!
//! ```text
//! runs/<campaign>-<n>/
//!   manifest.json        versions, seed, lab, the SHA-256 of every file below, the bundle id,
//!                        and (set apart) the wall-clock times
//!   campaign/            the campaign and every file it uses, exactly as run
//!   plan.json            the execution plan
//!   journal.jsonl        every event, in order (the source of truth)
//!   observations.csv     one row per experiment: variables and settings in the user's units
//!                        (unit in the column name), proxies, objective scores, run times
//!   optimizer/suggestions.jsonl   every suggestion with the model's explanation
//!   spectra/             raw spectra (CSV with a wavelength column)
//!   wall.jsonl           wall-clock times (not part of the bundle id)
//! ```
//!
//! Invariants: everything but `manifest.json` and the files of its `wall_clock` section is a
//! function of the campaign, the lab and the seed, so two runs of the same campaign and seed
//! give byte-identical files there; the bundle id is the SHA-256 of the sorted
//! `(path, hash)` list of those files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::journal::{self, Event};
use crate::validate::campaign::*;

/// Files whose content depends on the wall clock; the manifest lists them apart.
pub const WALL_FILES: &[&str] = &["wall.jsonl"];

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error("{0}")]
    Invalid(String),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WallClock {
    pub started_at: String,
    pub finished_at: String,
    /// Hashes of the wall-clock files.
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub qdx_version: String,
    pub language_version: u32,
    pub campaign: String,
    /// The campaign's entry file inside the bundle.
    pub entry: String,
    pub seed: u64,
    pub lab: String,
    pub experiments: u64,
    pub stop_reason: String,
    /// SHA-256 of every file, by path relative to the bundle.
    pub files: BTreeMap<String, String>,
    pub bundle_id: String,
    pub wall_clock: WallClock,
}

/// SHA-256 of bytes, lowercase hex.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BundleError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            list_files(root, &p, out)?;
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_path_buf());
        }
    }
    Ok(())
}

fn rel_name(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// The bundle id: SHA-256 over the sorted `path  hash` lines.
pub fn bundle_id(files: &BTreeMap<String, String>) -> String {
    let mut text = String::new();
    for (k, v) in files {
        let _ = writeln!(text, "{v}  {k}");
    }
    sha256(text.as_bytes())
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn header_name(name: &str, unit: &DisplayUnit) -> String {
    if unit.symbol().is_empty() {
        name.to_owned()
    } else {
        format!("{name} [{}]", unit.symbol())
    }
}

/// `observations.csv` from the journal.
pub fn observations_csv(c: &Campaign, records: &[journal::Record]) -> String {
    struct Row {
        values: Vec<f64>,
        t_start: f64,
        t_end: Option<f64>,
        status: String,
        reason: String,
        proxies: BTreeMap<String, Option<f64>>,
    }
    let mut rows: BTreeMap<u64, Row> = BTreeMap::new();
    for r in records {
        match &r.event {
            Event::Suggested {
                experiment, values, ..
            } => {
                rows.insert(
                    *experiment,
                    Row {
                        values: values.clone(),
                        t_start: r.t,
                        t_end: None,
                        status: "unfinished".into(),
                        reason: String::new(),
                        proxies: BTreeMap::new(),
                    },
                );
            }
            Event::Measured {
                experiment,
                status,
                reason,
                proxies,
                ..
            } => {
                if let Some(row) = rows.get_mut(experiment) {
                    row.t_end = Some(r.t);
                    row.status.clone_from(status);
                    row.reason = reason.clone().unwrap_or_default();
                    row.proxies.clone_from(proxies);
                }
            }
            _ => {}
        }
    }
    // Objective scores, computed over all finished experiments together.
    let finished: Vec<(u64, &Row)> = rows
        .iter()
        .filter(|(_, r)| r.t_end.is_some())
        .map(|(k, r)| (*k, r))
        .collect();
    let scores: BTreeMap<u64, qdx_optimize::Score> = match crate::strategy::objectives(c) {
        Ok(obj) if !c.objectives.list.is_empty() => {
            let obs: Vec<qdx_optimize::Observation> = finished
                .iter()
                .map(|(k, r)| {
                    let o = crate::runtime::Outcome {
                        experiment: *k,
                        values: r.values.clone(),
                        proxies: c
                            .proxies
                            .iter()
                            .map(|p| r.proxies.get(&p.name).copied().flatten())
                            .collect(),
                        status: r.status.clone(),
                        reason: None,
                        readings: BTreeMap::new(),
                    };
                    crate::runtime::observation(c, &o)
                })
                .collect();
            finished
                .iter()
                .map(|(k, _)| *k)
                .zip(obj.score(&obs))
                .collect()
        }
        _ => BTreeMap::new(),
    };
    let settings: Vec<&Derived> = c
        .derived
        .iter()
        .filter(|d| matches!(d.target, DerivedTarget::Setting { .. }))
        .collect();
    let mut out = String::new();
    let mut header = vec!["experiment".to_owned(), "status".to_owned()];
    header.extend(c.variables.iter().map(|v| header_name(&v.name, &v.unit)));
    header.extend(settings.iter().map(|d| header_name(&d.name, &d.unit)));
    header.extend(c.proxies.iter().map(|p| header_name(&p.name, &p.unit)));
    for o in &c.objectives.list {
        header.push(format!("desirability:{}", o.name));
    }
    if !c.objectives.list.is_empty() {
        header.push("objective".into());
        if c.objectives.combine == Combine::Pareto {
            header.push("pareto_front".into());
        }
    }
    header.extend([
        "lab_time_start [s]".to_owned(),
        "lab_time_end [s]".to_owned(),
        "reason".to_owned(),
    ]);
    out.push_str(
        &header
            .iter()
            .map(|h| csv_cell(h))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push('\n');
    let num = |x: f64| qdx_units::format_number(x);
    for (id, row) in &rows {
        let mut cells = vec![id.to_string(), row.status.clone()];
        for (v, x) in c.variables.iter().zip(&row.values) {
            cells.push(match &v.domain {
                Domain::Choice { levels } => levels
                    .get(x.round().max(0.0) as usize)
                    .cloned()
                    .unwrap_or_default(),
                _ => v.unit.number(*x),
            });
        }
        let derived = crate::plan::experiment::derive_values(c, &row.values);
        for d in &settings {
            let k = c
                .derived
                .iter()
                .position(|x| std::ptr::eq(x, *d))
                .unwrap_or(0);
            cells.push(
                derived
                    .get(k)
                    .map_or_else(String::new, |v| d.unit.number(*v)),
            );
        }
        for p in &c.proxies {
            cells.push(
                row.proxies
                    .get(&p.name)
                    .copied()
                    .flatten()
                    .map_or_else(String::new, |v| p.unit.number(v)),
            );
        }
        if !c.objectives.list.is_empty() {
            let score = scores.get(id);
            for k in 0..c.objectives.list.len() {
                cells.push(
                    score
                        .and_then(|s| s.desirabilities.get(k).copied().flatten())
                        .map_or_else(String::new, num),
                );
            }
            cells.push(score.and_then(|s| s.combined).map_or_else(String::new, num));
            if c.objectives.combine == Combine::Pareto {
                cells.push(score.map_or_else(String::new, |s| s.on_front.to_string()));
            }
        }
        cells.push(num(row.t_start));
        cells.push(row.t_end.map_or_else(String::new, num));
        cells.push(row.reason.clone());
        out.push_str(
            &cells
                .iter()
                .map(|s| csv_cell(s))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

/// `optimizer/suggestions.jsonl` from the journal: each suggestion in the user's units with the
/// strategy's explanation.
pub fn suggestions_jsonl(c: &Campaign, records: &[journal::Record]) -> String {
    let mut out = String::new();
    for r in records {
        if let Event::Suggested {
            experiment,
            batch,
            values,
            explain,
        } = &r.event
        {
            let mut vars = serde_json::Map::new();
            for (v, x) in c.variables.iter().zip(values) {
                let value = match &v.domain {
                    Domain::Choice { levels } => serde_json::Value::String(
                        levels
                            .get(x.round().max(0.0) as usize)
                            .cloned()
                            .unwrap_or_default(),
                    ),
                    _ => serde_json::json!(v.unit.from_si(*x)),
                };
                vars.insert(header_name(&v.name, &v.unit), value);
            }
            let line = serde_json::json!({ "experiment": experiment, "batch": batch, "variables": vars, "explain": explain });
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
    out
}

/// Writes the files derived from the journal, then the manifest over everything.
pub fn write(dir: &Path, c: &Campaign, started: &str) -> Result<Manifest, BundleError> {
    let records = journal::read(&dir.join("journal.jsonl"))?;
    let write_file = |rel: &str, text: &str| -> Result<(), BundleError> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))
    };
    write_file("observations.csv", &observations_csv(c, &records))?;
    write_file(
        "optimizer/suggestions.jsonl",
        &suggestions_jsonl(c, &records),
    )?;
    crate::report::write(dir, c, &records)
        .map_err(|e| BundleError::Invalid(format!("report: {e}")))?;
    let mut lab = "simulated".to_owned();
    let mut stop_reason = String::new();
    let mut experiments = 0;
    for r in &records {
        match &r.event {
            Event::Started { lab: l, .. } => lab.clone_from(l),
            Event::Stopped { reason } => stop_reason.clone_from(reason),
            Event::Measured { .. } => experiments += 1,
            _ => {}
        }
    }
    let mut files = BTreeMap::new();
    let mut wall_files = BTreeMap::new();
    let mut all = Vec::new();
    list_files(dir, dir, &mut all)?;
    for rel in all {
        let name = rel_name(&rel);
        if name == "manifest.json" {
            continue;
        }
        let bytes = std::fs::read(dir.join(&rel)).map_err(io(&rel))?;
        if WALL_FILES.contains(&name.as_str()) {
            wall_files.insert(name, sha256(&bytes));
        } else {
            files.insert(name, sha256(&bytes));
        }
    }
    let entry = c
        .files
        .iter()
        .find(|f| f.role == FileRole::Campaign)
        .map_or_else(
            || "campaign/campaign.qdx".to_owned(),
            |f| format!("campaign/{}", f.name),
        );
    let manifest = Manifest {
        qdx_version: env!("CARGO_PKG_VERSION").into(),
        language_version: c.language_version,
        campaign: c.name.clone(),
        entry,
        seed: c.seed,
        lab,
        experiments,
        stop_reason,
        bundle_id: bundle_id(&files),
        files,
        wall_clock: WallClock {
            started_at: started.to_owned(),
            finished_at: crate::runtime::wall::now_utc(),
            files: wall_files,
        },
    };
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| BundleError::Invalid(e.to_string()))?
        + "\n";
    write_file("manifest.json", &text)?;
    Ok(manifest)
}

/// Differences between two bundles' reproducible files (what `qdx replay` reports).
pub fn compare(a: &Path, b: &Path) -> Vec<String> {
    let read = |d: &Path| -> Option<Manifest> {
        serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).ok()?).ok()
    };
    let (Some(ma), Some(mb)) = (read(a), read(b)) else {
        return vec!["a manifest is missing or unreadable".into()];
    };
    let mut out = Vec::new();
    for (name, hash) in &ma.files {
        match mb.files.get(name) {
            Some(h) if h == hash => {}
            Some(_) => out.push(format!("{name} has different content")),
            None => out.push(format!("{name} is not produced by the replay")),
        }
    }
    for name in mb.files.keys() {
        if !ma.files.contains_key(name) {
            out.push(format!(
                "{name} is produced by the replay but not in the bundle"
            ));
        }
    }
    out
}

/// One problem `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Missing(String),
    Changed(String),
    Unlisted(String),
    WrongId { recorded: String, computed: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing(p) => write!(f, "{p}: listed in the manifest but missing"),
            Problem::Changed(p) => write!(f, "{p}: differs from the manifest (SHA-256 mismatch)"),
            Problem::Unlisted(p) => write!(f, "{p}: not listed in the manifest"),
            Problem::WrongId { recorded, computed } => write!(
                f,
                "manifest.json: the bundle id {recorded} does not match its files ({computed})"
            ),
        }
    }
}

/// Checks every file against the manifest.
pub fn verify(dir: &Path) -> Result<(Manifest, Vec<Problem>), BundleError> {
    let text = std::fs::read_to_string(dir.join("manifest.json"))
        .map_err(io(&dir.join("manifest.json")))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| BundleError::Invalid(format!("manifest.json is not a qdx manifest: {e}")))?;
    let mut problems = Vec::new();
    let mut present = Vec::new();
    list_files(dir, dir, &mut present)?;
    let present: Vec<String> = present.iter().map(|p| rel_name(p)).collect();
    for (section, expected) in [(&manifest.files, true), (&manifest.wall_clock.files, false)] {
        let _ = expected;
        for (name, hash) in section {
            match std::fs::read(dir.join(name)) {
                Ok(bytes) => {
                    if &sha256(&bytes) != hash {
                        problems.push(Problem::Changed(name.clone()));
                    }
                }
                Err(_) => problems.push(Problem::Missing(name.clone())),
            }
        }
    }
    for name in present {
        if name != "manifest.json"
            && !manifest.files.contains_key(&name)
            && !manifest.wall_clock.files.contains_key(&name)
        {
            problems.push(Problem::Unlisted(name));
        }
    }
    let computed = bundle_id(&manifest.files);
    if computed != manifest.bundle_id {
        problems.push(Problem::WrongId {
            recorded: manifest.bundle_id.clone(),
            computed,
        });
    }
    Ok((manifest, problems))
}
