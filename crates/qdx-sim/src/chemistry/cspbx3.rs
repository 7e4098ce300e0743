//! CsPbX3 mixed-halide anion exchange on CsPbBr3 seeds (physics.md B2).
//!
//! Every halide stock in the mix takes part: chloride, bromide and iodide sources alike, with
//! the seeds' own lattice bromide (`3·c_Pb`). Model:
//! - equilibrium composition by competitive exchange for the lattice sites: each halide's
//!   share is `w_X / Σ w`, with `w_Br = 3·c_Pb + c_Br(added)`, `w_I = K_I·c_I` and
//!   `w_Cl = K_Cl·c_Cl` (K > 1 for I into Br, K < 1 for Cl). With one source and no added
//!   bromide this is physics.md's `x_eq = K·r / (1 + K·r)`, `r = c_X / (3·c_Pb)`; added
//!   bromide dilutes the exchange, and a bromide stock alone leaves CsPbBr3;
//! - kinetics `x = x_eq·(1 − e^(−kτ))`, `k = k_exchange·exp(−Ea/R·(1/T − 1/298.15 K))`;
//! - emission energy on the Br–X edge `E = (1−x)·E_Br + x·E_X − b·x(1−x)` (endpoints 410, 512
//!   and 690 nm for ~10 nm cubes), plus quantum confinement for seeds of edge `L` other than
//!   10 nm: `C(x)·(1/L² − 1/(10 nm)²)` with `C_X = κ·ħ²π²/(2·μ_X)` interpolated linearly in x
//!   (see [`confinement_ev_nm2`]);
//! - FWHM, constant in energy: `base + alloy·4x(1−x) + transient·4p(1−p)` with progress
//!   `p = 1 − e^(−kτ)`, converted with `FWHM_nm = λ²·ΔE/1239.84`;
//! - PLQY: composition (Br 0.8, I 0.6, Cl 0.1, linear in x) × ligand factor (too little ligand
//!   leaves surface traps: `0.5 + 0.5·l/(l + l_half)`; too much, past `ligand_excess`,
//!   destabilises: `exp(−(l − excess)/0.1)`) × temperature factor (above `qy_temperature`)
//!   × excess-halide etching (`exp(−(r − r_max))` past `r_max`, r counting every added halide)
//!   × a collapse when the seeds in the mix fall below `seed_min_concentration` (too dilute to
//!   stay colloidally stable).
//! - circular dichroism (a model, `dissymmetry` g declared, not predicted): a chiral ligand
//!   stock as `ligand` binds the same surface sites that heal traps, so the exciton's g is
//!   `g_sat·l/(l + l_half)`; the CD couplet is drawn by [`crate::dichroism`]. With the
//!   default g = 0 the particles are achiral.
//! - absorbance: a band edge 20 meV above the emission with a continuum rising toward the blue,
//!   plus an excitonic bump at the edge, scaled by `extinction·c_Pb`.
//!
//! When both Cl and I sources are present, the direct Cl↔I exchange is blocked by the
//! miscibility gap, so the seeds split into two populations in proportion to the two sources'
//! halide amounts, each exchanging with one halide (and sharing the added bromide in the same
//! proportion): two emitters, as physics.md suggests.
//! Invariant: every output is finite; x stays in 0..1.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Conditions, ParamSpec, RoleBinding, arrhenius, logistic, resolve_params};
use crate::config::PumpConfig;
use crate::error::SimResult;
use crate::optics::{Band, Emission, Population};
use qdx_spectra::shapes::EV_NM;

/// The halide a source stock delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Halide {
    Cl,
    Br,
    I,
}

impl Halide {
    /// The halide by its chemical symbol as a campaign writes it (`"Cl"`, `"Br"`, `"I"`).
    pub fn from_symbol(symbol: &str) -> Option<Self> {
        match symbol {
            "Cl" => Some(Self::Cl),
            "Br" => Some(Self::Br),
            "I" => Some(Self::I),
            _ => None,
        }
    }
}

