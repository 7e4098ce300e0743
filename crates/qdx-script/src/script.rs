//! Compiled scripts and the two calling shapes qdx needs: proxies and models.
//!
//! Calling convention: a script is a sequence of statements whose **last expression is the
//! result** (no trailing `;`). Its inputs are read-only variables in scope, named as the
//! campaign names them. A proxy script returns one number; a model script returns a number or
//! an object map of named numbers. Script functions (`fn`) may be defined and called; they see
//! only their parameters (rhai functions cannot read the caller's variables).
//!
//! Invariants: a [`Script`] has compiled successfully in the sandboxed engine; every evaluation
//! runs in that one engine with a fresh scope, so nothing leaks from one call to the next; every
//! failure is a [`ScriptError`] with a position when rhai or the result check can give one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use rhai::{AST, Dynamic, Engine, EvalAltResult, ParseError, ParseErrorType, Position, Scope};

use crate::data::{DataFiles, Reading, UnknownData};
use crate::engine::{LIMITS, sandboxed_engine};
use crate::error::{ScriptError, ScriptErrorKind, ScriptOrigin, ScriptPosition, locate};
use crate::inputs::Inputs;
use crate::watch::{BUDGET, Interrupt, ScriptBudget, Stop, Watch, format_bytes, format_duration};

/// The process-wide sandboxed engine; building it once keeps evaluation in microseconds.
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(sandboxed_engine)
}

/// What a model script returned.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelOutput {
    /// One number (a single objective, or an analytic benchmark function).
    Number(f64),
    /// Named numbers (`#{ peak: 601.5, plqy: 0.42 }`), in name order.
    Named(BTreeMap<String, f64>),
}

/// A script compiled once and evaluated many times.
#[derive(Debug, Clone)]
pub struct Script {
    ast: AST,
    source: Arc<str>,
    origin: ScriptOrigin,
    /// Every identifier-like word of the source. An input whose name is not among them cannot
    /// be referenced (no `eval`, no lookup by string), so it is not copied into the scope:
    /// copying a spectrum costs tens of microseconds.
    words: Arc<BTreeSet<String>>,
    /// Deadline and memory budget of each evaluation.
    budget: ScriptBudget,
    /// A flag that stops this script's evaluations, besides [`Interrupt::process`].
    interrupt: Option<Interrupt>,
    /// The data files `data(name)` reads (none by default).
    data: Option<Arc<DataFiles>>,
}

