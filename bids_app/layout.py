"""The names of the output files: the only code that spells them.

The derivative dataset's own files (dataset_description.json, README, .bidsignore); RecordingOutputs: one
recording's participant-level files, ``sub-L/[ses-S/]nirs/<source entities>_<name>``; participant_report_file:
``sub-L.html``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATASET_DESCRIPTION = "dataset_description.json"
DATASET_README = "README"
BIDSIGNORE = ".bidsignore"
IGNORED = ("*_design.tsv", "*_design.json", "*_stats.tsv", "*_stats.json", "*.html", "figures", "logs/")  # in it

STATS_DESCRIPTIONS = ("channel", "roi", "contrast", "waveform", "blockaverage")  # desc-<d>_stats.tsv/.json
_DESIGN = "design"
_QC = "desc-qc_channels"
# every file of a recording, after its prefix: to find and remove a recording's outputs
_PATTERNS = (f"{_DESIGN}.*", "desc-*_stats.*", f"{_QC}.*")


@dataclass(frozen=True)
class RecordingOutputs:
    """The participant-level output files of one recording: ``folder / (prefix + name)``, with ``prefix`` the
    source file's entities and "_", e.g. ``sub-01_ses-01_task-tapping_``."""

    folder: Path
    prefix: str

    @classmethod
    def of(cls, bids_path, output_dir: Path) -> RecordingOutputs:
        """The outputs of the recording ``bids_path`` (an mne-bids BIDSPath) in ``output_dir``."""
        derived = Path(bids_path.copy().update(root=output_dir, suffix=_DESIGN, extension=".tsv",
                                               description=None, check=False).fpath)
        return cls(derived.parent, derived.name[: -len(f"{_DESIGN}.tsv")])

    @classmethod
    def find(cls, output_dir: Path, *, subject: str = "*", task: str | None = None) -> list[RecordingOutputs]:
        """The recordings in ``output_dir`` with complete outputs (their design sidecar, written last, exists),
        of one participant or all, of one task or all, in order of their paths."""
        designs = sorted(output_dir.glob(f"sub-{subject}/**/nirs/sub-{subject}_*{_DESIGN}.json"))
        found = [cls(d.parent, d.name[: -len(f"{_DESIGN}.json")]) for d in designs]
        return [o for o in found if task is None or f"_task-{task}_" in f"_{o.prefix}"]

    @property
    def name(self) -> str:
        """The recording's name: its entities, e.g. ``sub-01_ses-01_task-tapping``."""
        return self.prefix.rstrip("_")

    def file(self, name: str) -> Path:
        return self.folder / f"{self.prefix}{name}"

    @property
    def design_tsv(self) -> Path:
        return self.file(f"{_DESIGN}.tsv")

    @property
    def design_json(self) -> Path:
        """The design sidecar: the record of what made the outputs and their list (written last)."""
        return self.file(f"{_DESIGN}.json")

    @property
    def qc_tsv(self) -> Path:
        return self.file(f"{_QC}.tsv")

    @property
    def qc_json(self) -> Path:
        return self.file(f"{_QC}.json")

    def stats(self, description: str, extension: str = ".tsv") -> Path:
        """``desc-<description>_stats.tsv`` (or ``.json``), ``description`` one of STATS_DESCRIPTIONS."""
        if description not in STATS_DESCRIPTIONS:
            raise ValueError(f"unknown statistics table {description!r}")
        return self.file(f"desc-{description}_stats{extension}")

    def existing(self) -> list[Path]:
        """This recording's output files on disk (of this or an earlier run)."""
        if not self.folder.is_dir():
            return []
        return sorted(p for pattern in _PATTERNS for p in self.folder.glob(self.prefix + pattern) if p.is_file())


def participant_report_file(output_dir: Path, *, subject: str) -> Path:
    """The participant report ``sub-<label>.html``."""
    return output_dir / f"sub-{subject}.html"
