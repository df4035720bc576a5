"""Per-cell group models against independent implementations: R metafor (random-effects), statsmodels and
scipy (ols), closed forms; and the warnings they give.

The metafor tests call Rscript. Under CI (CI=true) R and metafor are installed by .ci/run and a missing
Rscript or metafor FAILS these tests; elsewhere they are skipped with the reason.
"""


import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bids_app.group_level.cell_models import t_inference
from bids_app.group_level.mixedlm import mixedlm_notes
from bids_app.group_level.models import add_inference, fit_cell_models, participant_matrices
from tests.helpers import rscript

REL = 1e-6


_METAFOR = """
ctl <- list(threshold = 1e-13, maxiter = 10000)
fit <- function(d, mods) rma(effect, sei = se, mods = mods, data = d, method = "REML", test = "knha", control = ctl)
out <- NULL
for (cell in sort(unique(d$cell))) {
  x <- d[d$cell == cell, ]
  # a participant's recordings: fixed-effect (inverse-variance) combination, by metafor
  per <- do.call(rbind, lapply(split(x, x$subject), function(s) {
    f <- rma(s$effect, sei = s$se, method = "FE")
    data.frame(subject = s$subject[1], effect = as.numeric(f$b), se = f$se, sex = s$sex[1], age = s$age[1])
  }))
  per$age_c <- per$age - mean(d$age[!duplicated(d$subject)])
  %s
}
write.csv(out, stdout(), row.names = FALSE)
"""


def _row(name, model, k):
    return (f"out <- rbind(out, data.frame(cell = cell, term = {name!r}, effect = model$b[{k}], se = model$se[{k}], "
            f"p = model$pval[{k}], tau2 = model$tau2, i2 = model$I2 / 100, df = model$k - model$p))"
            ).replace("model", model)


def _study(seed: int = 0, subjects: int = 12) -> pd.DataFrame:
    """Cells with different between-participant spreads, se over a factor of 3, one participant with two
    recordings, one participant missing from one cell, and a cell with no spread (tau^2 at 0)."""
    rng = np.random.default_rng(seed)
    people = pd.DataFrame({"subject": [f"{i:02d}" for i in range(subjects)],
                           "sex": np.where(np.arange(subjects) % 3 == 0, "M", "F"),
                           "age": rng.uniform(20, 60, subjects).round(1)})
    rows = []
    for cell, (mean, tau) in {"active": (0.4, 0.3), "quiet": (0.0, 0.02), "flat": (0.1, 0.0)}.items():
        for person in people.itertuples():
            if cell == "quiet" and person.subject == "03":
                continue
            for _ in range(2 if person.subject == "01" else 1):
                se = rng.uniform(0.05, 0.15)
                true = mean + 0.01 * (person.age - 40) + rng.normal(0, tau) if tau else mean
                rows.append({"cell": cell, "subject": person.subject, "sex": person.sex, "age": person.age,
                             "effect": true + rng.normal(0, se) * (0.2 if cell == "flat" else 1), "se": se})
    return pd.DataFrame(rows)


def _fit(data: pd.DataFrame, **options) -> tuple[pd.DataFrame, list[str]]:
    rows, notes = fit_cell_models(data, cells=["cell"], **options)
    return add_inference(rows, fdr_within=["term"]), notes