fn identifier_words(source: &str) -> BTreeSet<String> {
    source
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Keywords whose use is a sandbox violation rather than a typo.
const FORBIDDEN_WORDS: &[(&str, &str)] = &[
    ("eval", "`eval` is not available in qdx scripts"),
    (
        "import",
        "`import` is not available in qdx scripts: a script cannot load other files or modules",
    ),
    (
        "export",
        "`export` is not available in qdx scripts: a script cannot define modules",
    ),
];

impl Script {
    /// Compiles `source` in the sandboxed engine.
    ///
    /// # Errors
    /// [`ScriptErrorKind::Syntax`], [`ScriptErrorKind::Forbidden`] (`eval`, `import`, ...),
    /// [`ScriptErrorKind::TooDeep`] or [`ScriptErrorKind::TooLarge`], located in the source.
    pub fn compile(source: &str, origin: ScriptOrigin) -> Result<Script, ScriptError> {
        match engine().compile(source) {
            Ok(ast) => Ok(Script {
                ast,
                source: Arc::from(source),
                origin,
                words: Arc::new(identifier_words(source)),
                budget: BUDGET,
                interrupt: None,
                data: None,
            }),
            Err(e) => Err(parse_error(&e, source, origin)),
        }
    }

    /// The same script with another deadline and memory budget (default [`BUDGET`]).
    #[must_use]
    pub fn with_budget(mut self, budget: ScriptBudget) -> Script {
        self.budget = budget;
        self
    }

    /// The same script, also stopped when `interrupt` is set (every script is stopped by
    /// [`Interrupt::process`]).
    #[must_use]
    pub fn with_interrupt(mut self, interrupt: Interrupt) -> Script {
        self.interrupt = Some(interrupt);
        self
    }

    /// The same script, reading `files` through `data(name)`.
    #[must_use]
    pub fn with_data(mut self, files: Arc<DataFiles>) -> Script {
        self.data = Some(files);
        self
    }

    /// The deadline and memory budget of each evaluation.
    #[must_use]
    pub fn budget(&self) -> ScriptBudget {
        self.budget
    }

    /// Where the script came from.
    #[must_use]
    pub fn origin(&self) -> &ScriptOrigin {
        &self.origin
    }

    /// The script's source text.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the script may read the input `name`: false means it certainly does not (the
    /// word appears nowhere in the source), so a planner can order proxies by dependency.
    /// True is an over-approximation (the word may be in a comment or a string).
    #[must_use]
    pub fn mentions(&self, name: &str) -> bool {
        self.words.contains(name)
    }

    /// Evaluates a proxy script: the result must be a finite number (integers accepted).
    ///
    /// # Errors
    /// Any [`ScriptErrorKind`] but `Syntax`/`Forbidden`; `WrongOutput` for a result that is not
    /// a finite number.
    pub fn eval_proxy(&self, inputs: &Inputs) -> Result<f64, ScriptError> {
        let value = self.eval(inputs)?;
        self.finite_number(&value, "the script's result")
    }

    /// Evaluates a model script: the result must be a finite number or an object map of finite
    /// numbers.
    ///
    /// # Errors
    /// As [`Script::eval_proxy`].
    pub fn eval_model(&self, inputs: &Inputs) -> Result<ModelOutput, ScriptError> {
        let value = self.eval(inputs)?;
        if value.is_map() {
            let map = value
                .try_cast::<rhai::Map>()
                .ok_or_else(|| self.wrong_type("the script's result could not be read as a map"))?;
            if map.is_empty() {
                return Err(
                    self.wrong_type("the script returned an empty map; expected named numbers")
                );
            }
            let mut out = BTreeMap::new();
            for (name, v) in &map {
                let what = format!("the result's `{name}`");
                out.insert(name.to_string(), self.finite_number(v, &what)?);
            }
            Ok(ModelOutput::Named(out))
        } else {
            Ok(ModelOutput::Number(
                self.finite_number(&value, "the script's result")?,
            ))
        }
    }

    fn eval(&self, inputs: &Inputs) -> Result<Dynamic, ScriptError> {
        let mut scope = Scope::new();
        for (name, value) in inputs.iter() {
            if self.words.contains(name) {
                scope.push_constant_dynamic(name.as_str(), value.clone());
            }
        }
        let watch = Watch::start(self.budget, self.interrupt.clone());
        let reading = Reading::start(self.data.clone());
        let result = engine().eval_ast_with_scope::<Dynamic>(&mut scope, &self.ast);
        drop(reading);
        drop(watch);
        result.map_err(|e| self.eval_error(*e, inputs))
    }

    fn finite_number(&self, value: &Dynamic, what: &str) -> Result<f64, ScriptError> {
        let number = if let Ok(f) = value.as_float() {
            f
        } else if let Ok(i) = value.as_int() {
            // Integers from scripts are small counts or literals; f64 holds them exactly
            // up to 2^53, which is what "integers accepted" promises.
            i64_to_f64(i)
        } else if value.is_unit() {
            return Err(self.wrong_type(&format!(
                "{what} is empty; end the script with the expression to return"
            )));
        } else {
            return Err(self.wrong_type(&format!(
                "{what} is {}, expected a number",
                describe_value(value)
            )));
        };
        if number.is_nan() {
            Err(self.wrong_output(&format!("{what} is not a number (NaN)")))
        } else if number.is_infinite() {
            Err(self.wrong_output(&format!("{what} is infinite")))
        } else {
            Ok(number)
        }
    }

    fn wrong_type(&self, message: &str) -> ScriptError {
        ScriptError {
            kind: ScriptErrorKind::WrongType,
            ..self.wrong_output(message)
        }
    }

    fn wrong_output(&self, message: &str) -> ScriptError {
        ScriptError {
            kind: ScriptErrorKind::WrongOutput,
            message: message.to_owned(),
            position: last_code_line(&self.source),
            origin: self.origin.clone(),
        }
    }

    fn eval_error(&self, error: EvalAltResult, inputs: &Inputs) -> ScriptError {
        // The innermost error is where the fault is; the chain of calls becomes a prefix.
        let mut functions = Vec::new();
        let mut outer_position = Position::NONE;
        let mut error = error;
        while let EvalAltResult::ErrorInFunctionCall(name, _, inner, pos) = error {
            functions.push(name);
            if !pos.is_none() {
                outer_position = pos;
            }
            error = *inner;
        }
        let mut position = error.take_position();
        if position.is_none() {
            position = outer_position;
        }
        let (kind, message) = describe(&error, inputs, self.budget);
        // rhai reports limit errors raised inside a script function at the outermost call
        // site, without the call chain; name the function found there so the chemist knows
        // where to look.
        let called_here = if functions.is_empty() && error.is_system_exception() {
            self.script_function_called_at(position)
        } else {
            None
        };
        let message = match (functions.first(), called_here) {
            (Some(f), _) => format!("in function `{f}`: {message}"),
            (None, Some(f)) => format!("in function `{f}` (called here): {message}"),
            (None, None) => message,
        };
        ScriptError {
            kind,
            message,
            position: to_position(&self.source, position),
            origin: self.origin.clone(),
        }
    }
}

impl Script {
    /// The script-defined function whose call starts at `position`, if any.
    fn script_function_called_at(&self, position: Position) -> Option<String> {
        let at = to_position(&self.source, position)?;
        let rest = self.source.get(at.offset..)?;
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let is_call = rest.get(name.len()..)?.trim_start().starts_with('(');
        let defined = self.ast.iter_functions().any(|f| f.name == name);
        (is_call && defined).then_some(name)
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "integer results are documented as exact up to 2^53"
)]
fn i64_to_f64(i: i64) -> f64 {
    i as f64
}

fn article_type(type_name: &str) -> String {
    let simple = match type_name {
        "string" | "ImmutableString" | "&str" => "a string",
        "bool" => "true or false",
        "char" => "a character",
        "array" => "an array",
        "map" => "a map",
        "Fn" => "a function",
        "()" => "empty",
        other => return format!("a value of type {other}"),
    };
    simple.to_owned()
}

/// `a string ("12.5")`, `an array of 3 values`, `true or false (true)`: the type, and
/// enough of the value to recognise it.
fn describe_value(value: &Dynamic) -> String {
    const SHOWN: usize = 40;
    let kind = article_type(value.type_name());
    if value.is_string() {
        let text = value.to_string();
        let shown: String = text.chars().take(SHOWN).collect();
        let more = if text.chars().count() > SHOWN {
            "…"
        } else {
            ""
        };
        format!("{kind} (\"{}{more}\")", shown.escape_debug())
    } else if value.is_array() {
        let n = value.as_array_ref().map_or(0, |a| a.len());
        let values = if n == 1 { "value" } else { "values" };
        format!("{kind} of {n} {values}")
    } else if value.is_bool() {
        format!("{kind} ({value})")
    } else if value.is_map() {
        let names = value
            .as_map_ref()
            .map(|m| {
                m.keys()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        format!("{kind} (with {names})")
    } else {
        kind
    }
}

fn to_position(source: &str, pos: Position) -> Option<ScriptPosition> {
    let line = pos.line()?;
    let column = pos.position().unwrap_or(1);
    Some(locate(source, line, column))
}

/// The start of the last line that holds code, where a wrong result comes from.
fn last_code_line(source: &str) -> Option<ScriptPosition> {
    let (index, text) = source
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with("//")
        })
        .last()?;
    let column = text.chars().take_while(|c| c.is_whitespace()).count() + 1;
    Some(locate(source, index + 1, column))
}

fn parse_error(error: &ParseError, source: &str, origin: ScriptOrigin) -> ScriptError {
    let ParseError(kind, position) = error;
    let text = kind.to_string();
    let forbidden = FORBIDDEN_WORDS
        .iter()
        .find(|(word, _)| match kind.as_ref() {
            ParseErrorType::Reserved(w) => w == word,
            _ => mentions_word(&text, word),
        });
    let (kind, message) = if let Some((_, message)) = forbidden {
        (ScriptErrorKind::Forbidden, (*message).to_owned())
    } else {
        match kind.as_ref() {
            ParseErrorType::ExprTooDeep => (
                ScriptErrorKind::TooDeep,
                format!(
                    "expression nested too deeply (limit: {} levels, {} inside functions)",
                    LIMITS.max_expr_depth, LIMITS.max_function_expr_depth
                ),
            ),
            ParseErrorType::TooManyFunctions => (
                ScriptErrorKind::TooLarge,
                format!("too many functions (limit: {})", LIMITS.max_functions),
            ),
            ParseErrorType::LiteralTooLarge(what, limit) => (
                ScriptErrorKind::TooLarge,
                format!("{what} is too large (limit: {limit})"),
            ),
            _ => (ScriptErrorKind::Syntax, text),
        }
    };
    ScriptError {
        kind,
        message,
        position: to_position(source, *position),
        origin,
    }
}

/// True when `text` names `word` as a whole word (`'eval'`, `eval`), not inside another word.
fn mentions_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text.get(..i).and_then(|s| s.chars().next_back());
        let after = text.get(i + word.len()..).and_then(|s| s.chars().next());
        let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !is_ident(before) && !is_ident(after)
    })
}

