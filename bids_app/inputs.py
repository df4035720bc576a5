"""Reading one BIDS NIRS recording and its sidecars, with errors that name the file: load_recording gives
everything the first level needs from disk as one RecordingInputs value."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bids_app.bids_files import input_fingerprint, read_tsv, sidecar
from bids_app.errors import RecordingError


@dataclass(frozen=True)
class RecordingInputs:
    """What one recording's analysis reads from disk."""

    source: str  # the recording's path
    raw: object  # mne.io.Raw: the raw CW intensity, loaded
    channels: pd.DataFrame  # channels.tsv
    events: pd.DataFrame  # events.tsv as first_level.events.read_events gives it
    coordinate_system: str | None  # NIRSCoordinateSystem of coordsystem.json
    landmarks: dict | None  # its AnatomicalLandmarkCoordinates NAS, LPA, RPA (metres), None without them
    roi_definitions: dict[str, list[str]] | None  # the --roi-file's regions, None without one
    checksums: dict[str, str]  # of the input files (input_fingerprint)
    warnings: tuple[str, ...] = ()  # said while reading


def load_recording(bids_path, *, options, warn: Callable[[str], None],
                   checksums: dict[str, str] | None = None) -> RecordingInputs:
    """Read the recording ``bids_path`` and its sidecars (and the ROI file of ``options``); RecordingError naming
    the file when one cannot be read. Warnings, also the libraries', go to ``warn`` (each once).

    ``checksums``: input_fingerprint of the recording, computed when not given.
    """
    from bids_app.first_level.bad_segments import split_bad_events
    from bids_app.first_level.events import read_events
    from bids_app.first_level.rois import read_roi_file

    if checksums is None:
        checksums = input_fingerprint(bids_path, roi_file=options.roi_file)
    collected = WarningList(warn)
    with collected.capturing():
        raw = read_raw_intensity(bids_path)
        events = read_events(bids_path, duration_s=raw.times[-1] + 1 / raw.info["sfreq"],
                             stim_dur=options.stim_dur, warn=collected)
        events, bad_events = split_bad_events(events)
        _set_bad_annotations(raw, bad_events, use=options.bad_segments != "none", warn=collected)
        if events.empty:
            raise RecordingError(f"{bids_path.fpath}: no events but BAD segments: a GLM needs a condition")
        channels = read_channels_tsv(bids_path)
        coordinates, landmarks = coordinate_system(bids_path)
        rois = read_roi_file(options.roi_file) if options.roi_file else None
    return RecordingInputs(source=str(bids_path.fpath), raw=raw, channels=channels, events=events,
                           coordinate_system=coordinates, landmarks=landmarks, roi_definitions=rois, checksums=checksums,
                           warnings=tuple(collected.messages))


def _set_bad_annotations(raw, bad_events: pd.DataFrame, *, use: bool, warn: Callable[[str], None]) -> None:
    """The recording's BAD annotations are its BAD events of events.tsv (``use``), whatever the reader made of
    them; with --bad-segments none they are said to be ignored."""
    from bids_app.first_level.bad_segments import is_bad, with_spans

    raw.set_annotations(raw.annotations[[not is_bad(d) for d in raw.annotations.description]], verbose="error")
    if use and len(bad_events):
        names = ", ".join(sorted(set(bad_events["trial_type"])))
        warn(f"{len(bad_events)} event(s) of trial_type {names} taken as bad segments: left out of every "
             "channel's fit, not conditions")
        with_spans(raw, [(float(o), float(d), str(t), ()) for o, d, t in
                         zip(bad_events["onset"], bad_events["duration"], bad_events["trial_type"])])
    elif len(bad_events):
        warn(f"{len(bad_events)} BAD event(s) of events.tsv ignored (--bad-segments none)")


class WarningList:
    """Warnings said once each (whitespace normalised), in order, passed on to ``warn``; ``capturing()`` makes
    the libraries' warnings that matter (UserWarning, RuntimeWarning) ours."""

    def __init__(self, warn: Callable[[str], None] | None = None, *, said: tuple[str, ...] = ()):
        self.warn = warn
        self.messages: list[str] = list(said)

    def __call__(self, message: str) -> None:
        message = " ".join(message.split())
        if message not in self.messages:
            self.messages.append(message)
            if self.warn is not None:
                self.warn(message)

    @contextlib.contextmanager
    def capturing(self):
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = self._from_library
            yield self

    def _from_library(self, message, category, *_args, **_kwargs) -> None:
        if issubclass(category, (UserWarning, RuntimeWarning)):
            self(str(message))


