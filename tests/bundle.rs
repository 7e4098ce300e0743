//! Bundle integrity: finalisation cut short, the startup window, replay of resumed bundles,
//! the manifest's description of the run, edits to the stored campaign, one writer at a time,
//! void records kept out of the derived files.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const CAMPAIGN: &str = "examples/cspbx3-orange.qdx";

fn qdx() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qdx"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    c
}

/// The exit code and both streams, with the bundle's path shown as `[BUNDLE]`.
fn shown(out: &Output, bundle: &Path) -> String {
    let path = bundle.display().to_string();
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).replace(&path, "[BUNDLE]"),
        String::from_utf8_lossy(&out.stderr).replace(&path, "[BUNDLE]")
    )
}

fn run_to(bundle: &Path, extra: &[&str]) -> Output {
    let out = qdx()
        .args(["run", CAMPAIGN, "-q"])
        .args(extra)
        .arg("--out")
        .arg(bundle)
        .output()
        .expect("qdx runs");
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out, bundle));
    out
}

/// Starts a run that stops after journal record `halt` and waits there (holding the bundle)
/// until it is killed.
fn halted_run(bundle: &Path, halt: u64, extra: &[&str]) -> Child {
    let mut child = qdx()
        .args(["run", CAMPAIGN, "-q", "--halt-after", &halt.to_string()])
        .args(extra)
        .arg("--out")
        .arg(bundle)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("qdx starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line).expect("a line");
    assert!(line.contains("halted"), "{line}");
    child
}

fn killed_at(bundle: &Path, halt: u64, extra: &[&str]) {
    let mut child = halted_run(bundle, halt, extra);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}

fn journal(bundle: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(bundle.join("journal.jsonl"))
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a record"))
        .collect()
}

fn manifest(bundle: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(bundle.join("manifest.json")).expect("manifest"))
        .expect("json")
}

fn resume(bundle: &Path) -> Output {
    qdx()
        .args(["resume", "-q"])
        .arg(bundle)
        .output()
        .expect("qdx runs")
}

fn code(cmd: &str, bundle: &Path) -> Option<i32> {
    qdx()
        .arg(cmd)
        .arg(bundle)
        .output()
        .expect("qdx runs")
        .status
        .code()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("dir") {
        let p = e.expect("entry").path();
        let target = to.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).expect("copy");
        }
    }
}

/// A way a bundle's writing is cut short.
type Cut = fn(&Path);

/// Killed after the journal's last record, while the derived files were written: one
/// half-written temporary file, no report, no manifest.
fn cut_killed(b: &Path) {
    std::fs::remove_file(b.join("manifest.json")).expect("rm");
    std::fs::remove_file(b.join("report.html")).expect("rm");
    std::fs::write(b.join(".qdx-tmp-report.html-99999"), "<html>").expect("temp");
}

/// A manifest torn by a full disk (as a non-atomic write leaves it), a derived file empty.
fn cut_disk_full(b: &Path) {
    let text = std::fs::read_to_string(b.join("manifest.json")).expect("manifest");
    std::fs::write(b.join("manifest.json"), &text[..text.len() / 2]).expect("tear");
    std::fs::write(b.join("observations.csv"), "").expect("truncate");
}

