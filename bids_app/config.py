"""The one validated configuration object that flows from the command line to every step."""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from bids_app.errors import UsageError

SHORT_REGRESSION_CHOICES = ("none", "mean", "all")
NOISE_MODEL_CHOICES = ("ols", "ar1", "auto", "ar-irls")
HRF_CHOICES = ("glover", "spm")
DESIGN_RATE_CHOICES = ("native", "resampled")
MOTION_CORRECTION_CHOICES = ("none", "tddr")
GROUP_METHOD_CHOICES = ("random-effects", "ols", "mixedlm")
REMOVED_GROUP_METHODS = {
    "summary": "group method 'summary' (DerSimonian-Laird with normal intervals, too many false positives with "
    "few participants) was removed: use random-effects, the default, which also weights participants by their "
    "first-level variance",
}
GROUP_LEVEL_OPTIONS = ("group_method", "group_covariates", "topomap_q_threshold")


@dataclass(frozen=True, kw_only=True)
class AnalysisOptions:
    """Analysis parameters: what may appear in ``--config`` and what changes the numbers."""

    resample_hz: float = 0.6
    short_regression: str = "mean"
    noise_model: str = "auto"
    hrf: str = "glover"
    design_rate: str = "native"
    stim_dur: float | None = None
    drift_high_pass: float = 0.01
    sci_threshold: float | None = None
    psp_threshold: float | None = None
    ppf: float = 6.0
    motion_correction: str = "none"
    roi_file: str | None = None
    contrast: tuple[str, ...] = ()
    fir_window: tuple[float, float] = (-5.0, 30.0)  # see README: a window that ends before the undershoot does biases the peak
    short_channel_max_mm: float = 10.0
    long_channel_min_mm: float = 15.0
    long_channel_max_mm: float = 45.0
    group_method: str = "random-effects"
    group_covariates: tuple[str, ...] = ()
    topomap_q_threshold: float | None = None

    def __post_init__(self):
        _check_choice("short_regression", self.short_regression, SHORT_REGRESSION_CHOICES)
        _check_choice("noise_model", self.noise_model, NOISE_MODEL_CHOICES)
        _check_choice("hrf", self.hrf, HRF_CHOICES)
        _check_choice("design_rate", self.design_rate, DESIGN_RATE_CHOICES)
        _check_choice("motion_correction", self.motion_correction, MOTION_CORRECTION_CHOICES)
        if self.group_method in REMOVED_GROUP_METHODS:
            raise UsageError(REMOVED_GROUP_METHODS[self.group_method])
        _check_choice("group_method", self.group_method, GROUP_METHOD_CHOICES)
        _check_positive("resample_hz", self.resample_hz)
        _check_positive("drift_high_pass", self.drift_high_pass)
        _check_positive("ppf", self.ppf)
        _check_positive("short_channel_max_mm", self.short_channel_max_mm)
        _check_positive("long_channel_min_mm", self.long_channel_min_mm)
        _check_positive("long_channel_max_mm", self.long_channel_max_mm)
        if self.stim_dur is not None and not (_is_number(self.stim_dur) and self.stim_dur >= 0):
            raise UsageError(f"invalid stim_dur {self.stim_dur!r}: give a duration in seconds >= 0")
        if self.sci_threshold is not None and not (
            _is_number(self.sci_threshold) and 0 <= self.sci_threshold <= 1
        ):
            raise UsageError(
                f"invalid sci_threshold {self.sci_threshold!r}: the scalp coupling index lies in [0, 1]"
            )
        if self.psp_threshold is not None and not (_is_number(self.psp_threshold) and self.psp_threshold >= 0):
            raise UsageError(
                f"invalid psp_threshold {self.psp_threshold!r}: the peak spectral power is a number >= 0 "
                "(Pollonini et al. 2016 suggest 0.1)"
            )
        if self.topomap_q_threshold is not None and not (
            _is_number(self.topomap_q_threshold) and 0 < self.topomap_q_threshold <= 1
        ):
            raise UsageError(f"invalid topomap_q_threshold {self.topomap_q_threshold!r}: give a q value in (0, 1]")
        if not self.short_channel_max_mm <= self.long_channel_min_mm < self.long_channel_max_mm:
            raise UsageError(
                "channel distances must satisfy short_channel_max_mm <= long_channel_min_mm < "
                f"long_channel_max_mm (got {self.short_channel_max_mm}, {self.long_channel_min_mm}, "
                f"{self.long_channel_max_mm})"
            )
        if self.roi_file is not None and not isinstance(self.roi_file, str):
            raise UsageError(f"invalid roi_file {self.roi_file!r}: give the path of a JSON file")
        if isinstance(self.group_covariates, str) or not all(isinstance(c, str) for c in self.group_covariates):
            raise UsageError(f"invalid group_covariates {self.group_covariates!r}: give a list of column names")
        object.__setattr__(self, "group_covariates", tuple(self.group_covariates))
        if isinstance(self.contrast, str) or not all(isinstance(c, str) for c in self.contrast):
            raise UsageError(f"invalid contrast {self.contrast!r}: give a list of expressions")
        object.__setattr__(self, "contrast", tuple(self.contrast))
        window = self.fir_window
        if (isinstance(window, str) or not hasattr(window, "__len__") or len(window) != 2
                or not all(_is_number(v) for v in window) or not window[0] < window[1]):
            raise UsageError(f"invalid fir_window {window!r}: give START END in seconds around onset, START < END")
        object.__setattr__(self, "fir_window", tuple(float(v) for v in window))

    def participant_level(self) -> dict:
        """The options that shape the participant-level outputs (recorded with them, compared on reruns)."""
        data = dataclasses.asdict(self)
        data["contrast"] = list(self.contrast)
        data["fir_window"] = list(self.fir_window)
        return {name: value for name, value in data.items() if name not in GROUP_LEVEL_OPTIONS}


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything one invocation needs: paths, selection, execution and analysis options."""

    bids_dir: Path
    output_dir: Path
    analysis_level: str
    participant_label: tuple[str, ...] = ()
    session_label: tuple[str, ...] = ()
    task_label: tuple[str, ...] = ()
    run_label: tuple[str, ...] = ()
    skip_bids_validator: bool = False
    n_cpus: int = 1
    overwrite: bool = False
    verbose: int = 0
    analysis: AnalysisOptions = field(default_factory=AnalysisOptions)

    def __post_init__(self):
        if self.n_cpus < 1:
            raise UsageError(f"invalid --n_cpus {self.n_cpus}: give a number of processes >= 1")

    def to_dict(self) -> dict:
        """A JSON-ready record of the resolved configuration (for logs/)."""
        data = dataclasses.asdict(self)
        data["bids_dir"] = str(self.bids_dir)
        data["output_dir"] = str(self.output_dir)
        return data


def analysis_option_names() -> list[str]:
    return [f.name for f in dataclasses.fields(AnalysisOptions)]


def read_json_file(path: str | Path, *, what: str):
    """The content of a user-given JSON file; UsageError naming the file when it cannot be read."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a readable JSON file ({exc})") from None


