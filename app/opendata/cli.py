"""``python -m app import | export-hsds | report unmet``: open data on the command line.

Each ``run_*`` returns the exit code; a bad argument or a bad file is one line on stderr
and exit 2, a database that is not ready exit 1, as for the other commands of ``app``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
MAX_ERRORS_SHOWN = 20
NOT_READY = "the database is not ready; run 'python -m app migrate' first"


def _night(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {value!r} (YYYY-MM-DD)") from None


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imp = sub.add_parser("import", help="import shelters.csv and rooms.csv (all or nothing)")
    imp.add_argument("shelters_csv", type=Path)
    imp.add_argument("rooms_csv", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    _territory_option(imp)

    export = sub.add_parser("export-hsds", help="write the HSDS 3.1 tabular data package")
    export.add_argument("folder", type=Path)
    _territory_option(export)

    report = sub.add_parser("report", help="reports on the service's nights")
    # type(report): the caller's parser class, so errors stay one line.
    reports = report.add_subparsers(dest="report", required=True, parser_class=type(report))
    unmet = reports.add_parser("unmet", help="requests left unmet per night (CSV on stdout)")
    unmet.add_argument("--from", dest="first", type=_night, required=True)
    unmet.add_argument("--to", dest="last", type=_night, default=None)
    _territory_option(unmet)


def _territory_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--territory",
        default=None,
        help="the territory's code, e.g. 59 (required when the deployment has several)",
    )


class _NoTerritory(Exception):  # noqa: N818 - a usage error, said in one line
    pass


def _territory_id(session: Any, code: str | None) -> str:
    """The named territory, or a single-SIAO deployment's only one."""
    from app.territories.service import by_code, sole_territory

    territory = by_code(session, code) if code is not None else sole_territory(session)
    if territory is None:
        raise _NoTerritory(
            f"no territory {code!r}"
            if code is not None
            else "this deployment has several territories: name one with --territory"
        )
    return territory.id


def _error(message: str, code: int) -> int:
    sys.stderr.write(f"python -m app: error: {message}\n")
    return code


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        _error(f"cannot read {path}: {type(exc).__name__}", EXIT_USAGE)
        return None


def run_import(args: argparse.Namespace) -> int:
    from app.core.db import get_sessionmaker
    from app.opendata.csv_import import ImportRejected, import_directory

    shelters, rooms = _read(args.shelters_csv), _read(args.rooms_csv)
    if shelters is None or rooms is None:
        return EXIT_USAGE
    try:
        with get_sessionmaker()() as session, session.begin():
            counts = import_directory(
                session,
                None,
                shelters,
                rooms,
                territory_id=_territory_id(session, args.territory),
                dry_run=args.dry_run,
            )
    except _NoTerritory as exc:
        return _error(str(exc), EXIT_USAGE)
    except ImportRejected as exc:
        for err in exc.errors[:MAX_ERRORS_SHOWN]:
            sys.stderr.write(err.sentence() + "\n")
        more = len(exc.errors) - MAX_ERRORS_SHOWN
        tail = f" ({more} more not shown)" if more > 0 else ""
        return _error(f"{len(exc.errors)} bad cell(s){tail}; nothing was imported", EXIT_USAGE)
    except SQLAlchemyError:
        return _error(NOT_READY, EXIT_FAILURE)
    verb = "would change" if args.dry_run else "imported"
    print(
        f"{verb}: shelters {counts.shelters_created} new, {counts.shelters_updated} updated, "
        f"{counts.shelters_unchanged} unchanged; rooms {counts.rooms_created} new, "
        f"{counts.rooms_updated} updated, {counts.rooms_unchanged} unchanged"
    )
    return EXIT_OK


def run_export_hsds(args: argparse.Namespace) -> int:
    from app.core.config import get_settings
    from app.core.db import get_sessionmaker, utcnow
    from app.opendata.hsds import build_directory, load_capacities
    from app.opendata.package import write_package

    try:
        with get_sessionmaker()() as session:
            capacities = load_capacities(
                session,
                get_settings().hsds_confidential,
                _territory_id(session, args.territory),
            )
            directory = build_directory(capacities, utcnow())
    except _NoTerritory as exc:
        return _error(str(exc), EXIT_USAGE)
    except SQLAlchemyError:
        return _error(NOT_READY, EXIT_FAILURE)
    try:
        written = write_package(directory, args.folder)
    except OSError as exc:
        return _error(f"cannot write to {args.folder}: {type(exc).__name__}", EXIT_USAGE)
    print(f"wrote {len(written)} files to {args.folder} ({len(directory.services)} services)")
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from app.core.config import get_settings
    from app.core.db import get_sessionmaker
    from app.opendata.unmet import MAX_NIGHTS, as_csv, unmet_report

    last = args.last or args.first
    if last < args.first or (last - args.first).days >= MAX_NIGHTS:
        return _error(f"--to must be on or after --from, at most {MAX_NIGHTS} nights", EXIT_USAGE)
    try:
        with get_sessionmaker()() as session:
            territory_id = _territory_id(session, args.territory)
            rows = unmet_report(session, args.first, last, get_settings().zone, territory_id)
    except _NoTerritory as exc:
        return _error(str(exc), EXIT_USAGE)
    except SQLAlchemyError:
        return _error(NOT_READY, EXIT_FAILURE)
    sys.stdout.write(as_csv(rows))
    return EXIT_OK


COMMANDS = {"import": run_import, "export-hsds": run_export_hsds, "report": run_report}
