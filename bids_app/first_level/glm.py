"""The general linear model with an autoregressive noise model, fitted to all signals at once.

For each signal (a column of ``Y``) the model is ``y = X beta + e``. With ``ols`` the errors are
taken as white. With ``arP`` the errors are AR(P): ordinary least squares gives residuals, their
Yule-Walker AR(P) coefficients are estimated per signal (unbiased autocovariances of the demeaned
residuals, as nilearn does), and design and data are prewhitened with them before a second fit.
This is the algorithm of nilearn's ``run_glm`` and MNE-NIRS's ``run_glm`` except that the AR
coefficients are used as estimated, not truncated to a grid of ``1/bins``. Signals are fitted
together: one singular value decomposition of the design gives its rank and the pseudo-inverse for OLS.
For AR, no whitened design is formed: each signal's Xw'Xw comes from the lag products of the design,
computed once and shared by all signals (:class:`LaggedProducts`), Xw'yw = X'W'Wy from its filtered data,
so the cost barely grows with the AR order (pseudo-inverses of each whitened design when the design is
rank-deficient).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPARSE_SHARE = 0.05  # design columns with at most this share of non-zero samples enter lag products as sparse


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
        used = np.flatnonzero(weights)  # regressors with weight 0 take no part (a NaN there is no NaN here)
        weights = weights[used]
        effect = self.beta[:, used] @ weights
        variance = np.einsum("i,sij,j->s", weights, self.cov[:, used][:, :, used], weights)
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
    u, singular, vt = np.linalg.svd(X, full_matrices=False)  # as np.linalg.pinv computes it
    rank = _checked_rank(_rank_of_singular_values(X, singular), X.shape[0])
    df_resid = int(X.shape[0] - rank)

    pinv = _pinv(u, singular, vt)  # np.linalg.pinv(X), to the bit
    del u, vt  # (n_times, k) each: large for the FIR model at a high rate
    beta = (pinv @ Y).T
    if ar_order == 0:
        resid = Y - X @ beta.T
        dispersion = np.einsum("ts,ts->s", resid, resid) / df_resid
        cov = (pinv @ pinv.T)[None] * dispersion[:, None, None]
        return GLMFit(beta, cov, df_resid, np.zeros((Y.shape[1], 0)))
    del pinv

    full_rank = rank == X.shape[1]
    if full_rank:  # unit-norm columns: well-conditioned normal equations; undone below
        scale = _column_norms(X)
        scaled = X / scale
        # the lag products of the design: to the order for the whitened fit, to twice it for Worsley's system
        lags = LaggedProducts.of(scaled, max_lag=(2 if bias_correction else 1) * ar_order)
    correction = (AutocovarianceCorrection.of(X, order=ar_order, rank=rank, lags=lags if full_rank else None)
                  if bias_correction else None)
    ar_coef = yule_walker((Y - X @ beta.T).T, order=ar_order, correction=correction)
    if full_rank:
        beta, unscaled_cov, resid = _whitened_fit(Y, scaled, lags, ar_coef)
        beta = beta / scale
        unscaled_cov /= np.outer(scale, scale)  # in place: (n_signals, k, k) can be large (FIR at a high rate)
    else:  # rank-deficient: per-signal pseudo-inverses of the whitened design
        Xw = _whiten(X[None], ar_coef)  # (n_signals, n_times, n_regressors)
        Yw = _whiten(Y.T[:, :, None], ar_coef)  # (n_signals, n_times, 1)
        pinv_w = np.linalg.pinv(Xw)
        beta = (pinv_w @ Yw)[:, :, 0]
        unscaled_cov = pinv_w @ pinv_w.transpose(0, 2, 1)
        resid = Yw[:, :, 0] - np.einsum("str,sr->st", Xw, beta)
    dispersion = np.einsum("st,st->s", resid, resid) / df_resid
    unscaled_cov *= dispersion[:, None, None]
    return GLMFit(beta, unscaled_cov, df_resid, ar_coef)


def _whitened_fit(Y: np.ndarray, X: np.ndarray, lags: LaggedProducts, ar_coef: np.ndarray):
    """Least squares on the whitened model of every signal without forming its whitened design.

    Xw'Xw from the lag products of X shared by all signals (LaggedProducts.whitened_grams), Xw'yw = X'W'(Wy)
    with W the whitening filter of the signal (whiten_columns) and W' its adjoint (adjoint_whiten), the whitened
    residuals W(y - X beta). ``X`` should have unit-norm columns (well-conditioned normal equations).
    Returns beta (n_signals, k), (Xw'Xw)^-1 (n_signals, k, k) and the whitened residuals (n_signals, n_times).
    """
    inverse = _inverse_spd(lags.whitened_grams(ar_coef))
    cross = X.T @ adjoint_whiten(whiten_columns(Y, ar_coef), ar_coef)  # (k, n_signals)
    beta = np.einsum("sab,bs->sa", inverse, cross)
    return beta, inverse, whiten_columns(Y - X @ beta.T, ar_coef).T


def _inverse_spd(grams: np.ndarray) -> np.ndarray:
    """The inverses of symmetric positive definite matrices (n, k, k): by Cholesky, of each matrix scaled to a unit
    diagonal (the whitened constant and drifts of a strongly autocorrelated signal have small norms, which this
    scaling takes out of the conditioning); by LU (np.linalg.inv) where that fails."""
    from scipy.linalg import lapack

    inverses = np.empty_like(grams)
    for i, gram in enumerate(grams):
        root = np.sqrt(np.diag(gram))
        scale = np.outer(root, root)
        factor, info = lapack.dpotrf(gram / scale, lower=1) if (root > 0).all() else (None, 1)
        if not info:
            inverse, info = lapack.dpotri(factor, lower=1, overwrite_c=1)
        if info:
            inverses[i] = np.linalg.inv(gram)
            continue
        lower = np.tril(inverse, -1)
        inverses[i] = (lower + lower.T + np.diag(np.diag(inverse))) / scale
    return inverses


def design_rank(X: np.ndarray, *, reserved: int = 0) -> int:
    """The rank of the design; ValueError when it leaves no residual degree of freedom (beyond ``reserved``
    samples, e.g. the AR order's start-up)."""
    return _checked_rank(_rank(X), X.shape[0], reserved=reserved)


def _checked_rank(rank: int, n_times: int, *, reserved: int = 0) -> int:
    if n_times - rank - reserved <= 0:
        raise ValueError(f"the design has {rank} independent regressors for {n_times} samples")
    return rank


def _rank(X: np.ndarray) -> int:
    """The numerical rank of ``X``, with a tolerance relative to the size of its entries."""
    return int(np.linalg.matrix_rank(X, _rank_tolerance(X)))


def _rank_tolerance(X: np.ndarray) -> float:
    return np.abs(X).sum() * np.finfo(np.float64).eps


def _rank_of_singular_values(X: np.ndarray, singular: np.ndarray) -> int:
    """_rank(X) from the singular values of X (np.linalg.matrix_rank with the same tolerance)."""
    return int(np.count_nonzero(singular > _rank_tolerance(X)))


def _pinv(u: np.ndarray, singular: np.ndarray, vt: np.ndarray) -> np.ndarray:
    """np.linalg.pinv from the decomposition np.linalg.svd(X, full_matrices=False) it makes (default rcond)."""
    large = singular > 1e-15 * singular.max(initial=0.0)
    inverse = np.divide(1, singular, where=large, out=np.zeros_like(singular))
    return np.matmul(vt.T, inverse[:, None] * u.T)


def _column_norms(X: np.ndarray) -> np.ndarray:
    """The norms of the columns of ``X``, 1 for columns of zeros: dividing by them gives unit-norm columns."""
    scale = np.linalg.norm(X, axis=0)
    scale[scale == 0] = 1.0
    return scale


@dataclass(frozen=True)
class LaggedProducts:
    """The lag products S_d = A[:n-d]' A[d:] (d = 0..max_lag) of a design A (n_times, k), and its first and last
    max_lag rows: built once per design, they give every signal's whitened Gram matrix (whitened_grams) and
    Worsley's system (AutocovarianceCorrection), which then cost (max_lag + 1) k^2 per signal instead of a pass
    over the samples. Columns with few non-zero samples (FIR bins at the recording's rate) are multiplied as
    sparse vectors."""

    products: np.ndarray  # (max_lag + 1, k, k): S_d
    head: np.ndarray  # (max_lag, k): A[:max_lag]
    tail: np.ndarray  # (max_lag, k): A[n - max_lag:]
    n_times: int
    _kept: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, A: np.ndarray, *, max_lag: int) -> LaggedProducts:
        A = np.asarray(A, dtype=float)
        n, k = A.shape
        nonzero = np.count_nonzero(A, axis=0)
        sparse = np.flatnonzero(nonzero <= SPARSE_SHARE * n)
        products = np.zeros((max_lag + 1, k, k))
        if len(sparse) < 2:
            for d in range(min(max_lag + 1, n)):
                np.matmul(A[:n - d].T, A[d:], out=products[d])
        else:
            _sparse_lag_products(A, sparse, products)
        return cls(products, A[:max_lag].copy(), A[max(n - max_lag, 0):].copy(), n)

    def symmetric(self, count: int) -> np.ndarray:
        """A' D_d A = S_d + S_d' (S_0 for d = 0) for d < count, (count, k, k); D_d has ones at |t - s| = d. Kept
        (the last count asked for): ar-irls's whitened Gram matrices need the same ones at every round."""
        if count not in self._kept:
            products = self.products[:count]
            out = products + products.transpose(0, 2, 1)
            out[0] = products[0]
            self._kept.clear()
            self._kept[count] = out
        return self._kept[count]

    def whitened_grams(self, ar_coef: np.ndarray) -> np.ndarray:
        """Xw'Xw (n_signals, k, k) of A whitened with each signal's AR coefficients ``ar_coef`` (n_signals, P),
        P <= max_lag, as _whiten does (zeros before the first sample).

        With c = (1, -rho_1, ..., -rho_P), the whitened design is the first n rows of the full convolution Z of c
        with A; Z'Z = sum_d r_d A'D_d A with r_d = sum_j c_j c_(j+d), and the P rows of Z beyond the n-th (built
        from the last P rows of A) are subtracted.
        """
        order = ar_coef.shape[1]
        c = np.concatenate([np.ones((len(ar_coef), 1)), -ar_coef], axis=1)
        r = np.stack([np.einsum("sj,sj->s", c[:, :order + 1 - d], c[:, d:]) for d in range(order + 1)], axis=1)
        k = self.products.shape[1]
        grams = (r @ self.symmetric(order + 1).reshape(order + 1, k * k)).reshape(len(c), k, k)
        if order:
            last = self.tail[len(self.tail) - order:]  # A[n - P:]
            beyond = np.zeros((len(c), order, k))  # Z[n + i] = sum_(j > i) c_j A[n + i - j]
            for j in range(1, order + 1):
                beyond[:, :j] += c[:, j, None, None] * last[order - j:]
            for start in range(0, len(c), 8):  # a few signals at a time: no second (n_signals, k, k) array
                grams[start:start + 8] -= beyond[start:start + 8].transpose(0, 2, 1) @ beyond[start:start + 8]
        return grams


def _sparse_lag_products(A: np.ndarray, sparse: np.ndarray, products: np.ndarray) -> None:
    """The lag products of A into ``products`` with the columns ``sparse`` as a sparse matrix."""
    from scipy import sparse as sp

    n, k = A.shape
    count = min(len(products), n)  # lags 0..count-1; the products of larger lags are zero
    dense = np.setdiff1d(np.arange(k), sparse)
    S = sp.csr_matrix(A[:, sparse])
    D = A[:, dense]
    m = len(sparse)
    # all lags of the sparse-dense blocks in one product each: row (d, a) of the shifted sparse columns holds
    # column a moved d samples later (S_d[a, dense] = sum_t A[t, a] D[t + d]) or earlier (S_d[dense, a])
    coo = S.tocoo()
    lag = np.repeat(np.arange(count), coo.nnz)
    rows = lag * m + np.tile(coo.col, count)
    values = np.tile(coo.data, count)
    blocks = []
    for times in (np.tile(coo.row, count) + lag, np.tile(coo.row, count) - lag):
        inside = (times >= 0) & (times < n)
        shifted = sp.csr_matrix((values[inside], (rows[inside], times[inside])), shape=(count * m, n))
        blocks.append((shifted @ D).reshape(count, m, len(dense)))
    later, earlier = blocks
    unsorted = np.argsort(np.concatenate([sparse, dense]))  # the blocks hold the sparse columns first
    block = np.empty((k, k))
    for d in range(count):
        block[:m, :m] = (S[:n - d].T @ S[d:]).toarray()
        block[:m, m:] = later[d]
        block[m:, :m] = earlier[d].T
        np.matmul(D[:n - d].T, D[d:], out=block[m:, m:])
        np.take(np.take(block, unsorted, axis=0), unsorted, axis=1, out=products[d])


def whiten_columns(A: np.ndarray, ar_coef: np.ndarray) -> np.ndarray:
    """Column s of ``A`` (n_times, n_signals) whitened with ``ar_coef[s]``: a[t] - sum_k rho_k a[t-k], zeros
    before the first sample (as _whiten); lags whose coefficient is zero for every signal are skipped."""
    out = A.copy()
    for k in np.flatnonzero(np.any(ar_coef != 0, axis=0)):
        out[k + 1:] -= ar_coef[:, k] * A[:-(k + 1)]
    return out


def adjoint_whiten(V: np.ndarray, ar_coef: np.ndarray) -> np.ndarray:
    """The transpose of :func:`whiten_columns`: v[t] - sum_k rho_k v[t+k]."""
    out = V.copy()
    for k in np.flatnonzero(np.any(ar_coef != 0, axis=0)):
        out[:-(k + 1)] -= ar_coef[:, k] * V[k + 1:]
    return out


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
    def of(cls, design: np.ndarray, *, order: int, rank: int | None = None,
           lags: LaggedProducts | None = None) -> AutocovarianceCorrection:
        """The correction for ``design``; ``rank`` (its rank) and, for a design of full column rank, ``lags``
        (the LaggedProducts of the design with unit-norm columns, to lag 2 x order) when the caller has them."""
        design = np.asarray(design, dtype=float)
        n = design.shape[0]
        rank = _rank(design) if rank is None else rank
        if n - rank <= order:
            return cls(order, None)
        if rank == design.shape[1]:  # H = A (A'A)^-1 A' for the design A with unit-norm columns
            if lags is None or len(lags.products) <= 2 * order:
                lags = LaggedProducts.of(design / _column_norms(design), max_lag=2 * order)
            return cls(order, _worsley_system(lags, order=order, orthonormal=False))
        basis = np.linalg.svd(design, full_matrices=False)[0][:, :rank]  # orthonormal basis of the columns
        lags = LaggedProducts.of(basis, max_lag=2 * order)
        return cls(order, _worsley_system(lags, order=order, orthonormal=True))

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


def _worsley_system(lags: LaggedProducts, *, order: int, orthonormal: bool) -> np.ndarray:
    """tr(R D_j R D_l) (j, l = 0..order) for the projection H = A G^-1 A' on the columns of A (G = A'A; the
    identity when A is ``orthonormal``), from the lag products S_m = A[:n-m]' A[m:] to lag 2 x order:
    tr(R D_j R D_l) = tr(D_j D_l) - 2 tr(H D_j D_l) + tr(H D_j H D_l), where
    - tr(H D_j H D_l) = tr(W_j W_l) with W_j = G^-1 A' D_j A;
    - tr(H D_j D_l) = sum_t (D_j q)_t (D_l q)_t over the rows q_t of an orthonormal basis Q = A B of the columns
      (BB' = G^-1): with a_m = sum_t q_t q_(t+m) = tr(G^-1 S_m), D_0 = I and D_j = L_j + L_j' (L_j the lag-j
      shift) it is a_0 for j = l = 0, 2 a_l for j = 0 < l, and for j, l >= 1 2 a_(j+l) + 2 a_|j-l| less the
      products of the rows that the shifts move past the ends: sum over u < min(j, l) of q_u q_(u+|j-l|), and
      over n - max(j, l) <= u < n - |j-l| likewise (q_u q_v = a_u G^-1 a_v' for rows a_u, a_v of A).
    """
    n = lags.n_times
    k = lags.products.shape[1]
    symmetric = lags.symmetric(order + 1)  # A' D_j A
    if orthonormal:
        inverse, solved = np.eye(k), symmetric.transpose(1, 0, 2)
    else:
        gram = lags.products[0]
        inverse = np.linalg.inv(gram)
        solved = np.linalg.solve(gram, symmetric.transpose(1, 0, 2).reshape(k, -1)).reshape(k, order + 1, k)
    # solved[a, j, b] = W_j[a, b]; tr(W_j W_l) = sum_a (W_.[a, :] W_.[:, a])_jl
    projected = np.matmul(solved, solved.transpose(2, 0, 1)).sum(axis=0)
    a = np.array([np.einsum("ab,ba->", inverse, lags.products[m]) for m in range(2 * order + 1)])
    head = lags.head[:order] @ inverse @ lags.head[:order].T  # q_u q_v, u, v < order
    last = lags.tail[len(lags.tail) - order:]
    tail = last @ inverse @ last.T  # q_u q_v, u, v >= n - order (indices from n - order)

    lagged = np.empty((order + 1, order + 1))  # tr(H D_j D_l)
    lagged[0, 0] = a[0]
    lagged[0, 1:] = lagged[1:, 0] = 2 * a[1:order + 1]
    for j in range(1, order + 1):
        for l in range(1, order + 1):
            m, low, high = abs(j - l), min(j, l), max(j, l)
            ends = sum(head[u, u + m] for u in range(low)) + sum(
                tail[u, u + m] for u in range(order - high, order - m))
            lagged[j, l] = 2 * a[j + l] + 2 * a[m] - ends
    traces = np.zeros((order + 1, order + 1))  # tr(D_j D_l)
    traces[0, 0] = n
    traces[np.arange(1, order + 1), np.arange(1, order + 1)] = 2 * (n - np.arange(1, order + 1))
    return traces - 2 * lagged + projected


def _whiten(A: np.ndarray, ar_coef: np.ndarray) -> np.ndarray:
    """Apply ``a[t] - sum_k rho_k a[t-k]`` along axis 1 of ``A`` (broadcast over signals)."""
    out = np.broadcast_to(A, (ar_coef.shape[0],) + A.shape[1:]).copy()
    for k in range(ar_coef.shape[1]):
        out[:, k + 1 :] -= ar_coef[:, k, None, None] * A[:, : -(k + 1)]
    return out
