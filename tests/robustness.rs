//! No input makes qdx panic: random text, and mutated examples that are close to valid.

use proptest::prelude::*;

use crate::support::{check_text, rendered};

/// 400 cases per property in the test suite; `QDX_FUZZ_CASES=20000 cargo test --release …`
/// for a longer search.
fn cases() -> u32 {
    std::env::var("QDX_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(400)
}

fn examples() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .expect("examples")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "qdx"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    texts.sort();
    texts
}

/// Pieces of the language, so mutations produce near-valid files.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "->",
    "..",
    "=",
    "+",
    "-",
    "*",
    "/",
    "^",
    "<=",
    ">=",
    "within",
    "and",
    "not",
    "10 uL/min",
    "25 degC",
    "0",
    "-1",
    "1e308",
    "nm",
    "mL",
    "\"",
    "\"\"\"",
    "//",
    "/*",
    "residence",
    "p_seed",
    "r1.volume",
    "total_flow",
    "reactor_volumes",
    "stocks",
    "reactor",
    "variables",
    "derive",
    "objectives",
    "optimizer grid",
    "use \"../x.qdx\"",
    "\n",
    " ",
    "µL",
    "°C",
    "é",
    "\u{0}",
];

fn mutate(text: &str, edits: &[(usize, usize, usize)]) -> String {
    let mut bytes: Vec<char> = text.chars().collect();
    for &(pos, len, token) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = pos % bytes.len();
        let end = (at + len % 12).min(bytes.len());
        let tok: Vec<char> = TOKENS[token % TOKENS.len()].chars().collect();
        bytes.splice(at..end, tok);
    }
    bytes.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,400}") {
        let _ = check_text("random.qdx", &text);
    }

    #[test]
    fn mutated_examples_never_panic(which in 0usize..16, edits in proptest::collection::vec((0usize..100_000, 0usize..40, 0usize..200), 1..6)) {
        let texts = examples();
        let base = &texts[which % texts.len()];
        let text = mutate(base, &edits);
        let checked = check_text("mutated.qdx", &text);
        // Whatever happens, an error points somewhere.
        for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
            prop_assert!(d.primary_span().is_some(), "error without a place: {}", d.message);
        }
    }
}

// ───────────────────────── generated campaigns through plan and a short run ─────────────────────────

/// A campaign assembled from the parts of the CdSe screen with drawn numbers and strategy: it
/// often checks clean, so it reaches the planner and the simulated lab, unlike random text.
#[derive(Debug, Clone)]
struct Drawn {
    strategy: usize,
    experiments: u64,
    seed: u64,
    coil_ul: f64,
    max_rate_ul_min: f64,
    residence: (f64, f64),
    temperature: (f64, f64),
    volumes: f64,
    settle: (f64, f64),
    integration_ms: f64,
    average: u64,
}

/// Mostly plausible numbers, with a share of extreme ones, tied together so that most drawn
/// campaigns check clean (the flow a residence time asks for stays below the pumps' limit).
fn drawn() -> impl Strategy<Value = Drawn> {
    (
        (0usize..8, 1u64..4, any::<u64>()),
        (
            prop_oneof![4 => 1.0f64..2000.0, 1 => Just(0.01), 1 => Just(1e5)],
            prop_oneof![4 => 10.0f64..20_000.0, 1 => Just(1e6)],
        ),
        (
            1.0f64..3.0,
            prop_oneof![4 => 0.0f64..5000.0, 1 => Just(1e6)],
        ),
        (20.0f64..300.0, 0.0f64..100.0),
        (
            prop_oneof![4 => 0.5f64..10.0, 1 => Just(100.0)],
            0.01f64..5.0,
            prop_oneof![4 => 0.0f64..600.0, 1 => Just(86_400.0)],
        ),
        (prop_oneof![4 => 1.0f64..500.0, 1 => Just(0.1)], 1u64..20),
    )
        .prop_map(
            |(
                (strategy, experiments, seed),
                (coil_ul, max_rate_ul_min),
                (margin, dr),
                (t0, dt),
                (volumes, s0, s1),
                (integration_ms, average),
            )| {
                // Two pumps share the flow; the residence time's lower end keeps each below its
                // limit with `margin` to spare.
                let r0 = coil_ul / max_rate_ul_min * 60.0 * margin;
                Drawn {
                    strategy,
                    experiments,
                    seed,
                    coil_ul,
                    max_rate_ul_min,
                    residence: (r0, r0 + dr),
                    temperature: (t0, t0 + dt),
                    volumes,
                    settle: (s0, s1),
                    integration_ms,
                    average,
                }
            },
        )
}

