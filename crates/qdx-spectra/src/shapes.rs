//! Line shapes and grids for building synthetic spectra (tests, the simulator).
//!
//! Invariant: every shape has unit height at its centre and is parameterised by its full width
//! at half maximum, so a shape's FWHM is exactly the `fwhm` it was given.

/// `n` evenly spaced wavelengths from `min` to `max` inclusive (an empty grid if `n == 0`).
pub fn linear_grid(min: f64, max: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![min],
        _ => {
            let step = (max - min) / (n - 1) as f64;
            (0..n).map(|i| min + step * i as f64).collect()
        }
    }
}

/// Gaussian of unit height centred at `center` with full width at half maximum `fwhm`.
pub fn gaussian(x: f64, center: f64, fwhm: f64) -> f64 {
    if fwhm <= 0.0 {
        return if x == center { 1.0 } else { 0.0 };
    }
    let sigma = fwhm / (2.0 * (2.0 * std::f64::consts::LN_2).sqrt());
    let u = (x - center) / sigma;
    (-0.5 * u * u).exp()
}

/// Lorentzian of unit height centred at `center` with full width at half maximum `fwhm`.
pub fn lorentzian(x: f64, center: f64, fwhm: f64) -> f64 {
    if fwhm <= 0.0 {
        return if x == center { 1.0 } else { 0.0 };
    }
    let u = 2.0 * (x - center) / fwhm;
    1.0 / (1.0 + u * u)
}

/// The conversion constant between photon energy in eV and wavelength in nm (hc/e).
pub const EV_NM: f64 = 1_239.841_984;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_half_height_at_half_width() {
        assert!((gaussian(503.0, 500.0, 6.0) - 0.5).abs() < 1e-12);
        assert!((lorentzian(497.0, 500.0, 6.0) - 0.5).abs() < 1e-12);
        assert_eq!(gaussian(500.0, 500.0, 6.0), 1.0);
    }

    #[test]
    fn grid_ends_are_exact() {
        let g = linear_grid(350.0, 800.0, 1024);
        assert_eq!(g.len(), 1024);
        assert_eq!(g[0], 350.0);
        assert!((g[1023] - 800.0).abs() < 1e-9);
    }
}
