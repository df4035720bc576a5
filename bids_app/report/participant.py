"""The participant report ``sub-<label>.html``, built from what is in OUTPUT_DIR (so a report always matches
the files beside it): a table of contents; per recording, a summary, the channel quality (table and map), the
design matrix (conditions, short channels, regressor correlations), the response waveforms, maps of the channel
effects per condition (FDR-significant channels marked), the contrasts and the ROI table."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bids_app.channels import channel_pair
from bids_app.derivatives import read_json, read_tsv
from bids_app.layout import RecordingOutputs
from bids_app.report import figures, html, signals
from bids_app.report.design_figure import design_figure

QC_COLUMNS = ["name", "distance_mm", "role", "sci", "psp", "motion_burden", "status", "status_description"]


def report_digest(recordings: list[RecordingOutputs]) -> str:
    """SHA-256 of the design sidecars of ``recordings``: what a participant report is built from."""
    import hashlib

    digest = hashlib.sha256()
    for outputs in recordings:
        digest.update(outputs.prefix.encode() + b"\0" + outputs.design_json.read_bytes() + b"\0")
    return digest.hexdigest()


def written_digest(report: Path) -> str | None:
    """The digest recorded in an existing report (None without one)."""
    import re

    try:
        found = re.search(r'<meta name="fnirs-glm-sources" content="([0-9a-f]+)">', report.read_text())
    except OSError:
        return None
    return found.group(1) if found else None


def participant_report(output_dir: Path, *, subject: str, digest: str = "") -> str:
    recordings = RecordingOutputs.find(output_dir, subject=subject)
    body = [html.paragraph(f"{len(recordings)} recording(s) of participant {subject}. "
                           "Effects are in \u00b5M; every table is a file beside this report.")]
    sections = [_recording_section(outputs) for outputs in recordings]
    body.append(html.heading("Contents"))
    body.append(html.contents([(name, titles) for name, titles, _ in sections]))
    for _, _, section in sections:
        body += section
    return html.page(title=f"fnirs-glm: participant {subject}", body=body,
                     meta={"fnirs-glm-sources": digest} if digest else None)


FDR_Q = 0.05  # channels marked on the participant maps: Benjamini-Hochberg q below this, within the recording


def _recording_section(outputs: RecordingOutputs) -> tuple[str, list[tuple[str, str]], list[str]]:
    """(recording name, [(anchor, title)] of its subsections, HTML parts)."""
    name = outputs.name
    design = read_tsv(outputs.design_tsv)
    design_info = read_json(outputs.design_json)
    qc = read_tsv(outputs.qc_tsv)
    qc_info = read_json(outputs.qc_json)
    channels = read_tsv(outputs.stats("channel"))
    rois = read_tsv(outputs.stats("roi"))
    pairs = qc.assign(pair=qc["name"].map(channel_pair, na_action="ignore")).drop_duplicates("pair")
    bad = qc[qc["status"] == "bad"]
    sfreq = design_info.get("SamplingFrequency")
    titles: list[tuple[str, str]] = []

    def subsection(title: str) -> str:
        anchor = f"{name}-{len(titles)}"
        titles.append((anchor, title))
        return html.heading(title, level=3, anchor=anchor)

    section = [html.heading(name, anchor=name)]
    section.append(html.definitions({
        "Duration": f"{len(design) / sfreq:.0f} s ({len(design)} samples at {sfreq:g} Hz)" if sfreq else "n/a",
        "Conditions": ", ".join(design_info.get("Conditions", [])),
        "Pairs": ", ".join(f"{n} {role}" for role, n in pairs["role"].value_counts().items()),
        "Noise model": design_info.get("NoiseModel", "n/a"),
        "Motion correction": _motion_correction(design_info),
        "Bad segments": _bad_segments(design_info),
        "Short-channel regressors": ", ".join(design_info.get("ShortChannelRegressors", [])) or "none",
        "Data quality": quality_summary(qc),
    }))
    warnings = qc_info.get("Warnings", [])
    if warnings:
        section.append(subsection("Warnings"))
        section.append(html.bullet_list(warnings, css_class="warn"))
    section.append(subsection("Channel quality"))
    columns = [c for c in QC_COLUMNS if c in qc.columns]  # outputs of versions before psp lack some
    if len(bad):
        section.append(html.paragraph(f"Bad channels ({len(bad)}) and why:"))
        section.append(html.table(bad[columns]))
    else:
        section.append(html.paragraph("No bad channel."))
    section.append(html.details(f"All {len(qc)} channels", html.table(qc[columns])))
    section += signals.quality_map_parts(qc, qc_info, name=name)
    if outputs.anatomy().is_file():
        section.append(subsection("Where on the brain"))
        section += _anatomy_parts(outputs, long_pairs=set(pairs.loc[pairs["role"] == "long", "pair"]))
    pngs = {d: outputs.figure(d).read_bytes() for d in ("signals", "spectrum") if outputs.figure(d).is_file()}
    if pngs:
        section.append(subsection("Signals and spectrum"))
        section += signals.recording_figure_parts(pngs, qc_info, name=name)
    section.append(subsection("Design matrix"))
    if sfreq:
        fig = design_figure(design, kinds=design_info.get("Columns", {}), sfreq=sfreq, title=name)
        section.append(html.image(figures.png_bytes(fig), alt=f"design matrix of {name}",
                                  caption=_design_caption(design_info)))
    waveform_path = outputs.stats("waveform")
    if waveform_path.is_file():  # outputs of versions before the waveforms lack it
        section.append(subsection("Response waveforms"))
        section += _waveform_parts(outputs)
    block_path = outputs.stats("blockaverage")
    if block_path.is_file():
        section.append(subsection("Block averages"))
        section += _block_average_parts(outputs)
    positions = figures.channel_positions([qc])
    flat = figures.is_flat_layout(positions, coordinate_system=qc_info.get("NIRSCoordinateSystem"))
    section.append(subsection("Channel effects"))
    section += _map_parts(channels, positions, flat=flat, panel="condition", name=name, what="GLM effect")
    contrast_path = outputs.stats("contrast")
    if contrast_path.is_file():
        contrasts = read_tsv(contrast_path)
        section.append(subsection("Contrasts"))
        section += _map_parts(contrasts, positions, flat=flat, panel="contrast", name=name, what="Contrast effect")
        section.append(html.details(f"All {len(contrasts)} contrast rows", html.table(
            _with_q(contrasts).drop(columns=["source", "detector"], errors="ignore"))))
    section.append(subsection("Regions of interest"))
    section.append(html.table(rois))
    return name, titles, section


def _anatomy_parts(outputs: RecordingOutputs, *, long_pairs: set[str]) -> list[str]:
    """The montage of the long pairs on the template brain (drawn from the anatomy table and its sidecar) and
    the table of every pair."""
    table = read_tsv(outputs.anatomy())
    info = read_json(outputs.anatomy(".json"))
    every = table.drop_duplicates("pair")
    pairs = every[every["pair"].isin(long_pairs)]
    png = _montage_png(pairs.to_csv(index=False), json.dumps(info.get("OptodePositions", {}), sort_keys=True))
    atlas = info.get("Atlas", "none")
    caption = (f"Sources (red), detectors (blue) and channels on the MNI152 template, each channel's {atlas} label "
               f"at its cortex point. Registration: {info.get('Registration', 'n/a')}." if atlas != "none" else
               f"Sources (red), detectors (blue) and channels on the MNI152 template. Registration: "
               f"{info.get('Registration', 'n/a')}.")
    return [html.image(png, alt=f"montage of {outputs.name} on the brain", caption=caption),
            html.details(f"All {len(every)} pairs (MNI152 mm; {outputs.anatomy().name})",
                         html.table(every.drop(columns=["ch_name"])))]


@functools.lru_cache(maxsize=16)
def _montage_png(pairs_csv: str, optodes_json: str) -> bytes:
    """The montage figure of a pair table (CSV) and optode positions (JSON): drawn once per montage and process
    (the recordings of one cap share it)."""
    import io

    from bids_app.report.brain import montage_figure

    pairs = pd.read_csv(io.StringIO(pairs_csv))
    optodes = pd.DataFrame([{"name": name, "kind": "source" if name.startswith("S") else "detector",
                             "x": xyz[0], "y": xyz[1], "z": xyz[2]} for name, xyz in json.loads(optodes_json).items()])
    return figures.png_bytes(montage_figure(pairs, optodes, title="montage on the template brain"))


def _with_q(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with q: Benjamini-Hochberg adjusted p over all its rows (one recording's table)."""
    from statsmodels.stats.multitest import fdrcorrection

    p = pd.to_numeric(table["p"], errors="coerce").to_numpy(dtype=float)
    q = np.full(len(p), np.nan)
    finite = np.isfinite(p)
    if finite.any():
        q[finite] = fdrcorrection(p[finite])[1]
    return table.assign(q=q)


