"""``python -m allocation``: see :mod:`allocation.cli`."""

import sys
import time

from .cli import main, process_age_s

# The time limit counts from the process's start (interpreter and imports included).
sys.exit(main(started=time.perf_counter() - process_age_s()))
