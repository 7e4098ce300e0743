//! The envelope at the driver boundary, the watchdog, retries and the safe state, with real
//! drivers talking to emulators.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::ML_PER_MIN;
use qdx_lab::drivers::huber::{self, HuberHeater, HuberSensor};
use qdx_lab::drivers::new_era::{self, NewEraPump};
use qdx_lab::emulators::Emulator;
use qdx_lab::emulators::huber::HuberEmulator;
use qdx_lab::emulators::new_era::NewEraChain;
use qdx_lab::guard::{Envelope, GuardedHeater, GuardedPump};
use qdx_lab::protocol::new_era::Mode;
use qdx_lab::retry::{RetryPolicy, is_transient, retry_on};
use qdx_lab::safe_state::{SafeHeater, safe_state};
use qdx_lab::transport::{Link, share};
use qdx_lab::watchdog::with_deadline;
use qdx_lab::{DeviceErrorKind, Heater, Pump, PumpDirection, VirtualClock};

type Duplex = tokio::io::DuplexStream;

fn rig(
    addresses: &[u8],
) -> (
    Arc<VirtualClock>,
    Emulator<NewEraChain>,
    Emulator<HuberEmulator>,
) {
    let clock = Arc::new(VirtualClock::new());
    let pumps = Emulator::new(NewEraChain::new(clock.clone(), addresses));
    let heater = Emulator::new(HuberEmulator::new(clock.clone()));
    (clock, pumps, heater)
}

fn pump(emulator: &Emulator<NewEraChain>, address: u8, name: &str) -> NewEraPump<Duplex> {
    let link = share(Link::new(emulator.connect(), new_era::DEFAULT_TIMEOUT));
    NewEraPump::new(name, link, address, Mode::Basic)
}

fn heater(emulator: &Emulator<HuberEmulator>) -> HuberHeater<Duplex> {
    HuberHeater::new(
        "h1",
        Link::new(emulator.connect(), huber::DEFAULT_TIMEOUT),
        HuberSensor::Internal,
    )
}

