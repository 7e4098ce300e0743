//! Emission-peak proxies: peak wavelength, FWHM and integrated area.
//!
//! Method (one pass, [`analyze_peak`]):
//! 1. Subtract the baseline ([`Baseline`], by default a line through the medians of both ends).
//! 2. Estimate the white-noise deviation σ from second differences. When the spectrum is noisy
//!    (σ above 0.1 % of the peak), smooth it with a quadratic Savitzky–Golay filter whose window
//!    is at most half the peak's width in pixels: that keeps the position and, to first order,
//!    the width of a symmetric peak.
//! 3. The highest point must not sit on the first or last pixel (a peak cut by the grid has no
//!    defined maximum) and must stand at least `min_snr` times the noise of the smoothed values
//!    (σ times the filter's noise gain) above the baseline.
//! 4. Peak position: weighted least-squares parabola through the logarithm of the points above
//!    `fit_fraction` of the maximum (weights y², so low points count less). This is exact for a
//!    Gaussian on any grid and within a few thousandths of a pixel for a Lorentzian.
//! 5. Height: the vertex of the three-point parabola through the top pixels (no shape assumed).
//!    FWHM: half-height crossings on both sides, each interpolated on the logarithm of the two
//!    straddling pixels and the next one toward the peak (exact for a Gaussian, nearly so for a
//!    Lorentzian), or linearly where a value is not positive.
//!
//! Invariant: every returned value is finite and carries its unit; failures are typed errors.

use crate::error::{ProxyError, ProxyResult};
use crate::measured::{Measured, ProxyUnit};
use crate::process::{
    Baseline, baseline, baseline_end_points, check_finite, interpolate, noise_sigma,
};
use crate::smooth::SavitzkyGolay;
use crate::{Spectrum, SpectrumQuantity};

/// Smoothing applied before locating a peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Smoothing {
    /// Smooth only when the spectrum is noisy, with a window fitted to the peak's width.
    #[default]
    Auto,
    /// Never smooth.
    None,
    /// Always smooth with a quadratic Savitzky–Golay filter of this (odd) window.
    SavitzkyGolay { window: usize },
}

/// Options shared by the peak proxies. `Default` is what qdx uses unless a campaign says
/// otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProxyOptions {
    pub baseline: Baseline,
    pub smoothing: Smoothing,
    /// Smallest accepted ratio of peak height to noise deviation.
    pub min_snr: f64,
    /// Points above this fraction of the maximum enter the peak-position fit.
    pub fit_fraction: f64,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            baseline: Baseline::default(),
            smoothing: Smoothing::Auto,
            min_snr: 5.0,
            fit_fraction: 0.5,
        }
    }
}

/// What [`analyze_peak`] finds about the main peak of a spectrum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeakShape {
    /// Peak wavelength, nm.
    pub peak_nm: f64,
    /// Height above the baseline, in the spectrum's units.
    pub height: f64,
    /// Half-height crossings, nm (blue side, red side).
    pub half_left_nm: f64,
    pub half_right_nm: f64,
    /// Noise deviation of the baseline-corrected spectrum after smoothing.
    pub noise_sigma: f64,
}

impl PeakShape {
    /// Full width at half maximum, nm.
    pub fn fwhm_nm(&self) -> f64 {
        self.half_right_nm - self.half_left_nm
    }
}

/// Baseline-corrected and (if asked or needed) smoothed values, with the noise estimate.
pub(crate) struct Prepared {
    pub values: Vec<f64>,
    pub sigma: f64,
}

pub(crate) fn prepare(spectrum: &Spectrum, options: &ProxyOptions) -> ProxyResult<Prepared> {
    check_finite(spectrum)?;
    if spectrum.saturated {
        return Err(ProxyError::Saturated);
    }
    // A clipped pixel holds the largest value the spectrum can have, so the peak would be
    // found on the clipped plateau: no peak proxy is defined with one anywhere.
    spectrum.check_not_clipped(0, spectrum.len())?;
    let x = spectrum.wavelength_nm();
    let base = baseline(x, spectrum.values(), options.baseline);
    let y: Vec<f64> = spectrum
        .values()
        .iter()
        .zip(&base)
        .map(|(v, b)| v - b)
        .collect();
    let sigma = noise_sigma(&y);
    let window = match options.smoothing {
        Smoothing::None => None,
        Smoothing::SavitzkyGolay { window } => Some(window),
        Smoothing::Auto => auto_window(&y, sigma),
    };
    let (values, sigma) = match window {
        Some(w) if w >= 5 => {
            let filter = SavitzkyGolay::new(w, 2, 0)?;
            // The smoothed values carry less noise: what the peak must stand out of.
            (filter.apply(&y, 1.0), sigma * filter.noise_gain(1.0))
        }
        _ => (y, sigma),
    };
    Ok(Prepared { values, sigma })
}

