"""End-to-end wall time of the participant level with 1 and 2 worker processes.

    python benchmarks/scaling.py BIDS_DIR OUT [--n-cpus 1 2] [--repeat 1] [fnirs-glm options]

For each N, runs `python run.py BIDS_DIR OUT/n_cpus-N-XXXX participant --n_cpus N --skip_bids_validator
[fnirs-glm options]` as a subprocess, into a new output directory each time (nothing of an earlier run is
re-used; OUT keeps them), and prints its wall time (interpreter start-up, imports, dataset discovery,
every recording, the run log), the recordings analysed (the 'done' entries of the run's log) per minute,
and the speed-up over the first N. With --repeat R the median of R runs is printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(bids_dir: Path, out: Path, n_cpus: int, options: list[str]) -> tuple[float, int]:
    output_dir = Path(tempfile.mkdtemp(prefix=f"n_cpus-{n_cpus}-", dir=out))
    command = [sys.executable, str(ROOT / "run.py"), str(bids_dir), str(output_dir), "participant",
               "--n_cpus", str(n_cpus), "--skip_bids_validator", *options]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    (log,) = (output_dir / "logs").glob("participant_*.json")
    recordings = json.loads(log.read_text())["Recordings"]
    return seconds, sum(r["Status"] == "done" for r in recordings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bids_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--n-cpus", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1)
    args, options = parser.parse_known_args()
    args.out.mkdir(parents=True, exist_ok=True)

    print(f"command: python run.py {args.bids_dir} OUT participant --n_cpus N --skip_bids_validator "
          f"{' '.join(options)}\n")
    print("| --n_cpus | seconds | recordings | recordings / minute | speed-up |\n|---|---|---|---|---|")
    first = None
    for n_cpus in args.n_cpus:
        runs = [run_once(args.bids_dir.resolve(), args.out.resolve(), n_cpus, options)
                for _ in range(args.repeat)]
        seconds, recordings = statistics.median(s for s, _ in runs), runs[0][1]
        first = first or seconds
        print(f"| {n_cpus} | {seconds:.2f} | {recordings} | {60 * recordings / seconds:.1f} "
              f"| {first / seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
