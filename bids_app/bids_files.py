"""Files of a BIDS dataset: a recording's sidecars (by the inheritance principle), BIDS TSV files, and the
checksums of the inputs that shape a recording's outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bids_app.errors import RecordingError


def sidecar(bids_path, *, suffix: str, extension: str) -> Path | None:
    """The sidecar that applies to this recording under the BIDS inheritance principle."""
    found = bids_path.find_matching_sidecar(suffix=suffix, extension=extension, on_error="ignore")
    return Path(found) if found else None


def read_tsv(path: Path) -> pd.DataFrame:
    """A BIDS TSV file with ``n/a`` as missing (a UTF-8 byte-order mark is tolerated)."""
    try:
        return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False,
                           encoding="utf-8-sig", dtype=str)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise RecordingError(f"{path}: not a readable TSV file ({exc})") from exc


INPUT_SIDECARS = (("events", ".tsv"), ("channels", ".tsv"), ("nirs", ".json"), ("coordsystem", ".json"),
                  ("optodes", ".tsv"))


def input_fingerprint(bids_path, *, roi_file: str | None = None) -> dict[str, str]:
    """SHA-256 (first 16 hex digits) of every input file that shapes a recording's outputs."""
    import hashlib

    paths = [Path(bids_path.fpath)] + [sidecar(bids_path, suffix=s, extension=e) for s, e in INPUT_SIDECARS]
    if roi_file:
        paths.append(Path(roi_file))
    fingerprint = {}
    for path in paths:
        if path is not None and path.is_file():
            digest = hashlib.sha256()
            with open(path, "rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
            fingerprint[path.name] = digest.hexdigest()[:16]
    return fingerprint
