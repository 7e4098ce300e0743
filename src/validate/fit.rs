//! `fit` blocks: kinetic models whose parameters are fitted to the campaign's observations.
//!
//! ```qdx
//! fit growth {
//!   state radius = 1 nm
//!   rate radius = k0 * exp(-Ea / (8.314 J/mol/K * temperature)) / radius
//!   parameter k0 in 1e-16 m^2/s .. 1e-8 m^2/s log
//!   parameter Ea in 20 kJ/mol .. 200 kJ/mol
//!   time residence
//!   observe size = 2 * radius
//! }
//! ```
//!
//! Invariants, once this pass has run without errors (what [`Fit`] holds):
//! - every state has one initial value and one rate, and the rate's dimension is the state's
//!   over a time: the equations balance (`qdx_units` dimensions, located errors);
//! - every parameter has increasing bounds of one dimension (positive for `log`), and its
//!   name clashes with no state, no other parameter and no name of the campaign;
//! - `time` is one expression of dimension time over the campaign's variables and derived
//!   values; every `observe` names a proxy of the campaign, once, and its expression has the
//!   proxy's dimension; there is at least one;
//! - every state is observed: it enters an `observe` expression, or the rate of a state that
//!   is (a state nothing observes cannot be fitted);
//! - expressions read the block's states and parameters as [`TExpr::Local`]: states first, in
//!   their order, then parameters (the index the fitting code fills); initial values read
//!   parameters and campaign names only, `time` campaign names only.

use qdx_units::{Dimension, Interpretation};

use super::Validator;
use super::campaign::{Fit, FitObservation, FitParameter, FitState};
use super::expr::{Scope, TExpr, Temp, Ty, Typed, Typer, describe_dimension};
use super::kinds::{display_unit, written_unit};
use super::space::SpaceScope;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::names::closest;
use crate::source::Span;
use crate::syntax::ast::{self, FitEntry, Item};

/// Names a `fit` expression may read besides the campaign's.
struct FitScope<'s, 'v, 'a> {
    space: &'s SpaceScope<'v, 'a>,
    /// `(name, type)` of each local, in [`TExpr::Local`] order; `None` where the local may not
    /// be read in this expression (a state in an initial value).
    locals: &'s [(String, Option<Ty>)],
    /// What the expression is, for "cannot be read here" messages.
    what: &'static str,
}

impl Scope for FitScope<'_, '_, '_> {
    fn path(&self, path: &ast::Path) -> Result<Typed, Diagnostic> {
        let dotted = path.dotted();
        if let Some(i) = self.locals.iter().position(|(n, _)| *n == dotted) {
            return match self.locals.get(i).and_then(|(_, t)| *t) {
                Some(ty) => Ok(Typed::new(TExpr::Local(i), ty, path.span)),
                None => Err(Diagnostic::error(
                    code::FIT,
                    format!("{} cannot read the state `{dotted}`", self.what),
                )
                .at(path.span)
                .help("an initial value is a constant, a parameter or a campaign value; a `time` reads the campaign's values only")),
            };
        }
        self.space.path(path).map_err(|d| {
            if d.code != code::UNKNOWN_NAME || path.segments.len() != 1 {
                return d;
            }
            let mut known: Vec<String> = self.locals.iter().map(|(n, _)| n.clone()).collect();
            known.extend(self.space.v.variables.iter().map(|x| x.name.clone()));
            known.extend(self.space.v.derived.iter().map(|x| x.name.clone()));
            known.extend(self.space.v.parameters.keys().cloned());
            let d = Diagnostic::error(code::UNKNOWN_NAME, format!("unknown name `{dotted}`"))
                .label(
                    path.span,
                    "not a state or parameter of this fit, nor a variable, parameter or derived value",
                );
            match closest(&dotted, known.iter().map(String::as_str)) {
                Some(s) => d.did_you_mean(path.span, s),
                None => d,
            }
        })
    }

    fn call(
        &self,
        callee: &ast::Path,
        args: &[ast::Argument],
        span: Span,
        typer: &Typer<'_>,
    ) -> Result<Typed, Diagnostic> {
        self.space.call(callee, args, span, typer)
    }
}

fn ty_of(dim: Dimension) -> Ty {
    Ty {
        dim,
        temp: if dim == Dimension::TEMPERATURE {
            Temp::Absolute
        } else {
            Temp::No
        },
        bare: false,
    }
}

fn units_error(span: Span, message: String, label: String) -> Diagnostic {
    Diagnostic::error(code::FIT_UNITS, message).label(span, label)
}

