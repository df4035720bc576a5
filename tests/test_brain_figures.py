"""Channels on the fsaverage5 brain (bids_app.report.brain): the vertex assignment, the views, and the cortex
and montage figures of a synthetic montage of 20 pairs over C3 and C4."""

from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from bids_app.report import brain, figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
C3, C4 = np.array([-52.0, -18.0, 56.0]), np.array([54.0, -18.0, 56.0])  # cortex under C3 and C4, MNI152 mm


def to_mni152(points305: np.ndarray) -> np.ndarray:
    return points305 @ brain.MNI305_TO_MNI152[:3, :3].T + brain.MNI305_TO_MNI152[:3, 3]


def synthetic_montage() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(anatomy, optodes): per hemisphere a 2 x 4 grid of optodes 30 mm apart on the scalp over C3 (C4),
    sources and detectors alternating, a pair for each neighbouring source and detector (10 per hemisphere),
    its cortex point the pial vertex nearest the pair's midpoint moved 15 mm inwards (MNI152 mm)."""
    template = brain.fsaverage5()
    optodes, anatomy = [], []
    for hemi, centre in (("L", C3), ("R", C4)):
        normal = np.array([np.sign(centre[0]), 0.0, 1.0]) / np.sqrt(2.0)
        along, across = np.array([0.0, 1.0, 0.0]), np.cross(normal, [0.0, 1.0, 0.0])
        names = {}
        for i in range(2):
            for j in range(4):
                position = centre + 15 * normal + (j - 1.5) * 30 * along + (i - 0.5) * 30 * across
                kind = "source" if (i + j) % 2 == 0 else "detector"
                name = f"{kind[0].upper()}{sum(o['kind'] == kind for o in optodes) + 1}"
                names[i, j] = name
                optodes.append({"name": name, "kind": kind, **dict(zip("xyz", position))})
        where = {o["name"]: np.array([o["x"], o["y"], o["z"]]) for o in optodes}
        for (i, j), first in names.items():
            for second in (names.get((i, j + 1)), names.get((i + 1, j))):
                if second is None:
                    continue
                source, detector = sorted((first, second), key=lambda n: n[0] != "S")
                inwards = (where[source] + where[detector]) / 2 - 15 * normal
                cortex = to_mni152(template.pial[brain.nearest_vertices(inwards[None])[0]])
                label = ("Precentral_" if cortex[1] > -18 else "Postcentral_") + hemi
                anatomy.append({"pair": f"{source}_{detector}", "cortex_x": cortex[0], "cortex_y": cortex[1],
                                "cortex_z": cortex[2], "label": label})
    return pd.DataFrame(anatomy), pd.DataFrame(optodes)


@pytest.fixture(scope="module")
def montage():
    return synthetic_montage()


def effect_cells(pairs: pd.Series, *, left_only: bool = False) -> pd.DataFrame:
    """Two conditions and their contrast, HbO and HbR: the left-hemisphere pairs ("S<=4") respond to Right."""
    rows = []
    for panel in ("Tapping/Left", "Tapping/Right", "Tapping/Right - Tapping/Left"):
        for chroma, size in (("hbo", 0.4), ("hbr", -0.12)):
            for k, pair in enumerate(pairs):
                left = int(pair.split("_")[0][1:]) <= 4
                effect = size * (1.0 if left == (panel == "Tapping/Right") else 0.1) + 0.01 * k
                if left_only and not left:
                    effect = np.nan
                rows.append({"pair": pair, "chroma": chroma, "panel": panel, "effect": effect,
                             "significant": abs(effect) > abs(size) / 2})
    return pd.DataFrame(rows)


def test_mni152_to_mni305_inverts_freesurfers_affine():
    points305 = np.array([[-40.0, 10.0, 50.0], [0.0, 0.0, 0.0], [61.5, -80.0, 20.0]])
    np.testing.assert_allclose(brain.mni152_to_mni305(to_mni152(points305)), points305, atol=1e-9)
    assert np.abs(brain.mni152_to_mni305(C3) - C3).max() < 3  # the two spaces differ by a few mm


def test_vertex_assignment_is_nearest_channel_within_footprint():
    rng = np.random.default_rng(3)
    vertices = rng.uniform(-60, 60, size=(4000, 3))
    points = rng.uniform(-50, 50, size=(12, 3))
    owner = brain.assign_vertices(vertices, points, footprint_mm=15.0)
    distance = np.linalg.norm(vertices[:, None, :] - points[None, :, :], axis=2)
    inside = owner >= 0
    assert inside.sum() > 50 and (~inside).sum() > 50
    np.testing.assert_array_equal(owner[inside], distance[inside].argmin(axis=1))  # the nearest channel wins
    assert (distance[inside, owner[inside]] <= 15.0).all()  # every patch vertex within the footprint
    assert (distance[~inside].min(axis=1) > 15.0).all()  # every other vertex outside all of them
    assert (brain.assign_vertices(vertices, np.empty((0, 3))) == -1).all()


def test_a_channel_colours_only_its_hemisphere():
    template = brain.fsaverage5()
    for point, left in ((C3, True), (C4, False)):
        owner = brain.channel_vertices(point[None], footprint_mm=10.0)
        patch = owner == 0
        assert patch.sum() > 10
        assert (template.left[patch] == left).all()
        pial = template.pial[patch]
        assert (np.linalg.norm(pial - brain.mni152_to_mni305(point), axis=1) <= 10.0).all()
    wider = brain.channel_vertices(C3[None], footprint_mm=20.0)
    assert (wider == 0).sum() > (brain.channel_vertices(C3[None]) == 0).sum()


