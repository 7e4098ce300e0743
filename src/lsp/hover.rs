//! Hover: what a name is, as written and as validation proved it.
//!
//! The declaration comes from the syntax tree (current even in a half-typed file); units,
//! limits and proven ranges come from the validated [`Campaign`] (the last one that checked
//! when the file has errors now), looked up by name. Nothing is computed again here: a derived
//! value's interval is the one the validator proved, a setting's limits the ones it checked.

use std::fmt::Write as _;

use qdx_units::{Dimension, Unit};

use super::index::{Symbol, SymbolKind};
use crate::source::SourceMap;
use crate::validate::campaign::{
    Campaign, Derived, DerivedTarget, Device, Domain, LimitSubject, ProxyDefinition,
};

/// The doc comment of a declaration: the `//` lines right above it, or the one at the end of
/// its first line.
pub fn doc_comment(text: &str, start: usize) -> Option<String> {
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |k| k + 1);
    let line_end = text
        .get(start..)?
        .find('\n')
        .map_or(text.len(), |k| start + k);
    let mut above = Vec::new();
    let mut end = line_start;
    while end > 0 {
        let prev_start = text.get(..end - 1)?.rfind('\n').map_or(0, |k| k + 1);
        let line = text.get(prev_start..end - 1)?.trim();
        match line.strip_prefix("//") {
            Some(c) if !c.trim_start().starts_with('─') => above.push(c.trim().to_owned()),
            _ => break,
        }
        end = prev_start;
    }
    if !above.is_empty() {
        above.reverse();
        return Some(above.join(" "));
    }
    let line = text.get(start..line_end)?;
    let k = trailing_comment(line)?;
    Some(line.get(k + 2..)?.trim().to_owned())
}

/// Where a `//` comment starts on a line, outside strings.
fn trailing_comment(line: &str) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if in_string && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => in_string = !in_string,
            '/' if !in_string && line.get(i..)?.starts_with("//") => return Some(i),
            _ => {}
        }
        escaped = false;
    }
    None
}

/// A declaration as written: a kind or a reference dye whole (it is short and says what it
/// holds), otherwise its first line (a block's head, an entry's line).
fn declaration(sources: &SourceMap, symbol: &Symbol) -> Option<String> {
    let text = sources.snippet(symbol.span)?;
    if matches!(symbol.kind, SymbolKind::Kind | SymbolKind::Reference) && text.lines().count() <= 24
    {
        return Some(text.to_owned());
    }
    let first = text.lines().next()?.trim_end();
    // Leave a trailing comment to the doc line.
    let first = match trailing_comment(first) {
        Some(k) => first.get(..k)?.trim_end(),
        None => first,
    };
    Some(first.trim_end_matches('{').trim_end().to_owned())
}

fn dimension_name(d: Dimension) -> String {
    d.to_string().replace('_', " ")
}

/// `flow rate, in uL/min`
fn unit_line(dimension: Dimension, unit: &str) -> String {
    if dimension.is_dimensionless() {
        "a plain number".to_owned()
    } else if unit.is_empty() {
        dimension_name(dimension)
    } else {
        format!("{}, in `{unit}`", dimension_name(dimension))
    }
}

/// The hover text of a symbol, in Markdown.
pub fn symbol(
    symbol: &Symbol,
    sources: &SourceMap,
    campaign: Option<&Campaign>,
    stale: bool,
) -> String {
    let mut out = String::new();
    if symbol.kind == SymbolKind::File {
        return format!("file `{}`\n", symbol.name);
    }
    if let Some(decl) = declaration(sources, symbol) {
        let _ = writeln!(out, "```qdx\n{decl}\n```");
    }
    let _ = write!(out, "{}", symbol.kind.describe());
    if let Some(c) = &symbol.container {
        match symbol.kind {
            SymbolKind::Property | SymbolKind::Setting => {
                let _ = write!(out, " of kind `{c}`");
            }
            SymbolKind::Device => {
                let _ = write!(out, " of kind `{c}`");
            }
            SymbolKind::Variable => {
                let _ = write!(out, ", a component of `{c}`");
            }
            SymbolKind::Kind => {
                let _ = write!(out, ": a {c}");
            }
            _ => {}
        }
    }
    out.push('\n');
    let facts = campaign.map(|c| facts(symbol, c)).unwrap_or_default();
    if !facts.is_empty() {
        out.push('\n');
        for f in &facts {
            let _ = writeln!(out, "- {f}");
        }
        if stale {
            out.push_str("\n_from the last version of the file that checked_\n");
        }
    }
    if let Some(text) = symbol
        .span
        .file()
        .and_then(|f| sources.get(f))
        .map(|f| f.text.as_str())
        && let Some(range) = symbol.span.range()
        && let Some(doc) = doc_comment(text, range.start)
    {
        let _ = write!(out, "\n{doc}\n");
    }
    out
}

