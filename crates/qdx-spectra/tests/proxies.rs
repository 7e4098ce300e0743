//! Proxies on synthetic spectra with known answers.
#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use proptest::prelude::*;
use qdx_spectra::shapes::{gaussian, linear_grid, lorentzian};
use qdx_spectra::*;

fn spectrum(grid: Vec<f64>, f: impl Fn(f64) -> f64) -> Spectrum {
    Spectrum::from_fn(grid, SpectrumQuantity::Intensity, f).unwrap()
}

/// Grids of different ranges, pixel counts and sub-pixel offsets.
fn grids() -> Vec<Vec<f64>> {
    vec![
        linear_grid(350.0, 800.0, 1024),
        linear_grid(350.3, 799.1, 2048),
        linear_grid(400.17, 750.0, 351),
        linear_grid(300.0, 900.0, 601),
        linear_grid(380.0, 780.0, 200),
    ]
}

#[test]
fn gaussian_peak_and_width_within_a_tenth_of_a_nanometre() {
    for grid in grids() {
        for (center, width) in [(512.37, 19.0), (600.0, 28.5), (455.55, 12.0), (690.2, 36.0)] {
            let s = spectrum(grid.clone(), |x| 1000.0 * gaussian(x, center, width));
            let p = peak_wavelength(&s).unwrap();
            let w = fwhm(&s).unwrap();
            assert_eq!(p.unit, ProxyUnit::Nanometre);
            assert!(
                (p.value - center).abs() < 0.1,
                "peak {} vs {center}",
                p.value
            );
            assert!(
                (w.value - width).abs() < 0.1,
                "fwhm {} vs {width} on {} px",
                w.value,
                grid.len()
            );
        }
    }
}

/// Pixels per FWHM below which a peak is under-sampled and the 0.1 nm promise does not hold.
const MIN_PIXELS_PER_FWHM: f64 = 4.0;

fn spacing(grid: &[f64]) -> f64 {
    (grid[grid.len() - 1] - grid[0]) / (grid.len() - 1) as f64
}

#[test]
fn lorentzian_peak_and_width_within_a_tenth_of_a_nanometre() {
    for grid in grids() {
        for (center, width) in [(512.37, 8.0), (600.4, 12.0), (480.9, 6.0)] {
            if width / spacing(&grid) < MIN_PIXELS_PER_FWHM {
                continue;
            }
            let s = spectrum(grid.clone(), |x| 500.0 * lorentzian(x, center, width));
            let options = ProxyOptions {
                baseline: Baseline::None,
                ..ProxyOptions::default()
            };
            let p = peak_wavelength_with(&s, &options).unwrap();
            let w = fwhm_with(&s, &options).unwrap();
            assert!(
                (p.value - center).abs() < 0.1,
                "peak {} vs {center}",
                p.value
            );
            assert!((w.value - width).abs() < 0.1, "fwhm {} vs {width}", w.value);
            // The default (linear-ends) baseline still places the peak.
            let p = peak_wavelength(&s).unwrap();
            assert!(
                (p.value - center).abs() < 0.1,
                "peak {} vs {center}",
                p.value
            );
        }
    }
}

#[test]
fn a_sloping_baseline_is_removed() {
    for grid in grids() {
        let s = spectrum(grid, |x| {
            200.0 + 0.8 * (x - 350.0) + 3000.0 * gaussian(x, 560.0, 25.0)
        });
        let p = peak_wavelength(&s).unwrap();
        let w = fwhm(&s).unwrap();
        assert!((p.value - 560.0).abs() < 0.1, "peak {}", p.value);
        assert!((w.value - 25.0).abs() < 0.1, "fwhm {}", w.value);
    }
}

