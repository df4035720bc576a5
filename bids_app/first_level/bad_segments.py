"""Bad segments (``--bad-segments``): the spans of a recording that no model should fit.

Two sources, both held as MNE annotations whose description starts with "BAD" (MNE's convention):
- annotations: events of events.tsv whose trial_type is BAD or starts with BAD_, BAD- or "BAD " (any case),
  e.g. ``BAD_cap_off``: every channel; they are not conditions of the design (and are said);
- auto (also the annotations): spans of at least MIN_SECONDS where a channel's intensity is flat (the same
  value sample after sample: saturated at the device's limit, or stuck; while fewer than half of the channels
  are flat at once) or collapsed (below COLLAPSED_SHARE of the channel's median: lost contact); both
  wavelengths of the pair.
In every span the intensity is bridged (log-linear between the samples on either side), so that the optical
density stays finite and neither the motion correction nor the resampling filter spreads the bad values into
their neighbours; the samples of the span, widened by one fitted sample on each side when the signals are
resampled, are then left out of that channel's fit (bids_app.first_level.bad_samples) and of its block
averages.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from bids_app.channels import channel_pair

MIN_SECONDS = 2.0
COLLAPSED_SHARE = 0.05
GUARD_SECONDS = 1.0  # a detected span is widened by this on each side: the transitions into and out of it
_BAD = re.compile(r"^bad($|[_\-\s])", re.IGNORECASE)  # BAD, BAD_cap_off, bad-motion, "bad segment"; not "Badminton"


def is_bad(description: str) -> bool:
    """A description that marks a bad segment: BAD alone or followed by _, - or a space (any case; MNE's
    convention, without taking words such as "badminton" for it)."""
    return bool(_BAD.match(str(description).strip()))


def split_bad_events(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the conditions' events, the BAD events) of ``events`` (onset, duration, trial_type)."""
    bad = events["trial_type"].map(is_bad)
    return events[~bad].reset_index(drop=True), events[bad].reset_index(drop=True)


def detect(intensity: np.ndarray, *, sfreq: float) -> list[list[tuple[int, int, str]]]:
    """Per channel (row of ``intensity``), its flat and collapsed spans [start, stop) of MIN_SECONDS or more.

    A flat stretch counts where it is a channel's own: while most channels are flat at once, nothing is measuring
    noise at all (noise-free simulated data between responses, a frozen device), which is no saturation of a
    channel; those stretches are left to annotations."""
    shortest = int(np.ceil(MIN_SECONDS * sfreq))
    n_channels, n_times = intensity.shape
    flat = np.zeros((n_channels, n_times), dtype=bool)
    runs = []
    for row, signal in enumerate(intensity):
        equal = np.diff(signal) == 0  # equal[t]: samples t and t + 1 hold the same value
        kept = [(start, stop + 1) for start, stop in _runs(equal) if stop - start + 1 >= shortest]
        for start, stop in kept:
            flat[row, start:stop] = True
        runs.append(kept)
    shared = flat.mean(axis=0) if n_channels else np.zeros(n_times)
    found = []
    for row, signal in enumerate(intensity):
        spans = [(start, stop, "flat") for start, stop in runs[row] if np.median(shared[start:stop]) < 0.5]
        for start, stop in _runs(signal < COLLAPSED_SHARE * np.median(signal)):
            if stop - start >= shortest:
                spans.append((start, stop, "collapsed"))
        guard = int(np.ceil(GUARD_SECONDS * sfreq))
        found.append(sorted((max(0, start - guard), min(n_times, stop + guard), why) for start, stop, why in spans))
    return found


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The [start, stop) index ranges where ``mask`` is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def bridge(signal: np.ndarray, start: int, stop: int, *, anchor: int = 5) -> None:
    """Replace ``signal[start:stop]`` (positive intensity), in place, by the log-linear line between the medians
    of ``anchor`` samples on either side (not one sample, which may still be in transition; the one side's level
    at an end of the recording)."""
    n = len(signal)
    if start == 0 and stop >= n:
        return
    left = np.log(np.median(signal[max(0, start - anchor):start])) if start > 0 else None
    right = np.log(np.median(signal[stop:stop + anchor])) if stop < n else None
    left = right if left is None else left
    right = left if right is None else right
    steps = np.arange(1, stop - start + 1) / (stop - start + 1)
    signal[start:stop] = np.exp(left + (right - left) * steps)


def _origin(raw) -> float:
    """Annotation onsets count from the measurement's start when they have an origin, else from the first
    sample: the onset of the first sample."""
    return raw.first_time if raw.annotations.orig_time is not None else 0.0


def with_spans(raw, annotations: list[tuple[float, float, str, tuple[str, ...]]]):
    """``raw`` with BAD annotations added, each (onset s from the first sample, duration, description, channel
    names or () for every channel)."""
    import mne

    if not annotations:
        return raw
    onset, duration, description, ch_names = zip(*annotations)
    added = mne.Annotations(np.array(onset) + _origin(raw), duration, description,
                            orig_time=raw.annotations.orig_time, ch_names=ch_names)
    return raw.set_annotations(raw.annotations + added, verbose="error")


def annotation_spans(raw) -> dict[str, list[tuple[float, float, str]]]:
    """Channel name -> its BAD spans of the MNE ``raw``'s annotations (onset, end in seconds from the first
    sample, description): an annotation without channels applies to every channel, one with channels to their
    source-detector pairs."""
    annotations, ch_names = raw.annotations, raw.ch_names
    origin = _origin(raw)
    pairs_of = {}
    for name in ch_names:
        pairs_of.setdefault(channel_pair(name), []).append(name)
    spans: dict[str, list[tuple[float, float, str]]] = {name: [] for name in ch_names}
    for annotation in annotations:
        if not is_bad(annotation["description"]):
            continue
        onset = float(annotation["onset"]) - origin
        span = (onset, onset + float(annotation["duration"]), str(annotation["description"]))
        named = annotation.get("ch_names") or ()
        targets = ch_names if not named else [c for p in {channel_pair(n) for n in named}
                                              for c in pairs_of.get(p, [])]
        for name in targets:
            spans[name].append(span)
    return spans


def fitted_mask(spans: dict[str, list[tuple[float, float, str]]], *, ch_names: list[str], times: np.ndarray,
                margin: float) -> np.ndarray | None:
    """(n_times, n_channels) True where a sample at ``times`` lies in one of the channel's spans widened by
    ``margin`` seconds on each side; None when nothing is left out."""
    mask = np.zeros((len(times), len(ch_names)), dtype=bool)
    for column, name in enumerate(ch_names):
        for onset, end, _ in spans.get(name, []):
            mask[:, column] |= (times >= onset - margin) & (times < end + margin)
    return mask if mask.any() else None


def spans_text(spans: list[tuple[float, float, str]], *, duration: float) -> tuple[str, float]:
    """("onset-end;..." in seconds, or n/a; the share of the recording they cover) of one channel's spans."""
    if not spans:
        return "n/a", 0.0
    merged: list[list[float]] = []
    for onset, end, _ in sorted(spans):
        if merged and onset <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([max(onset, 0.0), min(end, duration)])
    text = ";".join(f"{onset:.2f}-{end:.2f}" for onset, end in merged)
    return text, round(sum(end - onset for onset, end in merged) / duration, 6)
