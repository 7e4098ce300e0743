//! The driver kinds a lab binding file can name, their settings, capabilities, and a factory.
//!
//! `bind p_seed = new_era.ne1000 { port "/dev/ttyUSB0", address 0, syringe_diameter 14.57 mm }`
//! names a [`DriverKind`] (`new_era.ne1000`) and [`Settings`] in SI units. The lead's validator
//! checks the settings with [`check_settings`] and the campaign's needs against
//! [`capability`]; the runtime opens devices through a [`Connector`].
//!
//! Invariants:
//! - Every kind lists every setting it reads; [`check_settings`] rejects unknown names, wrong
//!   types and missing required settings, and fills in defaults, so a connector never sees
//!   an incomplete binding.
//! - Pumps of the daisy-chain families (New Era, Harvard), and VICI valves with a device ID,
//!   bound to the same port share one serial line through one
//!   [`crate::transport::SharedLink`]; any other second use of a port is an error, as are two
//!   bindings of one port with different baud rates or families.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::capability::{
    CHEMYX_FUSION_SPEED, LinearSpeed, NE1000_SPEED, PHD_ULTRA_SPEED, PUMP11_ELITE_SPEED, RateRange,
    TemperatureRange, syringe_rate_range,
};
use crate::clock::Clock;
use crate::device::{Heater, Illumination, Light, Pump, Spectrometer, Valve};
use crate::drivers::{
    chemyx, eurotherm, harvard, huber, new_era, ocean, ocean_usb, thorlabs, vici,
};
use crate::error::DeviceErrorKind;
use crate::transport::{BoxedStream, Link, SerialSettings, SharedLink, open_serial, share};
use crate::usb::{UsbBulk, UsbSelector};

/// Which device trait a kind serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Pump,
    Heater,
    Spectrometer,
    Valve,
    /// A light source the plan switches (or what switches it).
    Light,
}

/// The type of a setting, with its SI unit where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingType {
    String,
    Integer,
    /// m
    Length,
    /// m³
    Volume,
    /// K
    Temperature,
    /// A list of plain numbers.
    NumberList,
    /// Names for whole numbers: `{ sample 1, waste 3 }` (a valve's named positions).
    Names,
    /// The name of another device of the campaign, written bare (`spectrometer spec1`);
    /// held as a [`SettingValue::String`].
    Device,
}

/// A setting's value, SI for quantities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SettingValue {
    String(String),
    Integer(i64),
    Number(f64),
    NumberList(Vec<f64>),
    Names(BTreeMap<String, i64>),
}

/// Settings by name.
pub type Settings = BTreeMap<String, SettingValue>;

/// One setting a kind reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingSpec {
    pub name: &'static str,
    pub ty: SettingType,
    pub required: bool,
    pub default: Option<SettingValue>,
    pub doc: &'static str,
}

/// One driver kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriverKind {
    pub name: &'static str,
    pub device: DeviceKind,
    pub settings: Vec<SettingSpec>,
}

/// What a bound device can do, for validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Pump {
        rate: RateRange,
        withdraw: bool,
    },
    /// `None` when the binding does not state the setpoint range.
    Heater {
        setpoint: Option<TemperatureRange>,
    },
    Spectrometer {
        integration_s: (f64, f64),
        max_averages: u32,
        pixels: usize,
    },
    /// Positions 1 ..= `positions`.
    Valve {
        positions: u16,
    },
    /// `switched`: qdx switches it; otherwise the operator does (it may stay on).
    Light {
        switched: bool,
    },
}

/// Why a binding cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    #[error("unknown driver kind `{0}`")]
    UnknownKind(String),
    #[error("`{kind}` is a {actual:?} driver, not a {wanted:?}")]
    WrongDevice {
        kind: String,
        actual: DeviceKind,
        wanted: DeviceKind,
    },
    #[error("`{kind}` has no setting `{setting}`")]
    UnknownSetting { kind: String, setting: String },
    #[error("`{kind}` needs the setting `{setting}`")]
    MissingSetting { kind: String, setting: String },
    #[error("setting `{setting}` of `{kind}`: {why}")]
    BadSetting {
        kind: String,
        setting: String,
        why: String,
    },
    #[error("port {port}: {why}")]
    PortConflict { port: String, why: String },
    #[error("{device}: cannot connect: {kind}")]
    Connect {
        device: String,
        kind: DeviceErrorKind,
    },
}

fn spec(
    name: &'static str,
    ty: SettingType,
    default: Option<SettingValue>,
    doc: &'static str,
) -> SettingSpec {
    SettingSpec {
        name,
        ty,
        required: false,
        default,
        doc,
    }
}

fn required(name: &'static str, ty: SettingType, doc: &'static str) -> SettingSpec {
    SettingSpec {
        name,
        ty,
        required: true,
        default: None,
        doc,
    }
}

fn serial(baud: u32) -> Vec<SettingSpec> {
    vec![
        required(
            "port",
            SettingType::String,
            "serial port path, e.g. /dev/ttyUSB0",
        ),
        spec(
            "baud",
            SettingType::Integer,
            Some(SettingValue::Integer(i64::from(baud))),
            "baud rate",
        ),
        spec(
            "timeout_ms",
            SettingType::Integer,
            None,
            "reply timeout, ms (driver default if absent)",
        ),
    ]
}

fn optional(name: &'static str, ty: SettingType, doc: &'static str) -> SettingSpec {
    spec(name, ty, None, doc)
}

