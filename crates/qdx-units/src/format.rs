//! Printing values back in the user's unit.
//!
//! Invariants:
//! - [`format_number`] gives the shortest decimal that parses back to the same `f64`
//!   (`0.1`, never `0.1000000000000000055511`), integers without `.0`, no `-0`.
//! - [`format_quantity`] gives the shortest decimal `v` such that converting `v` in `unit` back to
//!   SI reproduces the SI value to within [`UNIT_ULPS`] units in the last place, so `250 uL`
//!   prints as `250 uL` and not `249.99999999999997 uL`, and a computed `250 uL / 60 s` prints
//!   as `250 uL/min` rather than exposing float noise (`250.00000000000006`). A value the user
//!   typed round-trips exactly: its own text is among the candidates and reproduces it bit for
//!   bit. Text that must be lossless for computed values uses [`format_number`] on SI values.
//! - Plain notation for magnitudes from 1e-6 up to 1e16, else `1.5e-9` (which `str::parse::<f64>`
//!   and most number grammars read).

use crate::dimension::Dimension;
use crate::unit::{Interpretation, Unit};

/// The shortest round-tripping decimal text of a number.
#[must_use]
pub fn format_number(x: f64) -> String {
    shortest(x, |_| false)
}

/// A value stored in SI, printed as a number in `unit` (no unit symbol): for table cells whose
/// header names the unit.
#[must_use]
pub fn format_in_unit(value_si: f64, unit: &Unit, interpretation: Interpretation) -> String {
    let v = unit.from_si(value_si, interpretation);
    shortest(v, |candidate| {
        ulps_apart(unit.to_si(candidate, interpretation), value_si) <= UNIT_ULPS
    })
}

/// A value stored in SI, printed in `unit` with its symbol: `"250 uL"`, `"1.5 mL/min"`,
/// `"25 degC"`, `"5 %"`; a plain number has no symbol (`"0.5"`).
#[must_use]
pub fn format_quantity(value_si: f64, unit: &Unit, interpretation: Interpretation) -> String {
    let number = format_in_unit(value_si, unit, interpretation);
    if unit.symbol().is_empty() {
        number
    } else {
        format!("{number} {}", unit.symbol())
    }
}

/// How far (in units in the last place of the SI value) a printed value may be from the stored
/// one: two roundings of unit conversion plus one of arithmetic.
pub const UNIT_ULPS: u64 = 4;

/// Distance in representable doubles between two finite numbers (`u64::MAX` if either is not).
fn ulps_apart(a: f64, b: f64) -> u64 {
    if !(a.is_finite() && b.is_finite()) {
        return if a == b { 0 } else { u64::MAX };
    }
    // Map the doubles onto a line of integers ordered like the reals (-0 and +0 coincide).
    let key = |x: f64| -> i128 {
        let bits = i128::from(x.to_bits());
        if x.is_sign_negative() {
            -(bits & 0x7fff_ffff_ffff_ffff)
        } else {
            bits
        }
    };
    u64::try_from((key(a) - key(b)).unsigned_abs()).unwrap_or(u64::MAX)
}

fn shortest(v: f64, reproduces: impl Fn(f64) -> bool) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    for precision in 0..17 {
        let text = format!("{v:.precision$e}");
        if let Ok(candidate) = text.parse::<f64>()
            && (candidate == v || reproduces(candidate))
        {
            return plain(&text);
        }
    }
    // Rust's `{:e}` is the shortest representation that round-trips.
    plain(&format!("{v:e}"))
}

