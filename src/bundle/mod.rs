//! Stage 6, bundle: the result folder a run leaves, written from its journal: the derived
//! files, the report, and the manifest over everything; and checking a bundle (`verify`) and
//! comparing it with its replay. What each file holds, column by column, is in [`crate::files`].
//!
//! Invariants: everything but `manifest.json` and the files of its `wall_clock` section is a
//! function of the campaign, the lab and the seed, so two runs of the same campaign and seed
//! give byte-identical files there (a resumed run too: the derived files are written from the
//! journal's live records, [`journal::live`]); the bundle id is the SHA-256 of the sorted
//! `(path, hash)` list of those files, and the manifest's other fields are checked against the
//! journal (which the id covers) by [`verify`]. Every file qdx writes whole is written to a
//! temporary name and renamed into place, and `manifest.json` is written last: a bundle with a
//! manifest is complete, one without is being written (or was cut short, and `qdx resume`
//! completes it).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::files;
use crate::journal::{self, Event};
use crate::validate::campaign::*;

/// Files whose content depends on the wall clock; the manifest lists them apart.
pub const WALL_FILES: &[&str] = &["wall.jsonl"];

/// How a stored input file differs from what the run started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputProblem {
    /// Never written: the run was cut short while storing its inputs.
    Missing(String),
    /// Not what the run started with.
    Edited(String),
}

/// Compares the stored input files under the folders `under` (`"campaign/"`, `"lab/"`) with
/// the hashes the journal's `started` record holds.
pub fn check_inputs(
    dir: &Path,
    inputs: &BTreeMap<String, String>,
    under: &[&str],
) -> Vec<InputProblem> {
    inputs
        .iter()
        .filter(|(name, _)| under.iter().any(|u| name.starts_with(u)))
        .filter_map(|(name, hash)| match std::fs::read(dir.join(name)) {
            Err(_) => Some(InputProblem::Missing(name.clone())),
            Ok(bytes) if &files::sha256(&bytes) != hash => Some(InputProblem::Edited(name.clone())),
            Ok(_) => None,
        })
        .collect()
}

/// Whether the bundle's finalisation completed: its manifest is there and reads as one.
pub fn is_complete(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("manifest.json"))
        .ok()
        .is_some_and(|t| serde_json::from_str::<Manifest>(&t).is_ok())
}

/// Removes the manifest of a bundle about to change (a resumed run): until the run writes a
/// new one, the bundle is incomplete rather than wrongly described.
pub fn remove_manifest(dir: &Path) -> Result<(), BundleError> {
    let path = dir.join("manifest.json");
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path)(e)),
        _ => Ok(()),
    }
}

/// When the run began by the wall clock: the first time `wall.jsonl` holds (a bundle
/// completed by `qdx resume` has no other record of it).
pub fn wall_started(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("wall.jsonl")).ok()?;
    let first: serde_json::Value = serde_json::from_str(text.lines().next()?).ok()?;
    first.get("started")?.as_str().map(str::to_owned)
}

/// Why a bundle could not be written, read or checked. The exit code of each variant is
/// decided with the others in [`crate::cli::ErrorKind`].
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    /// `report.html` could not be written (a full disk).
    #[error("cannot write the report {}: {source}", .path.display())]
    Report {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A manifest or a record that does not serialize (a bug).
    #[error("{0}")]
    Serialize(serde_json::Error),
    /// The folder holds neither a manifest nor a journal.
    #[error("{} holds no manifest.json (is it a qdx bundle?)", .dir.display())]
    NotABundle { dir: PathBuf },
    /// A bundle without its manifest: its run is going on, or stopped before it was written.
    #[error(
        "the bundle {} is not complete: its run is going on, was interrupted, or was cut short \
         while writing the bundle; `qdx resume {}` completes it",
        .dir.display(),
        .dir.display()
    )]
    Incomplete { dir: PathBuf },
    #[error("manifest.json is not a qdx manifest: {0}")]
    NotAManifest(serde_json::Error),
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
    /// The lab's instruments were emulators (`qdx run --emulate`): a dry run, not data.
    /// Absent (false) otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emulated: bool,
    pub experiments: u64,
    pub stop_reason: String,
    /// SHA-256 of every file, by path relative to the bundle.
    pub files: BTreeMap<String, String>,
    pub bundle_id: String,
    pub wall_clock: WallClock,
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
    files::sha256(text.as_bytes())
}

