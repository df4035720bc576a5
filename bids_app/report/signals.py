"""Figures of one recording's signals and data quality for the participant report.

- ``signal_overview_figure``: haemoglobin over time as channels x time images (HbO, HbR), with the events,
  the motion-flagged samples and the bad channels;
- ``spectrum_figure``: the power spectrum of every channel's optical density with the physiological bands;
- ``quality_map_figure``: scalp coupling index, peak spectral power and motion burden on the montage;
- ``recording_figures``: the overview and the spectrum of a recording as PNG and SVG, from the arrays that
  bids_app.first_level.signals.recording_signals computes from its MNE Raw objects.

Bands marked on the spectrum: Mayer waves, spontaneous oscillations of arterial pressure at about 0.1 Hz
(Julien 2006, Cardiovasc. Res. 70:12-21; in fNIRS Yucel et al. 2016, Biomed. Opt. Express 7(8):3078-3088),
drawn 0.08-0.12 Hz; respiration 0.2-0.4 Hz (12-24 breaths a minute, holding adults' usual resting rates;
"~0.2-0.4 Hz" in cedalion's physiology notes); cardiac 0.7-1.5 Hz, the band in which the scalp coupling
index and the peak spectral power are computed (bids_app.first_level.quality, after Pollonini et al. 2014).

Pure functions: arrays and tables in, figures (or PNG and SVG bytes) out; nothing is read or written here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bids_app.channels import channel_pair, natural_key
from bids_app.first_level.quality import CARDIAC_BAND_HZ
from bids_app.first_level.signals import SPECTRUM_WINDOW_S, RecordingSignals
from bids_app.report import figures, html

BANDS = (("Mayer waves", 0.08, 0.12), ("respiration", 0.2, 0.4), ("cardiac", *CARDIAC_BAND_HZ))
BAND_COLOURS = ("#8e44ad", "#16a085", "#d35400")
WAVELENGTH_COLOURS = ("#1b1b1b", "#2a7ab9")  # not the chroma colours: these are wavelengths
OVERVIEW_BINS = 800  # at most this many time bins drawn per channel (means of consecutive samples)
QUALITY_PANELS = (("sci", "scalp coupling index", "viridis"), ("psp", "peak spectral power", "viridis"),
                  ("motion_burden", "motion burden (% of samples)", "magma_r"))
FIGURE_DPI = 110  # PNG of the recording figures, as the report's other figures; the SVG beside it is for print


def signal_overview_figure(times: np.ndarray, data: np.ndarray, *, ch_names: list[str], events: pd.DataFrame,
                           bad: np.ndarray, motion_mask: np.ndarray, title: str, left_out: dict | None = None):
    """``data`` (n_channels, n_times, uM) of channels ``ch_names`` ("S1_D1 hbo") at ``times`` (s) as one image
    per chroma (rows: pairs in natural order); ``events``: onset, duration, trial_type; ``bad`` (n_channels,)
    and ``motion_mask`` (n_channels, n_times) booleans; ``left_out``: channel name -> its bad segments
    [(onset, end) s], cross-hatched on its row."""
    from matplotlib.patches import Rectangle

    data, motion_mask, bad = np.asarray(data, dtype=float), np.asarray(motion_mask, bool), np.asarray(bad, bool)
    starts = np.arange(0, len(times), -(-len(times) // OVERVIEW_BINS))
    counts = np.diff(np.append(starts, len(times)))
    binned = np.add.reduceat(data, starts, axis=1) / counts
    binned_motion = np.add.reduceat(motion_mask, starts, axis=1) > 0
    centres = np.add.reduceat(times, starts) / counts
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    extent_x = (times[0] - step / 2, times[-1] + step / 2)
    chroma = np.array([name.split(" ")[-1] for name in ch_names])
    pairs = np.array([channel_pair(name) for name in ch_names])
    chromas = [c for c in figures.CHROMA_LABELS if c in set(chroma)] or sorted(set(chroma))
    rows = [sorted(np.flatnonzero(chroma == c), key=lambda i: natural_key(pairs[i])) for c in chromas]
    height = max(1.8, 0.085 * max(len(r) for r in rows))
    fig = figures.new_figure(figsize=(12, 2.2 + height * len(chromas)))
    grid = fig.add_gridspec(2 + len(chromas), 2, width_ratios=[1, 0.015], height_ratios=[0.5, 0.6] + [height] * len(
        chromas), left=0.09, right=0.94, top=1 - 0.55 / fig.get_figheight(), bottom=0.45 / fig.get_figheight(),
        hspace=0.12, wspace=0.02)
    event_ax = fig.add_subplot(grid[0, 0])
    motion_ax = fig.add_subplot(grid[1, 0], sharex=event_ax)
    conditions = sorted(events["trial_type"].unique(), key=natural_key)
    for index, condition in enumerate(conditions):
        rows_of = events[events["trial_type"] == condition]
        spans = [(onset, max(duration, step)) for onset, duration in zip(rows_of["onset"], rows_of["duration"])]
        event_ax.broken_barh(spans, (index - 0.4, 0.8), color=f"C{index % 10}", label=figures.plain_text(condition))
    event_ax.set_yticks(range(len(conditions)), [figures.plain_text(c) for c in conditions], fontsize=7)
    event_ax.set_ylim(len(conditions) - 0.5, -0.5)
    figures.axes_title(event_ax, figures.plain_text(title), fontsize=10)
    per_pair = {p: binned_motion[pairs == p].any(axis=0) for p in dict.fromkeys(pairs)}
    flagged_pairs = np.sum(list(per_pair.values()), axis=0) if per_pair else np.zeros(len(centres))
    motion_ax.fill_between(centres, flagged_pairs, step="mid", color="0.2", linewidth=0)
    motion_ax.set_ylim(0, max(1, flagged_pairs.max()) * 1.1)
    motion_ax.set_ylabel("pairs with\nmotion", fontsize=7)
    motion_ax.tick_params(labelsize=7)
    for ax in (event_ax, motion_ax):
        ax.tick_params(labelbottom=False)
    unlabelled = [event_ax, motion_ax]
    for block, (name, indices) in enumerate(zip(chromas, rows)):
        ax = fig.add_subplot(grid[2 + block, 0], sharex=event_ax)
        unlabelled.append(ax)
        good = binned[indices][~bad[indices]]
        limit = figures.symmetric_limit([np.nanpercentile(np.abs(good), 99)] if good.size else [])
        image = ax.imshow(binned[indices], aspect="auto", interpolation="nearest", cmap="RdBu_r", vmin=-limit,
                          vmax=limit, extent=(*extent_x, len(indices) - 0.5, -0.5))
        flagged_rows, flagged_bins = np.nonzero(binned_motion[indices])
        ax.scatter(centres[flagged_bins], flagged_rows, marker="|", s=12, color="k", linewidths=0.6,
                   label="motion-flagged samples")
        for row, channel in enumerate(indices):
            spans = (left_out or {}).get(ch_names[channel])
            if spans:
                ax.broken_barh([(onset, end - onset) for onset, end in spans], (row - 0.5, 1.0), facecolors="none",
                               edgecolors="0.1", hatch="xxxx", linewidth=0, label="left out (bad segment)")
            if bad[channel]:
                ax.add_patch(Rectangle((extent_x[0], row - 0.5), extent_x[1] - extent_x[0], 1.0, fill=False,
                                       hatch="////", edgecolor="0.35", linewidth=0, label="bad pair"))
        ax.set_yticks(range(len(indices)), pairs[indices], fontsize=min(6.0, 260 / max(len(indices), 1)))
        for label, channel in zip(ax.get_yticklabels(), indices):
            label.set_color("#c0392b" if bad[channel] else "0.1")
        ax.set_ylabel(figures.CHROMA_LABELS.get(name, name), fontsize=8)
        ax.tick_params(axis="x", labelsize=7, labelbottom=block == len(chromas) - 1)
        bar = fig.colorbar(image, cax=fig.add_subplot(grid[2 + block, 1]))
        bar.set_label(figures.UNITS, fontsize=7)
        bar.ax.tick_params(labelsize=6)
    ax.set_xlabel("time (s)", fontsize=8)
    event_ax.set_xlim(*extent_x)
    for panel in unlabelled[:-1]:  # time ticks without labels above the last image
        figures.unlabelled_ticks_as_markers(panel, x=True)
    return fig


def spectrum_figure(freqs: np.ndarray, power: np.ndarray, *, ch_names: list[str], bad: np.ndarray,
                    bands=BANDS, title: str):
    """Power spectra ``power`` (n_channels, n_freqs) at ``freqs`` (Hz) of channels ``ch_names`` ("S1_D1 760"),
    log-log, a colour per wavelength, ``bands`` ((name, low, high), Hz) shaded and named."""
    from matplotlib.collections import LineCollection
    from matplotlib.ticker import FuncFormatter, NullFormatter

    keep = freqs > 0
    freqs, power, bad = freqs[keep], np.asarray(power, dtype=float)[:, keep], np.asarray(bad, bool)
    wavelengths = np.array([name.split(" ")[-1] for name in ch_names])
    fig = figures.new_figure(figsize=(10, 4.2))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.08, right=0.72, bottom=0.13, top=0.86)
    for index, wavelength in enumerate(sorted(set(wavelengths), key=natural_key)):
        colour = WAVELENGTH_COLOURS[index] if index < len(WAVELENGTH_COLOURS) else f"C{index}"
        good = (wavelengths == wavelength) & ~bad
        if good.any():  # one collection of thin lines: one artist to draw, not one per channel
            ax.add_collection(LineCollection([np.column_stack([freqs, p]) for p in power[good]], colors=colour,
                                             linewidths=0.4, alpha=0.25, rasterized=True))
            ax.plot(freqs, np.median(power[good], axis=0), color=colour, linewidth=2.0,
                    label=f"{figures.plain_text(wavelength)} nm: median of {int(good.sum())}")
    if bad.any():
        ax.add_collection(LineCollection([np.column_stack([freqs, p]) for p in power[bad]], colors="0.45",
                                         linewidths=0.6, linestyles="--", rasterized=True))
        ax.plot([], [], color="0.45", linewidth=0.6, linestyle="--", label=f"{int(bad.sum())} bad")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # plain numbers: mathtext labels (10^k) cost more than the whole plot
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlim(freqs[0], freqs[-1])
    positive = power[np.isfinite(power) & (power > 0)]
    if positive.size:
        ax.set_ylim(positive.min() / 1.5, positive.max() * 1.5)
        figures.minor_ticks_as_markers(ax)  # the limits are final
    for (name, low, high), colour in zip(bands, BAND_COLOURS):
        if low < freqs[-1]:
            ax.axvspan(low, high, color=colour, alpha=0.15, linewidth=0, label=f"{name} {low:g}-{high:g} Hz")
    ax.set_xlabel("frequency (Hz)", fontsize=8)
    ax.set_ylabel("optical density power (1/Hz)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figures.axes_title(ax, figures.plain_text(f"{title}\npower spectra of the optical density"), fontsize=10)
    return fig


def quality_map_figure(qc: pd.DataFrame, positions: pd.DataFrame, *, flat: bool, title: str,
                       thresholds: dict[str, float | None] | None = None):
    """The QC table's scalp coupling index, peak spectral power and motion burden of every long (circle) and
    short (square) pair at its position (``positions``: pair -> x, y, z), bad pairs crossed in red, values that
    were not computed grey; a threshold (``thresholds``: column -> value) drawn on its colour bar. Head positions
    are projected as MNE's topographic maps project them, on a head outline; a flat layout is drawn as it is,
    each channel labelled with its pair name (long pairs below their point, short pairs above)."""
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    table = qc.assign(pair=qc["name"].map(channel_pair, na_action="ignore")).drop_duplicates("pair")
    table = table[table["role"].isin(["long", "short"]) & table["pair"].isin(positions.index)]
    table = table.sort_values("pair", key=lambda s: s.map(natural_key))
    pairs, xyz = table["pair"].to_numpy(), positions.loc[table["pair"], ["x", "y", "z"]].to_numpy()
    short, bad = (table["role"] == "short").to_numpy(), (table["status"] == "bad").to_numpy()
    panels = [panel for panel in QUALITY_PANELS if panel[0] in table.columns]
    if flat:  # one panel per row, as wide as the page: room for the pair names
        span = np.ptp(xyz[:, :2], axis=0) if len(xyz) else np.ones(2)
        height = float(np.clip(7.5 * span[1] / max(span[0], 1e-9), 1.5, 4.0)) + 0.6
        fig = figures.new_figure(figsize=(9.5, height * len(panels) + 0.8))
        axes = fig.subplots(len(panels), 1, squeeze=False)
        fig.subplots_adjust(left=0.01, right=0.9, bottom=0.02, top=1 - 0.95 / fig.get_figheight(), hspace=0.2)
    else:
        fig = figures.new_figure(figsize=(3.3 * len(panels) + 0.8, 3.8))
        axes = fig.subplots(1, len(panels), squeeze=False)
        fig.subplots_adjust(left=0.01, right=0.93, bottom=0.03, top=0.8, wspace=0.3)
    for ax, (column, label, cmap_name) in zip(axes.ravel(), panels):
        scale = 100.0 if column == "motion_burden" else 1.0
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float) * scale
        threshold = (thresholds or {}).get(column)
        finite = values[np.isfinite(values)]
        top = 1.0 if column == "sci" else (max(finite.max() if finite.size else 0.0, threshold or 0.0) or 1.0)
        norm, cmap = Normalize(0.0, top), matplotlib.colormaps[cmap_name].with_extremes(bad="0.85")
        xy = figures.flat_xy(xyz)[0] if flat else _head_xy(ax, pairs, xyz)
        for marker, area, rows in (("o", 80, ~short), ("s", 30, short)):
            ax.scatter(xy[rows, 0], xy[rows, 1], c=values[rows], cmap=cmap, norm=norm, s=area, marker=marker,
                       plotnonfinite=True, edgecolors="0.25", linewidths=0.4, zorder=3)
        ax.scatter(xy[bad, 0], xy[bad, 1], marker="x", s=45, color="#c0392b", linewidths=1.6, zorder=4,
                   label="bad pair")
        if flat:
            figures.label_pairs(ax, xy[~short], pairs[~short], above=False)
            figures.label_pairs(ax, xy[short], pairs[short])
            ax.set_aspect("equal")
            ax.margins(0.08)
        ax.set_axis_off()
        figures.axes_title(ax, f"{label}" + ("" if finite.size else " (not computed)"), fontsize=9)
        bar = fig.colorbar(ScalarMappable(norm, cmap), cax=ax.inset_axes([1.0, 0.15, 0.025, 0.7]))
        bar.ax.tick_params(labelsize=7)
        if threshold is not None:
            bar.ax.axhline(threshold, color="#c0392b", linewidth=1.5)
            bar.set_label(f"threshold {threshold:g}", fontsize=7, color="#c0392b")
    notes = "flat probe layout (not head positions)" if flat else "head positions"
    fig.suptitle(figures.plain_text(f"{title}: channel quality\n{notes}; \u25cf long, \u25a0 short pair, "
                                    "\u2715 bad pair, grey: not computed"), fontsize=10)
    return fig


def _head_xy(ax, pairs, xyz: np.ndarray) -> np.ndarray:
    """Positions on the head projected as MNE's topographic maps project them, the head outline drawn on ``ax``."""
    import mne

    info = mne.create_info([str(p) for p in pairs], 1.0, ch_types="hbo", verbose="error")
    for channel, position in zip(info["chs"], xyz):
        channel["loc"][:3] = position
    mne.viz.plot_sensors(info, kind="topomap", axes=ax, show=False, show_names=False, pointsize=0)
    dots = ax.collections[-1]
    xy = np.asarray(dots.get_offsets(), dtype=float)
    dots.remove()
    return xy


