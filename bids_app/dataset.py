"""The input dataset: the recordings selected by the command line, and their conditions."""

from __future__ import annotations

from pathlib import Path

from bids_app.config import Config
from bids_app.errors import UsageError


def find_recordings(config: Config) -> list:
    """BIDSPaths of the SNIRF recordings selected by the labels (raises UsageError)."""
    from mne_bids import find_matching_paths

    root = config.bids_dir
    available = sorted(p.name[4:] for p in root.glob("sub-*") if p.is_dir())
    if not available:
        raise UsageError(f"{root}: no participant (sub-*) directories in this BIDS dataset")
    unknown = [label for label in config.participant_label if label not in available]
    if unknown:
        raise UsageError(f"unknown participant label(s) {', '.join(unknown)}; the dataset has: "
                         + ", ".join(available))
    paths = find_matching_paths(
        root,
        subjects=list(config.participant_label) or None,
        sessions=list(config.session_label) or None,
        tasks=list(config.task_label) or None,
        runs=list(config.run_label) or None,
        datatypes="nirs", suffixes="nirs", extensions=".snirf",
    )
    paths = [p for p in paths if Path(p.fpath).relative_to(root).parts[0].startswith("sub-")]
    if not paths:
        filters = {"participant": config.participant_label, "session": config.session_label,
                   "task": config.task_label, "run": config.run_label}
        given = "; ".join(f"{k} {', '.join(v)}" for k, v in filters.items() if v) or "no filter"
        everything = find_matching_paths(root, datatypes="nirs", suffixes="nirs", extensions=".snirf")
        available = "; ".join(f"{name} {', '.join(values)}" for name, values in (
            ("tasks", sorted({p.task for p in everything if p.task})),
            ("sessions", sorted({p.session for p in everything if p.session})),
            ("runs", sorted({p.run for p in everything if p.run}))) if values)
        raise UsageError(f"{root}: no NIRS recording (*_nirs.snirf) matches ({given})"
                         + (f"; the dataset has {available}" if available else ""))
    return sorted(paths, key=lambda p: str(p.fpath))


def condition_names(bids_path) -> set[str]:
    """trial_type values of a recording's events.tsv (empty when absent or unreadable)."""
    from bids_app.bids_files import read_tsv, sidecar
    from bids_app.errors import RecordingError

    path = sidecar(bids_path, suffix="events", extension=".tsv")
    if path is None:
        return set()
    try:
        table = read_tsv(path)
    except RecordingError:
        return set()
    column = "trial_type" if "trial_type" in table.columns else "value"
    return set(table[column].dropna().str.strip()) if column in table.columns else set()
