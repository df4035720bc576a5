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

# The writer of a temporary file, in its name: this machine, its process-ID namespace (containers have their own)
# and its process, so that a later run can tell the temporary files of a process that died (removed) from those
# of one still writing (left alone); a file whose writer cannot be checked from here (another machine or
# namespace, or an older version's name) counts as an orphan once it is ORPHAN_AGE_S old.
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def _pid_namespace() -> str:
    try:
        return re.sub(r"\D", "", os.readlink("/proc/self/ns/pid")) or "0"
    except OSError:
        return "0"


def writer() -> str:
    """This machine, PID namespace and process, as temporary file names hold them (read at each write: pool
    workers are processes of their own)."""
    return f"{_HOST}-{_pid_namespace()}-{os.getpid()}"


# .<name>.<host>-<namespace>-<pid>.<mkstemp's 8 characters>.tmp, or an older version's .<name>.<8 characters>.tmp
_TEMPORARY = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<host>[A-Za-z0-9-]+)-(?P<ns>\d+)-(?P<pid>\d+)\.)?"
                        r"[a-z0-9_]{8}\.tmp$")
ORPHAN_AGE_S = 3600


def remove_stale_temporaries(folders: list[Path], *, recursive: bool) -> int:
    """Remove the temporary files of interrupted writes in ``folders``: those of a process of this machine and
    PID namespace that is no longer running, and any older than ORPHAN_AGE_S. Returns how many."""
    removed, here = 0, (_HOST, _pid_namespace())
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in (folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")):
            match = _TEMPORARY.match(path.name)
            if match is None or not path.is_file():
                continue
            try:
                stale = time.time() - path.stat().st_mtime > ORPHAN_AGE_S
                if not stale and (match["host"], match["ns"]) == here:
                    stale = not _running(int(match["pid"]))
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
