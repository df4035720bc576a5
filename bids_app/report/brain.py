"""fNIRS channels drawn on a template brain: the fsaverage5 cortex that nilearn ships inside its wheel (read
as files with nibabel: nothing is downloaded).

- ``cortex_figure``: channel effects as patches on the inflated cortex, one row per condition or contrast,
  HbO and HbR side by side, FDR-significant channels marked with a black dot;
- ``montage_figure``: the montage on the pial cortex for a participant report: sources, detectors, the
  channels joining them and each channel's atlas label at its cortex point.

Coordinates. Inputs are MNI152 mm. The fsaverage surfaces are in MNI305 mm ("fsaverage MRI" space); points
are mapped into it with the inverse of FreeSurfer's MNI305 -> MNI152 affine (``MNI305_TO_MNI152``, FreeSurfer
wiki, CoordinateSystems). A channel's patch is made of the vertices whose pial position lies within the
footprint (10 mm by default) of the channel's cortex point; where patches overlap the nearest channel wins.

Views are orthographic: left lateral (seen from the left, front to the left), right lateral (front to the
right) and dorsal (seen from above, front up, left on the left). The dorsal view is added when the montage
covers the top of the head: some channel's cortex point has z > 50 mm and |x| < 40 mm (MNI152), i.e. lies
over the superior frontal, paracentral or superior parietal cortex, which the lateral views see edge-on.

Drawing. Each view of a surface is rasterised once per process (cached) by a small z-buffer rasteriser:
which triangle, and where in it, each pixel shows. Colouring a panel is then an indexing operation and each
view one image (``imshow``, rasterised in SVG): faster than matplotlib's 3-D polygons, and a small SVG.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bids_app.anatomy.templates import MNI305_TO_MNI152  # FreeSurfer: MNI152 = M @ MNI305 (homogeneous, mm)
from bids_app.channels import natural_key
from bids_app.report import figures

FOOTPRINT_MM = 10.0  # a channel's patch: pial vertices within this distance of its cortex point
DORSAL_MIN_Z_MM = 50.0  # the dorsal view is drawn when a channel's cortex point is above this ...
DORSAL_MAX_ABS_X_MM = 40.0  # ... and at most this far from the midline (MNI152 mm)
PIXELS_PER_MM = 3.0  # resolution of the rasterised views
HEMISPHERE_GAP_MM = 6.0  # between the two inflated hemispheres (the files centre both on one origin)
BRAIN_CENTRE_MNI152 = np.array([0.0, -20.0, 15.0])  # montage figure: a view faces the channels seen from here
SOURCE_COLOUR, DETECTOR_COLOUR = "#d62728", "#1f4fbf"
ROW_HEIGHT_IN = 1.3  # cortex figure: height of a row of brains
MONTAGE_HEIGHT_IN = 3.4  # montage figure: height of the brains (less when the views would be too wide)
MONTAGE_MAX_WIDTH_IN = 12.0
MONTAGE_MARGIN_MM = 30.0  # montage figure: a view shows its channels with this much brain around them ...
MONTAGE_MIN_SPAN_MM = 110.0  # ... and at least this much across and up
MAX_LABEL_CHARS = 16  # longer atlas labels are shortened on the montage figure
LABEL_WORDS = {"left": "L", "right": "R", "gyrus": "G", "cortex": "Ctx", "superior": "Sup", "inferior": "Inf",
               "middle": "Mid", "anterior": "Ant", "posterior": "Post", "medial": "Med", "lateral": "Lat",
               "division": "div", "frontal": "Front", "temporal": "Temp", "parietal": "Par",
               "occipital": "Occ"}
UNLABELLED = ("n/a", "nan", "outside_atlas", "unknown", "background")  # drawn in grey
LABEL_OFFSETS = ((0, 4, "center", "bottom"), (0, -4, "center", "top"), (4, 0, "left", "center"),
                 (-4, 0, "right", "center"), (4, 4, "left", "bottom"), (-4, 4, "right", "bottom"),
                 (4, -4, "left", "top"), (-4, -4, "right", "top"), (0, 11, "center", "bottom"),
                 (0, -11, "center", "top"))  # points from the cortex point, tried in turn


@dataclass(frozen=True)
class View:
    """An orthographic view: the MNI directions of the screen's x and y and of the viewer."""

    name: str
    title: str
    right: tuple[float, float, float]
    up: tuple[float, float, float]
    toward: tuple[float, float, float]
    hemispheres: tuple[str, ...]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(screen x, y in mm (n, 2), depth towards the viewer (n,)) of ``points`` (n, 3)."""
        basis = np.array([self.right, self.up, self.toward], dtype=float).T
        projected = np.asarray(points, dtype=float).reshape(-1, 3) @ basis
        return projected[:, :2], projected[:, 2]


VIEWS = {"left": View("left", "left", (0, -1, 0), (0, 0, 1), (-1, 0, 0), ("left",)),
         "right": View("right", "right", (0, 1, 0), (0, 0, 1), (1, 0, 0), ("right",)),
         "dorsal": View("dorsal", "top", (1, 0, 0), (0, 1, 0), (0, 0, 1), ("left", "right"))}


@dataclass(frozen=True)
class Template:
    """fsaverage5, both hemispheres stacked (left first): vertices in MNI305 mm, triangles, sulcal depth."""

    pial: np.ndarray  # (n, 3)
    inflated: np.ndarray  # (n, 3), the hemispheres moved apart along x
    faces: np.ndarray  # (m, 3) indices into the stacked vertices, counter-clockwise seen from outside
    sulc: np.ndarray  # (n,) FreeSurfer sulcal depth: positive in sulci
    left: np.ndarray  # (n,) bool: vertex of the left hemisphere

    def surface(self, kind: str) -> np.ndarray:
        return self.pial if kind == "pial" else self.inflated


def mni152_to_mni305(points) -> np.ndarray:
    """MNI152 mm points (n, 3) in fsaverage's MNI305 mm (the inverse of ``MNI305_TO_MNI152``)."""
    points = np.asarray(points, dtype=float).reshape(-1, 3)
    inverse = np.linalg.inv(MNI305_TO_MNI152)
    return points @ inverse[:3, :3].T + inverse[:3, 3]


