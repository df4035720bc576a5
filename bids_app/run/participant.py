"""Participant level: one first-level GLM per recording, written as BIDS-Derivatives."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
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
    status: str  # "done" | "skipped" | "failed"
    seconds: float
    message: str = ""
    warnings: list[str] = field(default_factory=list)


def run_participant_level(config: Config) -> int:
    from bids_app.dataset import condition_names, find_recordings
    from bids_app.derivatives import write_dataset_files
    from bids_app.first_level.contrasts import parse_contrast
    from bids_app.first_level.rois import read_roi_file
    from bids_app.logs import write_run_log
    from bids_app.validation import say, validate_input

    recordings = find_recordings(config)
    if config.first_level.roi_file:
        read_roi_file(config.first_level.roi_file)
    conditions = sorted(set().union(*(condition_names(r) for r in recordings)))
    contrasts = {expression: parse_contrast(expression, conditions)
                 for expression in config.first_level.contrast}
    validation = validate_input(config.bids_dir, skip_validator=config.skip_bids_validator)
    say(validation)

    _init_worker(config.verbose)
    logger.info(f"{len(recordings)} recording(s) to analyse with {config.n_cpus} process(es)")
    try:
        write_dataset_files(config.output_dir, bids_dir=config.bids_dir)
    except OSError as exc:
        raise UsageError(f"{config.output_dir}: cannot write the output directory ({exc.strerror or exc})") from None
    started = time.time()
    subjects = sorted({r.subject for r in recordings})
    with Progress(total=len(recordings) + len(subjects)) as progress, _pool(config) as pool:
        recorded = progress.run(pool, [
            (Path(r.fpath).name, process_recording, {"bids_path": r, "config": config, "contrasts": contrasts})
            for r in recordings])
        reported = progress.run(pool, [
            (f"sub-{s}.html", write_participant_report,
             {"output_dir": config.output_dir, "subject": s, "overwrite": config.overwrite})
            for s in subjects])
    write_run_log(config, outcomes=recorded, reports=reported, started=started, validation=validation)
    log_summary(recorded, reported)
    logger.info(f"derivatives in {config.output_dir}")
    return 1 if any(o.status == "failed" for o in recorded + reported) else 0


def _pool(config: Config):
    """A process pool for ``--n_cpus`` > 1; None (run here, one after the other) for 1."""
    if config.n_cpus == 1:
        return contextlib.nullcontext()
    return ProcessPoolExecutor(max_workers=config.n_cpus, initializer=_init_worker, initargs=(config.verbose,))


class Progress:
    """One log line per finished item ("[3/10] name: done in 1.2 s"), and a bar on a terminal."""

    def __init__(self, *, total: int):
        self.total, self.finished = total, 0
        self._bar = self._redirect = None
        if sys.stderr.isatty():
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._bar = tqdm(total=total, unit="item", leave=False, file=sys.stderr)
            self._redirect = logging_redirect_tqdm(loggers=[logger])

    def __enter__(self):
        if self._redirect is not None:
            self._redirect.__enter__()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._redirect.__exit__(*exc)
            self._bar.close()
        return False

    def run(self, pool, jobs: list[tuple[str, object, dict]]) -> list[Outcome]:
        """Outcomes of ``jobs`` (name, function, keyword arguments) in their order, each reported when
        it finishes; in ``pool`` when given, else here one after the other."""
        if pool is None:
            return [self._report(job[1](**job[2])) for job in jobs]
        from concurrent.futures import as_completed

        futures = {pool.submit(function, **kwargs): name for name, function, kwargs in jobs}
        done = {}
        for future in as_completed(futures):
            done[future] = self._report(_result(future, futures[future]))
        return [done[future] for future in futures]

    def _report(self, outcome: Outcome) -> Outcome:
        self.finished += 1
        text = f"[{self.finished}/{self.total}] {outcome.recording}: {outcome.status} in {outcome.seconds:.1f} s"
        note = " (the error is listed at the end)" if outcome.status == "failed" else (
            f" ({outcome.message})" if outcome.message else "")
        logger.info(text + note)
        if self._bar is not None:
            self._bar.update()
        return outcome


def log_summary(recorded: list[Outcome], reported: list[Outcome]) -> None:
    """A table of every item's status and time, the counts, then one error line per failure."""
    items = recorded + reported
    width = max([len(o.recording) for o in items] + [4])
    lines = [f"{'item':<{width}}  {'status':<8} {'seconds':>8}"]
    lines += [f"{o.recording:<{width}}  {o.status:<8} {o.seconds:>8.1f}" for o in items]
    logger.info("summary:\n" + "\n".join(lines))

    def counts(outcomes):
        return ", ".join(f"{sum(o.status == s for o in outcomes)} {s}" for s in ("done", "failed", "skipped"))

    logger.info(f"recordings: {counts(recorded)}; reports: {counts(reported)}")
    for outcome in items:
        if outcome.status == "failed":
            logger.error(outcome.message)


