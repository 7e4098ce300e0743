//! The two calling shapes (proxy, model), the helpers, and the errors a chemist meets.
#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::collections::BTreeMap;

use qdx_script::{Inputs, ModelOutput, Script, ScriptErrorKind, ScriptOrigin};

fn compile(source: &str) -> Script {
    Script::compile(source, ScriptOrigin::File("test.rhai".into())).unwrap()
}

fn proxy(source: &str, inputs: &Inputs) -> f64 {
    compile(source).eval_proxy(inputs).unwrap()
}

fn gaussian(wavelength: &[f64], center: f64, width: f64) -> Vec<f64> {
    wavelength
        .iter()
        .map(|w| (-((w - center) / width).powi(2) / 2.0).exp())
        .collect()
}

#[test]
fn proxy_reads_numbers_and_spectra() {
    let wavelength: Vec<f64> = (0..451).map(|i| 350.0 + f64::from(i)).collect();
    let pl = gaussian(&wavelength, 600.0, 10.0);
    let absorbance = vec![0.1; wavelength.len()];
    let inputs = Inputs::new()
        .number("plqy", 0.6)
        .spectrum("pl", &wavelength, &pl)
        .spectrum("abs", &wavelength, &absorbance);
    let peak = proxy("pl.wavelength[argmax(pl.values)]", &inputs);
    assert_eq!(peak, 600.0);
    let area = proxy("trapz(pl.wavelength, pl.values)", &inputs);
    // ∫ exp(-x²/2σ²) = σ√(2π)
    assert!(
        (area - 10.0 * (2.0 * std::f64::consts::PI).sqrt()).abs() < 1e-6,
        "{area}"
    );
    let at = proxy("interp(pl.wavelength, pl.values, 610.0)", &inputs);
    assert!((at - (-0.5_f64).exp()).abs() < 1e-12);
    let score = proxy(
        "// closeness to 600 nm, weighted by PLQY\n\
         let peak = pl.wavelength[argmax(pl.values)];\n\
         let closeness = exp(-pow((peak - 600.0) / 10.0, 2));\n\
         closeness * plqy\n",
        &inputs,
    );
    assert_eq!(score, 0.6);
    assert!((proxy("mean(abs.values)", &inputs) - 0.1).abs() < 1e-15);
    assert_eq!(proxy("abs.values.len()", &inputs), 451.0);
}

#[test]
fn helpers_chemists_need() {
    let none = Inputs::new();
    assert_eq!(proxy("sqrt(16)", &none), 4.0);
    assert_eq!(proxy("sqrt(2.25)", &none), 1.5);
    assert_eq!(proxy("exp(0)", &none), 1.0);
    assert_eq!(proxy("ln(1)", &none), 0.0);
    assert_eq!(proxy("log10(1000)", &none), 3.0);
    assert_eq!(proxy("abs(-2.5)", &none), 2.5);
    assert_eq!(proxy("abs(-3)", &none), 3.0);
    assert_eq!(proxy("min(2, 3.5)", &none), 2.0);
    assert_eq!(proxy("max(2, 3.5)", &none), 3.5);
    assert_eq!(proxy("clamp(5, 0, 1)", &none), 1.0);
    assert_eq!(proxy("clamp(-0.5, 0.0, 1.0)", &none), 0.0);
    assert_eq!(proxy("pow(2, 10)", &none), 1024.0);
    assert_eq!(proxy("pow(4.0, 0.5)", &none), 2.0);
    assert_eq!(proxy("2.0 ** 3", &none), 8.0);
    assert_eq!(proxy("sum([1, 2.5, 3])", &none), 6.5);
    assert_eq!(proxy("argmin([3, 1, 2])", &none), 1.0);
    assert_eq!(
        proxy("let t = 0.0; for i in 0..10 { t += i; } t", &none),
        45.0
    );
    assert_eq!(
        proxy("[1, 2, 3].map(|x| x * 2).reduce(|a, b| a + b, 0)", &none),
        12.0
    );
    assert!((proxy("PI()", &none) - std::f64::consts::PI).abs() < 1e-15);
    let e = compile("clamp(1, 2, 0)").eval_proxy(&none).unwrap_err();
    assert!(
        e.message
            .contains("lower bound 2 is above the upper bound 0"),
        "{}",
        e.message
    );
    let e = compile("\ninterp([1, 2], [1, 2], 5)")
        .eval_proxy(&none)
        .unwrap_err();
    assert_eq!(e.kind, ScriptErrorKind::Runtime);
    assert!(e.message.contains("outside the range"), "{}", e.message);
    assert_eq!(e.position.unwrap().line, 2);
}

