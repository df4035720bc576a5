"""Figures and HTML reports: what they show is what the tables say, and the files stand alone."""

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest

from bids_app.options import FirstLevelOptions
from bids_app.report import figures
from bids_app.report.methods import REFERENCES, methods_paragraph
from tests.helpers import EXAMPLE

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _embedded_images(html: str) -> list[bytes]:
    return [base64.b64decode(data) for data in IMG.findall(html)]


def _png_shape(png: bytes) -> tuple[int, ...]:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(png), format="png").shape


def _assert_self_contained(html: str) -> None:
    """No resource is fetched from anywhere: every src/href is an embedded image or an in-page anchor."""
    assert "<script" not in html
    for attribute, value in re.findall(r'\b(src|href)="([^"]*)"', html):
        assert value.startswith(("data:image/png;base64,", "#")), (attribute, value[:60])


@pytest.mark.slow
def test_group_report_embeds_the_figures_written_beside_it(simulated):
    _, out = simulated
    report = (out / "task-tapping_report.html").read_text()
    _assert_self_contained(report)
    files = {p.name: p.read_bytes() for p in (out / "figures").glob("*.png")}
    assert set(files) == {"task-tapping_desc-channel_topomap.png", "task-tapping_desc-contrast_topomap.png",
                          "task-tapping_desc-roi_effects.png", "task-tapping_desc-waveform_effects.png",
                          "task-tapping_desc-channel_cortex.png", "task-tapping_desc-contrast_cortex.png"}
    assert sorted(_embedded_images(report)) == sorted(files.values())
    for png in files.values():
        height, width, _ = _png_shape(png)
        assert height > 600 and width > 800  # 200 dpi, for print
    from xml.etree import ElementTree

    for name in files:  # every figure also as SVG, vector with its text as text, without a date
        svg = (out / "figures" / name).with_suffix(".svg").read_text()
        root = ElementTree.fromstring(svg)
        assert root.tag.endswith("svg") and "<dc:date>" not in svg
        assert "task tapping" in "".join(root.itertext())
        assert f"figures/{name}; vector: {name[:-4]}.svg" in report
    # the tables in the report are the group tables
    roi = pd.read_csv(out / "task-tapping_desc-roi_stats.tsv", sep="\t")
    for effect in roi["effect"]:
        assert f">{effect:.3g}<" in report
    assert f"Rows with q &lt; 0.05</dt><dd>{int((roi['q'] < 0.05).sum())}<" in report
    assert "01, 02, 03, 04, 05" in report and "per roi x chroma x condition: effect ~ 1 (intercept)" in report
    assert len(set(roi["se"])) == len(roi)  # one se per cell, not one for the whole table
    # the methods paragraph states the parameters that were used and cites what it names
    methods = re.search(r'<p class="methods">(.*?)</p>', report).group(1)
    for phrase in ("fnirs-glm 0.1.0", "partial pathlength factor 6", "resampled to 0.6 Hz",
                   "AR(P) noise model", "Tapping/Left - Tapping/Right", "restricted maximum likelihood",
                   "Knapp-Hartung",
                   "Benjamini-Hochberg"):
        assert phrase in methods, phrase
    cited = sorted({int(n) for n in re.findall(r"\[(\d+)\]", methods)})
    references = re.findall(r"<li>(.*?)</li>", report.split("<h3>References</h3>")[1].split("</ol>")[0])
    assert cited == list(range(1, len(references) + 1)) and len(references) >= 6
    assert "mne" in report and "statsmodels" in report  # software versions


@pytest.mark.slow
def test_participant_reports_show_each_recording(simulated):
    _, out = simulated
    for k in range(1, 6):
        html = (out / f"sub-{k:02d}.html").read_text()
        _assert_self_contained(html)
        images = _embedded_images(html)
        # montage on the brain, quality map, signal overview, spectrum, design matrix, waveforms, block averages,
        # channel and contrast maps
        assert len(images) == 9
        assert 'alt="montage of sub-' in html and ">Where on the brain</h" in html
        assert 'alt="channel quality map of sub-' in html and ">Signals and spectrum</h" in html
        assert all(min(_png_shape(png)[:2]) > 200 for png in images)
        for title in ("Contents", "Design matrix", "Response waveforms", "Block averages", "Channel effects",
                      "Contrasts"):
            assert f">{title}</h" in html, title
        assert '<a href="#sub-' in html
        channels = pd.read_csv(out / f"sub-{k:02d}" / "nirs" / f"sub-{k:02d}_task-tapping_desc-channel_stats.tsv",
                               sep="\t")
        from statsmodels.stats.multitest import fdrcorrection

        marked = int((fdrcorrection(channels["p"])[1] < 0.05).sum())
        assert f"dots mark the {marked} of {len(channels)} channel effects with q &lt; 0.05" in html
        assert "from -5.0 to 30.0 s around onset" in html
        assert f"sub-{k:02d}_task-tapping" in html and "Tapping/Left, Tapping/Right" in html
        roi = pd.read_csv(out / f"sub-{k:02d}" / "nirs" / f"sub-{k:02d}_task-tapping_desc-roi_stats.tsv", sep="\t")
        assert all(f">{value:.3g}<" in html for value in roi["effect"])


