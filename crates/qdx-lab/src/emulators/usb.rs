//! USB devices emulated at the transfer level, in memory.
//!
//! A [`UsbFunction`] is a device's side: it takes the OUT transfers the host writes and queues
//! IN packets (each at most its endpoint's packet size) with the delay after which the device
//! has them ready. [`UsbEmulator`] holds the function and its packet queues and hands out
//! [`EmulatedUsb`] host ends, which implement [`UsbBulk`] the way a USB stack does: a read
//! collects whole packets until a short one or until it has what it asked for (the rest of a
//! packet stays for the next read), and waits on tokio's timer until the deadline.
//!
//! Wire faults ([`UsbFaults`]) are applied here, so every emulated device supports them the
//! same way: silence, an unplugged device, a reply cut short (a short packet in the middle of
//! a multi-packet reply), the last packet of a reply lost (e.g. the OOI sync packet).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::DeviceErrorKind;
use crate::usb::UsbBulk;

/// One IN packet the device queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InPacket {
    pub endpoint: u8,
    pub data: Vec<u8>,
    /// How long after the OUT transfer the packet is ready (an acquisition, ...).
    pub delay: Duration,
}

/// Splits `bytes` into packets of at most `size` bytes for `endpoint`.
pub fn packets(endpoint: u8, bytes: &[u8], size: usize, delay: Duration) -> Vec<InPacket> {
    bytes
        .chunks(size.max(1))
        .map(|chunk| InPacket {
            endpoint,
            data: chunk.to_vec(),
            delay,
        })
        .collect()
}

/// A USB device's side of the bulk endpoints.
pub trait UsbFunction: Send + 'static {
    /// The packet size of IN endpoint `endpoint`; `None` when the device has no such endpoint.
    fn in_packet_size(&self, endpoint: u8) -> Option<usize>;
    /// Whether OUT endpoint `endpoint` exists.
    fn has_out(&self, endpoint: u8) -> bool;
    /// The host wrote one transfer; the packets the device queues in answer.
    fn bulk_out(&mut self, endpoint: u8, data: &[u8]) -> Vec<InPacket>;
}

/// Wire faults. Counters count down as they fire; flags stay until cleared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsbFaults {
    /// The device queues nothing (reads time out).
    pub silent: bool,
    /// The device is unplugged: every transfer fails.
    pub unplugged: bool,
    /// Unplug the device when the host writes its transfer number `n` (counting from 1;
    /// that transfer fails).
    pub unplug_at_write: Option<u64>,
    /// Cut the next reply of more than one packet to this many bytes.
    pub cut_next_reply: Option<usize>,
    /// Lose the last packet of the next reply of more than one packet.
    pub lose_last_packet: bool,
}

#[derive(Debug)]
struct Queued {
    ready: Instant,
    data: Vec<u8>,
}

#[derive(Debug)]
struct Shared<F> {
    function: Mutex<F>,
    queues: Mutex<BTreeMap<u8, VecDeque<Queued>>>,
    faults: Mutex<UsbFaults>,
    written: Mutex<Vec<(u8, Vec<u8>)>>,
    writes: Mutex<u64>,
    hook: Mutex<Option<super::Hook<F>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An emulated USB device; clones share it.
#[derive(Debug)]
pub struct UsbEmulator<F> {
    shared: Arc<Shared<F>>,
}

impl<F> Clone for UsbEmulator<F> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<F: UsbFunction> UsbEmulator<F> {
    pub fn new(function: F) -> Self {
        Self {
            shared: Arc::new(Shared {
                function: Mutex::new(function),
                queues: Mutex::new(BTreeMap::new()),
                faults: Mutex::new(UsbFaults::default()),
                written: Mutex::new(Vec::new()),
                writes: Mutex::new(0),
                hook: Mutex::new(None),
            }),
        }
    }

    /// Runs `hook` on the device's state before and after each OUT transfer it takes.
    pub fn set_hook(&self, hook: impl FnMut(&mut F) + Send + 'static) {
        *lock(&self.shared.hook) = Some(super::Hook(Box::new(hook)));
    }

    /// Runs `f` on the device's state.
    pub fn with_device<R>(&self, f: impl FnOnce(&mut F) -> R) -> R {
        f(&mut lock(&self.shared.function))
    }

    pub fn set_faults(&self, f: impl FnOnce(&mut UsbFaults)) {
        f(&mut lock(&self.shared.faults));
    }

    /// Every OUT transfer the host wrote, in order: `(endpoint, bytes)`.
    pub fn written(&self) -> Vec<(u8, Vec<u8>)> {
        lock(&self.shared.written).clone()
    }