#[test]
fn model_returns_a_number_or_named_numbers() {
    let inputs = Inputs::new()
        .number("temperature", 80.0)
        .number("residence", 30.0)
        .text("ligand", "oleylamine");
    let model = compile(
        "let boost = if ligand == \"oleylamine\" { 1.0 } else { 0.5 };\n\
         #{ peak: 500 + temperature, plqy: boost * residence / 60.0 }",
    );
    let mut expected = BTreeMap::new();
    expected.insert("peak".to_owned(), 580.0);
    expected.insert("plqy".to_owned(), 0.5);
    assert_eq!(
        model.eval_model(&inputs).unwrap(),
        ModelOutput::Named(expected)
    );
    let branin = compile("let x = temperature / 10.0;\nx * x - residence");
    assert_eq!(
        branin.eval_model(&inputs).unwrap(),
        ModelOutput::Number(34.0)
    );
}

#[test]
fn wrong_outputs_are_located_at_the_last_line() {
    use ScriptErrorKind::{WrongOutput, WrongType};
    let none = Inputs::new();
    let cases = [
        (
            "let a = 1;\n\"text\"\n// trailing comment\n",
            WrongType,
            "is a string (\"text\"), expected a number",
        ),
        (
            "let a = 1;\nlet b = a;",
            WrongType,
            "is empty; end the script with the expression to return",
        ),
        ("let a = 1.0;\na / 0.0", WrongOutput, "is infinite"),
        ("let a = 0.0;\na / a", WrongOutput, "is not a number (NaN)"),
        (
            "let a = 1;\n[a]",
            WrongType,
            "is an array of 1 value, expected a number",
        ),
        (
            "let a = 1;\ntrue",
            WrongType,
            "is true or false (true), expected a number",
        ),
        (
            "let a = 1;\n#{ b: a, a: 2 }",
            WrongType,
            "is a map (with a, b), expected a number",
        ),
    ];
    for (source, kind, message) in cases {
        let e = compile(source).eval_proxy(&none).unwrap_err();
        assert_eq!(e.kind, kind, "{source}");
        assert!(e.message.ends_with(message), "{source}: {}", e.message);
        assert_eq!(e.position.unwrap().line, 2, "{source}");
    }
    let e = compile("let a = 1;\n#{ peak: \"600\" }")
        .eval_model(&none)
        .unwrap_err();
    assert_eq!(e.kind, WrongType);
    assert_eq!(
        e.message,
        "the result's `peak` is a string (\"600\"), expected a number"
    );
    let e = compile("#{}").eval_model(&none).unwrap_err();
    assert_eq!(e.kind, WrongType);
    // A long string is cut short.
    let e = compile("let s = \"\";\ns.pad(100, 'x');\ns")
        .eval_proxy(&none)
        .unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "the script's result is a string (\"{}…\"), expected a number",
            "x".repeat(40)
        )
    );
    // Integers are accepted.
    assert_eq!(proxy("7", &none), 7.0);
}

#[test]
fn a_dotted_name_is_a_property_of_a_map() {
    // How a campaign's composition `mix : composition { seed, halide }` reaches a script: its
    // parts are named `mix.seed` and `mix.halide`, and the script reads them so.
    let inputs = Inputs::new()
        .number("mix.seed", 0.25)
        .number("mix.halide", 0.75)
        .number("x", 2.0);
    assert_eq!(proxy("mix.seed * x + mix.halide", &inputs), 1.25);
    assert_eq!(proxy("mix.keys().len()", &inputs), 2.0);
    assert_eq!(proxy("mix[\"halide\"]", &inputs), 0.75);
    let m = compile("#{ y: mix.seed }").eval_model(&inputs).unwrap();
    assert_eq!(
        m,
        ModelOutput::Named(BTreeMap::from([("y".to_owned(), 0.25)]))
    );
    // The names listed in an error are the ones a script can write.
    let e = compile("mix_seed").eval_proxy(&inputs).unwrap_err();
    assert_eq!(
        e.message,
        "unknown variable `mix_seed`; the inputs are mix, x"
    );
}

