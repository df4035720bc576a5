"""Shared fixtures: the bundled example dataset, writable copies of it, and running the CLI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from bids_app.cli import main

TESTS = Path(__file__).resolve().parent
EXAMPLE = TESTS / "data" / "grptap"  # sub-01 ses-01/02, sub-02 ses-01 of the Homer3 GrpTap example
SHARED_DATA = TESTS.parent.parent / "shared" / "data"


@pytest.fixture
def example_copy(tmp_path) -> Path:
    """A writable copy of the bundled example dataset, for tests that break it on purpose."""
    target = tmp_path / "bids"
    shutil.copytree(EXAMPLE, target)
    return target


@pytest.fixture
def run_cli(capsys):
    """Run the app in-process; returns (exit code, stdout, stderr)."""

    def run(*argv) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


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


@pytest.fixture(scope="session")
def simulated(tmp_path_factory):
    """Participant and group level on a simulated 5-participant tapping study (10-min recordings),
    with a contrast and q-masked group maps; shared by the group and report tests."""
    from bids_app.cli import main
    from bids_app.simulate import SimulationOptions, simulate_dataset

    root = tmp_path_factory.mktemp("group")
    bids = simulate_dataset(root / "bids", options=SimulationOptions(subjects=5, duration_s=600, seed=4))
    out = root / "out"
    assert main([str(bids), str(out), "participant", "--n_cpus", "2", "--skip_bids_validator",
                 "--contrast", "Tapping/Left - Tapping/Right"]) == 0
    assert main([str(bids), str(out), "group", "--topomap-q-threshold", "0.05"]) == 0
    return bids, out
