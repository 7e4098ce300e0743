//! Relative photoluminescence quantum yield against a reference dye (physics.md B4).
//!
//! `Φ = Φ_ref · (I / I_ref) · (f_ref / f) · (n² / n_ref²)`, with `I` the integrated,
//! baseline-corrected PL (per second of integration, so different integration times compare),
//! `f = 1 − 10^(−A(λ_ex))` the absorptance at the excitation wavelength and `n` the solvents'
//! refractive indices. The absorptance rather than the absorbance keeps the formula right for
//! optically dense samples. Below an absorptance of 1e-4 a yield per absorbed photon is
//! meaningless and [`ProxyError::NoAbsorption`] is returned. Dilute samples give noisy yields
//! biased low (van Dam et al.); nothing here corrects that.
//!
//! Invariant: a [`ReferenceDye`] used for an absolute figure carries a [`DyeCalibration`]
//! measured in the same cell and instrument; without one only [`pl_per_absorbed`] is defined.

use serde::{Deserialize, Serialize};

use crate::absorbance::absorbance_around;
use crate::error::{ProxyError, ProxyResult};
use crate::measured::{Measured, ProxyUnit};
use crate::peak::integrated_area_with;
use crate::process::Baseline;
use crate::{Spectrum, SpectrumQuantity};

/// The reference dye's own measurement in the instrument: what `I_ref` and `A_ref` were.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DyeCalibration {
    /// Integrated, baseline-corrected PL of the dye, counts·nm.
    pub integrated_pl: f64,
    /// Integration time of that PL spectrum, s.
    pub integration_time_s: f64,
    /// Absorbance of the dye at the excitation wavelength in the same cell, AU.
    pub absorbance: f64,
}

impl DyeCalibration {
    /// The dye's calibration from its own spectra in the cell: the processed (dark-subtracted)
    /// PL spectrum and the absorbance spectrum, excited at `excitation_nm`. The integrated PL
    /// and the absorbance are taken exactly as [`relative_plqy`] takes the sample's, so the two
    /// compare like with like.
    pub fn measure(
        pl: &Spectrum,
        absorbance: &Spectrum,
        excitation_nm: f64,
    ) -> ProxyResult<DyeCalibration> {
        check_pl(pl)?;
        let integrated_pl = emitted(pl)?;
        if !(integrated_pl.is_finite() && integrated_pl > 0.0) {
            return Err(ProxyError::InvalidArgument(format!(
                "the dye's integrated PL is {integrated_pl}: no emission above the baseline"
            )));
        }
        let absorbance = excited_absorbance(absorbance, excitation_nm)?;
        absorbing(absorbance, excitation_nm)?;
        Ok(DyeCalibration {
            integrated_pl,
            integration_time_s: pl.integration_time_s,
            absorbance,
        })
    }
}

/// A fluorescence standard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceDye {
    pub name: String,
    /// The dye's quantum yield in its solvent (0..=1).
    pub quantum_yield: f64,
    /// Refractive index of the dye's solvent.
    pub refractive_index: f64,
    pub calibration: Option<DyeCalibration>,
}

impl ReferenceDye {
    /// Builds an uncalibrated dye; see [`ReferenceDye::with_calibration`].
    pub fn new(name: impl Into<String>, quantum_yield: f64, refractive_index: f64) -> Self {
        Self {
            name: name.into(),
            quantum_yield,
            refractive_index,
            calibration: None,
        }
    }

    pub fn with_calibration(mut self, calibration: DyeCalibration) -> Self {
        self.calibration = Some(calibration);
        self
    }

    /// Coumarin 153 in ethanol: Φ 0.53, n 1.361 (literature values, unverified: calibrate).
    pub fn coumarin153() -> Self {
        Self::new("coumarin153", 0.53, 1.361)
    }

    /// Rhodamine 6G in ethanol: Φ 0.94, n 1.361 (unverified: calibrate).
    pub fn rhodamine6g() -> Self {
        Self::new("rhodamine6g", 0.94, 1.361)
    }

    /// Quinine sulfate in 0.5 M H2SO4: Φ 0.546, n 1.338 (unverified: calibrate).
    pub fn quinine_sulfate() -> Self {
        Self::new("quinine_sulfate", 0.546, 1.338)
    }

    /// Fluorescein in 0.1 M NaOH: Φ 0.925, n 1.335 (unverified: calibrate).
    pub fn fluorescein() -> Self {
        Self::new("fluorescein", 0.925, 1.335)
    }

    /// The built-in dyes by name (`std.reference.<name>` in a campaign).
    pub fn builtin(name: &str) -> Option<Self> {
        match name {
            "coumarin153" => Some(Self::coumarin153()),
            "rhodamine6g" => Some(Self::rhodamine6g()),
            "quinine_sulfate" => Some(Self::quinine_sulfate()),
            "fluorescein" => Some(Self::fluorescein()),
            _ => None,
        }
    }

    /// Names accepted by [`ReferenceDye::builtin`], sorted.
    pub const BUILTIN: [&'static str; 4] = [
        "coumarin153",
        "fluorescein",
        "quinine_sulfate",
        "rhodamine6g",
    ];
}

/// Absorptance `1 − 10^(−A)`.
pub fn absorptance(absorbance: f64) -> f64 {
    1.0 - 10f64.powf(-absorbance)
}

