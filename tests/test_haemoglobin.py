"""Channel quality and haemoglobin (bids_app.first_level.preprocessing) on the bundled recording, in memory:
the signals equal MNE's Beer-Lambert law on the same optical density, and bad, short and unused channels
are selected as documented."""

from fractions import Fraction

import numpy as np
import pytest

from bids_app.channels import channel_chroma, channel_pair, natural_key
from bids_app.first_level.resampling import rate_ratio, resample_columns, resample_raw
from tests.helpers import assess, haemoglobin


@pytest.mark.parametrize("method", ["polyphase", "mne"])
def test_haemoglobin_equals_mne_beer_lambert_law_on_the_same_optical_density(example_assessed, method):
    """Good long and short channels, in micromolar (MNE's molar values x 1e6), resampled by --resample-method
    (mne: exactly as MNE resamples), with each channel's pair, chroma, role and midpoint x."""
    from mne.preprocessing.nirs import beer_lambert_law

    qc, od, _ = example_assessed
    haemo = haemoglobin(od, qc, motion_correction="none", resample_method=method)
    reference = beer_lambert_law(od.copy(), ppf=6.0)
    native_times = reference.times.copy()
    reference = resample_raw(reference, sfreq=0.6, method=method)
    assert haemo.ch_names == reference.ch_names  # every pair is good and long or short here
    np.testing.assert_allclose(haemo.data, reference.get_data().T * 1e6, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(haemo.times, reference.times)
    np.testing.assert_allclose(haemo.native_times, native_times)
    assert haemo.sfreq == pytest.approx(0.6) and haemo.native_sfreq == pytest.approx(5.000255115056828)
    assert haemo.data.shape == (len(reference.times), 102)
    role = dict(zip(qc["name"].map(channel_pair), qc["role"]))
    assert haemo.pairs == [name.split(" ")[0] for name in reference.ch_names]
    assert haemo.chroma == [name.split(" ")[1] for name in reference.ch_names]
    assert haemo.role == [role[p] for p in haemo.pairs] and haemo.role.count("short") == 30
    np.testing.assert_array_equal(haemo.x_position, [ch["loc"][0] for ch in reference.info["chs"]])
    np.testing.assert_array_equal(haemo.select(role="short"), np.array(haemo.role) == "short")


def test_concentrations_scale_with_the_inverse_of_the_partial_pathlength_factor(example_assessed):
    qc, od, _ = example_assessed
    np.testing.assert_allclose(haemoglobin(od, qc, ppf=3.0).data, 2 * haemoglobin(od, qc, ppf=6.0).data,
                               rtol=1e-10, atol=1e-12)


def test_no_upsampling_above_the_recorded_rate(example_assessed):
    from mne.preprocessing.nirs import beer_lambert_law

    qc, od, _ = example_assessed
    haemo = haemoglobin(od, qc, resample_hz=50.0, motion_correction="none")
    assert haemo.sfreq == haemo.native_sfreq and len(haemo.times) == len(od.times)
    np.testing.assert_allclose(haemo.data, beer_lambert_law(od.copy(), ppf=6.0).get_data().T * 1e6, rtol=1e-12)


def test_bad_channels_take_their_pair_out_with_the_reasons(example_recording):
    """Marked bad in channels.tsv, non-finite, zero and flat intensities: the pair is bad (both wavelengths),
    each reason is written, the partner says why, and neither chroma of the pair reaches the haemoglobin."""
    raw, channels = example_recording
    marked = channels["name"] == "S1_D1 690"
    channels.loc[marked, ["status", "status_description"]] = ["bad", "cable loose"]
    index = raw.ch_names.index
    raw._data[index("S2_D1 830"), 10] = np.nan
    raw._data[index("S3_D3 690"), 20] = 0.0
    raw._data[index("S1_D17 830")] = 0.5  # a short channel, flat
    qc, od, warnings = assess(raw, channels)
    assert warnings == ["channel S1_D17 830: flat signal; marked bad",  # in the order of the channels
                        "channel S2_D1 830: non-finite (NaN or infinite) intensity; marked bad",
                        "channel S3_D3 690: zero or negative intensity; marked bad"]
    described = qc.set_index("name")["status_description"]
    expected = {"S1_D1 690": "marked bad in channels.tsv (cable loose)",
                "S1_D1 830": "paired wavelength S1_D1 690 is bad",
                "S2_D1 830": "non-finite (NaN or infinite) intensity",
                "S2_D1 690": "paired wavelength S2_D1 830 is bad",
                "S3_D3 690": "zero or negative intensity",
                "S3_D3 830": "paired wavelength S3_D3 690 is bad",
                "S1_D17 830": "flat signal",
                "S1_D17 690": "paired wavelength S1_D17 830 is bad"}
    assert described[list(expected)].to_dict() == expected
    bad = qc.loc[qc["status"] == "bad", "name"]
    assert sorted(bad) == sorted(expected) and (described.drop(list(expected)) == "n/a").all()
    assert np.isfinite(od.get_data()).all()  # the unusable channels are neutralised for the optical density
    haemo = haemoglobin(od, qc)
    gone = {channel_pair(name) for name in expected}
    assert not gone & set(haemo.pairs) and len(haemo.ch_names) == 102 - 8


def test_roles_follow_the_distance_limits(example_recording):
    """Short below short_channel_max_mm, long strictly between the long limits, otherwise unused; unused
    channels stay good in the QC table but leave the haemoglobin signals."""
    raw, channels = example_recording
    qc, od, _ = assess(raw, channels, short_channel_max_mm=8.03, long_channel_max_mm=29.99)
    role = qc.groupby("distance_mm")["role"].agg(set).to_dict()  # distances of 8, 8.061, 29.983 and 30 mm
    assert role == {8.0: {"short"}, 8.061: {"unused"}, 29.983: {"long"}, 30.0: {"unused"}}
    assert (qc["status"] == "good").all()
    haemo = haemoglobin(od, qc)
    used = qc[qc["role"] != "unused"]
    assert sorted(haemo.pairs) == sorted(used["name"].map(channel_pair))
    assert haemo.role == [dict(zip(used["name"].map(channel_pair), used["role"]))[p] for p in haemo.pairs]


def test_quality_thresholds_mark_pairs_bad_with_their_value(example_recording, example_assessed):
    raw, channels = example_recording
    qc, _, warnings = assess(raw, channels, sci_threshold=0.9, psp_threshold=0.5)
    default_qc = example_assessed[0]
    np.testing.assert_array_equal(qc["sci"], default_qc["sci"])  # thresholds do not change the metrics
    low_sci, low_psp = qc["sci"] < 0.9, qc["psp"] < 0.5
    assert low_sci.any() and low_psp.any() and (~(low_sci | low_psp)).any() and warnings == []
    assert (qc.loc[low_sci | low_psp, "status"] == "bad").all() and (qc.loc[~(low_sci | low_psp), "status"] == "good").all()
    for row in qc[low_sci & low_psp].itertuples():
        assert row.status_description == f"scalp coupling index {row.sci:.3f} < 0.9; peak spectral power {row.psp:.3f} < 0.5"
    for row in qc[low_sci & ~low_psp].itertuples():
        assert row.status_description == f"scalp coupling index {row.sci:.3f} < 0.9"


def test_a_recording_shorter_than_one_psp_window_has_no_psp_and_says_so(example_recording):
    raw, channels = example_recording
    raw.crop(tmax=8.0)
    qc, _, warnings = assess(raw, channels, psp_threshold=0.1)
    assert qc["psp"].isna().all() and qc["sci"].notna().all() and (qc["status"] == "good").all()
    assert warnings == [("peak spectral power not computed (the recording is shorter than one 10 s window); "
                        "--psp-threshold not applied")]


def test_natural_key_sorts_numbers_as_numbers():
    names = ["S10_D1", "S2_D10", "S2_D2", "S1_D17", "S1_D2", "T"]
    assert sorted(names, key=natural_key) == ["S1_D2", "S1_D17", "S2_D2", "S2_D10", "S10_D1", "T"]
    assert natural_key("S1_D1 hbo") < natural_key("S1_D1 hbr") < natural_key("S1_D2 hbo")
    assert (channel_pair("S12_D3 760"), channel_chroma("S12_D3 760")) == ("S12_D3", "760")


@pytest.mark.parametrize("method", ["polyphase", "mne"])
def test_resample_columns_leaves_columns_at_or_below_the_target_rate_alone(method):
    columns = np.random.default_rng(0).normal(size=(50, 2))
    np.testing.assert_array_equal(resample_columns(columns, native_sfreq=5.0, sfreq=10.0, method=method), columns)
    np.testing.assert_array_equal(resample_columns(columns, native_sfreq=5.0, sfreq=5.0, method=method), columns)


def _sinusoid_error(*, native: float, target: float, seconds: float, method: str) -> float:
    """Largest difference between a slow sinusoid (0.05 Hz, far below the new Nyquist frequency) resampled and
    the sinusoid at the resampled times k / target, a minute away from the edges."""
    times = np.arange(round(seconds * native)) / native
    resampled = resample_columns(np.sin(2 * np.pi * 0.05 * times)[:, None], native_sfreq=native, sfreq=target,
                                 method=method)[:, 0]
    new_times = np.arange(len(resampled)) / target
    inner = (new_times > 60) & (new_times < seconds - 60)
    return float(np.abs(resampled[inner] - np.sin(2 * np.pi * 0.05 * new_times[inner])).max())


@pytest.mark.parametrize("native, target, seconds", [
    (7.8125, 0.6, 600), (7.8125, 0.6, 3600), (5.0, 1.0, 600), (10.172526, 0.6, 2700), (10.172526, 0.3, 600),
    (8.719, 0.3, 1800), (50.0, 0.6, 300), (3.90625, 2.0, 600), (5.0863, 1.0, 3600)])
def test_polyphase_resampling_keeps_time(native, target, seconds):
    """Sample k of the resampled signal is the signal at k / target: a time error of 0.1 s would give errors of
    0.03 here; polyphase leaves 0.002 (the filter's pass-band ripple)."""
    assert _sinusoid_error(native=native, target=target, seconds=seconds, method="polyphase") < 0.002


@pytest.mark.parametrize("native, target", [(7.8125, 0.6), (5.0, 1.0)])
def test_mne_resampling_shifts_time(native, target):
    """What --resample-method mne (MNE's FFT resampling, as the tutorial) does and the default does not: its
    padding and rounding shift the signal against k / target (by up to ~0.9 s from 7.8125 Hz to 0.6 Hz)."""
    assert _sinusoid_error(native=native, target=target, seconds=600, method="mne") > 0.1


def test_polyphase_ratio_is_exact_where_the_rates_allow():
    assert rate_ratio(native_sfreq=7.8125, sfreq=0.6, n_times=21_094) == Fraction(48, 625)
    assert rate_ratio(native_sfreq=50.0, sfreq=0.6, n_times=10_000) == Fraction(3, 250)
    ratio = rate_ratio(native_sfreq=10.172526, sfreq=0.6, n_times=36_621)  # NIRx: not rational in small terms
    assert 2160 * abs(float(ratio) * 10.172526 / 0.6 - 1) <= 0.001  # under 0.1% of a sample over the hour


def test_resampled_raw_keeps_its_annotations_and_channel_information():
    import mne

    info = mne.create_info(["S1_D1 hbo", "S1_D1 hbr"], 7.8125, ch_types=["hbo", "hbr"], verbose="error")
    raw = mne.io.RawArray(np.random.default_rng(1).normal(size=(2, 4688)), info, verbose="error")
    raw.set_annotations(mne.Annotations([10.0, 300.5], [5.0, 5.0], ["A", "B"]))
    resampled = resample_raw(raw.copy(), sfreq=0.6, method="polyphase")
    assert resampled.info["sfreq"] == 0.6 and resampled.info["lowpass"] <= 0.3
    assert resampled.n_times == int(np.ceil(4688 * 48 / 625)) and resampled.ch_names == raw.ch_names
    assert resampled.get_channel_types() == ["hbo", "hbr"]
    np.testing.assert_allclose(resampled.annotations.onset, [10.0, 300.5])
    assert list(resampled.annotations.description) == ["A", "B"]
