"""Each source-detector pair on the brain: its scalp point, its projection on the cortex, and the atlas labels
of its sensitivity volume with their shares (the specificity, in the style of the fOLD toolbox)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bids_app.anatomy import templates
from bids_app.anatomy.sensitivity import TISSUE, local_frame, pmdf

OUTSIDE = "outside_atlas"  # grey matter of the sensitivity volume that the atlas does not label
GREY_MATTER_THRESHOLD = 0.5  # the cortex: grey-matter probability at least this
REACH_MM = 30.0  # voxels within half the separation plus this of the scalp point enter the shares
PROJECTION = ("nearest grey matter: the channel's scalp point (the midpoint of source and detector on the template "
              f"scalp) projected to the nearest voxel of the MNI152 2009 grey matter (probability >= "
              f"{GREY_MATTER_THRESHOLD}, 2-mm grid)")


@dataclass(frozen=True)
class PairAnatomy:
    """Where one pair is and what it samples."""

    scalp: np.ndarray  # (3,) mm MNI152
    cortex: np.ndarray  # (3,)
    shares: dict[str, float]  # label -> share of the grey-matter sensitivity, summing to 1 ({} when none)

    @property
    def depth_mm(self) -> float:
        return float(np.linalg.norm(self.cortex - self.scalp))

    def ranked(self) -> list[tuple[str, float]]:
        return sorted(self.shares.items(), key=lambda item: (-item[1], item[0]))


def localise(optodes: dict[str, tuple[float, float, float]], pairs: list[str], *,
             atlas: str | None) -> dict[str, PairAnatomy]:
    """Pair -> its anatomy, from optode positions in MNI152 mm on the template scalp, for the ``pairs`` whose
    optodes both have a position; ``atlas`` None: positions only. Cached per process: a montage seen before is
    computed once."""
    key = tuple(sorted((name, tuple(position)) for name, position in optodes.items()))
    return _localise(key, tuple(pairs), atlas)


@functools.lru_cache(maxsize=64)
def _localise(optodes: tuple, pairs: tuple[str, ...], atlas: str | None) -> dict[str, PairAnatomy]:
    positions = {name: np.array(xyz, float) for name, xyz in optodes}
    scalp = templates.scalp_surface()
    tree, grey = templates.grey_matter_tree(GREY_MATTER_THRESHOLD)
    grid = templates.atlas_grid(atlas) if atlas else None
    found = {}
    for pair in pairs:
        if not all(name in positions for name in pair.split("_")):
            continue
        source, detector = (positions[n] for n in pair.split("_"))
        nearest = templates.scalp_tree().query((source + detector) / 2)[1]
        point, normal = scalp.vertices[nearest], scalp.normals[nearest]
        cortex = grey[tree.query(point)[1]]
        shares = (label_shares(grid, scalp_point=point, normal=normal, source=source, detector=detector)
                  if grid is not None else {})
        found[pair] = PairAnatomy(point, cortex, shares)
    return found


def label_shares(grid: templates.Grid, *, scalp_point: np.ndarray, normal: np.ndarray, source: np.ndarray,
                 detector: np.ndarray) -> dict[str, float]:
    """Label -> its share of the channel's sensitivity in the grey matter: the PMDF times the grey-matter
    probability, summed over the voxels of each label (OUTSIDE: grey matter without a label), over the total."""
    rotation, separation = local_frame(scalp_point=scalp_point, normal=normal, source=source, detector=detector)
    reach = separation / 2 + REACH_MM
    step = grid.affine[0, 0]
    lower = np.floor(np.linalg.solve(grid.affine[:3, :3], scalp_point - reach - grid.affine[:3, 3])).astype(int)
    upper = lower + int(np.ceil(2 * reach / step)) + 2
    shape = np.array(grid.grey_matter.shape)
    lower, upper = np.clip(lower, 0, shape), np.clip(upper, 0, shape)
    box = tuple(slice(a, b) for a, b in zip(lower, upper))
    grey = grid.grey_matter[box]
    labels = grid.labels[box]
    indices = np.argwhere(grey > 0)
    if not len(indices):
        return {}
    points = grid.coordinates((indices + lower).astype(float))
    local = (points - scalp_point) @ rotation.T
    near = np.linalg.norm(local, axis=1) <= reach
    weights = pmdf(local, separation_mm=max(separation, 1.0)) * grey[tuple(indices.T)] * near
    total = weights.sum()
    if not total > 0:
        return {}
    sums = np.bincount(labels[tuple(indices.T)], weights=weights)
    shares = {}
    for index in np.flatnonzero(sums):
        name = OUTSIDE if index == 0 else grid.names[int(index)]
        shares[name] = shares.get(name, 0.0) + float(sums[index] / total)
    return shares


def anatomy_table(found: dict[str, PairAnatomy], *, ch_names: list[str],
                  labelled: set[str] | None = None) -> pd.DataFrame:
    """One row per channel (``ch_names``, e.g. "S1_D1 hbo"): pair, scalp and cortex MNI152 x/y/z (mm), depth
    (mm), top label and its specificity, the next label and its specificity ("n/a" without an atlas, and for
    pairs not in ``labelled`` when it is given)."""
    from bids_app.channels import channel_pair

    rows = []
    for name in ch_names:
        pair = channel_pair(name)
        anatomy = found.get(pair)
        row = {"ch_name": name, "pair": pair}
        if anatomy is None:
            rows.append(row)
            continue
        for prefix, xyz in (("scalp", anatomy.scalp), ("cortex", anatomy.cortex)):
            row.update({f"{prefix}_{axis}": round(float(v), 1) for axis, v in zip("xyz", xyz)})
        row["depth_mm"] = round(anatomy.depth_mm, 1)
        ranked = (anatomy.ranked() if labelled is None or pair in labelled else []) + [(None, None)] * 2
        for prefix, (label, share) in (("", ranked[0]), ("next_", ranked[1])):
            row[f"{prefix}label"] = label
            row[f"{prefix}specificity"] = None if share is None else round(share, 3)
        rows.append(row)
    columns = ["ch_name", "pair", "scalp_x", "scalp_y", "scalp_z", "cortex_x", "cortex_y", "cortex_z", "depth_mm",
               "label", "specificity", "next_label", "next_specificity"]
    return pd.DataFrame(rows).reindex(columns=columns)


def shares_table(found: dict[str, PairAnatomy]) -> pd.DataFrame:
    """Every pair's labels with their shares (largest first; shares below 0.0005 left out)."""
    from bids_app.channels import natural_key

    rows = [{"pair": pair, "label": label, "share": round(share, 4)}
            for pair in sorted(found, key=natural_key) for label, share in found[pair].ranked() if share >= 0.0005]
    return pd.DataFrame(rows, columns=["pair", "label", "share"])


def sensitivity_record() -> dict:
    return {**TISSUE.record(), "ReachMm": REACH_MM, "GreyMatterWeighting": templates.GREY_MATTER_TEMPLATE}
