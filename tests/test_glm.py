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


def test_ols_is_the_closed_form():
    """beta = (X'X)^-1 X'y, cov = sigma^2 (X'X)^-1 with sigma^2 = RSS / (n - p), df = n - p."""
    X, Y = _simulate(n=300, rho=())
    fit = fit_glm(Y, X, ar_order=0)
    gram_inverse = np.linalg.inv(X.T @ X)
    beta = gram_inverse @ X.T @ Y
    rss = ((Y - X @ beta) ** 2).sum(axis=0)
    np.testing.assert_allclose(fit.beta, beta.T, rtol=1e-10)
    np.testing.assert_allclose(fit.cov, gram_inverse[None] * (rss / (300 - 5))[:, None, None], rtol=1e-10)
    assert fit.df_resid == 300 - 5 and fit.ar_coef.shape == (4, 0)
    assert fit.ar_orders().tolist() == [0, 0, 0, 0] and fit.degrees_of_freedom().tolist() == [295.0] * 4


def test_noise_free_data_give_the_coefficients_exactly():
    X, _ = _simulate(n=200)
    truth = np.array([[1.5, -2.0, 0.25, 3.0, -1.0], [0.0, 0.5, 0.0, -0.5, 2.0]])
    for order in (0, 1, 3):
        fit = fit_glm(X @ truth.T + 1e-9 * np.random.default_rng(order).normal(size=(200, 2)), X, ar_order=order)
        np.testing.assert_allclose(fit.beta, truth, atol=1e-8)


def test_ar1_whitening_recovers_a_known_coefficient_with_calibrated_errors():
    """AR(1) noise (rho 0.7) on a slow regressor: the AR(1) fit estimates rho and its standard errors match the
    spread of the estimates over 400 signals; OLS's are too small (the reason for prewhitening)."""
    rng = np.random.default_rng(11)
    n, signals, rho = 1000, 400, 0.7
    t = np.arange(n)
    X = np.column_stack([np.sin(2 * np.pi * t / 200), (t % 100 < 30).astype(float), np.ones(n)])
    noise = rng.normal(size=(n, signals))
    for k in range(1, n):
        noise[k] += rho * noise[k - 1]
    truth = np.array([0.8, 2.0, 5.0])
    Y = (X @ truth)[:, None] + noise
    ar1 = fit_glm(Y, X, ar_order=1)
    ols = fit_glm(Y, X, ar_order=0)
    assert ar1.ar_orders().tolist() == [1] * signals
    assert abs(np.mean(ar1.ar_coef[:, 0]) - rho) < 0.01 and np.std(ar1.ar_coef[:, 0]) < 0.04
    for column in range(3):
        z_ar1 = (ar1.beta[:, column] - truth[column]) / np.sqrt(ar1.cov[:, column, column])
        z_ols = (ols.beta[:, column] - truth[column]) / np.sqrt(ols.cov[:, column, column])
        assert abs(np.mean(z_ar1)) < 0.2 and 0.85 < np.std(z_ar1) < 1.15, column
        assert np.std(z_ols) > 1.4, column
    assert np.std(ar1.beta[:, 1]) < np.std(ols.beta[:, 1])  # prewhitening is also more efficient


def test_ar_orders_are_the_last_non_zero_coefficient():
    from bids_app.first_level.glm import GLMFit

    coef = np.array([[0.5, 0, 0], [0.1, 0.2, 0], [0, 0, 0], [0, 0, 0.3]])
    fit = GLMFit(beta=np.zeros((4, 2)), cov=np.zeros((4, 2, 2)), df_resid=np.array([10, 11, 12, 13]),
                 ar_coef=coef)
    assert fit.ar_orders().tolist() == [1, 2, 0, 3]
    assert fit.degrees_of_freedom().tolist() == [10, 11, 12, 13]


