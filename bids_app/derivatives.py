"""Writing BIDS-Derivatives: atomic files, TSV and JSON text, dataset metadata (file names: bids_app.layout)."""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import tempfile
from pathlib import Path

import pandas as pd

from bids_app import __version__, layout
from bids_app.container import container_description
from bids_app.errors import OutputError
from bids_app.temporaries import writer

logger = logging.getLogger("fnirs_glm")

CODE_URL = "https://github.com/fnirs-glm/fnirs-glm"
BIDS_VERSION = "1.10.0"


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write via a temporary file in the same directory and a rename: never a partial file. A write that
    fails (no space, no permission) is an OutputError naming ``path`` and the cause."""
    data = content.encode() if isinstance(content, str) else content
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{writer()}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write the output ({exc.strerror or exc})") from exc
        raise


def tsv_text(table: pd.DataFrame) -> str:
    """A BIDS TSV: tab-separated, ``n/a`` for missing values, floats with 10 significant digits.

    (Formatted here rather than with ``DataFrame.to_csv``, which is 4 times slower on design matrices.)
    """
    columns = [_cells(table[name]) for name in table.columns]
    rows = ["\t".join(map(str, table.columns))] + ["\t".join(row) for row in zip(*columns)]
    return "\n".join(rows) + "\n"


def _cells(column: pd.Series) -> list[str]:
    if pd.api.types.is_float_dtype(column):
        return [f"{v:.10g}" if not math.isnan(v) else "n/a" for v in column.tolist()]
    return ["n/a" if pd.isna(v) else str(v) for v in column.tolist()]


def json_text(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_dataset_files(output_dir: Path, *, bids_dir: Path, model: dict) -> None:
    """dataset_description.json, README and .bidsignore (same content on every run), and model.json: the BIDS
    Stats Model of the run (``model``), which GeneratedBy names."""
    source = read_json(bids_dir / "dataset_description.json")
    generated_by = {"Name": "fnirs-glm", "Version": __version__, "CodeURL": CODE_URL,
                    "Description": "First-level GLM of fNIRS haemoglobin signals; the analysis as a BIDS Stats "
                    f"Model: {layout.MODEL}"}
    container = container_description()
    if container:
        generated_by["Container"] = container
    source_dataset = {"URL": bids_dir.resolve().as_uri()}
    if source.get("DatasetDOI"):
        source_dataset["DOI"] = source["DatasetDOI"]
    description = {
        "Name": f"fnirs-glm derivatives of {source.get('Name', bids_dir.name)}",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [generated_by],
        "SourceDatasets": [source_dataset],
    }
    files = {
        layout.DATASET_DESCRIPTION: json_text(description),
        layout.DATASET_README: _readme_text(),
        layout.BIDSIGNORE: "\n".join(layout.IGNORED) + "\n",
        layout.MODEL: json_text(model),
    }
    earlier = read_json(output_dir / layout.DATASET_DESCRIPTION).get("GeneratedBy") or [{}]
    if isinstance(earlier, list) and earlier and earlier[0].get("Version") not in (None, __version__):
        logger.warning(f"{output_dir}: outputs of fnirs-glm {earlier[0]['Version']} are there; this is "
                       f"{__version__}: recordings they analysed are redone (their versions differ)")
    for name, text in files.items():
        path = output_dir / name
        if not path.is_file() or path.read_text() != text:
            write_atomic(path, text)


def read_json(path: Path) -> dict:
    """The JSON object in ``path``, or {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_tsv(path: Path) -> pd.DataFrame:
    """A table written here (``n/a`` as missing, numbers as numbers)."""
    return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)


