"""``fnirs-glm-bids``: a lab's recordings (NIRx folders, Homer ``.nirs`` files, plain SNIRF files) to a BIDS
dataset that fnirs-glm, and every other BIDS tool, accepts.

Modules, one job each: recording (the in-memory recording every reader returns), nirx, homer and snirf (one
reader per format), sources (finding recordings in a folder and reading each with its reader), spec (the
conversion spec: loading, checking and proposing one), events (trigger codes to named, timed events), writer
(one recording to BIDS: SNIRF through MNE-NIRS, sidecars through MNE-BIDS, events.tsv/json itself), dataset
(BIDS_DIR's checks, the staging folder, the dataset files, and the move into BIDS_DIR without overwriting),
conversion (a conversion from start to end), dry_run (what SOURCE holds, and a proposed spec), cli (the
command line).

Only the standard library is imported by ``cli`` at start-up, so that ``--help`` answers at once.
"""

from bids_app.convert.cli import main

__all__ = ["main"]
