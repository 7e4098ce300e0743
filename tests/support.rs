//! Helpers shared by the integration tests.

use std::path::Path;

use qdx::diagnostic::{Style, render_all};
use qdx::validate::{self, Checked};
use qdx::world::DiskWorld;

/// Loads and validates a file from disk, shown under its path relative to the crate root.
pub fn check_path(path: &Path) -> Checked {
    let display = path.to_string_lossy().replace('\\', "/");
    let loaded = qdx::load::load(&DiskWorld, path, &display);
    validate::validate(&loaded, &DiskWorld)
}

/// Loads and validates text with no files around it.
pub fn check_text(name: &str, text: &str) -> Checked {
    let world = qdx::world::MemoryWorld::new().with(name, text);
    let loaded = qdx::load::load(&world, Path::new(name), name);
    validate::validate(&loaded, &world)
}

/// Diagnostics drawn the fixed way snapshots use.
pub fn rendered(checked: &Checked) -> String {
    render_all(&checked.diagnostics, &checked.sources, Style::Plain)
}

/// The path of a test file relative to the crate root, with forward slashes.
pub fn relative(path: &Path) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

/// One column of a bundle's `observations.csv`, parsed (`None` where empty).
pub fn column(path: &Path, name: &str) -> Vec<Option<f64>> {
    let mut reader = csv::Reader::from_path(path).expect("observations");
    let header = reader.headers().expect("header").clone();
    let col = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    reader
        .records()
        .map(|row| {
            row.expect("a row")
                .get(col)
                .and_then(|c| c.parse::<f64>().ok())
        })
        .collect()
}

/// The `qdx` binary, run from the workspace without colour.
pub fn qdx() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_qdx"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    c
}

/// Runs `qdx run <campaign> -q` into `bundle` until it has journaled record `halt`, then kills
/// it (SIGKILL, as a power cut would): the bundle is left as a crash leaves it.
pub fn run_killed_after(campaign: &Path, bundle: &Path, halt: u64) {
    use std::io::BufRead as _;
    let mut child = qdx()
        .arg("run")
        .arg(campaign)
        .args(["-q", "--halt-after", &halt.to_string(), "--out"])
        .arg(bundle)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("qdx starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut line = String::new();
    std::io::BufReader::new(stderr)
        .read_line(&mut line)
        .expect("a line");
    assert!(line.contains("halted"), "{line}");
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}

/// Runs `qdx <args…>` and asserts it exits 0.
pub fn qdx_ok(args: &[&std::ffi::OsStr]) {
    let out = qdx().args(args).output().expect("qdx runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `campaign` whole into `<dir>/full`, then again into `<dir>/killed`, killed right after
/// the journal record of reading `tick` of `experiment` (as the whole run numbered it), so a
/// test can resume it mid-ramp or mid-train. Returns the whole run's and the killed run's
/// bundles.
pub fn run_whole_then_killed_at(
    campaign: &Path,
    dir: &Path,
    experiment: u64,
    tick: u32,
) -> (std::path::PathBuf, std::path::PathBuf) {
    use qdx::journal::Event;
    let full = dir.join("full");
    qdx_ok(&[
        "run".as_ref(),
        campaign.as_os_str(),
        "-q".as_ref(),
        "--out".as_ref(),
        full.as_os_str(),
    ]);
    let records =
        qdx::journal::live(&qdx::journal::read(&full.join("journal.jsonl")).expect("journal"));
    let halt = records
        .iter()
        .find(|r| {
            matches!(r.event, Event::Acquired { experiment: e, tick: Some(t), .. }
                if e == experiment && t == tick)
        })
        .map(|r| r.seq)
        .unwrap_or_else(|| panic!("experiment {experiment} has no reading {tick}"));
    let bundle = dir.join("killed");
    run_killed_after(campaign, &bundle, halt);
    (full, bundle)
}
