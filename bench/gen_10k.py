#!/usr/bin/env python3
"""Writes a valid campaign of about 10,000 lines for the `qdx check` benchmark.

A reactor with N syringe pumps feeding one mixer, each with its stock, its connection line, and
a rate derived from the variables (so the validator proves N bounds), plus parameters, proxy
formulas and comment lines. Deterministic: the same N gives the same file.
"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1400
out = sys.stdout
w = out.write
w("qdx 1\n\n")
w('campaign "check-bench" {\n  description "A large generated campaign for the qdx check benchmark."\n  seed 1\n  budget { experiments 100 }\n}\n\n')
w("use std.devices\nuse std.spectra\n\n")
w("stocks {\n")
for i in range(n):
    w(f'  // stock {i}: one of many precursor solutions\n')
    w(f'  s{i} "precursor {i}" in p{i} {{ concentration {0.01 + i * 1e-5:.5f} mol/L }}\n')
w("}\n\nreactor {\n")
for i in range(n):
    w(f"  pump p{i} : syringe_pump {{ syringe 10 mL, max_rate 1 mL/min }}\n")
w("  mixer m1 : cross_mixer { volume 5 uL }\n")
w("  coil r1 : reactor_coil { volume 500 uL, heater h1 }\n")
w("  heater h1 : heater { range 20 degC .. 200 degC }\n")
w("  cell c1 : flow_cell { volume 2 uL, spectrometer spec1 }\n")
w("  spectrometer spec1 : uv_vis_pl { range 350 nm .. 800 nm, excitation 365 nm }\n")
w("  outlet waste : collector\n\n")
for i in range(n):
    w(f"  p{i} -> m1\n")
w("  m1 -> r1 -> c1 -> waste\n}\n\n")
w("variables {\n  residence : time in 30 s .. 300 s\n  share : ratio in 0.2 .. 0.8\n  temperature : temperature in 40 degC .. 150 degC -> h1\n}\n\n")
w("derive {\n  total_flow = r1.volume / residence\n")
for i in range(n):
    w(f"  // pump {i} gets its slice of the flow\n")
    w(f"  p{i}.rate = total_flow * share / {n}\n")
w("}\n\nmeasure at c1 {\n  steady_state after 3 reactor_volumes\n  photoluminescence { integration 100 ms, average 5 }\n}\n\n")
w("proxies {\n  peak = photoluminescence.peak_wavelength()\n")
for i in range(200):
    w(f"  f{i} = peak / 1 nm * {1 + i / 100:.2f}\n")
w("}\n\nobjectives {\n  target peak = 560 nm within 5 nm\n}\n\noptimizer sobol\n")
