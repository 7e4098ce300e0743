//! How a command ends, and the one place its exit code is decided: every error of the command
//! line and of the stages it runs has an [`ErrorKind`] (an exhaustive `match` per error type,
//! so a new variant cannot go without one), and the kind has the exit code.

use std::path::{Path, PathBuf};

use super::exit;
use crate::bundle::BundleError;
use crate::diagnostic::{Diagnostics, Style, render_all};
use crate::journal::JournalError;
use crate::runtime::{RunEnd, RunError, RunSummary, Signal};
use crate::source::SourceMap;

/// What ended a command other than success; it decides the exit code (usage errors, 2, are
/// clap's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input has errors: the campaign, the lab file, an argument's value that qdx refuses
    /// (1). A value of the wrong form is clap's usage error (2).
    Input,
    /// qdx could not finish its job: a hardware fault, I/O, a corrupt or edited bundle, a
    /// bundle in use, an internal error (3).
    Failed,
    /// A run without a single successful experiment, or one that gave up on repeated
    /// identical failures (4).
    NoSuccess,
    /// A signal ended the run once the lab was in its safe state (128 + its number).
    Signal(Signal),
}

impl ErrorKind {
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Input => exit::INPUT,
            ErrorKind::Failed => exit::FAILED,
            ErrorKind::NoSuccess => exit::NO_SUCCESS,
            ErrorKind::Signal(signal) => 128 + signal.number(),
        }
    }

    /// How a run that went to its end fell short, if it did.
    pub fn of_run(s: &RunSummary) -> Option<ErrorKind> {
        match s.end {
            RunEnd::Interrupted(signal) => Some(ErrorKind::Signal(signal)),
            RunEnd::Aborted => Some(ErrorKind::NoSuccess),
            RunEnd::Halted => Some(ErrorKind::Failed),
            RunEnd::Completed if s.failed >= s.experiments => Some(ErrorKind::NoSuccess),
            RunEnd::Completed => None,
        }
    }
}

/// How a command that did its job ended.
#[derive(Debug)]
pub enum Outcome {
    /// As asked (0).
    Success,
    /// It found what it looks for: errors (`check`), a difference (`verify`, `replay`,
    /// `fmt --check`), a device that does not answer (`lab probe`). Its report is on stdout or
    /// stderr already (1).
    Found,
    /// A run, or a resumed one, went to its end; how it ended decides ([`exit::of_run`]).
    Ran(RunSummary),
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Success => exit::SUCCESS,
            Outcome::Found => ErrorKind::Input.exit_code(),
            Outcome::Ran(s) => exit::of_run(s),
        }
    }

    /// The `error: …` line a run without success ends with: a script or CI must not take it
    /// for success.
    pub fn error_line(&self) -> Option<&'static str> {
        match self {
            Outcome::Ran(s) if ErrorKind::of_run(s) == Some(ErrorKind::NoSuccess) => {
                Some(if s.end == RunEnd::Aborted {
                    "the run stopped on repeated identical failures"
                } else {
                    "no experiment succeeded"
                })
            }
            Outcome::Success | Outcome::Found | Outcome::Ran(_) => None,
        }
    }
}

