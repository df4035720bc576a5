"""fnirs-glm-bids: lab files (NIRx folders, Homer .nirs, SNIRF) to a valid BIDS dataset.

Round trips: the converted SNIRF read back through the app's own reader equals the source read by MNE's
reader (NIRx, SNIRF) or by scipy.io.loadmat (Homer .nirs, which MNE cannot read): intensities to 1e-12
relative, channel names, wavelengths, source-detector distances to 0.1 mm, sampling rate, and every event's
onset (to one sample) with its name, duration and source code.
The bundled copies (tests/data/convert) always run; every shared NIRx folder and .nirs file runs when
../shared/data is there. Bad inputs: one line, exit 2, nothing written."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bids_app.convert.cli import main
from tests.helpers import REPO, SHARED_DATA, tree_checksum, validate

DATA = Path(__file__).resolve().parent / "data" / "convert"
NIRX = sorted(p for p in (DATA / "nirx").iterdir() if p.is_dir())
HOMER = sorted((DATA / "homer").glob("*.nirs"))  # SimpleProbe1 run01, run02
GRPTAP = sorted((DATA / "homer" / "GrpTap").rglob("*.nirs"))  # two GrpTap subjects, first 125 s
SHARED_NIRX = sorted(p.parent for p in (SHARED_DATA / "nirx").glob("*/*/*.hdr")) if SHARED_DATA.is_dir() else []
SHARED_HOMER = sorted((SHARED_DATA / "homer-nirs").rglob("*.nirs")) if SHARED_DATA.is_dir() else []
SHARED_SNIRF = sorted(SHARED_DATA.glob("*.snirf")) if SHARED_DATA.is_dir() else []


def _id(path: Path) -> str:
    return path.name


@pytest.fixture
def convert(capsys):
    """Run fnirs-glm-bids in-process; returns (exit code, stdout, stderr)."""

    def run(*argv) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


# --- references, read without the converter ------------------------------------------------------------------

def nirx_reference(folder: Path) -> dict:
    """MNE's reader, and the events expected with trigger code 1 named "First" and --duration 5: (onset,
    trial_type, duration, value); MNE's BAD_SATURATED stretches kept with their own durations."""
    import mne
    from mne.preprocessing.nirs import source_detector_distances

    raw = mne.io.read_raw_nirx(folder, preload=True, verbose="error")
    events = []
    for onset, duration, description in zip(raw.annotations.onset, raw.annotations.duration,
                                            raw.annotations.description):
        if description.startswith("BAD"):
            events.append((onset, description, duration, None))
        else:
            code = str(int(float(description)))
            events.append((onset, "First" if code == "1" else code, 5.0, code))
    return {"data": raw.get_data(), "names": raw.ch_names, "sfreq": raw.info["sfreq"],
            "wavelengths": [ch["loc"][9] for ch in raw.info["chs"]],
            "distances": source_detector_distances(raw.info), "events": events}


def homer_reference(path: Path) -> dict:
    """The .nirs variables by themselves: channel S{src}_D{det} {lambda} is column k of d; events of column j of
    s have code j + 1 (code 1 named "First", durations --duration 5)."""
    import scipy.io

    nirs = scipy.io.loadmat(path)
    sd = nirs["SD"][0, 0]
    scale = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}[str(sd["SpatialUnit"].ravel()[0])]
    wavelengths = sd["Lambda"].ravel()
    columns = {}
    for k, (src, det, _, wl) in enumerate(sd["MeasList"][:, :4].astype(int)):
        columns[f"S{src}_D{det} {wavelengths[wl - 1]:g}"] = (k, float(np.linalg.norm(  # int arrays in some files
            (sd["SrcPos"][src - 1].astype(float) - sd["DetPos"][det - 1].astype(float)) * scale)),
            float(wavelengths[wl - 1]))
    t = nirs["t"].ravel()
    events = [(t[row] - t[0], "First" if column == 0 else str(column + 1), 5.0, str(column + 1))
              for row, column in zip(*np.nonzero(nirs["s"] > 0))]
    return {"columns": columns, "d": nirs["d"], "sfreq": 1 / np.mean(np.diff(t)), "events": events}


