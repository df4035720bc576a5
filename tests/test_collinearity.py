"""The collinearity check of the design: variance inflation factors against statsmodels, and the warning."""

import json

import numpy as np
import pandas as pd
import pytest


def _design_with_a_task_locked_short_channel(seed: int = 0) -> pd.DataFrame:
    from nilearn.glm.first_level import make_first_level_design_matrix

    rng = np.random.default_rng(seed)
    times = np.arange(1000) / 0.6
    events = pd.DataFrame({"onset": np.r_[20 + 40 * np.arange(40), 40 + 40 * np.arange(40)],
                           "duration": 5.0, "trial_type": ["A"] * 40 + ["B"] * 40})
    base = make_first_level_design_matrix(times, events, hrf_model="glover", drift_model=None)
    short = np.column_stack([base["A"] + 0.3 * base["A"].std() * rng.standard_normal(len(times)),
                             rng.standard_normal(len(times))])
    return make_first_level_design_matrix(times, events, hrf_model="glover", drift_model="cosine",
                                          high_pass=0.01, add_regs=short,
                                          add_reg_names=["short_hbo_mean", "short_hbr_mean"])


def test_condition_vif_equals_statsmodels_and_warns_above_the_limit():
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    from bids_app.first_level.collinearity import VIF_LIMIT, collinearity_warnings, condition_vif

    design = _design_with_a_task_locked_short_channel()
    assert "constant" in design.columns and sum(c.startswith("drift") for c in design.columns) > 5
    vif = condition_vif(design, ["A", "B"])
    for condition in ("A", "B"):
        expected = variance_inflation_factor(design.to_numpy(), design.columns.get_loc(condition))
        assert vif[condition] == pytest.approx(expected, rel=1e-10)
    assert vif["A"] > VIF_LIMIT > vif["B"] > 1
    (message,) = collinearity_warnings(design, vif)
    assert message.startswith(f"condition 'A': variance inflation factor {vif['A']:.3g} > 5")
    assert "most correlated with short_hbo_mean" in message
    duplicate = design.assign(C=2 * design["B"])  # a linear combination of another column
    assert condition_vif(duplicate, ["C"])["C"] > 1e10


@pytest.mark.slow
def test_collinear_conditions_are_warned_about(example_copy, run_cli, tmp_path):
    """A condition whose events nearly repeat another's: both VIFs exceed the limit, recorded in the design
    sidecar, warned about in the QC sidecar and shown in the participant report."""
    nirs = example_copy / "sub-01" / "ses-01" / "nirs"
    events_path = nirs / "sub-01_ses-01_task-tapping_events.tsv"
    events = pd.read_csv(events_path, sep="\t")
    echo = events.assign(onset=events["onset"] + 0.5, trial_type="Echo")
    pd.concat([events, echo]).sort_values("onset").to_csv(events_path, sep="\t", index=False, na_rep="n/a")
    code, _, err = run_cli(example_copy, tmp_path / "out", "participant", "--participant_label", "01",
                           "--session_label", "01", "--skip_bids_validator")
    assert code == 0, err
    folder = tmp_path / "out" / "sub-01" / "ses-01" / "nirs"
    design = json.loads((folder / "sub-01_ses-01_task-tapping_design.json").read_text())
    assert set(design["ConditionVIF"]) == {"Echo", "Tapping"}
    assert all(value > design["VIFLimit"] for value in design["ConditionVIF"].values())
    warnings = json.loads((folder / "sub-01_ses-01_task-tapping_desc-qc_channels.json").read_text())["Warnings"]
    assert any(w.startswith("condition 'Tapping': variance inflation factor") and "most correlated with Echo" in w
               for w in warnings), warnings
    assert "condition &#x27;Echo&#x27;: variance inflation factor" in (tmp_path / "out" / "sub-01.html").read_text()
