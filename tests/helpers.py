"""Helpers shared by the test files (fixtures live in conftest.py): paths of the bundled data, the BIDS
validator, R metafor, checksums, the MNE-NIRS tutorial pipeline as a reference, and small in-memory inputs
of the first-level science (options, haemoglobin signals, the bundled recording loaded without the CLI)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
EXAMPLE = TESTS / "data" / "grptap"  # sub-01 ses-01/02, sub-02 ses-01 of the Homer3 GrpTap example
SHARED_DATA = REPO.parent / "shared" / "data"


def validate(directory: Path) -> tuple[int, list[dict]]:
    """(exit code, errors) of the official BIDS validator, found as the app finds it."""
    from bids_app.validation import find_validator

    validator = find_validator()
    assert validator, "bids-validator-deno is a test requirement: pip install -r requirements-test.txt"
    done = subprocess.run([validator, "--format", "json", str(directory)], capture_output=True, text=True,
                          check=False, env={**os.environ, "DENO_DIR": os.environ.get("DENO_DIR", "/tmp/deno")})
    issues = json.loads(done.stdout)["issues"]["issues"]
    return done.returncode, [i for i in issues if i["severity"] == "error"]


def rscript(code: str, data: pd.DataFrame) -> pd.DataFrame:
    """Run R ``code`` with ``d`` = ``data`` and metafor loaded; the code prints a CSV table, returned as a
    DataFrame. Under CI (CI=true) a missing Rscript or metafor fails the test; elsewhere it is skipped."""
    def unavailable(reason):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: CI must install r-base-core and r-cran-metafor (.ci/run)")
        pytest.skip(reason)

    if shutil.which("Rscript") is None:
        unavailable("Rscript not found")
    if subprocess.run(["Rscript", "-e", "library(metafor)"], capture_output=True, check=False).returncode:
        unavailable("R package metafor not installed")
    done = subprocess.run(["Rscript", "-e", "d <- read.csv(file('stdin'), stringsAsFactors = FALSE)\n"
                           "suppressMessages(library(metafor))\n" + code],
                          input=data.to_csv(index=False), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(io.StringIO(done.stdout))


def tree_checksum(root: Path) -> dict[str, str]:
    """Content hash and mode of every file below ``root`` (to prove an input is unchanged)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def tutorial_channel_stats(bids_path, *, resample_hz=0.3, stim_dur=5.0, noise_model="ar1", ppf=6.0, bins=0):
    """The MNE-NIRS tutorial pipeline ("Group Level GLM") as a reference: mne-nirs
    run_glm(...).to_dataframe() on one recording, as the tutorial writes it."""
    import mne_bids
    from mne.preprocessing.nirs import beer_lambert_law, optical_density
    from mne_nirs.channels import get_long_channels, get_short_channels
    from mne_nirs.experimental_design import make_first_level_design_matrix
    from mne_nirs.statistics import run_glm

    raw = mne_bids.read_raw_bids(bids_path, verbose="error")
    haemo = beer_lambert_law(optical_density(raw), ppf=ppf)
    haemo.resample(resample_hz)
    short = get_short_channels(haemo)
    haemo = get_long_channels(haemo)
    design = make_first_level_design_matrix(haemo, stim_dur=stim_dur)
    design["ShortHbO"] = np.mean(short.copy().pick(picks="hbo").get_data(), axis=0)
    design["ShortHbR"] = np.mean(short.copy().pick(picks="hbr").get_data(), axis=0)
    glm = run_glm(haemo, design, noise_model=noise_model, bins=bins)
    return glm.to_dataframe()


# --- the first-level science in memory ---------------------------------------------------------------------
# Every import of bids_app below names a function or class the in-memory tests use, so that a move of one
# of them is remapped here once.

def options(**changes):
    """First-level analysis options: the defaults with ``changes``."""
    from bids_app.options import FirstLevelOptions

    return FirstLevelOptions(**changes)


def example_path(subject: str = "01", session: str = "01", root: Path = EXAMPLE):
    """The BIDSPath of a bundled recording (sub-01 ses-01/02, sub-02 ses-01)."""
    import mne_bids

    return mne_bids.BIDSPath(subject=subject, session=session, task="tapping", datatype="nirs", suffix="nirs",
                             extension=".snirf", root=root)


def read_example(subject: str = "01", session: str = "01"):
    """(raw intensity, channels.tsv table) of a bundled recording, read as the app reads them."""
    from bids_app.inputs import read_channels_tsv, read_raw_intensity

    bids_path = example_path(subject, session)
    return read_raw_intensity(bids_path), read_channels_tsv(bids_path)


def assess(raw, channels: pd.DataFrame, **changes):
    """(QC table, optical density, warnings) of ``raw`` (modified in place, as the app does)."""
    from bids_app.first_level.preprocessing import assess_channels

    warnings: list[str] = []
    qc, od = assess_channels(raw, channels, options=options(**changes), warn=warnings.append)
    return qc, od, warnings


def haemoglobin(od, qc: pd.DataFrame, **changes):
    """The Haemoglobin signals of optical density ``od`` (a copy: resampling works in place)."""
    from bids_app.first_level.preprocessing import to_haemoglobin

    return to_haemoglobin(od.copy(), qc, options=options(**changes))


def make_haemo(data: np.ndarray, *, ch_names: list[str], role: list[str], sfreq: float = 1.0,
               native_sfreq: float | None = None, x_position=None):
    """A Haemoglobin value of ``data`` (n_times, n_channels) with channels named "S1_D1 hbo"; pairs and chroma
    come from the names. ``native_sfreq`` (default ``sfreq``): the rate before resampling."""
    from bids_app.first_level.preprocessing import Haemoglobin

    native_sfreq = sfreq if native_sfreq is None else native_sfreq
    n_native = int(np.floor((len(data) - 1) * native_sfreq / sfreq + 1e-9)) + 1  # polyphase: n samples from it
    return Haemoglobin(data=np.asarray(data, dtype=float), times=np.arange(len(data)) / sfreq, sfreq=sfreq,
                       native_sfreq=native_sfreq, native_times=np.arange(n_native) / native_sfreq,
                       ch_names=list(ch_names), pairs=[n.split(" ")[0] for n in ch_names],
                       chroma=[n.split(" ")[1] for n in ch_names], role=list(role),
                       x_position=np.zeros(len(ch_names)) if x_position is None else np.asarray(x_position, float))


def write_events(folder: Path, rows: str, *, header: str = "onset\tduration\ttrial_type"):
    """A one-recording BIDS folder whose events.tsv holds ``rows`` (tab-separated lines); returns the
    BIDSPath of its (absent) recording, as read_events takes it."""
    import mne_bids

    nirs = folder / "sub-01" / "nirs"
    nirs.mkdir(parents=True, exist_ok=True)
    (nirs / "sub-01_task-x_events.tsv").write_text(header + "\n" + rows.strip("\n") + "\n")
    return mne_bids.BIDSPath(subject="01", task="x", datatype="nirs", suffix="nirs", extension=".snirf",
                             root=folder)