#[test]
fn area_of_a_gaussian() {
    let grid = linear_grid(350.0, 800.0, 1024);
    let s = spectrum(grid, |x| 100.0 * gaussian(x, 560.0, 20.0));
    let a = integrated_area(&s, None).unwrap();
    // Area of a Gaussian = height · FWHM · sqrt(pi / (4 ln 2)).
    let expected = 100.0 * 20.0 * (std::f64::consts::PI / (4.0 * std::f64::consts::LN_2)).sqrt();
    assert!((a.value - expected).abs() / expected < 1e-4, "{}", a.value);
    assert_eq!(a.unit, ProxyUnit::CountsNanometre);
    let half = integrated_area(&s, Some((350.0, 560.0))).unwrap();
    assert!((half.value - expected / 2.0).abs() / expected < 1e-3);
    assert_eq!(
        integrated_area(&s, Some((300.0, 500.0))),
        Err(ProxyError::OutOfRange { wavelength: 300.0 })
    );
    assert!(matches!(
        integrated_area(&s, Some((600.0, 500.0))),
        Err(ProxyError::InvalidArgument(_))
    ));
}

#[test]
fn a_peak_on_the_border_is_no_peak() {
    let grid = linear_grid(500.0, 700.0, 400);
    let s = spectrum(grid.clone(), |x| 100.0 * gaussian(x, 500.0, 20.0));
    assert!(matches!(
        peak_wavelength(&s),
        Err(ProxyError::NoPeak { .. })
    ));
    // Maximum inside but the half-height crossing is cut off on the red side.
    let s = spectrum(grid, |x| 100.0 * gaussian(x, 695.0, 30.0));
    assert!(matches!(fwhm(&s), Err(ProxyError::NoPeak { .. })));
}

#[test]
fn flat_and_saturated_spectra_are_typed_errors() {
    let grid = linear_grid(400.0, 700.0, 300);
    let flat = spectrum(grid.clone(), |_| 1000.0);
    assert!(matches!(
        peak_wavelength(&flat),
        Err(ProxyError::NoPeak { .. })
    ));
    assert!(matches!(fwhm(&flat), Err(ProxyError::NoPeak { .. })));
    let saturated = Spectrum::from_fn(grid.clone(), SpectrumQuantity::Counts, |_| 65535.0)
        .unwrap()
        .with_acquisition(0.1, 1, true);
    assert_eq!(peak_wavelength(&saturated), Err(ProxyError::Saturated));
    assert_eq!(
        integrated_area(&saturated, None),
        Err(ProxyError::Saturated)
    );
    let mut values = vec![1.0; 300];
    values[7] = f64::NAN;
    let nan = Spectrum::new(grid, values, SpectrumQuantity::Intensity).unwrap();
    assert_eq!(
        peak_wavelength(&nan),
        Err(ProxyError::NotFinite { index: 7 })
    );
}

#[test]
fn noise_without_a_peak_is_too_noisy() {
    // Deterministic pseudo-noise: a flat spectrum with small fluctuations.
    let grid = linear_grid(400.0, 700.0, 600);
    let s = spectrum(grid, |x| ((x * 12.9898).sin() * 43758.5453).fract());
    assert!(matches!(
        peak_wavelength(&s),
        Err(ProxyError::TooNoisy { .. } | ProxyError::NoPeak { .. })
    ));
}

fn absorbance(grid: Vec<f64>, f: impl Fn(f64) -> f64) -> Spectrum {
    Spectrum::from_fn(grid, SpectrumQuantity::Absorbance, f).unwrap()
}

#[test]
fn absorbance_at_interpolates_and_checks_range() {
    let s = absorbance(linear_grid(350.0, 800.0, 451), |x| 0.001 * (x - 350.0));
    let a = absorbance_at(&s, 365.5).unwrap();
    assert!((a.value - 0.0155).abs() < 1e-12);
    assert_eq!(a.unit, ProxyUnit::Absorbance);
    assert_eq!(
        absorbance_at(&s, 900.0),
        Err(ProxyError::OutOfRange { wavelength: 900.0 })
    );
    let counts = spectrum(linear_grid(350.0, 800.0, 451), |_| 1.0);
    assert!(matches!(
        absorbance_at(&counts, 400.0),
        Err(ProxyError::WrongQuantity { .. })
    ));
}

