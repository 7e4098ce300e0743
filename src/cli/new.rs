//! `qdx new NAME`: a campaign folder from templates that check clean.

use std::io::Write as _;
use std::path::Path;

const CAMPAIGN: &str = include_str!("templates/campaign.qdx");
const LAB: &str = include_str!("templates/lab.qdx");

/// The two files of a new campaign named `name`: (file name, text).
pub fn files(name: &str) -> [(String, String); 2] {
    [
        (format!("{name}.qdx"), CAMPAIGN.replace("{name}", name)),
        ("lab.qdx".to_owned(), LAB.replace("{name}", name)),
    ]
}

/// A name that works as a campaign name and a folder name.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with('-')
}

pub fn run(name: &str, dir: &Path) -> u8 {
    let mut err = std::io::stderr().lock();
    if !valid_name(name) {
        let _ = writeln!(
            err,
            "error: `{name}` is not a usable campaign name: use letters, digits, `-` and `_`"
        );
        return 1;
    }
    let folder = dir.join(name);
    if folder.exists() {
        let _ = writeln!(
            err,
            "error: {} already exists; qdx new never overwrites files",
            folder.display()
        );
        return 1;
    }
    if let Err(e) = std::fs::create_dir_all(&folder) {
        let _ = writeln!(err, "error: cannot create {}: {e}", folder.display());
        return super::exit::FAILED;
    }
    for (file, text) in files(name) {
        let path = folder.join(&file);
        if let Err(e) = std::fs::write(&path, text) {
            let _ = writeln!(err, "error: cannot write {}: {e}", path.display());
            return super::exit::FAILED;
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "created {}/", folder.display());
    let _ = writeln!(
        out,
        "  {name}.qdx   the campaign: reactor, variables, proxies, objectives, optimizer"
    );
    let _ = writeln!(
        out,
        "  lab.qdx      the hardware binding for your rig (edit the ports)"
    );
    let _ = writeln!(out, "next: qdx check {}/{name}.qdx", folder.display());
    0
}
