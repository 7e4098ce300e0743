//! CdSe nucleation and growth in a hot coil (physics.md B1 and the minimal closed form of B3).
//!
//! - Conversion `X = (1 − e^(−kτ))·s(T)`, `k = k_ref·exp(−Ea/R·(1/T − 1/T_ref))`; `s(T)` a
//!   logistic onset at `t_nucleation` (below it no burst happens: nothing forms).
//! - Nuclei: `N ∝ (c/c_ref)^order·exp(−(T − T_ref)/t_scale)`: hotter and more dilute → fewer
//!   nuclei → larger dots. Final size by mass balance `D_final = D_final_ref·((c/c_ref)/(N/N_ref))^(1/3)`,
//!   with `c = min(c_Cd, c_Se)` in the mix.
//! - Size `D = D_nuc + (D_final − D_nuc)·X^(1/3)`; spread
//!   `σ/D = s_min + (s₀ − s_min)·e^(−τ/τ_f) + s_rip·(τ/τ_r)^(1/3)` (focusing, then ripening).
//! - First exciton `λ₁(D)` by inverting the Yu curve (clamped to 420–660 nm), `ε(D)` from Yu;
//!   particle concentration `X·c·v_unit/(πD³/6)`; absorbance at λ₁ `= ε·c_particles·path`.
//! - Absorption spectrum: the first exciton as a Gaussian in energy of width
//!   `√(Γ_hom² + (2.355·|dE/dD|·σ_D)²)`, a second transition 0.35 eV above it, and a continuum
//!   edge 0.55 eV above it rising toward the blue: the exciton sits on a rising background.
//! - PL: Stokes shift `ΔE_S = 20 meV + 60 meV·exp(−(D − 2 nm)/1.5 nm)` below the exciton, same
//!   energy width. QY: `qy_max·(1 − e^(−τ/τ_qy))·e^(−τ/τ_decay)` (peaks at intermediate τ), falling
//!   above `t_qy_max` and for Se-rich mixes (`exp(−penalty·(Se/Cd − 1))` past 1).
//!
//! Invariant: outputs are finite; with no conversion there is no population at all.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::yu;
use super::{Conditions, ParamSpec, RoleBinding, arrhenius, logistic, resolve_params};
use crate::config::PumpConfig;
use crate::error::SimResult;
use crate::optics::{Band, Emission, Population};
use qdx_spectra::shapes::EV_NM;

/// Which stocks play which role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdSeRoles {
    /// Cd precursor stock (concentration of Cd, mol/m³).
    pub cadmium: String,
    /// Se precursor stock (concentration of Se, mol/m³).
    pub selenium: String,
}

