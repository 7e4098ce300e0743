//! Completion: what may be written at the cursor, read off the text before it (which may not
//! parse) and the names the index knows.
//!
//! The context is the top-level block the cursor is in ([`crate::syntax::blocks`]), how deep
//! in its braces, the head of the innermost brace (`pump p1 : syringe_pump {`), and the tokens
//! before the cursor on its entry. From that: block keywords at the top level, device roles
//! and kinds in the reactor, a kind's properties inside a device's braces, quantity kinds
//! after a variable's `:`, units after a number (of the dimension the place takes, when it is
//! known), a device's settings and properties after `device.`, spectral functions after a
//! channel's `.`, and otherwise the names in scope.

use lsp_types::{CompletionItem, CompletionItemKind};
use qdx_units::{Dimension, Unit};

use super::index::{Index, SymbolKind};
use super::lex::{self, Token, TokenKind};
use crate::validate::campaign::{Fault, Role, Strategy};

/// Units offered after a number, filtered by the dimension when the place has one.
const UNITS: &[&str] = &[
    "s", "ms", "min", "h", "uL", "mL", "L", "nL", "uL/min", "mL/min", "mL/h", "uL/s", "nL/s",
    "degC", "K", "nm", "um", "mm", "cm", "m", "mol/L", "mmol/L", "mM", "uM", "M", "bar", "mbar",
    "kPa", "Pa", "psi", "%", "g", "mg", "ug", "g/mol", "mg/mL", "g/L", "Hz", "degC/min", "K/min",
    "m/s", "mm/s",
];

/// The built-in math functions of expressions.
const MATH: &[&str] = &["min", "max", "abs", "sqrt", "exp", "ln", "log10"];

/// Where the cursor is.
#[derive(Debug)]
struct Context<'t> {
    /// The top-level block's keyword (`None`: before the first block).
    block: Option<String>,
    /// Brace depth inside the block.
    depth: usize,
    /// The words before the innermost open `{` on its line.
    head: Vec<&'t str>,
    /// Tokens of the entry before the cursor (after the last `{`, `,` at the same depth or line
    /// start), without the word being typed.
    before: Vec<Token>,
}

fn context(text: &str, offset: usize) -> Option<Context<'_>> {
    let blocks = crate::syntax::blocks(text);
    let block = blocks
        .iter()
        .rev()
        .find(|r| r.start <= offset && (offset <= r.end))
        .cloned()
        .unwrap_or(0..text.len());
    let slice = text.get(block.start..offset)?;
    let tokens: Vec<Token> = lex::tokens(slice)
        .into_iter()
        .map(|t| Token {
            start: t.start + block.start,
            end: t.end + block.start,
            ..t
        })
        .collect();
    // In a comment or a string (its end not reached): nothing to offer.
    if let Some(last) = tokens.last()
        && matches!(last.kind, TokenKind::Comment | TokenKind::String)
        && last.end >= offset
    {
        let t = last.text(text);
        let closed = match last.kind {
            TokenKind::String => t.len() > 1 && t.ends_with('"'),
            _ => t.starts_with("/*") && t.ends_with("*/") && t.len() >= 4,
        };
        if !closed {
            return None;
        }
    }
    let first_word = tokens
        .iter()
        .find(|t| t.kind == TokenKind::Word)
        .map(|t| t.text(text).to_owned());
    let in_first_block = block.start == 0
        && first_word
            .as_deref()
            .is_none_or(|w| w == "qdx" || !is_block_word(w));
    let block_word = if in_first_block { None } else { first_word };
    let mut depth = 0_usize;
    let mut heads: Vec<Vec<&str>> = Vec::new();
    let mut entry_start = 0_usize;
    let mut line_words: Vec<&str> = Vec::new();
    let mut last_line = None;
    for (k, t) in tokens.iter().enumerate() {
        let line = text.get(..t.start).map_or(0, |s| s.matches('\n').count());
        if last_line != Some(line) {
            line_words.clear();
            last_line = Some(line);
            // A new line starts a new entry where commas are optional.
            entry_start = k;
        }
        match (t.kind, t.text(text)) {
            (TokenKind::Punct, "{") => {
                heads.push(line_words.clone());
                depth += 1;
                entry_start = k + 1;
            }
            (TokenKind::Punct, "}") => {
                heads.pop();
                depth = depth.saturating_sub(1);
                entry_start = k + 1;
            }
            (TokenKind::Punct, ",") => entry_start = k + 1,
            (TokenKind::Word, w) => line_words.push(w),
            _ => {}
        }
    }
    // The cursor on a line of its own starts an entry.
    let cursor_line = text.get(..offset).map_or(0, |s| s.matches('\n').count());
    if last_line != Some(cursor_line) {
        entry_start = tokens.len();
    }
    let mut before: Vec<Token> = tokens
        .get(entry_start..)
        .unwrap_or_default()
        .iter()
        .filter(|t| t.kind != TokenKind::Comment)
        .copied()
        .collect();
    // The word being typed is what completion replaces, not its context.
    if before
        .last()
        .is_some_and(|t| t.end == offset && matches!(t.kind, TokenKind::Word | TokenKind::Unit))
    {
        before.pop();
    }
    Some(Context {
        block: block_word,
        depth,
        head: heads.pop().unwrap_or_default(),
        before,
    })
}

