"""The cluster pattern: one participant-level process per participant, all into one output directory."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_four_concurrent_participant_jobs_share_one_output(tmp_path):
    from bids_app.simulate import SimulationOptions, simulate_dataset
    from tests.helpers import validate

    bids = simulate_dataset(tmp_path / "bids", options=SimulationOptions(subjects=4, duration_s=240, seed=6))
    out = tmp_path / "out"
    jobs = [subprocess.Popen([sys.executable, str(ROOT / "run.py"), str(bids), str(out), "participant",
                              "--participant_label", f"{k:02d}", "--skip_bids_validator"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for k in range(1, 5)]
    results = [job.communicate(timeout=300) + (job.returncode,) for job in jobs]
    assert [code for _, _, code in results] == [0, 0, 0, 0], [err for _, err, _ in results]
    for k in range(1, 5):
        folder = out / f"sub-{k:02d}" / "nirs"
        # design, 4 statistics tables, QC, anatomy and label shares, each with its sidecar
        assert len(list(folder.glob("*.tsv"))) == 8 and len(list(folder.glob("*.json"))) == 8
    assert len(list((out / "logs").glob("participant_*.json"))) == 4
    assert json.loads((out / "dataset_description.json").read_text())["DatasetType"] == "derivative"
    assert not list(out.rglob("*.tmp"))
    assert validate(out)[1] == []
