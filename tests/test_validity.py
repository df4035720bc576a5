"""Statistical validity on simulated studies with known truth (a smaller run of benchmarks/validity.py)."""

import pytest

from benchmarks.validity import channel_errors, false_positive_row, recovery_row, simulate

COMMON = ["--skip_bids_validator", "--resample-hz", "0.6"]


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("validity")
    return (simulate(root / "active", subjects=6, duration_s=600, seed=10),
            simulate(root / "null", subjects=6, duration_s=600, seed=11, null=True))


@pytest.mark.slow
def test_default_noise_model_recovers_effects_with_nominal_intervals(studies):
    row = recovery_row(channel_errors(studies[0], *COMMON))
    assert row["tests"] > 300
    assert abs(row["mean relative error"]) < 0.05  # unbiased (the brief asks < 10%)
    assert 0.90 <= row["95% CI coverage"] <= 0.99


@pytest.mark.slow
def test_false_positives_under_the_null(studies):
    rates = {model: false_positive_row(channel_errors(studies[1], *COMMON, "--noise-model", model))["p < 0.05"]
             for model in ("ols", "ar1", "auto")}
    assert rates["ols"] > 0.12  # OLS ignores the serial correlation: inflated (Barker et al. 2013)
    assert rates["auto"] < 0.09 and rates["ar1"] < 0.09  # prewhitening: close to the nominal 5%
    assert rates["auto"] < rates["ols"] / 2


@pytest.mark.slow
def test_short_channel_regression_reduces_the_error(studies):
    spread = {mode: recovery_row(channel_errors(studies[0], *COMMON, "--short-regression", mode))
              ["SD of relative error"] for mode in ("none", "mean")}
    assert spread["mean"] < 0.9 * spread["none"]
