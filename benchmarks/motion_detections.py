"""What ``--motion-correction level-shifts`` detects: transitions per minute, cap-wide and of single optodes,
on data without motion (clean and noise-free simulations: every detection is false), on simulated motion with
known times (the share of true artefact edges found) and on real recordings; and the cost of the correction.

    python benchmarks/motion_detections.py [--recordings 10] [--duration 600] [--seed 30]

Per kind of data, ``--recordings`` simulated recordings (the simulator, tutorial montage, 7.8125 Hz) read and
assessed as ``fnirs-glm ... participant`` does, then ``level_shifts.correct`` on the good channels with their
optodes, as the first level calls it. A true edge is found when a transition of the right scope (cap-wide, or
of the hit optode or cap-wide) lies within 1 s of it; a spike has two edges, a baseline shift one. False
detections: transitions more than 1 s from every true edge. Real recordings: ``../shared/data/grptap`` when
present, else the two bundled in ``tests/data/grptap``. The cost: the median of 3 runs of the correction on a
45-min simulated recording with 4 optode-local artefacts per minute, one BLAS thread.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.validity import markdown, simulate
from bids_app.channels import channel_pair
from bids_app.first_level import level_shifts

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "grptap"
BUNDLED = ROOT / "tests" / "data" / "grptap"
DATA = {
    "clean": {},
    "noise-free": {"noise": False},
    "cap 4/min": {"motion_per_minute": 4.0},
    "optode 1/min": {"motion_per_minute": 1.0, "motion_scope": "optode"},
    "optode 4/min": {"motion_per_minute": 4.0, "motion_scope": "optode"},
    "optode task-locked": {"task_locked_motion": 0.3, "motion_per_minute": 1.0, "motion_scope": "optode"},
    "optode 4/min, 1-3 SD": {"motion_per_minute": 4.0, "motion_scope": "optode", "optode_motion_sds": (1.0, 3.0)},
}
NEAR_S = 1.0


def good_od(bids_path) -> tuple[np.ndarray, list[tuple[str, str]], float]:
    """(optical density of the good used channels, each channel's (source, detector), rate)."""
    from bids_app.first_level.preprocessing import assess_channels
    from bids_app.inputs import read_channels_tsv, read_raw_intensity
    from bids_app.options import FirstLevelOptions

    qc, od = assess_channels(read_raw_intensity(bids_path), read_channels_tsv(bids_path),
                             options=FirstLevelOptions(), warn=lambda message: None)
    status, role = dict(zip(qc["name"], qc["status"])), dict(zip(qc["name"], qc["role"]))
    used = [i for i, name in enumerate(od.ch_names) if status[name] == "good" and role[name] != "unused"]
    return (od.get_data()[used], [tuple(channel_pair(od.ch_names[i]).split("_")) for i in used],
            float(od.info["sfreq"]))


def true_edges(motion: pd.DataFrame) -> list[tuple[float, str]]:
    """(time in s, optode or "n/a" when cap-wide) of each edge of the simulated artefacts."""
    edges = []
    for artefact in motion.itertuples():
        edges.append((artefact.onset, artefact.optode))
        if artefact.kind == "spike":
            edges.append((artefact.onset + artefact.duration, artefact.optode))
    return edges


def scored(found: level_shifts.Transitions, edges: list[tuple[float, str]], *, sfreq: float) -> dict:
    """Counts of true edges found and of false detections (cap-wide, of single optodes)."""
    cap_times = (found.cap.mean(axis=1) + 1) / sfreq
    local = [((rows.mean(axis=1) + 1) / sfreq, optode) for optode, rows in found.local.items()]
    edge_times = np.array([t for t, _ in edges])

    def near(times, t):
        return bool(len(times)) and np.abs(np.asarray(times) - t).min() <= NEAR_S

    hits = sum(near(cap_times, t) or any(near(times, t) for times, optode in local if optode == where)
               for t, where in edges)
    false_cap = sum(not near(edge_times, t) for t in cap_times)
    false_local = sum(not near(edge_times, t) for times, _ in local for t in times)
    return {"edges": len(edges), "found": hits, "false cap": false_cap, "false local": false_local}


def main(argv=None) -> int:
    import mne_bids
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=int, default=10, help="simulated recordings per kind of data")
    parser.add_argument("--duration", type=float, default=600.0, help="their length (s)")
    parser.add_argument("--seed", type=int, default=30)
    args = parser.parse_args(argv)
    started = time.time()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        for offset, (data, options) in enumerate(DATA.items()):
            root = simulate(Path(tmp) / f"d{offset}", subjects=args.recordings, seed=args.seed + offset,
                            duration_s=args.duration, **options)
            totals = {"minutes": 0.0, "cap": 0, "local": 0, "edges": 0, "found": 0, "false cap": 0,
                      "false local": 0}
            for bids_path in mne_bids.find_matching_paths(root, datatypes="nirs", suffixes="nirs",
                                                          extensions=".snirf"):
                od, optodes, sfreq = good_od(bids_path)
                found = level_shifts.correct(od, sfreq=sfreq, channel_optodes=optodes)[1]
                stem = bids_path.copy().update(datatype=None, suffix=None, extension=None).basename
                motion = pd.read_csv(root / "sourcedata" / "ground_truth" / f"{stem}_motion.tsv", sep="\t")
                for key, value in scored(found, true_edges(motion), sfreq=sfreq).items():
                    totals[key] += value
                totals["minutes"] += od.shape[1] / sfreq / 60
                totals["cap"] += len(found.cap)
                totals["local"] += found.n_local
            rows[data] = _row(totals)
            print(f"{data}: {rows[data]}", file=sys.stderr)
        real = SHARED if SHARED.exists() else BUNDLED
        totals = {"minutes": 0.0, "cap": 0, "local": 0}
        for bids_path in mne_bids.find_matching_paths(real, datatypes="nirs", suffixes="nirs", extensions=".snirf"):
            od, optodes, sfreq = good_od(bids_path)
            found = level_shifts.correct(od, sfreq=sfreq, channel_optodes=optodes)[1]
            totals["minutes"] += od.shape[1] / sfreq / 60
            totals["cap"] += len(found.cap)
            totals["local"] += found.n_local
        rows[f"real ({real.name})"] = _row(totals)
        seconds = _cost(Path(tmp) / "cost", seed=args.seed)
    frame = pd.DataFrame(rows).T
    frame.index.name = "data"
    print(f"## What level-shifts detects\n\nCommand: `python benchmarks/motion_detections.py --recordings "
          f"{args.recordings} --duration {args.duration:.0f} --seed {args.seed}` ({args.recordings} simulated "
          f"recordings of {args.duration:.0f} s per kind; real: every recording of {real.name}).\n")
    print(markdown(frame))
    print(f"\nCost of the correction (detection and removal) on a 45-min recording at 7.8 Hz with 4 optode-local "
          f"artefacts per minute, median of 3, one BLAS thread: {seconds:.2f} s")
    print(f"\n_{time.time() - started:.0f} s on {sys.platform}, Python {sys.version.split()[0]}._")
    return 0


def _row(totals: dict) -> dict:
    minutes = totals["minutes"]
    row = {"minutes": round(minutes, 1), "cap-wide / min": totals["cap"] / minutes,
           "optode / min": totals["local"] / minutes}
    if totals.get("edges"):
        row.update({"true edges": totals["edges"], "found": totals["found"] / totals["edges"]})
    if "false cap" in totals:
        row.update({"false cap-wide / min": totals["false cap"] / minutes,
                    "false optode / min": totals["false local"] / minutes})
    return row


def _cost(root: Path, *, seed: int) -> float:
    import mne_bids

    simulate(root, subjects=1, seed=seed, duration_s=2700.0, motion_per_minute=4.0, motion_scope="optode")
    bids_path = next(iter(mne_bids.find_matching_paths(root, datatypes="nirs", suffixes="nirs", extensions=".snirf")))
    od, optodes, sfreq = good_od(bids_path)
    times = []
    for _ in range(3):
        clock = time.perf_counter()
        level_shifts.correct(od, sfreq=sfreq, channel_optodes=optodes)
        times.append(time.perf_counter() - clock)
    return float(np.median(times))


if __name__ == "__main__":
    sys.exit(main())
