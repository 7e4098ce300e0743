//! Typed expressions: dimension checking of AST expressions, and their evaluation on numbers
//! and on intervals.
//!
//! Invariant: a [`TExpr`] is dimensionally consistent and all its constants are SI. Temperature
//! literals are read as points or as differences from their context (`T + 5 degC` adds 5 K,
//! `T <= 90 degC` compares with 363.15 K), which is why typing sees both readings of a literal
//! until the context decides.

use qdx_units::{Dimension, Interpretation, Interval, IntervalError, Unit};

use super::ids::{DerivedId, ProxyId, VarId};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::source::Span;
use crate::syntax::ast::{self, BinaryOp, ExprKind, UnaryOp};

/// Elementary functions allowed in derived values, constraints and proxy formulas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MathFn {
    Min,
    Max,
    Abs,
    Sqrt,
    Exp,
    Ln,
    Log10,
}

impl MathFn {
    pub const ALL: [(&'static str, MathFn); 7] = [
        ("min", MathFn::Min),
        ("max", MathFn::Max),
        ("abs", MathFn::Abs),
        ("sqrt", MathFn::Sqrt),
        ("exp", MathFn::Exp),
        ("ln", MathFn::Ln),
        ("log10", MathFn::Log10),
    ];

    pub fn from_name(name: &str) -> Option<MathFn> {
        MathFn::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }

    pub fn name(self) -> &'static str {
        MathFn::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }
}

/// A resolved, dimension-checked expression over SI values.
#[derive(Debug, Clone, PartialEq)]
pub enum TExpr {
    Const(f64),
    Var(VarId),
    Derived(DerivedId),
    Proxy(ProxyId),
    /// A state or parameter of a `fit` block, by its index there (states, then parameters).
    Local(usize),
    Neg(Box<TExpr>),
    Add(Box<TExpr>, Box<TExpr>),
    Sub(Box<TExpr>, Box<TExpr>),
    Mul(Box<TExpr>, Box<TExpr>),
    Div(Box<TExpr>, Box<TExpr>),
    Powi(Box<TExpr>, i32),
    /// Real power of dimensionless operands.
    Pow(Box<TExpr>, Box<TExpr>),
    Call(MathFn, Vec<TExpr>),
    /// A value per level of a choice variable (`match`): the arm of the level the variable's
    /// value (the level's index) stands for, one arm per level, in the levels' order.
    Match(VarId, Vec<TExpr>),
}

/// The arm a choice variable's value selects: points hold a choice as its level's index.
fn arm_index(x: f64) -> Option<usize> {
    (x.is_finite() && x >= -0.5).then(|| x.round() as usize)
}

/// Values an expression is evaluated with.
pub trait Env {
    fn var(&self, id: VarId) -> f64;
    fn derived(&self, id: DerivedId) -> f64;
    fn proxy(&self, id: ProxyId) -> f64;
    /// A `fit` block's state or parameter; only a fit's model has any.
    fn local(&self, _: usize) -> f64 {
        f64::NAN
    }
}

/// Intervals an expression is enclosed with.
pub trait IntervalEnv {
    fn var(&self, id: VarId) -> Interval;
    fn derived(&self, id: DerivedId) -> Result<Interval, IntervalError>;
}

impl TExpr {
    /// Evaluates on numbers. NaN or infinities come out as they arise; callers check.
    pub fn eval(&self, env: &dyn Env) -> f64 {
        match self {
            TExpr::Const(c) => *c,
            TExpr::Var(v) => env.var(*v),
            TExpr::Derived(d) => env.derived(*d),
            TExpr::Proxy(p) => env.proxy(*p),
            TExpr::Local(i) => env.local(*i),
            TExpr::Neg(a) => -a.eval(env),
            TExpr::Add(a, b) => a.eval(env) + b.eval(env),
            TExpr::Sub(a, b) => a.eval(env) - b.eval(env),
            TExpr::Mul(a, b) => a.eval(env) * b.eval(env),
            TExpr::Div(a, b) => a.eval(env) / b.eval(env),
            TExpr::Powi(a, n) => a.eval(env).powi(*n),
            TExpr::Pow(a, b) => a.eval(env).powf(b.eval(env)),
            TExpr::Call(f, args) => {
                let x: Vec<f64> = args.iter().map(|a| a.eval(env)).collect();
                let first = x.first().copied().unwrap_or(f64::NAN);
                match f {
                    MathFn::Min => x.iter().copied().fold(f64::INFINITY, f64::min),
                    MathFn::Max => x.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    MathFn::Abs => first.abs(),
                    MathFn::Sqrt => first.sqrt(),
                    MathFn::Exp => first.exp(),
                    MathFn::Ln => first.ln(),
                    MathFn::Log10 => first.log10(),
                }
            }
            TExpr::Match(v, arms) => arm_index(env.var(*v))
                .and_then(|k| arms.get(k))
                .map_or(f64::NAN, |arm| arm.eval(env)),
        }
    }

