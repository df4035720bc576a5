"""The first-level design matrix (bids_app.first_level.design) in memory: columns and their order, condition
regressors against nilearn's make_first_level_design_matrix, and the short-channel regressors."""

import math

import numpy as np
import pandas as pd
import pytest

from bids_app.errors import RecordingError
from bids_app.first_level.design import OVERSAMPLED_HZ, build_design, short_channel_regressors
from bids_app.first_level.resampling import resample_columns
from tests.helpers import make_haemo, options

NAMES = ["S1_D1 hbo", "S1_D1 hbr", "S1_D9 hbo", "S1_D9 hbr", "S2_D1 hbo", "S2_D1 hbr", "S2_D10 hbo", "S2_D10 hbr"]
ROLES = ["long", "long", "short", "short", "long", "long", "short", "short"]
EVENTS = pd.DataFrame({"onset": [20.0, 50.0, 80.0, 110.0, 140.0, 170.0, 200.0, 230.0],
                       "duration": [5.0, 5.0, 10.0, 5.0, 2.0, 5.0, 5.0, 10.0],
                       "trial_type": ["Tap/Right", "Tap/Left", "Tap/Right", "Control", "Tap/Left", "Control",
                                      "Tap/Right", "Tap/Left"]})
CONDITIONS = ["Control", "Tap/Left", "Tap/Right"]


def _haemo(n=180, sfreq=0.6, native_sfreq=None, names=NAMES, roles=ROLES):
    data = np.random.default_rng(0).normal(size=(n, len(names)))
    return make_haemo(data, ch_names=names, role=roles, sfreq=sfreq, native_sfreq=native_sfreq)


def _design(haemo, events=EVENTS, **changes):
    warnings = []
    design, short = build_design(events, haemo, options=options(**changes), warn=warnings.append)
    return design, short, warnings


def _nilearn(frame_times, events=EVENTS, *, hrf="glover", drift_model="cosine", high_pass=0.01, add_regs=None,
             names=None, **kwargs):
    from nilearn.glm.first_level import make_first_level_design_matrix

    return make_first_level_design_matrix(frame_times, events, hrf_model=hrf, drift_model=drift_model,
                                          high_pass=high_pass, add_regs=add_regs, add_reg_names=names, **kwargs)


@pytest.mark.parametrize("hrf", ["glover", "spm"])
def test_resampled_design_is_nilearns_with_the_short_channel_means(hrf):
    """Conditions (sorted) first, then the short-channel means of HbO and HbR, the cosine drifts of the high-pass
    cut-off and the constant: nilearn's design of the same events at the fitted times."""
    haemo = _haemo()
    design, short, warnings = _design(haemo, design_rate="resampled", hrf=hrf)
    means = np.column_stack([haemo.data[:, [2, 6]].mean(axis=1), haemo.data[:, [3, 7]].mean(axis=1)])
    reference = _nilearn(haemo.times, hrf=hrf, add_regs=means, names=["short_hbo_mean", "short_hbr_mean"])
    drifts = [c for c in reference.columns if c.startswith("drift_")]
    assert list(design.columns) == CONDITIONS + ["short_hbo_mean", "short_hbr_mean"] + drifts + ["constant"]
    assert short == ["short_hbo_mean", "short_hbr_mean"] and warnings == [] and len(drifts) >= 2
    pd.testing.assert_frame_equal(design, reference[design.columns], check_exact=False, rtol=1e-12)
    np.testing.assert_array_equal(design.index, haemo.times)


def test_drift_count_follows_the_high_pass_cut_off():
    """nilearn's discrete cosine basis: floor(2 x duration x cut-off) drifts, the duration being n samples of
    1 / sfreq (frequencies k / (2 x duration) up to the cut-off)."""
    haemo = _haemo(n=500)  # 833.3 s
    for high_pass, drifts in ((0.01, 16), (0.005, 8), (0.02, 33)):
        design, _, _ = _design(haemo, drift_high_pass=high_pass)
        assert sum(c.startswith("drift_") for c in design.columns) == drifts == int(2 * 500 / 0.6 * high_pass)
        assert list(design.columns[-drifts - 1:]) == [f"drift_{k}" for k in range(1, drifts + 1)] + ["constant"]


