"""One recording into a BIDS folder: SNIRF written by MNE-NIRS (``write_raw_snirf``, the events as its stim
groups), read back and checked against the source, then MNE-BIDS (``write_raw_bids``) for the BIDS file names,
channels.tsv, _nirs.json, scans.tsv, participants.tsv and, for head positions, optodes.tsv and
coordsystem.json. events.tsv/json are written here, row by row (MNE-BIDS would renumber the codes of its value
column and give one duration rule per name). Positions that are not head positions (a 2-D layout, a frame the
source does not name), which MNE-BIDS skips, are written here as coordinate system "Other" with a description
of what they are."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import warnings
from pathlib import Path

from bids_app.convert.events import NamedEvents
from bids_app.convert.recording import HEAD_3D
from bids_app.errors import UsageError


def write_recording(root: Path, recording, entities: dict, events: NamedEvents) -> Path:
    """Write ``recording`` as ``entities`` under ``root``; return its SNIRF path."""
    import mne
    from mne_bids import BIDSPath, write_raw_bids
    from mne_nirs.io import write_raw_snirf

    raw = recording.raw.copy()
    # Only the BIDS label identifies the participant: names and birthday of the source do not travel.
    raw.info["subject_info"] = {"his_id": f"sub-{entities['subject']}"}
    with raw.info._unlock():
        raw.info["experimenter"] = None
    if raw.info["meas_date"] is None:
        raw.set_meas_date(0)  # the writer needs one; the SNIRF file then says "unknown"
    end = raw.times[-1] + 1 / raw.info["sfreq"]
    past = sum(1 for onset, d in zip(events.onsets, events.durations) if d is not None and onset + d > end)
    if past:
        recording.notes.append(f"{past} event(s) reach past the end of the recording: their durations end with it")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expanding outside the data range")
        raw.set_annotations(mne.Annotations(events.onsets, [d if d is not None else 0.0 for d in events.durations],
                                            events.names, orig_time=raw.info["meas_date"]))
    bids_path = BIDSPath(root=root, datatype="nirs", suffix="nirs", extension=".snirf", **entities)
    with tempfile.TemporaryDirectory(prefix="fnirs-glm-bids-") as tmp:
        snirf = Path(tmp) / "recording.snirf"
        write_raw_snirf(raw, snirf)
        if not recording.date_known:
            _unknown_date(snirf)
        written = mne.io.read_raw_snirf(snirf, verbose="error")
        check_written(recording, written)
        written.set_annotations(None)  # events.tsv is written below; the SNIRF file keeps its stim groups
        if not recording.date_known:
            written.set_meas_date(None)
        positions_files = [_sidecar_path(bids_path, "optodes", ".tsv", task=False),
                           _sidecar_path(bids_path, "coordsystem", ".json", task=False)]
        # of another run of this session: set aside (MNE-BIDS would compare them with its own, which lack what is
        # added below, and refuse), then compared with this run's below
        earlier = {path: path.read_text(encoding="utf-8") for path in positions_files if path.is_file()}
        for path in earlier:
            path.unlink()
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # mne-bids prints each file it writes
                write_raw_bids(written, bids_path, overwrite=False, verbose="error")
        except (FileExistsError, RuntimeError, ValueError) as exc:
            raise UsageError(f"{recording.source}: cannot be written as {bids_path.basename} ({exc})") from None
    write_events(bids_path, events, sfreq=raw.info["sfreq"])
    _finish_sidecar(bids_path, recording)
    _finish_positions(bids_path, recording, raw, earlier=earlier)
    return bids_path.fpath


def check_written(recording, written) -> None:
    """The SNIRF file holds the source's channels, samples, rate and positions (a writer that renumbers
    optodes, e.g. for S1, S3 without S2, would rename channels: refused rather than written wrong)."""
    import numpy as np

    source = recording.raw
    if written.ch_names != source.ch_names:
        different = next((a, b) for a, b in zip(source.ch_names, written.ch_names) if a != b)
        raise UsageError(f"{recording.source}: channel {different[0]!r} would be written as {different[1]!r} (the "
                         "SNIRF writer numbers optodes 1, 2, 3, ...: optode numbers with gaps are not supported)")
    if not np.isclose(written.info["sfreq"], source.info["sfreq"], rtol=1e-9, atol=0) or \
            written.n_times != source.n_times:
        raise UsageError(f"{recording.source}: the written SNIRF file differs in sampling rate or length")
    if not np.allclose(written.get_data(), source.get_data(), rtol=1e-12, atol=0, equal_nan=True):
        raise UsageError(f"{recording.source}: the written SNIRF file's intensities differ from the source's")
    locations = np.array([ch["loc"][3:9] for ch in written.info["chs"]])
    expected = np.array([ch["loc"][3:9] for ch in source.info["chs"]])
    if not np.allclose(locations, expected, atol=1e-6, equal_nan=True):
        raise UsageError(f"{recording.source}: the written SNIRF file's optode positions differ from the source's")


def _unknown_date(snirf: Path) -> None:
    """SNIRF's own word for a date the source does not give (the Homer .nirs format has none)."""
    import h5py

    with h5py.File(snirf, "r+") as f:
        for key in ("MeasurementDate", "MeasurementTime"):
            del f[f"nirs/metaDataTags/{key}"]
            f.create_dataset(f"nirs/metaDataTags/{key}", data=b"unknown")


