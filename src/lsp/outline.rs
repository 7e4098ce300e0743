//! The document outline (`textDocument/documentSymbol`) and semantic tokens.

use lsp_types::{
    DocumentSymbol, SemanticToken, SemanticTokenModifier, SemanticTokenType, SymbolKind as LspKind,
};

use super::index::{Index, SymbolKind};
use super::lex::{self, KEYWORDS, TokenKind};
use super::text::LineIndex;
use crate::source::{FileId, Span};
use crate::syntax::ast::{self, Item};

/// The token types `qdx lsp` reports, in the legend's order.
pub const TOKEN_TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::COMMENT,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
    SemanticTokenType::OPERATOR,
    // Units and quantity kinds.
    SemanticTokenType::TYPE,
    // Device kinds.
    SemanticTokenType::STRUCT,
    SemanticTokenType::CLASS,
    SemanticTokenType::ENUM,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::EVENT,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::NAMESPACE,
];

pub const TOKEN_MODIFIERS: &[SemanticTokenModifier] = &[
    SemanticTokenModifier::DECLARATION,
    SemanticTokenModifier::READONLY,
    SemanticTokenModifier::DEFAULT_LIBRARY,
];

fn type_index(t: &SemanticTokenType) -> u32 {
    TOKEN_TYPES
        .iter()
        .position(|x| x == t)
        .and_then(|p| u32::try_from(p).ok())
        .unwrap_or(0)
}

fn symbol_type(kind: SymbolKind) -> SemanticTokenType {
    match kind {
        SymbolKind::Kind => SemanticTokenType::STRUCT,
        SymbolKind::Device => SemanticTokenType::CLASS,
        SymbolKind::Stock => SemanticTokenType::ENUM,
        SymbolKind::Variable | SymbolKind::Derived => SemanticTokenType::VARIABLE,
        SymbolKind::Parameter => SemanticTokenType::PARAMETER,
        SymbolKind::Proxy | SymbolKind::Property | SymbolKind::Setting => {
            SemanticTokenType::PROPERTY
        }
        SymbolKind::Channel => SemanticTokenType::EVENT,
        SymbolKind::Builtin => SemanticTokenType::FUNCTION,
        SymbolKind::Reference => SemanticTokenType::ENUM_MEMBER,
        SymbolKind::File => SemanticTokenType::NAMESPACE,
    }
}