def test_contrast_effect_and_se_are_the_quadratic_forms():
    from bids_app.first_level.glm import GLMFit

    beta = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])
    cov = np.array([np.diag([1.0, 4.0, 9.0]), [[1.0, 0.5, 0], [0.5, 2.0, 0], [0, 0, 1.0]]])
    fit = GLMFit(beta=beta, cov=cov, df_resid=20, ar_coef=np.zeros((2, 0)))
    effect, se = fit.contrast(np.array([1.0, -1.0, 0.0]))
    np.testing.assert_allclose(effect, [-1.0, -1.5])
    np.testing.assert_allclose(se, [np.sqrt(1 + 4), np.sqrt(1 + 2 - 2 * 0.5)])


def test_an_unknown_noise_model_is_refused():
    with pytest.raises(ValueError, match="unknown noise model 'ar2'"):
        noise_model_order("ar2", sfreq=1.0)


def test_a_design_without_residual_degrees_of_freedom_is_refused():
    X, Y = _simulate(n=5)
    with pytest.raises(ValueError, match="the design has 5 independent regressors for 5 samples"):
        fit_glm(Y, X, ar_order=0)


def _lag_matrices(n: int, order: int) -> list[np.ndarray]:
    return [np.eye(n)] + [np.eye(n, k=j) + np.eye(n, k=-j) for j in range(1, order + 1)]


@pytest.mark.parametrize("rank_deficient", [False, True])
def test_corrected_autocovariances_solve_worsleys_equations_built_from_dense_matrices(rank_deficient):
    """E[r' D_j r] = sum_l tr(R D_j R D_l) v_l (Worsley et al. 2002) with R, D_j as dense matrices."""
    from bids_app.first_level.glm import AutocovarianceCorrection

    rng = np.random.default_rng(3)
    n, order = 80, 3
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 4))])
    if rank_deficient:
        X = np.column_stack([X, X[:, 1] + X[:, 2]])
    residual_maker = np.eye(n) - X @ np.linalg.pinv(X)
    lags = _lag_matrices(n, order)
    system = np.array([[np.trace(residual_maker @ a @ residual_maker @ b) for b in lags] for a in lags])
    residuals = (residual_maker @ rng.standard_normal((n, 5))).T
    products = np.array([[r @ d @ r for d in lags] for r in residuals])
    expected = np.linalg.solve(system, products.T).T
    np.testing.assert_allclose(AutocovarianceCorrection.of(X, order=order)(residuals), expected, rtol=1e-10,
                               atol=1e-12)


def test_corrected_autocovariances_are_unbiased_where_the_residuals_own_are_not():
    """MA(2) errors (autocovariances zero beyond lag 2, the model of the correction) under a design with slow
    regressors: over 4,000 series the mean corrected autocovariances at lags 0-2 are within 1.5% of the
    truth; the residuals' own are 10% or more too small."""
    from scipy.signal import lfilter

    from bids_app.first_level.glm import AutocovarianceCorrection, autocovariances

    rng = np.random.default_rng(5)
    n, ma = 120, np.array([1.0, 0.8, 0.5])
    t = np.arange(n)
    X = np.column_stack([np.ones(n), (t % 40 < 10).astype(float)] + [np.cos(np.pi * k * (t + 0.5) / n)
                                                                      for k in range(1, 6)])
    errors = lfilter(ma, [1], rng.standard_normal((4000, n + 2)), axis=1)[:, 2:]
    residuals = errors - (errors @ np.linalg.pinv(X).T) @ X.T
    truth = np.array([ma[: 3 - j] @ ma[j:] for j in range(3)])
    corrected = AutocovarianceCorrection.of(X, order=2)(residuals).mean(axis=0)
    plain = autocovariances(residuals, order=2).mean(axis=0)
    assert np.all(np.abs(corrected / truth - 1) < 0.015), corrected / truth
    assert np.all(plain / truth < 0.9), plain / truth


