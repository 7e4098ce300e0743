//! Why a proxy could not be computed.
//!
//! Invariant: a proxy either returns a finite value with its unit or one of these errors; no
//! proxy returns NaN or infinity.

use crate::SpectrumQuantity;

/// Result alias for every proxy and processing step.
pub type ProxyResult<T> = Result<T, ProxyError>;

/// The ways a spectral proxy can fail. Each says what the caller can do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProxyError {
    /// No peak stands out of the baseline (flat spectrum, peak cut by the edge of the grid, ...).
    #[error("no peak: {reason}")]
    NoPeak { reason: String },
    /// The detector saturated, so the shape near the top is clipped and cannot be trusted.
    #[error("the spectrum is saturated (a pixel reached full scale); shorten the integration time")]
    Saturated,
    /// The proxy needs pixels whose absorbance is clipped at the limit of the measurement: so
    /// little light passes the sample there that the value is not a measurement.
    #[error(
        "the absorbance {} is beyond what can be measured (so little light passes the sample that it is clipped); dilute the sample or use a shorter path",
        wavelength_span(*from_nm, *to_nm)
    )]
    Clipped { from_nm: f64, to_nm: f64 },
    /// A wavelength asked for lies outside the spectrum's grid.
    #[error("{wavelength} nm lies outside the spectrum's grid")]
    OutOfRange { wavelength: f64 },
    /// A peak exists but its height is too small against the noise to locate it reliably.
    #[error("the signal is too noisy (signal-to-noise ratio {snr:.1}, need at least {min_snr:.1})")]
    TooNoisy { snr: f64, min_snr: f64 },
    /// The proxy needs another kind of spectrum (e.g. absorbance, not raw counts).
    #[error("expected a spectrum of {expected:?}, got {found:?}")]
    WrongQuantity {
        expected: SpectrumQuantity,
        found: SpectrumQuantity,
    },
    /// A value in the spectrum is NaN or infinite.
    #[error("the spectrum has a non-finite value at index {index}")]
    NotFinite { index: usize },
    /// Two spectra that must share a wavelength grid do not.
    #[error("the spectra do not share a wavelength grid")]
    GridMismatch,
    /// The sample absorbs (almost) no light at the excitation wavelength, so a yield per
    /// absorbed photon is undefined.
    #[error("the sample absorbs no light at {wavelength} nm (absorptance {absorptance:.2e})")]
    NoAbsorption { wavelength: f64, absorptance: f64 },
    /// An argument is out of its domain (a reversed range, a non-positive yield, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

fn wavelength_span(from_nm: f64, to_nm: f64) -> String {
    if (to_nm - from_nm).abs() < 0.05 {
        format!("at {from_nm:.1} nm")
    } else {
        format!("at {from_nm:.1} nm .. {to_nm:.1} nm")
    }
}

impl ProxyError {
    pub(crate) fn no_peak(reason: impl Into<String>) -> Self {
        Self::NoPeak {
            reason: reason.into(),
        }
    }
}
