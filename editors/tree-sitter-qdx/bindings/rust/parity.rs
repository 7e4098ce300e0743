//! The tree-sitter grammar (grammar.js) and the reference grammar (grammar/qdx.pest) accept and
//! reject the same texts:
//!
//! - every `.qdx` file of the repository: the examples, the valid, warning and invalid corpora
//!   of `tests/data`, the standard library, the templates (a file that qdx rejects only when
//!   validating it is accepted by both grammars);
//! - the inputs of the tree-sitter corpus tests (`test/corpus/*.txt`), each of which also says
//!   whether it should parse (`:error`);
//! - the `qdx` code blocks of grammar/README.md;
//! - half-typed and damaged versions of the examples: every prefix ending at a line break, each
//!   line removed, each line doubled, each pair of neighbouring lines swapped, and each
//!   bracket, comma, operator and first letter of a word removed;
//! - random pieces of the examples (from the start of a block, up to 120 tokens) with up to six
//!   tokens removed, inserted or replaced by keywords, names, numbers, units and punctuation:
//!   20 000 of them, from a fixed seed (`QDX_PARITY_CASES=1000000 QDX_PARITY_SEED=7 cargo test
//!   -p tree-sitter-qdx` runs more).
//!
//! pest's grammar alone is compared, not `qdx::syntax::parse`, which also limits nesting depth.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "../../../grammar/qdx.pest"]
struct Pest;

/// A text and where it came from, for the failure message.
struct Case {
    origin: String,
    text: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // qdx ignores a byte-order mark at the start (grammar/README.md, "Encoding").
    text.strip_prefix('\u{feff}')
        .map(str::to_owned)
        .unwrap_or(text)
}

/// Every `.qdx` file under `dir`, sorted, skipping build output and dependencies.
fn qdx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.expect("folder entry").path()).collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if !matches!(name, "target" | "node_modules" | ".git" | "runs") {
                qdx_files(&path, out);
            }
        } else if name.ends_with(".qdx") {
            out.push(path);
        }
    }
}

struct Parsers {
    tree_sitter: tree_sitter::Parser,
}

impl Parsers {
    fn new() -> Self {
        let mut tree_sitter = tree_sitter::Parser::new();
        tree_sitter
            .set_language(&tree_sitter_qdx::LANGUAGE.into())
            .expect("the qdx grammar loads");
        Parsers { tree_sitter }
    }

    fn pest_accepts(text: &str) -> bool {
        Pest::parse(Rule::file, text).is_ok()
    }

    fn tree_sitter_accepts(&mut self, text: &str) -> bool {
        let tree = self.tree_sitter.parse(text, None).expect("a tree");
        !tree.root_node().has_error()
    }

    /// `None` when both agree, else a line for the failure message.
    fn disagreement(&mut self, case: &Case) -> Option<String> {
        let pest = Self::pest_accepts(&case.text);
        let tree_sitter = self.tree_sitter_accepts(&case.text);
        (pest != tree_sitter).then(|| {
            let verdict = |ok: bool| if ok { "accepts" } else { "rejects" };
            format!(
                "{}: pest {}, tree-sitter {}",
                case.origin,
                verdict(pest),
                verdict(tree_sitter)
            )
        })
    }
}

/// The tests of one tree-sitter corpus file: (name, input, expects an error).
fn corpus_tests(text: &str) -> Vec<(String, String, bool)> {
    let is_rule = |line: &str, c: char| line.len() >= 3 && line.chars().all(|x| x == c);
    let lines: Vec<&str> = text.lines().collect();
    let mut tests = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !is_rule(lines[i], '=') {
            i += 1;
            continue;
        }
        let mut name = String::new();
        let mut error = false;
        i += 1;
        while i < lines.len() && !is_rule(lines[i], '=') {
            match lines[i] {
                ":error" => error = true,
                l if l.starts_with(':') || l.is_empty() => {}
                l => name = l.to_owned(),
            }
            i += 1;
        }
        i += 1;
        let start = i;
        while i < lines.len() && !is_rule(lines[i], '-') {
            i += 1;
        }
        let mut input = lines[start..i.min(lines.len())].join("\n");
        input.push('\n');
        tests.push((name, input, error));
        while i < lines.len() && !is_rule(lines[i], '=') {
            i += 1;
        }
    }
    tests
}

