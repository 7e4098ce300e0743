//! Dense symmetric positive-definite kernels for the GP: Cholesky factor, inverse, solves.
//!
//! Row-major `n × n` slices. The loops are written as contiguous dot products so that the
//! compiler vectorises them; at the sizes of a campaign (n ≤ a few hundred) this is several times
//! faster than a general-purpose solve and is the bulk of a suggestion's cost.
//!
//! Invariant: `cholesky` returns `None` (never panics) when the matrix is not numerically positive
//! definite, and only then.

// Always inlined: the Cholesky factor and the inverse call it O(n²) times on rows of a few
// dozen entries, where a call costs as much as the products (left to the compiler's choice it
// was outlined once `gp` called it too, and a suggestion at n = 100 took 30 % longer).
#[inline(always)]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    // Four accumulators let the compiler keep several FMAs in flight; exact chunks spare the
    // bounds checks.
    let mut s = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        s[0] += x[0] * y[0];
        s[1] += x[1] * y[1];
        s[2] += x[2] * y[2];
        s[3] += x[3] * y[3];
    }
    let mut total = (s[0] + s[1]) + (s[2] + s[3]);
    for (x, y) in ra.iter().zip(rb) {
        total += x * y;
    }
    total
}

/// Lower Cholesky factor `L` (row-major, upper part zero) of the SPD matrix `a`.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    if a.len() != n * n {
        return None;
    }
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let row_j: Vec<f64> = l[j * n..j * n + j].to_vec();
        let s = a[j * n + j] - dot(&row_j, &row_j);
        if !(s > 0.0 && s.is_finite()) {
            return None;
        }
        let djj = s.sqrt();
        l[j * n + j] = djj;
        for i in (j + 1)..n {
            let v = (a[i * n + j] - dot(&l[i * n..i * n + j], &row_j)) / djj;
            l[i * n + j] = v;
        }
    }
    Some(l)
}

/// `ln det A = 2 Σ ln L_ii`.
pub(crate) fn log_det(l: &[f64], n: usize) -> f64 {
    2.0 * (0..n).map(|i| l[i * n + i].ln()).sum::<f64>()
}

/// Solves `L Lᵀ x = b`.
pub(crate) fn solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let z = forward(l, n, b);
    // Back substitution with Lᵀ: x_i = (z_i − Σ_{k>i} L_ki x_k) / L_ii.
    let mut x = z;
    for i in (0..n).rev() {
        let mut s = x[i];
        for k in (i + 1)..n {
            s -= l[k * n + i] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    x
}

/// `Xᵀ` for `X = L⁻¹` (row-major): row `j` is column `j` of `X`, zero before index `j`.
pub(crate) fn lower_inverse_t(l: &[f64], n: usize) -> Vec<f64> {
    let mut xt = vec![0.0; n * n];
    let mut col = vec![0.0; n];
    for j in 0..n {
        for v in col.iter_mut() {
            *v = 0.0;
        }
        for i in j..n {
            let delta = if i == j { 1.0 } else { 0.0 };
            col[i] = (delta - dot(&l[i * n + j..i * n + i], &col[j..i])) / l[i * n + i];
        }
        xt[j * n..(j + 1) * n].copy_from_slice(&col);
    }
    xt
}

/// Solves `L z = b` (forward substitution).
pub(crate) fn forward(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; n];
    for i in 0..n {
        z[i] = (b[i] - dot(&l[i * n..i * n + i], &z[..i])) / l[i * n + i];
    }
    z
}

/// `A⁻¹` (row-major, symmetric) from the Cholesky factor.
pub(crate) fn inverse(l: &[f64], n: usize) -> Vec<f64> {
    let xt = lower_inverse_t(l, n);
    // A⁻¹ = Xᵀ X: entry (a, b) = Σ_{k ≥ max(a,b)} X_ka X_kb.
    let mut inv = vec![0.0; n * n];
    for a in 0..n {
        for b in a..n {
            let v = dot(&xt[a * n + b..(a + 1) * n], &xt[b * n + b..(b + 1) * n]);
            inv[a * n + b] = v;
            inv[b * n + a] = v;
        }
    }
    inv
}

/// `y = A x` for a row-major square `A`.
/// `xᵀ A x` for a symmetric `A`, from its upper triangle (half the products of `A x`).
pub(crate) fn sym_quad(a: &[f64], n: usize, x: &[f64]) -> f64 {
    (0..n.min(x.len()))
        .map(|i| {
            x[i] * (a[i * n + i] * x[i] + 2.0 * dot(&a[i * n + i + 1..(i + 1) * n], &x[i + 1..]))
        })
        .sum()
}

pub(crate) fn matvec(a: &[f64], n: usize, x: &[f64]) -> Vec<f64> {
    (0..n).map(|i| dot(&a[i * n..(i + 1) * n], x)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_solve_inverse_agree() {
        let n = 7;
        // A = B Bᵀ + I is SPD.
        let b: Vec<f64> = (0..n * n)
            .map(|k| ((k * 37 % 11) as f64 - 5.0) / 7.0)
            .collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| b[i * n + k] * b[j * n + k]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let l = cholesky(&a, n).unwrap();
        for i in 0..n {
            for j in 0..n {
                let v: f64 = (0..n).map(|k| l[i * n + k] * l[j * n + k]).sum();
                assert!((v - a[i * n + j]).abs() < 1e-12);
            }
        }
        let rhs: Vec<f64> = (0..n).map(|i| i as f64 - 2.0).collect();
        let x = solve(&l, n, &rhs);
        let back = matvec(&a, n, &x);
        for (u, v) in back.iter().zip(&rhs) {
            assert!((u - v).abs() < 1e-10);
        }
        let inv = inverse(&l, n);
        let x2 = matvec(&inv, n, &rhs);
        for (u, v) in x.iter().zip(&x2) {
            assert!((u - v).abs() < 1e-10);
        }
        // The quadratic form from the upper triangle is xᵀ (A x), for odd and even lengths.
        for m in [n, 4, 1] {
            let sub: Vec<f64> = (0..m * m).map(|k| a[(k / m) * n + k % m]).collect();
            let v: Vec<f64> = rhs[..m].to_vec();
            let full: f64 = matvec(&sub, m, &v).iter().zip(&v).map(|(p, q)| p * q).sum();
            assert!((sym_quad(&sub, m, &v) - full).abs() < 1e-10 * full.abs().max(1.0));
        }
    }

    #[test]
    fn indefinite_is_rejected() {
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
        assert!(cholesky(&[f64::NAN], 1).is_none());
        assert!(cholesky(&[1.0, 0.0], 2).is_none());
    }
}
