"""``python -m sim`` is the ``routesim`` command."""

import sys

from sim.cli import main

sys.exit(main())
