"""The conversion spec (a JSON file the user edits): which source recording becomes which BIDS recording,
what each trigger code means and lasts, the participants' columns and the dataset's description.

    {
      "dataset": {"Name": "Finger tapping", "Authors": ["A. Author"], "License": "CC0"},
      "recordings": [
        {"match": "SimpleProbe(?P<sub>\\\\d+)_run(?P<run>\\\\d+)\\\\.nirs$",
         "subject": "{sub}", "task": "tapping", "run": "{run}"}
      ],
      "events": {"1": "Tapping/Left",
                 "2": {"name": "Tapping/Right", "duration": 5},
                 "3": {"name": "Rest", "end": "4"},
                 "4": null},
      "event_duration": 5,
      "participants": {"file": "participants.csv", "id_column": "participant_id"}
    }

``match`` is a regular expression searched in each recording's path relative to SOURCE_DIR (with "/");
``subject``, ``session``, ``task``, ``run`` and ``acquisition`` may use its named groups as ``{name}``. Every
trigger code of a converted recording must be named (``null`` leaves a code out, e.g. an end code); an event
lasts its ``duration``, or until the next ``end`` code, or ``event_duration``, or what the source file says
(n/a when it says nothing). ``participants.file`` (relative to the spec) is a CSV whose other columns go to
participants.tsv.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bids_app.channels import natural_key
from bids_app.errors import UsageError
from bids_app.user_files import closest, read_json_file

TOP_KEYS = ("dataset", "recordings", "events", "event_duration", "participants")
ENTITY_KEYS = ("subject", "session", "task", "acquisition", "run")
ENTRY_KEYS = ("match", *ENTITY_KEYS)
EVENT_KEYS = ("name", "duration", "end")
LABEL = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class EventSpec:
    name: str
    duration: float | None = None  # seconds; None: event_duration, else the source's
    end: str | None = None  # the code that ends it


@dataclass
class Spec:
    path: Path | None
    recordings: list[dict] = field(default_factory=list)  # each: match (compiled) + entity templates
    events: dict[str, EventSpec | None] | None = None  # None: codes kept as names
    event_duration: float | None = None
    dataset: dict = field(default_factory=dict)
    participants_file: Path | None = None
    participants_id_column: str = "participant_id"


def _where(path, key: str) -> str:
    return f"{path}: {key}"


def _check_keys(given: dict, allowed, where: str) -> None:
    for key in given:
        if key not in allowed:
            hint = closest(key, allowed)
            raise UsageError(f"{where}: unknown key {key!r}" + (f"; did you mean {hint!r}?" if hint else
                                                                 f" (known: {', '.join(allowed)})"))


def _duration(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise UsageError(f"{where}: a duration must be a number of seconds >= 0, found {value!r}")
    return float(value)


def load_spec(path: Path) -> Spec:
    """The spec file, checked (UsageError naming the file and the key)."""
    path = Path(path)
    content = read_json_file(path, what="spec file")
    if not isinstance(content, dict):
        raise UsageError(f"{path}: must be a JSON object")
    _check_keys(content, TOP_KEYS, str(path))
    placeholder = _placeholder(content)
    if placeholder:
        raise UsageError(f"{path}: still holds the proposal's placeholder {placeholder!r}: edit it (names, task, "
                         "authors, licence) before converting")
    spec = Spec(path=path)
    recordings = content.get("recordings")
    if not isinstance(recordings, list) or not recordings:
        raise UsageError(f"{path}: 'recordings' must be a non-empty list of {{\"match\": ..., \"subject\": ..., "
                         "\"task\": ...}")
    for index, entry in enumerate(recordings):
        where = f"{path}: recordings[{index}]"
        if not isinstance(entry, dict):
            raise UsageError(f"{where}: must be an object")
        _check_keys(entry, ENTRY_KEYS, where)
        for required in ("match", "subject", "task"):
            if not isinstance(entry.get(required), str) or not entry[required]:
                raise UsageError(f"{where}: '{required}' is missing or not a string")
        try:
            pattern = re.compile(entry["match"])
        except re.error as exc:
            raise UsageError(f"{where}: 'match' is not a regular expression ({exc})") from None
        templates = {}
        for key in ENTITY_KEYS:
            value = entry.get(key)
            if value is None:
                continue
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                raise UsageError(f"{where}: '{key}' must be a string")
            unknown = [g for g in re.findall(r"{(\w+)}", value) if g not in pattern.groupindex]
            if unknown:
                raise UsageError(f"{where}: '{key}' uses {{{unknown[0]}}}, which is not a named group of 'match'")
            templates[key] = value
        spec.recordings.append({"index": index, "pattern": pattern, "templates": templates})
    events = content.get("events")
    if events is not None:
        if not isinstance(events, dict):
            raise UsageError(f"{path}: 'events' must be an object of trigger code -> name")
        spec.events = {}
        for code, value in events.items():
            where = f"{path}: events[{code!r}]"
            if value is None:
                spec.events[str(code)] = None
            elif isinstance(value, str) and value.strip():
                spec.events[str(code)] = EventSpec(value.strip())
            elif isinstance(value, dict):
                _check_keys(value, EVENT_KEYS, where)
                if not isinstance(value.get("name"), str) or not value["name"].strip():
                    raise UsageError(f"{where}: 'name' is missing")
                if "duration" in value and "end" in value:
                    raise UsageError(f"{where}: give 'duration' or 'end', not both")
                end = value.get("end")
                if end is not None and not isinstance(end, (str, int)):
                    raise UsageError(f"{where}: 'end' must be a trigger code")
                spec.events[str(code)] = EventSpec(
                    value["name"].strip(),
                    _duration(value["duration"], where) if value.get("duration") is not None else None,
                    str(end) if end is not None else None)
            else:
                raise UsageError(f"{where}: must be a name, an object with 'name', or null")
        for code, event in spec.events.items():
            if event is not None and event.end is not None and event.end not in spec.events:
                raise UsageError(f"{path}: events[{code!r}] ends at code {event.end!r}, which 'events' does not "
                                 "list (add it, as null if it is only an end mark)")
    if content.get("event_duration") is not None:
        spec.event_duration = _duration(content["event_duration"], f"{path}: event_duration")
    dataset = content.get("dataset") or {}
    if not isinstance(dataset, dict):
        raise UsageError(f"{path}: 'dataset' must be an object (Name, Authors, License, ...)")
    spec.dataset = dataset
    participants = content.get("participants")
    if participants is not None:
        if not isinstance(participants, dict) or not isinstance(participants.get("file"), str):
            raise UsageError(f"{path}: 'participants' must be {{\"file\": \"participants.csv\", \"id_column\": ...}}")
        _check_keys(participants, ("file", "id_column"), f"{path}: participants")
        spec.participants_file = (path.parent / participants["file"]).resolve()
        spec.participants_id_column = str(participants.get("id_column", "participant_id"))
    return spec


def _placeholder(value) -> str | None:
    if isinstance(value, str):
        return value if value.startswith("EDIT") or value == "TASKNAME" else None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((found for item in items if (found := _placeholder(item))), None)


def simple_spec(*, subject: str, task: str, session: str | None, run: str | None, acquisition: str | None,
                events: dict[str, str] | None, event_duration: float | None, dataset: dict) -> Spec:
    """The spec of the one-recording command line: the recording (whatever its name) to these entities."""
    templates = {k: v for k, v in (("subject", subject), ("session", session), ("task", task),
                                   ("acquisition", acquisition), ("run", run)) if v is not None}
    return Spec(path=None, recordings=[{"index": 0, "pattern": re.compile(""), "templates": templates}],
                events={k: EventSpec(v) for k, v in events.items()} if events else None,
                event_duration=event_duration, dataset=dataset)


def relative_name(path: Path, source_dir: Path) -> str:
    try:
        return path.relative_to(source_dir).as_posix() or path.name
    except ValueError:
        return path.name


def assign(spec: Spec, recordings: list[Path], source_dir: Path, where: str) -> tuple[list[tuple[Path, dict]],
                                                                                     list[Path]]:
    """([(recording, BIDS entities)], [recordings the spec does not match]). UsageError for an entry that
    matches nothing, a recording two entries match, a label that is not alphanumeric, two recordings to one
    BIDS name."""
    assigned, unmatched = [], []
    used = set()
    for path in recordings:
        name = relative_name(path, source_dir)
        hits = [(entry, entry["pattern"].search(name)) for entry in spec.recordings]
        hits = [(entry, match) for entry, match in hits if match]
        if not hits:
            unmatched.append(path)
            continue
        if len(hits) > 1:
            raise UsageError(f"{where}: recordings[{hits[0][0]['index']}] and recordings[{hits[1][0]['index']}] "
                             f"both match {name}")
        entry, match = hits[0]
        used.add(entry["index"])
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        entities = {}
        for key, template in entry["templates"].items():
            try:
                value = template.format(**groups)
            except (KeyError, IndexError, ValueError) as exc:
                raise UsageError(f"{where}: recordings[{entry['index']}] '{key}' cannot be filled for {name} "
                                 f"({exc})") from None
            value = value.removeprefix({"subject": "sub-", "session": "ses-", "task": "task-", "run": "run-",
                                        "acquisition": "acq-"}[key])
            if not LABEL.fullmatch(value) or (key == "run" and not value.isdigit()):
                raise UsageError(f"{where}: {name} gets {key} {value!r}, not a BIDS label (letters and digits"
                                 + (" only" if key != "run" else "; a run is a number") + ")")
            entities[key] = value
        assigned.append((path, entities))
    for entry in spec.recordings:
        if entry["index"] not in used:
            raise UsageError(f"{where}: recordings[{entry['index']}] (match {entry['pattern'].pattern!r}) matches no "
                             f"recording under {source_dir}")
    seen: dict[str, Path] = {}
    for path, entities in assigned:
        key = bids_name(entities)
        if key in seen:
            raise UsageError(f"{where}: {relative_name(seen[key], source_dir)} and {relative_name(path, source_dir)} "
                             f"would both become {key}; give them different runs, sessions or tasks")
        seen[key] = path
    return assigned, unmatched


def bids_name(entities: dict) -> str:
    """sub-01_ses-1_task-x_run-1 (the recording's name without suffix)."""
    prefixes = (("subject", "sub"), ("session", "ses"), ("task", "task"), ("acquisition", "acq"), ("run", "run"))
    return "_".join(f"{prefix}-{entities[key]}" for key, prefix in prefixes if entities.get(key))


def propose(recordings: list, source_dir: Path) -> dict:
    """A spec for ``recordings`` (Recording values) for the user to edit: one entry per recording (its exact
    path). Subjects: the files of one folder (without their run number: "x_run01.nirs") are one subject; the
    NIRx recordings of one folder are one subject when they share a montage (channels and optode positions),
    so that an edited proposal converts (a session's runs share optodes.tsv). Runs by a run number in the name
    or by order within a subject; every trigger code named by itself, or by the file's own name for it (Homer
    CondNames) when the recordings agree on it."""
    keys: dict[tuple, str] = {}
    entries, runs_per_subject = [], {}
    for recording in recordings:
        name = relative_name(recording.source, source_dir)
        path = Path(name)
        stem = path.name if recording.format == "NIRx" else path.name.rsplit(".", 1)[0]
        run_match = re.search(r"(?i)[_-]?run[_-]?(\d+)", stem)
        subject_key = (str(path.parent), stem[:run_match.start()] if run_match else "",
                       recording.montage if recording.format == "NIRx" else None)
        subject = keys.setdefault(subject_key, f"{len(keys) + 1:02d}")
        runs_per_subject.setdefault(subject, []).append(int(run_match.group(1)) if run_match else None)
        entries.append({"match": "^" + re.escape(name) + "$", "subject": subject, "task": "TASKNAME",
                        "_run": int(run_match.group(1)) if run_match else None})
    counters: dict[str, int] = {}
    for entry in entries:
        subject = entry["subject"]
        run = entry.pop("_run")
        if len(runs_per_subject[subject]) > 1:
            counters[subject] = counters.get(subject, 0) + 1
            entry["run"] = f"{run if run is not None else counters[subject]:02d}"
    codes = sorted({code for r in recordings for code in r.codes}, key=natural_key)
    return {
        "dataset": {"Name": source_dir.name, "Authors": ["EDIT: the authors"], "License": "EDIT: e.g. CC0"},
        "recordings": entries,
        "events": {code: _proposed_name(code, recordings) for code in codes},
        "event_duration": None,
    }


def _proposed_name(code: str, recordings: list) -> str:
    """The name the files give ``code`` (Homer CondNames) when every file that has the code names it alike."""
    names = {r.code_names.get(code) for r in recordings if code in r.codes}
    return names.pop() if len(names) == 1 and None not in names else code
