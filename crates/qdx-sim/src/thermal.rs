//! Heater temperature: a first-order response to the setpoint.
//!
//! `T(t) = T_sp + (T₀ − T_sp)·exp(−(t − t₀)/τ)` after a setpoint change at `t₀` from
//! temperature `T₀`. Invariant: changes are stored in time order, so the temperature at any
//! past or future time (assuming no further change) has a closed form, and so has its mean
//! over an interval.

/// The setpoint history of one heater.
#[derive(Debug, Clone, PartialEq)]
pub struct ThermalTrace {
    tau: f64,
    /// (time of change, temperature at that time, new setpoint)
    changes: Vec<(f64, f64, f64)>,
}

impl ThermalTrace {
    /// A heater at `initial_k` (and setpoint) from t = 0, with time constant `tau` > 0.
    pub fn new(initial_k: f64, tau: f64) -> Self {
        Self {
            tau: if tau > 0.0 { tau } else { 1.0 },
            changes: vec![(0.0, initial_k, initial_k)],
        }
    }

    fn change_at(&self, t: f64) -> (f64, f64, f64) {
        let i = self.changes.partition_point(|c| c.0 <= t);
        self.changes
            .get(i.saturating_sub(1))
            .copied()
            .unwrap_or((0.0, 0.0, 0.0))
    }

    /// Temperature at time `t`, K.
    pub fn temperature(&self, t: f64) -> f64 {
        let (t0, start, sp) = self.change_at(t);
        sp + (start - sp) * (-(t - t0).max(0.0) / self.tau).exp()
    }

    /// Setpoint in force at time `t`, K.
    pub fn setpoint(&self, t: f64) -> f64 {
        self.change_at(t).2
    }

    /// Changes the setpoint at time `t` (not before the last change).
    pub fn set(&mut self, t: f64, setpoint: f64) {
        let t = self.changes.last().map_or(t, |c| t.max(c.0));
        let now = self.temperature(t);
        self.changes.push((t, now, setpoint));
    }

    /// Mean temperature over `[a, b]`, K (the temperature at `a` when the interval is empty).
    pub fn mean(&self, a: f64, b: f64) -> f64 {
        if b.is_nan() || b <= a {
            return self.temperature(a);
        }
        let mut integral = 0.0;
        let first = self.changes.partition_point(|c| c.0 <= a).saturating_sub(1);
        for (k, &(t0, start, sp)) in self.changes.iter().enumerate().skip(first) {
            let seg_end = self.changes.get(k + 1).map_or(f64::INFINITY, |c| c.0);
            let lo = a.max(t0);
            let hi = b.min(seg_end);
            if hi <= lo {
                if t0 >= b {
                    break;
                }
                continue;
            }
            let decay = |t: f64| (-(t - t0) / self.tau).exp();
            integral += sp * (hi - lo) + (start - sp) * self.tau * (decay(lo) - decay(hi));
        }
        integral / (b - a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_order_step_response() {
        let mut h = ThermalTrace::new(300.0, 10.0);
        h.set(5.0, 400.0);
        assert_eq!(h.temperature(5.0), 300.0);
        let expected = 400.0 - 100.0 * (-1.0_f64).exp();
        assert!((h.temperature(15.0) - expected).abs() < 1e-9);
        assert!((h.temperature(1000.0) - 400.0).abs() < 1e-9);
        assert_eq!(h.setpoint(6.0), 400.0);
    }

    #[test]
    fn mean_matches_numeric_integration() {
        let mut h = ThermalTrace::new(300.0, 10.0);
        h.set(5.0, 400.0);
        h.set(12.0, 350.0);
        let (a, b) = (2.0, 30.0);
        let n = 200_000;
        let numeric: f64 = (0..n)
            .map(|i| h.temperature(a + (b - a) * (i as f64 + 0.5) / n as f64))
            .sum::<f64>()
            / n as f64;
        assert!(
            (h.mean(a, b) - numeric).abs() < 1e-6,
            "{} vs {numeric}",
            h.mean(a, b)
        );
    }
}