/// What the manifest says about a run besides its files, as the journal's live records have
/// it.
struct Facts {
    seed: Option<u64>,
    campaign: Option<String>,
    language_version: Option<u32>,
    lab: String,
    emulated: bool,
    experiments: u64,
    stop_reason: String,
}

impl Facts {
    fn of(records: &[journal::Record]) -> Facts {
        let mut facts = Facts {
            seed: None,
            campaign: None,
            language_version: None,
            lab: "simulated".to_owned(),
            emulated: false,
            experiments: 0,
            stop_reason: String::new(),
        };
        for r in records {
            match &r.event {
                Event::Started {
                    seed,
                    campaign,
                    language_version,
                    lab,
                    emulated,
                    ..
                } => {
                    facts.seed = Some(*seed);
                    facts.campaign = Some(campaign.clone());
                    facts.language_version = Some(*language_version);
                    facts.lab.clone_from(lab);
                    facts.emulated = *emulated;
                }
                Event::Stopped { reason } => facts.stop_reason.clone_from(reason),
                Event::Measured { .. } => facts.experiments += 1,
                _ => {}
            }
        }
        facts
    }

    /// Where the manifest's fields disagree with the journal's.
    fn disagreements(&self, m: &Manifest) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut check = |field: &str, manifest: String, journal: Option<String>| {
            if let Some(journal) = journal
                && journal != manifest
            {
                out.push(Problem::Metadata {
                    field: field.to_owned(),
                    manifest,
                    journal,
                });
            }
        };
        check("seed", m.seed.to_string(), self.seed.map(|s| s.to_string()));
        check("campaign", m.campaign.clone(), self.campaign.clone());
        check(
            "language_version",
            m.language_version.to_string(),
            self.language_version.map(|v| v.to_string()),
        );
        check("lab", m.lab.clone(), Some(self.lab.clone()));
        check(
            "emulated",
            m.emulated.to_string(),
            Some(self.emulated.to_string()),
        );
        check(
            "experiments",
            m.experiments.to_string(),
            Some(self.experiments.to_string()),
        );
        check(
            "stop_reason",
            m.stop_reason.clone(),
            Some(self.stop_reason.clone()),
        );
        out
    }
}

/// The report of a bundle (`qdx report`): like every derived file, a function of the
/// campaign and the journal's live records, so an upgraded qdx can render an old bundle again.
pub fn report(
    dir: &Path,
    c: &Campaign,
    format: crate::report::Format,
) -> Result<String, BundleError> {
    let records = journal::live(&journal::read(&dir.join("journal.jsonl"))?);
    let experiments = crate::record::read(c, &records);
    let scores = crate::record::scores(c, &experiments);
    let facts = Facts::of(&records);
    Ok(crate::report::render(
        &crate::report::Inputs {
            dir,
            campaign: c,
            experiments: &experiments,
            scores: &scores,
            stop_reason: &facts.stop_reason,
        },
        format,
    ))
}

