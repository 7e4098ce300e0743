//! Units as users write them: a canonical symbol, a dimension, an SI scale and (for `degC` only)
//! an offset.
//!
//! Invariants:
//! - `scale` is finite and positive; `offset` is finite.
//! - `offset` is non-zero only for a unit that is a single offset atom (`degC`); inside a
//!   compound (`degC/min`) a temperature can only be a difference, so the offset is dropped.
//! - `symbol` parses back to an equal unit (`Unit::parse(u.symbol()) == Ok(u)`).
//!
//! Grammar of unit text (whitespace between tokens is ignored):
//! ```text
//! unit     := ε | product
//! product  := factor (("*" | "·" | "/") factor)*        left-associative
//! factor   := primary exponent?
//! primary  := atom | "1" | "(" product ")"
//! exponent := "^" ("-" | "+")? digits | digits | superscripts     (digits only right after an atom)
//! ```

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::atom;
use crate::dimension::Dimension;
use crate::error::UnitError;

/// How a temperature value is read: as a point on the scale or as a difference between two.
///
/// `25 degC` as [`Interpretation::Absolute`] is 298.15 K; as [`Interpretation::Difference`] (a
/// tolerance, `within 5 degC`, a ramp step) it is 25 K. For every unit without an offset the two
/// readings coincide; quantities of any dimension other than temperature are always differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Interpretation {
    /// A point on the scale (a set point, a bound of a variable).
    Absolute,
    /// A difference between two points, or any non-temperature quantity.
    Difference,
}

/// A unit of measurement parsed from user text.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    symbol: String,
    dimension: Dimension,
    scale: f64,
    offset: f64,
}

/// Deepest parenthesis nesting accepted, so that hostile input cannot exhaust the stack.
const MAX_NESTING: usize = 16;

impl Unit {
    /// Parses unit text such as `uL/min`, `mol/L`, `degC`, `m^3`, `1/s`, `%`.
    ///
    /// The empty string is the unit of a plain number.
    ///
    /// # Errors
    /// [`UnitError::UnknownUnit`] (with a did-you-mean suggestion for the whole text) or
    /// [`UnitError::Syntax`] with the byte offset of the problem.
    pub fn parse(text: &str) -> Result<Unit, UnitError> {
        match Self::parse_once(text) {
            Err(UnitError::UnknownUnit { unit, suggestion }) => Err(UnitError::UnknownUnit {
                unit,
                suggestion: suggestion.and_then(Self::checked_fix),
            }),
            other => other,
        }
    }

    /// A suggested fix that is itself a unit: one unknown atom is fixed at a time, so the rest
    /// of the text may hold another (`ul/mn` → `uL/mn` → `uL/min`); a fix that does not end in
    /// a unit qdx reads is no fix at all.
    fn checked_fix(mut fix: String) -> Option<String> {
        // Each round fixes one atom; a unit text holds at most a handful.
        for _ in 0..MAX_NESTING {
            match Self::parse_once(&fix) {
                Ok(_) => return Some(fix),
                Err(UnitError::UnknownUnit {
                    suggestion: Some(next),
                    ..
                }) if next != fix => fix = next,
                Err(_) => return None,
            }
        }
        None
    }

    fn parse_once(text: &str) -> Result<Unit, UnitError> {
        let mut p = Parser {
            text,
            pos: 0,
            depth: 0,
        };
        p.skip_space();
        if p.at_end() {
            return Ok(Unit::dimensionless());
        }
        let term = p.product()?;
        p.skip_space();
        if !p.at_end() {
            return Err(p.error(match p.peek() {
                Some(')') => "unbalanced `)`",
                _ => "expected `*` or `/` between units",
            }));
        }
        if !(term.scale.is_finite() && term.scale > 0.0) {
            return Err(UnitError::Syntax {
                text: text.to_owned(),
                offset: 0,
                message: "the unit's size is out of range",
            });
        }
        // A bare `1` is the plain-number unit, whose canonical spelling is empty.
        if term.symbol == "1" {
            return Ok(Unit::dimensionless());
        }
        Ok(Unit {
            symbol: term.symbol,
            dimension: term.dimension,
            scale: term.scale,
            offset: term.offset,
        })
    }

