//! Absorbance proxies: absorbance at a wavelength and the first excitonic peak.
//!
//! The first excitonic peak is found on the second derivative: the longest-wavelength
//! significant minimum of `d²A/dλ²` where the sample absorbs. A first exciton on a background
//! that rises toward the blue (higher transitions, the continuum) is often only a shoulder with
//! no local maximum of `A`, but it always makes a minimum of the second derivative; on a smooth
//! background that minimum sits at the feature's centre (exactly for a Gaussian on a linear
//! background), while a local maximum of `A` would be pulled to the blue by the slope.
//! Both the smoothing and the derivative use one cubic Savitzky–Golay window of about
//! `smoothing_nm`, which should be comparable to the exciton's half width.
//!
//! "Significant" means: the smoothed absorbance there exceeds both `min_absorbance` and five
//! times the noise of `A`, and the second-derivative minimum is deeper than five times the noise
//! that the derivative filter passes. Points within half a window of the grid's ends are ignored.

use crate::error::{ProxyError, ProxyResult};
use crate::measured::{Measured, ProxyUnit};
use crate::process::{check_finite, interpolate, mean_spacing, noise_sigma};
use crate::smooth::SavitzkyGolay;
use crate::{Spectrum, SpectrumQuantity};

fn expect_absorbance(spectrum: &Spectrum) -> ProxyResult<()> {
    if spectrum.quantity() == SpectrumQuantity::Absorbance {
        Ok(())
    } else {
        Err(ProxyError::WrongQuantity {
            expected: SpectrumQuantity::Absorbance,
            found: spectrum.quantity(),
        })
    }
}

/// Absorbance at `wavelength_nm`, linearly interpolated between the two nearest pixels (AU).
pub fn absorbance_at(spectrum: &Spectrum, wavelength_nm: f64) -> ProxyResult<Measured> {
    expect_absorbance(spectrum)?;
    check_finite(spectrum)?;
    if spectrum.saturated {
        return Err(ProxyError::Saturated);
    }
    let value = interpolate(spectrum.wavelength_nm(), spectrum.values(), wavelength_nm).ok_or(
        ProxyError::OutOfRange {
            wavelength: wavelength_nm,
        },
    )?;
    Measured::new(value, ProxyUnit::Absorbance)
}

/// Options for [`first_excitonic_peak_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExcitonOptions {
    /// Width of the Savitzky–Golay window, nm.
    pub smoothing_nm: f64,
    /// Smallest absorbance at which a feature counts (AU).
    pub min_absorbance: f64,
}

impl Default for ExcitonOptions {
    fn default() -> Self {
        Self {
            smoothing_nm: 15.0,
            min_absorbance: 0.01,
        }
    }
}

/// Wavelength of the first excitonic absorption feature, nm. See the module doc.
pub fn first_excitonic_peak(spectrum: &Spectrum) -> ProxyResult<Measured> {
    first_excitonic_peak_with(spectrum, &ExcitonOptions::default())
}

pub fn first_excitonic_peak_with(
    spectrum: &Spectrum,
    options: &ExcitonOptions,
) -> ProxyResult<Measured> {
    expect_absorbance(spectrum)?;
    check_finite(spectrum)?;
    if spectrum.saturated {
        return Err(ProxyError::Saturated);
    }
    let x = spectrum.wavelength_nm();
    let a = spectrum.values();
    let h = mean_spacing(x);
    if h.is_nan() || h <= 0.0 || options.smoothing_nm.is_nan() || options.smoothing_nm <= 0.0 {
        return Err(ProxyError::InvalidArgument(
            "smoothing width and grid spacing must be positive".into(),
        ));
    }
    let mut window =
        ((options.smoothing_nm / h).round() as usize).clamp(5, SavitzkyGolay::MAX_WINDOW);
    if window.is_multiple_of(2) {
        window += 1;
    }
    if window > a.len() {
        return Err(ProxyError::no_peak(
            "the spectrum is shorter than the smoothing window",
        ));
    }
    let smooth = SavitzkyGolay::new(window, 3, 0)?.apply(a, h);
    let second = SavitzkyGolay::new(window, 3, 2)?;
    let d2 = second.apply(a, h);
    let sigma = noise_sigma(a);
    // White noise of deviation σ comes out of the derivative filter with deviation σ·gain.
    let gain = second.noise_gain(h);
    let d2_noise = sigma * gain;
    let a_min = options.min_absorbance.max(5.0 * sigma);
    let margin = window / 2;
    let n = a.len();
    let mut best: Option<usize> = None;
    for i in (margin.max(1))..n.saturating_sub(margin.max(1)) {
        let (Some(&prev), Some(&here), Some(&next)) = (d2.get(i - 1), d2.get(i), d2.get(i + 1))
        else {
            continue;
        };
        let significant = here < 0.0
            && here <= prev
            && here < next
            && -here > 5.0 * d2_noise
            && smooth.get(i).is_some_and(|v| *v > a_min);
        if significant {
            best = Some(i);
        }
    }
    let i = best.ok_or_else(|| {
        ProxyError::no_peak("no excitonic feature stands out where the sample absorbs")
    })?;
    let xs = [
        x.get(i - 1).copied().unwrap_or(0.0),
        x.get(i).copied().unwrap_or(0.0),
        x.get(i + 1).copied().unwrap_or(0.0),
    ];
    let ys = [
        -d2.get(i - 1).copied().unwrap_or(0.0),
        -d2.get(i).copied().unwrap_or(0.0),
        -d2.get(i + 1).copied().unwrap_or(0.0),
    ];
    let den = ys[0] - 2.0 * ys[1] + ys[2];
    let offset = if den < 0.0 {
        (0.5 * (ys[0] - ys[2]) / den).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    let step = if offset >= 0.0 {
        xs[2] - xs[1]
    } else {
        xs[1] - xs[0]
    };
    Measured::new(xs[1] + offset * step, ProxyUnit::Nanometre)
}
