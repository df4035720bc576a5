"""The dry run: what SOURCE holds (recordings, devices, rates, channels, trigger codes and counts) and a
proposed spec, printed or saved to --write-spec's file; nothing else is written."""

from __future__ import annotations

import json
from pathlib import Path

from bids_app.convert.conversion import PROG, bad_segments_said, base_of, check_outside, recordings_in
from bids_app.convert.sources import read_recording
from bids_app.convert.spec import propose, relative_name
from bids_app.errors import UsageError


def dry_run(source: Path, write_spec: Path | None, *, shown_source: str) -> int:
    """0, or 2 when some recordings cannot be read (they are listed); UsageError when none can."""
    if write_spec is not None:
        check_outside(write_spec, source, what="--write-spec")
        check_writable(write_spec)
    base = base_of(source)
    recordings, problems = [], []
    for path in recordings_in(source):
        try:
            recordings.append(read_recording(path))
        except UsageError as exc:
            problems.append(str(exc))
    if not recordings:
        for problem in problems:
            print(f"  cannot be converted: {problem}")
        raise UsageError(f"{source}: none of the recordings can be read")
    text = json.dumps(propose(recordings, base), indent=2, ensure_ascii=False)
    if write_spec is not None:
        try:
            write_spec.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{write_spec}: the proposed spec cannot be written ({exc.strerror})") from None
    print(f"{PROG}: dry run: {len(recordings) + len(problems)} recording(s) under {source}; nothing written"
          + (f" but {write_spec}" if write_spec is not None else ""))
    for recording in recordings:
        print(summary(recording, relative_name(recording.source, base)))
    for problem in problems:
        print(f"  cannot be converted: {problem}")
    if write_spec is not None:
        print(f"\nProposed spec written to {write_spec}: edit the names (task, subjects, runs, event names "
              f"and durations, dataset), then run: {PROG} {shown_source} BIDS_DIR --spec {write_spec}")
    else:
        print("\nProposed spec (save it, edit the names, then run with --spec; or use --write-spec FILE):")
        print(text)
    return 2 if problems else 0


def check_writable(path: Path) -> None:
    """--write-spec's file can be written (checked before the recordings are read)."""
    if path.is_dir():
        raise UsageError(f"{path}: --write-spec names a folder; give a file name, e.g. {path / 'spec.json'}")
    folder = path.expanduser().absolute().parent
    if not folder.is_dir():
        raise UsageError(f"{path}: --write-spec's folder {folder} does not exist")


def summary(recording, name: str) -> str:
    raw = recording.raw
    seconds = raw.n_times / raw.info["sfreq"]
    wavelengths = "/".join(f"{w:g}" for w in recording.wavelengths)
    codes = ", ".join(f"{code} x{count}" for code, count in recording.codes.items()) or "none"
    lines = [f"- {name}: {recording.format}" + (f" ({recording.device})" if recording.device else ""),
             f"    {raw.info['sfreq']:g} Hz, {seconds:.1f} s, {len(recording.pairs)} source-detector pairs x "
             f"{wavelengths} nm = {len(raw.ch_names)} channels; positions: {recording.positions}",
             f"    trigger codes: {codes}" + ("" if recording.durations_known else " (no durations in the file)")]
    if recording.bad_spans:
        lines.append(f"    {bad_segments_said(recording)}")
    lines += [f"    note: {note}" for note in recording.notes]
    return "\n".join(lines)
