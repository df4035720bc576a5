"""Motion correction by level-shift removal (``--motion-correction level-shifts``).

Motion moves optodes: the optical density of many channels jumps at once (a baseline shift that persists, or
the two edges of a spike). Each edge is found across channels, then every channel's level change at that edge
is estimated by generalised least squares under an autoregressive model of its sample-to-sample changes and
removed; the few samples of each transition are replaced by the model's interpolation. All transitions of a
channel are estimated jointly, so nearby edges (a spike's two) do not bias each other.

1. Detection (``detect_edges``): per channel, the mean of the ``window_s`` seconds after each sample step
   minus the mean of the ``window_s`` seconds before, as a robust z score (median, 1.4826 x median absolute
   deviation), pooled over channels as the median |z|. Local maxima above ``threshold``, at least
   ``separation_s`` apart, are transitions, each placed where the change over r samples (r from 1 up to
   ``longest_s``, so that a ramp is one transition) has the largest pooled robust |z| within ``window_s``.
   ``correct`` repeats the detection on the corrected signal so that an edge beside a larger one is found.
2. Removal (``remove_level_shifts``), per channel: an AR(p) model (Yule-Walker, p = ``ar_seconds`` x rate) of
   the first differences away from the transitions; the level changes are the GLS coefficients of one step
   per transition in the whitened first differences, with the samples inside a transition free (one
   indicator each), subtracted from the rest of the recording; the free samples take their fitted values.
"""

from __future__ import annotations

import numpy as np

from bids_app.first_level.quality import MAD_TO_SD

WINDOW_S = 1.0
TRANSITION_S = 0.5  # longest transition (a ramp) and least separation of edges
AR_SECONDS = 1.0
THRESHOLD = 2.0
MIN_CHANNELS = 8  # a median over fewer channels exceeds the threshold by chance too often


def detect_edges(od: np.ndarray, *, sfreq: float, threshold: float = THRESHOLD,
                 window_s: float = WINDOW_S, separation_s: float = TRANSITION_S,
                 longest_s: float = TRANSITION_S) -> np.ndarray:
    """Transitions where the level of most channels of ``od`` (channels x times) changes at once: rows
    (first, last) of sample steps (step i: from sample i to i + 1), in time order."""
    od = np.asarray(od, dtype=float)
    width = max(1, round(window_s * sfreq))
    n_times = od.shape[1]
    if n_times < 2 * width + 2 or not len(od):
        return np.zeros((0, 2), dtype=int)
    cumulative = np.concatenate([np.zeros((len(od), 1)), np.cumsum(od, axis=1)], axis=1)
    steps = np.arange(width - 1, n_times - width)
    change = ((cumulative[:, steps + 1 + width] - cumulative[:, steps + 1])
              - (cumulative[:, steps + 1] - cumulative[:, steps + 1 - width])) / width
    pooled = np.full(n_times, np.nan)
    pooled[steps] = _pooled_robust_z(change)
    longest = max(1, round(longest_s * sfreq))
    lengths = np.unique(np.geomspace(1, longest, num=min(longest, 8)).round().astype(int))
    spans = _Spans(od, lengths)
    separation = max(1, round(separation_s * sfreq))
    candidates = np.flatnonzero(np.nan_to_num(pooled) > threshold)
    taken = np.zeros(n_times, dtype=bool)
    transitions = set()
    for step in candidates[np.argsort(-pooled[candidates], kind="stable")]:
        if not taken[max(0, step - separation):step + separation + 1].any():
            transitions.add(_sharpest(spans, low=max(0, step - width + 1), high=min(n_times - 1, step + width)))
        taken[step] = True
    return np.array(sorted(transitions), dtype=int).reshape(-1, 2)


class _Spans:
    """The pooled robust |z| of the changes over r steps, x[i + r] - x[i], for each length r, computed where
    asked: each channel's centre and spread over the whole recording (once per r, when first needed), the median
    over channels only in the windows around the candidate transitions (the same values as over all steps)."""

    def __init__(self, od: np.ndarray, lengths):
        self.od, self.lengths = od, [int(r) for r in lengths]
        self._scales: dict[int, tuple] = {}

    def window(self, r: int, low: int, high: int) -> np.ndarray:
        """The statistic of steps low .. high - 1 (changes from sample i to i + r)."""
        if r not in self._scales:
            changes = self.od[:, r:] - self.od[:, :-r]
            centre = np.median(changes, axis=1, keepdims=True)
            spread = MAD_TO_SD * np.median(np.abs(changes - centre), axis=1, keepdims=True)
            self._scales[r] = (centre, spread, spread[:, 0] > 0)
        centre, spread, usable = self._scales[r]
        if high <= low:
            return np.zeros(0)
        if not usable.any():
            return np.zeros(high - low)
        changes = self.od[usable, low + r:high + r] - self.od[usable, low:high]
        z = np.abs(changes - centre[usable]) / spread[usable]
        return np.median(np.ascontiguousarray(z.T), axis=1)


