//! USB bulk transfers: the seam between the Ocean USB drivers and a USB stack.
//!
//! [`UsbBulk`] is all a driver sees: write one transfer to an OUT endpoint, read from an IN
//! endpoint with a deadline. [`NusbBulk`] is the real implementation on `nusb` (pure Rust: it
//! talks to usbfs on Linux, no libusb); the emulators in `crate::emulators::usb` play the
//! other end in memory.
//!
//! Invariants (both implementations):
//! - [`UsbBulk::read`] returns at most `max_len` bytes, fewer only when a transfer ended with
//!   a short packet (the device's message is over). The host asks for whole packets: a
//!   transfer that brought more than was asked keeps the rest for the next read of that
//!   endpoint, with whether its transfer ended short.
//! - Silence until the deadline is `Timeout`; an unplugged device is `Disconnected`; a stalled
//!   endpoint is `Refused`; anything else the stack reports is `Io`.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use nusb::transfer::{Buffer, Bulk, In, Out, TransferError};
use nusb::{Endpoint, Interface};

use crate::error::DeviceErrorKind;

/// Ocean Optics' USB vendor id (source: `ap--/python-seabreeze:src/seabreeze/pyseabreeze/devices.py`).
pub const OCEAN_VENDOR_ID: u16 = 0x2457;

/// Bulk transfers on one claimed USB interface.
#[async_trait]
pub trait UsbBulk: Send + std::fmt::Debug {
    /// Writes `data` to OUT endpoint `endpoint` as one transfer.
    async fn write(
        &mut self,
        endpoint: u8,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), DeviceErrorKind>;
    /// Reads at most `max_len` bytes from IN endpoint `endpoint` (see the module invariants).
    async fn read(
        &mut self,
        endpoint: u8,
        max_len: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, DeviceErrorKind>;
}

#[async_trait]
impl UsbBulk for Box<dyn UsbBulk> {
    async fn write(
        &mut self,
        endpoint: u8,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), DeviceErrorKind> {
        (**self).write(endpoint, data, timeout).await
    }

    async fn read(
        &mut self,
        endpoint: u8,
        max_len: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, DeviceErrorKind> {
        (**self).read(endpoint, max_len, timeout).await
    }
}

/// Which USB device to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbSelector {
    pub vendor_id: u16,
    pub product_id: u16,
    /// The USB serial-number string; `None`: the only device with these ids.
    pub serial_number: Option<String>,
}

impl std::fmt::Display for UsbSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "USB {:04x}:{:04x}", self.vendor_id, self.product_id)?;
        if let Some(serial) = &self.serial_number {
            write!(f, " serial {serial}")?;
        }
        Ok(())
    }
}

/// A claimed interface of a real USB device.
pub struct NusbBulk {
    what: String,
    interface: Interface,
    ins: BTreeMap<u8, Endpoint<Bulk, In>>,
    outs: BTreeMap<u8, Endpoint<Bulk, Out>>,
    /// Bytes a transfer brought beyond what its read asked for, per IN endpoint, and whether
    /// that transfer ended with a short packet.
    leftover: BTreeMap<u8, (Vec<u8>, bool)>,
}

impl std::fmt::Debug for NusbBulk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NusbBulk")
            .field("device", &self.what)
            .finish_non_exhaustive()
    }
}

fn io(what: &str, e: impl std::fmt::Display) -> DeviceErrorKind {
    DeviceErrorKind::Io(format!("{what}: {e}"))
}

fn transfer_error(what: &str, endpoint: u8, e: TransferError) -> DeviceErrorKind {
    match e {
        TransferError::Disconnected => DeviceErrorKind::Disconnected(format!("{what} unplugged")),
        TransferError::Stall => {
            DeviceErrorKind::Refused(format!("{what}: endpoint {endpoint:#04x} stalled"))
        }
        other => io(&format!("{what} endpoint {endpoint:#04x}"), other),
    }
}

/// Opens the device `selector` names and claims its interface 0.
pub async fn open_usb(selector: &UsbSelector) -> Result<NusbBulk, DeviceErrorKind> {
    let what = selector.to_string();
    let devices = nusb::list_devices()
        .await
        .map_err(|e| io("listing USB devices", e))?;
    let mut matching = devices.filter(|d| {
        d.vendor_id() == selector.vendor_id
            && d.product_id() == selector.product_id
            && selector
                .serial_number
                .as_deref()
                .is_none_or(|s| d.serial_number() == Some(s))
    });
    let Some(info) = matching.next() else {
        return Err(DeviceErrorKind::Disconnected(format!(
            "no {what} is connected"
        )));
    };
    if selector.serial_number.is_none() && matching.next().is_some() {
        return Err(DeviceErrorKind::Refused(format!(
            "more than one {what} is connected: bind it by `serial_number`"
        )));
    }
    let device = info.open().await.map_err(|e| io(&what, e))?;
    let interface = device
        .detach_and_claim_interface(0)
        .await
        .map_err(|e| io(&what, e))?;
    Ok(NusbBulk {
        what,
        interface,
        ins: BTreeMap::new(),
        outs: BTreeMap::new(),
        leftover: BTreeMap::new(),
    })
}