    /// A sound enclosure of the expression's values over the intervals of `env`.
    pub fn interval(&self, env: &dyn IntervalEnv) -> Result<Interval, IntervalError> {
        Ok(match self {
            TExpr::Const(c) => Interval::point(*c)?,
            TExpr::Var(v) => env.var(*v),
            TExpr::Derived(d) => env.derived(*d)?,
            TExpr::Proxy(_) | TExpr::Local(_) => Interval::entire(),
            TExpr::Neg(a) => -a.interval(env)?,
            TExpr::Add(a, b) => a.interval(env)? + b.interval(env)?,
            TExpr::Sub(a, b) => a.interval(env)? - b.interval(env)?,
            TExpr::Mul(a, b) => a.interval(env)? * b.interval(env)?,
            TExpr::Div(a, b) => a.interval(env)?.div(&b.interval(env)?)?,
            TExpr::Powi(a, n) => a.interval(env)?.powi(*n)?,
            TExpr::Pow(a, b) => {
                // x^y = exp(y ln x), defined for x > 0.
                let (x, y) = (a.interval(env)?, b.interval(env)?);
                (y * x.ln()?).exp()
            }
            TExpr::Call(f, args) => {
                let xs = args
                    .iter()
                    .map(|a| a.interval(env))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut it = xs.into_iter();
                let first = it.next().unwrap_or_else(Interval::entire);
                match f {
                    MathFn::Min => it.fold(first, |acc, x| acc.min(&x)),
                    MathFn::Max => it.fold(first, |acc, x| acc.max(&x)),
                    MathFn::Abs => first.abs(),
                    MathFn::Sqrt => first.sqrt()?,
                    MathFn::Exp => first.exp(),
                    MathFn::Ln => first.ln()?,
                    MathFn::Log10 => first.log10()?,
                }
            }
            TExpr::Match(v, arms) => {
                // The hull of the arms of every level the variable's interval may stand for
                // (levels are indices; a value selects the nearest).
                let i = env.var(*v);
                let mut hull: Option<Interval> = None;
                for (k, arm) in arms.iter().enumerate() {
                    let k = k as f64;
                    if k + 0.5 < i.lo() || k - 0.5 > i.hi() {
                        continue;
                    }
                    let a = arm.interval(env)?;
                    hull = Some(hull.map_or(a, |h| h.hull(&a)));
                }
                hull.unwrap_or_else(Interval::entire)
            }
        })
    }

    /// The variables this expression depends on, through derived values too.
    pub fn collect_vars(&self, derived: &dyn Fn(DerivedId) -> Option<TExpr>, out: &mut Vec<VarId>) {
        match self {
            TExpr::Const(_) | TExpr::Proxy(_) | TExpr::Local(_) => {}
            TExpr::Var(v) => {
                if !out.contains(v) {
                    out.push(*v);
                }
            }
            TExpr::Derived(d) => {
                if let Some(e) = derived(*d) {
                    e.collect_vars(derived, out);
                }
            }
            TExpr::Neg(a) | TExpr::Powi(a, _) => a.collect_vars(derived, out),
            TExpr::Add(a, b)
            | TExpr::Sub(a, b)
            | TExpr::Mul(a, b)
            | TExpr::Div(a, b)
            | TExpr::Pow(a, b) => {
                a.collect_vars(derived, out);
                b.collect_vars(derived, out);
            }
            TExpr::Call(_, args) => args.iter().for_each(|a| a.collect_vars(derived, out)),
            TExpr::Match(v, arms) => {
                if !out.contains(v) {
                    out.push(*v);
                }
                arms.iter().for_each(|a| a.collect_vars(derived, out));
            }
        }
    }

