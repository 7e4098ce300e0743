//! Parallel lines (`lines a, b` in the reactor block): the reactor line the block declares is
//! built once per name, and each line runs one experiment of a batch at the same time.
//!
//! Every variable is per line: a line is a whole copy of the reactor (its own pumps, mixer,
//! coil, heater and cell), so each line can run any point of the space, and a batch of
//! suggestions is exactly one experiment per line. Topologies whose lines would share a setting
//! (one mixer dividing its flow between coils, coils in one bath) stay check errors in
//! `reactor.rs`: a batch would then have to share that variable, which the optimizer's batch
//! does not do.
//!
//! Invariant of [`Topology::lines`]: empty (one line: the reactor as declared) or two or more
//! distinct names; with lines, the campaign runs on the simulated reactor (not a table or
//! script lab) and the optimizer's batch is the number of lines (the default when the
//! campaign writes no `batch`).

use super::Validator;
use super::campaign::*;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::syntax::ast::{self, Item, OptimizerEntry, ReactorEntry};

impl Validator<'_> {
    /// The `lines` declarations of the reactor block, checked into [`Topology::lines`].
    pub(super) fn lines(&mut self) {
        let mut decls: Vec<&ast::Lines> = Vec::new();
        for (_, item) in &self.items.list {
            if let Item::Reactor(block) = item {
                for e in &block.entries {
                    if let ReactorEntry::Lines(l) = e {
                        decls.push(l);
                    }
                }
            }
        }
        let Some((first, again)) = decls.split_first() else {
            return;
        };
        for l in again {
            self.error(
                Diagnostic::error(code::LINES_TWICE, "the reactor's lines are declared twice")
                    .label(l.span, "declared again here")
                    .label(first.span, "first declared here")
                    .help("name every line in one `lines` entry, e.g. `lines a, b, c`"),
            );
        }
        let mut lines: Vec<Line> = Vec::new();
        for n in &first.names {
            if let Some(prev) = lines.iter().find(|l| l.name == n.name) {
                self.error(
                    Diagnostic::error(
                        code::DUPLICATE_LINE,
                        format!("line `{}` is named twice", n.name),
                    )
                    .label(n.span, "named again here")
                    .label(prev.span, "first named here"),
                );
                continue;
            }
            lines.push(Line {
                name: n.name.clone(),
                span: n.span,
            });
        }
        if lines.len() < 2 {
            if first.names.len() < 2 {
                self.error(
                    Diagnostic::error(code::ONE_LINE, "`lines` names a single line")
                        .at(first.span)
                        .help("the reactor as declared is one line: name two or more (`lines a, b`), or remove `lines`"),
                );
            }
            return;
        }
        self.topology.lines = lines;
    }

    /// What parallel lines ask of the rest of the campaign, once the lab and the optimizer are
    /// known: a reactor to copy (not a table or script lab), and a written `batch` of one
    /// experiment per line (a larger batch would queue experiments the optimizer already
    /// chose, a smaller one leaves lines idle).
    pub(super) fn lines_in_campaign(&mut self) {
        let n = self.topology.lines.len();
        // From the first line's name to the last's: the lines as written.
        let Some(first) = self.topology.lines.first().map(|l| l.span) else {
            return;
        };
        let first = self
            .topology
            .lines
            .last()
            .map_or(first, |last| first.to(last.span));
        if n < 2 {
            return;
        }
        if let Some(kind) = self.virtual_lab() {
            let at = self.simulation.as_ref().map_or(first, |s| s.span);
            self.error(
                Diagnostic::error(
                    code::LINES_VIRTUAL_LAB,
                    format!("a {kind} lab has no reactor lines to run side by side"),
                )
                .label(first, "parallel lines")
                .label(at, format!("the campaign's lab is a {kind}"))
                .help("parallel lines run on the simulated reactor; remove `lines` to run the campaign on this lab"),
            );
            return;
        }
        let Some((size, span)) = written_batch(self) else {
            return;
        };
        if size as usize != n {
            let names: Vec<String> = self
                .topology
                .lines
                .iter()
                .map(|l| format!("`{}`", l.name))
                .collect();
            let d = Diagnostic::error(
                code::BATCH_LINES,
                format!(
                    "a batch of {size} on {n} parallel lines ({})",
                    names.join(", ")
                ),
            )
            .label(span, format!("should be {n}, one experiment per line"))
            .label(first, "the lines");
            self.error(d.help(format!(
                "each line runs one experiment of a batch at the same time: write `batch {n}` or leave `batch` out"
            )));
        }
    }
}

/// The `batch` the optimizer block writes, with its span.
fn written_batch(v: &Validator<'_>) -> Option<(u64, crate::source::Span)> {
    v.items.list.iter().find_map(|(_, item)| match item {
        Item::Optimizer(o) => o.entries.iter().find_map(|e| match e {
            OptimizerEntry::Batch { size, span } => Some((size.value, *span)),
            _ => None,
        }),
        _ => None,
    })
}

/// Whether the optimizer block writes a `batch`.
pub(super) fn batch_written(v: &Validator<'_>) -> bool {
    written_batch(v).is_some()
}
