"""Anatomy: the evidence tables of docs/anatomy.md and the cost of the anatomy steps.

    python benchmarks/anatomy.py [--repeat 5]

Prints Markdown: (1) our cortical projection of MNE's 10-05 template positions against the published MNI
coordinates of the 10-20 cortical projection points (Okamoto et al. 2004, tests/data/anatomy/), with the error
of each position, its median and maximum; (2) the 20 long pairs of the tutorial montage (the simulator's
positions) with their scalp and cortex points, depth, top two AAL labels and specificities; (3) the cost, in
this process: the first recording (the templates and the atlas loaded), a new montage with everything loaded,
a montage seen before (cached), the participant report's montage figure, and the group cortex figure of 3
conditions x 2 chroma (drawn and saved as PNG and SVG), medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _median_seconds(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from bids_app.anatomy import localise as loc
    from bids_app.anatomy.registration import register
    from tests.test_anatomy import long_pairs, published_comparison, template_optodes

    started = time.perf_counter()
    registered = register(template_optodes(), coordinate_system="CapTrak")
    found = loc.localise(registered.optodes, long_pairs(), atlas="aal")
    first = time.perf_counter() - started

    table = published_comparison()
    print("## Cortical projections of the 10-20 positions against Okamoto et al. 2004 (MNI, mm)\n")
    shown = table.round(1)
    print(shown.to_markdown(index=False))
    print(f"\nmedian error {table['error_mm'].median():.1f} mm, maximum {table['error_mm'].max():.1f} mm "
          f"({table.loc[table['error_mm'].idxmax(), 'position']}), {len(table)} positions\n")

    print("## The tutorial montage's 20 long pairs (AAL)\n")
    rows = loc.anatomy_table(found, ch_names=[f"{p} hbo" for p in sorted(found, key=lambda p: (
        int(p.split('_')[0][1:]), int(p.split('_D')[1])))]).drop(columns=["ch_name"])
    print(rows.to_markdown(index=False))

    print("\n## Cost (seconds, this process)\n")
    moved = {name: tuple(np.add(xyz, 0.5)) for name, xyz in registered.optodes.items()}

    def new_montage():
        loc._localise.cache_clear()
        loc.localise(moved, long_pairs(), atlas="aal")

    def seen_montage():
        register(template_optodes(), coordinate_system="CapTrak")
        loc.localise(registered.optodes, long_pairs(), atlas="aal")

    from bids_app.report import figures
    from bids_app.report.brain import cortex_figure, montage_figure

    anatomy = loc.anatomy_table(found, ch_names=[f"{p} hbo" for p in found])
    optodes = pd.DataFrame([{"name": n, "kind": "source" if n.startswith("S") else "detector", "x": xyz[0],
                             "y": xyz[1], "z": xyz[2]} for n, xyz in registered.optodes.items()])
    rng = np.random.default_rng(0)
    cells = pd.DataFrame([{"pair": p, "chroma": c, "panel": panel, "effect": rng.normal(), "significant": rng.random() < 0.3}
                          for panel in ("Control", "Tapping/Left", "Tapping/Right") for p in found for c in ("hbo", "hbr")])

    def montage():
        figures.png_bytes(montage_figure(anatomy, optodes, title="montage"))

    def cortex():
        figures.png_and_svg(cortex_figure(cells, anatomy, title="cortex"))

    montage()
    cortex()  # warm-up: the surfaces loaded
    costs = {
        "first recording of a process (templates and atlas loaded, registration, 20 pairs)": first,
        "a new montage, templates loaded (registration excluded)": _median_seconds(new_montage, args.repeat),
        "a montage seen before (registration + cached localisation)": _median_seconds(seen_montage, args.repeat),
        "participant report: montage figure (PNG)": _median_seconds(montage, args.repeat),
        "group report: cortex figure, 3 conditions x 2 chroma (PNG + SVG)": _median_seconds(cortex, args.repeat),
    }
    print("| step | seconds |\n|---|---|")
    for step, seconds in costs.items():
        print(f"| {step} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
