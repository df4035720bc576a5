"""How short a recording may be: false positives and interval coverage of the first level on simulated null
recordings (physiology and noise, no responses) of decreasing length, with the app's defaults.

    python benchmarks/short_recordings.py [--recordings 12] [--durations 150 200 300 450 600 900] [--seed 0]

Per length: the tests (channels x conditions with at least one event), the share of p < 0.05 and p < 0.01,
the 95% interval coverage of 0, and what the app's rule for short recordings (bids_app.first_level.limits)
says of them: the median residual degrees of freedom, the fewest events of a condition whose response lies
wholly inside the recording, and how many recordings the rule refuses. Each recording is analysed
in-process with the code of ``fnirs-glm ... participant`` (benchmarks/validity.py's channel_errors), refused
ones left out of the rates.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.validity import channel_errors, markdown, simulate  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=int, default=12, help="simulated null recordings per length")
    parser.add_argument("--durations", type=float, nargs="+", default=[150, 200, 300, 450, 600, 900])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resample-hz", type=float, default=0.6, help="the rate fitted (50: the recordings' own)")
    args = parser.parse_args(argv)
    logging.getLogger("fnirs_glm").setLevel(logging.ERROR)
    started = time.time()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, duration in enumerate(args.durations):
            root = simulate(Path(tmp) / f"d{duration:g}", subjects=args.recordings, duration_s=duration, null=True,
                            seed=args.seed + 100 * k)
            table, refused = channel_errors(root, "--skip_bids_validator", "--resample-hz", f"{args.resample_hz:g}",
                                            with_refused=True)
            rows[f"{duration:g}"] = {
                "recordings": args.recordings, "refused": refused, "tests": len(table),
                "p < 0.05": (table["p"] < 0.05).mean() if len(table) else float("nan"),
                "p < 0.01": (table["p"] < 0.01).mean() if len(table) else float("nan"),
                "95% CI coverage": table["covered"].mean() if len(table) else float("nan"),
                "median df": table["df"].median() if len(table) else float("nan")}
    print("## Short recordings: null data, defaults\n")
    rate = "their own rate" if args.resample_hz >= 7.8125 else f"{args.resample_hz:g} Hz"
    print(f"{args.recordings} simulated null recordings per length (tutorial montage, 7.8125 Hz, fitted at {rate}), "
          f"seed {args.seed}. Command: `python benchmarks/short_recordings.py --recordings {args.recordings} "
          f"--durations {' '.join(f'{d:g}' for d in args.durations)} --seed {args.seed} --resample-hz "
          f"{args.resample_hz:g}`.\n")
    print(markdown(pd.DataFrame(rows).T.rename_axis("seconds")), "\n")
    print(f"_{time.time() - started:.0f} s on {sys.platform}, Python {sys.version.split()[0]}._")
    return 0


if __name__ == "__main__":
    sys.exit(main())
