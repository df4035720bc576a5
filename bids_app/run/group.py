"""The group level (``fnirs-glm BIDS_DIR OUTPUT_DIR group``): collect the participant-level outputs, fit the
group tables of every task, write them with their sidecars, figures and report, and the run log.

The statistics: bids_app.group_level.models; what is read: bids_app.group_level.collect; the report:
bids_app.report.group.
"""

from __future__ import annotations

import logging
import time

import pandas as pd

from bids_app.config import Config
from bids_app.errors import UsageError
from bids_app.group_level.collect import GroupInputs

logger = logging.getLogger("fnirs_glm")

Results = dict[str, dict[str, tuple[pd.DataFrame, dict]]]  # task -> description -> (group table, its sidecar)


def run_group_level(config: Config) -> int:
    from bids_app.derivatives import write_dataset_files
    from bids_app.group_level.collect import collect, read_covariates
    from bids_app.layout import GroupOutputs
    from bids_app.logs import write_run_log
    from bids_app.temporaries import remove_stale_temporaries
    from bids_app.validation import say, validate_input

    started = time.time()
    remove_stale_temporaries([config.output_dir], recursive=True)
    covariates = (read_covariates(config.bids_dir, columns=config.group.group_covariates)
                  if config.group.group_covariates else None)
    # validated before any model is fitted; said (then the models' warnings) once the run is known to go ahead,
    # so that a usage error stays one line
    validation = validate_input(config.bids_dir, skip_validator=config.skip_bids_validator)
    inputs = collect(config.output_dir, bids_dir=config.bids_dir, participant_label=config.participant_label,
                     covariates=covariates)
    model, differences = _model(config, inputs)
    results, warnings_of_models = fit_group_tables(inputs, method=config.group.group_method,
                                                   tasks=config.task_label, differences=differences,
                                                   stats_model=stats_model_record(config, differences))
    if not results:
        for warning in warnings_of_models:
            logger.warning(warning)
        raise UsageError(f"{config.output_dir}: no task with at least 2 participants to aggregate")
    say(validation)
    for note in warnings_of_models + inputs.notes:
        logger.warning(note)
    write_dataset_files(config.output_dir, bids_dir=config.bids_dir, model=model)
    failed = False
    for task, task_results in results.items():
        failed |= not write_task(inputs, outputs=GroupOutputs(config.output_dir, task), results=task_results,
                                 q_threshold=config.group.topomap_q_threshold)
    write_run_log(config, outcomes=[], started=started, outputs=GroupOutputs.all_files(config.output_dir),
                  validation=validation, model=model)
    return 1 if failed else 0


def _model(config: Config, inputs: GroupInputs) -> tuple[dict, list | None]:
    """(the model of this run, the between-level rows its Dataset contrasts ask for or None): the --model
    checked against the participant outputs, else the model of the recorded options and the group options."""
    from bids_app.model.use import check_recorded_options, group_differences, group_model

    records = inputs.records(inputs.designs)
    roi = inputs.tables["roi"]
    levels = sorted(roi[inputs.group_by].astype(str).unique()) if inputs.group_by else []
    check_recorded_options(config.model, records=records, source=config.model_file)
    differences = group_differences(config.model, group_by=inputs.group_by, levels=levels, numeric=inputs.numeric,
                                    source=config.model_file)
    recorded = next((r["Options"] for r in records.values() if r.get("Options")), {})
    conditions = sorted(roi["condition"].unique(), key=str)
    return group_model(config, recorded=recorded, conditions=conditions,
                       group_levels={inputs.group_by: levels} if inputs.group_by else {}), differences


def stats_model_record(config: Config, differences: list | None) -> dict | None:
    """What the group sidecars say of a --model: its name, file, nodes and the rows of its group contrasts."""
    if config.model is None:
        return None
    record = {"Name": config.model.name, "File": str(config.model_file), "Nodes": config.model.nodes}
    names = {label: contrast.name for (label, _), contrast in zip(differences or [], [
        c for c in config.model.group_contrasts if any("." in str(term) for term in c.weights)])}
    if names:
        record["Contrasts"] = names
    return record


