//! Closed intervals of reals with sound outward rounding, for proving bounds over a variable box
//! (e.g. that `r1.volume / residence * iodide_frac` keeps a pump inside its rate range).
//!
//! Invariants:
//! - `lo <= hi`, neither is NaN, `lo < +∞` and `hi > -∞` (an interval is a non-empty set of
//!   reals; infinite endpoints mean "unbounded" and are never attained);
//! - soundness: for every operation `op` and all points `x ∈ a`, `y ∈ b` where `op(x, y)` is
//!   defined, the exact real `op(x, y)` lies in `a.op(b)`. Endpoints are rounded outward after
//!   each operation (see `rounding`), and kept exact when the operation was exact.
//!
//! Partial operations are errors, not silently clipped: the validator reports them, because at
//! run time they would produce an infinity or NaN for some point of the box.
//! - `div` by an interval containing 0 (even only at an endpoint): [`IntervalError::DivisionByZero`];
//! - `sqrt` needs `lo >= 0`, `ln`/`log10` need `lo > 0`, `powi` with a negative exponent needs
//!   0 outside the interval: else [`IntervalError::OutsideDomain`].
//!
//! Values are plain `f64` (SI); the caller tracks dimensions alongside.

use std::fmt;
use std::ops::{Add, Mul, Neg, Sub};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::format::format_number;
use crate::rounding;

/// A closed interval `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawInterval")]
pub struct Interval {
    lo: f64,
    hi: f64,
}

#[derive(Deserialize)]
struct RawInterval {
    lo: f64,
    hi: f64,
}

impl TryFrom<RawInterval> for Interval {
    type Error = IntervalError;
    fn try_from(raw: RawInterval) -> Result<Interval, IntervalError> {
        Interval::new(raw.lo, raw.hi)
    }
}

/// Why an interval operation has no sound finite answer.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum IntervalError {
    /// `lo > hi`, a NaN, or an interval that contains no real (`[+∞, +∞]`).
    #[error("invalid interval [{}, {}]", format_number(*lo), format_number(*hi))]
    InvalidBounds {
        /// Requested lower bound.
        lo: f64,
        /// Requested upper bound.
        hi: f64,
    },
    /// The divisor can be zero somewhere in the box.
    #[error("division by a value that can be zero: it ranges over {divisor}")]
    DivisionByZero {
        /// The divisor's range.
        divisor: Interval,
    },
    /// The argument leaves the function's domain somewhere in the box.
    #[error("`{operation}` needs {domain}, but its argument ranges over {argument}")]
    OutsideDomain {
        /// `sqrt`, `ln`, `log10` or `powi`.
        operation: &'static str,
        /// The domain in words ("a non-negative value").
        domain: &'static str,
        /// The argument's range.
        argument: Interval,
    },
}

impl Interval {
    /// `[lo, hi]`.
    ///
    /// # Errors
    /// [`IntervalError::InvalidBounds`] unless `lo <= hi`, neither is NaN, `lo < +∞`, `hi > -∞`.
    pub fn new(lo: f64, hi: f64) -> Result<Interval, IntervalError> {
        if lo <= hi && lo != f64::INFINITY && hi != f64::NEG_INFINITY {
            Ok(Interval { lo, hi })
        } else {
            Err(IntervalError::InvalidBounds { lo, hi })
        }
    }

    /// `[x, x]`.
    ///
    /// # Errors
    /// [`IntervalError::InvalidBounds`] for NaN or ±∞.
    pub fn point(x: f64) -> Result<Interval, IntervalError> {
        if x.is_finite() {
            Ok(Interval { lo: x, hi: x })
        } else {
            Err(IntervalError::InvalidBounds { lo: x, hi: x })
        }
    }

    /// The whole real line.
    #[must_use]
    pub const fn entire() -> Interval {
        Interval {
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
        }
    }

    /// Lower bound.
    #[must_use]
    pub fn lo(&self) -> f64 {
        self.lo
    }

    /// Upper bound.
    #[must_use]
    pub fn hi(&self) -> f64 {
        self.hi
    }

