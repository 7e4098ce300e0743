//! Runs an example campaign on the simulated lab with a chosen optimizer and prints what every
//! experiment scored, for the side-by-side benchmark in `bench/optimize/run_campaigns.py`.
//!
//! ```text
//! cargo run --release --example campaign_bench -- CAMPAIGN --method M --seed S [--budget N]
//! ```
//!
//! Methods: `native` (the campaign's own `optimizer` block), `bayesian` (the defaults: since
//! the composite model became the default, the same as `bayesian_composite`),
//! `bayesian_composite` (one GP per proxy, `model composite`), `bayesian_score` (one GP of the
//! combined score, `model score`: the default before), `bayesian_impute` (`failures
//! impute_worst`, which always models the score), `bayesian_feasibility` (`failures
//! feasibility_model` with the default composite model; the default is `failures auto`),
//! `bayesian_extra_trees` and
//! `bayesian_nn_ensemble` (`surrogate extra_trees` / `nn_ensemble` of the score),
//! `bayesian_composite_extra_trees` and `bayesian_composite_nn_ensemble` (one of them per
//! proxy), `snobfit`,
//! `nelder_mead`, `evolutionary`, `random`, `sobol` (a planned design of the budget's size,
//! in the planner's order), and `external`: the suggestions come from another process over
//! standard input and output (one JSON object per line), so the Python peers run through the
//! very same runtime, simulated lab, measurements and proxies as qdx's own strategies:
//!
//! ```text
//! qdx → {"variables": [{"name", "kind": "float", "lo", "hi"}, …]}   (SI units)
//! qdx → {"ask": true}              peer → {"x": [v1, v2, …]}
//! qdx → {"infeasible": true}       (the point breaks a constraint; no experiment ran; ask again)
//! qdx → {"score": s | null}        (after the experiment; null = failed)
//! qdx → {"result": {…}}            (the run is over)
//! ```
//!
//! What is held equal for every method, so the traces compare:
//! - the campaign's seed is `--seed` (it seeds the simulator's noise and qdx's optimizer);
//! - batch 1; the experiment budget is `--budget` (default: the campaign's); the reagent and time
//!   budgets and the stop condition are dropped, so every method runs the full budget;
//! - the score is the campaign's combined objective with *fixed* desirability ranges: each
//!   `maximize`/`minimize` ramp spans the values seen over a 256-point Sobol reference run of
//!   the same simulated lab (seed 0), in place of the campaign's own range (or, where it gives
//!   none, of the values observed so far, which differ between runs). The range comes from the
//!   lab, not from the file, so the recorded results stay comparable when an example's range is
//!   edited. The same fixed score is what qdx's strategies optimise and what the peers are told.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use qdx::record::Experiment;
use qdx::runtime::RunOptions;
use qdx::validate::campaign::{Campaign, Strategy};
use qdx_optimize as opt;

const REFERENCE_POINTS: u64 = 256;

struct Args {
    campaign: PathBuf,
    method: String,
    seed: u64,
    budget: Option<u64>,
    keep: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut campaign = None;
    let mut method = "native".to_owned();
    let mut seed = 0;
    let mut budget = None;
    let mut keep = None;
    while let Some(a) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match a.as_str() {
            "--method" => method = value("--method")?,
            "--seed" => {
                seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--budget" => {
                budget = Some(
                    value("--budget")?
                        .parse()
                        .map_err(|e| format!("--budget: {e}"))?,
                )
            }
            "--keep" => keep = Some(PathBuf::from(value("--keep")?)),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s => campaign = Some(PathBuf::from(s)),
        }
    }
    Ok(Args {
        campaign: campaign.ok_or("usage: campaign_bench CAMPAIGN --method M --seed S")?,
        method,
        seed,
        budget,
        keep,
    })
}

fn load(path: &Path) -> Result<Campaign, String> {
    let display = path.to_string_lossy().replace('\\', "/");
    let loaded = qdx::load::load(&qdx::world::DiskWorld, path, &display);
    let checked = qdx::validate::validate(&loaded, &qdx::world::DiskWorld);
    let text = qdx::diagnostic::render_all(
        &checked.diagnostics,
        &checked.sources,
        qdx::diagnostic::Style::Plain,
    );
    checked.campaign.ok_or(text)
}

/// The campaign as every method runs it (see the module docs).
fn benchmark_campaign(mut c: Campaign, seed: u64, budget: Option<u64>) -> Campaign {
    c.seed = seed;
    c.optimizer.batch = 1;
    if let Some(n) = budget {
        c.budget.experiments = Some(n);
    }
    c.budget.reagent_total = None;
    c.budget.reagent_per_stock.clear();
    c.budget.time = None;
    c.objectives.stop = None;
    // The optimizer's inputs read the budget and the optimizer block: build them again.
    rebuilt(c)
}

