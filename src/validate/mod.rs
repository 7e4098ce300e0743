//! Stage 2, validate: the parsed modules of a campaign → [`Campaign`].
//!
//! Validation resolves every name, checks every unit, checks the reactor's topology, proves
//! that every device setting stays within its limits and the safety envelope over the whole
//! variable box, and checks objectives, optimizer and budgets against each other. It never
//! stops at the first problem: each check records its diagnostics and the next goes on with
//! what could be resolved, so the user sees every error at once. A campaign is returned only
//! when there are no errors (warnings are fine).

pub mod bounds;
pub mod campaign;
mod data;
mod droplets;
pub mod durations;
pub mod expr;
mod fit;
pub mod ids;
pub(crate) mod kinds;
mod lights;
mod lines;
pub(crate) mod measure;
mod objectives;
mod reactor;
mod safety;
mod scripts;
mod simulate;
mod space;
pub mod strategy;
pub mod summary;
mod transient;

use std::collections::BTreeMap;

pub use campaign::Campaign;
/// What an editor completes: the options of each optimizer strategy (with what they take),
/// the chemistry models with their stock roles, the actions of a fault policy.
pub(crate) use objectives::OPTIONS as OPTIMIZER_OPTIONS;
pub(crate) use safety::ACTIONS as FAULT_ACTIONS;
pub(crate) use simulate::MODELS as SIMULATION_MODELS;

use crate::diagnostic::codes::validate as code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::load::{Loaded, ModuleKind};
use crate::source::{FileId, Origin, SourceMap, Span};
use crate::syntax::ast::{self, Item};
use crate::world::World;
use campaign::*;
use kinds::KindDef;

/// Result of validation: the campaign when there is no error, every diagnostic, and the
/// sources they point into (the loaded files plus scripts read during validation).
#[derive(Debug)]
pub struct Checked {
    pub campaign: Option<Campaign>,
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
}

/// Validates a loaded campaign. `world` reads the files the campaign refers to (scripts, tables,
/// prior data).
pub fn validate(loaded: &Loaded, world: &dyn World) -> Checked {
    let mut diags = loaded.diagnostics.clone();
    // A campaign loaded past its syntax errors holds only the blocks that parsed.
    if loaded.entry_ast().is_none() || loaded.recovered {
        diags.sort();
        return Checked {
            campaign: None,
            diagnostics: diags,
            sources: loaded.sources.clone(),
        };
    }
    let mut v = Validator::new(loaded, world);
    v.run();
    diags.extend(std::mem::take(&mut v.diags));
    diags.sort();
    let campaign = if diags.has_errors() {
        None
    } else {
        v.campaign.take()
    };
    Checked {
        campaign,
        diagnostics: diags,
        sources: v.sources,
    }
}

/// An error about something already reported; [`Validator::error`] drops it.
pub(crate) fn follow_on() -> Diagnostic {
    Diagnostic::error(code::FOLLOW_ON, "follows from an earlier error")
}

/// Items of every user module, each with the module it came from.
struct Items<'a> {
    list: Vec<(&'a ModuleKind, &'a Item)>,
}

impl<'a> Items<'a> {
    fn of<T>(&self, pick: impl Fn(&'a Item) -> Option<&'a T>) -> Vec<&'a T> {
        self.list.iter().filter_map(|(_, i)| pick(i)).collect()
    }
}

/// Everything validation has resolved so far; each pass adds to it.
pub(crate) struct Validator<'a> {
    loaded: &'a Loaded,
    world: &'a dyn World,
    diags: Diagnostics,
    /// The loaded sources plus files read during validation (scripts), for diagnostics.
    sources: SourceMap,
    items: Items<'a>,
    /// Stdlib modules the user imported (`std.devices`).
    imported_std: Vec<String>,
    kinds: BTreeMap<String, KindDef>,
    builtins: BTreeMap<String, &'a ast::BuiltinDecl>,
    references: BTreeMap<String, (&'a ast::ReferenceDecl, String)>,
    devices: Vec<Device>,
    stocks: Vec<Stock>,
    topology: Topology,
    /// Where each flow edge is first written (the port it leads to), for errors about the
    /// topology found after `topology` (the measured cell's lines).
    edge_at: BTreeMap<(DeviceId, DeviceId), Span>,
    variables: Vec<Variable>,
    compositions: Vec<Composition>,
    /// Parameter name → typed constant.
    parameters: BTreeMap<String, (expr::Typed, Span)>,
    derived: Vec<Derived>,
    constraints: Vec<Constraint>,
    measurement: Option<Measurement>,
    proxies: Vec<Proxy>,
    objectives: Option<Objectives>,
    optimizer: Option<OptimizerConfig>,
    priors: Vec<PriorSource>,
    safety: Safety,
    simulation: Option<Simulation>,
    /// The declared data files, read and parsed once (`data`), for scripts.
    data: std::sync::Arc<qdx_script::DataFiles>,
    files: Vec<CampaignFile>,
    /// Names used somewhere (for unused-declaration warnings).
    used: std::cell::RefCell<std::collections::BTreeSet<String>>,
    /// Declarations that already have an error (`var:x`, `device:x`, `setting:d.s`, `proxy:x`,
    /// `objective:x`): later checks stay silent about them instead of piling up follow-on errors.
    poisoned: std::cell::RefCell<std::collections::BTreeSet<String>>,
    campaign: Option<Campaign>,
}

