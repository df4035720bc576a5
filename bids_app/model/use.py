"""How a run uses its model: the model each level writes (``model.json``), and what a ``--model`` asks of the
data (the conditions of each recording, the options the participant outputs were made with, the group
contrasts as rows of the group tables)."""

from __future__ import annotations

from pathlib import Path

from bids_app.errors import UsageError
from bids_app.model.read import StatsModel, comparable
from bids_app.model.write import model_from_options


def participant_model(config, *, conditions: list[str], written: dict) -> dict:
    """The model of a participant-level run: the ``--model`` file as given, else the Run node of the options;
    or the model already ``written`` in the output when that is the whole analysis (written by the group
    level) with the same Run node: a participant-level rerun keeps it, since it describes both levels."""
    if config.model is not None:
        return config.model.document
    model = model_from_options(config.first_level.participant_level(), None, conditions)
    if _run_node(written) == _run_node(model) and len(written.get("Nodes", [])) > len(model["Nodes"]):
        return written
    return model


def _run_node(model: dict) -> dict | None:
    nodes = model.get("Nodes") if isinstance(model, dict) else None
    return next((n for n in nodes if isinstance(n, dict) and n.get("Level") == "Run"), None) if isinstance(
        nodes, list) else None


def group_model(config, *, recorded: dict, conditions: list[str], group_levels: dict[str, list[str]]) -> dict:
    """The model of a group-level run: the ``--model`` file as given, else the model of the options the
    participant outputs recorded (``recorded``) and of the group options, with the Dataset node's contrasts
    the group level computes for the categorical covariate's ``group_levels``."""
    if config.model is not None:
        return config.model.document
    return model_from_options(recorded, config.group.as_json(), conditions, group_levels=group_levels)


def check_conditions(model: StatsModel | None, *, conditions_of: dict[str, set[str]]) -> None:
    """A model that lists its conditions (``trial_type.<condition>``) fits recordings of those trial types:
    ``conditions_of`` is recording file -> its trial types."""
    if model is None or model.conditions is None:
        return
    for recording, conditions in conditions_of.items():
        if conditions != set(model.conditions):
            raise UsageError(f"{recording}: trial types {', '.join(sorted(conditions)) or 'none'} differ from "
                             f"the conditions of the model ({', '.join(model.conditions)}): list them in its "
                             "Run node's Model.X, or use trial_type.* (every trial type)")


def check_recorded_options(model: StatsModel | None, *, records: dict[str, dict], source: Path | None) -> None:
    """The participant outputs were made with the first-level options of the model, those it sets and the
    defaults of those it does not (a model is the whole analysis), as their design sidecars recorded them;
    else a UsageError: rerun the participant level with the model."""
    from bids_app.options import FirstLevelOptions

    if model is None:
        return
    expected = {**FirstLevelOptions().participant_level(), **model.first_level}
    for recording, record in records.items():
        options = record.get("Options") or {}
        for name, value in expected.items():
            if name in options and comparable(options[name]) != comparable(value):
                raise UsageError(f"{recording}: the participant outputs were made with {name} "
                                 f"{comparable(options[name])!r} but the model {source} says {comparable(value)!r}"
                                 f": rerun the participant level with --model {source}")


def group_differences(model: StatsModel | None, *, group_by: str | None, levels: list[str],
                      numeric: tuple[str, ...], source: Path | None) -> list | None:
    """The between-level rows the model's Dataset contrasts ask for: (label, level -> weight) each; None
    without a model (the group level's default, each level minus the first). Checks that a ``column.level``
    term names the categorical covariate and one of its levels, and a slope a numeric covariate."""
    from bids_app.group_level.differences import difference_label

    if model is None:
        return None
    differences = []
    for contrast in model.group_contrasts:
        where = f"{source}: contrast {contrast.name!r}"
        terms = [term for term in contrast.weights if term != 1]
        if len(terms) == 1 and "." not in str(terms[0]):  # a slope
            if terms[0] not in numeric:
                raise UsageError(f"{where}: {terms[0]!r} is not a numeric participants.tsv column (a slope needs "
                                 "numbers)")
            continue
        if not terms:  # the mean: every row of term 'mean'
            continue
        weights = {}
        for term, weight in contrast.weights.items():
            column, _, level = term.partition(".")
            if column != group_by:
                raise UsageError(f"{where}: {column!r} is not a categorical participants.tsv column")
            if level not in levels:
                raise UsageError(f"{where}: {column} has no level {level!r} among the participants "
                                 f"(levels: {', '.join(levels)})")
            weights[level] = weight
        differences.append((difference_label(weights), weights))
    return differences

