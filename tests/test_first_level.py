"""The first level in memory, without the command line: load_recording -> fit_recording -> write_recording on a
bundled recording, checked against what the recording's files say."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest

from tests.helpers import EXAMPLE

STEM = "sub-01_ses-01_task-tapping"
CONTRASTS = {"Tapping": {"Tapping": 1.0}, "Rest - Tapping": {"Rest": 1.0, "Tapping": -1.0}}


def _bids_path():
    from mne_bids import get_bids_path_from_fname

    return get_bids_path_from_fname(EXAMPLE / "sub-01" / "ses-01" / "nirs" / f"{STEM}_nirs.snirf")


@pytest.fixture(scope="module")
def fitted():
    """(inputs, result, warnings said) of the recording with the default options and two contrasts, one of
    them of a condition the recording lacks."""
    from bids_app.first_level.fit import fit_recording
    from bids_app.inputs import load_recording
    from bids_app.options import FirstLevelOptions

    said: list[str] = []
    options = FirstLevelOptions()
    inputs = load_recording(_bids_path(), options=options, warn=said.append)
    result = fit_recording(inputs, options=options, contrasts=CONTRASTS, warn=said.append)
    return inputs, result, said


def test_load_recording_reads_the_recording_and_its_sidecars(fitted):
    inputs, _, _ = fitted
    folder = EXAMPLE / "sub-01" / "ses-01" / "nirs"
    channels = pd.read_csv(folder / f"{STEM}_channels.tsv", sep="\t")
    events = pd.read_csv(folder / f"{STEM}_events.tsv", sep="\t")
    assert inputs.source == str(folder / f"{STEM}_nirs.snirf")
    assert inputs.raw.ch_names == list(channels["name"])
    assert list(inputs.channels["name"]) == list(channels["name"])
    assert len(inputs.events) == len(events)
    np.testing.assert_allclose(inputs.events["onset"], events["onset"], atol=1 / inputs.raw.info["sfreq"])
    assert set(inputs.events["trial_type"]) == set(events["trial_type"]) == {"Tapping"}
    coordsystem = json.loads((EXAMPLE / "sub-01" / "ses-01" / "nirs" / "sub-01_ses-01_coordsystem.json").read_text())
    assert inputs.coordinate_system == coordsystem["NIRSCoordinateSystem"]
    assert inputs.roi_definitions is None
    snirf = folder / f"{STEM}_nirs.snirf"
    assert inputs.checksums[snirf.name] == hashlib.sha256(snirf.read_bytes()).hexdigest()[:16]
    assert set(inputs.checksums) == {f"{STEM}_nirs.snirf", f"{STEM}_events.tsv", f"{STEM}_channels.tsv",
                                     f"{STEM}_nirs.json", "sub-01_ses-01_coordsystem.json", "sub-01_ses-01_optodes.tsv"}


def test_fit_recording_result_matches_the_recording(fitted):
    inputs, result, said = fitted
    long_good = result.qc[(result.qc["role"] == "long") & (result.qc["status"] == "good")]
    assert len(result.qc) == len(inputs.channels) and len(long_good) == 72
    assert result.conditions == ["Tapping"]
    assert result.short_regressors == ["short_hbo_mean", "short_hbr_mean"]
    columns = list(result.design.columns)
    assert columns[:3] == ["Tapping", "short_hbo_mean", "short_hbr_mean"] and columns[-1] == "constant"
    assert all(c.startswith("drift_") for c in columns[3:-1])
    # 0.6 Hz, the default rate, and one design row per resampled sample of the recording
    assert result.sfreq == 0.6
    duration = inputs.raw.times[-1] + 1 / inputs.raw.info["sfreq"]
    assert abs(len(result.design) - duration * result.sfreq) <= 1
    # one row per long channel and condition; every long channel (both chromas) is in the table
    assert len(result.channel_stats) == len(long_good) * len(result.conditions)
    pairs = result.channel_stats["ch_name"].str.split(" ").str[0]
    assert set(pairs) == set(long_good["name"].str.split(" ").str[0])
    assert (pairs.value_counts() == 2).all() and set(result.channel_stats["chroma"]) == {"hbo", "hbr"}
    assert result.noise_model.choice == "auto" and result.noise_model.ar_order == round(4 * result.sfreq)
    assert (result.channel_stats["ar_order"] == result.noise_model.ar_order).all()
    assert list(result.rois) == ["all_long_channels"] and len(result.rois["all_long_channels"]) == 36
    assert list(result.roi_stats["n_channels"]) == [36, 36]
    assert set(result.condition_vif) == {"Tapping"} and result.condition_vif["Tapping"] >= 1
    # the waveform and block-average tables have a row per signal (2 ROI signals and the 72 channels) and lag
    for table in (result.waveform_stats, result.block_average_stats):
        assert len(table) % (2 + 72) == 0 and table["time"].nunique() == len(table) // (2 + 72)
    # the contrast of the missing condition is skipped and said; the other is the condition's effect
    assert list(result.contrasts) == ["Tapping"]
    assert said == list(result.warnings) == [
        "no anatomy (coordinate system 'Other' is not a head or MNI frame): channel positions, atlas labels and "
        "brain figures are n/a",
        "1 of 12 event(s) of 'Tapping' are too close to the end of the recording for their whole response "
        "(onset + duration + 22 s > 392.0 s): their responses are cut",
        "contrast 'Rest - Tapping' skipped: condition(s) Rest not in this recording"]
    assert result.anatomy is None  # the bundled recordings have a flat layout
    np.testing.assert_allclose(result.contrast_stats["effect"], result.channel_stats["effect"])


def test_fit_recording_without_a_good_long_channel_is_a_recording_error(fitted):
    from bids_app.errors import RecordingError
    from bids_app.first_level.fit import fit_recording
    from bids_app.options import FirstLevelOptions

    inputs, result, _ = fitted
    long_channels = result.qc.loc[result.qc["role"] == "long", "name"]
    channels = inputs.channels.assign(status=np.where(inputs.channels["name"].isin(long_channels), "bad", "good"))
    broken = dataclasses.replace(inputs, channels=channels)
    with pytest.raises(RecordingError, match=f"{STEM}_nirs.snirf: no good long channel to analyse"):
        fit_recording(broken, options=FirstLevelOptions(), contrasts={}, warn=lambda message: None)


def test_write_recording_writes_exactly_the_files_of_the_layout(fitted, tmp_path):
    from bids_app.derivatives import read_tsv
    from bids_app.first_level.write import Provenance, write_recording
    from bids_app.layout import RecordingOutputs
    from bids_app.options import FirstLevelOptions

    inputs, result, _ = fitted
    outputs = RecordingOutputs.of(_bids_path(), tmp_path)
    provenance = Provenance.of(FirstLevelOptions(), checksums=inputs.checksums)
    written = write_recording(result, outputs=outputs, provenance=provenance)
    expected = [outputs.design_tsv, outputs.design_json, outputs.qc_tsv, outputs.qc_json] + [
        outputs.stats(d, e) for d in ("channel", "roi", "contrast", "waveform", "blockaverage")
        for e in (".tsv", ".json")] + [outputs.figure(d, e) for d in ("signals", "spectrum") for e in (".png", ".svg")]
    assert sorted(written) == sorted(expected) == outputs.existing()
    assert outputs.figure("signals").parent == tmp_path / "sub-01" / "figures"
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted(expected)
    assert outputs.folder == tmp_path / "sub-01" / "ses-01" / "nirs" and outputs.name == STEM
    design = json.loads(outputs.design_json.read_text())
    assert design["Outputs"] == sorted(os.path.relpath(p, outputs.folder) for p in expected)
    assert all((outputs.folder / name).is_file() for name in design["Outputs"])
    assert design["AROrder"] == result.noise_model.ar_order and design["SamplingFrequency"] == result.sfreq
    assert design["NoiseModel"] == f"auto (AR({result.noise_model.ar_order}), Worsley bias correction)"
    assert design["ARBiasCorrection"] == "worsley"
    assert design["GeneratedBy"] == provenance.record()
    assert design["GeneratedBy"]["InputChecksums"] == inputs.checksums
    pd.testing.assert_frame_equal(read_tsv(outputs.stats("channel")), result.channel_stats.reset_index(drop=True),
                                  check_exact=False, rtol=1e-9, check_dtype=False)
    assert json.loads(outputs.qc_json.read_text())["Warnings"] == list(result.warnings)
    assert RecordingOutputs.find(tmp_path, subject="01") == RecordingOutputs.find(tmp_path) == [outputs]
    assert RecordingOutputs.find(tmp_path, task="tapping") == [outputs]
    assert RecordingOutputs.find(tmp_path, subject="02") == RecordingOutputs.find(tmp_path, task="tap") == []


@pytest.mark.slow
def test_the_command_line_writes_what_the_in_memory_api_writes(fitted, run_cli, tmp_path):
    """Every file the participant level writes for the recording equals write_recording's, byte for byte."""
    from bids_app.first_level.write import Provenance, write_recording
    from bids_app.layout import RecordingOutputs
    from bids_app.options import FirstLevelOptions

    inputs, result, _ = fitted
    code, _, _ = run_cli(EXAMPLE, tmp_path / "cli", "participant", "--participant_label", "01", "--session_label",
                         "01", "--skip_bids_validator", "--contrast", "Tapping")
    assert code == 0
    cli = RecordingOutputs.of(_bids_path(), tmp_path / "cli")
    ours = RecordingOutputs.of(_bids_path(), tmp_path / "api")
    options = FirstLevelOptions(contrast=("Tapping",))  # as recorded by the command line
    kept = tuple(w for w in result.warnings if not w.startswith("contrast"))  # the CLI had no contrast to skip
    write_recording(dataclasses.replace(result, warnings=kept), outputs=ours,
                    provenance=Provenance.of(options, checksums=inputs.checksums))
    assert [p.name for p in cli.existing()] == [p.name for p in ours.existing()]
    for mine, theirs in zip(ours.existing(), cli.existing()):
        assert mine.read_bytes() == theirs.read_bytes(), mine.name
    assert json.loads(cli.design_json.read_text())["AROrder"] == result.noise_model.ar_order


