//! The `qdx` command line: argument parsing (clap derive) and one function per command.
//!
//! Commands write results to stdout and diagnostics to stderr. The exit codes, the same for
//! every command (and listed by `qdx --help` and in the README):
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | success |
//! | 1    | the input has errors: the campaign, the lab file, an argument's value that qdx refuses (a bundle that is not one, an `--out` that exists); `verify`/`replay`/`fmt --check` found a difference |
//! | 2    | usage error: unknown command or option, a missing argument, a value of the wrong form (`--seed abc`, `--format xml`): clap's |
//! | 3    | qdx could not finish its job: a hardware fault stopped the run, I/O (disk full), a corrupt or edited bundle, a bundle in use by another qdx, an internal error (a panic) |
//! | 4    | the run ended without a single successful experiment, or gave up after too many consecutive identical failures |
//! | 128+n | a signal ended the run after the lab reached its safe state: 130 SIGINT (Ctrl-C), 143 SIGTERM, 129 SIGHUP; `qdx resume` goes on |
//!
//! Where the code is decided: every command returns `Result<Outcome, CliError>`, and [`run`]
//! says why on stderr and maps it to the code, once. An error's [`ErrorKind`] decides its code
//! ([`ErrorKind::exit_code`]): [`CliError`] and each stage error it wraps
//! ([`RunError`](crate::runtime::RunError), [`BundleError`](crate::bundle::BundleError),
//! [`JournalError`](crate::journal::JournalError)) has a `kind()`, an exhaustive `match` in
//! `error.rs`, so a new variant does not compile until it is given one. A command that did its
//! job ends with an [`Outcome`]: success, something found (`check`'s errors, a difference, a
//! device that does not answer: 1), or a run that went to its end, whose code says how it
//! ended ([`exit::of_run`]). Nothing else returns a code; usage errors (2) are clap's.

mod check;
mod error;
mod fmt;
mod lab;
mod new;
mod plan;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::{Diagnostics, Style, render_all};
use crate::source::SourceMap;
pub use error::{CliError, ErrorKind, Outcome};

/// The exit codes of `qdx` (see the module documentation).
pub mod exit {
    use crate::runtime::RunSummary;

    pub const SUCCESS: u8 = 0;
    /// The input (campaign, lab file, an argument's value that qdx refuses) has errors.
    pub const INPUT: u8 = 1;
    /// A usage error (an unknown option, a value of the wrong form); clap exits with it on its
    /// own.
    pub const USAGE: u8 = 2;
    /// qdx could not finish its job: hardware fault, I/O, corrupt bundle, internal error.
    pub const FAILED: u8 = 3;
    /// A run without a single successful experiment, or one that gave up on repeated failures.
    pub const NO_SUCCESS: u8 = 4;

    /// How a run (or a resumed one) that went to its end exits.
    pub fn of_run(s: &RunSummary) -> u8 {
        super::ErrorKind::of_run(s).map_or(SUCCESS, super::ErrorKind::exit_code)
    }

