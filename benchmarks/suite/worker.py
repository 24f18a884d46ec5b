"""One engine run in a fresh process, importing what the CLI imports (``allocation`` only).

    python -m benchmarks.suite.worker NIGHT.json RESULT.json TIME_LIMIT {det,wall}

Writes the wall time of the ``allocation.solve`` call, the process's peak RSS (``VmHWM``:
interpreter, imports and the parsed problem included) and the plan. Kept apart from the
runner so that its start-up costs what the CLI's does.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from allocation import Problem, solve


def peak_rss_mb() -> float:
    """This process's own high-water RSS (``VmHWM``).

    Not ``getrusage().ru_maxrss``: Linux carries that over fork and exec, so a child would
    report its parent's (the runner's) peak when it is higher than its own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: best effort


def main(argv: list[str]) -> int:
    night, result, limit, mode = argv
    problem = Problem.model_validate_json(Path(night).read_text())
    settings = problem.settings.model_copy(
        update={"time_limit_s": float(limit), "deterministic": mode == "det"}
    )
    problem = problem.model_copy(update={"settings": settings})
    t0 = time.perf_counter()
    plan = solve(problem)
    wall = time.perf_counter() - t0
    peak_mb = peak_rss_mb()
    Path(result).write_text(
        json.dumps({"wall_s": wall, "peak_mb": peak_mb, "plan": plan.model_dump()})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