/// Item 14: a kill or a full disk while a finished run writes its bundle (the journal says
/// `finished`, the manifest is missing or torn) leaves a bundle `qdx resume` completes, the
/// same bundle the uninterrupted writing gives; resuming it again changes nothing.
#[test]
fn resume_completes_a_bundle_whose_writing_was_cut_short() {
    let dir = tempfile::tempdir().expect("temp");
    let full = dir.path().join("full");
    run_to(&full, &[]);
    let id = manifest(&full)["bundle_id"].clone();

    let cases: [(&str, Cut); 2] = [("killed", cut_killed), ("disk full", cut_disk_full)];
    for (case, cut) in cases {
        let bundle = dir.path().join(case.replace(' ', "-"));
        copy_dir(&full, &bundle);
        cut(&bundle);
        let verify = qdx().arg("verify").arg(&bundle).output().expect("qdx runs");
        assert_eq!(verify.status.code(), Some(1), "{case}: incomplete");
        if case == "killed" {
            insta::assert_snapshot!("verify_of_a_cut_bundle", shown(&verify, &bundle));
        }
        let out = resume(&bundle);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{case}: {}",
            shown(&out, &bundle)
        );
        insta::assert_snapshot!("resume_completes_a_cut_bundle", shown(&out, &bundle));
        assert_eq!(code("verify", &bundle), Some(0), "{case}: verifies");
        assert_eq!(
            manifest(&bundle)["bundle_id"],
            id,
            "{case}: the same bundle"
        );
        assert!(!bundle.join(".qdx-tmp-report.html-99999").exists());
        // Idempotent: nothing left to do.
        let again = resume(&bundle);
        insta::assert_snapshot!("resume_of_a_complete_bundle", shown(&again, &bundle));
        assert_eq!(manifest(&bundle)["bundle_id"], id);
    }
}

/// Item 15: the `started` record, with the seed `--seed` gave, is the first thing a run
/// writes. Issue 14, items 15 and 20: a bundle appears at its path only once that record and the
/// run's inputs are stored. A kill in the startup window leaves no bundle (only the hidden
/// folder it was being prepared in), so `qdx run` with the same `--out` starts it again and
/// gives the bundle an uninterrupted run gives.
#[test]
fn a_kill_in_the_startup_window_leaves_no_bundle_and_run_starts_again() {
    let dir = tempfile::tempdir().expect("temp");
    let full = dir.path().join("full");
    run_to(&full, &["--seed", "7"]);
    let bundle = dir.path().join("b");
    killed_at(&bundle, 0, &["--seed", "7"]);
    assert!(!bundle.exists(), "no bundle before its inputs are stored");
    let staged: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".b.qdx-start-"))
        })
        .collect();
    assert_eq!(staged.len(), 1, "the folder the bundle was prepared in");
    let records = journal(&staged[0]);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["event"], "started");
    assert_eq!(records[0]["seed"], 7);
    assert!(
        !staged[0].join("campaign").exists() && !staged[0].join("plan.json").exists(),
        "nothing before the started record"
    );
    let out = resume(&bundle);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out, &bundle));
    run_to(&bundle, &["--seed", "7"]);
    assert_eq!(manifest(&bundle)["bundle_id"], manifest(&full)["bundle_id"]);
}

/// Issue 14, items 15 and 20: a kill right after the startup window (the first command
/// journaled, not yet sent) leaves a bundle that `qdx resume` goes on with, with its seed.
#[test]
fn a_kill_right_after_startup_resumes_with_its_seed() {
    let dir = tempfile::tempdir().expect("temp");
    let full = dir.path().join("full");
    run_to(&full, &["--seed", "7"]);
    let bundle = dir.path().join("b");
    killed_at(&bundle, 1, &["--seed", "7"]);
    let out = resume(&bundle);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out, &bundle));
    assert_eq!(manifest(&bundle)["seed"], 7);
    for file in ["observations.csv", "report.html"] {
        assert!(
            std::fs::read(bundle.join(file)).ok() == std::fs::read(full.join(file)).ok(),
            "{file} of the resumed bundle is that of the uninterrupted run"
        );
    }
    let replay = qdx().arg("replay").arg(&bundle).output().expect("qdx runs");
    assert_eq!(replay.status.code(), Some(0), "{}", shown(&replay, &bundle));
}