pub(crate) const SCHEMA: &[ParamSpec] = &[
    ParamSpec {
        name: "k_ref",
        unit: "1/s",
        default: 0.1,
        min: 1e-6,
        max: 1e3,
        doc: "monomer conversion rate at t_ref",
    },
    ParamSpec {
        name: "t_ref",
        unit: "K",
        default: 543.15,
        min: 300.0,
        max: 700.0,
        doc: "reference temperature (270 degC)",
    },
    ParamSpec {
        name: "ea",
        unit: "J/mol",
        default: 80_000.0,
        min: 0.0,
        max: 400_000.0,
        doc: "activation energy of growth",
    },
    ParamSpec {
        name: "t_nucleation",
        unit: "K",
        default: 493.15,
        min: 300.0,
        max: 700.0,
        doc: "temperature below which no nucleation burst happens",
    },
    ParamSpec {
        name: "t_nucleation_width",
        unit: "K",
        default: 6.0,
        min: 0.1,
        max: 100.0,
        doc: "width of that onset",
    },
    ParamSpec {
        name: "d_nuc",
        unit: "m",
        default: 1.6e-9,
        min: 0.5e-9,
        max: 5e-9,
        doc: "diameter of fresh nuclei",
    },
    ParamSpec {
        name: "d_final_ref",
        unit: "m",
        default: 4.0e-9,
        min: 1e-9,
        max: 20e-9,
        doc: "final diameter at c_ref and t_ref",
    },
    ParamSpec {
        name: "c_ref",
        unit: "mol/m^3",
        default: 5.0,
        min: 1e-3,
        max: 1e4,
        doc: "reference precursor concentration in the mix",
    },
    ParamSpec {
        name: "nucleation_order",
        unit: "1",
        default: 2.0,
        min: 0.0,
        max: 10.0,
        doc: "nuclei count ~ c^order",
    },
    ParamSpec {
        name: "nucleation_t_scale",
        unit: "K",
        default: 40.0,
        min: 1.0,
        max: 1e3,
        doc: "nuclei count ~ exp(-(T - t_ref)/scale)",
    },
    ParamSpec {
        name: "s_min",
        unit: "1",
        default: 0.05,
        min: 0.0,
        max: 1.0,
        doc: "focused relative size spread",
    },
    ParamSpec {
        name: "s_0",
        unit: "1",
        default: 0.15,
        min: 0.0,
        max: 1.0,
        doc: "initial relative size spread",
    },
    ParamSpec {
        name: "tau_focus",
        unit: "s",
        default: 5.0,
        min: 1e-3,
        max: 1e5,
        doc: "focusing time",
    },
    ParamSpec {
        name: "s_ripening",
        unit: "1",
        default: 0.03,
        min: 0.0,
        max: 1.0,
        doc: "defocusing/ripening spread at tau_ripening",
    },
    ParamSpec {
        name: "tau_ripening",
        unit: "s",
        default: 60.0,
        min: 1e-3,
        max: 1e6,
        doc: "ripening time scale",
    },
    ParamSpec {
        name: "gamma_hom",
        unit: "eV",
        default: 0.06,
        min: 0.0,
        max: 0.5,
        doc: "homogeneous linewidth",
    },
    ParamSpec {
        name: "stokes_min",
        unit: "eV",
        default: 0.02,
        min: 0.0,
        max: 0.5,
        doc: "Stokes shift of large dots",
    },
    ParamSpec {
        name: "stokes_extra",
        unit: "eV",
        default: 0.06,
        min: 0.0,
        max: 0.5,
        doc: "extra Stokes shift of 2 nm dots",
    },
    ParamSpec {
        name: "qy_max",
        unit: "1",
        default: 0.5,
        min: 0.0,
        max: 1.0,
        doc: "best quantum yield",
    },
    ParamSpec {
        name: "tau_qy",
        unit: "s",
        default: 3.0,
        min: 1e-3,
        max: 1e5,
        doc: "surface annealing time",
    },
    ParamSpec {
        name: "tau_qy_decay",
        unit: "s",
        default: 300.0,
        min: 1e-3,
        max: 1e7,
        doc: "slow loss of yield with time",
    },
    ParamSpec {
        name: "t_qy_max",
        unit: "K",
        default: 583.15,
        min: 300.0,
        max: 800.0,
        doc: "temperature above which the yield falls",
    },
    ParamSpec {
        name: "t_qy_width",
        unit: "K",
        default: 10.0,
        min: 0.1,
        max: 200.0,
        doc: "width of that fall",
    },
    ParamSpec {
        name: "se_excess_penalty",
        unit: "1",
        default: 0.5,
        min: 0.0,
        max: 100.0,
        doc: "yield loss per unit of Se/Cd above 1",
    },
    ParamSpec {
        name: "unit_volume",
        unit: "m^3",
        default: 5.46e-29,
        min: 1e-30,
        max: 1e-27,
        doc: "volume of one CdSe formula unit",
    },
];

/// The model with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct CdSeGrowth {
    p: BTreeMap<&'static str, f64>,
}

/// What the model needs, in the mix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CdSeInputs {
    /// Cd in the mix, mol/m³.
    pub cadmium: f64,
    /// Se in the mix, mol/m³.
    pub selenium: f64,
    pub residence_s: f64,
    pub temperature_k: f64,
}

/// What the model predicts.
#[derive(Debug, Clone, PartialEq)]
pub struct CdSeOutcome {
    pub conversion: f64,
    pub diameter_nm: f64,
    pub size_spread_nm: f64,
    pub first_exciton_nm: f64,
    pub pl_peak_nm: f64,
    pub pl_fwhm_nm: f64,
    pub quantum_yield: f64,
    /// Particles in the mix, mol/m³.
    pub particle_concentration: f64,
    pub population: Option<Population>,
}

impl CdSeGrowth {
    pub const NAME: &'static str = "cdse_growth";

