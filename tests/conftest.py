"""Shared fixtures: the bundled example dataset, writable copies of it, and running the CLI."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from bids_app.cli import main

TESTS = Path(__file__).resolve().parent
EXAMPLE = TESTS / "data" / "grptap"  # sub-01 ses-01/02, sub-02 ses-01 of the Homer3 GrpTap example
SHARED_DATA = TESTS.parent.parent / "shared" / "data"


@pytest.fixture
def example_copy(tmp_path) -> Path:
    """A writable copy of the bundled example dataset, for tests that break it on purpose."""
    target = tmp_path / "bids"
    shutil.copytree(EXAMPLE, target)
    return target


@pytest.fixture
def run_cli(capsys):
    """Run the app in-process; returns (exit code, stdout, stderr)."""

    def run(*argv) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def tree_checksum(root: Path) -> dict[str, str]:
    """Content hash and mode of every file below ``root`` (to prove an input is unchanged)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
        for p in sorted(root.rglob("*")) if p.is_file()
    }
