//! Proving that a derived value stays within limits over the whole feasible variable box.
//!
//! Interval arithmetic alone is sound but loose (`t − t·f − t·g` forgets that the three `t` are
//! the same), so the prover bisects the box: a sub-box is *proven* when the interval enclosure
//! of the value lies within the limits, *discarded* when a constraint is certainly violated on
//! all of it, and *refuted* when a feasible point inside it gives a value outside the limits
//! (that point is reported as a witness). Every answer is sound: "holds" is a proof over
//! the whole feasible box, never a sample. When the budget of sub-boxes runs out before either
//! happens, the answer is "unknown" and the caller reports it as an error the user can fix
//! (usually by adding a constraint).

use qdx_units::Interval;

use super::campaign::{Comparison, DerivedId, VarId};
use super::expr::{Env, IntervalEnv, TExpr};

/// A feasible region: a box of variables cut by constraints and composition sums.
#[derive(Debug, Clone)]
pub struct Region<'c> {
    /// Bounds of every variable (a choice: its level indices, `0 ..= n − 1`, which a `match`
    /// reads; choices are listed in `integers`).
    pub root: Vec<Interval>,
    /// Expressions of derived values, by id.
    pub derived: &'c [TExpr],
    /// Constraints `g(x) op 0`.
    pub constraints: Vec<(TExpr, Comparison)>,
    /// Composition groups and their totals.
    pub compositions: Vec<(Vec<VarId>, f64)>,
    /// Integer and choice variables (a witness is rounded to whole numbers in them).
    pub integers: Vec<VarId>,
    /// Bounds that constraints put directly on derived values (`p1.rate >= 5 uL/min`): on the
    /// feasible region the value lies in the interval, so enclosures may be cut to it.
    pub known: Vec<(DerivedId, Interval)>,
}

/// The outcome of a proof.
#[derive(Debug, Clone, PartialEq)]
pub enum Proof {
    /// The value stays within the limits everywhere; `enclosure` bounds it.
    Holds { enclosure: Interval },
    /// At the feasible point `witness`, the value is `value`, outside the limits.
    Violated { witness: Vec<f64>, value: f64 },
    /// No point satisfies the constraints.
    Infeasible,
    /// Neither proven nor refuted within the budget.
    Unknown { enclosure: Option<Interval> },
}

/// Boxes examined before giving up.
pub const BUDGET: usize = 20_000;
/// Relative slack on limits, so values exactly at a limit (after rounding) count as inside.
const SLACK: f64 = 1e-9;

struct BoxEnv<'b> {
    vars: &'b [Interval],
    /// Variables narrowed from the box, sorted by id: a box differing in a few variables
    /// without copying all of them (a campaign may have very many).
    patch: &'b [(VarId, Interval)],
    derived: &'b [TExpr],
    known: &'b [(DerivedId, Interval)],
    depth: std::cell::Cell<usize>,
}

impl IntervalEnv for BoxEnv<'_> {
    fn var(&self, id: VarId) -> Interval {
        match self.patch.binary_search_by_key(&id, |(v, _)| *v) {
            Ok(k) => self.patch.get(k).map_or_else(Interval::entire, |(_, i)| *i),
            Err(_) => self.vars.get(id).copied().unwrap_or_else(Interval::entire),
        }
    }

    fn derived(&self, id: DerivedId) -> Result<Interval, qdx_units::IntervalError> {
        // Derived values only refer to earlier ones, so recursion is bounded by their count;
        // the guard keeps a malformed IR from recursing forever.
        let depth = self.depth.get();
        if depth > self.derived.len() + 1 {
            return Ok(Interval::entire());
        }
        self.depth.set(depth + 1);
        let r = self
            .derived
            .get(id)
            .map_or(Ok(Interval::entire()), |e| e.interval(self));
        self.depth.set(depth);
        // Cutting to a constraint's bound is sound on the feasible part of the box; a box whose
        // enclosure misses the bound entirely is infeasible and gets discarded by its constraint.
        let mut r = r?;
        for (k, bound) in self.known {
            if *k == id
                && let Some(cut) = r.intersection(bound)
            {
                r = cut;
            }
        }
        Ok(r)
    }
}

