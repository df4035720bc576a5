"""Is a recording long enough for its design? The rule (README, "Short recordings"):

1. Every condition has at least one event whose whole response lies inside the recording: onset + duration +
   the response's return (the time after an event's end until the HRF's response to it stays below 1% of its
   peak: 22 s for glover, 25 s for spm) at most the recording's length. Otherwise a RecordingError naming the
   condition: its regressor would be a cut-off response, which the GLM takes for an effect (a 20-s recording
   gave 5 of 44 channels "significant" at ~3 uM where the full recording gave 0.02 uM).
   Events of a condition that has whole responses but whose own responses are cut by the end are a warning.
2. A recording shorter than SHORT_S is analysed with a warning: on simulated null recordings fitted at 0.6 Hz
   the share of p < 0.05 was 7.0% at 100 s, 6.7% at 150 s and 6.2% at 200 s, and 5.2% from 250 s on
   (benchmarks/short_recordings.py, 40 recordings per length); a design with no residual degrees of freedom
   beyond the AR order fails (bids_app.first_level.glm).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from bids_app.errors import RecordingError

RESPONSE_RETURN_S = {"glover": 22.0, "spm": 25.0}
SHORT_S = 250.0


def check_responses_fit(events: pd.DataFrame, *, recording_s: float, hrf: str, source: str,
                        warn: Callable[[str], None]) -> None:
    """Rule 1 for the ``events`` (onset, duration, trial_type) of a recording ``recording_s`` long."""
    tail = RESPONSE_RETURN_S[hrf]
    ends = events["onset"] + events["duration"] + tail
    for condition, rows in events.assign(_end=ends).groupby("trial_type", sort=True):
        cut = rows["_end"] > recording_s + 1e-9
        if cut.all():
            raise RecordingError(
                f"{source}: too short for condition {condition!r}: the recording lasts {recording_s:.1f} s and none "
                f"of its {len(rows)} event(s) has its whole response inside it (onset + duration + {tail:g} s "
                f"for the {hrf} response's return; the first ends at {rows['_end'].min():.1f} s)")
        if cut.any():
            warn(f"{int(cut.sum())} of {len(rows)} event(s) of {condition!r} are too close to the end of the "
                 f"recording for their whole response (onset + duration + {tail:g} s > {recording_s:.1f} s): "
                 "their responses are cut")


def check_length(*, recording_s: float, warn: Callable[[str], None]) -> None:
    """Rule 2: a warning for a recording shorter than SHORT_S."""
    if recording_s < SHORT_S:
        warn(f"the recording lasts {recording_s:.0f} s: on simulated null recordings shorter than {SHORT_S:g} s "
             "the false-positive rate at p < 0.05 was 6-7% (5% from 250 s on); read its p-values with care")
