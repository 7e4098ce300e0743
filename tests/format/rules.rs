//! The canonical style and the comment rules, one behaviour per test.

use super::{check_all, fmt};

#[test]
fn trailing_comments_stay_at_the_end_of_their_line() {
    let out = check_all(
        "qdx 1 // version\nderive { // why\n  a = 1 // one\n  b = 2 /* two */\n} // end\n",
    );
    assert_eq!(
        out,
        "qdx 1 // version\n\nderive { // why\n  a = 1 // one\n  b = 2 /* two */\n} // end\n"
    );
}

#[test]
fn own_line_comments_go_before_the_next_entry_with_blank_lines_collapsed() {
    let out = check_all(
        "derive {\n\n\n  // first\n  a = 1\n\n\n\n  // second\n\n  b = 2\n\n  // last\n\n}\n",
    );
    assert_eq!(
        out,
        "derive {\n  // first\n  a = 1\n\n  // second\n\n  b = 2\n\n  // last\n}\n"
    );
}

#[test]
fn comments_inside_an_expression_move_before_the_entry_in_order() {
    let out = check_all("derive {\n  a = b + // one\n    c /* two */ * d // three\n}\n");
    assert_eq!(
        out,
        "derive {\n  // one\n  /* two */\n  a = b + c * d // three\n}\n"
    );
}

#[test]
fn a_comment_inside_a_property_list_breaks_it_one_per_line() {
    let out = check_all("reactor {\n  mixer m1 : cross { volume 2 uL, /* why */ ports 3 }\n}\n");
    assert_eq!(
        out,
        "reactor {\n  mixer m1 : cross {\n    volume 2 uL /* why */\n    ports 3\n  }\n}\n"
    );
}

#[test]
fn property_lists_break_past_100_columns_and_not_before() {
    // "  pump p : k { note "…" }" is 2 + 11 + 4 + (2 + len) + 2 columns.
    let fits = "x".repeat(100 - 2 - 11 - 4 - 2 - 2);
    let line = format!("  pump p : k {{ s \"{fits}\" }}");
    assert_eq!(line.chars().count(), 100);
    let out = check_all(&format!("reactor {{\n{line}\n}}\n"));
    assert!(out.contains(&line), "{out}");

    let too_long = format!("{fits}x");
    let out = check_all(&format!(
        "reactor {{\n  pump p : k {{ s \"{too_long}\" }}\n}}\n"
    ));
    assert_eq!(
        out,
        format!("reactor {{\n  pump p : k {{\n    s \"{too_long}\"\n  }}\n}}\n")
    );
}

#[test]
fn nested_property_lists_break_from_the_outside_in() {
    let long = "y".repeat(70);
    let out = check_all(&format!(
        "reactor {{\n  pump p : k {{ a {{ b 1, c 2 }}, d {{ e \"{long}\", f 1 }} }}\n}}\n"
    ));
    assert_eq!(
        out,
        format!(
            "reactor {{\n  pump p : k {{\n    a {{ b 1, c 2 }}\n    d {{ e \"{long}\", f 1 }}\n  }}\n}}\n"
        )
    );
}

#[test]
fn user_parentheses_are_kept_and_none_are_added() {
    let src =
        "derive {\n  a = ((b)) * (c + d) - -e ^ 2\n  f = (g - h) - i\n  j = not (k and l)\n}\n";
    assert_eq!(check_all(src), src);
}

#[test]
fn spacing_is_canonical() {
    let out = check_all(
        "variables{x:time in 1s..2 s log->h1.setpoint}\nreactor{pump p:k{a 1,b 2}\na,b->c.in2}\nproxies{p=f(a,ex:3nm)}\n",
    );
    assert_eq!(
        out,
        "variables {\n  x : time in 1 s .. 2 s log -> h1.setpoint\n}\n\nreactor {\n  pump p : k { a 1, b 2 }\n  a, b -> c.in2\n}\n\nproxies {\n  p = f(a, ex: 3 nm)\n}\n"
    );
}

