//! "Did you mean" suggestions by edit distance: the one rule for unit symbols, dimension names
//! and the names of a campaign (qdx's validator calls [`closest`] too).
//!
//! Invariant: a suggestion is always one of the candidates, is close enough to be a plausible
//! typo, and is unique: when two candidates tie, nothing is suggested rather than a guess.
//!
//! - Closeness is the Damerau-Levenshtein distance (strsim) between the lower-cased words: a
//!   change of letter case alone (`ul` → `uL`, `P_SEED` → `p_seed`) costs nothing.
//! - Close enough: at most a third of the longer word's length in edits, and at least one edit.
//!   A one-letter word is one edit from every other one-letter symbol: only a change of case
//!   (`l` → `L`) is a meaningful suggestion there.
//! - Among equally close candidates, the one with the smaller case-sensitive distance wins,
//!   because unit symbols are case-sensitive and case slips are the commonest typo: `mm` is one
//!   case slip from `mM` and one letter from `mL`, so `mM`.

/// The unique closest candidate within the typo threshold, if any. `word` itself is never
/// suggested.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let len = word.chars().count();
    // (distance ignoring case, case-sensitive distance) of the best candidate so far.
    let mut best: Option<((usize, usize), &'a str)> = None;
    let mut tied = false;
    for c in candidates {
        if c == word {
            continue;
        }
        let d = strsim::damerau_levenshtein(&lower, &c.to_lowercase());
        let limit = (len.max(c.chars().count()) / 3).max(1);
        if d > limit || (len <= 1 && d > 0) {
            continue;
        }
        let key = (d, strsim::damerau_levenshtein(word, c));
        match best {
            Some((bk, bc)) if key == bk => tied |= bc != c,
            Some((bk, _)) if key > bk => {}
            _ => {
                best = Some((key, c));
                tied = false;
            }
        }
    }
    if tied { None } else { best.map(|(_, c)| c) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_prefers_case_slips_and_refuses_ties() {
        let units = ["uL", "mL", "L", "s", "min", "h", "K", "M", "mM"];
        assert_eq!(closest("ul", units), Some("uL"));
        assert_eq!(closest("ML", units), Some("mL"));
        assert_eq!(closest("l", units), Some("L"));
        assert_eq!(closest("mni", units), Some("min"));
        assert_eq!(closest("MIN", units), Some("min"));
        assert_eq!(closest("x", units), None);
        assert_eq!(closest("furlong", units), None);
        // `mm` is one case slip from `mM` and one edit from `mL`: the case slip wins.
        assert_eq!(closest("mm", units), Some("mM"));
        // Equally close ignoring case: fewer case slips win (`mPa` one slip away, `MPa` two).
        assert_eq!(closest("mpa", ["MPa", "mPa"]), Some("mPa"));
        // `mLs` is one edit from `mL` and one from `ms`: a tie, so nothing.
        assert_eq!(closest("mLs", ["mL", "ms"]), None);
        assert_eq!(closest("mL", ["mL"]), None);
    }

    #[test]
    fn longer_words_allow_more_edits() {
        let kinds = ["temperature", "ratio", "flow_rate"];
        assert_eq!(closest("temprature", kinds), Some("temperature"));
        assert_eq!(closest("tmpratre", kinds), Some("temperature"));
        assert_eq!(closest("ration", kinds), Some("ratio"));
        assert_eq!(closest("rtn", kinds), None);
    }
}