def fsaverage5_dir() -> Path:
    """The folder of the fsaverage5 files inside the installed nilearn (found without importing nilearn)."""
    spec = importlib.util.find_spec("nilearn")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "fsaverage5"
        if (folder / "pial_left.gii.gz").is_file():
            return folder
    from nilearn.datasets import fetch_surf_fsaverage  # fsaverage5 ships with nilearn: only its file paths

    return Path(fetch_surf_fsaverage("fsaverage5")["pial_left"]).parent


@functools.lru_cache(maxsize=1)
def fsaverage5() -> Template:
    """The fsaverage5 template (read once per process)."""
    import nibabel

    folder = fsaverage5_dir()

    def arrays(name: str) -> list[np.ndarray]:
        return [d.data for d in nibabel.load(folder / f"{name}.gii.gz").darrays]

    pial, inflated, faces, sulc = [], [], [], []
    for hemi in ("left", "right"):
        vertices, triangles = (np.asarray(a) for a in arrays(f"pial_{hemi}"))
        vertices, triangles = vertices.astype(float), triangles.astype(np.int64)
        if _signed_volume(vertices, triangles) < 0:  # wound clockwise: make it counter-clockwise from outside
            triangles = triangles[:, ::-1]
        swollen = np.asarray(arrays(f"infl_{hemi}")[0], dtype=float).copy()
        swollen[:, 0] += (-swollen[:, 0].max() - HEMISPHERE_GAP_MM / 2 if hemi == "left"
                          else -swollen[:, 0].min() + HEMISPHERE_GAP_MM / 2)
        faces.append(triangles + sum(len(p) for p in pial))
        pial.append(vertices)
        inflated.append(swollen)
        sulc.append(np.asarray(arrays(f"sulc_{hemi}")[0], dtype=float))
    left = np.zeros(sum(len(p) for p in pial), dtype=bool)
    left[:len(pial[0])] = True
    return Template(np.vstack(pial), np.vstack(inflated), np.vstack(faces), np.concatenate(sulc), left)


def _signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def assign_vertices(vertices: np.ndarray, points: np.ndarray, *,
                    footprint_mm: float = FOOTPRINT_MM) -> np.ndarray:
    """For each vertex (n, 3), the index of the nearest of ``points`` (k, 3) when it lies within
    ``footprint_mm`` of it, else -1 (vertices and points in the same space)."""
    from scipy.spatial import cKDTree

    vertices = np.asarray(vertices, dtype=float)
    owner = np.full(len(vertices), -1, dtype=np.int64)
    points = np.asarray(points, dtype=float).reshape(-1, 3)
    if not len(points):
        return owner
    distance, nearest = cKDTree(points).query(vertices, distance_upper_bound=footprint_mm)
    inside = distance <= footprint_mm
    owner[inside] = nearest[inside]
    return owner


