//! Gaussian-process regression with a Matérn-5/2 ARD kernel, fitted by maximum a posteriori.
//!
//! Inputs are in model space (continuous coordinates in `[0, 1]`, categorical coordinates are
//! level indices). The kernel is `s² · M52(r)` with
//! `r² = Σ_cont (Δx_j/ℓ_j)² + Σ_cat [x_j ≠ x'_j]/ℓ_j²`, i.e. a Matérn kernel on a scaled one-hot
//! embedding of the categories, which keeps it positive definite. Hyperparameters
//! `θ = (ln ℓ_1..ln ℓ_d, ln s², ln σ²_noise, m)` are found by maximising the log marginal
//! likelihood plus log priors (normal priors on the log-parameters, dimension-scaled for the
//! lengthscales) with projected L-BFGS from several starts.
//!
//! Above [`EXACT_MAX`] observations the GP is sparse (Titsias-style inducing inputs, the DTC
//! posterior; Quiñonero-Candela & Rasmussen, JMLR 2005, §5): up to [`INDUCING`] of the
//! observations are chosen as inducing inputs ([`inducing`]: the best tenth, then
//! farthest-point coverage), the hyperparameters are fitted by the exact marginal likelihood of
//! those observations alone, and the posterior is conditioned on *every* observation through
//! them: with `V = L_m⁻¹ K_mn`, `A = I + σ⁻² V Vᵀ`, the mean is
//! `m + k_mᵀ L_m⁻ᵀ A⁻¹ V (y − m) / σ²` and the variance `s² − k_mᵀ L_m⁻ᵀ (I − A⁻¹) L_m⁻¹ k_m`,
//! which is the exact GP's formula with the inducing inputs as its basis; far from them it
//! returns to the prior rather than collapsing (DTC, not SoR). Why: the exact GP costs O(n³)
//! time and O(n²) memory per likelihood evaluation (a suggestion took 42 s at n = 1 000 on
//! Hartmann-6), and a transient campaign tells the optimizer hundreds of readings per
//! experiment, which lie close together along each ramp, so a few hundred inducing inputs
//! carry nearly all of their information; the sparse GP costs O(n m²).
//!
//! Invariants: a fitted [`Gp`] holds a successful Cholesky factor of `K + σ²I` (jitter is added
//! when needed); predictive variances are clamped to be non-negative; the GP works on the targets
//! it is given (the caller standardises them); an exact GP's basis is its observations, a sparse
//! GP's is its inducing observations, and `inputs` always returns every observation.

use rand::Rng;

use crate::error::{OptimizeError, Result};
use crate::lbfgs;
use crate::linalg;

const SQRT5: f64 = 2.236_067_977_499_79;

/// The most observations an exact GP is fitted to; above it the GP is sparse.
pub(crate) const EXACT_MAX: usize = 300;

/// The number of inducing observations of a sparse GP.
pub(crate) const INDUCING: usize = 300;

/// Normal priors (in log space) on the hyperparameters and their bounds.
#[derive(Debug, Clone)]
pub(crate) struct Prior {
    pub ls_mean: f64,
    pub ls_sd: f64,
    pub sf2_mean: f64,
    pub sf2_sd: f64,
    pub noise_mean: f64,
    pub noise_sd: f64,
    pub mean_sd: f64,
    pub ls_bounds: (f64, f64),
    pub sf2_bounds: (f64, f64),
    pub noise_bounds: (f64, f64),
}

impl Prior {
    /// Dimension-scaled lengthscale prior (longer lengthscales in more dimensions).
    pub fn for_dim(d: usize) -> Self {
        let d = d.max(1) as f64;
        Prior {
            ls_mean: 0.4f64.ln() + 0.5 * d.ln(),
            ls_sd: 1.0,
            sf2_mean: 0.0,
            sf2_sd: 1.0,
            noise_mean: -6.0,
            noise_sd: 2.0,
            mean_sd: 1.0,
            ls_bounds: (0.01f64.ln(), 30.0f64.ln()),
            sf2_bounds: (0.02f64.ln(), 50.0f64.ln()),
            noise_bounds: (1e-6f64.ln(), 1.0f64.ln()),
        }
    }

    fn bounds(&self, d: usize) -> (Vec<f64>, Vec<f64>) {
        let mut lo = vec![self.ls_bounds.0; d];
        let mut hi = vec![self.ls_bounds.1; d];
        lo.extend([self.sf2_bounds.0, self.noise_bounds.0, -3.0]);
        hi.extend([self.sf2_bounds.1, self.noise_bounds.1, 3.0]);
        (lo, hi)
    }

    fn mode(&self, d: usize) -> Vec<f64> {
        let mut t = vec![self.ls_mean; d];
        t.extend([self.sf2_mean, self.noise_mean.max(self.noise_bounds.0), 0.0]);
        t
    }

    fn sample<R: Rng>(&self, d: usize, rng: &mut R) -> Vec<f64> {
        let (lo, hi) = self.bounds(d);
        let mut t: Vec<f64> = (0..d)
            .map(|_| self.ls_mean + self.ls_sd * normal(rng))
            .collect();
        t.push(self.sf2_mean + 0.5 * self.sf2_sd * normal(rng));
        t.push(self.noise_mean + self.noise_sd * normal(rng));
        t.push(0.0);
        t.iter()
            .zip(lo.iter().zip(&hi))
            .map(|(v, (l, h))| v.clamp(*l, *h))
            .collect()
    }

    /// Negative log prior and its gradient (added in place).
    fn penalty(&self, theta: &[f64], d: usize, grad: &mut [f64]) -> f64 {
        let mut p = 0.0;
        let mut add = |i: usize, mean: f64, sd: f64, grad: &mut [f64]| {
            let z = (theta[i] - mean) / sd;
            p += 0.5 * z * z;
            grad[i] += z / sd;
        };
        for i in 0..d {
            add(i, self.ls_mean, self.ls_sd, grad);
        }
        add(d, self.sf2_mean, self.sf2_sd, grad);
        add(d + 1, self.noise_mean, self.noise_sd, grad);
        add(d + 2, 0.0, self.mean_sd, grad);
        p
    }
}

