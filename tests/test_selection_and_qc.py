"""Entities carried into output names, run filters, and channels rejected by scalp coupling or peak spectral power."""

import shutil

import pandas as pd
import pytest

ONE = ["--participant_label", "01", "--session_label", "01", "--skip_bids_validator"]


@pytest.mark.slow
def test_acq_and_run_entities_are_kept_and_filtered(example_copy, run_cli, tmp_path):
    nirs = example_copy / "sub-01" / "ses-01" / "nirs"
    for path in nirs.glob("sub-01_ses-01_task-tapping_*"):
        for run in ("01", "02"):
            target = path.name.replace("task-tapping_", f"task-tapping_acq-hi_run-{run}_")
            shutil.copy(path, nirs / target)
        path.unlink()
    (example_copy / "sub-01" / "ses-01" / "sub-01_ses-01_scans.tsv").unlink()
    code, _, err = run_cli(example_copy, tmp_path / "out", "participant", *ONE, "--run_label", "run-02")
    assert code == 0, err
    written = sorted(p.name for p in (tmp_path / "out/sub-01/ses-01/nirs").iterdir())
    assert "sub-01_ses-01_task-tapping_acq-hi_run-02_desc-channel_stats.tsv" in written
    assert all("_run-02_" in name for name in written), written


@pytest.mark.slow
@pytest.mark.parametrize("flag, column, label, sidecar_key", [
    ("--sci-threshold", "sci", "scalp coupling index", "SCIThreshold"),
    ("--psp-threshold", "psp", "peak spectral power", "PSPThreshold"),
])
def test_low_quality_channels_are_excluded(run_cli, tmp_path, flag, column, label, sidecar_key):
    """Pairs below the threshold are bad with the reason, left out of the tables; the threshold is recorded
    in the QC sidecar and the report's quality line counts the pairs by reason."""
    import json

    from tests.helpers import EXAMPLE

    threshold = {"sci": 0.9, "psp": 0.5}[column]
    code, _, err = run_cli(EXAMPLE, tmp_path, "participant", *ONE, flag, str(threshold))
    assert code == 0, err
    folder = tmp_path / "sub-01/ses-01/nirs"
    qc = pd.read_csv(folder / "sub-01_ses-01_task-tapping_desc-qc_channels.tsv", sep="\t")
    low = qc[qc[column] < threshold]
    assert len(low) > 0 and (low["status"] == "bad").all()
    assert low["status_description"].str.fullmatch(rf"{label} 0\.\d{{3}} < {threshold}").all()
    assert (qc.loc[qc[column] >= threshold, "status"] == "good").all()
    stats = pd.read_csv(folder / "sub-01_ses-01_task-tapping_desc-channel_stats.tsv", sep="\t")
    bad_pairs = set(low["name"].str.split(" ").str[0])
    assert not set(stats["ch_name"].str.split(" ").str[0]) & bad_pairs
    good_long = qc[(qc["role"] == "long") & (qc["status"] == "good")]
    assert len(stats) == len(good_long)  # 2 wavelengths -> 2 chromas, one condition
    assert json.loads((folder / "sub-01_ses-01_task-tapping_desc-qc_channels.json").read_text())[
        sidecar_key] == threshold
    report = (tmp_path / "sub-01.html").read_text()
    assert (f"Data quality</dt><dd>{len(bad_pairs)} of 51 pairs bad ({label} &lt; {threshold}: "
            f"{len(bad_pairs)}); median over the pairs: ") in report
