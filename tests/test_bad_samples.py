"""Samples left out of a signal's fit (bids_app.first_level.bad_samples) against a direct implementation with
dense matrices: generalised least squares of the kept samples under the AR covariance (the marginal covariance
of the kept samples, not a prewhitening across the gap), and Worsley's corrected AR estimates."""

import numpy as np
import pytest

from bids_app.first_level.bad_samples import fit_with_bad_samples
from bids_app.first_level.glm import fit_glm


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    X = np.column_stack([np.sin(2 * np.pi * t / 40), (t % 60 < 10).astype(float), np.cos(np.pi * t / n),
                         np.ones(n)])
    e = np.zeros((n, 3))
    noise = rng.normal(size=(n + 50, 3))
    for i in range(2, n + 50):  # AR(2) noise
        noise[i] += 0.6 * noise[i - 1] - 0.2 * noise[i - 2]
    e[:] = noise[50:]
    Y = X @ np.array([[1.0, -0.5, 0.2], [2.0, 0.0, 1.0], [0.3, 0.1, -0.2], [5.0, 5.0, 5.0]]) + e
    bad = np.zeros((n, 3), dtype=bool)
    bad[100:160, 0] = True  # a 60-sample stretch on signal 0
    bad[100:160, 1] = True  # the same stretch on signal 1 (one shared fit)
    bad[20:25, 2] = bad[250:290, 2] = True  # two stretches on signal 2
    return Y, X, bad


def _whitening(coef: np.ndarray, n: int) -> np.ndarray:
    """The dense whitening matrix of glm._whiten: w[t] = e[t] - sum_k rho_k e[t-k], zeros before the start."""
    W = np.eye(n)
    for k, rho in enumerate(coef, start=1):
        W -= rho * np.eye(n, k=-k)
    return W


def _dense_gls(y, X, kept, coef):
    """GLS of the kept samples under the covariance Sigma = (W'W)^-1 of the whitening: beta, cov, df."""
    n = len(y)
    W = _whitening(coef, n)
    sigma = np.linalg.inv(W.T @ W)[np.ix_(kept, kept)]
    precision = np.linalg.inv(sigma)
    Xk, yk = X[kept], y[kept]
    gram = Xk.T @ precision @ Xk
    beta = np.linalg.solve(gram, Xk.T @ precision @ yk)
    resid = yk - Xk @ beta
    df = len(yk) - np.linalg.matrix_rank(Xk)
    return beta, np.linalg.inv(gram) * (resid @ precision @ resid) / df, df


def _dense_worsley_ar(y, X, bad_rows, order):
    """Worsley-corrected Yule-Walker AR coefficients from dense matrices, the design with its impulse columns."""
    n = len(y)
    impulses = np.eye(n)[:, bad_rows]
    A = np.hstack([X, impulses])
    H = A @ np.linalg.pinv(A)
    R = np.eye(n) - H
    values = y.copy()
    values[bad_rows] = 0.0
    r = R @ values
    D = [np.eye(n)] + [np.eye(n, k=j) + np.eye(n, k=-j) for j in range(1, order + 1)]
    system = np.array([[np.trace(R @ Dj @ R @ Dl) for Dl in D] for Dj in D])
    v = np.linalg.solve(system, np.array([r @ Dj @ r for Dj in D]))
    toeplitz = v[np.abs(np.subtract.outer(np.arange(order), np.arange(order)))]
    return np.linalg.solve(toeplitz, v[1:order + 1])


