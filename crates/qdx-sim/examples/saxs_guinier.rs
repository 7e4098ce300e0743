//! Accuracy of the Guinier radius fitted to simulated SAXS of known spheres.
//!
//! For each mean radius and polydispersity, the simulated `I(q)` (Schulz spheres,
//! `qdx_sim::scattering`) goes through `qdx_spectra::scattering::guinier_fit`, noise-free and
//! with Poisson counting noise over many seeds; the relative error against the ensemble's own
//! Guinier radius `√(3/5·⟨R⁸⟩/⟨R⁶⟩)` is summarised as median, 95th percentile and maximum.
//!
//! Run: `cargo run --release -p qdx-sim --example saxs_guinier`
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use qdx_sim::rng::stream;
use qdx_sim::scattering::{SaxsCamera, Spheres, frame, q_grid};
use qdx_spectra::scattering::guinier_fit;

const SEEDS: u64 = 200;

fn main() {
    let q = q_grid(0.05, 3.0, 300);
    println!(
        "R̄ nm  p     Rg nm   noise-free err   noisy |err| median / p95 / max   (low-q 1e3 counts/s, bg 1/s, 3 × 1 s)"
    );
    for (r, p) in [
        (1.5, 0.05),
        (2.5, 0.05),
        (3.0, 0.08),
        (4.0, 0.1),
        (6.0, 0.1),
    ] {
        let s = Spheres {
            mean_radius_nm: r,
            polydispersity: p,
            number: 1.0,
        };
        let expected = s.guinier_radius_nm();
        let v = (4.0 / 3.0 * std::f64::consts::PI * r * r * r).powi(2);
        let cam = SaxsCamera {
            counts_per_s: 1e3 / v,
            background_per_s: 1.0,
        };
        let clean = frame(&[s], &q, &cam, 1.0, 3, None);
        let e0 = (guinier_fit(&q, &clean).unwrap().rg_nm - expected) / expected;
        let mut errs: Vec<f64> = (0..SEEDS)
            .map(|seed| {
                let mut rng = stream(seed, "saxs-example");
                let i = frame(&[s], &q, &cam, 1.0, 3, Some(&mut rng));
                guinier_fit(&q, &i)
                    .map_or(f64::INFINITY, |f| ((f.rg_nm - expected) / expected).abs())
            })
            .collect();
        errs.sort_by(f64::total_cmp);
        let at = |f: f64| errs[((errs.len() - 1) as f64 * f).round() as usize];
        println!(
            "{r:<5} {p:<5} {expected:<7.3} {:+.2} %          {:.2} % / {:.2} % / {:.2} %",
            100.0 * e0,
            100.0 * at(0.5),
            100.0 * at(0.95),
            100.0 * at(1.0)
        );
    }
}
