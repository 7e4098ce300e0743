//! Leave-one-out accuracy of the table emulator (inverse-distance weighting, k = 8, p = 2) on
//! the Olympus data sets in `shared/bench-data`, beside the error of always predicting the
//! mean. Documents what the emulator is good for and where it is weak.
//!
//! Run: `cargo run --release -p qdx-sim --example table_emulator [BENCH_DATA_DIR]`
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::collections::BTreeMap;

use qdx_sim::{InputValue, TableConfig, TableMode, TableModel};

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/bench-data").to_string()
    });
    for name in [
        "olympus-suzuki_i",
        "olympus-snar",
        "olympus-fullerenes",
        "olympus-crossed_barrel",
    ] {
        let base = format!("{dir}/{name}");
        let (Ok(csv), Ok(config)) = (
            std::fs::read_to_string(format!("{base}/data.csv")),
            std::fs::read_to_string(format!("{base}/config.json")),
        ) else {
            println!("{name}: not found under {dir}");
            continue;
        };
        let config: serde_json::Value = serde_json::from_str(&config).unwrap();
        let names = |key: &str| -> Vec<String> {
            config[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect()
        };
        let (inputs, outputs) = (names("parameters"), names("measurements"));
        let output = outputs[0].clone();
        let mut lines = csv.lines();
        let header = lines.next().unwrap().to_string();
        let rows: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
        let columns: Vec<&str> = header.split(',').collect();
        let table = TableConfig {
            path: name.into(),
            inputs: inputs.clone(),
            outputs: vec![output.clone()],
            mode: TableMode::Emulator {
                neighbours: 8,
                power: 2.0,
            },
            delimiter: b',',
            columns: BTreeMap::new(),
        };
        let (mut se, mut se_mean, mut n) = (0.0, 0.0, 0.0);
        for (i, row) in rows.iter().enumerate() {
            let rest: Vec<&str> = rows
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, r)| *r)
                .collect();
            let text = format!("{header}\n{}\n", rest.join("\n"));
            let Ok(model) = TableModel::from_csv(&text, &table) else {
                continue;
            };
            let cells: Vec<&str> = row.split(',').collect();
            let point: BTreeMap<String, InputValue> = inputs
                .iter()
                .map(|inp| {
                    let c = cells[columns.iter().position(|h| h == inp).unwrap()].trim();
                    let v = c
                        .parse::<f64>()
                        .map_or_else(|_| InputValue::Text(c.to_string()), InputValue::Number);
                    (inp.clone(), v)
                })
                .collect();
            let truth: f64 = cells[columns.iter().position(|h| *h == output).unwrap()]
                .trim()
                .parse()
                .unwrap();
            let Ok(pred) = model.evaluate(&point) else {
                continue;
            };
            let mean = rest
                .iter()
                .map(|r| {
                    r.split(',')
                        .nth(columns.iter().position(|h| *h == output).unwrap())
                        .unwrap()
                        .trim()
                        .parse::<f64>()
                        .unwrap()
                })
                .sum::<f64>()
                / rest.len() as f64;
            se += (pred[&output] - truth).powi(2);
            se_mean += (mean - truth).powi(2);
            n += 1.0;
        }
        let (rmse, rmse_mean) = ((se / n).sqrt(), (se_mean / n).sqrt());
        println!(
            "{name:<24} {output:<12} rows {:>4}: LOO RMSE {rmse:.4} vs mean-predictor {rmse_mean:.4} (R² {:.3})",
            rows.len(),
            1.0 - se / se_mean
        );
    }
}