/// The campaign with its optimizer inputs built again from its changed sections.
fn rebuilt(mut c: Campaign) -> Campaign {
    if let Err(e) = c.rebuild_search() {
        panic!("the benchmark changed the campaign into one the optimizer cannot work on: {e}");
    }
    c
}

/// The campaign with another strategy: its options and initial design are the strategy's
/// defaults (the campaign's options belong to its own strategy).
fn with_strategy(mut c: Campaign, strategy: Strategy) -> Campaign {
    if c.optimizer.strategy != strategy {
        c.optimizer.strategy = strategy;
        c.optimizer.options = Default::default();
        c.optimizer.initial = None;
    }
    rebuilt(c)
}

fn run(
    c: &Campaign,
    dir: &Path,
    strategy: Option<Box<dyn opt::Strategy>>,
) -> Result<Vec<Experiment>, String> {
    let options = RunOptions {
        progress: qdx::runtime::Progress::Off,
        sync_each: false,
        halt_after: None,
    };
    let summary = match strategy {
        Some(s) => qdx::runtime::run_simulated_with(c, dir, &options, s),
        None => qdx::runtime::run_simulated(c, dir, &options),
    }
    .map_err(|e| format!("the run failed: {e}"))?;
    if !summary.finished {
        return Err(format!("the run stopped early: {}", summary.stop_reason));
    }
    let records = qdx::journal::read(&dir.join("journal.jsonl")).map_err(|e| e.to_string())?;
    let records = qdx::journal::live(&records);
    // The finished experiments, as the bundle records them.
    Ok(qdx::record::read(c, &records)
        .into_iter()
        .filter(|e| e.outcome.is_some())
        .collect())
}

/// A finished experiment's proxy by name (`None` when it was not computed).
fn proxy(c: &Campaign, e: &Experiment, name: &str) -> Option<f64> {
    let k = c.proxy_id(name)?;
    e.outcome.as_ref()?.proxies.get(k).copied().flatten()
}

fn is_ok(e: &Experiment) -> bool {
    e.outcome.as_ref().is_some_and(|o| o.status.is_ok())
}

/// The campaign's objectives with each `maximize`/`minimize` ramp fixed to the range a Sobol
/// reference run of the simulated lab observed.
fn fixed_objectives(c: &Campaign, scratch: &Path) -> Result<opt::Objectives, String> {
    let mut objectives = c.search.objectives.clone();
    let reference = benchmark_campaign(
        with_strategy(c.clone(), Strategy::Sobol),
        0,
        Some(REFERENCE_POINTS),
    );
    let dir = scratch.join("reference");
    let experiments = run(&reference, &dir, None)?;
    for o in &mut objectives.objectives {
        if !matches!(o.goal, opt::Goal::Maximize | opt::Goal::Minimize) {
            continue;
        }
        let seen: Vec<f64> = experiments
            .iter()
            .filter(|e| is_ok(e))
            .filter_map(|e| proxy(c, e, &o.name))
            .filter(|v| v.is_finite())
            .collect();
        let lo = seen.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = seen.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if seen.is_empty() || lo >= hi {
            return Err(format!("the reference run saw no spread in `{}`", o.name));
        }
        o.range = Some((lo, hi));
    }
    Ok(objectives)
}

/// The fixed score of one observation (`None` when it failed).
fn score(objectives: &opt::Objectives, o: &opt::Observation) -> Option<f64> {
    objectives
        .score(std::slice::from_ref(o))
        .first()
        .and_then(|s| s.combined)
}

/// Suggestions from another process, over standard input and output.
struct External {
    domain: Arc<opt::Domain>,
    objectives: opt::Objectives,
    lines: std::io::Lines<std::io::BufReader<std::io::Stdin>>,
    infeasible: usize,
}

impl std::fmt::Debug for External {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("External")
    }
}

fn say(value: serde_json::Value) -> opt::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}")
        .and_then(|()| out.flush())
        .map_err(|e| opt::OptimizeError::InvalidPoint(format!("cannot write to the peer: {e}")))
}

impl External {
    fn hear(&mut self) -> opt::Result<serde_json::Value> {
        let bad = |m: String| opt::OptimizeError::InvalidPoint(m);
        let line = self
            .lines
            .next()
            .ok_or_else(|| bad("the peer closed its output".into()))?
            .map_err(|e| bad(format!("cannot read from the peer: {e}")))?;
        serde_json::from_str(&line).map_err(|e| bad(format!("the peer wrote `{line}`: {e}")))
    }
}

