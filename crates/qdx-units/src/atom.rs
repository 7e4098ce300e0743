//! The table of unit atoms: the single symbols (`uL`, `min`, `degC`, `mM`, `bar`, ...) that
//! compound units are built from.
//!
//! Invariant: every spelling (canonical symbol or alias, with or without a prefix) names exactly
//! one atom, and every atom's scale is positive and finite. Scales of decimal-prefixed atoms are
//! the correctly rounded `f64` of the exact decimal (`uL` is the double nearest 1e-9 m³), because
//! they are computed with a single division or multiplication by an exact power of ten.

use crate::dimension::Dimension;

/// One resolved atom.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Atom {
    /// Canonical spelling (`uL` for `µL`, `degC` for `°C`).
    pub(crate) symbol: String,
    pub(crate) dimension: Dimension,
    /// SI value of one unit.
    pub(crate) scale: f64,
    /// SI value of the unit's zero point; only `degC` has one.
    pub(crate) offset: f64,
}

struct Prefix {
    symbol: &'static str,
    aliases: &'static [&'static str],
    pow10: i32,
}

const NANO: Prefix = Prefix {
    symbol: "n",
    aliases: &[],
    pow10: -9,
};
const PICO: Prefix = Prefix {
    symbol: "p",
    aliases: &[],
    pow10: -12,
};
// Both the micro sign (U+00B5) and the Greek small mu (U+03BC) are what keyboards produce.
const MICRO: Prefix = Prefix {
    symbol: "u",
    aliases: &["µ", "μ"],
    pow10: -6,
};
const MILLI: Prefix = Prefix {
    symbol: "m",
    aliases: &[],
    pow10: -3,
};
const CENTI: Prefix = Prefix {
    symbol: "c",
    aliases: &[],
    pow10: -2,
};
const HECTO: Prefix = Prefix {
    symbol: "h",
    aliases: &[],
    pow10: 2,
};
const KILO: Prefix = Prefix {
    symbol: "k",
    aliases: &[],
    pow10: 3,
};
const MEGA: Prefix = Prefix {
    symbol: "M",
    aliases: &[],
    pow10: 6,
};

struct Base {
    symbol: &'static str,
    aliases: &'static [&'static str],
    dimension: Dimension,
    /// Scale = mantissa × 10^pow10 (SI per unit).
    mantissa: f64,
    pow10: i32,
    offset: f64,
    /// Only the prefixes chemists actually use, so that typos are not silently valid units.
    prefixes: &'static [Prefix],
}

/// 1 psi = 4.4482216152605 N / (0.0254 m)² (exact by definition of the pound-force and inch).
const PSI_IN_PA: f64 = 6_894.757_293_168_361;

