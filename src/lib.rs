//! qdx: an experiment language for self-driving quantum-dot flow labs.
