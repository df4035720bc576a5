"""The simulator: valid BIDS, deterministic, and its truth recovered without resampling bias."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest

from bids_app.simulate import SimulationOptions, main, simulate_dataset
from tests.helpers import validate


@pytest.fixture(scope="module")
def noise_free(tmp_path_factory):
    return simulate_dataset(tmp_path_factory.mktemp("sim") / "noise_free",
                            options=SimulationOptions(subjects=1, duration_s=600, noise=False, seed=3))


def _channel_stats(out, entities="sub-01/nirs/sub-01_task-tapping"):
    return pd.read_csv(out / f"{entities}_desc-channel_stats.tsv", sep="\t")


def _with_truth(root, stats, stem="sub-01_task-tapping"):
    truth = pd.read_csv(root / "sourcedata" / "ground_truth" / f"{stem}_truth.tsv", sep="\t")
    return stats.merge(truth, on=["ch_name", "chroma", "condition"], validate="one_to_one")


def _od(root):
    """The optical density [channel, time] of the (first) recording and its sampling rate."""
    with h5py.File(next(root.rglob("*.snirf"))) as snirf:
        return -np.log(snirf["nirs/data1/dataTimeSeries"][()].T), 1 / np.diff(snirf["nirs/data1/time"][:2])[0]


@pytest.mark.slow
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
    """Effects equal the truth within 1% at every rate, with the design built at the recording's rate and, with
    the default resampling that keeps time, also with the MNE-NIRS-style design built at the resampled rate; with
    MNE's resampling (--resample-method mne) that design is biased."""
    ratios = {}
    for design_rate, method in (("native", "polyphase"), ("resampled", "polyphase"), ("resampled", "mne")):
        out = tmp_path / f"{design_rate}-{method}"
        code, _, err = run_cli(noise_free, out, "participant", "--skip_bids_validator", "--noise-model", "ols",
                               "--short-regression", "none", "--resample-hz", resample_hz,
                               "--design-rate", design_rate, "--resample-method", method)
        assert code == 0, err
        table = _with_truth(noise_free, _channel_stats(out))
        active = table[table["effect_um"].abs() > 0.05]
        ratios[(design_rate, method)] = active["effect"] / active["effect_um"]
        silent = table[table["effect_um"] == 0]
        assert silent["effect"].abs().max() < 0.01 * active["effect_um"].abs().max()
    assert len(ratios[("native", "polyphase")]) >= 40
    assert (ratios[("native", "polyphase")] - 1).abs().max() < 0.01
    assert (ratios[("resampled", "polyphase")] - 1).abs().max() < 0.01
    if float(resample_hz) <= 0.6:
        assert ratios[("resampled", "mne")].mean() < 0.97  # MNE's time shift, which regressors built late miss


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
    od, sfreq = _od(root)
    first = int(motion["onset"].iloc[0] * sfreq)
    before, after = od[:, first - int(5 * sfreq):first].mean(axis=1), od[:, first + int(5 * sfreq):
                                                                          first + int(10 * sfreq)].mean(axis=1)
    assert np.median(np.abs(after - before)) > 0.01  # the shift is there (0.006-0.1 OD) and stays

    quiet = simulate_dataset(tmp_path / "quiet", options=SimulationOptions(subjects=1, duration_s=120, seed=2))
    assert pd.read_csv(quiet / "sourcedata/ground_truth/sub-01_task-tapping_motion.tsv", sep="\t").empty


def _assert_optode_size(size, sd):
    """One sign, and each |size| 3-10 (the default --optode-motion-sds) x 0.5-1 of its channel's SD (so at most 2x
    apart in SDs). Returns the mean."""
    ratio = np.abs(size) / sd
    assert len(set(np.sign(size))) == 1
    assert ratio.min() >= 1.5 - 1e-6 and ratio.max() <= 10 + 1e-6 and ratio.max() <= 2 * ratio.min() + 1e-6
    return ratio.mean()


