//! Corpus tests: every example and valid file checks clean and its validated summary is
//! snapshotted; every warning file validates with located warnings only, and every invalid file
//! fails with located diagnostics, both snapshotted with their source.

use crate::support::{check_path, relative, rendered};

#[test]
fn examples_check_clean() {
    insta::glob!("../examples", "*.qdx", |path| {
        let rel = relative(path);
        let checked = check_path(&rel);
        assert!(
            checked.diagnostics.is_empty(),
            "{} should check without diagnostics:\n{}",
            rel.display(),
            rendered(&checked)
        );
        let campaign = checked.campaign.expect("a valid campaign");
        insta::assert_snapshot!(qdx::validate::summary::summary(&campaign));
    });
}

#[test]
fn valid_files_check_clean() {
    insta::glob!("data/valid", "*.qdx", |path| {
        let rel = relative(path);
        let checked = check_path(&rel);
        assert!(
            !checked.diagnostics.has_errors(),
            "{}:\n{}",
            rel.display(),
            rendered(&checked)
        );
        let campaign = checked.campaign.expect("a valid campaign");
        insta::assert_snapshot!(qdx::validate::summary::summary(&campaign));
    });
}

#[test]
fn warning_files_validate_with_located_warnings() {
    let mut count = 0;
    insta::glob!("data/warn", "*.qdx", |path| {
        count += 1;
        let rel = relative(path);
        let source = std::fs::read_to_string(path).expect("readable test file");
        let checked = check_path(&rel);
        assert!(
            checked.campaign.is_some() && !checked.diagnostics.has_errors(),
            "{} should validate:\n{}",
            rel.display(),
            rendered(&checked)
        );
        assert!(
            !checked.diagnostics.is_empty(),
            "{} should warn",
            rel.display()
        );
        for d in checked.diagnostics.iter() {
            assert!(
                d.primary_span().and_then(|s| s.range()).is_some(),
                "{}: warning `{}` has no location",
                rel.display(),
                d.message
            );
        }
        insta::with_settings!({ description => source, omit_expression => true }, {
            insta::assert_snapshot!(rendered(&checked));
        });
    });
    assert!(count > 0, "no warning files found");
}

#[test]
fn invalid_files_report_located_errors() {
    let mut count = 0;
    insta::glob!("data/invalid", "*.qdx", |path| {
        count += 1;
        let rel = relative(path);
        let source = std::fs::read_to_string(path).expect("readable test file");
        let checked = check_path(&rel);
        assert!(
            checked.campaign.is_none(),
            "{} should not validate",
            rel.display()
        );
        assert!(
            checked.diagnostics.has_errors(),
            "{} should have errors",
            rel.display()
        );
        // Every error points into a file and names it in the rendering.
        for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
            let span = d.primary_span();
            assert!(
                span.and_then(|s| s.range()).is_some(),
                "{}: error `{}` has no location",
                rel.display(),
                d.message
            );
        }
        let text = rendered(&checked);
        assert!(
            text.contains(&rel.to_string_lossy().replace('\\', "/"))
                || text.contains("std/")
                || text.contains(".rhai")
        );
        insta::with_settings!({ description => source, omit_expression => true }, {
            insta::assert_snapshot!(text);
        });
    });
    assert!(
        count >= 40,
        "the invalid corpus has {count} files; the issue asks for at least 40"
    );
}

/// Every snapshot belongs to a test input that still exists (a renamed or deleted case must
/// not leave a stale snapshot behind).
#[test]
fn no_stale_snapshots() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = [
        ("main__corpus__examples_check_clean@", "examples"),
        ("main__corpus__valid_files_check_clean@", "tests/data/valid"),
        (
            "main__corpus__invalid_files_report_located_errors@",
            "tests/data/invalid",
        ),
    ];
    for entry in std::fs::read_dir(root.join("tests/snapshots")).expect("snapshots folder") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let Some(stem) = name.strip_suffix(".snap") else {
            continue;
        };
        if let Some((prefix, dir)) = dirs.iter().find(|(p, _)| stem.starts_with(p)) {
            let input = &stem[prefix.len()..];
            assert!(
                root.join(dir).join(input).exists(),
                "stale snapshot {name}: {dir}/{input} is gone"
            );
        }
    }
}
