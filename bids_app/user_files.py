"""What users write for us: JSON files they give (read with an error naming the file) and names they may
misspell (the closest known one, for a "did you mean")."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from bids_app.errors import UsageError


def read_json_file(path: str | Path, *, what: str):
    """The content of a user-given JSON file; UsageError naming the file when it cannot be read."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a readable JSON file ({exc})") from None


def closest(word: str, candidates) -> str | None:
    """The candidate closest to a misspelt ``word`` (ignoring case and leading dashes), or None."""
    bare = {str(candidate).lstrip("-").lower(): str(candidate) for candidate in candidates}
    close = difflib.get_close_matches(word.lstrip("-").lower(), list(bare), n=1, cutoff=0.6)
    return bare[close[0]] if close else None
