//! The simulated twin of a campaign's reactor: `Campaign` → `qdx_sim::SimConfig`.
//!
//! Every device of the campaign gets a simulated sibling with the same name and limits; the
//! chemistry comes from the campaign's `simulate` block (a blank reactor without one).

use qdx_sim as sim;

use crate::validate::campaign::*;

/// Simulated segments need a positive volume; a device declared with none (a mixer's default)
/// becomes one nanolitre, far below anything that changes a residence time.
const MIN_SEGMENT_M3: f64 = 1e-12;

/// A device's upper limit as the simulated lab holds it: a limit the kind does not give is the
/// largest number.
fn unbounded_above(hi: f64) -> f64 {
    if hi.is_finite() { hi } else { f64::MAX }
}

/// The absorbance the simulated reference dye's solution has at the excitation wavelength in
/// the cell: prepared for the relative method (below 0.1, IUPAC 2013).
const DYE_ABSORBANCE: f64 = 0.05;

/// The reference dye in `pump`'s syringe, when the measurement's `reference_dye` line runs it.
/// The simulated dye needs the absorption and emission maxima its declaration gives
/// (`absorption`, `emission`).
fn dye_stock(c: &Campaign, pump: DeviceId) -> Result<Option<sim::DyeStock>, String> {
    let Some(m) = c.measurement.as_ref() else {
        return Ok(None);
    };
    if m.reference_dye.as_ref().is_none_or(|l| l.pump != pump) {
        return Ok(None);
    }
    let Some((dye, excitation, sample_index)) =
        c.proxies.iter().find_map(|p| match &p.definition {
            ProxyDefinition::Builtin {
                function:
                    SpectralFunction::RelativePlqy {
                        reference,
                        excitation,
                        sample_index,
                        ..
                    },
            } => Some((reference, *excitation, *sample_index)),
            _ => None,
        })
    else {
        return Ok(None);
    };
    let (Some(absorption), Some(emission)) = (dye.absorption, dye.emission) else {
        return Err(format!(
            "the simulated lab needs the absorption and emission maxima of {} (its `absorption` and `emission`)",
            dye.name
        ));
    };
    // The detector collects a solution's emission as 1/n² of its solvent: the dye in its own
    // solvent against the sample in the one its proxy declares.
    let n_ratio = sample_index / dye.refractive_index;
    Ok(Some(sim::DyeStock {
        absorption_nm: absorption * 1e9,
        emission_nm: emission * 1e9,
        quantum_yield: dye.quantum_yield * n_ratio * n_ratio,
        absorbance: DYE_ABSORBANCE,
        at_nm: excitation * 1e9,
    }))
}