def _init_worker(verbose: int) -> None:
    """Logging and MNE verbosity, in this process and in each worker whatever the start method."""
    import mne

    from bids_app.logs import setup_logging

    setup_logging(verbose)
    mne.set_log_level("error" if verbose < 2 else "info")


def _result(future, name: str) -> Outcome:
    """A worker's outcome; a worker that died (e.g. out of memory) fails only its item."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - BrokenProcessPool and the like
        return Outcome(name, "failed", 0.0, f"{name}: the worker process failed ({type(exc).__name__}: {exc})")


def write_participant_report(output_dir: Path, *, subject: str, overwrite: bool = False) -> Outcome:
    """Write ``sub-<label>.html`` from the participant's outputs; never raises.

    The report records a digest of the design sidecars it was built from (each recording's version,
    options, input checksums and outputs) and is skipped when that digest is unchanged.
    """
    from bids_app.derivatives import write_atomic
    from bids_app.report.participant import participant_report, recording_stems, report_digest, written_digest

    path = output_dir / f"sub-{subject}.html"
    started = time.perf_counter()
    stems = recording_stems(output_dir, subject=subject)
    if not stems:
        path.unlink(missing_ok=True)
        return Outcome(path.name, "skipped", 0.0, "no recording of this participant has outputs")
    digest = report_digest(stems)
    if not overwrite and written_digest(path) == digest:
        return Outcome(path.name, "skipped", 0.0, "built from the same outputs")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            write_atomic(path, participant_report(output_dir, subject=subject, digest=digest))
        return Outcome(path.name, "done", time.perf_counter() - started)
    except Exception as exc:
        logger.debug("report failed", exc_info=True)
        return Outcome(path.name, "failed", time.perf_counter() - started,
                       f"{path}: report not written ({type(exc).__name__}: {exc})")


def process_recording(bids_path, *, config: Config, contrasts: dict[str, dict[str, float]]) -> Outcome:
    """Analyse one recording and write its outputs; never raises (failures are returned).

    Outputs of this recording from an earlier run that this run does not rewrite are removed,
    also when it fails, so the output directory never mixes results of different runs.
    """
    from bids_app.first_level.sidecars import generated_by
    from bids_app.inputs import input_fingerprint

    name = Path(bids_path.fpath).name
    started = time.perf_counter()
    warn = RecordingWarnings(name)
    try:
        inputs = input_fingerprint(bids_path, roi_file=config.first_level.roi_file)
        record = json.loads(json.dumps(generated_by(config.first_level, inputs=inputs)))
        existing = _existing_record(bids_path, config.output_dir)
        previous = None if existing is None else existing.get("GeneratedBy", {})
        if previous == record and not config.overwrite and _all_exist(existing.get("Outputs"), bids_path, config):
            return Outcome(name, "skipped", time.perf_counter() - started,
                           "outputs of the same version, options and inputs exist; --overwrite redoes them")
        if previous is not None and previous != record:
            logger.warning(f"{name}: replacing outputs made with {_difference(previous, record)}")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = warn.from_library
            files = analyse_recording(bids_path, config=config, contrasts=contrasts, inputs=inputs, warn=warn)
        _write_all(files)
        _remove_outputs(bids_path, config.output_dir, keep=set(files))
        return Outcome(name, "done", time.perf_counter() - started, warnings=warn.messages)
    except Exception as exc:  # noqa: BLE001 - one recording's failure must not stop the others
        if config.verbose:
            traceback.print_exc()
        _remove_outputs(bids_path, config.output_dir, keep=set())
        message = str(exc)
        if not isinstance(exc, FnirsGlmError):
            message = f"unexpected error ({type(exc).__name__}: {exc}); rerun with -v for details"
        if not message.startswith("/"):  # name the file when the message does not
            message = f"{bids_path.fpath}: {message}"
        return Outcome(name, "failed", time.perf_counter() - started, " ".join(message.split()),
                       warn.messages)


class RecordingWarnings:
    """Collects a recording's warnings (for its QC sidecar) and logs each one."""

    def __init__(self, recording: str):
        self.recording = recording
        self.messages: list[str] = []

    def __call__(self, message: str) -> None:
        message = " ".join(message.split())
        if message not in self.messages:
            self.messages.append(message)
            logger.warning(f"{self.recording}: {message}")

    def from_library(self, message, category, *_args, **_kwargs) -> None:
        """``warnings.showwarning`` replacement: library warnings that matter become ours."""
        if issubclass(category, (UserWarning, RuntimeWarning)):
            self(str(message))