def test_optode_scope_moves_one_optode_and_only_its_channels(tmp_path):
    """Each --motion-per-minute or --task-locked-motion artefact names one optode of a long pair, and the data
    change only on the channels that use it, within its time (the --motion-spikes spike: everywhere), by a
    share of each channel's SD. Motion draws come last, so the same seed without motion is the same recording
    without the artefacts."""
    common = {"subjects": 1, "duration_s": 120, "seed": 4}
    quiet = simulate_dataset(tmp_path / "quiet", options=SimulationOptions(**common))
    moved = simulate_dataset(tmp_path / "moved", options=SimulationOptions(
        **common, motion_per_minute=4, task_locked_motion=0.5, motion_spikes=1, motion_scope="optode"))
    (before, sfreq), (after, _) = _od(quiet), _od(moved)
    names = pd.read_csv(next(moved.rglob("*_channels.tsv")), sep="\t")["name"].tolist()
    pairs = [name.split(" ")[0] for name in names]
    long_optodes = {o for p in pairs if int(p.split("_")[1][1:]) <= 8 for o in p.split("_")}
    motion = pd.read_csv(moved / "sourcedata/ground_truth/sub-01_task-tapping_motion.tsv", sep="\t",
                         keep_default_na=False)
    assert list(motion.columns) == ["onset", "duration", "kind", "optode", "channels"]
    local = motion[motion["optode"] != "n/a"]
    assert len(local) >= 5 and local["optode"].nunique() >= 3
    assert (motion.loc[motion["optode"] == "n/a", "channels"] == "all").all() and len(local) == len(motion) - 1
    expected = np.zeros(before.shape, bool)  # where the artefacts may change the data
    for artefact in motion.itertuples():
        if artefact.optode != "n/a":
            assert artefact.optode in long_optodes
            assert artefact.channels == ",".join(dict.fromkeys(p for p in pairs if artefact.optode in p.split("_")))
        rows = [i for i, p in enumerate(pairs) if artefact.channels == "all" or p in artefact.channels.split(",")]
        start = round(artefact.onset * sfreq)
        end = None if artefact.kind == "baseline shift" else start + round(artefact.duration * sfreq)
        expected[rows, start:end] = True
    diff = after - before
    changed = np.abs(diff) > 1e-9
    assert changed.any() and not (changed & ~expected).any()
    hit = {p for channels in local["channels"] for p in channels.split(",")}
    assert {pairs[i] for i in np.flatnonzero(changed.any(axis=1))} >= hit  # every listed pair moved
    isolated = 0  # artefacts with no other one starting 3.5 s before to 1 s after: their own jump is measurable
    for artefact in local.itertuples():
        if ((motion["onset"] - artefact.onset).between(-3.5, 1).sum()) == 1:
            rows = [i for i, p in enumerate(pairs) if p in artefact.channels.split(",")]
            start = round(artefact.onset * sfreq)
            full = start + (2 if artefact.kind == "spike" else 4)  # within the shortest spike; after the ramp
            _assert_optode_size(diff[rows, full] - diff[rows, start - 1], before[rows].std(axis=1))
            isolated += 1
    assert isolated >= 3


