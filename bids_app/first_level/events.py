"""Events of one recording, from its events.tsv, with a stated policy for every defect."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from bids_app.bids_files import read_tsv, sidecar
from bids_app.errors import RecordingError


def read_events(bids_path, *, duration_s: float, stim_dur: float | None,
                warn: Callable[[str], None]) -> pd.DataFrame:
    """Events as a table of onset, duration (s) and trial_type (the condition name, verbatim).

    Policy: no events.tsv, no events, or no event inside the recording -> the recording fails;
    rows without a condition or onset, duplicated rows and events outside the recording are dropped
    with a warning;
    ``n/a`` durations are modelled as impulses (duration 0) with a warning, unless ``stim_dur``
    sets every duration.
    """
    path = sidecar(bids_path, suffix="events", extension=".tsv")
    if path is None:
        raise RecordingError(f"{bids_path.fpath}: no events.tsv: a GLM needs events")
    table = read_tsv(path)
    for column in ("onset", "duration"):
        if column not in table.columns:
            raise RecordingError(f"{path}: no '{column}' column")
    if "trial_type" in table.columns:
        conditions = table["trial_type"]
    elif "value" in table.columns:
        warn(f"{path.name}: no trial_type column; the 'value' column names the conditions")
        conditions = table["value"]
    else:
        raise RecordingError(f"{path}: no trial_type column to name the conditions")

    events = pd.DataFrame({
        "onset": _numbers(table["onset"], path, "onset"),
        "duration": _numbers(table["duration"], path, "duration"),
        "trial_type": conditions.astype("string").str.strip(),
    })
    if events.empty:
        raise RecordingError(f"{path}: no events: a GLM needs at least one")

    unnamed = events["trial_type"].isna() | (events["trial_type"] == "") | events["onset"].isna()
    if unnamed.any():
        warn(f"{path.name}: {int(unnamed.sum())} event(s) without a trial_type or onset ignored")
        events = events[~unnamed]

    if stim_dur is not None:
        events["duration"] = float(stim_dur)
    else:
        missing = events["duration"].isna()
        if missing.any():
            names = ", ".join(sorted(events.loc[missing, "trial_type"].unique()))
            warn(f"{path.name}: {int(missing.sum())} event(s) with n/a duration ({names}) modelled as "
                 "impulses (duration 0); use --stim-dur to give them a duration")
            events.loc[missing, "duration"] = 0.0
        negative = events["duration"] < 0
        if negative.any():
            raise RecordingError(f"{path}: {int(negative.sum())} event(s) with a negative duration")

    duplicated = events.duplicated(["onset", "duration", "trial_type"])
    if duplicated.any():
        warn(f"{path.name}: {int(duplicated.sum())} duplicated event(s) (same onset, duration and trial_type) "
             "counted once")
        events = events[~duplicated]

    outside = (events["onset"] >= duration_s) | (events["onset"] + events["duration"] < 0)
    if outside.all():
        raise RecordingError(
            f"{path}: all {len(events)} events lie outside the recording (0 to {duration_s:.1f} s)"
        )
    if outside.any():
        warn(f"{path.name}: {int(outside.sum())} event(s) outside the recording (0 to "
             f"{duration_s:.1f} s) ignored")
        events = events[~outside]
    return events.astype({"trial_type": str}).reset_index(drop=True)


def _numbers(column: pd.Series, path, name: str) -> pd.Series:
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if bad.any():
        raise RecordingError(f"{path}: non-numeric {name} {column[bad].iloc[0]!r}")
    if np.isinf(values).any():
        raise RecordingError(f"{path}: infinite {name}")
    return values.astype(float)
