//! Wall-time cost of the simulator in a 200-experiment CsPbX3 campaign.
//!
//! Per experiment: set three pump rates and the heater, wait 3 reactor volumes (virtual time),
//! then acquire a dark and a broadband spectrum at 50 ms (absorbance) and a dark and an
//! excitation spectrum at 100 ms (PL), 1024 pixels, 5 averages each, and compute absorbance, PL peak, FWHM and relative PLQY. A solvent reference
//! is taken once at the start. Reports the median and 95th percentile wall time per
//! acquisition and per proxy set, and the total for the campaign.
//!
//! Run: `cargo run --release -p qdx-sim --example campaign_cost`
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use qdx_lab::{AcquireRequest, Clock, Illumination, VirtualClock};
use qdx_sim::presets::{self, ML, UL};
use qdx_sim::rng::stream;
use rand::Rng;

fn req(illumination: Illumination, integration_time_s: f64) -> AcquireRequest {
    AcquireRequest {
        illumination,
        integration_time_s,
        averages: 5,
    }
}

fn quantile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut config = presets::cspbx3(42);
    for p in &mut config.pumps {
        // Large syringes: refills are the planner's business, not this benchmark's.
        p.syringe_volume = 1000.0 * ML;
    }
    let clock = Arc::new(VirtualClock::new());
    let lab = qdx_sim::SimLab::new(config, clock.clone()).unwrap();
    let mut spec = lab.spectrometer("spec1").unwrap();
    let mut heater = lab.heater("h1").unwrap();
    let mut pumps = [
        lab.pump("p_seed").unwrap(),
        lab.pump("p_iodide").unwrap(),
        lab.pump("p_ligand").unwrap(),
    ];
    let dye = qdx_spectra::ReferenceDye::coumarin153().with_calibration(
        lab.reference_calibration(
            "spec1",
            &qdx_spectra::ReferenceDye::coumarin153(),
            0.1,
            1.496,
            0.1,
        )
        .unwrap(),
    );
    let mut rng = stream(42, "bench/conditions");
    let start = Instant::now();
    let reference = spec
        .acquire(&req(Illumination::Broadband, 0.05))
        .await
        .unwrap();
    let (mut acquisitions, mut proxies) = (Vec::new(), Vec::new());
    let mut ok = 0;
    for _ in 0..200 {
        let residence: f64 = rng.random_range(10.0..120.0);
        let iodide: f64 = rng.random_range(0.0..0.5);
        let ligand: f64 = rng.random_range(0.0..0.3);
        let temperature: f64 = rng.random_range(298.15..353.15);
        let q = 250.0 * UL / residence;
        for (pump, share) in pumps
            .iter_mut()
            .zip([1.0 - iodide - ligand, iodide, ligand])
        {
            // Below the pump's minimum the stream is left out (a planner would refuse or clamp).
            let rate = if q * share < 0.1 * qdx_sim::presets::UL_PER_MIN {
                0.0
            } else {
                q * share
            };
            pump.set_rate(rate).await.unwrap();
            pump.start().await.unwrap();
        }
        heater.set_setpoint(temperature).await.unwrap();
        clock
            .sleep(Duration::from_secs_f64(3.0 * 259.0 * UL / q))
            .await;
        let mut spectra = Vec::new();
        for (illumination, t) in [
            (Illumination::Dark, 0.05),
            (Illumination::Broadband, 0.05),
            (Illumination::Dark, 0.1),
            (Illumination::Excitation, 0.1),
        ] {
            let t0 = Instant::now();
            spectra.push(spec.acquire(&req(illumination, t)).await.unwrap());
            acquisitions.push(t0.elapsed().as_secs_f64());
        }
        let t0 = Instant::now();
        let (dark_abs, sample, dark_pl, raw_pl) =
            (&spectra[0], &spectra[1], &spectra[2], &spectra[3]);
        if let Ok(a) =
            qdx_spectra::absorbance_spectrum(sample, &reference, dark_abs, Default::default())
            && let Ok(pl) = qdx_spectra::subtract_dark(raw_pl, dark_pl)
        {
            let results = (
                qdx_spectra::peak_wavelength(&pl),
                qdx_spectra::fwhm(&pl),
                qdx_spectra::relative_plqy(&pl, &a, 365.0, &dye, 1.496),
            );
            if results.0.is_ok() && results.1.is_ok() && results.2.is_ok() {
                ok += 1;
            }
        }
        proxies.push(t0.elapsed().as_secs_f64());
    }
    let total = start.elapsed().as_secs_f64();
    println!(
        "200 experiments, 801 acquisitions (1024 px, 5 averages), virtual time {:.1} h",
        clock.now().as_secs_f64() / 3600.0
    );
    println!(
        "per acquisition: median {:.3} ms, p95 {:.3} ms",
        1e3 * quantile(&mut acquisitions, 0.5),
        1e3 * quantile(&mut acquisitions, 0.95)
    );
    println!(
        "per experiment proxies (absorbance, dark subtraction, peak, FWHM, PLQY): median {:.3} ms, p95 {:.3} ms",
        1e3 * quantile(&mut proxies, 0.5),
        1e3 * quantile(&mut proxies, 0.95)
    );
    println!("experiments with all proxies: {ok}/200");
    println!("total wall time: {:.3} s", total);
}
