"""Channel quality and the conversion of raw intensity to haemoglobin concentration (uM).

Bad channels come from channels.tsv (``status`` bad), from the data (non-finite, zero or
negative, or flat intensity) and, when asked, from a low scalp coupling index or a low peak spectral
power. A source-detector pair is bad when any of its wavelengths is: both of its haemoglobin signals
leave the GLM, the ROI estimates and the short-channel regressors. The QC table also gives each pair's
motion burden (bids_app.first_level.quality).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bids_app.channels import channel_chroma, channel_pair
from bids_app.errors import RecordingError
from bids_app.first_level.bad_segments import (annotation_spans, bridge, detect, fitted_mask, spans_text,
                                               with_spans)
from bids_app.first_level.resampling import resample_columns, resample_raw
from bids_app.options import FirstLevelOptions

MOLAR_TO_MICROMOLAR = 1e6


@dataclass(frozen=True)
class Haemoglobin:
    """Good haemoglobin signals of one recording after resampling, in micromolar."""

    data: np.ndarray  # (n_times, n_channels)
    times: np.ndarray  # (n_times,) seconds from the first sample
    sfreq: float
    native_sfreq: float  # the recording's rate, before resampling
    native_times: np.ndarray
    ch_names: list[str]  # MNE names, e.g. "S1_D1 hbo"
    pairs: list[str]  # e.g. "S1_D1"
    chroma: list[str]  # "hbo" | "hbr"
    role: list[str]  # "long" | "short"
    x_position: np.ndarray  # channel midpoint x (m, head frame; left < 0)
    raw: object = None  # mne Raw: every channel's haemoglobin (mol/l) at ``sfreq``, for the recording figures
    motion_transitions: int | None = None  # level-shift transitions removed (--motion-correction level-shifts)
    motion_local: dict[str, int] | None = None  # level-shifts: optode -> transitions of its channels alone
    resample_method: str = "polyphase"  # how the data were resampled (--resample-method)
    bad: np.ndarray | None = None  # (n_times, n_channels): samples left out of each channel's fit; None: none

    def select(self, *, role: str) -> np.ndarray:
        return np.array([r == role for r in self.role])

    def resampled_like_data(self, columns: np.ndarray) -> np.ndarray:
        """(n_native_times, k) ``columns`` at the recording's rate, resampled exactly as the data were."""
        return resample_columns(columns, native_sfreq=self.native_sfreq, sfreq=self.sfreq,
                                method=self.resample_method)


