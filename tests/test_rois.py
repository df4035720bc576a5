"""Regions of interest: defaults from the montage, files, and the averaged-signal estimate."""

import json

import numpy as np
import pandas as pd
import pytest

from bids_app.errors import RecordingError, UsageError
from bids_app.first_level.rois import read_roi_file, resolve_rois, roi_signal_indices
from tests.helpers import EXAMPLE, make_haemo


def _haemo(pairs_x, roles=None):
    """Good HbO and HbR signals of pairs {pair: x position}, long unless ``roles`` {pair: role} says otherwise."""
    names = [f"{p} {c}" for p in pairs_x for c in ("hbo", "hbr")]
    roles = roles or {}
    return make_haemo(np.zeros((5, len(names))), ch_names=names, role=[roles.get(n.split(" ")[0], "long") for n in names],
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


def test_default_rois_hold_good_long_pairs_in_natural_order():
    """Short channels are in no ROI; pairs sort with numbers as numbers; a pair on the midline (x = 0) is in
    neither hemisphere (the sign of x decides)."""
    haemo = _haemo({"S10_D2": -0.03, "S2_D2": -0.02, "S1_D17": -0.04, "S3_D3": 0.0, "S4_D4": 0.02},
                   roles={"S1_D17": "short"})
    pairs = ["S10_D2", "S2_D2", "S3_D3", "S4_D4"]
    rois = resolve_rois(roi_definitions=None, long_pairs=pairs, haemo=haemo, coordinate_system="MNI", source="x")
    assert rois == {"left_hemisphere": ["S2_D2", "S10_D2"], "right_hemisphere": ["S4_D4"]}
    flat = resolve_rois(roi_definitions=None, long_pairs=pairs, haemo=haemo, coordinate_system=" n/a ", source="x")
    assert flat == {"all_long_channels": ["S2_D2", "S3_D3", "S4_D4", "S10_D2"]}


def test_signal_indices_per_roi_and_chroma():
    haemo = _haemo({"S1_D1": -0.05, "S2_D1": -0.04, "S3_D3": 0.05})
    indices = roi_signal_indices({"a": ["S3_D3", "S1_D1"], "empty": []}, haemo)
    assert list(indices) == [("a", "hbo"), ("a", "hbr"), ("empty", "hbo"), ("empty", "hbr")]
    assert indices[("a", "hbo")].tolist() == [0, 4] and indices[("a", "hbr")].tolist() == [1, 5]
    assert indices[("empty", "hbo")].dtype == int and len(indices[("empty", "hbr")]) == 0
    assert [haemo.ch_names[i] for i in indices[("a", "hbr")]] == ["S1_D1 hbr", "S3_D3 hbr"]


def test_roi_file_is_read_and_checked_for_form(tmp_path):
    path = tmp_path / "rois.json"
    path.write_text(json.dumps({"motor": ["S1_D1", "S12_D3"], "visual": ["S2_D2"]}))
    assert read_roi_file(path) == {"motor": ["S1_D1", "S12_D3"], "visual": ["S2_D2"]}
    for content, message in (([["S1_D1"]], "must be a JSON object"), ({}, "must be a JSON object"),
                             ({"motor": "S1_D1"}, "ROI 'motor' must be a non-empty list"),
                             ({"motor": []}, "ROI 'motor' must be a non-empty list"),
                             ({"motor": ["S1_D1", "S1-D2"]}, "ROI 'motor': 'S1-D2' is not a source-detector pair"),
                             ({"motor": ["S1_D1 hbo"]}, "'S1_D1 hbo' is not a source-detector pair"),
                             ({"motor": [1]}, "ROI 'motor': 1 is not")):
        path.write_text(json.dumps(content))
        with pytest.raises(UsageError, match=message) as info:
            read_roi_file(path)
        assert str(info.value).startswith(f"{path}: ")
    with pytest.raises(UsageError, match="ROI file not found"):
        read_roi_file(tmp_path / "missing.json")


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


def _template_anatomy():
    """The tutorial montage's anatomy (the simulator's positions) with the AAL labels."""
    from bids_app.anatomy.localise import localise
    from bids_app.anatomy.recording import RecordingAnatomy
    from bids_app.anatomy.registration import register
    from tests.test_anatomy import long_pairs, template_optodes

    registered = register(template_optodes(), coordinate_system="CapTrak")
    return RecordingAnatomy(registered, "aal", localise(registered.optodes, long_pairs(), atlas="aal")), long_pairs()


def test_anatomical_rois_take_the_pairs_whose_label_shares_reach_min_specificity():
    anatomy, pairs = _template_anatomy()
    haemo = _haemo({p: -0.05 for p in pairs})
    region = {"atlas": "aal", "labels": ["Precentral_L", "Postcentral_L"], "min_specificity": 0.6}
    rois = resolve_rois(roi_definitions={"left_sensorimotor": region, "listed": ["S1_D1"]}, long_pairs=pairs,
                        haemo=haemo, coordinate_system="CapTrak", source="rec.snirf", anatomy=anatomy)
    expected = [p for p in pairs if anatomy.pairs[p].shares.get("Precentral_L", 0)
                + anatomy.pairs[p].shares.get("Postcentral_L", 0) >= 0.6]
    assert rois == {"left_sensorimotor": expected, "listed": ["S1_D1"]}
    assert 3 <= len(expected) < 10 and all(int(p[1]) <= 4 for p in expected)  # left-hemisphere sources S1-S4


def test_anatomical_rois_fail_in_one_line_when_unreached_or_without_positions():
    anatomy, pairs = _template_anatomy()
    haemo = _haemo({p: -0.05 for p in pairs})
    occipital = {"occipital": {"atlas": "aal", "labels": ["Occipital_Inf_L"], "min_specificity": 0.5}}
    with pytest.raises(RecordingError, match="rec.snirf: ROI 'occipital': no channel of this recording reaches "
                                             "the aal label\\(s\\) Occipital_Inf_L$"):
        resolve_rois(roi_definitions=occipital, long_pairs=pairs, haemo=haemo, coordinate_system="CapTrak",
                     source="rec.snirf", anatomy=anatomy)
    with pytest.raises(RecordingError, match="names atlas labels, but the recording has no 3-D head positions"):
        resolve_rois(roi_definitions=occipital, long_pairs=pairs, haemo=haemo, coordinate_system="Other",
                     source="rec.snirf", anatomy=None)


@pytest.mark.parametrize(("region", "message"), [
    ({"atlas": "aal", "labels": ["Precentral_Left"]}, "'Precentral_Left' is not a label of the atlas aal; did you "
                                                       "mean 'Precentral_L'\\?"),
    ({"atlas": "harvard", "labels": ["x"]}, "atlas 'harvard' is not one of aal, "),
    ({"atlas": "aal", "labels": []}, "labels must be a non-empty list"),
    ({"atlas": "aal", "labels": ["Precentral_L", "Precentral_L"]}, "a label is listed twice"),
    ({"atlas": "aal", "labels": ["Precentral_L"], "min_specificity": 1.5}, "min_specificity must be a number in"),
    ({"atlas": "aal", "labels": ["Precentral_L"], "threshold": 0.3}, "unknown key 'threshold'"),
])
def test_anatomical_roi_file_errors_name_the_file_and_the_problem(tmp_path, region, message):
    path = tmp_path / "rois.json"
    path.write_text(json.dumps({"m1": region}))
    with pytest.raises(UsageError, match=f"^{path}: ROI 'm1': {message}"):
        read_roi_file(path)


def test_mixed_roi_files_are_read_with_the_default_min_specificity(tmp_path):
    path = tmp_path / "rois.json"
    path.write_text(json.dumps({"m1": {"atlas": "aal", "labels": ["Precentral_L"]}, "pairs": ["S1_D1"]}))
    assert read_roi_file(path) == {"m1": {"atlas": "aal", "labels": ["Precentral_L"], "min_specificity": 0.5},
                                   "pairs": ["S1_D1"]}