/// Item 15: a bundle of an earlier qdx cut short while storing its inputs (its `started`
/// record written, its campaign not) is refused, not resumed with the campaign's seed; the
/// message says how to start it again, with its seed (`qdx run` on the folder would refuse it).
#[test]
fn resume_refuses_a_bundle_whose_inputs_were_never_stored() {
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("b");
    killed_at(&bundle, 1, &["--seed", "7"]);
    std::fs::remove_dir_all(bundle.join("campaign")).expect("rm");
    let lines: Vec<String> = std::fs::read_to_string(bundle.join("journal.jsonl"))
        .expect("journal")
        .lines()
        .take(1)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(bundle.join("journal.jsonl"), lines.concat()).expect("cut");
    let out = resume(&bundle);
    insta::assert_snapshot!(shown(&out, &bundle));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(journal(&bundle).len(), 1, "resume wrote nothing");
}

/// Item 15: a bundle whose journal lacks its `started` record (the startup window of earlier
/// versions) is refused, not resumed with the campaign's seed.
#[test]
fn resume_refuses_a_journal_without_its_started_record() {
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("b");
    run_to(&bundle, &["--seed", "7"]);
    std::fs::write(bundle.join("journal.jsonl"), "").expect("empty journal");
    std::fs::remove_file(bundle.join("manifest.json")).expect("rm");
    let out = resume(&bundle);
    insta::assert_snapshot!(shown(&out, &bundle));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        std::fs::read_to_string(bundle.join("journal.jsonl")).expect("journal"),
        "",
        "nothing ran"
    );
}

/// Item 16: a resumed bundle replays (its void records are not part of the run), and its
/// derived files hold no trace of the experiment the interruption voided.
#[test]
fn a_resumed_bundle_replays_and_keeps_void_experiments_out_of_its_files() {
    let dir = tempfile::tempdir().expect("temp");
    let full = dir.path().join("full");
    run_to(&full, &[]);
    let bundle = dir.path().join("resumed");
    // Record 200 falls inside an experiment: its suggestion is journaled, its measurement not.
    killed_at(&bundle, 200, &[]);
    let out = resume(&bundle);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out, &bundle));
    assert!(
        journal(&bundle)
            .iter()
            .any(|r| r["event"] == "resumed" && r["void_from"] != r["void_to"]),
        "the kill voided records"
    );
    for file in [
        "optimizer/suggestions.jsonl",
        "observations.csv",
        "report.html",
    ] {
        assert!(
            std::fs::read(bundle.join(file)).ok() == std::fs::read(full.join(file)).ok(),
            "{file} of the resumed bundle is that of the uninterrupted run"
        );
    }
    let replay = qdx().arg("replay").arg(&bundle).output().expect("qdx runs");
    assert_eq!(replay.status.code(), Some(0), "{}", shown(&replay, &bundle));
}

/// Item 16: `replay` compares the bundle's files with the replay's, not the manifest's hashes
/// of them.
#[test]
fn replay_compares_the_files_themselves() {
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("b");
    run_to(&bundle, &[]);
    let spectrum = bundle.join("spectra/e0002-photoluminescence-r0.csv");
    let text = std::fs::read_to_string(&spectrum).expect("spectrum");
    std::fs::write(&spectrum, text.replacen(',', ",1", 1)).expect("edit");
    let out = qdx().arg("replay").arg(&bundle).output().expect("qdx runs");
    insta::assert_snapshot!(shown(&out, &bundle));
    assert_eq!(out.status.code(), Some(1));
}

/// Item 16: the manifest's description of the run (seed, experiments, stop reason) is checked
/// against the journal, which its hashes cover.
#[test]
fn verify_checks_what_the_manifest_says_of_the_run() {
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("b");
    run_to(&bundle, &[]);
    let mut m = manifest(&bundle);
    m["seed"] = 43.into();
    m["experiments"] = 99.into();
    m["stop_reason"] = "the budget is spent".into();
    std::fs::write(
        bundle.join("manifest.json"),
        serde_json::to_string_pretty(&m).expect("json"),
    )
    .expect("edit");
    let out = qdx().arg("verify").arg(&bundle).output().expect("qdx runs");
    insta::assert_snapshot!(shown(&out, &bundle));
    assert_eq!(out.status.code(), Some(1));
}

