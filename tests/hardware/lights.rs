//! An absorbance + photoluminescence flow cell on the emulated rig: one Ocean spectrometer
//! reads both channels, a lamp on its lamp-enable output serves absorbance and an LED the
//! operator switches serves photoluminescence. The lab file binds (it could not before: one
//! lamp output, two sources), and the run switches the lamp around exactly the scans that
//! need it, waits for it to settle and throws away the first scan after each change.

use qdx::journal::{Event, Record};
use qdx::plan::Command;

use super::rig::{CAMPAIGN, Rig, run, setup};

/// The rig's campaign, reading absorbance and PL under two declared lights.
fn campaign() -> String {
    CAMPAIGN
        .replace(
            "  cell s1 : flow_cell { volume 0 uL, spectrometer spec1 }\n  spectrometer spec1 : pl_spectrometer { range 400 nm .. 800 nm, excitation 405 nm }",
            "  cell s1 : flow_cell {\n    volume 0 uL, spectrometer spec1\n    absorbance lamp1, photoluminescence led405\n  }\n  spectrometer spec1 : uv_vis_pl { range 400 nm .. 800 nm }\n  light lamp1 : lamp { settle 0.5 s }\n  light led405 : led { wavelength 405 nm, settle 0.1 s }",
        )
        .replace(
            "  photoluminescence { integration 5 ms, average 2 }",
            "  absorbance { integration 5 ms, average 2 }\n  photoluminescence { integration 10 ms, average 2 }",
        )
}

const LAB: &str = r#"qdx 1
lab "test-rig" {
  bind p_a = new_era.ne1000 { port "/dev/ttyUSB0", address 0, baud 19200, syringe_diameter 4.78 mm }
  bind p_b = new_era.ne1000 { port "/dev/ttyUSB0", address 1, baud 19200, syringe_diameter 4.78 mm }
  bind h1 = eurotherm.e3200 { port "/dev/ttyUSB1", modbus_address 1, setpoint_min 0 degC, setpoint_max 200 degC }
  bind spec1 = ocean.flame { port "/dev/ttyUSB2", wavelength_coefficients [300, 0.25, 0, 0] }
  bind lamp1 = ocean.lamp_output { spectrometer spec1 }
  bind led405 = manual
}
"#;

/// What each journaled command and wait says, in order: `device command` or `wait why`.
fn steps(records: &[Record], experiment: Option<u64>) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Command {
                experiment: e,
                device,
                command,
            } if *e == experiment => Some(match command {
                Command::SetLight { on } => format!("{device} {}", if *on { "on" } else { "off" }),
                Command::Discard { integration } => format!("{device} discard {integration}"),
                Command::Acquire {
                    illumination,
                    integration,
                    light,
                    ..
                } => format!(
                    "{device} acquire {illumination:?} {integration} {}",
                    light.as_deref().unwrap_or("-")
                ),
                _ => return None,
            }),
            Event::Waited {
                experiment: e, why, ..
            } if *e == experiment && why.contains("settles") => Some(format!("wait {why}")),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_absorbance_and_pl_lab_binds_and_switches_its_lamp_around_each_scan() {
    let (c, binding) = setup(&campaign(), LAB);
    let names: Vec<&str> = binding.devices.iter().map(|d| d.name.as_str()).collect();
    assert!(
        names.contains(&"lamp1") && names.contains(&"led405"),
        "{names:?}"
    );
    let rig = Rig::new();
    let (_dir, result, records) = run(&rig, &c, &binding).await;
    result.expect("the run finishes");
    // Calibration: dark at each integration time, the reference under the lamp; then the
    // safe state at the end (commands outside any experiment).
    assert_eq!(
        steps(&records, None),
        [
            "spec1 discard 0.005",
            "spec1 acquire Dark 0.005 -",
            "lamp1 on",
            "wait lamp1 settles after switching",
            "spec1 discard 0.005",
            "spec1 acquire Broadband 0.005 lamp1",
            "lamp1 off",
            "spec1 discard 0.01",
            "spec1 acquire Dark 0.01 -",
            // The safe state the run ends in turns every light off.
            "lamp1 off",
            "led405 off",
        ]
    );
    assert!(
        !rig.spectrometer.with_device(|d| d.inner.lamp_on),
        "the lamp ends off"
    );
    // Each experiment: absorbance under the lamp, then PL under the LED.
    assert_eq!(
        steps(&records, Some(0)),
        [
            "lamp1 on",
            "wait lamp1 settles after switching",
            "spec1 discard 0.005",
            "spec1 acquire Broadband 0.005 lamp1",
            "lamp1 off",
            "led405 on",
            "wait led405 settles after switching",
            "spec1 discard 0.01",
            "spec1 acquire Excitation 0.01 led405",
            "led405 off",
        ]
    );
    // On the wire: the lamp output is on for exactly the reference and absorbance scans
    // (each with its discarded scan before it), off for every other.
    let mut lamp = false;
    let mut lit = Vec::new();
    for r in rig.spectrometer.received() {
        match r.as_slice() {
            [b'J', 0, 1] => lamp = true,
            [b'J', 0, 0] => lamp = false,
            b"S" => lit.push(lamp),
            _ => {}
        }
    }
    let experiments = records
        .iter()
        .filter(|r| matches!(r.event, Event::Measured { .. }))
        .count();
    assert_eq!(experiments, 3);
    // Every plan discard is one scan: where the integration changes (5 ms for absorbance, 10 ms
    // for PL) the scan the driver drops as stale is that discard, not a second one (issue 15).
    // Calibration: dark at 5 ms (discarded, taken), the reference under the lamp (discarded,
    // taken), dark at 10 ms (discarded, taken); then per experiment absorbance under the lamp
    // and PL with the lamp off, each discarded once and taken.
    let mut expected = vec![false, false, true, true, false, false];
    for _ in 0..experiments {
        expected.extend([true, true, false, false]);
    }
    assert_eq!(lit, expected);
}

