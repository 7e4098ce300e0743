//! What an instrument can physically do, for validation before a run.
//!
//! A syringe pump's rate range is its plunger's linear speed range times the syringe's bore
//! area, intersected with what its command format can express. Heater ranges come from the
//! binding (they depend on the fluid, sensor and configuration, not on the model alone).
//!
//! Invariant: every range here has `0 <= min <= max`, all values finite, SI units (m³/s, K).
//!
//! The speed limits are derived from the makers' published extreme rates (smallest syringe at
//! the lowest rate, largest at the highest) and are **unverified: calibrate** against the
//! manual of the exact model before relying on the edges.

use serde::{Deserialize, Serialize};

/// A closed range of flow rates, m³/s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateRange {
    pub min: f64,
    pub max: f64,
}

impl RateRange {
    pub fn contains(&self, rate: f64) -> bool {
        rate.is_finite() && rate >= self.min && rate <= self.max
    }

    /// The overlap of two ranges, if any.
    pub fn intersect(&self, other: &RateRange) -> Option<RateRange> {
        let min = self.min.max(other.min);
        let max = self.max.min(other.max);
        (min <= max).then_some(RateRange { min, max })
    }
}

/// A closed range of temperatures, K.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TemperatureRange {
    pub min: f64,
    pub max: f64,
}

impl TemperatureRange {
    pub fn contains(&self, kelvin: f64) -> bool {
        kelvin.is_finite() && kelvin >= self.min && kelvin <= self.max
    }
}

/// A pump drive's plunger speed limits, m/s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearSpeed {
    pub min: f64,
    pub max: f64,
}

/// New Era NE-1000: 0.73 µL/h on a 4.699 mm (1 mL) syringe, 1700 mL/h on 26.59 mm (60 mL).
pub const NE1000_SPEED: LinearSpeed = LinearSpeed {
    min: 1.17e-8,
    max: 8.5e-4,
};

/// Harvard Pump 11 Elite: 1.28 pL/min on 0.103 mm (0.5 µL), 88.39 mL/min on 26.59 mm.
pub const PUMP11_ELITE_SPEED: LinearSpeed = LinearSpeed {
    min: 2.56e-9,
    max: 2.65e-3,
};

/// Harvard PHD Ultra: 1.5 pL/min on 0.103 mm (0.5 µL), 216 mL/min on 38.4 mm (140 mL).
pub const PHD_ULTRA_SPEED: LinearSpeed = LinearSpeed {
    min: 3.0e-9,
    max: 3.11e-3,
};

/// Chemyx Fusion 100/200: 0.0001 µL/min on 0.103 mm (0.5 µL), 147 mL/min on 26.59 mm.
pub const CHEMYX_FUSION_SPEED: LinearSpeed = LinearSpeed {
    min: 2.0e-10,
    max: 4.42e-3,
};

/// Inner cross-section of a syringe of inner diameter `diameter` (m), m².
pub fn bore_area(diameter: f64) -> f64 {
    std::f64::consts::PI / 4.0 * diameter * diameter
}

/// The rate range of a drive with a syringe of inner diameter `diameter` (m); `None` when the
/// diameter is not a positive finite length.
pub fn syringe_rate_range(speed: LinearSpeed, diameter: f64) -> Option<RateRange> {
    if !(diameter.is_finite() && diameter > 0.0) {
        return None;
    }
    let area = bore_area(diameter);
    Some(RateRange {
        min: speed.min * area,
        max: speed.max * area,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_extremes_are_reproduced() {
        let ml_per_h = 1e-6 / 3600.0;
        let big = syringe_rate_range(NE1000_SPEED, 26.59e-3).expect("positive diameter");
        assert!(
            (big.max / ml_per_h - 1700.0).abs() < 5.0,
            "{}",
            big.max / ml_per_h
        );
        let ml_per_min = 1e-6 / 60.0;
        let elite = syringe_rate_range(PUMP11_ELITE_SPEED, 26.59e-3).expect("positive diameter");
        assert!((elite.max / ml_per_min - 88.39).abs() < 0.5);
        assert_eq!(syringe_rate_range(NE1000_SPEED, 0.0), None);
        assert_eq!(syringe_rate_range(NE1000_SPEED, f64::NAN), None);
    }

    #[test]
    fn ranges_intersect() {
        let a = RateRange { min: 1.0, max: 5.0 };
        let b = RateRange { min: 3.0, max: 9.0 };
        assert_eq!(a.intersect(&b), Some(RateRange { min: 3.0, max: 5.0 }));
        assert_eq!(a.intersect(&RateRange { min: 6.0, max: 7.0 }), None);
        assert!(!a.contains(f64::NAN));
    }
}
