"""A synthetic recording with known haemodynamic responses is recovered by the whole app.

The bundled recording is the template (montage, events, sidecars); its intensities are replaced by
ones computed from known HbO/HbR signals through the inverse of MNE's Beer-Lambert law, written to
SNIRF, and analysed from the command line at the native rate (no resampling bias) with OLS.
"""

import shutil

import numpy as np
import pandas as pd
import pytest

from tests.helpers import EXAMPLE

AMPLITUDE_UM = 0.8  # HbO response of the activated channels; HbR is -0.4 of it
NOISE_UM = 0.2


def _hb_to_od_matrices(raw, ppf):
    """Per pair, the 2x2 matrix taking (hbo, hbr) in uM to the OD of its two wavelengths."""
    from mne.preprocessing.nirs import beer_lambert_law, optical_density

    od = optical_density(raw.copy().crop(tmax=1 / raw.info["sfreq"]))  # two samples
    od._data[:] = np.tile([[1.0, 0.0], [0.0, 1.0]], (len(od.ch_names) // 2, 1))
    hb = beer_lambert_law(od, ppf=ppf).get_data() * 1e6  # rows hbo, hbr per pair
    return {i // 2: np.linalg.inv(hb[i:i + 2, :2]) for i in range(0, len(hb), 2)}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    import mne_bids
    from mne_nirs.io import write_raw_snirf
    from nilearn.glm.first_level import make_first_level_design_matrix

    root = tmp_path_factory.mktemp("synthetic") / "bids"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("sub-02", "ses-02"))
    bids_path = mne_bids.BIDSPath(subject="01", session="01", task="tapping", datatype="nirs",
                                  suffix="nirs", extension=".snirf", root=root)
    raw = mne_bids.read_raw_bids(bids_path, verbose="error").load_data()
    events = pd.read_csv(bids_path.copy().update(suffix="events", extension=".tsv").fpath, sep="\t")
    design = make_first_level_design_matrix(raw.times, events[["onset", "duration", "trial_type"]],
                                            hrf_model="glover", drift_model=None)
    response = design["Tapping"].to_numpy()

    rng = np.random.default_rng(42)
    from mne.preprocessing.nirs import source_detector_distances

    distances = source_detector_distances(raw.info)[::2]
    pairs = [name.split(" ")[0] for name in raw.ch_names[::2]]
    activated = {p for p, d in zip(pairs, distances) if d > 0.015 and int(p.split("_")[0][1:]) % 2 == 1}
    to_od = _hb_to_od_matrices(raw, ppf=6.0)
    for index, pair in enumerate(pairs):
        amplitude = AMPLITUDE_UM if pair in activated else 0.0
        hbo = amplitude * response + NOISE_UM * rng.normal(size=len(response))
        hbr = -0.4 * amplitude * response + NOISE_UM * rng.normal(size=len(response))
        od = to_od[index] @ np.vstack([hbo, hbr])
        raw._data[2 * index:2 * index + 2] = 0.05 * np.exp(-od)
    write_raw_snirf(raw, bids_path.fpath)
    return root, activated


@pytest.mark.slow
def test_known_responses_are_recovered(synthetic, run_cli, tmp_path):
    root, activated = synthetic
    code, _, err = run_cli(root, tmp_path, "participant", "--skip_bids_validator", "--resample-hz", "100",
                           "--noise-model", "ols", "--short-regression", "none")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "sub-01/ses-01/nirs/sub-01_ses-01_task-tapping_desc-channel_stats.tsv",
                        sep="\t")
    table["pair"] = table["ch_name"].str.split(" ").str[0]
    table["truth"] = np.where(table["pair"].isin(activated), AMPLITUDE_UM, 0.0)
    table.loc[table["chroma"] == "hbr", "truth"] *= -0.4
    z = (table["effect"] - table["truth"]) / table["se"]
    assert len(activated) >= 8 and len(table) == 72
    assert np.abs(z).max() < 4.5  # every channel within its standard error
    assert abs(z.mean()) < 0.5  # no bias
    hbo_active = table[(table["chroma"] == "hbo") & (table["truth"] > 0)]
    assert abs(hbo_active["effect"].mean() / AMPLITUDE_UM - 1) < 0.02
    assert (hbo_active["p"] < 1e-6).all()
    null = table[table["truth"] == 0]
    assert (null["p"] < 0.001).sum() <= 1
