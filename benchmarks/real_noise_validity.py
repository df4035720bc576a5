"""First-level validity on real noise: known responses added to real recordings (their physiology, drifts and
motion), per noise model x motion correction (as in motion_validity.py: none, tddr, level-shifts-cap = level-shifts
without the per-optode detection, level-shifts).

    python benchmarks/real_noise_validity.py [--repeats 10] [--seed 0] [--bids-dir DIR]

Data: the Homer3 finger-tapping recordings (``../shared/data/grptap`` when present, else the two bundled in
``tests/data/grptap``; 5 Hz, about 6.5 minutes each, fitted at 0.6 Hz). Each repeat adds two conditions to a
recording's events, each 8 blocks of 10 s, the 16 onsets random and at least 20 s apart: ``ProbeNull`` adds nothing
to the data (its true effect is 0), ``ProbeActive`` adds to every long pair's HbO an effect drawn from
0.2-0.6 uM (HbR: -1/3 of it) times the HRF-convolved boxcar (glover, as the simulator), converted to
optical density with the Beer-Lambert inverse and multiplied into the raw intensity. The real tapping
condition stays in the design. Per cell: the share of p < 0.05 and the 95% interval coverage of ProbeNull,
and of ProbeActive the mean relative error, the RMSE and the interval coverage, and seconds per fit.
Unlike the simulator, the noise and motion are real, so no model of them is assumed.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.motion_validity import CORRECTIONS, motion_correction
from benchmarks.validity import markdown
from bids_app.cli import parse_args
from bids_app.first_level.fit import fit_recording
from bids_app.inputs import load_recording

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "grptap"
BUNDLED = ROOT / "tests" / "data" / "grptap"
CELLS = tuple((model, correction) for model in ("auto", "ar-irls") for correction in CORRECTIONS)
HBR_FRACTION = -1 / 3
BLOCKS, GAP_S = 8, 20.0  # per probe condition; least time between any two probe onsets


def probe_onsets(rng, *, duration: float, blocks: int, gap: float) -> np.ndarray:
    """``blocks`` random onsets in [10, duration - 30] s at least ``gap`` s apart (uniform spacings)."""
    slack = duration - 40 - (blocks - 1) * gap
    if slack < 0:
        raise SystemExit(f"a recording of {duration:.0f} s is too short for {blocks} blocks {gap:g} s apart")
    return 10 + np.sort(rng.uniform(0, slack, blocks)) + gap * np.arange(blocks)


def with_probes(inputs, *, rng, long_pairs: list[str]):
    """(inputs with the two probe conditions in its events and ProbeActive's response in its intensity,
    truth {ch_name: effect_um})."""
    from nilearn.glm.first_level import make_first_level_design_matrix

    from bids_app.simulate.recording import haemoglobin_to_od

    raw = inputs.raw.copy()
    sfreq, n_times = raw.info["sfreq"], len(raw.times)
    duration = n_times / sfreq
    onsets = probe_onsets(rng, duration=duration, blocks=2 * BLOCKS, gap=GAP_S)
    is_active = rng.permutation(np.arange(2 * BLOCKS) < BLOCKS)
    null, active = onsets[~is_active], onsets[is_active]
    probes = pd.DataFrame({"onset": np.concatenate([null, active]), "duration": 10.0,
                           "trial_type": ["ProbeNull"] * len(null) + ["ProbeActive"] * len(active)})
    regressor = make_first_level_design_matrix(raw.times, probes[probes["trial_type"] == "ProbeActive"],
                                               hrf_model="glover", drift_model=None,
                                               oversampling=math.ceil(100 / sfreq))["ProbeActive"].to_numpy()
    pairs = [name.split(" ")[0] for name in raw.ch_names[::2]]
    hb = np.zeros((len(pairs), 2, n_times))
    truth = {}
    for index, pair in enumerate(pairs):
        if pair in long_pairs:
            amplitude = rng.uniform(0.2, 0.6)
            hb[index, 0], hb[index, 1] = amplitude * regressor, HBR_FRACTION * amplitude * regressor
            truth[f"{pair} hbo"], truth[f"{pair} hbr"] = amplitude, HBR_FRACTION * amplitude
    raw._data[:] = raw.get_data() * np.exp(-haemoglobin_to_od(raw, hb, ppf=6.0))
    events = pd.concat([inputs.events, probes.assign(**{c: "n/a" for c in inputs.events.columns
                                                       if c not in probes.columns})], ignore_index=True)
    events = events[inputs.events.columns].sort_values("onset", kind="stable").reset_index(drop=True)
    return dataclasses.replace(inputs, raw=raw, events=events), truth


def main(argv=None) -> int:
    import mne_bids

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="probe draws per recording")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bids-dir", type=Path, default=SHARED if SHARED.exists() else BUNDLED)
    parser.add_argument("--cells", nargs="+", default=[f"{m}:{c}" for m, c in CELLS],
                        choices=[f"{m}:{c}" for m, c in CELLS], help="noise model:motion correction (default: all)")
    args = parser.parse_args(argv)
    cells = [tuple(cell.split(":")) for cell in args.cells]
    logging.getLogger("fnirs_glm").setLevel(logging.ERROR)
    started = time.time()
    paths = list(mne_bids.find_matching_paths(args.bids_dir, datatypes="nirs", suffixes="nirs",
                                              extensions=".snirf"))
    results = {cell: [] for cell in cells}
    seconds = {cell: 0.0 for cell in cells}
    for index, bids_path in enumerate(paths):
        rng = np.random.default_rng([args.seed, index])
        base = parse_args([str(args.bids_dir), "/tmp/unused", "participant", "--skip_bids_validator"]).first_level
        inputs = load_recording(bids_path, options=base, warn=lambda message: None)
        long_pairs = sorted({n.split(" ")[0] for n, role in zip(inputs.channels["name"], _roles(inputs, base))
                             if role == "long"})
        for _ in range(args.repeats):
            probed, truth = with_probes(inputs, rng=rng, long_pairs=long_pairs)
            for model, correction in cells:
                with motion_correction(correction) as flag:
                    options = parse_args([str(args.bids_dir), "/tmp/unused", "participant", "--skip_bids_validator",
                                          "--noise-model", model, "--motion-correction", flag]).first_level
                    clock = time.perf_counter()
                    table = fit_recording(probed, options=options, contrasts={},
                                          warn=lambda message: None).channel_stats
                    seconds[(model, correction)] += time.perf_counter() - clock
                table = table[table["condition"].str.startswith("Probe")].copy()
                table["effect_um"] = np.where(table["condition"] == "ProbeActive",
                                              table["ch_name"].map(truth).fillna(0.0), 0.0)
                results[(model, correction)].append(table.assign(recording=bids_path.basename))
        print(f"{bids_path.basename}: done ({time.time() - started:.0f} s)", file=sys.stderr)
    rows = {}
    for cell, tables in results.items():
        table = pd.concat(tables, ignore_index=True)
        half_width = stats.t.ppf(0.975, table["df"]) * table["se"]
        table["covered"] = (table["effect"] - table["effect_um"]).abs() <= half_width
        null, active = table[table["condition"] == "ProbeNull"], table[table["condition"] == "ProbeActive"]
        error = active["effect"] - active["effect_um"]
        rows[cell] = {"null tests": len(null), "p < 0.05 (null)": (null["p"] < 0.05).mean(),
                      "coverage (null)": null["covered"].mean(),
                      "mean relative error": (error / active["effect_um"].abs()).mean(),
                      "RMSE (uM)": float(np.sqrt(np.mean(error**2))), "coverage (active)": active["covered"].mean(),
                      "s / fit": seconds[cell] / len(tables)}
    frame = pd.DataFrame(rows).T
    frame.index.names = ["noise model", "motion correction"]
    print(f"## Real noise: known responses added to real recordings\n\nCommand: `python "
          f"benchmarks/real_noise_validity.py --repeats {args.repeats} --seed {args.seed}"
          f"{'' if len(cells) == len(CELLS) else ' --cells ' + ' '.join(args.cells)}` ({len(paths)} "
          f"recordings of {args.bids_dir.name}, {args.repeats} probe draws each; default options otherwise, "
          "fitted at 0.6 Hz).\n")
    print(markdown(frame))
    print(f"\n_{time.time() - started:.0f} s on {sys.platform}, Python {sys.version.split()[0]}._")
    return 0


def _roles(inputs, options) -> list[str]:
    """Each channel's role (long, short, unused) as the first level assigns it."""
    from bids_app.first_level.preprocessing import assess_channels

    qc, _ = assess_channels(inputs.raw, inputs.channels, options=options, warn=lambda message: None)
    return list(qc.set_index("name").loc[inputs.channels["name"], "role"])


if __name__ == "__main__":
    sys.exit(main())
