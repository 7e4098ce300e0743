//! `spectra/*.csv`: one spectrum per file.
//!
//! ```text
//! wavelength_nm,counts          (or absorbance, or intensity)
//! 350,1021.5
//! 350.44,1019.25
//! …
//! ```
//!
//! Two columns: the axis, and the value in the quantity the header names. The axis is the
//! wavelength in nm (`wavelength_nm`) for optical and CD spectra, the scattering vector q in
//! 1/nm (`q_per_nm`) for a SAXS pattern. The values: `counts` (raw detector counts, as
//! acquired: experiments' spectra and the dark and reference spectra), `absorbance`
//! (decadic, unitless), `intensity` (arbitrary units), `mdeg` (CD ellipticity),
//! `counts_per_s` (SAXS intensity per q bin: `q_per_nm,counts_per_s`). Numbers are printed
//! in full (shortest text that reads back to the same double).

use qdx_spectra::{Spectrum, SpectrumQuantity};

use crate::validate::campaign::ChannelKind;

/// The bundle path of an experiment's spectrum: `spectra/e0003-absorbance-r0.csv`. Experiments
/// and replicates are numbered from 0 everywhere (file names, journal, `spectra.csv`).
pub fn experiment_file(experiment: u64, channel: ChannelKind, replicate: u32) -> String {
    format!(
        "spectra/e{experiment:04}-{}-r{replicate}.csv",
        channel.name()
    )
}

/// The bundle path of a calibration spectrum: `spectra/calibration-absorbance-dark.csv` for
/// the run's first calibration, `spectra/calibration-absorbance-dark-2.csv` for its third
/// (`blank { every … }`). `what` is `dark`, `reference` or `dye`.
pub fn calibration_file(round: u64, channel: ChannelKind, what: &str) -> String {
    if round == 0 {
        format!("spectra/calibration-{}-{what}.csv", channel.name())
    } else {
        format!("spectra/calibration-{}-{what}-{round}.csv", channel.name())
    }
}

/// What [`calibration_file`] wrote into a name: round, channel and `dark`/`reference`/`dye`.
pub fn parse_calibration_file(file: &str) -> Option<(u64, ChannelKind, &str)> {
    let stem = file
        .strip_prefix("spectra/calibration-")?
        .strip_suffix(".csv")?;
    let mut parts = stem.split('-');
    let channel = ChannelKind::from_name(parts.next()?)?;
    let what = parts.next()?;
    let round = match parts.next() {
        Some(k) => k.parse().ok().filter(|k| *k > 0)?,
        None => 0,
    };
    parts.next().is_none().then_some((round, channel, what))
}

/// The bundle path of a spectrum taken at probe point `point` (from 0):
/// `spectra/e0003-p1-absorbance-r0.csv`.
pub fn point_file(experiment: u64, point: u32, channel: ChannelKind, replicate: u32) -> String {
    format!(
        "spectra/e{experiment:04}-p{point}-{}-r{replicate}.csv",
        channel.name()
    )
}

/// The file of reading `tick` (from 0) of a transient experiment's ramp.
pub fn tick_file(experiment: u64, tick: u32, channel: ChannelKind) -> String {
    format!("spectra/e{experiment:04}-t{tick:04}-{}.csv", channel.name())
}

/// The header name of a spectrum's quantity.
fn quantity_name(q: SpectrumQuantity) -> &'static str {
    match q {
        SpectrumQuantity::Counts => "counts",
        SpectrumQuantity::Absorbance => "absorbance",
        SpectrumQuantity::Intensity => "intensity",
        SpectrumQuantity::Scattering => "counts_per_s",
        SpectrumQuantity::Ellipticity => "mdeg",
    }
}

