//! Acquisition functions on a fitted GP: log expected improvement, noisy EI (Monte-Carlo over
//! the incumbent), upper confidence bound, and the feasibility weight from a classifier GP.
//!
//! Invariants: every value and gradient is finite for any finite input (log EI is computed with
//! an asymptotic expansion deep in the tail instead of `ln(0)`); larger is better.

use serde::{Deserialize, Serialize};

use crate::gp::{Gp, Prediction};

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_7;

/// Which acquisition function.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum Acquisition {
    /// Log expected improvement over the best posterior mean at observed points.
    #[default]
    LogEi,
    /// Expected improvement averaged over posterior samples of the incumbent (for noisy data).
    NoisyEi,
    /// Upper confidence bound `μ + √β σ`.
    Ucb {
        /// Exploration weight β (> 0).
        beta: f64,
    },
}

/// Standard normal density.
pub(crate) fn norm_pdf(z: f64) -> f64 {
    (-0.5 * z * z - LN_SQRT_2PI).exp()
}

/// Standard normal distribution function.
pub(crate) fn norm_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// `ln Φ(z)`, accurate in the lower tail.
pub(crate) fn log_norm_cdf(z: f64) -> f64 {
    if z > -30.0 {
        norm_cdf(z).max(f64::MIN_POSITIVE).ln()
    } else {
        let z2 = z * z;
        -0.5 * z2 - LN_SQRT_2PI - (-z).ln() + (1.0 - 1.0 / z2 + 3.0 / (z2 * z2)).ln()
    }
}

/// `ln h(z)` with `h(z) = φ(z) + zΦ(z)` (EI of a unit-variance posterior), and `d ln h / dz`.
pub(crate) fn log_h(z: f64) -> (f64, f64) {
    if z > -6.0 {
        let h = (norm_pdf(z) + z * norm_cdf(z)).max(f64::MIN_POSITIVE);
        (h.ln(), norm_cdf(z) / h)
    } else {
        // With t = −z and the Mills ratio Φ(−t)/φ(t) = 1/(t + r),
        // r = 1/(t + 2/(t + 3/(t + …))), we get h = φ(t)·r/(t + r) without cancellation,
        // and d ln h/dz = Φ(z)/h(z) = 1/r.
        let t = (-z).min(1e6);
        let mut c = 0.0;
        for k in (2..=60).rev() {
            c = f64::from(k) / (t + c);
        }
        let r = 1.0 / (t + c);
        let lh = -0.5 * t * t - LN_SQRT_2PI + r.ln() - (t + r).ln();
        (lh, 1.0 / r)
    }
}

/// Log EI at a prediction, with gradient (same length as the prediction's gradients).
pub(crate) fn log_ei(p: &Prediction, best: f64, grad: bool) -> (f64, Vec<f64>) {
    let sd = p.var.sqrt().max(1e-12);
    let z = (p.mean - best) / sd;
    let (lh, dlh) = log_h(z);
    let value = sd.ln() + lh;
    if !grad {
        return (value, Vec::new());
    }
    let g = p
        .dmean
        .iter()
        .zip(&p.dvar)
        .map(|(dm, dv)| {
            let dsd = dv / (2.0 * sd);
            dsd / sd + dlh * (dm / sd - z * dsd / sd)
        })
        .collect();
    (value, g)
}

/// Log of the average EI over several incumbent values (log-sum-exp of log EI).
pub(crate) fn log_noisy_ei(p: &Prediction, bests: &[f64], grad: bool) -> (f64, Vec<f64>) {
    if bests.is_empty() {
        return (f64::NEG_INFINITY, vec![0.0; p.dmean.len()]);
    }
    let parts: Vec<(f64, Vec<f64>)> = bests.iter().map(|b| log_ei(p, *b, grad)).collect();
    let mx = parts
        .iter()
        .map(|(v, _)| *v)
        .fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = parts.iter().map(|(v, _)| (v - mx).exp()).collect();
    let total: f64 = weights.iter().sum();
    let value = mx + total.ln() - (bests.len() as f64).ln();
    if !grad {
        return (value, Vec::new());
    }
    let mut g = vec![0.0; p.dmean.len()];
    for ((_, gi), w) in parts.iter().zip(&weights) {
        for (a, b) in g.iter_mut().zip(gi) {
            *a += w / total * b;
        }
    }
    (value, g)
}

/// UCB with gradient.
pub(crate) fn ucb(p: &Prediction, beta: f64, grad: bool) -> (f64, Vec<f64>) {
    let sd = p.var.sqrt().max(1e-12);
    let k = beta.max(0.0).sqrt();
    let value = p.mean + k * sd;
    if !grad {
        return (value, Vec::new());
    }
    (
        value,
        p.dmean
            .iter()
            .zip(&p.dvar)
            .map(|(dm, dv)| dm + k * dv / (2.0 * sd))
            .collect(),
    )
}

/// Softness of the feasibility link: a confidently failed region (label mean −1, no variance)
/// keeps a small but non-zero probability (Φ(−10)), so the model can still be corrected.
const LINK_VAR: f64 = 0.01;

/// `ln P(success)` at `x` from a GP regressed on ±1 success labels, with gradient.
pub(crate) fn log_feasibility(model: &Gp, x: &[f64], grad: bool) -> (f64, Vec<f64>) {
    let p = model.predict(x, grad);
    let s2 = p.var + LINK_VAR;
    let s = s2.sqrt();
    let z = p.mean / s;
    let lp = log_norm_cdf(z);
    if !grad {
        return (lp, Vec::new());
    }
    // d ln Φ(z)/dz = φ(z)/Φ(z)
    let ratio = (-0.5 * z * z - LN_SQRT_2PI - lp).exp();
    let g = p
        .dmean
        .iter()
        .zip(&p.dvar)
        .map(|(dm, dv)| ratio * (dm / s - p.mean * dv / (2.0 * s2 * s)))
        .collect();
    (lp, g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_h_is_continuous_across_the_switch() {
        let (a, da) = log_h(-6.0 + 1e-9);
        let (b, db) = log_h(-6.0 - 1e-9);
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        assert!((da - db).abs() / da.abs() < 1e-3);
        // Far in the tail it stays finite and keeps decreasing.
        let (c, _) = log_h(-40.0);
        let (d, _) = log_h(-400.0);
        assert!(c.is_finite() && d.is_finite() && d < c);
    }

    #[test]
    fn log_h_derivative_matches_finite_differences() {
        for &z in &[-20.0, -7.0, -3.0, 0.0, 2.5] {
            let h = 1e-6;
            let fd = (log_h(z + h).0 - log_h(z - h).0) / (2.0 * h);
            let an = log_h(z).1;
            assert!(
                (fd - an).abs() < 1e-4 * an.abs().max(1.0),
                "z={z}: {fd} vs {an}"
            );
        }
    }

    #[test]
    fn ei_of_known_case() {
        // μ = 1, σ = 1, best = 1 → EI = φ(0) = 0.3989.
        let p = Prediction {
            mean: 1.0,
            var: 1.0,
            dmean: vec![],
            dvar: vec![],
        };
        let (v, _) = log_ei(&p, 1.0, false);
        assert!((v.exp() - 0.398_942_280_4).abs() < 1e-9);
    }
}
