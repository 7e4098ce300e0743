//! Every span of the AST lies inside its parent's span (and so inside its file): diagnostics
//! built from any node point at the right text.

use qdx::source::{Origin, SourceMap, Span};
use qdx::syntax::ast::{self, ExprKind, Item};

fn check(parent: Span, child: Span, what: &str, file: &str) {
    assert!(
        parent.contains(&child),
        "{file}: the span of {what} {child:?} is not inside its parent {parent:?}"
    );
}

fn expr(e: &ast::Expr, parent: Span, file: &str) {
    check(parent, e.span, "an expression", file);
    match &e.kind {
        ExprKind::Quantity {
            number, unit_span, ..
        } => {
            check(e.span, number.span, "a number", file);
            check(e.span, *unit_span, "a unit", file);
        }
        ExprKind::Path(p) => p
            .segments
            .iter()
            .for_each(|s| check(e.span, s.span, "a name", file)),
        ExprKind::Call { callee, args } => {
            check(e.span, callee.span, "a callee", file);
            for a in args {
                check(e.span, a.span, "an argument", file);
                expr(&a.value, a.span, file);
            }
        }
        ExprKind::List(items) => items.iter().for_each(|i| expr(i, e.span, file)),
        ExprKind::Match { subject, arms } => {
            check(e.span, subject.span, "a match's choice", file);
            for a in arms {
                check(e.span, a.span, "a match arm", file);
                check(a.span, a.level.span, "a level", file);
                expr(&a.value, a.span, file);
            }
        }
        ExprKind::Unary { operand, .. } | ExprKind::Paren(operand) => expr(operand, e.span, file),
        ExprKind::Binary { left, right, .. } => {
            expr(left, e.span, file);
            expr(right, e.span, file);
        }
        ExprKind::Number(n) => check(e.span, n.span, "a number", file),
        ExprKind::String(_) | ExprKind::Bool(_) => {}
    }
}

fn props(p: &ast::Props, parent: Span, file: &str) {
    check(parent, p.span, "a property list", file);
    for prop in &p.entries {
        check(p.span, prop.span, "a property", file);
        check(prop.span, prop.name.span, "a property name", file);
        match &prop.value {
            ast::PropValue::Expr(e) => expr(e, prop.span, file),
            ast::PropValue::Range(r) => {
                expr(&r.lo, r.span, file);
                expr(&r.hi, r.span, file);
            }
            ast::PropValue::Props(inner) => props(inner, prop.span, file),
        }
    }
}

fn item(i: &Item, file: &str) {
    let s = i.span();
    match i {
        Item::Stocks(b) => b.entries.iter().for_each(|st| {
            check(s, st.span, "a stock", file);
            if let Some(p) = &st.props {
                props(p, st.span, file);
            }
        }),
        Item::Reactor(b) => b.entries.iter().for_each(|e| match e {
            ast::ReactorEntry::Device(d) => {
                check(s, d.span, "a device", file);
                if let Some(p) = &d.props {
                    props(p, d.span, file);
                }
            }
            ast::ReactorEntry::Connection(c) => {
                check(s, c.span, "a connection", file);
                c.stages
                    .iter()
                    .flatten()
                    .for_each(|p| check(c.span, p.span, "a port", file));
            }
            ast::ReactorEntry::Lines(l) => {
                check(s, l.span, "parallel lines", file);
                l.names
                    .iter()
                    .for_each(|n| check(l.span, n.span, "a line's name", file));
            }
        }),
        Item::Variables(b) => b.entries.iter().for_each(|v| {
            check(s, v.span, "a variable", file);
            if let ast::VariableType::Continuous { range, .. }
            | ast::VariableType::Integer { range } = &v.ty
            {
                expr(&range.lo, v.span, file);
                expr(&range.hi, v.span, file);
            }
        }),
        Item::Derive(b) => b.entries.iter().for_each(|a| {
            check(s, a.span, "an assignment", file);
            expr(&a.value, a.span, file);
        }),
        Item::Constraints(b) => b.entries.iter().for_each(|e| expr(e, s, file)),
        Item::Proxies(b) => b.entries.iter().for_each(|p| {
            check(s, p.span, "a proxy", file);
            if let ast::ProxyDef::Expr(e) = &p.definition {
                expr(e, p.span, file);
            }
        }),
        Item::Objectives(b) => b
            .entries
            .iter()
            .for_each(|o| check(s, o.span(), "an objective", file)),
        Item::Safety(b) => b
            .entries
            .iter()
            .for_each(|e| check(s, e.span(), "a safety entry", file)),
        Item::Measure(m) => m
            .entries
            .iter()
            .for_each(|e| check(s, e.span(), "a measurement entry", file)),
        Item::Optimizer(o) => o
            .entries
            .iter()
            .for_each(|e| check(s, e.span(), "an optimizer entry", file)),
        Item::Simulate(sim) => {
            if let Some(p) = &sim.props {
                props(p, s, file);
            }
        }
        _ => {}
    }
}

#[test]
fn every_span_lies_inside_its_parent() {
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for dir in [
        "examples",
        "examples/labs",
        "tests/data/valid",
        "tests/data/syntax",
        "stdlib",
    ] {
        for e in std::fs::read_dir(dir)
            .expect("folder")
            .filter_map(Result::ok)
        {
            if e.path().extension().is_some_and(|x| x == "qdx") {
                files.push(e.path());
            }
        }
    }
    files.sort();
    assert!(files.len() >= 10);
    for path in files {
        let name = path.to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("readable");
        let mut sources = SourceMap::new();
        let id = sources.add(name.clone(), Origin::Memory, text.clone());
        let ast =
            qdx::syntax::parse(&sources, id).unwrap_or_else(|d| panic!("{name}: {}", d.message));
        for i in &ast.items {
            check(ast.span, i.span(), "an item", &name);
            let r = i.span().range().expect("a real span");
            assert!(
                r.end <= text.len(),
                "{name}: a span past the end of the file"
            );
            item(i, &name);
        }
    }
}
