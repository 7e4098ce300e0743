//! One integration-test binary (style guide, habit 11): a module per concern.

mod cli;
mod corpus;
mod format;
mod grammar_examples;
mod hardware;
mod objectives;
mod robustness;
mod runtime;
mod simulate;
mod spans;
mod support;