/// Rewrites scientific text (`-2.50e-7`) in the notation of the module invariant.
fn plain(sci: &str) -> String {
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci.to_owned();
    };
    let Ok(exp) = exp.parse::<i32>() else {
        return sci.to_owned();
    };
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = format!("{int_part}{frac_part}")
        .trim_end_matches('0')
        .to_owned();
    let digits = if digits.is_empty() {
        "0".to_owned()
    } else {
        digits
    };
    if !(-6..16).contains(&exp) {
        let (head, tail) = digits.split_at(1);
        return if tail.is_empty() {
            format!("{sign}{head}e{exp}")
        } else {
            format!("{sign}{head}.{tail}e{exp}")
        };
    }
    // The decimal point sits after `exp + 1` digits.
    let point = exp + 1;
    let n = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        format!("{sign}0.{zeros}{digits}")
    } else if point >= n {
        let zeros = "0".repeat((point - n).unsigned_abs() as usize);
        format!("{sign}{digits}{zeros}")
    } else {
        let (head, tail) = digits.split_at(point.unsigned_abs() as usize);
        format!("{sign}{head}.{tail}")
    }
}

/// A unit a chemist would use to read a value of this dimension, sized to the value
/// (`2.5e-7 m³` reads as `250 uL`, `90 s` as `1.5 min`). Absolute temperatures read in `degC`,
/// temperature differences in `K`; dimensions without a usual unit read in SI.
#[must_use]
pub fn display_unit(dimension: Dimension, interpretation: Interpretation, value_si: f64) -> Unit {
    let ladder: &[&str] = match dimension {
        d if d == Dimension::TEMPERATURE => match interpretation {
            Interpretation::Absolute => &["degC"],
            Interpretation::Difference => &["K"],
        },
        d if d == Dimension::LENGTH => &["nm", "um", "mm", "m"],
        d if d == Dimension::VOLUME => &["nL", "uL", "mL", "L"],
        d if d == Dimension::TIME => &["ms", "s", "min", "h"],
        d if d == Dimension::FLOW_RATE => &["nL/min", "uL/min", "mL/min", "L/min"],
        d if d == Dimension::CONCENTRATION => &["nM", "uM", "mM", "M"],
        d if d == Dimension::AMOUNT => &["nmol", "umol", "mmol", "mol"],
        d if d == Dimension::PRESSURE => &["Pa", "mbar", "bar"],
        d if d == Dimension::MASS => &["ug", "mg", "g", "kg"],
        d if d == Dimension::FREQUENCY => &["Hz", "kHz", "MHz"],
        d if d == Dimension::MOLAR_MASS => &["g/mol"],
        d if d == Dimension::MASS_CONCENTRATION => &["mg/mL"],
        d if d == Dimension::HEATING_RATE => &["K/min"],
        d if d == Dimension::SCATTERING_VECTOR => &["nm^-1"],
        _ => &[],
    };
    let units: Vec<Unit> = ladder.iter().filter_map(|s| Unit::from_known(s)).collect();
    let magnitude = value_si.abs();
    // The largest unit in which the value is at least 1; the smallest for tiny values; SI when
    // the dimension has no ladder.
    let chosen = units
        .iter()
        .rev()
        .find(|u| magnitude >= u.scale())
        .or_else(|| units.first());
    match chosen {
        Some(u) => u.clone(),
        None => Unit::si(dimension),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(value: f64, unit: &str) -> String {
        let u = Unit::parse(unit).unwrap();
        format_quantity(
            u.to_si(value, Interpretation::Absolute),
            &u,
            Interpretation::Absolute,
        )
    }

    #[test]
    fn ulp_distance() {
        assert_eq!(ulps_apart(1.0, 1.0), 0);
        assert_eq!(ulps_apart(1.0, 1.0_f64.next_up()), 1);
        assert_eq!(ulps_apart(0.0, -0.0), 0);
        assert_eq!(ulps_apart(f64::from_bits(1), -f64::from_bits(1)), 2);
        assert_eq!(ulps_apart(1.0, f64::NAN), u64::MAX);
        assert_eq!(ulps_apart(f64::INFINITY, f64::INFINITY), 0);
    }

    #[test]
    fn computed_values_print_without_noise() {
        let per_min = Unit::parse("uL/min").unwrap();
        let computed = 250e-9 / 60.0;
        assert_eq!(
            format_quantity(computed, &per_min, Interpretation::Difference),
            "250 uL/min"
        );
        // A genuinely different value is not rounded away.
        let other = per_min.to_si(250.000_000_001, Interpretation::Difference);
        assert_eq!(
            format_quantity(other, &per_min, Interpretation::Difference),
            "250.000000001 uL/min"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(format_number(0.1), "0.1");
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(250.0), "250");
        assert_eq!(format_number(-1.5), "-1.5");
        assert_eq!(format_number(1e-6), "0.000001");
        assert_eq!(format_number(1.5e-9), "1.5e-9");
        assert_eq!(format_number(1e20), "1e20");
        assert_eq!(format_number(123_456_789.0), "123456789");
        assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_number(f64::INFINITY), "inf");
        assert_eq!(format_number(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_number(f64::NAN), "NaN");
        assert_eq!(format_number(f64::MAX).parse::<f64>().unwrap(), f64::MAX);
        assert_eq!(
            format_number(f64::MIN_POSITIVE).parse::<f64>().unwrap(),
            f64::MIN_POSITIVE
        );
    }

    #[test]
    fn quantities_print_in_the_users_unit() {
        assert_eq!(q(250.0, "uL"), "250 uL");
        assert_eq!(q(1.5, "mL/min"), "1.5 mL/min");
        assert_eq!(q(10.0, "uL/min"), "10 uL/min");
        assert_eq!(q(25.0, "degC"), "25 degC");
        assert_eq!(q(80.0, "°C"), "80 degC");
        assert_eq!(q(0.05, "mol/L"), "0.05 mol/L");
        assert_eq!(q(365.0, "nm"), "365 nm");
        assert_eq!(q(2.0, "bar"), "2 bar");
        assert_eq!(q(5.0, "%"), "5 %");
        assert_eq!(q(0.3, ""), "0.3");
        assert_eq!(q(14.5, "psi"), "14.5 psi");
        assert_eq!(q(0.1, "mL/h"), "0.1 mL/h");
    }

    #[test]
    fn differences_print_without_the_offset() {
        let c = Unit::parse("degC").unwrap();
        assert_eq!(
            format_quantity(5.0, &c, Interpretation::Difference),
            "5 degC"
        );
        assert_eq!(
            format_quantity(5.0, &c, Interpretation::Absolute),
            "-268.15 degC"
        );
    }

    #[test]
    fn display_units_follow_magnitude() {
        let pick = |d, v| {
            display_unit(d, Interpretation::Difference, v)
                .symbol()
                .to_owned()
        };
        assert_eq!(pick(Dimension::VOLUME, 2.5e-7), "uL");
        assert_eq!(pick(Dimension::VOLUME, 0.01), "L");
        assert_eq!(pick(Dimension::VOLUME, 1e-15), "nL");
        assert_eq!(pick(Dimension::VOLUME, 0.0), "nL");
        assert_eq!(pick(Dimension::TIME, 90.0), "min");
        assert_eq!(pick(Dimension::TIME, 7200.0), "h");
        assert_eq!(pick(Dimension::FLOW_RATE, 2.5e-8), "mL/min");
        assert_eq!(pick(Dimension::LENGTH, 365e-9), "nm");
        assert_eq!(pick(Dimension::TEMPERATURE, 5.0), "K");
        assert_eq!(pick(Dimension::SCATTERING_VECTOR, 5e8), "nm^-1");
        assert_eq!(
            Unit::parse("nm^-1").unwrap().dimension(),
            Dimension::SCATTERING_VECTOR
        );
        assert_eq!(
            display_unit(Dimension::TEMPERATURE, Interpretation::Absolute, 300.0).symbol(),
            "degC"
        );
        assert_eq!(pick(Dimension::new(3, 0, -2, 0, 0), 1.0), "m³·s⁻²");
        assert_eq!(pick(Dimension::DIMENSIONLESS, 0.5), "");
    }
}
