//! Direct synthesis of mixed A-site, mixed-halide (Cs/FA)Pb(Br/I)3 nanocrystals
//! (physics.md B2; the chemistry of Bezinge et al., *ACS Appl. Mater. Interfaces* 2018, 10,
//! 18869, where droplets of Cs-oleate, FA-oleate and PbX2 streams meet and nanocrystals form).
//!
//! Unlike [`super::CsPbX3HalideExchange`] nothing is seeded: the precursors meet in the mixer
//! and the nanocrystals form in the coil. Model (every constant unverified: calibrate; every
//! functional form a modelling choice):
//! - composition from the feed: the A-site share of formamidinium
//!   `f = K_FA·c_FA / (c_Cs + K_FA·c_FA)` (`k_fa` = 1: the lattice takes the cations in the
//!   ratio they are fed), the iodide share of the halide sites `y = c_I / (c_Br + c_I)` with
//!   `c_X` the X of the PbX2 streams (both bring two halides per Pb, so the molar ratio of
//!   the lead streams is the halide ratio);
//! - amount: APbX3 needs one A per Pb, so the nanocrystals hold `min(c_A, c_Pb)·X` of Pb with
//!   conversion `X = 1 − e^(−kτ)`, `k = k_formation·exp(−Ea/R·(1/T − 1/298.15 K))`;
//! - emission energy bilinear over the four corners with bowing on both edges:
//!   `E_A(y) = (1−y)·E_ABr + y·E_AI − b_X·y(1−y)` for A = Cs and FA, then
//!   `E = (1−f)·E_Cs(y) + f·E_FA(y) − b_A·f(1−f)`; corners CsPbBr3 512 nm, CsPbI3 690 nm (as
//!   the exchange model), FAPbBr3 530 nm, FAPbI3 780 nm for ~10 nm cubes; plus the confinement
//!   term of the exchange model for an edge other than 10 nm (interpolated in `y`);
//! - FWHM constant in energy: `base + alloy_x·4y(1−y) + alloy_a·4f(1−f) + stoich·|ln ρ|`,
//!   with `ρ = c_A/c_Pb` (an off-stoichiometric feed leaves one precursor in excess, and the
//!   ensemble grows less uniform);
//! - PLQY: bilinear over the corners (CsBr 0.8, CsI 0.6, FABr 0.85, FAI 0.7) ×
//!   `exp(−(ln ρ)²/(2·σ²))` (unreacted precursor leaves traps) × the temperature factor of the
//!   exchange model;
//! - absorbance: the band edge and excitonic bump of the exchange model, 20 meV above the
//!   emission, scaled by `extinction` × the Pb in nanocrystals.
//!
//! Only Br and I: a chloride stream would meet iodide across the Cl–I miscibility gap, which
//! this model does not describe; the validator refuses it.
//! Invariant: every output is finite; `f` and `y` stay in 0..1; with no A-site cation or no
//! lead in the mix there is no population.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cspbx3::confinement_ev_nm2;
use super::{Conditions, Halide, HalideSource, ParamSpec, RoleBinding, arrhenius, resolve_params};
use crate::config::PumpConfig;
use crate::error::SimResult;
use crate::optics::{Band, Emission, Population};
use qdx_spectra::shapes::EV_NM;

/// Edge length at which the corner energies hold, m.
const REFERENCE_EDGE_M: f64 = 10e-9;

/// Which stocks play which role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsFaRoles {
    /// Cs-oleate stock (concentration of Cs, mol/m³).
    pub cesium: String,
    /// FA-oleate stock (concentration of FA, mol/m³); `None`: an all-cesium synthesis.
    #[serde(default)]
    pub formamidinium: Option<String>,
    /// The PbX2 stocks (concentration of Pb, mol/m³), each with its halide (Br or I).
    pub lead: Vec<HalideSource>,
}

