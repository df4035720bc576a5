"""Seconds of the GLM fit at the recording's own rate (issue #22): NoiseModel.fit of one 45-minute recording.

    python benchmarks/native_rate_glm.py [--duration 2700] [--repeat 3] [--models ols ar1 auto ar-irls]
                                         [--fir] [--ar-bias-correction worsley]

The recording is simulated with bids_app.simulate (one participant of the template: 28 source-detector pairs,
56 haemoglobin channels, 7.8125 Hz, ``--duration`` seconds) and analysed by the app's first level
(bids_app.first_level.fit.fit_recording) with ``--resample-hz 50`` (above the recording's rate: no resampling)
and ``--noise-model ols``; the signals Y (every good channel and the ROI signals) and the designs that
fit_recording passes to NoiseModel.fit (the GLM's: conditions, short-channel regressors, cosine drifts, constant;
with ``--fir`` also the FIR model's, one column per sample of the --fir-window per condition) are kept. Then
NoiseModel.fit(Y, X) of each noise model, resolved at the recording's rate as the app does (auto and ar-irls:
order round(4 x 7.8125) = 31) with the --ar-bias-correction choice, is timed ``--repeat`` times; the median is
printed, with the single runs, as a Markdown table. One BLAS thread, as the app (bids_app.cli) sets it.
The machine's load average is printed: on a shared machine, repeat and compare medians.
This checkout's bids_app is imported (the folder above this script).
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"  # before numpy is imported

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's bids_app, installed or not


def recording_fits(duration_s: float, *, workdir: Path) -> tuple[float, dict]:
    """(sampling rate, {"GLM": (Y, X), "FIR": (Y, X)}) of a simulated recording as fit_recording fits it."""
    import mne
    from mne_bids import get_bids_path_from_fname

    from bids_app.cli import parse_args
    from bids_app.first_level import fit as fit_module
    from bids_app.inputs import WarningList, load_recording
    from bids_app.simulate.dataset import simulate_dataset
    from bids_app.simulate.options import SimulationOptions

    mne.set_log_level("error")
    bids = simulate_dataset(workdir / "bids", options=SimulationOptions(subjects=1, duration_s=duration_s))
    fname = next(bids.glob("sub-*/**/nirs/*_nirs.snirf"))
    config = parse_args([str(bids), str(workdir / "out"), "participant", "--skip_bids_validator",
                         "--resample-hz", "50", "--noise-model", "ols"])
    fitted = []
    original = fit_module._fit

    def keep(Y, design, **kwargs):
        fitted.append((Y, design.to_numpy()))
        return original(Y, design, **kwargs)

    fit_module._fit = keep
    try:
        warn = WarningList(lambda message: None)
        inputs = load_recording(get_bids_path_from_fname(fname), options=config.first_level, warn=warn)
        result = fit_module.fit_recording(inputs, options=config.first_level, contrasts={}, warn=warn)
    finally:
        fit_module._fit = original
    return result.sfreq, dict(zip(("GLM", "FIR"), fitted))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=2700.0, help="recording length in seconds (45 min)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["ols", "ar1", "auto", "ar-irls"])
    parser.add_argument("--fir", action="store_true", help="also time the FIR model's fit")
    parser.add_argument("--ar-bias-correction", default="worsley", choices=["none", "worsley"])
    args = parser.parse_args()

    from bids_app.first_level.noise_model import NoiseModel

    with tempfile.TemporaryDirectory(prefix="native-rate-glm-") as workdir:
        sfreq, fits = recording_fits(args.duration, workdir=Path(workdir))
    models = ["GLM", "FIR"] if args.fir else ["GLM"]
    print(f"recording: simulated, {args.duration:g} s at {sfreq:g} Hz (bids_app.simulate, analysed by "
          f"fit_recording with --resample-hz 50)")
    for model in models:
        Y, X = fits[model]
        print(f"{model}: Y {Y.shape[0]} samples x {Y.shape[1]} signals, design {X.shape[1]} columns")
    print(f"--ar-bias-correction {args.ar_bias_correction}; median of {args.repeat} runs, one BLAS thread; "
          f"load average before: {os.getloadavg()[0]:.2f}\n")
    print("| noise model | AR order | " + " | ".join(f"{m} fit (s) | {m} runs (s)" for m in models) + " |")
    print("|---|---|" + "---|---|" * len(models))
    for choice in args.models:
        noise_model = NoiseModel.resolve(choice, sfreq=sfreq, bias_correction=args.ar_bias_correction)
        cells = []
        for model in models:
            Y, X = fits[model]
            runs = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                noise_model.fit(Y, X)
                runs.append(time.perf_counter() - start)
            cells.append(f"{statistics.median(runs):.2f} | {', '.join(f'{r:.2f}' for r in runs)}")
        order = f"<= {noise_model.ar_order}" if choice == "ar-irls" else str(noise_model.ar_order)
        print(f"| {choice} | {order} | " + " | ".join(cells) + " |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
