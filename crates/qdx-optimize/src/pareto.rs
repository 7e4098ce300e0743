//! Pareto dominance and hypervolume in utility space (every coordinate is maximised).
//!
//! Invariant: inputs may contain `None` (failed observations), which never dominate and are never
//! on the front; the hypervolume counts only points strictly better than the reference point in
//! every coordinate.

/// Whether `a` dominates `b` (≥ everywhere, > somewhere).
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| x >= y)
        && a.iter().zip(b).any(|(x, y)| x > y)
}

/// Indices (ascending) of the non-dominated vectors; duplicates of a front point all count.
pub fn front_indices(points: &[Option<Vec<f64>>]) -> Vec<usize> {
    (0..points.len())
        .filter(|&i| {
            let Some(p) = &points[i] else { return false };
            !points.iter().flatten().any(|q| dominates(q, p))
        })
        .collect()
}

/// Hypervolume dominated by `points` and bounded below by `reference` (maximisation), by
/// recursive slicing along the last coordinate: exact, `O(n^m)` for `m` objectives, fine for the
/// front sizes of a campaign.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let m = reference.len();
    let pts: Vec<&[f64]> = points
        .iter()
        .filter(|p| p.len() == m && p.iter().zip(reference).all(|(x, r)| x.is_finite() && x > r))
        .map(Vec::as_slice)
        .collect();
    hv_rec(&pts, reference)
}

fn hv_rec(points: &[&[f64]], reference: &[f64]) -> f64 {
    let m = reference.len();
    if points.is_empty() || m == 0 {
        return 0.0;
    }
    if m == 1 {
        let best = points
            .iter()
            .filter_map(|p| p.first())
            .fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        return (best - reference[0]).max(0.0);
    }
    let last = m - 1;
    let mut sorted: Vec<&[f64]> = points.to_vec();
    sorted.sort_by(|a, b| b[last].total_cmp(&a[last]));
    let mut total = 0.0;
    for k in 0..sorted.len() {
        let top = sorted[k][last];
        let bottom = sorted.get(k + 1).map_or(reference[last], |p| p[last]);
        let height = top - bottom;
        if height <= 0.0 {
            continue;
        }
        let slice: Vec<&[f64]> = sorted[..=k].iter().map(|p| &p[..last]).collect();
        total += height * hv_rec(&slice, &reference[..last]);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominance() {
        assert!(dominates(&[1.0, 2.0], &[1.0, 1.0]));
        assert!(!dominates(&[1.0, 1.0], &[1.0, 1.0]));
        assert!(!dominates(&[2.0, 0.0], &[1.0, 1.0]));
    }

    #[test]
    fn front_of_known_set() {
        let pts = vec![
            Some(vec![1.0, 3.0]),
            Some(vec![2.0, 2.0]),
            Some(vec![1.5, 1.5]),
            None,
            Some(vec![3.0, 1.0]),
        ];
        assert_eq!(front_indices(&pts), vec![0, 1, 4]);
    }

    #[test]
    fn hypervolume_2d_and_3d() {
        let pts = vec![vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]];
        // Staircase: 1×3 + 1×2 + 1×1 = 6.
        assert!((hypervolume(&pts, &[0.0, 0.0]) - 6.0).abs() < 1e-12);
        // A dominated point changes nothing; a point below the reference is ignored.
        let mut more = pts.clone();
        more.push(vec![1.0, 1.0]);
        more.push(vec![-1.0, 5.0]);
        assert!((hypervolume(&more, &[0.0, 0.0]) - 6.0).abs() < 1e-12);
        // Unit cube corners in 3-D: the union of three boxes of volume 1 sharing nothing but
        // faces: (1,1,0.5),(1,0.5,1),(0.5,1,1) → inclusion–exclusion = 3×0.5 − 3×0.25 + 0.125.
        let cube = vec![
            vec![1.0, 1.0, 0.5],
            vec![1.0, 0.5, 1.0],
            vec![0.5, 1.0, 1.0],
        ];
        let expect = 1.5 - 0.75 + 0.125;
        assert!((hypervolume(&cube, &[0.0, 0.0, 0.0]) - expect).abs() < 1e-12);
    }
}
