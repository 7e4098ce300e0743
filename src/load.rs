//! Loading a campaign: the entry file, its `use` imports (relative files and `std.*` modules),
//! each parsed once.
//!
//! Invariant of [`Loaded`]: every module was parsed without syntax errors, appears once, and
//! every relative import lies inside the campaign's folder tree (the entry file's folder).
//! [`load_recovering`], for editors, keeps a module with syntax errors as the blocks of it that
//! parse and says so in [`Loaded::recovered`]; validation refuses such a campaign.
//! Files that fail to load or parse are reported and left out; loading goes on with the rest
//! so that all errors are reported together.

use std::path::{Path, PathBuf};

use crate::diagnostic::codes::{self, load as code};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{FileId, Origin, SourceMap, Span};
use crate::syntax::{self, Ast, ast};
use crate::world::{PathProblem, World, resolve_inside};

/// The language versions this qdx reads.
pub const SUPPORTED_VERSIONS: &[&str] = &["1"];

/// The modules of the standard library, embedded in the binary.
pub const STDLIB: &[(&str, &str)] = &[
    ("std.devices", include_str!("../stdlib/devices.qdx")),
    ("std.spectra", include_str!("../stdlib/spectra.qdx")),
    ("std.reference", include_str!("../stdlib/reference.qdx")),
];

/// How a module came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleKind {
    /// The file named on the command line.
    Entry,
    /// A relative import, with its path relative to the campaign folder.
    File(String),
    /// A standard-library module (`std.devices`).
    Stdlib(String),
}

#[derive(Debug, Clone)]
pub struct Module {
    pub kind: ModuleKind,
    pub ast: Ast,
}

/// A loaded campaign (or lab file) with everything it imports.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub sources: SourceMap,
    /// The campaign's folder: every file it refers to must lie inside it.
    pub root: PathBuf,
    pub entry: Option<FileId>,
    /// The entry module first, then imports in the order first met.
    pub modules: Vec<Module>,
    pub diagnostics: Diagnostics,
    /// Loaded by [`load_recovering`] and some module had syntax errors: it holds the blocks
    /// that parsed. Such a campaign is for an editor's navigation; it is never validated.
    pub recovered: bool,
}

impl Loaded {
    pub fn entry_ast(&self) -> Option<&Ast> {
        self.modules
            .iter()
            .find(|m| m.kind == ModuleKind::Entry)
            .map(|m| &m.ast)
    }

    /// The folder of the file a span is in (for resolving paths written in it).
    pub fn dir_of(&self, file: FileId) -> PathBuf {
        match self.sources.get(file).map(|f| &f.origin) {
            Some(Origin::User(p)) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
            _ => self.root.clone(),
        }
    }
}

/// Loads `path` (shown in messages as `display`) and everything it imports.
pub fn load(world: &dyn World, path: &Path, display: &str) -> Loaded {
    load_after(world, path, display, SourceMap::new())
}

/// Like [`load`], adding the files to `sources` (a lab file loaded after its campaign, so that
/// one source map holds both and a diagnostic can point into either).
pub fn load_after(world: &dyn World, path: &Path, display: &str, sources: SourceMap) -> Loaded {
    load_with(world, path, display, sources, Parse::Strict)
}

/// Like [`load`], for editors: a module with syntax errors keeps the blocks that parse
/// ([`syntax::parse_recovering`]), every block's error is reported, and its imports are still
/// followed. When no module had a syntax error this is [`load`]'s result; otherwise
/// [`Loaded::recovered`] is set.
pub fn load_recovering(world: &dyn World, path: &Path, display: &str) -> Loaded {
    load_with(world, path, display, SourceMap::new(), Parse::Recovering)
}

/// How a module is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parse {
    /// A syntax error leaves the module out.
    Strict,
    /// A syntax error leaves out the block it is in (for editors).
    Recovering,
}

