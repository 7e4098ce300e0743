//! The simulated lab's configuration: plain data the lead fills from a validated campaign.
//!
//! Units are SI throughout (m³, m³/s, K, s, m), except wavelengths (nm) as everywhere in qdx.
//! Invariant after [`SimConfig::check`]: names are unique per kind and across path segments,
//! every heater and spectrometer referenced by the flow path exists, every spectrometer watches
//! exactly one flow cell, and volumes and rate limits are positive and finite.

use serde::{Deserialize, Serialize};

use crate::chemistry::ChemistryConfig;
use crate::error::{SimError, SimResult};

fn default_ambient() -> f64 {
    298.15
}

/// The whole simulated lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// The campaign seed; every noise source draws from its own named stream under it.
    pub seed: u64,
    /// Ambient temperature, K: where heaters start and what unheated coils are at.
    #[serde(default = "default_ambient")]
    pub ambient_k: f64,
    #[serde(default)]
    pub pumps: Vec<PumpConfig>,
    #[serde(default)]
    pub heaters: Vec<HeaterConfig>,
    /// The flow path from the mixer to the outlet, in order.
    #[serde(default)]
    pub flow_path: Vec<PathSegment>,
    #[serde(default)]
    pub spectrometers: Vec<SpectrometerConfig>,
    /// Valves and collectors (a collector is a valve: collect/waste positions).
    #[serde(default)]
    pub valves: Vec<ValveConfig>,
    #[serde(default)]
    pub pressure_sensors: Vec<PressureSensorConfig>,
    /// Light sources switched by the plan. A spectrometer that some light shines into sees
    /// only the lights that are on; one without lights uses its own lamp and excitation
    /// source, switched by each acquisition's `Illumination`.
    #[serde(default)]
    pub lights: Vec<LightConfig>,
    pub chemistry: ChemistryConfig,
    /// The stream is segmented: droplets of the reagents in an immiscible carrier. Segments
    /// do not mix along the path, so the cell sees what is at its middle (plug flow) rather
    /// than the laminar average that smears a continuous stream (see `crate::flow`).
    #[serde(default)]
    pub segmented: bool,
}

/// A light source shining through a spectrometer's flow cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LightConfig {
    pub name: String,
    /// The spectrometer whose cell it lights.
    pub spectrometer: String,
    #[serde(flatten)]
    pub kind: LightKind,
}

/// What a light emits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LightKind {
    /// A broadband lamp: the spectrometer's lamp spectrum, over `min_nm ..= max_nm` only.
    Broadband { min_nm: f64, max_nm: f64 },
    /// An LED or laser at one wavelength: excites photoluminescence (the spectrometer's
    /// `excitation_e_per_s` for a sample absorbing all of it).
    Narrow { wavelength_nm: f64 },
}

/// A stock solution in a pump's syringe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stock {
    /// The stock's name in the campaign (`seeds`, `iodide`, ...); chemistry roles refer to it.
    pub name: String,
    /// Concentration of the stock's active species, mol/m³ (0.01 mol/L = 10 mol/m³).
    #[serde(default)]
    pub concentration: f64,
}

/// A syringe pump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PumpConfig {
    pub name: String,
    pub stock: Option<Stock>,
    /// Syringe capacity, m³.
    pub syringe_volume: f64,
    /// Volume in the syringe at the start, m³ (a full syringe when absent).
    #[serde(default)]
    pub initial_volume: Option<f64>,
    /// Smallest non-zero rate the pump accepts, m³/s.
    #[serde(default)]
    pub min_rate: f64,
    /// Largest rate the pump accepts, m³/s.
    pub max_rate: f64,
    /// The syringe holds a fluorescence standard's solution (a reference dye), not a reagent:
    /// the cell shows the dye wherever this pump's fluid is.
    #[serde(default)]
    pub dye: Option<DyeStock>,
}

/// A reference dye's solution, as the simulated cell shows it.
///
/// Model (simulator assumptions, unverified against any one dye's spectra): one absorption
/// band, a Gaussian in energy of FWHM [`DYE_ABSORPTION_FWHM_EV`] at `absorption_nm`; one
/// emission line, a Gaussian of FWHM [`DYE_EMISSION_FWHM_EV`] (in energy, turned into nm at
/// the peak) at `emission_nm`; concentration such that the cell's absorbance at the reference
/// wavelength is `absorbance` (the usual preparation for the relative method: below 0.1, so
/// the inner filter stays negligible; IUPAC, Resch-Genger & Rurack, Pure Appl. Chem. 2013).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DyeStock {
    /// Absorption maximum, nm.
    pub absorption_nm: f64,
    /// Emission maximum, nm.
    pub emission_nm: f64,
    /// Photons emitted per photon absorbed, as the detector sees them relative to the
    /// sample's solvent: the dye's quantum yield times `(n_sample / n_dye)²` (collection
    /// scales as `1/n²`; the sample's own emission is the simulator's unit).
    pub quantum_yield: f64,
    /// Absorbance of the solution at `at_nm` in the cell, AU.
    pub absorbance: f64,
    /// Where `absorbance` holds, nm (the excitation wavelength).
    pub at_nm: f64,
}