/// The file's text.
pub fn write(s: &Spectrum) -> String {
    use std::fmt::Write as _;
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail; a failure would lose only this text.
    let _ = w.write_record([s.quantity().axis_column(), quantity_name(s.quantity())]);
    let mut x_text = String::new();
    let mut y_text = String::new();
    for (x, y) in s.wavelength_nm().iter().zip(s.values()) {
        x_text.clear();
        y_text.clear();
        let _ = write!(x_text, "{x}");
        let _ = write!(y_text, "{y}");
        let _ = w.write_record([x_text.as_str(), y_text.as_str()]);
    }
    w.into_inner()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// Reads a spectrum file back.
pub fn read(text: &str) -> Result<Spectrum, String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let field = |i: usize| headers.get(i).map(str::trim);
    let quantity = match (field(0), field(1), headers.len()) {
        (Some("wavelength_nm"), Some("counts"), 2) => SpectrumQuantity::Counts,
        (Some("wavelength_nm"), Some("absorbance"), 2) => SpectrumQuantity::Absorbance,
        (Some("wavelength_nm"), Some("intensity"), 2) => SpectrumQuantity::Intensity,
        (Some("wavelength_nm"), Some("mdeg"), 2) => SpectrumQuantity::Ellipticity,
        (Some("q_per_nm"), Some("counts_per_s"), 2) => SpectrumQuantity::Scattering,
        _ => {
            return Err(format!(
                "the header is `{}`, not `wavelength_nm,counts` (or absorbance, intensity, mdeg) nor `q_per_nm,counts_per_s`",
                headers.iter().collect::<Vec<_>>().join(",")
            ));
        }
    };
    let mut wavelengths = Vec::new();
    let mut values = Vec::new();
    let mut row = csv::ByteRecord::new();
    let mut k = 0;
    loop {
        match reader.read_byte_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(e.to_string()),
        }
        k += 1;
        let number = |i: usize| {
            row.get(i)
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|c| c.trim().parse::<f64>().ok())
        };
        let (Some(w), Some(v), 2) = (number(0), number(1), row.len()) else {
            return Err(format!("line {} is not two numbers", k + 1));
        };
        wavelengths.push(w);
        values.push(v);
    }
    Spectrum::new(wavelengths, values, quantity).map_err(|e| e.to_string())
}

/// The text of `spectra.csv`: one row per experiment spectrum, linking an experiment (the
/// `experiment` column of `observations.csv`) to its files: `experiment,channel,replicate,file`,
/// and with `points` (the campaign's measurement has a `probe`) a last column `point`, the
/// probe point from 0.
pub fn index(experiments: &[crate::record::Experiment], points: bool, ticks: bool) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["experiment", "channel", "replicate", "file"];
    if points {
        header.push("point");
    }
    if ticks {
        header.push("tick");
    }
    // Writing to memory cannot fail.
    let _ = w.write_record(&header);
    for e in experiments {
        for s in &e.spectra {
            let mut row = vec![
                e.id.to_string(),
                s.channel.name().to_owned(),
                s.replicate.to_string(),
                s.file.clone(),
            ];
            if points {
                row.push(s.point.map_or_else(String::new, |p| p.to_string()));
            }
            if ticks {
                row.push(s.tick.map_or_else(String::new, |k| k.to_string()));
            }
            let _ = w.write_record(&row);
        }
    }
    w.into_inner()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_file_names_read_back_as_written() {
        for round in [0, 1, 12] {
            for channel in [ChannelKind::Absorbance, ChannelKind::Photoluminescence] {
                for what in ["dark", "reference", "dye"] {
                    let name = calibration_file(round, channel, what);
                    assert_eq!(
                        parse_calibration_file(&name),
                        Some((round, channel, what)),
                        "{name}"
                    );
                }
            }
        }
        assert_eq!(
            calibration_file(0, ChannelKind::Absorbance, "dark"),
            "spectra/calibration-absorbance-dark.csv"
        );
        for other in [
            "spectra/e0001-absorbance-r0.csv",
            "spectra/calibration-absorbance-dark-0.csv",
            "spectra/calibration-uv-dark.csv",
            "spectra/calibration-absorbance-dark-1-2.csv",
        ] {
            assert_eq!(parse_calibration_file(other), None, "{other}");
        }
    }

    #[test]
    fn a_spectrum_reads_back_as_written() {
        let s = Spectrum::new(
            vec![350.0, 350.4432, 351.1],
            vec![1021.5, 0.1 + 0.2, -3e-9],
            SpectrumQuantity::Counts,
        )
        .expect("spectrum");
        let text = write(&s);
        assert_eq!(
            text,
            "wavelength_nm,counts\n350,1021.5\n350.4432,0.30000000000000004\n351.1,-0.000000003\n"
        );
        let back = read(&text).expect("read");
        assert_eq!(back.wavelength_nm(), s.wavelength_nm());
        assert_eq!(back.values(), s.values());
        assert_eq!(back.quantity(), s.quantity());
    }

    #[test]
    fn a_file_that_is_not_a_spectrum_says_why() {
        assert!(read("x,y\n1,2\n").unwrap_err().contains("header"));
        assert_eq!(
            read("wavelength_nm,counts\n350,1\n351,oops\n").unwrap_err(),
            "line 3 is not two numbers"
        );
    }
}
