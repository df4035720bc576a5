"""Writing BIDS-Derivatives: atomic files, TSV and JSON text, dataset metadata (file names: bids_app.layout)."""

from __future__ import annotations

import io
import json
import logging
import math
import os
import tempfile
from pathlib import Path

import pandas as pd

from bids_app import __version__, layout
from bids_app.container import container_description

logger = logging.getLogger("fnirs_glm")

CODE_URL = "https://github.com/fnirs-glm/fnirs-glm"
BIDS_VERSION = "1.10.0"


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write via a temporary file in the same directory and a rename: never a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
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


def read_tsvs(paths: list[Path]) -> pd.DataFrame:
    """The tables written at ``paths`` stacked in order, with a categorical column ``file`` (each row's file
    name).

    Files with the same header are parsed together, as one text: ten thousand participants' tables are read
    in seconds rather than minutes of one parser call per file.
    """
    import numpy as np

    by_header: dict[str, tuple[list[str], list[str], list[int]]] = {}
    for path in paths:
        header, _, body = path.read_text().partition("\n")
        body = body.rstrip("\n") + "\n" if body.strip() else ""
        names, bodies, counts = by_header.setdefault(header, ([], [], []))
        names.append(path.name)
        bodies.append(body)
        counts.append(body.count("\n"))
    files = [path.name for path in paths]
    frames = [pd.read_csv(io.StringIO(header + "\n" + "".join(bodies)), sep="\t", na_values=["n/a"],
                          keep_default_na=False).assign(file=pd.Categorical(np.repeat(names, counts), categories=files))
              for header, (names, bodies, counts) in by_header.items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _readme_text() -> str:
    """The derivative dataset's README: what each output is (bids_app/data/derivatives_README.md)."""
    from importlib import resources

    return resources.files("bids_app").joinpath("data/derivatives_README.md").read_text()
