//! "Did you mean" suggestions by edit distance.
//!
//! Invariant: a suggestion is always one of the candidates, is close enough to be a plausible
//! typo (one edit for short words, two for longer ones; a change of letter case costs half an
//! edit), and is unique: when two candidates tie, nothing is suggested rather than a guess.

/// Cost of an edit in half-edits: a change of case only (`ul` → `uL`) is cheaper than a change of
/// letter, because unit symbols are case-sensitive and case slips are the commonest typo.
fn substitution_cost(a: char, b: char) -> usize {
    if a == b {
        0
    } else if a.to_lowercase().eq(b.to_lowercase()) {
        1
    } else {
        2
    }
}

/// Optimal-string-alignment distance (insert, delete, substitute, swap neighbours), in
/// half-edits.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    // Rows i-2, i-1 and i of the dynamic-programming table.
    let mut prev2 = vec![0_usize; width];
    let mut prev: Vec<usize> = (0..width).map(|j| 2 * j).collect();
    let mut cur = vec![0_usize; width];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = 2 * (i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let mut best = (prev[j] + substitution_cost(ca, cb))
                .min(prev[j + 1] + 2)
                .min(cur[j] + 2);
            if i > 0 && j > 0 && a.get(i - 1) == Some(&cb) && b.get(j - 1) == Some(&ca) {
                best = best.min(prev2[j - 1] + 2);
            }
            cur[j + 1] = best;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

/// The unique closest candidate within the typo threshold, if any.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = word.chars().count();
    // In half-edits: one edit for words up to four characters, two beyond.
    let threshold = if len <= 4 { 2 } else { 4 };
    let mut best: Option<(usize, &'a str)> = None;
    let mut tied = false;
    for c in candidates {
        if c == word {
            continue;
        }
        let d = distance(word, c);
        // A one-letter word is one edit from every other one-letter symbol: only a case slip
        // (`l` → `L`) is a meaningful suggestion there.
        if d > threshold || (len <= 1 && d > 1) {
            continue;
        }
        match best {
            Some((bd, bc)) if d == bd && bc != c => tied = true,
            Some((bd, _)) if d >= bd => {}
            _ => {
                best = Some((d, c));
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
    fn distances() {
        assert_eq!(distance("uL", "uL"), 0);
        assert_eq!(distance("ul", "uL"), 1);
        assert_eq!(distance("mn", "min"), 2);
        assert_eq!(distance("nim", "inm"), 2);
        assert_eq!(distance("", "abc"), 6);
        assert_eq!(distance("abc", ""), 6);
    }

    #[test]
    fn closest_prefers_case_slips_and_refuses_ties() {
        let units = ["uL", "mL", "L", "s", "min", "h", "K", "M", "mM"];
        assert_eq!(closest("ul", units), Some("uL"));
        assert_eq!(closest("ML", units), Some("mL"));
        assert_eq!(closest("l", units), Some("L"));
        assert_eq!(closest("mni", units), Some("min"));
        assert_eq!(closest("x", units), None);
        assert_eq!(closest("furlong", units), None);
        // `mm` is one case slip from `mM` and one edit from `mL`: the case slip wins.
        assert_eq!(closest("mm", units), Some("mM"));
    }
}
