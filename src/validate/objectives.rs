//! Objectives, stop conditions, the optimizer, prior data and budgets.

use std::collections::BTreeMap;

use qdx_units::Dimension;

use super::Validator;
use super::campaign::*;
use super::expr::{Typed, describe_dimension, missing_unit};
use super::kinds::{NoEnv, constant, quantity_of};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::names::closest;
use crate::source::Span;
use crate::syntax::ast::{self, BinaryOp, ExprKind, Item, ObjectiveEntry, OptimizerEntry, UnaryOp};

/// Options each strategy accepts, with what they take.
pub(crate) const OPTIONS: &[(&str, &[(&str, &str)])] = &[
    (
        "bayesian",
        &[
            (
                "surrogate",
                "gp { kernel matern52 } (the default), extra_trees or nn_ensemble",
            ),
            (
                "acquisition",
                "log_expected_improvement, noisy_expected_improvement or upper_confidence_bound; max_variance or integrated_variance to map",
            ),
            ("beta", "a number (UCB exploration)"),
            (
                "failures",
                "auto (the default), feasibility_model or impute_worst",
            ),
            (
                "model",
                "composite (one GP per proxy, the score applied to their predictions) or score (one GP of the combined score)",
            ),
            (
                "prior_mean",
                "the name of a `fit` block: its fitted model is the prior mean of the GPs of the proxies it observes",
            ),
        ],
    ),
    (
        "nelder_mead",
        &[("initial_step", "a fraction of each range, e.g. 0.2")],
    ),
    (
        "snobfit",
        &[
            ("initial_radius", "a fraction of each range, e.g. 0.2"),
            ("exploration", "a share of each batch, e.g. 0.3"),
        ],
    ),
    (
        "evolutionary",
        &[
            ("population", "a whole number"),
            ("sigma", "a fraction of each range, e.g. 0.3"),
        ],
    ),
    ("grid", &[]),
    (
        "latin_hypercube",
        &[("points", "a whole number of design points")],
    ),
    ("sobol", &[("points", "a whole number of design points")]),
    ("random", &[]),
];

impl<'a> Validator<'a> {
    fn find_proxy(&self, ident: &ast::Ident) -> Result<ProxyId, Diagnostic> {
        if self.is_poisoned(&format!("proxy:{}", ident.name)) {
            return Err(super::follow_on());
        }
        match self.proxies.iter().position(|p| p.name == ident.name) {
            Some(id) => {
                self.mark_used(&format!("proxy:{}", ident.name));
                Ok(id)
            }
            None => {
                let known: Vec<&str> = self.proxies.iter().map(|p| p.name.as_str()).collect();
                let d = Diagnostic::error(
                    code::UNKNOWN_PROXY,
                    format!("no proxy named `{}`", ident.name),
                )
                .label(ident.span, "not a declared proxy");
                Err(match closest(&ident.name, known.iter().copied()) {
                    Some(s) => d.did_you_mean(ident.span, s),
                    None if known.is_empty() => d.help("declare what you measure in a `proxies` block, e.g. `peak = photoluminescence.peak_wavelength()`"),
                    None => d.help(format!("the proxies are: {}", known.join(", "))),
                })
            }
        }
    }

    /// A constant compared with a proxy: same dimension, with a hint for a missing unit.
    fn proxy_value(
        &self,
        proxy: ProxyId,
        e: &ast::Expr,
        difference: bool,
    ) -> Result<f64, Diagnostic> {
        let Some(p) = self.proxies.get(proxy) else {
            return Err(Diagnostic::error(code::INTERNAL, "proxy index").at(e.span));
        };
        let t = constant(e)?;
        let t: Typed = if difference {
            t.as_difference()
        } else {
            t.as_point()
        };
        if t.ty.dim != p.dimension {
            if t.ty.bare {
                return Err(missing_unit(e.span, p.dimension));
            }
            return Err(Diagnostic::error(
                code::UNIT_MISMATCH,
                format!(
                    "`{}` is {}, but this is {}",
                    p.name,
                    describe_dimension(p.dimension),
                    t.ty.describe()
                ),
            )
            .at(e.span));
        }
        let value = t.expr.eval(&NoEnv);
        if !value.is_finite() {
            return Err(
                Diagnostic::error(code::NOT_FINITE, "this value is not a finite number").at(e.span),
            );
        }
        Ok(value)
    }

