//! The `qdx` command line: argument parsing (clap derive) and one function per command.
//!
//! Commands write results to stdout and diagnostics to stderr; the exit code is 0 on success,
//! 1 when the input has errors, 2 when qdx itself could not do its job (I/O, internal).

mod check;
mod fmt;
mod lab;
mod new;
mod plan;
mod run;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Dot,
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
        /// Also check this lab binding file against each campaign.
        #[arg(long)]
        lab: Option<PathBuf>,
    },
    /// Format files in the canonical style (comments kept), or check that they are.
    Fmt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing; exit 1 if a file is not formatted.
        #[arg(long)]
        check: bool,
    },
    /// Show what a campaign will do: operations, waits, reagent, refills, time.
    Plan {
        /// The campaign file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
    },
    /// Run a campaign (on the simulated lab unless --lab names a hardware binding).
    Run {
        /// The campaign file.
        file: PathBuf,
        /// A lab binding file (`lab "…" { bind … }`) for real instruments.
        #[arg(long)]
        lab: Option<PathBuf>,
        /// Where to write the bundle (default: runs/<campaign>-<n>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Use this seed instead of the campaign's.
        #[arg(long)]
        seed: Option<u64>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
        /// Crash tests: stop after this journal record and wait to be killed.
        #[arg(long, hide = true)]
        halt_after: Option<u64>,
    },
    /// Continue an interrupted run from its bundle: no experiment repeated, none lost.
    Resume {
        bundle: PathBuf,
        /// For a run on hardware: the lab binding (default: the copy in the bundle).
        #[arg(long)]
        lab: Option<PathBuf>,
        #[arg(long, short)]
        quiet: bool,
        /// Crash tests: stop after this journal record and wait to be killed.
        #[arg(long, hide = true)]
        halt_after: Option<u64>,
    },
    /// Check every file of a bundle against its manifest.
    Verify { bundle: PathBuf },
    /// Re-run a bundle's campaign with its seed on the simulated lab and report any difference.
    Replay { bundle: PathBuf },
    /// Work with lab binding files.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
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

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Connect to every bound device, read its identity and status, and report (exit 1 if any
    /// device fails). Nothing is started or heated.
    Probe {
        /// The lab binding file.
        lab: PathBuf,
        /// Also check the binding against this campaign.
        #[arg(long)]
        campaign: Option<PathBuf>,
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
            lab,
        } => check::run(&files, format, summary, lab.as_deref(), style),
        Command::New { name, dir } => new::run(&name, &dir),
        Command::Fmt { files, check } => fmt::run(&files, check, style),
        Command::Plan { file, format } => plan::run(&file, format, style),
        Command::Run {
            file,
            lab,
            out,
            seed,
            quiet,
            halt_after,
        } => run::run(&file, out, seed, lab, quiet, halt_after, style),
        Command::Resume {
            bundle,
            lab,
            quiet,
            halt_after,
        } => run::resume(&bundle, lab, quiet, halt_after, style),
        Command::Lab {
            command: LabCommand::Probe { lab, campaign },
        } => lab::probe(&lab, campaign.as_deref(), style),
        Command::Verify { bundle } => run::verify(&bundle),
        Command::Replay { bundle } => run::replay(&bundle, style),
    };
    ExitCode::from(code)
}
