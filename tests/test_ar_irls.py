"""AR-IRLS (--noise-model ar-irls) against independent implementations: statsmodels' RLM with Tukey's
biweight on the whitened data, and statsmodels' AR order selection by BIC."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.signal import lfilter

from bids_app.first_level.ar_irls import ar_by_bic, fit_ar_irls, robust_fit
from bids_app.first_level.glm import AutocovarianceCorrection, _whiten
from tests.helpers import EXAMPLE


def _design(n: int, rng) -> np.ndarray:
    t = np.arange(n)
    return np.column_stack([np.ones(n), np.cos(np.pi * t / n), (t % 100 < 30).astype(float),
                            rng.standard_normal(n)])


def test_robust_fit_equals_statsmodels_rlm_tukey_biweight():
    rng = np.random.default_rng(0)
    n, signals = 600, 5
    X = _design(n, rng)
    y = (X @ rng.standard_normal((4, signals))).T + rng.standard_t(3, size=(signals, n))
    y[:, 100:110] += 8  # a motion spike
    beta, cov, df = robust_fit(y.T, X, np.zeros((signals, 0)), rank=4, tol=1e-13, max_iterations=1000)
    for s in range(signals):
        reference = sm.RLM(y[s], X, M=sm.robust.norms.TukeyBiweight()).fit(conv="coefs", tol=1e-14, maxiter=1000)
        np.testing.assert_allclose(beta[s], reference.params, rtol=1e-6)
        np.testing.assert_allclose(np.sqrt(np.diag(cov[s])), reference.bse, rtol=1e-6)
        assert df[s] == pytest.approx(reference.weights.sum() - 4, rel=1e-6)
        assert reference.weights[100:110].max() < 0.2  # the spike is down-weighted


def test_irls_fallback_equals_statsmodels_rlm():
    """The IRLS iteration that takes over signals the H-algorithm leaves unsettled reaches RLM's estimate."""
    from bids_app.first_level.ar_irls import _irls

    rng = np.random.default_rng(3)
    n, signals = 400, 3
    X = _design(n, rng)
    y = (X @ rng.standard_normal((4, signals))).T + rng.standard_t(3, size=(signals, n))
    start = np.linalg.lstsq(X, y.T, rcond=None)[0].T
    beta, resid, scale = _irls(y, np.broadcast_to(X, (signals, n, 4)).copy(), start, max_iterations=1000, tol=1e-13)
    for s in range(signals):
        reference = sm.RLM(y[s], X, M=sm.robust.norms.TukeyBiweight()).fit(conv="coefs", tol=1e-14, maxiter=1000)
        np.testing.assert_allclose(beta[s], reference.params, rtol=1e-6)
        assert scale[s] == pytest.approx(reference.scale, rel=1e-6)
        np.testing.assert_allclose(resid[:, s], reference.resid, rtol=1e-6, atol=1e-9)


def test_ar_order_and_coefficients_by_bic_equal_statsmodels():
    """On the residuals as ar_by_bic uses them: demeaned, clipped at 3 robust SDs."""
    from statsmodels.tsa.ar_model import AutoReg, ar_select_order

    from bids_app.first_level.ar_irls import AR_CLIP, MAD_NORMAL

    rng = np.random.default_rng(1)
    x = lfilter([1], [1, -0.6, 0.25, -0.1], rng.standard_normal((3, 4000)), axis=1)
    x[:, 2000:2004] += 50  # a spike: clipped
    coef = ar_by_bic(x, max_order=8)
    for s in range(3):
        demeaned = x[s] - x[s].mean()
        limit = AR_CLIP * np.median(np.abs(demeaned)) / MAD_NORMAL
        demeaned = np.clip(demeaned, -limit, limit)
        order = max(ar_select_order(demeaned, maxlag=8, ic="bic", trend="n").ar_lags or [0])
        assert np.count_nonzero(coef[s]) == order == 3
        reference = AutoReg(demeaned, lags=order, trend="n", hold_back=8).fit()
        np.testing.assert_allclose(coef[s, :order], reference.params, rtol=1e-8)


