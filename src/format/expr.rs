//! Printing expressions on one line, with parentheses exactly where the parser needs them.
//!
//! The parser is pest's Pratt parser with this table (binding power, loosest first): `or` 10,
//! `and` 20, prefix `not` 30, comparisons and `within` 40, `+ -` 50, `* /` 60, prefix `-` 70,
//! `^` 80 (right-associative). A prefix operator parses its operand with binding power one
//! less than its own; an infix operator parses its right side with its own power (left
//! associative) or one less (right associative); an operator joins the expression on its left
//! when its power is greater than the binding power in force.
//!
//! Parentheses the user wrote are in the AST ([`ExprKind::Paren`]) and are always printed.
//! Beyond those, a sub-expression gets parentheses only when printing it bare would make the
//! parser read a different tree. For an AST that came from the parser this never happens (the
//! printed tokens are the parsed tokens), so the output parses back to an equal AST; for a tree
//! built by a tool it puts back the parentheses the tree's shape needs.
//!
//! Invariant: the output is a single line (strings are re-escaped, so none holds a newline).

use crate::syntax::ast::{Argument, BinaryOp, Expr, ExprKind, IntLit, NumberLit, Path, UnaryOp};

/// Nothing follows, or nothing that can continue the expression.
const NO_FOLLOWER: u8 = 0;
/// Binding power of an atom's right edge: nothing can be taken from it.
const CLOSED: u8 = u8::MAX;

fn infix_power(op: BinaryOp) -> u8 {
    op.precedence().saturating_mul(10)
}

/// The binding power an infix operator parses its right side with.
fn right_power(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Pow => infix_power(op).saturating_sub(1),
        _ => infix_power(op),
    }
}

fn prefix_power(op: UnaryOp) -> u8 {
    match op {
        UnaryOp::Not => 30,
        UnaryOp::Neg => 70,
    }
}

/// Prints an expression standing on its own (an entry, a value, an argument).
pub fn expr(e: &Expr) -> String {
    let mut out = String::new();
    write(&mut out, e, NO_FOLLOWER, NO_FOLLOWER);
    out
}

/// Writes `e` where the parser is at binding power `left` and the next token is an infix
/// operator of power `follower` (or [`NO_FOLLOWER`]).
fn write(out: &mut String, e: &Expr, left: u8, follower: u8) {
    if needs_parens(e, left, follower) {
        out.push('(');
        write_bare(out, e, NO_FOLLOWER, NO_FOLLOWER);
        out.push(')');
    } else {
        write_bare(out, e, left, follower);
    }
}

fn write_bare(out: &mut String, e: &Expr, left: u8, follower: u8) {
    match &e.kind {
        ExprKind::Number(n) => out.push_str(&number(n)),
        ExprKind::Quantity {
            number: n, unit, ..
        } => {
            out.push_str(&number(n));
            out.push(' ');
            out.push_str(unit);
        }
        ExprKind::String(s) => out.push_str(&string(s)),
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Path(p) => out.push_str(&p.dotted()),
        ExprKind::Call { callee, args } => {
            out.push_str(&callee.dotted());
            out.push('(');
            out.push_str(&arguments(args));
            out.push(')');
        }
        ExprKind::List(items) => {
            out.push('[');
            out.push_str(&list(items));
            out.push(']');
        }
        ExprKind::Match { subject, arms } => {
            out.push_str("match ");
            out.push_str(&subject.dotted());
            out.push_str(" { ");
            let arms: Vec<String> = arms
                .iter()
                .map(|a| format!("{} => {}", string(&a.level.value), expr(&a.value)))
                .collect();
            out.push_str(&arms.join(", "));
            out.push_str(" }");
        }
        ExprKind::Unary { op, operand } => {
            out.push_str(match op {
                UnaryOp::Neg => "-",
                UnaryOp::Not => "not ",
            });
            write(out, operand, prefix_power(*op).saturating_sub(1), follower);
        }
        ExprKind::Binary {
            op,
            left: lhs,
            right,
        } => {
            // The left side is read at the same power as the whole, then must stop at `op`.
            write(out, lhs, left, infix_power(*op));
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            write(out, right, right_power(*op), follower);
        }
        ExprKind::Paren(inner) => {
            out.push('(');
            write(out, inner, NO_FOLLOWER, NO_FOLLOWER);
            out.push(')');
        }
    }
}

