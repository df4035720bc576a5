"""The sidecar of a group table: the model, the participants and recordings behind it, its warnings and
every column described (the columns are those of ``models.table_columns``: one list for the table and its
sidecar)."""

from __future__ import annotations

from bids_app.first_level.sidecars import CHANNEL_COLUMNS, CONDITION_COLUMN
from bids_app.group_level.models import TableSpec, table_columns

_GROUP_COLUMNS = {
    "roi": {"Description": "Region of interest (as in the participant-level ROI tables)"},
    "ch_name": CHANNEL_COLUMNS["ch_name"],
    "chroma": CHANNEL_COLUMNS["chroma"],
    "condition": CONDITION_COLUMN["condition"],
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



def group_stats_sidecar(*, spec: TableSpec, method: str, subjects: list[str], recordings: list[str],
                        notes: list[str], group_by: str | None = None, numeric: tuple[str, ...] = (),
                        stats_model: dict | None = None) -> dict:
    """The sidecar; ``stats_model``: with --model, its name, file, nodes and group contrasts (row -> Name)."""
    covariates = ([f"{group_by} (one coefficient per level)"] if group_by else ["1 (intercept)"]) + [
        f"{c} (centred on the participants' mean)" for c in numeric]
    if method == "mixedlm":
        formula = (spec.formula + (f":{group_by}" if group_by else "")
                   + "".join(f" + {':'.join(spec.cells)}:{c} (centred)" for c in numeric))
    else:
        formula = f"per {' x '.join(spec.cell_columns)}: effect ~ " + " + ".join(covariates)
    columns = dict(_GROUP_COLUMNS)
    if group_by:
        columns[group_by] = {"Description": f"Level of the participants.tsv column {group_by!r}, or '<level> - "
                             "<first level>' for a between-group difference (n/a on a slope row: the slope is "
                             "common to all levels)"}
    return {
        "Description": f"Group-level {spec.description} statistics across participants.",
        **({"StatsModel": stats_model} if stats_model else {}),
        "Method": method,
        "Model": _GROUP_MODELS[method].format(formula=spec.formula,
                                              per=" and ".join(spec.split) if spec.split else "table"),
        "Formula": formula,
        "Covariates": [group_by] * bool(group_by) + list(numeric),
        "Participants": subjects,
        "Recordings": recordings,
        "Warnings": notes,
        **{c: columns[c] for c in table_columns(spec, method=method, group_by=group_by)},
    }
