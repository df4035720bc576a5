"""Statistical validity on simulated studies with known truth (a smaller run of benchmarks/validity.py, through
the command line)."""

import pandas as pd
import pytest
from scipy import stats

from bids_app.cli import main

COMMON = ["--skip_bids_validator", "--resample-hz", "0.6", "--n_cpus", "2"]


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    from bids_app.simulate import SimulationOptions, simulate_dataset

    root = tmp_path_factory.mktemp("validity")
    active = simulate_dataset(root / "active", options=SimulationOptions(subjects=6, duration_s=600, seed=10))
    null = simulate_dataset(root / "null", options=SimulationOptions(subjects=6, duration_s=600, seed=11, null=True))
    return active, null


def _channel_errors(root, out, *flags) -> pd.DataFrame:
    """The channel statistics of every recording of ``root`` joined with the simulated truth; ``covered``: the
    95% interval (Student's t with the row's df) holds the true effect."""
    assert main([str(root), str(out), "participant", *COMMON, *flags]) == 0
    tables = []
    for path in sorted(out.glob("sub-*/nirs/*_desc-channel_stats.tsv")):
        stem = path.name.removesuffix("_desc-channel_stats.tsv")
        truth = pd.read_csv(root / "sourcedata" / "ground_truth" / f"{stem}_truth.tsv", sep="\t")
        tables.append(pd.read_csv(path, sep="\t").merge(truth, on=["ch_name", "chroma", "condition"],
                                                         validate="one_to_one"))
    assert len(tables) == 6
    table = pd.concat(tables, ignore_index=True)
    table["covered"] = (table["effect"] - table["effect_um"]).abs() <= stats.t.ppf(0.975, table["df"]) * table["se"]
    return table


def _relative_errors(table: pd.DataFrame) -> pd.Series:
    active = table[table["effect_um"].abs() >= 0.1]
    return (active["effect"] - active["effect_um"]) / active["effect_um"].abs()


@pytest.mark.slow
def test_default_noise_model_recovers_effects_with_nominal_intervals(studies, tmp_path):
    table = _channel_errors(studies[0], tmp_path)
    relative = _relative_errors(table)
    assert len(relative) > 300
    assert abs(relative.mean()) < 0.05  # unbiased (the brief asks < 10%)
    assert 0.90 <= table.loc[relative.index, "covered"].mean() <= 0.99


@pytest.mark.slow
def test_false_positives_under_the_null(studies, tmp_path):
    runs = {"ols": ("--noise-model", "ols"), "ar1": ("--noise-model", "ar1"), "auto": ("--noise-model", "auto"),
            "auto uncorrected": ("--noise-model", "auto", "--ar-bias-correction", "none")}
    rates = {name: (_channel_errors(studies[1], tmp_path / name.replace(" ", "_"), *flags)["p"] < 0.05).mean()
             for name, flags in runs.items()}
    assert rates["ols"] > 0.12  # OLS ignores the serial correlation: inflated (Barker et al. 2013)
    assert rates["auto"] < 0.075 and rates["ar1"] < 0.09  # prewhitening: close to the nominal 5%
    assert rates["auto"] < rates["ols"] / 2
    # the AR estimates of the residuals understate the serial correlation; the Worsley correction (default) less so
    assert rates["auto"] < rates["auto uncorrected"], rates


@pytest.mark.slow
def test_short_channel_regression_reduces_the_error(studies, tmp_path):
    spread = {mode: _relative_errors(_channel_errors(studies[0], tmp_path / mode, "--short-regression", mode)).std()
              for mode in ("none", "mean")}
    assert spread["mean"] < 0.9 * spread["none"]
