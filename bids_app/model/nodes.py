"""The nodes of a BIDS Stats Model translated into fnirs-glm option values: the supported fNIRS subset.

Run node: ``Model.X`` holds ``trial_type.<condition>`` (or ``trial_type.*``), the short-channel regressors
(``short_hbo_mean`` + ``short_hbr_mean``, or ``short_*``), ``drift_*`` and ``1``; ``Model.HRF`` convolves
the conditions; ``Model.Options.HighPassFilterCutoffHz`` is the drift cutoff; t ``Contrasts`` of conditions
become contrast expressions; the other first-level options sit in ``Model.Software["fnirs-glm"]``.
Subject node (random-effects and ols): fixed effects (``Type: meta``, ``X: [1]``) over runs and sessions.
Dataset node: ``X`` = ``1`` and participants.tsv columns, ``Type`` meta (random-effects) or glm (ols,
mixedlm), ``Software["fnirs-glm"]`` the group method, t ``Contrasts`` between groups or of covariates.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from bids_app.errors import UsageError
from bids_app.options import LEVELS, GroupOptions, declarations
from bids_app.user_files import closest

HRF_CHOICES = declarations()["hrf"].choices
GROUP_LEVEL_OPTIONS = tuple(declarations(GroupOptions))

SOFTWARE = "fnirs-glm"  # the key of Model.Software holding fnirs-glm's own options
ALL_CONDITIONS = "trial_type.*"
CONDITION_PREFIX = "trial_type."
SHORT_MEAN = ("short_hbo_mean", "short_hbr_mean")
SHORT_ALL = "short_*"
DRIFTS = "drift_*"
# options with a place of their own in the model, so not in Software["fnirs-glm"]
IN_MODEL = {"short_regression": "the run node's Model.X", "hrf": "the run node's Model.HRF",
            "contrast": "the run node's Contrasts", "drift_high_pass": "Model.Options.HighPassFilterCutoffHz",
            "group_covariates": "the dataset node's Model.X"}
RUN_GROUPING = {"run", "subject", "session", "task", "acquisition"}


@dataclass(frozen=True, kw_only=True)
class GroupContrast:
    """A dataset-node t contrast: weights of ``1`` (the mean), numeric covariates or ``column.level`` terms."""

    name: str
    weights: dict


def _unsupported(node, *, where: str) -> None:
    """The parts of a node that fnirs-glm cannot honour."""
    if node.Transformations is not None:
        raise UsageError(f"{where}: Transformations are not supported (fnirs-glm makes one regressor per "
                         "trial_type and convolves it with Model.HRF itself): remove them")
    if node.Model.Formula is not None:
        raise UsageError(f"{where}: Model.Formula is not supported: list the variables in Model.X")
    options = node.Model.Options
    if options is not None:
        for name in ("LowPassFilterCutoffHz", "ReplaceVariables", "Mask", "Aggregate"):
            if getattr(options, name) is not None:
                raise UsageError(f"{where}: Model.Options.{name} is not supported")
        if node.Level != "Run" and options.HighPassFilterCutoffHz is not None:
            raise UsageError(f"{where}: Model.Options.HighPassFilterCutoffHz belongs to the Run node")
    if node.Level != "Run" and node.Model.HRF is not None:
        raise UsageError(f"{where}: Model.HRF belongs to the Run node")
    for contrast in node.Contrasts or ():
        if contrast.Test != "t":
            raise UsageError(f"{where}: contrast {contrast.Name!r}: Test {contrast.Test!r} is not supported "
                             "(fnirs-glm computes t contrasts)")
        if any(isinstance(weight, list) for weight in contrast.Weights):
            raise UsageError(f"{where}: contrast {contrast.Name!r}: a t contrast takes one row of Weights")
        if len(contrast.Weights) != len(contrast.ConditionList):
            raise UsageError(f"{where}: contrast {contrast.Name!r}: {len(contrast.Weights)} Weights for "
                             f"{len(contrast.ConditionList)} ConditionList entries")


def _grouping(node, *, required: set, allowed: set, where: str) -> None:
    grouping = set(node.GroupBy)
    if not required <= grouping <= allowed:
        raise UsageError(f"{where}: GroupBy {node.GroupBy} is not supported: it must hold "
                         f"{', '.join(sorted(required))} (and may hold {', '.join(sorted(allowed - required))})")


def run_node(node, *, where: str) -> tuple[dict, tuple[str, ...] | None, dict]:
    _unsupported(node, where=where)
    _grouping(node, required={"run", "subject"}, allowed=RUN_GROUPING, where=where)
    if node.Model.Type != "glm":
        raise UsageError(f"{where}: Model.Type must be 'glm' at the Run node (got {node.Model.Type!r})")
    variables = list(node.Model.X)
    known = [ALL_CONDITIONS, *SHORT_MEAN, SHORT_ALL, DRIFTS, 1]
    for variable in variables:
        if variable not in known and not (isinstance(variable, str) and variable.startswith(CONDITION_PREFIX)):
            close = closest(str(variable), [str(v) for v in known])
            hint = f"; did you mean {close!r}?" if close else ""
            raise UsageError(f"{where}: Model.X: unknown variable {variable!r}{hint} (fnirs-glm's are "
                             f"{CONDITION_PREFIX}<condition>, {ALL_CONDITIONS}, {', '.join(SHORT_MEAN)}, "
                             f"{SHORT_ALL}, {DRIFTS} and 1)")
    for required, why in ((1, "the intercept"), (DRIFTS, "the cosine drifts")):
        if required not in variables:
            raise UsageError(f"{where}: Model.X must hold {required!r} ({why}, always in fnirs-glm's design)")
    condition_terms = [v for v in variables if isinstance(v, str) and v.startswith(CONDITION_PREFIX)]
    if not condition_terms:
        raise UsageError(f"{where}: Model.X names no condition: add {ALL_CONDITIONS!r} or "
                         f"{CONDITION_PREFIX}<condition> entries")
    if ALL_CONDITIONS in condition_terms and len(condition_terms) > 1:
        raise UsageError(f"{where}: Model.X: {ALL_CONDITIONS!r} already holds every condition; list either it "
                         "or the conditions")
    conditions = None if ALL_CONDITIONS in condition_terms else tuple(
        term.removeprefix(CONDITION_PREFIX) for term in condition_terms)
    values = {"short_regression": _short_regression(variables, where=where)}
    hrf = node.Model.HRF
    if hrf is None:
        raise UsageError(f"{where}: Model.HRF missing: give {{\"Variables\": [the conditions], \"Model\": "
                         "\"glover\"}} (or \"spm\")")
    if hrf.Parameters:
        raise UsageError(f"{where}: Model.HRF.Parameters are not supported")
    if sorted(hrf.Variables) != sorted(condition_terms):
        raise UsageError(f"{where}: Model.HRF.Variables must be the conditions of Model.X "
                         f"({', '.join(condition_terms)}), got {', '.join(hrf.Variables) or 'none'}")
    if hrf.Model not in HRF_CHOICES:
        raise UsageError(f"{where}: Model.HRF.Model {hrf.Model!r} is not supported: choose from "
                         f"{', '.join(HRF_CHOICES)}")
    values["hrf"] = hrf.Model
    if node.Model.Options is not None and node.Model.Options.HighPassFilterCutoffHz is not None:
        values["drift_high_pass"] = node.Model.Options.HighPassFilterCutoffHz
    values.update(_software(node, level="first", where=where))
    dummy = node.DummyContrasts
    if dummy is not None and (dummy.Test != "t" or (dummy.Contrasts is not None
                                                    and sorted(map(str, dummy.Contrasts)) != sorted(condition_terms))):
        raise UsageError(f"{where}: DummyContrasts must be {{\"Test\": \"t\"}} (fnirs-glm tests every condition)")
    contrast_names = {}
    for contrast in node.Contrasts or ():
        expression = _expression(contrast, condition_terms, where=where)
        if expression in contrast_names:
            raise UsageError(f"{where}: contrasts {contrast_names[expression]!r} and {contrast.Name!r} are the "
                             f"same ({expression})")
        contrast_names[expression] = contrast.Name
    if node.Contrasts:
        values["contrast"] = tuple(contrast_names)
    return values, conditions, contrast_names


def _short_regression(variables: list, *, where: str) -> str:
    present = [v for v in (*SHORT_MEAN, SHORT_ALL) if v in variables]
    if not present:
        return "none"
    if present == [SHORT_ALL]:
        return "all"
    if sorted(present) == sorted(SHORT_MEAN):
        return "mean"
    raise UsageError(f"{where}: Model.X: short-channel regressors are {' and '.join(SHORT_MEAN)} together "
                     f"(the means) or {SHORT_ALL} (every good short channel), got {', '.join(present)}")


def _expression(contrast, condition_terms: list, *, where: str) -> str:
    """A run-level contrast as fnirs-glm's expression, e.g. ``Tapping/Left - Tapping/Right``."""
    terms = []
    for variable, weight in zip(contrast.ConditionList, contrast.Weights):
        if not (isinstance(variable, str) and variable.startswith(CONDITION_PREFIX) and variable != ALL_CONDITIONS
                and (variable in condition_terms or ALL_CONDITIONS in condition_terms)):
            raise UsageError(f"{where}: contrast {contrast.Name!r}: {variable!r} is not a condition of Model.X "
                             "(fnirs-glm contrasts conditions)")
        value = _weight(weight, where=f"{where}: contrast {contrast.Name!r}")
        if value == 0:
            continue
        size = "" if abs(value) == 1 else f"{_number(abs(value))}*"
        sign = "-" if value < 0 else "+"
        terms.append(f"{sign} {size}{variable.removeprefix(CONDITION_PREFIX)}")
    if not terms:
        raise UsageError(f"{where}: contrast {contrast.Name!r}: all weights are 0")
    first = terms[0].removeprefix("+ ").replace("- ", "-", 1)
    return " ".join([first, *terms[1:]])


