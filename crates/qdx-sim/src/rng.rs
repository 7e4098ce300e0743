//! Named, seeded random streams.
//!
//! Invariant: the stream for `(seed, label)` depends on nothing else: not on how many other
//! streams exist, not on the order devices are used in, not on the Rust release (the label hash
//! is FNV-1a, written out here, rather than `DefaultHasher`, whose output may change). Streams
//! with different labels are independent ChaCha streams under the same key.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// FNV-1a, 64-bit: a stable hash of a label.
pub fn stable_hash(label: &str) -> u64 {
    stable_hash_bytes(label.as_bytes())
}

/// FNV-1a, 64-bit, of any bytes: the one stable hash of the workspace (the optimizer's seed is
/// derived with it too).
pub fn stable_hash_bytes(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The random stream named `label` under the campaign's `seed`.
pub fn stream(seed: u64, label: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stable_hash(label));
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_label_same_numbers_other_label_other_numbers() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = stream(7, "spectrometer/spec1");
                move |_| r.random()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = stream(7, "spectrometer/spec1");
                move |_| r.random()
            })
            .collect();
        let c: u64 = stream(7, "spectrometer/spec2").random();
        let d: u64 = stream(8, "spectrometer/spec1").random();
        assert_eq!(a, b);
        assert_ne!(a[0], c);
        assert_ne!(a[0], d);
    }

    #[test]
    fn hash_is_fnv1a() {
        // Published FNV-1a test vectors.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash_bytes(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
