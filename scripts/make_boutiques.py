#!/usr/bin/env python3
"""Write the Boutiques descriptor of fnirs-glm, ``boutiques/fnirs-glm.json``, from the real parser.

    python scripts/make_boutiques.py           # (re)write boutiques/fnirs-glm.json
    python scripts/make_boutiques.py --check   # exit 1 if the committed file is out of date

Every option of ``bids_app.cli.build_parser()`` becomes one input (``--help`` and ``--version`` excepted);
the analysis options come from their declarations in ``bids_app/options.py``. Run this after adding or
changing an option; ``tests/test_platforms.py`` fails until you do.
The descriptor follows Boutiques' BIDS App convention (``bosh validate --bids``): the command line starts
``mkdir -p [OUTPUT_DIR]; python /app/run.py [BIDS_DIR] [OUTPUT_DIR] [ANALYSIS_LEVEL] [PARTICIPANT_LABEL]
[SESSION_LABEL]``, and the output directory is two alternative inputs with the value-key ``[OUTPUT_DIR]``
(a name to create for the participant level, an existing directory for the group level).
Only the standard library and ``bids_app.cli`` (itself standard library only) are used.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DESCRIPTOR = REPO / "boutiques" / "fnirs-glm.json"
ENTRY_POINT = "python /app/run.py"  # the image's ENTRYPOINT; Boutiques runs the command line with /bin/sh
# Boutiques' BIDS App template: these come first, in this order, after the positionals.
BIDS_APP_OPTIONS = ("participant_label", "session_label")

POSITIONALS = {
    "bids_dir": {
        "name": "BIDS directory",
        "type": "File",
        "description": "The input dataset formatted according to the BIDS standard (never written to).",
    },
    "output_dir": {
        "name": "Output directory name",
        "type": "String",
        "description": "The directory where the derivatives are written (participant level); created if "
        "missing.",
        "optional": True,
    },
    "analysis_level": {
        "name": "Analysis level",
        "type": "String",
        "description": "participant: one first-level GLM per recording (participants can run independently, "
        "in parallel); group: aggregate the participant-level outputs found in the output directory.",
    },
}
# The BIDS App convention's second [OUTPUT_DIR] input and the group that makes the two alternatives.
GROUP_LEVEL_DIR = {
    "id": "participant_level_analysis_dir",
    "name": "Participant-level output directory",
    "type": "File",
    "description": "For the group level: the output directory of the participant-level analyses.",
    "value-key": "[OUTPUT_DIR]",
    "optional": True,
}
OUTPUT_GROUP = {
    "id": "output_directory",
    "name": "Output directory",
    "description": "A directory name for the participant level, or the participant-level output directory "
    "for the group level.",
    "members": ["output_dir", "participant_level_analysis_dir"],
    "mutually-exclusive": True,
    "one-is-required": True,
}
OUTPUT_FILES = [
    {
        "id": "derivatives",
        "name": "Derivatives",
        "description": "The BIDS-Derivatives dataset: per-recording design, channel, ROI, contrast and QC "
        "tables (participant level), group tables per task (group level), and logs/.",
        "path-template": "[OUTPUT_DIR]",
        "optional": False,
    }
]
SUGGESTED_RESOURCES = {"cpu-cores": 1, "ram": 2, "walltime-estimate": 1800}
TAGS = {
    "domain": ["neuroinformatics", "fnirs", "bids"],
    "application-type": "bids-app",
    "method": ["glm", "mixed-effects"],
}
ERROR_CODES = [
    {"code": 1, "description": "one or more recordings failed (the others were analysed and written)"},
    {"code": 2, "description": "usage error, found before anything was analysed"},
]


KEY_ORDER = ("id", "name", "type", "description", "value-key", "command-line-flag", "optional", "integer",
             "value-choices", "list", "list-separator", "min-list-entries", "max-list-entries")


class UnsupportedOption(Exception):
    pass


def ordered(entry: dict) -> dict:
    """The same input with its keys in one fixed order, for a readable descriptor."""
    return {key: entry[key] for key in sorted(entry, key=KEY_ORDER.index)}


WORDS = {"n": "number of", "cpus": "CPUs", "hz": "(Hz)", "hrf": "HRF", "ppf": "PPF", "roi": "ROI",
         "sci": "SCI", "psp": "PSP", "bids": "BIDS", "q": "q", "dur": "duration", "ar": "AR"}


def input_name(dest: str) -> str:
    words = [WORDS.get(word, word) for word in dest.split("_")]
    text = " ".join(words)
    return text[0].upper() + text[1:]


def value_key(dest: str) -> str:
    return f"[{dest.upper()}]"


def long_flag(action: argparse.Action) -> str:
    longs = [s for s in action.option_strings if s.startswith("--")]
    return longs[0] if longs else action.option_strings[0]


def help_text(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = action.help or ""
    if "%" in text:
        text = parser._get_formatter()._expand_help(action)
    return " ".join(text.split())


def describe_option(parser: argparse.ArgumentParser, action: argparse.Action) -> dict:
    """One Boutiques input for one optional argument of the parser."""
    flag = long_flag(action)
    entry = {
        "id": action.dest,
        "name": input_name(action.dest),
        "description": help_text(parser, action),
        "value-key": value_key(action.dest),
        "command-line-flag": flag,
        "optional": not action.required,
    }
    kind = type(action).__name__
    if kind in ("_StoreTrueAction", "_StoreFalseAction", "_StoreConstAction", "_CountAction",
                "BooleanOptionalAction"):
        entry["type"] = "Flag"
        return ordered(entry)
    if kind not in ("_StoreAction", "_AppendAction"):
        raise UnsupportedOption(f"{flag}: action {kind}")
    if action.type is int:
        entry["type"], entry["integer"] = "Number", True
    elif action.type is float:
        entry["type"], entry["integer"] = "Number", False
    elif action.type is Path or action.dest.endswith("_file"):
        entry["type"] = "File"
    elif action.type in (None, str):
        entry["type"] = "String"
    else:
        raise UnsupportedOption(f"{flag}: type {action.type!r}")
    if action.choices is not None:
        entry["value-choices"] = list(action.choices)
    if kind == "_AppendAction":  # repeatable flag: "--contrast A --contrast B"
        if action.nargs is not None:
            raise UnsupportedOption(f"{flag}: append with nargs={action.nargs!r}")
        entry["list"] = True
        entry["list-separator"] = f" {flag} "
    elif action.nargs in ("+", "*"):
        entry["list"] = True
        if action.nargs == "+":
            entry["min-list-entries"] = 1
    elif isinstance(action.nargs, int) and action.nargs > 1:
        entry.update({"list": True, "min-list-entries": action.nargs, "max-list-entries": action.nargs})
    elif action.nargs not in (None, 1):
        raise UnsupportedOption(f"{flag}: nargs={action.nargs!r}")
    return ordered(entry)


def describe_positional(action: argparse.Action) -> dict:
    if action.dest not in POSITIONALS:
        raise UnsupportedOption(f"positional argument {action.dest}: not one of the BIDS App's")
    entry = {"id": action.dest, **POSITIONALS[action.dest], "value-key": value_key(action.dest)}
    entry.setdefault("optional", False)
    if action.choices is not None:
        entry["value-choices"] = list(action.choices)
    return ordered(entry)


def build_descriptor() -> dict:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from bids_app.cli import build_parser

    parser = build_parser()
    version = (REPO / "version").read_text().strip()
    positionals, options = [], []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        if action.option_strings:
            options.append(describe_option(parser, action))
        else:
            positionals.append(describe_positional(action))
    if [p["id"] for p in positionals] != list(POSITIONALS):
        raise UnsupportedOption(f"positional arguments {[p['id'] for p in positionals]}, expected "
                                f"{list(POSITIONALS)}")
    first = [o for name in BIDS_APP_OPTIONS for o in options if o["id"] == name]
    if len(first) != len(BIDS_APP_OPTIONS):
        raise UnsupportedOption(f"the BIDS App options {', '.join(BIDS_APP_OPTIONS)} must exist")
    options = first + [o for o in options if o["id"] not in BIDS_APP_OPTIONS]
    inputs = positionals[:2] + [GROUP_LEVEL_DIR] + positionals[2:] + options
    command_line = "mkdir -p [OUTPUT_DIR]; " + " ".join(
        [ENTRY_POINT] + [p["value-key"] for p in positionals] + [o["value-key"] for o in options]
    )
    return {
        "name": "fnirs-glm",
        "tool-version": version,
        "description": " ".join((parser.description or "").split()),
        "schema-version": "0.5",
        "command-line": command_line,
        "container-image": {"type": "docker", "image": f"fnirs-glm:{version}"},
        "inputs": inputs,
        "groups": [OUTPUT_GROUP],
        "output-files": OUTPUT_FILES,
        "error-codes": ERROR_CODES,
        "suggested-resources": SUGGESTED_RESOURCES,
        "tags": TAGS,
    }


def render() -> str:
    return json.dumps(build_descriptor(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description="Write (or --check) boutiques/fnirs-glm.json from the parser.")
    cli.add_argument("--check", action="store_true",
                     help="do not write; exit 1 if the committed descriptor differs from the parser's")
    cli.add_argument("--output", type=Path, default=DESCRIPTOR,
                     help=f"default: {DESCRIPTOR.relative_to(REPO)}")
    args = cli.parse_args(argv)
    try:
        text = render()
    except UnsupportedOption as exc:
        print(f"make_boutiques.py: cannot describe {exc}; extend scripts/make_boutiques.py", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text() if args.output.is_file() else ""
        if current == text:
            print(f"{args.output}: up to date")
            return 0
        diff = difflib.unified_diff(current.splitlines(), text.splitlines(), "committed", "from the parser",
                                    lineterm="", n=1)
        print("\n".join(list(diff)[:40]), file=sys.stderr)
        print(f"{args.output} is out of date with the parser: run python scripts/make_boutiques.py",
              file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
