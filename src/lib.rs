//! qdx: an experiment language for self-driving quantum-dot flow labs.
//!
//! The pipeline, one module per stage, each with one output type:
//! `source text ──parse──▶ Ast ──validate──▶ Campaign ──plan──▶ Plan ──run──▶ Journal ──▶ Bundle`.

pub mod diagnostic;
pub mod format;
pub mod source;
pub mod syntax;