    /// The unit of a plain number (symbol `""`).
    #[must_use]
    pub fn dimensionless() -> Unit {
        Unit {
            symbol: String::new(),
            dimension: Dimension::DIMENSIONLESS,
            scale: 1.0,
            offset: 0.0,
        }
    }

    /// The coherent SI unit of a dimension (`m³·s⁻¹` for a flow rate; `""` when dimensionless).
    #[must_use]
    pub fn si(dimension: Dimension) -> Unit {
        if dimension.is_dimensionless() {
            return Unit::dimensionless();
        }
        Unit {
            symbol: dimension.si_symbol(),
            dimension,
            scale: 1.0,
            offset: 0.0,
        }
    }

    /// The canonical spelling of the unit as written (`µL/min` → `uL/min`, `°C` → `degC`).
    #[must_use]
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// The unit's dimension.
    #[must_use]
    pub fn dimension(&self) -> Dimension {
        self.dimension
    }

    /// SI value of one unit (1e-9 for `uL`: m³).
    #[must_use]
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// SI value of the unit's zero point (273.15 for `degC`, 0 otherwise).
    #[must_use]
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// True when absolute and difference readings differ (`degC`).
    #[must_use]
    pub fn has_offset(&self) -> bool {
        self.offset != 0.0
    }

    /// Converts a value written in this unit to SI.
    #[must_use]
    pub fn to_si(&self, value: f64, interpretation: Interpretation) -> f64 {
        match interpretation {
            Interpretation::Absolute => value * self.scale + self.offset,
            Interpretation::Difference => value * self.scale,
        }
    }

    /// Converts an SI value to this unit.
    #[must_use]
    pub fn from_si(&self, si: f64, interpretation: Interpretation) -> f64 {
        match interpretation {
            Interpretation::Absolute => (si - self.offset) / self.scale,
            Interpretation::Difference => si / self.scale,
        }
    }

    /// Every canonical atom symbol the parser knows, for help texts.
    #[must_use]
    pub fn known_symbols() -> Vec<String> {
        atom::canonical_symbols()
    }

    pub(crate) fn from_known(symbol: &str) -> Option<Unit> {
        Unit::parse(symbol).ok()
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.symbol)
    }
}

impl std::str::FromStr for Unit {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Unit, UnitError> {
        Unit::parse(s)
    }
}

impl Serialize for Unit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.symbol)
    }
}

impl<'de> Deserialize<'de> for Unit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Unit, D::Error> {
        let text = String::deserialize(deserializer)?;
        Unit::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A parsed piece of unit text.
struct Term {
    symbol: String,
    dimension: Dimension,
    scale: f64,
    /// Kept only while the term is a bare offset atom (or parentheses around one).
    offset: f64,
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

fn is_atom_char(c: char) -> bool {
    c.is_alphabetic() || matches!(c, '°' | '℃' | '%')
}

fn superscript_digit(c: char) -> Option<u32> {
    Some(match c {
        '⁰' => 0,
        '¹' => 1,
        '²' => 2,
        '³' => 3,
        '⁴' => 4,
        '⁵' => 5,
        '⁶' => 6,
        '⁷' => 7,
        '⁸' => 8,
        '⁹' => 9,
        _ => return None,
    })
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn error(&self, message: &'static str) -> UnitError {
        UnitError::Syntax {
            text: self.text.to_owned(),
            offset: self.pos,
            message,
        }
    }

    fn product(&mut self) -> Result<Term, UnitError> {
        let mut acc = self.factor()?;
        loop {
            self.skip_space();
            let op = match self.peek() {
                Some(c @ ('*' | '·' | '⋅' | '/')) => c,
                _ => return Ok(acc),
            };
            self.bump();
            self.skip_space();
            if self.at_end() {
                return Err(self.error("expected a unit after the operator"));
            }
            let rhs = self.factor()?;
            let (dimension, scale) = if op == '/' {
                (acc.dimension.div(rhs.dimension)?, acc.scale / rhs.scale)
            } else {
                (acc.dimension.mul(rhs.dimension)?, acc.scale * rhs.scale)
            };
            acc = Term {
                symbol: format!("{}{op}{}", acc.symbol, rhs.symbol),
                dimension,
                scale,
                offset: 0.0,
            };
        }
    }

    fn factor(&mut self) -> Result<Term, UnitError> {
        let start = self.pos;
        let (base, after_atom) = match self.peek() {
            Some('(') => {
                if self.depth >= MAX_NESTING {
                    return Err(self.error("parentheses nested too deeply"));
                }
                self.bump();
                self.depth += 1;
                self.skip_space();
                let inner = self.product()?;
                self.skip_space();
                if self.bump() != Some(')') {
                    return Err(self.error("expected `)`"));
                }
                self.depth -= 1;
                (
                    Term {
                        symbol: format!("({})", inner.symbol),
                        ..inner
                    },
                    false,
                )
            }
            Some(c) if c.is_ascii_digit() => {
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
                    self.bump();
                }
                if self.text.get(start..self.pos) != Some("1") {
                    self.pos = start;
                    return Err(self.error("the only number allowed in a unit is 1, as in 1/s"));
                }
                (
                    Term {
                        symbol: "1".to_owned(),
                        dimension: Dimension::DIMENSIONLESS,
                        scale: 1.0,
                        offset: 0.0,
                    },
                    false,
                )
            }
            Some(c) if is_atom_char(c) => (self.atom()?, true),
            Some(_) => return Err(self.error("expected a unit")),
            None => return Err(self.error("expected a unit")),
        };
        match self.exponent(after_atom)? {
            None => Ok(base),
            Some((n, written)) => {
                let exp = i32::try_from(n).map_err(|_| self.error("exponent too large"))?;
                Ok(Term {
                    symbol: format!("{}{written}", base.symbol),
                    dimension: base.dimension.powi(exp)?,
                    scale: base.scale.powi(exp),
                    offset: 0.0,
                })
            }
        }
    }