/// What the validated campaign says of a symbol.
fn facts(symbol: &Symbol, c: &Campaign) -> Vec<String> {
    let name = symbol.name.as_str();
    let mut out = Vec::new();
    match symbol.kind {
        SymbolKind::Variable => {
            if let Some((i, v)) = c.variables.iter().enumerate().find(|(_, v)| v.name == name) {
                out.push(unit_line(v.dimension, v.unit.symbol()));
                match &v.domain {
                    Domain::Continuous { lo, hi, log } => out.push(format!(
                        "declared range: {} .. {}{}",
                        v.unit.format(*lo),
                        v.unit.format(*hi),
                        if *log {
                            ", searched on a log scale"
                        } else {
                            ""
                        }
                    )),
                    Domain::Integer { lo, hi } => out.push(format!("integer, {lo} .. {hi}")),
                    Domain::Choice { levels } => out.push(format!(
                        "one of {}",
                        levels
                            .iter()
                            .map(|l| format!("{l:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    Domain::Component { lo, hi, .. } => out.push(format!(
                        "fraction {} .. {}",
                        qdx_units::format_number(*lo),
                        qdx_units::format_number(*hi)
                    )),
                }
                out.extend(limits_on(c, &LimitSubject::Variable(i)));
            }
        }
        SymbolKind::Derived => {
            if let Some((i, d)) = c.derived.iter().enumerate().find(|(_, d)| d.name == name) {
                out.extend(derived_facts(c, i, d));
            }
        }
        SymbolKind::Parameter => {}
        SymbolKind::Device => {
            if let Some(d) = c.devices.iter().find(|d| d.name == name) {
                out.extend(device_facts(c, d));
            }
        }
        SymbolKind::Stock => {
            if let Some(s) = c.stocks.iter().find(|s| s.name == name) {
                if let Some(d) = &s.description {
                    out.push(d.clone());
                }
                if let Some(p) = c.devices.get(s.pump) {
                    out.push(format!("fed by pump `{}`", p.name));
                }
                if let Some(x) = s.concentration {
                    out.push(format!(
                        "concentration {} mol/L",
                        qdx_units::format_number(x / 1000.0)
                    ));
                }
            }
        }
        SymbolKind::Proxy => {
            if let Some(p) = c.proxies.iter().find(|p| p.name == name) {
                match &p.definition {
                    ProxyDefinition::Builtin { function } => {
                        let channels: Vec<&str> =
                            function.channels().iter().map(|k| k.name()).collect();
                        out.push(format!(
                            "`{}` of the {} spectrum",
                            function.name(),
                            channels.join(" and ")
                        ));
                    }
                    ProxyDefinition::Reading { name } => {
                        out.push(format!("the simulated lab's reading `{name}`"));
                    }
                    ProxyDefinition::Formula { .. } => out.push("a formula".to_owned()),
                    ProxyDefinition::Script { file, .. } => out.push(match file {
                        Some(f) => format!("a script, `{f}`"),
                        None => "an inline script".to_owned(),
                    }),
                }
                out.push(unit_line(p.dimension, p.unit.symbol()));
                if let Some(o) = c.objectives.list.iter().find(|o| o.proxy_name(c) == name) {
                    out.push(format!("objective: {}", objective_text(o)));
                }
            }
        }
        SymbolKind::Setting | SymbolKind::Property => {}
        SymbolKind::Channel => {
            if let Some(m) = &c.measurement
                && let Some(ch) = m.channels.iter().find(|ch| ch.kind.name() == name)
            {
                out.push(format!(
                    "{} ms per scan, {} scans averaged",
                    qdx_units::format_number(ch.integration * 1000.0),
                    ch.averages
                ));
                if let Some(l) = ch.light.and_then(|l| c.devices.get(l)) {
                    out.push(format!("measured under light `{}`", l.name));
                }
            }
        }
        SymbolKind::Kind | SymbolKind::Builtin | SymbolKind::Reference | SymbolKind::File => {}
    }
    out
}

/// A device setting's derived value (`p_seed.rate`) as hover shows it: proven range and the
/// limit it is checked against.
pub fn setting(c: &Campaign, device: &str, setting: &str) -> Option<String> {
    let name = format!("{device}.{setting}");
    let mut out = String::new();
    let _ = writeln!(out, "```qdx\n{name}\n```");
    if let Some((i, d)) = c.derived.iter().enumerate().find(|(_, d)| d.name == name) {
        let _ = writeln!(out, "derived setting\n");
        for f in derived_facts(c, i, d) {
            let _ = writeln!(out, "- {f}");
        }
        return Some(out);
    }
    let dev = c.devices.iter().find(|d| d.name == device)?;
    if let Some(s) = dev.setting(setting) {
        let _ = writeln!(out, "setting of `{device}`\n");
        let _ = writeln!(out, "- {}", unit_line(s.dimension, s.unit.symbol()));
        let _ = writeln!(
            out,
            "- device limit: {} .. {}",
            s.unit.format(s.lo),
            s.unit.format(s.hi)
        );
        return Some(out);
    }
    let p = dev.property(setting)?;
    let _ = writeln!(out, "property of `{device}`\n");
    let _ = writeln!(out, "- {}", p.describe(&c.devices));
    Some(out)
}

fn derived_facts(c: &Campaign, i: usize, d: &Derived) -> Vec<String> {
    let mut out = vec![unit_line(d.dimension, d.unit.symbol())];
    let (lo, hi) = d.range;
    let range = if lo.is_finite() && hi.is_finite() {
        if (hi - lo).abs() <= 1e-12 * hi.abs().max(1e-300) {
            d.unit.format(lo)
        } else {
            format!("{} .. {}", d.unit.format(lo), d.unit.format(hi))
        }
    } else {
        "unbounded".to_owned()
    };
    out.push(format!(
        "**proven range** over the feasible variable box: {range}"
    ));
    if let DerivedTarget::Setting {
        device, setting, ..
    } = &d.target
        && let Some(dev) = c.devices.get(*device)
        && let Some(s) = dev.setting(setting)
    {
        out.push(format!(
            "checked against the limit of `{}` (`{}`): {} in {} .. {}",
            dev.name,
            dev.kind,
            s.name,
            s.unit.format(s.lo),
            s.unit.format(s.hi)
        ));
    }
    out.extend(limits_on(c, &LimitSubject::Derived(i)));
    out
}

fn device_facts(c: &Campaign, d: &Device) -> Vec<String> {
    let mut out = vec![format!("a {}", d.role.name())];
    for (k, v) in &d.properties {
        out.push(format!("{k} {}", v.describe(&c.devices)));
    }
    for s in &d.settings {
        let name = format!("{}.{}", d.name, s.name);
        match c.derived.iter().find(|x| x.name == name) {
            Some(x) => out.push(format!(
                "setting {} in {} .. {}; derived, **proven** {} .. {}",
                s.name,
                s.unit.format(s.lo),
                s.unit.format(s.hi),
                x.unit.format(x.range.0),
                x.unit.format(x.range.1)
            )),
            None => out.push(format!(
                "setting {} in {} .. {}",
                s.name,
                s.unit.format(s.lo),
                s.unit.format(s.hi)
            )),
        }
    }
    out
}

fn limits_on(c: &Campaign, subject: &LimitSubject) -> Vec<String> {
    c.safety
        .limits
        .iter()
        .filter(|l| &l.subject == subject)
        .map(|l| format!("safety limit: `{}`", l.text))
        .collect()
}

fn objective_text(o: &crate::validate::campaign::Objective) -> String {
    use crate::validate::campaign::Goal;
    match o.goal {
        Goal::Maximize => "maximize".to_owned(),
        Goal::Minimize => "minimize".to_owned(),
        Goal::Target { value, tolerance } => format!(
            "target {} within {}",
            o.unit.format(value),
            o.unit.format(tolerance)
        ),
        Goal::AtLeast { value } => format!("at least {}", o.unit.format(value)),
        Goal::AtMost { value } => format!("at most {}", o.unit.format(value)),
    }
}

/// A unit written after a number: its dimension and its size in SI.
pub fn unit(text: &str) -> Option<String> {
    let unit = Unit::parse(text).ok()?;
    let d = unit.dimension();
    let mut out = format!("```qdx\n{text}\n```\nunit of {}", dimension_name(d));
    let si = d.si_symbol();
    if unit.has_offset() {
        let _ = write!(
            out,
            "\n\n1 {text} step = {} {si}; 0 {text} = {} K",
            qdx_units::format_number(unit.scale()),
            qdx_units::format_number(unit.offset())
        );
    } else if !d.is_dimensionless() || unit.scale() != 1.0 {
        let _ = write!(
            out,
            "\n\n1 {text} = {} {si}",
            qdx_units::format_number(unit.scale())
        );
    }
    Some(out)
}

trait ProxyName {
    fn proxy_name<'c>(&self, c: &'c Campaign) -> &'c str;
}

impl ProxyName for crate::validate::campaign::Objective {
    fn proxy_name<'c>(&self, c: &'c Campaign) -> &'c str {
        c.proxies.get(self.proxy).map_or("", |p| p.name.as_str())
    }
}