struct PointEnv<'b> {
    vars: &'b [f64],
    derived: &'b [TExpr],
}

impl Env for PointEnv<'_> {
    fn var(&self, id: VarId) -> f64 {
        self.vars.get(id).copied().unwrap_or(f64::NAN)
    }
    fn derived(&self, id: DerivedId) -> f64 {
        self.derived.get(id).map_or(f64::NAN, |e| e.eval(self))
    }
    fn proxy(&self, _: usize) -> f64 {
        f64::NAN
    }
}

fn widen(limits: Interval) -> Interval {
    let pad = |x: f64| SLACK * x.abs().max(f64::MIN_POSITIVE);
    Interval::new(
        limits.lo() - pad(limits.lo()),
        limits.hi() + pad(limits.hi()),
    )
    .unwrap_or(limits)
}

fn certainly_violated(g: Interval, op: Comparison) -> bool {
    let tol = SLACK * g.lo().abs().max(g.hi().abs()).max(f64::MIN_POSITIVE);
    match op {
        Comparison::Le | Comparison::Lt => g.lo() > tol,
        Comparison::Ge | Comparison::Gt => g.hi() < -tol,
        Comparison::Eq => g.lo() > tol || g.hi() < -tol,
    }
}

impl Region<'_> {
    /// Evaluates `e` at a point (SI values of every variable).
    pub fn eval(&self, e: &TExpr, point: &[f64]) -> f64 {
        e.eval(&PointEnv {
            vars: point,
            derived: self.derived,
        })
    }

    fn natural(&self, e: &TExpr, b: &[Interval], patch: &[(VarId, Interval)]) -> Option<Interval> {
        e.interval(&BoxEnv {
            vars: b,
            patch,
            derived: self.derived,
            known: &self.known,
            depth: std::cell::Cell::new(0),
        })
        .ok()
    }

    /// An enclosure of `e` over the box: the natural interval extension, tightened by
    /// monotonicity. Where the interval gradient shows `e` monotone in a variable over the
    /// whole box, its lower (upper) bound is reached at one end of that variable's range, so
    /// evaluating there removes the overestimation caused by repeated variables
    /// (`t − t·f − t·g`).
    fn enclose(&self, e: &TExpr, b: &[Interval]) -> Option<Interval> {
        let natural = self.natural(e, b, &[])?;
        let grad = gradient(e, b, self.derived, 0).1;
        // Only the variables `e` depends on have a slope entry; moving any other one to an end
        // of its range cannot change the value.
        let mut low_patch = Vec::new();
        let mut high_patch = Vec::new();
        for (k, g) in &grad.slopes {
            let Some(x) = b.get(*k) else {
                continue;
            };
            let (Ok(at_lo), Ok(at_hi)) = (Interval::point(x.lo()), Interval::point(x.hi())) else {
                continue;
            };
            if x.width() == 0.0 {
                continue;
            }
            if g.lo() >= 0.0 {
                low_patch.push((*k, at_lo));
                high_patch.push((*k, at_hi));
            } else if g.hi() <= 0.0 {
                low_patch.push((*k, at_hi));
                high_patch.push((*k, at_lo));
            }
        }
        if low_patch.is_empty() {
            return Some(natural);
        }
        let lo = self
            .natural(e, b, &low_patch)
            .map_or(natural.lo(), |i| i.lo().max(natural.lo()));
        let hi = self
            .natural(e, b, &high_patch)
            .map_or(natural.hi(), |i| i.hi().min(natural.hi()));
        Interval::new(lo, hi).ok().or(Some(natural))
    }

    /// True when no point of the box can be feasible.
    fn discard(&self, b: &[Interval]) -> bool {
        for (g, op) in &self.constraints {
            if let Some(gi) = self.enclose(g, b)
                && certainly_violated(gi, *op)
            {
                return true;
            }
        }
        for (members, total) in &self.compositions {
            let (lo, hi) = members.iter().fold((0.0, 0.0), |(lo, hi), m| {
                b.get(*m).map_or((lo, hi), |i| (lo + i.lo(), hi + i.hi()))
            });
            let tol = SLACK * total.abs().max(1.0);
            if lo > total + tol || hi < total - tol {
                return true;
            }
        }
        false
    }

    /// A point of the box that satisfies compositions and integers, if one is easy to find:
    /// the midpoint, with each composition rescaled to its total.
    fn candidate(&self, b: &[Interval]) -> Option<Vec<f64>> {
        let mut p: Vec<f64> = b
            .iter()
            .map(|i| {
                if i.lo().is_finite() && i.hi().is_finite() {
                    0.5 * (i.lo() + i.hi())
                } else if i.lo().is_finite() {
                    i.lo()
                } else {
                    i.hi()
                }
            })
            .collect();
        for v in &self.integers {
            if let (Some(x), Some(i)) = (p.get_mut(*v), b.get(*v)) {
                let r = x.round();
                *x = if i.contains(r) {
                    r
                } else {
                    i.lo().ceil().min(i.hi())
                };
            }
        }
        for (members, total) in &self.compositions {
            let sum: f64 = members.iter().filter_map(|m| p.get(*m)).sum();
            if sum <= 0.0 {
                return None;
            }
            for m in members {
                let (Some(x), Some(i)) = (p.get_mut(*m), b.get(*m)) else {
                    return None;
                };
                *x *= total / sum;
                if !i.contains(*x) {
                    return None;
                }
            }
        }
        Some(p)
    }

    fn feasible(&self, p: &[f64]) -> bool {
        self.constraints.iter().all(|(g, op)| {
            let v = self.eval(g, p);
            v.is_finite() && op.holds(v, 0.0)
        })
    }

    /// Proves `limits ⊇ { e(x) : x feasible }`, or finds a witness against it.
    /// The variables the value and the constraints depend on: only those are worth splitting.
    fn relevant(&self, e: &TExpr) -> Vec<bool> {
        let mut vars = Vec::new();
        let lookup = |d: DerivedId| self.derived.get(d).cloned();
        e.collect_vars(&lookup, &mut vars);
        for (g, _) in &self.constraints {
            g.collect_vars(&lookup, &mut vars);
        }
        for (members, _) in &self.compositions {
            vars.extend(members.iter().copied());
        }
        (0..self.root.len()).map(|v| vars.contains(&v)).collect()
    }

    pub fn prove_within(&self, e: &TExpr, limits: Interval) -> Proof {
        let allowed = widen(limits);
        let relevant = self.relevant(e);
        let root_widths: Vec<f64> = self.root.iter().map(|i| i.width()).collect();
        let mut stack = vec![self.root.clone()];
        let mut hull: Option<Interval> = None;
        let mut examined = 0;
        let mut undecided = false;
        while let Some(b) = stack.pop() {
            examined += 1;
            if examined > BUDGET {
                return Proof::Unknown { enclosure: hull };
            }
            if self.discard(&b) {
                continue;
            }
            let enclosure = self.enclose(e, &b);
            if let Some(f) = enclosure
                && f.is_subset_of(&allowed)
            {
                // Only proven leaves count toward the enclosure reported for the value.
                hull = Some(hull.map_or(f, |h| h.hull(&f)));
                continue;
            }
            if let Some(p) = self.candidate(&b)
                && self.feasible(&p)
            {
                let value = self.eval(e, &p);
                if !value.is_finite() || !allowed.contains(value) {
                    let (witness, value) = self.worsen(e, allowed, p, value, &relevant);
                    return Proof::Violated { witness, value };
                }
            }
            // Split the widest dimension (relative to the root box).
            let pick = b
                .iter()
                .enumerate()
                .filter(|(k, i)| {
                    relevant.get(*k).copied().unwrap_or(false)
                        && i.width() > 0.0
                        && i.width().is_finite()
                })
                .map(|(k, i)| {
                    (
                        k,
                        i.width()
                            / root_widths
                                .get(k)
                                .copied()
                                .filter(|w| *w > 0.0)
                                .unwrap_or(1.0),
                    )
                })
                .max_by(|x, y| x.1.total_cmp(&y.1).then(y.0.cmp(&x.0)));
            match pick {
                Some((k, rel)) if rel > 1e-9 => {
                    let Some(i) = b.get(k) else { continue };
                    let mid = 0.5 * (i.lo() + i.hi());
                    let (Ok(left), Ok(right)) =
                        (Interval::new(i.lo(), mid), Interval::new(mid, i.hi()))
                    else {
                        undecided = true;
                        continue;
                    };
                    let mut lb = b.clone();
                    let mut rb = b;
                    if let (Some(l), Some(r)) = (lb.get_mut(k), rb.get_mut(k)) {
                        *l = left;
                        *r = right;
                    }
                    stack.push(rb);
                    stack.push(lb);
                }
                _ => undecided = true,
            }
        }
        match (hull, undecided) {
            (_, true) => Proof::Unknown { enclosure: hull },
            (None, false) => Proof::Infeasible,
            (Some(enclosure), false) => Proof::Holds { enclosure },
        }
    }

    /// Moves a violating point toward the worst feasible violation (greedy moves of one
    /// variable at a time to an end of its range), so the message shows the real extent.
    fn worsen(
        &self,
        e: &TExpr,
        allowed: Interval,
        mut p: Vec<f64>,
        mut value: f64,
        relevant: &[bool],
    ) -> (Vec<f64>, f64) {
        let excess = |v: f64| {
            if !v.is_finite() {
                f64::INFINITY
            } else if v > allowed.hi() {
                v - allowed.hi()
            } else if v < allowed.lo() {
                allowed.lo() - v
            } else {
                0.0
            }
        };
        let composed: Vec<VarId> = self
            .compositions
            .iter()
            .flat_map(|(m, _)| m.iter().copied())
            .collect();
        for _ in 0..4 {
            let mut improved = false;
            for (k, root) in self.root.iter().enumerate() {
                if !relevant.get(k).copied().unwrap_or(false) || composed.contains(&k) {
                    continue;
                }
                for end in [root.lo(), root.hi()] {
                    if !end.is_finite() {
                        continue;
                    }
                    let mut q = p.clone();
                    if let Some(x) = q.get_mut(k) {
                        *x = end;
                    }
                    if !self.feasible(&q) {
                        continue;
                    }
                    let v = self.eval(e, &q);
                    if excess(v) > excess(value) {
                        p = q;
                        value = v;
                        improved = true;
                    }
                }
            }
            if !improved {
                break;
            }
        }
        (p, value)
    }

    /// A sound enclosure of `e` over the feasible region, tightened by a few bisections.
    pub fn enclose_value(&self, e: &TExpr, budget: usize) -> Option<Interval> {
        let mut boxes = vec![self.root.clone()];
        for _ in 0..budget.max(1) {
            // Refine the box with the widest enclosure.
            let widest = boxes
                .iter()
                .enumerate()
                .filter_map(|(k, b)| Some((k, self.enclose(e, b)?.width())))
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
            let Some((k, _)) = widest else { break };
            let b = boxes.swap_remove(k);
            let pick = b
                .iter()
                .enumerate()
                .filter(|(_, i)| i.width() > 0.0 && i.width().is_finite())
                .max_by(|x, y| x.1.width().total_cmp(&y.1.width()));
            let Some((d, i)) = pick else {
                boxes.push(b);
                break;
            };
            let mid = 0.5 * (i.lo() + i.hi());
            let (Ok(l), Ok(r)) = (Interval::new(i.lo(), mid), Interval::new(mid, i.hi())) else {
                boxes.push(b);
                break;
            };
            let mut lb = b.clone();
            let mut rb = b;
            if let (Some(x), Some(y)) = (lb.get_mut(d), rb.get_mut(d)) {
                *x = l;
                *y = r;
            }
            for nb in [lb, rb] {
                if !self.discard(&nb) {
                    boxes.push(nb);
                }
            }
        }
        boxes
            .iter()
            .filter_map(|b| self.enclose(e, b))
            .reduce(|a, b| a.hull(&b))
    }
}

