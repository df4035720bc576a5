"""Block averages: the haemoglobin signals cut around each event, baseline-corrected, averaged per condition.

The signals are those the GLM fits (good channels and ROI averages after resampling; no regressor removed).
An epoch of an event holds the samples at lags round(START x rate) .. round(END x rate) from the sample
nearest its onset (``--fir-window START END``), as MNE's Epochs cut them; epochs that do not lie wholly
inside the recording are left out. Each epoch minus its mean over the lags up to and including 0 (MNE's
``baseline=(None, 0)``; no correction when START > 0). Per lag: the mean over the condition's epochs and its
standard error, sd (n - 1) / sqrt(n).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def block_average_table(events: pd.DataFrame, Y: np.ndarray, *, sfreq: float, conditions: list[str],
                        window: tuple[float, float],
                        signals: dict[tuple[str, str, str], int]) -> pd.DataFrame:
    """One row per signal x condition x lag: roi, ch_name, chroma, condition, time, effect, se, n.

    ``Y``: (n_times, n_signals) at ``sfreq``; ``signals`` as in fir.waveform_table.
    """
    lags = np.arange(round(window[0] * sfreq), round(window[1] * sfreq) + 1)
    baseline = lags <= 0 if lags[0] <= 0 else np.zeros(len(lags), dtype=bool)
    selected = Y[:, list(signals.values())]  # (n_times, n_signals), taken once
    parts = []
    for condition in conditions:
        onsets = np.round(events.loc[events["trial_type"] == condition, "onset"].to_numpy(float) * sfreq)
        starts = onsets.astype(int) + lags[0]
        inside = (starts >= 0) & (starts + len(lags) <= len(selected))
        index = starts[inside, None] + (lags - lags[0])[None, :]  # (n_epochs, n_lags)
        epochs = selected[index]  # (n_epochs, n_lags, n_signals)
        if baseline.any():
            epochs = epochs - epochs[:, baseline].mean(axis=1, keepdims=True)
        n = len(epochs)
        mean = epochs.mean(axis=0) if n else np.full((len(lags), len(signals)), np.nan)
        se = epochs.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full((len(lags), len(signals)), np.nan)
        for column, (roi, ch_name, chroma) in enumerate(signals):
            parts.append(pd.DataFrame({"roi": roi, "ch_name": ch_name, "chroma": chroma, "condition": condition,
                                       "time": lags / sfreq, "effect": mean[:, column], "se": se[:, column],
                                       "n": n}))
    columns = ["roi", "ch_name", "chroma", "condition", "time", "effect", "se", "n"]
    if not parts:
        return pd.DataFrame(columns=columns)
    table = pd.concat(parts, ignore_index=True)
    order = {key: i for i, key in enumerate(signals)}
    key = table[["roi", "ch_name", "chroma"]].apply(tuple, axis=1).map(order)
    return table.assign(_key=key).sort_values(["_key", "condition", "time"], kind="stable").drop(
        columns="_key").reset_index(drop=True)[columns]
