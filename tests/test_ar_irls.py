"""AR-IRLS (--noise-model ar-irls) against independent implementations: statsmodels' RLM with Tukey's
biweight on the whitened data, and statsmodels' AR order selection by BIC."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.signal import lfilter

from bids_app.first_level.ar_irls import ar_by_bic, fit_ar_irls, robust_fit
from bids_app.first_level.glm import _whiten
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


def test_bias_corrected_ar_order_by_bic_is_yule_walker_on_the_corrected_autocovariances():
    """--ar-bias-correction worsley: the BIC search runs on the clipped residuals' autocovariances corrected for
    the design; on a long AR(3) series it finds order 3, with the coefficients statsmodels' Yule-Walker gives
    the same series (the correction is negligible at 4,000 samples), and those of the corrected
    autocovariances exactly."""
    from statsmodels.regression.linear_model import yule_walker

    from bids_app.first_level.ar_irls import AR_CLIP, MAD_NORMAL
    from bids_app.first_level.glm import ar_from_autocovariances, corrected_autocovariances

    rng = np.random.default_rng(1)
    n = 4000
    X = _design(n, rng)
    x = lfilter([1], [1, -0.6, 0.25, -0.1], rng.standard_normal((3, n)), axis=1)
    x -= (x @ np.linalg.pinv(X).T) @ X.T  # residuals of the least-squares fit
    x[:, 2000:2004] += 50  # a spike: clipped
    coef = ar_by_bic(x, max_order=8, design=X)
    demeaned = x - x.mean(axis=1, keepdims=True)
    limit = AR_CLIP * np.median(np.abs(demeaned), axis=1, keepdims=True) / MAD_NORMAL
    clipped = np.clip(demeaned, -limit, limit)
    exact = ar_from_autocovariances(corrected_autocovariances(clipped, X, order=8), order=3)
    for s in range(3):
        assert np.count_nonzero(coef[s]) == 3
        np.testing.assert_allclose(coef[s, :3], exact[s], rtol=1e-10)
        reference, _ = yule_walker(clipped[s], order=3, method="mle")
        np.testing.assert_allclose(coef[s, :3], reference, atol=0.01)


def test_ar_irls_is_the_robust_fit_of_the_model_whitened_with_its_own_ar_coefficients():
    """At convergence, the estimates are statsmodels' RLM on the data whitened with the returned AR
    coefficients; each signal keeps its BIC order."""
    rng = np.random.default_rng(2)
    n = 1500
    X = _design(n, rng)
    noise = np.stack([lfilter([1], [1, -0.7], rng.standard_normal(n)),
                      lfilter([1], [1, -0.5, 0.3], rng.standard_normal(n)), rng.standard_normal(n)], axis=1)
    Y = X @ np.array([[1.0, 0.5, -1], [0.2, 0, 0.1], [0.8, 0.4, 0], [0, 0.3, 0.2]]) + noise
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