def analyse_recording(bids_path, *, config: Config, contrasts: dict[str, dict[str, float]],
                      warn: RecordingWarnings, inputs: dict[str, str] | None = None) -> dict[Path, str]:
    """All output files of one recording, as {path: text}, computed before anything is written.

    ``inputs``: checksums of the input files (see recording.input_fingerprint), computed when not given.
    """
    from bids_app.derivatives import json_text, output_path, tsv_text
    from bids_app.first_level import sidecars
    from bids_app.first_level.block_average import block_average_table
    from bids_app.first_level.collinearity import collinearity_warnings, condition_vif
    from bids_app.first_level.design import build_design
    from bids_app.first_level.events import read_events
    from bids_app.first_level.fir import fir_design, waveform_table
    from bids_app.first_level.glm import noise_model_order
    from bids_app.first_level.preprocessing import assess_channels, to_haemoglobin
    from bids_app.first_level.rois import read_roi_file, resolve_rois, roi_signal_indices
    from bids_app.first_level.tables import channel_table, contrast_table, roi_table
    from bids_app.inputs import coordinate_system, input_fingerprint, read_channels_tsv, read_raw_intensity

    options = config.first_level
    source = str(bids_path.fpath)
    if inputs is None:
        inputs = input_fingerprint(bids_path, roi_file=options.roi_file)
    raw = read_raw_intensity(bids_path)
    events = read_events(bids_path, duration_s=raw.times[-1] + 1 / raw.info["sfreq"],
                         stim_dur=options.stim_dur, warn=warn)
    qc, od = assess_channels(raw, read_channels_tsv(bids_path), options=options, warn=warn)
    haemo = to_haemoglobin(od, qc, options=options)
    long_rows = np.flatnonzero(haemo.select(role="long"))
    if not len(long_rows):
        raise RecordingError(f"{source}: no good long channel to analyse "
                             f"({int((qc['status'] == 'bad').sum())} of {len(qc)} channels are bad)")

    design, short_names = build_design(events, haemo, options=options, warn=warn)
    conditions = sorted(events["trial_type"].unique())
    vif = condition_vif(design, conditions)
    for message in collinearity_warnings(design, vif):
        warn(message)
    contrasts = _contrasts_of_recording(contrasts, conditions, warn=warn)

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
    fit = _fit(Y, design, noise_model=options.noise_model, ar_order=ar_order, what="the GLM", source=source)
    fir, bins = fir_design(events, haemo, design=design, conditions=conditions, window=options.fir_window,
                           native=options.design_rate == "native")
    fir_fit = _fit(Y, fir, noise_model=options.noise_model, ar_order=ar_order,
                   what="the FIR model of the response waveforms", source=source)

    columns = list(design.columns)
    signals = _waveform_signals(roi_rows, ch_names=haemo.ch_names, rows=long_rows)
    out = config.output_dir

    def path(suffix, extension, description=None):
        return output_path(bids_path, out, suffix=suffix, extension=extension, description=description)

    files = {
        path("design", ".tsv"): tsv_text(design),
        path("stats", ".tsv", "channel"): tsv_text(channel_table(
            fit, ch_names=haemo.ch_names, design_columns=columns, conditions=conditions, rows=long_rows)),
        path("stats", ".json", "channel"): json_text(sidecars.channel_stats_sidecar(noise_model=fit.noise_model)),
        path("stats", ".tsv", "roi"): tsv_text(roi_table(
            fit, roi_rows=roi_rows, n_channels={k: len(v) for k, v in roi_indices.items()},
            design_columns=columns, conditions=conditions)),
        path("stats", ".json", "roi"): json_text(sidecars.roi_stats_sidecar(rois=rois, noise_model=fit.noise_model)),
        path("stats", ".tsv", "waveform"): tsv_text(waveform_table(fir_fit, bins=bins, signals=signals)),
        path("stats", ".json", "waveform"): json_text(sidecars.waveform_stats_sidecar(
            noise_model=fir_fit.noise_model, window=options.fir_window, bin_width=1 / haemo.sfreq,
            design_rate=options.design_rate)),
        path("stats", ".tsv", "blockaverage"): tsv_text(block_average_table(
            events, Y, sfreq=haemo.sfreq, conditions=conditions, window=options.fir_window, signals=signals)),
        path("stats", ".json", "blockaverage"): json_text(sidecars.block_average_sidecar(window=options.fir_window)),
        path("channels", ".tsv", "qc"): tsv_text(qc),
        path("channels", ".json", "qc"): json_text(sidecars.qc_channels_sidecar(
            sci_threshold=options.sci_threshold, psp_threshold=options.psp_threshold,
            coordinate_system=coordinate_system(bids_path),
            warnings=list(warn.messages))),
    }
    if contrasts:
        files[path("stats", ".tsv", "contrast")] = tsv_text(contrast_table(
            fit, ch_names=haemo.ch_names, design_columns=columns, contrasts=contrasts, rows=long_rows))
        files[path("stats", ".json", "contrast")] = json_text(
            sidecars.contrast_stats_sidecar(contrasts=contrasts, noise_model=fit.noise_model))
    design_json = path("design", ".json")  # the record of what made the outputs, and their list
    files[design_json] = json_text(sidecars.design_sidecar(
        design_columns=columns, conditions=conditions, sfreq=haemo.sfreq, options=options, ar_order=ar_order,
        short_regressors=short_names, condition_vif=vif, inputs=inputs,
        outputs=sorted(p.name for p in [*files, design_json])))
    return files


