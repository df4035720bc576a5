"""Time and peak memory of the group level for many participants.

    python benchmarks/group_scaling.py [--participants 100 1000 10000] [--methods random-effects ols]
    python benchmarks/group_scaling.py --full BIDS_DIR OUTPUT_DIR [--participants 1000 10000]

For each number of participants N, a fresh Python process builds in memory the participant-level tables of a
study like the tutorial's (56 channels x 3 conditions x 2 chroma, 2 ROIs x 3 conditions x 2 chroma, one
contrast x 56 channels x 2 chroma: 460 rows per participant, effects with first-level se spread over a
factor of 3 and cell-specific between-participant spreads), then times ``bids_app.group_level.models.group_table`` for
the tables (everything the group level computes: per-participant combination, per-cell models,
inference, FDR, sorting). Printed: seconds for the tables, the process's peak resident memory (ru_maxrss,
including Python, numpy, pandas, statsmodels and the input tables) and the rows written. Reading the
participant TSV files and drawing figures are not included.

With ``--full BIDS_DIR OUTPUT_DIR`` (a study and its participant-level outputs, e.g. from the simulator), the
outputs of its first participant are cloned into N participants in a temporary directory (their effects
perturbed per participant; the input recordings as empty files), and the whole group level,
``python run.py BIDS OUT group --skip_bids_validator`` (reading every participant file, models, tables,
figures, report), is timed as a subprocess; its peak resident memory is that of the child process.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def participant_tables(n: int, *, seed: int = 0) -> dict:
    """description -> a DataFrame as ``read_participant_tables`` returns it (one recording per participant)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    subjects = np.array([f"{i:05d}" for i in range(n)], dtype=object)
    conditions = ["Control", "Tapping/Left", "Tapping/Right"]
    shapes = {
        "channel": [("ch_name", [f"S{i // 4 + 1}_D{i % 4 + 1}" for i in range(56)]), ("condition", conditions)],
        "roi": [("roi", ["left_hemisphere", "right_hemisphere"]), ("condition", conditions)],
        "contrast": [("contrast", ["Tapping/Left - Tapping/Right"]), ("ch_name", [f"S{i // 4 + 1}_D{i % 4 + 1}"
                                                                                 for i in range(56)])],
    }
    tables = {}
    for description, columns in shapes.items():
        cells = pd.MultiIndex.from_product([values for _, values in columns] + [["hbo", "hbr"]],
                                           names=[name for name, _ in columns] + ["chroma"]).to_frame(index=False)
        if "ch_name" in cells:
            cells["ch_name"] = cells["ch_name"] + " " + cells["chroma"]
        k = len(cells)
        tau = rng.choice([0.02, 0.1, 0.3], size=k)  # quiet and active cells
        se = rng.uniform(0.05, 0.15, size=(n, k))
        effect = rng.normal(0, tau, size=(n, k)) + rng.normal(0, se)
        table = cells.iloc[np.tile(np.arange(k), n)].reset_index(drop=True)
        tables[description] = table.assign(subject=np.repeat(subjects, k), effect=effect.ravel(), se=se.ravel(),
                                           task="tapping")
    return tables


def measure(n: int, method: str) -> dict:
    from bids_app.group_level.models import TABLES, group_table

    tables = participant_tables(n)
    started = time.perf_counter()
    rows = sum(len(group_table(tables[spec.description], spec=spec, method=method)[0]) for spec in TABLES
               if spec.description in tables)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb, "rows": rows, "input_rows": sum(map(len, tables.values()))}


def clone_study(bids_dir: Path, output_dir: Path, *, n: int, into: Path) -> tuple[Path, Path]:
    """``into``/bids and ``into``/out: N participants made from the first participant of ``output_dir``."""
    import numpy as np

    from bids_app.derivatives import read_tsv, tsv_text

    first = min(p for p in output_dir.glob("sub-*") if p.is_dir())
    label = first.name
    bids, out = into / "bids", into / "out"
    bids.mkdir(parents=True)
    shutil.copy(bids_dir / "dataset_description.json", bids)
    out.mkdir()
    shutil.copy(output_dir / "dataset_description.json", out)
    files = [p for p in first.rglob("*") if p.is_file() and not p.name.endswith("_design.tsv")]
    texts = {p.relative_to(first): p.read_text() for p in files if not p.name.endswith("_stats.tsv")}
    stats = {p.relative_to(first): read_tsv(p) for p in files if p.name.endswith("_stats.tsv")}
    sources = [p.relative_to(bids_dir / label) for p in (bids_dir / label).rglob("*_nirs.snirf")]
    rng = np.random.default_rng(0)
    people = []
    for i in range(n):
        name = f"sub-{i:05d}"
        people.append(name)
        for relative, text in texts.items():
            _write(out / name / str(relative).replace(label, name), text.replace(label, name))
        for relative, table in stats.items():
            effect = table["effect"] + rng.normal(0, 0.1, len(table))
            _write(out / name / str(relative).replace(label, name), tsv_text(table.assign(effect=effect)))
        for source in sources:
            _write(bids / name / str(source).replace(label, name), "")
    (bids / "participants.tsv").write_text("participant_id\n" + "\n".join(people) + "\n")
    return bids, out


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def full_group_level(bids_dir: Path, output_dir: Path, *, n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        bids, out = clone_study(bids_dir, output_dir, n=n, into=Path(tmp))
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(ROOT / "run.py"), str(bids), str(out), "group",
                               "--skip_bids_validator"], capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if done.returncode:
            sys.exit(done.stderr[-3000:])
        rows = sum(len(p.read_text().splitlines()) - 1 for p in out.glob("task-*_stats.tsv"))
        input_rows = sum(len(p.read_text().splitlines()) - 1
                         for p in (out / "sub-00000").rglob("*_stats.tsv")) * n
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb, "rows": rows, "input_rows": input_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--methods", nargs="+", default=["random-effects", "ols"])
    parser.add_argument("--full", nargs=2, type=Path, metavar=("BIDS_DIR", "OUTPUT_DIR"))
    parser.add_argument("--one", nargs=2, metavar=("N", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.full:
        print("| whole group level (default method) | participants | input rows | output rows | seconds "
              "| peak memory (MB) |\n|---|---|---|---|---|---|")
        for n in args.participants:
            result = full_group_level(*args.full, n=n)
            print(f"| run.py ... group | {n} | {result['input_rows']} | {result['rows']} | {result['seconds']:.2f} "
                  f"| {result['peak_mb']:.0f} |", flush=True)
        return
    if args.one:
        print(json.dumps(measure(int(args.one[0]), args.one[1])))
        return
    print("| method | participants | input rows | output rows | seconds | peak memory (MB) |\n|---|---|---|---|---|---|")
    for method in args.methods:
        for n in args.participants:
            done = subprocess.run([sys.executable, __file__, "--one", str(n), method], capture_output=True,
                                  text=True, check=False)
            if done.returncode:
                sys.exit(done.stderr[-3000:])
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {method} | {n} | {result['input_rows']} | {result['rows']} | {result['seconds']:.2f} "
                  f"| {result['peak_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
