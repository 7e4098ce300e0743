//! `qdx fmt FILE…`: canonical formatting, in place or as a check.

use std::io::Write as _;
use std::path::PathBuf;

use crate::diagnostic::{Style, render};
use crate::source::{Origin, SourceMap};

pub fn run(files: &[PathBuf], check: bool, style: Style) -> u8 {
    let mut code = 0;
    let mut err = std::io::stderr().lock();
    let mut out = std::io::stdout().lock();
    for path in files {
        let display = path.to_string_lossy().replace('\\', "/");
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(err, "error: cannot read `{display}`: {e}");
                code = 1;
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
                    code = 1;
                } else if let Err(e) = std::fs::write(path, formatted) {
                    let _ = writeln!(err, "error: cannot write `{display}`: {e}");
                    code = super::exit::FAILED;
                } else {
                    let _ = writeln!(out, "formatted {display}");
                }
            }
            Err(d) => {
                let _ = write!(err, "{}", render(&d, &sources, style));
                code = 1;
            }
        }
    }
    code
}
