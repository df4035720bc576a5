"""The recording figures of the participant report (bids_app.report.signals) and the arrays they draw
(bids_app.first_level.signals): what they draw is the data given."""

from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from bids_app.first_level.quality import CARDIAC_BAND_HZ
from bids_app.first_level.signals import motion_samples, recording_signals
from bids_app.report import figures, signals
from tests.helpers import EXAMPLE

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def recording():
    """The bundled sub-01 ses-01 recording read through MNE as the participant job reads it: events, QC table,
    optical density, haemoglobin (Beer-Lambert law, resampled to the default rate)."""
    import mne_bids
    from mne.preprocessing.nirs import beer_lambert_law

    from bids_app.first_level.preprocessing import assess_channels
    from bids_app.first_level.resampling import resample_raw
    from bids_app.inputs import load_recording
    from bids_app.options import FirstLevelOptions

    options = FirstLevelOptions()
    path = mne_bids.BIDSPath(root=EXAMPLE, subject="01", session="01", task="tapping", datatype="nirs",
                             suffix="nirs", extension=".snirf")
    inputs = load_recording(path, options=options, warn=lambda _: None)
    qc, od = assess_channels(inputs.raw, inputs.channels, options=options, warn=lambda _: None)
    haemo = resample_raw(beer_lambert_law(od.copy(), ppf=options.ppf), sfreq=options.resample_hz,
                         method=options.resample_method)
    events = inputs.events
    return events, qc, od, haemo


def test_recording_figures_of_the_bundled_recording(recording):
    events, qc, od, haemo = recording
    arrays = recording_signals(od, haemo, qc, events)
    assert arrays.haemoglobin.shape == (len(haemo.ch_names), len(haemo.times)) == arrays.motion.shape
    np.testing.assert_allclose(arrays.haemoglobin, haemo.get_data() * 1e6)  # uM
    assert arrays.power.shape == (len(od.ch_names), len(arrays.freqs)) and arrays.freqs[1] == pytest.approx(0.01, 0.01)
    assert not arrays.bad.any() and not arrays.od_bad.any()  # no bad channel in this recording
    pd.testing.assert_frame_equal(arrays.events, events[["onset", "duration", "trial_type"]])
    one_bad = recording_signals(od, haemo, qc.assign(status=np.where(qc["name"] == "S1_D1 690", "bad", "good")),
                                events)
    assert [n for n, b in zip(one_bad.ch_names, one_bad.bad) if b] == ["S1_D1 hbo", "S1_D1 hbr"]  # the whole pair
    assert [n for n, b in zip(one_bad.od_names, one_bad.od_bad) if b] == ["S1_D1 690", "S1_D1 830"]
    drawn = signals.recording_figures(arrays, title="sub-01_ses-01_task-tapping")
    assert set(drawn) == {"signals", "spectrum"}
    for png, svg in drawn.values():
        assert png.startswith(PNG_MAGIC)
        root = ElementTree.fromstring(svg)
        assert root.tag.endswith("svg") and "sub-01_ses-01_task-tapping" in "".join(root.itertext())
    parts = signals.recording_figure_parts({key: png for key, (png, _) in drawn.items()},
                                           {"MotionThresholdRobustSD": 5.0}, name="rec")
    assert len(parts) == 2 and "more than 5.0 robust standard deviations" in parts[0]
    assert "cardiac (0.7-1.5 Hz)" in parts[1] and "Mayer waves (0.08-0.12 Hz)" in parts[1]


def test_motion_samples_mark_a_jump_of_the_optical_density_on_both_chromas_of_its_pair(recording):
    _, _, od, haemo = recording
    before = motion_samples(od, times=haemo.times, ch_names=haemo.ch_names)
    jumped = od.copy()
    channel, sample = jumped.ch_names.index("S1_D1 690"), 1000
    jumped._data[channel, sample:] += 0.5  # a baseline shift: one step far outside the others
    after = motion_samples(jumped, times=haemo.times, ch_names=haemo.ch_names)
    nearest = int(np.abs(haemo.times - od.times[sample]).argmin())
    new = np.argwhere(after & ~before)
    assert sorted(haemo.ch_names[row] for row, _ in new) == ["S1_D1 hbo", "S1_D1 hbr"]
    assert set(new[:, 1]) == {nearest}


def _overview(bad_pair="S2_D1"):
    times = np.arange(0, 100, 0.5)
    pairs = ["S1_D1", "S2_D1", "S10_D2"]
    ch_names = [f"{p} {c}" for p in pairs for c in ("hbo", "hbr")]
    rng = np.random.default_rng(0)
    data = rng.normal(size=(len(ch_names), len(times)))
    data[[2, 3]] *= 50  # the bad pair: large values that must not set the colour scale
    motion = np.zeros(data.shape, dtype=bool)
    motion[[0, 1], 40] = True  # S1_D1 at 20 s
    motion[[4, 5], 150] = True  # S10_D2 at 75 s
    events = pd.DataFrame({"onset": [10.0, 30.0, 50.0], "duration": [5.0, 5.0, 0.0], "trial_type": ["B", "A", "B"]})
    bad = np.array([name.startswith(bad_pair + " ") for name in ch_names])
    fig = signals.signal_overview_figure(times, data, ch_names=ch_names, events=events, bad=bad, motion_mask=motion,
                                         title="rec")
    return fig, times, data, ch_names


