"""A conversion from start to end: check the target and the spec, find and read the recordings, write them to a
staging folder, validate it, and move it into BIDS_DIR (all or nothing)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bids_app import __version__
from bids_app.convert.dataset import (
    add_participant_columns,
    apply_merge,
    check_target,
    describe_dataset,
    is_empty,
    normal_modes,
    plan_merge,
    read_participants,
    staging_folder,
    tidy_participants,
)
from bids_app.convert.events import check_codes_named, name_events
from bids_app.convert.sources import find_recordings, format_of, read_recording
from bids_app.convert.spec import EventSpec, Spec, assign, bids_name, relative_name
from bids_app.convert.writer import write_recording
from bids_app.errors import UsageError

PROG = "fnirs-glm-bids"


@dataclass
class Request:
    """What the command line asks for: SOURCE (absolute, exists), BIDS_DIR (absolute), the spec (loaded, or
    the one-recording spec of --subject/--task/...), where the spec comes from (for errors), and whether to
    run the validator."""

    source: Path
    bids_dir: Path
    spec: Spec
    where: str
    skip_validator: bool


def base_of(source: Path) -> Path:
    """What recording names are relative to (and spec patterns matched against): SOURCE when it is a folder of
    recordings, its parent when it is one recording."""
    return source.parent if format_of(source) else source


def recordings_in(source: Path) -> list[Path]:
    if source.is_file() and format_of(source) is None:
        raise UsageError(f"{source}: not a recording fnirs-glm-bids reads (.nirs, .snirf or a NIRx folder)")
    found = find_recordings(source)
    if not found:
        raise UsageError(f"{source}: no recordings found (NIRx folders with .hdr and .wl1 files, .nirs or .snirf "
                         "files)")
    return found


def bad_segments_said(recording) -> str:
    return (f"bad segments, kept as events of their own trial_type (fnirs-glm leaves them out of the fit): "
            f"{', '.join(recording.bad_spans_said())}")


def check_outside(path: Path, source: Path, *, what: str) -> None:
    """Nothing is ever written inside SOURCE."""
    resolved, root = path.expanduser().absolute().resolve(), source.resolve()
    if resolved == root or root in resolved.parents:
        raise UsageError(f"{path}: {what} is inside the source {source}; fnirs-glm-bids never writes there")


def convert(request: Request) -> int:
    """Every check that needs no recording first (target, participants file, names that exist), then the work."""
    started = time.monotonic()
    source, bids_dir, spec, where = request.source, request.bids_dir, request.spec, request.where
    check_outside(bids_dir, source, what="BIDS_DIR")
    if bids_dir.resolve() in source.resolve().parents or bids_dir.resolve() == source.resolve():
        raise UsageError(f"{source}: the source is inside BIDS_DIR {bids_dir}; convert from outside it")
    check_target(bids_dir)
    participants = None
    if spec.participants_file is not None:
        participants = read_participants(spec.participants_file, id_column=spec.participants_id_column, where=where)
    base = base_of(source)
    if spec.path is None and not format_of(source):
        raise UsageError(f"{source}: with --subject, SOURCE is one recording (a NIRx folder, a .nirs or a .snirf "
                         "file); for a folder of recordings use a spec (run without --subject first)")
    assigned, unmatched = assign(spec, recordings_in(source), base, where)
    for path, entities in assigned:  # before reading anything: a name that exists is an error
        existing = sorted((bids_dir / f"sub-{entities['subject']}").rglob(f"{bids_name(entities)}_nirs.*"),
                          key=lambda p: p.suffix != ".snirf") if bids_dir.is_dir() else []
        if existing:
            raise UsageError(f"{existing[0]}: exists (from an earlier conversion?); {relative_name(path, base)} is not "
                             "converted over it: fnirs-glm-bids never overwrites")
    recordings = [(read_recording(path), entities) for path, entities in assigned]
    check_codes_named(spec.events, [r for r, _ in recordings], where, all_named=spec.path is not None)
    added, missing, validation = _write(request, recordings, participants)
    try:
        for recording, entities in recordings:
            print(f"{PROG}: {relative_name(recording.source, base)} -> {bids_name(entities)}_nirs.snirf")
            for note in recording.notes:
                print(f"    note: {note}")
            if recording.bad_spans:
                print(f"    {bad_segments_said(recording)}")
        for path in unmatched:
            print(f"{PROG}: {relative_name(path, base)}: not matched by the spec, not converted")
        for label in missing:
            print(f"{PROG}: warning: {spec.participants_file} has no row for sub-{label} (n/a in participants.tsv)")
        print(f"{PROG}: {validation or 'not validated (--skip-bids-validator)'}")
        print(f"{PROG}: wrote {len(recordings)} recording(s), {len(added)} file(s), to {bids_dir} in "
              f"{time.monotonic() - started:.1f} s")
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted after the conversion was complete: {len(added)} file(s) are in {bids_dir}",
              file=sys.stderr)
        return 130
    return 0


def _write(request: Request, recordings: list, participants) -> tuple[list[Path], list[str], str | None]:
    """Stage, validate, move in: (files added, participant labels the participants file lacks, what the
    validator said). Until the move, and during a merge that fails or is interrupted, BIDS_DIR is as it was."""
    bids_dir, spec = request.bids_dir, request.spec
    staged = staging_folder(bids_dir)
    try:
        for recording, entities in recordings:
            events = name_events(recording, spec_events=_events_for(spec, recording),
                                 event_duration=spec.event_duration)
            write_recording(staged, recording, entities, events)
        formats = sorted({r.format for r, _ in recordings})
        describe_dataset(staged, dataset=spec.dataset, version=__version__, formats=formats)
        missing = []
        if participants is not None:
            columns, by_label = participants
            missing = add_participant_columns(staged, columns=columns, by_label=by_label,
                                              csv_name=spec.participants_file.name)
        else:
            tidy_participants(staged)
        validation = validate(staged, bids_dir, skip=request.skip_validator)
        normal_modes(staged)
        if is_empty(bids_dir):
            if bids_dir.exists():
                bids_dir.rmdir()
            os.rename(staged, bids_dir)
            return [p for p in bids_dir.rglob("*") if p.is_file()], missing, validation
        added = apply_merge(plan_merge(staged, bids_dir), bids_dir)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    if validation:
        try:
            validation = validate(bids_dir, bids_dir, skip=False, written=True)
        except UsageError as exc:  # the files are in: say what the validator says of the whole dataset
            validation = f"warning: after adding, {exc}"
        except KeyboardInterrupt:
            validation = "the whole dataset not validated after adding (interrupted)"
    return added, missing, validation


def _events_for(spec: Spec, recording) -> dict | None:
    """The spec's events; on the command line, --event names some codes and the others keep their code."""
    if spec.path is None and spec.events is not None:
        return {code: spec.events.get(code, EventSpec(code)) for code in recording.codes}
    return spec.events


def validate(folder: Path, bids_dir: Path, *, skip: bool, written: bool = False) -> str | None:
    """"validated with bids-validator-deno X (N warnings)", or None when skipped; UsageError on errors (naming
    BIDS_DIR, not the staging folder: then nothing has been written)."""
    from bids_app.validation import validate_input

    try:
        validation = validate_input(folder, skip_validator=skip)
    except UsageError as exc:
        message = str(exc).replace(str(folder), str(bids_dir))
        tail = ("the dataset it was added to may have had them before" if written else
                "nothing was written (--skip-bids-validator writes it all the same)")
        raise UsageError(message.replace("fix them or use --skip_bids_validator", tail)) from None
    if validation.status == "skipped":
        return None
    if validation.status == "not installed":
        return validation.message.replace("input not validated", f"{bids_dir} not validated")
    count = sum(validation.warnings.values())
    return (f"{bids_dir} validated with {validation.validator and 'bids-validator-deno'} {validation.version}: "
            f"no errors, {count} warning{'s' if count != 1 else ''}")
