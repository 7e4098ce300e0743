//! `simulate` blocks: which model the simulated lab runs, checked against the model's schema.

use std::collections::BTreeMap;

use qdx_units::{Interpretation, Unit};

use super::Validator;
use super::campaign::*;
use super::kinds::constant;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::names::closest;
use crate::syntax::ast::{self, ExprKind, Item, SimModel};

/// Roles that take several stocks (`halide [bromide, iodide]`, or the role written twice).
const MANY_STOCK_ROLES: &[&str] = &["halide", "lead"];

/// Chemistry models and the roles each needs (role, required).
pub(crate) const MODELS: &[(&str, &[(&str, bool)])] = &[
    (
        "cspbx3_halide_exchange",
        &[("seeds", true), ("halide", true), ("ligand", false)],
    ),
    (
        "csfa_pbx3_synthesis",
        &[("cesium", true), ("formamidinium", false), ("lead", true)],
    ),
    ("cdse_growth", &[("cadmium", true), ("selenium", true)]),
];

impl<'a> Validator<'a> {
    pub(super) fn simulate(&mut self) {
        let blocks: Vec<&'a ast::Simulate> = self.items.of(|i| match i {
            Item::Simulate(s) => Some(s),
            _ => None,
        });
        let Some(s) = blocks.first().copied() else {
            return;
        };
        let result = match &s.model {
            SimModel::Named(name) => self.chemistry_model(name, s),
            SimModel::Table(path) => self.table_model(path, s),
            SimModel::Script(path) => self.script_model(path, s),
        };
        match result {
            Ok(sim) => self.simulation = Some(sim),
            Err(ds) => {
                // The readings of a lab that has errors are not known: the proxies that read
                // them stay silent.
                self.poison("simulation");
                for d in ds {
                    self.error(d);
                }
            }
        }
    }

    /// `table` or `script` when the campaign simulates a virtual lab, which answers at the
    /// variables without a reactor.
    pub(super) fn virtual_lab(&self) -> Option<&'static str> {
        match self.simulation.as_ref().map(|s| &s.model) {
            Some(SimulationModel::Table { .. }) => Some("table"),
            Some(SimulationModel::Script { .. }) => Some("script"),
            _ => None,
        }
    }

    /// Warns that a virtual lab runs without the campaign's reactor, device settings and
    /// `measure` block: a run sends them nothing and measures nothing (the plan takes no lab
    /// time and no reagent), which a campaign that declares them does not expect.
    pub(super) fn unused_by_virtual_lab(&mut self) {
        let Some(lab) = self.virtual_lab() else {
            return;
        };
        let Some(simulate) = self
            .items
            .of(|i| match i {
                Item::Simulate(s) => Some(s),
                _ => None,
            })
            .first()
            .map(|s| s.span)
        else {
            return;
        };
        let settings: Vec<crate::source::Span> = self
            .derived
            .iter()
            .filter(|d| matches!(d.target, DerivedTarget::Setting { .. }))
            .map(|d| d.span)
            .collect();
        let mut unused = Vec::new();
        let mut labels = Vec::new();
        for (_, item) in &self.items.list {
            let (keyword, what, label) = match item {
                Item::Reactor(_) => ("reactor", "the `reactor`", "not used"),
                Item::Derive(b) if settings.iter().any(|s| contains(b.span, *s)) => (
                    "derive",
                    "the device settings in `derive`",
                    "its device settings are never sent",
                ),
                Item::Measure(_) => ("measure", "the `measure` block", "not used"),
                _ => continue,
            };
            if !unused.contains(&what) {
                unused.push(what);
            }
            labels.push((keyword_span(item.span(), keyword), label));
        }
        let [rest @ .., last] = unused.as_slice() else {
            return;
        };
        let listed = if rest.is_empty() {
            format!("{last} is")
        } else {
            format!("{} and {last} are", rest.join(", "))
        };
        let mut d = Diagnostic::warning(
            code::UNUSED_BY_VIRTUAL_LAB,
            format!("`simulate {lab}` answers at the variables: {listed} not used"),
        )
        .label(simulate, "a virtual lab");
        for (span, text) in labels {
            d = d.label(span, text);
        }
        self.error(d.help(
            "a run sends no command to a device and measures no spectrum, so the plan takes no lab time and no reagent; remove them, or simulate the chemistry in the reactor with a model (`simulate cdse_growth`, `simulate cspbx3_halide_exchange`, `simulate csfa_pbx3_synthesis`)",
        ));
    }

    fn chemistry_model(
        &self,
        name: &ast::Ident,
        s: &ast::Simulate,
    ) -> Result<Simulation, Vec<Diagnostic>> {
        let Some((model_name, roles)) = MODELS.iter().find(|(n, _)| *n == name.name) else {
            let mut known: Vec<&str> = MODELS.iter().map(|(n, _)| *n).collect();
            known.extend(["table", "script"]);
            let d = Diagnostic::error(
                code::UNKNOWN_MODEL,
                format!("unknown simulation model `{}`", name.name),
            )
            .at(name.span);
            return Err(vec![match closest(&name.name, known.iter().copied()) {
                Some(k) => d.help(format!("did you mean `{k}`?")),
                None => d.help("models: `cspbx3_halide_exchange`, `csfa_pbx3_synthesis`, `cdse_growth`, `table \"data.csv\"`, `script \"model.rhai\"`"),
            }]);
        };
        let schema = qdx_sim::params_schema(model_name).unwrap_or(&[]);
        let mut errors = Vec::new();
        let mut role_map = BTreeMap::new();
        let mut parameters = BTreeMap::new();
        for p in s.props.iter().flat_map(|p| p.entries.iter()) {
            let key = p.name.name.as_str();
            if roles.iter().any(|(r, _)| *r == key) {
                let many = MANY_STOCK_ROLES.contains(&key);
                let single = |e: &ast::Expr| match &e.kind {
                    ExprKind::Path(path) if path.segments.len() == 1 => {
                        Some((path.dotted(), e.span))
                    }
                    _ => None,
                };
                let named: Option<Vec<(String, crate::source::Span)>> = match &p.value {
                    ast::PropValue::Expr(e) => match &e.kind {
                        ExprKind::List(items) if many => items.iter().map(single).collect(),
                        _ => single(e).map(|x| vec![x]),
                    },
                    _ => None,
                };
                let Some(named) = named else {
                    errors.push(
                        Diagnostic::error(
                            code::ROLE,
                            if many {
                                format!("`{key}` names a stock or a list of stocks")
                            } else {
                                format!("`{key}` names a stock")
                            },
                        )
                        .at(p.value.span()),
                    );
                    continue;
                };
                for (stock, span) in named {
                    match self.stocks.iter().position(|st| st.name == stock) {
                        Some(id) => {
                            // A halide the model does not know is reported with the
                            // stock (`halide "F"`); here only a stock that declares none.
                            if (key == "halide" || key == "lead")
                                && !self
                                    .stocks
                                    .get(id)
                                    .is_some_and(|st| st.properties.contains_key("halide"))
                            {
                                errors.push(
                                    Diagnostic::error(code::HALIDE, format!("stock `{stock}` must say which halide it delivers"))
                                        .at(span)
                                        .help(if key == "lead" {
                                            format!("add `halide \"Br\"` or `halide \"I\"` (PbBr2 or PbI2) to the properties of `{stock}` in `stocks`")
                                        } else {
                                            format!("add `halide \"I\"` (or \"Br\", \"Cl\") to the properties of `{stock}` in `stocks`")
                                        }),
                                );
                            }
                            let ids = role_map.entry(key.to_owned()).or_insert_with(Vec::new);
                            if !ids.contains(&id) {
                                ids.push(id);
                            }
                        }
                        None => {
                            let known: Vec<&str> =
                                self.stocks.iter().map(|x| x.name.as_str()).collect();
                            let d = Diagnostic::error(
                                code::UNKNOWN_STOCK,
                                format!("no stock named `{stock}`"),
                            )
                            .at(span);
                            errors.push(match closest(&stock, known.iter().copied()) {
                                Some(k) => d.help(format!("did you mean `{k}`?")),
                                None => d.help(format!("the `{key}` role names one of the stocks")),
                            });
                        }
                    }
                }
                continue;
            }
            let Some(spec) = schema.iter().find(|x| x.name == key) else {
                let mut known: Vec<&str> = roles.iter().map(|(r, _)| *r).collect();
                known.extend(schema.iter().map(|x| x.name));
                let d = Diagnostic::error(
                    code::UNKNOWN_PARAMETER,
                    format!("`{model_name}` has no parameter `{key}`"),
                )
                .at(p.name.span);
                errors.push(match closest(key, known.iter().copied()) {
                    Some(k) => d.help(format!("did you mean `{k}`?")),
                    None => d.help(format!("its roles and parameters: {}", known.join(", "))),
                });
                continue;
            };
            let ast::PropValue::Expr(e) = &p.value else {
                errors.push(
                    Diagnostic::error(code::PARAMETER_VALUE, format!("`{key}` is a single value"))
                        .at(p.value.span()),
                );
                continue;
            };
            match param_value(spec, e) {
                Ok(v) if v.is_finite() && v >= spec.min && v <= spec.max => {
                    parameters.insert(key.to_owned(), v);
                }
                Ok(v) => errors.push(
                    Diagnostic::error(
                        code::PARAMETER_RANGE,
                        format!(
                            "`{key}` = {} {} is outside the model's range {} .. {}",
                            fmt(v),
                            spec.unit,
                            fmt(spec.min),
                            fmt(spec.max)
                        ),
                    )
                    .at(e.span)
                    .help(spec.doc.to_owned()),
                ),
                Err(d) => errors.push(d),
            }
        }
        if *model_name == qdx_sim::CsPbX3HalideExchange::NAME {
            errors.extend(self.halide_stocks(&mut role_map));
        }
        if *model_name == qdx_sim::CsFaPbX3Synthesis::NAME {
            errors.extend(self.lead_stocks(&role_map));
        }
        for (role, required) in *roles {
            if *required && !role_map.contains_key(*role) {
                errors.push(
                    Diagnostic::error(
                        code::MISSING_ROLE,
                        format!("`{model_name}` needs to know which stock is the `{role}`"),
                    )
                    .at(s.span)
                    .help(format!("add `{role} <stock name>` to the simulate block")),
                );
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let model = match *model_name {
            "cdse_growth" => SimulationModel::CdSeGrowth,
            "csfa_pbx3_synthesis" => SimulationModel::CsFaPbX3Synthesis,
            _ => SimulationModel::CsPbX3HalideExchange,
        };
        Ok(Simulation {
            model,
            parameters,
            roles: role_map,
            span: s.span,
        })
    }

    /// Every stock that declares a halide feeds the CsPbX3 model, named in the `halide` role or
    /// not: its halide reaches the mix all the same. Adds the unnamed ones to the role and
    /// reports halides the model does not know, and seeds that are not CsPbBr3.
    fn halide_stocks(&self, role_map: &mut BTreeMap<String, Vec<StockId>>) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        let seeds = role_map.get("seeds").cloned().unwrap_or_default();
        for (id, st) in self.stocks.iter().enumerate() {
            let Some(declared) = st.properties.get("halide") else {
                continue;
            };
            let text = match declared {
                PropertyValue::Text(t) => t.clone(),
                _ => String::new(),
            };
            let halide = qdx_sim::Halide::from_symbol(&text);
            let shown = declared.describe(&[]);
            if seeds.contains(&id) {
                if halide != Some(qdx_sim::Halide::Br) {
                    errors.push(
                        Diagnostic::error(
                            code::SEED_HALIDE,
                            format!("the seeds `{}` declare halide {shown}, but `cspbx3_halide_exchange` exchanges halides into CsPbBr3 seeds", st.name),
                        )
                        .at(st.span)
                        .help("use CsPbBr3 seeds (`halide \"Br\"` or no halide property) and feed the other halide as its own stock"),
                    );
                }
                continue;
            }
            if halide.is_none() {
                errors.push(
                    Diagnostic::error(
                        code::HALIDE,
                        format!("stock `{}` declares halide {shown}, which `cspbx3_halide_exchange` does not know", st.name),
                    )
                    .at(st.span)
                    .help("the model exchanges `halide \"Cl\"`, `\"Br\"` and `\"I\"`"),
                );
                continue;
            }
            let ids = role_map.entry("halide".to_owned()).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        errors
    }

    /// The `lead` stocks of `csfa_pbx3_synthesis` are PbBr2 or PbI2: each must declare its
    /// halide (reported with the role) as `"Br"` or `"I"`. Chloride is refused: it would meet
    /// iodide across the Cl–I miscibility gap, which the model does not describe.
    fn lead_stocks(&self, role_map: &BTreeMap<String, Vec<StockId>>) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        for id in role_map.get("lead").into_iter().flatten() {
            let Some(st) = self.stocks.get(*id) else {
                continue;
            };
            let Some(declared) = st.properties.get("halide") else {
                continue;
            };
            let halide = match declared {
                PropertyValue::Text(t) => qdx_sim::Halide::from_symbol(t),
                _ => None,
            };
            if !matches!(halide, Some(qdx_sim::Halide::Br | qdx_sim::Halide::I)) {
                errors.push(
                    Diagnostic::error(
                        code::HALIDE,
                        format!(
                            "lead stock `{}` declares halide {}, but `csfa_pbx3_synthesis` makes bromide–iodide perovskites",
                            st.name,
                            declared.describe(&[])
                        ),
                    )
                    .at(st.span)
                    .help("feed PbBr2 (`halide \"Br\"`) and PbI2 (`halide \"I\"`); the model does not describe chloride (the Cl–I miscibility gap)"),
                );
            }
        }
        errors
    }

    fn names_prop(&self, s: &ast::Simulate, key: &str) -> Result<Option<Vec<String>>, Diagnostic> {
        let Some(p) = s.props.as_ref().and_then(|p| p.get(key)) else {
            return Ok(None);
        };
        match &p.value {
            ast::PropValue::Expr(ast::Expr {
                kind: ExprKind::List(items),
                ..
            }) => items
                .iter()
                .map(|i| match &i.kind {
                    ExprKind::Path(path) => Ok(path.dotted()),
                    ExprKind::String(s) => Ok(s.clone()),
                    _ => Err(Diagnostic::error(code::COLUMN_NAME, "a column name").at(i.span)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            _ => Err(Diagnostic::error(
                code::COLUMN_LIST,
                format!("`{key}` is a list of names, e.g. `{key} [yield, turnover]`"),
            )
            .at(p.value.span())),
        }
    }

    /// The `units` of a virtual lab: the unit each named input or output is in.
    fn units(
        &self,
        s: &ast::Simulate,
        errors: &mut Vec<Diagnostic>,
    ) -> BTreeMap<String, (Unit, ast::Prop)> {
        let mut units = BTreeMap::new();
        let Some(p) = s.props.as_ref().and_then(|p| p.get("units")) else {
            return units;
        };
        let ast::PropValue::Props(u) = &p.value else {
            errors.push(
                Diagnostic::error(
                    code::COLUMN_UNIT,
                    "`units` names a unit for each input or output: `units { temperature degC, peak nm }`",
                )
                .at(p.value.span()),
            );
            return units;
        };
        for p in &u.entries {
            let text = match &p.value {
                ast::PropValue::Expr(ast::Expr {
                    kind: ExprKind::Path(x),
                    ..
                }) => x.dotted(),
                ast::PropValue::Expr(ast::Expr {
                    kind: ExprKind::String(x),
                    ..
                }) => x.clone(),
                _ => {
                    errors.push(Diagnostic::error(code::COLUMN_UNIT, "write a column's unit as a name or a string: `units { temperature degC }`").at(p.value.span()));
                    continue;
                }
            };
            match super::expr::parse_unit(&text, p.value.span()) {
                Ok(unit) => {
                    units.insert(p.name.name.clone(), (unit, p.clone()));
                }
                Err(d) => errors.push(d),
            }
        }
        units
    }

    fn table_model(
        &mut self,
        path: &ast::StringLit,
        s: &ast::Simulate,
    ) -> Result<Simulation, Vec<Diagnostic>> {
        let (file, text) = self
            .loaded
            .read_relative(self.world, path.span, &path.value, "table")
            .map_err(|d| vec![d])?;
        let mut errors = unknown_properties(
            s,
            "table",
            &["mode", "inputs", "outputs", "units", "delimiter", "columns"],
        );
        let pool = match s
            .props
            .as_ref()
            .and_then(|p| p.get("mode"))
            .map(|p| &p.value)
        {
            None => true,
            Some(ast::PropValue::Expr(ast::Expr {
                kind: ExprKind::Path(m),
                ..
            })) if m.dotted() == "pool" => true,
            Some(ast::PropValue::Expr(ast::Expr {
                kind: ExprKind::Path(m),
                ..
            })) if m.dotted() == "emulator" => false,
            Some(v) => {
                errors.push(
                    Diagnostic::error(code::TABLE_MODE, "a table's mode is `pool` (only its rows can be run) or `emulator` (interpolated)").at(v.span()),
                );
                true
            }
        };
        let delimiter = match delimiter(s) {
            Ok(Some(d)) => d,
            Ok(None) => qdx_sim::detect_delimiter(&text),
            Err(d) => {
                errors.push(d);
                b','
            }
        };
        let header = qdx_sim::csv_header(&text, delimiter);
        let inputs = match self.names_prop(s, "inputs") {
            Ok(v) => v.unwrap_or_else(|| self.variables.iter().map(|v| v.name.clone()).collect()),
            Err(d) => {
                errors.push(d);
                Vec::new()
            }
        };
        let declared_outputs = self.names_prop(s, "outputs");
        // Name → the header of its column, for names that are not their column's header.
        let columns = composition_parts(
            columns(s, &mut errors),
            &inputs,
            declared_outputs.as_ref().ok().and_then(|o| o.as_deref()),
        );
        let column = |name: &str| -> String {
            columns
                .get(name)
                .map_or_else(|| name.to_owned(), |(h, _)| h.clone())
        };
        let outputs = match declared_outputs {
            Ok(Some(v)) => v,
            // Every other column, by the name `columns` gives it.
            Ok(None) => {
                let input_columns: Vec<String> = inputs.iter().map(|i| column(i)).collect();
                header
                    .iter()
                    .filter(|h| !input_columns.contains(h))
                    .map(|h| {
                        columns
                            .iter()
                            .find(|(_, (c, _))| c == h)
                            .map_or_else(|| h.clone(), |(name, _)| name.clone())
                    })
                    .collect()
            }
            Err(d) => {
                errors.push(d);
                Vec::new()
            }
        };
        let units = self.units(s, &mut errors);
        let missing: Vec<String> = inputs
            .iter()
            .chain(&outputs)
            .filter(|name| !header.contains(&column(name)))
            .map(|name| match columns.get(name.as_str()) {
                Some((h, _)) => format!("`{h}` (for `{name}`)"),
                None => format!("`{name}`"),
            })
            .collect();
        if !missing.is_empty() {
            errors.push(missing_columns(
                &file, &missing, &header, delimiter, path.span,
            ));
        }
        let mut mapped = Vec::new();
        for name in &inputs {
            if !header.contains(&column(name)) {
                continue;
            }
            let Some(id) = self.variables.iter().position(|v| &v.name == name) else {
                errors.push(
                    Diagnostic::error(
                        code::TABLE_INPUT,
                        format!("input column `{name}` is not a variable of the campaign"),
                    )
                    .at(s.span)
                    .help("each input column feeds the variable of its name (a header that is no name maps to one in `columns`)"),
                );
                continue;
            };
            self.mark_used(name);
            let Some(v) = self.variables.get(id) else {
                continue;
            };
            match input_unit(&units, v, "column") {
                Ok(unit) => mapped.push((id, name.clone(), unit)),
                Err(d) => errors.push(d),
            }
        }
        for v in &self.variables {
            if !inputs.contains(&v.name) {
                errors.push(
                    Diagnostic::error(
                        code::TABLE_UNFED,
                        format!("variable `{}` is not an input of the table", v.name),
                    )
                    .at(v.span)
                    .help(
                        "a table is a virtual lab: every variable must be one of its input columns",
                    ),
                );
            }
        }
        for (name, (_, prop)) in &columns {
            let parts: Vec<&String> = inputs
                .iter()
                .filter(|i| i.rsplit_once('.').is_some_and(|(_, part)| part == name))
                .collect();
            if !inputs.contains(name) && !outputs.contains(name) && parts.len() > 1 {
                let full = parts.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>();
                errors.push(
                    Diagnostic::error(
                        code::TABLE_COLUMNS,
                        format!(
                            "`columns` maps `{name}`, a part of more than one composition ({})",
                            full.join(" and ")
                        ),
                    )
                    .at(prop.name.span)
                    .help("give the parts different names, or head their columns with the full names in the file"),
                );
            } else if !inputs.contains(name) && !outputs.contains(name) {
                errors.push(
                    Diagnostic::error(
                        code::TABLE_COLUMNS,
                        format!("`columns` maps `{name}`, which is neither an input nor an output of the table"),
                    )
                    .at(prop.name.span)
                    .help(format!(
                        "its inputs: {}; its outputs: {}",
                        inputs.join(", "),
                        outputs.join(", ")
                    )),
                );
            }
        }
        if outputs.is_empty() {
            errors.push(
                Diagnostic::error(code::TABLE_OUTPUTS, "the table has no output column").at(s.span),
            );
        }
        errors.extend(units_of_unknown_names(&units, &inputs, &outputs, "table"));
        let readings = readings(&outputs, &units);
        // The file itself must load as a model (numbers where numbers belong, and so on); it
        // is read here once, and the run and the optimizer's pool use this model.
        let mut model = None;
        if errors.is_empty() {
            let config = qdx_sim::TableConfig {
                path: file.clone(),
                inputs: inputs.clone(),
                outputs: outputs.clone(),
                mode: if pool {
                    qdx_sim::TableMode::Pool
                } else {
                    qdx_sim::TableMode::Emulator {
                        neighbours: 8,
                        power: 2.0,
                    }
                },
                delimiter,
                columns: columns
                    .iter()
                    .map(|(name, (header, _))| (name.clone(), header.clone()))
                    .collect(),
            };
            match qdx_sim::TableModel::from_csv(&text, &config) {
                Ok(m) => model = Some(m),
                Err(e) => errors.push(
                    Diagnostic::error(
                        code::TABLE_FILE,
                        format!("`{file}` cannot be used as a table: {e}"),
                    )
                    .at(path.span),
                ),
            }
        }
        let Some(model) = model.filter(|_| errors.is_empty()) else {
            return Err(errors);
        };
        self.files.push(CampaignFile {
            name: file.clone(),
            role: FileRole::Table,
            text: text.clone(),
        });
        Ok(Simulation {
            model: SimulationModel::Table {
                path: file,
                model: std::sync::Arc::new(model),
                pool,
                inputs: mapped,
                outputs: readings,
            },
            parameters: BTreeMap::new(),
            roles: BTreeMap::new(),
            span: s.span,
        })
    }

    fn script_model(
        &mut self,
        path: &ast::StringLit,
        s: &ast::Simulate,
    ) -> Result<Simulation, Vec<Diagnostic>> {
        let (file, source) = self
            .loaded
            .read_relative(self.world, path.span, &path.value, "model script")
            .map_err(|d| vec![d])?;
        let id = self.add_source(&file, &source);
        let script = match qdx_script::Script::compile(
            &source,
            qdx_script::ScriptOrigin::File(file.clone()),
        ) {
            Ok(script) => script.with_data(std::sync::Arc::clone(&self.data)),
            Err(e) => {
                let at = e.source_offset().unwrap_or(0);
                return Err(vec![
                    Diagnostic::error(code::SCRIPT, format!("script error: {}", e.message))
                        .label(crate::source::Span::new(id, at, at + 1), "here"),
                ]);
            }
        };
        let mut errors = unknown_properties(s, "script", &["outputs", "units"]);
        let units = self.units(s, &mut errors);
        let outputs = match self.names_prop(s, "outputs") {
            Ok(Some(o)) if !o.is_empty() => o,
            Ok(_) => {
                errors.push(
                    Diagnostic::error(
                        code::SCRIPT_OUTPUTS,
                        "say what the model reports: `outputs [y]`",
                    )
                    .at(s.span)
                    .help("the names become `readings.<name>` in proxies"),
                );
                return Err(errors);
            }
            Err(d) => {
                errors.push(d);
                return Err(errors);
            }
        };
        // The script reads every variable under its own name, in the unit `units` gives it or
        // else in the unit its range was written in.
        let mut inputs = Vec::new();
        for (id, v) in self.variables.iter().enumerate() {
            match input_unit(&units, v, "input") {
                Ok(unit) => inputs.push((id, v.name.clone(), unit)),
                Err(d) => errors.push(d),
            }
        }
        let names: Vec<String> = self.variables.iter().map(|v| v.name.clone()).collect();
        errors.extend(units_of_unknown_names(&units, &names, &outputs, "script"));
        if !errors.is_empty() {
            return Err(errors);
        }
        if let Some(failure) = super::scripts::dry_run_model(
            &script,
            &self.variables,
            &self.compositions,
            &inputs,
            &outputs,
        ) {
            let d = failure.diagnostic(
                "model script",
                &format!(
                    "a model script must end with a number or a map of numbers (`#{{ {}: ... }}`)",
                    outputs.first().map_or("y", String::as_str)
                ),
            );
            // Reported, but the model stays: `readings.<output>` still resolve, so the
            // proxies that read them raise no follow-on errors.
            self.error(match failure.error.source_offset() {
                Some(at) => d.label(crate::source::Span::new(id, at, at + 1), failure.label()),
                None => d.at(path.span),
            });
        }
        for v in &self.variables {
            self.mark_used(&v.name);
        }
        self.files.push(CampaignFile {
            name: file.clone(),
            role: FileRole::Script,
            text: source.clone(),
        });
        Ok(Simulation {
            model: SimulationModel::Script {
                path: file,
                source,
                inputs,
                outputs: readings(&outputs, &units),
            },
            parameters: BTreeMap::new(),
            roles: BTreeMap::new(),
            span: s.span,
        })
    }
}

/// A table's declared `delimiter` (`delimiter ";"`, `delimiter "\t"`), if any.
fn delimiter(s: &ast::Simulate) -> Result<Option<u8>, Diagnostic> {
    let Some(p) = s.props.as_ref().and_then(|p| p.get("delimiter")) else {
        return Ok(None);
    };
    let error = || {
        Diagnostic::error(
            code::TABLE_DELIMITER,
            "a table's delimiter is one character in quotes: `delimiter \";\"`, `delimiter \"\\t\"` for a tab",
        )
        .at(p.value.span())
    };
    match &p.value {
        ast::PropValue::Expr(ast::Expr {
            kind: ExprKind::String(text),
            ..
        }) => match text.as_bytes() {
            [d] if d.is_ascii() && !matches!(d, b'"' | b'\n' | b'\r') => Ok(Some(*d)),
            _ => Err(error()),
        },
        _ => Err(error()),
    }
}

/// A table's `columns { name "header" }`: name → (the header of its column, the entry).
/// `columns` names a composition's part by the part's own name (`pce10 "mat_1"` for the input
/// `blend.pce10`), since a property's name is one word: such a key is re-keyed to the input
/// when exactly one input is that part and no input or declared output has the name itself.
/// Any other key is kept as written (and is an error later if it names nothing).
fn composition_parts(
    columns: BTreeMap<String, (String, ast::Prop)>,
    inputs: &[String],
    outputs: Option<&[String]>,
) -> BTreeMap<String, (String, ast::Prop)> {
    columns
        .into_iter()
        .map(|(name, column)| {
            let own = inputs.contains(&name) || outputs.is_some_and(|o| o.contains(&name));
            let parts: Vec<&String> = inputs
                .iter()
                .filter(|i| i.rsplit_once('.').is_some_and(|(_, part)| part == name))
                .collect();
            match parts.as_slice() {
                [part] if !own => ((*part).clone(), column),
                _ => (name, column),
            }
        })
        .collect()
}

fn columns(
    s: &ast::Simulate,
    errors: &mut Vec<Diagnostic>,
) -> BTreeMap<String, (String, ast::Prop)> {
    let mut columns = BTreeMap::new();
    let Some(p) = s.props.as_ref().and_then(|p| p.get("columns")) else {
        return columns;
    };
    let ast::PropValue::Props(entries) = &p.value else {
        errors.push(
            Diagnostic::error(
                code::TABLE_COLUMNS,
                "`columns` maps names to column headers: `columns { v_pbbr2 \"V (PbBr2 prec.)\" }`",
            )
            .at(p.value.span()),
        );
        return columns;
    };
    for e in &entries.entries {
        match &e.value {
            ast::PropValue::Expr(ast::Expr {
                kind: ExprKind::String(header),
                ..
            }) => {
                columns.insert(e.name.name.clone(), (header.clone(), e.clone()));
            }
            v => errors.push(
                Diagnostic::error(
                    code::TABLE_COLUMNS,
                    format!(
                        "write the header of `{}`'s column as a string: `{} \"its header\"`",
                        e.name.name, e.name.name
                    ),
                )
                .at(v.span()),
            ),
        }
    }
    columns
}

/// The error for the columns a table lacks (`missing`, already quoted), with a hint when the
/// header reads as one column that holds another delimiter.
fn missing_columns(
    file: &str,
    missing: &[String],
    header: &[String],
    delimiter: u8,
    at: crate::source::Span,
) -> Diagnostic {
    let message = match missing {
        [one] => format!("`{file}` has no column {one}"),
        [rest @ .., last] => format!("`{file}` has no columns {} and {last}", rest.join(", ")),
        [] => format!("`{file}` has every column"),
    };
    let mut help = format!("its columns: {}", header.join(", "));
    if let [only] = header
        && let Some(other) = qdx_sim::DELIMITERS
            .iter()
            .find(|d| **d != delimiter && only.contains(char::from(**d)))
    {
        help = format!(
            "its header reads as one column, `{only}`, split at `{}`: write `delimiter \"{}\"`",
            written(delimiter),
            written(*other)
        );
    }
    Diagnostic::error(code::TABLE_COLUMN, message)
        .at(at)
        .help(help)
}

/// A delimiter as a string literal of the language writes it (a tab as `\t`).
fn written(delimiter: u8) -> String {
    match delimiter {
        b'\t' => "\\t".to_owned(),
        d => char::from(d).to_string(),
    }
}

/// Errors for the properties of `simulate <model>` other than `known`.
fn unknown_properties(s: &ast::Simulate, model: &str, known: &[&str]) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    for p in s.props.iter().flat_map(|p| p.entries.iter()) {
        if known.contains(&p.name.name.as_str()) {
            continue;
        }
        let d = Diagnostic::error(
            code::UNKNOWN_PROPERTY,
            format!("`simulate {model}` has no property `{}`", p.name.name),
        )
        .at(p.name.span);
        let listed: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        errors.push(match closest(&p.name.name, known.iter().copied()) {
            Some(k) => d.help(format!("did you mean `{k}`?")),
            None => d.help(format!(
                "a {model} takes {}",
                match listed.as_slice() {
                    [rest @ .., last] if !rest.is_empty() =>
                        format!("{} and {last}", rest.join(", ")),
                    _ => listed.join(""),
                }
            )),
        });
    }
    errors
}

/// The unit a virtual lab's input is in: the one `units` gives (of the variable's dimension),
/// or the variable's own. `what` is `column` or `input`.
fn input_unit(
    units: &BTreeMap<String, (Unit, ast::Prop)>,
    v: &Variable,
    what: &str,
) -> Result<DisplayUnit, Diagnostic> {
    match units.get(&v.name) {
        Some((u, prop)) if u.dimension() != v.unit.unit.dimension() => Err(Diagnostic::error(
            code::UNIT_MISMATCH,
            format!(
                "{what} `{}` is given in `{}` ({}), but the variable is {}",
                v.name,
                u.symbol(),
                super::expr::describe_dimension(u.dimension()),
                super::expr::describe_dimension(v.dimension)
            ),
        )
        .at(prop.span)),
        Some((u, _)) => Ok(DisplayUnit::new(u.clone(), v.unit.interpretation)),
        None => Ok(v.unit.clone()),
    }
}

/// The readings of a virtual lab: each output in the unit `units` gives it (a temperature as
/// a point on its scale), a plain number otherwise.
fn readings(outputs: &[String], units: &BTreeMap<String, (Unit, ast::Prop)>) -> Vec<Reading> {
    outputs
        .iter()
        .map(|name| Reading {
            name: name.clone(),
            unit: units.get(name).map_or_else(DisplayUnit::plain, |(u, _)| {
                let interpretation = if u.dimension() == qdx_units::Dimension::TEMPERATURE {
                    Interpretation::Absolute
                } else {
                    Interpretation::Difference
                };
                DisplayUnit::new(u.clone(), interpretation)
            }),
        })
        .collect()
}

/// Errors for the names in `units` that are neither an input nor an output of the lab.
fn units_of_unknown_names(
    units: &BTreeMap<String, (Unit, ast::Prop)>,
    inputs: &[String],
    outputs: &[String],
    model: &str,
) -> Vec<Diagnostic> {
    units
        .iter()
        .filter(|(name, _)| !inputs.contains(name) && !outputs.contains(name))
        .map(|(name, (_, prop))| {
            let d = Diagnostic::error(
                code::UNIT_FOR_UNKNOWN_NAME,
                format!(
                    "`units` names `{name}`, which is neither an input nor an output of the {model}"
                ),
            )
            .at(prop.name.span);
            match closest(name, inputs.iter().chain(outputs).map(String::as_str)) {
                Some(k) => d.help(format!("did you mean `{k}`?")),
                None => d.help(format!(
                    "its inputs: {}; its outputs: {}",
                    inputs.join(", "),
                    outputs.join(", ")
                )),
            }
        })
        .collect()
}

/// A parameter value in the schema's SI unit; plain numbers are read in that unit.
fn param_value(spec: &qdx_sim::ParamSpec, e: &ast::Expr) -> Result<f64, Diagnostic> {
    if let ExprKind::Quantity { number, unit, .. } = &e.kind
        && unit == spec.unit
    {
        return Ok(number.value);
    }
    let t = constant(e)?.as_point();
    let value = t.expr.eval(&super::kinds::NoEnv);
    match Unit::parse(spec.unit) {
        Ok(schema_unit) if !schema_unit.dimension().is_dimensionless() => {
            if t.ty.bare {
                return Err(
                    Diagnostic::error(code::MISSING_UNIT, "this number has no unit")
                        .at(e.span)
                        .help(format!(
                            "`{}` is in {} ({})",
                            spec.name, spec.unit, spec.doc
                        )),
                );
            }
            if t.ty.dim != schema_unit.dimension() {
                return Err(Diagnostic::error(
                    code::UNIT_MISMATCH,
                    format!(
                        "`{}` is in {}, but this is {}",
                        spec.name,
                        spec.unit,
                        t.ty.describe()
                    ),
                )
                .at(e.span));
            }
            Ok(schema_unit.from_si(value, Interpretation::Absolute))
        }
        _ => {
            if !t.ty.dim.is_dimensionless() {
                return Err(Diagnostic::error(
                    code::UNIT_MISMATCH,
                    format!("`{}` is a plain number in {}", spec.name, spec.unit),
                )
                .at(e.span));
            }
            Ok(value)
        }
    }
}

/// Whether `inner` lies inside `outer`.
fn contains(outer: crate::source::Span, inner: crate::source::Span) -> bool {
    outer.file() == inner.file()
        && matches!((outer.range(), inner.range()), (Some(o), Some(i)) if o.start <= i.start && i.end <= o.end)
}

/// The keyword that starts a block (`reactor` in `reactor { … }`), for a label that does not
/// span the whole block.
fn keyword_span(block: crate::source::Span, keyword: &str) -> crate::source::Span {
    match block.file().zip(block.range()) {
        Some((file, range)) => {
            crate::source::Span::new(file, range.start, range.start + keyword.len())
        }
        None => block,
    }
}

fn fmt(v: f64) -> String {
    qdx_units::format_number(v)
}