    /// True when `x` is a member (false for NaN).
    #[must_use]
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }

    /// True when `0` is a member.
    #[must_use]
    pub fn contains_zero(&self) -> bool {
        self.contains(0.0)
    }

    /// True when every member of `self` is in `other`.
    #[must_use]
    pub fn is_subset_of(&self, other: &Interval) -> bool {
        other.lo <= self.lo && self.hi <= other.hi
    }

    /// True when both ends are finite.
    #[must_use]
    pub fn is_bounded(&self) -> bool {
        self.lo.is_finite() && self.hi.is_finite()
    }

    /// The smallest interval containing both.
    #[must_use]
    pub fn hull(&self, other: &Interval) -> Interval {
        Interval {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
        }
    }

    /// The common part, if any.
    #[must_use]
    pub fn intersection(&self, other: &Interval) -> Option<Interval> {
        Interval::new(self.lo.max(other.lo), self.hi.min(other.hi)).ok()
    }

    /// `hi - lo`, rounded up (∞ when unbounded).
    #[must_use]
    pub fn width(&self) -> f64 {
        rounding::add(self.hi, -self.lo).1
    }

    /// Builds from possibly disordered bounds computed by this module, which are never NaN.
    fn from_bounds(lo: f64, hi: f64) -> Interval {
        // Outward rounding can only widen; the guards keep the invariant even at ±∞.
        let lo = if lo == f64::INFINITY { f64::MAX } else { lo };
        let hi = if hi == f64::NEG_INFINITY {
            -f64::MAX
        } else {
            hi
        };
        Interval {
            lo: lo.min(hi),
            hi: hi.max(lo),
        }
    }

    /// `{x ÷ y}`.
    ///
    /// # Errors
    /// [`IntervalError::DivisionByZero`] when `divisor` contains 0.
    pub fn div(&self, divisor: &Interval) -> Result<Interval, IntervalError> {
        if divisor.contains_zero() {
            return Err(IntervalError::DivisionByZero { divisor: *divisor });
        }
        let all_finite = self.is_bounded() && divisor.is_bounded();
        if all_finite {
            let q = [
                rounding::div(self.lo, divisor.lo),
                rounding::div(self.lo, divisor.hi),
                rounding::div(self.hi, divisor.lo),
                rounding::div(self.hi, divisor.hi),
            ];
            Ok(Interval::from_bounds(
                q.iter().map(|b| b.0).fold(f64::INFINITY, f64::min),
                q.iter().map(|b| b.1).fold(f64::NEG_INFINITY, f64::max),
            ))
        } else {
            // With infinite endpoints, ∞/∞ pairs have no endpoint meaning; the reciprocal form
            // (1/∞ = 0, 0 × ∞ = 0) stays tight and sound.
            Ok(*self * divisor.recip_nonzero())
        }
    }

    /// `{1 ÷ y}` for a divisor without 0.
    fn recip_nonzero(&self) -> Interval {
        Interval::from_bounds(rounding::div(1.0, self.hi).0, rounding::div(1.0, self.lo).1)
    }

    /// `{1 ÷ y}`.
    ///
    /// # Errors
    /// [`IntervalError::DivisionByZero`] when `self` contains 0.
    pub fn recip(&self) -> Result<Interval, IntervalError> {
        if self.contains_zero() {
            return Err(IntervalError::DivisionByZero { divisor: *self });
        }
        Ok(self.recip_nonzero())
    }

    /// `{min(x, y)}`.
    #[must_use]
    pub fn min(&self, other: &Interval) -> Interval {
        Interval {
            lo: self.lo.min(other.lo),
            hi: self.hi.min(other.hi),
        }
    }

    /// `{max(x, y)}`.
    #[must_use]
    pub fn max(&self, other: &Interval) -> Interval {
        Interval {
            lo: self.lo.max(other.lo),
            hi: self.hi.max(other.hi),
        }
    }

    /// `{|x|}`.
    #[must_use]
    pub fn abs(&self) -> Interval {
        if self.lo >= 0.0 {
            *self
        } else if self.hi <= 0.0 {
            -*self
        } else {
            Interval {
                lo: 0.0,
                hi: (-self.lo).max(self.hi),
            }
        }
    }

    /// `{xⁿ}`; `x⁰ = 1`.
    ///
    /// # Errors
    /// [`IntervalError::OutsideDomain`] for a negative `n` when `self` contains 0.
    pub fn powi(&self, n: i32) -> Result<Interval, IntervalError> {
        if n < 0 {
            if self.contains_zero() {
                return Err(IntervalError::OutsideDomain {
                    operation: "powi",
                    domain: "a non-zero value for a negative exponent",
                    argument: *self,
                });
            }
            return Ok(self.pow_unsigned(n.unsigned_abs()).recip_nonzero());
        }
        Ok(self.pow_unsigned(n.unsigned_abs()))
    }

    fn pow_unsigned(&self, n: u32) -> Interval {
        if n == 0 {
            return Interval { lo: 1.0, hi: 1.0 };
        }
        // Signed power of one endpoint: (down, up) of x^n.
        let signed = |x: f64| -> (f64, f64) {
            if x >= 0.0 {
                rounding::pow_nonneg(x, n)
            } else {
                let (d, u) = rounding::pow_nonneg(-x, n);
                if n.is_multiple_of(2) {
                    (d, u)
                } else {
                    (-u, -d)
                }
            }
        };
        if !n.is_multiple_of(2) || self.lo >= 0.0 {
            // Monotone increasing on the interval.
            Interval::from_bounds(signed(self.lo).0, signed(self.hi).1)
        } else if self.hi <= 0.0 {
            // Even power, decreasing on non-positive numbers.
            Interval::from_bounds(signed(self.hi).0, signed(self.lo).1)
        } else {
            let m = (-self.lo).max(self.hi);
            Interval::from_bounds(0.0, rounding::pow_nonneg(m, n).1)
        }
    }

    /// `{√x}`.
    ///
    /// # Errors
    /// [`IntervalError::OutsideDomain`] when `lo < 0`.
    pub fn sqrt(&self) -> Result<Interval, IntervalError> {
        if self.lo < 0.0 {
            return Err(IntervalError::OutsideDomain {
                operation: "sqrt",
                domain: "a non-negative value",
                argument: *self,
            });
        }
        Ok(Interval::from_bounds(
            rounding::sqrt(self.lo).0,
            rounding::sqrt(self.hi).1,
        ))
    }

    /// `{eˣ}`.
    #[must_use]
    pub fn exp(&self) -> Interval {
        let lo = exact_or(self.lo, f64::exp, |x| x == 0.0 || x.is_infinite())
            .0
            .max(0.0);
        let hi = exact_or(self.hi, f64::exp, |x| x == 0.0 || x.is_infinite()).1;
        Interval::from_bounds(lo, hi)
    }

    /// `{ln x}`.
    ///
    /// # Errors
    /// [`IntervalError::OutsideDomain`] when `lo <= 0`.
    pub fn ln(&self) -> Result<Interval, IntervalError> {
        self.log_with("ln", f64::ln)
    }

    /// `{log₁₀ x}`.
    ///
    /// # Errors
    /// [`IntervalError::OutsideDomain`] when `lo <= 0`.
    pub fn log10(&self) -> Result<Interval, IntervalError> {
        self.log_with("log10", f64::log10)
    }

    fn log_with(
        &self,
        operation: &'static str,
        f: fn(f64) -> f64,
    ) -> Result<Interval, IntervalError> {
        if self.lo <= 0.0 {
            return Err(IntervalError::OutsideDomain {
                operation,
                domain: "a positive value",
                argument: *self,
            });
        }
        let exact = |x: f64| x == 1.0 || x.is_infinite();
        Ok(Interval::from_bounds(
            exact_or(self.lo, f, exact).0,
            exact_or(self.hi, f, exact).1,
        ))
    }
}