    /// The proxies this expression reads, in the order it reads them.
    pub fn proxies(&self, out: &mut Vec<ProxyId>) {
        match self {
            TExpr::Const(_) | TExpr::Var(_) | TExpr::Derived(_) | TExpr::Local(_) => {}
            TExpr::Proxy(p) => {
                if !out.contains(p) {
                    out.push(*p);
                }
            }
            TExpr::Neg(a) | TExpr::Powi(a, _) => a.proxies(out),
            TExpr::Add(a, b)
            | TExpr::Sub(a, b)
            | TExpr::Mul(a, b)
            | TExpr::Div(a, b)
            | TExpr::Pow(a, b) => {
                a.proxies(out);
                b.proxies(out);
            }
            TExpr::Call(_, args) | TExpr::Match(_, args) => {
                args.iter().for_each(|a| a.proxies(out));
            }
        }
    }

    /// The `fit` locals this expression reads ([`TExpr::Local`] indices), in reading order.
    pub fn locals(&self, out: &mut Vec<usize>) {
        match self {
            TExpr::Const(_) | TExpr::Var(_) | TExpr::Derived(_) | TExpr::Proxy(_) => {}
            TExpr::Local(i) => {
                if !out.contains(i) {
                    out.push(*i);
                }
            }
            TExpr::Neg(a) | TExpr::Powi(a, _) => a.locals(out),
            TExpr::Add(a, b)
            | TExpr::Sub(a, b)
            | TExpr::Mul(a, b)
            | TExpr::Div(a, b)
            | TExpr::Pow(a, b) => {
                a.locals(out);
                b.locals(out);
            }
            TExpr::Call(_, args) | TExpr::Match(_, args) => {
                args.iter().for_each(|a| a.locals(out));
            }
        }
    }

    /// The constant value, if the expression has no variables.
    pub fn as_const(&self) -> Option<f64> {
        match self {
            TExpr::Const(c) => Some(*c),
            _ => None,
        }
    }
}

/// Whether a typed value is a temperature, and which reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temp {
    /// Not a temperature.
    No,
    /// A point on the temperature scale.
    Absolute,
    /// A difference of temperatures.
    Difference,
    /// A literal (`25 degC`) whose reading the context decides.
    Literal,
}

/// The type of a typed expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ty {
    pub dim: Dimension,
    pub temp: Temp,
    /// A number written without a unit (it may be a forgotten unit).
    pub bare: bool,
}

impl Ty {
    pub fn of(dim: Dimension) -> Ty {
        Ty {
            dim,
            temp: Temp::No,
            bare: false,
        }
    }

    pub fn absolute_temperature() -> Ty {
        Ty {
            dim: Dimension::TEMPERATURE,
            temp: Temp::Absolute,
            bare: false,
        }
    }

    pub fn dimensionless() -> Ty {
        Ty::of(Dimension::DIMENSIONLESS)
    }

    /// The phrase for messages: "a flow rate", "an absolute temperature".
    pub fn describe(&self) -> String {
        match self.temp {
            Temp::Absolute => "an absolute temperature".to_owned(),
            Temp::Difference => "a temperature difference".to_owned(),
            _ if self.dim.is_dimensionless() => "a plain number".to_owned(),
            _ => describe_dimension(self.dim),
        }
    }
}

/// "a flow rate", "a quantity in m³·s⁻²".
pub fn describe_dimension(dim: Dimension) -> String {
    let hint = dim.hint();
    hint.split(", e.g.").next().unwrap_or(&hint).to_owned()
}

/// A typed expression; temperature literals keep both readings until settled.
#[derive(Debug, Clone)]
pub struct Typed {
    pub expr: TExpr,
    pub ty: Ty,
    /// For a temperature literal: the SI value read as a difference (`expr` holds the point).
    pub literal_difference: Option<f64>,
    pub span: Span,
}

