//! Parse → format → parse round trips for every known unit.

use proptest::prelude::*;
use qdx_units::{Interpretation, Unit, format_quantity};

fn units() -> Vec<Unit> {
    let mut out: Vec<Unit> = Unit::known_symbols()
        .iter()
        .map(|s| Unit::parse(s).expect("known symbol parses"))
        .collect();
    for compound in [
        "uL/min",
        "mL/min",
        "mL/h",
        "uL/h",
        "L/min",
        "uL/s",
        "mL/s",
        "mol/L",
        "1/s",
        "g/mol",
        "mg/mL",
        "degC/min",
        "m^3",
        "cm3",
        "m·s⁻¹",
        "",
    ] {
        out.push(Unit::parse(compound).expect("compound parses"));
    }
    out
}

/// Splits `"1.5 mL/min"` into the number and the unit text.
fn split(text: &str) -> (f64, &str) {
    let (number, unit) = text.split_once(' ').unwrap_or((text, ""));
    (number.parse().expect("number"), unit)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A value the user typed with a few significant digits prints back as typed.
    #[test]
    fn typed_values_print_back_verbatim(mantissa in 1_i64..100_000, exp in -4_i32..4, absolute: bool) {
        let typed = format!("{mantissa}e{exp}");
        let value: f64 = typed.parse().expect("number");
        let interp = if absolute { Interpretation::Absolute } else { Interpretation::Difference };
        for unit in units() {
            let si = unit.to_si(value, interp);
            let text = format_quantity(si, &unit, interp);
            let (number, symbol) = split(&text);
            prop_assert_eq!(symbol, unit.symbol());
            prop_assert_eq!(number, value, "{} printed as {}", typed, text);
            let back = Unit::parse(symbol).expect("symbol parses");
            prop_assert_eq!(back.to_si(number, interp), si);
        }
    }

    /// Any SI value prints as text that converts back to (nearly) the same SI value.
    #[test]
    fn any_value_round_trips(si in -1e12..1e12_f64) {
        for unit in units() {
            let text = format_quantity(si, &unit, Interpretation::Difference);
            let (number, symbol) = split(&text);
            let back = Unit::parse(symbol).expect("symbol parses").to_si(number, Interpretation::Difference);
            let tolerance = 8.0 * f64::EPSILON * si.abs();
            prop_assert!((back - si).abs() <= tolerance, "{si:e} printed as {text}, read back {back:e}");
        }
    }
}
