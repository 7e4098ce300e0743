"""Read qdx result bundles into pandas, and call the qdx command line.

A bundle describes itself in ``datapackage.json`` (a Frictionless Data Package): every
column's type and unit come from there, so nothing here guesses a dtype from the values or
parses a ``.qdx`` file.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

import pandas as pd

__all__ = ["Bundle", "QdxError", "check", "load", "run"]

# Table Schema types to pandas dtypes (nullable, so an empty cell is a missing value and an
# integer column stays integer).
_DTYPES = {"integer": "Int64", "number": "float64", "string": "string", "boolean": "boolean"}


# The axis columns a spectrum file can have, with their units (`src/files/spectrum.rs`).
_AXIS_UNITS: Dict[str, str] = {"wavelength_nm": "nm", "q_per_nm": "1/nm"}

class QdxError(Exception):
    """The qdx command failed; ``returncode`` and ``stderr`` say how."""

    def __init__(self, message: str, returncode: int, stderr: str):
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


def _read_table(path: Path, fields: List[Dict[str, Any]]) -> pd.DataFrame:
    """A CSV read as text, then typed column by column as its schema says."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    names = [f["name"] for f in fields]
    if list(frame.columns) != names:
        raise ValueError(f"{path}: columns {list(frame.columns)} differ from the descriptor's {names}")
    for f in fields:
        column = frame[f["name"]].replace("", pd.NA)
        kind = f.get("type", "string")
        if kind == "boolean":
            column = column.map({"true": True, "false": False}, na_action="ignore")
        elif kind in ("integer", "number"):
            column = pd.to_numeric(column)
        frame[f["name"]] = column.astype(_DTYPES.get(kind, "string"))
    return frame


