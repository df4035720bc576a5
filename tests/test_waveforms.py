"""Response waveforms (FIR deconvolution): the known response shape of a simulation is recovered, the
table and its sidecar are complete and valid BIDS, and the FIR fit is the GLM fit of an independent
FIR design (statsmodels)."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers import validate

NIRS = "sub-01/nirs/sub-01_task-tapping_"


@pytest.fixture(scope="module")
def noise_free(tmp_path_factory):
    from bids_app.cli import main
    from bids_app.simulate import SimulationOptions, simulate_dataset

    root = tmp_path_factory.mktemp("waveforms")
    bids = simulate_dataset(root / "bids", options=SimulationOptions(subjects=1, duration_s=600, noise=False,
                                                                     seed=1))
    out = root / "out"
    assert main([str(bids), str(out), "participant", "--skip_bids_validator"]) == 0
    return bids, out


def _true_response(window_bins: np.ndarray, width: float, *, duration: float) -> np.ndarray:
    """The simulator's response to one event (a boxcar of ``duration`` convolved with the glover HRF, as
    nilearn builds it), averaged over each bin [start, start + width) around onset."""
    from nilearn.glm.first_level import make_first_level_design_matrix

    step = 0.01
    onset = 30.0
    times = np.arange(0, 90, step)
    design = make_first_level_design_matrix(
        times, pd.DataFrame({"onset": [onset], "duration": [duration], "trial_type": ["x"]}),
        hrf_model="glover", drift_model=None, oversampling=1)
    response = design["x"].to_numpy()
    return np.array([response[(times - onset >= s) & (times - onset < s + width)].mean() for s in window_bins])


@pytest.mark.slow
def test_fir_waveform_recovers_the_known_response(noise_free):
    bids, out = noise_free
    waveforms = pd.read_csv(out / f"{NIRS}desc-waveform_stats.tsv", sep="\t")
    sidecar = json.loads((out / f"{NIRS}desc-waveform_stats.json").read_text())
    design = json.loads((out / f"{NIRS}design.json").read_text())
    truth = pd.read_csv(bids / "sourcedata/ground_truth/sub-01_task-tapping_truth.tsv", sep="\t")
    width = sidecar["FIRBinWidth"]
    assert sidecar["FIRWindow"] == [-5.0, 30.0]
    assert width == pytest.approx(1 / design["SamplingFrequency"])
    starts = np.sort(waveforms["time"].unique()) - width / 2
    # bins centred on the sample lags k / rate wholly inside the window: the first within a bin of its start
    assert -5.0 - 1e-6 <= starts[0] < -5.0 + width and starts[-1] + width <= 30.0 + 1e-6
    np.testing.assert_allclose((starts + width / 2) / width, np.round((starts + width / 2) / width), atol=1e-9)
    shape = _true_response(starts, width, duration=5.0)

    activated = truth[(truth["role"] == "long") & (truth["chroma"] == "hbo") & (truth["effect_um"] > 0.3)]
    assert len(activated) >= 10
    for row in activated.itertuples():
        for chroma, fraction in (("hbo", 1.0), ("hbr", -0.35)):
            name = row.ch_name.replace(" hbo", f" {chroma}")
            fir = waveforms[(waveforms["ch_name"] == name) & (waveforms["condition"] == row.condition)]
            fir = fir.sort_values("time")
            assert len(fir) == len(starts)
            expected = fraction * row.effect_um * shape
            assert np.corrcoef(fir["effect"], expected)[0, 1] > 0.95, (name, row.condition)
            peak = fir["time"].to_numpy()[np.argmax(np.abs(fir["effect"].to_numpy()))]
            true_peak = starts[np.argmax(np.abs(expected))] + width / 2
            assert abs(peak - true_peak) <= width + 1e-9, (name, row.condition)
            # the amplitude too, within 10% of the truth at the peak (4% too high at 0.6 Hz, see README)
            assert np.abs(fir["effect"]).max() == pytest.approx(np.abs(expected).max(), rel=0.10)
    control = waveforms[(waveforms["condition"] == "Control") & (waveforms["ch_name"] != "n/a")]
    assert control["effect"].abs().max() < 0.1  # no response where the truth has none


@pytest.mark.slow
def test_waveform_table_columns_sidecar_outputs_and_validator(noise_free):
    _, out = noise_free
    waveforms = pd.read_csv(out / f"{NIRS}desc-waveform_stats.tsv", sep="\t", keep_default_na=False)
    sidecar = json.loads((out / f"{NIRS}desc-waveform_stats.json").read_text())
    columns = ["roi", "ch_name", "chroma", "condition", "time", "effect", "se"]
    assert list(waveforms.columns) == columns
    assert all(c in sidecar and sidecar[c]["Description"] for c in columns)
    rois = waveforms[waveforms["roi"] != "n/a"]
    assert set(rois["ch_name"]) == {"n/a"} and set(rois["roi"]) == {"left_hemisphere", "right_hemisphere"}
    channels = pd.read_csv(out / f"{NIRS}desc-channel_stats.tsv", sep="\t")
    assert set(waveforms.loc[waveforms["roi"] == "n/a", "ch_name"]) == set(channels["ch_name"])
    assert (waveforms["se"].astype(float) > 0).all()
    design = json.loads((out / f"{NIRS}design.json").read_text())
    assert {f"{NIRS.split('/')[-1]}desc-{d}_stats.tsv" for d in ("waveform", "blockaverage")} <= set(design["Outputs"])
    assert design["GeneratedBy"]["Options"]["fir_window"] == [-5.0, 30.0]
    assert validate(out)[1] == []


def test_fir_fit_matches_statsmodels_on_an_independent_fir_design():
    """Effects and standard errors of the FIR model (ols) are those of statsmodels OLS on a FIR design
    built here by counting onsets per bin at the fitted rate (design rate 'resampled')."""
    import statsmodels.api as sm

    from bids_app.first_level.fir import fir_design, waveform_table
    from bids_app.first_level.glm import fit_glm

    class Haemo:  # the attributes fir_design reads
        sfreq = 2.0
        times = np.arange(600) / 2.0
        native_sfreq, native_times = sfreq, times

    rng = np.random.default_rng(3)
    events = pd.DataFrame({"onset": [20.0, 51.3, 90.7, 130.2, 170.0, 200.4, 240.9, 270.1],
                           "trial_type": ["A", "B"] * 4})
    nuisance = pd.DataFrame({"A": 0.0, "B": 0.0, "drift_1": np.cos(np.pi * Haemo.times / 300),
                             "constant": 1.0}, index=Haemo.times)
    design, bins = fir_design(events, Haemo, design=nuisance, conditions=["A", "B"], window=(-2.0, 10.0),
                              native=False)
    # bins centred on the sample lags -1.5, -1.0, ..., 9.5 s (wholly inside the window: 23 per condition)
    assert len(bins) == 2 * 23 and list(design.columns[-2:]) == ["drift_1", "constant"]
    expected = np.zeros((600, 46))
    for e, (onset, condition) in enumerate(zip(events["onset"], events["trial_type"])):
        offset = 0 if condition == "A" else 23
        for k in range(23):
            lo, hi = onset - 1.75 + k * 0.5, onset - 1.75 + (k + 1) * 0.5
            expected[(Haemo.times >= lo) & (Haemo.times < hi), offset + k] += 1
    np.testing.assert_array_equal(design.to_numpy()[:, :46], expected)

    y = rng.normal(size=(600, 2))
    fit = fit_glm(y, design.to_numpy(), ar_order=0)
    table = waveform_table(fit, bins=bins, signals={("n/a", "S1_D1 hbo", "hbo"): 0, ("n/a", "S1_D1 hbr", "hbr"): 1})
    for column, chroma in enumerate(("hbo", "hbr")):
        reference = sm.OLS(y[:, column], design.to_numpy()).fit()
        rows = table[table["chroma"] == chroma]
        np.testing.assert_allclose(rows["effect"], reference.params[:46], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(rows["se"], reference.bse[:46], rtol=1e-8)
    np.testing.assert_allclose(table["time"].iloc[:23], -1.5 + 0.5 * np.arange(23))


def test_block_averages_equal_mne_epochs():
    """Mean and standard error of baseline-corrected epochs equal MNE's Epochs (baseline (None, 0)) and
    numpy on its epoch array; events whose epoch leaves the recording are dropped as MNE drops them."""
    import mne

    from bids_app.first_level.block_average import block_average_table

    sfreq = 2.0
    rng = np.random.default_rng(5)
    Y = np.cumsum(rng.normal(size=(400, 2)), axis=0)
    events = pd.DataFrame({"onset": [1.0, 30.2, 60.7, 95.1, 120.4, 150.0, 190.0],
                           "trial_type": ["A", "A", "B", "A", "B", "B", "A"]})
    signals = {("left", "n/a", "hbo"): 0, ("n/a", "S1_D1 hbo", "hbo"): 1}
    table = block_average_table(events, Y, sfreq=sfreq, conditions=["A", "B"], window=(-5.0, 20.0), signals=signals)
    raw = mne.io.RawArray(Y.T, mne.create_info(["a", "b"], sfreq, ch_types="eeg"), verbose="error")
    codes = {"A": 1, "B": 2}
    mne_events = np.array([[round(o * sfreq), 0, codes[t]] for o, t in zip(events["onset"], events["trial_type"])])
    for condition, code in codes.items():
        epochs = mne.Epochs(raw, mne_events, event_id={condition: code}, tmin=-5.0, tmax=20.0, baseline=(None, 0),
                            picks="all", preload=True, reject_by_annotation=False, verbose="error")
        data = epochs.get_data(copy=True)  # (n_epochs, 2, n_times)
        for (roi, ch_name, _), column in signals.items():
            rows = table[(table["condition"] == condition) & (table["roi"] == roi) & (table["ch_name"] == ch_name)]
            np.testing.assert_allclose(rows["time"], epochs.times)
            np.testing.assert_allclose(rows["effect"], data[:, column].mean(axis=0), atol=1e-10)
            np.testing.assert_allclose(rows["se"], data[:, column].std(axis=0, ddof=1) / np.sqrt(len(data)),
                                       atol=1e-10)
            assert (rows["n"] == len(data)).all()
    assert table.loc[table["condition"] == "A", "n"].iloc[0] == 2  # the epochs at 1 s and 190 s leave the recording


@pytest.mark.slow
def test_group_waveforms_are_the_random_effects_model_per_time_bin_as_metafor(simulated):
    """Each row of the group waveform table is R metafor's rma(REML, knha) of the participants' ROI FIR
    effects and standard errors of that ROI, condition, chroma and time bin; the figure is drawn."""
    from tests.helpers import rscript

    _, out = simulated
    group = pd.read_csv(out / "task-tapping_desc-waveform_stats.tsv", sep="\t")
    sidecar = json.loads((out / "task-tapping_desc-waveform_stats.json").read_text())
    assert sidecar["time"]["Units"] == "s" and sidecar["Method"] == "random-effects"
    assert list(group.columns[:5]) == ["roi", "chroma", "condition", "time", "term"]
    parts = []
    for path in sorted(out.glob("sub-*/nirs/*_desc-waveform_stats.tsv")):
        table = pd.read_csv(path, sep="\t")
        parts.append(table[table["roi"].notna()].assign(subject=path.name[4:6]))
    data = pd.concat(parts)
    assert len(group) == len(data.groupby(["roi", "chroma", "condition", "time"]))
    for _, cell in group.groupby(["roi", "chroma", "condition", "term"], sort=False):
        assert cell["time"].is_monotonic_increasing  # numbers by value: -5 before -2.5 before 0
    picked = data[(data["roi"] == "right_hemisphere") & (data["condition"] == "Tapping/Left")]
    picked = picked.assign(cell=picked["chroma"] + "|" + picked["time"].map("{:.6f}".format))
    reference = rscript("""
