"""Data-quality metrics (scalp coupling index, peak spectral power, motion burden) and the quality line of
the participant report."""

import numpy as np
import pandas as pd
import pytest

from bids_app.first_level.quality import PSP_WINDOW_S, motion_burden
from tests.helpers import assess


def test_peak_spectral_power_and_scalp_coupling_equal_mne_nirs_and_mne(example_recording):
    """Per window, the PSP equals MNE-NIRS's peak_power on the same optical density; the QC table holds the
    median over the windows, for both wavelengths of the pair; the SCI equals MNE's scalp_coupling_index.
    A pair with a constant wavelength gets 0 from both."""
    from mne.preprocessing.nirs import scalp_coupling_index
    from mne_nirs.preprocessing import peak_power

    from bids_app.first_level import quality

    raw, channels = example_recording  # the first bundled recording, one channel's intensity made invalid:
    raw._data[2, 100] = np.nan  # marked bad and replaced by a constant
    qc, od, _ = assess(raw, channels)
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


def test_wavelength_groups_pair_channels_in_order_of_appearance_by_increasing_wavelength():
    from bids_app.first_level.quality import per_channel, wavelength_groups

    names = ["S2_D1 830", "S2_D1 690", "S1_D1 690", "S1_D1 830", "S1_D1 760", "S2_D1 760"]
    groups = wavelength_groups(names, [830, 690, 690, 830, 760, 760])
    assert groups.tolist() == [[1, 5, 0], [2, 4, 3]]
    assert per_channel(np.array([0.5, 0.9]), groups=groups, n_channels=6).tolist() == [0.5, 0.5, 0.9, 0.9, 0.9, 0.5]
    with pytest.raises(ValueError, match="different numbers of wavelengths"):
        wavelength_groups(names[:5], [830, 690, 690, 830, 760])


def test_scalp_coupling_index_is_the_smallest_correlation_of_the_pairs_wavelengths():
    """The Pearson correlation of the band-passed wavelengths (np.corrcoef), the minimum over wavelength pairs
    with three wavelengths; 0 where a wavelength has no variance."""
    from bids_app.first_level.quality import scalp_coupling_index

    rng = np.random.default_rng(4)
    pulse = np.sin(2 * np.pi * 1.1 * np.arange(500) / 10)
    band = np.vstack([pulse + 0.3 * rng.normal(size=500), pulse + 0.6 * rng.normal(size=500),
                      -pulse + rng.normal(size=500), pulse, np.zeros(500), pulse + rng.normal(size=500)])
    sci = scalp_coupling_index(band, groups=np.array([[0, 1, 2], [3, 4, 5]]))
    r = np.corrcoef(band[:3])
    assert sci[0] == pytest.approx(min(r[0, 1], r[0, 2], r[1, 2]), rel=1e-12) and sci[0] < 0
    assert sci[1] == 0.0
    two = scalp_coupling_index(band[:2], groups=np.array([[0, 1]]))
    assert two[0] == pytest.approx(r[0, 1], rel=1e-12) and 0.5 < two[0] < 1


def test_cardiac_band_needs_a_sampling_rate_above_the_band():
    from bids_app.first_level.quality import cardiac_band

    with pytest.raises(ValueError):
        cardiac_band(np.random.default_rng(0).normal(size=(2, 500)), sfreq=2.0)  # Nyquist 1 Hz < 1.5 Hz
    rng = np.random.default_rng(1)
    t = np.arange(3000) / 10.0
    band = cardiac_band(np.vstack([np.sin(2 * np.pi * 0.05 * t), np.sin(2 * np.pi * 1.1 * t)])
                        + 0.01 * rng.normal(size=(2, 3000)), sfreq=10.0)
    inner = slice(300, -300)
    assert np.std(band[0, inner]) < 0.01 and np.std(band[1, inner]) == pytest.approx(np.sqrt(0.5), rel=0.05)


def test_peak_spectral_power_windows_scale_and_length():
    """Whole 10 s windows only; the value does not depend on the signals' scale (each window is divided by its
    standard deviation); a flat window gives 0; a recording shorter than a window gives NaN."""
    from bids_app.first_level.quality import peak_spectral_power, peak_spectral_power_windows

    rng = np.random.default_rng(2)
    sfreq = 8.0
    pulse = np.sin(2 * np.pi * 1.2 * np.arange(int(35.5 * sfreq)) / sfreq)
    band = np.vstack([pulse + 0.2 * rng.normal(size=pulse.size), pulse + 0.2 * rng.normal(size=pulse.size),
                      rng.normal(size=pulse.size), np.zeros(pulse.size)])
    groups = np.array([[0, 1], [2, 3]])
    windows = peak_spectral_power_windows(band, sfreq=sfreq, groups=groups)
    assert windows.shape == (2, 3) and (windows[0] > 0).all() and (windows[1] == 0).all()
    scaled = band * np.array([[1e-3], [50.0], [1.0], [1.0]])
    np.testing.assert_allclose(peak_spectral_power_windows(scaled, sfreq=sfreq, groups=groups), windows, rtol=1e-9)
    np.testing.assert_allclose(peak_spectral_power(band, sfreq=sfreq, groups=groups), np.median(windows, axis=1))
    short = peak_spectral_power(band[:, : int(9 * sfreq)], sfreq=sfreq, groups=groups)
    assert np.isnan(short).all()
