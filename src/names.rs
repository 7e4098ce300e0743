//! Did-you-mean suggestions for names, units and keywords.

/// The known name closest to `name`, if it is close enough to be a likely typo and no other
/// name is as close: the rule unit symbols use too (`qdx_units::suggest`).
pub use qdx_units::suggest::closest;

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_near_names_only() {
        let known = ["p_seed", "p_iodide", "p_ligand", "residence"];
        assert_eq!(closest("p_sed", known), Some("p_seed"));
        assert_eq!(closest("residense", known), Some("residence"));
        assert_eq!(closest("temperature", known), None);
        assert_eq!(closest("P_SEED", known), Some("p_seed"));
    }
}
