//! What the cell holds, optically: populations of absorbers/emitters, and their rendering on a
//! spectrometer's grid.
//!
//! Invariants: absorbance is decadic and per metre of path, already multiplied by
//! concentration, so mixing populations is adding them (Beer–Lambert is linear). Emission lines
//! are Gaussians in wavelength with the given FWHM (the physics.md linewidth rule gives the FWHM
//! from an energy width); each population emits in proportion to the excitation light it
//! absorbs, `f_total·α_p/α_total` at the excitation wavelength, times its quantum yield.
//! Re-absorption of emitted light (inner filter) is not modelled.

use qdx_spectra::shapes::{EV_NM, gaussian};

/// An absorption feature, decadic absorbance per metre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Band {
    /// A Gaussian in energy (an excitonic transition).
    Peak {
        center_ev: f64,
        fwhm_ev: f64,
        per_m: f64,
    },
    /// An absorption onset: a logistic step at `edge_ev` of width `width_ev`, rising further by
    /// `slope_per_ev` (relative) per eV above the edge (the continuum toward the blue).
    Edge {
        edge_ev: f64,
        width_ev: f64,
        per_m: f64,
        slope_per_ev: f64,
    },
}

impl Band {
    /// Absorbance per metre at photon energy `e` (eV).
    pub fn at_ev(&self, e: f64) -> f64 {
        match *self {
            Band::Peak {
                center_ev,
                fwhm_ev,
                per_m,
            } => per_m * gaussian(e, center_ev, fwhm_ev),
            Band::Edge {
                edge_ev,
                width_ev,
                per_m,
                slope_per_ev,
            } => {
                let w = width_ev.max(1e-6);
                let step = 1.0 / (1.0 + (-(e - edge_ev) / w).exp());
                per_m * step * (1.0 + slope_per_ev * (e - edge_ev).max(0.0))
            }
        }
    }

    fn scaled(&self, w: f64) -> Band {
        match *self {
            Band::Peak {
                center_ev,
                fwhm_ev,
                per_m,
            } => Band::Peak {
                center_ev,
                fwhm_ev,
                per_m: per_m * w,
            },
            Band::Edge {
                edge_ev,
                width_ev,
                per_m,
                slope_per_ev,
            } => Band::Edge {
                edge_ev,
                width_ev,
                per_m: per_m * w,
                slope_per_ev,
            },
        }
    }
}

/// An emission line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Emission {
    pub peak_nm: f64,
    pub fwhm_nm: f64,
    /// Photons emitted per photon absorbed (0..=1).
    pub quantum_yield: f64,
}

/// One population of particles (or molecules): how it absorbs and how it emits, and, for the
/// non-optical instruments, how it scatters X-rays and how chiral it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Population {
    pub bands: Vec<Band>,
    pub emission: Option<Emission>,
    /// The particles as SAXS sees them (`None`: they scatter nothing the camera resolves,
    /// e.g. a dissolved dye).
    pub spheres: Option<crate::scattering::Spheres>,
    /// Dissymmetry factor g of its exciton band (0: achiral), for
    /// [`crate::dichroism::ellipticity_mdeg`].
    pub dissymmetry: f64,
}

impl Population {
    pub fn absorbance_per_m(&self, wavelength_nm: f64) -> f64 {
        let e = EV_NM / wavelength_nm;
        self.bands.iter().map(|b| b.at_ev(e)).sum()
    }

    /// The same population diluted by `w` (a share of the cell's volume).
    pub fn scaled(&self, w: f64) -> Population {
        Population {
            bands: self.bands.iter().map(|b| b.scaled(w)).collect(),
            emission: self.emission,
            spheres: self.spheres.map(|s| crate::scattering::Spheres {
                number: s.number * w,
                ..s
            }),
            dissymmetry: self.dissymmetry,
        }
    }
}

/// What the spectrometer needs from the cell: absorbance per pixel and PL per pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct CellOptics {
    /// Absorbance of the cell (path included) per pixel.
    pub absorbance: Vec<f64>,
    /// Emitted photons reaching the detector per pixel, as a fraction of the excitation
    /// signal (`excitation_e_per_s` × this = electrons per second).
    pub emission: Vec<f64>,
}

