"""Per-cell group models, fitted for every cell of a table at once (numpy, no loop over cells).

Every cell (e.g. ROI x condition x chroma) has one effect per participant, ``y[c, i]`` with first-level
variance ``v[c, i]`` (NaN where participant i has no value in cell c), and all cells share the
participant-level design ``X`` (N participants x p columns: an intercept or the levels of a categorical
covariate, then centred numeric covariates).

- ``random-effects``: y_i = x_i'beta + u_i + e_i, e_i ~ N(0, v_i), u_i ~ N(0, tau^2); tau^2 by REML
  (Fisher scoring, truncated at 0), beta by weighted least squares with weights 1 / (v_i + tau^2), and the
  Knapp-Hartung (Hartung-Knapp-Sidik-Jonkman) covariance: s^2 (X'WX)^-1 with s^2 the weighted residual
  mean square on n - p degrees of freedom.
- ``ols``: unweighted least squares per cell, covariance sigma^2 (X'X)^-1 on n - p degrees of freedom
  (a one-sample t-test without covariates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEAN = "mean"  # the ``term`` of a cell's effect in the group tables (other terms: numeric covariates' slopes)
REML_TOLERANCE = 1e-10  # stop when every tau^2 step is below this share of the cell's mean variance
REML_MAX_ITERATIONS = 500


@dataclass(frozen=True)
class CellFits:
    beta: np.ndarray  # (cells, p)
    cov: np.ndarray  # (cells, p, p)
    df: np.ndarray  # (cells,) n - rank; 0 where there is nothing left to estimate a variance from
    n: np.ndarray  # (cells,) participants with a value
    column_n: np.ndarray  # (cells, p) participants with a non-zero value of each design column
    tau2: np.ndarray  # (cells,) NaN for ols
    i2: np.ndarray  # (cells,) NaN for ols
    converged: np.ndarray  # (cells,) bool


def fit_cells(y: np.ndarray, v: np.ndarray, X: np.ndarray, *, method: str) -> CellFits:
    """Fit every cell; ``method`` is ``random-effects`` or ``ols``."""
    observed = ~np.isnan(y)
    y0 = np.where(observed, y, 0.0)
    v0 = np.where(observed, v, 1.0)
    mask = observed.astype(float)
    outer = (X[:, :, None] * X[:, None, :]).reshape(len(X), -1)  # participant i: x_i x_i', flattened
    column_n = mask @ (X != 0).astype(float)
    empty = column_n == 0  # e.g. no participant of one group in this cell: that column is left out
    n = mask.sum(axis=1)
    df = n - (~empty).sum(axis=1)
    fittable = df >= 1
    if method == "ols":
        weights = mask
        tau2 = i2 = np.full(len(y), np.nan)
        converged = np.ones(len(y), bool)
    else:
        tau2, converged = _reml_tau2(y0, v0, mask, X, outer, empty=empty, df=df, fittable=fittable)
        weights = mask / (v0 + np.where(fittable, tau2, 0.0)[:, None])
        i2 = tau2 / (tau2 + _typical_variance(mask / v0, X, outer, empty=empty, df=df))
        tau2, i2 = np.where(fittable, tau2, np.nan), np.where(fittable, i2, np.nan)
    inverse, beta, residuals = _weighted_fit(weights, y0, X, outer, empty=empty)
    scale = np.sum(weights * residuals**2, axis=1) / np.where(fittable, df, 1)
    cov = np.where(fittable[:, None, None], scale[:, None, None] * inverse, np.nan)
    return CellFits(beta=beta, cov=cov, df=df, n=n, column_n=column_n, tau2=tau2, i2=i2, converged=converged)


def _weighted_fit(weights, y0, X, outer, *, empty):
    """((X'WX)^-1, beta, residuals) per cell; an empty column gets a unit diagonal (its beta is 0)."""
    p = X.shape[1]
    A = (weights @ outer).reshape(-1, p, p) + empty[:, :, None] * np.eye(p)
    inverse = _inverse(A)
    beta = np.einsum("cij,cj->ci", inverse, (weights * y0) @ X)
    return inverse, beta, y0 - beta @ X.T


def _inverse(A: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(A)
    except np.linalg.LinAlgError:  # a covariate constant within a cell: least-norm solution
        return np.linalg.pinv(A)


def _reml_tau2(y0, v0, mask, X, outer, *, empty, df, fittable):
    """REML estimate of tau^2 per cell by Fisher scoring (as metafor), all cells at once.

    Step: (y'PPy - tr P) / tr(PP) with P = W - WX(X'WX)^-1X'W, computed without forming P:
    y'PPy = sum w^2 r^2, tr P = sum w - tr(A^-1 X'W^2X), tr PP = sum w^2 - 2 tr(A^-1 X'W^3X)
    + tr((A^-1 X'W^2X)^2), A = X'WX. A negative estimate is truncated at 0.
    """
    p = X.shape[1]
    scale = np.sum(mask * v0, axis=1) / np.maximum(mask.sum(axis=1), 1)
    _, _, residuals = _weighted_fit(mask, y0, X, outer, empty=empty)  # start: OLS residual variance - mean v
    tau2 = np.maximum(0.0, np.sum(residuals**2, axis=1) / np.maximum(df, 1) - scale)
    active = fittable.copy()
    for _ in range(REML_MAX_ITERATIONS):
        if not active.any():
            break
        t2, m, v, y, e = tau2[active], mask[active], v0[active], y0[active], empty[active]
        w = m / (v + t2[:, None])
        inverse, _, r = _weighted_fit(w, y, X, outer, empty=e)
        B = ((w**2) @ outer).reshape(-1, p, p)
        C = ((w**3) @ outer).reshape(-1, p, p)
        AB = inverse @ B
        trace_p = w.sum(axis=1) - np.trace(AB, axis1=1, axis2=2)
        trace_pp = ((w**2).sum(axis=1) - 2 * np.trace(inverse @ C, axis1=1, axis2=2)
                    + np.einsum("cij,cji->c", AB, AB))
        step = (np.sum(w**2 * r**2, axis=1) - trace_p) / trace_pp
        updated = np.maximum(0.0, t2 + step)
        done = np.abs(updated - t2) <= REML_TOLERANCE * scale[active]
        tau2[active] = updated
        active[np.flatnonzero(active)[done]] = False
    converged = ~active
    return tau2, converged


def _typical_variance(w0, X, outer, *, empty, df):
    """metafor's 'typical' within-participant variance for I^2: (n - p) / tr P with P at tau^2 = 0."""
    p = X.shape[1]
    inverse, _, _ = _weighted_fit(w0, np.zeros_like(w0), X, outer, empty=empty)
    B = ((w0**2) @ outer).reshape(-1, p, p)
    trace_p = w0.sum(axis=1) - np.trace(inverse @ B, axis1=1, axis2=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return df / trace_p


def t_inference(effect, se, df):
    """(t, p, z, ci_low, ci_high): p and the 95% interval from t(df), or from the normal where df is NaN;
    z is the normal quantile with the same two-sided p and the sign of t."""
    from scipy import special, stats

    effect, se, df = (np.asarray(a, float) for a in (effect, se, df))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = effect / se
    normal = np.isnan(df)
    log_half_p = np.where(normal, stats.norm.logsf(np.abs(t)), stats.t.logsf(np.abs(t), np.where(normal, 1, df)))
    p = 2 * np.exp(log_half_p)
    z = np.sign(t) * -special.ndtri_exp(log_half_p)
    quantile = np.where(normal, stats.norm.ppf(0.975), stats.t.ppf(0.975, np.where(normal, 1, df)))
    return t, p, z, effect - quantile * se, effect + quantile * se
