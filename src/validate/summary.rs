//! A readable summary of a validated campaign (`qdx check --summary`, and the snapshot tests'
//! view of what validation resolved).

use std::fmt::Write as _;

use super::campaign::*;

fn device_name(c: &Campaign, id: DeviceId) -> &str {
    c.devices.get(id).map_or("?", |d| d.name.as_str())
}

fn goal(o: &Objective) -> String {
    let ramp = o.range.map_or_else(String::new, |(lo, hi)| {
        format!(" in {} .. {}", o.unit.format(lo), o.unit.format(hi))
    });
    match o.goal {
        Goal::Maximize => format!("maximize {}{ramp}", o.name),
        Goal::Minimize => format!("minimize {}{ramp}", o.name),
        Goal::Target { value, tolerance } => format!(
            "target {} = {} within {}",
            o.name,
            o.unit.format(value),
            o.unit.format(tolerance)
        ),
        Goal::AtLeast { value } => format!("target {} >= {}", o.name, o.unit.format(value)),
        Goal::AtMost { value } => format!("target {} <= {}", o.name, o.unit.format(value)),
    }
}

/// A condition as the campaign would write it, with values in the proxies' units.
pub fn condition(c: &Campaign, cond: &Condition) -> String {
    let name = |p: ProxyId| c.proxies.get(p).map_or("?", |x| x.name.as_str());
    let fmt = |p: ProxyId, v: f64| {
        c.proxies
            .get(p)
            .map_or_else(|| v.to_string(), |x| x.unit.format(v))
    };
    match cond {
        Condition::Compare { proxy, op, value } => {
            format!("{} {} {}", name(*proxy), op.symbol(), fmt(*proxy, *value))
        }
        Condition::Within {
            proxy,
            target,
            tolerance,
        } => format!(
            "|{} - {}| <= {}",
            name(*proxy),
            fmt(*proxy, *target),
            fmt(*proxy, *tolerance)
        ),
        Condition::And(a, b) => format!("({} and {})", condition(c, a), condition(c, b)),
        Condition::Or(a, b) => format!("({} or {})", condition(c, a), condition(c, b)),
        Condition::Not(a) => format!("not {}", condition(c, a)),
    }
}