/// Renders the populations in a cell of path `path_m` on `grid` (nm), excited at
/// `excitation_nm`.
pub fn render(
    populations: &[Population],
    grid: &[f64],
    path_m: f64,
    excitation_nm: f64,
) -> CellOptics {
    let mut absorbance = vec![0.0; grid.len()];
    let mut emission = vec![0.0; grid.len()];
    for p in populations {
        for b in &p.bands {
            for (a, x) in absorbance.iter_mut().zip(grid) {
                *a += b.at_ev(EV_NM / x) * path_m;
            }
        }
    }
    let per_pop: Vec<f64> = populations
        .iter()
        .map(|p| p.absorbance_per_m(excitation_nm) * path_m)
        .collect();
    let total: f64 = per_pop.iter().sum();
    if total > 0.0 && total.is_finite() {
        let absorbed = 1.0 - 10f64.powf(-total);
        for (p, a) in populations.iter().zip(&per_pop) {
            let Some(em) = p.emission else { continue };
            if !(em.fwhm_nm > 0.0 && em.quantum_yield > 0.0) {
                continue;
            }
            let photons = absorbed * (a / total) * em.quantum_yield;
            // Normalise the Gaussian to unit area over wavelength; only ±5 FWHM matter.
            let norm = em.fwhm_nm * 0.5 * (std::f64::consts::PI / std::f64::consts::LN_2).sqrt();
            let lo = grid.partition_point(|x| *x < em.peak_nm - 5.0 * em.fwhm_nm);
            let hi = grid.partition_point(|x| *x <= em.peak_nm + 5.0 * em.fwhm_nm);
            for i in lo..hi {
                let (Some(x), Some(slot)) = (grid.get(i), emission.get_mut(i)) else {
                    continue;
                };
                let width = pixel_width(grid, i);
                *slot += photons * gaussian(*x, em.peak_nm, em.fwhm_nm) * width / norm;
            }
        }
    }
    CellOptics {
        absorbance,
        emission,
    }
}

/// The wavelength span a pixel covers: half the distance to each neighbour.
fn pixel_width(grid: &[f64], i: usize) -> f64 {
    let left = i.checked_sub(1).and_then(|j| grid.get(j));
    let right = grid.get(i + 1);
    match (left, grid.get(i), right) {
        (Some(l), Some(c), Some(r)) => 0.5 * ((c - l) + (r - c)),
        (None, Some(c), Some(r)) => r - c,
        (Some(l), Some(c), None) => c - l,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdx_spectra::shapes::linear_grid;

    #[test]
    fn emission_integrates_to_the_absorbed_yield() {
        let grid = linear_grid(350.0, 800.0, 2048);
        let pop = Population {
            bands: vec![Band::Edge {
                edge_ev: 2.5,
                width_ev: 0.03,
                per_m: 300.0,
                slope_per_ev: 0.0,
            }],
            emission: Some(Emission {
                peak_nm: 520.0,
                fwhm_nm: 20.0,
                quantum_yield: 0.5,
            }),
            ..Population::default()
        };
        let optics = render(&[pop], &grid, 1e-3, 365.0);
        let a = 0.3;
        let expected = (1.0 - 10f64.powf(-a)) * 0.5;
        let total: f64 = optics.emission.iter().sum();
        assert!(
            (total - expected).abs() / expected < 1e-3,
            "{total} vs {expected}"
        );
        // Absorbance: full above the edge, none far below.
        assert!((optics.absorbance[0] - 0.3).abs() < 1e-6);
        assert!(optics.absorbance[2047] < 1e-6);
    }

    #[test]
    fn light_is_shared_by_absorbance() {
        let grid = linear_grid(350.0, 800.0, 512);
        let absorber = |per_m: f64, qy: f64| Population {
            bands: vec![Band::Edge {
                edge_ev: 2.0,
                width_ev: 0.01,
                per_m,
                slope_per_ev: 0.0,
            }],
            emission: Some(Emission {
                peak_nm: 600.0,
                fwhm_nm: 20.0,
                quantum_yield: qy,
            }),
            ..Population::default()
        };
        let mixed = render(
            &[absorber(100.0, 1.0), absorber(300.0, 0.0)],
            &grid,
            1e-3,
            365.0,
        );
        let alone = render(&[absorber(400.0, 0.25)], &grid, 1e-3, 365.0);
        let (m, a): (f64, f64) = (mixed.emission.iter().sum(), alone.emission.iter().sum());
        assert!((m - a).abs() < 1e-12);
    }
}