def test_overview_draws_each_chroma_marks_bad_pairs_motion_samples_and_events():
    from matplotlib.patches import Rectangle

    fig, _, data, ch_names = _overview()
    maps = [ax for ax in fig.axes if ax.get_images() and ax.get_ylabel() in ("HbO", "HbR")]
    assert [ax.get_ylabel() for ax in maps] == ["HbO", "HbR"]
    for ax, chroma in zip(maps, ("hbo", "hbr")):
        rows = [f"{p} {chroma}" for p in ("S1_D1", "S2_D1", "S10_D2")]  # natural order of the pairs
        assert [t.get_text() for t in ax.get_yticklabels()] == ["S1_D1", "S2_D1", "S10_D2"]
        image = ax.get_images()[0]
        np.testing.assert_allclose(image.get_array(), data[[ch_names.index(r) for r in rows]])  # 200 samples: no bin
        good = data[[ch_names.index(r) for r in rows if not r.startswith("S2_D1")]]
        assert image.norm.vmax == -image.norm.vmin == pytest.approx(np.percentile(np.abs(good), 99))
        hatched = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch()]
        assert [p.get_y() + 0.5 for p in hatched] == [1.0]  # row of S2_D1
        assert [t.get_color() for t in ax.get_yticklabels()] == ["0.1", "#c0392b", "0.1"]
        ticks = ax.collections[0].get_offsets()
        assert sorted(map(tuple, np.asarray(ticks))) == [(20.0, 0.0), (75.0, 2.0)]
    events_ax = fig.axes[0]
    assert [t.get_text() for t in events_ax.get_yticklabels()] == ["A", "B"]
    spans = {tuple(np.round(path.get_extents().bounds, 6)) for collection in events_ax.collections
             for path in collection.get_paths()}
    assert spans == {(30.0, -0.4, 5.0, 0.8), (10.0, 0.6, 5.0, 0.8), (50.0, 0.6, 0.5, 0.8)}  # duration 0: one sample
    motion_ax = fig.axes[1]
    counts = motion_ax.collections[0].get_paths()[0].vertices[:, 1]
    assert counts.max() == 1  # one pair flagged at a time
    figures.png_and_svg(fig)


