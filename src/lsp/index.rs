//! What every name of a campaign is and where it is used: the declarations of its modules
//! (devices, stocks, variables, parameters, derived values, proxies, measured channels, device
//! kinds with their properties and settings, built-in functions, reference dyes, imported
//! files) and every place a name refers to one of them, found by walking the syntax trees.
//!
//! Names resolve as validation resolves them, by where they stand: a stock's pump is a device,
//! an objective names a proxy, an expression's first name is a variable, a parameter, a
//! derived value, a proxy, a channel or a device, and a device's `.rate` is a setting of its
//! kind. A name that resolves to nothing is left out (validation reports it).

use std::collections::BTreeMap;

use crate::load::{Loaded, ModuleKind};
use crate::source::{FileId, Origin, Span};
use crate::syntax::ast::{self, ExprKind, Item};

/// What a declared name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SymbolKind {
    Device,
    Stock,
    Variable,
    Parameter,
    Derived,
    Proxy,
    Channel,
    Kind,
    /// A property a kind declares (`syringe`, `max_rate`).
    Property,
    /// A setting a kind declares (`rate`, `setpoint`).
    Setting,
    Builtin,
    Reference,
    /// A file brought in by `use` (the campaign's own or a standard-library module).
    File,
}

impl SymbolKind {
    pub fn describe(self) -> &'static str {
        match self {
            SymbolKind::Device => "device",
            SymbolKind::Stock => "stock",
            SymbolKind::Variable => "variable",
            SymbolKind::Parameter => "parameter",
            SymbolKind::Derived => "derived value",
            SymbolKind::Proxy => "proxy",
            SymbolKind::Channel => "measured channel",
            SymbolKind::Kind => "device kind",
            SymbolKind::Property => "property",
            SymbolKind::Setting => "setting",
            SymbolKind::Builtin => "spectral function",
            SymbolKind::Reference => "reference dye",
            SymbolKind::File => "file",
        }
    }

    /// Whether `qdx lsp` renames it: the names a campaign declares for itself.
    pub fn renamable(self) -> bool {
        matches!(
            self,
            SymbolKind::Device
                | SymbolKind::Stock
                | SymbolKind::Variable
                | SymbolKind::Parameter
                | SymbolKind::Derived
                | SymbolKind::Proxy
                | SymbolKind::Kind
                | SymbolKind::Reference
        )
    }
}

/// One declaration.
#[derive(Debug, Clone)]
pub struct Symbol {
    pub name: String,
    pub kind: SymbolKind,
    /// The name where it is declared (a file's start for a file).
    pub name_span: Span,
    /// The whole declaration.
    pub span: Span,
    /// The kind a property or setting belongs to, a device's kind, a kind's role, the
    /// composition of a component.
    pub container: Option<String>,
    /// The type a kind declares a property or setting with (`flow_rate`, `heater`).
    pub ty: Option<String>,
}

/// A name in the text and what it refers to.
#[derive(Debug, Clone, Copy)]
pub struct Occurrence {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
    pub symbol: usize,
    /// The declaration itself (the rest are references).
    pub declaration: bool,
}

/// Every declaration of a loaded campaign and every name that refers to one.
#[derive(Debug, Clone, Default)]
pub struct Index {
    pub symbols: Vec<Symbol>,
    /// In file order, then by position.
    pub occurrences: Vec<Occurrence>,
    /// Name → declarations, in the order met.
    by_name: BTreeMap<String, Vec<usize>>,
    /// Device name → the name of its kind.
    device_kinds: BTreeMap<String, String>,
}

/// What a name may be where it stands, most likely first.
const VALUE: &[SymbolKind] = &[
    SymbolKind::Variable,
    SymbolKind::Parameter,
    SymbolKind::Derived,
    SymbolKind::Proxy,
    SymbolKind::Channel,
    SymbolKind::Device,
    SymbolKind::Stock,
    SymbolKind::Reference,
];
const DEVICE: &[SymbolKind] = &[SymbolKind::Device];
const STOCK: &[SymbolKind] = &[SymbolKind::Stock];
const PROXY: &[SymbolKind] = &[SymbolKind::Proxy];
const VARIABLE: &[SymbolKind] = &[SymbolKind::Variable];
/// A property's value: a device (`heater h1`), a stock (`seeds seeds`), or a value.
const PROP_VALUE: &[SymbolKind] = &[
    SymbolKind::Device,
    SymbolKind::Stock,
    SymbolKind::Proxy,
    SymbolKind::Variable,
    SymbolKind::Parameter,
    SymbolKind::Derived,
    SymbolKind::Channel,
    SymbolKind::Reference,
];