fn is_block_word(w: &str) -> bool {
    TOP_LEVEL.iter().any(|(k, _)| *k == w)
}

/// Top-level blocks, with what they hold.
const TOP_LEVEL: &[(&str, &str)] = &[
    ("campaign", "name, description, seed and budget"),
    ("use", "import a file or a standard-library module"),
    ("stocks", "the reagent solutions and their pumps"),
    ("reactor", "devices and how they connect"),
    ("variables", "what the optimizer varies"),
    ("parameters", "fixed values"),
    ("derive", "settings and values computed from the variables"),
    ("constraints", "conditions over the variables"),
    ("measure", "where and how spectra are taken"),
    ("proxies", "values computed from each measurement"),
    ("objectives", "what to optimise and when to stop"),
    ("optimizer", "the strategy and its options"),
    ("prior", "earlier results to start from"),
    ("data", "data files scripts read"),
    ("fit", "a kinetic model fitted to the observations"),
    ("safety", "limits and fault policies"),
    ("simulate", "the simulated lab's model"),
    ("kind", "a device kind"),
    ("reference", "a reference dye"),
    ("lab", "lab bindings (in a lab file)"),
];

/// The `measure` entries written as a name and a property list, with what they do.
const MEASURE_ENTRIES: &[(&str, &str)] = &[
    ("probe", "read the coil at several points along it"),
    ("transient", "ramp the flow and read the cell all the time"),
    (
        "droplets",
        "segmented flow: a train of droplets in a carrier, a spectrum per droplet",
    ),
    ("flush", "rinse with one pump after each measurement"),
    (
        "blank",
        "solvent through the cell for the dark and reference spectra",
    ),
    (
        "reference_dye",
        "the reference dye through the cell for relative PLQY",
    ),
    ("route", "collect the product while it is measured"),
];

struct Out {
    items: Vec<CompletionItem>,
}

impl Out {
    fn push(&mut self, label: &str, kind: CompletionItemKind, detail: Option<String>) {
        if self.items.iter().any(|i| i.label == label) {
            return;
        }
        self.items.push(CompletionItem {
            label: label.to_owned(),
            kind: Some(kind),
            detail,
            ..CompletionItem::default()
        });
    }

    fn keywords(&mut self, words: &[&str]) {
        for w in words {
            self.push(w, CompletionItemKind::KEYWORD, None);
        }
    }

    fn symbols(&mut self, index: &Index, kind: SymbolKind, filter: impl Fn(&str) -> bool) {
        let item_kind = item_kind(kind);
        for s in index.of_kind(kind) {
            if filter(&s.name) {
                let detail = match (&s.container, &s.ty) {
                    (_, Some(ty)) => Some(format!("{} : {ty}", kind.describe())),
                    (Some(c), None) => Some(format!("{} ({c})", kind.describe())),
                    _ => Some(kind.describe().to_owned()),
                };
                self.push(&s.name, item_kind, detail);
            }
        }
    }

    fn units(&mut self, dimension: Option<Dimension>) {
        for u in UNITS {
            let Ok(unit) = Unit::parse(u) else { continue };
            if dimension.is_none_or(|d| unit.dimension() == d) {
                self.push(
                    u,
                    CompletionItemKind::UNIT,
                    Some(unit.dimension().to_string().replace('_', " ")),
                );
            }
        }
    }
}

