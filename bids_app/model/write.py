"""The BIDS Stats Model of a set of option values: the model of a run made with command-line flags."""

from __future__ import annotations

from itertools import pairwise

from bids_app.first_level.contrasts import parse_contrast
from bids_app.model.nodes import (
    ALL_CONDITIONS,
    CONDITION_PREFIX,
    DRIFTS,
    IN_MODEL,
    SHORT_ALL,
    SHORT_MEAN,
    SOFTWARE,
)

BIDS_MODEL_VERSION = "1.0.0"
SHORT_TERMS = {"none": [], "mean": list(SHORT_MEAN), "all": [SHORT_ALL]}


def model_from_options(first_level_values: dict, group_values: dict | None, conditions: list[str], *,
                       list_conditions: bool = False, group_levels: dict[str, list[str]] | None = None,
                       name: str = "fnirs-glm") -> dict:
    """A BIDS Stats Models document (JSON-ready) that ``read_model`` reads back to the same option values.

    ``first_level_values`` and ``group_values``: analysis option name -> value (e.g.
    ``FirstLevelOptions.participant_level()`` and the group-level options; ``group_values`` None: the model of
    the participant level alone, a Run node); ``conditions``: the trial types, against which the contrasts
    are parsed. The run node's ``Model.X`` holds ``trial_type.*`` (every trial type of each recording, as the
    command-line flags do), or with ``list_conditions`` the conditions themselves (a model that names its
    conditions, e.g. for a shared model file); ``group_levels``: the levels of the
    categorical covariate, when known, to write its ``<level> - <first level>`` contrasts as the group level
    computes them. Contrast names are the expressions as given; their ConditionList and Weights come from
    parsing them against ``conditions``.
    """
    terms = [CONDITION_PREFIX + c for c in conditions] if list_conditions and conditions else [ALL_CONDITIONS]
    contrasts = []
    for expression in first_level_values.get("contrast", ()):
        if not conditions:
            raise ValueError("model_from_options: contrasts need the conditions they weight")
        weights = parse_contrast(expression, list(conditions))
        contrasts.append({"Name": expression, "ConditionList": [CONDITION_PREFIX + c for c in weights],
                          "Weights": [int(w) if w.is_integer() else w for w in weights.values()], "Test": "t"})
    software = {k: json_value(v) for k, v in first_level_values.items() if k not in IN_MODEL}
    run_model = {"Type": "glm",
                 "X": [*terms, *SHORT_TERMS[first_level_values.get("short_regression", "mean")], DRIFTS, 1],
                 "HRF": {"Variables": terms, "Model": first_level_values.get("hrf", "glover")}}
    if "drift_high_pass" in first_level_values:
        run_model["Options"] = {"HighPassFilterCutoffHz": first_level_values["drift_high_pass"]}
    run_model["Software"] = {SOFTWARE: software}
    run = {"Level": "Run", "Name": "run", "GroupBy": ["run", "subject"], "Model": run_model,
           "DummyContrasts": {"Test": "t"}}
    if contrasts:
        run["Contrasts"] = contrasts
    if group_values is None:
        return _document(name, [run])
    nodes = [run]
    method = group_values.get("group_method", "random-effects")
    if method != "mixedlm":
        nodes.append({"Level": "Subject", "Name": "subject", "GroupBy": ["subject", "contrast"],
                      "Model": {"Type": "meta", "X": [1]}, "DummyContrasts": {"Test": "pass"}})
    covariates = list(group_values.get("group_covariates", ()))
    dataset = {"Level": "Dataset", "Name": "dataset", "GroupBy": ["contrast"],
               "Model": {"Type": "meta" if method == "random-effects" else "glm", "X": [1, *covariates],
                         "Software": {SOFTWARE: {k: json_value(v) for k, v in group_values.items()
                                                 if k not in IN_MODEL}}},
               "DummyContrasts": {"Test": "t"}}
    group_contrasts = _group_contrasts(covariates, group_levels or {})
    if group_contrasts:
        dataset["Contrasts"] = group_contrasts
    nodes.append(dataset)
    return _document(name, nodes)


def _document(name: str, nodes: list[dict]) -> dict:
    edges = [{"Source": a["Name"], "Destination": b["Name"]} for a, b in pairwise(nodes)]
    return {"Name": name, "BIDSModelVersion": BIDS_MODEL_VERSION,
            "Description": "The analysis of fnirs-glm as run (written by fnirs-glm)",
            "Nodes": nodes, "Edges": edges}


def _group_contrasts(covariates: list[str], group_levels: dict[str, list[str]]) -> list[dict]:
    """The rows the group level computes beyond the means: level differences and numeric slopes."""
    contrasts = []
    for column in covariates:
        levels = group_levels.get(column)
        if levels is None:
            contrasts.append({"Name": column, "ConditionList": [column], "Weights": [1], "Test": "t"})
            continue
        for level in levels[1:]:
            contrasts.append({"Name": f"{level} - {levels[0]}",
                              "ConditionList": [f"{column}.{level}", f"{column}.{levels[0]}"],
                              "Weights": [1, -1], "Test": "t"})
    return contrasts


def json_value(value):
    """An option value as JSON (a tuple as a list)."""
    return list(value) if isinstance(value, tuple) else value

