"""Participant level: one first-level GLM per recording, written as BIDS-Derivatives."""

from __future__ import annotations

import logging
import time
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bids_app.config import Config
from bids_app.errors import FnirsGlmError, RecordingError, UsageError

logger = logging.getLogger("fnirs_glm")


@dataclass
class Outcome:
    recording: str
    status: str  # "done" | "failed"
    seconds: float
    message: str = ""
    warnings: list[str] = field(default_factory=list)


def run_participant_level(config: Config) -> int:
    from bids_app.contrasts import parse_contrast
    from bids_app.dataset import condition_names, find_recordings, validate_bids
    from bids_app.derivatives import write_dataset_files
    from bids_app.logs import write_run_log
    from bids_app.rois import read_roi_file

    if not config.skip_bids_validator and validate_bids(config.bids_dir) is None:
        logger.info("bids-validator-deno is not installed: the input is not validated")
    recordings = find_recordings(config)
    if config.analysis.roi_file:
        read_roi_file(config.analysis.roi_file)
    conditions = sorted(set().union(*(condition_names(r) for r in recordings)))
    for expression in config.analysis.contrast:
        parse_contrast(expression, conditions)

    import mne

    mne.set_log_level("error" if config.verbose < 2 else "info")
    logger.info(f"{len(recordings)} recording(s) to analyse with {config.n_cpus} process(es)")
    write_dataset_files(config.output_dir, bids_dir=config.bids_dir)
    started = time.time()
    if config.n_cpus == 1:
        outcomes = [_report(process_recording(r, config=config)) for r in recordings]
    else:
        with ProcessPoolExecutor(max_workers=config.n_cpus) as pool:
            futures = {pool.submit(process_recording, r, config=config): r for r in recordings}
            outcomes = [_report(_result(future, futures[future])) for future in futures]
    write_run_log(config, outcomes=outcomes, started=started)
    failed = [o for o in outcomes if o.status == "failed"]
    logger.info(f"{len(outcomes) - len(failed)} done, {len(failed)} failed; derivatives in {config.output_dir}")
    for outcome in failed:
        logger.error(outcome.message)
    return 1 if failed else 0


def _result(future, bids_path) -> Outcome:
    """A worker's outcome; a worker that died (e.g. out of memory) fails only its recording."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - BrokenProcessPool and the like
        return Outcome(Path(bids_path.fpath).name, "failed", 0.0,
                       f"{bids_path.fpath}: the worker process failed ({type(exc).__name__}: {exc})")


def _report(outcome: Outcome) -> Outcome:
    if outcome.status == "done":
        logger.info(f"{outcome.recording}: done in {outcome.seconds:.1f} s")
    return outcome


def process_recording(bids_path, *, config: Config) -> Outcome:
    """Analyse one recording and write its outputs; never raises (failures are returned)."""
    name = Path(bids_path.fpath).name
    started = time.perf_counter()
    warn = RecordingWarnings(name)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            warnings.simplefilter("always", RuntimeWarning)
            files = analyse_recording(bids_path, config=config, warn=warn)
        for message in dict.fromkeys(" ".join(str(w.message).split()) for w in caught
                                     if issubclass(w.category, (UserWarning, RuntimeWarning))):
            warn(message)
        _write_all(files)
        return Outcome(name, "done", time.perf_counter() - started, warnings=warn.messages)
    except Exception as exc:  # noqa: BLE001 - one recording's failure must not stop the others
        if config.verbose:
            traceback.print_exc()
        message = str(exc)
        if not isinstance(exc, FnirsGlmError):
            message = f"unexpected error ({type(exc).__name__}: {exc}); rerun with -v for details"
        if not message.startswith("/"):  # name the file when the message does not
            message = f"{bids_path.fpath}: {message}"
        return Outcome(name, "failed", time.perf_counter() - started, message, warn.messages)


class RecordingWarnings:
    """Collects a recording's warnings (for its QC sidecar) and logs each one."""

    def __init__(self, recording: str):
        self.recording = recording
        self.messages: list[str] = []

    def __call__(self, message: str) -> None:
        self.messages.append(message)
        logger.warning(f"{self.recording}: {message}")