def _sharpest(spans: _Spans, *, low: int, high: int) -> tuple[int, int]:
    """(first, last) step of the change over r steps, r one of ``spans``' lengths (pooled robust |z| of
    x[i + r] - x[i]), with the largest statistic among those inside steps low .. high - 1."""
    best, found = -np.inf, (low, low)
    for r in spans.lengths:
        window = spans.window(r, low, max(low, high - r + 1))
        if len(window) and window.max() > best:
            best = float(window.max())
            first = low + int(np.argmax(window))
            found = (first, first + r - 1)
    return found


def _pooled_robust_z(values: np.ndarray) -> np.ndarray:
    """Median over channels of each channel's robust |z| (channels without spread left out; zeros if none)."""
    centre = np.median(values, axis=1, keepdims=True)
    spread = MAD_TO_SD * np.median(np.abs(values - centre), axis=1, keepdims=True)
    usable = spread[:, 0] > 0
    if not usable.any():
        return np.zeros(values.shape[1])
    z = np.abs(values[usable] - centre[usable]) / spread[usable]
    return np.median(np.ascontiguousarray(z.T), axis=1)  # the median over channels along contiguous memory


def remove_level_shifts(od: np.ndarray, *, sfreq: float, transitions: np.ndarray,
                        ar_seconds: float = AR_SECONDS) -> np.ndarray:
    """``od`` (channels x times) without each channel's level change over each transition (rows of first
    and last sample step), the samples inside a transition interpolated. Channels without spread are
    returned as given."""
    od = np.array(od, dtype=float)
    n_times = od.shape[1]
    transitions = np.asarray(transitions, dtype=int).reshape(-1, 2)
    order = max(1, round(ar_seconds * sfreq))
    if not len(transitions) or n_times < 2 * order + 3:
        return od
    # the level changes from sample first to first + 1; samples first + 1 .. last are free
    level = transitions[:, 0] + 1
    free = np.unique(np.concatenate([np.arange(first + 1, last + 1) for first, last in transitions]))
    free = free[(free >= 1) & (free <= n_times - 2)]
    columns = _difference_columns(level, free)
    pairs = _neighbours(columns[1], reach=order)
    near = np.zeros(n_times - 1, dtype=bool)
    for first, last in transitions:
        near[max(0, first - order):last + order + 1] = True
    differences = np.diff(od, axis=1)
    for channel, innovations_filter in _innovations_filters(differences, away=~near, order=order):
        coefficients = _gls(differences[channel], innovations_filter, columns=columns, pairs=pairs,
                            n_columns=len(level) + len(free))
        for start, jump in zip(level, coefficients[:len(level)]):
            od[channel, start:] -= jump
        od[channel, free] -= coefficients[len(level):]
    return od


