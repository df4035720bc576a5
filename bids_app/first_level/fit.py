"""The first level of one recording, in memory: fit_recording(RecordingInputs) -> FirstLevelResult.

Channel quality, haemoglobin, design, the GLM of every long channel and ROI signal, the FIR model of the response
waveforms, block averages, and their tables. Nothing is read or written here (see bids_app.inputs and
bids_app.first_level.write).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bids_app.channels import channel_chroma, channel_pair
from bids_app.errors import RecordingError
from bids_app.first_level.noise_model import NoiseModel
from bids_app.inputs import RecordingInputs, WarningList


@dataclass(frozen=True)
class FirstLevelResult:
    """Everything the first level found in one recording, and the tables written from it."""

    source: str  # the recording's path
    qc: pd.DataFrame  # every channel of channels.tsv: position, quality, role, status and why
    design: pd.DataFrame  # the design matrix fitted (one row per sample of the fitted signals)
    conditions: list[str]
    short_regressors: list[str]  # design columns that are short-channel regressors
    sfreq: float  # sampling rate of the fitted signals and design (Hz)
    noise_model: NoiseModel  # of the GLM and the FIR model (per-signal AR orders: ar_order of the tables)
    condition_vif: dict[str, float]
    rois: dict[str, list[str]]  # ROI -> its good long pairs
    roi_definitions: dict | None  # the ROI file's regions (pairs, or atlas labels), None without one
    contrasts: dict[str, dict[str, float]]  # the contrasts of the recording's conditions: expression -> weights
    coordinate_system: str | None
    channel_stats: pd.DataFrame
    roi_stats: pd.DataFrame
    contrast_stats: pd.DataFrame | None  # None without contrasts
    waveform_stats: pd.DataFrame
    block_average_stats: pd.DataFrame
    warnings: tuple[str, ...]  # everything said while reading and fitting the recording
    signals: object  # first_level.signals.RecordingSignals: what the recording figures draw
    motion_transitions: int | None = None  # transitions whose level shifts were removed (level-shifts only)
    motion_local: dict[str, int] | None = None  # level-shifts: optode -> transitions of its channels alone
    anatomy: object = None  # anatomy.recording.RecordingAnatomy; None without 3-D head positions


def fit_recording(inputs: RecordingInputs, *, options, contrasts: dict[str, dict[str, float]],
                  warn: Callable[[str], None]) -> FirstLevelResult:
    """The first level of ``inputs`` with the participant-level ``options``; ``contrasts``: expression ->
    weights (those with a condition the recording lacks are skipped, with a warning). Warnings, also the
    libraries', go to ``warn``; RecordingError when the recording cannot be analysed."""
    said = WarningList(warn, said=inputs.warnings)
    with said.capturing():
        return _fit_recording(inputs, options=options, contrasts=contrasts, warn=said)


def _fit_recording(inputs: RecordingInputs, *, options, contrasts, warn: WarningList) -> FirstLevelResult:
    from bids_app.anatomy.recording import recording_anatomy
    from bids_app.first_level.block_average import block_average_table
    from bids_app.first_level.collinearity import collinearity_warnings, condition_vif
    from bids_app.first_level.design import build_design
    from bids_app.first_level.fir import fir_design, waveform_table
    from bids_app.first_level.limits import check_length, check_responses_fit
    from bids_app.first_level.preprocessing import assess_channels, to_haemoglobin
    from bids_app.first_level.rois import resolve_rois, roi_signal_indices
    from bids_app.first_level.signals import recording_signals
    from bids_app.first_level.tables import channel_table, contrast_table, roi_table

    source, events = inputs.source, inputs.events
    anatomy = recording_anatomy(inputs.raw.info, coordinate_system=inputs.coordinate_system,
                                landmarks=inputs.landmarks, atlas=None if options.atlas == "none" else options.atlas,
                                warn=warn)
    qc, od = assess_channels(inputs.raw, inputs.channels, options=options, warn=warn)
    haemo = to_haemoglobin(od, qc, options=options)
    long_rows = np.flatnonzero(haemo.select(role="long"))
    if not len(long_rows):
        raise RecordingError(f"{source}: no good long channel to analyse "
                             f"({int((qc['status'] == 'bad').sum())} of {len(qc)} channels are bad)")

    recording_s = len(haemo.native_times) / haemo.native_sfreq
    check_responses_fit(events, recording_s=recording_s, hrf=options.hrf, source=source, warn=warn)
    check_length(recording_s=recording_s, warn=warn)
    drawn = recording_signals(od, haemo.raw, qc, events)
    design, short_names = build_design(events, haemo, options=options, warn=warn)
    conditions = sorted(events["trial_type"].unique())
    vif = condition_vif(design, conditions)
    for message in collinearity_warnings(design, vif):
        warn(message)
    contrasts = _contrasts_of_recording(contrasts, conditions, warn=warn)

    long_pairs = sorted(set(qc.loc[qc["role"] == "long", "name"].map(channel_pair, na_action="ignore")))
    rois = resolve_rois(roi_definitions=inputs.roi_definitions, long_pairs=long_pairs, haemo=haemo,
                        coordinate_system=inputs.coordinate_system, source=source, anatomy=anatomy,
                        warn=warn)
    roi_indices = roi_signal_indices(rois, haemo)
    roi_signals, roi_rows = [], {}
    for key, indices in roi_indices.items():
        roi_rows[key] = haemo.data.shape[1] + len(roi_signals) if len(indices) else None
        if len(indices):
            roi_signals.append(haemo.data[:, indices].mean(axis=1))
    Y = np.column_stack([haemo.data] + roi_signals)
    bad = None  # the samples left out of each signal's fit: an ROI's those of any of its channels
    if haemo.bad is not None:
        bad = np.column_stack([haemo.bad] + [haemo.bad[:, indices].any(axis=1)
                                             for indices in roi_indices.values() if len(indices)])

    noise_model = NoiseModel.resolve(options.noise_model, sfreq=haemo.sfreq,
                                     bias_correction=options.ar_bias_correction)
    fit = _fit(Y, design, noise_model=noise_model, bad=bad, what="the GLM", source=source)
    signal_names = haemo.ch_names + [" ".join(map(str, key)) if isinstance(key, tuple) else str(key)
                                     for key, row in roi_rows.items() if row is not None]
    fir, bins = fir_design(events, haemo, design=design, conditions=conditions, window=options.fir_window,
                           native=options.design_rate == "native")
    fir_fit = _fit(Y, fir, noise_model=noise_model, bad=bad, what="the FIR model of the response waveforms",
                   source=source)
    if bad is not None:
        fit, fir_fit = _without_unsupported(fit, fir_fit, design=design, fir=fir, bins=bins, bad=bad,
                                            conditions=conditions, names=signal_names, warn=warn)

    columns = list(design.columns)
    signals = _waveform_signals(roi_rows, ch_names=haemo.ch_names, rows=long_rows)
    tables = {
        "channel_stats": channel_table(fit, ch_names=haemo.ch_names, design_columns=columns, conditions=conditions,
                                       rows=long_rows),
        "roi_stats": roi_table(fit, roi_rows=roi_rows, n_channels={k: len(v) for k, v in roi_indices.items()},
                               design_columns=columns, conditions=conditions),
        "waveform_stats": waveform_table(fir_fit, bins=bins, signals=signals),
        "block_average_stats": block_average_table(events, Y, sfreq=haemo.sfreq, conditions=conditions,
                                                   window=options.fir_window, signals=signals, bad=bad),
        "contrast_stats": contrast_table(fit, ch_names=haemo.ch_names, design_columns=columns, contrasts=contrasts,
                                         rows=long_rows) if contrasts else None,
    }
    return FirstLevelResult(
        source=source, qc=qc, design=design, conditions=conditions, short_regressors=short_names,
        sfreq=haemo.sfreq, noise_model=noise_model, condition_vif=vif, rois=rois,
        roi_definitions=inputs.roi_definitions, contrasts=contrasts,
        coordinate_system=inputs.coordinate_system, **tables, warnings=tuple(warn.messages), signals=drawn,
        motion_transitions=haemo.motion_transitions, motion_local=haemo.motion_local, anatomy=anatomy)