#[test]
fn first_exciton_on_a_rising_background() {
    for grid in grids() {
        for center in [520.0, 560.3, 605.7] {
            // An exciton as a shoulder on a background that rises steeply toward the blue.
            let s = absorbance(grid.clone(), |x| {
                0.25 * gaussian(x, center, 30.0)
                    + 0.6 * ((center - 10.0 - x) / 40.0).exp().min(50.0)
                    + 0.3 * gaussian(x, center - 90.0, 40.0)
            });
            let p = first_excitonic_peak(&s).unwrap();
            assert!(
                (p.value - center).abs() < 1.5,
                "exciton {} vs {center}",
                p.value
            );
        }
    }
}

#[test]
fn first_exciton_of_a_plain_gaussian_is_exact() {
    let s = absorbance(linear_grid(350.0, 800.0, 1024), |x| {
        0.05 + 0.0002 * (800.0 - x) + 0.4 * gaussian(x, 577.7, 35.0)
    });
    let p = first_excitonic_peak(&s).unwrap();
    assert!((p.value - 577.7).abs() < 0.1, "{}", p.value);
}

#[test]
fn no_exciton_in_a_blank() {
    let s = absorbance(linear_grid(350.0, 800.0, 1024), |_| 0.0);
    assert!(matches!(
        first_excitonic_peak(&s),
        Err(ProxyError::NoPeak { .. })
    ));
}

#[test]
fn relative_plqy_reproduces_the_reference_ratio() {
    let grid = linear_grid(350.0, 800.0, 1024);
    let dye_pl = spectrum(grid.clone(), |x| 1000.0 * gaussian(x, 530.0, 60.0))
        .with_acquisition(0.1, 1, false);
    let dye_area = integrated_area(&dye_pl, None).unwrap().value;
    let dye = ReferenceDye::coumarin153().with_calibration(DyeCalibration {
        integrated_pl: dye_area,
        integration_time_s: 0.1,
        absorbance: 0.05,
    });
    // A sample with half the dye's emission per absorbed photon, same solvent index,
    // measured with twice the integration time.
    let f_dye = absorptance(0.05);
    let a_sample: f64 = 0.2;
    let f_sample = absorptance(a_sample);
    let scale = 0.5 * f_sample / f_dye * 2.0;
    let pl = spectrum(grid.clone(), |x| scale * 1000.0 * gaussian(x, 600.0, 60.0))
        .with_acquisition(0.2, 5, false);
    let abs = absorbance(grid, |x| if x < 500.0 { a_sample } else { 0.0 });
    let phi = relative_plqy(&pl, &abs, 365.0, &dye, 1.361).unwrap();
    assert_eq!(phi.unit, ProxyUnit::Dimensionless);
    assert!((phi.value - 0.53 * 0.5).abs() < 1e-3, "{}", phi.value);
    // Refractive-index correction: toluene vs ethanol.
    let phi_tol = relative_plqy(&pl, &abs, 365.0, &dye, 1.496).unwrap();
    assert!((phi_tol.value / phi.value - (1.496_f64 / 1.361).powi(2)).abs() < 1e-9);
    // No absorption at the excitation wavelength.
    assert!(matches!(
        relative_plqy(&pl, &abs, 700.0, &dye, 1.361),
        Err(ProxyError::NoAbsorption { .. })
    ));
    // An uncalibrated dye cannot give an absolute figure.
    assert!(matches!(
        relative_plqy(&pl, &abs, 365.0, &ReferenceDye::coumarin153(), 1.361),
        Err(ProxyError::InvalidArgument(_))
    ));
    assert!(pl_per_absorbed(&pl, &abs, 365.0).unwrap().value > 0.0);
}