def _map_parts(table: pd.DataFrame, positions: pd.DataFrame, *, flat: bool, panel: str, name: str,
               what: str) -> list[str]:
    if not len(positions):
        return [html.paragraph("No channel positions: maps not drawn.", css_class="warn")]
    rows = _with_q(table)
    fig = figures.topomap_figure(rows, positions, panel_column=panel, flat=flat, mark_q=FDR_Q,
                                 title=f"{name}: {what.lower()}s")
    marked = int((rows["q"] < FDR_Q).sum())
    return [html.image(figures.png_bytes(fig), alt=f"{what.lower()} maps of {name}",
                       caption=f"{what} per long channel, {panel} and chroma (\u00b5M), one colour scale per "
                       f"chroma; dots mark the {marked} of {len(rows)} channel effects with q < {FDR_Q:g} "
                       "(Benjamini-Hochberg over all rows of the recording's table, from the p column).")]


def _roi_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["roi"].notna() & (table["roi"] != "n/a")]


def _block_average_parts(outputs: RecordingOutputs) -> list[str]:
    name, path = outputs.name, outputs.stats("blockaverage")
    averages = _roi_rows(read_tsv(path))
    info = read_json(outputs.stats("blockaverage", ".json"))
    if averages.empty:
        return [html.paragraph(f"No ROI with a good channel: no block average drawn (see {path.name}).")]
    window = info.get("Window", ["n/a", "n/a"])
    epochs = averages.groupby("condition")["n"].first()
    fig = figures.waveform_figure(averages.assign(se=averages["se"].fillna(0.0)), title=name,
                                  kind="block averages")
    return [html.image(figures.png_bytes(fig), alt=f"block averages of {name}",
                       caption=f"Each ROI's average signal from {window[0]} to {window[1]} s around every onset, "
                       "minus its mean up to the onset, averaged per condition ("
                       + ", ".join(f"{c}: {n} epochs" for c, n in epochs.items())
                       + "); HbO red, HbR blue, bands \u00b11.96 standard errors of the mean. No regressor is "
                       f"removed (drifts, systemic signals and overlapping responses stay). Per channel: {path.name}.")]


