//! The qdx campaign language for the [tree-sitter] parsing library.
//!
//! ```
//! let code = "qdx 1\nconstraints { p_seed.rate >= 5 uL/min }\n";
//! let mut parser = tree_sitter::Parser::new();
//! parser
//!     .set_language(&tree_sitter_qdx::LANGUAGE.into())
//!     .expect("the qdx grammar loads");
//! let tree = parser.parse(code, None).expect("a tree");
//! assert!(!tree.root_node().has_error());
//! ```
//!
//! The grammar (`grammar.js`) follows `grammar/qdx.pest`; the parity test of this crate checks
//! that both accept and reject the same files.
//!
//! [tree-sitter]: https://tree-sitter.github.io/

// The one unsafe item: the C function the generated parser exports.
#![allow(unsafe_code)]

use tree_sitter_language::LanguageFn;

unsafe extern "C" {
    fn tree_sitter_qdx() -> *const ();
}

/// The tree-sitter [`LanguageFn`] for qdx.
// SAFETY: `tree_sitter_qdx` is the language function of src/parser.c, compiled by build.rs.
pub const LANGUAGE: LanguageFn = unsafe { LanguageFn::from_raw(tree_sitter_qdx) };

/// The content of `src/node-types.json`.
pub const NODE_TYPES: &str = include_str!("../../src/node-types.json");

/// The syntax highlighting query (`queries/highlights.scm`).
pub const HIGHLIGHTS_QUERY: &str = include_str!("../../queries/highlights.scm");

/// The local variable query (`queries/locals.scm`).
pub const LOCALS_QUERY: &str = include_str!("../../queries/locals.scm");

/// The indentation query (`queries/indents.scm`, nvim-treesitter's captures).
pub const INDENTS_QUERY: &str = include_str!("../../queries/indents.scm");

/// The folding query (`queries/folds.scm`).
pub const FOLDS_QUERY: &str = include_str!("../../queries/folds.scm");

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tree_sitter::{Parser, Query, QueryCursor, StreamingIterator as _};

    fn parser() -> Parser {
        let mut parser = Parser::new();
        parser
            .set_language(&super::LANGUAGE.into())
            .expect("the qdx grammar loads");
        parser
    }

    #[test]
    fn every_query_compiles() {
        let language = super::LANGUAGE.into();
        for (name, source) in [
            ("highlights", super::HIGHLIGHTS_QUERY),
            ("locals", super::LOCALS_QUERY),
            ("indents", super::INDENTS_QUERY),
            ("folds", super::FOLDS_QUERY),
            (
                "../helix/queries/qdx/highlights",
                include_str!("../../../helix/queries/qdx/highlights.scm"),
            ),
            (
                "../helix/queries/qdx/indents",
                include_str!("../../../helix/queries/qdx/indents.scm"),
            ),
        ] {
            if let Err(e) = Query::new(&language, source) {
                panic!("queries/{name}.scm: {e}");
            }
        }
    }

    /// The capture that highlights.scm gives each piece of text on a line, the last pattern
    /// winning as in Neovim.
    fn highlights(source: &str) -> BTreeMap<(usize, String), String> {
        let tree = parser().parse(source, None).expect("a tree");
        assert!(!tree.root_node().has_error());
        let query = Query::new(&super::LANGUAGE.into(), super::HIGHLIGHTS_QUERY).expect("query");
        let mut cursor = QueryCursor::new();
        let mut matches = cursor.matches(&query, tree.root_node(), source.as_bytes());
        let mut found: BTreeMap<(usize, String), (usize, String)> = BTreeMap::new();
        while let Some(m) = matches.next() {
            for capture in m.captures() {
                let node = capture.node;
                let text = node.utf8_text(source.as_bytes()).unwrap_or_default();
                let name = query.capture_names()[capture.index as usize];
                let key = (node.start_position().row + 1, text.to_owned());
                if name != "spell" && found.get(&key).is_none_or(|(p, _)| *p <= m.pattern_index) {
                    found.insert(key, (m.pattern_index, name.to_owned()));
                }
            }
        }
        found.into_iter().map(|(k, (_, v))| (k, v)).collect()
    }

    #[test]
    fn the_example_is_highlighted() {
        let source = include_str!("../../../../examples/cspbx3-orange.qdx");
        let found = highlights(source);
        let line_of = |needle: &str| {
            source
                .lines()
                .position(|l| l.contains(needle))
                .map(|i| i + 1)
                .unwrap_or_else(|| panic!("no line with {needle}"))
        };
        let expect = |needle: &str, text: &str, capture: &str| {
            let line = line_of(needle);
            assert_eq!(
                found.get(&(line, text.to_owned())).map(String::as_str),
                Some(capture),
                "line {line}, `{text}`"
            );
        };
        expect("qdx 1", "qdx", "keyword.directive");
        expect("qdx 1", "1", "number");
        expect("campaign \"", "campaign", "keyword");
        expect("campaign \"", "\"cspbx3-orange-600nm\"", "string.special");
        expect("seed 42", "42", "number");
        expect("budget {", "mL", "type.builtin");
        expect("budget {", "40", "number.float");
        expect("use std.devices", "use", "keyword.import");
        expect("use std.devices", "devices", "module");
        expect("pump p_seed", "syringe_pump", "type");
        expect("pump p_seed", "p_seed", "variable");
        expect("pump p_seed", "mL/min", "type.builtin");
        expect(
            "iodide_frac : ratio",
            "// share of iodide in the halide feed",
            "comment",
        );
        expect("iodide_frac : ratio", "ratio", "type");
        expect("residence : time", "in", "keyword");
        expect("settle within", "for", "keyword");
        expect("settle within", "degC", "type.builtin");
        expect("stop when", "and", "keyword.operator");
        expect("stop when", "within", "keyword.operator");
        expect("plqy = relative_plqy", "relative_plqy", "function.call");
        expect("plqy = relative_plqy", "excitation", "variable.parameter");
        expect(
            "peak = photoluminescence",
            "peak_wavelength",
            "function.call",
        );
        expect("-> h1", "->", "operator");
        expect("score = script", "\"proxies/score.rhai\"", "string");
        expect("on pump_stall", "pump_stall", "label");
    }
}
