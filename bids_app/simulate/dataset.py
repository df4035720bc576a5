"""A simulated study: its participants, their recordings and the files that describe the dataset."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from bids_app.simulate.options import CONDITIONS, SimulationOptions
from bids_app.simulate.recording import write_recording
from bids_app.simulate.truth import mean_amplitude, responds, truth_folder, write_group_truth


def simulate_dataset(out_dir: Path, *, options: SimulationOptions) -> Path:
    """Write the dataset to ``out_dir`` (created; must be empty or absent); return it."""
    import numpy as np

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir}: the output directory is not empty")
    template = json.loads(resources.files("bids_app").joinpath("data/tapping_template.json").read_text())
    rng = np.random.default_rng(options.seed)
    names = sorted(template["Subjects"])
    participants, gains_by_participant = [], []
    for index in range(options.subjects):
        subject = f"{index + 1:02d}"
        timing = template["Subjects"][names[index % len(names)]]
        group = options.group_of(index)
        participants.append({"participant_id": f"sub-{subject}", "age": timing["age"], "sex": timing["sex"],
                             **({"group": group} if group else {})})
        gains = subject_gains(template, options=options, rng=rng, factor=options.amplitude_factor(group))
        gains_by_participant.append((group, gains))
        for session in range(1, options.sessions + 1):
            for run in range(1, options.runs + 1):
                write_recording(out_dir, template=template, timing=timing, gains=gains, options=options,
                                rng=rng, entities={"subject": subject,
                                                   "session": f"{session:02d}" if options.sessions > 1 else None,
                                                   "run": f"{run:02d}" if options.runs > 1 else None})
    write_dataset_files(out_dir, participants=participants, options=options)
    if options.groups:
        write_group_truth(out_dir, pairs=template["Pairs"], participants=gains_by_participant, options=options)
    return out_dir


def subject_gains(template: dict, *, options: SimulationOptions, rng,
                  factor: float = 1.0) -> dict[tuple[str, str], float]:
    """True HbO amplitude (uM) per (pair, condition) for one participant: the mean amplitude times the
    participant's and the channel's relative variation, times ``factor`` (the group's)."""
    subject_scale = max(0.1, 1 + options.between_subject_sd * rng.standard_normal())
    gains = {}
    for pair in template["Pairs"]:
        for condition in CONDITIONS:
            if not responds(pair, condition, options=options):
                gains[(pair, condition)] = 0.0
                continue
            channel_scale = max(0.1, 1 + options.between_channel_sd * rng.standard_normal())
            gains[(pair, condition)] = mean_amplitude(pair, condition, options=options) * subject_scale * channel_scale
            if factor != 1.0:
                gains[(pair, condition)] *= factor
    return gains


def write_dataset_files(out_dir: Path, *, participants, options: SimulationOptions) -> None:
    import pandas as pd

    table = pd.DataFrame(participants)
    table.to_csv(out_dir / "participants.tsv", sep="\t", index=False)
    sidecar = out_dir / "participants.json"  # mne-bids describes columns (hand, weight, ...) we do not write
    if sidecar.is_file():
        described = json.loads(sidecar.read_text())
        described = {k: v for k, v in described.items() if k in table.columns}
        if options.groups:
            first, second = options.groups
            described["group"] = {"Description": "Simulated group (participants alternate, sub-01 in the first)",
                                  "Levels": {first: "response amplitudes as simulated",
                                             second: f"response amplitudes x {options.group_effect:g} of {first}'s"}}
        sidecar.write_text(json.dumps(described, indent=2) + "\n")
    description = json.loads((out_dir / "dataset_description.json").read_text())
    description.update({
        "Name": "fnirs-glm simulated finger-tapping study",
        "Authors": ["fnirs-glm simulator", "Robert Luke (template design)", "David McAlpine (template design)"],
        "GeneratedBy": [{"Name": "fnirs-glm-simulate", "Description": json.dumps(options.recorded())}],
        "SourceDatasets": [{"DOI": "doi:10.5281/zenodo.5529797"}],
        "License": "CC0",
    })
    (out_dir / "dataset_description.json").write_text(json.dumps(description, indent=2) + "\n")
    (truth_folder(out_dir) / "simulation.json").write_text(json.dumps(options.recorded(), indent=2) + "\n")