/// Would printing `e` bare, at parser power `left` and before an operator of power `follower`,
/// be read as a different tree?
fn needs_parens(e: &Expr, left: u8, follower: u8) -> bool {
    match &e.kind {
        // The parser's loop only takes an operator stronger than the power in force.
        ExprKind::Binary { op, .. } if infix_power(*op) <= left => true,
        ExprKind::Binary { .. } | ExprKind::Unary { .. } => right_edge(e, follower) < follower,
        _ => false,
    }
}

/// The weakest binding power along the right edge of `e` printed bare: an operator that
/// follows `e` is taken by the innermost node on that edge whose power is below its own.
fn right_edge(e: &Expr, follower: u8) -> u8 {
    match &e.kind {
        ExprKind::Binary { op, right, .. } => {
            right_power(*op).min(printed_edge(right, right_power(*op), follower))
        }
        ExprKind::Unary { op, operand } => {
            let power = prefix_power(*op).saturating_sub(1);
            power.min(printed_edge(operand, power, follower))
        }
        _ => CLOSED,
    }
}

/// [`right_edge`] of `e` as printed: closed when it gets parentheses. The edge is computed
/// once per level (asking [`needs_parens`] first computed it twice, which made a chain of
/// prefix operators or powers exponential to print).
fn printed_edge(e: &Expr, left: u8, follower: u8) -> u8 {
    match &e.kind {
        ExprKind::Binary { op, .. } if infix_power(*op) <= left => CLOSED,
        ExprKind::Binary { .. } | ExprKind::Unary { .. } => {
            let edge = right_edge(e, follower);
            if edge < follower { CLOSED } else { edge }
        }
        _ => CLOSED,
    }
}

