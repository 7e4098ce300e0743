//! The untyped syntax tree of one `.qdx` file, as written.
//!
//! Invariants: every node's span lies inside its parent's span and inside its file; names are
//! not resolved and units are not interpreted (a [`Quantity`] keeps the unit text), which is the
//! validator's job. Spans are ignored by equality (see [`crate::source::Span`]).

use crate::source::{FileId, Span};

/// A name as written, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal (already unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringLit {
    pub value: String,
    pub span: Span,
}

/// An integer literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntLit {
    pub value: u64,
    pub span: Span,
}

/// A dotted name: `r1.volume`, `std.reference.coumarin153`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

impl Path {
    /// The path as text, `a.b.c`.
    pub fn dotted(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// One parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct Ast {
    pub file: FileId,
    pub header: Option<Header>,
    pub items: Vec<Item>,
    pub span: Span,
}

/// `qdx 1`
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub version: String,
    pub version_span: Span,
    pub span: Span,
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Campaign(CampaignDecl),
    Use(UseDecl),
    Kind(KindDecl),
    Builtin(BuiltinDecl),
    Reference(ReferenceDecl),
    Stocks(Block<Stock>),
    Reactor(Block<ReactorEntry>),
    Variables(Block<Variable>),
    Parameters(Block<Parameter>),
    Derive(Block<Assignment>),
    Constraints(Block<Expr>),
    Measure(Measure),
    Proxies(Block<Proxy>),
    Objectives(Block<ObjectiveEntry>),
    Optimizer(Optimizer),
    Prior(Prior),
    Data(Block<DataFile>),
    Safety(Block<SafetyEntry>),
    Simulate(Simulate),
    Lab(Lab),
    Fit(Fit),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Campaign(x) => x.span,
            Item::Use(x) => x.span,
            Item::Kind(x) => x.span,
            Item::Builtin(x) => x.span,
            Item::Reference(x) => x.span,
            Item::Stocks(x) => x.span,
            Item::Reactor(x) => x.span,
            Item::Variables(x) => x.span,
            Item::Parameters(x) => x.span,
            Item::Derive(x) => x.span,
            Item::Constraints(x) => x.span,
            Item::Measure(x) => x.span,
            Item::Proxies(x) => x.span,
            Item::Objectives(x) => x.span,
            Item::Optimizer(x) => x.span,
            Item::Prior(x) => x.span,
            Item::Data(x) => x.span,
            Item::Safety(x) => x.span,
            Item::Simulate(x) => x.span,
            Item::Lab(x) => x.span,
            Item::Fit(x) => x.span,
        }
    }

    /// The block keyword, as the user writes it.
    pub fn keyword(&self) -> &'static str {
        match self {
            Item::Campaign(_) => "campaign",
            Item::Use(_) => "use",
            Item::Kind(_) => "kind",
            Item::Builtin(_) => "builtin",
            Item::Reference(_) => "reference",
            Item::Stocks(_) => "stocks",
            Item::Reactor(_) => "reactor",
            Item::Variables(_) => "variables",
            Item::Parameters(_) => "parameters",
            Item::Derive(_) => "derive",
            Item::Constraints(_) => "constraints",
            Item::Measure(_) => "measure",
            Item::Proxies(_) => "proxies",
            Item::Objectives(_) => "objectives",
            Item::Optimizer(_) => "optimizer",
            Item::Prior(_) => "prior",
            Item::Data(_) => "data",
            Item::Safety(_) => "safety",
            Item::Simulate(_) => "simulate",
            Item::Lab(_) => "lab",
            Item::Fit(_) => "fit",
        }
    }
}

