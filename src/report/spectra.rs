//! Spectra as the report draws them: read from the bundle's files, absorbance computed from
//! the bundle's own calibration spectra, thinned for the page.

use std::collections::BTreeMap;
use std::path::Path;

use super::svg::{self, Layer, Plot};
use crate::record::SavedSpectrum;
use crate::validate::campaign::ChannelKind;

/// Most points a drawn spectrum keeps (a minimum and a maximum per bucket, so peaks stay) in a
/// plot 640 px wide; fewer in a narrower one (an experiment's detail).
const MAX_POINTS: usize = 400;

/// An absorbance calibration: the dark and the reference spectrum.
type Calibration = (qdx_spectra::Spectrum, qdx_spectra::Spectrum);

/// The bundle's files a report reads spectra from.
#[derive(Debug)]
pub struct Spectra<'a> {
    dir: &'a Path,
    /// The absorbance calibrations by the dark spectrum's file: each absorbance spectrum is
    /// drawn against the one the run processed it with ([`SavedSpectrum::calibration`]).
    calibrations: std::cell::RefCell<BTreeMap<String, Option<Calibration>>>,
}

/// A spectrum file of the bundle, read (`None` when missing or unreadable).
fn read(dir: &Path, file: &str) -> Option<qdx_spectra::Spectrum> {
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    crate::files::spectrum::read(&text).ok()
}

/// What a channel's plot shows on its y axis.
pub fn y_label(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Absorbance => "absorbance (decadic)",
        ChannelKind::Photoluminescence => "photoluminescence [counts]",
        ChannelKind::Saxs => "intensity [counts/s]",
        ChannelKind::CircularDichroism => "ellipticity [mdeg]",
    }
}

impl<'a> Spectra<'a> {
    pub fn new(dir: &'a Path) -> Spectra<'a> {
        Spectra {
            dir,
            calibrations: std::cell::RefCell::new(BTreeMap::new()),
        }
    }

    /// The absorbance calibration `saved` was processed with, read once per calibration.
    /// A spectrum of a journal without a `calibrated` record (older bundles) takes the run's
    /// first calibration files.
    fn calibration(&self, saved: &SavedSpectrum) -> Option<Calibration> {
        use crate::files::spectrum::{calibration_file, parse_calibration_file};
        let named = |what: &str| {
            saved
                .calibration
                .iter()
                .find(|f| {
                    parse_calibration_file(f)
                        .is_some_and(|(_, ch, w)| ch == ChannelKind::Absorbance && w == what)
                })
                .cloned()
                .unwrap_or_else(|| calibration_file(0, ChannelKind::Absorbance, what))
        };
        let (dark, reference) = (named("dark"), named("reference"));
        self.calibrations
            .borrow_mut()
            .entry(dark.clone())
            .or_insert_with(|| Some((read(self.dir, &dark)?, read(self.dir, &reference)?)))
            .clone()
    }

    /// The points of a saved spectrum to plot: raw counts for photoluminescence; for
    /// absorbance, `A = -log10((S - D)/(R - D))` from the bundle's calibration spectra, as
    /// the run computed it, without the pixels where that is no measurement (clipped: no
    /// light through the sample, or none from the lamp). `None` when the file cannot be read
    /// or absorbance cannot be computed (no calibration, spectra on different grids).
    pub fn points(&self, saved: &SavedSpectrum, max: usize) -> Option<Vec<(f64, f64)>> {
        let raw = match saved.tick {
            // A transient ramp's reading: a row of its array.
            Some(k) if saved.file.ends_with(".npy") => {
                crate::files::stack::read_row(self.dir, &saved.file, k, saved.channel)?
            }
            _ => read(self.dir, &saved.file)?,
        };
        let zip = |s: &qdx_spectra::Spectrum, skip: &[usize]| -> Vec<(f64, f64)> {
            s.wavelength_nm()
                .iter()
                .copied()
                .zip(s.values().iter().copied())
                .enumerate()
                .filter(|(i, (_, y))| y.is_finite() && !skip.contains(i))
                .map(|(_, p)| p)
                .collect()
        };
        let points = match saved.channel {
            // SAXS and CD frames are used as acquired, like raw PL counts.
            ChannelKind::Photoluminescence | ChannelKind::Saxs | ChannelKind::CircularDichroism => {
                zip(&raw, &[])
            }
            ChannelKind::Absorbance => {
                let (dark, reference) = self.calibration(saved)?;
                let a = qdx_spectra::absorbance_spectrum(
                    &raw,
                    &reference,
                    &dark,
                    qdx_spectra::AbsorbanceOptions::default(),
                )
                .ok()?;
                zip(&a, a.clipped())
            }
        };
        (!points.is_empty()).then(|| thin(&points, max))
    }

    /// One plot of channel `kind`: a line per `(name, spectrum)`, with a legend. `None` when
    /// no spectrum could be drawn.
    pub fn plot(
        &self,
        kind: ChannelKind,
        title: String,
        lines: &[(String, &SavedSpectrum)],
        size: (f64, f64),
    ) -> Option<String> {
        let mut p = Plot::new(title, kind.axis().label().into(), y_label(kind).into());
        p.width = size.0;
        p.height = size.1;
        for (k, (name, saved)) in lines.iter().enumerate() {
            // About a point per pixel of a 640 px plot's frame; half as many in a narrower
            // one (an experiment's detail: a report of 200 experiments stays a few MB).
            let max = if size.0 >= 640.0 {
                MAX_POINTS
            } else {
                MAX_POINTS / 2
            };
            let Some(points) = self.points(saved, max) else {
                continue;
            };
            p.layers.push(Layer::Line {
                name: Some(name.clone()),
                points,
                colour: svg::colour(k).into(),
                dashed: false,
                step: false,
            });
        }
        (!p.layers.is_empty()).then(|| svg::plot(&p))
    }
}

/// At most `max` of `points` (sorted by wavelength): the lowest and the highest of each of
/// equal runs, in order, so a narrow peak survives.
fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points.to_vec();
    }
    let buckets = (max / 2).max(1);
    let mut out = Vec::with_capacity(max);
    for b in 0..buckets {
        let from = b * points.len() / buckets;
        let to = ((b + 1) * points.len() / buckets).min(points.len());
        let Some(run) = points.get(from..to) else {
            continue;
        };
        let lo = run
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.1.total_cmp(&b.1.1));
        let hi = run
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.1.total_cmp(&b.1.1));
        if let (Some((i, p)), Some((j, q))) = (lo, hi) {
            match i.cmp(&j) {
                std::cmp::Ordering::Less => out.extend([*p, *q]),
                std::cmp::Ordering::Greater => out.extend([*q, *p]),
                std::cmp::Ordering::Equal => out.push(*p),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thinned_spectrum_keeps_its_peak() {
        let points: Vec<(f64, f64)> = (0..2048)
            .map(|i| {
                let x = 350.0 + f64::from(i) * 0.2;
                (x, if i == 1001 { 5000.0 } else { 10.0 })
            })
            .collect();
        let thinned = thin(&points, MAX_POINTS);
        assert!(thinned.len() <= MAX_POINTS);
        assert!(thinned.contains(&points[1001]));
        assert!(thinned.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
