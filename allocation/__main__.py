"""``python -m allocation``: see :mod:`allocation.cli`."""

import sys

from .cli import main

sys.exit(main())