def read_back(bids: Path, subject: str, task: str):
    """The converted recording through the app's reader, and its events.tsv (n/a as NaN)."""
    import mne_bids

    from bids_app.inputs import read_raw_intensity

    path = mne_bids.BIDSPath(root=bids, subject=subject, task=task, datatype="nirs", suffix="nirs",
                             extension=".snirf")
    raw = read_raw_intensity(path)
    events = pd.read_csv(path.copy().update(suffix="events", extension=".tsv").fpath, sep="\t",
                         keep_default_na=False, na_values=["n/a"], dtype={"value": str, "trial_type": str})
    return raw, events


def assert_events(events: pd.DataFrame, expected: list[tuple], sfreq: float) -> None:
    """events.tsv rows equal ``expected`` (onset, trial_type, duration or None, value or None): onsets to one
    sample, each row its own name, duration and source code."""
    expected = sorted(expected, key=lambda e: (round(e[0] * sfreq), e[1]))
    rows = events.assign(_sample=(events["onset"] * sfreq).round()).sort_values(["_sample", "trial_type"],
                                                                                 kind="stable")
    assert rows["trial_type"].tolist() == [e[1] for e in expected]
    np.testing.assert_allclose(rows["onset"], [e[0] for e in expected], atol=1 / sfreq)
    assert [None if pd.isna(d) else pytest.approx(d, abs=1e-6) for d in rows["duration"]] == \
        [None if e[2] is None else e[2] for e in expected]
    assert [None if pd.isna(v) else v for v in rows["value"]] == [e[3] for e in expected]


def _converted(source: Path, tmp_path: Path, convert, *, ref_events):
    """``source`` converted as sub-01, task rt (code 1 named First when it occurs, 5-s durations), read back."""
    named = ["--event", "1=First"] if any(e[3] == "1" for e in ref_events) else []
    code, _, err = convert(source, tmp_path / "bids", "--subject", "01", "--task", "rt", *named, "--duration", "5",
                           "--skip-bids-validator")
    assert code == 0, err
    return read_back(tmp_path / "bids", "01", "rt")


def check_nirx_round_trip(folder: Path, tmp_path: Path, convert) -> None:
    from mne.preprocessing.nirs import source_detector_distances

    ref = nirx_reference(folder)
    raw, events = _converted(folder, tmp_path, convert, ref_events=ref["events"])
    assert raw.ch_names == ref["names"]
    np.testing.assert_allclose(raw.get_data(), ref["data"], rtol=1e-12, atol=0)
    assert [ch["loc"][9] for ch in raw.info["chs"]] == ref["wavelengths"]
    np.testing.assert_allclose(source_detector_distances(raw.info), ref["distances"], atol=1e-4)
    assert raw.info["sfreq"] == pytest.approx(ref["sfreq"], rel=1e-9)
    assert_events(events, ref["events"], ref["sfreq"])


def check_homer_round_trip(path: Path, tmp_path: Path, convert) -> None:
    from mne.preprocessing.nirs import source_detector_distances

    ref = homer_reference(path)
    raw, events = _converted(path, tmp_path, convert, ref_events=ref["events"])
    assert sorted(raw.ch_names) == sorted(ref["columns"])
    columns = [ref["columns"][name][0] for name in raw.ch_names]
    np.testing.assert_allclose(raw.get_data(), ref["d"][:, columns].T, rtol=1e-12, atol=0)
    assert [ch["loc"][9] for ch in raw.info["chs"]] == [ref["columns"][n][2] for n in raw.ch_names]
    np.testing.assert_allclose(source_detector_distances(raw.info), [ref["columns"][n][1] for n in raw.ch_names],
                               atol=1e-4)
    assert raw.info["sfreq"] == pytest.approx(ref["sfreq"], rel=1e-9)
    assert_events(events, ref["events"], ref["sfreq"])


