"""Time is kept: on a noise-free simulation whose responses are known, the response waveforms (FIR) and the
block averages lie at their true times to within a tenth of the fitted sample period, at the default rate
(0.6 Hz, polyphase resampling) and at the recording's own rate; MNE's FFT resampling (--resample-method mne,
the tutorial's) shifts them by more, which shows that the test can see a shift."""

import numpy as np
import pandas as pd
import pytest

NIRS = "sub-01/nirs/sub-01_task-tapping_"
CONDITION = "Tapping/Left"
SHIFTS = np.arange(-2.0, 2.0 + 1e-9, 0.01)  # s: the candidate delays of the outputs against the truth


@pytest.fixture(scope="module")
def noise_free(tmp_path_factory):
    from bids_app.simulate import SimulationOptions, simulate_dataset

    root = tmp_path_factory.mktemp("timing")
    return simulate_dataset(root / "bids", options=SimulationOptions(subjects=1, duration_s=900, noise=False,
                                                                     seed=3))


def _outputs(bids, out, *flags):
    from bids_app.cli import main

    assert main([str(bids), str(out), "participant", "--skip_bids_validator", "--motion-correction", "none",
                 "--short-regression", "none", "--noise-model", "ols", *flags]) == 0
    tables = {kind: pd.read_csv(out / f"{NIRS}desc-{kind}_stats.tsv", sep="\t")
              for kind in ("waveform", "blockaverage")}
    truth = pd.read_csv(bids / "sourcedata/ground_truth/sub-01_task-tapping_truth.tsv", sep="\t")
    strongest = truth[(truth["condition"] == CONDITION) & (truth["chroma"] == "hbo")
                      & (truth["role"] == "long")].sort_values("effect_um").iloc[-1]
    events = pd.read_csv(bids / f"{NIRS}events.tsv", sep="\t")
    onsets = events.loc[events["trial_type"] == CONDITION, "onset"].to_numpy(float)
    rows = {kind: table[(table["ch_name"] == strongest["ch_name"]) & (table["condition"] == CONDITION)]
            .sort_values("time") for kind, table in tables.items()}
    return rows, onsets


def _response(times: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """The simulator's noise-free response to the events at ``onsets`` (5-s boxcars convolved with the Glover
    HRF, as nilearn builds them), at ``times``."""
    from nilearn.glm.first_level import compute_regressor

    grid = np.arange(-60, times.max() + 60, 0.01)
    regressor, _ = compute_regressor((onsets, np.full(len(onsets), 5.0), np.ones(len(onsets))), "glover", grid,
                                     oversampling=1)
    return np.interp(times, grid, regressor[:, 0])


def _best_shift(observed: np.ndarray, expected_at) -> float:
    """The delay d (s) whose expected curve, scaled by least squares, fits ``observed`` best."""
    errors = []
    for shift in SHIFTS:
        expected = expected_at(shift)
        scale = expected @ observed / (expected @ expected)
        errors.append(np.sum((observed - scale * expected) ** 2))
    return float(SHIFTS[int(np.argmin(errors))])


def _fir_shift(rows: pd.DataFrame, width: float) -> float:
    """FIR bin b estimates the response to one event averaged over its bin [centre - width/2, centre + width/2)."""
    centres = rows["time"].to_numpy()
    offsets = np.linspace(-width / 2, width / 2, 41)[:-1] + width / 80

    def expected(shift):
        return _response(30.0 + centres[:, None] + offsets[None, :] - shift, np.array([30.0])).mean(axis=1)
    return _best_shift(rows["effect"].to_numpy(), expected)


def _block_average_shift(rows: pd.DataFrame, onsets: np.ndarray, sfreq: float) -> float:
    """A block average at lag t is the mean over events of the signal at the sample nearest the onset plus t,
    minus its mean over the lags up to 0 (the overlapping responses of neighbouring events included)."""
    lags = rows["time"].to_numpy()
    starts = np.round(onsets * sfreq) / sfreq
    kept = (starts + lags[0] >= 0)  # the epochs inside the recording, as the block averages keep them
    starts = starts[kept][: int(rows["n"].iloc[0])]

    def expected(shift):
        epochs = _response(starts[:, None] + lags[None, :] - shift, onsets)
        epochs = epochs - epochs[:, lags <= 0].mean(axis=1, keepdims=True)
        return epochs.mean(axis=0)
    return _best_shift(rows["effect"].to_numpy(), expected)


@pytest.mark.slow
@pytest.mark.parametrize("rate", ["0.6", "native"])
def test_waveforms_and_block_averages_lie_at_their_true_times(noise_free, tmp_path, rate):
    flags = ["--resample-hz", "50"] if rate == "native" else ["--resample-hz", rate]
    rows, onsets = _outputs(noise_free, tmp_path / "out", *flags)
    sfreq = 7.8125 if rate == "native" else float(rate)
    fir = _fir_shift(rows["waveform"], width=1 / sfreq)
    block = _block_average_shift(rows["blockaverage"], onsets, sfreq)
    assert abs(fir) <= 0.1 / sfreq + 1e-9, fir
    assert abs(block) <= 0.1 / sfreq + 1e-9, block


@pytest.mark.slow
def test_mne_resampling_shifts_them_by_more(noise_free, tmp_path):
    rows, onsets = _outputs(noise_free, tmp_path / "out", "--resample-hz", "0.6", "--resample-method", "mne",
                            "--design-rate", "resampled")
    assert abs(_block_average_shift(rows["blockaverage"], onsets, 0.6)) > 0.1 / 0.6
