"""The group level in memory: the group tables against closed forms and statsmodels, the sidecar's columns,
and ``collect`` on a small output tree (no command line). The per-cell models against metafor:
tests/test_group_models.py; the group level end to end: tests/test_group.py."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bids_app.errors import UsageError
from bids_app.group_level.collect import collect, read_participant_tables
from bids_app.group_level.models import TABLES, group_table, table_columns
from bids_app.group_level.sidecar import group_stats_sidecar

SPECS = {spec.description: spec for spec in TABLES}


def _roi_rows(seed: int = 0, subjects: int = 6) -> pd.DataFrame:
    """Participant ROI rows, one recording per participant: 2 ROIs x 1 condition x 2 chroma."""
    rng = np.random.default_rng(seed)
    rows = [{"roi": roi, "condition": "Tapping", "chroma": chroma, "subject": f"{i:02d}",
             "effect": mean + rng.normal(0, 0.3), "se": 0.1, "recording": f"sub-{i:02d}_task-tap"}
            for i in range(subjects) for roi, mean in (("left", 0.5), ("right", 0.0)) for chroma in ("hbo", "hbr")]
    return pd.DataFrame(rows)


def test_ols_group_effect_is_the_mean_of_the_participant_effects():
    data = _roi_rows()
    rows, _ = group_table(data, spec=SPECS["roi"], method="ols")
    assert list(rows.columns) == table_columns(SPECS["roi"], method="ols") and len(rows) == 4
    for row in rows.itertuples():
        effects = data.query("roi == @row.roi and chroma == @row.chroma")["effect"]
        assert row.effect == pytest.approx(effects.mean(), rel=1e-12)
        assert row.se == pytest.approx(effects.std(ddof=1) / np.sqrt(len(effects)), rel=1e-10)
        assert row.df == len(effects) - 1 and row.n == len(effects) and row.term == "mean"
        test = stats.ttest_1samp(effects, 0)
        assert row.t == pytest.approx(test.statistic, rel=1e-10) and row.p == pytest.approx(test.pvalue, rel=1e-8)


def test_random_effects_with_equal_standard_errors_has_closed_forms():
    """Equal first-level variances v: REML tau^2 = max(0, s^2 - v), the estimate is the plain mean and the
    Knapp-Hartung standard error is s / sqrt(n), whatever tau^2."""
    data = _roi_rows(seed=1)
    data.loc[data["roi"] == "right", "effect"] = data["effect"] * 0.1  # spread below se: tau^2 at 0
    rows, notes = group_table(data, spec=SPECS["roi"], method="random-effects")
    assert list(rows.columns) == table_columns(SPECS["roi"], method="random-effects")
    for row in rows.itertuples():
        effects = data.query("roi == @row.roi and chroma == @row.chroma")["effect"]
        variance = effects.var(ddof=1)
        assert row.effect == pytest.approx(effects.mean(), rel=1e-10)
        assert row.se == pytest.approx(np.sqrt(variance / len(effects)), rel=1e-8)
        assert row.tau == pytest.approx(np.sqrt(max(0.0, variance - 0.1**2)), rel=1e-6, abs=1e-12)
        assert row.i2 == pytest.approx(row.tau**2 / (row.tau**2 + 0.1**2), rel=1e-6, abs=1e-12)
    assert (rows.query("roi == 'right'")["tau"] == 0).all() and (rows.query("roi == 'left'")["tau"] > 0).all()
    assert any("boundary, 0, in 2 of 4 cell(s)" in note for note in notes)


def _tutorial_rows(spec, seed: int = 2, subjects: int = 6) -> pd.DataFrame:
    """Participant rows with every column of ``spec``, two values each, a random intercept per participant."""
    rng = np.random.default_rng(seed)
    values = {"roi": ["left", "right"], "condition": ["A", "B"], "chroma": ["hbo", "hbr"], "time": [0.0, 1.5],
              "ch_name": ["S1_D1 hbo", "S2_D1 hbo"], "contrast": ["A - B"]}
    cells = pd.MultiIndex.from_product([values[c] for c in spec.cell_columns], names=spec.cell_columns)
    cells = cells.to_frame(index=False)
    parts = []
    for i in range(subjects):
        shift = rng.normal(0, 0.5)
        parts.append(cells.assign(subject=f"{i:02d}", effect=shift + rng.normal(0, 0.3, len(cells)) + np.arange(len(cells)) / 10,
                                  se=0.1))
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("description", [spec.description for spec in TABLES])
def test_mixedlm_tables_equal_the_tutorials_formula_fitted_by_statsmodels(description):
    """Each table's mixedlm rows are the fixed effects of its formula (per split), fitted directly."""
    import statsmodels.formula.api as smf

    spec = SPECS[description]
    data = _tutorial_rows(spec)
    rows, _ = group_table(data, spec=spec, method="mixedlm")
    assert len(rows) == len(data) // 6
    parts = data.groupby(spec.split) if spec.split else [((), data)]
    for values, part in parts:
        direct = smf.mixedlm(spec.formula, part.assign(time=part["time"].astype(str)) if "time" in part else part,
                             groups=part["subject"]).fit(method="nm")
        ours = rows
        for column, value in zip(spec.split, values if isinstance(values, tuple) else (values,)):
            ours = ours[ours[column] == value]
        assert len(ours) == len(direct.fe_params)
        for row in ours.to_dict("records"):
            name = ":".join(f"{c}[{row[c]}]" for c in spec.cells)
            assert row["effect"] == pytest.approx(direct.fe_params[name], rel=1e-6, abs=1e-9)
            assert row["se"] == pytest.approx(direct.bse_fe[name], rel=1e-4)
            assert np.isnan(row["df"]) and row["n"] == 6


