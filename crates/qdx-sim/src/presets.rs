//! Ready-made configurations: the product sketch's CsPbX3 rig and a CdSe rig (Krishnadasan
//! style: two precursor streams into a hot coil). Used by tests, examples and benchmarks, and a
//! reference for how a campaign maps onto a [`SimConfig`].

use std::collections::BTreeMap;

use crate::chemistry::{CdSeRoles, ChemistryConfig, CsPbX3Roles, Halide, HalideSource};
use crate::config::{
    HeaterConfig, PathSegment, PressureSensorConfig, PumpConfig, SegmentKind, SimConfig,
    SpectrometerConfig, Stock, ValveConfig,
};

/// µL in m³.
pub const UL: f64 = 1e-9;
/// mL in m³.
pub const ML: f64 = 1e-6;
/// µL/min in m³/s.
pub const UL_PER_MIN: f64 = 1e-9 / 60.0;

fn pump(
    name: &str,
    stock: &str,
    concentration: f64,
    syringe_ml: f64,
    max_ml_min: f64,
) -> PumpConfig {
    PumpConfig {
        name: name.into(),
        stock: Some(Stock {
            name: stock.into(),
            concentration,
        }),
        syringe_volume: syringe_ml * ML,
        initial_volume: None,
        min_rate: 0.1 * UL_PER_MIN,
        max_rate: max_ml_min * 1000.0 * UL_PER_MIN,
        dye: None,
    }
}

fn path(coil_ul: f64) -> Vec<PathSegment> {
    vec![
        PathSegment {
            name: "m1".into(),
            volume: 2.0 * UL,
            kind: SegmentKind::Mixer,
        },
        PathSegment {
            name: "r1".into(),
            volume: coil_ul * UL,
            kind: SegmentKind::Coil {
                heater: Some("h1".into()),
            },
        },
        PathSegment {
            name: "t1".into(),
            volume: 5.0 * UL,
            kind: SegmentKind::Tubing,
        },
        PathSegment {
            name: "s1".into(),
            volume: 2.0 * UL,
            kind: SegmentKind::FlowCell {
                spectrometers: vec!["spec1".into()],
            },
        },
    ]
}

/// The product sketch: seeds (10 mol/m³ Pb), iodide (50 mol/m³), ligand; 250 µL coil on h1
/// (20–120 °C); spectrometer spec1 (350–800 nm, 1024 pixels, excitation 365 nm).
pub fn cspbx3(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        ambient_k: 298.15,
        pumps: vec![
            pump("p_seed", "seeds", 10.0, 10.0, 2.0),
            pump("p_iodide", "iodide", 50.0, 10.0, 2.0),
            pump("p_ligand", "ligand", 0.0, 5.0, 1.0),
        ],
        heaters: vec![HeaterConfig {
            name: "h1".into(),
            min_k: 293.15,
            max_k: 393.15,
            time_constant_s: 60.0,
        }],
        flow_path: path(250.0),
        spectrometers: vec![SpectrometerConfig::named("spec1")],
        valves: vec![ValveConfig {
            name: "waste".into(),
            positions: 2,
            initial_position: 1,
        }],
        lights: Vec::new(),
        pressure_sensors: vec![PressureSensorConfig {
            name: "pt1".into(),
            back_pressure_pa: 2e5,
            resistance_pa_s_per_m3: 1e12,
        }],
        chemistry: ChemistryConfig::Cspbx3HalideExchange {
            roles: CsPbX3Roles {
                seeds: "seeds".into(),
                halides: vec![HalideSource {
                    stock: "iodide".into(),
                    halide: Halide::I,
                }],
                ligand: Some("ligand".into()),
            },
            params: BTreeMap::new(),
        },
        segmented: false,
    }
}

/// A CdSe rig: Cd and Se precursor streams (10 mol/m³ each) into a 100 µL coil on h1
/// (25–320 °C), spectrometer spec1.
pub fn cdse(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        ambient_k: 298.15,
        pumps: vec![
            pump("p_cd", "cd_oleate", 10.0, 10.0, 1.0),
            pump("p_se", "top_se", 10.0, 10.0, 1.0),
        ],
        heaters: vec![HeaterConfig {
            name: "h1".into(),
            min_k: 298.15,
            max_k: 593.15,
            time_constant_s: 90.0,
        }],
        flow_path: path(100.0),
        spectrometers: vec![SpectrometerConfig::named("spec1")],
        valves: Vec::new(),
        lights: Vec::new(),
        pressure_sensors: Vec::new(),
        chemistry: ChemistryConfig::CdseGrowth {
            roles: CdSeRoles {
                cadmium: "cd_oleate".into(),
                selenium: "top_se".into(),
            },
            params: BTreeMap::new(),
        },
        segmented: false,
    }
}
