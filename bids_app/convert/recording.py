"""The one in-memory form of a source recording that every reader returns and the writer takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bids_app.channels import natural_key
from bids_app.errors import UsageError

# How the optode positions of a recording are known (coordsystem.json says it).
HEAD_3D = "3-D head"  # head frame (MNE "head", with nasion, LPA, RPA): written by MNE-BIDS as CapTrak
OTHER_3D = "3-D, frame not stated"  # 3-D positions in a frame the file does not name: coordinate system "Other"
LAYOUT_2D = "2-D layout"  # a flat probe layout (z = 0): coordinate system "Other", not head positions


@dataclass
class Recording:
    """One recording as read from the lab's files.

    ``raw``: mne Raw of CW amplitude channels named "S1_D1 760" (pairs adjacent, wavelengths ascending),
    loaded, channel locations in metres, annotations described by the source's trigger *codes* (normalised:
    "1.0" -> "1"). ``durations_known``: whether the source gives event durations (NIRx and Homer files do
    not: MNE's 1 s for NIRx is its own default). ``bad_spans``: (onset, duration, description) of the
    source's bad segments (annotations starting with BAD, e.g. the stretches MNE's NIRx reader marks
    "BAD_SATURATED"), written as events of that trial_type, which fnirs-glm leaves out of the fit.
    ``not_triggers``: other annotations that are not trigger codes (MNE's EDGE marks), left out. ``code_names``:
    names the file gives its codes (Homer CondNames), for the proposed spec.
    """

    source: Path
    format: str
    raw: object
    positions: str
    positions_note: str
    device: str | None = None
    manufacturer: str | None = None
    durations_known: bool = False
    date_known: bool = True
    bad_spans: list[tuple[float, float, str]] = field(default_factory=list)
    not_triggers: dict[str, int] = field(default_factory=dict)
    code_names: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def codes(self) -> dict[str, int]:
        """Trigger code -> count, in natural order."""
        counts: dict[str, int] = {}
        for description in self.raw.annotations.description:
            counts[str(description)] = counts.get(str(description), 0) + 1
        return dict(sorted(counts.items(), key=lambda item: natural_key(item[0])))

    @property
    def wavelengths(self) -> list[float]:
        return sorted({float(ch["loc"][9]) for ch in self.raw.info["chs"]})

    @property
    def pairs(self) -> list[str]:
        return list(dict.fromkeys(name.split(" ")[0] for name in self.raw.ch_names))

    @property
    def montage(self) -> tuple:
        """The channels and their optode positions (to 0.1 mm): recordings of one montage share it."""
        return tuple((ch["ch_name"], *(round(float(x), 4) for x in ch["loc"][3:9])) for ch in self.raw.info["chs"])

    def bad_spans_said(self) -> list[str]:
        counts: dict[str, int] = {}
        for _, _, description in self.bad_spans:
            counts[description] = counts.get(description, 0) + 1
        return [f"{name} x{count}" for name, count in counts.items()]


def normalise_code(description: str) -> str:
    """A trigger code as users write it: "1.0" (MNE's NIRx reader) -> "1"; names are kept."""
    text = str(description).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def split_annotations(raw) -> tuple[list[tuple[float, float, str]], dict[str, int]]:
    """Leave only the trigger codes (named by normalise_code) in ``raw``'s annotations; return the bad segments
    (BAD*: onset, duration, description) and the other annotations that are not trigger codes (EDGE*, MNE's
    own) as name -> count."""
    import mne

    from bids_app.first_level.bad_segments import is_bad

    annotations = raw.annotations
    bad_spans, dropped, keep = [], {}, []
    for onset, duration, description in zip(annotations.onset, annotations.duration, annotations.description):
        description = str(description)
        if is_bad(description):  # as fnirs-glm reads them: BAD, BAD_..., BAD-..., "BAD ..."
            bad_spans.append((float(onset), float(duration), description))
        elif description.upper().startswith("EDGE"):
            dropped[description] = dropped.get(description, 0) + 1
        keep.append(not (is_bad(description) or description.upper().startswith("EDGE")))
    codes = [normalise_code(d) for d, k in zip(annotations.description, keep) if k]
    raw.set_annotations(mne.Annotations(annotations.onset[keep], annotations.duration[keep], codes,
                                        orig_time=annotations.orig_time))
    return bad_spans, dropped


def positions_kind(raw) -> str:
    """HEAD_3D, OTHER_3D or LAYOUT_2D from the channel locations and their coordinate frame."""
    import numpy as np
    from mne.io.constants import FIFF

    locations = np.array([np.r_[ch["loc"][3:6], ch["loc"][6:9]] for ch in raw.info["chs"]]).reshape(-1, 3)
    frame = raw.info["chs"][0]["coord_frame"]
    if np.allclose(locations[:, 2], locations[0, 2]):
        return LAYOUT_2D
    montage = raw.get_montage()
    fiducials = montage.get_positions() if montage is not None else {}
    if frame == FIFF.FIFFV_COORD_HEAD and all(fiducials.get(k) is not None for k in ("nasion", "lpa", "rpa")):
        return HEAD_3D
    return OTHER_3D


def check_cw(raw, source: Path) -> None:
    """fnirs-glm analyses raw CW intensity: refuse other data types, naming the file."""
    types = set(raw.get_channel_types())
    if types != {"fnirs_cw_amplitude"}:
        raise UsageError(f"{source}: not raw CW intensity (channel types {', '.join(sorted(types))}); "
                         "fnirs-glm-bids converts continuous-wave amplitude recordings")
    if len({float(ch["loc"][9]) for ch in raw.info["chs"]}) < 2:
        raise UsageError(f"{source}: fewer than two wavelengths; CW fNIRS needs two to give HbO and HbR")
