"""Motion correction by level-shift removal (``--motion-correction level-shifts``).

Motion moves optodes: the optical density of many channels jumps at once (a baseline shift that persists, or
the two edges of a spike), or, when one optode moves, only that of the channels of its pairs. Each edge is found
across channels, or across the channels of one source or detector, then every affected channel's level change
at that edge is estimated by generalised least squares under an autoregressive model of its sample-to-sample
changes and removed; the few samples of each transition are replaced by the model's interpolation. All
transitions of a channel are estimated jointly, so nearby edges (a spike's two) do not bias each other.

1. Detection (``_Detector``): per channel, the mean of the ``WINDOW_S`` seconds after each sample step
   minus the mean of the ``WINDOW_S`` seconds before, as a robust z score (median, 1.4826 x median absolute
   deviation). Cap-wide: pooled over channels as the median |z|; local maxima above ``threshold``, at least
   ``TRANSITION_S`` apart, are transitions, each placed where the change over r samples (r from 1 up to
   ``TRANSITION_S``, so that a ramp is one transition) has the largest pooled robust |z| within ``WINDOW_S``.
   Per optode (``correct`` with ``channel_optodes``): the lower median over its channels (more than half of
   them above it) against ``local_threshold``, away from the cap-wide transitions, placed the same way on its
   channels, and kept only when sharp (``LOCAL_SHARPNESS``: a haemodynamic response rises too slowly).
   ``correct`` repeats the detection on the corrected signal so that an edge beside a larger one is found.
2. Removal (``remove_level_shifts``), per channel: an AR(p) model (Yule-Walker, p = ``ar_seconds`` x rate) of
   the first differences away from the transitions; the level changes are the GLS coefficients of one step
   per transition in the whitened first differences, with the samples inside a transition free (one
   indicator each), subtracted from the rest of the recording; the free samples take their fitted values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bids_app.first_level.quality import MAD_TO_SD

WINDOW_S = 1.0
TRANSITION_S = 0.5  # longest transition (a ramp) and least separation of edges
AR_SECONDS = 1.0
THRESHOLD = 2.0
MIN_CHANNELS = 8  # a median over fewer channels exceeds the threshold by chance too often
LOCAL_THRESHOLD = 4.0  # one optode's channels: a median over few channels needs a higher threshold
MIN_OPTODE_CHANNELS = 4  # two source-detector pairs, both wavelengths
LOCAL_SHARPNESS = 0.7  # an optode's transition: its change is most of the windows' (a response rises slowly)


class _Detector:
    """The edge statistics of one signal ``od`` (channels x times): each channel's robust |z| of the mean of
    the ``WINDOW_S`` seconds after each sample step minus the mean of those before, pooled as a median over
    a set of channels (all of them, or one optode's), and the sharpest change near each peak."""

    def __init__(self, od: np.ndarray, *, sfreq: float, scales: dict | None = None):
        """``scales``: each channel's centre and spread of its changes over r samples, by r, kept between the
        passes of ``correct`` (those of the first signal: they only place a transition found with the scales of
        this signal)."""
        self.od = np.asarray(od, dtype=float)
        self.width = max(1, round(WINDOW_S * sfreq))
        self.separation = max(1, round(TRANSITION_S * sfreq))
        self.n_times = self.od.shape[1]
        self.z = None
        if self.n_times >= 2 * self.width + 2 and len(self.od):
            cumulative = np.concatenate([np.zeros((len(self.od), 1)), np.cumsum(self.od, axis=1)], axis=1)
            steps = np.arange(self.width - 1, self.n_times - self.width)
            width = self.width
            change = ((cumulative[:, steps + 1 + width] - cumulative[:, steps + 1])
                      - (cumulative[:, steps + 1] - cumulative[:, steps + 1 - width])) / width
            centre, spread = _robust_scale(change)
            self.z = np.full((self.n_times, len(self.od)), np.nan)  # times x channels: medians along rows
            with np.errstate(divide="ignore", invalid="ignore"):
                self.z[steps] = np.where(spread > 0, np.abs(change - centre) / spread, np.nan).T
        longest = max(1, round(TRANSITION_S * sfreq))
        self.spans = _Spans(self.od, np.unique(np.geomspace(1, longest, num=min(longest, 8)).round().astype(int)),
                            scales=scales)

    def candidates(self, *, threshold: float, usable=None) -> tuple[np.ndarray, np.ndarray]:
        """(steps, statistics) where the pooled statistic exceeds ``threshold``: over all channels with spread
        the median of their robust |z|; over the channels ``usable`` (one optode's with spread, at least
        MIN_OPTODE_CHANNELS) the lower median, exceeded by more than half of them (only steps with a whole
        window on each side)."""
        none = (np.zeros(0, dtype=int), np.zeros(0))
        if usable is None:
            usable = self.usable(np.arange(len(self.od)))
            if not len(usable):
                return none
            pooled = np.nan_to_num(np.median(self.z[:, usable], axis=1))
            steps = np.flatnonzero(pooled > threshold)
            return steps, pooled[steps]
        if len(usable) < MIN_OPTODE_CHANNELS:
            return none
        z = self.z[:, usable]
        middle = (z.shape[1] - 1) // 2  # the lower median: as many channels at or below it as above, plus one
        steps = np.flatnonzero((z > threshold).sum(axis=1) >= z.shape[1] - middle)
        return steps, np.partition(z[steps], middle, axis=1)[:, middle]

    def usable(self, rows) -> np.ndarray:
        """Those of the channels ``rows`` with spread (robust z scores); none before a whole window."""
        rows = np.asarray(rows, dtype=int)
        return rows[~np.isnan(self.z[self.width - 1, rows])] if self.z is not None else rows[:0]

    def edges(self, *, threshold: float, rows=None, skip: np.ndarray | None = None) -> np.ndarray:
        """Rows (first, last) of the transitions of the channels ``rows`` (default all): local maxima of
        their pooled statistic above ``threshold``, at least the separation apart, outside the steps ``skip``
        (booleans), each placed at the sharpest change within the window, not touching ``skip`` (and, for an
        optode's channels, only where that change is sharp: a slow rise is not motion)."""
        usable = None if rows is None else self.usable(rows)
        steps, values = self.candidates(threshold=threshold, usable=usable)
        if skip is not None:
            steps, values = steps[~skip[steps]], values[~skip[steps]]
        taken = np.zeros(self.n_times, dtype=bool)
        transitions = set()
        for step in steps[np.argsort(-values, kind="stable")]:
            if not taken[max(0, step - self.separation):step + self.separation + 1].any():
                found = _sharpest(self.spans, low=max(0, step - self.width + 1),
                                  high=min(self.n_times - 1, step + self.width), rows=rows)
                clear = skip is None or not skip[found[0]:found[1] + 1].any()
                if clear and (rows is None or self.sharpness(found, usable) >= LOCAL_SHARPNESS):
                    transitions.add(found)
            taken[step] = True
        return np.array(sorted(transitions), dtype=int).reshape(-1, 2)

    def sharpness(self, transition, rows) -> float:
        """The lower median over the channels ``rows`` of |change over the transition| / |mean of the window
        after it - mean of the window before|: about 1 for a step (or more for a spike shorter than the window),
        about r / (window + r) for a smooth rise such as a haemodynamic response."""
        first, last = int(transition[0]), int(transition[1])
        before = self.od[rows, max(0, first - self.width + 1):first + 1].mean(axis=1)
        after = self.od[rows, last + 1:last + 1 + self.width].mean(axis=1)
        jump = self.od[rows, min(last + 1, self.n_times - 1)] - self.od[rows, first]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.nan_to_num(np.abs(jump) / np.abs(after - before), nan=0.0, posinf=0.0)
        return float(np.sort(ratio)[(len(ratio) - 1) // 2])


class _Spans:
    """The pooled robust |z| of the changes over r steps, x[i + r] - x[i], for each length r, computed where
    asked: each channel's centre and spread over the whole recording (once per r, when first needed), the median
    over channels only in the windows around the candidate transitions (the same values as over all steps)."""

    def __init__(self, od: np.ndarray, lengths, *, scales: dict | None = None):
        self.od, self.lengths = od, [int(r) for r in lengths]
        self._scales = {} if scales is None else scales

    def window(self, r: int, low: int, high: int, rows=None) -> np.ndarray:
        """The statistic of steps low .. high - 1 (changes from sample i to i + r) over the channels ``rows``
        (default all)."""
        if r not in self._scales:
            self._scales[r] = _robust_scale(self.od[:, r:] - self.od[:, :-r])
        centre, spread = self._scales[r]
        usable = spread[:, 0] > 0
        if rows is not None:
            chosen = np.zeros(len(usable), dtype=bool)
            chosen[rows] = True
            usable = usable & chosen
        if high <= low:
            return np.zeros(0)
        if not usable.any():
            return np.zeros(high - low)
        changes = self.od[usable, low + r:high + r] - self.od[usable, low:high]
        z = np.abs(changes - centre[usable]) / spread[usable]
        return np.median(np.ascontiguousarray(z.T), axis=1)


def _sharpest(spans: _Spans, *, low: int, high: int, rows=None) -> tuple[int, int]:
    """(first, last) step of the change over r steps, r one of ``spans``' lengths (pooled robust |z| of
    x[i + r] - x[i]), with the largest statistic among those inside steps low .. high - 1."""
    best, found = -np.inf, (low, low)
    for r in spans.lengths:
        window = spans.window(r, low, max(low, high - r + 1), rows)
        if len(window) and window.max() > best:
            best = float(window.max())
            first = low + int(np.argmax(window))
            found = (first, first + r - 1)
    return found


def _robust_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's (row's) median and 1.4826 x median absolute deviation, as columns."""
    centre = np.median(values, axis=1, keepdims=True)
    return centre, MAD_TO_SD * np.median(np.abs(values - centre), axis=1, keepdims=True)


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


@dataclass(frozen=True)
class Transitions:
    """What ``correct`` found: rows (first, last sample step) of the transitions of every channel (``cap``:
    most channels changed level at once) and of the channels of one optode (``local``: optode -> rows)."""

    cap: np.ndarray
    local: dict = field(default_factory=dict)

    def of(self, optodes) -> np.ndarray:
        """The transitions of a channel whose source and detector are ``optodes``: the cap-wide ones and
        those of its optodes, rows that touch united."""
        rows = [self.local[optode] for optode in optodes if optode in self.local]
        return _united(np.concatenate([self.cap, *rows])) if rows else self.cap

    @property
    def n_local(self) -> int:
        return sum(len(rows) for rows in self.local.values())

    def same(self, other: "Transitions") -> bool:
        return (np.array_equal(self.cap, other.cap) and self.local.keys() == other.local.keys()
                and all(np.array_equal(rows, other.local[optode]) for optode, rows in self.local.items()))


NONE_FOUND = Transitions(cap=np.zeros((0, 2), dtype=int))


def remove_transitions(od: np.ndarray, *, sfreq: float, transitions: Transitions,
                       channel_optodes: list) -> np.ndarray:
    """``od`` (channels x times) without each channel's level changes over its transitions (the cap-wide
    ones and those of its optodes, ``channel_optodes``: per channel, its source and detector)."""
    od = np.array(od, dtype=float)
    by_rows: dict[tuple, list[int]] = {}
    for channel, optodes in enumerate(channel_optodes):
        by_rows.setdefault(tuple(map(tuple, transitions.of(optodes).tolist())), []).append(channel)
    for rows, channels in by_rows.items():
        if rows:
            od[channels] = remove_level_shifts(od[channels], sfreq=sfreq, transitions=np.array(rows, dtype=int))
    return od


def correct(od: np.ndarray, *, sfreq: float, threshold: float = THRESHOLD, channel_optodes: list | None = None,
            local_threshold: float = LOCAL_THRESHOLD, passes: int = 3) -> tuple[np.ndarray, Transitions]:
    """(corrected od, transitions): detection and removal, repeated on the corrected signal up to ``passes``
    times so that edges beside larger ones are found (a detection touching a known transition widens it);
    the removal is always of the original signal. ``channel_optodes`` (per channel, its source and detector
    names): also the transitions of each optode's channels (at least MIN_OPTODE_CHANNELS with spread) where
    the lower median over them (more than half of them above it) exceeds ``local_threshold`` away from the
    cap-wide transitions, removed from that optode's channels only. The robust scales that place a transition
    are those of ``od``, kept for the later passes. With fewer than MIN_CHANNELS channels with spread nothing
    is detected (a UserWarning says so)."""
    import warnings

    od = np.asarray(od, dtype=float)
    spread = np.ptp(od, axis=1) > 0 if od.size else np.zeros(len(od), dtype=bool)
    if int(spread.sum()) < MIN_CHANNELS:
        warnings.warn(f"--motion-correction level-shifts: {int(spread.sum())} good channels, fewer than the "
                      f"{MIN_CHANNELS} needed to detect motion across channels; no level shift was removed",
                      UserWarning, stacklevel=2)
        return od.copy(), NONE_FOUND
    channel_optodes = channel_optodes or [()] * len(od)
    optodes: dict[str, list[int]] = {}
    for channel, names in enumerate(channel_optodes):
        for name in names:
            optodes.setdefault(name, []).append(channel)
    found, corrected, scales = NONE_FOUND, od, {}
    for _ in range(passes):
        detector = _Detector(corrected, sfreq=sfreq, scales=scales)
        cap = _united(np.concatenate([found.cap, detector.edges(threshold=threshold)]))
        near = np.zeros(od.shape[1], dtype=bool)
        for first, last in cap:
            near[max(0, first - detector.width):last + detector.width + 1] = True
        local = {}
        for name, rows in optodes.items():
            merged = found.local.get(name, np.zeros((0, 2), dtype=int))
            # a row that a cap-wide transition has reached since is the cap's
            merged = merged[[not near[first:last + 1].any() for first, last in merged]]
            merged = _united(np.concatenate([merged, detector.edges(threshold=local_threshold, rows=rows, skip=near)]))
            if len(merged):
                local[name] = merged
        now = Transitions(cap=cap, local=local)
        if now.same(found):
            break
        found = now
        corrected = remove_transitions(od, sfreq=sfreq, transitions=found, channel_optodes=channel_optodes)
    return (corrected if len(found.cap) or found.local else od.copy()), found


def _united(rows: np.ndarray) -> np.ndarray:
    """``rows`` (first, last) sorted, those that touch or overlap (within one step) united."""
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    united = []
    for first, last in rows.tolist():
        if united and first <= united[-1][1] + 1:
            united[-1][1] = max(united[-1][1], last)
        else:
            united.append([first, last])
    return np.array(united, dtype=int).reshape(-1, 2)


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
