"""A BIDS Stats Models file read into a StatsModel: fnirs-glm option values, node and contrast names.

The supported subset and its translation node by node: ``bids_app.model.nodes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from bids_app.errors import UsageError
from bids_app.model.nodes import GroupContrast, check_subject_node, check_values, dataset_node, run_node
from bids_app.user_files import read_json_file

SELECTION = {"subject": "participant_label", "session": "session_label", "task": "task_label", "run": "run_label"}


@dataclass(frozen=True, kw_only=True)
class StatsModel:
    """What a model file says, in fnirs-glm's terms."""

    name: str
    first_level: dict  # analysis option name -> value, the options the model sets
    group_level: dict
    conditions: tuple[str, ...] | None  # None: every trial_type of the events (trial_type.*)
    nodes: dict  # level ("Run", "Subject", "Dataset") -> node name
    contrast_names: dict = field(default_factory=dict)  # run-level contrast expression -> its Name
    group_contrasts: tuple[GroupContrast, ...] = ()
    selection: dict = field(default_factory=dict)  # participant_label, task_label, ... from Input
    document: dict = field(default_factory=dict)  # the file's JSON, to write as the model used


def read_model(path: str | Path) -> StatsModel:
    """The model of a BIDS Stats Models file; UsageError (one line, naming the file) when it cannot be used."""
    return parse_model(read_json_file(path, what="model file"), source=str(path))


def parse_model(raw, *, source: str) -> StatsModel:
    """``read_model`` of a JSON value already read; ``source`` names it in the errors."""
    from bids_app.model.schema import validate_document

    document = validate_document(raw, source=source)
    nodes = _ordered_nodes(document, source=source)
    run = nodes.get("Run")
    if run is None:
        raise UsageError(f"{source}: no Run node: fnirs-glm needs one (the first-level GLM of each recording)")
    first, conditions, contrast_names = run_node(run, where=f"{source}: node {run.Name!r}")
    group, group_contrasts = {}, ()
    if "Dataset" in nodes:
        group, group_contrasts = dataset_node(nodes["Dataset"], where=f"{source}: node {nodes['Dataset'].Name!r}")
        check_subject_node(nodes.get("Subject"), method=group.get("group_method", "random-effects"),
                            source=source)
    elif "Subject" in nodes:
        check_subject_node(nodes["Subject"], method="random-effects", source=source)
    try:
        check_values({**first, **group})
    except UsageError as exc:
        raise UsageError(f"{source}: {exc}") from None
    except TypeError as exc:
        raise UsageError(f"{source}: invalid option value: {exc}") from None
    return StatsModel(name=document.Name, first_level=first, group_level=group, conditions=conditions,
                      nodes={level: node.Name for level, node in nodes.items()}, contrast_names=contrast_names,
                      group_contrasts=group_contrasts, selection=_selection(document.Input, source=source),
                      document=raw)


def merge_options(model_values: dict, given: dict, *, source: str, defaults: dict | None = None) -> dict:
    """The model's values with those given explicitly (flags, ``--config``), which must agree with it: one
    analysis, one description of it (a UsageError otherwise).

    ``defaults``: the values of what the model leaves out (a model is the whole analysis, so a given value must
    equal those too); None: given values complete the model (the selection of recordings).
    """
    for name, value in given.items():
        if name in model_values:
            expected, says = model_values[name], "says"
        elif defaults is not None and name in defaults:
            expected, says = defaults[name], "leaves it out, so it is the default,"
        else:
            continue
        if comparable(value) != comparable(expected):
            raise UsageError(f"{name} {comparable(value)!r} was given but the model {source} {says} "
                             f"{comparable(expected)!r}: leave the option out or change the model")
    return {**model_values, **given}


def comparable(value):
    """A value as given (a list from JSON) comparable with the same value as an option (a tuple)."""
    return tuple(value) if isinstance(value, list) else value


def _ordered_nodes(document, *, source: str) -> dict:
    """Level -> node, checking the levels, their order and the edges (a chain Run -> Subject -> Dataset)."""
    nodes = {}
    order = ["Run", "Subject", "Dataset"]
    for node in document.Nodes:
        if node.Level not in order:
            raise UsageError(f"{source}: node {node.Name!r}: Level {node.Level!r} is not supported "
                             "(fnirs-glm has Run, Subject and Dataset nodes; sessions are combined in Subject)")
        if node.Level in nodes:
            raise UsageError(f"{source}: more than one {node.Level} node ({nodes[node.Level].Name!r}, "
                             f"{node.Name!r}): fnirs-glm fits one model per level")
        nodes[node.Level] = node
    levels = [node.Level for node in document.Nodes]
    if levels != sorted(levels, key=order.index):
        raise UsageError(f"{source}: nodes must come in the order Run, Subject, Dataset (got {', '.join(levels)})")
    chain = [nodes[level].Name for level in order if level in nodes]
    if document.Edges is not None:
        for edge in document.Edges:
            if edge.Filter:
                raise UsageError(f"{source}: edge {edge.Source!r} -> {edge.Destination!r}: Filter is not supported")
        edges = [(edge.Source, edge.Destination) for edge in document.Edges]
        if edges != list(pairwise(chain)):
            expected = ", ".join(f"{a} -> {b}" for a, b in pairwise(chain)) or "none"
            raise UsageError(f"{source}: Edges must link the nodes in order ({expected})")
    return nodes


def _selection(inputs, *, source: str) -> dict:
    """Input filters as fnirs-glm's selection options (subject -> participant_label, ...)."""
    selection = {}
    for key, value in (inputs or {}).items():
        if key not in SELECTION:
            raise UsageError(f"{source}: Input: {key!r} is not supported (fnirs-glm selects by "
                             f"{', '.join(SELECTION)})")
        selection[SELECTION[key]] = tuple(str(v) for v in value)
    return selection
