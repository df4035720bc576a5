"""What the simulator adds to the responses: systemic physiology, noise, drifts, motion and bad channels.

Every function draws from the ``rng`` it is given, in a fixed order: the same seed gives the same data.
"""

from __future__ import annotations


def oscillation(times, *, frequency: float, jitter: float, sfreq: float, rng):
    """A sinusoid whose frequency wanders by about ``jitter`` Hz."""
    import numpy as np

    wander = jitter * smooth(len(times), sfreq=sfreq, seconds=30, rng=rng)
    return np.sin(np.cumsum(2 * np.pi * (frequency + wander) / sfreq) + rng.uniform(0, 2 * np.pi))


def systemic(times, *, sfreq: float, rng):
    """Unit-variance systemic oxygenation changes: respiration, Mayer waves, slow fluctuations."""
    mayer = oscillation(times, frequency=rng.uniform(0.08, 0.12), jitter=0.01, sfreq=sfreq, rng=rng)
    signal = (0.4 * oscillation(times, frequency=rng.uniform(0.2, 0.3), jitter=0.02, sfreq=sfreq, rng=rng)
              + 0.8 * mayer * (1 + 0.3 * smooth(len(times), sfreq=sfreq, seconds=60, rng=rng))
              + 0.8 * smooth(len(times), sfreq=sfreq, seconds=20, rng=rng))
    return signal / signal.std()


def smooth(n, *, sfreq: float, seconds: float, rng):
    """Unit-variance Gaussian noise low-passed with a time constant of ``seconds``."""
    import numpy as np
    from scipy.signal import lfilter

    alpha = np.exp(-1 / (seconds * sfreq))
    x = lfilter([1 - alpha], [1, -alpha], rng.standard_normal(n))
    x = lfilter([1 - alpha], [1, -alpha], x)
    return (x - x.mean()) / x.std()


def ar_noise(n, *, rng):
    import numpy as np
    from scipy.signal import lfilter

    x = lfilter([1], [1, -0.95], rng.standard_normal(n))
    return x / np.std(x)


def drift(times, *, rng):
    """A slow drift below the 0.01 Hz cosine basis: a random quadratic trend of up to ~1 uM."""

    u = times / times[-1] - 0.5
    return rng.normal(0, 0.5) * u + rng.normal(0, 0.5) * (u**2 - 1 / 12)


def add_physiology_and_noise(hb, *, pairs, short, times, sfreq: float, options, rng) -> None:
    """Add to ``hb`` (uM, [pair, (hbo, hbr), time]) the systemic signal and cardiac pulse (weighted more
    on short channels), autoregressive noise and a slow drift per channel and chromophore."""
    systemic_signal = systemic(times, sfreq=sfreq, rng=rng) * options.systemic_um
    # the cardiac pulse is a blood-volume change: HbO and HbR rise together
    cardiac = options.cardiac_um * oscillation(times, frequency=rng.uniform(1.0, 1.3), jitter=0.05,
                                               sfreq=sfreq, rng=rng)
    for index, pair in enumerate(pairs):
        weight = rng.uniform(1.2, 1.6) if pair in short else rng.uniform(0.5, 0.9)
        hb[index, 0] += weight * (systemic_signal + cardiac)
        hb[index, 1] += weight * (-0.3 * systemic_signal + 0.25 * cardiac)
        for chroma, scale in ((0, 1.0), (1, 0.5)):
            hb[index, chroma] += scale * options.noise_um * ar_noise(len(times), rng=rng)
            hb[index, chroma] += scale * drift(times, rng=rng)


CAP_WIDE = {"optode": "n/a", "channels": "all"}  # the truth of an artefact on every channel


def is_long(pair: str) -> bool:
    """Long pairs have detectors 1-8; detectors 9-16 are the short channels' (``S3_D5``: long)."""
    return int(pair.split("_")[1][1:]) <= 8


def add_motion_spikes(od, *, count: int, sfreq: float, rng) -> list[dict]:
    """``count`` spikes of 0.5-3 s, the same size on every channel (unlike add_motion's). Returns them."""
    n_times = od.shape[1]
    spikes = []
    for _ in range(count):
        start = rng.integers(0, n_times - int(5 * sfreq))
        width = int(rng.uniform(0.5, 3) * sfreq)
        od[:, start:start + width] += rng.uniform(0.02, 0.1) * rng.choice([-1, 1], size=(od.shape[0], 1))
        spikes.append({"onset": start / sfreq, "duration": width / sfreq, "kind": "spike", **CAP_WIDE})
    return spikes


