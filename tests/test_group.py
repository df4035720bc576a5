"""Group level end to end: the tutorial model against statsmodels, recovery of simulated truth, outputs,
covariates. The per-cell models against metafor/statsmodels: tests/test_group_models.py."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bids_app.group_level.collect import read_participant_tables
from bids_app.group_level.models import add_inference
from tests.helpers import EXAMPLE


def _group(out, description):
    return pd.read_csv(out / f"task-tapping_desc-{description}_stats.tsv", sep="\t")


@pytest.mark.slow
def test_mixedlm_equals_the_tutorial_formulas_fitted_directly(simulated, tmp_path, run_cli):
    import shutil

    import statsmodels.formula.api as smf

    bids, simulated_out = simulated
    out = tmp_path / "out"
    shutil.copytree(simulated_out, out)
    assert run_cli(bids, out, "group", "--group-method", "mixedlm")[0] == 0
    roi = read_participant_tables(out, description="roi")
    direct = smf.mixedlm("effect ~ -1 + roi:condition:chroma", roi, groups=roi["subject"]).fit(method="nm")
    ours = _group(out, "roi")
    for row in ours.itertuples():
        name = f"roi[{row.roi}]:condition[{row.condition}]:chroma[{row.chroma}]"
        assert row.effect == pytest.approx(direct.fe_params[name], rel=1e-6, abs=1e-9)
        assert row.se == pytest.approx(direct.bse_fe[name], rel=1e-4)
        assert row.n == 5 and np.isnan(row.df) and row.t == row.z
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
    assert len(ours) == 2 * 2 * 3 and set(ours["n"]) == {5} and set(ours["df"]) == {4}
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
    from tests.helpers import validate

    _, out = simulated
    for description in ("roi", "channel", "contrast"):
        table = _group(out, description)
        assert list(table.columns[-13:]) == ["term", "effect", "se", "t", "df", "z", "p", "q", "ci_low", "ci_high",
                                             "n", "tau", "i2"]
        sidecar = json.loads((out / f"task-tapping_desc-{description}_stats.json").read_text())
        assert sidecar["Participants"] == ["01", "02", "03", "04", "05"]
        assert set(table.columns) <= set(sidecar)
    assert validate(out)[1] == []


def test_inference_columns_match_closed_forms():
    rows = pd.DataFrame({"chroma": ["hbo"] * 4 + ["hbr"], "effect": [1.0, 0.2, -0.5, 0.05, 2.0],
                         "se": [0.4, 0.3, 0.2, 0.5, 1.0], "df": [np.nan] * 5})
    out = add_inference(rows, fdr_within=["chroma"])
    p = 2 * stats.norm.sf(np.abs(rows["effect"] / rows["se"]))
    np.testing.assert_allclose(out["p"], p)
    hbo = np.sort(p[:4])
    bh = np.minimum.accumulate((hbo * 4 / np.arange(1, 5))[::-1])[::-1]
    np.testing.assert_allclose(np.sort(out["q"][:4]), bh)
    assert out["q"].iloc[4] == pytest.approx(p[4])
    np.testing.assert_allclose(out["ci_high"] - out["effect"], 1.959963984540054 * rows["se"])


@pytest.mark.slow
def test_group_needs_participant_outputs_and_two_participants(run_cli, tmp_path):
    code, _, err = run_cli(EXAMPLE, tmp_path / "empty", "group")
    assert code == 2 and "run the participant level first" in err
    out = tmp_path / "one"
    assert run_cli(EXAMPLE, out, "participant", "--participant_label", "01", "--skip_bids_validator")[0] == 0
    code, _, err = run_cli(EXAMPLE, out, "group")
    assert code == 2 and "no task with at least 2 participants" in err
    assert "found 1" in err


@pytest.mark.slow
def test_covariates_equal_statsmodels_with_group_differences(simulated, tmp_path, run_cli):
    import shutil

    import statsmodels.formula.api as smf

    bids, out = simulated
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    code, _, err = run_cli(bids, copy, "group", "--group-covariates", "sex", "age", "--group-method", "mixedlm")
    assert code == 0, err
    participants = pd.read_csv(bids / "participants.tsv", sep="\t")
    assert set(participants["sex"]) == {"F", "M"}
    roi = read_participant_tables(copy, description="roi").merge(
        participants.assign(subject=participants["participant_id"].str[4:])[["subject", "sex", "age"]])
    roi["age_c"] = roi["age"] - participants["age"].mean()
    direct = smf.mixedlm("effect ~ -1 + roi:condition:chroma:sex + roi:condition:chroma:age_c", roi,
                         groups=roi["subject"]).fit(method="nm")
    ours = pd.read_csv(copy / "task-tapping_desc-roi_stats.tsv", sep="\t")
    assert list(ours.columns[:5]) == ["roi", "chroma", "condition", "sex", "term"]
    assert set(ours["sex"].dropna()) == {"F", "M", "M - F"} and set(ours["term"]) == {"mean", "age"}
    cov = direct.cov_params()
    for row in ours.itertuples():
        cell = f"roi[{row.roi}]:condition[{row.condition}]:chroma[{row.chroma}]"
        names = {level: f"{cell}:sex[{level}]" for level in ("F", "M")}
        if row.term == "age":
            expected, se = direct.fe_params[f"{cell}:age_c"], direct.bse_fe[f"{cell}:age_c"]
            assert pd.isna(row.sex) and row.n == 5
        elif row.sex == "M - F":
            expected = direct.fe_params[names["M"]] - direct.fe_params[names["F"]]
            se = np.sqrt(cov.loc[names["M"], names["M"]] + cov.loc[names["F"], names["F"]]
                         - 2 * cov.loc[names["M"], names["F"]])
            assert row.n == 5
        else:
            expected, se = direct.fe_params[names[row.sex]], direct.bse_fe[names[row.sex]]
        assert row.effect == pytest.approx(expected, rel=1e-4, abs=1e-7)
        assert row.se == pytest.approx(se, rel=1e-3)
    sidecar = json.loads((copy / "task-tapping_desc-roi_stats.json").read_text())
    assert sidecar["Covariates"] == ["sex", "age"] and "sex" in sidecar and "term" in sidecar
    # the default, with the same covariates: per-cell rows, slopes as rows
    code, _, err = run_cli(bids, copy, "group", "--group-covariates", "sex", "age")
    assert code == 0, err
    ours = pd.read_csv(copy / "task-tapping_desc-roi_stats.tsv", sep="\t")
    assert len(ours) == 12 * 3 + 12 and ours["df"].dropna().le(2).all()  # 5 participants - 3 coefficients
    assert (ours.query("term == 'age'")["n"] == 5).all()


def test_covariates_are_checked(run_cli, tmp_path):
    code, _, err = run_cli(EXAMPLE, tmp_path, "group", "--group-covariates", "shoe_size")
    assert code == 2 and "no column shoe_size; columns are: age, sex, hand, weight, height" in err
    code, _, err = run_cli(EXAMPLE, tmp_path, "group", "--group-method", "summary")
    assert code == 2 and "'summary' (DerSimonian-Laird" in err and "was removed: use random-effects" in err


