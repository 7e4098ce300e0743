//! An Ocean USB2000 / Flame-S on the legacy RS-232 command set, binary mode.
//!
//! Invariants: `I`, `A`, `J` answer ACK for values in range and NAK otherwise; `S` answers
//! after `scans × integration` (tokio time) with the spectrum frame, WORD pixels for one scan
//! and DWORD sums for more; counts are deterministic: a dark baseline plus, with the lamp
//! on, a smooth lamp profile growing with integration time on every pixel but the optically
//! masked ones, clipped at the detector's full scale per scan; `v` answers ACK and the
//! version as one decimal word, MSB first: 1000 means 1.00.0 (Flame-S manual p. 114, via
//! instruments.md A6), not a high byte and a low byte.
//!
//! The detector runs free: the first scan after a change of integration time or lamp was
//! integrating while the setting changed, and reads as if taken with the old setting
//! (`/work/shared/reference/instruments.md` A6).

use std::ops::Range;
use std::time::Duration;

use crate::drivers::ocean::{INTEGRATION_MS, SCANS};
use crate::emulators::{Protocol, Scene};
use crate::protocol::ocean::{ACK, NAK, RawSpectrum, encode_spectrum};

/// An emulated spectrometer.
#[derive(Debug, Clone)]
pub struct OceanEmulator {
    pub pixels: usize,
    pub integration_ms: u16,
    pub scans: u16,
    pub lamp_on: bool,
    pub binary: bool,
    /// The firmware version as the `v` word: 3010 is 3.01.0.
    pub version: u16,
    /// Counts per pixel with the lamp off.
    pub dark: u32,
    /// Peak lamp counts per millisecond of integration.
    pub lamp_counts_per_ms: f64,
    /// Simulate a device without memory for the spectrum (answers ETX).
    pub out_of_memory: bool,
    /// The ADC's highest count: 65535 (Flame-S), 4095 (the 12-bit USB2000).
    pub full_scale: u32,
    /// Pixels no light reaches (the Flame-S's 6..21).
    pub masked: Range<usize>,
    /// The settings `(integration ms, lamp)` of the scan in progress when one changed.
    pub stale: Option<(u16, bool)>,
    /// What the detector sees when the emulator is connected to a plant.
    pub scene: Option<Scene>,
}

impl OceanEmulator {
    pub fn new(pixels: usize) -> Self {
        Self {
            pixels,
            integration_ms: 100,
            scans: 1,
            lamp_on: false,
            binary: true,
            version: 3010,
            dark: 1000,
            lamp_counts_per_ms: 200.0,
            out_of_memory: false,
            full_scale: 65_535,
            masked: 6..21,
            stale: None,
            scene: None,
        }
    }

    /// Counts of one scan at pixel `i` with the current settings.
    pub fn scan_counts(&self, i: usize) -> u32 {
        self.counts_with(i, self.integration_ms, self.lamp_on)
    }

    fn counts_with(&self, i: usize, integration_ms: u16, lamp_on: bool) -> u32 {
        let mut counts = f64::from(self.dark);
        if lamp_on && self.pixels > 1 && !self.masked.contains(&i) {
            let x = i as f64 / (self.pixels - 1) as f64;
            let profile = (-((x - 0.5) / 0.2).powi(2)).exp();
            counts += self.lamp_counts_per_ms * f64::from(integration_ms) * profile;
        }
        counts.min(f64::from(self.full_scale)) as u32
    }

    /// One scan's counts on every pixel.
    fn scan(&self, integration_ms: u16, lamp_on: bool) -> Vec<u32> {
        match &self.scene {
            Some(scene) => scene.counts(
                lamp_on,
                f64::from(integration_ms) / 1000.0,
                self.pixels,
                self.dark,
                self.full_scale,
                &self.masked,
                // The RS-232 command set stores no nonlinearity polynomial: a linear detector.
                &[],
            ),
            None => (0..self.pixels)
                .map(|i| self.counts_with(i, integration_ms, lamp_on))
                .collect(),
        }
    }

    /// Remembers the settings of the scan in progress before one changes.
    fn changing(&mut self) {
        if self.stale.is_none() {
            self.stale = Some((self.integration_ms, self.lamp_on));
        }
    }

    /// How long the device takes to acquire before answering `S`.
    pub fn acquisition_time(&self) -> Duration {
        Duration::from_millis(u64::from(self.integration_ms) * u64::from(self.scans))
    }
}

fn word(request: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*request.get(1)?, *request.get(2)?]))
}

impl Protocol for OceanEmulator {
    fn take_request(&mut self, input: &mut Vec<u8>) -> Option<Vec<u8>> {
        let len = match input.first()? {
            b'I' | b'A' | b'J' | b'K' | b'T' | b'B' => 3,
            b'a' | b'b' => 2,
            _ => 1,
        };
        if input.len() < len {
            return None;
        }
        Some(input.drain(..len).collect())
    }

    fn respond(&mut self, request: &[u8]) -> Vec<u8> {
        let ack = |ok: bool| vec![if ok { ACK } else { NAK }];
        if !self.binary && request != b"bB" {
            return ack(false);
        }
        match (request.first(), word(request)) {
            (Some(b'I'), Some(ms)) => {
                let ok = INTEGRATION_MS.contains(&ms);
                if ok && ms != self.integration_ms {
                    self.changing();
                    self.integration_ms = ms;
                }
                ack(ok)
            }
            (Some(b'A'), Some(scans)) => {
                let ok = SCANS.contains(&scans);
                if ok {
                    self.scans = scans;
                }
                ack(ok)
            }
            (Some(b'J'), Some(on)) => {
                if (on != 0) != self.lamp_on {
                    self.changing();
                }
                self.lamp_on = on != 0;
                ack(on <= 1)
            }
            (Some(b'b'), _) if request == b"bB" => {
                self.binary = true;
                ack(true)
            }
            (Some(b'a'), _) if request == b"aA" => {
                self.binary = false;
                ack(true)
            }
            (Some(b'v'), _) => {
                let [hi, lo] = self.version.to_be_bytes();
                vec![ACK, hi, lo]
            }
            (Some(b'S'), _) if self.out_of_memory => vec![crate::protocol::ocean::ETX],
            (Some(b'S'), _) => {
                let scans = u32::from(self.scans.max(1));
                let now = self.scan(self.integration_ms, self.lamp_on);
                let first = match self.stale.take() {
                    Some((ms, lamp)) => self.scan(ms, lamp),
                    None => now.clone(),
                };
                let summed = first
                    .iter()
                    .zip(&now)
                    .map(|(first, now)| first + now * (scans - 1))
                    .collect();
                encode_spectrum(&RawSpectrum {
                    scans: self.scans,
                    integration_ms: self.integration_ms,
                    summed,
                })
            }
            _ => ack(false),
        }
    }

    fn error_reply(&mut self, _request: &[u8]) -> Vec<u8> {
        vec![NAK]
    }

    fn work_time(&self, request: &[u8]) -> Duration {
        if request == b"S" {
            self.acquisition_time()
        } else {
            Duration::ZERO
        }
    }
}
