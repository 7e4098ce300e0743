//! A test environment for the `qdx` binary, after jj's `TestEnvironment`: a temporary folder
//! that fixtures are copied into, the built binary run there with a fixed environment, and its
//! exit code, stdout and stderr shown together, for one snapshot to hold all three.
//!
//! ```text
//! exit: 1
//! --- stdout
//! …
//! --- stderr
//! …
//! ```
//!
//! The normalisations, and nothing else:
//! - the temporary folder's path (as given and canonical) is shown as `$TMP`;
//! - `qdx <version>` (`qdx --version`, the help of `unsupported_version`) is `qdx $VERSION`;
//! - on Windows, `\r\n` is `\n` and `\` is `/`;
//! - whatever a test adds with [`CliEnv::normalize`], by name: the bundle id
//!   ([`CliEnv::normalize_bundle_id`]).
//!
//! No wall-clock time or duration reaches stdout or stderr (a run prints lab time, which is
//! virtual and deterministic; the wall-clock times stay in the bundle's `manifest.json` and
//! `wall.jsonl`), so none is filtered: a snapshot that shows one is a finding.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder to run `qdx` in. Every test makes its own, so tests run in parallel.
#[derive(Debug)]
pub struct CliEnv {
    dir: tempfile::TempDir,
    /// (text as printed, what a snapshot shows instead), longest first when applied.
    normalize: Vec<(String, String)>,
}

impl Default for CliEnv {
    fn default() -> CliEnv {
        CliEnv::new()
    }
}

impl CliEnv {
    pub fn new() -> CliEnv {
        let dir = tempfile::Builder::new()
            .prefix("qdx-cli-")
            .tempdir()
            .expect("a temporary folder");
        // The child's own temporary files (the scratch bundle of `qdx replay`) stay in it.
        std::fs::create_dir(dir.path().join(".tmp")).expect("mkdir .tmp");
        let mut env = CliEnv {
            dir,
            normalize: Vec::new(),
        };
        let root = env.root().display().to_string();
        if let Ok(canonical) = env.root().canonicalize() {
            let canonical = canonical.display().to_string();
            if canonical != root {
                env.normalize(canonical, "$TMP");
            }
        }
        env.normalize(root, "$TMP");
        env.normalize(format!("qdx {}", env!("CARGO_PKG_VERSION")), "qdx $VERSION");
        env
    }

    /// The temporary folder: the working directory of every command.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the temporary folder.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    /// Copies a file or a folder of the crate (`examples/models`, `tests/data/cli/tiny.qdx`)
    /// to `to` in the temporary folder.
    pub fn copy(&self, from: &str, to: &str) {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join(from);
        copy_all(&from, &self.path(to));
    }

    /// Writes a file in the temporary folder, making its folder.
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    /// A file of the temporary folder.
    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).expect("read")
    }

    /// Shows `text` as `name` in every later output (a value the test cannot fix in advance).
    pub fn normalize(&mut self, text: impl Into<String>, name: &str) {
        let text = text.into();
        assert!(!text.is_empty(), "nothing to normalise to {name}");
        self.normalize.push((text, name.to_owned()));
        self.normalize
            .sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
    }

    /// Shows the bundle id that the manifest of `bundle` (a folder of the temporary folder)
    /// holds as `$BUNDLE_ID`. The id is a hash over every file of the bundle, the journal's
    /// `qdx_version` among them, so it changes with the version and with any byte of a
    /// spectrum: the snapshot holds that the id printed is the manifest's.
    pub fn normalize_bundle_id(&mut self, bundle: &str) {
        let manifest: serde_json::Value =
            serde_json::from_str(&self.read(&format!("{bundle}/manifest.json"))).expect("json");
        let id = manifest["bundle_id"].as_str().expect("an id").to_owned();
        assert_eq!(id.len(), 64, "{id}");
        self.normalize(id, "$BUNDLE_ID");
    }

    /// `qdx` ready to run in the temporary folder with a fixed environment: nothing inherited
    /// (a `CLICOLOR_FORCE`, `RUST_BACKTRACE` or `COLUMNS` of the caller would change the
    /// output), no colour, a dumb 100-column terminal, temporary files in `$TMP/.tmp`.
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_qdx"));
        c.current_dir(self.root())
            .env_clear()
            .env("NO_COLOR", "1")
            .env("TERM", "dumb")
            .env("COLUMNS", "100")
            .env("TMPDIR", self.path(".tmp"));
        c
    }

    /// Runs `qdx ARGS…` to its end, with no standard input.
    pub fn run(&self, args: &[&str]) -> CliOutput {
        let out = self
            .command()
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("qdx runs");
        self.output(&out)
    }

    /// Runs `qdx ARGS…` to its end with `input` on its standard input.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> CliOutput {
        use std::io::Write as _;
        let mut child = self
            .command()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("qdx starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("stdin written");
        let out = child.wait_with_output().expect("qdx runs");
        self.output(&out)
    }

    /// The normalised form of a finished process's output.
    pub fn output(&self, out: &Output) -> CliOutput {
        CliOutput {
            code: out.status.code(),
            signal: signal(&out.status),
            stdout: self.normalized(&String::from_utf8_lossy(&out.stdout)),
            stderr: self.normalized(&String::from_utf8_lossy(&out.stderr)),
        }
    }

    fn normalized(&self, text: &str) -> String {
        let mut text = text.to_owned();
        if cfg!(windows) {
            text = text.replace("\r\n", "\n");
        }
        for (from, to) in &self.normalize {
            text = text.replace(from, to);
            if cfg!(windows) {
                text = text.replace(&from.replace('\\', "/"), to);
            }
        }
        if cfg!(windows) {
            text = text.replace('\\', "/");
        }
        text
    }
}

#[cfg(unix)]
fn signal(status: &std::process::ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

#[cfg(not(unix))]
fn signal(_: &std::process::ExitStatus) -> Option<i32> {
    None
}

fn copy_all(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("a folder") {
            let path = entry.expect("an entry").path();
            copy_all(&path, &to.join(path.file_name().expect("a name")));
        }
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

/// What one `qdx` command did, normalised; its `Display` is the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliOutput {
    /// The exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for CliOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => writeln!(f, "exit: {code}")?,
            (None, Some(signal)) => writeln!(f, "exit: killed by signal {signal}")?,
            (None, None) => writeln!(f, "exit: none")?,
        }
        writeln!(f, "--- stdout")?;
        write!(f, "{}", self.stdout)?;
        if !self.stdout.is_empty() && !self.stdout.ends_with('\n') {
            writeln!(f, "\n[no newline at the end]")?;
        }
        writeln!(f, "--- stderr")?;
        write!(f, "{}", self.stderr)?;
        if !self.stderr.is_empty() && !self.stderr.ends_with('\n') {
            writeln!(f, "\n[no newline at the end]")?;
        }
        Ok(())
    }
}
