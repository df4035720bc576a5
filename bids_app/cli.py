"""Command line of the BIDS App: ``fnirs-glm BIDS_DIR OUTPUT_DIR {participant,group} [options]``.

Only the standard library is imported here, so that ``--help`` and ``--version`` answer at once;
the analysis modules (and mne, nilearn, statsmodels) are imported when a level runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback
from pathlib import Path

from bids_app import __version__
from bids_app.config import Config, build_options, load_config_file
from bids_app.errors import FnirsGlmError, UsageError
from bids_app.logs import setup_logging
from bids_app.options import LEVELS, Option, declarations, level_of
from bids_app.user_files import closest
from bids_app.validation import check_dataset_description

logger = logging.getLogger("fnirs_glm")


class SuggestingParser(argparse.ArgumentParser):
    """argparse with a "did you mean" for a misspelt option or choice (e.g. an analysis level)."""

    def parse_args(self, args=None, namespace=None):
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            unknown = next((e for e in extras if e.startswith("-")), extras[0])
            self.error(f"unrecognized argument {unknown}" + _did_you_mean(unknown.split("=")[0],
                                                                            list(self._option_string_actions)))
        return parsed

    def _get_option_tuples(self, option_string):
        """Abbreviations: two spellings of one option (--psp-threshold, --psp_threshold) are not ambiguous."""
        unique = {}
        for candidate in super()._get_option_tuples(option_string):
            unique.setdefault(id(candidate[0]), candidate)
        return list(unique.values())

    def error(self, message):
        choice = re.match(r"argument (.+?): invalid choice: '?(.*?)'? \(choose from", message)
        if choice:
            action = next((a for a in self._actions if a.choices and choice.group(1) in (
                "/".join(a.option_strings), a.metavar, a.dest)), None)
            if action is not None:
                message += _did_you_mean(choice.group(2), [str(c) for c in action.choices])
        super().error(message)


def _did_you_mean(word: str, candidates: list[str]) -> str:
    """"; did you mean X?" for the closest candidate (user_files.closest), or ""."""
    close = closest(word, candidates)
    return f"; did you mean {close}?" if close else ""


class _ChoicesAndRemoved(tuple):
    """Choices listed (in --help and the Boutiques descriptor) that also let a removed value through to the
    validation, whose error says what replaced it."""

    def __new__(cls, choices, removed):
        self = super().__new__(cls, choices)
        self.removed = removed
        return self

    def __contains__(self, value) -> bool:
        return super().__contains__(value) or value in self.removed


def _add_option(group, name: str, spec: Option) -> None:
    """The command-line argument of one declared option (none for an option only in a --config file)."""
    if not spec.flag:
        return
    kwargs = {"help": spec.help_text(), "metavar": spec.metavar}
    if spec.type is not str:
        kwargs["type"] = spec.type
    if spec.choices:
        kwargs["choices"] = _ChoicesAndRemoved(spec.choices, spec.removed) if spec.removed else spec.choices
    if spec.nargs == "append":
        kwargs["action"] = "append"
    elif spec.nargs is not None:
        kwargs["nargs"] = spec.nargs
    group.add_argument(*spec.flags(name), **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = SuggestingParser(
        prog="fnirs-glm",
        description="First-level (participant) and group-level GLM analysis of BIDS fNIRS (SNIRF) "
        "datasets, written as BIDS-Derivatives.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bids_dir", type=Path, help="the input BIDS dataset (never written to)")
    parser.add_argument("output_dir", type=Path, help="where the derivatives are written")
    parser.add_argument(
        "analysis_level",
        choices=["participant", "group"],
        help="participant: one GLM per recording; group: aggregate the participant outputs",
    )

    select = parser.add_argument_group("selecting recordings")
    select.add_argument(
        "--participant_label", "--participant-label", nargs="+", default=[], metavar="LABEL",
        help="participants to analyse (with or without 'sub-'); default: all",
    )
    select.add_argument("--session_label", "--session-label", nargs="+", default=[], metavar="LABEL",
                        help="sessions to analyse (with or without 'ses-'); default: all")
    select.add_argument("--task_label", "--task-label", "--task", nargs="+", default=[], metavar="LABEL",
                        help="tasks to analyse (with or without 'task-'); default: all")
    select.add_argument("--run_label", "--run-label", nargs="+", default=[], metavar="LABEL",
                        help="runs to analyse (with or without 'run-'); default: all")

    run = parser.add_argument_group("execution")
    run.add_argument("--skip_bids_validator", "--skip-bids-validator", "--skip-bids-validation",
                     action="store_true",
                     help="do not validate the input with bids-validator-deno (validated when installed)")
    run.add_argument("--n_cpus", "--n-cpus", type=int, metavar="N",
                     help="recordings processed in parallel processes (default: $SLURM_CPUS_PER_TASK inside "
                     "a SLURM job that asked for CPUs per task, else 1)")
    run.add_argument("--overwrite", action="store_true",
                     help="redo recordings whose outputs exist with the same version, options and inputs "
                     "(default: they are skipped)")
    run.add_argument("--config", type=Path, metavar="FILE",
                     help="JSON file of analysis options (same names as the flags); flags override it")
    run.add_argument("--model", type=Path, metavar="FILE",
                     help="the analysis as a BIDS Stats Models file (see README, Models): the same file at both "
                     "levels; flags and --config may add options it leaves out, not contradict it")
    run.add_argument("-v", "--verbose", action="count", default=0,
                     help="more messages and tracebacks on errors (repeatable)")
    run.add_argument("--version", action="version", version=f"fnirs-glm {__version__}")

    for options in LEVELS:
        group = parser.add_argument_group(options.TITLE)
        for name, spec in declarations(options).items():
            _add_option(group, name, spec)
    return parser


def parse_args(argv: list[str] | None = None) -> Config:
    """Parse the command line into a validated :class:`Config` (raises UsageError)."""
    args = build_parser().parse_args(argv)
    file_values = load_config_file(args.config) if args.config else {}
    flag_values = {name: getattr(args, name) for name, spec in declarations().items()
                   if spec.flag and getattr(args, name) is not None}
    given = {**file_values, **flag_values}
    model = None
    if args.model:
        from bids_app.model import merge_options, read_model

        model = read_model(args.model)
        given = merge_options({**model.first_level, **model.group_level}, given, source=str(args.model),
                              defaults={name: spec.default for name, spec in declarations().items()})
        selection = merge_options({name: tuple(sorted(labels)) for name, labels in model.selection.items()},
                                  {name: tuple(sorted(_labels(getattr(args, name), prefix)))
                                   for name, prefix in SELECTION_PREFIXES.items() if getattr(args, name)},
                                  source=str(args.model))
        for name in selection:
            setattr(args, name, list(selection[name]))
    first_level, group = build_options(given)
    ignored = [declarations()[name].flags(name)[0] if name in flag_values else f"{name} (in {args.config})"
               for name in {**file_values, **flag_values} if level_of(name).LEVEL != args.analysis_level]
    return Config(
        bids_dir=args.bids_dir.expanduser().absolute(),
        output_dir=args.output_dir.expanduser().absolute(),
        analysis_level=args.analysis_level,
        participant_label=_labels(args.participant_label, "sub-"),
        session_label=_labels(args.session_label, "ses-"),
        task_label=_labels(args.task_label, "task-"),
        run_label=_labels(args.run_label, "run-"),
        skip_bids_validator=args.skip_bids_validator,
        n_cpus=args.n_cpus if args.n_cpus is not None else default_n_cpus(os.environ),
        overwrite=args.overwrite,
        verbose=args.verbose,
        first_level=first_level,
        group=group,
        ignored_options=tuple(ignored),
        model_file=args.model.expanduser().absolute() if args.model else None,
        model=model,
    )


def default_n_cpus(environ) -> int:
    """The CPUs SLURM gave each task of this job (``--cpus-per-task``), else 1: not every cluster confines
    a job to its CPUs, so the app must not start more processes than the job asked for."""
    value = environ.get("SLURM_CPUS_PER_TASK", "")
    if not value:
        return 1
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"SLURM_CPUS_PER_TASK={value!r} is not a number of CPUs >= 1: give --n_cpus")
    return int(value)


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv: list[str] | None = None) -> int:
    """Run the app; return the exit code (0 success, 1 a recording failed, 2 a usage error)."""
    # One BLAS thread per process unless the user says otherwise: the matrices are small, the
    # parallelism is across recordings (--n_cpus), and OpenBLAS threads spinning while other
    # processes hold the cores made a single SVD 100 times slower. Set before numpy is imported.
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    verbose = 0
    try:
        config = parse_args(argv)
        verbose = config.verbose
        setup_logging(verbose)
        if config.ignored_options:
            logger.warning(f"no effect at the {config.analysis_level} level (options of the other level): "
                           f"{', '.join(config.ignored_options)}")
        check_paths(config)
        check_dependencies()
        if config.analysis_level == "participant":
            from bids_app.run.participant import run_participant_level

            return run_participant_level(config)
        from bids_app.run.group import run_group_level

        return run_group_level(config)
    except FnirsGlmError as exc:
        if verbose:
            traceback.print_exc()
        print(f"fnirs-glm: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except OSError as exc:  # e.g. a full disk or a permission denied while writing
        if verbose:
            traceback.print_exc()
        print(f"fnirs-glm: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fnirs-glm: interrupted", file=sys.stderr)
        return 130


# Import names of the analysis libraries (requirements.txt pins their distributions).
ANALYSIS_MODULES = ("numpy", "scipy", "pandas", "mne", "mne_bids", "nilearn", "statsmodels", "matplotlib", "h5py")


def check_dependencies() -> None:
    """A usage error naming the analysis libraries this Python lacks and the command that installs them."""
    from importlib.util import find_spec

    missing = [name for name in ANALYSIS_MODULES if find_spec(name) is None]
    if missing:
        raise UsageError(_missing_message(missing))


def _missing_message(missing: list[str]) -> str:
    clone = Path(__file__).resolve().parent.parent
    install = (f"cd {clone} && python3 -m venv .venv && .venv/bin/pip install -r requirements.txt . and run "
               ".venv/bin/fnirs-glm" if (clone / "requirements.txt").is_file() else "pip install fnirs-glm")
    return f"{', '.join(missing)} not installed for {sys.executable}; install the dependencies with: {install}"


def check_paths(config: Config) -> None:
    """Refuse a missing input, a non-BIDS input, an output inside the input, or an output directory in which
    nothing can be written."""
    bids_dir, output_dir = config.bids_dir.resolve(), config.output_dir.resolve()
    if not bids_dir.is_dir():
        raise UsageError(f"{config.bids_dir}: BIDS directory not found")
    check_dataset_description(config.bids_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"{config.output_dir}: the output directory exists and is not a directory")
    if output_dir == bids_dir:
        raise UsageError(f"{config.output_dir}: the output directory must not be the BIDS directory")
    if bids_dir in output_dir.parents and not (
        output_dir.is_relative_to(bids_dir / "derivatives") and output_dir != bids_dir / "derivatives"
    ):
        raise UsageError(
            f"{config.output_dir}: the output directory must not be inside the BIDS directory "
            f"(except under {bids_dir / 'derivatives'})"
        )
    from bids_app.temporaries import check_writable

    check_writable(config.output_dir)


SELECTION_PREFIXES = {"participant_label": "sub-", "session_label": "ses-", "task_label": "task-", "run_label": "run-"}


def _labels(values: list[str], prefix: str) -> tuple[str, ...]:
    labels = [v.removeprefix(prefix) for v in values]
    return tuple(dict.fromkeys(label for label in labels if label))


if __name__ == "__main__":
    sys.exit(main())
