//! Savitzky–Golay smoothing and differentiation.
//!
//! A Savitzky–Golay filter fits a polynomial of degree `order` by least squares to each window of
//! `window` consecutive points and evaluates it (or its derivative) at the point. Unlike a moving
//! average it keeps a peak's position and, up to its order, its moments, so a quadratic filter
//! with a window narrower than about half the peak's width barely changes the FWHM.
//!
//! Invariants: `window` is odd and larger than `order`; the coefficient table holds one row per
//! position inside the window, so points near the ends are fitted with a shifted window instead
//! of padding with made-up values. The grid is taken as uniform (spectrometer grids are close to
//! uniform over a window); derivatives are scaled by the mean spacing.

use crate::error::{ProxyError, ProxyResult};

/// A precomputed Savitzky–Golay filter.
#[derive(Debug, Clone, PartialEq)]
pub struct SavitzkyGolay {
    window: usize,
    derivative: usize,
    /// `coefficients[k][j]`: weight of window point `j` when evaluating at window position `k`.
    coefficients: Vec<Vec<f64>>,
}

impl SavitzkyGolay {
    /// Largest window accepted: wider windows gain nothing on spectra and cost time.
    pub const MAX_WINDOW: usize = 201;
    /// Largest polynomial order accepted: higher orders are numerically fragile.
    pub const MAX_ORDER: usize = 5;

    /// Builds a filter evaluating the `derivative`-th derivative (0 = smoothing).
    pub fn new(window: usize, order: usize, derivative: usize) -> ProxyResult<Self> {
        if window.is_multiple_of(2) || window <= order || window > Self::MAX_WINDOW {
            return Err(ProxyError::InvalidArgument(format!(
                "a Savitzky-Golay window must be odd, larger than the order and at most {}, got {window}",
                Self::MAX_WINDOW
            )));
        }
        if order > Self::MAX_ORDER || derivative > order {
            return Err(ProxyError::InvalidArgument(format!(
                "Savitzky-Golay order {order} with derivative {derivative} is not supported"
            )));
        }
        let half = (window / 2) as f64;
        let terms = order + 1;
        // Normal equations (AᵀA) X = Aᵀ with A[j][q] = ((j - half)/half)^q; scaling the
        // offsets to [-1, 1] keeps the system well conditioned for wide windows.
        let scale = if half > 0.0 { half } else { 1.0 };
        let offsets: Vec<f64> = (0..window).map(|j| (j as f64 - half) / scale).collect();
        let mut ata = vec![vec![0.0; terms]; terms];
        for (q, row) in ata.iter_mut().enumerate() {
            for (r, cell) in row.iter_mut().enumerate() {
                *cell = offsets.iter().map(|x| x.powi((q + r) as i32)).sum();
            }
        }
        let mut rhs: Vec<Vec<f64>> = (0..terms)
            .map(|q| offsets.iter().map(|x| x.powi(q as i32)).collect())
            .collect();
        solve_in_place(&mut ata, &mut rhs)?;
        // rhs[q][j] now maps window values to polynomial coefficient q.
        let mut coefficients = vec![vec![0.0; window]; window];
        for (k, row) in coefficients.iter_mut().enumerate() {
            let x = offsets.get(k).copied().unwrap_or(0.0);
            for q in derivative..terms {
                // d^derivative/dx^derivative of x^q, in the scaled offset coordinate.
                let falling: f64 = ((q - derivative + 1)..=q).map(|v| v as f64).product();
                let basis = falling * x.powi((q - derivative) as i32);
                if let Some(weights) = rhs.get(q) {
                    for (cell, w) in row.iter_mut().zip(weights) {
                        *cell += basis * w;
                    }
                }
            }
            // Convert the derivative from scaled offsets back to pixel offsets.
            let factor = scale.powi(derivative as i32);
            for cell in row.iter_mut() {
                *cell /= factor;
            }
        }
        Ok(Self {
            window,
            derivative,
            coefficients,
        })
    }

    pub fn window(&self) -> usize {
        self.window
    }

    /// How much the filter amplifies white noise at the centre of the window: the root sum of
    /// squares of the centre row, scaled like [`SavitzkyGolay::apply`] for grid `spacing`.
    pub fn noise_gain(&self, spacing: f64) -> f64 {
        let row = self.coefficients.get(self.window / 2);
        let norm = row.map_or(0.0, |r| r.iter().map(|c| c * c).sum::<f64>().sqrt());
        if self.derivative > 0 && spacing > 0.0 {
            norm / spacing.powi(self.derivative as i32)
        } else {
            norm
        }
    }

