"""--model at both levels: the same tables as the equivalent flags, the model written by every run and
re-run from, the two-group model on a simulated two-group study, and the errors of a model that cannot be
used or that a flag contradicts."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bids_app.errors import UsageError
from bids_app.simulate import SimulationOptions, simulate_dataset
from tests.helpers import EXAMPLE, validate

MODELS = Path(__file__).resolve().parents[1] / "models"


def _tables(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.tsv"))}


def _run(run_cli, bids, out, *extra):
    for level in ("participant", "group"):
        code, _, err = run_cli(bids, out, level, "--skip_bids_validator", *extra)
        assert code == 0, err


def _assert_negated(asked: pd.DataFrame, default: pd.DataFrame, *, rows: int) -> None:
    """The rows 'control - patient' of ``asked`` are the rows 'patient - control' of ``default`` negated."""
    flipped = asked[asked["group"] == "control - patient"].reset_index(drop=True)
    original = default[default["group"] == "patient - control"].reset_index(drop=True)
    assert len(flipped) == len(original) == rows
    np.testing.assert_allclose(flipped["effect"], -original["effect"], rtol=1e-8)
    np.testing.assert_allclose(flipped["ci_low"], -original["ci_high"], rtol=1e-8)
    np.testing.assert_allclose(flipped[["se", "p", "n"]], original[["se", "p", "n"]], rtol=1e-8)


@pytest.mark.slow
def test_tutorial_model_gives_the_tables_of_the_equivalent_flags(simulated, tmp_path, run_cli):
    """The simulated fixture ran the demo's flags (--contrast "Tapping/Left - Tapping/Right"; group:
    --topomap-q-threshold 0.05); models/tutorial.json says the same: byte-identical tables."""
    bids, flags_out = simulated
    out = tmp_path / "model"
    _run(run_cli, bids, out, "--model", MODELS / "tutorial.json")
    ours, theirs = _tables(out), _tables(flags_out)
    assert len(ours) > 20 and "task-tapping_desc-contrast_stats.tsv" in ours
    assert ours == theirs
    assert json.loads((out / "model.json").read_text()) == json.loads((MODELS / "tutorial.json").read_text())
    sidecar = json.loads((out / "task-tapping_desc-roi_stats.json").read_text())
    assert sidecar["StatsModel"]["Name"] == "mne-nirs-group-tutorial"
    assert sidecar["StatsModel"]["Nodes"] == {"Run": "run", "Subject": "subject", "Dataset": "dataset"}
    assert "mne-nirs-group-tutorial" in (out / "task-tapping_report.html").read_text()


@pytest.mark.slow
def test_every_run_writes_its_model_and_a_rerun_from_it_gives_the_same_tables(tmp_path, run_cli):
    """Without --model the flags become the model (model.json, a copy beside each run log, named in
    GeneratedBy); --model OUTPUT/model.json at both levels then gives the same tables."""
    out = tmp_path / "flags"
    _run(run_cli, EXAMPLE, out, "--noise-model", "ar1")
    model = json.loads((out / "model.json").read_text())
    assert [node["Level"] for node in model["Nodes"]] == ["Run", "Subject", "Dataset"]  # the group run's
    run_node = model["Nodes"][0]
    assert run_node["Model"]["Software"]["fnirs-glm"]["noise_model"] == "ar1"
    copies = sorted((out / "logs").glob("model_*.json"))
    assert [p.name.split("_")[1] for p in copies] == ["group", "participant"]
    participant = json.loads(copies[1].read_text())
    assert [node["Level"] for node in participant["Nodes"]] == ["Run"]  # the participant level: its Run node
    assert json.loads(copies[0].read_text()) == model
    logs = sorted((out / "logs").glob("[gp]*.json"))
    assert [json.loads(log.read_text())["Model"] for log in logs] == [p.name for p in copies]
    description = json.loads((out / "dataset_description.json").read_text())
    assert "model.json" in description["GeneratedBy"][0]["Description"]
    assert validate(out) == (0, [])

    again = tmp_path / "again"
    _run(run_cli, EXAMPLE, again, "--model", out / "model.json")
    assert _tables(again) == _tables(out) and len(_tables(out)) >= 10
    assert json.loads((again / "model.json").read_text()) == model


@pytest.mark.slow
def test_two_group_model_recovers_the_simulated_group_difference(tmp_path, run_cli):
    """models/two_groups.json (one mean per group, the age slope, the contrast 'patient - control') on two
    simulated groups of 4, the patients' responses at 30% of the controls': the 'patient - control' rows
    cover the study's true difference and find the contralateral ones (p < 0.05)."""
    bids = simulate_dataset(tmp_path / "bids", options=SimulationOptions(
        subjects=8, duration_s=300, seed=21, groups=("control", "patient"), group_effect=0.3))
    out = tmp_path / "out"
    _run(run_cli, bids, out, "--model", MODELS / "two_groups.json", "--n_cpus", "2")
    ours = pd.read_csv(out / "task-tapping_desc-roi_stats.tsv", sep="\t")
    assert set(ours["term"]) == {"mean", "age"}
    truth = pd.read_csv(bids / "sourcedata/ground_truth/group_truth.tsv", sep="\t")
    rows = ours[ours["term"] == "mean"].merge(truth, on=["roi", "chroma", "condition", "group"],
                                               validate="one_to_one")
    differences = rows[rows["group"] == "patient - control"]
    assert len(differences) == 12 and set(differences["n"]) == {8} and set(differences["df"]) == {5}
    contralateral = differences[((differences["roi"] == "right_hemisphere") == (differences["condition"]
                                                                                 == "Tapping/Left"))
                                & (differences["condition"] != "Control")]
    assert len(contralateral) == 4
    assert ((contralateral["ci_low"] <= contralateral["study_effect_um"])
            & (contralateral["study_effect_um"] <= contralateral["ci_high"])).all()
    assert (contralateral["p"] < 0.05).all()
    sidecar = json.loads((out / "task-tapping_desc-roi_stats.json").read_text())
    assert sidecar["StatsModel"]["Nodes"]["Dataset"] == "between-groups"
    assert sidecar["StatsModel"]["Contrasts"] == {"patient - control": "patient - control"}

    # the opposite sign, asked for by a model, is that row negated
    document = json.loads((MODELS / "two_groups.json").read_text())
    document["Nodes"][2]["Contrasts"][0].update(Name="controls minus patients", Weights=[-1, 1])
    (tmp_path / "reversed.json").write_text(json.dumps(document))
    code, _, err = run_cli(bids, out, "group", "--skip_bids_validator", "--model", tmp_path / "reversed.json")
    assert code == 0, err
    _assert_negated(pd.read_csv(out / "task-tapping_desc-roi_stats.tsv", sep="\t"), ours, rows=12)
    assert json.loads((out / "task-tapping_desc-roi_stats.json").read_text())["StatsModel"]["Contrasts"] == {
        "control - patient": "controls minus patients"}