fn check_pl(pl: &Spectrum) -> ProxyResult<()> {
    match pl.quantity() {
        SpectrumQuantity::Intensity | SpectrumQuantity::Counts => Ok(()),
        found => Err(ProxyError::WrongQuantity {
            expected: SpectrumQuantity::Intensity,
            found,
        }),
    }
}

/// The emission a PL spectrum holds (counts·nm): the sum of its counts times the mean pixel
/// spacing, with no baseline.
///
/// Each pixel counts the photons of its own band, whose width follows the grating's
/// dispersion, so the photons are the sum of the counts; on an evenly spaced grid this equals
/// the area under the spectrum. Integrating counts over wavelength instead weights each pixel
/// by its width once more: on a spectrometer whose calibration polynomial spreads pixels
/// unevenly, a dye emitting at 451 nm and a sample at 600 nm are then weighed differently
/// (the emulated standard rig gave yields 7 % below the simulated lab's on the same
/// chemistry). The spectrum is dark-subtracted, so its baseline is zero by construction; a
/// baseline drawn through the end pixels would add their noise to every pixel of a broad
/// band (a dye at A = 0.05, peak 1 300 counts over ±100 counts of noise, came out 11 % high
/// with the 5 % end-median baseline).
fn emitted(pl: &Spectrum) -> ProxyResult<f64> {
    // The same checks as any area: finite, not saturated, a grid.
    integrated_area_with(pl, None, Baseline::None)?;
    let x = pl.wavelength_nm();
    let (Some(first), Some(last)) = (x.first(), x.last()) else {
        return Err(ProxyError::no_peak("empty spectrum"));
    };
    let spacing = (last - first) / (x.len().saturating_sub(1).max(1)) as f64;
    Ok(pl.values().iter().sum::<f64>() * spacing)
}

/// Half-width of the band around the excitation wavelength where the absorbance is read (a
/// 365 nm LED's emission is about 10 nm wide). Measured on the simulated lab
/// (`examples/cspbx3-orange.qdx`, blank every 10 min): a reference dye at A = 0.05 read at one
/// pixel came out 0.0464; fitted over ±5 nm, 0.0495–0.0501 in three calibrations.
pub const EXCITATION_HALF_WIDTH_NM: f64 = 5.0;

/// The absorbance the excitation meets: sample and reference dye are read the same way.
fn excited_absorbance(absorbance: &Spectrum, excitation_nm: f64) -> ProxyResult<f64> {
    Ok(absorbance_around(absorbance, excitation_nm, EXCITATION_HALF_WIDTH_NM)?.value)
}

fn absorbed_fraction(absorbance: &Spectrum, excitation_nm: f64) -> ProxyResult<f64> {
    absorbing(
        excited_absorbance(absorbance, excitation_nm)?,
        excitation_nm,
    )
}

/// The fraction of the excitation an absorbance of `a` takes up, refused when it is too small
/// (or undefined) for a yield to be computed from it.
fn absorbing(a: f64, excitation_nm: f64) -> ProxyResult<f64> {
    let f = absorptance(a);
    if f.is_nan() || f <= 1e-4 {
        return Err(ProxyError::NoAbsorption {
            wavelength: excitation_nm,
            absorptance: f,
        });
    }
    Ok(f)
}

/// Integrated PL per absorbed fraction, `I / f` (counts·nm): the uncalibrated relative yield
/// that SDLs often report. Comparable between experiments of one campaign only.
pub fn pl_per_absorbed(
    pl: &Spectrum,
    absorbance: &Spectrum,
    excitation_nm: f64,
) -> ProxyResult<Measured> {
    check_pl(pl)?;
    let area = emitted(pl)?;
    let f = absorbed_fraction(absorbance, excitation_nm)?;
    Measured::new(area / f, ProxyUnit::CountsNanometre)
}

/// Relative PLQY against a calibrated reference dye (a pure number; see the module doc).
pub fn relative_plqy(
    pl: &Spectrum,
    absorbance: &Spectrum,
    excitation_nm: f64,
    reference: &ReferenceDye,
    sample_refractive_index: f64,
) -> ProxyResult<Measured> {
    check_pl(pl)?;
    let calibration = reference.calibration.ok_or_else(|| {
        ProxyError::InvalidArgument(format!(
            "reference dye {} has no calibration measured in this instrument",
            reference.name
        ))
    })?;
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if !(positive(reference.quantum_yield)
        && reference.quantum_yield <= 1.0
        && positive(reference.refractive_index)
        && positive(sample_refractive_index)
        && positive(calibration.integrated_pl))
    {
        return Err(ProxyError::InvalidArgument(format!(
            "reference dye {}: yield must be in (0, 1], refractive indices and integrated PL positive",
            reference.name
        )));
    }
    let f_ref = absorbing(calibration.absorbance, excitation_nm)?;
    let area = emitted(pl)?;
    let f = absorbed_fraction(absorbance, excitation_nm)?;
    // Per second of integration when both times are known; otherwise same settings assumed.
    let time_ratio = if pl.integration_time_s > 0.0 && calibration.integration_time_s > 0.0 {
        calibration.integration_time_s / pl.integration_time_s
    } else {
        1.0
    };
    let n_ratio = (sample_refractive_index / reference.refractive_index).powi(2);
    let phi = reference.quantum_yield
        * (area * time_ratio / calibration.integrated_pl)
        * (f_ref / f)
        * n_ratio;
    Measured::new(phi, ProxyUnit::Dimensionless)
}
