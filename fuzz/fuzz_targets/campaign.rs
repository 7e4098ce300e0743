//! Any text through every stage that reads a campaign without running it: load and validate,
//! draw every diagnostic, format, and plan what validates. A panic, an abort (a stack
//! overflow, an allocation failure) or a timeout is a bug; an error is not.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use qdx::diagnostic::{Style, render_all};
use qdx::world::MemoryWorld;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let name = "fuzz.qdx";
    let world = MemoryWorld::new().with(name, text);
    let loaded = qdx::load::load(&world, Path::new(name), name);
    let checked = qdx::validate::validate(&loaded, &world);
    let _ = render_all(&checked.diagnostics, &checked.sources, Style::Plain);
    for d in checked.diagnostics.iter() {
        let _ = qdx::diagnostic::to_json(d, &checked.sources);
    }
    if let Ok(formatted) = qdx::format::format_source(text, name) {
        // Formatting is idempotent: the canonical form formats to itself.
        assert_eq!(
            qdx::format::format_source(&formatted, name).ok().as_deref(),
            Some(formatted.as_str())
        );
    }
    if let Some(campaign) = &checked.campaign
        && let Ok(plan) = qdx::plan::plan(campaign)
    {
        let _ = qdx::plan::render::text(campaign, &plan);
    }
});
