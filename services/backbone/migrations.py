"""Schema migrations: the backbone's tables plus a service's own SQL files, each applied once.

Safe to run twice and from several replicas at once (an advisory lock serialises them).
"""
from __future__ import annotations

import sys
from pathlib import Path

import psycopg
from psycopg import sql

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)

BACKBONE_SQL = Path(__file__).parent / "sql"
SERVICES_DIR = Path(__file__).parent.parent


def migration_files(service: str) -> list[Path]:
    """Backbone files first, then the service's own `migrations/*.sql`, each in name order."""
    own = SERVICES_DIR / service / "migrations"
    files = sorted(BACKBONE_SQL.glob("*.sql"))
    return files + (sorted(own.glob("*.sql")) if own.is_dir() else [])


def migrate(conninfo: str, schema: str, service: str | None = None) -> list[str]:
    """Apply what is not yet applied to `schema`; returns the names applied now."""
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('fourgates.migrate.' || %s))", (schema,))
        try:
            applied_now = _apply(conn, schema, migration_files(service or schema))
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('fourgates.migrate.' || %s))", (schema,))
    return applied_now


def _apply(conn: psycopg.Connection, schema: str, files: list[Path]) -> list[str]:
    ident = sql.Identifier(schema)
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.schema_migrations "
            "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        ).format(ident)
    )
    done = {row[0] for row in conn.execute(sql.SQL("SELECT name FROM {}.schema_migrations").format(ident))}
    applied = []
    for path in files:
        name = f"{path.parent.parent.name}/{path.name}"
        if name in done:
            continue
        text = path.read_text().replace("{schema}", ident.as_string(conn))
        with conn.transaction():
            conn.execute(text.encode())
            conn.execute(sql.SQL("INSERT INTO {}.schema_migrations (name) VALUES (%s)").format(ident), (name,))
        applied.append(name)
    return applied


def start_new_era(conninfo: str, schema: str) -> int:
    """After a logical restore: new rows get a higher era so they sort after restored ones."""
    ident = sql.Identifier(schema)
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(sql.SQL("UPDATE {}.feed_era SET era = era + 1 RETURNING era").format(ident)).fetchone()
        assert row is not None
        conn.execute(sql.SQL("ALTER TABLE {}.events ALTER COLUMN era SET DEFAULT {}").format(ident, sql.Literal(row[0])))
        return int(row[0])


def ensure_database(conninfo: str) -> None:
    """Create the target database if the server has none of that name yet."""
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    name = params.get("dbname") or "postgres"
    admin = psycopg.conninfo.make_conninfo(conninfo, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))


def main(argv: list[str] | None = None) -> None:
    """`python -m services.backbone.migrations [service ...]`: migrate the named (or all) services."""
    from services.backbone.config import database_url

    services = (argv if argv is not None else sys.argv[1:]) or ["selection", "posting", "assessment", "reporting"]
    conninfo = database_url()
    ensure_database(conninfo)
    for service in services:
        applied = migrate(conninfo, service)
        print(f"{service}: {len(applied)} migration(s) applied" + (f" ({', '.join(applied)})" if applied else ""))


if __name__ == "__main__":
    main()
