//! qdx: an experiment language for self-driving quantum-dot flow labs.
//!
//! The pipeline, one module per stage, each with one output type (ARCHITECTURE.md draws it,
//! and `tests/architecture.rs` checks that no import runs back up it):
//! `source text ──parse──▶ Ast ──validate──▶ Campaign ──bind──▶ LabBinding | SimConfig
//! ──plan──▶ Plan ──run──▶ journal ──▶ experiment records ──▶ bundle`.

// Input from users must never panic: no indexing that could go out of bounds in the front end
// and the runtime (the numeric crates index freely into arrays they sized themselves).
#![deny(clippy::indexing_slicing)]

pub mod bind;
pub mod bundle;
pub mod cli;
pub mod diagnostic;
pub mod droplet;
pub mod files;
pub mod format;
pub mod journal;
pub mod load;
pub mod lsp;
pub mod names;
pub mod plan;
pub mod record;
pub mod report;
pub mod runtime;
pub mod source;
pub mod syntax;
pub mod transient;
pub mod validate;
pub mod world;