/// Bounds of `f(x)` for a library function: exact where `is_exact(x)` says the platform result
/// is exact (`exp(0) = 1`, `ln(1) = 0`, limits at ±∞), else widened.
fn exact_or(x: f64, f: fn(f64) -> f64, is_exact: impl Fn(f64) -> bool) -> (f64, f64) {
    let y = f(x);
    if is_exact(x) {
        (y, y)
    } else {
        rounding::libm(y)
    }
}

impl Add for Interval {
    type Output = Interval;
    /// `{x + y}`.
    fn add(self, rhs: Interval) -> Interval {
        Interval::from_bounds(
            rounding::add(self.lo, rhs.lo).0,
            rounding::add(self.hi, rhs.hi).1,
        )
    }
}

impl Sub for Interval {
    type Output = Interval;
    /// `{x - y}`.
    fn sub(self, rhs: Interval) -> Interval {
        self + (-rhs)
    }
}

impl Neg for Interval {
    type Output = Interval;
    /// `{-x}` (exact).
    fn neg(self) -> Interval {
        Interval {
            lo: -self.hi,
            hi: -self.lo,
        }
    }
}

impl Mul for Interval {
    type Output = Interval;
    /// `{x × y}`.
    fn mul(self, rhs: Interval) -> Interval {
        let p = [
            rounding::mul(self.lo, rhs.lo),
            rounding::mul(self.lo, rhs.hi),
            rounding::mul(self.hi, rhs.lo),
            rounding::mul(self.hi, rhs.hi),
        ];
        Interval::from_bounds(
            p.iter().map(|b| b.0).fold(f64::INFINITY, f64::min),
            p.iter().map(|b| b.1).fold(f64::NEG_INFINITY, f64::max),
        )
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {}]",
            format_number(self.lo),
            format_number(self.hi)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(lo: f64, hi: f64) -> Interval {
        Interval::new(lo, hi).unwrap()
    }

