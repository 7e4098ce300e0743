//! The one sandboxed rhai engine every qdx script runs in.
//!
//! Invariant: the engine starts from [`rhai::Engine::new_raw`] and gains only the capabilities
//! listed on [`sandboxed_engine`]; every resource limit is pinned to the values in [`LIMITS`], so
//! debug and release builds behave the same (rhai's own defaults differ between them).

use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicIteratorPackage, BasicMapPackage, BasicMathPackage,
    BasicStringPackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::{Array, Dynamic, Engine, EvalAltResult, FLOAT, INT, OptimizationLevel, Position};

/// Resource limits of the sandbox. All are enforced by rhai and reported as located errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptLimits {
    /// Operations one evaluation may perform (each expression node, loop iteration, call...).
    pub max_operations: u64,
    /// Nesting of script function calls (recursion depth).
    pub max_call_levels: usize,
    /// Nesting depth of an expression at the top level of a script.
    pub max_expr_depth: usize,
    /// Nesting depth of an expression inside a function body.
    pub max_function_expr_depth: usize,
    /// Bytes in one string.
    pub max_string_size: usize,
    /// Elements in one array (a spectrum is an array: room for long detectors).
    pub max_array_size: usize,
    /// Properties in one object map.
    pub max_map_size: usize,
    /// Variables alive in a scope at once (inputs included).
    pub max_variables: usize,
    /// Functions a script may define.
    pub max_functions: usize,
}

/// The pinned limits.
pub const LIMITS: ScriptLimits = ScriptLimits {
    max_operations: 1_000_000,
    max_call_levels: 32,
    max_expr_depth: 64,
    max_function_expr_depth: 32,
    max_string_size: 65_536,
    max_array_size: 100_000,
    max_map_size: 1_000,
    max_variables: 1_000,
    max_functions: 100,
};

/// Builds the sandboxed engine.
///
/// **What a script gets**, and nothing else:
/// - the language core: `let`/`const`, `if`/`else`, `switch`, `while`/`loop`/`for`/`do`,
///   `break`/`continue`/`return`, `throw`/`try`/`catch`, script functions (`fn`), closures
///   (`|x| x * 2`) and function pointers, object maps (`#{ a: 1 }`) and arrays;
/// - `ArithmeticPackage`: `+ - * / % **` on integers and floats (checked: integer overflow and
///   division by zero are errors), `abs`, `sign`;
/// - `LogicPackage`: comparisons, `min`, `max` (integers, floats, mixed);
/// - `BasicMathPackage`: `sqrt exp ln log log10 sin cos tan ... floor ceiling round int
///   fraction is_nan is_finite to_int to_float parse_int parse_float PI E`;
/// - `BasicStringPackage` and `MoreStringPackage`: string building, `len`, `contains`,
///   `sub_string`, `split`, `trim`, `to_string` ... (for categorical inputs);
/// - `BasicArrayPackage`: `len push pop map filter reduce sort_by index_of ...`;
/// - `BasicMapPackage`: `keys values len contains remove ...`;
/// - `BasicIteratorPackage`: `for i in 0..n`, `range(a, b, step)`;
/// - qdx helpers (registered here): `sqrt exp ln log10` also on integers, `pow(x, y)`,
///   `clamp(x, lo, hi)`, and on arrays of numbers `sum mean argmax argmin`, `trapz(x, y)`
///   (trapezoid integral) and `interp(xs, ys, x)` (linear interpolation, `xs` ascending);
/// - `data(name)`: the data file the campaign declares as `name` (`data { target
///   "data/target.csv" }`), as an object map from each column's name to its array of numbers,
///   read and checked by `qdx check` before the script runs; only the files a script was given
///   with [`crate::Script::with_data`], and a name not among them is an error
///   ([`crate::ScriptErrorKind::UnknownData`]).
///
/// **What it does not get**: no `eval` (the symbol is disabled), no `import`/`export` and no
/// modules (crate feature `no_module`), no time (`no_time`: no `timestamp`), no `sleep` and no
/// `exit` (the language-core package that holds them is not registered), no file access but
/// `data(name)`'s declared tables, no network, process or environment access (no function for
/// any of it exists), no randomness (no rand
/// package), no custom syntax (`no_custom_syntax`), no blobs or bit fields. `print` and `debug`
/// are swallowed, never written to the terminal.
///
/// **Limits** (see [`LIMITS`]): 1,000,000 operations per evaluation, 32 call levels,
/// expression depth 64 (32 inside functions), strings of 65,536 bytes, arrays of 100,000
/// elements, maps of 1,000 properties, 1,000 variables, 100 script functions. Sizes count
/// nested values (an array of arrays counts all their elements). Checked at every operation
/// while a script runs (see [`crate::BUDGET`]): a wall-clock deadline of 30 s, a total memory
/// budget of 128 MiB (all live values together, measured by [`crate::MeteredAllocator`] where
/// the binary installs it), and the [`crate::Interrupt`] flags (Ctrl-C).
#[must_use]
pub fn sandboxed_engine() -> Engine {
    let mut engine = Engine::new_raw();
    engine.register_global_module(ArithmeticPackage::new().as_shared_module());
    engine.register_global_module(LogicPackage::new().as_shared_module());
    engine.register_global_module(BasicMathPackage::new().as_shared_module());
    engine.register_global_module(BasicStringPackage::new().as_shared_module());
    engine.register_global_module(MoreStringPackage::new().as_shared_module());
    engine.register_global_module(BasicArrayPackage::new().as_shared_module());
    engine.register_global_module(BasicMapPackage::new().as_shared_module());
    engine.register_global_module(BasicIteratorPackage::new().as_shared_module());

    engine
        .set_max_operations(LIMITS.max_operations)
        .set_max_call_levels(LIMITS.max_call_levels)
        .set_max_expr_depths(LIMITS.max_expr_depth, LIMITS.max_function_expr_depth)
        .set_max_string_size(LIMITS.max_string_size)
        .set_max_array_size(LIMITS.max_array_size)
        .set_max_map_size(LIMITS.max_map_size)
        .set_max_variables(LIMITS.max_variables)
        .set_max_functions(LIMITS.max_functions);
    // Simple optimisation never calls functions at compile time.
    engine.set_optimization_level(OptimizationLevel::Simple);
    // Wall-clock deadline, total memory budget and interrupt, per evaluation (see `watch`).
    engine.on_progress(crate::watch::on_progress);
    engine.disable_symbol("eval");
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    register_helpers(&mut engine);
    engine
}

