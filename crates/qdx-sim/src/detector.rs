//! The spectrometer's detector: shot, dark and read noise, offset, 16-bit saturation,
//! averaging (physics.md B4).
//!
//! Per pixel and scan: `counts = clip(round(Poisson(S + D)/g + N(0, σ_r/g) + offset), 0, 65535)`
//! with `S` the signal and `D = d·t` the dark electrons, `g` electrons per count. The
//! spectrometer returns the mean of `averages` scans.
//!
//! Speed without changing the statistics: when a pixel cannot clip in any scan (its mean is
//! more than six deviations inside 0..65535), the sum over scans is drawn at once — a sum of
//! Poisson draws is Poisson, a sum of Gaussians is Gaussian — and rounded once. Shot noise is
//! exact Poisson below 1000 electrons and a Gaussian of the same mean and variance above (the
//! Poisson's skewness there is under 3 %). Pixels near full scale or zero are drawn scan by
//! scan so clipping, and the saturation flag, are exact.
//!
//! Invariant: output counts are finite and within 0..=65535; `saturated` is true exactly when a
//! scan of a pixel was clipped at 65535.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};

use crate::config::SpectrometerConfig;

/// Full scale of a 16-bit ADC.
pub const FULL_SCALE: f64 = 65_535.0;

/// Below this many electrons shot noise is drawn from the exact Poisson distribution.
const EXACT_POISSON_BELOW: f64 = 1_000.0;

/// A detector built from a spectrometer's configuration, with its fixed dark pattern.
#[derive(Debug, Clone)]
pub struct Detector {
    gain: f64,
    read_counts: f64,
    offset: f64,
    /// Dark electrons per second, per pixel (fixed pattern included).
    dark_e_per_s: Vec<f64>,
}

fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    if mean.is_nan() || mean <= 0.0 {
        return 0.0;
    }
    if mean < EXACT_POISSON_BELOW {
        Poisson::new(mean).map_or(mean, |p| p.sample(rng))
    } else {
        let z: f64 = StandardNormal.sample(rng);
        (mean + mean.sqrt() * z).max(0.0)
    }
}

impl Detector {
    /// `pattern_rng` draws the ±10 % per-pixel dark-current pattern, once.
    pub fn new(config: &SpectrometerConfig, pattern_rng: &mut ChaCha8Rng) -> Self {
        let dark_e_per_s = (0..config.pixels)
            .map(|_| config.dark_e_per_s * (1.0 + 0.1 * (2.0 * pattern_rng.random::<f64>() - 1.0)))
            .collect();
        Self {
            gain: config.gain_e_per_count,
            read_counts: config.read_noise_e / config.gain_e_per_count,
            offset: config.offset_counts,
            dark_e_per_s,
        }
    }

    /// Averaged counts for `signal_e_per_s` (one entry per pixel), and whether any scan
    /// saturated.
    pub fn acquire(
        &self,
        signal_e_per_s: &[f64],
        integration_s: f64,
        averages: u32,
        rng: &mut ChaCha8Rng,
    ) -> (Vec<f64>, bool) {
        let n = f64::from(averages.max(1));
        let t = integration_s.max(0.0);
        let mut saturated = false;
        let counts = signal_e_per_s
            .iter()
            .zip(&self.dark_e_per_s)
            .map(|(s, d)| {
                let electrons = ((s.max(0.0)) + d) * t;
                let electrons = if electrons.is_finite() {
                    electrons
                } else {
                    1e12
                };
                let mean = electrons / self.gain + self.offset;
                let sd = (electrons / (self.gain * self.gain)
                    + self.read_counts * self.read_counts)
                    .sqrt();
                if mean + 6.0 * sd < FULL_SCALE && mean - 6.0 * sd > 0.0 {
                    let shot = poisson(rng, n * electrons);
                    let z: f64 = StandardNormal.sample(rng);
                    let sum = shot / self.gain + self.read_counts * n.sqrt() * z + n * self.offset;
                    sum.round() / n
                } else {
                    let mut total = 0.0;
                    for _ in 0..averages.max(1) {
                        let z: f64 = StandardNormal.sample(rng);
                        let c = (poisson(rng, electrons) / self.gain
                            + self.read_counts * z
                            + self.offset)
                            .round()
                            .clamp(0.0, FULL_SCALE);
                        if c >= FULL_SCALE {
                            saturated = true;
                        }
                        total += c;
                    }
                    total / n
                }
            })
            .collect();
        (counts, saturated)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rng::stream;

    fn detector(read_noise_e: f64) -> Detector {
        let config = SpectrometerConfig {
            read_noise_e,
            dark_e_per_s: 0.0,
            ..SpectrometerConfig::named("d")
        };
        Detector::new(&config, &mut stream(1, "pattern"))
    }

    #[test]
    fn shot_limited_variance_equals_mean() {
        // No read noise and gain 1 electron per count would make variance = mean in counts;
        // with gain g, variance in counts = mean electrons / g².
        let d = detector(0.0);
        let mut rng = stream(3, "noise");
        let signal = vec![20_000.0; 4000]; // e/s, at 1 s: 20 000 e ≈ 8192 counts
        let (counts, saturated) = d.acquire(&signal, 1.0, 1, &mut rng);
        assert!(!saturated);
        let g = d.gain;
        let electrons: Vec<f64> = counts.iter().map(|c| (c - d.offset) * g).collect();
        let mean = electrons.iter().sum::<f64>() / electrons.len() as f64;
        let var = electrons.iter().map(|e| (e - mean).powi(2)).sum::<f64>()
            / (electrons.len() - 1) as f64;
        assert!((mean - 20_000.0).abs() < 20.0, "{mean}");
        // Variance of electrons ≈ mean (plus the rounding to counts: g²/12).
        let expected = 20_000.0 + g * g / 12.0;
        assert!((var / expected - 1.0).abs() < 0.08, "{var} vs {expected}");
    }

    #[test]
    fn small_signals_use_exact_poisson() {
        let d = detector(0.0);
        let mut rng = stream(4, "noise");
        let (counts, _) = d.acquire(&vec![50.0; 4000], 1.0, 1, &mut rng);
        let electrons: Vec<f64> = counts.iter().map(|c| (c - d.offset) * d.gain).collect();
        let mean = electrons.iter().sum::<f64>() / electrons.len() as f64;
        assert!((mean - 50.0).abs() < 2.0, "{mean}");
    }

    #[test]
    fn saturation_clips_at_full_scale() {
        let d = detector(422.0);
        let mut rng = stream(5, "noise");
        let (counts, saturated) = d.acquire(&[1e9, 1e3], 0.1, 5, &mut rng);
        assert!(saturated);
        assert_eq!(counts[0], FULL_SCALE);
        assert!(counts[1] < 2_000.0);
    }

    #[test]
    fn averaging_reduces_noise_by_root_n() {
        let d = detector(422.0);
        let sd = |n: u32| {
            let mut rng = stream(6, "noise");
            let (c, _) = d.acquire(&vec![0.0; 4000], 0.1, n, &mut rng);
            let m = c.iter().sum::<f64>() / c.len() as f64;
            (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / c.len() as f64).sqrt()
        };
        let ratio = sd(1) / sd(16);
        assert!((ratio - 4.0).abs() < 0.4, "{ratio}");
    }
}