def test_corrected_autocovariances_fall_back_where_they_are_not_a_stationary_process():
    """With almost as many regressors as samples the correction can overshoot: every row returned has a
    positive definite Toeplitz matrix (a stationary AR fit), the residuals' own (biased) autocovariances where
    needed."""
    from bids_app.first_level.glm import AutocovarianceCorrection, autocovariances

    rng = np.random.default_rng(8)
    n, order = 30, 4
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 20))])
    residuals = (rng.standard_normal((400, n)) @ (np.eye(n) - X @ np.linalg.pinv(X)))
    acov = AutocovarianceCorrection.of(X, order=order)(residuals)
    toeplitz = acov[:, np.abs(np.subtract.outer(np.arange(order + 1), np.arange(order + 1)))]
    assert (np.linalg.eigvalsh(toeplitz).min(axis=1) > 0).all()
    fell_back = np.all(acov == autocovariances(residuals, order=order, unbiased=False), axis=1)
    assert 0 < fell_back.sum() < len(acov)
    # no more residual degrees of freedom than lags: the system is singular, every signal keeps its own
    X = np.column_stack([np.ones(n), rng.standard_normal((n, n - 3))])
    np.testing.assert_array_equal(AutocovarianceCorrection.of(X, order=order)(residuals),
                                  autocovariances(residuals, order=order, unbiased=False))


def test_bias_corrected_ar_gives_calibrated_standard_errors_where_the_plain_estimate_does_not():
    """8,000 AR(1) series (rho 0.6, 360 samples, a block design with cosine drifts, as a 10-minute recording
    at 0.6 Hz): with the plain Yule-Walker AR(2) fit the t-values of the (null) block effect spread 6-9% more
    than a t distribution's (seeds 2-7); with the Worsley correction 1-4% (what is left: the AR estimates' own
    noise), about 5 points less at every seed."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(2)
    n = 360
    t = np.arange(n)
    blocks = np.convolve((t % 30 < 4).astype(float), np.exp(-np.arange(12) / 4))[:n]
    X = np.column_stack([blocks, np.ones(n)] + [np.cos(np.pi * k * (t + 0.5) / n) for k in range(1, 8)])
    Y = lfilter([1], [1, -0.6], rng.standard_normal((8000, n + 200)), axis=1)[:, 200:].T
    spread = {}
    for correction in (False, True):
        fit = fit_glm(Y, X, ar_order=2, bias_correction=correction)
        spread[correction] = np.std(fit.beta[:, 0] / np.sqrt(fit.cov[:, 0, 0])) / np.sqrt(n / (n - 2))
    assert spread[False] > 1.05 and spread[True] < 1.05 and spread[False] - spread[True] > 0.03, spread


# The fast path (lag products of the design shared by all signals, whitening by filtering, Worsley's system from
# the lag products) against a dense implementation: whitening and lag matrices as n x n matrices, Worsley's
# equations from R = I - X X^+, least squares on each signal's whitened model.

def _recording_like(n: int, sfreq: float, *, fir: bool, seed: int, signals: int = 6):
    """A design as the app builds it at ``sfreq``: two conditions (HRF-convolved 5 s blocks, or with ``fir`` one
    column per sample of 0-5 s after onset, sparse), two short-channel regressors, cosine drifts, a constant;
    signals of responses plus AR(2) noise and a slow drift."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    t = np.arange(n) / sfreq
    onsets = np.sort(rng.uniform(2, t[-1] - 12, size=(2, max(3, int(t[-1] / 40)))), axis=1)
    columns = []
    for condition in onsets:
        lag = t[:, None] - condition[None, :]
        if fir:
            columns += [((lag >= b / sfreq) & (lag < (b + 1) / sfreq)).sum(axis=1).astype(float)
                        for b in range(int(5 * sfreq))]
        else:
            hrf_time = np.arange(0, 25, 1 / sfreq)
            hrf = hrf_time ** 5 * np.exp(-hrf_time) / 120 - hrf_time ** 15 * np.exp(-hrf_time) / 6 / 1.3e12
            block = ((lag >= 0) & (lag < 5)).any(axis=1).astype(float)
            columns.append(np.convolve(block, hrf)[:n] / sfreq)
    columns += list(lfilter([1], [1, -0.95], rng.standard_normal((2, n)), axis=1))
    columns += [np.cos(np.pi * k * (np.arange(n) + 0.5) / n) for k in range(1, max(2, int(t[-1] / 60)) + 1)]
    X = np.column_stack(columns + [np.ones(n)])
    noise = lfilter([1], [1, -1.1, 0.3], rng.standard_normal((signals, n + 300)), axis=1)[:, 300:].T
    Y = 5 + X @ rng.normal(scale=0.5, size=(X.shape[1], signals)) + noise + 0.3 * np.linspace(-1, 1, n)[:, None]
    return Y, X