/// A standard normal draw (Box–Muller; deterministic given the generator).
pub(crate) fn normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Matérn-5/2 value and derivative with respect to `r²`, for unit signal variance.
#[inline]
fn matern52(r2: f64) -> (f64, f64) {
    let r = r2.max(0.0).sqrt();
    let e = (-SQRT5 * r).exp();
    let k = (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * e;
    let dk_dr2 = -(5.0 / 6.0) * (1.0 + SQRT5 * r) * e;
    (k, dk_dr2)
}

/// Squared per-dimension differences (categorical: mismatch indicator).
#[inline]
fn sqdiff(a: f64, b: f64, categorical: bool) -> f64 {
    if categorical {
        if (a - b).abs() > 0.5 { 1.0 } else { 0.0 }
    } else {
        (a - b) * (a - b)
    }
}

/// Training inputs with cached pairwise squared differences.
#[derive(Debug, Clone)]
struct Training {
    n: usize,
    d: usize,
    x: Vec<f64>, // row-major n × d
    categorical: Vec<bool>,
    pair_diffs: Vec<f64>, // for each pair (i < j), d values
}

impl Training {
    /// The rows alone, without the pairwise differences (a sparse GP never forms them).
    fn rows(x: &[Vec<f64>], categorical: &[bool]) -> Self {
        let d = categorical.len();
        let mut flat = Vec::with_capacity(x.len() * d);
        for row in x {
            for j in 0..d {
                flat.push(row.get(j).copied().unwrap_or(0.0));
            }
        }
        Training {
            n: x.len(),
            d,
            x: flat,
            categorical: categorical.to_vec(),
            pair_diffs: Vec::new(),
        }
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    fn new(x: &[Vec<f64>], categorical: &[bool]) -> Self {
        let Training {
            n,
            d,
            x: flat,
            categorical,
            ..
        } = Self::rows(x, categorical);
        let mut pair_diffs = Vec::with_capacity(n * n.saturating_sub(1) / 2 * d);
        for i in 0..n {
            for k in (i + 1)..n {
                for j in 0..d {
                    pair_diffs.push(sqdiff(flat[i * d + j], flat[k * d + j], categorical[j]));
                }
            }
        }
        Training {
            n,
            d,
            x: flat,
            categorical,
            pair_diffs,
        }
    }
}

/// Squared distance `Σ sqdiff · inv_ls2` between two rows.
#[inline]
fn dist2(a: &[f64], b: &[f64], categorical: &[bool], inv_ls2: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .zip(categorical)
        .zip(inv_ls2)
        .map(|(((x, y), c), il)| sqdiff(*x, *y, *c) * il)
        .sum()
}

/// Up to `m` observations of `t` that cover it, as indices: the best tenth by `y` (the region
/// the optimizer refines, where the model must be sharpest), then farthest-point traversal
/// (each next the observation farthest from those chosen, in lengthscale units `inv_ls2`),
/// skipping exact duplicates. Deterministic: ties go to the lower index.
fn inducing(t: &Training, y: &[f64], inv_ls2: &[f64], m: usize) -> Vec<usize> {
    let n = t.n;
    let m = m.min(n);
    let mut by_value: Vec<usize> = (0..n).collect();
    by_value.sort_by(|a, b| y[*b].total_cmp(&y[*a]).then(a.cmp(b)));
    let mut chosen: Vec<usize> = Vec::with_capacity(m);
    let mut nearest = vec![f64::INFINITY; n];
    let take = |i: usize, chosen: &mut Vec<usize>, nearest: &mut [f64]| {
        chosen.push(i);
        for (k, slot) in nearest.iter_mut().enumerate() {
            *slot = slot.min(dist2(t.row(i), t.row(k), &t.categorical, inv_ls2));
        }
    };
    for &i in by_value.iter().take(m.div_ceil(10)) {
        if nearest[i] > 0.0 {
            take(i, &mut chosen, &mut nearest);
        }
    }
    while chosen.len() < m {
        let (far, d) = nearest
            .iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |best, (k, d)| {
                if *d > best.1 { (k, *d) } else { best }
            });
        if d.is_nan() || d <= 0.0 {
            break;
        }
        take(far, &mut chosen, &mut nearest);
    }
    chosen
}

/// The pieces of a sparse GP's posterior (module documentation): `b = L_m⁻¹` (row-major),
/// `v` (row `i` is `vᵢ = L_m⁻¹ k_m(xᵢ)`), `a_factor` the Cholesky factor of `A`.
struct Sparse {
    b: Vec<f64>,
    v: Vec<f64>,
    a_factor: Vec<f64>,
}

impl Sparse {
    fn new(t: &Training, basis: &[usize], inv_ls2: &[f64], sf2: f64, sn2: f64) -> Option<Self> {
        let m = basis.len();
        let kern = |a: &[f64], b: &[f64]| sf2 * matern52(dist2(a, b, &t.categorical, inv_ls2)).0;
        let mut jitter = 1e-8 * sf2;
        let lm = loop {
            let mut kmm = vec![0.0; m * m];
            for (p, &i) in basis.iter().enumerate() {
                kmm[p * m + p] = sf2 + jitter;
                for (q, &j) in basis.iter().enumerate().skip(p + 1) {
                    let v = kern(t.row(i), t.row(j));
                    kmm[p * m + q] = v;
                    kmm[q * m + p] = v;
                }
            }
            if let Some(l) = linalg::cholesky(&kmm, m) {
                break l;
            }
            jitter *= 10.0;
            if jitter > 1e-2 * sf2 {
                return None;
            }
        };
        let bt = linalg::lower_inverse_t(&lm, m);
        let mut b = vec![0.0; m * m];
        for p in 0..m {
            for q in 0..m {
                b[p * m + q] = bt[q * m + p];
            }
        }
        let mut v = vec![0.0; t.n * m];
        let mut a = vec![0.0; m * m];
        let mut k = vec![0.0; m];
        for i in 0..t.n {
            for (slot, &j) in k.iter_mut().zip(basis) {
                *slot = kern(t.row(j), t.row(i));
            }
            let vi = &mut v[i * m..(i + 1) * m];
            for (p, slot) in vi.iter_mut().enumerate() {
                *slot = linalg::dot(&b[p * m..p * m + p + 1], &k[..=p]);
            }
            for p in 0..m {
                let scaled = vi[p] / sn2;
                for q in p..m {
                    a[p * m + q] += scaled * vi[q];
                }
            }
        }
        for p in 0..m {
            a[p * m + p] += 1.0;
            for q in (p + 1)..m {
                a[q * m + p] = a[p * m + q];
            }
        }
        let a_factor = linalg::cholesky(&a, m)?;
        Some(Sparse { b, v, a_factor })
    }

    /// `V r`.
    fn v_times(&self, r: &[f64], m: usize) -> Vec<f64> {
        let mut out = vec![0.0; m];
        for (vi, ri) in self.v.chunks_exact(m.max(1)).zip(r) {
            for (o, x) in out.iter_mut().zip(vi) {
                *o += x * ri;
            }
        }
        out
    }
}

/// Negative log posterior (and gradient) of the hyperparameters.
fn neg_log_posterior(
    t: &Training,
    y: &[f64],
    theta: &[f64],
    prior: &Prior,
    want_grad: bool,
) -> Option<(f64, Vec<f64>)> {
    let (n, d) = (t.n, t.d);
    let inv_ls2: Vec<f64> = theta[..d].iter().map(|l| (-2.0 * l).exp()).collect();
    let sf2 = theta[d].exp();
    let sn2 = theta[d + 1].exp();
    let m = theta[d + 2];
    let npairs = n * n.saturating_sub(1) / 2;
    let mut kv = Vec::with_capacity(npairs);
    let mut dv = Vec::with_capacity(npairs);
    let mut k = vec![0.0; n * n];
    let mut p = 0;
    for i in 0..n {
        k[i * n + i] = sf2 + sn2;
        for j in (i + 1)..n {
            let diffs = &t.pair_diffs[p * d..(p + 1) * d];
            let r2: f64 = diffs.iter().zip(&inv_ls2).map(|(a, b)| a * b).sum();
            let (kk, dk) = matern52(r2);
            k[i * n + j] = sf2 * kk;
            k[j * n + i] = sf2 * kk;
            kv.push(sf2 * kk);
            dv.push(sf2 * dk);
            p += 1;
        }
    }
    let l = linalg::cholesky(&k, n)?;
    let resid: Vec<f64> = y.iter().map(|v| v - m).collect();
    let alpha = linalg::solve(&l, n, &resid);
    let logdet = 0.5 * linalg::log_det(&l, n);
    let mut grad = vec![0.0; d + 3];
    let fit: f64 = resid.iter().zip(&alpha).map(|(a, b)| a * b).sum();
    let nlml = 0.5 * fit + logdet + 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
    let penalty = prior.penalty(theta, d, &mut grad);
    if !want_grad {
        return Some((nlml + penalty, grad));
    }
    let kinv = linalg::inverse(&l, n);
    // W = ααᵀ − K⁻¹; ∂nlml/∂θ = −½ tr(W ∂K/∂θ).
    let mut p = 0;
    let mut g_sf2 = 0.0;
    let mut trace_w = 0.0;
    for i in 0..n {
        let wii = alpha[i] * alpha[i] - kinv[i * n + i];
        trace_w += wii;
        for j in (i + 1)..n {
            let w = alpha[i] * alpha[j] - kinv[i * n + j];
            let diffs = &t.pair_diffs[p * d..(p + 1) * d];
            // ∂K/∂lnℓ_j = dk/dr² · (−2 D_j/ℓ_j²); off-diagonal pairs count twice, × ½.
            let f = 2.0 * w * dv[p];
            for ((g, dj), il) in grad[..d].iter_mut().zip(diffs).zip(&inv_ls2) {
                *g += f * dj * il;
            }
            g_sf2 -= w * kv[p];
            p += 1;
        }
    }
    grad[d] += g_sf2 - 0.5 * trace_w * sf2;
    grad[d + 1] += -0.5 * trace_w * sn2;
    grad[d + 2] += -alpha.iter().sum::<f64>();
    Some((nlml + penalty, grad))
}

/// The kernel's distance: `r² = Σ (Δx_j)²/ℓ_j²` (categorical: mismatch/ℓ_j²).
#[derive(Debug, Clone)]
pub(crate) struct Metric {
    inv_ls2: Vec<f64>,
    categorical: Vec<bool>,
}

impl Metric {
    /// Squared distance in lengthscale units.
    pub fn dist2(&self, a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .zip(&self.categorical)
            .zip(&self.inv_ls2)
            .map(|(((x, y), c), il)| sqdiff(*x, *y, *c) * il)
            .sum()
    }
}

/// A fitted Gaussian process.
#[derive(Debug, Clone)]
pub(crate) struct Gp {
    /// Every observation (pairwise differences only for an exact GP).
    train: Training,
    y: Vec<f64>,
    pub theta: Vec<f64>,
    inv_ls2: Vec<f64>,
    sf2: f64,
    mean: f64,
    /// The rows the posterior is expressed on (row-major): every observation for an exact GP,
    /// the inducing observations for a sparse one.
    basis: Vec<f64>,
    /// The inducing observations' indices; empty for an exact GP.
    inducing: Vec<usize>,
    /// `K⁻¹ (y − m)` over the basis (sparse: `L_m⁻ᵀ A⁻¹ V (y − m) / σ²`).
    alpha: Vec<f64>,
    /// `K⁻¹` over the basis (sparse: `L_m⁻ᵀ (I − A⁻¹) L_m⁻¹`).
    kinv: Vec<f64>,
}

/// Posterior at one point (latent function, no observation noise).
#[derive(Debug, Clone)]
pub(crate) struct Prediction {
    pub mean: f64,
    pub var: f64,
    pub dmean: Vec<f64>,
    pub dvar: Vec<f64>,
}

/// How hard to search for hyperparameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FitEffort {
    pub prior_draws: usize,
    pub starts: usize,
    pub max_iter: usize,
    /// Relative change of the objective below which an L-BFGS run stops.
    pub rel_tol: f64,
}

