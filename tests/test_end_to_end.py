"""The command line on real recordings: outputs, their columns, the validator, reproducibility."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.helpers import EXAMPLE, SHARED_DATA, tree_checksum, validate

ENTITIES = ["sub-01_ses-01_task-tapping", "sub-01_ses-02_task-tapping", "sub-02_ses-01_task-tapping"]
CHANNEL_COLUMNS = ["ch_name", "source", "detector", "chroma", "condition", "effect", "se", "t", "df", "p",
                   "ar_order"]
ROI_COLUMNS = ["roi", "chroma", "condition", "effect", "se", "t", "df", "p", "ar_order", "n_channels"]
QC_COLUMNS = ["name", "type", "source", "detector", "wavelength_nominal", "units", "distance_mm", "x", "y", "z",
              "role", "sci", "psp", "motion_burden", "bad_segments", "bad_share", "status", "status_description"]
CONTRAST_COLUMNS = ["contrast", "ch_name", "source", "detector", "chroma", "effect", "se", "t", "df", "p",
                    "ar_order"]


def _nirs_dir(out, entities):
    sub, ses = entities.split("_")[:2]
    return out / sub / ses / "nirs"


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    """One participant-level run on the bundled example, with a contrast, in parallel."""
    from bids_app.cli import main

    out = tmp_path_factory.mktemp("out")
    before = tree_checksum(EXAMPLE)
    code = main([str(EXAMPLE), str(out), "participant", "--n_cpus", "2",
                 "--contrast", "Tapping", "--contrast", "2*Tapping"])
    return code, out, before


@pytest.mark.slow
def test_every_output_written_with_its_columns(example_run):
    code, out, _ = example_run
    assert code == 0
    for entities in ENTITIES:
        folder = _nirs_dir(out, entities)
        channel = pd.read_csv(folder / f"{entities}_desc-channel_stats.tsv", sep="\t")
        assert list(channel.columns) == CHANNEL_COLUMNS
        assert len(channel) == 36 * 2 and set(channel["chroma"]) == {"hbo", "hbr"}
        assert channel[["effect", "se", "t", "p"]].notna().all().all()
        roi = pd.read_csv(folder / f"{entities}_desc-roi_stats.tsv", sep="\t")
        assert list(roi.columns) == ROI_COLUMNS
        assert list(roi["roi"].unique()) == ["all_long_channels"]  # flat 2-D layout: one ROI
        contrast = pd.read_csv(folder / f"{entities}_desc-contrast_stats.tsv", sep="\t")
        assert list(contrast.columns) == CONTRAST_COLUMNS
        doubled = contrast[contrast["contrast"] == "2*Tapping"].reset_index()
        single = contrast[contrast["contrast"] == "Tapping"].reset_index()
        pd.testing.assert_series_equal(doubled["effect"], 2 * single["effect"], check_names=False)
        pd.testing.assert_series_equal(doubled["t"], single["t"], check_names=False)
        qc = pd.read_csv(folder / f"{entities}_desc-qc_channels.tsv", sep="\t")
        channels = pd.read_csv(EXAMPLE / entities.split("_")[0] / entities.split("_")[1] / "nirs"
                               / f"{entities}_channels.tsv", sep="\t")
        assert list(qc["name"]) == list(channels["name"])
        assert set(qc["status"]) <= {"good", "bad"}
        assert list(qc.columns) == QC_COLUMNS
        assert qc[["sci", "psp", "motion_burden"]].notna().all().all()
        assert ((qc["motion_burden"] >= 0) & (qc["motion_burden"] <= 1)).all() and (qc["psp"] >= 0).all()
        qc_sidecar = json.loads((folder / f"{entities}_desc-qc_channels.json").read_text())
        assert set(qc.columns) <= set(qc_sidecar), "undescribed QC columns"
        assert qc_sidecar["PSPThreshold"] is None and qc_sidecar["PSPWindowSeconds"] == 10
        design = pd.read_csv(folder / f"{entities}_design.tsv", sep="\t")
        sidecar = json.loads((folder / f"{entities}_design.json").read_text())
        assert list(design.columns) == sidecar["RegressorNames"]
        assert {"Tapping", "short_hbo_mean", "short_hbr_mean", "constant"} <= set(design.columns)
        assert sidecar["SamplingFrequency"] == pytest.approx(0.6, rel=0.01)
        assert list(sidecar["ConditionVIF"]) == ["Tapping"] and sidecar["VIFLimit"] == 5
        assert 1 <= sidecar["ConditionVIF"]["Tapping"] < sidecar["VIFLimit"]
        for table in ["channel", "roi", "contrast"]:
            described = json.loads((folder / f"{entities}_desc-{table}_stats.json").read_text())
            columns = pd.read_csv(folder / f"{entities}_desc-{table}_stats.tsv", sep="\t", nrows=0).columns
            assert set(columns) <= set(described), f"undescribed columns in {table}"
            assert described["effect"]["Units"] == "uM"
    description = json.loads((out / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    assert description["GeneratedBy"][0]["Name"] == "fnirs-glm"
    logs = list((out / "logs").glob("participant_*.json"))
    assert len(logs) == 1
    log = json.loads(logs[0].read_text())
    assert log["Configuration"]["first_level"]["noise_model"] == "auto" and "mne" in log["Versions"]
    from importlib.metadata import version

    assert log["InputValidation"]["Status"] == "validated"  # found beside the interpreter, not on PATH
    assert log["InputValidation"]["Version"] == version("bids-validator-deno")
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_tapping_activates_hbo(example_run):
    _, out, _ = example_run
    for entities in ENTITIES:
        table = pd.read_csv(_nirs_dir(out, entities) / f"{entities}_desc-channel_stats.tsv", sep="\t")
        hbo = table[table["chroma"] == "hbo"]
        # "several" channels: 3 to 8 per recording here with the default (native-rate) design
        assert ((hbo["effect"] > 0) & (hbo["p"] < 0.05)).sum() >= 3, entities


@pytest.mark.slow
def test_output_passes_the_bids_validator(example_run):
    _, out, _ = example_run
    code, errors = validate(out)
    assert errors == [] and code == 0


@pytest.mark.slow
def test_input_unchanged_and_rerun_identical(example_run, tmp_path):
    from bids_app.cli import main

    _, out, before = example_run
    assert tree_checksum(EXAMPLE) == before
    again = tmp_path / "again"
    assert main([str(EXAMPLE), str(again), "participant", "--n_cpus", "1", "--skip_bids_validator",
                 "--contrast", "Tapping", "--contrast", "2*Tapping"]) == 0
    first = {k: v for k, v in tree_checksum(out).items() if not k.startswith("logs")}
    second = {k: v for k, v in tree_checksum(again).items() if not k.startswith("logs")}
    assert first == second


@pytest.mark.slow
def test_all_shared_grptap_recordings_through_the_group_level(tmp_path):
    """The 3 participants x 2 sessions of the real Homer3 study: every table, figure and report. The data are in
    ../shared/data/grptap, beside the developers' clone (not in the repository: a fresh clone, as in CI, reports
    this test as skipped, with the reason; tests/data/grptap holds 3 of these recordings for every run)."""
    if not (SHARED_DATA / "grptap").is_dir():
        pytest.skip(f"{SHARED_DATA / 'grptap'} not present (the developers' shared data)")
    import pandas as pd
    import statsmodels.formula.api as smf

    from bids_app.cli import main
    from bids_app.group_level.collect import read_participant_tables

    assert main([str(SHARED_DATA / "grptap"), str(tmp_path), "participant", "--n_cpus", "2"]) == 0
    assert len(list(tmp_path.glob("sub-*/ses-*/nirs/*_desc-channel_stats.tsv"))) == 6
    assert main([str(SHARED_DATA / "grptap"), str(tmp_path), "group", "--group-method", "mixedlm"]) == 0
    for name in ["task-tapping_desc-roi_stats.tsv", "task-tapping_desc-channel_stats.tsv", "task-tapping_report.html",
                 "figures/task-tapping_desc-channel_topomap.png", "figures/task-tapping_desc-roi_effects.png",
                 "sub-01.html", "sub-02.html", "sub-03.html"]:
        assert (tmp_path / name).stat().st_size > 300, name
    qc = next(tmp_path.glob("sub-01/ses-01/nirs/*_desc-qc_channels.tsv"))
    assert json.loads(qc.with_suffix(".json").read_text())["NIRSCoordinateSystem"] == "Other"
    assert (pd.read_csv(qc, sep="\t")["z"] == 0).all()  # the flat layout the maps are drawn on
    roi = read_participant_tables(tmp_path, description="roi")
    direct = smf.mixedlm("effect ~ -1 + roi:condition:chroma", roi, groups=roi["subject"]).fit(method="nm")
    ours = pd.read_csv(tmp_path / "task-tapping_desc-roi_stats.tsv", sep="\t")
    assert ours["n"].tolist() == [3, 3]
    assert sorted(ours["effect"]) == pytest.approx(sorted(direct.fe_params), rel=1e-9)
    assert validate(tmp_path)[1] == []


def test_help_and_version_import_no_analysis_library():
    code = ("import sys; from bids_app.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "heavy = {'mne', 'nilearn', 'statsmodels', 'pandas', 'numpy', 'mne_bids', 'bsmschema', 'pydantic'}"
            " & set(sys.modules)\n"
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "--participant_label" in done.stdout and "--noise-model" in done.stdout
    version = subprocess.run([sys.executable, "run.py", "--version"], capture_output=True, text=True, check=False,
                             cwd=EXAMPLE.parents[2])
    assert version.stdout.strip() == "fnirs-glm " + (EXAMPLE.parents[2] / "version").read_text().strip()


@pytest.mark.slow
def test_flat_layouts_get_no_anatomy_and_one_warning_per_recording(example_run):
    """The bundled recordings have a flat 2-D layout (coordinate system "Other"): no anatomy files, one warning
    each, n/a in the design sidecar, every other output as before."""
    code, out, _ = example_run
    assert code == 0
    for entities in ENTITIES:
        folder = _nirs_dir(out, entities)
        assert not list(folder.glob("*_desc-anatomy_*")) and not list(folder.glob("*_desc-labelshares_*"))
        warnings = json.loads((folder / f"{entities}_desc-qc_channels.json").read_text())["Warnings"]
        assert [w for w in warnings if "anatomy" in w] == [
            "no anatomy (coordinate system 'Other' is not a head or MNI frame): channel positions, atlas labels "
            "and brain figures are n/a"]
        assert json.loads((folder / f"{entities}_design.json").read_text())["Anatomy"] == "n/a"
