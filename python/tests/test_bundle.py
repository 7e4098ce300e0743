"""The Python reader against bundles the qdx binary writes (QDX names the binary)."""

import os
import shutil
import tempfile
import unittest
from pathlib import Path

import qdx

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "cli" / "tiny.qdx"


class BundleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp())
        shutil.copy(TINY, cls.tmp / "tiny.qdx")
        cls.bundle = qdx.run(cls.tmp / "tiny.qdx", out=cls.tmp / "b")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_three_lines_load_every_table_and_spectrum_with_units(self):
        b = qdx.load(self.tmp / "b")
        self.assertEqual(len(b.observations), 2)
        self.assertEqual(b.units["temperature [degC]"], "degC")
        self.assertEqual(b.units["p_cd.rate [uL/min]"], "uL/min")
        self.assertEqual(b.observations.attrs["units"]["peak [nm]"], "nm")
        # Every experiment's spectra are reachable from its row.
        for experiment in b.observations["experiment"]:
            pl = b.spectrum(int(experiment), "photoluminescence")
            self.assertEqual(list(pl.columns), ["wavelength_nm", "counts"])
            self.assertGreater(len(pl), 10)
        with self.assertRaises(KeyError):
            b.spectrum(99, "photoluminescence")

    def test_columns_are_typed_by_the_descriptor_not_by_their_values(self):
        obs = self.bundle.observations
        self.assertEqual(str(obs["experiment"].dtype), "Int64")
        self.assertEqual(str(obs["status"].dtype), "string")
        self.assertEqual(str(obs["peak [nm]"].dtype), "float64")
        # Every reason is empty in this run: still text, not a column of floats.
        self.assertEqual(str(obs["reason"].dtype), "string")
        self.assertTrue(obs["reason"].isna().all())
        self.assertEqual(list(obs["temperature [degC]"]), [260.0, 280.0])
        self.assertEqual(list(obs["p_cd.rate [uL/min]"]), [75.0, 75.0])

    def test_the_spectra_index_and_the_journal_number_replicates_alike(self):
        replicates = set(self.bundle.spectra["replicate"])
        acquired = {
            (r["experiment"], r["channel"], r["replicate"], r["file"])
            for r in self.bundle.journal()
            if r["event"] == "acquired"
        }
        self.assertEqual(replicates, {0})
        indexed = set(self.bundle.spectra.itertuples(index=False, name=None))
        self.assertEqual(indexed, acquired)
        for f in self.bundle.spectra["file"]:
            self.assertTrue(f.endswith("-r0.csv"), f)

    def test_every_number_of_the_journal_has_its_unit_in_the_descriptor(self):
        units = self.bundle.journal_units
        self.assertEqual(units["t"], "s")
        self.assertEqual(units["command.set_rate.rate"], "m³·s⁻¹")
        self.assertEqual(units["command.set_setpoint.kelvin"], "K")
        names = [v["name"] for v in units["suggested.values"]]
        for r in self.bundle.journal():
            if r["event"] == "suggested":
                self.assertEqual(len(r["values"]), len(names))
            if r["event"] == "measured":
                for name in r["proxies"]:
                    self.assertIn(name, units["measured.proxies"])
                for name in r.get("settings", {}):
                    self.assertIn(name, units["measured.settings"])
        self.assertEqual(units["measured.proxies"]["peak"], "m")

    def test_a_transient_campaign_reads_its_ramps_and_their_conditions(self):
        text = (ROOT / "examples" / "cdse-transient.qdx").read_text(encoding="utf-8")
        path = self.tmp / "transient.qdx"
        path.write_text(text.replace("experiments 6,", "experiments 3,"), encoding="utf-8")
        b = qdx.run(path, out=self.tmp / "t")
        self.assertEqual(len(b.observations), 3)
        readings = b.transient
        self.assertEqual(len(readings), 3 * 61)
        self.assertEqual(readings.attrs["units"]["total_flow [uL/min]"], "uL/min")
        wavelengths, counts = b.ramp(1, "photoluminescence")
        self.assertEqual(counts.shape, (61, len(wavelengths)))
        one = b.spectrum(1, "photoluminescence", tick=12)
        self.assertEqual(list(one["counts"]), list(counts[12]))
        first = readings[(readings["experiment"] == 1) & (readings["tick"] == 0)]
        self.assertAlmostEqual(float(first["total_flow [uL/min]"].iloc[0]), 40.0, places=6)

    def test_a_transient_campaign_mapped_by_axial_dispersion_reads_each_reading_s_spread(self):
        text = (ROOT / "examples" / "cdse-transient.qdx").read_text(encoding="utf-8")
        path = self.tmp / "dispersed.qdx"
        dispersed = text.replace("experiments 6,", "experiments 3,").replace(
            "    residence plug_flow\n",
            "    residence axial_dispersion\n    diffusivity 1e-9 m^2/s\n    diameter 0.5 mm\n",
        )
        path.write_text(dispersed, encoding="utf-8")
        b = qdx.run(path, out=self.tmp / "x")
        readings = b.transient
        self.assertEqual(len(readings), 3 * 61)
        self.assertEqual(readings.attrs["units"]["residence spread [s]"], "s")
        spread = readings["residence spread [s]"]
        residence = readings["residence [s]"]
        self.assertTrue(((spread > 0) & (spread < residence)).all())
        # The mean residence at the ramp's start is the plug-flow one, V/Q: the 46.5 uL from
        # the mixer through the cell (0.5 + 40 + 5 + 1) at 40 uL/min, as the plug-flow mapping.
        self.assertAlmostEqual(float(residence.iloc[0]), 69.75, delta=0.1)

    def test_a_droplet_campaign_reads_one_row_per_droplet(self):
        text = (ROOT / "examples" / "abdel-latif-2021-droplet.qdx").read_text(encoding="utf-8")
        path = self.tmp / "droplet.qdx"
        short = text.replace("experiments 4,", "experiments 1,").replace("initial sobol 3", "initial sobol 1")
        path.write_text(short, encoding="utf-8")
        b = qdx.run(path, out=self.tmp / "d")
        self.assertEqual(len(b.observations), 1)
        self.assertEqual(list(b.droplets["droplet"]), [0, 1, 2, 3])
        self.assertEqual(b.droplets.attrs["units"]["residence [s]"], "s")
        tick = int(b.droplets["tick"].iloc[0])
        one = b.spectrum(0, "absorbance", tick=tick)
        self.assertGreater(len(one), 0)
        self.assertIsNone(qdx.load(self.tmp / "d").transient)

    def test_a_mapping_campaign_reads_its_map(self):
        b = qdx.run(ROOT / "examples" / "maceiczyk-2014-map.qdx", out=self.tmp / "m")
        self.assertEqual(
            list(b.map.columns),
            ["residence [min]", "se_fraction", "peak mean [nm]", "peak sd [nm]"],
        )
        self.assertEqual(b.map.attrs["units"]["peak sd [nm]"], "nm")
        self.assertLessEqual(float(b.map["peak sd [nm]"].max()), 1.5)
        self.assertIsNone(qdx.load(self.tmp / "b").map)

    def test_check_returns_located_diagnostics(self):
        broken = self.tmp / "broken.qdx"
        broken.write_text(TINY.read_text().replace("temperature <= 310 degC", "temperature <= 310 mL"))
        diagnostics = qdx.check(broken)
        self.assertTrue(any(d["severity"] == "error" and d["line"] for d in diagnostics), diagnostics)
        self.assertEqual(qdx.check(TINY), [])

    def test_a_folder_that_is_not_a_bundle_is_refused(self):
        with self.assertRaises(FileNotFoundError):
            qdx.load(self.tmp)


