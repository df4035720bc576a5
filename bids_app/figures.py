"""Figures: topographic maps of channel effects, ROI effects with intervals, the design matrix.

Every function returns a matplotlib Figure (Agg backend, nothing shown). Channel positions come
from the participant-level QC tables (columns x, y, z: the midpoint of each source-detector pair).
Head positions are drawn by MNE's topomap on a head outline; a flat probe layout (coordinate system
"Other" or all z equal) is drawn as it is, without a head.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bids_app.preprocessing import natural_key

CHROMA_LABELS = {"hbo": "HbO", "hbr": "HbR"}
CHROMA_COLOURS = {"hbo": "#c0392b", "hbr": "#2457a6"}
UNITS = "\u00b5M"
MAX_COLUMNS = 4  # maps per row; more panels wrap onto further rows


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plain_text(text: str) -> str:
    """``text`` shown as it is by matplotlib (a ``$`` would otherwise start mathematical text)."""
    return str(text).replace("$", r"\$")


def channel_positions(qc_tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Pair -> x, y, z (m) from QC tables; the first table that has a pair gives its position."""
    frames = [t.assign(pair=t["name"].str.split(" ").str[0])[["pair", "x", "y", "z"]]
              for t in qc_tables if {"x", "y", "z"} <= set(t.columns)]
    if not frames:
        return pd.DataFrame(columns=["x", "y", "z"])
    positions = pd.concat(frames).dropna().drop_duplicates("pair").set_index("pair")
    return positions.astype(float)


def is_flat_layout(positions: pd.DataFrame, *, coordinate_system: str | None) -> bool:
    """Whether the positions are a flat probe layout rather than positions on a head."""
    from bids_app.rois import NON_HEAD_COORDINATE_SYSTEMS

    if (coordinate_system or "").strip().lower() in NON_HEAD_COORDINATE_SYSTEMS:
        return True
    return bool(np.ptp(positions["z"].to_numpy()) < 1e-6) if len(positions) else True


def symmetric_limit(values) -> float:
    """Half-width of a colour scale centred on zero that holds every value (1 when all are 0)."""
    finite = np.abs(np.asarray(values, dtype=float))
    finite = finite[np.isfinite(finite)]
    top = float(finite.max()) if finite.size else 0.0
    return top if top > 0 else 1.0


