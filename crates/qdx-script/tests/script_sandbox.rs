//! Hostile scripts: each is stopped by the sandbox with the right kind of error at the right
//! line (the acceptance criteria of the sandbox issue).
#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::time::{Duration, Instant};

use qdx_script::{
    BUDGET, Inputs, Interrupt, Script, ScriptBudget, ScriptError, ScriptErrorKind, ScriptOrigin,
};

// The allocator the `qdx` binary installs: it makes the total memory budget measurable.
#[global_allocator]
static ALLOCATOR: qdx_script::MeteredAllocator = qdx_script::MeteredAllocator;

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

/// A budget small enough for a test to reach quickly.
fn small(max_wall_time: Duration, max_memory: usize) -> ScriptBudget {
    ScriptBudget {
        max_wall_time,
        max_memory,
    }
}

/// Runs `source` as a proxy with `budget`; the error and how long it took.
fn fail_within(source: &str, budget: ScriptBudget) -> (ScriptError, Duration) {
    let script = Script::compile(source, origin())
        .unwrap()
        .with_budget(budget);
    let started = Instant::now();
    let e = script
        .eval_proxy(&Inputs::new().number("x", 1.0))
        .expect_err("the script should fail");
    (e, started.elapsed())
}

/// Each `split` of a 65,000-character string builds 65,000 strings: few operations, each
/// slow, so the operation limit alone lets this run for most of an hour.
const SPLIT_LOOP: &str =
    "let s = \"\";\ns.pad(65000, 'y');\nwhile true { let parts = s.split(\"\"); }\n0";

#[test]
fn a_loop_of_slow_operations_hits_the_deadline() {
    let (e, took) = fail_within(
        SPLIT_LOOP,
        small(Duration::from_millis(300), BUDGET.max_memory),
    );
    assert_eq!(e.kind, ScriptErrorKind::TooSlow, "{e:?}");
    assert_eq!(line(&e), 3, "{}", e.located());
    assert!(e.message.contains("time limit of 300 ms"), "{}", e.message);
    assert!(took < Duration::from_secs(5), "stopped after {took:?}");
}

#[test]
fn the_default_budget_is_a_safety_limit() {
    let script = Script::compile("x", origin()).unwrap();
    assert_eq!(script.budget(), BUDGET);
    assert_eq!(BUDGET.max_wall_time, Duration::from_secs(30));
    assert_eq!(BUDGET.max_memory, 128 << 20);
    // Well within the budget, a result never depends on it.
    let fast = Script::compile("let a = [];\na.pad(1000, 1.0);\nsum(a)", origin())
        .unwrap()
        .with_budget(small(Duration::from_millis(200), 1 << 20));
    for _ in 0..3 {
        assert_eq!(fast.eval_proxy(&Inputs::new()).unwrap(), 1000.0);
    }
}

#[test]
fn copies_of_a_large_array_hit_the_memory_budget() {
    assert!(qdx_script::memory_metered());
    // Every copy is within the array limit; together they are 990 × 1.6 MB.
    let mut source = "let a = [];\na.pad(100000, 1.0);\n".to_owned();
    for i in 0..990 {
        source.push_str(&format!("let x{i} = a;\n"));
    }
    source.push_str("x0.len()");
    let (e, _) = fail_within(&source, small(BUDGET.max_wall_time, 32 << 20));
    assert_eq!(e.kind, ScriptErrorKind::TooMuchMemory, "{e:?}");
    assert!(
        e.message.contains("memory limit of 32 MiB"),
        "{}",
        e.message
    );
    // About 20 copies fit in 32 MiB: stopped there, not at the end.
    assert!((10..=40).contains(&line(&e)), "{}", e.located());
}

#[test]
fn copies_held_by_recursive_calls_hit_the_memory_budget() {
    let (e, _) = fail_within(
        "fn hold(a, n) {\n    let b = a;\n    b.push(0.0);\n    if n == 0 { b.len() } else { hold(b, n - 1) }\n}\nlet a = [];\na.pad(99000, 1.0);\nhold(a, 30)",
        small(BUDGET.max_wall_time, 16 << 20),
    );
    assert_eq!(e.kind, ScriptErrorKind::TooMuchMemory, "{e:?}");
    assert_eq!(line(&e), 8, "{}", e.located());
    assert!(
        e.message.starts_with("in function `hold` (called here)"),
        "{}",
        e.message
    );
}

#[test]
fn long_property_names_hit_the_memory_budget() {
    // rhai counts a map's properties and the size of its values, not of its property names:
    // 900 names of 65,000 bytes make one 58 MB map within the map limit.
    let (e, _) = fail_within(
        "let s = \"\";\ns.pad(65000, 'y');\nlet m = #{};\nfor i in 0..900 { m[s + i] = 1; }\nm.len()",
        small(BUDGET.max_wall_time, 16 << 20),
    );
    assert_eq!(e.kind, ScriptErrorKind::TooMuchMemory, "{e:?}");
    assert_eq!(line(&e), 4, "{}", e.located());
}