fn item_kind(kind: SymbolKind) -> CompletionItemKind {
    match kind {
        SymbolKind::Device => CompletionItemKind::CLASS,
        SymbolKind::Stock => CompletionItemKind::ENUM_MEMBER,
        SymbolKind::Variable => CompletionItemKind::VARIABLE,
        SymbolKind::Parameter => CompletionItemKind::CONSTANT,
        SymbolKind::Derived => CompletionItemKind::VARIABLE,
        SymbolKind::Proxy => CompletionItemKind::FIELD,
        SymbolKind::Channel => CompletionItemKind::EVENT,
        SymbolKind::Kind => CompletionItemKind::STRUCT,
        SymbolKind::Property => CompletionItemKind::PROPERTY,
        SymbolKind::Setting => CompletionItemKind::PROPERTY,
        SymbolKind::Builtin => CompletionItemKind::FUNCTION,
        SymbolKind::Reference => CompletionItemKind::CONSTANT,
        SymbolKind::File => CompletionItemKind::MODULE,
    }
}

/// The dimension a property or variable type names (`flow_rate`, `temperature_range`).
fn dimension_of(ty: &str) -> Option<Dimension> {
    Dimension::from_name(ty.trim_end_matches("_range")).ok()
}

/// The completions at byte `offset` of `text`.
pub fn complete(text: &str, offset: usize, index: &Index) -> Vec<CompletionItem> {
    let mut out = Out { items: Vec::new() };
    let Some(cx) = context(text, offset) else {
        return out.items;
    };
    let words: Vec<&str> = cx
        .before
        .iter()
        .filter(|t| t.kind != TokenKind::Comment)
        .map(|t| t.text(text))
        .collect();
    let last = words.last().copied();
    // After a number: a unit.
    if cx
        .before
        .last()
        .is_some_and(|t| t.kind == TokenKind::Number)
    {
        out.units(unit_dimension(&cx, &words, index));
        return out.items;
    }
    // After `name.`: its members.
    if last == Some(".")
        && let Some(receiver) = words.len().checked_sub(2).and_then(|k| words.get(k))
    {
        members(&mut out, index, &words, receiver);
        return out.items;
    }
    let block = cx.block.as_deref();
    if block.is_none() || (cx.depth == 0 && words.is_empty()) {
        if text.get(..offset).is_some_and(|t| !t.contains("qdx")) && block.is_none() {
            out.push(
                "qdx 1",
                CompletionItemKind::KEYWORD,
                Some("the language version".into()),
            );
        }
        for (k, what) in TOP_LEVEL {
            out.push(k, CompletionItemKind::KEYWORD, Some((*what).to_owned()));
        }
        return out.items;
    }
    match (block.unwrap_or(""), cx.depth) {
        ("use", 0) => {
            for (name, _) in crate::load::STDLIB {
                out.push(
                    name,
                    CompletionItemKind::MODULE,
                    Some("standard library".into()),
                );
            }
        }
        ("campaign", 1) if words.is_empty() => out.keywords(&["description", "seed", "budget"]),
        ("campaign", 2) => match words.as_slice() {
            [] => out.keywords(&["experiments", "reagent", "time", "repeated_failures"]),
            ["reagent"] => {
                out.push(
                    "total",
                    CompletionItemKind::KEYWORD,
                    Some("all stocks".into()),
                );
                out.symbols(index, SymbolKind::Stock, |_| true);
            }
            _ => {}
        },
        ("reactor", 1) => reactor(&mut out, index, &words),
        ("reactor", 2) => {
            // Inside a device's braces: its kind's properties, or a property's value.
            let kind = cx.head.last().copied().unwrap_or("");
            match words.as_slice() {
                [] => out.symbols(index, SymbolKind::Property, |n| {
                    index.member(kind, n).is_some()
                }),
                [prop] => {
                    let ty = index
                        .member(kind, prop)
                        .and_then(|i| index.symbols.get(i))
                        .and_then(|s| s.ty.clone())
                        .unwrap_or_default();
                    match Role::from_name(&ty) {
                        Some(role) => devices_of(&mut out, index, Some(role.name())),
                        None if ty == "integer" || dimension_of(&ty).is_some() => {}
                        None => devices_of(&mut out, index, None),
                    }
                }
                _ => {}
            }
        }
        ("stocks", 1) => {
            if last == Some("in") {
                devices_of(&mut out, index, Some("pump"));
            }
        }
        ("stocks", 2) if words.is_empty() => {
            out.push(
                "concentration",
                CompletionItemKind::PROPERTY,
                Some("mol/L".into()),
            );
        }
        ("variables", 1) => match words.as_slice() {
            [_, ":"] => {
                out.keywords(&["integer", "choice", "composition"]);
                for n in Dimension::kind_names() {
                    out.push(
                        n,
                        CompletionItemKind::TYPE_PARAMETER,
                        Some("quantity kind".into()),
                    );
                }
            }
            [_, ":", _] => out.keywords(&["in"]),
            [.., "->"] => {
                devices_of(&mut out, index, Some("heater"));
                devices_of(&mut out, index, Some("pump"));
            }
            _ => {}
        },
        ("measure", 0) if last == Some("at") => devices_of(&mut out, index, Some("cell")),
        ("measure", 1) if words.is_empty() => {
            out.keywords(&["steady_state", "settle", "replicates"]);
            for c in crate::validate::campaign::ChannelKind::ALL.map(|k| k.name()) {
                out.push(
                    c,
                    CompletionItemKind::EVENT,
                    Some("measured channel".into()),
                );
            }
            for (entry, what) in MEASURE_ENTRIES {
                out.push(
                    entry,
                    CompletionItemKind::PROPERTY,
                    Some((*what).to_owned()),
                );
            }
        }
        ("measure", 2) if words.is_empty() && cx.head.first() == Some(&"probe") => {
            out.push(
                "along",
                CompletionItemKind::PROPERTY,
                Some("the coil the probe reads".into()),
            );
            out.push(
                "at",
                CompletionItemKind::PROPERTY,
                Some("volumes from the coil's inlet".into()),
            );
        }
        ("measure", 2) if last == Some("along") => devices_of(&mut out, index, Some("coil")),
        ("measure", 2) if words.is_empty() && cx.head.first() == Some(&"transient") => {
            for (p, what) in [
                ("ramp", "the variable the ramp moves (a total flow)"),
                ("from", "where the ramp starts"),
                ("to", "where the ramp ends"),
                ("over", "how long the ramp lasts"),
                ("every", "the interval between spectra"),
                (
                    "hold",
                    "how long the end value is held while readings go on",
                ),
                ("shape", "linear or exponential"),
                ("residence", "how spectra map to the fluid they read"),
                (
                    "dispersion",
                    "axial dispersion: the dispersion coefficient (with `diameter`)",
                ),
                (
                    "diffusivity",
                    "axial dispersion: molecular diffusivity, Taylor–Aris (with `diameter`)",
                ),
                ("diameter", "axial dispersion: the tube's inner diameter"),
                ("peclet", "axial dispersion: the Péclet number uL/D"),
            ] {
                out.push(p, CompletionItemKind::PROPERTY, Some(what.to_owned()));
            }
        }
        ("measure", 2) if words.is_empty() && cx.head.first() == Some(&"droplets") => {
            for (p, what) in [
                ("carrier", "the pump of the carrier phase"),
                ("volume", "each droplet's volume"),
                ("spacing", "carrier between two droplets"),
                ("count", "droplets per experiment"),
                ("every", "the interval between readings as the train passes"),
                (
                    "hold",
                    "stop-and-go: how long the train rests in the reactor",
                ),
                ("detect", "`{ channel …, at …, above … }`: the threshold"),
            ] {
                out.push(p, CompletionItemKind::PROPERTY, Some(what.to_owned()));
            }
        }
        ("measure", 2) if last == Some("carrier") => devices_of(&mut out, index, Some("pump")),
        ("measure", 3) if words.is_empty() && cx.head.first() == Some(&"detect") => {
            for (p, what) in [
                ("channel", "absorbance or photoluminescence"),
                ("at", "the wavelength read"),
                ("above", "a reading above this is a droplet"),
            ] {
                out.push(p, CompletionItemKind::PROPERTY, Some(what.to_owned()));
            }
        }
        ("measure", 2) if last == Some("ramp") => {
            out.symbols(index, SymbolKind::Variable, |_| true);
        }
        ("measure", 2) if last == Some("shape") => out.keywords(&["exponential", "linear"]),
        ("measure", 2) if last == Some("residence") => {
            out.keywords(&["axial_dispersion", "plug_flow"])
        }
        ("measure", 1) if last == Some("steady_state") => out.keywords(&["after"]),
        ("measure", 1) if last == Some("settle") => out.keywords(&["within"]),
        ("measure", 2) if words.is_empty() => {
            for p in ["integration", "average"] {
                out.push(p, CompletionItemKind::PROPERTY, None);
            }
        }
        ("objectives", 1) => match words.as_slice() {
            [] => out.keywords(&[
                "maximize", "minimize", "target", "map", "require", "combine", "stop",
            ]),
            ["maximize" | "minimize" | "target" | "maximise" | "minimise" | "map"] => {
                out.symbols(index, SymbolKind::Proxy, |_| true);
            }
            ["combine"] => out.keywords(&["desirability", "weighted_sum", "pareto"]),
            ["stop"] => out.keywords(&["when"]),
            ["map", _] => out.keywords(&["until"]),
            ["map", _, "until"] => out.keywords(&["sd"]),
            _ => expression(&mut out, index, "objectives"),
        },
        ("objectives", 2) if words.is_empty() => out.symbols(index, SymbolKind::Proxy, |_| true),
        ("optimizer" | "optimiser", 0) if words.len() == 1 => {
            for (name, _) in Strategy::ALL {
                out.push(
                    name,
                    CompletionItemKind::ENUM_MEMBER,
                    Some("strategy".into()),
                );
            }
        }
        ("optimizer" | "optimiser", 1) => match words.as_slice() {
            [] => {
                out.keywords(&["initial", "batch", "levels"]);
                let strategy = cx.head.get(1).copied().unwrap_or("");
                for (s, options) in crate::validate::OPTIMIZER_OPTIONS {
                    if *s == strategy {
                        for (o, what) in *options {
                            out.push(o, CompletionItemKind::PROPERTY, Some((*what).to_owned()));
                        }
                    }
                }
                out.push(
                    "points",
                    CompletionItemKind::PROPERTY,
                    Some("design size".into()),
                );
            }
            ["initial"] => {
                for d in ["sobol", "latin_hypercube", "random"] {
                    out.push(d, CompletionItemKind::ENUM_MEMBER, Some("design".into()));
                }
            }
            ["model"] => {
                for (m, _) in crate::validate::campaign::ModelKind::NAMES {
                    out.push(m, CompletionItemKind::ENUM_MEMBER, Some("model".into()));
                }
            }
            ["acquisition"] => {
                for (a, _) in crate::validate::campaign::Acquisition::NAMES {
                    out.push(
                        a,
                        CompletionItemKind::ENUM_MEMBER,
                        Some("acquisition".into()),
                    );
                }
            }
            ["surrogate"] => {
                for (s, what) in crate::validate::campaign::SurrogateKind::NAMES {
                    out.push(s, CompletionItemKind::ENUM_MEMBER, Some(what.to_owned()));
                }
            }
            ["failures"] => {
                for (f, _) in crate::validate::campaign::FailureModel::NAMES {
                    out.push(f, CompletionItemKind::ENUM_MEMBER, Some("failures".into()));
                }
            }
            _ => {}
        },
        ("optimizer" | "optimiser", 2) if words.is_empty() => {
            out.symbols(index, SymbolKind::Variable, |_| true);
        }
        ("safety", 1) => match words.as_slice() {
            [] => {
                out.keywords(&["on", "safe"]);
                expression(&mut out, index, "safety");
            }
            ["on"] => {
                for f in Fault::ALL {
                    out.push(f.name(), CompletionItemKind::EVENT, Some("fault".into()));
                }
            }
            ["safe"] => devices_of(&mut out, index, Some("heater")),
            ["on", _, ":", ..] => {
                for a in crate::validate::FAULT_ACTIONS {
                    out.push(a, CompletionItemKind::KEYWORD, Some("action".into()));
                }
                out.keywords(&["retry", "then"]);
            }
            _ => expression(&mut out, index, "safety"),
        },
        ("simulate", 0) if words.len() == 1 => {
            for (m, _) in crate::validate::SIMULATION_MODELS {
                out.push(
                    m,
                    CompletionItemKind::ENUM_MEMBER,
                    Some("chemistry model".into()),
                );
            }
            out.keywords(&["table", "script"]);
        }
        ("simulate", 1) => {
            let model = cx.head.get(1).copied().unwrap_or("");
            match words.as_slice() {
                [] => {
                    for (m, roles) in crate::validate::SIMULATION_MODELS {
                        if *m == model {
                            for (r, required) in *roles {
                                let what = if *required {
                                    "stock role"
                                } else {
                                    "optional stock role"
                                };
                                out.push(r, CompletionItemKind::PROPERTY, Some(what.into()));
                            }
                        }
                    }
                }
                [_] => out.symbols(index, SymbolKind::Stock, |_| true),
                _ => {}
            }
        }
        (b, _) => expression(&mut out, index, b),
    }
    out.items
}