def _waveform_parts(outputs: RecordingOutputs) -> list[str]:
    name, path = outputs.name, outputs.stats("waveform")
    waveforms = read_tsv(path)
    info = read_json(outputs.stats("waveform", ".json"))
    rois = _roi_rows(waveforms)
    if rois.empty:
        return [html.paragraph("No ROI with a good channel: no waveform drawn (the channel waveforms are in "
                               f"{path.name}).")]
    window = info.get("FIRWindow", ["n/a", "n/a"])
    width = info.get("FIRBinWidth")
    fig = figures.waveform_figure(rois, title=name)
    return [html.image(figures.png_bytes(fig), alt=f"response waveforms of {name}",
                       caption=f"FIR deconvolution of each ROI's average signal from {window[0]} to {window[1]} s "
                       f"around onset, bins of {width:.3g} s (noise model and nuisance regressors of the GLM); "
                       "HbO red, HbR blue, bands \u00b11.96 standard errors. Per channel: "
                       f"{path.name}." if width else "FIR response waveforms.")]


def quality_summary(qc: pd.DataFrame) -> str:
    """One line from a QC table: bad pairs by reason, then the median of each quality metric over the pairs,
    e.g. "2 of 51 pairs bad (scalp coupling index < 0.8: 2); median over the pairs: scalp coupling index
    0.912, peak spectral power 1.23, motion burden 0.41% of samples"."""
    table = qc.assign(pair=qc["name"].map(channel_pair, na_action="ignore"))
    reasons: dict[str, set[str]] = {}
    for pair, description in zip(table["pair"], table["status_description"].fillna("")):
        for part in str(description).split("; "):
            if part and part != "n/a" and not part.startswith("paired wavelength "):
                reasons.setdefault(_reason_kind(part), set()).add(pair)
    n_bad, n_pairs = table.loc[table["status"] == "bad", "pair"].nunique(), table["pair"].nunique()
    text = f"{n_bad} of {n_pairs} pairs bad"
    if reasons:
        text += " (" + "; ".join(f"{kind}: {len(pairs)}" for kind, pairs in
                                 sorted(reasons.items(), key=lambda item: -len(item[1]))) + ")"
    pairs = table.drop_duplicates("pair")
    medians = []
    for column, label, shown in (("sci", "scalp coupling index", "{:.3f}"), ("psp", "peak spectral power", "{:.3g}"),
                                 ("motion_burden", "motion burden", "{:.2%} of samples")):
        if column in pairs.columns:
            values = pd.to_numeric(pairs[column], errors="coerce").dropna()
            medians.append(f"{label} {shown.format(values.median()) if len(values) else 'n/a'}")
    return text + "; median over the pairs: " + ", ".join(medians)