impl Index {
    /// Indexes every module of `loaded`.
    pub fn build(loaded: &Loaded) -> Index {
        let mut index = Index::default();
        for m in &loaded.modules {
            index.declare(&m.ast, &m.kind, loaded);
        }
        for m in &loaded.modules {
            index.refer(&m.ast, loaded);
        }
        index
            .occurrences
            .sort_by_key(|o| (o.file, o.start, std::cmp::Reverse(o.end)));
        index
    }

    pub fn lookup(&self, name: &str, kinds: &[SymbolKind]) -> Option<usize> {
        let found = self.by_name.get(name)?;
        kinds.iter().find_map(|k| {
            found
                .iter()
                .copied()
                .find(|&i| self.symbols.get(i).is_some_and(|s| s.kind == *k))
        })
    }

    /// A property or setting of a kind.
    pub fn member(&self, kind: &str, name: &str) -> Option<usize> {
        self.by_name.get(name)?.iter().copied().find(|&i| {
            self.symbols.get(i).is_some_and(|s| {
                matches!(s.kind, SymbolKind::Property | SymbolKind::Setting)
                    && s.container.as_deref() == Some(kind)
            })
        })
    }

    pub fn device_kind(&self, device: &str) -> Option<&str> {
        self.device_kinds.get(device).map(String::as_str)
    }

    /// The declarations of a kind of symbol, in the order declared.
    pub fn of_kind(&self, kind: SymbolKind) -> impl Iterator<Item = &Symbol> {
        self.symbols.iter().filter(move |s| s.kind == kind)
    }

    /// The innermost occurrence at byte `offset` of `file` (its end included, so a cursor
    /// just after a name still finds it).
    pub fn at(&self, file: FileId, offset: usize) -> Option<&Occurrence> {
        self.occurrences
            .iter()
            .filter(|o| o.file == file && o.start <= offset && offset <= o.end)
            .min_by_key(|o| o.end - o.start)
    }

    /// Every occurrence of symbol `symbol`.
    pub fn occurrences_of(&self, symbol: usize) -> impl Iterator<Item = &Occurrence> {
        self.occurrences.iter().filter(move |o| o.symbol == symbol)
    }

    fn add_symbol(&mut self, symbol: Symbol) -> usize {
        let i = self.symbols.len();
        if let (Some(file), Some(r)) = (symbol.name_span.file(), symbol.name_span.range())
            && symbol.kind != SymbolKind::File
        {
            self.occurrences.push(Occurrence {
                file,
                start: r.start,
                end: r.end,
                symbol: i,
                declaration: true,
            });
        }
        self.by_name.entry(symbol.name.clone()).or_default().push(i);
        self.symbols.push(symbol);
        i
    }

    fn declare_name(
        &mut self,
        kind: SymbolKind,
        name: &ast::Ident,
        span: Span,
        container: Option<String>,
    ) {
        self.declare_typed(kind, name, span, container, None);
    }

    fn declare_typed(
        &mut self,
        kind: SymbolKind,
        name: &ast::Ident,
        span: Span,
        container: Option<String>,
        ty: Option<String>,
    ) {
        // A name declared twice is an error validation reports; the first one stands.
        if kind != SymbolKind::Property
            && kind != SymbolKind::Setting
            && self.lookup(&name.name, &[kind]).is_some()
        {
            return;
        }
        self.add_symbol(Symbol {
            name: name.name.clone(),
            kind,
            name_span: name.span,
            span,
            container,
            ty,
        });
    }

