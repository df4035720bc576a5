"""The general linear model with an autoregressive noise model, fitted to all signals at once.

For each signal (a column of ``Y``) the model is ``y = X beta + e``. With ``ols`` the errors are
taken as white. With ``arP`` the errors are AR(P): ordinary least squares gives residuals, their
Yule-Walker AR(P) coefficients are estimated per signal (unbiased autocovariances of the demeaned
residuals, as nilearn does), and design and data are prewhitened with them before a second fit.
This is the algorithm of nilearn's ``run_glm`` and MNE-NIRS's ``run_glm`` except that the AR
coefficients are used as estimated, not truncated to a grid of ``1/bins``. Signals are fitted
together: one pseudo-inverse for OLS; for AR, normal equations built from lagged products of the
design shared by all signals (pseudo-inverses of each whitened design when it is rank-deficient).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GLMFit:
    """Estimates for ``n_signals`` signals and ``n_regressors`` regressors."""

    beta: np.ndarray  # (n_signals, n_regressors)
    cov: np.ndarray  # (n_signals, n_regressors, n_regressors): covariance of beta
    df_resid: int | np.ndarray  # residual degrees of freedom: n_times - rank(X); per signal for ar-irls
    ar_coef: np.ndarray  # (n_signals, order), zero beyond a signal's own order; empty second axis for OLS

    def ar_orders(self) -> np.ndarray:
        """The AR order of each signal: the last non-zero coefficient."""
        nonzero = self.ar_coef != 0
        if not nonzero.shape[1]:
            return np.zeros(len(nonzero), dtype=int)
        return np.where(nonzero.any(axis=1), self.ar_coef.shape[1] - np.argmax(nonzero[:, ::-1], axis=1), 0)

    def degrees_of_freedom(self) -> np.ndarray:
        """Residual degrees of freedom of each signal."""
        return np.broadcast_to(np.asarray(self.df_resid, dtype=float), (len(self.beta),))

    def contrast(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Effect ``c @ beta`` and its standard error for each signal."""
        weights = np.asarray(weights, dtype=float)
        effect = self.beta @ weights
        variance = np.einsum("i,sij,j->s", weights, self.cov, weights)
        return effect, np.sqrt(variance)


