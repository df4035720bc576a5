"""Time and peak memory of the group level for many participants.

    python benchmarks/group_scaling.py [--participants 100 1000 10000] [--methods random-effects ols]
    python benchmarks/group_scaling.py --full BIDS_DIR OUTPUT_DIR [--participants 1000 10000] [--repeat 3]
        [--clones DIR] [--group-args '--group-method ols']

For each number of participants N, a fresh Python process builds in memory the participant-level tables of a
study like the tutorial's (56 channels x 3 conditions x 2 chroma, 2 ROIs x 3 conditions x 2 chroma, one
contrast x 56 channels x 2 chroma: 460 rows per participant, effects with first-level se spread over a
factor of 3 and cell-specific between-participant spreads), then times ``bids_app.group_level.models.group_table`` for
the tables (everything the group level computes: per-participant combination, per-cell models,
inference, FDR, sorting). Printed: seconds for the tables, the process's peak resident memory (ru_maxrss,
including Python, numpy, pandas, statsmodels and the input tables) and the rows written. Reading the
participant TSV files and drawing figures are not included.

With ``--full BIDS_DIR OUTPUT_DIR`` (a study and its participant-level outputs, e.g. the bundled recordings'
or the simulator's), every participant-level file of its first participant is cloned into N participants in a
temporary directory (or ``--clones DIR``, kept for the next run): the stats tables (channel, roi, contrast,
waveform, blockaverage) with their effects perturbed per participant, the sidecars, design and QC tables, the
figures and the participant report; the input recordings as empty files. The whole group level,
``python run.py BIDS OUT group --skip_bids_validator`` (finding and reading every participant file, models,
tables, figures, report), is then timed as a subprocess, ``--repeat`` times: wall seconds and the peak
resident memory of the child process itself (its ru_maxrss from wait4, what ``/usr/bin/time -v`` reports),
medians and every run. Input rows: the rows of the participant tables the group level reads (roi, channel,
contrast, waveform; of the waveform tables it keeps the ROI rows).

    .venv/bin/fnirs-glm tests/data/grptap OUT participant && \
    python benchmarks/group_scaling.py --full tests/data/grptap OUT --participants 1000 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
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
    """``into``/bids and ``into``/out: N participants made from the first participant of ``output_dir``.

    Every participant-level file of the first participant is cloned, under the new label: its stats tables
    (every ``desc-*_stats.tsv``: channel, roi, contrast, waveform, blockaverage) with their effects perturbed
    per participant, its other text files (sidecars, design and QC tables) with the label replaced, and its
    figures and participant report (``sub-<label>.html``) hard-linked (copied where links are not possible);
    the input recordings as empty files.
    """
    import numpy as np

    from bids_app.derivatives import _cells, read_tsv

    first = min(p for p in output_dir.glob("sub-*") if p.is_dir())
    label = first.name
    bids, out = into / "bids", into / "out"
    bids.mkdir(parents=True)
    shutil.copy(bids_dir / "dataset_description.json", bids)
    out.mkdir()
    shutil.copy(output_dir / "dataset_description.json", out)
    files = [p for p in first.rglob("*") if p.is_file()]
    stats, texts, binaries = {}, {}, {}
    for path in files:
        relative = path.relative_to(first)
        if path.name.endswith("_stats.tsv"):
            table = read_tsv(path)
            columns = [_cells(table[c]) for c in table.columns]
            stats[relative] = (list(table.columns), columns, table["effect"].to_numpy(float))
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            binaries[relative] = path
            continue
        if path.suffix in (".png", ".svg") or label not in text:
            binaries[relative] = path  # figures (and files without the label): the same bytes for everyone
        else:
            texts[relative] = text
    report = output_dir / f"{label}.html"  # the participant report, beside the participant folders
    sources = [p.relative_to(bids_dir / label) for p in (bids_dir / label).rglob("*_nirs.snirf")]
    rng = np.random.default_rng(0)
    people = []
    for i in range(n):
        name = f"sub-{i:05d}"
        people.append(name)
        for relative, text in texts.items():
            _write(out / name / str(relative).replace(label, name), text.replace(label, name))
        for relative, (names, columns, effect) in stats.items():
            perturbed = effect + rng.normal(0, 0.1, len(effect))
            cells = [_cells_of(perturbed) if column == "effect" else values for column, values in zip(names, columns)]
            _write(out / name / str(relative).replace(label, name),
                   "\n".join(["\t".join(names), *("\t".join(row) for row in zip(*cells))]) + "\n")
        for relative, path in binaries.items():
            _link(path, out / name / str(relative).replace(label, name))
        if report.is_file():
            _link(report, out / f"{name}.html")
        for source in sources:
            _write(bids / name / str(source).replace(label, name), "")
    (bids / "participants.tsv").write_text("participant_id\n" + "\n".join(people) + "\n")
    return bids, out


def _cells_of(values) -> list[str]:
    """Floats as ``derivatives.tsv_text`` writes them (the other columns of a clone are formatted once)."""
    return [f"{v:.10g}" if v == v else "n/a" for v in values.tolist()]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _link(source: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, path)
    except OSError:
        shutil.copyfile(source, path)


def group_level_run(bids: Path, out: Path, *, args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident memory in MB) of ``run.py bids out group --skip_bids_validator``
    in a child process: its own ru_maxrss from wait4, as ``/usr/bin/time -v`` reports it."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, str(ROOT / "run.py"), str(bids), str(out), "group",
                                  "--skip_bids_validator", *args], stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        if child.returncode:
            sys.exit(stderr.read().decode(errors="replace")[-3000:])
    return seconds, usage.ru_maxrss / 1024


def full_group_level(bids_dir: Path, output_dir: Path, *, n: int, repeat: int = 1, args: list[str] | None = None,
                     clones: Path | None = None) -> dict:
    """The whole group level of N cloned participants, ``repeat`` times (medians, and every run's numbers);
    the clones in ``clones``/<N> (kept and reused) or in a temporary directory."""
    import statistics

    with tempfile.TemporaryDirectory() as tmp:
        into = Path(tmp) if clones is None else clones / str(n)
        source = json.dumps([str(bids_dir.resolve()), str(output_dir.resolve())])
        if not (into / "out").is_dir() or not (into / "source.json").is_file() \
                or (into / "source.json").read_text() != source:  # not yet cloned, or from another study
            if into.exists():
                shutil.rmtree(into)
            clone_study(bids_dir, output_dir, n=n, into=into)
            (into / "source.json").write_text(source)
        bids, out = into / "bids", into / "out"
        runs = [group_level_run(bids, out, args=args or []) for _ in range(repeat)]
        rows = sum(len(p.read_text().splitlines()) - 1 for p in out.glob("task-*_stats.tsv"))
        read = ("roi", "channel", "contrast", "waveform")
        input_rows = sum(len(p.read_text().splitlines()) - 1 for p in (out / "sub-00000").rglob("*_stats.tsv")
                         if p.name.split("_desc-")[-1].removesuffix("_stats.tsv") in read) * n
    return {"seconds": statistics.median(s for s, _ in runs), "peak_mb": statistics.median(m for _, m in runs),
            "runs": runs, "rows": rows, "input_rows": input_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--methods", nargs="+", default=["random-effects", "ols"])
    parser.add_argument("--full", nargs=2, type=Path, metavar=("BIDS_DIR", "OUTPUT_DIR"))
    parser.add_argument("--repeat", type=int, default=1,
                        help="with --full: run the group level this many times per N; medians are printed")
    parser.add_argument("--clones", type=Path, metavar="DIR",
                        help="with --full: keep the cloned studies in DIR/<N> and reuse them (cloning 10,000 "
                        "participants takes minutes)")
    parser.add_argument("--group-args", type=shlex.split, default=[], metavar="ARGS",
                        help="with --full: more options of the group level, e.g. --group-args '--group-method ols'")
    parser.add_argument("--one", nargs=2, metavar=("N", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.full:
        print("| whole group level | participants | input rows | output rows | seconds | peak memory (MB) | runs "
              "(seconds, MB) |\n|---|---|---|---|---|---|---|")
        for n in args.participants:
            result = full_group_level(*args.full, n=n, repeat=args.repeat, args=args.group_args,
                                      clones=args.clones)
            runs = ", ".join(f"{s:.1f} s {m:.0f} MB" for s, m in result["runs"])
            print(f"| {' '.join(['run.py ... group', *args.group_args])} | {n} | {result['input_rows']} "
                  f"| {result['rows']} | {result['seconds']:.2f} | {result['peak_mb']:.0f} | {runs} |", flush=True)
        print(f"\nLoad average when done: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs; "
              "other processes slow the wall time)")
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
