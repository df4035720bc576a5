"""Channel, ROI and contrast statistics tables from a fitted GLM.

Effects and standard errors are in micromolar (the signals are). t = effect / se; p is two-sided
from Student's t with the residual degrees of freedom of the fit (n_times - rank of the design; for
ar-irls the sum of the robust weights - rank); ar_order is the AR order of the signal's noise model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bids_app.channels import channel_chroma, channel_pair, natural_key
from bids_app.first_level.glm import GLMFit


def _statistics(fit: GLMFit, weights: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
    effect, se = fit.contrast(weights)
    effect, se = effect[rows], se[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = effect / se
    df = fit.degrees_of_freedom()[rows]
    return {"effect": effect, "se": se, "t": t, "df": df, "p": 2 * stats.t.sf(np.abs(t), df),
            "ar_order": fit.ar_orders()[rows]}


def _weights(design_columns: list[str], contrast: dict[str, float]) -> np.ndarray:
    return np.array([contrast.get(column, 0.0) for column in design_columns])


def channel_table(fit: GLMFit, *, ch_names: list[str], design_columns: list[str],
                  conditions: list[str], rows: np.ndarray) -> pd.DataFrame:
    """One row per long channel x chroma x condition; ``rows`` index the channels in ``fit``."""
    parts = []
    for condition in conditions:
        part = _channel_columns(ch_names, rows)
        part.insert(4, "condition", condition)
        parts.append(part.assign(**_statistics(fit, _weights(design_columns, {condition: 1.0}), rows)))
    return _sort(pd.concat(parts, ignore_index=True), ["condition"])


def contrast_table(fit: GLMFit, *, ch_names: list[str], design_columns: list[str],
                   contrasts: dict[str, dict[str, float]], rows: np.ndarray) -> pd.DataFrame:
    parts = []
    for name, weights in contrasts.items():
        part = _channel_columns(ch_names, rows)
        part.insert(0, "contrast", name)
        parts.append(part.assign(**_statistics(fit, _weights(design_columns, weights), rows)))
    return _sort(pd.concat(parts, ignore_index=True), ["contrast"])


def roi_table(fit: GLMFit, *, roi_rows: dict[tuple[str, str], int | None], n_channels: dict,
              design_columns: list[str], conditions: list[str]) -> pd.DataFrame:
    """One row per ROI x chroma x condition; an ROI without good channels has n/a statistics."""
    records = []
    for (roi, chroma), row in roi_rows.items():
        for condition in conditions:
            record = {"roi": roi, "chroma": chroma, "condition": condition,
                      "n_channels": n_channels[(roi, chroma)]}
            if row is None:
                record.update(effect=np.nan, se=np.nan, t=np.nan, df=np.nan, p=np.nan, ar_order=np.nan)
            else:
                values = _statistics(fit, _weights(design_columns, {condition: 1.0}), np.array([row]))
                record.update({key: value[0] for key, value in values.items()})
            records.append(record)
    table = pd.DataFrame.from_records(records)
    columns = ["roi", "chroma", "condition", "effect", "se", "t", "df", "p", "ar_order", "n_channels"]
    return table[columns].sort_values(["roi", "chroma", "condition"], kind="stable").reset_index(drop=True)


def _channel_columns(ch_names: list[str], rows: np.ndarray) -> pd.DataFrame:
    names = [ch_names[i] for i in rows]
    pairs = [channel_pair(n) for n in names]
    return pd.DataFrame({
        "ch_name": names,
        "source": [p.split("_")[0] for p in pairs],
        "detector": [p.split("_")[1] for p in pairs],
        "chroma": [channel_chroma(n) for n in names],
    })


def _sort(table: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    return table.sort_values(first + ["chroma", "ch_name"], key=lambda column: column.map(natural_key),
                             kind="stable").reset_index(drop=True)
