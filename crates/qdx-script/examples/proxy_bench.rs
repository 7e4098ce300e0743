//! How long does one evaluation of a compiled, small proxy script take?
//!
//! `cargo run --release -p qdx-script --example proxy_bench`
#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::hint::black_box;
use std::time::Instant;

use qdx_script::{Inputs, Script, ScriptError, ScriptOrigin};

fn main() -> Result<(), ScriptError> {
    let numbers = Script::compile(
        "let closeness = exp(-pow((peak - 600.0) / 10.0, 2));\ncloseness * plqy / max(fwhm, 1.0)",
        ScriptOrigin::File("score.rhai".into()),
    )?;
    let scalars = Inputs::new()
        .number("peak", 601.0)
        .number("plqy", 0.6)
        .number("fwhm", 22.0);

    // A 2048-pixel detector, as on common inline spectrometers.
    let wavelength: Vec<f64> = (0..2048).map(|i| 350.0 + f64::from(i) * 0.22).collect();
    let values: Vec<f64> = wavelength
        .iter()
        .map(|w| (-((w - 600.0) / 10.0).powi(2)).exp())
        .collect();
    let with_spectrum = scalars.clone().spectrum("pl", &wavelength, &values);
    let spectral = Script::compile(
        "let peak = pl.wavelength[argmax(pl.values)];\npeak - 600.0",
        ScriptOrigin::File("peak.rhai".into()),
    )?;

    for (name, script, inputs) in [
        ("scalar proxy (3 numbers)", &numbers, &scalars),
        (
            "scalar proxy, spectrum passed but unused",
            &numbers,
            &with_spectrum,
        ),
        (
            "spectral proxy (2048-point spectrum)",
            &spectral,
            &with_spectrum,
        ),
    ] {
        // Warm up, then time enough calls for a stable figure.
        for _ in 0..1_000 {
            black_box(script.eval_proxy(inputs)?);
        }
        let calls = 20_000_u32;
        let start = Instant::now();
        for _ in 0..calls {
            black_box(script.eval_proxy(black_box(inputs))?);
        }
        let per_call = start.elapsed() / calls;
        println!("{name}: {per_call:?} per evaluation ({calls} calls)");
    }
    Ok(())
}