impl<'a> Validator<'a> {
    fn new(loaded: &'a Loaded, world: &'a dyn World) -> Self {
        let mut list = Vec::new();
        let mut imported_std = Vec::new();
        for m in &loaded.modules {
            if let ModuleKind::Stdlib(name) = &m.kind {
                imported_std.push(name.clone());
            }
            for item in &m.ast.items {
                list.push((&m.kind, item));
            }
        }
        Self {
            loaded,
            world,
            diags: Diagnostics::new(),
            sources: loaded.sources.clone(),
            items: Items { list },
            imported_std,
            kinds: BTreeMap::new(),
            builtins: BTreeMap::new(),
            references: BTreeMap::new(),
            devices: Vec::new(),
            stocks: Vec::new(),
            topology: Topology::default(),
            edge_at: BTreeMap::new(),
            variables: Vec::new(),
            compositions: Vec::new(),
            parameters: BTreeMap::new(),
            derived: Vec::new(),
            constraints: Vec::new(),
            measurement: None,
            proxies: Vec::new(),
            objectives: None,
            optimizer: None,
            priors: Vec::new(),
            safety: Safety::default(),
            simulation: None,
            data: std::sync::Arc::default(),
            files: Vec::new(),
            used: std::cell::RefCell::new(std::collections::BTreeSet::new()),
            poisoned: std::cell::RefCell::new(std::collections::BTreeSet::new()),
            campaign: None,
        }
    }

    /// Adds a file read during validation, so diagnostics can point into it.
    fn add_source(&mut self, name: &str, text: &str) -> FileId {
        let path = self.loaded.root.join(name);
        if let Some(id) = self.sources.find_path(&path) {
            return id;
        }
        self.sources.add(name, Origin::User(path), text)
    }

    fn error(&mut self, d: Diagnostic) {
        if d.code != code::FOLLOW_ON {
            self.diags.push(d);
        }
    }

    /// Marks a declaration as already reported.
    fn poison(&self, key: impl Into<String>) {
        self.poisoned.borrow_mut().insert(key.into());
    }

    fn is_poisoned(&self, key: &str) -> bool {
        self.poisoned.borrow().contains(key)
    }

    fn mark_used(&self, name: &str) {
        self.used.borrow_mut().insert(name.to_owned());
    }

