//! Real hardware in the runtime: lab binding files checked against campaigns, fault injection
//! through the whole runtime on emulated instruments, and an end-to-end campaign over
//! pseudo-terminals through `qdx run --lab`; a campaign routed through a selection valve.

mod binding;
mod emulated;
mod faults;
mod lights;
pub(crate) mod pty;
mod rig;
mod usb;
mod valve;
