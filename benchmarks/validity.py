"""Statistical validity of fnirs-glm's first level on simulated tapping studies with known truth.

    python benchmarks/validity.py [--recordings 12] [--duration 900] [--seed 0] > docs/validity.md

Prints Markdown tables of
- recovery: bias of the channel effects on activated channels (relative to the true amplitude) and
  coverage of the 95% confidence intervals, per noise model;
- false positives: the share of p < 0.05 under the null (no responses, physiology and noise only);
- short-channel regression (none / mean / all): bias and spread of the errors;
- resampling: effect / truth on noise-free data at several rates (ols, no short-channel regression, no
  motion correction), for the default design built at the
  recording's rate and for the MNE-NIRS-style design built at the resampled rate.
Each simulated recording is analysed in-process with the same code as ``fnirs-glm ... participant``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bids_app.cli import parse_args
from bids_app.first_level.fit import fit_recording
from bids_app.inputs import load_recording
from bids_app.simulate import SimulationOptions, simulate_dataset

# (noise model, --ar-bias-correction); ols has no AR coefficients to correct
NOISE_MODELS = (("ols", "none"), ("ar1", "none"), ("ar1", "worsley"), ("auto", "none"), ("auto", "worsley"))


def simulate(root: Path, **options) -> Path:
    return simulate_dataset(root, options=SimulationOptions(**options))


def channel_errors(root: Path, *flags: str, with_refused: bool = False):
    """Channel statistics of every recording of ``root`` joined with the truth (one row per test); with
    ``with_refused``, also the number of recordings the app refused (RecordingError), left out of the table."""
    import mne_bids

    from bids_app.errors import RecordingError

    config = parse_args([str(root), str(root.parent / "unused"), "participant", *flags])
    tables, refused = [], 0
    for bids_path in mne_bids.find_matching_paths(root, datatypes="nirs", suffixes="nirs", extensions=".snirf"):
        def warn(message, name=bids_path.basename):
            logging.getLogger("fnirs_glm").warning(f"{name}: {message}")

        inputs = load_recording(bids_path, options=config.first_level, warn=warn)
        try:
            table = fit_recording(inputs, options=config.first_level, contrasts={}, warn=warn).channel_stats
        except RecordingError:
            if not with_refused:
                raise
            refused += 1
            continue
        stem = bids_path.copy().update(datatype=None, suffix=None, extension=None).basename
        truth = pd.read_csv(root / "sourcedata" / "ground_truth" / f"{stem}_truth.tsv", sep="\t")
        tables.append(table.merge(truth, on=["ch_name", "chroma", "condition"], validate="one_to_one")
                      .assign(recording=stem))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        columns=["effect", "se", "df", "p", "effect_um"], dtype=float)
    half_width = stats.t.ppf(0.975, table["df"]) * table["se"]
    table["covered"] = (table["effect"] - table["effect_um"]).abs() <= half_width
    return (table, refused) if with_refused else table


def recovery_row(table: pd.DataFrame) -> dict:
    active = table[table["effect_um"].abs() >= 0.1]
    relative = (active["effect"] - active["effect_um"]) / active["effect_um"].abs()
    return {"tests": len(active), "mean relative error": relative.mean(),
            "SD of relative error": relative.std(), "95% CI coverage": active["covered"].mean()}


def false_positive_row(table: pd.DataFrame) -> dict:
    return {"tests": len(table), "p < 0.05": (table["p"] < 0.05).mean(), "p < 0.01": (table["p"] < 0.01).mean(),
            "95% CI coverage": table["covered"].mean()}


def markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    """A Markdown table of ``frame`` (index included) without extra dependencies."""
    frame = frame.reset_index()
    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.0f}" if value.is_integer() and abs(value) >= 10 else f"{value:.{digits}f}"
        return str(value)

    cells = [[cell(v) for v in row] for row in frame.to_numpy()]
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def noise_model_and_short_tables(tmp: Path, args, common: list[str]) -> None:
    """The noise-model table (activated and null data) and the short-channel regression table."""
    kwargs = {"subjects": args.recordings, "duration_s": args.duration}
    active = simulate(tmp / "active", seed=args.seed, **kwargs)
    null = simulate(tmp / "null", seed=args.seed + 1, null=True, **kwargs)
    rows = {}
    for model, correction in NOISE_MODELS:
        flags = (*common, "--noise-model", model, "--ar-bias-correction", correction)
        rows[(model, correction if model != "ols" else "n/a")] = {
            **recovery_row(channel_errors(active, *flags)),
            **{f"null {k}": v for k, v in false_positive_row(channel_errors(null, *flags)).items()}}
    print("## Noise models: recovery (activated channels) and false positives (null data)\n")
    frame = pd.DataFrame(rows).T
    frame.index.names = ["noise model", "AR bias correction"]
    print(markdown(frame), "\n")
    rows = {mode: recovery_row(channel_errors(active, *common, "--short-regression", mode))
            for mode in ("none", "mean", "all")}
    print("## Short-channel regression (default noise model): errors of the activated channels' effects\n")
    print(markdown(pd.DataFrame(rows).T.rename_axis("short regression")), "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=int, default=12, help="simulated participants per condition")
    parser.add_argument("--duration", type=float, default=900.0, help="recording length (s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resampling-only", action="store_true",
                        help="only the resampling table (noise-free data; a minute or two)")
    args = parser.parse_args(argv)
    logging.getLogger("fnirs_glm").setLevel(logging.ERROR)  # e.g. the flat short channels of noise-free data
    started = time.time()
    common = ["--skip_bids_validator", "--resample-hz", "0.6"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        noise_free = simulate(tmp / "noise_free", seed=args.seed + 2, subjects=2, duration_s=args.duration,
                              noise=False)
        print(f"# Statistical validity of the first level\n\n{args.recordings} simulated participants of "
              f"{args.duration:.0f} s per analysis (tutorial montage, 7.8125 Hz, 3 conditions), resampled "
              f"to 0.6 Hz, seed {args.seed}. Command: `python benchmarks/validity.py --recordings "
              f"{args.recordings} --duration {args.duration:.0f} --seed {args.seed}"
              f"{' --resampling-only' if args.resampling_only else ''}`.\n")
        if not args.resampling_only:
            noise_model_and_short_tables(tmp, args, common)
        rows = {}
        for rate in ("0.3", "0.6", "1.0", "2.0"):
            for method in ("polyphase", "mne"):
                for design in ("native", "resampled"):
                    table = channel_errors(noise_free, "--skip_bids_validator", "--resample-hz", rate,
                                           "--resample-method", method, "--design-rate", design,
                                           "--noise-model", "ols", "--short-regression", "none",
                                           "--motion-correction", "none")
                    table = table[table["effect_um"].abs() >= 0.1]
                    ratio = table["effect"] / table["effect_um"]
                    rows[(rate, method, design)] = {"effect / truth (mean)": ratio.mean(), "min": ratio.min(),
                                                    "max": ratio.max()}
        print("## Resampling: noise-free data, effect / truth\n")
        frame = pd.DataFrame(rows).T
        frame.index.names = ["resample Hz", "resample method", "design built at"]
        print(markdown(frame, digits=4), "\n")
    print(f"_{time.time() - started:.0f} s on {sys.platform}, Python {sys.version.split()[0]}._")
    return 0


if __name__ == "__main__":
    sys.exit(main())
