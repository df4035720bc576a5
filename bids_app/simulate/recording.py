"""One simulated recording: responses plus signals in haemoglobin, turned into CW intensity and written as
BIDS NIRS (SNIRF through MNE-NIRS, then MNE-BIDS), with its truth."""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
from pathlib import Path

from bids_app.simulate.options import CONDITIONS
from bids_app.simulate.signals import (
    add_bad_channels,
    add_motion,
    add_motion_spikes,
    add_physiology_and_noise,
)
from bids_app.simulate.truth import write_recording_truth


def write_recording(out_dir: Path, *, template, timing, gains, options, rng, entities) -> None:
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

    raw = template_raw(template, n_times=n_times)
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
        add_physiology_and_noise(hb, pairs=pairs, short=short, times=times, sfreq=sfreq,
                                         options=options, rng=rng)
    od = haemoglobin_to_od(raw, hb, ppf=options.ppf)
    motion = []  # every motion artefact (onset, duration, kind, optode, channels), for the truth
    if options.noise:
        od += 5e-5 * rng.standard_normal(od.shape)  # measurement noise
        sd = od.std(axis=1)  # each channel's, before any motion: the scale of optode-local artefacts
        motion += add_motion_spikes(od, count=options.motion_spikes, sfreq=sfreq, rng=rng)
        motion += add_motion(od, names=raw.ch_names, channel_sd=sd, events=events, sfreq=sfreq, options=options,
                             rng=rng)
    bad = add_bad_channels(od, raw.ch_names, count=options.bad_channels, rng=rng)
    raw._data[:] = 0.05 * np.exp(-od)
    flat = [raw.ch_names.index(label.rsplit(" ", 1)[0]) for label in bad if label.endswith(" flat")]
    raw._data[flat] = 0.05
    stretches = add_bad_stretches(raw._data, pairs=pairs, sfreq=sfreq, options=options, rng=rng)
    raw.set_annotations(mne.Annotations(events["onset"], events["duration"], events["trial_type"]))

    bids_path = BIDSPath(root=out_dir, task="tapping", datatype="nirs", **entities)
    with tempfile.TemporaryDirectory() as tmp:
        snirf = Path(tmp) / "recording.snirf"
        write_raw_snirf(raw, snirf)
        written = mne.io.read_raw_snirf(snirf, verbose="error")
        with contextlib.redirect_stdout(io.StringIO()):  # mne-bids prints each file it writes
            write_raw_bids(written, bids_path, overwrite=True, verbose="error")
    write_recording_truth(out_dir, bids_path, pairs=pairs, gains=gains, bad=bad, hbr_fraction=options.hbr_fraction,
                          conditions=[c for c in CONDITIONS if c in regressors], short=short,
                          motion=sorted(motion, key=lambda artefact: artefact["onset"]), stretches=stretches)


def add_bad_stretches(intensity, *, pairs: list[str], sfreq: float, options, rng) -> list[dict]:
    """One stretch of --bad-stretch seconds at a random time on a --lost-signal share of the pairs (intensity
    x 0.01 with 1% noise: lost contact) and on a --saturated share (clipped at 1.5 x the pair's median, a
    constant: the device's limit), in place on ``intensity`` (channels in pairs of wavelengths). Returns the
    truth: pair, onset, duration, kind."""
    import numpy as np

    counts = {"lost signal": round(options.lost_signal * len(pairs)), "saturated": round(options.saturated * len(pairs))}
    if not any(counts.values()):
        return []  # no random draws: the other simulations stay as they were
    n_times = intensity.shape[1]
    length = min(int(round(options.bad_stretch_s * sfreq)), n_times // 2)
    chosen = rng.permutation(len(pairs))
    truth, used = [], 0
    for kind, count in counts.items():
        for index in chosen[used:used + count]:
            start = int(rng.integers(int(0.1 * n_times), max(int(0.1 * n_times) + 1, n_times - length)))
            rows = intensity[2 * index:2 * index + 2, start:start + length]
            if kind == "lost signal":
                rows *= 0.01 * (1 + 0.01 * rng.standard_normal(rows.shape))
            else:
                rows[:] = 1.5 * np.median(intensity[2 * index:2 * index + 2], axis=1, keepdims=True)
            truth.append({"pair": pairs[index], "onset": start / sfreq, "duration": length / sfreq, "kind": kind})
        used += count
    return truth


def template_raw(template: dict, *, n_times: int):
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


def haemoglobin_to_od(raw, hb, *, ppf: float):
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
