//! The Yu 2003 CdSe sizing curve and extinction coefficient (physics.md B1), and a model
//! continuation of the sizing curve below its fitted range.
//!
//! `D(λ) = 1.6122e-9 λ⁴ − 2.6575e-6 λ³ + 1.6242e-3 λ² − 0.4277 λ + 41.57` (D in nm, λ the
//! first-exciton absorption peak in nm), `ε = 5857·D^2.65` M⁻¹cm⁻¹ (Yu, Qu, Guo, Peng, Chem.
//! Mater. 2003, 15, 2854). The fit covers about λ = 420–660 nm.
//!
//! **Below 420 nm (dots smaller than D(420 nm) ≈ 1.72 nm) this is a model extrapolation, to
//! calibrate**: the first-exciton energy follows a confinement form `E(D) = Eg + C / D^n`
//! with the bulk gap `Eg` = 1.74 eV (physics.md B1, the CdSe constant of the Brus equation in
//! public code), and `C` and `n` chosen so that `E` and `dE/dD` equal the Yu curve's at
//! 420 nm: the curve and its slope are continuous there, and `E` grows without bound as `D`
//! shrinks, toward the bulk gap as it grows. Matching gives n ≈ 1.24 (the pure effective-mass
//! form has n = 2, which overestimates confinement in CdSe, physics.md B1). Before, the curve
//! was clamped at 420 nm, so every dot smaller than 1.72 nm absorbed at 420 nm. Dots are
//! taken no smaller than [`MIN_DIAMETER_NM`] (about a (CdSe)₁₃ cluster), where the form is
//! far from any data. Above 660 nm the curve is still clamped.
//!
//! Invariants: [`first_exciton_nm`] is continuous and non-decreasing in `D`, strictly
//! increasing from [`MIN_DIAMETER_NM`] to D(660 nm), and equals the Yu curve's inverse on its
//! fitted range.

use qdx_spectra::shapes::EV_NM;

/// Fitted range of the curve, nm.
pub const FIT_RANGE_NM: (f64, f64) = (420.0, 660.0);

/// Bulk CdSe band gap, eV (physics.md B1), the large-dot limit of the continuation.
pub const BULK_GAP_EV: f64 = 1.74;

/// The smallest dot the continuation sizes, nm; smaller sizes are read as this one.
pub const MIN_DIAMETER_NM: f64 = 0.8;

/// Diameter (nm) for a first-exciton peak at `lambda_nm` (the Yu polynomial).
pub fn diameter_nm(lambda_nm: f64) -> f64 {
    let l = lambda_nm;
    1.6122e-9 * l.powi(4) - 2.6575e-6 * l.powi(3) + 1.6242e-3 * l * l - 0.4277 * l + 41.57
}

/// dD/dλ of the Yu polynomial, nm per nm.
fn diameter_slope(lambda_nm: f64) -> f64 {
    let l = lambda_nm;
    4.0 * 1.6122e-9 * l.powi(3) - 3.0 * 2.6575e-6 * l * l + 2.0 * 1.6242e-3 * l - 0.4277
}

/// The continuation's `(C, n)` in `E = Eg + C / D^n` (E in eV, D in nm), matched in value and
/// slope to the Yu curve at its lower end (see the module doc).
pub fn continuation() -> (f64, f64) {
    let l0 = FIT_RANGE_NM.0;
    let d0 = diameter_nm(l0);
    let e0 = EV_NM / l0;
    // dE/dD = dE/dλ · dλ/dD, with dE/dλ = −hc/λ².
    let slope = -EV_NM / (l0 * l0) / diameter_slope(l0);
    // E − Eg = C D^−n and dE/dD = −n C D^−(n+1) give n = −D·(dE/dD)/(E − Eg).
    let n = -d0 * slope / (e0 - BULK_GAP_EV);
    let c = (e0 - BULK_GAP_EV) * d0.powf(n);
    (c, n)
}

/// First-exciton peak (nm) of dots of diameter `d_nm`: the Yu curve's inverse (by bisection)
/// on its fitted range, the confinement continuation below it, clamped at 660 nm above it.
/// NaN reads as the smallest dot.
pub fn first_exciton_nm(d_nm: f64) -> f64 {
    let (lo, hi) = FIT_RANGE_NM;
    if d_nm.is_nan() || d_nm < diameter_nm(lo) {
        let d = if d_nm.is_nan() {
            MIN_DIAMETER_NM
        } else {
            d_nm.max(MIN_DIAMETER_NM)
        };
        let (c, n) = continuation();
        return EV_NM / (BULK_GAP_EV + c / d.powf(n));
    }
    if d_nm >= diameter_nm(hi) {
        return hi;
    }
    let (mut a, mut b) = (lo, hi);
    for _ in 0..60 {
        let m = 0.5 * (a + b);
        if diameter_nm(m) < d_nm {
            a = m;
        } else {
            b = m;
        }
    }
    0.5 * (a + b)
}