if __name__ == "__main__":
    unittest.main()


class AxisTest(unittest.TestCase):
    """Issue 20: a SAXS pattern is read over q, a CD spectrum in mdeg over wavelength."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp())
        examples = ROOT / "examples"
        cls.saxs = qdx.run(examples / "fong-2021-saxs.qdx", out=cls.tmp / "saxs")
        cls.cd = qdx.run(examples / "li-2020-cd.qdx", out=cls.tmp / "cd")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_a_saxs_pattern_is_read_over_q(self):
        frame = self.saxs.spectrum(0, "saxs")
        self.assertEqual(list(frame.columns), ["q_per_nm", "counts_per_s"])
        self.assertEqual(frame.attrs["units"], {"q_per_nm": "1/nm"})
        self.assertAlmostEqual(frame["q_per_nm"].iloc[0], 0.05)
        # I(q) falls from the lowest q: particles, not a flat background.
        self.assertGreater(frame["counts_per_s"].iloc[0], 10 * frame["counts_per_s"].iloc[-1])

    def test_a_cd_spectrum_is_read_in_mdeg_over_wavelength(self):
        frame = self.cd.spectrum(0, "circular_dichroism")
        self.assertEqual(list(frame.columns), ["wavelength_nm", "mdeg"])
        self.assertEqual(frame.attrs["units"], {"wavelength_nm": "nm"})
        absorbance = self.cd.spectrum(0, "absorbance")
        self.assertEqual(list(absorbance.columns), ["wavelength_nm", "counts"])
