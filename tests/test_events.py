"""Events of one recording (bids_app.first_level.events.read_events), in memory: what is kept, what is
dropped or changed with which warning, and what fails the recording."""

import pandas as pd
import pytest

from bids_app.errors import RecordingError
from bids_app.first_level.events import read_events
from tests.helpers import EXAMPLE, example_path, write_events


def _read(tmp_path, rows, *, duration_s=100.0, stim_dur=None, header="onset\tduration\ttrial_type"):
    warnings = []
    events = read_events(write_events(tmp_path, rows, header=header), duration_s=duration_s, stim_dur=stim_dur,
                         warn=warnings.append)
    return events, warnings


def test_bundled_events_are_read_as_written():
    path = EXAMPLE / "sub-01/ses-01/nirs/sub-01_ses-01_task-tapping_events.tsv"
    written = pd.read_csv(path, sep="\t")
    warnings = []
    events = read_events(example_path(), duration_s=1e6, stim_dur=None, warn=warnings.append)
    assert warnings == [] and list(events.columns) == ["onset", "duration", "trial_type"]
    pd.testing.assert_frame_equal(events, written[["onset", "duration", "trial_type"]].astype(
        {"onset": float, "duration": float, "trial_type": str}))


def test_durations_are_kept_and_condition_names_verbatim(tmp_path):
    events, warnings = _read(tmp_path, "12.5\t5\tTapping/Left\n40\t0\t Tapping - Right \n70.25\t10.5\tA B")
    assert warnings == []
    assert events["onset"].tolist() == [12.5, 40.0, 70.25]
    assert events["duration"].tolist() == [5.0, 0.0, 10.5]
    assert events["trial_type"].tolist() == ["Tapping/Left", "Tapping - Right", "A B"]  # stripped, not split


def test_stim_dur_sets_every_duration_including_na(tmp_path):
    events, warnings = _read(tmp_path, "10\t5\tA\n20\tn/a\tB\n30\t-1\tA", stim_dur=2.5)
    assert events["duration"].tolist() == [2.5, 2.5, 2.5] and warnings == []


def test_na_durations_are_impulses_with_a_warning_naming_the_conditions(tmp_path):
    events, warnings = _read(tmp_path, "10\tn/a\tB\n20\t5\tA\n30\tn/a\tC\n40\tn/a\tB")
    assert events["duration"].tolist() == [0.0, 5.0, 0.0, 0.0]
    assert warnings == [("sub-01_task-x_events.tsv: 3 event(s) with n/a duration (B, C) modelled as impulses "
                        "(duration 0); use --stim-dur to give them a duration")]


def test_negative_duration_fails_the_recording(tmp_path):
    with pytest.raises(RecordingError, match=r"sub-01_task-x_events\.tsv: 1 event\(s\) with a negative duration"):
        _read(tmp_path, "10\t5\tA\n20\t-1\tA")


def test_events_without_condition_or_onset_are_dropped_with_a_warning(tmp_path):
    events, warnings = _read(tmp_path, "10\t5\tA\nn/a\t5\tA\n30\t5\t\n40\t5\tn/a\n50\t5\tB")
    assert events["onset"].tolist() == [10.0, 50.0]
    assert warnings == ["sub-01_task-x_events.tsv: 3 event(s) without a trial_type or onset ignored"]


def test_duplicated_events_are_counted_once(tmp_path):
    events, warnings = _read(tmp_path, "10\t5\tA\n10\t5\tA\n10\t5\tB\n10\t6\tA")
    assert events.to_dict("list") == {"onset": [10.0, 10.0, 10.0], "duration": [5.0, 5.0, 6.0],
                                      "trial_type": ["A", "B", "A"]}
    assert warnings == [("sub-01_task-x_events.tsv: 1 duplicated event(s) (same onset, duration and trial_type) "
                        "counted once")]


def test_events_outside_the_recording_are_dropped(tmp_path):
    """An event is inside when it starts before the end and ends at or after the start."""
    events, warnings = _read(tmp_path, "-3\t5\tA\n-5\t5\tA\n-10\t5\tA\n99.9\t5\tA\n100\t5\tA\n150\t5\tA",
                             duration_s=100.0)
    assert events["onset"].tolist() == [-3.0, -5.0, 99.9]
    assert warnings == ["sub-01_task-x_events.tsv: 3 event(s) outside the recording (0 to 100.0 s) ignored"]


def test_all_events_outside_fail_the_recording(tmp_path):
    with pytest.raises(RecordingError, match=r"all 2 events lie outside the recording \(0 to 50\.0 s\)"):
        _read(tmp_path, "60\t5\tA\n70\t5\tB", duration_s=50.0)


def test_value_column_names_the_conditions_without_trial_type(tmp_path):
    events, warnings = _read(tmp_path, "10\t5\t1\n20\t5\t2", header="onset\tduration\tvalue")
    assert events["trial_type"].tolist() == ["1", "2"]
    assert warnings == ["sub-01_task-x_events.tsv: no trial_type column; the 'value' column names the conditions"]


@pytest.mark.parametrize("header, rows, message", [
    ("onset\tduration", "10\t5", "no trial_type column to name the conditions"),
    ("onset\ttrial_type", "10\tA", "no 'duration' column"),
    ("duration\ttrial_type", "5\tA", "no 'onset' column"),
    ("onset\tduration\ttrial_type", "ten\t5\tA", "non-numeric onset 'ten'"),
    ("onset\tduration\ttrial_type", "10\tlong\tA", "non-numeric duration 'long'"),
    ("onset\tduration\ttrial_type", "inf\t5\tA", "infinite onset"),
    ("onset\tduration\ttrial_type", "", "no events: a GLM needs at least one"),
])
def test_malformed_events_fail_naming_the_file(tmp_path, header, rows, message):
    with pytest.raises(RecordingError, match=message) as info:
        _read(tmp_path, rows, header=header)
    assert str(info.value).startswith(str(tmp_path / "sub-01" / "nirs" / "sub-01_task-x_events.tsv"))


def test_missing_events_file_fails_naming_the_recording(tmp_path):
    bids_path = write_events(tmp_path, "10\t5\tA")
    (tmp_path / "sub-01" / "nirs" / "sub-01_task-x_events.tsv").unlink()
    with pytest.raises(RecordingError, match="sub-01_task-x_nirs.snirf: no events.tsv: a GLM needs events"):
        read_events(bids_path, duration_s=100.0, stim_dur=None, warn=print)
