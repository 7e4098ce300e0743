//! Simulated small-angle X-ray scattering (SAXS) of the particles in the cell.
//!
//! Model (a model, not a measurement of any real sample): dilute, non-interacting homogeneous
//! spheres with a Schulz (Flory) size distribution, so the structure factor is 1 and the
//! intensity is the number-weighted sum of each size's sphere form factor,
//!
//! ```text
//! I(q) = scale · ∫ f(R) · V(R)² · P(qR) dR + background
//! P(x) = [3 (sin x − x cos x) / x³]²                                  (Rayleigh 1911)
//! f(R) ∝ R^z · exp(−(z+1) R / R̄),   z = 1/p² − 1,   p = σ_R / R̄        (Schulz distribution)
//! ```
//!
//! as given by J. S. Pedersen, "Analysis of small-angle scattering data from colloids and
//! polymer solutions: modeling and least-squares fitting", Adv. Colloid Interface Sci. 70
//! (1997) 171–210 (sphere form factor, eq. for polydisperse spheres with the Schulz
//! distribution; Kotlarchyk & Chen, J. Chem. Phys. 79 (1983) 2461, for the Schulz moments).
//! The integral is a fixed quadrature over `R̄·(1 ± 6p)`, normalised numerically, so no Gamma
//! function is needed. Counting noise is Poisson on the counts a pixel collects in the
//! exposure (`photons_per_s` scales the signal), plus a flat background (solvent and
//! capillary), which the runtime does not subtract (real beamline software subtracts a solvent
//! frame; the Guinier fit sits where the particles dominate).
//!
//! Invariant: `q` is in inverse nanometres and radii in nanometres, as everywhere in the SAXS
//! code; the output has one finite, non-negative intensity per `q`.

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};

/// The sphere form factor `P(qR)`, normalised to 1 at `q = 0`.
pub fn sphere_form_factor(q_per_nm: f64, radius_nm: f64) -> f64 {
    let x = q_per_nm * radius_nm;
    if x.abs() < 1e-3 {
        // Series: 1 − x²/5 + …, avoiding the cancellation of sin x − x cos x.
        return 1.0 - x * x / 5.0;
    }
    let f = 3.0 * (x.sin() - x * x.cos()) / x.powi(3);
    f * f
}

/// A polydisperse population of spheres as the SAXS model sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spheres {
    /// Mean radius R̄, nm.
    pub mean_radius_nm: f64,
    /// Relative standard deviation of the radius, σ_R/R̄ (0: monodisperse).
    pub polydispersity: f64,
    /// Particle number density, arbitrary units: the intensity scales with it.
    pub number: f64,
}

/// Points of the size quadrature: enough that a 5 % distribution is smooth in `I(q)`.
const QUADRATURE: usize = 201;

impl Spheres {
    /// `(R, weight)` pairs of the size distribution, weights summing to 1.
    fn sizes(&self) -> Vec<(f64, f64)> {
        let r = self.mean_radius_nm.max(1e-3);
        let p = self.polydispersity;
        if p.is_nan() || p <= 1e-4 {
            return vec![(r, 1.0)];
        }
        let p = p.min(0.9);
        let z = 1.0 / (p * p) - 1.0;
        let lo = (r * (1.0 - 6.0 * p)).max(r * 1e-3);
        let hi = r * (1.0 + 6.0 * p);
        let step = (hi - lo) / (QUADRATURE - 1) as f64;
        let log_f = |x: f64| z * x.ln() - (z + 1.0) * x / r;
        let grid: Vec<f64> = (0..QUADRATURE).map(|i| lo + step * i as f64).collect();
        let max = grid.iter().map(|&x| log_f(x)).fold(f64::MIN, f64::max);
        let w: Vec<f64> = grid.iter().map(|&x| (log_f(x) - max).exp()).collect();
        let total: f64 = w.iter().sum();
        grid.into_iter()
            .zip(w.into_iter().map(|w| w / total))
            .collect()
    }