/// Writes the files derived from the journal's live records, then the manifest over
/// everything. Idempotent: the derived files are a function of the journal, so writing a
/// bundle again (a finalisation cut short, completed by `qdx resume`) gives the same files.
pub fn write(dir: &Path, c: &Campaign, started: &str) -> Result<Manifest, BundleError> {
    let records = journal::live(&journal::read(&dir.join("journal.jsonl"))?);
    let write_file = |rel: &str, text: &str| -> Result<(), BundleError> {
        let path = dir.join(rel);
        files::write_atomic(&path, text.as_bytes()).map_err(io(&path))
    };
    let experiments = crate::record::read(c, &records);
    let scores = crate::record::scores(c, &experiments);
    write_file(
        "observations.csv",
        &files::observations::write(c, &experiments, &scores),
    )?;
    write_file(
        "optimizer/suggestions.jsonl",
        &files::suggestions::write(c, &experiments),
    )?;
    let probe = c.measurement.as_ref().is_some_and(|m| m.probe.is_some());
    let transient = c.measurement.as_ref().and_then(|m| m.transient.as_ref());
    let droplets = c.measurement.as_ref().is_some_and(|m| m.droplets.is_some());
    write_file(
        "spectra.csv",
        &files::spectrum::index(&experiments, probe, transient.is_some() || droplets),
    )?;
    if droplets {
        write_file("droplets.csv", &files::droplets::write(c, &experiments))?;
    }
    if let Some(t) = transient {
        write_file(
            "transient.csv",
            &files::transient::write(c, t, &experiments),
        )?;
    }
    if c.objectives.map.is_some() {
        let observations: Vec<qdx_optimize::Observation> = c
            .search
            .prior
            .iter()
            .cloned()
            .chain(experiments.iter().flat_map(|e| e.observations(c)))
            .collect();
        if let Some(text) = files::map::write(c, &observations) {
            write_file("map.csv", &text)?;
        }
    }
    for fit in &c.fits {
        let (json, csv) = files::fit::write(c, fit, &experiments);
        write_file(&format!("fit/{}.json", fit.name), &json)?;
        write_file(&format!("fit/{}.csv", fit.name), &csv)?;
    }
    write_file("datapackage.json", &files::package::write(c))?;
    let facts = Facts::of(&records);
    let inputs = crate::report::Inputs {
        dir,
        campaign: c,
        experiments: &experiments,
        scores: &scores,
        stop_reason: &facts.stop_reason,
    };
    crate::report::write(&inputs).map_err(|source| BundleError::Report {
        path: dir.join("report.html"),
        source,
    })?;
    let mut files = BTreeMap::new();
    let mut wall_files = BTreeMap::new();
    let mut all = Vec::new();
    list_files(dir, dir, &mut all)?;
    for rel in all {
        let name = rel_name(&rel);
        if files::is_temp(&name) {
            // Left by a process killed mid-write; the file it was for is written whole.
            let path = dir.join(&rel);
            std::fs::remove_file(&path).map_err(io(&path))?;
            continue;
        }
        if name == "manifest.json" {
            continue;
        }
        let path = dir.join(&rel);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        if WALL_FILES.contains(&name.as_str()) {
            wall_files.insert(name, files::sha256(&bytes));
        } else {
            files.insert(name, files::sha256(&bytes));
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
        language_version: facts.language_version.unwrap_or(c.language_version),
        campaign: facts.campaign.unwrap_or_else(|| c.name.clone()),
        entry,
        seed: facts.seed.unwrap_or(c.seed),
        lab: facts.lab,
        emulated: facts.emulated,
        experiments: facts.experiments,
        stop_reason: facts.stop_reason,
        bundle_id: bundle_id(&files),
        files,
        wall_clock: WallClock {
            started_at: started.to_owned(),
            finished_at: crate::files::wall::now_utc(),
            files: wall_files,
        },
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(BundleError::Serialize)? + "\n";
    write_file("manifest.json", &text)?;
    Ok(manifest)
}

/// The reproducible files of a bundle (all but the manifest, the wall-clock files and
/// temporary files), by path relative to it.
fn reproducible_files(dir: &Path) -> Result<Vec<String>, BundleError> {
    let mut all = Vec::new();
    list_files(dir, dir, &mut all)?;
    Ok(all
        .iter()
        .map(|p| rel_name(p))
        .filter(|n| n != "manifest.json" && !WALL_FILES.contains(&n.as_str()) && !files::is_temp(n))
        .collect())
}

/// A journal's live records without their sequence numbers: what two runs of the same
/// campaign and seed agree on, however often one of them was interrupted and resumed.
fn live_events(path: &Path) -> Result<Vec<String>, BundleError> {
    journal::live(&journal::read(path)?)
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).map_err(BundleError::Serialize)?;
            if let Some(o) = v.as_object_mut() {
                o.remove("seq");
            }
            Ok(v.to_string())
        })
        .collect()
}