impl Typed {
    pub fn new(expr: TExpr, ty: Ty, span: Span) -> Self {
        Self {
            expr,
            ty,
            literal_difference: None,
            span,
        }
    }

    /// Reads a temperature literal as a point (the default).
    pub fn as_point(mut self) -> Typed {
        if self.ty.temp == Temp::Literal {
            self.ty.temp = Temp::Absolute;
            self.literal_difference = None;
        }
        self
    }

    /// Reads a temperature literal as a difference.
    pub fn as_difference(mut self) -> Typed {
        if self.ty.temp == Temp::Literal {
            if let Some(d) = self.literal_difference.take() {
                self.expr = TExpr::Const(d);
            }
            self.ty.temp = Temp::Difference;
        }
        self
    }
}

/// Resolves names and calls for the typer; each context (derive, proxies, …) has its own.
pub trait Scope {
    fn path(&self, path: &ast::Path) -> Result<Typed, Diagnostic>;
    /// The choice variable a `match` is over, with its levels. Only the design space's scope
    /// (derived values, constraints) has choice variables; elsewhere a `match` is an error.
    fn choice(&self, path: &ast::Path) -> Result<(VarId, Vec<String>), Diagnostic> {
        Err(Diagnostic::error(
            code::MATCH_SUBJECT,
            "a `match` picks a value per level of a choice variable, which only `derive` and `constraints` can read",
        )
        .at(path.span))
    }
    fn call(
        &self,
        callee: &ast::Path,
        args: &[ast::Argument],
        span: Span,
        typer: &Typer<'_>,
    ) -> Result<Typed, Diagnostic> {
        typer.math_call(callee, args, span)
    }
}

/// Dimension-checks AST expressions against a [`Scope`].
#[allow(missing_debug_implementations)]
pub struct Typer<'a> {
    pub scope: &'a dyn Scope,
}

pub(crate) fn unit_error(span: Span, err: &qdx_units::UnitError) -> Diagnostic {
    Diagnostic::error(code::UNIT, err.to_string()).at(span)
}

/// Parses a unit written in the source, with a located error.
pub fn parse_unit(text: &str, span: Span) -> Result<Unit, Diagnostic> {
    Unit::parse(text).map_err(|e| match &e {
        qdx_units::UnitError::UnknownUnit { unit, suggestion } => {
            let d = Diagnostic::error(code::UNKNOWN_UNIT, format!("unknown unit `{unit}`"))
                .label(span, "not a unit qdx knows");
            // The fix replaces the span, so only where it covers the unit's text alone (not
            // the quotes of a unit written as a string).
            let bare = span.range().is_some_and(|r| r.len() == text.len());
            match suggestion {
                Some(s) if bare => d.did_you_mean(span, s),
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(
                    "units are written like `uL`, `mL/min`, `degC`, `nm`, `mol/L`, `bar`, `%`",
                ),
            }
        }
        _ => unit_error(span, &e),
    })
}

/// `-25 degC` is the temperature −25 °C, as a point or a difference as the context reads it:
/// a temperature literal with its number negated. For a unit `a·x + b` in kelvin, the point
/// `a·x + b` becomes `−a·x + b`, which is the point less twice the difference `a·x`.
fn negated_literal(t: Typed, operand: &ast::Expr, span: Span) -> Result<Typed, Diagnostic> {
    let (Some(point), Some(diff)) = (t.expr.as_const(), t.literal_difference) else {
        return Err(
            Diagnostic::error(code::INTERNAL, "a temperature literal without its value").at(span),
        );
    };
    let point = point - 2.0 * diff;
    if point < 0.0 {
        let written = match &operand.kind {
            ExprKind::Quantity { number, unit, .. } => format!("-{} {unit}", number.text),
            _ => "this temperature".to_owned(),
        };
        return Err(Diagnostic::error(
            code::BELOW_ABSOLUTE_ZERO,
            format!("{written} is below absolute zero"),
        )
        .at(span));
    }
    Ok(Typed {
        expr: TExpr::Const(point),
        ty: t.ty,
        literal_difference: Some(-diff),
        span,
    })
}