def _dense_fit(Y: np.ndarray, X: np.ndarray, *, order: int, bias_correction: bool):
    """(beta, se per regressor, df, AR coefficients) by dense matrices, signal by signal."""
    from scipy.linalg import solve_toeplitz

    n = len(X)
    pinv = np.linalg.pinv(X)
    df = n - np.linalg.matrix_rank(X)
    residual_maker = np.eye(n) - X @ pinv
    lags = _lag_matrices(n, order)
    if bias_correction:
        projected = [residual_maker @ d for d in lags]
        system = np.array([[np.sum(a * b.T) for b in projected] for a in projected])  # tr(R D_j R D_l)
    betas, ses, coefs = [], [], []
    for y in Y.T:
        r = residual_maker @ y
        x = r - r.mean()
        plain = np.array([x[:n - j] @ x[j:] for j in range(order + 1)])
        acov = plain / (n - np.arange(order + 1))  # unbiased, as nilearn
        if bias_correction:
            acov = np.linalg.solve(system, [r @ d @ r for d in lags])
            toeplitz = acov[np.abs(np.subtract.outer(np.arange(order + 1), np.arange(order + 1)))]
            if np.linalg.eigvalsh(toeplitz).min() <= 0:  # not a stationary process: the residuals' own
                acov = plain / n
        coef = solve_toeplitz(acov[:order], acov[1:order + 1])
        whiten = np.eye(n) - sum(c * np.eye(n, k=-(k + 1)) for k, c in enumerate(coef))
        Xw, yw = whiten @ X, whiten @ y
        beta = np.linalg.lstsq(Xw, yw, rcond=None)[0]
        rss = np.sum((yw - Xw @ beta) ** 2)
        betas.append(beta)
        ses.append(np.sqrt(np.diag(np.linalg.inv(Xw.T @ Xw)) * rss / df))
        coefs.append(coef)
    return np.array(betas), np.array(ses), df, np.array(coefs)


@pytest.mark.parametrize("bias_correction", [False, True])
@pytest.mark.parametrize("noise_model", ["ar1", "auto"])
@pytest.mark.parametrize("sfreq, n, fir", [(0.6, 360, False), (0.6, 360, True), (7.8125, 520, False),
                                           (7.8125, 520, True)])
