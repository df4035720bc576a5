"""The simulator: valid BIDS, deterministic, and its truth recovered without resampling bias."""

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from bids_app.simulate import SimulationOptions, main, simulate_dataset
from tests.conftest import validate


@pytest.fixture(scope="module")
def noise_free(tmp_path_factory):
    return simulate_dataset(tmp_path_factory.mktemp("sim") / "noise_free",
                            options=SimulationOptions(subjects=1, duration_s=600, noise=False, seed=3))


def _channel_stats(out, entities="sub-01/nirs/sub-01_task-tapping"):
    return pd.read_csv(out / f"{entities}_desc-channel_stats.tsv", sep="\t")


def _with_truth(root, stats, stem="sub-01_task-tapping"):
    truth = pd.read_csv(root / "sourcedata" / "ground_truth" / f"{stem}_truth.tsv", sep="\t")
    return stats.merge(truth, on=["ch_name", "chroma", "condition"], validate="one_to_one")


def test_dataset_is_valid_bids_with_sessions_runs_and_truth(tmp_path):
    root = tmp_path / "sim"
    assert main([str(root), "--subjects", "2", "--sessions", "2", "--runs", "2", "--duration", "240",
                 "--seed", "1", "--bad-channels", "2", "--motion-spikes", "1"]) == 0
    snirfs = sorted(root.rglob("*_nirs.snirf"))
    assert len(snirfs) == 8
    assert snirfs[0].name == "sub-01_ses-01_task-tapping_run-01_nirs.snirf"
    truth = pd.read_csv(root / "sourcedata/ground_truth/sub-01_ses-01_task-tapping_run-01_truth.tsv", sep="\t")
    assert set(truth["condition"]) == {"Control", "Tapping/Left", "Tapping/Right"}
    assert len(truth) == 28 * 2 * 3
    bad = json.loads((root / "sourcedata/ground_truth/sub-01_ses-01_task-tapping_run-01_bad_channels.json")
                     .read_text())
    assert len(bad) == 2
    motion = pd.read_csv(root / "sourcedata/ground_truth/sub-01_ses-01_task-tapping_run-01_motion.tsv", sep="\t")
    assert list(motion["kind"]) == ["spike"]  # --motion-spikes are in the truth too
    participants = pd.read_csv(root / "participants.tsv", sep="\t")
    assert list(participants["participant_id"]) == ["sub-01", "sub-02"]
    assert validate(root) == (0, [])


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    def data(seed, name):
        root = simulate_dataset(tmp_path / name, options=SimulationOptions(subjects=1, duration_s=60, seed=seed))
        with h5py.File(next(root.rglob("*.snirf"))) as snirf:
            return snirf["nirs/data1/dataTimeSeries"][()]

    first, again, other = data(7, "a"), data(7, "b"), data(8, "c")
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_refuses_a_non_empty_directory(tmp_path, capsys):
    (tmp_path / "x").write_text("")
    assert main([str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("resample_hz", ["0.3", "0.6", "1.0", "2.0"])
def test_no_resampling_bias_on_noise_free_data(noise_free, run_cli, tmp_path, resample_hz):
    """Effects equal the truth within 1% at every rate; the MNE-NIRS-style design is biased."""
    ratios = {}
    for design_rate in ("native", "resampled"):
        out = tmp_path / design_rate
        code, _, err = run_cli(noise_free, out, "participant", "--skip_bids_validator", "--noise-model", "ols",
                               "--short-regression", "none", "--resample-hz", resample_hz,
                               "--design-rate", design_rate)
        assert code == 0, err
        table = _with_truth(noise_free, _channel_stats(out))
        active = table[table["effect_um"].abs() > 0.05]
        ratios[design_rate] = active["effect"] / active["effect_um"]
        silent = table[table["effect_um"] == 0]
        assert silent["effect"].abs().max() < 0.01 * active["effect_um"].abs().max()
    assert len(ratios["native"]) >= 40
    assert (ratios["native"] - 1).abs().max() < 0.01
    if float(resample_hz) <= 0.6:
        assert ratios["resampled"].mean() < 0.97  # the bias the native design removes


def test_task_locked_motion_and_baseline_shifts(tmp_path):
    """Artefacts follow a share of the Tapping trials within 10 s; baseline shifts persist in the data."""
    root = simulate_dataset(tmp_path / "sim", options=SimulationOptions(
        subjects=1, duration_s=300, seed=2, task_locked_motion=0.5, baseline_shift_fraction=1.0))
    truth = root / "sourcedata" / "ground_truth"
    motion = pd.read_csv(truth / "sub-01_task-tapping_motion.tsv", sep="\t")
    events = pd.read_csv(next(root.rglob("*_events.tsv")), sep="\t")
    tapping = events.loc[events["trial_type"].str.startswith("Tapping"), "onset"].to_numpy()
    assert 0.2 * len(tapping) <= len(motion) <= 0.8 * len(tapping)
    assert set(motion["kind"]) == {"baseline shift"}
    lags = motion["onset"].to_numpy()[:, None] - tapping[None, :]
    assert (((lags >= -0.2) & (lags <= 10.2)).any(axis=1)).all()  # each within 10 s of a trial onset
    with h5py.File(next(root.rglob("*.snirf"))) as snirf:
        od = -np.log(snirf["nirs/data1/dataTimeSeries"][()].T)
        sfreq = 1 / np.diff(snirf["nirs/data1/time"][:2])[0]
    first = int(motion["onset"].iloc[0] * sfreq)
    before, after = od[:, first - int(5 * sfreq):first].mean(axis=1), od[:, first + int(5 * sfreq):
                                                                          first + int(10 * sfreq)].mean(axis=1)
    assert np.median(np.abs(after - before)) > 0.01  # the shift is there (0.006-0.1 OD) and stays

    quiet = simulate_dataset(tmp_path / "quiet", options=SimulationOptions(subjects=1, duration_s=120, seed=2))
    assert pd.read_csv(quiet / "sourcedata/ground_truth/sub-01_task-tapping_motion.tsv", sep="\t").empty


def test_invalid_options_are_one_line_errors_and_participants_json_matches_the_table(tmp_path, capsys):
    for argv, text in ((["--subjects", "0"], "--subjects 0: give at least 1"),
                       (["--motion-per-minute", "-1"], "--motion-per-minute -1.0: give a number >= 0"),
                       (["--task-locked-motion", "2"], "give a share between 0 and 1")):
        assert main([str(tmp_path / "never"), *argv]) == 2
        assert text in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
    root = simulate_dataset(tmp_path / "sim", options=SimulationOptions(subjects=1, duration_s=60, seed=1))
    described = json.loads((root / "participants.json").read_text())
    assert set(described) == set(pd.read_csv(root / "participants.tsv", sep="\t").columns)