def test_participant_report_says_which_channels_are_bad_and_why(example_copy, run_cli, tmp_path):
    channels = example_copy / "sub-02" / "ses-01" / "nirs" / "sub-02_ses-01_task-tapping_channels.tsv"
    table = pd.read_csv(channels, sep="\t", dtype=str, keep_default_na=False)
    table.loc[table["name"] == "S1_D1 690", ["status", "status_description"]] = ["bad", "cable loose"]
    table.to_csv(channels, sep="\t", index=False)
    out = tmp_path / "out"
    code, _, err = run_cli(example_copy, out, "participant", "--participant_label", "02", "--skip_bids_validator")
    assert code == 0, err
    html = (out / "sub-02.html").read_text()
    bad_rows = re.search(r"Bad channels \(2\) and why:</p>(.*?)</table>", html, re.DOTALL).group(1)
    assert "marked bad in channels.tsv (cable loose)" in bad_rows
    assert "paired wavelength S1_D1 690 is bad" in bad_rows
    assert "Data quality</dt><dd>1 of 51 pairs bad (marked bad in channels.tsv: 1); median over the pairs: " in html


def test_topomap_colour_scale_is_symmetric_and_labelled():
    positions = pd.DataFrame({"x": [-0.05, -0.03, 0.031, 0.052], "y": [0.0, 0.035, 0.028, 0.004],
                              "z": [0.09, 0.1, 0.1, 0.09]}, index=["S1_D1", "S1_D2", "S2_D3", "S2_D4"])
    table = pd.DataFrame({"ch_name": [f"{p} {c}" for c in ("hbo", "hbr") for p in positions.index],
                          "chroma": ["hbo"] * 4 + ["hbr"] * 4, "condition": "A",
                          "effect": [0.1, 0.4, -0.2, 0.3, -0.7, 0.0, 0.1, 0.2]})
    fig = figures.topomap_figure(table, positions, panel_column="condition", flat=False, title="t")
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 2  # one colour scale per chroma: HbO up to 0.4, HbR up to 0.7
    assert [(im.norm.vmin, im.norm.vmax) for im in images] == [(-0.4, 0.4), (-0.7, 0.7)]
    assert [ax.get_ylabel() for ax in fig.axes[-2:]] == ["HbO effect (\u00b5M)", "HbR effect (\u00b5M)"]
    figures.png_bytes(fig)


def test_flat_maps_label_the_pairs_and_mark_q_keeps_every_effect():
    positions = pd.DataFrame({"x": [0.0, 0.03, 0.06, 0.0, 0.031], "y": [0, 0.001, 0, 0.03, 0.032], "z": 0.0},
                             index=[f"S{k}_D{k}" for k in range(1, 6)])
    table = pd.DataFrame({"ch_name": [f"{p} hbo" for p in positions.index], "chroma": "hbo", "condition": "A",
                          "effect": np.linspace(-1, 1, 5), "q": [0.01, 0.5, 0.04, 0.2, 0.06]})
    fig = figures.topomap_figure(table, positions, panel_column="condition", flat=True, mark_q=0.05, title="t")
    assert sorted(t.get_text() for t in fig.axes[0].texts) == list(positions.index)
    values, mask = figures.masked_effects(table, q_threshold=None, mark_q=0.05)
    assert values.tolist() == table["effect"].tolist() and mask.tolist() == [True, False, True, False, False]
    figures.png_bytes(fig)


