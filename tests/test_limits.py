"""Short recordings (bids_app.first_level.limits): a recording too short for its design is one line naming it
and what is too short; responses cut by the end of a longer one are a warning."""

import pandas as pd
import pytest

from bids_app.errors import RecordingError
from bids_app.first_level.limits import SHORT_S, RESPONSE_RETURN_S, check_length, check_responses_fit
from tests.helpers import EXAMPLE

EVENTS = pd.DataFrame({"onset": [10.0, 40.0, 70.0, 20.0], "duration": [5.0, 5.0, 5.0, 2.0],
                       "trial_type": ["A", "A", "A", "B"]})


def test_every_condition_needs_one_whole_response():
    warnings = []
    check_responses_fit(EVENTS, recording_s=97.0, hrf="glover", source="rec.snirf", warn=warnings.append)
    assert warnings == []  # 70 + 5 + 22 = 97: the last response ends with the recording
    check_responses_fit(EVENTS, recording_s=96.0, hrf="glover", source="rec.snirf", warn=warnings.append)
    assert warnings == ["1 of 3 event(s) of 'A' are too close to the end of the recording for their whole "
                        "response (onset + duration + 22 s > 96.0 s): their responses are cut"]
    with pytest.raises(RecordingError) as info:
        check_responses_fit(EVENTS, recording_s=36.0, hrf="glover", source="rec.snirf", warn=warnings.append)
    assert str(info.value) == (
        "rec.snirf: too short for condition 'A': the recording lasts 36.0 s and none of its 3 event(s) has its "
        "whole response inside it (onset + duration + 22 s for the glover response's return; the first ends at "
        "37.0 s)")
    assert RESPONSE_RETURN_S["spm"] > RESPONSE_RETURN_S["glover"]


def test_a_recording_shorter_than_250_s_is_analysed_with_a_warning():
    warnings = []
    check_length(recording_s=SHORT_S, warn=warnings.append)
    assert warnings == []
    check_length(recording_s=200.0, warn=warnings.append)
    assert warnings == ["the recording lasts 200 s: on simulated null recordings shorter than 250 s the "
                        "false-positive rate at p < 0.05 was 6-7% (5% from 250 s on); read its p-values with care"]


def _cropped(tmp_path, seconds: float):
    """The bundled sub-02 recording cut to its first ``seconds`` (SNIRF rewritten, events beyond dropped)."""
    import shutil

    import mne
    from mne_nirs.io import write_raw_snirf

    bids = tmp_path / "bids"
    shutil.copytree(EXAMPLE, bids)
    nirs = bids / "sub-02" / "ses-01" / "nirs"
    snirf = nirs / "sub-02_ses-01_task-tapping_nirs.snirf"
    raw = mne.io.read_raw_snirf(snirf, preload=True, verbose="error").crop(0, seconds)
    snirf.unlink()
    write_raw_snirf(raw, snirf)
    events = nirs / "sub-02_ses-01_task-tapping_events.tsv"
    table = pd.read_csv(events, sep="\t")
    table[table["onset"] < seconds].to_csv(events, sep="\t", index=False, na_rep="n/a")
    return bids


@pytest.mark.slow
def test_a_recording_shorter_than_its_responses_is_one_line(run_cli, tmp_path):
    bids = _cropped(tmp_path, 45.0)
    code, _, err = run_cli(bids, tmp_path / "out", "participant", "--participant_label", "02",
                           "--skip_bids_validator")
    assert code == 1
    line = [x for x in err.splitlines() if "ERROR" in x]
    assert len(line) == 1 and "sub-02_ses-01_task-tapping_nirs.snirf: too short for condition 'Tapping'" in line[0]
    assert not list((tmp_path / "out").rglob("*_stats.tsv"))  # nothing half-written
