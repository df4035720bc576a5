"""--motion-correction level-shifts: detection of shared motion edges and GLS removal of each channel's level
change, against an independent dense implementation and against known truth."""

import json

import numpy as np
import pytest

from bids_app.first_level import level_shifts

SFREQ = 7.8125
# 12 pairs of 4 sources and 6 detectors (each pair's two wavelengths): the optodes of each of 24 channels
OPTODES = [pair for pair in [(f"S{s}", f"D{s + k}") for s in range(1, 5) for k in range(3)] for _ in range(2)]
INNOVATION_SD = 0.005 * np.sqrt(1 - 0.95**2)  # of _noise


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
    _, found = level_shifts.correct(data, sfreq=SFREQ, channel_optodes=OPTODES)
    assert len(found.cap) == len(truth) and found.local == {}  # whole-cap edges are not taken for an optode's
    for (first, last), (true_first, true_last) in zip(found.cap, truth):
        assert first <= true_last + 1 and last >= true_first - 1, (found, truth)
    nothing = level_shifts.correct(clean, sfreq=SFREQ, channel_optodes=OPTODES)[1]
    assert len(nothing.cap) == 0 and nothing.local == {}
    # a median over a few channels exceeds the threshold by chance: no detection below MIN_CHANNELS
    few = data[:level_shifts.MIN_CHANNELS - 1]
    with pytest.warns(UserWarning, match="fewer than the 8 needed"):
        corrected, found = level_shifts.correct(few, sfreq=SFREQ)
    assert len(found.cap) == 0 and np.array_equal(corrected, few)
    assert len(level_shifts.correct(data[:level_shifts.MIN_CHANNELS], sfreq=SFREQ)[1].cap) == len(truth)


def test_a_shift_and_a_spike_of_one_optode_are_found_and_removed_from_its_channels_only():
    """One source moves (a baseline shift, then a spike) while the others stay: the transitions are found as
    that optode's, not cap-wide nor of the detectors it shares pairs with; its channels are corrected to
    within 2 innovation SDs of the clean signal; every other channel is left exactly as given."""
    rng = np.random.default_rng(8)
    clean = _noise(rng)
    data = clean.copy()
    hit = [i for i, optodes in enumerate(OPTODES) if "S2" in optodes]
    data[hit, 1200:] += rng.uniform(0.02, 0.04, (len(hit), 1))
    data[hit, 2000:2015] -= rng.uniform(0.02, 0.04, (len(hit), 1))
    corrected, found = level_shifts.correct(data, sfreq=SFREQ, channel_optodes=OPTODES)
    assert len(found.cap) == 0 and list(found.local) == ["S2"] and found.n_local == 3
    for (first, last), true_step in zip(found.local["S2"], (1199, 1999, 2014)):
        assert first - 1 <= true_step <= last + 1, found.local
    others = [i for i in range(len(OPTODES)) if i not in hit]
    np.testing.assert_array_equal(corrected[others], data[others])
    difference = corrected[hit] - clean[hit]
    error = np.sqrt(np.mean((difference - difference.mean(axis=1, keepdims=True)) ** 2))
    assert error < 2 * INNOVATION_SD
    uncorrected = data[hit] - clean[hit]
    assert np.sqrt(np.mean((uncorrected - uncorrected.mean(axis=1, keepdims=True)) ** 2)) > 5 * error
    # without the per-optode detection the median over all channels misses it
    assert level_shifts.correct(data, sfreq=SFREQ, channel_optodes=OPTODES,
                                local_threshold=np.inf)[1].n_local == 0


def test_a_slow_rise_of_one_optode_is_not_taken_for_motion():
    """A response-like rise (a raised cosine over 6 s) on one optode's channels, far above the noise, is left
    alone: an optode's transition must be sharp (most of its change within the transition)."""
    rng = np.random.default_rng(9)
    data = _noise(rng)
    hit = [i for i, optodes in enumerate(OPTODES) if "S3" in optodes]
    rise = round(6 * SFREQ)
    bump = np.concatenate([0.5 - 0.5 * np.cos(np.linspace(0, np.pi, rise)), np.ones(rise),
                           0.5 + 0.5 * np.cos(np.linspace(0, np.pi, rise))])
    for start in (500, 1500, 2500):
        data[hit, start:start + len(bump)] += 0.05 * bump
    found = level_shifts.correct(data, sfreq=SFREQ, channel_optodes=OPTODES)[1]
    assert found.local == {} and len(found.cap) == 0
    # the same rise made sharp is found
    data[hit, 2800:] += 0.05
    assert "S3" in level_shifts.correct(data, sfreq=SFREQ, channel_optodes=OPTODES)[1].local


