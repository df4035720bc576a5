"""First-level validity under motion: noise model x motion correction x kind of data, on simulated
tapping recordings with known truth.

    python benchmarks/motion_validity.py [--null-recordings 9] [--active-recordings 4] [--duration 600]
        [--data KIND ...] [--noise-models MODEL:BIAS ...] [--motion-corrections NAME ...]

Data (the simulator, 7.8125 Hz, tutorial montage, fitted at 0.6 Hz): clean; motion artefacts at random
times, 1 and 4 per minute (half spikes of 0.5-3 s, half baseline shifts); task-locked motion (an artefact
within 10 s after 30% of the tapping trials, as when a participant moves while tapping, plus 1 per minute at
random), all hitting every channel (each its own size); the same three with ``--motion-scope optode`` (each
artefact moves one source or detector: only the channels of its pairs, 3-10 x 0.5-1 times each channel's SD,
one sign), and optode-local artefacts of 1-3 x 0.5-1 SD at 4 per minute (small: most below the detection's
threshold). Motion corrections: none, tddr, level-shifts (cap-wide and per-optode transitions) and
level-shifts-cap (level-shifts with the per-optode detection off). Per cell: the share of p < 0.05 and the
95% interval coverage on null data (no responses; 120 tests per recording), and on data with responses the
mean relative error, the RMSE of the activated channels' effects (|truth| >= 0.1 uM) and their interval
coverage, and the seconds per recording of the analysis. Each recording is analysed in-process with the code
of ``fnirs-glm ... participant``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.validity import channel_errors, markdown, simulate

DATA = {
    "clean": {},
    "motion 1/min": {"motion_per_minute": 1.0},
    "motion 4/min": {"motion_per_minute": 4.0},
    "task-locked": {"task_locked_motion": 0.3, "motion_per_minute": 1.0},
    "optode 1/min": {"motion_per_minute": 1.0, "motion_scope": "optode"},
    "optode 4/min": {"motion_per_minute": 4.0, "motion_scope": "optode"},
    "optode task-locked": {"task_locked_motion": 0.3, "motion_per_minute": 1.0, "motion_scope": "optode"},
    "optode 4/min, 1-3 SD": {"motion_per_minute": 4.0, "motion_scope": "optode", "optode_motion_sds": (1.0, 3.0)},
}
# (noise model, --ar-bias-correction); ols has no AR coefficients to correct
NOISE_MODELS = (("ols", "none"), ("ar1", "none"), ("ar1", "worsley"), ("auto", "none"), ("auto", "worsley"),
                ("ar-irls", "none"), ("ar-irls", "worsley"))
CORRECTIONS = ("none", "tddr", "level-shifts-cap", "level-shifts")  # -cap: without the optodes' own transitions


@contextlib.contextmanager
def motion_correction(name: str):
    """(the --motion-correction value, in force while inside) of a benchmark's correction: level-shifts-cap
    is level-shifts with the optode-local detection off."""
    from bids_app.first_level import level_shifts

    if name != "level-shifts-cap":
        yield name
        return
    original = level_shifts.correct
    level_shifts.correct = functools.partial(original, local_threshold=math.inf)
    try:
        yield "level-shifts"
    finally:
        level_shifts.correct = original


def row(null: pd.DataFrame, active: pd.DataFrame, *, seconds: float) -> dict:
    activated = active[active["effect_um"].abs() >= 0.1]
    error = activated["effect"] - activated["effect_um"]
    return {"null tests": len(null), "p < 0.05 (null)": (null["p"] < 0.05).mean(),
            "coverage (null)": null["covered"].mean(),
            "mean relative error": (error / activated["effect_um"].abs()).mean(),
            "RMSE (uM)": float(np.sqrt(np.mean(error**2))), "coverage (active)": activated["covered"].mean(),
            "s / recording": seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--null-recordings", type=int, default=9)
    parser.add_argument("--active-recordings", type=int, default=4)
    parser.add_argument("--duration", type=float, default=600.0, help="recording length (s)")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--motion-corrections", nargs="+", choices=CORRECTIONS, default=list(CORRECTIONS),
                        help="the motion corrections to compare (default: all)")
    parser.add_argument("--data", nargs="+", choices=list(DATA), default=list(DATA),
                        help="the kinds of data (default: all)")
    parser.add_argument("--noise-models", nargs="+", default=[f"{m}:{b}" for m, b in NOISE_MODELS],
                        choices=[f"{m}:{b}" for m, b in NOISE_MODELS],
                        help="noise model:AR bias correction pairs (default: all)")
    args = parser.parse_args(argv)
    logging.getLogger("fnirs_glm").setLevel(logging.ERROR)
    started = time.time()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for offset, (data, motion) in enumerate(DATA.items()):
            if data not in args.data:
                continue
            common = {"duration_s": args.duration, **motion}
            null = simulate(Path(tmp) / f"null{offset}", subjects=args.null_recordings, null=True,
                            seed=args.seed + 2 * offset, **common)
            active = simulate(Path(tmp) / f"active{offset}", subjects=args.active_recordings,
                              seed=args.seed + 2 * offset + 1, **common)
            for model, bias in (pair.split(":") for pair in args.noise_models):
                for correction in args.motion_corrections:
                    with motion_correction(correction) as flag:
                        flags = ("--skip_bids_validator", "--noise-model", model, "--ar-bias-correction", bias,
                                 "--motion-correction", flag)
                        clock = time.perf_counter()
                        null_table = channel_errors(null, *flags)
                        seconds = (time.perf_counter() - clock) / args.null_recordings
                        active_table = channel_errors(active, *flags)
                    key = (data, model, bias if model != "ols" else "n/a", correction)
                    rows[key] = row(null_table, active_table, seconds=seconds)
                    print(f"{key}: {rows[key]}", file=sys.stderr)
    frame = pd.DataFrame(rows).T
    frame.index.names = ["data", "noise model", "AR bias correction", "motion correction"]
    print("## Motion: noise model x AR bias correction x motion correction\n\nCommand: "
          "`python benchmarks/motion_validity.py "
          f"--null-recordings {args.null_recordings} --active-recordings {args.active_recordings} "
          f"--duration {args.duration:.0f} --seed {args.seed}"
          f"{'' if args.motion_corrections == list(CORRECTIONS) else ' --motion-corrections '}"
          f"{'' if args.motion_corrections == list(CORRECTIONS) else ' '.join(args.motion_corrections)}"
          f"{'' if args.data == list(DATA) else ' --data ' + ' '.join(repr(d) for d in args.data)}"
          f"{'' if len(args.noise_models) == len(NOISE_MODELS) else ' --noise-models ' + ' '.join(args.noise_models)}` "
          f"({args.null_recordings} null and "
          f"{args.active_recordings} active simulated recordings of {args.duration:.0f} s per kind of data; "
          "default options otherwise, fitted at 0.6 Hz).\n")
    print(markdown(frame))
    print(f"\n_{time.time() - started:.0f} s on {sys.platform}, Python {sys.version.split()[0]}._")
    return 0


if __name__ == "__main__":
    sys.exit(main())