impl Gp {
    /// A GP with fixed hyperparameters `theta` (sparse above [`EXACT_MAX`] observations, its
    /// inducing inputs chosen in the lengthscale units of `theta`).
    pub fn with_theta(
        x: &[Vec<f64>],
        y: &[f64],
        categorical: &[bool],
        theta: &[f64],
    ) -> Result<Self> {
        if x.len() > EXACT_MAX {
            let train = Training::rows(x, categorical);
            let d = train.d;
            let inv_ls2: Vec<f64> = theta
                .get(..d)
                .unwrap_or(&[])
                .iter()
                .map(|l| (-2.0 * l).exp())
                .collect();
            let basis = inducing(&train, y, &inv_ls2, INDUCING);
            return Self::sparse(train, y.to_vec(), theta.to_vec(), basis);
        }
        let train = Training::new(x, categorical);
        Self::condition(train, y.to_vec(), theta.to_vec())
    }

    /// A sparse GP with fixed hyperparameters conditioned on every observation of `train`
    /// through the observations `basis` (module documentation).
    fn sparse(train: Training, y: Vec<f64>, theta: Vec<f64>, basis: Vec<usize>) -> Result<Self> {
        let (n, d, m) = (train.n, train.d, basis.len());
        if y.len() != n || theta.len() != d + 3 || m == 0 || basis.iter().any(|i| *i >= n) {
            return Err(OptimizeError::Numerical(
                "sparse GP data, inducing inputs and hyperparameters disagree".into(),
            ));
        }
        let inv_ls2: Vec<f64> = theta[..d].iter().map(|l| (-2.0 * l).exp()).collect();
        let (sf2, sn2, mean) = (theta[d].exp(), theta[d + 1].exp(), theta[d + 2]);
        let parts = Sparse::new(&train, &basis, &inv_ls2, sf2, sn2).ok_or_else(|| {
            OptimizeError::Numerical("the sparse GP's inducing covariance is singular".into())
        })?;
        let resid: Vec<f64> = y.iter().map(|v| v - mean).collect();
        let c = linalg::solve(&parts.a_factor, m, &parts.v_times(&resid, m));
        // α = Bᵀ c / σ²; K' = Bᵀ (I − A⁻¹) B.
        let mut alpha = vec![0.0; m];
        for (p, cp) in c.iter().enumerate() {
            for (a, bpa) in alpha.iter_mut().zip(&parts.b[p * m..(p + 1) * m]) {
                *a += bpa * cp / sn2;
            }
        }
        let mut c_mat = linalg::inverse(&parts.a_factor, m);
        for (k, x) in c_mat.iter_mut().enumerate() {
            *x = if k % (m + 1) == 0 { 1.0 - *x } else { -*x };
        }
        let mut cb = vec![0.0; m * m];
        for p in 0..m {
            for r in 0..m {
                let cpr = c_mat[p * m + r];
                if cpr != 0.0 {
                    for (o, brq) in cb[p * m..(p + 1) * m]
                        .iter_mut()
                        .zip(&parts.b[r * m..(r + 1) * m])
                    {
                        *o += cpr * brq;
                    }
                }
            }
        }
        let mut kinv = vec![0.0; m * m];
        for p in 0..m {
            for a in 0..m {
                let bpa = parts.b[p * m + a];
                if bpa != 0.0 {
                    for (o, t) in kinv[a * m..(a + 1) * m]
                        .iter_mut()
                        .zip(&cb[p * m..(p + 1) * m])
                    {
                        *o += bpa * t;
                    }
                }
            }
        }
        let basis_rows: Vec<f64> = basis
            .iter()
            .flat_map(|i| train.row(*i).iter().copied())
            .collect();
        Ok(Gp {
            train,
            y,
            theta,
            inv_ls2,
            sf2,
            mean,
            basis: basis_rows,
            inducing: basis,
            alpha,
            kinv,
        })
    }

