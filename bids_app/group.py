"""Group level: aggregate the participant-level tables of OUTPUT_DIR across participants.

For each task and table (ROI, channel, contrast) the participant effects are modelled per cell
(ROI x condition x chroma; channel x condition per chroma; channel per contrast and chroma):
- ``mixedlm`` (default, as the MNE-NIRS group tutorial): a linear mixed-effects model with one fixed
  effect per cell and a random intercept per participant (statsmodels MixedLM, REML, Nelder-Mead);
  several recordings of a participant (sessions, runs) are repeated observations of it;
- ``summary``: per cell, a random-effects summary (DerSimonian-Laird) weighting each participant by its first-level variance plus the between-participant variance;
  a participant's recordings are first combined by inverse variance.
Rows report effect, se, z, two-sided p, Benjamini-Hochberg q (within table and chroma), 95% Wald
intervals and n, the number of participants contributing to the cell.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bids_app.config import Config
from bids_app.errors import UsageError
from bids_app.preprocessing import natural_key

logger = logging.getLogger("fnirs_glm")


@dataclass(frozen=True)
class TableSpec:
    description: str  # desc- entity of the participant and group tables
    cells: list[str]  # columns whose combination is one fixed effect
    split: list[str]  # a separate model for each value of these columns
    formula: str  # the model, written as the tutorial does


TABLES = (
    TableSpec("roi", ["roi", "condition", "chroma"], [], "effect ~ -1 + roi:condition:chroma"),
    TableSpec("channel", ["ch_name", "condition"], ["chroma"], "effect ~ -1 + ch_name:condition"),
    TableSpec("contrast", ["ch_name"], ["contrast", "chroma"], "effect ~ -1 + ch_name"),
)
Z_95 = 1.959963984540054


def read_participant_tables(output_dir: Path, *, description: str) -> pd.DataFrame:
    """Every ``*_desc-<description>_stats.tsv`` written by the participant level, with its entities."""
    from mne_bids import get_entities_from_fname

    from bids_app.derivatives import read_tsv

    frames = []
    for path in sorted(output_dir.glob(f"sub-*/**/nirs/*_desc-{description}_stats.tsv")):
        entities = get_entities_from_fname(path.name)
        table = read_tsv(path)
        frames.append(table.assign(subject=entities["subject"], task=entities["task"],
                                   recording=path.name.split(f"_desc-{description}")[0]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def fit_mixedlm(data: pd.DataFrame, *, cells: list[str], group_by: str | None = None,
                numeric: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[str]]:
    """One fixed effect per cell and a random intercept per participant; returns rows and warnings.

    With ``group_by`` (a categorical participants.tsv column) each cell is split by its levels and
    rows ``<level> - <first level>`` give the between-group differences; ``numeric`` columns enter
    centred, as shared slopes (returned as "slope of ..." notes), so the cell
    effects are those at the participants' mean value.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM

    keyed = cells + ([group_by] if group_by else [])
    key = data[keyed].astype(str).agg("\x1f".join, axis=1)
    levels = sorted(key.unique())
    exog = pd.get_dummies(pd.Categorical(key, categories=levels)).astype(float).to_numpy()
    centred = [data[c].astype(float) - data.drop_duplicates("subject")[c].astype(float).mean() for c in numeric]
    exog = np.column_stack([exog, *centred]) if centred else exog
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = MixedLM(data["effect"].to_numpy(), exog, groups=data["subject"].to_numpy()).fit(method="nm")
    notes = sorted({" ".join(str(w.message).split()) for w in caught})
    if not result.converged:
        notes.append("the mixed model did not converge")
    fe, cov = np.asarray(result.fe_params), np.asarray(result.cov_params())[: len(result.fe_params), : len(result.fe_params)]
    for index, column in enumerate(numeric, start=len(levels)):
        notes.append(f"slope of {column}: {fe[index]:.6g} uM per unit (se {np.sqrt(cov[index, index]):.6g})")
    rows = pd.DataFrame([level.split("\x1f") for level in levels], columns=keyed)
    rows["effect"] = fe[: len(levels)]
    rows["se"] = np.sqrt(np.diag(cov)[: len(levels)])
    rows["n"] = [data.loc[key == level, "subject"].nunique() for level in levels]
    if group_by:
        rows = pd.concat([rows, _group_differences(rows, fe, cov, cells=cells, group_by=group_by)],
                         ignore_index=True)
    return rows, notes


