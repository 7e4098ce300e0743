//! `datapackage.json`: the bundle described for programs, as a Frictionless Data Package
//! (<https://specs.frictionlessdata.io/data-package/>): each table a resource with its path,
//! format and schema (every column's name, type, unit and meaning), so a reader types its
//! columns from the descriptor and never guesses a dtype from the values (an all-empty
//! `reason` column is text, not a column of NaN).
//!
//! Resources: `observations` (`observations.csv`, primary key `experiment`), `spectra`
//! (`spectra.csv`: the file of each experiment's spectrum, by experiment, channel and
//! replicate, and probe point with a `probe`; a foreign key into `observations`), `spectrum` (the layout every file under
//! `spectra/` shares), `suggestions` and `journal` (JSON lines; the journal's numbers are SI:
//! m³/s, K, s, m³, m). Units are a `unit` property on each field (`""` for none), the symbol
//! the campaign wrote.

use serde_json::{Value, json};

use super::observations::columns;
use crate::validate::campaign::Campaign;

/// The text of `datapackage.json`.
pub fn write(c: &Campaign) -> String {
    let field = |name: &str, kind: &str, unit: &str, description: &str| json!({"name": name, "type": kind, "unit": unit, "description": description});
    let observations: Vec<Value> = columns(c)
        .iter()
        .map(|col| field(&col.header, col.kind.name(), &col.unit, &col.description))
        .collect();
    let mut spectra = vec![
        field(
            "experiment",
            "integer",
            "",
            "the experiment's id (observations.csv)",
        ),
        field("channel", "string", "", "absorbance or photoluminescence"),
        field("replicate", "integer", "", "the replicate, from 0"),
        field("file", "string", "", "the spectrum's path in the bundle"),
    ];
    let mut key = vec!["experiment", "channel", "replicate"];
    if c.measurement.as_ref().is_some_and(|m| m.probe.is_some()) {
        spectra.push(field(
            "point",
            "integer",
            "",
            "the probe point it was taken at, from 0",
        ));
        key.push("point");
    }
    let package = json!({
        "profile": "tabular-data-package",
        "name": slug(&c.name),
        "title": c.name,
        "description": c.description,
        "qdx": {"bundle_format": 1, "seed": c.seed},
        "resources": [
            {
                "name": "observations",
                "path": "observations.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {"fields": observations, "primaryKey": ["experiment"]},
            },
            {
                "name": "spectra",
                "path": "spectra.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": spectra,
                    "primaryKey": key,
                    "foreignKeys": [{
                        "fields": ["experiment"],
                        "reference": {"resource": "observations", "fields": ["experiment"]},
                    }],
                },
            },
            {
                "name": "spectrum",
                "path": "spectra/",
                "format": "csv",
                "description": "every file under spectra/: the wavelength, then one quantity \
                    named by the header: counts (raw, as acquired), absorbance (decadic) or \
                    intensity (arbitrary units); calibration spectra are \
                    spectra/calibration-<channel>-<dark|reference>.csv",
                "schema": {
                    "fields": [
                        field("wavelength_nm", "number", "nm", "the wavelength"),
                        field("counts", "number", "", "or `absorbance`, or `intensity`"),
                    ],
                },
            },
            {
                "name": "suggestions",
                "path": "optimizer/suggestions.jsonl",
                "format": "jsonl",
                "description": "one suggestion per line, with the model's explanation",
            },
            {
                "name": "journal",
                "path": "journal.jsonl",
                "format": "jsonl",
                "description": "every event in order: seq, t (lab time, s), event and its \
                    fields; physical values in SI (m³/s, K, s, m³, m)",
            },
        ],
    });
    let mut text = serde_json::to_string_pretty(&package).unwrap_or_default();
    text.push('\n');
    text
}

/// A package name: lower case letters, digits, `-`, `_` and `.` (the Data Package rule).
fn slug(name: &str) -> String {
    let s: String = name
        .to_lowercase()
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.') {
                ch
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() { "qdx-bundle".into() } else { s }
}