/// Every driver kind, sorted by name.
pub fn kinds() -> Vec<DriverKind> {
    use SettingType as T;
    let diameter = || required("syringe_diameter", T::Length, "syringe inside diameter");
    let address = || {
        spec(
            "address",
            T::Integer,
            Some(SettingValue::Integer(0)),
            "daisy-chain address 0-99",
        )
    };
    let heater_range = || {
        vec![
            optional(
                "setpoint_min",
                T::Temperature,
                "lowest setpoint the unit accepts",
            ),
            optional(
                "setpoint_max",
                T::Temperature,
                "highest setpoint the unit accepts",
            ),
        ]
    };
    let ocean = |name| DriverKind {
        name,
        device: DeviceKind::Spectrometer,
        settings: [
            serial(ocean::DEFAULT_BAUD),
            vec![
                required(
                    "wavelength_coefficients",
                    T::NumberList,
                    "c0..c3 of λ(i) = c0 + c1 i + c2 i² + c3 i³, nm",
                ),
                spec(
                    "lamp",
                    T::String,
                    Some(SettingValue::String("none".into())),
                    "source on the lamp output: broadband, excitation, none, or light (a light \
                     of the campaign bound with `ocean.lamp_output`, switched by the plan)",
                ),
                spec(
                    "pixels",
                    T::Integer,
                    Some(SettingValue::Integer(ocean::PIXELS as i64)),
                    "detector pixels",
                ),
            ],
        ]
        .concat(),
    };
    let ocean_usb_kind = |name| DriverKind {
        name,
        device: DeviceKind::Spectrometer,
        settings: vec![
            optional(
                "serial_number",
                T::String,
                "the spectrometer's USB serial number (needed when two of the model are connected)",
            ),
            optional(
                "wavelength_coefficients",
                T::NumberList,
                "c0..c3 of λ(i) = c0 + c1 i + c2 i² + c3 i³, nm; overrides the calibration the \
                 spectrometer stores",
            ),
            spec(
                "lamp",
                T::String,
                Some(SettingValue::String("none".into())),
                "source on the lamp output: broadband, excitation or none",
            ),
            optional(
                "timeout_ms",
                T::Integer,
                "reply timeout, ms (driver default if absent)",
            ),
        ],
    };
    let harvard = |name| DriverKind {
        name,
        device: DeviceKind::Pump,
        settings: [serial(harvard::DEFAULT_BAUD), vec![address(), diameter()]].concat(),
    };
    let eurotherm = |name| DriverKind {
        name,
        device: DeviceKind::Heater,
        settings: [
            serial(eurotherm::DEFAULT_BAUD),
            vec![
                spec(
                    "modbus_address",
                    T::Integer,
                    Some(SettingValue::Integer(1)),
                    "Modbus slave address",
                ),
                optional(
                    "decimals",
                    T::Integer,
                    "decimal places the controller shows; read from it at connect, and checked \
                     against this when given",
                ),
                optional(
                    "alarm_register",
                    T::Integer,
                    "register whose non-zero value is an alarm",
                ),
            ],
            heater_range(),
        ]
        .concat(),
    };
    let mut all = vec![
        DriverKind {
            name: "new_era.ne1000",
            device: DeviceKind::Pump,
            settings: [
                serial(new_era::DEFAULT_BAUD),
                vec![
                    address(),
                    diameter(),
                    optional(
                        "safe_mode_timeout",
                        T::Integer,
                        "enter safe mode with this comms timeout, s",
                    ),
                ],
            ]
            .concat(),
        },
        harvard("harvard.pump11_elite"),
        harvard("harvard.phd_ultra"),
        DriverKind {
            name: "chemyx.fusion",
            device: DeviceKind::Pump,
            settings: [
                serial(chemyx::DEFAULT_BAUD),
                vec![
                    diameter(),
                    required("syringe_volume", T::Volume, "syringe capacity"),
                ],
            ]
            .concat(),
        },
        eurotherm("eurotherm.e2400"),
        eurotherm("eurotherm.e3200"),
        DriverKind {
            name: "huber.pilot_one",
            device: DeviceKind::Heater,
            settings: [
                serial(huber::DEFAULT_BAUD),
                vec![spec(
                    "sensor",
                    T::String,
                    Some(SettingValue::String("internal".into())),
                    "process value: internal or process",
                )],
                heater_range(),
            ]
            .concat(),
        },
        ocean("ocean.usb2000"),
        ocean("ocean.flame"),
        vici_kind("vici.multiposition", true),
        vici_kind("vici.two_position", false),
        ocean_usb_kind("ocean.usb2000_usb"),
        ocean_usb_kind("ocean.usb2000plus"),
        ocean_usb_kind("ocean.flame_usb"),
        ocean_usb_kind("ocean.usb4000"),
        ocean_usb_kind("ocean.sts"),
        // Lights: what switches each light of the campaign.
        DriverKind {
            name: "ocean.lamp_output",
            device: DeviceKind::Light,
            settings: vec![required(
                "spectrometer",
                T::Device,
                "the Ocean spectrometer (its name in the campaign) whose lamp-enable output \
                 switches this light",
            )],
        },
        DriverKind {
            name: "manual",
            device: DeviceKind::Light,
            settings: Vec::new(),
        },
        DriverKind {
            name: "thorlabs.sc10",
            device: DeviceKind::Light,
            settings: serial(thorlabs::DEFAULT_BAUD),
        },
    ];
    all.sort_by_key(|k| k.name);
    all
}

