//! `qdx plan` output: a readable summary, JSON, and Graphviz DOT of one experiment.

use std::fmt::Write as _;

use super::{Operation, Plan, hours, ml};
use crate::validate::campaign::Campaign;

/// The readable summary.
pub fn text(c: &Campaign, plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "plan of {:?} ({} experiments, {})",
        plan.campaign, plan.experiments, plan.strategy
    );
    if let Some(e) = &plan.example {
        let what = if plan.design.is_some() {
            "the first experiment"
        } else {
            "a representative experiment"
        };
        let _ = writeln!(s, "\n{what}, step by step:");
        for (i, step) in e.steps.iter().enumerate() {
            let _ = writeln!(s, "  {}. {}", i + 1, step.why);
            for op in &step.ops {
                let _ = writeln!(s, "       {}", op.describe(c));
            }
        }
        let _ = writeln!(s, "  estimated {}", hours(e.estimated_duration));
        for n in &e.notes {
            let _ = writeln!(s, "  note: {n}");
        }
    }
    let _ = writeln!(
        s,
        "\none experiment takes {} .. {} (median {})",
        hours(plan.duration.min),
        hours(plan.duration.max),
        hours(plan.duration.median)
    );
    if plan.lines.len() > 1 {
        let names: Vec<String> = plan.lines.iter().map(|l| format!("`{l}`")).collect();
        let _ = writeln!(
            s,
            "{} parallel lines ({}) run one experiment each per batch, at the same time: the campaign is estimated at {} for {} experiments",
            plan.lines.len(),
            names.join(", "),
            hours(plan.total_time),
            plan.experiments
        );
    } else if let Some(d) = &plan.design {
        let saved = d.makespan_unordered - d.makespan;
        let _ = writeln!(
            s,
            "the design runs in {} in run order ({} in the order it was written; ordering saves {})",
            hours(d.makespan),
            hours(d.makespan_unordered),
            hours(saved.max(0.0))
        );
    } else {
        let _ = writeln!(
            s,
            "the campaign is estimated at {} for {} experiments",
            hours(plan.total_time),
            plan.experiments
        );
    }
    if !plan.reagent.is_empty() {
        let _ = writeln!(s, "reagent per stock (largest experiment, whole campaign):");
        for (stock, r) in &plan.reagent {
            let _ = writeln!(
                s,
                "  {stock}: {}, {}",
                ml(r.per_experiment_max),
                ml(r.total)
            );
        }
    }
    if plan.refill_schedule.is_empty() {
        let estimated = if plan.design.is_none() && plan.refills > 0 {
            " (estimated: the experiments are chosen as the run goes)"
        } else {
            ""
        };
        let _ = writeln!(s, "refills: {}{estimated}", plan.refills);
    } else {
        let _ = writeln!(s, "refills: {}", plan.refills);
        for r in &plan.refill_schedule {
            let _ = writeln!(
                s,
                "  {} takes in {} before experiment {}",
                c.devices.get(r.pump).map_or("?", |d| d.name.as_str()),
                ml(r.volume),
                r.before_experiment
            );
        }
    }
    for w in &plan.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

/// The representative experiment as a Graphviz graph: steps in sequence, operations of a step
/// in parallel.
pub fn dot(c: &Campaign, plan: &Plan) -> String {
    let mut s = String::from(
        "digraph experiment {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n",
    );
    let Some(e) = &plan.example else {
        s.push_str("}\n");
        return s;
    };
    let escape = |t: &str| t.replace('\\', "\\\\").replace('"', "\\\"");
    let mut previous: Vec<String> = vec!["start".to_owned()];
    s.push_str("  start [shape=circle, label=\"\"];\n");
    for (i, step) in e.steps.iter().enumerate() {
        let _ = writeln!(
            s,
            "  subgraph cluster_{i} {{\n    label=\"{}\";\n    style=rounded;",
            escape(&step.why)
        );
        let mut current = Vec::new();
        for (j, op) in step.ops.iter().enumerate() {
            let id = format!("s{i}o{j}");
            let shape = match op {
                Operation::WaitThermal { .. }
                | Operation::WaitSteadyState { .. }
                | Operation::WaitLight { .. } => "ellipse",
                Operation::Read => "note",
                o if o.is_acquisition() => "note",
                _ => "box",
            };
            let _ = writeln!(
                s,
                "    {id} [label=\"{}\", shape={shape}];",
                escape(&op.describe(c))
            );
            current.push(id);
        }
        s.push_str("  }\n");
        // Acquisitions in a step run one after another; other operations in parallel.
        let sequential = step.ops.iter().all(Operation::is_sequenced);
        if sequential {
            for (k, id) in current.iter().enumerate() {
                if k == 0 {
                    for p in &previous {
                        let _ = writeln!(s, "  {p} -> {id};");
                    }
                } else if let Some(prev) = current.get(k - 1) {
                    let _ = writeln!(s, "  {prev} -> {id};");
                }
            }
            previous = current.last().cloned().into_iter().collect();
        } else {
            for p in &previous {
                for id in &current {
                    let _ = writeln!(s, "  {p} -> {id};");
                }
            }
            previous = current;
        }
    }
    s.push_str("}\n");
    s
}
