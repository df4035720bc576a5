"""Homer ``.nirs`` files (MATLAB files with ``d``, ``s``, ``t``, ``SD`` and sometimes ``aux``), read with
scipy.io.loadmat: MNE-Python has no reader for them (it reads NIRx, SNIRF, Hitachi and BOXY)."""

from __future__ import annotations

from pathlib import Path

from bids_app.convert.recording import LAYOUT_2D, Recording, check_cw, positions_kind
from bids_app.errors import UsageError

UNITS_TO_M = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}


def load_nirs(path: Path) -> dict:
    """The variables of a .nirs file, checked: d (time x channels), s (time x conditions), t, SD with
    Lambda, SrcPos, DetPos and MeasList (or a top-level ml)."""
    import numpy as np
    import scipy.io

    try:
        variables = scipy.io.loadmat(path, squeeze_me=False)
    except Exception as exc:
        raise UsageError(f"{path}: cannot be read as a Homer .nirs (MATLAB) file ({type(exc).__name__}: "
                         f"{exc})") from None
    missing = [name for name in ("d", "s", "t", "SD") if name not in variables]
    if missing:
        raise UsageError(f"{path}: no {', '.join(repr(m) for m in missing)} variable (a Homer .nirs file holds "
                         "d, s, t and SD)")
    d = np.asarray(variables["d"], dtype=float)
    t = np.asarray(variables["t"], dtype=float).ravel()
    s = np.asarray(variables["s"], dtype=float)
    if s.ndim == 1:
        s = s[:, None]
    if d.ndim != 2 or d.shape[0] != t.size or s.shape[0] != t.size:
        raise UsageError(f"{path}: d {d.shape}, s {s.shape} and t ({t.size} samples) do not have the same "
                         "number of time points")
    sd = variables["SD"]
    try:
        sd = sd[0, 0]
        fields = {name: sd[name] for name in sd.dtype.names}
    except (IndexError, TypeError):
        raise UsageError(f"{path}: SD is not a Homer probe structure") from None
    for name in ("Lambda", "SrcPos", "DetPos"):
        if name not in fields:
            raise UsageError(f"{path}: SD has no {name} field")
    ml = fields.get("MeasList", variables.get("ml"))
    if ml is None:
        raise UsageError(f"{path}: no measurement list (SD.MeasList or ml)")
    ml = np.asarray(ml, dtype=int)
    if ml.ndim != 2 or ml.shape[1] < 4 or ml.shape[0] != d.shape[1]:
        raise UsageError(f"{path}: the measurement list ({ml.shape}) does not describe the {d.shape[1]} columns of d")
    unit = fields.get("SpatialUnit")
    unit = str(np.asarray(unit).ravel()[0]).strip() if unit is not None and np.asarray(unit).size else None
    if unit is not None and unit not in UNITS_TO_M:
        raise UsageError(f"{path}: SD.SpatialUnit {unit!r} is not mm, cm or m")
    return {"d": d, "t": t, "s": s, "ml": ml, "wavelengths": np.asarray(fields["Lambda"], float).ravel(),
            "sources": np.atleast_2d(np.asarray(fields["SrcPos"], float)),
            "detectors": np.atleast_2d(np.asarray(fields["DetPos"], float)),
            "unit": unit, "aux": variables.get("aux"), "CondNames": variables.get("CondNames")}


def channel_order(ml, wavelengths) -> list[tuple[int, int, int, int]]:
    """(column of d, source, detector, wavelength nm) in MNE's order: pairs in the order they first appear,
    each pair's wavelengths ascending."""
    columns = {}
    for column, row in enumerate(ml):
        source, detector, wavelength = int(row[0]), int(row[1]), float(wavelengths[int(row[3]) - 1])
        columns.setdefault((source, detector), []).append((wavelength, column))
    return [(column, source, detector, wavelength) for (source, detector), found in columns.items()
            for wavelength, column in sorted(found)]