    /// Whether the GP is sparse (more than [`EXACT_MAX`] observations).
    pub fn is_sparse(&self) -> bool {
        !self.inducing.is_empty()
    }

    fn condition(train: Training, y: Vec<f64>, theta: Vec<f64>) -> Result<Self> {
        let (n, d) = (train.n, train.d);
        if y.len() != n || theta.len() != d + 3 {
            return Err(OptimizeError::Numerical(
                "GP data and hyperparameters disagree in size".into(),
            ));
        }
        let inv_ls2: Vec<f64> = theta[..d].iter().map(|l| (-2.0 * l).exp()).collect();
        let sf2 = theta[d].exp();
        let sn2 = theta[d + 1].exp();
        let mean = theta[d + 2];
        let mut jitter = 0.0;
        for _ in 0..8 {
            let mut k = vec![0.0; n * n];
            let mut p = 0;
            for i in 0..n {
                k[i * n + i] = sf2 + sn2 + jitter;
                for j in (i + 1)..n {
                    let diffs = &train.pair_diffs[p * d..(p + 1) * d];
                    let r2: f64 = diffs.iter().zip(&inv_ls2).map(|(a, b)| a * b).sum();
                    let v = sf2 * matern52(r2).0;
                    k[i * n + j] = v;
                    k[j * n + i] = v;
                    p += 1;
                }
            }
            if let Some(l) = linalg::cholesky(&k, n) {
                let resid: Vec<f64> = y.iter().map(|v| v - mean).collect();
                let alpha = linalg::solve(&l, n, &resid);
                let kinv = linalg::inverse(&l, n);
                let basis = train.x.clone();
                return Ok(Gp {
                    train,
                    y,
                    theta,
                    inv_ls2,
                    sf2,
                    mean,
                    basis,
                    inducing: Vec::new(),
                    alpha,
                    kinv,
                });
            }
            jitter = if jitter == 0.0 {
                1e-9 * sf2
            } else {
                jitter * 10.0
            };
        }
        Err(OptimizeError::Numerical(
            "covariance matrix is not positive definite even with jitter".into(),
        ))
    }

