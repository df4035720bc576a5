"""The dataset around the recordings, and getting it into BIDS_DIR safely: BIDS_DIR is checked before anything
is read; everything is written to a staging folder beside it, validated there, and only then moved in. A new
BIDS_DIR is the staging folder renamed; an existing dataset gets the new files beside its own, with rows
appended to participants.tsv and scans.tsv, and nothing of it is overwritten (a file that exists with other
content is an error, before any move; a move that fails undoes the others)."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

from bids_app.errors import UsageError

KEEP_EXISTING = ("dataset_description.json", "README", "README.md", "README.txt", "README.rst", "CHANGES",
                 "LICENSE", ".bidsignore")
TABLES = {"participants.tsv": "participant_id"}  # and every *_scans.tsv, keyed by filename


def check_target(bids_dir: Path) -> None:
    """Before anything is read: BIDS_DIR is a new folder in an existing one, an empty folder, or a BIDS dataset
    to add to (its parent folders are not created: a mistyped path is an error, not a new tree)."""
    if bids_dir.exists() and not bids_dir.is_dir():
        raise UsageError(f"{bids_dir}: exists and is not a folder")
    if not bids_dir.exists() and not bids_dir.parent.is_dir():
        raise UsageError(f"{bids_dir}: its folder {bids_dir.parent} does not exist (fnirs-glm-bids creates "
                         "BIDS_DIR, not the folders above it)")
    if not is_empty(bids_dir) and not (bids_dir / "dataset_description.json").is_file():
        raise UsageError(f"{bids_dir}: exists, is not empty and is not a BIDS dataset (no dataset_description.json); "
                         "give a new or empty folder, or an existing BIDS dataset to add to")


def staging_folder(bids_dir: Path) -> Path:
    """A new empty folder beside BIDS_DIR (same file system: the final moves are renames)."""
    return Path(tempfile.mkdtemp(prefix=f".{bids_dir.name}.fnirs-glm-bids-", dir=bids_dir.parent))


def normal_modes(root: Path) -> None:
    """The staging folder (mkdtemp: 0700) and everything in it get the modes of files created as usual under
    the user's umask (folders 0777, files 0666, less the umask), before it becomes or joins BIDS_DIR."""
    umask = os.umask(0o022)
    os.umask(umask)
    for folder, _, files in os.walk(root):
        os.chmod(folder, 0o777 & ~umask)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o666 & ~umask)


def describe_dataset(root: Path, *, dataset: dict, version: str, formats: list[str]) -> None:
    """dataset_description.json (the spec's or the flags' Name, Authors, License, ...; MNE-BIDS' placeholders
    removed; GeneratedBy names fnirs-glm-bids) and a README saying where the data came from."""
    path = root / "dataset_description.json"
    described = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    described.pop("Authors", None)  # MNE-BIDS writes "[Unspecified1]", "[Unspecified2]"
    described.update({k: v for k, v in dataset.items() if v not in (None, "", [])})
    described.setdefault("Name", root.name)
    described.setdefault("BIDSVersion", "1.9.0")
    described.setdefault("DatasetType", "raw")
    described["GeneratedBy"] = [{"Name": "fnirs-glm-bids", "Version": version,
                                 "Description": "converted from " + ", ".join(formats) + " recordings"},
                                *[g for g in described.get("GeneratedBy", []) if g.get("Name") != "fnirs-glm-bids"]]
    path.write_text(json.dumps(described, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
    (root / "README").write_text(
        f"{described['Name']}\n\nfNIRS recordings converted to BIDS with fnirs-glm-bids {version} (from "
        f"{', '.join(formats)} files): SNIRF written by MNE-NIRS, sidecars by MNE-BIDS.\n", encoding="utf-8")


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines(), delimiter="\t"))
    return (rows[0], rows[1:]) if rows else ([], [])