def _tutorial(tmp_path, change, *, any_conditions: bool = False) -> Path:
    """models/tutorial.json changed by ``change``; ``any_conditions``: with trial_type.* and no contrast (for
    the bundled recordings, of one trial type)."""
    document = json.loads((MODELS / "tutorial.json").read_text())
    if any_conditions:
        run = document["Nodes"][0]
        run["Model"]["X"] = ["trial_type.*", "short_hbo_mean", "short_hbr_mean", "drift_*", 1]
        run["Model"]["HRF"]["Variables"] = ["trial_type.*"]
        del run["Contrasts"]
    change(document)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("change, extra, message", [
    (lambda d: d["Nodes"][0]["Model"].update(Xs=[1]), (),
     "unknown key 'Nodes[0].Model.Xs'; did you mean 'X'?"),
    (lambda d: d["Nodes"][0]["Model"]["Software"]["fnirs-glm"].update(noise_model="ar9"), (),
     "invalid noise_model 'ar9'"),
    (lambda d: None, ("--noise-model", "ar1"), "noise_model 'ar1' was given but the model {path} says 'auto'"),
    (lambda d: None, ("--contrast", "Control - Tapping/Left"),
     "contrast ('Control - Tapping/Left',) was given but the model {path} says ('Tapping/Left - Tapping/Right',)"),
    (lambda d: d.update(Input={"subject": ["01"]}), ("--participant-label", "02"),
     "participant_label ('02',) was given but the model {path} says ('01',)"),
    (lambda d: None, (), ("_nirs.snirf: trial types Tapping differ from the conditions of the model (Control, "
     "Tapping/Left, Tapping/Right)")),
])
def test_a_model_that_cannot_be_used_is_one_line_and_nothing_is_written(tmp_path, run_cli, change, extra,
                                                                        message):
    path = _tutorial(tmp_path, change)
    out = tmp_path / "out"
    code, _stdout, err = run_cli(EXAMPLE, out, "participant", "--skip_bids_validator", "--model", path, *extra)
    assert code == 2
    assert err.startswith("fnirs-glm: error: ") and err.count("\n") == 1, err
    assert message.format(path=path) in err
    assert not out.exists()


