//! `qdx plan FILE`

use std::io::Write as _;
use std::path::Path;

use super::PlanFormat;
use crate::diagnostic::{Style, render_all};

pub fn run(file: &Path, format: PlanFormat, style: Style) -> u8 {
    let checked = super::check::check_file(file);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "{}",
        render_all(&checked.diagnostics, &checked.sources, style)
    );
    let Some(campaign) = checked.campaign else {
        return 1;
    };
    match crate::plan::plan(&campaign) {
        Ok(plan) => {
            let text = match format {
                PlanFormat::Text => crate::plan::render::text(&campaign, &plan),
                PlanFormat::Json => crate::files::plan::write(&campaign, &plan),
                PlanFormat::Dot => crate::plan::render::dot(&campaign, &plan),
            };
            let _ = write!(std::io::stdout().lock(), "{text}");
            0
        }
        Err(diags) => {
            let _ = write!(err, "{}", render_all(&diags, &checked.sources, style));
            1
        }
    }
}
