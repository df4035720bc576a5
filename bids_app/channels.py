"""Channel names: "S1_D1 hbo" is the source-detector pair "S1_D1" and its chroma "hbo" (for optical density or
intensity, its wavelength, "S1_D1 760"); and the order in which channels are listed."""

from __future__ import annotations

import re


def channel_pair(name: str) -> str:
    """The source-detector pair of a channel name: "S1_D1 760" -> "S1_D1"."""
    return name.split(" ")[0]


def channel_chroma(name: str) -> str:
    """What a channel of the pair measures: "S1_D1 hbo" -> "hbo" (a wavelength, "760", for optical density)."""
    return name.split(" ")[1]


def natural_key(text: str) -> str:
    """Sort key in which numbers compare as numbers: "S2_D1" before "S10_D1"."""
    return re.sub(r"\d+", lambda match: match.group(0).zfill(6), str(text))
