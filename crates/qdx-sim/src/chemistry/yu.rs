//! The Yu 2003 CdSe sizing curve and extinction coefficient (physics.md B1).
//!
//! `D(λ) = 1.6122e-9 λ⁴ − 2.6575e-6 λ³ + 1.6242e-3 λ² − 0.4277 λ + 41.57` (D in nm, λ the
//! first-exciton absorption peak in nm), `ε = 5857·D^2.65` M⁻¹cm⁻¹. The fit covers about
//! λ = 420–660 nm, so the inverse clamps there: sizes outside map to the ends of that range.

/// Fitted range of the curve, nm.
pub const FIT_RANGE_NM: (f64, f64) = (420.0, 660.0);

/// Diameter (nm) for a first-exciton peak at `lambda_nm`.
pub fn diameter_nm(lambda_nm: f64) -> f64 {
    let l = lambda_nm;
    1.6122e-9 * l.powi(4) - 2.6575e-6 * l.powi(3) + 1.6242e-3 * l * l - 0.4277 * l + 41.57
}

/// First-exciton peak (nm) of dots of diameter `d_nm`, by bisection, clamped to the fit range.
pub fn first_exciton_nm(d_nm: f64) -> f64 {
    let (lo, hi) = FIT_RANGE_NM;
    if d_nm.is_nan() || d_nm <= diameter_nm(lo) {
        return lo;
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
    fn inverse_is_clamped_and_monotone() {
        assert_eq!(first_exciton_nm(0.5), 420.0);
        assert_eq!(first_exciton_nm(20.0), 660.0);
        assert_eq!(first_exciton_nm(f64::NAN), 420.0);
        let mut last = 0.0;
        for i in 0..100 {
            let l = first_exciton_nm(1.5 + 0.07 * i as f64);
            assert!(l >= last);
            last = l;
        }
    }
}
