//! Benchmark problems: analytic test functions and pool problems read from data tables.
//!
//! Invariants: analytic functions are evaluated in the domain's units and documented with their
//! known optimum; a pool problem's rows with identical inputs are averaged, so every pool point is
//! unique and has exactly one value.

use std::collections::BTreeMap;
use std::io::Read;

use crate::domain::{Domain, Point, Value, Variable};
use crate::error::{OptimizeError, Result};
use crate::objective::Goal;

/// Branin–Hoo on `[-5, 10] × [0, 15]`; global minimum 0.397887 at three points.
pub fn branin(x: &[f64]) -> f64 {
    let (x1, x2) = (
        x.first().copied().unwrap_or(0.0),
        x.get(1).copied().unwrap_or(0.0),
    );
    let pi = std::f64::consts::PI;
    let b = 5.1 / (4.0 * pi * pi);
    let c = 5.0 / pi;
    let t = 1.0 / (8.0 * pi);
    (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - t) * x1.cos() + 10.0
}

/// Known minimum of [`branin`].
pub const BRANIN_MIN: f64 = 0.397_887_357_729_738;

/// Hartmann-6 on `[0, 1]^6`; global minimum −3.32237.
pub fn hartmann6(x: &[f64]) -> f64 {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
        [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
        [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
    ];
    -(0..4)
        .map(|i| {
            let s: f64 = (0..6)
                .map(|j| A[i][j] * (x.get(j).copied().unwrap_or(0.0) - P[i][j]).powi(2))
                .sum();
            ALPHA[i] * (-s).exp()
        })
        .sum::<f64>()
}

/// Known minimum of [`hartmann6`].
pub const HARTMANN6_MIN: f64 = -3.322_368_011_415_51;

/// Domain of [`branin`].
pub fn branin_domain() -> Domain {
    Domain::new(vec![
        Variable::continuous("x1", -5.0, 10.0),
        Variable::continuous("x2", 0.0, 15.0),
    ])
    .unwrap_or_else(|_| unreachable_domain())
}

/// Domain of [`hartmann6`].
pub fn hartmann6_domain() -> Domain {
    Domain::new(
        (1..=6)
            .map(|i| Variable::continuous(&format!("x{i}"), 0.0, 1.0))
            .collect(),
    )
    .unwrap_or_else(|_| unreachable_domain())
}

/// The constant domains above are valid by construction; this keeps the functions total
/// without `unwrap`.
fn unreachable_domain() -> Domain {
    Domain::new(vec![Variable::continuous("x", 0.0, 1.0)]).unwrap_or_else(|_| unreachable_domain())
}

/// A finite pool with one value per point.
#[derive(Debug, Clone)]
pub struct PoolProblem {
    /// Domain in pool mode.
    pub domain: Domain,
    /// Value at each pool point (aligned with `domain.pool()`).
    pub values: Vec<f64>,
    /// Name of the measured value.
    pub output: String,
    /// Goal for the value.
    pub goal: Goal,
}

impl PoolProblem {
    /// Value at a pool point.
    pub fn value_at(&self, p: &Point) -> Option<f64> {
        let pool = self.domain.pool()?;
        pool.iter()
            .position(|q| q == p)
            .and_then(|i| self.values.get(i).copied())
    }

    /// Best value in the pool under the goal.
    pub fn best(&self) -> f64 {
        let it = self.values.iter().copied();
        match self.goal {
            Goal::Minimize => it.fold(f64::INFINITY, f64::min),
            _ => it.fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// The value that the best `fraction` of the pool reaches (e.g. 0.01 for the top 1 %).
    pub fn quantile_threshold(&self, fraction: f64) -> f64 {
        let mut v = self.values.clone();
        match self.goal {
            Goal::Minimize => v.sort_by(|a, b| a.total_cmp(b)),
            _ => v.sort_by(|a, b| b.total_cmp(a)),
        }
        let k = ((fraction * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1));
        v.get(k - 1).copied().unwrap_or(f64::NAN)
    }
}

/// Reads an Olympus-style table (header row; variables first, then outputs). `variables` gives
/// each input column's variable (bounds and type); `output` names the value column.
pub fn read_pool<R: Read>(
    reader: R,
    variables: Vec<Variable>,
    output: &str,
    goal: Goal,
) -> Result<PoolProblem> {
    let err = |m: String| OptimizeError::PriorData(m);
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = rdr.headers().map_err(|e| err(e.to_string()))?.clone();
    let col = |n: &str| {
        headers
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| err(format!("no column `{n}`")))
    };
    let var_cols: Vec<usize> = variables
        .iter()
        .map(|v| col(v.name()))
        .collect::<Result<_>>()?;
    let out_col = col(output)?;
    let mut sums: BTreeMap<Vec<u64>, (Point, f64, usize)> = BTreeMap::new();
    let mut order: Vec<Vec<u64>> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        let mut vals = Vec::new();
        for (v, &c) in variables.iter().zip(&var_cols) {
            let t = rec.get(c).unwrap_or("");
            vals.push(match v {
                Variable::Categorical { levels, .. } => Value::Category(
                    levels
                        .iter()
                        .position(|l| l == t)
                        .ok_or_else(|| err(format!("unknown level `{t}`")))?,
                ),
                Variable::Integer { .. } => {
                    Value::Integer(t.parse::<f64>().map_err(|e| err(e.to_string()))?.round() as i64)
                }
                Variable::Continuous { lo, hi, .. } => Value::Real(
                    t.parse::<f64>()
                        .map_err(|e| err(e.to_string()))?
                        .clamp(*lo, *hi),
                ),
            });
        }
        let y: f64 = rec
            .get(out_col)
            .unwrap_or("")
            .parse()
            .map_err(|e: std::num::ParseFloatError| err(e.to_string()))?;
        if !y.is_finite() {
            continue;
        }
        let p = Point(vals);
        let key = crate::domain::point_key(&p);
        let e = sums.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            (p, 0.0, 0)
        });
        e.1 += y;
        e.2 += 1;
    }
    let mut pool = Vec::with_capacity(order.len());
    let mut values = Vec::with_capacity(order.len());
    for k in &order {
        if let Some((p, s, c)) = sums.get(k) {
            pool.push(p.clone());
            values.push(s / *c as f64);
        }
    }
    let domain = Domain::new(variables)?.with_pool(pool)?;
    Ok(PoolProblem {
        domain,
        values,
        output: output.to_string(),
        goal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_optima() {
        let pi = std::f64::consts::PI;
        for x in [[-pi, 12.275], [pi, 2.275], [9.424_78, 2.475]] {
            assert!((branin(&x) - BRANIN_MIN).abs() < 1e-5);
        }
        let xstar = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573];
        assert!((hartmann6(&xstar) - HARTMANN6_MIN).abs() < 1e-4);
    }

    #[test]
    fn pool_averages_duplicates() {
        let text = "x,c,y\n0.5,a,1.0\n0.5,a,3.0\n0.2,b,5.0\n";
        let p = read_pool(
            text.as_bytes(),
            vec![
                Variable::continuous("x", 0.0, 1.0),
                Variable::categorical("c", &["a", "b"]),
            ],
            "y",
            Goal::Maximize,
        )
        .unwrap();
        assert_eq!(p.values, vec![2.0, 5.0]);
        assert_eq!(p.best(), 5.0);
        assert_eq!(p.quantile_threshold(0.5), 5.0);
    }
}