def channel_vertices(points_mni152: np.ndarray, *, footprint_mm: float = FOOTPRINT_MM) -> np.ndarray:
    """For each fsaverage5 vertex (both hemispheres, left first), the channel (row of ``points_mni152``) whose
    patch holds it, -1 for none: its pial position within ``footprint_mm`` of the channel's point."""
    return assign_vertices(fsaverage5().pial, mni152_to_mni305(points_mni152), footprint_mm=footprint_mm)


def nearest_vertices(points_mni152: np.ndarray) -> np.ndarray:
    """The fsaverage5 vertex whose pial position is nearest each point (MNI152 mm)."""
    from scipy.spatial import cKDTree

    return cKDTree(fsaverage5().pial).query(mni152_to_mni305(points_mni152))[1]


def covers_top(points_mni152) -> bool:
    """Whether the dorsal view is drawn: some point (a channel's cortex point, MNI152 mm) has z above
    ``DORSAL_MIN_Z_MM`` and |x| below ``DORSAL_MAX_ABS_X_MM``."""
    points = np.asarray(points_mni152, dtype=float).reshape(-1, 3)
    return bool(np.any((points[:, 2] > DORSAL_MIN_Z_MM) & (np.abs(points[:, 0]) < DORSAL_MAX_ABS_X_MM)))


@dataclass(frozen=True)
class Scene:
    """One view of one surface rasterised: the triangle each covered pixel shows and where in it."""

    view: View
    shape: tuple[int, int]  # rows, columns
    extent: tuple[float, float, float, float]  # screen mm of the image: left, right, bottom, top
    pixels: np.ndarray  # (p,) flat indices of the pixels that show the brain
    corners: np.ndarray  # (p, 3) the vertices of the triangle each shows
    weights: np.ndarray  # (p, 3) barycentric weights of the pixel's centre in it
    shade: np.ndarray  # (p,) lighting factor
    depth: np.ndarray  # (rows, columns) depth of the surface shown, -inf where none
    screen: np.ndarray  # (n, 2) every vertex on the screen, mm
    vertex_depth: np.ndarray  # (n,)

    @property
    def aspect(self) -> float:
        left, right, bottom, top = self.extent
        return (right - left) / (top - bottom)

    def visible(self, vertices: np.ndarray, *, tolerance_mm: float = 2.0) -> np.ndarray:
        """Whether each vertex is seen in this view (not hidden by the surface, not outside the image)."""
        left, _, _, top = self.extent
        x, y = self.screen[vertices].T
        columns = np.floor((x - left) * PIXELS_PER_MM).astype(int)
        rows = np.floor((top - y) * PIXELS_PER_MM).astype(int)
        inside = (rows >= 0) & (rows < self.shape[0]) & (columns >= 0) & (columns < self.shape[1])
        seen = np.zeros(len(vertices), dtype=bool)
        nearest_depth = self.depth[rows[inside], columns[inside]]
        seen[inside] = self.vertex_depth[vertices][inside] >= nearest_depth - tolerance_mm
        return seen

    def image(self, vertex_rgb: np.ndarray, *, darken: np.ndarray | None = None) -> np.ndarray:
        """RGBA image (rows, columns, 4; uint8, transparent around the brain) of per-vertex colours (n, 3,
        0-1), interpolated and shaded; ``darken`` (p,) bool: pixels drawn dark (outlines)."""
        rgb = np.einsum("pk,pkc->pc", self.weights, np.asarray(vertex_rgb, dtype=np.float32)[self.corners])
        rgb *= self.shade[:, None] * 255.0
        if darken is not None:
            rgb[darken] *= 0.3
        image = np.zeros((self.shape[0] * self.shape[1], 4), dtype=np.uint8)
        image[self.pixels, :3] = np.clip(rgb + 0.5, 0.0, 255.0)
        image[self.pixels, 3] = 255
        return image.reshape(*self.shape, 4)

    def outline(self, owner: np.ndarray) -> np.ndarray:
        """(p,) bool: the pixels on the border of a patch (``owner``: channel of each vertex, -1 none)."""
        shown = np.full(self.shape[0] * self.shape[1], -2, dtype=np.int64)  # -2: no brain
        shown[self.pixels] = owner[self.corners[np.arange(len(self.pixels)), self.weights.argmax(axis=1)]]
        shown = shown.reshape(self.shape)

        def differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # neighbours on the brain, in other patches
            return (a != b) & (a != -2) & (b != -2) & ((a >= 0) | (b >= 0))

        border = np.zeros(self.shape, dtype=bool)
        border[:, :-1] |= differ(shown[:, :-1], shown[:, 1:])  # with the pixel to the right
        border[:-1, :] |= differ(shown[:-1, :], shown[1:, :])  # with the pixel below
        return border.ravel()[self.pixels]