def test_native_design_equals_nilearns_when_nothing_is_resampled():
    """At the recording's own rate the conditions are nilearn's regressors (at a coarser oversampling of the
    HRF convolution); every other column is identical."""
    haemo = _haemo(sfreq=2.0, n=600)
    native, _, _ = _design(haemo)
    resampled, _, _ = _design(haemo, design_rate="resampled")
    assert list(native.columns) == list(resampled.columns)
    others = [c for c in native.columns if c not in CONDITIONS]
    pd.testing.assert_frame_equal(native[others], resampled[others])
    scale = resampled[CONDITIONS].abs().max()
    assert ((native[CONDITIONS] - resampled[CONDITIONS]).abs().max() / scale).max() < 0.01
    assert (native[CONDITIONS].corrwith(resampled[CONDITIONS]) > 0.9999).all()


@pytest.mark.parametrize("native_sfreq, sfreq", [(5.0, 0.6), (7.8125, 0.3)])
def test_native_conditions_are_built_at_the_recording_rate_and_resampled_as_the_data(native_sfreq, sfreq):
    """The condition regressors of the native design are nilearn's at the recording's rate, resampled to the
    fitted rate as the data are. nilearn's regressors built directly at the fitted rate (--design-rate
    resampled) lack only the resampling's low-pass filtering: with time kept by the resampling they differ by
    a few percent of the peak at most, and the regression of one on the other has a slope within 1% of 1."""
    haemo = _haemo(n=int(300 * sfreq), sfreq=sfreq, native_sfreq=native_sfreq)
    design, _, _ = _design(haemo)
    oversampling = math.ceil(OVERSAMPLED_HZ / native_sfreq)
    at_native_rate = _nilearn(haemo.native_times, drift_model=None, oversampling=oversampling)[CONDITIONS]
    expected = resample_columns(at_native_rate.to_numpy(), native_sfreq=native_sfreq, sfreq=sfreq,
                                method="polyphase")
    np.testing.assert_allclose(design[CONDITIONS].to_numpy(), expected, rtol=1e-10, atol=1e-12)
    direct = _nilearn(haemo.times)[CONDITIONS].to_numpy()
    native = design[CONDITIONS].to_numpy()
    assert 0.001 < np.abs(native - direct).max() / np.abs(direct).max() < 0.035
    np.testing.assert_allclose((native * direct).sum(axis=0) / (direct * direct).sum(axis=0), 1, atol=0.01)


def test_all_short_channels_are_regressors_one_by_one():
    haemo = _haemo()
    design, short, _ = _design(haemo, short_regression="all")
    assert short == ["short_S1_D9_hbo", "short_S1_D9_hbr", "short_S2_D10_hbo", "short_S2_D10_hbr"]
    np.testing.assert_array_equal(design[short].to_numpy(), haemo.data[:, [2, 3, 6, 7]])
    assert list(design.columns[3:7]) == short


def test_no_short_regression_and_no_good_short_channel():
    haemo = _haemo()
    design, short, warnings = _design(haemo, short_regression="none")
    assert short == [] and warnings == [] and not any(c.startswith("short") for c in design.columns)
    long_only = _haemo(names=[NAMES[i] for i in (0, 1, 4, 5)], roles=["long"] * 4)
    design, short, warnings = _design(long_only)
    assert short == [] and not any(c.startswith("short") for c in design.columns)
    assert warnings == ["no good short channel: short-channel regression skipped"]


def test_short_channel_means_per_chroma():
    haemo = _haemo()
    names, values = short_channel_regressors(haemo, mode="mean", warn=print)
    assert names == ["short_hbo_mean", "short_hbr_mean"]
    np.testing.assert_allclose(values[:, 0], (haemo.data[:, 2] + haemo.data[:, 6]) / 2)
    np.testing.assert_allclose(values[:, 1], (haemo.data[:, 3] + haemo.data[:, 7]) / 2)


@pytest.mark.parametrize("condition", ["constant", "drift_2", "short_hbo_mean"])
def test_condition_names_that_clash_with_nuisance_regressors_fail(condition):
    events = EVENTS.assign(trial_type=EVENTS["trial_type"].replace("Control", condition))
    with pytest.raises(RecordingError, match=f"condition name\\(s\\) {condition} clash with nuisance regressor"):
        _design(_haemo(), events)


def test_condition_names_like_but_not_equal_to_nuisance_names_are_kept():
    events = EVENTS.assign(trial_type=EVENTS["trial_type"].replace({"Control": "drift", "Tap/Left": "constant 2"}))
    design, _, _ = _design(_haemo(), events, short_regression="none")
    assert list(design.columns[:3]) == ["Tap/Right", "constant 2", "drift"]
