"""What the signal overview and the spectrum of a recording draw (bids_app.report.signals), computed from its MNE
Raw objects while they are in memory: small arrays, no MNE object, nothing drawn, read or written."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bids_app.channels import channel_pair
from bids_app.first_level.bad_segments import annotation_spans
from bids_app.first_level.preprocessing import MOLAR_TO_MICROMOLAR

SPECTRUM_WINDOW_S = 100.0  # Welch segments: frequency resolution 0.01 Hz, enough to resolve the Mayer band


@dataclass(frozen=True)
class RecordingSignals:
    """What the signal overview and the spectrum of a recording draw (small arrays, no MNE object)."""

    times: np.ndarray  # (n_times,) s, of the haemoglobin
    haemoglobin: np.ndarray  # (n_channels, n_times) uM, every channel ("S1_D1 hbo")
    ch_names: list[str]
    bad: np.ndarray  # (n_channels,) the channel's pair is bad
    motion: np.ndarray  # (n_channels, n_times) the sample is nearest to a motion-flagged step of its pair
    freqs: np.ndarray  # (n_freqs,) Hz
    power: np.ndarray  # (n_od_channels, n_freqs) power spectral density of the optical density (1/Hz)
    od_names: list[str]  # "S1_D1 760"
    od_bad: np.ndarray  # (n_od_channels,)
    events: pd.DataFrame  # onset, duration, trial_type
    left_out: dict = None  # channel name -> its bad segments [(onset, end) s] left out of its fit


def recording_signals(od, haemo, qc: pd.DataFrame, events: pd.DataFrame) -> RecordingSignals:
    """The arrays of a recording's figures: ``od`` the optical density Raw (every channel, the recording's rate,
    before motion correction), ``haemo`` its haemoglobin Raw (every channel, mol/l, any rate), ``qc`` its QC
    table (status per channel), ``events`` its events (onset, duration, trial_type)."""
    from scipy.signal import detrend, welch

    bad_pairs = list(set(qc.loc[qc["status"] == "bad", "name"].map(channel_pair, na_action="ignore")))
    od_data, sfreq = od.get_data(), float(od.info["sfreq"])
    length = min(od_data.shape[1], round(SPECTRUM_WINDOW_S * sfreq))
    freqs, power = welch(detrend(od_data, axis=-1), fs=sfreq, nperseg=length, axis=-1)
    return RecordingSignals(
        times=haemo.times.copy(), haemoglobin=haemo.get_data() * MOLAR_TO_MICROMOLAR, ch_names=list(haemo.ch_names),
        bad=np.isin([channel_pair(n) for n in haemo.ch_names], bad_pairs),
        motion=motion_samples(od, times=haemo.times, ch_names=haemo.ch_names), freqs=freqs, power=power,
        od_names=list(od.ch_names), od_bad=np.isin([channel_pair(n) for n in od.ch_names], bad_pairs),
        events=events[["onset", "duration", "trial_type"]].copy(),
        left_out={name: [(onset, end) for onset, end, _ in spans]
                  for name, spans in annotation_spans(haemo).items() if spans})


def motion_samples(od, *, times: np.ndarray, ch_names: list[str]) -> np.ndarray:
    """(len(ch_names), len(times)) booleans: the samples at ``times`` nearest to the motion-flagged steps of the
    optical density Raw ``od`` (bids_app.first_level.quality.motion_steps; a step from sample i to i + 1 is
    placed at sample i + 1), for every channel (e.g. "S1_D1 hbo") of the flagged pair."""
    from bids_app.first_level import quality

    groups = quality.wavelength_groups(od.ch_names, [ch["loc"][9] for ch in od.info["chs"]])
    flagged, _ = quality.motion_steps(od.get_data(), groups=groups)
    rows = {}
    for index, name in enumerate(ch_names):
        rows.setdefault(channel_pair(name), []).append(index)
    times = np.asarray(times, dtype=float)
    mask = np.zeros((len(ch_names), len(times)), dtype=bool)
    for group, steps in zip(groups, flagged):
        at = od.times[1:][steps]
        after = np.searchsorted(times, at).clip(1, max(len(times) - 1, 1))
        nearest = np.where(at - times[after - 1] <= times[after.clip(max=len(times) - 1)] - at, after - 1, after)
        mask[np.ix_(rows.get(channel_pair(od.ch_names[group[0]]), []), nearest.clip(0, len(times) - 1))] = True
    return mask