pub(crate) const SCHEMA: &[ParamSpec] = &[
    ParamSpec {
        name: "e_cs_br",
        unit: "eV",
        default: 2.4216,
        min: 1.5,
        max: 3.5,
        doc: "CsPbBr3 emission energy (512 nm)",
    },
    ParamSpec {
        name: "e_cs_i",
        unit: "eV",
        default: 1.7969,
        min: 1.2,
        max: 3.0,
        doc: "CsPbI3 emission energy (690 nm)",
    },
    ParamSpec {
        name: "e_fa_br",
        unit: "eV",
        default: 2.3393,
        min: 1.5,
        max: 3.5,
        doc: "FAPbBr3 emission energy (530 nm)",
    },
    ParamSpec {
        name: "e_fa_i",
        unit: "eV",
        default: 1.5895,
        min: 1.2,
        max: 3.0,
        doc: "FAPbI3 emission energy (780 nm)",
    },
    ParamSpec {
        name: "bowing_br_i",
        unit: "eV",
        default: 0.1,
        min: 0.0,
        max: 1.0,
        doc: "bowing on the Br-I edge",
    },
    ParamSpec {
        name: "bowing_cs_fa",
        unit: "eV",
        default: 0.02,
        min: 0.0,
        max: 1.0,
        doc: "bowing on the Cs-FA edge",
    },
    ParamSpec {
        name: "k_fa",
        unit: "1",
        default: 1.0,
        min: 1e-3,
        max: 1e3,
        doc: "preference of the lattice for FA over Cs",
    },
    ParamSpec {
        name: "k_formation",
        unit: "1/s",
        default: 0.5,
        min: 1e-4,
        max: 1e3,
        doc: "formation rate constant at 298.15 K",
    },
    ParamSpec {
        name: "ea_formation",
        unit: "J/mol",
        default: 30_000.0,
        min: 0.0,
        max: 300_000.0,
        doc: "activation energy of the formation",
    },
    ParamSpec {
        name: "fwhm_base",
        unit: "eV",
        default: 0.085,
        min: 0.01,
        max: 0.5,
        doc: "ensemble emission width",
    },
    ParamSpec {
        name: "fwhm_alloy_x",
        unit: "eV",
        default: 0.03,
        min: 0.0,
        max: 0.5,
        doc: "extra width of a 50:50 Br:I alloy",
    },
    ParamSpec {
        name: "fwhm_alloy_a",
        unit: "eV",
        default: 0.015,
        min: 0.0,
        max: 0.5,
        doc: "extra width of a 50:50 Cs:FA alloy",
    },
    ParamSpec {
        name: "fwhm_stoichiometry",
        unit: "eV",
        default: 0.03,
        min: 0.0,
        max: 0.5,
        doc: "extra width per unit of |ln(A/Pb)|",
    },
    ParamSpec {
        name: "qy_cs_br",
        unit: "1",
        default: 0.8,
        min: 0.0,
        max: 1.0,
        doc: "PLQY of CsPbBr3",
    },
    ParamSpec {
        name: "qy_cs_i",
        unit: "1",
        default: 0.6,
        min: 0.0,
        max: 1.0,
        doc: "PLQY of CsPbI3",
    },
    ParamSpec {
        name: "qy_fa_br",
        unit: "1",
        default: 0.85,
        min: 0.0,
        max: 1.0,
        doc: "PLQY of FAPbBr3",
    },
    ParamSpec {
        name: "qy_fa_i",
        unit: "1",
        default: 0.7,
        min: 0.0,
        max: 1.0,
        doc: "PLQY of FAPbI3",
    },
    ParamSpec {
        name: "stoichiometry_width",
        unit: "1",
        default: 0.7,
        min: 0.01,
        max: 10.0,
        doc: "spread σ of ln(A/Pb) over which the PLQY falls by e^(-1/2)",
    },
    ParamSpec {
        name: "qy_temperature",
        unit: "K",
        default: 333.15,
        min: 200.0,
        max: 600.0,
        doc: "temperature above which the PLQY drops",
    },
    ParamSpec {
        name: "qy_temperature_scale",
        unit: "K",
        default: 40.0,
        min: 1.0,
        max: 1e3,
        doc: "e-folding of that drop",
    },
    ParamSpec {
        name: "extinction",
        unit: "m^2/mol",
        default: 100.0,
        min: 0.0,
        max: 1e6,
        doc: "decadic absorbance per (m path × mol/m³ Pb in nanocrystals) at the band edge",
    },
    ParamSpec {
        name: "edge",
        unit: "m",
        default: 10e-9,
        min: 2e-9,
        max: 100e-9,
        doc: "edge length of the cubes (quantum confinement below about 10 nm)",
    },
    ParamSpec {
        name: "stokes",
        unit: "eV",
        default: 0.02,
        min: 0.0,
        max: 0.5,
        doc: "band edge above the emission",
    },
];