/// Why a command failed: a stage's error, or what only the command line knows of. Its
/// `Display` is the text of the `error: …` line ([`CliError::report`]).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Input with errors, shown as diagnostics in their sources: a campaign, a lab file, a
    /// plan the planner refused, a file `fmt` cannot parse.
    #[error("{}", .diagnostics.iter().map(|d| d.message.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid {
        diagnostics: Diagnostics,
        sources: SourceMap,
    },
    #[error(transparent)]
    Run(RunError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// `qdx replay` could not run the campaign again.
    #[error("the replay failed: {0}")]
    Replay(RunError),
    /// `qdx lsp` lost its client mid-message (the protocol broke, or standard input or output
    /// failed).
    #[error("the language server stopped: {0}")]
    Lsp(String),
    /// `qdx replay` has nowhere to run the campaign again.
    #[error("no temporary folder: {0}")]
    TempDir(std::io::Error),
    /// `run --out` names something that exists.
    #[error(
        "{} already exists; a run never overwrites a bundle (name another --out{})",
        .dir.display(),
        resume_hint(.dir, *.bundle)
    )]
    OutExists {
        dir: PathBuf,
        /// It is a bundle (it has a journal): `qdx resume` may be what was meant.
        bundle: bool,
    },
    #[error("{} holds no journal.jsonl (is it a qdx bundle?)", .dir.display())]
    NoJournal { dir: PathBuf },
    #[error("{} holds no campaign (is it a qdx bundle?)", .dir.display())]
    NoCampaign { dir: PathBuf },
    /// Inputs the `started` record lists were never stored: the run stopped as it started (a
    /// bundle of an earlier qdx; a bundle appears only once its inputs are stored).
    #[error(
        "the run in {} was cut short as it started, before any experiment: {} {} never \
         stored\n  nothing was sent to the lab: remove the folder and start the run again with \
         `qdx run … --seed {seed}`",
        .dir.display(),
        .names.join(", "),
        if .names.len() == 1 { "was" } else { "were" }
    )]
    InputsMissing {
        dir: PathBuf,
        names: Vec<String>,
        /// The seed the run started with.
        seed: u64,
    },
    /// A stored input is not the file the run started with.
    #[error(
        "{name} in {} is not the file the run started with (its SHA-256 differs from the \
         journal's `started` record)\n  a resumed run goes on with the campaign it began with: \
         undo the edit, or start a new run with the edited campaign",
        .dir.display()
    )]
    InputEdited { dir: PathBuf, name: String },
    #[error(
        "the run in {} was on the simulated lab; resume it without --lab {}",
        .dir.display(),
        .lab.display()
    )]
    SimulatedRun { dir: PathBuf, lab: PathBuf },
    #[error(
        "the run in {} was on the lab `{lab}`; name its binding with --lab",
        .dir.display()
    )]
    LabNeeded { dir: PathBuf, lab: String },
    #[error("the run was on the lab `{ran_on}`, but {} binds `{binds}`", .file.display())]
    LabMismatch {
        ran_on: String,
        file: PathBuf,
        binds: String,
    },
    #[error(
        "{}",
        if *.emulated {
            format!("the run in {} was a dry run on emulated instruments: resume it with --emulate", .dir.display())
        } else {
            format!("the run in {} was not on emulated instruments: resume it without --emulate", .dir.display())
        }
    )]
    EmulationMismatch { dir: PathBuf, emulated: bool },
    #[error("`{name}` is not a usable campaign name: use letters, digits, `-` and `_`")]
    CampaignName { name: String },
    #[error("{} already exists; qdx new never overwrites files", .folder.display())]
    FolderExists { folder: PathBuf },
    #[error("cannot create {}: {source}", .folder.display())]
    CreateFolder {
        folder: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", .path.display())]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file `fmt` was given does not read.
    #[error("cannot read `{file}`: {source}")]
    ReadSource {
        file: String,
        source: std::io::Error,
    },
    #[error("cannot write `{file}`: {source}")]
    WriteSource {
        file: String,
        source: std::io::Error,
    },
    /// More than one, in the order they were found (never fewer than two: [`CliError::all`]).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<CliError>),
}

fn resume_hint(dir: &Path, bundle: bool) -> String {
    if bundle {
        format!(", or `qdx resume {}` to go on with that run", dir.display())
    } else {
        String::new()
    }
}

impl CliError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CliError::Run(e) | CliError::Replay(e) => e.kind(),
            CliError::Bundle(e) => e.kind(),
            CliError::Journal(e) => e.kind(),
            CliError::Several(errors) => errors
                .iter()
                .map(CliError::kind)
                .max_by_key(|k| k.exit_code())
                .unwrap_or(ErrorKind::Failed),
            CliError::Invalid { .. }
            | CliError::OutExists { .. }
            | CliError::NoJournal { .. }
            | CliError::NoCampaign { .. }
            | CliError::SimulatedRun { .. }
            | CliError::LabNeeded { .. }
            | CliError::LabMismatch { .. }
            | CliError::EmulationMismatch { .. }
            | CliError::CampaignName { .. }
            | CliError::FolderExists { .. }
            | CliError::ReadSource { .. } => ErrorKind::Input,
            CliError::TempDir(_)
            | CliError::Lsp(_)
            | CliError::InputsMissing { .. }
            | CliError::InputEdited { .. }
            | CliError::CreateFolder { .. }
            | CliError::WriteFile { .. }
            | CliError::WriteSource { .. } => ErrorKind::Failed,
        }
    }

    /// What stderr shows: diagnostics drawn in their sources, or `error: …` lines.
    pub fn report(&self, style: Style) -> String {
        match self {
            CliError::Invalid {
                diagnostics,
                sources,
            } => render_all(diagnostics, sources, style),
            CliError::Several(errors) => errors.iter().map(|e| e.report(style)).collect(),
            other => format!("error: {other}\n"),
        }
    }

    /// A run's error; a refused plan is shown in the campaign's sources.
    pub fn of_run(e: RunError, sources: &SourceMap) -> CliError {
        match e {
            RunError::Plan(diagnostics) => CliError::Invalid {
                diagnostics,
                sources: sources.clone(),
            },
            // The loser of a race for the same `--out` is told what a run started later is.
            RunError::BundleExists { dir } => CliError::OutExists {
                bundle: dir.join("journal.jsonl").is_file(),
                dir,
            },
            other => CliError::Run(other),
        }
    }

    /// The errors as one: `None` when there are none.
    pub fn all(mut errors: Vec<CliError>) -> Option<CliError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(CliError::Several(errors)),
        }
    }
}

