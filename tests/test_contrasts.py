"""Contrast expressions (bids_app.first_level.contrasts.parse_contrast): weights per condition, condition names
matched verbatim (longest first), and one-line errors naming the bad term."""

import pytest

from bids_app.errors import UsageError
from bids_app.first_level.contrasts import parse_contrast

CONDITIONS = ["Tapping/Left", "Tapping/Right", "Control", "A-B"]


@pytest.mark.parametrize("expression, weights", [
    ("Tapping/Left - Tapping/Right", {"Tapping/Left": 1.0, "Tapping/Right": -1.0}),
    ("0.5*Tapping/Left + 0.5 * Tapping/Right - Control",
     {"Tapping/Left": 0.5, "Tapping/Right": 0.5, "Control": -1.0}),
    ("A-B - Control", {"A-B": 1.0, "Control": -1.0}),
    ("-Control + 1e-1*Control", {"Control": -0.9}),
])
def test_contrast_expressions(expression, weights):
    assert parse_contrast(expression, CONDITIONS) == pytest.approx(weights)


@pytest.mark.parametrize("expression, message", [
    ("Tapping/Left - Foo", "unknown condition 'Foo'; conditions are: A-B, Control"),
    ("Tapping/Left Control", "expected \\+ or -"),
    ("  ", "empty contrast"),
])
def test_bad_contrasts_are_named(expression, message):
    with pytest.raises(UsageError, match=message):
        parse_contrast(expression, CONDITIONS)


def test_condition_names_match_only_whole_terms():
    with pytest.raises(UsageError, match="unknown condition 'Tapping/Left'"):
        parse_contrast("Tapping/Left - Control", ["Tapping", "Control"])


@pytest.mark.parametrize("expression, weights", [
    ("+Control", {"Control": 1.0}),
    (".5*A-B + 2 * Control", {"A-B": 0.5, "Control": 2.0}),
    ("1e3*Control", {"Control": 1000.0}),
    ("3*Control - 2*Control", {"Control": 1.0}),
    ("Tapping/Left+Control-Tapping/Right", {"Tapping/Left": 1.0, "Control": 1.0, "Tapping/Right": -1.0}),
])
def test_coefficients_signs_and_repeated_conditions(expression, weights):
    assert parse_contrast(expression, CONDITIONS) == pytest.approx(weights)


def test_the_longest_condition_name_is_matched_first():
    conditions = ["A", "A B", "B", "x-y"]
    assert parse_contrast("A B - A", conditions) == {"A B": 1.0, "A": -1.0}
    assert parse_contrast("x-y-A", conditions) == {"x-y": 1.0, "A": -1.0}
    assert parse_contrast("A-B", conditions) == {"A": 1.0, "B": -1.0}


@pytest.mark.parametrize("expression, message", [
    ("Control -", "unknown condition ''"),
    ("Control - - A-B", "unknown condition '- A-B'"),
    ("Control*2", "unknown condition 'Control\\*2'"),
    ("2 Control", "unknown condition '2 Control'"),
    ("Control  Control", "expected \\+ or - at '  Control'"),
])
def test_malformed_terms_are_named(expression, message):
    with pytest.raises(UsageError, match=message) as info:
        parse_contrast(expression, CONDITIONS)
    assert str(info.value).startswith(f"contrast {expression!r}: ") and "\n" not in str(info.value)


@pytest.mark.parametrize("expression", ["Control - Control", "0*Control"])
def test_a_contrast_with_all_weights_zero_is_refused(expression):
    with pytest.raises(UsageError, match="every weight is 0"):
        parse_contrast(expression, CONDITIONS)
