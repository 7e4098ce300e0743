//! Named inputs a script sees as constants (a change a script makes to its copy stays within
//! that one evaluation).
//!
//! Names are written in a script as the campaign writes them. A dotted name is a property of
//! an object map: `mix.seed` is the property `seed` of the map `mix`, which is how a script
//! reads a part of a composition (`mix.seed`, as formulas write it) and how rhai reads the
//! expression `mix.seed`. Every setter follows this rule, so the runtime, the virtual labs and
//! `qdx check`'s dry runs give scripts the same shape.
//!
//! Invariant: names are unique and kept in sorted order (a `BTreeMap`), so what a script sees
//! never depends on insertion order or hashing; values are already rhai values, so a set of
//! inputs built once can be passed to many evaluations.

use std::collections::BTreeMap;

use rhai::{Array, Dynamic, FLOAT, Map};

/// The variables a script is evaluated with.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    values: BTreeMap<String, Dynamic>,
}

fn float_array(values: &[f64]) -> Array {
    values.iter().map(|&v| Dynamic::from_float(v)).collect()
}

impl Inputs {
    /// No inputs.
    #[must_use]
    pub fn new() -> Inputs {
        Inputs::default()
    }

    /// Adds a number (a proxy value, a variable value). The unit is whatever the caller
    /// documents for that name; scripts see a float. A dotted name (`mix.seed`) is a property
    /// of a map (see the module doc).
    #[must_use]
    pub fn number(mut self, name: &str, value: f64) -> Inputs {
        self.set_number(name, value);
        self
    }

    /// Adds a string (a categorical variable's level).
    #[must_use]
    pub fn text(mut self, name: &str, value: &str) -> Inputs {
        self.set_text(name, value);
        self
    }

    /// Adds a spectrum as an object map `#{ wavelength: [...], values: [...] }`, so the script
    /// reads `pl.wavelength` and `pl.values`.
    #[must_use]
    pub fn spectrum(mut self, name: &str, wavelength: &[f64], values: &[f64]) -> Inputs {
        self.set_spectrum(name, wavelength, values);
        self
    }

    /// Adds an object map of named numbers (`fit.center`, `fit.width`).
    #[must_use]
    pub fn numbers(mut self, name: &str, values: &BTreeMap<String, f64>) -> Inputs {
        self.set_numbers(name, values);
        self
    }

    /// Adds an array of numbers.
    #[must_use]
    pub fn array(mut self, name: &str, values: &[f64]) -> Inputs {
        self.set_array(name, values);
        self
    }

    /// In-place form of [`Inputs::number`]; replaces an input of the same name.
    pub fn set_number(&mut self, name: &str, value: f64) {
        self.set(name, Dynamic::from_float(value as FLOAT));
    }

    /// In-place form of [`Inputs::text`].
    pub fn set_text(&mut self, name: &str, value: &str) {
        self.set(name, Dynamic::from(value.to_owned()));
    }

    /// In-place form of [`Inputs::spectrum`].
    pub fn set_spectrum(&mut self, name: &str, wavelength: &[f64], values: &[f64]) {
        self.set_series(name, "wavelength", wavelength, values);
    }

    /// A 1-D signal over an axis named `axis`: `name.<axis>` and `name.values` (a SAXS
    /// pattern is `saxs.q`, `saxs.values`; [`Inputs::set_spectrum`] is the `wavelength` case).
    pub fn set_series(&mut self, name: &str, axis: &str, grid: &[f64], values: &[f64]) {
        let mut map = Map::new();
        map.insert(axis.into(), Dynamic::from_array(float_array(grid)));
        map.insert("values".into(), Dynamic::from_array(float_array(values)));
        self.set(name, Dynamic::from_map(map));
    }

    /// In-place form of [`Inputs::numbers`].
    pub fn set_numbers(&mut self, name: &str, values: &BTreeMap<String, f64>) {
        let map: Map = values
            .iter()
            .map(|(k, &v)| (k.as_str().into(), Dynamic::from_float(v)))
            .collect();
        self.set(name, Dynamic::from_map(map));
    }

    /// In-place form of [`Inputs::array`].
    pub fn set_array(&mut self, name: &str, values: &[f64]) {
        self.set(name, Dynamic::from_array(float_array(values)));
    }

    /// Sets `name`, a dotted name as a property of a map (made, or replacing a value that is
    /// not a map).
    fn set(&mut self, name: &str, value: Dynamic) {
        match name.split_once('.') {
            None => {
                self.values.insert(name.to_owned(), value);
            }
            Some((head, rest)) => {
                let slot = self.values.entry(head.to_owned()).or_default();
                set_property(slot, rest, value);
            }
        }
    }

    /// The input names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Dynamic)> {
        self.values.iter()
    }
}

/// Sets the property at the dotted `path` of the map in `slot` (which becomes a map if it is
/// not one).
fn set_property(slot: &mut Dynamic, path: &str, value: Dynamic) {
    let mut map = std::mem::take(slot).try_cast::<Map>().unwrap_or_default();
    match path.split_once('.') {
        None => {
            map.insert(path.into(), value);
        }
        Some((head, rest)) => {
            let inner = map.entry(head.into()).or_default();
            set_property(inner, rest, value);
        }
    }
    *slot = Dynamic::from_map(map);
}