#[tokio::test(start_paused = true)]
async fn out_of_envelope_commands_never_reach_the_wire() {
    let (_clock, pumps, heaters) = rig(&[0]);
    let envelope = Envelope::pump(5.0 * 1e-9 / 60.0, 2.0 * ML_PER_MIN, false);
    let mut p = GuardedPump::new("p_seed", pump(&pumps, 0, "p_seed"), envelope);
    let error = p.set_rate(3.0 * ML_PER_MIN).await.expect_err("too fast");
    assert!(matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)));
    assert_eq!(error.device, "p_seed");
    let error = p.set_rate(f64::NAN).await.expect_err("not a number");
    assert!(matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)));
    let error = p
        .set_direction(PumpDirection::Withdraw)
        .await
        .expect_err("no withdrawal");
    assert!(matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)));
    assert!(pumps.received().is_empty(), "{:?}", pumps.received());

    // Never set through the guard: the pump's own rate (1 mL/min at power-up) is read back
    // and checked before RUN is sent.
    p.start().await.expect("1 mL/min is inside");
    pumps.with_device(|c| {
        if let Some(pump) = c.pumps.get_mut(&0) {
            pump.rate_value = 5.0;
        }
    });
    let mut fresh = GuardedPump::new("p_seed", pump(&pumps, 0, "p_seed"), envelope);
    let sent = pumps.received().len();
    let error = fresh.start().await.expect_err("5 mL/min on the pump");
    assert!(matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)));
    let runs = pumps.received()[sent..]
        .iter()
        .filter(|r| r.ends_with(b"RUN"))
        .count();
    assert_eq!(runs, 0);

    let mut h = GuardedHeater::new("h1", heater(&heaters), Envelope::heater(283.15, 363.15));
    let error = h.set_setpoint(273.15 + 120.0).await.expect_err("too hot");
    assert!(matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)));
    assert!(heaters.received().is_empty());
    h.set_setpoint(273.15 + 60.0).await.expect("inside");
    // The unit's own limits (0x30, 0x31) are read before its first setpoint.
    assert_eq!(
        heaters.received().len(),
        4,
        "limits, setpoint and control on"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stall_ends_in_the_safe_state() {
    let (_clock, pumps, heaters) = rig(&[0, 1]);
    let mut a = pump(&pumps, 0, "p_seed");
    let mut b = pump(&pumps, 1, "p_iodide");
    let mut h = heater(&heaters);
    for p in [&mut a, &mut b] {
        p.set_rate(ML_PER_MIN).await.expect("rate");
        p.start().await.expect("start");
    }
    h.set_setpoint(273.15 + 80.0).await.expect("heat");
    pumps.with_device(|c| c.stall(0));
    let error = a.set_rate(0.5 * ML_PER_MIN).await.expect_err("stall");
    assert!(matches!(error.kind, DeviceErrorKind::Alarm(_)));
    // Policy `on pump_stall: stop_all`: the runtime calls safe_state.
    let report = safe_state(
        &mut [("p_seed", &mut a), ("p_iodide", &mut b)],
        &mut [SafeHeater {
            name: "h1",
            heater: &mut h,
            safe_setpoint: 273.15 + 25.0,
        }],
        Duration::from_secs(2),
    )
    .await;
    assert!(report.all_safe(), "{report:?}");
    assert_eq!(report.actions.len(), 3);
    pumps.with_device(|c| assert!(c.pumps.values().all(|p| !p.running)));
    assert!((heaters.with_device(|e| e.setpoint) - 25.0).abs() < 1e-9);
}

#[tokio::test(start_paused = true)]
async fn safe_state_goes_on_past_a_hung_and_a_disconnected_device() {
    let (_clock, pumps, heaters) = rig(&[0]);
    let other = Emulator::new(NewEraChain::new(Arc::new(VirtualClock::new()), &[0]));
    let mut hung = pump(&other, 0, "p_hung");
    let mut good = pump(&pumps, 0, "p_good");
    let mut h = heater(&heaters);
    good.set_rate(ML_PER_MIN).await.expect("rate");
    good.start().await.expect("start");
    other.set_faults(|f| f.reply_delay = Duration::from_secs(3600));
    heaters.set_faults(|f| f.disconnect_after = Some(1));
    let report = safe_state(
        &mut [("p_hung", &mut hung), ("p_good", &mut good)],
        &mut [SafeHeater {
            name: "h1",
            heater: &mut h,
            safe_setpoint: 298.15,
        }],
        Duration::from_millis(300),
    )
    .await;
    let failures: Vec<_> = report
        .failures()
        .map(|a| (a.device.clone(), a.result.clone()))
        .collect();
    assert_eq!(failures.len(), 2, "{report:?}");
    assert!(matches!(&failures[0].1, Err(e) if matches!(e.kind, DeviceErrorKind::Timeout(_))));
    assert!(matches!(&failures[1].1, Err(e) if matches!(e.kind, DeviceErrorKind::Disconnected(_))));
    pumps.with_device(|c| assert!(c.pumps.values().all(|p| !p.running)));
}

#[tokio::test(start_paused = true)]
async fn retry_cures_a_garbled_reply_and_the_watchdog_bounds_a_hang() {
    let (clock, pumps, _heaters) = rig(&[0]);
    let mut p = pump(&pumps, 0, "p_seed");
    pumps.set_faults(|f| f.garbage_replies = 2);
    let report = retry_on(
        clock.as_ref(),
        &RetryPolicy::new(3),
        is_transient,
        &mut p,
        |p| p.identify(),
    )
    .await;
    assert_eq!(report.result.expect("third try").model, "NE1000");
    assert_eq!(report.failures.len(), 2);
    assert!(
        report
            .failures
            .iter()
            .all(|f| matches!(f.error.kind, DeviceErrorKind::Garbage(_)))
    );

    // A device that answers too slowly for the run: the watchdog's deadline wins over the
    // driver's own longer timeout.
    let mut slow = NewEraPump::new(
        "p_slow",
        share(Link::new(pumps.connect(), Duration::from_secs(3600))),
        0,
        Mode::Basic,
    );
    pumps.set_faults(|f| f.silent = true);
    let error = with_deadline("p_slow", Duration::from_secs(2), slow.status())
        .await
        .expect_err("hung");
    assert_eq!(error.kind, DeviceErrorKind::Timeout(Duration::from_secs(2)));
}

/// Issue 9, item 4: a guard that never set the rate reads it from a Chemyx pump before the
/// start, not the driver's cached 0.
#[tokio::test(start_paused = true)]
async fn the_guard_reads_a_chemyx_pumps_own_rate_before_starting_it() {
    use qdx_lab::drivers::chemyx::{self, ChemyxPump};
    use qdx_lab::emulators::chemyx::ChemyxEmulator;
    let clock = Arc::new(VirtualClock::new());
    let emulator = Emulator::new(ChemyxEmulator::new(clock));
    let link = share(Link::new(emulator.connect(), chemyx::DEFAULT_TIMEOUT));
    let mut raw = ChemyxPump::new("p_c", link, 10e-6);
    raw.configure(14.57).await.expect("configure");
    // 5 mL/min on the pump's own panel (µL/min after configure).
    emulator.with_device(|e| e.rate = 5000.0);
    let mut p = GuardedPump::new("p_c", raw, Envelope::pump(1e-12, 2.0 * ML_PER_MIN, false));
    let sent = emulator.received().len();
    let error = p.start().await.expect_err("5 mL/min on the pump");
    assert!(
        matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)),
        "{error}"
    );
    assert!(
        !emulator.received()[sent..]
            .iter()
            .any(|r| r.as_slice() == b"start"),
        "{:?}",
        emulator.received()
    );
}