fn load_with(
    world: &dyn World,
    path: &Path,
    display: &str,
    sources: SourceMap,
    parse: Parse,
) -> Loaded {
    let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut loaded = Loaded {
        sources,
        root,
        entry: None,
        modules: Vec::new(),
        diagnostics: Diagnostics::new(),
        recovered: false,
    };
    match world.read(path) {
        Ok(text) => {
            let id = loaded
                .sources
                .add(display, Origin::User(crate::world::normalize(path)), text);
            loaded.entry = Some(id);
            load_module(world, &mut loaded, id, ModuleKind::Entry, parse);
        }
        Err(e) => loaded.diagnostics.push(
            Diagnostic::error(code::READ, format!("cannot read `{display}`: {e}"))
                .help("check the path; qdx reads campaign files as UTF-8 text"),
        ),
    }
    loaded
}

/// Loads text that is not on disk (tests, `qdx fmt` on stdin), with no imports of files.
pub fn load_text(display: &str, text: &str) -> Loaded {
    let world = crate::world::MemoryWorld::new().with(display, text);
    load(&world, Path::new(display), display)
}

fn load_module(world: &dyn World, loaded: &mut Loaded, id: FileId, kind: ModuleKind, parse: Parse) {
    let ast = match parse {
        Parse::Strict => match syntax::parse(&loaded.sources, id) {
            Ok(ast) => ast,
            Err(d) => {
                loaded.diagnostics.push(d);
                return;
            }
        },
        Parse::Recovering => {
            let (ast, errors) = syntax::parse_recovering(&loaded.sources, id);
            if !errors.is_empty() {
                loaded.recovered = true;
                loaded.diagnostics.extend(errors);
            }
            ast
        }
    };
    check_header(&ast, &loaded.sources, &mut loaded.diagnostics);
    let imports: Vec<ast::UseDecl> = ast
        .items
        .iter()
        .filter_map(|i| match i {
            ast::Item::Use(u) => Some(u.clone()),
            _ => None,
        })
        .collect();
    loaded.modules.push(Module { kind, ast });
    for u in imports {
        import(world, loaded, id, &u, parse);
    }
}

fn check_header(ast: &Ast, sources: &SourceMap, diags: &mut Diagnostics) {
    match &ast.header {
        None => {
            let start = sources
                .get(ast.file)
                .map(|f| f.text.len() - f.text.trim_start().len())
                .unwrap_or(0);
            diags.push(
                Diagnostic::error(codes::syntax::MISSING_VERSION, "missing version header")
                    .label(Span::new(ast.file, start, start), "the file should start with `qdx 1`")
                    .help("add `qdx 1` as the first line: it says which version of the language the file is written in"),
            );
        }
        Some(h) if !SUPPORTED_VERSIONS.contains(&h.version.as_str()) => diags.push(
            Diagnostic::error(
                codes::syntax::UNSUPPORTED_VERSION,
                format!("unsupported language version `{}`", h.version),
            )
            .label(h.version_span, "this qdx reads version 1")
            .help(format!(
                "this is qdx {}; it reads language version {}",
                env!("CARGO_PKG_VERSION"),
                SUPPORTED_VERSIONS.join(", ")
            )),
        ),
        Some(_) => {}
    }
}

