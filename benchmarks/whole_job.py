"""What a user waits for: the whole participant job against the MNE-NIRS tutorial pipeline, per recording.

    python benchmarks/whole_job.py BIDS_DIR [--recordings N] [--resample-hz 0.6] [fnirs-glm options ...]
    python benchmarks/whole_job.py --simulate 3 [--duration 2700] ...   (a simulated tutorial-like study)
    python benchmarks/whole_job.py BIDS_DIR --recordings 3 --min-ratio 5   (a gate: exit 1 below 5x)

Both pipelines run in this one invocation on the same recordings, one after the other, each as a fresh
subprocess with one BLAS thread, so that the machine's load affects both alike:
  fnirs-glm  `fnirs-glm BIDS OUT participant --n_cpus 1 --skip_bids_validator [options]`: every default step
             (motion correction, the GLM with its noise model, waveforms, block averages, QC metrics, anatomy,
             the recording figures, the participant reports), for the first recording alone and then for the
             first N (fresh output folders), from the command line's start to its exit;
  tutorial   the tutorial's individual_analysis (benchmarks/tutorial_vs_fnirs_glm.py: read_raw_bids, optical
             density, Beer-Lambert, resample to --resample-hz, short/long channels, the design, run_glm with
             noise_model="auto", channel, ROI and contrast data frames), looped over the same 1 and N recordings
             in one process, imports included.
The marginal cost of one more recording is (T_N - T_1) / (N - 1): the job's start-up (imports, validation of
the options, the pool) cancels. Both pipelines first run once untimed (a warm-up: files and libraries into the
OS cache); with --repeat R each of the four runs is timed R times and its minimum kept. Printed as Markdown: both marginal costs and their ratio, fnirs-glm's time per
recording and per report from its run log (medians), and the whole runs' times; the tutorial's phases (medians
over the recordings after its first, timed inside its loop); with --phases, fnirs-glm's phases (the job run
once more in one process, for the first recording to warm up and then the second, with a timer around each
step's function; the steps overlap: "fit" holds read to block averages, "recording" everything of one
recording).

--min-ratio X makes it a gate (CI): exit 1 with one line on stderr when tutorial / fnirs-glm (marginal cost per
recording) is below X. A ratio, never an absolute time: both pipelines run in the same job, so machine load
cancels.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}

TUTORIAL = r"""
import sys, time
import mne, numpy as np
from mne.preprocessing.nirs import beer_lambert_law, optical_density
from mne_bids import get_bids_path_from_fname, read_raw_bids
from mne_nirs.channels import get_long_channels, get_short_channels, picks_pair_to_idx
from mne_nirs.experimental_design import make_first_level_design_matrix
from mne_nirs.statistics import run_glm
mne.set_log_level("error")
resample_hz = float(sys.argv[1])
for fname in sys.argv[2:]:
    phases, clock = {}, time.perf_counter()
    def done(phase):
        global clock
        now = time.perf_counter(); phases[phase] = now - clock; clock = now
    raw_intensity = read_raw_bids(bids_path=get_bids_path_from_fname(fname), verbose=False); done("read (header)")
    raw_haemo = beer_lambert_law(optical_density(raw_intensity), ppf=6.0)
    done("optical density (loads the data), haemoglobin")
    raw_haemo.resample(resample_hz); done("resample")
    short = get_short_channels(raw_haemo)
    raw_haemo = get_long_channels(raw_haemo)
    design = make_first_level_design_matrix(raw_haemo, stim_dur=5.0)
    design["ShortHbO"] = np.mean(short.copy().pick(picks="hbo").get_data(), axis=0)
    design["ShortHbR"] = np.mean(short.copy().pick(picks="hbr").get_data(), axis=0); done("design")
    glm = run_glm(raw_haemo, design, noise_model="auto"); done("GLM (AR(P))")
    glm.to_dataframe()
    x = {ch["ch_name"].split(" ")[0]: ch["loc"][0] for ch in raw_haemo.info["chs"]}
    groups = {side: [[int(n) for n in p[1:].split("_D")] for p, v in x.items() if (v < 0) == (side == "Left")]
              for side in ("Left", "Right")}
    glm.to_dataframe_region_of_interest({s: picks_pair_to_idx(raw_haemo, g, on_missing="ignore")
                                         for s, g in groups.items() if g}, design.columns, demographic_info=True)
    conditions = sorted(set(raw_intensity.annotations.description))
    if len(conditions) >= 2:
        eye = np.eye(design.shape[1]); basis = dict(zip(design.columns, eye))
        glm.compute_contrast(basis[conditions[-2]] - basis[conditions[-1]]).to_dataframe()
    done("tables (channel, ROI, contrast)")
    print("PHASES " + json.dumps(phases), flush=True)
