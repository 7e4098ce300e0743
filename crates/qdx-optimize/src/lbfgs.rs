//! A small box-constrained quasi-Newton minimiser (projected L-BFGS with Armijo backtracking).
//!
//! Used for GP hyperparameters (in log space) and for maximising acquisition functions over the
//! unit cube. The objective may return `None` (e.g. a Cholesky failure or an infeasible point):
//! the line search then halves the step, so iterates never leave the region where the objective
//! is defined once the start point is inside it. A trial with a value too high shortens the step
//! by quadratic interpolation instead (`shrink`).
//!
//! Invariant: the returned point lies inside `[lo, hi]` and its value is never worse than the
//! start's.

/// Result of a minimisation.
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    pub x: Vec<f64>,
    pub value: f64,
}

fn project(x: &mut [f64], lo: &[f64], hi: &[f64]) {
    for ((xi, l), h) in x.iter_mut().zip(lo).zip(hi) {
        *xi = xi.clamp(*l, *h);
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The factor a rejected step's length is multiplied by: the minimiser of the quadratic through
/// the start's value, its slope along the step (`decrease` = gᵀ·step) and the trial's value,
/// kept within [0.1, 0.5] (safeguarded interpolation, Nocedal & Wright, *Numerical
/// Optimization*, 2nd ed., §3.5). The first step (a tenth of the box) from a warm start near a
/// GP's optimal hyperparameters is far too long: halving took four or five evaluations, each
/// a Cholesky factor and an inverse, where the quadratic lands near in one or two.
fn shrink(f0: f64, f1: f64, decrease: f64) -> f64 {
    let curvature = f1 - f0 - decrease;
    if decrease < 0.0 && curvature > 0.0 {
        (-decrease / (2.0 * curvature)).clamp(0.1, 0.5)
    } else {
        0.5
    }
}

/// Minimises `f` (value and gradient) from `x0` inside `[lo, hi]`, stopping when an iteration
/// changes the value by less than 1e-10 relative.
pub(crate) fn minimize<F>(
    f: F,
    x0: &[f64],
    lo: &[f64],
    hi: &[f64],
    max_iter: usize,
    memory: usize,
) -> Option<Minimum>
where
    F: FnMut(&[f64]) -> Option<(f64, Vec<f64>)>,
{
    minimize_tol(f, x0, lo, hi, max_iter, memory, 1e-10)
}

/// [`minimize`] with a relative stopping tolerance `rel_tol` on the change of the value.
pub(crate) fn minimize_tol<F>(
    mut f: F,
    x0: &[f64],
    lo: &[f64],
    hi: &[f64],
    max_iter: usize,
    memory: usize,
    rel_tol: f64,
) -> Option<Minimum>
where
    F: FnMut(&[f64]) -> Option<(f64, Vec<f64>)>,
{
    let n = x0.len();
    let mut x = x0.to_vec();
    project(&mut x, lo, hi);
    let (mut fx, mut g) = f(&x)?;
    if !fx.is_finite() || g.len() != n {
        return None;
    }
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    for _ in 0..max_iter {
        // Variables held at a bound by a gradient pushing outward are frozen this iteration.
        let free: Vec<bool> = (0..n)
            .map(|i| {
                let at_lo = x[i] <= lo[i] && g[i] > 0.0;
                let at_hi = x[i] >= hi[i] && g[i] < 0.0;
                !(at_lo || at_hi) && hi[i] > lo[i]
            })
            .collect();
        let pg: Vec<f64> = g
            .iter()
            .zip(&free)
            .map(|(gi, &fr)| if fr { *gi } else { 0.0 })
            .collect();
        if pg.iter().map(|v| v.abs()).fold(0.0, f64::max) < 1e-9 {
            break;
        }
        // Two-loop recursion on the free subspace.
        let mut q = pg.clone();
        let k = s_hist.len();
        let mut alphas = vec![0.0; k];
        for j in (0..k).rev() {
            let rho = 1.0 / dot(&y_hist[j], &s_hist[j]);
            alphas[j] = rho * dot(&s_hist[j], &q);
            for (qi, yi) in q.iter_mut().zip(&y_hist[j]) {
                *qi -= alphas[j] * yi;
            }
        }
        if let (Some(s), Some(y)) = (s_hist.last(), y_hist.last()) {
            let gamma = dot(s, y) / dot(y, y).max(1e-300);
            for qi in &mut q {
                *qi *= gamma;
            }
        } else {
            // First step: move at most ~10 % of the box along the steepest descent.
            let gmax = pg.iter().map(|v| v.abs()).fold(0.0, f64::max).max(1e-300);
            let width = (0..n)
                .filter(|&i| free[i])
                .map(|i| hi[i] - lo[i])
                .fold(0.0, f64::max);
            let scale = if width.is_finite() && width > 0.0 {
                0.1 * width / gmax
            } else {
                1.0 / gmax
            };
            for qi in &mut q {
                *qi *= scale;
            }
        }
        for j in 0..k {
            let rho = 1.0 / dot(&y_hist[j], &s_hist[j]);
            let beta = rho * dot(&y_hist[j], &q);
            for (qi, si) in q.iter_mut().zip(&s_hist[j]) {
                *qi += (alphas[j] - beta) * si;
            }
        }
        let mut d: Vec<f64> = q
            .iter()
            .zip(&free)
            .map(|(qi, &fr)| if fr { -qi } else { 0.0 })
            .collect();
        if dot(&d, &pg) >= 0.0 {
            // Not a descent direction: forget the curvature pairs.
            s_hist.clear();
            y_hist.clear();
            let gmax = pg.iter().map(|v| v.abs()).fold(0.0, f64::max).max(1e-300);
            d = pg.iter().map(|v| -v * 0.1 / gmax).collect();
        }
        // Backtracking along the projected path.
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let mut xn: Vec<f64> = x.iter().zip(&d).map(|(xi, di)| xi + t * di).collect();
            project(&mut xn, lo, hi);
            let step: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
            let decrease = dot(&g, &step);
            if step.iter().all(|s| *s == 0.0) {
                break;
            }
            let trial = f(&xn).filter(|(v, gn)| v.is_finite() && gn.len() == n);
            if let Some((fnew, gnew)) = trial {
                if fnew <= fx + 1e-4 * decrease.min(0.0) {
                    accepted = Some((xn, fnew, gnew, step));
                    break;
                }
                t *= shrink(fx, fnew, decrease);
            } else {
                t *= 0.5;
            }
        }
        let Some((xn, fnew, gnew, step)) = accepted else {
            break;
        };
        let yv: Vec<f64> = gnew.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&step, &yv);
        if sy > 1e-12 * dot(&yv, &yv).sqrt() * dot(&step, &step).sqrt() && sy > 0.0 {
            s_hist.push(step);
            y_hist.push(yv);
            if s_hist.len() > memory {
                s_hist.remove(0);
                y_hist.remove(0);
            }
        }
        let rel = (fx - fnew).abs() / fx.abs().max(fnew.abs()).max(1.0);
        x = xn;
        fx = fnew;
        g = gnew;
        if rel < rel_tol {
            break;
        }
    }
    Some(Minimum { x, value: fx })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenbrock_unconstrained_box() {
        let f = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            let v = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let g = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            Some((v, g))
        };
        let m = minimize(f, &[-1.2, 1.0], &[-5.0, -5.0], &[5.0, 5.0], 500, 8).unwrap();
        assert!(
            (m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4,
            "{:?}",
            m.x
        );
    }

    #[test]
    fn active_bound() {
        // min (x-2)^2 + (y+1)^2 on [0,1]^2 → (1, 0).
        let f = |x: &[f64]| {
            Some((
                (x[0] - 2.0).powi(2) + (x[1] + 1.0).powi(2),
                vec![2.0 * (x[0] - 2.0), 2.0 * (x[1] + 1.0)],
            ))
        };
        let m = minimize(f, &[0.5, 0.5], &[0.0, 0.0], &[1.0, 1.0], 100, 5).unwrap();
        assert_eq!(m.x, vec![1.0, 0.0]);
        assert!((m.value - 2.0).abs() < 1e-12);
    }

    #[test]
    fn undefined_region_is_avoided() {
        // Defined only for x < 0.7; the minimum of (x-1)^2 there is approached from below.
        let f = |x: &[f64]| (x[0] < 0.7).then(|| ((x[0] - 1.0).powi(2), vec![2.0 * (x[0] - 1.0)]));
        let m = minimize(f, &[0.0], &[0.0], &[1.0], 100, 5).unwrap();
        assert!(m.x[0] < 0.7 && m.x[0] > 0.6, "{:?}", m.x);
    }
}
