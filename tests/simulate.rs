//! The simulated lab as a campaign drives it: the chemistry a campaign's stocks make, and what
//! the measurement makes of it.

use qdx::runtime::{RunOptions, run_simulated};

use crate::support::{check_text, rendered};

fn options() -> RunOptions {
    RunOptions {
        progress: qdx::runtime::Progress::Off,
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
    let mut reader =
        csv::Reader::from_path(dir.path().join("b/observations.csv")).expect("observations");
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("a row").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// A formula over a proxy that failed names that proxy and its reason, not only itself: the
/// journal and the CSV hold the first cause of a failed experiment (issue 14, item 9).
#[test]
fn a_failed_experiment_names_its_first_cause() {
    let example =
        std::fs::read_to_string("examples/cdse-grid-screen.qdx").expect("the grid example");
    let mut text = example.clone();
    for (from, to) in [
        // Through a 10 mm path the dots' exciton absorbance cannot be measured: the first cause.
        ("path_length 0.5 mm", "path_length 10 mm"),
        (
            "  exciton = absorbance.first_excitonic_peak()\n",
            "  exciton = absorbance.first_excitonic_peak()\n  diameter = exciton * 2\n",
        ),
        (
            "  maximize intensity\n",
            "  maximize diameter in 400 nm .. 1200 nm\n",
        ),
        (
            "    residence [30 s, 60 s, 120 s, 240 s]",
            "    residence [30 s]",
        ),
        (
            "    cd_fraction [0.25, 0.5, 0.75]",
            "    cd_fraction [0.25]",
        ),
        (
            "    temperature [240 degC, 260 degC, 280 degC, 300 degC]",
            "    temperature [240 degC]",
        ),
    ] {
        assert!(text.contains(from), "the example no longer has `{from}`");
        text = text.replace(from, to);
    }
    let (header, rows) = observe(&text);
    let row = rows.first().expect("one experiment");
    assert_eq!(column(&header, row, "status"), "failed");
    let reason = column(&header, row, "reason");
    assert!(
        reason.starts_with("diameter: it reads `exciton`, which failed: the absorbance at")
            && reason.contains("beyond what can be measured"),
        "{reason}"
    );
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

/// Dense seeds diluted by `dilution` of the flow: 90 % seeds first, then 1 %. The absorbance
/// at 420 nm is the objective, and a stop condition asks for at least 1.5 AU; a script reads the
/// highest absorbance of the spectrum.
fn dense_campaign() -> String {
    r#"qdx 1
campaign "saturate" {
  seed 5
  budget { experiments 2 }
}
use std.devices
use std.spectra
stocks {
  seeds "CsPbBr3" in p_seed { concentration 0.2 mol/L }
  solvent "toluene" in p_solvent { concentration 0 mol/L }
  iodide "ZnI2" in p_iodide { concentration 0.05 mol/L, halide "I" }
}
reactor {
  pump p_seed : syringe_pump { syringe 20 mL, max_rate 2 mL/min }
  pump p_solvent : syringe_pump { syringe 20 mL, max_rate 2 mL/min }
  pump p_iodide : syringe_pump { syringe 20 mL, max_rate 2 mL/min }
  mixer m1 : t_mixer { volume 1 uL }
  coil r1 : reactor_coil { volume 100 uL }
  cell s1 : flow_cell { volume 2 uL, path_length 1 mm, spectrometer spec1 }
  spectrometer spec1 : uv_vis_pl { range 350 nm .. 800 nm, excitation 365 nm }
  outlet waste : collector
  p_seed, p_solvent, p_iodide -> m1 -> r1 -> s1 -> waste
}
variables {
  dilution : ratio in 0 .. 0.89
}
derive {
  total_flow = r1.volume / 30 s
  p_seed.rate = total_flow * (0.9 - dilution)
  p_iodide.rate = total_flow * 0.1
  p_solvent.rate = total_flow * dilution
}
measure at s1 {
  steady_state after 3 reactor_volumes
  absorbance { integration 50 ms, average 5 }
}
proxies {
  a = absorbance.absorbance_at(420 nm)
  top = script """
    let m = 0.0;
    for v in absorbance.values { if v > m { m = v } }
    m
"""
}
objectives {
  maximize a
  stop when a >= 1.5
}
optimizer grid {
  levels { dilution [0, 0.89] }
}
simulate cspbx3_halide_exchange { seeds seeds, halide iodide }
"#
    .to_owned()
}

#[test]
fn saturated_absorbance_fails_the_experiment_and_never_stops_the_run() {
    let text = dense_campaign();
    let checked = check_text("campaign.qdx", &text);
    let report = rendered(&checked);
    let c = checked.campaign.unwrap_or_else(|| panic!("{report}"));
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let summary = run_simulated(&c, &out, &options()).expect("run");
    let obs = std::fs::read_to_string(out.join("observations.csv")).expect("observations");
    let rows: Vec<Vec<&str>> = obs.lines().map(|l| l.split(',').collect()).collect();
    let header = rows.first().expect("header").clone();
    let col = |row: &[&str], name: &str| -> String {
        let i = header.iter().position(|h| *h == name).expect(name);
        row.get(i).copied().unwrap_or("").to_owned()
    };
    let (Some(dense), Some(dilute)) = (rows.get(1), rows.get(2)) else {
        panic!("two experiments: {obs}")
    };
    // 90 % of the flow as seeds absorbs far past 3 AU at 420 nm: no value, a failed
    // measurement with the reason. Before, a clipped or noise-lifted ~2-3 AU was a success
    // and the stop condition (a >= 1.5) ended the run on it.
    assert_eq!(col(dense, "status"), "failed", "{obs}");
    assert_eq!(col(dense, "a"), "", "{obs}");
    // A script reads whole spectra: it gets no value from a clipped one (before: 3, the clip).
    assert_eq!(col(dense, "top"), "", "{obs}");
    let reason = col(dense, "reason");
    insta::assert_snapshot!(reason);
    // The dilute sample is measured and the run goes on to spend its budget.
    assert_eq!(col(dilute, "status"), "ok", "{obs}");
    let a: f64 = col(dilute, "a").parse().expect("a value");
    assert!(a > 0.05 && a < 1.5, "{a}");
    let top: f64 = col(dilute, "top").parse().expect("a value");
    assert!(top > a && top < 3.0, "{top}");
    assert_eq!((summary.experiments, summary.failed), (2, 1), "{summary:?}");
    assert!(summary.stop_reason.contains("budget"), "{summary:?}");
}

/// A virtual lab (`simulate_block`, with `files` next to the campaign) measuring one variable
/// `x` in 0 .. 1 and a temperature `t` in 20 .. 30 °C; the proxies `peak` and `temp` read its
/// readings, and the objective is a target in nm. The observations of a three-experiment run.
fn virtual_lab_run(simulate_block: &str, files: &[(&str, &str)]) -> Vec<Vec<String>> {
    let text = format!(
        "qdx 1\n\ncampaign \"units\" {{\n  seed 1\n  budget {{ experiments 3 }}\n}}\n\n\
         variables {{\n  x : number in 0 .. 1\n  t : temperature in 20 degC .. 30 degC\n}}\n\n\
         proxies {{\n  peak = readings.peak\n  temp = readings.temp\n}}\n\n\
         objectives {{\n  target peak = 530 nm within 5 nm\n}}\n\n\
         optimizer bayesian {{\n  initial sobol 3\n}}\n\n{simulate_block}\n"
    );
    let mut world = qdx::world::MemoryWorld::new().with("c/units.qdx", text.as_str());
    for (name, content) in files {
        world = world.with(format!("c/{name}"), *content);
    }
    let loaded = qdx::load::load(&world, std::path::Path::new("c/units.qdx"), "c/units.qdx");
    let checked = qdx::validate::validate(&loaded, &world);
    let report = rendered(&checked);
    let c = checked.campaign.unwrap_or_else(|| panic!("{report}"));
    let dir = tempfile::tempdir().expect("temp");
    run_simulated(&c, &dir.path().join("b"), &options()).expect("run");
    let obs = std::fs::read_to_string(dir.path().join("b/observations.csv")).expect("observations");
    obs.lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn units_give_a_virtual_labs_readings_their_unit() {
    // A script reads `t` in kelvin and reports `peak` in nm and `temp` in kelvin.
    let rows = virtual_lab_run(
        "simulate script \"m.rhai\" { outputs [peak, temp], units { peak nm, temp K, t K } }",
        &[("m.rhai", "#{ peak: 500.0 + 100.0 * x, temp: t }")],
    );
    let (header, rows) = rows.split_first().expect("a header");
    assert_eq!(rows.len(), 3);
    for row in rows {
        assert_eq!(column(header, row, "status"), "ok", "{row:?}");
        let number = |name: &str| -> f64 { column(header, row, name).parse().expect(name) };
        // The proxies are lengths and temperatures, shown in the readings' units.
        let peak = number("peak [nm]");
        assert!(
            (peak - (500.0 + 100.0 * number("x"))).abs() < 1e-9,
            "{row:?}"
        );
        let kelvin = number("temp [K]");
        assert!(
            (kelvin - (number("t [degC]") + 273.15)).abs() < 1e-9,
            "{row:?}"
        );
    }
    // A table's output column in nm, read by a proxy the objective compares with 530 nm.
    let table = "x,t,peak,temp\n0,20,510,293.15\n0.5,25,530,298.15\n1,30,550,303.15\n";
    let rows = virtual_lab_run(
        "simulate table \"t.csv\" { mode pool, outputs [peak, temp], units { peak nm, temp K } }",
        &[("t.csv", table)],
    );
    let (header, rows) = rows.split_first().expect("a header");
    let best = rows
        .iter()
        .find(|r| column(header, r, "x") == "0.5")
        .expect("the row at x = 0.5");
    assert_eq!(column(header, best, "peak [nm]"), "530");
    assert_eq!(column(header, best, "temp [K]"), "298.15");
    assert_eq!(column(header, best, "desirability:peak"), "1");
}

#[test]
fn a_table_separated_by_semicolons_with_headers_that_are_not_names_runs() {
    // As a spreadsheet exports it: `;` between fields, headers written for people.
    let table = "x;V (PbBr2 prec.);PLQY / %\n0;1;50\n0.5;2;70\n1;3;20\n";
    let text = "qdx 1\n\ncampaign \"semicolons\" {\n  seed 1\n  budget { experiments 3 }\n}\n\n\
        variables {\n  x : number in 0 .. 1\n  v_pbbr2 : number in 1 .. 3\n}\n\n\
        proxies {\n  plqy = readings.plqy\n}\n\nobjectives {\n  maximize plqy\n}\n\n\
        optimizer bayesian {\n  initial sobol 3\n}\n\n\
        simulate table \"runs.csv\" {\n  mode pool\n  outputs [plqy]\n  \
        columns { v_pbbr2 \"V (PbBr2 prec.)\", plqy \"PLQY / %\" }\n}\n";
    let world = qdx::world::MemoryWorld::new()
        .with("c/semicolons.qdx", text)
        .with("c/runs.csv", table);
    let loaded = qdx::load::load(
        &world,
        std::path::Path::new("c/semicolons.qdx"),
        "c/semicolons.qdx",
    );
    let checked = qdx::validate::validate(&loaded, &world);
    let report = rendered(&checked);
    let c = checked.campaign.unwrap_or_else(|| panic!("{report}"));
    let dir = tempfile::tempdir().expect("temp");
    let summary = run_simulated(&c, &dir.path().join("b"), &options()).expect("run");
    assert_eq!((summary.experiments, summary.failed), (3, 0), "{summary:?}");
    let obs = std::fs::read_to_string(dir.path().join("b/observations.csv")).expect("observations");
    let rows: Vec<Vec<String>> = obs
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    let (header, rows) = rows.split_first().expect("a header");
    let row = rows
        .iter()
        .find(|r| column(header, r, "x") == "0.5")
        .expect("the row at x = 0.5");
    assert_eq!(column(header, row, "v_pbbr2"), "2");
    assert_eq!(column(header, row, "plqy"), "70");
}

/// Issue 14: every device value either is a located error of check or runs on the simulated
/// lab; none passes check and then stops the run when the simulated lab is built. Each case
/// edits `tiny.qdx` and names the error code check gives, or `None` when the value runs.
#[test]
fn every_value_check_accepts_the_simulated_lab_runs() {
    let tiny = include_str!("data/cli/tiny.qdx");
    let heater = "heater h1 : heater { range 20 degC .. 320 degC }";
    let cases: [(&str, &str, Option<&str>); 13] = [
        // A pixel count the simulated detector lacks shapes only the simulated spectra.
        ("excitation 405 nm", "excitation 405 nm, pixels 8", None),
        // A kind of the campaign's own may leave its setpoint unbounded.
        (
            "heater h1 : heater { range 20 degC .. 320 degC }",
            "heater h1 : open_heater { }",
            None,
        ),
        // −1 °C and 0 K are temperatures: a heater's range may start there.
        (
            heater,
            "heater h1 : heater { range -1 degC .. 320 degC }",
            None,
        ),
        (heater, "heater h1 : heater { range 0 K .. 320 degC }", None),
        (
            heater,
            "heater h1 : heater { range 20 degC .. 320 degC, time_constant -0 s }",
            Some("qdx::validate::time_range"),
        ),
        (
            heater,
            "heater h1 : heater { range 20 degC .. 320 degC, time_constant 0 s }",
            Some("qdx::validate::time_range"),
        ),
        (
            "excitation 405 nm",
            "excitation -1 nm",
            Some("qdx::validate::not_positive"),
        ),
        (
            "excitation 405 nm",
            "excitation 0 nm",
            Some("qdx::validate::not_positive"),
        ),
        (
            "flow_cell { volume 2 uL,",
            "flow_cell { volume 2 uL, path_length -1 mm,",
            Some("qdx::validate::not_positive"),
        ),
        (
            "range 400 nm .. 750 nm",
            "range -10 nm .. 750 nm",
            Some("qdx::validate::not_positive"),
        ),
        (
            "range 400 nm .. 750 nm",
            "range 400 nm .. 400 nm",
            Some("qdx::validate::empty_range"),
        ),
        (
            "p_cd : syringe_pump { syringe 10 mL",
            "p_cd : syringe_pump { syringe 0 mL",
            Some("qdx::validate::not_positive"),
        ),
        (
            "maximize peak",
            "maximize peak in 0 nm .. 1 nm / 0",
            Some("qdx::validate::not_finite"),
        ),
    ];
    for (from, to, expected) in cases {
        assert!(tiny.contains(from), "{from}");
        let text = tiny.replacen(from, to, 1).replacen(
            "use std.spectra",
            "use std.spectra\n\nkind open_heater : heater {\n  setting setpoint : temperature\n}",
            1,
        );
        let checked = check_text("tiny.qdx", &text);
        let report = rendered(&checked);
        match (expected, checked.campaign) {
            (None, Some(c)) => {
                let dir = tempfile::tempdir().expect("temp");
                run_simulated(&c, &dir.path().join("b"), &options())
                    .unwrap_or_else(|e| panic!("`{to}` passed check, then the run failed: {e}"));
            }
            (Some(code), None) => {
                let errors: Vec<_> = checked
                    .diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .collect();
                assert!(
                    errors.iter().any(|d| d.code == code),
                    "`{to}`: expected {code}:\n{report}"
                );
                for d in errors {
                    assert!(
                        d.primary_span().and_then(|s| s.range()).is_some(),
                        "`{to}`: `{}` has no location",
                        d.message
                    );
                }
            }
            (None, None) => panic!("`{to}` should check:\n{report}"),
            (Some(code), Some(_)) => panic!("`{to}` should fail check with {code}"),
        }
    }
}

/// `columns` maps a composition's part by the part's own name, but not one that two
/// compositions share: that stays the located error, listing the inputs by full name.
#[test]
fn a_part_name_two_compositions_share_cannot_map_a_column() {
    let table = "first.a,q,second.a,n,y\n0.5,0.5,0.2,0.8,1\n1,0,0.5,0.5,2\n";
    let text = "qdx 1\n\ncampaign \"parts\" {\n  seed 1\n  budget { experiments 2 }\n}\n\n\
        variables {\n  first : composition { a, b } total 1\n  second : composition { a, c } total 1\n}\n\n\
        proxies {\n  y = readings.y\n}\n\nobjectives {\n  maximize y\n}\n\n\
        simulate table \"runs.csv\" {\n  outputs [y]\n  \
        columns { a \"p\", b \"q\", c \"n\" }\n}\n";
    let world = qdx::world::MemoryWorld::new()
        .with("c/parts.qdx", text)
        .with("c/runs.csv", table);
    let loaded = qdx::load::load(&world, std::path::Path::new("c/parts.qdx"), "c/parts.qdx");
    let checked = qdx::validate::validate(&loaded, &world);
    assert!(checked.campaign.is_none());
    insta::assert_snapshot!(rendered(&checked));
}