    /// Filters `values` sampled with mean grid `spacing` (used only for derivatives).
    /// Returns the input unchanged when it is shorter than the window.
    pub fn apply(&self, values: &[f64], spacing: f64) -> Vec<f64> {
        let n = values.len();
        if n < self.window {
            return values.to_vec();
        }
        let half = self.window / 2;
        let scale = if self.derivative > 0 && spacing > 0.0 {
            spacing.powi(self.derivative as i32)
        } else {
            1.0
        };
        (0..n)
            .map(|i| {
                let start = i.saturating_sub(half).min(n - self.window);
                let k = i - start;
                let Some(weights) = self.coefficients.get(k) else {
                    return 0.0;
                };
                let window = values.get(start..start + self.window).unwrap_or(&[]);
                weights.iter().zip(window).map(|(w, v)| w * v).sum::<f64>() / scale
            })
            .collect()
    }
}

/// Solves `a · x = b` for several right-hand sides (the rows of `b` are the unknown's rows) by
/// Gaussian elimination with partial pivoting. On return `b` holds the solution.
fn solve_in_place(a: &mut [Vec<f64>], b: &mut [Vec<f64>]) -> ProxyResult<()> {
    let n = a.len();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| {
                let vi = a.get(i).and_then(|r| r.get(col)).map_or(0.0, |v| v.abs());
                let vj = a.get(j).and_then(|r| r.get(col)).map_or(0.0, |v| v.abs());
                vi.total_cmp(&vj)
            })
            .unwrap_or(col);
        a.swap(col, pivot);
        b.swap(col, pivot);
        let diag = a.get(col).and_then(|r| r.get(col)).copied().unwrap_or(0.0);
        if diag.abs() < 1e-300 {
            return Err(ProxyError::InvalidArgument(
                "singular Savitzky-Golay system".into(),
            ));
        }
        let pivot_row = a.get(col).cloned().unwrap_or_default();
        let pivot_rhs = b.get(col).cloned().unwrap_or_default();
        for row in 0..n {
            if row == col {
                continue;
            }
            let factor = a.get(row).and_then(|r| r.get(col)).copied().unwrap_or(0.0) / diag;
            if factor == 0.0 {
                continue;
            }
            if let Some(r) = a.get_mut(row) {
                for (cell, p) in r.iter_mut().zip(&pivot_row) {
                    *cell -= factor * p;
                }
            }
            if let Some(r) = b.get_mut(row) {
                for (cell, p) in r.iter_mut().zip(&pivot_rhs) {
                    *cell -= factor * p;
                }
            }
        }
    }
    // After Gauss-Jordan elimination each row of `a` keeps only its diagonal entry.
    for (i, (row, a_row)) in b.iter_mut().zip(a.iter()).enumerate() {
        let diag = a_row.get(i).copied().unwrap_or(1.0);
        for cell in row.iter_mut() {
            *cell /= diag;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_keeps_a_quadratic_exactly() {
        let sg = SavitzkyGolay::new(7, 2, 0).unwrap();
        let y: Vec<f64> = (0..20)
            .map(|i| 3.0 + 0.5 * i as f64 - 0.1 * (i * i) as f64)
            .collect();
        for (a, b) in sg.apply(&y, 1.0).iter().zip(&y) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }

    #[test]
    fn second_derivative_of_a_quadratic_is_constant() {
        let sg = SavitzkyGolay::new(9, 3, 2).unwrap();
        let h = 0.5;
        let y: Vec<f64> = (0..30).map(|i| 2.0 * (i as f64 * h).powi(2)).collect();
        for d in sg.apply(&y, h) {
            assert!((d - 4.0).abs() < 1e-8, "{d}");
        }
    }

    #[test]
    fn first_derivative_of_a_line_is_its_slope() {
        let sg = SavitzkyGolay::new(5, 2, 1).unwrap();
        let y: Vec<f64> = (0..10).map(|i| 1.0 + 3.0 * i as f64 * 0.25).collect();
        for d in sg.apply(&y, 0.25) {
            assert!((d - 3.0).abs() < 1e-9, "{d}");
        }
    }

    #[test]
    fn bad_windows_are_refused() {
        assert!(SavitzkyGolay::new(4, 2, 0).is_err());
        assert!(SavitzkyGolay::new(3, 3, 0).is_err());
        assert!(SavitzkyGolay::new(7, 2, 3).is_err());
        assert!(SavitzkyGolay::new(203, 2, 0).is_err());
    }

    #[test]
    fn short_input_is_returned_unchanged() {
        let sg = SavitzkyGolay::new(7, 2, 0).unwrap();
        assert_eq!(sg.apply(&[1.0, 2.0], 1.0), vec![1.0, 2.0]);
    }
}