    /// What `qdx --help` says of them.
    pub const HELP: &str = "\
Exit codes:
  0      success
  1      the input has errors (campaign, lab file, an argument's value that qdx refuses), or
         verify/replay/fmt --check found a difference
  2      usage error (unknown command or option, missing argument, a value of the wrong form:
         `--seed abc`, `--format xml`)
  3      qdx could not finish its job: a hardware fault stopped the run, I/O (disk full), a
         corrupt or edited bundle, a bundle in use by another qdx, an internal error
  4      the run ended without a single successful experiment, or gave up after too many
         consecutive identical failures
  128+n  a signal ended the run once the lab was in its safe state: 130 SIGINT (Ctrl-C),
         143 SIGTERM, 129 SIGHUP; `qdx resume` goes on";
}

/// qdx: an experiment language for self-driving quantum-dot flow labs.
#[derive(Debug, Parser)]
#[command(name = "qdx", version, about, long_about = None, after_help = exit::HELP)]
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
pub enum TextOrJson {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Html,
    Json,
    Md,
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
        /// Print what validation resolved (devices, derived ranges, proxies, …); with
        /// `--format json`, as `summaries` (each file's lines).
        #[arg(long)]
        summary: bool,
        /// Also check this lab binding file against each campaign.
        #[arg(long)]
        lab: Option<PathBuf>,
    },
    /// Format files in the canonical style (comments kept), or check that they are.
    Fmt {
        /// Files to format in place; `-` reads standard input and writes standard output.
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
        /// Play the lab file's instruments with emulators: a dry run of the real drivers, the
        /// emulated devices sitting in the campaign's simulated twin (needs --lab).
        #[arg(long, requires = "lab")]
        emulate: bool,
        /// Where to write the bundle (default: runs/<campaign>-<n>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Use this seed instead of the campaign's.
        #[arg(long)]
        seed: Option<u64>,
        /// No progress (a bar on a terminal, else a line per experiment on stderr).
        #[arg(long, short)]
        quiet: bool,
        /// `json`: progress and the summary as JSON lines on stdout, for pipelines.
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
        /// Crash tests: stop after this journal record and wait to be killed.
        #[arg(long, hide = true)]
        halt_after: Option<u64>,
    },
    /// Continue an interrupted run from its bundle: no experiment repeated, none lost.
    Resume {
        /// The bundle folder of the interrupted run.
        bundle: PathBuf,
        /// For a run on hardware: the lab binding (default: the copy in the bundle).
        #[arg(long)]
        lab: Option<PathBuf>,
        /// Continue a dry run on emulated instruments (`run --emulate`); required for one,
        /// refused for any other run.
        #[arg(long)]
        emulate: bool,
        /// No progress (a bar on a terminal, else a line per experiment on stderr).
        #[arg(long, short)]
        quiet: bool,
        /// `json`: progress and the summary as JSON lines on stdout, for pipelines.
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
        /// Crash tests: stop after this journal record and wait to be killed.
        #[arg(long, hide = true)]
        halt_after: Option<u64>,
    },
    /// Check every file of a bundle against its manifest.
    Verify {
        /// The bundle folder a run wrote.
        bundle: PathBuf,
        /// `json`: `{ok, bundle, bundle_id, files, problems}` on stdout.
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
    },
    /// Re-run a bundle's campaign with its seed on the simulated lab and report any difference.
    Replay {
        /// The bundle folder a run wrote.
        bundle: PathBuf,
        /// `json`: `{ok, decisions, files, measurements_repeated}` on stdout.
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
    },
    /// Render a bundle's report again (from its stored campaign and journal alone).
    Report {
        /// The bundle folder a run wrote.
        bundle: PathBuf,
        /// The form: the HTML page the run wrote, JSON for programs, or Markdown.
        #[arg(long, value_enum, default_value = "html")]
        format: ReportFormat,
        /// Write the report to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run the language server for editors, on standard input and output.
    ///
    /// Diagnostics as `qdx check` gives them (with quick fixes), hover with the ranges
    /// validation proved, go to definition, references, completion, formatting as `qdx fmt`,
    /// the outline, semantic tokens and rename. Editors start it themselves: see
    /// `editors/README.md`.
    Lsp {
        /// Talk over standard input and output (the only transport; editors' clients pass it).
        #[arg(long)]
        stdio: bool,
    },
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `qdx man > qdx.1 && man ./qdx.1`).
    Man,
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
        /// Probe emulators of the bound devices instead of the ports (checks the drivers and
        /// the lab file without the instruments).
        #[arg(long)]
        emulate: bool,
        /// `json`: `{lab, ok, devices: [{device, driver, port, ok, identity, status, error}]}`.
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
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

/// An input that checked, its diagnostics (warnings) shown; or, when it has errors, the error
/// that shows them.
fn usable<T>(
    value: Option<T>,
    diagnostics: &Diagnostics,
    sources: &SourceMap,
    style: Style,
) -> Result<T, CliError> {
    use std::io::Write as _;
    match value {
        Some(v) => {
            let _ = write!(
                std::io::stderr().lock(),
                "{}",
                render_all(diagnostics, sources, style)
            );
            Ok(v)
        }
        None => Err(CliError::Invalid {
            diagnostics: diagnostics.clone(),
            sources: sources.clone(),
        }),
    }
}

/// Runs the command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let style = style(cli.no_color);
    let result = match cli.command {
        Command::Check {
            files,
            format,
            summary,
            lab,
        } => check::run(&files, format, summary, lab.as_deref(), style),
        Command::New { name, dir } => new::run(&name, &dir),
        Command::Fmt { files, check } => fmt::run(&files, check),
        Command::Plan { file, format } => plan::run(&file, format, style),
        Command::Run {
            file,
            lab,
            emulate,
            out,
            seed,
            quiet,
            format,
            halt_after,
        } => run::run(
            &file,
            out,
            seed,
            lab.map(|lab| run::LabChoice { lab, emulate }),
            run::Show { quiet, format },
            halt_after,
            style,
        ),
        Command::Resume {
            bundle,
            lab,
            emulate,
            quiet,
            format,
            halt_after,
        } => run::resume(
            &bundle,
            lab,
            emulate,
            run::Show { quiet, format },
            halt_after,
            style,
        ),
        Command::Lab {
            command:
                LabCommand::Probe {
                    lab,
                    campaign,
                    emulate,
                    format,
                },
        } => lab::probe(&lab, campaign.as_deref(), emulate, format, style),
        Command::Verify { bundle, format } => run::verify(&bundle, format),
        Command::Replay { bundle, format } => run::replay(&bundle, format, style),
        Command::Report {
            bundle,
            format,
            out,
        } => run::report(&bundle, format, out.as_deref(), style),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "qdx", &mut std::io::stdout().lock());
            Ok(Outcome::Success)
        }
        Command::Man => man(),
        Command::Lsp { stdio: _ } => lsp(),
    };
    ExitCode::from(exit_code(result, style))
}