@pytest.mark.parametrize("method", ["random-effects", "ols", "mixedlm"])
@pytest.mark.parametrize("covariates", [False, True])
def test_the_group_sidecar_describes_exactly_the_columns_of_the_table(method, covariates):
    data = _roi_rows(seed=3, subjects=8)
    group_by, numeric = ("sex", ("age",)) if covariates else (None, ())
    if covariates:
        people = pd.DataFrame({"subject": [f"{i:02d}" for i in range(8)], "sex": list("FMFMFMFM"),
                               "age": np.linspace(20, 50, 8)})
        data = data.merge(people, on="subject")
    rows, notes = group_table(data, spec=SPECS["roi"], method=method, group_by=group_by, numeric=numeric)
    sidecar = group_stats_sidecar(spec=SPECS["roi"], method=method, subjects=sorted(data["subject"].unique()),
                                  recordings=sorted(data["recording"].unique()), notes=notes, group_by=group_by,
                                  numeric=numeric)
    described = [key for key, value in sidecar.items() if isinstance(value, dict) and "Description" in value]
    assert described == list(rows.columns)
    assert sidecar["Method"] == method and sidecar["Covariates"] == (["sex", "age"] if covariates else [])


def _write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _output_tree(root, *, subjects=("01", "02", "03"), gone=("03",)):
    """A participant-level output tree of task tap (ROI, channel and waveform tables, design sidecars, QC
    tables) and the BIDS directory it came from, whose recordings of ``gone`` were deleted since."""
    bids, out = root / "bids", root / "out"
    for i, subject in enumerate(subjects):
        stem = out / f"sub-{subject}" / "nirs" / f"sub-{subject}_task-tap"
        source = f"sub-{subject}_task-tap_nirs.snirf"
        if subject not in gone:
            _write(bids / f"sub-{subject}" / "nirs" / source, "")
        _write(stem.parent / f"{stem.name}_design.json",
               json.dumps({"SamplingFrequency": 1.0 + i, "GeneratedBy": {"Version": "1.0",
                                                                          "InputChecksums": {source: "x"}}}))
        _write(stem.parent / f"{stem.name}_desc-roi_stats.tsv",
               f"roi\tchroma\tcondition\teffect\tse\nleft\thbo\tTapping\t{i}\t0.1\nleft\thbr\tTapping\tn/a\tn/a\n")
        _write(stem.parent / f"{stem.name}_desc-channel_stats.tsv",
               f"ch_name\tchroma\tcondition\teffect\tse\nS1_D1 hbo\thbo\tTapping\t{i}\t0.1\n")
        _write(stem.parent / f"{stem.name}_desc-waveform_stats.tsv",
               f"roi\tch_name\tchroma\tcondition\ttime\teffect\tse\nleft\tn/a\thbo\tTapping\t0.5\t{i}\t0.1\n"
               f"n/a\tS1_D1 hbo\thbo\tTapping\t0.5\t{i}\t0.1\n")
        _write(stem.parent / f"{stem.name}_desc-qc_channels.tsv", "name\tx\ty\tz\nS1_D1 hbo\t0.1\t0.2\t0.3\n")
    return bids, out


