//! Spectra as qdx stores them, and the spectral proxies computed from them.
//!
//! Invariant: a [`Spectrum`] has as many values as wavelengths, and its wavelength grid is
//! strictly increasing (nm). Constructors check this; nothing downstream re-checks it.
//!
//! Modules: [`process`] (dark subtraction, absorbance, baseline, noise), [`smooth`]
//! (Savitzky–Golay), [`peak`] (peak wavelength, FWHM, area), [`absorbance`] (absorbance at a
//! wavelength, first excitonic peak), [`plqy`] (relative quantum yield), [`shapes`] (line
//! shapes for synthetic spectra), [`scattering`] (Guinier radius from SAXS `I(q)`),
//! [`dichroism`] (CD extremum, dissymmetry factor). Every proxy returns a [`Measured`] value with its unit or a
//! typed [`ProxyError`], never NaN.

use serde::{Deserialize, Serialize};

pub mod absorbance;
pub mod dichroism;
pub mod error;
pub mod measured;
pub mod peak;
pub mod plqy;
pub mod process;
pub mod scattering;
pub mod shapes;
pub mod smooth;

pub use absorbance::{
    ExcitonOptions, absorbance_around, absorbance_at, first_excitonic_peak,
    first_excitonic_peak_with,
};
pub use error::{ProxyError, ProxyResult};
pub use measured::{Measured, ProxyUnit};
pub use peak::{
    PeakShape, ProxyOptions, Smoothing, analyze_peak, fwhm, fwhm_with, integrated_area,
    integrated_area_with, peak_wavelength, peak_wavelength_with,
};
pub use plqy::{DyeCalibration, ReferenceDye, absorptance, pl_per_absorbed, relative_plqy};
pub use process::{AbsorbanceOptions, Baseline, absorbance as absorbance_spectrum, subtract_dark};

/// What the values of a spectrum mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpectrumQuantity {
    /// Raw detector counts (after averaging), 0 ..= 65535 for a 16-bit detector.
    Counts,
    /// Decadic absorbance, `-log10((S - D) / (R - D))`.
    Absorbance,
    /// Dark-corrected emission intensity (counts minus dark), as used for PL.
    Intensity,
    /// Small-angle X-ray scattering intensity, counts per second per q bin, over the
    /// scattering vector q in 1/nm: the grid of such a spectrum is q, not a wavelength.
    Scattering,
    /// Circular dichroism: ellipticity θ in millidegrees, over wavelength (nm).
    Ellipticity,
}

impl SpectrumQuantity {
    /// The column name of the grid in files: `q_per_nm` for a scattering pattern,
    /// `wavelength_nm` for the rest.
    pub fn axis_column(self) -> &'static str {
        match self {
            SpectrumQuantity::Scattering => "q_per_nm",
            SpectrumQuantity::Counts
            | SpectrumQuantity::Absorbance
            | SpectrumQuantity::Intensity
            | SpectrumQuantity::Ellipticity => "wavelength_nm",
        }
    }
}

/// One spectrum on a wavelength grid in nanometres (for [`SpectrumQuantity::Scattering`], on a
/// q grid in 1/nm: the grid accessor keeps its name, the quantity says what the axis is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spectrum {
    wavelength_nm: Vec<f64>,
    values: Vec<f64>,
    quantity: SpectrumQuantity,
    /// Integration time of one scan, in seconds.
    pub integration_time_s: f64,
    /// Number of scans averaged.
    pub averages: u32,
    /// True when any pixel of any averaged scan hit the detector's full scale.
    pub saturated: bool,
    /// Pixels (indices, increasing, unique, in range) whose value is the limit of the
    /// measurement rather than a measurement: absorbance where too little light passed the
    /// sample, or no reference light existed, so the value was clipped. Proxies that rely on
    /// such a pixel fail with [`ProxyError::Clipped`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    clipped: Vec<usize>,
}