    /// Noise-free scattered intensity per `q` (no background), in the units of `number`
    /// times nm⁶.
    pub fn intensity(&self, q_per_nm: &[f64]) -> Vec<f64> {
        let sizes = self.sizes();
        q_per_nm
            .iter()
            .map(|&q| {
                let sum: f64 = sizes
                    .iter()
                    .map(|&(r, w)| {
                        let v = 4.0 / 3.0 * std::f64::consts::PI * r.powi(3);
                        w * v * v * sphere_form_factor(q, r)
                    })
                    .sum();
                self.number * sum
            })
            .collect()
    }

    /// The radius of gyration Guinier's law sees for this ensemble, `√(3/5 · ⟨R⁸⟩/⟨R⁶⟩)`, nm:
    /// what a Guinier fit of [`Spheres::intensity`] should return.
    pub fn guinier_radius_nm(&self) -> f64 {
        let sizes = self.sizes();
        let m8: f64 = sizes.iter().map(|&(r, w)| w * r.powi(8)).sum();
        let m6: f64 = sizes.iter().map(|&(r, w)| w * r.powi(6)).sum();
        (0.6 * m8 / m6).sqrt()
    }
}

impl Spheres {
    /// The dots a CdSe growth outcome holds: radius half the modelled diameter, the model's
    /// size spread (a standard deviation) as the polydispersity, number from the particle
    /// concentration (mol/m³). `None` when no particles formed.
    pub fn from_cdse(o: &crate::chemistry::CdSeOutcome) -> Option<Spheres> {
        (o.diameter_nm > 0.0 && o.particle_concentration > 0.0).then(|| Spheres {
            mean_radius_nm: 0.5 * o.diameter_nm,
            polydispersity: o.size_spread_nm / o.diameter_nm,
            number: o.particle_concentration,
        })
    }
}

/// How the simulated SAXS camera turns intensity into counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SaxsCamera {
    /// Counts per second per unit of [`Spheres::intensity`].
    pub counts_per_s: f64,
    /// Flat background, counts per second per pixel (solvent, capillary, air).
    pub background_per_s: f64,
}

/// One averaged frame: the mean counts per second per pixel over `frames` exposures of
/// `exposure_s`, with Poisson counting noise when `rng` is given (`None`: noise-free).
pub fn frame(
    spheres: &[Spheres],
    q_per_nm: &[f64],
    camera: &SaxsCamera,
    exposure_s: f64,
    frames: u32,
    rng: Option<&mut ChaCha8Rng>,
) -> Vec<f64> {
    let mut rate = vec![camera.background_per_s; q_per_nm.len()];
    for s in spheres {
        for (acc, i) in rate.iter_mut().zip(s.intensity(q_per_nm)) {
            *acc += camera.counts_per_s * i;
        }
    }
    let Some(rng) = rng else {
        return rate;
    };
    let t = exposure_s * f64::from(frames.max(1));
    rate.iter().map(|&r| counts(rng, r * t) / t).collect()
}

/// A Poisson draw of mean `mean`; the normal approximation above 1e6 counts, where the two
/// agree and the exact sampler is slow.
fn counts(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    if mean.is_nan() || mean <= 0.0 {
        return 0.0;
    }
    if mean < 1e6 {
        Poisson::new(mean).map_or(mean, |p| p.sample(rng))
    } else {
        let z: f64 = StandardNormal.sample(rng);
        (mean + mean.sqrt() * z).max(0.0)
    }
}