/// The `qdx` code blocks of a Markdown file.
fn qdx_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line) {
            (None, "```qdx") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), l) => {
                block.push_str(l);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Half-typed and damaged versions of `text` (see the module documentation).
fn damaged(origin: &str, text: &str) -> Vec<Case> {
    let lines: Vec<&str> = text.lines().collect();
    let join = |ls: &[&str]| {
        let mut s = ls.join("\n");
        s.push('\n');
        s
    };
    let mut cases = Vec::new();
    for n in 0..lines.len() {
        cases.push(Case {
            origin: format!("{origin}, first {n} lines"),
            text: join(&lines[..n]),
        });
        let mut without = lines.clone();
        without.remove(n);
        cases.push(Case {
            origin: format!("{origin}, without line {}", n + 1),
            text: join(&without),
        });
        let mut doubled = lines.clone();
        doubled.insert(n, lines[n]);
        cases.push(Case {
            origin: format!("{origin}, line {} doubled", n + 1),
            text: join(&doubled),
        });
        if n + 1 < lines.len() {
            let mut swapped = lines.clone();
            swapped.swap(n, n + 1);
            cases.push(Case {
                origin: format!("{origin}, lines {} and {} swapped", n + 1, n + 2),
                text: join(&swapped),
            });
        }
    }
    let mut previous = ' ';
    for (at, c) in text.char_indices() {
        let word_start = c.is_ascii_alphanumeric() && !(previous.is_ascii_alphanumeric());
        if word_start || "{}()[],.:=-><+*/^\"%".contains(c) {
            let mut cut = text.to_owned();
            cut.remove(at);
            let line = text[..at].lines().count().max(1);
            cases.push(Case {
                origin: format!("{origin}, `{c}` removed at byte {at} (line {line})"),
                text: cut,
            });
        }
        previous = c;
    }
    cases
}

fn report(mut parsers: Parsers, cases: &[Case]) {
    let mut failures = String::new();
    let mut count = 0;
    for case in cases {
        if let Some(line) = parsers.disagreement(case) {
            count += 1;
            if count <= 40 {
                let _ = writeln!(failures, "  {line}");
            }
        }
    }
    assert!(
        count == 0,
        "the tree-sitter grammar and grammar/qdx.pest disagree on {count} of {} texts:\n{failures}",
        cases.len()
    );
}

#[test]
fn both_grammars_agree_on_every_qdx_file_of_the_repository() {
    let root = repo_root();
    let mut files = Vec::new();
    qdx_files(&root, &mut files);
    let mut parsers = Parsers::new();
    let cases: Vec<Case> = files
        .iter()
        .map(|path| Case {
            origin: path
                .strip_prefix(&root)
                .unwrap_or(path)
                .display()
                .to_string(),
            text: read(path),
        })
        .collect();
    // The corpora this is about are all there, and both grammars reject some of the invalid one.
    for dir in [
        "examples/",
        "tests/data/valid/",
        "tests/data/invalid/",
        "tests/data/syntax/",
    ] {
        assert!(
            cases.iter().any(|c| c.origin.starts_with(dir)),
            "no .qdx file under {dir}"
        );
    }
    let rejected = cases
        .iter()
        .filter(|c| !Parsers::pest_accepts(&c.text) && !parsers.tree_sitter_accepts(&c.text))
        .count();
    assert!(rejected > 0, "no file of the corpus is a syntax error");
    report(parsers, &cases);
}

#[test]
fn both_grammars_agree_on_the_tree_sitter_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test/corpus");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("test/corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    let mut cases = Vec::new();
    for path in paths {
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        for (name, input, error) in corpus_tests(&read(&path)) {
            assert_eq!(
                Parsers::pest_accepts(&input),
                !error,
                "test/corpus/{file}, `{name}`: pest {} it, the test says it should {}",
                if error { "accepts" } else { "rejects" },
                if error { "not parse" } else { "parse" },
            );
            cases.push(Case {
                origin: format!("test/corpus/{file}, `{name}`"),
                text: input,
            });
        }
    }
    assert!(cases.len() >= 40, "only {} corpus tests", cases.len());
    report(Parsers::new(), &cases);
}

#[test]
fn both_grammars_accept_the_grammar_readme_examples() {
    let readme = read(&repo_root().join("grammar/README.md"));
    let blocks = qdx_blocks(&readme);
    assert!(blocks.len() >= 20, "found only {} blocks", blocks.len());
    let mut parsers = Parsers::new();
    for (i, block) in blocks.iter().enumerate() {
        assert!(Parsers::pest_accepts(block), "block {i} does not parse");
        assert!(
            parsers.tree_sitter_accepts(block),
            "tree-sitter rejects grammar/README.md block {i}:\n{block}"
        );
    }
}

#[test]
fn both_grammars_agree_on_damaged_examples() {
    let root = repo_root();
    let mut files = Vec::new();
    qdx_files(&root.join("examples"), &mut files);
    files.push(root.join("tests/data/syntax/all_constructs.qdx"));
    let mut cases = Vec::new();
    for path in &files {
        let origin = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        cases.extend(damaged(&origin, &read(path)));
    }
    assert!(cases.len() > 1000, "only {} damaged texts", cases.len());
    report(Parsers::new(), &cases);
}

