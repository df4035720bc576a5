"""Participant level: one first-level GLM per recording, written as BIDS-Derivatives. Orchestration only:
which recordings, the input validation, reruns (skip, replace, remove stale outputs), the pool, the reports,
the run log."""

from __future__ import annotations

import logging
import time
import traceback
import warnings
from pathlib import Path

from bids_app.config import Config
from bids_app.errors import FnirsGlmError, OutputError, UsageError
from bids_app.execution import Outcome, Progress, init_worker, log_summary, pool
from bids_app.layout import MODEL, RecordingOutputs, participant_report_file

logger = logging.getLogger("fnirs_glm")


def run_participant_level(config: Config) -> int:
    from bids_app.dataset import condition_names, find_recordings
    from bids_app.derivatives import read_json, write_dataset_files
    from bids_app.temporaries import remove_stale_temporaries
    from bids_app.first_level.contrasts import parse_contrast
    from bids_app.first_level.rois import read_roi_file
    from bids_app.logs import write_run_log
    from bids_app.model.use import check_conditions, participant_model
    from bids_app.validation import say, validate_input

    recordings = find_recordings(config)
    if config.first_level.roi_file:
        read_roi_file(config.first_level.roi_file)
    conditions_of = {str(r.fpath): set(condition_names(r)) for r in recordings}
    check_conditions(config.model, conditions_of=conditions_of)
    conditions = sorted(set().union(*conditions_of.values()))
    contrasts = {expression: parse_contrast(expression, conditions) for expression in config.first_level.contrast}
    model = participant_model(config, conditions=conditions,
                              written=read_json(config.output_dir / MODEL))
    validation = validate_input(config.bids_dir, skip_validator=config.skip_bids_validator)
    say(validation)

    init_worker(config.verbose)
    subjects = sorted({r.subject for r in recordings})
    remove_stale_temporaries([config.output_dir], recursive=False)
    remove_stale_temporaries([config.output_dir / f"sub-{s}" for s in subjects], recursive=True)
    logger.info(f"{len(recordings)} recording(s) to analyse with {config.n_cpus} process(es)")
    try:
        write_dataset_files(config.output_dir, bids_dir=config.bids_dir, model=model)
    except OutputError as exc:  # found before any analysis
        raise UsageError(str(exc)) from None
    started = time.time()
    with (Progress(total=len(recordings) + len(subjects)) as progress,
          pool(n_cpus=config.n_cpus, verbose=config.verbose) as workers):
        recorded = progress.run(workers, [
            (Path(r.fpath).name, process_recording, {"bids_path": r, "config": config, "contrasts": contrasts})
            for r in recordings])
        reported = progress.run(workers, [
            (participant_report_file(config.output_dir, subject=s).name, write_participant_report,
             {"output_dir": config.output_dir, "subject": s, "overwrite": config.overwrite})
            for s in subjects])
    write_run_log(config, outcomes=recorded, reports=reported, started=started, validation=validation,
                  model=model)
    log_summary(recorded, reported)
    logger.info(f"derivatives in {config.output_dir}")
    return 1 if any(o.status == "failed" for o in recorded + reported) else 0


def write_participant_report(output_dir: Path, *, subject: str, overwrite: bool = False) -> Outcome:
    """Write ``sub-<label>.html`` from the participant's outputs; never raises.

    The report records a digest of the design sidecars it was built from (each recording's version,
    options, input checksums and outputs) and is skipped when that digest is unchanged.
    """
    from bids_app.derivatives import write_atomic
    from bids_app.report import participant as report

    path = participant_report_file(output_dir, subject=subject)
    started = time.perf_counter()
    recordings = RecordingOutputs.find(output_dir, subject=subject)
    if not recordings:
        path.unlink(missing_ok=True)
        return Outcome(path.name, "skipped", 0.0, "no recording of this participant has outputs")
    digest = report.report_digest(recordings)
    if not overwrite and report.written_digest(path) == digest:
        return Outcome(path.name, "skipped", 0.0, "built from the same outputs")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            write_atomic(path, report.participant_report(output_dir, subject=subject, digest=digest))
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
    from bids_app.bids_files import input_fingerprint
    from bids_app.first_level.fit import fit_recording
    from bids_app.first_level.write import Provenance, write_recording
    from bids_app.inputs import WarningList, load_recording

    name = Path(bids_path.fpath).name
    started = time.perf_counter()
    warn = WarningList(lambda message: logger.warning(f"{name}: {message}"))
    outputs = None
    try:
        options = config.first_level
        outputs = RecordingOutputs.of(bids_path, config.output_dir)
        provenance = Provenance.of(options, checksums=input_fingerprint(bids_path, roi_file=options.roi_file))
        record = provenance.record()
        existing = _existing_record(outputs)
        previous = None if existing is None else existing.get("GeneratedBy", {})
        if previous == record and not config.overwrite and _all_exist(existing.get("Outputs"), outputs):
            return Outcome(name, "skipped", time.perf_counter() - started,
                           "outputs of the same version, options and inputs exist; --overwrite redoes them")
        if previous is not None and previous != record:
            logger.warning(f"{name}: replacing outputs made with {_difference(previous, record)}")
        inputs = load_recording(bids_path, options=options, warn=warn, checksums=provenance.checksums)
        result = fit_recording(inputs, options=options, contrasts=contrasts, warn=warn)
        written = write_recording(result, outputs=outputs, provenance=provenance)
        _remove_outputs(outputs, keep=set(written))
        return Outcome(name, "done", time.perf_counter() - started, warnings=warn.messages)
    except Exception as exc:  # noqa: BLE001 - one recording's failure must not stop the others
        if config.verbose:
            traceback.print_exc()
        if outputs is not None:
            _remove_outputs(outputs, keep=set())
        message = str(exc)
        if not isinstance(exc, FnirsGlmError):
            message = f"unexpected error ({type(exc).__name__}: {exc}); rerun with -v for details"
        if not message.startswith("/"):  # name the file when the message does not
            message = f"{bids_path.fpath}: {message}"
        return Outcome(name, "failed", time.perf_counter() - started, " ".join(message.split()),
                       warn.messages)


def _existing_record(outputs: RecordingOutputs) -> dict | None:
    """The design sidecar of this recording's existing outputs: None without one, {} when unreadable."""
    from bids_app.derivatives import read_json

    return read_json(outputs.design_json) if outputs.design_json.exists() else None


def _all_exist(names, outputs: RecordingOutputs) -> bool:
    """Whether every output a design sidecar lists (relative to its folder) exists."""
    return bool(names) and all((outputs.folder / name).is_file() for name in names)


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


def _remove_outputs(outputs: RecordingOutputs, *, keep: set[Path]) -> None:
    """Delete this recording's outputs other than ``keep``."""
    for path in outputs.existing():
        if path not in keep:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                logger.warning(f"{path}: earlier output not removed ({exc.strerror or exc})")
