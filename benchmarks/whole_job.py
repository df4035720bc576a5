"""What a user waits for: the whole participant job against the MNE-NIRS tutorial pipeline, per recording.

    python benchmarks/whole_job.py BIDS_DIR [--recordings N] [--resample-hz 0.6] [fnirs-glm options ...]
    python benchmarks/whole_job.py --simulate 3 [--duration 2700] ...   (a simulated tutorial-like study)

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
the options, the pool) cancels. Printed as Markdown: both marginal costs and their ratio, fnirs-glm's time per
recording and per report from its run log (medians), and the whole runs' times.
"""

from __future__ import annotations

import argparse
import json
import os
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
    raw_intensity = read_raw_bids(bids_path=get_bids_path_from_fname(fname), verbose=False)
    raw_haemo = beer_lambert_law(optical_density(raw_intensity), ppf=6.0)
    raw_haemo.resample(resample_hz)
    short = get_short_channels(raw_haemo)
    raw_haemo = get_long_channels(raw_haemo)
    design = make_first_level_design_matrix(raw_haemo, stim_dur=5.0)
    design["ShortHbO"] = np.mean(short.copy().pick(picks="hbo").get_data(), axis=0)
    design["ShortHbR"] = np.mean(short.copy().pick(picks="hbr").get_data(), axis=0)
    glm = run_glm(raw_haemo, design, noise_model="auto")
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
"""


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **ONE_THREAD}, check=False)
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bids_dir", nargs="?", type=Path)
    parser.add_argument("--simulate", type=int, metavar="N", help="simulate N participants instead of BIDS_DIR")
    parser.add_argument("--duration", type=float, default=2700.0, help="seconds per simulated recording")
    parser.add_argument("--recordings", type=int, default=3)
    parser.add_argument("--resample-hz", type=float, default=0.6, help="the tutorial's rate (fnirs-glm's default)")
    args, options = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        bids = args.bids_dir
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
        times = {}
        for label, chosen in (("1", subjects[:1]), ("N", subjects)):
            out = scratch / f"out_{label}"
            times[("fnirs-glm", label)] = _timed([*app, str(out), "participant", "--n_cpus", "1",
                                                  "--skip_bids_validator", "--participant_label", *chosen, *options])
            times[("tutorial", label)] = _timed([sys.executable, "-c", TUTORIAL, str(args.resample_hz),
                                                 *[str(r) for r in recordings[: len(chosen)]]])
        log = json.loads(next((scratch / "out_N" / "logs").glob("participant_*.json")).read_text())
    n = len(recordings)
    marginal = {p: (times[(p, "N")] - times[(p, "1")]) / (n - 1) for p in ("fnirs-glm", "tutorial")}
    per_recording = statistics.median(r["Seconds"] for r in log["Recordings"])
    per_report = statistics.median(r["Seconds"] for r in log["Reports"])
    print(f"{n} recordings of {bids}; fnirs-glm options: {' '.join(options) or '(defaults)'}; tutorial at "
          f"{args.resample_hz:g} Hz, AR(P); one BLAS thread\n")
    print("| | fnirs-glm (whole job) | tutorial | tutorial / fnirs-glm |\n|---|---|---|---|")
    print(f"| marginal s per recording | {marginal['fnirs-glm']:.2f} | {marginal['tutorial']:.2f} | "
          f"{marginal['tutorial'] / marginal['fnirs-glm']:.1f}x |")
    print(f"| 1 recording, s | {times[('fnirs-glm', '1')]:.1f} | {times[('tutorial', '1')]:.1f} | |")
    print(f"| {n} recordings, s | {times[('fnirs-glm', 'N')]:.1f} | {times[('tutorial', 'N')]:.1f} | |")
    print(f"\nfnirs-glm's run log, medians: {per_recording:.2f} s per recording (read, fit, tables, recording "
          f"figures, write), {per_report:.2f} s per participant report")
    print(f"RATIO {marginal['tutorial'] / marginal['fnirs-glm']:.2f}")


if __name__ == "__main__":
    main()
