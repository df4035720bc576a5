"""Plain SNIRF files (not yet in BIDS), read by MNE-Python's SNIRF reader."""

from __future__ import annotations

from pathlib import Path

from bids_app.convert.recording import (
    HEAD_3D,
    LAYOUT_2D,
    Recording,
    check_cw,
    positions_kind,
    split_annotations,
)
from bids_app.errors import UsageError


def read_snirf(path: Path) -> Recording:
    import h5py
    import mne

    try:
        raw = mne.io.read_raw_snirf(path, preload=True, verbose="error")
    except Exception as exc:
        raise UsageError(f"{path}: cannot be read as SNIRF ({type(exc).__name__}: {exc})") from None
    check_cw(raw, path)
    bad_spans, not_triggers = split_annotations(raw)
    manufacturer = date = None
    with h5py.File(path, "r") as snirf:
        tags = snirf.get("nirs/metaDataTags")
        if tags is not None:
            manufacturer = _text(tags.get("ManufacturerName"))
            date = _text(tags.get("MeasurementDate"))
    kind = positions_kind(raw)
    note = {HEAD_3D: "Optode positions of the SNIRF file, in the head frame as MNE-Python reads it.",
            LAYOUT_2D: "Flat 2-D optode positions of the SNIRF file (z = 0): not head positions.",
            }.get(kind, "3-D optode positions of the SNIRF file; the file does not state their coordinate frame.")
    notes = [f"not converted to events: {k} x{v}" for k, v in not_triggers.items()]
    return Recording(source=path, format="SNIRF", raw=raw, positions=kind, positions_note=note,
                     manufacturer=manufacturer, durations_known=True,
                     date_known=bool(date) and date.lower() != "unknown", bad_spans=bad_spans,
                     not_triggers=not_triggers, notes=notes)


def _text(dataset) -> str | None:
    if dataset is None:
        return None
    import numpy as np

    value = np.asarray(dataset[()]).ravel()
    if not value.size:
        return None
    value = value[0]
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)).strip() or None