def test_a_detection_touching_a_transition_widens_it():
    found = np.array([[10, 12], [40, 40]])

    def merged(row):
        return level_shifts._united(np.concatenate([found, [row]]))

    np.testing.assert_array_equal(merged((13, 15)), [[10, 15], [40, 40]])
    np.testing.assert_array_equal(merged((20, 20)), [[10, 12], [20, 20], [40, 40]])
    np.testing.assert_array_equal(merged((12, 39)), [[10, 40]])


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
    """The bundled real recording (sub-01 ses-01, which has motion): cap-wide transitions and those of single
    optodes are found at a plausible rate (some, and fewer than 5 per minute of each), removed (the haemoglobin
    differs from the uncorrected), recorded as counts, and the signals stay finite."""
    from tests.helpers import haemoglobin

    qc, od, _ = example_assessed
    ours = haemoglobin(od, qc, motion_correction="level-shifts")
    plain = haemoglobin(od, qc, motion_correction="none")
    assert isinstance(ours.motion_transitions, int) and plain.motion_transitions is None
    assert np.isfinite(ours.data).all()
    minutes = len(od.times) / od.info["sfreq"] / 60
    assert 0 < ours.motion_transitions / minutes < 5 and 0 < sum(ours.motion_local.values()) / minutes < 5
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
    local = designs[0]["MotionLocalTransitions"]
    assert isinstance(local, dict) and all(isinstance(n, int) for n in local.values())
    assert (f"Motion correction</dt><dd>level-shifts ({counts[0]} cap-wide transitions removed; "
            f"{sum(local.values())} of single optodes") in (out / "sub-01.html").read_text()
    assert run_cli(bids, out, "group", "--skip_bids_validator")[0] == 0
    report = (out / "task-tapping_report.html").read_text()
    stated = (f"{min(counts)}-{max(counts)} transitions per recording" if min(counts) < max(counts) else
              f"{counts[0]} transitions per recording")
    assert stated in report
    assert "removing level shifts" in report


def _simulated(tmp_path, name, **options):
    """(inputs, QC table, optical density) of one simulated 10-min recording."""
    import mne_bids

    from bids_app.inputs import load_recording
    from bids_app.simulate import SimulationOptions, simulate_dataset
    from tests.helpers import assess, options as first_level_options

    root = simulate_dataset(tmp_path / name, options=SimulationOptions(subjects=1, duration_s=600, **options))
    bids_path = next(iter(mne_bids.find_matching_paths(root, datatypes="nirs", suffixes="nirs", extensions=".snirf")))
    inputs = load_recording(bids_path, options=first_level_options(), warn=lambda message: None)
    qc, od, _ = assess(inputs.raw.copy(), inputs.channels)
    return root, inputs, qc, od


def test_no_optode_transition_in_clean_or_noise_free_recordings_and_responses_unchanged(tmp_path):
    """Simulated recordings without motion: no optode's own transition is found (the stated rate on clean data
    is none in 100 minutes, benchmarks/motion_detections.py), and on noise-free data the effects with level-shifts
    equal those without correction to 0.5%."""
    from bids_app.first_level.fit import fit_recording
    from tests.helpers import haemoglobin, options

    _, _, qc, od = _simulated(tmp_path, "clean", seed=41)
    assert haemoglobin(od, qc, motion_correction="level-shifts").motion_local == {}
    _, inputs, qc, od = _simulated(tmp_path, "noise-free", seed=42, noise=False)
    assert haemoglobin(od, qc, motion_correction="level-shifts").motion_local == {}
    effects = {}
    for correction in ("none", "level-shifts"):
        fitted = fit_recording(inputs, options=options(motion_correction=correction, noise_model="ols"),
                               contrasts={}, warn=lambda message: None)
        effects[correction] = fitted.channel_stats.set_index(["ch_name", "condition", "chroma"])["effect"]
    active = effects["none"].abs() > 0.1 * effects["none"].abs().max()
    assert active.sum() > 20
    relative = (effects["level-shifts"][active] - effects["none"][active]) / effects["none"][active]
    assert relative.abs().max() < 0.005


def test_optode_artefacts_are_found_on_the_optodes_they_hit_and_counted_in_the_motion_burden(tmp_path):
    """One optode at a time moves (the simulator's --motion-scope optode, 2 per minute): level-shifts finds
    transitions of the optodes the truth names, no cap-wide one; the QC motion burden rises on the hit pairs
    only (the same seed without motion gives the same data elsewhere)."""
    import pandas as pd

    from tests.helpers import haemoglobin

    root, _, qc, od = _simulated(tmp_path, "moved", seed=43, motion_per_minute=2.0, motion_scope="optode")
    _, _, still_qc, _ = _simulated(tmp_path, "still", seed=43)
    truth = pd.read_csv(next((root / "sourcedata" / "ground_truth").glob("*_motion.tsv")), sep="\t")
    assert len(truth) >= 10 and set(truth["optode"]) != {"n/a"}
    haemo = haemoglobin(od, qc, motion_correction="level-shifts")
    assert haemo.motion_transitions == 0 and haemo.motion_local
    assert sum(haemo.motion_local.values()) >= len(truth) / 3
    from bids_app.first_level.level_shifts import correct

    used = (qc["status"] == "good") & (qc["role"] != "unused")
    names = list(qc.loc[used, "name"])
    assert names == [name for name in od.ch_names if name in set(names)]
    found = correct(od.get_data(picks=names), sfreq=od.info["sfreq"],
                    channel_optodes=[tuple(name.split(" ")[0].split("_")) for name in names])[1]
    assert {optode: len(rows) for optode, rows in found.local.items()} == haemo.motion_local
    for optode, rows in found.local.items():  # each within 1 s of an edge of an artefact of that optode
        moved = truth[truth["optode"] == optode]
        edges = np.concatenate([moved["onset"], moved.loc[moved["kind"] == "spike", ["onset", "duration"]].sum(axis=1)])
        for first, last in rows:
            assert np.abs(edges - (first + last + 2) / 2 / od.info["sfreq"]).min() <= 1.0, (optode, first, edges)
    hit = {pair for channels in truth["channels"] for pair in channels.split(",")}
    burden = qc.set_index("name")["motion_burden"] - still_qc.set_index("name")["motion_burden"]
    pairs = burden.index.map(lambda name: name.split(" ")[0])
    assert (burden[pairs.isin(hit)] >= 0).all() and burden[pairs.isin(hit)].max() > 0
    assert (burden[~pairs.isin(hit)] == 0).all()
