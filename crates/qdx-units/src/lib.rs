//! Physical dimensions, units and quantities for qdx (SI storage, chemists' units, interval arithmetic).
