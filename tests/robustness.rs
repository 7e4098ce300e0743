//! No input makes qdx panic: random text, and mutated examples that are close to valid.

use proptest::prelude::*;

use crate::support::check_text;

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