#[test]
fn numbers_and_units_print_as_written() {
    let src = "campaign \"n\" {\n  seed 007\n}\n\nparameters {\n  a = 1.50e-3 mL/min\n  b = 0.500 µL\n  c = 2E+2 kg*m/s^2\n  d = 5 %\n}\n";
    assert_eq!(check_all(src), src);
}

#[test]
fn strings_are_re_escaped() {
    let out = check_all("use \"a\tb\\\\c\\\"d\"\n");
    assert_eq!(out, "use \"a\\tb\\\\c\\\"d\"\n");
}

#[test]
fn comment_markers_inside_strings_are_not_comments() {
    let src = "use \"http://example.org/*x*/\" // real\n";
    assert_eq!(check_all(src), src);
}

#[test]
fn keyword_spellings_are_normalised() {
    let out = check_all("objectives {\n  maximise a\n  minimise b\n}\n\noptimiser random\n");
    assert_eq!(
        out,
        "objectives {\n  maximize a\n  minimize b\n}\n\noptimizer random\n"
    );
}

#[test]
fn campaign_entries_keep_the_order_written() {
    let out =
        check_all("campaign \"c\" { seed 1 /* s */ budget { experiments 3 } description \"d\" }\n");
    assert_eq!(
        out,
        "campaign \"c\" {\n  seed 1 /* s */\n  budget { experiments 3 }\n  description \"d\"\n}\n"
    );
}

#[test]
fn a_comment_between_a_keyword_and_its_value_stays_with_the_entry() {
    let out = check_all("campaign \"c\" {\n  seed 1\n  description /* d */ \"x\"\n}\n");
    assert_eq!(
        out,
        "campaign \"c\" {\n  seed 1\n  /* d */\n  description \"x\"\n}\n"
    );
}

#[test]
fn a_campaign_with_a_repeated_entry_is_kept_as_written() {
    // The AST keeps only the last `seed`; the validator reports the repetition, so the
    // formatter must not drop the first one.
    let src = "campaign \"c\" {  seed 1\n    seed 2 // again   \n}\nuse a.b\n";
    let out = check_all(src);
    assert_eq!(
        out,
        "campaign \"c\" {  seed 1\n    seed 2 // again\n}\n\nuse a.b\n"
    );
}

#[test]
fn empty_blocks_and_files() {
    assert_eq!(check_all(""), "");
    assert_eq!(check_all("  \n\n"), "");
    assert_eq!(
        check_all("// only\n\n\n/* comments */"),
        "// only\n\n/* comments */\n"
    );
    assert_eq!(
        check_all("stocks { }\noptimizer bo {\n}\nmeasure at s { // none\n}\n"),
        "stocks {}\n\noptimizer bo {}\n\nmeasure at s { // none\n}\n"
    );
}

#[test]
fn inline_scripts_are_printed_byte_for_byte() {
    let src = "proxies {\n  s = script \"\"\"\n\tlet x = 1;   \n  // text \"\"\" // real\n}\n";
    let out = check_all(src);
    assert_eq!(
        out,
        "proxies {\n  s = script \"\"\"\n\tlet x = 1;   \n  // text \"\"\" // real\n}\n"
    );
}

#[test]
fn windows_line_endings_become_unix() {
    let out = check_all("qdx 1 // v\r\n\r\nderive {\r\n  a = 1\r\n}\r\n");
    assert_eq!(out, "qdx 1 // v\n\nderive {\n  a = 1\n}\n");
}

#[test]
fn use_lines_stay_grouped_and_other_items_get_one_blank_line() {
    let out = check_all("use a.b\nuse c.d\n\n\nuse e.f\nstocks{}\nreactor{}\n");
    assert_eq!(
        out,
        "use a.b\nuse c.d\n\nuse e.f\n\nstocks {}\n\nreactor {}\n"
    );
}

#[test]
fn a_broken_budget_keeps_its_commas() {
    let long = "r".repeat(60);
    let out = check_all(&format!(
        "campaign \"b\" {{ budget {{ experiments 8, reagent {long} 25 mL, time 6 h }} }}\n"
    ));
    assert_eq!(
        out,
        format!(
            "campaign \"b\" {{\n  budget {{\n    experiments 8,\n    reagent {long} 25 mL,\n    time 6 h,\n  }}\n}}\n"
        )
    );
}