impl From<RunError> for CliError {
    fn from(e: RunError) -> CliError {
        CliError::Run(e)
    }
}

impl RunError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RunError::Plan(_) | RunError::SimulatedLab(_) | RunError::BundleExists { .. } => {
                ErrorKind::Input
            }
            RunError::Journal(e) => e.kind(),
            RunError::Bundle(e) => e.kind(),
            // Until its sites say what happened, a setup error counts as qdx's failure.
            RunError::Setup(_)
            | RunError::NotStarted { .. }
            | RunError::AlreadyFinished { .. }
            | RunError::NotFinished { .. }
            | RunError::Runtime(_)
            | RunError::Signals { .. }
            | RunError::Connect { .. }
            | RunError::PriorRefused(_)
            | RunError::Optimizer(_)
            | RunError::Calibration { .. }
            | RunError::Stack { .. }
            | RunError::Io { .. }
            | RunError::Diverged { .. }
            | RunError::Wait { .. }
            | RunError::Panicked(_) => ErrorKind::Failed,
        }
    }
}

impl BundleError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            BundleError::Journal(e) => e.kind(),
            // What `verify` was asked to check is not a (complete) bundle.
            BundleError::NotABundle { .. }
            | BundleError::Incomplete { .. }
            | BundleError::NotAManifest(_) => ErrorKind::Input,
            BundleError::Io { .. } | BundleError::Report { .. } | BundleError::Serialize(_) => {
                ErrorKind::Failed
            }
        }
    }
}

