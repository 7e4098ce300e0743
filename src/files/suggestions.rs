//! `optimizer/suggestions.jsonl`: one suggestion per line, in the order made.
//!
//! ```json
//! {"experiment":3,"batch":3,"variables":{"residence [s]":41.5,"ligand":"L2"},"explain":{…}}
//! ```
//!
//! `variables` holds the suggested point in the campaign's units (the key names the unit as
//! `observations.csv` does; a choice is its level's name), with the very numbers
//! `observations.csv` prints; `explain` is the strategy's account of the suggestion (its
//! phase, and for a model-based strategy the predicted mean and uncertainty and the
//! acquisition value), as the strategy reported it. With `failures auto` (the default) and a
//! failed experiment among those it was made from, a Bayesian suggestion's `explain.failures`
//! says which treatment of failures its model used and why:
//! `{"choice":"feasibility_model","feasibility_score":-0.41,"impute_score":-1.2,"failures":3,"successes":9}`
//! (the mean leave-one-out log density of the successful scores under each treatment; see
//! `crates/qdx-optimize/src/failures.rs`).

use crate::record::Experiment;
use crate::validate::campaign::{Campaign, Domain};

/// The text of `optimizer/suggestions.jsonl`.
pub fn write(c: &Campaign, experiments: &[Experiment]) -> String {
    let mut out = String::new();
    for e in experiments {
        let mut vars = serde_json::Map::new();
        for (k, (v, x)) in c.variables.iter().zip(&e.point).enumerate() {
            let cell = super::observations::variable_cell(c, k, *x);
            let value = match &v.domain {
                Domain::Choice { .. } => serde_json::Value::String(cell),
                // The number the CSV cell prints, as a JSON number.
                _ => cell
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
            };
            vars.insert(super::column(&v.name, &v.unit), value);
        }
        let mut line = serde_json::json!({
            "experiment": e.id,
            "batch": e.batch,
            "variables": vars,
            "explain": e.explain,
        });
        // With parallel lines, the line it was given to.
        if let (Some(name), Some(o)) = (&e.line, line.as_object_mut()) {
            o.insert("line".into(), name.clone().into());
        }
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}
