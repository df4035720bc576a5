"""Writing a FirstLevelResult: its tables and sidecars, under the names of bids_app.layout, in one call."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bids_app.channels import channel_pair
from bids_app.first_level.fit import FirstLevelResult
from bids_app.layout import RecordingOutputs


@dataclass(frozen=True)
class Provenance:
    """What made a recording's outputs: the version, the participant-level options (as recorded, JSON values)
    and the checksums of the input files. Recorded in the design sidecar (GeneratedBy); a rerun compares it
    with the one on disk to skip recordings that are up to date."""

    version: str
    options: dict
    checksums: dict[str, str]

    @classmethod
    def of(cls, options, *, checksums: dict[str, str]) -> Provenance:
        """The provenance of outputs made now with the options ``options`` (FirstLevelOptions)."""
        from bids_app import __version__

        return cls(__version__, options.participant_level(), dict(checksums))

    def record(self) -> dict:
        """The design sidecar's GeneratedBy."""
        return {"Name": "fnirs-glm", "Version": self.version, "Options": self.options,
                "InputChecksums": self.checksums}


def write_recording(result: FirstLevelResult, *, outputs: RecordingOutputs, provenance: Provenance) -> list[Path]:
    """Write every output file of ``result``; returns their paths. Either all are written or none (those
    already written are removed when one fails). The design sidecar, which records what produced the outputs
    and lists them, is removed first and written last: a run killed in between leaves no record, so the next
    run redoes the recording."""
    from bids_app.derivatives import write_atomic

    files = recording_files(result, outputs=outputs, provenance=provenance)
    record = outputs.design_json
    record.unlink(missing_ok=True)
    written = []
    try:
        for path in sorted(files, key=lambda p: p == record):  # the record last
            write_atomic(path, files[path])
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return list(files)


def recording_files(result: FirstLevelResult, *, outputs: RecordingOutputs,
                    provenance: Provenance) -> dict[Path, str | bytes]:
    """{path: content} of every output file of ``result`` (text; bytes for the PNG figures)."""
    from bids_app.derivatives import json_text, tsv_text
    from bids_app.first_level import sidecars

    options, noise_model = provenance.options, result.noise_model.label
    window = options["fir_window"]
    files = {
        outputs.design_tsv: tsv_text(result.design),
        outputs.stats("channel"): tsv_text(result.channel_stats),
        outputs.stats("channel", ".json"): json_text(sidecars.channel_stats_sidecar(noise_model=noise_model)),
        outputs.stats("roi"): tsv_text(result.roi_stats),
        outputs.stats("roi", ".json"): json_text(sidecars.roi_stats_sidecar(
            rois=result.rois, noise_model=noise_model, definitions=result.roi_definitions)),
        outputs.stats("waveform"): tsv_text(result.waveform_stats),
        outputs.stats("waveform", ".json"): json_text(sidecars.waveform_stats_sidecar(
            noise_model=noise_model, window=window, bin_width=1 / result.sfreq, design_rate=options["design_rate"])),
        outputs.stats("blockaverage"): tsv_text(result.block_average_stats),
        outputs.stats("blockaverage", ".json"): json_text(sidecars.block_average_sidecar(window=window)),
        outputs.qc_tsv: tsv_text(result.qc),
        outputs.qc_json: json_text(sidecars.qc_channels_sidecar(
            sci_threshold=options["sci_threshold"], psp_threshold=options["psp_threshold"],
            coordinate_system=result.coordinate_system, warnings=list(result.warnings))),
    }
    if result.contrast_stats is not None:
        files[outputs.stats("contrast")] = tsv_text(result.contrast_stats)
        files[outputs.stats("contrast", ".json")] = json_text(
            sidecars.contrast_stats_sidecar(contrasts=result.contrasts, noise_model=noise_model))
    if result.anatomy is not None:
        from bids_app.anatomy.recording import anatomy_sidecar, shares_sidecar
        from bids_app.channels import natural_key

        pairs = sorted(set(result.qc["name"].map(channel_pair)), key=natural_key)
        long_pairs = set(result.qc.loc[result.qc["role"] == "long", "name"].map(channel_pair))
        ch_names = [f"{pair} {chroma}" for pair in pairs for chroma in ("hbo", "hbr")]
        files[outputs.anatomy()] = tsv_text(result.anatomy.table(ch_names, labelled=long_pairs))
        if result.anatomy.atlas:
            files[outputs.label_shares()] = tsv_text(result.anatomy.shares(labelled=long_pairs))
            files[outputs.label_shares(".json")] = json_text(shares_sidecar(atlas=result.anatomy.atlas))
        files[outputs.anatomy(".json")] = json_text(anatomy_sidecar(
            result.anatomy, shares_file=outputs.label_shares().name if result.anatomy.atlas else None))
    if result.signals is not None:
        from bids_app.report.signals import recording_figures

        for description, (png, svg) in recording_figures(result.signals, title=outputs.name).items():
            files[outputs.figure(description)], files[outputs.figure(description, ".svg")] = png, svg
    files[outputs.design_json] = json_text(sidecars.design_sidecar(
        design_columns=list(result.design.columns), conditions=result.conditions, sfreq=result.sfreq,
        options=options, noise_model=result.noise_model, short_regressors=result.short_regressors,
        condition_vif=result.condition_vif, motion_transitions=result.motion_transitions,
        motion_local=result.motion_local,
        anatomy=None if result.anatomy is None else result.anatomy.record(),
        bad_segment_pairs=int(result.qc.loc[(result.qc["status"] == "good") & (result.qc["role"] == "long")
                                            & (result.qc["bad_share"] > 0), "name"].map(channel_pair).nunique()),
        generated_by=provenance.record(),
        outputs=sorted(os.path.relpath(p, outputs.folder) for p in [*files, outputs.design_json])))
    return files