    /// Fits hyperparameters by MAP: the best of `prior_draws` prior samples, the prior mode and
    /// the warm start (if any) seed up to `starts` L-BFGS runs. Above [`EXACT_MAX`]
    /// observations, to the inducing observations (chosen in model units), and the sparse GP
    /// is conditioned on all of them.
    pub fn fit<R: Rng>(
        x: &[Vec<f64>],
        y: &[f64],
        categorical: &[bool],
        prior: &Prior,
        warm: Option<&[f64]>,
        effort: FitEffort,
        rng: &mut R,
    ) -> Result<Self> {
        if x.len() > EXACT_MAX && y.len() == x.len() {
            let train = Training::rows(x, categorical);
            let basis = inducing(&train, y, &vec![1.0; train.d], INDUCING);
            let xs: Vec<Vec<f64>> = basis.iter().map(|i| x[*i].clone()).collect();
            let ys: Vec<f64> = basis.iter().map(|i| y[*i]).collect();
            let exact = Self::fit(&xs, &ys, categorical, prior, warm, effort, rng)?;
            return Self::sparse(train, y.to_vec(), exact.theta, basis);
        }
        let train = Training::new(x, categorical);
        let d = train.d;
        let (lo, hi) = prior.bounds(d);
        let mut starts: Vec<(f64, Vec<f64>)> = Vec::new();
        let eval =
            |theta: &[f64]| neg_log_posterior(&train, y, theta, prior, false).map(|(v, _)| v);
        let consider = |theta: Vec<f64>, starts: &mut Vec<(f64, Vec<f64>)>| {
            if let Some(v) = eval(&theta) {
                starts.push((v, theta));
            }
        };
        consider(prior.mode(d), &mut starts);
        for _ in 0..effort.prior_draws {
            consider(prior.sample(d, rng), &mut starts);
        }
        starts.sort_by(|a, b| a.0.total_cmp(&b.0));
        // A warm start is always refined; other starts are added only if they already look
        // better than it (a cold fit takes the best few).
        let warm = warm.filter(|w| w.len() == d + 3);
        let warm_value = warm.and_then(eval).unwrap_or(f64::INFINITY);
        let mut chosen: Vec<Vec<f64>> = Vec::new();
        if let Some(w) = warm {
            chosen.push(w.to_vec());
        }
        for (v, t) in &starts {
            if chosen.len() >= effort.starts.max(1) {
                break;
            }
            if (warm.is_none() || *v < warm_value) && !chosen.contains(t) {
                chosen.push(t.clone());
            }
        }
        let mut best: Option<(f64, Vec<f64>)> = None;
        for s in chosen {
            let f = |theta: &[f64]| neg_log_posterior(&train, y, theta, prior, true);
            if let Some(m) =
                lbfgs::minimize_tol(f, &s, &lo, &hi, effort.max_iter, 8, effort.rel_tol)
                && best.as_ref().is_none_or(|b| m.value < b.0)
            {
                best = Some((m.value, m.x));
            }
        }
        let theta = match best {
            Some((_, t)) => t,
            None => starts
                .first()
                .map(|s| s.1.clone())
                .unwrap_or_else(|| prior.mode(d)),
        };
        Self::condition(train, y.to_vec(), theta)
    }

    /// The kernel's distance (lengthscale units), detached from the data.
    pub fn metric(&self) -> Metric {
        Metric {
            inv_ls2: self.inv_ls2.clone(),
            categorical: self.train.categorical.clone(),
        }
    }

    /// The kernel's distance with every continuous lengthscale capped at `cap` (model units), so
    /// that a ball of a few lengthscales never covers the whole domain.
    pub fn capped_metric(&self, cap: f64) -> Metric {
        let floor = 1.0 / (cap * cap);
        Metric {
            inv_ls2: self
                .inv_ls2
                .iter()
                .zip(&self.train.categorical)
                .map(|(il, c)| if *c { *il } else { il.max(floor) })
                .collect(),
            categorical: self.train.categorical.clone(),
        }
    }

    /// Lengthscales, signal variance, noise variance, constant mean.
    pub fn summary(&self) -> (Vec<f64>, f64, f64, f64) {
        let d = self.train.d;
        (
            self.theta[..d].iter().map(|v| v.exp()).collect(),
            self.sf2,
            self.theta[d + 1].exp(),
            self.mean,
        )
    }

    /// Same hyperparameters, one more (fantasy) observation. A sparse GP keeps its inducing
    /// inputs and adds the new one to them, so that the fantasy lowers the variance around it
    /// as an exact GP's would (the kriging believer relies on that).
    pub fn with_point(&self, x: &[f64], y: f64) -> Result<Self> {
        let mut rows = self.inputs();
        rows.push(x.to_vec());
        let mut ys = self.y.clone();
        ys.push(y);
        if self.is_sparse() {
            let mut basis = self.inducing.clone();
            basis.push(self.train.n);
            let train = Training::rows(&rows, &self.train.categorical);
            return Self::sparse(train, ys, self.theta.clone(), basis);
        }
        Self::with_theta(&rows, &ys, &self.train.categorical, &self.theta)
    }

