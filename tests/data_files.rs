//! Declared data files (`data { t "data/t.csv" }`): a script reads them by name, the bundle
//! keeps a copy that a replay uses, and a file reached through a link out of the campaign's
//! folder is refused.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::column;

fn qdx(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qdx"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    c
}

fn shown(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A small CdSe campaign whose proxy `total` is the sum of the data file's column `y`.
fn campaign(data_path: &str) -> String {
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/valid/cdse_small.qdx"),
    )
    .expect("cdse_small.qdx");
    base.replace("budget { experiments 30 }", "budget { experiments 3 }")
        .replace(
            "use std.spectra\n",
            &format!("use std.spectra\n\ndata {{\n  t \"{data_path}\"\n}}\n"),
        )
        .replace(
            "  intensity = photoluminescence.peak_intensity()\n",
            "  intensity = photoluminescence.peak_intensity()\n  total = script \"\"\"\n    sum(data(\"t\").y) * 1.0\n\"\"\"\n",
        )
        .replace("initial sobol 8", "initial sobol 3")
}

#[test]
fn a_script_reads_a_declared_file_and_the_bundle_keeps_the_copy_a_replay_uses() {
    let dir = tempfile::tempdir().expect("temp");
    let root = dir.path();
    std::fs::create_dir_all(root.join("c/data")).expect("folders");
    std::fs::write(root.join("c/campaign.qdx"), campaign("data/t.csv")).expect("campaign");
    let table = "x;y\n1;1.5\n2;2\n3;3\n";
    std::fs::write(root.join("c/data/t.csv"), table).expect("data");

    let out = qdx(root)
        .args(["run", "c/campaign.qdx", "-q", "--out", "b"])
        .output()
        .expect("qdx runs");
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let totals = column(&root.join("b/observations.csv"), "total");
    assert_eq!(totals, vec![Some(6.5); 3]);
    // The bundle stores the file as read, and its manifest hashes it.
    assert_eq!(
        std::fs::read_to_string(root.join("b/campaign/data/t.csv")).expect("stored copy"),
        table
    );
    let manifest = std::fs::read_to_string(root.join("b/manifest.json")).expect("manifest");
    assert!(manifest.contains("\"campaign/data/t.csv\""), "{manifest}");

    // The original changes after the run: the replay reads the bundle's copy, not it.
    std::fs::write(root.join("c/data/t.csv"), "x;y\n1;100\n").expect("edit");
    let replay = qdx(root).args(["replay", "b"]).output().expect("qdx runs");
    assert_eq!(replay.status.code(), Some(0), "{}", shown(&replay));
    // And an edited stored copy is caught.
    std::fs::write(root.join("b/campaign/data/t.csv"), "x;y\n1;100\n").expect("edit");
    let verify = qdx(root).args(["verify", "b"]).output().expect("qdx runs");
    assert_eq!(verify.status.code(), Some(1), "{}", shown(&verify));
    assert!(
        String::from_utf8_lossy(&verify.stderr)
            .contains("campaign/data/t.csv: differs from the manifest"),
        "{}",
        shown(&verify)
    );
}

#[cfg(unix)]
#[test]
fn a_data_file_behind_a_link_out_of_the_campaign_folder_is_refused() {
    let dir = tempfile::tempdir().expect("temp");
    let root = dir.path();
    std::fs::create_dir_all(root.join("c/data")).expect("folders");
    std::fs::write(root.join("outside.csv"), "x,y\n1,2\n").expect("outside file");
    std::os::unix::fs::symlink(root.join("outside.csv"), root.join("c/data/t.csv"))
        .expect("symlink");
    std::fs::write(root.join("c/campaign.qdx"), campaign("data/t.csv")).expect("campaign");
    let out = qdx(root)
        .args(["check", "c/campaign.qdx"])
        .output()
        .expect("qdx runs");
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("qdx::load::outside_folder")
            && stderr.contains("the data file path leads outside the campaign's folder"),
        "{}",
        shown(&out)
    );
}
