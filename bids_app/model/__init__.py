"""BIDS Stats Models for fNIRS (``--model FILE``): a model file read into option values, and back.

``read_model`` validates a BIDS Stats Models 1.0 file with ``bsmschema`` and translates the subset that
fnirs-glm fits (see README, "Models") into a ``StatsModel``; ``model_from_options`` writes the model of a
set of option values (the model of a run made with flags); ``merge_options`` adds the options given
explicitly to the model's, refusing a disagreement. ``bsmschema`` is imported only when a model is read.
"""

from bids_app.model.read import GroupContrast, StatsModel, merge_options, parse_model, read_model
from bids_app.model.write import model_from_options

__all__ = ["GroupContrast", "StatsModel", "merge_options", "model_from_options", "parse_model", "read_model"]
