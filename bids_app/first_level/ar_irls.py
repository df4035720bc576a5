"""AR-IRLS: the robust GLM of Barker, Aarabi & Huppert (2013), fitted to all signals in chunks.

For each signal y (a column of ``Y``) and design X:
1. ordinary least squares gives the residuals;
2. autoregressive models of every order 0..``max_order`` are fitted to the residuals by least squares on
   the same samples (t >= max_order), and the order with the lowest BIC, n log(RSS / n) + p log(n), is
   kept (the AR order of that signal); the residuals are first clipped at 3 robust standard
   deviations (median absolute residual / 0.6745), so that a motion spike does not pass for serial
   correlation (AnalyzIR fits the AR model robustly for the same reason);
3. design and data are prewhitened with that AR filter (zeros before the first sample, as glm.py);
4. Tukey's bisquare M-estimator (tuning constant 4.685, 95% efficiency under normal errors) is fitted to
   the whitened model by iteratively reweighted least squares, with the scale re-estimated at every step
   as the median absolute residual / 0.6745, until no coefficient changes by more than ``irls_tol`` of
   its size: the iterations and fixed point of statsmodels' ``RLM(..., M=TukeyBiweight()).fit()``;
5. steps 2-4 are repeated with the new residuals until the coefficients change by less than
   ``outer_tol`` (relative norm), at most ``max_outer`` times.
The covariance of the coefficients is Huber's H1 (statsmodels' default for RLM): it grows with the
squared psi function of the standardised residuals, so down-weighted samples widen it. The degrees of
freedom are the effective number of samples, the sum of the final weights, minus the rank of the design.
No whitened design is formed: the design is shared by all signals, so X_w b = whiten(X b), X_w'v =
X' whiten'(v) (the adjoint filter) and X_w'X_w comes from the lag products of X, computed once per fit
(glm.LaggedProducts).
"""

from __future__ import annotations

import numpy as np

from bids_app.first_level.glm import (
    AutocovarianceCorrection,
    GLMFit,
    LaggedProducts,
    _inverse_spd,
    _whiten,
    adjoint_whiten,
    ar_from_autocovariances,
    design_rank,
    whiten_columns,
)

TUKEY_C = 4.685
AR_CLIP = 3.0  # residuals are clipped at this many robust SDs before the AR fit
MAD_NORMAL = 0.6744897501960817  # median absolute deviation of the standard normal
AR_CHUNK_VALUES = 5_000_000  # lagged residual values per chunk of the BIC search (40 MB)


def fit_ar_irls(Y: np.ndarray, X: np.ndarray, *, max_order: int, bias_correction: bool = False, max_outer: int = 10,
                outer_tol: float = 1e-4, max_iterations: int = 500, tol: float = 1e-8) -> GLMFit:
    """The fit of the signals ``Y`` (n_times, n_signals) on the design ``X``; ``GLMFit.ar_orders()`` gives
    each signal's BIC-chosen AR order."""
    from threadpoolctl import threadpool_limits

    Y, X = np.asarray(Y, dtype=float), np.asarray(X, dtype=float)
    n_regressors = X.shape[1]
    rank = design_rank(X, reserved=max_order)
    scale = np.linalg.norm(X, axis=0)
    scale[scale == 0] = 1.0
    X = X / scale  # unit-norm columns: well-conditioned normal equations; undone at the end
    n_signals = Y.shape[1]
    cov = np.empty((n_signals, n_regressors, n_regressors))
    df = np.empty(n_signals)
    coef = np.zeros((n_signals, max_order))
    with threadpool_limits(limits=1, user_api="blas"):
        beta = (np.linalg.pinv(X) @ Y).T
        # the design's lag products, for every round's whitened Gram matrices (and Worsley's system: 2 x order)
        lags = LaggedProducts.of(X, max_lag=(2 if bias_correction else 1) * max_order)
        correction = (AutocovarianceCorrection.of(X, order=max_order, rank=rank, lags=lags) if bias_correction
                      else None)
        active = np.arange(n_signals)
        for _ in range(max_outer):
            coef[active] = ar_by_bic((Y[:, active] - X @ beta[active].T).T, max_order=max_order,
                                     correction=correction)
            new, cov[active], df[active] = robust_fit(Y[:, active], X, coef[active], rank=rank, lags=lags,
                                                      start=beta[active], max_iterations=max_iterations, tol=tol)
            change = np.linalg.norm(new - beta[active], axis=1) / np.maximum(
                np.linalg.norm(new, axis=1), np.finfo(float).tiny)
            beta[active] = new
            active = active[change > outer_tol]
            if not len(active):
                break
    return GLMFit(beta / scale, cov / np.outer(scale, scale), df, coef)