def read_homer(path: Path) -> Recording:
    import mne
    import numpy as np

    nirs = load_nirs(path)
    t = nirs["t"]
    steps = np.diff(t)
    if t.size < 2 or np.any(steps <= 0):
        raise UsageError(f"{path}: the time vector t is not increasing")
    sfreq = 1.0 / float(np.mean(steps))
    if np.max(np.abs(steps * sfreq - 1)) > 0.01:
        raise UsageError(f"{path}: samples are not evenly spaced in t (steps {steps.min():g} to {steps.max():g} s)")
    scale = UNITS_TO_M[nirs["unit"] or "mm"]
    order = channel_order(nirs["ml"], nirs["wavelengths"])
    names = [f"S{source}_D{detector} {wavelength:g}" for _, source, detector, wavelength in order]
    if len(set(names)) != len(names):
        raise UsageError(f"{path}: the measurement list names a source-detector-wavelength twice")
    info = mne.create_info(names, sfreq, ch_types="fnirs_cw_amplitude", verbose="error")
    for channel, (_, source, detector, wavelength) in zip(info["chs"], order):
        try:
            source_xyz = nirs["sources"][source - 1] * scale
            detector_xyz = nirs["detectors"][detector - 1] * scale
        except IndexError:
            raise UsageError(f"{path}: the measurement list names S{source}-D{detector}, which SD has no position "
                             "for") from None
        channel["loc"][3:6] = source_xyz
        channel["loc"][6:9] = detector_xyz
        channel["loc"][:3] = (source_xyz + detector_xyz) / 2
        channel["loc"][9] = wavelength
    data = nirs["d"][:, [column for column, *_ in order]].T
    raw = mne.io.RawArray(data, info, verbose="error")
    onsets, codes = [], []
    for condition in range(nirs["s"].shape[1]):
        # Homer marks an onset with a positive value (1); -1 and -2 mark stimuli disabled by hand or by Homer
        rows = np.flatnonzero(nirs["s"][:, condition] > 0)
        onsets += list(raw.times[rows])
        codes += [str(condition + 1)] * rows.size
    order_of_events = np.argsort(onsets, kind="stable")
    raw.set_annotations(mne.Annotations(np.asarray(onsets)[order_of_events], np.zeros(len(onsets)),
                                        np.asarray(codes, dtype=object)[order_of_events] if codes else []))
    check_cw(raw, path)
    kind = positions_kind(raw)
    unit_said = f"SD.SpatialUnit {nirs['unit']}" if nirs["unit"] else "no SD.SpatialUnit: mm assumed (Homer's default)"
    note = (f"Flat 2-D probe-layout coordinates from the Homer .nirs SD.SrcPos/SD.DetPos ({unit_said}; z = 0): "
            "distances between optodes are meaningful, the coordinates are not head positions."
            if kind == LAYOUT_2D else
            f"3-D optode coordinates from the Homer .nirs SD.SrcPos/SD.DetPos ({unit_said}); the file does not "
            "state their coordinate frame.")
    notes = []
    disabled = int(np.sum(nirs["s"] < 0))
    if disabled:
        notes.append(f"{disabled} stimulus mark(s) disabled in Homer (negative s values) left out")
    if nirs["aux"] is not None and np.asarray(nirs["aux"]).size:
        notes.append(f"aux ({np.asarray(nirs['aux']).shape[1]} auxiliary channel(s)) not converted")
    code_names = condition_names(nirs["CondNames"])
    if code_names:
        notes.append("CondNames: " + ", ".join(f"{code}={name}" for code, name in code_names.items()))
    return Recording(source=path, format="Homer .nirs", raw=raw, positions=kind, positions_note=note,
                     durations_known=False, date_known=False, code_names=code_names, notes=notes)


def condition_names(cond_names) -> dict[str, str]:
    """Homer's CondNames (a cell array of strings, one per column of s) as code -> name; {} without them."""
    import numpy as np

    if cond_names is None:
        return {}
    names = {}
    for index, cell in enumerate(np.asarray(cond_names, dtype=object).ravel()):
        value = np.asarray(cell).ravel()
        name = str(value[0]).strip() if value.size else ""
        if name:
            names[str(index + 1)] = name
    return names
