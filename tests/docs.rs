//! What the READMEs show works as shown: every whole campaign in README.md checks clean and
//! runs on the simulated lab with successful experiments, its lab file binds, and every link
//! to a file of the project leads to one. (grammar/README.md's blocks are fragments: they are
//! parsed and held to the canonical layout in `grammar_examples.rs`.)

use std::path::{Path, PathBuf};

use qdx::runtime::RunOptions;

use crate::support;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ```qdx blocks of a markdown file.
fn qdx_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```qdx") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), l) => {
                block.push_str(l);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(from).expect("folder") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

#[test]
fn the_readmes_campaign_checks_and_runs_as_shown() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let campaigns: Vec<String> = qdx_blocks(&readme)
        .into_iter()
        .filter(|b| b.contains("\ncampaign \""))
        .collect();
    assert!(!campaigns.is_empty(), "README.md shows no campaign");
    for text in campaigns {
        // Copied verbatim next to the example's files (its proxy script), as a user would.
        let dir = tempfile::tempdir().expect("temp");
        copy_dir(
            &root().join("examples/proxies"),
            &dir.path().join("proxies"),
        );
        let path = dir.path().join("campaign.qdx");
        std::fs::write(&path, &text).expect("write");
        let checked = support::check_path(&path);
        assert!(
            !checked.diagnostics.has_errors(),
            "{}",
            support::rendered(&checked)
        );
        let campaign = checked.campaign.expect("a campaign");
        let options = RunOptions {
            progress: qdx::runtime::Progress::Off,
            sync_each: false,
            halt_after: None,
        };
        let summary = qdx::runtime::run_simulated(&campaign, &dir.path().join("b"), &options)
            .expect("the README's campaign runs");
        assert!(
            summary.failed < summary.experiments,
            "every experiment of the README's campaign failed ({summary:?})"
        );
    }
}

#[test]
fn the_readmes_lab_file_binds_the_campaign_it_is_for() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let labs: Vec<String> = qdx_blocks(&readme)
        .into_iter()
        .filter(|b| b.contains("\nlab \""))
        .collect();
    assert!(!labs.is_empty(), "README.md shows no lab file");
    // The lab binds the Krishnadasan example's devices (p_cd, p_se, stage, spec1).
    let checked = support::check_path(&root().join("examples/cdse-krishnadasan.qdx"));
    let campaign = checked.campaign.clone().expect("the example checks");
    for text in labs {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("lab.qdx");
        std::fs::write(&path, &text).expect("write");
        let lab = qdx::bind::check_lab(
            &qdx::world::DiskWorld,
            &path,
            "lab.qdx",
            checked.sources.clone(),
            Some(&campaign),
        );
        assert!(
            lab.binding.is_some(),
            "{}",
            qdx::diagnostic::render_all(
                &lab.diagnostics,
                &lab.sources,
                qdx::diagnostic::Style::Plain
            )
        );
    }
}

#[test]
fn every_link_of_the_readmes_leads_to_a_file() {
    for readme in [
        "README.md",
        "grammar/README.md",
        "ARCHITECTURE.md",
        "bench/README.md",
        "examples/README.md",
        "docs/report/README.md",
        "editors/README.md",
        "editors/tree-sitter-qdx/README.md",
        "editors/vscode/README.md",
    ] {
        let path = root().join(readme);
        let text = std::fs::read_to_string(&path).expect("readable");
        let dir = path.parent().expect("a folder");
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.contains("://") || target.starts_with('#') || target.is_empty() {
                continue;
            }
            let file = target.split('#').next().unwrap_or(target);
            assert!(
                dir.join(file).exists(),
                "{readme} links `{target}`, which is not there"
            );
        }
    }
}