def add_motion(od, *, names: list[str], channel_sd, events, sfreq: float, options, rng) -> list[dict]:
    """Motion artefacts in optical density: at random times (``motion_per_minute``) and after a share of
    the Tapping trials (``task_locked_motion``). A spike is an offset of 0.5-3 s that returns; a baseline
    shift is an offset reached within 0.5 s that persists. ``motion_scope`` "cap": each artefact affects
    every channel with its own size (0.006-0.1 OD) and sign (optodes move differently). "optode": each
    moves one optode (a source or detector of a long pair, at random) and affects only the channels (rows of
    ``od``, named ``names``: both wavelengths, long and short pairs) that use it, all the same way (one
    sign), by ``optode_motion_sds`` (drawn once per artefact) x 0.5-1 (per channel) times each channel's
    ``channel_sd`` (its OD's SD before motion).
    Returns the artefacts (onset, duration, kind, optode, channels) for the truth."""
    import numpy as np

    n_times = od.shape[1]
    onsets = list(rng.uniform(0, n_times / sfreq - 5, size=rng.poisson(options.motion_per_minute * n_times
                                                                       / sfreq / 60))
                  if options.motion_per_minute else [])
    if options.task_locked_motion:
        trials = events.loc[events["trial_type"].str.startswith("Tapping"), "onset"].to_numpy()
        chosen = trials[rng.random(len(trials)) < options.task_locked_motion]
        onsets += list(chosen + rng.uniform(0, 10, size=len(chosen)))
    pairs = [name.split(" ")[0] for name in names]
    optodes = sorted({optode for pair in pairs if is_long(pair) for optode in pair.split("_")},
                     key=lambda optode: (optode[0] != "S", int(optode[1:])))  # S1..S8, then D1..D8
    artefacts = []
    for onset in sorted(onsets):
        start = int(onset * sfreq)
        if start >= n_times:
            continue
        shift = rng.random() < options.baseline_shift_fraction
        if options.motion_scope == "cap":
            rows, where = slice(None), CAP_WIDE
            size = rng.uniform(0.02, 0.1) * rng.choice([-1, 1], size=od.shape[0]) * rng.uniform(0.3, 1, od.shape[0])
        else:
            optode = optodes[rng.integers(len(optodes))]
            rows = [index for index, pair in enumerate(pairs) if optode in pair.split("_")]
            where = {"optode": optode, "channels": ",".join(dict.fromkeys(pairs[index] for index in rows))}
            size = (rng.uniform(*options.optode_motion_sds) * rng.choice([-1, 1]) * rng.uniform(0.5, 1.0, len(rows))
                    * np.asarray(channel_sd)[rows])
        if shift:
            ramp = np.clip((np.arange(n_times - start)) / (0.5 * sfreq), 0, 1)
            od[rows, start:] += size[:, None] * ramp
            artefacts.append({"onset": start / sfreq, "duration": 0.5, "kind": "baseline shift", **where})
        else:
            width = max(1, int(rng.uniform(0.5, 3) * sfreq))
            od[rows, start:start + width] += size[:, None]
            artefacts.append({"onset": start / sfreq, "duration": width / sfreq, "kind": "spike", **where})
    return artefacts


def add_bad_channels(od, names, *, count: int, rng) -> list[str]:
    """Make ``count`` long pairs bad: alternately flat (tagged 'flat') or very noisy. Returns labels."""

    long_pairs = sorted({n.split(" ")[0] for n in names if is_long(n.split(" ")[0])})
    labels = []
    for k, pair in enumerate(rng.choice(long_pairs, size=min(count, len(long_pairs)), replace=False)):
        index = names.index(f"{pair} 760")
        if k % 2 == 0:
            labels.append(f"{names[index]} flat")
        else:
            od[index] += 0.5 * rng.standard_normal(od.shape[1])
            labels.append(f"{names[index]} noisy")
    return labels
