//! End-to-end tests of the `qdx` binary over the examples and the test corpus (each command's
//! own cases are in `cli_snapshots`).

use std::path::Path;
use std::process::Command;

use crate::cli_env::CliEnv;

fn qdx() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qdx"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    c
}

fn files(dir: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .expect("folder exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "qdx"))
        .map(|p| {
            format!(
                "{dir}/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            )
        })
        .collect();
    out.sort();
    out
}

/// Every example checks clean: an `ok` line each on stdout, not a warning on stderr.
#[test]
fn check_examples_exits_zero() {
    let env = CliEnv::new();
    env.copy("examples", "examples");
    let examples = files("examples");
    assert!(examples.len() >= 3);
    let mut args = vec!["check"];
    args.extend(examples.iter().map(String::as_str));
    insta::assert_snapshot!(env.run(&args), @r#"
        exit: 0
        --- stdout
        ok: examples/abdel-latif-2021-droplet.qdx (campaign "abdel-latif-droplet")
        ok: examples/artificial-chemist.qdx (campaign "artificial-chemist")
        ok: examples/bezinge-2018.qdx (campaign "bezinge-2018")
        ok: examples/branin-script.qdx (campaign "branin-script")
        ok: examples/cdse-arrhenius-fit.qdx (campaign "cdse-arrhenius-fit")
        ok: examples/cdse-grid-screen.qdx (campaign "cdse-grid-screen")
        ok: examples/cdse-kinetic-prior.qdx (campaign "cdse-kinetic-prior")
        ok: examples/cdse-krishnadasan.qdx (campaign "cdse-krishnadasan-2007")
        ok: examples/cdse-transient.qdx (campaign "cdse-transient")
        ok: examples/chan-2010-parallel-screen.qdx (campaign "chan-2010-parallel-screen")
        ok: examples/cspbx3-orange.qdx (campaign "cspbx3-orange-600nm")
        ok: examples/epps-2017-multipoint.qdx (campaign "epps-2017-multipoint")
        ok: examples/fong-2021-saxs.qdx (campaign "fong-2021-saxs")
        ok: examples/langner-2020-simplex.qdx (campaign "langner-2020-simplex")
        ok: examples/li-2020-cd.qdx (campaign "li-2020-cd")
        ok: examples/maceiczyk-2014-map.qdx (campaign "maceiczyk-2014-map")
        ok: examples/mekki-berrada-2021-spectrum.qdx (campaign "mekki-berrada-2021-spectrum")
        ok: examples/suzuki-pool.qdx (campaign "suzuki-pool")
        --- stderr
    "#);
}

#[test]
fn check_invalid_files_exit_one_naming_the_file() {
    for f in files("tests/data/invalid") {
        let out = qdx().args(["check", &f]).output().expect("qdx runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{f}: {stderr}");
        assert!(
            stderr.contains(&f) || stderr.contains(".rhai"),
            "{f}: the diagnostic should name the file:\n{stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "{f}: nothing on stdout for an invalid file"
        );
    }
}

/// `qdx new --dir`: the scaffolded campaign and lab file check clean together.
#[test]
fn new_scaffolds_a_campaign_and_a_lab_that_check_clean_together() {
    let env = CliEnv::new();
    insta::assert_snapshot!(env.run(&["new", "my-dots", "--dir", "campaigns"]), @r#"
        exit: 0
        --- stdout
        created campaigns/my-dots/
          my-dots.qdx   the campaign: reactor, variables, proxies, objectives, optimizer
          lab.qdx      the hardware binding for your rig (edit the ports)
        next: qdx check campaigns/my-dots/my-dots.qdx
        --- stderr
    "#);
    insta::assert_snapshot!(
        env.run(&[
            "check",
            "--lab",
            "campaigns/my-dots/lab.qdx",
            "campaigns/my-dots/my-dots.qdx",
        ]),
        @r#"
        exit: 0
        --- stdout
        ok: campaigns/my-dots/my-dots.qdx (campaign "my-dots")
        ok: campaigns/my-dots/lab.qdx (lab "my-dots-rig") binds every device of campaigns/my-dots/my-dots.qdx
        --- stderr
    "#,
    );
}

/// The examples and the example lab file are formatted.
#[test]
fn fmt_check_passes_on_examples() {
    let env = CliEnv::new();
    env.copy("examples", "examples");
    let mut args = vec!["fmt".to_owned(), "--check".to_owned()];
    args.extend(files("examples"));
    args.extend(files("examples/labs"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    insta::assert_snapshot!(env.run(&args), @r#"
        exit: 0
        --- stdout
        --- stderr
    "#);
}
