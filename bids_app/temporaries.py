"""Temporary files of the atomic writes (bids_app.derivatives.write_atomic): whose they are, which are left over
from a process that died, and whether the output directory takes new files at all. Standard library only:
the command line checks the output directory before the analysis libraries are known to be installed."""

from __future__ import annotations

import os
import re
import socket
import tempfile
import time
from pathlib import Path

from bids_app.errors import UsageError

# The writer of a temporary file, in its name: this machine and process, so that a later run can tell the
# temporary files of a process that died (removed) from those of one still writing (left alone).
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def writer() -> str:
    """This machine and process, as temporary file names hold them (read at each write: pool workers are
    processes of their own)."""
    return f"{_HOST}-{os.getpid()}"


_TEMPORARY = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)\.)?[^.]+\.tmp$")
ORPHAN_AGE_S = 3600  # a temporary file of another machine (or of an older version) this old is an orphan


def remove_stale_temporaries(folders: list[Path], *, recursive: bool) -> int:
    """Remove the temporary files of interrupted writes in ``folders``: those of a process of this machine
    that is no longer running, and those of other machines older than ORPHAN_AGE_S. Returns how many."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in (folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")):
            match = _TEMPORARY.match(path.name)
            if match is None or not path.is_file():
                continue
            try:
                if match["host"] == _HOST and match["pid"] is not None:
                    stale = not _running(int(match["pid"]))
                else:
                    stale = time.time() - path.stat().st_mtime > ORPHAN_AGE_S
                if stale:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_writable(output_dir: Path) -> None:
    """A UsageError when ``output_dir`` exists and a file cannot be created in it (checked before any
    analysis, also when it already holds results)."""
    if not output_dir.is_dir():
        return
    try:
        fd, probe = tempfile.mkstemp(dir=output_dir, prefix=f".write-check.{writer()}.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{output_dir}: the output directory is not writable ({exc.strerror or exc})") from None
