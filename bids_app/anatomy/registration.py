"""Optode positions to MNI152: head-frame positions (CapTrak and the like) through the fiducials to fsaverage's
MRI coordinates (MNI305) and on to MNI152 with FreeSurfer's affine, positions in an MNI frame as given; every
optode then placed on the template scalp (its nearest point)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bids_app.anatomy import templates

# NIRSCoordinateSystem values (lower case) by how they are registered
RAS_HEAD_FRAMES = {"captrak", "elektaneuromag", "chietiitab"}  # x towards RPA, y towards the nasion, z up
ALS_HEAD_FRAMES = {"ctf", "eeglab", "eeglab-hj", "4dbti", "kityokogawa"}  # x towards the nasion, y towards LPA
MNI305_FRAMES = {"mni305", "fsaverage", "fsaveragesym", "mnicolin27"}  # Colin27 is registered to MNI305
MNI152_PREFIXES = ("mni152", "icbm452", "ixi549space")
MAX_SCALP_DISTANCE_MM = 15.0  # a median move onto the template scalp beyond this: not head positions in metres


@dataclass(frozen=True)
class Registration:
    """Optode positions in MNI152 (mm, on the template scalp) and how they were obtained."""

    optodes: dict[str, tuple[float, float, float]]  # "S1" -> (x, y, z); optodes without a position left out
    frame: str  # the recording's NIRSCoordinateSystem
    method: str  # one sentence: what was done
    fiducials: str  # "recording" | "template" | "n/a" (positions in an MNI frame)
    scalp_distance_mm: float  # median distance by which the optodes were moved onto the template scalp
    missing: tuple[str, ...] = ()  # optodes without a position (all zero or not finite, as MNE stores none)


class NoHeadPositions(ValueError):
    """The recording's positions cannot be placed on a head (flat layout, unknown frame): said, no anatomy."""


def optode_positions(info) -> dict[str, np.ndarray]:
    """Optode name -> position (metres, the recording's frame) from the channels of an MNE ``info``."""
    positions: dict[str, np.ndarray] = {}
    for channel in info["chs"]:
        pair = channel["ch_name"].split(" ")[0]
        source, detector = pair.split("_")
        positions.setdefault(source, np.asarray(channel["loc"][3:6], float))
        positions.setdefault(detector, np.asarray(channel["loc"][6:9], float))
    return positions


def register(positions: dict[str, np.ndarray], *, coordinate_system: str | None,
             landmarks: dict[str, np.ndarray] | None = None) -> Registration:
    """``positions`` (metres, in ``coordinate_system``) in MNI152 on the template scalp.

    ``landmarks``: the recording's own NAS, LPA and RPA in the same frame (metres), from coordsystem.json; without
    them the head frame is taken as fsaverage's (the template's fiducials). NoHeadPositions when the positions
    are not 3-D head positions.
    """
    frame = (coordinate_system or "").strip()
    key = frame.lower()
    missing = tuple(sorted(n for n, p in positions.items()
                           if not np.isfinite(np.asarray(p, float)).all() or not np.any(np.asarray(p, float))))
    names = sorted(n for n in positions if n not in missing)
    xyz = np.array([positions[n] for n in names], float).reshape(-1, 3)
    if len(names) < 2:
        raise NoHeadPositions("no 3-D optode positions")
    if key in RAS_HEAD_FRAMES | ALS_HEAD_FRAMES:
        if np.ptp(xyz[:, 2]) < 1e-3 and np.ptp(xyz, axis=0).min() < 1e-3:
            raise NoHeadPositions(f"the optodes of coordinate system {frame!r} lie in a plane")
        rotate = _als_to_ras if key in ALS_HEAD_FRAMES else (lambda p: p)
        head = rotate(xyz)
        fiducials = "template"
        if landmarks and all(k in landmarks for k in ("NAS", "LPA", "RPA")):
            head = _to_template_head(head, {k: rotate(np.asarray(v, float)[None])[0] for k, v in landmarks.items()})
            fiducials = "recording"
        mri_mm = _apply(templates.fsaverage_head_to_mri(), head) * 1000.0
        mni = _apply(templates.MNI305_TO_MNI152, mri_mm)
        how = ("head-frame positions to fsaverage MRI (MNI305) through the "
               + ("recording's fiducials (rigid head frame, scaled to the template's fiducial distances)"
                  if fiducials == "recording" else "template's fiducials (fsaverage head -> MRI transform)")
               + ", then to MNI152 with FreeSurfer's MNI305 -> MNI152 affine; optodes moved to the nearest point "
               "of the template scalp")
    elif key.startswith(MNI152_PREFIXES) or key in MNI305_FRAMES:
        mni = xyz * 1000.0
        if key in MNI305_FRAMES:
            mni = _apply(templates.MNI305_TO_MNI152, mni)
        fiducials = "n/a"
        how = (f"positions in {frame} used as given" + (" (MNI305 -> MNI152 with FreeSurfer's affine)"
                                                        if key in MNI305_FRAMES else "")
               + "; optodes moved to the nearest point of the template scalp")
    else:
        raise NoHeadPositions(f"coordinate system {frame or 'not given'!r} is not a head or MNI frame")
    on_scalp = templates.scalp_surface().vertices[templates.scalp_tree().query(mni)[1]]
    moved = float(np.median(np.linalg.norm(on_scalp - mni, axis=1)))
    if moved > MAX_SCALP_DISTANCE_MM:
        raise NoHeadPositions(f"the optodes of coordinate system {frame!r} lie a median {moved:.0f} mm from the "
                              "template scalp, not on a head: check the positions and their units")
    optodes = {n: tuple(round(float(v), 2) for v in p) for n, p in zip(names, on_scalp)}
    return Registration(optodes, frame, how, fiducials, round(moved, 2), missing)


def _als_to_ras(xyz: np.ndarray) -> np.ndarray:
    """x towards the nasion, y towards the left ear -> x towards the right ear, y towards the nasion."""
    return np.column_stack([-xyz[:, 1], xyz[:, 0], xyz[:, 2]])


def _to_template_head(head: np.ndarray, landmarks: dict[str, np.ndarray]) -> np.ndarray:
    """Positions in the head frame that the recording's fiducials define (MNE's neuromag convention), scaled along
    each axis so that the fiducials take the template's distances (x: LPA-RPA, y: the nasion's distance from the
    origin, z: the geometric mean of the two)."""
    from mne.transforms import get_ras_to_neuromag_trans

    own = get_ras_to_neuromag_trans(landmarks["NAS"], landmarks["LPA"], landmarks["RPA"])
    template = templates.fsaverage_fiducials()
    to_head = np.linalg.inv(templates.fsaverage_head_to_mri())
    template_head = {k: _apply(to_head, v[None])[0] for k, v in template.items()}
    own_head = {k: _apply(own, np.asarray(v, float)[None])[0] for k, v in landmarks.items()}
    sx = (template_head["RPA"][0] - template_head["LPA"][0]) / (own_head["RPA"][0] - own_head["LPA"][0])
    sy = template_head["NAS"][1] / own_head["NAS"][1]
    scale = np.array([sx, sy, np.sqrt(sx * sy)])
    return _apply(own, head) * scale


def _apply(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ transform[:3, :3].T + transform[:3, 3]