def analyse_recording(bids_path, *, config: Config, warn: RecordingWarnings) -> dict[Path, str]:
    """All output files of one recording, as {path: text}, computed before anything is written."""
    from bids_app import sidecars
    from bids_app.contrasts import parse_contrast
    from bids_app.derivatives import json_text, output_path, tsv_text
    from bids_app.design import build_design
    from bids_app.events import read_events
    from bids_app.glm import fit_glm, noise_model_order
    from bids_app.preprocessing import assess_channels, to_haemoglobin
    from bids_app.recording import coordinate_system, read_channels_tsv, read_raw_intensity
    from bids_app.rois import read_roi_file, resolve_rois, roi_signal_indices
    from bids_app.tables import channel_table, contrast_table, roi_table

    options = config.analysis
    source = str(bids_path.fpath)
    raw = read_raw_intensity(bids_path)
    events = read_events(bids_path, duration_s=raw.times[-1] + 1 / raw.info["sfreq"],
                         stim_dur=options.stim_dur, warn=warn)
    qc, od = assess_channels(raw, read_channels_tsv(bids_path), options=options, warn=warn)
    haemo = to_haemoglobin(od, qc, options=options)
    long_rows = np.flatnonzero(haemo.select(role="long"))
    if not len(long_rows):
        raise RecordingError(f"{source}: no good long channel to analyse "
                             f"({int((qc['status'] == 'bad').sum())} of {len(qc)} channels are bad)")

    design = build_design(events, haemo, options=options, warn=warn)
    conditions = sorted(events["trial_type"].unique())
    contrasts = {}
    for expression in options.contrast:
        try:
            contrasts[expression] = parse_contrast(expression, conditions)
        except UsageError as exc:
            raise RecordingError(f"{source}: {exc}") from None

    long_pairs = sorted(set(qc.loc[qc["role"] == "long", "name"].str.split(" ").str[0]))
    rois = resolve_rois(roi_definitions=read_roi_file(options.roi_file) if options.roi_file else None,
                        long_pairs=long_pairs, haemo=haemo,
                        coordinate_system=coordinate_system(bids_path), source=source)
    roi_indices = roi_signal_indices(rois, haemo)
    roi_signals, roi_rows = [], {}
    for key, indices in roi_indices.items():
        roi_rows[key] = haemo.data.shape[1] + len(roi_signals) if len(indices) else None
        if len(indices):
            roi_signals.append(haemo.data[:, indices].mean(axis=1))
    Y = np.column_stack([haemo.data] + roi_signals)

    ar_order = noise_model_order(options.noise_model, sfreq=haemo.sfreq)
    try:
        fit = fit_glm(Y, design.to_numpy(), ar_order=ar_order)
    except ValueError as exc:
        raise RecordingError(f"{source}: the GLM cannot be fitted ({exc})") from None

    columns = list(design.columns)
    short_names = [c for c in columns if c.startswith("short_")]
    out = config.output_dir

    def path(suffix, extension, description=None):
        return output_path(bids_path, out, suffix=suffix, extension=extension, description=description)

    files = {
        path("design", ".tsv"): tsv_text(design),
        path("design", ".json"): json_text(sidecars.design_sidecar(
            design_columns=columns, conditions=conditions, sfreq=haemo.sfreq, options=options,
            ar_order=ar_order, short_regressors=short_names)),
        path("stats", ".tsv", "channel"): tsv_text(channel_table(
            fit, ch_names=haemo.ch_names, design_columns=columns, conditions=conditions, rows=long_rows)),
        path("stats", ".json", "channel"): json_text(sidecars.channel_stats_sidecar(noise_model=fit.noise_model)),
        path("stats", ".tsv", "roi"): tsv_text(roi_table(
            fit, roi_rows=roi_rows, n_channels={k: len(v) for k, v in roi_indices.items()},
            design_columns=columns, conditions=conditions)),
        path("stats", ".json", "roi"): json_text(sidecars.roi_stats_sidecar(rois=rois, noise_model=fit.noise_model)),
        path("channels", ".tsv", "qc"): tsv_text(qc),
        path("channels", ".json", "qc"): json_text(sidecars.qc_channels_sidecar(
            sci_threshold=options.sci_threshold, warnings=list(warn.messages))),
    }
    if contrasts:
        files[path("stats", ".tsv", "contrast")] = tsv_text(contrast_table(
            fit, ch_names=haemo.ch_names, design_columns=columns, contrasts=contrasts, rows=long_rows))
        files[path("stats", ".json", "contrast")] = json_text(
            sidecars.contrast_stats_sidecar(contrasts=contrasts, noise_model=fit.noise_model))
    return files


def _write_all(files: dict[Path, str]) -> None:
    """Write a recording's files; if one cannot be written, remove those already written."""
    from bids_app.derivatives import write_atomic

    written = []
    try:
        for path, text in files.items():
            write_atomic(path, text)
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