def test_waveform_figure_draws_the_table_with_its_band():
    time = np.arange(-2, 10, 1.0)
    table = pd.concat([pd.DataFrame({"roi": roi, "chroma": chroma, "condition": "A", "time": time,
                                     "effect": np.sin(time) * (1 if chroma == "hbo" else -0.4), "se": 0.1 + 0 * time})
                       for roi in ("left", "right") for chroma in ("hbo", "hbr")])
    fig = figures.waveform_figure(table, title="t")
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    hbo = table[(table["roi"] == "left") & (table["chroma"] == "hbo")]
    line = next(line for line in ax.lines if line.get_label() == "HbO")
    np.testing.assert_allclose(line.get_ydata(), hbo["effect"])
    band = ax.collections[0].get_paths()[0].vertices
    assert np.isclose(band[:, 1].max(), (hbo["effect"] + 1.96 * 0.1).max())
    assert np.isclose(band[:, 1].min(), (hbo["effect"] - 1.96 * 0.1).min())
    assert line.get_color() == figures.CHROMA_COLOURS["hbo"]
    figures.png_bytes(fig)


def test_design_figure_separates_conditions_short_channels_and_drifts():
    rng = np.random.default_rng(0)
    design = pd.DataFrame({"A": rng.normal(size=200), "B": rng.normal(size=200), "short_hbo_mean": rng.normal(size=200),
                           "drift_1": np.cos(np.arange(200) / 50), "drift_2": np.cos(np.arange(200) / 25),
                           "constant": 1.0})
    kinds = {"A": "condition: events convolved with the HRF", "B": "condition: events convolved with the HRF",
             "short_hbo_mean": "short-channel nuisance regressor (uM)", "drift_1": "cosine drift",
             "drift_2": "cosine drift", "constant": "constant"}
    from bids_app.report.design_figure import design_figure

    fig = design_figure(design, kinds=kinds, sfreq=2.0, title="t")
    conditions_ax, short_ax, correlation_ax = fig.axes[:3]
    assert [line.get_label() for line in conditions_ax.lines] == ["A", "B"]
    assert [line.get_label() for line in short_ax.lines] == ["short_hbo_mean"]
    assert conditions_ax.lines[0].get_xdata()[-1] == 199 / 2.0  # seconds at the recorded rate
    matrix = correlation_ax.get_images()[0].get_array()
    expected = design[["A", "B", "short_hbo_mean"]].corr().to_numpy()
    np.testing.assert_allclose(matrix[:, :3], expected)
    drift_r = [max(abs(np.corrcoef(design[c], design[d])[0, 1]) for d in ("drift_1", "drift_2"))
               for c in ("A", "B", "short_hbo_mean")]
    np.testing.assert_allclose(matrix[:, 3], drift_r)
    figures.png_bytes(fig)


def test_recording_q_is_benjamini_hochberg_over_the_table():
    from bids_app.report.participant import _with_q

    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan, 0.001])
    q = _with_q(pd.DataFrame({"p": p}))["q"].to_numpy()
    finite = p[np.isfinite(p)]
    order = np.argsort(finite)
    ranked = finite[order] * len(finite) / np.arange(1, len(finite) + 1)
    expected = np.empty_like(finite)
    expected[order] = np.minimum.accumulate(ranked[::-1])[::-1]  # closed form of BH step-up
    np.testing.assert_allclose(q[np.isfinite(p)], expected)
    assert np.isnan(q[4])


def test_q_mask_draws_non_significant_channels_as_zero():
    cell = pd.DataFrame({"effect": [0.5, -0.3, 0.2], "q": [0.01, 0.2, 0.05]})
    values, mask = figures.masked_effects(cell, q_threshold=0.05)
    assert values.tolist() == [0.5, 0.0, 0.0] and mask.tolist() == [True, False, False]
    values, mask = figures.masked_effects(cell, q_threshold=None)
    assert values.tolist() == [0.5, -0.3, 0.2] and mask is None


