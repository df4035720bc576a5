"""Regions of interest: defaults from the montage, files, and the averaged-signal estimate."""

import json

import numpy as np
import pandas as pd
import pytest

from bids_app.errors import RecordingError
from bids_app.first_level.preprocessing import Haemoglobin
from bids_app.first_level.rois import resolve_rois, roi_signal_indices
from tests.helpers import EXAMPLE


def _haemo(pairs_x):
    pairs = [p for p in pairs_x for _ in range(2)]
    return Haemoglobin(data=np.zeros((5, len(pairs))), times=np.arange(5.0), sfreq=1.0, native_sfreq=1.0,
                       native_times=np.arange(5.0),
                       ch_names=[f"{p} {c}" for p in pairs_x for c in ("hbo", "hbr")], pairs=pairs,
                       chroma=["hbo", "hbr"] * len(pairs_x), role=["long"] * len(pairs),
                       x_position=np.repeat(list(pairs_x.values()), 2))


def test_head_coordinates_split_hemispheres():
    haemo = _haemo({"S1_D1": -0.05, "S2_D1": -0.04, "S3_D3": 0.05})
    rois = resolve_rois(roi_definitions=None, long_pairs=["S1_D1", "S2_D1", "S3_D3"], haemo=haemo,
                        coordinate_system="CapTrak", source="x")
    assert rois == {"left_hemisphere": ["S1_D1", "S2_D1"], "right_hemisphere": ["S3_D3"]}
    indices = roi_signal_indices(rois, haemo)
    assert list(indices[("left_hemisphere", "hbr")]) == [1, 3]


@pytest.mark.parametrize("system", ["Other", None])
def test_other_coordinates_give_one_roi(system):
    haemo = _haemo({"S1_D1": -0.05, "S3_D3": 0.05})
    rois = resolve_rois(roi_definitions=None, long_pairs=["S1_D1", "S3_D3"], haemo=haemo,
                        coordinate_system=system, source="x")
    assert rois == {"all_long_channels": ["S1_D1", "S3_D3"]}


def test_file_rois_drop_bad_pairs_and_reject_unknown_ones():
    haemo = _haemo({"S1_D1": -0.05})  # S2_D1 is long but bad, so not in haemo
    rois = resolve_rois(roi_definitions={"motor": ["S1_D1", "S2_D1"]}, long_pairs=["S1_D1", "S2_D1"],
                        haemo=haemo, coordinate_system=None, source="rec.snirf")
    assert rois == {"motor": ["S1_D1"]}
    with pytest.raises(RecordingError, match="'motor' lists S9_D9, not a long channel.*S1_D1, S2_D1"):
        resolve_rois(roi_definitions={"motor": ["S9_D9"]}, long_pairs=["S1_D1", "S2_D1"], haemo=haemo,
                     coordinate_system=None, source="rec.snirf")


@pytest.mark.slow
def test_roi_effect_is_the_fit_of_the_averaged_signal(run_cli, tmp_path):
    """With OLS the ROI effect equals the mean of its channels' effects (linearity)."""
    roi_file = tmp_path / "rois.json"
    members = ["S1_D1", "S2_D1", "S2_D2", "S4_D2"]
    roi_file.write_text(json.dumps({"front": members}))
    code, _, err = run_cli(EXAMPLE, tmp_path / "out", "participant", "--participant_label", "01",
                           "--session_label", "01", "--roi-file", roi_file, "--noise-model", "ols",
                           "--skip_bids_validator")
    assert code == 0, err
    folder = tmp_path / "out/sub-01/ses-01/nirs"
    roi = pd.read_csv(folder / "sub-01_ses-01_task-tapping_desc-roi_stats.tsv", sep="\t")
    channel = pd.read_csv(folder / "sub-01_ses-01_task-tapping_desc-channel_stats.tsv", sep="\t")
    for chroma in ("hbo", "hbr"):
        row = roi[(roi["roi"] == "front") & (roi["chroma"] == chroma)].iloc[0]
        picked = channel[channel["ch_name"].isin([f"{m} {chroma}" for m in members])]
        assert row["n_channels"] == 4
        assert row["effect"] == pytest.approx(picked["effect"].mean(), rel=1e-6)
        assert row["se"] < picked["se"].max()
