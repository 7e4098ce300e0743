//! Output warping: a Yeo–Johnson power transform of the standardised utilities, fitted by
//! maximum likelihood, then standardised again.
//!
//! Why: utilities are often strongly skewed (a few huge losses at the corners of Branin, a few
//! high values at the optimum of Hartmann-6 or a yield table). A stationary GP fitted to skewed
//! targets spends its signal variance on the tail and sees the interesting region as flat. The
//! transform is monotone, so the argmax of the utility is unchanged.
//!
//! Invariants: `forward` is strictly increasing and finite for finite input; `inverse` inverts
//! it over the data it was fitted to and continues it linearly beyond them (along the line
//! through the data's extremes), so a prediction outside the data maps back to the target's scale instead of
//! running off to the power law's pole (a λ < 0 transform maps a bounded interval to all of
//! the positive targets); λ = 1 (identity up to standardisation) when the data are degenerate
//! (fewer than 3 distinct values or zero spread).

/// Bound on `inverse` (standardised units).
const INVERSE_LIMIT: f64 = 1e3;

/// A fitted Yeo–Johnson transform followed by standardisation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutputWarp {
    lambda: f64,
    mean: f64,
    sd: f64,
    /// The smallest and largest target it was fitted to (standardised units); beyond them
    /// `inverse` is linear.
    y_lo: f64,
    y_hi: f64,
}

fn yj(y: f64, lambda: f64) -> f64 {
    if y >= 0.0 {
        if lambda.abs() < 1e-9 {
            y.ln_1p()
        } else {
            ((y + 1.0).powf(lambda) - 1.0) / lambda
        }
    } else if (lambda - 2.0).abs() < 1e-9 {
        -(-y).ln_1p()
    } else {
        -((1.0 - y).powf(2.0 - lambda) - 1.0) / (2.0 - lambda)
    }
}

fn yj_inverse(t: f64, lambda: f64) -> f64 {
    if t >= 0.0 {
        if lambda.abs() < 1e-9 {
            t.exp_m1()
        } else {
            let base = (t * lambda + 1.0).max(1e-300);
            base.powf(1.0 / lambda) - 1.0
        }
    } else if (lambda - 2.0).abs() < 1e-9 {
        1.0 - (-t).exp()
    } else {
        let base = (1.0 - (2.0 - lambda) * t).max(1e-300);
        1.0 - base.powf(1.0 / (2.0 - lambda))
    }
}

fn mean_sd(z: &[f64]) -> (f64, f64) {
    let n = z.len().max(1) as f64;
    let m = z.iter().sum::<f64>() / n;
    let v = z.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
    (m, v.sqrt())
}

impl OutputWarp {
    /// The identity (up to nothing): λ = 1, no shift.
    pub fn identity() -> Self {
        OutputWarp {
            lambda: 1.0,
            mean: 0.0,
            sd: 1.0,
            y_lo: f64::NEG_INFINITY,
            y_hi: f64::INFINITY,
        }
    }

    /// Fits λ on a grid over [−2, 4] by the profile log-likelihood of a normal model, for
    /// (already standardised) targets `y`.
    pub fn fit(y: &[f64]) -> Self {
        let finite: Vec<f64> = y.iter().copied().filter(|v| v.is_finite()).collect();
        let mut distinct = finite.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        if distinct.len() < 3 {
            return Self::identity();
        }
        let n = finite.len() as f64;
        let jac: f64 = finite.iter().map(|v| v.signum() * v.abs().ln_1p()).sum();
        let mut best = (f64::NEG_INFINITY, 1.0);
        for k in 0..=300 {
            let lambda = -2.0 + 0.02 * f64::from(k);
            let z: Vec<f64> = finite.iter().map(|v| yj(*v, lambda)).collect();
            let (_, sd) = mean_sd(&z);
            if !(sd.is_finite() && sd > 0.0) {
                continue;
            }
            let ll = -0.5 * n * (sd * sd).ln() + (lambda - 1.0) * jac;
            if ll > best.0 {
                best = (ll, lambda);
            }
        }
        let lambda = best.1;
        let z: Vec<f64> = finite.iter().map(|v| yj(*v, lambda)).collect();
        let (mean, sd) = mean_sd(&z);
        if !(sd.is_finite() && sd > 0.0) {
            return Self::identity();
        }
        OutputWarp {
            lambda,
            mean,
            sd,
            y_lo: distinct.first().copied().unwrap_or(f64::NEG_INFINITY),
            y_hi: distinct.last().copied().unwrap_or(f64::INFINITY),
        }
    }

    /// Warped value of a standardised target.
    pub fn forward(&self, y: f64) -> f64 {
        (yj(y, self.lambda) - self.mean) / self.sd
    }

