//! `qdx fmt FILE…`: canonical formatting, in place or as a check.

use std::io::Write as _;
use std::path::PathBuf;

use super::{CliError, Outcome};
use crate::diagnostic::Diagnostics;
use crate::source::{Origin, SourceMap};

/// Formats every file, going on past one that fails; the errors come after.
pub fn run(files: &[PathBuf], check: bool) -> Result<Outcome, CliError> {
    let mut errors = Vec::new();
    let mut unformatted = false;
    let mut out = std::io::stdout().lock();
    for path in files {
        let display = path.to_string_lossy().replace('\\', "/");
        let text = match crate::world::read_text(path) {
            Ok(t) => t,
            Err(source) => {
                errors.push(CliError::ReadSource {
                    file: display,
                    source,
                });
                continue;
            }
        };
        let mut sources = SourceMap::new();
        let id = sources.add(display.clone(), Origin::User(path.clone()), text.clone());
        match crate::format::format_file(&sources, id) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                if check {
                    let _ = writeln!(out, "would reformat {display}");
                    unformatted = true;
                } else if let Err(source) = std::fs::write(path, formatted) {
                    errors.push(CliError::WriteSource {
                        file: display,
                        source,
                    });
                } else {
                    let _ = writeln!(out, "formatted {display}");
                }
            }
            Err(d) => errors.push(CliError::Invalid {
                diagnostics: Diagnostics(vec![d]),
                sources,
            }),
        }
    }
    match CliError::all(errors) {
        Some(e) => Err(e),
        None if unformatted => Ok(Outcome::Found),
        None => Ok(Outcome::Success),
    }
}