    pub fn new(overrides: &BTreeMap<String, f64>) -> SimResult<Self> {
        let values = resolve_params(Self::NAME, SCHEMA, overrides)?;
        Ok(Self {
            p: SCHEMA.iter().map(|s| s.name).zip(values).collect(),
        })
    }

    fn p(&self, name: &str) -> f64 {
        self.p.get(name).copied().unwrap_or(0.0)
    }

    /// Runs the model. See the module doc.
    pub fn evaluate(&self, i: &CdSeInputs) -> CdSeOutcome {
        let t = i.temperature_k;
        let tau = i.residence_s.max(0.0);
        let c = i.cadmium.min(i.selenium).max(0.0);
        let k = self.p("k_ref") * arrhenius(self.p("ea"), t, self.p("t_ref"));
        let onset = logistic(t - self.p("t_nucleation"), self.p("t_nucleation_width"));
        let conversion = ((1.0 - (-k * tau).exp()) * onset).clamp(0.0, 1.0);
        let c_rel = c / self.p("c_ref");
        let nuclei_rel = c_rel.powf(self.p("nucleation_order"))
            * (-(t - self.p("t_ref")) / self.p("nucleation_t_scale")).exp();
        let d_nuc = self.p("d_nuc") * 1e9;
        let d_final = if nuclei_rel > 0.0 {
            self.p("d_final_ref") * 1e9 * (c_rel / nuclei_rel).cbrt()
        } else {
            d_nuc
        };
        let d_final = d_final.clamp(d_nuc, 15.0);
        let diameter = d_nuc + (d_final - d_nuc) * conversion.cbrt();
        let spread_rel = self.p("s_min")
            + (self.p("s_0") - self.p("s_min")) * (-tau / self.p("tau_focus")).exp()
            + self.p("s_ripening") * (tau / self.p("tau_ripening")).cbrt();
        let spread = spread_rel * diameter;
        let lambda1 = yu::first_exciton_nm(diameter);
        let e1 = EV_NM / lambda1;
        // |dE/dD| from the sizing curve, by a central difference.
        let h = 0.05;
        let de_dd = ((EV_NM / yu::first_exciton_nm(diameter + h))
            - (EV_NM / yu::first_exciton_nm(diameter - h)))
        .abs()
            / (2.0 * h);
        let width_ev = (self.p("gamma_hom").powi(2) + (2.355 * de_dd * spread).powi(2)).sqrt();
        let stokes =
            self.p("stokes_min") + self.p("stokes_extra") * (-(diameter - 2.0) / 1.5).exp();
        let e_pl = e1 - stokes;
        let pl_peak = EV_NM / e_pl;
        let pl_fwhm = pl_peak * pl_peak * width_ev / EV_NM;
        let qy = self.quantum_yield(i, tau);
        let d_m = diameter * 1e-9;
        let particle_volume = std::f64::consts::PI / 6.0 * d_m.powi(3);
        let particles = conversion * c * self.p("unit_volume") / particle_volume;
        // ε in M⁻¹cm⁻¹ × c in mol/m³: absorbance per m = ε·(c/1000)·100.
        let per_m = yu::extinction(diameter) * particles / 10.0;
        let population = (per_m > 0.0 && per_m.is_finite()).then(|| Population {
            bands: vec![
                Band::Peak {
                    center_ev: e1,
                    fwhm_ev: width_ev,
                    per_m,
                },
                Band::Peak {
                    center_ev: e1 + 0.35,
                    fwhm_ev: 1.5 * width_ev,
                    per_m: 0.6 * per_m,
                },
                Band::Edge {
                    edge_ev: e1 + 0.55,
                    width_ev: 0.1,
                    per_m: 0.8 * per_m,
                    slope_per_ev: 1.5,
                },
            ],
            emission: (qy > 0.0).then_some(Emission {
                peak_nm: pl_peak,
                fwhm_nm: pl_fwhm,
                quantum_yield: qy,
            }),
            ..Population::default()
        });
        CdSeOutcome {
            conversion,
            diameter_nm: diameter,
            size_spread_nm: spread,
            first_exciton_nm: lambda1,
            pl_peak_nm: pl_peak,
            pl_fwhm_nm: pl_fwhm,
            quantum_yield: qy,
            particle_concentration: particles,
            population,
        }
    }

