//! Scrambled Sobol sequences (32-bit, any dimension).
//!
//! Dimensions 2–21 use the Joe–Kuo direction numbers (primitive polynomial degree `s`, coefficient
//! bits `a`, initial odd `m_k < 2^k`); further dimensions use primitive polynomials found by search
//! with seeded odd initial numbers, which keeps the digital-net property (every dimension's first
//! `2^k` points fall one per dyadic interval) though with less tuned two-dimensional projections.
//! Scrambling is Matoušek's random linear scramble plus a random digital shift, both drawn from the
//! caller's seed, so the sequence is reproducible and keeps its stratification.
//!
//! Invariant: every coordinate returned lies in `[0, 1)`.

use rand::Rng;

/// Joe–Kuo `(s, a, m_1..m_s)` for dimensions 2..=21.
const JOE_KUO: &[(u32, u32, &[u32])] = &[
    (1, 0, &[1]),
    (2, 1, &[1, 3]),
    (3, 1, &[1, 3, 1]),
    (3, 2, &[1, 1, 1]),
    (4, 1, &[1, 1, 3, 3]),
    (4, 4, &[1, 3, 5, 13]),
    (5, 2, &[1, 1, 5, 5, 17]),
    (5, 4, &[1, 1, 5, 5, 5]),
    (5, 7, &[1, 1, 7, 11, 19]),
    (5, 11, &[1, 1, 5, 1, 1]),
    (5, 13, &[1, 1, 1, 3, 11]),
    (5, 14, &[1, 3, 5, 5, 31]),
    (6, 1, &[1, 3, 3, 9, 7, 49]),
    (6, 13, &[1, 1, 1, 15, 21, 21]),
    (6, 16, &[1, 3, 1, 13, 27, 49]),
    (6, 19, &[1, 1, 1, 15, 7, 5]),
    (6, 22, &[1, 3, 1, 15, 13, 25]),
    (6, 25, &[1, 1, 5, 5, 19, 61]),
    (7, 1, &[1, 3, 7, 11, 23, 15, 103]),
    (7, 4, &[1, 3, 7, 13, 13, 15, 69]),
];

const BITS: usize = 32;

/// A scrambled Sobol generator.
#[derive(Debug, Clone)]
pub struct Sobol {
    /// `directions[d][k]`: direction number `k` of dimension `d`, MSB = first binary digit.
    directions: Vec<[u32; BITS]>,
    state: Vec<u32>,
    index: u64,
}

/// Whether the degree-`s` polynomial with middle coefficients `a` is primitive over GF(2):
/// `x` must have multiplicative order exactly `2^s − 1` modulo it.
fn is_primitive(s: u32, a: u32) -> bool {
    // Polynomial bits: x^s + a_1 x^{s-1} + … + a_{s-1} x + 1.
    let poly: u64 = (1u64 << s) | (u64::from(a) << 1) | 1;
    let mulmod = |x: u64, y: u64| -> u64 {
        let mut r = 0u64;
        let mut x = x;
        let mut y = y;
        while y != 0 {
            if y & 1 == 1 {
                r ^= x;
            }
            y >>= 1;
            x <<= 1;
            if x & (1u64 << s) != 0 {
                x ^= poly;
            }
        }
        r
    };
    let powmod = |e: u64| -> u64 {
        let mut result = 1u64;
        let mut base = 2u64; // the polynomial x
        if s == 1 {
            base = 2 ^ poly; // x mod (x + 1) = 1
        }
        let mut e = e;
        while e > 0 {
            if e & 1 == 1 {
                result = mulmod(result, base);
            }
            base = mulmod(base, base);
            e >>= 1;
        }
        result
    };
    let order = (1u64 << s) - 1;
    if powmod(order) != 1 {
        return false;
    }
    let mut n = order;
    let mut p = 2u64;
    let mut factors = Vec::new();
    while p * p <= n {
        if n.is_multiple_of(p) {
            factors.push(p);
            while n.is_multiple_of(p) {
                n /= p;
            }
        }
        p += 1;
    }
    if n > 1 {
        factors.push(n);
    }
    factors.iter().all(|&q| powmod(order / q) != 1)
}

/// Primitive polynomials of degree ≥ 8 in search order (used beyond the Joe–Kuo table).
fn extra_polynomials(count: usize) -> Vec<(u32, u32)> {
    let mut out = Vec::with_capacity(count);
    let mut s = 8u32;
    while out.len() < count && s < 31 {
        for a in 0..(1u32 << (s - 1)) {
            if is_primitive(s, a) {
                out.push((s, a));
                if out.len() == count {
                    break;
                }
            }
        }
        s += 1;
    }
    out
}