def write_table(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.write_text("".join("\t".join(row) + "\n" for row in [header, *rows]), encoding="utf-8")


def read_participants(csv_path: Path, *, id_column: str, where: str) -> tuple[list[str], dict[str, dict]]:
    """(columns, label -> values) of the participants CSV; read before any recording, so that a missing or
    wrong file is an error before the work."""
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            table = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{csv_path}: participants file cannot be read "
                         f"({getattr(exc, 'strerror', None) or exc})") from None
    if not table or id_column not in table[0]:
        raise UsageError(f"{csv_path}: no column {id_column!r} (named by participants.id_column in {where})")
    by_label = {}
    for row in table:
        label = str(row[id_column]).strip().removeprefix("sub-")
        by_label[label] = {k: (v.strip() if isinstance(v, str) and v.strip() else "n/a")
                           for k, v in row.items() if k != id_column and k}
    return [c for c in table[0] if c != id_column and c], by_label


def add_participant_columns(root: Path, *, columns: list[str], by_label: dict[str, dict], csv_name: str) -> list[str]:
    """The participants CSV's columns (read_participants) for the converted participants into participants.tsv
    (and participants.json); returns the labels the CSV has no row for."""
    tsv = root / "participants.tsv"
    header, rows = read_table(tsv)
    keep = header.index("participant_id")  # MNE-BIDS' n/a columns go
    header = ["participant_id", *columns]
    missing = []
    new_rows = []
    for row in rows:
        label = row[keep].removeprefix("sub-")
        values = by_label.get(label)
        if values is None:
            missing.append(label)
            values = {}
        new_rows.append([f"sub-{label}", *[values.get(c, "n/a") for c in columns]])
    write_table(tsv, header, new_rows)
    sidecar = root / "participants.json"
    described = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
    described = {k: v for k, v in described.items() if k in header}
    for column in columns:
        described.setdefault(column, {"Description": f"{column} (from {csv_name})"})
    sidecar.write_text(json.dumps(described, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
    return missing


def tidy_participants(root: Path) -> None:
    """Without a participants file, participants.tsv lists the participants only: the columns MNE-BIDS
    fills with n/a (age, sex, hand, weight, height: unknown here) are left out, and so is their sidecar."""
    tsv = root / "participants.tsv"
    header, rows = read_table(tsv)
    index = header.index("participant_id")
    write_table(tsv, ["participant_id"], [[row[index]] for row in rows])
    sidecar = root / "participants.json"
    if sidecar.is_file():
        described = json.loads(sidecar.read_text(encoding="utf-8"))
        described = {k: v for k, v in described.items() if k == "participant_id"}
        if described:
            sidecar.write_text(json.dumps(described, indent=4) + "\n", encoding="utf-8")
        else:
            sidecar.unlink()


def is_empty(bids_dir: Path) -> bool:
    return not bids_dir.exists() or (bids_dir.is_dir() and not any(bids_dir.iterdir()))


def plan_merge(staged: Path, bids_dir: Path) -> list[tuple[str, Path, Path]]:
    """(action, staged file, target file) for every staged file: "move" a new file, "append" rows to a table,
    "keep" the target's (dataset-level files, identical files). UsageError for any file that would be
    overwritten: checked for all before anything is moved."""
    check_target(bids_dir)
    plan = []
    for path in sorted(p for p in staged.rglob("*") if p.is_file()):
        relative = path.relative_to(staged)
        target = bids_dir / relative
        if not target.exists():
            plan.append(("move", path, target))
        elif relative.name in TABLES or relative.name.endswith("_scans.tsv"):
            plan.append(("append", path, target))
            _check_rows(path, target)
        elif len(relative.parts) == 1 and (relative.name in KEEP_EXISTING or relative.name == "participants.json"):
            plan.append(("keep", path, target))
        elif target.is_file() and target.read_bytes() == path.read_bytes():
            plan.append(("keep", path, target))
        elif relative.name.endswith(("_optodes.tsv", "_coordsystem.json")):
            raise UsageError(f"{target}: exists with other optodes (another montage in this subject and session): "
                             "give the recording another --session or --acquisition")
        else:
            raise UsageError(f"{target}: exists (fnirs-glm-bids never overwrites; remove it or convert to another "
                             "name)")
    return plan


def _key_column(name: str) -> str:
    return TABLES.get(name, "filename")


def _check_rows(staged: Path, target: Path) -> None:
    key = _key_column(staged.name)
    header, rows = read_table(target)
    new_header, new_rows = read_table(staged)
    if key not in header or key not in new_header:
        raise UsageError(f"{target}: has no {key} column; cannot add rows to it")
    if key == "filename":
        existing = {row[header.index(key)] for row in rows}
        clash = [row[new_header.index(key)] for row in new_rows if row[new_header.index(key)] in existing]
        if clash:
            raise UsageError(f"{target}: already lists {clash[0]} (fnirs-glm-bids never overwrites)")


def apply_merge(plan, bids_dir: Path) -> list[Path]:
    """Carry out a plan_merge plan; returns the files added. All or nothing: when a move or a rewrite fails
    (an OSError, a file that appeared meanwhile, Ctrl-C), what was done is undone (files moved back, folders
    created removed, tables restored) before the error goes on."""
    added: list[Path] = []
    created: list[Path] = []  # folders made in BIDS_DIR, outermost first
    restore: dict[Path, bytes] = {}  # tables rewritten: their content before
    try:
        for action, staged, target in plan:
            if action == "move":
                _make_folders(target.parent, bids_dir, created)
                if target.exists():  # appeared since the plan: still never overwrite
                    raise UsageError(f"{target}: appeared while converting; not overwritten")
                os.rename(staged, target)
                added.append(target)
            elif action == "append":
                restore[target] = target.read_bytes()
                _append_rows(staged, target)
            elif staged.name == "participants.json":
                existing = json.loads(target.read_text(encoding="utf-8"))
                new = json.loads(staged.read_text(encoding="utf-8"))
                if any(k not in existing for k in new):
                    restore[target] = target.read_bytes()
                    _replace(target, json.dumps({**new, **existing}, indent=4, ensure_ascii=False) + "\n")
    except BaseException:
        _undo(plan, added, created, restore)
        raise
    return added


def _make_folders(folder: Path, bids_dir: Path, created: list[Path]) -> None:
    missing = []
    while folder != bids_dir and not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir()
        created.append(path)


def _undo(plan, added: list[Path], created: list[Path], restore: dict[Path, bytes]) -> None:
    """Put BIDS_DIR back as it was (best effort on each step, so that one failure does not stop the others)."""
    staged_of = {target: staged for action, staged, target in plan if action == "move"}
    for target in reversed(added):
        with contextlib.suppress(OSError):
            os.rename(target, staged_of[target])
    for target, content in restore.items():
        with contextlib.suppress(OSError):
            _replace(target, content.decode("utf-8"))
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _append_rows(staged: Path, target: Path) -> None:
    """Rows of ``staged`` whose key ``target`` lacks, added at its end (columns joined, n/a where missing)."""
    key = _key_column(staged.name)
    header, rows = read_table(target)
    new_header, new_rows = read_table(staged)
    present = {row[header.index(key)] for row in rows}
    columns = header + [c for c in new_header if c not in header]
    out = [row + ["n/a"] * (len(columns) - len(header)) for row in rows]
    for row in new_rows:
        values = dict(zip(new_header, row))
        if values[key] not in present:
            out.append([values.get(c, "n/a") for c in columns])
    text = "".join("\t".join(row) + "\n" for row in [columns, *out])
    _replace(target, text)


def _replace(target: Path, text: str) -> None:
    """An existing table rewritten with rows added: written beside it, then renamed over it (never half)."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    shutil.copymode(target, temporary)
    os.replace(temporary, target)
