"""Messages on stderr, and logs/: the resolved configuration, software versions and outcome of each invocation.

Light at import time (the command line imports setup_logging and --help must stay fast): the rest is imported
where it is used.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from bids_app import __version__
from bids_app.config import Config

logger = logging.getLogger("fnirs_glm")
LIBRARIES = ("mne", "mne-bids", "nilearn", "numpy", "scipy", "pandas", "statsmodels", "h5py")


def library_versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    versions = {"fnirs-glm": __version__, "python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_run_log(config: Config, *, outcomes: list, started: float, validation, reports: list = (),
                  outputs: list[str] = (), model: dict | None = None) -> None:
    """The run log in logs/ and, beside it, the BIDS Stats Model the run used (``model``)."""
    import platform

    from bids_app.derivatives import json_text, write_atomic
    from bids_app.layout import model_copy, run_log_file

    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started))
    record = {
        "Command": sys.argv,
        "Started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "Seconds": round(time.time() - started, 3),
        "Configuration": config.to_dict(),
        "Versions": library_versions(),
        "InputValidation": validation.record(),
        "Recordings": [{"Recording": o.recording, "Status": o.status, "Seconds": round(o.seconds, 3),
                        "Message": o.message, "Warnings": o.warnings} for o in outcomes],
    }
    if outputs:
        record["Outputs"] = list(outputs)
    if reports:
        record["Reports"] = [{"Report": o.recording, "Status": o.status, "Seconds": round(o.seconds, 3),
                              "Message": o.message} for o in reports]
    path = run_log_file(config.output_dir, level=config.analysis_level, stamp=stamp, host=platform.node() or "host",
                        pid=os.getpid())
    if model is not None:
        record["Model"] = model_copy(path).name
        write_atomic(model_copy(path), json_text(model))
    write_atomic(path, json_text(record))


def setup_logging(verbose: int) -> None:
    """Messages "fnirs-glm: LEVEL: message" on stderr; debug messages too when ``verbose``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("fnirs-glm: %(levelname)s: %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