def test_fast_fit_equals_a_dense_implementation(sfreq, n, fir, noise_model, bias_correction):
    """Effects, standard errors, t, p, df and AR orders of NoiseModel.fit (ar1, and auto: AR(2) at 0.6 Hz, AR(31)
    at 7.8 Hz) equal those of the dense implementation to 1e-9, with and without Worsley's correction, for
    recording-like designs with HRF regressors or with sparse FIR bins (their lag products taken as sparse)."""
    from bids_app.first_level.noise_model import NoiseModel

    Y, X = _recording_like(n, sfreq, fir=fir, seed=int(10 * sfreq) + fir)
    model = NoiseModel.resolve(noise_model, sfreq=sfreq, bias_correction="worsley" if bias_correction else "none")
    fit = model.fit(Y, X)
    beta, se, df, coef = _dense_fit(Y, X, order=model.ar_order, bias_correction=bias_correction)
    assert fit.df_resid == df and fit.ar_orders().tolist() == [model.ar_order] * Y.shape[1]
    np.testing.assert_allclose(fit.ar_coef, coef, rtol=1e-9, atol=1e-12)
    fast_se = np.sqrt(np.einsum("skk->sk", fit.cov))
    np.testing.assert_allclose(fast_se, se, rtol=1e-9)
    # effects near 0 differ by rounding of the size of their standard errors'
    np.testing.assert_allclose(fit.beta, beta, rtol=1e-9, atol=1e-9 * se.min())
    np.testing.assert_allclose(fit.beta / fast_se, beta / se, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(2 * stats.t.sf(np.abs(fit.beta / fast_se), df),
                               2 * stats.t.sf(np.abs(beta / se), df), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fir", [False, True])
def test_whitened_grams_from_lag_products_equal_those_of_the_whitened_design(fir):
    """LaggedProducts.whitened_grams (per-signal AR orders, zero coefficients beyond) equals Xw'Xw of the design
    whitened sample by sample, for a dense design and one with sparse columns; whiten_columns and adjoint_whiten
    are the whitening and its transpose."""
    from bids_app.first_level.glm import LaggedProducts, _whiten, adjoint_whiten, whiten_columns

    _, X = _recording_like(300, 7.8125, fir=fir, seed=4)
    rng = np.random.default_rng(4)
    coef = rng.normal(scale=0.2, size=(5, 12))
    coef[1, 3:] = 0  # AR(3)
    coef[2] = 0  # AR(0)
    Xw = _whiten(X[None], coef)
    np.testing.assert_allclose(LaggedProducts.of(X, max_lag=12).whitened_grams(coef), Xw.transpose(0, 2, 1) @ Xw,
                               rtol=1e-11, atol=1e-11 * np.abs(X).max() ** 2 * len(X))
    np.testing.assert_allclose(LaggedProducts.of(X, max_lag=20).whitened_grams(coef[:, :7]),
                               (lambda w: w.transpose(0, 2, 1) @ w)(_whiten(X[None], coef[:, :7])), rtol=1e-11,
                               atol=1e-11 * np.abs(X).max() ** 2 * len(X))
    V = rng.standard_normal((300, 5))
    whitened = whiten_columns(V, coef)
    np.testing.assert_array_equal(whitened, _whiten(V.T[:, :, None], coef)[:, :, 0].T)
    for s in range(5):
        whiten = np.eye(300) - sum(c * np.eye(300, k=-(k + 1)) for k, c in enumerate(coef[s]))
        np.testing.assert_allclose(adjoint_whiten(V, coef)[:, s], whiten.T @ V[:, s], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n, order, fir", [(300, 12, True), (200, 31, False), (20, 12, False)])
def test_worsley_system_from_lag_products_equals_dense_traces(n, order, fir):
    """The system from the design's lag products (to twice the order; more lags than samples too) equals
    tr(R D_j R D_l) from dense matrices."""
    from bids_app.first_level.glm import AutocovarianceCorrection

    if n > 100:
        _, X = _recording_like(n, 7.8125 if fir else 2.0, fir=fir, seed=order)
    else:
        X = np.column_stack([np.ones(n), np.random.default_rng(1).standard_normal((n, 3))])
    residual_maker = np.eye(n) - X @ np.linalg.pinv(X)
    projected = [residual_maker @ d for d in _lag_matrices(n, order)]
    system = np.array([[np.sum(a * b.T) for b in projected] for a in projected])
    np.testing.assert_allclose(AutocovarianceCorrection.of(X, order=order).system, system, rtol=1e-10,
                               atol=1e-10 * n)


def test_ols_pseudo_inverse_and_rank_are_numpys_from_one_decomposition():
    from bids_app.first_level.glm import _pinv, _rank, _rank_of_singular_values

    X, _ = _simulate(n=200)
    for design in (X, np.column_stack([X, X[:, 0] + X[:, 1]])):
        u, singular, vt = np.linalg.svd(design, full_matrices=False)
        np.testing.assert_array_equal(_pinv(u, singular, vt), np.linalg.pinv(design))
        assert _rank_of_singular_values(design, singular) == _rank(design)
