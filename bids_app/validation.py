"""The input dataset's own checks: its dataset_description.json and the official BIDS validator.

Standard library only: the checks run before any analysis library is imported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bids_app.errors import UsageError

VALIDATOR = "bids-validator-deno"
INSTALL_HINT = f"{sys.executable} -m pip install {VALIDATOR} (it is in requirements.txt and the 'validator' extra)"
REQUIRED_DESCRIPTION_FIELDS = ("Name", "BIDSVersion")


@dataclass(frozen=True)
class InputValidation:
    """How the input was validated, as said on the console and recorded in the run log."""

    status: str  # "validated" | "skipped" | "not installed"
    message: str
    validator: str | None = None
    version: str | None = None
    warnings: dict[str, int] = field(default_factory=dict)  # issue code -> count

    def record(self) -> dict:
        return {"Status": self.status, "Message": self.message, "Validator": self.validator,
                "Version": self.version, "Warnings": dict(self.warnings)}


def check_dataset_description(bids_dir: Path) -> dict:
    """The input's dataset_description.json as an object with Name and BIDSVersion (raises UsageError)."""
    path = bids_dir / "dataset_description.json"
    if not path.is_file():
        raise UsageError(f"{bids_dir}: not a BIDS dataset (no dataset_description.json at its top level)")
    try:
        description = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(description, dict):
        raise UsageError(f"{path}: must be a JSON object, found a JSON {type(description).__name__}")
    missing = [name for name in REQUIRED_DESCRIPTION_FIELDS
               if not isinstance(description.get(name), str) or not description[name].strip()]
    if missing:
        raise UsageError(f"{path}: the required field(s) {', '.join(missing)} are missing or empty")
    return description


def find_validator() -> str | None:
    """bids-validator-deno of the running environment (beside the interpreter), else the one on PATH."""
    folders = dict.fromkeys([Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))])
    for folder in folders:
        for name in (VALIDATOR, f"{VALIDATOR}.exe"):
            candidate = folder / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return shutil.which(VALIDATOR)


def say(validation: InputValidation) -> None:
    """The line every run prints once: how its input was validated."""
    import logging

    logger = logging.getLogger("fnirs_glm")
    (logger.warning if validation.status == "not installed" else logger.info)(validation.message)


def validate_input(bids_dir: Path, *, skip_validator: bool) -> InputValidation:
    """Run the BIDS validator on the input unless skipped or not installed (UsageError on its errors)."""
    if skip_validator:
        return InputValidation("skipped", "input not validated: --skip_bids_validator was given")
    validator = find_validator()
    if validator is None:
        return InputValidation("not installed", f"input not validated: {VALIDATOR} is not installed beside "
                               f"{sys.executable} nor on PATH; install it with: {INSTALL_HINT}")
    issues = _run_validator(validator, bids_dir)
    errors = [i for i in issues if i.get("severity") == "error"]
    if errors:
        described = dict.fromkeys(
            f"{e.get('code')}" + (f" ({e['subCode']})" if e.get("subCode") else "") + f" at {e.get('location', '')}"
            for e in errors)
        first = "; ".join(list(described)[:3])
        raise UsageError(f"{bids_dir}: the BIDS validator found {len(errors)} error(s), e.g. {first}; "
                         "fix them or use --skip_bids_validator")
    warnings = Counter(str(i.get("code")) for i in issues if i.get("severity") == "warning")
    version = validator_version(validator)
    count = sum(warnings.values())
    return InputValidation("validated", f"input validated with {VALIDATOR} {version} "
                           f"({count} warning{'s' if count != 1 else ''})",
                           validator=validator, version=version, warnings=dict(sorted(warnings.items())))


def _run_validator(validator: str, directory: Path) -> list[dict]:
    env = dict(os.environ)
    env.setdefault("DENO_DIR", str(Path(tempfile.gettempdir()) / "fnirs-glm-deno"))
    done = subprocess.run([validator, "--format", "json", str(directory)], capture_output=True,
                          text=True, env=env, check=False)
    try:
        return list(json.loads(done.stdout)["issues"]["issues"])
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{directory}: {VALIDATOR} failed (exit {done.returncode}: "
                         f"{' '.join(done.stderr.split())[:300]}); use --skip_bids_validator to go on without "
                         "it") from None


def validator_version(validator: str) -> str:
    """The validator's package version when it is this environment's, else what ``--version`` prints."""
    if Path(validator).parent == Path(sys.executable).parent:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(VALIDATOR)
        except PackageNotFoundError:
            pass
    done = subprocess.run([validator, "--version"], capture_output=True, text=True, check=False)
    words = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout).split()
    return words[-1] if words else "(unknown version)"