    fn atom(&mut self) -> Result<Term, UnitError> {
        let start = self.pos;
        while self.peek().is_some_and(is_atom_char) {
            self.bump();
        }
        let name = self.text.get(start..self.pos).unwrap_or("");
        match atom::lookup(name) {
            Some(a) => Ok(Term {
                symbol: a.symbol,
                dimension: a.dimension,
                scale: a.scale,
                offset: a.offset,
            }),
            None => {
                let suggestion = atom::suggestion(name).map(|fix| {
                    let mut whole = self.text.trim().to_owned();
                    let trimmed_start = self.text.len() - self.text.trim_start().len();
                    if let Some(local) = start.checked_sub(trimmed_start) {
                        whole.replace_range(local..local + name.len(), &fix);
                    }
                    whole
                });
                Err(UnitError::UnknownUnit {
                    unit: name.to_owned(),
                    suggestion,
                })
            }
        }
    }

    /// Reads an exponent; returns its value and its text as written.
    fn exponent(&mut self, after_atom: bool) -> Result<Option<(i64, String)>, UnitError> {
        let start = self.pos;
        match self.peek() {
            Some('^') => {
                self.bump();
                let negative = match self.peek() {
                    Some('-' | '−') => {
                        self.bump();
                        true
                    }
                    Some('+') => {
                        self.bump();
                        false
                    }
                    _ => false,
                };
                let digits_start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
                let digits = self.text.get(digits_start..self.pos).unwrap_or("");
                if digits.is_empty() {
                    return Err(self.error("expected an integer exponent after `^`"));
                }
                let n: i64 = digits
                    .parse()
                    .map_err(|_| self.error("exponent too large"))?;
                let written = self
                    .text
                    .get(start..self.pos)
                    .unwrap_or("")
                    .replace('−', "-");
                Ok(Some((if negative { -n } else { n }, written)))
            }
            Some(c) if after_atom && c.is_ascii_digit() => {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
                let digits = self.text.get(start..self.pos).unwrap_or("");
                let n: i64 = digits
                    .parse()
                    .map_err(|_| self.error("exponent too large"))?;
                Ok(Some((n, digits.to_owned())))
            }
            Some(c) if c == '⁻' || superscript_digit(c).is_some() => {
                let negative = c == '⁻';
                if negative {
                    self.bump();
                }
                let mut n: i64 = 0;
                let mut any = false;
                while let Some(d) = self.peek().and_then(superscript_digit) {
                    self.bump();
                    any = true;
                    n = n
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(i64::from(d)))
                        .ok_or_else(|| self.error("exponent too large"))?;
                }
                if !any {
                    return Err(self.error("expected a superscript digit after `⁻`"));
                }
                let written = self.text.get(start..self.pos).unwrap_or("").to_owned();
                Ok(Some((if negative { -n } else { n }, written)))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn si(text: &str, value: f64) -> f64 {
        Unit::parse(text)
            .unwrap()
            .to_si(value, Interpretation::Absolute)
    }

    /// Relative comparison for values that go through more than one rounding.
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs())
    }