def test_flat_probe_layout_is_drawn_as_it_is():
    qc = pd.read_csv(EXAMPLE / "sub-01" / "ses-01" / "nirs" /
                     "sub-01_ses-01_optodes.tsv", sep="\t")
    assert (qc["z"] == 0).all()  # the example's optodes: a flat 2-D layout (coordsystem "Other")
    positions = pd.DataFrame({"x": [0.0, 0.03, 0.06, 0.0, 0.03], "y": [0, 0, 0, 0.03, 0.03], "z": 0.0},
                             index=[f"S{k}_D{k}" for k in range(1, 6)])
    assert figures.is_flat_layout(positions, coordinate_system="CapTrak")  # all z equal
    assert figures.is_flat_layout(positions.assign(z=[0, .01, .02, .03, .04]), coordinate_system="Other")
    assert not figures.is_flat_layout(positions.assign(z=[0, .01, .02, .03, .04]), coordinate_system="CapTrak")
    table = pd.DataFrame({"ch_name": [f"{p} hbo" for p in positions.index], "chroma": "hbo",
                          "condition": "A", "effect": np.linspace(-1, 1, 5)})
    fig = figures.topomap_figure(table, positions, panel_column="condition", flat=True, title="t")
    assert "flat probe layout" in fig._suptitle.get_text()
    map_axes = fig.axes[0]
    assert not map_axes.lines and len(map_axes.get_images()) == 1  # no head outline (lines), one map
    figures.png_bytes(fig)
    # a regular grid that cannot be triangulated is drawn as coloured dots, not an error
    grid = positions.iloc[:4].assign(x=[0, 1, 0, 1], y=[0, 0, 1, 1])
    fig = figures.topomap_figure(table.iloc[:4], grid, panel_column="condition", flat=True, title="t")
    assert len(fig.axes[0].collections) == 1 and fig.axes[0].collections[0].get_array().tolist() == \
        table["effect"].iloc[:4].tolist()
    figures.png_bytes(fig)


def _design(options: FirstLevelOptions, *, sfreq: float, ar_order: int, short: tuple[str, ...] = ("short_hbo",)):
    """The fields of a design sidecar that the methods paragraph reads."""
    return {"SamplingFrequency": sfreq, "AROrder": ar_order, "ShortChannelRegressors": list(short),
            "ARBiasCorrection": options.ar_bias_correction if ar_order else "n/a",
            "GeneratedBy": {"Options": options.participant_level()}}


def test_methods_paragraph_states_non_default_parameters():
    options = FirstLevelOptions(sci_threshold=0.8, psp_threshold=0.1, noise_model="ar1", short_regression="none",
                              stim_dur=5, hrf="spm", resample_hz=1.0, ppf=0.1, design_rate="resampled",
                              fir_window=(-2, 30))
    text, references = methods_paragraph(designs=[_design(options, sfreq=1.0, ar_order=1)],
                                         versions={"fnirs-glm": "9.9", "mne": "1.0"}, group_method="random-effects",
                                         covariates=("age",))
    for phrase in ("fnirs-glm 9.9", "scalp coupling index below 0.8", "power of the cardiac band below 0.1",
                   "AR(1) noise model", "No short-channel",
                   "a duration of 5 s", "SPM haemodynamic", "resampled to 1 Hz", "factor 0.1",
                   "built at the resampled rate", "random-effects meta-regression", "Covariates from participants.tsv (age)",
                   "Response waveforms were estimated from -2 to 30 s around onset"):
        assert phrase in text, phrase
    assert references[-5:] == [REFERENCES[k] for k in ("reml", "knha", "inthout", "metafor", "bh")]
    assert REFERENCES["psp"] in references and REFERENCES["sci"] in references
    assert sorted({int(n) for n in re.findall(r"\[(\d+)\]", text)}) == list(range(1, len(references) + 1))


def test_methods_paragraph_states_quality_metrics_as_recorded():
    """Thresholds given are exclusion criteria; metrics without one are said to be for quality control only;
    outputs of a version without the peak spectral power (no psp_threshold recorded) do not claim it."""
    design = _design(FirstLevelOptions(psp_threshold=0.1), sfreq=0.6, ar_order=2)
    text, references = methods_paragraph(designs=[design], versions={})
    assert "Channel pairs with a peak spectral power of the cardiac band below 0.1 [" in text
    assert "the scalp coupling index [" in text and "was computed for quality control but not used" in text
    assert REFERENCES["psp"] in references
    design = _design(FirstLevelOptions(), sfreq=0.6, ar_order=2)
    text, _ = methods_paragraph(designs=[design], versions={})
    assert "and the peak spectral power of the cardiac band [" in text and "were computed for quality" in text
    del design["GeneratedBy"]["Options"]["psp_threshold"]
    text, references = methods_paragraph(designs=[design], versions={})
    assert "peak spectral power" not in text and REFERENCES["psp"] not in references


