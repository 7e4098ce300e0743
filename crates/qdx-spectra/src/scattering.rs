//! Small-angle X-ray scattering (SAXS) proxies: the Guinier radius of gyration and the sphere
//! radius it implies.
//!
//! A SAXS pattern is a 1-D signal `I(q)` over the scattering vector `q = 4π sin θ / λ`, here in
//! inverse nanometres. At small `q` every particle's scattering follows Guinier's law
//! (Guinier & Fournet, *Small-Angle Scattering of X-Rays*, Wiley 1955):
//!
//! ```text
//! ln I(q) = ln I0 − q² Rg² / 3        valid for q·Rg ≲ 1.3 (compact particles)
//! ```
//!
//! so a straight line of `ln I` against `q²` over that region gives `Rg` from its slope. The
//! region depends on the answer, so the fit iterates: start from the lowest `q` points, fit,
//! keep the points with `q·Rg ≤ 1.3`, refit, until the set of points stops changing. For a
//! homogeneous sphere `Rg² = 3/5 R²`, so `R = √(5/3)·Rg`; for a polydisperse ensemble the
//! Guinier `Rg` is the `⟨R⁸⟩/⟨R⁶⟩` average (the largest particles dominate).
//!
//! Invariants: inputs are parallel slices with `q` strictly increasing and positive; only
//! points with a positive intensity enter the fit (a logarithm is taken); a result is finite,
//! otherwise a [`ProxyError`].

use crate::error::{ProxyError, ProxyResult};
use crate::measured::{Measured, ProxyUnit};

/// The upper end of the Guinier region, `q·Rg`, for compact (spherical) particles.
pub const GUINIER_LIMIT: f64 = 1.3;

/// Fewest points a Guinier fit accepts: fewer cannot tell a line from noise.
pub const GUINIER_MIN_POINTS: usize = 5;

/// The result of a Guinier fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guinier {
    /// Radius of gyration, nm.
    pub rg_nm: f64,
    /// Its standard error from the fit's residuals, nm.
    pub rg_error_nm: f64,
    /// The forward scattering `I(0)` the line extrapolates to.
    pub i0: f64,
    /// The points the final fit used (from the first).
    pub points: usize,
    /// `q·Rg` of the last point used.
    pub qrg_max: f64,
}

/// Fits Guinier's law to `intensity` over `q_per_nm` (see the module doc). Weighted by the
/// intensity (the variance of `ln I` under counting noise is `1/I`).
pub fn guinier_fit(q_per_nm: &[f64], intensity: &[f64]) -> ProxyResult<Guinier> {
    if q_per_nm.len() != intensity.len() {
        return Err(ProxyError::GridMismatch);
    }
    if let Some(index) = q_per_nm
        .iter()
        .chain(intensity)
        .position(|v| !v.is_finite())
    {
        return Err(ProxyError::NotFinite {
            index: index % q_per_nm.len().max(1),
        });
    }
    let points: Vec<(f64, f64, f64)> = q_per_nm
        .iter()
        .zip(intensity)
        .filter(|&(&q, &i)| q > 0.0 && i > 0.0)
        .map(|(&q, &i)| (q * q, i.ln(), i))
        .collect();
    if points.len() < GUINIER_MIN_POINTS {
        return Err(ProxyError::no_peak(
            "fewer than 5 points with a positive intensity: no Guinier region",
        ));
    }
    // Start where Guinier's law puts the region's end: ln I has fallen by (1.3)²/3 from I(0)
    // there, and I(0) is about the first points' mean. Fewer points (a fixed handful) leave
    // too little fall in ln I to tell the slope from counting noise.
    let first: f64 = points.iter().take(3).map(|p| p.2).sum::<f64>() / 3.0;
    let floor = first * (-GUINIER_LIMIT * GUINIER_LIMIT / 3.0).exp();
    let mut used = points
        .iter()
        .take_while(|p| p.2 >= floor)
        .count()
        .max(GUINIER_MIN_POINTS * 2);
    let mut fit = None;
    for _ in 0..50 {
        let n = used.min(points.len());
        let (slope, intercept, slope_se) = weighted_line(points.get(..n).unwrap_or(&points))?;
        if slope >= 0.0 {
            return Err(ProxyError::no_peak(
                "ln I(q) does not fall with q² at low q: no Guinier region (aggregates, or the q range starts too high)",
            ));
        }
        let rg = (-3.0 * slope).sqrt();
        let rg_error = 1.5 * slope_se / rg;
        let next = points
            .iter()
            .take_while(|(q2, _, _)| q2.sqrt() * rg <= GUINIER_LIMIT)
            .count();
        let qrg_max = points
            .get(n.saturating_sub(1))
            .map_or(0.0, |(q2, _, _)| q2.sqrt() * rg);
        fit = Some(Guinier {
            rg_nm: rg,
            rg_error_nm: rg_error,
            i0: intercept.exp(),
            points: n,
            qrg_max,
        });
        if next < GUINIER_MIN_POINTS {
            return Err(ProxyError::no_peak(format!(
                "only {next} points lie in the Guinier region (q·Rg ≤ 1.3 for Rg ≈ {rg:.2} nm): the q range starts too high for particles this large"
            )));
        }
        if next == n {
            break;
        }
        used = next;
    }
    let fit = fit.ok_or_else(|| ProxyError::no_peak("the Guinier fit did not run"))?;
    if fit.rg_nm.is_finite() && fit.i0.is_finite() {
        Ok(fit)
    } else {
        Err(ProxyError::InvalidArgument(
            "the Guinier fit gave a non-finite radius".to_owned(),
        ))
    }
}

