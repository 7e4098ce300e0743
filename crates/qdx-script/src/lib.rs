//! The sandboxed rhai engine for qdx user proxies and simulation scripts.