class Bundle:
    """A result bundle: the folder a ``qdx run`` wrote."""

    def __init__(self, folder: os.PathLike | str):
        self.folder = Path(folder)
        descriptor = self.folder / "datapackage.json"
        if not descriptor.is_file():
            raise FileNotFoundError(f"{self.folder} holds no datapackage.json (is it a qdx bundle?)")
        self.descriptor: Dict[str, Any] = json.loads(descriptor.read_text(encoding="utf-8"))
        self._resources = {r["name"]: r for r in self.descriptor["resources"]}
        obs = self._resources["observations"]
        fields = obs["schema"]["fields"]
        self.observations = _read_table(self.folder / obs["path"], fields)
        self.units: Dict[str, str] = {f["name"]: f.get("unit", "") for f in fields}
        self.observations.attrs["units"] = dict(self.units)
        spectra = self._resources["spectra"]
        self.spectra = _read_table(self.folder / spectra["path"], spectra["schema"]["fields"])

        # A transient campaign's readings: one row per reading of a ramp, with the conditions
        # its spectrum maps to (absent for other campaigns).
        transient = self._resources.get("transient")
        self.transient: Optional[pd.DataFrame] = None
        if transient is not None:
            fields = transient["schema"]["fields"]
            self.transient = _read_table(self.folder / transient["path"], fields)
            self.transient.attrs["units"] = {f["name"]: f.get("unit", "") for f in fields}
        # A droplet campaign's droplets: one row per droplet of a train, with its volume,
        # entry, arrival and residence from the journal, its reading and proxies (absent for
        # other campaigns).
        droplets = self._resources.get("droplets")
        self.droplets: Optional[pd.DataFrame] = None
        if droplets is not None:
            fields = droplets["schema"]["fields"]
            self.droplets = _read_table(self.folder / droplets["path"], fields)
            self.droplets.attrs["units"] = {f["name"]: f.get("unit", "") for f in fields}
        # A mapping campaign's map (`map peak until sd <= 2 nm`): a grid over the variables with
        # the mapped proxy's mean and sd, in the campaign's units (absent for other campaigns).
        mapped = self._resources.get("map")
        self.map: Optional[pd.DataFrame] = None
        if mapped is not None and (self.folder / mapped["path"]).exists():
            fields = mapped["schema"]["fields"]
            self.map = _read_table(self.folder / mapped["path"], fields)
            self.map.attrs["units"] = {f["name"]: f.get("unit", "") for f in fields}

    def spectrum(
        self, experiment: int, channel: str, replicate: int = 0, tick: Optional[int] = None
    ) -> pd.DataFrame:
        """One spectrum of an experiment: its axis and the quantity its header names. The axis
        column is the file's first: ``wavelength_nm`` (nm) for optical and CD spectra,
        ``q_per_nm`` (1/nm) for a SAXS pattern; ``frame.attrs["units"]`` gives its unit.
        For a transient campaign, ``tick`` names the reading of the ramp (a row of its array)."""
        rows = self.spectra[
            (self.spectra["experiment"] == experiment)
            & (self.spectra["channel"] == channel)
            & (self.spectra["replicate"] == replicate)
        ]
        if tick is not None and "tick" in self.spectra.columns:
            rows = rows[rows["tick"] == tick]
        if rows.empty:
            raise KeyError(f"no {channel} spectrum, replicate {replicate}, of experiment {experiment}")
        file = rows["file"].iloc[0]
        if file.endswith(".npy"):
            axis, counts = self.ramp(experiment, channel)
            row = int(rows["tick"].iloc[0])
            frame = pd.DataFrame({self._axis_name(file): axis, "counts": counts[row]})
        else:
            frame = pd.read_csv(self.folder / file)
        axis_name = str(frame.columns[0])
        frame.attrs["units"] = {axis_name: _AXIS_UNITS.get(axis_name, "")}
        return frame

    def _axis_name(self, stack: str) -> str:
        """The axis a ramp's array is stored over: the one whose file lies beside it."""
        stem = (self.folder / stack).with_suffix("")
        for name in _AXIS_UNITS:
            if stem.with_name(stem.name + f"-{name}.npy").exists():
                return name
        raise KeyError(f"no axis file beside {stack}")

    def ramp(self, experiment: int, channel: str):
        """A transient experiment's readings of one channel: the axis (wavelength in nm, or q in
        1/nm for SAXS) and the (reading x pixel) array of values as acquired, both numpy arrays
        (row ``k`` is ``tick`` k)."""
        import numpy as np

        rows = self.spectra[
            (self.spectra["experiment"] == experiment) & (self.spectra["channel"] == channel)
        ]
        files = [f for f in rows["file"] if f.endswith(".npy")]
        if not files:
            raise KeyError(f"no {channel} ramp in experiment {experiment}")
        stack = self.folder / files[0]
        axis = stack.with_name(stack.stem + f"-{self._axis_name(files[0])}.npy")
        return np.load(axis), np.load(stack)

    def journal(self) -> List[Dict[str, Any]]:
        """Every record of ``journal.jsonl``, in order (every number in SI: see ``journal_units``)."""
        path = self.folder / self._resources["journal"]["path"]
        with path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    @property
    def journal_units(self) -> Dict[str, Any]:
        """The SI unit of every number the journal holds, as the descriptor states it:
        ``"command.set_rate.rate"`` (by event, command and field), ``"measured.proxies"``
        and ``"measured.settings"`` (name to unit), ``"suggested.values"`` (one
        ``{"name", "unit"}`` per variable, in the order of ``values``)."""
        return dict(self._resources["journal"].get("units", {}))

    def __repr__(self) -> str:
        return f"Bundle({str(self.folder)!r}, {len(self.observations)} experiments)"


def load(folder: os.PathLike | str) -> Bundle:
    """The bundle in ``folder``."""
    return Bundle(folder)


def _qdx() -> str:
    return os.environ.get("QDX", "qdx")


def check(path: os.PathLike | str) -> List[Dict[str, Any]]:
    """The diagnostics of ``qdx check --format json`` (empty when the file checks clean)."""
    done = subprocess.run(
        [_qdx(), "check", "--format", "json", str(path)], capture_output=True, text=True
    )
    if done.returncode not in (0, 1):
        raise QdxError(f"qdx check exited {done.returncode}", done.returncode, done.stderr)
    return json.loads(done.stdout)["diagnostics"]


def run(
    path: os.PathLike | str, out: Optional[os.PathLike | str] = None, seed: Optional[int] = None
) -> Bundle:
    """Runs a campaign (on the simulated lab) and returns the bundle it wrote."""
    args = [_qdx(), "run", "--format", "json", str(path)]
    if out is not None:
        args += ["--out", str(out)]
    if seed is not None:
        args += ["--seed", str(seed)]
    done = subprocess.run(args, capture_output=True, text=True)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    finished = [e for e in events if e.get("event") == "finished"]
    if not finished:
        raise QdxError(f"qdx run exited {done.returncode}: {done.stderr.strip()}", done.returncode, done.stderr)
    return Bundle(finished[-1]["bundle"])
