"""The MNE-NIRS tutorial pipeline ("Group Level GLM"), used only as a reference in tests."""

import numpy as np


def tutorial_channel_stats(bids_path, *, resample_hz=0.3, stim_dur=5.0, noise_model="ar1", ppf=6.0,
                           bins=0):
    """mne-nirs run_glm(...).to_dataframe() on one recording, as the tutorial writes it."""
    import mne_bids
    from mne.preprocessing.nirs import beer_lambert_law, optical_density
    from mne_nirs.channels import get_long_channels, get_short_channels
    from mne_nirs.experimental_design import make_first_level_design_matrix
    from mne_nirs.statistics import run_glm

    raw = mne_bids.read_raw_bids(bids_path, verbose="error")
    haemo = beer_lambert_law(optical_density(raw), ppf=ppf)
    haemo.resample(resample_hz)
    short = get_short_channels(haemo)
    haemo = get_long_channels(haemo)
    design = make_first_level_design_matrix(haemo, stim_dur=stim_dur)
    design["ShortHbO"] = np.mean(short.copy().pick(picks="hbo").get_data(), axis=0)
    design["ShortHbR"] = np.mean(short.copy().pick(picks="hbr").get_data(), axis=0)
    glm = run_glm(haemo, design, noise_model=noise_model, bins=bins)
    return glm.to_dataframe()
