//! Simulated circular dichroism (CD) of a chiral population: a model, not a fit to any sample.
//!
//! A chiral nanocrystal (chiral ligands on an achiral core, or a chiral lattice) shows a
//! bisignate Cotton effect at its first exciton: two lobes of opposite sign around the
//! exciton peak, zero at the peak itself (the exciton-couplet shape of Berova, Nakanishi &
//! Woody, *Circular Dichroism: Principles and Applications*, Wiley 2000). qdx models it on the
//! exciton band the chemistry model already gives (an [`optics::Band::Peak`] Gaussian in
//! energy, centre E0, standard deviation σ):
//!
//! ```text
//! ΔA(E) = −g · A_band(E) · s(x),   x = (E − E0)/σ,   s(x) = x · exp((1 − x²)/2)
//! θ [mdeg] = 32980 · ΔA
//! ```
//!
//! `s` is odd with `s(±1) = ±1`, so the dissymmetry `ΔA/A_band` of the band alone reaches `g`
//! on the red side (at E0 − σ) and `−g` on the blue side: `g` is the sign and size of the
//! long-wavelength lobe, as chemists usually quote it. The measured `g = θ/(32980·A)` is
//! smaller where other absorbers (the continuum above the edge) add to `A`. `g` is declared
//! (a campaign parameter), not predicted from structure.
//!
//! Invariant: wavelengths in nm; one finite θ per grid point.
//!
//! [`optics::Band::Peak`]: crate::optics::Band::Peak

use qdx_spectra::dichroism::MDEG_PER_DELTA_A;
use qdx_spectra::shapes::{EV_NM, gaussian};

use crate::optics::Band;

/// FWHM of a Gaussian over its standard deviation, `2√(2 ln 2)`.
const FWHM_PER_SIGMA: f64 = 2.354_820_045_030_949;

/// The bisignate line shape `s(x)`: odd, ±1 at x = ±1.
pub fn couplet(x: f64) -> f64 {
    x * (0.5 * (1.0 - x * x)).exp()
}

/// Ellipticity (mdeg) on `grid` (nm) of exciton `band` in a cell of path `path_m`, with
/// long-wavelength dissymmetry `g`. Bands other than a [`Band::Peak`] are achiral here.
pub fn ellipticity_mdeg(band: &Band, g: f64, path_m: f64, grid: &[f64]) -> Vec<f64> {
    let Band::Peak {
        center_ev,
        fwhm_ev,
        per_m,
    } = *band
    else {
        return vec![0.0; grid.len()];
    };
    let sigma = (fwhm_ev / FWHM_PER_SIGMA).max(1e-6);
    grid.iter()
        .map(|&nm| {
            let e = EV_NM / nm;
            let a = per_m * path_m * gaussian(e, center_ev, fwhm_ev);
            MDEG_PER_DELTA_A * (-g * a * couplet((e - center_ev) / sigma))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdx_spectra::{Spectrum, SpectrumQuantity, dichroism::anisotropy};

    #[test]
    fn couplet_is_odd_and_unit_at_one() {
        assert!((couplet(1.0) - 1.0).abs() < 1e-12);
        assert!((couplet(-1.0) + 1.0).abs() < 1e-12);
        assert!(couplet(0.0).abs() < 1e-15);
    }

    /// The known case: one exciton band, g = +1.5e-3. The anisotropy read at the red lobe
    /// (E0 − σ) is +1.5e-3, at the blue lobe −1.5e-3, within the interpolation of a 0.1 nm grid.
    #[test]
    fn anisotropy_recovers_the_declared_dissymmetry_and_its_sign() {
        let band = Band::Peak {
            center_ev: EV_NM / 510.0,
            fwhm_ev: 0.1,
            per_m: 500.0,
        };
        let path = 1e-3;
        let grid: Vec<f64> = (0..=3000).map(|i| 400.0 + 0.1 * f64::from(i)).collect();
        let g = 1.5e-3;
        let theta = ellipticity_mdeg(&band, g, path, &grid);
        let a: Vec<f64> = grid
            .iter()
            .map(|&nm| path * band.at_ev(EV_NM / nm))
            .collect();
        let cd = Spectrum::new(grid.clone(), theta, SpectrumQuantity::Intensity).unwrap();
        let abs = Spectrum::new(grid, a, SpectrumQuantity::Absorbance).unwrap();
        let sigma = 0.1 / FWHM_PER_SIGMA;
        let red = EV_NM / (EV_NM / 510.0 - sigma);
        let blue = EV_NM / (EV_NM / 510.0 + sigma);
        let g_red = anisotropy(&cd, &abs, red).unwrap().value;
        let g_blue = anisotropy(&cd, &abs, blue).unwrap().value;
        assert!((g_red - g).abs() / g < 0.01, "red lobe g = {g_red}");
        assert!((g_blue + g).abs() / g < 0.01, "blue lobe g = {g_blue}");
        // Zero crossing at the exciton peak.
        assert!(anisotropy(&cd, &abs, 510.0).unwrap().value.abs() < 1e-6);
    }
}
