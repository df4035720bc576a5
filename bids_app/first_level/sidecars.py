"""JSON sidecars: every column of every table described, with its units."""

from __future__ import annotations

import math

_STAT_COLUMNS = {
    "effect": {"Description": "GLM estimate (beta) of the condition's haemoglobin response amplitude",
               "Units": "uM"},
    "se": {"Description": "Standard error of the effect", "Units": "uM"},
    "t": {"Description": "t statistic: effect / se"},
    "df": {"Description": "Residual degrees of freedom of the fit: samples minus the rank of the design (ar-irls: "
           "the sum of the robust weights minus the rank)"},
    "p": {"Description": "Two-sided p-value of t under Student's t distribution with df degrees of freedom"},
    "ar_order": {"Description": "Order of the autoregressive noise model of this signal (0: none); with the "
                 "ar-irls noise model chosen per signal by BIC"},
}
CHANNEL_COLUMNS = {
    "ch_name": {"Description": "Haemoglobin channel: source-detector pair and chroma, e.g. 'S1_D1 hbo'"},
    "source": {"Description": "Source optode, as in optodes.tsv"},
    "detector": {"Description": "Detector optode, as in optodes.tsv"},
    "chroma": {"Description": "Haemoglobin species",
               "Levels": {"hbo": "oxygenated haemoglobin", "hbr": "deoxygenated haemoglobin"}},
}
CONDITION_COLUMN = {"condition": {"Description": "Condition: a trial_type of events.tsv, verbatim"}}


def channel_stats_sidecar(*, noise_model: str) -> dict:
    return {
        "Description": "First-level GLM estimates per long channel, chroma and condition "
        f"(noise model {noise_model}); bad channels are left out.",
        **CHANNEL_COLUMNS, **CONDITION_COLUMN, **_STAT_COLUMNS,
    }


def roi_stats_sidecar(*, rois: dict[str, list[str]], noise_model: str, definitions: dict | None = None) -> dict:
    anatomical = {name: {**region, "Members": rois.get(name, [])} for name, region in (definitions or {}).items()
                  if isinstance(region, dict)}
    return {
        "Description": "First-level GLM estimates per region of interest: the good long channels of "
        "each ROI are averaged per chroma and the average signal is fitted with the same design and "
        f"noise model ({noise_model}), so the standard error reflects the correlation between channels.",
        "roi": {"Description": "Region of interest", "Levels": {name: ", ".join(pairs) or "no good channel"
                                                                for name, pairs in rois.items()}},
        "chroma": CHANNEL_COLUMNS["chroma"], **CONDITION_COLUMN, **_STAT_COLUMNS,
        "n_channels": {"Description": "Number of good long channels averaged in the ROI for this chroma"},
        **({"AnatomicalROIs": anatomical,
            "AnatomicalROIsDescription": "regions defined by atlas labels: their members are the long pairs whose "
            "shares of the labels in the region's atlas (computed from this recording's registration as "
            "desc-labelshares_channels.tsv is for --atlas) add up to at least min_specificity; bad pairs are then "
            "left out"} if anatomical else {}),
    }


def contrast_stats_sidecar(*, contrasts: dict[str, dict[str, float]], noise_model: str) -> dict:
    return {
        "Description": f"First-level contrasts of conditions per long channel (noise model {noise_model}).",
        "contrast": {"Description": "Contrast expression",
                     "Levels": {name: {"Weights": weights} for name, weights in contrasts.items()}},
        **CHANNEL_COLUMNS, **_STAT_COLUMNS,
        "effect": {"Description": "Weighted sum of condition effects given by the contrast", "Units": "uM"},
    }


_SIGNAL_COLUMNS = {  # the waveform and block-average tables: one signal per row, an ROI or a channel
    "roi": {"Description": "Region of interest of the row (n/a on a channel row); ROIs without a good "
            "channel have no rows"},
    "ch_name": {"Description": CHANNEL_COLUMNS["ch_name"]["Description"] + " (n/a on an ROI row)"},
    "chroma": CHANNEL_COLUMNS["chroma"],
    **CONDITION_COLUMN,
}


def waveform_stats_sidecar(*, noise_model: str, window: tuple[float, float], bin_width: float,
                           design_rate: str) -> dict:
    return {
        "Description": "Response waveforms: a finite-impulse-response (FIR) deconvolution per long channel and "
        "per region of interest (the ROI's average signal, as in the ROI table). Each condition's response is "
        "modelled over the window as a piecewise-constant time course, one free value per bin of the fitted "
        "sampling interval (regressor of a bin: 1 while the time since an onset of the condition lies in the "
        f"bin; built at the recording's rate and resampled as the data when the design rate is native, here "
        f"{design_rate}); the GLM's nuisance regressors (short channels, cosine drifts, constant) and noise "
        f"model ({noise_model}) are kept. An effect is the mean response over its bin to one event of the "
        "condition as it occurred (with its duration).",
        "FIRWindow": list(window),
        "FIRWindowUnits": "s",
        "FIRBinWidth": bin_width,
        "FIRBinWidthUnits": "s",
        **_SIGNAL_COLUMNS,
        "time": {"Description": "Centre of the FIR bin, from the onset of the events", "Units": "s"},
        "effect": {"Description": "FIR estimate: mean haemoglobin change over the bin, relative to the "
                   "signal's baseline (constant and drifts)", "Units": "uM"},
        "se": {"Description": "Standard error of the effect", "Units": "uM"},
    }


