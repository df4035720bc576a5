"""Channel, ROI and contrast tables (bids_app.first_level.tables) against the GLMFit they come from: columns,
rows, effect = c'beta, se = sqrt(c' cov c), t = effect / se, two-sided p from Student's t with the fit's
residual degrees of freedom, ar_order of each signal; and the micromolar scale against MNE's molar one."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bids_app.first_level.glm import GLMFit, fit_glm
from bids_app.first_level.tables import channel_table, contrast_table, roi_table

CHANNEL_COLUMNS = ["ch_name", "source", "detector", "chroma", "condition", "effect", "se", "t", "df", "p", "ar_order"]
CONTRAST_COLUMNS = ["contrast", "ch_name", "source", "detector", "chroma", "effect", "se", "t", "df", "p", "ar_order"]
ROI_COLUMNS = ["roi", "chroma", "condition", "effect", "se", "t", "df", "p", "ar_order", "n_channels"]
NAMES = ["S10_D2 hbo", "S10_D2 hbr", "S2_D1 hbo", "S2_D1 hbr", "S1_D9 hbo", "S1_D9 hbr", "S1_D1 hbo", "S1_D1 hbr"]
LONG = np.array([0, 1, 2, 3, 6, 7])  # S1_D9 is short: not in the channel tables
COLUMNS = ["B", "A", "drift_1", "constant"]


@pytest.fixture(scope="module")
def fit():
    """A GLMFit of 8 channel signals and one ROI signal (the mean of the long HbO ones), AR(1)."""
    rng = np.random.default_rng(2)
    n = 400
    t = np.arange(n)
    X = np.column_stack([(t % 80 < 20), ((t + 40) % 80 < 20), np.cos(np.pi * t / n), np.ones(n)]).astype(float)
    Y = X @ rng.normal(size=(4, 8)) + rng.normal(size=(n, 8))
    Y = np.column_stack([Y, Y[:, [0, 2, 6]].mean(axis=1)])
    return fit_glm(Y, X, ar_order=1)


def _expected(fit, weights, rows):
    weights = np.asarray(weights, dtype=float)
    effect = fit.beta[rows] @ weights
    se = np.sqrt(np.einsum("i,sij,j->s", weights, fit.cov[rows], weights))
    t = effect / se
    return effect, se, t, 2 * stats.t.sf(np.abs(t), fit.df_resid)


def test_channel_table_rows_and_statistics(fit):
    table = channel_table(fit, ch_names=NAMES, design_columns=COLUMNS, conditions=["B", "A"], rows=LONG)
    assert list(table.columns) == CHANNEL_COLUMNS
    # sorted by condition, chroma and channel, numbers compared as numbers
    assert table["condition"].tolist() == ["A"] * 6 + ["B"] * 6
    assert table["ch_name"].tolist()[:6] == ["S1_D1 hbo", "S2_D1 hbo", "S10_D2 hbo", "S1_D1 hbr", "S2_D1 hbr",
                                             "S10_D2 hbr"]
    assert table[["source", "detector", "chroma"]].iloc[2].tolist() == ["S10", "D2", "hbo"]
    for condition, weights in (("B", [1, 0, 0, 0]), ("A", [0, 1, 0, 0])):
        part = table[table["condition"] == condition]
        rows = np.array([NAMES.index(name) for name in part["ch_name"]])
        effect, se, t, p = _expected(fit, weights, rows)
        np.testing.assert_allclose(part["effect"], effect, rtol=1e-12)
        np.testing.assert_allclose(part["se"], se, rtol=1e-12)
        np.testing.assert_allclose(part["t"], t, rtol=1e-12)
        np.testing.assert_allclose(part["p"], p, rtol=1e-10)
        np.testing.assert_allclose(part["effect"], fit.beta[rows, COLUMNS.index(condition)], rtol=1e-12)
    assert (table["df"] == 400 - 4).all() and (table["ar_order"] == 1).all()


def test_contrast_table_weights_the_conditions(fit):
    contrasts = {"A - B": {"A": 1.0, "B": -1.0}, "2*A": {"A": 2.0}}
    table = contrast_table(fit, ch_names=NAMES, design_columns=COLUMNS, contrasts=contrasts, rows=LONG)
    assert list(table.columns) == CONTRAST_COLUMNS
    assert table["contrast"].tolist() == ["2*A"] * 6 + ["A - B"] * 6
    channels = channel_table(fit, ch_names=NAMES, design_columns=COLUMNS, conditions=["A", "B"], rows=LONG)
    a, b = (channels[channels["condition"] == c].reset_index(drop=True) for c in ("A", "B"))
    double = table[table["contrast"] == "2*A"].reset_index(drop=True)
    assert double["ch_name"].tolist() == a["ch_name"].tolist()
    np.testing.assert_allclose(double["effect"], 2 * a["effect"])
    np.testing.assert_allclose(double["se"], 2 * a["se"])
    np.testing.assert_allclose(double["t"], a["t"])
    np.testing.assert_allclose(double["p"], a["p"])
    difference = table[table["contrast"] == "A - B"].reset_index(drop=True)
    np.testing.assert_allclose(difference["effect"], a["effect"] - b["effect"])
    rows = np.array([NAMES.index(name) for name in difference["ch_name"]])
    _, se, _, p = _expected(fit, [-1, 1, 0, 0], rows)  # includes the covariance of the two estimates
    np.testing.assert_allclose(difference["se"], se, rtol=1e-12)
    np.testing.assert_allclose(difference["p"], p, rtol=1e-10)


def test_roi_table_reads_the_roi_signal_and_leaves_empty_rois_as_na(fit):
    roi_rows = {("front", "hbo"): 8, ("front", "hbr"): None}
    table = roi_table(fit, roi_rows=roi_rows, n_channels={("front", "hbo"): 3, ("front", "hbr"): 0},
                      design_columns=COLUMNS, conditions=["B", "A"])
    assert list(table.columns) == ROI_COLUMNS
    assert table[["roi", "chroma", "condition"]].values.tolist() == [["front", "hbo", "A"], ["front", "hbo", "B"],
                                                                      ["front", "hbr", "A"], ["front", "hbr", "B"]]
    assert table["n_channels"].tolist() == [3, 3, 0, 0]
    for row, weights in ((0, [0, 1, 0, 0]), (1, [1, 0, 0, 0])):
        effect, se, t, p = _expected(fit, weights, np.array([8]))
        assert table.loc[row, ["effect", "se", "t", "p"]].tolist() == pytest.approx([effect[0], se[0], t[0], p[0]],
                                                                                     rel=1e-10)
        assert table.loc[row, "df"] == 396 and table.loc[row, "ar_order"] == 1
    assert table.loc[2:, ["effect", "se", "t", "df", "p", "ar_order"]].isna().all().all()


def test_per_signal_degrees_of_freedom_and_ar_orders_reach_the_rows():
    """As ar-irls gives them: df and AR order per signal, p from each row's own df."""
    beta = np.array([[2.0, 0.0], [2.0, 0.0], [-1.0, 0.0], [0.5, 0.0]])
    cov = np.repeat(np.eye(2)[None], 4, axis=0)
    coef = np.array([[0.3, 0.0], [0.2, 0.1], [0.0, 0.0], [0.4, 0.0]])
    fit = GLMFit(beta=beta, cov=cov, df_resid=np.array([3.0, 50.0, 10.0, 7.5]), ar_coef=coef)
    table = channel_table(fit, ch_names=["S1_D1 hbo", "S1_D1 hbr", "S2_D1 hbo", "S2_D1 hbr"], design_columns=["A", "c"],
                          conditions=["A"], rows=np.arange(4))
    table = table.set_index("ch_name").loc[["S1_D1 hbo", "S1_D1 hbr", "S2_D1 hbo", "S2_D1 hbr"]]
    assert table["df"].tolist() == [3.0, 50.0, 10.0, 7.5] and table["ar_order"].tolist() == [1, 2, 0, 1]
    np.testing.assert_allclose(table["t"], [2.0, 2.0, -1.0, 0.5])
    np.testing.assert_allclose(table["p"], 2 * stats.t.sf(np.abs([2.0, 2.0, -1.0, 0.5]), [3.0, 50.0, 10.0, 7.5]))
    assert table.loc["S1_D1 hbo", "p"] > table.loc["S1_D1 hbr", "p"]  # fewer df, wider tails


