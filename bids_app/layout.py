"""The names of the output files: the only code that spells them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


# ---------------------------------------------------------------------------------------------------------------
# Group level (helper B). The participant-level patterns at the end of GroupOutputs (the files the group level
# reads) belong with RecordingOutputs; they are here until the two classes are merged.
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupOutputs:
    """The group-level files of one task in OUTPUT_DIR: tables, figures and report."""

    root: Path
    task: str

    def stats(self, description: str) -> Path:
        """The group table ``task-<label>_desc-<description>_stats.tsv``."""
        return self.root / f"task-{self.task}_desc-{description}_stats.tsv"

    def stats_sidecar(self, description: str) -> Path:
        return self.stats(description).with_suffix(".json")

    def figure(self, description: str, kind: str) -> Path:
        """``figures/task-<label>_desc-<description>_<kind>.png`` (kind: topomap or effects); its vector copy is
        :meth:`vector`."""
        return self.root / "figures" / f"task-{self.task}_desc-{description}_{kind}.png"

    @staticmethod
    def vector(figure: Path) -> Path:
        return figure.with_suffix(".svg")

    @property
    def report(self) -> Path:
        return self.root / f"task-{self.task}_report.html"

    def earlier_outputs(self) -> list[Path]:
        """The tables and figures of this task on disk (to remove those a run did not rewrite)."""
        figures = self.root / "figures"
        return [*self.root.glob(f"task-{self.task}_desc-*_stats.*"),
                *figures.glob(f"task-{self.task}_desc-*.png"), *figures.glob(f"task-{self.task}_desc-*.svg")]

    @staticmethod
    def all_files(root: Path) -> list[str]:
        """Every group-level file of OUTPUT_DIR ``root`` (its top-level ``task-*`` files), relative, sorted."""
        return sorted(str(p.relative_to(root)) for p in root.glob("task-*") if p.is_file())

    # the participant-level files the group level reads (to move to RecordingOutputs)
    @staticmethod
    def participant_stats_pattern(description: str) -> str:
        return f"*_desc-{description}_stats.tsv"

    @classmethod
    def participant_stats(cls, root: Path, *, description: str) -> list[Path]:
        """Every participant-level ``*_desc-<description>_stats.tsv``, sorted."""
        return sorted(root.glob(f"sub-*/**/nirs/{cls.participant_stats_pattern(description)}"))

    @staticmethod
    def recording_of_stats(path: Path, *, description: str) -> str:
        """The recording (file name before ``_desc-<description>``) of a participant-level table."""
        return path.name.split(f"_desc-{description}")[0]

    @staticmethod
    def design_sidecars(root: Path) -> dict[str, Path]:
        """Recording -> its participant-level ``*_design.json``, in path order."""
        return {path.name.removesuffix("_design.json"): path for path in sorted(root.glob("sub-*/**/nirs/*_design.json"))}

    @staticmethod
    def qc_tables(root: Path) -> dict[str, Path]:
        """Recording -> its participant-level ``*_desc-qc_channels.tsv`` (channel positions), in path order."""
        return {path.name.removesuffix("_desc-qc_channels.tsv"): path
                for path in sorted(root.glob("sub-*/**/nirs/*_desc-qc_channels.tsv"))}