impl Typer<'_> {
    pub fn expr(&self, e: &ast::Expr) -> Result<Typed, Diagnostic> {
        let span = e.span;
        match &e.kind {
            ExprKind::Number(n) => Ok(Typed::new(
                TExpr::Const(n.value),
                Ty {
                    dim: Dimension::DIMENSIONLESS,
                    temp: Temp::No,
                    bare: true,
                },
                span,
            )),
            ExprKind::Quantity {
                number,
                unit,
                unit_span,
            } => {
                let u = parse_unit(unit, *unit_span)?;
                let dim = u.dimension();
                if dim == Dimension::TEMPERATURE {
                    let point = u.to_si(number.value, Interpretation::Absolute);
                    if point < 0.0 {
                        return Err(Diagnostic::error(
                            code::BELOW_ABSOLUTE_ZERO,
                            format!("{} {} is below absolute zero", number.text, unit),
                        )
                        .at(span));
                    }
                    let diff = u.to_si(number.value, Interpretation::Difference);
                    Ok(Typed {
                        expr: TExpr::Const(point),
                        ty: Ty {
                            dim,
                            temp: Temp::Literal,
                            bare: false,
                        },
                        literal_difference: Some(diff),
                        span,
                    })
                } else {
                    Ok(Typed::new(
                        TExpr::Const(u.to_si(number.value, Interpretation::Difference)),
                        Ty::of(dim),
                        span,
                    ))
                }
            }
            ExprKind::Path(p) => {
                let mut t = self.scope.path(p)?;
                t.span = span;
                Ok(t)
            }
            ExprKind::Call { callee, args } => {
                let mut t = self.scope.call(callee, args, span, self)?;
                t.span = span;
                Ok(t)
            }
            ExprKind::Paren(inner) => {
                let mut t = self.expr(inner)?;
                t.span = span;
                Ok(t)
            }
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => {
                let t = self.expr(operand)?;
                if t.ty.temp == Temp::Literal {
                    return negated_literal(t, operand, span);
                }
                if t.ty.temp == Temp::Absolute {
                    return Err(Diagnostic::error(
                        code::TEMPERATURE,
                        "cannot negate an absolute temperature",
                    )
                    .at(span)
                    .help("subtract it from another temperature to get a difference"));
                }
                // A negated constant is a constant (`-2 nm/K` as a bound, `x^-2` as a power).
                let expr = match t.expr {
                    TExpr::Const(c) => TExpr::Const(-c),
                    e => TExpr::Neg(Box::new(e)),
                };
                Ok(Typed {
                    expr,
                    ty: t.ty,
                    literal_difference: None,
                    span,
                })
            }
            ExprKind::Binary { op, left, right } => self.binary(*op, left, right, span),
            ExprKind::Match { subject, arms } => self.match_expr(subject, arms, span),
            ExprKind::String(_)
            | ExprKind::Bool(_)
            | ExprKind::List(_)
            | ExprKind::Unary {
                op: UnaryOp::Not, ..
            } => Err(
                Diagnostic::error(code::NOT_A_NUMBER, "expected a number or a quantity here")
                    .at(span),
            ),
        }
    }

    /// Checks that two operands have the same dimension; bare zero adapts to anything.
    pub fn same_dimension(&self, l: &Typed, r: &Typed, what: &str) -> Result<(), Diagnostic> {
        if l.ty.dim == r.ty.dim {
            return Ok(());
        }
        let is_zero = |t: &Typed| t.ty.bare && t.expr.as_const() == Some(0.0);
        if is_zero(l) || is_zero(r) {
            return Ok(());
        }
        for (bare, other) in [(l, r), (r, l)] {
            if bare.ty.bare {
                return Err(missing_unit(bare.span, other.ty.dim));
            }
        }
        Err(Diagnostic::error(
            code::UNIT_MISMATCH,
            format!("cannot {what} {} and {}", l.ty.describe(), r.ty.describe()),
        )
        .label(l.span, format!("this is {}", l.ty.describe()))
        .label(r.span, format!("this is {}", r.ty.describe())))
    }

    fn binary(
        &self,
        op: BinaryOp,
        left: &ast::Expr,
        right: &ast::Expr,
        span: Span,
    ) -> Result<Typed, Diagnostic> {
        let l = self.expr(left)?;
        let r = self.expr(right)?;
        match op {
            BinaryOp::Add | BinaryOp::Sub => {
                let verb = if op == BinaryOp::Add {
                    "add"
                } else {
                    "subtract"
                };
                self.same_dimension(&l, &r, verb)?;
                let (l, r, temp) = settle_additive(op, l, r, span)?;
                let dim = if l.ty.bare { r.ty.dim } else { l.ty.dim };
                let expr = if op == BinaryOp::Add {
                    TExpr::Add(Box::new(l.expr), Box::new(r.expr))
                } else {
                    TExpr::Sub(Box::new(l.expr), Box::new(r.expr))
                };
                Ok(Typed::new(
                    expr,
                    Ty {
                        dim,
                        temp,
                        bare: l.ty.bare && r.ty.bare,
                    },
                    span,
                ))
            }
            BinaryOp::Mul | BinaryOp::Div => {
                let (l, r) = (l.as_point(), r.as_point());
                let dim = if op == BinaryOp::Mul {
                    l.ty.dim.mul(r.ty.dim)
                } else {
                    l.ty.dim.div(r.ty.dim)
                }
                .map_err(|e| unit_error(span, &e))?;
                let abs = l.ty.temp == Temp::Absolute || r.ty.temp == Temp::Absolute;
                let diff = l.ty.temp == Temp::Difference || r.ty.temp == Temp::Difference;
                if abs && dim == Dimension::TEMPERATURE {
                    return Err(Diagnostic::error(
                        code::TEMPERATURE,
                        "cannot scale an absolute temperature",
                    )
                    .at(span)
                    .help("subtract a reference temperature first to get a difference, which can be scaled"));
                }
                let temp = if dim == Dimension::TEMPERATURE && diff {
                    Temp::Difference
                } else {
                    Temp::No
                };
                let expr = if op == BinaryOp::Mul {
                    TExpr::Mul(Box::new(l.expr), Box::new(r.expr))
                } else {
                    TExpr::Div(Box::new(l.expr), Box::new(r.expr))
                };
                Ok(Typed::new(
                    expr,
                    Ty {
                        dim,
                        temp,
                        bare: l.ty.bare && r.ty.bare,
                    },
                    span,
                ))
            }
            BinaryOp::Pow => {
                let l = l.as_point();
                if let (Some(n), true) = (r.expr.as_const(), r.ty.dim.is_dimensionless())
                    && n.fract() == 0.0
                    && n.abs() <= 16.0
                {
                    {
                        let n = n as i32;
                        let dim = l.ty.dim.powi(n).map_err(|e| unit_error(span, &e))?;
                        if l.ty.temp == Temp::Absolute && n != 1 && dim == Dimension::TEMPERATURE {
                            return Err(Diagnostic::error(
                                code::TEMPERATURE,
                                "cannot scale an absolute temperature",
                            )
                            .at(span));
                        }
                        return Ok(Typed::new(
                            TExpr::Powi(Box::new(l.expr), n),
                            Ty {
                                dim,
                                temp: Temp::No,
                                bare: l.ty.bare,
                            },
                            span,
                        ));
                    }
                }
                if !l.ty.dim.is_dimensionless() || !r.ty.dim.is_dimensionless() {
                    return Err(Diagnostic::error(
                        code::POWER,
                        "a quantity with a unit can only be raised to a whole-number power",
                    )
                    .at(span)
                    .help("write the exponent as an integer constant, e.g. `r ^ 2`"));
                }
                Ok(Typed::new(
                    TExpr::Pow(Box::new(l.expr), Box::new(r.expr)),
                    Ty::dimensionless(),
                    span,
                ))
            }
            BinaryOp::Or
            | BinaryOp::And
            | BinaryOp::Within
            | BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => Err(Diagnostic::error(
                code::CONDITION_IN_VALUE,
                format!(
                    "`{}` makes a condition, but a value is expected here",
                    op.symbol()
                ),
            )
            .at(span)),
        }
    }

    /// `match choice { "a" => x, "b" => y }`: every level of the choice exactly once, every arm
    /// of one kind of quantity. The arms are kept in the levels' order.
    fn match_expr(
        &self,
        subject: &ast::Path,
        arms: &[ast::MatchArm],
        span: Span,
    ) -> Result<Typed, Diagnostic> {
        let (var, levels) = self.scope.choice(subject)?;
        let name = subject.dotted();
        let mut by_level: Vec<Option<&ast::MatchArm>> = vec![None; levels.len()];
        for arm in arms {
            let level = &arm.level.value;
            let Some(k) = levels.iter().position(|l| l == level) else {
                let listed: Vec<String> = levels.iter().map(|l| format!("\"{l}\"")).collect();
                let d = Diagnostic::error(
                    code::MATCH_LEVEL,
                    format!("`{name}` has no level \"{level}\""),
                )
                .label(arm.level.span, "not a level of the choice");
                return Err(
                    match crate::names::closest(level, levels.iter().map(String::as_str)) {
                        Some(s) => d.help(format!("did you mean \"{s}\"?")),
                        None => d.help(format!("its levels: {}", listed.join(", "))),
                    },
                );
            };
            if let Some(Some(first)) = by_level.get(k) {
                return Err(Diagnostic::error(
                    code::MATCH_LEVEL,
                    format!("level \"{level}\" of `{name}` is given twice"),
                )
                .label(first.level.span, "first given here")
                .label(arm.level.span, "given again here")
                .help("give each level one value"));
            }
            if let Some(slot) = by_level.get_mut(k) {
                *slot = Some(arm);
            }
        }
        let missing: Vec<String> = levels
            .iter()
            .zip(&by_level)
            .filter(|(_, a)| a.is_none())
            .map(|(l, _)| format!("\"{l}\""))
            .collect();
        if !missing.is_empty() {
            let (what, list) = match missing.as_slice() {
                [one] => ("level", one.clone()),
                [rest @ .., last] => ("levels", format!("{} and {last}", rest.join(", "))),
                [] => ("levels", String::new()),
            };
            return Err(Diagnostic::error(
                code::MATCH_LEVEL,
                format!("the `match` over `{name}` gives no value for {what} {list}"),
            )
            .at(span)
            .help(format!(
                "a `match` gives every level of `{name}` a value: add `{} => …`",
                missing.join(" => …, ")
            )));
        }
        let mut typed: Vec<Typed> = Vec::with_capacity(levels.len());
        for arm in by_level.into_iter().flatten() {
            let t = self.expr(&arm.value)?.as_point();
            if let Some(first) = typed.first() {
                self.same_dimension(first, &t, "choose between")?;
                if first.ty.temp != t.ty.temp && !(t.ty.bare || first.ty.bare) {
                    return Err(Diagnostic::error(
                        code::TEMPERATURE,
                        format!(
                            "cannot choose between {} and {}",
                            first.ty.describe(),
                            t.ty.describe()
                        ),
                    )
                    .label(first.span, format!("this is {}", first.ty.describe()))
                    .label(t.span, format!("this is {}", t.ty.describe())));
                }
            }
            typed.push(t);
        }
        // A bare zero adapts to the other arms' unit; the result has the first unit-bearing
        // arm's type.
        let ty = typed
            .iter()
            .find(|t| !t.ty.bare)
            .or_else(|| typed.first())
            .map_or_else(Ty::dimensionless, |t| t.ty);
        Ok(Typed::new(
            TExpr::Match(var, typed.into_iter().map(|t| t.expr).collect()),
            ty,
            span,
        ))
    }

    /// `min`, `max`, `abs`, `sqrt`, `exp`, `ln`, `log10`.
    pub fn math_call(
        &self,
        callee: &ast::Path,
        args: &[ast::Argument],
        span: Span,
    ) -> Result<Typed, Diagnostic> {
        let name = callee.dotted();
        let Some(f) = MathFn::from_name(&name) else {
            let known: Vec<&str> = MathFn::ALL.iter().map(|(n, _)| *n).collect();
            let d = Diagnostic::error(code::UNKNOWN_FUNCTION, format!("unknown function `{name}`"))
                .label(callee.span, "not a function here");
            return Err(match crate::names::closest(&name, known.iter().copied()) {
                Some(s) => d.did_you_mean(callee.span, s),
                None => d.help(format!("functions available here: {}", known.join(", "))),
            });
        };
        if let Some(named) = args.iter().find_map(|a| a.name.as_ref()) {
            return Err(Diagnostic::error(
                code::ARGUMENT,
                format!("`{name}` takes no named arguments"),
            )
            .at(named.span));
        }
        let typed = args
            .iter()
            .map(|a| self.expr(&a.value).map(Typed::as_point))
            .collect::<Result<Vec<_>, _>>()?;
        let arity_ok = match f {
            MathFn::Min | MathFn::Max => !typed.is_empty(),
            _ => typed.len() == 1,
        };
        if !arity_ok {
            return Err(Diagnostic::error(
                code::ARGUMENT,
                format!(
                    "`{name}` takes {}",
                    if matches!(f, MathFn::Min | MathFn::Max) {
                        "one or more arguments"
                    } else {
                        "one argument"
                    }
                ),
            )
            .at(span));
        }
        let first = typed
            .first()
            .map(|t| t.ty)
            .unwrap_or_else(Ty::dimensionless);
        let ty = match f {
            MathFn::Min | MathFn::Max => {
                for pair in typed.windows(2) {
                    if let [a, b] = pair {
                        self.same_dimension(a, b, "compare")?;
                    }
                }
                first
            }
            MathFn::Abs => first,
            MathFn::Sqrt => {
                let e = first.dim.exponents();
                if e.iter().any(|x| x % 2 != 0) {
                    return Err(Diagnostic::error(
                        code::UNIT,
                        format!("the square root of {} has no unit", first.describe()),
                    )
                    .at(span));
                }
                Ty::of(Dimension::from_exponents(e.map(|x| x / 2)))
            }
            MathFn::Exp | MathFn::Ln | MathFn::Log10 => {
                if !first.dim.is_dimensionless() {
                    return Err(Diagnostic::error(
                        code::UNIT,
                        format!("`{name}` needs a plain number, not {}", first.describe()),
                    )
                    .at(span)
                    .help("divide by a reference value first, e.g. `ln(c / 1 mol/L)`"));
                }
                Ty::dimensionless()
            }
        };
        Ok(Typed::new(
            TExpr::Call(f, typed.into_iter().map(|t| t.expr).collect()),
            ty,
            span,
        ))
    }
}