/// The reactor block, at an entry: a role, then a name, `:` and a kind of that role; or a
/// connection of devices.
fn reactor(out: &mut Out, index: &Index, words: &[&str]) {
    match words {
        [] => {
            for r in Role::ALL {
                out.push(
                    r.name(),
                    CompletionItemKind::KEYWORD,
                    Some("device role".into()),
                );
            }
            out.push(
                "lines",
                CompletionItemKind::KEYWORD,
                Some("parallel lines: the line built once per name, e.g. `lines a, b`".into()),
            );
            devices_of(out, index, None);
        }
        // Line names are new labels: nothing to offer.
        ["lines", ..] => {}
        [role, _, ":", ..] if Role::from_name(role).is_some() => {
            out.symbols(index, SymbolKind::Kind, |n| {
                index
                    .lookup(n, &[SymbolKind::Kind])
                    .and_then(|i| index.symbols.get(i))
                    .is_some_and(|s| s.container.as_deref() == Some(role))
            });
        }
        [.., "->"] | [.., ","] => devices_of(out, index, None),
        _ => {}
    }
}

/// Devices, of one role if given.
fn devices_of(out: &mut Out, index: &Index, role: Option<&str>) {
    let roles: Vec<(String, String)> = index
        .of_kind(SymbolKind::Device)
        .map(|d| {
            let kind_role = d
                .container
                .as_deref()
                .and_then(|k| index.lookup(k, &[SymbolKind::Kind]))
                .and_then(|i| index.symbols.get(i))
                .and_then(|k| k.container.clone())
                .unwrap_or_default();
            (d.name.clone(), kind_role)
        })
        .collect();
    for (name, r) in roles {
        if role.is_none_or(|want| want == r) {
            out.push(
                &name,
                CompletionItemKind::CLASS,
                Some(format!("device ({r})")),
            );
        }
    }
}