def block_average_sidecar(*, window: tuple[float, float]) -> dict:
    return {
        "Description": "Block averages: the haemoglobin signals the GLM fits (good long channels, and each ROI's "
        "average signal; no regressor removed) cut around every event of a condition, at lags from round(START x "
        "rate) to round(END x rate) samples of the sample nearest the onset (MNE's Epochs), epochs not wholly "
        "inside the recording left out; each epoch minus its mean over the lags up to and including 0 (MNE's "
        "baseline (None, 0); none when the window starts after onset); then the mean over the epochs.",
        "Window": list(window),
        "WindowUnits": "s",
        **_SIGNAL_COLUMNS,
        "time": {"Description": "Lag from the sample nearest the onset", "Units": "s"},
        "effect": {"Description": "Mean baseline-corrected signal over the condition's epochs", "Units": "uM"},
        "se": {"Description": "Standard error of the mean over epochs: sd (n - 1) / sqrt(n); n/a with one epoch",
               "Units": "uM"},
        "n": {"Description": "Number of epochs averaged"},
    }


def qc_channels_sidecar(*, sci_threshold: float | None, psp_threshold: float | None,
                        coordinate_system: str | None, warnings: list[str]) -> dict:
    from bids_app.first_level import bad_segments, quality

    low, high = quality.CARDIAC_BAND_HZ
    return {
        "Description": "Quality of every channel of channels.tsv and whether it entered the GLM.",
        "name": {"Description": "Channel name, as in channels.tsv"},
        "type": {"Description": "Channel type, as in channels.tsv"},
        "units": {"Description": "Units of the raw channel data, as in channels.tsv"},
        "source": CHANNEL_COLUMNS["source"],
        "detector": CHANNEL_COLUMNS["detector"],
        "wavelength_nominal": {"Description": "Nominal wavelength", "Units": "nm"},
        "distance_mm": {"Description": "Source-detector distance", "Units": "mm"},
        **{axis: {"Description": f"{axis} of the channel position (midpoint of source and detector) in "
                  "the frame of the recording's optode positions: MNE's head frame (RAS from the nasion "
                  "and ears) when the file has landmarks, else the file's own coordinates", "Units": "m"}
           for axis in ("x", "y", "z")},
        "role": {"Description": "Use of the channel by distance", "Levels": {
            "long": "a measurement channel, modelled by the GLM",
            "short": "a short-separation channel, source of the nuisance regressors",
            "unused": "neither short nor long: not used"}},
        "sci": {"Description": "Scalp coupling index (Pollonini et al. 2014): correlation of the two "
                "wavelengths of the pair in the 0.7-1.5 Hz cardiac band (n/a when it cannot be computed)"},
        "psp": {"Description": "Peak spectral power of the cardiac band (Pollonini et al. 2016; as MNE-NIRS's "
                "peak_power): in each window of the optical density, band-passed to "
                f"{low:g}-{high:g} Hz, the maximum of the periodogram (Hamming window) of the full "
                "cross-correlation of the pair's two wavelengths, each divided by its standard deviation, "
                "divided by the window length; the median over the recording's consecutive "
                f"{quality.PSP_WINDOW_S:g} s windows (an incomplete last window left out). The pair's value "
                "(n/a when it cannot be computed)"},
        "motion_burden": {"Description": "Share of the sample steps of the optical density flagged as motion "
                          "(0 to 1): a step of a channel (its temporal derivative, one sample to the next) is "
                          f"flagged when it is more than {quality.MOTION_ROBUST_SDS:g} robust standard "
                          f"deviations ({quality.MAD_TO_SD} x the median absolute deviation of the channel's "
                          "steps) from its median step, a step of the pair when any of its wavelengths' is. "
                          "Computed before any motion correction. The pair's value (n/a for a signal without "
                          "spread)"},
        "bad_segments": {"Description": "The spans (onset-end in seconds from the first sample, ';'-separated; "
                         "n/a: none) left out of the channel's fit and block averages (--bad-segments): events "
                         "whose trial_type starts with BAD, and with auto the spans of at least "
                         f"{bad_segments.MIN_SECONDS:g} s where the pair's intensity is flat or below "
                         f"{bad_segments.COLLAPSED_SHARE:g} x its median; widened by one fitted sample on each "
                         "side when resampled"},
        "bad_share": {"Description": "Share of the recording covered by bad_segments (0 to 1)"},
        "status": {"Description": "Whether the channel was used", "Levels": {
            "good": "used", "bad": "excluded from the GLM, the ROIs and the short-channel regressors"}},
        "status_description": {"Description": "Why the channel is bad"},
        "SCIThreshold": sci_threshold,
        "PSPThreshold": psp_threshold,
        "PSPWindowSeconds": quality.PSP_WINDOW_S,
        "MotionThresholdRobustSD": quality.MOTION_ROBUST_SDS,
        "NIRSCoordinateSystem": coordinate_system or "n/a",
        "Warnings": warnings,
    }


