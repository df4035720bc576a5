"""brainlife.io entry point: turn the ``config.json`` of a brainlife job into a fnirs-glm command line.

The repository's top-level ``main`` runs ``python3 -m bids_app.brainlife`` in the job directory, which reads
``config.json`` there and replaces itself with the app's usual entry point (``python3 /app/run.py`` in the
container, or the command in ``$FNIRS_GLM_CMD``, split on white space) followed by the arguments:

- ``bids``: the input BIDS directory (required); ``output``: the output directory (default ``output``);
  ``analysis_level``: ``participant`` (default) or ``group``;
- any option of the command line by its name with ``_`` (``participant_label``, ``noise_model``,
  ``contrast``, ``n_cpus``, ...): ``true`` gives a flag and ``false`` leaves it out; a list gives several
  values (a string is split on white space for the multi-value options, except ``contrast``, where a string
  is one contrast); numbers as they are;
- empty strings, ``null`` and empty lists are ignored (brainlife sends unset fields so), and so are the keys
  brainlife adds itself (those that start with ``_``); any other key is an error naming it.

``python3 -m bids_app.brainlife [CONFIG] --dry-run`` prints the command instead of running it.
Only the standard library is used, so this runs with any Python >= 3.11 from a clone of the repository.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shlex
import sys
from pathlib import Path

from bids_app.cli import build_parser
from bids_app.options import declarations

DEFAULT_COMMAND = "python3 /app/run.py"
POSITIONAL_KEYS = {"bids": "bids_dir", "output": "output_dir", "analysis_level": "analysis_level"}
DEFAULTS = {"output": "output", "analysis_level": "participant"}
NOT_KEYS = {"help", "version"}


class ConfigError(ValueError):
    """An invalid config.json: the message is one line that names the key."""


def _options() -> dict[str, argparse.Action]:
    """The command line's optional arguments by their dest name."""
    return {
        action.dest: action
        for action in build_parser()._actions
        if action.option_strings and action.dest not in NOT_KEYS
    }


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _scalar(key: str, value) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"config.json: {key!r} must be a string or a number, not {json.dumps(value)}")
    return str(value)


def _option_argv(key: str, action: argparse.Action, value) -> list[str]:
    flag = next((s for s in action.option_strings if s.startswith("--")), action.option_strings[0])
    if action.nargs == 0:  # store_true; count (-v): true or a number of times
        if isinstance(action, argparse._CountAction) and type(value) is int and value >= 0:
            return [flag] * value
        if not isinstance(value, bool):
            raise ConfigError(f"config.json: {key!r} is a flag: give true or false, not {json.dumps(value)}")
        return [flag] if value else []
    if isinstance(action, argparse._AppendAction):  # repeatable: one flag per value
        values = value if isinstance(value, list) else [value]
        return [arg for item in values if not _is_empty(item) for arg in (flag, _scalar(key, item))]
    if action.nargs in ("+", "*") or isinstance(action.nargs, int):  # a list, or values separated by spaces
        values = value.split() if isinstance(value, str) else value
        if not isinstance(values, list):
            values = [values]
        values = [_scalar(key, item) for item in values if not _is_empty(item)]
        if isinstance(action.nargs, int) and values and len(values) != action.nargs:
            raise ConfigError(f"config.json: {key!r} takes {action.nargs} values, e.g. "
                              f"{json.dumps(' '.join(action.metavar or ()))}; got {json.dumps(value)}")
        return [flag, *values] if values else []
    return [flag, _scalar(key, value)]


def _unknown(key: str, known: list[str]) -> ConfigError:
    if key in declarations() and not declarations()[key].flag:
        return ConfigError(f"config.json: {key!r} is only a --config file option: write it in a JSON file "
                           f"and give that file's path as \"config\"")
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
    return ConfigError(f"config.json: unknown key {key!r}{hint}")


def config_to_argv(config: dict) -> list[str]:
    """The fnirs-glm arguments (without the program) for a brainlife ``config.json`` object."""
    if not isinstance(config, dict):
        raise ConfigError("config.json: not a JSON object of key: value")
    options = _options()
    known = [*POSITIONAL_KEYS, *options]
    values, seen = dict(DEFAULTS), {}
    for key, value in config.items():
        if key.startswith("_"):  # brainlife's own keys (_app, _tid, _inputs, _outputs, ...)
            continue
        name = key.replace("-", "_")
        if name in POSITIONAL_KEYS.values() and name not in POSITIONAL_KEYS:
            name = next(k for k, dest in POSITIONAL_KEYS.items() if dest == name)  # bids_dir -> bids
        if name not in known:
            raise _unknown(key, known)
        if name in seen:
            raise ConfigError(f"config.json: {key!r} repeats {seen[name]!r} (the same option)")
        seen[name] = key
        if not _is_empty(value):
            values[name] = value
    if "bids" not in values:
        raise ConfigError('config.json: missing key "bids" (the input BIDS directory)')
    argv = [_scalar(key, values[key]) for key in POSITIONAL_KEYS]
    for name, action in options.items():
        if name in values:
            argv += _option_argv(name, action, values[name])
    return argv


def command(config: dict, environ=os.environ) -> list[str]:
    """The whole command line: the entry point ($FNIRS_GLM_CMD or python3 /app/run.py), then the arguments."""
    entry = shlex.split(environ.get("FNIRS_GLM_CMD") or DEFAULT_COMMAND)
    return entry + config_to_argv(config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m bids_app.brainlife",
        description="Run fnirs-glm with the arguments of a brainlife config.json.",
    )
    parser.add_argument("config", nargs="?", default="config.json", type=Path,
                        help="the job's configuration (default: config.json in the current directory)")
    parser.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    args = parser.parse_args(argv)
    try:
        config = json.loads(args.config.read_text())
        cmd = command(config)
    except FileNotFoundError:
        print(f"fnirs-glm brainlife: error: {args.config} not found", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"fnirs-glm brainlife: error: {args.config}: not a readable JSON file ({exc})", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"fnirs-glm brainlife: error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(shlex.join(cmd))
        return 0
    print(f"fnirs-glm brainlife: {shlex.join(cmd)}", file=sys.stderr, flush=True)
    try:
        os.execvp(cmd[0], cmd)
    except OSError as exc:
        print(f"fnirs-glm brainlife: error: cannot run {cmd[0]}: {exc}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