/// A smoothing window for noisy spectra: at most half the peak's width in pixels, odd, 5..=51.
fn auto_window(y: &[f64], sigma: f64) -> Option<usize> {
    let (imax, ymax) = argmax(y)?;
    if ymax <= 0.0 || sigma <= 1e-3 * ymax {
        return None;
    }
    // Rough width: pixels above half height around the maximum on a lightly smoothed copy.
    let light = SavitzkyGolay::new(5, 2, 0).ok()?.apply(y, 1.0);
    let half = 0.5 * light.get(imax).copied().unwrap_or(ymax);
    let left = (0..=imax)
        .rev()
        .find(|&i| light.get(i).is_none_or(|v| *v < half))
        .unwrap_or(0);
    let right = (imax..light.len())
        .find(|&i| light.get(i).is_none_or(|v| *v < half))
        .unwrap_or(light.len().saturating_sub(1));
    let width = right.saturating_sub(left);
    let w = (width / 2).min(51);
    let w = if w % 2 == 0 { w.saturating_sub(1) } else { w };
    (w >= 5).then_some(w)
}

pub(crate) fn argmax(y: &[f64]) -> Option<(usize, f64)> {
    y.iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Vertex of the parabola through three equally weighted points; `None` if not concave.
fn parabola_vertex(x: [f64; 3], y: [f64; 3]) -> Option<(f64, f64)> {
    let [x0, x1, x2] = x;
    let [y0, y1, y2] = y;
    let d0 = (x0 - x1) * (x0 - x2);
    let d1 = (x1 - x0) * (x1 - x2);
    let d2 = (x2 - x0) * (x2 - x1);
    if d0 == 0.0 || d1 == 0.0 || d2 == 0.0 {
        return None;
    }
    let a = y0 / d0 + y1 / d1 + y2 / d2;
    let b = -(y0 * (x1 + x2) / d0 + y1 * (x0 + x2) / d1 + y2 * (x0 + x1) / d2);
    let c = y0 * x1 * x2 / d0 + y1 * x0 * x2 / d1 + y2 * x0 * x1 / d2;
    if a >= 0.0 {
        return None;
    }
    let xv = -b / (2.0 * a);
    let yv = c - b * b / (4.0 * a);
    (xv.is_finite() && yv.is_finite()).then_some((xv, yv))
}

/// Weighted least-squares fit of `ln y = c + b u + a u²` (weights y²) on the given points,
/// `u = x − x_ref`. Returns the vertex position if the fit is concave.
fn log_parabola_vertex(points: &[(f64, f64)], x_ref: f64) -> Option<f64> {
    let mut s = [0.0_f64; 5];
    let mut t = [0.0_f64; 3];
    for &(x, y) in points {
        if y <= 0.0 {
            return None;
        }
        let (u, w, l) = (x - x_ref, y * y, y.ln());
        let mut p = w;
        for k in s.iter_mut() {
            *k += p;
            p *= u;
        }
        let mut p = w * l;
        for k in t.iter_mut() {
            *k += p;
            p *= u;
        }
    }
    // Normal equations for (c, b, a) solved by Cramer's rule.
    let m = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]];
    let det = det3(m);
    if det.abs() < 1e-300 || !det.is_finite() {
        return None;
    }
    let mb = [[s[0], t[0], s[2]], [s[1], t[1], s[3]], [s[2], t[2], s[4]]];
    let ma = [[s[0], s[1], t[0]], [s[1], s[2], t[1]], [s[2], s[3], t[2]]];
    let (b, a) = (det3(mb) / det, det3(ma) / det);
    if a >= 0.0 || !a.is_finite() || !b.is_finite() {
        return None;
    }
    Some(x_ref - b / (2.0 * a))
}

