//! `datapackage.json`: the bundle described for programs, as a Frictionless Data Package
//! (<https://specs.frictionlessdata.io/data-package/>): each table a resource with its path,
//! format and schema (every column's name, type, unit and meaning), so a reader types its
//! columns from the descriptor and never guesses a dtype from the values (an all-empty
//! `reason` column is text, not a column of NaN).
//!
//! Resources: `observations` (`observations.csv`, primary key `experiment`), `spectra`
//! (`spectra.csv`: the file of each experiment's spectrum, by experiment, channel and
//! replicate, and probe point with a `probe`; a foreign key into `observations`), `spectrum`
//! (the layout every file under `spectra/` shares), `suggestions` and `journal` (JSON lines).
//! Units are a `unit` property on each field (`""` for none), the symbol the campaign wrote.
//! The journal's numbers are SI; its resource carries `units`, the SI unit of every number a
//! record can hold: each event's fields by `event.field` (`command.rate` by command), and the
//! per-name maps (`suggested.values` in the variables' order, `measured.proxies`,
//! `measured.settings`) name by name.

use serde_json::{Map, Value, json};

use super::observations::columns;
use crate::validate::campaign::{Campaign, DerivedTarget, Domain};

/// The SI unit of every number the journal holds (see the module doc).
fn journal_units(c: &Campaign) -> Value {
    let si = |d: qdx_units::Dimension| d.si_symbol();
    let flow = si(qdx_units::Dimension::FLOW_RATE);
    let volume = si(qdx_units::Dimension::VOLUME);
    let values: Vec<Value> = c
        .variables
        .iter()
        .map(|v| {
            let unit = match v.domain {
                Domain::Choice { .. } => "index of the choice, from 0".to_owned(),
                _ => si(v.dimension),
            };
            json!({"name": v.name, "unit": unit})
        })
        .collect();
    let proxies: Map<String, Value> = c
        .proxies
        .iter()
        .map(|p| (p.name.clone(), json!(si(p.dimension))))
        .collect();
    let settings: Map<String, Value> = c
        .derived
        .iter()
        .filter(|d| matches!(d.target, DerivedTarget::Setting { .. }))
        .map(|d| (d.name.clone(), json!(si(d.dimension))))
        .collect();
    let mut units = json!({
        "t": "s",
        "planned.estimated_duration": "s",
        "waited.seconds": "s",
        "command.set_rate.rate": flow,
        "command.refill.volume": volume,
        "command.refill.rate": flow,
        "command.set_setpoint.kelvin": "K",
        "command.acquire.integration": "s",
        "command.discard.integration": "s",
        "calibrated.dyes.integrated_pl": "counts·nm",
        "calibrated.dyes.integration_time_s": "s",
        "calibrated.dyes.absorbance": "1",
        "suggested.values": values,
        "measured.proxies": proxies.clone(),
        "measured.settings": settings,
    });
    let ramped = c
        .measurement
        .as_ref()
        .and_then(|m| m.transient.as_ref())
        .and_then(|t| c.variables.get(t.variable));
    if let (Some(v), Some(units)) = (ramped, units.as_object_mut()) {
        for key in ["acquired", "entry", "residence"] {
            units.insert(format!("measured.ticks.{key}"), json!("s"));
        }
        units.insert("measured.ticks.value".into(), json!(si(v.dimension)));
        units.insert(
            "measured.ticks.proxies".into(),
            Value::Object(proxies.clone()),
        );
    }
    if c.measurement.as_ref().is_some_and(|m| m.droplets.is_some())
        && let Some(units) = units.as_object_mut()
    {
        units.insert("measured.droplets.volume".into(), json!("m^3"));
        for key in ["entry", "arrival", "residence"] {
            units.insert(format!("measured.droplets.{key}"), json!("s"));
        }
        units.insert("measured.droplets.proxies".into(), Value::Object(proxies));
    }
    units
}

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
    let transient = c.measurement.as_ref().and_then(|m| m.transient.as_ref());
    let droplets = c.measurement.as_ref().is_some_and(|m| m.droplets.is_some());
    if transient.is_some() || droplets {
        spectra.push(field(
            "tick",
            "integer",
            "",
            if droplets {
                "the reading of the droplet train it belongs to, from 0 (droplets.csv)"
            } else {
                "the reading of the transient ramp it belongs to, from 0 (transient.csv)"
            },
        ));
        key.push("tick");
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
                    spectra/calibration-<channel>-<dark|reference|dye>[-<round>].csv \
                    (no round for the first calibration)",
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
                    fields; every number in SI, its unit in `units`",
                "units": journal_units(c),
            },
        ],
    });
    let mut package = package;
    // A table of readings per experiment: `key` beside `experiment` names a row.
    let per_reading = |name: &str, columns: Vec<super::observations::Column>, key: &str| {
        let fields: Vec<Value> = columns
            .iter()
            .map(|col| field(&col.header, col.kind.name(), &col.unit, &col.description))
            .collect();
        json!({
            "name": name,
            "path": format!("{name}.csv"),
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": {
                "fields": fields,
                "primaryKey": ["experiment", key],
                "foreignKeys": [{
                    "fields": ["experiment"],
                    "reference": {"resource": "observations", "fields": ["experiment"]},
                }],
            },
        })
    };
    if let Some(resources) = package.get_mut("resources").and_then(Value::as_array_mut) {
        if let Some(t) = transient {
            resources.push(per_reading(
                "transient",
                super::transient::columns(c, t),
                "tick",
            ));
        }
        if droplets {
            resources.push(per_reading(
                "droplets",
                super::droplets::columns(c),
                "droplet",
            ));
        }
    }
    if c.objectives.map.is_some()
        && let Some(resources) = package.get_mut("resources").and_then(Value::as_array_mut)
    {
        let fields: Vec<Value> = super::map::columns(c)
            .iter()
            .map(|(h, unit, d)| field(h, "number", unit, d))
            .collect();
        resources.push(json!({
            "name": "map",
            "path": "map.csv",
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "description": "the map of the mapped proxy on a grid over the variables (points that break a constraint left out); absent before two values were measured",
            "schema": {"fields": fields},
        }));
    }
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
