import sys

from bids_app.convert.cli import main

sys.exit(main())