/// Why a spectrum could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpectrumError {
    #[error("a spectrum has {wavelengths} wavelengths but {values} values")]
    LengthMismatch { wavelengths: usize, values: usize },
    #[error("the wavelength grid must be strictly increasing and finite (at index {index})")]
    GridNotIncreasing { index: usize },
    #[error("a spectrum needs at least 3 points, got {0}")]
    TooShort(usize),
}

impl Spectrum {
    /// Builds a spectrum, checking the invariant of the module.
    pub fn new(
        wavelength_nm: Vec<f64>,
        values: Vec<f64>,
        quantity: SpectrumQuantity,
    ) -> Result<Self, SpectrumError> {
        if wavelength_nm.len() != values.len() {
            return Err(SpectrumError::LengthMismatch {
                wavelengths: wavelength_nm.len(),
                values: values.len(),
            });
        }
        if wavelength_nm.len() < 3 {
            return Err(SpectrumError::TooShort(wavelength_nm.len()));
        }
        for (index, pair) in wavelength_nm.windows(2).enumerate() {
            if let [a, b] = pair
                && !(a.is_finite() && b.is_finite() && b > a)
            {
                return Err(SpectrumError::GridNotIncreasing { index: index + 1 });
            }
        }
        Ok(Self {
            wavelength_nm,
            values,
            quantity,
            integration_time_s: 0.0,
            averages: 1,
            saturated: false,
            clipped: Vec::new(),
        })
    }

    pub fn wavelength_nm(&self) -> &[f64] {
        &self.wavelength_nm
    }

    pub fn values(&self) -> &[f64] {
        &self.values
    }

    pub fn quantity(&self) -> SpectrumQuantity {
        self.quantity
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Sets the acquisition settings (integration time per scan in s, scans averaged,
    /// saturation flag).
    pub fn with_acquisition(
        mut self,
        integration_time_s: f64,
        averages: u32,
        saturated: bool,
    ) -> Self {
        self.integration_time_s = integration_time_s;
        self.averages = averages;
        self.saturated = saturated;
        self
    }

    /// The clipped pixels (see the field's doc), increasing.
    pub fn clipped(&self) -> &[usize] {
        &self.clipped
    }

    /// Marks pixels as clipped (in addition to those already marked); indices past the end
    /// are ignored.
    pub fn with_clipped(mut self, indices: impl IntoIterator<Item = usize>) -> Self {
        let n = self.values.len();
        self.clipped.extend(indices.into_iter().filter(|i| *i < n));
        self.clipped.sort_unstable();
        self.clipped.dedup();
        self
    }

    /// The first and last clipped pixels within the index range `lo..=hi`, if any.
    pub fn clipped_within(&self, lo: usize, hi: usize) -> Option<(usize, usize)> {
        let start = self.clipped.partition_point(|i| *i < lo);
        let end = self.clipped.partition_point(|i| *i <= hi);
        let inside = self.clipped.get(start..end)?;
        Some((*inside.first()?, *inside.last()?))
    }

    /// Fails with [`ProxyError::Clipped`] when a pixel in `lo..=hi` (indices) is clipped.
    pub fn check_not_clipped(&self, lo: usize, hi: usize) -> ProxyResult<()> {
        match self.clipped_within(lo, hi) {
            None => Ok(()),
            Some((a, b)) => Err(ProxyError::Clipped {
                from_nm: self.wavelength_nm.get(a).copied().unwrap_or(f64::NAN),
                to_nm: self.wavelength_nm.get(b).copied().unwrap_or(f64::NAN),
            }),
        }
    }

    /// Builds a spectrum by evaluating `f` on every wavelength of `grid`.
    pub fn from_fn(
        grid: Vec<f64>,
        quantity: SpectrumQuantity,
        f: impl Fn(f64) -> f64,
    ) -> Result<Self, SpectrumError> {
        let values = grid.iter().map(|x| f(*x)).collect();
        Self::new(grid, values, quantity)
    }
}
