"""Command line: ``python -m app {migrate,serve,worker,demo,purge,token create|rotate|revoke,
audit verify,import,export-hsds,report unmet}``.

Bad arguments print one line on stderr and exit 2; no traceback reaches the terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from app.auth.schemas import MAX_GRACE_MINUTES

EXIT_USAGE = 2
EXIT_FAILURE = 1
DEMO_SHELTER = "shl_demo_val_tisserands"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage block: easy to read at night and easy to grep in a log.
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} out of range 1-65535")
    return port


def _workers(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of workers {value!r}") from None
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError("workers must be between 1 and 64")
    return n


def _bounded_int(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {what} {value!r}") from None
        if not low <= n <= high:
            raise argparse.ArgumentTypeError(f"{what} must be between {low} and {high}")
        return n

    return parse


def _add_token_commands(sub: Any) -> None:
    token = sub.add_parser("token", help="manage API tokens (each change is audited)")
    token_sub = token.add_subparsers(dest="token_command", required=True, parser_class=_Parser)
    create = token_sub.add_parser("create", help="create a token and print it once")
    create.add_argument("--role", required=True, choices=["admin", "operator", "shelter", "viewer"])
    create.add_argument("--shelter", default=None, help="the shelter id (role shelter only)")
    create.add_argument("--name", default=None, help="who uses it, e.g. 'night desk 2'")
    where = create.add_mutually_exclusive_group()
    where.add_argument(
        "--territory",
        default=None,
        help="the territory's code, e.g. 59 (default: the shelter's, or the only territory)",
    )
    where.add_argument(
        "--national",
        action="store_true",
        help="a national admin (role admin, no territory): manages territories",
    )
    create.add_argument(
        "--expires-in-days",
        type=_bounded_int(1, 3650, "number of days"),
        default=None,
        help="the token stops working by itself after this many days",
    )
    rotate = token_sub.add_parser(
        "rotate", help="give a token a new secret (printed once); the old one works a while"
    )
    rotate.add_argument("token_id", help="tok_…")
    rotate.add_argument(
        "--grace-minutes",
        type=_bounded_int(0, MAX_GRACE_MINUTES, "grace period"),
        default=60,
        help="how long the old secret keeps working (default 60; 0: stops now)",
    )
    revoke = token_sub.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("token_id", help="tok_…")


def build_parser() -> _Parser:
    parser = _Parser(prog="python -m app", description="Abri: emergency-shelter bed allocation")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("migrate", help="upgrade the database schema to the newest migration")

    # A string default goes through type=_port too, so a bad $PORT is a usage error.
    default_port = os.environ.get("PORT", "8000")
    serve = sub.add_parser("serve", help="serve the API (uvicorn app.main:app)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=default_port)
    serve.add_argument("--workers", type=_workers, default=1)

    sub.add_parser(
        "worker",
        help="run allocation runs off the queue until SIGTERM (any number, on any machine)",
    )

    demo = sub.add_parser(
        "demo", help="migrate, load the demo region if empty, print one token per role, serve"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=_port, default=default_port)

    sub.add_parser(
        "purge",
        help="erase the household detail of requests closed more than RETENTION_DAYS ago",
    )

    _add_token_commands(sub)
    audit = sub.add_parser("audit", help="the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, parser_class=_Parser)
    audit_sub.add_parser(
        "verify", help="check the audit log's hash chain; exit 1 naming the first broken event"
    )

    from app.opendata.cli import add_commands

    add_commands(sub)
    return parser


def _fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    sys.stderr.write(f"python -m app: error: {message}\n")
    raise SystemExit(code)


def _migrate() -> None:
    from app.core.migrate import migrate

    try:
        warnings = migrate()
    except Exception as exc:  # any failure: one readable line, not a traceback
        _fail(f"migration failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
    for warning in warnings:
        sys.stderr.write(f"python -m app migrate: warning: {warning}\n")


def _serve(host: str, port: int, workers: int = 1) -> None:
    from app.allocations import worker
    from app.core.config import get_settings

    settings = get_settings()
    # LOCAL_WORKER=process (the default on SQLite): the runs' worker, a child of this one.
    local = worker.start_local_process() if settings.local_worker_mode == "process" else None
    try:
        _uvicorn(host, port, workers)
    finally:
        if local is not None:
            worker.stop_local_process(local, settings)


def _worker() -> int:
    from app.allocations import worker
    from app.core.config import get_settings
    from app.core.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return worker.main(settings)


def _uvicorn(host: str, port: int, workers: int) -> None:
    import uvicorn

    from app.core.config import get_settings
    from app.core.logging import uvicorn_log_config

    settings = get_settings()
    level = settings.log_level.lower()
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        # uvicorn's own lines follow LOG_LEVEL too (they ignored it: a WARNING server still
        # wrote one access line per request, ~8 % of a POST's CPU time under py-spy).
        log_level=level if level in {"debug", "info", "warning", "error", "critical"} else "info",
        access_log=settings.access_log,
        # Access lines without the query string, tracebacks without the exception's text.
        log_config=uvicorn_log_config(),
    )


def _token_create(args: argparse.Namespace) -> None:
    from app.audit.service import record
    from app.auth.models import Role
    from app.auth.service import create_token
    from app.territories.service import by_code

    expires_at = None
    if args.expires_in_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=args.expires_in_days)
    with _token_session() as session:
        territory_id = None
        if args.territory is not None:
            territory = by_code(session, args.territory)
            if territory is None:
                _fail(f"no territory {args.territory!r}", EXIT_USAGE)
            territory_id = territory.id
        token, plaintext = create_token(
            session,
            Role(args.role),
            args.name or f"{args.role} (cli)",
            args.shelter,
            expires_at,
            territory_id=territory_id,
            national=args.national,
        )
        detail = {"role": args.role, "shelter_id": args.shelter, "via": "command line"}
        record(
            session,
            None,
            "token.create",
            "token",
            token.id,
            detail,
            territory_id=token.territory_id,
        )
        session.commit()
    sys.stdout.write(plaintext + "\n")
    until = f", valid until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""
    sys.stderr.write(
        f"created token {token.id} (role {args.role}{until}); it is shown only this once\n"
    )


def _token_rotate(args: argparse.Namespace) -> None:
    from app.audit.service import record
    from app.auth.service import rotate_token

    with _token_session() as session:
        token = _cli_token(session, args.token_id)
        plaintext = rotate_token(session, token, timedelta(minutes=args.grace_minutes))
        detail = {"grace_minutes": args.grace_minutes, "via": "command line"}
        record(
            session,
            None,
            "token.rotate",
            "token",
            token.id,
            detail,
            territory_id=token.territory_id,
        )
        session.commit()
    sys.stdout.write(plaintext + "\n")
    sys.stderr.write(
        f"new secret for {token.id}, shown only this once; the old one works "
        f"{args.grace_minutes} more minute(s)\n"
    )


def _token_revoke(args: argparse.Namespace) -> None:
    from app.audit.service import record
    from app.auth.service import revoke_token

    with _token_session() as session:
        token = _cli_token(session, args.token_id)
        if revoke_token(session, token):
            detail = {"role": token.role, "via": "command line"}
            record(
                session,
                None,
                "token.revoke",
                "token",
                token.id,
                detail,
                territory_id=token.territory_id,
            )
        session.commit()
    sys.stderr.write(f"token {token.id} is revoked\n")


def _cli_token(session: Any, token_id: str) -> Any:
    from app.auth.models import ApiToken

    token = session.get(ApiToken, token_id)
    if token is None:
        _fail(f"no token {token_id!r}", EXIT_USAGE)
    return token


@contextmanager
def _token_session() -> Iterator[Any]:
    """A session for one token command: bad input exits 2, a missing schema 1, one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.core.db import get_sessionmaker
    from app.core.errors import ProblemError

    try:
        with get_sessionmaker()() as session:
            yield session
    except ProblemError as exc:
        _fail(exc.detail, EXIT_USAGE)
    except SQLAlchemyError:
        _fail("the database is not ready; run 'python -m app migrate' first")


