"""The one validated configuration object that flows from the command line to every step."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bids_app.errors import UsageError
from bids_app.options import LEVELS, FirstLevelOptions, GroupOptions, declarations
from bids_app.user_files import closest, read_json_file

if TYPE_CHECKING:
    from bids_app.model import StatsModel


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
    first_level: FirstLevelOptions = field(default_factory=FirstLevelOptions)
    group: GroupOptions = field(default_factory=GroupOptions)
    ignored_options: tuple[str, ...] = ()  # given, but of the other level: no effect here (a warning says so)
    model_file: Path | None = None  # --model
    model: StatsModel | None = None  # what it says; its option values are already in first_level and group

    def __post_init__(self):
        if self.n_cpus < 1:
            raise UsageError(f"invalid --n_cpus {self.n_cpus}: give a number of processes >= 1")

    def to_dict(self) -> dict:
        """A JSON-ready record of the resolved configuration (for logs/)."""
        data = dataclasses.asdict(dataclasses.replace(self, model=None))
        del data["model"]  # its file is model_file, and the model used is written beside the run log
        data["bids_dir"] = str(self.bids_dir)
        data["output_dir"] = str(self.output_dir)
        data["model_file"] = str(self.model_file) if self.model_file else None
        return data


def load_config_file(path: Path) -> dict:
    """Read a ``--config`` JSON file into option values by name (keys with - or _ alike)."""
    raw = read_json_file(path, what="configuration file")
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: the configuration must be a JSON object of option: value")
    known = list(declarations())
    values = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in known:
            close = closest(name, known)
            hint = f"; did you mean {close!r}?" if close else f"; known keys: {', '.join(known)}"
            raise UsageError(f"{path}: unknown configuration key {key!r}{hint}")
        values[name] = value
    return values


def build_options(values: dict) -> tuple[FirstLevelOptions, GroupOptions]:
    """The validated options of both levels from option values by name (configuration file, then flags)."""
    try:
        first_level, group = (cls(**{name: value for name, value in values.items() if name in declarations(cls)})
                              for cls in LEVELS)
    except TypeError as exc:  # a value of the wrong type, e.g. a string for a number
        raise UsageError(f"invalid configuration value: {exc}") from None
    return first_level, group