#[test]
fn dark_subtraction_and_absorbance_from_raw_counts() {
    let grid = linear_grid(350.0, 800.0, 256);
    let lamp = |x: f64| 40000.0 * gaussian(x, 575.0, 400.0);
    let sample_a = |x: f64| 0.5 * gaussian(x, 500.0, 40.0);
    let dark = Spectrum::from_fn(grid.clone(), SpectrumQuantity::Counts, |_| 1000.0).unwrap();
    let reference =
        Spectrum::from_fn(grid.clone(), SpectrumQuantity::Counts, |x| 1000.0 + lamp(x)).unwrap();
    let sample = Spectrum::from_fn(grid.clone(), SpectrumQuantity::Counts, |x| {
        1000.0 + lamp(x) * 10f64.powf(-sample_a(x))
    })
    .unwrap();
    let a = absorbance_spectrum(&sample, &reference, &dark, AbsorbanceOptions::default()).unwrap();
    assert_eq!(a.quantity(), SpectrumQuantity::Absorbance);
    for (x, v) in a.wavelength_nm().iter().zip(a.values()) {
        assert!((v - sample_a(*x)).abs() < 1e-9);
    }
    let i = subtract_dark(&reference, &dark).unwrap();
    assert_eq!(i.quantity(), SpectrumQuantity::Intensity);
    assert!((i.values()[100] - lamp(grid[100])).abs() < 1e-9);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// No input makes a proxy panic or return a non-finite value.
    #[test]
    fn proxies_never_panic(
        values in prop::collection::vec(prop_oneof![
            -1e6f64..1e6,
            Just(0.0),
            Just(65535.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
        ], 3..300),
        start in 200.0f64..900.0,
        step in 0.01f64..5.0,
        at in 0.0f64..1200.0,
        saturated in any::<bool>(),
        clipped in prop::collection::vec(0usize..400, 0..5),
        quantity in prop_oneof![
            Just(SpectrumQuantity::Counts),
            Just(SpectrumQuantity::Intensity),
            Just(SpectrumQuantity::Absorbance),
        ],
    ) {
        let grid: Vec<f64> = (0..values.len()).map(|i| start + step * i as f64).collect();
        let s = Spectrum::new(grid, values, quantity)
            .unwrap()
            .with_acquisition(0.1, 1, saturated)
            .with_clipped(clipped);
        let finite = |r: ProxyResult<Measured>| if let Ok(m) = r { assert!(m.value.is_finite()) };
        finite(peak_wavelength(&s));
        finite(fwhm(&s));
        finite(integrated_area(&s, None));
        finite(integrated_area(&s, Some((at, at + 10.0))));
        finite(absorbance_at(&s, at));
        finite(first_excitonic_peak(&s));
        finite(pl_per_absorbed(&s, &s, at));
        let dye = ReferenceDye::fluorescein().with_calibration(DyeCalibration {
            integrated_pl: 1.0, integration_time_s: 0.1, absorbance: 0.1,
        });
        finite(relative_plqy(&s, &s, at, &dye, 1.5));
        finite(qdx_spectra::dichroism::extremum_wavelength(&s));
        finite(qdx_spectra::dichroism::anisotropy(&s, &s, at));
        // The same values as a SAXS pattern over q = λ/1000 (1/nm).
        let q: Vec<f64> = s.wavelength_nm().iter().map(|w| w * 1e-3).collect();
        finite(qdx_spectra::scattering::guinier_radius(&q, s.values()));
        finite(qdx_spectra::scattering::sphere_radius(&q, s.values()));
    }
}

/// Raw sample, reference and dark counts for a sample of absorbance `a(λ)`: a 40 000-count
/// lamp over a 1 000-count dark, with deterministic noise of about 80 counts (read noise of a
/// few averaged scans) on every pixel of the sample and the dark.
fn raw_absorbance(grid: &[f64], a: impl Fn(f64) -> f64) -> (Spectrum, Spectrum, Spectrum) {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut noise = move || {
        // xorshift64*, mapped to a sum of uniforms (roughly Gaussian, deviation ~80 counts)
        let mut sum = 0.0;
        for _ in 0..4 {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let u = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
            sum += u - 0.5;
        }
        sum * 80.0 / (4.0_f64 / 12.0).sqrt()
    };
    let dark_values: Vec<f64> = grid.iter().map(|_| 1000.0 + noise()).collect();
    let sample: Vec<f64> = grid
        .iter()
        .map(|&x| 1000.0 + 40_000.0 * 10f64.powf(-a(x)) + noise())
        .collect();
    let counts = |v: Vec<f64>| Spectrum::new(grid.to_vec(), v, SpectrumQuantity::Counts).unwrap();
    (
        counts(sample),
        counts(grid.iter().map(|_| 41_000.0).collect()),
        counts(dark_values),
    )
}

fn measured_absorbance(grid: &[f64], a: impl Fn(f64) -> f64) -> Spectrum {
    let (s, r, d) = raw_absorbance(grid, a);
    absorbance_spectrum(&s, &r, &d, AbsorbanceOptions::default()).unwrap()
}

/// A dense sample: an absorption band far past the 3 AU limit below 450 nm, a weak tail and an
/// exciton at `exciton` nm (0.3 AU) on the red side.
fn dense(grid: &[f64], exciton: f64) -> Spectrum {
    measured_absorbance(grid, |x| {
        6.0 / (1.0 + ((x - 440.0) / 3.0).exp()) + 0.05 + 0.3 * gaussian(x, exciton, 25.0)
    })
}

#[test]
fn absorbance_in_a_clipped_band_is_a_failed_measurement_not_a_value() {
    let grid = linear_grid(350.0, 800.0, 1024);
    let s = dense(&grid, 600.0);
    assert!(!s.clipped().is_empty());
    // Every wavelength inside the band fails, whether or not the two pixels read happen to be
    // clipped (noise lifts about half of them to a finite absorbance near the limit).
    for w in [360.0, 380.4, 400.0, 412.7, 425.0] {
        match absorbance_at(&s, w) {
            Err(ProxyError::Clipped { from_nm, to_nm }) => {
                assert!(
                    from_nm <= to_nm && (from_nm - w).abs() <= 3.0,
                    "{from_nm} at {w}"
                );
                let message = ProxyError::Clipped { from_nm, to_nm }.to_string();
                assert!(message.contains("beyond what can be measured"), "{message}");
            }
            other => panic!("absorbance at {w} nm in the clipped band gave {other:?}"),
        }
    }
    // Outside the band the value is a measurement.
    let a = absorbance_at(&s, 600.0).unwrap().value;
    assert!((a - 0.35).abs() < 0.02, "{a}");
}

#[test]
fn a_clipped_band_hides_an_exciton_but_not_one_to_its_red() {
    let grid = linear_grid(350.0, 800.0, 1024);
    // The exciton sits inside the clipped band: the corner of the plateau must not be
    // reported as an exciton.
    let hidden = dense(&grid, 430.0);
    assert!(
        matches!(
            first_excitonic_peak(&hidden),
            Err(ProxyError::Clipped { .. })
        ),
        "{:?}",
        first_excitonic_peak(&hidden)
    );
    // Far to the red of the band it is found as before.
    let seen = dense(&grid, 620.0);
    let p = first_excitonic_peak(&seen).unwrap().value;
    assert!((p - 620.0).abs() < 3.0, "{p}");
    // Areas and peaks that read the band fail too; an area away from it does not.
    assert!(matches!(
        integrated_area(&seen, Some((400.0, 500.0))),
        Err(ProxyError::Clipped { .. })
    ));
    assert!(matches!(
        peak_wavelength(&seen),
        Err(ProxyError::Clipped { .. })
    ));
    assert!(integrated_area_with(&seen, Some((550.0, 700.0)), Baseline::None).is_ok());
}

#[test]
fn relative_plqy_with_a_clipped_excitation_wavelength_fails() {
    let grid = linear_grid(350.0, 800.0, 1024);
    let abs = dense(&grid, 600.0);
    let pl = spectrum(grid.clone(), |x| 1e4 * gaussian(x, 620.0, 25.0));
    let dye = ReferenceDye::coumarin153().with_calibration(DyeCalibration {
        integrated_pl: 1e5,
        integration_time_s: 0.1,
        absorbance: 0.05,
    });
    assert!(matches!(
        relative_plqy(&pl, &abs, 365.0, &dye, 1.496),
        Err(ProxyError::Clipped { .. })
    ));
    assert!(matches!(
        pl_per_absorbed(&pl, &abs, 365.0),
        Err(ProxyError::Clipped { .. })
    ));
}
