//! Prior data (warm start) from CSV.
//!
//! Format: a header row, then one row per experiment.
//! - one column per variable, named exactly like the variable: numbers in the campaign's units
//!   for continuous variables, integers for integer variables, the level *name* for categorical
//!   variables;
//! - optional `status` column: `failed` (case-insensitive) marks an outright failure, anything
//!   else (or no column) a measurement; optional `reason` column for failures;
//! - every other column named in `value_columns` is read as a measured value; an empty cell or
//!   `NaN` leaves that value out (the scorer then treats the row as failed for objectives that
//!   need it). Unknown columns are ignored.
//!
//! Invariant: every returned observation's point fits the domain.

use std::collections::BTreeMap;
use std::io::Read;

use crate::domain::{Domain, Point, Value, Variable};
use crate::error::{OptimizeError, Result};
use crate::observation::{Observation, Outcome};

fn prior_err(msg: impl Into<String>) -> OptimizeError {
    OptimizeError::PriorData(msg.into())
}

/// Reads prior observations from CSV text (see the module docs for the format).
pub fn read_prior_csv<R: Read>(
    reader: R,
    domain: &Domain,
    value_columns: &[&str],
) -> Result<Vec<Observation>> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(reader);
    let headers = rdr
        .headers()
        .map_err(|e| prior_err(format!("cannot read the header: {e}")))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let var_cols: Vec<usize> = domain
        .variables()
        .iter()
        .map(|v| {
            col(v.name())
                .ok_or_else(|| prior_err(format!("missing column for variable `{}`", v.name())))
        })
        .collect::<Result<_>>()?;
    let value_cols: Vec<(String, usize)> = value_columns
        .iter()
        .filter_map(|n| col(n).map(|c| ((*n).to_string(), c)))
        .collect();
    let status_col = col("status");
    let reason_col = col("reason");
    let mut out = Vec::new();
    for (row, rec) in rdr.records().enumerate() {
        let line = row + 2;
        let rec = rec.map_err(|e| prior_err(format!("line {line}: {e}")))?;
        let cell = |c: usize| rec.get(c).unwrap_or("");
        let mut values = Vec::with_capacity(var_cols.len());
        for (v, &c) in domain.variables().iter().zip(&var_cols) {
            let text = cell(c);
            let value = match v {
                Variable::Continuous { .. } => text
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .map(Value::Real),
                Variable::Integer { .. } => text.parse::<i64>().ok().map(Value::Integer),
                Variable::Categorical { levels, .. } => {
                    levels.iter().position(|l| l == text).map(Value::Category)
                }
            }
            .ok_or_else(|| {
                prior_err(format!(
                    "line {line}: `{text}` is not a valid value of `{}`",
                    v.name()
                ))
            })?;
            values.push(value);
        }
        let point = Point(values);
        domain
            .check_point(&point)
            .map_err(|e| prior_err(format!("line {line}: {e}")))?;
        let failed = status_col.is_some_and(|c| cell(c).eq_ignore_ascii_case("failed"));
        let outcome = if failed {
            Outcome::Failed {
                reason: reason_col.map_or_else(
                    || "failed (prior data)".to_string(),
                    |c| cell(c).to_string(),
                ),
            }
        } else {
            let mut m = BTreeMap::new();
            for (name, c) in &value_cols {
                if let Ok(x) = cell(*c).parse::<f64>()
                    && x.is_finite()
                {
                    m.insert(name.clone(), x);
                }
            }
            Outcome::Measured(m)
        };
        out.push(Observation { point, outcome });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain() -> Domain {
        Domain::new(vec![
            Variable::continuous("temperature", 300.0, 400.0),
            Variable::integer("cycles", 1, 5),
            Variable::categorical("ligand", &["OA", "OAm"]),
        ])
        .unwrap()
    }

    #[test]
    fn reads_values_failures_and_categories() {
        let text = "temperature,cycles,ligand,plqy,status,reason,comment\n\
                    350,2,OAm,0.5,ok,,first\n\
                    320.5,1,OA,,failed,no emission,\n\
                    330,3,OA,NaN,,,\n";
        let obs = read_prior_csv(text.as_bytes(), &domain(), &["plqy"]).unwrap();
        assert_eq!(obs.len(), 3);
        assert_eq!(
            obs[0].point,
            Point(vec![
                Value::Real(350.0),
                Value::Integer(2),
                Value::Category(1)
            ])
        );
        assert_eq!(obs[0].outcome, Outcome::single("plqy", 0.5));
        assert_eq!(
            obs[1].outcome,
            Outcome::Failed {
                reason: "no emission".into()
            }
        );
        assert_eq!(obs[2].outcome, Outcome::Measured(BTreeMap::new()));
    }

    #[test]
    fn rejects_missing_columns_and_bad_values() {
        let missing = "temperature,ligand,plqy\n350,OA,0.1\n";
        assert!(matches!(
            read_prior_csv(missing.as_bytes(), &domain(), &["plqy"]),
            Err(OptimizeError::PriorData(_))
        ));
        let out_of_range = "temperature,cycles,ligand\n500,1,OA\n";
        assert!(read_prior_csv(out_of_range.as_bytes(), &domain(), &[]).is_err());
        let bad_level = "temperature,cycles,ligand\n350,1,TOP\n";
        assert!(read_prior_csv(bad_level.as_bytes(), &domain(), &[]).is_err());
        let bad_int = "temperature,cycles,ligand\n350,1.5,OA\n";
        assert!(read_prior_csv(bad_int.as_bytes(), &domain(), &[]).is_err());
    }
}
