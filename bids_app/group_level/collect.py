"""What the group level reads: the participant-level outputs of OUTPUT_DIR (tables, design sidecars, the QC
tables' channel positions) and the covariates of participants.tsv, gathered into ``GroupInputs``."""

from __future__ import annotations

import fnmatch
import gc
import logging
import os
import re
from contextlib import contextmanager
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
    recordings whose input file is no longer in ``bids_dir``, joined with ``covariates`` (``read_covariates``).

    Of each table only the columns of the group models are read (the cells, effect and se; of the waveform
    tables the ROI rows), and the participant folders are listed once for every kind of file."""
    with _without_cyclic_gc():
        return _collect(output_dir, bids_dir=bids_dir, participant_label=participant_label, covariates=covariates)


@contextmanager
def _without_cyclic_gc():
    """The cyclic garbage collector paused: reading makes millions of objects (design sidecars, table cells) and
    none of them garbage cycles, but each full collection would scan them all again (a second in ten thousand
    participants)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _collect(output_dir: Path, *, bids_dir: Path, participant_label: list[str] | None,
             covariates: pd.DataFrame | None) -> GroupInputs:
    from bids_app.derivatives import read_json

    group_by, numeric = covariate_roles(covariates)
    files = ParticipantFiles(output_dir)
    design_paths = files.by_recording(_DESIGN_SIDECAR)
    designs = {name: _with_unrecorded_values(read_json(path)) for name, path in design_paths.items()}
    orphans = [name for name, design in designs.items()
               if _input_is_gone(design, directory=os.path.relpath(os.path.dirname(design_paths[name]), output_dir),
                                 bids_dir=bids_dir)]
    notes = [f"participant outputs whose input recording is no longer in {bids_dir} left out: " + ", ".join(orphans)
             ] if orphans else []
    tables = {}
    entities: dict[str, tuple[str, str]] = {}  # recording -> (subject, task), shared by the tables
    for spec in TABLES:
        table = _read_stats(files.stats(spec.description), description=spec.description,
                            columns=[*spec.cell_columns, "effect", "se"],
                            present="roi" if spec.description == "waveform" else None,  # the ROI waveforms
                            entities=entities)
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
    return GroupInputs(tables=tables, designs=designs, qc_tables=files.by_recording(_QC_TABLE),
                       anatomy_sidecars=files.by_recording(_ANATOMY_SIDECAR),
                       group_by=group_by, numeric=numeric, orphans=orphans, notes=notes)


# the participant-level files the group level reads besides the stats tables, after "<recording>_" (their names
# as bids_app.layout spells them)
_DESIGN_SIDECAR = RecordingOutputs(Path(), "").design_json.name
_QC_TABLE = RecordingOutputs(Path(), "").qc_tsv.name
_ANATOMY_SIDECAR = RecordingOutputs(Path(), "").anatomy(".json").name


class ParticipantFiles:
    """What the participant-level globs of ``RecordingOutputs`` (``sub-*/**/nirs/<pattern>``: ``all_stats``,
    ``design_sidecars``, ``qc_tables``, ``anatomy_sidecars``) find, from one listing of the participant folders
    (each glob walks every folder of every participant again: seconds each for ten thousand participants)."""

    def __init__(self, output_dir: Path):
        self.folders: dict[str, tuple[Path, tuple[str, ...]]] = {}  # nirs folder -> (its Path, its sort key)
        self.entries: list[tuple[str, str]] = []  # (nirs folder, name) of everything in a sub-*/**/nirs/ folder
        for folder, names in _nirs_folders(output_dir):
            self.folders[folder] = (Path(folder), tuple(os.path.normcase(folder).split(os.sep)))
            self.entries += [(folder, name) for name in names]

    def matching(self, pattern: str) -> list[Path]:
        """The entries whose name matches ``pattern``, as ``sorted(output_dir.glob("sub-*/**/nirs/" + pattern))``
        (in the order of their path's parts)."""
        pattern = os.path.normcase(pattern)
        if pattern.startswith("*") and not any(c in pattern[1:] for c in "*?["):  # "*<suffix>"
            suffix = pattern[1:]
            chosen = [(folder, name) for folder, name in self.entries if os.path.normcase(name).endswith(suffix)]
        else:
            match = re.compile(fnmatch.translate(pattern)).match
            chosen = [(folder, name) for folder, name in self.entries if match(os.path.normcase(name))]
        chosen.sort(key=lambda entry: (*self.folders[entry[0]][1], os.path.normcase(entry[1])))
        return [self.folders[folder][0] / name for folder, name in chosen]

    def stats(self, description: str) -> list[Path]:
        """As ``RecordingOutputs.all_stats``."""
        return self.matching(RecordingOutputs.stats_pattern(description))

    def by_recording(self, name: str) -> dict[str, Path]:
        """Recording -> its ``<recording>_<name>``, in path order, as ``RecordingOutputs.design_sidecars``,
        ``qc_tables`` and ``anatomy_sidecars``."""
        return {path.name.removesuffix(f"_{name}"): path for path in self.matching(f"*_{name}")}