def test_collect_reads_the_participant_outputs_once_into_memory(tmp_path):
    bids, out = _output_tree(tmp_path)
    people = pd.DataFrame({"subject": ["01"], "age": ["30"]})
    inputs = collect(out, bids_dir=bids, covariates=people)
    assert set(inputs.tables) == {"roi", "channel", "waveform"}  # no contrast table: optional
    roi = inputs.tables["roi"]
    assert roi[["subject", "task", "recording"]].drop_duplicates().values.tolist() == [["01", "tap", "sub-01_task-tap"]]
    assert roi["age"].tolist() == [30, 30] and inputs.numeric == ("age",) and inputs.group_by is None
    assert inputs.orphans == ["sub-03_task-tap"]
    assert inputs.notes[0].startswith(f"participant outputs whose input recording is no longer in {bids} left out")
    assert inputs.notes[1] == "participant(s) 02 without a value of every covariate in participants.tsv left out"
    waveform = inputs.tables["waveform"]
    assert "ch_name" not in waveform and waveform["roi"].tolist() == ["left"]  # the ROI waveforms only
    assert list(inputs.designs) == ["sub-01_task-tap", "sub-02_task-tap", "sub-03_task-tap"]
    assert inputs.records({"sub-02_task-tap"}) == {"sub-02_task-tap": {"Version": "1.0", "InputChecksums": {
        "sub-02_task-tap_nirs.snirf": "x"}}}
    assert list(inputs.qc_tables) == list(inputs.designs)
    assert inputs.designs["sub-02_task-tap"]["SamplingFrequency"] == 2.0


def test_collect_says_what_is_missing(tmp_path):
    bids, out = _output_tree(tmp_path, gone=())
    everyone = collect(out, bids_dir=bids)
    assert everyone.orphans == everyone.notes == [] and set(everyone.tables["roi"]["subject"]) == {"01", "02", "03"}
    selected = collect(out, bids_dir=bids, participant_label=["02", "03"])
    assert set(selected.tables["channel"]["subject"]) == {"02", "03"}
    with pytest.raises(UsageError, match="no participant-level outputs of participant\\(s\\) 09; there are outputs "
                                         "of: 01, 02, 03"):
        collect(out, bids_dir=bids, participant_label=["01", "09"])
    for table in out.glob("sub-*/nirs/*_desc-roi_stats.tsv"):
        table.unlink()
    with pytest.raises(UsageError, match="no participant-level \\*_desc-roi_stats.tsv; run the participant level"):
        collect(out, bids_dir=bids)
    assert read_participant_tables(out, description="roi").empty


@pytest.mark.slow
def test_the_group_report_comes_from_group_inputs_without_rereading_the_design_sidecars(simulated, tmp_path):
    """Collected once, the design sidecars may be gone: the figures and the report (with its methods paragraph
    of recorded values) equal those of the command line's group run."""
    import shutil

    from bids_app.layout import GroupOutputs
    from bids_app.report.group import report_files
    from bids_app.run.group import _task_anatomy, fit_group_tables

    bids, out = simulated
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    inputs = collect(copy, bids_dir=bids)
    designs = list(copy.glob("sub-*/**/*_design.json"))
    assert len(designs) == len(inputs.designs) == 5
    for path in designs:
        path.unlink()
    results, _ = fit_group_tables(inputs, method="random-effects")
    outputs = GroupOutputs(copy, "tapping")
    table, sidecar, _ = _task_anatomy(inputs, results=results["tapping"])
    files = report_files(inputs, outputs=outputs, results=results["tapping"], q_threshold=0.05,
                         anatomy=(table, sidecar))
    report = files.pop(outputs.report)
    assert "Signals were resampled to" in report and report == (out / outputs.report.name).read_text()
    pngs = {path: content for path, content in files.items() if path.suffix == ".png"}
    assert len(pngs) == 6 and set(files) == set(pngs) | {outputs.vector(path) for path in pngs}
    for path, content in pngs.items():
        assert content == (out / path.relative_to(copy)).read_bytes(), path.name


def test_the_participant_files_are_those_of_the_layouts_globs(tmp_path):
    """One listing of the participant folders finds what each ``sub-*/**/nirs/`` glob of the layout finds, in
    the same order: sessions, nested and linked folders, names that sort differently as text and as paths."""
    from bids_app.group_level.collect import _ANATOMY_SIDECAR, _DESIGN_SIDECAR, _QC_TABLE, ParticipantFiles
    from bids_app.layout import STATS_DESCRIPTIONS, RecordingOutputs

    names = ["sub-1/nirs/sub-1_task-a", "sub-1/ses-2/nirs/sub-1_ses-2_task-a", "sub-1/ses-2/nirs/x/nirs/sub-1_task-b",
             "sub-1-b/nirs/sub-1-b_task-a", "sub-10/ses-1/nirs/sub-10_ses-1_task-a", "elsewhere/nirs/sub-3_task-a",
             "sub-2/figures/nirs/sub-2_task-a"]
    for name in names:
        for suffix in ("_desc-roi_stats.tsv", "_desc-waveform_stats.tsv", "_design.json", "_desc-qc_channels.tsv",
                       "_desc-anatomy_channels.json", "_desc-roi_stats.json"):
            _write(tmp_path / f"{name}{suffix}", "")
    (tmp_path / "sub-3").mkdir()
    (tmp_path / "sub-3" / "nirs").symlink_to(tmp_path / "elsewhere" / "nirs")  # a linked nirs folder: searched
    (tmp_path / "sub-1" / "linked").symlink_to(tmp_path / "elsewhere")  # below a linked folder: not searched
    (tmp_path / "sub-1" / "nirs" / "folder_desc-roi_stats.tsv").mkdir()
    _write(tmp_path / "sub-4", "")
    files = ParticipantFiles(tmp_path)
    for description in STATS_DESCRIPTIONS:
        assert files.stats(description) == RecordingOutputs.all_stats(tmp_path, description=description)
    assert len(files.stats("roi")) == len(names) + 1
    for ours, layout in ((_DESIGN_SIDECAR, RecordingOutputs.design_sidecars), (_QC_TABLE, RecordingOutputs.qc_tables),
                         (_ANATOMY_SIDECAR, RecordingOutputs.anatomy_sidecars)):
        assert list(files.by_recording(ours).items()) == list(layout(tmp_path).items())