def check_snirf_round_trip(path: Path, tmp_path: Path, convert) -> None:
    """A plain SNIRF file through read_snirf: MNE's SNIRF reader is the reference; the file's own event names
    and durations are kept (no --event, no --duration)."""
    import mne
    from mne.preprocessing.nirs import source_detector_distances

    bids = tmp_path / "bids"
    code, _, err = convert(path, bids, "--subject", "01", "--task", "rt", "--skip-bids-validator")
    assert code == 0, err
    raw, events = read_back(bids, "01", "rt")
    ref = mne.io.read_raw_snirf(path, preload=True, verbose="error")
    assert raw.ch_names == ref.ch_names
    np.testing.assert_allclose(raw.get_data(), ref.get_data(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(source_detector_distances(raw.info), source_detector_distances(ref.info), atol=1e-4)
    assert raw.info["sfreq"] == pytest.approx(ref.info["sfreq"], rel=1e-9)
    expected = []
    for onset, duration, description in zip(ref.annotations.onset, ref.annotations.duration,
                                            ref.annotations.description):
        code = str(int(float(description))) if description.replace(".", "", 1).isdigit() else description
        expected.append((onset, code, float(duration), None if code.startswith("BAD") else code))
    assert_events(events, expected, ref.info["sfreq"])


def snirf_of(source: Path, path: Path) -> Path:
    """A plain SNIRF file (MNE-NIRS' writer) of a Homer recording, with named events that have durations and a
    bad segment: the input of the SNIRF round trip."""
    import mne
    from mne_nirs.io import write_raw_snirf

    from bids_app.convert.homer import read_homer

    raw = read_homer(source).raw.copy()
    raw.set_meas_date(0)
    raw.info["subject_info"] = {"his_id": "lab-17"}
    onsets = raw.annotations.onset
    raw.set_annotations(mne.Annotations([*onsets, 2.0], [*[3.5 + i for i in range(len(onsets))], 1.5],
                                        [*["Tapping" if i % 2 else "7" for i in range(len(onsets))], "BAD_motion"]))
    write_raw_snirf(raw, path)
    return path


@pytest.mark.parametrize("folder", NIRX, ids=_id)
def test_nirx_round_trip(folder, tmp_path, convert):
    check_nirx_round_trip(folder, tmp_path, convert)


@pytest.mark.parametrize("path", HOMER + GRPTAP, ids=_id)
def test_homer_round_trip(path, tmp_path, convert):
    check_homer_round_trip(path, tmp_path, convert)


def test_snirf_round_trip(tmp_path, convert):
    check_snirf_round_trip(snirf_of(HOMER[0], tmp_path / "plain.snirf"), tmp_path, convert)


@pytest.mark.skipif(not SHARED_NIRX, reason="../shared/data/nirx is not there")
@pytest.mark.parametrize("folder", SHARED_NIRX, ids=_id)
def test_shared_nirx_round_trip(folder, tmp_path, convert):
    check_nirx_round_trip(folder, tmp_path, convert)


@pytest.mark.skipif(not SHARED_HOMER, reason="../shared/data/homer-nirs is not there")
@pytest.mark.parametrize("path", SHARED_HOMER, ids=_id)
def test_shared_homer_round_trip(path, tmp_path, convert):
    check_homer_round_trip(path, tmp_path, convert)


@pytest.mark.skipif(not SHARED_SNIRF, reason="../shared/data/*.snirf is not there")
@pytest.mark.parametrize("path", SHARED_SNIRF, ids=_id)
def test_shared_snirf_round_trip(path, tmp_path, convert):
    check_snirf_round_trip(path, tmp_path, convert)


# --- what is written ------------------------------------------------------------------------------------------

def test_positions_3d_head_for_nirx_2d_layout_other_for_homer(tmp_path, convert):
    assert convert(NIRX[0], tmp_path / "a", "--subject", "01", "--task", "rt", "--skip-bids-validator")[0] == 0
    nirx = json.loads(next((tmp_path / "a").rglob("*_coordsystem.json")).read_text())
    assert nirx["NIRSCoordinateSystem"] == "CapTrak" and "not digitised" in nirx["NIRSCoordinateProcessingDescription"]
    assert convert(GRPTAP[0], tmp_path / "b", "--subject", "01", "--task", "rt", "--skip-bids-validator")[0] == 0
    described = json.loads(next((tmp_path / "b").rglob("*_coordsystem.json")).read_text())
    assert described["NIRSCoordinateSystem"] == "Other"
    assert "2-D" in described["NIRSCoordinateSystemDescription"]
    optodes = pd.read_csv(next((tmp_path / "b").rglob("*_optodes.tsv")), sep="\t")
    assert len(optodes) == 15 + 31 and (optodes["z"] == 0).all()


def test_simple_case_keeps_codes_and_says_unknown_durations(tmp_path, convert):
    bids = tmp_path / "bids"
    code, out, err = convert(NIRX[0], bids, "--subject", "sub-07", "--task", "rt", "--event", "2=Beep",
                             "--skip-bids-validator")
    assert code == 0, err
    events = pd.read_csv(next(bids.rglob("*_events.tsv")), sep="\t", keep_default_na=False)
    assert sorted(events["trial_type"]) == ["1", "3", "Beep"]
    assert set(events["duration"]) == {"n/a"}  # NIRx .evt files carry no durations
    described = json.loads(next(bids.rglob("*_events.json")).read_text())
    assert "trigger code 2" in described["trial_type"]["Levels"]["Beep"]
    sidecar = json.loads(next(bids.rglob("*_nirs.json")).read_text())
    assert sidecar["Manufacturer"] == "NIRx" and sidecar["ManufacturersModelName"].startswith("NIRScout")
    assert (bids / "sub-07").is_dir()


def test_spec_with_end_codes_participants_and_validator(tmp_path, convert):
    """A spec: file-name pattern to subject and run, codes named, an end code, a participants CSV; the result
    passes bids-validator-deno; the source is untouched."""
    source = tmp_path / "lab"
    shutil.copytree(DATA / "homer", source)
    before = tree_checksum(source)
    (tmp_path / "people.csv").write_text("id,age,group\n1,31,control\n")
    spec = {"dataset": {"Name": "Probe study", "Authors": ["A. Author"], "License": "CC0"},
            "recordings": [{"match": r"SimpleProbe(?P<s>\d)_run(?P<r>\d+)\.nirs$", "subject": "{s}",
                            "task": "probe", "run": "{r}"}],
            "events": {"1": {"name": "Left", "duration": 5}, "2": None, "3": {"name": "Rest", "end": "1"}},
            "participants": {"file": "people.csv", "id_column": "id"}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    bids = tmp_path / "bids"
    code, out, err = convert(source, bids, "--spec", tmp_path / "spec.json")
    assert code == 0, err
    assert "validated with bids-validator-deno" in out and "not matched by the spec" in out  # the GrpTap crop
    assert validate(bids)[0] == 0
    assert tree_checksum(source) == before
    participants = pd.read_csv(bids / "participants.tsv", sep="\t", dtype=str)
    assert participants.to_dict("records") == [{"participant_id": "sub-1", "age": "31", "group": "control"}]
    events = pd.read_csv(bids / "sub-1" / "nirs" / "sub-1_task-probe_run-01_events.tsv", sep="\t")
    assert events["trial_type"].tolist() == ["Rest", "Left", "Left"]  # code 2 left out
    assert events["duration"].tolist() == pytest.approx([30.6 - 23.6, 5, 5], abs=0.1)  # Rest: until the next 1
    description = json.loads((bids / "dataset_description.json").read_text())
    assert description["Name"] == "Probe study" and description["GeneratedBy"][0]["Name"] == "fnirs-glm-bids"


def test_adds_to_an_existing_dataset_without_overwriting(tmp_path, convert):
    bids = tmp_path / "bids"
    assert convert(HOMER[0], bids, "--subject", "01", "--task", "rt", "--skip-bids-validator")[0] == 0
    assert convert(HOMER[1], bids, "--subject", "02", "--task", "rt", "--skip-bids-validator")[0] == 0
    code, out, err = convert(HOMER[0], bids, "--subject", "01", "--task", "rt", "--run", "2")
    assert code == 0, err
    assert "validated" in out
    assert pd.read_csv(bids / "participants.tsv", sep="\t")["participant_id"].tolist() == ["sub-01", "sub-02"]
    scans = pd.read_csv(bids / "sub-01" / "sub-01_scans.tsv", sep="\t")
    assert len(scans) == 2
    assert sorted(p.name for p in bids.rglob("*.snirf")) == [
        "sub-01_task-rt_nirs.snirf", "sub-01_task-rt_run-2_nirs.snirf", "sub-02_task-rt_nirs.snirf"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


# --- bad inputs: one line, exit 2, nothing written -----------------------------------------------------------

def assert_refused(convert, argv, bids: Path, *expected: str) -> None:
    before = tree_checksum(bids) if bids.exists() else None
    code, out, err = convert(*argv)
    assert code == 2, (out, err)
    line = err.strip()
    assert line.startswith("fnirs-glm-bids: error: ") and "\n" not in line, err
    for text in expected:
        assert text in line, line
    assert (tree_checksum(bids) if bids.exists() else None) == before
    assert not [p for p in bids.parent.iterdir() if ".fnirs-glm-bids-" in p.name]


@pytest.mark.parametrize("cut", ["mid-row", "rows"])
def test_truncated_wl1(tmp_path, convert, cut):
    folder = tmp_path / "rec"
    shutil.copytree(NIRX[0], folder)
    wl1 = next(folder.glob("*.wl1"))
    lines = wl1.read_bytes().splitlines(keepends=True)
    wl1.write_bytes(b"".join(lines[:50]) + (lines[50][:20] if cut == "mid-row" else b""))
    assert_refused(convert, [folder, tmp_path / "bids", "--subject", "01", "--task", "rt"], tmp_path / "bids",
                   str(wl1), "truncated")


def test_nirs_without_s(tmp_path, convert):
    import scipy.io

    variables = {k: v for k, v in scipy.io.loadmat(HOMER[0]).items() if not k.startswith("__") and k != "s"}
    path = tmp_path / "no_s.nirs"
    scipy.io.savemat(path, variables)
    assert_refused(convert, [path, tmp_path / "bids", "--subject", "01", "--task", "rt"], tmp_path / "bids",
                   str(path), "'s'")


def _spec(tmp_path: Path, **changes) -> Path:
    spec = {"recordings": [{"match": r"SimpleProbe1_run(?P<r>\d+)", "subject": "01", "task": "probe",
                            "run": "{r}"}],
            "events": {"1": "Left", "2": "Right", "3": "Rest"}, **changes}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def test_spec_naming_an_unknown_code(tmp_path, convert):
    spec = _spec(tmp_path, events={"1": "Left", "2": "Right", "3": "Rest", "9": "Nine"})
    assert_refused(convert, [DATA / "homer", tmp_path / "bids", "--spec", spec], tmp_path / "bids",
                   str(spec), "'9'")


def test_code_the_spec_does_not_name(tmp_path, convert):
    spec = _spec(tmp_path, events={"1": "Left", "2": "Right"})
    assert_refused(convert, [DATA / "homer", tmp_path / "bids", "--spec", spec], tmp_path / "bids",
                   "SimpleProbe1_run01.nirs", "'3'")


def test_two_sources_to_one_name(tmp_path, convert):
    spec = _spec(tmp_path, recordings=[{"match": r"SimpleProbe1_run", "subject": "01", "task": "probe"}])
    assert_refused(convert, [DATA / "homer", tmp_path / "bids", "--spec", spec], tmp_path / "bids",
                   "SimpleProbe1_run01.nirs", "SimpleProbe1_run02.nirs", "sub-01_task-probe")


def test_spec_entry_matching_nothing(tmp_path, convert):
    spec = _spec(tmp_path, recordings=[{"match": r"SimpleProbe1_run", "subject": "01", "task": "probe", "run": "1"},
                                       {"match": "nothing_like_this", "subject": "02", "task": "probe"}])
    assert_refused(convert, [DATA / "homer", tmp_path / "bids", "--spec", spec], tmp_path / "bids",
                   "recordings[1]", "matches no recording")


def test_target_name_that_exists(tmp_path, convert):
    bids = tmp_path / "bids"
    assert convert(HOMER[0], bids, "--subject", "01", "--task", "rt", "--skip-bids-validator")[0] == 0
    assert_refused(convert, [HOMER[1], bids, "--subject", "01", "--task", "rt"], bids,
                   "sub-01_task-rt_nirs.snirf", "exists")


def test_output_inside_the_source(tmp_path, convert):
    source = tmp_path / "lab"
    shutil.copytree(DATA / "homer", source)
    assert_refused(convert, [source, source / "bids", "--spec", _spec(tmp_path)], source / "bids", "inside")


# --- dry run and command line ---------------------------------------------------------------------------------

def test_dry_run_lists_and_proposes(tmp_path, convert):
    code, out, err = convert(DATA, "--write-spec", tmp_path / "spec.json")
    assert code == 0, err
    assert "nothing written" in out and "NIRScout" in out and "BAD_SATURATED x3" in out
    assert "trigger codes: 1 x1, 2 x1, 3 x1" in out
    proposal = json.loads((tmp_path / "spec.json").read_text())
    assert len(proposal["recordings"]) == len(NIRX) + len(HOMER) + len(GRPTAP)
    assert {"1", "2", "3"} <= set(proposal["events"])
    runs = [(r["subject"], r.get("run")) for r in proposal["recordings"] if "SimpleProbe1" in r["match"]]
    assert runs == [(runs[0][0], "01"), (runs[0][0], "02")]
    # the proposal still has placeholders: refused until edited
    code, _, err = convert(DATA, tmp_path / "bids", "--spec", tmp_path / "spec.json")
    assert code == 2 and "placeholder" in err and not (tmp_path / "bids").exists()


def test_help_is_fast_and_imports_no_analysis_library():
    done = subprocess.run([sys.executable, "-c", "import sys; from bids_app.convert.cli import build_parser; "
                           "build_parser().format_help(); print(sorted({'mne', 'scipy', 'mne_bids', 'numpy'} & "
                           "set(sys.modules)))"], capture_output=True, text=True, check=True, cwd=REPO)
    assert done.stdout.strip() == "[]"


def test_console_script_is_declared():
    text = (REPO / "pyproject.toml").read_text()
    assert 'fnirs-glm-bids = "bids_app.convert:main"' in text and '"bids_app.convert"' in text


# --- review fixes: events, sources, target, atomic merge --------------------------------------------------------

def test_events_rows_keep_their_own_code_and_duration(tmp_path, convert):
    """Two codes to one name, one with a known duration, one without: value is each row's source code, the
    duration is per row (n/a only where unknown), events.json lists each code's rule."""
    spec = _spec(tmp_path, events={"1": {"name": "Task", "duration": 5}, "2": "Task", "3": "Rest"})
    bids = tmp_path / "bids"
    code, _, err = convert(DATA / "homer", bids, "--spec", spec, "--skip-bids-validator")
    assert code == 0, err
    events = pd.read_csv(bids / "sub-01" / "nirs" / "sub-01_task-probe_run-01_events.tsv", sep="\t",
                         keep_default_na=False, dtype=str)
    reference = homer_reference(HOMER[0])["events"]
    assert sorted(zip(events["value"], events["trial_type"])) == sorted(
        (code, {"1": "Task", "2": "Task", "3": "Rest"}[code]) for *_, code in reference)
    assert set(events.loc[events["value"] == "1", "duration"]) == {"5.0"}
    assert set(events.loc[events["value"] != "1", "duration"]) == {"n/a"}
    described = json.loads((bids / "sub-01" / "nirs" / "sub-01_task-probe_run-01_events.json").read_text())
    assert "code 1: duration 5 s" in described["trial_type"]["Levels"]["Task"]
    assert "code 2: duration none in the file (n/a)" in described["trial_type"]["Levels"]["Task"]
    assert described["value"]["Levels"] == {"1": "Task", "2": "Task", "3": "Rest"}


def test_nirx_saturation_kept_as_bad_events(tmp_path, convert):
    folder = next(p for p in NIRX if "saturation" in p.name)
    bids = tmp_path / "bids"
    code, out, _ = convert(folder, bids, "--subject", "01", "--task", "rt")
    assert code == 0 and "BAD_SATURATED x3" in out
    events = pd.read_csv(next(bids.rglob("*_events.tsv")), sep="\t", keep_default_na=False, dtype=str)
    bad = events[events["trial_type"] == "BAD_SATURATED"]
    assert len(bad) == 3 and set(bad["value"]) == {"n/a"} and "n/a" not in set(bad["duration"])
    described = json.loads(next(bids.rglob("*_events.json")).read_text())
    assert "saturated" in described["trial_type"]["Levels"]["BAD_SATURATED"]


def test_nirx_folder_without_wl2(tmp_path, convert):
    folder = tmp_path / "rec"
    shutil.copytree(NIRX[0], folder)
    next(folder.glob("*.wl2")).unlink()
    assert_refused(convert, [folder, tmp_path / "bids", "--subject", "01", "--task", "rt"], tmp_path / "bids",
                   str(folder), "no .wl2 file")


@pytest.mark.parametrize("kind", ["nirs", "snirf", "nirx"])
def test_one_recording_as_source_dry_run(tmp_path, convert, kind):
    path = {"nirs": HOMER[0], "nirx": NIRX[0]}.get(kind) or snirf_of(HOMER[0], tmp_path / "plain.snirf")
    code, out, err = convert(path, "--write-spec", tmp_path / "spec.json")
    assert code == 0, err
    proposal = json.loads((tmp_path / "spec.json").read_text())
    assert [r["match"] for r in proposal["recordings"]] == ["^" + path.name.replace(".", "\\.") + "$"]


def _edited(proposal: dict) -> dict:
    """The proposal with only its placeholders filled in, as a user would."""
    proposal["dataset"].update(Authors=["A. Author"], License="CC0")
    for entry in proposal["recordings"]:
        entry["task"] = "rest"
    return proposal


@pytest.mark.parametrize("folder", [DATA / "nirx", SHARED_DATA / "nirx"], ids=["bundled", "shared"])
def test_edited_proposal_of_nirx_folders_converts(tmp_path, convert, folder):
    """NIRx recordings of one folder with different montages are proposed as different subjects."""
    if not folder.is_dir():
        pytest.skip(f"{folder} is not there")
    assert convert(folder, "--write-spec", tmp_path / "spec.json")[0] == 0
    proposal = _edited(json.loads((tmp_path / "spec.json").read_text()))
    (tmp_path / "spec.json").write_text(json.dumps(proposal))
    code, out, err = convert(folder, tmp_path / "bids", "--spec", tmp_path / "spec.json")
    assert code == 0, err
    assert len(list((tmp_path / "bids").rglob("*_nirs.snirf"))) == len(proposal["recordings"])
    assert validate(tmp_path / "bids")[0] == 0


def test_proposal_names_codes_by_homer_condnames(tmp_path, convert):
    import scipy.io

    variables = {k: v for k, v in scipy.io.loadmat(HOMER[0]).items() if not k.startswith("__")}
    variables["CondNames"] = np.array([["Tapping/Left", "Tapping/Right", "Ruhe \u00e9"]], dtype=object)
    (tmp_path / "lab").mkdir()
    scipy.io.savemat(tmp_path / "lab" / "run01.nirs", variables)
    assert convert(tmp_path / "lab", "--write-spec", tmp_path / "spec.json")[0] == 0
    text = (tmp_path / "spec.json").read_text(encoding="utf-8")
    assert json.loads(text)["events"] == {"1": "Tapping/Left", "2": "Tapping/Right", "3": "Ruhe \u00e9"}
    assert "Ruhe \u00e9" in text  # not escaped


def test_symlink_loop_in_source(tmp_path, convert):
    source = tmp_path / "lab"
    shutil.copytree(DATA / "homer", source)
    (source / "loop").symlink_to(source, target_is_directory=True)
    code, out, err = convert(source, "--write-spec", tmp_path / "spec.json")
    assert code == 0, err
    assert len(json.loads((tmp_path / "spec.json").read_text())["recordings"]) == len(HOMER) + len(GRPTAP)


def test_bids_dataset_as_source(tmp_path, convert):
    bids = tmp_path / "bids"
    assert convert(HOMER[0], bids, "--subject", "01", "--task", "rt", "--skip-bids-validator")[0] == 0
    assert_refused(convert, [bids, tmp_path / "out", "--write-spec", tmp_path / "s.json"], tmp_path / "out")
    code, _, err = convert(bids)
    assert code == 2 and "is a BIDS dataset" in err and str(bids) in err
    snirf = next(bids.rglob("*_nirs.snirf"))
    code, _, err = convert(snirf, tmp_path / "other", "--subject", "02", "--task", "rt")
    assert code == 2 and "recording of a BIDS dataset" in err and not (tmp_path / "other").exists()


def test_non_empty_target_that_is_not_bids(tmp_path, convert):
    bids = tmp_path / "bids"
    bids.mkdir()
    (bids / "notes.txt").write_text("mine\n")
    broken = tmp_path / "broken.nirs"
    broken.write_bytes(b"not a MATLAB file")
    # refused before any recording is read: the error is the target's, not the broken file's
    assert_refused(convert, [broken, bids, "--subject", "01", "--task", "rt"], bids, str(bids),
                   "not a BIDS dataset")


def test_missing_participants_file_and_parent_folders(tmp_path, convert):
    spec = _spec(tmp_path, participants={"file": "nobody.csv"})
    target = tmp_path / "new" / "bids"
    code, _, err = convert(DATA / "homer", tmp_path / "bids", "--spec", spec)
    assert code == 2 and "nobody.csv" in err and "cannot be read" in err and not (tmp_path / "bids").exists()
    code, _, err = convert(DATA / "homer", target, "--spec", _spec(tmp_path))
    assert code == 2 and "does not exist" in err and not (tmp_path / "new").exists()


def test_write_spec_into_a_missing_folder(tmp_path, convert):
    code, out, err = convert(HOMER[0], "--write-spec", tmp_path / "nodir" / "spec.json")
    assert code == 2 and err.count("\n") == 1 and "nodir" in err and "does not exist" in err


def test_os_error_is_one_line_exit_2(tmp_path, convert, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "somewhere"))

    monkeypatch.setattr("bids_app.convert.dataset.tempfile.mkdtemp", denied)
    assert_refused(convert, [HOMER[0], tmp_path / "bids", "--subject", "01", "--task", "rt"], tmp_path / "bids",
                   "somewhere: Permission denied")


def test_new_dataset_has_the_usual_modes(tmp_path, convert):
    old = os.umask(0o022)
    try:
        assert convert(HOMER[0], tmp_path / "bids", "--subject", "01", "--task", "rt", "--skip-bids-validator")[0] == 0
    finally:
        os.umask(old)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in [tmp_path / "bids", *(tmp_path / "bids").rglob("*")]
             if p.is_dir()}
    assert modes == {0o755}
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "bids").rglob("*") if p.is_file()} == {0o644}


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
def test_adding_is_all_or_nothing(tmp_path, convert, monkeypatch, failure):
    bids = tmp_path / "bids"
    assert convert(HOMER[0], bids, "--subject", "01", "--task", "rt", "--skip-bids-validator")[0] == 0
    before = tree_checksum(bids)
    rename, calls = os.rename, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise failure
        rename(src, dst)

    monkeypatch.setattr("bids_app.convert.dataset.os.rename", failing)
    code, out, err = convert(HOMER[1], bids, "--subject", "02", "--task", "rt", "--skip-bids-validator")
    assert code == (130 if isinstance(failure, KeyboardInterrupt) else 2), err
    assert "nothing was written" in err and err.count("\n") == 1
    assert tree_checksum(bids) == before and not (bids / "sub-02").exists()
    assert not [p for p in tmp_path.iterdir() if ".fnirs-glm-bids-" in p.name]