    #[test]
    fn volumes() {
        assert_eq!(si("uL", 250.0), 250.0 * 1e-9);
        assert_eq!(si("µL", 1.0), 1e-9);
        assert_eq!(si("μL", 1.0), 1e-9);
        assert_eq!(si("nL", 3.0), 3.0 * 1e-12);
        assert_eq!(si("mL", 10.0), 10.0 * 1e-6);
        assert_eq!(si("L", 2.0), 2e-3);
        assert_eq!(si("m3", 1.0), 1.0);
        assert_eq!(si("m^3", 2.0), 2.0);
        assert!(close(si("cm3", 1.0), 1e-6));
        assert_eq!(Unit::parse("m3").unwrap().dimension(), Dimension::VOLUME);
    }

    #[test]
    fn flow_rates() {
        let cases = [
            ("uL/min", 1e-9 / 60.0),
            ("mL/min", 1e-6 / 60.0),
            ("mL/h", 1e-6 / 3600.0),
            ("uL/h", 1e-9 / 3600.0),
            ("L/min", 1e-3 / 60.0),
            ("uL/s", 1e-9),
            ("mL/s", 1e-6),
        ];
        for (text, scale) in cases {
            let u = Unit::parse(text).unwrap();
            assert_eq!(u.dimension(), Dimension::FLOW_RATE, "{text}");
            assert!(close(u.scale(), scale), "{text}: {} vs {scale}", u.scale());
        }
        // 1.5 mL/min = 2.5e-8 m³/s
        assert!(close(si("mL/min", 1.5), 2.5e-8));
    }

    #[test]
    fn times() {
        assert_eq!(si("ms", 50.0), 0.05);
        assert_eq!(si("s", 30.0), 30.0);
        assert_eq!(si("min", 2.0), 120.0);
        assert_eq!(si("h", 6.0), 21_600.0);
    }

    #[test]
    fn temperatures() {
        let c = Unit::parse("degC").unwrap();
        assert_eq!(c.to_si(25.0, Interpretation::Absolute), 298.15);
        assert_eq!(c.to_si(5.0, Interpretation::Difference), 5.0);
        assert_eq!(c.from_si(298.15, Interpretation::Absolute), 25.0);
        assert_eq!(c.from_si(5.0, Interpretation::Difference), 5.0);
        assert_eq!(Unit::parse("°C").unwrap(), c);
        assert_eq!(Unit::parse("℃").unwrap(), c);
        let k = Unit::parse("K").unwrap();
        assert_eq!(k.to_si(300.0, Interpretation::Absolute), 300.0);
        assert!(!k.has_offset());
        // A rate of change is a difference per time: the offset is gone.
        let ramp = Unit::parse("degC/min").unwrap();
        assert_eq!(ramp.dimension(), Dimension::HEATING_RATE);
        assert_eq!(ramp.offset(), 0.0);
        assert_eq!(ramp.to_si(6.0, Interpretation::Absolute), 0.1);
        // Parentheses around a single offset atom keep it an offset atom.
        assert_eq!(Unit::parse("(degC)").unwrap().offset(), 273.15);
        assert_eq!(Unit::parse("degC^1").unwrap().offset(), 0.0);
    }

    #[test]
    fn lengths() {
        assert_eq!(si("nm", 365.0), 365.0 * 1e-9);
        assert_eq!(si("um", 2.0), 2e-6);
        assert_eq!(si("µm", 2.0), 2e-6);
        assert_eq!(si("mm", 1.5), 1.5e-3);
        assert_eq!(si("cm", 3.0), 0.03);
        assert_eq!(si("m", 1.0), 1.0);
        assert_eq!(si("km", 1.0), 1000.0);
    }