def test_optode_artefact_sizes_are_a_share_of_each_channels_sd():
    """add_motion with scope optode: the rows of one optode only (both wavelengths, long and short pairs),
    one sign, each |size| = 3-10 (the default --optode-motion-sds) x 0.5-1 of that row's given SD (so at most 2x apart within an artefact)."""
    from bids_app.simulate.signals import add_motion

    names = [f"{pair} {wl}" for pair in ("S1_D1", "S1_D2", "S2_D1", "S2_D2", "S1_D9", "S2_D10", "S3_D11")
             for wl in (760, 850)]
    pairs = [name.split(" ")[0] for name in names]
    rng = np.random.default_rng(0)
    sd = np.geomspace(0.001, 0.1, len(names))  # far apart: sizes in OD instead of SDs would fail
    events = pd.DataFrame({"onset": [10.0], "duration": [5.0], "trial_type": ["Tapping/Left"]})
    chosen, ratios = set(), []
    for call in range(40):  # one artefact per call (the one Tapping trial, every time)
        options = SimulationOptions(task_locked_motion=1.0, baseline_shift_fraction=call % 2, motion_scope="optode")
        od = np.zeros((len(names), 600))
        [artefact] = add_motion(od, names=names, channel_sd=sd, events=events, sfreq=10.0, options=options,
                                rng=rng)
        start, optode = round(artefact["onset"] * 10), artefact["optode"]
        rows = [i for i, pair in enumerate(pairs) if optode in pair.split("_")]
        assert artefact["channels"] == ",".join(dict.fromkeys(pairs[i] for i in rows))
        assert not od[np.setdiff1d(np.arange(len(names)), rows)].any()
        size = od[rows, -1] if artefact["kind"] == "baseline shift" else od[rows, start + 2]
        assert artefact["kind"] == "spike" or not od[rows, start - 1].any()  # the shift starts at the onset
        assert artefact["kind"] == "baseline shift" or not od[rows, -1].any()  # the spike returns
        ratios.append(_assert_optode_size(size, sd[rows]))
        chosen.add(optode)
    assert chosen == {"S1", "S2", "D1", "D2"}  # S3, D9-D11 belong to short pairs only
    assert min(ratios) < 3.5 and max(ratios) > 6.5  # the 3-10 range is used


def test_cap_scope_motion_is_as_before():
    """The cap scope draws and adds exactly what add_motion did before --motion-scope (checksum computed then)."""
    import hashlib

    from bids_app.simulate.signals import add_motion

    od = np.zeros((8, 1200))
    events = pd.DataFrame({"onset": [10.0, 20.0, 30.0, 50.0, 70.0, 90.0], "duration": 5.0,
                           "trial_type": ["Tapping/Left", "Control", "Tapping/Right", "Tapping/Left",
                                          "Tapping/Right", "Tapping/Left"]})
    names = [f"S{s}_D{d} {wl}" for s, d in ((1, 1), (1, 2), (2, 1), (2, 9)) for wl in (760, 850)]
    artefacts = add_motion(od, names=names, channel_sd=np.ones(8), events=events, sfreq=10.0,
                           options=SimulationOptions(motion_per_minute=3, task_locked_motion=0.6),
                           rng=np.random.default_rng(11))
    assert [(a["onset"], a["duration"], a["kind"]) for a in artefacts] == [
        (8.0, 0.8, "spike"), (16.6, 0.5, "baseline shift"), (17.0, 0.7, "spike"), (72.7, 0.5, "baseline shift"),
        (91.3, 0.5, "baseline shift"), (106.7, 0.5, "baseline shift")]
    assert all(a["optode"] == "n/a" and a["channels"] == "all" for a in artefacts)
    assert hashlib.sha256(np.round(od, 12).tobytes()).hexdigest()[:16] == "6705017024495f1f"
    assert od.sum() == pytest.approx(-90.58384610924746, abs=1e-9)


def test_motion_scope_must_be_cap_or_optode(capsys):
    with pytest.raises(ValueError, match="^--motion-scope optodes: give cap or optode$"):
        SimulationOptions(motion_scope="optodes")
    assert SimulationOptions(motion_scope="optode").motion_scope == "optode"
    with pytest.raises(SystemExit):
        main(["never", "--motion-scope", "optodes"])
    assert "--motion-scope" in capsys.readouterr().err


