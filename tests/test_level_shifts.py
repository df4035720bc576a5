"""--motion-correction level-shifts: detection of shared motion edges and GLS removal of each channel's level
change, against an independent dense implementation and against known truth."""

import json

import numpy as np
import pytest

from bids_app.first_level import level_shifts

SFREQ = 7.8125


def _noise(rng, n_channels=24, n_times=3000, sd=0.005):
    """AR(1) noise (0.95) in optical-density units, as the simulator's per-channel noise."""
    from scipy.signal import lfilter

    return lfilter([1], [1, -0.95], rng.standard_normal((n_channels, n_times)), axis=1) * sd * np.sqrt(1 - 0.95**2)


def _with_motion(clean, rng, *, shifts=(600, 1500), spikes=((1000, 1012), (2200, 2230)), ramp=4):
    """``clean`` plus baseline shifts ramping over ``ramp`` samples from each start, and spikes (offsets on
    start .. end - 1), each channel with its own size and sign. Returns (data, true transitions)."""
    data = clean.copy()
    n_channels, n_times = data.shape
    truth = []
    for start in shifts:
        size = rng.uniform(0.02, 0.1, n_channels) * rng.choice([-1, 1], n_channels)
        data[:, start:] += size[:, None] * np.clip(np.arange(n_times - start) / ramp, 0, 1)
        truth.append((start, start + ramp - 1))
    for start, end in spikes:
        data[:, start:end] += (rng.uniform(0.02, 0.1, n_channels) * rng.choice([-1, 1], n_channels))[:, None]
        truth += [(start - 1, start - 1), (end - 1, end - 1)]
    return data, sorted(truth)


def _dense_gls(series, innovations_filter, *, level, free):
    """Straightforward GLS: dense columns in the domain of first differences, both sides whitened with
    scipy's lfilter, numpy's least squares."""
    from scipy.signal import lfilter

    columns = []
    for start in level:
        column = np.zeros(len(series))
        column[start - 1] = 1
        columns.append(column)
    for sample in free:
        column = np.zeros(len(series))
        column[sample - 1], column[sample] = 1, -1
        columns.append(column)
    design = lfilter(innovations_filter, [1.0], np.column_stack(columns), axis=0)
    coefficients, *_ = np.linalg.lstsq(design, lfilter(innovations_filter, [1.0], series), rcond=None)
    return coefficients


def _gls(series, innovations_filter, *, level, free):
    columns = level_shifts._difference_columns(level, free)
    return level_shifts._gls(series, innovations_filter, columns=columns,
                             pairs=level_shifts._neighbours(columns[1], reach=len(innovations_filter) - 1),
                             n_columns=len(level) + len(free))


def test_gls_equals_dense_implementation():
    """The sparse normal equations give the dense whitened least squares (scipy's lfilter, numpy's lstsq) for
    columns away from the series' end, and the dense GLS with the Toeplitz precision matrix everywhere."""
    from scipy.linalg import toeplitz

    rng = np.random.default_rng(0)
    data, _ = _with_motion(_noise(rng, n_channels=3), rng)
    series = np.diff(data[0])
    innovations_filter = _filter(series, order=8)
    level, free = np.array([601, 1001, 1012]), np.array([602, 603, 604, 1013])
    expected = _dense_gls(series, innovations_filter, level=level, free=free)
    np.testing.assert_allclose(_gls(series, innovations_filter, level=level, free=free), expected,
                               rtol=1e-6, atol=1e-9)
    # a transition at the last steps: the same estimator written with a dense Toeplitz precision matrix
    n = len(series)
    level, free = np.array([601, n - 2]), np.array([602, n - 1])
    autocorrelation = np.correlate(innovations_filter, innovations_filter, "full")[8:]
    precision = toeplitz(np.concatenate([autocorrelation, np.zeros(n - 9)]))
    design = np.zeros((n, 4))
    design[level - 1, [0, 1]] = 1
    design[free - 1, [2, 3]], design[free, [2, 3]] = 1, -1
    dense = np.linalg.solve(design.T @ precision @ design, design.T @ precision @ series)
    np.testing.assert_allclose(_gls(series, innovations_filter, level=level, free=free), dense, rtol=1e-6)


def _filter(series, *, order):
    """The innovations filter the correction fits to ``series`` (all of it away from transitions)."""
    [(_, innovations_filter)] = level_shifts._innovations_filters(series[None], away=np.ones(len(series), bool),
                                                                   order=order)
    return innovations_filter


def test_ar_filter_is_yule_walker():
    """The innovations filter of an AR(2) series: statsmodels' Yule-Walker (biased autocovariances)."""
    from scipy.signal import lfilter
    from statsmodels.regression.linear_model import yule_walker

    rng = np.random.default_rng(1)
    series = lfilter([1], [1, -0.6, 0.2], rng.standard_normal(5000))
    phi, _ = yule_walker(series, order=2, method="mle", demean=False)
    np.testing.assert_allclose(_filter(series, order=2),
                               np.concatenate([[1], -phi]), rtol=1e-10)


def test_detects_every_shift_and_spike_edge():
    """Each true transition (ramps of 4 samples, spike edges) overlaps a detected one, and nothing else is
    found; on the clean signal nothing is found."""
    rng = np.random.default_rng(2)
    clean = _noise(rng)
    data, truth = _with_motion(clean, rng)
    _, found = level_shifts.correct(data, sfreq=SFREQ)
    assert len(found) == len(truth)
    for (first, last), (true_first, true_last) in zip(found, truth):
        assert first <= true_last + 1 and last >= true_first - 1, (found, truth)
    assert len(level_shifts.correct(clean, sfreq=SFREQ)[1]) == 0
    # a median over a few channels exceeds the threshold by chance: no detection below MIN_CHANNELS
    few = data[:level_shifts.MIN_CHANNELS - 1]
    with pytest.warns(UserWarning, match="fewer than the 8 needed"):
        corrected, found = level_shifts.correct(few, sfreq=SFREQ)
    assert len(found) == 0 and np.array_equal(corrected, few)
    assert len(level_shifts.correct(data[:level_shifts.MIN_CHANNELS], sfreq=SFREQ)[1]) == len(truth)