def _without_unsupported(fit, fir_fit, *, design: pd.DataFrame, fir: pd.DataFrame, bins: pd.DataFrame,
                         bad: np.ndarray, conditions: list[str], names: list[str], warn):
    """The fits with the effects that the kept samples do not support not estimated (bad_samples.unsupported),
    said per condition with the signals concerned."""
    from bids_app.first_level.bad_samples import blank, unsupported

    columns = [design.columns.get_loc(c) for c in conditions]
    mask = unsupported(design.to_numpy(), bad, columns)
    for j, condition in enumerate(conditions):
        hit = [names[s] for s in np.flatnonzero(mask[:, j])]
        if hit:
            shown = ", ".join(hit[:6]) + (f" and {len(hit) - 6} more" if len(hit) > 6 else "")
            warn(f"{condition!r} not estimated on {len(hit)} signal(s) whose bad segments leave less than half of "
                 f"its regressor or of the samples: {shown}")
    fir_columns = list(range(len(bins)))
    return blank(fit, mask, columns), blank(fir_fit, unsupported(fir.to_numpy(), bad, fir_columns), fir_columns)


def _fit(Y: np.ndarray, design: pd.DataFrame, *, noise_model: NoiseModel, bad: np.ndarray | None, what: str,
         source: str):
    """The fit of the signals ``Y`` on ``design`` with ``noise_model``, each signal's ``bad`` samples left out."""
    from bids_app.first_level.bad_samples import fit_with_bad_samples

    try:
        return fit_with_bad_samples(noise_model.fit, Y, design.to_numpy(), bad)
    except ValueError as exc:
        raise RecordingError(f"{source}: {what} cannot be fitted ({exc})") from None


def _waveform_signals(roi_rows: dict, *, ch_names: list[str], rows: np.ndarray) -> dict:
    """{(roi, ch_name, chroma): row in the fit} for the waveform table: ROIs (with good channels) first,
    then the long channels in natural order."""
    from bids_app.channels import natural_key

    signals = {(roi, "n/a", chroma): row for (roi, chroma), row in sorted(roi_rows.items()) if row is not None}
    for row in sorted(rows, key=lambda r: natural_key(ch_names[r])):
        signals[("n/a", ch_names[row], channel_chroma(ch_names[row]))] = int(row)
    return signals


def _contrasts_of_recording(contrasts: dict[str, dict[str, float]], conditions: list[str], *,
                            warn: Callable[[str], None]) -> dict[str, dict[str, float]]:
    """The contrasts whose conditions all occur in this recording; the others are skipped, said."""
    kept = {}
    for expression, weights in contrasts.items():
        missing = [c for c in weights if c not in conditions]
        if missing:
            warn(f"contrast {expression!r} skipped: condition(s) {', '.join(missing)} not in this recording")
        else:
            kept[expression] = weights
    return kept
