"""The sensitivity of a continuous-wave source-detector pair to absorption at a point: the photon measurement
density function (PMDF) of the diffusion approximation in a homogeneous semi-infinite medium with an extrapolated
boundary (Arridge 1995; the Green's function of Farrell, Patterson & Wilson 1992 / Haskell et al. 1994).

The medium's surface is the plane tangent to the scalp at the channel; the sources are isotropic points one
transport mean free path (1/mu_s') below the source and detector positions, each with a negative image mirrored in
the extrapolated boundary z_b = 2 A D above the surface. The PMDF of an absorber at r is
G(r_s, r) G(r, r_d) / G(r_s, r_d) (first-order Rytov), with G(a, b) = (exp(-mu_eff rho1) / rho1 - exp(-mu_eff rho2)
/ rho2) / (4 pi D), rho1 = |b - a|, rho2 = |b - a'| (a' the image of a).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tissue:
    """Homogeneous optical properties (per mm) of an adult head near 800 nm (Strangman, Franceschini & Boas
    2003, NeuroImage 18:865-879: scalp and skull mu_a 0.01-0.02, mu_s' 0.8-1.6 per mm) and the effective
    reflection coefficient of a tissue-air boundary with refractive index 1.4 (Haskell et al. 1994)."""

    mu_a: float = 0.015
    mu_s_prime: float = 1.0
    reflection: float = 0.493

    @property
    def diffusion(self) -> float:  # D, mm
        return 1.0 / (3.0 * (self.mu_a + self.mu_s_prime))

    @property
    def mu_eff(self) -> float:  # per mm
        return float(np.sqrt(self.mu_a / self.diffusion))

    @property
    def source_depth(self) -> float:  # z0 = 1 / mu_s', mm
        return 1.0 / self.mu_s_prime

    @property
    def extrapolation(self) -> float:  # z_b = 2 A D, mm
        return 2.0 * (1.0 + self.reflection) / (1.0 - self.reflection) * self.diffusion

    def record(self) -> dict:
        return {"Model": "photon measurement density function, diffusion approximation, homogeneous "
                         "semi-infinite medium with an extrapolated boundary",
                "AbsorptionPerMm": self.mu_a, "ReducedScatteringPerMm": self.mu_s_prime,
                "EffectiveReflection": self.reflection}


TISSUE = Tissue()


def green(a: np.ndarray, b: np.ndarray, *, tissue: Tissue = TISSUE) -> np.ndarray:
    """G(a, b) for sources ``a`` (..., 3) at depth z0 (local frame: z is the depth below the surface, > 0 inside)
    and points ``b`` (..., 3): the fluence of the semi-infinite medium with the extrapolated-boundary image."""
    image = a.copy()
    image[..., 2] = -(a[..., 2] + 2.0 * tissue.extrapolation)
    rho1 = np.linalg.norm(b - a, axis=-1)
    rho2 = np.linalg.norm(b - image, axis=-1)
    k = tissue.mu_eff
    return (np.exp(-k * rho1) / rho1 - np.exp(-k * rho2) / rho2) / (4.0 * np.pi * tissue.diffusion)


def pmdf(points: np.ndarray, *, separation_mm: float, tissue: Tissue = TISSUE) -> np.ndarray:
    """The PMDF at ``points`` (n, 3) of the channel's local frame: source at (-separation/2, 0, 0), detector at
    (+separation/2, 0, 0) on the surface z = 0, z the depth (mm). 0 at and above the surface."""
    half = separation_mm / 2.0
    z0 = tissue.source_depth
    source = np.array([-half, 0.0, z0])
    detector = np.array([half, 0.0, z0])
    inside = points[:, 2] > 0
    values = np.zeros(len(points))
    p = points[inside]
    through = green(source[None], detector[None], tissue=tissue)[0]
    values[inside] = green(source[None], p, tissue=tissue) * green(detector[None], p, tissue=tissue) / through
    return np.clip(values, 0.0, None)


def local_frame(*, scalp_point: np.ndarray, normal: np.ndarray, source: np.ndarray,
                detector: np.ndarray) -> tuple[np.ndarray, float]:
    """(3 x 3 rotation whose rows are the local axes, separation in mm): x from the source's to the detector's
    projection on the tangent plane at ``scalp_point``, z along the inward normal (``normal`` points out)."""
    z_axis = -normal / np.linalg.norm(normal)
    along = detector - source
    along = along - along.dot(z_axis) * z_axis
    separation = float(np.linalg.norm(along))
    if separation < 1e-6:  # source and detector at one point: any tangent direction
        along = np.cross(z_axis, [1.0, 0.0, 0.0] if abs(z_axis[0]) < 0.9 else [0.0, 1.0, 0.0])
    x_axis = along / np.linalg.norm(along)
    y_axis = np.cross(z_axis, x_axis)
    return np.vstack([x_axis, y_axis, z_axis]), separation