def _compare(ours: pd.DataFrame, reference: pd.DataFrame) -> None:
    merged = ours.merge(reference, on=["cell", "term"], suffixes=("", "_r"), validate="one_to_one")
    assert len(merged) == len(reference) > 0
    for column in ("effect", "se", "p", "i2"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_r"], rtol=REL, atol=1e-14)
    np.testing.assert_allclose(merged["tau"] ** 2, merged["tau2"], rtol=REL, atol=1e-12)
    np.testing.assert_array_equal(merged["df"], merged["df_r"])


def test_random_effects_intercept_only_equals_metafor():
    data = _study()
    ours, notes = _fit(data, method="random-effects")
    reference = rscript(_METAFOR % ("m <- fit(per, ~ 1)\n" + _row("mean", "m", 1)), data)
    assert (reference["tau2"] > 0).sum() == 2 and (reference["tau2"] < 1e-12).sum() == 1  # one at the boundary
    _compare(ours, reference)
    assert ours.set_index("cell").loc["quiet", "n"] == 11 and ours.set_index("cell").loc["active", "n"] == 12
    assert any("boundary, 0, in 1 of 3 cell(s) (flat)" in note for note in notes)


def test_random_effects_with_a_categorical_covariate_equals_metafor():
    data = _study(seed=1)
    ours, _ = _fit(data, method="random-effects", group_by="sex")
    code = ("m <- fit(per, ~ 0 + sex)\n" + _row("F", "m", 1) + "\n" + _row("M", "m", 2) + "\n"
            "m2 <- fit(per, ~ sex)\n" + _row("M - F", "m2", 2))
    reference = rscript(_METAFOR % code, data)
    _compare(ours.assign(term=ours["sex"]), reference)
    difference = ours[ours["sex"] == "M - F"].set_index("cell")
    assert difference.loc["active", "n"] == 12 and set(ours["term"]) == {"mean"}


def test_random_effects_with_a_numeric_covariate_equals_metafor():
    data = _study(seed=2)
    ours, _ = _fit(data, method="random-effects", numeric=("age",))
    code = "m <- fit(per, ~ age_c)\n" + _row("mean", "m", 1) + "\n" + _row("age", "m", 2)
    reference = rscript(_METAFOR % code, data)
    _compare(ours, reference)
    slope = ours[(ours["term"] == "age") & (ours["cell"] == "active")]
    assert slope["n"].iloc[0] == 12 and len(ours) == 6  # a mean and a slope row per cell


def _participant_level(data: pd.DataFrame) -> pd.DataFrame:
    keys, subjects, y, _ = participant_matrices(data, cells=["cell"])
    means = pd.DataFrame({"cell": np.repeat(keys["cell"], len(subjects)), "subject": subjects * len(keys),
                          "effect": y.ravel()}).dropna()
    return means.merge(data.drop_duplicates("subject")[["subject", "sex", "age"]], on="subject")


def test_ols_equals_statsmodels_and_scipy():
    import statsmodels.formula.api as smf

    data = _study(seed=3)
    per = _participant_level(data)
    per["age_c"] = per["age"] - data.drop_duplicates("subject")["age"].mean()
    plain, _ = _fit(data, method="ols")
    covariates, _ = _fit(data, method="ols", group_by="sex", numeric=("age",))
    for cell, values in per.groupby("cell"):
        test = stats.ttest_1samp(values["effect"], 0)
        row = plain.set_index("cell").loc[cell]
        assert row["t"] == pytest.approx(test.statistic, rel=REL) and row["p"] == pytest.approx(test.pvalue, rel=REL)
        assert row["df"] == len(values) - 1 and row["n"] == len(values)
        low, high = test.confidence_interval()
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=REL)
        fitted = smf.ols("effect ~ 0 + sex + age_c", values).fit()
        ours = covariates[covariates["cell"] == cell]
        ours = ours.set_index(ours["sex"].fillna("age"))
        for name, label in (("sex[F]", "F"), ("sex[M]", "M"), ("age_c", "age")):
            assert ours.loc[label, "effect"] == pytest.approx(fitted.params[name], rel=REL)
            assert ours.loc[label, "se"] == pytest.approx(fitted.bse[name], rel=REL)
            assert ours.loc[label, "p"] == pytest.approx(fitted.pvalues[name], rel=REL)
            assert ours.loc[label, "df"] == fitted.df_resid
        difference = fitted.t_test("sex[M] - sex[F] = 0")
        assert ours.loc["M - F", "effect"] == pytest.approx(float(difference.effect[0]), rel=REL)
        assert ours.loc["M - F", "se"] == pytest.approx(float(difference.sd[0, 0]), rel=REL)
        assert ours.loc["M - F", "p"] == pytest.approx(float(difference.pvalue), rel=REL)