def _fit(Y: np.ndarray, design, *, noise_model: str, ar_order: int, what: str, source: str):
    """The fit of the signals ``Y`` on ``design`` with the noise model of the options."""
    from bids_app.first_level.glm import fit_noise_model

    try:
        return fit_noise_model(Y, design.to_numpy(), noise_model=noise_model, ar_order=ar_order)
    except ValueError as exc:
        raise RecordingError(f"{source}: {what} cannot be fitted ({exc})") from None


def _waveform_signals(roi_rows: dict, *, ch_names: list[str], rows: np.ndarray) -> dict:
    """{(roi, ch_name, chroma): row in the fit} for the waveform table: ROIs (with good channels) first,
    then the long channels in natural order."""
    from bids_app.first_level.preprocessing import natural_key

    signals = {(roi, "n/a", chroma): row for (roi, chroma), row in sorted(roi_rows.items()) if row is not None}
    for row in sorted(rows, key=lambda r: natural_key(ch_names[r])):
        signals[("n/a", ch_names[row], ch_names[row].split(" ")[1])] = int(row)
    return signals


def _write_all(files: dict[Path, str]) -> None:
    """Write a recording's files; if one cannot be written, remove those already written.

    The design sidecar, which records what produced the outputs and lists them, is removed first and
    written last: a run killed in between leaves no record, so the next run redoes the recording.
    """
    from bids_app.derivatives import write_atomic

    record = next(path for path in files if path.name.endswith("_design.json"))
    record.unlink(missing_ok=True)
    written = []
    try:
        for path in sorted(files, key=lambda p: p == record):  # the record last
            write_atomic(path, files[path])
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def _contrasts_of_recording(contrasts: dict[str, dict[str, float]], conditions: list[str], *,
                            warn: RecordingWarnings) -> dict[str, dict[str, float]]:
    """The contrasts whose conditions all occur in this recording; the others are skipped, said."""
    kept = {}
    for expression, weights in contrasts.items():
        missing = [c for c in weights if c not in conditions]
        if missing:
            warn(f"contrast {expression!r} skipped: condition(s) {', '.join(missing)} not in this recording")
        else:
            kept[expression] = weights
    return kept