#[test]
fn memory_freed_along_the_way_does_not_count() {
    // 200 arrays of 1.6 MB, one alive at a time.
    let script = Script::compile(
        "let n = 0;\nfor i in 0..200 {\n    let a = [];\n    a.pad(100000, 1.0);\n    n += a.len();\n}\nn",
        origin(),
    )
    .unwrap()
    .with_budget(small(BUDGET.max_wall_time, 8 << 20));
    assert_eq!(script.eval_proxy(&Inputs::new()).unwrap(), 20_000_000.0);
}

#[test]
fn a_map_with_too_many_properties_hits_the_size_limit() {
    // rhai measures a map when it is next used whole (here `m.len()`), not at each new
    // property; the memory budget bounds what it can grow to meanwhile (next test).
    let e = fail("let m = #{};\nfor i in 0..2000 {\n    m[`k${i}`] = i;\n}\nm.len()");
    assert_eq!(e.kind, ScriptErrorKind::TooLarge, "{e:?}");
    assert_eq!(line(&e), 5, "{}", e.located());
    assert!(e.message.contains("1,000 properties"), "{}", e.message);
}

#[test]
fn a_map_grown_property_by_property_hits_the_memory_budget() {
    // Each new property holds a new 65,000-byte string; rhai checks the string, not the map,
    // so without a total budget this grows until the operation limit: about 10 GB.
    let (e, _) = fail_within(
        "let s = \"\";\ns.pad(65000, 'y');\nlet m = #{};\nfor i in 0..200000 {\n    m[`k${i}`] = s + i;\n}\nm.len()",
        small(BUDGET.max_wall_time, 16 << 20),
    );
    assert_eq!(e.kind, ScriptErrorKind::TooMuchMemory, "{e:?}");
    assert_eq!(line(&e), 5, "{}", e.located());
}

#[test]
fn arrays_of_strings_count_every_byte() {
    let e = fail("let s = \"\";\ns.pad(60000, 'y');\nlet a = [s];\na.push(s);\na.len()");
    assert_eq!(e.kind, ScriptErrorKind::TooLarge, "{e:?}");
    assert_eq!(line(&e), 4, "{}", e.located());
    assert!(e.message.contains("65,536 bytes"), "{}", e.message);
}

#[test]
fn an_interrupt_stops_a_running_script() {
    let interrupt = Interrupt::new();
    let script = Script::compile(SPLIT_LOOP, origin())
        .unwrap()
        .with_interrupt(interrupt.clone());
    let started = Instant::now();
    let (e, took) = std::thread::scope(|scope| {
        let runner = scope.spawn(|| {
            let started = Instant::now();
            (script.eval_proxy(&Inputs::new()), started.elapsed())
        });
        // Wait until the script is surely in its loop, then press "Ctrl-C".
        while started.elapsed() < Duration::from_millis(200) {
            std::hint::spin_loop();
        }
        interrupt.interrupt();
        runner.join().unwrap()
    });
    let e = e.expect_err("interrupted");
    assert_eq!(e.kind, ScriptErrorKind::Interrupted, "{e:?}");
    assert_eq!(line(&e), 3, "{}", e.located());
    assert!(took < Duration::from_secs(5), "stopped after {took:?}");
    // The flag stays set until cleared.
    let quick = Script::compile("x + 1", origin())
        .unwrap()
        .with_interrupt(interrupt.clone());
    let inputs = Inputs::new().number("x", 1.0);
    assert_eq!(
        quick.eval_proxy(&inputs).unwrap_err().kind,
        ScriptErrorKind::Interrupted
    );
    interrupt.clear();
    assert_eq!(quick.eval_proxy(&inputs).unwrap(), 2.0);
}

#[test]
fn limit_errors_name_the_script_the_limit_and_its_value() {
    let tight = small(Duration::from_millis(100), 4 << 20);
    let interrupted = Interrupt::new();
    interrupted.interrupt();
    let cases: [(&str, Script); 6] = [
        ("deadline", Script::compile(SPLIT_LOOP, origin()).unwrap().with_budget(tight)),
        (
            "memory",
            Script::compile(
                "let s = \"\";\ns.pad(65000, 'y');\nlet m = #{};\nfor i in 0..900 { m[s + i] = 1; }\nm.len()",
                origin(),
            )
            .unwrap()
            .with_budget(tight),
        ),
        (
            "interrupt",
            Script::compile("let a = 1;\nwhile true { a += 1; }\na", origin())
                .unwrap()
                .with_interrupt(interrupted),
        ),
        (
            "string",
            Script::compile("let s = \"\";\ns.pad(70000, 'y');\ns.len()", origin()).unwrap(),
        ),
        (
            "array",
            Script::compile("let a = [];\na.pad(100001, 0.0);\na.len()", origin()).unwrap(),
        ),
        (
            "map",
            Script::compile(
                "let m = #{};\nfor i in 0..1001 { m[`k${i}`] = i; }\nm.len()",
                origin(),
            )
            .unwrap(),
        ),
    ];
    let mut report = String::new();
    for (name, script) in cases {
        let e = script
            .eval_proxy(&Inputs::new())
            .expect_err("over the limit");
        // The line, not the column: a stop from the clock or a flag lands on whichever
        // operation of that line is running.
        report.push_str(&format!(
            "{name}: {:?} at {}:{}\n    {}\n",
            e.kind,
            e.origin,
            line(&e),
            e.message
        ));
    }
    insta::assert_snapshot!(report);
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
