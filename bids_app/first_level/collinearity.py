"""Collinearity of a first-level design: the variance inflation factor (VIF) of each condition regressor.

VIF_j = 1 / (1 - R^2_j), where R^2_j is the coefficient of determination of the least-squares regression of
condition column j on all the other columns of the design: the nuisance regressors (short channels, cosine
drifts, constant) and the other conditions. This is the standard definition (statsmodels'
``variance_inflation_factor``) and the factor by which the sampling variance of condition j's effect exceeds
what it would be if column j were orthogonal to the rest of the model, so it is what the standard errors in
the tables pay for. A condition-only version would hide the nuisance regressors' share and a nuisance-only
version the overlap of conditions (e.g. closely spaced events); both inflate the variance the same way.
R^2 is taken about the mean when the design has a constant (as statsmodels does), else about 0. It is
computed on the design matrix as written (before any prewhitening of the noise model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Above 5, R^2 > 0.8: the condition's standard error is more than sqrt(5) = 2.24 times that of an
# orthogonal design, as if four fifths of the recording carried no information about it.
VIF_LIMIT = 5.0


def condition_vif(design: pd.DataFrame, conditions: list[str]) -> dict[str, float]:
    """{condition: VIF} (inf when the column is a linear combination of the others)."""
    values = design.to_numpy(dtype=float)
    about_mean = "constant" in design.columns
    vif = {}
    for condition in conditions:
        column = design.columns.get_loc(condition)
        target, others = values[:, column], np.delete(values, column, axis=1)
        coefficients, *_ = np.linalg.lstsq(others, target, rcond=None)
        residual = np.sum((target - others @ coefficients) ** 2)
        total = np.sum((target - target.mean()) ** 2) if about_mean else np.sum(target ** 2)
        vif[condition] = float(total / residual) if residual > 0 else float("inf")
    return vif


def collinearity_warnings(design: pd.DataFrame, vif: dict[str, float], *, limit: float = VIF_LIMIT) -> list[str]:
    """One warning per condition whose VIF exceeds ``limit``, naming the regressor most correlated with it."""
    messages = []
    for condition, value in vif.items():
        if not value > limit:
            continue
        others = design.drop(columns=[condition, "constant"], errors="ignore")
        with np.errstate(invalid="ignore", divide="ignore"):
            correlation = others.corrwith(design[condition]).abs().dropna()
        closest = (f"; most correlated with {correlation.idxmax()} (|r| = {correlation.max():.2f})"
                   if len(correlation) else "")
        messages.append(f"condition {condition!r}: variance inflation factor {value:.3g} > {limit:g}, it is "
                        f"collinear with the other regressors of the design{closest}; its standard error is "
                        f"{np.sqrt(value):.3g} times what an orthogonal design would give")
    return messages