_TOKEN_COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "create": _token_create,
    "rotate": _token_rotate,
    "revoke": _token_revoke,
}


def _purge() -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from app.core.config import get_settings
    from app.core.db import get_sessionmaker
    from app.requests.retention import purge_expired_detail

    days = get_settings().retention_days
    try:
        with get_sessionmaker()() as session, session.begin():
            result = purge_expired_detail(session, days)
    except SQLAlchemyError:
        _fail("the database is not ready; run 'python -m app migrate' first")
    print(
        f"purged {result.requests} request(s) closed over {days} days ago, "
        f"{result.runs} old run(s), {result.idempotency_records} stored replies"
    )


def _audit_verify() -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from app.audit.chain import verify_database
    from app.core.db import get_sessionmaker

    try:
        with get_sessionmaker()() as session:
            verdict = verify_database(session)
    except SQLAlchemyError:
        _fail("the database is not ready; run 'python -m app migrate' first")
    if verdict.broken_id is not None:
        _fail(
            f"audit chain broken at event {verdict.broken_id}: its hash does not follow the "
            f"{verdict.events} event(s) before it (it was changed or inserted, or the event "
            "before it removed)"
        )
    legacy = (
        f" ({verdict.legacy} chained before the hash covered an event's territory)"
        if verdict.legacy
        else ""
    )
    print(f"audit chain ok: {verdict.events} event(s), head {verdict.head}{legacy}")