fn campaign_text(d: &Drawn) -> String {
    let (optimizer, experiments) = match d.strategy {
        0 => ("optimizer random".to_owned(), d.experiments),
        1 => ("optimizer sobol".to_owned(), d.experiments),
        2 => ("optimizer latin_hypercube".to_owned(), d.experiments),
        3 => (
            format!(
                "optimizer grid {{\n  levels {{\n    residence 2\n    cd_fraction [0.5]\n    temperature [{} degC]\n  }}\n}}",
                d.temperature.0
            ),
            2,
        ),
        4 => (
            "optimizer bayesian {\n  initial sobol 2\n}".to_owned(),
            d.experiments + 2,
        ),
        5 => (
            "optimizer snobfit {\n  initial latin_hypercube 2\n}".to_owned(),
            d.experiments + 2,
        ),
        6 => (
            "optimizer nelder_mead {\n  initial sobol 2\n}".to_owned(),
            d.experiments + 2,
        ),
        _ => (
            "optimizer evolutionary {\n  initial random 2\n}".to_owned(),
            d.experiments + 2,
        ),
    };
    format!(
        r#"qdx 1
campaign "drawn" {{
  seed {seed}
  budget {{ experiments {experiments} }}
}}
use std.devices
use std.spectra
stocks {{
  cadmium "Cd oleate" in p_cd {{ concentration 0.1 mol/L }}
  selenium "TOP-Se" in p_se {{ concentration 0.1 mol/L }}
}}
reactor {{
  pump p_cd : syringe_pump {{ syringe 10 mL, max_rate {rate} uL/min }}
  pump p_se : syringe_pump {{ syringe 10 mL, max_rate {rate} uL/min }}
  mixer m1 : cross_mixer {{ volume 1 uL }}
  coil r1 : reactor_coil {{ volume {coil} uL, heater h1 }}
  heater h1 : heater {{ range 20 degC .. 420 degC }}
  cell s1 : flow_cell {{ volume 2 uL, spectrometer spec1 }}
  spectrometer spec1 : uv_vis_pl {{ range 400 nm .. 750 nm, excitation 405 nm }}
  outlet waste : collector
  p_cd, p_se -> m1 -> r1 -> s1 -> waste
}}
variables {{
  residence : time in {r0} s .. {r1} s
  cd_fraction : ratio in 0.25 .. 0.75
  temperature : temperature in {t0} degC .. {t1} degC -> h1
}}
derive {{
  total_flow = r1.volume / residence
  p_cd.rate = total_flow * cd_fraction
  p_se.rate = total_flow * (1 - cd_fraction)
}}
measure at s1 {{
  steady_state after {volumes} reactor_volumes
  settle within {s0} degC for {s1} s
  absorbance {{ integration {integration} ms, average {average} }}
  photoluminescence {{ integration {integration} ms, average {average} }}
}}
proxies {{
  peak = photoluminescence.peak_wavelength()
  intensity = photoluminescence.peak_intensity()
}}
objectives {{
  maximize intensity
}}
{optimizer}
safety {{
  temperature <= 410 degC
  on pump_stall : stop_all, pause
}}
simulate cdse_growth {{ cadmium cadmium, selenium selenium }}
"#,
        seed = d.seed,
        rate = d.max_rate_ul_min,
        coil = d.coil_ul,
        r0 = d.residence.0,
        r1 = d.residence.1,
        t0 = d.temperature.0,
        t1 = d.temperature.1,
        volumes = d.volumes,
        s0 = d.settle.0,
        s1 = d.settle.1,
        integration = d.integration_ms,
        average = d.average,
    )
}

/// Plans a checked campaign and, when the plan is accepted, runs at most two experiments of it
/// on the simulated lab. Errors are fine; panics are not. Returns whether a run happened.
fn plan_and_run(campaign: &qdx::validate::Campaign) -> bool {
    let sources = qdx::source::SourceMap::new();
    match qdx::plan::plan(campaign) {
        Ok(plan) => {
            let _ = qdx::plan::render::text(campaign, &plan);
            let _ = qdx::plan::render::dot(campaign, &plan);
        }
        Err(diags) => {
            let _ = qdx::diagnostic::render_all(&diags, &sources, qdx::diagnostic::Style::Plain);
            return false;
        }
    }
    let mut short = campaign.clone();
    short.budget.experiments = Some(short.budget.experiments.map_or(2, |n| n.min(2)));
    let dir = tempfile::tempdir().expect("temp folder");
    let options = qdx::runtime::RunOptions {
        progress: false,
        sync_each: false,
        halt_after: None,
    };
    let _ = qdx::runtime::run_simulated(&short, &dir.path().join("bundle"), &options);
    true
}

