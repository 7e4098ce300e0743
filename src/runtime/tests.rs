//! Unit tests of the run's safety paths that need its insides (a journal that cannot be
//! written, devices looked at directly).

use std::path::Path;
use std::sync::Arc;

use qdx_lab::{Clock, VirtualClock};

use super::*;

fn campaign(text: &str) -> Campaign {
    let world = crate::world::MemoryWorld::new().with("t.qdx", text);
    let loaded = crate::load::load(&world, Path::new("t.qdx"), "t.qdx");
    let checked = crate::validate::validate(&loaded, &world);
    checked.campaign.expect("a valid campaign")
}

/// One pump and a heated coil (shared with the integration tests).
const HEATED: &str = include_str!("../../tests/data/runs/heated.qdx");

#[tokio::test(flavor = "current_thread")]
async fn the_safe_state_stops_every_device_even_when_the_journal_cannot_be_written() {
    let c = campaign(HEATED);
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new());
    let mut lab = Lab::simulated(&c, clock).expect("a simulated lab");
    for pump in lab.pumps.values_mut() {
        pump.set_rate(1e-9).await.expect("rate");
        pump.start().await.expect("start");
        assert!(pump.status().await.expect("status").running);
    }
    for heater in lab.heaters.values_mut() {
        heater.set_setpoint(350.0).await.expect("setpoint");
    }
    // Every write to /dev/full fails with ENOSPC: the disk is full.
    let full = std::fs::OpenOptions::new()
        .append(true)
        .open("/dev/full")
        .expect("/dev/full");
    let journal = Journal::on_file(full, Path::new("/dev/full"));
    let dir = tempfile::tempdir().expect("temp");
    let options = RunOptions {
        progress: crate::runtime::Progress::Off,
        sync_each: false,
        halt_after: None,
    };
    let plan = crate::plan::plan(&c).expect("plan");
    let mut run = Run::new(&c, lab, journal, dir.path().to_path_buf(), &options, plan);
    let result = run.safe_state("test").await;
    assert!(
        matches!(result, Err(RunError::Journal(_))),
        "the journal error is reported: {result:?}"
    );
    for pump in run.lab.pumps.values_mut() {
        assert!(
            !pump.status().await.expect("status").running,
            "a pump still runs after the safe state"
        );
    }
    for heater in run.lab.heaters.values_mut() {
        let setpoint = heater.status().await.expect("status").setpoint;
        assert!(
            (setpoint - crate::validate::campaign::AMBIENT_K).abs() < 1e-9,
            "a heater is still at {setpoint} K"
        );
    }
}