def test_zero_standard_error_gives_no_finite_t():
    fit = GLMFit(beta=np.array([[1.0, 0.0], [0.0, 0.0]]), cov=np.zeros((2, 2, 2)), df_resid=10,
                 ar_coef=np.zeros((2, 0)))
    table = channel_table(fit, ch_names=["S1_D1 hbo", "S1_D1 hbr"], design_columns=["A", "c"], conditions=["A"],
                          rows=np.arange(2))
    assert np.isinf(table.loc[0, "t"]) and np.isnan(table.loc[1, "t"]) and table.loc[0, "p"] == 0.0


def test_effects_on_the_bundled_recording_are_mne_molar_betas_times_a_million(example_assessed):
    """The pipeline in memory on a real recording (design, AR(1) fit, channel table) against the same GLM of
    MNE's molar haemoglobin: effects and standard errors are the molar ones x 1e6, t and p are unchanged."""
    from mne.preprocessing.nirs import beer_lambert_law

    from bids_app.first_level.design import build_design
    from bids_app.first_level.events import read_events
    from bids_app.first_level.resampling import resample_raw
    from tests.helpers import example_path, haemoglobin, options

    qc, od, _ = example_assessed
    haemo = haemoglobin(od, qc, motion_correction="none")
    events = read_events(example_path(), duration_s=od.times[-1], stim_dur=None, warn=print)
    design, _ = build_design(events, haemo, options=options(), warn=print)
    rows = np.flatnonzero(haemo.select(role="long"))
    ours = channel_table(fit_glm(haemo.data, design.to_numpy(), ar_order=1), ch_names=haemo.ch_names,
                         design_columns=list(design.columns), conditions=["Tapping"], rows=rows)
    molar = resample_raw(beer_lambert_law(od.copy(), ppf=6.0), sfreq=0.6, method="polyphase")
    design_molar = design.copy()
    short = [c for c in design.columns if c.startswith("short_")]
    design_molar[short] = design[short] / 1e6
    reference = channel_table(fit_glm(molar.get_data().T, design_molar.to_numpy(), ar_order=1),
                              ch_names=molar.ch_names, design_columns=list(design.columns), conditions=["Tapping"],
                              rows=rows)
    assert len(ours) == 72 and ours["ch_name"].tolist() == reference["ch_name"].tolist()
    np.testing.assert_allclose(ours["effect"], reference["effect"] * 1e6, rtol=1e-6)
    np.testing.assert_allclose(ours["se"], reference["se"] * 1e6, rtol=1e-6)
    np.testing.assert_allclose(ours["t"], reference["t"], rtol=1e-6)
    np.testing.assert_allclose(ours["p"], reference["p"], rtol=1e-5, atol=1e-300)
    assert pd.Series(ours["effect"]).abs().median() > 1e-3  # micromolar magnitudes, not molar ones