fn det3(m: [[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

/// Finds the main peak: position, height, half-height crossings. See the module doc.
pub fn analyze_peak(spectrum: &Spectrum, options: &ProxyOptions) -> ProxyResult<PeakShape> {
    let prepared = prepare(spectrum, options)?;
    let x = spectrum.wavelength_nm();
    let y = &prepared.values;
    let n = y.len();
    let (imax, ymax) = argmax(y).ok_or_else(|| ProxyError::no_peak("empty spectrum"))?;
    if ymax <= 0.0
        || ymax
            <= 1e-12
                * spectrum
                    .values()
                    .iter()
                    .fold(0.0_f64, |a, v| a.max(v.abs()))
    {
        return Err(ProxyError::no_peak("nothing rises above the baseline"));
    }
    if prepared.sigma > 0.0 {
        let snr = ymax / prepared.sigma;
        if snr < options.min_snr {
            return Err(ProxyError::TooNoisy {
                snr,
                min_snr: options.min_snr,
            });
        }
    }
    if imax == 0 || imax + 1 >= n {
        return Err(ProxyError::no_peak(
            "the maximum lies on the edge of the wavelength grid",
        ));
    }
    let at = |i: usize| {
        (
            x.get(i).copied().unwrap_or(0.0),
            y.get(i).copied().unwrap_or(0.0),
        )
    };
    let (xl, yl) = at(imax - 1);
    let (xc, yc) = at(imax);
    let (xr, yr) = at(imax + 1);
    let (vertex3, height) = parabola_vertex([xl, xc, xr], [yl, yc, yr]).unwrap_or((xc, yc));
    let height = height.max(yc);

    // Position: log-parabola over the contiguous points above fit_fraction of the maximum.
    let level = options.fit_fraction.clamp(0.05, 0.95) * ymax;
    let mut lo = imax - 1;
    while lo > 0 && y.get(lo - 1).is_some_and(|v| *v >= level) {
        lo -= 1;
    }
    let mut hi = imax + 1;
    while hi + 1 < n && y.get(hi + 1).is_some_and(|v| *v >= level) {
        hi += 1;
    }
    let points: Vec<(f64, f64)> = (lo..=hi).map(at).collect();
    let (x_lo, x_hi) = (at(lo).0, at(hi).0);
    let peak_nm = log_parabola_vertex(&points, xc)
        .filter(|v| *v >= x_lo && *v <= x_hi)
        .unwrap_or(vertex3.clamp(xl, xr));

    // Half-height crossings.
    let half = 0.5 * height;
    let mut i = imax;
    while i > 0 && y.get(i).is_some_and(|v| *v >= half) {
        i -= 1;
    }
    if y.get(i).is_none_or(|v| *v >= half) {
        return Err(ProxyError::no_peak(
            "the peak is cut by the blue end of the grid (no half-maximum crossing)",
        ));
    }
    let half_left_nm = crossing(at(i), at(i + 1), (i + 2 <= imax).then(|| at(i + 2)), half);
    let mut j = imax;
    while j + 1 < n && y.get(j).is_some_and(|v| *v >= half) {
        j += 1;
    }
    if y.get(j).is_none_or(|v| *v >= half) {
        return Err(ProxyError::no_peak(
            "the peak is cut by the red end of the grid (no half-maximum crossing)",
        ));
    }
    let half_right_nm = crossing(at(j - 1), at(j), (j >= imax + 2).then(|| at(j - 2)), half);
    let shape = PeakShape {
        peak_nm,
        height,
        half_left_nm,
        half_right_nm,
        noise_sigma: prepared.sigma,
    };
    let all_finite = [peak_nm, height, half_left_nm, half_right_nm]
        .iter()
        .all(|v| v.is_finite());
    if all_finite {
        Ok(shape)
    } else {
        Err(ProxyError::no_peak("the peak fit broke down"))
    }
}

/// Where the curve crosses level `y` between the straddling points `a` and `b`.
///
/// With a third point `c` on the peak's side, the logarithm of the curve is interpolated by the
/// parabola through the three points: exact for a Gaussian, and nearly exact for a Lorentzian,
/// whose logarithm has no curvature at half height. Otherwise (or when a value is not
/// positive, as with noise near a zero baseline) the crossing is interpolated linearly.
fn crossing(a: (f64, f64), b: (f64, f64), c: Option<(f64, f64)>, y: f64) -> f64 {
    let linear = || {
        let dy = b.1 - a.1;
        if dy == 0.0 {
            0.5 * (a.0 + b.0)
        } else {
            a.0 + ((y - a.1) / dy).clamp(0.0, 1.0) * (b.0 - a.0)
        }
    };
    let Some(c) = c else { return linear() };
    if a.1 <= 0.0 || b.1 <= 0.0 || c.1 <= 0.0 || y <= 0.0 {
        return linear();
    }
    let (la, lb, lc, ly) = (a.1.ln(), b.1.ln(), c.1.ln(), y.ln());
    let poly = |x: f64| {
        la * (x - b.0) * (x - c.0) / ((a.0 - b.0) * (a.0 - c.0))
            + lb * (x - a.0) * (x - c.0) / ((b.0 - a.0) * (b.0 - c.0))
            + lc * (x - a.0) * (x - b.0) / ((c.0 - a.0) * (c.0 - b.0))
            - ly
    };
    let (mut lo, mut hi) = (a.0, b.0);
    let (f_lo, f_hi) = (poly(lo), poly(hi));
    if !(f_lo.is_finite() && f_hi.is_finite()) || f_lo * f_hi > 0.0 {
        return linear();
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if (poly(mid) > 0.0) == (f_lo > 0.0) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Wavelength of the main peak, nm, with sub-pixel precision. See the module doc.
pub fn peak_wavelength(spectrum: &Spectrum) -> ProxyResult<Measured> {
    peak_wavelength_with(spectrum, &ProxyOptions::default())
}

pub fn peak_wavelength_with(spectrum: &Spectrum, options: &ProxyOptions) -> ProxyResult<Measured> {
    Measured::new(
        analyze_peak(spectrum, options)?.peak_nm,
        ProxyUnit::Nanometre,
    )
}

/// Full width at half maximum of the main peak, nm, baseline-corrected.
pub fn fwhm(spectrum: &Spectrum) -> ProxyResult<Measured> {
    fwhm_with(spectrum, &ProxyOptions::default())
}

pub fn fwhm_with(spectrum: &Spectrum, options: &ProxyOptions) -> ProxyResult<Measured> {
    Measured::new(
        analyze_peak(spectrum, options)?.fwhm_nm(),
        ProxyUnit::Nanometre,
    )
}

/// Area under the baseline-corrected spectrum between `range` (nm, inclusive; the whole grid
/// when `None`), by the trapezoid rule with the ends interpolated. Unit: counts·nm for counts
/// and intensity spectra, AU·nm for absorbance.
pub fn integrated_area(spectrum: &Spectrum, range: Option<(f64, f64)>) -> ProxyResult<Measured> {
    integrated_area_with(spectrum, range, Baseline::default())
}

pub fn integrated_area_with(
    spectrum: &Spectrum,
    range: Option<(f64, f64)>,
    baseline_method: Baseline,
) -> ProxyResult<Measured> {
    check_finite(spectrum)?;
    if spectrum.saturated {
        return Err(ProxyError::Saturated);
    }
    let x = spectrum.wavelength_nm();
    let (first, last) = match (x.first(), x.last()) {
        (Some(a), Some(b)) => (*a, *b),
        _ => return Err(ProxyError::no_peak("empty spectrum")),
    };
    let (lo, hi) = range.unwrap_or((first, last));
    if !(lo.is_finite() && hi.is_finite()) || lo >= hi {
        return Err(ProxyError::InvalidArgument(format!(
            "the integration range {lo} nm .. {hi} nm is empty or reversed"
        )));
    }
    for w in [lo, hi] {
        if w < first || w > last {
            return Err(ProxyError::OutOfRange { wavelength: w });
        }
    }
    // The area reads the pixels of the range and the baseline's end points.
    let n = spectrum.len();
    let ends = baseline_end_points(n, baseline_method);
    if ends > 0 {
        spectrum.check_not_clipped(0, ends - 1)?;
        spectrum.check_not_clipped(n.saturating_sub(ends), n)?;
    }
    spectrum.check_not_clipped(
        x.partition_point(|w| *w < lo).saturating_sub(1),
        x.partition_point(|w| *w <= hi),
    )?;
    let base = baseline(x, spectrum.values(), baseline_method);
    let y: Vec<f64> = spectrum
        .values()
        .iter()
        .zip(&base)
        .map(|(v, b)| v - b)
        .collect();
    let y_lo = interpolate(x, &y, lo).ok_or(ProxyError::OutOfRange { wavelength: lo })?;
    let y_hi = interpolate(x, &y, hi).ok_or(ProxyError::OutOfRange { wavelength: hi })?;
    let mut pts: Vec<(f64, f64)> = vec![(lo, y_lo)];
    pts.extend(
        x.iter()
            .zip(&y)
            .filter(|(w, _)| **w > lo && **w < hi)
            .map(|(w, v)| (*w, *v)),
    );
    pts.push((hi, y_hi));
    let area: f64 = pts
        .windows(2)
        .map(|p| match p {
            [(x0, y0), (x1, y1)] => 0.5 * (y0 + y1) * (x1 - x0),
            _ => 0.0,
        })
        .sum();
    let unit = match spectrum.quantity() {
        SpectrumQuantity::Absorbance => ProxyUnit::AbsorbanceNanometre,
        // `std.spectra` passes only optical spectra here (`qdx check`); a SAXS or CD
        // spectrum's area would be counts-like too.
        SpectrumQuantity::Counts
        | SpectrumQuantity::Intensity
        | SpectrumQuantity::Scattering
        | SpectrumQuantity::Ellipticity => ProxyUnit::CountsNanometre,
    };
    Measured::new(area, unit)
}