    fn run(&mut self) {
        self.record_files();
        self.check_item_placement();
        let header = self.campaign_header();
        self.collect_library();
        self.devices();
        self.stocks();
        self.topology();
        self.lines();
        self.variables();
        self.parameters();
        self.derive();
        self.constraints();
        self.safety();
        self.data_files();
        self.simulate();
        self.measurement();
        self.unused_by_virtual_lab();
        self.proxies();
        let fits = self.fits();
        self.reference_lines();
        self.lights();
        self.objectives();
        self.optimizer();
        self.prior_mean_check(&fits);
        self.lines_in_campaign();
        self.priors();
        self.prove_bounds();
        self.prove_droplets();
        self.prove_waits();
        self.prove_probe();
        self.prove_dispersion();
        self.budget_checks(&header);
        self.unused_warnings();
        if let Some((name, description, seed, version, budget)) = header
            && !self.diags.has_errors()
        {
            let objectives = self.objectives.take().unwrap_or(Objectives {
                list: Vec::new(),
                combine: Combine::Single,
                reference_point: None,
                requirements: Vec::new(),
                stop: None,
                map: None,
            });
            let mut optimizer = self.optimizer.take().unwrap_or_else(|| {
                OptimizerConfig::default_for(
                    self.variables.len(),
                    budget.experiments,
                    !objectives.list.is_empty() || objectives.map.is_some(),
                )
            });
            // Parallel lines run one experiment each per batch (`lines.rs` proved a written
            // batch says so).
            if self.topology.lines.len() > 1 && !lines::batch_written(self) {
                optimizer.batch = self.topology.lines.len() as u64;
            }
            // What the optimizer works with, built once here from the sections.
            let search = strategy::search(&strategy::Sections {
                variables: &self.variables,
                compositions: &self.compositions,
                constraints: &self.constraints,
                derived: &self.derived,
                proxies: &self.proxies,
                objectives: &objectives,
                optimizer: &optimizer,
                budget: &budget,
                simulation: self.simulation.as_ref(),
                priors: &self.priors,
                files: &self.files,
            });
            let search = match search {
                Ok(s) => s,
                Err(why) => {
                    self.error(
                        Diagnostic::error(
                            code::SEARCH_SPACE,
                            format!("the optimizer cannot work on this campaign: {why}"),
                        )
                        .at(optimizer.span),
                    );
                    return;
                }
            };
            // `span chosen`: only the Bayesian strategy chooses ramps (`qdx_optimize::ramp`).
            if let Some(t) = self
                .measurement
                .as_ref()
                .and_then(|m| m.transient.as_ref())
                .filter(|t| t.choice == RampSpan::Chosen)
                && !matches!(search.strategy, qdx_optimize::StrategySpec::Bayesian(_))
            {
                self.error(
                    Diagnostic::error(
                        code::TRANSIENT_UNSUPPORTED,
                        format!(
                            "`span chosen` needs `optimizer bayesian`; `{}` does not choose ramps",
                            optimizer.strategy.name()
                        ),
                    )
                    .at(t.span)
                    .label(optimizer.span, "the optimizer")
                    .help("the Bayesian strategy chooses each ramp's start and end by the expected improvement of its readings per lab hour; with another strategy write `span full` (or leave it out) to run the declared ramp"),
                );
                return;
            }
            if let Some(grid) = &search.grid {
                self.grid_checks(grid, &budget, &optimizer);
                if self.diags.has_errors() {
                    return;
                }
            }
            self.campaign = Some(Campaign {
                name,
                description,
                seed,
                language_version: version,
                budget,
                stocks: std::mem::take(&mut self.stocks),
                devices: std::mem::take(&mut self.devices),
                topology: std::mem::take(&mut self.topology),
                variables: std::mem::take(&mut self.variables),
                compositions: std::mem::take(&mut self.compositions),
                derived: std::mem::take(&mut self.derived),
                constraints: std::mem::take(&mut self.constraints),
                measurement: self.measurement.take(),
                proxies: std::mem::take(&mut self.proxies),
                objectives,
                optimizer,
                priors: std::mem::take(&mut self.priors),
                safety: std::mem::take(&mut self.safety),
                simulation: self.simulation.take(),
                data: std::sync::Arc::clone(&self.data),
                files: std::mem::take(&mut self.files),
                fits,
                search,
            });
        }
    }

    /// The entry file and its relative imports, as read.
    fn record_files(&mut self) {
        for m in &self.loaded.modules {
            let role = match &m.kind {
                ModuleKind::Entry => FileRole::Campaign,
                ModuleKind::File(_) => FileRole::Import,
                ModuleKind::Stdlib(_) => continue,
            };
            if let Some(f) = self.loaded.sources.get(m.ast.file) {
                let name = match &m.kind {
                    ModuleKind::File(rel) => rel.clone(),
                    _ => f.name.rsplit('/').next().unwrap_or(&f.name).to_owned(),
                };
                self.files.push(CampaignFile {
                    name,
                    role,
                    text: f.text.clone(),
                });
            }
        }
    }

    /// Some blocks belong only in some files: `campaign` in the entry file, `lab` in lab files,
    /// library declarations anywhere; one `measure`, `optimizer`, `simulate` per campaign.
    fn check_item_placement(&mut self) {
        let mut seen: BTreeMap<&'static str, Span> = BTreeMap::new();
        let mut found = Vec::new();
        for (module, item) in &self.items.list {
            let keyword = item.keyword();
            match item {
                Item::Campaign(c) if **module != ModuleKind::Entry => found.push(
                    Diagnostic::error(
                        code::CAMPAIGN_IN_IMPORT,
                        "only the campaign file itself can have a `campaign` block",
                    )
                    .label(c.span, "in an imported file"),
                ),
                Item::Lab(l) => found.push(
                    Diagnostic::error(
                        code::LAB_IN_CAMPAIGN,
                        "lab bindings belong in a lab file, not in the campaign",
                    )
                    .label(l.span, "a `lab` block")
                    .help("move it to its own file and pass it with `qdx run campaign.qdx --lab our-rig.qdx`, so the campaign travels between labs"),
                ),
                Item::Campaign(_) | Item::Measure(_) | Item::Optimizer(_) | Item::Simulate(_) => {
                    let span = item.span();
                    if let Some(first) = seen.get(keyword) {
                        found.push(
                            Diagnostic::error(
                                code::DUPLICATE_BLOCK,
                                format!("a campaign has one `{keyword}` block, this is a second one"),
                            )
                            .label(span, "second block")
                            .label(*first, "first block"),
                        );
                    } else {
                        seen.insert(keyword, span);
                    }
                }
                _ => {}
            }
        }
        for d in found {
            self.error(d);
        }
    }

