//! Soundness of interval arithmetic: for random intervals and random points inside them, the
//! point result is inside the interval result, for every operation.

use proptest::prelude::*;
use qdx_units::{Interval, IntervalError};

/// Finite values across magnitudes, with the edge cases that break naive code.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e3..1e3_f64,
        2 => -1.0..1.0_f64,
        1 => (-20_i32..20).prop_map(f64::from),
        1 => prop::num::f64::NORMAL,
        1 => prop_oneof![Just(0.0), Just(-0.0), Just(1.0), Just(-1.0), Just(f64::MAX),
                         Just(-f64::MAX), Just(f64::MIN_POSITIVE), Just(1e-300), Just(0.1)],
    ]
}

/// An interval and a point inside it; ends are sometimes unbounded.
fn interval_with_point() -> impl Strategy<Value = (Interval, f64)> {
    (
        value(),
        value(),
        value(),
        any::<bool>(),
        any::<bool>(),
        0_u8..4,
    )
        .prop_map(|(a, b, x, open_lo, open_hi, pick)| {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            // Points at the ends are where rounding mistakes show.
            let x = match pick {
                0 => lo,
                1 => hi,
                _ => x.clamp(lo, hi),
            };
            // Unbounded ends only when rare, so most cases stay finite.
            let lo = if open_lo && pick == 3 {
                f64::NEG_INFINITY
            } else {
                lo
            };
            let hi = if open_hi && pick == 3 {
                f64::INFINITY
            } else {
                hi
            };
            (Interval::new(lo, hi).expect("ordered"), x)
        })
}

fn assert_contains(result: Interval, point: f64, what: &str) -> Result<(), TestCaseError> {
    if point.is_nan() {
        return Ok(());
    }
    prop_assert!(
        result.contains(point),
        "{what}: {point:e} not in [{:e}, {:e}]",
        result.lo(),
        result.hi()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn binary_operations((a, x) in interval_with_point(), (b, y) in interval_with_point()) {
        assert_contains(a + b, x + y, "add")?;
        assert_contains(a - b, x - y, "sub")?;
        assert_contains(a * b, x * y, "mul")?;
        assert_contains(a.min(&b), x.min(y), "min")?;
        assert_contains(a.max(&b), x.max(y), "max")?;
        assert_contains(a.hull(&b), x, "hull")?;
        assert_contains(a.hull(&b), y, "hull")?;
        match a.div(&b) {
            Ok(q) => assert_contains(q, x / y, "div")?,
            Err(IntervalError::DivisionByZero { .. }) => prop_assert!(b.contains_zero()),
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
        if let Some(i) = a.intersection(&b) {
            prop_assert!(i.is_subset_of(&a) && i.is_subset_of(&b));
        }
        prop_assert!(a.is_subset_of(&a.hull(&b)));
    }

    #[test]
    fn unary_operations((a, x) in interval_with_point()) {
        assert_contains(-a, -x, "neg")?;
        assert_contains(a.abs(), x.abs(), "abs")?;
        assert_contains(a.exp(), x.exp(), "exp")?;
        match a.sqrt() {
            Ok(r) => assert_contains(r, x.sqrt(), "sqrt")?,
            Err(_) => prop_assert!(a.lo() < 0.0),
        }
        match a.ln() {
            Ok(r) => assert_contains(r, x.ln(), "ln")?,
            Err(_) => prop_assert!(a.lo() <= 0.0),
        }
        match a.log10() {
            Ok(r) => assert_contains(r, x.log10(), "log10")?,
            Err(_) => prop_assert!(a.lo() <= 0.0),
        }
        match a.recip() {
            Ok(r) => assert_contains(r, 1.0 / x, "recip")?,
            Err(_) => prop_assert!(a.contains_zero()),
        }
        prop_assert!(a.contains(x));
    }

    /// `f64::powi` is not correctly rounded (it multiplies repeatedly), so the point result may
    /// be off by a few ulps from the exact power that the interval encloses; the point is
    /// accepted within that error only.
    #[test]
    fn integer_powers((a, x) in interval_with_point(), n in -6_i32..=6) {
        let exact_ish = x.powi(n);
        match a.powi(n) {
            Ok(r) => {
                let slack = 8.0 * f64::EPSILON * exact_ish.abs();
                let inside = r.contains(exact_ish)
                    || (r.lo() <= exact_ish + slack && exact_ish - slack <= r.hi());
                prop_assert!(
                    exact_ish.is_nan() || inside,
                    "powi {n}: {exact_ish:e} not in {r}"
                );
            }
            Err(_) => prop_assert!(n < 0 && a.contains_zero()),
        }
    }

    /// Powers of small integers are exact, so containment is checked with no slack at all.
    #[test]
    fn exact_integer_powers(lo in -30_i32..30, w in 0_i32..30, t in 0_i32..=100, n in -4_i32..=4) {
        let (lo, hi) = (f64::from(lo), f64::from(lo + w));
        let x = (lo + (hi - lo) * f64::from(t) / 100.0).round();
        let a = Interval::new(lo, hi).expect("ordered");
        if let Ok(r) = a.powi(n) {
            assert_contains(r, x.powi(n), "powi")?;
            if n >= 0 {
                // Exact inputs give exact, tight ends.
                let expected_hi = if n % 2 == 0 {
                    lo.abs().max(hi.abs()).powi(n)
                } else {
                    hi.powi(n)
                };
                prop_assert_eq!(r.hi(), expected_hi);
            }
        }
    }
}
