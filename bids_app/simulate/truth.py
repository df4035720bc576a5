"""The ground truth of a simulated study, written to ``sourcedata/ground_truth/``."""

from __future__ import annotations

import json
from pathlib import Path

from bids_app.simulate.options import CONDITIONS, SimulationOptions


def truth_folder(out_dir: Path) -> Path:
    return Path(out_dir) / "sourcedata" / "ground_truth"


def responds(pair: str, condition: str, *, options: SimulationOptions) -> bool:
    """Whether ``pair`` carries a response to ``condition``: long pairs, Tapping conditions, not --null."""
    detector = int(pair.split("_")[1][1:])
    return not (options.null or detector > 8 or condition == "Control")


def is_left(pair: str) -> bool:
    """Sources 1-4 are over the left hemisphere, 5-8 over the right."""
    return int(pair.split("_")[0][1:]) <= 4


def mean_amplitude(pair: str, condition: str, *, options: SimulationOptions) -> float:
    """HbO amplitude (uM) of ``pair`` for ``condition`` in the first group (or everyone): its expected value
    over participants and channels, whose relative variation has mean 1. Tapping/Left activates the right
    hemisphere, Tapping/Right the left one; the ipsilateral hemisphere gets a fraction."""
    if not responds(pair, condition, options=options):
        return 0.0
    contralateral = (condition == "Tapping/Left") != is_left(pair)
    return options.contralateral_um * (1 if contralateral else options.ipsilateral_fraction)


def write_recording_truth(out_dir, bids_path, *, pairs, gains, bad, hbr_fraction, conditions, short,
                          motion, stretches=()) -> None:
    """Per recording: the true effect of every channel (``*_truth.tsv``), the bad channels, the motion
    (``*_motion.tsv``: onset, duration, kind, optode ("n/a" when cap-wide), channels (the hit pairs, comma-
    separated, or "all")) and the lost or saturated stretches (``*_badsegments.tsv``: pair, onset, duration,
    kind)."""
    import pandas as pd

    rows = []
    for pair in pairs:
        for condition in conditions:
            hbo = gains[(pair, condition)]
            for chroma, value in (("hbo", hbo), ("hbr", hbo * hbr_fraction)):
                rows.append({"ch_name": f"{pair} {chroma}", "role": "short" if pair in short else "long",
                             "condition": condition, "chroma": chroma, "effect_um": value})
    folder = truth_folder(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = bids_path.copy().update(datatype=None, root=None).basename
    pd.DataFrame(rows).to_csv(folder / f"{stem}_truth.tsv", sep="\t", index=False, float_format="%.10g")
    (folder / f"{stem}_bad_channels.json").write_text(json.dumps(bad, indent=1) + "\n")
    pd.DataFrame(motion, columns=["onset", "duration", "kind", "optode", "channels"]).to_csv(
        folder / f"{stem}_motion.tsv", sep="\t", index=False, float_format="%.6g")
    pd.DataFrame(list(stretches), columns=["pair", "onset", "duration", "kind"]).to_csv(
        folder / f"{stem}_badsegments.tsv", sep="\t", index=False, float_format="%.6g")


def write_group_truth(out_dir: Path, *, pairs: list[str], participants: list[tuple[str, dict]],
                      options: SimulationOptions) -> None:
    """``group_truth.tsv``: per ROI (the long pairs of each hemisphere, named and grouped as fnirs-glm's
    default ROIs on this montage), chroma and condition, each group's true ROI effect (uM) and the
    difference "second - first" (the order of --groups). ``effect_um``: the expected value (mean amplitude,
    times --group-effect in the second group); ``study_effect_um``: its value in this study, the mean over
    the group's participants (``participants``: (group, gains) each) of their amplitudes over the ROI."""
    import numpy as np
    import pandas as pd

    first, second = options.groups
    long_pairs = [p for p in pairs if int(p.split("_")[1][1:]) <= 8]
    rows = []
    for roi, left in (("left_hemisphere", True), ("right_hemisphere", False)):
        members = [p for p in long_pairs if is_left(p) == left]
        for chroma, scale in (("hbo", 1.0), ("hbr", options.hbr_fraction)):
            for condition in CONDITIONS:
                values = {}
                for group, factor in ((first, 1.0), (second, options.group_effect)):
                    expected = factor * np.mean([mean_amplitude(p, condition, options=options) for p in members])
                    study = np.mean([gains[(p, condition)] for g, gains in participants if g == group
                                     for p in members])
                    values[group] = scale * np.array([expected, study]) + 0.0  # + 0.0: no -0 in the table
                values[f"{second} - {first}"] = values[second] - values[first]
                rows += [{"roi": roi, "chroma": chroma, "condition": condition, "group": group,
                          "effect_um": value[0], "study_effect_um": value[1]} for group, value in values.items()]
    pd.DataFrame(rows).to_csv(truth_folder(out_dir) / "group_truth.tsv", sep="\t", index=False,
                              float_format="%.10g")
