"""Simulated finger-tapping studies with known responses: BIDS NIRS datasets of raw CW intensity.

The default design is the BIDS-NIRS-Tapping dataset of the MNE-NIRS group GLM tutorial: its montage
(8 sources, 16 detectors, 8 short channels, 56 channels at 760/850 nm, template CapTrak head positions),
its sampling rate (7.8125 Hz) and each participant's recording length and event timing (Control,
Tapping/Left, Tapping/Right, 5 s). Participants beyond the five of the template reuse their timing.

Per long channel, HbO = sum over conditions of amplitude x regressor, where the regressor is the
condition's boxcar convolved with the glover HRF (nilearn, at the recording's rate): the amplitude is
therefore exactly the GLM effect (uM) that fnirs-glm estimates. Tapping/Left activates the right
hemisphere and Tapping/Right the left one (ipsilateral responses are weaker), Control nothing; HbR is
a negative fraction of HbO. Amplitudes vary between participants and channels. On top: a systemic
signal (cardiac, respiratory, Mayer waves, slow fluctuations) shared with larger weight by the short
channels, slow drifts, autoregressive noise per channel, and optionally motion artefacts (spikes that
return to baseline and baseline shifts that persist, at random times or locked to the tapping trials, as
when a participant moves while tapping) and bad channels. Haemoglobin is turned into optical density with the inverse of MNE's modified Beer-Lambert
law (same extinction coefficients, distances and ppf), then into intensity, written to SNIRF with
MNE-NIRS and into BIDS with MNE-BIDS. The ground truth goes to ``sourcedata/ground_truth/``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import tempfile
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

CONDITIONS = ("Control", "Tapping/Left", "Tapping/Right")


@dataclass(frozen=True, kw_only=True)
class SimulationOptions:
    subjects: int = 5
    sessions: int = 1
    runs: int = 1
    seed: int = 0
    duration_s: float | None = None  # default: each template participant's own length (40-50 min)
    null: bool = False  # no responses at all
    noise: bool = True  # physiology, drifts and noise; False: the responses alone
    contralateral_um: float = 0.6  # group-mean HbO amplitude of the activated hemisphere
    ipsilateral_fraction: float = 0.3
    hbr_fraction: float = -0.35  # HbR amplitude as a fraction of HbO
    between_subject_sd: float = 0.25  # relative
    between_channel_sd: float = 0.15  # relative
    noise_um: float = 0.25  # SD of the per-channel autoregressive noise (HbO)
    systemic_um: float = 0.6  # SD of the systemic oxygenation signal (HbO, before channel weights)
    cardiac_um: float = 0.3  # amplitude of the cardiac pulse (HbO, before channel weights)
    motion_spikes: int = 0  # per recording: spikes (offsets of 0.5-3 s) at random times
    motion_per_minute: float = 0.0  # artefacts at random times, per minute (spikes or baseline shifts)
    task_locked_motion: float = 0.0  # share of Tapping trials with an artefact starting 0-10 s after onset
    baseline_shift_fraction: float = 0.5  # share of the two kinds above that are baseline shifts
    bad_channels: int = 0  # per recording: half flat, half very noisy (not marked in channels.tsv)
    ppf: float = 6.0

    def __post_init__(self):
        for name in ("subjects", "sessions", "runs"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} {getattr(self, name)}: give at least 1")
        for name in ("motion_spikes", "motion_per_minute", "bad_channels"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} {getattr(self, name)}: give a number >= 0")
        for name in ("task_locked_motion", "baseline_shift_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"--{name.replace('_', '-')} {getattr(self, name)}: give a share between 0 and 1")
        if self.duration_s is not None and self.duration_s < 60:
            raise ValueError(f"--duration {self.duration_s:g}: give at least 60 seconds")


def simulate_dataset(out_dir: Path, *, options: SimulationOptions) -> Path:
    """Write the dataset to ``out_dir`` (created; must be empty or absent); return it."""
    import numpy as np

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir}: the output directory is not empty")
    template = json.loads(resources.files("bids_app").joinpath("data/tapping_template.json").read_text())
    rng = np.random.default_rng(options.seed)
    names = sorted(template["Subjects"])
    participants = []
    for index in range(options.subjects):
        subject = f"{index + 1:02d}"
        timing = template["Subjects"][names[index % len(names)]]
        participants.append({"participant_id": f"sub-{subject}", "age": timing["age"], "sex": timing["sex"]})
        gains = _subject_gains(template, options=options, rng=rng)
        for session in range(1, options.sessions + 1):
            for run in range(1, options.runs + 1):
                _write_recording(out_dir, template=template, timing=timing, gains=gains, options=options,
                                 rng=rng, entities={"subject": subject,
                                                    "session": f"{session:02d}" if options.sessions > 1 else None,
                                                    "run": f"{run:02d}" if options.runs > 1 else None})
    _write_dataset_files(out_dir, participants=participants, options=options)
    return out_dir


def _subject_gains(template: dict, *, options: SimulationOptions, rng) -> dict[tuple[str, str], float]:
    """True HbO amplitude (uM) per (pair, condition) for one participant."""
    subject_scale = max(0.1, 1 + options.between_subject_sd * rng.standard_normal())
    gains = {}
    for pair in template["Pairs"]:
        source = int(pair.split("_")[0][1:])
        detector = int(pair.split("_")[1][1:])
        left = source <= 4
        for condition in CONDITIONS:
            if options.null or detector > 8 or condition == "Control":
                gains[(pair, condition)] = 0.0
                continue
            contralateral = (condition == "Tapping/Left") != left
            base = options.contralateral_um * (1 if contralateral else options.ipsilateral_fraction)
            channel_scale = max(0.1, 1 + options.between_channel_sd * rng.standard_normal())
            gains[(pair, condition)] = base * subject_scale * channel_scale
    return gains


def _write_recording(out_dir: Path, *, template, timing, gains, options, rng, entities) -> None:
    import mne
    import numpy as np
    import pandas as pd
    from mne_bids import BIDSPath, write_raw_bids
    from mne_nirs.io import write_raw_snirf
    from nilearn.glm.first_level import make_first_level_design_matrix

    sfreq = template["SamplingFrequency"]
    duration = options.duration_s or timing["duration_s"]
    n_times = round(duration * sfreq)
    times = np.arange(n_times) / sfreq
    events = pd.DataFrame(timing["events"], columns=["onset", "duration", "trial_type"])
    events = events[events["onset"] < duration - 20].reset_index(drop=True)
    regressors = make_first_level_design_matrix(times, events, hrf_model="glover", drift_model=None,
                                                oversampling=math.ceil(100 / sfreq))  # 100 Hz HRF grid

    raw = _template_raw(template, n_times=n_times)
    pairs = [name.split(" ")[0] for name in raw.ch_names[::2]]
    short = {p for p in pairs if int(p.split("_")[1][1:]) > 8}
    hb = np.zeros((len(pairs), 2, n_times))  # uM; [pair, (hbo, hbr)]
    for index, pair in enumerate(pairs):
        for condition in CONDITIONS:
            amplitude = gains[(pair, condition)]
            if amplitude and condition in regressors:
                response = amplitude * regressors[condition].to_numpy()
                hb[index, 0] += response
                hb[index, 1] += options.hbr_fraction * response
    if options.noise:
        systemic = _systemic(times, sfreq=sfreq, rng=rng) * options.systemic_um
        # the cardiac pulse is a blood-volume change: HbO and HbR rise together
        cardiac = options.cardiac_um * _oscillation(times, frequency=rng.uniform(1.0, 1.3), jitter=0.05,
                                                    sfreq=sfreq, rng=rng)
        for index, pair in enumerate(pairs):
            weight = rng.uniform(1.2, 1.6) if pair in short else rng.uniform(0.5, 0.9)
            hb[index, 0] += weight * (systemic + cardiac)
            hb[index, 1] += weight * (-0.3 * systemic + 0.25 * cardiac)
            for chroma, scale in ((0, 1.0), (1, 0.5)):
                hb[index, chroma] += scale * options.noise_um * _ar_noise(n_times, rng=rng)
                hb[index, chroma] += scale * _drift(times, rng=rng)
    od = _haemoglobin_to_od(raw, hb, ppf=options.ppf)
    motion = []  # every motion artefact (onset, duration, kind), for the truth
    if options.noise:
        od += 5e-5 * rng.standard_normal(od.shape)  # measurement noise
        for _ in range(options.motion_spikes):  # the same size on every channel, unlike _add_motion's
            start = rng.integers(0, n_times - int(5 * sfreq))
            width = int(rng.uniform(0.5, 3) * sfreq)
            od[:, start:start + width] += rng.uniform(0.02, 0.1) * rng.choice([-1, 1], size=(od.shape[0], 1))
            motion.append({"onset": start / sfreq, "duration": width / sfreq, "kind": "spike"})
        motion += _add_motion(od, events=events, sfreq=sfreq, options=options, rng=rng)
    bad = _add_bad_channels(od, raw.ch_names, count=options.bad_channels, rng=rng)
    raw._data[:] = 0.05 * np.exp(-od)
    flat = [raw.ch_names.index(label.rsplit(" ", 1)[0]) for label in bad if label.endswith(" flat")]
    raw._data[flat] = 0.05
    raw.set_annotations(mne.Annotations(events["onset"], events["duration"], events["trial_type"]))

    bids_path = BIDSPath(root=out_dir, task="tapping", datatype="nirs", **entities)
    with tempfile.TemporaryDirectory() as tmp:
        snirf = Path(tmp) / "recording.snirf"
        write_raw_snirf(raw, snirf)
        written = mne.io.read_raw_snirf(snirf, verbose="error")
        with contextlib.redirect_stdout(io.StringIO()):  # mne-bids prints each file it writes
            write_raw_bids(written, bids_path, overwrite=True, verbose="error")
    _write_truth(out_dir, bids_path, pairs=pairs, gains=gains, bad=bad, hbr_fraction=options.hbr_fraction,
                 conditions=[c for c in CONDITIONS if c in regressors], short=short,
                 motion=sorted(motion, key=lambda artefact: artefact["onset"]))


def _template_raw(template: dict, *, n_times: int):
    """A RawArray of CW amplitude channels with the template's names, wavelengths and positions."""
    import mne
    import numpy as np

    names = [f"{pair} {wavelength}" for pair in template["Pairs"] for wavelength in template["Wavelengths"]]
    info = mne.create_info(names, template["SamplingFrequency"], ch_types="fnirs_cw_amplitude", verbose="error")
    positions = {o["name"]: np.array(o["xyz_m"]) for o in template["Optodes"]}
    for channel, name in zip(info["chs"], names):
        pair, wavelength = name.split(" ")
        source, detector = positions[pair.split("_")[0]], positions[pair.split("_")[1]]
        channel["loc"][:3] = (source + detector) / 2
        channel["loc"][3:6] = source
        channel["loc"][6:9] = detector
        channel["loc"][9] = float(wavelength)
    raw = mne.io.RawArray(np.ones((len(names), n_times)), info, verbose="error")
    raw.set_meas_date(0)
    raw.info["subject_info"] = {"his_id": "simulated"}
    return raw