def test_invalid_options_are_one_line_errors_and_participants_json_matches_the_table(tmp_path, capsys):
    for argv, text in ((["--subjects", "0"], "--subjects 0: give at least 1"),
                       (["--motion-per-minute", "-1"], "--motion-per-minute -1.0: give a number >= 0"),
                       (["--task-locked-motion", "2"], "give a share between 0 and 1"),
                       (["--group-effect", "0.5"], "--group-effect 0.5: give --groups too"),
                       (["--groups", "a", "a"], "--groups a a: give two different labels"),
                       (["--groups", "a", "b", "--subjects", "1"], "give --subjects 2 or more"),
                       (["--groups", "a", "b", "--group-effect", "-1"], "--group-effect -1.0: give a number >= 0")):
        assert main([str(tmp_path / "never"), *argv]) == 2
        assert text in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
    root = simulate_dataset(tmp_path / "sim", options=SimulationOptions(subjects=1, duration_s=60, seed=1))
    described = json.loads((root / "participants.json").read_text())
    assert set(described) == set(pd.read_csv(root / "participants.tsv", sep="\t").columns)


@pytest.fixture(scope="module")
def with_and_without_groups(tmp_path_factory):
    """The same study (seed, 3 participants) without groups and with groups control/patient at 0.5."""
    root = tmp_path_factory.mktemp("groups")
    common = {"subjects": 3, "duration_s": 240, "seed": 5}
    return (simulate_dataset(root / "plain", options=SimulationOptions(**common)),
            simulate_dataset(root / "groups", options=SimulationOptions(**common, groups=("control", "patient"),
                                                                         group_effect=0.5)))


def _truths(root):
    return {path.name[:6]: pd.read_csv(path, sep="\t")
            for path in sorted((root / "sourcedata/ground_truth").glob("sub-*_truth.tsv"))}


def test_groups_alternate_and_the_second_has_the_stated_fraction_of_the_amplitudes(with_and_without_groups):
    plain, groups = with_and_without_groups
    participants = pd.read_csv(groups / "participants.tsv", sep="\t")
    assert list(participants.columns) == ["participant_id", "age", "sex", "group"]
    assert list(participants["group"]) == ["control", "patient", "control"]
    assert set(json.loads((groups / "participants.json").read_text())["group"]["Levels"]) == {"control", "patient"}
    recorded = json.loads((groups / "sourcedata/ground_truth/simulation.json").read_text())
    assert recorded["groups"] == ["control", "patient"] and recorded["group_effect"] == 0.5
    # the same random draws: the first group's amplitudes unchanged, the second's halved
    before, after = _truths(plain), _truths(groups)
    for subject, factor in (("sub-01", 1.0), ("sub-02", 0.5), ("sub-03", 1.0)):
        assert (before[subject]["effect_um"] != 0).sum() == 2 * 2 * 20  # 2 conditions x 2 chroma x 20 long pairs
        np.testing.assert_allclose(after[subject]["effect_um"], factor * before[subject]["effect_um"], rtol=1e-9)
    assert validate(groups) == (0, [])


def test_group_truth_is_each_groups_roi_effect_and_their_difference(with_and_without_groups):
    _, groups = with_and_without_groups
    truth = pd.read_csv(groups / "sourcedata/ground_truth/group_truth.tsv", sep="\t")
    assert len(truth) == 2 * 2 * 3 * 3  # roi x chroma x condition x (control, patient, patient - control)
    table = truth.set_index(["roi", "chroma", "condition", "group"])
    contralateral = table.loc[("right_hemisphere", "hbo", "Tapping/Left")]
    assert contralateral.loc["control", "effect_um"] == pytest.approx(0.6)  # SimulationOptions.contralateral_um
    assert contralateral.loc["patient", "effect_um"] == pytest.approx(0.3)
    assert contralateral.loc["patient - control", "effect_um"] == pytest.approx(-0.3)
    assert table.loc[("left_hemisphere", "hbr", "Tapping/Left", "patient - control"), "effect_um"] == pytest.approx(
        -0.6 * 0.3 * -0.35 * 0.5)  # ipsilateral fraction, HbR fraction, half in the second group
    assert (truth.loc[truth["condition"] == "Control", ["effect_um", "study_effect_um"]] == 0).all().all()
    # study_effect_um: the mean over the group's participants of their recorded amplitudes over the ROI's pairs
    per_subject = []
    for subject, recording in _truths(groups).items():
        long = recording[recording["role"] == "long"]
        source = long["ch_name"].str.extract(r"^S(\d+)_")[0].astype(int)
        per_subject.append(long.assign(subject=subject, roi=np.where(source <= 4, "left_hemisphere", "right_hemisphere")))
    participants = pd.read_csv(groups / "participants.tsv", sep="\t")
    means = (pd.concat(per_subject).merge(participants, left_on="subject", right_on="participant_id")
             .groupby(["roi", "chroma", "condition", "subject", "group"])["effect_um"].mean()
             .groupby(["roi", "chroma", "condition", "group"]).mean())
    for (roi, chroma, condition, group), value in means.items():
        assert table.loc[(roi, chroma, condition, group), "study_effect_um"] == pytest.approx(value, abs=1e-9)
        difference = means[(roi, chroma, condition, "patient")] - means[(roi, chroma, condition, "control")]
        assert table.loc[(roi, chroma, condition, "patient - control"), "study_effect_um"] == pytest.approx(
            difference, abs=1e-9)