/// The simulated lab for a campaign with a reactor.
pub fn sim_config(c: &Campaign) -> Result<sim::SimConfig, String> {
    let stock_of = |pump: DeviceId| c.stocks.iter().find(|s| s.pump == pump);
    let mut pumps = Vec::new();
    for (id, d) in c.pumps() {
        let rate = d.driven(Drive::PumpRate);
        pumps.push(sim::PumpConfig {
            name: d.name.clone(),
            stock: stock_of(id).map(|s| sim::Stock {
                name: s.name.clone(),
                concentration: s.concentration.unwrap_or(0.0),
            }),
            // A pump fed from a reservoir never runs dry in the simulation.
            syringe_volume: d.syringe().unwrap_or(1.0),
            initial_volume: None,
            min_rate: rate.map_or(0.0, |r| r.lo.max(0.0)),
            max_rate: rate.map_or(1e-3, |r| unbounded_above(r.hi)),
            dye: dye_stock(c, id)?,
        });
    }
    let mut heaters = Vec::new();
    for (_, d) in c.heaters() {
        let sp = d.driven(Drive::HeaterSetpoint);
        heaters.push(sim::HeaterConfig {
            name: d.name.clone(),
            // A kind may leave a setting unbounded (`setting setpoint : temperature`): the
            // simulated sibling then guards nothing on that side, but its limits are numbers.
            min_k: sp.map_or(273.15, |s| s.lo.max(0.0)),
            max_k: sp.map_or(573.15, |s| unbounded_above(s.hi)),
            time_constant_s: d.time_constant(),
        });
    }
    // The flow path: from the first device every pump reaches, downstream to the outlet.
    let first = c.topology.paths.first().ok_or("the reactor has no pump")?;
    let mut flow_path = Vec::new();
    let mut spectrometers = Vec::new();
    let mut lights: Vec<sim::LightConfig> = Vec::new();
    let mut valves = Vec::new();
    for &id in &first.devices {
        let Some(d) = c.devices.get(id) else { continue };
        let volume = d.volume().max(MIN_SEGMENT_M3);
        let kind = match d.role {
            Role::Pump | Role::Outlet | Role::Heater | Role::Spectrometer | Role::Light => continue,
            Role::Mixer => sim::SegmentKind::Mixer,
            Role::Coil => sim::SegmentKind::Coil {
                heater: d
                    .device_ref("heater")
                    .and_then(|h| c.devices.get(h))
                    .map(|h| h.name.clone()),
            },
            Role::Cell => {
                let spec: Vec<String> = d
                    .device_ref("spectrometer")
                    .and_then(|s| c.devices.get(s))
                    .map(|s| s.name.clone())
                    .into_iter()
                    .collect();
                sim::SegmentKind::FlowCell {
                    spectrometers: spec,
                }
            }
            Role::Tube | Role::Sensor | Role::Regulator => sim::SegmentKind::Tubing,
            Role::Valve => {
                let positions = match d.property("positions") {
                    Some(PropertyValue::Integer(n)) => u16::try_from(*n).unwrap_or(2),
                    _ => 2,
                };
                valves.push(sim::ValveConfig {
                    name: d.name.clone(),
                    positions,
                    initial_position: 1,
                });
                sim::SegmentKind::Tubing
            }
        };
        flow_path.push(sim::PathSegment {
            name: d.name.clone(),
            volume,
            kind,
        });
    }
    for (id, d) in c.devices.iter().enumerate() {
        if d.role != Role::Spectrometer {
            continue;
        }
        let (lo, hi) = match d.property("range") {
            Some(PropertyValue::Range { lo, hi, .. }) => (lo * 1e9, hi * 1e9),
            _ => (350.0, 800.0),
        };
        let cell = c
            .devices
            .iter()
            .find(|x| x.device_ref("spectrometer") == Some(id));
        let mut s = sim::SpectrometerConfig::named(d.name.clone());
        s.min_nm = lo;
        s.max_nm = hi;
        if let Some(PropertyValue::Integer(p)) = d.property("pixels") {
            // The campaign's pixel count shapes only the simulated spectra; a count the simulated
            // detector does not have is read at its nearest.
            s.pixels = usize::try_from(*p)
                .unwrap_or(1024)
                .clamp(*sim::config::PIXELS.start(), *sim::config::PIXELS.end());
        }
        if let Some(x) = d.quantity("excitation") {
            s.excitation_nm = x * 1e9;
        }
        // A SAXS camera (`saxs_camera`): its `q_range` (SI, 1/m) is the frame's q grid.
        if let Some(PropertyValue::Range { lo, hi, .. }) = d.property("q_range") {
            s.saxs = Some(sim::SaxsConfig {
                q_min_per_nm: lo * 1e-9,
                q_max_per_nm: hi * 1e-9,
                ..sim::SaxsConfig::default()
            });
        }
        if let Some(l) = cell.and_then(|c| c.quantity("path_length")) {
            s.path_length_m = l;
        }
        // The lights the cell names shine into this spectrometer; a PL light's wavelength is
        // what excites the sample (and what a reference dye is excited at).
        for channel in ["absorbance", "photoluminescence"] {
            let Some(light) = cell
                .and_then(|c| c.device_ref(channel))
                .and_then(|l| c.devices.get(l))
            else {
                continue;
            };
            if lights
                .iter()
                .any(|x: &sim::LightConfig| x.name == light.name)
            {
                continue;
            }
            let kind = match (light.light_band(), light.light_wavelength()) {
                (Some((lo, hi)), _) => sim::LightKind::Broadband {
                    min_nm: lo * 1e9,
                    max_nm: hi * 1e9,
                },
                (None, Some(w)) => {
                    s.excitation_nm = w * 1e9;
                    sim::LightKind::Narrow {
                        wavelength_nm: w * 1e9,
                    }
                }
                (None, None) => continue,
            };
            lights.push(sim::LightConfig {
                name: light.name.clone(),
                spectrometer: d.name.clone(),
                kind,
            });
        }
        spectrometers.push(s);
    }
    let chemistry = match c.simulation.as_ref() {
        None => sim::ChemistryConfig::Blank,
        Some(s) => {
            let stock = |role: &str| {
                s.roles
                    .get(role)
                    .and_then(|ids| ids.first())
                    .and_then(|id| c.stocks.get(*id))
                    .map(|st| st.name.clone())
            };
            // The stocks in `role`, each with the halide it declares (`unknown` words the error).
            let halide_sources = |role: &str,
                                  unknown: fn(&str) -> String|
             -> Result<Vec<sim::HalideSource>, String> {
                s.roles
                    .get(role)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| c.stocks.get(*id))
                    .map(|st| {
                        let halide = match st.properties.get("halide") {
                            Some(PropertyValue::Text(t)) => sim::Halide::from_symbol(t),
                            _ => None,
                        }
                        .ok_or_else(|| unknown(&st.name))?;
                        Ok(sim::HalideSource {
                            stock: st.name.clone(),
                            halide,
                        })
                    })
                    .collect()
            };
            match &s.model {
                SimulationModel::CsPbX3HalideExchange => {
                    let seeds = stock("seeds").ok_or("the model needs the seeds stock")?;
                    // Every halide stock feeds the mix (the validator lists them all).
                    let halides = halide_sources("halide", |name| {
                        format!("stock `{name}` delivers no known halide")
                    })?;
                    if halides.is_empty() {
                        return Err("the model needs a halide stock".into());
                    }
                    sim::ChemistryConfig::Cspbx3HalideExchange {
                        roles: sim::CsPbX3Roles {
                            seeds,
                            halides,
                            ligand: stock("ligand"),
                        },
                        params: s.parameters.clone(),
                    }
                }
                SimulationModel::CsFaPbX3Synthesis => {
                    let lead = halide_sources("lead", |name| {
                        format!("lead stock `{name}` declares no known halide")
                    })?;
                    if lead.is_empty() {
                        return Err("the model needs a lead stock".into());
                    }
                    sim::ChemistryConfig::CsfaPbx3Synthesis {
                        roles: sim::CsFaRoles {
                            cesium: stock("cesium").ok_or("the model needs the cesium stock")?,
                            formamidinium: stock("formamidinium"),
                            lead,
                        },
                        params: s.parameters.clone(),
                    }
                }
                SimulationModel::CdSeGrowth => sim::ChemistryConfig::CdseGrowth {
                    roles: sim::CdSeRoles {
                        cadmium: stock("cadmium").ok_or("the model needs the cadmium stock")?,
                        selenium: stock("selenium").ok_or("the model needs the selenium stock")?,
                    },
                    params: s.parameters.clone(),
                },
                SimulationModel::Table { .. } | SimulationModel::Script { .. } => {
                    sim::ChemistryConfig::Blank
                }
            }
        }
    };
    Ok(sim::SimConfig {
        seed: c.seed,
        ambient_k: crate::validate::campaign::AMBIENT_K,
        pumps,
        heaters,
        flow_path,
        spectrometers,
        valves,
        pressure_sensors: Vec::new(),
        lights,
        chemistry,
        segmented: c.measurement.as_ref().is_some_and(|m| m.droplets.is_some()),
    })
}