def read_tsvs(paths: list[Path], *, columns: list[str] | None = None, present: str | None = None,
              distinct: bool = False) -> pd.DataFrame:
    """The tables written at ``paths`` stacked in order, with a categorical column ``file`` (each row's file
    name). ``columns``: only these columns (those a file has), parsed; ``present``: only the rows with a value
    (not n/a) in this column (the ROI rows of the waveform tables); ``distinct``: a file whose text equals an
    earlier file's is left out (for callers that keep the first row of each value, as the channel positions of
    the QC tables).

    Files with the same header are parsed together, as one text: ten thousand participants' tables are read
    in seconds rather than minutes of one parser call per file. The text is kept as bytes, and the rows
    without a value in ``present`` are dropped from it before parsing when that column comes first (as
    ``roi`` in the waveform tables): the ROI rows of 20,000 waveform tables without their 30 million channel
    rows.
    """
    import numpy as np

    by_header: dict[bytes, tuple[list[int], list[bytes], list[int]]] = {}
    files = [path.name for path in paths]
    code: dict[str, int] = {}
    for index, name in enumerate(files):
        code.setdefault(name, index)
    seen: set[tuple[bytes, bytes]] = set()
    for path, name in zip(paths, files):
        header, body = _header_and_body(path)
        if distinct:
            if (header, body) in seen:
                continue
            seen.add((header, body))
        if present is not None:
            body = _without_na_rows(body, header=header, column=present)
        codes, bodies, counts = by_header.setdefault(header, ([], [], []))
        codes.append(code[name])
        bodies.append(body)
        counts.append(body.count(b"\n"))
    frames = []
    for header, (codes, bodies, counts) in by_header.items():
        if present is not None and not any(counts):
            continue  # no row with a value in ``present``
        names = header.decode().split("\t")
        wanted = names if columns is None else [name for name in names if name in columns or name == present]
        if wanted:
            text = io.BufferedReader(_Lines([header + b"\n", *bodies]), buffer_size=1 << 20)
            bodies.clear()  # each file's text is freed once parsed
            frame = pd.read_csv(text, sep="\t", na_values=["n/a"], keep_default_na=False,
                                usecols=None if columns is None else wanted)
        else:  # none of ``columns``: the rows only
            frame = pd.DataFrame(index=pd.RangeIndex(sum(counts)))
        frame["file"] = pd.Categorical.from_codes(np.repeat(np.asarray(codes, dtype=np.intp), counts),
                                                  categories=files)
        if present is not None:  # the rows whose n/a the text did not show (e.g. ``present`` not first)
            frame = frame[frame[present].notna()].reset_index(drop=True)
            if columns is not None and present not in columns:
                frame = frame.drop(columns=[present])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


class _Lines(io.RawIOBase):
    """The concatenation of ``parts`` as a binary stream, each part let go once read (pandas parses the files
    of one header without a joined copy of their text)."""

    def __init__(self, parts: list[bytes]):
        self.parts = parts[::-1]
        self.current = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.current:
            if not self.parts:
                return 0
            self.current = memoryview(self.parts.pop())
        size = min(len(buffer), len(self.current))
        buffer[:size] = self.current[:size]
        self.current = self.current[size:]
        return size


def _header_and_body(path: Path) -> tuple[bytes, bytes]:
    """(header line, the other lines each ending with a newline, or nothing without rows) of a TSV, as
    ``Path.read_text`` reads it (universal newlines)."""
    with open(path, "rb") as handle:
        data = handle.read()
    if b"\r" in data:
        data = data.decode().replace("\r\n", "\n").replace("\r", "\n").encode()
    header, _, body = data.partition(b"\n")
    if not body or body.isspace():
        return header, b""
    return header, (body if body.endswith(b"\n") and not body.endswith(b"\n\n") else body.rstrip(b"\n") + b"\n")


def _without_na_rows(body: bytes, *, header: bytes, column: str) -> bytes:
    """``body`` without (most of) the lines whose ``column`` is n/a: those starting with ``n/a<tab>`` when it
    is the first column and no quote could hide a line break (the rest are dropped after parsing). The rows
    with a value come first in the waveform tables: then the lines from the first n/a row on are checked, not
    split."""
    start = b"n/a\t"
    if not header.startswith(column.encode() + b"\t") or b'"' in body:
        return body
    if body.startswith(start):
        first = 0
    else:
        first = body.find(b"\n" + start) + 1  # the first n/a row
        if not first:
            return body
    if _lines_start_with(body, start, first=first):
        return body[:first]
    return _NA_ROWS.sub(b"", body)


_NA_ROWS = re.compile(rb"^n/a\t[^\n]*\n", re.MULTILINE)  # a line whose first field is n/a


def _lines_start_with(body: bytes, start: bytes, *, first: int) -> bool:
    """Whether every line of ``body`` (each ending with a newline) after the one at offset ``first`` starts with
    ``start`` (numpy: a byte comparison per line, not a Python loop over lines)."""
    import numpy as np

    text = np.frombuffer(body, np.uint8, offset=first)
    starts = np.flatnonzero(text[:-1] == ord("\n")) + 1
    # a line shorter than ``start`` compares its newline (the last byte at most): not equal
    return all((text[np.minimum(starts + offset, len(text) - 1)] == byte).all() for offset, byte in enumerate(start))


def _readme_text() -> str:
    """The derivative dataset's README: what each output is (bids_app/data/derivatives_README.md)."""
    from importlib import resources

    return resources.files("bids_app").joinpath("data/derivatives_README.md").read_text()