/// Molar extinction coefficient at the first exciton, M⁻¹cm⁻¹ per particle.
pub fn extinction(d_nm: f64) -> f64 {
    5857.0 * d_nm.max(0.0).powf(2.65)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_physics_table() {
        // (λ nm, D nm, ε M⁻¹cm⁻¹) from physics.md B1.
        let table = [
            (480.0, 2.17, 4.6e4),
            (500.0, 2.34, 5.6e4),
            (520.0, 2.56, 7.1e4),
            (550.0, 3.04, 1.1e5),
            (580.0, 3.82, 2.0e5),
            (600.0, 4.58, 3.3e5),
            (620.0, 5.61, 5.6e5),
            (640.0, 6.95, 1.0e6),
        ];
        for (lambda, d, eps) in table {
            assert!(
                (diameter_nm(lambda) - d).abs() < 0.01,
                "D({lambda}) = {}",
                diameter_nm(lambda)
            );
            assert!(
                (extinction(d) / eps - 1.0).abs() < 0.05,
                "eps({d}) = {}",
                extinction(d)
            );
            // The inverse undoes the curve (the table's D is rounded, so use the exact one).
            let back = first_exciton_nm(diameter_nm(lambda));
            assert!((back - lambda).abs() < 1e-6, "λ(D({lambda})) = {back}");
        }
    }

    #[test]
    fn inverse_is_clamped_above_and_monotone() {
        assert_eq!(first_exciton_nm(20.0), 660.0);
        assert_eq!(
            first_exciton_nm(f64::NAN),
            first_exciton_nm(MIN_DIAMETER_NM)
        );
        assert_eq!(first_exciton_nm(0.1), first_exciton_nm(MIN_DIAMETER_NM));
        // Strictly increasing from the smallest dot to the top of the fit.
        let mut last = 0.0;
        for i in 0..=1000 {
            let d =
                MIN_DIAMETER_NM + (diameter_nm(660.0) - MIN_DIAMETER_NM) * f64::from(i) / 1000.0;
            let l = first_exciton_nm(d);
            assert!(l > last, "λ({d}) = {l} after {last}");
            last = l;
        }
    }

    #[test]
    fn the_continuation_below_420_nm_is_continuous_in_value_and_slope() {
        let d0 = diameter_nm(FIT_RANGE_NM.0);
        let h = 1e-6;
        // Value: the two sides meet at 420 nm.
        let below = first_exciton_nm(d0 - h);
        let above = first_exciton_nm(d0 + h);
        assert!(
            (below - 420.0).abs() < 1e-3 && (above - 420.0).abs() < 1e-3,
            "{below} {above}"
        );
        // Slope: dλ/dD on each side agrees (within the bisection's resolution).
        let step = 1e-3;
        let left = (first_exciton_nm(d0 - step) - first_exciton_nm(d0 - 2.0 * step)) / step;
        let right = (first_exciton_nm(d0 + 2.0 * step) - first_exciton_nm(d0 + step)) / step;
        assert!(
            (left / right - 1.0).abs() < 0.01,
            "dλ/dD: {left} below, {right} above"
        );
        // The matched form: E → Eg for large D, exponent between 1 and 2.
        let (c, n) = continuation();
        assert!(c > 0.0 && (1.0..2.0).contains(&n), "C {c}, n {n}");
    }

    #[test]
    fn small_dots_absorb_at_distinct_wavelengths_below_420_nm() {
        // Before the continuation all four read 420 nm.
        let sizes = [1.0, 1.2, 1.4, 1.6];
        let lambdas: Vec<f64> = sizes.iter().map(|&d| first_exciton_nm(d)).collect();
        for pair in lambdas.windows(2) {
            if let [a, b] = pair {
                assert!(b - a > 5.0, "{lambdas:?}");
            }
        }
        assert!(lambdas.iter().all(|&l| l < 420.0), "{lambdas:?}");
        // Near the polynomial, which is still monotone a little below its fitted range
        // (physics.md B1): D(400 nm) ≈ 1.55 nm.
        assert!((first_exciton_nm(diameter_nm(400.0)) - 400.0).abs() < 3.0);
    }
}