/// The model with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct CsFaPbX3Synthesis {
    p: BTreeMap<&'static str, f64>,
}

/// What the model needs, in the mix (concentrations in mol/m³).
#[derive(Debug, Clone, PartialEq)]
pub struct CsFaInputs {
    pub cesium: f64,
    pub formamidinium: f64,
    /// Each PbX2 source's Pb concentration in the mix (several of one halide add up).
    pub lead: Vec<(Halide, f64)>,
    pub residence_s: f64,
    pub temperature_k: f64,
}

/// What the model predicts.
#[derive(Debug, Clone, PartialEq)]
pub struct CsFaOutcome {
    /// Formamidinium share of the A sites.
    pub fa_fraction: f64,
    /// Iodide share of the halide sites.
    pub iodide_fraction: f64,
    /// Pb in nanocrystals, mol/m³.
    pub nanocrystals: f64,
    pub peak_nm: f64,
    pub fwhm_nm: f64,
    pub quantum_yield: f64,
    /// `None` when nothing forms.
    pub population: Option<Population>,
}

impl CsFaPbX3Synthesis {
    pub const NAME: &'static str = "csfa_pbx3_synthesis";

    pub fn new(overrides: &BTreeMap<String, f64>) -> SimResult<Self> {
        let values = resolve_params(Self::NAME, SCHEMA, overrides)?;
        Ok(Self {
            p: SCHEMA.iter().map(|s| s.name).zip(values).collect(),
        })
    }

    fn p(&self, name: &str) -> f64 {
        self.p.get(name).copied().unwrap_or(0.0)
    }

    /// The emission energy (eV) of a composition, before confinement. See the module doc.
    pub fn energy_ev(&self, fa_fraction: f64, iodide_fraction: f64) -> f64 {
        let (f, y) = (fa_fraction.clamp(0.0, 1.0), iodide_fraction.clamp(0.0, 1.0));
        let b_x = self.p("bowing_br_i");
        let edge = |br: f64, i: f64| (1.0 - y) * br + y * i - b_x * y * (1.0 - y);
        let cs = edge(self.p("e_cs_br"), self.p("e_cs_i"));
        let fa = edge(self.p("e_fa_br"), self.p("e_fa_i"));
        (1.0 - f) * cs + f * fa - self.p("bowing_cs_fa") * f * (1.0 - f)
    }

