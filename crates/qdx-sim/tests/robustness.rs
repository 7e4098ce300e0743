//! Random command sequences never panic and keep the world's invariants.
#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use qdx_lab::{AcquireRequest, Clock, Illumination, PumpDirection, VirtualClock};
use qdx_sim::SimLab;
use qdx_sim::presets;

#[derive(Debug, Clone)]
enum Op {
    Rate(usize, f64),
    Start(usize),
    Stop(usize),
    Direction(usize, bool),
    Setpoint(f64),
    Wait(f64),
    Acquire(u8, f64, u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            0usize..3,
            prop_oneof![0.0..4e-8, Just(0.0), Just(-1.0), Just(f64::NAN), Just(1.0)]
        )
            .prop_map(|(p, r)| Op::Rate(p, r)),
        (0usize..3).prop_map(Op::Start),
        (0usize..3).prop_map(Op::Stop),
        (0usize..3, any::<bool>()).prop_map(|(p, d)| Op::Direction(p, d)),
        prop_oneof![250.0..450.0, Just(f64::INFINITY)].prop_map(Op::Setpoint),
        (0.0..2000.0).prop_map(Op::Wait),
        (
            0u8..3,
            prop_oneof![0.001..2.0, Just(0.0), Just(100.0)],
            prop_oneof![1u32..4, Just(0)]
        )
            .prop_map(|(i, t, n)| Op::Acquire(i, t, n)),
    ]
}

fn run(ops: &[Op]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let clock = Arc::new(VirtualClock::new());
        let lab = SimLab::new(presets::cspbx3(3), clock.clone()).unwrap();
        let names = ["p_seed", "p_iodide", "p_ligand"];
        let mut pumps: Vec<_> = names.iter().map(|n| lab.pump(n).unwrap()).collect();
        let mut heater = lab.heater("h1").unwrap();
        let mut spec = lab.spectrometer("spec1").unwrap();
        for op in ops {
            match *op {
                Op::Rate(p, r) => drop(pumps[p].set_rate(r).await),
                Op::Start(p) => drop(pumps[p].start().await),
                Op::Stop(p) => drop(pumps[p].stop().await),
                Op::Direction(p, infuse) => {
                    let d = if infuse {
                        PumpDirection::Infuse
                    } else {
                        PumpDirection::Withdraw
                    };
                    drop(pumps[p].set_direction(d).await)
                }
                Op::Setpoint(k) => drop(heater.set_setpoint(k).await),
                Op::Wait(s) => clock.sleep(Duration::from_secs_f64(s)).await,
                Op::Acquire(i, t, n) => {
                    let illumination = [
                        Illumination::Dark,
                        Illumination::Broadband,
                        Illumination::Excitation,
                    ][i as usize];
                    if let Ok(s) = spec
                        .acquire(&AcquireRequest {
                            illumination,
                            integration_time_s: t,
                            averages: n,
                        })
                        .await
                    {
                        assert!(s.values().iter().all(|v| (0.0..=65_535.0).contains(v)));
                    }
                }
            }
            for (name, config) in names.iter().zip(presets::cspbx3(3).pumps) {
                let v = lab.syringe_volume(name).unwrap();
                assert!((0.0..=config.syringe_volume).contains(&v), "{name}: {v}");
            }
            let t = heater.status().await.unwrap().temperature;
            assert!(t.is_finite() && (250.0..=450.0).contains(&t));
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_commands_keep_the_invariants(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops);
    }
}