    #[test]
    fn amounts_and_concentrations() {
        assert_eq!(si("mol/L", 0.05), 0.05 / 1e-3);
        assert_eq!(si("M", 0.05), 0.05 * 1000.0);
        assert_eq!(si("mM", 5.0), 5.0);
        assert_eq!(si("uM", 5.0), 5.0 * 1e-3);
        assert_eq!(si("nM", 5.0), 5.0 * 1e-6);
        assert_eq!(si("mol", 2.0), 2.0);
        assert_eq!(si("mmol", 2.0), 2e-3);
        assert_eq!(si("umol", 2.0), 2e-6);
        for u in ["mol/L", "M", "mM", "uM", "nM", "mmol/mL"] {
            assert_eq!(
                Unit::parse(u).unwrap().dimension(),
                Dimension::CONCENTRATION,
                "{u}"
            );
        }
        assert_eq!(
            Unit::parse("mol/L").unwrap().scale(),
            Unit::parse("M").unwrap().scale()
        );
    }

    #[test]
    fn pressures() {
        assert_eq!(si("bar", 2.0), 2e5);
        assert_eq!(si("mbar", 2.0), 200.0);
        assert_eq!(si("Pa", 2.0), 2.0);
        assert_eq!(si("kPa", 2.0), 2000.0);
        assert_eq!(si("MPa", 2.0), 2e6);
        assert_eq!(si("hPa", 1.0), 100.0);
        assert_eq!(si("atm", 1.0), 101_325.0);
        assert!(close(si("psi", 14.5), 99_973.980_750_941_24));
        for u in ["bar", "mbar", "psi", "kPa", "Pa", "MPa", "atm"] {
            assert_eq!(
                Unit::parse(u).unwrap().dimension(),
                Dimension::PRESSURE,
                "{u}"
            );
        }
    }

    #[test]
    fn ratios_frequencies_masses() {
        assert_eq!(si("%", 5.0), 0.05);
        assert_eq!(
            Unit::parse("%").unwrap().dimension(),
            Dimension::DIMENSIONLESS
        );
        assert_eq!(si("ppm", 3.0), 3e-6);
        assert_eq!(si("", 0.5), 0.5);
        assert_eq!(Unit::parse("").unwrap(), Unit::dimensionless());
        assert_eq!(Unit::parse("  ").unwrap(), Unit::dimensionless());
        assert_eq!(Unit::parse("1").unwrap(), Unit::dimensionless());
        assert_eq!(Unit::parse("(1)").unwrap().symbol(), "(1)");
        assert_eq!(si("Hz", 10.0), 10.0);
        assert_eq!(si("kHz", 1.0), 1000.0);
        assert_eq!(si("g", 5.0), 5e-3);
        assert_eq!(si("mg", 5.0), 5.0 * 1e-6);
        assert_eq!(si("kg", 5.0), 5.0);
        assert_eq!(si("ug", 5.0), 5.0 * 1e-9);
        assert_eq!(
            Unit::parse("g/mol").unwrap().dimension(),
            Dimension::MOLAR_MASS
        );
        assert_eq!(
            Unit::parse("mg/mL").unwrap().dimension(),
            Dimension::MASS_CONCENTRATION
        );
    }

    #[test]
    fn compounds() {
        let per_s = Unit::parse("1/s").unwrap();
        assert_eq!(per_s.dimension(), Dimension::FREQUENCY);
        assert_eq!(per_s.symbol(), "1/s");
        let u = Unit::parse("mol / (L * min)").unwrap();
        assert_eq!(u.symbol(), "mol/(L*min)");
        assert_eq!(
            u.dimension(),
            Dimension::CONCENTRATION.div(Dimension::TIME).unwrap()
        );
        assert!(close(u.scale(), 1000.0 / 60.0));
        let v = Unit::parse("mol/L/min").unwrap();
        assert_eq!(v.dimension(), u.dimension());
        assert!(close(v.scale(), u.scale()));
        assert_eq!(
            Unit::parse("s^-1").unwrap().dimension(),
            Dimension::FREQUENCY
        );
        assert_eq!(
            Unit::parse("s⁻¹").unwrap().dimension(),
            Dimension::FREQUENCY
        );
        assert_eq!(
            Unit::parse("m·s⁻¹").unwrap().dimension(),
            Dimension::VELOCITY
        );
        assert_eq!(Unit::parse("mm^2").unwrap().scale(), 1e-6);
        assert_eq!(Unit::parse("µL/min").unwrap().symbol(), "uL/min");
        assert_eq!(Unit::parse("°C").unwrap().symbol(), "degC");
    }