/// FWHM of a simulated dye's absorption band, eV (broad, as for coumarins).
pub const DYE_ABSORPTION_FWHM_EV: f64 = 0.45;
/// FWHM of a simulated dye's emission line, eV.
pub const DYE_EMISSION_FWHM_EV: f64 = 0.35;

impl DyeStock {
    /// The solution as a population in a cell of path `path_m`.
    pub fn population(&self, path_m: f64) -> crate::optics::Population {
        use qdx_spectra::shapes::{EV_NM, gaussian};
        let center_ev = EV_NM / self.absorption_nm;
        let at = gaussian(EV_NM / self.at_nm, center_ev, DYE_ABSORPTION_FWHM_EV);
        let per_m = self.absorbance / (path_m * at).max(f64::MIN_POSITIVE);
        let em_ev = EV_NM / self.emission_nm;
        let fwhm_nm = EV_NM / (em_ev - 0.5 * DYE_EMISSION_FWHM_EV)
            - EV_NM / (em_ev + 0.5 * DYE_EMISSION_FWHM_EV);
        crate::optics::Population {
            bands: vec![crate::optics::Band::Peak {
                center_ev,
                fwhm_ev: DYE_ABSORPTION_FWHM_EV,
                per_m,
            }],
            emission: Some(crate::optics::Emission {
                peak_nm: self.emission_nm,
                fwhm_nm,
                quantum_yield: self.quantum_yield,
            }),
            ..crate::optics::Population::default()
        }
    }
}

/// A temperature controller with a first-order response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeaterConfig {
    pub name: String,
    /// Accepted setpoints, K.
    pub min_k: f64,
    pub max_k: f64,
    /// Time constant of the first-order response, s.
    #[serde(default = "default_heater_tau")]
    pub time_constant_s: f64,
}

fn default_heater_tau() -> f64 {
    60.0
}

/// What a stretch of the flow path is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SegmentKind {
    /// Where the streams meet. No reaction is modelled in it.
    Mixer,
    /// A reactor coil: the reaction happens here, at the heater's actual temperature (ambient
    /// when unheated).
    Coil { heater: Option<String> },
    /// Connecting tubing: adds delay, no reaction.
    Tubing,
    /// A flow cell watched by spectrometers (by name).
    FlowCell { spectrometers: Vec<String> },
}

/// One stretch of the flow path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathSegment {
    pub name: String,
    /// Internal volume, m³.
    pub volume: f64,
    #[serde(flatten)]
    pub kind: SegmentKind,
}

/// An inline spectrometer with its lamp and excitation source. Defaults model an Ocean
/// Flame-S-like detector (physics.md B4): 16-bit ADC, well depth 160 000 e⁻, read noise set
/// so the single-scan SNR at full scale is about 275:1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpectrometerConfig {
    pub name: String,
    pub min_nm: f64,
    pub max_nm: f64,
    pub pixels: usize,
    /// Excitation wavelength of the PL source, nm.
    pub excitation_nm: f64,
    /// Optical path length of the flow cell, m.
    pub path_length_m: f64,
    /// Electrons per count.
    pub gain_e_per_count: f64,
    /// Read noise, electrons RMS per pixel per scan.
    pub read_noise_e: f64,
    /// Dark current, electrons per second per pixel (±10 % fixed pattern across pixels).
    pub dark_e_per_s: f64,
    /// Electronic offset, counts.
    pub offset_counts: f64,
    /// Lamp signal at its brightest pixel with solvent in the cell, electrons per second.
    pub lamp_e_per_s: f64,
    /// PL signal, electrons per second summed over the emission band, for a sample that
    /// absorbs all excitation light with a quantum yield of 1.
    pub excitation_e_per_s: f64,
    /// A SAXS camera instead of an optical spectrometer: its frames are `I(q)` on this q
    /// range (`pixels` bins), under [`qdx_lab::Illumination::XRay`].
    pub saxs: Option<SaxsConfig>,
    /// RMS noise of a CD spectrum (mdeg) for one second of integration; it falls as
    /// 1/√(integration × averages).
    pub cd_noise_mdeg: f64,
}

/// The q range and count rates of a simulated SAXS camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SaxsConfig {
    pub q_min_per_nm: f64,
    pub q_max_per_nm: f64,
    /// Counts per second per unit of `Σ n·V²` (particle concentration × volume² in nm⁶):
    /// sets how bright a sample scatters.
    pub counts_per_s: f64,
    /// Flat background (solvent, windows, parasitic scattering), counts per second per bin.
    pub background_per_s: f64,
}