@functools.lru_cache(maxsize=8)
def scene(surface: str, view_name: str) -> Scene:
    """The view ``view_name`` of the fsaverage5 ``surface`` ("pial" or "inflated") rasterised (cached)."""
    template, view = fsaverage5(), VIEWS[view_name]
    vertices = template.surface(surface)
    in_view = np.zeros(len(vertices), dtype=bool)
    for hemi in view.hemispheres:
        in_view |= template.left if hemi == "left" else ~template.left
    faces = template.faces[in_view[template.faces].all(axis=1)]
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    face_normals = np.cross(b - a, c - a)
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    toward, up, right = (np.asarray(d, dtype=float) for d in (view.toward, view.up, view.right))
    faces = faces[face_normals @ toward > 0]  # the faces turned away are hidden by the (closed) surface
    screen, depth = view.project(vertices)
    used = screen[np.unique(faces)]
    low, high = used.min(axis=0) - 2.0, used.max(axis=0) + 2.0
    columns, rows = np.ceil((high - low) * PIXELS_PER_MM).astype(int)
    left, top = low[0], low[1] + rows / PIXELS_PER_MM
    uv = np.column_stack([(screen[:, 0] - left) * PIXELS_PER_MM, (top - screen[:, 1]) * PIXELS_PER_MM])
    pixels, face_of, weights, pixel_depth = rasterise(uv, depth, faces, (rows, columns))
    corners = faces[face_of].astype(np.int32)
    light = toward + 0.5 * up + 0.25 * right  # from the viewer, a little above and to the right
    facing = normals @ (light / np.linalg.norm(light))
    shade = 0.55 + 0.45 * np.clip(np.einsum("pk,pk->p", weights, facing[corners]), 0.0, 1.0)
    depth_image = np.full(rows * columns, -np.inf)
    depth_image[pixels] = pixel_depth
    extent = (left, left + columns / PIXELS_PER_MM, top - rows / PIXELS_PER_MM, top)
    return Scene(view, (rows, columns), extent, pixels.astype(np.int32), corners, weights.astype(np.float32),
                 shade.astype(np.float32), depth_image.reshape(rows, columns), screen, depth)


