"""The simulator's options: one frozen value, checked when made."""

from __future__ import annotations

from dataclasses import asdict, dataclass

CONDITIONS = ("Control", "Tapping/Left", "Tapping/Right")
MOTION_SCOPES = ("cap", "optode")  # what one motion artefact moves: the whole cap or one optode
GROUP_OPTIONS = ("groups", "group_effect")  # recorded only when groups are simulated
OPTODE_OPTIONS = ("motion_scope", "optode_motion_sds")  # recorded only with --motion-scope optode


@dataclass(frozen=True, kw_only=True)
class SimulationOptions:
    subjects: int = 5
    sessions: int = 1
    runs: int = 1
    seed: int = 0
    duration_s: float | None = None  # default: each template participant's own length (40-50 min)
    null: bool = False  # no responses at all
    noise: bool = True  # physiology, drifts and noise; False: the responses alone
    contralateral_um: float = 0.6  # group-mean HbO amplitude of the activated hemisphere
    ipsilateral_fraction: float = 0.3
    hbr_fraction: float = -0.35  # HbR amplitude as a fraction of HbO
    between_subject_sd: float = 0.25  # relative
    between_channel_sd: float = 0.15  # relative
    noise_um: float = 0.25  # SD of the per-channel autoregressive noise (HbO)
    systemic_um: float = 0.6  # SD of the systemic oxygenation signal (HbO, before channel weights)
    cardiac_um: float = 0.3  # amplitude of the cardiac pulse (HbO, before channel weights)
    motion_spikes: int = 0  # per recording: spikes (offsets of 0.5-3 s) at random times
    motion_per_minute: float = 0.0  # artefacts at random times, per minute (spikes or baseline shifts)
    task_locked_motion: float = 0.0  # share of Tapping trials with an artefact starting 0-10 s after onset
    baseline_shift_fraction: float = 0.5  # share of the two kinds above that are baseline shifts
    motion_scope: str = "cap"  # those two kinds hit every channel (cap) or one optode's channels (optode)
    # an optode-local artefact's size in SDs of each hit channel's optical density (before motion), drawn per
    # artefact, then x 0.5-1 per channel
    optode_motion_sds: tuple[float, float] = (3.0, 10.0)
    bad_channels: int = 0  # per recording: half flat, half very noisy (not marked in channels.tsv)
    lost_signal: float = 0.0  # share of pairs whose intensity collapses (lost contact) for one stretch
    saturated: float = 0.0  # share of pairs whose intensity is clipped at a constant for one stretch
    bad_stretch_s: float = 60.0  # length of those stretches; each pair's at a random time
    ppf: float = 6.0
    groups: tuple[str, ...] = ()  # two labels; participants alternate between them (sub-01 the first)
    group_effect: float = 1.0  # the second group's response amplitudes as a fraction of the first's

    def __post_init__(self):
        for name in ("subjects", "sessions", "runs"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} {getattr(self, name)}: give at least 1")
        for name in ("motion_spikes", "motion_per_minute", "bad_channels", "group_effect"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} {getattr(self, name)}: give a number >= 0")
        for name in ("task_locked_motion", "baseline_shift_fraction", "lost_signal", "saturated"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"--{name.replace('_', '-')} {getattr(self, name)}: give a share between 0 and 1")
        if self.motion_scope not in MOTION_SCOPES:
            raise ValueError(f"--motion-scope {self.motion_scope}: give {' or '.join(MOTION_SCOPES)}")
        low, high = self.optode_motion_sds
        if not 0 < low <= high:
            raise ValueError(f"--optode-motion-sds {low:g} {high:g}: give 0 < LOW <= HIGH")
        object.__setattr__(self, "optode_motion_sds", (float(low), float(high)))
        if self.bad_stretch_s <= 0:
            raise ValueError(f"--bad-stretch {self.bad_stretch_s:g}: give a length in seconds > 0")
        if self.duration_s is not None and self.duration_s < 60:
            raise ValueError(f"--duration {self.duration_s:g}: give at least 60 seconds")
        object.__setattr__(self, "groups", tuple(self.groups))
        self._check_groups()

    def _check_groups(self):
        labels = " ".join(self.groups)
        if self.groups and (len(self.groups) != 2 or len(set(self.groups)) != 2):
            raise ValueError(f"--groups {labels}: give two different labels, such as control patient")
        for label in self.groups:
            if not label or label != label.strip() or any(c in label for c in "\t\n") or label == "n/a":
                raise ValueError(f"--groups {labels}: {label!r} is not a usable label (participants.tsv value)")
        if self.groups and self.subjects < 2:
            raise ValueError(f"--groups {labels}: give --subjects 2 or more (one participant per group at least)")
        if self.group_effect != 1.0 and not self.groups:
            raise ValueError(f"--group-effect {self.group_effect:g}: give --groups too (the two group labels)")

    def group_of(self, index: int) -> str | None:
        """The group label of the participant at ``index`` (0 for sub-01), alternating; None without groups."""
        return self.groups[index % 2] if self.groups else None

    def amplitude_factor(self, group: str | None) -> float:
        """Response amplitudes of ``group`` relative to the first group's (1 for the first and without groups)."""
        return self.group_effect if self.groups and group == self.groups[1] else 1.0

    def recorded(self) -> dict:
        """The options as written to simulation.json and dataset_description.json: the group options only
        when groups are simulated, the optode-motion options only with --motion-scope optode, so a study without
        them is described as before they existed."""
        values = asdict(self)
        for names, used in ((GROUP_OPTIONS, self.groups), (OPTODE_OPTIONS, self.motion_scope == "optode")):
            if not used:
                for name in names:
                    del values[name]
        return values
