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
//! Noise can split one feature's concave stretch into several local minima, so the position
//! reported is the vertex of a least-squares parabola fitted to `d²A/dλ²` over the whole
//! concave stretch (`d²A/dλ² < 0`) around the longest-wavelength significant minimum: that
//! averages the derivative's noise over the feature.
//!
//! Clipped pixels ([`Spectrum::clipped`]: absorbance past the limit of the measurement) are
//! never read as values: each proxy fails with [`ProxyError::Clipped`] when one lies where it
//! looks (see [`absorbance_at`] and [`first_excitonic_peak_with`]).

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

/// Half-width of the neighbourhood of `absorbance_at` that must hold no clipped pixel, nm.
///
/// In a band where the sample lets (almost) no light through, noise lifts some pixels above
/// the dark, and they read finite absorbances below the clip that measure nothing; about half
/// the pixels of such a band are clipped. A clipped pixel within a couple of nm (a few pixels,
/// about the optical resolution of a compact spectrometer) says that the wavelength lies in
/// such a band, even when the two pixels interpolated happen not to be clipped.
pub const CLIP_GUARD_NM: f64 = 2.0;

/// Absorbance at `wavelength_nm`, linearly interpolated between the two nearest pixels (AU).
/// Fails with [`ProxyError::Clipped`] when a pixel within [`CLIP_GUARD_NM`] (and the pixels
/// straddling that window) is clipped.
pub fn absorbance_at(spectrum: &Spectrum, wavelength_nm: f64) -> ProxyResult<Measured> {
    expect_absorbance(spectrum)?;
    check_finite(spectrum)?;
    if spectrum.saturated {
        return Err(ProxyError::Saturated);
    }
    let x = spectrum.wavelength_nm();
    let value = interpolate(x, spectrum.values(), wavelength_nm).ok_or(ProxyError::OutOfRange {
        wavelength: wavelength_nm,
    })?;
    spectrum.check_not_clipped(
        x.partition_point(|w| *w < wavelength_nm - CLIP_GUARD_NM)
            .saturating_sub(1),
        x.partition_point(|w| *w <= wavelength_nm + CLIP_GUARD_NM),
    )?;
    Measured::new(value, ProxyUnit::Absorbance)
}

