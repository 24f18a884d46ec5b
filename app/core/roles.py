"""PostgreSQL roles: the schema owner migrates, the service role only uses the tables.

``python -m app migrate`` connects as the owner (``MIGRATION_DATABASE_URL``) and, after the
upgrade, gives the service's role (the user of ``DATABASE_URL``) exactly what the service
needs, recomputed on every migrate so that a new table is covered at once: ordinary DML on
the tables, only INSERT and SELECT on the audit log, only SELECT on ``alembic_version``.
The service role owns nothing, so it cannot ALTER, TRUNCATE, disable or drop a trigger.
The roles themselves are cluster-wide and created once: ``deploy/postgres-roles.sql``.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

# Tables the service may read and append to but never change.
APPEND_ONLY_TABLES = ("audit_events",)
READ_ONLY_TABLES = ("alembic_version",)


def url_user(url: str) -> str | None:
    return make_url(url).username


def grant_service_role(conn: Connection, service_role: str) -> list[str]:
    """Set the service role's privileges on this database; returns warnings for the operator."""
    quote = conn.dialect.identifier_preparer.quote
    role = quote(service_role)
    schema = quote(conn.execute(text("SELECT current_schema()")).scalar_one())
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
    ]
    statements += [f"REVOKE UPDATE, DELETE ON {quote(t)} FROM {role}" for t in APPEND_ONLY_TABLES]
    statements += [
        f"REVOKE INSERT, UPDATE, DELETE ON {quote(t)} FROM {role}" for t in READ_ONLY_TABLES
    ]
    for statement in statements:
        conn.execute(text(statement))
    return service_role_warnings(conn, service_role)


def service_role_warnings(conn: Connection, service_role: str) -> list[str]:
    """What would still let the service role rewrite the audit log (superuser, owner's group,
    a grant to PUBLIC): each one a line for the operator."""
    row = conn.execute(
        text(
            "SELECT r.rolsuper, pg_has_role(:role, c.relowner, 'USAGE'),"
            " has_table_privilege(:role, c.oid, 'UPDATE, DELETE, TRUNCATE')"
            " FROM pg_roles r, pg_class c"
            " WHERE r.rolname = :role AND c.oid = 'audit_events'::regclass"
        ),
        {"role": service_role},
    ).one()
    superuser, owner_rights, can_change = row
    warnings = []
    if superuser:
        warnings.append(f"the service role {service_role} is a superuser")
    if owner_rights:
        warnings.append(f"the service role {service_role} has the schema owner's rights")
    if can_change:
        warnings.append(f"the service role {service_role} may change or empty the audit log")
    return warnings