def rasterise(uv: np.ndarray, depth: np.ndarray, faces: np.ndarray, shape: tuple[int, int]):
    """Z-buffer rasterisation of the triangles ``faces`` (m, 3) of points at pixel coordinates ``uv`` (n, 2:
    column, row; pixel centres at +0.5) with ``depth`` (n,) towards the viewer, on an image of ``shape``
    (rows, columns). Returns the flat indices of the covered pixels (p,), the nearest triangle at each
    (index into ``faces``), the barycentric weights of the pixel's centre in it (p, 3) and its depth (p,)."""
    rows, columns = shape
    triangles = uv[faces]  # (m, 3, 2)
    low = np.maximum(np.ceil(triangles.min(axis=1) - 0.5), 0).astype(np.int64)
    high = np.minimum(np.floor(triangles.max(axis=1) - 0.5), [columns - 1, rows - 1]).astype(np.int64)
    size = np.clip(high - low + 1, 0, None)  # each triangle's bounding box of pixel centres
    count = size[:, 0] * size[:, 1]
    face = np.repeat(np.arange(len(faces)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    column = low[face, 0] + offset % size[face, 0]
    row = low[face, 1] + offset // size[face, 0]
    a, b, c = (triangles[face, k] for k in range(3))
    px, py = column + 0.5 - a[:, 0], row + 0.5 - a[:, 1]
    e1, e2 = b - a, c - a
    determinant = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        w1 = (px * e2[:, 1] - e2[:, 0] * py) / determinant
        w2 = (e1[:, 0] * py - px * e1[:, 1]) / determinant
    w0 = 1.0 - w1 - w2
    inside = (w0 >= -1e-9) & (w1 >= -1e-9) & (w2 >= -1e-9) & (determinant != 0)
    weights = np.column_stack([w0, w1, w2])[inside]
    face, flat = face[inside], (row * columns + column)[inside]
    z = np.einsum("pk,pk->p", weights, depth[faces[face]])
    order = np.lexsort((-z, flat))  # per pixel, the nearest first
    first = np.ones(len(order), dtype=bool)
    first[1:] = flat[order][1:] != flat[order][:-1]
    keep = order[first]
    return flat[keep], face[keep], weights[keep], z[keep]


def background_colours(sulc: np.ndarray) -> np.ndarray:
    """Grey per vertex from the sulcal depth: gyri light, sulci dark (n, 3)."""
    grey = 0.74 - 0.16 * np.tanh(1.5 * sulc)
    return np.repeat(grey[:, None], 3, axis=1)


def _cortex_points(positions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(pairs, MNI152 cortex points (k, 3)) of the pairs with finite cortex coordinates, in natural order."""
    if positions is None or positions.empty:
        raise ValueError("no channel positions: the brain figure needs each pair's cortex_x, _y and _z")
    table = positions.drop_duplicates("pair").sort_values("pair", key=lambda s: s.map(natural_key))
    points = table[["cortex_x", "cortex_y", "cortex_z"]].to_numpy(dtype=float)
    finite = np.isfinite(points).all(axis=1)
    if not finite.any():
        raise ValueError("no channel has cortex coordinates (all NaN)")
    return table["pair"].astype(str).to_numpy()[finite], points[finite]


def cortex_figure(cells: pd.DataFrame, positions: pd.DataFrame, *, title: str,
                  footprint_mm: float = FOOTPRINT_MM):
    """Channel effects on the inflated fsaverage5 cortex: one row per ``panel`` (condition or contrast) and,
    for each chroma (HbO, then HbR), the left and right lateral views and, when the montage covers the top of
    the head (``covers_top``), the dorsal view.

    Each channel is a patch: the vertices whose pial position lies within ``footprint_mm`` of the channel's
    cortex point (the nearest channel where patches overlap), coloured by its effect (uM) and outlined in
    dark grey; vertices outside every patch show the sulcal depth in grey (gyri light, sulci dark). A black
    dot with a white rim, at the vertex nearest the channel's cortex point, marks an FDR-significant channel.
    One colour scale per chroma, symmetric around zero, shared by its panels. ``positions``: pair, cortex_x,
    cortex_y, cortex_z (MNI152 mm; pairs without them are left out); ``cells``: pair, chroma, panel, effect,
    significant. Raises ValueError without positions or without effects of positioned pairs.
    """
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    pairs, points = _cortex_points(positions)
    cells = cells[cells["pair"].isin(pairs) & cells["chroma"].isin(list(figures.CHROMA_LABELS))]
    if cells.empty:
        raise ValueError("no effects of the positioned channels to draw")
    owner = channel_vertices(points, footprint_mm=footprint_mm)  # once: the same patches in every panel
    anchors = nearest_vertices(points)
    index = {pair: i for i, pair in enumerate(pairs)}
    panels = sorted(cells["panel"].astype(str).unique(), key=natural_key)
    chromas = [c for c in figures.CHROMA_LABELS if c in set(cells["chroma"])]
    scenes = [scene("inflated", v) for v in ["left", "right"] + (["dorsal"] if covers_top(points) else [])]
    outlines = [s.outline(owner) for s in scenes]
    background = background_colours(fsaverage5().sulc)
    cmap = matplotlib.colormaps["RdBu_r"]

    widths = [ROW_HEIGHT_IN * s.aspect for s in scenes]
    gap, block_gap, margin, row_title, footer = 0.06, 0.35, 0.2, 0.22, 0.75
    block = sum(widths) + gap * (len(widths) - 1)
    width = 2 * margin + len(chromas) * block + (len(chromas) - 1) * block_gap
    notes = textwrap.wrap(f"patch: cortex within {footprint_mm:g} mm of the channel's cortex point (nearest "
                          "channel where patches overlap); \u25cf FDR-significant; inflated fsaverage5",
                          int(width * 17))
    header = 0.82 + 0.13 * len(notes)
    height = header + len(panels) * (row_title + ROW_HEIGHT_IN) + footer
    fig = figures.new_figure(figsize=(width, height))

    def box(x: float, y: float, w: float, h: float) -> list[float]:  # inches from the top left
        return [x / width, 1 - (y + h) / height, w / width, h / height]

    for c, chroma in enumerate(chromas):
        rows = cells[cells["chroma"] == chroma]
        limit = figures.symmetric_limit(rows["effect"])
        norm = Normalize(-limit, limit)
        x0 = margin + c * (block + block_gap)
        fig.text((x0 + block / 2) / width, 1 - (header - 0.3) / height, figures.CHROMA_LABELS[chroma],
                 ha="center", va="bottom", fontsize=10, fontweight="bold")
        for s, (sc, w) in enumerate(zip(scenes, widths)):
            fig.text((x0 + sum(widths[:s]) + gap * s + w / 2) / width, 1 - (header - 0.1) / height,
                     sc.view.title, ha="center", va="bottom", fontsize=7, color="0.3")
        for r, panel in enumerate(panels):
            cell = rows[rows["panel"].astype(str) == panel].drop_duplicates("pair")
            at = [index[p] for p in cell["pair"]]
            effects = np.full(len(pairs), np.nan)
            effects[at] = cell["effect"].to_numpy(dtype=float)
            significant = np.zeros(len(pairs), dtype=bool)
            significant[at] = [bool(v) if pd.notna(v) else False for v in cell["significant"]]
            colours = background.copy()
            coloured = owner >= 0
            coloured[coloured] = np.isfinite(effects[owner[coloured]])
            colours[coloured] = cmap(norm(effects[owner[coloured]]))[:, :3]
            top = header + r * (row_title + ROW_HEIGHT_IN) + row_title
            if c == 0:
                fig.text(margin / width, 1 - (top - 0.04) / height, figures.plain_text(panel), ha="left",
                         va="bottom", fontsize=9, fontweight="bold")
            x = x0
            for sc, outline, w in zip(scenes, outlines, widths):
                ax = fig.add_axes(box(x, top, w, ROW_HEIGHT_IN), label=f"{chroma}|{panel}|{sc.view.name}")
                x += w + gap
                ax.set_axis_off()
                image = ax.imshow(sc.image(colours, darken=outline), extent=sc.extent,
                                  interpolation="antialiased")
                image.set_rasterized(True)
                marked = anchors[significant]
                marked = marked[sc.visible(marked)]
                if len(marked):
                    ax.scatter(*sc.screen[marked].T, s=11, c="k", edgecolors="white", linewidths=0.5,
                               zorder=3)
                ax.set_xlim(sc.extent[:2])
                ax.set_ylim(sc.extent[2:])
        bar_width = min(block * 0.6, 3.0)
        cax = fig.add_axes(box(x0 + (block - bar_width) / 2, height - footer + 0.12, bar_width, 0.1))
        bar = fig.colorbar(ScalarMappable(norm, cmap), cax=cax, orientation="horizontal")
        bar.set_label(f"{figures.CHROMA_LABELS[chroma]} effect ({figures.UNITS})", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    fig.text(0.5, 1 - 0.08 / height, figures.plain_text(title), ha="center", va="top", fontsize=10)
    fig.text(0.5, 1 - 0.3 / height, "\n".join(notes), ha="center", va="top", fontsize=7, color="0.3")
    return fig


def short_label(label: str, *, max_chars: int = MAX_LABEL_CHARS) -> str:
    """An atlas label of at most ``max_chars``: common anatomical words abbreviated (``LABEL_WORDS``: "Left"
    -> "L", "Superior" -> "Sup"), then every word cut to 4 letters, then the end cut (an ellipsis); labels
    short enough are unchanged."""
    label = str(label)
    if len(label) <= max_chars:
        return label
    words = re.split(r"([_\-\s,/()]+)", label)  # words at even positions, separators at odd ones
    text = "".join(LABEL_WORDS.get(w.lower(), w) if i % 2 == 0 else w for i, w in enumerate(words))
    if len(text) > max_chars:
        text = "".join(LABEL_WORDS.get(w.lower(), w[:4]) if i % 2 == 0 else w for i, w in enumerate(words))
    return text if len(text) <= max_chars else text[:max_chars - 1] + "\u2026"


def best_views(points_mni152, views: list[str]) -> np.ndarray:
    """For each point (MNI152 mm), the one of ``views`` that faces it best: the largest cosine between the
    view's direction and the point's direction from ``BRAIN_CENTRE_MNI152``."""
    outward = np.asarray(points_mni152, dtype=float).reshape(-1, 3) - BRAIN_CENTRE_MNI152
    outward /= np.maximum(np.linalg.norm(outward, axis=1, keepdims=True), 1e-9)
    towards = np.array([VIEWS[v].toward for v in views], dtype=float)
    return np.array(views)[np.argmax(outward @ towards.T, axis=1)]


@dataclass(frozen=True)
class _Channel:
    pair: str
    ends: tuple[str, ...]  # its optodes that have positions
    cortex: np.ndarray | None  # MNI152 mm
    label: str
    reference: np.ndarray  # MNI152 mm: the cortex point, else the optodes' midpoint on the scalp


def _montage_channels(anatomy: pd.DataFrame, scalp: dict[str, np.ndarray]) -> list[_Channel]:
    anatomy = anatomy.drop_duplicates("pair").sort_values("pair", key=lambda s: s.map(natural_key))
    labels = anatomy["label"] if "label" in anatomy else pd.Series([""] * len(anatomy))
    points = anatomy[["cortex_x", "cortex_y", "cortex_z"]].to_numpy(dtype=float)
    channels = []
    for pair, cortex, label in zip(anatomy["pair"].astype(str), points, labels):
        ends = tuple(n for n in pair.split("_") if n in scalp)
        finite = bool(np.isfinite(cortex).all())
        if not finite and not ends:
            continue
        reference = cortex if finite else np.mean([scalp[n] for n in ends], axis=0)
        label = "" if pd.isna(label) else str(label)
        channels.append(_Channel(pair, ends, cortex if finite else None, label, reference))
    return channels


def montage_figure(anatomy: pd.DataFrame, optodes: pd.DataFrame, *, title: str):
    """The montage on the pial fsaverage5 cortex: sources (red circles) and detectors (blue squares), each at
    the fsaverage5 pial vertex nearest its scalp position (a nearest-point projection like the one of the
    channels' cortex points onto the MNI152 grey matter, so that labels fall near their lines), a line for each
    channel (source to detector), and each
    channel's atlas label (``short_label``) beside its cortex point (a small dot), moved around the point so
    as not to cover another label or an optode.

    Views: left and right lateral, and dorsal when the montage covers the top of the head (``covers_top``);
    each channel is drawn once, in the view that faces it best (``best_views``), and a view is drawn when it
    holds a channel, cropped to its channels with ``MONTAGE_MARGIN_MM`` of brain around them. The pial
    surface rather than the inflated one: optodes, lines and cortex points keep their true positions, which
    inflating would move, and gyri and sulci read as on an MRI. ``anatomy``: pair, cortex_x, cortex_y,
    cortex_z (MNI152 mm), label; ``optodes``: name, kind ("source"/"detector"), x, y, z (MNI152 mm, scalp).
    Raises ValueError when there is neither a positioned channel nor an optode.
    """
    from matplotlib.lines import Line2D
    from matplotlib.transforms import Bbox

    optodes = optodes.dropna(subset=["x", "y", "z"]).drop_duplicates("name")
    scalp = {str(n): p for n, p in zip(optodes["name"], optodes[["x", "y", "z"]].to_numpy(dtype=float))}
    kinds = {str(n): str(k).lower() for n, k in zip(optodes["name"], optodes["kind"])}
    channels = _montage_channels(anatomy, scalp)
    if not channels and not scalp:
        raise ValueError("nothing to draw: no channel with a position and no optode")
    template = fsaverage5()
    names = sorted(scalp, key=natural_key)
    on_cortex = dict(zip(names, template.pial[nearest_vertices(np.array([scalp[n] for n in names]))]))
    cortex_points = np.array([c.cortex for c in channels if c.cortex is not None]).reshape(-1, 3)
    available = ["left", "right"] + (["dorsal"] if covers_top(cortex_points) else [])
    placed = dict(zip([c.pair for c in channels], best_views([c.reference for c in channels], available)))
    loose = {} if channels else dict(zip(names, best_views([scalp[n] for n in names], available)))
    panels = []  # per view drawn: scene, channels, optodes, and crop (screen mm: left, right, bottom, top)
    for name in [v for v in available if v in set(placed.values()) | set(loose.values())]:
        sc = scene("pial", name)
        shown = [c for c in channels if placed[c.pair] == name]
        drawn = sorted({n for c in shown for n in c.ends} | {n for n, v in loose.items() if v == name},
                       key=natural_key)
        located = [on_cortex[n] for n in drawn] + [mni152_to_mni305(c.cortex)[0] for c in shown
                                                   if c.cortex is not None]
        panels.append((sc, shown, drawn, _crop(sc, sc.view.project(np.reshape(located, (-1, 3)))[0])))
    colours = background_colours(template.sulc)

    aspects = [(crop[1] - crop[0]) / (crop[3] - crop[2]) for *_, crop in panels]
    gap, margin, header, footer = 0.15, 0.15, 0.6, 0.35
    brain_height = min(MONTAGE_HEIGHT_IN,
                       (MONTAGE_MAX_WIDTH_IN - 2 * margin - gap * (len(panels) - 1)) / sum(aspects))
    widths = [brain_height * a for a in aspects]
    width = max(2 * margin + sum(widths) + gap * (len(widths) - 1), 4.5)
    height = header + brain_height + footer
    fig = figures.new_figure(figsize=(width, height))
    renderer = fig.canvas.get_renderer()
    x = (width - sum(widths) - gap * (len(widths) - 1)) / 2
    for (sc, shown, drawn, crop), w in zip(panels, widths):
        ax = fig.add_axes([x / width, footer / height, w / width, brain_height / height], label=sc.view.name)
        x += w + gap
        view = sc.view
        ax.set_axis_off()
        ax.imshow(sc.image(colours), extent=sc.extent, interpolation="antialiased").set_rasterized(True)
        ax.set_xlim(crop[:2])
        ax.set_ylim(crop[2:])
        figures.axes_title(ax, view.title, fontsize=8, pad=2, color="0.3")
        for channel in shown:
            if len(channel.ends) == 2:
                ends = view.project(np.array([on_cortex[n] for n in channel.ends]))[0]
                ax.plot(ends[:, 0], ends[:, 1], color="0.1", linewidth=1.0, alpha=0.8, zorder=2)
        taken = []  # display boxes of the optodes and their names: the labels are placed around them
        for name in drawn:
            (px, py), = view.project(on_cortex[name])[0]
            source = kinds.get(name) == "source"
            colour = SOURCE_COLOUR if source else DETECTOR_COLOUR
            ax.scatter([px], [py], s=30, marker="o" if source else "s", color=colour, edgecolors="white",
                       linewidths=0.7, zorder=4)
            text = ax.annotate(figures.plain_text(name), (px, py), xytext=(3.5, 3.5),
                               textcoords="offset points", fontsize=6, color=colour, fontweight="bold",
                               zorder=5, bbox=_backdrop())
            centre, radius = ax.transData.transform((px, py)), 3.5 * fig.dpi / 72
            taken += [text.get_window_extent(renderer), Bbox([centre - radius, centre + radius])]
        labelled = [c for c in shown if c.cortex is not None and c.label]
        if labelled:
            points = view.project(mni152_to_mni305([c.cortex for c in labelled]))[0]
            ax.scatter(*points.T, s=4, color="k", zorder=5, linewidths=0)
            _place_labels(ax, points, [c.label for c in labelled], taken=taken)
    handles = [Line2D([], [], marker="o", linestyle="", color=SOURCE_COLOUR, label="source"),
               Line2D([], [], marker="s", linestyle="", color=DETECTOR_COLOUR, label="detector"),
               Line2D([], [], color="0.1", label="channel"),
               Line2D([], [], marker=".", linestyle="", color="k", label="cortex point, atlas label")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=7, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.text(0.5, 1 - 0.08 / height, figures.plain_text(title), ha="center", va="top", fontsize=10)
    fig.text(0.5, 1 - 0.28 / height, "pial fsaverage5; optodes at the cortex nearest their scalp positions",
             ha="center", va="top", fontsize=7, color="0.3")
    return fig


def _crop(sc: Scene, points: np.ndarray) -> tuple[float, float, float, float]:
    """The part of a view shown on the montage figure: the ``points`` (screen mm) with a margin of
    ``MONTAGE_MARGIN_MM``, at least ``MONTAGE_MIN_SPAN_MM`` across and up, within the brain's image."""
    left, right, bottom, top = sc.extent
    if not len(points):
        return sc.extent
    low, high = points.min(axis=0) - MONTAGE_MARGIN_MM, points.max(axis=0) + MONTAGE_MARGIN_MM
    grow = np.clip(MONTAGE_MIN_SPAN_MM - (high - low), 0, None) / 2
    low, high = np.maximum(low - grow, [left, bottom]), np.minimum(high + grow, [right, top])
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


def _backdrop() -> dict:
    """A pale box behind a text on the brain (a stroked halo would turn the text into paths in SVG)."""
    return {"boxstyle": "round,pad=0.12", "facecolor": "white", "alpha": 0.7, "linewidth": 0}


def _place_labels(ax, points: np.ndarray, labels: list[str], *, taken: list) -> None:
    """Each label beside its point, at the first of ``LABEL_OFFSETS`` where it covers none of the display
    boxes ``taken`` nor a label placed before (at the first offset when none is free); ``UNLABELLED`` grey."""
    renderer = ax.figure.canvas.get_renderer()
    taken = list(taken)
    for (x, y), label in zip(points, labels):
        text = ax.annotate(figures.plain_text(short_label(label)), (x, y), xytext=(0, 0),
                           textcoords="offset points", fontsize=6, zorder=6, bbox=_backdrop(),
                           color="0.4" if label.strip().lower() in UNLABELLED else "k")
        for dx, dy, ha, va in (*LABEL_OFFSETS, LABEL_OFFSETS[0]):
            text.set_position((dx, dy))
            text.set_horizontalalignment(ha)
            text.set_verticalalignment(va)
            extent = text.get_window_extent(renderer)
            if not any(extent.overlaps(other) for other in taken):
                break
        taken.append(extent)
