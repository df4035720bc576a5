"""Resampling of the haemoglobin signals and of the regressors that must match them (``--resample-method``).

polyphase  (default) scipy's polyphase filter (zero phase: its delay compensated) with the ratio of the two
           rates as a fraction, exact where the rates allow (7.8125 -> 0.6 Hz is 48 / 625), else within 0.1% of a
           resampled sample over the recording: sample k of the result is the low-passed signal at k / sfreq.
mne        MNE's FFT resampling (``Raw.resample``), as the MNE-NIRS tutorial: its padding and rounding shift and
           stretch the result against k / sfreq (up to ~0.9 s from 7.8125 to 0.6 Hz over 600 s). Kept to
           reproduce the tutorial exactly.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

METHODS = ("polyphase", "mne")
MAX_DRIFT = 0.001  # of a resampled sample period, at the end of the recording: the time error allowed


def rate_ratio(*, native_sfreq: float, sfreq: float, n_times: int) -> Fraction:
    """sfreq / native_sfreq as up / down in the smallest terms whose time error stays within MAX_DRIFT of a
    resampled sample over ``n_times`` native samples (exact for rates such as 7.8125 -> 0.6 Hz: 48 / 625)."""
    target = sfreq / native_sfreq
    n_out = max(1.0, n_times * target)
    for denominator in (10, 100, 1_000, 10_000, 100_000):
        ratio = Fraction(target).limit_denominator(denominator)
        if n_out * abs(float(ratio) / target - 1) <= MAX_DRIFT:
            return ratio
    return ratio


def resample_columns(columns: np.ndarray, *, native_sfreq: float, sfreq: float, method: str) -> np.ndarray:
    """The (n_times, k) ``columns`` sampled at ``native_sfreq``, resampled to ``sfreq`` (below it) by
    ``method``; unchanged when ``sfreq`` is not below ``native_sfreq``."""
    if sfreq >= native_sfreq:
        return columns
    if method == "mne":
        import mne

        info = mne.create_info(columns.shape[1], native_sfreq, ch_types="misc", verbose="error")
        return mne.io.RawArray(columns.T, info, verbose="error").resample(sfreq, verbose="error").get_data().T
    from scipy.signal import resample_poly

    ratio = rate_ratio(native_sfreq=native_sfreq, sfreq=sfreq, n_times=len(columns))
    return resample_poly(columns, ratio.numerator, ratio.denominator, axis=0, padtype="line")


def resample_raw(raw, *, sfreq: float, method: str):
    """An MNE Raw resampled to ``sfreq`` (below its rate) by ``method``, else ``raw`` unchanged."""
    native_sfreq = float(raw.info["sfreq"])
    if sfreq >= native_sfreq:
        return raw
    if method == "mne":
        return raw.resample(sfreq, verbose="error")
    import mne

    data = resample_columns(raw.get_data().T, native_sfreq=native_sfreq, sfreq=sfreq, method=method).T
    info = raw.info.copy()
    with info._unlock():
        info["sfreq"] = float(sfreq)
        info["lowpass"] = min(float(info["lowpass"]), sfreq / 2)
    first_samp = int(round(raw.first_samp * sfreq / native_sfreq))
    resampled = mne.io.RawArray(data, info, first_samp=first_samp, verbose="error")
    return resampled.set_annotations(raw.annotations, verbose="error")