def test_recordings_of_a_participant_are_combined_by_inverse_variance():
    data = pd.DataFrame({"cell": ["x", "x", "x", "y"], "subject": ["a", "a", "b", "b"], "effect": [1.0, 2.0, 5.0, 7.0],
                         "se": [1.0, 2.0, 1.0, 3.0]})
    keys, subjects, y, v = participant_matrices(data, cells=["cell"])
    assert keys["cell"].tolist() == ["x", "y"] and subjects == ["a", "b"]
    assert y[0, 0] == pytest.approx((1 / 1 + 2 / 4) / (1 + 1 / 4)) and v[0, 0] == pytest.approx(1 / (1 + 1 / 4))
    np.testing.assert_allclose([y[0, 1], v[0, 1], y[1, 1], v[1, 1]], [5.0, 1.0, 7.0, 9.0])
    assert np.isnan(y[1, 0]) and np.isnan(v[1, 0])  # a has no value in cell y


def test_few_participants_give_a_warning_and_no_inference_from_one():
    data = pd.DataFrame({"cell": ["x", "x", "y"], "subject": ["a", "b", "a"], "effect": [1.0, 2.0, 3.0],
                         "se": [0.5, 0.5, 0.5]})
    rows, notes = _fit(data, method="random-effects")
    single = rows.set_index("cell").loc["y"]
    assert single["effect"] == 3.0 and single["n"] == 1 and np.isnan(single["se"]) and np.isnan(single["df"])
    assert rows.set_index("cell").loc["x", "df"] == 1
    assert any(note.startswith("2 of 2 cell(s) have fewer than 3 participants (x, y)") for note in notes)
    groups = pd.DataFrame({"cell": "x", "subject": list("abcdef"), "effect": [1.0, 2, 3, 4, 5, 6], "se": 0.5,
                           "arm": ["p", "p", "c", "c", "c", "c"]})
    _, notes = fit_cell_models(groups, cells=["cell"], method="random-effects", group_by="arm")
    assert any(note.startswith("1 of 1 cell(s) have fewer than 3 participants in a group of arm (x)")
               for note in notes)


def test_z_has_the_p_value_and_sign_of_t():
    t, p, z, low, high = t_inference(np.array([-1.0, 2.0, 0.3, 50.0]), np.array([0.5, 0.5, 0.1, 1.0]),
                                     np.array([3.0, 10.0, np.nan, 40.0]))
    np.testing.assert_allclose(p[:2], 2 * stats.t.sf(np.abs(t[:2]), [3, 10]))
    np.testing.assert_allclose(2 * stats.norm.sf(np.abs(z)), p)
    assert np.all(np.sign(z) == np.sign(t)) and z[2] == pytest.approx(t[2])  # normal where df is n/a
    assert np.isfinite(z[3]) and z[3] > 8  # from the log p: finite where p itself is tiny
    np.testing.assert_allclose(high - np.array([-1.0, 2.0, 0.3, 50.0]),
                               stats.t.ppf(0.975, [3, 10, np.inf, 40]) * np.array([0.5, 0.5, 0.1, 1.0]))
    assert low[2] == pytest.approx(0.3 - 1.959963984540054 * 0.1)


def test_mixedlm_warnings_are_explained_in_plain_words():
    notes = mixedlm_notes(["The MLE may be on the boundary of the parameter space."], converged=False)
    assert "between-participant variance of the mixed model was estimated at 0" in notes[0]
    assert "compare with --group-method random-effects" in notes[0]
    assert notes[1].startswith("the mixed model did not converge") and "do not use these rows" in notes[1]
