//! Byte-level device emulators: the other end of a driver's stream, for tests and demos.
//!
//! Each emulator is a [`Protocol`] (a device's state machine: request bytes in, reply bytes out,
//! physical state advanced on the run's [`crate::Clock`]) served by one generic loop,
//! [`Emulator::serve`], over any [`ByteStream`]: a `tokio::io::duplex` half in unit tests, a
//! pseudo-terminal master in end-to-end tests.
//!
//! Invariants:
//! - The protocol state machine knows nothing of the transport; faults that concern the wire
//!   (delays, silence, garbage, error replies, split replies, disconnects) are applied by the
//!   serve loop from [`Faults`], so every emulator supports every wire fault the same way.
//! - Every request the emulator took off the wire is logged ([`Emulator::received`]), so a
//!   test can prove a command was never written.
//! - Reply delays use tokio's timer (the same timer as the drivers' deadlines); physical state
//!   uses the [`crate::Clock`] the protocol was built with.

pub mod chemyx;
pub mod eurotherm;
pub mod harvard;
pub mod huber;
pub mod new_era;
pub mod ocean;
pub mod ocean_usb;
pub mod rig;
pub mod thorlabs;
pub mod usb;
pub mod vici;

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::transport::ByteStream;

/// A device's protocol and state, independent of the transport.
pub trait Protocol: Send + 'static {
    /// Takes one complete request off the front of `input`, if there is one. Bytes that can
    /// never start a request are dropped here, as a device's receiver would.
    fn take_request(&mut self, input: &mut Vec<u8>) -> Option<Vec<u8>>;
    /// The reply to one request; empty when the device stays silent (e.g. another address).
    fn respond(&mut self, request: &[u8]) -> Vec<u8>;
    /// The device's error / NAK reply to `request`, used when [`Faults::error_replies`] is set.
    fn error_reply(&mut self, request: &[u8]) -> Vec<u8>;
    /// How long the device works before it answers `request` (an acquisition, ...).
    fn work_time(&self, _request: &[u8]) -> Duration {
        Duration::ZERO
    }
}

/// Wire faults to inject. Counters count down as they are used; flags stay until cleared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Wait this long (tokio time) before each reply.
    pub reply_delay: Duration,
    /// Never reply (requests are still taken and logged).
    pub silent: bool,
    /// Replace the next `n` replies with garbage bytes.
    pub garbage_replies: u32,
    /// Replace the next `n` replies with the protocol's error / NAK reply.
    pub error_replies: u32,
    /// Write every reply in single bytes with a short pause between them.
    pub split_replies: bool,
    /// Write the first `n` bytes of every reply, then pause this long before the rest (a
    /// device that echoes a command at once and answers it later).
    pub pause_within_replies: Option<(usize, Duration)>,
    /// Close the stream after taking this many requests in total (the last one unanswered).
    pub disconnect_after: Option<u64>,
}

/// Runs on a device's state before and after each request it answers, so an emulator and
/// what it is connected to (a plant: [`rig`]) stay in step: a pump's motor drives the plant's
/// flow, a heater reads the plant's temperature.
pub struct Hook<P>(pub Box<dyn FnMut(&mut P) + Send>);

impl<P> std::fmt::Debug for Hook<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

/// What an emulated spectrometer's detector sees when it is connected to a plant: counts per
/// second at each pixel, given whether the spectrometer's own lamp output is on. Without a
/// scene, the spectrometer emulators draw a smooth lamp profile.
#[derive(Clone)]
pub struct Scene(pub Arc<dyn Fn(bool) -> Vec<f64> + Send + Sync>);

impl std::fmt::Debug for Scene {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scene")
    }
}