""".replace("import sys, time", "import json, sys, time")

# fnirs-glm's steps, each timed around the function that does it (module, function, label); a function that a
# future version renames or moves is skipped
STEPS = [("bids_app.run.participant", "process_recording", "recording (all of it)"),
         ("bids_app.first_level.fit", "fit_recording", "fit (read to block averages)"),
         ("bids_app.inputs", "load_recording", "read"),
         ("bids_app.first_level.preprocessing", "assess_channels", "QC metrics (SCI, PSP, motion burden)"),
         ("bids_app.first_level.preprocessing", "to_haemoglobin", "motion correction, haemoglobin, resampling"),
         ("bids_app.anatomy.recording", "recording_anatomy", "anatomy"),
         ("bids_app.first_level.signals", "recording_signals", "arrays of the recording figures"),
         ("bids_app.first_level.design", "build_design", "design"),
         ("bids_app.first_level.fit", "_fit", "GLM and FIR fits"),
         ("bids_app.first_level.block_average", "block_average_table", "block averages"),
         ("bids_app.first_level.write", "write_recording", "write (tables, sidecars, figures)"),
         ("bids_app.report.signals", "recording_figures", "recording figures (PNG + SVG)"),
         ("bids_app.run.participant", "write_participant_report", "participant report")]

PHASES = r"""
import importlib, json, sys, time
from bids_app.cli import main
bids, out, labels, steps, options = sys.argv[1], sys.argv[2], sys.argv[3:5], json.loads(sys.argv[5]), sys.argv[6:]
spent = {}
def timer(function, label):
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - started
    return timed
for module, name, label in steps:
    try:
        target = importlib.import_module(module)
        setattr(target, name, timer(getattr(target, name), label))
    except (ImportError, AttributeError):
        pass
for index, label in enumerate(labels):
    spent.clear()
    main([bids, f"{out}_{index}", "participant", "--n_cpus", "1", "--skip_bids_validator", "--participant_label", label,
          *options])
print("PHASES " + json.dumps(spent))
"""


def _timed(command: list[str]) -> tuple[float, list[dict]]:
    """Seconds the command took, and the phases it printed (lines "PHASES {json}")."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **ONE_THREAD}, check=False,
                          cwd=ROOT)  # `python -c` imports bids_app from the working directory first: this tree's
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    seconds = time.perf_counter() - started
    return seconds, [json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("PHASES ")]