def test_without_group_options_the_dataset_is_described_as_before(with_and_without_groups):
    plain, _ = with_and_without_groups
    assert list(pd.read_csv(plain / "participants.tsv", sep="\t").columns) == ["participant_id", "age", "sex"]
    assert set(json.loads((plain / "participants.json").read_text())) == {"participant_id", "age", "sex"}
    recorded = json.loads((plain / "sourcedata/ground_truth/simulation.json").read_text())
    assert "groups" not in recorded and "group_effect" not in recorded
    generated = json.loads((plain / "dataset_description.json").read_text())["GeneratedBy"][0]
    assert json.loads(generated["Description"]) == recorded
    assert not (plain / "sourcedata/ground_truth/group_truth.tsv").exists()


def test_python_m_bids_app_simulate_is_the_command():
    done = subprocess.run([sys.executable, "-m", "bids_app.simulate", "--version"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and done.stdout.startswith("fnirs-glm-simulate ")


@pytest.mark.slow
def test_group_level_recovers_the_simulated_group_difference(tmp_path, run_cli):
    """Two groups of 4 participants, the patients' responses at 30% of the controls': the group level's
    'patient - control' rows cover the study's true difference, and find the contralateral differences
    (p < 0.05) with intervals that also cover the simulated expected difference."""
    bids = simulate_dataset(tmp_path / "bids", options=SimulationOptions(
        subjects=8, duration_s=300, seed=21, groups=("control", "patient"), group_effect=0.3))
    out = tmp_path / "out"
    for level, *extra in (("participant", "--n_cpus", "2"), ("group", "--group-covariates", "group")):
        code, _, err = run_cli(bids, out, level, "--skip_bids_validator", *extra)
        assert code == 0, err
    ours = pd.read_csv(out / "task-tapping_desc-roi_stats.tsv", sep="\t")
    truth = pd.read_csv(bids / "sourcedata/ground_truth/group_truth.tsv", sep="\t")
    rows = ours.merge(truth, on=["roi", "chroma", "condition", "group"], validate="one_to_one")
    differences = rows[rows["group"] == "patient - control"]
    assert len(differences) == 12 and set(differences["n"]) == {8}
    covered = (differences["ci_low"] <= differences["study_effect_um"]) & (
        differences["study_effect_um"] <= differences["ci_high"])
    assert covered.sum() >= 11  # 95% intervals: at most one of 12 misses
    contralateral = differences[(differences["roi"] == "right_hemisphere") == (differences["condition"]
                                                                                == "Tapping/Left")]
    contralateral = contralateral[contralateral["condition"] != "Control"]
    assert len(contralateral) == 4
    assert covered[contralateral.index].all() and (contralateral["p"] < 0.05).all()
    # and the simulated (expected) difference, -0.7 x 0.6 uM for HbO and -0.35 times that for HbR
    assert ((contralateral["ci_low"] <= contralateral["effect_um"])
            & (contralateral["effect_um"] <= contralateral["ci_high"])).all()