def assess_channels(raw, channels_tsv: pd.DataFrame, *, options: FirstLevelOptions,
                    warn: Callable[[str], None]):
    """Quality of every channel; returns (QC table, optical density Raw with bad data neutralised).

    ``raw`` (intensity) is modified in place: data of unusable channels is replaced by a constant
    so that the optical density stays finite for the others.
    """
    from mne.preprocessing.nirs import optical_density, source_detector_distances

    data = raw._data
    reasons: dict[str, list[str]] = {name: [] for name in raw.ch_names}
    described = channels_tsv.set_index("name")
    for name in raw.ch_names:
        if str(described.at[name, "status"]).strip().lower() == "bad":
            why = described.at[name, "status_description"]
            reasons[name].append("marked bad in channels.tsv" + (f" ({why})" if pd.notna(why) else ""))
    for index, name in enumerate(raw.ch_names):
        signal = data[index]
        problem = None
        if not np.all(np.isfinite(signal)):
            problem = "non-finite (NaN or infinite) intensity"
        elif np.any(signal <= 0):
            problem = "zero or negative intensity"
        elif np.ptp(signal) == 0:
            problem = "flat signal"
        if problem:
            reasons[name].append(problem)
            warn(f"channel {name}: {problem}; marked bad")
            data[index] = 1.0
    raw.info["bads"] = []
    left_out = _left_out_spans(raw, unusable={n for n, why in reasons.items() if why}, options=options)
    duration = raw.n_times / raw.info["sfreq"]

    od = optical_density(raw, verbose="error")
    sci, psp, why_not, burden = _quality_metrics(od)
    for label, values, threshold, flag in (
        ("scalp coupling index", sci, options.sci_threshold, "--sci-threshold"),
        ("peak spectral power", psp, options.psp_threshold, "--psp-threshold"),
    ):
        if threshold is None:
            continue
        if not np.isfinite(values).any():
            warn(f"{label} not computed ({why_not}); {flag} not applied")
        for name, value in zip(raw.ch_names, values):
            if value < threshold:
                reasons[name].append(f"{label} {value:.3f} < {threshold}")

    distance_mm = source_detector_distances(raw.info) * 1000
    if not np.isfinite(distance_mm).any():
        raise RecordingError("no optode positions: source-detector distances cannot be computed")
    role = np.where(distance_mm < options.short_channel_max_mm, "short",
                    np.where((distance_mm > options.long_channel_min_mm)
                             & (distance_mm < options.long_channel_max_mm), "long", "unused"))

    bad_pairs: dict[str, list[str]] = {}
    for name, why in reasons.items():
        if why:
            bad_pairs.setdefault(channel_pair(name), []).append(name)
    rows = []
    for index, name in enumerate(raw.ch_names):
        own = reasons[name]
        partners = [other for other in bad_pairs.get(channel_pair(name), []) if other != name]
        description = "; ".join(own + [f"paired wavelength {other} is bad" for other in partners if not own])
        rows.append({
            "name": name,
            "type": _described(described, name, "type", "NIRSCWAMPLITUDE"),
            "source": name.split("_")[0],
            "detector": channel_pair(name).split("_")[1],
            "wavelength_nominal": float(raw.info["chs"][index]["loc"][9]),
            "units": _described(described, name, "units", "V"),
            "distance_mm": round(float(distance_mm[index]), 3),
            **_midpoint(raw.info["chs"][index]["loc"]),
            "role": str(role[index]),
            "sci": sci[index],
            "psp": psp[index],
            "motion_burden": burden[index],
            **dict(zip(("bad_segments", "bad_share"), spans_text(left_out[name], duration=duration))),
            "status": "bad" if channel_pair(name) in bad_pairs else "good",
            "status_description": description or "n/a",
        })
    qc = pd.DataFrame(rows)
    order = [n for n in channels_tsv["name"] if n in set(qc["name"])]
    return qc.set_index("name").loc[order].reset_index(), od


def _left_out_spans(raw, *, unusable: set[str], options: FirstLevelOptions) -> dict[str, list]:
    """The spans left out of each channel's fit (--bad-segments; bids_app.first_level.bad_segments): with auto,
    the flat or collapsed spans of the usable channels are found and added to the recording's BAD annotations
    (for both wavelengths of the pair); every BAD span of a usable channel is bridged in place. Channel name ->
    its spans (onset, end, description)."""
    sfreq, data = raw.info["sfreq"], raw._data
    if options.bad_segments == "auto":
        usable = [i for i, name in enumerate(raw.ch_names) if name not in unusable]
        pair_channels: dict[str, list[str]] = {}
        for name in raw.ch_names:
            pair_channels.setdefault(channel_pair(name), []).append(name)
        found = []
        for index, spans in zip(usable, detect(data[usable], sfreq=sfreq)):
            found += [(start / sfreq, (stop - start) / sfreq, f"BAD_{why}",
                       tuple(pair_channels[channel_pair(raw.ch_names[index])])) for start, stop, why in spans]
        with_spans(raw, sorted(set(found)))
    spans = annotation_spans(raw)
    for index, name in enumerate(raw.ch_names):
        if name in unusable:
            continue
        for onset, end, _ in spans[name]:
            start = max(0, int(np.ceil(onset * sfreq - 1e-9)))
            stop = min(raw.n_times, int(np.ceil(end * sfreq - 1e-9)))
            if stop > start:
                bridge(data[index], start, stop)
    return spans


