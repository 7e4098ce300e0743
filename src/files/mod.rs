//! The files of a result bundle: each one's format as a type, written and read here and
//! nowhere else, with its columns and units documented in this one place.
//!
//! ```text
//! runs/<campaign>-<n>/
//!   manifest.json        bundle::Manifest: qdx and language versions, campaign, entry file,
//!                        seed, lab, experiments, stop reason, SHA-256 of every file, the
//!                        bundle id; set apart under `wall_clock`: wall-clock start and end
//!                        and the hashes of the wall-clock files
//!   campaign/…           the campaign's files exactly as run (entry, imports, scripts, tables,
//!                        prior data)
//!   lab/…                the lab binding file exactly as run (hardware runs)
//!   plan.json            the plan, devices by name, numbers in named units ([`plan`])
//!   journal.jsonl        crate::journal::Record, one JSON object per line: `seq` (from 0),
//!                        `t` (lab time, s), `event` and its fields; every physical value in SI,
//!                        each unit named in datapackage.json (the journal resource's `units`);
//!                        the source of truth every other file is read from
//!   datapackage.json     the bundle for programs: each table's columns, types and units
//!                        ([`package`], a Frictionless Data Package)
//!   observations.csv     one row per experiment ([`observations`])
//!   spectra.csv          the file of each experiment's spectrum ([`spectrum::index`])
//!   optimizer/suggestions.jsonl   one suggestion per line ([`suggestions`])
//!   spectra/e<NNNN>-<channel>-r<k>.csv   one spectrum ([`spectrum`]), experiments and
//!                        replicates numbered from 0 as everywhere; calibration spectra as
//!                        spectra/calibration-<channel>-<dark|reference|dye>[-<round>].csv
//!                        ([`spectrum::calibration_file`])
//!   spectra/e<NNNN>-ramp-<channel>.npy   a transient ramp's (or a droplet train's) readings, one row each, raw
//!                        counts, with `…-wavelength_nm.npy` beside it ([`stack`])
//!   transient.csv        one row per reading of a transient ramp: the conditions its spectrum
//!                        maps to and its proxies ([`transient`])
//!   droplets.csv         one row per droplet of a droplet train: its volume, entry, arrival
//!                        and residence from the journal, its reading and proxies ([`droplets`])
//!   report.html          the report (`crate::report`)
//!   wall.jsonl           wall-clock times of the run's phases (not part of the bundle id)
//! ```
//!
//! Invariants: every file qdx writes whole goes through [`write_atomic`] (a temporary file,
//! synced, renamed into place: never torn); the derived files (`observations.csv`,
//! `spectra.csv`, `datapackage.json`, `suggestions.jsonl`, `report.html`) are functions of the journal's live records and the
//! campaign, read through [`crate::record`]; every number printed in a user's unit goes through
//! one formatter, [`crate::validate::campaign::DisplayUnit::number`].

pub mod droplets;
pub mod fit;
pub mod map;
pub mod observations;
pub mod package;
pub mod plan;
pub mod spectrum;
pub mod stack;
pub mod suggestions;
pub mod transient;
pub mod wall;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::validate::campaign::Campaign;

/// What the temporary files of [`write_atomic`] are named with; one left by a killed process
/// is removed when the bundle is written.
const TEMP_PREFIX: &str = ".qdx-tmp-";

/// Writes a file whole or not at all: into a temporary file beside it, synced, then renamed
/// over the target (and the folder synced, so the rename survives a power cut). A kill or a
/// full disk leaves the old file (or none), never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    // One writer per bundle (the journal lock); the process id keeps two apart anyway.
    let temp = parent.join(format!("{TEMP_PREFIX}{name}-{}", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written?;
    if let Ok(dir) = std::fs::File::open(parent) {
        // Not every platform can sync a folder; the data itself is already on disk.
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Whether a bundle path (relative, `/`-separated) is a temporary file of [`write_atomic`].
pub fn is_temp(rel: &str) -> bool {
    rel.rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with(TEMP_PREFIX))
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

/// SHA-256 of the input files a run stores in its bundle, by their path in the bundle
/// (`campaign/<name>`, `lab/<name>`); recorded in the journal's `started` record.
pub fn input_hashes<'a>(
    c: &Campaign,
    lab: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = c
        .files
        .iter()
        .map(|f| (format!("campaign/{}", f.name), sha256(f.text.as_bytes())))
        .collect();
    out.extend(
        lab.into_iter()
            .map(|(name, text)| (format!("lab/{name}"), sha256(text.as_bytes()))),
    );
    out
}

/// A table column's header: the name, and the unit in brackets when it has one
/// (`p_cd.rate [uL/min]`, `plqy`).
pub fn column(name: &str, unit: &crate::validate::campaign::DisplayUnit) -> String {
    if unit.symbol().is_empty() {
        name.to_owned()
    } else {
        format!("{name} [{}]", unit.symbol())
    }
}