def _nirs_folders(output_dir: Path) -> list[tuple[str, list[str]]]:
    """(path, entry names) of every ``nirs`` folder in or below a ``sub-*`` folder of ``output_dir``: the
    folders pathlib's ``sub-*/**/nirs/`` reaches (``**`` descends into folders that are not symbolic links)."""
    found: list[tuple[str, list[str]]] = []
    subject = re.compile(fnmatch.translate(os.path.normcase("sub-*"))).match
    folders = [(entry.path, None) for entry in _scan(str(output_dir))
               if subject(os.path.normcase(entry.name)) and _is_dir(entry)]
    while folders:
        folder, children = folders.pop()
        for child in _scan(folder) if children is None else children:
            if not _is_dir(child):
                continue
            listing = None
            if os.path.normcase(child.name) == "nirs":
                listing = _scan(child.path)
                found.append((child.path, [entry.name for entry in listing]))
            if not child.is_symlink():
                folders.append((child.path, listing))
    return found


def _scan(folder: str) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError:
        return []


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def read_participant_tables(output_dir: Path, *, description: str) -> pd.DataFrame:
    """Every participant-level table of ``description`` (RecordingOutputs.all_stats), with its entities."""
    return _read_stats(RecordingOutputs.all_stats(output_dir, description=description), description=description)


def _read_stats(paths: list[Path], *, description: str, columns: list[str] | None = None, present: str | None = None,
                entities: dict[str, tuple[str, str]] | None = None) -> pd.DataFrame:
    """The tables at ``paths`` (``derivatives.read_tsvs``: only ``columns``, only rows with a value in
    ``present``) with the subject, task and recording of each row; ``entities``: recording -> (subject, task),
    filled in and reused."""
    from mne_bids import get_entities_from_fname

    from bids_app.derivatives import read_tsvs

    if not paths:
        return pd.DataFrame()
    table = read_tsvs(paths, columns=columns, present=present)
    if "file" not in table:  # no rows to read
        return pd.DataFrame()
    entities = {} if entities is None else entities
    recordings = {}
    for path in paths:
        recording = recordings[path.name] = RecordingOutputs.recording_of_stats(path, description=description)
        if recording not in entities:
            found = get_entities_from_fname(path.name)
            entities[recording] = (found["subject"], found["task"])
    names = table.pop("file")  # categorical: each mapping below runs once per file, not once per row
    return table.assign(subject=names.map({k: entities[r][0] for k, r in recordings.items()}).astype(str),
                        task=names.map({k: entities[r][1] for k, r in recordings.items()}).astype(str),
                        recording=names.map(recordings).astype(str))


def _input_is_gone(design: dict, *, directory: Path | str, bids_dir: Path) -> bool:
    """Whether the input recording named in a design sidecar (``directory`` relative to the outputs) is gone."""
    inputs = design.get("GeneratedBy", {}).get("InputChecksums", {})
    source = next((name for name in inputs if name.endswith(("_nirs.snirf", "_nirs.SNIRF"))), None)
    return bool(source) and not os.path.isfile(os.path.join(bids_dir, directory, source))


def channel_layout(inputs: GroupInputs, *, recordings) -> tuple[pd.DataFrame, str | None]:
    """(one row per channel name with its first recorded position, the coordinate system) from the QC tables
    of ``recordings``: the columns name, x, y and z (the positions; a QC table equal to an earlier one adds none)."""
    from bids_app.derivatives import read_json, read_tsvs

    paths = [path for name, path in inputs.qc_tables.items() if name in recordings]
    qc = read_tsvs(paths, columns=["name", "x", "y", "z"], distinct=True)
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
