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
_CHANNEL_COLUMNS = {
    "ch_name": {"Description": "Haemoglobin channel: source-detector pair and chroma, e.g. 'S1_D1 hbo'"},
    "source": {"Description": "Source optode, as in optodes.tsv"},
    "detector": {"Description": "Detector optode, as in optodes.tsv"},
    "chroma": {"Description": "Haemoglobin species",
               "Levels": {"hbo": "oxygenated haemoglobin", "hbr": "deoxygenated haemoglobin"}},
}
_CONDITION = {"condition": {"Description": "Condition: a trial_type of events.tsv, verbatim"}}


def channel_stats_sidecar(*, noise_model: str) -> dict:
    return {
        "Description": "First-level GLM estimates per long channel, chroma and condition "
        f"(noise model {noise_model}); bad channels are left out.",
        **_CHANNEL_COLUMNS, **_CONDITION, **_STAT_COLUMNS,
    }


def roi_stats_sidecar(*, rois: dict[str, list[str]], noise_model: str) -> dict:
    return {
        "Description": "First-level GLM estimates per region of interest: the good long channels of "
        "each ROI are averaged per chroma and the average signal is fitted with the same design and "
        f"noise model ({noise_model}), so the standard error reflects the correlation between channels.",
        "roi": {"Description": "Region of interest", "Levels": {name: ", ".join(pairs) or "no good channel"
                                                                for name, pairs in rois.items()}},
        "chroma": _CHANNEL_COLUMNS["chroma"], **_CONDITION, **_STAT_COLUMNS,
        "n_channels": {"Description": "Number of good long channels averaged in the ROI for this chroma"},
    }


def contrast_stats_sidecar(*, contrasts: dict[str, dict[str, float]], noise_model: str) -> dict:
    return {
        "Description": f"First-level contrasts of conditions per long channel (noise model {noise_model}).",
        "contrast": {"Description": "Contrast expression",
                     "Levels": {name: {"Weights": weights} for name, weights in contrasts.items()}},
        **_CHANNEL_COLUMNS, **_STAT_COLUMNS,
        "effect": {"Description": "Weighted sum of condition effects given by the contrast", "Units": "uM"},
    }