impl Default for SaxsConfig {
    fn default() -> Self {
        Self {
            q_min_per_nm: 0.05,
            q_max_per_nm: 3.0,
            counts_per_s: SAXS_COUNTS_PER_S,
            background_per_s: 2.0,
        }
    }
}

/// The default camera brightness: the CdSe model's dots (radius 1–2.5 nm, 5 mM precursors) scatter
/// 10³–10⁴ counts/s at the lowest q (an inline flow-through capillary at a synchrotron beamline
/// gives 10³–10⁵ counts/s per bin; the value is chosen, not measured).
pub const SAXS_COUNTS_PER_S: f64 = 500.0;

impl Default for SpectrometerConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            min_nm: 350.0,
            max_nm: 800.0,
            pixels: 1024,
            excitation_nm: 365.0,
            path_length_m: 1e-3,
            gain_e_per_count: 160_000.0 / 65_535.0,
            read_noise_e: 422.0,
            dark_e_per_s: 1_000.0,
            offset_counts: 1_000.0,
            lamp_e_per_s: 2.4e6,
            excitation_e_per_s: 5e7,
            saxs: None,
            cd_noise_mdeg: 0.05,
        }
    }
}

impl SpectrometerConfig {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// A valve or collector with `positions` positions (1-based, as valve controllers number them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValveConfig {
    pub name: String,
    pub positions: u16,
    #[serde(default = "default_position")]
    pub initial_position: u16,
}

fn default_position() -> u16 {
    1
}

/// A pressure sensor: gauge pressure = back-pressure regulator setting + line resistance × flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PressureSensorConfig {
    pub name: String,
    /// Back-pressure regulator setting, Pa.
    #[serde(default)]
    pub back_pressure_pa: f64,
    /// Hydraulic resistance of the line, Pa per (m³/s).
    #[serde(default)]
    pub resistance_pa_s_per_m3: f64,
}

/// The pixel counts a simulated spectrometer reads.
pub const PIXELS: std::ops::RangeInclusive<usize> = 3..=16_384;

fn positive(what: &str, v: f64) -> SimResult<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(SimError::InvalidConfig(format!(
            "{what} must be positive and finite, got {v}"
        )))
    }
}