    pub(super) fn objectives(&mut self) {
        let entries: Vec<&'a ObjectiveEntry> = self
            .items
            .of(|i| match i {
                Item::Objectives(b) => Some(b),
                _ => None,
            })
            .into_iter()
            .flat_map(|b| b.entries.iter())
            .collect();
        let mut list: Vec<Objective> = Vec::new();
        let mut combine: Option<(Combine, Span, Option<&ast::Props>)> = None;
        let mut stop_exprs = Vec::new();
        let mut require_exprs = Vec::new();
        let mut maps: Vec<(&ast::Ident, Option<&ast::Expr>, Span)> = Vec::new();
        let mut errors = Vec::new();
        let mut ramps: Vec<(String, &str, Option<Span>, bool)> = Vec::new();
        for e in &entries {
            let (proxy, goal, ramp, weight, span) = match e {
                ObjectiveEntry::Maximize {
                    proxy,
                    range,
                    weight,
                    span,
                } => (proxy, Ok(Goal::Maximize), Some(range), weight, *span),
                ObjectiveEntry::Minimize {
                    proxy,
                    range,
                    weight,
                    span,
                } => (proxy, Ok(Goal::Minimize), Some(range), weight, *span),
                ObjectiveEntry::Target {
                    proxy,
                    op,
                    value,
                    within,
                    weight,
                    span,
                } => {
                    let goal = self.find_proxy(proxy).and_then(|id| {
                        let v = self.proxy_value(id, value, false)?;
                        let tol = match within {
                            Some(w) => {
                                let t = self.proxy_value(id, w, true)?;
                                if t < 0.0 {
                                    return Err(Diagnostic::error(code::TOLERANCE, "a tolerance cannot be negative").at(w.span));
                                }
                                t
                            }
                            None => 0.0,
                        };
                        match op {
                            ast::TargetOp::Equal => Ok(Goal::Target { value: v, tolerance: tol }),
                            ast::TargetOp::AtLeast if within.is_none() => Ok(Goal::AtLeast { value: v }),
                            ast::TargetOp::AtMost if within.is_none() => Ok(Goal::AtMost { value: v }),
                            _ => Err(Diagnostic::error(code::ONE_SIDED_TOLERANCE, "a one-sided target takes no tolerance")
                                .at(*span)
                                .help("`target plqy >= 0.5` is met at 0.5 and above; use `=` with `within` for a band")),
                        }
                    });
                    (proxy, goal, None, weight, *span)
                }
                ObjectiveEntry::Map { proxy, level, span } => {
                    maps.push((proxy, level.as_ref(), *span));
                    continue;
                }
                ObjectiveEntry::Require { condition, .. } => {
                    require_exprs.push(condition);
                    continue;
                }
                ObjectiveEntry::Stop { condition, .. } => {
                    stop_exprs.push(condition);
                    continue;
                }
                ObjectiveEntry::Combine {
                    method,
                    props,
                    span,
                } => {
                    let c = match method.name.as_str() {
                        "desirability" => Combine::Desirability,
                        "weighted_sum" => Combine::WeightedSum,
                        "pareto" => Combine::Pareto,
                        other => {
                            let d = Diagnostic::error(
                                code::UNKNOWN_COMBINE,
                                format!("unknown way to combine objectives `{other}`"),
                            )
                            .at(method.span);
                            errors.push(
                                match closest(other, ["desirability", "weighted_sum", "pareto"]) {
                                    Some(s) => d.did_you_mean(method.span, s),
                                    None => d.help(
                                        "combine with `desirability`, `weighted_sum` or `pareto`",
                                    ),
                                },
                            );
                            continue;
                        }
                    };
                    if let Some((_, first, _)) = combine {
                        errors.push(
                            Diagnostic::error(
                                code::DUPLICATE_COMBINE,
                                "objectives are combined twice",
                            )
                            .label(*span, "second")
                            .label(first, "first"),
                        );
                        continue;
                    }
                    combine = Some((c, *span, props.as_ref()));
                    continue;
                }
            };
            let id = match self.find_proxy(proxy) {
                Ok(id) => id,
                Err(d) => {
                    errors.push(d);
                    self.poison(format!("objective:{}", proxy.name));
                    continue;
                }
            };
            let goal = match goal {
                Ok(g) => g,
                Err(d) => {
                    errors.push(d);
                    self.poison(format!("objective:{}", proxy.name));
                    continue;
                }
            };
            if let Some(first) = list.iter().find(|o| o.proxy == id) {
                errors.push(
                    Diagnostic::error(
                        code::DUPLICATE_OBJECTIVE,
                        format!("`{}` has two objectives", proxy.name),
                    )
                    .label(span, "second objective")
                    .label(first.span, "first objective"),
                );
                continue;
            }
            let range = match ramp.and_then(Option::as_ref) {
                Some(r) => match self.ramp(id, r) {
                    Ok(v) => Some(v),
                    Err(d) => {
                        errors.push(d);
                        self.poison(format!("objective:{}", proxy.name));
                        continue;
                    }
                },
                None => None,
            };
            // Where a missing or unused ramp is reported, once the combination is known.
            ramps.push((
                proxy.name.clone(),
                if goal == Goal::Minimize {
                    "minimize"
                } else {
                    "maximize"
                },
                ramp.map(|r| r.as_ref().map_or(span, |r| r.span)),
                range.is_some(),
            ));
            let w = weight.as_ref().map_or(1.0, |w| w.value);
            if w <= 0.0 {
                errors.push(
                    Diagnostic::error(code::WEIGHT, "a weight must be above zero")
                        .at(weight.as_ref().map_or(span, |w| w.span)),
                );
                continue;
            }
            let unit = self
                .proxies
                .get(id)
                .map_or_else(DisplayUnit::plain, |p| p.unit.clone());
            list.push(Objective {
                proxy: id,
                name: proxy.name.clone(),
                goal,
                weight: w,
                range,
                unit,
                span,
            });
        }
        // Weights and reference points given in the combine block.
        let mut reference_point = None;
        let method = match combine {
            Some((c, span, props)) => {
                let failed = self
                    .poisoned
                    .borrow()
                    .iter()
                    .any(|k| k.starts_with("objective:"));
                if list.len() < 2 && c != Combine::Pareto && !failed {
                    errors.push(
                        Diagnostic::warning(
                            code::COMBINE_SINGLE,
                            "there is only one objective; nothing to combine",
                        )
                        .at(span),
                    );
                }
                for p in props.iter().flat_map(|p| p.entries.iter()) {
                    if c == Combine::Pareto && p.name.name == "reference" {
                        match &p.value {
                            ast::PropValue::Props(inner) => {
                                let mut point = vec![f64::NAN; list.len()];
                                for q in &inner.entries {
                                    let Some(k) = list.iter().position(|o| o.name == q.name.name) else {
                                        errors.push(Diagnostic::error(code::UNKNOWN_OBJECTIVE, format!("`{}` is not an objective", q.name.name)).at(q.name.span));
                                        continue;
                                    };
                                    let (Some(o), ast::PropValue::Expr(e)) = (list.get(k), &q.value) else { continue };
                                    match self.proxy_value(o.proxy, e, false) {
                                        Ok(v) => {
                                            if let Some(slot) = point.get_mut(k) {
                                                *slot = v;
                                            }
                                        }
                                        Err(d) => errors.push(d),
                                    }
                                }
                                if point.iter().any(|x| x.is_nan()) {
                                    errors.push(Diagnostic::error(code::REFERENCE_POINT, "the reference point needs a value for every objective").at(p.span));
                                } else {
                                    reference_point = Some(point);
                                }
                            }
                            _ => errors.push(Diagnostic::error(code::REFERENCE_POINT, "write the reference point as `reference { peak 620 nm, plqy 0 }`").at(p.span)),
                        }
                        continue;
                    }
                    let Some(o) = list.iter_mut().find(|o| o.name == p.name.name) else {
                        if self
                            .poisoned
                            .borrow()
                            .iter()
                            .any(|k| k.starts_with("objective:"))
                        {
                            continue;
                        }
                        let known: Vec<&str> = Vec::new();
                        let d = Diagnostic::error(
                            code::UNKNOWN_OBJECTIVE,
                            format!("`{}` is not an objective", p.name.name),
                        )
                        .at(p.name.span);
                        errors.push(match closest(&p.name.name, known.iter().copied()) {
                            Some(s) => d.did_you_mean(p.name.span, s),
                            None => d.help("give a weight to each objective by its proxy's name: `{ peak 2, plqy 1 }`"),
                        });
                        continue;
                    };
                    match &p.value {
                        ast::PropValue::Expr(ast::Expr {
                            kind: ExprKind::Number(n),
                            ..
                        }) if n.value > 0.0 => o.weight = n.value,
                        _ => errors.push(
                            Diagnostic::error(code::WEIGHT, "a weight is a number above zero")
                                .at(p.value.span()),
                        ),
                    }
                }
                c
            }
            None if list.len() > 1 => {
                let names: Vec<String> = list.iter().map(|o| o.name.clone()).collect();
                let spans: Vec<Span> = list.iter().map(|o| o.span).collect();
                let mut d = Diagnostic::error(code::UNCOMBINED_OBJECTIVES, format!("{} objectives, but no rule to combine them", list.len()))
                    .help(format!("add `combine desirability {{ {} }}` (weights), `combine weighted_sum`, or `combine pareto` for a Pareto front", names.iter().map(|n| format!("{n} 1")).collect::<Vec<_>>().join(", ")));
                for s in spans {
                    d = d.at(s);
                }
                errors.push(d);
                Combine::Single
            }
            None => Combine::Single,
        };
        errors.extend(ramp_warnings(&ramps, &method));
        let conditions = |exprs: Vec<&ast::Expr>, errors: &mut Vec<Diagnostic>| -> Vec<Condition> {
            exprs
                .into_iter()
                .filter_map(|e| match self.condition(e, &list) {
                    Ok(c) => Some(c),
                    Err(d) => {
                        errors.push(d);
                        None
                    }
                })
                .collect()
        };
        let requirements = conditions(require_exprs, &mut errors);
        let stops = conditions(stop_exprs, &mut errors);
        let stop = stops
            .into_iter()
            .reduce(|a, b| Condition::Or(Box::new(a), Box::new(b)));
        let map = self.map_goal(&maps, &list, &mut errors);
        for d in errors {
            self.error(d);
        }
        self.objectives = Some(Objectives {
            list,
            map,
            combine: method,
            reference_point,
            requirements,
            stop,
        });
    }

