"""One recording's anatomy, in memory: its optodes registered to MNI152 and each pair localised and labelled;
its tables and their sidecar. Nothing is read or written here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from bids_app.anatomy.localise import (PROJECTION, PairAnatomy, anatomy_table, localise, sensitivity_record,
                                        shares_table)
from bids_app.anatomy.registration import Registration

TEMPLATE = "MNI152NLin2009aSym (nilearn's grey matter); fsaverage scalp and fiducials (mne)"


@dataclass(frozen=True)
class RecordingAnatomy:
    registration: Registration
    atlas: str | None  # None: positions only (--atlas none)
    pairs: dict[str, PairAnatomy]

    def table(self, ch_names: list[str], *, labelled: set[str]) -> pd.DataFrame:
        """The anatomy table of ``ch_names``; atlas labels only for the pairs in ``labelled`` (the long ones:
        a short channel samples the scalp, not the cortex)."""
        return anatomy_table(self.pairs, ch_names=ch_names, labelled=labelled)

    def shares(self, *, labelled: set[str]) -> pd.DataFrame:
        return shares_table({pair: found for pair, found in self.pairs.items() if pair in labelled})

    def record(self) -> dict:
        """What the design sidecar says of the anatomy (read by the methods paragraph)."""
        return {"Registration": self.registration.method, "Fiducials": self.registration.fiducials,
                "Atlas": self.atlas or "none"}


def recording_anatomy(info, *, coordinate_system: str | None, landmarks: dict | None, atlas: str | None,
                      warn: Callable[[str], None]) -> RecordingAnatomy | None:
    """The anatomy of the recording whose channels (with positions) are in the MNE ``info``; None, with one
    warning, when its positions are not 3-D head positions."""
    import numpy as np

    from bids_app.anatomy.registration import NoHeadPositions, optode_positions, register
    from bids_app.channels import channel_pair

    try:
        registration = register(optode_positions(info), coordinate_system=coordinate_system,
                                landmarks={k: np.asarray(v) for k, v in landmarks.items()} if landmarks else None)
    except NoHeadPositions as exc:
        warn(f"no anatomy ({exc}): channel positions, atlas labels and brain figures are n/a")
        return None
    if registration.missing:
        warn(f"optode(s) {', '.join(registration.missing)} without a position (all zero or not finite): their "
             "channels have no anatomy (n/a)")
    pairs = sorted({channel_pair(name) for name in info["ch_names"]})
    return RecordingAnatomy(registration, atlas, localise(registration.optodes, pairs, atlas=atlas))


COLUMNS = {
    "ch_name": "Channel (as in the channel, contrast and waveform tables)",
    "pair": "Source-detector pair",
    "scalp_x": "MNI152 x (mm) of the channel's scalp point: the midpoint of its source and detector, on the "
               "template scalp",
    "scalp_y": "MNI152 y (mm) of the scalp point", "scalp_z": "MNI152 z (mm) of the scalp point",
    "cortex_x": "MNI152 x (mm) of the channel's projection on the cortex (see CortexProjection)",
    "cortex_y": "MNI152 y (mm) of the cortex point", "cortex_z": "MNI152 z (mm) of the cortex point",
    "depth_mm": "Distance (mm) from the scalp point to the cortex point",
    "label": "Atlas label with the largest share of the channel's grey-matter sensitivity (outside_atlas: grey "
             "matter that the atlas does not label); n/a for short channels (they sample the scalp) and without "
             "an atlas",
    "specificity": "That label's share of the channel's grey-matter sensitivity (0-1)",
    "next_label": "The label with the second largest share",
    "next_specificity": "Its share",
}


def anatomy_sidecar(anatomy: RecordingAnatomy, *, shares_file: str | None) -> dict:
    """The JSON sidecar of the anatomy table: frame, registration, template, atlas (version, licence),
    sensitivity model, and the optodes' MNI152 positions (what the group level's consensus is built from)."""
    registration = anatomy.registration
    sidecar = {
        "Description": "Where each channel is on the brain: its scalp point and its projection on the cortex in "
                       "MNI152 coordinates, and the atlas labels of its sensitivity volume. Template anatomy, not "
                       "the participant's own MRI.",
        "NIRSCoordinateSystem": registration.frame,
        "Registration": registration.method,
        "Fiducials": registration.fiducials,
        "FiducialsDescription": "recording: the NAS, LPA and RPA of coordsystem.json; template: fsaverage's (the "
                                "positions are taken to be in fsaverage's head frame); n/a: positions given in an "
                                "MNI frame",
        "ScalpDistanceMedianMm": registration.scalp_distance_mm,
        "ScalpDistanceDescription": "median distance by which the registered optodes were moved onto the template "
                                    "scalp",
        "CoordinateSystem": "MNI152 (mm)",
        "Template": TEMPLATE,
        "CortexProjection": PROJECTION,
        "Atlas": anatomy.atlas or "none",
        "OptodePositions": {name: list(xyz) for name, xyz in registration.optodes.items()},
        "OptodePositionsDescription": "each optode's MNI152 position (mm) on the template scalp",
        "OptodesWithoutPosition": list(registration.missing),
        "Columns": COLUMNS,
    }
    if anatomy.atlas:
        sidecar.update({**atlas_record(anatomy.atlas), "LabelShares": shares_file})
    return sidecar


def atlas_record(atlas: str) -> dict:
    """What the anatomy sidecars say of an atlas and the sensitivity model that weighted its labels."""
    from bids_app.anatomy import templates

    source, licence = templates.ATLAS_SOURCES[atlas]
    return {"AtlasSource": source, "AtlasLicence": licence, "AtlasVersion": templates.atlas_version(),
            "AtlasLabelReachMm": templates.LABEL_REACH_MM,
            "AtlasLabelReachDescription": "grey matter of the template that the atlas leaves unlabelled takes the "
                                          "nearest label within this distance (the atlases were drawn on other "
                                          "MNI152 brains)",
            "SensitivityModel": sensitivity_record()}


def shares_sidecar(*, atlas: str) -> dict:
    return {
        "Description": f"Each long pair's {atlas} labels with their shares of its grey-matter sensitivity (the PMDF "
                       "times the grey-matter probability, summed per label over the total; shares below 0.0005 "
                       "left out)",
        "Columns": {"pair": "Source-detector pair", "label": "Atlas label (outside_atlas: grey matter without one)",
                    "share": "Share of the pair's grey-matter sensitivity (0-1; a pair's shares add up to 1)"},
    }
