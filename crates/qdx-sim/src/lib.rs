//! Simulated quantum-dot flow reactor for qdx: chemistry models, reactor dynamics, spectrometer noise.
