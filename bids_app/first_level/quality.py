"""Data-quality metrics of a recording's optical density, per source-detector pair.

The cardiac band: the optical density of every channel band-passed to 0.7-1.5 Hz by MNE's FIR filter
(``mne.filter.filter_data``, 0.3 Hz transition bands), once, for both metrics that use it:
- Scalp coupling index (SCI, Pollonini et al. 2014), as MNE's ``scalp_coupling_index``: the correlation of the
  pair's two wavelengths in the cardiac band (with more wavelengths the smallest over their pairs; 0 where
  it is undefined and for a channel whose optical density is constant).
- Peak spectral power (PSP) of the cardiac band (Pollonini et al. 2016, PHOEBE), as MNE-NIRS's
  ``mne_nirs.preprocessing.peak_power``: the recording is cut into consecutive windows of
  ceil(10 s x sampling rate) samples (an incomplete last window is left out); in each window the two
  wavelengths of the pair are divided by their standard deviation, cross-correlated at every lag (the full
  cross-correlation, divided by the window length), and the PSP is the maximum of the periodogram (Hamming
  window) of that cross-correlation. A pair's PSP is the median over its windows. With more than two
  wavelengths, the smallest value over the pairs of wavelengths (as for the SCI).
Not in the cardiac band:
- Motion burden: the share of the samples in which the optical density jumps: a sample step (temporal
  derivative, one sample to the next) of a channel is flagged when it lies more than ``MOTION_ROBUST_SDS``
  robust standard deviations (1.4826 x the median absolute deviation of the steps) from the channel's median
  step; a step of the pair is flagged when a step of any of its wavelengths is. The burden is the share of
  flagged steps (0 to 1).

Every function is vectorised across pairs (and windows); nothing here reads or writes files.
"""

from __future__ import annotations

import numpy as np

from bids_app.channels import channel_pair

CARDIAC_BAND_HZ = (0.7, 1.5)
CARDIAC_TRANSITION_HZ = 0.3
PSP_WINDOW_S = 10.0
MOTION_ROBUST_SDS = 5.0
MAD_TO_SD = 1.4826  # 1 / Phi^-1(3/4): the median absolute deviation of a normal variable, in standard deviations


def wavelength_groups(ch_names: list[str], wavelengths) -> np.ndarray:
    """(n_pairs, n_wavelengths) indices of the channels of each source-detector pair ("S1_D1 760"), pairs
    in order of first appearance, wavelengths in increasing order."""
    order: dict[str, list[int]] = {}
    for index, name in enumerate(ch_names):
        order.setdefault(channel_pair(name), []).append(index)
    sizes = {len(indices) for indices in order.values()}
    if len(sizes) != 1:
        raise ValueError("source-detector pairs with different numbers of wavelengths")
    wavelengths = np.asarray(wavelengths, dtype=float)
    return np.array([sorted(indices, key=lambda i: wavelengths[i]) for indices in order.values()], dtype=int)


def cardiac_band(od: np.ndarray, *, sfreq: float) -> np.ndarray:
    """``od`` (n_channels, n_times) band-passed to the cardiac band; ValueError when the sampling rate is too
    low for it."""
    from mne.filter import filter_data

    low, high = CARDIAC_BAND_HZ
    return filter_data(np.asarray(od, dtype=float), sfreq, low, high, l_trans_bandwidth=CARDIAC_TRANSITION_HZ,
                       h_trans_bandwidth=CARDIAC_TRANSITION_HZ, verbose="error")


def scalp_coupling_index(band: np.ndarray, *, groups: np.ndarray) -> np.ndarray:
    """SCI per pair from the cardiac band ``band`` (n_channels, n_times)."""
    centred = band - band.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.sum(centred ** 2, axis=1))
    values = []
    for first, second in _wavelength_pairs(groups):
        a, b = groups[:, first], groups[:, second]
        with np.errstate(invalid="ignore", divide="ignore"):
            correlation = np.sum(centred[a] * centred[b], axis=1) / (norms[a] * norms[b])
        values.append(np.where(np.isfinite(correlation), correlation, 0.0))
    return np.min(values, axis=0)


def peak_spectral_power_windows(band: np.ndarray, *, sfreq: float, groups: np.ndarray) -> np.ndarray:
    """PSP of each pair (row of ``groups``) in each window, (n_pairs, n_windows), from the cardiac band
    ``band`` (n_channels, n_times)."""
    from scipy.signal import fftconvolve, periodogram

    length = int(np.ceil(PSP_WINDOW_S * sfreq))
    n_windows = band.shape[1] // length
    if n_windows == 0:
        return np.full((len(groups), 0), np.nan)
    windows = band[:, : n_windows * length].reshape(len(band), n_windows, length)
    spread = windows.std(axis=-1, keepdims=True)
    windows = windows / np.where(spread == 0, 1.0, spread)  # a flat window stays 0 (PSP 0)
    scores = []
    for first, second in _wavelength_pairs(groups):
        a, b = windows[groups[:, first]], windows[groups[:, second]]
        # full cross-correlation at every lag, for all pairs and windows at once (b reversed: a convolution)
        correlation = fftconvolve(a, b[..., ::-1], mode="full", axes=-1) / length
        _, power = periodogram(correlation, fs=sfreq, window="hamming", axis=-1)
        scores.append(power.max(axis=-1))
    return np.min(scores, axis=0)


def peak_spectral_power(band: np.ndarray, *, sfreq: float, groups: np.ndarray) -> np.ndarray:
    """Median PSP over the windows, per pair (NaN for a recording shorter than one window)."""
    windows = peak_spectral_power_windows(band, sfreq=sfreq, groups=groups)
    if windows.shape[1] == 0:
        return np.full(len(groups), np.nan)
    return np.median(windows, axis=1)


def _wavelength_pairs(groups: np.ndarray):
    """Column pairs (i, j), i < j, of ``groups``: the pairs of wavelengths of a source-detector pair."""
    return zip(*np.triu_indices(groups.shape[1], k=1))


def motion_burden(od: np.ndarray, *, groups: np.ndarray, robust_sds: float = MOTION_ROBUST_SDS) -> np.ndarray:
    """Share of the sample steps flagged as motion, per pair (NaN where a wavelength's steps have no spread,
    e.g. a flat signal)."""
    flagged, flat = motion_steps(od, groups=groups, robust_sds=robust_sds)
    burden = flagged.mean(axis=-1)
    burden[flat] = np.nan
    return burden


def motion_steps(od: np.ndarray, *, groups: np.ndarray,
                 robust_sds: float = MOTION_ROBUST_SDS) -> tuple[np.ndarray, np.ndarray]:
    """(flagged, flat): per pair, which sample steps (from sample i to i + 1), (n_pairs, n_times - 1), are
    flagged as motion, and which pairs have a wavelength whose steps have no spread."""
    steps = np.diff(np.asarray(od, dtype=float), axis=1)
    deviation = np.abs(steps - np.median(steps, axis=1, keepdims=True))
    robust_sd = MAD_TO_SD * np.median(deviation, axis=1, keepdims=True)
    flagged = deviation > robust_sds * robust_sd
    return flagged[groups].any(axis=1), (robust_sd[groups, 0] == 0).any(axis=1)


def per_channel(values: np.ndarray, *, groups: np.ndarray, n_channels: int) -> np.ndarray:
    """Each pair's value given to every channel (wavelength) of the pair."""
    out = np.full(n_channels, np.nan)
    out[groups] = np.asarray(values, dtype=float)[:, None]
    return out