    fn refer_to(&mut self, span: Span, symbol: Option<usize>) {
        if let (Some(symbol), Some(file), Some(r)) = (symbol, span.file(), span.range()) {
            self.occurrences.push(Occurrence {
                file,
                start: r.start,
                end: r.end,
                symbol,
                declaration: false,
            });
        }
    }

    fn name(&mut self, ident: &ast::Ident, kinds: &[SymbolKind]) {
        let found = self.lookup(&ident.name, kinds);
        self.refer_to(ident.span, found);
    }

    fn declare(&mut self, ast: &ast::Ast, module: &ModuleKind, loaded: &Loaded) {
        let file_symbol = Symbol {
            name: match module {
                ModuleKind::Entry => loaded
                    .sources
                    .get(ast.file)
                    .map_or_else(String::new, |f| f.name.clone()),
                ModuleKind::File(rel) => rel.clone(),
                ModuleKind::Stdlib(name) => name.clone(),
            },
            kind: SymbolKind::File,
            name_span: Span::new(ast.file, 0, 0),
            span: ast.span,
            container: None,
            ty: None,
        };
        self.add_symbol(file_symbol);
        for item in &ast.items {
            match item {
                Item::Kind(k) => {
                    self.declare_name(SymbolKind::Kind, &k.name, k.span, Some(k.role.name.clone()));
                    for p in &k.properties {
                        self.declare_typed(
                            SymbolKind::Property,
                            &p.name,
                            p.span,
                            Some(k.name.name.clone()),
                            Some(p.ty.name.clone()),
                        );
                    }
                    for s in &k.settings {
                        self.declare_typed(
                            SymbolKind::Setting,
                            &s.name,
                            s.span,
                            Some(k.name.name.clone()),
                            Some(s.ty.name.clone()),
                        );
                    }
                }
                Item::Builtin(b) => self.declare_name(SymbolKind::Builtin, &b.name, b.span, None),
                Item::Reference(r) => {
                    self.declare_name(SymbolKind::Reference, &r.name, r.span, None);
                }
                Item::Reactor(block) => {
                    for entry in &block.entries {
                        if let ast::ReactorEntry::Device(d) = entry {
                            let kind = d
                                .kind
                                .segments
                                .last()
                                .map_or_else(String::new, |s| s.name.clone());
                            self.device_kinds
                                .entry(d.name.name.clone())
                                .or_insert_with(|| kind.clone());
                            self.declare_name(SymbolKind::Device, &d.name, d.span, Some(kind));
                        }
                    }
                }
                Item::Stocks(block) => {
                    for s in &block.entries {
                        self.declare_name(SymbolKind::Stock, &s.name, s.span, None);
                    }
                }
                Item::Variables(block) => {
                    for v in &block.entries {
                        self.declare_name(SymbolKind::Variable, &v.name, v.span, None);
                        if let ast::VariableType::Composition { components, .. } = &v.ty {
                            for c in components {
                                self.declare_name(
                                    SymbolKind::Variable,
                                    &c.name,
                                    c.span,
                                    Some(v.name.name.clone()),
                                );
                            }
                        }
                    }
                }
                Item::Parameters(block) => {
                    for p in &block.entries {
                        self.declare_name(SymbolKind::Parameter, &p.name, p.span, None);
                    }
                }
                Item::Derive(block) => {
                    for a in &block.entries {
                        if let [name] = a.target.segments.as_slice() {
                            self.declare_name(SymbolKind::Derived, name, a.span, None);
                        }
                    }
                }
                Item::Proxies(block) => {
                    for p in &block.entries {
                        self.declare_name(SymbolKind::Proxy, &p.name, p.span, None);
                    }
                }
                Item::Measure(m) => {
                    for e in &m.entries {
                        if let ast::MeasureEntry::Channel { name, span, .. } = e {
                            self.declare_name(SymbolKind::Channel, name, *span, None);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn refer(&mut self, ast: &ast::Ast, loaded: &Loaded) {
        for item in &ast.items {
            match item {
                Item::Use(u) => self.use_decl(u, ast.file, loaded),
                Item::Campaign(c) => {
                    for e in c.budget.iter().flat_map(|b| &b.entries) {
                        match e {
                            ast::BudgetEntry::Reagent { stock, amount } => {
                                self.name(stock, STOCK);
                                self.expr(amount);
                            }
                            ast::BudgetEntry::Time(x) => self.expr(x),
                            _ => {}
                        }
                    }
                }
                Item::Kind(k) => {
                    for s in &k.settings {
                        match &s.limits {
                            Some(ast::SettingLimits::Range(r)) => {
                                for end in [&r.lo, &r.hi] {
                                    self.kind_member_expr(end, &k.name.name);
                                }
                            }
                            Some(ast::SettingLimits::Property(p)) => {
                                let found = self.member(&k.name.name, &p.name);
                                self.refer_to(p.span, found);
                            }
                            None => {}
                        }
                    }
                }
                // Data files are named for scripts, which read them by a string.
                Item::Builtin(_) | Item::Data(_) => {}
                Item::Reference(r) => self.props(&r.props, None),
                Item::Stocks(block) => {
                    for s in &block.entries {
                        self.name(&s.pump, DEVICE);
                        if let Some(p) = &s.props {
                            self.props(p, None);
                        }
                    }
                }
                Item::Reactor(block) => {
                    for entry in &block.entries {
                        match entry {
                            ast::ReactorEntry::Device(d) => self.device(d),
                            ast::ReactorEntry::Connection(c) => {
                                for port in c.stages.iter().flatten() {
                                    self.name(&port.device, DEVICE);
                                }
                            }
                            // A line's name is a label, not a reference to anything.
                            ast::ReactorEntry::Lines(_) => {}
                        }
                    }
                }
                Item::Variables(block) => {
                    for v in &block.entries {
                        match &v.ty {
                            ast::VariableType::Continuous { range, .. }
                            | ast::VariableType::Integer { range } => self.range(range),
                            ast::VariableType::Composition { components, total } => {
                                for r in components.iter().filter_map(|c| c.range.as_ref()) {
                                    self.range(r);
                                }
                                if let Some(t) = total {
                                    self.expr(t);
                                }
                            }
                            ast::VariableType::Choice { .. } => {}
                        }
                        if let Some(b) = &v.binding {
                            self.setting_ref(b);
                        }
                    }
                }
                Item::Parameters(block) => {
                    for p in &block.entries {
                        self.expr(&p.value);
                        if let Some(b) = &p.binding {
                            self.setting_ref(b);
                        }
                    }
                }
                Item::Derive(block) => {
                    for a in &block.entries {
                        if a.target.segments.len() > 1 {
                            self.path(&a.target);
                        }
                        self.expr(&a.value);
                    }
                }
                Item::Constraints(block) => {
                    for e in &block.entries {
                        self.expr(e);
                    }
                }
                Item::Measure(m) => {
                    self.name(&m.cell, DEVICE);
                    for e in &m.entries {
                        match e {
                            ast::MeasureEntry::SteadyState { after, .. } => self.expr(after),
                            ast::MeasureEntry::Settle { within, hold, .. } => {
                                self.expr(within);
                                self.expr(hold);
                            }
                            ast::MeasureEntry::Replicates { .. } => {}
                            ast::MeasureEntry::Channel { props, .. } => {
                                if let Some(p) = props {
                                    self.props(p, None);
                                }
                            }
                        }
                    }
                }
                Item::Proxies(block) => {
                    for p in &block.entries {
                        if let ast::ProxyDef::Expr(e) = &p.definition {
                            self.expr(e);
                        }
                    }
                }
                Item::Objectives(block) => {
                    for e in &block.entries {
                        match e {
                            ast::ObjectiveEntry::Maximize { proxy, range, .. }
                            | ast::ObjectiveEntry::Minimize { proxy, range, .. } => {
                                self.name(proxy, PROXY);
                                if let Some(r) = range {
                                    self.range(r);
                                }
                            }
                            ast::ObjectiveEntry::Target {
                                proxy,
                                value,
                                within,
                                ..
                            } => {
                                self.name(proxy, PROXY);
                                self.expr(value);
                                if let Some(w) = within {
                                    self.expr(w);
                                }
                            }
                            ast::ObjectiveEntry::Map { proxy, level, .. } => {
                                self.name(proxy, PROXY);
                                if let Some(l) = level {
                                    self.expr(l);
                                }
                            }
                            ast::ObjectiveEntry::Require { condition, .. }
                            | ast::ObjectiveEntry::Stop { condition, .. } => self.expr(condition),
                            ast::ObjectiveEntry::Combine { props, .. } => {
                                // `combine desirability { peak 2 }`: the names are proxies.
                                for p in props.iter().flat_map(|p| &p.entries) {
                                    self.name(&p.name, PROXY);
                                    self.prop_value(&p.value);
                                }
                            }
                        }
                    }
                }
                Item::Optimizer(o) => {
                    for e in &o.entries {
                        match e {
                            ast::OptimizerEntry::Levels { levels, .. } => {
                                for l in levels {
                                    self.name(&l.variable, VARIABLE);
                                    if let ast::LevelValues::List(values, _) = &l.values {
                                        for v in values {
                                            self.expr(v);
                                        }
                                    }
                                }
                            }
                            ast::OptimizerEntry::Option { value, props, .. } => {
                                if let Some(v) = value {
                                    self.expr(v);
                                }
                                if let Some(p) = props {
                                    self.props(p, None);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Item::Prior(p) => {
                    if let Some(props) = &p.props {
                        self.props(props, None);
                    }
                }
                Item::Safety(block) => {
                    for e in &block.entries {
                        match e {
                            ast::SafetyEntry::Limit(x) => self.expr(x),
                            ast::SafetyEntry::SafeSetpoint { device, value, .. } => {
                                self.name(device, DEVICE);
                                self.expr(value);
                            }
                            ast::SafetyEntry::OnFault { actions, .. } => {
                                for a in actions {
                                    if let ast::Action::Retry {
                                        backoff: Some(b), ..
                                    } = a
                                    {
                                        self.expr(b);
                                    }
                                }
                            }
                        }
                    }
                }
                Item::Simulate(s) => {
                    if let Some(p) = &s.props {
                        self.props(p, None);
                    }
                }
                // A fit's states and parameters are local to it; not indexed yet.
                Item::Lab(_) | Item::Fit(_) => {}
            }
        }
    }

    fn use_decl(&mut self, u: &ast::UseDecl, from: FileId, loaded: &Loaded) {
        match &u.target {
            ast::UseTarget::Module(path) => {
                let name = path.dotted();
                let target = self
                    .by_name
                    .get(&name)
                    .and_then(|v| v.iter().copied().find(|&i| self.is_file(i)));
                self.refer_to(path.span, target);
            }
            ast::UseTarget::File(s) => {
                let dir = loaded.dir_of(from);
                let target = crate::world::resolve_inside(&loaded.root, &dir, &s.value)
                    .ok()
                    .and_then(|p| loaded.sources.find_path(&p))
                    .and_then(|file| {
                        self.symbols.iter().position(|sym| {
                            sym.kind == SymbolKind::File && sym.name_span.file() == Some(file)
                        })
                    });
                self.refer_to(s.span, target);
            }
        }
    }

    fn is_file(&self, i: usize) -> bool {
        self.symbols
            .get(i)
            .is_some_and(|s| s.kind == SymbolKind::File)
    }

    fn device(&mut self, d: &ast::Device) {
        let kind_name = d.kind.dotted();
        if let Some(last) = d.kind.segments.last() {
            let found = self.lookup(&last.name, &[SymbolKind::Kind]);
            // `std.devices.syringe_pump`: the module's segments refer to nothing here.
            let span = if d.kind.segments.len() > 1 {
                last.span
            } else {
                d.kind.span
            };
            self.refer_to(span, found);
        }
        let kind = d.kind.segments.last().map_or(kind_name, |s| s.name.clone());
        if let Some(p) = &d.props {
            self.props(p, Some(&kind));
        }
    }

    /// A property list; `kind` names the kind whose properties its names are.
    fn props(&mut self, props: &ast::Props, kind: Option<&str>) {
        for p in &props.entries {
            if let Some(kind) = kind {
                let found = self.member(kind, &p.name.name);
                self.refer_to(p.name.span, found);
            }
            self.prop_value(&p.value);
        }
    }

    fn prop_value(&mut self, value: &ast::PropValue) {
        match value {
            ast::PropValue::Expr(e) => match &e.kind {
                ExprKind::Path(p) if p.segments.len() == 1 => {
                    if let Some(first) = p.segments.first() {
                        self.name(first, PROP_VALUE);
                    }
                }
                ExprKind::List(items) => {
                    for x in items {
                        if let ExprKind::Path(p) = &x.kind
                            && let [first] = p.segments.as_slice()
                        {
                            self.name(first, PROP_VALUE);
                        } else {
                            self.expr(x);
                        }
                    }
                }
                _ => self.expr(e),
            },
            ast::PropValue::Range(r) => self.range(r),
            ast::PropValue::Props(p) => self.props(p, None),
        }
    }

    fn range(&mut self, r: &ast::Range) {
        self.expr(&r.lo);
        self.expr(&r.hi);
    }

    /// `-> h1` or `-> h1.setpoint`.
    fn setting_ref(&mut self, b: &ast::SettingRef) {
        self.name(&b.device, DEVICE);
        if let Some(s) = &b.setting {
            let found = self
                .device_kinds
                .get(&b.device.name)
                .cloned()
                .and_then(|k| self.member(&k, &s.name));
            self.refer_to(s.span, found);
        }
    }

    /// An expression inside a kind's declaration: its names are the kind's properties.
    fn kind_member_expr(&mut self, e: &ast::Expr, kind: &str) {
        if let ExprKind::Path(p) = &e.kind
            && let [name] = p.segments.as_slice()
        {
            let found = self.member(kind, &name.name);
            self.refer_to(name.span, found);
        }
    }

    /// A dotted name in an expression.
    fn path(&mut self, p: &ast::Path) {
        let Some(first) = p.segments.first() else {
            return;
        };
        // `std.reference.coumarin153`
        if first.name == "std" {
            if let Some(last) = p.segments.last()
                && p.segments.len() > 2
            {
                self.name(last, &[SymbolKind::Reference]);
            }
            return;
        }
        let found = self.lookup(&first.name, VALUE);
        self.refer_to(first.span, found);
        let Some(second) = p.segments.get(1) else {
            return;
        };
        let kind = found.and_then(|i| self.symbols.get(i)).map(|s| s.kind);
        match kind {
            Some(SymbolKind::Device) => {
                let member = self
                    .device_kinds
                    .get(&first.name)
                    .cloned()
                    .and_then(|k| self.member(&k, &second.name));
                self.refer_to(second.span, member);
            }
            Some(SymbolKind::Channel) => {
                self.name(second, &[SymbolKind::Builtin]);
            }
            _ => {}
        }
    }

    fn expr(&mut self, e: &ast::Expr) {
        match &e.kind {
            ExprKind::Path(p) => self.path(p),
            ExprKind::Call { callee, args } => {
                match callee.segments.as_slice() {
                    [f] => self.name(f, &[SymbolKind::Builtin]),
                    [receiver, f] => {
                        self.name(receiver, &[SymbolKind::Channel]);
                        self.name(f, &[SymbolKind::Builtin]);
                    }
                    _ => self.path(callee),
                }
                for a in args {
                    self.expr(&a.value);
                }
            }
            ExprKind::List(items) => {
                for x in items {
                    self.expr(x);
                }
            }
            ExprKind::Match { subject, arms } => {
                self.path(subject);
                for a in arms {
                    self.expr(&a.value);
                }
            }
            ExprKind::Unary { operand, .. } => self.expr(operand),
            ExprKind::Binary { left, right, .. } => {
                self.expr(left);
                self.expr(right);
            }
            ExprKind::Paren(inner) => self.expr(inner),
            ExprKind::Number(_)
            | ExprKind::Quantity { .. }
            | ExprKind::String(_)
            | ExprKind::Bool(_) => {}
        }
    }
}

/// Whether a file is the campaign's own (not the standard library's).
pub fn is_user_file(loaded: &Loaded, file: FileId) -> bool {
    loaded
        .sources
        .get(file)
        .is_some_and(|f| !matches!(f.origin, Origin::Stdlib))
}