out <- NULL
for (cell in sort(unique(d$cell))) {
  x <- d[d$cell == cell, ]
  m <- rma(effect, sei = se, data = x, method = "REML", test = "knha", control = list(threshold = 1e-13, maxiter = 10000))
  out <- rbind(out, data.frame(cell = cell, effect = m$b[1], se = m$se[1], ci_low = m$ci.lb, ci_high = m$ci.ub))
}
write.csv(out, stdout(), row.names = FALSE)
""", picked[["cell", "subject", "effect", "se"]])
    ours = group[(group["roi"] == "right_hemisphere") & (group["condition"] == "Tapping/Left")]
    ours = ours.assign(cell=ours["chroma"] + "|" + ours["time"].map("{:.6f}".format))
    merged = ours.merge(reference, on="cell", suffixes=("", "_r"), validate="one_to_one")
    assert len(merged) == len(reference) == 2 * len(picked["time"].unique())
    for column in ("effect", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_r"], rtol=1e-5, atol=1e-9)
    assert (out / "figures" / "task-tapping_desc-waveform_effects.png").is_file()
    assert "Group ROI response waveforms" in (out / "task-tapping_report.html").read_text()


@pytest.mark.parametrize("window", [(5.0, 1.0), (0.0, 0.0), (-5.0,), "-5 20", (-5.0, float("inf"))])
def test_invalid_fir_windows_are_one_line_usage_errors(window):
    from bids_app.errors import UsageError
    from bids_app.options import FirstLevelOptions

    with pytest.raises(UsageError, match=r"invalid fir_window .*: give START END in seconds around onset"):
        FirstLevelOptions(fir_window=window)


def test_a_window_narrower_than_two_bins_fails_the_recording_naming_the_option(example_copy, run_cli, tmp_path):
    code, _, err = run_cli(example_copy, tmp_path / "out", "participant", "--participant_label", "02",
                           "--skip_bids_validator", "--fir-window", "0", "1")
    assert code == 1 and "fewer than 2 bins" in err and "--fir-window" in err
    assert not list((tmp_path / "out").glob("sub-02/**/*_stats.tsv"))  # no half-written output
