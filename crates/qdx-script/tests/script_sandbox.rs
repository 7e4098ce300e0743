//! Hostile scripts: each is stopped by the sandbox with the right kind of error at the right
//! line (the acceptance criteria of the sandbox issue).
#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use qdx_script::{Inputs, Script, ScriptError, ScriptErrorKind, ScriptOrigin};

fn origin() -> ScriptOrigin {
    ScriptOrigin::File("hostile.rhai".into())
}

/// Compiles and runs as a proxy; returns the error from whichever stage failed.
fn fail(source: &str) -> ScriptError {
    match Script::compile(source, origin()) {
        Err(e) => e,
        Ok(script) => script
            .eval_proxy(&Inputs::new().number("x", 1.0))
            .expect_err("the script should fail"),
    }
}

fn line(e: &ScriptError) -> usize {
    e.position.expect("located error").line
}

#[test]
fn endless_loop_hits_the_operation_limit() {
    let e = fail("let n = 0;\nloop {\n    n += 1;\n}\nn");
    assert_eq!(e.kind, ScriptErrorKind::TooManyOperations, "{e:?}");
    assert!((2..=4).contains(&line(&e)), "{}", e.located());
    assert!(e.message.contains("1,000,000 operations"), "{}", e.message);
}

#[test]
fn endless_loop_inside_a_function_points_at_the_call() {
    // rhai reports limit errors at the outermost call site; the message names the function.
    let e = fail("fn spin() {\n    while true {\n        let a = 1;\n    }\n}\nlet y = 2;\nspin()");
    assert_eq!(e.kind, ScriptErrorKind::TooManyOperations, "{e:?}");
    assert_eq!(line(&e), 7, "{}", e.located());
    assert!(
        e.message.starts_with("in function `spin` (called here)"),
        "{}",
        e.message
    );
}

#[test]
fn doubling_a_string_hits_the_size_limit() {
    let e =
        fail("let s = \"x\";\nlet i = 0;\nwhile i < 64 {\n    s += s;\n    i += 1;\n}\ns.len()");
    assert_eq!(e.kind, ScriptErrorKind::TooLarge, "{e:?}");
    assert_eq!(line(&e), 4, "{}", e.located());
    assert!(e.message.contains("65,536 bytes"), "{}", e.message);
}

#[test]
fn growing_an_array_hits_the_size_limit() {
    let e = fail("let a = [];\nloop {\n    a.push(1);\n}");
    assert_eq!(e.kind, ScriptErrorKind::TooLarge, "{e:?}");
    assert_eq!(line(&e), 3, "{}", e.located());
}

#[test]
fn deep_recursion_hits_the_call_limit() {
    let e = fail("fn down(n) {\n    down(n + 1)\n}\nlet start = 0;\ndown(start)");
    assert_eq!(e.kind, ScriptErrorKind::TooDeep, "{e:?}");
    assert_eq!(line(&e), 5, "{}", e.located());
    assert!(
        e.message.starts_with("in function `down` (called here)"),
        "{}",
        e.message
    );
    assert!(e.message.contains("32 levels"), "{}", e.message);
}

#[test]
fn deeply_nested_expression_is_refused_at_compile_time() {
    let source = format!("x + {}1{}", "(".repeat(500), ")".repeat(500));
    let e = fail(&source);
    assert_eq!(e.kind, ScriptErrorKind::TooDeep, "{e:?}");
    assert_eq!(line(&e), 1);
}

#[test]
fn import_is_forbidden() {
    let e = fail("let a = 1;\nimport \"x\" as y;\na");
    assert_eq!(e.kind, ScriptErrorKind::Forbidden, "{e:?}");
    assert_eq!(line(&e), 2, "{}", e.located());
}

#[test]
fn eval_is_forbidden() {
    let e = fail("let a = 1;\n\neval(\"1\")");
    assert_eq!(e.kind, ScriptErrorKind::Forbidden, "{e:?}");
    assert_eq!(line(&e), 3, "{}", e.located());
}

#[test]
fn file_access_does_not_exist() {
    for (call, name) in [
        ("open(\"/etc/passwd\")", "open"),
        ("read_file(\"data.csv\")", "read_file"),
        ("File(\"x\")", "File"),
        ("system(\"rm -rf /\")", "system"),
    ] {
        let e = fail(&format!("let a = 1;\n{call}"));
        assert_eq!(e.kind, ScriptErrorKind::Runtime, "{call}: {e:?}");
        assert!(
            e.message.starts_with(&format!("unknown function `{name}(")),
            "{call}: {}",
            e.message
        );
        assert_eq!(line(&e), 2, "{call}");
    }
}