/// After `receiver.`: a device's settings and properties, a channel's spectral functions, a
/// module's items.
fn members(out: &mut Out, index: &Index, words: &[&str], receiver: &str) {
    if let Some(kind) = index.device_kind(receiver) {
        let kind = kind.to_owned();
        out.symbols(index, SymbolKind::Setting, |n| {
            index.member(&kind, n).is_some()
        });
        out.symbols(index, SymbolKind::Property, |n| {
            index.member(&kind, n).is_some()
        });
        return;
    }
    if index.lookup(receiver, &[SymbolKind::Channel]).is_some()
        || crate::validate::campaign::ChannelKind::from_name(receiver).is_some()
    {
        out.symbols(index, SymbolKind::Builtin, |_| true);
        return;
    }
    // `std.` and `std.reference.`
    let dotted: String = words.concat();
    if dotted.ends_with("std.reference.") {
        out.symbols(index, SymbolKind::Reference, |_| true);
    } else if dotted.ends_with("std.") {
        for (name, _) in crate::load::STDLIB {
            if let Some(rest) = name.strip_prefix("std.") {
                out.push(
                    rest,
                    CompletionItemKind::MODULE,
                    Some("standard library".into()),
                );
            }
        }
    }
}

/// Names an expression of this block may use.
fn expression(out: &mut Out, index: &Index, block: &str) {
    let kinds: &[SymbolKind] = match block {
        "proxies" => &[
            SymbolKind::Channel,
            SymbolKind::Builtin,
            SymbolKind::Proxy,
            SymbolKind::Variable,
        ],
        "objectives" => &[SymbolKind::Proxy],
        _ => &[
            SymbolKind::Variable,
            SymbolKind::Parameter,
            SymbolKind::Derived,
            SymbolKind::Device,
        ],
    };
    for k in kinds {
        out.symbols(index, *k, |_| true);
    }
    if block != "objectives" {
        for m in MATH {
            out.push(m, CompletionItemKind::FUNCTION, Some("math".into()));
        }
    }
    if block == "safety" {
        for n in ["temperature", "total_flow"] {
            out.push(
                n,
                CompletionItemKind::VARIABLE,
                Some("safety envelope".into()),
            );
        }
    }
    out.keywords(&["and", "or", "not", "within"]);
    if matches!(block, "derive" | "constraints") {
        out.keywords(&["match"]);
    }
}