fn describe(
    error: &EvalAltResult,
    inputs: &Inputs,
    budget: ScriptBudget,
) -> (ScriptErrorKind, String) {
    use EvalAltResult as E;
    match error {
        E::ErrorTerminated(token, _) => match Stop::from_token(token) {
            Some(Stop::WallTime) => (
                ScriptErrorKind::TooSlow,
                format!(
                    "the script did not finish within its time limit of {} (a slow loop?)",
                    format_duration(budget.max_wall_time)
                ),
            ),
            Some(Stop::Memory) => (
                ScriptErrorKind::TooMuchMemory,
                format!(
                    "the script's values together grew past its memory limit of {} (too many copies of large arrays or strings?)",
                    format_bytes(budget.max_memory)
                ),
            ),
            Some(Stop::Interrupted) => (
                ScriptErrorKind::Interrupted,
                "the script was interrupted (Ctrl-C)".to_owned(),
            ),
            None => (
                ScriptErrorKind::Runtime,
                "the script was stopped".to_owned(),
            ),
        },
        E::ErrorRuntime(value, _) if value.is::<UnknownData>() => (
            ScriptErrorKind::UnknownData,
            value
                .clone()
                .try_cast::<UnknownData>()
                .map_or_else(String::new, |u| u.message),
        ),
        E::ErrorTooManyOperations(_) => (
            ScriptErrorKind::TooManyOperations,
            format!(
                "the script did not finish within its budget of {} operations (an endless loop?)",
                group_thousands(LIMITS.max_operations)
            ),
        ),
        E::ErrorStackOverflow(_) => (
            ScriptErrorKind::TooDeep,
            format!(
                "function calls nested deeper than {} levels (runaway recursion?)",
                LIMITS.max_call_levels
            ),
        ),
        E::ErrorDataTooLarge(what, _) => (ScriptErrorKind::TooLarge, too_large(what)),
        E::ErrorTooManyVariables(_) => (
            ScriptErrorKind::TooLarge,
            format!("too many variables (limit: {})", LIMITS.max_variables),
        ),
        E::ErrorFunctionNotFound(signature, _) => (
            ScriptErrorKind::Runtime,
            format!(
                "unknown function `{}`: scripts can only call the functions the qdx sandbox provides",
                readable_signature(signature)
            ),
        ),
        E::ErrorVariableNotFound(name, _) => {
            let names: Vec<&str> = inputs.names().collect();
            let known = if names.is_empty() {
                "the script has no inputs".to_owned()
            } else {
                format!("the inputs are {}", names.join(", "))
            };
            (
                ScriptErrorKind::Runtime,
                format!("unknown variable `{name}`; {known}"),
            )
        }
        E::ErrorRuntime(value, _) => {
            let thrown = value.to_string();
            let message = if thrown.trim().is_empty() {
                "the script stopped with an error (`throw` without a message)".to_owned()
            } else {
                thrown
            };
            (ScriptErrorKind::Runtime, message)
        }
        E::ErrorParsing(kind, _) => (ScriptErrorKind::Syntax, kind.to_string()),
        other => (ScriptErrorKind::Runtime, other.to_string()),
    }
}

