"""Anatomy through the command line on simulated recordings with head positions: the tables and their
sidecars, joinable with the statistics, validator-clean and deterministic; anatomical ROIs from a ROI file and
from a model file give the table of the equivalent pair list; the group's consensus table and cortex figures."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bids_app.cli import main
from tests.helpers import validate

pytestmark = pytest.mark.slow

ANATOMY_COLUMNS = ["ch_name", "pair", "scalp_x", "scalp_y", "scalp_z", "cortex_x", "cortex_y", "cortex_z",
                   "depth_mm", "label", "specificity", "next_label", "next_specificity"]


@pytest.fixture(scope="module")
def short_study(tmp_path_factory):
    from bids_app.simulate import SimulationOptions, simulate_dataset

    root = tmp_path_factory.mktemp("anatomy")
    return simulate_dataset(root / "bids", options=SimulationOptions(subjects=2, duration_s=240, seed=3)), root


def _nirs(out, subject):
    return out / f"sub-{subject}" / "nirs"


def test_anatomy_tables_join_the_statistics_validate_and_rerun_identically(short_study, tmp_path):
    bids, _ = short_study
    out = tmp_path / "out"
    assert main([str(bids), str(out), "participant", "--skip_bids_validator"]) == 0
    folder = _nirs(out, "01")
    table = pd.read_csv(folder / "sub-01_task-tapping_desc-anatomy_channels.tsv", sep="\t")
    assert list(table.columns) == ANATOMY_COLUMNS
    channels = pd.read_csv(folder / "sub-01_task-tapping_desc-channel_stats.tsv", sep="\t")
    assert set(channels["ch_name"]) <= set(table["ch_name"])  # every long channel, and the short ones
    qc = pd.read_csv(folder / "sub-01_task-tapping_desc-qc_channels.tsv", sep="\t")
    long_pairs = set(qc.loc[qc["role"] == "long", "name"].str.split(" ").str[0])
    labelled = table["pair"].isin(long_pairs)
    assert labelled.sum() == 2 * len(long_pairs) == 40  # short channels: positions, no label
    assert table.loc[labelled, "label"].notna().all() and table.loc[labelled, "specificity"].between(0, 1).all()
    assert table.loc[~labelled, "label"].isna().all() and table[["cortex_x", "depth_mm"]].notna().all().all()
    shares = pd.read_csv(folder / "sub-01_task-tapping_desc-labelshares_channels.tsv", sep="\t")
    assert shares.groupby("pair")["share"].sum().between(0.995, 1.0001).all()
    assert set(shares["pair"]) == long_pairs
    sidecar = json.loads((folder / "sub-01_task-tapping_desc-anatomy_channels.json").read_text())
    assert sidecar["Atlas"] == "aal" and sidecar["Fiducials"] == "template" and "GPL" in sidecar["AtlasLicence"]
    assert sidecar["SensitivityModel"]["ReducedScatteringPerMm"] == 1.0
    design = json.loads((folder / "sub-01_task-tapping_design.json").read_text())
    assert design["Anatomy"]["Atlas"] == "aal"
    assert "Where on the brain" in (out / "sub-01.html").read_text()
    before = {p: p.read_bytes() for p in folder.glob("*_channels.*")}
    assert main([str(bids), str(out), "participant", "--skip_bids_validator", "--overwrite"]) == 0
    assert {p: p.read_bytes() for p in folder.glob("*_channels.*")} == before
    assert main([str(bids), str(out), "group"]) == 0
    group = pd.read_csv(out / "task-tapping_desc-anatomy_channels.tsv", sep="\t")
    assert set(group["n_recordings"]) == {2}
    assert (out / "figures" / "task-tapping_desc-channel_cortex.png").is_file()
    assert (out / "figures" / "task-tapping_desc-channel_cortex.svg").stat().st_size < 2_000_000
    report = (out / "task-tapping_report.html").read_text()
    assert "Channel anatomy" in report and "[fsaverage]" not in report and "photon measurement density" in report
    code, errors = validate(out)
    assert code == 0, errors


def test_anatomical_rois_equal_the_pair_list_they_resolve_to_also_from_a_model(short_study, tmp_path):
    bids, root = short_study
    anatomical = tmp_path / "anatomical.json"
    anatomical.write_text(json.dumps({"left_sm": {"atlas": "aal", "labels": ["Precentral_L", "Postcentral_L"],
                                                  "min_specificity": 0.6}}))
    out_a, out_b, out_c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert main([str(bids), str(out_a), "participant", "--skip_bids_validator", "--participant_label", "01",
                 "--roi-file", str(anatomical)]) == 0
    roi_sidecar = json.loads((_nirs(out_a, "01") / "sub-01_task-tapping_desc-roi_stats.json").read_text())
    members = roi_sidecar["AnatomicalROIs"]["left_sm"]["Members"]
    assert len(members) >= 3
    listed = tmp_path / "listed.json"
    listed.write_text(json.dumps({"left_sm": members}))
    assert main([str(bids), str(out_b), "participant", "--skip_bids_validator", "--participant_label", "01",
                 "--roi-file", str(listed)]) == 0
    name = "sub-01_task-tapping_desc-roi_stats.tsv"
    assert (_nirs(out_a, "01") / name).read_bytes() == (_nirs(out_b, "01") / name).read_bytes()
    model = json.loads(open("models/tutorial.json").read())
    model["Nodes"][0]["Model"]["Software"]["fnirs-glm"]["roi_file"] = str(anatomical)
    model_file = tmp_path / "model.json"
    model_file.write_text(json.dumps(model))
    assert main([str(bids), str(out_c), "participant", "--skip_bids_validator", "--participant_label", "01",
                 "--model", str(model_file)]) == 0
    roi_c = pd.read_csv(_nirs(out_c, "01") / name, sep="\t")
    assert set(roi_c["roi"]) == {"left_sm"}
    assert json.loads((_nirs(out_c, "01") / name.replace(".tsv", ".json")).read_text())[
        "AnatomicalROIs"]["left_sm"]["Members"] == members