_SIGNAL_COLUMNS = {  # the waveform and block-average tables: one signal per row, an ROI or a channel
    "roi": {"Description": "Region of interest of the row (n/a on a channel row); ROIs without a good "
            "channel have no rows"},
    "ch_name": {"Description": _CHANNEL_COLUMNS["ch_name"]["Description"] + " (n/a on an ROI row)"},
    "chroma": _CHANNEL_COLUMNS["chroma"],
    **_CONDITION,
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
    from bids_app.first_level import quality

    low, high = quality.CARDIAC_BAND_HZ
    return {
        "Description": "Quality of every channel of channels.tsv and whether it entered the GLM.",
        "name": {"Description": "Channel name, as in channels.tsv"},
        "type": {"Description": "Channel type, as in channels.tsv"},
        "units": {"Description": "Units of the raw channel data, as in channels.tsv"},
        "source": _CHANNEL_COLUMNS["source"],
        "detector": _CHANNEL_COLUMNS["detector"],
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
                   generated_by: dict, outputs: list[str]) -> dict:
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
        "ShortChannelRegression": options["short_regression"],
        "MotionCorrection": options["motion_correction"],
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


_GROUP_COLUMNS = {
    "roi": {"Description": "Region of interest (as in the participant-level ROI tables)"},
    "ch_name": _CHANNEL_COLUMNS["ch_name"],
    "chroma": _CHANNEL_COLUMNS["chroma"],
    "condition": _CONDITION["condition"],
    "contrast": {"Description": "Contrast expression (as in the participant-level contrast tables)"},
    "time": {"Description": "Centre of the FIR bin, from the onset of the events (as in the participant-level "
             "waveform tables)", "Units": "s"},
    "term": {"Description": "What the row estimates: 'mean' = the cell's group effect (for the participants "
             "of the row's covariate level, at the participants' mean of any numeric covariate); the name of a "
             "numeric covariate = the cell's slope of the participant effects on that covariate (effect, se and "
             "interval then in uM per unit of the covariate)"},
    "effect": {"Description": "Group estimate of the cell (see term)", "Units": "uM"},
    "se": {"Description": "Standard error of the group estimate", "Units": "uM"},
    "t": {"Description": "effect / se"},
    "df": {"Description": "Degrees of freedom of t: participants in the cell minus the number of "
           "group-model coefficients (n/a for mixedlm, whose inference is normal)"},
    "z": {"Description": "Standard normal quantile with the same two-sided p-value as t and its sign "
          "(comparable across methods and group sizes; equals t for mixedlm)"},
    "p": {"Description": "Two-sided p-value of t under Student's t distribution with df degrees of freedom "
          "(standard normal for mixedlm)"},
    "q": {"Description": "Benjamini-Hochberg false discovery rate adjusted p-value, within this table, chroma "
          "and term"},
    "ci_low": {"Description": "Lower bound of the 95% confidence interval: effect - t(0.975, df) se "
               "(1.96 se for mixedlm)", "Units": "uM"},
    "ci_high": {"Description": "Upper bound of the 95% confidence interval: effect + t(0.975, df) se "
                "(1.96 se for mixedlm)", "Units": "uM"},
    "n": {"Description": "Number of participants behind the row (both groups for a difference row)"},
    "tau": {"Description": "Between-participant standard deviation of the cell's true effects (square root "
            "of the REML estimate of tau^2; 0 when estimated at its boundary)", "Units": "uM"},
    "i2": {"Description": "Share of the cell's total variance that lies between participants: tau^2 / (tau^2 "
           "+ typical first-level variance), 0 to 1 (Higgins & Thompson's I^2 as computed by metafor)"},
}

_GROUP_MODELS = {
    "random-effects": "Per cell, a random-effects meta-regression of the participant effects: effect_i = x_i'b "
    "+ u_i + e_i with e_i ~ N(0, se_i^2) (the participant's first-level standard error) and u_i ~ N(0, tau^2) "
    "(between participants); tau^2 by restricted maximum likelihood (REML), b by weighted least squares with "
    "weights 1 / (se_i^2 + tau^2), inference with the Knapp-Hartung (Hartung-Knapp-Sidik-Jonkman) adjustment "
    "and t on n - p degrees of freedom (as R metafor rma(method='REML', test='knha')). A participant's "
    "recordings (sessions, runs) are first combined by inverse-variance weighting, so n counts participants.",
    "ols": "Per cell, ordinary least squares of the participant effects (a one-sample t-test without "
    "covariates), unweighted: the first-level standard errors are not used; t on n - p degrees of freedom. A "
    "participant's recordings (sessions, runs) are first combined by inverse-variance weighting, so n counts "
    "participants.",
    "mixedlm": "The MNE-NIRS tutorial's model, kept to reproduce the tutorial: a linear mixed-effects model "
    "{formula} with a random intercept per participant (statsmodels MixedLM, REML, Nelder-Mead), one model per "
    "{per}; recordings of one participant are repeated observations of it. It assumes that every cell of a "
    "model has the same residual variance (the same spread of participants around the cell mean) and it "
    "ignores the first-level standard errors; its p-values and intervals are normal (z) whatever the number "
    "of participants, so with few participants or cells that differ in spread they are not calibrated.",
}


def group_stats_sidecar(*, spec, method: str, subjects: list[str], recordings: list[str], notes: list[str],
                        group_by: str | None = None, numeric: tuple[str, ...] = ()) -> dict:
    covariates = ([f"{group_by} (one coefficient per level)"] if group_by else ["1 (intercept)"]) + [
        f"{c} (centred on the participants' mean)" for c in numeric]
    if method == "mixedlm":
        formula = (spec.formula + (f":{group_by}" if group_by else "")
                   + "".join(f" + {':'.join(spec.cells)}:{c} (centred)" for c in numeric))
    else:
        formula = f"per {' x '.join(spec.cell_columns)}: effect ~ " + " + ".join(covariates)
    covariate_columns = {group_by: {"Description": f"Level of the participants.tsv column {group_by!r}, or "
                                    "'<level> - <first level>' for a between-group difference (n/a on a "
                                    "slope row: the slope is common to all levels)"}} if group_by else {}
    extra = ["tau", "i2"] if method == "random-effects" else []
    return {
        "Description": f"Group-level {spec.description} statistics across participants.",
        "Method": method,
        "Model": _GROUP_MODELS[method].format(formula=spec.formula,
                                              per=" and ".join(spec.split) if spec.split else "table"),
        "Formula": formula,
        "Covariates": [group_by] * bool(group_by) + list(numeric),
        "Participants": subjects,
        "Recordings": recordings,
        "Warnings": notes,
        **{c: _GROUP_COLUMNS[c] for c in spec.cell_columns}, **covariate_columns,
        **{c: _GROUP_COLUMNS[c] for c in ["term", "effect", "se", "t", "df", "z", "p", "q", "ci_low", "ci_high",
                                          "n", *extra]},
    }
