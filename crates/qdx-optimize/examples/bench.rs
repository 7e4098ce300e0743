//! Benchmark runner: runs a named problem with a strategy for several seeds and prints one JSON
//! line per run (best-so-far per experiment, regret, time per suggestion), or, with `--timing`,
//! the median time per suggestion at given numbers of observations.
//!
//! ```text
//! cargo run --release -p qdx-optimize --example bench -- \
//!     --problem branin --strategy bayesian --seeds 10 --budget 30 [--data ../shared/bench-data]
//!     [--batch 1] [--failures feasibility|impute] [--initial 5] [--acquisition logei|noisyei|ucb]
//!     [--first-seed 0] [--no-warp] [--no-escape]
//! cargo run --release -p qdx-optimize --example bench -- --timing --problem hartmann6 \
//!     [--sizes 10,50,100,200] [--repeats 5]
//! ```
//!
//! Problems: branin, hartmann6, hartmann6_noisy (additive N(0, 0.1²) noise), branin_fail (Branin
//! where `x2 < 2` fails outright: no value; the failed band borders two of the three minima), and the pool problems photo_pce10,
//! crossed_barrel, suzuki_i, hplc, snar, fullerenes (rows of `<data>/olympus-<name>/data.csv`).
//! Regret is measured on the noiseless value of the best point evaluated so far.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use cpu_time::ThreadTime;
use qdx_optimize::problems::{self, PoolProblem};
use qdx_optimize::{
    Acquisition, BayesOptions, Domain, EvolutionOptions, FailureHandling, Goal, InitialDesign,
    InitialKind, NelderMeadOptions, Objective, Objectives, Observation, Outcome, Point,
    SnobfitOptions, StrategySpec, Variable, build,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Args {
    problem: String,
    strategy: String,
    seeds: u64,
    first_seed: u64,
    budget: usize,
    batch: usize,
    data: PathBuf,
    failures: FailureHandling,
    initial: Option<usize>,
    acquisition: Acquisition,
    timing: bool,
    repeats: usize,
    warp: bool,
    escape: bool,
    sizes: Vec<usize>,
}

fn parse() -> Args {
    let mut a = Args {
        problem: "branin".into(),
        strategy: "bayesian".into(),
        seeds: 10,
        first_seed: 0,
        budget: 30,
        batch: 1,
        data: PathBuf::from("../shared/bench-data"),
        failures: FailureHandling::FeasibilityModel,
        initial: None,
        acquisition: Acquisition::LogEi,
        timing: false,
        repeats: 5,
        warp: true,
        escape: true,
        sizes: vec![10, 50, 100, 200],
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--problem" => a.problem = v,
            "--strategy" => a.strategy = v,
            "--seeds" => a.seeds = v.parse().unwrap(),
            "--first-seed" => a.first_seed = v.parse().unwrap(),
            "--budget" => a.budget = v.parse().unwrap(),
            "--batch" => a.batch = v.parse().unwrap(),
            "--data" => a.data = PathBuf::from(v),
            "--initial" => a.initial = Some(v.parse().unwrap()),
            "--repeats" => a.repeats = v.parse().unwrap(),
            "--sizes" => a.sizes = v.split(',').map(|n| n.parse().unwrap()).collect(),
            "--failures" => {
                a.failures = match v.as_str() {
                    "impute" => FailureHandling::ImputeWorst,
                    "auto" => FailureHandling::Auto,
                    _ => FailureHandling::FeasibilityModel,
                }
            }
            "--acquisition" => {
                a.acquisition = match v.as_str() {
                    "noisyei" => Acquisition::NoisyEi,
                    "ucb" => Acquisition::Ucb { beta: 4.0 },
                    _ => Acquisition::LogEi,
                }
            }
            "--timing" => {
                a.timing = true;
                i += 1;
                continue;
            }
            "--no-warp" => {
                a.warp = false;
                i += 1;
                continue;
            }
            "--no-escape" => {
                a.escape = false;
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

/// Evaluation: (observed value or failure, noiseless value).
type Evaluate = Box<dyn Fn(&Point, &mut ChaCha8Rng) -> (Option<f64>, f64)>;

/// A problem: domain, evaluation (noisy value or failure, true value), optimum, goal.
struct Problem {
    domain: Domain,
    eval: Evaluate,
    optimum: f64,
    goal: Goal,
    thresholds: Vec<f64>,
}

fn analytic(name: &str) -> Problem {
    match name {
        "branin" | "branin_fail" => {
            let fail = name == "branin_fail";
            Problem {
                domain: problems::branin_domain(),
                eval: Box::new(move |p, _| {
                    let x = p.as_reals();
                    let v = problems::branin(&x);
                    if fail && x[1] < 2.0 {
                        (None, f64::INFINITY)
                    } else {
                        (Some(v), v)
                    }
                }),
                optimum: problems::BRANIN_MIN,
                goal: Goal::Minimize,
                thresholds: vec![0.01, 0.1],
            }
        }
        "hartmann6" | "hartmann6_noisy" => {
            let noisy = name == "hartmann6_noisy";
            Problem {
                domain: problems::hartmann6_domain(),
                eval: Box::new(move |p, rng| {
                    let v = problems::hartmann6(&p.as_reals());
                    let noise = if noisy { 0.1 * gauss(rng) } else { 0.0 };
                    (Some(v + noise), v)
                }),
                optimum: problems::HARTMANN6_MIN,
                goal: Goal::Minimize,
                thresholds: vec![0.05, 0.2],
            }
        }
        _ => pool_problem(name),
    }
}

fn gauss(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn data_dir() -> PathBuf {
    parse().data
}

fn pool_problem(name: &str) -> Problem {
    let c = Variable::continuous;
    let (vars, out, goal): (Vec<Variable>, &str, Goal) = match name {
        "photo_pce10" => (
            (1..=4).map(|i| c(&format!("mat_{i}"), 0.0, 1.0)).collect(),
            "degradation",
            Goal::Minimize,
        ),
        "crossed_barrel" => (
            vec![
                c("n", 6.0, 12.0),
                c("theta", 0.0, 200.0),
                c("r", 1.5, 2.5),
                c("t", 0.7, 1.4),
            ],
            "toughness",
            Goal::Maximize,
        ),
        "suzuki_i" => (
            vec![
                Variable::categorical("ligand", &["L0", "L1", "L2", "L3", "L4", "L5", "L6", "L7"]),
                c("res_time", 60.0, 600.0),
                c("temperature", 30.0, 110.0),
                c("catalyst_loading", 0.498, 2.515),
            ],
            "yield",
            Goal::Maximize,
        ),
        "hplc" => (
            vec![
                c("sample_loop", 0.0, 0.08),
                c("additional_volume", 0.0, 0.06),
                c("tubing_volume", 0.1, 0.9),
                c("sample_flow", 0.5, 2.5),
                c("push_speed", 80.0, 150.0),
                c("wait_time", 0.5, 10.0),
            ],
            "peak_area",
            Goal::Maximize,
        ),
        "snar" => (
            vec![
                c("residence_time", 0.5, 2.0),
                c("ratio", 1.0, 5.0),
                c("concentration", 0.1, 0.5),
                c("temperature", 60.0, 140.0),
            ],
            "impurity",
            Goal::Minimize,
        ),
        "fullerenes" => (
            vec![
                c("reaction_time", 3.0, 31.0),
                c("sultine", 1.5, 6.0),
                c("temperature", 100.0, 150.0),
            ],
            "product",
            Goal::Maximize,
        ),
        other => panic!("unknown problem {other}"),
    };
    let path = data_dir().join(format!("olympus-{name}")).join("data.csv");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let pool: PoolProblem = problems::read_pool(file, vars, out, goal).unwrap();
    let best = pool.best();
    let thresholds = vec![
        (pool.quantile_threshold(0.01) - best).abs(),
        (pool.quantile_threshold(0.05) - best).abs(),
    ];
    let pool2 = pool.clone();
    Problem {
        domain: pool.domain.clone(),
        eval: Box::new(move |p, _| {
            let v = pool2.value_at(p).unwrap_or(f64::NAN);
            (Some(v), v)
        }),
        optimum: best,
        goal,
        thresholds,
    }
}

fn spec(a: &Args, domain: &Domain) -> StrategySpec {
    match a.strategy.as_str() {
        "random" => StrategySpec::Random,
        "sobol" => StrategySpec::Sobol { n: a.budget },
        "lhs" => StrategySpec::LatinHypercube { n: a.budget },
        "bayesian" => {
            let mut o = BayesOptions::for_domain(domain);
            if let Some(n) = a.initial {
                o.initial = InitialDesign {
                    kind: InitialKind::Sobol,
                    n,
                };
            }
            o.failures = a.failures;
            o.acquisition = a.acquisition;
            o.batch = a.batch;
            o.output_warping = a.warp;
            o.basin_escape = a.escape;
            StrategySpec::Bayesian(o)
        }
        other => extra_spec(other, domain),
    }
}

fn extra_spec(name: &str, _domain: &Domain) -> StrategySpec {
    match name {
        "nelder_mead" => StrategySpec::NelderMead(NelderMeadOptions::default()),
        "snobfit" => StrategySpec::Snobfit(SnobfitOptions::default()),
        "cmaes" => StrategySpec::Evolutionary(EvolutionOptions::default()),
        other => panic!("unknown strategy {other}"),
    }
}

fn objectives(goal: Goal) -> Objectives {
    Objectives::single(Objective::new("y", goal))
}

fn run_once(a: &Args, problem: &Problem, seed: u64) -> String {
    let domain = Arc::new(problem.domain.clone());
    let mut strat = build(
        &spec(a, &domain),
        Arc::clone(&domain),
        objectives(problem.goal),
        seed,
    )
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xabcdef);
    let mut best_true = match problem.goal {
        Goal::Minimize => f64::INFINITY,
        _ => f64::NEG_INFINITY,
    };
    let mut best_so_far = Vec::new();
    let mut times = Vec::new();
    let mut failures = 0;
    // Suggestions whose model imputed failures because `failures auto` chose to.
    let mut auto_imputed = 0;
    while best_so_far.len() < a.budget {
        let q = a.batch.min(a.budget - best_so_far.len()).max(1);
        let t0 = Instant::now();
        let sug = strat.ask(q, &[]).unwrap();
        let dt = t0.elapsed().as_secs_f64() * 1e3 / sug.len().max(1) as f64;
        if sug.is_empty() {
            break;
        }
        let mut obs = Vec::new();
        for s in sug {
            auto_imputed += usize::from(
                s.explain
                    .failures
                    .as_ref()
                    .is_some_and(|f| f.choice == "impute_worst"),
            );
            let (noisy, truth) = (problem.eval)(&s.point, &mut rng);
            if std::env::var_os("QDX_BENCH_TRACE").is_some() {
                eprintln!(
                    "{} {:?} {:.4} basins={:?} sd={:?}",
                    best_so_far.len(),
                    s.point
                        .0
                        .iter()
                        .map(|v| (v.as_f64() * 1000.0).round() / 1000.0)
                        .collect::<Vec<_>>(),
                    truth,
                    s.explain.details.get("excluded_basins"),
                    s.explain.predicted_sd
                );
            }
            let outcome = match noisy {
                Some(v) if v.is_finite() => {
                    Outcome::Measured(BTreeMap::from([("y".to_string(), v)]))
                }
                _ => {
                    failures += 1;
                    Outcome::Failed {
                        reason: "no product".into(),
                    }
                }
            };
            if truth.is_finite() {
                best_true = match problem.goal {
                    Goal::Minimize => best_true.min(truth),
                    _ => best_true.max(truth),
                };
            }
            best_so_far.push(best_true);
            times.push(dt);
            obs.push(Observation {
                point: s.point,
                outcome,
            });
        }
        strat.tell(&obs).unwrap();
    }
    let regret: Vec<f64> = best_so_far
        .iter()
        .map(|b| (b - problem.optimum).abs())
        .collect();
    let reach: Vec<Option<usize>> = problem
        .thresholds
        .iter()
        .map(|t| regret.iter().position(|r| *r <= *t + 1e-12).map(|i| i + 1))
        .collect();
    format!(
        "{{\"problem\":\"{}\",\"strategy\":\"{}\",\"seed\":{},\"budget\":{},\"failures\":{},\"auto_imputed\":{},\"thresholds\":{:?},\"reached\":[{}],\"best_so_far\":{:?},\"regret\":{:?},\"ms_per_suggestion\":{:?}}}",
        a.problem,
        label(a),
        seed,
        a.budget,
        failures,
        auto_imputed,
        problem.thresholds,
        reach.iter().map(|r| r.map_or("null".to_string(), |v| v.to_string())).collect::<Vec<_>>().join(","),
        best_so_far.iter().map(|v| if v.is_finite() { *v } else { f64::NAN }).collect::<Vec<_>>(),
        regret,
        times.iter().map(|t| (t * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
    )
    .replace("NaN", "null")
    .replace("inf", "null")
}

fn label(a: &Args) -> String {
    let mut s = a.strategy.clone();
    if a.strategy == "bayesian" && a.failures == FailureHandling::ImputeWorst {
        s.push_str("+impute");
    }
    if a.strategy == "bayesian" && a.failures == FailureHandling::Auto {
        s.push_str("+auto");
    }
    if a.batch > 1 {
        s.push_str(&format!("+q{}", a.batch));
    }
    if a.strategy == "bayesian" {
        if a.acquisition == Acquisition::NoisyEi {
            s.push_str("+noisyei");
        }
        if let Some(n) = a.initial {
            s.push_str(&format!("+init{n}"));
        }
        if !a.warp {
            s.push_str("+nowarp");
        }
        if !a.escape {
            s.push_str("+noescape");
        }
    }
    s
}

/// Median time of one `ask(1)` after telling `n` random observations, for each `n`.
fn timing(a: &Args, problem: &Problem) {
    let domain = Arc::new(problem.domain.clone());
    for &n in &a.sizes {
        let (mut samples, mut cpu) = (Vec::new(), Vec::new());
        for r in 0..a.repeats {
            let seed = r as u64;
            let mut strat = build(
                &spec(a, &domain),
                Arc::clone(&domain),
                objectives(problem.goal),
                seed,
            )
            .unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let obs: Vec<Observation> = (0..n)
                .map(|_| {
                    let p = domain.sample_feasible(&mut rng, 1000).unwrap();
                    let (v, _) = (problem.eval)(&p, &mut rng);
                    Observation {
                        point: p,
                        outcome: Outcome::single("y", v.unwrap_or(f64::NAN)),
                    }
                })
                .collect();
            strat.tell(&obs).unwrap();
            // The first model ask pays a cold hyperparameter fit; a campaign pays that once, so
            // the steady state (warm-started fit after one more observation) is what we time.
            let s = strat.ask(1, &[]).unwrap();
            let (v, _) = (problem.eval)(&s[0].point, &mut rng);
            strat
                .tell(&[Observation {
                    point: s[0].point.clone(),
                    outcome: Outcome::single("y", v.unwrap_or(f64::NAN)),
                }])
                .unwrap();
            let (t0, c0) = (Instant::now(), ThreadTime::now());
            let _ = strat.ask(1, &[]).unwrap();
            samples.push(t0.elapsed().as_secs_f64() * 1e3);
            cpu.push(c0.elapsed().as_secs_f64() * 1e3);
        }
        samples.sort_by(|x, y| x.total_cmp(y));
        cpu.sort_by(|x, y| x.total_cmp(y));
        let med = samples[samples.len() / 2];
        println!(
            "{{\"problem\":\"{}\",\"strategy\":\"{}\",\"observations\":{},\"median_ms\":{:.3},\"min_ms\":{:.3},\"max_ms\":{:.3},\"cpu_median_ms\":{:.3}}}",
            a.problem,
            label(a),
            n,
            med,
            samples.first().copied().unwrap_or(f64::NAN),
            samples.last().copied().unwrap_or(f64::NAN),
            cpu[cpu.len() / 2]
        );
    }
}

fn main() {
    let a = parse();
    let problem = analytic(&a.problem);
    if a.timing {
        timing(&a, &problem);
        return;
    }
    for seed in a.first_seed..a.first_seed + a.seeds {
        println!("{}", run_once(&a, &problem, seed));
    }
}
