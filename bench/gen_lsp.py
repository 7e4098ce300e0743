#!/usr/bin/env python3
"""Writes a valid campaign of about N lines shaped like the examples, for the `qdx lsp` benchmark.

`gen_10k.py` grows a campaign by its pumps: hundreds of pumps into one mixer, which is the
worst case of the validator's steady-state wait proof (every pump's way to the cell sums every
other pump's rate, so its cost grows with the square of the pumps). This one keeps the
reactor of `examples/cspbx3-orange.qdx` (three pumps, a heated coil, one cell) and grows
what a long hand-written campaign has more of: parameters with comments, derived values, the
safety limits on them, and proxy formulas. Deterministic: the same N gives the same file.

    python3 bench/gen_lsp.py 2000 > c.qdx
"""
import sys

target = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
head = '''qdx 1

// A long campaign for the language server benchmark: the orange halide-exchange rig, with
// many named values, limits and proxies.

campaign "lsp-bench" {
  description "Generated for bench/lsp_latency.py"
  seed 7
  budget { experiments 60, reagent total 40 mL, time 10 h }
}

use std.devices
use std.spectra
use std.reference

stocks {
  seeds "CsPbBr3 nanocrystals in toluene" in p_seed { concentration 0.01 mol/L }
  iodide "ZnI2 in oleylamine/toluene" in p_iodide { concentration 0.05 mol/L, halide "I" }
  ligand "oleylamine in toluene" in p_ligand { concentration 0.1 mol/L }
}

reactor {
  pump p_seed : syringe_pump { syringe 10 mL, max_rate 2 mL/min }
  pump p_iodide : syringe_pump { syringe 10 mL, max_rate 2 mL/min }
  pump p_ligand : syringe_pump { syringe 5 mL, max_rate 1 mL/min }
  mixer m1 : cross_mixer { volume 2 uL }
  coil r1 : reactor_coil { volume 100 uL, heater h1 }
  heater h1 : heater { range 20 degC .. 120 degC }
  cell s1 : flow_cell { volume 5 uL, path_length 1 mm, spectrometer spec1 }
  spectrometer spec1 : uv_vis_pl { range 350 nm .. 800 nm }
  outlet waste : collector

  p_seed, p_iodide, p_ligand -> m1 -> r1 -> s1 -> waste
}

variables {
  residence : time in 5 s .. 60 s
  iodide_frac : ratio in 0.0 .. 0.6 // share of iodide in the halide feed
  ligand_frac : ratio in 0.0 .. 0.3
  temperature : temperature in 25 degC .. 80 degC -> h1
}
'''
tail_fixed = '''
measure at s1 {
  steady_state after 3 reactor_volumes
  settle within 0.5 degC for 20 s
  absorbance { integration 50 ms, average 5 }
  photoluminescence { integration 100 ms, average 5 }
}

objectives {
  target peak = 600 nm within 5 nm
  maximize plqy in 0.2 .. 0.9
  combine desirability { peak 2, plqy 1 }
}

optimizer bayesian {
  initial sobol 10
  batch 1
}
'''


def campaign(n):
    """The campaign with `n` units of 7 lines each: a parameter with its comment, a derived
    value with its comment, a safety limit on it, a proxy formula with its comment."""
    out = [head, "\nparameters {\n"]
    for i in range(n):
        out.append(f"  // dilution factor of line {i}\n  k{i} = {1 + (i % 97) / 1000:.3f}\n")
    out.append("}\n\nderive {\n  total_flow = r1.volume / residence\n")
    out.append("  p_iodide.rate = total_flow * iodide_frac\n  p_ligand.rate = total_flow * ligand_frac\n")
    out.append("  p_seed.rate = total_flow - p_iodide.rate - p_ligand.rate\n")
    for i in range(n):
        out.append(f"  // the flow of line {i}, scaled\n  q{i} = total_flow * k{i}\n")
    out.append("}\n\nconstraints {\n  p_seed.rate >= 5 uL/min\n}\n\nsafety {\n  temperature <= 90 degC\n")
    for i in range(n):
        out.append(f"  q{i} <= 3 mL/min\n")
    out.append("  safe h1 = 25 degC\n  on pump_stall : stop_all, pause\n}\n")
    out.append("\nproxies {\n  peak = photoluminescence.peak_wavelength()\n  fwhm = photoluminescence.fwhm()\n")
    out.append("  plqy = relative_plqy(photoluminescence, absorbance, excitation: 365 nm, reference: std.reference.coumarin153)\n")
    for i in range(n):
        out.append(f"  // a line-shape score, {i}\n  f{i} = fwhm / peak * {1 + i / 100:.2f}\n")
    out.append("}\n")
    out.append(tail_fixed)
    out.append("\nsimulate cspbx3_halide_exchange { seeds seeds, halide iodide, ligand ligand }\n")
    return "".join(out)


base = campaign(0).count("\n")
sys.stdout.write(campaign(max(1, (target - base) // 7)))
