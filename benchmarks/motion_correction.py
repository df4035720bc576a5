"""Motion correction (--motion-correction) on simulated tapping recordings with known truth.

    python benchmarks/motion_correction.py [--recordings 2] [--duration 600] [--seed 5]

Prints a Markdown table per motion-spike count (0 and 20 per recording) x short-channel regression x
motion correction: RMSE of every channel effect against the truth, the mean estimate / truth on
activated HbO channels (1 = unbiased) and the 95% interval coverage. The first step of the evidence that
will choose a default (the default stays `none` until then).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.validity import channel_errors, markdown, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=int, default=2)
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spikes in (0, 20):
            root = simulate(Path(tmp) / f"spikes{spikes}", subjects=args.recordings, duration_s=args.duration,
                            seed=args.seed, motion_spikes=spikes)
            for short in ("mean", "none"):
                for correction in ("none", "tddr"):
                    table = channel_errors(root, "--short-regression", short, "--motion-correction", correction)
                    active = table[(table["chroma"] == "hbo") & (table["effect_um"] >= 0.05)]
                    rows.append({"motion spikes": spikes, "short regression": short, "motion correction": correction,
                                 "tests": len(table),
                                 "RMSE (uM)": float(np.sqrt(np.mean((table["effect"] - table["effect_um"]) ** 2))),
                                 "active HbO estimate / truth": float((active["effect"] / active["effect_um"]).mean()),
                                 "95% CI coverage": float(table["covered"].mean())})
    print(markdown(pd.DataFrame(rows).set_index("motion spikes")))


if __name__ == "__main__":
    main()