impl Validator<'_> {
    /// Checks every `fit` block (see the module doc); the valid ones become [`Fit`]s.
    pub(super) fn fits(&mut self) -> Vec<Fit> {
        let blocks: Vec<&ast::Fit> = self.items.of(|i| match i {
            Item::Fit(f) => Some(f),
            _ => None,
        });
        let mut out = Vec::new();
        let mut names: Vec<(String, Span)> = Vec::new();
        for b in blocks {
            if let Some((_, first)) = names.iter().find(|(n, _)| *n == b.name.name) {
                let first = *first;
                self.error(
                    Diagnostic::error(
                        code::FIT_TWICE,
                        format!("the fit `{}` is declared twice", b.name.name),
                    )
                    .label(b.name.span, "declared again here")
                    .label(first, "first declared here")
                    .help(
                        "the bundle writes each fit to `fit/<name>.json`: give each its own name",
                    ),
                );
                continue;
            }
            names.push((b.name.name.clone(), b.name.span));
            let (fit, diags) = self.fit_block(b);
            for d in diags {
                self.error(d);
            }
            out.extend(fit);
        }
        out
    }

    fn fit_block(&self, b: &ast::Fit) -> (Option<Fit>, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let space = SpaceScope {
            v: self,
            later: &[],
        };
        // Names: each state and parameter once, clashing with nothing of the campaign.
        let mut seen: Vec<(String, Span)> = Vec::new();
        let mut declare = |name: &ast::Ident, what: &str, diags: &mut Vec<Diagnostic>| -> bool {
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name.name) {
                diags.push(
                    Diagnostic::error(
                        code::FIT_TWICE,
                        format!(
                            "`{}` is declared twice in the fit `{}`",
                            name.name, b.name.name
                        ),
                    )
                    .label(name.span, format!("declared again here, as a {what}"))
                    .label(*first, "first declared here"),
                );
                return false;
            }
            let campaign = self.variables.iter().any(|v| v.name == name.name)
                || self.derived.iter().any(|d| d.name == name.name)
                || self.parameters.contains_key(&name.name);
            if campaign {
                diags.push(
                    Diagnostic::error(code::FIT_TWICE, format!("the {what} `{}` has the name of a value of the campaign", name.name))
                        .at(name.span)
                        .help("a fit's states and parameters are its own: name them apart from the campaign's variables, parameters and derived values"),
                );
                return false;
            }
            seen.push((name.name.clone(), name.span));
            true
        };
        // States and parameters first: every expression may refer to any of them.
        let mut states: Vec<(&ast::Ident, &ast::Expr)> = Vec::new();
        let mut params: Vec<(&ast::Ident, &ast::Range, bool, Span)> = Vec::new();
        for e in &b.entries {
            match e {
                FitEntry::State { name, initial, .. } if declare(name, "state", &mut diags) => {
                    states.push((name, initial));
                }
                FitEntry::Parameter {
                    name,
                    range,
                    log,
                    span,
                } if declare(name, "parameter", &mut diags) => {
                    params.push((name, range, *log, *span));
                }
                _ => {}
            }
        }
        // Parameters: bounds of one dimension, increasing, positive on a log scale.
        let mut parameters = Vec::new();
        for (name, range, log, span) in &params {
            let typer = Typer { scope: &space };
            let (lo, hi) = match (typer.expr(&range.lo), typer.expr(&range.hi)) {
                (Ok(lo), Ok(hi)) => (lo.as_difference(), hi.as_difference()),
                (lo, hi) => {
                    diags.extend(lo.err());
                    diags.extend(hi.err());
                    continue;
                }
            };
            let (Some(lo_si), Some(hi_si)) = (lo.expr.as_const(), hi.expr.as_const()) else {
                diags.push(
                    Diagnostic::error(code::FIT_BOUNDS, format!("the bounds of `{}` must be constants", name.name))
                        .at(range.span)
                        .help("write them as numbers with units, e.g. `parameter Ea in 20 kJ/mol .. 200 kJ/mol`"),
                );
                continue;
            };
            if lo.ty.dim != hi.ty.dim && !(lo.ty.bare && lo_si == 0.0) {
                diags.push(units_error(
                    range.span,
                    format!("the bounds of `{}` have different dimensions", name.name),
                    format!("{} .. {}", lo.ty.describe(), hi.ty.describe()),
                ));
                continue;
            }
            if lo_si >= hi_si || (*log && lo_si <= 0.0) {
                let why = if *log && lo_si <= 0.0 {
                    "a parameter searched on a log scale needs positive bounds"
                } else {
                    "the low bound must be below the high one"
                };
                diags.push(
                    Diagnostic::error(
                        code::FIT_BOUNDS,
                        format!(
                            "the bounds of `{}` are not a range it can be fitted in",
                            name.name
                        ),
                    )
                    .label(range.span, why),
                );
                continue;
            }
            parameters.push(FitParameter {
                name: name.name.clone(),
                lo: lo_si,
                hi: hi_si,
                log: *log,
                dimension: hi.ty.dim,
                unit: display_unit(
                    written_unit(&range.hi),
                    hi.ty.dim,
                    Interpretation::Difference,
                    hi_si,
                ),
                span: *span,
            });
        }
        if params.len() != parameters.len() {
            return (None, diags);
        }
        // States: the dimension of the initial value (which reads parameters, not states).
        let hidden: Vec<(String, Option<Ty>)> = states
            .iter()
            .map(|(n, _)| (n.name.clone(), None))
            .chain(
                parameters
                    .iter()
                    .map(|p| (p.name.clone(), Some(ty_of(p.dimension)))),
            )
            .collect();
        let init_scope = FitScope {
            space: &space,
            locals: &hidden,
            what: "an initial value",
        };
        let mut fit_states = Vec::new();
        for (name, initial) in &states {
            match (Typer { scope: &init_scope }).expr(initial) {
                Ok(t) => {
                    let t = t.as_point();
                    fit_states.push(FitState {
                        name: name.name.clone(),
                        dimension: t.ty.dim,
                        unit: display_unit(
                            written_unit(initial),
                            t.ty.dim,
                            Interpretation::Absolute,
                            t.expr.as_const().unwrap_or(1.0),
                        ),
                        initial: t.expr,
                        rate: TExpr::Const(f64::NAN),
                        span: name.span,
                    });
                }
                Err(d) => diags.push(d),
            }
        }
        if fit_states.len() != states.len() {
            return (None, diags);
        }
        let locals: Vec<(String, Option<Ty>)> = fit_states
            .iter()
            .map(|s| (s.name.clone(), Some(ty_of(s.dimension))))
            .chain(
                parameters
                    .iter()
                    .map(|p| (p.name.clone(), Some(ty_of(p.dimension)))),
            )
            .collect();
        let scope = FitScope {
            space: &space,
            locals: &locals,
            what: "this expression",
        };
        let typer = Typer { scope: &scope };
        let mut rated: Vec<Option<Span>> = vec![None; fit_states.len()];
        let mut time: Option<(TExpr, Span)> = None;
        let mut observations: Vec<FitObservation> = Vec::new();
        for e in &b.entries {
            match e {
                FitEntry::Rate { state, value, span } => {
                    let Some(i) = fit_states.iter().position(|s| s.name == state.name) else {
                        let d = Diagnostic::error(
                            code::FIT_UNKNOWN_STATE,
                            format!(
                                "`{}` is not a state of the fit `{}`",
                                state.name, b.name.name
                            ),
                        )
                        .label(state.span, "no `state` line declares it");
                        let d = match closest(
                            &state.name,
                            fit_states.iter().map(|s| s.name.as_str()),
                        ) {
                            Some(s) => d.did_you_mean(state.span, s),
                            None => d.help(format!(
                                "declare it first: `state {} = <its value at time zero>`",
                                state.name
                            )),
                        };
                        diags.push(d);
                        continue;
                    };
                    if let Some(first) = rated.get(i).copied().flatten() {
                        diags.push(
                            Diagnostic::error(
                                code::FIT_TWICE,
                                format!("the rate of `{}` is given twice", state.name),
                            )
                            .label(*span, "given again here")
                            .label(first, "first given here"),
                        );
                        continue;
                    }
                    if let Some(r) = rated.get_mut(i) {
                        *r = Some(*span);
                    }
                    let t = match typer.expr(value) {
                        Ok(t) => t.as_difference(),
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    };
                    let Some(s) = fit_states.get_mut(i) else {
                        continue;
                    };
                    let want = s.dimension.div(Dimension::TIME);
                    if want.as_ref().ok() != Some(&t.ty.dim) {
                        let want = want.map_or_else(|_| "?".to_owned(), describe_dimension);
                        diags.push(
                            units_error(
                                value.span,
                                format!("the rate of `{}` does not balance: it must be {} (the state's unit per time)", s.name, want),
                                format!("this is {}", t.ty.describe()),
                            )
                            .label(s.span, format!("`{}` is {}", s.name, describe_dimension(s.dimension))),
                        );
                        continue;
                    }
                    s.rate = t.expr;
                }
                FitEntry::Time { value, span } => {
                    if let Some((_, first)) = &time {
                        diags.push(
                            Diagnostic::error(code::FIT_TWICE, "the fit's time is given twice")
                                .label(*span, "given again here")
                                .label(*first, "first given here"),
                        );
                        continue;
                    }
                    let time_scope = FitScope {
                        space: &space,
                        locals: &hidden
                            .iter()
                            .map(|(n, _)| (n.clone(), None))
                            .collect::<Vec<_>>(),
                        what: "the fit's time",
                    };
                    match (Typer { scope: &time_scope }).expr(value) {
                        Ok(t) if t.ty.dim == Dimension::TIME => time = Some((t.expr, *span)),
                        Ok(t) => diags.push(units_error(
                            value.span,
                            "the fit's `time` must be a time: how long each experiment's equations run".into(),
                            format!("this is {}", t.ty.describe()),
                        )),
                        Err(d) => diags.push(d),
                    }
                    // Kept so that a later `time` line is reported as repeated.
                    if time.is_none() {
                        time = Some((TExpr::Const(f64::NAN), *span));
                    }
                }
                FitEntry::Observe { proxy, value, span } => {
                    let Some(id) = self.proxies.iter().position(|p| p.name == proxy.name) else {
                        let d = Diagnostic::error(
                            code::FIT_UNKNOWN_PROXY,
                            format!("`{}` is not a proxy of the campaign", proxy.name),
                        )
                        .label(proxy.span, "a fit observes proxies the campaign measures");
                        let d = match closest(
                            &proxy.name,
                            self.proxies.iter().map(|p| p.name.as_str()),
                        ) {
                            Some(s) => d.did_you_mean(proxy.span, s),
                            None => d,
                        };
                        diags.push(d);
                        continue;
                    };
                    if let Some(first) = observations.iter().find(|o| o.proxy == id) {
                        diags.push(
                            Diagnostic::error(
                                code::FIT_TWICE,
                                format!("`{}` is observed twice", proxy.name),
                            )
                            .label(*span, "again here")
                            .label(first.span, "first here"),
                        );
                        continue;
                    }
                    let t = match typer.expr(value) {
                        Ok(t) => t.as_point(),
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    };
                    let Some(p) = self.proxies.get(id) else {
                        continue;
                    };
                    if t.ty.dim != p.dimension {
                        diags.push(units_error(
                            value.span,
                            format!(
                                "the model of `{}` does not balance: the proxy is {}",
                                proxy.name,
                                describe_dimension(p.dimension)
                            ),
                            format!("this is {}", t.ty.describe()),
                        ));
                        continue;
                    }
                    observations.push(FitObservation {
                        proxy: id,
                        expr: t.expr,
                        span: *span,
                    });
                }
                FitEntry::State { .. } | FitEntry::Parameter { .. } => {}
            }
        }
        for (s, r) in fit_states.iter().zip(&rated) {
            if r.is_none() {
                diags.push(
                    Diagnostic::error(
                        code::FIT_INCOMPLETE,
                        format!("the state `{}` has no rate", s.name),
                    )
                    .at(s.span)
                    .help(format!(
                        "say how it changes in time: `rate {} = <expression>`",
                        s.name
                    )),
                );
            }
        }
        let missing = |what: &str, example: &str| {
            Diagnostic::error(
                code::FIT_INCOMPLETE,
                format!("the fit `{}` has no {what}", b.name.name),
            )
            .at(b.name.span)
            .help(example.to_owned())
        };
        if parameters.is_empty() {
            diags.push(missing(
                "parameter to fit",
                "declare one with its bounds: `parameter k in 1e-3 1/s .. 10 1/s log`",
            ));
        }
        if observations.is_empty()
            && !diags
                .iter()
                .any(|d| d.code == code::FIT_UNKNOWN_PROXY || d.code == code::FIT_UNITS)
        {
            diags.push(missing("observation", "say which proxy the model explains: `observe exciton = <expression of the states>`"));
        }
        if time.is_none() && !fit_states.is_empty() {
            diags.push(missing(
                "`time`",
                "say how long each experiment's equations run: `time residence`",
            ));
        }
        // Every state observed, directly or through the rate of an observed state.
        let n = fit_states.len();
        let mut observed = vec![false; n];
        let mut stack: Vec<usize> = Vec::new();
        for o in &observations {
            o.expr.locals(&mut stack);
        }
        while let Some(i) = stack.pop() {
            if let Some(seen) = observed.get_mut(i)
                && !*seen
            {
                *seen = true;
                if let Some(s) = fit_states.get(i) {
                    s.rate.locals(&mut stack);
                }
            }
        }
        if !observations.is_empty() {
            for (s, seen) in fit_states.iter().zip(&observed) {
                if !seen {
                    diags.push(
                        Diagnostic::error(code::FIT_UNOBSERVED, format!("the state `{}` is never observed", s.name))
                            .at(s.span)
                            .help("no `observe` line reads it, nor the rate of a state one reads: the data cannot tell anything about it"),
                    );
                }
            }
        }
        if !diags.is_empty() {
            return (None, diags);
        }
        let Some((time, _)) = time.or_else(|| {
            fit_states
                .is_empty()
                .then_some((TExpr::Const(0.0), b.name.span))
        }) else {
            return (None, diags);
        };
        (
            Some(Fit {
                name: b.name.name.clone(),
                states: fit_states,
                parameters,
                time,
                observations,
                span: b.span,
            }),
            diags,
        )
    }
}

