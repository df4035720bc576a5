"""Every error and data-problem policy: exit code, the one-line message on stderr, and the files.

Exit codes: 2 = a usage error found before any recording is processed; 1 = a recording failed
(the other recordings are still processed); 0 = success, possibly with warnings.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from tests.helpers import TESTS, tree_checksum

REPO = TESTS.parent
ONE = ("--participant_label", "01", "--session_label", "01", "--skip_bids_validator")
STEM = "sub-01_ses-01_task-tapping"
OUTPUT_SUFFIXES = ("design.tsv", "design.json", "desc-channel_stats.tsv", "desc-channel_stats.json",
                   "desc-roi_stats.tsv", "desc-roi_stats.json", "desc-qc_channels.tsv",
                   "desc-qc_channels.json")


# ---------------------------------------------------------------------------------------- helpers

def nirs_file(bids: Path, suffix: str, *, sub: str = "01", ses: str = "01") -> Path:
    """A file of the recording sub-<sub>_ses-<ses>_task-tapping, e.g. suffix "events.tsv"."""
    return bids / f"sub-{sub}" / f"ses-{ses}" / "nirs" / f"sub-{sub}_ses-{ses}_task-tapping_{suffix}"


def outputs(out: Path, *, sub: str = "01", ses: str = "01") -> list[Path]:
    """The eight files a successful recording writes."""
    folder = out / f"sub-{sub}" / f"ses-{ses}" / "nirs"
    return [folder / f"sub-{sub}_ses-{ses}_task-tapping_{s}" for s in OUTPUT_SUFFIXES]


def recording_files(out: Path, *, sub: str = "01", ses: str = "01") -> list[Path]:
    """Whatever exists in the output for one recording (to prove that nothing was written)."""
    folder = out / f"sub-{sub}" / f"ses-{ses}" / "nirs"
    return sorted(folder.glob(f"sub-{sub}_ses-{ses}_*")) if folder.is_dir() else []


def error_line(stderr: str) -> str:
    """The single error line of stderr ("fnirs-glm: error: ..." or "fnirs-glm: ERROR: ...")."""
    lines = [line for line in stderr.splitlines() if line.lower().startswith("fnirs-glm: error:")]
    assert len(lines) == 1, f"expected one error line, got {lines!r} in:\n{stderr}"
    return lines[0]


def assert_no_error(stderr: str) -> None:
    assert not [line for line in stderr.splitlines() if line.lower().startswith("fnirs-glm: error")]
    assert "Traceback" not in stderr


def assert_usage_error(code: int, stderr: str, *expected: str) -> str:
    """Exit 2, and stderr is exactly one line, the error, holding every expected text."""
    assert code == 2, stderr
    assert stderr.strip().splitlines() == [error_line(stderr)], stderr
    line = error_line(stderr)
    for text in expected:
        assert text in line, f"{text!r} not in {line!r}"
    assert "Traceback" not in stderr
    return line


def assert_no_tmp(out: Path) -> None:
    """No temporary file of an atomic write is left anywhere in the output."""
    assert out.is_dir()
    assert [p for p in out.rglob("*") if p.name.endswith(".tmp")] == []


def write_tsv(path: Path, table: pd.DataFrame) -> None:
    path.write_text(table.to_csv(sep="\t", index=False, na_rep="n/a", lineterminator="\n"))


def read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def set_channel_intensity(snirf: Path, channel: str, value: float) -> None:
    """Set every sample of one channel ("S1_D1 690") of a SNIRF file to ``value``."""
    pair, wavelength = channel.split(" ")
    source, detector = (int(part[1:]) for part in pair.split("_"))
    with h5py.File(snirf, "r+") as f:
        wavelengths = list(f["nirs/probe/wavelengths"][()])
        data1 = f["nirs/data1"]
        lists = sorted((k for k in data1 if k.startswith("measurementList")),
                       key=lambda k: int(k[len("measurementList"):]))
        columns = [
            index for index, key in enumerate(lists)
            if int(data1[key]["sourceIndex"][()]) == source
            and int(data1[key]["detectorIndex"][()]) == detector
            and math.isclose(wavelengths[int(data1[key]["wavelengthIndex"][()]) - 1], float(wavelength))
        ]
        assert len(columns) == 1, columns
        series = data1["dataTimeSeries"]
        values = series[()]
        values[:, columns[0]] = value
        series[...] = values


def long_pairs(bids: Path) -> set[str]:
    """Pairs of channels.tsv whose source-detector distance (from optodes.tsv) is >= 15 mm."""
    optodes = pd.read_csv(bids / "sub-01" / "ses-01" / "nirs" / "sub-01_ses-01_optodes.tsv",
                          sep="\t").set_index("name")
    channels = read_tsv(nirs_file(bids, "channels.tsv"))
    pairs = set()
    for source, detector in zip(channels["source"], channels["detector"]):
        distance_mm = 1000 * np.linalg.norm(
            optodes.loc[source, ["x", "y", "z"]].to_numpy(float)
            - optodes.loc[detector, ["x", "y", "z"]].to_numpy(float))
        if distance_mm >= 15:
            pairs.add(f"{source}_{detector}")
    return pairs


# ------------------------------------------------------------------------ 1-3: paths of the app

def test_missing_bids_dir(tmp_path, run_cli):
    missing = tmp_path / "no-such-dataset"
    code, _, err = run_cli(missing, tmp_path / "out", "participant")
    assert_usage_error(code, err, str(missing), "not found")
    assert not (tmp_path / "out").exists()


def test_bids_dir_without_dataset_description(tmp_path, example_copy, run_cli):
    (example_copy / "dataset_description.json").unlink()
    code, _, err = run_cli(example_copy, tmp_path / "out", "participant")
    assert_usage_error(code, err, str(example_copy), "not a BIDS dataset", "dataset_description.json")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("content", "problem"), [
    ('{"Name": "x", "BIDSVersion": "1.10', "not valid JSON"),
    ('["Name", "BIDSVersion"]', "must be a JSON object, found a JSON list"),
    ('{"BIDSVersion": "1.10.0"}', "Name are missing"),
    ('{"Name": "x", "BIDSVersion": ""}', "BIDSVersion are missing or empty"),
])
def test_invalid_dataset_description_is_refused(tmp_path, example_copy, run_cli, content, problem):
    """Checked by the app itself, validator or not (a truncated file used to pass without it)."""
    description = example_copy / "dataset_description.json"
    description.write_text(content)
    for level in ("participant", "group"):
        code, _, err = run_cli(example_copy, tmp_path / "out", level, "--skip_bids_validator")
        assert_usage_error(code, err, str(description), problem)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("argv", "expected"), [
    (["participant", "--participant-lable", "01"],
     "unrecognized argument --participant-lable; did you mean --participant-label?"),
    (["particpant"], "invalid choice: 'particpant'"),
    (["participant", "--noise-model", "ar2"], "did you mean ar1?"),
    (["group", "--skip-bids-validatr"], "did you mean --skip-bids-validator?"),
])
def test_misspelt_option_or_level_gets_a_suggestion(tmp_path, argv, expected):
    done = subprocess.run([sys.executable, str(REPO / "run.py"), str(tmp_path), str(tmp_path / "out"), *argv],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: fnirs-glm")
    assert expected in error_line(done.stderr)
    if argv == ["particpant"]:
        assert error_line(done.stderr).endswith("did you mean participant?")


def test_run_py_without_the_dependencies_says_how_to_install_them(tmp_path, example_copy):
    """-S: an interpreter without site-packages, as a clone run by a Python without the dependencies."""
    done = subprocess.run([sys.executable, "-S", str(REPO / "run.py"), str(example_copy), str(tmp_path / "out"),
                           "participant"], capture_output=True, text=True, check=False, timeout=60)
    assert_usage_error(done.returncode, done.stderr, "numpy", "not installed",
                       f"cd {REPO} && python3 -m venv .venv && .venv/bin/pip install -r requirements.txt .")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("spelling", [".", "sub-01/.."])
def test_output_dir_equal_to_bids_dir_is_refused(example_copy, run_cli, spelling):
    before = tree_checksum(example_copy)
    output = example_copy / spelling
    code, _, err = run_cli(example_copy, output, "participant", *ONE)
    assert_usage_error(code, err, str(output), "must not be the BIDS directory")
    assert tree_checksum(example_copy) == before


@pytest.mark.parametrize("inside", ["out", "sub-01/out", "derivatives"])
def test_output_dir_inside_bids_dir_is_refused(example_copy, run_cli, inside):
    before = tree_checksum(example_copy)
    code, _, err = run_cli(example_copy, example_copy / inside, "participant", *ONE)
    assert_usage_error(code, err, str(example_copy / inside), "must not be inside the BIDS directory",
                       str(example_copy / "derivatives"))
    assert tree_checksum(example_copy) == before
    assert not (example_copy / inside).exists()


def test_output_dir_under_derivatives_is_accepted(example_copy, run_cli):
    out = example_copy / "derivatives" / "fnirs-glm"
    code, _, err = run_cli(example_copy, out, "participant", *ONE)
    assert code == 0, err
    assert_no_error(err)
    assert all(p.is_file() for p in outputs(out))
    assert (out / "dataset_description.json").is_file()
    # the derivatives are not mistaken for input recordings on a second run
    code, _, err = run_cli(example_copy, out, "participant", "--skip_bids_validator",
                           "--participant_label", "01", "--session_label", "01")
    assert code == 0, err
    assert "1 recording(s) to analyse" in err


# ----------------------------------------------------------------------- 4-5: selecting recordings

def test_unknown_participant_label(tmp_path, example_copy, run_cli):
    code, _, err = run_cli(example_copy, tmp_path / "out", "participant", "--skip_bids_validator",
                           "--participant_label", "01", "sub-07")
    line = assert_usage_error(code, err, "unknown participant label", "01, 02")
    unknown_part, available_part = line.split(";")
    assert "07" in unknown_part and "01" not in unknown_part  # only the unknown label is named
    assert "01, 02" in available_part
    assert not (tmp_path / "out").exists()


def test_participant_labels_with_prefix_and_duplicates(tmp_path, example_copy, run_cli):
    out = tmp_path / "out"
    code, _, err = run_cli(example_copy, out, "participant", "--skip_bids_validator",
                           "--participant_label", "sub-01", "01", "sub-01",
                           "--session_label", "ses-01", "01")
    assert code == 0, err
    assert "1 recording(s) to analyse" in err
    assert all(p.is_file() for p in outputs(out))
    assert not (out / "sub-02").exists() and not (out / "sub-01" / "ses-02").exists()
    log = json.loads(next((out / "logs").glob("participant_*.json")).read_text())
    assert log["Configuration"]["participant_label"] == ["01"]
    assert log["Configuration"]["session_label"] == ["01"]
    assert [r["Recording"] for r in log["Recordings"]] == [f"{STEM}_nirs.snirf"]


def test_no_recording_matches_the_filters(tmp_path, example_copy, run_cli):
    code, _, err = run_cli(example_copy, tmp_path / "out", "participant", "--skip_bids_validator",
                           "--task_label", "nonexistent")
    assert_usage_error(code, err, "no NIRS recording", "task nonexistent")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------- 6: an unreadable recording


def test_corrupt_snirf_fails_only_that_recording(tmp_path, example_copy, run_cli):
    corrupt = nirs_file(example_copy, "nirs.snirf", ses="01")  # the first of the two recordings
    corrupt.write_bytes(b"this is not an HDF5 file\x00\xff" * 100)
    before = tree_checksum(example_copy)
    out = tmp_path / "out"
    code, _, err = run_cli(example_copy, out, "participant", "--skip_bids_validator",
                           "--participant_label", "01")
    assert code == 1, err
    line = error_line(err)
    assert str(corrupt) in line and "cannot read the recording" in line
    assert "Traceback" not in err
    assert "1 done, 1 failed" in err
    assert recording_files(out, ses="01") == []  # nothing of the failed recording
    assert all(p.is_file() for p in outputs(out, ses="02"))  # the next recording is still analysed
    assert_no_tmp(out)
    assert tree_checksum(example_copy) == before
    log = json.loads(next((out / "logs").glob("participant_*.json")).read_text())
    assert {r["Recording"]: r["Status"] for r in log["Recordings"]} == {
        f"{STEM}_nirs.snirf": "failed", "sub-01_ses-02_task-tapping_nirs.snirf": "done"}
    failed = next(r for r in log["Recordings"] if r["Status"] == "failed")
    assert str(corrupt) in failed["Message"]


# -------------------------------------------------------------- 7: configuration and options

def test_config_key_typo_suggests_the_option(tmp_path, example_copy, run_cli):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"noise_modle": "ar1"}))
    code, _, err = run_cli(example_copy, tmp_path / "out", "participant", *ONE, "--config", config)
    assert_usage_error(code, err, str(config), "'noise_modle'", "did you mean 'noise_model'")
    assert not (tmp_path / "out").exists()


def test_invalid_choice_on_the_command_line(tmp_path, example_copy):
    done = subprocess.run(
        [sys.executable, str(REPO / "run.py"), str(example_copy), str(tmp_path / "out"), "participant",
         *ONE, "--noise-model", "foo"],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    line = error_line(done.stderr)
    assert "--noise-model" in line and "invalid choice: 'foo'" in line
    assert "ols" in line and "ar1" in line and "auto" in line
    assert not (tmp_path / "out").exists()


def test_invalid_value_in_config_file(tmp_path, example_copy, run_cli):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"resample_hz": -1}))
    code, _, err = run_cli(example_copy, tmp_path / "out", "participant", *ONE, "--config", config)
    assert_usage_error(code, err, "resample_hz", "-1", "> 0")
    assert not (tmp_path / "out").exists()


def test_unknown_contrast_term(tmp_path, example_copy, run_cli):
    code, _, err = run_cli(example_copy, tmp_path / "out", "participant", *ONE,
                           "--contrast", "Tapping - Foo")
    assert_usage_error(code, err, "'Tapping - Foo'", "unknown condition 'Foo'", "conditions are: Tapping")
    assert not (tmp_path / "out").exists()


def test_roi_pair_not_in_the_montage(tmp_path, example_copy, run_cli):
    rois = tmp_path / "rois.json"
    rois.write_text(json.dumps({"left": ["S99_D99"]}))
    out = tmp_path / "out"
    code, _, err = run_cli(example_copy, out, "participant", *ONE, "--roi-file", rois)
    assert code == 1, err
    line = error_line(err)
    assert str(nirs_file(example_copy, "nirs.snirf")) in line
    assert "'left'" in line and "S99_D99" in line
    assert "long channels are: S1_D1, S2_D1, S2_D2" in line and "S15_D16" in line
    assert "S1_D17" not in line  # a short channel is not offered
    assert recording_files(out) == []
    assert_no_tmp(out)


def test_malformed_roi_file(tmp_path, example_copy, run_cli):
    rois = tmp_path / "rois.json"
    rois.write_text("left: S1_D1, S2_D1\n")
    code, _, err = run_cli(example_copy, tmp_path / "out", "participant", *ONE, "--roi-file", rois)
    assert_usage_error(code, err, str(rois), "not a readable JSON file")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------ 8: data problems in a recording

def _run_failing(run_cli, bids: Path, out: Path) -> str:
    """Run one recording that must fail; returns its error line after the common checks."""
    before = tree_checksum(bids)
    code, _, err = run_cli(bids, out, "participant", *ONE)
    assert code == 1, err
    assert "0 done, 1 failed" in err
    assert recording_files(out) == []
    assert_no_tmp(out)
    assert tree_checksum(bids) == before
    return error_line(err)


def test_events_without_rows(tmp_path, example_copy, run_cli):
    events = nirs_file(example_copy, "events.tsv")
    events.write_text(events.read_text().splitlines()[0] + "\n")
    line = _run_failing(run_cli, example_copy, tmp_path / "out")
    assert str(events) in line and "no events" in line


def test_all_events_outside_the_recording(tmp_path, example_copy, run_cli):
    events = nirs_file(example_copy, "events.tsv")
    table = read_tsv(events)
    table["onset"] = [str(10000 + 30 * i) for i in range(len(table))]
    write_tsv(events, table)
    line = _run_failing(run_cli, example_copy, tmp_path / "out")
    assert str(events) in line and "outside the recording" in line


def test_every_long_channel_bad_in_channels_tsv(tmp_path, example_copy, run_cli):
    channels_tsv = nirs_file(example_copy, "channels.tsv")
    table = read_tsv(channels_tsv)
    long = long_pairs(example_copy)
    is_long = (table["source"] + "_" + table["detector"]).isin(long)
    assert is_long.any() and not is_long.all()  # the short channels stay good
    table.loc[is_long, "status"] = "bad"
    table.loc[is_long, "status_description"] = "test"
    write_tsv(channels_tsv, table)
    line = _run_failing(run_cli, example_copy, tmp_path / "out")
    assert str(nirs_file(example_copy, "nirs.snirf")) in line
    assert "no good long channel" in line
    assert f"{int(is_long.sum())} of {len(table)} channels are bad" in line


def test_channel_names_do_not_match_the_snirf(tmp_path, example_copy, run_cli):
    channels_tsv = nirs_file(example_copy, "channels.tsv")
    table = read_tsv(channels_tsv)
    row = table.index[table["name"] == "S1_D1 690"][0]
    table.loc[row, ["name", "detector"]] = ["S1_D99 690", "D99"]
    write_tsv(channels_tsv, table)
    line = _run_failing(run_cli, example_copy, tmp_path / "out")
    assert str(channels_tsv) in line and "channel names do not match" in line
    assert "only in channels.tsv: S1_D99 690" in line
    assert "only in the SNIRF file: S1_D1 690" in line


def test_events_with_na_duration_are_impulses(tmp_path, example_copy, run_cli):
    events = nirs_file(example_copy, "events.tsv")
    table = read_tsv(events)
    table["duration"] = "n/a"
    write_tsv(events, table)
    out = tmp_path / "out"
    code, _, err = run_cli(example_copy, out, "participant", *ONE)
    assert code == 0, err
    assert_no_error(err)
    warnings = [line for line in err.splitlines() if line.startswith("fnirs-glm: WARNING:")]
    assert any(events.name in w and f"{len(table)} event(s) with n/a duration" in w
               and "modelled as impulses" in w for w in warnings), err
    assert all(p.is_file() for p in outputs(out))
    qc = json.loads(outputs(out)[7].read_text())
    assert any("n/a duration" in w for w in qc["Warnings"])


@pytest.mark.parametrize("value, reason", [(np.nan, "non-finite (NaN or infinite) intensity"),
                                           (0.0, "zero or negative intensity")])
def test_unusable_channel_is_marked_bad(tmp_path, example_copy, run_cli, value, reason):
    set_channel_intensity(nirs_file(example_copy, "nirs.snirf"), "S2_D1 830", value)
    out = tmp_path / "out"
    code, _, err = run_cli(example_copy, out, "participant", *ONE)
    assert code == 0, err
    assert_no_error(err)
    warnings = [line for line in err.splitlines() if line.startswith("fnirs-glm: WARNING:")]
    assert any("channel S2_D1 830" in w and reason in w for w in warnings), err
    assert all(p.is_file() for p in outputs(out))

    qc = read_tsv(outputs(out)[6]).set_index("name")
    assert qc.at["S2_D1 830", "status"] == "bad"
    assert qc.at["S2_D1 830", "status_description"] == reason
    assert qc.at["S2_D1 690", "status"] == "bad"  # the pair leaves the GLM
    assert qc.at["S2_D1 690", "status_description"] == "paired wavelength S2_D1 830 is bad"
    assert (qc.drop(index=["S2_D1 690", "S2_D1 830"])["status"] == "good").all()
    stats = read_tsv(outputs(out)[2])
    assert not stats["ch_name"].str.startswith("S2_D1 ").any()
    assert stats["ch_name"].str.startswith("S1_D1 ").any()
    assert not stats[["effect", "se", "t", "p"]].isin(["n/a", "nan", ""]).any().any()


# ------------------------------------------------------- 9: input untouched, no partial files

def test_input_is_unchanged_by_a_successful_run(tmp_path, example_copy, run_cli):
    before = tree_checksum(example_copy)
    out = tmp_path / "out"
    code, _, err = run_cli(example_copy, out, "participant", *ONE)
    assert code == 0, err
    assert all(p.is_file() for p in outputs(out))
    assert tree_checksum(example_copy) == before
    assert_no_tmp(out)


def test_failed_write_leaves_no_temporary_file(tmp_path, example_copy, run_cli):
    out = tmp_path / "out"
    blocked = outputs(out)[4]  # the ROI table's path is taken by a directory
    blocked.mkdir(parents=True)
    before = tree_checksum(example_copy)
    code, _, err = run_cli(example_copy, out, "participant", *ONE)
    assert code == 1, err
    line = error_line(err)
    assert f"{blocked}: cannot write the output (Is a directory)" in line  # the output named, not the input
    assert str(example_copy) not in line
    assert "0 done, 1 failed" in err
    assert_no_tmp(out)
    assert blocked.is_dir() and not any(blocked.iterdir())
    # the files written before the failure are removed: a failed recording leaves none of its files
    assert recording_files(out) == [blocked]
    assert tree_checksum(example_copy) == before


# -------------------------------------------------------------------- 10: --verbose tracebacks

def test_verbose_prints_a_traceback_for_a_failing_recording(tmp_path, example_copy, run_cli):
    corrupt = nirs_file(example_copy, "nirs.snirf")
    corrupt.write_bytes(b"\x00garbage" * 64)
    out = tmp_path / "out"
    code, _, err = run_cli(example_copy, out, "participant", *ONE, "--verbose")
    assert code == 1, err
    assert "Traceback" in err
    assert str(corrupt) in error_line(err)
    assert recording_files(out) == []
    assert_no_tmp(out)


@pytest.mark.slow
def test_every_run_says_how_the_input_was_validated(example_copy, run_cli, tmp_path, monkeypatch):
    """Once per run, on the console and in the run log: validated (version, warnings), skipped or
    not installed (with how to install it)."""
    from importlib.metadata import version

    from bids_app import validation

    out = tmp_path / "out"
    code, _, err = run_cli(example_copy, out, "participant", "--session_label", "01", "--n_cpus", "2")
    assert code == 0, err
    said = [line for line in err.splitlines() if "input validated" in line]
    assert len(said) == 1 and f"bids-validator-deno {version('bids-validator-deno')} (" in said[0]
    assert said[0].endswith(" warnings)")
    log = json.loads(max((out / "logs").glob("participant_*.json")).read_text())["InputValidation"]
    assert log["Status"] == "validated" and log["Warnings"]["SIDECAR_KEY_RECOMMENDED"] > 0
    assert str(sum(log["Warnings"].values())) in said[0]

    code, _, err = run_cli(example_copy, out, "group", "--skip_bids_validator")
    assert code == 0, err
    assert err.count("input not validated: --skip_bids_validator was given") == 1

    monkeypatch.setattr(validation, "find_validator", lambda: None)
    code, _, err = run_cli(example_copy, out, "group")
    assert code == 0, err
    said = [line for line in err.splitlines() if "input not validated" in line]
    assert len(said) == 1 and "WARNING" in said[0] and "pip install bids-validator-deno" in said[0]
    logs = sorted((out / "logs").glob("group_*.json"), key=lambda p: p.stat().st_mtime_ns)
    assert json.loads(logs[-1].read_text())["InputValidation"]["Status"] == "not installed"


def test_validator_is_found_beside_the_interpreter_before_path(tmp_path, monkeypatch):
    from bids_app import validation

    here = tmp_path / "env" / "bin"
    here.mkdir(parents=True)
    (here / "bids-validator-deno").write_text("#!/bin/sh\n")
    (here / "bids-validator-deno").chmod(0o755)
    elsewhere = tmp_path / "path"
    elsewhere.mkdir()
    (elsewhere / "bids-validator-deno").write_text("#!/bin/sh\n")
    (elsewhere / "bids-validator-deno").chmod(0o755)
    monkeypatch.setenv("PATH", str(elsewhere))
    monkeypatch.setattr(validation.sys, "executable", str(here / "python"))
    monkeypatch.setattr(validation.sysconfig, "get_path", lambda name: str(here))
    assert validation.find_validator() == str(here / "bids-validator-deno")
    (here / "bids-validator-deno").unlink()
    assert validation.find_validator() == str(elsewhere / "bids-validator-deno")


def test_bids_validator_errors_stop_the_run(example_copy, run_cli, tmp_path):
    """Without --skip_bids_validator, validator errors stop the run before any output."""
    (example_copy / "sub-01/ses-01/nirs/sub-01_ses-01_task-tapping_nirs.json").unlink()
    code, _, err = run_cli(example_copy, tmp_path / "out", "participant")
    assert_usage_error(code, err, "the BIDS validator found", "SIDECAR_KEY_REQUIRED",
                       "sub-01_ses-01_task-tapping_nirs.snirf", "--skip_bids_validator")
    assert not (tmp_path / "out").exists()