@pytest.mark.parametrize("order, correction", [(1, False), (2, True), (3, True)])
def test_left_out_samples_equal_dense_gls_of_the_kept_samples(order, correction):
    Y, X, bad = _data()

    def fit(values, design):
        return fit_glm(values, design, ar_order=order, bias_correction=correction)

    result = fit_with_bad_samples(fit, Y, X, bad)
    for s in range(Y.shape[1]):
        kept = ~bad[:, s]
        beta, cov, df = _dense_gls(Y[:, s], X, kept, result.ar_coef[s])
        np.testing.assert_allclose(result.beta[s], beta, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(result.cov[s], cov, rtol=1e-6, atol=1e-12)
        assert result.degrees_of_freedom()[s] == df == kept.sum() - X.shape[1]
        if correction:
            expected = _dense_worsley_ar(Y[:, s], X, np.flatnonzero(bad[:, s]), order)
            np.testing.assert_allclose(result.ar_coef[s], expected, rtol=1e-6, atol=1e-9)


def test_left_out_values_have_no_say_and_untouched_signals_fit_as_before():
    Y, X, bad = _data(seed=1)

    def fit(values, design):
        return fit_glm(values, design, ar_order=2, bias_correction=True)

    result = fit_with_bad_samples(fit, Y, X, bad)
    wild = Y.copy()
    wild[bad] = 1e6  # e.g. a lost optode's intensity collapse
    np.testing.assert_allclose(fit_with_bad_samples(fit, wild, X, bad).beta, result.beta, rtol=1e-9)
    none = np.zeros_like(bad)
    plain = fit(Y, X)
    np.testing.assert_array_equal(fit_with_bad_samples(fit, Y, X, none).beta, plain.beta)
    mixed = bad.copy()
    mixed[:, 1] = False  # signal 1 has nothing left out: its fit is the plain one
    np.testing.assert_allclose(fit_with_bad_samples(fit, Y, X, mixed).beta[1], plain.beta[1], rtol=1e-12)


def test_flat_and_collapsed_spans_of_two_seconds_are_found_and_bridged():
    from bids_app.first_level.bad_segments import bridge, detect

    rng = np.random.default_rng(2)
    sfreq = 10.0
    signal = 1.0 + 0.01 * rng.normal(size=600)
    signal[100:130] = signal.max() * 1.2  # 3 s clipped at a constant: flat
    signal[300:340] *= 0.01  # 4 s collapsed
    signal[500:515] = 0.5  # 1.5 s flat: too short to count
    others = 1.0 + 0.01 * rng.normal(size=(2, 600))  # channels that go on measuring meanwhile
    spans = detect(np.vstack([signal, others]), sfreq=sfreq)[0]
    assert spans == [(90, 140, "flat"), (290, 350, "collapsed")]  # widened by GUARD_SECONDS = 1 s each side
    assert detect((1.0 + 0.01 * rng.normal(size=(3, 6000))), sfreq=sfreq) == [[], [], []]  # clean: nothing
    bridged = signal.copy()
    bridge(bridged, 300, 340)
    assert np.all(bridged[300:340] > 0.9) and np.all(bridged[300:340] < 1.1)
    np.testing.assert_array_equal(bridged[:300], signal[:300])


@pytest.mark.slow
def test_bad_segments_end_to_end(tmp_path, run_cli):
    """A simulated lost-signal stretch on a fifth of the pairs is found where the truth has it, left out, stated
    in the QC table, the design sidecar and the methods paragraph; a BAD event of events.tsv covers every
    channel and is no condition; with --bad-segments none nothing is left out and the BAD event is said to be
    ignored."""
    import json

    import pandas as pd

    from bids_app.simulate import SimulationOptions, simulate_dataset

    bids = simulate_dataset(tmp_path / "bids", options=SimulationOptions(
        subjects=1, duration_s=420, lost_signal=0.2, bad_stretch_s=40, seed=5))
    events = bids / "sub-01" / "nirs" / "sub-01_task-tapping_events.tsv"
    table = pd.read_csv(events, sep="\t")
    extra = pd.DataFrame([{"onset": 30.0, "duration": 10.0, "trial_type": "BAD_cap_adjusted", "value": 9,
                           "sample": 234}])
    pd.concat([table, extra]).sort_values("onset").to_csv(events, sep="\t", index=False, na_rep="n/a")
    truth = pd.read_csv(bids / "sourcedata" / "ground_truth" / "sub-01_task-tapping_badsegments.tsv", sep="\t")
    assert len(truth) == 6

    out = tmp_path / "out"
    code, _, err = run_cli(bids, out, "participant", "--skip_bids_validator")
    assert code == 0, err
    nirs = out / "sub-01" / "nirs"
    qc = pd.read_csv(nirs / "sub-01_task-tapping_desc-qc_channels.tsv", sep="\t")
    for row in qc.itertuples():
        spans = row.bad_segments.split(";")
        assert spans[0] == "30.00-40.00"  # the BAD event, every channel
        lost = truth[truth["pair"] == row.name.split(" ")[0]]
        if len(lost):
            onset, end = (float(v) for v in spans[1].split("-"))
            # the stretch widened by a second on each side (the transitions)
            assert abs(onset - lost["onset"].iloc[0] + 1) < 0.2 and abs(end - lost["onset"].iloc[0] - 41) < 0.2
        else:
            assert len(spans) == 1
    design = json.loads((nirs / "sub-01_task-tapping_design.json").read_text())
    assert design["BadSegments"] == "auto" and design["BadSegmentPairs"] > 0
    assert "BAD_cap_adjusted" not in design["Conditions"]
    stats = pd.read_csv(nirs / "sub-01_task-tapping_desc-channel_stats.tsv", sep="\t")
    assert not stats["condition"].str.startswith("BAD").any()
    report = (out / "sub-01.html").read_text()
    assert f"auto: samples left out of the fit on {design['BadSegmentPairs']} good long pair(s)" in report
    from bids_app.report.methods import methods_paragraph

    methods, references = methods_paragraph(designs=[design], versions={})
    assert ("Bad segments (events whose trial_type starts with BAD, and spans of at least 2 s where a pair's "
            "intensity was flat") in methods
    assert f"1 of 1 recording(s) had such samples, on up to {design['BadSegmentPairs']} source-detector" in methods
    assert "resampled to 0.6 Hz by a zero-phase polyphase filter" in methods and any("SciPy" in r for r in references)

    code, _, err = run_cli(bids, tmp_path / "none", "participant", "--skip_bids_validator", "--bad-segments", "none")
    assert code == 0 and "1 BAD event(s) of events.tsv ignored (--bad-segments none)" in err
    qc = pd.read_csv(tmp_path / "none" / "sub-01" / "nirs" / "sub-01_task-tapping_desc-qc_channels.tsv", sep="\t")
    assert (qc["bad_segments"].isna() | (qc["bad_segments"] == "n/a")).all() and (qc["bad_share"] == 0).all()


def test_the_signal_overview_cross_hatches_the_left_out_spans_on_their_rows():
    import pandas as pd

    from bids_app.report import signals

    times = np.arange(0, 100, 0.5)
    names = ["S1_D1 hbo", "S2_D1 hbo", "S1_D1 hbr", "S2_D1 hbr"]
    data = np.random.default_rng(0).normal(size=(4, len(times)))
    fig = signals.signal_overview_figure(
        times, data, ch_names=names, events=pd.DataFrame({"onset": [5.0], "duration": [1.0], "trial_type": ["A"]}),
        bad=np.zeros(4, bool), motion_mask=np.zeros((4, len(times)), bool), title="rec",
        left_out={"S2_D1 hbo": [(20.0, 50.0)], "S2_D1 hbr": [(20.0, 50.0)]})
    hatched = [c for ax in fig.axes for c in ax.collections if c.get_hatch() == "xxxx"]
    assert len(hatched) == 2  # one per chroma image, on the S2_D1 row (row 1)
    for collection in hatched:
        [box] = [p.get_extents() for p in collection.get_paths()]
        assert (box.x0, box.x1, box.y0, box.y1) == (20.0, 50.0, 0.5, 1.5)


def test_stretches_where_most_channels_are_flat_at_once_are_no_saturation():
    """Noise-free simulated data are constant between responses on every channel at once: not detected."""
    from bids_app.first_level.bad_segments import detect

    sfreq = 10.0
    clean = np.tile(1.0 + np.where(np.arange(600) % 200 < 100, 0.0, np.sin(np.arange(600) / 10.0) * 0.01), (4, 1))
    assert detect(clean, sfreq=sfreq) == [[], [], [], []]
    noisy = 1.0 + 0.01 * np.random.default_rng(4).normal(size=(4, 600))
    noisy[2, 300:350] = noisy[2].max()  # one channel clipped while the others measure
    assert detect(noisy, sfreq=sfreq) == [[], [], [(290, 360, "flat")], []]


def test_effects_the_kept_samples_do_not_support_are_not_estimated():
    """A condition whose events all fall in a signal's bad segment, and a signal with most samples left out, are
    n/a for that signal; the other conditions and signals keep their estimates, contrasts of them too."""
    from bids_app.first_level.bad_samples import blank, unsupported

    Y, X, bad = _data(seed=3)
    n = len(X)
    X = np.column_stack([X, np.zeros(n)])
    X[120:140, -1] = 1.0  # a condition whose only event lies inside signal 0's (and 1's) bad segment 100-160
    bad[:, 2] = False
    bad[: int(0.6 * n), 2] = True  # signal 2: 60% left out

    def fit(values, design):
        return fit_glm(values, design, ar_order=2, bias_correction=True)

    columns = [1, 4]
    mask = unsupported(X, bad, columns)
    assert mask.tolist() == [[False, True], [False, True], [True, True]]
    result = blank(fit_with_bad_samples(fit, Y, X, bad), mask, columns)
    assert np.isnan(result.beta[:2, 4]).all() and np.isfinite(result.beta[:2, :4]).all()
    assert np.isnan(result.beta[2]).all()  # not fitted at all
    effect, se = result.contrast(np.array([0, 1.0, -1.0, 0, 0]))  # weight 0 on the blanked column
    assert np.isfinite(effect[:2]).all() and np.isfinite(se[:2]).all()
