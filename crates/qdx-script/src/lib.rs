//! The sandboxed rhai engine for qdx user proxies and simulation scripts.
//!
//! ```
//! use qdx_script::{Inputs, Script, ScriptOrigin};
//!
//! let script = Script::compile(
//!     "let closeness = exp(-pow((peak - 600.0) / 10.0, 2));\ncloseness * plqy",
//!     ScriptOrigin::File("proxies/score.rhai".into()),
//! )?;
//! let score = script.eval_proxy(&Inputs::new().number("peak", 600.0).number("plqy", 0.5))?;
//! assert_eq!(score, 0.5);
//! # Ok::<(), qdx_script::ScriptError>(())
//! ```

// Tests unwrap: a panic there is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod alloc;
mod data;
mod engine;
mod error;
mod inputs;
mod script;
mod watch;

pub use alloc::{MeteredAllocator, memory_metered};
pub use data::{DataFiles, DataTable};
pub use engine::{LIMITS, ScriptLimits, sandboxed_engine};
pub use error::{ScriptError, ScriptErrorKind, ScriptOrigin, ScriptPosition};
pub use inputs::Inputs;
pub use script::{ModelOutput, Script};
pub use watch::{BUDGET, Interrupt, ScriptBudget};