/// `a, b, name: c`
pub fn arguments(args: &[Argument]) -> String {
    args.iter()
        .map(|a| match &a.name {
            Some(name) => format!("{}: {}", name.name, expr(&a.value)),
            None => expr(&a.value),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a, b, c`
pub fn list(items: &[Expr]) -> String {
    items.iter().map(expr).collect::<Vec<_>>().join(", ")
}

/// A number as written; a number built by a tool (no valid text) prints its value.
pub fn number(n: &NumberLit) -> String {
    if is_number_text(&n.text) {
        n.text.clone()
    } else {
        format!("{}", n.value)
    }
}

/// The grammar's `number`: digits, an optional fraction, an optional exponent.
fn is_number_text(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (text.get(..i).unwrap_or(""), text.get(i + 1..)),
        None => (text, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// An integer: as written when the source still says the same value (`007` stays `007`),
/// otherwise its value.
pub fn integer(i: &IntLit, source: &str) -> String {
    let written = i
        .span
        .range()
        .and_then(|r| source.get(r))
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .filter(|t| t.parse::<u64>().ok() == Some(i.value));
    match written {
        Some(t) => t.to_owned(),
        None => i.value.to_string(),
    }
}

/// A string literal, quoted and re-escaped with the grammar's four escapes.
pub fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// `a.b.c`
pub fn path(p: &Path) -> String {
    p.dotted()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Span, Synthetic};

    fn sp() -> Span {
        Span::synthetic(Synthetic::Generated)
    }

    fn atom(name: &str) -> Expr {
        Expr {
            kind: ExprKind::Path(Path {
                segments: vec![crate::syntax::ast::Ident {
                    name: name.to_owned(),
                    span: sp(),
                }],
                span: sp(),
            }),
            span: sp(),
        }
    }

    fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
        Expr {
            kind: ExprKind::Binary {
                op,
                left: Box::new(l),
                right: Box::new(r),
            },
            span: sp(),
        }
    }

    fn un(op: UnaryOp, e: Expr) -> Expr {
        Expr {
            kind: ExprKind::Unary {
                op,
                operand: Box::new(e),
            },
            span: sp(),
        }
    }

    #[test]
    fn left_associative_operators_need_parens_on_the_right_only() {
        let (a, b, c) = (atom("a"), atom("b"), atom("c"));
        let left = bin(
            BinaryOp::Sub,
            bin(BinaryOp::Sub, a.clone(), b.clone()),
            c.clone(),
        );
        assert_eq!(expr(&left), "a - b - c");
        let right = bin(BinaryOp::Sub, a, bin(BinaryOp::Sub, b, c));
        assert_eq!(expr(&right), "a - (b - c)");
    }

    #[test]
    fn power_is_right_associative() {
        let (a, b, c) = (atom("a"), atom("b"), atom("c"));
        let right = bin(
            BinaryOp::Pow,
            a.clone(),
            bin(BinaryOp::Pow, b.clone(), c.clone()),
        );
        assert_eq!(expr(&right), "a ^ b ^ c");
        let left = bin(BinaryOp::Pow, bin(BinaryOp::Pow, a, b), c);
        assert_eq!(expr(&left), "(a ^ b) ^ c");
    }

    #[test]
    fn looser_operands_get_parens() {
        let (a, b, c) = (atom("a"), atom("b"), atom("c"));
        let e = bin(
            BinaryOp::Mul,
            bin(BinaryOp::Add, a.clone(), b.clone()),
            c.clone(),
        );
        assert_eq!(expr(&e), "(a + b) * c");
        let e = bin(BinaryOp::Add, a, bin(BinaryOp::Mul, b, c));
        assert_eq!(expr(&e), "a + b * c");
    }

    #[test]
    fn prefix_operators_follow_the_pratt_table() {
        let (a, b) = (atom("a"), atom("b"));
        // `-a ^ b` is `-(a ^ b)`; `(-a) ^ b` needs its parentheses.
        assert_eq!(
            expr(&un(UnaryOp::Neg, bin(BinaryOp::Pow, a.clone(), b.clone()))),
            "-a ^ b"
        );
        assert_eq!(
            expr(&bin(BinaryOp::Pow, un(UnaryOp::Neg, a.clone()), b.clone())),
            "(-a) ^ b"
        );
        // `not a == b` is `not (a == b)`.
        assert_eq!(
            expr(&un(UnaryOp::Not, bin(BinaryOp::Eq, a.clone(), b.clone()))),
            "not a == b"
        );
        assert_eq!(
            expr(&un(UnaryOp::Neg, bin(BinaryOp::Add, a.clone(), b.clone()))),
            "-(a + b)"
        );
        // A prefix operator on the right needs nothing on its left...
        let eq_not = bin(BinaryOp::Eq, a.clone(), un(UnaryOp::Not, b.clone()));
        assert_eq!(expr(&eq_not), "a == not b");
        // ...but would swallow a following operator stronger than itself.
        let and = bin(BinaryOp::And, eq_not.clone(), atom("c"));
        assert_eq!(expr(&and), "a == not b and c");
        let eq = bin(BinaryOp::Eq, eq_not, atom("c"));
        // (`a == not b == c` would read as `a == not (b == c)`.)
        assert_eq!(expr(&eq), "a == (not b) == c");
        assert_eq!(expr(&un(UnaryOp::Neg, un(UnaryOp::Neg, a))), "--a");
    }

    #[test]
    fn strings_are_re_escaped() {
        assert_eq!(string("a\"b\\c\nd\te"), r#""a\"b\\c\nd\te""#);
    }

    #[test]
    fn number_text_is_kept_when_valid() {
        for ok in ["1", "0.50", "1e-3", "2.5E+10", "007"] {
            assert!(is_number_text(ok), "{ok}");
        }
        for bad in ["", "1.", ".5", "1e", "-1", "1x"] {
            assert!(!is_number_text(bad), "{bad}");
        }
    }
}
