//! How a validated campaign's objectives score experiments: a desirability range written in the
//! campaign fixes every score, where the observed-range fallback moves old scores as data arrive.

use std::collections::BTreeMap;
use std::path::Path;

use qdx_optimize::{Observation, Outcome, Point};

use crate::support::check_path;

/// Scores of the experiments, in order, as the campaign at `path` combines them.
fn scores(path: &str, measured: &[(f64, f64)]) -> Vec<f64> {
    let checked = check_path(Path::new(path));
    let campaign = checked.campaign.expect("a valid campaign");
    let objectives = &campaign.search.objectives;
    let observations: Vec<Observation> = measured
        .iter()
        .map(|&(peak_nm, intensity)| Observation {
            point: Point(Vec::new()),
            outcome: Outcome::Measured(BTreeMap::from([
                ("peak".to_owned(), peak_nm * 1e-9),
                ("intensity".to_owned(), intensity),
            ])),
        })
        .collect();
    objectives
        .score(&observations)
        .iter()
        .map(|s| s.combined.expect("a combined score"))
        .collect()
}

const FIRST: [(f64, f64); 2] = [(560.0, 100_000.0), (562.0, 200_000.0)];
const THEN: (f64, f64) = (559.0, 350_000.0);

#[test]
fn a_written_desirability_range_fixes_each_score() {
    let file = "tests/data/valid/cdse_small.qdx"; // maximize intensity in 0 .. 400000
    let before = scores(file, &FIRST);
    let after = scores(file, &[FIRST[0], FIRST[1], THEN]);
    assert_eq!(
        before[..],
        after[..2],
        "a later experiment changed earlier scores"
    );
    // The ramp is linear from 0 to 400 000 and the peak is on target: desirability 0.25 for
    // intensity, 1 for the peak, weights 1 and 2 → 0.25^(1/3).
    assert!(
        (before[0] - 0.25f64.powf(1.0 / 3.0)).abs() < 1e-9,
        "{before:?}"
    );
}

#[test]
fn without_a_range_the_scores_move_with_the_observed_range() {
    let file = "tests/data/warn/observed_ramp.qdx"; // maximize intensity
    let before = scores(file, &FIRST);
    let after = scores(file, &[FIRST[0], FIRST[1], THEN]);
    assert!(
        (before[1] - after[1]).abs() > 0.05,
        "expected the second score to drop once a better intensity is seen: {before:?} → {after:?}"
    );
}