fn directions_from(s: u32, a: u32, m: &[u32]) -> [u32; BITS] {
    let s = s as usize;
    let mut v = [0u32; BITS];
    for k in 0..BITS {
        if k < s {
            v[k] = m.get(k).copied().unwrap_or(1) << (BITS - 1 - k);
        } else {
            let mut x = v[k - s] ^ (v[k - s] >> s);
            for j in 1..s {
                if (a >> (s - 1 - j)) & 1 == 1 {
                    x ^= v[k - j];
                }
            }
            v[k] = x;
        }
    }
    v
}

impl Sobol {
    /// A Sobol sequence of `dim` dimensions, scrambled with randomness from `rng`.
    pub fn new<R: Rng>(dim: usize, rng: &mut R) -> Self {
        let mut directions: Vec<[u32; BITS]> = Vec::with_capacity(dim);
        for d in 0..dim {
            if d == 0 {
                let mut v = [0u32; BITS];
                for (k, vk) in v.iter_mut().enumerate() {
                    *vk = 1u32 << (BITS - 1 - k);
                }
                directions.push(v);
            } else if let Some(&(s, a, m)) = JOE_KUO.get(d - 1) {
                directions.push(directions_from(s, a, m));
            }
        }
        if dim > JOE_KUO.len() + 1 {
            for (s, a) in extra_polynomials(dim - JOE_KUO.len() - 1) {
                let m: Vec<u32> = (0..s)
                    .map(|k| (rng.random::<u32>() % (1u32 << k)) | 1)
                    .collect();
                directions.push(directions_from(s, a, &m));
            }
        }
        // Random linear scramble (lower-triangular in digit order, unit diagonal) + digital shift.
        let mut shift = Vec::with_capacity(dim);
        for v in &mut directions {
            let rows: Vec<u32> = (0..BITS)
                .map(|i| {
                    let bit = 1u32 << (BITS - 1 - i);
                    let above = if i == 0 {
                        0
                    } else {
                        !((bit << 1).wrapping_sub(1))
                    };
                    bit | (rng.random::<u32>() & above)
                })
                .collect();
            for vk in v.iter_mut() {
                let mut out = 0u32;
                for (i, row) in rows.iter().enumerate() {
                    if (row & *vk).count_ones() % 2 == 1 {
                        out |= 1u32 << (BITS - 1 - i);
                    }
                }
                *vk = out;
            }
            shift.push(rng.random::<u32>());
        }
        Sobol {
            directions,
            state: shift,
            index: 0,
        }
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.directions.len()
    }

    /// The next point (Gray-code order).
    pub fn next_point(&mut self) -> Vec<f64> {
        let out: Vec<f64> = self
            .state
            .iter()
            .map(|&x| f64::from(x) / 4_294_967_296.0)
            .collect();
        let c = (!self.index).trailing_zeros() as usize; // lowest zero bit of the index
        self.index = self.index.wrapping_add(1);
        if c < BITS {
            for (x, v) in self.state.iter_mut().zip(&self.directions) {
                *x ^= v[c];
            }
        }
        out
    }

    /// `n` consecutive points.
    pub fn take(&mut self, n: usize) -> Vec<Vec<f64>> {
        (0..n).map(|_| self.next_point()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn known_primitive_polynomials() {
        assert!(is_primitive(2, 1)); // x^2 + x + 1
        assert!(is_primitive(3, 1) && is_primitive(3, 2));
        assert!(!is_primitive(3, 0) && !is_primitive(3, 3));
        assert!(is_primitive(4, 1) && !is_primitive(4, 0));
    }

    #[test]
    fn every_dimension_is_stratified() {
        // The first 2^k points of a (scrambled) Sobol sequence put exactly one point in each
        // interval [j/2^k, (j+1)/2^k) in every dimension, also past the Joe–Kuo table.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let dim = 25;
        let mut s = Sobol::new(dim, &mut rng);
        let pts = s.take(64);
        for d in 0..dim {
            let mut seen = [false; 64];
            for p in &pts {
                assert!((0.0..1.0).contains(&p[d]));
                let cell = (p[d] * 64.0) as usize;
                assert!(!seen[cell], "dimension {d} has two points in cell {cell}");
                seen[cell] = true;
            }
        }
    }

    #[test]
    fn two_dimensional_projection_is_a_net() {
        // Dims 1-2 of Sobol form a (0,2)-net: 16 points, one per 4×4 cell.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut s = Sobol::new(2, &mut rng);
        let mut seen = [[false; 4]; 4];
        for p in s.take(16) {
            let (i, j) = ((p[0] * 4.0) as usize, (p[1] * 4.0) as usize);
            assert!(!seen[i][j]);
            seen[i][j] = true;
        }
    }

    #[test]
    fn same_seed_same_sequence() {
        let a = Sobol::new(5, &mut ChaCha8Rng::seed_from_u64(3)).take(10);
        let b = Sobol::new(5, &mut ChaCha8Rng::seed_from_u64(3)).take(10);
        let c = Sobol::new(5, &mut ChaCha8Rng::seed_from_u64(4)).take(10);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
