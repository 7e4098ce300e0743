//! One document's analysis: the campaign loaded past its syntax errors, checked by the same
//! validator as `qdx check` when it parses, its diagnostics, and the index of its names.

use std::io;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostics;
use crate::load::{self, Loaded};
use crate::source::{FileId, SourceMap};
use crate::syntax::ast::Item;
use crate::validate::{self, Campaign};
use crate::world::{DiskWorld, World};

use super::index::Index;

/// The files open in the editor, read in place of the disk's: a campaign is checked with the
/// imports as they are being edited.
#[derive(Debug)]
pub struct Overlay<'a> {
    pub open: &'a std::collections::BTreeMap<PathBuf, String>,
}

impl World for Overlay<'_> {
    fn read(&self, path: &Path) -> io::Result<String> {
        match self.open.get(&crate::world::normalize(path)) {
            Some(text) => Ok(text.clone()),
            None => DiskWorld.read(path),
        }
    }

    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        DiskWorld.canonical(path).or_else(|e| {
            let p = crate::world::normalize(path);
            if self.open.contains_key(&p) {
                Ok(p)
            } else {
                Err(e)
            }
        })
    }
}

/// What a file is, checked as such (as `qdx check` decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// It has a `campaign` block: validated.
    Campaign,
    /// A lab binding file: checked on its own.
    Lab,
    /// Neither: a module other files import (`use "rig/common.qdx"`), or the standard library.
    /// It is validated as part of the campaign that imports it; on its own only its syntax and
    /// imports are checked.
    Module,
}

/// One analysis of one document.
#[derive(Debug)]
pub struct Analysis {
    pub kind: FileKind,
    /// Every module, those with syntax errors holding the blocks that parsed.
    pub loaded: Loaded,
    /// The document itself in `loaded` and `sources`.
    pub entry: Option<FileId>,
    /// `qdx check`'s diagnostics, or every block's syntax errors.
    pub diagnostics: Diagnostics,
    /// The loaded files plus what validation read (scripts), for the diagnostics.
    pub sources: SourceMap,
    /// The validated campaign, when it checks without errors.
    pub campaign: Option<Campaign>,
    pub index: Index,
}

impl Analysis {
    /// Whether hover can use it: it holds a validated campaign.
    pub fn is_good(&self) -> bool {
        self.campaign.is_some()
    }

    /// The document's text as analysed.
    pub fn text(&self) -> &str {
        self.entry
            .and_then(|f| self.sources.get(f))
            .map_or("", |f| f.text.as_str())
    }
}

/// Analyses the document at `path` (shown as `display`), reading files through `world`.
pub fn analyze(world: &dyn World, path: &Path, display: &str) -> Analysis {
    let loaded = load::load_recovering(world, path, display);
    let kind = match loaded.entry_ast() {
        Some(ast) if crate::bind::is_lab_file(ast) => FileKind::Lab,
        Some(ast)
            if ast.items.iter().any(|i| matches!(i, Item::Campaign(_)))
                || loaded.recovered && !ast.items.iter().any(|i| matches!(i, Item::Lab(_))) =>
        {
            FileKind::Campaign
        }
        Some(_) => FileKind::Module,
        None => FileKind::Campaign,
    };
    let index = Index::build(&loaded);
    let entry = loaded.entry;
    let (diagnostics, sources, campaign) = if loaded.recovered {
        let mut d = loaded.diagnostics.clone();
        d.sort();
        (d, loaded.sources.clone(), None)
    } else {
        match kind {
            FileKind::Campaign => {
                let checked = validate::validate(&loaded, world);
                (checked.diagnostics, checked.sources, checked.campaign)
            }
            FileKind::Lab => {
                let lab = crate::bind::check_lab(world, path, display, SourceMap::new(), None);
                (lab.diagnostics, lab.sources, None)
            }
            FileKind::Module => {
                let mut d = loaded.diagnostics.clone();
                d.sort();
                (d, loaded.sources.clone(), None)
            }
        }
    };
    Analysis {
        kind,
        loaded,
        entry,
        diagnostics,
        sources,
        campaign,
        index,
    }
}
