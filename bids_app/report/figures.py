"""Figures: topographic maps of channel effects, ROI effects with intervals, the design matrix.

Every function returns a matplotlib Figure (Agg backend, nothing shown). Channel positions come
from the participant-level QC tables (columns x, y, z: the midpoint of each source-detector pair).
Head positions are drawn by MNE's topomap on a head outline; a flat probe layout (coordinate system
"Other" or all z equal) is drawn as it is, without a head.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bids_app.channels import channel_pair, natural_key

CHROMA_LABELS = {"hbo": "HbO", "hbr": "HbR"}
CHROMA_COLOURS = {"hbo": "#c0392b", "hbr": "#2457a6"}
UNITS = "\u00b5M"
MAX_COLUMNS = 4  # maps per row; more panels wrap onto further rows


def new_figure(**kwargs):
    """A matplotlib Figure on an Agg canvas, outside pyplot (no figure manager, nothing to close): pyplot's
    bookkeeping costs time per figure and keeps figures alive until closed. ``kwargs`` as for Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def axes_title(ax, text: str, **kwargs):
    """``ax.set_title`` at the default place (the top of the axes plus the title pad) without matplotlib's
    search, at every draw, for tick labels on top that could overlap the title (none of these figures has
    them): the search measures every tick label of the axes."""
    return ax.set_title(text, y=1.0, **kwargs)


def _tick_marks(ax, axis, locations: np.ndarray, mark) -> None:
    """Tick marks styled as ``mark`` (a tick's tick1line) at ``locations`` of ``axis`` as one line of markers, the
    locations within the view (matplotlib keeps a tick at either end)."""
    from matplotlib.lines import Line2D

    scale = axis.get_transform()
    low, high = sorted(scale.transform(np.asarray(axis.get_view_interval(), dtype=float)))
    where = scale.transform(locations) if len(locations) else locations
    tolerance = (high - low) * 1e-10
    locations = locations[(where >= low - tolerance) & (where <= high + tolerance)]
    if len(locations) and mark.get_visible():
        zeros = np.zeros(len(locations))
        is_x = axis is ax.xaxis
        ax.add_artist(Line2D(*((locations, zeros) if is_x else (zeros, locations)),
                             transform=ax.get_xaxis_transform() if is_x else ax.get_yaxis_transform(),
                             linestyle="none", marker=mark.get_marker(), markersize=mark.get_markersize(),
                             markeredgewidth=mark.get_markeredgewidth(), color=mark.get_markeredgecolor(),
                             zorder=axis.get_zorder(), clip_on=False))


def unlabelled_ticks_as_markers(ax, *, x: bool = False, y: bool = False) -> None:
    """The major tick marks of ``ax``'s x and/or y axis, whose labels are hidden (inner panels of shared axes),
    drawn as one line of tick markers per axis instead of one tick object (two lines, two texts) each: the same
    marks at the same places. The axis gets its own locator (none) while its limits stay shared; call it once the
    panels hold all their data (the limits are then final)."""
    from matplotlib.axis import Ticker
    from matplotlib.ticker import NullFormatter, NullLocator

    for axis in [a for a, chosen in ((ax.xaxis, x), (ax.yaxis, y)) if chosen]:
        _tick_marks(ax, axis, np.asarray(axis.get_majorticklocs(), dtype=float), axis.get_major_ticks(1)[0].tick1line)
        axis.major = Ticker()  # not the locator shared with the other panels
        axis.set_major_locator(NullLocator())
        axis.set_major_formatter(NullFormatter())


def minor_ticks_as_markers(ax) -> None:
    """The minor tick marks of ``ax`` (unlabelled: a log axis's) drawn as one line of tick markers per axis, where
    matplotlib creates a tick object (two lines, two texts) for each: the same marks at the same places, most of a
    log-log plot's drawing time saved. Call it once the axis limits are set."""
    from matplotlib.ticker import NullLocator

    for axis in (ax.xaxis, ax.yaxis):
        _tick_marks(ax, axis, np.asarray(axis.get_minorticklocs(), dtype=float), axis.get_minor_ticks(1)[0].tick1line)
        axis.set_minor_locator(NullLocator())