/// Words and punctuation that the random cases insert.
const INSERTS: &[&str] = &[
    "campaign",
    "seed",
    "budget",
    "experiments",
    "reagent",
    "time",
    "kind",
    "setting",
    "builtin",
    "reference",
    "stocks",
    "reactor",
    "variables",
    "integer",
    "choice",
    "composition",
    "total",
    "log",
    "parameters",
    "derive",
    "constraints",
    "measure",
    "at",
    "steady_state",
    "after",
    "settle",
    "for",
    "replicates",
    "proxies",
    "script",
    "objectives",
    "maximize",
    "minimize",
    "target",
    "within",
    "weight",
    "require",
    "combine",
    "stop",
    "when",
    "optimizer",
    "initial",
    "batch",
    "levels",
    "prior",
    "safety",
    "on",
    "retry",
    "backoff",
    "then",
    "safe",
    "simulate",
    "table",
    "lab",
    "bind",
    "in",
    "and",
    "or",
    "not",
    "true",
    "false",
    "x",
    "mL",
    "5",
    "2.5",
    "1e3",
    "\"s\"",
    "\"\"\"r\"\"\"",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "..",
    ":",
    "=",
    "->",
    "-",
    "+",
    "*",
    "/",
    "^",
    "<=",
    "==",
    "%",
    "\n",
    "//c\n",
    "/*c*/",
    " ",
];

/// A small deterministic generator (a 64-bit LCG): the same cases on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(self.0 >> 33).unwrap_or(0) % n.max(1)
    }
}

/// The text cut into tokens: runs of letters, digits, `_` and `.`, and single other characters.
fn rough_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' || c == '.' {
            word.push(c);
        } else {
            if !word.is_empty() {
                tokens.push(std::mem::take(&mut word));
            }
            tokens.push(c.to_string());
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    tokens
}

#[test]
fn both_grammars_agree_on_random_pieces_of_the_examples() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let count = env("QDX_PARITY_CASES", 20_000);
    let mut rng = Lcg(env("QDX_PARITY_SEED", 1));
    let root = repo_root();
    let mut files = Vec::new();
    qdx_files(&root.join("examples"), &mut files);
    files.push(root.join("tests/data/syntax/all_constructs.qdx"));
    let sources: Vec<Vec<String>> = files.iter().map(|p| rough_tokens(&read(p))).collect();
    let mut parsers = Parsers::new();
    let mut failures = String::new();
    let (mut disagreements, mut accepted) = (0, 0);
    for _ in 0..count {
        let tokens = &sources[rng.below(sources.len())];
        // A piece that starts where a block does, at the start of a line.
        let starts: Vec<usize> = (0..tokens.len())
            .filter(|&i| {
                i == 0
                    || tokens[i - 1] == "\n"
                        && tokens[i]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .collect();
        let start = starts[rng.below(starts.len())];
        let end = (start + 1 + rng.below(120)).min(tokens.len());
        let mut piece: Vec<&str> = tokens[start..end].iter().map(String::as_str).collect();
        for _ in 0..=rng.below(6) {
            let at = rng.below(piece.len() + 1);
            let word = INSERTS[rng.below(INSERTS.len())];
            match rng.below(3) {
                0 if at < piece.len() => {
                    piece.remove(at);
                }
                1 => piece.insert(at, word),
                _ if at < piece.len() => piece[at] = word,
                _ => {}
            }
        }
        let case = Case {
            origin: String::new(),
            text: piece.concat(),
        };
        accepted += usize::from(Parsers::pest_accepts(&case.text));
        if parsers.disagreement(&case).is_some() {
            disagreements += 1;
            if disagreements <= 20 {
                let pest = if Parsers::pest_accepts(&case.text) {
                    "accepts"
                } else {
                    "rejects"
                };
                let _ = writeln!(failures, "  pest {pest}: {:?}", case.text);
            }
        }
    }
    // Enough of the pieces parse for the comparison to mean something.
    assert!(
        accepted * 20 > usize::try_from(count).unwrap_or(usize::MAX),
        "only {accepted} pieces parse"
    );
    assert!(
        disagreements == 0,
        "the grammars disagree on {disagreements} of {count} random pieces:\n{failures}"
    );
}

/// Where the grammars knowingly part: qdx.pest backtracks out of a whole entry that an LR
/// parser has committed to. Both are texts nobody writes; editors/tree-sitter-qdx/README.md
/// lists them. A change that makes tree-sitter agree should move them to the corpus.
#[test]
fn known_divergences_stay_known() {
    let mut parsers = Parsers::new();
    for text in [
        // A channel named `steady_state`, then one named `after`.
        "measure at s1 { steady_state after }\n",
        // `levels { t 5 mL }` is no levels list (a quantity is no count): an option `levels`.
        "optimizer grid { levels { t 5 mL } }\n",
    ] {
        assert!(Parsers::pest_accepts(text), "pest rejects {text:?}");
        assert!(
            !parsers.tree_sitter_accepts(text),
            "tree-sitter accepts {text:?}"
        );
    }
}