/// A VICI universal actuator: a selection valve (`positions` required) or a switching valve.
fn vici_kind(name: &'static str, multiposition: bool) -> DriverKind {
    use SettingType as T;
    let mut settings = serial(vici::DEFAULT_BAUD);
    settings.push(optional(
        "address",
        T::Integer,
        "device ID 0-9 set on the actuator (`ID`); absent when none is set",
    ));
    if multiposition {
        settings.push(required(
            "positions",
            T::Integer,
            "positions the actuator indexes (`NP`), an even number 2-40",
        ));
    }
    settings.push(optional(
        "names",
        T::Names,
        "names of positions, `{ sample 1, waste 2 }`",
    ));
    settings.push(optional(
        "move_timeout_ms",
        T::Integer,
        "how long a move may take, ms (5000 if absent)",
    ));
    DriverKind {
        name,
        device: DeviceKind::Valve,
        settings,
    }
}

/// The USB model a spectrometer kind opens; `None` for the serial kinds.
pub fn usb_model(kind: &str) -> Option<ocean_usb::UsbModel> {
    match kind {
        "ocean.usb2000_usb" => Some(ocean_usb::usb2000()),
        "ocean.usb2000plus" => Some(ocean_usb::usb2000plus()),
        "ocean.flame_usb" => Some(ocean_usb::flame_s()),
        "ocean.usb4000" => Some(ocean_usb::usb4000()),
        "ocean.sts" => Some(ocean_usb::sts()),
        _ => None,
    }
}

/// The detector a spectrometer kind drives, with the binding's pixel count on serial kinds.
fn detector(kind: &str, settings: &Settings) -> Result<ocean::Detector, RegistryError> {
    if let Some(model) = usb_model(kind) {
        return Ok(model.detector);
    }
    let mut detector = if kind == "ocean.usb2000" {
        ocean::USB2000_RS232
    } else {
        ocean::FLAME_S_RS232
    };
    detector.pixels = ranged(kind, settings, "pixels", ocean::PIXELS)?;
    Ok(detector)
}

/// The kind called `name`.
pub fn kind(name: &str) -> Result<DriverKind, RegistryError> {
    kinds()
        .into_iter()
        .find(|k| k.name == name)
        .ok_or_else(|| RegistryError::UnknownKind(name.to_string()))
}

/// Checks `settings` against the kind and returns them with defaults filled in.
pub fn check_settings(kind_name: &str, settings: &Settings) -> Result<Settings, RegistryError> {
    let kind = kind(kind_name)?;
    let bad = |setting: &str, why: String| RegistryError::BadSetting {
        kind: kind_name.to_string(),
        setting: setting.to_string(),
        why,
    };
    for name in settings.keys() {
        if !kind.settings.iter().any(|s| s.name == name) {
            return Err(RegistryError::UnknownSetting {
                kind: kind_name.into(),
                setting: name.clone(),
            });
        }
    }
    let mut checked = Settings::new();
    for spec in &kind.settings {
        let value = match (settings.get(spec.name), &spec.default) {
            (Some(value), _) => value.clone(),
            (None, Some(default)) => default.clone(),
            (None, None) if spec.required => {
                return Err(RegistryError::MissingSetting {
                    kind: kind_name.into(),
                    setting: spec.name.into(),
                });
            }
            (None, None) => continue,
        };
        let ok = match (spec.ty, &value) {
            (SettingType::String | SettingType::Device, SettingValue::String(_)) => true,
            (SettingType::Integer, SettingValue::Integer(_)) => true,
            (
                SettingType::Length | SettingType::Volume | SettingType::Temperature,
                SettingValue::Number(x),
            ) => x.is_finite() && (*x > 0.0 || spec.ty == SettingType::Temperature && *x >= 0.0),
            (SettingType::NumberList, SettingValue::NumberList(xs)) => {
                xs.iter().all(|x| x.is_finite())
            }
            (SettingType::Names, SettingValue::Names(names)) => {
                names.keys().all(|n| !n.trim().is_empty())
            }
            _ => false,
        };
        if !ok {
            return Err(bad(
                spec.name,
                format!("expected a {:?}, got {value:?}", spec.ty),
            ));
        }
        checked.insert(spec.name.to_string(), value);
    }
    Ok(checked)
}

fn text<'a>(settings: &'a Settings, name: &str) -> Option<&'a str> {
    match settings.get(name) {
        Some(SettingValue::String(s)) => Some(s),
        _ => None,
    }
}

fn integer(settings: &Settings, name: &str) -> Option<i64> {
    match settings.get(name) {
        Some(SettingValue::Integer(i)) => Some(*i),
        _ => None,
    }
}

fn number(settings: &Settings, name: &str) -> Option<f64> {
    match settings.get(name) {
        Some(SettingValue::Number(x)) => Some(*x),
        _ => None,
    }
}

fn ranged<T: TryFrom<i64>>(
    kind: &str,
    settings: &Settings,
    name: &str,
    default: T,
) -> Result<T, RegistryError> {
    match integer(settings, name) {
        None => Ok(default),
        Some(i) => T::try_from(i).map_err(|_| RegistryError::BadSetting {
            kind: kind.into(),
            setting: name.into(),
            why: format!("{i} is out of range"),
        }),
    }
}

