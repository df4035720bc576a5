"""``python -m bids_app.simulate``: the same as ``fnirs-glm-simulate``."""

import sys

from bids_app.simulate.cli import main

sys.exit(main())