/// Settles temperature literals in `+`/`-` and gives the result's temperature reading.
fn settle_additive(
    op: BinaryOp,
    l: Typed,
    r: Typed,
    span: Span,
) -> Result<(Typed, Typed, Temp), Diagnostic> {
    use Temp::{Absolute as A, Difference as D, Literal as L, No};
    let add = op == BinaryOp::Add;
    let err = |msg: &str, help: &str| {
        Err(Diagnostic::error(code::TEMPERATURE, msg.to_owned())
            .at(span)
            .help(help.to_owned()))
    };
    match (l.ty.temp, r.ty.temp) {
        (No, _) | (_, No) => Ok((l, r, No)),
        (A, A) if add => err(
            "cannot add two absolute temperatures",
            "write one of them as a difference (a tolerance or a step)",
        ),
        (A, A) => Ok((l, r, D)),
        (A, L) => Ok((l, r.as_difference(), A)),
        (L, A) if add => Ok((l.as_difference(), r, A)),
        (L, A) => Ok((l.as_point(), r, D)),
        (A, D) => Ok((l, r, A)),
        (D, A) if add => Ok((l, r, A)),
        (D, A) => err(
            "cannot subtract an absolute temperature from a temperature difference",
            "swap the operands or make both of them absolute temperatures",
        ),
        (D, D) => Ok((l, r, D)),
        (D, L) => Ok((l, r.as_difference(), D)),
        (L, D) => Ok((l.as_point(), r, A)),
        (L, L) if add => Ok((l.as_point(), r.as_difference(), A)),
        (L, L) => Ok((l.as_point(), r.as_point(), D)),
    }
}

/// "this number has no unit; expected a flow rate, e.g. 10 uL/min".
pub fn missing_unit(span: Span, expected: Dimension) -> Diagnostic {
    Diagnostic::error(code::MISSING_UNIT, "this number has no unit")
        .label(span, format!("expected {}", describe_dimension(expected)))
        .help(format!("write it with a unit: {}", expected.hint()))
}
