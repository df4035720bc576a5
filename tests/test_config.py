"""Command-line parsing and the configuration file (contrast expressions: tests/test_contrasts.py)."""

import json
import re
from pathlib import Path

import pytest

from bids_app.cli import build_parser, main, parse_args
from bids_app.errors import UsageError
from bids_app.options import LEVELS, FirstLevelOptions, GroupOptions, declarations

DESCRIPTOR = Path(__file__).resolve().parents[1] / "boutiques" / "fnirs-glm.json"


def test_labels_lose_prefixes_and_duplicates(tmp_path):
    config = parse_args(["in", "out", "participant", "--participant_label", "sub-01", "01", "02",
                         "--session-label", "ses-1", "--task", "task-tapping", "--run_label", "run-1"])
    assert config.participant_label == ("01", "02")
    assert config.session_label == ("1",)
    assert config.task_label == ("tapping",)
    assert config.run_label == ("1",)


def test_defaults_are_the_documented_ones():
    """Every option's default is the one the README's option table (and the paragraph on the config-only
    options) states: read from the README, not restated here."""
    from dataclasses import fields

    from tests.helpers import REPO

    readme = (REPO / "README.md").read_text()
    config = parse_args(["in", "out", "participant"])
    assert (config.first_level, config.group) == (FirstLevelOptions(), GroupOptions())
    documented = {}
    for flag, default in re.findall(r"^\| `--([a-z-]+)[^|]*\| ([^|]*) \|", readme, flags=re.MULTILINE):
        documented[flag.replace("-", "_")] = default.strip()
    checked = []
    for options in (config.first_level, config.group):
        for field in fields(options):
            value = getattr(options, field.name)
            if field.name.endswith("_mm"):
                continue
            text = documented[field.name]
            if value is None or value == ():
                assert text in ("off", "none", "each event's own", "see below"), (field.name, text)
            elif isinstance(value, tuple):
                assert text == " ".join(f"{v:g}" for v in value), (field.name, text)
            elif isinstance(value, float):
                assert float(text) == value, (field.name, text)
            else:
                assert text == value, (field.name, text)
            checked.append(field.name)
    assert len(checked) >= 17
    options = config.first_level
    config_only = re.search(r"`short_channel_max_mm` \((\d+):.*?`long_channel_min_mm` and `long_channel_max_mm` "
                            r"\((\d+) and (\d+):", readme, flags=re.DOTALL)
    assert tuple(map(float, config_only.groups())) == (
        options.short_channel_max_mm, options.long_channel_min_mm, options.long_channel_max_mm)


def test_flags_override_the_config_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"noise-model": "ols", "resample_hz": 0.3, "contrast": ["A - B"]}))
    options = parse_args(["in", "out", "participant", "--config", str(path), "--noise-model", "auto"]).first_level
    assert (options.noise_model, options.resample_hz, options.contrast) == ("auto", 0.3, ("A - B",))


# --- one declaration per option: parser, validation, --config keys and Boutiques derived from it ----------

INVALID = {  # an invalid value of every option and the error it has always given
    "resample_hz": (-1, "invalid resample_hz -1: give a number > 0"),
    "short_regression": ("some", "invalid short_regression 'some': choose from none, mean, all"),
    "noise_model": ("ar2", "invalid noise_model 'ar2': choose from ols, ar1, auto, ar-irls"),
    "ar_bias_correction": ("fmristat", "invalid ar_bias_correction 'fmristat': choose from none, worsley"),
    "hrf": ("canonical", "invalid hrf 'canonical': choose from glover, spm"),
    "design_rate": ("fast", "invalid design_rate 'fast': choose from native, resampled"),
    "resample_method": ("fft", "invalid resample_method 'fft': choose from polyphase, mne"),
    "bad_segments": ("all", "invalid bad_segments 'all': choose from auto, annotations, none"),
    "stim_dur": (-1, "invalid stim_dur -1: give a duration in seconds >= 0"),
    "drift_high_pass": (0, "invalid drift_high_pass 0: give a number > 0"),
    "sci_threshold": (2, "invalid sci_threshold 2: the scalp coupling index lies in [0, 1]"),
    "psp_threshold": (-0.1, ("invalid psp_threshold -0.1: the peak spectral power is a number >= 0 "
                             "(Pollonini et al. 2016 suggest 0.1)")),
    "ppf": (True, "invalid ppf True: give a number > 0"),
    "motion_correction": ("spline", "invalid motion_correction 'spline': choose from none, tddr, level-shifts"),
    "atlas": ("harvard_oxford", "invalid atlas 'harvard_oxford': choose from aal, aicha, desikan_killiany, destrieux, "
              "marsatlas, neuromorphometrics, talairach_ba, talairach_gyrus, none"),
    "roi_file": (5, "invalid roi_file 5: give the path of a JSON file"),
    "contrast": ("A - B", "invalid contrast 'A - B': give a list of expressions"),
    "fir_window": ([5, -5], "invalid fir_window [5, -5]: give START END in seconds around onset, START < END"),
    "short_channel_max_mm": (-1, "invalid short_channel_max_mm -1: give a number > 0"),
    "long_channel_min_mm": ("15", "invalid long_channel_min_mm '15': give a number > 0"),
    "long_channel_max_mm": (10, ("channel distances must satisfy short_channel_max_mm <= long_channel_min_mm "
                                 "< long_channel_max_mm (got 10.0, 15.0, 10)")),
    "group_method": ("meta", "invalid group_method 'meta': choose from random-effects, ols, mixedlm"),
    "group_covariates": ("age", "invalid group_covariates 'age': give a list of column names"),
    "topomap_q_threshold": (0, "invalid topomap_q_threshold 0: give a q value in (0, 1]"),
}
SUMMARY_REMOVED = ("group method 'summary' (DerSimonian-Laird with normal intervals, too many false positives with "
                   "few participants) was removed: use random-effects, the default, which also weights "
                   "participants by their first-level variance")