def test_overview_bins_long_recordings():
    times = np.arange(0, 2700, 1 / 7.8125)  # 45 min at 7.8 Hz
    data = np.tile(np.sin(times / 50.0), (2, 1))
    motion = np.zeros(data.shape, dtype=bool)
    motion[:, 5000] = True
    fig = signals.signal_overview_figure(times, data, ch_names=["S1_D1 hbo", "S1_D1 hbr"],
                                         events=pd.DataFrame({"onset": [5.0], "duration": [1.0], "trial_type": ["A"]}),
                                         bad=np.zeros(2, bool), motion_mask=motion, title="rec")
    hbo = next(ax for ax in fig.axes if ax.get_ylabel() == "HbO")
    image = hbo.get_images()[0]
    factor = -(-len(times) // signals.OVERVIEW_BINS)
    assert image.get_array().shape == (1, -(-len(times) // factor))
    np.testing.assert_allclose(image.get_array()[0, 3], data[0, 3 * factor:4 * factor].mean())
    tick = hbo.collections[0].get_offsets()
    assert len(tick) == 1 and abs(tick[0][0] - times[5000]) < factor / 7.8125
    figures.png_bytes(fig)


def test_spectrum_draws_the_bands_where_stated_and_the_median_of_the_good_channels():
    freqs = np.linspace(0, 2.5, 251)
    ch_names = ["S1_D1 760", "S1_D1 850", "S2_D1 760", "S2_D1 850", "S3_D1 760", "S3_D1 850"]
    power = np.outer(np.arange(1, 7), 1 / (1 + freqs))
    bad = np.array([False, False, True, True, False, False])
    fig = signals.spectrum_figure(freqs, power, ch_names=ch_names, bad=bad, title="rec")
    ax = fig.axes[0]
    assert signals.BANDS[-1][1:] == CARDIAC_BAND_HZ  # the cardiac band of the SCI and PSP
    spans = [patch.get_x() for patch in ax.patches], [patch.get_x() + patch.get_width() for patch in ax.patches]
    assert list(zip(*spans)) == [(0.08, 0.12), (0.2, 0.4), (0.7, 1.5)]
    assert [t.get_text() for t in ax.get_legend().get_texts()][-3:] == [
        "Mayer waves 0.08-0.12 Hz", "respiration 0.2-0.4 Hz", "cardiac 0.7-1.5 Hz"]
    thick = [line for line in ax.get_lines() if line.get_linewidth() == 2.0]
    assert len(thick) == 2  # one median per wavelength, of the good channels only
    np.testing.assert_allclose(thick[0].get_ydata(), np.median(power[[0, 4], 1:], axis=0))
    np.testing.assert_allclose(thick[1].get_ydata(), np.median(power[[1, 5], 1:], axis=0))
    # the good channels' thin lines, one collection per wavelength, then the bad ones dashed
    thin_760, thin_850, dashed = ax.collections
    assert [segment[0, 1] for segment in thin_760.get_segments()] == [1 / 1.01, 5 / 1.01]
    assert [segment[0, 1] for segment in thin_850.get_segments()] == [2 / 1.01, 6 / 1.01]
    assert sorted(segment[0, 1] for segment in dashed.get_segments()) == [3.0 / (1 + 0.01), 4.0 / (1 + 0.01)]
    assert dashed.get_linestyle()[0][1] is not None  # dashed
    assert ax.get_xscale() == ax.get_yscale() == "log" and ax.get_xlim()[0] == 0.01  # no 0 Hz on a log axis
    figures.png_and_svg(fig)


def _qc(positions: pd.DataFrame, roles, status) -> pd.DataFrame:
    rows = []
    for (pair, xyz), role, state, k in zip(positions.iterrows(), roles, status, range(len(positions))):
        for wavelength in (760, 850):
            rows.append({"name": f"{pair} {wavelength}", **xyz.to_dict(), "role": role, "sci": 0.5 + 0.1 * k,
                         "psp": 0.2 * k if k else np.nan, "motion_burden": 0.01 * k, "status": state})
    return pd.DataFrame(rows)


def test_quality_map_labels_pairs_on_flat_layouts_and_crosses_bad_pairs():
    positions = pd.DataFrame({"x": [0.0, 0.03, 0.06, 0.0, 0.031, 0.005], "y": [0, 0.001, 0, 0.03, 0.032, 0.04],
                              "z": 0.0}, index=["S1_D1", "S2_D1", "S3_D2", "S4_D2", "S5_D3", "S1_D7"])
    qc = _qc(positions, ["long"] * 5 + ["short"], ["good", "bad", "good", "good", "good", "good"])
    fig = signals.quality_map_figure(qc, positions, flat=True, title="rec", thresholds={"sci": 0.8, "psp": None})
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [label for _, label, _ in signals.QUALITY_PANELS]
    xy, _ = figures.flat_xy(positions.to_numpy())
    for ax, (column, _, _) in zip(panels, signals.QUALITY_PANELS):
        assert sorted(t.get_text() for t in ax.texts) == sorted(positions.index)
        long, short, crosses = ax.collections
        pairs = qc.drop_duplicates("name", keep="first")[::2]  # one row per pair, in natural order of the pairs
        expected = pd.to_numeric(pairs[column]).to_numpy() * (100 if column == "motion_burden" else 1)
        np.testing.assert_allclose(long.get_array().filled(np.nan), expected[:5])
        np.testing.assert_allclose(short.get_array().filled(np.nan), expected[5:])
        np.testing.assert_allclose(crosses.get_offsets(), xy[[1]])  # S2_D1 is bad
    bars = [ax.child_axes[0] for ax in panels]  # the colour bars
    assert [bar.get_ylabel() for bar in bars] == ["threshold 0.8", "", ""]
    assert [line.get_ydata()[0] for line in bars[0].get_lines()] == [0.8] and not bars[1].get_lines()
    assert [bar.get_ylim()[1] for bar in bars] == pytest.approx([1.0, 1.0, 5.0])  # SCI 0-1, the others to their max
    figures.png_bytes(fig)


def test_quality_map_on_the_head_and_in_the_report(recording):
    positions = pd.DataFrame({"x": [-0.05, -0.03, 0.031, 0.052], "y": [0.0, 0.035, 0.028, 0.004],
                              "z": [0.09, 0.1, 0.1, 0.09]}, index=["S1_D1", "S1_D2", "S2_D3", "S2_D4"])
    qc = _qc(positions, ["long"] * 4, ["good"] * 4)
    fig = signals.quality_map_figure(qc, positions, flat=False, title="rec")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert all(ax.lines and not any(t.get_text() for t in ax.texts) for ax in panels)  # head outline, no names
    assert "head positions" in fig._suptitle.get_text()
    figures.png_bytes(fig)
    _, example_qc, _, _ = recording
    parts = signals.quality_map_parts(example_qc, {"NIRSCoordinateSystem": "Other", "SCIThreshold": 0.8,
                                                   "PSPThreshold": None}, name="rec")
    assert len(parts) == 1 and 'alt="channel quality map of rec"' in parts[0]
    assert "thresholds (red line on the colour bar): SCI 0.8." in parts[0]
    no_positions = example_qc.drop(columns=["x", "y", "z"])
    assert "No channel positions" in signals.quality_map_parts(no_positions, {}, name="rec")[0]
