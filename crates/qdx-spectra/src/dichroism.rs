//! Circular dichroism (CD) proxies: the wavelength of the strongest CD extremum and the
//! dissymmetry (anisotropy) factor.
//!
//! A CD spectrometer reports the ellipticity θ in millidegrees over wavelength. Ellipticity
//! and the differential absorbance ΔA = A_L − A_R are related by θ [mdeg] = 32980·ΔA
//! (θ = (ln 10 / 4)(180/π)·ΔA degrees; Berova, Nakanishi & Woody, *Circular Dichroism:
//! Principles and Applications*, Wiley 2000). The dissymmetry factor is
//! g = Δε/ε = ΔA/A = θ / (32980·A), with A the ordinary absorbance at the same wavelength
//! (same cell, same path), so it does not depend on concentration or path.
//!
//! Invariants: spectra are qdx [`Spectrum`]s on a wavelength grid; a result is finite or a
//! [`ProxyError`].

use crate::error::{ProxyError, ProxyResult};
use crate::measured::{Measured, ProxyUnit};
use crate::{Spectrum, absorbance_at};

/// Millidegrees of ellipticity per unit of differential absorbance ΔA.
pub const MDEG_PER_DELTA_A: f64 = 32980.0;

/// Below this absorbance a dissymmetry factor is the ratio of two noises, not a measurement.
pub const MIN_ABSORBANCE: f64 = 0.01;

/// The wavelength (nm) where |θ| is largest: the extremum of the strongest Cotton band,
/// interpolated by a parabola through the pixel and its neighbours.
pub fn extremum_wavelength(cd: &Spectrum) -> ProxyResult<Measured> {
    let values = cd.values();
    let grid = cd.wavelength_nm();
    let (i, _) = values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .ok_or_else(|| ProxyError::no_peak("the CD spectrum is empty"))?;
    if values.get(i).is_none_or(|v| *v == 0.0) {
        return Err(ProxyError::no_peak("the CD spectrum is zero everywhere"));
    }
    let at = |k: usize| (grid.get(k).copied(), values.get(k).map(|v| v.abs()));
    let wavelength = match (at(i.wrapping_sub(1)), at(i), at(i + 1)) {
        ((Some(x0), Some(y0)), (Some(x1), Some(y1)), (Some(x2), Some(y2))) => {
            let denom = y0 - 2.0 * y1 + y2;
            if denom.abs() > 0.0 && (x2 - x1 - (x1 - x0)).abs() < 1e-9 * x1 {
                x1 + 0.5 * (x1 - x0) * (y0 - y2) / denom
            } else {
                x1
            }
        }
        (_, (Some(x1), _), _) => x1,
        _ => return Err(ProxyError::no_peak("the CD spectrum is empty")),
    };
    Measured::new(wavelength, ProxyUnit::Nanometre)
}

/// The dissymmetry factor g = θ/(32980·A) at `wavelength_nm`, with θ (mdeg) read from `cd`
/// and A from `absorbance`, both interpolated.
pub fn anisotropy(
    cd: &Spectrum,
    absorbance: &Spectrum,
    wavelength_nm: f64,
) -> ProxyResult<Measured> {
    let a = absorbance_at(absorbance, wavelength_nm)?.value;
    if a < MIN_ABSORBANCE {
        return Err(ProxyError::NoAbsorption {
            wavelength: wavelength_nm,
            absorptance: 1.0 - 10f64.powf(-a),
        });
    }
    let theta = interpolate(cd, wavelength_nm)?;
    Measured::new(theta / (MDEG_PER_DELTA_A * a), ProxyUnit::Dimensionless)
}

fn interpolate(s: &Spectrum, x: f64) -> ProxyResult<f64> {
    let grid = s.wavelength_nm();
    let values = s.values();
    let k = grid.partition_point(|&g| g < x);
    match (grid.get(k.wrapping_sub(1)), grid.get(k)) {
        (_, Some(&g)) if g == x => values.get(k).copied(),
        (Some(&x0), Some(&x1)) => {
            let (y0, y1) = (values.get(k - 1).copied(), values.get(k).copied());
            y0.zip(y1)
                .map(|(y0, y1)| y0 + (y1 - y0) * (x - x0) / (x1 - x0))
        }
        _ => None,
    }
    .ok_or(ProxyError::OutOfRange { wavelength: x })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SpectrumQuantity;

    fn grid() -> Vec<f64> {
        (0..=400).map(|i| 400.0 + f64::from(i)).collect()
    }

    #[test]
    fn anisotropy_is_theta_over_32980_a() {
        let g = grid();
        let a = Spectrum::new(g.clone(), vec![0.5; g.len()], SpectrumQuantity::Absorbance).unwrap();
        // g = +2e-3 everywhere: θ = 32980 · 2e-3 · 0.5 = 32.98 mdeg.
        let cd =
            Spectrum::new(g.clone(), vec![32.98; g.len()], SpectrumQuantity::Intensity).unwrap();
        let v = anisotropy(&cd, &a, 520.0).unwrap().value;
        assert!((v - 2e-3).abs() < 1e-9, "{v}");
    }

    #[test]
    fn anisotropy_without_absorbance_is_refused() {
        let g = grid();
        let a = Spectrum::new(
            g.clone(),
            vec![0.001; g.len()],
            SpectrumQuantity::Absorbance,
        )
        .unwrap();
        let cd = Spectrum::new(g.clone(), vec![1.0; g.len()], SpectrumQuantity::Intensity).unwrap();
        assert!(matches!(
            anisotropy(&cd, &a, 520.0),
            Err(ProxyError::NoAbsorption { .. })
        ));
    }

    #[test]
    fn the_extremum_is_the_strongest_band_whatever_its_sign() {
        let g = grid();
        // A couplet: +5 mdeg at 500 nm, −8 mdeg at 540 nm.
        let v: Vec<f64> = g
            .iter()
            .map(|&x| {
                5.0 * (-((x - 500.0) / 10.0).powi(2)).exp()
                    - 8.0 * (-((x - 540.0) / 10.0).powi(2)).exp()
            })
            .collect();
        let cd = Spectrum::new(g, v, SpectrumQuantity::Intensity).unwrap();
        let w = extremum_wavelength(&cd).unwrap().value;
        assert!((w - 540.0).abs() < 0.5, "{w}");
    }
}