def quality_map_parts(qc: pd.DataFrame, qc_info: dict, *, name: str) -> list[str]:
    """The report's quality map of a recording from its QC table and sidecar (HTML parts)."""
    positions = figures.channel_positions([qc])
    if not len(positions):
        return [html.paragraph("No channel positions: quality map not drawn.", css_class="warn")]
    flat = figures.is_flat_layout(positions, coordinate_system=qc_info.get("NIRSCoordinateSystem"))
    thresholds = {"sci": qc_info.get("SCIThreshold"), "psp": qc_info.get("PSPThreshold")}
    fig = quality_map_figure(qc, positions, flat=flat, title=name, thresholds=thresholds)
    stated = [f"{label} {thresholds[c]:g}" for c, label in (("sci", "SCI"), ("psp", "PSP")) if thresholds[c] is not None]
    drawn = f"thresholds (red line on the colour bar): {', '.join(stated)}." if stated else "no SCI or PSP threshold set."
    return [html.image(figures.png_bytes(fig), alt=f"channel quality map of {name}", caption=(
        "Scalp coupling index, peak spectral power of the cardiac band and motion burden (% of samples flagged) "
        "of every long (circle) and short (square) pair, from the QC table, each a marker at its channel position "
        f"(grey: not computed); a red cross marks the bad pairs; {drawn}"))]