    /// Standardised target of a warped value, clamped to ±`INVERSE_LIMIT` (far outside the
    /// data the inverse power can overflow; such values only appear in explanations).
    pub fn inverse(&self, z: f64) -> f64 {
        // Beyond the data: the line through the data's extremes, continued (a step of the
        // data's warped range beyond it adds the data's range).
        let (z_lo, z_hi) = (self.forward(self.y_lo), self.forward(self.y_hi));
        let edge = if self.y_hi.is_finite() && z > z_hi {
            Some((self.y_hi, z_hi))
        } else if self.y_lo.is_finite() && z < z_lo {
            Some((self.y_lo, z_lo))
        } else {
            None
        };
        if let Some((edge, z_edge)) = edge {
            let slope = (self.y_hi - self.y_lo) / (z_hi - z_lo);
            let y = edge + (z - z_edge) * slope;
            return if y.is_finite() {
                y.clamp(-INVERSE_LIMIT, INVERSE_LIMIT)
            } else {
                edge
            };
        }
        let y = yj_inverse(z * self.sd + self.mean, self.lambda);
        if y.is_nan() {
            0.0
        } else {
            y.clamp(-INVERSE_LIMIT, INVERSE_LIMIT)
        }
    }

    /// The fitted exponent.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_monotone() {
        for lambda in [-1.5, 0.0, 0.5, 1.0, 2.0, 3.0] {
            let w = OutputWarp {
                lambda,
                mean: 0.2,
                sd: 1.3,
                ..OutputWarp::identity()
            };
            let mut prev = f64::NEG_INFINITY;
            for k in -30..=30 {
                let y = f64::from(k) * 0.1;
                let z = w.forward(y);
                assert!(z > prev, "λ={lambda}: not increasing at {y}");
                prev = z;
                assert!((w.inverse(z) - y).abs() < 1e-9, "λ={lambda} y={y}");
            }
            // Far outside the data the inverse stays finite.
            assert!(w.inverse(1e6).is_finite() && w.inverse(-1e6).is_finite());
        }
    }

    #[test]
    fn skewed_data_get_a_compressing_exponent() {
        // A long left tail (large losses) is compressed by λ > 1 …
        let left: Vec<f64> = (0..40)
            .map(|i| -((f64::from(i) * 0.15).exp()) + 1.0)
            .collect();
        let (m, s) = mean_sd(&left);
        let std: Vec<f64> = left.iter().map(|v| (v - m) / s).collect();
        assert!(OutputWarp::fit(&std).lambda() > 1.0);
        // … a long right tail by λ < 1.
        let right: Vec<f64> = std.iter().map(|v| -v).collect();
        assert!(OutputWarp::fit(&right).lambda() < 1.0);
        // Degenerate data: identity.
        assert_eq!(OutputWarp::fit(&[1.0, 1.0]).lambda(), 1.0);
    }

    /// A warp fitted to right-skewed targets gets λ < 0, whose power law maps a bounded
    /// interval onto every positive target: the inverse of a value a little beyond the data
    /// ran off to the pole (a desirability in [0, 1] was predicted at 206 ± 103). Beyond the
    /// data the inverse continues along the line through the data's extremes, and inside it is
    /// the exact inverse.
    #[test]
    fn beyond_the_data_the_inverse_stays_on_the_targets_scale() {
        let raw: Vec<f64> = (0..30).map(|i| (f64::from(i) * 0.25).exp()).collect();
        let (m, s) = mean_sd(&raw);
        let y: Vec<f64> = raw.iter().map(|v| (v - m) / s).collect();
        let w = OutputWarp::fit(&y);
        assert!(w.lambda() < 0.0, "λ = {}", w.lambda());
        let hi = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lo = y.iter().copied().fold(f64::INFINITY, f64::min);
        for v in &y {
            assert!((w.inverse(w.forward(*v)) - v).abs() < 1e-9);
        }
        let (z_lo, z_hi) = (w.forward(lo), w.forward(hi));
        let span = hi - lo;
        for step in [0.1, 0.5, 1.0, 3.0] {
            let up = w.inverse(z_hi + step * (z_hi - z_lo));
            assert!(
                (up - (hi + step * span)).abs() < 1e-9 * span,
                "{step}: {up}"
            );
            let down = w.inverse(z_lo - step * (z_hi - z_lo));
            assert!(
                (down - (lo - step * span)).abs() < 1e-9 * span,
                "{step}: {down}"
            );
        }
        // Continuous at the edges.
        assert!((w.inverse(z_hi + 1e-9) - hi).abs() < 1e-6);
        assert!((w.inverse(z_lo - 1e-9) - lo).abs() < 1e-6);
    }
}