def _number(value: float) -> str:
    """The shortest text of a number that reads back as the same float (2, 0.5, 0.3333333333333333)."""
    return f"{value:g}" if float(f"{value:g}") == value else repr(value)


def _weight(weight, *, where: str) -> float:
    try:
        return float(Fraction(weight)) if isinstance(weight, str) else float(weight)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"{where}: weight {weight!r} is not a number") from None


def _software(node, *, level: str, where: str) -> dict:
    """fnirs-glm's options of ``Model.Software["fnirs-glm"]`` (first- or group-level ones only)."""
    software = node.Model.Software or {}
    for key in software:
        if key != SOFTWARE and closest(key, [SOFTWARE]):
            raise UsageError(f"{where}: Model.Software: unknown key {key!r}; did you mean {SOFTWARE!r}?")
    group_names = [n for n in GROUP_LEVEL_OPTIONS if n not in IN_MODEL]
    names = group_names if level == "group" else [n for n in list(declarations())
                                                  if n not in GROUP_LEVEL_OPTIONS and n not in IN_MODEL]
    values = {}
    for key, value in software.get(SOFTWARE, {}).items():
        name = key.replace("-", "_")
        if name in IN_MODEL:
            raise UsageError(f"{where}: Model.Software.{SOFTWARE}: {key!r} is set by {IN_MODEL[name]}")
        if name not in names:
            other = "Run" if level == "group" else "Dataset"
            close = closest(name, names)
            hint = (f"; it belongs to the {other} node" if name in list(declarations()) else
                    f"; did you mean {close!r}?" if close else f"; known keys: {', '.join(names)}")
            raise UsageError(f"{where}: Model.Software.{SOFTWARE}: unknown option {key!r}{hint}")
        values[name] = tuple(value) if isinstance(value, list) else value
    try:
        check_values(values)
    except UsageError as exc:
        raise UsageError(f"{where}: Model.Software.{SOFTWARE}: {exc}") from None
    except TypeError as exc:
        raise UsageError(f"{where}: Model.Software.{SOFTWARE}: invalid value: {exc}") from None
    return values


