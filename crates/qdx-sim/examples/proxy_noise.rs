//! Proxy error statistics under the simulator's default spectrometer noise.
//!
//! Synthetic spectra with a known answer go through the default detector (Flame-S-like: read
//! noise 422 e⁻, dark 1000 e⁻/s, offset 1000 counts, 16-bit) and the qdx-spectra proxies; the
//! absolute errors over many seeds are summarised as median and 95th percentile.
//!
//! Run: `cargo run --release -p qdx-sim --example proxy_noise`
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use qdx_sim::SpectrometerConfig;
use qdx_sim::detector::Detector;
use qdx_sim::rng::stream;
use qdx_spectra::shapes::{gaussian, linear_grid};
use qdx_spectra::{Spectrum, SpectrumQuantity};

const SEEDS: u64 = 1000;

fn quantiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (q(0.5), q(0.95), q(1.0))
}

/// PL: a Gaussian emission whose top pixel collects `peak_counts` counts per scan.
fn pl_case(name: &str, center: f64, fwhm: f64, peak_counts: f64, integration: f64, averages: u32) {
    let config = SpectrometerConfig::named("spec1");
    let grid = linear_grid(config.min_nm, config.max_nm, config.pixels);
    let signal: Vec<f64> = grid
        .iter()
        .map(|x| peak_counts * config.gain_e_per_count / integration * gaussian(*x, center, fwhm))
        .collect();
    let detector = Detector::new(&config, &mut stream(0, "spectrometer/spec1/dark-pattern"));
    let (mut peak_err, mut fwhm_err, mut failures) = (Vec::new(), Vec::new(), 0);
    for seed in 0..SEEDS {
        let mut rng = stream(seed, "spectrometer/spec1/noise");
        let (dark, _) = detector.acquire(&vec![0.0; grid.len()], integration, averages, &mut rng);
        let (raw, saturated) = detector.acquire(&signal, integration, averages, &mut rng);
        let mk = |v: Vec<f64>, s: bool| {
            Spectrum::new(grid.clone(), v, SpectrumQuantity::Counts)
                .unwrap()
                .with_acquisition(integration, averages, s)
        };
        let pl = qdx_spectra::subtract_dark(&mk(raw, saturated), &mk(dark, false)).unwrap();
        match (qdx_spectra::peak_wavelength(&pl), qdx_spectra::fwhm(&pl)) {
            (Ok(p), Ok(w)) => {
                peak_err.push((p.value - center).abs());
                fwhm_err.push((w.value - fwhm).abs());
            }
            _ => failures += 1,
        }
    }
    let (pm, p95, pmax) = quantiles(peak_err);
    let (wm, w95, wmax) = quantiles(fwhm_err);
    println!(
        "{name:<44} peak |err| median {pm:.3} p95 {p95:.3} max {pmax:.3} nm | FWHM |err| median {wm:.3} p95 {w95:.3} max {wmax:.3} nm | failures {failures}/{SEEDS}"
    );
}

/// Absorbance: a first exciton (Gaussian) on a background rising toward the blue, through
/// dark, reference and sample acquisitions.
fn exciton_case(name: &str, center: f64, fwhm: f64, height: f64) {
    let config = SpectrometerConfig::named("spec1");
    let grid = linear_grid(config.min_nm, config.max_nm, config.pixels);
    let lamp: Vec<f64> = grid
        .iter()
        .map(|x| config.lamp_e_per_s * (0.25 + 0.75 * gaussian(*x, 620.0, 450.0)))
        .collect();
    let absorbance = |x: f64| {
        height * gaussian(x, center, fwhm)
            + 0.6 * height * gaussian(x, center - 90.0, 1.5 * fwhm)
            + height * ((center - 120.0 - x) / 50.0).exp().min(20.0)
    };
    let sample: Vec<f64> = grid
        .iter()
        .zip(&lamp)
        .map(|(x, l)| l * 10f64.powf(-absorbance(*x)))
        .collect();
    let detector = Detector::new(&config, &mut stream(0, "spectrometer/spec1/dark-pattern"));
    let (t, n) = (0.05, 5);
    let (mut err, mut failures) = (Vec::new(), 0);
    for seed in 0..SEEDS {
        let mut rng = stream(seed, "spectrometer/spec1/noise");
        let mk = |v: Vec<f64>| Spectrum::new(grid.clone(), v, SpectrumQuantity::Counts).unwrap();
        let dark = mk(detector.acquire(&vec![0.0; grid.len()], t, n, &mut rng).0);
        let reference = mk(detector.acquire(&lamp, t, n, &mut rng).0);
        let s = mk(detector.acquire(&sample, t, n, &mut rng).0);
        let a =
            qdx_spectra::absorbance_spectrum(&s, &reference, &dark, Default::default()).unwrap();
        match qdx_spectra::first_excitonic_peak(&a) {
            Ok(p) => err.push((p.value - center).abs()),
            Err(_) => failures += 1,
        }
    }
    let (m, p95, max) = quantiles(err);
    println!(
        "{name:<44} exciton |err| median {m:.3} p95 {p95:.3} max {max:.3} nm | failures {failures}/{SEEDS}"
    );
}

fn main() {
    println!("proxy errors under the default simulated noise, {SEEDS} seeds each");
    pl_case(
        "PL 512 nm, FWHM 20 nm, 20000 counts, 100ms x5",
        512.3,
        20.0,
        20_000.0,
        0.1,
        5,
    );
    pl_case(
        "PL 600 nm, FWHM 30 nm, 20000 counts, 100ms x5",
        600.7,
        30.0,
        20_000.0,
        0.1,
        5,
    );
    pl_case(
        "PL 600 nm, FWHM 30 nm, 2000 counts, 100ms x5",
        600.7,
        30.0,
        2_000.0,
        0.1,
        5,
    );
    pl_case(
        "PL 600 nm, FWHM 30 nm, 500 counts, 100ms x5",
        600.7,
        30.0,
        500.0,
        0.1,
        5,
    );
    pl_case(
        "PL 690 nm, FWHM 36 nm, 20000 counts, 100ms x1",
        689.9,
        36.0,
        20_000.0,
        0.1,
        1,
    );
    exciton_case(
        "Abs exciton 564 nm, FWHM 36 nm, A 0.08, 50ms x5",
        564.0,
        36.0,
        0.08,
    );
    exciton_case(
        "Abs exciton 604 nm, FWHM 30 nm, A 0.3, 50ms x5",
        604.0,
        30.0,
        0.3,
    );
}
