"""``allocation.solve``'s wiring: what it imports, and the size of what a newcomer reads."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "allocation"


def test_solving_imports_neither_the_generator_nor_the_baselines() -> None:
    # The tools (allocation/tools/) stay available to benchmarks, tests and the demo, but
    # are out of the engine's own import path: a solve through the public API (as the
    # service's engine process does) must not load them.
    code = (
        "import json, sys\n"
        "import allocation\n"
        "from allocation.models import Problem\n"
        "p = Problem.model_validate({'settings': {'time_limit_s': 2}, 'shelters': [{'id': 'S', "
        "'lat': 50.0, 'lon': 3.0, 'women': True, 'men': True, 'children': True, 'rooms': "
        "[{'id': 'R', 'beds': 2}]}], 'households': [{'id': 'H', 'priority': 4, "
        "'waiting_since': '2026-12-01T20:00:00+00:00', 'origin': {'lat': 50.0, 'lon': 3.01}, "
        "'members': [{'age': 30, 'sex': 'F'}]}]})\n"
        "plan = allocation.solve(p)\n"
        "assert plan.assignments, plan\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('allocation'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(out.stdout)
    assert "allocation.solver" in loaded  # the probe did solve through the engine
    assert [m for m in loaded if m.startswith("allocation.tools")] == []


def test_no_engine_function_is_longer_than_80_lines() -> None:
    # The brief's readability bar for the engine (allocation/, its tools included).
    long = []
    for path in sorted(ENGINE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > 80:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert long == []
