"""Command-line parsing, the configuration file, and contrast expressions."""

import json
import re

import pytest

from bids_app.cli import parse_args
from bids_app.config import AnalysisOptions
from bids_app.errors import UsageError
from bids_app.first_level.contrasts import parse_contrast


def test_labels_lose_prefixes_and_duplicates(tmp_path):
    config = parse_args(["in", "out", "participant", "--participant_label", "sub-01", "01", "02",
                         "--session-label", "ses-1", "--task", "task-tapping", "--run_label", "run-1"])
    assert config.participant_label == ("01", "02")
    assert config.session_label == ("1",)
    assert config.task_label == ("tapping",)
    assert config.run_label == ("1",)


def test_defaults_are_the_documented_ones():
    options = parse_args(["in", "out", "participant"]).analysis
    assert options == AnalysisOptions()
    assert (options.resample_hz, options.short_regression, options.noise_model, options.hrf) == (
        0.6, "mean", "auto", "glover")
    assert (options.stim_dur, options.drift_high_pass, options.sci_threshold, options.psp_threshold, options.ppf) == (
        None, 0.01, None, None, 6.0)


def test_flags_override_the_config_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"noise-model": "ols", "resample_hz": 0.3, "contrast": ["A - B"]}))
    options = parse_args(["in", "out", "participant", "--config", str(path), "--noise-model", "auto"]).analysis
    assert (options.noise_model, options.resample_hz, options.contrast) == ("auto", 0.3, ("A - B",))


@pytest.mark.parametrize("content, message", [
    ({"noise_modle": "ar1"}, "did you mean 'noise_model'"),
    ({"resample_hz": -1}, "invalid resample_hz -1"),
    ({"resample_hz": "fast"}, "invalid resample_hz 'fast'"),
    ({"hrf": "canonical"}, "choose from glover, spm"),
    ({"sci_threshold": 2}, "invalid sci_threshold 2"),
    ({"psp_threshold": -0.1}, "invalid psp_threshold -0.1"),
    ({"psp_threshold": "0.1"}, "invalid psp_threshold '0.1'"),
    ({"stim_dur": "5"}, "invalid stim_dur '5'"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_configuration_is_named(tmp_path, content, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    with pytest.raises(UsageError, match=message):
        parse_args(["in", "out", "participant", "--config", str(path)])


def test_n_cpus_must_be_positive():
    with pytest.raises(UsageError, match="--n_cpus 0"):
        parse_args(["in", "out", "participant", "--n_cpus", "0"])


def test_n_cpus_follows_slurm_cpus_per_task_unless_given(monkeypatch):
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    assert parse_args(["in", "out", "participant"]).n_cpus == 1
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "3")
    assert parse_args(["in", "out", "participant"]).n_cpus == 3
    assert parse_args(["in", "out", "participant", "--n_cpus", "1"]).n_cpus == 1
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "")
    assert parse_args(["in", "out", "participant"]).n_cpus == 1
    for value in ("0", "two", "2(x2)"):
        monkeypatch.setenv("SLURM_CPUS_PER_TASK", value)
        with pytest.raises(UsageError, match=rf"SLURM_CPUS_PER_TASK='{re.escape(value)}' is not a number"):
            parse_args(["in", "out", "participant"])
        assert parse_args(["in", "out", "participant", "--n_cpus", "2"]).n_cpus == 2


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
