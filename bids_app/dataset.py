"""The input dataset: validation and the recordings selected by the command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bids_app.config import Config
from bids_app.errors import UsageError


def validate_bids(bids_dir: Path) -> str | None:
    """Run bids-validator-deno; raise UsageError on errors; return None if it is not installed."""
    validator = shutil.which("bids-validator-deno")
    if validator is None:
        return None
    env = dict(os.environ)
    env.setdefault("DENO_DIR", str(Path(tempfile.gettempdir()) / "fnirs-glm-deno"))
    done = subprocess.run([validator, "--format", "json", str(bids_dir)], capture_output=True,
                          text=True, env=env, check=False)
    try:
        issues = json.loads(done.stdout)["issues"]["issues"]
    except (ValueError, KeyError, TypeError):
        if done.returncode == 0:
            return validator
        raise UsageError(f"{bids_dir}: bids-validator-deno failed ({done.stderr.strip()[:300]}); "
                         "use --skip_bids_validator to go on without it") from None
    errors = [i for i in issues if i.get("severity") == "error"]
    if errors:
        described = dict.fromkeys(
            f"{e.get('code')}" + (f" ({e['subCode']})" if e.get("subCode") else "") + f" at {e.get('location', '')}"
            for e in errors)
        first = "; ".join(list(described)[:3])
        raise UsageError(f"{bids_dir}: the BIDS validator found {len(errors)} error(s), e.g. {first}; "
                         "fix them or use --skip_bids_validator")
    return validator


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
        raise UsageError(f"{root}: no NIRS recording (*_nirs.snirf) matches ({given})")
    return sorted(paths, key=lambda p: str(p.fpath))


def condition_names(bids_path) -> set[str]:
    """trial_type values of a recording's events.tsv (empty when absent or unreadable)."""
    from bids_app.errors import RecordingError
    from bids_app.recording import read_tsv, sidecar

    path = sidecar(bids_path, suffix="events", extension=".tsv")
    if path is None:
        return set()
    try:
        table = read_tsv(path)
    except RecordingError:
        return set()
    column = "trial_type" if "trial_type" in table.columns else "value"
    return set(table[column].dropna().str.strip()) if column in table.columns else set()