#[test]
fn the_rig_without_lights_still_cannot_read_both_channels_and_says_how_to_declare_them() {
    let campaign = CAMPAIGN
        .replace("pl_spectrometer", "uv_vis_pl")
        .replace(
            "  photoluminescence { integration 5 ms, average 2 }",
            "  absorbance { integration 5 ms, average 2 }\n  photoluminescence { integration 10 ms, average 2 }",
        );
    let world = qdx::world::MemoryWorld::new()
        .with("campaign.qdx", &campaign)
        .with("rig.qdx", super::rig::LAB);
    let loaded = qdx::load::load(&world, std::path::Path::new("campaign.qdx"), "campaign.qdx");
    let checked = qdx::validate::validate(&loaded, &world);
    let c = checked.campaign.expect("the campaign validates");
    let l = qdx::bind::check_lab(
        &world,
        std::path::Path::new("rig.qdx"),
        "rig.qdx",
        checked.sources.clone(),
        Some(&c),
    );
    let text =
        qdx::diagnostic::render_all(&l.diagnostics, &l.sources, qdx::diagnostic::Style::Plain);
    assert!(l.binding.is_none());
    insta::assert_snapshot!(text);
}

/// The diagnostics of `lab` checked against the campaign with lights.
fn lab_diagnostics(lab: &str) -> (bool, String) {
    let world = qdx::world::MemoryWorld::new()
        .with("campaign.qdx", campaign())
        .with("rig.qdx", lab);
    let loaded = qdx::load::load(&world, std::path::Path::new("campaign.qdx"), "campaign.qdx");
    let checked = qdx::validate::validate(&loaded, &world);
    let c = checked.campaign.expect("the campaign validates");
    let l = qdx::bind::check_lab(
        &world,
        std::path::Path::new("rig.qdx"),
        "rig.qdx",
        checked.sources.clone(),
        Some(&c),
    );
    (
        l.binding.is_some(),
        qdx::diagnostic::render_all(&l.diagnostics, &l.sources, qdx::diagnostic::Style::Plain),
    )
}

#[test]
fn a_light_switched_by_hand_binds_with_a_warning() {
    let (binds, text) = lab_diagnostics(LAB);
    assert!(binds);
    insta::assert_snapshot!(text);
}

#[test]
fn a_lamp_behind_a_shutter_and_an_led_on_the_lamp_output_bind_without_a_warning() {
    let lab = LAB
        .replace(
            "bind lamp1 = ocean.lamp_output { spectrometer spec1 }",
            "bind lamp1 = thorlabs.sc10 { port \"/dev/ttyUSB3\" }",
        )
        .replace(
            "bind led405 = manual",
            "bind led405 = ocean.lamp_output { spectrometer spec1 }",
        );
    let (binds, text) = lab_diagnostics(&lab);
    assert!(binds, "{text}");
    assert_eq!(text, "");
}

#[test]
fn lights_bound_to_what_cannot_switch_them_are_located_errors() {
    let cases = [
        (
            "two_lights_on_one_output",
            LAB.replace(
                "bind led405 = manual",
                "bind led405 = ocean.lamp_output { spectrometer spec1 }",
            ),
        ),
        (
            "output_of_a_heater",
            LAB.replace(
                "ocean.lamp_output { spectrometer spec1 }",
                "ocean.lamp_output { spectrometer h1 }",
            ),
        ),
        (
            "spectrometer_keeps_its_own_source",
            LAB.replace(
                "wavelength_coefficients [300, 0.25, 0, 0] }",
                "wavelength_coefficients [300, 0.25, 0, 0], lamp \"broadband\" }",
            ),
        ),
        ("unbound_light", LAB.replace("  bind led405 = manual\n", "")),
        (
            "spectrometer_name_in_quotes",
            LAB.replace("{ spectrometer spec1 }", "{ spectrometer \"spec1\" }"),
        ),
    ];
    for (name, lab) in cases {
        assert_ne!(lab, LAB, "{name} changes the lab file");
        let (binds, text) = lab_diagnostics(&lab);
        assert!(!binds, "{name} binds");
        assert!(text.contains("rig.qdx:"), "{name}: located in the lab file");
        insta::assert_snapshot!(name, text);
    }
}