/// The semantic tokens of `text` (file `file` of the index), delta-encoded.
pub fn semantic_tokens(
    text: &str,
    file: FileId,
    index: &Index,
    stdlib: &dyn Fn(usize) -> bool,
) -> Vec<SemanticToken> {
    let lines = LineIndex::new(text);
    let mut raw: Vec<(u32, u32, u32, u32, u32)> = Vec::new();
    let tokens = lex::tokens(text);
    let at: std::collections::BTreeMap<(usize, usize), &super::index::Occurrence> = index
        .occurrences
        .iter()
        .filter(|o| o.file == file)
        .map(|o| ((o.start, o.end), o))
        .collect();
    // `use std.devices`: the module path is one occurrence of the file; its words are
    // namespaces.
    let modules: Vec<(usize, usize)> = index
        .occurrences
        .iter()
        .filter(|o| {
            o.file == file
                && index
                    .symbols
                    .get(o.symbol)
                    .is_some_and(|s| s.kind == SymbolKind::File)
        })
        .map(|o| (o.start, o.end))
        .collect();
    for (k, t) in tokens.iter().enumerate() {
        let word = t.text(text);
        let (ty, modifiers) = match t.kind {
            TokenKind::Comment => (SemanticTokenType::COMMENT, 0),
            TokenKind::String => (SemanticTokenType::STRING, 0),
            TokenKind::Number => (SemanticTokenType::NUMBER, 0),
            TokenKind::Unit => (SemanticTokenType::TYPE, 0),
            TokenKind::Punct
                if matches!(
                    word,
                    "->" | ".."
                        | "<="
                        | ">="
                        | "=="
                        | "!="
                        | "+"
                        | "-"
                        | "*"
                        | "/"
                        | "^"
                        | "<"
                        | ">"
                        | "="
                ) =>
            {
                (SemanticTokenType::OPERATOR, 0)
            }
            TokenKind::Punct => continue,
            TokenKind::Word => {
                if let Some(o) = at.get(&(t.start, t.end))
                    && let Some(s) = index.symbols.get(o.symbol)
                {
                    let mut m = 0;
                    if o.declaration {
                        m |= 1;
                    }
                    if s.kind == SymbolKind::Derived {
                        m |= 2;
                    }
                    if stdlib(o.symbol) {
                        m |= 4;
                    }
                    (symbol_type(s.kind), m)
                } else if modules.iter().any(|&(a, b)| a <= t.start && t.end <= b) {
                    (SemanticTokenType::NAMESPACE, 0)
                } else if KEYWORDS.contains(&word) {
                    (SemanticTokenType::KEYWORD, 0)
                } else if k > 0
                    && tokens.get(k - 1).is_some_and(|p| p.text(text) == ":")
                    && qdx_units::Dimension::kind_names().any(|n| n == word)
                {
                    (SemanticTokenType::TYPE, 0)
                } else {
                    continue;
                }
            }
        };
        // A token over several lines (a block comment, an inline script) goes line by line.
        let mut start = t.start;
        while start < t.end {
            let line_end = text
                .get(start..t.end)
                .and_then(|r| r.find('\n'))
                .map_or(t.end, |n| start + n);
            if line_end > start {
                let p = lines.position(text, start);
                let e = lines.position(text, line_end);
                raw.push((
                    p.line,
                    p.character,
                    e.character.saturating_sub(p.character),
                    type_index(&ty),
                    modifiers,
                ));
            }
            start = line_end + 1;
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    let (mut line, mut col) = (0_u32, 0_u32);
    for (l, c, length, token_type, modifiers) in raw {
        let delta_line = l - line;
        let delta_start = if delta_line == 0 { c - col } else { c };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length,
            token_type,
            token_modifiers_bitset: modifiers,
        });
        line = l;
        col = c;
    }
    out
}

