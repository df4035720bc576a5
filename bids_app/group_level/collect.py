"""What the group level reads: the participant-level outputs of OUTPUT_DIR (tables, design sidecars, the QC
tables' channel positions) and the covariates of participants.tsv, gathered into ``GroupInputs``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bids_app.errors import UsageError
from bids_app.group_level.models import OPTIONAL_TABLES, TABLES
from bids_app.layout import RecordingOutputs

logger = logging.getLogger("fnirs_glm")


@dataclass
class GroupInputs:
    """The participant-level outputs the group models and the group report are made of."""

    tables: dict[str, pd.DataFrame]  # description -> participant rows, with subject, task, recording (and covariates)
    designs: dict[str, dict]  # recording -> its design sidecar (GeneratedBy: version, options; rates, AR orders)
    qc_tables: dict[str, Path]  # recording -> its QC table (channel positions), read when the maps are drawn
    anatomy_sidecars: dict[str, Path] = field(default_factory=dict)  # recording -> its anatomy sidecar (if any)
    group_by: str | None = None  # the categorical covariate
    numeric: tuple[str, ...] = ()  # the numeric covariates
    orphans: list[str] = field(default_factory=list)  # recordings whose input file is gone: left out
    notes: list[str] = field(default_factory=list)  # what was left out, for the log and the reports

    def records(self, recordings) -> dict[str, dict]:
        """Recording -> the ``GeneratedBy`` record of its design sidecar, for ``recordings`` (in path order)."""
        return {name: design.get("GeneratedBy", {}) for name, design in self.designs.items() if name in recordings}


def _with_unrecorded_values(design: dict) -> dict:
    """A design sidecar whose recorded options (GeneratedBy.Options) include those its version did not record
    yet, with the values that version used (an AR bias correction "none" before it existed)."""
    from bids_app.options import with_unrecorded_values

    generated_by = design.get("GeneratedBy")
    if not isinstance(generated_by, dict) or not isinstance(generated_by.get("Options"), dict):
        return design
    return {**design, "GeneratedBy": {**generated_by, "Options": with_unrecorded_values(generated_by["Options"])}}


def collect(output_dir: Path, *, bids_dir: Path, participant_label: list[str] | None = None,
            covariates: pd.DataFrame | None = None) -> GroupInputs:
    """Read the participant-level outputs of ``output_dir`` (every task): the tables of every ``TABLES``
    description (UsageError when a required one is missing or a ``participant_label`` has none), without the
    recordings whose input file is no longer in ``bids_dir``, joined with ``covariates`` (``read_covariates``)."""
    from bids_app.derivatives import read_json

    group_by, numeric = covariate_roles(covariates)
    design_paths = RecordingOutputs.design_sidecars(output_dir)
    designs = {name: _with_unrecorded_values(read_json(path)) for name, path in design_paths.items()}
    orphans = [name for name, design in designs.items()
               if _input_is_gone(design, directory=design_paths[name].parent.relative_to(output_dir), bids_dir=bids_dir)]
    notes = [f"participant outputs whose input recording is no longer in {bids_dir} left out: " + ", ".join(orphans)
             ] if orphans else []
    tables = {}
    for spec in TABLES:
        table = read_participant_tables(output_dir, description=spec.description)
        if spec.description == "waveform" and not table.empty:  # the ROI waveforms
            table = table[table["roi"].notna()].drop(columns=["ch_name"])
        if table.empty:
            if spec.description not in OPTIONAL_TABLES:
                raise UsageError(f"{output_dir}: no participant-level "
                                 f"{RecordingOutputs.stats_pattern(spec.description)}; "
                                 "run the participant level first")
            continue
        table = table[~table["recording"].isin(orphans)]
        if participant_label:
            unknown = sorted(set(participant_label) - set(table["subject"]))
            if unknown and spec.description == "roi":
                raise UsageError(f"{output_dir}: no participant-level outputs of participant(s) {', '.join(unknown)}; "
                                 f"there are outputs of: {', '.join(sorted(set(table['subject'])))}")
            table = table[table["subject"].isin(participant_label)]
        if covariates is not None:
            missing = sorted(set(table["subject"]) - set(covariates["subject"]))
            note = (f"participant(s) {', '.join(missing)} without a value of every covariate in participants.tsv "
                    "left out")
            if missing and note not in notes:
                notes.append(note)
            table = table.merge(covariates, on="subject", how="inner")
        tables[spec.description] = table
    return GroupInputs(tables=tables, designs=designs, qc_tables=RecordingOutputs.qc_tables(output_dir),
                       anatomy_sidecars=RecordingOutputs.anatomy_sidecars(output_dir),
                       group_by=group_by, numeric=numeric, orphans=orphans, notes=notes)


def read_participant_tables(output_dir: Path, *, description: str) -> pd.DataFrame:
    """Every participant-level table of ``description`` (RecordingOutputs.all_stats), with its entities."""
    from mne_bids import get_entities_from_fname

    from bids_app.derivatives import read_tsvs

    paths = RecordingOutputs.all_stats(output_dir, description=description)
    if not paths:
        return pd.DataFrame()
    table = read_tsvs(paths)
    entities = {path.name: get_entities_from_fname(path.name) for path in paths}
    recordings = {path.name: RecordingOutputs.recording_of_stats(path, description=description) for path in paths}
    names = table.pop("file")  # categorical: each mapping below runs once per file, not once per row
    return table.assign(subject=names.map({k: e["subject"] for k, e in entities.items()}).astype(str),
                        task=names.map({k: e["task"] for k, e in entities.items()}).astype(str),
                        recording=names.map(recordings).astype(str))


def _input_is_gone(design: dict, *, directory: Path, bids_dir: Path) -> bool:
    """Whether the input recording named in a design sidecar (``directory`` relative to the outputs) is gone."""
    inputs = design.get("GeneratedBy", {}).get("InputChecksums", {})
    source = next((name for name in inputs if name.endswith(("_nirs.snirf", "_nirs.SNIRF"))), None)
    return bool(source) and not (bids_dir / directory / source).is_file()


def channel_layout(inputs: GroupInputs, *, recordings) -> tuple[pd.DataFrame, str | None]:
    """(one row per channel name with its first recorded position, the coordinate system) from the QC tables
    of ``recordings``."""
    from bids_app.derivatives import read_json, read_tsvs

    paths = [path for name, path in inputs.qc_tables.items() if name in recordings]
    qc = read_tsvs(paths)
    if {"name", "x", "y", "z"} <= set(qc.columns):  # one row per channel: its first position
        qc = qc.dropna(subset=["x", "y", "z"]).drop_duplicates("name")
    coordinate_system = read_json(paths[0].with_suffix(".json")).get("NIRSCoordinateSystem") if paths else None
    return qc, coordinate_system


def group_anatomy(inputs: GroupInputs, *, recordings, pairs: list[str]):
    """The consensus anatomy (table, sidecar, notes) of ``recordings`` for ``pairs``; None without anatomy."""
    from bids_app.anatomy.consensus import consensus_anatomy
    from bids_app.derivatives import read_json

    sidecars = {name: read_json(path) for name, path in inputs.anatomy_sidecars.items() if name in recordings}
    return consensus_anatomy(sidecars, pairs=pairs)


def read_covariates(bids_dir: Path, *, columns: list[str]) -> pd.DataFrame:
    """participants.tsv ``columns`` (--group-covariates), one row per participant with all values."""
    from bids_app.bids_files import read_tsv
    from bids_app.errors import RecordingError

    path = bids_dir / "participants.tsv"
    try:
        table = read_tsv(path)
    except RecordingError as exc:
        raise UsageError(str(exc)) from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise UsageError(f"{path}: no column {', '.join(missing)}; columns are: "
                         + ", ".join(c for c in table.columns if c != "participant_id"))
    table = table.assign(subject=table["participant_id"].str.removeprefix("sub-"))
    table = table[["subject", *columns]]
    incomplete = table[table.isna().any(axis=1)]["subject"].tolist()
    if incomplete:
        logger.warning(f"{path}: participant(s) {', '.join(incomplete)} without a value for every covariate "
                       "left out of the group level")
    return table.dropna()


def covariate_roles(covariates: pd.DataFrame | None) -> tuple[str | None, tuple[str, ...]]:
    """(the categorical covariate or None, the numeric covariates), converting numeric columns."""
    if covariates is None:
        return None, ()
    categorical, numeric = [], []
    for column in covariates.columns.drop("subject"):
        values = pd.to_numeric(covariates[column], errors="coerce")
        if values.notna().all():
            covariates[column] = values
            numeric.append(column)
        else:
            categorical.append(column)
    if len(categorical) > 1:
        raise UsageError(f"--group-covariates takes one categorical column at a time (got {', '.join(categorical)})")
    return (categorical[0] if categorical else None), tuple(numeric)
