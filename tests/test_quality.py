"""Data-quality metrics (scalp coupling index, peak spectral power, motion burden) and the quality line of
the participant report."""

import mne_bids
import numpy as np
import pandas as pd

from bids_app.first_level.quality import PSP_WINDOW_S, motion_burden
from bids_app.options import FirstLevelOptions
from tests.helpers import EXAMPLE


def _assessed(flat_channel: int):
    """QC table and optical density of the first bundled recording, one channel's intensity made invalid."""
    from bids_app.first_level.preprocessing import assess_channels
    from bids_app.inputs import read_channels_tsv, read_raw_intensity

    bids_path = mne_bids.BIDSPath(subject="01", session="01", task="tapping", datatype="nirs", suffix="nirs",
                                  extension=".snirf", root=EXAMPLE)
    raw = read_raw_intensity(bids_path)
    raw._data[flat_channel, 100] = np.nan  # marked bad and replaced by a constant
    return assess_channels(raw, read_channels_tsv(bids_path), options=FirstLevelOptions(), warn=lambda m: None)


def test_peak_spectral_power_and_scalp_coupling_equal_mne_nirs_and_mne():
    """Per window, the PSP equals MNE-NIRS's peak_power on the same optical density; the QC table holds the
    median over the windows, for both wavelengths of the pair; the SCI equals MNE's scalp_coupling_index.
    A pair with a constant wavelength gets 0 from both."""
    from mne.preprocessing.nirs import scalp_coupling_index
    from mne_nirs.preprocessing import peak_power

    from bids_app.first_level import quality

    qc, od = _assessed(flat_channel=2)
    _, reference, _ = peak_power(od, time_window=PSP_WINDOW_S, threshold=0)  # threshold None fails in 0.7.3
    length = int(np.ceil(PSP_WINDOW_S * od.info["sfreq"]))
    # MNE-NIRS's last window lacks its last sample when the windows fill the recording exactly: left out
    complete = reference.shape[1] - (len(od.times) % length == 0)
    groups = quality.wavelength_groups(od.ch_names, [ch["loc"][9] for ch in od.info["chs"]])
    band = quality.cardiac_band(od.get_data(), sfreq=od.info["sfreq"])
    windows = quality.peak_spectral_power_windows(band, sfreq=od.info["sfreq"], groups=groups)
    assert windows.shape == (len(od.ch_names) // 2, reference.shape[1]) and complete >= 30
    for column in range(groups.shape[1]):
        np.testing.assert_allclose(windows[:, :complete], reference[groups[:, column], :complete], rtol=1e-12)
    assert list(qc["name"]) == od.ch_names
    np.testing.assert_allclose(qc["psp"], np.median(reference, axis=1), rtol=1e-12)
    np.testing.assert_allclose(qc["sci"], scalp_coupling_index(od), rtol=1e-12, atol=1e-14)
    flat_pair = qc["name"].str.split(" ").str[0] == qc.at[2, "name"].split(" ")[0]
    assert (qc.loc[flat_pair, ["psp", "sci"]] == 0).all().all() and (qc.loc[~flat_pair, "psp"] > 0).all()
    assert qc.loc[flat_pair, "motion_burden"].isna().all() and qc.loc[~flat_pair, "motion_burden"].notna().all()


def test_motion_burden_is_the_share_of_steps_with_known_jumps():
    """White-noise optical density with spikes (2 steps each) and a baseline shift (1 step) placed by hand:
    the burden is the share of the steps they make, the union over the pair's wavelengths."""
    n = 5000
    od = np.random.default_rng(3).normal(0, 0.01, (6, n))  # pairs: channels (0, 1), (2, 3), (4, 5)
    od[0, [500, 1500, 2500]] += 1.0  # steps 499-500, 1499-1500, 2499-2500
    od[1, [1500, 4000]] += 1.0  # steps 1499-1500 (shared with the other wavelength), 3999-4000
    od[1, 3000:] -= 0.5  # baseline shift: step 2999
    od[5] = 0.3  # a constant wavelength: no spread, no burden
    groups = np.array([[0, 1], [2, 3], [4, 5]])
    burden = motion_burden(od, groups=groups)
    assert burden[0] == (6 + 2 + 1) / (n - 1)
    assert burden[1] == 0
    assert np.isnan(burden[2])
    assert motion_burden(od, groups=groups, robust_sds=1000)[0] == 0


def test_report_quality_line_is_read_from_the_qc_table():
    from bids_app.report.participant import quality_summary

    qc = pd.DataFrame({
        "name": ["S1_D1 690", "S1_D1 830", "S2_D2 690", "S2_D2 830", "S3_D3 690", "S3_D3 830"],
        "sci": [0.9, 0.9, 0.5, 0.5, 0.7, 0.7],
        "psp": [1.0, 1.0, 0.3, 0.3, 0.05, 0.05],
        "motion_burden": [0.01, 0.01, 0.02, 0.02, 0.03, 0.03],
        "status": ["good", "good", "bad", "bad", "bad", "bad"],
        "status_description": ["n/a", "n/a", "scalp coupling index 0.500 < 0.8", "scalp coupling index 0.500 < 0.8",
                               "marked bad in channels.tsv (cable loose); peak spectral power 0.050 < 0.1",
                               "paired wavelength S3_D3 690 is bad"],
    })
    assert quality_summary(qc) == (
        "2 of 3 pairs bad (scalp coupling index < 0.8: 1; marked bad in channels.tsv: 1; "
        "peak spectral power < 0.1: 1); median over the pairs: scalp coupling index 0.700, "
        "peak spectral power 0.3, motion burden 2.00% of samples")
    older = qc.drop(columns=["psp", "motion_burden"]).assign(status="good", status_description="n/a")
    assert quality_summary(older) == "0 of 3 pairs bad; median over the pairs: scalp coupling index 0.700"
