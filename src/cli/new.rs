//! `qdx new NAME`: a campaign folder from templates that check clean.

use std::io::Write as _;
use std::path::Path;

use super::{CliError, Outcome};

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

pub fn run(name: &str, dir: &Path) -> Result<Outcome, CliError> {
    if !valid_name(name) {
        return Err(CliError::CampaignName {
            name: name.to_owned(),
        });
    }
    let folder = dir.join(name);
    if folder.exists() {
        return Err(CliError::FolderExists { folder });
    }
    std::fs::create_dir_all(&folder).map_err(|source| CliError::CreateFolder {
        folder: folder.clone(),
        source,
    })?;
    for (file, text) in files(name) {
        let path = folder.join(&file);
        std::fs::write(&path, text).map_err(|source| CliError::WriteFile { path, source })?;
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
    Ok(Outcome::Success)
}