    /// Name, description, seed, version and budget.
    fn campaign_header(&mut self) -> Option<(String, Option<String>, u64, u32, Budget)> {
        let entry = self.loaded.entry_ast()?;
        let version = entry
            .header
            .as_ref()
            .and_then(|h| h.version.split('.').next()?.parse::<u32>().ok())
            .unwrap_or(1);
        let campaigns = self.items.of(|i| match i {
            Item::Campaign(c) => Some(c),
            _ => None,
        });
        let Some(c) = campaigns.first().copied() else {
            let lab_file = entry.items.iter().any(|i| matches!(i, Item::Lab(_)));
            let start = entry.header.as_ref().map_or(entry.span, |h| h.span);
            let mut d = Diagnostic::error(code::NO_CAMPAIGN, "this file has no `campaign` block")
                .label(
                    start,
                    "a campaign file needs a `campaign \"name\" { … }` block",
                );
            d = if lab_file {
                d.help("this looks like a lab file: pass it with `--lab` next to a campaign")
            } else {
                d.help("add `campaign \"my-campaign\" { seed 1 }` after the version line")
            };
            self.error(d);
            return None;
        };
        for span in &c.repeated {
            self.error(
                Diagnostic::error(
                    code::DUPLICATE_ENTRY,
                    "this entry is given twice in the campaign block",
                )
                .label(*span, "given again here"),
            );
        }
        if c.name.value.trim().is_empty() {
            self.error(
                Diagnostic::error(code::EMPTY_NAME, "the campaign needs a name")
                    .label(c.name.span, "empty name"),
            );
        } else if c
            .name
            .value
            .chars()
            .any(|ch| ch == '/' || ch == '\\' || ch.is_control())
        {
            self.error(
                Diagnostic::error(code::CAMPAIGN_NAME, "the campaign name becomes a folder name; it cannot contain `/`, `\\` or control characters")
                    .at(c.name.span),
            );
        }
        let seed = match &c.seed {
            Some(s) => s.value,
            None => {
                self.error(
                    Diagnostic::warning(code::NO_SEED, "no seed: runs use seed 0")
                        .label(c.span, "this campaign has no `seed`")
                        .help("write `seed 42` (any number) so that the campaign's runs are reproducible by intent"),
                );
                0
            }
        };
        let budget = self.budget(c.budget.as_ref());
        Some((
            c.name.value.clone(),
            c.description.as_ref().map(|d| d.value.clone()),
            seed,
            version,
            budget,
        ))
    }

    /// Warns about declarations nothing uses (or mentions: an expression with an error still
    /// counts as a use of the names in it).
    fn unused_warnings(&mut self) {
        if self.diags.has_errors() {
            // Unused-declaration warnings next to real errors are mostly follow-on noise.
            return;
        }
        let used = self.used.borrow().clone();
        let mut warnings = Vec::new();
        for v in &self.variables {
            if !used.contains(&v.name) {
                warnings.push(
                    Diagnostic::warning(code::UNUSED_VARIABLE, format!("variable `{}` does not set anything", v.name))
                        .label(v.span, "never used")
                        .help("use it in `derive`, bind it to a device (`-> h1`), or feed it to the simulation; otherwise the optimizer explores a dimension that changes nothing"),
                );
            }
        }
        for (name, (_, span)) in &self.parameters {
            if !used.contains(name) {
                warnings.push(
                    Diagnostic::warning(
                        code::UNUSED_PARAMETER,
                        format!("parameter `{name}` is never used"),
                    )
                    .label(*span, "never used"),
                );
            }
        }
        for d in &self.derived {
            if let DerivedTarget::Named(n) = &d.target
                && !used.contains(n)
            {
                warnings.push(
                    Diagnostic::warning(
                        code::UNUSED_DERIVED,
                        format!("`{n}` is derived but never used"),
                    )
                    .label(d.span, "never used"),
                );
            }
        }
        for (_, item) in &self.items.list {
            if let Item::Kind(k) = item
                && !used.contains(&format!("kind:{}", k.name.name))
                && self.is_user_file(k.span)
            {
                warnings.push(
                    Diagnostic::warning(
                        code::UNUSED_KIND,
                        format!("device kind `{}` is never used", k.name.name),
                    )
                    .label(k.name.span, "declared here"),
                );
            }
        }
        for d in warnings {
            self.error(d);
        }
    }

    /// True when a span is in the campaign or one of its imported files (not the stdlib).
    fn is_user_file(&self, span: Span) -> bool {
        span.file()
            .and_then(|f| self.loaded.sources.get(f))
            .is_some_and(|f| {
                matches!(
                    f.origin,
                    crate::source::Origin::User(_) | crate::source::Origin::Memory
                )
            })
    }
}