/// Differences between a bundle and its replay (what `qdx replay` reports): the files
/// themselves, not what the manifest says of them, the journal by its live records, and the
/// manifest's description of the run.
pub fn compare(bundle: &Path, replay: &Path) -> Result<Vec<String>, BundleError> {
    let (ours, theirs) = (reproducible_files(bundle)?, reproducible_files(replay)?);
    let mut out = Vec::new();
    for name in &ours {
        if !theirs.contains(name) {
            out.push(format!("{name} is not produced by the replay"));
            continue;
        }
        if name == "journal.jsonl" {
            let (a, b) = (
                live_events(&bundle.join(name))?,
                live_events(&replay.join(name))?,
            );
            if let Some(k) = (0..a.len().max(b.len())).find(|k| a.get(*k) != b.get(*k)) {
                out.push(format!(
                    "journal.jsonl: live record {k} differs ({} in the bundle, {} in the replay)",
                    a.get(k).map_or("none", String::as_str),
                    b.get(k).map_or("none", String::as_str)
                ));
            }
            continue;
        }
        let read = |d: &Path| std::fs::read(d.join(name)).map_err(io(&d.join(name)));
        if read(bundle)? != read(replay)? {
            out.push(format!("{name} has different content"));
        }
    }
    for name in theirs.iter().filter(|n| !ours.contains(n)) {
        out.push(format!(
            "{name} is produced by the replay but not in the bundle"
        ));
    }
    let manifest = |d: &Path| -> Option<Manifest> {
        serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).ok()?).ok()
    };
    match (manifest(bundle), manifest(replay)) {
        (Some(a), Some(b)) => {
            for (field, x, y) in [
                ("seed", a.seed.to_string(), b.seed.to_string()),
                (
                    "experiments",
                    a.experiments.to_string(),
                    b.experiments.to_string(),
                ),
                ("stop_reason", a.stop_reason, b.stop_reason),
                ("campaign", a.campaign, b.campaign),
                ("entry", a.entry, b.entry),
                ("lab", a.lab, b.lab),
            ] {
                if x != y {
                    out.push(format!(
                        "manifest.json: {field} is {x:?} in the bundle, {y:?} in the replay"
                    ));
                }
            }
        }
        (None, _) => out.push(
            "manifest.json is missing or unreadable: the bundle was not completed \
             (`qdx resume` completes it)"
                .into(),
        ),
        (_, None) => out.push("the replay wrote no manifest".into()),
    }
    Ok(out)
}

/// One problem `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Missing(String),
    Changed(String),
    Unlisted(String),
    WrongId {
        recorded: String,
        computed: String,
    },
    /// The campaign's entry file is not among the manifest's files.
    NoEntry(String),
    /// The manifest says something of the run its journal does not.
    Metadata {
        field: String,
        manifest: String,
        journal: String,
    },
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
            Problem::NoEntry(p) => write!(
                f,
                "manifest.json: the campaign's entry {p} is not among the files it lists"
            ),
            Problem::Metadata {
                field,
                manifest,
                journal,
            } => write!(
                f,
                "manifest.json: {field} is {manifest:?} but the journal says {journal:?}"
            ),
        }
    }
}

/// Checks every file against the manifest.
pub fn verify(dir: &Path) -> Result<(Manifest, Vec<Problem>), BundleError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if dir.join("journal.jsonl").is_file() && e.kind() == std::io::ErrorKind::NotFound {
            BundleError::Incomplete {
                dir: dir.to_path_buf(),
            }
        } else if e.kind() == std::io::ErrorKind::NotFound || !dir.is_dir() {
            BundleError::NotABundle {
                dir: dir.to_path_buf(),
            }
        } else {
            io(&path)(e)
        }
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(BundleError::NotAManifest)?;
    let mut problems = Vec::new();
    let mut present = Vec::new();
    list_files(dir, dir, &mut present)?;
    let present: Vec<String> = present.iter().map(|p| rel_name(p)).collect();
    for (section, expected) in [(&manifest.files, true), (&manifest.wall_clock.files, false)] {
        let _ = expected;
        for (name, hash) in section {
            match std::fs::read(dir.join(name)) {
                Ok(bytes) => {
                    if &files::sha256(&bytes) != hash {
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
    // The manifest's description of the run is covered through the journal (whose hash the
    // id covers): it must say what the journal says.
    if let Ok(records) = journal::read(&dir.join("journal.jsonl")) {
        problems.extend(Facts::of(&journal::live(&records)).disagreements(&manifest));
    }
    if !manifest.files.contains_key(&manifest.entry) {
        problems.push(Problem::NoEntry(manifest.entry.clone()));
    }
    Ok((manifest, problems))
}