/// A keyword block of entries: `stocks { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block<T> {
    pub entries: Vec<T>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CampaignDecl {
    pub name: StringLit,
    pub description: Option<StringLit>,
    pub seed: Option<IntLit>,
    pub budget: Option<Budget>,
    /// Entries given twice, kept so the validator can report them.
    pub repeated: Vec<Span>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub entries: Vec<BudgetEntry>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BudgetEntry {
    Experiments(IntLit),
    /// `reagent total 25 mL` or `reagent seeds 10 mL`.
    Reagent {
        stock: Ident,
        amount: Expr,
    },
    Time(Expr),
    /// `repeated_failures 5`: stop after this many experiments in a row fail the same way.
    RepeatedFailures(IntLit),
}

#[derive(Debug, Clone, PartialEq)]
pub enum UseTarget {
    /// `use std.devices`
    Module(Path),
    /// `use "rig/common.qdx"`
    File(StringLit),
}

#[derive(Debug, Clone, PartialEq)]
pub struct UseDecl {
    pub target: UseTarget,
    pub span: Span,
}

/// `kind syringe_pump : pump { ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct KindDecl {
    pub name: Ident,
    pub role: Ident,
    pub properties: Vec<PropertyDecl>,
    pub settings: Vec<SettingDecl>,
    /// Properties and settings in the order written, for the formatter.
    pub order: Vec<KindMember>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindMember {
    Property(usize),
    Setting(usize),
}

/// `max_rate : flow_rate` or `min_rate : flow_rate = 0.01 uL/min`
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyDecl {
    pub name: Ident,
    pub ty: Ident,
    pub default: Option<PropValue>,
    pub span: Span,
}

/// `setting rate : flow_rate in min_rate .. max_rate`
#[derive(Debug, Clone, PartialEq)]
pub struct SettingDecl {
    pub name: Ident,
    pub ty: Ident,
    pub limits: Option<SettingLimits>,
    pub span: Span,
}

/// `in min_rate .. max_rate` or `in range` (a range-valued property).
#[derive(Debug, Clone, PartialEq)]
pub enum SettingLimits {
    Range(Range),
    Property(Ident),
}

/// `builtin fwhm(spectrum: spectrum) -> wavelength`
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltinDecl {
    pub name: Ident,
    pub params: Vec<ParamDecl>,
    pub returns: Ident,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamDecl {
    pub name: Ident,
    pub ty: Ident,
    pub default: Option<Expr>,
    pub span: Span,
}

/// `reference coumarin153 { quantum_yield 0.53, ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceDecl {
    pub name: Ident,
    pub props: Props,
    pub span: Span,
}

/// `seeds "CsPbBr3 nanocrystals" in p_seed { concentration 0.01 mol/L }`
#[derive(Debug, Clone, PartialEq)]
pub struct Stock {
    pub name: Ident,
    pub description: Option<StringLit>,
    pub pump: Ident,
    pub props: Option<Props>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReactorEntry {
    Device(Device),
    Connection(Connection),
    Lines(Lines),
}

impl ReactorEntry {
    pub fn span(&self) -> Span {
        match self {
            ReactorEntry::Device(d) => d.span,
            ReactorEntry::Connection(c) => c.span,
            ReactorEntry::Lines(l) => l.span,
        }
    }
}

/// `pump p_seed : syringe_pump { syringe 10 mL }`
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub role: Ident,
    pub name: Ident,
    pub kind: Path,
    pub props: Option<Props>,
    pub span: Span,
}

/// `lines a, b`: the reactor line is built once per name, each line running its own
/// experiment of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Lines {
    pub names: Vec<Ident>,
    pub span: Span,
}

/// `p_seed, p_iodide -> m1 -> r1`
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub stages: Vec<Vec<Port>>,
    pub span: Span,
}

/// A device, optionally with a port: `v1` or `v1.a`.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub device: Ident,
    pub port: Option<Ident>,
    pub span: Span,
}

/// `{ syringe 10 mL, range 20 degC .. 120 degC }`
#[derive(Debug, Clone, PartialEq)]
pub struct Props {
    pub entries: Vec<Prop>,
    pub span: Span,
}

