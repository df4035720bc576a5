"""Contrasts of conditions written as expressions, e.g. "Tapping/Left - Tapping/Right".

Condition names are matched verbatim (longest name first), so they may hold '/', '-' or spaces.
"""

from __future__ import annotations

import re

from bids_app.errors import UsageError

_SIGN = re.compile(r"\s*([+-])?\s*")
_COEFFICIENT = re.compile(r"((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*\*\s*")


def parse_contrast(expression: str, conditions: list[str]) -> dict[str, float]:
    """Weights per condition of ``expression``; raises UsageError naming the bad term."""
    names = sorted(conditions, key=len, reverse=True)
    weights: dict[str, float] = {}
    position, text = 0, expression.strip()
    if not text:
        raise UsageError("empty contrast expression")
    while position < len(text):
        sign_match = _SIGN.match(text, position)
        if position > 0 and not sign_match.group(1):
            raise UsageError(f"contrast {expression!r}: expected + or - at {text[position:]!r}")
        sign = -1.0 if sign_match.group(1) == "-" else 1.0
        position = sign_match.end()
        coefficient_match = _COEFFICIENT.match(text, position)
        coefficient = float(coefficient_match.group(1)) if coefficient_match else 1.0
        position = coefficient_match.end() if coefficient_match else position
        name = next((n for n in names if text.startswith(n, position) and _ends_term(text, position + len(n))),
                    None)
        if name is None:
            term = re.split(r"\s+[+-]\s+", text[position:])[0]
            raise UsageError(
                f"contrast {expression!r}: unknown condition {term!r}; conditions are: "
                + ", ".join(sorted(conditions))
            )
        weights[name] = weights.get(name, 0.0) + sign * coefficient
        position += len(name)
        position = len(text) if not text[position:].strip() else position
    if not any(weights.values()):
        raise UsageError(f"contrast {expression!r}: every weight is 0, so it tests nothing")
    return weights


def _ends_term(text: str, position: int) -> bool:
    """A condition name ends at the end of the text, at white space or at an operator."""
    return position == len(text) or text[position].isspace() or text[position] in "+-"
