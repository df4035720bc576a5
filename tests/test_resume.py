"""Reruns: up-to-date recordings are skipped; other options, inputs or versions redo them, and say so."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

STEM = "sub-02_ses-01_task-tapping"
ROOT = Path(__file__).resolve().parents[1]


def _outputs(out):
    return {p: p.stat().st_mtime_ns for p in (out / "sub-02").rglob("*") if p.is_file()}


def _run(run_cli, bids, out, *options):
    return run_cli(bids, out, "participant", "--participant_label", "02", "--skip_bids_validator", *options)


@pytest.mark.slow
def test_rerun_skips_up_to_date_recordings_and_overwrite_redoes_them(example_copy, run_cli, tmp_path):
    out = tmp_path / "out"
    assert _run(run_cli, example_copy, out)[0] == 0
    before = _outputs(out)
    report = (out / "sub-02.html").stat().st_mtime_ns
    code, _, err = _run(run_cli, example_copy, out)
    assert code == 0
    assert f"{STEM}_nirs.snirf: skipped" in err and "same version, options and inputs" in err
    assert "recordings: 0 done, 0 failed, 1 skipped; reports: 0 done, 0 failed, 1 skipped" in err
    assert _outputs(out) == before and (out / "sub-02.html").stat().st_mtime_ns == report
    next(out.rglob(f"{STEM}_desc-roi_stats.json")).unlink()  # an output lost: the recording is redone
    code, _, err = _run(run_cli, example_copy, out)
    assert code == 0 and "recordings: 1 done, 0 failed, 0 skipped" in err
    assert next(out.rglob(f"{STEM}_desc-roi_stats.json")).is_file()
    before = _outputs(out)
    code, _, err = _run(run_cli, example_copy, out, "--overwrite")
    assert code == 0 and "recordings: 1 done, 0 failed, 0 skipped" in err
    after = _outputs(out)
    assert set(after) == set(before) and all(after[p] > before[p] for p in before)


@pytest.mark.slow
def test_other_options_redo_the_recording_with_a_warning(example_copy, run_cli, tmp_path):
    out = tmp_path / "out"
    assert _run(run_cli, example_copy, out)[0] == 0
    code, _, err = _run(run_cli, example_copy, out, "--noise-model", "ar1")
    assert code == 0
    assert (f"WARNING: {STEM}_nirs.snirf: replacing outputs made with fnirs-glm 0.1.0, other options "
            "(noise_model: auto -> ar1)") in err
    design = json.loads(next(out.rglob(f"{STEM}_design.json")).read_text())
    assert design["GeneratedBy"]["Options"]["noise_model"] == "ar1" and design["AROrder"] == 1


@pytest.mark.slow
def test_changed_input_redoes_the_recording(example_copy, run_cli, tmp_path):
    out = tmp_path / "out"
    assert _run(run_cli, example_copy, out)[0] == 0
    events = example_copy / "sub-02" / "ses-01" / "nirs" / f"{STEM}_events.tsv"
    table = pd.read_csv(events, sep="\t")
    table["duration"] = 5.0
    table.to_csv(events, sep="\t", index=False)
    code, _, err = _run(run_cli, example_copy, out)
    assert code == 0 and f"other inputs ({STEM}_events.tsv changed)" in err
    assert "recordings: 1 done" in err


@pytest.mark.slow
def test_outputs_of_another_version_are_replaced_with_a_warning(example_copy, run_cli, tmp_path):
    out = tmp_path / "out"
    assert _run(run_cli, example_copy, out)[0] == 0
    sidecar = next(out.rglob(f"{STEM}_design.json"))
    design = json.loads(sidecar.read_text())
    design["GeneratedBy"]["Version"] = "0.0.1"
    sidecar.write_text(json.dumps(design))
    description = json.loads((out / "dataset_description.json").read_text())
    description["GeneratedBy"][0]["Version"] = "0.0.1"
    (out / "dataset_description.json").write_text(json.dumps(description))
    code, _, err = _run(run_cli, example_copy, out)
    assert code == 0 and "replacing outputs made with fnirs-glm 0.0.1" in err
    assert f"{out}: outputs of fnirs-glm 0.0.1 are there; this is 0.1.0" in err
    assert json.loads(sidecar.read_text())["GeneratedBy"]["Version"] == "0.1.0"


@pytest.mark.slow
def test_group_level_warns_when_participants_were_analysed_differently(example_copy, run_cli, tmp_path):
    out = tmp_path / "out"
    assert run_cli(example_copy, out, "participant", "--participant_label", "01", "--skip_bids_validator",
                   "--noise-model", "ar1")[0] == 0
    assert _run(run_cli, example_copy, out)[0] == 0
    code, _, err = run_cli(example_copy, out, "group")
    assert code == 0
    assert "participant outputs were made with different options (noise_model differ between recordings)" in err
    assert "noise_model differ between recordings" in (out / "task-tapping_report.html").read_text()


@pytest.mark.slow
def test_progress_lines_and_summary_with_a_failed_recording(example_copy, run_cli, tmp_path):
    broken = example_copy / "sub-01" / "ses-02" / "nirs" / "sub-01_ses-02_task-tapping_nirs.snirf"
    broken.write_bytes(b"not a snirf file")
    code, _, err = run_cli(example_copy, tmp_path / "out", "participant", "--n_cpus", "2",
                           "--skip_bids_validator")
    assert code == 1
    progress = [line for line in err.splitlines() if line.startswith("fnirs-glm: INFO: [")]
    assert sorted(int(line.split("[")[1].split("/")[0]) for line in progress) == [1, 2, 3, 4, 5]
    assert all("/5] " in line for line in progress)
    summary = err.split("summary:\n")[1].splitlines()
    rows = {line.split()[0]: line.split()[1] for line in summary[1:6]}
    assert rows == {"sub-01_ses-01_task-tapping_nirs.snirf": "done", "sub-01_ses-02_task-tapping_nirs.snirf": "failed",
                    "sub-02_ses-01_task-tapping_nirs.snirf": "done", "sub-01.html": "done", "sub-02.html": "done"}
    errors = [line for line in err.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and str(broken) in errors[0]


@pytest.mark.slow
def test_progress_bar_on_a_terminal_only(example_copy, tmp_path):
    assert shutil.which("script"), "script(1) from util-linux runs the app in a terminal"
    command = (f"stty cols 100 rows 40; {sys.executable} {ROOT / 'run.py'} {example_copy} {tmp_path / 'out'} "
               "participant --participant_label 02 --skip_bids_validator")
    terminal = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True,
                              timeout=300, check=False)
    assert terminal.returncode == 0, terminal.stdout
    assert "| 0/2 [" in terminal.stdout and "item/s]" in terminal.stdout  # tqdm's bar, items of 2
    piped = subprocess.run([sys.executable, ROOT / "run.py", example_copy, tmp_path / "again", "participant",
                            "--participant_label", "02", "--skip_bids_validator"],
                           capture_output=True, text=True, timeout=300, check=False)
    assert piped.returncode == 0 and "[1/2] " in piped.stderr and "item/s" not in piped.stderr


@pytest.mark.slow
def test_a_run_killed_while_writing_is_redone_and_a_stale_report_rebuilt(example_copy, run_cli, tmp_path):
    out = tmp_path / "out"
    assert _run(run_cli, example_copy, out)[0] == 0
    stale_report = (out / "sub-02.html").read_text()
    assert _run(run_cli, example_copy, out, "--noise-model", "ar1")[0] == 0
    # a run killed after the tables but before the design sidecar (written last) leaves no record
    next(out.rglob(f"{STEM}_design.json")).unlink()
    code, _, err = _run(run_cli, example_copy, out, "--noise-model", "ar1")
    assert code == 0 and "recordings: 1 done" in err and "replacing" not in err
    # a report older than the outputs beside it (e.g. its writing failed or was interrupted) is rebuilt
    (out / "sub-02.html").write_text(stale_report)
    code, _, err = _run(run_cli, example_copy, out, "--noise-model", "ar1")
    assert code == 0 and "recordings: 0 done, 0 failed, 1 skipped; reports: 1 done" in err
    report = (out / "sub-02.html").read_text()
    assert "ar1 (Worsley bias correction)" in report and "auto (AR(2)" not in report
    code, _, err = _run(run_cli, example_copy, out, "--noise-model", "ar1")
    assert "reports: 0 done, 0 failed, 1 skipped" in err


@pytest.mark.slow
def test_group_outputs_follow_the_participant_outputs(example_copy, run_cli, tmp_path):
    out = tmp_path / "out"
    assert run_cli(example_copy, out, "participant", "--skip_bids_validator", "--contrast", "2*Tapping")[0] == 0
    assert run_cli(example_copy, out, "group")[0] == 0
    assert (out / "task-tapping_desc-contrast_stats.tsv").is_file()
    assert (out / "figures" / "task-tapping_desc-contrast_topomap.png").is_file()
    # contrasts dropped: the participant contrast tables go, and so do the group's on the next group run
    assert run_cli(example_copy, out, "participant", "--skip_bids_validator")[0] == 0
    code, _, err = run_cli(example_copy, out, "group")
    assert code == 0 and "output of an earlier group run removed" in err
    assert not (out / "task-tapping_desc-contrast_stats.tsv").exists()
    assert not (out / "figures" / "task-tapping_desc-contrast_topomap.png").exists()
    # a recording removed from the input is left out of the group level, said
    shutil.rmtree(example_copy / "sub-01" / "ses-02")
    code, _, err = run_cli(example_copy, out, "group")
    assert code == 0 and "whose input recording is no longer in" in err and "sub-01_ses-02_task-tapping" in err
    roi = json.loads((out / "task-tapping_desc-roi_stats.json").read_text())
    assert roi["Recordings"] == ["sub-01_ses-01_task-tapping", "sub-02_ses-01_task-tapping"]
    assert "no longer in" in (out / "task-tapping_report.html").read_text()
    # an unknown participant is a usage error naming those with outputs
    code, _, err = run_cli(example_copy, out, "group", "--participant_label", "99")
    assert code == 2 and "no participant-level outputs of participant(s) 99; there are outputs of: 01, 02" in err
