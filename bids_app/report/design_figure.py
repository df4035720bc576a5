"""The figure of a first-level design matrix: conditions and short-channel regressors over time, the drifts
apart, and the correlations between regressors (drifts grouped)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bids_app.report.figures import axes_title, new_figure, plain_text


def design_figure(design: pd.DataFrame, *, kinds: dict[str, str], sfreq: float, title: str):
    """The design matrix in three readable parts: the condition regressors over time, the short-channel
    regressors over time (each scaled to its range), and the correlation of the condition, short-channel
    and constant columns with each other and with the drifts as one group (largest absolute correlation
    with any drift). ``kinds``: column -> its kind as the design sidecar records it ("condition: ...",
    "short-channel ...", "constant", "cosine drift")."""
    conditions = [c for c in design.columns if kinds.get(c, "").startswith("condition")]
    short = [c for c in design.columns if kinds.get(c, "").startswith("short")]
    drifts = [c for c in design.columns if kinds.get(c) == "cosine drift"]
    fig = new_figure(figsize=(13, 4.2))
    axes = fig.subplots(1, 3, width_ratios=[2.2, 2.2, 1.6])
    fig.subplots_adjust(left=0.02, right=0.97, bottom=0.27, top=0.86, wspace=0.12)
    seconds = np.arange(len(design)) / sfreq
    offset = 0.0
    for column in conditions:
        values = design[column].to_numpy(dtype=float)
        axes[0].plot(seconds, values + offset, linewidth=0.8, label=plain_text(column))
        offset += 1.2 * (np.ptp(values) or 1.0)
    axes_title(axes[0], "condition regressors (HRF-convolved, stacked)", fontsize=9)
    axes[0].set_xlabel("time (s)", fontsize=8)
    axes[0].set_yticks([])
    axes[0].legend(fontsize=7, loc="upper right")
    for index, column in enumerate(short):
        values = design[column].to_numpy(dtype=float)
        span = np.ptp(values) or 1.0
        axes[1].plot(seconds, (values - values.min()) / span + 1.1 * index, linewidth=0.6, label=plain_text(column))
    axes_title(axes[1], f"short-channel regressors ({len(short) or 'none'}), each scaled to its range", fontsize=9)
    axes[1].set_xlabel("time (s)", fontsize=8)
    axes[1].set_yticks([])
    if short:
        axes[1].legend(fontsize=7, loc="upper right")
    else:
        axes[1].text(0.5, 0.5, "no short-channel regressor", ha="center", va="center", transform=axes[1].transAxes)
        axes[1].set_xticks([])
    labels = conditions + short
    matrix = design[labels].corr().to_numpy() if labels else np.zeros((0, 0))
    if drifts and labels:
        with np.errstate(invalid="ignore", divide="ignore"):
            to_drifts = np.array([[np.nanmax(np.abs(design[drifts].corrwith(design[c]).to_numpy()))]
                                  for c in labels])
        matrix = np.hstack([matrix, to_drifts])
    names = [plain_text(c) for c in labels] + ([f"{len(drifts)} drifts (max |r|)"] if drifts else [])
    image = axes[2].imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    axes[2].set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    axes[2].set_yticks(range(len(labels)), [plain_text(c) for c in labels], fontsize=7)
    for (r, c), value in np.ndenumerate(matrix):
        axes[2].text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=6,
                     color="white" if abs(value) > 0.6 else "black")
    axes_title(axes[2], "correlation of the regressors", fontsize=9)
    fig.colorbar(image, ax=axes[2], shrink=0.8)
    fig.suptitle(plain_text(title), fontsize=10)
    return fig
