//! Did-you-mean suggestions for names, units and keywords.

/// The known name closest to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    known
        .into_iter()
        .filter(|k| *k != name)
        .map(|k| {
            let d = strsim::damerau_levenshtein(&lower, &k.to_lowercase());
            (d, k)
        })
        .filter(|(d, k)| {
            let limit = (name.chars().count().max(k.chars().count()) / 3).max(1);
            *d <= limit
        })
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, k)| k)
}

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
