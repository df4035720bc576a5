"""The first-level design matrix: HRF-convolved conditions, cosine drifts and short channels."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from bids_app.errors import RecordingError
from bids_app.first_level.preprocessing import Haemoglobin
from bids_app.options import FirstLevelOptions


def build_design(events: pd.DataFrame, haemo: Haemoglobin, *, options: FirstLevelOptions,
                 warn: Callable[[str], None]) -> tuple[pd.DataFrame, list[str]]:
    """Design matrix (rows: haemo.times; conditions first, sorted) and its short-channel columns."""
    from nilearn.glm.first_level import make_first_level_design_matrix

    short_names, short_signals = short_channel_regressors(haemo, mode=options.short_regression, warn=warn)
    reserved = [c for c in events["trial_type"].unique()
                if c == "constant" or re.fullmatch(r"drift_\d+", c) or c in short_names]
    if reserved:
        raise RecordingError(f"condition name(s) {', '.join(reserved)} clash with nuisance regressor names "
                             "of the design; rename them in events.tsv")
    native = options.design_rate == "native"
    design = make_first_level_design_matrix(
        haemo.times,
        None if native else events[["onset", "duration", "trial_type"]],
        hrf_model=options.hrf,
        drift_model="cosine",
        high_pass=options.drift_high_pass,
        add_regs=short_signals if short_names else None,
        add_reg_names=short_names or None,
    )
    conditions = sorted(events["trial_type"].unique())
    if native:
        regressors = _conditions_resampled_like_data(events, haemo, options=options)
        design = pd.concat([regressors.set_axis(design.index), design], axis=1)
    others = [c for c in design.columns if c not in conditions]
    return design[conditions + others], short_names


OVERSAMPLED_HZ = 20.0  # time resolution of the HRF convolution at the recording's rate


def _conditions_resampled_like_data(events: pd.DataFrame, haemo: Haemoglobin, *,
                                    options: FirstLevelOptions) -> pd.DataFrame:
    """Condition regressors built at the recording's rate, then resampled exactly as the data (same method and
    ratio), so that they carry the data's low-pass filtering and, with --resample-method mne, its time shift
    (regressors built at the resampled rate lose 5% at 0.6 Hz and 16% at 0.3 Hz with MNE's resampling, 0.3%
    with the default polyphase one; benchmarks/validity.py --resampling-only).
    """
    from nilearn.glm.first_level import compute_regressor

    conditions = sorted(events["trial_type"].unique())
    oversampling = max(1, math.ceil(OVERSAMPLED_HZ / haemo.native_sfreq))
    native = []
    for condition in conditions:  # as make_first_level_design_matrix, without its costly rank check
        rows = events[events["trial_type"] == condition]
        regressor, _ = compute_regressor(
            (rows["onset"].to_numpy(), rows["duration"].to_numpy(), np.ones(len(rows))), options.hrf,
            haemo.native_times, con_id=condition, oversampling=oversampling)
        native.append(regressor[:, 0])
    values = haemo.resampled_like_data(np.column_stack(native))
    return pd.DataFrame(values, columns=conditions)


def short_channel_regressors(haemo: Haemoglobin, *, mode: str,
                             warn: Callable[[str], None]) -> tuple[list[str], np.ndarray]:
    """Nuisance regressors from the good short channels (names, array of shape (n_times, k))."""
    if mode == "none":
        return [], np.empty((len(haemo.times), 0))
    short = haemo.select(role="short")
    if not short.any():
        warn("no good short channel: short-channel regression skipped")
        return [], np.empty((len(haemo.times), 0))
    chroma = np.array(haemo.chroma)
    if mode == "mean":
        names = [f"short_{c}_mean" for c in ("hbo", "hbr")]
        columns = [haemo.data[:, short & (chroma == c)].mean(axis=1) for c in ("hbo", "hbr")]
        return names, np.column_stack(columns)
    picks = np.flatnonzero(short)
    names = ["short_" + haemo.ch_names[i].replace(" ", "_") for i in picks]
    return names, haemo.data[:, picks]
