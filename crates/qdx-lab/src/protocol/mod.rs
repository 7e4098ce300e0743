//! Wire formats, one module per instrument family: pure functions from values to bytes and
//! back, shared by the drivers and the emulators so both sides agree byte for byte.

pub mod chemyx;
pub mod harvard;
pub mod huber;
pub mod modbus;
pub mod new_era;
pub mod obp;
pub mod ocean;
pub mod ooi;
pub mod vici;
