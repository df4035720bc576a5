"""Regions of interest: groups of long source-detector pairs, from a file (listed pairs, or atlas labels that each
recording's own registration resolves to pairs) or the montage."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bids_app.channels import natural_key
from bids_app.errors import RecordingError, UsageError
from bids_app.first_level.preprocessing import Haemoglobin
from bids_app.user_files import read_json_file

_PAIR = re.compile(r"^S\d+_D\d+$")
NON_HEAD_COORDINATE_SYSTEMS = {"other", "", "n/a"}  # coordsystem values that are not head coordinates


MIN_SPECIFICITY = 0.5  # an anatomical ROI's default: pairs with at least half their sensitivity in its labels


def read_roi_file(path: str | Path) -> dict[str, list[str] | dict]:
    """``{"name": ["S1_D1", ...]}`` or ``{"name": {"atlas": "aal", "labels": ["Precentral_L"],
    "min_specificity": 0.3}}`` (the two kinds may be mixed) from a JSON file, checked for form and atlas labels (not
    for a montage); anatomical regions come back with their ``min_specificity`` filled in."""
    rois = read_json_file(path, what="ROI file")
    if not isinstance(rois, dict) or not rois:
        raise UsageError(f'{path}: the ROI file must be a JSON object {{"name": ["S1_D1", ...]}} or '
                         '{"name": {"atlas": "aal", "labels": ["Precentral_L"]}}')
    checked = {}
    for name, pairs in rois.items():
        if isinstance(pairs, dict):
            checked[name] = _anatomical_region(name, pairs, path=path)
            continue
        if not isinstance(pairs, list) or not pairs:
            raise UsageError(f"{path}: ROI {name!r} must be a non-empty list of pairs such as \"S1_D1\" or an "
                             'object {"atlas": ..., "labels": [...]}')
        wrong = [p for p in pairs if not isinstance(p, str) or not _PAIR.match(p)]
        if wrong:
            raise UsageError(f"{path}: ROI {name!r}: {wrong[0]!r} is not a source-detector pair such as \"S1_D1\"")
        checked[name] = pairs
    return checked


def _anatomical_region(name: str, region: dict, *, path) -> dict:
    from bids_app.anatomy import ATLASES
    from bids_app.anatomy.templates import atlas_labels
    from bids_app.user_files import closest

    where = f"{path}: ROI {name!r}"
    unknown = sorted(set(region) - {"atlas", "labels", "min_specificity"})
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (an anatomical ROI has atlas, labels and "
                         "min_specificity)")
    atlas = region.get("atlas")
    if atlas not in ATLASES:
        raise UsageError(f"{where}: atlas {atlas!r} is not one of {', '.join(ATLASES)}")
    labels = region.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(label, str) for label in labels):
        raise UsageError(f"{where}: labels must be a non-empty list of {atlas} label names")
    known = list(atlas_labels(atlas).values())
    if len(set(labels)) < len(labels):
        raise UsageError(f"{where}: a label is listed twice")
    for label in labels:
        if label not in known:
            suggestion = closest(label, known)
            raise UsageError(f"{where}: {label!r} is not a label of the atlas {atlas}"
                             + (f"; did you mean {suggestion!r}?" if suggestion else ""))
    threshold = region.get("min_specificity", MIN_SPECIFICITY)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise UsageError(f"{where}: min_specificity must be a number in (0, 1], got {threshold!r}")
    return {"atlas": atlas, "labels": labels, "min_specificity": float(threshold)}


def resolve_rois(*, roi_definitions: dict | None, long_pairs: list[str], haemo: Haemoglobin,
                 coordinate_system: str | None, source: str, anatomy=None, warn=None) -> dict[str, list[str]]:
    """ROI name -> good long pairs of this recording that it includes.

    ``long_pairs`` are all long pairs of the montage (good or bad): a listed pair outside them
    is an error; bad pairs are simply left out. An anatomical ROI takes the long pairs whose shares of its
    labels add up to at least its min_specificity, from ``anatomy`` (RecordingAnatomy, None without positions).
    """
    good_long = {p for p, r in zip(haemo.pairs, haemo.role) if r == "long"}
    if roi_definitions is not None:
        resolved = {}
        for name, pairs in roi_definitions.items():
            if isinstance(pairs, dict):
                pairs = anatomical_members(name, pairs, anatomy=anatomy, long_pairs=long_pairs, source=source)
                if warn is not None and not any(p in good_long for p in pairs):
                    warn(f"ROI {name!r}: its pairs ({', '.join(pairs)}) are all bad: no estimate")
            unknown = [p for p in pairs if p not in long_pairs]
            if unknown:
                raise RecordingError(
                    f"{source}: ROI {name!r} lists {', '.join(unknown)}, not a long channel of this "
                    f"recording; long channels are: {', '.join(sorted(long_pairs, key=natural_key))}"
                )
            resolved[name] = [p for p in pairs if p in good_long]
        return resolved
    long_mask = haemo.select(role="long")
    pairs = sorted(good_long, key=natural_key)
    if (coordinate_system or "").strip().lower() in NON_HEAD_COORDINATE_SYSTEMS:
        return {"all_long_channels": pairs}
    x = {p: x for p, x, keep in zip(haemo.pairs, haemo.x_position, long_mask) if keep}
    return {
        "left_hemisphere": [p for p in pairs if x[p] < 0],
        "right_hemisphere": [p for p in pairs if x[p] > 0],
    }


def anatomical_members(name: str, region: dict, *, anatomy, long_pairs: list[str], source: str) -> list[str]:
    """The long pairs (good or bad) whose shares of ``region``'s labels add up to its min_specificity."""
    from bids_app.anatomy.localise import localise

    if anatomy is None:
        raise RecordingError(f"{source}: ROI {name!r} names atlas labels, but the recording has no 3-D head "
                             "positions to place its channels on the brain")
    found = localise(anatomy.registration.optodes, long_pairs, atlas=region["atlas"])
    long_pairs = [p for p in long_pairs if p in found]  # those whose optodes have positions
    share = {pair: sum(found[pair].shares.get(label, 0.0) for label in region["labels"]) for pair in long_pairs}
    missing = [label for label in region["labels"] if not any(found[p].shares.get(label, 0.0) > 0 for p in long_pairs)]
    if missing:
        raise RecordingError(f"{source}: ROI {name!r}: no channel of this recording reaches the {region['atlas']} "
                             f"label(s) {', '.join(missing)}")
    members = [p for p in sorted(long_pairs, key=natural_key) if share[p] >= region["min_specificity"]]
    if not members:
        best = max(long_pairs, key=lambda p: share[p])
        raise RecordingError(f"{source}: ROI {name!r}: no long channel has {region['min_specificity']:g} of its "
                             f"sensitivity in {', '.join(region['labels'])} (the most is {share[best]:.2f}, "
                             f"{best}); lower min_specificity or name other labels")
    return members


def roi_signal_indices(rois: dict[str, list[str]], haemo: Haemoglobin) -> dict[tuple[str, str], np.ndarray]:
    """(roi, chroma) -> column indices of haemo.data to average."""
    indices = {}
    for name, pairs in rois.items():
        for chroma in ("hbo", "hbr"):
            indices[(name, chroma)] = np.array(
                [i for i, (p, c) in enumerate(zip(haemo.pairs, haemo.chroma)) if p in pairs and c == chroma],
                dtype=int,
            )
    return indices