impl SimConfig {
    /// Checks the invariant stated in the module doc.
    pub fn check(&self) -> SimResult<()> {
        let mut names = std::collections::BTreeSet::new();
        let mut unique = |kind: &str, name: &str| {
            if names.insert(format!("{kind}/{name}")) {
                Ok(())
            } else {
                Err(SimError::DuplicateName(name.to_string()))
            }
        };
        for p in &self.pumps {
            unique("pump", &p.name)?;
            positive(&format!("pump {} syringe volume", p.name), p.syringe_volume)?;
            positive(&format!("pump {} max rate", p.name), p.max_rate)?;
            if !(p.min_rate.is_finite() && p.min_rate >= 0.0 && p.min_rate <= p.max_rate) {
                return Err(SimError::InvalidConfig(format!(
                    "pump {} min rate must lie in 0 ..= max rate",
                    p.name
                )));
            }
            if let Some(d) = &p.dye {
                for (what, v) in [
                    ("absorption maximum", d.absorption_nm),
                    ("emission maximum", d.emission_nm),
                    ("absorbance", d.absorbance),
                    ("reference wavelength", d.at_nm),
                ] {
                    positive(&format!("pump {} dye {what}", p.name), v)?;
                }
                if !(d.quantum_yield.is_finite() && d.quantum_yield >= 0.0) {
                    return Err(SimError::InvalidConfig(format!(
                        "pump {} dye quantum yield must be zero or more",
                        p.name
                    )));
                }
                // Peak absorbance per metre a dye would need to reach `absorbance` at the
                // reference wavelength: a dye that barely absorbs there cannot be prepared.
                let peak = d.population(1.0).absorbance_per_m(d.absorption_nm);
                if !(peak.is_finite() && peak <= 3e4) {
                    return Err(SimError::InvalidConfig(format!(
                        "pump {}: the dye absorbs too little at {} nm (its band peaks at {} nm) to reach an absorbance of {} there",
                        p.name, d.at_nm, d.absorption_nm, d.absorbance
                    )));
                }
            }
            if let Some(v) = p.initial_volume
                && !(v.is_finite() && v >= 0.0 && v <= p.syringe_volume)
            {
                return Err(SimError::InvalidConfig(format!(
                    "pump {} initial volume must lie in 0 ..= syringe volume",
                    p.name
                )));
            }
            if let Some(s) = &p.stock
                && !(s.concentration.is_finite() && s.concentration >= 0.0)
            {
                return Err(SimError::InvalidConfig(format!(
                    "stock {} concentration must be finite and non-negative",
                    s.name
                )));
            }
        }
        for h in &self.heaters {
            unique("heater", &h.name)?;
            positive(
                &format!("heater {} time constant", h.name),
                h.time_constant_s,
            )?;
            // Absolute zero is the one bound a temperature has: a range may start there.
            if !(h.min_k.is_finite() && h.min_k >= 0.0) {
                return Err(SimError::InvalidConfig(format!(
                    "heater {} minimum must be a temperature (0 K or above), got {}",
                    h.name, h.min_k
                )));
            }
            if !(h.max_k.is_finite() && h.max_k >= h.min_k) {
                return Err(SimError::InvalidConfig(format!(
                    "heater {} range is empty",
                    h.name
                )));
            }
        }
        for l in &self.lights {
            unique("light", &l.name)?;
            if !self.spectrometers.iter().any(|s| s.name == l.spectrometer) {
                return Err(SimError::InvalidConfig(format!(
                    "light {} shines into spectrometer {}, which does not exist",
                    l.name, l.spectrometer
                )));
            }
            let ok = match l.kind {
                LightKind::Broadband { min_nm, max_nm } => {
                    min_nm.is_finite() && max_nm.is_finite() && max_nm > min_nm
                }
                LightKind::Narrow { wavelength_nm } => {
                    wavelength_nm.is_finite() && wavelength_nm > 0.0
                }
            };
            if !ok {
                return Err(SimError::InvalidConfig(format!(
                    "light {} needs a non-empty band or a positive wavelength",
                    l.name
                )));
            }
        }
        for s in &self.spectrometers {
            unique("spectrometer", &s.name)?;
            if !(s.min_nm.is_finite() && s.max_nm.is_finite() && s.max_nm > s.min_nm) {
                return Err(SimError::InvalidConfig(format!(
                    "spectrometer {} wavelength range is empty",
                    s.name
                )));
            }
            if !PIXELS.contains(&s.pixels) {
                return Err(SimError::InvalidConfig(format!(
                    "spectrometer {} needs {} ..= {} pixels",
                    s.name,
                    PIXELS.start(),
                    PIXELS.end()
                )));
            }
            for (what, v) in [
                ("path length", s.path_length_m),
                ("gain", s.gain_e_per_count),
                ("excitation wavelength", s.excitation_nm),
            ] {
                positive(&format!("spectrometer {} {what}", s.name), v)?;
            }
            for (what, v) in [
                ("read noise", s.read_noise_e),
                ("dark current", s.dark_e_per_s),
                ("offset", s.offset_counts),
                ("lamp", s.lamp_e_per_s),
                ("excitation", s.excitation_e_per_s),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(SimError::InvalidConfig(format!(
                        "spectrometer {} {what} must be finite and non-negative",
                        s.name
                    )));
                }
            }
        }
        for v in &self.valves {
            unique("valve", &v.name)?;
            if v.positions == 0 || v.initial_position == 0 || v.initial_position > v.positions {
                return Err(SimError::InvalidConfig(format!(
                    "valve {} needs positions >= 1 and an initial position among them",
                    v.name
                )));
            }
        }
        for p in &self.pressure_sensors {
            unique("pressure sensor", &p.name)?;
        }
        for seg in &self.flow_path {
            unique("segment", &seg.name)?;
            if !(seg.volume.is_finite() && seg.volume >= 0.0) {
                return Err(SimError::InvalidConfig(format!(
                    "path segment {} volume must be finite and non-negative",
                    seg.name
                )));
            }
            match &seg.kind {
                SegmentKind::Coil {
                    heater: Some(heater),
                } if !self.heaters.iter().any(|h| &h.name == heater) => {
                    return Err(SimError::UnknownDevice {
                        kind: "heater",
                        name: heater.clone(),
                    });
                }
                SegmentKind::FlowCell { spectrometers } => {
                    for s in spectrometers {
                        if !self.spectrometers.iter().any(|c| &c.name == s) {
                            return Err(SimError::UnknownDevice {
                                kind: "spectrometer",
                                name: s.clone(),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        for s in &self.spectrometers {
            let watching = self
                .flow_path
                .iter()
                .filter(|seg| matches!(&seg.kind, SegmentKind::FlowCell { spectrometers } if spectrometers.contains(&s.name)))
                .count();
            if watching != 1 {
                return Err(SimError::InvalidConfig(format!(
                    "spectrometer {} must watch exactly one flow cell of the path (it watches {watching})",
                    s.name
                )));
            }
        }
        if !(self.ambient_k.is_finite() && self.ambient_k > 0.0) {
            return Err(SimError::InvalidConfig(
                "ambient temperature must be positive".into(),
            ));
        }
        Ok(())
    }
}