def _haemoglobin_to_od(raw, hb, *, ppf: float):
    """Optical density whose Beer-Lambert inverse (MNE, same ppf) is ``hb`` (uM, [pair, chroma, time])."""
    import numpy as np
    from mne.preprocessing.nirs import beer_lambert_law, optical_density

    basis = optical_density(raw.copy().crop(tmax=1 / raw.info["sfreq"]), verbose="error")  # two samples
    basis._data[:] = np.tile([[1.0, 0.0], [0.0, 1.0]], (len(basis.ch_names) // 2, 1))
    per_unit_od = beer_lambert_law(basis, ppf=ppf).get_data() * 1e6  # uM per unit OD
    od = np.empty((len(raw.ch_names), hb.shape[2]))
    for index in range(hb.shape[0]):
        to_od = np.linalg.inv(per_unit_od[2 * index:2 * index + 2, :2])
        od[2 * index:2 * index + 2] = to_od @ hb[index]
    return od


def _oscillation(times, *, frequency: float, jitter: float, sfreq: float, rng):
    """A sinusoid whose frequency wanders by about ``jitter`` Hz."""
    import numpy as np

    wander = jitter * _smooth(len(times), sfreq=sfreq, seconds=30, rng=rng)
    return np.sin(np.cumsum(2 * np.pi * (frequency + wander) / sfreq) + rng.uniform(0, 2 * np.pi))


def _systemic(times, *, sfreq: float, rng):
    """Unit-variance systemic oxygenation changes: respiration, Mayer waves, slow fluctuations."""
    mayer = _oscillation(times, frequency=rng.uniform(0.08, 0.12), jitter=0.01, sfreq=sfreq, rng=rng)
    signal = (0.4 * _oscillation(times, frequency=rng.uniform(0.2, 0.3), jitter=0.02, sfreq=sfreq, rng=rng)
              + 0.8 * mayer * (1 + 0.3 * _smooth(len(times), sfreq=sfreq, seconds=60, rng=rng))
              + 0.8 * _smooth(len(times), sfreq=sfreq, seconds=20, rng=rng))
    return signal / signal.std()


def _smooth(n, *, sfreq: float, seconds: float, rng):
    """Unit-variance Gaussian noise low-passed with a time constant of ``seconds``."""
    import numpy as np
    from scipy.signal import lfilter

    alpha = np.exp(-1 / (seconds * sfreq))
    x = lfilter([1 - alpha], [1, -alpha], rng.standard_normal(n))
    x = lfilter([1 - alpha], [1, -alpha], x)
    return (x - x.mean()) / x.std()


def _ar_noise(n, *, rng):
    import numpy as np
    from scipy.signal import lfilter

    x = lfilter([1], [1, -0.95], rng.standard_normal(n))
    return x / np.std(x)


def _drift(times, *, rng):
    """A slow drift below the 0.01 Hz cosine basis: a random quadratic trend of up to ~1 uM."""

    u = times / times[-1] - 0.5
    return rng.normal(0, 0.5) * u + rng.normal(0, 0.5) * (u**2 - 1 / 12)


def _add_motion(od, *, events, sfreq: float, options: SimulationOptions, rng) -> list[dict]:
    """Motion artefacts in optical density: at random times (``motion_per_minute``) and after a share of
    the Tapping trials (``task_locked_motion``). A spike is an offset of 0.5-3 s that returns; a baseline
    shift is an offset reached within 0.5 s that persists. Each affects every channel with its own size
    and sign (optodes move differently). Returns the artefacts (onset, duration, kind) for the truth."""
    import numpy as np

    n_times = od.shape[1]
    onsets = list(rng.uniform(0, n_times / sfreq - 5, size=rng.poisson(options.motion_per_minute * n_times
                                                                       / sfreq / 60))
                  if options.motion_per_minute else [])
    if options.task_locked_motion:
        trials = events.loc[events["trial_type"].str.startswith("Tapping"), "onset"].to_numpy()
        chosen = trials[rng.random(len(trials)) < options.task_locked_motion]
        onsets += list(chosen + rng.uniform(0, 10, size=len(chosen)))
    artefacts = []
    for onset in sorted(onsets):
        start = int(onset * sfreq)
        if start >= n_times:
            continue
        shift = rng.random() < options.baseline_shift_fraction
        size = rng.uniform(0.02, 0.1) * rng.choice([-1, 1], size=od.shape[0]) * rng.uniform(0.3, 1, od.shape[0])
        if shift:
            ramp = np.clip((np.arange(n_times - start)) / (0.5 * sfreq), 0, 1)
            od[:, start:] += size[:, None] * ramp
            artefacts.append({"onset": start / sfreq, "duration": 0.5, "kind": "baseline shift"})
        else:
            width = max(1, int(rng.uniform(0.5, 3) * sfreq))
            od[:, start:start + width] += size[:, None]
            artefacts.append({"onset": start / sfreq, "duration": width / sfreq, "kind": "spike"})
    return artefacts


def _add_bad_channels(od, names, *, count: int, rng) -> list[str]:
    """Make ``count`` long pairs bad: alternately flat (tagged 'flat') or very noisy. Returns labels."""

    long_pairs = sorted({n.split(" ")[0] for n in names if int(n.split("_")[1].split(" ")[0][1:]) <= 8})
    labels = []
    for k, pair in enumerate(rng.choice(long_pairs, size=min(count, len(long_pairs)), replace=False)):
        index = names.index(f"{pair} 760")
        if k % 2 == 0:
            labels.append(f"{names[index]} flat")
        else:
            od[index] += 0.5 * rng.standard_normal(od.shape[1])
            labels.append(f"{names[index]} noisy")
    return labels


def _write_truth(out_dir, bids_path, *, pairs, gains, bad, hbr_fraction, conditions, short, motion) -> None:
    import pandas as pd

    rows = []
    for pair in pairs:
        for condition in conditions:
            hbo = gains[(pair, condition)]
            for chroma, value in (("hbo", hbo), ("hbr", hbo * hbr_fraction)):
                rows.append({"ch_name": f"{pair} {chroma}", "role": "short" if pair in short else "long",
                             "condition": condition, "chroma": chroma, "effect_um": value})
    folder = out_dir / "sourcedata" / "ground_truth"
    folder.mkdir(parents=True, exist_ok=True)
    stem = bids_path.copy().update(datatype=None, root=None).basename
    pd.DataFrame(rows).to_csv(folder / f"{stem}_truth.tsv", sep="\t", index=False, float_format="%.10g")
    (folder / f"{stem}_bad_channels.json").write_text(json.dumps(bad, indent=1) + "\n")
    pd.DataFrame(motion, columns=["onset", "duration", "kind"]).to_csv(
        folder / f"{stem}_motion.tsv", sep="\t", index=False, float_format="%.6g")


def _write_dataset_files(out_dir: Path, *, participants, options: SimulationOptions) -> None:
    import pandas as pd

    table = pd.DataFrame(participants)
    table.to_csv(out_dir / "participants.tsv", sep="\t", index=False)
    sidecar = out_dir / "participants.json"  # mne-bids describes columns (hand, weight, ...) we do not write
    if sidecar.is_file():
        described = json.loads(sidecar.read_text())
        sidecar.write_text(json.dumps({k: v for k, v in described.items() if k in table.columns}, indent=2) + "\n")
    description = json.loads((out_dir / "dataset_description.json").read_text())
    description.update({
        "Name": "fnirs-glm simulated finger-tapping study",
        "Authors": ["fnirs-glm simulator", "Robert Luke (template design)", "David McAlpine (template design)"],
        "GeneratedBy": [{"Name": "fnirs-glm-simulate", "Description": json.dumps(asdict(options))}],
        "SourceDatasets": [{"DOI": "doi:10.5281/zenodo.5529797"}],
        "License": "CC0",
    })
    (out_dir / "dataset_description.json").write_text(json.dumps(description, indent=2) + "\n")
    (out_dir / "sourcedata" / "ground_truth" / "simulation.json").write_text(
        json.dumps(asdict(options), indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    from bids_app import __version__
    from bids_app.cli import SuggestingParser

    parser = SuggestingParser(prog="fnirs-glm-simulate", description=__doc__.split("\n\n")[0],
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="where the BIDS dataset is written (absent or empty)")
    defaults = SimulationOptions()
    parser.add_argument("--subjects", type=int, default=defaults.subjects, help="participants")
    parser.add_argument("--sessions", type=int, default=defaults.sessions, help="sessions per participant")
    parser.add_argument("--runs", type=int, default=defaults.runs, help="runs per session")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (same seed, same data)")
    parser.add_argument("--duration", type=float, dest="duration_s", metavar="SECONDS",
                        help="recording length (default: each template participant's own, 40-50 min)")
    parser.add_argument("--null", action="store_true", help="no responses at all")
    parser.add_argument("--noise-free", dest="noise", action="store_false", help="the responses alone")
    parser.add_argument("--motion-spikes", type=int, default=0, help="motion spikes per recording")
    parser.add_argument("--motion-per-minute", type=float, default=0.0,
                        help="motion artefacts (spikes or baseline shifts) at random times, per minute")
    parser.add_argument("--task-locked-motion", type=float, default=0.0, metavar="SHARE",
                        help="share of Tapping trials followed by a motion artefact within 10 s")
    parser.add_argument("--baseline-shift-fraction", type=float, default=0.5,
                        help="share of the motion artefacts that are baseline shifts rather than spikes")
    parser.add_argument("--bad-channels", type=int, default=0, help="flat or noisy long pairs per recording")
    parser.add_argument("--version", action="version", version=f"fnirs-glm-simulate {__version__}")
    args = parser.parse_args(argv)
    try:
        options = SimulationOptions(**{k: v for k, v in vars(args).items() if k != "out_dir"})
        simulate_dataset(args.out_dir, options=options)
    except (FileExistsError, ValueError) as exc:
        print(f"fnirs-glm-simulate: error: {exc}", file=sys.stderr)
        return 2
    print(f"fnirs-glm-simulate: wrote {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