impl Scene {
    /// One scan of `seconds`: the dark level plus the scene's rate times the time on every
    /// pixel light reaches (not the optically masked ones), through the detector's
    /// nonlinearity, clipped at the ADC's full scale.
    ///
    /// `nonlinearity` is the device's stored polynomial (order 0 first; empty for a linear
    /// detector). Ocean's coefficients are fitted to the normalised response, counts per second
    /// divided by its low-signal value, against the dark-subtracted counts read (Ocean Optics,
    /// "OOINLCorrect linearity coefficient procedure"): a detector with those coefficients
    /// reads `x` counts above dark where `x = true · P(x)`. The emulator solves that for `x`,
    /// so a driver that divides by `P(x)` gets the light back and one that does not is off by
    /// `P` (5 % at low signal with the default coefficients).
    #[allow(clippy::too_many_arguments)]
    pub fn counts(
        &self,
        lamp_on: bool,
        seconds: f64,
        pixels: usize,
        dark: u32,
        full_scale: u32,
        masked: &Range<usize>,
        nonlinearity: &[f64],
    ) -> Vec<u32> {
        let rates = (self.0)(lamp_on);
        (0..pixels)
            .map(|i| {
                let lit = if masked.contains(&i) {
                    0.0
                } else {
                    rates.get(i).copied().unwrap_or(0.0).max(0.0) * seconds
                };
                let read = nonlinear(lit, nonlinearity, f64::from(full_scale));
                (f64::from(dark) + read).round().min(f64::from(full_scale)) as u32
            })
            .collect()
    }
}

/// The counts `x` a detector whose normalised response is `P(x)` reads for `linear` counts of
/// light: `x = linear · P(x)`, by fixed-point iteration (P varies by well under 1 per count,
/// so it contracts); capped at `full_scale`.
fn nonlinear(linear: f64, p: &[f64], full_scale: f64) -> f64 {
    if p.is_empty() || linear <= 0.0 {
        return linear;
    }
    let response = |x: f64| p.iter().rev().fold(0.0, |acc, &k| acc * x + k);
    let mut x = linear;
    for _ in 0..50 {
        let next = (linear * response(x)).clamp(0.0, full_scale);
        if (next - x).abs() < 1e-9 * full_scale {
            return next;
        }
        x = next;
    }
    x
}

/// Bytes that no protocol here can take for a reply: no STX, ACK, NAK, `{`, LF or prompt.
pub const GARBAGE: &[u8] = b"\xfe\xfd#~\xa5\x7f";

/// An emulated device: its protocol state, fault knobs and request log, shared with the test.
#[derive(Debug)]
pub struct Emulator<P> {
    shared: Arc<Shared<P>>,
}

#[derive(Debug)]
struct Shared<P> {
    protocol: Mutex<P>,
    faults: Mutex<Faults>,
    received: Mutex<Vec<Vec<u8>>>,
    hook: Mutex<Option<Hook<P>>>,
}

impl<P> Clone for Emulator<P> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave this plain data half-written in a way that matters here.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<P: Protocol> Emulator<P> {
    pub fn new(protocol: P) -> Self {
        Self {
            shared: Arc::new(Shared {
                protocol: Mutex::new(protocol),
                faults: Mutex::new(Faults::default()),
                received: Mutex::new(Vec::new()),
                hook: Mutex::new(None),
            }),
        }
    }

    /// Runs `hook` on the device's state before and after each request it answers.
    pub fn set_hook(&self, hook: impl FnMut(&mut P) + Send + 'static) {
        *lock(&self.shared.hook) = Some(Hook(Box::new(hook)));
    }

    fn run_hook(&self) {
        if let Some(Hook(hook)) = lock(&self.shared.hook).as_mut() {
            hook(&mut lock(&self.shared.protocol));
        }
    }

    /// Runs `f` on the device's state (to inject a stall, read its volume, ...).
    pub fn with_device<R>(&self, f: impl FnOnce(&mut P) -> R) -> R {
        f(&mut lock(&self.shared.protocol))
    }

