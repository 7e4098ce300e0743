//! `qdx fmt FILE…`: canonical formatting, in place or as a check. `-` is standard input,
//! formatted to standard output (for editors and pipes).

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
        let stdin = path.as_os_str() == "-";
        let display = if stdin {
            "<stdin>".to_owned()
        } else {
            path.to_string_lossy().replace('\\', "/")
        };
        let read = if stdin {
            read_stdin()
        } else {
            crate::world::read_text(path)
        };
        let text = match read {
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
            Ok(formatted) if stdin => {
                if check && formatted != text {
                    let _ = writeln!(out, "would reformat {display}");
                    unformatted = true;
                } else if !check {
                    let _ = out.write_all(formatted.as_bytes());
                }
            }
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

/// Standard input as text, refused like a file when it is not UTF-8.
fn read_stdin() -> std::io::Result<String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::io::stdin().lock().read_to_end(&mut bytes)?;
    crate::world::utf8_text(bytes)
}