/// A `q` grid of `points` equally spaced values over `[q_min, q_max]` (1/nm).
pub fn q_grid(q_min: f64, q_max: f64, points: usize) -> Vec<f64> {
    let n = points.max(2);
    (0..n)
        .map(|i| q_min + (q_max - q_min) * i as f64 / (n - 1) as f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdx_spectra::scattering::{guinier_fit, sphere_radius};

    fn camera() -> SaxsCamera {
        SaxsCamera {
            counts_per_s: 1.0,
            background_per_s: 0.0,
        }
    }

    #[test]
    fn form_factor_is_one_at_zero_and_has_its_first_minimum_at_4_49() {
        assert!((sphere_form_factor(0.0, 3.0) - 1.0).abs() < 1e-12);
        // First zero of tan x = x: x = 4.4934.
        assert!(sphere_form_factor(4.4934 / 3.0, 3.0) < 1e-8);
    }

    #[test]
    fn guinier_fit_recovers_known_spheres_noise_free() {
        let q = q_grid(0.02, 3.0, 400);
        for (r, p) in [(1.5, 0.0), (2.5, 0.05), (4.0, 0.08), (6.0, 0.1)] {
            let s = Spheres {
                mean_radius_nm: r,
                polydispersity: p,
                number: 1.0,
            };
            let i = frame(&[s], &q, &camera(), 1.0, 1, None);
            let fit = guinier_fit(&q, &i).unwrap();
            let expected = s.guinier_radius_nm();
            assert!(
                (fit.rg_nm - expected).abs() / expected < 0.02,
                "R̄ {r} nm, p {p}: Rg {} nm, expected {expected} nm",
                fit.rg_nm
            );
            if p == 0.0 {
                let radius = sphere_radius(&q, &i).unwrap().value;
                assert!((radius - r).abs() / r < 0.02, "{radius} vs {r}");
            }
        }
    }

    /// With counting noise and a background the fit stays within 5 % of the ensemble's Rg
    /// (stated tolerance) on every seed tried.
    #[test]
    fn guinier_fit_with_counting_noise_stays_within_5_percent() {
        let q = q_grid(0.05, 3.0, 300);
        let s = Spheres {
            mean_radius_nm: 3.0,
            polydispersity: 0.08,
            number: 1.0,
        };
        let expected = s.guinier_radius_nm();
        // I(0) = V² ≈ 1.28e4 nm⁶ → 1e3 counts/s at low q, background 1 count/s.
        let cam = SaxsCamera {
            counts_per_s: 1e3 / (4.0 / 3.0 * std::f64::consts::PI * 27.0_f64).powi(2),
            background_per_s: 1.0,
        };
        for seed in 0..10 {
            let mut rng = crate::rng::stream(seed, "saxs-test");
            let i = frame(&[s], &q, &cam, 1.0, 3, Some(&mut rng));
            let fit = guinier_fit(&q, &i).unwrap();
            assert!(
                (fit.rg_nm - expected).abs() / expected < 0.05,
                "seed {seed}: Rg {} nm, expected {expected} nm",
                fit.rg_nm
            );
        }
    }

    /// SAXS follows growth: the Guinier radius of the CdSe model's dots rises with residence
    /// time, and equals the size the model gave them (its `⟨R⁸⟩/⟨R⁶⟩` average) within 2 %.
    #[test]
    fn saxs_of_the_cdse_model_follows_growth() {
        let model = crate::chemistry::CdSeGrowth::new(&std::collections::BTreeMap::new()).unwrap();
        let q = q_grid(0.02, 3.0, 400);
        let mut last = 0.0;
        for tau in [2.0, 5.0, 10.0, 30.0] {
            let o = model.evaluate(&crate::chemistry::CdSeInputs {
                cadmium: 5.0,
                selenium: 5.0,
                residence_s: tau,
                temperature_k: 543.15,
            });
            let s = Spheres::from_cdse(&o).unwrap();
            let i = frame(&[s], &q, &camera(), 1.0, 1, None);
            let rg = guinier_fit(&q, &i).unwrap().rg_nm;
            let expected = s.guinier_radius_nm();
            assert!(
                (rg - expected).abs() / expected < 0.02,
                "τ {tau} s: {rg} vs {expected}"
            );
            assert!(rg > last, "τ {tau} s: Rg {rg} nm after {last} nm");
            last = rg;
        }
    }

    #[test]
    fn schulz_moments_match_the_analytic_ratio() {
        // ⟨R⁸⟩/⟨R⁶⟩ = R̄² (z+7)(z+8)/(z+1)² for the Schulz distribution.
        let s = Spheres {
            mean_radius_nm: 3.0,
            polydispersity: 0.1,
            number: 1.0,
        };
        let z: f64 = 99.0;
        let analytic = (0.6 * 9.0 * (z + 7.0) * (z + 8.0) / (z + 1.0).powi(2)).sqrt();
        assert!(
            (s.guinier_radius_nm() - analytic).abs() / analytic < 1e-3,
            "{} vs {analytic}",
            s.guinier_radius_nm()
        );
    }
}
