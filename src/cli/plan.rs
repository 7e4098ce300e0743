//! `qdx plan FILE`

use std::io::Write as _;
use std::path::Path;

use super::{CliError, Outcome, PlanFormat};
use crate::diagnostic::Style;

pub fn run(file: &Path, format: PlanFormat, style: Style) -> Result<Outcome, CliError> {
    let checked = super::check::check_file(file);
    let campaign = super::usable(
        checked.campaign.as_ref(),
        &checked.diagnostics,
        &checked.sources,
        style,
    )?;
    let plan = crate::plan::plan(campaign).map_err(|diagnostics| CliError::Invalid {
        diagnostics,
        sources: checked.sources.clone(),
    })?;
    let text = match format {
        PlanFormat::Text => crate::plan::render::text(campaign, &plan),
        PlanFormat::Json => crate::files::plan::write(campaign, &plan),
        PlanFormat::Dot => crate::plan::render::dot(campaign, &plan),
    };
    let _ = write!(std::io::stdout().lock(), "{text}");
    Ok(Outcome::Success)
}