impl opt::Strategy for External {
    fn name(&self) -> &'static str {
        "external"
    }

    fn ask(&mut self, n: usize, _pending: &[opt::Point]) -> opt::Result<Vec<opt::Suggestion>> {
        let mut out = Vec::new();
        while out.len() < n {
            say(serde_json::json!({ "ask": true }))?;
            let answer = self.hear()?;
            let x: Vec<f64> = answer
                .get("x")
                .and_then(|x| serde_json::from_value(x.clone()).ok())
                .ok_or_else(|| {
                    opt::OptimizeError::InvalidPoint(format!(
                        "expected {{\"x\": […]}}, got {answer}"
                    ))
                })?;
            // Peers may round a bound by an ulp; a point outside the box by more is an error.
            let x: Vec<f64> = x
                .iter()
                .zip(self.domain.variables())
                .map(|(v, var)| match var {
                    opt::Variable::Continuous { lo, hi, .. } => v.clamp(*lo, *hi),
                    _ => *v,
                })
                .collect();
            let point = opt::Point(x.iter().map(|v| opt::Value::Real(*v)).collect());
            if !self.domain.is_feasible(&point) {
                self.infeasible += 1;
                if self.infeasible > 10_000 {
                    return Err(opt::OptimizeError::InvalidPoint(
                        "the peer proposed 10,000 infeasible points".into(),
                    ));
                }
                say(serde_json::json!({ "infeasible": true }))?;
                continue;
            }
            out.push(opt::Suggestion {
                point,
                explain: opt::Explanation::default(),
            });
        }
        Ok(out)
    }

    fn tell(&mut self, observations: &[opt::Observation]) -> opt::Result<()> {
        for o in observations {
            say(serde_json::json!({ "score": score(&self.objectives, o) }))?;
        }
        Ok(())
    }
}

/// Times a strategy's `ask` and `tell` (wall clock: this is a benchmark), one entry per
/// suggestion, as the peers' harness times theirs.
struct Timed {
    inner: Box<dyn opt::Strategy>,
    ms: Arc<std::sync::Mutex<Vec<f64>>>,
    pending: f64,
}

impl std::fmt::Debug for Timed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timed").finish_non_exhaustive()
    }
}

impl Timed {
    fn record(&mut self, ms: f64) {
        if let Ok(mut all) = self.ms.lock() {
            all.push(ms);
        }
    }
}

impl opt::Strategy for Timed {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn ask(&mut self, n: usize, pending: &[opt::Point]) -> opt::Result<Vec<opt::Suggestion>> {
        let t = std::time::Instant::now();
        let out = self.inner.ask(n, pending);
        self.pending += t.elapsed().as_secs_f64() * 1e3;
        out
    }

    fn tell(&mut self, observations: &[opt::Observation]) -> opt::Result<()> {
        let t = std::time::Instant::now();
        let out = self.inner.tell(observations);
        let ms = self.pending + t.elapsed().as_secs_f64() * 1e3;
        self.pending = 0.0;
        for _ in observations {
            self.record(ms / observations.len().max(1) as f64);
        }
        out
    }
}