    /// The campaign's `map` goal: one at most, never beside an optimised objective, its stop
    /// level a positive difference in the proxy's dimension (`2 nm`, `1.5 K`).
    fn map_goal(
        &self,
        maps: &[(&ast::Ident, Option<&ast::Expr>, Span)],
        list: &[Objective],
        errors: &mut Vec<Diagnostic>,
    ) -> Option<MapGoal> {
        let (proxy, level, span) = *maps.first()?;
        if let Some((_, _, second)) = maps.get(1) {
            errors.push(
                Diagnostic::error(code::MAP_OBJECTIVE, "a campaign maps one proxy")
                    .label(*second, "second map")
                    .label(span, "first map")
                    .help("the uncertainty-driven design and its stop level follow one model; map the other proxy in a second campaign"),
            );
        }
        if let Some(first) = list.first() {
            let mut d = Diagnostic::error(
                code::MAP_OBJECTIVE,
                "a map cannot share the campaign with an objective",
            )
            .label(span, "maps the proxy over the whole box")
            .label(first.span, "optimises toward one place");
            for o in list.iter().skip(1) {
                d = d.label(o.span, "optimises too");
            }
            errors.push(d.help("a map spends its experiments where the model is least sure, an objective where it is best: keep one (`stop when` still stops a map)"));
            self.poison(format!("objective:{}", proxy.name));
            return None;
        }
        let id = match self.find_proxy(proxy) {
            Ok(id) => id,
            Err(d) => {
                errors.push(d);
                self.poison(format!("objective:{}", proxy.name));
                return None;
            }
        };
        let failed = |d: Diagnostic, errors: &mut Vec<Diagnostic>| {
            errors.push(d);
            self.poison(format!("objective:{}", proxy.name));
        };
        let level = match level {
            Some(e) => match self.proxy_value(id, e, true) {
                Ok(v) if v > 0.0 => Some(v),
                Ok(_) => {
                    failed(
                        Diagnostic::error(code::MAP_OBJECTIVE, "the map's sd level must be above zero")
                            .at(e.span)
                            .help("a model is never certain: give the largest sd you accept, e.g. `until sd <= 2 nm`"),
                        errors,
                    );
                    return None;
                }
                Err(d) => {
                    failed(d, errors);
                    return None;
                }
            },
            None => None,
        };
        let unit = self
            .proxies
            .get(id)
            .map_or_else(DisplayUnit::plain, |p| p.unit.clone());
        Some(MapGoal {
            proxy: id,
            name: proxy.name.clone(),
            level,
            unit,
            span,
        })
    }

    /// The desirability ramp `in lo .. hi` of a `maximize` or `minimize` goal, in SI.
    fn ramp(&self, id: ProxyId, r: &ast::Range) -> Result<(f64, f64), Diagnostic> {
        let lo = self.proxy_value(id, &r.lo, false)?;
        let hi = self.proxy_value(id, &r.hi, false)?;
        if lo < hi {
            return Ok((lo, hi));
        }
        Err(Diagnostic::error(
            code::EMPTY_RAMP,
            "the desirability range is empty: its lower end is not below its upper end",
        )
        .at(r.span)
        .help("write the lower end first, e.g. `in 15 nm .. 60 nm`; `maximize` or `minimize` says which end is best"))
    }

    /// `peak within 2 nm and plqy >= 0.6` over proxies.
    fn condition(&self, e: &ast::Expr, objectives: &[Objective]) -> Result<Condition, Diagnostic> {
        match &e.kind {
            ExprKind::Paren(inner) => self.condition(inner, objectives),
            ExprKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => Ok(Condition::Not(Box::new(
                self.condition(operand, objectives)?,
            ))),
            ExprKind::Binary {
                op: BinaryOp::And,
                left,
                right,
            } => Ok(Condition::And(
                Box::new(self.condition(left, objectives)?),
                Box::new(self.condition(right, objectives)?),
            )),
            ExprKind::Binary {
                op: BinaryOp::Or,
                left,
                right,
            } => Ok(Condition::Or(
                Box::new(self.condition(left, objectives)?),
                Box::new(self.condition(right, objectives)?),
            )),
            ExprKind::Binary {
                op: BinaryOp::Within,
                left,
                right,
            } => {
                let ident = proxy_ident(left)?;
                let proxy = self.find_proxy(&ident)?;
                let tolerance = self.proxy_value(proxy, right, true)?;
                let target = objectives.iter().find_map(|o| match o.goal {
                    Goal::Target { value, .. } if o.proxy == proxy => Some(value),
                    _ => None,
                });
                let Some(target) = target else {
                    return Err(Diagnostic::error(
                        code::WITHIN_WITHOUT_TARGET,
                        format!(
                            "`{} within …` needs a target for `{}`",
                            ident.name, ident.name
                        ),
                    )
                    .at(e.span)
                    .help(format!(
                        "add `target {} = <value> within <tolerance>` to the objectives",
                        ident.name
                    )));
                };
                Ok(Condition::Within {
                    proxy,
                    target,
                    tolerance,
                })
            }
            ExprKind::Binary { op, left, right } if op.is_comparison() => {
                let cmp = match op {
                    BinaryOp::Le => Comparison::Le,
                    BinaryOp::Lt => Comparison::Lt,
                    BinaryOp::Ge => Comparison::Ge,
                    BinaryOp::Gt => Comparison::Gt,
                    _ => Comparison::Eq,
                };
                let ident = proxy_ident(left)?;
                let proxy = self.find_proxy(&ident)?;
                let value = self.proxy_value(proxy, right, false)?;
                Ok(Condition::Compare {
                    proxy,
                    op: cmp,
                    value,
                })
            }
            _ => Err(
                Diagnostic::error(code::NOT_A_CONDITION, "expected a condition on proxies")
                    .at(e.span)
                    .help("e.g. `peak within 2 nm and plqy >= 0.6`"),
            ),
        }
    }

