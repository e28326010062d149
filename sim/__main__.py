"""``python -m sim`` is the ``routesim`` command."""

import sys

from sim.cli.shell import main

sys.exit(main())
