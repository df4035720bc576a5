"""Per-recording time, memory and agreement: the MNE-NIRS "Group Level GLM" tutorial versus fnirs-glm.

    python benchmarks/tutorial_vs_fnirs_glm.py BIDS_DIR [--resample-hz 0.3] [--noise-model ar1]
        [--stim-dur 5] [--ppf 6] [--repeat 3]

For every recording (sub-*/**/nirs/*_nirs.snirf) of BIDS_DIR, each pipeline runs in its own fresh worker
process (this script with --worker):
  tutorial   individual_analysis() of the tutorial as it writes it, sequential, current API: read_raw_bids,
             optical_density, beer_lambert_law(ppf), resample, get_short/long_channels,
             make_first_level_design_matrix(stim_dur), ShortHbO/ShortHbR means, run_glm(noise_model),
             to_dataframe, to_dataframe_region_of_interest (left/right hemisphere: the tutorial lists its
             montage's pairs by hand, here they are chosen by the sign of x), compute_contrast + to_dataframe
             of the last two conditions (Tapping/Left - Tapping/Right on the tutorial's data) when >= 2.
  fnirs-glm  bids_app.run.participant.process_recording (reads, analyses, writes every output of the recording
             into a temporary directory) with the Config of `run.py BIDS_DIR TMP participant
             --skip_bids_validator --resample-hz R --noise-model M --stim-dur S --ppf P
             --short-regression mean --hrf glover [--design-rate resampled --resample-method mne, when run.py --help
             lists them]
             [--contrast "A - B", the same two conditions]`.
Threads: the tutorial runs with the environment's BLAS settings; fnirs-glm with those its command line sets
before numpy is imported (bids_app.cli.BLAS_THREAD_VARIABLES = 1 unless already set). Run the script with
OPENBLAS_NUM_THREADS=1 to compare both single-threaded.
A worker times its imports ("import s"), runs the pipeline once ("first run s": lazy imports, cold caches),
then --repeat more times ("median s" = their median: the per-recording cost without one-off costs).
Memory: the worker's peak resident set size, getrusage(RUSAGE_SELF).ru_maxrss read by the worker as it ends
(for that one child the same figure as RUSAGE_CHILDREN in the parent); it includes the interpreter and the
libraries, whose share is the RSS right after the imports ("RSS after import").
Agreement of fnirs-glm's channel table with the tutorial's to_dataframe(), over channel x chroma x condition:
max and median of |effect - theta*1e6| / |theta*1e6| (large where theta is near 0), and the largest absolute
difference over the largest |theta*1e6|; against the tutorial as written (run_glm's default bins truncate each
AR(1) coefficient to a multiple of 1/bins) and with run_glm(bins=10**12) (truncation negligible; not timed).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's bids_app, installed or not


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def contrast_pair(conditions: list[str]) -> tuple[str, str] | None:
    return tuple(sorted(conditions)[-2:]) if len(conditions) >= 2 else None


def tutorial_worker(fname: str, args) -> dict:
    start = time.perf_counter()
    import mne
    import numpy as np
    from mne.preprocessing.nirs import beer_lambert_law, optical_density
    from mne_bids import get_bids_path_from_fname, read_raw_bids
    from mne_nirs.channels import get_long_channels, get_short_channels, picks_pair_to_idx
    from mne_nirs.experimental_design import make_first_level_design_matrix
    from mne_nirs.statistics import run_glm

    imported, rss_imported = time.perf_counter() - start, rss_mb()
    mne.set_log_level("error")
    bids_path = get_bids_path_from_fname(fname)

    def hemispheres(raw_haemo) -> dict:
        x = {ch["ch_name"].split(" ")[0]: ch["loc"][0] for ch in raw_haemo.info["chs"]}
        pairs = {side: [[int(n) for n in pair[1:].split("_D")] for pair, value in x.items()
                        if (value < 0) == (side == "Left")] for side in ("Left", "Right")}
        return {f"{side}_Hemisphere": picks_pair_to_idx(raw_haemo, pairs[side], on_missing="ignore")
                for side in pairs if pairs[side]}

    def individual_analysis(bins=0):
        raw_intensity = read_raw_bids(bids_path=bids_path, verbose=False)
        raw_od = optical_density(raw_intensity)
        raw_haemo = beer_lambert_law(raw_od, ppf=args.ppf)
        raw_haemo.resample(args.resample_hz)
        sht_chans = get_short_channels(raw_haemo)
        raw_haemo = get_long_channels(raw_haemo)
        design_matrix = make_first_level_design_matrix(raw_haemo, stim_dur=args.stim_dur)
        design_matrix["ShortHbO"] = np.mean(sht_chans.copy().pick(picks="hbo").get_data(), axis=0)
        design_matrix["ShortHbR"] = np.mean(sht_chans.copy().pick(picks="hbr").get_data(), axis=0)
        glm_est = run_glm(raw_haemo, design_matrix, noise_model=args.noise_model, bins=bins)
        cha = glm_est.to_dataframe()
        roi = glm_est.to_dataframe_region_of_interest(hemispheres(raw_haemo), design_matrix.columns,
                                                      demographic_info=True)
        conditions = sorted(set(raw_intensity.annotations.description))
        if contrast_pair(conditions):
            a, b = contrast_pair(conditions)
            contrast_matrix = np.eye(design_matrix.shape[1])
            basic_conts = {column: contrast_matrix[i] for i, column in enumerate(design_matrix.columns)}
            con = glm_est.compute_contrast(basic_conts[a] - basic_conts[b]).to_dataframe()
            con["effect"] = [t * 1.0e6 for t in con["effect"]]
        cha["theta"] = [t * 1.0e6 for t in cha["theta"]]
        roi["theta"] = [t * 1.0e6 for t in roi["theta"]]
        return raw_intensity, cha[cha["Condition"].isin(conditions)]

    def effects(cha) -> dict:
        return dict(zip(cha["ch_name"] + "|" + cha["Condition"], cha["theta"]))

    times, (raw, cha) = timed_runs(individual_analysis, args.repeat)
    return {"import": imported, "rss_import": rss_imported, **times, "effects": effects(cha),
            "effects_untruncated": effects(individual_analysis(bins=10**12)[1]), "rss_peak": rss_mb(),
            "size": f"{raw.n_times} x {len(raw.ch_names)} @ {raw.info['sfreq']:.3g} Hz"}


# what bids_app.run.participant.process_recording imports when it first runs: counted as import time
LAZY_IMPORTS = ("nilearn.glm.first_level", "mne.preprocessing.nirs", "bids_app.first_level.sidecars",
                "bids_app.first_level.design", "bids_app.first_level.events", "bids_app.first_level.glm",
                "bids_app.first_level.preprocessing", "bids_app.inputs", "bids_app.first_level.rois",
                "bids_app.first_level.tables", "bids_app.first_level.fit", "bids_app.first_level.write")


def fnirs_glm_worker(fname: str, args) -> dict:
    import importlib
    import os
    import tempfile

    from bids_app import cli

    for variable in getattr(cli, "BLAS_THREAD_VARIABLES", ()):  # as cli.main does, before numpy
        os.environ.setdefault(variable, "1")
    start = time.perf_counter()
    import mne
    import pandas as pd
    from mne_bids import get_bids_path_from_fname

    from bids_app.cli import parse_args
    from bids_app.dataset import condition_names
    from bids_app.first_level.contrasts import parse_contrast
    from bids_app.layout import RecordingOutputs
    from bids_app.run.participant import process_recording

    for module in LAZY_IMPORTS:
        importlib.import_module(module)
    imported, rss_imported = time.perf_counter() - start, rss_mb()
    mne.set_log_level("error")  # as the app's workers do
    bids_path = get_bids_path_from_fname(fname)
    conditions = sorted(condition_names(bids_path))
    with tempfile.TemporaryDirectory() as out:
        argv = [str(bids_path.root), out, "participant", "--skip_bids_validator", "--resample-hz",
                str(args.resample_hz), "--noise-model", args.noise_model, "--stim-dur", str(args.stim_dur),
                "--ppf", str(args.ppf), "--short-regression", "mean", "--hrf", "glover",
                "--motion-correction", "none"]  # the tutorial corrects no motion
        argv += ["--design-rate", "resampled"] if args.design_rate_resampled else []
        argv += ["--resample-method", "mne"] if args.resample_method_mne else []
        argv += ["--contrast", " - ".join(contrast_pair(conditions))] if contrast_pair(conditions) else []
        config = parse_args([*argv, "--overwrite"])  # each timed run analyses (not skips) the recording
        contrasts = {e: parse_contrast(e, conditions) for e in config.first_level.contrast}
        times, outcome = timed_runs(lambda: process_recording(bids_path, config=config, contrasts=contrasts),
                                    args.repeat)
        if outcome.status != "done":
            raise SystemExit(outcome.message)
        table = pd.read_csv(RecordingOutputs.of(bids_path, Path(out)).stats("channel"), sep="\t")
    return {"import": imported, "rss_import": rss_imported, **times, "rss_peak": rss_mb(),
            "effects": dict(zip(table["ch_name"] + "|" + table["condition"], table["effect"])),
            "options": " ".join(argv[3:])}


def timed_runs(function, repeat: int):
    """Run once (first), then ``repeat`` times; the times and the last result."""
    seconds, result = [], None
    for _ in range(repeat + 1):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    return {"first": seconds[0], "median": statistics.median(seconds[1:])}, result


def relative_differences(ours: dict, reference: dict) -> str:
    """Over the common effects: max and median of |ours - ref| / |ref|; max |ours - ref| / max |ref|."""
    common = ours.keys() & reference.keys()
    relative = [abs(ours[k] - reference[k]) / abs(reference[k]) for k in common]
    scaled = max(abs(ours[k] - reference[k]) for k in common) / max(abs(reference[k]) for k in common)
    same = len(common) == len(ours) == len(reference)
    counts = "" if same else f" (on {len(common)} of {len(ours)}/{len(reference)})"
    return f"{max(relative):.1e} / {statistics.median(relative):.0e} / {scaled:.0e}{counts}"


def run_worker(pipeline: str, fname: Path, args) -> dict:
    command = [sys.executable, __file__, str(args.bids_dir), "--worker", pipeline, str(fname),
               "--resample-hz", str(args.resample_hz), "--noise-model", args.noise_model,
               "--stim-dur", str(args.stim_dur), "--ppf", str(args.ppf), "--repeat", str(args.repeat)]
    command += ["--design-rate-resampled"] if args.design_rate_resampled else []
    command += ["--resample-method-mne"] if args.resample_method_mne else []
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode:
        sys.exit(f"{pipeline} worker failed on {fname}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bids_dir", type=Path)
    parser.add_argument("--resample-hz", type=float, default=0.3)
    parser.add_argument("--noise-model", default="ar1", choices=["ols", "ar1", "auto"])
    parser.add_argument("--stim-dur", type=float, default=5.0)
    parser.add_argument("--ppf", type=float, default=6.0)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after the first (default 3)")
    parser.add_argument("--worker", nargs=2, metavar=("PIPELINE", "SNIRF"), help=argparse.SUPPRESS)
    parser.add_argument("--design-rate-resampled", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--resample-method-mne", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.worker:
        worker = tutorial_worker if args.worker[0] == "tutorial" else fnirs_glm_worker
        print(json.dumps(worker(args.worker[1], args)))
        return

    help_text = subprocess.run([sys.executable, "run.py", "--help"], capture_output=True, text=True,
                               cwd=ROOT, check=False).stdout
    args.design_rate_resampled = "--design-rate" in help_text
    args.resample_method_mne = "--resample-method" in help_text
    recordings = sorted(args.bids_dir.resolve().glob("sub-*/**/nirs/*_nirs.snirf"))
    rows, results = [], {"tutorial": [], "fnirs-glm": []}
    for fname in recordings:
        tutorial, ours = run_worker("tutorial", fname, args), run_worker("fnirs-glm", fname, args)
        results["tutorial"].append(tutorial)
        results["fnirs-glm"].append(ours)
        rows.append(f"| {fname.name.removesuffix('_nirs.snirf')} | {tutorial['size']} "
                    f"| {tutorial['median']:.3f} | {ours['median']:.3f} "
                    f"| {ours['median'] / tutorial['median']:.2f} "
                    f"| {tutorial['rss_peak']:.0f} | {ours['rss_peak']:.0f} "
                    f"| {relative_differences(ours['effects'], tutorial['effects'])} "
                    f"| {relative_differences(ours['effects'], tutorial['effects_untruncated'])} |")
        print(rows[-1], file=sys.stderr)

    print(f"fnirs-glm options: {results['fnirs-glm'][0]['options']}\n"
          f"times: median of {args.repeat} runs after a first one\n")
    print("| recording | samples x channels | tutorial s | fnirs-glm s | fnirs-glm / tutorial "
          "| tutorial peak MB | fnirs-glm peak MB | effects vs tutorial as written: max rel. / median rel. "
          "/ max abs. over max effect | the same vs run_glm(bins=10**12) |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\nOne-off costs per worker process (median over recordings):\n")
    print("| pipeline | import s | first run s | median run s | RSS after import MB | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for name, runs in results.items():
        med = {key: statistics.median(r[key] for r in runs) for key in
               ("import", "first", "median", "rss_import", "rss_peak")}
        print(f"| {name} | {med['import']:.2f} | {med['first']:.3f} | {med['median']:.3f} "
              f"| {med['rss_import']:.0f} | {med['rss_peak']:.0f} |")


if __name__ == "__main__":
    main()
