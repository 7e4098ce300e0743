//! Property tests: every strategy respects bounds, integers, categories and constraints on
//! random problems, and is deterministic for a seed.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use qdx_optimize::{
    Acquisition, BayesOptions, Combine, Domain, EvolutionOptions, FailureHandling, Goal,
    InitialDesign, InitialKind, LinearConstraint, NelderMeadOptions, Objective, Objectives,
    Observation, Outcome, Point, Relation, SnobfitOptions, StrategySpec, Variable, build,
    check_support,
};

/// A random mixed domain: `nc` continuous (optionally a composition over the first three),
/// an integer, maybe a categorical, a linear inequality and a non-linear constraint.
fn domain(nc: usize, composition: bool, categorical: bool, log: bool) -> Domain {
    let mut vars: Vec<Variable> = (0..nc)
        .map(|i| {
            if log && i == nc - 1 && !composition {
                Variable::log_continuous(&format!("x{i}"), 1e-3, 10.0)
            } else {
                Variable::continuous(&format!("x{i}"), 0.0, 1.0)
            }
        })
        .collect();
    vars.push(Variable::integer("n", -2, 3));
    if categorical {
        vars.push(Variable::categorical("c", &["a", "b", "c"]));
    }
    let mut d = Domain::new(vars).unwrap();
    if composition {
        d = d.with_composition(vec![0, 1, 2], 1.0).unwrap();
    }
    d.with_linear(LinearConstraint {
        terms: vec![(0, 1.0), (nc, 0.1)],
        relation: Relation::LessEq,
        rhs: 0.9,
    })
    .unwrap()
    .with_nonlinear("ring", Arc::new(|x: &[f64]| x[1] * x[1] - 0.81))
}

fn objectives() -> Objectives {
    Objectives::new(vec![Objective::new("y", Goal::Maximize)], Combine::Single).unwrap()
}

fn value(p: &Point) -> f64 {
    let x = p.as_reals();
    -x.iter()
        .enumerate()
        .map(|(i, v)| (v - 0.3 * (i as f64 % 3.0)).powi(2))
        .sum::<f64>()
}

fn specs(d: &Domain) -> Vec<StrategySpec> {
    let mut s = vec![
        StrategySpec::Random,
        StrategySpec::Sobol { n: 8 },
        StrategySpec::LatinHypercube { n: 5 },
        StrategySpec::Grid {
            levels: vec![3; d.dim()],
        },
        StrategySpec::Bayesian(BayesOptions {
            initial: InitialDesign {
                kind: InitialKind::Sobol,
                n: 3,
            },
            ..BayesOptions::for_domain(d)
        }),
        StrategySpec::Bayesian(BayesOptions {
            initial: InitialDesign {
                kind: InitialKind::LatinHypercube,
                n: 4,
            },
            acquisition: Acquisition::NoisyEi,
            failures: FailureHandling::ImputeWorst,
            ..BayesOptions::for_domain(d)
        }),
        StrategySpec::Bayesian(BayesOptions {
            acquisition: Acquisition::Ucb { beta: 2.0 },
            initial: InitialDesign {
                kind: InitialKind::Random,
                n: 2,
            },
            ..BayesOptions::for_domain(d)
        }),
        StrategySpec::NelderMead(NelderMeadOptions::default()),
        StrategySpec::Snobfit(SnobfitOptions::default()),
        StrategySpec::Evolutionary(EvolutionOptions::default()),
    ];
    s.retain(|spec| check_support(spec, d, &objectives()).is_ok());
    s
}

fn run(spec: &StrategySpec, d: &Arc<Domain>, seed: u64, rounds: usize) -> Vec<Point> {
    let mut st = build(spec, Arc::clone(d), objectives(), seed).unwrap();
    let mut all = Vec::new();
    for r in 0..rounds {
        let sug = st.ask(2, &[]).unwrap();
        let obs: Vec<Observation> = sug
            .iter()
            .enumerate()
            .map(|(k, s)| Observation {
                point: s.point.clone(),
                outcome: if (r + k) % 5 == 4 {
                    Outcome::Failed {
                        reason: "no product".into(),
                    }
                } else {
                    Outcome::Measured(BTreeMap::from([("y".to_string(), value(&s.point))]))
                },
            })
            .collect();
        all.extend(sug.into_iter().map(|s| s.point));
        st.tell(&obs).unwrap();
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    #[test]
    fn suggestions_are_feasible(nc in 3usize..5, composition: bool, categorical: bool, log: bool, seed in 0u64..1000) {
        let d = Arc::new(domain(nc, composition, categorical, log));
        for spec in specs(&d) {
            for p in run(&spec, &d, seed, 6) {
                prop_assert!(d.is_feasible(&p), "{spec:?} suggested infeasible {p:?}");
            }
        }
    }

    #[test]
    fn same_seed_same_suggestions(seed in 0u64..1000) {
        let d = Arc::new(domain(3, true, true, false));
        for spec in specs(&d) {
            prop_assert_eq!(run(&spec, &d, seed, 4), run(&spec, &d, seed, 4));
        }
    }
}