def read_raw_intensity(bids_path):
    """The raw CW amplitude recording, loaded, with channels.tsv applied by mne-bids."""
    from mne_bids import read_raw_bids

    fname = bids_path.fpath
    try:
        try:
            raw = read_raw_bids(bids_path, verbose="error")
        except RuntimeError as exc:
            if "Channel mismatch" not in str(exc):
                raise
            message = _channel_mismatch_message(bids_path)
            if message is not None:
                raise RecordingError(message) from exc
            # the same channels listed in another order: BIDS only recommends the file's order
            raw = read_raw_bids(bids_path, on_ch_mismatch="reorder", verbose="error")
    except RecordingError:
        raise
    except RuntimeError as exc:
        raise RecordingError(f"{fname}: cannot read the recording ({exc})") from exc
    except Exception as exc:  # a corrupt or foreign file: say which and why, never a traceback
        raise RecordingError(f"{fname}: cannot read the recording ({type(exc).__name__}: {exc})") from exc
    types = set(raw.get_channel_types())
    if "fnirs_cw_amplitude" not in types:
        raise RecordingError(
            f"{fname}: no continuous-wave amplitude channels (found {', '.join(sorted(types))}); "
            "fnirs-glm analyses raw CW intensity recordings"
        )
    raw.pick("fnirs_cw_amplitude")
    try:
        raw.load_data(verbose="error")
    except Exception as exc:
        raise RecordingError(f"{fname}: cannot load the data ({type(exc).__name__}: {exc})") from exc
    return raw


def read_channels_tsv(bids_path) -> pd.DataFrame:
    path = sidecar(bids_path, suffix="channels", extension=".tsv")
    if path is None:
        raise RecordingError(f"{bids_path.fpath}: no channels.tsv found for this recording")
    table = read_tsv(path)
    if "name" not in table.columns:
        raise RecordingError(f"{path}: no 'name' column")
    for column in ("status", "status_description"):
        if column not in table.columns:
            table[column] = pd.NA
    return table


def coordinate_system(bids_path) -> tuple[str | None, dict | None]:
    """(NIRSCoordinateSystem, the anatomical landmarks NAS, LPA and RPA in metres in that system) of the
    recording's coordsystem.json; None for what it does not give (landmarks in another system or without units
    count as not given)."""
    from bids_app.derivatives import read_json

    path = sidecar(bids_path, suffix="coordsystem", extension=".json")
    if path is None:
        return None, None
    described = read_json(path)
    system = described.get("NIRSCoordinateSystem")
    return system, _landmarks(described, system=system)


_TO_METRES = {"m": 1.0, "cm": 0.01, "mm": 0.001}


def _landmarks(described: dict, *, system: str | None) -> dict | None:
    """NAS, LPA and RPA in metres when coordsystem.json gives all three as 3 finite numbers, with units, in the
    NIRS coordinate system, and LPA and RPA 10-20 cm apart (a head); otherwise None (said when given but
    unusable): the registration then uses the template's fiducials."""
    import math

    landmarks = described.get("AnatomicalLandmarkCoordinates")
    if not landmarks:
        return None
    aliases = {"NAS": ("NAS", "nasion", "Nasion", "NA"), "LPA": ("LPA", "lpa", "LeftPreauricular"),
               "RPA": ("RPA", "rpa", "RightPreauricular")}
    found = {key: next((landmarks[n] for n in names if n in landmarks), None) for key, names in aliases.items()}
    units = described.get("AnatomicalLandmarkCoordinateUnits") or described.get("NIRSCoordinateUnits")
    landmark_system = described.get("AnatomicalLandmarkCoordinateSystem", system)

    def numbers(value) -> bool:
        return (isinstance(value, list) and len(value) == 3 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value))

    problem = None
    if not all(numbers(v) for v in found.values()):
        problem = "NAS, LPA and RPA are not all given as 3 numbers"
    elif units not in _TO_METRES:
        problem = f"their units {units!r} are not m, cm or mm"
    elif str(landmark_system).lower() != str(system).lower():
        problem = f"they are in {landmark_system!r}, not in the optodes' {system!r}"
    else:
        metres = {key: [float(v) * _TO_METRES[units] for v in value] for key, value in found.items()}
        width = math.dist(metres["LPA"], metres["RPA"])
        if not 0.10 <= width <= 0.20:
            problem = f"LPA and RPA are {width * 100:.1f} cm apart, not a head's 10-20 cm (check their units)"
        else:
            return metres
    warnings.warn(f"coordsystem.json: anatomical landmarks not used ({problem}); the template's fiducials are "
                  "used for the anatomy", UserWarning, stacklevel=2)
    return None


def _channel_mismatch_message(bids_path) -> str | None:
    """Which names differ between channels.tsv and the SNIRF file (None when only the order does)."""
    import mne

    tsv = sidecar(bids_path, suffix="channels", extension=".tsv")
    listed = list(read_tsv(tsv)["name"])
    in_file = mne.io.read_raw_snirf(bids_path.fpath, verbose="error").ch_names
    only_tsv = [n for n in listed if n not in in_file]
    only_file = [n for n in in_file if n not in listed]
    if not only_tsv and not only_file and len(listed) == len(in_file):
        return None
    return (
        f"{tsv}: channel names do not match {Path(bids_path.fpath).name} "
        f"(only in channels.tsv: {_few(only_tsv)}; only in the SNIRF file: {_few(only_file)})"
    )


def _few(names: list[str], limit: int = 5) -> str:
    if not names:
        return "none"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