    /// Leave-one-out predictions of each training target with these hyperparameters:
    /// `(mean, variance)`, the variance of the observation (noise included). Closed form
    /// (Rasmussen & Williams, eq. 5.12): `μ₋ᵢ = yᵢ − αᵢ / [K⁻¹]ᵢᵢ`, `σ²₋ᵢ = 1 / [K⁻¹]ᵢᵢ`.
    pub fn leave_one_out(&self) -> Vec<(f64, f64)> {
        if self.is_sparse() {
            return self.sparse_leave_one_out();
        }
        let n = self.train.n;
        (0..n)
            .map(|i| {
                let kii = self.kinv[i * n + i];
                if kii > 0.0 && kii.is_finite() {
                    (self.y[i] - self.alpha[i] / kii, 1.0 / kii)
                } else {
                    (self.mean, self.sf2)
                }
            })
            .collect()
    }

    /// Leave-one-out predictions of a sparse GP: the same closed form for its covariance
    /// `Q + σ²I` (`Q = V Vᵀ`), whose inverse is `σ⁻² I − σ⁻⁴ V A⁻¹ Vᵀ` (Woodbury), so
    /// `[K̃⁻¹]ᵢᵢ = (1 − vᵢᵀ A⁻¹ vᵢ / σ²) / σ²` and `K̃⁻¹ r = (r − V A⁻¹ Vᵀ r / σ²) / σ²`.
    fn sparse_leave_one_out(&self) -> Vec<(f64, f64)> {
        let d = self.train.d;
        let (sn2, m) = (self.theta[d + 1].exp(), self.inducing.len());
        let Some(parts) = Sparse::new(&self.train, &self.inducing, &self.inv_ls2, self.sf2, sn2)
        else {
            return vec![(self.mean, self.sf2); self.train.n];
        };
        let resid: Vec<f64> = self.y.iter().map(|v| v - self.mean).collect();
        let c = linalg::solve(&parts.a_factor, m, &parts.v_times(&resid, m));
        parts
            .v
            .chunks_exact(m.max(1))
            .zip(self.y.iter().zip(&resid))
            .map(|(vi, (yi, ri))| {
                let quad = linalg::dot(vi, &linalg::solve(&parts.a_factor, m, vi));
                let kii = (1.0 - quad / sn2) / sn2;
                let alpha = (ri - linalg::dot(vi, &c) / sn2) / sn2;
                if kii > 0.0 && kii.is_finite() {
                    (yi - alpha / kii, 1.0 / kii)
                } else {
                    (self.mean, self.sf2)
                }
            })
            .collect()
    }

    /// Training inputs (every observation, sparse or not).
    pub fn inputs(&self) -> Vec<Vec<f64>> {
        let d = self.train.d;
        (0..self.train.n)
            .map(|i| self.train.x[i * d..(i + 1) * d].to_vec())
            .collect()
    }

    /// The prior covariance `k(a, b)` of the latent function (no noise).
    pub(crate) fn kernel(&self, a: &[f64], b: &[f64]) -> f64 {
        let r2: f64 = a
            .iter()
            .zip(b)
            .zip(&self.train.categorical)
            .zip(&self.inv_ls2)
            .map(|(((x, y), c), il)| sqdiff(*x, *y, *c) * il)
            .sum();
        self.sf2 * matern52(r2).0
    }

    /// The prior covariances `k(x, xᵢ)` with the training inputs and `K⁻¹ k(x, ·)`, so that the
    /// posterior covariance of `x` and `x'` is `k(x, x') − k(x, ·)ᵀ K⁻¹ k(x', ·)`.
    pub(crate) fn cross(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let d = self.train.d;
        let k: Vec<f64> = self
            .train
            .x
            .chunks_exact(d.max(1))
            .take(self.train.n)
            .map(|row| self.kernel(x, row))
            .collect();
        let w = linalg::matvec(&self.kinv, self.train.n, &k);
        (k, w)
    }

    /// The variance of the measurement noise (model units).
    pub(crate) fn noise_var(&self) -> f64 {
        self.theta[self.train.d + 1].exp()
    }

