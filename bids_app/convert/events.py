"""Trigger codes to named, timed events: names and durations from the spec (fixed, until an end code, a
default), else the codes as names and the source's durations (n/a when the source has none); the source's bad
segments (e.g. NIRx saturation) kept as events of their own trial_type (BAD_...)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bids_app.channels import natural_key
from bids_app.errors import UsageError


@dataclass
class NamedEvents:
    """One row per event, in order of onset: ``values`` is the source's trigger code of the row (None for a bad
    segment); ``levels`` says, per name, what it stands for (for events.json)."""

    onsets: list[float] = field(default_factory=list)
    durations: list[float | None] = field(default_factory=list)  # None: not known (written n/a)
    names: list[str] = field(default_factory=list)
    values: list[str | None] = field(default_factory=list)
    levels: dict[str, str] = field(default_factory=dict)


def check_codes_named(events: dict | None, recordings: list, where: str, *, all_named: bool = True) -> None:
    """Every code ``events`` names occurs in some recording; with ``all_named`` (a spec, ``where`` its path),
    every code of every recording is named too; without (the command line's --event), codes not named keep
    their code."""
    if events is None:
        return
    found = {code for r in recordings for code in r.codes}
    listing = ", ".join(sorted(found, key=natural_key)) or "none"
    for code, event in events.items():
        if code in found:
            continue
        if not all_named:
            raise UsageError(f"--event {code}={event.name}: {recordings[0].source} has no trigger code {code!r} "
                             f"(codes found: {listing})")
        raise UsageError(f"{where}: events names trigger code {code!r}, which no converted recording has "
                         f"(codes found: {listing})")
    for recording in recordings if all_named else []:
        missing = [code for code in recording.codes if code not in events]
        if missing:
            raise UsageError(f"{recording.source}: trigger code {missing[0]!r} is not named in {where} 'events' "
                             "(give it a name, or null to leave it out)")


def name_events(recording, *, spec_events: dict | None, event_duration: float | None) -> NamedEvents:
    import numpy as np

    annotations = recording.raw.annotations
    onsets = np.asarray(annotations.onset, float)
    codes = [str(c) for c in annotations.description]
    source_said = "the source file's" if recording.durations_known else "none in the file (n/a)"
    rows = []  # (onset, duration, name, code)
    rules: dict[str, dict[str, str]] = {}  # name -> code -> its duration rule
    for index, code in enumerate(codes):
        event = spec_events[code] if spec_events is not None else None
        if spec_events is not None and event is None:
            continue  # named null: left out
        name = event.name if event is not None else code
        if event is not None and event.end is not None:
            later = [i for i in range(len(codes)) if codes[i] == event.end and onsets[i] > onsets[index]]
            if not later:
                raise UsageError(f"{recording.source}: code {code!r} at {onsets[index]:.3f} s has no following end "
                                 f"code {event.end!r}")
            duration, said = float(onsets[later[0]] - onsets[index]), f"until the next code {event.end}"
        elif event is not None and event.duration is not None:
            duration, said = event.duration, f"{event.duration:g} s"
        elif event_duration is not None:
            duration, said = event_duration, f"{event_duration:g} s"
        else:
            duration = float(annotations.duration[index]) if recording.durations_known else None
            said = source_said
        rows.append((float(onsets[index]), duration, name, code))
        rules.setdefault(name, {})[code] = said
    for onset, duration, description in recording.bad_spans:
        rows.append((onset, duration, description, None))
    rows.sort(key=lambda row: row[0])  # stable: a recording's order for equal onsets
    out = NamedEvents()
    for onset, duration, name, code in rows:
        out.onsets.append(onset)
        out.durations.append(duration)
        out.names.append(name)
        out.values.append(code)
    for name, by_code in rules.items():
        said = "; ".join(f"code {code}: duration {rule}" for code, rule in by_code.items())
        out.levels[name] = (f"trigger code{'s' if len(by_code) > 1 else ''} {', '.join(by_code)} of the "
                            f"{recording.format} recording ({said})")
    for _, _, description in recording.bad_spans:
        out.levels[description] = bad_span_level(recording, description)
    return out


def bad_span_level(recording, description: str) -> str:
    what = ("a stretch NIRStar flagged as saturated (MNE-Python's NIRx reader's annotation)"
            if description == "BAD_SATURATED" and recording.format == "NIRx" else
            f"a bad segment marked in the {recording.format} recording")
    return f"{what}; not a condition: fnirs-glm leaves the samples of BAD events out of the fit"
