//! Integrating one initial-value problem `y' = f(t, y)`, `y(0) = y0`, to one end time, with
//! `ode_solvers`' Dormand-Prince 5(4) method.
//!
//! Invariant: a returned state is finite in every component; a right-hand side that yields a
//! NaN or an infinity, a step size that underflows or a step budget spent is an [`OdeError`],
//! never a panic nor a silently wrong number.

use nalgebra::DVector;
use ode_solvers::Dopri5;
use ode_solvers::dop_shared::{IntegrationError, System};
use serde::Serialize;

/// The solver's settings, recorded with every fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OdeSettings {
    /// The method, for the record.
    pub method: &'static str,
    /// Relative tolerance of each step.
    pub rtol: f64,
    /// Absolute tolerance, relative to the scale of the states (see [`integrate`]).
    pub atol_relative: f64,
    /// The most steps one integration may take.
    pub max_steps: u32,
}

impl Default for OdeSettings {
    fn default() -> Self {
        Self {
            method: "Dormand-Prince 5(4), adaptive steps (ode_solvers::Dopri5)",
            rtol: 1e-10,
            atol_relative: 1e-12,
            max_steps: 100_000,
        }
    }
}

/// Why an integration failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OdeError {
    #[error("the rate is not a finite number at t = {t} s")]
    NotFinite { t: f64 },
    #[error("the integration needed more than {steps} steps (stopped at t = {t} s)")]
    TooManySteps { t: f64, steps: u32 },
    #[error("the step size fell to nothing at t = {t} s (the solution may blow up there)")]
    StepUnderflow { t: f64 },
    #[error("the equations became stiff at t = {t} s")]
    Stiff { t: f64 },
    #[error("the end time {t} s is not a finite, non-negative time")]
    BadEndTime { t: f64 },
}

/// A right-hand side `dy/dt = f(t, y)`, written into its third argument.
pub type RateFn<'a> = dyn Fn(f64, &[f64], &mut [f64]) + 'a;

struct Rhs<'a> {
    f: &'a RateFn<'a>,
    /// The first time the rate was not finite: the solver would only shrink its step on it.
    not_finite: &'a std::cell::Cell<Option<f64>>,
}

impl System<f64, DVector<f64>> for Rhs<'_> {
    fn system(&self, t: f64, y: &DVector<f64>, dy: &mut DVector<f64>) {
        (self.f)(t, y.as_slice(), dy.as_mut_slice());
        if self.not_finite.get().is_none() && dy.iter().any(|v| !v.is_finite()) {
            self.not_finite.set(Some(t));
        }
    }

    fn solout(&mut self, _t: f64, y: &DVector<f64>, dy: &DVector<f64>) -> bool {
        // Stop at once on a non-finite state rather than stepping down to an underflow.
        self.not_finite.get().is_some()
            || !(y.iter().all(|v| v.is_finite()) && dy.iter().all(|v| v.is_finite()))
    }
}

/// The state at `t_end` of `y' = f(t, y)` from `y(0) = y0`. `scale` is the size of a typical
/// state (SI), which sets the absolute tolerance: states are SI numbers (a radius is 1e-9 m),
/// so a fixed absolute tolerance would be meaningless.
pub fn integrate(
    f: &RateFn<'_>,
    y0: &[f64],
    t_end: f64,
    scale: f64,
    settings: &OdeSettings,
) -> Result<Vec<f64>, OdeError> {
    if !t_end.is_finite() || t_end < 0.0 {
        return Err(OdeError::BadEndTime { t: t_end });
    }
    if y0.iter().any(|v| !v.is_finite()) {
        return Err(OdeError::NotFinite { t: 0.0 });
    }
    if t_end == 0.0 {
        return Ok(y0.to_vec());
    }
    let atol = settings.atol_relative * scale.abs().max(f64::MIN_POSITIVE);
    let not_finite = std::cell::Cell::new(None);
    let mut solver = Dopri5::from_param(
        Rhs {
            f,
            not_finite: &not_finite,
        },
        0.0,
        t_end,
        t_end,
        DVector::from_column_slice(y0),
        settings.rtol,
        atol,
        0.9,
        0.04,
        0.2,
        10.0,
        t_end,
        0.0,
        settings.max_steps,
        1000,
        ode_solvers::dop_shared::OutputType::Sparse,
    );
    let outcome = solver.integrate();
    if let Some(t) = not_finite.get() {
        return Err(OdeError::NotFinite { t });
    }
    match outcome {
        Ok(_) => {}
        Err(IntegrationError::MaxNumStepReached { x, n_step }) => {
            return Err(OdeError::TooManySteps {
                t: x,
                steps: n_step,
            });
        }
        Err(IntegrationError::StepSizeUnderflow { x }) => {
            return Err(OdeError::StepUnderflow { t: x });
        }
        Err(IntegrationError::StiffnessDetected { x }) => return Err(OdeError::Stiff { t: x }),
    }
    let (ts, ys) = solver.results().get();
    let (Some(&t), Some(y)) = (ts.last(), ys.last()) else {
        return Err(OdeError::NotFinite { t: 0.0 });
    };
    if y.iter().any(|v| !v.is_finite()) {
        return Err(OdeError::NotFinite { t });
    }
    if (t - t_end).abs() > 1e-9 * t_end {
        // The step callback stopped it early: the state went non-finite.
        return Err(OdeError::NotFinite { t });
    }
    Ok(y.as_slice().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_growth_matches_its_closed_form() {
        // y' = r y (1 - y/K): y(t) = K / (1 + (K/y0 - 1) e^{-rt}).
        let (r, k, y0) = (0.3, 5.0, 0.1);
        let f = |_t: f64, y: &[f64], dy: &mut [f64]| dy[0] = r * y[0] * (1.0 - y[0] / k);
        for t in [0.5, 3.0, 20.0, 60.0] {
            let got = integrate(&f, &[y0], t, 1.0, &OdeSettings::default()).unwrap_or_default();
            let want = k / (1.0 + (k / y0 - 1.0) * (-r * t).exp());
            assert!(
                ((got[0] - want) / want).abs() < 1e-8,
                "t={t}: {} vs {want}",
                got[0]
            );
        }
    }

    #[test]
    fn diffusion_limited_radius_in_si_units_matches_its_closed_form() {
        // r' = k / r (r in metres, ~1e-9): r(t) = sqrt(r0² + 2kt).
        let (k, r0) = (2e-20, 1e-9);
        let f = |_t: f64, y: &[f64], dy: &mut [f64]| dy[0] = k / y[0];
        let got = integrate(&f, &[r0], 120.0, r0, &OdeSettings::default()).unwrap_or_default();
        let want = (r0 * r0 + 2.0 * k * 120.0).sqrt();
        assert!(
            ((got[0] - want) / want).abs() < 1e-9,
            "{} vs {want}",
            got[0]
        );
    }

    #[test]
    fn a_blow_up_is_an_error_not_a_panic() {
        // y' = y², y(0) = 1 blows up at t = 1.
        let f = |_t: f64, y: &[f64], dy: &mut [f64]| dy[0] = y[0] * y[0];
        let err = integrate(&f, &[1.0], 2.0, 1.0, &OdeSettings::default());
        assert!(err.is_err(), "{err:?}");
    }

    #[test]
    fn a_nan_rate_is_an_error() {
        let f = |_t: f64, y: &[f64], dy: &mut [f64]| dy[0] = (-y[0] - 1.0).sqrt();
        let err = integrate(&f, &[1.0], 1.0, 1.0, &OdeSettings::default());
        assert!(matches!(err, Err(OdeError::NotFinite { .. })), "{err:?}");
    }
}