def _reason_kind(reason: str) -> str:
    """A bad channel's reason without its values: "scalp coupling index 0.512 < 0.8" -> "scalp coupling
    index < 0.8", "marked bad in channels.tsv (cable loose)" -> "marked bad in channels.tsv"."""
    reason = re.sub(r" \(.*\)$", "", reason)
    return re.sub(r" -?[\d.]+(e[-+]?\d+)? < ", " < ", reason)


def _design_caption(design_info: dict) -> str:
    """What the design sidecar records about the columns of the design matrix."""
    columns = design_info.get("Columns", {})
    drifts = sum(kind == "cosine drift" for kind in columns.values())
    short = design_info.get("ShortChannelRegressors", [])
    sfreq = design_info.get("SamplingFrequency")
    return (f"Columns: conditions ({', '.join(design_info.get('Conditions', [])) or 'none'}), short-channel "
            f"regressors ({', '.join(short) or 'none'}), {drifts} cosine drifts up to "
            f"{design_info.get('DriftHighPass', 'n/a')} Hz, constant; "
            f"{f'{sfreq:g}' if sfreq else 'n/a'} Hz, noise model {design_info.get('NoiseModel', 'n/a')}.")


def _bad_segments(design_info: dict) -> str:
    """--bad-segments as recorded, with the number of pairs that had samples left out (the spans: QC table)."""
    mode = design_info.get("BadSegments", "none")
    pairs = design_info.get("BadSegmentPairs")
    return (f"{mode}: samples left out of the fit on {pairs} good long pair(s) (bad_segments in the QC table)"
            if isinstance(pairs, int) and pairs else mode)


def _motion_correction(design_info: dict) -> str:
    """The motion correction recorded, with the numbers of transitions removed by level-shifts (cap-wide, and
    of single optodes where the sidecar records them)."""
    method = design_info.get("MotionCorrection", "none")
    transitions = design_info.get("MotionTransitions")
    if not isinstance(transitions, int):
        return method
    local = design_info.get("MotionLocalTransitions")
    if not isinstance(local, dict):
        return f"{method} ({transitions} transitions removed)"
    optodes = ", ".join(f"{optode} {count}" for optode, count in local.items())
    return (f"{method} ({transitions} cap-wide transitions removed; {sum(local.values())} of single optodes"
            + (f": {optodes})" if local else ")"))
