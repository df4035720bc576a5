"""Per-channel statistics equal the MNE-NIRS tutorial pipeline on a real recording."""

import numpy as np
import pandas as pd
import pytest

from tests.helpers import EXAMPLE, tutorial_channel_stats

TUTORIAL = ["--resample-hz", "0.3", "--stim-dur", "5", "--noise-model", "ar1", "--hrf", "glover",
            "--short-regression", "mean", "--design-rate", "resampled", "--resample-method", "mne",
            "--ar-bias-correction", "none",
            "--motion-correction", "none",
            "--skip_bids_validator"]


@pytest.fixture(scope="module")
def recording():
    import mne_bids

    return mne_bids.BIDSPath(subject="01", session="01", task="tapping", datatype="nirs",
                             suffix="nirs", extension=".snirf", root=EXAMPLE)


def _ours(run_cli, tmp_path, *options):
    code, _, err = run_cli(EXAMPLE, tmp_path, "participant", "--participant_label", "01",
                           "--session_label", "01", *TUTORIAL, *options)
    assert code == 0, err
    return pd.read_csv(tmp_path / "sub-01/ses-01/nirs/sub-01_ses-01_task-tapping_desc-channel_stats.tsv",
                       sep="\t")


def _joined(ours, reference):
    reference = reference[reference["Condition"] == "Tapping"].set_index("ch_name")
    joined = ours.set_index("ch_name").join(reference, how="inner", rsuffix="_ref")
    assert len(joined) == len(ours) == len(reference) == 72
    return joined


@pytest.mark.slow
def test_effect_se_t_equal_mne_nirs_run_glm(run_cli, tmp_path, recording):
    # bins=10**12: MNE-NIRS truncates each AR(1) coefficient to a multiple of 1/bins (default:
    # 1/number of channels); we use the coefficient as estimated, so compare at a negligible grid.
    joined = _joined(_ours(run_cli, tmp_path), tutorial_channel_stats(recording, bins=10**12))
    np.testing.assert_allclose(joined["effect"], joined["theta"] * 1e6, rtol=1e-6)
    np.testing.assert_allclose(joined["se"], joined["se_ref"] * 1e6, rtol=1e-6)
    np.testing.assert_allclose(joined["t"], joined["t_ref"], rtol=1e-6)
    # p: ours from the residual df (samples - rank), MNE-NIRS from the number of regressors
    n_regressors = joined["df_ref"].iloc[0]
    assert (joined["df"] > 100).all() and n_regressors < 20
    assert not np.allclose(joined["p"], joined["p_value"])


@pytest.mark.slow
def test_ols_equals_mne_nirs(run_cli, tmp_path, recording):
    joined = _joined(_ours(run_cli, tmp_path, "--noise-model", "ols"),
                     tutorial_channel_stats(recording, noise_model="ols"))
    np.testing.assert_allclose(joined["effect"], joined["theta"] * 1e6, rtol=1e-6)
    np.testing.assert_allclose(joined["t"], joined["t_ref"], rtol=1e-6)


@pytest.mark.slow
def test_tutorial_default_ar1_grid_changes_little(run_cli, tmp_path, recording):
    """With MNE-NIRS's default AR(1) grid the t values differ only through the truncated rho."""
    joined = _joined(_ours(run_cli, tmp_path), tutorial_channel_stats(recording))
    relative = np.abs(joined["t"] - joined["t_ref"]) / np.abs(joined["t_ref"])
    assert np.median(relative) < 0.01
