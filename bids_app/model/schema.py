"""Validation of a BIDS Stats Models document against ``bsmschema``, as one-line UsageErrors.

bsmschema 0.1.1 does not reject unknown keys (its models set ``extras``, not pydantic's ``extra``), so the
keys are checked here first, against the fields of its own models, with a "did you mean" for misspelt ones.
"""

from __future__ import annotations

import typing

from bids_app.errors import UsageError
from bids_app.user_files import closest


def validate_document(raw, *, source: str):
    """The ``bsmschema.models.BIDSStatsModel`` of ``raw``; UsageError naming ``source`` and the bad field."""
    from bsmschema.models import BIDSStatsModel
    from pydantic import ValidationError

    if not isinstance(raw, dict):
        raise UsageError(f"{source}: a BIDS Stats Model must be a JSON object (with Name, BIDSModelVersion, Nodes)")
    _check_keys(raw, BIDSStatsModel, where="", source=source)
    try:
        return BIDSStatsModel.model_validate(raw)
    except ValidationError as exc:
        raise UsageError(f"{source}: {_describe(exc.errors())}") from None


def _check_keys(value, schema, *, where: str, source: str) -> None:
    """Every key of ``value`` (a JSON object) is a field of the pydantic model ``schema``, recursively."""
    if not isinstance(value, dict):
        return
    fields = schema.model_fields
    for key, item in value.items():
        if key not in fields:
            close = closest(key, fields)
            hint = f"; did you mean {close!r}?" if close else f"; known keys: {', '.join(fields)}"
            raise UsageError(f"{source}: unknown key {where + key!r}{hint}")
        nested = _nested_model(fields[key].annotation)
        if nested is None:
            continue
        if isinstance(item, list):
            for index, element in enumerate(item):
                _check_keys(element, nested, where=f"{where}{key}[{index}].", source=source)
        else:
            _check_keys(item, nested, where=f"{where}{key}.", source=source)


def _nested_model(annotation):
    """The pydantic model class inside a field's annotation (``Optional[list[Node]]`` -> Node), or None."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _nested_model(argument)
        if found is not None:
            return found
    return None


def _describe(errors: list[dict]) -> str:
    """One line for the first invalid field: its path, what it should be, and what it was."""
    def path_of(error):
        parts = []
        for part in error["loc"]:
            if isinstance(part, int):
                parts.append(f"[{part}]")
            elif part in _TYPE_TAGS or "[" in part:
                break  # pydantic's name of one alternative of a union, not a field
            else:
                parts.append(("." if parts else "") + part)
        return "".join(parts)

    first = path_of(errors[0])
    same = [error for error in errors if path_of(error) == first]
    if same[0]["type"] == "missing":
        return f"{first}: required field missing"
    expected = []
    for error in same:
        text = error["msg"].removeprefix("Input ").removeprefix("should be ")
        if text not in expected:
            expected.append(text)
    return f"{first}: should be {' or '.join(expected)} (got {same[0]['input']!r})"


_TYPE_TAGS = {"str", "int", "float", "bool", "literal[1]"}