/// The outline of one file's syntax tree: a symbol per block, its declarations inside.
#[allow(deprecated)] // `DocumentSymbol::deprecated` has to be written out.
pub fn document_symbols(ast: &ast::Ast, text: &str) -> Vec<DocumentSymbol> {
    let lines = LineIndex::new(text);
    let range = |span: Span| {
        let r = span.range().unwrap_or(0..0);
        lines.range(text, r)
    };
    let symbol = |name: String,
                  detail: Option<String>,
                  kind: LspKind,
                  span: Span,
                  at: Span,
                  children: Vec<DocumentSymbol>| {
        let full = range(span);
        let mut selection = range(at);
        // The selection must lie inside the range.
        if selection.start < full.start || selection.end > full.end {
            selection = full;
        }
        DocumentSymbol {
            name: if name.is_empty() {
                " ".to_owned()
            } else {
                name
            },
            detail,
            kind,
            tags: None,
            deprecated: None,
            range: full,
            selection_range: selection,
            children: if children.is_empty() {
                None
            } else {
                Some(children)
            },
        }
    };
    let mut out = Vec::new();
    for item in &ast.items {
        let span = item.span();
        let head = Span::new(
            ast.file,
            span.range().map_or(0, |r| r.start),
            span.range().map_or(0, |r| r.start),
        );
        let keyword = item.keyword().to_owned();
        let (name, kind, children): (String, LspKind, Vec<DocumentSymbol>) = match item {
            Item::Campaign(c) => (
                format!("campaign {:?}", c.name.value),
                LspKind::PACKAGE,
                Vec::new(),
            ),
            Item::Use(u) => (
                match &u.target {
                    ast::UseTarget::Module(p) => format!("use {}", p.dotted()),
                    ast::UseTarget::File(s) => format!("use {:?}", s.value),
                },
                LspKind::MODULE,
                Vec::new(),
            ),
            Item::Kind(k) => (
                format!("kind {}", k.name.name),
                LspKind::STRUCT,
                k.properties
                    .iter()
                    .map(|p| {
                        symbol(
                            p.name.name.clone(),
                            Some(p.ty.name.clone()),
                            LspKind::PROPERTY,
                            p.span,
                            p.name.span,
                            Vec::new(),
                        )
                    })
                    .chain(k.settings.iter().map(|s| {
                        symbol(
                            s.name.name.clone(),
                            Some(s.ty.name.clone()),
                            LspKind::FIELD,
                            s.span,
                            s.name.span,
                            Vec::new(),
                        )
                    }))
                    .collect(),
            ),
            Item::Builtin(b) => (
                format!("builtin {}", b.name.name),
                LspKind::FUNCTION,
                Vec::new(),
            ),
            Item::Reference(r) => (
                format!("reference {}", r.name.name),
                LspKind::CONSTANT,
                Vec::new(),
            ),
            Item::Stocks(b) => (
                keyword,
                LspKind::NAMESPACE,
                b.entries
                    .iter()
                    .map(|s| {
                        symbol(
                            s.name.name.clone(),
                            s.description.as_ref().map(|d| d.value.clone()),
                            LspKind::ENUM_MEMBER,
                            s.span,
                            s.name.span,
                            Vec::new(),
                        )
                    })
                    .collect(),
            ),
            Item::Reactor(b) => (
                keyword,
                LspKind::NAMESPACE,
                b.entries
                    .iter()
                    .filter_map(|e| match e {
                        ast::ReactorEntry::Device(d) => Some(symbol(
                            d.name.name.clone(),
                            Some(format!("{} : {}", d.role.name, d.kind.dotted())),
                            LspKind::OBJECT,
                            d.span,
                            d.name.span,
                            Vec::new(),
                        )),
                        ast::ReactorEntry::Connection(_) | ast::ReactorEntry::Lines(_) => None,
                    })
                    .collect(),
            ),
            Item::Variables(b) => (
                keyword,
                LspKind::NAMESPACE,
                b.entries
                    .iter()
                    .map(|v| {
                        let detail = match &v.ty {
                            ast::VariableType::Continuous { dimension, .. } => {
                                dimension.name.clone()
                            }
                            ast::VariableType::Integer { .. } => "integer".to_owned(),
                            ast::VariableType::Choice { .. } => "choice".to_owned(),
                            ast::VariableType::Composition { .. } => "composition".to_owned(),
                        };
                        symbol(
                            v.name.name.clone(),
                            Some(detail),
                            LspKind::VARIABLE,
                            v.span,
                            v.name.span,
                            Vec::new(),
                        )
                    })
                    .collect(),
            ),
            Item::Parameters(b) => (
                keyword,
                LspKind::NAMESPACE,
                b.entries
                    .iter()
                    .map(|p| {
                        symbol(
                            p.name.name.clone(),
                            None,
                            LspKind::CONSTANT,
                            p.span,
                            p.name.span,
                            Vec::new(),
                        )
                    })
                    .collect(),
            ),
            Item::Derive(b) => (
                keyword,
                LspKind::NAMESPACE,
                b.entries
                    .iter()
                    .map(|a| {
                        symbol(
                            a.target.dotted(),
                            None,
                            LspKind::VARIABLE,
                            a.span,
                            a.target.span,
                            Vec::new(),
                        )
                    })
                    .collect(),
            ),
            Item::Proxies(b) => (
                keyword,
                LspKind::NAMESPACE,
                b.entries
                    .iter()
                    .map(|p| {
                        symbol(
                            p.name.name.clone(),
                            None,
                            LspKind::FIELD,
                            p.span,
                            p.name.span,
                            Vec::new(),
                        )
                    })
                    .collect(),
            ),
            Item::Measure(m) => (
                format!("measure at {}", m.cell.name),
                LspKind::NAMESPACE,
                m.entries
                    .iter()
                    .filter_map(|e| match e {
                        ast::MeasureEntry::Channel { name, span, .. } => Some(symbol(
                            name.name.clone(),
                            None,
                            LspKind::EVENT,
                            *span,
                            name.span,
                            Vec::new(),
                        )),
                        _ => None,
                    })
                    .collect(),
            ),
            Item::Objectives(b) => (
                keyword,
                LspKind::NAMESPACE,
                b.entries
                    .iter()
                    .filter_map(|e| {
                        let (what, proxy) = match e {
                            ast::ObjectiveEntry::Maximize { proxy, .. } => ("maximize", proxy),
                            ast::ObjectiveEntry::Minimize { proxy, .. } => ("minimize", proxy),
                            ast::ObjectiveEntry::Target { proxy, .. } => ("target", proxy),
                            _ => return None,
                        };
                        Some(symbol(
                            format!("{what} {}", proxy.name),
                            None,
                            LspKind::OPERATOR,
                            e.span(),
                            proxy.span,
                            Vec::new(),
                        ))
                    })
                    .collect(),
            ),
            Item::Optimizer(o) => (
                format!("optimizer {}", o.strategy.name),
                LspKind::NAMESPACE,
                Vec::new(),
            ),
            Item::Data(b) => (
                keyword,
                LspKind::NAMESPACE,
                b.entries
                    .iter()
                    .map(|d| {
                        symbol(
                            d.name.name.clone(),
                            Some(format!("{:?}", d.path.value)),
                            LspKind::FILE,
                            d.span,
                            d.name.span,
                            Vec::new(),
                        )
                    })
                    .collect(),
            ),
            Item::Prior(p) => (
                format!("prior {} {:?}", p.format.name, p.path.value),
                LspKind::FILE,
                Vec::new(),
            ),
            Item::Safety(_) | Item::Constraints(_) => (keyword, LspKind::NAMESPACE, Vec::new()),
            Item::Simulate(s) => (
                match &s.model {
                    ast::SimModel::Named(n) => format!("simulate {}", n.name),
                    ast::SimModel::Table(t) => format!("simulate table {:?}", t.value),
                    ast::SimModel::Script(t) => format!("simulate script {:?}", t.value),
                },
                LspKind::NAMESPACE,
                Vec::new(),
            ),
            Item::Fit(f) => (
                format!("fit {}", f.name.name),
                LspKind::NAMESPACE,
                f.entries
                    .iter()
                    .filter_map(|e| match e {
                        ast::FitEntry::State { name, span, .. } => {
                            Some((name, "state", LspKind::VARIABLE, *span))
                        }
                        ast::FitEntry::Parameter { name, span, .. } => {
                            Some((name, "parameter", LspKind::CONSTANT, *span))
                        }
                        _ => None,
                    })
                    .map(|(name, what, kind, span)| {
                        symbol(
                            name.name.clone(),
                            Some(what.to_owned()),
                            kind,
                            span,
                            name.span,
                            Vec::new(),
                        )
                    })
                    .collect(),
            ),
            Item::Lab(l) => (
                format!("lab {:?}", l.name.value),
                LspKind::NAMESPACE,
                l.binds
                    .iter()
                    .map(|b| {
                        symbol(
                            b.device.name.clone(),
                            Some(b.driver.dotted()),
                            LspKind::OBJECT,
                            b.span,
                            b.device.span,
                            Vec::new(),
                        )
                    })
                    .collect(),
            ),
        };
        out.push(symbol(name, None, kind, span, head, children));
    }
    out
}
