"""The noise model of a recording's GLM: the --noise-model choice resolved once at the fitted sampling rate,
what the sidecars call it, and the fit it stands for (fit_glm, or fit_ar_irls for ar-irls)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bids_app.first_level.ar_irls import fit_ar_irls
from bids_app.first_level.glm import GLMFit, fit_glm


def noise_model_order(noise_model: str, *, sfreq: float) -> int:
    """AR order of a noise model name: 0 for ols, 1 for ar1, round(4 x sfreq) for auto; for ar-irls the
    largest order its BIC search considers, also round(4 x sfreq)."""
    if noise_model == "ols":
        return 0
    if noise_model == "ar1":
        return 1
    if noise_model in ("auto", "ar-irls"):
        return max(1, int(np.round(4 * sfreq)))
    raise ValueError(f"unknown noise model {noise_model!r}")


@dataclass(frozen=True)
class NoiseModel:
    """The noise model of one recording: the option's choice resolved at its sampling rate, once; its label
    and description are what the sidecars record (the reports read them there)."""

    choice: str  # ols | ar1 | auto | ar-irls
    ar_order: int  # the AR order; for ar-irls the largest order its BIC search considers
    bias_correction: bool = False  # AR coefficients from autocovariances corrected for the design (Worsley 2002)

    @classmethod
    def resolve(cls, choice: str, *, sfreq: float, bias_correction: str) -> NoiseModel:
        """``bias_correction``: the --ar-bias-correction choice (none or worsley)."""
        order = noise_model_order(choice, sfreq=sfreq)
        return cls(choice, order, bias_correction == "worsley" and order > 0)

    @property
    def label(self) -> str:
        """The name the table sidecars give it: ols, ar<P> or ar-irls."""
        return "ar-irls" if self.choice == "ar-irls" else f"ar{self.ar_order}" if self.ar_order else "ols"

    @property
    def description(self) -> str:
        """The design sidecar's NoiseModel, e.g. "auto (AR(2), Worsley bias correction)"."""
        correction = ", Worsley bias correction" if self.bias_correction else ""
        if self.choice == "auto" and self.ar_order:
            return f"auto (AR({self.ar_order}){correction})"
        if self.choice == "ar-irls":
            return f"ar-irls (AR order by BIC up to {self.ar_order}, Tukey bisquare IRLS{correction})"
        return f"{self.choice} (Worsley bias correction)" if self.bias_correction else self.choice

    def fit(self, Y: np.ndarray, X: np.ndarray) -> GLMFit:
        """The fit of every column of ``Y`` on the design ``X``: ar-irls (bids_app.first_level.ar_irls, AR order
        by BIC up to ar_order) or fit_glm (OLS, or AR of order ar_order)."""
        if self.choice == "ar-irls":
            return fit_ar_irls(Y, X, max_order=self.ar_order, bias_correction=self.bias_correction)
        return fit_glm(Y, X, ar_order=self.ar_order, bias_correction=self.bias_correction)