def topomap_figure(table: pd.DataFrame, positions: pd.DataFrame, *, panel_column: str,
                   flat: bool, title: str, q_threshold: float | None = None):
    """A grid of maps: one row per chroma, one column per value of ``panel_column``.

    ``table`` has columns ch_name ("S1_D1 hbo"), chroma, ``panel_column`` and effect (and q when
    ``q_threshold`` is given: channels with q >= threshold are drawn as 0 and the others marked).
    The colour scale is symmetric around zero and shared by all panels.
    """
    plt = _pyplot()
    table = table.assign(pair=table["ch_name"].str.split(" ").str[0])
    table = table[table["pair"].isin(positions.index)]
    panels = sorted(table[panel_column].unique(), key=natural_key)
    chromas = [c for c in CHROMA_LABELS if c in set(table["chroma"])]
    limit = symmetric_limit(table["effect"])
    columns = min(len(panels), MAX_COLUMNS)
    rows_per_chroma = -(-len(panels) // columns)
    fig, axes = plt.subplots(len(chromas) * rows_per_chroma, columns, squeeze=False, layout="constrained",
                             figsize=(max(2.9 * columns + 1.2, 5.0), 2.7 * len(chromas) * rows_per_chroma + 0.7))
    for ax in axes.ravel():
        ax.set_axis_off()
    image = None
    for block, chroma in enumerate(chromas):
        for index, panel in enumerate(panels):
            ax = axes[block * rows_per_chroma + index // columns, index % columns]
            ax.set_axis_on()
            cell = table[(table["chroma"] == chroma) & (table[panel_column] == panel)]
            cell = cell.sort_values("pair", key=lambda s: s.map(natural_key))
            image = _draw_map(ax, cell, positions, flat=flat, limit=limit, q_threshold=q_threshold)
            ax.set_title(plain_text(f"{CHROMA_LABELS[chroma]} \u00b7 {panel}"), fontsize=9)
    if image is not None:
        bar = fig.colorbar(image, ax=axes, shrink=0.8, fraction=0.05)
        bar.set_label(f"effect ({UNITS})")
    note = f"; channels with q \u2265 {q_threshold:g} shown as 0" if q_threshold is not None else ""
    layout = "flat probe layout (not head positions)" if flat else "head positions"
    fig.suptitle(plain_text(f"{title}\n{layout}{note}"), fontsize=10)
    return fig


def masked_effects(cell: pd.DataFrame, *, q_threshold: float | None) -> tuple[np.ndarray, np.ndarray | None]:
    """(values to draw, mask of marked channels): with a threshold, effects with q >= it become 0."""
    values = cell["effect"].to_numpy(dtype=float)
    if q_threshold is None:
        return values, None
    mask = cell["q"].to_numpy(dtype=float) < q_threshold
    return np.where(mask, values, 0.0), mask


def _draw_map(ax, cell: pd.DataFrame, positions: pd.DataFrame, *, flat: bool, limit: float,
              q_threshold: float | None):
    import mne

    values, mask = masked_effects(cell, q_threshold=q_threshold)
    if len(values) < 3:
        ax.text(0.5, 0.5, "fewer than 3 channels", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return None
    xyz = positions.loc[cell["pair"], ["x", "y", "z"]].to_numpy()
    common = {"vlim": (-limit, limit), "cmap": "RdBu_r", "axes": ax, "show": False, "contours": 0,
              "mask": mask, "mask_params": {"markersize": 5, "markerfacecolor": "k"}}
    try:
        if flat:
            xy = xyz[:, :2] - xyz[:, :2].mean(axis=0)
            radius = float(np.abs(xy).max()) * 1.15 or 1.0
            image, _ = mne.viz.plot_topomap(values, xy, sphere=(0.0, 0.0, 0.0, radius), outlines=None,
                                            extrapolate="local", res=128, **common)
            ax.set_aspect("equal")
        else:
            info = mne.create_info(list(cell["pair"]), 1.0, ch_types="hbo", verbose="error")
            for channel, position in zip(info["chs"], xyz):
                channel["loc"][:3] = position
            image, _ = mne.viz.plot_topomap(values, info, extrapolate="local", **common)
    except Exception:  # noqa: BLE001 - e.g. positions Qhull cannot triangulate: draw the channels as dots
        ax.clear()
        image = ax.scatter(xyz[:, 0], xyz[:, 1], c=values, cmap="RdBu_r", vmin=-limit, vmax=limit, s=90,
                           edgecolors=np.where(mask, "k", "none") if mask is not None else "none")
        ax.set_aspect("equal")
        ax.set_axis_off()
    return image


def roi_figure(table: pd.DataFrame, *, value_columns=("effect", "ci_low", "ci_high"), title: str):
    """Effects with 95% intervals per ROI and condition, HbO and HbR side by side."""
    plt = _pyplot()
    effect, low, high = value_columns
    rows = table.sort_values(["roi", "condition"], key=lambda s: s.map(natural_key))
    labels = list(dict.fromkeys(zip(rows["roi"], rows["condition"])))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(labels) + 1.4))
    for offset, chroma in zip((-0.15, 0.15), CHROMA_LABELS):
        part = rows[rows["chroma"] == chroma]
        where = {label: i for i, label in enumerate(labels)}
        y = np.array([where[(r, c)] for r, c in zip(part["roi"], part["condition"])]) + offset
        ax.errorbar(part[effect], y, xerr=[part[effect] - part[low], part[high] - part[effect]],
                    fmt="o", color=CHROMA_COLOURS[chroma], label=CHROMA_LABELS[chroma], capsize=3)
    ax.axvline(0, color="0.4", linewidth=0.8)
    ax.set_yticks(range(len(labels)), [plain_text(f"{r} \u00b7 {c}") for r, c in labels])
    ax.set_ylim(len(labels) - 0.5, -0.5)  # first label on top, room around every row
    ax.set_xlabel(f"effect ({UNITS}) with 95% interval")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_title(plain_text(title), fontsize=10)
    fig.tight_layout()
    return fig


def design_figure(design: pd.DataFrame, *, title: str):
    """The design matrix as an image (nilearn's design-matrix plot)."""
    plt = _pyplot()
    from nilearn.plotting import plot_design_matrix

    fig, ax = plt.subplots(figsize=(min(2 + 0.35 * design.shape[1], 14), 5))
    plot_design_matrix(design.rename(columns=plain_text), axes=ax)
    ax.set_title(plain_text(title), fontsize=10)
    fig.tight_layout()
    return fig


def png_bytes(fig, *, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (the figure is closed)."""
    import io

    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()
