//! Processing steps that turn raw spectra into the spectra proxies work on: dark subtraction,
//! absorbance, baseline estimation, noise estimation and interpolation.
//!
//! Invariants: every function checks that its inputs are finite and share a grid where they
//! must, and returns a [`ProxyError`] instead of producing NaN. Absorbance is clipped to
//! `±max_absorbance`, so a pixel with no transmitted light reads as the clip value, not infinity.

use crate::error::{ProxyError, ProxyResult};
use crate::{Spectrum, SpectrumQuantity};

/// Checks that every value of the spectrum is finite.
pub fn check_finite(spectrum: &Spectrum) -> ProxyResult<()> {
    match spectrum.values().iter().position(|v| !v.is_finite()) {
        Some(index) => Err(ProxyError::NotFinite { index }),
        None => Ok(()),
    }
}

fn check_same_grid(a: &Spectrum, b: &Spectrum) -> ProxyResult<()> {
    let same = a.len() == b.len()
        && a.wavelength_nm()
            .iter()
            .zip(b.wavelength_nm())
            .all(|(x, y)| (x - y).abs() <= 1e-9 * x.abs().max(1.0));
    if same {
        Ok(())
    } else {
        Err(ProxyError::GridMismatch)
    }
}

fn check_quantity(s: &Spectrum, expected: SpectrumQuantity) -> ProxyResult<()> {
    if s.quantity() == expected {
        Ok(())
    } else {
        Err(ProxyError::WrongQuantity {
            expected,
            found: s.quantity(),
        })
    }
}

/// `raw − dark`, pixel by pixel: the emission intensity used for photoluminescence.
/// Both must be raw counts on the same grid; the result keeps the raw spectrum's acquisition
/// settings and is saturated if either input was.
pub fn subtract_dark(raw: &Spectrum, dark: &Spectrum) -> ProxyResult<Spectrum> {
    check_quantity(raw, SpectrumQuantity::Counts)?;
    check_quantity(dark, SpectrumQuantity::Counts)?;
    check_same_grid(raw, dark)?;
    check_finite(raw)?;
    check_finite(dark)?;
    let values = raw
        .values()
        .iter()
        .zip(dark.values())
        .map(|(r, d)| r - d)
        .collect();
    let mut out = Spectrum::new(
        raw.wavelength_nm().to_vec(),
        values,
        SpectrumQuantity::Intensity,
    )
    .map_err(|e| ProxyError::InvalidArgument(e.to_string()))?;
    out.integration_time_s = raw.integration_time_s;
    out.averages = raw.averages;
    out.saturated = raw.saturated || dark.saturated;
    Ok(out)
}

/// Options for [`absorbance`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AbsorbanceOptions {
    /// Absorbance is clipped to `[-max_absorbance, max_absorbance]`. Past about 3 the
    /// transmitted light is lost in the noise (physics.md B4), so larger values mean nothing.
    pub max_absorbance: f64,
}

impl Default for AbsorbanceOptions {
    fn default() -> Self {
        Self {
            max_absorbance: 3.0,
        }
    }
}

/// Decadic absorbance `A = −log10((S − D)/(R − D))` from a sample, a reference (solvent in the
/// cell) and a dark spectrum, all raw counts on one grid.
///
/// Where the transmitted light `S − D` is zero or negative the sample let no measurable light
/// through, and `A` is set to `+max_absorbance`. Where the reference light `R − D` is zero or
/// negative there is no lamp light to compare with, and `A` is also set to `+max_absorbance`
/// (such pixels are outside the lamp's band). Every pixel at `±max_absorbance` is marked
/// [`Spectrum::clipped`]: its value is a limit, not a measurement, and proxies that need it
/// fail instead of reading it.
pub fn absorbance(
    sample: &Spectrum,
    reference: &Spectrum,
    dark: &Spectrum,
    options: AbsorbanceOptions,
) -> ProxyResult<Spectrum> {
    for s in [sample, reference, dark] {
        check_quantity(s, SpectrumQuantity::Counts)?;
        check_finite(s)?;
    }
    check_same_grid(sample, reference)?;
    check_same_grid(sample, dark)?;
    let clip = if options.max_absorbance.is_finite() && options.max_absorbance > 0.0 {
        options.max_absorbance
    } else {
        return Err(ProxyError::InvalidArgument(
            "max_absorbance must be positive and finite".into(),
        ));
    };
    let mut clipped = Vec::new();
    let values = sample
        .values()
        .iter()
        .zip(reference.values())
        .zip(dark.values())
        .enumerate()
        .map(|(i, ((s, r), d))| {
            let (t_num, t_den) = (s - d, r - d);
            let a = if t_num <= 0.0 || t_den <= 0.0 {
                clip
            } else {
                (-(t_num / t_den).log10()).clamp(-clip, clip)
            };
            if a.abs() >= clip {
                clipped.push(i);
            }
            a
        })
        .collect();
    let mut out = Spectrum::new(
        sample.wavelength_nm().to_vec(),
        values,
        SpectrumQuantity::Absorbance,
    )
    .map_err(|e| ProxyError::InvalidArgument(e.to_string()))?
    .with_clipped(clipped);
    out.integration_time_s = sample.integration_time_s;
    out.averages = sample.averages.min(reference.averages);
    out.saturated = sample.saturated || reference.saturated || dark.saturated;
    Ok(out)
}