def check_subject_node(node, *, method: str, source: str) -> None:
    """random-effects and ols combine a participant's runs by fixed effects (a Subject node); mixedlm does not."""
    if method == "mixedlm":
        if node is not None:
            raise UsageError(f"{source}: node {node.Name!r}: group method mixedlm models a participant's runs as "
                             "repeated observations: remove the Subject node (its Edges go Run -> Dataset)")
        return
    if node is None:
        raise UsageError(f"{source}: group method {method} combines each participant's runs and sessions by "
                         "fixed effects first: add a Subject node (Type meta, X [1], GroupBy [subject, contrast])")
    where = f"{source}: node {node.Name!r}"
    _unsupported(node, where=where)
    _grouping(node, required={"subject", "contrast"}, allowed={"subject", "contrast", "task"}, where=where)
    if node.Model.Type != "meta" or list(node.Model.X) != [1] or node.Model.Software or node.Contrasts:
        raise UsageError(f"{where}: the Subject node must be fixed effects over runs and sessions: Model "
                         "{\"Type\": \"meta\", \"X\": [1]}, no Contrasts, no Software")
    if node.DummyContrasts is not None and (node.DummyContrasts.Test != "pass" or node.DummyContrasts.Contrasts):
        raise UsageError(f"{where}: DummyContrasts must be {{\"Test\": \"pass\"}} (fnirs-glm passes each "
                         "participant's combined estimates on, without tests)")


