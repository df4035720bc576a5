"""Group statistics of the participant tables, in memory: which tables there are (``TABLES``), the per-cell
models (random-effects, ols) and the tutorial's mixed model, inference and the group table.

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
- ``mixedlm`` (the MNE-NIRS tutorial's model, bids_app.group_level.mixedlm): one linear mixed-effects model
  per table (per chroma for channels, per contrast and chroma for contrasts) with a fixed effect per cell and
  a random intercept per participant, one residual variance for all cells, unweighted, normal (z) inference;
  several recordings of a participant are repeated observations of it.
Covariates (participants.tsv): a categorical column gives per-level rows and ``<level> - <first level>``
rows; numeric columns enter centred, and their per-cell slopes are rows whose ``term`` is the column name
(``term`` is ``mean`` for the cell's effect). Rows report effect, se, t, df, z, p, Benjamini-Hochberg q
(within table, chroma and term), 95% intervals and n, the number of participants behind the row (plus tau
and i2 for random-effects).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bids_app.channels import natural_key
from bids_app.group_level.cell_models import MEAN
from bids_app.group_level.differences import Difference, default_differences
from bids_app.group_level.mixedlm import fit_mixedlm


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
RANDOM_EFFECTS_COLUMNS = ["tau", "i2"]  # after STAT_COLUMNS in the random-effects tables


def table_columns(spec: TableSpec, *, method: str, group_by: str | None = None) -> list[str]:
    """The columns of a group table, in order (its sidecar describes exactly these)."""
    return [*spec.cell_columns, *([group_by] if group_by else []), "term", *STAT_COLUMNS,
            *(RANDOM_EFFECTS_COLUMNS if method == "random-effects" else [])]


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
                    numeric: tuple[str, ...] = (), differences: list[Difference] | None = None
                    ) -> tuple[pd.DataFrame, list[str]]:
    """Per-cell random-effects or OLS models of every cell of ``data`` at once; (rows, warnings).
    ``differences``: the between-level rows of ``group_by`` (default: each level minus the first)."""
    from bids_app.group_level.cell_models import fit_cells

    keys, subjects, y, v = participant_matrices(data, cells=cells)
    X, names = participant_design(data, subjects=subjects, group_by=group_by, numeric=numeric)
    fits = fit_cells(y, v, X, method=method)
    levels = names[: len(names) - len(numeric)]
    terms = []  # (covariate level, term, contrast vector, n, estimable)
    for j, level in enumerate(levels):
        vector = np.eye(len(names))[j]
        terms.append((level, MEAN, vector, fits.column_n[:, j], fits.column_n[:, j] > 0))
    for label, weights in (default_differences(levels) if differences is None else differences):
        used = [levels.index(level) for level in weights]
        vector = sum(weight * np.eye(len(names))[j] for j, weight in zip(used, weights.values()))
        terms.append((label, MEAN, vector, fits.column_n[:, used].sum(axis=1),
                      (fits.column_n[:, used] > 0).all(axis=1)))
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
                numeric: tuple[str, ...] = (), differences: list[Difference] | None = None
                ) -> tuple[pd.DataFrame, list[str]]:
    """The group table of one task: ``data`` are the participant rows (a table of ``read_participant_tables``
    with any covariate columns); returns (rows in the columns of ``table_columns``, warnings). ``differences``:
    the between-level rows of ``group_by`` (default: each level minus the first)."""
    if data["effect"].isna().any() or data["se"].isna().any():  # (no copy of millions of rows without)
        data = data.dropna(subset=["effect", "se"])
    columns = spec.cell_columns
    if method == "mixedlm":
        parts, notes = [], []
        for values, part in (data.groupby(spec.split, sort=True) if spec.split else [((), data)]):
            rows, part_notes = fit_mixedlm(part, cells=spec.cells, group_by=group_by, numeric=numeric,
                                           differences=differences)
            for column, value in zip(spec.split, values if isinstance(values, tuple) else (values,)):
                rows[column] = value
            parts.append(rows)
            label = ", ".join(f"{c} {v}" for c, v in zip(spec.split, np.atleast_1d(values))) or "all"
            notes += [f"{label}: {note}" for note in part_notes]
        rows = pd.concat(parts, ignore_index=True)
    else:
        rows, notes = fit_cell_models(data, cells=columns, method=method, group_by=group_by, numeric=numeric,
                                      differences=differences)
    rows = add_inference(rows, fdr_within=["chroma", "term"])
    rows = rows.astype({"n": int})
    rows["rank"] = rows["term"].map({MEAN: 0, **{c: i for i, c in enumerate(numeric, start=1)}})
    rows = rows.sort_values(columns, key=_sort_key, kind="stable")
    return rows.sort_values("rank", kind="stable")[table_columns(spec, method=method, group_by=group_by)].reset_index(drop=True), notes


def _sort_key(column: pd.Series) -> pd.Series:
    """Names in natural order (S2_D1 before S10_D1); numbers (waveform time) by value."""
    return column if pd.api.types.is_numeric_dtype(column) else column.map(natural_key)

