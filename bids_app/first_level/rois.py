"""Regions of interest: groups of long source-detector pairs, from a file or the montage."""

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


def read_roi_file(path: str | Path) -> dict[str, list[str]]:
    """``{"name": ["S1_D1", ...]}`` from a JSON file, checked for form (not for a montage)."""
    rois = read_json_file(path, what="ROI file")
    if not isinstance(rois, dict) or not rois:
        raise UsageError(f'{path}: the ROI file must be a JSON object {{"name": ["S1_D1", ...]}}')
    for name, pairs in rois.items():
        if not isinstance(pairs, list) or not pairs:
            raise UsageError(f"{path}: ROI {name!r} must be a non-empty list of pairs such as \"S1_D1\"")
        wrong = [p for p in pairs if not isinstance(p, str) or not _PAIR.match(p)]
        if wrong:
            raise UsageError(f"{path}: ROI {name!r}: {wrong[0]!r} is not a source-detector pair such as \"S1_D1\"")
    return rois


def resolve_rois(*, roi_definitions: dict[str, list[str]] | None, long_pairs: list[str],
                 haemo: Haemoglobin, coordinate_system: str | None, source: str) -> dict[str, list[str]]:
    """ROI name -> good long pairs of this recording that it includes.

    ``long_pairs`` are all long pairs of the montage (good or bad): a listed pair outside them
    is an error; bad pairs are simply left out.
    """
    good_long = {p for p, r in zip(haemo.pairs, haemo.role) if r == "long"}
    if roi_definitions is not None:
        resolved = {}
        for name, pairs in roi_definitions.items():
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