    /// Changes the fault knobs.
    pub fn set_faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut lock(&self.shared.faults));
    }

    /// Every request taken off the wire so far, in order.
    pub fn received(&self) -> Vec<Vec<u8>> {
        lock(&self.shared.received).clone()
    }

    /// Serves `stream` on a new task.
    pub fn spawn(&self, stream: impl ByteStream) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move { this.serve(stream).await })
    }

    /// Serves one end of a new in-memory pipe on a new task and returns the other end.
    pub fn connect(&self) -> tokio::io::DuplexStream {
        let (near, far) = tokio::io::duplex(64 * 1024);
        drop(self.spawn(far));
        near
    }

    /// Answers requests on `stream` until it closes or a disconnect fault fires.
    pub async fn serve(&self, mut stream: impl ByteStream) {
        let mut input = Vec::new();
        let mut taken: u64 = 0;
        let mut chunk = [0u8; 1024];
        loop {
            let n = match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            input.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
            loop {
                let Some(request) = lock(&self.shared.protocol).take_request(&mut input) else {
                    break;
                };
                taken += 1;
                lock(&self.shared.received).push(request.clone());
                let faults = lock(&self.shared.faults).clone();
                if faults.disconnect_after.is_some_and(|limit| taken >= limit) {
                    return;
                }
                self.run_hook();
                let work = lock(&self.shared.protocol).work_time(&request);
                let reply = self.reply_to(&request);
                self.run_hook();
                if faults.silent || reply.is_empty() {
                    continue;
                }
                let delay = faults.reply_delay + work;
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let written = match faults.pause_within_replies {
                    Some((at, pause)) if at < reply.len() => {
                        let (head, tail) = reply.split_at(at);
                        match write_whole(&mut stream, head).await {
                            Ok(()) => {
                                tokio::time::sleep(pause).await;
                                write_whole(&mut stream, tail).await
                            }
                            Err(error) => Err(error),
                        }
                    }
                    _ if faults.split_replies => write_split(&mut stream, &reply).await,
                    _ => write_whole(&mut stream, &reply).await,
                };
                if written.is_err() {
                    return;
                }
            }
        }
    }

    /// The reply after the counting faults had their say.
    fn reply_to(&self, request: &[u8]) -> Vec<u8> {
        let mut faults = lock(&self.shared.faults);
        if faults.garbage_replies > 0 {
            faults.garbage_replies -= 1;
            return GARBAGE.to_vec();
        }
        let error = faults.error_replies > 0;
        if error {
            faults.error_replies -= 1;
        }
        drop(faults);
        let mut protocol = lock(&self.shared.protocol);
        if error {
            protocol.error_reply(request)
        } else {
            protocol.respond(request)
        }
    }
}

async fn write_whole(stream: &mut impl ByteStream, reply: &[u8]) -> std::io::Result<()> {
    stream.write_all(reply).await?;
    stream.flush().await
}

async fn write_split(stream: &mut impl ByteStream, reply: &[u8]) -> std::io::Result<()> {
    for byte in reply {
        stream.write_all(std::slice::from_ref(byte)).await?;
        stream.flush().await?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Takes a `\r`-terminated line off `input` (without the terminator).
pub(crate) fn take_line(input: &mut Vec<u8>, terminator: u8) -> Option<Vec<u8>> {
    let end = input.iter().position(|&b| b == terminator)?;
    let mut line: Vec<u8> = input.drain(..=end).collect();
    line.pop();
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::nonlinear;

    #[test]
    fn the_detector_reads_what_the_published_correction_undoes() {
        let p = [0.95, 1.2e-6, -1.1e-11];
        let response = |x: f64| p[0] + p[1] * x + p[2] * x * x;
        for linear in [10.0, 350.0, 5_000.0, 40_000.0] {
            let x = nonlinear(linear, &p, 65_535.0);
            // Ocean's correction divides the counts read by the response there.
            assert!(
                (x / response(x) - linear).abs() < 1e-6 * linear,
                "{linear}: {x}"
            );
        }
        // Low signal reads 5 % low; a linear detector reads what it gets.
        assert!((nonlinear(100.0, &p, 65_535.0) / 100.0 - 0.95).abs() < 1e-3);
        assert_eq!(nonlinear(100.0, &[], 65_535.0), 100.0);
    }
}
