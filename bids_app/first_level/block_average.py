"""Block averages: the haemoglobin signals cut around each event, baseline-corrected, averaged per condition.

The signals are those the GLM fits (good channels and ROI averages after resampling; no regressor removed).
An epoch of an event holds the samples at lags round(START x rate) .. round(END x rate) from the sample
nearest its onset (``--fir-window START END``), as MNE's Epochs cut them; epochs that do not lie wholly
inside the recording are left out, and for a signal those that hold one of its left-out samples (bad segments).
Each epoch minus its mean over the lags up to and including 0 (MNE's
``baseline=(None, 0)``; no correction when START > 0). Per lag: the mean over the condition's epochs and its
standard error, sd (n - 1) / sqrt(n).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def block_average_table(events: pd.DataFrame, Y: np.ndarray, *, sfreq: float, conditions: list[str],
                        window: tuple[float, float], signals: dict[tuple[str, str, str], int],
                        bad: np.ndarray | None = None) -> pd.DataFrame:
    """One row per signal x condition x lag: roi, ch_name, chroma, condition, time, effect, se, n.

    ``Y``: (n_times, n_signals) at ``sfreq``; ``signals`` as in fir.waveform_table; ``bad`` (n_times, n_signals):
    samples left out, whose epochs leave out that signal (n counts each signal's own epochs).
    """
    lags = np.arange(round(window[0] * sfreq), round(window[1] * sfreq) + 1)
    baseline = lags <= 0 if lags[0] <= 0 else np.zeros(len(lags), dtype=bool)
    selected = Y[:, list(signals.values())]  # (n_times, n_signals), taken once
    left_out = None if bad is None else bad[:, list(signals.values())]
    parts = []
    for condition in conditions:
        onsets = np.round(events.loc[events["trial_type"] == condition, "onset"].to_numpy(float) * sfreq)
        starts = onsets.astype(int) + lags[0]
        inside = (starts >= 0) & (starts + len(lags) <= len(selected))
        index = starts[inside, None] + (lags - lags[0])[None, :]  # (n_epochs, n_lags)
        epochs = selected[index]  # (n_epochs, n_lags, n_signals)
        if baseline.any():
            epochs = epochs - epochs[:, baseline].mean(axis=1, keepdims=True)
        # (n_epochs, n_signals): the epochs each signal keeps (those without a left-out sample)
        valid = (np.ones(epochs.shape[::2], dtype=bool) if left_out is None
                 else ~left_out[index].any(axis=1))
        n = valid.sum(axis=0)  # (n_signals,)
        weights = valid[:, None, :].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (epochs * weights).sum(axis=0) / n  # (n_lags, n_signals); NaN without an epoch
            spread = (((epochs - mean) ** 2) * weights).sum(axis=0) / (n - 1)
            se = np.where(n > 1, np.sqrt(spread) / np.sqrt(n), np.nan)
        for column, (roi, ch_name, chroma) in enumerate(signals):
            parts.append(pd.DataFrame({"roi": roi, "ch_name": ch_name, "chroma": chroma, "condition": condition,
                                       "time": lags / sfreq, "effect": mean[:, column], "se": se[:, column],
                                       "n": int(n[column])}))
    columns = ["roi", "ch_name", "chroma", "condition", "time", "effect", "se", "n"]
    if not parts:
        return pd.DataFrame(columns=columns)
    table = pd.concat(parts, ignore_index=True)
    order = {key: i for i, key in enumerate(signals)}
    key = table[["roi", "ch_name", "chroma"]].apply(tuple, axis=1).map(order)
    return table.assign(_key=key).sort_values(["_key", "condition", "time"], kind="stable").drop(
        columns="_key").reset_index(drop=True)[columns]
