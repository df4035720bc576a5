"""Finding the recordings in SOURCE (a folder of recordings, or one recording) and reading each with the reader
of its format."""

from __future__ import annotations

import re
from pathlib import Path

from bids_app.convert.nirx import is_nirx_folder
from bids_app.errors import UsageError

FORMATS = {".nirs": "Homer .nirs", ".snirf": "SNIRF"}
BIDS_RECORDING = re.compile(r"^sub-[A-Za-z0-9]+_.*_nirs\.snirf$")


def format_of(path: Path) -> str | None:
    """"NIRx", "Homer .nirs", "SNIRF", or None for anything else."""
    if path.is_dir():
        return "NIRx" if is_nirx_folder(path) else None
    return FORMATS.get(path.suffix.lower()) if path.is_file() else None


def find_recordings(source: Path) -> list[Path]:
    """SOURCE itself when it is one recording (a NIRx folder, a .nirs or .snirf file); else every NIRx folder,
    .nirs and .snirf file below it (sorted; hidden entries skipped; a folder reached twice through symbolic
    links is searched once). A NIRx folder is one recording: nothing inside it is searched further.
    UsageError for a BIDS dataset or a recording already in BIDS: fnirs-glm-bids converts what is not."""
    if format_of(source):
        refuse_bids(source)
        return [source]
    found: list[Path] = []
    seen: set[Path] = set()

    def walk(folder: Path) -> None:
        resolved = folder.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith("."):
                continue
            if format_of(entry):
                refuse_bids(entry)
                found.append(entry)
            elif entry.is_dir():
                walk(entry)

    refuse_bids(source)
    walk(source)
    return found


def refuse_bids(path: Path) -> None:
    """A BIDS dataset (dataset_description.json) or a BIDS recording (sub-..._nirs.snirf) is not converted."""
    if path.is_dir() and (path / "dataset_description.json").is_file():
        raise UsageError(f"{path}: is a BIDS dataset (it has dataset_description.json); fnirs-glm-bids converts "
                         "recordings not yet in BIDS: analyse it with fnirs-glm as it is")
    if path.is_file() and BIDS_RECORDING.match(path.name):
        raise UsageError(f"{path}: is a recording of a BIDS dataset (its name is a BIDS name); fnirs-glm-bids "
                         "converts recordings not yet in BIDS")


def read_recording(path: Path):
    """The Recording of one NIRx folder, .nirs or .snirf file (UsageError naming the file otherwise)."""
    kind = format_of(path)
    if kind == "NIRx":
        from bids_app.convert.nirx import read_nirx

        return read_nirx(path)
    if kind == "Homer .nirs":
        from bids_app.convert.homer import read_homer

        return read_homer(path)
    if kind == "SNIRF":
        from bids_app.convert.snirf import read_snirf

        return read_snirf(path)
    raise UsageError(f"{path}: not a recording fnirs-glm-bids reads (a NIRx folder with .hdr and .wl1 files, a "
                     "Homer .nirs file or a .snirf file)")
