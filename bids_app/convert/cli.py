"""``fnirs-glm-bids``: the command line (arguments, and errors as one line). Only the standard library is
imported at start-up (``--help`` answers at once); the work is in dry_run and conversion, imported when it
runs."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from bids_app.errors import FnirsGlmError, UsageError

PROG = "fnirs-glm-bids"

EPILOG = """examples:
  fnirs-glm-bids lab_data/                                 # dry run: what is there, and a proposed spec
  fnirs-glm-bids lab_data/ --write-spec spec.json          # ... saved, to edit
  fnirs-glm-bids lab_data/ bids/ --spec spec.json          # convert every recording the spec names
  fnirs-glm-bids NIRS-2020-08-18_001/ bids/ --subject 01 --task tapping --event 1=Tapping/Left --duration 5
                                                           # one recording, added to bids/ (never overwriting)
"""


def build_parser() -> argparse.ArgumentParser:
    from bids_app import __version__
    from bids_app.cli import SuggestingParser

    parser = SuggestingParser(prog=PROG, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                              description="Convert fNIRS recordings (NIRx folders, Homer .nirs files, SNIRF files) "
                              "into a BIDS dataset (SNIRF + sidecars), validated with bids-validator-deno. "
                              "SOURCE is never written to; nothing in BIDS_DIR is ever overwritten.")
    parser.add_argument("source", type=Path, metavar="SOURCE",
                        help="a folder of recordings, or one recording (a NIRx folder, a .nirs or a .snirf file)")
    parser.add_argument("bids_dir", type=Path, nargs="?", metavar="BIDS_DIR",
                        help="the BIDS dataset to create or add to (not needed for a dry run)")
    parser.add_argument("--spec", type=Path, metavar="SPEC.json",
                        help="which recording becomes which subject/session/task/run, what the trigger codes mean "
                        "(see the proposal of a dry run)")
    parser.add_argument("--write-spec", type=Path, metavar="FILE", help="dry run: save the proposed spec to FILE")
    one = parser.add_argument_group("one recording, no spec")
    one.add_argument("--subject", help="participant label (with or without 'sub-')")
    one.add_argument("--task", help="task label")
    one.add_argument("--session", help="session label")
    one.add_argument("--run", help="run index")
    one.add_argument("--acquisition", help="acquisition label")
    one.add_argument("--event", action="append", default=[], metavar="CODE=NAME",
                     help="name a trigger code (repeatable); codes not named keep the code as trial_type")
    one.add_argument("--duration", type=float, metavar="SECONDS",
                     help="every event's duration (default: the file's; n/a for NIRx and .nirs, which have none)")
    data = parser.add_argument_group("dataset (when BIDS_DIR is new; a spec's 'dataset' takes precedence)")
    data.add_argument("--name", help="dataset name (default: the BIDS_DIR folder name)")
    data.add_argument("--authors", nargs="+", metavar="AUTHOR", help="dataset authors")
    data.add_argument("--license", help="dataset licence, e.g. CC0")
    parser.add_argument("--skip-bids-validator", "--skip_bids_validator", action="store_true",
                        help="do not validate the result with bids-validator-deno (validated when installed)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    args = build_parser().parse_args(argv)
    try:
        source = _source(args)
        if args.spec is None and args.subject is None:
            from bids_app.convert.dry_run import dry_run

            return dry_run(source, args.write_spec, shown_source=str(args.source))
        from bids_app.convert.conversion import convert

        return convert(_request(args, source))
    except FnirsGlmError as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except OSError as exc:  # a file or folder that cannot be read or written: nothing was written
        if args.verbose:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{PROG}: error: {where}{exc.strerror or exc}; nothing was written", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing was written", file=sys.stderr)
        return 130


def _source(args) -> Path:
    source = args.source.expanduser().absolute()
    if not source.exists():
        raise UsageError(f"{args.source}: not found")
    return source


def _request(args, source: Path):
    """The conversion the arguments ask for: a spec file, or one recording named on the command line."""
    from bids_app.convert.conversion import Request
    from bids_app.convert.spec import load_spec, simple_spec

    if args.bids_dir is None:
        raise UsageError("BIDS_DIR is missing: give the dataset to create or add to")
    if args.write_spec is not None:
        raise UsageError("--write-spec is for a dry run (no --spec, no --subject)")
    dataset = {"Name": args.name, "Authors": args.authors, "License": args.license}
    if args.spec is not None:
        if args.subject or args.task or args.session or args.run or args.acquisition or args.event:
            raise UsageError("--spec names subjects, tasks and events itself: drop --subject/--task/--session/--run/"
                             "--acquisition/--event, or drop --spec")
        spec = load_spec(args.spec.expanduser().absolute())
        spec.dataset = {**dataset, **spec.dataset}
        if args.duration is not None:
            spec.event_duration = args.duration
        where = str(args.spec)
    else:
        if not args.task:
            raise UsageError("--subject needs --task (e.g. --task tapping)")
        spec = simple_spec(subject=args.subject, task=args.task, session=args.session, run=args.run,
                           acquisition=args.acquisition, events=_simple_events(args.event),
                           event_duration=args.duration, dataset=dataset)
        where = "the command line"
    return Request(source=source, bids_dir=args.bids_dir.expanduser().absolute(), spec=spec, where=where,
                   skip_validator=args.skip_bids_validator)


def _simple_events(pairs: list[str]) -> dict[str, str]:
    events = {}
    for pair in pairs:
        code, sep, name = pair.partition("=")
        if not sep or not code.strip() or not name.strip():
            raise UsageError(f"--event {pair!r}: give CODE=NAME, e.g. --event 1=Tapping/Left")
        events[code.strip()] = name.strip()
    return events