#[test]
fn a_syntax_error_is_the_parsers_diagnostic() {
    let err = qdx::format::format_source("stocks {", "bad.qdx").unwrap_err();
    assert_eq!(err.code, "qdx::syntax::unexpected_end");
    assert!(
        err.labels
            .iter()
            .any(|l| l.message.as_deref() == Some("this `{` is never closed"))
    );
    let err = qdx::format::format_source("stocks { x y }", "bad.qdx").unwrap_err();
    assert_eq!(err.code, "qdx::syntax::unexpected");
}

#[test]
fn formatting_twice_changes_nothing_for_tricky_comment_spots() {
    for src in [
        "stocks\n// before brace\n{\n a in p\n}\n",
        "reactor { pump p : k /* head */ { a 1 } }\n",
        "reactor { pump p : k { a 1 // long comment forces break\n } }\n",
        "safety { on x : retry 1 /* r */ backoff 2 s, /* a */ pause }\n",
        "variables { x : composition { a /* c */, b } total 1 // t\n}\n",
        "optimizer bo { levels { // l\n a [1, /* in list */ 2]\n } }\n",
        "lab \"l\" { bind a = b.c { port \"/dev/x\" } // p\n simulate m { k 1 } }\n",
        "campaign \"c\" { budget { experiments 1, // e\n time 2 s } }\n",
        "qdx /* v */ 1\n",
        "prior csv \"a.csv\" // one\nprior csv \"b.csv\"\n",
        "derive { a = 1 } /* x */ /* y */ // z\n// w\n",
    ] {
        check_all(src);
    }
    assert_eq!(fmt("qdx 1"), "qdx 1\n");
}

#[test]
fn format_ast_with_another_text_never_panics_and_prints_its_comments() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/syntax/all_constructs.qdx");
    let text = std::fs::read_to_string(path).unwrap();
    let ast = super::parse(&text);
    let cut = text
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|i| *i < 700)
        .last()
        .unwrap();
    for other in [
        "",
        "// x",
        "/* unterminated",
        "\"",
        "\"\"\" // y",
        &text[..cut],
    ] {
        let out = qdx::format::format_ast(&ast, other);
        for c in qdx::format::comments_of(&ast, other) {
            assert!(
                out.contains(&c.printed()),
                "{:?} lost with text {other:?}",
                c.text
            );
        }
    }
}

/// Not a timed test: run with `cargo test -p qdx --release --test format -- --ignored
/// --nocapture bench_` to measure.
#[test]
#[ignore = "benchmark"]
fn bench_format_10k_lines() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/syntax/all_constructs.qdx");
    let one = std::fs::read_to_string(path).unwrap();
    let body = one.split_once("qdx 1\n").unwrap().1;
    let mut text = String::from("qdx 1\n");
    while text.lines().count() < 10_000 {
        text.push_str(body);
    }
    let lines = text.lines().count();
    let start = std::time::Instant::now();
    let out = fmt(&text);
    let elapsed = start.elapsed();
    println!(
        "format_source on {lines} lines ({} bytes): {elapsed:?} (parse, print, re-parse, check)",
        text.len()
    );
    assert!(out.lines().count() > 9_000);
}

#[test]
fn format_file_uses_the_callers_source_map() {
    let mut sources = qdx::source::SourceMap::new();
    sources.add("other.qdx", qdx::source::Origin::Memory, "stocks {}");
    let good = sources.add("good.qdx", qdx::source::Origin::Memory, "derive{a=1}// c");
    let bad = sources.add("bad.qdx", qdx::source::Origin::Memory, "derive { a = }");
    assert_eq!(
        qdx::format::format_file(&sources, good).unwrap(),
        "derive {\n  a = 1\n} // c\n"
    );
    let err = qdx::format::format_file(&sources, bad).unwrap_err();
    assert_eq!(err.primary_span().and_then(|s| s.file()), Some(bad));
}