const BASES: &[Base] = &[
    Base {
        symbol: "m",
        aliases: &[],
        dimension: Dimension::LENGTH,
        mantissa: 1.0,
        pow10: 0,
        offset: 0.0,
        prefixes: &[NANO, MICRO, MILLI, CENTI, KILO],
    },
    Base {
        symbol: "L",
        aliases: &[],
        dimension: Dimension::VOLUME,
        mantissa: 1.0,
        pow10: -3,
        offset: 0.0,
        prefixes: &[NANO, MICRO, MILLI],
    },
    Base {
        symbol: "s",
        aliases: &[],
        dimension: Dimension::TIME,
        mantissa: 1.0,
        pow10: 0,
        offset: 0.0,
        prefixes: &[NANO, MICRO, MILLI],
    },
    Base {
        symbol: "min",
        aliases: &[],
        dimension: Dimension::TIME,
        mantissa: 60.0,
        pow10: 0,
        offset: 0.0,
        prefixes: &[],
    },
    Base {
        symbol: "h",
        aliases: &[],
        dimension: Dimension::TIME,
        mantissa: 3600.0,
        pow10: 0,
        offset: 0.0,
        prefixes: &[],
    },
    // Days: waits and time budgets are written in them, and messages print them.
    Base {
        symbol: "d",
        aliases: &["day", "days"],
        dimension: Dimension::TIME,
        mantissa: 86_400.0,
        pow10: 0,
        offset: 0.0,
        prefixes: &[],
    },
    Base {
        symbol: "K",
        aliases: &[],
        dimension: Dimension::TEMPERATURE,
        mantissa: 1.0,
        pow10: 0,
        offset: 0.0,
        prefixes: &[],
    },
    Base {
        symbol: "degC",
        aliases: &["°C", "℃"],
        dimension: Dimension::TEMPERATURE,
        mantissa: 1.0,
        pow10: 0,
        offset: 273.15,
        prefixes: &[],
    },
    Base {
        symbol: "mol",
        aliases: &[],
        dimension: Dimension::AMOUNT,
        mantissa: 1.0,
        pow10: 0,
        offset: 0.0,
        prefixes: &[PICO, NANO, MICRO, MILLI],
    },
    Base {
        symbol: "M",
        aliases: &[],
        dimension: Dimension::CONCENTRATION,
        mantissa: 1.0,
        pow10: 3,
        offset: 0.0,
        prefixes: &[PICO, NANO, MICRO, MILLI],
    },
    Base {
        symbol: "Pa",
        aliases: &[],
        dimension: Dimension::PRESSURE,
        mantissa: 1.0,
        pow10: 0,
        offset: 0.0,
        prefixes: &[HECTO, KILO, MEGA],
    },
    // Energy, for activation energies in kinetic fits (`80 kJ/mol`, `8.314 J/mol/K`).
    Base {
        symbol: "J",
        aliases: &[],
        dimension: Dimension::new(2, 1, -2, 0, 0),
        mantissa: 1.0,
        pow10: 0,
        offset: 0.0,
        prefixes: &[KILO],
    },
    Base {
        symbol: "bar",
        aliases: &[],
        dimension: Dimension::PRESSURE,
        mantissa: 1.0,
        pow10: 5,
        offset: 0.0,
        prefixes: &[MILLI],
    },
    Base {
        symbol: "psi",
        aliases: &[],
        dimension: Dimension::PRESSURE,
        mantissa: PSI_IN_PA,
        pow10: 0,
        offset: 0.0,
        prefixes: &[],
    },
    Base {
        symbol: "atm",
        aliases: &[],
        dimension: Dimension::PRESSURE,
        mantissa: 101_325.0,
        pow10: 0,
        offset: 0.0,
        prefixes: &[],
    },
    Base {
        symbol: "%",
        aliases: &[],
        dimension: Dimension::DIMENSIONLESS,
        mantissa: 1.0,
        pow10: -2,
        offset: 0.0,
        prefixes: &[],
    },
    Base {
        symbol: "ppm",
        aliases: &[],
        dimension: Dimension::DIMENSIONLESS,
        mantissa: 1.0,
        pow10: -6,
        offset: 0.0,
        prefixes: &[],
    },
    Base {
        symbol: "Hz",
        aliases: &[],
        dimension: Dimension::FREQUENCY,
        mantissa: 1.0,
        pow10: 0,
        offset: 0.0,
        prefixes: &[KILO, MEGA],
    },
    Base {
        symbol: "g",
        aliases: &[],
        dimension: Dimension::MASS,
        mantissa: 1.0,
        pow10: -3,
        offset: 0.0,
        prefixes: &[MICRO, MILLI, KILO],
    },
];

/// Common spellings that are not units but whose intent is clear; used only for suggestions.
const MISSPELLINGS: &[(&str, &str)] = &[
    ("sec", "s"),
    ("secs", "s"),
    ("second", "s"),
    ("seconds", "s"),
    ("hr", "h"),
    ("hrs", "h"),
    ("hour", "h"),
    ("hours", "h"),
    ("mins", "min"),
    // `mn` for minutes (the French abbreviation) is closer to `nm` or `m` by edits alone.
    ("mn", "min"),
    ("minute", "min"),
    ("minutes", "min"),
    ("C", "degC"),
    ("oC", "degC"),
    ("deg", "degC"),
    ("celsius", "degC"),
    ("Celsius", "degC"),
    ("kelvin", "K"),
    ("Kelvin", "K"),
    ("molar", "M"),
    ("litre", "L"),
    ("liter", "L"),
    ("ml", "mL"),
    ("ul", "uL"),
    ("nl", "nL"),
    ("l", "L"),
    ("percent", "%"),
];

/// `mantissa × 10^pow10`, correctly rounded when `mantissa` is an integer (one exact operation).
fn scaled(mantissa: f64, pow10: i32) -> f64 {
    let mut p = 1.0_f64;
    // 10^k is exact in f64 up to k = 22; atoms never go beyond 10^±15.
    for _ in 0..pow10.unsigned_abs() {
        p *= 10.0;
    }
    if pow10 >= 0 {
        mantissa * p
    } else {
        mantissa / p
    }
}