/// What the device bound as `kind` with `settings` can do.
pub fn capability(kind_name: &str, settings: &Settings) -> Result<Capability, RegistryError> {
    let settings = check_settings(kind_name, settings)?;
    let kind = kind(kind_name)?;
    let pump = |speed: LinearSpeed, format: Option<RateRange>| {
        let diameter = number(&settings, "syringe_diameter").unwrap_or(0.0);
        let range = syringe_rate_range(speed, diameter)
            .and_then(|r| match format {
                Some(f) => r.intersect(&f),
                None => Some(r),
            })
            .ok_or_else(|| RegistryError::BadSetting {
                kind: kind_name.into(),
                setting: "syringe_diameter".into(),
                why: "gives no achievable rate".into(),
            })?;
        Ok(Capability::Pump {
            rate: range,
            withdraw: true,
        })
    };
    match kind.name {
        // The 4-digit format spans 0.001 µL/h to 9999 mL/min.
        "new_era.ne1000" => pump(
            NE1000_SPEED,
            Some(RateRange {
                min: 1e-12 / 3600.0,
                max: 9999e-6 / 60.0,
            }),
        ),
        "harvard.pump11_elite" => pump(PUMP11_ELITE_SPEED, None),
        "harvard.phd_ultra" => pump(PHD_ULTRA_SPEED, None),
        // The driver's 3 decimals of µL/min.
        "chemyx.fusion" => pump(
            CHEMYX_FUSION_SPEED,
            Some(RateRange {
                min: 1e-12 / 60.0,
                max: f64::INFINITY,
            }),
        ),
        _ => match kind.device {
            DeviceKind::Heater => Ok(Capability::Heater {
                setpoint: match (
                    number(&settings, "setpoint_min"),
                    number(&settings, "setpoint_max"),
                ) {
                    (Some(min), Some(max)) if min <= max => Some(TemperatureRange { min, max }),
                    _ => None,
                },
            }),
            DeviceKind::Valve => Ok(Capability::Valve {
                positions: ranged(kind_name, &settings, "positions", 2u16)?,
            }),
            DeviceKind::Spectrometer => {
                let detector = detector(kind_name, &settings)?;
                Ok(Capability::Spectrometer {
                    integration_s: (
                        f64::from(*detector.integration_us.start()) / 1e6,
                        f64::from(*detector.integration_us.end()) / 1e6,
                    ),
                    max_averages: u32::from(*ocean::SCANS.end()),
                    pixels: detector.pixels,
                })
            }
            DeviceKind::Light => Ok(Capability::Light {
                switched: kind.name != "manual",
            }),
            DeviceKind::Pump => Err(RegistryError::UnknownKind(kind_name.into())),
        },
    }
}

/// A spectrometer binding's settings, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrometerBinding {
    /// The wavelength polynomial the binding gives (order 0 first), if any.
    pub wavelength: Option<Vec<f64>>,
    pub lamp: Option<Illumination>,
    /// `lamp "light"`: the lamp output is a light of the campaign, switched by the plan.
    pub lamp_is_a_light: bool,
    pub serial_number: Option<String>,
}

impl SpectrometerBinding {
    /// Reads the settings of a spectrometer kind (already checked by [`check_settings`]).
    pub fn from_settings(kind: &str, settings: &Settings) -> Result<Self, RegistryError> {
        let bad = |setting: &str, why: String| RegistryError::BadSetting {
            kind: kind.into(),
            setting: setting.into(),
            why,
        };
        let wavelength = match settings.get("wavelength_coefficients") {
            Some(SettingValue::NumberList(c)) if c.is_empty() || c.len() > 4 => {
                return Err(bad(
                    "wavelength_coefficients",
                    format!("needs 1 to 4 numbers, got {}", c.len()),
                ));
            }
            Some(SettingValue::NumberList(c)) => Some(c.clone()),
            _ => None,
        };
        let lamp_is_a_light = text(settings, "lamp") == Some("light");
        let lamp = match text(settings, "lamp") {
            Some("broadband") => Some(Illumination::Broadband),
            Some("excitation") => Some(Illumination::Excitation),
            Some("none" | "light") | None => None,
            Some(other) => {
                return Err(bad(
                    "lamp",
                    format!("`{other}` is not broadband, excitation, light or none"),
                ));
            }
        };
        Ok(Self {
            lamp_is_a_light,
            wavelength,
            lamp,
            serial_number: text(settings, "serial_number").map(str::to_string),
        })
    }
}

/// Where a [`Connector`] opens what a binding names: this machine's serial ports and USB bus
/// ([`SystemPorts`]), or emulators of the bound instruments (`crate::emulators::rig`), so a
/// dry run exercises every driver exactly as a real run does.
#[async_trait]
pub trait Ports: Send + std::fmt::Debug {
    /// Opens serial port `port` for the device bound as `device`.
    fn serial(
        &mut self,
        device: &str,
        port: &str,
        settings: &SerialSettings,
    ) -> Result<BoxedStream, DeviceErrorKind>;
    /// Opens the USB device `selector` picks, for the device bound as `device`.
    async fn usb(
        &mut self,
        device: &str,
        selector: &UsbSelector,
    ) -> Result<Box<dyn UsbBulk>, DeviceErrorKind>;
}

/// The machine's own serial ports (`tokio-serial`) and USB devices (`nusb`).
#[derive(Debug, Default)]
pub struct SystemPorts;

#[async_trait]
impl Ports for SystemPorts {
    fn serial(
        &mut self,
        _device: &str,
        port: &str,
        settings: &SerialSettings,
    ) -> Result<BoxedStream, DeviceErrorKind> {
        Ok(Box::new(open_serial(port, settings)?))
    }