def to_haemoglobin(od, qc: pd.DataFrame, *, options: FirstLevelOptions) -> Haemoglobin:
    """Motion correction (``--motion-correction``), Beer-Lambert law, resampling, and the good long and
    short signals in micromolar."""
    from mne.preprocessing.nirs import beer_lambert_law, temporal_derivative_distribution_repair

    transitions = local = None
    if options.motion_correction == "tddr":
        od = temporal_derivative_distribution_repair(od, verbose="error")
    elif options.motion_correction == "level-shifts":
        od, transitions, local = _remove_level_shifts(od, qc)
    haemo = beer_lambert_law(od, ppf=options.ppf)
    native_sfreq, native_times = float(haemo.info["sfreq"]), haemo.times.copy()
    haemo = resample_raw(haemo, sfreq=options.resample_hz, method=options.resample_method)
    pair_status = dict(zip(qc["name"].map(channel_pair, na_action="ignore"), qc["status"]))
    pair_role = dict(zip(qc["name"].map(channel_pair, na_action="ignore"), qc["role"]))
    keep = [i for i, name in enumerate(haemo.ch_names)
            if pair_status[channel_pair(name)] == "good" and pair_role[channel_pair(name)] != "unused"]
    names = [haemo.ch_names[i] for i in keep]
    resampled = haemo.info["sfreq"] < native_sfreq
    bad = fitted_mask(annotation_spans(haemo), ch_names=names, times=haemo.times,
                      margin=1 / haemo.info["sfreq"] if resampled else 0.0)
    return Haemoglobin(
        data=haemo.get_data(picks=keep).T * MOLAR_TO_MICROMOLAR,
        times=haemo.times.copy(),
        sfreq=float(haemo.info["sfreq"]),
        native_sfreq=native_sfreq,
        native_times=native_times,
        ch_names=names,
        pairs=[channel_pair(n) for n in names],
        chroma=[channel_chroma(n) for n in names],
        role=[pair_role[channel_pair(n)] for n in names],
        x_position=np.array([haemo.info["chs"][i]["loc"][0] for i in keep]),
        raw=haemo,
        motion_transitions=transitions,
        motion_local=local,
        resample_method=options.resample_method,
        bad=bad,
    )


def _remove_level_shifts(od, qc: pd.DataFrame):
    """(od without level shifts, number of cap-wide transitions, optode -> number of its own transitions):
    transitions found on the good channels that are used (long and short), removed from every channel (an
    optode's from the channels of its pairs)."""
    from bids_app.first_level.level_shifts import correct, remove_transitions

    status, role = dict(zip(qc["name"], qc["status"])), dict(zip(qc["name"], qc["role"]))
    used = np.array([status[name] == "good" and role[name] != "unused" for name in od.ch_names])
    optodes = np.array([tuple(channel_pair(name).split("_")) for name in od.ch_names], dtype=object)
    sfreq, data = float(od.info["sfreq"]), od.get_data()
    data[used], transitions = correct(data[used], sfreq=sfreq, channel_optodes=list(optodes[used]))
    data[~used] = remove_transitions(data[~used], sfreq=sfreq, transitions=transitions,
                                     channel_optodes=list(optodes[~used]))
    od = od.copy()
    od._data[:] = data
    return od, len(transitions.cap), {optode: len(rows) for optode, rows in sorted(transitions.local.items())}


def _midpoint(loc) -> dict[str, float]:
    """The channel's position (midpoint of source and detector, metres) as MNE holds it."""
    return {axis: round(float(value), 6) for axis, value in zip(("x", "y", "z"), loc[:3])}


def _described(described: pd.DataFrame, name: str, column: str, default: str) -> str:
    value = described.at[name, column] if column in described.columns else None
    return default if value is None or pd.isna(value) else str(value)


def _quality_metrics(od) -> tuple[np.ndarray, np.ndarray, str, np.ndarray]:
    """Per channel, the value of its source-detector pair (see bids_app.first_level.quality): scalp coupling index and
    peak spectral power (NaN where they cannot be computed), why not, and the motion burden."""
    from bids_app.first_level import quality

    data, n_channels = od.get_data(), len(od.ch_names)
    groups = quality.wavelength_groups(od.ch_names, [ch["loc"][9] for ch in od.info["chs"]])

    def per_channel(values):
        return quality.per_channel(values, groups=groups, n_channels=n_channels)

    burden = per_channel(quality.motion_burden(data, groups=groups))
    try:
        band = quality.cardiac_band(data, sfreq=od.info["sfreq"])
    except ValueError as exc:  # e.g. a sampling rate too low for the 0.7-1.5 Hz cardiac band
        return np.full(n_channels, np.nan), np.full(n_channels, np.nan), str(exc), burden
    sci = per_channel(quality.scalp_coupling_index(band, groups=groups))
    sci[np.ptp(data, axis=1) == 0] = 0.0  # as MNE: a constant optical density does not couple
    psp = per_channel(quality.peak_spectral_power(band, sfreq=od.info["sfreq"], groups=groups))
    return sci, psp, f"the recording is shorter than one {quality.PSP_WINDOW_S:g} s window", burden
