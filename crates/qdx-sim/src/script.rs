//! `simulate script "model.rhai"`: a sandboxed rhai model (e.g. an analytic benchmark
//! function) as a virtual lab, through `qdx-script`.
//!
//! The script sees each input as a constant (numbers as floats, levels as strings) and returns
//! a number or a map of named numbers. A single number is reported under the one declared
//! output (or `value` when none is declared); a map must contain every declared output.
//! Script errors carry the script's line and column ([`SimError::Script`]).
//! Invariant: readings are finite (qdx-script refuses NaN and infinities).

use serde::{Deserialize, Serialize};

use qdx_script::{ModelOutput, Script, ScriptOrigin};

use crate::error::{SimError, SimResult};
use crate::reading::{InputValue, Inputs, Readings};

/// The script model's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptConfig {
    /// The script file, already resolved by the caller (inside the campaign's folder tree).
    pub path: String,
    /// Output names the campaign declares (may be empty).
    #[serde(default)]
    pub outputs: Vec<String>,
}

/// A compiled script model.
#[derive(Debug, Clone)]
pub struct ScriptModel {
    config: ScriptConfig,
    script: Script,
}

impl ScriptModel {
    pub fn load(config: &ScriptConfig) -> SimResult<Self> {
        let text = std::fs::read_to_string(&config.path)
            .map_err(|e| SimError::Script(format!("cannot read {}: {e}", config.path)))?;
        Self::from_source(&text, config)
    }

    pub fn from_source(source: &str, config: &ScriptConfig) -> SimResult<Self> {
        let script = Script::compile(source, ScriptOrigin::File(config.path.clone()))
            .map_err(|e| SimError::Script(e.located()))?;
        Ok(Self {
            config: config.clone(),
            script,
        })
    }

    /// The same model, reading the campaign's declared data files through `data(name)`.
    #[must_use]
    pub fn with_data(mut self, files: std::sync::Arc<qdx_script::DataFiles>) -> Self {
        self.script = self.script.with_data(files);
        self
    }

    /// The names this model reports.
    pub fn outputs(&self) -> Vec<String> {
        if self.config.outputs.is_empty() {
            vec!["value".into()]
        } else {
            self.config.outputs.clone()
        }
    }

    pub fn evaluate(&self, inputs: &Inputs) -> SimResult<Readings> {
        let mut args = qdx_script::Inputs::new();
        for (name, value) in inputs {
            match value {
                InputValue::Number(v) => args.set_number(name, *v),
                InputValue::Text(s) => args.set_text(name, s),
            }
        }
        let out = self
            .script
            .eval_model(&args)
            .map_err(|e| SimError::Script(e.located()))?;
        match out {
            ModelOutput::Number(v) => match self.config.outputs.as_slice() {
                [] => Ok([("value".to_string(), v)].into_iter().collect()),
                [one] => Ok([(one.clone(), v)].into_iter().collect()),
                many => Err(SimError::Script(format!(
                    "the script returned one number but the campaign declares {} outputs",
                    many.len()
                ))),
            },
            ModelOutput::Named(map) => {
                for name in &self.config.outputs {
                    if !map.contains_key(name) {
                        return Err(SimError::Script(format!(
                            "the script's result has no {name:?}"
                        )));
                    }
                }
                Ok(map)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config(outputs: &[&str]) -> ScriptConfig {
        ScriptConfig {
            path: "branin.rhai".into(),
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
        }
    }

    const BRANIN: &str = "let a = 1.0; let b = 5.1 / (4.0 * PI() * PI()); let c = 5.0 / PI();\n\
let r = 6.0; let s = 10.0; let t = 1.0 / (8.0 * PI());\n\
a * pow(x2 - b * x1 * x1 + c * x1 - r, 2) + s * (1.0 - t) * cos(x1) + s";

    fn xy(x1: f64, x2: f64) -> Inputs {
        [
            ("x1".to_string(), InputValue::Number(x1)),
            ("x2".to_string(), InputValue::Number(x2)),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn branin_minimum() {
        let m = ScriptModel::from_source(BRANIN, &config(&["branin"])).unwrap();
        let v = m.evaluate(&xy(std::f64::consts::PI, 2.275)).unwrap()["branin"];
        assert!((v - 0.397_887).abs() < 1e-5, "{v}");
    }

    #[test]
    fn maps_and_errors() {
        let m = ScriptModel::from_source("#{ output: x1 * 2.0, cost: x2 }", &config(&["output"]))
            .unwrap();
        let r = m.evaluate(&xy(1.5, 3.0)).unwrap();
        assert_eq!(r["output"], 3.0);
        assert_eq!(r["cost"], 3.0);
        let m = ScriptModel::from_source("x1 / 0.0", &config(&[])).unwrap();
        assert!(matches!(
            m.evaluate(&xy(1.0, 0.0)),
            Err(SimError::Script(_))
        ));
        assert!(matches!(
            ScriptModel::from_source("let = ;", &config(&[])),
            Err(SimError::Script(_))
        ));
        let m = ScriptModel::from_source("x3", &config(&[])).unwrap();
        assert!(matches!(
            m.evaluate(&xy(1.0, 0.0)),
            Err(SimError::Script(_))
        ));
    }
}
