//! Thorlabs SC10: transcripts, the driver switching a shutter, faults.

mod common;

use common::exchange;
use qdx_lab::drivers::thorlabs::{DEFAULT_TIMEOUT, Sc10Shutter};
use qdx_lab::emulators::thorlabs::Sc10Emulator;
use qdx_lab::emulators::{Emulator, Protocol};
use qdx_lab::transport::Link;
use qdx_lab::{DeviceErrorKind, Light};

fn shutter(emulator: &Emulator<Sc10Emulator>) -> Sc10Shutter<tokio::io::DuplexStream> {
    Sc10Shutter::new("lamp1", Link::new(emulator.connect(), DEFAULT_TIMEOUT))
}

/// The reply forms of InstrumentKit's SC10 test transcripts: echo, CR, value, CR, `> `.
#[tokio::test(start_paused = true)]
async fn transcripts() {
    let emulator = Emulator::new(Sc10Emulator::default());
    let mut s = emulator.connect();
    assert_eq!(exchange(&mut s, b"ens?\r", 9).await, b"ens?\r0\r> ");
    assert_eq!(exchange(&mut s, b"ens\r", 6).await, b"ens\r> ");
    assert_eq!(exchange(&mut s, b"ens?\r", 9).await, b"ens?\r1\r> ");
    assert_eq!(exchange(&mut s, b"closed?\r", 12).await, b"closed?\r0\r> ");
    assert_eq!(exchange(&mut s, b"mode=2\r", 9).await, b"mode=2\r> ");
    assert_eq!(exchange(&mut s, b"closed?\r", 12).await, b"closed?\r1\r> ");
    assert_eq!(
        exchange(&mut s, b"mode=9\r", 26).await,
        b"mode=9\rCMD_NOT_DEFINED\r> "
    );
}

#[tokio::test(start_paused = true)]
async fn the_driver_opens_and_closes_the_shutter_and_reads_it_back() {
    let emulator = Emulator::new(Sc10Emulator {
        mode: 2,
        ..Sc10Emulator::default()
    });
    let mut light = shutter(&emulator);
    assert!(light.identify().await.unwrap().model.contains("SC10"));
    light.set(true).await.unwrap();
    assert!(emulator.with_device(|d| d.open()), "manual mode, enabled");
    assert_eq!(light.state().await.unwrap(), Some(true));
    // Switching to the state it is in sends no toggle.
    let before = emulator.received().len();
    light.set(true).await.unwrap();
    let sent: Vec<Vec<u8>> = emulator.received().split_off(before);
    assert!(!sent.iter().any(|r| r.as_slice() == b"ens"), "{sent:?}");
    light.set(false).await.unwrap();
    assert!(!emulator.with_device(|d| d.open()));
    assert_eq!(light.state().await.unwrap(), Some(false));
}

#[tokio::test(start_paused = true)]
async fn a_tripped_interlock_is_an_alarm_and_the_shutter_stays_shut() {
    let emulator = Emulator::new(Sc10Emulator {
        interlock_tripped: true,
        ..Sc10Emulator::default()
    });
    let mut light = shutter(&emulator);
    let e = light.set(true).await.unwrap_err();
    assert!(matches!(e.kind, DeviceErrorKind::Alarm(_)), "{e}");
    assert!(!emulator.with_device(|d| d.open()));
    // Closing needs no interlock check.
    light.set(false).await.unwrap();
}

/// An SC10 that echoes `ens` but does not toggle (a state this emulator does not model).
#[derive(Debug)]
struct Stuck(Sc10Emulator);

impl Protocol for Stuck {
    fn take_request(&mut self, input: &mut Vec<u8>) -> Option<Vec<u8>> {
        self.0.take_request(input)
    }
    fn respond(&mut self, request: &[u8]) -> Vec<u8> {
        if request == b"ens" {
            return b"ens\r> ".to_vec();
        }
        self.0.respond(request)
    }
    fn error_reply(&mut self, request: &[u8]) -> Vec<u8> {
        self.0.error_reply(request)
    }
}

#[tokio::test(start_paused = true)]
async fn a_toggle_that_does_not_take_is_refused() {
    let emulator = Emulator::new(Stuck(Sc10Emulator::default()));
    let mut light = Sc10Shutter::new("lamp1", Link::new(emulator.connect(), DEFAULT_TIMEOUT));
    let e = light.set(true).await.unwrap_err();
    assert!(matches!(e.kind, DeviceErrorKind::Refused(_)), "{e}");
    assert!(e.to_string().contains("stayed disabled"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn silence_garbage_and_error_strings_are_device_errors() {
    let emulator = Emulator::new(Sc10Emulator::default());
    let mut light = shutter(&emulator);
    emulator.set_faults(|f| f.silent = true);
    let e = light.state().await.unwrap_err();
    assert!(matches!(e.kind, DeviceErrorKind::Timeout(_)), "{e}");
    emulator.set_faults(|f| {
        f.silent = false;
        f.garbage_replies = 1;
    });
    let e = light.state().await.unwrap_err();
    assert!(
        matches!(
            e.kind,
            DeviceErrorKind::Garbage(_) | DeviceErrorKind::Timeout(_)
        ),
        "{e}"
    );
    emulator.set_faults(|f| f.error_replies = 1);
    let e = light.state().await.unwrap_err();
    assert!(matches!(e.kind, DeviceErrorKind::Refused(_)), "{e}");
    // And it works again afterwards.
    assert_eq!(light.state().await.unwrap(), Some(false));
}
