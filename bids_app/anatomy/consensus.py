"""The group's anatomy of one task: each optode at the median of its MNI152 positions over the recordings that
entered the group tables, and the channels localised and labelled from those positions."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from bids_app.anatomy.localise import PROJECTION, anatomy_table, localise
from bids_app.anatomy.recording import COLUMNS, TEMPLATE, atlas_record
from bids_app.channels import natural_key


def consensus_anatomy(sidecars: dict[str, dict], *, pairs: list[str]) -> tuple[pd.DataFrame, dict, list[str]] | None:
    """(table, sidecar, notes) from the recordings' anatomy sidecars (recording -> its JSON) for ``pairs``;
    None when no recording has anatomy."""
    usable = {name: s for name, s in sidecars.items() if s.get("OptodePositions")}
    if not usable:
        return None
    notes = []
    atlases = Counter(s.get("Atlas", "none") for s in usable.values())
    atlas = atlases.most_common(1)[0][0]
    if len(atlases) > 1:
        notes.append(f"participant anatomy made with several atlases ({', '.join(sorted(atlases))}): the group "
                     f"table uses {atlas}")
    positions: dict[str, list] = {}
    for sidecar in usable.values():
        for optode, xyz in sidecar["OptodePositions"].items():
            positions.setdefault(optode, []).append(xyz)
    optodes = {name: tuple(round(float(v), 2) for v in np.median(np.array(xyz), axis=0))
               for name, xyz in positions.items()}
    found = localise(optodes, sorted(set(pairs)), atlas=None if atlas == "none" else atlas)
    pairs = sorted(found, key=natural_key)
    table = anatomy_table(found, ch_names=[f"{p} {c}" for p in pairs for c in ("hbo", "hbr")])
    counts = {name: len(xyz) for name, xyz in positions.items()}
    table.insert(2, "n_recordings", [min(counts[o] for o in p.split("_")) for p in table["pair"]])
    sidecar = {
        "Description": "The group's channel positions and labels: each optode at the median of its MNI152 positions "
                       "over the recordings that entered the group tables, then localised and labelled as at the "
                       "participant level. Template anatomy, not the participants' own MRIs.",
        "Recordings": sorted(usable),
        "Registration": sorted({s.get("Registration", "n/a") for s in usable.values()}),
        "Fiducials": sorted({s.get("Fiducials", "n/a") for s in usable.values()}),
        "CoordinateSystem": "MNI152 (mm)", "Template": TEMPLATE,
        "CortexProjection": PROJECTION, "Atlas": atlas, **(atlas_record(atlas) if atlas != "none" else {}),
        "Warnings": notes,
        "OptodePositions": {name: list(xyz) for name, xyz in sorted(optodes.items(), key=lambda i: natural_key(i[0]))},
        "OptodePositionsDescription": "the median over the recordings of each optode's MNI152 position (mm)",
        "Columns": {**COLUMNS, "n_recordings": "Recordings whose positions of both optodes entered the medians"},
    }
    return table, sidecar, notes