def fit_glm(Y: np.ndarray, X: np.ndarray, *, ar_order: int, bias_correction: bool = False) -> GLMFit:
    """Fit every column of ``Y`` (n_times, n_signals) on design ``X`` (n_times, n_regressors); with
    ``bias_correction`` the AR coefficients come from the errors' autocovariances corrected for the least-squares
    fit's projection (:class:`AutocovarianceCorrection`).

    BLAS runs single-threaded here: these small decompositions gain nothing from threads, and
    OpenBLAS threads that spin while another process holds the other cores slow them a hundredfold.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_glm(Y, X, ar_order=ar_order, bias_correction=bias_correction)


def _fit_glm(Y: np.ndarray, X: np.ndarray, *, ar_order: int, bias_correction: bool) -> GLMFit:
    Y = np.asarray(Y, dtype=float)
    X = np.asarray(X, dtype=float)
    rank = design_rank(X)
    df_resid = int(X.shape[0] - rank)

    pinv = np.linalg.pinv(X)
    beta = (pinv @ Y).T
    if ar_order == 0:
        resid = Y - X @ beta.T
        dispersion = np.einsum("ts,ts->s", resid, resid) / df_resid
        cov = (pinv @ pinv.T)[None] * dispersion[:, None, None]
        return GLMFit(beta, cov, df_resid, np.zeros((Y.shape[1], 0)))

    correction = AutocovarianceCorrection.of(X, order=ar_order) if bias_correction else None
    ar_coef = yule_walker((Y - X @ beta.T).T, order=ar_order, correction=correction)
    if rank == X.shape[1]:
        beta, unscaled_cov, resid = _whitened_fit_from_lagged_products(Y, X, ar_coef)
    else:  # rank-deficient: per-signal pseudo-inverses of the whitened design
        Xw = _whiten(X[None], ar_coef)  # (n_signals, n_times, n_regressors)
        Yw = _whiten(Y.T[:, :, None], ar_coef)  # (n_signals, n_times, 1)
        pinv_w = np.linalg.pinv(Xw)
        beta = (pinv_w @ Yw)[:, :, 0]
        unscaled_cov = pinv_w @ pinv_w.transpose(0, 2, 1)
        resid = Yw[:, :, 0] - np.einsum("str,sr->st", Xw, beta)
    dispersion = np.einsum("st,st->s", resid, resid) / df_resid
    return GLMFit(beta, unscaled_cov * dispersion[:, None, None], df_resid, ar_coef)


def _whitened_fit_from_lagged_products(Y: np.ndarray, X: np.ndarray, ar_coef: np.ndarray):
    """Least squares on the whitened model of every signal without forming its whitened design.

    With c = (1, -rho_1, ..., -rho_P) and L_j the lag-j shift (zeros first, as in whitening),
    Xw'Xw = sum_jl c_j c_l (L_j X)'(L_l X) and Xw'yw = sum_jl c_j c_l (L_j X)'(L_l y): the lagged
    products of X are shared by all signals, so each signal costs a small (k x k) solve. Columns are
    scaled to unit norm first to keep the normal equations well conditioned.
    Returns beta (n_signals, k), (Xw'Xw)^-1 (n_signals, k, k) and the whitened residuals.
    """
    scale = np.linalg.norm(X, axis=0)
    scale[scale == 0] = 1.0
    lagged_x = [_lag(X / scale, j) for j in range(ar_coef.shape[1] + 1)]
    lagged_y = [_lag(Y, j) for j in range(ar_coef.shape[1] + 1)]
    c = np.concatenate([np.ones((len(ar_coef), 1)), -ar_coef], axis=1)  # (n_signals, P+1)
    pairs = whitening_pairs(ar_coef)
    gram = lagged_gram(lagged_x, pairs)
    xy = np.array([[a.T @ b for b in lagged_y] for a in lagged_x])  # (P+1, P+1, k, n_signals)
    cross = np.einsum("sjl,jlas->sa", pairs, xy, optimize=True)
    inverse = np.linalg.inv(gram)
    beta = np.einsum("sab,sb->sa", inverse, cross)
    whitened_y = sum(c[:, j] * lagged_y[j] for j in range(c.shape[1]))  # (n_times, n_signals)
    fitted = sum(c[:, j] * (lagged_x[j] @ beta.T) for j in range(c.shape[1]))
    return beta / scale, inverse / np.outer(scale, scale), (whitened_y - fitted).T


def design_rank(X: np.ndarray, *, reserved: int = 0) -> int:
    """The rank of the design; ValueError when it leaves no residual degree of freedom (beyond ``reserved``
    samples, e.g. the AR order's start-up)."""
    rank = _rank(X)
    if X.shape[0] - rank - reserved <= 0:
        raise ValueError(f"the design has {rank} independent regressors for {X.shape[0]} samples")
    return rank


def _rank(X: np.ndarray) -> int:
    """The numerical rank of ``X``, with a tolerance relative to the size of its entries."""
    return int(np.linalg.matrix_rank(X, np.abs(X).sum() * np.finfo(np.float64).eps))


def whitening_pairs(ar_coef: np.ndarray) -> np.ndarray:
    """c_j c_l per signal (n_signals, P+1, P+1), with c = (1, -rho_1, ..., -rho_P)."""
    c = np.concatenate([np.ones((len(ar_coef), 1)), -ar_coef], axis=1)
    return c[:, :, None] * c[:, None, :]


def lagged_gram(lagged_x: list[np.ndarray], pairs: np.ndarray) -> np.ndarray:
    """Xw'Xw of every signal, sum_jl c_j c_l (L_j X)'(L_l X), from the lagged designs L_j X (j = 0..P)
    shared by all signals and ``pairs`` (see whitening_pairs)."""
    xx = np.array([[a.T @ b for b in lagged_x] for a in lagged_x])  # (P+1, P+1, k, k)
    return np.einsum("sjl,jlab->sab", pairs, xx, optimize=True)


def _lag(A: np.ndarray, j: int) -> np.ndarray:
    """Rows shifted down by ``j`` with zeros on top: row t holds A[t - j]."""
    if j == 0:
        return A
    return np.concatenate([np.zeros((j,) + A.shape[1:]), A[:-j]])


def yule_walker(residuals: np.ndarray, *, order: int,
                correction: AutocovarianceCorrection | None = None) -> np.ndarray:
    """AR coefficients (n_signals, order) of each row of ``residuals`` (n_signals, n_times): from their
    autocovariances, or with ``correction`` (of the design the residuals come from) from the errors'
    autocovariances it estimates."""
    acov = autocovariances(residuals, order=order) if correction is None else correction(residuals)
    return ar_from_autocovariances(acov, order=order)


def autocovariances(residuals: np.ndarray, *, order: int, unbiased: bool = True) -> np.ndarray:
    """Autocovariances at lags 0..order (n_signals, order + 1) of the demeaned rows: lagged products over n - k
    (unbiased, as nilearn), or over n (biased, but always those of a stationary process)."""
    x = residuals - residuals.mean(axis=1, keepdims=True)
    n = x.shape[1]
    return np.stack([np.einsum("st,st->s", x[:, k:], x[:, : n - k]) / (n - k if unbiased else n)
                     for k in range(order + 1)], 1)


def ar_from_autocovariances(acov: np.ndarray, *, order: int) -> np.ndarray:
    """The Yule-Walker AR(order) coefficients (n_signals, order) of autocovariances (n_signals, >= order + 1)."""
    return np.linalg.solve(_toeplitz(acov, size=order), acov[:, 1:order + 1, None])[..., 0]


def _toeplitz(acov: np.ndarray, *, size: int) -> np.ndarray:
    """The (size x size) autocovariance matrices (n_signals, size, size) of autocovariances (n_signals, >= size)."""
    return acov[:, np.abs(np.subtract.outer(np.arange(size), np.arange(size)))]


@dataclass(frozen=True)
class AutocovarianceCorrection:
    """The errors' autocovariances at lags 0..order from the residuals r = R e of the least-squares fit on one
    design (R = I - H, H the projection on its columns), corrected for that projection as in Worsley et al.
    (2002): with D_j the symmetric lag-j matrix (ones at |t - s| = j) and the errors' covariance taken as
    sum_l v_l D_l (l = 0..order), E[r' D_j r] = sum_l tr(R D_j R D_l) v_l, solved for v. The residuals' own
    autocovariances underestimate serial correlation, most for designs with slow regressors (drifts, blocks),
    which makes prewhitened standard errors too small. The system depends on the design alone: built once
    (``of``), applied to any number of signals (call).
    A signal whose corrected autocovariances are not those of a stationary process (Toeplitz matrix not
    positive definite), and every signal when the design leaves no more residual degrees of freedom than
    ``order`` (the system is then singular, ``system`` None), keeps its residuals' own (biased) autocovariances.
    """

    order: int
    system: np.ndarray | None  # (order + 1, order + 1): tr(R D_j R D_l)

    @classmethod
    def of(cls, design: np.ndarray, *, order: int) -> AutocovarianceCorrection:
        design = np.asarray(design, dtype=float)
        n, rank = design.shape[0], _rank(design)
        if n - rank <= order:
            return cls(order, None)
        basis = np.linalg.svd(design, full_matrices=False)[0][:, :rank]  # orthonormal basis of the columns
        lagged = [_symmetric_lag(basis, j) for j in range(order + 1)]  # D_j Q
        projected = [basis.T @ a for a in lagged]  # Q' D_j Q
        system = np.empty((order + 1, order + 1))
        for j in range(order + 1):
            for k in range(order + 1):
                trace_dd = 0.0 if j != k else float(n if j == 0 else 2 * (n - j))  # tr(D_j D_k)
                system[j, k] = (trace_dd - 2 * np.einsum("tc,tc->", lagged[j], lagged[k])
                                + np.einsum("ab,ba->", projected[j], projected[k]))
        return cls(order, system)

    def __call__(self, residuals: np.ndarray) -> np.ndarray:
        """The corrected autocovariances (n_signals, order + 1) of ``residuals`` (n_signals, n_times)."""
        residuals = np.asarray(residuals, dtype=float)
        n = residuals.shape[1]
        plain = autocovariances(residuals, order=self.order, unbiased=False)
        if self.system is None:
            return plain
        products = np.stack([np.einsum("st,st->s", residuals, residuals)] + [
            2 * np.einsum("st,st->s", residuals[:, j:], residuals[:, :n - j]) for j in range(1, self.order + 1)], 1)
        corrected = np.linalg.solve(self.system, products.T).T
        stationary = np.linalg.eigvalsh(_toeplitz(corrected, size=self.order + 1)).min(axis=1) > 0
        return np.where(stationary[:, None], corrected, plain)


def _symmetric_lag(A: np.ndarray, j: int) -> np.ndarray:
    """D_j A: row t holds A[t - j] + A[t + j] (the terms that exist); A itself for j = 0."""
    if j == 0:
        return A
    out = np.zeros_like(A)
    out[j:] += A[:-j]
    out[:-j] += A[j:]
    return out


def _whiten(A: np.ndarray, ar_coef: np.ndarray) -> np.ndarray:
    """Apply ``a[t] - sum_k rho_k a[t-k]`` along axis 1 of ``A`` (broadcast over signals)."""
    out = np.broadcast_to(A, (ar_coef.shape[0],) + A.shape[1:]).copy()
    for k in range(ar_coef.shape[1]):
        out[:, k + 1 :] -= ar_coef[:, k, None, None] * A[:, : -(k + 1)]
    return out
