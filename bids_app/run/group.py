"""Group level: aggregate the participant-level tables of OUTPUT_DIR across participants.

For each task and table (ROI, channel, contrast, ROI waveform) the participant effects are modelled per cell
(ROI x condition x chroma; channel x condition x chroma; contrast x channel x chroma; ROI x condition x
chroma x time of the FIR waveforms), each cell with its own variance (``--group-method``):
- ``random-effects`` (default): per cell, effect_i = x_i'beta + u_i + e_i with e_i ~ N(0, se_i^2) from the
  first level and u_i ~ N(0, tau^2) between participants; tau^2 by REML, Knapp-Hartung t inference on
  n - p degrees of freedom (bids_app.group_level.cell_models);
- ``ols``: per cell, unweighted least squares of the participant effects (one-sample t-test, or OLS with
  the covariates), t on n - p degrees of freedom;
  for both, a participant's recordings (sessions, runs) are first combined by inverse variance, so n counts
  participants;
- ``mixedlm`` (the MNE-NIRS tutorial's model): one linear mixed-effects model per table (per chroma for
  channels, per contrast and chroma for contrasts) with a fixed effect per cell and a random intercept per
  participant, one residual variance for all cells, unweighted, normal (z) inference; several recordings
  of a participant are repeated observations of it.
Covariates (participants.tsv): a categorical column gives per-level rows and ``<level> - <first level>``
rows; numeric columns enter centred, and their per-cell slopes are rows whose ``term`` is the column name
(``term`` is ``mean`` for the cell's effect). Rows report effect, se, t, df, z, p, Benjamini-Hochberg q
(within table, chroma and term), 95% intervals and n, the number of participants behind the row (plus tau
and i2 for random-effects).
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
from bids_app.first_level.preprocessing import natural_key

logger = logging.getLogger("fnirs_glm")


@dataclass(frozen=True)
class TableSpec:
    description: str  # desc- entity of the participant and group tables
    cells: list[str]  # columns whose combination is one fixed effect of the mixedlm model
    split: list[str]  # mixedlm: a separate model for each value of these columns
    formula: str  # the mixedlm model, written as the tutorial does

    @property
    def cell_columns(self) -> list[str]:
        """Every column that defines a cell, in table order."""
        return [c for c in ["contrast", "roi", "ch_name", "chroma", "condition", "time"] if c in self.cells + self.split]


TABLES = (
    TableSpec("roi", ["roi", "condition", "chroma"], [], "effect ~ -1 + roi:condition:chroma"),
    TableSpec("channel", ["ch_name", "condition"], ["chroma"], "effect ~ -1 + ch_name:condition"),
    TableSpec("contrast", ["ch_name"], ["contrast", "chroma"], "effect ~ -1 + ch_name"),
    # the ROI response waveforms: each FIR bin (time) one more cell column
    TableSpec("waveform", ["roi", "condition", "time"], ["chroma"], "effect ~ -1 + roi:condition:time"),
)
OPTIONAL_TABLES = ("contrast", "waveform")  # absent without contrasts / from versions before the waveforms
STAT_COLUMNS = ["effect", "se", "t", "df", "z", "p", "q", "ci_low", "ci_high", "n"]
MEAN = "mean"  # the ``term`` of a cell's effect (other terms: the numeric covariates' slopes)


def read_participant_tables(output_dir: Path, *, description: str) -> pd.DataFrame:
    """Every ``*_desc-<description>_stats.tsv`` written by the participant level, with its entities."""
    from mne_bids import get_entities_from_fname

    from bids_app.derivatives import read_tsvs

    paths = sorted(output_dir.glob(f"sub-*/**/nirs/*_desc-{description}_stats.tsv"))
    if not paths:
        return pd.DataFrame()
    table = read_tsvs(paths)
    entities = {path.name: get_entities_from_fname(path.name) for path in paths}
    names = table.pop("file")  # categorical: each mapping below runs once per file, not once per row
    return table.assign(subject=names.map({k: e["subject"] for k, e in entities.items()}).astype(str),
                        task=names.map({k: e["task"] for k, e in entities.items()}).astype(str),
                        recording=names.map({k: k.split(f"_desc-{description}")[0] for k in entities}).astype(str))


def group_input(output_dir: Path, *, spec: TableSpec) -> pd.DataFrame:
    """The participant tables a group table is made of: for the waveforms, their ROI rows."""
    tables = read_participant_tables(output_dir, description=spec.description)
    if spec.description == "waveform" and not tables.empty:
        tables = tables[tables["roi"].notna()].drop(columns=["ch_name"])
    return tables


def participant_matrices(data: pd.DataFrame, *, cells: list[str]
                         ) -> tuple[pd.DataFrame, list[str], np.ndarray, np.ndarray]:
    """(cells, participants, effects, variances): one row per cell (sorted), one participant per column;
    a participant's recordings in a cell combined by inverse variance (fixed effects), NaN where it has none.

    (Integer codes and bincount rather than a pandas groupby: 4.6 million rows take about a second.)
    """
    codes, uniques = zip(*(pd.factorize(data[column], sort=True) for column in cells))
    shape = [len(u) for u in uniques]
    cell_index, present = pd.factorize(np.ravel_multi_index(codes, shape), sort=True)
    keys = pd.DataFrame({column: np.asarray(u)[index]
                         for column, u, index in zip(cells, uniques, np.unravel_index(present, shape))})
    subject_index, subjects = pd.factorize(data["subject"], sort=True)
    flat = cell_index * len(subjects) + subject_index
    weight = 1 / data["se"].to_numpy(float) ** 2
    size = len(keys) * len(subjects)
    total = np.bincount(flat, weights=weight, minlength=size).reshape(len(keys), -1)
    weighted = np.bincount(flat, weights=weight * data["effect"].to_numpy(float), minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return keys, list(subjects), weighted.reshape(len(keys), -1) / total, np.where(total > 0, 1 / total, np.nan)


def participant_design(data: pd.DataFrame, *, subjects: list[str], group_by: str | None,
                       numeric: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """(design matrix, its column names), one row per participant of ``subjects``: an intercept (or one
    column per level of ``group_by``, sorted), then the numeric covariates centred on the participants' mean."""
    people = data.drop_duplicates("subject").set_index("subject").loc[subjects]
    if group_by:
        levels = sorted(people[group_by].astype(str).unique())
        columns = [np.asarray(people[group_by].astype(str) == level, float) for level in levels]
    else:
        levels, columns = [MEAN], [np.ones(len(people))]
    for column in numeric:
        values = people[column].astype(float).to_numpy()
        columns.append(values - values.mean())
    return np.column_stack(columns), [*levels, *numeric]


