//! Physical dimensions, units and quantities for qdx: SI storage, the units chemists write,
//! temperature points versus differences, shortest round-tripping formatting, and sound interval
//! arithmetic for proving bounds.
//!
//! ```
//! use qdx_units::{format_quantity, Dimension, Interpretation, Quantity, Unit};
//!
//! let unit = Unit::parse("uL/min")?;
//! assert_eq!(unit.dimension(), Dimension::FLOW_RATE);
//! let si = unit.to_si(10.0, Interpretation::Difference);
//! assert_eq!(format_quantity(si, &unit, Interpretation::Difference), "10 uL/min");
//!
//! let t = Quantity::from_unit(25.0, &Unit::parse("degC")?, Interpretation::Absolute)?;
//! assert_eq!(t.value(), 298.15);
//! # Ok::<(), qdx_units::UnitError>(())
//! ```

// Tests unwrap: a panic there is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod atom;
mod dimension;
mod error;
mod format;
mod interval;
mod quantity;
mod rounding;
pub mod suggest;
mod unit;

pub use dimension::Dimension;
pub use error::UnitError;
pub use format::{display_unit, format_in_unit, format_number, format_quantity};
pub use interval::{Interval, IntervalError};
pub use quantity::Quantity;
pub use unit::{Interpretation, Unit};