#[test]
fn runtime_errors_say_what_and_where() {
    let inputs = Inputs::new().number("peak", 600.0).number("plqy", 0.5);
    let e = compile("let a = 1;\npeek * 2")
        .eval_proxy(&inputs)
        .unwrap_err();
    assert_eq!(e.kind, ScriptErrorKind::Runtime);
    assert_eq!(
        e.message,
        "unknown variable `peek`; the inputs are peak, plqy"
    );
    let p = e.position.unwrap();
    assert_eq!((p.line, p.column, p.offset), (2, 1, 11));

    let e = compile(
        "fn check(x) {\n    if x > 1 { throw \"plqy above 1\"; }\n    x\n}\ncheck(plqy * 3)",
    )
    .eval_proxy(&inputs)
    .unwrap_err();
    assert_eq!(e.kind, ScriptErrorKind::Runtime);
    assert_eq!(e.message, "in function `check`: plqy above 1");
    assert_eq!(e.position.unwrap().line, 2);

    let e = compile("let n = 9223372036854775807;\nn + 1")
        .eval_proxy(&inputs)
        .unwrap_err();
    assert_eq!(e.kind, ScriptErrorKind::Runtime);
    assert_eq!(e.position.unwrap().line, 2);

    let e = compile("let a = [1, 2];\na[5]")
        .eval_proxy(&inputs)
        .unwrap_err();
    assert_eq!(e.kind, ScriptErrorKind::Runtime);
    assert_eq!(e.position.unwrap().line, 2);
}

#[test]
fn syntax_errors_are_located_for_inline_scripts() {
    let e = Script::compile(
        "let a = 1;\nlet b = (a + ;\nb",
        ScriptOrigin::Inline { offset: 500 },
    )
    .unwrap_err();
    assert_eq!(e.kind, ScriptErrorKind::Syntax);
    let p = e.position.unwrap();
    assert_eq!(p.line, 2);
    assert_eq!(e.source_offset(), Some(500 + p.offset));
    assert!(p.offset >= 11 && p.offset < 25, "{p:?}");
}

#[test]
fn scripts_say_which_inputs_they_may_read() {
    let s = compile("// uses plqy\nlet p = pl.values;\nsum(p)");
    assert!(s.mentions("pl"));
    assert!(s.mentions("plqy"));
    assert!(!s.mentions("peak"));
    assert!(!s.mentions("pl.values"));
}

#[test]
fn evaluation_is_deterministic() {
    let script = compile(
        "let m = #{ b: 2.0, a: 1.0, c: 3.0 };\nlet t = \"\";\nfor k in m.keys() { t += k; }\nif t == \"abc\" { 1 } else { 0 }",
    );
    for _ in 0..5 {
        assert_eq!(script.eval_proxy(&Inputs::new()).unwrap(), 1.0);
    }
}

fn target_files() -> std::sync::Arc<qdx_script::DataFiles> {
    let mut files = qdx_script::DataFiles::new();
    files.insert(
        "target",
        qdx_script::DataTable {
            columns: vec![
                ("wavelength_nm".to_owned(), vec![500.0, 550.0, 600.0]),
                ("intensity".to_owned(), vec![0.0, 1.0, 0.5]),
            ],
        },
    );
    std::sync::Arc::new(files)
}

#[test]
fn a_script_reads_its_declared_data_files_by_name() {
    let script = compile(
        "let t = data(\"target\");\ninterp(t.wavelength_nm, t.intensity, x) + t.keys().len()",
    )
    .with_data(target_files());
    let value = script
        .eval_proxy(&Inputs::new().number("x", 575.0))
        .unwrap();
    assert!((value - 2.75).abs() < 1e-12, "{value}");
    // A change the script makes to its copy stays in that evaluation.
    let edits = compile("let t = data(\"target\");\nt.intensity[1] = 9.0;\nt.intensity[1]")
        .with_data(target_files());
    assert_eq!(edits.eval_proxy(&Inputs::new()).unwrap(), 9.0);
    let again = compile("data(\"target\").intensity[1]").with_data(target_files());
    assert_eq!(again.eval_proxy(&Inputs::new()).unwrap(), 1.0);
}

#[test]
fn an_undeclared_data_name_is_its_own_located_error() {
    let script = compile("let a = 1;\ndata(\"targte\").intensity[0]").with_data(target_files());
    let e = script.eval_proxy(&Inputs::new()).unwrap_err();
    assert_eq!(e.kind, ScriptErrorKind::UnknownData);
    assert_eq!(
        e.message,
        "no data file is declared as `targte`; the campaign declares `target`"
    );
    assert_eq!(e.position.map(|p| p.line), Some(2));
    // Without data files, a script reads none, whatever it names.
    let none = compile("data(\"target\")")
        .eval_proxy(&Inputs::new())
        .unwrap_err();
    assert_eq!(none.kind, ScriptErrorKind::UnknownData);
    assert!(
        none.message.contains("the campaign declares none"),
        "{}",
        none.message
    );
    // A script's own `throw` is not mistaken for it.
    let thrown = compile("throw \"no data file is declared as `x`\"")
        .with_data(target_files())
        .eval_proxy(&Inputs::new())
        .unwrap_err();
    assert_eq!(thrown.kind, ScriptErrorKind::Runtime);
}
