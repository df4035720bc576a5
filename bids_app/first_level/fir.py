"""Response waveforms: a finite-impulse-response (FIR) deconvolution with the GLM's nuisance regressors.

The response of each condition over ``--fir-window START END`` seconds around onset is modelled as a
piecewise-constant time course with one free value per bin of width w = 1 / (fitted sampling rate), the
bins centred on the lags k w of the fitted samples (those wholly inside the window): the regressor of the
bin centred on k w is 1 while t - onset lies in [(k - 1/2) w, (k + 1/2) w) for any of its events (0
elsewhere), so that with overlapping trials the responses add, as in the GLM. Centred on the sample lags,
a bin holds the sample at lag k w of an event that starts on a sample, and samples spread evenly around
k w over events that do not: either way its estimate belongs at k w (the block averages' lags too). The bins
replace the HRF-convolved condition columns; the nuisance columns of the GLM design (short channels,
cosine drifts, constant) stay, and the same noise model is fitted. With the native design rate the bin
regressors are built at the recording's rate and resampled exactly as the data (as design.py does for
the conditions). A bin's estimate is the mean response over the bin, reported at the bin's centre.
The response is that to one event of the condition as it occurred (with its duration, e.g. a 5 s block).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bids_app.errors import RecordingError


def fir_bins(window: tuple[float, float], *, sfreq: float) -> np.ndarray:
    """Start times of the bins (seconds from onset), each 1 / sfreq wide and centred on a multiple of
    1 / sfreq, that lie wholly inside ``window``."""
    start, end = window
    width = 1.0 / sfreq
    first = int(np.ceil(start / width + 0.5 - 1e-9))
    last = int(np.floor(end / width - 0.5 + 1e-9))
    return width * (np.arange(first, last + 1) - 0.5)


def fir_design(events: pd.DataFrame, haemo, *, design: pd.DataFrame, conditions: list[str],
               window: tuple[float, float], native: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The FIR design (bins of every condition, then the nuisance columns of ``design``) and, per bin
    column, its condition and time (bin centre, s from onset)."""
    starts = fir_bins(window, sfreq=haemo.sfreq)
    width = 1.0 / haemo.sfreq
    if len(starts) < 2:
        raise RecordingError(f"the FIR window {window[0]:g} to {window[1]:g} s holds fewer than 2 bins of "
                             f"{width:.3g} s (the fitted sampling interval): widen --fir-window")
    times = haemo.native_times if native else haemo.times
    columns, index = [], []
    for condition in conditions:
        onsets = events.loc[events["trial_type"] == condition, "onset"].to_numpy(dtype=float)
        lag = times[:, None] - onsets[None, :]  # (n_times, n_events)
        for start in starts:
            columns.append(((lag >= start) & (lag < start + width)).sum(axis=1).astype(float))
            index.append((condition, start + width / 2))
    values = np.column_stack(columns)
    if native:
        values = haemo.resampled_like_data(values)
    names = [f"fir_{i}" for i in range(len(index))]
    nuisance = design.drop(columns=conditions)
    fir = pd.concat([pd.DataFrame(values, columns=names, index=design.index), nuisance], axis=1)
    bins = pd.DataFrame(index, columns=["condition", "time"])
    return fir, bins


def waveform_table(fit, *, bins: pd.DataFrame, signals: dict[tuple[str, str, str], int]) -> pd.DataFrame:
    """One row per signal x bin: roi, ch_name, chroma, condition, time, effect, se.

    ``signals``: {(roi, ch_name, chroma): row of the signal in ``fit``}, with "n/a" for the missing one of
    roi and ch_name; the bin columns are the first ``len(bins)`` columns of the fitted design.
    """
    k = len(bins)
    se = np.sqrt(np.einsum("skk->sk", fit.cov[:, :k, :k]))
    parts = []
    for (roi, ch_name, chroma), row in signals.items():
        part = bins.copy()
        part.insert(0, "chroma", chroma)
        part.insert(0, "ch_name", ch_name)
        part.insert(0, "roi", roi)
        part["effect"] = fit.beta[row, :k]
        part["se"] = se[row]
        parts.append(part)
    columns = ["roi", "ch_name", "chroma", "condition", "time", "effect", "se"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]