/// Fewer cases than the text properties: every case that checks clean plans and runs.
fn run_cases() -> u32 {
    (cases() / 10).max(8)
}

/// Drawn campaigns go through check, plan and a short run; a good share of them get that far
/// (the property would be vacuous if every drawn campaign failed to check).
#[test]
fn drawn_campaigns_plan_and_run_without_panic() {
    let config = ProptestConfig {
        cases: run_cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let ran = std::sync::atomic::AtomicU32::new(0);
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let outcome = runner.run(&drawn(), |d| {
        let checked = check_text("drawn.qdx", &campaign_text(&d));
        let _ = rendered(&checked);
        if let Some(campaign) = &checked.campaign
            && plan_and_run(campaign)
        {
            ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    let ran = ran.into_inner();
    assert!(
        ran * 4 >= run_cases(),
        "only {ran} of {} drawn campaigns reached a run",
        run_cases()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: run_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_examples_plan_and_run_without_panic(which in 0usize..16, edits in proptest::collection::vec((0usize..100_000, 0usize..40, 0usize..200), 1..3)) {
        let texts = examples();
        let base = &texts[which % texts.len()];
        let text = mutate(base, &edits);
        let checked = check_text("mutated.qdx", &text);
        if let Some(campaign) = &checked.campaign {
            plan_and_run(campaign);
        }
    }
}

/// The generator is not vacuous: the unchanged skeleton checks clean, plans and runs.
#[test]
fn the_drawn_campaign_skeleton_checks_plans_and_runs() {
    for strategy in 0..8 {
        let d = Drawn {
            strategy,
            experiments: 2,
            seed: 3,
            coil_ul: 150.0,
            max_rate_ul_min: 300.0,
            residence: (30.0, 240.0),
            temperature: (240.0, 300.0),
            volumes: 2.5,
            settle: (1.0, 30.0),
            integration_ms: 20.0,
            average: 2,
        };
        let checked = check_text("drawn.qdx", &campaign_text(&d));
        let campaign = checked
            .campaign
            .as_ref()
            .unwrap_or_else(|| panic!("strategy {strategy}:\n{}", rendered(&checked)));
        assert!(
            plan_and_run(campaign),
            "strategy {strategy} was refused by the planner"
        );
    }
}

// ───────────────────────── limits and positions (issue 9, item 18) ─────────────────────────

fn cdse() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cdse-grid-screen.qdx"),
    )
    .expect("example")
}

fn error_codes(checked: &qdx::validate::Checked) -> Vec<&'static str> {
    checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code)
        .collect()
}

/// miette pads the underline with a `{:width$}` format, which panics past 65535 columns.
#[test]
fn an_error_past_column_65535_renders_with_its_true_column() {
    let padding = " ".repeat(70_000);
    let text = cdse().replace("  seed 12\n", &format!("  seed 12{padding}???\n"));
    let checked = check_text("wide.qdx", &text);
    let d = checked
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("an error");
    let start = d
        .primary_span()
        .and_then(|s| s.range())
        .expect("located")
        .start;
    assert_eq!(text.get(start..start + 3), Some("???"));
    let out = rendered(&checked);
    assert!(out.contains("wide.qdx:10:70010"), "{out}");
    assert!(
        out.len() < 4000,
        "the long line is cut around the error:\n{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn fifty_thousand_nested_property_lists_are_a_located_error() {
    let n = 50_000;
    let nested = format!("x {}1{}", "{ a ".repeat(n), " }".repeat(n));
    let text = cdse().replace(
        "simulate cdse_growth { cadmium cadmium, selenium selenium }",
        &format!("simulate cdse_growth {{ cadmium cadmium, selenium selenium, {nested} }}"),
    );
    let checked = check_text("deep.qdx", &text);
    assert_eq!(error_codes(&checked), ["qdx::syntax::too_deep"]);
    let d = checked.diagnostics.iter().next().expect("the error");
    let start = d
        .primary_span()
        .and_then(|s| s.range())
        .expect("located")
        .start;
    assert_eq!(text.get(start..=start), Some("{"));
    // The label sits on the brace that opens one level too many.
    let depth = text
        .get(..=start)
        .map(|t| t.matches('{').count() - t.matches('}').count());
    assert_eq!(depth, Some(qdx::syntax::MAX_NESTING + 1));
}

/// Long chains of operators are flat in the text but deep in the tree.
#[test]
fn fifty_thousand_chained_operators_are_a_located_error() {
    let n = 50_000;
    for chain in [
        format!("{}1", "- ".repeat(n)),
        format!("{}true", "not ".repeat(n)),
        format!("1{}", " * 1".repeat(n)),
        format!("1{}", " ^ 1".repeat(n)),
    ] {
        let text = cdse().replace(
            "total_flow = r1.volume / residence",
            &format!("total_flow = r1.volume / residence * ({chain})"),
        );
        let checked = check_text("chain.qdx", &text);
        assert_eq!(
            error_codes(&checked),
            ["qdx::syntax::expression_too_deep"],
            "{}",
            chain.get(..20).unwrap_or_default()
        );
    }
}

/// The largest expressions and nestings the limits allow go through every stage on a test
/// thread's small stack; one operator or bracket more is refused.
#[test]
fn expressions_at_the_limits_check_plan_and_format() {
    // `total_flow = r1.volume / residence * (…)`: the chain sits 3 deep, inside a block and
    // the wrapping brackets.
    let ops = qdx::syntax::MAX_EXPRESSION_DEPTH - 4;
    let parens = qdx::syntax::MAX_NESTING - 2;
    let derive = |chain: &str| {
        cdse().replace(
            "total_flow = r1.volume / residence",
            &format!("total_flow = r1.volume / residence * ({chain})"),
        )
    };
    for chain in [
        format!("{}1", "- ".repeat(ops)),
        format!("1{}", " * 1".repeat(ops)),
        format!("1{}", " ^ 1".repeat(ops)),
        format!("{}1{}", "(".repeat(parens), ")".repeat(parens)),
    ] {
        let text = derive(&chain);
        let checked = check_text("limit.qdx", &text);
        let campaign = checked
            .campaign
            .as_ref()
            .unwrap_or_else(|| panic!("{}", rendered(&checked)));
        qdx::plan::plan(campaign).expect("plans");
        qdx::format::format_source(&text, "limit.qdx").expect("formats");
    }
    let over = check_text(
        "limit.qdx",
        &derive(&format!("1{}", " * 1".repeat(ops + 1))),
    );
    assert_eq!(error_codes(&over), ["qdx::syntax::expression_too_deep"]);
    let parens = parens + 1;
    let over = check_text(
        "limit.qdx",
        &derive(&format!("{}1{}", "(".repeat(parens), ")".repeat(parens))),
    );
    assert_eq!(error_codes(&over), ["qdx::syntax::too_deep"]);
}

/// Rendering a diagnostic reads only the lines around its labels, and the bounds prover works
/// on the variables an expression uses, so a file with one variable and one warning per line
/// checks and renders in time linear in its size (it was quadratic: 100 000 variables took
/// more than ten minutes in a debug build, and take about eight seconds now).
#[test]
fn fifty_thousand_variables_with_a_warning_each_check_and_fold() {
    let n = 50_000;
    let mut vars = String::with_capacity(n * 32);
    for i in 0..n {
        vars.push_str(&format!("  v{i} : ratio in 0 .. 1\n"));
    }
    let text = cdse()
        .replace("variables {\n", &format!("variables {{\n{vars}"))
        .replace(
            "optimizer grid {\n  levels {\n    residence [30 s, 60 s, 120 s, 240 s]\n    cd_fraction [0.25, 0.5, 0.75]\n    temperature [240 degC, 260 degC, 280 degC, 300 degC]\n  }\n}",
            "optimizer random",
        );
    let checked = check_text("wide.qdx", &text);
    assert!(checked.campaign.is_some(), "{}", rendered(&checked));
    assert!(checked.diagnostics.warning_count() >= n);
    // The work counter: bytes of source handed to the renderer for the last warning.
    let last = checked.diagnostics.iter().last().expect("a warning");
    let excerpt = qdx::diagnostic::excerpt_len(last, &checked.sources);
    assert!(excerpt < 1000, "{excerpt} bytes of source for one warning");
    // Three warnings in full, the other 49 997 folded into one line that says where they are
    // (issue 14: 100 000 variables printed 55 MB).
    let out = rendered(&checked);
    assert!(out.len() < 10_000, "{} bytes of warnings", out.len());
    let first = text
        .lines()
        .position(|l| l.starts_with("  v3 :"))
        .expect("v3")
        + 1;
    let last = text
        .lines()
        .position(|l| l.starts_with("  v49999 :"))
        .expect("v49999")
        + 1;
    assert!(
        out.contains(&format!(
            "⚠ 49997 more warnings like the ones above, from wide.qdx:{first} to wide.qdx:{last}"
        )),
        "{out}"
    );
}

#[test]
fn an_unterminated_block_comment_points_at_its_opening() {
    let text = cdse().replace("variables {", "/* the variables\nvariables {");
    let checked = check_text("comment.qdx", &text);
    assert_eq!(error_codes(&checked), ["qdx::syntax::unclosed_comment"]);
    let d = checked.diagnostics.iter().next().expect("the error");
    let span = d.primary_span().and_then(|s| s.range()).expect("located");
    assert_eq!(text.get(span), Some("/*"));
}

#[test]
fn a_byte_order_mark_is_accepted_and_positions_are_unchanged() {
    let plain = cdse();
    let bom = format!("\u{feff}{plain}");
    let checked = check_text("bom.qdx", &bom);
    assert!(checked.campaign.is_some(), "{}", rendered(&checked));
    // An error on the first line and one further down are placed as without the mark.
    for (from, to) in [("qdx 1", "qdx 7"), ("seed 12", "seed 12 ???")] {
        let position = |text: &str| {
            let checked = check_text("bom.qdx", &text.replacen(from, to, 1));
            let d = checked
                .diagnostics
                .iter()
                .find(|d| d.is_error())
                .expect("an error");
            let j = qdx::diagnostic::to_json(d, &checked.sources);
            (d.code, j.line, j.column, rendered(&checked))
        };
        assert_eq!(position(&bom), position(&plain));
    }
}

fn billion_point_grid() -> String {
    cdse().replace("experiments 48", "experiments 1000000000").replace(
        "    residence [30 s, 60 s, 120 s, 240 s]\n    cd_fraction [0.25, 0.5, 0.75]\n    temperature [240 degC, 260 degC, 280 degC, 300 degC]",
        "    residence 1000\n    cd_fraction 1000\n    temperature 1000",
    )
}

#[test]
fn a_billion_point_grid_is_a_located_error() {
    let text = billion_point_grid();
    let checked = check_text("grid.qdx", &text);
    assert_eq!(error_codes(&checked), ["qdx::validate::design_too_large"]);
    let d = checked.diagnostics.iter().next().expect("the error");
    let span = d.primary_span().and_then(|s| s.range()).expect("located");
    assert!(text.get(span).is_some_and(|s| s.starts_with("levels")));
}

/// The planner refuses a design too large to hold even when handed a campaign that skipped
/// validation's limit.
#[test]
fn the_planner_refuses_a_design_too_large_to_hold() {
    let checked = check_text("grid.qdx", &cdse());
    let mut campaign = checked.campaign.clone().expect("the example checks");
    let many: Vec<f64> = (0..10_000).map(|i| 240.0 + f64::from(i) * 1e-3).collect();
    for levels in campaign.optimizer.levels.values_mut() {
        *levels = many.clone();
    }
    let refused = qdx::plan::plan(&campaign).expect_err("refused");
    let codes: Vec<&str> = refused.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["qdx::plan::design_too_large"]);
    insta::assert_snapshot!(qdx::diagnostic::render_all(
        &refused,
        &checked.sources,
        qdx::diagnostic::Style::Plain
    ));
}

#[test]
fn a_sobol_design_sized_by_a_huge_budget_is_a_located_error() {
    let text = cdse()
        .replace("experiments 48", "experiments 1000000000")
        .replace(
            "optimizer grid {\n  levels {\n    residence [30 s, 60 s, 120 s, 240 s]\n    cd_fraction [0.25, 0.5, 0.75]\n    temperature [240 degC, 260 degC, 280 degC, 300 degC]\n  }\n}",
            "optimizer sobol",
        );
    let checked = check_text("sobol.qdx", &text);
    assert_eq!(error_codes(&checked), ["qdx::validate::design_too_large"]);
}