fn too_large(what: &str) -> String {
    let lower = what.to_lowercase();
    let limit = if lower.contains("string") {
        format!("{} bytes", group_thousands(LIMITS.max_string_size as u64))
    } else if lower.contains("array") {
        format!("{} elements", group_thousands(LIMITS.max_array_size as u64))
    } else if lower.contains("map") {
        format!("{} properties", group_thousands(LIMITS.max_map_size as u64))
    } else {
        return format!("{what} is too large for the sandbox");
    };
    format!("{what} is too large for the sandbox (limit: {limit})")
}

/// rhai writes argument types in Rust terms (`ImmutableString`, `i64`); say what a chemist
/// would call them.
fn readable_signature(signature: &str) -> String {
    signature
        .replacen(" (", "(", 1)
        .replace("&str | ImmutableString | String", "string")
        .replace("ImmutableString", "string")
        .replace("i64", "integer")
        .replace("f64", "number")
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_a_script() {
        let w = identifier_words("let a_1 = pl.values[0] + µ;// note\n\"text\"");
        let expected: BTreeSet<String> = ["let", "a_1", "pl", "values", "0", "µ", "note", "text"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(w, expected);
    }

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(1_000_000), "1,000,000");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(65_536), "65,536");
    }

    #[test]
    fn whole_words() {
        assert!(mentions_word("'eval' is reserved", "eval"));
        assert!(!mentions_word("evaluate", "eval"));
        assert!(!mentions_word("my_eval", "eval"));
    }

    #[test]
    fn last_line_of_code() {
        let p = last_code_line("let a = 1;\n  a + 1\n// done\n\n").unwrap();
        assert_eq!((p.line, p.column, p.offset), (2, 3, 13));
        assert_eq!(last_code_line("// nothing\n"), None);
    }
}