/// Reference edge length at which `e_cl`, `e_br` and `e_i` hold, m.
const REFERENCE_EDGE_M: f64 = 10e-9;

/// `ħ²π²/(2·m_e)` in eV·nm²: the confinement energy of a free electron in a 1 nm box.
const FREE_CONFINEMENT_EV_NM2: f64 = 0.376;

/// Reduced exciton masses of CsPbCl3, CsPbBr3 and CsPbI3 in units of m_e (effective-mass
/// values commonly used for these perovskites; unverified: calibrate).
const REDUCED_MASS: [(Halide, f64); 3] =
    [(Halide::Cl, 0.202), (Halide::Br, 0.126), (Halide::I, 0.114)];

/// Scales the effective-mass confinement so that a 4 nm CsPbBr3 cube emits near 475 nm and a
/// 10 nm one at 512 nm, the calibration physics.md B2 asks for (a plain particle in a box
/// underestimates the shift of the small cubes).
const CONFINEMENT_SCALE: f64 = 1.2;

/// Confinement coefficient `C_X` (eV·nm²) of pure CsPbX3: the emission of a cube of edge `L` nm
/// lies `C_X/L²` above the bulk.
pub fn confinement_ev_nm2(halide: Halide) -> f64 {
    let mu = REDUCED_MASS
        .iter()
        .find(|(h, _)| *h == halide)
        .map_or(0.126, |(_, m)| *m);
    CONFINEMENT_SCALE * FREE_CONFINEMENT_EV_NM2 / mu
}

/// A stock that supplies a halide (ZnX₂ or oleylammonium-X), by stock name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HalideSource {
    pub stock: String,
    pub halide: Halide,
}

/// Which stocks play which role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsPbX3Roles {
    /// CsPbBr3 seed nanocrystals; the stock's concentration is that of Pb, mol/m³.
    pub seeds: String,
    pub halides: Vec<HalideSource>,
    /// Free ligand (e.g. oleylamine); its volume fraction in the mix matters.
    #[serde(default)]
    pub ligand: Option<String>,
}