/// The Guinier radius of gyration, nm.
pub fn guinier_radius(q_per_nm: &[f64], intensity: &[f64]) -> ProxyResult<Measured> {
    let fit = guinier_fit(q_per_nm, intensity)?;
    Measured::new(fit.rg_nm, ProxyUnit::Nanometre)
}

/// The radius of the homogeneous sphere with the measured Guinier radius, `√(5/3)·Rg`, nm.
pub fn sphere_radius(q_per_nm: &[f64], intensity: &[f64]) -> ProxyResult<Measured> {
    let fit = guinier_fit(q_per_nm, intensity)?;
    Measured::new((5.0_f64 / 3.0).sqrt() * fit.rg_nm, ProxyUnit::Nanometre)
}

/// Weighted least-squares line `y = a·x + b` through `(x, y, w)`: `(a, b, se(a))`.
fn weighted_line(points: &[(f64, f64, f64)]) -> ProxyResult<(f64, f64, f64)> {
    let sw: f64 = points.iter().map(|p| p.2).sum();
    if points.len() < 3 || sw <= 0.0 {
        return Err(ProxyError::no_peak("too few points for a line"));
    }
    let mx = points.iter().map(|p| p.2 * p.0).sum::<f64>() / sw;
    let my = points.iter().map(|p| p.2 * p.1).sum::<f64>() / sw;
    let sxx: f64 = points.iter().map(|p| p.2 * (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| p.2 * (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 {
        return Err(ProxyError::no_peak("the q values coincide"));
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let chi2: f64 = points
        .iter()
        .map(|p| p.2 * (p.1 - intercept - slope * p.0).powi(2))
        .sum();
    // Residual scale from the scatter itself, so the error is right whatever the weights' scale.
    let dof = (points.len() - 2) as f64;
    let slope_se = (chi2 / dof / sxx).sqrt();
    Ok((slope, intercept, slope_se))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact sphere form factor, for tests that must not depend on the simulator.
    fn sphere(q: f64, r: f64) -> f64 {
        let x = q * r;
        let f = 3.0 * (x.sin() - x * x.cos()) / x.powi(3);
        f * f
    }

    #[test]
    fn recovers_the_radius_of_a_sphere() {
        let q: Vec<f64> = (1..=300).map(|i| f64::from(i) * 0.01).collect();
        for r in [1.5, 2.5, 4.0, 8.0] {
            let i: Vec<f64> = q.iter().map(|&q| 1e6 * sphere(q, r)).collect();
            let fit = sphere_radius(&q, &i).unwrap();
            assert!(
                (fit.value - r).abs() / r < 0.02,
                "R = {r} nm recovered as {}",
                fit.value
            );
        }
    }

    #[test]
    fn a_q_range_that_starts_too_high_is_refused() {
        // R = 20 nm: Guinier region ends at q = 1.3/15.5 = 0.084 /nm, below the grid.
        let q: Vec<f64> = (10..=300).map(|i| f64::from(i) * 0.01).collect();
        let i: Vec<f64> = q.iter().map(|&q| 1e6 * sphere(q, 20.0) + 1.0).collect();
        assert!(guinier_fit(&q, &i).is_err());
    }

    #[test]
    fn a_rising_curve_has_no_guinier_region() {
        let q: Vec<f64> = (1..=50).map(|i| f64::from(i) * 0.01).collect();
        let i: Vec<f64> = q.iter().map(|&q| 1.0 + q).collect();
        assert!(matches!(
            guinier_fit(&q, &i),
            Err(ProxyError::NoPeak { .. })
        ));
    }
}