def fit_cell_models(data: pd.DataFrame, *, cells: list[str], method: str, group_by: str | None = None,
                    numeric: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[str]]:
    """Per-cell random-effects or OLS models of every cell of ``data`` at once; (rows, warnings)."""
    from bids_app.group_level.cell_models import fit_cells

    keys, subjects, y, v = participant_matrices(data, cells=cells)
    X, names = participant_design(data, subjects=subjects, group_by=group_by, numeric=numeric)
    fits = fit_cells(y, v, X, method=method)
    levels = names[: len(names) - len(numeric)]
    terms = []  # (covariate level, term, contrast vector, n, estimable)
    for j, level in enumerate(levels):
        vector = np.eye(len(names))[j]
        terms.append((level, MEAN, vector, fits.column_n[:, j], fits.column_n[:, j] > 0))
    for j, level in enumerate(levels[1:], start=1):
        vector = np.eye(len(names))[j] - np.eye(len(names))[0]
        terms.append((f"{level} - {levels[0]}", MEAN, vector, fits.column_n[:, j] + fits.column_n[:, 0],
                      (fits.column_n[:, j] > 0) & (fits.column_n[:, 0] > 0)))
    for j, column in enumerate(numeric, start=len(levels)):
        terms.append((None, column, np.eye(len(names))[j], fits.n, fits.n > 0))
    frames = []
    for level, term, vector, n, estimable in terms:
        effect = np.where(estimable, fits.beta @ vector, np.nan)
        se = np.sqrt(np.einsum("cij,i,j->c", fits.cov, vector, vector))
        frame = keys.assign(term=term, effect=effect, se=np.where(estimable, se, np.nan),
                            df=np.where(fits.df >= 1, fits.df, np.nan), n=n.astype(int))
        if group_by:
            frame.insert(len(cells), group_by, level)
        if method == "random-effects":
            frame = frame.assign(tau=np.sqrt(fits.tau2), i2=fits.i2)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True), _cell_model_notes(fits, keys=keys, method=method,
                                                                   levels=len(levels), group_by=group_by)