def test_the_group_level_reads_only_the_columns_and_rows_it_models(tmp_path):
    """``read_tsvs`` with ``columns`` and ``present`` (the ROI rows of the waveform tables, picked in the text when
    they come first) equals reading every column and row and selecting them; ``distinct`` leaves out tables equal
    to an earlier one without changing the first row of each channel."""
    from bids_app.derivatives import read_tsvs

    header = "roi\tch_name\tchroma\tcondition\ttime\teffect\tse\n"
    roi, channel = "L\tn/a\thbo\tTapping\t{}\t{}\t0.1\n", "n/a\tS1_D1 hbo\thbo\tTapping\t{}\t{}\t0.1\n"
    texts = {
        "first": header + roi.format(0.5, 1) + roi.format(1.5, 2) + channel.format(0.5, 3) + channel.format(1.5, 4),
        "mixed": (header + channel.format(0.5, 5) + roi.format(0.5, 6) + channel.format(1.5, 7)
                  + roi.format(1.5, "n/a")),
        "channels": header + channel.format(0.5, 8),
        "empty": header,
        "crlf": (header + roi.format(2.5, 9) + channel.format(2.5, 10)).replace("\n", "\r\n"),
        "quoted": header + '"L"\tn/a\thbo\tTapping\t3.5\t11\t0.1\n"n/a"\tS1\thbo\tTapping\t3.5\t12\t0.1\n',
        "short": header + roi.format(4.5, 13) + channel.format(4.5, 14) + "n/a\n",
        "second": "ch_name\troi\tchroma\tcondition\ttime\teffect\tse\nS1_D1 hbo\tn/a\thbo\tTapping\t0.5\t15\t0.1\n"
                  "n/a\tR\thbo\tTapping\t0.5\t16\t0.1\n",
    }
    paths = []
    for name, text in texts.items():
        paths.append(tmp_path / f"sub-01_task-{name}_desc-waveform_stats.tsv")
        paths[-1].write_bytes(text.encode())
    columns = ["roi", "chroma", "condition", "time", "effect", "se"]
    everything = read_tsvs(paths)
    expected = everything[everything["roi"].notna()][[*columns, "file"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(read_tsvs(paths, columns=columns, present="roi"), expected)
    assert [name.split("-")[2].split("_")[0] for name in expected["file"]] == [
        "first", "first", "mixed", "mixed", "crlf", "quoted", "short", "second"]  # "second": roi not first
    without = read_tsvs(paths, columns=["chroma", "effect"], present="roi")
    assert list(without.columns) == ["chroma", "effect", "file"] and len(without) == len(expected)
    assert read_tsvs(paths[2:4], columns=columns, present="roi").empty
    positions = "name\tx\ty\tz\tsci\nS1_D1 hbo\t{}\t0.2\t0.3\t0.9\nS2_D1 hbo\tn/a\tn/a\tn/a\t0.5\n"
    qc = []
    for i, x in enumerate([0.1, 0.1, 0.4]):
        qc.append(tmp_path / f"sub-0{i}_desc-qc_channels.tsv")
        qc[-1].write_text(positions.format(x))
    first = read_tsvs(qc).dropna(subset=["x", "y", "z"]).drop_duplicates("name")
    distinct = read_tsvs(qc, columns=["name", "x", "y", "z"], distinct=True)
    assert len(distinct) == 4 and set(distinct["file"]) == {qc[0].name, qc[2].name}
    kept = distinct.dropna(subset=["x", "y", "z"]).drop_duplicates("name").reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, first[["name", "x", "y", "z", "file"]].reset_index(drop=True))
