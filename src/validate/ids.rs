//! The indices a validated campaign resolves names to: each is a position in one of the
//! campaign's vectors (`Campaign::devices`, `variables`, `derived`, `proxies`, `stocks`).
//! Apart from the campaign so that typed expressions can name them without depending on it.

pub type DeviceId = usize;
pub type VarId = usize;
pub type DerivedId = usize;
pub type ProxyId = usize;
pub type StockId = usize;
