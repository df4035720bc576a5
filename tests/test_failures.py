"""Failures that leave nothing behind and say what they are, and reruns that change nothing: temporary files of
an interrupted run are removed by the next; a full disk and a read-only output folder are one line naming the
output; a rerun of either level that has nothing to redo changes no byte (model.json included)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bids_app.temporaries import writer
from tests.helpers import EXAMPLE

ROOT = Path(__file__).resolve().parents[1]


def _files(out: Path) -> dict[str, bytes]:
    """Every output file's bytes, the run logs (one per invocation) aside."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.relative_to(out).parts[0] != "logs"}


@pytest.mark.slow
def test_reruns_of_both_levels_with_nothing_to_redo_change_no_byte(run_cli, tmp_path):
    out = tmp_path / "out"
    assert run_cli(EXAMPLE, out, "participant", "--skip_bids_validator")[0] == 0
    participant_model = (out / "model.json").read_text()
    assert run_cli(EXAMPLE, out, "group", "--skip_bids_validator")[0] == 0
    first = _files(out)
    whole = (out / "model.json").read_text()
    assert whole != participant_model and '"Level": "Dataset"' in whole  # the whole analysis, both levels
    code, _, err = run_cli(EXAMPLE, out, "participant", "--skip_bids_validator")
    assert code == 0 and "0 done, 0 failed, 3 skipped" in err
    assert _files(out) == first  # model.json still the whole analysis: it describes the group tables beside it
    assert run_cli(EXAMPLE, out, "group", "--skip_bids_validator")[0] == 0
    assert _files(out) == first
    # a participant-level run with other options writes the model of what it did (the group tables are stale)
    assert run_cli(EXAMPLE, out, "participant", "--skip_bids_validator", "--participant_label", "02",
                   "--noise-model", "ar1")[0] == 0
    assert '"Level": "Dataset"' not in (out / "model.json").read_text()


@pytest.mark.slow
def test_temporary_files_of_a_killed_run_are_removed_by_the_next(tmp_path):
    """A participant run killed with SIGKILL while writing leaves a temporary file of a dead process; the next
    run in that output removes it. A temporary file of a live process (e.g. a concurrent job) is left alone."""
    out = tmp_path / "out"
    nirs = out / "sub-02" / "ses-01" / "nirs"
    nirs.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tag = writer().rsplit("-", 1)[0]  # this machine and PID namespace
    orphan = nirs / f".sub-02_ses-01_task-tapping_design.tsv.{tag}-{dead.pid}.abc12345.tmp"
    live = nirs / f".sub-02_ses-01_task-tapping_design.json.{tag}-{os.getpid()}.def45678.tmp"
    top = out / f".model.json.{tag}-{dead.pid}.ghi78901.tmp"
    other_namespace = out / f".README.{tag}9-{dead.pid}.jkl01234.tmp"  # a container's: its pid not checkable here
    users = out / ".my.notes.tmp"  # not ours
    for path in (orphan, live, top, other_namespace, users):
        path.write_text("partial")
    # a real kill -9 during a run: the run is killed while its recording is being analysed
    killed = subprocess.Popen([sys.executable, str(ROOT / "run.py"), str(EXAMPLE), str(out), "participant",
                               "--participant_label", "02", "--skip_bids_validator"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed.wait(timeout=600)
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), str(EXAMPLE), str(out), "participant",
                           "--participant_label", "02", "--skip_bids_validator"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not orphan.exists() and not top.exists() and live.exists()
    assert other_namespace.exists() and users.exists()  # left to the age rule, and never ours
    assert sorted(p.name for p in out.rglob(".*.tmp")) == sorted([live.name, other_namespace.name, users.name])


def _in_own_mounts(script: str) -> subprocess.CompletedProcess:
    """``script`` run by sh in a mount namespace of its own (its mounts vanish with it), as root."""
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-uc", script],
                          capture_output=True, text=True, timeout=600)


def _can_unshare() -> bool:
    return shutil.which("unshare") is not None and _in_own_mounts("true").returncode == 0


needs_mounts = pytest.mark.skipif(not _can_unshare() and os.environ.get("CI") != "true",
                                  reason="needs unshare --mount (root); CI runs it")


@pytest.mark.slow
@needs_mounts
def test_a_full_disk_is_one_line_naming_the_output_and_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "small"
    out.mkdir()
    command = (f"{sys.executable} {ROOT / 'run.py'} {EXAMPLE} {out} participant --participant_label 02 "
               "--skip_bids_validator")
    done = _in_own_mounts(f"mount -t tmpfs -o size=400k tmpfs {out} || exit 99; {command}; echo rc=$?; "
                          f"find {out} -name '.*.tmp' | wc -l | sed 's/^/tmp=/'")
    assert "rc=1" in done.stdout and "tmp=0" in done.stdout, done.stdout + done.stderr
    failed = [line for line in done.stderr.splitlines() if "No space left on device" in line]
    assert failed and all(f"{out}/" in line and "cannot write the output" in line for line in failed), done.stderr
    assert "unexpected error" not in done.stderr
    assert str(EXAMPLE) not in "\n".join(failed)  # the output is named, not the input recording


@pytest.mark.slow
@needs_mounts
@pytest.mark.parametrize("level", ["participant", "group"])
def test_a_read_only_output_with_results_is_refused_before_any_analysis(run_cli, tmp_path, level):
    out = tmp_path / "out"
    assert run_cli(EXAMPLE, out, "participant", "--skip_bids_validator")[0] == 0
    assert run_cli(EXAMPLE, out, "group", "--skip_bids_validator")[0] == 0
    before = _files(out)
    command = f"{sys.executable} {ROOT / 'run.py'} {EXAMPLE} {out} {level} --skip_bids_validator --overwrite"
    done = _in_own_mounts(f"mount --bind {out} {out} && mount -o remount,ro,bind {out} || exit 99; {command}; "
                          "echo rc=$?")
    assert "rc=2" in done.stdout, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"fnirs-glm: error: {out}: the output directory is not writable (Read-only file system)")
    assert "done in" not in done.stderr  # refused before any recording or model was fitted
    assert _files(out) == before