/// An interval gradient: the slope in each variable listed, and `rest` in every other one (zero,
/// or the whole line once a slope could not be bounded). Sparse, so the work of the prover
/// follows the size of the expressions, not the number of variables of the campaign.
#[derive(Debug, Clone)]
struct Gradient {
    rest: Interval,
    /// Sorted by variable.
    slopes: Vec<(VarId, Interval)>,
}

impl Gradient {
    fn constant() -> Self {
        Self {
            rest: Interval::point(0.0).unwrap_or_else(|_| Interval::entire()),
            slopes: Vec::new(),
        }
    }

    fn unknown() -> Self {
        Self {
            rest: Interval::entire(),
            slopes: Vec::new(),
        }
    }

    fn map(self, f: impl Fn(Interval) -> Interval) -> Self {
        Self {
            rest: f(self.rest),
            slopes: self.slopes.into_iter().map(|(v, g)| (v, f(g))).collect(),
        }
    }

    /// `f` applied slope by slope to two gradients.
    fn zip(&self, other: &Self, f: impl Fn(Interval, Interval) -> Interval) -> Self {
        let mut slopes = Vec::with_capacity(self.slopes.len() + other.slopes.len());
        let (mut a, mut c) = (
            self.slopes.iter().peekable(),
            other.slopes.iter().peekable(),
        );
        loop {
            let next = match (a.peek(), c.peek()) {
                (Some((va, ga)), Some((vc, gc))) if va == vc => {
                    let s = (*va, f(*ga, *gc));
                    a.next();
                    c.next();
                    s
                }
                (Some((va, ga)), Some((vc, _))) if va < vc => {
                    let s = (*va, f(*ga, other.rest));
                    a.next();
                    s
                }
                (_, Some((vc, gc))) => {
                    let s = (*vc, f(self.rest, *gc));
                    c.next();
                    s
                }
                (Some((va, ga)), None) => {
                    let s = (*va, f(*ga, other.rest));
                    a.next();
                    s
                }
                (None, None) => break,
            };
            slopes.push(next);
        }
        Self {
            rest: f(self.rest, other.rest),
            slopes,
        }
    }
}