#[test]
fn no_time_and_no_sleep() {
    for call in ["sleep(1)", "sleep(0.5)", "timestamp()", "exit()"] {
        let e = fail(&format!("\n{call}"));
        assert!(
            matches!(e.kind, ScriptErrorKind::Runtime | ScriptErrorKind::Syntax),
            "{call}: {e:?}"
        );
        assert!(
            e.message.contains("unknown function"),
            "{call}: {}",
            e.message
        );
        assert_eq!(line(&e), 2, "{call}");
    }
}

#[test]
fn no_randomness() {
    for call in ["rand()", "random()", "shuffle([1, 2])"] {
        let e = fail(call);
        assert!(
            e.message.contains("unknown function"),
            "{call}: {}",
            e.message
        );
    }
}

#[test]
fn print_and_debug_are_swallowed() {
    let s = Script::compile("print(\"hello\");\ndebug(x);\nx * 2", origin()).unwrap();
    assert_eq!(s.eval_proxy(&Inputs::new().number("x", 2.0)).unwrap(), 4.0);
}

#[test]
fn inputs_are_read_only_and_calls_are_independent() {
    let s = Script::compile("let v = xs;\nv.push(9.0);\nv.len()", origin()).unwrap();
    let inputs = Inputs::new().array("xs", &[1.0, 2.0]);
    assert_eq!(s.eval_proxy(&inputs).unwrap(), 3.0);
    assert_eq!(s.eval_proxy(&inputs).unwrap(), 3.0);
    let spectra = Inputs::new().spectrum("pl", &[1.0, 2.0], &[3.0, 4.0]);
    let alias = Script::compile(
        "let s = pl;\ns.values.push(1.0);\nlet v = pl.values;\nv.push(2.0);\ns.values.len() + v.len()",
        origin(),
    )
    .unwrap();
    assert_eq!(alias.eval_proxy(&spectra).unwrap(), 6.0);
    assert_eq!(alias.eval_proxy(&spectra).unwrap(), 6.0);
    // Whether rhai refuses or allows the change, it must not outlive the evaluation.
    let direct = Script::compile("pl.values.push(1.0);\npl.values.len()", origin()).unwrap();
    let _ = direct.eval_proxy(&spectra);
    let _ = direct.eval_proxy(&spectra);
    let fresh = Script::compile("pl.values.len() + pl.wavelength.len()", origin()).unwrap();
    assert_eq!(fresh.eval_proxy(&spectra).unwrap(), 4.0);
    let e = Script::compile("xs.push(1.0);\nxs.len()", origin())
        .unwrap()
        .eval_proxy(&inputs)
        .unwrap_err();
    assert_eq!(e.kind, ScriptErrorKind::Runtime, "{e:?}");
    assert_eq!(line(&e), 1);
}

mod arbitrary_input {
    use proptest::prelude::*;
    use qdx_script::{Inputs, Script, ScriptOrigin};

    /// Fragments that make up plausible and implausible scripts.
    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "let ",
            "x",
            "y",
            " = ",
            "1",
            "2.5",
            "+",
            "*",
            "/",
            "(",
            ")",
            "{",
            "}",
            "[",
            "]",
            ";",
            "\n",
            "fn f(a) ",
            "f(",
            "if ",
            "else ",
            "while ",
            "loop ",
            "break",
            "\"s\"",
            "#{",
            ":",
            ",",
            "eval",
            "import ",
            "µ",
            "//",
            "/*",
            "**",
            "..",
            "for i in ",
            "return ",
            "throw ",
            "sqrt(",
            "pl.values",
            "[0]",
            ".len()",
            "true",
            "==",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// No input panics; every located error points inside the source.
        #[test]
        fn never_panics_and_errors_stay_in_range(parts in prop::collection::vec(fragment(), 0..40)) {
            let source: String = parts.concat();
            let inputs = Inputs::new()
                .number("x", 1.0)
                .spectrum("pl", &[400.0, 500.0], &[0.5, 1.0]);
            let result = Script::compile(&source, ScriptOrigin::Inline { offset: 7 })
                .and_then(|s| s.eval_proxy(&inputs));
            if let Err(e) = result {
                if let Some(p) = e.position {
                    prop_assert!(p.offset <= source.len(), "{p:?} in {source:?}");
                    prop_assert!(source.is_char_boundary(p.offset));
                    prop_assert_eq!(e.source_offset(), Some(7 + p.offset));
                }
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}