    async fn usb(
        &mut self,
        _device: &str,
        selector: &UsbSelector,
    ) -> Result<Box<dyn UsbBulk>, DeviceErrorKind> {
        Ok(Box::new(crate::usb::open_usb(selector).await?))
    }
}

/// A port opened for a daisy chain, shared by the pumps bound to it.
#[derive(Debug)]
struct OpenPort {
    family: &'static str,
    baud: u32,
    link: Option<SharedLink<BoxedStream>>,
}

/// Opens bound devices on serial ports and USB devices, sharing daisy-chain lines.
#[derive(Debug)]
pub struct Connector {
    clock: Arc<dyn Clock>,
    opener: Box<dyn Ports>,
    ports: BTreeMap<String, OpenPort>,
    /// Lamp outputs of the spectrometers opened with `lamp "light"`, by spectrometer name,
    /// until the light bound to each is opened.
    lamp_outputs: LampOutputs,
}

/// Lights on spectrometers' lamp outputs, made when the spectrometer is opened and taken by
/// the light's binding (`ocean.lamp_output { spectrometer … }`).
#[derive(Default)]
pub struct LampOutputs(BTreeMap<String, crate::lights::LampOutputLight>);

impl std::fmt::Debug for LampOutputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl LampOutputs {
    pub fn insert(&mut self, spectrometer: &str, light: crate::lights::LampOutputLight) {
        self.0.insert(spectrometer.to_owned(), light);
    }

    /// Opens a light binding: `manual`, or the lamp output of a spectrometer opened before.
    pub fn light(
        &mut self,
        kind: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Light>, RegistryError> {
        let settings = check_settings(kind, settings)?;
        Connector::expect_device(kind, DeviceKind::Light)?;
        match kind {
            "manual" => Ok(Box::new(crate::lights::ManualLight::new(name))),
            "ocean.lamp_output" => {
                let spectrometer = text(&settings, "spectrometer").unwrap_or_default();
                let make = self
                    .0
                    .remove(spectrometer)
                    .ok_or_else(|| RegistryError::Connect {
                        device: name.into(),
                        kind: DeviceErrorKind::Refused(format!(
                            "`{spectrometer}` was not opened with its lamp output as a light \
                         (`lamp \"light\"`), or another light took it"
                        )),
                    })?;
                Ok(make(name))
            }
            other => Err(RegistryError::UnknownKind(other.into())),
        }
    }
}

impl Connector {
    /// Opens devices on this machine's ports.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_ports(clock, Box::new(SystemPorts))
    }

    /// Opens devices through `opener` (emulators, for a dry run).
    pub fn with_ports(clock: Arc<dyn Clock>, opener: Box<dyn Ports>) -> Self {
        Self {
            clock,
            opener,
            ports: BTreeMap::new(),
            lamp_outputs: LampOutputs::default(),
        }
    }

