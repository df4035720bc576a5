"""Bad segments left out of the fit or not: false positives, interval coverage and error on simulated
recordings with one 60-s stretch of lost signal (intensity collapsed to 1%) or of saturation (intensity clipped
at a constant) on a third of the source-detector pairs, against the same studies without.

    python benchmarks/bad_segments.py [--recordings 12] [--duration 900] [--seed 0]

Per kind of data (clean, lost signal, saturated) and --bad-segments (none, auto), with the app's other defaults:
on null data the share of p < 0.05 and the 95% interval coverage of 0 over all channels x conditions; on active
data the RMSE of the activated channels' effects (|truth| >= 0.1 uM) against the truth, also relative to the
clean data's, the mean relative error and the interval coverage. Each recording is analysed in-process with the
code of ``fnirs-glm ... participant`` (benchmarks/validity.py's channel_errors).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.validity import channel_errors, markdown, simulate  # noqa: E402

KINDS = {"clean": {}, "lost signal": {"lost_signal": 1 / 3}, "saturated": {"saturated": 1 / 3}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=int, default=12, help="simulated recordings per kind and data set")
    parser.add_argument("--duration", type=float, default=900.0, help="recording length (s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.getLogger("fnirs_glm").setLevel(logging.ERROR)
    started = time.time()
    rows, clean_rmse = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for kind, extra in KINDS.items():
            common = {"subjects": args.recordings, "duration_s": args.duration, **extra}
            null = simulate(Path(tmp) / kind.replace(" ", "_") / "null", seed=args.seed + 1, null=True, **common)
            active = simulate(Path(tmp) / kind.replace(" ", "_") / "active", seed=args.seed, **common)
            for mode in ("none", "auto"):
                flags = ("--skip_bids_validator", "--bad-segments", mode)
                zero = channel_errors(null, *flags)
                table = channel_errors(active, *flags)
                hit = table[table["effect_um"].abs() >= 0.1]
                error = hit["effect"] - hit["effect_um"]
                rmse = float(np.sqrt((error ** 2).mean()))
                if kind == "clean" and mode == "auto":
                    clean_rmse = rmse
                rows[(kind, mode)] = {
                    "null tests": len(zero), "null p < 0.05": (zero["p"] < 0.05).mean(),
                    "null 95% CI coverage": zero["covered"].mean(), "active tests": len(hit),
                    "RMSE (uM)": rmse, "mean relative error": (error / hit["effect_um"].abs()).mean(),
                    "active 95% CI coverage": hit["covered"].mean()}
    frame = pd.DataFrame(rows).T
    frame.insert(frame.columns.get_loc("RMSE (uM)") + 1, "RMSE / clean", frame["RMSE (uM)"] / clean_rmse)
    frame.index.names = ["data", "--bad-segments"]
    print("## Bad segments: left out of the fit or not\n")
    print(f"{args.recordings} simulated recordings of {args.duration:.0f} s per kind and data set (tutorial "
          f"montage, 7.8125 Hz, fitted at 0.6 Hz; lost signal / saturated: one 60-s stretch on a third of the "
          f"pairs), seed {args.seed}. Command: `python benchmarks/bad_segments.py --recordings {args.recordings} "
          f"--duration {args.duration:.0f} --seed {args.seed}`. RMSE / clean: against the clean data's RMSE.\n")
    print(markdown(frame), "\n")
    print(f"_{time.time() - started:.0f} s on {sys.platform}, Python {sys.version.split()[0]}._")
    return 0


if __name__ == "__main__":
    sys.exit(main())