# --- end to end ----------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_convert_validate_analyse(tmp_path, convert):
    """Lab files -> fnirs-glm-bids -> bids-validator-deno clean -> fnirs-glm participant -> group: two GrpTap
    subjects (125 s each, 4 tapping blocks), as Homer keeps them (a folder per subject)."""
    from bids_app.cli import main as app

    source = tmp_path / "lab"
    shutil.copytree(DATA / "homer" / "GrpTap", source)
    shutil.copytree(NIRX[0], source / "p3" / "nirx")
    spec = {"dataset": {"Name": "e2e", "Authors": ["fnirs-glm tests"], "License": "CC0"},
            "recordings": [{"match": r"subj(?P<p>[12])/.*\.nirs$", "subject": "0{p}", "task": "tapping"}],
            "events": {"1": {"name": "Tapping", "duration": 10}}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    bids = tmp_path / "bids"
    code, out, err = convert(source, bids, "--spec", tmp_path / "spec.json")
    assert code == 0, err
    assert "p3/nirx: not matched by the spec" in out
    assert validate(bids)[0] == 0
    out_dir = tmp_path / "out"
    assert app([str(bids), str(out_dir), "participant"]) == 0
    assert app([str(bids), str(out_dir), "group"]) == 0
    assert (out_dir / "task-tapping_report.html").is_file()
    for subject in ("01", "02"):
        table = pd.read_csv(out_dir / f"sub-{subject}" / "nirs" / f"sub-{subject}_task-tapping_desc-channel_stats.tsv",
                            sep="\t")
        assert set(table["condition"]) == {"Tapping"} and len(table) == 36 * 2  # long pairs x HbO, HbR
    group = pd.read_csv(out_dir / "task-tapping_desc-channel_stats.tsv", sep="\t")
    assert len(group) > 0 and (group["n"] == 2).all()  # every row from both participants
