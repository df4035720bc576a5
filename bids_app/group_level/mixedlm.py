"""The MNE-NIRS tutorial's group model (``--group-method mixedlm``): one linear mixed-effects model per table
(or per split of it) with a fixed effect per cell and a random intercept per participant (statsmodels)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from bids_app.group_level.cell_models import MEAN
from bids_app.group_level.differences import Difference, default_differences


def fit_mixedlm(data: pd.DataFrame, *, cells: list[str], group_by: str | None = None,
                numeric: tuple[str, ...] = (), differences: list[Difference] | None = None
                ) -> tuple[pd.DataFrame, list[str]]:
    """The tutorial's model: one fixed effect per cell and a random intercept per participant, one
    residual variance for all cells; returns rows and warnings.

    With ``group_by`` (a categorical participants.tsv column) each cell is split by its levels and
    rows ``<level> - <first level>`` (or ``differences``) give the between-group differences; ``numeric`` columns enter
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
        parts.append(_group_differences(rows, fe, cov, cells=cells, group_by=group_by, differences=differences))
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
                       group_by: str, differences: list[Difference] | None) -> pd.DataFrame:
    """Per cell, each level minus the first (sorted) level of the cell, or the weighted sums ``differences``
    of the cell's levels, with the covariance of the estimates."""
    records = []
    for values, cell in rows.groupby(cells, sort=True):
        index = dict(zip(cell[group_by], cell.index))
        for label, weights in (default_differences(list(index)) if differences is None else differences):
            if not set(weights) <= set(index):  # a level without participants in this cell
                continue
            at = [index[level] for level in weights]
            w = np.array(list(weights.values()))
            records.append({**dict(zip(cells, values if isinstance(values, tuple) else (values,))),
                            group_by: label, "term": MEAN, "effect": w @ fe[at],
                            "se": np.sqrt(w @ cov[np.ix_(at, at)] @ w), "n": rows.loc[at, "n"].sum()})
    return pd.DataFrame(records)
