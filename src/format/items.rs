//! Printing each construct of the language in its canonical form.
//!
//! One function per construct, in the order of `grammar/qdx.pest`. Each entry passes its
//! source span to the [`Layout`], which places the comments (see `layout.rs`).

use super::expr::{self, integer, list, number, path, string};
use super::layout::Layout;
use crate::source::Span;
use crate::syntax::ast::*;

/// Widest line a property list may be printed inline on.
pub const MAX_WIDTH: usize = 100;

pub struct Printer<'a> {
    pub layout: Layout<'a>,
}

/// A child entry of a block, with the source offset where it starts.
struct Child<'n> {
    start: usize,
    node: Node<'n>,
}

/// The nodes that can be entries of a block, so blocks of mixed children share one loop.
enum Node<'n> {
    Description(&'n StringLit),
    Fit(&'n FitEntry),
    Seed(&'n IntLit),
    Budget(&'n Budget),
    BudgetEntry(&'n BudgetEntry, Span),
    Property(&'n PropertyDecl),
    Setting(&'n SettingDecl),
    Stock(&'n Stock),
    Reactor(&'n ReactorEntry),
    Prop(&'n Prop),
    Variable(&'n Variable),
    Parameter(&'n Parameter),
    Assignment(&'n Assignment),
    Constraint(&'n Expr),
    DataFile(&'n DataFile),
    Measure(&'n MeasureEntry),
    Proxy(&'n Proxy),
    Objective(&'n ObjectiveEntry),
    Optimizer(&'n OptimizerEntry),
    Level(&'n Level),
    Safety(&'n SafetyEntry),
    Bind(&'n Bind),
    Simulate(&'n Simulate),
}

impl<'a> Printer<'a> {
    fn src(&self) -> &'a str {
        self.layout.source()
    }

    fn int(&self, i: &IntLit) -> String {
        integer(i, self.src())
    }

    pub fn file(&mut self, ast: &Ast) {
        let eof = self.src().len();
        let starts: Vec<usize> = ast
            .items
            .iter()
            .map(|i| self.layout.start(i.span()))
            .collect();
        if let Some(h) = &ast.header {
            let next = starts.first().copied().unwrap_or(eof);
            self.layout
                .line_entry(h.span, &format!("qdx {}", h.version), next);
        }
        let mut previous: Option<&Item> = None;
        for (i, item) in ast.items.iter().enumerate() {
            let next = starts.get(i + 1).copied().unwrap_or(eof);
            // Runs of one-line declarations of the same kind stay together as written.
            let grouped = previous.is_some_and(|p| {
                p.keyword() == item.keyword()
                    && matches!(item, Item::Use(_) | Item::Builtin(_) | Item::Prior(_))
            });
            if !grouped {
                self.layout.blank();
            }
            self.item(item, next);
            previous = Some(item);
        }
    }

    fn item(&mut self, item: &Item, next: usize) {
        match item {
            Item::Campaign(c) => self.campaign(c, next),
            Item::Use(u) => {
                let target = match &u.target {
                    UseTarget::Module(p) => path(p),
                    UseTarget::File(s) => string(&s.value),
                };
                self.layout
                    .line_entry(u.span, &format!("use {target}"), next);
            }
            Item::Kind(k) => self.kind(k, next),
            Item::Builtin(b) => {
                let params = b
                    .params
                    .iter()
                    .map(|p| {
                        let mut text = format!("{}: {}", p.name.name, p.ty.name);
                        if let Some(d) = &p.default {
                            text.push_str(" = ");
                            text.push_str(&expr::expr(d));
                        }
                        text
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let text = format!("builtin {}({params}) -> {}", b.name.name, b.returns.name);
                self.layout.line_entry(b.span, &text, next);
            }
            Item::Reference(r) => {
                let head = format!("reference {}", r.name.name);
                self.with_props(r.span, head, Some(&r.props), next);
            }
            Item::Stocks(b) => self.block(
                b.span,
                "stocks",
                &b.entries,
                |s| (s.span, Node::Stock(s)),
                next,
            ),
            Item::Reactor(b) => self.block(
                b.span,
                "reactor",
                &b.entries,
                |e| (e.span(), Node::Reactor(e)),
                next,
            ),
            Item::Variables(b) => self.block(
                b.span,
                "variables",
                &b.entries,
                |v| (v.span, Node::Variable(v)),
                next,
            ),
            Item::Parameters(b) => self.block(
                b.span,
                "parameters",
                &b.entries,
                |p| (p.span, Node::Parameter(p)),
                next,
            ),
            Item::Derive(b) => self.block(
                b.span,
                "derive",
                &b.entries,
                |a| (a.span, Node::Assignment(a)),
                next,
            ),
            Item::Constraints(b) => self.block(
                b.span,
                "constraints",
                &b.entries,
                |e| (e.span, Node::Constraint(e)),
                next,
            ),
            Item::Measure(m) => {
                let head = format!("measure at {}", m.cell.name);
                let children = self.children(&m.entries, |e| (e.span(), Node::Measure(e)));
                let head_end = self.layout.end(m.cell.span);
                self.block_of(m.span, head_end, &head, children, next);
            }
            Item::Proxies(b) => self.block(
                b.span,
                "proxies",
                &b.entries,
                |p| (p.span, Node::Proxy(p)),
                next,
            ),
            Item::Objectives(b) => self.block(
                b.span,
                "objectives",
                &b.entries,
                |o| (o.span(), Node::Objective(o)),
                next,
            ),
            Item::Optimizer(o) => self.optimizer(o, next),
            Item::Prior(p) => {
                let head = format!("prior {} {}", p.format.name, string(&p.path.value));
                self.with_props(p.span, head, p.props.as_ref(), next);
            }
            Item::Data(b) => self.block(
                b.span,
                "data",
                &b.entries,
                |d| (d.span, Node::DataFile(d)),
                next,
            ),
            Item::Safety(b) => self.block(
                b.span,
                "safety",
                &b.entries,
                |e| (e.span(), Node::Safety(e)),
                next,
            ),
            Item::Simulate(s) => self.simulate(s, next),
            Item::Lab(l) => self.lab(l, next),
            Item::Fit(f) => {
                let head = format!("fit {}", f.name.name);
                let children = self.children(&f.entries, |e| (e.span(), Node::Fit(e)));
                let head_end = self.layout.end(f.name.span);
                self.block_of(f.span, head_end, &head, children, next);
            }
        }
    }

    fn children<'n, T>(
        &self,
        entries: &'n [T],
        child: impl Fn(&'n T) -> (Span, Node<'n>),
    ) -> Vec<Child<'n>> {
        entries
            .iter()
            .map(|e| {
                let (span, node) = child(e);
                Child {
                    start: self.layout.start(span),
                    node,
                }
            })
            .collect()
    }

    /// A keyword block: `stocks { … }`.
    fn block<'n, T>(
        &mut self,
        span: Span,
        keyword: &str,
        entries: &'n [T],
        child: impl Fn(&'n T) -> (Span, Node<'n>),
        next: usize,
    ) {
        let children = self.children(entries, child);
        let head_end = self.layout.start(span);
        self.block_of(span, head_end, keyword, children, next);
    }

    /// `head {`, the children, `}`; `head {}` when there is nothing inside.
    fn block_of(
        &mut self,
        span: Span,
        head_end: usize,
        head: &str,
        children: Vec<Child<'_>>,
        next: usize,
    ) {
        let close = self.layout.end(span).saturating_sub(1).max(head_end);
        if children.is_empty() && self.layout.no_comment_before(close) {
            self.layout.line_entry(span, &format!("{head} {{}}"), next);
            return;
        }
        let start = self.layout.start(span);
        self.multiline_block(start, head_end, span, head, children, next);
    }

    fn node(&mut self, node: &Node<'_>, next: usize) {
        match node {
            Node::Description(s) => {
                let text = format!("description {}", string(&s.value));
                self.keyword_entry(s.span, "description", &text, next);
            }
            Node::Seed(i) => {
                let text = format!("seed {}", self.int(i));
                self.keyword_entry(i.span, "seed", &text, next);
            }
            Node::Budget(b) => self.budget(b, next),
            Node::BudgetEntry(e, span) => {
                let text = match e {
                    BudgetEntry::Experiments(n) => format!("experiments {},", self.int(n)),
                    BudgetEntry::Reagent { stock, amount } => {
                        format!("reagent {} {},", stock.name, expr::expr(amount))
                    }
                    BudgetEntry::Time(t) => format!("time {},", expr::expr(t)),
                    BudgetEntry::RepeatedFailures(n) => {
                        format!("repeated_failures {},", self.int(n))
                    }
                };
                self.layout.line_entry(*span, &text, next);
            }
            Node::Property(p) => {
                let mut text = format!("{} : {}", p.name.name, p.ty.name);
                if let Some(d) = &p.default {
                    text.push_str(" = ");
                    text.push_str(&self.value_inline(d));
                }
                self.layout.line_entry(p.span, &text, next);
            }
            Node::Setting(s) => {
                let mut text = format!("setting {} : {}", s.name.name, s.ty.name);
                match &s.limits {
                    Some(SettingLimits::Range(r)) => {
                        text.push_str(" in ");
                        text.push_str(&range(r));
                    }
                    Some(SettingLimits::Property(p)) => {
                        text.push_str(" in ");
                        text.push_str(&p.name);
                    }
                    None => {}
                }
                self.layout.line_entry(s.span, &text, next);
            }
            Node::Stock(s) => {
                let mut head = s.name.name.clone();
                if let Some(d) = &s.description {
                    head.push(' ');
                    head.push_str(&string(&d.value));
                }
                head.push_str(" in ");
                head.push_str(&s.pump.name);
                self.with_props(s.span, head, s.props.as_ref(), next);
            }
            Node::Reactor(ReactorEntry::Device(d)) => {
                let head = format!("{} {} : {}", d.role.name, d.name.name, path(&d.kind));
                self.with_props(d.span, head, d.props.as_ref(), next);
            }
            Node::Reactor(ReactorEntry::Connection(c)) => {
                let text = c
                    .stages
                    .iter()
                    .map(|ports| ports.iter().map(port).collect::<Vec<_>>().join(", "))
                    .collect::<Vec<_>>()
                    .join(" -> ");
                self.layout.line_entry(c.span, &text, next);
            }
            Node::Reactor(ReactorEntry::Lines(l)) => {
                let names: Vec<&str> = l.names.iter().map(|n| n.name.as_str()).collect();
                let text = format!("lines {}", names.join(", "));
                self.layout.line_entry(l.span, &text, next);
            }
            Node::Prop(p) => match &p.value {
                PropValue::Props(inner) => {
                    self.with_props(p.span, p.name.name.clone(), Some(inner), next);
                }
                value => {
                    let text = format!("{} {}", p.name.name, self.value_inline(value));
                    self.layout.line_entry(p.span, &text, next);
                }
            },
            Node::Variable(v) => self.layout.line_entry(v.span, &variable(v), next),
            Node::Parameter(p) => {
                let mut text = format!("{} = {}", p.name.name, expr::expr(&p.value));
                push_binding(&mut text, p.binding.as_ref());
                self.layout.line_entry(p.span, &text, next);
            }
            Node::Assignment(a) => {
                let text = format!("{} = {}", path(&a.target), expr::expr(&a.value));
                self.layout.line_entry(a.span, &text, next);
            }
            Node::Constraint(e) => self.layout.line_entry(e.span, &expr::expr(e), next),
            Node::Fit(e) => {
                let text = match e {
                    FitEntry::State { name, initial, .. } => {
                        format!("state {} = {}", name.name, expr::expr(initial))
                    }
                    FitEntry::Rate { state, value, .. } => {
                        format!("rate {} = {}", state.name, expr::expr(value))
                    }
                    FitEntry::Parameter {
                        name,
                        range: r,
                        log,
                        ..
                    } => {
                        let log = if *log { " log" } else { "" };
                        format!("parameter {} in {}{log}", name.name, range(r))
                    }
                    FitEntry::Time { value, .. } => format!("time {}", expr::expr(value)),
                    FitEntry::Observe { proxy, value, .. } => {
                        format!("observe {} = {}", proxy.name, expr::expr(value))
                    }
                };
                self.layout.line_entry(e.span(), &text, next);
            }
            Node::DataFile(d) => {
                let text = format!("{} {}", d.name.name, string(&d.path.value));
                self.layout.line_entry(d.span, &text, next);
            }
            Node::Measure(m) => self.measure_entry(m, next),
            Node::Proxy(p) => {
                let definition = match &p.definition {
                    ProxyDef::Expr(e) => expr::expr(e),
                    ProxyDef::ScriptFile(s) => format!("script {}", string(&s.value)),
                    // Byte for byte: a script's layout and spaces are its author's.
                    ProxyDef::ScriptInline { source, .. } => format!("script \"\"\"{source}\"\"\""),
                };
                let text = format!("{} = {definition}", p.name.name);
                self.layout.line_entry(p.span, &text, next);
            }
            Node::Objective(o) => self.objective(o, next),
            Node::Optimizer(o) => self.optimizer_entry(o, next),
            Node::Level(l) => {
                let values = match &l.values {
                    LevelValues::Count(n) => self.int(n),
                    LevelValues::List(items, _) => format!("[{}]", list(items)),
                };
                let text = format!("{} {values}", l.variable.name);
                self.layout.line_entry(l.span, &text, next);
            }
            Node::Safety(s) => self.safety_entry(s, next),
            Node::Bind(b) => {
                let head = format!("bind {} = {}", b.device.name, path(&b.driver));
                self.with_props(b.span, head, b.props.as_ref(), next);
            }
            Node::Simulate(s) => self.simulate(s, next),
        }
    }

    /// A one-line entry whose AST node starts after its keyword (`seed 42`): the entry starts
    /// at the keyword, so a comment between the two stays with it.
    fn keyword_entry(&mut self, node: Span, keyword: &str, text: &str, next: usize) {
        let start = self.layout.keyword_before(self.layout.start(node), keyword);
        let span = match node.file() {
            Some(file) if node.range().is_some() => Span::new(file, start, self.layout.end(node)),
            _ => node,
        };
        self.layout.line_entry(span, text, next);
    }

    /// A property value printed inline (an expression, a range, or an inline property list).
    fn value_inline(&self, value: &PropValue) -> String {
        match value {
            PropValue::Expr(e) => expr::expr(e),
            PropValue::Range(r) => range(r),
            PropValue::Props(p) => inline_props(p),
        }
    }

    /// `{ a 1, b 2 }` if it has no comment inside (a comment forces one property per line).
    fn props_inline(&self, props: &Props) -> Option<String> {
        if self.layout.has_comment_inside(props.span) {
            None
        } else {
            Some(inline_props(props))
        }
    }

    /// An entry ending in an optional property list: inline when the line fits in
    /// [`MAX_WIDTH`] columns and no comment is inside the list, one property per line
    /// otherwise.
    fn with_props(&mut self, span: Span, head: String, props: Option<&Props>, next: usize) {
        let Some(props) = props else {
            self.layout.line_entry(span, &head, next);
            return;
        };
        if let Some(inline) = self.props_inline(props) {
            let width =
                self.layout.indent_width() + head.chars().count() + 1 + inline.chars().count();
            if width <= MAX_WIDTH {
                self.layout
                    .line_entry(span, &format!("{head} {inline}"), next);
                return;
            }
        }
        let children = self.children(&props.entries, |p| (p.span, Node::Prop(p)));
        let start = self.layout.start(span);
        let head_end = self.layout.start(props.span);
        self.multiline_block(start, head_end, props.span, &head, children, next);
    }

    /// `head {`, the children, `}`, always on several lines; `block` is the span that ends with
    /// the `}` (the entry's own for a keyword block, the property list's otherwise).
    fn multiline_block(
        &mut self,
        start: usize,
        head_end: usize,
        block: Span,
        head: &str,
        children: Vec<Child<'_>>,
        next: usize,
    ) {
        let end = self.layout.end(block);
        let close = end.saturating_sub(1).max(head_end);
        let first = children.first().map_or(close, |c| c.start);
        self.layout.open_block(start, head_end, head, first);
        for (i, child) in children.iter().enumerate() {
            let next_child = children.get(i + 1).map_or(close, |c| c.start);
            self.node(&child.node, next_child);
        }
        self.layout.close_block(close, end, next);
    }

    fn campaign(&mut self, c: &CampaignDecl, next: usize) {
        if !c.repeated.is_empty() {
            // The AST keeps only the last of a repeated entry; print the block as written so
            // nothing is lost and the validator still sees the repetition.
            self.layout.verbatim_entry(c.span, next);
            return;
        }
        let mut children = Vec::new();
        if let Some(d) = &c.description {
            children.push(Child::at(
                self.layout
                    .keyword_before(self.layout.start(d.span), "description"),
                Node::Description(d),
            ));
        }
        if let Some(s) = &c.seed {
            children.push(Child::at(
                self.layout
                    .keyword_before(self.layout.start(s.span), "seed"),
                Node::Seed(s),
            ));
        }
        if let Some(b) = &c.budget {
            children.push(Child::at(self.layout.start(b.span), Node::Budget(b)));
        }
        // The AST keeps the three entries in fields; print them in the order written.
        children.sort_by_key(|c| c.start);
        let head = format!("campaign {}", string(&c.name.value));
        let head_end = self.layout.end(c.name.span);
        self.block_of(c.span, head_end, &head, children, next);
    }

    fn budget(&mut self, b: &Budget, next: usize) {
        let inline = b
            .entries
            .iter()
            .map(|e| match e {
                BudgetEntry::Experiments(n) => format!("experiments {}", self.int(n)),
                BudgetEntry::Reagent { stock, amount } => {
                    format!("reagent {} {}", stock.name, expr::expr(amount))
                }
                BudgetEntry::Time(t) => format!("time {}", expr::expr(t)),
                BudgetEntry::RepeatedFailures(n) => format!("repeated_failures {}", self.int(n)),
            })
            .collect::<Vec<_>>();
        let inline = if inline.is_empty() {
            "budget {}".to_owned()
        } else {
            format!("budget {{ {} }}", inline.join(", "))
        };
        let width = self.layout.indent_width() + inline.chars().count();
        if width <= MAX_WIDTH && !self.layout.has_comment_inside(b.span) {
            self.layout.line_entry(b.span, &inline, next);
            return;
        }
        // One entry per line; the grammar wants the commas, so each line keeps one.
        let children: Vec<Child<'_>> = b
            .entries
            .iter()
            .map(|e| {
                let (node_start, node_end, keyword) = match e {
                    BudgetEntry::Experiments(n) => (
                        self.layout.start(n.span),
                        self.layout.end(n.span),
                        "experiments",
                    ),
                    BudgetEntry::Reagent { stock, amount } => (
                        self.layout.start(stock.span),
                        self.layout.end(amount.span),
                        "reagent",
                    ),
                    BudgetEntry::Time(t) => {
                        (self.layout.start(t.span), self.layout.end(t.span), "time")
                    }
                    BudgetEntry::RepeatedFailures(n) => (
                        self.layout.start(n.span),
                        self.layout.end(n.span),
                        "repeated_failures",
                    ),
                };
                let start = self.layout.keyword_before(node_start, keyword);
                let span = match b.span.file() {
                    Some(file) if b.span.range().is_some() => Span::new(file, start, node_end),
                    _ => b.span,
                };
                Child::at(start, Node::BudgetEntry(e, span))
            })
            .collect();
        let start = self.layout.start(b.span);
        self.multiline_block(start, start, b.span, "budget", children, next);
    }

    fn kind(&mut self, k: &KindDecl, next: usize) {
        let mut children: Vec<Child<'_>> = Vec::new();
        let consistent = k.order.len() == k.properties.len() + k.settings.len();
        if consistent {
            for member in &k.order {
                match member {
                    KindMember::Property(i) => {
                        if let Some(p) = k.properties.get(*i) {
                            children.push(Child::of_span(&self.layout, p.span, Node::Property(p)));
                        }
                    }
                    KindMember::Setting(i) => {
                        if let Some(s) = k.settings.get(*i) {
                            children.push(Child::of_span(&self.layout, s.span, Node::Setting(s)));
                        }
                    }
                }
            }
        }
        if children.len() != k.properties.len() + k.settings.len() {
            // A kind built by a tool without `order`: properties, then settings.
            children = k
                .properties
                .iter()
                .map(|p| Child::of_span(&self.layout, p.span, Node::Property(p)))
                .chain(
                    k.settings
                        .iter()
                        .map(|s| Child::of_span(&self.layout, s.span, Node::Setting(s))),
                )
                .collect();
        }
        let head = format!("kind {} : {}", k.name.name, k.role.name);
        let head_end = self.layout.end(k.role.span);
        self.block_of(k.span, head_end, &head, children, next);
    }

    fn measure_entry(&mut self, m: &MeasureEntry, next: usize) {
        match m {
            MeasureEntry::SteadyState { after, span } => {
                self.layout.line_entry(
                    *span,
                    &format!("steady_state after {}", expr::expr(after)),
                    next,
                );
            }
            MeasureEntry::Settle { within, hold, span } => {
                let text = format!(
                    "settle within {} for {}",
                    expr::expr(within),
                    expr::expr(hold)
                );
                self.layout.line_entry(*span, &text, next);
            }
            MeasureEntry::Replicates { count, span } => {
                let text = format!("replicates {}", self.int(count));
                self.layout.line_entry(*span, &text, next);
            }
            MeasureEntry::Channel { name, props, span } => {
                self.with_props(*span, name.name.clone(), props.as_ref(), next);
            }
        }
    }

    fn objective(&mut self, o: &ObjectiveEntry, next: usize) {
        let text = match o {
            ObjectiveEntry::Maximize {
                proxy,
                range: r,
                weight,
                ..
            } => format!(
                "maximize {}{}{}",
                proxy.name,
                ramp_text(r.as_ref()),
                weight_text(weight.as_ref())
            ),
            ObjectiveEntry::Minimize {
                proxy,
                range: r,
                weight,
                ..
            } => format!(
                "minimize {}{}{}",
                proxy.name,
                ramp_text(r.as_ref()),
                weight_text(weight.as_ref())
            ),
            ObjectiveEntry::Target {
                proxy,
                op,
                value,
                within,
                weight,
                ..
            } => {
                let mut text = format!(
                    "target {} {} {}",
                    proxy.name,
                    op.symbol(),
                    expr::expr(value)
                );
                if let Some(w) = within {
                    text.push_str(" within ");
                    text.push_str(&expr::expr(w));
                }
                text.push_str(&weight_text(weight.as_ref()));
                text
            }
            ObjectiveEntry::Map { proxy, level, .. } => match level {
                Some(l) => format!("map {} until sd <= {}", proxy.name, expr::expr(l)),
                None => format!("map {}", proxy.name),
            },
            ObjectiveEntry::Require { condition, .. } => {
                format!("require {}", expr::expr(condition))
            }
            ObjectiveEntry::Stop { condition, .. } => {
                format!("stop when {}", expr::expr(condition))
            }
            ObjectiveEntry::Combine {
                method,
                props,
                span,
            } => {
                self.with_props(
                    *span,
                    format!("combine {}", method.name),
                    props.as_ref(),
                    next,
                );
                return;
            }
        };
        self.layout.line_entry(o.span(), &text, next);
    }

    fn optimizer(&mut self, o: &Optimizer, next: usize) {
        let head = format!("optimizer {}", o.strategy.name);
        if !o.has_block && o.entries.is_empty() {
            self.layout.line_entry(o.span, &head, next);
            return;
        }
        let children = self.children(&o.entries, |e| (e.span(), Node::Optimizer(e)));
        let head_end = self.layout.end(o.strategy.span);
        self.block_of(o.span, head_end, &head, children, next);
    }

    fn optimizer_entry(&mut self, e: &OptimizerEntry, next: usize) {
        match e {
            OptimizerEntry::Initial {
                design,
                count,
                span,
            } => {
                let text = format!("initial {} {}", design.name, self.int(count));
                self.layout.line_entry(*span, &text, next);
            }
            OptimizerEntry::Batch { size, span } => {
                let text = format!("batch {}", self.int(size));
                self.layout.line_entry(*span, &text, next);
            }
            OptimizerEntry::Levels { levels, span } => {
                let children = self.children(levels, |l| (l.span, Node::Level(l)));
                let head_end = self.layout.start(*span);
                self.block_of(*span, head_end, "levels", children, next);
            }
            OptimizerEntry::Option {
                name,
                value,
                props,
                span,
            } => {
                let mut head = name.name.clone();
                if let Some(v) = value {
                    head.push(' ');
                    head.push_str(&expr::expr(v));
                }
                self.with_props(*span, head, props.as_ref(), next);
            }
        }
    }

    fn safety_entry(&mut self, s: &SafetyEntry, next: usize) {
        let text = match s {
            SafetyEntry::Limit(e) => expr::expr(e),
            SafetyEntry::OnFault { fault, actions, .. } => {
                let actions = actions
                    .iter()
                    .map(|a| action(a, self.src()))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("on {} : {actions}", fault.name)
            }
            SafetyEntry::SafeSetpoint { device, value, .. } => {
                format!("safe {} = {}", device.name, expr::expr(value))
            }
        };
        self.layout.line_entry(s.span(), &text, next);
    }

    fn simulate(&mut self, s: &Simulate, next: usize) {
        let head = match &s.model {
            SimModel::Named(name) => format!("simulate {}", name.name),
            SimModel::Table(file) => format!("simulate table {}", string(&file.value)),
            SimModel::Script(file) => format!("simulate script {}", string(&file.value)),
        };
        self.with_props(s.span, head, s.props.as_ref(), next);
    }

    fn lab(&mut self, l: &Lab, next: usize) {
        let mut children: Vec<Child<'_>> = l
            .order
            .iter()
            .filter_map(|m| match m {
                LabMember::Bind(i) => l
                    .binds
                    .get(*i)
                    .map(|b| Child::of_span(&self.layout, b.span, Node::Bind(b))),
                LabMember::Simulate(i) => l
                    .simulate
                    .get(*i)
                    .map(|s| Child::of_span(&self.layout, s.span, Node::Simulate(s))),
            })
            .collect();
        if children.len() != l.binds.len() + l.simulate.len() {
            // A lab built by a tool without `order`: binds, then simulate blocks.
            children = l
                .binds
                .iter()
                .map(|b| Child::of_span(&self.layout, b.span, Node::Bind(b)))
                .chain(
                    l.simulate
                        .iter()
                        .map(|s| Child::of_span(&self.layout, s.span, Node::Simulate(s))),
                )
                .collect();
        }
        let head = format!("lab {}", string(&l.name.value));
        let head_end = self.layout.end(l.name.span);
        self.block_of(l.span, head_end, &head, children, next);
    }
}

impl<'n> Child<'n> {
    fn at(start: usize, node: Node<'n>) -> Self {
        Self { start, node }
    }

    fn of_span(layout: &Layout<'_>, span: Span, node: Node<'n>) -> Self {
        Self {
            start: layout.start(span),
            node,
        }
    }
}

fn inline_props(p: &Props) -> String {
    if p.entries.is_empty() {
        return "{}".to_owned();
    }
    let entries = p
        .entries
        .iter()
        .map(|e| {
            let value = match &e.value {
                PropValue::Expr(x) => expr::expr(x),
                PropValue::Range(r) => range(r),
                PropValue::Props(inner) => inline_props(inner),
            };
            format!("{} {value}", e.name.name)
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("{{ {entries} }}")
}

fn range(r: &Range) -> String {
    format!("{} .. {}", expr::expr(&r.lo), expr::expr(&r.hi))
}

fn port(p: &Port) -> String {
    match &p.port {
        Some(name) => format!("{}.{}", p.device.name, name.name),
        None => p.device.name.clone(),
    }
}

fn push_binding(text: &mut String, binding: Option<&SettingRef>) {
    if let Some(b) = binding {
        text.push_str(" -> ");
        text.push_str(&b.device.name);
        if let Some(s) = &b.setting {
            text.push('.');
            text.push_str(&s.name);
        }
    }
}

fn variable(v: &Variable) -> String {
    let ty = match &v.ty {
        VariableType::Continuous {
            dimension,
            range: r,
            log,
        } => {
            let log = if *log { " log" } else { "" };
            format!("{} in {}{log}", dimension.name, range(r))
        }
        VariableType::Integer { range: r } => format!("integer in {}", range(r)),
        VariableType::Choice { levels } => {
            let levels = levels
                .iter()
                .map(|s| string(&s.value))
                .collect::<Vec<_>>()
                .join(", ");
            format!("choice {{ {levels} }}")
        }
        VariableType::Composition { components, total } => {
            let components = components
                .iter()
                .map(|c| match &c.range {
                    Some(r) => format!("{} in {}", c.name.name, range(r)),
                    None => c.name.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut text = format!("composition {{ {components} }}");
            if let Some(t) = total {
                text.push_str(" total ");
                text.push_str(&expr::expr(t));
            }
            text
        }
    };
    let mut text = format!("{} : {ty}", v.name.name);
    push_binding(&mut text, v.binding.as_ref());
    text
}

fn ramp_text(r: Option<&Range>) -> String {
    r.map_or_else(String::new, |r| format!(" in {}", range(r)))
}

fn weight_text(weight: Option<&NumberLit>) -> String {
    weight.map_or_else(String::new, |w| format!(" weight {}", number(w)))
}

fn action(a: &Action, source: &str) -> String {
    match a {
        Action::Retry { times, backoff, .. } => {
            let mut text = format!("retry {}", integer(times, source));
            if let Some(b) = backoff {
                text.push_str(" backoff ");
                text.push_str(&expr::expr(b));
            }
            text
        }
        Action::Then(i) => format!("then {}", i.name),
        Action::Plain(i) => i.name.clone(),
    }
}