    fn quantum_yield(&self, i: &CdSeInputs, tau: f64) -> f64 {
        let anneal = 1.0 - (-tau / self.p("tau_qy")).exp();
        let decay = (-tau / self.p("tau_qy_decay")).exp();
        let hot = 1.0 - logistic(i.temperature_k - self.p("t_qy_max"), self.p("t_qy_width"));
        let ratio = if i.cadmium > 0.0 {
            i.selenium / i.cadmium
        } else {
            0.0
        };
        let se_rich = (-self.p("se_excess_penalty") * (ratio - 1.0).max(0.0)).exp();
        let qy = self.p("qy_max") * anneal * decay * hot * se_rich;
        if qy.is_finite() {
            qy.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// The model bound to the lab's pumps.
#[derive(Debug)]
pub(crate) struct Bound {
    model: CdSeGrowth,
    cadmium: RoleBinding,
    selenium: RoleBinding,
}

impl Bound {
    pub(crate) fn new(
        model: CdSeGrowth,
        roles: &CdSeRoles,
        pumps: &[PumpConfig],
    ) -> SimResult<Self> {
        Ok(Self {
            model,
            cadmium: RoleBinding::bind(&roles.cadmium, pumps)?,
            selenium: RoleBinding::bind(&roles.selenium, pumps)?,
        })
    }

    pub(crate) fn populations(&self, c: &Conditions) -> Vec<Population> {
        let inputs = CdSeInputs {
            cadmium: self.cadmium.concentration(&c.fractions),
            selenium: self.selenium.concentration(&c.fractions),
            residence_s: c.residence_s,
            temperature_k: c.temperature_k,
        };
        // The same dots as SAXS sees them: spheres of the model's diameter and spread.
        let outcome = self.model.evaluate(&inputs);
        let spheres = crate::scattering::Spheres::from_cdse(&outcome);
        outcome
            .population
            .into_iter()
            .map(|p| Population { spheres, ..p })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(residence_s: f64, temperature_k: f64) -> CdSeOutcome {
        CdSeGrowth::new(&BTreeMap::new())
            .unwrap()
            .evaluate(&CdSeInputs {
                cadmium: 5.0,
                selenium: 5.0,
                residence_s,
                temperature_k,
            })
    }

    #[test]
    fn peak_grows_with_residence_time() {
        let mut last = 0.0;
        for tau in [1.0, 3.0, 10.0, 30.0, 100.0] {
            let o = run(tau, 543.15);
            assert!(
                o.first_exciton_nm > last,
                "{} after {last}",
                o.first_exciton_nm
            );
            assert!(o.pl_peak_nm > o.first_exciton_nm);
            last = o.first_exciton_nm;
        }
    }

    #[test]
    fn peak_grows_with_temperature() {
        let mut last = 0.0;
        for t in [513.15, 533.15, 553.15, 573.15] {
            let o = run(10.0, t);
            assert!(
                o.first_exciton_nm > last,
                "{} after {last}",
                o.first_exciton_nm
            );
            last = o.first_exciton_nm;
        }
    }

    #[test]
    fn flow_synthesis_reference_point() {
        // Yang 2009: 8–10 s at high temperature gave 2.1–4.0 nm, PL 483–600 nm, FWHM 27–35 nm.
        let o = run(10.0, 543.15);
        assert!(
            o.diameter_nm > 2.1 && o.diameter_nm < 4.0,
            "{}",
            o.diameter_nm
        );
        assert!(
            o.pl_peak_nm > 483.0 && o.pl_peak_nm < 600.0,
            "{}",
            o.pl_peak_nm
        );
        assert!(
            o.pl_fwhm_nm > 20.0 && o.pl_fwhm_nm < 45.0,
            "{}",
            o.pl_fwhm_nm
        );
        assert!(o.quantum_yield > 0.1 && o.quantum_yield <= 0.5);
    }

    #[test]
    fn nothing_forms_when_cold() {
        let o = run(30.0, 423.15);
        assert!(o.conversion < 1e-4);
        let absorbance = o
            .population
            .map_or(0.0, |p| p.absorbance_per_m(o.first_exciton_nm) * 1e-3);
        assert!(absorbance < 1e-3, "{absorbance}");
    }

    #[test]
    fn yield_peaks_at_intermediate_residence() {
        let (a, b, c) = (run(0.5, 543.15), run(20.0, 543.15), run(3000.0, 543.15));
        assert!(b.quantum_yield > a.quantum_yield && b.quantum_yield > c.quantum_yield);
    }
}