def _cell_model_notes(fits, *, keys: pd.DataFrame, method: str, levels: int, group_by: str | None) -> list[str]:
    """Warnings a person can act on: few participants (in a group), tau^2 at 0, REML not converged."""
    shown = keys.drop(columns=["chroma"]) if "ch_name" in keys and "chroma" in keys else keys  # "S1_D1 hbo"
    label = shown.astype(str).agg(" ".join, axis=1)
    notes = []
    few = fits.column_n[:, :levels].min(axis=1) < 3
    if few.any():
        notes.append(f"{few.sum()} of {len(few)} cell(s) have fewer than 3 participants"
                     + (f" in a group of {group_by}" if group_by else "") + " ("
                     + _examples(label[few]) + "): their estimates rest on one or two participants (see n and "
                     "df), so their intervals are very wide, and with 1 participant "
                     + ("in a group its rows have no group inference" if group_by else
                        "there is no group inference (se, p and interval n/a)")
                     + "; either there are so few participants" + (" in that group" if group_by else "")
                     + ", or some lack these cells because their channels were bad")
    if method == "random-effects":
        fitted = fits.df >= 1
        boundary = fitted & (fits.tau2 == 0)
        if boundary.any():
            notes.append(f"between-participant variance tau^2 estimated at its boundary, 0, in {boundary.sum()} "
                         f"of {fitted.sum()} cell(s) ({_examples(label[boundary])}): their participants differ "
                         "no more than their first-level standard errors explain, so these rows weight "
                         "participants by first-level precision only (fixed effects) and keep Knapp-Hartung "
                         "intervals; they can be used, but tau = 0 does not prove the participants are alike")
        stuck = fitted & ~fits.converged
        if stuck.any():
            notes.append(f"REML did not converge in {stuck.sum()} cell(s) ({_examples(label[stuck])}): their "
                         "tau^2 is the last iterate; compare with --group-method ols before using these rows")
    return notes


def _examples(labels: pd.Series, most: int = 3) -> str:
    shown = list(labels[:most])
    return ", ".join(shown) + (f" and {len(labels) - most} more" if len(labels) > most else "")