/// The summary, one section per part of the campaign.
pub fn summary(c: &Campaign) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "campaign {:?} (language {}, seed {})",
        c.name, c.language_version, c.seed
    );
    if let Some(d) = &c.description {
        let _ = writeln!(s, "  {d}");
    }
    let mut budget = Vec::new();
    if let Some(n) = c.budget.experiments {
        budget.push(format!("{n} experiments"));
    }
    if let Some(v) = c.budget.reagent_total {
        budget.push(format!(
            "{} of reagent",
            qdx_units::format_quantity(
                v,
                &qdx_units::Unit::parse("mL").unwrap_or_else(|_| qdx_units::Unit::dimensionless()),
                qdx_units::Interpretation::Difference
            )
        ));
    }
    for (stock, v) in &c.budget.reagent_per_stock {
        budget.push(format!(
            "{} of {stock}",
            qdx_units::format_quantity(
                *v,
                &qdx_units::Unit::parse("mL").unwrap_or_else(|_| qdx_units::Unit::dimensionless()),
                qdx_units::Interpretation::Difference
            )
        ));
    }
    if let Some(t) = c.budget.time {
        budget.push(format!(
            "{} of lab time",
            qdx_units::format_quantity(
                t,
                &qdx_units::Unit::parse("h").unwrap_or_else(|_| qdx_units::Unit::dimensionless()),
                qdx_units::Interpretation::Difference
            )
        ));
    }
    // Stated even when not written: the default is a decision the run takes.
    budget.push(format!(
        "stop after {} experiments in a row fail the same way",
        c.budget.stop_after_failures()
    ));
    let _ = writeln!(s, "budget: {}", budget.join(", "));
    if !c.stocks.is_empty() {
        let _ = writeln!(s, "stocks:");
        for st in &c.stocks {
            let conc = st
                .concentration
                .map(|x| format!(", {} mol/L", qdx_units::format_number(x / 1000.0)))
                .unwrap_or_default();
            let _ = writeln!(s, "  {} in {}{conc}", st.name, device_name(c, st.pump));
        }
    }
    if !c.devices.is_empty() {
        let _ = writeln!(s, "devices:");
        for d in &c.devices {
            let props: Vec<String> = d
                .properties
                .iter()
                .map(|(k, v)| format!("{k} {}", v.describe(&c.devices)))
                .collect();
            let _ = writeln!(
                s,
                "  {} {} : {} {{ {} }}",
                d.role.name(),
                d.name,
                d.kind,
                props.join(", ")
            );
            for st in &d.settings {
                let _ = writeln!(
                    s,
                    "    setting {} in {} .. {}",
                    st.name,
                    st.unit.format(st.lo),
                    st.unit.format(st.hi)
                );
            }
        }
    }
    if !c.topology.edges.is_empty() {
        let edges: Vec<String> = c
            .topology
            .edges
            .iter()
            .map(|(a, b)| format!("{} -> {}", device_name(c, *a), device_name(c, *b)))
            .collect();
        let _ = writeln!(s, "flow: {}", edges.join(", "));
        if let Some(v) = c.topology.reactor_volume {
            let _ = writeln!(
                s,
                "reactor volume to the cell: {}",
                qdx_units::format_quantity(
                    v,
                    &qdx_units::Unit::parse("uL")
                        .unwrap_or_else(|_| qdx_units::Unit::dimensionless()),
                    qdx_units::Interpretation::Difference
                )
            );
        }
        if c.topology.lines.len() > 1 {
            let names: Vec<&str> = c.topology.lines.iter().map(|l| l.name.as_str()).collect();
            let _ = writeln!(
                s,
                "parallel lines: {} (copies of the line above, one experiment each per batch)",
                names.join(", ")
            );
        }
    }
    let _ = writeln!(s, "variables:");
    for v in &c.variables {
        let domain = match &v.domain {
            Domain::Continuous { lo, hi, log } => format!(
                "{} .. {}{}",
                v.unit.format(*lo),
                v.unit.format(*hi),
                if *log { " (log)" } else { "" }
            ),
            Domain::Integer { lo, hi } => format!("integer {lo} .. {hi}"),
            Domain::Choice { levels } => format!(
                "choice {}",
                levels
                    .iter()
                    .map(|l| format!("{l:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Domain::Component {
                lo,
                hi,
                composition,
            } => format!(
                "{} .. {} (composition {})",
                qdx_units::format_number(*lo),
                qdx_units::format_number(*hi),
                c.compositions
                    .get(*composition)
                    .map_or("?", |x| x.name.as_str())
            ),
        };
        let _ = writeln!(s, "  {}: {domain}", v.name);
    }
    for comp in &c.compositions {
        let _ = writeln!(
            s,
            "  composition {} sums to {}",
            comp.name,
            qdx_units::format_number(comp.total)
        );
    }
    if !c.derived.is_empty() {
        let _ = writeln!(s, "derived (proven range over the feasible box):");
        for d in &c.derived {
            let range = if d.range.0.is_finite() && d.range.1.is_finite() {
                if (d.range.1 - d.range.0).abs() <= 1e-12 * d.range.1.abs().max(1e-300) {
                    d.unit.format(d.range.0)
                } else {
                    format!(
                        "{} .. {}",
                        d.unit.format(d.range.0),
                        d.unit.format(d.range.1)
                    )
                }
            } else {
                "unbounded".to_owned()
            };
            let _ = writeln!(s, "  {}: {range}", d.name);
        }
    }
    if !c.constraints.is_empty() {
        let _ = writeln!(s, "constraints:");
        for k in &c.constraints {
            let _ = writeln!(
                s,
                "  {}{}",
                k.text,
                if k.linear.is_some() { " (linear)" } else { "" }
            );
        }
    }
    if let Some(m) = &c.measurement {
        let channels: Vec<String> = m
            .channels
            .iter()
            .map(|ch| {
                format!(
                    "{} ({} ms x {})",
                    ch.kind.name(),
                    qdx_units::format_number(ch.integration * 1000.0),
                    ch.averages
                )
            })
            .collect();
        let extra = if m.steady_state_extra > 0.0 {
            format!(" + {} s", qdx_units::format_number(m.steady_state_extra))
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "measure at {}: steady state after {} reactor volumes{extra}; {}",
            device_name(c, m.cell),
            qdx_units::format_number(m.steady_state_volumes),
            channels.join(", ")
        );
        if let Some(k) = m.settle_within {
            let _ = writeln!(
                s,
                "  settle within {} for {} s",
                m.settle_unit.format(k),
                qdx_units::format_number(m.settle_hold)
            );
        }
        if m.replicates > 1 {
            let _ = writeln!(s, "  {} replicates", m.replicates);
        }
        if let Some(p) = &m.probe {
            let _ = writeln!(
                s,
                "  probe along {}: {} points, every channel at each",
                device_name(c, p.coil),
                p.points.len()
            );
            let seconds = DisplayUnit::of("s");
            for (k, point) in p.points.iter().enumerate() {
                let window = point.residence.map_or_else(
                    || "residence time not established over the variables".to_owned(),
                    |(lo, hi)| {
                        format!(
                            "residence within {} .. {} over the variables",
                            seconds.approx(lo),
                            seconds.approx(hi)
                        )
                    },
                );
                let _ = writeln!(s, "    point {}: {}, {window}", k + 1, point.label());
            }
        }
        if let Some(t) = &m.transient {
            let seconds = DisplayUnit::of("s");
            let (name, unit) = c
                .variables
                .get(t.variable)
                .map_or(("?", DisplayUnit::plain()), |v| {
                    (v.name.as_str(), v.unit.clone())
                });
            let _ = writeln!(
                s,
                "  transient: ramp {name} from {} to {} over {} ({}), a spectrum every {} ({} in all), mapped by {}",
                unit.format(t.from),
                unit.format(t.to),
                seconds.approx(t.over),
                match t.shape {
                    RampShape::Linear => "linear",
                    RampShape::Exponential => "exponential",
                },
                seconds.approx(t.every),
                t.spectra(),
                match t.residence {
                    ResidenceModel::PlugFlow => "plug flow".to_owned(),
                    ResidenceModel::AxialDispersion(d) => format!(
                        "axial dispersion ({})",
                        match d {
                            Dispersion::Coefficient {
                                coefficient,
                                diameter,
                            } => format!(
                                "D {} mm^2/s in a {} tube",
                                qdx_units::format_number(coefficient * 1e6),
                                DisplayUnit::of("mm").format(diameter)
                            ),
                            Dispersion::TaylorAris {
                                diffusivity,
                                diameter,
                            } => format!(
                                "Taylor–Aris, Dm {} m^2/s in a {} tube",
                                qdx_units::format_number(diffusivity),
                                DisplayUnit::of("mm").format(diameter)
                            ),
                            Dispersion::Peclet(pe) =>
                                format!("Péclet {}", qdx_units::format_number(pe)),
                        }
                    ),
                }
            );
        }
        if let Some(d) = &m.droplets {
            let seconds = DisplayUnit::of("s");
            let microlitres = DisplayUnit::of("uL");
            let _ = writeln!(
                s,
                "  droplets: {} of {} spaced {} by carrier {}, read every {}{}; a droplet is a reading of {} at {} above {}",
                d.count,
                microlitres.format(d.volume),
                microlitres.format(d.spacing),
                c.devices.get(d.carrier).map_or("?", |x| x.name.as_str()),
                seconds.approx(d.every),
                if d.hold > 0.0 {
                    format!(", stopped {} in the reactor", seconds.approx(d.hold))
                } else {
                    String::new()
                },
                d.detect.channel.name(),
                DisplayUnit::of("nm").format(d.detect.wavelength),
                qdx_units::format_number(d.detect.above)
            );
        }
    }
    if !c.proxies.is_empty() {
        let _ = writeln!(s, "proxies:");
        for p in &c.proxies {
            let def = match &p.definition {
                ProxyDefinition::Builtin { function } => {
                    format!(
                        "{}({})",
                        function.name(),
                        function
                            .channels()
                            .iter()
                            .map(|ch| ch.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
                ProxyDefinition::Reading { name } => format!("reading {name}"),
                ProxyDefinition::Formula { .. } => "formula".to_owned(),
                ProxyDefinition::Script { file, .. } => {
                    format!("script {}", file.as_deref().unwrap_or("(inline)"))
                }
            };
            let unit = if p.unit.symbol().is_empty() {
                String::new()
            } else {
                format!(" [{}]", p.unit.symbol())
            };
            let _ = writeln!(s, "  {}{unit} = {def}", p.name);
        }
    }
    if !c.objectives.list.is_empty() {
        let _ = writeln!(s, "objectives (combine {}):", c.objectives.combine.name());
        for o in &c.objectives.list {
            let _ = writeln!(
                s,
                "  {} (weight {})",
                goal(o),
                qdx_units::format_number(o.weight)
            );
        }
        for r in &c.objectives.requirements {
            let _ = writeln!(s, "  require {}", condition(c, r));
        }
        if let Some(stop) = &c.objectives.stop {
            let _ = writeln!(s, "  stop when {}", condition(c, stop));
        }
    }
    if let Some(m) = &c.objectives.map {
        let _ = writeln!(s, "objectives (map):");
        let level = m.level.map_or_else(
            || " (no level: until the budget)".to_owned(),
            |l| {
                format!(
                    " until sd <= {}: the largest predicted sd over the points of map.csv, judged once {} values are measured",
                    MapGoal::sd_unit(&m.unit).format(l),
                    MapGoal::min_values(&c.search.strategy, &c.search.domain)
                )
            },
        );
        let _ = writeln!(s, "  map {}{level}", m.name);
        if let Some(stop) = &c.objectives.stop {
            let _ = writeln!(s, "  stop when {}", condition(c, stop));
        }
    }
    let o = &c.optimizer;
    let mut opt = vec![o.strategy.name().to_owned()];
    if let Some((kind, n)) = &o.initial {
        opt.push(format!("initial {} {n}", kind.name()));
    }
    if o.batch > 1 {
        opt.push(format!("batch {}", o.batch));
    }
    opt.extend(o.options.written());
    if c.objectives.map.is_some()
        && o.options.acquisition.is_none()
        && matches!(c.search.strategy, qdx_optimize::StrategySpec::Map(_))
    {
        opt.push("acquisition max_variance (the mapping default)".into());
    }
    let chosen = if o.chosen_by_qdx {
        " (qdx's default: the campaign names no optimizer)"
    } else {
        ""
    };
    let _ = writeln!(s, "optimizer: {}{chosen}", opt.join(", "));
    for (k, levels) in &o.composition_levels {
        if let Some(comp) = c.compositions.get(*k) {
            let _ = writeln!(
                s,
                "  levels {}: {levels} per part (simplex lattice, steps of 1/{} of the total)",
                comp.name,
                levels.saturating_sub(1)
            );
        }
    }
    for (var, levels) in &o.levels {
        if let Some(v) = c.variables.get(*var) {
            let _ = writeln!(
                s,
                "  levels {}: {}",
                v.name,
                levels
                    .iter()
                    .map(|x| v.unit.format(*x))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    for p in &c.priors {
        let _ = writeln!(s, "prior {} {:?}", p.format.name(), p.path);
    }
    if !c.safety.limits.is_empty() || !c.safety.policies.is_empty() {
        let _ = writeln!(s, "safety:");
        for l in &c.safety.limits {
            let _ = writeln!(s, "  limit {}", l.text);
        }
        for p in &c.safety.policies {
            let _ = writeln!(s, "  on {}: {}", p.fault, FaultAction::written(&p.actions));
        }
        for (h, k) in &c.safety.safe_setpoints {
            let _ = writeln!(
                s,
                "  safe {} = {}",
                device_name(c, *h),
                qdx_units::format_quantity(
                    *k,
                    &qdx_units::Unit::parse("degC")
                        .unwrap_or_else(|_| qdx_units::Unit::dimensionless()),
                    qdx_units::Interpretation::Absolute
                )
            );
        }
    }
    if let Some(sim) = &c.simulation {
        let model = match &sim.model {
            SimulationModel::CsPbX3HalideExchange => "cspbx3_halide_exchange".to_owned(),
            SimulationModel::CsFaPbX3Synthesis => "csfa_pbx3_synthesis".to_owned(),
            SimulationModel::CdSeGrowth => "cdse_growth".to_owned(),
            SimulationModel::Table { path, pool, .. } => {
                format!("table {path} ({})", if *pool { "pool" } else { "emulator" })
            }
            SimulationModel::Script { path, .. } => format!("script {path}"),
        };
        let roles: Vec<String> = sim
            .roles
            .iter()
            .map(|(r, ids)| {
                let names: Vec<&str> = ids
                    .iter()
                    .map(|st| c.stocks.get(*st).map_or("?", |x| x.name.as_str()))
                    .collect();
                match names.as_slice() {
                    [one] => format!("{r} = {one}"),
                    many => format!("{r} = [{}]", many.join(", ")),
                }
            })
            .collect();
        let params: Vec<String> = sim
            .parameters
            .iter()
            .map(|(k, v)| format!("{k} = {}", qdx_units::format_number(*v)))
            .collect();
        let _ = writeln!(
            s,
            "simulate {model}{}{}",
            if roles.is_empty() {
                String::new()
            } else {
                format!(" [{}]", roles.join(", "))
            },
            if params.is_empty() {
                String::new()
            } else {
                format!(" {{{}}}", params.join(", "))
            }
        );
    }
    for name in c.data.names() {
        if let Some(t) = c.data.get(name) {
            let columns: Vec<&str> = t.columns.iter().map(|(n, _)| n.as_str()).collect();
            let rows = t.columns.first().map_or(0, |(_, v)| v.len());
            let _ = writeln!(s, "data {name}: {rows} rows of {}", columns.join(", "));
        }
    }
    for f in &c.fits {
        let states: Vec<String> = f
            .states
            .iter()
            .map(|x| match x.unit.symbol() {
                "" => x.name.clone(),
                unit => format!("{} [{unit}]", x.name),
            })
            .collect();
        let _ = writeln!(s, "fit {}: states {}", f.name, states.join(", "));
        for p in &f.parameters {
            let _ = writeln!(
                s,
                "  parameter {} in {} .. {}{}",
                p.name,
                p.unit.format(p.lo),
                p.unit.format(p.hi),
                if p.log { " (log)" } else { "" }
            );
        }
        let observed: Vec<&str> = f
            .observations
            .iter()
            .filter_map(|o| c.proxies.get(o.proxy).map(|p| p.name.as_str()))
            .collect();
        let _ = writeln!(s, "  observes {}", observed.join(", "));
    }
    let files: Vec<String> = c
        .files
        .iter()
        .map(|f| format!("{} ({})", f.name, f.role.name()))
        .collect();
    let _ = writeln!(s, "files: {}", files.join(", "));
    s
}
