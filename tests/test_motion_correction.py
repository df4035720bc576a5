"""--motion-correction tddr: MNE's temporal derivative distribution repair on optical density."""

import json

import numpy as np
import pytest

from tests.helpers import haemoglobin


def test_tddr_haemoglobin_equals_mne_applied_by_hand(example_assessed):
    """Our haemoglobin with tddr = MNE's TDDR, Beer-Lambert law and resampling applied by hand (the quality
    assessment does not depend on --motion-correction)."""
    from mne.preprocessing.nirs import beer_lambert_law, temporal_derivative_distribution_repair

    from bids_app.first_level.resampling import resample_raw

    qc, od, _ = example_assessed
    ours = haemoglobin(od, qc, motion_correction="tddr")
    plain = haemoglobin(od, qc, motion_correction="none")
    by_hand = beer_lambert_law(temporal_derivative_distribution_repair(od.copy()), ppf=6.0)
    by_hand = resample_raw(by_hand, sfreq=0.6, method="polyphase")
    expected = by_hand.get_data(picks=ours.ch_names).T * 1e6
    np.testing.assert_allclose(ours.data, expected, rtol=1e-10, atol=1e-12)
    assert not np.allclose(ours.data, plain.data)  # the correction did something


@pytest.mark.slow
def test_tddr_is_recorded_and_stated(tmp_path, run_cli):
    """The option reaches the design sidecar, the participant report and the group methods paragraph."""
    from bids_app.simulate import SimulationOptions, simulate_dataset

    bids = simulate_dataset(tmp_path / "bids", options=SimulationOptions(subjects=2, duration_s=300, seed=5,
                                                                         motion_spikes=5))
    out = tmp_path / "out"
    assert run_cli(bids, out, "participant", "--skip_bids_validator", "--motion-correction", "tddr")[0] == 0
    designs = [json.loads(p.read_text()) for p in sorted(out.rglob("*_design.json"))]
    assert len(designs) == 2 and {d["MotionCorrection"] for d in designs} == {"tddr"}
    assert "Motion correction</dt><dd>tddr" in (out / "sub-01.html").read_text()
    assert run_cli(bids, out, "group", "--skip_bids_validator")[0] == 0
    report = (out / "task-tapping_report.html").read_text()
    assert "temporal derivative distribution repair (TDDR)" in report and "Fishburn" in report
