//! pest glue: the grammar, and one lowering function per rule that builds the AST.
//!
//! The grammar guarantees the shape of every pair, but lowering never trusts it blindly: a
//! pair that is not where it should be becomes an internal diagnostic, never a panic.

use std::sync::LazyLock;

use pest::Parser as _;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::ast::*;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::syntax as code;
use crate::source::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/qdx.pest"]
pub(crate) struct QdxParser;

pub(crate) type LowerResult<T> = Result<T, Diagnostic>;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::prefix(Rule::op_not))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::infix(Rule::op_within, Assoc::Left))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left) | Op::infix(Rule::op_div, Assoc::Left))
        .op(Op::prefix(Rule::op_neg))
        .op(Op::infix(Rule::op_pow, Assoc::Right))
});

/// Parses one file's text into pest pairs (the caller turns errors into diagnostics).
pub(crate) fn parse_pairs(text: &str) -> Result<Pairs<'_, Rule>, Box<pest::error::Error<Rule>>> {
    QdxParser::parse(Rule::file, text).map_err(Box::new)
}

/// The prefix and infix operators of an expression's flat list of pairs.
fn is_operator(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::op_or
            | Rule::op_and
            | Rule::op_not
            | Rule::op_le
            | Rule::op_ge
            | Rule::op_ne
            | Rule::op_eq
            | Rule::op_lt
            | Rule::op_gt
            | Rule::op_within
            | Rule::op_add
            | Rule::op_sub
            | Rule::op_mul
            | Rule::op_div
            | Rule::op_pow
            | Rule::op_neg
    )
}

/// Keywords are pairs in the tree only so that errors can name them; lowering skips them.
fn is_keyword(rule: Rule) -> bool {
    format!("{rule:?}").starts_with("kw_")
}

/// The children of a pair that carry meaning, in order.
struct Cursor<'i> {
    pairs: std::iter::Peekable<std::vec::IntoIter<Pair<'i, Rule>>>,
    parent: Span,
}

impl<'i> Cursor<'i> {
    fn new(pair: Pair<'i, Rule>, lower: &Lower<'_>) -> Self {
        let parent = lower.span(&pair);
        let pairs: Vec<_> = pair
            .into_inner()
            .filter(|p| !is_keyword(p.as_rule()))
            .collect();
        Self {
            pairs: pairs.into_iter().peekable(),
            parent,
        }
    }

    fn peek_rule(&mut self) -> Option<Rule> {
        self.pairs.peek().map(Pair::as_rule)
    }

    fn next(&mut self) -> Option<Pair<'i, Rule>> {
        self.pairs.next()
    }

    /// The next pair, which the grammar says must be `rule`.
    fn expect(&mut self, rule: Rule) -> LowerResult<Pair<'i, Rule>> {
        match self.pairs.next() {
            Some(p) if p.as_rule() == rule => Ok(p),
            Some(p) => Err(internal(
                self.parent,
                &format!("expected {rule:?}, found {:?}", p.as_rule()),
            )),
            None => Err(internal(
                self.parent,
                &format!("expected {rule:?}, found nothing"),
            )),
        }
    }

    /// The next pair if it is `rule`.
    fn optional(&mut self, rule: Rule) -> Option<Pair<'i, Rule>> {
        if self.peek_rule() == Some(rule) {
            self.pairs.next()
        } else {
            None
        }
    }
}

fn internal(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(code::INTERNAL, format!("internal parser error: {what}"))
        .label(span, "while reading this")
        .help("this is a bug in qdx; please report it with the file that caused it")
}

/// Lowers pest pairs of one file to AST nodes.
pub(crate) struct Lower<'t> {
    pub file: FileId,
    pub text: &'t str,
    /// Where `text` starts in the file (a block parsed on its own, `parse_recovering`).
    base: usize,
    /// Depth of the expression tree above the expression being lowered (see
    /// [`super::MAX_EXPRESSION_DEPTH`]).
    expr_depth: std::cell::Cell<usize>,
}

/// True when `s` holds only whitespace and comments.
fn only_trivia(s: &str) -> bool {
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            match after.split_once("*/") {
                Some((_, r)) => rest = r.trim_start(),
                None => return false,
            }
        } else {
            return false;
        }
    }
    true
}

impl<'t> Lower<'t> {
    pub fn new(file: FileId, text: &'t str, base: usize) -> Self {
        Self {
            file,
            text,
            base,
            expr_depth: std::cell::Cell::new(0),
        }
    }

