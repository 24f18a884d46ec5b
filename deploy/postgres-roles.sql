-- Abri's two PostgreSQL roles (README, Production). Roles are cluster-wide: run this once
-- as a superuser; running it again, or from several sessions at once, changes nothing.
--   abri_owner    owns the schema; `python -m app migrate` connects as it
--                 (MIGRATION_DATABASE_URL). Nothing else should.
--   abri_service  the service (DATABASE_URL). Owns nothing: `migrate` grants it ordinary
--                 DML on the tables, and only INSERT and SELECT on the audit log.
-- Then, per database:  CREATE DATABASE abri OWNER abri_owner;
-- and give both roles a password (\password abri_owner) unless the server trusts peers.
DO $$
BEGIN
    CREATE ROLE abri_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created before, or by a concurrent session a moment ago
END
$$;
DO $$
BEGIN
    CREATE ROLE abri_service LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
