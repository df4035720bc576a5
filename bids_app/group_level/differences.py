"""Between-level rows of a categorical covariate: which weighted sums of the level means the group tables
hold. By default each level minus the first (sorted) one; a BIDS Stats Model's Dataset node can ask for its own
(``patient - control``, ``control - patient``, ``0.5*a + 0.5*b - c``)."""

from __future__ import annotations

Difference = tuple[str, dict[str, float]]  # (the row's label in the covariate's column, level -> weight)


def default_differences(levels: list[str]) -> list[Difference]:
    """``<level> - <first level>`` for every level after the first."""
    return [(f"{level} - {levels[0]}", {level: 1.0, levels[0]: -1.0}) for level in levels[1:]]


def difference_label(weights: dict[str, float]) -> str:
    """The row label of a weighted sum of levels, positive weights first: ``patient - control``,
    ``0.5*a + 0.5*b - c``."""
    terms = []
    for level, weight in sorted(weights.items(), key=lambda item: item[1] < 0):
        if weight == 0:
            continue
        size = "" if abs(weight) == 1 else f"{abs(weight):g}*"
        terms.append(f"{'-' if weight < 0 else '+'} {size}{level}")
    first = terms[0].removeprefix("+ ").replace("- ", "-", 1)
    return " ".join([first, *terms[1:]])