    /// The run's clock (for heartbeats and polling done on top of the devices).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn port_of(
        kind: &str,
        settings: &Settings,
    ) -> Result<(String, u32, Option<Duration>), RegistryError> {
        let port = text(settings, "port").unwrap_or_default().to_string();
        let baud = ranged(kind, settings, "baud", 9600u32)?;
        let timeout = integer(settings, "timeout_ms")
            .map(|ms| u64::try_from(ms).map(Duration::from_millis))
            .transpose()
            .map_err(|_| RegistryError::BadSetting {
                kind: kind.into(),
                setting: "timeout_ms".into(),
                why: "must not be negative".into(),
            })?;
        Ok((port, baud, timeout))
    }

    /// Opens (or reuses, for a daisy chain) the serial port of a binding.
    fn link(
        &mut self,
        device: &str,
        family: &'static str,
        shareable: bool,
        port: &str,
        serial: SerialSettings,
        timeout: Duration,
    ) -> Result<SharedLink<BoxedStream>, RegistryError> {
        if let Some(open) = self.ports.get(port) {
            let conflict = |why: String| RegistryError::PortConflict {
                port: port.into(),
                why,
            };
            if !shareable || open.family != family {
                return Err(conflict(format!(
                    "already used by a {} device",
                    open.family
                )));
            }
            if open.baud != serial.baud {
                return Err(conflict(format!(
                    "bound at {} and {} baud",
                    open.baud, serial.baud
                )));
            }
            if let Some(link) = &open.link {
                return Ok(Arc::clone(link));
            }
        }
        let stream =
            self.opener
                .serial(device, port, &serial)
                .map_err(|kind| RegistryError::Connect {
                    device: device.into(),
                    kind,
                })?;
        let link = share(Link::new(stream, timeout));
        self.ports.insert(
            port.into(),
            OpenPort {
                family,
                baud: serial.baud,
                link: shareable.then(|| Arc::clone(&link)),
            },
        );
        Ok(link)
    }

    /// Opens a port that only one device may use.
    fn exclusive(
        &mut self,
        device: &str,
        family: &'static str,
        port: &str,
        serial: SerialSettings,
    ) -> Result<BoxedStream, RegistryError> {
        if let Some(open) = self.ports.get(port) {
            return Err(RegistryError::PortConflict {
                port: port.into(),
                why: format!("already used by a {} device", open.family),
            });
        }
        let stream =
            self.opener
                .serial(device, port, &serial)
                .map_err(|kind| RegistryError::Connect {
                    device: device.into(),
                    kind,
                })?;
        self.ports.insert(
            port.into(),
            OpenPort {
                family,
                baud: serial.baud,
                link: None,
            },
        );
        Ok(stream)
    }

    fn expect_device(kind: &str, wanted: DeviceKind) -> Result<(), RegistryError> {
        let actual = self::kind(kind)?.device;
        if actual == wanted {
            Ok(())
        } else {
            Err(RegistryError::WrongDevice {
                kind: kind.into(),
                actual,
                wanted,
            })
        }
    }

    /// Opens the heater bound as `name`.
    pub async fn heater(
        &mut self,
        kind: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Heater>, RegistryError> {
        let settings = check_settings(kind, settings)?;
        Self::expect_device(kind, DeviceKind::Heater)?;
        let (port, baud, timeout) = Self::port_of(kind, &settings)?;
        match kind {
            "eurotherm.e3200" | "eurotherm.e2400" => {
                let stream =
                    self.exclusive(name, "eurotherm", &port, eurotherm::serial_settings(baud))?;
                let config = eurotherm::EurothermConfig {
                    slave: ranged(kind, &settings, "modbus_address", 1u8)?,
                    // The same tag means different things on the two series (instruments.md
                    // A4): the kind names the register map.
                    series: if kind == "eurotherm.e2400" {
                        eurotherm::EurothermSeries::E2400
                    } else {
                        eurotherm::EurothermSeries::E3200
                    },
                    decimals: match integer(&settings, "decimals") {
                        Some(_) => Some(ranged(kind, &settings, "decimals", 0u8)?),
                        None => None,
                    },
                    alarm_register: match integer(&settings, "alarm_register") {
                        Some(_) => Some(ranged(kind, &settings, "alarm_register", 0u16)?),
                        None => None,
                    },
                };
                let mut heater = eurotherm::EurothermHeater::new(
                    name,
                    stream,
                    config,
                    timeout.unwrap_or(eurotherm::DEFAULT_TIMEOUT),
                );
                // Reads the display unit, comms resolution and decimal places now: a
                // controller whose scale cannot be proven fails at connect, not at its first
                // setpoint.
                heater
                    .identify()
                    .await
                    .map_err(|e| RegistryError::Connect {
                        device: name.into(),
                        kind: e.kind,
                    })?;
                Ok(Box::new(heater))
            }
            "huber.pilot_one" => {
                let sensor = match text(&settings, "sensor") {
                    Some("process") => huber::HuberSensor::Process,
                    Some("internal") | None => huber::HuberSensor::Internal,
                    Some(other) => {
                        return Err(RegistryError::BadSetting {
                            kind: kind.into(),
                            setting: "sensor".into(),
                            why: format!("`{other}` is neither internal nor process"),
                        });
                    }
                };
                let stream = self.exclusive(name, "huber", &port, huber::serial_settings(baud))?;
                let link = Link::new(stream, timeout.unwrap_or(huber::DEFAULT_TIMEOUT));
                let mut heater = huber::HuberHeater::new(name, link, sensor);
                // Reads the unit's own setpoint limits now, which every setpoint is checked
                // against.
                heater
                    .identify()
                    .await
                    .map_err(|e| RegistryError::Connect {
                        device: name.into(),
                        kind: e.kind,
                    })?;
                Ok(Box::new(heater))
            }
            other => Err(RegistryError::UnknownKind(other.into())),
        }
    }

    /// Opens an Ocean spectrometer on `backend`; one whose lamp output is a light of the
    /// campaign (`lamp "light"`, filled in by the binding) is split into a spectrometer that
    /// switches nothing and that light, which [`Connector::light`] hands out.
    async fn open_ocean<B: ocean::OceanBackend + 'static>(
        &mut self,
        name: &str,
        backend: B,
        binding: SpectrometerBinding,
    ) -> Result<Box<dyn Spectrometer>, RegistryError> {
        let connect = |e: crate::DeviceError| RegistryError::Connect {
            device: name.into(),
            kind: e.kind,
        };
        if binding.lamp_is_a_light {
            let (spectrometer, light) =
                crate::lights::ocean_lamp_output(name, backend, binding.wavelength)
                    .await
                    .map_err(connect)?;
            self.lamp_outputs.insert(name, light);
            return Ok(spectrometer);
        }
        let spectrometer =
            ocean::OceanSpectrometer::open(name, backend, binding.wavelength, binding.lamp)
                .await
                .map_err(connect)?;
        Ok(Box::new(spectrometer))
    }

    /// Opens the spectrometer bound as `name`: a serial port, or a USB device by its ids and
    /// serial number.
    pub async fn spectrometer(
        &mut self,
        kind: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Spectrometer>, RegistryError> {
        let settings = check_settings(kind, settings)?;
        Self::expect_device(kind, DeviceKind::Spectrometer)?;
        let (port, baud, timeout) = Self::port_of(kind, &settings)?;
        let spectrometer = SpectrometerBinding::from_settings(kind, &settings)?;
        let connect = |e: crate::DeviceError| RegistryError::Connect {
            device: name.into(),
            kind: e.kind,
        };
        if let Some(model) = usb_model(kind) {
            let selector = model.selector(spectrometer.serial_number.clone());
            let usb =
                self.opener
                    .usb(name, &selector)
                    .await
                    .map_err(|kind| RegistryError::Connect {
                        device: name.into(),
                        kind,
                    })?;
            let backend = ocean_usb::UsbBackend::open(
                name,
                usb,
                model,
                timeout.unwrap_or(ocean_usb::DEFAULT_TIMEOUT),
            )
            .await
            .map_err(connect)?;
            return self.open_ocean(name, backend, spectrometer).await;
        }
        let detector = detector(kind, &settings)?;
        let stream = self.exclusive(name, "ocean", &port, ocean::serial_settings(baud))?;
        let backend = ocean::Rs232Backend::new(
            name,
            Link::new(stream, timeout.unwrap_or(ocean::DEFAULT_TIMEOUT)),
            detector,
        );
        self.open_ocean(name, backend, spectrometer).await
    }

    /// Opens and configures the valve bound as `name`: its mode and number of positions are
    /// checked against the binding before it is used (`ViciValve::configure`).
    pub async fn valve(
        &mut self,
        kind: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Valve>, RegistryError> {
        let settings = check_settings(kind, settings)?;
        Self::expect_device(kind, DeviceKind::Valve)?;
        let (port, baud, timeout) = Self::port_of(kind, &settings)?;
        let valve = match kind {
            "vici.multiposition" => vici::ValveType::Multiposition {
                positions: ranged(kind, &settings, "positions", 2u16)?,
            },
            "vici.two_position" => vici::ValveType::TwoPosition,
            other => return Err(RegistryError::UnknownKind(other.into())),
        };
        let id = match integer(&settings, "address") {
            Some(i) if (0..=9).contains(&i) => u8::try_from(i).ok(),
            Some(i) => {
                return Err(RegistryError::BadSetting {
                    kind: kind.into(),
                    setting: "address".into(),
                    why: format!("device ID {i} is not one of 0-9"),
                });
            }
            None => None,
        };
        let move_timeout = match integer(&settings, "move_timeout_ms") {
            Some(_) => Duration::from_millis(ranged(kind, &settings, "move_timeout_ms", 0u64)?),
            None => vici::DEFAULT_MOVE_TIMEOUT,
        };
        // Actuators with a device ID may share a line; one without answers every command.
        let link = self.link(
            name,
            "vici",
            id.is_some(),
            &port,
            vici::serial_settings(baud),
            timeout.unwrap_or(vici::DEFAULT_TIMEOUT),
        )?;
        let mut driver =
            vici::ViciValve::new(name, link, id, valve).with_move_timeout(move_timeout);
        driver
            .configure()
            .await
            .map_err(|e| RegistryError::Connect {
                device: name.into(),
                kind: e.kind,
            })?;
        Ok(Box::new(driver))
    }

    /// Opens the light bound as `name` (after the spectrometer whose lamp output it is).
    pub fn light(
        &mut self,
        kind: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Light>, RegistryError> {
        if kind == "thorlabs.sc10" {
            let settings = check_settings(kind, settings)?;
            let (port, baud, timeout) = Self::port_of(kind, &settings)?;
            let stream =
                self.exclusive(name, "thorlabs", &port, thorlabs::serial_settings(baud))?;
            let link = Link::new(stream, timeout.unwrap_or(thorlabs::DEFAULT_TIMEOUT));
            return Ok(Box::new(thorlabs::Sc10Shutter::new(name, link)));
        }
        self.lamp_outputs.light(kind, name, settings)
    }

    /// Opens and configures the pump bound as `name`.
    pub async fn pump(
        &mut self,
        kind: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Pump>, RegistryError> {
        let settings = check_settings(kind, settings)?;
        let driver = self::kind(kind)?;
        if driver.device != DeviceKind::Pump {
            return Err(RegistryError::WrongDevice {
                kind: kind.into(),
                actual: driver.device,
                wanted: DeviceKind::Pump,
            });
        }
        let (port, baud, timeout) = Self::port_of(kind, &settings)?;
        let diameter_mm = number(&settings, "syringe_diameter").unwrap_or(0.0) * 1e3;
        let connect = |kind: DeviceErrorKind| RegistryError::Connect {
            device: name.into(),
            kind,
        };
        let connect_err = |e: crate::DeviceError| connect(e.kind);
        match kind {
            "new_era.ne1000" => {
                let address = ranged(kind, &settings, "address", 0u8)?;
                let link = self.link(
                    name,
                    "new_era",
                    true,
                    &port,
                    new_era::serial_settings(baud),
                    timeout.unwrap_or(new_era::DEFAULT_TIMEOUT),
                )?;
                let mut pump = new_era::NewEraPump::new(
                    name,
                    link,
                    address,
                    crate::protocol::new_era::Mode::Basic,
                );
                if let Some(seconds) = integer(&settings, "safe_mode_timeout") {
                    let seconds = u8::try_from(seconds).map_err(|_| RegistryError::BadSetting {
                        kind: kind.into(),
                        setting: "safe_mode_timeout".into(),
                        why: "must be 0-255 s".into(),
                    })?;
                    pump.enter_safe_mode(seconds).await.map_err(connect_err)?;
                }
                pump.configure(diameter_mm).await.map_err(connect_err)?;
                Ok(Box::new(pump))
            }
            "harvard.pump11_elite" | "harvard.phd_ultra" => {
                let address = ranged(kind, &settings, "address", 0u8)?;
                let link = self.link(
                    name,
                    "harvard",
                    true,
                    &port,
                    harvard::serial_settings(baud),
                    timeout.unwrap_or(harvard::DEFAULT_TIMEOUT),
                )?;
                let model = if kind == "harvard.phd_ultra" {
                    harvard::HarvardModel::PhdUltra
                } else {
                    harvard::HarvardModel::Pump11Elite
                };
                let mut pump = harvard::HarvardPump::new(name, link, address, model);
                pump.configure(diameter_mm).await.map_err(connect_err)?;
                Ok(Box::new(pump))
            }
            "chemyx.fusion" => {
                let link = self.link(
                    name,
                    "chemyx",
                    false,
                    &port,
                    chemyx::serial_settings(baud),
                    timeout.unwrap_or(chemyx::DEFAULT_TIMEOUT),
                )?;
                let volume = number(&settings, "syringe_volume").unwrap_or(0.0);
                let mut pump = chemyx::ChemyxPump::new(name, link, volume);
                pump.configure(diameter_mm).await.map_err(connect_err)?;
                Ok(Box::new(pump))
            }
            other => Err(RegistryError::UnknownKind(other.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, SettingValue)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn a_14_57_mm_syringe_on_an_ne1000_cannot_reach_10_ml_per_min_but_an_elite_can() {
        let binding = settings(&[
            ("port", SettingValue::String("/dev/ttyUSB0".into())),
            ("syringe_diameter", SettingValue::Number(14.57e-3)),
        ]);
        let ten_ml_min = 10e-6 / 60.0;
        let Ok(Capability::Pump { rate, .. }) = capability("new_era.ne1000", &binding) else {
            panic!("pump capability");
        };
        // 0.85 mm/s over a 14.57 mm bore is about 8.5 mL/min.
        assert!(rate.max < ten_ml_min, "{}", rate.max * 60e6);
        assert!((rate.max * 60e6 - 8.5).abs() < 0.1, "{}", rate.max * 60e6);
        let Ok(Capability::Pump { rate, .. }) = capability("harvard.pump11_elite", &binding) else {
            panic!("pump capability");
        };
        assert!(rate.contains(ten_ml_min));
    }

    #[test]
    fn settings_are_checked_and_defaulted() {
        let port = ("port", SettingValue::String("/dev/ttyUSB1".into()));
        let checked = check_settings("eurotherm.e3200", &settings(std::slice::from_ref(&port)))
            .expect("valid");
        assert_eq!(
            checked.get("modbus_address"),
            Some(&SettingValue::Integer(1))
        );
        assert_eq!(checked.get("baud"), Some(&SettingValue::Integer(19_200)));
        assert!(matches!(
            check_settings("new_era.ne1000", &settings(std::slice::from_ref(&port))),
            Err(RegistryError::MissingSetting { .. })
        ));
        assert!(matches!(
            check_settings(
                "huber.pilot_one",
                &settings(&[port.clone(), ("colour", SettingValue::Integer(1))])
            ),
            Err(RegistryError::UnknownSetting { .. })
        ));
        assert!(matches!(
            check_settings(
                "huber.pilot_one",
                &settings(&[port.clone(), ("baud", SettingValue::String("fast".into()))])
            ),
            Err(RegistryError::BadSetting { .. })
        ));
        assert!(matches!(
            kind("acme.pump"),
            Err(RegistryError::UnknownKind(_))
        ));
        let range = capability(
            "huber.pilot_one",
            &settings(&[
                port,
                ("setpoint_min", SettingValue::Number(233.15)),
                ("setpoint_max", SettingValue::Number(473.15)),
            ]),
        );
        assert_eq!(
            range,
            Ok(Capability::Heater {
                setpoint: Some(TemperatureRange {
                    min: 233.15,
                    max: 473.15
                })
            })
        );
        let names: Vec<&str> = kinds().iter().map(|k| k.name).collect();
        assert_eq!(names.len(), 19);
        assert!(names.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn vici_valves_state_their_positions() {
        let port = ("port", SettingValue::String("/dev/ttyUSB3".into()));
        assert_eq!(
            capability(
                "vici.multiposition",
                &settings(&[port.clone(), ("positions", SettingValue::Integer(6))])
            ),
            Ok(Capability::Valve { positions: 6 })
        );
        assert_eq!(
            capability("vici.two_position", &settings(std::slice::from_ref(&port))),
            Ok(Capability::Valve { positions: 2 })
        );
        assert!(matches!(
            check_settings("vici.multiposition", &settings(std::slice::from_ref(&port))),
            Err(RegistryError::MissingSetting { .. })
        ));
        let names = SettingValue::Names(BTreeMap::from([("sample".to_owned(), 2)]));
        let checked = check_settings(
            "vici.two_position",
            &settings(&[port.clone(), ("names", names.clone())]),
        )
        .expect("names are a setting");
        assert_eq!(checked.get("names"), Some(&names));
        assert_eq!(checked.get("baud"), Some(&SettingValue::Integer(9600)));
        assert!(matches!(
            check_settings(
                "vici.two_position",
                &settings(&[port, ("names", SettingValue::Integer(2))])
            ),
            Err(RegistryError::BadSetting { .. })
        ));
    }

    #[tokio::test]
    async fn wrong_device_kinds_and_port_conflicts_are_errors() {
        let mut lab = Connector::new(Arc::new(crate::clock::VirtualClock::new()));
        let binding = settings(&[
            ("port", SettingValue::String("/dev/ttyUSB9".into())),
            ("syringe_diameter", SettingValue::Number(14.57e-3)),
        ]);
        assert!(matches!(
            lab.heater("new_era.ne1000", "p", &binding).await,
            Err(RegistryError::WrongDevice { .. })
        ));
        lab.ports.insert(
            "/dev/ttyUSB9".into(),
            OpenPort {
                family: "huber",
                baud: 9600,
                link: None,
            },
        );
        assert!(matches!(
            lab.pump("new_era.ne1000", "p", &binding).await,
            Err(RegistryError::PortConflict { .. })
        ));
    }
}