def _demo(host: str, port: int) -> None:
    from app.core.config import get_settings
    from app.core.db import get_sessionmaker
    from app.demo.loader import has_shelters, load_demo, load_two_territory_demo
    from app.territories.service import by_code, ensure_default_territory

    _migrate()
    with get_sessionmaker()() as session:
        nord = ensure_default_territory(session, get_settings())
        if has_shelters(session):
            print("The database already has shelters: the demo region is not loaded again.")
        else:
            counts = load_demo(session, nord.id)
            pdc = load_two_territory_demo(session, nord.id)
            print(
                f"Loaded the Valenciennes / Hainaut demo in territory {nord.code} "
                f"({nord.name}): {counts['shelters']} shelters, {counts['rooms']} rooms, "
                f"{counts['requests']} waiting requests; and territory {pdc.code} ({pdc.name}), "
                "its neighbour both ways."
            )
        territories = [nord]
        other = by_code(session, "62")
        if other is not None and other.id != nord.id:
            territories.append(other)
        tokens = _demo_tokens(session, territories)
        session.commit()
    print(f"Database: {get_settings().database_url}")
    print("Tokens (shown once; use as 'Authorization: Bearer <token>'):")
    for where, role, sid, plaintext in tokens:
        suffix = f"  (shelter {sid})" if sid else ""
        print(f"  {where:<8} {role:<9} {plaintext}{suffix}")
    base = f"http://{host}:{port}"
    for where, role, _, plaintext in tokens:
        # In the fragment: a browser never sends it, so no server or proxy log sees it.
        # A national admin's dashboard has a territory picker; a viewer's shows its own.
        if role == "viewer" or where == "national":
            print(f"Dashboard ({where} {role}): {base}/dashboard#token={plaintext}")
    print(f"Console:   {base}/console  (paste an operator or admin token; national: pick)")
    print(f"Shelter:   {base}/shelter  (paste a shelter token)")
    print(f"API docs:  {base}/docs")
    sys.stdout.flush()
    _serve(host, port)


DEMO_SHELTERS_BY_CODE = {"62": "shl_demo_arr_vauban"}


def _demo_tokens(session: Any, territories: list[Any]) -> list[tuple[str, str, str | None, str]]:
    """A national admin, and one token per role in each demo territory."""
    from sqlalchemy import select

    from app.audit.service import record
    from app.auth.models import Role
    from app.auth.service import create_token
    from app.shelters.models import Shelter

    token, plaintext = create_token(session, Role.admin, "demo national admin", national=True)
    record(session, None, "token.create", "token", token.id, {"role": "admin", "via": "demo"})
    tokens: list[tuple[str, str, str | None, str]] = [("national", "admin", None, plaintext)]
    for territory in territories:
        # The demo's main CHU of each territory, or any shelter of an older database.
        shelter_id = DEMO_SHELTERS_BY_CODE.get(territory.code, DEMO_SHELTER)
        shelter = session.get(Shelter, shelter_id)
        if shelter is None or shelter.territory_id != territory.id:
            shelter_id = session.scalar(
                select(Shelter.id).where(Shelter.territory_id == territory.id).order_by(Shelter.id)
            )
        for role in (Role.admin, Role.operator, Role.shelter, Role.viewer):
            sid = shelter_id if role is Role.shelter else None
            if role is Role.shelter and sid is None:
                continue
            token, plaintext = create_token(
                session, role, f"demo {territory.code} {role.value}", sid,
                territory_id=territory.id,
            )  # fmt: skip
            detail = {"role": role.value, "shelter_id": sid, "via": "demo"}
            record(
                session, None, "token.create", "token", token.id, detail,
                territory_id=territory.id,
            )  # fmt: skip
            tokens.append((territory.code, role.value, sid, plaintext))
    return tokens


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "migrate":
        _migrate()
        print("database at the newest migration")
    elif args.command == "serve":
        _serve(args.host, args.port, args.workers)
    elif args.command == "worker":
        return _worker()
    elif args.command == "demo":
        _demo(args.host, args.port)
    elif args.command == "purge":
        _purge()
    elif args.command == "token":
        _TOKEN_COMMANDS[args.token_command](args)
    elif args.command == "audit":
        _audit_verify()
    else:
        from app.opendata.cli import COMMANDS

        return COMMANDS[args.command](args)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
