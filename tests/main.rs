//! One integration-test binary (style guide, habit 11): a module per concern.

mod architecture;
mod bundle;
mod cli;
mod cli_env;
mod cli_snapshots;
mod corpus;
mod data_files;
mod docs;
mod exit_codes;
mod format;
mod grammar_examples;
mod hardware;
mod lights;
mod lsp;
mod objectives;
mod record;
mod report;
mod report_browser;
mod robustness;
mod run_safety;
mod runtime;
mod simulate;
mod spans;
mod strategy;
mod support;
mod transient;