def _group_differences(rows: pd.DataFrame, fe: np.ndarray, cov: np.ndarray, *, cells: list[str],
                       group_by: str) -> pd.DataFrame:
    """Per cell, each level minus the first (sorted) level, with the covariance of the two estimates."""
    records = []
    for values, cell in rows.groupby(cells, sort=True):
        reference = cell.index[0]
        for other in cell.index[1:]:
            variance = cov[other, other] + cov[reference, reference] - 2 * cov[other, reference]
            records.append({**dict(zip(cells, values if isinstance(values, tuple) else (values,))),
                            group_by: f"{rows.at[other, group_by]} - {rows.at[reference, group_by]}",
                            "effect": fe[other] - fe[reference], "se": np.sqrt(variance),
                            "n": rows.at[other, "n"] + rows.at[reference, "n"]})
    return pd.DataFrame(records)


def fit_summary(data: pd.DataFrame, *, cells: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Per cell, a DerSimonian-Laird random-effects summary of the participants' effects."""
    records, notes = [], []
    for values, cell in data.groupby(cells, sort=True):
        per_subject = cell.assign(weight=1 / cell["se"] ** 2).groupby("subject").apply(
            lambda g: pd.Series({"effect": np.average(g["effect"], weights=g["weight"]),
                                 "variance": 1 / g["weight"].sum()}), include_groups=False)
        record = dict(zip(cells, values if isinstance(values, tuple) else (values,)))
        if len(per_subject) < 2:  # no between-participant variance to estimate: no group inference
            record.update(effect=per_subject["effect"].iloc[0], se=np.nan, n=1)
        else:
            effect, se = dersimonian_laird(per_subject["effect"].to_numpy(), per_subject["variance"].to_numpy())
            record.update(effect=effect, se=se, n=len(per_subject))
        records.append(record)
    single = sum(r["n"] == 1 for r in records)
    if single:
        notes.append(f"{single} cell(s) with a single participant: effect only, se/z/p/q/intervals n/a")
    return pd.DataFrame(records), notes


def dersimonian_laird(effects: np.ndarray, variances: np.ndarray) -> tuple[float, float]:
    """Random-effects mean and its standard error, with the between-study variance truncated at 0.

    (statsmodels' combine_effects(method_re="dl") does not truncate a negative estimate.)
    """
    weights = 1 / variances
    fixed = np.sum(weights * effects) / weights.sum()
    q = np.sum(weights * (effects - fixed) ** 2)
    tau2 = max(0.0, (q - (len(effects) - 1)) / (weights.sum() - np.sum(weights**2) / weights.sum()))
    random_weights = 1 / (variances + tau2)
    return float(np.sum(random_weights * effects) / random_weights.sum()), float(np.sqrt(1 / random_weights.sum()))


def add_inference(rows: pd.DataFrame, *, fdr_within: list[str]) -> pd.DataFrame:
    """z, two-sided p, Benjamini-Hochberg q within ``fdr_within`` groups, 95% Wald intervals."""
    from scipy import stats
    from statsmodels.stats.multitest import fdrcorrection

    rows = rows.copy()
    rows["z"] = rows["effect"] / rows["se"]
    rows["p"] = 2 * stats.norm.sf(np.abs(rows["z"]))
    rows["q"] = np.nan
    for index in rows.groupby(fdr_within).groups.values():
        finite = rows.loc[index, "p"].dropna()
        if len(finite):
            rows.loc[finite.index, "q"] = fdrcorrection(finite.to_numpy())[1]
    rows["ci_low"] = rows["effect"] - Z_95 * rows["se"]
    rows["ci_high"] = rows["effect"] + Z_95 * rows["se"]
    return rows


def group_table(data: pd.DataFrame, *, spec: TableSpec, method: str, group_by: str | None = None,
                numeric: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[str]]:
    data = data.dropna(subset=["effect", "se"])
    parts, notes = [], []
    for values, part in (data.groupby(spec.split, sort=True) if spec.split else [((), data)]):
        if method == "mixedlm":
            rows, part_notes = fit_mixedlm(part, cells=spec.cells, group_by=group_by, numeric=numeric)
        else:
            rows, part_notes = fit_summary(part, cells=spec.cells)
        for column, value in zip(spec.split, values if isinstance(values, tuple) else (values,)):
            rows[column] = value
        parts.append(rows)
        label = ", ".join(f"{c} {v}" for c, v in zip(spec.split, np.atleast_1d(values))) or "all"
        notes += [f"{label}: {note}" for note in part_notes]
    rows = add_inference(pd.concat(parts, ignore_index=True), fdr_within=["chroma"])
    columns = spec.split + [c for c in spec.cells if c not in spec.split]
    columns = [c for c in ["contrast", "roi", "ch_name", "chroma", "condition"] if c in columns]
    columns += [group_by] if group_by else []
    rows = rows[columns + ["effect", "se", "z", "p", "q", "ci_low", "ci_high", "n"]]
    return rows.sort_values(columns, key=lambda column: column.map(natural_key), kind="stable").reset_index(
        drop=True), notes


def run_group_level(config: Config) -> int:
    from bids_app.derivatives import json_text, tsv_text, write_atomic, write_dataset_files
    from bids_app.group_figures import write_figures_and_report
    from bids_app.logs import write_run_log
    from bids_app.sidecars import group_stats_sidecar
    from bids_app.validation import say, validate_input

    started = time.time()
    output_dir = config.output_dir
    method = config.analysis.group_method
    covariates = read_covariates(config) if config.analysis.group_covariates else None
    # validated before any model is fitted; said once the run is known to go ahead (usage errors stay one line)
    validation = validate_input(config.bids_dir, skip_validator=config.skip_bids_validator)
    group_by, numeric = _covariate_roles(covariates)
    notes_of_run: list[str] = []
    orphans = orphan_recordings(output_dir, bids_dir=config.bids_dir)
    if orphans:
        notes_of_run.append(f"participant outputs whose input recording is no longer in {config.bids_dir} left out: "
                            + ", ".join(orphans))
    results: dict[str, dict[str, tuple[pd.DataFrame, dict]]] = {}
    for spec in TABLES:
        tables = read_participant_tables(output_dir, description=spec.description)
        if tables.empty:
            if spec.description != "contrast":
                raise UsageError(f"{output_dir}: no participant-level *_desc-{spec.description}_stats.tsv; "
                                 "run the participant level first")
            continue
        tables = tables[~tables["recording"].isin(orphans)]
        if config.participant_label:
            unknown = sorted(set(config.participant_label) - set(tables["subject"]))
            if unknown and spec.description == "roi":
                raise UsageError(f"{output_dir}: no participant-level outputs of participant(s) {', '.join(unknown)}; "
                                 f"there are outputs of: {', '.join(sorted(set(tables['subject'])))}")
            tables = tables[tables["subject"].isin(config.participant_label)]
        if covariates is not None:
            missing = sorted(set(tables["subject"]) - set(covariates["subject"]))
            note = (f"participant(s) {', '.join(missing)} without a value of every covariate in participants.tsv "
                    "left out")
            if missing and note not in notes_of_run:
                notes_of_run.append(note)
            tables = tables.merge(covariates, on="subject", how="inner")
        for task, data in tables.groupby("task", sort=True):
            if config.task_label and task not in config.task_label:
                continue
            subjects = sorted(data["subject"].unique())
            if len(subjects) < 2:
                logger.warning(f"task {task}: {spec.description} table skipped: the group level needs at "
                               f"least 2 participants, found {len(subjects)}")
                continue
            rows, notes = group_table(data, spec=spec, method=method, group_by=group_by, numeric=numeric)
            slopes = [note for note in notes if ": slope of " in note]
            notes = [note for note in notes if note not in slopes]
            sidecar = group_stats_sidecar(spec=spec, method=method, subjects=subjects,
                                          recordings=sorted(data["recording"].unique()), notes=notes,
                                          group_by=group_by, numeric=numeric, slopes=slopes)
            results.setdefault(task, {})[spec.description] = (rows, sidecar)
            for note in notes:
                logger.warning(f"task {task}, {spec.description} table: {note}")
    if not results:
        raise UsageError(f"{output_dir}: no task with at least 2 participants to aggregate")
    say(validation)
    for note in notes_of_run:
        logger.warning(note)
    write_dataset_files(output_dir, bids_dir=config.bids_dir)
    failed = False
    for task, task_results in results.items():
        written = []
        for description, (rows, sidecar) in task_results.items():
            stem = output_dir / f"task-{task}_desc-{description}_stats"
            write_atomic(stem.with_suffix(".tsv"), tsv_text(rows))
            write_atomic(stem.with_suffix(".json"), json_text(sidecar))
            written += [stem.with_suffix(".tsv"), stem.with_suffix(".json")]
            logger.info(f"task {task}: {description} table of {len(rows)} rows from "
                        f"{len(sidecar['Participants'])} participants written to {stem.with_suffix('.tsv')}")
        try:
            written += write_figures_and_report(config, task=task, results=task_results, group_by=group_by,
                                                notes=notes_of_run)
            logger.info(f"task {task}: group report written to {output_dir / f'task-{task}_report.html'}")
        except Exception as exc:  # the tables are written: say what is missing, and fail
            logger.debug("figures or report failed", exc_info=True)
            logger.error(f"task {task}: figures or report not written ({type(exc).__name__}: {exc})")
            failed = True
        _remove_stale_task_outputs(output_dir, task=task, keep=set(written))
    outputs = sorted(str(p.relative_to(output_dir)) for p in output_dir.glob("task-*") if p.is_file())
    write_run_log(config, outcomes=[], started=started, outputs=outputs, validation=validation)
    return 1 if failed else 0


def orphan_recordings(output_dir: Path, *, bids_dir: Path) -> list[str]:
    """Recordings with participant outputs whose input file (named in the design sidecar) is gone."""
    from bids_app.derivatives import read_json

    orphans = []
    for design in sorted(output_dir.glob("sub-*/**/nirs/*_design.json")):
        inputs = read_json(design).get("GeneratedBy", {}).get("InputChecksums", {})
        source = next((name for name in inputs if name.endswith(("_nirs.snirf", "_nirs.SNIRF"))), None)
        if source and not (bids_dir / design.parent.relative_to(output_dir) / source).is_file():
            orphans.append(design.name.removesuffix("_design.json"))
    return orphans


def _remove_stale_task_outputs(output_dir: Path, *, task: str, keep: set[Path]) -> None:
    """Group outputs of ``task`` from earlier runs that this run did not rewrite (e.g. a dropped contrast)."""
    candidates = [*output_dir.glob(f"task-{task}_desc-*_stats.*"), *(output_dir / "figures").glob(f"task-{task}_desc-*.png")]
    for path in candidates:
        if path not in keep:
            path.unlink(missing_ok=True)
            logger.info(f"{path}: output of an earlier group run removed")


def read_covariates(config: Config) -> pd.DataFrame:
    """participants.tsv columns named by --group-covariates, one row per participant with all values."""
    from bids_app.errors import RecordingError
    from bids_app.recording import read_tsv

    if config.analysis.group_method != "mixedlm":
        raise UsageError("--group-covariates needs --group-method mixedlm")
    path = config.bids_dir / "participants.tsv"
    try:
        table = read_tsv(path)
    except RecordingError as exc:
        raise UsageError(str(exc)) from None
    missing = [c for c in config.analysis.group_covariates if c not in table.columns]
    if missing:
        raise UsageError(f"{path}: no column {', '.join(missing)}; columns are: "
                         + ", ".join(c for c in table.columns if c != "participant_id"))
    table = table.assign(subject=table["participant_id"].str.removeprefix("sub-"))
    table = table[["subject", *config.analysis.group_covariates]]
    incomplete = table[table.isna().any(axis=1)]["subject"].tolist()
    if incomplete:
        logger.warning(f"{path}: participant(s) {', '.join(incomplete)} without a value for every covariate "
                       "left out of the group level")
    return table.dropna()


def _covariate_roles(covariates: pd.DataFrame | None) -> tuple[str | None, tuple[str, ...]]:
    """(the categorical covariate or None, the numeric covariates), converting numeric columns."""
    if covariates is None:
        return None, ()
    categorical, numeric = [], []
    for column in covariates.columns.drop("subject"):
        values = pd.to_numeric(covariates[column], errors="coerce")
        if values.notna().all():
            covariates[column] = values
            numeric.append(column)
        else:
            categorical.append(column)
    if len(categorical) > 1:
        raise UsageError(f"--group-covariates takes one categorical column at a time (got {', '.join(categorical)})")
    return (categorical[0] if categorical else None), tuple(numeric)