def test_methods_paragraph_refuses_to_describe_outputs_made_with_different_options():
    """A paragraph pasted into a paper must not describe one recording's options as everyone's."""
    designs = [_design(FirstLevelOptions(), sfreq=0.6, ar_order=2),
               _design(FirstLevelOptions(noise_model="ar-irls", motion_correction="tddr"), sfreq=0.6, ar_order=2)]
    text, references = methods_paragraph(designs=designs, versions={}, group_method="random-effects")
    assert "motion_correction, noise_model differ between recordings" in text and references == []
    assert "AR(P)" not in text


def test_methods_paragraph_states_the_recorded_rates_and_ar_orders():
    """A slower recording keeps its own rate; the paragraph says what the design sidecars recorded."""
    options = FirstLevelOptions(resample_hz=50)
    text, _ = methods_paragraph(designs=[_design(options, sfreq=5.0, ar_order=20)], versions={})
    assert "P = 20" in text and "fitted at 5 Hz" in text and "P = 200" not in text
    assert "resampled to 50 Hz where recorded faster" in text
    mixed = [_design(options, sfreq=5.0, ar_order=20), _design(options, sfreq=2.5, ar_order=10)]
    text, _ = methods_paragraph(designs=mixed, versions={})
    assert "P = 20 at 5 Hz, P = 10 at 2.5 Hz" in text and "fitted at 2.5 and 5 Hz" in text


@pytest.mark.slow
def test_group_report_states_the_recorded_rate_and_ar_order_not_the_requested_ones(tmp_path, run_cli):
    """The bundled recordings are sampled at about 5 Hz: --resample-hz 50 keeps their rate (no upsampling),
    and the AR order is 4 x the rate that was fitted. The report says what the design sidecars say."""
    import json

    out = tmp_path / "out"
    assert run_cli(EXAMPLE, out, "participant", "--resample-hz", "50", "--skip_bids_validator",
                   "--n_cpus", "2")[0] == 0
    assert run_cli(EXAMPLE, out, "group", "--skip_bids_validator")[0] == 0
    designs = [json.loads(p.read_text()) for p in sorted(out.rglob("*_design.json"))]
    rates = {f"{d['SamplingFrequency']:g}" for d in designs}  # 5.00026 Hz (two files differ in the 7th digit)
    orders = {d["AROrder"] for d in designs}
    assert len(rates) == 1 and len(orders) == 1 and float(next(iter(rates))) < 50
    rate, order = next(iter(rates)), next(iter(orders))
    assert order == round(4 * float(rate)) and order != 200
    report = (out / "task-tapping_report.html").read_text()
    methods = re.search(r'<p class="methods">(.*?)</p>', report).group(1)
    assert f"P = {order})" in methods and f"fitted at {float(rate):.4g} Hz" in methods
    assert "P = 200" not in methods and "resampled to 50 Hz." not in methods
    participant = (out / "sub-01.html").read_text()
    assert f"{rate} Hz, noise model auto (AR({order}), Worsley bias correction)" in participant  # design caption


def test_maps_wrap_after_four_panels_and_show_dollar_signs_as_text():
    positions = pd.DataFrame({"x": [-0.05, -0.03, 0.031, 0.052], "y": [0.0, 0.035, 0.028, 0.004],
                              "z": [0.09, 0.1, 0.1, 0.09]}, index=["S1_D1", "S1_D2", "S2_D3", "S2_D4"])
    panels = ["A", "B", "C", "D", "E", "$5^$"]
    table = pd.DataFrame([{"ch_name": f"{p} {c}", "chroma": c, "condition": k, "effect": 0.1}
                          for c in ("hbo", "hbr") for k in panels for p in positions.index])
    fig = figures.topomap_figure(table, positions, panel_column="condition", flat=False, title="cost $5")
    maps = [ax for ax in fig.axes if ax.get_images()]
    assert len(maps) == 12 and len(fig.axes) == 2 * 2 * 4 + 2  # 2 chroma x 2 rows x 4 columns + a colour bar per chroma
    assert any(ax.get_title() == "HbR \u00b7 \\$5^\\$" for ax in maps)
    assert len(figures.png_bytes(fig)) > 1000  # drawn: no mathtext error