def recording_figures(drawn: RecordingSignals, *, title: str) -> dict[str, tuple[bytes, bytes]]:
    """{"signals": (PNG, SVG), "spectrum": (PNG, SVG)} of one recording."""
    overview = signal_overview_figure(drawn.times, drawn.haemoglobin, ch_names=drawn.ch_names, events=drawn.events,
                                      bad=drawn.bad, motion_mask=drawn.motion, title=title, left_out=drawn.left_out)
    spectrum = spectrum_figure(drawn.freqs, drawn.power, ch_names=drawn.od_names, bad=drawn.od_bad, title=title)
    return {"signals": figures.png_and_svg(overview, dpi=FIGURE_DPI),
            "spectrum": figures.png_and_svg(spectrum, dpi=FIGURE_DPI)}


def recording_figure_parts(pngs: dict[str, bytes], qc_info: dict, *, name: str) -> list[str]:
    """The report's parts for the recording figures written by the participant job (``pngs``: "signals" and/or
    "spectrum" -> PNG bytes), with captions stating the motion threshold recorded in the QC sidecar."""
    robust_sds = qc_info.get("MotionThresholdRobustSD", "n/a")
    captions = {
        "signals": "Haemoglobin of every channel over time (\u00b5M, as converted before the GLM; rows are pairs, "
                   "each chroma with its own colour scale, symmetric around 0 at the 99th percentile of the good "
                   "channels' absolute values). Top: the events of each condition and the number of pairs with a "
                   f"motion-flagged sample (a step of the optical density more than {robust_sds} robust standard "
                   "deviations from the channel's median step, as for the motion burden); black ticks on the rows "
                   "mark those samples; hatched rows with red names are the bad pairs (left out of the GLM).",
        "spectrum": "Power spectral density of every channel's optical density (its linear trend removed; Welch, "
                    f"{SPECTRUM_WINDOW_S:g} s segments; thin lines: good channels, grey dashed: bad ones, thick: "
                    "median of the good channels per wavelength), with the bands of "
                    + ", ".join(f"{band} ({low:g}-{high:g} Hz)" for band, low, high in BANDS)
                    + "; the cardiac band is the one of the scalp coupling index and the peak spectral power.",
    }
    return [html.image(pngs[key], alt=f"{key} of {name}", caption=caption)
            for key, caption in captions.items() if key in pngs]
