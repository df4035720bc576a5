"""Start-up time of the command line: `python run.py --help` and `python run.py --version`.

    python benchmarks/cli_startup.py [--runs 20]

Runs each command --runs times as a subprocess (from the repository root) and prints the median, minimum
and maximum wall time, next to `python -c pass` (the interpreter alone) and an import of the analysis stack
(what --help would cost if cli.py imported it). Then `python -X importtime run.py --help` lists the
imports that --help pays for, largest cumulative first.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python run.py --help": ["run.py", "--help"],
    "python run.py --version": ["run.py", "--version"],
    "python -c pass": ["-c", "pass"],
    'python -c "import mne_bids, nilearn.glm.first_level, mne.preprocessing.nirs"':
        ["-c", "import mne_bids, nilearn.glm.first_level, mne.preprocessing.nirs"],
}


def wall_times(arguments: list[str], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *arguments], cwd=ROOT, capture_output=True, check=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()

    print(f"| command | median s | min s | max s |  ({args.runs} runs each)\n|---|---|---|---|")
    for label, arguments in COMMANDS.items():
        seconds = wall_times(arguments, args.runs)
        print(f"| `{label}` | {statistics.median(seconds):.3f} | {min(seconds):.3f} | {max(seconds):.3f} |",
              flush=True)

    stderr = subprocess.run([sys.executable, "-X", "importtime", "run.py", "--help"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stderr
    rows = []  # lines "import time: <self us> | <cumulative us> | <module, indented 2 per nesting level>"
    for line in stderr.splitlines()[1:]:
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        level = (len(name) - len(name.lstrip()) - 1) // 2
        rows.append((int(cumulative_us), int(self_us), level, name.strip()))
    print(f"\n`python -X importtime run.py --help` (in-process import times, inflated by -X importtime): "
          f"{len(rows)} modules; the largest cumulative:\n\n"
          "| module | nesting level | cumulative ms | self ms |\n|---|---|---|---|")
    for cumulative_us, self_us, level, name in sorted(rows, reverse=True)[: args.top]:
        print(f"| {name} | {level} | {cumulative_us / 1e3:.1f} | {self_us / 1e3:.1f} |")

if __name__ == "__main__":
    main()