def test_methods_number_references_in_order_and_cite_only_what_was_used():
    options = FirstLevelOptions(noise_model="ols")
    designs = [_design(options, sfreq=0.6, ar_order=0, short=() if k < 2 else ("short_hbo",)) for k in range(6)]
    text, references = methods_paragraph(designs=designs, versions={}, group_method="mixedlm")
    assert REFERENCES["ar"] not in references  # no prewhitening with OLS
    firsts = [text.index(f"[{n}]") for n in range(1, len(references) + 1)]
    assert firsts == sorted(firsts)
    assert "2 of 6 recordings had no good short channel" in text
    assert "one model per chroma" in text and "unweighted" in text and "as in the MNE-NIRS tutorial" in text


@pytest.mark.parametrize(("noise_model", "correction", "orders", "stated"), [
    ("auto", "worsley", (2,), ""), ("ar-irls", "worsley", (2,), ""), ("auto", "none", (2,), None),
    ("ols", "worsley", (0,), None), ("auto", "worsley", (0,), None),  # auto below 0.125 Hz: AR order 0
    ("auto", "worsley", (2, 0), " (in the 1 of 2 recordings with an AR model)")])
def test_methods_paragraph_states_the_ar_bias_correction_the_sidecars_recorded(noise_model, correction, orders,
                                                                                 stated):
    options = FirstLevelOptions(noise_model=noise_model, ar_bias_correction=correction)
    designs = [_design(options, sfreq=0.6, ar_order=order) for order in orders]
    text, references = methods_paragraph(designs=designs, versions={})
    sentence = f"corrected for the bias of the least-squares fit on the design{stated} [" if stated is not None else None
    assert ("corrected for the bias of the least-squares fit" in text) == (stated is not None)
    assert sentence is None or sentence in text
    assert (REFERENCES["worsley"] in references) == (stated is not None)


def test_methods_paragraph_of_outputs_made_before_the_ar_bias_correction_existed_states_none():
    design = _design(FirstLevelOptions(), sfreq=0.6, ar_order=2)
    del design["ARBiasCorrection"], design["GeneratedBy"]["Options"]["ar_bias_correction"]
    text, references = methods_paragraph(designs=[design], versions={})
    assert "corrected for the bias" not in text and REFERENCES["worsley"] not in references


@pytest.mark.parametrize(("correction", "counts", "stated"), [
    ("level-shifts", (12, 12), " (12 transitions per recording)"),
    ("level-shifts", (3, 17), " (3-17 transitions per recording)"),
    ("level-shifts", (1,), " (1 transition per recording)"),
    ("level-shifts", (0, 0), " (none was found)"),
    ("none", ("n/a",), None), ("tddr", ("n/a",), None)])
def test_methods_paragraph_states_the_level_shifts_the_sidecars_recorded(correction, counts, stated):
    """The level-shift sentence appears with level-shifts only, with the transition counts of the sidecars."""
    options = FirstLevelOptions(motion_correction=correction)
    designs = [{**_design(options, sfreq=0.6, ar_order=2), "MotionTransitions": count} for count in counts]
    text, _ = methods_paragraph(designs=designs, versions={})
    assert ("by removing level shifts" in text) == (stated is not None)
    assert stated is None or f"detected across channels{stated}, and each channel's level change" in text


def test_methods_paragraph_and_report_state_the_optodes_own_transitions():
    """The per-optode transitions the sidecars recorded (MotionLocalTransitions) are stated with their range
    per recording; sidecars written before they existed give the sentence without them."""
    from bids_app.report.participant import _motion_correction

    options = FirstLevelOptions()
    designs = [{**_design(options, sfreq=0.6, ar_order=2), "MotionCorrection": "level-shifts", "MotionTransitions": 4,
                "MotionLocalTransitions": local}
               for local in ({"S2": 2, "D5": 1}, {})]
    text, _ = methods_paragraph(designs=designs, versions={})
    assert ("detected across channels (4 transitions per recording); transitions of the channels of one source or "
            "detector alone") in text
    assert "were detected per optode (0-3 transitions per recording) and removed from that optode's channels" in text
    older = [{key: value for key, value in design.items() if key != "MotionLocalTransitions"} for design in designs]
    assert "one source or detector" not in methods_paragraph(designs=older, versions={})[0]
    assert _motion_correction(designs[0]) == ("level-shifts (4 cap-wide transitions removed; 3 of single optodes: "
                                              "S2 2, D5 1)")
    assert _motion_correction(designs[1]) == "level-shifts (4 cap-wide transitions removed; 0 of single optodes)"
    assert _motion_correction(older[0]) == "level-shifts (4 transitions removed)"