    #[test]
    fn construction_checks_the_invariant() {
        assert!(Interval::new(2.0, 1.0).is_err());
        assert!(Interval::new(f64::NAN, 1.0).is_err());
        assert!(Interval::new(f64::INFINITY, f64::INFINITY).is_err());
        assert!(Interval::new(f64::NEG_INFINITY, f64::NEG_INFINITY).is_err());
        assert!(Interval::point(f64::INFINITY).is_err());
        assert_eq!(Interval::point(3.0).unwrap(), iv(3.0, 3.0));
        assert!(Interval::entire().contains(1e300));
        assert!(!Interval::entire().contains(f64::NAN));
        assert!(serde_json::from_str::<Interval>(r#"{"lo":2.0,"hi":1.0}"#).is_err());
        let ok: Interval = serde_json::from_str(r#"{"lo":1.0,"hi":2.0}"#).unwrap();
        assert_eq!(ok, iv(1.0, 2.0));
    }

    #[test]
    fn exact_cases_stay_tight() {
        assert_eq!(iv(1.0, 2.0) + iv(10.0, 20.0), iv(11.0, 22.0));
        assert_eq!(iv(1.0, 2.0) - iv(10.0, 20.0), iv(-19.0, -8.0));
        assert_eq!(iv(-1.0, 2.0) * iv(-3.0, 4.0), iv(-6.0, 8.0));
        assert_eq!(iv(10.0, 20.0).div(&iv(2.0, 4.0)).unwrap(), iv(2.5, 10.0));
        assert_eq!(iv(-2.0, 3.0).abs(), iv(0.0, 3.0));
        assert_eq!(iv(-3.0, 2.0).powi(2).unwrap(), iv(0.0, 9.0));
        assert_eq!(iv(-3.0, 2.0).powi(3).unwrap(), iv(-27.0, 8.0));
        assert_eq!(iv(-3.0, -2.0).powi(2).unwrap(), iv(4.0, 9.0));
        assert_eq!(iv(2.0, 4.0).powi(-1).unwrap(), iv(0.25, 0.5));
        assert_eq!(iv(-3.0, 2.0).powi(0).unwrap(), iv(1.0, 1.0));
        assert_eq!(iv(4.0, 9.0).sqrt().unwrap(), iv(2.0, 3.0));
        assert_eq!(iv(0.0, 1.0).exp().lo(), 1.0);
        assert_eq!(iv(1.0, 1.0).ln().unwrap().lo(), 0.0);
        assert_eq!(iv(1.0, 2.0).min(&iv(0.0, 5.0)), iv(0.0, 2.0));
        assert_eq!(iv(1.0, 2.0).max(&iv(0.0, 5.0)), iv(1.0, 5.0));
        assert_eq!(iv(1.0, 2.0).hull(&iv(5.0, 6.0)), iv(1.0, 6.0));
        assert_eq!(iv(1.0, 5.0).intersection(&iv(3.0, 8.0)), Some(iv(3.0, 5.0)));
        assert_eq!(iv(1.0, 2.0).intersection(&iv(3.0, 8.0)), None);
        assert!(iv(1.0, 2.0).is_subset_of(&iv(0.0, 2.0)));
        assert!(!iv(1.0, 3.0).is_subset_of(&iv(0.0, 2.0)));
        // x - x with an exact zero bound: sqrt must still work.
        let d = iv(10.0, 120.0) - iv(10.0, 10.0);
        assert_eq!(d, iv(0.0, 110.0));
        assert!(d.sqrt().is_ok());
    }

    #[test]
    fn inexact_cases_round_outward() {
        let third = iv(1.0, 1.0).div(&iv(3.0, 3.0)).unwrap();
        assert!(third.lo() < third.hi());
        assert!(third.lo() * 3.0 <= 1.0 && third.hi() * 3.0 >= 1.0);
        let s = iv(0.1, 0.1) + iv(0.2, 0.2);
        assert!(s.contains(0.1 + 0.2) && s.lo() < s.hi());
    }

    #[test]
    fn unbounded_intervals() {
        let pos = iv(1.0, f64::INFINITY);
        assert_eq!(
            iv(f64::NEG_INFINITY, 5.0).div(&pos).unwrap(),
            iv(f64::NEG_INFINITY, 5.0)
        );
        assert_eq!(pos.recip().unwrap(), iv(0.0, 1.0));
        assert_eq!(iv(0.0, 0.0) * Interval::entire(), iv(0.0, 0.0));
        assert_eq!(Interval::entire() + Interval::entire(), Interval::entire());
        assert_eq!(pos.exp().hi(), f64::INFINITY);
        assert_eq!(iv(f64::NEG_INFINITY, 0.0).exp().lo(), 0.0);
        assert_eq!(
            iv(f64::MAX, f64::MAX) + iv(f64::MAX, f64::MAX),
            iv(f64::MAX, f64::INFINITY)
        );
        let huge = iv(1000.0, 1000.0).exp();
        assert!(huge.lo().is_finite() && huge.lo() > 1e307 && huge.hi() == f64::INFINITY);
    }

    #[test]
    fn partial_operations_are_errors() {
        let z = iv(0.0, 2.0);
        assert_eq!(
            iv(1.0, 2.0).div(&z),
            Err(IntervalError::DivisionByZero { divisor: z })
        );
        assert_eq!(
            iv(1.0, 2.0).div(&z).unwrap_err().to_string(),
            "division by a value that can be zero: it ranges over [0, 2]"
        );
        assert!(iv(-1.0, 2.0).sqrt().is_err());
        assert!(iv(0.0, 2.0).ln().is_err());
        assert!(iv(-1.0, 2.0).log10().is_err());
        assert!(iv(-1.0, 2.0).powi(-2).is_err());
        assert!(iv(-1.0, 2.0).recip().is_err());
        assert_eq!(
            iv(-1.0, 4.0).sqrt().unwrap_err().to_string(),
            "`sqrt` needs a non-negative value, but its argument ranges over [-1, 4]"
        );
    }

    #[test]
    fn pump_rate_proof() {
        // p_iodide.rate = r1.volume / residence * iodide_frac, in SI.
        let volume = Interval::point(250e-9).unwrap();
        let residence = iv(10.0, 120.0);
        let frac = iv(0.0, 0.8);
        let rate = volume.div(&residence).unwrap() * frac;
        let max_rate = 2e-6 / 60.0; // 2 mL/min
        assert!(rate.is_subset_of(&iv(0.0, max_rate)));
        assert!(rate.contains(250e-9 / 10.0 * 0.8));
        assert!(rate.contains(0.0));
    }
}