def test_bias_corrected_ar_order_by_bic_equals_a_dense_matrix_implementation():
    """--ar-bias-correction worsley: the BIC search runs on the clipped residuals' autocovariances corrected for
    the design. Here built independently: Worsley's system from dense R = I - H and lag matrices, solved for the
    autocovariances, scipy's Toeplitz solver for every order, BIC = n log(innovation variance) + p log(n)."""
    from scipy.linalg import solve_toeplitz

    from bids_app.first_level.ar_irls import AR_CLIP, MAD_NORMAL

    rng = np.random.default_rng(4)
    n, max_order = 150, 4
    X = _design(n, rng)
    R = np.eye(n) - X @ np.linalg.pinv(X)
    noise = np.stack([lfilter([1], [1, -0.7], rng.standard_normal(n)),
                      lfilter([1], [1, -0.5, 0.3], rng.standard_normal(n)), rng.standard_normal(n)])
    residuals = noise @ R.T
    residuals[0, 60:62] += 30  # a spike: clipped
    coef = ar_by_bic(residuals, max_order=max_order, correction=AutocovarianceCorrection.of(X, order=max_order))
    lags = [np.eye(n)] + [np.eye(n, k=j) + np.eye(n, k=-j) for j in range(1, max_order + 1)]
    system = np.array([[np.trace(R @ a @ R @ b) for b in lags] for a in lags])
    for s, x in enumerate(residuals):
        x = x - x.mean()
        limit = AR_CLIP * np.median(np.abs(x)) / MAD_NORMAL
        x = np.clip(x, -limit, limit)
        v = np.linalg.solve(system, [x @ d @ x for d in lags])
        fits = [np.zeros(0)] + [solve_toeplitz(v[:p], v[1:p + 1]) for p in range(1, max_order + 1)]
        bic = [n * np.log(v[0] - a @ v[1:len(a) + 1]) + len(a) * np.log(n) for a in fits]
        best = fits[int(np.argmin(bic))]
        np.testing.assert_allclose(coef[s], np.pad(best, (0, max_order - len(best))), rtol=1e-9, atol=1e-12)
    assert [np.count_nonzero(c) for c in coef] == [1, 2, 0]


@pytest.mark.parametrize("sparse", [False, True])
def test_ar_irls_is_the_robust_fit_of_the_model_whitened_with_its_own_ar_coefficients(sparse):
    """At convergence, the estimates are statsmodels' RLM on the data whitened with the returned AR
    coefficients; each signal keeps its BIC order. With ``sparse``, FIR-like columns (a few impulses each) whose
    lag products are taken as sparse."""
    rng = np.random.default_rng(2)
    n = 1500
    X = _design(n, rng)
    noise = np.stack([lfilter([1], [1, -0.7], rng.standard_normal(n)),
                      lfilter([1], [1, -0.5, 0.3], rng.standard_normal(n)), rng.standard_normal(n)], axis=1)
    Y = X @ np.array([[1.0, 0.5, -1], [0.2, 0, 0.1], [0.8, 0.4, 0], [0, 0.3, 0.2]]) + noise
    if sparse:
        onsets = np.arange(40, n - 20, 60)
        bins = np.zeros((n, 4))
        for b in range(4):
            bins[onsets + b, b] = 1.0
        X = np.column_stack([bins, X])
        Y = Y + bins @ np.array([[0.5, 0.2, 0], [1.0, 0.4, 0], [0.5, 0.2, 0], [0.2, 0, 0]])
    Y[700:705] += 10
    fit = fit_ar_irls(Y, X, max_order=6, outer_tol=1e-12, tol=1e-13, max_outer=50)
    assert list(fit.ar_orders()) == [1, 2, 0]
    for s in range(3):
        Xw = _whiten(X[None], fit.ar_coef[s:s + 1])[0]
        yw = _whiten(Y[None, :, s:s + 1], fit.ar_coef[s:s + 1])[0, :, 0]
        reference = sm.RLM(yw, Xw, M=sm.robust.norms.TukeyBiweight()).fit(conv="coefs", tol=1e-14, maxiter=1000)
        np.testing.assert_allclose(fit.beta[s], reference.params, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(np.sqrt(np.diag(fit.cov[s])), reference.bse, rtol=1e-6)


@pytest.mark.slow
def test_ar_irls_end_to_end_on_the_bundled_recording(tmp_path, run_cli):
    code, _, err = run_cli(EXAMPLE, tmp_path, "participant", "--participant_label", "02", "--skip_bids_validator",
                           "--noise-model", "ar-irls")
    assert code == 0, err
    folder = tmp_path / "sub-02" / "ses-01" / "nirs"
    table = pd.read_csv(folder / "sub-02_ses-01_task-tapping_desc-channel_stats.tsv", sep="\t")
    assert table["ar_order"].between(0, 2).all() and table["ar_order"].nunique() > 1  # chosen per channel
    samples = len(pd.read_csv(folder / "sub-02_ses-01_task-tapping_design.tsv", sep="\t"))
    assert (table["df"] < samples).all() and table[["effect", "se", "p"]].notna().all().all()
    report = (tmp_path / "sub-02.html").read_text()
    assert "ar-irls (AR order by BIC up to 2, Tukey bisquare IRLS, Worsley bias correction)" in report