pub(crate) const SCHEMA: &[ParamSpec] = &[
    ParamSpec {
        name: "e_cl",
        unit: "eV",
        default: 3.024,
        min: 2.0,
        max: 4.0,
        doc: "CsPbCl3 emission energy (410 nm)",
    },
    ParamSpec {
        name: "e_br",
        unit: "eV",
        default: 2.4216,
        min: 1.5,
        max: 3.5,
        doc: "CsPbBr3 emission energy (512 nm)",
    },
    ParamSpec {
        name: "e_i",
        unit: "eV",
        default: 1.7969,
        min: 1.2,
        max: 3.0,
        doc: "CsPbI3 emission energy (690 nm)",
    },
    ParamSpec {
        name: "bowing_cl_br",
        unit: "eV",
        default: 0.0,
        min: 0.0,
        max: 1.0,
        doc: "bowing on the Cl-Br edge",
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
        name: "k_partition_i",
        unit: "1",
        default: 2.0,
        min: 1e-3,
        max: 1e3,
        doc: "exchange equilibrium constant for I into Br",
    },
    ParamSpec {
        name: "k_partition_cl",
        unit: "1",
        default: 0.5,
        min: 1e-3,
        max: 1e3,
        doc: "exchange equilibrium constant for Cl into Br",
    },
    ParamSpec {
        name: "k_exchange",
        unit: "1/s",
        default: 1.0,
        min: 1e-4,
        max: 1e3,
        doc: "exchange rate constant at 298.15 K",
    },
    ParamSpec {
        name: "ea_exchange",
        unit: "J/mol",
        default: 40_000.0,
        min: 0.0,
        max: 300_000.0,
        doc: "activation energy of the exchange",
    },
    ParamSpec {
        name: "fwhm_base",
        unit: "eV",
        default: 0.09,
        min: 0.01,
        max: 0.5,
        doc: "ensemble emission width",
    },
    ParamSpec {
        name: "fwhm_alloy",
        unit: "eV",
        default: 0.03,
        min: 0.0,
        max: 0.5,
        doc: "extra width of a 50:50 alloy",
    },
    ParamSpec {
        name: "fwhm_transient",
        unit: "eV",
        default: 0.05,
        min: 0.0,
        max: 0.5,
        doc: "extra width half-way through the exchange",
    },
    ParamSpec {
        name: "qy_br",
        unit: "1",
        default: 0.8,
        min: 0.0,
        max: 1.0,
        doc: "PLQY of CsPbBr3",
    },
    ParamSpec {
        name: "qy_i",
        unit: "1",
        default: 0.6,
        min: 0.0,
        max: 1.0,
        doc: "PLQY of CsPbI3",
    },
    ParamSpec {
        name: "qy_cl",
        unit: "1",
        default: 0.1,
        min: 0.0,
        max: 1.0,
        doc: "PLQY of CsPbCl3",
    },
    ParamSpec {
        name: "ligand_half",
        unit: "1",
        default: 0.02,
        min: 1e-6,
        max: 1.0,
        doc: "ligand volume fraction that heals half the traps",
    },
    ParamSpec {
        name: "ligand_excess",
        unit: "1",
        default: 0.2,
        min: 0.0,
        max: 1.0,
        doc: "ligand volume fraction above which the particles destabilise",
    },
    ParamSpec {
        name: "dissymmetry",
        unit: "1",
        default: 0.0,
        min: -0.1,
        max: 0.1,
        doc: "dissymmetry factor g of the exciton with the surface saturated by a chiral ligand (the `ligand` stock); 0: an achiral ligand",
    },
    ParamSpec {
        name: "seed_min_concentration",
        unit: "mol/m^3",
        default: 0.5,
        min: 0.0,
        max: 1e3,
        doc: "seeds (Pb) in the mix below which nothing emits",
    },
    ParamSpec {
        name: "excess_ratio",
        unit: "1",
        default: 3.0,
        min: 0.0,
        max: 1e3,
        doc: "halide ratio r above which etching lowers the PLQY",
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
        doc: "decadic absorbance per (m path × mol/m³ Pb) at the band edge",
    },
    ParamSpec {
        name: "seed_edge",
        unit: "m",
        default: 10e-9,
        min: 2e-9,
        max: 100e-9,
        doc: "edge length of the seed cubes (quantum confinement below about 10 nm)",
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
pub struct CsPbX3HalideExchange {
    p: BTreeMap<&'static str, f64>,
}

/// What the model needs, in the mix.
#[derive(Debug, Clone, PartialEq)]
pub struct CsPbX3Inputs {
    /// Pb of the seeds, mol/m³.
    pub seed_concentration: f64,
    /// Each halide source's concentration in the mix, mol/m³ (several of one halide add up).
    pub halides: Vec<(Halide, f64)>,
    /// Volume fraction of ligand stock.
    pub ligand_fraction: f64,
    pub residence_s: f64,
    pub temperature_k: f64,
}

/// One emitting phase of the outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct CsPbX3Phase {
    /// The exchanging halide, Cl or I (`None`: CsPbBr3, with or without added bromide).
    pub halide: Option<Halide>,
    /// Share of the seeds in this phase.
    pub share: f64,
    /// Fraction of Br replaced.
    pub x: f64,
    pub peak_nm: f64,
    pub fwhm_nm: f64,
    pub quantum_yield: f64,
    pub population: Population,
}

/// What the model predicts.
#[derive(Debug, Clone, PartialEq)]
pub struct CsPbX3Outcome {
    pub phases: Vec<CsPbX3Phase>,
}

impl CsPbX3Outcome {
    /// The phase with the largest share (the main emitter).
    pub fn main(&self) -> Option<&CsPbX3Phase> {
        self.phases
            .iter()
            .max_by(|a, b| a.share.total_cmp(&b.share))
    }
}

impl CsPbX3HalideExchange {
    pub const NAME: &'static str = "cspbx3_halide_exchange";

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
    pub fn evaluate(&self, inputs: &CsPbX3Inputs) -> CsPbX3Outcome {
        let c_pb = inputs.seed_concentration.max(0.0);
        if c_pb.is_nan() || c_pb <= 0.0 {
            return CsPbX3Outcome { phases: Vec::new() };
        }
        let amount = |h: Halide| -> f64 {
            inputs
                .halides
                .iter()
                .filter(|(k, c)| *k == h && c.is_finite())
                .map(|(_, c)| c.max(0.0))
                .sum()
        };
        let (c_cl, c_br, c_i) = (amount(Halide::Cl), amount(Halide::Br), amount(Halide::I));
        let exchanging = c_cl + c_i;
        let k =
            self.p("k_exchange") * arrhenius(self.p("ea_exchange"), inputs.temperature_k, 298.15);
        let progress = 1.0 - (-k * inputs.residence_s.max(0.0)).exp();
        // (exchanging halide, share of the seeds, its concentration in the mix)
        let mut shares: Vec<(Option<Halide>, f64, f64)> = Vec::new();
        if exchanging <= 0.0 {
            shares.push((None, 1.0, 0.0));
        } else {
            for (h, c) in [(Halide::Cl, c_cl), (Halide::I, c_i)] {
                if c > 0.0 {
                    shares.push((Some(h), c / exchanging, c));
                }
            }
        }
        // 1/L² − 1/L_ref² in nm⁻²: exactly 0 for seeds of the reference size.
        let seed_edge = self.p("seed_edge");
        let size_term =
            1e-18 * (1.0 / (seed_edge * seed_edge) - 1.0 / (REFERENCE_EDGE_M * REFERENCE_EDGE_M));
        let mut phases = Vec::new();
        for (halide, share, c_x) in shares {
            // Each phase holds `share` of the seeds and of the added bromide, and meets its
            // own exchanging halide.
            let c_phase = c_pb * share;
            let lattice = 3.0 * c_phase;
            let bromide = lattice + c_br * share;
            let (kp, e_x, bowing, qy_x, c_conf) = match halide {
                Some(h @ Halide::I) => (
                    self.p("k_partition_i"),
                    self.p("e_i"),
                    self.p("bowing_br_i"),
                    self.p("qy_i"),
                    confinement_ev_nm2(h),
                ),
                Some(h @ Halide::Cl) => (
                    self.p("k_partition_cl"),
                    self.p("e_cl"),
                    self.p("bowing_cl_br"),
                    self.p("qy_cl"),
                    confinement_ev_nm2(h),
                ),
                Some(Halide::Br) | None => (
                    0.0,
                    self.p("e_br"),
                    0.0,
                    self.p("qy_br"),
                    confinement_ev_nm2(Halide::Br),
                ),
            };
            let r_x = c_x / bromide;
            let x_eq = kp * r_x / (1.0 + kp * r_x);
            let x = (x_eq * progress).clamp(0.0, 1.0);
            // Every added halide counts toward etching, bromide included.
            let r = (c_x + c_br * share) / lattice;
            let e_br = self.p("e_br");
            let confinement = ((1.0 - x) * confinement_ev_nm2(Halide::Br) + x * c_conf) * size_term;
            let energy = (1.0 - x) * e_br + x * e_x - bowing * x * (1.0 - x) + confinement;
            let width_ev = self.p("fwhm_base")
                + self.p("fwhm_alloy") * 4.0 * x * (1.0 - x)
                + if halide.is_some() {
                    self.p("fwhm_transient") * 4.0 * progress * (1.0 - progress)
                } else {
                    0.0
                };
            let peak_nm = EV_NM / energy;
            let fwhm_nm = peak_nm * peak_nm * width_ev / EV_NM;
            let qy = self.quantum_yield(x, qy_x, r, inputs);
            let edge = energy + self.p("stokes");
            let per_m = self.p("extinction") * c_phase;
            let population = Population {
                bands: vec![
                    Band::Edge {
                        edge_ev: edge,
                        width_ev: 0.5 * width_ev,
                        per_m,
                        slope_per_ev: 0.8,
                    },
                    Band::Peak {
                        center_ev: edge,
                        fwhm_ev: width_ev,
                        per_m: 0.3 * per_m,
                    },
                ],
                emission: (qy > 0.0).then_some(Emission {
                    peak_nm,
                    fwhm_nm,
                    quantum_yield: qy,
                }),
                // Chiral ligands bound to the surface sites the ligand heals (`ligand_half`)
                // make the exciton optically active: g scales with that coverage.
                dissymmetry: self.dissymmetry(inputs),
                ..Population::default()
            };
            phases.push(CsPbX3Phase {
                halide,
                share,
                x,
                peak_nm,
                fwhm_nm,
                quantum_yield: qy,
                population,
            });
        }
        CsPbX3Outcome { phases }
    }

    /// The exciton's dissymmetry factor: `dissymmetry` × the surface coverage by the ligand.
    fn dissymmetry(&self, inputs: &CsPbX3Inputs) -> f64 {
        let l = inputs.ligand_fraction.clamp(0.0, 1.0);
        self.p("dissymmetry") * l / (l + self.p("ligand_half"))
    }

    fn quantum_yield(&self, x: f64, qy_x: f64, r: f64, inputs: &CsPbX3Inputs) -> f64 {
        let composition = (1.0 - x) * self.p("qy_br") + x * qy_x;
        let l = inputs.ligand_fraction.clamp(0.0, 1.0);
        let half = self.p("ligand_half");
        let mut ligand = 0.5 + 0.5 * l / (l + half);
        let excess = self.p("ligand_excess");
        if l > excess {
            ligand *= (-(l - excess) / 0.1).exp();
        }
        let t_limit = self.p("qy_temperature");
        let thermal = if inputs.temperature_k > t_limit {
            (-(inputs.temperature_k - t_limit) / self.p("qy_temperature_scale")).exp()
        } else {
            1.0
        };
        let r_max = self.p("excess_ratio");
        let etching = if r > r_max { (-(r - r_max)).exp() } else { 1.0 };
        let c_min = self.p("seed_min_concentration");
        let stability = if c_min > 0.0 {
            logistic(inputs.seed_concentration - c_min, 0.15 * c_min)
        } else {
            1.0
        };
        let qy = composition * ligand * thermal * etching * stability;
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
    model: CsPbX3HalideExchange,
    seeds: RoleBinding,
    halides: Vec<(Halide, RoleBinding)>,
    ligand: Option<RoleBinding>,
}

impl Bound {
    pub(crate) fn new(
        model: CsPbX3HalideExchange,
        roles: &CsPbX3Roles,
        pumps: &[PumpConfig],
    ) -> SimResult<Self> {
        Ok(Self {
            model,
            seeds: RoleBinding::bind(&roles.seeds, pumps)?,
            halides: roles
                .halides
                .iter()
                .map(|h| Ok((h.halide, RoleBinding::bind(&h.stock, pumps)?)))
                .collect::<SimResult<_>>()?,
            ligand: roles
                .ligand
                .as_deref()
                .map(|l| RoleBinding::bind(l, pumps))
                .transpose()?,
        })
    }

    pub(crate) fn inputs(&self, c: &Conditions) -> CsPbX3Inputs {
        CsPbX3Inputs {
            seed_concentration: self.seeds.concentration(&c.fractions),
            halides: self
                .halides
                .iter()
                .map(|(h, b)| (*h, b.concentration(&c.fractions)))
                .collect(),
            ligand_fraction: self
                .ligand
                .as_ref()
                .map_or(0.0, |l| l.fraction(&c.fractions)),
            residence_s: c.residence_s,
            temperature_k: c.temperature_k,
        }
    }

    pub(crate) fn populations(&self, c: &Conditions) -> Vec<Population> {
        self.model
            .evaluate(&self.inputs(c))
            .phases
            .into_iter()
            .map(|p| p.population)
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn model() -> CsPbX3HalideExchange {
        CsPbX3HalideExchange::new(&BTreeMap::new()).unwrap()
    }

    fn inputs(halide: Halide, c_x: f64) -> CsPbX3Inputs {
        CsPbX3Inputs {
            seed_concentration: 5.0,
            halides: vec![(halide, c_x)],
            ligand_fraction: 0.1,
            residence_s: 60.0,
            temperature_k: 298.15,
        }
    }

    #[test]
    fn seeds_alone_emit_at_512_nm() {
        let out = model().evaluate(&inputs(Halide::I, 0.0));
        let main = out.main().unwrap();
        assert!((main.peak_nm - 512.0).abs() < 0.5, "{}", main.peak_nm);
        assert!(
            main.fwhm_nm > 15.0 && main.fwhm_nm < 25.0,
            "{}",
            main.fwhm_nm
        );
        assert!(main.quantum_yield > 0.6);
    }

    #[test]
    fn iodide_moves_the_peak_toward_690_nm() {
        let mut last = 0.0;
        for c in [0.0, 5.0, 15.0, 50.0, 200.0, 2000.0] {
            let peak = model()
                .evaluate(&inputs(Halide::I, c))
                .main()
                .unwrap()
                .peak_nm;
            assert!(peak >= last, "{peak} after {last}");
            last = peak;
        }
        assert!(last > 670.0 && last <= 690.0, "{last}");
    }

    #[test]
    fn chloride_moves_the_peak_toward_410_nm_and_lowers_the_yield() {
        let little = model().evaluate(&inputs(Halide::Cl, 5.0));
        let lots = model().evaluate(&inputs(Halide::Cl, 5000.0));
        let (a, b) = (little.main().unwrap(), lots.main().unwrap());
        assert!(b.peak_nm < a.peak_nm && a.peak_nm < 512.0);
        assert!(b.peak_nm < 420.0 && b.peak_nm >= 410.0, "{}", b.peak_nm);
        assert!(b.quantum_yield < 0.3 && b.quantum_yield < a.quantum_yield);
    }

    #[test]
    fn exchange_needs_time_and_goes_faster_when_hot() {
        let mut cold = inputs(Halide::I, 30.0);
        cold.residence_s = 0.5;
        let mut hot = cold.clone();
        hot.temperature_k = 330.0;
        let x_cold = model().evaluate(&cold).main().unwrap().x;
        let x_hot = model().evaluate(&hot).main().unwrap().x;
        assert!(x_hot > x_cold);
    }

    #[test]
    fn too_dilute_seeds_do_not_emit() {
        let mut i = inputs(Halide::I, 1.0);
        i.seed_concentration = 0.05;
        let qy = model().evaluate(&i).main().unwrap().quantum_yield;
        assert!(qy < 1e-3, "{qy}");
    }

    #[test]
    fn ligand_has_an_optimum() {
        let qy = |l: f64| {
            let mut i = inputs(Halide::I, 10.0);
            i.ligand_fraction = l;
            model().evaluate(&i).main().unwrap().quantum_yield
        };
        assert!(qy(0.0) < qy(0.1));
        assert!(qy(0.5) < qy(0.1));
    }

    #[test]
    fn chloride_and_iodide_together_make_two_emitters() {
        let mut i = inputs(Halide::I, 30.0);
        i.halides.push((Halide::Cl, 30.0));
        let out = model().evaluate(&i);
        assert_eq!(out.phases.len(), 2);
        assert!(out.phases.iter().any(|p| p.peak_nm < 512.0));
        assert!(out.phases.iter().any(|p| p.peak_nm > 512.0));
    }

    #[test]
    fn a_bromide_source_alone_leaves_green_cspbbr3() {
        for c in [5.0, 50.0, 500.0] {
            let out = model().evaluate(&inputs(Halide::Br, c));
            let main = out.main().unwrap();
            assert_eq!(main.halide, None);
            assert!((main.peak_nm - 512.0).abs() < 0.5, "{}", main.peak_nm);
        }
    }

    #[test]
    fn bromide_added_to_iodide_lands_between_green_and_the_iodide_alone() {
        let iodide = model()
            .evaluate(&inputs(Halide::I, 30.0))
            .main()
            .unwrap()
            .peak_nm;
        let mut mixed = inputs(Halide::I, 30.0);
        mixed.halides.push((Halide::Br, 30.0));
        let both = model().evaluate(&mixed).main().unwrap().peak_nm;
        assert!(both > 530.0 && both < iodide - 10.0, "{both} vs {iodide}");
        // More bromide, greener; the composition follows the molar feed.
        mixed.halides.push((Halide::Br, 300.0));
        let more = model().evaluate(&mixed).main().unwrap().peak_nm;
        assert!(more < both && more > 512.0, "{more} vs {both}");
    }

    #[test]
    fn sources_of_one_halide_add_up() {
        let mut two = inputs(Halide::I, 15.0);
        two.halides.push((Halide::I, 15.0));
        let one = inputs(Halide::I, 30.0);
        let (a, b) = (model().evaluate(&two), model().evaluate(&one));
        assert!((a.main().unwrap().peak_nm - b.main().unwrap().peak_nm).abs() < 1e-9);
    }

    #[test]
    fn the_edges_bow_and_end_at_the_pure_compounds() {
        let m = model();
        let energy = |h: Halide, c: f64| EV_NM / m.evaluate(&inputs(h, c)).main().unwrap().peak_nm;
        // Nearly complete exchange reaches the pure iodide and chloride.
        assert!((EV_NM / energy(Halide::I, 1e6) - 690.0).abs() < 1.0);
        assert!((EV_NM / energy(Halide::Cl, 1e7) - 410.0).abs() < 1.0);
        // Half way along Br-I the energy lies `b/4` below the straight line.
        let mut half = inputs(Halide::I, 0.0);
        // K·r = 1 gives x_eq = 1/2; τ = 60 s makes the exchange complete.
        half.halides = vec![(Halide::I, 3.0 * 5.0 / 2.0)];
        let out = m.evaluate(&half);
        let main = out.main().unwrap();
        assert!((main.x - 0.5).abs() < 1e-6, "{}", main.x);
        let straight = 0.5 * (m.p("e_br") + m.p("e_i"));
        let e = EV_NM / main.peak_nm;
        assert!((straight - e - 0.1 / 4.0).abs() < 1e-6, "{e} vs {straight}");
    }

    #[test]
    fn small_seeds_emit_bluer_by_quantum_confinement() {
        let mut o = BTreeMap::new();
        o.insert("seed_edge".to_string(), 4e-9);
        let small = CsPbX3HalideExchange::new(&o).unwrap();
        let peak =
            |m: &CsPbX3HalideExchange, h, c| m.evaluate(&inputs(h, c)).main().unwrap().peak_nm;
        let green = peak(&small, Halide::Br, 0.0);
        assert!(green > 465.0 && green < 485.0, "{green}");
        // Confinement shifts the mixed compositions too.
        assert!(peak(&small, Halide::I, 30.0) < peak(&model(), Halide::I, 30.0) - 10.0);
    }

    #[test]
    fn unknown_and_out_of_range_parameters_are_refused() {
        let mut o = BTreeMap::new();
        o.insert("k_exchang".to_string(), 1.0);
        assert!(matches!(
            CsPbX3HalideExchange::new(&o),
            Err(crate::SimError::UnknownParameter { .. })
        ));
        let mut o = BTreeMap::new();
        o.insert("qy_br".to_string(), 1.5);
        assert!(matches!(
            CsPbX3HalideExchange::new(&o),
            Err(crate::SimError::ParameterOutOfRange { .. })
        ));
    }
}
