"""BIDS Stats Models (--model): the model files of models/, the model written from options, invalid files."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bsmschema.models import BIDSStatsModel

from bids_app.config import build_options
from bids_app.errors import UsageError
from bids_app.model import GroupContrast, merge_options, model_from_options, parse_model, read_model
from bids_app.options import GroupOptions, declarations

MODELS = Path(__file__).resolve().parents[1] / "models"
CONDITIONS = ["Control", "Tapping/Left", "Tapping/Right"]


def AnalysisOptions(**values):  # the options of both levels, (first level, group), compared as one value
    return build_options(values)


def _options_of(model):
    return AnalysisOptions(**model.first_level, **model.group_level)


def _split(options) -> tuple[dict, dict]:
    """(first-level values, group-level values) of options, as a run records them."""
    first, group = options
    return first.participant_level(), {name: getattr(group, name) for name in declarations(GroupOptions)}


def test_model_files_validate_with_bsmschema():
    files = sorted(MODELS.glob("*.json"))
    assert [f.name for f in files] == ["tutorial.json", "two_groups.json"]
    for path in files:
        document = json.loads(path.read_text())
        validated = BIDSStatsModel.model_validate(document)
        assert validated.BIDSModelVersion == "1.0.0"
        # bsmschema 0.1.1 ignores unknown keys: our own check catches them (and read_model uses both)
        assert read_model(path).document == document


def test_tutorial_model_reads_to_the_demo_options():
    model = read_model(MODELS / "tutorial.json")
    assert model.first_level == {
        "short_regression": "mean", "hrf": "glover", "drift_high_pass": 0.01, "resample_hz": 0.6,
        "noise_model": "auto", "design_rate": "native", "ppf": 6.0, "contrast": ("Tapping/Left - Tapping/Right",)}
    assert model.group_level == {"group_method": "random-effects", "topomap_q_threshold": 0.05}
    assert model.conditions == tuple(CONDITIONS)
    assert model.nodes == {"Run": "run", "Subject": "subject", "Dataset": "dataset"}
    assert model.contrast_names == {"Tapping/Left - Tapping/Right": "Tapping/Left - Tapping/Right"}
    assert model.group_contrasts == ()
    # the demo's flags: --contrast "Tapping/Left - Tapping/Right" (participant), --topomap-q-threshold 0.05 (group)
    assert _options_of(model) == AnalysisOptions(contrast=("Tapping/Left - Tapping/Right",), topomap_q_threshold=0.05)


def test_two_group_model_reads_to_covariates_and_group_contrasts():
    model = read_model(MODELS / "two_groups.json")
    assert model.conditions is None  # trial_type.*
    assert model.group_level == {"group_covariates": ("group", "age"), "group_method": "random-effects"}
    assert model.nodes == {"Run": "run", "Subject": "subject", "Dataset": "between-groups"}
    assert model.group_contrasts == (
        GroupContrast(name="patient - control", weights={"group.patient": 1.0, "group.control": -1.0}),
        GroupContrast(name="age", weights={"age": 1.0}))
    assert _options_of(model) == AnalysisOptions(contrast=("Tapping/Left - Tapping/Right",),
                                                 group_covariates=("group", "age"))


@pytest.mark.parametrize("options", [
    AnalysisOptions(),
    AnalysisOptions(contrast=("Tapping/Left - Tapping/Right", "0.5*Tapping/Left + 0.5*Tapping/Right - Control"),
                    topomap_q_threshold=0.05),
    AnalysisOptions(noise_model="ar-irls", short_regression="all", hrf="spm", design_rate="resampled",
                    stim_dur=5.0, drift_high_pass=0.02, sci_threshold=0.8, psp_threshold=0.1, ppf=0.1,
                    motion_correction="tddr", roi_file="rois.json", fir_window=(-2.0, 20.0),
                    short_channel_max_mm=8.0, long_channel_min_mm=20.0, long_channel_max_mm=40.0,
                    group_method="ols", group_covariates=("age",)),
    AnalysisOptions(short_regression="none", contrast=("-Control + 0.25*Tapping/Left",), group_method="mixedlm",
                    group_covariates=("sex", "age")),
])
def test_model_from_options_round_trips(options):
    first, group = _split(options)
    document = json.loads(json.dumps(model_from_options(first, group, CONDITIONS)))  # as written to disk
    BIDSStatsModel.model_validate(document)
    model = parse_model(document, source="model.json")
    assert _options_of(model) == options
    assert model.conditions is None  # trial_type.*: every trial type, as the flags
    assert model.contrast_names == {c: c for c in options[0].contrast}
    assert ("Subject" in model.nodes) == (options[1].group_method != "mixedlm")


def test_participant_level_model_has_the_run_node_alone():
    options = AnalysisOptions(noise_model="ar1", contrast=("Tapping/Right - Control",))
    document = json.loads(json.dumps(model_from_options(options[0].participant_level(), None, CONDITIONS)))
    BIDSStatsModel.model_validate(document)
    model = parse_model(document, source="model.json")
    assert model.nodes == {"Run": "run"} and model.group_level == {}
    assert _options_of(model) == options


def test_generated_model_lists_the_group_contrasts_the_group_level_computes():
    first, group = _split(AnalysisOptions(group_covariates=("group", "age")))
    document = model_from_options(first, group, [], group_levels={"group": ["control", "patient", "sham"]})
    model = parse_model(json.loads(json.dumps(document)), source="model.json")
    assert model.conditions is None
    assert [(c.name, c.weights) for c in model.group_contrasts] == [
        ("patient - control", {"group.patient": 1.0, "group.control": -1.0}),
        ("sham - control", {"group.sham": 1.0, "group.control": -1.0}),
        ("age", {"age": 1.0})]


def test_file_model_round_trips_through_model_from_options():
    model = read_model(MODELS / "tutorial.json")
    first, group = _split(_options_of(model))
    again = parse_model(model_from_options(first, group, list(model.conditions), list_conditions=True),
                        source="model.json")
    assert _options_of(again) == _options_of(model)
    assert again.conditions == model.conditions == tuple(CONDITIONS)
    assert again.contrast_names == model.contrast_names


def test_model_from_options_needs_conditions_for_contrasts():
    first, group = _split(AnalysisOptions(contrast=("A - B",)))
    with pytest.raises(ValueError, match="contrasts need the conditions"):
        model_from_options(first, group, [])


def _node(level):
    return lambda doc: next(n for n in doc["Nodes"] if n["Level"] == level)


RUN, SUBJECT, DATASET = _node("Run"), _node("Subject"), _node("Dataset")


def _with(change):
    """A mutation of the tutorial model: ``change(doc)`` edits it in place."""
    def apply(doc):
        change(doc)
        return doc
    return apply


@pytest.mark.parametrize("mutate, message", [
    (_with(lambda d: d.update(Nodess=d.pop("Nodes"))), "unknown key 'Nodess'; did you mean 'Nodes'?"),
    (_with(lambda d: RUN(d)["Model"].update(Xs=[1])), "unknown key 'Nodes[0].Model.Xs'; did you mean 'X'?"),
    (_with(lambda d: RUN(d)["Contrasts"][0].update(Weigths=[1, -1])),
     "unknown key 'Nodes[0].Contrasts[0].Weigths'; did you mean 'Weights'?"),
    (_with(lambda d: RUN(d)["Model"].pop("Type")), "Nodes[0].Model.Type: required field missing"),
    (_with(lambda d: RUN(d)["Model"].update(Type="lm")), "Nodes[0].Model.Type: should be 'glm' or 'meta'"),
    (_with(lambda d: SUBJECT(d).update(Level="Session")), "Level 'Session' is not supported"),
    (_with(lambda d: d["Nodes"].append(dict(DATASET(d), Name="second"))), "more than one Dataset node"),
    (_with(lambda d: RUN(d)["Contrasts"][0].update(Test="F")), "Test 'F' is not supported"),
    (_with(lambda d: RUN(d)["Contrasts"][0].update(Weights=[[1, -1], [1, 1]])),
     "a t contrast takes one row of Weights"),
    (_with(lambda d: RUN(d)["Contrasts"][0].update(ConditionList=["trial_type.Tapping/Left", "short_hbo_mean"])),
     "'short_hbo_mean' is not a condition of Model.X"),
    (_with(lambda d: RUN(d)["Model"]["Software"]["fnirs-glm"].update(noise_modle="ar1")),
     "unknown option 'noise_modle'; did you mean 'noise_model'?"),
    (_with(lambda d: RUN(d)["Model"]["Software"].update(fnirs_glm={})), "did you mean 'fnirs-glm'?"),
    (_with(lambda d: RUN(d)["Model"]["Software"]["fnirs-glm"].update(group_method="ols")),
     "unknown option 'group_method'; it belongs to the Dataset node"),
    (_with(lambda d: RUN(d)["Model"]["Software"]["fnirs-glm"].update(hrf="spm")),
     "'hrf' is set by the run node's Model.HRF"),
    (_with(lambda d: RUN(d)["Model"]["Software"]["fnirs-glm"].update(noise_model="ar9")),
     "node 'run': Model.Software.fnirs-glm: invalid noise_model 'ar9': choose from ols, ar1, auto, ar-irls"),
    (_with(lambda d: RUN(d).update(Transformations={"Transformer": "pybids-transforms-v1", "Instructions": []})),
     "Transformations are not supported"),
    (_with(lambda d: RUN(d)["Model"].update(Formula="0 + trial_type")), "Model.Formula is not supported"),
    (_with(lambda d: RUN(d)["Model"]["Options"].update(LowPassFilterCutoffHz=0.2)),
     "Model.Options.LowPassFilterCutoffHz is not supported"),
    (_with(lambda d: RUN(d)["Model"]["X"].__setitem__(5, "drift")),
     "unknown variable 'drift'; did you mean 'drift_*'?"),
    (_with(lambda d: RUN(d)["Model"]["X"].remove(1)), "Model.X must hold 1 (the intercept"),
    (_with(lambda d: RUN(d)["Model"]["X"].remove("short_hbr_mean")), "short_hbo_mean and short_hbr_mean together"),
    (_with(lambda d: RUN(d)["Model"]["HRF"]["Variables"].pop()), "Model.HRF.Variables must be the conditions"),
    (_with(lambda d: RUN(d)["Model"]["HRF"].update(Model="glover + derivative")), "Model.HRF.Model 'glover + derivative' is not supported: choose from glover, spm"),
    (_with(lambda d: RUN(d).update(DummyContrasts={"Test": "F"})), "DummyContrasts must be {\"Test\": \"t\"}"),
    (_with(lambda d: SUBJECT(d).update(DummyContrasts={"Test": "t"})), "DummyContrasts must be {\"Test\": \"pass\"}"),
    (_with(lambda d: SUBJECT(d)["Model"].update(Type="glm")), "the Subject node must be fixed effects"),
    (_with(lambda d: DATASET(d)["Model"].update(Type="glm")), "Model.Type 'glm' does not match group method"),
    (_with(lambda d: DATASET(d)["Model"]["Software"]["fnirs-glm"].update(group_method="mixedlm", )),
     "Model.Type 'meta' does not match group method mixedlm"),
    (_with(lambda d: DATASET(d)["Model"]["Software"]["fnirs-glm"].update(group_method="summary")),
     "node 'dataset': Model.Software.fnirs-glm: group method 'summary' (DerSimonian-Laird"),
    (_with(lambda d: RUN(d)["Model"]["Software"]["fnirs-glm"].update(long_channel_min_mm=5)),
     "node 'run': Model.Software.fnirs-glm: channel distances must satisfy"),
    (_with(lambda d: RUN(d)["Model"]["Options"].update(HighPassFilterCutoffHz=-1)),
     "invalid drift_high_pass -1.0: give a number > 0"),
    (_with(lambda d: DATASET(d)["Model"].update(X=[1, "group", "age"]) or DATASET(d).update(Contrasts=[
        {"Name": "odd", "ConditionList": ["group.patient", "age"], "Weights": [1, -1], "Test": "t"}])),
     "contrast 'odd': not supported"),
    (_with(lambda d: DATASET(d)["Model"].update(X=[1, "group"]) or DATASET(d).update(Contrasts=[
        {"Name": "nothing", "ConditionList": ["group.patient", "group.control"], "Weights": [0, 0], "Test": "t"}])),
     "contrast 'nothing': every weight is 0"),
    (_with(lambda d: DATASET(d)["Model"].update(X=["age"])), "Model.X must hold 1"),
    (_with(lambda d: d["Edges"].reverse()), "Edges must link the nodes in order (run -> subject, subject -> dataset)"),
    (_with(lambda d: d["Edges"][0].update(Filter={"contrast": ["x"]})), "Filter is not supported"),
    (_with(lambda d: d.update(Input={"acquisition": ["a"]})), "Input: 'acquisition' is not supported"),
    (_with(lambda d: d["Nodes"].remove(SUBJECT(d)) or d.pop("Edges")), "add a Subject node"),
    (_with(lambda d: d["Nodes"].remove(RUN(d)) or d.pop("Edges")), "no Run node"),
])
def test_invalid_models_give_one_line_errors(tmp_path, mutate, message):
    document = mutate(json.loads((MODELS / "tutorial.json").read_text()))
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document))
    with pytest.raises(UsageError) as caught:
        read_model(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    assert message in text


def test_mixedlm_model_has_no_subject_node(tmp_path):
    document = json.loads((MODELS / "tutorial.json").read_text())
    document["Nodes"] = [n for n in document["Nodes"] if n["Level"] != "Subject"]
    document["Edges"] = [{"Source": "run", "Destination": "dataset"}]
    dataset = document["Nodes"][-1]["Model"]
    dataset.update(Type="glm", Software={"fnirs-glm": {"group_method": "mixedlm"}})
    model = parse_model(document, source="model.json")
    assert model.group_level == {"group_method": "mixedlm"}
    assert model.nodes == {"Run": "run", "Dataset": "dataset"}


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a readable JSON file"),
    ("[1, 2]", "a BIDS Stats Model must be a JSON object"),
])
def test_unreadable_model_files(tmp_path, content, message):
    path = tmp_path / "model.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        read_model(path)
    with pytest.raises(UsageError, match="model file not found"):
        read_model(tmp_path / "missing.json")


def test_model_package_loads_no_validation_library():
    """--help stays fast: bsmschema and pydantic are imported only when a model is read."""
    code = "import sys, bids_app.model; print(sorted(m for m in ('pydantic', 'bsmschema') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.strip() == "[]"


def test_given_options_must_agree_with_the_model_and_the_defaults_it_implies():
    from bids_app.options import declarations

    defaults = {name: spec.default for name, spec in declarations().items()}
    model = read_model(MODELS / "tutorial.json")
    assert "sci_threshold" not in model.first_level
    merged = merge_options(model.first_level, {"noise_model": "auto", "sci_threshold": None,
                                               "contrast": ["Tapping/Left - Tapping/Right"]}, source="tutorial.json",
                           defaults=defaults)
    assert merged == {**model.first_level, "sci_threshold": None, "contrast": ["Tapping/Left - Tapping/Right"]}
    with pytest.raises(UsageError, match=r"^noise_model 'ar1' was given but the model tutorial.json says 'auto': "):
        merge_options(model.first_level, {"noise_model": "ar1"}, source="tutorial.json", defaults=defaults)
    with pytest.raises(UsageError, match="contrast .'A - B',. was given"):
        merge_options(model.first_level, {"contrast": ("A - B",)}, source="tutorial.json", defaults=defaults)
    with pytest.raises(UsageError, match=r"^sci_threshold 0.7 was given but the model tutorial.json leaves it out, "
                                         r"so it is the default, None: "):
        merge_options(model.first_level, {"sci_threshold": 0.7}, source="tutorial.json", defaults=defaults)
    # without defaults (the selection of recordings) given values complete the model
    assert merge_options({}, {"participant_label": ("01",)}, source="m.json") == {"participant_label": ("01",)}
