"""``python -m snnvar``: the ``snnvar`` command."""

import sys

from .cli import main

sys.exit(main())