/// The dimension a number at the cursor takes, when the place says.
fn unit_dimension(cx: &Context<'_>, words: &[&str], index: &Index) -> Option<Dimension> {
    match (cx.block.as_deref()?, cx.depth) {
        ("variables", 1) => match words {
            [_, ":", ty, ..] => dimension_of(ty),
            _ => None,
        },
        ("reactor", 2) => {
            let kind = cx.head.last().copied()?;
            let prop = words.first()?;
            let ty = index
                .member(kind, prop)
                .and_then(|i| index.symbols.get(i))
                .and_then(|s| s.ty.clone())?;
            dimension_of(&ty)
        }
        ("stocks", 2) => Dimension::from_name("concentration").ok(),
        ("measure", 2) => Dimension::from_name("time").ok(),
        ("measure", 1) => match words.first() {
            Some(&"steady_state") => None,
            Some(&"settle") if words.contains(&"for") => Dimension::from_name("time").ok(),
            Some(&"settle") => Dimension::from_name("temperature").ok(),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(text_with_cursor: &str) -> Vec<String> {
        let offset = text_with_cursor.find('|').expect("a cursor");
        let text = text_with_cursor.replace('|', "");
        let loaded = crate::load::load_recovering(
            &crate::world::MemoryWorld::new().with("c.qdx", text.clone()),
            std::path::Path::new("c.qdx"),
            "c.qdx",
        );
        let index = Index::build(&loaded);
        complete(&text, offset, &index)
            .into_iter()
            .map(|i| i.label)
            .collect()
    }

    const HEAD: &str = "qdx 1\nuse std.devices\nuse std.spectra\n";

    #[test]
    fn offers_what_the_place_takes() {
        let top = labels(&format!("{HEAD}\n|"));
        assert!(top.contains(&"reactor".to_owned()), "{top:?}");
        let roles = labels(&format!("{HEAD}reactor {{\n  |\n}}\n"));
        assert!(roles.contains(&"pump".to_owned()), "{roles:?}");
        assert!(roles.contains(&"lines".to_owned()), "{roles:?}");
        let line_names = labels(&format!(
            "{HEAD}reactor {{\n  pump p1 : syringe_pump\n  lines a, |\n}}\n"
        ));
        assert!(!line_names.contains(&"p1".to_owned()), "{line_names:?}");
        let kinds = labels(&format!("{HEAD}reactor {{\n  pump p1 : |\n}}\n"));
        assert!(kinds.contains(&"syringe_pump".to_owned()), "{kinds:?}");
        assert!(!kinds.contains(&"heater".to_owned()), "{kinds:?}");
        let props = labels(&format!(
            "{HEAD}reactor {{\n  pump p1 : syringe_pump {{ |\n}}\n"
        ));
        assert!(props.contains(&"max_rate".to_owned()), "{props:?}");
        let units = labels(&format!(
            "{HEAD}reactor {{\n  pump p1 : syringe_pump {{ max_rate 2 |\n}}\n"
        ));
        assert!(units.contains(&"mL/min".to_owned()), "{units:?}");
        assert!(!units.contains(&"degC".to_owned()), "{units:?}");
        let temps = labels(&format!(
            "{HEAD}variables {{\n  t : temperature in 25 |\n}}\n"
        ));
        assert_eq!(temps, vec!["degC", "K"]);
        let dims = labels(&format!("{HEAD}variables {{\n  t : |\n}}\n"));
        assert!(dims.contains(&"flow_rate".to_owned()), "{dims:?}");
        let members = labels(&format!(
            "{HEAD}reactor {{\n  pump p1 : syringe_pump {{ syringe 1 mL, max_rate 1 mL/min }}\n}}\nderive {{\n  p1.|\n}}\n"
        ));
        assert!(members.contains(&"rate".to_owned()), "{members:?}");
        assert!(members.contains(&"syringe".to_owned()), "{members:?}");
        let names = labels(&format!(
            "{HEAD}variables {{\n  residence : time in 1 s .. 2 s\n}}\nderive {{\n  x = r|\n}}\n"
        ));
        assert!(names.contains(&"residence".to_owned()), "{names:?}");
        assert!(labels(&format!("{HEAD}// a comment |")).is_empty());
        let options = labels(&format!("{HEAD}optimizer bayesian {{\n  |\n}}\n"));
        assert!(options.contains(&"model".to_owned()), "{options:?}");
        let models = labels(&format!("{HEAD}optimizer bayesian {{\n  model |\n}}\n"));
        assert_eq!(models, vec!["composite", "score"]);
        let surrogates = labels(&format!("{HEAD}optimizer bayesian {{\n  surrogate |\n}}\n"));
        assert_eq!(surrogates, vec!["gp", "extra_trees", "nn_ensemble"]);
    }

    #[test]
    fn offers_the_probe_and_what_it_takes() {
        let reactor = "reactor {\n  coil r1 : reactor_coil { volume 100 uL }\n  mixer m1 : cross_mixer { volume 1 uL }\n}\n";
        let entries = labels(&format!("{HEAD}{reactor}measure at s1 {{\n  |\n}}\n"));
        assert!(entries.contains(&"probe".to_owned()), "{entries:?}");
        assert!(entries.contains(&"flush".to_owned()), "{entries:?}");
        let props = labels(&format!(
            "{HEAD}{reactor}measure at s1 {{\n  probe {{ |\n}}\n"
        ));
        assert_eq!(props, vec!["along", "at"]);
        let coils = labels(&format!(
            "{HEAD}{reactor}measure at s1 {{\n  probe {{ along |\n}}\n"
        ));
        assert!(coils.contains(&"r1".to_owned()), "{coils:?}");
        assert!(!coils.contains(&"m1".to_owned()), "{coils:?}");
    }

    #[test]
    fn offers_the_droplets_and_what_they_take() {
        let entries = labels(&format!("{HEAD}measure at s1 {{\n  |\n}}\n"));
        assert!(entries.contains(&"droplets".to_owned()), "{entries:?}");
        let props = labels(&format!("{HEAD}measure at s1 {{\n  droplets {{ |\n}}\n"));
        assert_eq!(
            props,
            vec![
                "carrier", "volume", "spacing", "count", "every", "hold", "detect"
            ]
        );
        let detect = labels(&format!(
            "{HEAD}measure at s1 {{\n  droplets {{\n    detect {{ |\n}}\n"
        ));
        assert_eq!(detect, vec!["channel", "at", "above"]);
    }

    #[test]
    fn offers_the_transient_and_what_it_takes() {
        let head =
            format!("{HEAD}variables {{\n  total_flow : flow_rate in 5 uL/min .. 40 uL/min\n}}\n");
        let entries = labels(&format!("{head}measure at s1 {{\n  |\n}}\n"));
        assert!(entries.contains(&"transient".to_owned()), "{entries:?}");
        let props = labels(&format!("{head}measure at s1 {{\n  transient {{ |\n}}\n"));
        assert_eq!(
            props,
            vec![
                "ramp",
                "from",
                "to",
                "over",
                "every",
                "hold",
                "shape",
                "residence",
                "dispersion",
                "diffusivity",
                "diameter",
                "peclet"
            ]
        );
        let vars = labels(&format!(
            "{head}measure at s1 {{\n  transient {{ ramp |\n}}\n"
        ));
        assert_eq!(vars, vec!["total_flow"]);
        let shapes = labels(&format!(
            "{head}measure at s1 {{\n  transient {{ ramp total_flow, shape |\n}}\n"
        ));
        assert_eq!(shapes, vec!["exponential", "linear"]);
        let models = labels(&format!(
            "{head}measure at s1 {{\n  transient {{ ramp total_flow, residence |\n}}\n"
        ));
        assert_eq!(models, vec!["axial_dispersion", "plug_flow"]);
    }
}
