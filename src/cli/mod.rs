//! The `qdx` command line: argument parsing (clap derive) and one function per command.
//!
//! Commands write results to stdout and diagnostics to stderr; the exit code is 0 on success,
//! 1 when the input has errors, 2 when qdx itself could not do its job (I/O, internal).

mod check;
mod new;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::Style;

/// qdx: an experiment language for self-driving quantum-dot flow labs.
#[derive(Debug, Parser)]
#[command(name = "qdx", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Never colour the output.
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check campaign files and report every error at once.
    Check {
        /// Campaign files (`.qdx`).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format of diagnostics.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Print what validation resolved (devices, derived ranges, proxies, …).
        #[arg(long)]
        summary: bool,
    },
    /// Create a new campaign folder with a campaign and a lab file that check clean.
    New {
        /// Name of the campaign (and of its folder).
        name: String,
        /// Where to create the folder.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

/// How diagnostics are drawn on this terminal.
pub(crate) fn style(no_color: bool) -> Style {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100);
    Style::Terminal {
        width,
        color: tty && !no_color && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// Runs the command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let style = style(cli.no_color);
    let code = match cli.command {
        Command::Check {
            files,
            format,
            summary,
        } => check::run(&files, format, summary, style),
        Command::New { name, dir } => new::run(&name, &dir),
    };
    ExitCode::from(code)
}
