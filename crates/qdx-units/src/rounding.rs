//! Directed rounding for interval endpoints, without changing the FPU rounding mode.
//!
//! Invariant: every `*_bounds` function returns `(down, up)` with `down <= exact <= up`, where
//! `exact` is the real-number result of the operation on its (finite or infinite) arguments.
//! When the rounded result is provably exact (error-free transformations: TwoSum for sums, FMA
//! residuals for products, quotients and square roots), `down == up`, so exact bounds such as
//! `0` stay exact (`sqrt` of `x - x` must not fail because of a spurious `-5e-324`).
//! Near the subnormal range the residuals may themselves be rounded, so results there are always
//! widened by one step on both sides.

/// Below this magnitude FMA residuals can underflow; widen unconditionally.
const TINY: f64 = 1e-290;

fn widen_both(x: f64) -> (f64, f64) {
    (x.next_down(), x.next_up())
}

/// `x` is the rounded result and `direction` the sign of (exact − x).
fn directed(x: f64, direction: f64) -> (f64, f64) {
    if direction > 0.0 {
        (x, x.next_up())
    } else if direction < 0.0 {
        (x.next_down(), x)
    } else {
        (x, x)
    }
}

/// The result overflowed from finite arguments: the exact value is finite and beyond `MAX`.
fn overflowed(x: f64) -> (f64, f64) {
    if x > 0.0 {
        (f64::MAX, f64::INFINITY)
    } else {
        (f64::NEG_INFINITY, -f64::MAX)
    }
}

const WHOLE_LINE: (f64, f64) = (f64::NEG_INFINITY, f64::INFINITY);

/// Bounds of `a + b`.
pub(crate) fn add(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    if s.is_nan() {
        return WHOLE_LINE;
    }
    if a.is_infinite() || b.is_infinite() {
        return (s, s);
    }
    if s.is_infinite() {
        return overflowed(s);
    }
    // TwoSum (Knuth): `err` is exactly (a + b) − s.
    let bp = s - a;
    let ap = s - bp;
    let err = (a - ap) + (b - bp);
    if !err.is_finite() {
        // Only at the edge of the range, where TwoSum's intermediates can overflow.
        return widen_both(s);
    }
    directed(s, err)
}

/// Bounds of `a × b`, with `0 × ∞ = 0` (an infinite endpoint is a limit, never attained).
pub(crate) fn mul(a: f64, b: f64) -> (f64, f64) {
    if a == 0.0 || b == 0.0 {
        return (0.0, 0.0);
    }
    let p = a * b;
    if p.is_nan() {
        return WHOLE_LINE;
    }
    if a.is_infinite() || b.is_infinite() {
        return (p, p);
    }
    if p.is_infinite() {
        return overflowed(p);
    }
    if p.abs() < TINY {
        return widen_both(p);
    }
    // Exactly a×b − p, since the product is far from the subnormal range.
    let err = a.mul_add(b, -p);
    directed(p, err)
}

/// Bounds of `a ÷ b` for `b != 0`; `finite ÷ ∞ = 0`.
pub(crate) fn div(a: f64, b: f64) -> (f64, f64) {
    if a == 0.0 {
        return (0.0, 0.0);
    }
    let q = a / b;
    if q.is_nan() {
        return WHOLE_LINE;
    }
    if a.is_infinite() || b.is_infinite() {
        return (q, q);
    }
    if q.is_infinite() {
        return overflowed(q);
    }
    if q.abs() < TINY || a.abs() < TINY {
        return widen_both(q);
    }
    // r = a − q×b exactly; the exact quotient is q + r/b.
    let r = (-q).mul_add(b, a);
    directed(q, r * b.signum())
}

/// Bounds of `√x` for `x >= 0`.
pub(crate) fn sqrt(x: f64) -> (f64, f64) {
    let s = x.sqrt();
    if x == 0.0 || x.is_infinite() || s.is_nan() {
        return (s, s);
    }
    if x < TINY {
        return widen_both(s);
    }
    // r = x − s² exactly; the exact root is above s iff r > 0.
    let r = (-s).mul_add(s, x);
    directed(s, r)
}

/// Bounds for a library function result that is not correctly rounded: the platform's `exp`,
/// `ln` and `log10` are within one ulp, so two steps either side are safe (one step can be half
/// an ulp at a binade boundary).
pub(crate) fn libm(y: f64) -> (f64, f64) {
    if y.is_nan() {
        return WHOLE_LINE;
    }
    (y.next_down().next_down(), y.next_up().next_up())
}

/// Bounds of `b^n` for `b >= 0` by binary powering, rounding each product in one direction
/// (monotone, because every factor is non-negative).
pub(crate) fn pow_nonneg(b: f64, n: u32) -> (f64, f64) {
    let (mut down, mut up) = (1.0_f64, 1.0_f64);
    let (mut base_down, mut base_up) = (b, b);
    let mut k = n;
    while k > 0 {
        if k & 1 == 1 {
            down = mul(down, base_down).0;
            up = mul(up, base_up).1;
        }
        k >>= 1;
        if k > 0 {
            base_down = mul(base_down, base_down).0;
            base_up = mul(base_up, base_up).1;
        }
    }
    (down.max(0.0), up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_results_stay_exact() {
        assert_eq!(add(1.0, 2.0), (3.0, 3.0));
        assert_eq!(add(0.5, -0.5), (0.0, 0.0));
        assert_eq!(mul(3.0, 4.0), (12.0, 12.0));
        assert_eq!(div(10.0, 4.0), (2.5, 2.5));
        assert_eq!(sqrt(16.0), (4.0, 4.0));
        assert_eq!(pow_nonneg(2.0, 10), (1024.0, 1024.0));
        assert_eq!(mul(0.0, f64::INFINITY), (0.0, 0.0));
        assert_eq!(div(3.0, f64::INFINITY), (0.0, 0.0));
    }

    #[test]
    fn inexact_results_are_bracketed() {
        let (d, u) = add(0.1, 0.2);
        assert!(d < u && d <= 0.30000000000000004 && u >= 0.30000000000000004);
        assert_eq!(u, d.next_up());
        let (d, u) = div(1.0, 3.0);
        assert_eq!(u, d.next_up());
        assert!(d * 3.0 <= 1.0 && u * 3.0 >= 1.0);
        let (d, u) = sqrt(2.0);
        assert_eq!(u, d.next_up());
        assert!(d * d <= 2.0 && u * u >= 2.0);
    }

    #[test]
    fn overflow_keeps_finite_bounds() {
        assert_eq!(add(f64::MAX, f64::MAX), (f64::MAX, f64::INFINITY));
        assert_eq!(mul(-f64::MAX, 2.0), (f64::NEG_INFINITY, -f64::MAX));
        let (d, u) = mul(1e-200, 1e-200);
        assert!(d <= 0.0 && u > 0.0);
    }
}