def test_a_config_value_or_flag_must_agree_with_the_model_and_the_defaults_it_implies(tmp_path, run_cli):
    """A model is the whole analysis (what it leaves out takes its default), so model.json is the analysis run."""
    from bids_app.cli import parse_args

    model = MODELS / "tutorial.json"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"sci_threshold": None, "noise-model": "auto"}))
    parsed = parse_args([str(EXAMPLE), str(tmp_path / "out"), "participant", "--model", str(model),
                         "--config", str(config), "--participant-label", "02", "01"])
    assert parsed.first_level.sci_threshold is None and parsed.first_level.contrast == ("Tapping/Left - Tapping/Right",)
    assert parsed.group.topomap_q_threshold == 0.05 and parsed.model.name == "mne-nirs-group-tutorial"
    config.write_text(json.dumps({"ppf": 5}))
    code, _, err = run_cli(EXAMPLE, tmp_path / "out", "group", "--model", model, "--config", config)
    assert code == 2 and f"ppf 5 was given but the model {model} says 6.0" in err
    code, _, err = run_cli(EXAMPLE, tmp_path / "out", "participant", "--model", model, "--sci-threshold", "0.7")
    assert code == 2 and f"sci_threshold 0.7 was given but the model {model} leaves it out, so it is the default" in err
    assert not (tmp_path / "out").exists()


def test_the_selection_flags_agree_with_the_models_input_in_any_order(tmp_path):
    from bids_app.cli import parse_args

    document = json.loads((MODELS / "tutorial.json").read_text())
    document["Input"] = {"subject": ["01", "02"]}
    model = tmp_path / "model.json"
    model.write_text(json.dumps(document))
    parsed = parse_args([str(EXAMPLE), str(tmp_path / "out"), "participant", "--model", str(model),
                         "--participant-label", "02", "01"])
    assert sorted(parsed.participant_label) == ["01", "02"]
    with pytest.raises(UsageError, match="participant_label"):
        parse_args([str(EXAMPLE), str(tmp_path / "out"), "participant", "--model", str(model),
                    "--participant-label", "01"])