impl Validator<'_> {
    /// `optimizer bayesian { prior_mean <fit> }`: the fit exists and observes a proxy an
    /// objective reads, and the objectives have a combined score (not a map, not a Pareto
    /// front); `optimizer()` checked that the options keep the composite model (see
    /// [`super::campaign::PriorMeanOption`]). On success the option holds the fit's index.
    pub(super) fn prior_mean_check(&mut self, fits: &[Fit]) {
        let Some(config) = self.optimizer.as_ref() else {
            return;
        };
        let Some(option) = config.options.prior_mean.clone() else {
            return;
        };
        let at = option.span;
        let Some(index) = fits.iter().position(|f| f.name == option.name) else {
            let written: Vec<String> = self
                .items
                .of(|i| match i {
                    Item::Fit(f) => Some(f),
                    _ => None,
                })
                .iter()
                .map(|f| f.name.name.clone())
                .collect();
            // A fit with errors of its own is reported where it is.
            if written.contains(&option.name) {
                return;
            }
            let d = Diagnostic::error(
                code::PRIOR_MEAN_UNKNOWN_FIT,
                format!("no fit named `{}`", option.name),
            )
            .label(at, "a prior mean is the model of a `fit` block");
            let d = match closest(&option.name, written.iter().map(String::as_str)) {
                Some(s) => d.did_you_mean(at, s),
                None if written.is_empty() => d.help("declare the kinetic model in a `fit` block (`fit growth { … observe exciton = … }`) and name it here"),
                None => d.help(format!("the campaign's fits: {}", written.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))),
            };
            self.error(d);
            return;
        };
        let Some(fit) = fits.get(index) else { return };
        let mut errors = Vec::new();
        if let Some(objectives) = &self.objectives {
            let read: Vec<ProxyIdName> = objectives
                .list
                .iter()
                .map(|o| ProxyIdName(o.proxy, o.name.clone()))
                .collect();
            if objectives.map.is_some() {
                errors.push(
                    Diagnostic::error(code::PRIOR_MEAN, "a map takes no prior mean")
                        .at(at)
                        .help(
                            "a map models the mapped proxy itself with one GP; remove `prior_mean`",
                        ),
                );
            } else if objectives.combine == super::campaign::Combine::Pareto {
                errors.push(
                    Diagnostic::error(code::PRIOR_MEAN, "a Pareto front takes no prior mean")
                        .at(at)
                        .help("a prior mean enters the composite model (one GP per proxy, the combined score applied to their predictions), and a Pareto front has no combined score; combine the objectives by `desirability` or `weighted_sum`, or remove `prior_mean`"),
                );
            } else if !read.is_empty()
                && !fit
                    .observations
                    .iter()
                    .any(|o| read.iter().any(|r| r.0 == o.proxy))
            {
                let observed: Vec<String> = fit
                    .observations
                    .iter()
                    .filter_map(|o| self.proxies.get(o.proxy))
                    .map(|p| format!("`{}`", p.name))
                    .collect();
                errors.push(
                    Diagnostic::error(
                        code::PRIOR_MEAN,
                        format!(
                            "the fit `{}` observes no proxy the objectives read",
                            fit.name
                        ),
                    )
                    .label(at, "its model would be the prior mean of no GP")
                    .label(fit.span, format!("it observes {}", observed.join(", ")))
                    .help(format!(
                        "the objectives read {}: observe one of them in the fit",
                        read.iter()
                            .map(|r| format!("`{}`", r.1))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
            }
        }
        if errors.is_empty() {
            if let Some(p) = self
                .optimizer
                .as_mut()
                .and_then(|c| c.options.prior_mean.as_mut())
            {
                p.fit = Some(index);
            }
        } else {
            for d in errors {
                self.error(d);
            }
        }
    }
}

/// An objective's proxy and name.
struct ProxyIdName(usize, String);