@pytest.mark.parametrize(("choice", "sfreq", "correction", "order", "label", "description"), [
    ("ols", 0.6, "worsley", 0, "ols", "ols"),
    ("ar1", 7.8, "none", 1, "ar1", "ar1"),
    ("ar1", 7.8, "worsley", 1, "ar1", "ar1 (Worsley bias correction)"),
    ("auto", 0.6, "none", 2, "ar2", "auto (AR(2))"),
    ("auto", 0.6, "worsley", 2, "ar2", "auto (AR(2), Worsley bias correction)"),
    ("auto", 7.8125, "none", 31, "ar31", "auto (AR(31))"),
    ("ar-irls", 0.6, "none", 2, "ar-irls", "ar-irls (AR order by BIC up to 2, Tukey bisquare IRLS)"),
    ("ar-irls", 0.6, "worsley", 2, "ar-irls",
     "ar-irls (AR order by BIC up to 2, Tukey bisquare IRLS, Worsley bias correction)"),
])
def test_noise_model_is_resolved_once_with_the_label_and_description_the_sidecars_record(
        choice, sfreq, correction, order, label, description):
    from bids_app.first_level.noise_model import NoiseModel

    noise_model = NoiseModel.resolve(choice, sfreq=sfreq, bias_correction=correction)
    assert (noise_model.ar_order, noise_model.label, noise_model.description) == (order, label, description)
    assert noise_model.bias_correction == (correction == "worsley" and order > 0)
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(200), rng.standard_normal(200)])
    fit = noise_model.fit(rng.standard_normal((200, 2)), X)
    assert fit.ar_coef.shape == (2, order)  # the order resolved is the order fitted (ar-irls: the largest)
