"""The version, read from the repository's single source: the top-level ``version`` file."""

from pathlib import Path


def _read_version() -> str:
    source_file = Path(__file__).resolve().parent.parent / "version"
    if source_file.is_file():
        return source_file.read_text().strip()
    from importlib.metadata import version

    return version("fnirs-glm")


__version__ = _read_version()
