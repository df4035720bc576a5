"""NIRx folders (NIRScout, NIRSport: .hdr, .wl1, .wl2, .evt, ...), read by MNE-Python's NIRx reader after a
check that its data files are complete (MNE reads a truncated .wl1 without a word)."""

from __future__ import annotations

import re
from pathlib import Path

from bids_app.convert.recording import HEAD_3D, Recording, check_cw, positions_kind, split_annotations
from bids_app.errors import UsageError


def is_nirx_folder(path: Path) -> bool:
    return path.is_dir() and any(path.glob("*.hdr")) and any(path.glob("*.wl1"))


def read_nirx(folder: Path) -> Recording:
    import mne

    check_complete(folder)
    try:
        raw = mne.io.read_raw_nirx(folder, preload=True, verbose="error")
    except Exception as exc:  # a foreign or damaged folder: say which and why, never a traceback
        raise UsageError(f"{folder}: cannot be read as a NIRx recording ({type(exc).__name__}: {exc})") from None
    check_cw(raw, folder)
    bad_spans, not_triggers = split_annotations(raw)
    header = header_fields(folder)
    kind = positions_kind(raw)
    note = ("Optode positions of the NIRx montage (the recording's probeInfo), as MNE-Python's NIRx reader places "
            "them in its head frame with template fiducials: montage positions, not digitised on this head.")
    if kind != HEAD_3D:
        note = "Optode positions of the NIRx montage as MNE-Python's NIRx reader gives them; not head positions."
    notes = []
    if not_triggers:
        notes.append("not converted to events: " + ", ".join(f"{k} x{v}" for k, v in not_triggers.items())
                     + " (MNE's annotations of the recording, not trigger codes)")
    return Recording(source=folder, format="NIRx", raw=raw, positions=kind, positions_note=note,
                     device=header.get("Device"), manufacturer="NIRx", durations_known=False,
                     bad_spans=bad_spans, not_triggers=not_triggers, notes=notes)


def header_fields(folder: Path) -> dict[str, str]:
    """key=value lines of the .hdr's [GeneralInfo] (Device, NIRStar version, ...)."""
    hdr = next(folder.glob("*.hdr"))
    fields = {}
    for line in hdr.read_text(encoding="latin-1").splitlines():
        if line.startswith("[") and fields:
            break
        match = re.match(r'^(\w[\w-]*)="?(.*?)"?\s*$', line)
        if match:
            fields[match.group(1)] = match.group(2)
    return fields


def check_complete(folder: Path) -> None:
    """The folder has its .hdr, .wl1 and .wl2 (MNE's own word for a missing one is a bare traceback text); each
    wavelength file (.wl1, .wl2 and their nosatflags twins) holds whole rows of one width, and all hold the
    same number of rows: a file cut short (a copy interrupted, a disk full) is an error."""
    for suffix in (".hdr", ".wl1", ".wl2"):
        found = [p for p in folder.glob(f"*{suffix}") if p.is_file()]
        if not found:
            raise UsageError(f"{folder}: no {suffix} file (a NIRx recording has its .hdr and one data file per "
                             "wavelength, .wl1 and .wl2)")
        if len(found) > 1:
            raise UsageError(f"{folder}: {len(found)} {suffix} files ({', '.join(sorted(p.name for p in found))}); "
                             "a NIRx folder holds one recording")
    rows: dict[Path, int] = {}
    for path in sorted(folder.iterdir()):
        if not re.fullmatch(r"\.(nosatflags_)?wl\d+", path.suffix) or not path.is_file():
            continue
        text = path.read_bytes()
        if not text.strip():
            raise UsageError(f"{path}: empty wavelength data file")
        if not text.endswith(b"\n"):
            raise UsageError(f"{path}: truncated (the last row is incomplete: no line end)")
        widths = {len(line.split()) for line in text.splitlines() if line.strip()}
        if len(widths) > 1:
            raise UsageError(f"{path}: rows of different lengths ({', '.join(map(str, sorted(widths)))} values): "
                             "the file is damaged or truncated")
        rows[path] = sum(1 for line in text.splitlines() if line.strip())
    if len(set(rows.values())) > 1:
        longest = max(rows.values())
        short = next(p for p, n in rows.items() if n < longest)
        raise UsageError(f"{short}: truncated ({rows[short]} samples where the other wavelength files have "
                         f"{longest})")