fn main() -> ExitCode {
    match main_inner() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "campaign_bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn main_inner() -> Result<(), String> {
    let args = parse_args()?;
    let original = load(&args.campaign)?;
    let scratch = tempfile::tempdir().map_err(|e| format!("cannot make a scratch folder: {e}"))?;
    let objectives = fixed_objectives(&original, scratch.path())?;
    let base = benchmark_campaign(original, args.seed, args.budget);
    let strategy_of = |name: &str| {
        Strategy::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.clone())
    };
    let (campaign, strategy): (Campaign, Option<Box<dyn opt::Strategy>>) =
        match args.method.as_str() {
            "sobol" => (with_strategy(base, Strategy::Sobol), None),
            "external" => {
                // Any non-design strategy, so the runtime asks the optimizer it is given.
                let c = with_strategy(base, Strategy::Random);
                let domain = c.search.domain.clone();
                let mut variables = Vec::new();
                for v in domain.variables() {
                    match v {
                    opt::Variable::Continuous { name, lo, hi, .. } => variables.push(
                        serde_json::json!({ "name": name, "kind": "float", "lo": lo, "hi": hi }),
                    ),
                    _ => {
                        return Err(format!(
                            "external peers get continuous variables only; `{}` is not",
                            v.name()
                        ));
                    }
                }
                }
                say(serde_json::json!({ "variables": variables })).map_err(|e| e.to_string())?;
                let lines = std::io::BufReader::new(std::io::stdin()).lines();
                let s = External {
                    domain,
                    objectives: objectives.clone(),
                    lines,
                    infeasible: 0,
                };
                (c, Some(Box::new(s)))
            }
            m => {
                let c = if m == "native" {
                    base
                } else if let Some(rest) = m.strip_prefix("bayesian_") {
                    // `score` (one model of the combined score), `composite` (one model per
                    // proxy, the score applied to their predictions), `impute` (failures as
                    // the worst score), a surrogate (`extra_trees`, `nn_ensemble`) of the
                    // score, or a composite of surrogates (`composite_extra_trees`). A name
                    // says its model: the default changed from score to composite.
                    use qdx::validate::campaign::{FailureModel, ModelKind, SurrogateKind};
                    let mut c = with_strategy(base, Strategy::Bayesian);
                    let (model, surrogate) = match rest {
                        "score" => (ModelKind::Score, ""),
                        "impute" => {
                            c.optimizer.options.failures = Some(FailureModel::ImputeWorst);
                            (ModelKind::Score, "")
                        }
                        // The feasibility model declared (the default before `auto`), with
                        // the default composite model.
                        "feasibility" => {
                            c.optimizer.options.failures = Some(FailureModel::FeasibilityModel);
                            (ModelKind::Composite, "")
                        }
                        _ => match rest.strip_prefix("composite") {
                            Some(s) => (ModelKind::Composite, s.strip_prefix('_').unwrap_or(s)),
                            None => (ModelKind::Score, rest),
                        },
                    };
                    c.optimizer.options.model = Some(model);
                    c.optimizer.options.surrogate = match surrogate {
                        "" => None,
                        "extra_trees" => Some(SurrogateKind::ExtraTrees),
                        "nn_ensemble" => Some(SurrogateKind::NnEnsemble),
                        _ => return Err(format!("unknown method `{m}`")),
                    };
                    rebuilt(c)
                } else {
                    let s = strategy_of(m).ok_or_else(|| format!("unknown method `{m}`"))?;
                    with_strategy(base, s)
                };
                let s = opt::build(
                    &c.search.strategy,
                    c.search.domain.clone(),
                    objectives.clone(),
                    qdx::validate::strategy::optimizer_seed(c.seed),
                )
                .map_err(|e| e.to_string())?;
                // Design strategies (Sobol, Latin hypercube, grid) are planned, not asked.
                let planned = matches!(
                    c.optimizer.strategy,
                    Strategy::Sobol | Strategy::LatinHypercube | Strategy::Grid
                );
                (c, (!planned).then_some(s))
            }
        };
    let dir = args
        .keep
        .clone()
        .unwrap_or_else(|| scratch.path().join("run"));
    let timings = Arc::new(std::sync::Mutex::new(Vec::new()));
    let strategy = match strategy {
        Some(s) if args.method != "external" => Some(Box::new(Timed {
            inner: s,
            ms: timings.clone(),
            pending: 0.0,
        }) as Box<dyn opt::Strategy>),
        other => other,
    };
    let experiments = run(&campaign, &dir, strategy)?;
    let ms_per_suggestion: Vec<f64> = timings.lock().map(|t| t.clone()).unwrap_or_default();
    let scores: Vec<Option<f64>> = experiments
        .iter()
        .filter_map(|e| e.observation(&campaign))
        .map(|o| score(&objectives, &o))
        .collect();
    let ranges: BTreeMap<&str, (f64, f64)> = objectives
        .objectives
        .iter()
        .filter_map(|o| o.range.map(|r| (o.name.as_str(), r)))
        .collect();
    let result = serde_json::json!({
        "campaign": campaign.name,
        "method": args.method,
        "seed": args.seed,
        "budget": campaign.budget.experiments,
        "ranges": ranges,
        "scores": scores,
        "status": experiments
            .iter()
            .map(|e| e.outcome.as_ref().map_or("unfinished", |o| o.status.name()))
            .collect::<Vec<_>>(),
        "lab_hours": experiments
            .iter()
            .map(|e| e.ended.unwrap_or(e.started) / 3600.0)
            .collect::<Vec<_>>(),
        "values": experiments.iter().map(|e| e.point.clone()).collect::<Vec<_>>(),
        "proxies": experiments
            .iter()
            .map(|e| {
                campaign
                    .proxies
                    .iter()
                    .map(|p| (p.name.clone(), proxy(&campaign, e, &p.name)))
                    .collect::<BTreeMap<_, _>>()
            })
            .collect::<Vec<_>>(),
        "ms_per_suggestion": ms_per_suggestion,
        // Suggestions whose model imputed failures because `failures auto` chose to.
        "auto_imputed": experiments
            .iter()
            .filter(|e| e.explain["failures"]["choice"] == "impute_worst")
            .count(),
    });
    let line = if args.method == "external" {
        serde_json::json!({ "result": result })
    } else {
        result
    };
    say(line).map_err(|e| e.to_string())?;
    Ok(())
}