/// `qdx lsp`: the language server, until the editor says `exit`.
fn lsp() -> Result<Outcome, CliError> {
    crate::lsp::run()
        .map(|()| Outcome::Success)
        .map_err(|e| CliError::Lsp(e.to_string()))
}

/// `qdx man`: the manual page of `qdx` and its commands, from the same definitions as `--help`.
fn man() -> Result<Outcome, CliError> {
    use std::io::Write as _;
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut page = Vec::new();
    // Rendering into memory cannot fail; stdout errors are ignored as every command does.
    let _ = clap_mangen::Man::new(cmd.clone()).render(&mut page);
    for sub in cmd.get_subcommands().filter(|c| c.get_name() != "help") {
        let name = format!("qdx-{}", sub.get_name());
        let sub = sub.clone().name(name.clone()).bin_name(name);
        let _ = clap_mangen::Man::new(sub).render(&mut page);
    }
    let _ = std::io::stdout().lock().write_all(&page);
    Ok(Outcome::Success)
}

/// Says on stderr why a command did not succeed, and returns its exit code.
fn exit_code(result: Result<Outcome, CliError>, style: Style) -> u8 {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    match result {
        Ok(outcome) => {
            if let Some(line) = outcome.error_line() {
                let _ = writeln!(err, "error: {line}");
            }
            outcome.exit_code()
        }
        Err(e) => {
            let _ = write!(err, "{}", e.report(style));
            e.kind().exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::exit;

    /// Issue 17: every command and every argument says what it is in `--help` (and so in the
    /// manual page and completions).
    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            if cmd.get_about().is_none() && cmd.get_name() != "help" {
                missing.push(path.clone());
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.get_help().is_none() && !matches!(id, "help" | "version") {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(
            &<super::Cli as clap::CommandFactory>::command(),
            "",
            &mut missing,
        );
        assert!(missing.is_empty(), "no help for: {missing:?}");
    }
    use crate::runtime::{RunEnd, RunSummary, Signal};

    fn ended(end: RunEnd, experiments: u64, failed: u64) -> u8 {
        exit::of_run(&RunSummary {
            bundle: "b".into(),
            experiments,
            failed,
            stop_reason: String::new(),
            lab_time: 0.0,
            finished: matches!(end, RunEnd::Completed),
            end,
        })
    }

    #[test]
    fn a_run_exits_by_how_it_ended() {
        assert_eq!(ended(RunEnd::Completed, 5, 4), 0);
        assert_eq!(ended(RunEnd::Completed, 5, 5), 4);
        assert_eq!(ended(RunEnd::Completed, 0, 0), 4);
        assert_eq!(ended(RunEnd::Aborted, 8, 6), 4);
        assert_eq!(ended(RunEnd::Halted, 3, 0), 3);
        assert_eq!(ended(RunEnd::Interrupted(Signal::Interrupt), 3, 0), 130);
        assert_eq!(ended(RunEnd::Interrupted(Signal::Terminate), 3, 0), 143);
        assert_eq!(ended(RunEnd::Interrupted(Signal::Hangup), 0, 0), 129);
    }
}
