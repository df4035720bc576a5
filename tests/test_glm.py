"""The GLM engine against nilearn (same algorithm) and statsmodels (independent statistics)."""

import numpy as np
import pytest
from scipy import stats

from bids_app.first_level.glm import fit_glm, yule_walker
from bids_app.first_level.noise_model import noise_model_order
from bids_app.first_level.tables import _statistics


def _simulate(n=600, signals=4, rho=(0.6, 0.2), seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=(n, 3)), np.cos(np.linspace(0, np.pi, n)), np.ones(n)])
    noise = rng.normal(size=(n, signals))
    for t in range(len(rho), n):
        noise[t] += sum(r * noise[t - k - 1] for k, r in enumerate(rho))
    return X, X @ rng.normal(size=(X.shape[1], signals)) + noise


@pytest.mark.parametrize("order", [0, 1, 4])
def test_fit_equals_nilearn_run_glm(order):
    from nilearn.glm.first_level import run_glm

    X, Y = _simulate()
    fit = fit_glm(Y, X, ar_order=order)
    noise_model = "ols" if order == 0 else f"ar{order}"
    for s in range(Y.shape[1]):
        # bins so fine that nilearn's truncation of the AR(1) coefficient is negligible
        labels, results = run_glm(Y[:, [s]], X, noise_model=noise_model, bins=10**12)
        reference = results[labels[0]]
        np.testing.assert_allclose(fit.beta[s], reference.theta[:, 0], rtol=1e-9)
        np.testing.assert_allclose(fit.cov[s], reference.vcov(), rtol=1e-9, atol=1e-15)
        assert fit.df_resid == reference.df_residuals


@pytest.mark.parametrize("order", [0, 2])
def test_statistics_equal_statsmodels_on_whitened_data(order):
    """se, t, df and two-sided p equal an OLS fit by statsmodels of the whitened model."""
    import statsmodels.api as sm

    X, Y = _simulate(seed=1)
    fit = fit_glm(Y, X, ar_order=order)
    for s in range(Y.shape[1]):
        rho = fit.ar_coef[s]
        whiten = np.eye(len(X))
        for k, r in enumerate(rho):
            whiten -= r * np.eye(len(X), k=-(k + 1))
        reference = sm.OLS(whiten @ Y[:, s], whiten @ X).fit()
        assert reference.df_resid == fit.df_resid
        for column in range(X.shape[1]):
            weights = np.eye(X.shape[1])[column]
            values = _statistics(fit, weights, np.array([s]))
            np.testing.assert_allclose(values["effect"][0], reference.params[column], rtol=1e-9)
            np.testing.assert_allclose(values["se"][0], reference.bse[column], rtol=1e-9)
            np.testing.assert_allclose(values["t"][0], reference.tvalues[column], rtol=1e-9)
            np.testing.assert_allclose(values["p"][0], reference.pvalues[column], rtol=1e-7)


def test_contrast_p_is_two_sided_with_residual_df():
    X, Y = _simulate(seed=2)
    fit = fit_glm(Y, X, ar_order=1)
    weights = np.array([1.0, -1.0, 0, 0, 0])
    values = _statistics(fit, weights, np.arange(Y.shape[1]))
    effect = fit.beta @ weights
    se = np.sqrt(np.einsum("i,sij,j->s", weights, fit.cov, weights))
    np.testing.assert_allclose(values["t"], effect / se)
    np.testing.assert_allclose(values["p"], 2 * stats.t.sf(np.abs(effect / se), df=len(X) - X.shape[1]))
    assert np.all(values["df"] == len(X) - X.shape[1])


def test_yule_walker_recovers_known_ar_coefficients():
    rng = np.random.default_rng(3)
    n, rho = 200_000, np.array([0.5, -0.3])
    x = rng.normal(size=n)
    for t in range(2, n):
        x[t] += rho[0] * x[t - 1] + rho[1] * x[t - 2]
    np.testing.assert_allclose(yule_walker(x[None], order=2)[0], rho, atol=0.01)


def test_auto_order_is_four_times_the_sampling_rate():
    assert noise_model_order("ols", sfreq=0.6) == 0
    assert noise_model_order("ar1", sfreq=7.8) == 1
    assert noise_model_order("auto", sfreq=0.6) == 2
    assert noise_model_order("auto", sfreq=7.8125) == 31
    assert noise_model_order("auto", sfreq=0.1) == 1


def test_rank_deficient_design_equals_nilearn():
    from nilearn.glm.first_level import run_glm

    X, Y = _simulate(seed=5)
    X = np.column_stack([X, X[:, 0]])  # a duplicated regressor
    fit = fit_glm(Y, X, ar_order=2)
    assert fit.df_resid == len(X) - (X.shape[1] - 1)
    labels, results = run_glm(Y[:, [0]], X, noise_model="ar2", bins=10**12)
    np.testing.assert_allclose(fit.beta[0], results[labels[0]].theta[:, 0], rtol=1e-8, atol=1e-12)
