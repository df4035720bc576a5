"""Cost of the reports and figures: time per participant report, group figures + report, file sizes.

    python benchmarks/reports.py BIDS_DIR [--repeat 3]

Runs the participant level (no reports timed there) into a temporary directory, then times, in this
process after a warm-up: ``write_participant_report`` for each participant, the group level's
``report_files`` for the first task (figures and report, written), and for each recording its figures
(signal overview and spectrum, PNG and SVG: ``report.signals.recording_figures`` of
``first_level.signals.recording_signals``, which the participant job calls with the recording's optical
density and haemoglobin); prints Markdown with the medians and the files' sizes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bids_dir", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from bids_app.cli import main as cli
    from bids_app.cli import parse_args
    from bids_app.derivatives import write_atomic
    from bids_app.group_level.collect import collect
    from bids_app.layout import GroupOutputs, RecordingOutputs, participant_report_file
    from bids_app.report.group import report_files
    from bids_app.run.group import fit_group_tables
    from bids_app.run.participant import write_participant_report

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        started = time.perf_counter()
        assert cli([str(args.bids_dir), str(out), "participant", "--skip_bids_validator", "--n_cpus", "1"]) == 0
        participant_s = time.perf_counter() - started
        subjects = sorted(p.name[4:] for p in out.glob("sub-*") if p.is_dir())
        write_participant_report(out, subject=subjects[0])  # warm-up: imports, fonts
        per_report = []
        for subject in subjects:
            times, cpu = [], []
            for _ in range(args.repeat):
                started, started_cpu = time.perf_counter(), time.process_time()
                outcome = write_participant_report(out, subject=subject, overwrite=True)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
                assert outcome.status == "done", outcome.message
            recordings = len(RecordingOutputs.find(out, subject=subject))
            per_report.append((subject, recordings, statistics.median(times), statistics.median(cpu),
                               participant_report_file(out, subject=subject).stat().st_size))

        config = parse_args([str(args.bids_dir), str(out), "group"])
        inputs = collect(out, bids_dir=args.bids_dir)
        results, _ = fit_group_tables(inputs, method="random-effects")
        task = next(iter(results))
        outputs = GroupOutputs(out, task)
        group_times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            for path, content in report_files(inputs, outputs=outputs, results=results[task],
                                              q_threshold=config.group.topomap_q_threshold).items():
                write_atomic(path, content)
            group_times.append(time.perf_counter() - started)
        report = outputs.report
        figure_sizes = sum(p.stat().st_size for p in (out / "figures").glob("*.png"))
        report_size = report.stat().st_size

    print(f"## Reports and figures: {args.bids_dir.name}\n")
    print(f"Participant level (tables, then reports) with --n_cpus 1: {participant_s:.1f} s in all.\n")
    print(f"Load average when done: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (other processes slow the wall "
          "time; CPU time is this process's own).\n")
    print("| participant report | recordings | median time (s) | median CPU time (s) | size (kB) |")
    print("|---|---|---|---|---|")
    for subject, recordings, seconds, cpu_seconds, size in per_report:
        print(f"| sub-{subject}.html | {recordings} | {seconds:.2f} | {cpu_seconds:.2f} | {size / 1000:.0f} |")
    print(f"\nGroup figures + report of task {task}: median {statistics.median(group_times):.2f} s "
          f"(of {args.repeat}); report {report_size / 1000:.0f} kB, "
          f"figures {figure_sizes / 1000:.0f} kB.")
    print("\n| recording figures (signals + spectrum) | duration | channels | median time (s) | median CPU time (s) "
          "| PNG (kB) | SVG (kB) |")
    print("|---|---|---|---|---|---|---|")
    for row in recording_figure_times(args.bids_dir, repeat=args.repeat):
        print("| " + " | ".join(row) + " |")


def recording_figure_times(bids_dir: Path, *, repeat: int) -> list[list[str]]:
    """Per recording: the time (wall, CPU; medians of ``repeat`` after a warm-up) of ``recording_signals`` and
    ``recording_figures`` from the recording's optical density and haemoglobin, read and converted as the
    participant job does, and the sizes of its PNG and SVG."""
    from mne.preprocessing.nirs import beer_lambert_law
    from mne_bids import find_matching_paths

    from bids_app.first_level.preprocessing import assess_channels
    from bids_app.first_level.resampling import resample_raw
    from bids_app.first_level.signals import recording_signals
    from bids_app.inputs import load_recording
    from bids_app.options import FirstLevelOptions
    from bids_app.report.signals import recording_figures

    options, rows = FirstLevelOptions(), []
    for path in find_matching_paths(bids_dir, datatypes="nirs", suffixes="nirs", extensions=".snirf"):
        inputs = load_recording(path, options=options, warn=lambda _: None)
        qc, od = assess_channels(inputs.raw, inputs.channels, options=options, warn=lambda _: None)
        haemo = resample_raw(beer_lambert_law(od.copy(), ppf=options.ppf), sfreq=options.resample_hz,
                         method=options.resample_method)
        events = inputs.events
        drawn = recording_figures(recording_signals(od, haemo, qc, events), title=path.basename)  # warm-up
        times, cpu = [], []
        for _ in range(repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            drawn = recording_figures(recording_signals(od, haemo, qc, events), title=path.basename)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        rows.append([path.basename, f"{od.times[-1] / 60:.0f} min", str(len(od.ch_names)),
                     f"{statistics.median(times):.2f}", f"{statistics.median(cpu):.2f}",
                     f"{sum(len(png) for png, _ in drawn.values()) / 1000:.0f}",
                     f"{sum(len(svg) for _, svg in drawn.values()) / 1000:.0f}"])
    return rows


if __name__ == "__main__":
    main()