def dataset_node(node, *, where: str) -> tuple[dict, tuple[GroupContrast, ...]]:
    _unsupported(node, where=where)
    _grouping(node, required={"contrast"}, allowed={"contrast", "task"}, where=where)
    variables = list(node.Model.X)
    if 1 not in variables:
        raise UsageError(f"{where}: Model.X must hold 1 (the group mean; with a categorical column, one mean "
                         "per level)")
    covariates = [v for v in variables if v != 1]
    for column in covariates:
        if any(ch in column for ch in "*?."):
            raise UsageError(f"{where}: Model.X: {column!r} is not supported: name participants.tsv columns "
                             "(a categorical column's levels go in Contrasts, as column.level)")
    values = {"group_covariates": tuple(covariates)} if covariates else {}
    values.update(_software(node, level="group", where=where))
    method = values.get("group_method", "random-effects" if node.Model.Type == "meta" else "ols")
    expected = "meta" if method == "random-effects" else "glm"
    if node.Model.Type != expected:
        raise UsageError(f"{where}: Model.Type {node.Model.Type!r} does not match group method {method} "
                         f"(random-effects is a meta-analysis, Type meta; ols and mixedlm are Type glm)")
    values["group_method"] = method
    dummy = node.DummyContrasts
    if dummy is not None and (dummy.Test != "t" or dummy.Contrasts not in (None, [1])):
        raise UsageError(f"{where}: DummyContrasts must be {{\"Test\": \"t\"}} (the mean of every cell)")
    return values, tuple(_group_contrast(c, covariates, where=where) for c in node.Contrasts or ())


def _group_contrast(contrast, covariates: list, *, where: str) -> GroupContrast:
    """Supported: the mean (1), one covariate's slope, or weights summing to 0 over levels of one column."""
    here = f"{where}: contrast {contrast.Name!r}"
    weights = {term: _weight(w, where=here) for term, w in zip(contrast.ConditionList, contrast.Weights)}
    terms = list(weights)
    if not any(weights.values()):
        raise UsageError(f"{here}: every weight is 0, so it tests nothing")
    levelled = {t.split(".", 1)[0] for t in terms if isinstance(t, str) and "." in t}
    if len(terms) == 1 and weights[terms[0]] == 1 and (terms[0] == 1 or terms[0] in covariates):
        return GroupContrast(name=contrast.Name, weights=weights)
    if (len(levelled) == 1 and all(isinstance(t, str) and "." in t for t in terms)
            and levelled <= set(covariates) and abs(sum(weights.values())) < 1e-9):
        return GroupContrast(name=contrast.Name, weights=weights)
    raise UsageError(f"{here}: not supported: a dataset contrast is ConditionList [1] or [covariate] with "
                     "Weights [1], or column.level terms of one Model.X column whose Weights sum to 0 "
                     "(e.g. [\"group.patient\", \"group.control\"], [1, -1])")


def check_values(values: dict) -> None:
    """Validate option values of either level by their declarations (UsageError, TypeError otherwise)."""
    for cls in LEVELS:
        cls(**{name: value for name, value in values.items() if name in declarations(cls)})
