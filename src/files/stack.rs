//! `spectra/e0003-ramp-<channel>.npy`: the raw spectra of a transient experiment's ramp as one
//! (reading × pixel) array of detector counts, float64, in NumPy's `.npy` format
//! (`numpy.load`), with its axis beside it in `spectra/e0003-ramp-<channel>-<axis>.npy` (one
//! float64 per pixel): `wavelength_nm` for optical and CD spectra, `q_per_nm` for a SAXS
//! camera's frames (the channel's axis, [`ChannelKind::axis`]).
//!
//! Row `k` is reading `k` of the ramp (the `tick` of `spectra.csv`, `transient.csv` and the
//! journal); a reading that was never acquired (a skipped acquisition) is a row of NaN, so row
//! and reading always agree. The arrays are written with `ndarray-npy` (the npy format's
//! header, dtype and C order handled by a maintained crate rather than by hand), rewritten
//! whole after each reading, so a run cut short leaves every reading taken so far.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array1, Array2};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use qdx_spectra::{Spectrum, SpectrumQuantity};

use crate::validate::campaign::ChannelKind;

/// The bundle path of an experiment's ramp of one channel.
pub fn stack_file(experiment: u64, channel: ChannelKind) -> String {
    format!("spectra/e{experiment:04}-ramp-{}.npy", channel.name())
}

/// The bundle path of the axis of [`stack_file`] for a channel of that axis
/// (`…-wavelength_nm.npy`, `…-q_per_nm.npy`).
pub fn axis_file(stack: &str, channel: ChannelKind) -> String {
    format!(
        "{}-{}.npy",
        stack.strip_suffix(".npy").unwrap_or(stack),
        channel.axis().column()
    )
}

/// The `.npy` bytes of the stack and of its wavelength axis, from the readings taken so far
/// (by reading, from 0). The axis is the first reading's; a reading on another grid is refused.
pub fn encode(readings: &BTreeMap<u32, Spectrum>) -> Result<(Vec<u8>, Vec<u8>), String> {
    let Some(first) = readings.values().next() else {
        return Err("no reading to store".into());
    };
    let axis = first.wavelength_nm();
    let rows = readings.keys().next_back().map_or(0, |k| *k as usize + 1);
    let mut stack = Array2::<f64>::from_elem((rows, axis.len()), f64::NAN);
    for (k, s) in readings {
        if s.wavelength_nm() != axis {
            return Err(format!(
                "reading {k} is on another wavelength grid than reading 0"
            ));
        }
        stack
            .row_mut(*k as usize)
            .iter_mut()
            .zip(s.values())
            .for_each(|(cell, v)| *cell = *v);
    }
    let mut stack_bytes = Vec::new();
    stack
        .write_npy(&mut stack_bytes)
        .map_err(|e| e.to_string())?;
    let mut axis_bytes = Vec::new();
    Array1::from_vec(axis.to_vec())
        .write_npy(&mut axis_bytes)
        .map_err(|e| e.to_string())?;
    Ok((stack_bytes, axis_bytes))
}

/// Reading `tick` of a stored stack of `channel`, as acquired (`None` when the files are
/// missing or unreadable, or the row was never acquired).
pub fn read_row(dir: &Path, stack: &str, tick: u32, channel: ChannelKind) -> Option<Spectrum> {
    let open = |name: &str| std::fs::File::open(dir.join(name)).ok();
    let values = Array2::<f64>::read_npy(open(stack)?).ok()?;
    let axis = Array1::<f64>::read_npy(open(&axis_file(stack, channel))?).ok()?;
    let row: Vec<f64> = values.outer_iter().nth(tick as usize)?.to_vec();
    if row.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let quantity = match channel {
        ChannelKind::Absorbance | ChannelKind::Photoluminescence => SpectrumQuantity::Counts,
        ChannelKind::Saxs => SpectrumQuantity::Scattering,
        ChannelKind::CircularDichroism => SpectrumQuantity::Ellipticity,
    };
    Spectrum::new(axis.to_vec(), row, quantity).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spectrum(offset: f64) -> Spectrum {
        Spectrum::new(
            vec![400.0, 500.0, 600.0],
            vec![offset, offset + 1.0, offset + 2.0],
            SpectrumQuantity::Counts,
        )
        .expect("a spectrum")
    }

    #[test]
    fn a_stack_reads_back_row_by_reading_with_a_gap_left_empty() {
        let dir = tempfile::tempdir().expect("temp");
        let readings = BTreeMap::from([(0, spectrum(10.0)), (2, spectrum(30.0))]);
        let (stack, axis) = encode(&readings).expect("encoded");
        let file = stack_file(7, ChannelKind::Photoluminescence);
        assert_eq!(file, "spectra/e0007-ramp-photoluminescence.npy");
        std::fs::create_dir_all(dir.path().join("spectra")).expect("folder");
        std::fs::write(dir.path().join(&file), stack).expect("stack");
        let pl = ChannelKind::Photoluminescence;
        assert_eq!(
            axis_file(&file, pl),
            "spectra/e0007-ramp-photoluminescence-wavelength_nm.npy"
        );
        assert_eq!(
            axis_file(&stack_file(7, ChannelKind::Saxs), ChannelKind::Saxs),
            "spectra/e0007-ramp-saxs-q_per_nm.npy"
        );
        std::fs::write(dir.path().join(axis_file(&file, pl)), axis).expect("axis");
        let row = read_row(dir.path(), &file, 2, pl).expect("reading 2");
        assert_eq!(row.values(), &[30.0, 31.0, 32.0]);
        assert_eq!(row.wavelength_nm(), &[400.0, 500.0, 600.0]);
        assert!(
            read_row(dir.path(), &file, 1, pl).is_none(),
            "never acquired"
        );
        assert!(
            read_row(dir.path(), &file, 3, pl).is_none(),
            "past the ramp"
        );
        let other = Spectrum::new(
            vec![400.0, 500.0, 601.0],
            vec![1.0, 2.0, 3.0],
            SpectrumQuantity::Counts,
        )
        .expect("a spectrum");
        assert!(encode(&BTreeMap::from([(0, spectrum(1.0)), (1, other)])).is_err());
    }
}
