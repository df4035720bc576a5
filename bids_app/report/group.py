"""The group report of one task, ``task-<label>_report.html``, and its figures (PNG and SVG in
OUTPUT_DIR/figures/), made from the group tables and what the participant level recorded (``GroupInputs``)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pandas as pd

from bids_app.group_level.collect import GroupInputs
from bids_app.layout import GroupOutputs
from bids_app.report import figures, html
from bids_app.report.methods import differing_options

logger = logging.getLogger("fnirs_glm")


def report_files(inputs: GroupInputs, *, outputs: GroupOutputs, results: dict[str, tuple[pd.DataFrame, dict]],
                 q_threshold: float | None, anatomy: tuple[pd.DataFrame, dict] | None = None
                 ) -> dict[Path, bytes | str]:
    """Path -> content of the figures of the group tables of one task and of its report.

    The methods paragraph states what the design sidecars of the recordings that entered the tables
    recorded; the maps are drawn at the positions in their QC tables.
    """
    from bids_app.logs import library_versions
    from bids_app.report.methods import methods_paragraph

    task = outputs.task
    used = set().union(*(sidecar.get("Recordings", []) for _, sidecar in results.values()))
    designs = {name: design for name, design in inputs.designs.items() if name in used}
    records = inputs.records(used)
    record_notes = mixed_record_notes(records)
    for note in record_notes:
        logger.warning(f"task {task}: {note}")
    notes = [*inputs.notes, *record_notes]
    files: dict[Path, bytes | str] = {}
    images: dict[str, bytes] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        figures_of_task = task_figures(inputs, outputs=outputs, results=results, recordings=used,
                                       q_threshold=q_threshold, notes=notes)
        if anatomy is not None:
            figures_of_task.update(cortex_figures(outputs=outputs, results=results, anatomy=anatomy[0],
                                                  group_by=inputs.group_by))
    for path, (caption, png, svg) in figures_of_task.items():
        files[path], files[outputs.vector(path)] = png, svg
        images[f"{caption} ({path.relative_to(outputs.root).as_posix()}; vector: {outputs.vector(path).name})"] = png
    software = library_versions()
    participant_version = ", ".join(sorted({str(r.get("Version", "?")) for r in records.values()})) or "?"
    recorded = [design for design in designs.values() if design.get("GeneratedBy", {}).get("Options")]
    group_sidecar = next(iter(results.values()))[1]
    methods = (methods_paragraph(designs=recorded, versions={**software, "fnirs-glm": participant_version},
                                 group_method=group_sidecar.get("Method"),
                                 covariates=tuple(group_sidecar.get("Covariates", ())))
               if recorded else (("The participant-level options are not recorded in the design sidecars "
                                  "(outputs of an older fnirs-glm): no methods paragraph."), []))
    software["fnirs-glm"] = f"{software['fnirs-glm']} (group level); {participant_version} (participant level)"
    files[outputs.report] = group_report(task=task, results=results, images=images, methods=methods,
                                         versions=software, notes=notes, anatomy=anatomy,
                                         anatomy_file=outputs.anatomy().name)
    return files


def mixed_record_notes(records: dict[str, dict]) -> list[str]:
    """Warnings when the participant outputs come from several versions or option sets."""
    notes = []
    versions = sorted({str(r.get("Version", "unknown")) for r in records.values()})
    if len(versions) > 1:
        notes.append(f"participant outputs come from several fnirs-glm versions ({', '.join(versions)})")
    differing = differing_options([r.get("Options") or {} for r in records.values()])
    if differing:
        notes.append(f"participant outputs were made with different options ({', '.join(differing)} differ "
                     "between recordings): rerun the participant level with one configuration")
    return notes


def task_figures(inputs: GroupInputs, *, outputs: GroupOutputs, results: dict[str, tuple[pd.DataFrame, dict]],
                 recordings: set[str], q_threshold: float | None, notes: list[str]
                 ) -> dict[Path, tuple[str, bytes, bytes]]:
    """PNG path -> (caption, PNG, SVG) of the topographic maps, the ROI plot and the waveforms of one task."""
    from bids_app.group_level.collect import channel_layout

    task, group_by = outputs.task, inputs.group_by
    drawn: dict[Path, tuple[str, bytes, bytes]] = {}
    qc, coordinate_system = channel_layout(inputs, recordings=recordings)
    positions = figures.channel_positions([qc] if len(qc) else [])
    masked = f", channels with q \u2265 {q_threshold:g} drawn as 0" if q_threshold is not None else ""
    for description, panel in (("channel", "condition"), ("contrast", "contrast")):
        if description not in results:
            continue
        if positions.empty:
            notes.append("no channel positions in the participant QC tables: topographic maps not drawn")
            break
        rows = _with_panel(results[description][0], panel=panel, group_by=group_by)
        flat = figures.is_flat_layout(positions, coordinate_system=coordinate_system)
        fig = figures.topomap_figure(rows, positions, panel_column="panel", flat=flat, q_threshold=q_threshold,
                                     title=f"task {task}: group {description} effects")
        drawn[outputs.figure(description, "topomap")] = (
            f"Group {description} effects (\u00b5M) per {panel}, HbO and HbR{masked}", *figures.png_and_svg(fig))
    if "waveform" in results:
        rows = _with_panel(results["waveform"][0], panel="condition", group_by=group_by)
        fig = figures.waveform_figure(rows.assign(condition=rows["panel"]), band="ci",
                                      title=f"task {task}: group ROI response waveforms")
        drawn[outputs.figure("waveform", "effects")] = (
            "Group ROI response waveforms (FIR, \u00b5M) with 95% intervals per time bin", *figures.png_and_svg(fig))
    if "roi" in results:
        rows = _with_panel(results["roi"][0], panel="condition", group_by=group_by)
        fig = figures.roi_figure(rows.assign(condition=rows["panel"]), title=f"task {task}: group ROI effects")
        drawn[outputs.figure("roi", "effects")] = ("Group ROI effects (\u00b5M) with 95% intervals",
                                                   *figures.png_and_svg(fig))
    return drawn


CORTEX_Q = 0.05  # channels marked on the cortex figures: FDR q below this


def cortex_figures(*, outputs: GroupOutputs, results: dict[str, tuple[pd.DataFrame, dict]], anatomy: pd.DataFrame,
                   group_by: str | None) -> dict[Path, tuple[str, bytes, bytes]]:
    """PNG path -> (caption, PNG, SVG) of the group channel effects and contrasts on the inflated fsaverage5
    cortex, at the consensus positions of the task's anatomy table."""
    from bids_app.channels import channel_pair
    from bids_app.report.brain import cortex_figure

    positions = anatomy.drop_duplicates("pair")[["pair", "cortex_x", "cortex_y", "cortex_z"]].dropna()
    drawn = {}
    if positions.empty:
        return drawn
    for description, panel in (("channel", "condition"), ("contrast", "contrast")):
        if description not in results:
            continue
        rows = _with_panel(results[description][0], panel=panel, group_by=group_by)
        cells = rows.assign(pair=rows["ch_name"].map(channel_pair), significant=rows["q"] < CORTEX_Q)
        fig = cortex_figure(cells[["pair", "chroma", "panel", "effect", "significant"]], positions,
                            title=f"task {outputs.task}: group {description} effects on the cortex")
        drawn[outputs.figure(description, "cortex")] = (
            f"Group {description} effects (\u00b5M) per {panel} on the inflated fsaverage5 cortex: each channel a "
            f"patch around its projection, \u25cf FDR q < {CORTEX_Q:g}", *figures.png_and_svg(fig))
    return drawn


