"""fnirs-glm: a BIDS App for first- and group-level GLM analysis of fNIRS data."""

from bids_app._version import __version__

__all__ = ["__version__"]