def fit_mixedlm(data: pd.DataFrame, *, cells: list[str], group_by: str | None = None,
                numeric: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[str]]:
    """The tutorial's model: one fixed effect per cell and a random intercept per participant, one
    residual variance for all cells; returns rows and warnings.

    With ``group_by`` (a categorical participants.tsv column) each cell is split by its levels and
    rows ``<level> - <first level>`` give the between-group differences; ``numeric`` columns enter
    centred with one slope per cell (rows whose ``term`` is the column), so the cell effects are those at
    the participants' mean value.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM

    keyed = cells + ([group_by] if group_by else [])
    key = data[keyed].astype(str).agg("\x1f".join, axis=1)
    levels = sorted(key.unique())
    dummies = pd.get_dummies(pd.Categorical(key, categories=levels)).astype(float).to_numpy()
    cell_key = data[cells].astype(str).agg("\x1f".join, axis=1)
    cell_levels = sorted(cell_key.unique())
    cell_dummies = pd.get_dummies(pd.Categorical(cell_key, categories=cell_levels)).astype(float).to_numpy()
    people = data.drop_duplicates("subject")
    slopes = [cell_dummies * (data[c].astype(float) - people[c].astype(float).mean()).to_numpy()[:, None]
              for c in numeric]
    exog = np.column_stack([dummies, *slopes])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = MixedLM(data["effect"].to_numpy(), exog, groups=data["subject"].to_numpy()).fit(method="nm")
    notes = mixedlm_notes([str(w.message) for w in caught], converged=result.converged)
    fe = np.asarray(result.fe_params)
    cov = np.asarray(result.cov_params())[: len(fe), : len(fe)]
    rows = pd.DataFrame([level.split("\x1f") for level in levels], columns=keyed)
    rows["term"] = MEAN
    rows["effect"] = fe[: len(levels)]
    rows["se"] = np.sqrt(np.diag(cov)[: len(levels)])
    rows["n"] = [data.loc[key == level, "subject"].nunique() for level in levels]
    parts = [rows]
    if group_by:
        parts.append(_group_differences(rows, fe, cov, cells=cells, group_by=group_by))
    for index, column in enumerate(numeric):
        at = len(levels) + index * len(cell_levels) + np.arange(len(cell_levels))
        slope = pd.DataFrame([level.split("\x1f") for level in cell_levels], columns=cells)
        parts.append(slope.assign(term=column, effect=fe[at], se=np.sqrt(np.diag(cov)[at]),
                                  n=[data.loc[cell_key == level, "subject"].nunique() for level in cell_levels]))
    return pd.concat(parts, ignore_index=True).assign(df=np.nan), notes


_MIXEDLM_PLAIN = {
    "boundary": "the between-participant variance of the mixed model was estimated at 0 (the boundary of "
    "its range): its standard errors then treat every recording as independent and may be too small",
    "Hessian": "the mixed model's curvature at its estimate is not positive definite: its standard errors "
    "are unreliable",
    "converge": "the mixed model's optimiser stopped before reaching the best fit",
}


def mixedlm_notes(messages: list[str], *, converged: bool) -> list[str]:
    """statsmodels' warnings in plain words, each saying whether the rows can be used."""
    notes = []
    for message in sorted({" ".join(m.split()) for m in messages}):
        plain = next((text for word, text in _MIXEDLM_PLAIN.items() if word in message), None)
        notes.append(f"{plain} (statsmodels: {message}); the rows may be wrong: compare with "
                     "--group-method random-effects" if plain else f"statsmodels: {message}")
    if not converged:
        notes.append("the mixed model did not converge (the optimiser stopped before reaching the best fit): "
                     "its effects and standard errors may be wrong; do not use these rows, use "
                     "--group-method random-effects")
    return notes


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
                            "term": MEAN, "effect": fe[other] - fe[reference], "se": np.sqrt(variance),
                            "n": rows.at[other, "n"] + rows.at[reference, "n"]})
    return pd.DataFrame(records)


def add_inference(rows: pd.DataFrame, *, fdr_within: list[str]) -> pd.DataFrame:
    """t, two-sided p, z, Benjamini-Hochberg q within ``fdr_within`` groups, 95% intervals: from t(df),
    or from the normal distribution where df is NaN (mixedlm)."""
    from statsmodels.stats.multitest import fdrcorrection

    from bids_app.group_level.cell_models import t_inference

    rows = rows.copy()
    rows["t"], rows["p"], rows["z"], rows["ci_low"], rows["ci_high"] = t_inference(rows["effect"], rows["se"],
                                                                                    rows["df"])
    rows["q"] = np.nan
    for index in rows.groupby(fdr_within).groups.values():
        finite = rows.loc[index, "p"].dropna()
        if len(finite):
            rows.loc[finite.index, "q"] = fdrcorrection(finite.to_numpy())[1]
    return rows


def group_table(data: pd.DataFrame, *, spec: TableSpec, method: str, group_by: str | None = None,
                numeric: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[str]]:
    data = data.dropna(subset=["effect", "se"])
    columns = spec.cell_columns
    if method == "mixedlm":
        parts, notes = [], []
        for values, part in (data.groupby(spec.split, sort=True) if spec.split else [((), data)]):
            rows, part_notes = fit_mixedlm(part, cells=spec.cells, group_by=group_by, numeric=numeric)
            for column, value in zip(spec.split, values if isinstance(values, tuple) else (values,)):
                rows[column] = value
            parts.append(rows)
            label = ", ".join(f"{c} {v}" for c, v in zip(spec.split, np.atleast_1d(values))) or "all"
            notes += [f"{label}: {note}" for note in part_notes]
        rows = pd.concat(parts, ignore_index=True)
    else:
        rows, notes = fit_cell_models(data, cells=columns, method=method, group_by=group_by, numeric=numeric)
    rows = add_inference(rows, fdr_within=["chroma", "term"])
    order = columns + ([group_by] if group_by else []) + ["term"]
    extra = ["tau", "i2"] if method == "random-effects" else []
    rows = rows.astype({"n": int})
    rows["rank"] = rows["term"].map({MEAN: 0, **{c: i for i, c in enumerate(numeric, start=1)}})
    rows = rows.sort_values(columns, key=_sort_key, kind="stable")
    return rows.sort_values("rank", kind="stable")[order + STAT_COLUMNS + extra].reset_index(drop=True), notes