def load_config_file(path: Path) -> dict:
    """Read a ``--config`` JSON file into analysis option values (keys with - or _ alike)."""
    raw = read_json_file(path, what="configuration file")
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: the configuration must be a JSON object of option: value")
    known = analysis_option_names()
    values = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in known:
            close = closest(name, known)
            hint = f"; did you mean {close!r}?" if close else f"; known keys: {', '.join(known)}"
            raise UsageError(f"{path}: unknown configuration key {key!r}{hint}")
        values[name] = tuple(value) if name in ("contrast", "fir_window") and isinstance(value, list) else value
    return values


def closest(word: str, candidates) -> str | None:
    """The candidate closest to a misspelt ``word`` (ignoring case and leading dashes), or None."""
    bare = {str(candidate).lstrip("-").lower(): str(candidate) for candidate in candidates}
    close = difflib.get_close_matches(word.lstrip("-").lower(), list(bare), n=1, cutoff=0.6)
    return bare[close[0]] if close else None


def build_analysis_options(*, file_values: dict, flag_values: dict) -> AnalysisOptions:
    """Merge configuration-file values with command-line flags (flags win) and validate."""
    merged = {**file_values, **{k: v for k, v in flag_values.items() if v is not None}}
    try:
        return AnalysisOptions(**merged)
    except TypeError as exc:  # a value of the wrong type, e.g. a string for a number
        raise UsageError(f"invalid configuration value: {exc}") from None


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise UsageError(f"invalid {name} {value!r}: choose from {', '.join(choices)}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_positive(name: str, value) -> None:
    if not (_is_number(value) and value > 0):
        raise UsageError(f"invalid {name} {value!r}: give a number > 0")
