"""Shared fixtures: writable copies of the bundled example dataset, running the CLI, the bundled recording
assessed in memory, and a simulated study analysed at both levels. Shared helpers: tests/helpers.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bids_app.cli import main
from tests.helpers import EXAMPLE, assess, read_example


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


@pytest.fixture(scope="session")
def _example_read():
    return read_example()


@pytest.fixture
def example_recording(_example_read):
    """(raw intensity, channels.tsv table) of the bundled sub-01 ses-01, read once: copies, free to modify."""
    raw, channels = _example_read
    return raw.copy(), channels.copy()


@pytest.fixture(scope="session")
def example_assessed(_example_read):
    """(QC table, optical density, warnings) of the bundled sub-01 ses-01 with the default options; shared:
    do not modify (copy the optical density first)."""
    raw, channels = _example_read
    return assess(raw.copy(), channels.copy())
