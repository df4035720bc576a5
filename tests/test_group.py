"""Group level: statsmodels agreement, closed forms, recovery of simulated truth, validity."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bids_app.group import TABLES, add_inference, fit_summary, read_participant_tables
from tests.conftest import EXAMPLE


def _group(out, description):
    return pd.read_csv(out / f"task-tapping_desc-{description}_stats.tsv", sep="\t")


@pytest.mark.slow
def test_mixedlm_equals_the_tutorial_formulas_fitted_directly(simulated):
    import statsmodels.formula.api as smf

    _, out = simulated
    roi = read_participant_tables(out, description="roi")
    direct = smf.mixedlm("effect ~ -1 + roi:condition:chroma", roi, groups=roi["subject"]).fit(method="nm")
    ours = _group(out, "roi")
    for row in ours.itertuples():
        name = f"roi[{row.roi}]:condition[{row.condition}]:chroma[{row.chroma}]"
        assert row.effect == pytest.approx(direct.fe_params[name], rel=1e-6, abs=1e-9)
        assert row.se == pytest.approx(direct.bse_fe[name], rel=1e-4)
        assert row.n == 5
    channel = read_participant_tables(out, description="channel")
    hbo = channel[channel["chroma"] == "hbo"]
    direct = smf.mixedlm("effect ~ -1 + ch_name:condition", hbo, groups=hbo["subject"]).fit(method="nm")
    ours = _group(out, "channel").query("chroma == 'hbo'")
    for row in ours.itertuples():
        name = f"ch_name[{row.ch_name}]:condition[{row.condition}]"
        assert row.effect == pytest.approx(direct.fe_params[name], rel=1e-6, abs=1e-9)


@pytest.mark.slow
def test_group_roi_effects_recover_the_simulated_truth(simulated):
    bids, out = simulated
    truth = pd.concat(pd.read_csv(path, sep="\t").assign(subject=path.name[4:6])
                      for path in sorted((bids / "sourcedata/ground_truth").glob("*_truth.tsv")))
    truth["pair"] = truth["ch_name"].str.split(" ").str[0]
    sidecar = json.loads(next((out / "sub-01/nirs").glob("*_desc-roi_stats.json")).read_text())
    ours = _group(out, "roi")
    assert len(ours) == 2 * 2 * 3 and set(ours["n"]) == {5}
    covered = 0
    for row in ours.itertuples():
        pairs = sidecar["roi"]["Levels"][row.roi].split(", ")
        cell = truth[truth["pair"].isin(pairs) & (truth["chroma"] == row.chroma)
                     & (truth["condition"] == row.condition)]
        expected = cell.groupby("subject")["effect_um"].mean().mean()
        covered += row.ci_low <= expected <= row.ci_high
    assert covered >= 11  # 95% intervals: at most one of 12 misses
    contra = ours.query("roi == 'right_hemisphere' and chroma == 'hbo' and condition == 'Tapping/Left'")
    assert contra["q"].iloc[0] < 0.05 and contra["effect"].iloc[0] > 0.3
    control = ours.query("condition == 'Control'")
    assert (control["q"] > 0.05).all()


@pytest.mark.slow
def test_group_outputs_pass_the_validator(simulated):
    from tests.conftest import validate

    _, out = simulated
    for description in ("roi", "channel", "contrast"):
        table = _group(out, description)
        assert list(table.columns[-8:]) == ["effect", "se", "z", "p", "q", "ci_low", "ci_high", "n"]
        sidecar = json.loads((out / f"task-tapping_desc-{description}_stats.json").read_text())
        assert sidecar["Participants"] == ["01", "02", "03", "04", "05"]
        assert set(table.columns) <= set(sidecar)
    assert validate(out)[1] == []


def test_summary_is_the_dersimonian_laird_estimate():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"subject": ["a", "a", "b", "c", "d"], "cell": "x",
                         "effect": rng.normal(1, 0.5, 5), "se": rng.uniform(0.1, 0.4, 5)})
    rows, _ = fit_summary(data, cells=["cell"])
    # closed form: combine a's two recordings by inverse variance, then DerSimonian-Laird
    w = 1 / data["se"] ** 2
    y = np.array([np.average(data["effect"][:2], weights=w[:2]), *data["effect"][2:]])
    v = np.array([1 / w[:2].sum(), *(data["se"][2:] ** 2)])
    fixed_w = 1 / v
    q = np.sum(fixed_w * (y - np.sum(fixed_w * y) / fixed_w.sum()) ** 2)
    tau2 = max(0.0, (q - (len(y) - 1)) / (fixed_w.sum() - np.sum(fixed_w**2) / fixed_w.sum()))
    random_w = 1 / (v + tau2)
    assert rows["effect"].iloc[0] == pytest.approx(np.sum(random_w * y) / random_w.sum(), rel=1e-10)
    assert rows["se"].iloc[0] == pytest.approx(np.sqrt(1 / random_w.sum()), rel=1e-10)
    assert rows["n"].iloc[0] == 4


def test_inference_columns_match_closed_forms():
    rows = pd.DataFrame({"chroma": ["hbo"] * 4 + ["hbr"], "effect": [1.0, 0.2, -0.5, 0.05, 2.0],
                         "se": [0.4, 0.3, 0.2, 0.5, 1.0]})
    out = add_inference(rows, fdr_within=["chroma"])
    p = 2 * stats.norm.sf(np.abs(rows["effect"] / rows["se"]))
    np.testing.assert_allclose(out["p"], p)
    hbo = np.sort(p[:4])
    bh = np.minimum.accumulate((hbo * 4 / np.arange(1, 5))[::-1])[::-1]
    np.testing.assert_allclose(np.sort(out["q"][:4]), bh)
    assert out["q"].iloc[4] == pytest.approx(p[4])
    np.testing.assert_allclose(out["ci_high"] - out["effect"], 1.959963984540054 * rows["se"])


def test_group_needs_participant_outputs_and_two_participants(run_cli, tmp_path):
    code, _, err = run_cli(EXAMPLE, tmp_path / "empty", "group")
    assert code == 2 and "run the participant level first" in err
    out = tmp_path / "one"
    assert run_cli(EXAMPLE, out, "participant", "--participant_label", "01", "--skip_bids_validator")[0] == 0
    code, _, err = run_cli(EXAMPLE, out, "group")
    assert code == 2 and "no task with at least 2 participants" in err
    assert "found 1" in err


def test_tables_are_the_tutorials_models():
    assert [spec.formula for spec in TABLES] == ["effect ~ -1 + roi:condition:chroma",
                                                 "effect ~ -1 + ch_name:condition", "effect ~ -1 + ch_name"]


def test_summary_agrees_with_statsmodels_when_participants_differ():
    from statsmodels.stats.meta_analysis import combine_effects

    data = pd.DataFrame({"subject": list("abcdef"), "cell": "x", "effect": [0.1, 0.9, 0.4, 1.5, -0.2, 0.7],
                         "se": [0.1, 0.15, 0.1, 0.2, 0.12, 0.1]})
    rows, _ = fit_summary(data, cells=["cell"])
    reference = combine_effects(data["effect"].to_numpy(), data["se"].to_numpy() ** 2, method_re="dl")
    assert reference.tau2 > 0
    assert rows["effect"].iloc[0] == pytest.approx(reference.mean_effect_re, rel=1e-10)
    assert rows["se"].iloc[0] == pytest.approx(reference.sd_eff_w_re, rel=1e-10)


@pytest.mark.slow
def test_covariates_equal_statsmodels_with_group_differences(simulated, tmp_path, run_cli):
    import shutil

    import statsmodels.formula.api as smf

    bids, out = simulated
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    code, _, err = run_cli(bids, copy, "group", "--group-covariates", "sex", "age")
    assert code == 0, err
    participants = pd.read_csv(bids / "participants.tsv", sep="\t")
    assert set(participants["sex"]) == {"F", "M"}
    roi = read_participant_tables(copy, description="roi").merge(
        participants.assign(subject=participants["participant_id"].str[4:])[["subject", "sex", "age"]])
    roi["age_c"] = roi["age"] - participants["age"].mean()
    direct = smf.mixedlm("effect ~ -1 + roi:condition:chroma:sex + age_c", roi,
                         groups=roi["subject"]).fit(method="nm")
    ours = pd.read_csv(copy / "task-tapping_desc-roi_stats.tsv", sep="\t")
    assert list(ours.columns[:4]) == ["roi", "chroma", "condition", "sex"]
    assert set(ours["sex"]) == {"F", "M", "M - F"}
    cov = direct.cov_params()
    for row in ours.itertuples():
        names = {level: f"roi[{row.roi}]:condition[{row.condition}]:chroma[{row.chroma}]:sex[{level}]"
                 for level in ("F", "M")}
        if row.sex == "M - F":
            expected = direct.fe_params[names["M"]] - direct.fe_params[names["F"]]
            se = np.sqrt(cov.loc[names["M"], names["M"]] + cov.loc[names["F"], names["F"]]
                         - 2 * cov.loc[names["M"], names["F"]])
            assert row.n == 5
        else:
            expected, se = direct.fe_params[names[row.sex]], direct.bse_fe[names[row.sex]]
        assert row.effect == pytest.approx(expected, rel=1e-5, abs=1e-8)
        assert row.se == pytest.approx(se, rel=1e-3)
    sidecar = json.loads((copy / "task-tapping_desc-roi_stats.json").read_text())
    assert len(sidecar["CovariateSlopes"]) == 1 and sidecar["CovariateSlopes"][0].startswith("all: slope of age")
    assert not any("slope" in note for note in sidecar["Warnings"])
    assert "sex" in sidecar


def test_covariates_are_checked(run_cli, tmp_path):
    code, _, err = run_cli(EXAMPLE, tmp_path, "group", "--group-covariates", "shoe_size")
    assert code == 2 and "no column shoe_size; columns are: age, sex, hand, weight, height" in err
    code, _, err = run_cli(EXAMPLE, tmp_path, "group", "--group-covariates", "age", "--group-method", "summary")
    assert code == 2 and "needs --group-method mixedlm" in err


def test_summary_gives_no_group_inference_for_a_single_participant():
    data = pd.DataFrame({"subject": ["01", "02", "01"], "roi": ["a", "a", "b"], "effect": [1.0, 2.0, 3.0],
                         "se": [0.5, 0.5, 0.5]})
    rows, notes = fit_summary(data, cells=["roi"])
    single = rows.set_index("roi").loc["b"]
    assert single["effect"] == 3.0 and single["n"] == 1 and np.isnan(single["se"])
    assert notes == ["1 cell(s) with a single participant: effect only, se/z/p/q/intervals n/a"]