def _with_panel(rows: pd.DataFrame, *, panel: str, group_by: str | None) -> pd.DataFrame:
    """The cell effects of ``rows`` (term 'mean', not covariate slopes) with a ``panel`` column: the
    condition (or contrast), with the covariate level if any."""
    rows = rows[rows["term"] == "mean"] if "term" in rows else rows
    label = rows[panel].astype(str)
    if group_by:
        label = label + " \u00b7 " + rows[group_by].astype(str)
    return rows.assign(panel=label)


def _stats_model(record: dict | None) -> dict[str, str]:
    """The report's lines on a --model, from the sidecar: its name and file, nodes, and contrast names."""
    if not record:
        return {}
    nodes = ", ".join(f"{level} node {name!r}" for level, name in record.get("Nodes", {}).items())
    lines = {"BIDS Stats Model": f"{record.get('Name')} ({record.get('File')}): {nodes}"}
    if record.get("Contrasts"):
        lines["Model contrasts"] = "; ".join(f"row {row!r}: contrast {name!r}"
                                             for row, name in record["Contrasts"].items())
    return lines


def group_report(*, task: str, results: dict[str, tuple[pd.DataFrame, dict]], images: dict[str, bytes],
                 methods: tuple[str, list[str]], versions: dict[str, str], notes: list[str],
                 anatomy: tuple[pd.DataFrame, dict] | None = None, anatomy_file: str = "") -> str:
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
            **_stats_model(sidecar.get("StatsModel")),
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
    if anatomy is not None:
        table, sidecar = anatomy
        body.append(html.heading("Channel anatomy"))
        body.append(html.paragraph(
            f"Consensus positions of {len(sidecar.get('Recordings', []))} recordings (median of each optode's MNI152 "
            f"position), atlas {sidecar.get('Atlas')}; template anatomy, not the participants' own MRIs "
            f"({anatomy_file})."))
        if sidecar.get("Warnings"):
            body.append(html.bullet_list(sidecar["Warnings"], css_class="warn"))
        pairs = table.drop_duplicates("pair").drop(columns=["ch_name"])
        body.append(html.details(f"All {len(pairs)} pairs", html.table(pairs)))
    body.append(html.heading("Software"))
    body.append(html.definitions(versions))
    return html.page(title=f"fnirs-glm: group report, task {task}", body=body)