/// How proxies estimate the baseline under a feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Baseline {
    /// No baseline: values are taken as they are (right for dark-subtracted PL whose tails
    /// reach the ends of the grid, e.g. a broad Lorentzian).
    None,
    /// A straight line through the medians of the first and last `fraction` of the points
    /// (at least 3 points each). Robust to noise and spikes; it assumes the spectrum has
    /// returned to its baseline at both ends. A tail still at a level `h` (relative to the
    /// peak) at the ends biases the FWHM by about `2·h·HWHM` for a Lorentzian.
    LinearEnds { fraction: f64 },
}

impl Default for Baseline {
    fn default() -> Self {
        Self::LinearEnds { fraction: 0.05 }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values.get(n / 2).copied().unwrap_or(0.0),
        _ => {
            let a = values.get(n / 2 - 1).copied().unwrap_or(0.0);
            let b = values.get(n / 2).copied().unwrap_or(0.0);
            0.5 * (a + b)
        }
    }
}

/// How many points at each end of `n` the baseline `method` reads (0 for none).
pub fn baseline_end_points(n: usize, method: Baseline) -> usize {
    match method {
        Baseline::None => 0,
        Baseline::LinearEnds { fraction } => {
            let fraction = if fraction.is_finite() {
                fraction.clamp(0.0, 0.5)
            } else {
                0.05
            };
            ((n as f64 * fraction).round() as usize).max(3).min(n / 2)
        }
    }
}

/// The baseline under each point of `values` on grid `wavelength`, by `method`.
pub fn baseline(wavelength: &[f64], values: &[f64], method: Baseline) -> Vec<f64> {
    let n = values.len().min(wavelength.len());
    match method {
        Baseline::None => vec![0.0; n],
        Baseline::LinearEnds { .. } => {
            let k = baseline_end_points(n, method);
            if k == 0 {
                return vec![0.0; n];
            }
            let (mut lv, mut lw) = (
                values.get(..k).unwrap_or(&[]).to_vec(),
                wavelength.get(..k).unwrap_or(&[]).to_vec(),
            );
            let (mut rv, mut rw) = (
                values.get(n - k..n).unwrap_or(&[]).to_vec(),
                wavelength.get(n - k..n).unwrap_or(&[]).to_vec(),
            );
            let (y0, x0, y1, x1) = (
                median(&mut lv),
                median(&mut lw),
                median(&mut rv),
                median(&mut rw),
            );
            let slope = if x1 > x0 { (y1 - y0) / (x1 - x0) } else { 0.0 };
            wavelength
                .iter()
                .take(n)
                .map(|x| y0 + slope * (x - x0))
                .collect()
        }
    }
}

/// The standard deviation of white noise on `values`, from the median absolute second
/// difference (robust to peaks: only the few points where the signal curves strongly count).
/// For white noise of deviation σ the second difference has deviation √6·σ.
pub fn noise_sigma(values: &[f64]) -> f64 {
    let mut d2: Vec<f64> = values
        .windows(3)
        .filter_map(|w| match w {
            [a, b, c] => Some((a - 2.0 * b + c).abs()),
            _ => None,
        })
        .collect();
    if d2.is_empty() {
        return 0.0;
    }
    1.4826 * median(&mut d2) / 6.0_f64.sqrt()
}