def _median_phases(rows: list[dict]) -> dict[str, float]:
    return {phase: statistics.median(row[phase] for row in rows if phase in row)
            for phase in dict.fromkeys(p for row in rows for p in row)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bids_dir", nargs="?", type=Path)
    parser.add_argument("--simulate", type=int, metavar="N", help="simulate N participants instead of BIDS_DIR")
    parser.add_argument("--duration", type=float, default=2700.0, help="seconds per simulated recording")
    parser.add_argument("--recordings", type=int, default=3)
    parser.add_argument("--resample-hz", type=float, default=0.6, help="the tutorial's rate (fnirs-glm's default)")
    parser.add_argument("--min-ratio", type=float, metavar="X",
                        help="exit 1 when tutorial / fnirs-glm (marginal s per recording) is below X (a CI gate)")
    parser.add_argument("--repeat", type=int, default=1, help="time each run this often, keep the minimum")
    parser.add_argument("--phases", action="store_true",
                        help="also time fnirs-glm's steps (one more run of the job, in one process)")
    args, options = parser.parse_known_args()
    if args.min_ratio is not None and not args.min_ratio > 0:
        parser.error(f"--min-ratio must be a positive number, not {args.min_ratio}")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        bids = args.bids_dir.resolve() if args.bids_dir else None
        if args.simulate:
            from bids_app.simulate import SimulationOptions, simulate_dataset

            bids = simulate_dataset(scratch / "bids", options=SimulationOptions(
                subjects=args.simulate, duration_s=args.duration, seed=1))
        recordings = sorted(bids.glob("sub-*/**/nirs/*_nirs.snirf"))[: args.recordings]
        if len(recordings) < 2:
            raise SystemExit("need at least 2 recordings")
        subjects = [r.name.split("_")[0].removeprefix("sub-") for r in recordings]
        if len(set(subjects)) != len(subjects):
            raise SystemExit("use one recording per participant (the job is selected by --participant_label)")
        app = [sys.executable, str(ROOT / "run.py"), str(bids)]
        def run(pipeline: str, chosen: list[str], out: Path) -> tuple[float, list[dict]]:
            if pipeline == "fnirs-glm":
                shutil.rmtree(out, ignore_errors=True)  # fresh: nothing skipped as already done
                return _timed([*app, str(out), "participant", "--n_cpus", "1", "--skip_bids_validator",
                               "--participant_label", *chosen, *options])
            return _timed([sys.executable, "-c", TUTORIAL, str(args.resample_hz),
                           *[str(r) for r in recordings[: len(chosen)]]])

        for pipeline in ("fnirs-glm", "tutorial"):  # warm-up, not timed: files and libraries into the OS cache
            run(pipeline, subjects[:1], scratch / "warm-up")
        runs, tutorial_phases = {}, []
        for _ in range(args.repeat):  # each measurement's minimum over the repeats: the least disturbed one
            for label, chosen in (("1", subjects[:1]), ("N", subjects)):
                for pipeline in ("fnirs-glm", "tutorial"):
                    seconds, phases = run(pipeline, chosen, scratch / f"out_{label}")
                    runs.setdefault((pipeline, label), []).append(seconds)
                    tutorial_phases += phases if label == "N" else []
        times = {key: min(values) for key, values in runs.items()}
        log = json.loads(next((scratch / "out_N" / "logs").glob("participant_*.json")).read_text())
        app_phases = {}
        if args.phases:
            _, found = _timed([sys.executable, "-c", PHASES, str(bids), str(scratch / "phases"), *subjects[:2],
                               json.dumps(STEPS), *options])
            app_phases = found[-1] if found else {}
    n = len(recordings)
    marginal = {p: (times[(p, "N")] - times[(p, "1")]) / (n - 1) for p in ("fnirs-glm", "tutorial")}
    per_recording = statistics.median(r["Seconds"] for r in log["Recordings"])
    per_report = statistics.median(r["Seconds"] for r in log["Reports"])
    print(f"{n} recordings of {bids}; fnirs-glm options: {' '.join(options) or '(defaults)'}; tutorial at "
          f"{args.resample_hz:g} Hz, AR(P); one BLAS thread; each time the minimum of {args.repeat} run(s) after a "
          "warm-up\n")
    ratio = marginal["tutorial"] / marginal["fnirs-glm"] if marginal["fnirs-glm"] > 0 else math.nan
    print("| | fnirs-glm (whole job) | tutorial | tutorial / fnirs-glm |\n|---|---|---|---|")
    print(f"| marginal s per recording | {marginal['fnirs-glm']:.2f} | {marginal['tutorial']:.2f} | {ratio:.1f}x |")
    print(f"| 1 recording, s | {times[('fnirs-glm', '1')]:.1f} | {times[('tutorial', '1')]:.1f} | |")
    print(f"| {n} recordings, s | {times[('fnirs-glm', 'N')]:.1f} | {times[('tutorial', 'N')]:.1f} | |")
    print(f"\nfnirs-glm's run log, medians: {per_recording:.2f} s per recording (read, fit, tables, recording "
          f"figures, write), {per_report:.2f} s per participant report")
    tutorial_steps = _median_phases([p for i, p in enumerate(tutorial_phases) if i % n] or tutorial_phases)
    print(f"\ntutorial's phases (median s per recording over recordings 2-{n} of each run): "
          + ", ".join(f"{phase} {seconds:.2f}" for phase, seconds in tutorial_steps.items()))
    if app_phases:
        print(f"\nfnirs-glm's steps (s, the second recording of an in-process run; steps overlap):\n\n| step | s |\n|---|---|")
        for _, _, label in STEPS:
            if label in app_phases:
                print(f"| {label} | {app_phases[label]:.2f} |")
    print(f"RATIO {ratio:.2f}")
    if args.min_ratio is not None and math.isnan(ratio):
        print(f"whole_job: FAIL: no marginal cost measured (fnirs-glm {marginal['fnirs-glm']:.2f} s per recording: "
              "the machine's load changed between the runs; try --repeat 3)", file=sys.stderr)
        sys.exit(1)
    if args.min_ratio is not None and not ratio >= args.min_ratio:
        print(f"whole_job: FAIL: tutorial / fnirs-glm = {ratio:.2f}x per recording, below the gate's {args.min_ratio:g}x "
              f"(fnirs-glm {marginal['fnirs-glm']:.2f} s, tutorial {marginal['tutorial']:.2f} s per recording)",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