def design_sidecar(*, design_columns: list[str], conditions: list[str], sfreq: float, options: dict,
                   noise_model, short_regressors: list[str], condition_vif: dict[str, float],
                   motion_transitions: int | None, generated_by: dict, outputs: list[str],
                   motion_local: dict[str, int] | None = None,
                   anatomy: dict | None = None, bad_segment_pairs: int = 0) -> dict:
    """``options``: the recorded participant-level options; ``noise_model``: the NoiseModel fitted;
    ``generated_by``: Provenance.record()."""
    from bids_app.first_level.collinearity import VIF_LIMIT
    from bids_app.logs import library_versions

    return {
        "Description": "Design matrix fitted to every haemoglobin signal of the recording; one row "
        "per sample of the resampled signals.",
        "SamplingFrequency": sfreq,
        "SamplingFrequencyUnits": "Hz",
        "HRFModel": options["hrf"],
        "DesignRate": options["design_rate"],
        "DesignRateDescription": "native: condition regressors built at the recording's sampling rate and "
        "resampled exactly as the data; resampled: built at the resampled rate (as MNE-NIRS)",
        "DriftModel": "cosine",
        "DriftHighPass": options["drift_high_pass"],
        "NoiseModel": noise_model.description,
        "AROrder": noise_model.ar_order,
        "AROrderDescription": "the AR order of every signal (auto, ar1), or the largest order the BIC search "
        "considered (ar-irls: each signal's own order is the ar_order column of the tables)",
        "ARBiasCorrection": options["ar_bias_correction"] if noise_model.ar_order else "n/a",
        "ARBiasCorrectionDescription": "worsley: AR coefficients from the least-squares residuals' autocovariances "
        "corrected for the design's projection (Worsley et al. 2002); none: from the residuals' autocovariances",
        "ShortChannelRegression": options["short_regression"],
        "BadSegments": options.get("bad_segments", "none"),
        "BadSegmentPairs": bad_segment_pairs,
        "BadSegmentsDescription": "--bad-segments, and the number of good long source-detector pairs with samples "
        "left out of their fit (their spans and shares: the QC table's bad_segments and bad_share)",
        "MotionCorrection": options["motion_correction"],
        "MotionTransitions": motion_transitions if motion_transitions is not None else "n/a",
        "MotionTransitionsDescription": "level-shifts: number of transitions (motion edges shared by most "
        "channels) whose level changes were removed from the optical density of every channel",
        "MotionLocalTransitions": motion_local if motion_local is not None else "n/a",
        "MotionLocalTransitionsDescription": "level-shifts: per optode (source or detector), the number of "
        "transitions of its channels alone (one optode moved) whose level changes were removed from the optical "
        "density of the channels of its pairs",
        "Anatomy": anatomy or "n/a",
        "AnatomyDescription": "the registration of the optodes to MNI152, which fiducials it used, and the atlas of "
        "the channel labels (desc-anatomy_channels.json); n/a: no 3-D head positions",
        "StimulusDuration": options["stim_dur"] if options["stim_dur"] is not None else "from events.tsv",
        "Conditions": conditions,
        "RegressorNames": design_columns,
        "ShortChannelRegressors": short_regressors,
        "Columns": {c: ("condition: events convolved with the HRF" if c in conditions else
                        "short-channel nuisance regressor (uM)" if c in short_regressors else
                        "constant" if c == "constant" else "cosine drift") for c in design_columns},
        "ConditionVIF": {c: value if math.isfinite(value) else None for c, value in condition_vif.items()},
        "ConditionVIFDescription": "Variance inflation factor of each condition regressor: 1 / (1 - R^2) of the "
        "least-squares regression of its column on all other columns of the design (the other conditions, "
        "short-channel regressors, drifts and constant; R^2 about the mean), before prewhitening: how many "
        "times larger the variance of its effect is than with a column orthogonal to the others (null: a "
        "linear combination of them)",
        "VIFLimit": VIF_LIMIT,
        "GeneratedBy": generated_by,
        "SoftwareVersions": library_versions(),
        "Outputs": outputs,
    }
