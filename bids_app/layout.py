"""The names of the output files: the only code that spells them.

The derivative dataset's own files (dataset_description.json, README, .bidsignore, model.json); the run logs
and their model copies in logs/; RecordingOutputs: one
recording's participant-level files, ``sub-L/[ses-S/]nirs/<source entities>_<name>``; participant_report_file:
``sub-L.html``; GroupOutputs: one task's group tables, figures and report at the top of OUTPUT_DIR.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATASET_DESCRIPTION = "dataset_description.json"
DATASET_README = "README"
BIDSIGNORE = ".bidsignore"
MODEL = "model.json"  # the BIDS Stats Model the last run used (each run's also beside its run log)
LOGS = "logs"  # one JSON per invocation (bids_app.logs), and the model it used
_ANATOMY = "desc-anatomy_channels"  # where each channel is on the brain (bids_app.anatomy)
_SHARES = "desc-labelshares_channels"  # every pair's atlas labels and their shares
IGNORED = ("*_design.tsv", "*_design.json", "*_stats.tsv", "*_stats.json", f"*_{_ANATOMY}.*", f"*_{_SHARES}.*",
           "*.html", "figures", "logs/", MODEL)  # in .bidsignore

STATS_DESCRIPTIONS = ("channel", "roi", "contrast", "waveform", "blockaverage")  # desc-<d>_stats.tsv/.json
_DESIGN = "design"
_QC = "desc-qc_channels"
# every file of a recording, after its prefix: to find and remove a recording's outputs
_PATTERNS = (f"{_DESIGN}.*", "desc-*_stats.*", f"{_QC}.*", f"{_ANATOMY}.*", f"{_SHARES}.*")


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

    def anatomy(self, extension: str = ".tsv") -> Path:
        """``desc-anatomy_channels.tsv`` (or ``.json``): each channel's MNI152 positions and atlas labels."""
        return self.file(f"{_ANATOMY}{extension}")

    def label_shares(self, extension: str = ".tsv") -> Path:
        """``desc-labelshares_channels.tsv`` (or ``.json``): every long pair's atlas labels with their shares."""
        return self.file(f"{_SHARES}{extension}")

    def figure(self, description: str, extension: str = ".png") -> Path:
        """``sub-<label>/figures/<prefix>desc-<description>_nirs.png`` (or ``.svg``; description signals or
        spectrum): a recording's figures in its participant's figures folder, as fmriprep places them."""
        subject = next(p for p in (self.folder, *self.folder.parents) if p.name.startswith("sub-"))
        return subject / "figures" / f"{self.prefix}desc-{description}_nirs{extension}"

    def stats(self, description: str, extension: str = ".tsv") -> Path:
        """``desc-<description>_stats.tsv`` (or ``.json``), ``description`` one of STATS_DESCRIPTIONS."""
        if description not in STATS_DESCRIPTIONS:
            raise ValueError(f"unknown statistics table {description!r}")
        return self.file(f"desc-{description}_stats{extension}")

    def existing(self) -> list[Path]:
        """This recording's output files on disk (of this or an earlier run)."""
        tables = (p for pattern in _PATTERNS for p in self.folder.glob(self.prefix + pattern))
        figures = self.figure("x").parent.glob(f"{self.prefix}desc-*_nirs.*")
        return sorted(p for p in {*tables, *figures} if p.is_file())

    # the participant-level files the group level reads
    @staticmethod
    def stats_pattern(description: str) -> str:
        """The glob of every recording's ``desc-<description>_stats.tsv`` (for messages and searches)."""
        return f"*_desc-{description}_stats.tsv"

    @classmethod
    def all_stats(cls, output_dir: Path, *, description: str) -> list[Path]:
        """Every participant-level ``*_desc-<description>_stats.tsv`` in ``output_dir``, sorted."""
        return sorted(output_dir.glob(f"sub-*/**/nirs/{cls.stats_pattern(description)}"))

    @staticmethod
    def recording_of_stats(path: Path, *, description: str) -> str:
        """The recording (file name before ``_desc-<description>``) of a participant-level table."""
        return path.name.split(f"_desc-{description}")[0]

    @staticmethod
    def design_sidecars(output_dir: Path) -> dict[str, Path]:
        """Recording -> its ``*_design.json``, in path order (also those of incomplete or orphaned outputs)."""
        return _by_recording(output_dir, f"{_DESIGN}.json")

    @staticmethod
    def anatomy_sidecars(output_dir: Path) -> dict[str, Path]:
        """Recording -> its ``*_desc-anatomy_channels.json``, in path order."""
        return _by_recording(output_dir, f"{_ANATOMY}.json")

    @staticmethod
    def qc_tables(output_dir: Path) -> dict[str, Path]:
        """Recording -> its ``*_desc-qc_channels.tsv`` (channel positions), in path order."""
        return _by_recording(output_dir, f"{_QC}.tsv")


def _by_recording(output_dir: Path, name: str) -> dict[str, Path]:
    """Recording -> its participant-level file ``<recording>_<name>``, in path order."""
    return {path.name.removesuffix(f"_{name}"): path for path in sorted(output_dir.glob(f"sub-*/**/nirs/*_{name}"))}


def run_log_file(output_dir: Path, *, level: str, stamp: str, host: str, pid: int) -> Path:
    """``logs/<level>_<time>_<host>_<pid>.json``: the record of one invocation."""
    return output_dir / LOGS / f"{level}_{stamp}_{host}_{pid}.json"


def model_copy(run_log: Path) -> Path:
    """The model a run used, beside its run log: ``logs/model_<run log name>`` (not matched by the run logs'
    ``<level>_*.json``)."""
    return run_log.with_name(f"{Path(MODEL).stem}_{run_log.name}")


def participant_report_file(output_dir: Path, *, subject: str) -> Path:
    """The participant report ``sub-<label>.html``."""
    return output_dir / f"sub-{subject}.html"


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

    def anatomy(self, extension: str = ".tsv") -> Path:
        """``task-<label>_desc-anatomy_channels.tsv`` (or ``.json``): the consensus positions and labels."""
        return self.root / f"task-{self.task}_{_ANATOMY}{extension}"

    def figure(self, description: str, kind: str) -> Path:
        """``figures/task-<label>_desc-<description>_<kind>.png`` (kind: topomap, effects or cortex); its vector copy is
        :meth:`vector`."""
        return self.root / "figures" / f"task-{self.task}_desc-{description}_{kind}.png"

    @staticmethod
    def vector(figure: Path) -> Path:
        return figure.with_suffix(".svg")

    @property
    def report(self) -> Path:
        return self.root / f"task-{self.task}_report.html"

    def earlier_outputs(self) -> list[Path]:
        """The tables, figures and report of this task on disk (to remove those a run did not rewrite)."""
        figures = self.root / "figures"
        return [*self.root.glob(f"task-{self.task}_desc-*_stats.*"), *self.root.glob(f"task-{self.task}_{_ANATOMY}.*"),
                *[p for p in [self.report] if p.is_file()],
                *figures.glob(f"task-{self.task}_desc-*.png"), *figures.glob(f"task-{self.task}_desc-*.svg")]

    @staticmethod
    def all_files(root: Path) -> list[str]:
        """Every group-level file of OUTPUT_DIR ``root`` (its top-level ``task-*`` files), relative, sorted."""
        return sorted(str(p.relative_to(root)) for p in root.glob("task-*") if p.is_file())