def plain_text(text: str) -> str:
    """``text`` shown as it is by matplotlib (a ``$`` would otherwise start mathematical text)."""
    return str(text).replace("$", r"\$")


def channel_positions(qc_tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Pair -> x, y, z (m) from QC tables; the first table that has a pair gives its position."""
    frames = [t.assign(pair=t["name"].map(channel_pair, na_action="ignore"))[["pair", "x", "y", "z"]]
              for t in qc_tables if {"x", "y", "z"} <= set(t.columns)]
    if not frames:
        return pd.DataFrame(columns=["x", "y", "z"])
    positions = pd.concat(frames).dropna().drop_duplicates("pair").set_index("pair")
    return positions.astype(float)


def is_flat_layout(positions: pd.DataFrame, *, coordinate_system: str | None) -> bool:
    """Whether the positions are a flat probe layout rather than positions on a head."""
    from bids_app.first_level.rois import NON_HEAD_COORDINATE_SYSTEMS

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
                   flat: bool, title: str, q_threshold: float | None = None, mark_q: float | None = None):
    """A grid of maps: one row per chroma, one column per value of ``panel_column``.

    ``table`` has columns ch_name ("S1_D1 hbo"), chroma, ``panel_column`` and effect (and q when
    ``q_threshold`` or ``mark_q`` is given: with ``q_threshold`` channels with q >= threshold are drawn
    as 0 and the others marked; with ``mark_q`` channels with q < mark_q are marked, every channel drawn
    with its effect). Each chroma has its own colour scale, symmetric around zero and shared by its
    panels (HbR responses are a fraction of HbO's). On a flat layout the channels carry their pair names.
    """
    table = table.assign(pair=table["ch_name"].map(channel_pair, na_action="ignore"))
    table = table[table["pair"].isin(positions.index)]
    panels = sorted(table[panel_column].unique(), key=natural_key)
    chromas = [c for c in CHROMA_LABELS if c in set(table["chroma"])]
    columns = min(len(panels), MAX_COLUMNS)
    rows_per_chroma = -(-len(panels) // columns)
    size = 3.6 if flat else 2.9
    notes = ["flat probe layout (not head positions)" if flat else "head positions", "one colour scale per chroma"]
    if q_threshold is not None:
        notes.append(f"channels with q \u2265 {q_threshold:g} shown as 0")
    if mark_q is not None:
        notes.append(f"\u25cf q < {mark_q:g} (FDR)")
    lines = [", ".join(notes[i:i + 2]) for i in range(0, len(notes), 2)] if columns < 3 else ["; ".join(notes)]
    width, height = max(size * columns + 1.4, 5.0), (size - 0.2) * len(chromas) * rows_per_chroma + 0.7
    fig = new_figure(figsize=(width, height))
    # A fixed layout (inches), as constrained layout placed it: the title's lines on top, then one row of maps per
    # chroma (and per MAX_COLUMNS panels), each map under its title, a colour bar right of each chroma's rows.
    # Constrained layout measured every artist at every draw, as long again as the drawing itself.
    top = 0.02 * height + 0.17 * (1 + len(lines))
    row = (height - top - 0.05) / (len(chromas) * rows_per_chroma)
    cell_width = (width - 0.15 - 1.0) / columns
    images = {}

    def cell_box(block: int, index: int):  # the map of panel ``index`` in the rows of chroma ``block``
        row_top = top + (block * rows_per_chroma + index // columns) * row
        return _box(0.15 + (index % columns) * cell_width, row_top + 0.25, cell_width - 0.05, row - 0.25,
                    width=width, height=height)

    for block, chroma in enumerate(chromas):
        limit = symmetric_limit(table.loc[table["chroma"] == chroma, "effect"])
        for index, panel in enumerate(panels):
            ax = fig.add_axes(cell_box(block, index))
            cell = table[(table["chroma"] == chroma) & (table[panel_column] == panel)]
            cell = cell.sort_values("pair", key=lambda s: s.map(natural_key))
            drawn = _draw_map(ax, cell, positions, flat=flat, limit=limit, q_threshold=q_threshold, mark_q=mark_q)
            images[chroma] = drawn if drawn is not None else images.get(chroma)
            axes_title(ax, plain_text(f"{CHROMA_LABELS[chroma]} \u00b7 {panel}"), fontsize=9)
        for index in range(len(panels), rows_per_chroma * columns):  # the grid's empty cells, as before: hidden axes
            fig.add_axes(cell_box(block, index)).set_axis_off()
    for block, chroma in enumerate(chromas):  # the colour bars after every map (the figure's last axes)
        image = images.get(chroma)
        if image is not None:
            block_height = rows_per_chroma * row
            bar_height = 0.8 * (block_height - 0.27)
            block_top = top + block * block_height + 0.27 + (block_height - 0.27 - bar_height) / 2
            bar_width = bar_height / 20  # matplotlib's colour bar aspect
            cax = fig.add_axes(_box(width - 0.75 - bar_width, block_top, bar_width, bar_height, width=width,
                                    height=height))
            bar = fig.colorbar(image, cax=cax)
            bar.set_label(f"{CHROMA_LABELS[chroma]} effect ({UNITS})")
    fig.suptitle(plain_text("\n".join([title, *lines])), fontsize=10)
    return fig


def _box(left: float, top: float, box_width: float, box_height: float, *, width: float, height: float) -> list[float]:
    """An axes rectangle (figure fractions) from its left edge and top edge (inches from the figure's top left)."""
    return [left / width, 1 - (top + box_height) / height, box_width / width, box_height / height]


def masked_effects(cell: pd.DataFrame, *, q_threshold: float | None,
                   mark_q: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(values to draw, mask of marked channels): with a threshold, effects with q >= it become 0; with
    ``mark_q`` the channels with q below it are marked and every effect is kept."""
    values = cell["effect"].to_numpy(dtype=float)
    if q_threshold is None:
        return values, (None if mark_q is None else cell["q"].to_numpy(dtype=float) < mark_q)
    mask = cell["q"].to_numpy(dtype=float) < q_threshold
    return np.where(mask, values, 0.0), mask


def _draw_map(ax, cell: pd.DataFrame, positions: pd.DataFrame, *, flat: bool, limit: float,
              q_threshold: float | None, mark_q: float | None = None):
    import mne

    values, mask = masked_effects(cell, q_threshold=q_threshold, mark_q=mark_q)
    if len(values) < 3:
        ax.text(0.5, 0.5, "fewer than 3 channels", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return None
    xyz = positions.loc[cell["pair"], ["x", "y", "z"]].to_numpy()
    common = {"vlim": (-limit, limit), "cmap": "RdBu_r", "axes": ax, "show": False, "contours": 0,
              "mask": mask, "mask_params": {"markersize": 5, "markerfacecolor": "k"}}
    try:
        if flat:
            xy, radius = flat_xy(xyz)
            image, _ = mne.viz.plot_topomap(values, xy, sphere=(0.0, 0.0, 0.0, radius), outlines=None,
                                            extrapolate="local", res=128, **common)
            label_pairs(ax, xy, cell["pair"])
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


def flat_xy(xyz: np.ndarray) -> tuple[np.ndarray, float]:
    """A flat layout's (x, y) centred on their mean, and the radius of the circle drawn around them."""
    xy = xyz[:, :2] - xyz[:, :2].mean(axis=0)
    return xy, float(np.abs(xy).max()) * 1.15 or 1.0


def label_pairs(ax, xy: np.ndarray, pairs, *, above: bool = True) -> None:
    """Each point of a flat layout labelled with its pair name, just above it (or below)."""
    for (x, y), pair in zip(xy, pairs):
        ax.annotate(pair, (x, y), xytext=(0, 3 if above else -3), textcoords="offset points", ha="center",
                    va="bottom" if above else "top", fontsize=5, color="0.15")


def roi_figure(table: pd.DataFrame, *, value_columns=("effect", "ci_low", "ci_high"), title: str):
    """Effects with 95% intervals per ROI and condition, HbO and HbR side by side."""
    effect, low, high = value_columns
    rows = table.sort_values(["roi", "condition"], key=lambda s: s.map(natural_key))
    labels = list(dict.fromkeys(zip(rows["roi"], rows["condition"])))
    fig = new_figure(figsize=(7, 0.45 * len(labels) + 1.4))
    ax = fig.subplots()
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


def waveform_figure(table: pd.DataFrame, *, title: str, band: str = "se", kind: str = "response waveforms (FIR)"):
    """Response waveforms: one panel per ROI (rows) and condition (columns), HbO red and HbR blue over
    time from onset, with a band of +/-1.96 ``se`` (``band="se"``) or from ci_low to ci_high
    (``band="ci"``). ``table``: roi, chroma, condition, time, effect and se (or ci_low, ci_high)."""
    rois = sorted(table["roi"].unique(), key=natural_key)
    conditions = sorted(table["condition"].unique(), key=natural_key)
    width, height = 2.9 * len(conditions) + 0.8, 2.2 * len(rois) + 1.0
    fig = new_figure(figsize=(width, height))
    axes = fig.subplots(len(rois), len(conditions), squeeze=False, sharex=True, sharey=True)
    fig.subplots_adjust(left=0.6 / width, right=1 - 0.15 / width, bottom=0.5 / height, top=1 - 0.75 / height,
                        wspace=0.08, hspace=0.25)  # fixed margins: constrained layout doubles the drawing time
    for i, roi in enumerate(rois):
        for j, condition in enumerate(conditions):
            ax = axes[i, j]
            for chroma, label in CHROMA_LABELS.items():
                rows = table[(table["roi"] == roi) & (table["condition"] == condition) & (table["chroma"] == chroma)]
                if rows.empty:
                    continue
                rows = rows.sort_values("time")
                low, high = ((rows["effect"] - 1.96 * rows["se"], rows["effect"] + 1.96 * rows["se"]) if band == "se"
                             else (rows["ci_low"], rows["ci_high"]))
                ax.fill_between(rows["time"], low, high, color=CHROMA_COLOURS[chroma], alpha=0.2, linewidth=0)
                ax.plot(rows["time"], rows["effect"], color=CHROMA_COLOURS[chroma], label=label, linewidth=1.5)
            ax.axhline(0, color="0.5", linewidth=0.6)
            ax.axvline(0, color="0.3", linewidth=0.8, linestyle="--")
            axes_title(ax, plain_text(f"{roi} \u00b7 {condition}"), fontsize=8)
            if i == len(rois) - 1:
                ax.set_xlabel("time from onset (s)", fontsize=8)
            if j == 0:
                ax.set_ylabel(UNITS, fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, -1].legend(fontsize=7, loc="upper right")
    for (i, j), ax in np.ndenumerate(axes):  # inner panels: tick marks without labels
        unlabelled_ticks_as_markers(ax, x=i < len(rois) - 1, y=j > 0)
    shown = "\u00b11.96 se" if band == "se" else "95% interval"
    fig.suptitle(plain_text(f"{title}\n{kind} with {shown}"), fontsize=10)
    return fig


PRINT_DPI = 200  # group figures written to figures/: PNG at this resolution, and SVG


PNG_COMPRESS_LEVEL = 3  # zlib level: 1.5-2x faster than PIL's default 6, files no larger (RGB, not RGBA)


def png_and_svg(fig, *, dpi: int = PRINT_DPI) -> tuple[bytes, bytes]:
    """The figure as PNG bytes at ``dpi`` and as SVG (vector, text as text), reproducibly (no date, fixed
    element ids)."""
    import io

    import matplotlib

    png = _png(fig, dpi=dpi)
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "fnirs-glm", "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return png, buffer.getvalue()


def png_bytes(fig, *, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    return _png(fig, dpi=dpi)


def _png(fig, *, dpi: float) -> bytes:
    """The figure drawn by Agg at ``dpi`` as an RGB PNG (the figure's background is opaque: the alpha channel
    would only make the file larger and slower to write), no text chunks, the resolution recorded."""
    import io

    from PIL import Image

    raw = io.BytesIO()
    fig.savefig(raw, format="rgba", dpi=dpi)
    renderer = fig.canvas.renderer
    image = Image.frombuffer("RGBA", (int(renderer.width), int(renderer.height)), raw.getbuffer(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="png", compress_level=PNG_COMPRESS_LEVEL, dpi=(dpi, dpi))
    return buffer.getvalue()