    /// Runs the model. See the module doc.
    pub fn evaluate(&self, inputs: &CsFaInputs) -> CsFaOutcome {
        let clean = |c: f64| if c.is_finite() { c.max(0.0) } else { 0.0 };
        let lead = |h: Halide| -> f64 {
            inputs
                .lead
                .iter()
                .filter(|(k, _)| *k == h)
                .map(|(_, c)| clean(*c))
                .sum()
        };
        let (c_br, c_i) = (lead(Halide::Br), lead(Halide::I));
        let c_pb = c_br + c_i;
        let (c_cs, c_fa) = (clean(inputs.cesium), clean(inputs.formamidinium));
        let c_a = c_cs + c_fa;
        let weighted_fa = self.p("k_fa") * c_fa;
        let fa_fraction = if c_a > 0.0 {
            (weighted_fa / (c_cs + weighted_fa)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let iodide_fraction = if c_pb > 0.0 {
            (c_i / c_pb).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let k =
            self.p("k_formation") * arrhenius(self.p("ea_formation"), inputs.temperature_k, 298.15);
        let conversion = 1.0 - (-k * clean(inputs.residence_s)).exp();
        let nanocrystals = c_a.min(c_pb) * conversion;
        let (f, y) = (fa_fraction, iodide_fraction);
        let edge = self.p("edge");
        let size_term = 1e-18 * (1.0 / (edge * edge) - 1.0 / (REFERENCE_EDGE_M * REFERENCE_EDGE_M));
        let confinement = ((1.0 - y) * confinement_ev_nm2(Halide::Br)
            + y * confinement_ev_nm2(Halide::I))
            * size_term;
        let energy = self.energy_ev(f, y) + confinement;
        // ln(A/Pb): 0 for a stoichiometric feed; finite whenever both are present.
        let log_ratio = if c_a > 0.0 && c_pb > 0.0 {
            (c_a / c_pb).ln()
        } else {
            0.0
        };
        let width_ev = self.p("fwhm_base")
            + self.p("fwhm_alloy_x") * 4.0 * y * (1.0 - y)
            + self.p("fwhm_alloy_a") * 4.0 * f * (1.0 - f)
            + self.p("fwhm_stoichiometry") * log_ratio.abs();
        let peak_nm = EV_NM / energy;
        let fwhm_nm = peak_nm * peak_nm * width_ev / EV_NM;
        let quantum_yield = self.quantum_yield(f, y, log_ratio, inputs.temperature_k);
        let population = (nanocrystals > 0.0 && energy.is_finite() && energy > 0.0).then(|| {
            let band_edge = energy + self.p("stokes");
            let per_m = self.p("extinction") * nanocrystals;
            Population {
                bands: vec![
                    Band::Edge {
                        edge_ev: band_edge,
                        width_ev: 0.5 * width_ev,
                        per_m,
                        slope_per_ev: 0.8,
                    },
                    Band::Peak {
                        center_ev: band_edge,
                        fwhm_ev: width_ev,
                        per_m: 0.3 * per_m,
                    },
                ],
                emission: (quantum_yield > 0.0).then_some(Emission {
                    peak_nm,
                    fwhm_nm,
                    quantum_yield,
                }),
                ..Population::default()
            }
        });
        CsFaOutcome {
            fa_fraction,
            iodide_fraction,
            nanocrystals,
            peak_nm,
            fwhm_nm,
            quantum_yield,
            population,
        }
    }

    fn quantum_yield(&self, f: f64, y: f64, log_ratio: f64, temperature_k: f64) -> f64 {
        let cs = (1.0 - y) * self.p("qy_cs_br") + y * self.p("qy_cs_i");
        let fa = (1.0 - y) * self.p("qy_fa_br") + y * self.p("qy_fa_i");
        let composition = (1.0 - f) * cs + f * fa;
        let sigma = self.p("stoichiometry_width");
        let stoichiometry = (-(log_ratio * log_ratio) / (2.0 * sigma * sigma)).exp();
        let t_limit = self.p("qy_temperature");
        let thermal = if temperature_k > t_limit {
            (-(temperature_k - t_limit) / self.p("qy_temperature_scale")).exp()
        } else {
            1.0
        };
        let qy = composition * stoichiometry * thermal;
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
    model: CsFaPbX3Synthesis,
    cesium: RoleBinding,
    formamidinium: Option<RoleBinding>,
    lead: Vec<(Halide, RoleBinding)>,
}

impl Bound {
    pub(crate) fn new(
        model: CsFaPbX3Synthesis,
        roles: &CsFaRoles,
        pumps: &[PumpConfig],
    ) -> SimResult<Self> {
        Ok(Self {
            model,
            cesium: RoleBinding::bind(&roles.cesium, pumps)?,
            formamidinium: roles
                .formamidinium
                .as_deref()
                .map(|s| RoleBinding::bind(s, pumps))
                .transpose()?,
            lead: roles
                .lead
                .iter()
                .map(|l| Ok((l.halide, RoleBinding::bind(&l.stock, pumps)?)))
                .collect::<SimResult<_>>()?,
        })
    }

    pub(crate) fn populations(&self, c: &Conditions) -> Vec<Population> {
        let inputs = CsFaInputs {
            cesium: self.cesium.concentration(&c.fractions),
            formamidinium: self
                .formamidinium
                .as_ref()
                .map_or(0.0, |b| b.concentration(&c.fractions)),
            lead: self
                .lead
                .iter()
                .map(|(h, b)| (*h, b.concentration(&c.fractions)))
                .collect(),
            residence_s: c.residence_s,
            temperature_k: c.temperature_k,
        };
        self.model
            .evaluate(&inputs)
            .population
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn model() -> CsFaPbX3Synthesis {
        CsFaPbX3Synthesis::new(&BTreeMap::new()).unwrap()
    }

    /// A stoichiometric feed (A = Pb = 5 mol/m³) with the given FA and iodide shares.
    fn feed(fa: f64, iodide: f64) -> CsFaInputs {
        CsFaInputs {
            cesium: 5.0 * (1.0 - fa),
            formamidinium: 5.0 * fa,
            lead: vec![
                (Halide::Br, 5.0 * (1.0 - iodide)),
                (Halide::I, 5.0 * iodide),
            ],
            residence_s: 30.0,
            temperature_k: 298.15,
        }
    }

    #[test]
    fn the_four_corners_emit_at_their_compounds() {
        let m = model();
        for (fa, i, nm) in [
            (0.0, 0.0, 512.0),
            (0.0, 1.0, 690.0),
            (1.0, 0.0, 530.0),
            (1.0, 1.0, 780.0),
        ] {
            let out = m.evaluate(&feed(fa, i));
            assert!((out.peak_nm - nm).abs() < 0.5, "{fa} {i}: {}", out.peak_nm);
            assert!(out.population.is_some());
        }
    }

    #[test]
    fn iodide_and_formamidinium_both_redden_the_emission() {
        let m = model();
        for fa in [0.0, 0.3, 0.7, 1.0] {
            let mut last = 0.0;
            for i in [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] {
                let peak = m.evaluate(&feed(fa, i)).peak_nm;
                assert!(peak > last, "fa {fa}, I {i}: {peak} after {last}");
                last = peak;
            }
        }
        for i in [0.0, 0.5, 1.0] {
            assert!(m.evaluate(&feed(1.0, i)).peak_nm > m.evaluate(&feed(0.0, i)).peak_nm);
        }
    }

    #[test]
    fn the_halide_edge_bows_below_the_straight_line() {
        let m = model();
        let half = EV_NM / m.evaluate(&feed(0.0, 0.5)).peak_nm;
        let straight = 0.5 * (m.p("e_cs_br") + m.p("e_cs_i"));
        assert!(
            (straight - half - 0.1 / 4.0).abs() < 1e-9,
            "{half} vs {straight}"
        );
    }

    #[test]
    fn linewidths_and_yields_are_plausible() {
        let m = model();
        for (fa, i) in [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (0.2, 0.8)] {
            let out = m.evaluate(&feed(fa, i));
            assert!(out.fwhm_nm > 15.0 && out.fwhm_nm < 50.0, "{}", out.fwhm_nm);
            assert!(
                out.quantum_yield > 0.5 && out.quantum_yield < 0.9,
                "{}",
                out.quantum_yield
            );
        }
    }

    #[test]
    fn an_off_stoichiometric_feed_is_broader_dimmer_and_makes_less() {
        let m = model();
        let even = m.evaluate(&feed(0.5, 0.5));
        let mut lean = feed(0.5, 0.5);
        lean.cesium *= 0.25;
        lean.formamidinium *= 0.25;
        let lean = m.evaluate(&lean);
        assert!(lean.fwhm_nm > even.fwhm_nm + 3.0);
        assert!(lean.quantum_yield < 0.7 * even.quantum_yield);
        assert!(lean.nanocrystals < 0.5 * even.nanocrystals);
    }

    #[test]
    fn nothing_forms_without_a_cation_or_lead_or_time() {
        let m = model();
        let mut none = feed(0.5, 0.5);
        none.cesium = 0.0;
        none.formamidinium = 0.0;
        assert!(m.evaluate(&none).population.is_none());
        let mut no_lead = feed(0.5, 0.5);
        no_lead.lead.clear();
        assert!(m.evaluate(&no_lead).population.is_none());
        let mut instant = feed(0.5, 0.5);
        instant.residence_s = 0.0;
        assert!(m.evaluate(&instant).population.is_none());
        // A few seconds form most of it; a warmer coil forms it faster.
        let mut short = feed(0.5, 0.5);
        short.residence_s = 1.0;
        let mut warm = short.clone();
        warm.temperature_k = 323.15;
        assert!(m.evaluate(&warm).nanocrystals > m.evaluate(&short).nanocrystals);
    }

    #[test]
    fn non_finite_inputs_give_finite_outputs() {
        let out = model().evaluate(&CsFaInputs {
            cesium: f64::NAN,
            formamidinium: f64::INFINITY,
            lead: vec![(Halide::I, -1.0), (Halide::Br, 5.0)],
            residence_s: f64::NAN,
            temperature_k: 298.15,
        });
        assert!(out.peak_nm.is_finite() && out.fwhm_nm.is_finite());
        assert!(out.quantum_yield.is_finite());
    }

    #[test]
    fn small_cubes_emit_bluer() {
        let mut o = BTreeMap::new();
        o.insert("edge".to_string(), 5e-9);
        let small = CsFaPbX3Synthesis::new(&o).unwrap();
        assert!(
            small.evaluate(&feed(0.5, 0.5)).peak_nm
                < model().evaluate(&feed(0.5, 0.5)).peak_nm - 5.0
        );
    }
}
