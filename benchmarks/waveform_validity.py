"""Response waveforms (FIR) on simulated tapping recordings with known responses: bias and interval coverage.

    python benchmarks/waveform_validity.py [--recordings 6] [--duration 900] [--seed 0]

Simulates recordings (physiology, drifts, AR noise, short channels), runs the participant level with each
noise model, and compares every long channel's FIR waveform with the truth: the simulated amplitude times
the glover response to one 5 s block, averaged over each bin. Prints Markdown: per noise model, the share
of 95% intervals (effect +/- 1.96 se) holding the truth over all bins, separately for activated and silent
cells (Control and amplitude 0), and the mean error at the true peak relative to the amplitude.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def true_shape(starts: np.ndarray, width: float) -> np.ndarray:
    """The simulator's response to one 5 s block (glover, nilearn), averaged over each bin."""
    from nilearn.glm.first_level import make_first_level_design_matrix

    times = np.arange(0, 90, 0.01)
    design = make_first_level_design_matrix(
        times, pd.DataFrame({"onset": [30.0], "duration": [5.0], "trial_type": ["x"]}), hrf_model="glover",
        drift_model=None, oversampling=1)
    response = design["x"].to_numpy()
    return np.array([response[(times - 30 >= s) & (times - 30 < s + width)].mean() for s in starts])


def evaluate(bids: Path, out: Path) -> dict:
    rows = []
    for path in sorted(out.glob("sub-*/nirs/*_desc-waveform_stats.tsv")):
        table = pd.read_csv(path, sep="\t")
        table = table[table["ch_name"].notna()]
        width = float(pd.read_json(path.with_suffix(".json"), typ="series")["FIRBinWidth"])
        starts = np.sort(table["time"].unique()) - width / 2
        shape = pd.Series(true_shape(starts, width), index=np.sort(table["time"].unique()))
        truth = pd.read_csv(bids / "sourcedata/ground_truth" / f"{path.name.split('_desc-')[0]}_truth.tsv", sep="\t")
        table = table.merge(truth[["ch_name", "condition", "effect_um"]], on=["ch_name", "condition"], how="left")
        table["true"] = table["effect_um"].fillna(0.0) * table["time"].map(shape).to_numpy()
        rows.append(table.assign(peak=table["time"] == shape.idxmax()))
    data = pd.concat(rows)
    covered = (data["effect"] - data["true"]).abs() <= 1.96 * data["se"]
    active = data["effect_um"].fillna(0).abs() > 0
    peak = data[active & data["peak"]]
    return {"coverage_active": covered[active].mean(), "coverage_silent": covered[~active].mean(),
            "peak_ratio": (peak["effect"] / peak["true"]).mean(), "cells": len(data)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=6)
    parser.add_argument("--duration", type=float, default=900)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from bids_app.cli import main as cli
    from bids_app.simulate import SimulationOptions, simulate_dataset

    print(f"## Response waveforms (FIR): {args.recordings} simulated recordings of {args.duration:g} s, "
          f"seed {args.seed}\n")
    print("| noise model | coverage of 95% intervals, activated cells | coverage, silent cells | "
          "effect / truth at the true peak (activated) | bins x channels x conditions |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        bids = simulate_dataset(Path(tmp) / "bids", options=SimulationOptions(
            subjects=args.recordings, duration_s=args.duration, seed=args.seed))
        for noise_model in ("ols", "ar1", "auto", "ar-irls"):
            out = Path(tmp) / noise_model
            assert cli([str(bids), str(out), "participant", "--skip_bids_validator", "--noise-model", noise_model,
                        "--n_cpus", "2"]) == 0
            result = evaluate(bids, out)
            print(f"| {noise_model} | {result['coverage_active']:.3f} | {result['coverage_silent']:.3f} | "
                  f"{result['peak_ratio']:.3f} | {result['cells']} |")


if __name__ == "__main__":
    main()