def correct(od: np.ndarray, *, sfreq: float, threshold: float = THRESHOLD,
            passes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(corrected od, transitions): detection and removal, repeated on the corrected signal up to ``passes``
    times so that edges beside larger ones are found (a detection touching a known transition widens it);
    the removal is always of the original signal. With fewer than MIN_CHANNELS channels with spread nothing
    is detected (a UserWarning says so)."""
    import warnings

    od = np.asarray(od, dtype=float)
    found = np.zeros((0, 2), dtype=int)
    n_channels = int((np.ptp(od, axis=1) > 0).sum()) if od.size else 0
    if n_channels < MIN_CHANNELS:
        warnings.warn(f"--motion-correction level-shifts: {n_channels} good channels, fewer than the "
                      f"{MIN_CHANNELS} needed to detect motion across channels; no level shift was removed",
                      UserWarning, stacklevel=2)
        return od.copy(), found
    corrected = od
    for _ in range(passes):
        merged = found
        for row in detect_edges(corrected, sfreq=sfreq, threshold=threshold):
            merged = _merged(merged, row)
        if np.array_equal(merged, found):
            break
        found = merged
        corrected = remove_level_shifts(od, sfreq=sfreq, transitions=found)
    return (corrected if len(found) else od.copy()), found


def _merged(found: np.ndarray, row) -> np.ndarray:
    """``found`` (rows first, last, sorted) with ``row`` added, or united with the rows it touches."""
    touching = (found[:, 0] <= row[1] + 1) & (found[:, 1] >= row[0] - 1)
    united = [min([int(row[0]), *found[touching, 0].tolist()]), max([int(row[1]), *found[touching, 1].tolist()])]
    rows = np.concatenate([found[~touching], np.array([united], dtype=int)])
    return rows[np.argsort(rows[:, 0], kind="stable")]


def _difference_columns(level: np.ndarray, transition: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's columns in the domain of first differences (d_i = x_{i+1} - x_i): a level change at sample
    e is an impulse at i = e - 1; a free sample s is +1 at s - 1 and -1 at s. Returns the nonzero entries as
    (column, position, weight) arrays sorted by position."""
    n_level = len(level)
    column = np.concatenate([np.arange(n_level), n_level + np.arange(len(transition)),
                             n_level + np.arange(len(transition))])
    position = np.concatenate([level - 1, transition - 1, transition])
    weight = np.concatenate([np.ones(n_level), np.ones(len(transition)), -np.ones(len(transition))])
    order = np.argsort(position, kind="stable")
    return column[order], position[order], weight[order]


def _neighbours(position: np.ndarray, *, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) of entries whose positions (sorted) are at most ``reach`` apart."""
    low = np.searchsorted(position, position - reach, side="left")
    high = np.searchsorted(position, position + reach, side="right")
    counts = high - low
    first = np.repeat(np.arange(len(position)), counts)
    second = np.repeat(low - np.cumsum(np.concatenate([[0], counts[:-1]])), counts) + np.arange(counts.sum())
    return first, second


def _innovations_filters(differences: np.ndarray, *, away: np.ndarray, order: int):
    """(channel, innovations filter [1, -phi_1, ..., -phi_p]) of the Yule-Walker AR(p) fit to each channel's
    ``differences`` at the samples ``away`` from the transitions (biased autocovariances: lagged products of
    the series with the other samples set to 0, over the number of samples used); channels without spread
    are left out."""
    from bids_app.first_level.glm import ar_from_autocovariances

    used = np.where(away, differences, 0.0)
    n = used.shape[1]
    acov = np.stack([np.einsum("ct,ct->c", used[:, lag:], used[:, :n - lag]) for lag in range(order + 1)], 1)
    acov /= max(int(away.sum()), 1)
    channels = np.flatnonzero(acov[:, 0] > 0)
    phi = ar_from_autocovariances(acov[channels], order=order)
    return [(channel, np.concatenate([[1.0], -coefficients])) for channel, coefficients in zip(channels, phi)]


def _gls(series: np.ndarray, innovations_filter: np.ndarray, *, columns: tuple, pairs: tuple,
         n_columns: int) -> np.ndarray:
    """GLS coefficients of ``series`` on the sparse ``columns`` (column, position, weight) with the precision
    matrix T = the Toeplitz matrix of the autocorrelation of ``innovations_filter`` (F'F away from the
    series' ends): T is banded, so only entries within the AR order of each other (``pairs``) interact."""
    from scipy.sparse import coo_matrix, identity
    from scipy.sparse.linalg import spsolve

    column, position, weight = columns
    first, second = pairs
    order = len(innovations_filter) - 1
    autocorrelation = np.array([innovations_filter[:order + 1 - lag] @ innovations_filter[lag:]
                                for lag in range(order + 1)])
    toeplitz_series = np.convolve(series, np.concatenate([autocorrelation[:0:-1], autocorrelation]), "same")
    values = weight[first] * weight[second] * autocorrelation[np.abs(position[first] - position[second])]
    gram = coo_matrix((values, (column[first], column[second])), shape=(n_columns, n_columns)).tocsc()
    right = np.bincount(column, weights=weight * toeplitz_series[position], minlength=n_columns)
    ridge = 1e-10 * autocorrelation[0]
    return spsolve(gram + ridge * identity(n_columns, format="csc"), right)