    #[test]
    fn si_units_parse_back() {
        for d in [
            Dimension::FLOW_RATE,
            Dimension::PRESSURE,
            Dimension::CONCENTRATION,
            Dimension::new(3, 0, -2, 0, 0),
            Dimension::TEMPERATURE,
            Dimension::DIMENSIONLESS,
        ] {
            let u = Unit::si(d);
            let back = Unit::parse(u.symbol()).unwrap();
            assert_eq!(back.dimension(), d, "{}", u.symbol());
            assert_eq!(back.scale(), 1.0, "{}", u.symbol());
        }
    }

    #[test]
    fn days_are_a_unit_of_time() {
        for text in ["d", "day", "days"] {
            let u = Unit::parse(text).unwrap();
            assert_eq!(u.dimension(), Dimension::TIME);
            assert_eq!(u.to_si(7.0, Interpretation::Difference), 7.0 * 86_400.0);
        }
        assert_eq!(Unit::parse("day").unwrap().symbol(), "d");
    }

    #[test]
    fn unknown_units_suggest_the_closest() {
        let msg = |t: &str| Unit::parse(t).unwrap_err().to_string();
        assert_eq!(msg("ul"), "unknown unit `ul`; did you mean `uL`?");
        assert_eq!(msg("ul/min"), "unknown unit `ul`; did you mean `uL/min`?");
        assert_eq!(msg("mL/mni"), "unknown unit `mni`; did you mean `mL/min`?");
        assert_eq!(msg("sec"), "unknown unit `sec`; did you mean `s`?");
        assert_eq!(msg("degc"), "unknown unit `degc`; did you mean `degC`?");
        assert_eq!(msg(" mol/l "), "unknown unit `l`; did you mean `mol/L`?");
        assert_eq!(msg("furlong"), "unknown unit `furlong`");
        // A fix is itself a unit: every unknown atom is fixed, or nothing is suggested.
        assert_eq!(msg("ul/mn"), "unknown unit `ul`; did you mean `uL/min`?");
        assert_eq!(msg("ul/furlong"), "unknown unit `ul`");
        assert_eq!(
            Unit::parse("ul").unwrap_err(),
            UnitError::UnknownUnit {
                unit: "ul".into(),
                suggestion: Some("uL".into())
            }
        );
    }

    #[test]
    fn malformed_units_say_where() {
        let offset = |t: &str| match Unit::parse(t) {
            Err(UnitError::Syntax { offset, .. }) => offset,
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(offset("mL/"), 3);
        assert_eq!(offset("mL min"), 3);
        assert_eq!(offset("m^x"), 2);
        assert_eq!(offset("(mL"), 3);
        assert_eq!(offset("mL)"), 2);
        assert_eq!(offset("2/s"), 0);
        assert_eq!(offset("/s"), 0);
        assert_eq!(offset("s⁻"), 4);
        let deep = "(".repeat(100) + "s" + &")".repeat(100);
        assert!(matches!(Unit::parse(&deep), Err(UnitError::Syntax { .. })));
        assert!(matches!(
            Unit::parse("m^99999999999999999999"),
            Err(UnitError::Syntax { .. })
        ));
        assert_eq!(Unit::parse("m^200"), Err(UnitError::ExponentOverflow));
        assert!(matches!(
            Unit::parse("km^110"),
            Err(UnitError::Syntax { .. })
        ));
    }

    #[test]
    fn serde_uses_the_symbol() {
        let u = Unit::parse("µL/min").unwrap();
        let json = serde_json::to_string(&u).unwrap();
        assert_eq!(json, "\"uL/min\"");
        let back: Unit = serde_json::from_str(&json).unwrap();
        assert_eq!(back, u);
        assert!(serde_json::from_str::<Unit>("\"ul\"").is_err());
    }
}