@pytest.fixture(scope="module")
def participant_outputs(tmp_path_factory):
    """The participant level of the bundled recordings with the tutorial model (any trial type)."""
    from bids_app.cli import main

    folder = tmp_path_factory.mktemp("model")
    out = folder / "out"
    assert main([str(EXAMPLE), str(out), "participant", "--skip_bids_validator", "--model",
                 str(_tutorial(folder, lambda d: None, any_conditions=True))]) == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("change, message", [
    (lambda d: d["Nodes"][0]["Model"]["Software"]["fnirs-glm"].update(noise_model="ar1"),
     ("the participant outputs were made with noise_model 'auto' but the model {path} says 'ar1': rerun the "
     "participant level with --model {path}")),
    (lambda d: d["Nodes"][2]["Model"].update(X=[1, "group"]) or d["Nodes"][2].update(Contrasts=[
        {"Name": "b - a", "ConditionList": ["group.b", "group.a"], "Weights": [1, -1], "Test": "t"}]),
     "{path}: contrast 'b - a': group has no level 'b' among the participants (levels: a)"),
])
def test_group_level_refuses_a_model_the_participant_outputs_do_not_fit(participant_outputs, tmp_path, run_cli,
                                                                        change, message):
    bids = tmp_path / "bids"
    shutil.copytree(EXAMPLE, bids)
    table = pd.read_csv(bids / "participants.tsv", sep="\t")
    table.assign(group="a").to_csv(bids / "participants.tsv", sep="\t", index=False)
    out = tmp_path / "out"
    shutil.copytree(participant_outputs, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    path = _tutorial(tmp_path, change, any_conditions=True)
    code, _, err = run_cli(bids, out, "group", "--skip_bids_validator", "--model", path)
    assert code == 2 and err.count("\n") == 1, err
    assert message.format(path=path) in err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before  # nothing written


def test_the_checks_of_a_model_against_the_data():
    """In memory, what the group level checks of a --model (end to end above, under the slow marker)."""
    from bids_app.errors import UsageError
    from bids_app.model import read_model
    from bids_app.model.use import check_conditions, check_recorded_options, group_differences

    source = MODELS / "two_groups.json"
    model = read_model(source)
    assert group_differences(model, group_by="group", levels=["control", "patient"], numeric=("age",),
                             source=source) == [("patient - control", {"patient": 1.0, "control": -1.0})]
    assert group_differences(None, group_by="group", levels=["a", "b"], numeric=(), source=None) is None
    with pytest.raises(UsageError, match="group has no level 'patient' among the participants"):
        group_differences(model, group_by="group", levels=["control", "sham"], numeric=("age",), source=source)
    with pytest.raises(UsageError, match="'age' is not a numeric participants.tsv column"):
        group_differences(model, group_by="group", levels=["control", "patient"], numeric=(), source=source)
    with pytest.raises(UsageError, match="'group' is not a categorical participants.tsv column"):
        group_differences(model, group_by=None, levels=[], numeric=("age",), source=source)
    check_recorded_options(model, records={"sub-01_task-tapping": {"Options": {"noise_model": "auto"}}},
                           source=source)
    with pytest.raises(UsageError, match="^sub-01_task-tapping: the participant outputs were made with "
                       "resample_hz 1.0 but the model .* says 0.6: rerun the participant level with --model"):
        check_recorded_options(model, records={"sub-01_task-tapping": {"Options": {"resample_hz": 1.0}}},
                               source=source)
    tutorial = read_model(MODELS / "tutorial.json")
    # a model is the whole analysis: an option it does not set is its default, also for outputs of versions that
    # did not record that option yet (collect gives them the value those versions used)
    from bids_app.group_level.collect import _with_unrecorded_values
    from bids_app.options import FirstLevelOptions

    current = {"GeneratedBy": {"Options": FirstLevelOptions(contrast=("Tapping/Left - Tapping/Right",)).participant_level()}}
    check_recorded_options(tutorial, records={"a": current["GeneratedBy"]}, source=MODELS / "tutorial.json")
    older = {"GeneratedBy": {"Options": {k: v for k, v in current["GeneratedBy"]["Options"].items()
                                         if k != "ar_bias_correction"}}}
    older = _with_unrecorded_values(older)
    assert older["GeneratedBy"]["Options"]["ar_bias_correction"] == "none"
    with pytest.raises(UsageError, match="made with ar_bias_correction 'none' but the model .* says 'worsley'"):
        check_recorded_options(tutorial, records={"a": older["GeneratedBy"]}, source=MODELS / "tutorial.json")
    with pytest.raises(UsageError, match="made with sci_threshold 0.8 but the model .* says None"):
        check_recorded_options(tutorial, records={"a": {"Options": {"sci_threshold": 0.8}}},
                               source=MODELS / "tutorial.json")
    check_conditions(tutorial, conditions_of={"a.snirf": {"Control", "Tapping/Left", "Tapping/Right"}})
    check_conditions(model, conditions_of={"a.snirf": {"Rest"}})  # trial_type.*: any trial types
    with pytest.raises(UsageError, match="^a.snirf: trial types Rest, Tapping/Left differ from the conditions"):
        check_conditions(tutorial, conditions_of={"a.snirf": {"Tapping/Left", "Rest"}})


@pytest.mark.parametrize("method", ["random-effects", "ols", "mixedlm"])
def test_a_between_level_row_of_either_sign_is_computed_as_asked(method):
    """In memory: the row 'control - patient' a model asks for is the default 'patient - control' negated."""
    from bids_app.group_level.models import TABLES, group_table
    from bids_app.model import parse_model
    from bids_app.model.use import group_differences

    rng = np.random.default_rng(3)
    subjects = [f"{i:02d}" for i in range(1, 11)]
    data = pd.DataFrame([{"subject": s, "roi": roi, "condition": "Tapping", "chroma": "hbo",
                          "group": "patient" if int(s) % 2 else "control", "effect": rng.normal(0.3 * (int(s) % 2), 0.2),
                          "se": rng.uniform(0.05, 0.1)} for s in subjects for roi in ("left", "right")])
    spec = next(s for s in TABLES if s.description == "roi")
    default, _ = group_table(data, spec=spec, method=method, group_by="group")
    document = json.loads((MODELS / "two_groups.json").read_text())
    document["Nodes"][2]["Model"]["X"] = [1, "group"]
    document["Nodes"][2]["Contrasts"] = [{"Name": "c-p", "ConditionList": ["group.patient", "group.control"],
                                          "Weights": [-1, 1], "Test": "t"}]
    if method == "mixedlm":
        document["Nodes"] = [document["Nodes"][0], document["Nodes"][2]]
        document["Edges"] = [{"Source": "run", "Destination": "between-groups"}]
        document["Nodes"][1]["Model"].update(Type="glm", Software={"fnirs-glm": {"group_method": "mixedlm"}})
    differences = group_differences(parse_model(document, source="m.json"), group_by="group",
                                    levels=["control", "patient"], numeric=(), source="m.json")
    assert differences == [("control - patient", {"patient": -1.0, "control": 1.0})]
    asked, _ = group_table(data, spec=spec, method=method, group_by="group", differences=differences)
    _assert_negated(asked, default, rows=2)
    means = asked[asked["group"].isin(["control", "patient"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(means, default[default["group"].isin(["control", "patient"])]
                                  .reset_index(drop=True))