/// Absorbance at `wavelength_nm` from the straight line fitted (least squares) to the pixels
/// within `half_width_nm` of it (AU): what a light source of that bandwidth sees, with the
/// noise of one pixel divided by about the square root of the pixels in the window. A band's
/// curvature biases it by about `A''·w²/6`, negligible over a few nm for molecular and
/// above-gap bands. Falls back to [`absorbance_at`] when fewer than three pixels lie in the
/// window; fails like it when one of them is clipped.
pub fn absorbance_around(
    spectrum: &Spectrum,
    wavelength_nm: f64,
    half_width_nm: f64,
) -> ProxyResult<Measured> {
    let at = absorbance_at(spectrum, wavelength_nm)?;
    let x = spectrum.wavelength_nm();
    let (lo, hi) = (
        x.partition_point(|w| *w < wavelength_nm - half_width_nm),
        x.partition_point(|w| *w <= wavelength_nm + half_width_nm),
    );
    if hi.saturating_sub(lo) < 3 {
        return Ok(at);
    }
    spectrum.check_not_clipped(lo, hi)?;
    let (xs, ys) = (&x[lo..hi], &spectrum.values()[lo..hi]);
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (a, b) in xs.iter().zip(ys) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    Measured::new(my + slope * (wavelength_nm - mx), ProxyUnit::Absorbance)
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

/// Fails with [`ProxyError::Clipped`] when a clipped pixel lies within a smoothing window of the
/// feature or anywhere to its red, or when no feature is found and some pixel is clipped.
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
    let Some(found) = best else {
        // The first exciton may lie in a clipped band, where nothing can be seen.
        spectrum.check_not_clipped(0, n)?;
        return Err(ProxyError::no_peak(
            "no excitonic feature stands out where the sample absorbs",
        ));
    };
    // Noise makes several local minima inside one concave feature; the feature's centre is
    // the deepest point of the whole concave stretch (d²A/dλ² < 0) around the one found.
    let concave = |j: usize| d2.get(j).is_some_and(|v| *v < 0.0);
    let (mut lo, mut hi) = (found, found);
    while lo > margin.max(1) && concave(lo - 1) {
        lo -= 1;
    }
    while hi + 1 < n.saturating_sub(margin.max(1)) && concave(hi + 1) {
        hi += 1;
    }
    // The feature must be seen whole: no clipped pixel within a window of it. Nor may any lie
    // to the red, where the real first exciton would then hide (the corner of a clipped
    // plateau itself makes a minimum of the second derivative).
    spectrum.check_not_clipped(lo.saturating_sub(margin), n)?;
    let deepest = (lo..=hi)
        .min_by(|&a, &b| {
            let va = d2.get(a).copied().unwrap_or(0.0);
            let vb = d2.get(b).copied().unwrap_or(0.0);
            va.total_cmp(&vb)
        })
        .unwrap_or(found);
    // A least-squares parabola through the whole stretch averages the noise of the second
    // derivative over the feature (its centre is the vertex for a symmetric feature); with too
    // few points or a fit that is not a minimum inside the stretch, a three-point parabola
    // around the deepest point is used instead.
    let stretch: Vec<(f64, f64)> = (lo..=hi)
        .filter_map(|j| Some((*x.get(j)?, *d2.get(j)?)))
        .collect();
    let (x_lo, x_hi) = (
        x.get(lo).copied().unwrap_or(0.0),
        x.get(hi).copied().unwrap_or(0.0),
    );
    let fitted = (stretch.len() >= 5)
        .then(|| parabola_minimum(&stretch))
        .flatten()
        .filter(|v| *v >= x_lo && *v <= x_hi);
    let value = match fitted {
        Some(v) => v,
        None => three_point(x, &d2, deepest),
    };
    Measured::new(value, ProxyUnit::Nanometre)
}

/// Vertex of the three-point parabola through `y` around index `i` (a minimum), or `x[i]`.
fn three_point(x: &[f64], y: &[f64], i: usize) -> f64 {
    let xi = x.get(i).copied().unwrap_or(0.0);
    let (Some(&y0), Some(&y1), Some(&y2), Some(&x0), Some(&x2)) = (
        i.checked_sub(1).and_then(|j| y.get(j)),
        y.get(i),
        y.get(i + 1),
        i.checked_sub(1).and_then(|j| x.get(j)),
        x.get(i + 1),
    ) else {
        return xi;
    };
    let den = y0 - 2.0 * y1 + y2;
    if den <= 0.0 {
        return xi;
    }
    let offset = (0.5 * (y0 - y2) / den).clamp(-0.5, 0.5);
    let step = if offset >= 0.0 { x2 - xi } else { xi - x0 };
    xi + offset * step
}

/// Vertex of the least-squares parabola through `points`, if it opens upward.
fn parabola_minimum(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let mean = points.iter().map(|p| p.0).sum::<f64>() / n;
    let (mut s, mut t) = ([0.0_f64; 5], [0.0_f64; 3]);
    for &(x, y) in points {
        let u = x - mean;
        let mut p = 1.0;
        for k in s.iter_mut() {
            *k += p;
            p *= u;
        }
        let mut p = y;
        for k in t.iter_mut() {
            *k += p;
            p *= u;
        }
    }
    let det3 = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let det = det3([[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]]);
    if det.abs() < 1e-300 || !det.is_finite() {
        return None;
    }
    let b = det3([[s[0], t[0], s[2]], [s[1], t[1], s[3]], [s[2], t[2], s[4]]]) / det;
    let a = det3([[s[0], s[1], t[0]], [s[1], s[2], t[1]], [s[2], s[3], t[2]]]) / det;
    (a > 0.0 && a.is_finite() && b.is_finite()).then(|| mean - b / (2.0 * a))
}