/// Interval value and interval gradient (with respect to every variable) of `e` over a box,
/// by forward-mode differentiation. Where a derivative cannot be bounded it is the whole line,
/// which only makes the monotonicity test give up: never unsound.
fn gradient(e: &TExpr, b: &[Interval], derived: &[TExpr], depth: usize) -> (Interval, Gradient) {
    let unknown = || (Interval::entire(), Gradient::unknown());
    if depth > derived.len() + 2 {
        return unknown();
    }
    match e {
        TExpr::Const(c) => (
            Interval::point(*c).unwrap_or_else(|_| Interval::entire()),
            Gradient::constant(),
        ),
        TExpr::Var(v) => {
            let mut g = Gradient::constant();
            if *v < b.len() {
                g.slopes.push((
                    *v,
                    Interval::point(1.0).unwrap_or_else(|_| Interval::entire()),
                ));
            }
            (b.get(*v).copied().unwrap_or_else(Interval::entire), g)
        }
        TExpr::Derived(d) => match derived.get(*d) {
            Some(x) => gradient(x, b, derived, depth + 1),
            None => unknown(),
        },
        TExpr::Proxy(_) | TExpr::Local(_) => unknown(),
        TExpr::Neg(a) => {
            let (v, g) = gradient(a, b, derived, depth);
            (-v, g.map(|x| -x))
        }
        TExpr::Add(a, c) | TExpr::Sub(a, c) => {
            let (va, ga) = gradient(a, b, derived, depth);
            let (vc, gc) = gradient(c, b, derived, depth);
            if matches!(e, TExpr::Add(..)) {
                (va + vc, ga.zip(&gc, |x, y| x + y))
            } else {
                (va - vc, ga.zip(&gc.map(|x| -x), |x, y| x + y))
            }
        }
        TExpr::Mul(a, c) => {
            let (va, ga) = gradient(a, b, derived, depth);
            let (vc, gc) = gradient(c, b, derived, depth);
            (
                va * vc,
                ga.map(|x| x * vc).zip(&gc.map(|x| x * va), |x, y| x + y),
            )
        }
        TExpr::Div(a, c) => {
            let (va, ga) = gradient(a, b, derived, depth);
            let (vc, gc) = gradient(c, b, derived, depth);
            let (Ok(q), Ok(inv)) = (va.div(&vc), vc.recip()) else {
                return unknown();
            };
            // d(a/c) = (da − q·dc) / c
            (q, ga.zip(&gc, |x, y| (x - q * y) * inv))
        }
        TExpr::Powi(a, k) => {
            let (va, ga) = gradient(a, b, derived, depth);
            let (Ok(v), Ok(d)) = (va.powi(*k), va.powi(*k - 1)) else {
                return unknown();
            };
            let factor = d * Interval::point(f64::from(*k)).unwrap_or_else(|_| Interval::entire());
            (v, ga.map(|x| x * factor))
        }
        TExpr::Pow(..) | TExpr::Call(..) | TExpr::Match(..) => {
            // Bounded value, unknown slope: monotonicity is not used through these (a `match`
            // is a step in its choice's level index).
            let env = BoxEnv {
                vars: b,
                patch: &[],
                derived,
                known: &[],
                depth: std::cell::Cell::new(0),
            };
            (
                e.interval(&env).unwrap_or_else(|_| Interval::entire()),
                Gradient::unknown(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(lo: f64, hi: f64) -> Interval {
        Interval::new(lo, hi).expect("valid interval")
    }

    /// `t·(1 − f − g)` with `f + g ≤ 0.9`: naive intervals say it can go negative; bisection
    /// with the constraint proves it stays positive.
    #[test]
    fn dependency_problem_is_resolved_by_bisection_and_constraints() {
        let t = TExpr::Var(0);
        let f = TExpr::Var(1);
        let g = TExpr::Var(2);
        let value = TExpr::Sub(
            Box::new(TExpr::Sub(
                Box::new(t.clone()),
                Box::new(TExpr::Mul(Box::new(t.clone()), Box::new(f.clone()))),
            )),
            Box::new(TExpr::Mul(Box::new(t), Box::new(g.clone()))),
        );
        let derived = [];
        let region = Region {
            root: vec![iv(1.0, 10.0), iv(0.0, 0.6), iv(0.0, 0.6)],
            derived: &derived,
            constraints: vec![(
                TExpr::Sub(
                    Box::new(TExpr::Add(Box::new(f), Box::new(g))),
                    Box::new(TExpr::Const(0.9)),
                ),
                Comparison::Le,
            )],
            compositions: vec![],
            integers: vec![],
            known: vec![],
        };
        match region.prove_within(&value, iv(0.05, 10.0)) {
            Proof::Holds { enclosure } => {
                assert!(enclosure.lo() >= 0.0 && enclosure.hi() <= 10.0 + 1e-6)
            }
            other => panic!("expected a proof, got {other:?}"),
        }
        // Without the constraint the value does go below 0.05: a witness is found.
        let free = Region {
            constraints: vec![],
            ..region
        };
        match free.prove_within(&value, iv(0.05, 10.0)) {
            Proof::Violated { witness, value: v } => {
                assert!(v < 0.05);
                assert_eq!(witness.len(), 3);
            }
            other => panic!("expected a witness, got {other:?}"),
        }
    }

    #[test]
    fn a_value_at_the_limit_counts_as_inside() {
        let derived = [];
        let region = Region {
            root: vec![iv(10.0, 120.0)],
            derived: &derived,
            constraints: vec![],
            compositions: vec![],
            integers: vec![],
            known: vec![],
        };
        // 250 / t over t in [10, 120] is exactly [2.0833…, 25].
        let e = TExpr::Div(Box::new(TExpr::Const(250.0)), Box::new(TExpr::Var(0)));
        assert!(matches!(
            region.prove_within(&e, iv(250.0 / 120.0, 25.0)),
            Proof::Holds { .. }
        ));
        assert!(matches!(
            region.prove_within(&e, iv(0.0, 24.9)),
            Proof::Violated { .. }
        ));
    }

    #[test]
    fn contradictory_constraints_make_the_region_infeasible() {
        let derived = [];
        let region = Region {
            root: vec![iv(0.0, 1.0)],
            derived: &derived,
            constraints: vec![(
                TExpr::Sub(Box::new(TExpr::Var(0)), Box::new(TExpr::Const(2.0))),
                Comparison::Ge,
            )],
            compositions: vec![],
            integers: vec![],
            known: vec![],
        };
        assert_eq!(
            region.prove_within(&TExpr::Var(0), iv(0.0, 1.0)),
            Proof::Infeasible
        );
    }
}
