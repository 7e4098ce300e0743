//! Serial drivers for real instruments, each generic over a [`crate::transport::ByteStream`]
//! and tested against its emulator in [`crate::emulators`].

pub mod chemyx;
pub mod eurotherm;
pub mod harvard;
pub mod huber;
pub mod new_era;
pub mod ocean;
pub mod ocean_usb;
pub mod thorlabs;
pub mod vici;