/// Mean grid spacing in nm.
pub fn mean_spacing(wavelength: &[f64]) -> f64 {
    match (wavelength.first(), wavelength.last()) {
        (Some(a), Some(b)) if wavelength.len() > 1 => (b - a) / (wavelength.len() - 1) as f64,
        _ => 0.0,
    }
}

/// Linear interpolation of `values` at `x` on the increasing grid `grid`; `None` outside it.
pub fn interpolate(grid: &[f64], values: &[f64], x: f64) -> Option<f64> {
    let (first, last) = (*grid.first()?, *grid.last()?);
    if !(x >= first && x <= last) {
        return None;
    }
    let upper = grid.partition_point(|g| *g < x);
    if upper == 0 {
        return values.first().copied();
    }
    let (x0, x1) = (*grid.get(upper - 1)?, *grid.get(upper)?);
    let (y0, y1) = (*values.get(upper - 1)?, *values.get(upper)?);
    let t = if x1 > x0 { (x - x0) / (x1 - x0) } else { 0.0 };
    Some(y0 + t * (y1 - y0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn counts(values: Vec<f64>) -> Spectrum {
        let grid = (0..values.len()).map(|i| 400.0 + i as f64).collect();
        Spectrum::new(grid, values, SpectrumQuantity::Counts).unwrap()
    }

    #[test]
    fn absorbance_of_a_tenth_transmission_is_one() {
        let a = absorbance(
            &counts(vec![110.0, 1010.0, 100.0]),
            &counts(vec![1100.0, 1100.0, 1100.0]),
            &counts(vec![100.0, 100.0, 100.0]),
            AbsorbanceOptions::default(),
        )
        .unwrap();
        assert!((a.values()[0] - 2.0).abs() < 1e-12);
        assert!((a.values()[1] - (-(0.91_f64).log10())).abs() < 1e-12);
        // No transmitted light: clipped, not infinite, and marked as such.
        assert_eq!(a.values()[2], 3.0);
        assert_eq!(a.clipped(), &[2]);
    }

    #[test]
    fn absorbance_past_the_limit_is_marked_clipped() {
        // 1e-4 transmission reads 4 AU, 2000 reads -3.3 AU: clamped and marked; 1e-2 is a
        // measurement.
        let a = absorbance(
            &counts(vec![100.1, 110.0, 2e6 + 100.0]),
            &counts(vec![1100.0, 1100.0, 1100.0]),
            &counts(vec![100.0, 100.0, 100.0]),
            AbsorbanceOptions::default(),
        )
        .unwrap();
        assert_eq!(a.values()[0], 3.0);
        assert_eq!(a.values()[2], -3.0);
        assert_eq!(a.clipped(), &[0, 2]);
    }

    #[test]
    fn absorbance_without_reference_light_is_clipped() {
        let a = absorbance(
            &counts(vec![100.0, 100.0, 100.0]),
            &counts(vec![100.0, 90.0, 100.0]),
            &counts(vec![100.0, 100.0, 100.0]),
            AbsorbanceOptions::default(),
        )
        .unwrap();
        assert!(a.values().iter().all(|v| *v == 3.0));
        assert_eq!(a.clipped(), &[0, 1, 2]);
    }

    #[test]
    fn dark_subtraction_needs_the_same_grid() {
        let dark =
            Spectrum::new(vec![1.0, 2.0, 3.0], vec![0.0; 3], SpectrumQuantity::Counts).unwrap();
        assert_eq!(
            subtract_dark(&counts(vec![1.0; 3]), &dark),
            Err(ProxyError::GridMismatch)
        );
    }

    #[test]
    fn linear_baseline_recovers_a_line() {
        let x: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let y: Vec<f64> = x.iter().map(|x| 5.0 + 0.2 * x).collect();
        let b = baseline(&x, &y, Baseline::default());
        for (a, b) in y.iter().zip(&b) {
            assert!((a - b).abs() < 1e-9);
        }
    }

    #[test]
    fn interpolation_inside_and_outside() {
        let g = [1.0, 2.0, 4.0];
        let v = [0.0, 1.0, 3.0];
        assert_eq!(interpolate(&g, &v, 3.0), Some(2.0));
        assert_eq!(interpolate(&g, &v, 1.0), Some(0.0));
        assert_eq!(interpolate(&g, &v, 4.0), Some(3.0));
        assert_eq!(interpolate(&g, &v, 4.5), None);
        assert_eq!(interpolate(&g, &v, f64::NAN), None);
    }
}
