//! The simulated lab as a campaign drives it: the chemistry a campaign's stocks make, and what
//! the measurement makes of it.

use qdx::runtime::{RunOptions, run_simulated};

use crate::support::{check_text, rendered};

fn options() -> RunOptions {
    RunOptions {
        progress: false,
        sync_each: false,
        halt_after: None,
    }
}

/// The observations of a simulated run of `text`: header and rows, split at commas.
fn observe(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let checked = check_text("campaign.qdx", text);
    let report = rendered(&checked);
    let c = checked.campaign.unwrap_or_else(|| panic!("{report}"));
    let dir = tempfile::tempdir().expect("temp");
    run_simulated(&c, &dir.path().join("b"), &options()).expect("run");
    let obs = std::fs::read_to_string(dir.path().join("b/observations.csv")).expect("observations");
    let split = |l: &str| l.split(',').map(str::to_owned).collect::<Vec<_>>();
    let mut lines = obs.lines();
    let header = split(lines.next().expect("header"));
    (header, lines.map(split).collect())
}

fn column<'a>(header: &[String], row: &'a [String], name: &str) -> &'a str {
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    row.get(i).map_or("", String::as_str)
}

/// CsPbBr3 seeds (half the flow) with an iodide stock and a second stock at fixed shares of
/// the flow: bromide (ZnBr2, `halide "Br"`) or, with `bromide` false, plain solvent in its
/// place. `roles` is what the simulate block says beyond the seeds.
fn halide_campaign(iodide: f64, bromide: bool, roles: &str) -> String {
    let second = if bromide {
        r#"bromide "ZnBr2" in p_second { concentration 0.05 mol/L, halide "Br" }"#
    } else {
        r#"solvent "toluene" in p_second { concentration 0 mol/L }"#
    };
    let other = 0.5 - iodide;
    format!(
        r#"qdx 1
campaign "halides" {{
  seed 11
  budget {{ experiments 1 }}
}}
use std.devices
use std.spectra
stocks {{
  seeds "CsPbBr3" in p_seed {{ concentration 0.01 mol/L }}
  iodide "ZnI2" in p_iodide {{ concentration 0.05 mol/L, halide "I" }}
  {second}
}}
reactor {{
  pump p_seed : syringe_pump {{ syringe 20 mL, max_rate 2 mL/min }}
  pump p_iodide : syringe_pump {{ syringe 20 mL, max_rate 2 mL/min }}
  pump p_second : syringe_pump {{ syringe 20 mL, max_rate 2 mL/min }}
  mixer m1 : t_mixer {{ volume 1 uL }}
  coil r1 : reactor_coil {{ volume 100 uL }}
  cell s1 : flow_cell {{ volume 2 uL, spectrometer spec1 }}
  spectrometer spec1 : uv_vis_pl {{ range 350 nm .. 800 nm, excitation 365 nm }}
  outlet waste : collector
  p_seed, p_iodide, p_second -> m1 -> r1 -> s1 -> waste
}}
variables {{
  iodide_frac : ratio in 0 .. 0.5
}}
derive {{
  total_flow = r1.volume / 30 s
  p_iodide.rate = total_flow * iodide_frac
  p_second.rate = total_flow * {other}
  p_seed.rate = total_flow * 0.5
}}
measure at s1 {{
  steady_state after 3 reactor_volumes
  photoluminescence {{ integration 100 ms, average 5 }}
}}
proxies {{
  peak = photoluminescence.peak_wavelength()
}}
optimizer grid {{
  levels {{ iodide_frac [{iodide}] }}
}}
simulate cspbx3_halide_exchange {{ seeds seeds{roles} }}
"#
    )
}

fn pl_peak(text: &str) -> f64 {
    let (header, rows) = observe(text);
    let row = rows.first().expect("one experiment");
    assert_eq!(column(&header, row, "status"), "ok", "{row:?}");
    column(&header, row, "peak [nm]")
        .parse()
        .unwrap_or_else(|_| panic!("a peak in {row:?}"))
}

#[test]
fn a_bromide_stock_makes_green_cspbbr3_not_red() {
    // Before: every halide that was not "Cl" was simulated as iodide (red, ~600 nm).
    let peak = pl_peak(&halide_campaign(0.0, true, ", halide bromide"));
    assert!((500.0..=520.0).contains(&peak), "{peak} nm");
}

#[test]
fn every_halide_stock_feeds_the_mixed_halide_exchange() {
    let iodide = pl_peak(&halide_campaign(0.25, false, ", halide iodide"));
    assert!(iodide > 600.0, "{iodide} nm");
    // Bromide in place of solvent dilutes the iodide: the emission lands between CsPbBr3 and
    // the iodide alone,
    // however the stocks are named (a list, the role twice, or not at all: a stock that
    // declares a halide feeds the mix anyway). Before, the second stock was ignored.
    let mut mixed = Vec::new();
    for roles in [
        ", halide [iodide, bromide]",
        ", halide iodide, halide bromide",
        ", halide bromide, halide iodide",
        ", halide iodide",
    ] {
        let peak = pl_peak(&halide_campaign(0.25, true, roles));
        assert!(
            peak > 530.0 && peak < iodide - 10.0,
            "{roles}: {peak} vs {iodide} nm"
        );
        mixed.push(peak);
    }
    // The same chemistry (and seed) whichever way it is written.
    assert!(mixed.windows(2).all(|w| w[0] == w[1]), "{mixed:?}");
}