fn register_helpers(engine: &mut Engine) {
    engine
        .register_fn("sqrt", |x: INT| to_float(x).sqrt())
        .register_fn("exp", |x: INT| to_float(x).exp())
        .register_fn("ln", |x: INT| to_float(x).ln())
        .register_fn("log10", |x: INT| to_float(x).log10())
        .register_fn(
            "pow",
            |x: Dynamic, y: Dynamic| -> Result<FLOAT, Box<EvalAltResult>> {
                Ok(number("pow", &x)?.powf(number("pow", &y)?))
            },
        )
        .register_fn(
            "clamp",
            |x: Dynamic, lo: Dynamic, hi: Dynamic| -> Result<FLOAT, Box<EvalAltResult>> {
                let (x, lo, hi) = (
                    number("clamp", &x)?,
                    number("clamp", &lo)?,
                    number("clamp", &hi)?,
                );
                if lo.is_nan() || hi.is_nan() || lo > hi {
                    return Err(runtime(format!(
                        "clamp: the lower bound {lo} is above the upper bound {hi}"
                    )));
                }
                Ok(x.clamp(lo, hi))
            },
        )
        .register_fn("sum", |a: Array| -> Result<FLOAT, Box<EvalAltResult>> {
            Ok(numbers("sum", &a)?.iter().sum())
        })
        .register_fn("mean", |a: Array| -> Result<FLOAT, Box<EvalAltResult>> {
            let v = numbers("mean", &a)?;
            if v.is_empty() {
                return Err(runtime("mean of an empty array".to_owned()));
            }
            Ok(v.iter().sum::<f64>() / to_float_usize(v.len()))
        })
        .register_fn("argmax", |a: Array| -> Result<INT, Box<EvalAltResult>> {
            arg_extreme("argmax", &a, |candidate, best| candidate > best)
        })
        .register_fn("argmin", |a: Array| -> Result<INT, Box<EvalAltResult>> {
            arg_extreme("argmin", &a, |candidate, best| candidate < best)
        })
        .register_fn(
            "trapz",
            |x: Array, y: Array| -> Result<FLOAT, Box<EvalAltResult>> {
                let (x, y) = paired("trapz", &x, &y)?;
                Ok(x.windows(2)
                    .zip(y.windows(2))
                    .map(|(xs, ys)| match (xs, ys) {
                        ([x0, x1], [y0, y1]) => (x1 - x0) * (y0 + y1) / 2.0,
                        _ => 0.0,
                    })
                    .sum())
            },
        )
        .register_fn("data", |name: &str| crate::data::data(name))
        .register_fn(
            "interp",
            |xs: Array, ys: Array, x: Dynamic| -> Result<FLOAT, Box<EvalAltResult>> {
                let (xs, ys) = paired("interp", &xs, &ys)?;
                interpolate(&xs, &ys, number("interp", &x)?)
            },
        );
}