fn import(world: &dyn World, loaded: &mut Loaded, from: FileId, u: &ast::UseDecl, parse: Parse) {
    match &u.target {
        ast::UseTarget::Module(path) => {
            let name = path.dotted();
            let Some((_, text)) = STDLIB.iter().find(|(n, _)| *n == name) else {
                let known: Vec<&str> = STDLIB.iter().map(|(n, _)| *n).collect();
                let mut d =
                    Diagnostic::error(code::UNKNOWN_MODULE, format!("unknown module `{name}`"))
                        .label(path.span, "no such module");
                d = match crate::names::closest(&name, known.iter().copied()) {
                    Some(s) => d.did_you_mean(path.span, s),
                    None => d.help(format!("the standard library has {}", known.join(", "))),
                };
                loaded.diagnostics.push(d);
                return;
            };
            if loaded
                .modules
                .iter()
                .any(|m| m.kind == ModuleKind::Stdlib(name.clone()))
            {
                return;
            }
            let file_name = format!("std/{}.qdx", name.trim_start_matches("std."));
            let id = loaded.sources.add(file_name, Origin::Stdlib, *text);
            load_module(world, loaded, id, ModuleKind::Stdlib(name), parse);
        }
        ast::UseTarget::File(s) => {
            let dir = loaded.dir_of(from);
            let path = match resolve_inside(&loaded.root, &dir, &s.value) {
                Ok(p) => p,
                Err(problem) => {
                    loaded
                        .diagnostics
                        .push(path_problem(problem, s.span, "import"));
                    return;
                }
            };
            // Symbolic links must not lead out of the folder either.
            if let (Ok(canon), Ok(root)) = (
                world.canonical(&path),
                world.canonical(&loaded.root_or_dot()),
            ) && !canon.starts_with(&root)
            {
                loaded
                    .diagnostics
                    .push(path_problem(PathProblem::OutsideFolder, s.span, "import"));
                return;
            }
            if let Some(existing) = loaded.sources.find_path(&path) {
                if Some(existing) == loaded.entry {
                    loaded.diagnostics.push(
                        Diagnostic::error(
                            code::IMPORT_CYCLE,
                            "a file cannot import the campaign that imports it",
                        )
                        .label(s.span, "this leads back to the campaign file"),
                    );
                }
                // Already loaded (a diamond or a cycle between imports): nothing more to do.
                return;
            }
            let text = match world.read(&path) {
                Ok(t) => t,
                Err(e) => {
                    loaded.diagnostics.push(
                        Diagnostic::error(code::READ, format!("cannot read `{}`: {e}", s.value))
                            .label(s.span, "imported here"),
                    );
                    return;
                }
            };
            let rel = relative_name(&loaded.root, &path);
            let id = loaded.sources.add(rel.clone(), Origin::User(path), text);
            load_module(world, loaded, id, ModuleKind::File(rel), parse);
        }
    }
}

impl Loaded {
    fn root_or_dot(&self) -> PathBuf {
        if self.root.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            self.root.clone()
        }
    }

    /// Resolves and reads a file the campaign refers to (script, table, prior data).
    pub fn read_relative(
        &self,
        world: &dyn World,
        from: Span,
        relative: &str,
        what: &str,
    ) -> Result<(String, String), Diagnostic> {
        let dir = from
            .file()
            .map(|f| self.dir_of(f))
            .unwrap_or_else(|| self.root.clone());
        let path =
            resolve_inside(&self.root, &dir, relative).map_err(|p| path_problem(p, from, what))?;
        if let (Ok(canon), Ok(root)) =
            (world.canonical(&path), world.canonical(&self.root_or_dot()))
            && !canon.starts_with(&root)
        {
            return Err(path_problem(PathProblem::OutsideFolder, from, what));
        }
        let text = world.read(&path).map_err(|e| {
            Diagnostic::error(code::READ, format!("cannot read `{relative}`: {e}"))
                .label(from, format!("the {what} is named here"))
                .help("paths are relative to the file that names them")
        })?;
        Ok((relative_name(&self.root, &path), text))
    }
}

fn relative_name(root: &Path, path: &Path) -> String {
    path.strip_prefix(crate::world::normalize(root))
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn path_problem(problem: PathProblem, span: Span, what: &str) -> Diagnostic {
    match problem {
        PathProblem::Absolute => Diagnostic::error(
            code::ABSOLUTE_PATH,
            format!("the {what} path must be relative to the campaign's folder"),
        )
        .label(span, "absolute path")
        .help("campaign files are shared between labs: keep every file they use inside the campaign's folder"),
        PathProblem::OutsideFolder => Diagnostic::error(
            code::OUTSIDE_FOLDER,
            format!("the {what} path leads outside the campaign's folder"),
        )
        .label(span, "outside the campaign's folder tree")
        .help("campaign files are shared between labs: keep every file they use inside the campaign's folder"),
        PathProblem::Empty => Diagnostic::error(code::EMPTY_PATH, format!("the {what} path is empty")).at(span),
    }
}