def ar_by_bic(residuals: np.ndarray, *, max_order: int,
              correction: AutocovarianceCorrection | None = None) -> np.ndarray:
    """AR coefficients (n_signals, max_order), zero beyond each signal's BIC-chosen order (0..max_order).

    The demeaned residuals are clipped at 3 robust SDs; then least squares of x[t] on x[t-1..t-p] over
    t >= max_order, for every p, from one set of lagged products; BIC = m log(RSS_p / m) + p log(m) with
    m = n_times - max_order samples. With ``correction`` (--ar-bias-correction worsley, built for the design
    the residuals come from): Yule-Walker fits of every order to the corrected autocovariances instead.
    """
    n_signals, n_times = residuals.shape
    chunk = max(1, AR_CHUNK_VALUES // max(1, n_times * max_order))
    x = _clipped(residuals)
    if correction is not None:  # lagged products of order + 1 lags per signal: no chunks needed
        return _corrected_ar_by_bic(x, max_order=max_order, correction=correction)
    return np.concatenate([_ar_by_bic(x[start:start + chunk], max_order=max_order)
                           for start in range(0, n_signals, chunk)]) if n_signals else np.zeros((0, max_order))


def _clipped(residuals: np.ndarray) -> np.ndarray:
    """The demeaned residuals clipped at 3 robust SDs."""
    x = residuals - residuals.mean(axis=1, keepdims=True)
    limit = AR_CLIP * _mad(x)[:, None]
    return np.clip(x, -limit, limit)


def _ar_by_bic(x: np.ndarray, *, max_order: int) -> np.ndarray:
    """Least squares of every order on the clipped residuals ``x`` (see ar_by_bic)."""
    n_times = x.shape[1]
    m = n_times - max_order
    lagged = np.stack([x[:, max_order - j:n_times - j] for j in range(1, max_order + 1)], axis=2)  # (s, m, P)
    target = x[:, max_order:]
    gram = lagged.transpose(0, 2, 1) @ lagged
    cross = (lagged.transpose(0, 2, 1) @ target[:, :, None])[:, :, 0]
    total = np.einsum("sm,sm->s", target, target)

    def fits():
        for p in range(1, max_order + 1):
            solved = np.linalg.solve(gram[:, :p, :p], cross[:, :p, None])[:, :, 0]
            rss = np.maximum(total - np.einsum("si,si->s", cross[:, :p], solved), np.finfo(float).tiny)
            yield p, solved, m * np.log(rss / m) + p * np.log(m)

    return _lowest_bic(m * np.log(np.maximum(total, np.finfo(float).tiny) / m), fits(), max_order=max_order)


def _corrected_ar_by_bic(x: np.ndarray, *, max_order: int, correction: AutocovarianceCorrection) -> np.ndarray:
    """As _ar_by_bic, from the clipped residuals' autocovariances corrected for the least-squares fit
    (glm.AutocovarianceCorrection): Yule-Walker coefficients of every order p, the innovation variance
    s2_p = v_0 - sum_i a_i v_i, BIC = n log(s2_p) + p log(n). The correction is that of the least-squares
    residuals (the first round); for the robust fit's residuals of later rounds, an approximation."""
    n = x.shape[1]
    acov = correction(x)

    def fits():
        for p in range(1, max_order + 1):
            solved = ar_from_autocovariances(acov, order=p)
            variance = np.maximum(acov[:, 0] - np.einsum("si,si->s", solved, acov[:, 1:p + 1]), np.finfo(float).tiny)
            yield p, solved, n * np.log(variance) + p * np.log(n)

    return _lowest_bic(n * np.log(np.maximum(acov[:, 0], np.finfo(float).tiny)), fits(), max_order=max_order)


def _lowest_bic(order_zero_bic: np.ndarray, fits, *, max_order: int) -> np.ndarray:
    """Per signal, the coefficients (padded to max_order) of the fit with the lowest BIC among order 0
    (``order_zero_bic``) and ``fits``, (order p, coefficients (n_signals, p), BIC (n_signals,)) in order."""
    best, best_bic = np.zeros((len(order_zero_bic), max_order)), order_zero_bic
    for p, solved, bic in fits:
        better = bic < best_bic
        best[better] = np.pad(solved[better], ((0, 0), (0, max_order - p)))
        best_bic = np.where(better, bic, best_bic)
    return best


def robust_fit(Y: np.ndarray, X: np.ndarray, coef: np.ndarray, *, rank: int, start: np.ndarray | None = None,
               max_iterations: int = 500, tol: float = 1e-8,
               lags: LaggedProducts | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tukey's bisquare M-estimate of each signal of ``Y`` (n, s) on the design ``X`` (n, k), both whitened
    with the signal's AR coefficients ``coef`` (s, P), with the MAD scale re-estimated at every step: the
    fixed point of statsmodels' RLM on the whitened model, sum_i x_i psi(r_i / scale) = 0, and its H1
    covariance. Starts from least squares or from ``start`` (s, k); ``lags``: the LaggedProducts of ``X`` (to
    lag P at least) when the caller has them.

    Huber's H-algorithm reaches it with one (X'X)^-1 for all steps, each a modified-residual least-squares
    step beta += (X'X)^-1 X' psi(r / scale) scale / mean(psi'): matrix products with the shared design
    where an IRLS step builds a weighted X'X per signal. Signals it has not settled within
    ``max_iterations`` steps continue with IRLS, statsmodels' own iteration.
    Returns beta (s, k), its covariance (s, k, k) and the degrees of freedom sum(weights) - rank (s,).
    """
    n = X.shape[0]
    Yw = whiten_columns(Y, coef)
    inverse = _inverse(whitened_gram(X, coef, lags), full_rank=rank == X.shape[1])
    beta = (np.einsum("skl,ls->sk", inverse, X.T @ adjoint_whiten(Yw, coef)) if start is None
            else np.array(start, dtype=float))
    resid = Yw - whiten_columns(X @ beta.T, coef)  # (n, s)
    scale = _mad(resid.T)
    active = np.flatnonzero(scale > 0)
    for _ in range(max_iterations):
        if not len(active):
            break
        a = coef[active]
        psi, psi_deriv = _psi(resid[:, active] / scale[active])
        factor = scale[active] / np.maximum(psi_deriv.mean(axis=0), 0.1)
        step = np.einsum("skl,ls->sk", inverse[active], X.T @ adjoint_whiten(psi, a)) * factor[:, None]
        beta[active] += step
        resid[:, active] = Yw[:, active] - whiten_columns(X @ beta[active].T, a)
        scale[active] = _mad(resid[:, active].T)
        change = np.abs(step).max(axis=1) / np.maximum(np.abs(beta[active]).max(axis=1), np.finfo(float).tiny)
        active = active[(change > tol) & (scale[active] > 0)]
    if len(active):  # IRLS, with the whitened designs of the signals the H-algorithm left unsettled
        Xw = _whiten(X[None], coef[active])
        beta[active], resid[:, active], scale[active] = _irls(Yw[:, active].T, Xw, beta[active],
                                                              max_iterations=max_iterations, tol=tol)
    z = resid / np.where(scale > 0, scale, 1.0)
    psi, psi_deriv = _psi(z)
    mean_deriv = psi_deriv.mean(axis=0)
    correction = 1 + rank / n * psi_deriv.var(axis=0) / mean_deriv**2
    h1 = correction**2 * (np.sum(psi**2, axis=0) / (n - rank) * scale**2) / mean_deriv**2
    return beta, h1[:, None, None] * inverse, _bisquare_weights(z).sum(axis=0) - rank


def _irls(y: np.ndarray, Xw: np.ndarray, beta: np.ndarray, *, max_iterations: int, tol: float):
    """statsmodels' RLM iteration for rows of ``y`` (m, n) on ``Xw`` (m, n, k) from ``beta``; returns
    (beta, residuals (n, m), scale)."""
    resid = y - (Xw @ beta[:, :, None])[:, :, 0]
    scale = _mad(resid)
    active = np.flatnonzero(scale > 0)
    for _ in range(max_iterations):
        if not len(active):
            break
        weighted = Xw[active].transpose(0, 2, 1) * _bisquare_weights(resid[active] / scale[active, None])[:, None]
        new = np.linalg.solve(weighted @ Xw[active], weighted @ y[active][:, :, None])[:, :, 0]
        change = np.abs(new - beta[active]).max(axis=1) / np.maximum(np.abs(new).max(axis=1), np.finfo(float).tiny)
        beta[active] = new
        resid[active] = y[active] - (Xw[active] @ new[:, :, None])[:, :, 0]
        scale[active] = _mad(resid[active])
        active = active[(change > tol) & (scale[active] > 0)]
    return beta, resid.T, scale


def whitened_gram(X: np.ndarray, coef: np.ndarray, lags: LaggedProducts | None = None) -> np.ndarray:
    """X_w'X_w of every signal (s, k, k), from the lag products of the shared design (``lags``, or computed):
    see glm.LaggedProducts.whitened_grams."""
    if lags is None:
        lags = LaggedProducts.of(X, max_lag=coef.shape[1])
    return lags.whitened_grams(coef)


def _inverse(A: np.ndarray, *, full_rank: bool = False) -> np.ndarray:
    """(X'X)^-1 per signal: for a design of ``full_rank`` (so is its whitened design) the inverse of each
    (glm._inverse_spd); else the pseudo-inverse (as statsmodels) when one is rank-deficient."""
    if full_rank:
        return _inverse_spd(A)
    ranks = np.linalg.matrix_rank(A, hermitian=True)
    if (ranks == A.shape[1]).all():
        return np.linalg.inv(A)
    return np.linalg.pinv(A, hermitian=True)


def _psi(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tukey's bisquare psi and its derivative at the standardised residuals ``z``."""
    u = z / TUKEY_C
    inside = np.abs(u) <= 1
    return np.where(inside, z * (1 - u**2) ** 2, 0.0), np.where(inside, (1 - u**2) * (1 - 5 * u**2), 0.0)


def _bisquare_weights(z: np.ndarray) -> np.ndarray:
    u = z / TUKEY_C
    return np.where(np.abs(u) <= 1, (1 - u**2) ** 2, 0.0)


def _mad(resid: np.ndarray) -> np.ndarray:
    """statsmodels' ``scale.mad(resid, center=0)``: median |resid| / 0.6745, per row."""
    return np.median(np.abs(resid), axis=1) / MAD_NORMAL