/// Issue 9, item 4: a Harvard pump's idle `status` line shows no rate; the guard reads the rate
/// the run command will use instead.
#[tokio::test(start_paused = true)]
async fn the_guard_reads_a_harvard_pumps_set_rate_not_its_idle_status() {
    use qdx_lab::drivers::harvard::{self, HarvardModel, HarvardPump};
    use qdx_lab::emulators::harvard::HarvardEmulator;
    use qdx_lab::protocol::harvard::RateUnit;
    let clock = Arc::new(VirtualClock::new());
    let emulator = Emulator::new(HarvardEmulator::new(clock, 0));
    let link = share(Link::new(emulator.connect(), harvard::DEFAULT_TIMEOUT));
    let mut raw = HarvardPump::new("p_h", link, 0, HarvardModel::Pump11Elite);
    raw.configure(14.57).await.expect("configure");
    let ml_min = RateUnit {
        volume: 'm',
        time: 'm',
    };
    emulator.with_device(|e| e.infuse_rate = (5.0, ml_min));
    let mut p = GuardedPump::new("p_h", raw, Envelope::pump(1e-12, 2.0 * ML_PER_MIN, false));
    let sent = emulator.received().len();
    let error = p.start().await.expect_err("5 mL/min on the pump");
    assert!(
        matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)),
        "{error}"
    );
    assert!(
        !emulator.received()[sent..]
            .iter()
            .any(|r| r.ends_with(b"run")),
        "{:?}",
        emulator.received()
    );
    assert!(!emulator.with_device(|e| e.running));
}

/// Issue 9, item 4: the guard's own status read acknowledges a New Era stall alarm; the guard
/// must then refuse the start instead of sending `RUN` to a stalled pump.
#[tokio::test(start_paused = true)]
async fn a_stall_read_by_the_guard_before_start_keeps_the_pump_stopped() {
    let (_clock, pumps, _heaters) = rig(&[0]);
    common::acknowledge_power_up(&pumps);
    let mut raw = pump(&pumps, 0, "p_seed");
    raw.set_rate(ML_PER_MIN).await.expect("rate");
    raw.start().await.expect("start");
    pumps.with_device(|c| c.stall(0));
    let mut p = GuardedPump::new(
        "p_seed",
        raw,
        Envelope::pump(1e-12, 2.0 * ML_PER_MIN, false),
    );
    let sent = pumps.received().len();
    let error = p.start().await.expect_err("stalled");
    assert_eq!(error.kind, DeviceErrorKind::Alarm("motor stalled".into()));
    assert!(
        !pumps.received()[sent..].iter().any(|r| r.ends_with(b"RUN")),
        "{:?}",
        pumps.received()
    );
    pumps.with_device(|c| assert!(c.pumps.values().all(|p| !p.running)));
}

/// Issue 9, item 4: after a start the guard reads back the rate the pump really runs at; a
/// pump that runs faster than the guard let through is stopped at once.
#[tokio::test(start_paused = true)]
async fn start_reads_the_running_rate_back_and_stops_a_pump_that_runs_too_fast() {
    let (_clock, pumps, _heaters) = rig(&[0]);
    common::acknowledge_power_up(&pumps);
    let mut p = GuardedPump::new(
        "p_seed",
        pump(&pumps, 0, "p_seed"),
        Envelope::pump(1e-12, 2.0 * ML_PER_MIN, false),
    );
    p.set_rate(ML_PER_MIN).await.expect("1 mL/min");
    // Someone sets 5 mL/min on the keypad between the rate and the start.
    pumps.with_device(|c| {
        if let Some(pump) = c.pumps.get_mut(&0) {
            pump.rate_value = 5.0;
            pump.rate_unit = qdx_lab::protocol::new_era::RateUnit::MM;
        }
    });
    let error = p.start().await.expect_err("runs at 5 mL/min");
    assert!(
        matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)),
        "{error}"
    );
    pumps.with_device(|c| assert!(c.pumps.values().all(|p| !p.running)));
    let requests = pumps.received();
    let run = requests.iter().rposition(|r| r.as_slice() == b"0RUN");
    let stop = requests.iter().rposition(|r| r.as_slice() == b"0STP");
    assert!(stop > run, "{requests:?}");
}