def fit_group_tables(inputs: GroupInputs, *, method: str, tasks: list[str] | None = None,
                     differences: list | None = None, stats_model: dict | None = None
                     ) -> tuple[Results, list[str]]:
    """The group tables (with sidecars) of every task (or of ``tasks``) with at least 2 participants;
    (results, warnings). ``differences``: the between-level rows (default: each level minus the first);
    ``stats_model``: what the sidecars say of a --model."""
    from bids_app.group_level.models import TABLES, group_table
    from bids_app.group_level.sidecar import group_stats_sidecar

    results: Results = {}
    warnings: list[str] = []
    for spec in TABLES:
        if spec.description not in inputs.tables:
            continue
        table = inputs.tables[spec.description]
        # one task (the usual case): its rows are the table, not a copy of it
        by_task = ([(table["task"].iloc[0], table)] if table["task"].nunique() == 1
                   else table.groupby("task", sort=True))
        for task, data in by_task:
            if tasks and task not in tasks:
                continue
            subjects = sorted(data["subject"].unique())
            if len(subjects) < 2:
                warnings.append(f"task {task}: {spec.description} table skipped: the group level needs "
                                f"at least 2 participants, found {len(subjects)}")
                continue
            rows, notes = group_table(data, spec=spec, method=method, group_by=inputs.group_by,
                                      numeric=inputs.numeric, differences=differences)
            sidecar = group_stats_sidecar(spec=spec, method=method, subjects=subjects,
                                          recordings=sorted(data["recording"].unique()), notes=notes,
                                          group_by=inputs.group_by, numeric=inputs.numeric, stats_model=stats_model)
            results.setdefault(task, {})[spec.description] = (rows, sidecar)
            warnings += [f"task {task}, {spec.description} table: {note}" for note in notes]
    return results, warnings


def _task_anatomy(inputs: GroupInputs, *, results: dict[str, tuple[pd.DataFrame, dict]]):
    """The consensus anatomy of the recordings that entered the task's tables, for the pairs of its channel
    table; None without anatomy or without a channel table."""
    from bids_app.channels import channel_pair
    from bids_app.group_level.collect import group_anatomy

    used = set().union(*(sidecar.get("Recordings", []) for _, sidecar in results.values()))
    if "channel" not in results:
        return None
    pairs = sorted({channel_pair(name) for name in results["channel"][0]["ch_name"]})
    return group_anatomy(inputs, recordings=used, pairs=pairs)


def write_task(inputs: GroupInputs, *, outputs, results: dict[str, tuple[pd.DataFrame, dict]],
               q_threshold: float | None) -> bool:
    """Write the tables, sidecars, figures and report of one task, and remove its outputs of earlier runs
    that were not rewritten; False when the figures or the report failed (the tables are written)."""
    from bids_app.derivatives import json_text, tsv_text, write_atomic
    from bids_app.report.group import report_files

    task = outputs.task
    written = []
    for description, (rows, sidecar) in results.items():
        table = outputs.stats(description)
        write_atomic(table, tsv_text(rows))
        write_atomic(outputs.stats_sidecar(description), json_text(sidecar))
        written += [table, outputs.stats_sidecar(description)]
        logger.info(f"task {task}: {description} table of {len(rows)} rows from "
                    f"{len(sidecar['Participants'])} participants written to {table}")
    succeeded = True
    try:
        anatomy = _task_anatomy(inputs, results=results)
        if anatomy is not None:
            table, sidecar, notes = anatomy
            for note in notes:
                logger.warning(f"task {task}: {note}")
            write_atomic(outputs.anatomy(), tsv_text(table))
            write_atomic(outputs.anatomy(".json"), json_text(sidecar))
            written += [outputs.anatomy(), outputs.anatomy(".json")]
            logger.info(f"task {task}: channel anatomy of {len(sidecar['Recordings'])} recordings written to "
                        f"{outputs.anatomy()}")
        files = report_files(inputs, outputs=outputs, results=results, q_threshold=q_threshold,
                             anatomy=None if anatomy is None else (table, sidecar))
        for path, content in files.items():
            write_atomic(path, content)
        written += list(files)
        logger.info(f"task {task}: group report written to {outputs.report}")
    except Exception as exc:  # the tables are written: say what is missing, and fail
        logger.debug("figures or report failed", exc_info=True)
        logger.error(f"task {task}: figures or report not written ({type(exc).__name__}: {exc})")
        succeeded = False
    for path in outputs.earlier_outputs():
        if path not in written:
            path.unlink(missing_ok=True)
            logger.info(f"{path}: output of an earlier group run removed")
    return succeeded