def _options_of(config, name):
    """The value of option ``name`` in a Config, from the options of its level."""
    level = next(cls for cls in LEVELS if name in declarations(cls))
    return getattr(config.first_level if level is FirstLevelOptions else config.group, name)


def _config_file(tmp_path, values: dict) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    return str(path)


def test_every_option_is_declared_once_at_one_level():
    names = [name for cls in LEVELS for name in declarations(cls)]
    assert len(names) == len(set(names)) and set(names) == set(INVALID)
    assert set(declarations(GroupOptions)) == {"group_method", "group_covariates", "topomap_q_threshold"}


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_value_gets_its_message(tmp_path, name):
    value, message = INVALID[name]
    with pytest.raises(UsageError) as info:
        parse_args(["in", "out", "participant", "--config", _config_file(tmp_path, {name: value})])
    assert str(info.value) == message


@pytest.mark.parametrize("argv", [["--group-method", "summary"], ["--group_method=summary"]])
def test_removed_group_method_says_what_replaced_it(tmp_path, argv):
    with pytest.raises(UsageError) as info:
        parse_args(["in", "out", "group", *argv])
    assert str(info.value) == SUMMARY_REMOVED
    with pytest.raises(UsageError) as info:
        parse_args(["in", "out", "group", "--config", _config_file(tmp_path, {"group-method": "summary"})])
    assert str(info.value) == SUMMARY_REMOVED


@pytest.mark.parametrize("name", list(INVALID))
def test_parser_config_file_and_descriptor_agree(tmp_path, name):
    spec = declarations()[name]
    default = _options_of(parse_args(["in", "out", "participant"]), name)
    # the --config key, with - or _, gives the value the option's own default has
    from_file = parse_args(["in", "out", "participant", "--config",
                            _config_file(tmp_path, {name.replace("_", "-"): spec.default})])
    assert _options_of(from_file, name) == default
    actions = {a.dest: a for a in build_parser()._actions}
    inputs = {i["id"]: i for i in json.loads(DESCRIPTOR.read_text())["inputs"]}
    if not spec.flag:  # an option only of the configuration file
        assert name not in actions and name not in inputs
        return
    action, entry = actions[name], inputs[name]
    assert action.option_strings == list(dict.fromkeys([f"--{name.replace('_', '-')}", f"--{name}"]))
    assert action.default is None  # so that a flag left out leaves the configuration file's value
    assert tuple(action.choices or ()) == spec.choices
    if default not in (None, ()):
        shown = " ".join(f"{v:g}" for v in default) if isinstance(default, tuple) else str(default)
        assert action.help.endswith(f"(default: {shown})")
    assert entry["command-line-flag"] == action.option_strings[0]
    assert entry["description"] == " ".join(action.help.split())
    assert entry.get("value-choices", []) == list(spec.choices)
    assert entry["type"] == {float: "Number", str: "File" if name.endswith("_file") else "String"}[spec.type]
    assert entry.get("list", False) == isinstance(default, tuple)


def test_option_of_the_other_level_has_no_effect_and_a_warning(tmp_path, capsys):
    plain = parse_args(["in", "out", "participant"])
    config = parse_args(["in", "out", "participant", "--topomap-q-threshold", "0.05", "--group_method", "ols"])
    assert config.first_level == plain.first_level
    assert config.first_level.participant_level() == plain.first_level.participant_level()
    assert config.ignored_options == ("--group-method", "--topomap-q-threshold")
    path = _config_file(tmp_path, {"noise_model": "ar1", "group_method": "ols"})
    config = parse_args(["in", "out", "group", "--config", path, "--contrast", "A - B"])
    assert config.group.group_method == "ols"
    assert config.ignored_options == (f"noise_model (in {path})", "--contrast")
    assert parse_args(["in", "out", "group", "--group-method", "ols"]).ignored_options == ()
    # one warning line, before anything is read (here the input is missing: a usage error follows)
    assert main([str(tmp_path / "missing"), str(tmp_path / "out"), "participant", "--group-method", "ols"]) == 2
    warnings = [line for line in capsys.readouterr().err.splitlines() if "WARNING" in line]
    assert warnings == [("fnirs-glm: WARNING: no effect at the participant level (options of the other level): "
                         "--group-method")]


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
