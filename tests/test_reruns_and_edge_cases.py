"""Re-runs into the same output, contrasts over uneven conditions, and other edge cases."""

import json

import pandas as pd
import pytest

from tests.helpers import EXAMPLE

ONE = ["--participant_label", "01", "--session_label", "01", "--skip_bids_validator"]
NIRS = "sub-01/ses-01/nirs/sub-01_ses-01_task-tapping"


def _events(root, entities="sub-01/ses-01/nirs/sub-01_ses-01_task-tapping"):
    return root / f"{entities}_events.tsv"


@pytest.mark.slow
def test_rerun_removes_outputs_the_new_options_do_not_produce(run_cli, tmp_path):
    assert run_cli(EXAMPLE, tmp_path, "participant", *ONE, "--contrast", "2*Tapping")[0] == 0
    assert (tmp_path / f"{NIRS}_desc-contrast_stats.tsv").is_file()
    code, _, err = run_cli(EXAMPLE, tmp_path, "participant", *ONE, "--noise-model", "ols")
    assert code == 0, err
    assert not (tmp_path / f"{NIRS}_desc-contrast_stats.tsv").exists()
    assert not (tmp_path / f"{NIRS}_desc-contrast_stats.json").exists()
    assert "ols" in json.loads((tmp_path / f"{NIRS}_desc-channel_stats.json").read_text())["Description"]


@pytest.mark.slow
def test_contrast_skipped_where_a_condition_is_missing(example_copy, run_cli, tmp_path):
    events = pd.read_csv(_events(example_copy), sep="\t")
    events.loc[1::2, "trial_type"] = "Rest"
    events.to_csv(_events(example_copy), sep="\t", index=False)
    code, _, err = run_cli(example_copy, tmp_path, "participant", "--skip_bids_validator",
                           "--participant_label", "01", "--contrast", "Tapping - Rest")
    assert code == 0, err
    assert "sub-01_ses-02_task-tapping_nirs.snirf: contrast 'Tapping - Rest' skipped: condition(s) Rest" in err
    contrast = pd.read_csv(tmp_path / f"{NIRS}_desc-contrast_stats.tsv", sep="\t")
    assert set(contrast["contrast"]) == {"Tapping - Rest"}
    other = tmp_path / "sub-01/ses-02/nirs/sub-01_ses-02_task-tapping"
    assert (other.parent / (other.name + "_desc-channel_stats.tsv")).is_file()
    assert not (other.parent / (other.name + "_desc-contrast_stats.tsv")).exists()
    qc = json.loads((other.parent / (other.name + "_desc-qc_channels.json")).read_text())
    assert any("skipped" in w for w in qc["Warnings"])


@pytest.mark.slow
def test_duplicated_events_are_counted_once_and_said(example_copy, run_cli, tmp_path):
    events = pd.read_csv(_events(example_copy), sep="\t")
    pd.concat([events, events.iloc[[0]]]).to_csv(_events(example_copy), sep="\t", index=False)
    code, _, err = run_cli(example_copy, tmp_path, "participant", *ONE)
    assert code == 0, err
    assert "1 duplicated event(s) (same onset, duration and trial_type) counted once" in err
    design = pd.read_csv(tmp_path / f"{NIRS}_design.tsv", sep="\t")
    reference = tmp_path / "reference"
    assert run_cli(EXAMPLE, reference, "participant", *ONE)[0] == 0
    pd.testing.assert_frame_equal(design, pd.read_csv(reference / f"{NIRS}_design.tsv", sep="\t"))


@pytest.mark.slow
def test_library_warnings_reach_the_qc_sidecar(run_cli, tmp_path, monkeypatch):
    import warnings

    from bids_app.first_level import design

    original = design.short_channel_regressors

    def warning_regressors(*args, **kwargs):
        warnings.warn("a library says\nsomething", UserWarning, stacklevel=1)
        return original(*args, **kwargs)

    monkeypatch.setattr(design, "short_channel_regressors", warning_regressors)
    code, _, err = run_cli(EXAMPLE, tmp_path, "participant", *ONE)
    assert code == 0, err
    assert "sub-01_ses-01_task-tapping_nirs.snirf: a library says something" in err
    warnings_kept = json.loads((tmp_path / f"{NIRS}_desc-qc_channels.json").read_text())["Warnings"]
    assert warnings_kept == ["no anatomy (coordinate system 'Other' is not a head or MNI frame): channel positions, "
                             "atlas labels and brain figures are n/a",
                             "1 of 12 event(s) of 'Tapping' are too close to the end of the recording for their "
                             "whole response (onset + duration + 22 s > 392.0 s): their responses are cut",
                             "a library says something"]


@pytest.mark.slow
def test_channels_tsv_in_another_order_is_accepted(example_copy, run_cli, tmp_path):
    path = example_copy / "sub-01/ses-01/nirs/sub-01_ses-01_task-tapping_channels.tsv"
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    table.iloc[::-1].to_csv(path, sep="\t", index=False)
    code, _, err = run_cli(example_copy, tmp_path, "participant", *ONE)
    assert code == 0, err
    qc = pd.read_csv(tmp_path / f"{NIRS}_desc-qc_channels.tsv", sep="\t")
    assert list(qc["name"]) == list(table["name"].iloc[::-1])


def test_output_path_that_is_a_file_is_a_usage_error(run_cli, tmp_path):
    target = tmp_path / "afile"
    target.write_text("")
    code, _, err = run_cli(EXAMPLE, target, "participant", *ONE)
    assert code == 2
    expected = f"fnirs-glm: error: {target}: the output directory exists and is not a directory"
    assert err.strip().splitlines() == [expected]


@pytest.mark.parametrize("option", [["--stim-dur", "inf"], ["--ppf", "inf"], ["--resample-hz", "nan"]])
def test_non_finite_option_values_are_refused(run_cli, tmp_path, option):
    code, _, err = run_cli(EXAMPLE, tmp_path, "participant", *ONE, *option)
    assert code == 2
    assert f"invalid {option[0][2:].replace('-', '_')}" in err