    /// Posterior of the latent function at `x`; gradients only when `grad` (zero for categorical
    /// coordinates).
    pub fn predict(&self, x: &[f64], grad: bool) -> Prediction {
        let d = self.train.d;
        let n = self.basis.len() / d.max(1);
        let mut kstar = vec![0.0; n];
        let mut dk = vec![0.0; n];
        for ((row, ks), dki) in self
            .basis
            .chunks_exact(d.max(1))
            .zip(kstar.iter_mut())
            .zip(dk.iter_mut())
        {
            let mut r2 = 0.0;
            for (((xj, rj), cat), il) in x
                .iter()
                .zip(row)
                .zip(&self.train.categorical)
                .zip(&self.inv_ls2)
            {
                r2 += sqdiff(*xj, *rj, *cat) * il;
            }
            let (k, dkr) = matern52(r2);
            *ks = self.sf2 * k;
            *dki = self.sf2 * dkr;
        }
        let mean = self.mean
            + kstar
                .iter()
                .zip(&self.alpha)
                .map(|(a, b)| a * b)
                .sum::<f64>();
        let (mut dmean, mut dvar) = (vec![0.0; d], vec![0.0; d]);
        if !grad {
            // Most predictions (the acquisition's candidate sweeps) need no gradient: the
            // quadratic form from K⁻¹'s upper triangle costs half of `K⁻¹ k*`.
            let var = (self.sf2 - linalg::sym_quad(&self.kinv, n, &kstar)).max(1e-12 * self.sf2);
            return Prediction {
                mean,
                var,
                dmean,
                dvar,
            };
        }
        let w = linalg::matvec(&self.kinv, n, &kstar);
        let var = (self.sf2 - kstar.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>())
            .max(1e-12 * self.sf2);
        {
            for (((row, al), wi), dki) in self
                .basis
                .chunks_exact(d.max(1))
                .zip(&self.alpha)
                .zip(&w)
                .zip(&dk)
            {
                let a = al * dki * 2.0;
                let b = -4.0 * wi * dki;
                for (((((dm, dv), xj), rj), cat), il) in dmean
                    .iter_mut()
                    .zip(dvar.iter_mut())
                    .zip(x)
                    .zip(row)
                    .zip(&self.train.categorical)
                    .zip(&self.inv_ls2)
                {
                    if *cat {
                        continue;
                    }
                    let diff = (xj - rj) * il;
                    *dm += a * diff;
                    *dv += b * diff;
                }
            }
        }
        Prediction {
            mean,
            var,
            dmean,
            dvar,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn m52(r: f64) -> f64 {
        (1.0 + SQRT5 * r + 5.0 * r * r / 3.0) * (-SQRT5 * r).exp()
    }

    #[test]
    fn posterior_matches_hand_computation() {
        // Two points, ℓ = 0.5, s² = 2, σ² = 0.1, m = 0.3.
        let (ls, sf2, sn2, m) = (0.5f64, 2.0f64, 0.1f64, 0.3f64);
        let theta = vec![ls.ln(), sf2.ln(), sn2.ln(), m];
        let x = vec![vec![0.0], vec![0.6]];
        let y = vec![1.0, -0.5];
        let gp = Gp::with_theta(&x, &y, &[false], &theta).unwrap();
        let xs = 0.2;
        let k12 = sf2 * m52(0.6 / ls);
        let (a, b, c) = (sf2 + sn2, k12, sf2 + sn2);
        let det = a * c - b * b;
        let inv = [[c / det, -b / det], [-b / det, a / det]];
        let ks = [sf2 * m52(0.2 / ls), sf2 * m52(0.4 / ls)];
        let r = [y[0] - m, y[1] - m];
        let alpha = [
            inv[0][0] * r[0] + inv[0][1] * r[1],
            inv[1][0] * r[0] + inv[1][1] * r[1],
        ];
        let mean = m + ks[0] * alpha[0] + ks[1] * alpha[1];
        let v0 = inv[0][0] * ks[0] + inv[0][1] * ks[1];
        let v1 = inv[1][0] * ks[0] + inv[1][1] * ks[1];
        let var = sf2 - (ks[0] * v0 + ks[1] * v1);
        let p = gp.predict(&[xs], true);
        assert!((p.mean - mean).abs() < 1e-12, "{} vs {}", p.mean, mean);
        assert!((p.var - var).abs() < 1e-12, "{} vs {}", p.var, var);
        // Without gradients the variance comes from K⁻¹'s upper triangle: the same value.
        let q = gp.predict(&[xs], false);
        assert!((q.mean - mean).abs() < 1e-12 && (q.var - var).abs() < 1e-12);
        // Input gradients against central differences.
        let h = 1e-6;
        let (pp, pm) = (gp.predict(&[xs + h], false), gp.predict(&[xs - h], false));
        assert!((p.dmean[0] - (pp.mean - pm.mean) / (2.0 * h)).abs() < 1e-6);
        assert!((p.dvar[0] - (pp.var - pm.var) / (2.0 * h)).abs() < 1e-6);
    }

    #[test]
    fn marginal_likelihood_gradient_matches_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let x: Vec<Vec<f64>> = (0..12)
            .map(|_| {
                vec![
                    rng.random(),
                    rng.random(),
                    (rng.random::<f64>() * 3.0).floor(),
                ]
            })
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|r| (3.0 * r[0]).sin() + r[1] * r[1] - 0.3 * r[2])
            .collect();
        let cat = [false, false, true];
        let t = Training::new(&x, &cat);
        let prior = Prior::for_dim(3);
        let theta = vec![-0.7, 0.2, 0.1, 0.3, -3.0, 0.15];
        let (_, g) = neg_log_posterior(&t, &y, &theta, &prior, true).unwrap();
        for i in 0..theta.len() {
            let h = 1e-6;
            let mut tp = theta.clone();
            tp[i] += h;
            let mut tm = theta.clone();
            tm[i] -= h;
            let fp = neg_log_posterior(&t, &y, &tp, &prior, false).unwrap().0;
            let fm = neg_log_posterior(&t, &y, &tm, &prior, false).unwrap().0;
            let fd = (fp - fm) / (2.0 * h);
            assert!(
                (g[i] - fd).abs() < 1e-5 * fd.abs().max(1.0),
                "param {i}: analytic {} vs fd {}",
                g[i],
                fd
            );
        }
    }