def _existing_record(bids_path, output_dir: Path) -> dict | None:
    """The design sidecar of this recording's existing outputs: None without one, {} when unreadable."""
    from bids_app.derivatives import output_path

    path = output_path(bids_path, output_dir, suffix="design", extension=".json")
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _all_exist(names, bids_path, config: Config) -> bool:
    """Whether every output a design sidecar lists exists beside it."""
    from bids_app.derivatives import output_path

    folder = output_path(bids_path, config.output_dir, suffix="design", extension=".json").parent
    return bool(names) and all((folder / name).is_file() for name in names)


def _difference(previous: dict, record: dict) -> str:
    """What made earlier outputs differ: "fnirs-glm 0.0.9, other options (noise_model: ar1 -> auto)"."""
    if not previous:
        return "an unknown version (no readable record)"
    parts = [f"fnirs-glm {previous.get('Version', '?')}"]
    old, new = previous.get("Options", {}), record["Options"]
    changed = [f"{k}: {old.get(k)} -> {new.get(k)}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if changed:
        parts.append(f"other options ({'; '.join(changed)})")
    if previous.get("InputChecksums") != record["InputChecksums"]:
        old_inputs, new_inputs = previous.get("InputChecksums", {}), record["InputChecksums"]
        files = sorted(f for f in set(old_inputs) | set(new_inputs) if old_inputs.get(f) != new_inputs.get(f))
        parts.append(f"other inputs ({', '.join(files)} changed)")
    return ", ".join(parts)


OUTPUT_PATTERNS = ("design.*", "desc-*_stats.*", "desc-qc_channels.*")


def _remove_outputs(bids_path, output_dir: Path, *, keep: set[Path]) -> None:
    """Delete this recording's outputs (same entities) other than ``keep``."""
    from bids_app.derivatives import output_path

    sample = output_path(bids_path, output_dir, suffix="design", extension=".tsv")
    prefix = sample.name[: -len("design.tsv")]
    if not sample.parent.is_dir():
        return
    for pattern in OUTPUT_PATTERNS:
        for path in sample.parent.glob(prefix + pattern):
            if path not in keep and path.is_file():
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    logger.warning(f"{path}: earlier output not removed ({exc.strerror or exc})")