/// Item 16: `resume` refuses a bundle whose stored campaign was edited since the run started
/// (here its budget), rather than going on with the edit.
#[test]
fn resume_refuses_an_edited_stored_campaign() {
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("b");
    killed_at(&bundle, 150, &[]);
    let stored = bundle.join("campaign/cspbx3-orange.qdx");
    let text = std::fs::read_to_string(&stored).expect("stored campaign");
    std::fs::write(&stored, text.replace("experiments 80", "experiments 12")).expect("edit");
    let before = journal(&bundle).len();
    let out = resume(&bundle);
    insta::assert_snapshot!(shown(&out, &bundle));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(journal(&bundle).len(), before, "resume wrote nothing");
}

/// Item 16: one process at a time writes a bundle: a resume while its run is still going is
/// refused, and the run's journal is left alone.
#[test]
fn a_bundle_in_use_is_refused() {
    let dir = tempfile::tempdir().expect("temp");
    let bundle: PathBuf = dir.path().join("b");
    let mut running = halted_run(&bundle, 150, &[]);
    let before = std::fs::read(bundle.join("journal.jsonl")).expect("journal");
    let out = resume(&bundle);
    let _ = running.kill();
    let _ = running.wait();
    insta::assert_snapshot!(shown(&out, &bundle));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        std::fs::read(bundle.join("journal.jsonl")).expect("journal"),
        before,
        "the journal is untouched"
    );
}

/// Issue 14, item 19: a kill between the end-of-run safe state and `finished` (in the safe
/// state's commands, after its record, after `stopped`) leaves a run that already reached its
/// end. `qdx resume` ends it once: the interrupted ending is void, the live records hold one
/// safe state and one `stopped`, and the bundle replays and is that of the uninterrupted run.
#[test]
fn resume_after_the_end_of_the_run_ends_it_once() {
    let dir = tempfile::tempdir().expect("temp");
    let full = dir.path().join("full");
    run_to(&full, &[]);
    let records = journal(&full);
    let at = |event: &str| {
        records
            .iter()
            .rposition(|r| r["event"] == event)
            .expect("the record")
    };
    let safe_state = at("safe_state");
    let first_safe_command = (0..safe_state)
        .rev()
        .take_while(|k| records[*k]["event"] == "command")
        .last()
        .expect("the safe state's commands");
    let lines: Vec<String> = std::fs::read_to_string(full.join("journal.jsonl"))
        .expect("journal")
        .lines()
        .map(|l| format!("{l}\n"))
        .collect();
    for keep in [first_safe_command + 1, safe_state + 1, at("stopped") + 1] {
        let bundle = dir.path().join(format!("cut-{keep}"));
        copy_dir(&full, &bundle);
        std::fs::write(bundle.join("journal.jsonl"), lines[..keep].concat()).expect("cut");
        std::fs::remove_file(bundle.join("manifest.json")).expect("rm");
        let out = resume(&bundle);
        assert_eq!(out.status.code(), Some(0), "{}", shown(&out, &bundle));
        let replay = qdx().arg("replay").arg(&bundle).output().expect("qdx runs");
        assert_eq!(
            replay.status.code(),
            Some(0),
            "cut after {keep} records: {}",
            shown(&replay, &bundle)
        );
        let resumed = journal(&bundle);
        let (from, to) = resumed
            .iter()
            .find(|r| r["event"] == "resumed")
            .map(|r| (r["void_from"].as_u64(), r["void_to"].as_u64()))
            .expect("a resumed record");
        assert_eq!(
            (from, to),
            (Some(first_safe_command as u64), Some(keep as u64)),
            "the interrupted ending is void"
        );
        for file in ["observations.csv", "report.html"] {
            assert!(
                std::fs::read(bundle.join(file)).ok() == std::fs::read(full.join(file)).ok(),
                "cut after {keep} records: {file} is that of the uninterrupted run"
            );
        }
    }
}