impl Props {
    pub fn get(&self, name: &str) -> Option<&Prop> {
        self.entries.iter().find(|p| p.name.name == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prop {
    pub name: Ident,
    pub value: PropValue,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    Expr(Expr),
    Range(Range),
    Props(Props),
}

impl PropValue {
    pub fn span(&self) -> Span {
        match self {
            PropValue::Expr(e) => e.span,
            PropValue::Range(r) => r.span,
            PropValue::Props(p) => p.span,
        }
    }
}

/// `lo .. hi`
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    pub lo: Expr,
    pub hi: Expr,
    pub span: Span,
}

/// `residence : time in 10 s .. 120 s -> h1`
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: Ident,
    pub ty: VariableType,
    pub binding: Option<SettingRef>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum VariableType {
    /// `time in 10 s .. 120 s [log]`
    Continuous {
        dimension: Ident,
        range: Range,
        log: bool,
    },
    /// `integer in 1 .. 6`
    Integer { range: Range },
    /// `choice { "OAm", "OA" }`
    Choice { levels: Vec<StringLit> },
    /// `composition { cl, br in 0.2 .. 1, i } total 1`
    Composition {
        components: Vec<Component>,
        total: Option<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub name: Ident,
    pub range: Option<Range>,
    pub span: Span,
}

/// `-> h1` or `-> h1.setpoint`
#[derive(Debug, Clone, PartialEq)]
pub struct SettingRef {
    pub device: Ident,
    pub setting: Option<Ident>,
    pub span: Span,
}

/// `cd_concentration = 0.1 mol/L [-> device.setting]`
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: Ident,
    pub value: Expr,
    pub binding: Option<SettingRef>,
    pub span: Span,
}

/// `p_seed.rate = total_flow - p_iodide.rate`
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub target: Path,
    pub value: Expr,
    pub span: Span,
}

/// `measure at s1 { ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub cell: Ident,
    pub entries: Vec<MeasureEntry>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MeasureEntry {
    /// `steady_state after 3 reactor_volumes + 30 s`
    SteadyState { after: Expr, span: Span },
    /// `settle within 0.5 degC for 30 s`
    Settle {
        within: Expr,
        hold: Expr,
        span: Span,
    },
    /// `replicates 3`
    Replicates { count: IntLit, span: Span },
    /// `absorbance { integration 50 ms, average 5 }`
    Channel {
        name: Ident,
        props: Option<Props>,
        span: Span,
    },
}

impl MeasureEntry {
    pub fn span(&self) -> Span {
        match self {
            MeasureEntry::SteadyState { span, .. }
            | MeasureEntry::Settle { span, .. }
            | MeasureEntry::Replicates { span, .. }
            | MeasureEntry::Channel { span, .. } => *span,
        }
    }
}

/// `peak = photoluminescence.peak_wavelength()` or `score = script "score.rhai"`
#[derive(Debug, Clone, PartialEq)]
pub struct Proxy {
    pub name: Ident,
    pub definition: ProxyDef,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProxyDef {
    Expr(Expr),
    /// `script "file.rhai"`
    ScriptFile(StringLit),
    /// `script """ ... """`; the span of the script text itself is kept for error positions.
    ScriptInline {
        source: String,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ObjectiveEntry {
    /// `maximize plqy`, `maximize plqy in 0.2 .. 0.9 weight 2`
    Maximize {
        proxy: Ident,
        /// The desirability ramp, worst end to best end in either order.
        range: Option<Range>,
        weight: Option<NumberLit>,
        span: Span,
    },
    /// `minimize fwhm`, `minimize fwhm in 15 nm .. 60 nm`
    Minimize {
        proxy: Ident,
        /// The desirability ramp, worst end to best end in either order.
        range: Option<Range>,
        weight: Option<NumberLit>,
        span: Span,
    },
    /// `target peak = 600 nm within 5 nm`, `target plqy >= 0.5`
    Target {
        proxy: Ident,
        op: TargetOp,
        value: Expr,
        within: Option<Expr>,
        weight: Option<NumberLit>,
        span: Span,
    },
    /// `map peak until sd <= 2 nm`: map the proxy over the variables' box until its largest
    /// predicted sd falls to the level (no level: until the budget).
    Map {
        proxy: Ident,
        level: Option<Expr>,
        span: Span,
    },
    /// `require plqy >= 0.2`
    Require { condition: Expr, span: Span },
    /// `combine desirability { weights ... }` / `combine pareto`
    Combine {
        method: Ident,
        props: Option<Props>,
        span: Span,
    },
    /// `stop when peak within 2 nm and plqy >= 0.6`
    Stop { condition: Expr, span: Span },
}

impl ObjectiveEntry {
    pub fn span(&self) -> Span {
        match self {
            ObjectiveEntry::Maximize { span, .. }
            | ObjectiveEntry::Minimize { span, .. }
            | ObjectiveEntry::Target { span, .. }
            | ObjectiveEntry::Map { span, .. }
            | ObjectiveEntry::Require { span, .. }
            | ObjectiveEntry::Combine { span, .. }
            | ObjectiveEntry::Stop { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetOp {
    Equal,
    AtLeast,
    AtMost,
}

impl TargetOp {
    pub fn symbol(self) -> &'static str {
        match self {
            TargetOp::Equal => "=",
            TargetOp::AtLeast => ">=",
            TargetOp::AtMost => "<=",
        }
    }
}

/// A plain number, with the text as written (for printing back).
#[derive(Debug, Clone, PartialEq)]
pub struct NumberLit {
    pub value: f64,
    pub text: String,
    pub span: Span,
}

/// `optimizer bayesian { ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct Optimizer {
    pub strategy: Ident,
    pub entries: Vec<OptimizerEntry>,
    pub has_block: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OptimizerEntry {
    /// `initial sobol 10`
    Initial {
        design: Ident,
        count: IntLit,
        span: Span,
    },
    /// `batch 2`
    Batch { size: IntLit, span: Span },
    /// `levels { temperature [240 degC, 260 degC], residence 5 }`
    Levels { levels: Vec<Level>, span: Span },
    /// `acquisition log_expected_improvement`, `surrogate gp { kernel matern52 }`
    Option {
        name: Ident,
        value: Option<Expr>,
        props: Option<Props>,
        span: Span,
    },
}

impl OptimizerEntry {
    pub fn span(&self) -> Span {
        match self {
            OptimizerEntry::Initial { span, .. }
            | OptimizerEntry::Batch { span, .. }
            | OptimizerEntry::Levels { span, .. }
            | OptimizerEntry::Option { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub variable: Ident,
    pub values: LevelValues,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LevelValues {
    /// Evenly spaced over the variable's range.
    Count(IntLit),
    List(Vec<Expr>, Span),
}

/// `prior csv "earlier.csv"` / `prior bundle "runs/abc"`
#[derive(Debug, Clone, PartialEq)]
pub struct Prior {
    pub format: Ident,
    pub path: StringLit,
    pub props: Option<Props>,
    pub span: Span,
}

/// `fit growth { ... }`: a kinetic model whose parameters are fitted to the observations.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub name: Ident,
    pub entries: Vec<FitEntry>,
    pub span: Span,
}

/// One line of a `fit` block.
#[derive(Debug, Clone, PartialEq)]
pub enum FitEntry {
    /// `state radius = 1 nm`: a state of the ODEs and its value at time zero.
    State {
        name: Ident,
        initial: Expr,
        span: Span,
    },
    /// `rate radius = k / radius`: the state's time derivative.
    Rate {
        state: Ident,
        value: Expr,
        span: Span,
    },
    /// `parameter k in 1e-20 m^2/s .. 1e-16 m^2/s log`: a parameter to fit, within its bounds.
    Parameter {
        name: Ident,
        range: Range,
        log: bool,
        span: Span,
    },
    /// `time residence`: how long each experiment's ODEs run.
    Time { value: Expr, span: Span },
    /// `observe exciton = f(radius)`: what the model predicts of a proxy.
    Observe {
        proxy: Ident,
        value: Expr,
        span: Span,
    },
}

impl FitEntry {
    pub fn span(&self) -> Span {
        match self {
            FitEntry::State { span, .. }
            | FitEntry::Rate { span, .. }
            | FitEntry::Parameter { span, .. }
            | FitEntry::Time { span, .. }
            | FitEntry::Observe { span, .. } => *span,
        }
    }
}

/// `target "data/target-spectrum.csv"` in a `data` block: a file scripts read by its name.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    pub name: Ident,
    pub path: StringLit,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SafetyEntry {
    /// `temperature <= 90 degC`
    Limit(Expr),
    /// `on pump_stall : stop_all, pause`
    OnFault {
        fault: Ident,
        actions: Vec<Action>,
        span: Span,
    },
    /// `safe h1 = 25 degC`
    SafeSetpoint {
        device: Ident,
        value: Expr,
        span: Span,
    },
}

impl SafetyEntry {
    pub fn span(&self) -> Span {
        match self {
            SafetyEntry::Limit(e) => e.span,
            SafetyEntry::OnFault { span, .. } | SafetyEntry::SafeSetpoint { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `retry 3 [backoff 2 s]`
    Retry {
        times: IntLit,
        backoff: Option<Expr>,
        span: Span,
    },
    /// `then skip_experiment`
    Then(Ident),
    /// `pause`, `stop_all`, `abort`, `skip_experiment`
    Plain(Ident),
}

impl Action {
    pub fn span(&self) -> Span {
        match self {
            Action::Retry { span, .. } => *span,
            Action::Then(i) | Action::Plain(i) => i.span,
        }
    }
}

/// `simulate cspbx3_halide_exchange { ... }`, `simulate table "x.csv" { ... }`,
/// `simulate script "model.rhai"`
#[derive(Debug, Clone, PartialEq)]
pub struct Simulate {
    pub model: SimModel,
    pub props: Option<Props>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SimModel {
    Named(Ident),
    Table(StringLit),
    Script(StringLit),
}

/// `lab "our-rig" { bind p_seed = new_era.ne1000 { ... } }`
#[derive(Debug, Clone, PartialEq)]
pub struct Lab {
    pub name: StringLit,
    pub binds: Vec<Bind>,
    pub simulate: Vec<Simulate>,
    /// Binds and simulate blocks in the order written, for the formatter.
    pub order: Vec<LabMember>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabMember {
    Bind(usize),
    Simulate(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bind {
    pub device: Ident,
    pub driver: Path,
    pub props: Option<Props>,
    pub span: Span,
}

/// An expression. Operator precedence is resolved; parentheses are kept as [`ExprKind::Paren`]
/// so that `qdx fmt` prints them back.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Number(NumberLit),
    /// A number with a unit: `10 uL/min`. The unit is the text as written.
    Quantity {
        number: NumberLit,
        unit: String,
        unit_span: Span,
    },
    String(String),
    Bool(bool),
    Path(Path),
    Call {
        callee: Path,
        args: Vec<Argument>,
    },
    List(Vec<Expr>),
    /// A value per level of a choice variable:
    /// `match ligand { "OAm" => 10 uL/min, "OA" => 20 uL/min }`.
    Match {
        subject: Path,
        arms: Vec<MatchArm>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Paren(Box<Expr>),
}

/// One arm of a `match`: a level of the choice and the value it takes there.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchArm {
    pub level: StringLit,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Argument {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Within,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Within => "within",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "^",
        }
    }

    /// Binding power used by the formatter to decide where parentheses are needed; matches the
    /// Pratt table in `expr.rs`.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::Within => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div => 6,
            BinaryOp::Pow => 8,
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }
}
