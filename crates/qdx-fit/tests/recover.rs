//! The fit recovers known parameters from synthetic data made by the same model, and fails
//! with a clear error on data or models it cannot fit.

use qdx_fit::{Fit, FitError, FitSettings, Model, Observation, Parameter, fit};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

const R: f64 = 8.314_462_618;

/// Diffusion-limited growth with an Arrhenius rate: `r' = k0·exp(−Ea/(R·T))/r`, `r(0) = 1 nm`,
/// observed as the diameter `2r` after the residence time.
struct Growth {
    temperatures: Vec<f64>,
}

impl Model for Growth {
    fn states(&self) -> usize {
        1
    }
    fn scale(&self) -> f64 {
        1e-9
    }
    fn initial(&self, _: usize, _: &[f64], y0: &mut [f64]) {
        y0[0] = 1e-9;
    }
    fn rate(&self, i: usize, _: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        dy[0] = p[0] * (-p[1] / (R * self.temperatures[i])).exp() / y[0];
    }
    fn observe(&self, _: usize, y: &[f64], _: &[f64]) -> f64 {
        2.0 * y[0]
    }
}

fn params() -> Vec<Parameter> {
    vec![
        Parameter {
            name: "k0".into(),
            lo: 1e-18,
            hi: 1e-10,
            log: true,
        },
        Parameter {
            name: "Ea".into(),
            lo: 20e3,
            hi: 120e3,
            log: false,
        },
    ]
}

const TRUTH: [f64; 2] = [2.5e-14, 60e3];

/// 4 temperatures × 6 residence times, the diameter by the closed form `2·√(r0² + 2kt)`.
fn synthetic(noise_sd: f64, seed: u64) -> (Growth, Vec<Observation>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0, noise_sd.max(f64::MIN_POSITIVE)).expect("a positive sd");
    let mut temperatures = Vec::new();
    let mut obs = Vec::new();
    for t in [500.0, 520.0, 540.0, 560.0] {
        for tau in [10.0, 30.0, 60.0, 120.0, 240.0, 480.0] {
            let k = TRUTH[0] * (-TRUTH[1] / (R * t)).exp();
            let d = 2.0 * (1e-18 + 2.0 * k * tau).sqrt();
            let e = if noise_sd > 0.0 {
                noise.sample(&mut rng)
            } else {
                0.0
            };
            temperatures.push(t);
            obs.push(Observation {
                time: tau,
                value: d + e,
            });
        }
    }
    (Growth { temperatures }, obs)
}

fn run(noise_sd: f64, seed: u64) -> Fit {
    let (model, obs) = synthetic(noise_sd, seed);
    fit(&model, &params(), &obs, &FitSettings::for_parameters(2)).expect("the fit")
}

#[test]
fn noise_free_data_give_back_the_parameters_to_1e_6() {
    let f = run(0.0, 0);
    println!(
        "noise-free: {:?}, SSE {:e}, {:?}",
        f.estimates, f.sse, f.convergence
    );
    for (k, truth) in TRUTH.iter().enumerate() {
        let rel = (f.estimates[k] - truth).abs() / truth;
        assert!(
            rel < 1e-6,
            "{}: {} vs {truth} ({rel:e})",
            f.parameters[k].name,
            f.estimates[k]
        );
    }
    assert!(f.convergence.converged, "{:?}", f.convergence);
    assert!(f.sse < 1e-30, "{}", f.sse);
    assert_eq!(f.at_bound, [false, false]);
    // The Arrhenius pair is strongly, positively correlated over 500-560 K.
    let c = f.correlation[0][1].unwrap();
    assert!(c > 0.99 && c <= 1.0 + 1e-9, "{c}");
}

#[test]
fn noisy_data_give_the_parameters_within_two_standard_errors_about_95_percent_of_the_time() {
    // 0.02 nm of noise on diameters of 2-10 nm. Over 20 seeds (40 estimates), each
    // parameter's estimate should be within 2 SE of the truth ~95% of the time: at least 34
    // of 40 (a binomial tail of ~1.4% at a true 95%), and the standard errors must be neither
    // absurdly small nor large (the mean |z| of a normal is 0.8).
    let (mut inside, mut total, mut z_sum) = (0, 0, 0.0);
    for seed in 0..20 {
        let f = run(0.02e-9, seed);
        for (k, truth) in TRUTH.iter().enumerate() {
            let z = (f.estimates[k] - truth) / f.standard_errors[k].unwrap();
            inside += usize::from(z.abs() < 2.0);
            total += 1;
            z_sum += z.abs();
        }
        assert!(
            (f.residual_sd / 0.02e-9 - 1.0).abs() < 0.5,
            "s = {}",
            f.residual_sd
        );
    }
    let mean_z = z_sum / total as f64;
    println!("{inside} of {total} estimates within 2 SE, mean |z| = {mean_z:.3}");
    assert!(inside * 40 >= 34 * total, "{inside} of {total} within 2 SE");
    assert!((0.5..1.1).contains(&mean_z), "mean |z| = {mean_z}");
}