    /// The pair's span, ending at its last token: pest counts the whitespace and comments a
    /// trailing repetition skipped over as part of the rule, which spans must not.
    pub fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let start = pair.as_span().start();
        let mut last = pair.clone();
        while let Some(child) = last.clone().into_inner().last() {
            last = child;
        }
        let last_token_end = last.as_span().end().max(start);
        let end = pair.as_span().end();
        // Between the last token and the rule's end lie either skipped whitespace and comments
        // (cut them off) or closing literals such as `}` (keep them).
        let tail = self.text.get(last_token_end..end).unwrap_or("");
        let end = if only_trivia(tail) {
            last_token_end
        } else {
            end
        };
        Span::new(self.file, self.base + start, self.base + end)
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_owned(),
            span: self.span(&pair),
        }
    }

    fn expect_ident(&self, c: &mut Cursor<'_>) -> LowerResult<Ident> {
        Ok(self.ident(c.expect(Rule::ident)?))
    }

    fn string(&self, pair: Pair<'_, Rule>) -> StringLit {
        let span = self.span(&pair);
        let body = pair
            .into_inner()
            .next()
            .map(|p| p.as_str())
            .unwrap_or_default();
        StringLit {
            value: unescape(body),
            span,
        }
    }

    fn integer(&self, pair: Pair<'_, Rule>) -> LowerResult<IntLit> {
        let span = self.span(&pair);
        let value = pair.as_str().parse::<u64>().map_err(|_| {
            Diagnostic::error(code::INTEGER_TOO_LARGE, "this integer is too large")
                .label(span, "does not fit in 64 bits")
        })?;
        Ok(IntLit { value, span })
    }

    fn number(&self, pair: Pair<'_, Rule>) -> LowerResult<NumberLit> {
        let span = self.span(&pair);
        let text = pair.as_str().to_owned();
        let out_of_range = |why: &str| {
            Diagnostic::error(code::NUMBER_OUT_OF_RANGE, "this number is out of range")
                .label(span, why.to_owned())
        };
        let value = text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| out_of_range("not a finite number"))?;
        // A literal with a non-zero digit that reads as zero (or as a subnormal, which keeps a
        // few digits at best) would silently change the file's meaning: `1e-400` is not `0`.
        let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
        if value.abs() < f64::MIN_POSITIVE && mantissa.bytes().any(|b| matches!(b, b'1'..=b'9')) {
            return Err(out_of_range(
                "too small to hold: the smallest number qdx reads is 2.2e-308",
            ));
        }
        Ok(NumberLit { value, text, span })
    }

    fn path(&self, pair: Pair<'_, Rule>) -> Path {
        let span = self.span(&pair);
        let segments = pair
            .into_inner()
            .filter(|p| p.as_rule() == Rule::ident)
            .map(|p| self.ident(p))
            .collect();
        Path { segments, span }
    }

    pub fn file(&self, pair: Pair<'_, Rule>) -> LowerResult<Ast> {
        let span = self.span(&pair);
        let mut header = None;
        let mut items = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::header => header = Some(self.header(p)?),
                Rule::EOI => {}
                _ => items.push(self.item(p)?),
            }
        }
        Ok(Ast {
            file: self.file,
            header,
            items,
            span,
        })
    }

    fn header(&self, pair: Pair<'_, Rule>) -> LowerResult<Header> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let v = c.expect(Rule::version)?;
        Ok(Header {
            version: v.as_str().to_owned(),
            version_span: self.span(&v),
            span,
        })
    }

    fn item(&self, pair: Pair<'_, Rule>) -> LowerResult<Item> {
        let span = self.span(&pair);
        Ok(match pair.as_rule() {
            Rule::campaign => Item::Campaign(self.campaign(pair)?),
            Rule::use_decl => {
                let mut c = Cursor::new(pair, self);
                let target = match c.next() {
                    Some(p) if p.as_rule() == Rule::string => UseTarget::File(self.string(p)),
                    Some(p) if p.as_rule() == Rule::module_path => UseTarget::Module(self.path(p)),
                    _ => return Err(internal(span, "use without target")),
                };
                Item::Use(UseDecl { target, span })
            }
            Rule::kind_decl => Item::Kind(self.kind_decl(pair)?),
            Rule::builtin_decl => Item::Builtin(self.builtin_decl(pair)?),
            Rule::reference_decl => {
                let mut c = Cursor::new(pair, self);
                let name = self.expect_ident(&mut c)?;
                let props = self.props(c.expect(Rule::props)?)?;
                Item::Reference(ReferenceDecl { name, props, span })
            }
            Rule::stocks => Item::Stocks(self.block(pair, |l, p| l.stock(p))?),
            Rule::reactor => Item::Reactor(self.block(pair, |l, p| l.reactor_entry(p))?),
            Rule::variables => Item::Variables(self.block(pair, |l, p| l.variable(p))?),
            Rule::parameters => Item::Parameters(self.block(pair, |l, p| l.parameter(p))?),
            Rule::derive => Item::Derive(self.block(pair, |l, p| l.assignment(p))?),
            Rule::constraints => Item::Constraints(self.block(pair, |l, p| {
                let mut c = Cursor::new(p, l);
                l.expr(c.expect(Rule::expr)?)
            })?),
            Rule::measure => Item::Measure(self.measure(pair)?),
            Rule::proxies => Item::Proxies(self.block(pair, |l, p| l.proxy(p))?),
            Rule::objectives => Item::Objectives(self.block(pair, |l, p| l.objective(p))?),
            Rule::optimizer => Item::Optimizer(self.optimizer(pair)?),
            Rule::prior => {
                let mut c = Cursor::new(pair, self);
                let format = self.expect_ident(&mut c)?;
                let path = self.string(c.expect(Rule::string)?);
                let props = c.optional(Rule::props).map(|p| self.props(p)).transpose()?;
                Item::Prior(Prior {
                    format,
                    path,
                    props,
                    span,
                })
            }
            Rule::data => Item::Data(self.block(pair, |l, p| {
                let span = l.span(&p);
                let mut c = Cursor::new(p, l);
                let name = l.expect_ident(&mut c)?;
                let path = l.string(c.expect(Rule::string)?);
                Ok(DataFile { name, path, span })
            })?),
            Rule::safety => Item::Safety(self.block(pair, |l, p| l.safety_entry(p))?),
            Rule::simulate => Item::Simulate(self.simulate(pair)?),
            Rule::lab => Item::Lab(self.lab(pair)?),
            Rule::fit => Item::Fit(self.fit(pair)?),
            other => return Err(internal(span, &format!("unexpected item {other:?}"))),
        })
    }

    fn block<T>(
        &self,
        pair: Pair<'_, Rule>,
        f: impl Fn(&Self, Pair<'_, Rule>) -> LowerResult<T>,
    ) -> LowerResult<Block<T>> {
        let span = self.span(&pair);
        let entries = Cursor::new(pair, self)
            .pairs
            .map(|p| f(self, p))
            .collect::<LowerResult<Vec<T>>>()?;
        Ok(Block { entries, span })
    }

    fn campaign(&self, pair: Pair<'_, Rule>) -> LowerResult<CampaignDecl> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let name = self.string(c.expect(Rule::string)?);
        let mut decl = CampaignDecl {
            name,
            description: None,
            seed: None,
            budget: None,
            repeated: Vec::new(),
            span,
        };
        while let Some(p) = c.next() {
            let pspan = self.span(&p);
            let mut inner = Cursor::new(p.clone(), self);
            match p.as_rule() {
                Rule::description => {
                    let s = self.string(inner.expect(Rule::string)?);
                    if decl.description.replace(s).is_some() {
                        decl.repeated.push(pspan);
                    }
                }
                Rule::seed => {
                    let n = self.integer(inner.expect(Rule::integer)?)?;
                    if decl.seed.replace(n).is_some() {
                        decl.repeated.push(pspan);
                    }
                }
                Rule::budget => {
                    let mut entries = Vec::new();
                    for e in inner.pairs {
                        let mut ec = Cursor::new(e.clone(), self);
                        entries.push(match e.as_rule() {
                            Rule::budget_experiments => {
                                BudgetEntry::Experiments(self.integer(ec.expect(Rule::integer)?)?)
                            }
                            Rule::budget_reagent => BudgetEntry::Reagent {
                                stock: self.expect_ident(&mut ec)?,
                                amount: self.expr(ec.expect(Rule::expr)?)?,
                            },
                            Rule::budget_time => {
                                BudgetEntry::Time(self.expr(ec.expect(Rule::expr)?)?)
                            }
                            Rule::budget_failures => BudgetEntry::RepeatedFailures(
                                self.integer(ec.expect(Rule::integer)?)?,
                            ),
                            other => {
                                return Err(internal(pspan, &format!("budget entry {other:?}")));
                            }
                        });
                    }
                    if decl
                        .budget
                        .replace(Budget {
                            entries,
                            span: pspan,
                        })
                        .is_some()
                    {
                        decl.repeated.push(pspan);
                    }
                }
                other => return Err(internal(pspan, &format!("campaign entry {other:?}"))),
            }
        }
        Ok(decl)
    }

    fn kind_decl(&self, pair: Pair<'_, Rule>) -> LowerResult<KindDecl> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let name = self.expect_ident(&mut c)?;
        let role = self.expect_ident(&mut c)?;
        let mut decl = KindDecl {
            name,
            role,
            properties: Vec::new(),
            settings: Vec::new(),
            order: Vec::new(),
            span,
        };
        while let Some(p) = c.next() {
            let pspan = self.span(&p);
            let rule = p.as_rule();
            let mut ec = Cursor::new(p, self);
            let member_name = self.expect_ident(&mut ec)?;
            let ty = self.ident(ec.expect(Rule::type_name)?);
            match rule {
                Rule::property_decl => {
                    let default = match ec.next() {
                        Some(v) if v.as_rule() == Rule::range => {
                            Some(PropValue::Range(self.range(v)?))
                        }
                        Some(v) if v.as_rule() == Rule::expr => {
                            Some(PropValue::Expr(self.expr(v)?))
                        }
                        _ => None,
                    };
                    decl.order.push(KindMember::Property(decl.properties.len()));
                    decl.properties.push(PropertyDecl {
                        name: member_name,
                        ty,
                        default,
                        span: pspan,
                    });
                }
                Rule::setting_decl => {
                    let limits = match ec.next() {
                        Some(v) if v.as_rule() == Rule::range => {
                            Some(SettingLimits::Range(self.range(v)?))
                        }
                        Some(v) if v.as_rule() == Rule::ident => {
                            Some(SettingLimits::Property(self.ident(v)))
                        }
                        _ => None,
                    };
                    decl.order.push(KindMember::Setting(decl.settings.len()));
                    decl.settings.push(SettingDecl {
                        name: member_name,
                        ty,
                        limits,
                        span: pspan,
                    });
                }
                other => return Err(internal(pspan, &format!("kind entry {other:?}"))),
            }
        }
        Ok(decl)
    }

    fn builtin_decl(&self, pair: Pair<'_, Rule>) -> LowerResult<BuiltinDecl> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let name = self.expect_ident(&mut c)?;
        let mut params = Vec::new();
        while let Some(p) = c.optional(Rule::param_decl) {
            let pspan = self.span(&p);
            let mut pc = Cursor::new(p, self);
            params.push(ParamDecl {
                name: self.expect_ident(&mut pc)?,
                ty: self.ident(pc.expect(Rule::type_name)?),
                default: pc.optional(Rule::expr).map(|e| self.expr(e)).transpose()?,
                span: pspan,
            });
        }
        let returns = self.ident(c.expect(Rule::type_name)?);
        Ok(BuiltinDecl {
            name,
            params,
            returns,
            span,
        })
    }

    fn stock(&self, pair: Pair<'_, Rule>) -> LowerResult<Stock> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let name = self.expect_ident(&mut c)?;
        let description = c.optional(Rule::string).map(|s| self.string(s));
        let pump = self.expect_ident(&mut c)?;
        let props = c.optional(Rule::props).map(|p| self.props(p)).transpose()?;
        Ok(Stock {
            name,
            description,
            pump,
            props,
            span,
        })
    }

    fn reactor_entry(&self, pair: Pair<'_, Rule>) -> LowerResult<ReactorEntry> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::device => {
                let mut c = Cursor::new(pair, self);
                let role = self.expect_ident(&mut c)?;
                let name = self.expect_ident(&mut c)?;
                let kind = self.path(c.expect(Rule::kind_ref)?);
                let props = c.optional(Rule::props).map(|p| self.props(p)).transpose()?;
                Ok(ReactorEntry::Device(Device {
                    role,
                    name,
                    kind,
                    props,
                    span,
                }))
            }
            Rule::connection => {
                let mut stages = Vec::new();
                for endpoints in Cursor::new(pair, self).pairs {
                    let mut ports = Vec::new();
                    for port in endpoints.into_inner() {
                        let pspan = self.span(&port);
                        let mut pc = Cursor::new(port, self);
                        ports.push(Port {
                            device: self.expect_ident(&mut pc)?,
                            port: pc.optional(Rule::ident).map(|i| self.ident(i)),
                            span: pspan,
                        });
                    }
                    stages.push(ports);
                }
                Ok(ReactorEntry::Connection(Connection { stages, span }))
            }
            Rule::lines => {
                let mut c = Cursor::new(pair, self);
                let mut names = Vec::new();
                while c.peek_rule() == Some(Rule::ident) {
                    names.push(self.expect_ident(&mut c)?);
                }
                Ok(ReactorEntry::Lines(Lines { names, span }))
            }
            other => Err(internal(span, &format!("reactor entry {other:?}"))),
        }
    }

    fn props(&self, pair: Pair<'_, Rule>) -> LowerResult<Props> {
        let span = self.span(&pair);
        let mut entries = Vec::new();
        for p in pair.into_inner() {
            let pspan = self.span(&p);
            let mut c = Cursor::new(p, self);
            let name = self.expect_ident(&mut c)?;
            let value = match c.next() {
                Some(v) if v.as_rule() == Rule::range => PropValue::Range(self.range(v)?),
                Some(v) if v.as_rule() == Rule::props => PropValue::Props(self.props(v)?),
                Some(v) if v.as_rule() == Rule::expr => PropValue::Expr(self.expr(v)?),
                _ => return Err(internal(pspan, "property without value")),
            };
            entries.push(Prop {
                name,
                value,
                span: pspan,
            });
        }
        Ok(Props { entries, span })
    }

    fn range(&self, pair: Pair<'_, Rule>) -> LowerResult<Range> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let lo = self.expr(c.expect(Rule::expr)?)?;
        let hi = self.expr(c.expect(Rule::expr)?)?;
        Ok(Range { lo, hi, span })
    }

    fn setting_ref(&self, pair: Pair<'_, Rule>) -> LowerResult<SettingRef> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        Ok(SettingRef {
            device: self.expect_ident(&mut c)?,
            setting: c.optional(Rule::ident).map(|i| self.ident(i)),
            span,
        })
    }

    fn binding(&self, c: &mut Cursor<'_>) -> LowerResult<Option<SettingRef>> {
        match c.optional(Rule::binding) {
            Some(b) => {
                let mut bc = Cursor::new(b, self);
                Ok(Some(self.setting_ref(bc.expect(Rule::setting_ref)?)?))
            }
            None => Ok(None),
        }
    }

    fn variable(&self, pair: Pair<'_, Rule>) -> LowerResult<Variable> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let name = self.expect_ident(&mut c)?;
        let ty_pair = c
            .next()
            .ok_or_else(|| internal(span, "variable without type"))?;
        let tspan = self.span(&ty_pair);
        let rule = ty_pair.as_rule();
        let mut tc = Cursor::new(ty_pair, self);
        let ty = match rule {
            Rule::continuous_type => VariableType::Continuous {
                dimension: self.ident(tc.expect(Rule::type_name)?),
                range: self.range(tc.expect(Rule::range)?)?,
                log: tc.optional(Rule::log_scale).is_some(),
            },
            Rule::integer_type => VariableType::Integer {
                range: self.range(tc.expect(Rule::range)?)?,
            },
            Rule::choice_type => VariableType::Choice {
                levels: tc.pairs.map(|s| self.string(s)).collect(),
            },
            Rule::composition_type => {
                let mut components = Vec::new();
                while let Some(p) = tc.optional(Rule::component) {
                    let cspan = self.span(&p);
                    let mut cc = Cursor::new(p, self);
                    components.push(Component {
                        name: self.expect_ident(&mut cc)?,
                        range: cc
                            .optional(Rule::range)
                            .map(|r| self.range(r))
                            .transpose()?,
                        span: cspan,
                    });
                }
                let total = tc.optional(Rule::expr).map(|e| self.expr(e)).transpose()?;
                VariableType::Composition { components, total }
            }
            other => return Err(internal(tspan, &format!("variable type {other:?}"))),
        };
        let binding = self.binding(&mut c)?;
        Ok(Variable {
            name,
            ty,
            binding,
            span,
        })
    }

    fn fit(&self, pair: Pair<'_, Rule>) -> LowerResult<Fit> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let name = self.expect_ident(&mut c)?;
        let mut entries = Vec::new();
        for p in c.pairs {
            let espan = self.span(&p);
            let rule = p.as_rule();
            let mut ec = Cursor::new(p, self);
            entries.push(match rule {
                Rule::fit_state => FitEntry::State {
                    name: self.expect_ident(&mut ec)?,
                    initial: self.expr(ec.expect(Rule::expr)?)?,
                    span: espan,
                },
                Rule::fit_rate => FitEntry::Rate {
                    state: self.expect_ident(&mut ec)?,
                    value: self.expr(ec.expect(Rule::expr)?)?,
                    span: espan,
                },
                Rule::fit_parameter => FitEntry::Parameter {
                    name: self.expect_ident(&mut ec)?,
                    range: self.range(ec.expect(Rule::range)?)?,
                    log: ec.optional(Rule::log_scale).is_some(),
                    span: espan,
                },
                Rule::fit_time => FitEntry::Time {
                    value: self.expr(ec.expect(Rule::expr)?)?,
                    span: espan,
                },
                Rule::fit_observe => FitEntry::Observe {
                    proxy: self.expect_ident(&mut ec)?,
                    value: self.expr(ec.expect(Rule::expr)?)?,
                    span: espan,
                },
                other => return Err(internal(espan, &format!("fit entry {other:?}"))),
            });
        }
        Ok(Fit {
            name,
            entries,
            span,
        })
    }

    fn parameter(&self, pair: Pair<'_, Rule>) -> LowerResult<Parameter> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let name = self.expect_ident(&mut c)?;
        let value = self.expr(c.expect(Rule::expr)?)?;
        let binding = self.binding(&mut c)?;
        Ok(Parameter {
            name,
            value,
            binding,
            span,
        })
    }

    fn assignment(&self, pair: Pair<'_, Rule>) -> LowerResult<Assignment> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let target = self.path(c.expect(Rule::path)?);
        let value = self.expr(c.expect(Rule::expr)?)?;
        Ok(Assignment {
            target,
            value,
            span,
        })
    }

    fn measure(&self, pair: Pair<'_, Rule>) -> LowerResult<Measure> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let cell = self.expect_ident(&mut c)?;
        let mut entries = Vec::new();
        for p in c.pairs {
            let pspan = self.span(&p);
            let rule = p.as_rule();
            let mut ec = Cursor::new(p, self);
            entries.push(match rule {
                Rule::steady_state => MeasureEntry::SteadyState {
                    after: self.expr(ec.expect(Rule::expr)?)?,
                    span: pspan,
                },
                Rule::settle => MeasureEntry::Settle {
                    within: self.expr(ec.expect(Rule::expr)?)?,
                    hold: self.expr(ec.expect(Rule::expr)?)?,
                    span: pspan,
                },
                Rule::replicates => MeasureEntry::Replicates {
                    count: self.integer(ec.expect(Rule::integer)?)?,
                    span: pspan,
                },
                Rule::channel => MeasureEntry::Channel {
                    name: self.expect_ident(&mut ec)?,
                    props: ec
                        .optional(Rule::props)
                        .map(|p| self.props(p))
                        .transpose()?,
                    span: pspan,
                },
                other => return Err(internal(pspan, &format!("measure entry {other:?}"))),
            });
        }
        Ok(Measure {
            cell,
            entries,
            span,
        })
    }

    fn proxy(&self, pair: Pair<'_, Rule>) -> LowerResult<Proxy> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let name = self.expect_ident(&mut c)?;
        let def = c
            .next()
            .ok_or_else(|| internal(span, "proxy without definition"))?;
        let definition = match def.as_rule() {
            Rule::expr => ProxyDef::Expr(self.expr(def)?),
            Rule::script_ref => {
                let mut sc = Cursor::new(def, self);
                match sc.next() {
                    Some(s) if s.as_rule() == Rule::string => ProxyDef::ScriptFile(self.string(s)),
                    Some(s) if s.as_rule() == Rule::raw_string => {
                        let body = s
                            .into_inner()
                            .next()
                            .ok_or_else(|| internal(span, "script without body"))?;
                        ProxyDef::ScriptInline {
                            source: body.as_str().to_owned(),
                            span: self.span(&body),
                        }
                    }
                    _ => return Err(internal(span, "script reference")),
                }
            }
            other => return Err(internal(span, &format!("proxy definition {other:?}"))),
        };
        Ok(Proxy {
            name,
            definition,
            span,
        })
    }

    fn weight(&self, c: &mut Cursor<'_>) -> LowerResult<Option<NumberLit>> {
        match c.optional(Rule::weight) {
            Some(w) => {
                let mut wc = Cursor::new(w, self);
                Ok(Some(self.number(wc.expect(Rule::number)?)?))
            }
            None => Ok(None),
        }
    }

    fn target_value(&self, pair: Pair<'_, Rule>) -> LowerResult<Expr> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let negative = c.optional(Rule::op_neg).is_some();
        let value = self.primary(c.next().ok_or_else(|| internal(span, "target value"))?)?;
        Ok(if negative {
            Expr {
                kind: ExprKind::Unary {
                    op: UnaryOp::Neg,
                    operand: Box::new(value),
                },
                span,
            }
        } else {
            value
        })
    }

    fn objective(&self, pair: Pair<'_, Rule>) -> LowerResult<ObjectiveEntry> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut c = Cursor::new(pair, self);
        Ok(match rule {
            Rule::maximize => ObjectiveEntry::Maximize {
                proxy: self.expect_ident(&mut c)?,
                range: c.optional(Rule::range).map(|r| self.range(r)).transpose()?,
                weight: self.weight(&mut c)?,
                span,
            },
            Rule::minimize => ObjectiveEntry::Minimize {
                proxy: self.expect_ident(&mut c)?,
                range: c.optional(Rule::range).map(|r| self.range(r)).transpose()?,
                weight: self.weight(&mut c)?,
                span,
            },
            Rule::target => {
                let proxy = self.expect_ident(&mut c)?;
                let op = match c.expect(Rule::target_op)?.as_str() {
                    ">=" => TargetOp::AtLeast,
                    "<=" => TargetOp::AtMost,
                    _ => TargetOp::Equal,
                };
                let value = self.target_value(c.expect(Rule::target_value)?)?;
                let within = c
                    .optional(Rule::target_value)
                    .map(|v| self.target_value(v))
                    .transpose()?;
                ObjectiveEntry::Target {
                    proxy,
                    op,
                    value,
                    within,
                    weight: self.weight(&mut c)?,
                    span,
                }
            }
            Rule::map => ObjectiveEntry::Map {
                proxy: self.expect_ident(&mut c)?,
                level: c
                    .optional(Rule::target_value)
                    .map(|v| self.target_value(v))
                    .transpose()?,
                span,
            },
            Rule::require => ObjectiveEntry::Require {
                condition: self.expr(c.expect(Rule::expr)?)?,
                span,
            },
            Rule::combine => ObjectiveEntry::Combine {
                method: self.expect_ident(&mut c)?,
                props: c.optional(Rule::props).map(|p| self.props(p)).transpose()?,
                span,
            },
            Rule::stop => ObjectiveEntry::Stop {
                condition: self.expr(c.expect(Rule::expr)?)?,
                span,
            },
            other => return Err(internal(span, &format!("objective {other:?}"))),
        })
    }

    fn optimizer(&self, pair: Pair<'_, Rule>) -> LowerResult<Optimizer> {
        let span = self.span(&pair);
        let has_block = pair.as_str().trim_end().ends_with('}');
        let mut c = Cursor::new(pair, self);
        let strategy = self.expect_ident(&mut c)?;
        let mut entries = Vec::new();
        for p in c.pairs {
            let pspan = self.span(&p);
            let rule = p.as_rule();
            let mut ec = Cursor::new(p, self);
            entries.push(match rule {
                Rule::initial => OptimizerEntry::Initial {
                    design: self.expect_ident(&mut ec)?,
                    count: self.integer(ec.expect(Rule::integer)?)?,
                    span: pspan,
                },
                Rule::batch => OptimizerEntry::Batch {
                    size: self.integer(ec.expect(Rule::integer)?)?,
                    span: pspan,
                },
                Rule::levels => {
                    let mut levels = Vec::new();
                    for l in ec.pairs {
                        let lspan = self.span(&l);
                        let mut lc = Cursor::new(l, self);
                        let variable = self.expect_ident(&mut lc)?;
                        let values = match lc.next() {
                            Some(v) if v.as_rule() == Rule::integer => {
                                LevelValues::Count(self.integer(v)?)
                            }
                            Some(v) if v.as_rule() == Rule::list => {
                                let vspan = self.span(&v);
                                LevelValues::List(
                                    v.into_inner()
                                        .map(|e| self.expr(e))
                                        .collect::<LowerResult<_>>()?,
                                    vspan,
                                )
                            }
                            _ => return Err(internal(lspan, "level values")),
                        };
                        levels.push(Level {
                            variable,
                            values,
                            span: lspan,
                        });
                    }
                    OptimizerEntry::Levels {
                        levels,
                        span: pspan,
                    }
                }
                Rule::option => OptimizerEntry::Option {
                    name: self.expect_ident(&mut ec)?,
                    value: ec.optional(Rule::expr).map(|e| self.expr(e)).transpose()?,
                    props: ec
                        .optional(Rule::props)
                        .map(|p| self.props(p))
                        .transpose()?,
                    span: pspan,
                },
                other => return Err(internal(pspan, &format!("optimizer entry {other:?}"))),
            });
        }
        Ok(Optimizer {
            strategy,
            entries,
            has_block,
            span,
        })
    }

    fn safety_entry(&self, pair: Pair<'_, Rule>) -> LowerResult<SafetyEntry> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut c = Cursor::new(pair, self);
        Ok(match rule {
            Rule::limit => SafetyEntry::Limit(self.expr(c.expect(Rule::expr)?)?),
            Rule::safe_setpoint => SafetyEntry::SafeSetpoint {
                device: self.expect_ident(&mut c)?,
                value: self.expr(c.expect(Rule::expr)?)?,
                span,
            },
            Rule::on_fault => {
                let fault = self.expect_ident(&mut c)?;
                let mut actions = Vec::new();
                for a in c.pairs {
                    let aspan = self.span(&a);
                    let inner = a
                        .into_inner()
                        .next()
                        .ok_or_else(|| internal(aspan, "empty action"))?;
                    let irule = inner.as_rule();
                    actions.push(match irule {
                        Rule::retry => {
                            let mut rc = Cursor::new(inner, self);
                            Action::Retry {
                                times: self.integer(rc.expect(Rule::integer)?)?,
                                backoff: rc
                                    .optional(Rule::expr)
                                    .map(|e| self.expr(e))
                                    .transpose()?,
                                span: aspan,
                            }
                        }
                        Rule::then_action => {
                            let mut tc = Cursor::new(inner, self);
                            Action::Then(self.expect_ident(&mut tc)?)
                        }
                        Rule::ident => Action::Plain(self.ident(inner)),
                        other => return Err(internal(aspan, &format!("action {other:?}"))),
                    });
                }
                SafetyEntry::OnFault {
                    fault,
                    actions,
                    span,
                }
            }
            other => return Err(internal(span, &format!("safety entry {other:?}"))),
        })
    }

    fn simulate(&self, pair: Pair<'_, Rule>) -> LowerResult<Simulate> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let inner = c
            .next()
            .ok_or_else(|| internal(span, "simulate without model"))?;
        let rule = inner.as_rule();
        let mut ic = Cursor::new(inner, self);
        let model = match rule {
            Rule::sim_table => SimModel::Table(self.string(ic.expect(Rule::string)?)),
            Rule::sim_script => SimModel::Script(self.string(ic.expect(Rule::string)?)),
            Rule::sim_model => SimModel::Named(self.expect_ident(&mut ic)?),
            other => return Err(internal(span, &format!("simulate {other:?}"))),
        };
        let props = ic
            .optional(Rule::props)
            .map(|p| self.props(p))
            .transpose()?;
        Ok(Simulate { model, props, span })
    }

    fn lab(&self, pair: Pair<'_, Rule>) -> LowerResult<Lab> {
        let span = self.span(&pair);
        let mut c = Cursor::new(pair, self);
        let name = self.string(c.expect(Rule::string)?);
        let mut lab = Lab {
            name,
            binds: Vec::new(),
            simulate: Vec::new(),
            order: Vec::new(),
            span,
        };
        for p in c.pairs {
            let pspan = self.span(&p);
            match p.as_rule() {
                Rule::bind => {
                    let mut bc = Cursor::new(p, self);
                    lab.order.push(LabMember::Bind(lab.binds.len()));
                    lab.binds.push(Bind {
                        device: self.expect_ident(&mut bc)?,
                        driver: self.path(bc.expect(Rule::kind_ref)?),
                        props: bc
                            .optional(Rule::props)
                            .map(|p| self.props(p))
                            .transpose()?,
                        span: pspan,
                    });
                }
                Rule::simulate => {
                    lab.order.push(LabMember::Simulate(lab.simulate.len()));
                    lab.simulate.push(self.simulate(p)?);
                }
                other => return Err(internal(pspan, &format!("lab entry {other:?}"))),
            }
        }
        Ok(lab)
    }

    pub fn expr(&self, pair: Pair<'_, Rule>) -> LowerResult<Expr> {
        // An expression with k operators becomes a tree up to k + 1 deep, on top of the
        // expressions around it; refuse it before the Pratt parser recurses that deep.
        let above = self.expr_depth.get();
        let operators: Vec<Pair<'_, Rule>> = pair
            .clone()
            .into_inner()
            .filter(|p| is_operator(p.as_rule()))
            .collect();
        let depth = above + 1 + operators.len();
        if depth > super::MAX_EXPRESSION_DEPTH {
            let start = pair.as_span().start();
            let first = Span::new(self.file, self.base + start, self.base + start + 1);
            // The operator that goes one level too deep, or the bracket or call that does.
            let room = super::MAX_EXPRESSION_DEPTH.saturating_sub(above + 1);
            let at = operators.get(room).map_or(first, |op| self.span(op));
            let mut d = Diagnostic::error(
                code::EXPRESSION_TOO_DEEP,
                "this expression is nested too deeply",
            )
            .label(
                at,
                format!("more than {} levels deep here", super::MAX_EXPRESSION_DEPTH),
            );
            if at.range() != first.range() {
                d = d.label(first, "the expression starts here");
            }
            return Err(d.help(
                "each operator, bracket and call adds a level; name parts of the expression in `derive`",
            ));
        }
        self.expr_depth.set(depth);
        let lowered = self.pratt(pair);
        self.expr_depth.set(above);
        lowered
    }

    fn pratt(&self, pair: Pair<'_, Rule>) -> LowerResult<Expr> {
        PRATT
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, rhs| {
                let rhs = rhs?;
                let span = self.span(&op).to(rhs.span);
                let op = match op.as_rule() {
                    Rule::op_not => UnaryOp::Not,
                    _ => UnaryOp::Neg,
                };
                Ok(Expr {
                    kind: ExprKind::Unary {
                        op,
                        operand: Box::new(rhs),
                    },
                    span,
                })
            })
            .map_infix(|lhs, op, rhs| {
                let (lhs, rhs) = (lhs?, rhs?);
                let span = lhs.span.to(rhs.span);
                let op = match op.as_rule() {
                    Rule::op_or => BinaryOp::Or,
                    Rule::op_and => BinaryOp::And,
                    Rule::op_eq => BinaryOp::Eq,
                    Rule::op_ne => BinaryOp::Ne,
                    Rule::op_lt => BinaryOp::Lt,
                    Rule::op_le => BinaryOp::Le,
                    Rule::op_gt => BinaryOp::Gt,
                    Rule::op_ge => BinaryOp::Ge,
                    Rule::op_within => BinaryOp::Within,
                    Rule::op_add => BinaryOp::Add,
                    Rule::op_sub => BinaryOp::Sub,
                    Rule::op_mul => BinaryOp::Mul,
                    Rule::op_div => BinaryOp::Div,
                    _ => BinaryOp::Pow,
                };
                Ok(Expr {
                    kind: ExprKind::Binary {
                        op,
                        left: Box::new(lhs),
                        right: Box::new(rhs),
                    },
                    span,
                })
            })
            .parse(pair.into_inner())
    }

    fn primary(&self, pair: Pair<'_, Rule>) -> LowerResult<Expr> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::number => ExprKind::Number(self.number(pair)?),
            Rule::quantity => {
                let mut c = Cursor::new(pair, self);
                let number = self.number(c.expect(Rule::number)?)?;
                let unit = c.expect(Rule::unit)?;
                ExprKind::Quantity {
                    number,
                    unit: unit.as_str().to_owned(),
                    unit_span: self.span(&unit),
                }
            }
            Rule::string => ExprKind::String(self.string(pair).value),
            Rule::boolean => ExprKind::Bool(pair.as_str().trim() == "true"),
            Rule::path => ExprKind::Path(self.path(pair)),
            Rule::call => {
                let mut c = Cursor::new(pair, self);
                let callee = self.path(c.expect(Rule::path)?);
                let mut args = Vec::new();
                for a in c.pairs {
                    let aspan = self.span(&a);
                    let mut ac = Cursor::new(a, self);
                    let name = ac.optional(Rule::ident).map(|i| self.ident(i));
                    let value = self.expr(ac.expect(Rule::expr)?)?;
                    args.push(Argument {
                        name,
                        value,
                        span: aspan,
                    });
                }
                ExprKind::Call { callee, args }
            }
            Rule::match_expr => {
                let mut c = Cursor::new(pair, self);
                let subject = self.path(c.expect(Rule::path)?);
                let mut arms = Vec::new();
                for arm in c.pairs {
                    let aspan = self.span(&arm);
                    let mut ac = Cursor::new(arm, self);
                    let level = self.string(ac.expect(Rule::string)?);
                    let value = self.expr(ac.expect(Rule::expr)?)?;
                    arms.push(MatchArm {
                        level,
                        value,
                        span: aspan,
                    });
                }
                ExprKind::Match { subject, arms }
            }
            Rule::list => ExprKind::List(
                pair.into_inner()
                    .map(|e| self.expr(e))
                    .collect::<LowerResult<_>>()?,
            ),
            Rule::expr => ExprKind::Paren(Box::new(self.expr(pair)?)),
            other => return Err(internal(span, &format!("expression {other:?}"))),
        };
        Ok(Expr { kind, span })
    }
}

fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(ch) = chars.next() {
        if ch == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(ch);
        }
    }
    out
}