fn atom(base: &Base, prefix: Option<&Prefix>) -> Atom {
    let (symbol, pow) = match prefix {
        Some(p) => (format!("{}{}", p.symbol, base.symbol), base.pow10 + p.pow10),
        None => (base.symbol.to_owned(), base.pow10),
    };
    Atom {
        symbol,
        dimension: base.dimension,
        scale: scaled(base.mantissa, pow),
        offset: base.offset,
    }
}

/// Resolves one spelling (canonical or alias) to its atom.
pub(crate) fn lookup(name: &str) -> Option<Atom> {
    for base in BASES {
        let spellings = std::iter::once(base.symbol).chain(base.aliases.iter().copied());
        for spelling in spellings {
            if name == spelling {
                return Some(atom(base, None));
            }
            let Some(head) = name.strip_suffix(spelling) else {
                continue;
            };
            for prefix in base.prefixes {
                if head == prefix.symbol || prefix.aliases.contains(&head) {
                    return Some(atom(base, Some(prefix)));
                }
            }
        }
    }
    None
}

/// Every canonical atom symbol, in table order.
pub(crate) fn canonical_symbols() -> Vec<String> {
    let mut out = Vec::new();
    for base in BASES {
        out.push(base.symbol.to_owned());
        for p in base.prefixes {
            out.push(format!("{}{}", p.symbol, base.symbol));
        }
    }
    out
}

/// The best suggestion for an unknown atom: a known misspelling, else the unique closest
/// canonical symbol.
pub(crate) fn suggestion(name: &str) -> Option<String> {
    if let Some((_, fix)) = MISSPELLINGS.iter().find(|(bad, _)| *bad == name) {
        return Some((*fix).to_owned());
    }
    let symbols = canonical_symbols();
    crate::suggest::closest(name, symbols.iter().map(String::as_str)).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every spelling, with every allowed prefix spelling.
    fn all_spellings() -> Vec<String> {
        let mut out = Vec::new();
        for base in BASES {
            let spellings: Vec<&str> = std::iter::once(base.symbol)
                .chain(base.aliases.iter().copied())
                .collect();
            for s in &spellings {
                out.push((*s).to_owned());
                for p in base.prefixes {
                    for ps in std::iter::once(p.symbol).chain(p.aliases.iter().copied()) {
                        out.push(format!("{ps}{s}"));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_spelling_is_unambiguous() {
        let spellings = all_spellings();
        for s in &spellings {
            let hits = BASES
                .iter()
                .flat_map(|b| {
                    let mut names = vec![b.symbol.to_owned()];
                    names.extend(b.aliases.iter().map(|a| (*a).to_owned()));
                    for p in b.prefixes {
                        for ps in std::iter::once(p.symbol).chain(p.aliases.iter().copied()) {
                            names.push(format!("{ps}{}", b.symbol));
                            for a in b.aliases {
                                names.push(format!("{ps}{a}"));
                            }
                        }
                    }
                    names
                })
                .filter(|n| n == s)
                .count();
            assert_eq!(hits, 1, "`{s}` is spelled {hits} times");
        }
    }

    #[test]
    fn every_atom_has_a_positive_finite_scale() {
        for s in all_spellings() {
            let a = lookup(&s).unwrap();
            assert!(a.scale.is_finite() && a.scale > 0.0, "{s}");
        }
    }

    #[test]
    fn misspellings_point_at_real_atoms() {
        for (bad, fix) in MISSPELLINGS {
            assert!(lookup(bad).is_none(), "`{bad}` is a real unit");
            assert!(lookup(fix).is_some(), "`{fix}` is not a unit");
        }
    }

    #[test]
    fn decimal_scales_are_correctly_rounded() {
        assert_eq!(lookup("uL").unwrap().scale, 1e-9);
        assert_eq!(lookup("nL").unwrap().scale, 1e-12);
        assert_eq!(lookup("mL").unwrap().scale, 1e-6);
        assert_eq!(lookup("nm").unwrap().scale, 1e-9);
        assert_eq!(lookup("nM").unwrap().scale, 1e-6);
        assert_eq!(lookup("mbar").unwrap().scale, 100.0);
        assert_eq!(lookup("kg").unwrap().scale, 1.0);
    }
}