#[test]
fn nan_data_are_a_located_error() {
    let (model, mut obs) = synthetic(0.0, 0);
    obs[7].value = f64::NAN;
    let err = fit(&model, &params(), &obs, &FitSettings::for_parameters(2)).unwrap_err();
    assert_eq!(
        err,
        FitError::NotFiniteData {
            index: 7,
            what: "the observed value"
        }
    );
    assert_eq!(
        err.to_string(),
        "observation 7 is not a finite number (the observed value)"
    );
}

struct BlowUp;
impl Model for BlowUp {
    fn states(&self) -> usize {
        1
    }
    fn scale(&self) -> f64 {
        1.0
    }
    fn initial(&self, _: usize, _: &[f64], y0: &mut [f64]) {
        y0[0] = 1.0;
    }
    fn rate(&self, _: usize, _: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        dy[0] = p[0] * y[0] * y[0];
    }
    fn observe(&self, _: usize, y: &[f64], _: &[f64]) -> f64 {
        y[0]
    }
}

#[test]
fn a_model_that_cannot_be_integrated_is_an_error_naming_the_observation() {
    // y' = k y², y(0) = 1 blows up at t = 1/k ≤ 1 < 2 for every k in the bounds.
    let obs = vec![
        Observation {
            time: 2.0,
            value: 1.0
        };
        3
    ];
    let p = [Parameter {
        name: "k".into(),
        lo: 1.0,
        hi: 10.0,
        log: false,
    }];
    let err = fit(&BlowUp, &p, &obs, &FitSettings::for_parameters(1)).unwrap_err();
    assert!(
        matches!(err, FitError::Integration { index: 0, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("the model cannot be computed for observation 0: "),
        "{err}"
    );
}

/// `y = a·b·t`: only the product is identifiable.
struct Product;
impl Model for Product {
    fn states(&self) -> usize {
        0
    }
    fn scale(&self) -> f64 {
        1.0
    }
    fn initial(&self, _: usize, _: &[f64], _: &mut [f64]) {}
    fn rate(&self, _: usize, _: f64, _: &[f64], _: &[f64], _: &mut [f64]) {}
    fn observe(&self, i: usize, _: &[f64], p: &[f64]) -> f64 {
        p[0] * p[1] * (i as f64 + 1.0)
    }
}

#[test]
fn parameters_the_data_cannot_tell_apart_are_named() {
    let obs: Vec<Observation> = (0..5)
        .map(|i| Observation {
            time: 0.0,
            value: 6.0 * (f64::from(i) + 1.0),
        })
        .collect();
    let p = [
        Parameter {
            name: "a".into(),
            lo: 1.0,
            hi: 5.0,
            log: false,
        },
        Parameter {
            name: "b".into(),
            lo: 1.0,
            hi: 5.0,
            log: false,
        },
    ];
    let err = fit(&Product, &p, &obs, &FitSettings::for_parameters(2)).unwrap_err();
    assert_eq!(
        err,
        FitError::Singular {
            names: vec!["a".into(), "b".into()]
        }
    );
    assert_eq!(
        err.to_string(),
        "the data cannot tell `a` and `b` apart: the Jacobian is singular at the optimum"
    );
}

#[test]
fn too_few_observations_and_bad_bounds_are_errors() {
    let (model, obs) = synthetic(0.0, 0);
    let err = fit(
        &model,
        &params(),
        &obs[..2],
        &FitSettings::for_parameters(2),
    )
    .unwrap_err();
    assert_eq!(
        err,
        FitError::TooFewObservations {
            observations: 2,
            parameters: 2
        }
    );
    let mut p = params();
    p[0].lo = 0.0;
    let err = fit(&model, &p, &obs, &FitSettings::for_parameters(2)).unwrap_err();
    assert!(
        matches!(err, FitError::BadBounds { log: true, .. }),
        "{err:?}"
    );
}
