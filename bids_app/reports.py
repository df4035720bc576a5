"""HTML reports, built from what is in OUTPUT_DIR (so a report always matches the files beside it).

- ``sub-<label>.html`` (participant level): per recording, a summary, the channel quality, the design
  matrix, maps of the channel effects per condition and the ROI table;
- ``task-<label>_report.html`` (group level): model summaries, figures, tables, software versions and
  a methods paragraph with references.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from bids_app import figures
from bids_app import report_html as html
from bids_app.derivatives import read_json, read_tsv

QC_COLUMNS = ["name", "distance_mm", "role", "sci", "psp", "motion_burden", "status", "status_description"]


def recording_stems(output_dir: Path, *, subject: str) -> list[Path]:
    """``.../sub-X_..._`` prefixes (as paths) of the participant's recordings with complete outputs
    (their design sidecar, written last, exists)."""
    designs = sorted(output_dir.glob(f"sub-{subject}/**/nirs/sub-{subject}_*design.json"))
    return [d.with_name(d.name[: -len("design.json")]) for d in designs]


def report_digest(stems: list[Path]) -> str:
    """SHA-256 of the design sidecars of ``stems``: what a participant report is built from."""
    import hashlib

    digest = hashlib.sha256()
    for stem in stems:
        digest.update(stem.name.encode() + b"\0" + Path(f"{stem}design.json").read_bytes() + b"\0")
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
    stems = recording_stems(output_dir, subject=subject)
    body = [html.paragraph(f"{len(stems)} recording(s) of participant {subject}. "
                           "Effects are in \u00b5M; every table is a file beside this report.")]
    body.append(html.bullet_list([stem.name.rstrip("_") for stem in stems]))
    for stem in stems:
        body += _recording_section(stem)
    return html.page(title=f"fnirs-glm: participant {subject}", body=body,
                     meta={"fnirs-glm-sources": digest} if digest else None)


def _recording_section(stem: Path) -> list[str]:
    name = stem.name.rstrip("_")
    design = read_tsv(Path(f"{stem}design.tsv"))
    design_info = read_json(Path(f"{stem}design.json"))
    qc = read_tsv(Path(f"{stem}desc-qc_channels.tsv"))
    qc_info = read_json(Path(f"{stem}desc-qc_channels.json"))
    channels = read_tsv(Path(f"{stem}desc-channel_stats.tsv"))
    rois = read_tsv(Path(f"{stem}desc-roi_stats.tsv"))
    pairs = qc.assign(pair=qc["name"].str.split(" ").str[0]).drop_duplicates("pair")
    bad = qc[qc["status"] == "bad"]
    sfreq = design_info.get("SamplingFrequency")
    section = [html.heading(name, anchor=name)]
    section.append(html.definitions({
        "Duration": f"{len(design) / sfreq:.0f} s ({len(design)} samples at {sfreq:g} Hz)" if sfreq else "n/a",
        "Conditions": ", ".join(design_info.get("Conditions", [])),
        "Pairs": ", ".join(f"{n} {role}" for role, n in pairs["role"].value_counts().items()),
        "Noise model": design_info.get("NoiseModel", "n/a"),
        "Motion correction": design_info.get("MotionCorrection", "none"),
        "Short-channel regressors": ", ".join(design_info.get("ShortChannelRegressors", [])) or "none",
        "Data quality": quality_summary(qc),
    }))
    warnings = qc_info.get("Warnings", [])
    if warnings:
        section.append(html.heading("Warnings", level=3))
        section.append(html.bullet_list(warnings, css_class="warn"))
    section.append(html.heading("Channel quality", level=3))
    columns = [c for c in QC_COLUMNS if c in qc.columns]  # outputs of versions before psp lack some
    if len(bad):
        section.append(html.paragraph(f"Bad channels ({len(bad)}) and why:"))
        section.append(html.table(bad[columns]))
    else:
        section.append(html.paragraph("No bad channel."))
    section.append(html.details(f"All {len(qc)} channels", html.table(qc[columns])))
    section.append(html.heading("Design matrix", level=3))
    section.append(html.image(figures.png_bytes(figures.design_figure(design, title=name)),
                              alt=f"design matrix of {name}",
                              caption=_design_caption(design_info)))
    section.append(html.heading("Channel effects", level=3))
    positions = figures.channel_positions([qc])
    if len(positions):
        flat = figures.is_flat_layout(positions, coordinate_system=qc_info.get("NIRSCoordinateSystem"))
        fig = figures.topomap_figure(channels, positions, panel_column="condition", flat=flat,
                                     title=f"{name}: channel effects")
        section.append(html.image(figures.png_bytes(fig), alt=f"channel effect maps of {name}",
                                  caption="GLM effect per long channel, condition and chroma (\u00b5M)."))
    else:
        section.append(html.paragraph("No channel positions: maps not drawn.", css_class="warn"))
    section.append(html.heading("Regions of interest", level=3))
    section.append(html.table(rois))
    return section


def quality_summary(qc: pd.DataFrame) -> str:
    """One line from a QC table: bad pairs by reason, then the median of each quality metric over the pairs,
    e.g. "2 of 51 pairs bad (scalp coupling index < 0.8: 2); median over the pairs: scalp coupling index
    0.912, peak spectral power 1.23, motion burden 0.41% of samples"."""
    table = qc.assign(pair=qc["name"].str.split(" ").str[0])
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


def group_report(*, task: str, results: dict[str, tuple[pd.DataFrame, dict]], images: dict[str, bytes],
                 methods: tuple[str, list[str]], versions: dict[str, str], notes: list[str]) -> str:
    """``results``: table description -> (group table, its sidecar); ``images``: caption -> PNG."""
    first = next(iter(results.values()))[1]
    body = [html.paragraph(f"Group-level results of task {task}: {len(first.get('Participants', []))} "
                           f"participants, {len(first.get('Recordings', []))} recordings. Effects in \u00b5M; "
                           "every table and figure is a file beside this report.")]
    if notes:
        body.append(html.heading("Notes"))
        body.append(html.bullet_list(notes, css_class="warn"))
    body.append(html.heading("Methods"))
    paragraph, references = methods
    body.append(html.paragraph(paragraph, css_class="methods"))
    body.append(html.heading("References", level=3))
    body.append("<ol>" + "".join(f"<li>{html.escape(r)}</li>" for r in references) + "</ol>")
    body.append(html.heading("Figures"))
    for caption, png in images.items():
        body.append(html.image(png, alt=caption, caption=caption))
    body.append(html.heading("Models and tables"))
    for description, (rows, sidecar) in results.items():
        body.append(html.heading(f"{description} table", level=3))
        body.append(html.definitions({
            "Method": sidecar.get("Method", "n/a"),
            "Model": sidecar.get("Model", "n/a"),
            "Formula": sidecar.get("Formula") or "n/a",
            "Participants": ", ".join(sidecar.get("Participants", [])),
            "Rows": len(rows),
            "Rows with q < 0.05": int((rows["q"] < 0.05).sum()),
        }))
        if sidecar.get("Warnings"):
            body.append(html.bullet_list(sidecar["Warnings"], css_class="warn"))
        table_html = html.table(rows)
        body.append(table_html if len(rows) <= 60 else html.details(f"All {len(rows)} rows", table_html))
    body.append(html.heading("Software"))
    body.append(html.definitions(versions))
    return html.page(title=f"fnirs-glm: group report, task {task}", body=body)


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