def _sort_key(column: pd.Series) -> pd.Series:
    """Names in natural order (S2_D1 before S10_D1); numbers (waveform time) by value."""
    return column if pd.api.types.is_numeric_dtype(column) else column.map(natural_key)


def run_group_level(config: Config) -> int:
    from bids_app.derivatives import json_text, tsv_text, write_atomic, write_dataset_files
    from bids_app.first_level.sidecars import group_stats_sidecar
    from bids_app.logs import write_run_log
    from bids_app.report.group import write_figures_and_report
    from bids_app.validation import say, validate_input

    started = time.time()
    output_dir = config.output_dir
    method = config.group.group_method
    covariates = read_covariates(config) if config.group.group_covariates else None
    # validated before any model is fitted; said (then the models' warnings) once the run is known to go ahead,
    # so that a usage error stays one line
    validation = validate_input(config.bids_dir, skip_validator=config.skip_bids_validator)
    warnings_of_models: list[str] = []
    group_by, numeric = _covariate_roles(covariates)
    notes_of_run: list[str] = []
    orphans = orphan_recordings(output_dir, bids_dir=config.bids_dir)
    if orphans:
        notes_of_run.append(f"participant outputs whose input recording is no longer in {config.bids_dir} left out: "
                            + ", ".join(orphans))
    results: dict[str, dict[str, tuple[pd.DataFrame, dict]]] = {}
    for spec in TABLES:
        tables = group_input(output_dir, spec=spec)
        if tables.empty:
            if spec.description not in OPTIONAL_TABLES:
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
                warnings_of_models.append(f"task {task}: {spec.description} table skipped: the group level needs "
                                          f"at least 2 participants, found {len(subjects)}")
                continue
            rows, notes = group_table(data, spec=spec, method=method, group_by=group_by, numeric=numeric)
            sidecar = group_stats_sidecar(spec=spec, method=method, subjects=subjects,
                                          recordings=sorted(data["recording"].unique()), notes=notes,
                                          group_by=group_by, numeric=numeric)
            results.setdefault(task, {})[spec.description] = (rows, sidecar)
            warnings_of_models += [f"task {task}, {spec.description} table: {note}" for note in notes]
    if not results:
        for warning in warnings_of_models:
            logger.warning(warning)
        raise UsageError(f"{output_dir}: no task with at least 2 participants to aggregate")
    say(validation)
    for note in warnings_of_models + notes_of_run:
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
    candidates = [*output_dir.glob(f"task-{task}_desc-*_stats.*"),
                  *(output_dir / "figures").glob(f"task-{task}_desc-*.png"),
                  *(output_dir / "figures").glob(f"task-{task}_desc-*.svg")]
    for path in candidates:
        if path not in keep:
            path.unlink(missing_ok=True)
            logger.info(f"{path}: output of an earlier group run removed")


def read_covariates(config: Config) -> pd.DataFrame:
    """participants.tsv columns named by --group-covariates, one row per participant with all values."""
    from bids_app.errors import RecordingError
    from bids_app.inputs import read_tsv

    path = config.bids_dir / "participants.tsv"
    try:
        table = read_tsv(path)
    except RecordingError as exc:
        raise UsageError(str(exc)) from None
    missing = [c for c in config.group.group_covariates if c not in table.columns]
    if missing:
        raise UsageError(f"{path}: no column {', '.join(missing)}; columns are: "
                         + ", ".join(c for c in table.columns if c != "participant_id"))
    table = table.assign(subject=table["participant_id"].str.removeprefix("sub-"))
    table = table[["subject", *config.group.group_covariates]]
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
