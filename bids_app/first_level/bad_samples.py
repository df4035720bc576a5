"""Samples left out of a signal's fit (its bad segments), with the AR noise model handled across the gap.

Each left-out sample of a signal gets an impulse regressor of its own (one column that is 1 at that sample):
its coefficient takes the sample's value whatever it is, so the sample has no say in the effects. Under the
AR model this is the exact treatment of a missing sample: minimising the whitened residuals over the impulse
coefficients leaves (y_k - X_k b)' (Sigma_kk)^-1 (y_k - X_k b), the likelihood of the kept samples k alone
under the AR covariance Sigma (the Schur complement of the precision), so the prewhitening neither runs
across the gap on made-up values nor treats the two sides as unrelated. The residual degrees of freedom
count the samples fitted (n - left out - rank), and Worsley's correction of the AR estimates, built for the
design with its impulse columns, accounts for the residuals that are zero at the left-out samples.
Signals with the same left-out samples share one fit (the design's lag products are computed per group).

What the kept samples cannot support is not estimated (n/a, with a warning, bids_app.first_level.fit): a signal
with fewer than MIN_KEPT_SHARE of its samples kept is not fitted at all (the robust scale of ar-irls would
collapse on the zero residuals of the left-out samples), and an effect whose regressor keeps less than
MIN_KEPT_SHARE of its energy on the signal's kept samples (a condition whose events fall in a bad segment) is
left out of that signal's results.
"""

from __future__ import annotations

import numpy as np

from bids_app.first_level.glm import GLMFit

MIN_KEPT_SHARE = 0.5


def fit_with_bad_samples(fit, Y: np.ndarray, X: np.ndarray, bad: np.ndarray | None) -> GLMFit:
    """``fit(Y, X) -> GLMFit`` (a noise model's fit) of the signals ``Y`` (n_times, n_signals) on ``X``, each
    signal's samples where ``bad`` (n_times, n_signals) is True left out."""
    if bad is None or not bad.any():
        return fit(Y, X)
    k = X.shape[1]
    groups: dict[bytes, list[int]] = {}
    for column in range(Y.shape[1]):
        groups.setdefault(np.packbits(bad[:, column]).tobytes(), []).append(column)
    beta = np.empty((Y.shape[1], k))
    cov = np.empty((Y.shape[1], k, k))
    df = np.empty(Y.shape[1])
    orders = []
    for columns in groups.values():
        rows = np.flatnonzero(bad[:, columns[0]])
        if len(rows) > (1 - MIN_KEPT_SHARE) * len(X):  # too little left to fit: not estimated
            beta[columns], cov[columns], df[columns] = np.nan, np.nan, np.nan
            orders.append((columns, np.zeros((len(columns), 0))))
            continue
        impulses = np.zeros((len(X), len(rows)))
        impulses[rows, np.arange(len(rows))] = 1.0
        values = Y[:, columns].copy()
        values[rows] = 0.0  # any value: the impulse columns take it
        part = fit(values, np.hstack([X, impulses]))
        beta[columns] = part.beta[:, :k]
        cov[columns] = part.cov[:, :k, :k]
        df[columns] = part.degrees_of_freedom()
        orders.append((columns, part.ar_coef))
    width = max(coef.shape[1] for _, coef in orders)
    ar_coef = np.zeros((Y.shape[1], width))
    for columns, coef in orders:
        ar_coef[columns, :coef.shape[1]] = coef
    return GLMFit(beta, cov, df, ar_coef)


def unsupported(X: np.ndarray, bad: np.ndarray | None, columns: list[int]) -> np.ndarray:
    """(n_signals, len(columns)) True where the kept samples of a signal hold less than MIN_KEPT_SHARE of the
    energy of design column ``columns[j]`` (sum of squares), or fewer than MIN_KEPT_SHARE of the samples."""
    if bad is None:
        return np.zeros((0, len(columns)), dtype=bool)
    energy = X[:, columns] ** 2
    total = energy.sum(axis=0)
    kept = (~bad).T.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (kept @ energy) / total
    few = kept.mean(axis=1) < MIN_KEPT_SHARE
    return ((share < MIN_KEPT_SHARE) & (total > 0)) | few[:, None]


def blank(fit: GLMFit, mask: np.ndarray, columns: list[int]) -> GLMFit:
    """``fit`` with the effects of ``mask`` (as :func:`unsupported` gives it) not estimated (NaN)."""
    if not mask.size or not mask.any():
        return fit
    beta, cov = fit.beta.copy(), fit.cov.copy()
    for signal, j in zip(*np.nonzero(mask)):
        column = columns[j]
        beta[signal, column] = np.nan
        cov[signal, column, :] = cov[signal, :, column] = np.nan
    return GLMFit(beta, cov, fit.df_resid, fit.ar_coef)