def _sidecar_path(bids_path, suffix: str, extension: str, *, task: bool = True) -> Path:
    entities = {"suffix": suffix, "extension": extension}
    if not task:
        entities.update(task=None, run=None)
    return bids_path.copy().update(**entities).fpath


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write_json(path: Path, content: dict) -> None:
    path.write_text(json.dumps(content, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")


EVENTS_JSON = {
    "onset": {"Description": "Onset (in seconds) of the event from the beginning of the first data point.",
              "Units": "s"},
    "duration": {"Description": "Duration of the event in seconds from onset; n/a where the source file does not "
                 "give it and the conversion spec does not set it.", "Units": "s"},
    "trial_type": {"Description": "The type, category, or name of the event."},
    "value": {"Description": "The trigger code of the event in the source recording (n/a for bad segments)."},
    "sample": {"Description": "The event onset time in number of sampling points. First sample is 0."},
}


def write_events(bids_path, events: NamedEvents, *, sfreq: float) -> None:
    """events.tsv, one row per event with its own duration (n/a where nobody knows it) and its source code in
    ``value``; events.json says what each trial_type and each code stands for. No events: no files."""
    if not events.onsets:
        return
    rows = ["onset\tduration\ttrial_type\tvalue\tsample\n"]
    for onset, duration, name, value in zip(events.onsets, events.durations, events.names, events.values):
        rows.append(f"{_number(onset)}\t{_number(duration) if duration is not None else 'n/a'}\t{name}\t"
                    f"{value if value is not None else 'n/a'}\t{int(round(onset * sfreq))}\n")
    _sidecar_path(bids_path, "events", ".tsv").write_text("".join(rows), encoding="utf-8")
    described = json.loads(json.dumps(EVENTS_JSON))
    described["trial_type"]["Levels"] = dict(events.levels)
    codes = {value: name for name, value in zip(events.names, events.values) if value is not None}
    if codes:
        described["value"]["Levels"] = codes
    _write_json(_sidecar_path(bids_path, "events", ".json"), described)


def _number(value: float) -> str:
    """Seconds as short as they are exact to the microsecond: 5.759999815680006 -> 5.76."""
    return repr(round(float(value), 6))


def _finish_sidecar(bids_path, recording) -> None:
    """The _nirs.json's Manufacturer is the device maker (MNE-BIDS writes the file format, "SNIRF")."""
    sidecar = _sidecar_path(bids_path, "nirs", ".json")
    described = _read_json(sidecar)
    described["Manufacturer"] = recording.manufacturer or "n/a"
    if recording.device:
        described["ManufacturersModelName"] = recording.device
    _write_json(sidecar, described)


def _finish_positions(bids_path, recording, raw, *, earlier: dict[Path, str]) -> None:
    """coordsystem.json says where the positions come from; positions MNE-BIDS does not place (not in a head
    frame with fiducials) are written as coordinate system "Other". A session's runs must share them."""
    coordsystem = _sidecar_path(bids_path, "coordsystem", ".json", task=False)
    optodes = _sidecar_path(bids_path, "optodes", ".tsv", task=False)
    if recording.positions == HEAD_3D and coordsystem.is_file():
        described = _read_json(coordsystem)
        described["NIRSCoordinateProcessingDescription"] = recording.positions_note
        new = {coordsystem: json.dumps(described, indent=4, ensure_ascii=False) + "\n"}
        if optodes.is_file():
            new[optodes] = optodes.read_text(encoding="utf-8")
    else:
        table = optode_table(raw)
        system = {"NIRSCoordinateSystem": "Other", "NIRSCoordinateSystemDescription": recording.positions_note,
                  "NIRSCoordinateUnits": "m"}
        new = {optodes: "name\ttype\tx\ty\tz\n" + "".join(f"{n}\t{t}\t{x!r}\t{y!r}\t{z!r}\n"
                                                         for n, t, x, y, z in table),
               coordsystem: json.dumps(system, indent=4, ensure_ascii=False) + "\n"}
    for path, text in new.items():
        if path in earlier and earlier[path] != text:
            raise UsageError(f"{recording.source}: its optodes differ from those of another recording of the same "
                             f"subject and session ({path.name}): give it another session or acquisition")
        path.write_text(text, encoding="utf-8")


def optode_table(raw) -> list[tuple]:
    """(name, source|detector, x, y, z) of each optode, in metres, in order of first use."""
    seen = {}
    for channel in raw.info["chs"]:
        pair = channel["ch_name"].split(" ")[0]
        source, detector = pair.split("_")
        seen.setdefault(source, ("source", *map(float, channel["loc"][3:6])))
        seen.setdefault(detector, ("detector", *map(float, channel["loc"][6:9])))

    def key(name):
        return (name[0] != "S", int(name[1:]))

    return [(name, *seen[name]) for name in sorted(seen, key=key)]