#[expect(
    clippy::cast_precision_loss,
    reason = "script integers become floats exactly as rhai's own int-float arithmetic does"
)]
fn to_float(x: INT) -> FLOAT {
    x as FLOAT
}

#[expect(
    clippy::cast_precision_loss,
    reason = "array lengths are at most LIMITS.max_array_size, far below 2^53"
)]
fn to_float_usize(n: usize) -> FLOAT {
    n as FLOAT
}

fn runtime(message: String) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(message.into(), Position::NONE))
}

fn number(function: &str, value: &Dynamic) -> Result<FLOAT, Box<EvalAltResult>> {
    if let Ok(f) = value.as_float() {
        Ok(f)
    } else if let Ok(i) = value.as_int() {
        Ok(to_float(i))
    } else {
        Err(runtime(format!(
            "{function} expects numbers, got {}",
            value.type_name()
        )))
    }
}

fn numbers(function: &str, array: &Array) -> Result<Vec<FLOAT>, Box<EvalAltResult>> {
    array.iter().map(|v| number(function, v)).collect()
}

fn paired(
    function: &str,
    x: &Array,
    y: &Array,
) -> Result<(Vec<FLOAT>, Vec<FLOAT>), Box<EvalAltResult>> {
    if x.len() != y.len() {
        return Err(runtime(format!(
            "{function}: the arrays have different lengths ({} and {})",
            x.len(),
            y.len()
        )));
    }
    Ok((numbers(function, x)?, numbers(function, y)?))
}

fn arg_extreme(
    function: &str,
    array: &Array,
    better: fn(f64, f64) -> bool,
) -> Result<INT, Box<EvalAltResult>> {
    let values = numbers(function, array)?;
    let mut best: Option<(usize, f64)> = None;
    for (i, v) in values.into_iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        if best.is_none_or(|(_, b)| better(v, b)) {
            best = Some((i, v));
        }
    }
    let (index, _) =
        best.ok_or_else(|| runtime(format!("{function} of an array without numbers")))?;
    INT::try_from(index).map_err(|_| runtime(format!("{function}: index out of range")))
}

fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> Result<FLOAT, Box<EvalAltResult>> {
    if xs
        .windows(2)
        .any(|w| matches!(w, [a, b] if a.partial_cmp(b) != Some(std::cmp::Ordering::Less)))
    {
        return Err(runtime(
            "interp: the x values must be strictly ascending".to_owned(),
        ));
    }
    let (Some(&first), Some(&last)) = (xs.first(), xs.last()) else {
        return Err(runtime("interp of empty arrays".to_owned()));
    };
    if !(first <= x && x <= last) {
        return Err(runtime(format!(
            "interp: {x} is outside the range {first} .. {last}"
        )));
    }
    // First segment whose right end is at or beyond x.
    let i = xs.partition_point(|&v| v < x);
    match (xs.get(i), ys.get(i)) {
        (Some(&x1), Some(&y1)) if x1 == x => Ok(y1),
        (Some(&x1), Some(&y1)) => match (
            i.checked_sub(1).and_then(|j| xs.get(j)),
            i.checked_sub(1).and_then(|j| ys.get(j)),
        ) {
            (Some(&x0), Some(&y0)) => Ok(y0 + (y1 - y0) * (x - x0) / (x1 - x0)),
            _ => Ok(y1),
        },
        _ => Err(runtime(format!("interp: {x} is outside the data"))),
    }
}
