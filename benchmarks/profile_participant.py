"""Where fnirs-glm's time goes on one recording: cProfile, then a breakdown by phase.

    python benchmarks/profile_participant.py BIDS_DIR [--recording TEXT] [--repeat 5] [fnirs-glm options]
    e.g. python benchmarks/profile_participant.py ../shared/data/grptap --resample-hz 0.3

One recording (the first *_nirs.snirf of BIDS_DIR, or the first whose path contains TEXT) is analysed by
bids_app.run.participant.process_recording with the Config of `run.py BIDS_DIR TMP participant
--skip_bids_validator --overwrite [fnirs-glm options]` (outputs to a temporary directory) and the BLAS
thread settings of the command line, in this process:
1. a first run (lazy imports, cold caches: its time is printed), then one run under cProfile: the 25
   functions with the largest cumulative time.
2. --repeat runs with the module functions that process_recording calls wrapped in timers, so that the
   phases are timed on the real code path, in process_recording's order:
     reading     read_raw_intensity (mne-bids + SNIRF), read_events, read_channels_tsv, coordinate_system
     optics      assess_channels (intensity checks, optical density, scalp coupling index) and
                 to_haemoglobin (Beer-Lambert law, picking the good channels)
     resampling  preprocessing.resample of the haemoglobin signals (called by to_haemoglobin)
     design      build_design (nilearn; with --design-rate native also the regressors' resampling)
     GLM fit     fit_glm (all channels and ROI signals)
     tables      channel/ROI/contrast tables, sidecars, TSV and JSON text
     writing     atomic writes, removal of stale outputs
     other       the rest of process_recording (ROI set-up and averaging, glue)
   A phase's time excludes the timed calls nested in it; medians over the runs are printed.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import importlib
import io
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's bids_app, installed or not

PHASES = {
    "reading": ["inputs.read_raw_intensity", "inputs.read_channels_tsv", "inputs.coordinate_system",
                "first_level.events.read_events"],
    "optics": ["first_level.preprocessing.assess_channels", "first_level.preprocessing.to_haemoglobin"],
    "resampling": ["first_level.preprocessing.resample"],
    "design": ["first_level.design.build_design"],
    "GLM fit": ["first_level.glm.fit_glm"],
    "tables": ["first_level.tables.channel_table", "first_level.tables.roi_table", "first_level.tables.contrast_table",
               "derivatives.tsv_text", "derivatives.json_text"] + [f"first_level.sidecars.{name}" for name in (
                   "design_sidecar", "channel_stats_sidecar", "roi_stats_sidecar", "qc_channels_sidecar",
                   "contrast_stats_sidecar")],
    "writing": ["derivatives.write_atomic", "run.participant._remove_outputs"],
}


class PhaseTimer:
    """Wraps module functions; accumulates each phase's exclusive time."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.stack: list[list] = []  # [phase, time spent in nested timed calls]

    def install(self) -> None:
        for phase, targets in PHASES.items():
            for target in targets:
                module_name, name = target.rsplit(".", 1)
                module = importlib.import_module(f"bids_app.{module_name}")
                setattr(module, name, self._wrap(getattr(module, name), phase))

    def _wrap(self, function, phase: str):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            if phase == "resampling" and (not self.stack or self.stack[-1][0] != "optics"):
                return function(*args, **kwargs)  # the design's resampling stays in "design"
            frame = [phase, 0.0]
            self.stack.append(frame)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.stack.pop()
                self.seconds[phase] += elapsed - frame[1]
                if self.stack:
                    self.stack[-1][1] += elapsed

        return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bids_dir", type=Path)
    parser.add_argument("--recording", default="", help="analyse the first recording whose path has this")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    args, options = parser.parse_known_args()

    import os

    from bids_app import cli

    for variable in getattr(cli, "BLAS_THREAD_VARIABLES", ()):  # as cli.main does, before numpy
        os.environ.setdefault(variable, "1")
    import mne
    from mne_bids import get_bids_path_from_fname

    from bids_app.cli import parse_args
    from bids_app.dataset import condition_names
    from bids_app.first_level.contrasts import parse_contrast
    from bids_app.run.participant import process_recording

    mne.set_log_level("error")  # as the app's workers do
    fname = next(p for p in sorted(args.bids_dir.resolve().glob("sub-*/**/nirs/*_nirs.snirf"))
                 if args.recording in str(p))
    bids_path = get_bids_path_from_fname(fname)
    out = tempfile.TemporaryDirectory(prefix="fnirs-glm-profile-")  # removed at exit
    # --overwrite: every run analyses the recording (the outputs of the run before would make it a skip)
    config = parse_args([str(bids_path.root), out.name, "participant", "--skip_bids_validator", "--overwrite",
                         *options])
    conditions = sorted(condition_names(bids_path))
    contrasts = {e: parse_contrast(e, conditions) for e in config.first_level.contrast}

    def analyse():
        outcome = process_recording(bids_path, config=config, contrasts=contrasts)
        if outcome.status != "done":
            sys.exit(outcome.message)
        return outcome.seconds

    print(f"recording: {fname}\noptions: {' '.join(options) or '(defaults)'}\n"
          f"first run (lazy imports, cold caches): {analyse():.3f} s\n")
    profiler = cProfile.Profile()
    profiler.runcall(analyse)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(args.top)
    site_packages = str(Path(mne.__file__).parents[1]) + "/"
    print(text.getvalue().replace(site_packages, "").replace(str(ROOT) + "/", ""))

    timer = PhaseTimer()
    timer.install()
    runs = []
    for _ in range(args.repeat):
        timer.seconds.clear()
        total = analyse()
        runs.append({**timer.seconds, "other": total - sum(timer.seconds.values()), "total": total})
    print(f"Phases of process_recording (median of {args.repeat} runs, without the profiler):\n")
    print("| phase | seconds | share |\n|---|---|---|")
    total = statistics.median(run["total"] for run in runs)
    for phase in [*PHASES, "other", "total"]:
        seconds = statistics.median(run.get(phase, 0.0) for run in runs)
        print(f"| {phase} | {seconds:.4f} | {seconds / total:.1%} |")


if __name__ == "__main__":
    main()