    pub(super) fn optimizer(&mut self) {
        let blocks = self.items.of(|i| match i {
            Item::Optimizer(o) => Some(o),
            _ => None,
        });
        // Without a block the campaign gets qdx's default, chosen once the budget is known
        // (`OptimizerConfig::default_for`).
        let Some(o) = blocks.first().copied() else {
            return;
        };
        let name = o.strategy.name.as_str();
        let aliases = [
            ("lhs", "latin_hypercube"),
            ("bo", "bayesian"),
            ("cmaes", "evolutionary"),
            ("cma_es", "evolutionary"),
            ("simplex", "nelder_mead"),
        ];
        let canonical = aliases
            .iter()
            .find(|(a, _)| *a == name)
            .map_or(name, |(_, c)| *c);
        let Some(strategy) = Strategy::ALL
            .iter()
            .find(|(n, _)| *n == canonical)
            .map(|(_, s)| s.clone())
        else {
            let known: Vec<&str> = Strategy::ALL.iter().map(|(n, _)| *n).collect();
            let d = Diagnostic::error(
                code::UNKNOWN_STRATEGY,
                format!("unknown optimizer `{name}`"),
            )
            .at(o.strategy.span);
            self.error(match closest(name, known.iter().copied()) {
                Some(s) => d.did_you_mean(o.strategy.span, s),
                None => d.help(format!("optimizers: {}", known.join(", "))),
            });
            return;
        };
        let mut config = OptimizerConfig {
            strategy,
            initial: None,
            batch: 1,
            levels: BTreeMap::new(),
            composition_levels: BTreeMap::new(),
            options: OptimizerOptions::default(),
            span: o.span,
            chosen_by_qdx: false,
        };
        let allowed = OPTIONS
            .iter()
            .find(|(n, _)| *n == canonical)
            .map_or(&[][..], |(_, o)| *o);
        let mut errors = Vec::new();
        // Where each composition's levels are written, for errors about its lattice.
        let mut composition_level_at: BTreeMap<usize, Span> = BTreeMap::new();
        // Where each option and the batch are written, for errors about a map.
        let mut option_at: BTreeMap<String, Span> = BTreeMap::new();
        for e in &o.entries {
            match e {
                OptimizerEntry::Initial {
                    design,
                    count,
                    span,
                } => {
                    let kind = match design.name.as_str() {
                        "sobol" => Strategy::Sobol,
                        "latin_hypercube" | "lhs" => Strategy::LatinHypercube,
                        "random" => Strategy::Random,
                        other => {
                            let d = Diagnostic::error(
                                code::INITIAL_DESIGN,
                                format!("unknown initial design `{other}`"),
                            )
                            .at(design.span);
                            errors.push(match closest(other, ["sobol", "latin_hypercube", "random"]) {
                                Some(s) => d.did_you_mean(design.span, s),
                                None => d.help("an initial design is `sobol`, `latin_hypercube` or `random`"),
                            });
                            continue;
                        }
                    };
                    if !matches!(
                        config.strategy,
                        Strategy::Bayesian
                            | Strategy::Snobfit
                            | Strategy::NelderMead
                            | Strategy::Evolutionary
                    ) {
                        errors.push(
                            Diagnostic::error(
                                code::INITIAL_DESIGN,
                                format!(
                                    "`{canonical}` has no initial design: it is a design itself"
                                ),
                            )
                            .at(*span),
                        );
                        continue;
                    }
                    if count.value == 0 {
                        errors.push(
                            Diagnostic::error(
                                code::INITIAL_DESIGN,
                                "the initial design needs at least one experiment",
                            )
                            .at(count.span),
                        );
                        continue;
                    }
                    if count.value > MAX_DESIGN_POINTS {
                        errors.push(
                            Diagnostic::error(
                                code::DESIGN_TOO_LARGE,
                                format!(
                                    "an initial design of {} experiments is larger than qdx plans",
                                    count.value
                                ),
                            )
                            .label(count.span, format!("at most {MAX_DESIGN_POINTS}"))
                            .help("an initial design of 5 to 20 experiments is usual"),
                        );
                        continue;
                    }
                    config.initial = Some((kind, count.value));
                }
                OptimizerEntry::Batch { size, span } => {
                    option_at.insert("batch".into(), *span);
                    if size.value == 0 || size.value > 1000 {
                        errors.push(
                            Diagnostic::error(
                                code::BATCH,
                                "a batch is between 1 and 1000 experiments",
                            )
                            .at(size.span),
                        );
                    } else {
                        config.batch = size.value;
                    }
                }
                OptimizerEntry::Levels { levels, span } => {
                    if config.strategy != Strategy::Grid {
                        errors.push(
                            Diagnostic::error(
                                code::LEVELS_WITHOUT_GRID,
                                "`levels` belong to a grid",
                            )
                            .at(*span)
                            .help("write `optimizer grid { levels { … } }`"),
                        );
                        continue;
                    }
                    for l in levels {
                        if let Some(k) = self
                            .compositions
                            .iter()
                            .position(|c| c.name == l.variable.name)
                        {
                            match composition_levels(l) {
                                Ok(n) => {
                                    if config.composition_levels.insert(k, n).is_some() {
                                        errors.push(
                                            Diagnostic::error(
                                                code::DUPLICATE_LEVELS,
                                                format!(
                                                    "levels of `{}` are given twice",
                                                    l.variable.name
                                                ),
                                            )
                                            .at(l.span),
                                        );
                                    }
                                    composition_level_at.insert(k, l.span);
                                }
                                Err(d) => {
                                    // Reported here; not again as levels missing.
                                    composition_level_at.insert(k, l.span);
                                    errors.push(d);
                                }
                            }
                            continue;
                        }
                        match self.levels(l) {
                            Ok((id, values)) => {
                                if config.levels.insert(id, values).is_some() {
                                    errors.push(
                                        Diagnostic::error(
                                            code::DUPLICATE_LEVELS,
                                            format!(
                                                "levels of `{}` are given twice",
                                                l.variable.name
                                            ),
                                        )
                                        .at(l.span),
                                    );
                                }
                            }
                            Err(d) => errors.push(d),
                        }
                    }
                }
                OptimizerEntry::Option {
                    name: opt,
                    value,
                    props,
                    span,
                } => {
                    if !allowed.iter().any(|(n, _)| *n == opt.name) {
                        let known: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                        let d = Diagnostic::error(
                            code::UNKNOWN_OPTION,
                            format!("`{canonical}` has no option `{}`", opt.name),
                        )
                        .at(opt.span);
                        errors.push(match closest(&opt.name, known.iter().copied()) {
                            Some(s) => d.help(format!("did you mean `{s}`?")),
                            None if known.is_empty() => {
                                d.help(format!("`{canonical}` takes no options"))
                            }
                            None => d.help(format!(
                                "its options: {}",
                                allowed
                                    .iter()
                                    .map(|(n, w)| format!("`{n}` ({w})"))
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            )),
                        });
                        continue;
                    }
                    option_at.insert(opt.name.clone(), *span);
                    match option_value(opt, value.as_ref(), props.as_ref()) {
                        Ok(v) => {
                            if let Err(msg) = set_option(&mut config.options, &opt.name, &v) {
                                errors.push(Diagnostic::error(code::OPTION_VALUE, msg).at(*span));
                            }
                            if let (Some(p), Some(v)) = (&mut config.options.prior_mean, value)
                                && opt.name == "prior_mean"
                            {
                                p.span = v.span;
                            }
                        }
                        Err(d) => errors.push(d),
                    }
                }
            }
        }
        if config.strategy == Strategy::Grid
            && !(config.levels.is_empty() && config.composition_levels.is_empty())
        {
            let size = config.grid_size(&self.variables, &self.compositions);
            if size > MAX_DESIGN_POINTS {
                let levels_span = o.entries.iter().find_map(|e| match e {
                    OptimizerEntry::Levels { span, .. } => Some(*span),
                    _ => None,
                });
                // The product saturates: at `u64::MAX` the true count is at least that.
                let shown = if size == u64::MAX {
                    format!("over {size}")
                } else {
                    size.to_string()
                };
                errors.push(
                    Diagnostic::error(
                        code::DESIGN_TOO_LARGE,
                        format!("the grid has {shown} points, more than qdx plans"),
                    )
                    .label(
                        levels_span.unwrap_or(o.span),
                        format!("the product of these level counts; at most {MAX_DESIGN_POINTS}"),
                    )
                    .help("use fewer levels, or a `sobol` or `latin_hypercube` design to cover the space with fewer points"),
                );
            }
        }
        // Strategy against the variables.
        let choice_vars: Vec<&Variable> = self
            .variables
            .iter()
            .filter(|v| matches!(v.domain, Domain::Choice { .. }))
            .collect();
        match config.strategy {
            Strategy::NelderMead | Strategy::Evolutionary => {
                if let Some(v) = choice_vars.first() {
                    errors.push(
                        Diagnostic::error(code::STRATEGY_CATEGORICAL, format!("`{canonical}` cannot handle the choice variable `{}`", v.name))
                            .label(o.strategy.span, "moves through continuous space only")
                            .label(v.span, "a choice variable")
                            .help("use `bayesian`, `snobfit`, `random` or a design (`sobol`, `latin_hypercube`, `grid`)"),
                    );
                }
            }
            Strategy::Grid => {
                for (k, comp) in self.compositions.iter().enumerate() {
                    match config.composition_levels.get(&k) {
                        None if composition_level_at.contains_key(&k) => {}
                        None => errors.push(
                            Diagnostic::error(
                                code::GRID_COMPOSITION,
                                format!("a grid needs levels for the composition `{}`", comp.name),
                            )
                            .label(o.strategy.span, "a grid over the variables")
                            .help(format!(
                                "add `levels {{ {} 5 }}`: each part then takes 0, 1/4, 1/2, 3/4 and all of the total, in the combinations that sum to it",
                                comp.name
                            )),
                        ),
                        Some(levels) => {
                            if let Some(d) = self.lattice_outside_ranges(comp, *levels) {
                                let at = composition_level_at.get(&k).copied().unwrap_or(o.span);
                                errors.push(d.at(at));
                            }
                        }
                    }
                }
                let missing: Vec<&Variable> = self
                    .variables
                    .iter()
                    .enumerate()
                    // A composition's parts were refused above: no advice on their levels.
                    .filter(|(i, v)| {
                        !matches!(v.domain, Domain::Choice { .. } | Domain::Component { .. })
                            && !config.levels.contains_key(i)
                    })
                    .map(|(_, v)| v)
                    .collect();
                if !missing.is_empty() {
                    let names: Vec<&str> = missing.iter().map(|v| v.name.as_str()).collect();
                    let example = missing
                        .first()
                        .map_or_else(String::new, |v| format!("{} 3", v.name));
                    let mut d = Diagnostic::error(
                        code::GRID_WITHOUT_LEVELS,
                        format!(
                            "a grid needs levels for {}",
                            names
                                .iter()
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                    .label(o.strategy.span, "a grid over these variables");
                    for v in &missing {
                        d = d.label(v.span, "no levels");
                    }
                    errors.push(d.help(format!("add `levels {{ {example} }}` (a number of evenly spaced levels) or a list such as `temperature [240 degC, 260 degC]`")));
                }
            }
            _ => {}
        }
        // Strategy against a table in pool mode: only the table's rows can be run.
        if let Some(sim) = &self.simulation
            && matches!(sim.model, SimulationModel::Table { pool: true, .. })
            && matches!(
                config.strategy,
                Strategy::NelderMead | Strategy::Snobfit | Strategy::Evolutionary | Strategy::Grid
            )
        {
            let what = if config.strategy == Strategy::Grid {
                "its points are set by the levels, not by the table"
            } else {
                "moves to points of its own"
            };
            errors.push(
                Diagnostic::error(
                    code::STRATEGY_POOL,
                    format!("`{canonical}` cannot pick rows of a table in pool mode"),
                )
                .label(o.strategy.span, what)
                .label(sim.span, "only the rows of this table can be run")
                .help("use `bayesian`, `random`, `sobol` or `latin_hypercube`, which pick rows of the table; or `mode emulator` to interpolate between rows"),
            );
        }
        let objective_errors =
            self.poisoned.borrow().iter().any(|k| {
                k.starts_with("objective:") || k.starts_with("proxy:") || k == "measurement"
            });
        let map = self.objectives.as_ref().and_then(|o| o.map.as_ref());
        let map_acquisition = config.options.acquisition.filter(|a| a.maps());
        let acquisition_at = option_at.get("acquisition").copied();
        if let Some(m) = map {
            let optimising = match config.strategy {
                Strategy::Bayesian => config.options.acquisition.filter(|a| !a.maps()).map(|a| {
                    (
                        format!("`{}` optimises an objective", a.name()),
                        acquisition_at.unwrap_or(o.span),
                    )
                }),
                Strategy::NelderMead | Strategy::Snobfit | Strategy::Evolutionary => Some((
                    format!("`{canonical}` optimises an objective"),
                    o.strategy.span,
                )),
                _ => None,
            };
            if let Some((what, at)) = optimising {
                errors.push(
                    Diagnostic::error(code::MAP_STRATEGY, format!("{what}, but the campaign maps `{}`", m.name))
                        .at(at)
                        .label(m.span, "the map")
                        .help("map with `bayesian { acquisition max_variance }` (the default) or `integrated_variance`, or a design (`sobol`, `grid`)"),
                );
            }
            // A map's model is one GP of the mapped proxy, its suggestions one at a time: the
            // options that shape an optimising model would be accepted and then ignored.
            if config.strategy == Strategy::Bayesian {
                let not_gp = matches!(
                    config.options.surrogate,
                    Some(SurrogateKind::ExtraTrees | SurrogateKind::NnEnsemble)
                );
                let unused = [
                    ("batch", config.batch > 1, "one experiment at a time"),
                    ("surrogate", not_gp, "a map's model is a Gaussian process"),
                    (
                        "model",
                        config.options.model.is_some(),
                        "the map models the proxy itself",
                    ),
                    (
                        "failures",
                        config.options.failures.is_some(),
                        "failed experiments are left out of the map",
                    ),
                    (
                        "beta",
                        config.options.beta.is_some(),
                        "for an upper confidence bound",
                    ),
                ];
                let found: Vec<(&str, Span, &str)> = unused
                    .iter()
                    .filter(|(_, given, _)| *given)
                    .filter_map(|(name, _, why)| option_at.get(*name).map(|at| (*name, *at, *why)))
                    .collect();
                if !found.is_empty() {
                    let names: Vec<String> =
                        found.iter().map(|(n, _, _)| format!("`{n}`")).collect();
                    let (list, verb) = match names.split_last() {
                        Some((last, [])) => (last.clone(), "has"),
                        Some((last, rest)) => (format!("{} and {last}", rest.join(", ")), "have"),
                        None => (String::new(), "has"),
                    };
                    let mut d = Diagnostic::error(
                        code::MAP_STRATEGY,
                        format!("{list} {verb} no meaning in a map of `{}`", m.name),
                    );
                    for (_, at, why) in &found {
                        d = d.label(*at, *why);
                    }
                    errors.push(d.label(m.span, "the map").help(format!(
                        "remove {}: a map's model is one Gaussian process of the mapped proxy, asked for one experiment at a time",
                        if found.len() == 1 { "it" } else { "them" }
                    )));
                }
            }
        } else if let Some(a) = map_acquisition
            && !objective_errors
        {
            errors.push(
                Diagnostic::error(code::MAP_STRATEGY, format!("`{}` maps a proxy, but the campaign maps none", a.name()))
                    .at(acquisition_at.unwrap_or(o.span))
                    .help("add `map <proxy> until sd <= <level>` to the objectives, or optimise with `log_expected_improvement`"),
            );
        }
        if self
            .objectives
            .as_ref()
            .is_some_and(|o| o.list.is_empty() && o.map.is_none())
            && !objective_errors
            && matches!(
                config.strategy,
                Strategy::Bayesian
                    | Strategy::NelderMead
                    | Strategy::Snobfit
                    | Strategy::Evolutionary
            )
        {
            errors.push(
                Diagnostic::error(code::NO_OBJECTIVE, format!("`{canonical}` optimizes an objective, but the campaign has none"))
                    .at(o.strategy.span)
                    .help("add an `objectives` block (`maximize plqy`), or use a design (`sobol`, `grid`) to explore without one"),
            );
        }
        // A prior mean enters the composite model: the options that rule it out are refused
        // where they are written (the fit itself is checked once fits are known,
        // `prior_mean_check`).
        if let Some(p) = &config.options.prior_mean {
            let o = &config.options;
            let refused = [
                (
                    o.model == Some(ModelKind::Score),
                    "model",
                    "`model score` fits one GP to the combined score, which the fit does not predict",
                    "remove `model score`: the composite model (one GP per proxy) is the default",
                ),
                (
                    o.failures == Some(FailureModel::ImputeWorst),
                    "failures",
                    "made-up scores for failed experiments go to a GP of the score",
                    "remove `failures impute_worst`: the composite model takes the default `feasibility_model`",
                ),
                (
                    o.acquisition == Some(Acquisition::UpperConfidenceBound),
                    "acquisition",
                    "the composite model's acquisition is an expected improvement",
                    "use `log_expected_improvement` (the default) or `noisy_expected_improvement`",
                ),
            ];
            for (given, what, why, fix) in refused {
                if given && let Some(written) = option_at.get(what) {
                    errors.push(
                        Diagnostic::error(
                            code::PRIOR_MEAN,
                            format!("a prior mean needs the composite model, which this `{what}` rules out"),
                        )
                        .label(*written, why)
                        .label(p.span, "the prior mean of the composite model's GPs")
                        .help(fix),
                    );
                }
            }
        }
        for d in errors {
            self.error(d);
        }
        self.optimizer = Some(config);
    }

    /// `temperature [240 degC, 260 degC]` or `residence 5`.
    /// Why a composition's grid lattice in `levels` levels cannot be formed: no point of it
    /// has every part inside its range (`None` when one has, or when the lattice is too large
    /// to list, which the grid's size check reports).
    fn lattice_outside_ranges(&self, comp: &Composition, levels: u64) -> Option<Diagnostic> {
        let steps = levels.saturating_sub(1);
        if super::campaign::lattice_size(comp.components.len() as u64, steps) > MAX_DESIGN_POINTS {
            return None;
        }
        let lattice = super::strategy::lattice(comp, steps);
        let inside = |(id, x): &(VarId, f64)| {
            self.variables.get(*id).is_some_and(|v| match v.domain {
                Domain::Component { lo, hi, .. } => {
                    let slack = 1e-9 * comp.total.abs().max(1.0);
                    *x >= lo - slack && *x <= hi + slack
                }
                _ => true,
            })
        };
        if lattice.iter().any(|point| point.iter().all(inside)) {
            return None;
        }
        Some(
            Diagnostic::error(
                code::GRID_COMPOSITION,
                format!(
                    "the grid cannot be formed: in {levels} levels, no point of `{}` has every part inside its range",
                    comp.name
                ),
            )
            .help(format!(
                "{levels} levels give each part a multiple of 1/{steps} of the total; use more levels, or widen the parts' ranges"
            )),
        )
    }

    fn levels(&self, l: &ast::Level) -> Result<(VarId, Vec<f64>), Diagnostic> {
        let Some(id) = self
            .variables
            .iter()
            .position(|v| v.name == l.variable.name)
        else {
            let known: Vec<&str> = self.variables.iter().map(|v| v.name.as_str()).collect();
            let d = Diagnostic::error(
                code::UNKNOWN_VARIABLE,
                format!("no variable named `{}`", l.variable.name),
            )
            .at(l.variable.span);
            return Err(match closest(&l.variable.name, known.iter().copied()) {
                Some(s) => d.did_you_mean(l.variable.span, s),
                None => d,
            });
        };
        let Some(v) = self.variables.get(id) else {
            return Err(Diagnostic::error(code::INTERNAL, "variable index").at(l.span));
        };
        let (lo, hi) = match &v.domain {
            Domain::Choice { .. } => {
                return Err(Diagnostic::error(
                    code::LEVELS_OF_CHOICE,
                    format!("`{}` is a choice: a grid uses all its options", v.name),
                )
                .at(l.span));
            }
            other => match other {
                Domain::Continuous { lo, hi, .. } | Domain::Component { lo, hi, .. } => (*lo, *hi),
                Domain::Integer { lo, hi } => (*lo as f64, *hi as f64),
                Domain::Choice { .. } => (0.0, 0.0),
            },
        };
        let values = match &l.values {
            ast::LevelValues::Count(n) => {
                if n.value < 2 || n.value > 10_000 {
                    return Err(Diagnostic::error(
                        code::LEVEL_COUNT,
                        "a grid needs 2 to 10000 levels per variable",
                    )
                    .at(n.span));
                }
                let k = n.value as usize;
                let mut out: Vec<f64> = (0..k)
                    .map(|i| lo + (hi - lo) * i as f64 / (k - 1) as f64)
                    .collect();
                if matches!(v.domain, Domain::Integer { .. }) {
                    out = out.into_iter().map(f64::round).collect();
                    out.dedup();
                }
                out
            }
            ast::LevelValues::List(items, span) => {
                if items.is_empty() {
                    return Err(
                        Diagnostic::error(code::LEVEL_COUNT, "an empty list of levels").at(*span),
                    );
                }
                let mut out = Vec::new();
                for e in items {
                    let (x, _) = quantity_of(v.dimension, e)?;
                    if x < lo - 1e-12 * lo.abs().max(1.0) || x > hi + 1e-12 * hi.abs().max(1.0) {
                        return Err(Diagnostic::error(
                            code::LEVEL_OUTSIDE,
                            format!(
                                "{} is outside the range of `{}` ({} .. {})",
                                v.unit.format(x),
                                v.name,
                                v.unit.format(lo),
                                v.unit.format(hi)
                            ),
                        )
                        .at(e.span));
                    }
                    if out.contains(&x) {
                        return Err(Diagnostic::error(
                            code::DUPLICATE_LEVEL,
                            "this level is listed twice",
                        )
                        .at(e.span));
                    }
                    out.push(x);
                }
                out
            }
        };
        self.mark_used(&v.name);
        Ok((id, values))
    }

    pub(super) fn priors(&mut self) {
        let priors: Vec<&'a ast::Prior> = self.items.of(|i| match i {
            Item::Prior(p) => Some(p),
            _ => None,
        });
        for p in priors {
            let format = match p.format.name.as_str() {
                "csv" => PriorFormat::Csv,
                "bundle" => PriorFormat::Bundle,
                other => {
                    self.error(
                        Diagnostic::error(code::PRIOR_FORMAT, format!("unknown prior data format `{other}`"))
                            .at(p.format.span)
                            .help("prior data is `prior csv \"earlier.csv\"` or `prior bundle \"runs/earlier-run\"`"),
                    );
                    continue;
                }
            };
            let file = match format {
                PriorFormat::Csv => p.path.value.clone(),
                PriorFormat::Bundle => {
                    format!("{}/observations.csv", p.path.value.trim_end_matches('/'))
                }
            };
            match self
                .loaded
                .read_relative(self.world, p.path.span, &file, "prior data file")
            {
                Ok((name, text)) => {
                    let header = qdx_sim::csv_header(&text, b',');
                    let missing: Vec<&str> = self
                        .variables
                        .iter()
                        .filter(|v| {
                            !header
                                .iter()
                                .any(|h| h == &v.name || h.starts_with(&format!("{} [", v.name)))
                        })
                        .map(|v| v.name.as_str())
                        .collect();
                    if !missing.is_empty() {
                        self.error(
                            Diagnostic::error(code::PRIOR_COLUMNS, format!("`{}` has no column for {}", name, missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")))
                                .at(p.path.span)
                                .help("prior data needs one column per variable, named like the variable (optionally with its unit: `residence [s]`)"),
                        );
                        continue;
                    }
                    // Rows are read now so a bad cell is found by `check`, not by the run.
                    match crate::validate::strategy::prior_table(&self.variables, &text) {
                        Ok(table) => {
                            if let Some(what) = table.outside_summary(&name) {
                                self.error(
                                    Diagnostic::warning(code::PRIOR_OUTSIDE, what)
                                        .at(p.path.span)
                                        .help(format!("the optimizer starts from the {} rows inside the ranges; widen a range to use the others", table.rows.len())),
                                );
                            }
                        }
                        Err(why) => {
                            self.error(
                                Diagnostic::error(
                                    code::PRIOR_DATA,
                                    format!("`{name}` cannot be read as prior data: {why}"),
                                )
                                .at(p.path.span),
                            );
                            continue;
                        }
                    }
                    self.files.push(CampaignFile {
                        name: name.clone(),
                        role: FileRole::Prior,
                        text,
                    });
                    self.priors.push(PriorSource {
                        format,
                        path: p.path.value.clone(),
                        span: p.span,
                    });
                }
                Err(d) => self.error(d),
            }
        }
    }

    /// The `budget { … }` block.
    pub(super) fn budget(&mut self, b: Option<&ast::Budget>) -> Budget {
        let mut budget = Budget::default();
        let Some(b) = b else { return budget };
        for e in &b.entries {
            match e {
                ast::BudgetEntry::Experiments(n) => {
                    if n.value == 0 {
                        self.error(
                            Diagnostic::error(
                                code::BUDGET,
                                "a budget of zero experiments runs nothing",
                            )
                            .at(n.span),
                        );
                    }
                    budget.experiments = Some(n.value);
                    budget.spans.experiments = Some(n.span);
                }
                ast::BudgetEntry::RepeatedFailures(n) => {
                    if n.value == 0 {
                        self.error(
                            Diagnostic::error(
                                code::BUDGET,
                                "`repeated_failures 0` would stop before the first experiment",
                            )
                            .label(n.span, "at least 1")
                            .help("the run stops after this many experiments in a row fail the same way; write a number at least as large as the budget to never stop for it"),
                        );
                    }
                    budget.repeated_failures = Some(n.value);
                }
                ast::BudgetEntry::Reagent { stock, amount } => {
                    match quantity_of(Dimension::VOLUME, amount) {
                        Ok((v, _)) if v > 0.0 => {
                            if stock.name == "total" {
                                budget.reagent_total = Some(v);
                                budget.spans.reagent_total = Some(amount.span);
                            } else {
                                budget.reagent_per_stock.insert(stock.name.clone(), v);
                                budget
                                    .spans
                                    .per_stock
                                    .insert(stock.name.clone(), stock.span);
                            }
                        }
                        Ok(_) => self.error(
                            Diagnostic::error(code::BUDGET, "a reagent budget must be above zero")
                                .at(amount.span),
                        ),
                        Err(d) => self.error(d),
                    }
                }
                ast::BudgetEntry::Time(t) => match quantity_of(Dimension::TIME, t) {
                    Ok((s, _)) if s > super::durations::MAX_TIME_BUDGET_S => self.error(
                        super::durations::check_time(
                            "the time budget",
                            s,
                            super::durations::MAX_TIME_BUDGET_S,
                            t.span,
                            "a campaign runs for at most a year; split a longer one into several",
                        )
                        .err()
                        .unwrap_or_else(super::follow_on),
                    ),
                    Ok((s, _)) if s > 0.0 => {
                        budget.time = Some(s);
                        budget.spans.time = Some(t.span);
                    }
                    Ok(_) => self.error(
                        Diagnostic::error(code::BUDGET, "a time budget must be above zero")
                            .at(t.span),
                    ),
                    Err(d) => self.error(d),
                },
            }
        }
        budget
    }

    /// Budgets against the optimizer and the stocks.
    pub(super) fn budget_checks(
        &mut self,
        header: &Option<(String, Option<String>, u64, u32, Budget)>,
    ) {
        let Some((_, _, _, _, budget)) = header else {
            return;
        };
        let mut errors = Vec::new();
        for stock in budget.reagent_per_stock.keys() {
            if !self.stocks.iter().any(|s| &s.name == stock) {
                let known: Vec<&str> = self.stocks.iter().map(|s| s.name.as_str()).collect();
                let span = budget
                    .spans
                    .per_stock
                    .get(stock)
                    .copied()
                    .unwrap_or(Span::synthetic(crate::source::Synthetic::Default));
                let d = Diagnostic::error(
                    code::UNKNOWN_STOCK,
                    format!("the budget names no stock `{stock}`"),
                )
                .label(span, "not a stock");
                errors.push(match closest(stock, known.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("`reagent total 25 mL` bounds all stocks together; `reagent <stock> 10 mL` one stock"),
                });
            }
        }
        if let (Some(n), Some(config)) = (budget.experiments, &self.optimizer) {
            let span = budget.spans.experiments.unwrap_or(config.span);
            if let Some((_, initial)) = config.initial
                && initial > n
            {
                errors.push(
                    Diagnostic::error(code::BUDGET_INITIAL, format!("the initial design has {initial} experiments, more than the budget of {n}"))
                        .label(span, "budget")
                        .label(config.span, "initial design")
                        .help("lower the initial design or raise the budget"),
                );
            }
            if matches!(config.strategy, Strategy::Sobol | Strategy::LatinHypercube)
                && config.options.points.is_none()
                && n > MAX_DESIGN_POINTS
            {
                errors.push(
                    Diagnostic::error(
                        code::DESIGN_TOO_LARGE,
                        format!(
                            "a `{}` design of {n} experiments is larger than qdx plans",
                            config.strategy.name()
                        ),
                    )
                    .label(span, format!("the design runs one experiment per budgeted experiment, at most {MAX_DESIGN_POINTS}"))
                    .help(format!(
                        "give the design its size (`optimizer {} {{ points 100 }}`) or lower the budget",
                        config.strategy.name()
                    )),
                );
            }
            if config.batch > n {
                errors.push(
                    Diagnostic::error(
                        code::BUDGET_BATCH,
                        format!(
                            "a batch of {} is larger than the budget of {n} experiments",
                            config.batch
                        ),
                    )
                    .label(span, "budget"),
                );
            }
        }
        if budget.experiments.is_none()
            && budget.time.is_none()
            && budget.reagent_total.is_none()
            && !matches!(
                self.optimizer.as_ref().map(|o| &o.strategy),
                Some(Strategy::Grid)
            )
        {
            // Without an `optimizer` block qdx's default runs, which ends only by the budget
            // or a stop condition too.
            let has_stop = self.objectives.as_ref().is_some_and(|o| o.stop.is_some());
            if !has_stop {
                let span =
                    self.items
                        .of(|i| match i {
                            Item::Campaign(c) => Some(c),
                            _ => None,
                        })
                        .first()
                        .map_or_else(
                            || {
                                self.optimizer.as_ref().map_or(
                                    Span::synthetic(crate::source::Synthetic::Default),
                                    |o| o.span,
                                )
                            },
                            |c| c.name.span,
                        );
                errors.push(
                    Diagnostic::error(code::UNBOUNDED, "nothing ends this campaign: no budget and no stop condition")
                        .label(span, "this campaign has no budget")
                        .help("add `budget { experiments 50 }` to the campaign block, or a `stop when …` objective"),
                );
            }
        }
        for d in errors {
            self.error(d);
        }
    }
}

impl Validator<'_> {
    /// The grid against its constraints and the budget, by the points it runs
    /// ([`super::strategy::grid`], as the planner runs them): some must satisfy the
    /// constraints, and no more than the budget allows.
    pub(super) fn grid_checks(
        &mut self,
        grid: &Grid,
        budget: &Budget,
        optimizer: &OptimizerConfig,
    ) {
        let kept = grid.points.len() as u64;
        let left_out = grid.total - kept.min(grid.total);
        if kept == 0 {
            let mut d = Diagnostic::error(
                code::GRID_INFEASIBLE,
                format!(
                    "none of the grid's {} points satisfies the constraints",
                    grid.total
                ),
            )
            .label(optimizer.span, format!("{} grid points", grid.total));
            for c in &self.constraints {
                d = d.label(c.span, "constraint");
            }
            self.error(d.help(
                "choose levels inside the region the constraints allow, or loosen a constraint",
            ));
            return;
        }
        if let Some(n) = budget.experiments
            && kept > n
        {
            let (points, label) = if left_out > 0 {
                (
                    format!(
                        "{kept} points that satisfy the constraints ({left_out} of its {} break one)",
                        grid.total
                    ),
                    format!("{kept} of these {} grid points are run", grid.total),
                )
            } else {
                (format!("{kept} points"), format!("{kept} grid points"))
            };
            self.error(
                Diagnostic::error(
                    code::BUDGET_GRID,
                    format!("the grid has {points}, but the budget allows {n} experiments"),
                )
                .label(budget.spans.experiments.unwrap_or(optimizer.span), "budget")
                .label(optimizer.span, label)
                .help("raise the budget or use fewer levels"),
            );
        }
    }
}

fn proxy_ident(e: &ast::Expr) -> Result<ast::Ident, Diagnostic> {
    match &e.kind {
        ExprKind::Path(p) if p.segments.len() == 1 => {
            p.segments.first().cloned().ok_or_else(|| {
                Diagnostic::error(code::NOT_A_CONDITION, "expected a proxy").at(e.span)
            })
        }
        _ => Err(Diagnostic::error(
            code::NOT_A_CONDITION,
            "a condition starts with a proxy's name",
        )
        .at(e.span)
        .help("e.g. `plqy >= 0.6` or `peak within 2 nm`")),
    }
}

fn option_value(
    name: &ast::Ident,
    value: Option<&ast::Expr>,
    props: Option<&ast::Props>,
) -> Result<OptionValue, Diagnostic> {
    let mut block = BTreeMap::new();
    for p in props.iter().flat_map(|p| p.entries.iter()) {
        let v = match &p.value {
            ast::PropValue::Expr(e) => option_value(&p.name, Some(e), None)?,
            ast::PropValue::Props(inner) => option_value(&p.name, None, Some(inner))?,
            ast::PropValue::Range(r) => {
                return Err(Diagnostic::error(
                    code::OPTION_VALUE,
                    "an option is a name or a number",
                )
                .at(r.span));
            }
        };
        block.insert(p.name.name.clone(), v);
    }
    let head = match value.map(|v| &v.kind) {
        None => None,
        Some(ExprKind::Number(n)) => Some(OptionValue::Number(n.value)),
        Some(ExprKind::Path(p)) => Some(OptionValue::Name(p.dotted())),
        Some(_) => {
            return Err(Diagnostic::error(
                code::OPTION_VALUE,
                format!("`{}` takes a name or a number", name.name),
            )
            .at(value.map_or(name.span, |v| v.span)));
        }
    };
    Ok(match (head, block.is_empty()) {
        (Some(h), true) => h,
        (Some(OptionValue::Name(n)), false) => {
            let mut b = BTreeMap::new();
            b.insert(n, OptionValue::Block(block));
            OptionValue::Block(b)
        }
        (None, _) => OptionValue::Block(block),
        (Some(_), false) => {
            return Err(
                Diagnostic::error(code::OPTION_VALUE, "a number cannot have a block").at(name.span),
            );
        }
    })
}

/// An option's value as written, before it is typed: a name, a number, or a block.
#[derive(Debug, Clone, PartialEq)]
enum OptionValue {
    Number(f64),
    Name(String),
    Block(BTreeMap<String, OptionValue>),
}

/// Checks an option's value and records it, typed, in `options`.
fn set_option(options: &mut OptimizerOptions, name: &str, v: &OptionValue) -> Result<(), String> {
    let num = |lo: f64, hi: f64, what: &str| match v {
        OptionValue::Number(x) if (lo..=hi).contains(x) => Ok(*x),
        _ => Err(format!("`{name}` is {what}")),
    };
    let fraction = "a fraction of each range, above 0 and at most 1";
    match name {
        "acquisition" => {
            options.acquisition = Some(
                match v {
                    OptionValue::Name(n) => Acquisition::from_name(n),
                    _ => None,
                }
                .ok_or("`acquisition` is `log_expected_improvement`, `noisy_expected_improvement` or `upper_confidence_bound`; to map, `max_variance` or `integrated_variance`")?,
            );
        }
        "surrogate" => {
            let wrong = "the surrogate is `gp { kernel matern52 }`, `extra_trees` or `nn_ensemble`";
            let surrogate = match v {
                OptionValue::Name(n) if n == "gp" => SurrogateKind::Gp(Kernel::Matern52),
                OptionValue::Name(n) if n == "extra_trees" => SurrogateKind::ExtraTrees,
                OptionValue::Name(n) if n == "nn_ensemble" => SurrogateKind::NnEnsemble,
                OptionValue::Block(b) if b.len() == 1 => match b.get("gp") {
                    Some(OptionValue::Block(inner)) if inner.keys().all(|k| k == "kernel") => {
                        match inner.get("kernel") {
                            None => SurrogateKind::Gp(Kernel::Matern52),
                            Some(OptionValue::Name(k)) if k == "matern52" => {
                                SurrogateKind::Gp(Kernel::Matern52)
                            }
                            Some(OptionValue::Name(_)) => {
                                return Err("the GP kernel is `matern52` (Matérn-5/2 with one lengthscale per variable)".into());
                            }
                            _ => return Err("a `gp` block takes `kernel matern52`".into()),
                        }
                    }
                    Some(OptionValue::Block(_)) => {
                        return Err("a `gp` block takes `kernel matern52`".into());
                    }
                    _ => return Err(wrong.into()),
                },
                _ => return Err(wrong.into()),
            };
            options.surrogate = Some(surrogate);
        }
        "failures" => {
            options.failures = Some(
                match v {
                    OptionValue::Name(n) => FailureModel::from_name(n),
                    _ => None,
                }
                .ok_or("`failures` is `auto`, `feasibility_model` or `impute_worst`")?,
            );
        }
        "model" => {
            options.model = Some(
                match v {
                    OptionValue::Name(n) => ModelKind::from_name(n),
                    _ => None,
                }
                .ok_or("`model` is `composite` or `score`")?,
            );
        }
        "prior_mean" => {
            let OptionValue::Name(n) = v else {
                return Err(
                    "`prior_mean` is the name of a `fit` block, e.g. `prior_mean growth`".into(),
                );
            };
            options.prior_mean = Some(PriorMeanOption {
                name: n.clone(),
                span: Span::synthetic(crate::source::Synthetic::Default),
                fit: None,
            });
        }
        "beta" => options.beta = Some(num(1e-6, 1e6, "a positive number")?),
        "initial_step" => options.initial_step = Some(num(1e-6, 1.0, fraction)?),
        "initial_radius" => options.initial_radius = Some(num(1e-6, 1.0, fraction)?),
        "sigma" => options.sigma = Some(num(1e-6, 1.0, fraction)?),
        "exploration" => options.exploration = Some(num(0.0, 0.99, "a share between 0 and 0.99")?),
        "population" | "points" => {
            let n = match v {
                OptionValue::Number(x)
                    if x.fract() == 0.0 && (2.0..=MAX_DESIGN_POINTS as f64).contains(x) =>
                {
                    *x as u64
                }
                _ => return Err(format!("`{name}` is a whole number of at least 2")),
            };
            if name == "points" {
                options.points = Some(n);
            } else {
                options.population = Some(n);
            }
        }
        // `OPTIONS` lists every option a strategy takes; the caller refused the rest.
        other => return Err(format!("`{other}` is not an option")),
    }
    Ok(())
}

/// Warnings about desirability ramps: one given where nothing reads it, or one missing where the
/// score would then move with the data. `ramps` holds, per `maximize`/`minimize` objective, its
/// name, its goal's keyword, where to point (the range, or the objective without one) and whether
/// it has a range.
fn ramp_warnings(
    ramps: &[(String, &str, Option<Span>, bool)],
    method: &Combine,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (name, verb, at, given) in ramps {
        let Some(at) = *at else { continue };
        match (method, given) {
            (Combine::Desirability, false) => out.push(
                Diagnostic::warning(
                    code::OBSERVED_RAMP,
                    format!("the desirability of `{name}` ramps over the values observed so far"),
                )
                .at(at)
                .help(format!(
                    "give the range that runs from undesirable to fully desirable, `{verb} {name} in LOW .. HIGH`, so that a score means the same in every run of the campaign"
                )),
            ),
            (Combine::Desirability, true) => {}
            (other, true) => out.push(
                Diagnostic::warning(
                    code::UNUSED_RAMP,
                    format!(
                        "the range of `{name}` only shapes desirability, but {}",
                        match other {
                            Combine::WeightedSum => "the objectives combine by weighted sum",
                            Combine::Pareto => "the objectives form a Pareto front",
                            _ => "it is the only objective",
                        }
                    ),
                )
                .at(at),
            ),
            (_, false) => {}
        }
    }
    out
}

/// The level count of a composition's grid (`mix 5`); a list is refused, since its parts'
/// values must sum to the total.
fn composition_levels(l: &ast::Level) -> Result<u64, Diagnostic> {
    match &l.values {
        ast::LevelValues::Count(n) if (2..=10_000).contains(&n.value) => Ok(n.value),
        ast::LevelValues::Count(n) => Err(Diagnostic::error(
            code::LEVEL_COUNT,
            "a grid needs 2 to 10000 levels per variable",
        )
        .at(n.span)),
        ast::LevelValues::List(_, span) => Err(Diagnostic::error(
            code::LEVEL_COUNT,
            format!(
                "`{}` is a composition: its grid takes a number of levels, not a list",
                l.variable.name
            ),
        )
        .at(*span)
        .help(format!(
            "write `{} 5`: each part then takes 0, 1/4, 1/2, 3/4 and all of the total, in the combinations that sum to it",
            l.variable.name
        ))),
    }
}
