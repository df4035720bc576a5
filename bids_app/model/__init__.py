"""BIDS Stats Models for fNIRS (``--model FILE``): a model file read into option values, and back.

``read_model`` validates a BIDS Stats Models 1.0 file with ``bsmschema`` and translates the subset that
fnirs-glm fits (see README, "Models") into a ``StatsModel``; ``model_from_options`` writes the model of a
set of option values (the model of a run made with flags). Both import ``bsmschema`` only when called.
"""

from bids_app.model.read import GroupContrast, StatsModel, parse_model, read_model
from bids_app.model.write import model_from_options

__all__ = ["GroupContrast", "StatsModel", "model_from_options", "parse_model", "read_model"]
