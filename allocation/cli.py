"""Command line: ``solve``, ``check`` and ``generate`` (``shared/spec/allocation.md``).

Exit status: 0 success, 1 ``check`` found violations, 2 bad input (one line on stderr naming
the field, never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import NoReturn, TypeVar

from pydantic import BaseModel, ValidationError

from .models import Plan, Problem, describe_validation_error

M = TypeVar("M", bound=BaseModel)


class BadInputError(Exception):
    """Input the engine refuses: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints usage on several lines; the contract is one line and status 2.
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0 < value <= 3600):
        raise argparse.ArgumentTypeError(f"must be > 0 and <= 3600 seconds: {text}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not (0 <= value <= 2**31 - 1):
        raise argparse.ArgumentTypeError(f"must be between 0 and 2147483647: {text}")
    return value


def _read_json(path: str, what: str) -> object:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadInputError(f"{what}: cannot read {path}: {reason}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{what}: invalid JSON in {path} at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def _load(model: type[M], path: str, what: str) -> M:
    data = _read_json(path, what)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadInputError(f"{what} {path}: {describe_validation_error(exc)}") from None


def load_problem(path: str) -> Problem:
    """Read and validate a problem file; raises :class:`BadInputError` with a one-line message."""
    return _load(Problem, path, "problem")


def process_age_s() -> float:
    """Seconds since this process started (Linux ``/proc``; 0.0 where it cannot be read).

    The CLI's time limit counts from the process's start: the interpreter and the imports
    of OR-Tools and numpy (~1.5 s of CPU on a loaded machine) are part of what the operator
    waits for.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            # Field 22 (starttime, clock ticks since boot); the name (field 2) may hold spaces.
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0
    return min(max(0.0, age), 60.0)  # a clock oddity never eats more than a minute


def _cmd_solve(args: argparse.Namespace, started: float | None) -> int:
    from .solver import solve

    problem = load_problem(args.problem)
    update = {}
    if args.time_limit is not None:
        update["time_limit_s"] = args.time_limit
    if args.seed is not None:
        update["seed"] = args.seed
    if update:
        problem = problem.model_copy(
            update={"settings": problem.settings.model_copy(update=update)}
        )
    plan = solve(problem, started=started)
    text = plan.model_dump_json(indent=1) + "\n"
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise BadInputError(f"-o: cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .check import check

    problem = load_problem(args.problem)
    plan = _load(Plan, args.plan, "plan")
    errors = check(problem, plan)
    if not errors:
        print("plan is valid")
        return 0
    for e in errors:
        print(e)
    print(f"{len(errors)} violation(s)", file=sys.stderr)
    return 1


def _cmd_generate(argv: list[str]) -> int:
    try:
        gen = importlib.import_module("allocation.tools.generate")
    except ModuleNotFoundError as exc:
        if exc.name not in ("allocation.tools", "allocation.tools.generate"):
            raise
        raise BadInputError(
            "generate: the generator (allocation/tools/generate.py) is not installed"
        ) from None
    result = gen.main(argv)
    return int(result or 0)


def _parser() -> _Parser:
    p = _Parser(prog="python -m allocation", description="Abri's shelter allocation engine")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("solve", help="plan the night for PROBLEM.json")
    s.add_argument("problem", metavar="PROBLEM.json")
    s.add_argument("-o", "--output", metavar="PLAN.json", help="write the plan here")
    s.add_argument("--time-limit", type=_positive_float, metavar="SECONDS")
    s.add_argument("--seed", type=_seed, metavar="N")
    c = sub.add_parser("check", help="verify PLAN.json against PROBLEM.json")
    c.add_argument("problem", metavar="PROBLEM.json")
    c.add_argument("plan", metavar="PLAN.json")
    sub.add_parser(
        "generate", help="a realistic random problem (see generate --help)", add_help=False
    )
    return p


def main(argv: list[str] | None = None, *, started: float | None = None) -> int:
    """The command line; ``started``: the ``time.perf_counter()`` the solve's time limit
    counts from (``python -m allocation`` passes its process's start; default: when
    ``solve`` is called)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "generate":
            # The generator owns its options; hand it the rest of the line untouched.
            return _cmd_generate(argv[1:])
        args = _parser().parse_args(argv)
        if args.command == "solve":
            return _cmd_solve(args, started)
        return _cmd_check(args)
    except BadInputError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130


__all__ = ["BadInputError", "load_problem", "main", "process_age_s"]
