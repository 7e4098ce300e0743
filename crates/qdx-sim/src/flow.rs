//! Flow history and the residence-time distribution of the flow path.
//!
//! The history is a list of segments of constant pump flow. Position along the path is measured
//! in volume, and time is mapped to the *cumulative volume pumped* `V(t) = ∫ Q dt`: a fluid
//! element that entered the mixer when `V = v` is, on the mean (plug) path, at position `x` when
//! `V(t) = v + x`. Zero flow freezes everything in place, and a flow change moves every element
//! at the new speed, without special cases.
//!
//! Dispersion: segregated laminar flow (physics.md B5). A streamline moving at `1/θ` times the
//! mean velocity reaches position `x` once `θ·x` has been pumped; over the cross-section
//! `θ ≥ 1/2` is distributed as `F(θ) = 1 − 1/(4θ²)`. The cell's
//! content is the average over streamlines, evaluated at [`LAMINAR_POINTS`] equal-mass quantiles
//! of that distribution: the step response reaches 75 % after one path volume, 94 % after two,
//! and is complete after about 3.5 (the last quantile, θ ≈ 3.46; the true tail beyond it, 2 %
//! of the flow, is folded into it). The chemistry of each element is taken at the nominal
//! (plug-flow) residence time, so at steady state the product equals the model's answer for the
//! set conditions; dispersion shapes only the transitions.
//!
//! Invariants: segments are in time order with non-decreasing start times and cumulative
//! volumes; flows are finite and non-negative.

/// Number of quantiles of the laminar residence-time distribution.
pub const LAMINAR_POINTS: usize = 24;

/// The lag factors θ of the laminar quantiles (volumes pumped per path volume).
pub fn laminar_quantiles() -> [f64; LAMINAR_POINTS] {
    let mut out = [0.0; LAMINAR_POINTS];
    for (k, theta) in out.iter_mut().enumerate() {
        let f = (k as f64 + 0.5) / LAMINAR_POINTS as f64;
        *theta = 0.5 / (1.0 - f).sqrt();
    }
    out
}

/// A stretch of time with constant flows.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSegment {
    /// Start time, s.
    pub start: f64,
    /// Cumulative volume pumped at `start`, m³.
    pub cumulative: f64,
    /// Flow of each pump into the path, m³/s (configuration order).
    pub flows: Vec<f64>,
    /// Sum of `flows`.
    pub total: f64,
}

/// The flow history of the lab since the start of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowHistory {
    segments: Vec<FlowSegment>,
}

impl FlowHistory {
    /// A history that starts at t = 0 with every pump idle.
    pub fn new(pumps: usize) -> Self {
        Self {
            segments: vec![FlowSegment {
                start: 0.0,
                cumulative: 0.0,
                flows: vec![0.0; pumps],
                total: 0.0,
            }],
        }
    }

    fn last(&self) -> Option<&FlowSegment> {
        self.segments.last()
    }

    /// Records that from time `t` on the pumps deliver `flows`. `t` must not precede the last
    /// change (the world only moves forward); an earlier `t` is treated as the last change.
    pub fn set(&mut self, t: f64, flows: Vec<f64>) {
        let total: f64 = flows.iter().sum();
        let Some(last) = self.segments.last() else {
            return;
        };
        if flows == last.flows {
            return;
        }
        if t <= last.start {
            // A second change at the same instant replaces the first: nothing flowed between.
            if let Some(seg) = self.segments.last_mut() {
                seg.flows = flows;
                seg.total = total;
            }
            return;
        }
        let cumulative = last.cumulative + last.total * (t - last.start);
        self.segments.push(FlowSegment {
            start: t,
            cumulative,
            flows,
            total,
        });
    }

    /// The flows in force at time `t`.
    pub fn flows_at(&self, t: f64) -> Option<&FlowSegment> {
        let i = self.segments.partition_point(|s| s.start <= t);
        self.segments.get(i.saturating_sub(1))
    }

    /// Cumulative volume pumped by time `t` (the last segment extends into the future).
    pub fn volume_at(&self, t: f64) -> f64 {
        self.flows_at(t)
            .map_or(0.0, |s| s.cumulative + s.total * (t - s.start).max(0.0))
    }

    /// The segment during which cumulative volume `v > 0` was (or will be) reached, and the
    /// time it was reached. `None` for `v ≤ 0` (fluid that was in the path before the run) or
    /// when the current flow is zero and `v` lies beyond what has been pumped.
    pub fn reached(&self, v: f64) -> Option<(f64, &FlowSegment)> {
        if v.is_nan() || v <= 0.0 {
            return None;
        }
        let i = self.segments.partition_point(|s| s.cumulative < v);
        let seg = self.segments.get(i.checked_sub(1)?)?;
        if seg.total <= 0.0 {
            return None;
        }
        Some((seg.start + (v - seg.cumulative) / seg.total, seg))
    }

    /// The time at which cumulative volume `v` was (or, under the current flow, will be) reached;
    /// 0 for `v ≤ 0`. Fluid that never gets there because the flow is stopped is taken to stay
    /// where it is until `horizon`.
    pub fn time_of_volume(&self, v: f64, horizon: f64) -> f64 {
        if v <= 0.0 {
            return 0.0;
        }
        match self.reached(v) {
            Some((t, _)) => t,
            None => horizon,
        }
    }

    /// Total flow now (the last segment's).
    pub fn current_total(&self) -> f64 {
        self.last().map_or(0.0, |s| s.total)
    }

    pub fn segments(&self) -> &[FlowSegment] {
        &self.segments
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn laminar_quantiles_follow_the_step_response() {
        let q = laminar_quantiles();
        assert!((q[0] - 0.5 / (1.0 - 0.5 / 24.0_f64).sqrt()).abs() < 1e-12);
        // Fraction of streamlines arrived after one path volume ≈ 75 %.
        let arrived = q.iter().filter(|t| **t <= 1.0).count() as f64 / 24.0;
        assert!((arrived - 0.75).abs() < 0.05);
        let arrived = q.iter().filter(|t| **t <= 2.0).count() as f64 / 24.0;
        assert!((arrived - 0.9375).abs() < 0.05);
    }

    #[test]
    fn volume_and_time_map_both_ways() {
        let mut h = FlowHistory::new(2);
        h.set(10.0, vec![1.0, 1.0]); // 2 m³/s from t = 10
        h.set(20.0, vec![0.0, 0.0]); // stop at t = 20 (20 m³ pumped)
        h.set(30.0, vec![4.0, 0.0]); // 4 m³/s from t = 30
        assert_eq!(h.volume_at(5.0), 0.0);
        assert_eq!(h.volume_at(15.0), 10.0);
        assert_eq!(h.volume_at(25.0), 20.0);
        assert_eq!(h.volume_at(31.0), 24.0);
        assert_eq!(h.reached(10.0).unwrap().0, 15.0);
        assert_eq!(h.reached(20.0).unwrap().0, 20.0);
        assert_eq!(h.reached(24.0).unwrap().0, 31.0);
        assert!(h.reached(0.0).is_none());
        // Fluid entering during [30, ..) carries pump 0 only.
        assert_eq!(h.reached(22.0).unwrap().1.flows, vec![4.0, 0.0]);
    }

    #[test]
    fn no_future_when_stopped() {
        let mut h = FlowHistory::new(1);
        h.set(0.0, vec![1.0]);
        h.set(5.0, vec![0.0]);
        assert!(h.reached(6.0).is_none());
        assert_eq!(h.time_of_volume(6.0, 42.0), 42.0);
    }
}