/// Issue 14, item 22: a kill while `wall.jsonl` is written leaves a torn last line; the
/// resumed run cuts it off before appending, so every line of the file reads.
#[test]
fn resume_cuts_a_torn_line_off_the_wall_log() {
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("b");
    killed_at(&bundle, 150, &[]);
    let wall = bundle.join("wall.jsonl");
    let mut text = std::fs::read_to_string(&wall).expect("a wall log");
    let whole = text.lines().count();
    assert!(whole > 0);
    text.push_str("{\"what\":\"experiment\",\"exper");
    std::fs::write(&wall, text).expect("tear");
    let out = resume(&bundle);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out, &bundle));
    let text = std::fs::read_to_string(&wall).expect("the wall log");
    assert!(text.lines().count() > whole, "the resumed run appended");
    for line in text.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "a torn line in wall.jsonl: {line}"
        );
    }
    assert_eq!(code("verify", &bundle), Some(0));
}

/// Issue 14, item 25: when the report cannot be written (a full disk; here a folder in its
/// way, which fails the same write), the error names the report's path.
#[test]
fn a_report_that_cannot_be_written_is_named_by_its_path() {
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("b");
    run_to(&bundle, &[]);
    std::fs::remove_file(bundle.join("manifest.json")).expect("rm");
    std::fs::remove_file(bundle.join("report.html")).expect("rm");
    std::fs::create_dir_all(bundle.join("report.html/in-the-way")).expect("mkdir");
    let out = resume(&bundle);
    let shown = shown(&out, &bundle);
    assert_eq!(out.status.code(), Some(3), "{shown}");
    assert!(
        shown.contains("error: cannot write the report [BUNDLE]/report.html: "),
        "{shown}"
    );
}

/// Issue 17: the bundle describes its tables in `datapackage.json` (a Frictionless Data
/// Package): the observations schema is the CSV's header with a type and unit per column, and
/// `spectra.csv` links every acquired spectrum (as the journal records it, replicates from 0)
/// to its experiment.
#[test]
fn the_bundle_describes_its_tables_and_links_rows_to_spectra() {
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("b");
    run_to(&bundle, &[]);
    let read = |name: &str| std::fs::read_to_string(bundle.join(name)).expect(name);
    let package: serde_json::Value = serde_json::from_str(&read("datapackage.json")).expect("json");
    let resources = package["resources"].as_array().expect("resources");
    let resource = |name: &str| {
        resources
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no {name} resource"))
    };
    let fields = resource("observations")["schema"]["fields"]
        .as_array()
        .expect("fields");
    let observations = read("observations.csv");
    let header: Vec<&str> = observations
        .lines()
        .next()
        .expect("header")
        .split(',')
        .collect();
    let names: Vec<&str> = fields
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, header);
    let field = |name: &str| fields.iter().find(|f| f["name"] == name).expect(name);
    assert_eq!(field("experiment")["type"], "integer");
    assert_eq!(field("reason")["type"], "string");
    assert_eq!(field("peak [nm]")["type"], "number");
    assert_eq!(field("peak [nm]")["unit"], "nm");
    assert_eq!(field("plqy")["unit"], "");
    // Every file of the spectra index exists, and the index is what the journal acquired.
    let index = read("spectra.csv");
    let mut rows: Vec<String> = index.lines().skip(1).map(str::to_owned).collect();
    for row in &rows {
        let file = row.rsplit(',').next().expect("file");
        assert!(bundle.join(file).is_file(), "{file}");
    }
    let mut acquired: Vec<String> = read("journal.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["event"] == "acquired")
        .map(|r| {
            format!(
                "{},{},{},{}",
                r["experiment"],
                r["channel"].as_str().expect("channel"),
                r["replicate"],
                r["file"].as_str().expect("file")
            )
        })
        .collect();
    rows.sort();
    acquired.sort();
    assert!(!rows.is_empty());
    assert_eq!(rows, acquired);
    assert!(rows.iter().all(|r| r.ends_with("-r0.csv")), "{rows:?}");
}