    #[test]
    fn fit_learns_a_smooth_function() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let x: Vec<Vec<f64>> = (0..25).map(|_| vec![rng.random(), rng.random()]).collect();
        let f = |r: &[f64]| (4.0 * r[0]).sin() + 0.1 * r[1];
        let y: Vec<f64> = x.iter().map(|r| f(r)).collect();
        let effort = FitEffort {
            prior_draws: 8,
            starts: 3,
            max_iter: 60,
            rel_tol: 1e-10,
        };
        let gp = Gp::fit(
            &x,
            &y,
            &[false, false],
            &Prior::for_dim(2),
            None,
            effort,
            &mut rng,
        )
        .unwrap();
        let (ls, _, noise, _) = gp.summary();
        // The irrelevant-ish second input gets the longer lengthscale; the fit is near-noiseless.
        assert!(ls[1] > ls[0], "{ls:?}");
        assert!(noise < 1e-2, "{noise}");
        let p = gp.predict(&[0.4, 0.5], false);
        assert!((p.mean - f(&[0.4, 0.5])).abs() < 0.05, "{}", p.mean);
    }

    /// Rows and targets of a noisy function of three inputs (one categorical).
    fn noisy_data(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                vec![
                    rng.random(),
                    rng.random(),
                    (rng.random::<f64>() * 3.0).floor(),
                ]
            })
            .collect();
        let y = x
            .iter()
            .map(|r| (3.0 * r[0]).sin() + r[1] * r[1] - 0.3 * r[2] + 0.05 * normal(&mut rng))
            .collect();
        (x, y)
    }

    #[test]
    fn a_sparse_gp_whose_inducing_inputs_are_all_observations_is_the_exact_gp() {
        let (x, y) = noisy_data(40, 3);
        let cat = [false, false, true];
        let theta = vec![-0.9, -0.4, 0.2, 0.1, (0.05f64 * 0.05).ln(), 0.2];
        let exact = Gp::with_theta(&x, &y, &cat, &theta).unwrap();
        let all: Vec<usize> = (0..x.len()).collect();
        let sparse = Gp::sparse(Training::rows(&x, &cat), y.clone(), theta, all).unwrap();
        assert!(sparse.is_sparse() && !exact.is_sparse());
        for probe in [[0.1, 0.2, 0.0], [0.55, 0.9, 2.0], [0.99, 0.01, 1.0]] {
            let (a, b) = (exact.predict(&probe, true), sparse.predict(&probe, true));
            assert!((a.mean - b.mean).abs() < 1e-6, "{} vs {}", a.mean, b.mean);
            assert!((a.var - b.var).abs() < 1e-6, "{} vs {}", a.var, b.var);
            for (g, h) in a
                .dmean
                .iter()
                .zip(&b.dmean)
                .chain(a.dvar.iter().zip(&b.dvar))
            {
                assert!((g - h).abs() < 1e-5, "{g} vs {h}");
            }
        }
        for ((m1, v1), (m2, v2)) in exact
            .leave_one_out()
            .into_iter()
            .zip(sparse.leave_one_out())
        {
            assert!(
                (m1 - m2).abs() < 1e-6 && (v1 - v2).abs() < 1e-6,
                "{m1} {v1} vs {m2} {v2}"
            );
        }
    }

    #[test]
    fn above_the_exact_limit_the_gp_is_sparse_and_still_learns_the_function() {
        // Readings along ramps, as a transient campaign gives them: dense lines through the box.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let f = |r: &[f64]| (4.0 * r[0]).sin() * (2.0 * r[1]).cos();
        let mut x = Vec::new();
        for _ in 0..25 {
            let b: f64 = rng.random();
            for k in 0..40 {
                x.push(vec![f64::from(k) / 39.0, b]);
            }
        }
        let y: Vec<f64> = x.iter().map(|r| f(r) + 0.01 * normal(&mut rng)).collect();
        let effort = FitEffort {
            prior_draws: 8,
            starts: 2,
            max_iter: 60,
            rel_tol: 1e-8,
        };
        let prior = Prior::for_dim(2);
        let gp = Gp::fit(&x, &y, &[false, false], &prior, None, effort, &mut rng).unwrap();
        assert!(gp.is_sparse());
        assert!(gp.inducing.len() <= INDUCING && gp.inputs().len() == x.len());
        let mut worst: f64 = 0.0;
        for _ in 0..50 {
            let p = [rng.random::<f64>(), rng.random::<f64>()];
            worst = worst.max((gp.predict(&p, false).mean - f(&p)).abs());
        }
        assert!(worst < 0.1, "worst error {worst}");
        // The best observation is an inducing input, and a fantasy observation lowers the
        // variance around it as an exact GP's would.
        let best = (0..y.len()).max_by(|a, b| y[*a].total_cmp(&y[*b])).unwrap();
        assert!(gp.inducing.contains(&best));
        let far = [0.5, 1.3];
        let before = gp.predict(&far, false).var;
        let after = gp.with_point(&far, 0.0).unwrap().predict(&far, false).var;
        assert!(after < 0.5 * before, "{before} then {after}");
    }

    #[test]
    fn sparse_leave_one_out_is_the_sparse_model_refitted_without_the_point() {
        let (x, y) = noisy_data(30, 8);
        let cat = [false, false, true];
        let theta = vec![-0.5, -0.2, 0.0, 0.1, (0.05f64 * 0.05).ln(), 0.0];
        // Inducing inputs that exclude observation 4, so removing it leaves them unchanged.
        let basis: Vec<usize> = (10..30).collect();
        let gp = Gp::sparse(Training::rows(&x, &cat), y.clone(), theta.clone(), basis).unwrap();
        let loo = gp.leave_one_out();
        let (mut xs, mut ys) = (x.clone(), y.clone());
        xs.remove(4);
        ys.remove(4);
        let without: Vec<usize> = (9..29).collect();
        let refit = Gp::sparse(Training::rows(&xs, &cat), ys, theta.clone(), without).unwrap();
        let p = refit.predict(&x[4], false);
        let sn2 = theta[4].exp();
        assert!(
            (loo[4].0 - p.mean).abs() < 1e-6,
            "{} vs {}",
            loo[4].0,
            p.mean
        );
        // The sparse model's predictive variance of an observation is the DTC one (the Nyström
        // part of the prior, `Q`, plus noise), not the latent variance plus noise: compare
        // with the refitted model's Q-based variance.
        let k_m: Vec<f64> = refit
            .basis
            .chunks_exact(3)
            .map(|z| refit.sf2 * matern52(dist2(z, &x[4], &cat, &refit.inv_ls2)).0)
            .collect();
        let m = k_m.len();
        let mut kmm = vec![0.0; m * m];
        for (a, za) in refit.basis.chunks_exact(3).enumerate() {
            for (b, zb) in refit.basis.chunks_exact(3).enumerate() {
                kmm[a * m + b] = refit.sf2 * matern52(dist2(za, zb, &cat, &refit.inv_ls2)).0
                    + if a == b { 1e-8 * refit.sf2 } else { 0.0 };
            }
        }
        let l = linalg::cholesky(&kmm, m).unwrap();
        let q = linalg::dot(&k_m, &linalg::solve(&l, m, &k_m));
        let dtc = p.var - (refit.sf2 - q) + sn2;
        assert!((loo[4].1 - dtc).abs() < 1e-6 * dtc, "{} vs {dtc}", loo[4].1);
    }
}