impl JournalError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            JournalError::Io { .. }
            | JournalError::Locked { .. }
            | JournalError::Corrupt { .. } => ErrorKind::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Signal;

    fn io() -> std::io::Error {
        std::io::Error::other("disk")
    }

    fn json() -> serde_json::Error {
        serde_json::from_str::<u8>("x").expect_err("not a number")
    }

    fn journal() -> Vec<(&'static str, JournalError)> {
        vec![
            (
                "JournalError::Io",
                JournalError::Io {
                    path: "j".into(),
                    source: io(),
                },
            ),
            (
                "JournalError::Locked",
                JournalError::Locked { path: "j".into() },
            ),
            (
                "JournalError::Corrupt",
                JournalError::Corrupt {
                    path: "j".into(),
                    line: 1,
                    message: "x".into(),
                },
            ),
        ]
    }

    fn bundle() -> Vec<(&'static str, BundleError)> {
        let dir = PathBuf::from("b");
        vec![
            (
                "BundleError::Io",
                BundleError::Io {
                    path: "b".into(),
                    source: io(),
                },
            ),
            (
                "BundleError::Journal(Locked)",
                BundleError::Journal(JournalError::Locked { path: "j".into() }),
            ),
            (
                "BundleError::Report",
                BundleError::Report {
                    path: "b/report.html".into(),
                    source: io(),
                },
            ),
            ("BundleError::Serialize", BundleError::Serialize(json())),
            (
                "BundleError::NotABundle",
                BundleError::NotABundle { dir: dir.clone() },
            ),
            ("BundleError::Incomplete", BundleError::Incomplete { dir }),
            (
                "BundleError::NotAManifest",
                BundleError::NotAManifest(json()),
            ),
        ]
    }

    fn run() -> Vec<(&'static str, RunError)> {
        let dir = PathBuf::from("b");
        let optimizer = || qdx_optimize::OptimizeError::Numerical("x".into());
        vec![
            ("RunError::Setup", RunError::Setup("x".into())),
            ("RunError::Plan", RunError::Plan(Diagnostics::new())),
            ("RunError::SimulatedLab", RunError::SimulatedLab("x".into())),
            (
                "RunError::BundleExists",
                RunError::BundleExists { dir: dir.clone() },
            ),
            (
                "RunError::NotStarted",
                RunError::NotStarted { dir: dir.clone() },
            ),
            (
                "RunError::AlreadyFinished",
                RunError::AlreadyFinished { dir: dir.clone() },
            ),
            ("RunError::NotFinished", RunError::NotFinished { dir }),
            ("RunError::Runtime", RunError::Runtime(io())),
            (
                "RunError::Signals",
                RunError::Signals {
                    signal: Signal::Interrupt,
                    source: io(),
                },
            ),
            (
                "RunError::Connect",
                RunError::Connect {
                    lab: "rig".into(),
                    source: qdx_lab::registry::RegistryError::UnknownKind("x".into()),
                },
            ),
            (
                "RunError::PriorRefused",
                RunError::PriorRefused(optimizer()),
            ),
            ("RunError::Optimizer", RunError::Optimizer(optimizer())),
            (
                "RunError::Calibration",
                RunError::Calibration {
                    file: "f".into(),
                    why: "x".into(),
                },
            ),
            (
                "RunError::Stack",
                RunError::Stack {
                    file: "f".into(),
                    why: "x".into(),
                },
            ),
            (
                "RunError::Journal(Corrupt)",
                RunError::Journal(JournalError::Corrupt {
                    path: "j".into(),
                    line: 1,
                    message: "x".into(),
                }),
            ),
            (
                "RunError::Bundle(Io)",
                RunError::Bundle(BundleError::Io {
                    path: "b".into(),
                    source: io(),
                }),
            ),
            (
                "RunError::Io",
                RunError::Io {
                    path: "p".into(),
                    source: io(),
                },
            ),
            (
                "RunError::Diverged",
                RunError::Diverged {
                    experiment: 1,
                    what: "x".into(),
                },
            ),
            (
                "RunError::Wait",
                RunError::Wait {
                    what: "x".into(),
                    seconds: 1e9,
                },
            ),
            ("RunError::Panicked", RunError::Panicked("x".into())),
        ]
    }

    fn cli() -> Vec<(&'static str, CliError)> {
        let dir = PathBuf::from("b");
        vec![
            (
                "CliError::Invalid",
                CliError::Invalid {
                    diagnostics: Diagnostics::new(),
                    sources: SourceMap::new(),
                },
            ),
            (
                "CliError::Run(Plan)",
                CliError::Run(RunError::Plan(Diagnostics::new())),
            ),
            (
                "CliError::Run(Connect)",
                CliError::Run(RunError::Connect {
                    lab: "rig".into(),
                    source: qdx_lab::registry::RegistryError::UnknownKind("x".into()),
                }),
            ),
            (
                "CliError::Bundle(Incomplete)",
                CliError::Bundle(BundleError::Incomplete { dir: dir.clone() }),
            ),
            (
                "CliError::Journal(Locked)",
                CliError::Journal(JournalError::Locked { path: "j".into() }),
            ),
            (
                "CliError::Replay(Panicked)",
                CliError::Replay(RunError::Panicked("x".into())),
            ),
            ("CliError::TempDir", CliError::TempDir(io())),
            (
                "CliError::OutExists",
                CliError::OutExists {
                    dir: dir.clone(),
                    bundle: true,
                },
            ),
            (
                "CliError::NoJournal",
                CliError::NoJournal { dir: dir.clone() },
            ),
            (
                "CliError::NoCampaign",
                CliError::NoCampaign { dir: dir.clone() },
            ),
            (
                "CliError::InputsMissing",
                CliError::InputsMissing {
                    dir: dir.clone(),
                    names: vec!["campaign/c.qdx".into()],
                    seed: 7,
                },
            ),
            (
                "CliError::InputEdited",
                CliError::InputEdited {
                    dir: dir.clone(),
                    name: "campaign/c.qdx".into(),
                },
            ),
            (
                "CliError::SimulatedRun",
                CliError::SimulatedRun {
                    dir: dir.clone(),
                    lab: "lab.qdx".into(),
                },
            ),
            (
                "CliError::LabNeeded",
                CliError::LabNeeded {
                    dir,
                    lab: "rig".into(),
                },
            ),
            (
                "CliError::LabMismatch",
                CliError::LabMismatch {
                    ran_on: "rig".into(),
                    file: "lab.qdx".into(),
                    binds: "other".into(),
                },
            ),
            (
                "CliError::EmulationMismatch",
                CliError::EmulationMismatch {
                    dir: "runs/x-1".into(),
                    emulated: true,
                },
            ),
            (
                "CliError::CampaignName",
                CliError::CampaignName { name: "-x".into() },
            ),
            (
                "CliError::FolderExists",
                CliError::FolderExists { folder: "x".into() },
            ),
            (
                "CliError::CreateFolder",
                CliError::CreateFolder {
                    folder: "x".into(),
                    source: io(),
                },
            ),
            (
                "CliError::WriteFile",
                CliError::WriteFile {
                    path: "x".into(),
                    source: io(),
                },
            ),
            (
                "CliError::ReadSource",
                CliError::ReadSource {
                    file: "x".into(),
                    source: io(),
                },
            ),
            (
                "CliError::WriteSource",
                CliError::WriteSource {
                    file: "x".into(),
                    source: io(),
                },
            ),
            (
                "CliError::Several(Input, Failed)",
                CliError::Several(vec![
                    CliError::NoCampaign { dir: "a".into() },
                    CliError::TempDir(io()),
                ]),
            ),
        ]
    }

    /// Every error, and the exit code its kind gives. A new variant does not compile until
    /// `kind` decides its code (no `_` arm); list it here too.
    #[test]
    fn every_error_has_its_exit_code() {
        let mut table = String::new();
        let mut row = |name: &str, kind: ErrorKind| {
            table.push_str(&format!("{}  {name}\n", kind.exit_code()));
        };
        for (name, e) in journal() {
            row(name, e.kind());
        }
        for (name, e) in bundle() {
            row(name, e.kind());
        }
        for (name, e) in run() {
            row(name, e.kind());
        }
        for (name, e) in cli() {
            row(name, e.kind());
        }
        insta::assert_snapshot!(table, @"
        3  JournalError::Io
        3  JournalError::Locked
        3  JournalError::Corrupt
        3  BundleError::Io
        3  BundleError::Journal(Locked)
        3  BundleError::Report
        3  BundleError::Serialize
        1  BundleError::NotABundle
        1  BundleError::Incomplete
        1  BundleError::NotAManifest
        3  RunError::Setup
        1  RunError::Plan
        1  RunError::SimulatedLab
        1  RunError::BundleExists
        3  RunError::NotStarted
        3  RunError::AlreadyFinished
        3  RunError::NotFinished
        3  RunError::Runtime
        3  RunError::Signals
        3  RunError::Connect
        3  RunError::PriorRefused
        3  RunError::Optimizer
        3  RunError::Calibration
        3  RunError::Stack
        3  RunError::Journal(Corrupt)
        3  RunError::Bundle(Io)
        3  RunError::Io
        3  RunError::Diverged
        3  RunError::Wait
        3  RunError::Panicked
        1  CliError::Invalid
        1  CliError::Run(Plan)
        3  CliError::Run(Connect)
        1  CliError::Bundle(Incomplete)
        3  CliError::Journal(Locked)
        3  CliError::Replay(Panicked)
        3  CliError::TempDir
        1  CliError::OutExists
        1  CliError::NoJournal
        1  CliError::NoCampaign
        3  CliError::InputsMissing
        3  CliError::InputEdited
        1  CliError::SimulatedRun
        1  CliError::LabNeeded
        1  CliError::LabMismatch
        1  CliError::EmulationMismatch
        1  CliError::CampaignName
        1  CliError::FolderExists
        3  CliError::CreateFolder
        3  CliError::WriteFile
        1  CliError::ReadSource
        3  CliError::WriteSource
        3  CliError::Several(Input, Failed)
        ");
    }

    #[test]
    fn each_kind_has_its_exit_code() {
        assert_eq!(ErrorKind::Input.exit_code(), 1);
        assert_eq!(ErrorKind::Failed.exit_code(), 3);
        assert_eq!(ErrorKind::NoSuccess.exit_code(), 4);
        assert_eq!(ErrorKind::Signal(Signal::Hangup).exit_code(), 129);
        assert_eq!(ErrorKind::Signal(Signal::Interrupt).exit_code(), 130);
        assert_eq!(ErrorKind::Signal(Signal::Terminate).exit_code(), 143);
    }

    /// A refused plan is shown in the campaign's sources; the other errors on one line each.
    #[test]
    fn errors_report_as_diagnostics_or_error_lines() {
        let refused = CliError::of_run(RunError::Plan(Diagnostics::new()), &SourceMap::new());
        assert!(matches!(refused, CliError::Invalid { .. }));
        let several = CliError::all(vec![
            CliError::NoJournal { dir: "a".into() },
            CliError::NoCampaign { dir: "b".into() },
        ]);
        assert_eq!(
            several.map(|e| e.report(Style::Plain)).as_deref(),
            Some(
                "error: a holds no journal.jsonl (is it a qdx bundle?)\n\
                 error: b holds no campaign (is it a qdx bundle?)\n"
            )
        );
        assert!(CliError::all(Vec::new()).is_none());
    }
}
