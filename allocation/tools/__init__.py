"""Tools around the engine, outside its import path: ``solve`` never imports them.

- ``generate``: realistic random problems (``python -m allocation generate``, the demo,
  benchmarks, tests);
- ``baselines``: two methods to measure the engine against (benchmarks, tests).

Import the modules themselves (``from allocation.tools.generate import generate_problem``):
this package's ``__init__`` imports nothing, so that importing one tool costs only it.
"""