def test_dorsal_view_rule():
    assert not brain.covers_top(np.array([C3, C4]))  # over the motor cortex, 52-54 mm off the midline
    assert brain.covers_top(np.array([C3, [-20.0, -20.0, 70.0]]))  # superior frontal / paracentral
    assert not brain.covers_top(np.array([[-20.0, 60.0, 10.0]]))  # prefrontal: low


def test_rasteriser_keeps_the_nearest_triangle():
    uv = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    square = np.array([[0, 1, 2], [1, 3, 2]])
    pixels, face, weights, z = brain.rasterise(uv, np.zeros(4), square, (10, 10))
    assert sorted(pixels) == list(range(100))  # two triangles tile the square: every pixel once
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    # a triangle 5 mm in front over half of the square, from (0, 0) to (10, 10) through (10, 0)
    uv, depth = np.vstack([uv, uv[[0, 1, 3]]]), np.array([0.0, 0.0, 0.0, 0.0, 5.0, 5.0, 5.0])
    pixels, face, _, z = brain.rasterise(uv, depth, np.vstack([square, [[4, 5, 6]]]), (10, 10))
    rows, columns = np.divmod(pixels, 10)
    front = columns >= rows  # pixel centres on the diagonal lie on both: the front one wins
    assert len(pixels) == 100 and (face[front] == 2).all() and (face[~front] != 2).all()
    np.testing.assert_allclose(z[front], 5.0)


def test_cortex_figure_of_a_synthetic_montage(montage):
    anatomy, _ = montage
    positions = anatomy[["pair", "cortex_x", "cortex_y", "cortex_z"]]
    fig = brain.cortex_figure(effect_cells(anatomy["pair"]), positions, title="group: tapping")
    labels = {ax.get_label() for ax in fig.axes if ax.images}
    views = ["left", "right"] + (["dorsal"] if brain.covers_top(positions.iloc[:, 1:].to_numpy()) else [])
    assert labels == {f"{c}|{p}|{v}" for c in ("hbo", "hbr") for v in views
                      for p in ("Tapping/Left", "Tapping/Right", "Tapping/Right - Tapping/Left")}
    png, svg = figures.png_and_svg(fig)
    assert png.startswith(PNG_MAGIC)
    assert len(svg) < 2_000_000
    root = ElementTree.fromstring(svg)
    text = "".join(root.itertext())
    assert "group: tapping" in text and "HbO effect (\u00b5M)" in text and "HbR effect (\u00b5M)" in text


def coloured_share(image: np.ndarray) -> float:
    """The share of the brain's pixels that are not grey (a patch coloured by an effect)."""
    brain_pixels = image[image[..., 3] > 0][:, :3].astype(int)
    return float((np.ptp(brain_pixels, axis=1) > 12).mean())


def test_patches_sit_on_their_hemisphere(montage):
    anatomy, _ = montage
    positions = anatomy[["pair", "cortex_x", "cortex_y", "cortex_z"]].copy()
    positions.loc[0, "cortex_x"] = np.nan  # a pair without cortex coordinates is left out
    fig = brain.cortex_figure(effect_cells(anatomy["pair"], left_only=True), positions, title="left only")
    images = {ax.get_label(): ax.images[0].get_array() for ax in fig.axes if ax.images}
    assert coloured_share(images["hbo|Tapping/Right|left"]) > 0.01  # the left pairs' patches are drawn
    assert coloured_share(images["hbo|Tapping/Right|right"]) == 0  # NaN effects of the right pairs: grey only
    assert {brain.VIEWS[v].title for v in ("left", "right", "dorsal")} == {"left", "right", "top"}


def test_cortex_figure_needs_positions(montage):
    anatomy, _ = montage
    cells = effect_cells(anatomy["pair"])
    with pytest.raises(ValueError, match="no channel positions"):
        brain.cortex_figure(cells, pd.DataFrame(columns=["pair", "cortex_x", "cortex_y", "cortex_z"]),
                            title="t")
    no_cortex = anatomy[["pair"]].assign(cortex_x=np.nan, cortex_y=np.nan, cortex_z=np.nan)
    with pytest.raises(ValueError, match="cortex coordinates"):
        brain.cortex_figure(cells, no_cortex, title="t")


def test_montage_figure(montage):
    anatomy, optodes = montage
    anatomy = anatomy.copy()
    anatomy.loc[1, "label"] = "Left_Superior_Frontal_Gyrus"
    lateral = anatomy[anatomy["cortex_x"].abs() > brain.DORSAL_MAX_ABS_X_MM]
    assert len(lateral) < len(anatomy) and brain.covers_top(anatomy.iloc[:, 1:4].to_numpy())
    fig = brain.montage_figure(lateral, optodes, title="lateral pairs only")
    assert sorted(ax.get_label() for ax in fig.axes if ax.images) == ["left", "right"]  # no channel on top
    fig = brain.montage_figure(anatomy, optodes, title="sub-01 montage")
    assert sorted(ax.get_label() for ax in fig.axes if ax.images) == ["dorsal", "left", "right"]
    png, svg = figures.png_and_svg(fig, dpi=110)
    assert png.startswith(PNG_MAGIC) and len(svg) < 2_000_000
    text = "".join(ElementTree.fromstring(svg).itertext())
    assert "sub-01 montage" in text and "Precentral_L" in text and "Postcentral_R" in text
    assert "L_Sup_Front_G" in text and "Left_Superior_Frontal_Gyrus" not in text
    assert all(name in text for name in optodes["name"])


def test_short_labels():
    assert brain.short_label("Precentral_L") == "Precentral_L"
    assert brain.short_label("Left_Superior_Frontal_Gyrus") == "L_Sup_Front_G"
    assert len(brain.short_label("GM_Anterior_intra-parietal_sulcus_hIP1_L")) <= brain.MAX_LABEL_CHARS