    /// A host end: what a driver opens.
    pub fn host(&self) -> EmulatedUsb<F> {
        EmulatedUsb {
            emulator: self.clone(),
            leftover: BTreeMap::new(),
        }
    }
}

/// The host's end of an emulated device.
#[derive(Debug)]
pub struct EmulatedUsb<F> {
    emulator: UsbEmulator<F>,
    /// Bytes a read did not take, and whether their transfer ended with a short packet.
    leftover: BTreeMap<u8, (Vec<u8>, bool)>,
}

impl<F> EmulatedUsb<F> {
    fn unplugged(&self) -> bool {
        lock(&self.emulator.shared.faults).unplugged
    }
}

fn apply_faults(faults: &mut UsbFaults, mut reply: Vec<InPacket>) -> Vec<InPacket> {
    if faults.silent {
        return Vec::new();
    }
    if reply.len() > 1 {
        if let Some(keep) = faults.cut_next_reply.take() {
            // The packet the cut falls in becomes short (possibly empty: a zero-length packet)
            // and ends the reply.
            let mut left = keep;
            let mut end = reply.len();
            for (i, packet) in reply.iter_mut().enumerate() {
                if packet.data.len() >= left {
                    packet.data.truncate(left);
                    end = i + 1;
                    break;
                }
                left -= packet.data.len();
            }
            reply.truncate(end);
        } else if faults.lose_last_packet {
            faults.lose_last_packet = false;
            reply.pop();
        }
    }
    reply
}

#[async_trait]
impl<F: UsbFunction + std::fmt::Debug> UsbBulk for EmulatedUsb<F> {
    async fn write(
        &mut self,
        endpoint: u8,
        data: &[u8],
        _timeout: Duration,
    ) -> Result<(), DeviceErrorKind> {
        let shared = &self.emulator.shared;
        {
            let mut writes = lock(&shared.writes);
            *writes += 1;
            let mut faults = lock(&shared.faults);
            if faults.unplug_at_write == Some(*writes) {
                faults.unplugged = true;
            }
        }
        if self.unplugged() {
            return Err(DeviceErrorKind::Disconnected(
                "emulated device unplugged".into(),
            ));
        }
        let reply = {
            let mut function = lock(&shared.function);
            if !function.has_out(endpoint) {
                return Err(DeviceErrorKind::Io(format!(
                    "no OUT endpoint {endpoint:#04x}"
                )));
            }
            lock(&shared.written).push((endpoint, data.to_vec()));
            let mut hook = lock(&shared.hook);
            if let Some(super::Hook(hook)) = hook.as_mut() {
                hook(&mut function);
            }
            let reply = function.bulk_out(endpoint, data);
            if let Some(super::Hook(hook)) = hook.as_mut() {
                hook(&mut function);
            }
            reply
        };
        let reply = apply_faults(&mut lock(&shared.faults), reply);
        let now = Instant::now();
        let mut queues = lock(&shared.queues);
        for packet in reply {
            queues
                .entry(packet.endpoint)
                .or_default()
                .push_back(Queued {
                    ready: now + packet.delay,
                    data: packet.data,
                });
        }
        Ok(())
    }

    async fn read(
        &mut self,
        endpoint: u8,
        max_len: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, DeviceErrorKind> {
        let mut taken = Vec::new();
        if let Some((kept, ended_short)) = self.leftover.get_mut(&endpoint)
            && !kept.is_empty()
        {
            let n = kept.len().min(max_len);
            taken.extend(kept.drain(..n));
            if taken.len() == max_len || *ended_short {
                return Ok(taken);
            }
        }
        let max_len = max_len - taken.len();
        let Some(size) = lock(&self.emulator.shared.function).in_packet_size(endpoint) else {
            return Err(DeviceErrorKind::Io(format!(
                "no IN endpoint {endpoint:#04x}"
            )));
        };
        // The host asks for whole packets.
        let requested = max_len.max(1).div_ceil(size.max(1)) * size.max(1);
        let deadline = Instant::now() + timeout;
        let mut data: Vec<u8> = Vec::new();
        let mut ended_short = false;
        loop {
            if self.unplugged() {
                return Err(DeviceErrorKind::Disconnected(
                    "emulated device unplugged".into(),
                ));
            }
            let next_ready = {
                let mut queues = lock(&self.emulator.shared.queues);
                let queue = queues.entry(endpoint).or_default();
                let now = Instant::now();
                let mut ended = false;
                while let Some(front) = queue.front() {
                    if front.ready > now {
                        break;
                    }
                    let Some(packet) = queue.pop_front() else {
                        break;
                    };
                    let short = packet.data.len() < size;
                    data.extend_from_slice(&packet.data);
                    if short || data.len() >= requested {
                        ended = true;
                        ended_short = short;
                        break;
                    }
                }
                if ended {
                    None
                } else {
                    Some(queue.front().map(|q| q.ready))
                }
            };
            match next_ready {
                None => break,
                Some(Some(ready)) if ready <= deadline => tokio::time::sleep_until(ready).await,
                Some(_) => {
                    tokio::time::sleep_until(deadline).await;
                    return Err(DeviceErrorKind::Timeout(timeout));
                }
            }
        }
        if data.len() > max_len {
            let rest = data.split_off(max_len);
            self.leftover.insert(endpoint, (rest, ended_short));
        }
        taken.extend(data);
        Ok(taken)
    }
}