/// Drops completions of transfers a timeout abandoned, so the next read starts clean.
async fn drain<Dir: nusb::transfer::EndpointDirection>(ep: &mut Endpoint<Bulk, Dir>) {
    while ep.pending() > 0 {
        if tokio::time::timeout(Duration::from_millis(200), ep.next_complete())
            .await
            .is_err()
        {
            return;
        }
    }
}

#[async_trait]
impl UsbBulk for NusbBulk {
    async fn write(
        &mut self,
        endpoint: u8,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), DeviceErrorKind> {
        if !self.outs.contains_key(&endpoint) {
            let ep = self
                .interface
                .endpoint::<Bulk, Out>(endpoint)
                .map_err(|e| io(&self.what, e))?;
            self.outs.insert(endpoint, ep);
        }
        let what = self.what.clone();
        let Some(ep) = self.outs.get_mut(&endpoint) else {
            return Err(io(&what, "OUT endpoint not open"));
        };
        drain(ep).await;
        let mut buffer = Buffer::new(data.len());
        buffer.extend_from_slice(data);
        ep.submit(buffer);
        match tokio::time::timeout(timeout, ep.next_complete()).await {
            Ok(done) => done.status.map_err(|e| transfer_error(&what, endpoint, e)),
            Err(_) => {
                ep.cancel_all();
                drain(ep).await;
                Err(DeviceErrorKind::Timeout(timeout))
            }
        }
    }

    async fn read(
        &mut self,
        endpoint: u8,
        max_len: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, DeviceErrorKind> {
        let mut data = Vec::new();
        if let Some((kept, ended_short)) = self.leftover.get_mut(&endpoint)
            && !kept.is_empty()
        {
            let n = kept.len().min(max_len);
            data.extend(kept.drain(..n));
            if data.len() == max_len || *ended_short {
                return Ok(data);
            }
        }
        let max_len = max_len - data.len();
        if !self.ins.contains_key(&endpoint) {
            let ep = self
                .interface
                .endpoint::<Bulk, In>(endpoint)
                .map_err(|e| io(&self.what, e))?;
            self.ins.insert(endpoint, ep);
        }
        let what = self.what.clone();
        let Some(ep) = self.ins.get_mut(&endpoint) else {
            return Err(io(&what, "IN endpoint not open"));
        };
        drain(ep).await;
        let packet = ep.max_packet_size().max(1);
        let requested = max_len.max(1).div_ceil(packet) * packet;
        ep.submit(Buffer::new(requested));
        let done = match tokio::time::timeout(timeout, ep.next_complete()).await {
            Ok(done) => done,
            Err(_) => {
                ep.cancel_all();
                drain(ep).await;
                return Err(DeviceErrorKind::Timeout(timeout));
            }
        };
        let actual = done.actual_len;
        done.status
            .map_err(|e| transfer_error(&what, endpoint, e))?;
        let mut got = done.buffer.into_vec();
        got.truncate(actual);
        let ended_short = actual < requested;
        if got.len() > max_len {
            let rest = got.split_off(max_len);
            self.leftover.insert(endpoint, (rest, ended_short));
        }
        data.extend(got);
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real stack answers a device that is not there with an error, never a panic: no
    /// device (`Disconnected`), or no USB bus to list at all (`Io`, in a container).
    #[tokio::test]
    async fn an_absent_device_is_an_error() {
        let selector = UsbSelector {
            vendor_id: OCEAN_VENDOR_ID,
            product_id: 0xFFFE,
            serial_number: Some("no such serial".into()),
        };
        let error = open_usb(&selector).await.expect_err("nothing has this id");
        match error {
            DeviceErrorKind::Disconnected(m) => {
                assert_eq!(m, "no USB 2457:fffe serial no such serial is connected");
            }
            DeviceErrorKind::Io(m) => assert!(m.starts_with("listing USB devices"), "{m}"),
            other => panic!("{other}"),
        }
    }
}