def test_a_detection_touching_a_transition_widens_it():
    found = np.array([[10, 12], [40, 40]])
    np.testing.assert_array_equal(level_shifts._merged(found, (13, 15)), [[10, 15], [40, 40]])
    np.testing.assert_array_equal(level_shifts._merged(found, (20, 20)), [[10, 12], [20, 20], [40, 40]])
    np.testing.assert_array_equal(level_shifts._merged(found, (12, 39)), [[10, 40]])


def test_removes_the_motion_to_within_the_noise():
    """After the correction the signal differs from the clean one by a constant per channel plus an error
    below twice the noise's innovation SD; the uncorrected error is over ten times larger."""
    rng = np.random.default_rng(3)
    clean = _noise(rng)
    data, truth = _with_motion(clean, rng)
    corrected = level_shifts.remove_level_shifts(data, sfreq=SFREQ, transitions=np.array(truth))
    innovation_sd = 0.005 * np.sqrt(1 - 0.95**2)

    def error(x):
        difference = x - clean
        return np.sqrt(np.mean((difference - difference.mean(axis=1, keepdims=True)) ** 2))

    assert error(corrected) < 2 * innovation_sd  # returning the clean signal's level: 3.2 innovation SDs
    assert error(corrected) < error(data) / 10


def test_flat_channels_and_no_transitions_are_left_as_given():
    rng = np.random.default_rng(4)
    data, truth = _with_motion(_noise(rng, n_channels=4), rng)
    data[1] = 0.0
    corrected = level_shifts.remove_level_shifts(data, sfreq=SFREQ, transitions=np.array(truth))
    np.testing.assert_array_equal(corrected[1], data[1])
    assert not np.allclose(corrected[0], data[0])
    np.testing.assert_array_equal(level_shifts.remove_level_shifts(data, sfreq=SFREQ,
                                                                   transitions=np.zeros((0, 2))), data)


def test_real_recording_is_corrected_on_its_own_transitions(example_assessed):
    """The bundled real recording: the transitions found are removed from every channel (the haemoglobin
    differs from the uncorrected), recorded as a count, and the signals stay finite."""
    from tests.helpers import haemoglobin

    qc, od, _ = example_assessed
    ours = haemoglobin(od, qc, motion_correction="level-shifts")
    plain = haemoglobin(od, qc, motion_correction="none")
    assert isinstance(ours.motion_transitions, int) and plain.motion_transitions is None
    assert np.isfinite(ours.data).all()
    minutes = len(od.times) / od.info["sfreq"] / 60
    assert ours.motion_transitions / minutes < 5
    if ours.motion_transitions:
        assert not np.allclose(ours.data, plain.data)


def _active_rmse(out, bids, pd) -> float:
    """RMSE of the activated channels' effects (|truth| >= 0.1 uM) over the recordings of ``out``."""
    errors = []
    for path in sorted(out.rglob("*_desc-channel_stats.tsv")):
        stem = path.name.split("_desc-")[0]
        truth = pd.read_csv(bids / "sourcedata" / "ground_truth" / f"{stem}_truth.tsv", sep="\t")
        merged = pd.read_csv(path, sep="\t").merge(truth, on=["ch_name", "chroma", "condition"],
                                                   validate="one_to_one")
        active = merged[merged["effect_um"].abs() >= 0.1]
        errors.append(active["effect"] - active["effect_um"])
    return float(np.sqrt(np.mean(pd.concat(errors) ** 2)))


@pytest.mark.slow
def test_level_shifts_improve_known_effects_and_are_recorded(tmp_path, run_cli):
    """On simulated recordings with 4 artefacts per minute, the effects of the activated channels are closer
    to the truth with the correction than without; the count reaches the design sidecar, the participant
    report and the methods paragraph."""
    import pandas as pd

    from bids_app.simulate import SimulationOptions, simulate_dataset

    bids = simulate_dataset(tmp_path / "bids", options=SimulationOptions(subjects=2, duration_s=600, seed=7,
                                                                         motion_per_minute=4.0))
    errors = {}
    for correction in ("none", "level-shifts"):
        out = tmp_path / correction
        assert run_cli(bids, out, "participant", "--skip_bids_validator", "--motion-correction", correction)[0] == 0
        errors[correction] = _active_rmse(out, bids, pd)
    assert errors["level-shifts"] < 0.8 * errors["none"], errors
    out = tmp_path / "level-shifts"
    designs = [json.loads(p.read_text()) for p in sorted(out.rglob("*_design.json"))]
    counts = [d["MotionTransitions"] for d in designs]
    assert {d["MotionCorrection"] for d in designs} == {"level-shifts"} and all(c > 20 for c in counts)
    assert f"Motion correction</dt><dd>level-shifts ({counts[0]} transitions removed)" in (
        out / "sub-01.html").read_text()
    assert run_cli(bids, out, "group", "--skip_bids_validator")[0] == 0
    report = (out / "task-tapping_report.html").read_text()
    stated = (f"{min(counts)}-{max(counts)} transitions per recording" if min(counts) < max(counts) else
              f"{counts[0]} transitions per recording")
    assert stated in report
    assert "removing level shifts" in report
